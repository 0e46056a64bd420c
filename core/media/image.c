/*
 * image.c -- an image's header, and the image fitted to what a backend
 * takes (its formats and its limits on the long edge, the short edge, the
 * pixel count and the size of the base64 text), with libvips.
 *
 * Fitting decides first, from the header alone, whether the image fits as
 * it is; one that does is never decoded, and the caller sends its bytes
 * unchanged.  One that does not is made with vips_thumbnail_buffer, which
 * shrinks while it decodes (JPEG shrink-on-load), applies the EXIF
 * orientation, converts to sRGB and never enlarges, to the largest size
 * that meets every limit at the original aspect ratio (the longer side
 * rounded down, the shorter to the nearest pixel, checked again).  The
 * format is kept where the backend takes it (a GIF becomes PNG: it is a
 * still now); else PNG for pictures with alpha or from lossless sources,
 * JPEG for photographs, whichever the backend takes.  When the encoded
 * image is still over the byte limit, JPEG quality steps down (85, 70,
 * 55), then the size shrinks by the square root of the excess, a few
 * times, before giving up.
 *
 * libvips is started once per process (pthread_once) with its operation
 * cache off: the cache would keep decoded images alive between requests
 * and could match a new buffer at an old address.  Its GLib log domain
 * ("VIPS") is routed to the library's log then, process-wide.  Its error
 * text is global, so a message may mix with another thread's failure;
 * what we report never depends on it.  Memory libvips hands back
 * (g_malloc) is copied into the core's allocator before it is returned.
 * Under valgrind, run with VIPS_NOVECTOR=1: libvips' run-time generated
 * vector code (liborc) reads past its buffers on purpose, which valgrind
 * reports and can crash on.  Thread-safe.
 */
#include "media.h"
#include "../alloc.h"
#include "../log.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int            vips_ok;

/* libvips' warnings (a truncated file, a damaged chunk) go to the
 * library's log, not to stderr behind the application's back. */
static void glib_to_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer user)
{
    (void)domain;
    (void)user;
    ac__log(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL) ? AC_LOG_WARN : AC_LOG_DEBUG,
            NULL, "libvips: %s", msg ? msg : "");
}

static void vips_start(void)
{
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
                      G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_CRITICAL, glib_to_log, NULL);
    if (VIPS_INIT("abstractcore") != 0)
        return;
    vips_cache_set_max(0);
    vips_ok = 1;
}

