/*
 * base64.c -- base64 both ways, for images: the plugins get base64 text,
 * data: URLs and saved sessions hold it.
 *
 * GLib's incremental coder does the work (GLib comes with libvips and
 * poppler-glib), writing into buffers from the core's allocator, so the
 * tests' allocation failures reach here too.  Decoding is strict, which
 * GLib's is not (it skips what is not base64): the text is checked first,
 * so a damaged data: URL or session file is an error rather than a
 * different image.  Thread-safe; no state.
 */
#include "media.h"
#include "../alloc.h"

#include <glib.h>
#include <string.h>

size_t ac__b64_len(size_t n) { return (n + 2) / 3 * 4; }

char *ac__b64_encode(const void *data, size_t n)
{
    if (n > (SIZE_MAX / 4) * 3 - 8)
        return NULL;
    /* GLib's bound for one step, plus the close and the NUL. */
    char *out = ac__malloc((n / 3 + 1) * 4 + 4 + 1);
    if (!out)
        return NULL;
    gint state = 0, save = 0;
    gsize k = g_base64_encode_step(data, n, FALSE, out, &state, &save);
    k += g_base64_encode_close(FALSE, out + k, &state, &save);
    out[k] = '\0';
    return out;
}

static int b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

unsigned char *ac__b64_decode(const char *text, size_t len, size_t *n, int *bad)
{
    *bad = 1;
    if (len == 0 || len % 4 != 0)
        return NULL;
    size_t pad = text[len - 1] == '=' ? (text[len - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char((unsigned char)text[i]))
            return NULL;
    *bad = 0;
    unsigned char *out = ac__malloc(len / 4 * 3 + 1);
    if (!out)
        return NULL;
    gint state = 0;
    guint save = 0;
    *n = g_base64_decode_step(text, len, out, &state, &save);
    return out;
}
