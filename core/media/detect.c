/*
 * detect.c -- making an attachment: read the file (or take the bytes),
 * tell the type from the content with libmagic, and keep what a request
 * will send: an image's bytes (its header checked by image.c), a
 * document's text.
 *
 * The content decides what a file is; the name only refines the label of
 * text, which libmagic cannot tell apart (Markdown and TSV read as plain
 * text): .md/.markdown is text/markdown, .csv text/csv, .tsv/.tab
 * text/tab-separated-values, .json application/json, .txt text/plain.
 * Text must be UTF-8 without NUL bytes (a leading byte-order mark is
 * dropped); anything libmagic calls text/..., application/json or
 * application/x-ndjson is text.  The name a document is labelled with in
 * the prompt is the file's base name with control characters and bytes
 * that are not UTF-8 replaced by '?', so no name can break the label's
 * line.
 *
 * libmagic's handle is not thread-safe: each detection opens its own (a
 * few milliseconds to load the database; attaching is rare next to
 * sending).  Thread-safe; no state.
 */
#include "media.h"
#include "../alloc.h"
#include "../error.h"
#include "../message.h"

#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUPPORTED "an image (PNG, JPEG, WebP, GIF) or a document (PDF, text, Markdown, " \
                  "CSV, TSV, JSON)"

void ac__media_ref(ac__media *m) { atomic_fetch_add(&m->refs, 1); }

void ac__media_unref(ac__media *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    ac__free(m->name);
    ac__free(m->mime);
    ac__free(m->data);
    ac__free(m->text);
    ac__free(m->url);
    ac__free(m);
}

static ac__media *media_new(ac__media_kind kind)
{
    ac__media *m = ac__calloc(1, sizeof *m);
    if (m) {
        atomic_init(&m->refs, 1);
        m->kind = kind;
    }
    return m;
}

static void *nomem(ac_error *err, ac__media *m)
{
    ac__media_unref(m);
    ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Names and types                                                     */
/* ------------------------------------------------------------------ */

/* The base name of path as a label (see the top of the file). */
static char *label_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash && slash[1] ? slash + 1 : path;
    char *s = ac__strdup(base);
    if (!s)
        return NULL;
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (!ac__utf8_valid(s))
        for (char *p = s; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
    return s;
}

/* The media type libmagic finds in the bytes, into mime (n bytes).  0, or
 * -1 with why. */
static int magic_type(const void *bytes, size_t len, char *mime, size_t n, char *why,
                      size_t whylen)
{
    magic_t mg = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);
    if (!mg) {
        snprintf(why, whylen, "libmagic could not start");
        return -1;
    }
    if (magic_load(mg, NULL) != 0) {
        const char *e = magic_error(mg);
        snprintf(why, whylen, "libmagic could not load its database: %s", e ? e : "?");
        magic_close(mg);
        return -1;
    }
    const char *t = magic_buffer(mg, bytes, len);
    if (!t) {
        const char *e = magic_error(mg);
        snprintf(why, whylen, "libmagic could not tell the type: %s", e ? e : "?");
        magic_close(mg);
        return -1;
    }
    snprintf(mime, n, "%s", t);
    magic_close(mg);
    return 0;
}

static int is_text_type(const char *mime)
{
    return !strncmp(mime, "text/", 5) || !strcmp(mime, "application/json") ||
           !strcmp(mime, "application/x-ndjson");
}

static int ends_with(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}

/* The label of a text document: by extension, else libmagic's type. */
static const char *text_label(const char *name, const char *found)
{
    if (ends_with(name, ".md") || ends_with(name, ".markdown"))
        return "text/markdown";
    if (ends_with(name, ".csv"))
        return "text/csv";
    if (ends_with(name, ".tsv") || ends_with(name, ".tab"))
        return "text/tab-separated-values";
    if (ends_with(name, ".json"))
        return "application/json";
    if (ends_with(name, ".txt"))
        return "text/plain";
    return found;
}

/* ------------------------------------------------------------------ */
/* Making the attachment                                               */
/* ------------------------------------------------------------------ */

/* An image attachment of the bytes (copied), whose header must read. */
static ac__media *make_image(const void *bytes, size_t n, unsigned format, const char *name,
                             ac_error *err)
{
    ac__image_info info;
    char why[256];
    ac_status st = ac__image_probe(bytes, n, &info, why, sizeof why);
    if (st != AC_OK) {
        if (st == AC_ENOMEM)
            return nomem(err, NULL);
        ac__error_set(err, st, AC_STAGE_REQUEST, "%s: %s: %s", name ? name : "image",
                      ac__image_mime(format), why);
        return NULL;
    }
    ac__media *m = media_new(AC__MEDIA_IMAGE);
    if (!m || !(m->data = ac__malloc(n)) || !(m->mime = ac__strdup(ac__image_mime(format))) ||
        (name && !(m->name = ac__strdup(name))))
        return nomem(err, m);
    memcpy(m->data, bytes, n);
    m->len = n;
    m->format = format;
    return m;
}

/* A text document: UTF-8 without NUL, a byte-order mark dropped. */
static ac__media *make_text(const char *bytes, size_t n, const char *name, const char *found,
                            ac_error *err)
{
    if (n >= 3 && !memcmp(bytes, "\xEF\xBB\xBF", 3)) {
        bytes += 3;
        n -= 3;
    }
    ac__media *m = media_new(AC__MEDIA_DOC);
    if (!m || !(m->text = ac__strndup(bytes, n)))
        return nomem(err, m);
    if (strlen(m->text) != n || !ac__utf8_valid(m->text)) {
        ac__media_unref(m);
        ac__error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST, "%s: %s, but not UTF-8 text", name,
                      found);
        return NULL;
    }
    m->text_len = n;
    if (!(m->name = ac__strdup(name)) || !(m->mime = ac__strdup(text_label(name, found))))
        return nomem(err, m);
    return m;
}