/* libvips' last message, on one line, into why; cleared. */
static void vips_why(char *why, size_t n, const char *what)
{
    const char *e = vips_error_buffer();
    size_t at = (size_t)snprintf(why, n, "%s", what);
    if (e && *e && at + 3 < n) {
        snprintf(why + at, n - at, ": %s", e);
        for (char *p = why; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        size_t l = strlen(why);
        while (l && why[l - 1] == ' ')
            why[--l] = '\0';
    }
    vips_error_clear();
}

static int started(char *why, size_t n)
{
    pthread_once(&vips_once, vips_start);
    if (!vips_ok)
        snprintf(why, n, "libvips could not be started");
    return vips_ok;
}

const char *ac__image_mime(unsigned format)
{
    switch (format) {
    case AC_IMAGE_PNG: return "image/png";
    case AC_IMAGE_JPEG: return "image/jpeg";
    case AC_IMAGE_GIF: return "image/gif";
    case AC_IMAGE_WEBP: return "image/webp";
    }
    return NULL;
}

unsigned ac__image_format(const char *mime)
{
    if (!mime)
        return 0;
    if (!strcmp(mime, "image/png"))
        return AC_IMAGE_PNG;
    if (!strcmp(mime, "image/jpeg") || !strcmp(mime, "image/jpg"))
        return AC_IMAGE_JPEG;
    if (!strcmp(mime, "image/gif"))
        return AC_IMAGE_GIF;
    if (!strcmp(mime, "image/webp"))
        return AC_IMAGE_WEBP;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The header                                                          */
/* ------------------------------------------------------------------ */

ac_status ac__image_probe(const void *bytes, size_t n, ac__image_info *info, char *why,
                          size_t whylen)
{
    if (!started(why, whylen))
        return AC_EUNSUPPORTED;
    /* Header only: libvips reads pixels when they are asked for. */
    VipsImage *im = vips_image_new_from_buffer(bytes, n, "", "access",
                                               VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!im) {
        vips_why(why, whylen, "not a readable image");
        return AC_EUNSUPPORTED;
    }
    int w = vips_image_get_width(im);
    int h = vips_image_get_page_height(im);
    int orientation = 1;
    if (vips_image_get_typeof(im, VIPS_META_ORIENTATION) &&
        vips_image_get_int(im, VIPS_META_ORIENTATION, &orientation) != 0)
        orientation = 1;
    info->pages = vips_image_get_n_pages(im);
    info->alpha = vips_image_hasalpha(im);
    g_object_unref(im);
    vips_error_clear();
    /* Orientations 5..8 turn the picture a quarter: the shown width is
     * the stored height. */
    info->width = orientation >= 5 && orientation <= 8 ? h : w;
    info->height = orientation >= 5 && orientation <= 8 ? w : h;
    if (info->pages < 1)
        info->pages = 1;
    if (w < 1 || h < 1) {
        snprintf(why, whylen, "an image without pixels");
        return AC_EUNSUPPORTED;
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* Fitting                                                             */
/* ------------------------------------------------------------------ */

static int fits(const ac__image_info *in, const ac__media_limits *lim)
{
    long lo = in->width < in->height ? in->width : in->height;
    long hi = in->width < in->height ? in->height : in->width;
    return (!lim->max_edge || hi <= lim->max_edge) &&
           (!lim->max_short_edge || lo <= lim->max_short_edge) &&
           (!lim->max_pixels || (double)in->width * in->height <= (double)lim->max_pixels);
}

/* The scale (<= 1) that makes the picture meet the size limits. */
static double scale_for(const ac__image_info *in, const ac__media_limits *lim)
{
    double lo = in->width < in->height ? in->width : in->height;
    double hi = in->width < in->height ? in->height : in->width;
    double s = 1.0;
    if (lim->max_edge && hi > lim->max_edge)
        s = fmin(s, lim->max_edge / hi);
    if (lim->max_short_edge && lo > lim->max_short_edge)
        s = fmin(s, lim->max_short_edge / lo);
    if (lim->max_pixels && (double)in->width * in->height > (double)lim->max_pixels)
        s = fmin(s, sqrt((double)lim->max_pixels / ((double)in->width * in->height)));
    return s;
}

/* The format to write: the source's when the backend takes it (not GIF,
 * which is a still now), else by the picture's nature. */
static unsigned out_format(unsigned src, int alpha, unsigned allowed)
{
    unsigned pref[4];
    size_t k = 0;
    if (src != AC_IMAGE_GIF)
        pref[k++] = src;
    int lossless = alpha || src == AC_IMAGE_PNG || src == AC_IMAGE_GIF;
    pref[k++] = lossless ? AC_IMAGE_PNG : AC_IMAGE_JPEG;
    pref[k++] = lossless ? AC_IMAGE_JPEG : AC_IMAGE_PNG;
    pref[k++] = AC_IMAGE_WEBP;
    for (size_t i = 0; i < k; i++)
        if (allowed & pref[i])
            return pref[i];
    return 0;
}

/* Encode im as format (JPEG at quality q, flattened on white when it has
 * alpha).  0, or -1 with why. */
static int encode(VipsImage *im, unsigned format, int q, void **buf, size_t *len, char *why,
                  size_t whylen)
{
    VipsImage *flat = NULL;
    int rc;
    *buf = NULL;
    if (format == AC_IMAGE_JPEG && vips_image_hasalpha(im)) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        rc = vips_flatten(im, &flat, "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (rc != 0) {
            vips_why(why, whylen, "cannot flatten the image");
            return -1;
        }
        im = flat;
    }
    switch (format) {
    case AC_IMAGE_JPEG:
        rc = vips_jpegsave_buffer(im, buf, len, "Q", q, "strip", TRUE, "optimize_coding", TRUE,
                                  NULL);
        break;
    case AC_IMAGE_WEBP:
        rc = vips_webpsave_buffer(im, buf, len, "Q", q, "strip", TRUE, NULL);
        break;
    default:
        rc = vips_pngsave_buffer(im, buf, len, "compression", 6, "strip", TRUE, NULL);
        break;
    }
    if (flat)
        g_object_unref(flat);
    if (rc != 0) {
        vips_why(why, whylen, "cannot encode the image");
        return -1;
    }
    return 0;
}

/* One try at `scale`: the thumbnail, encoded.  0; 1 when rounding left
 * the thumbnail a pixel over a limit (try a little smaller); -1 with why. */
static int make(const void *bytes, size_t n, const ac__image_info *in, double scale,
                const ac__media_limits *lim, unsigned format, int q, void **buf, size_t *len,
                char *why, size_t whylen)
{
    /* Only the longer side is given (the other may be anything): the
     * thumbnail then scales to it exactly, and rounds the shorter. */
    int landscape = in->width >= in->height;
    int side = (int)floor((landscape ? in->width : in->height) * scale);
    if (side < 1)
        side = 1;
    VipsImage *t = NULL;
    if (vips_thumbnail_buffer((void *)bytes, n, &t, landscape ? side : VIPS_MAX_COORD,
                              "height", landscape ? VIPS_MAX_COORD : side, "size",
                              VIPS_SIZE_DOWN, NULL) != 0) {
        vips_why(why, whylen, "cannot decode the image");
        return -1;
    }
    ac__image_info got = {vips_image_get_width(t), vips_image_get_height(t), 1, 0};
    if (!fits(&got, lim)) {
        g_object_unref(t);
        return 1;
    }
    int rc = encode(t, format, q, buf, len, why, whylen);
    g_object_unref(t);
    return rc;
}

/* 1 if the bytes start as `format` does.  libvips picks its loader from
 * the bytes, and has loaders for far more (SVG, PDF, ...) than the four
 * formats taken here: an image from a session file whose media type says
 * PNG must be one before libvips sees it. */
static int signature_ok(const unsigned char *b, size_t n, unsigned format)
{
    switch (format) {
    case AC_IMAGE_PNG: return n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8);
    case AC_IMAGE_JPEG: return n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff;
    case AC_IMAGE_GIF: return n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6));
    case AC_IMAGE_WEBP: return n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4);
    }
    return 0;
}

