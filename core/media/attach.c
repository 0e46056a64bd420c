/*
 * attach.c -- attachments on a parameter set, the user message they make,
 * and the messages fitted to the plugin a request goes to.
 *
 * When: a file is read and its type told when it is attached (detect.c),
 * on the caller's thread; images are fitted to the llm when its request is
 * made (ac__media_user_msg: on the caller's thread for ac_agenerate,
 * ac_stream_open and session turns, so a big photo is never resized on
 * the engine thread); and every message is fitted again to the plugin the
 * request is built for (ac__media_fit_msgs, from the chat kind's fit),
 * which is where a fallback to another provider, or a session moved to
 * another llm, meets that backend's limits.  That second pass skips a
 * message whose images were fitted to equal limits (ac__msg.fitted: the
 * prompt just made, the history of a session that stayed on one llm),
 * decodes only the header of any other image that already fits (image.c),
 * and leaves those byte for byte as they are.
 *
 * Documents go to a plugin without AC_FEATURE_FILES as text, the way the
 * bundled plugins write FILE parts themselves: "[file: NAME]" on its own
 * line, then the text, after a blank line when text comes before it,
 * joined with the text part it follows, so a prompt with documents is one
 * text part on every backend and the joined message text (what Ollama and
 * other one-string backends send) reads "prompt\n\n[file: a.md]\n...".
 *
 * Thread-safety: the attach functions modify the parameter set (its
 * owner's to serialize, as every setter); the rest work on the caller's
 * own messages.  Relies on detect.c, image.c, base64.c, message.h.
 */
#include "media.h"
#include "../alloc.h"
#include "../buf.h"
#include "../core.h"
#include "../error.h"
#include "../keys.h"
#include "../log.h"
#include "../message.h"
#include "../params.h"
#include "../settings.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

int ac__media_formats_parse(const char *v, unsigned *out)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        {"png", AC_IMAGE_PNG}, {"jpeg", AC_IMAGE_JPEG}, {"jpg", AC_IMAGE_JPEG},
        {"gif", AC_IMAGE_GIF}, {"webp", AC_IMAGE_WEBP}};
    unsigned bits = 0;
    const char *p = v;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (p[n] && p[n] != ',' && !isspace((unsigned char)p[n]))
            n++;
        size_t i;
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == n && !strncasecmp(p, names[i].name, n))
                break;
        if (i == sizeof names / sizeof names[0])
            return -1;
        bits |= names[i].bit;
        p += n;
    }
    if (!bits)
        return -1;
    *out = bits;
    return 0;
}

static void read_limit(const ac_settings *s, const char *key, long *v)
{
    long long n;
    if (ac__settings_int(s, key, &n) == 1)
        *v = (long)n;
}

ac_status ac__media_limits_read(const ac_settings *s, const ac_provider *vt,
                                ac__media_limits *lim, ac_error *err)
{
    memset(lim, 0, sizeof *lim);
    lim->formats = AC_IMAGE_PNG | AC_IMAGE_JPEG;
    lim->max_edge = 2048;
    lim->max_bytes = 5L * 1024 * 1024;
    lim->max_document_bytes = AC__DOCUMENT_DEFAULT_MAX;
    const ac_media_limits *d = vt ? vt->media : NULL;
    /* A plugin's limits struct may be older (shorter) than ours. */
    if (d && d->struct_size >= offsetof(ac_media_limits, image_max_bytes) + sizeof(long)) {
        lim->formats = d->image_formats ? d->image_formats : lim->formats;
        lim->max_edge = d->image_max_edge > 0 ? d->image_max_edge : 0;
        lim->max_short_edge = d->image_max_short_edge > 0 ? d->image_max_short_edge : 0;
        lim->max_pixels = d->image_max_pixels > 0 ? d->image_max_pixels : 0;
        lim->max_bytes = d->image_max_bytes > 0 ? d->image_max_bytes : 0;
    }
    read_limit(s, "image_max_edge", &lim->max_edge);
    read_limit(s, "image_max_short_edge", &lim->max_short_edge);
    read_limit(s, "image_max_pixels", &lim->max_pixels);
    read_limit(s, "image_max_bytes", &lim->max_bytes);
    read_limit(s, "max_document_bytes", &lim->max_document_bytes);
    const char *v;
    int got = ac__settings_string(s, "image_formats", &v);
    if (got == 1 && ac__media_formats_parse(v, &lim->formats) != 0)
        got = -1;
    if (got < 0) {
        const char *w = ac__settings_where(s, "image_formats");
        ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "%s%sprovider '%s': image_formats must "
                      "name image formats of png, jpeg, gif, webp (\"png, jpeg\")", w,
                      *w ? ": " : "", ac__settings_name(s));
        return AC_ECONFIG;
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* The public API                                                      */
/* ------------------------------------------------------------------ */

static ac_status bad_arg(ac_error *err, const char *what)
{
    ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s", what);
    return AC_EINVAL;
}

/* Check room for one more attachment.  AC_OK or AC_EINVAL with err. */
static ac_status room(const ac_gen_params *p, ac_error *err)
{
    if (!p)
        return bad_arg(err, "params is NULL");
    if (p->n_media >= AC_MAX_ATTACHMENTS) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "at most %d attachments",
                      AC_MAX_ATTACHMENTS);
        return AC_EINVAL;
    }
    return AC_OK;
}

