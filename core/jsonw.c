/*
 * jsonw.c -- checked JSON writing.  See jsonw.h.
 */
#include "jsonw.h"
#include "alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void ac__jw_init(jsonw *w, int pretty)
{
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
}

static void put(jsonw *w, const char *s, size_t n)
{
    if (!w->failed && ac__buf_append(&w->b, s, n) != 0)
        w->failed = 1;
}

static void puts_(jsonw *w, const char *s) { put(w, s, strlen(s)); }

static void newline(jsonw *w)
{
    if (!w->pretty)
        return;
    put(w, "\n", 1);
    for (int i = 0; i < w->depth; i++)
        put(w, "  ", 2);
}

/* Before a value: the comma and line break an array member needs (an
 * object member had them at its key). */
static void before_value(jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0) {
        if (w->b.len)
            w->failed = 1; /* a second top-level value */
        return;
    }
    if (w->count[w->depth - 1]++)
        put(w, ",", 1);
    newline(w);
}

static void open_(jsonw *w, char c)
{
    before_value(w);
    put(w, &c, 1);
    if (w->depth == AC_JW_MAX_DEPTH) {
        w->failed = 1;
        return;
    }
    w->kind[w->depth] = c;
    w->count[w->depth++] = 0;
}

void ac__jw_object(jsonw *w) { open_(w, '{'); }
void ac__jw_array(jsonw *w) { open_(w, '['); }

void ac__jw_end(jsonw *w)
{
    if (w->depth == 0 || w->after_key) {
        w->failed = 1;
        return;
    }
    int had = w->count[--w->depth];
    if (had)
        newline(w);
    put(w, w->kind[w->depth] == '{' ? "}" : "]", 1);
}

static void escaped(jsonw *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        }
        if (!esc)
            continue;
        put(w, s + run, i - run);
        puts_(w, esc);
        run = i + 1;
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

void ac__jw_key(jsonw *w, const char *key)
{
    if (w->depth == 0 || w->after_key) {
        w->failed = 1;
        return;
    }
    if (w->count[w->depth - 1]++)
        put(w, ",", 1);
    newline(w);
    escaped(w, key, strlen(key));
    put(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
    w->after_key = 1;
}

void ac__jw_string_n(jsonw *w, const char *s, size_t n)
{
    before_value(w);
    escaped(w, s ? s : "", s ? n : 0);
}

void ac__jw_string(jsonw *w, const char *s) { ac__jw_string_n(w, s, s ? strlen(s) : 0); }

void ac__jw_int(jsonw *w, long long v)
{
    char n[32];
    before_value(w);
    put(w, n, (size_t)snprintf(n, sizeof n, "%lld", v));
}

void ac__jw_double(jsonw *w, double v)
{
    char n[40];
    before_value(w);
    if (!isfinite(v)) {
        puts_(w, "null");
        return;
    }
    /* The shortest text that reads back as the same double. */
    int len = snprintf(n, sizeof n, "%.15g", v);
    double back;
    if (sscanf(n, "%lf", &back) != 1 || back != v)
        len = snprintf(n, sizeof n, "%.17g", v);
    /* printf follows the program's locale: a decimal comma is a point in
     * JSON, whatever the application set with setlocale. */
    for (char *p = n; *p; p++)
        if (*p == ',')
            *p = '.';
    put(w, n, (size_t)len);
    /* "1" would read back as an integer: keep it a number with a point. */
    if (!strpbrk(n, ".eEn"))
        put(w, ".0", 2);
}

void ac__jw_bool(jsonw *w, int v)
{
    before_value(w);
    puts_(w, v ? "true" : "false");
}

void ac__jw_null(jsonw *w)
{
    before_value(w);
    puts_(w, "null");
}

void ac__jw_raw(jsonw *w, const char *json)
{
    before_value(w);
    puts_(w, json);
}

char *ac__jw_finish(jsonw *w, size_t *len)
{
    char *out = NULL;
    if (!w->failed && w->depth == 0 && !w->after_key && w->b.len) {
        if (len)
            *len = w->b.len;
        out = ac__buf_steal(&w->b);
    }
    ac__buf_free(&w->b);
    return out;
}