ac_status ac__image_fit(const void *bytes, size_t n, unsigned format,
                        const ac__media_limits *lim, unsigned char **out, size_t *out_n,
                        unsigned *out_fmt, char *why, size_t whylen)
{
    *out = NULL;
    *out_n = 0;
    *out_fmt = format;
    if (!signature_ok(bytes, n, format)) {
        snprintf(why, whylen, "the bytes are not a %s image", ac__image_mime(format) ?
                 ac__image_mime(format) : "known");
        return AC_EUNSUPPORTED;
    }
    ac__image_info in;
    ac_status st = ac__image_probe(bytes, n, &in, why, whylen);
    if (st != AC_OK)
        return st;
    unsigned allowed = lim->formats ? lim->formats : AC_IMAGE_PNG | AC_IMAGE_JPEG;
    if ((allowed & format) && in.pages == 1 && fits(&in, lim) &&
        (!lim->max_bytes || ac__b64_len(n) <= (size_t)lim->max_bytes))
        return AC_OK;
    if ((double)in.width * in.height > (double)AC__IMAGE_DECODE_MAX_PIXELS) {
        snprintf(why, whylen, "%dx%d pixels is more than the %ld this library decodes",
                 in.width, in.height, AC__IMAGE_DECODE_MAX_PIXELS);
        return AC_EUNSUPPORTED;
    }
    unsigned fmt = out_format(format, in.alpha, allowed);
    if (!fmt) {
        snprintf(why, whylen, "the backend takes no format this library writes");
        return AC_EUNSUPPORTED;
    }
    double scale = scale_for(&in, lim);
    int q = 85;
    for (int tries = 0; tries < 12; tries++) {
        void *buf;
        size_t len;
        int rc = make(bytes, n, &in, scale, lim, fmt, q, &buf, &len, why, whylen);
        if (rc < 0)
            return AC_EUNSUPPORTED;
        if (rc > 0) {
            scale *= 0.995;
            continue;
        }
        size_t b64 = ac__b64_len(len);
        if (!lim->max_bytes || b64 <= (size_t)lim->max_bytes) {
            unsigned char *copy = ac__malloc(len ? len : 1);
            if (copy)
                memcpy(copy, buf, len);
            g_free(buf);
            if (!copy)
                return AC_ENOMEM;
            *out = copy;
            *out_n = len;
            *out_fmt = fmt;
            return AC_OK;
        }
        g_free(buf);
        if (fmt != AC_IMAGE_PNG && q > 55) {
            q -= 15;
            continue;
        }
        /* Bytes grow about with the pixel count: shrink both sides by the
         * square root of the excess, and a little more. */
        scale *= sqrt((double)lim->max_bytes / (double)b64) * 0.95;
        if (in.width * scale < 1 || in.height * scale < 1)
            break;
    }
    snprintf(why, whylen, "cannot be made smaller than image_max_bytes (%ld bytes of base64)",
             lim->max_bytes);
    return AC_EUNSUPPORTED;
}