/* The status of a constructor that returned NULL: err's code, which it
 * always sets (a local one when the caller passed none). */
#define ATTACH(p, err, make)                                               \
    do {                                                                   \
        ac_error e_;                                                       \
        ac_status st_ = room((p), &e_);                                    \
        if (st_ == AC_OK) {                                                \
            ac__media *m_ = (make);                                        \
            if (m_) {                                                      \
                (p)->media[(p)->n_media++] = m_;                           \
                return AC_OK;                                              \
            }                                                              \
            st_ = e_.code;                                                 \
        }                                                                  \
        if (err)                                                           \
            *(err) = e_;                                                   \
        return st_;                                                        \
    } while (0)

ac_status ac_gen_params_attach_file(ac_gen_params *p, const char *path, ac_error *err)
{
    if (!path || !*path)
        return bad_arg(err, "the file name is NULL or empty");
    ATTACH(p, err, ac__media_from_file(path, &e_));
}

ac_status ac_gen_params_attach_image(ac_gen_params *p, const void *bytes, size_t n,
                                     const char *mime_type, ac_error *err)
{
    if (!bytes || !n)
        return bad_arg(err, "the image is NULL or empty");
    ATTACH(p, err, ac__media_from_image(bytes, n, mime_type, &e_));
}

ac_status ac_gen_params_attach_image_url(ac_gen_params *p, const char *url, ac_error *err)
{
    if (!url || !*url || !ac__utf8_valid(url))
        return bad_arg(err, "the image URL is NULL, empty or not UTF-8");
    ATTACH(p, err, ac__media_from_url(url, &e_));
}

ac_status ac_gen_params_attach_document(ac_gen_params *p, const char *name, const void *bytes,
                                        size_t n, ac_error *err)
{
    if (!name || !*name || (!bytes && n))
        return bad_arg(err, "the document's name or bytes are NULL");
    ATTACH(p, err, ac__media_from_document(name, bytes ? bytes : "", n, &e_));
}

size_t ac_gen_params_attachment_count(const ac_gen_params *p) { return p ? p->n_media : 0; }

void ac_gen_params_clear_attachments(ac_gen_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_media; i++)
        ac__media_unref(p->media[i]);
    p->n_media = 0;
}

ac_status ac_gen_params_set_max_document_bytes(ac_gen_params *p, long n)
{
    if (!p || n < 1 || n > (1L << 30))
        return AC_EINVAL;
    p->max_doc_bytes = n;
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* The user message                                                    */
/* ------------------------------------------------------------------ */

/* A digest of the image limits (never 0): a message whose images were
 * fitted to equal limits is not looked at again (ac__msg.fitted). */
static unsigned limits_digest(const ac__media_limits *lim)
{
    const long v[] = {(long)lim->formats, lim->max_edge, lim->max_short_edge, lim->max_pixels,
                      lim->max_bytes};
    unsigned h = 2166136261u;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        for (size_t b = 0; b < sizeof(long); b++)
            h = (h ^ (unsigned)((unsigned long)v[i] >> (8 * b) & 0xff)) * 16777619u;
    return h ? h : 1;
}

static ac_status no_images(const ac_llm *llm, ac_error *err)
{
    ac__error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST, "provider '%s' takes no images (its "
                  "plugin '%s' has no image support); nothing was sent", llm->inst->name,
                  llm->vt->name ? llm->vt->name : "?");
    return AC_EUNSUPPORTED;
}

