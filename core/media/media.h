/*
 * media.h -- attachments: images and documents a request's prompt carries.
 *
 * The pieces, one file each:
 *   detect.c  reads a file or a buffer and tells its type from its content
 *             with libmagic; takes a text document's text (UTF-8 checked)
 *             and hands PDFs to pdf.c; makes the attachment;
 *   pdf.c     a PDF's text, with poppler-glib;
 *   image.c   an image's header (libvips), and the image fitted to a
 *             backend's limits: resized, re-encoded, or left as it is;
 *   base64.c  base64 both ways, into the core's allocator (GLib's coder);
 *   attach.c  the public ac_gen_params_attach_* functions; the user message
 *             of a request (prompt, documents, images fitted for its llm);
 *             the messages fitted to the plugin a request goes to (images
 *             it cannot take refused, images re-fitted to its limits,
 *             documents as labelled text for plugins without
 *             AC_FEATURE_FILES); a provider's limits from its settings.
 *
 * An attachment (ac__media) is immutable once made and reference counted:
 * a parameter set and every copy a request makes of it share one.  Every
 * function here may be called from any thread; none keeps state but
 * libvips' one-time start (image.c).
 */
#ifndef AC_MEDIA_H
#define AC_MEDIA_H
#include <abstractcore/provider.h>
#include <stdatomic.h>
#include <stddef.h>

struct ac__msg;
struct ac_llm;

/* A file or document bigger than this is refused when attached. */
#define AC__MEDIA_FILE_MAX ((size_t)64 * 1024 * 1024)
/* An image with more pixels than this is refused rather than decoded (a
 * small file can claim a huge picture: a decompression bomb). */
#define AC__IMAGE_DECODE_MAX_PIXELS 200000000L
/* max_document_bytes when neither the provider nor the request sets it. */
#define AC__DOCUMENT_DEFAULT_MAX (1024L * 1024)

typedef enum ac__media_kind {
    AC__MEDIA_IMAGE = 1,  /* image bytes */
    AC__MEDIA_URL,        /* an image by http(s) URL, sent as it is */
    AC__MEDIA_DOC         /* a document's text */
} ac__media_kind;

typedef struct ac__media {
    atomic_int     refs;
    ac__media_kind kind;
    unsigned       format;     /* IMAGE: one AC_IMAGE_* */
    char          *name;       /* the file's base name; NULL for an image from memory */
    char          *mime;       /* IMAGE, DOC: the media type */
    unsigned char *data;       /* IMAGE: the bytes as attached */
    size_t         len;
    char          *text;       /* DOC: the text, UTF-8, NUL-terminated */
    size_t         text_len;
    char          *url;        /* URL */
} ac__media;

/* A provider's limits: the plugin's (ac_media_limits) overridden by the
 * settings.  0 in a limit means none. */
typedef struct ac__media_limits {
    unsigned formats;             /* AC_IMAGE_* */
    long     max_edge, max_short_edge, max_pixels, max_bytes;
    long     max_document_bytes;  /* > 0 */
} ac__media_limits;

void ac__media_ref(ac__media *m);
void ac__media_unref(ac__media *m);

/* ---- detect.c ---- */

/* An attachment from the file at path (image or document), from bytes
 * (image only; mime NULL or the type they must have), or from a named
 * document's bytes.  NULL with err (AC_EIO, AC_EUNSUPPORTED, AC_ETOOBIG,
 * AC_EINVAL, AC_ENOMEM), naming the file. */
ac__media *ac__media_from_file(const char *path, ac_error *err);
ac__media *ac__media_from_image(const void *bytes, size_t n, const char *mime, ac_error *err);
ac__media *ac__media_from_document(const char *name, const void *bytes, size_t n,
                                   ac_error *err);
/* An http(s) URL (kept) or a base64 data: URL (decoded as an image). */
ac__media *ac__media_from_url(const char *url, ac_error *err);

/* ---- pdf.c ---- */