static ac__media *make_pdf(const void *bytes, size_t n, const char *name, ac_error *err)
{
    ac__media *m = media_new(AC__MEDIA_DOC);
    if (!m || !(m->name = ac__strdup(name)) || !(m->mime = ac__strdup("application/pdf")))
        return nomem(err, m);
    m->text = ac__pdf_text(bytes, n, name, AC__MEDIA_FILE_MAX, &m->text_len, err);
    if (!m->text) {
        ac__media_unref(m);
        return NULL;
    }
    return m;
}

/* What the bytes are, made into an attachment.  images/docs: which kinds
 * the caller takes. */
static ac__media *classify(const void *bytes, size_t n, const char *name, int images, int docs,
                           ac_error *err)
{
    char found[128], why[256];
    if (n == 0) {
        ac__error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST, "%s: the file is empty", name);
        return NULL;
    }
    if (magic_type(bytes, n, found, sizeof found, why, sizeof why) != 0) {
        ac__error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST, "%s: %s", name, why);
        return NULL;
    }
    unsigned format = ac__image_format(found);
    if (format && images)
        return make_image(bytes, n, format, name, err);
    if (docs && !strcmp(found, "application/pdf"))
        return make_pdf(bytes, n, name, err);
    if (docs && is_text_type(found))
        return make_text(bytes, n, name, found, err);
    ac__error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST, "%s: the content is %s, not %s", name,
                  found, images && docs ? SUPPORTED
                         : images ? "an image (PNG, JPEG, WebP, GIF)"
                                  : "a document (PDF, text, Markdown, CSV, TSV, JSON)");
    return NULL;
}

/* The whole file, at most AC__MEDIA_FILE_MAX bytes.  NULL with err. */
static unsigned char *read_file(const char *path, size_t *n, ac_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        ac__error_set(err, AC_EIO, AC_STAGE_IO, "%s: cannot open the file: %s", path,
                      strerror(e));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        ac__error_set(err, AC_EIO, AC_STAGE_IO, "%s: not a regular file", path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > AC__MEDIA_FILE_MAX) {
        close(fd);
        ac__error_set(err, AC_ETOOBIG, AC_STAGE_IO, "%s: %lld bytes is more than the %zu "
                      "bytes an attachment may have", path, (long long)st.st_size,
                      AC__MEDIA_FILE_MAX);
        return NULL;
    }
    size_t cap = (size_t)st.st_size, len = 0;
    unsigned char *b = ac__malloc(cap + 1);
    if (!b) {
        close(fd);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_IO, "out of memory reading %s", path);
        return NULL;
    }
    /* Read what stat said; a file that grew meanwhile is read as it was. */
    while (len < cap) {
        ssize_t r = read(fd, b + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            ac__free(b);
            ac__error_set(err, AC_EIO, AC_STAGE_IO, "%s: cannot read the file: %s", path,
                          strerror(e));
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    *n = len;
    return b;
}

ac__media *ac__media_from_file(const char *path, ac_error *err)
{
    size_t n = 0;
    unsigned char *bytes = read_file(path, &n, err);
    if (!bytes)
        return NULL;
    char *name = label_name(path);
    if (!name) {
        ac__free(bytes);
        return nomem(err, NULL);
    }
    ac__media *m = classify(bytes, n, name, 1, 1, err);
    ac__free(bytes);
    ac__free(name);
    return m;
}

ac__media *ac__media_from_image(const void *bytes, size_t n, const char *mime, ac_error *err)
{
    ac__media *m = classify(bytes, n, "image", 1, 0, err);
    if (m && mime && ac__image_format(mime) != m->format) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "image: given as %.60s, but the bytes "
                      "are %s", mime, m->mime);
        ac__media_unref(m);
        return NULL;
    }
    return m;
}

ac__media *ac__media_from_document(const char *name, const void *bytes, size_t n,
                                   ac_error *err)
{
    char *label = label_name(name);
    if (!label)
        return nomem(err, NULL);
    ac__media *m = classify(bytes, n, label, 0, 1, err);
    ac__free(label);
    return m;
}

ac__media *ac__media_from_url(const char *url, ac_error *err)
{
    if (!strncmp(url, "data:", 5)) {
        const char *comma = strchr(url, ',');
        const char *mark = strstr(url, ";base64,");
        if (!comma || !mark || mark + 7 != comma) {
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                          "image URL: a data: URL must carry base64 data (data:TYPE;base64,...)");
            return NULL;
        }
        char mime[64];
        snprintf(mime, sizeof mime, "%.*s", (int)(mark - (url + 5) < 63 ? mark - (url + 5) : 63),
                 url + 5);
        size_t n = 0;
        int bad = 0;
        unsigned char *bytes = ac__b64_decode(comma + 1, strlen(comma + 1), &n, &bad);
        if (!bytes) {
            if (!bad)
                return nomem(err, NULL);
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                          "image URL: the data: URL's data is not base64");
            return NULL;
        }
        ac__media *m = ac__media_from_image(bytes, n, *mime ? mime : NULL, err);
        ac__free(bytes);
        return m;
    }
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "image URL: must start with http://, https:// or data:");
        return NULL;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                          "image URL: white space or a control character in the URL");
            return NULL;
        }
    ac__media *m = media_new(AC__MEDIA_URL);
    if (!m || !(m->url = ac__strdup(url)))
        return nomem(err, m);
    return m;
}