/* An image part of the bytes, fitted to lim. */
static ac_status image_part(ac__msg *out, const ac__media *m, const ac__media_limits *lim,
                            ac_error *err)
{
    unsigned char *fitted = NULL;
    size_t fn = 0;
    unsigned fmt = m->format;
    char why[256];
    ac_status st = ac__image_fit(m->data, m->len, m->format, lim, &fitted, &fn, &fmt, why,
                                 sizeof why);
    if (st != AC_OK) {
        if (st == AC_ENOMEM)
            ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory fitting an image");
        else
            ac__error_set(err, st, AC_STAGE_REQUEST, "%s: %s", m->name ? m->name : "image", why);
        return st;
    }
    const unsigned char *bytes = fitted ? fitted : m->data;
    size_t n = fitted ? fn : m->len;
    char *b64 = ac__b64_encode(bytes, n);
    ac__free(fitted);
    if (!b64) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory encoding an image");
        return AC_ENOMEM;
    }
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_IMAGE,
                 .mime_type = ac__image_mime(fmt), .data_base64 = b64, .data_len = n};
    st = ac__msg_add(out, &p);
    ac__free(b64);
    if (st != AC_OK)
        ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory");
    return st;
}

ac_status ac__media_user_msg(const ac_llm *llm, const char *prompt, const ac_gen_params *params,
                             ac__msg *out, ac_error *err)
{
    ac__msg_init(out, AC_ROLE_USER);
    size_t n = params ? params->n_media : 0;
    ac_status st = AC_OK;
    /* An empty prompt with attachments adds no empty text part (Anthropic
     * refuses blank text blocks). */
    if (prompt && (*prompt || n == 0)) {
        ac_part t = {.struct_size = sizeof t, .type = AC_PART_TEXT, .text = prompt,
                     .text_len = strlen(prompt)};
        if ((st = ac__msg_add(out, &t)) != AC_OK) {
            ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory");
            goto fail;
        }
    }
    long max_doc = params && params->max_doc_bytes > 0 ? params->max_doc_bytes
                                                       : llm->media.max_document_bytes;
    /* Documents first, then images: the text and the documents then make
     * one text part where they become text (see the top of the file). */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            const ac__media *m = params->media[i];
            if ((m->kind == AC__MEDIA_DOC) != (pass == 0))
                continue;
            if (m->kind == AC__MEDIA_DOC) {
                if (m->text_len > (size_t)max_doc) {
                    st = AC_ETOOBIG;
                    ac__error_set(err, st, AC_STAGE_REQUEST, "%s: its text is %zu bytes, more "
                                  "than max_document_bytes (%ld) allows; nothing was sent",
                                  m->name, m->text_len, max_doc);
                    goto fail;
                }
                ac_part f = {.struct_size = sizeof f, .type = AC_PART_FILE, .text = m->text,
                             .text_len = m->text_len, .mime_type = m->mime, .name = m->name};
                if ((st = ac__msg_add(out, &f)) != AC_OK) {
                    ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory");
                    goto fail;
                }
                continue;
            }
            if (!(llm->vt->features & AC_FEATURE_IMAGES)) {
                st = no_images(llm, err);
                goto fail;
            }
            if (m->kind == AC__MEDIA_URL) {
                ac_part u = {.struct_size = sizeof u, .type = AC_PART_IMAGE, .url = m->url};
                if ((st = ac__msg_add(out, &u)) != AC_OK) {
                    ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory");
                    goto fail;
                }
                continue;
            }
            if ((st = image_part(out, m, &llm->media, err)) != AC_OK)
                goto fail;
        }
    out->fitted = limits_digest(&llm->media);
    return AC_OK;
fail:
    ac__msg_clear(out);
    ac__msg_init(out, AC_ROLE_USER);
    return st;
}

/* ------------------------------------------------------------------ */
/* Fitting messages to a plugin                                        */
/* ------------------------------------------------------------------ */

/* An image of the history this library cannot read (a session file from
 * elsewhere) goes as it is, as it did before: the backend judges it. */
static ac_status as_it_is(const ac_llm *llm, size_t msg, const char *why)
{
    ac__log(AC_LOG_WARN, llm->inst->name, "message %zu: an image that cannot be fitted (%s) is "
            "sent as it is", msg, why);
    return AC_OK;
}