/* The text of a PDF's pages, separated by a blank line (malloc'd, UTF-8,
 * NUL-terminated, *len bytes), at most max bytes.  NULL with err naming
 * `name`: not a PDF poppler can read, encrypted, no text, over max. */
char *ac__pdf_text(const void *bytes, size_t n, const char *name, size_t max, size_t *len,
                   ac_error *err);

/* ---- image.c ---- */

typedef struct ac__image_info {
    int width, height;  /* as shown: EXIF orientation applied */
    int pages;          /* frames of an animation; 1 for a still */
    int alpha;          /* 1 if it has an alpha channel */
} ac__image_info;

/* The image's header (no pixels decoded).  AC_OK, or AC_EUNSUPPORTED with
 * what libvips said in why (n bytes), or AC_ENOMEM. */
ac_status ac__image_probe(const void *bytes, size_t n, ac__image_info *info, char *why,
                          size_t whylen);
/* Fit an image of `format` to lim.  AC_OK with *out NULL when it fits as
 * it is (send the bytes unchanged), else *out (ac__malloc'd, *out_n bytes)
 * is the image resized and re-encoded as *out_format.  AC_EUNSUPPORTED
 * (cannot be decoded, too large to decode, cannot be made to fit), with
 * why; AC_ENOMEM. */
ac_status ac__image_fit(const void *bytes, size_t n, unsigned format,
                        const ac__media_limits *lim, unsigned char **out, size_t *out_n,
                        unsigned *out_format, char *why, size_t whylen);
/* "image/png" for AC_IMAGE_PNG and so on; NULL for anything else. */
const char *ac__image_mime(unsigned format);
/* AC_IMAGE_* for a media type, 0 for anything else. */
unsigned    ac__image_format(const char *mime);

/* ---- base64.c ---- */

/* Length of the base64 text of n bytes. */
size_t ac__b64_len(size_t n);
/* The base64 text of n bytes (ac__malloc'd, NUL-terminated), or NULL. */
char  *ac__b64_encode(const void *data, size_t n);
/* The bytes of len characters of standard base64 (padding required, no
 * white space): ac__malloc'd, *n bytes.  NULL with *bad = 1 when it is
 * not base64, *bad = 0 out of memory. */
unsigned char *ac__b64_decode(const char *text, size_t len, size_t *n, int *bad);

/* ---- attach.c ---- */

/* A list of image formats as the image_formats setting writes it
 * ("png, jpeg": names separated by commas and/or spaces, of png, jpeg,
 * gif, webp) into AC_IMAGE_* bits.  0, or -1 when it names anything else
 * or nothing. */
int ac__media_formats_parse(const char *v, unsigned *out);

/* The limits of a provider: the plugin's descriptor, then the settings.
 * AC_OK or AC_ECONFIG (a bad image_formats value) with err. */
ac_status ac__media_limits_read(const ac_settings *s, const ac_provider *vt,
                                ac__media_limits *lim, ac_error *err);

/* The user message of a request on llm: the prompt's text (NULL: none),
 * then params' documents, then its images fitted to llm's limits.  AC_OK
 * with *out made (an empty message when there is neither prompt nor
 * attachment), or the failure with err (out is then empty). */
ac_status ac__media_user_msg(const struct ac_llm *llm, const char *prompt,
                             const ac_gen_params *params, struct ac__msg *out, ac_error *err);

/* Fit msgs[0..n) to llm's plugin and limits, in place: AC_EUNSUPPORTED
 * for an image to a plugin without AC_FEATURE_IMAGES (naming the
 * provider); each base64 image re-fitted where it exceeds llm's limits;
 * FILE parts as labelled TEXT for a plugin without AC_FEATURE_FILES.
 * AC_OK, or the failure with err (msgs are then partly fitted: the caller
 * fails the request). */
ac_status ac__media_fit_msgs(const struct ac_llm *llm, struct ac__msg *msgs, size_t n,
                             ac_error *err);
#endif
