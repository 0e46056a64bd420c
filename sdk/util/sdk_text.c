/*
 * sdk_text.c -- UTF-8, excerpts and locale-proof numbers.  See
 * <abstractcore/sdk.h>.
 */
/* _GNU_SOURCE (set by the build) brings newlocale, uselocale. */
#include <abstractcore/sdk.h>

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the UTF-8 character at s (of at most n bytes), 0 if the
 * bytes there are not one. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0], min, cp;
    size_t len;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int ac_sdk_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_char(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

char *ac_sdk_excerpt(const char *body, size_t len, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)(body ? body : "");
    size_t o = 0, limit = cap - 4; /* room for "..." and the NUL */
    int space = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_char(s + i, len - i);
        if (s[i] < 0x20 || s[i] == 0x7F || s[i] == ' ') {
            space = o > 0;
            i++;
            continue;
        }
        size_t need = (space ? 1 : 0) + (k ? k : 1);
        if (o + need > limit) {
            memcpy(out + o, "...", 4);
            return out;
        }
        if (space)
            out[o++] = ' ';
        space = 0;
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

/* The "C" locale, for numbers that must not take the process's decimal
 * comma. */
static pthread_once_t c_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;
static void c_locale_make(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

char *ac_sdk_format_double(double v, char *buf)
{
    if (!isfinite(v)) {
        strcpy(buf, "null");
        return buf;
    }
    pthread_once(&c_once, c_locale_make);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    /* The shortest of %.15g .. %.17g that reads back as v. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (c_locale)
        uselocale(old);
    return buf;
}