/* Re-fit a base64 image part to lim, in place. */
static ac_status refit(const ac_llm *llm, ac_part *p, size_t msg, const ac__media_limits *lim,
                       ac_error *err)
{
    unsigned fmt = ac__image_format(p->mime_type);
    if (!fmt)
        return as_it_is(llm, msg, "its type is not PNG, JPEG, GIF or WebP");
    size_t n = 0;
    int bad = 0;
    unsigned char *bytes = ac__b64_decode(p->data_base64, strlen(p->data_base64), &n, &bad);
    if (!bytes) {
        if (bad)
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "message %zu has an image whose "
                          "data is not base64", msg);
        else
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return bad ? AC_EINVAL : AC_ENOMEM;
    }
    unsigned char *fitted = NULL;
    size_t fn = 0;
    char why[256];
    ac_status st = ac__image_fit(bytes, n, fmt, lim, &fitted, &fn, &fmt, why, sizeof why);
    ac__free(bytes);
    if (st == AC_ENOMEM) {
        ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory fitting an image");
        return st;
    }
    if (st != AC_OK)
        return as_it_is(llm, msg, why);
    if (!fitted)
        return AC_OK;
    char *b64 = ac__b64_encode(fitted, fn);
    char *mime = ac__strdup(ac__image_mime(fmt));
    ac__free(fitted);
    if (!b64 || !mime) {
        ac__free(b64);
        ac__free(mime);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return AC_ENOMEM;
    }
    ac__free((char *)p->data_base64);
    ac__free((char *)p->mime_type);
    p->data_base64 = b64;
    p->mime_type = mime;
    p->data_len = fn;
    return AC_OK;
}

/* The text a FILE part becomes, appended to b. */
static int file_text(buf *b, const ac_part *p, int after_text)
{
    const char *name = p->name && *p->name ? p->name : "document";
    return (after_text ? ac__buf_append(b, "\n\n", 2) : 0) ||
           ac__buf_appends(b, "[file: ") || ac__buf_appends(b, name) ||
           ac__buf_append(b, "]\n", 2) || ac__buf_append(b, p->text ? p->text : "", p->text_len);
}

static ac_status flush(ac__msg *out, buf *b, int *open)
{
    if (!*open)
        return AC_OK;
    *open = 0;
    ac_part t = {.struct_size = sizeof t, .type = AC_PART_TEXT, .text = b->data ? b->data : "",
                 .text_len = b->len};
    ac_status st = ac__msg_add(out, &t);
    ac__buf_reset(b);
    return st;
}

/* The message with its FILE parts as text (see the top of the file). */
static ac_status files_as_text(ac__msg *m)
{
    ac__msg out;
    ac__msg_init(&out, m->pub.role);
    buf b = {0};
    int open = 0, any_text = 0;
    ac_status st = ac__msg_set_name(&out, m->pub.name);
    for (size_t i = 0; st == AC_OK && i < m->pub.n_parts; i++) {
        const ac_part *p = &m->parts[i];
        if (p->type == AC_PART_TEXT) {
            st = flush(&out, &b, &open);
            open = 1;
            any_text |= p->text_len > 0;
            if (st == AC_OK && ac__buf_append(&b, p->text ? p->text : "", p->text_len) != 0)
                st = AC_ENOMEM;
        } else if (p->type == AC_PART_FILE) {
            open = 1;
            if (file_text(&b, p, any_text) != 0)
                st = AC_ENOMEM;
            any_text = 1;
        } else {
            st = flush(&out, &b, &open);
            if (st == AC_OK)
                st = ac__msg_add(&out, p);
        }
    }
    if (st == AC_OK)
        st = flush(&out, &b, &open);
    ac__buf_free(&b);
    if (st != AC_OK) {
        ac__msg_clear(&out);
        return AC_ENOMEM;
    }
    out.fitted = m->fitted;
    ac__msg_clear(m);
    *m = out;
    return AC_OK;
}

ac_status ac__media_fit_msgs(const ac_llm *llm, ac__msg *msgs, size_t n, ac_error *err)
{
    unsigned features = llm->vt->features;
    unsigned digest = limits_digest(&llm->media);
    for (size_t i = 0; i < n; i++) {
        ac__msg *m = &msgs[i];
        int files = 0;
        for (size_t j = 0; j < m->pub.n_parts; j++) {
            ac_part *p = &m->parts[j];
            if (p->type == AC_PART_FILE)
                files = 1;
            if (p->type != AC_PART_IMAGE)
                continue;
            if (!(features & AC_FEATURE_IMAGES))
                return no_images(llm, err);
            /* Fitted to these limits already (this request's prompt, a
             * turn of this llm): nothing to look at. */
            ac_status st = p->data_base64 && m->fitted != digest
                               ? refit(llm, p, i, &llm->media, err) : AC_OK;
            if (st != AC_OK)
                return st;
        }
        m->fitted = digest;
        if (files && !(features & AC_FEATURE_FILES) && files_as_text(m) != AC_OK) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
            return AC_ENOMEM;
        }
    }
    return AC_OK;
}
