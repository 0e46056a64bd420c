/*
 * gw_json.c -- JSON for the gateway: an output buffer that writes JSON
 * text by hand (one SSE chunk is a few dozen bytes: building json-c
 * trees for each would cost more than the rest of its path), the readers
 * of request fields that say which field is wrong and how, and the
 * errors sent to clients.
 *
 * Relies on json-c for parsing.  Nothing here keeps state; every
 * function is safe on any thread for distinct buffers.
 */
#include "gw.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The output buffer                                                   */
/* ------------------------------------------------------------------ */

static int jb_room(jbuf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void jb_raw(jbuf *b, const char *s, size_t n)
{
    if (jb_room(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void jb_cstr(jbuf *b, const char *s) { jb_raw(b, s, strlen(s)); }

void jb_fmt(jbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        jb_raw(b, small, (size_t)n);
        return;
    }
    if (jb_room(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The length of the UTF-8 sequence at s (at most n bytes), 0 when it is
 * not well formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned min, v;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        k = 2, min = 0x80, v = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        k = 3, min = 0x800, v = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        k = 4, min = 0x10000, v = c & 0x07;
    else
        return 0;
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return k;
}

void jb_str(jbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case: every byte becomes \u00XX. */
    if (jb_room(b, n * 6 + 2) != 0)
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);
            if (k == 0) {
                /* U+FFFD: a backend's broken byte never breaks our JSON. */
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i++;
                continue;
            }
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default: o += sprintf(o, "u%04x", c); break;
        }
        i++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

void jb_qstr(jbuf *b, const char *s)
{
    if (s)
        jb_str(b, s, strlen(s));
    else
        jb_raw(b, "null", 4);
}

void jb_free(jbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void jb_consume(jbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        if (b->p)
            b->p[0] = '\0';
        /* A big buffer of a burst is given back once it drained. */
        if (b->cap > 4 * GW_OUT_HIGH) {
            free(b->p);
            b->p = NULL;
            b->cap = 0;
        }
        return;
    }
    memmove(b->p, b->p + n, b->len - n + 1);
    b->len -= n;
}

/* ------------------------------------------------------------------ */
/* Reading requests                                                    */
/* ------------------------------------------------------------------ */

json_object *gw_jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v; /* NULL for JSON null too */
}

const char *gw_jtype(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "something else";
}

void gw_path(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

const char *gw_jtext(json_object *v)
{
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
}

json_object *gw_json_parse(const char *body, size_t len, gw_err *e)
{
    if (len == 0) {
        gw_err_set(e, 400, "invalid_request_error", "", "invalid_json",
                   "The request has no body: expected a JSON object.");
        return NULL;
    }
    if (len > 0x7fffffff) {
        gw_err_set(e, 413, "invalid_request_error", "", "", "The request body is too large.");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        gw_err_set(e, 500, "server_error", "", "", "Out of memory.");
        return NULL;
    }
#ifdef JSON_TOKENER_VALIDATE_UTF8
    /* Text that is not UTF-8 is the client's 400 here, not a surprise for
     * the core later. */
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
#endif
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = (size_t)json_tokener_get_parse_end(tok);
    if (o && je == json_tokener_success)
        while (end < len && strchr(" \t\r\n", body[end]))
            end++;
    if (!o || je != json_tokener_success || end != len) {
        /* Where it stops: the line and the byte, for a person fixing it. */
        size_t at = je == json_tokener_continue ? len : end, line = 1;
        for (size_t i = 0; i < at && i < len; i++)
            line += body[i] == '\n';
        const char *why = je == json_tokener_continue ? "the text ends too early"
                          : je != json_tokener_success ? json_tokener_error_desc(je)
                                                       : "more text after the JSON value";
        gw_err_set(e, 400, "invalid_request_error", "", "invalid_json",
                   "We could not parse the JSON body of your request: %s at byte %zu "
                   "(line %zu).", why, at, line);
        json_object_put(o);
        json_tokener_free(tok);
        return NULL;
    }
    json_tokener_free(tok);
    if (!json_object_is_type(o, json_type_object)) {
        gw_err_set(e, 400, "invalid_request_error", "", "invalid_type",
                   "The request body must be a JSON object, not %s.", gw_jtype(o));
        json_object_put(o);
        return NULL;
    }
    return o;
}

static int bad_type(gw_err *e, const char *path, const char *want, json_object *v)
{
    gw_err_set(e, 400, "invalid_request_error", path, "invalid_type",
               "Invalid type for '%s': expected %s, but got %s instead.", path, want,
               gw_jtype(v));
    return -1;
}

int gw_jstring(json_object *o, const char *key, const char *path, const char **out, gw_err *e)
{
    json_object *v = gw_jget(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return bad_type(e, path, "a string", v);
    *out = json_object_get_string(v);
    return 1;
}

int gw_jbool(json_object *o, const char *key, const char *path, int *out, gw_err *e)
{
    json_object *v = gw_jget(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return bad_type(e, path, "a boolean", v);
    *out = json_object_get_boolean(v);
    return 1;
}

int gw_jint(json_object *o, const char *key, const char *path, long long lo, long long hi,
            long long *out, gw_err *e)
{
    json_object *v = gw_jget(o, key);
    if (!v)
        return 0;
    /* 100.0 is an integer to JavaScript, whose clients send it so. */
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (d != floor(d) || !isfinite(d))
            return bad_type(e, path, "an integer", v);
    } else if (!json_object_is_type(v, json_type_int)) {
        return bad_type(e, path, "an integer", v);
    }
    long long n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
                                                        : (long long)json_object_get_double(v);
    if (n < lo || n > hi) {
        gw_err_set(e, 400, "invalid_request_error", path, "invalid_value",
                   "Invalid value for '%s': %lld is out of range (%lld to %lld).", path, n, lo,
                   hi);
        return -1;
    }
    *out = n;
    return 1;
}

int gw_jnum(json_object *o, const char *key, const char *path, double lo, double hi, double *out,
            gw_err *e)
{
    json_object *v = gw_jget(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return bad_type(e, path, "a number", v);
    double d = json_object_get_double(v);
    if (!(d >= lo && d <= hi)) {
        gw_err_set(e, 400, "invalid_request_error", path, "invalid_value",
                   "Invalid value for '%s': %g is out of range (%g to %g).", path, d, lo, hi);
        return -1;
    }
    *out = d;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

void gw_err_set(gw_err *e, int status, const char *type, const char *param, const char *code,
                const char *fmt, ...)
{
    e->status = status;
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    e->retry_after_s = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

void gw_err_from_ac(gw_err *e, const ac_error *ae)
{
    int st = 502;
    const char *type = "upstream_error";
    switch (ae->code) {
    case AC_EHTTP:
        /* What the client did wrong stays the client's; what the backend
         * did, or our key for it, is a bad gateway. */
        switch (ae->http_status) {
        case 400: case 404: case 409: case 413: case 422:
            st = ae->http_status;
            type = "invalid_request_error";
            break;
        case 429:
            st = 429;
            type = "rate_limit_error";
            break;
        case 503: case 529:
            st = 503;
            type = "overloaded_error";
            break;
        default: st = 502; break;
        }
        break;
    case AC_ETIMEDOUT: st = 504; type = "timeout_error"; break;
    case AC_ECIRCUIT: st = 503; type = "overloaded_error"; break;
    case AC_EINVAL:
    case AC_EUNSUPPORTED: st = 400; type = "invalid_request_error"; break;
    case AC_ENOPROVIDER: st = 404; type = "invalid_request_error"; break;
    case AC_ECONFIG:
    case AC_EPLUGIN: st = 503; type = "server_error"; break;
    case AC_ENOMEM: st = 500; type = "server_error"; break;
    case AC_ECANCELED: st = 503; type = "server_error"; break;
    default: break;
    }
    gw_err_set(e, st, type, "", "", "%s%s%s", ae->provider[0] ? ae->provider : "",
               ae->provider[0] ? ": " : "", ae->message);
    if (ae->retry_after_ms >= 0 && (st == 429 || st == 503))
        e->retry_after_s = (ae->retry_after_ms + 999) / 1000;
}
