/*
 * sdk_json.c -- checked JSON text from json-c values, and typed lookups.
 * See <abstractcore/sdk.h>.
 */
#include <abstractcore/sdk.h>

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 256

typedef struct out {
    const ac_host_api *host;
    char  *p;
    size_t len, cap;
    int    failed;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1) {
            if (cap > ((size_t)-1) / 2) {
                o->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *np = o->host->realloc(o->p, cap);
        if (!np) {
            o->failed = 1;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void string(out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        const char *e = NULL;
        if (c == '"')
            e = "\\\"";
        else if (c == '\\')
            e = "\\\\";
        else if (c == '\n')
            e = "\\n";
        else if (c == '\r')
            e = "\\r";
        else if (c == '\t')
            e = "\\t";
        else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc[6] = '\0';
            e = esc;
        }
        if (!e)
            continue;
        put(o, s + run, i - run);
        puts_(o, e);
        run = i + 1;
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

static void value(out *o, struct json_object *v, int depth)
{
    char num[40];
    if (depth > MAX_DEPTH) {
        o->failed = 2;
        return;
    }
    switch (json_object_get_type(v)) {
    case json_type_null:
        puts_(o, "null");
        break;
    case json_type_boolean:
        puts_(o, json_object_get_boolean(v) ? "true" : "false");
        break;
    case json_type_int:
        /* json-c keeps unsigned values above INT64_MAX apart. */
        if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > INT64_MAX)
            snprintf(num, sizeof num, "%llu", (unsigned long long)json_object_get_uint64(v));
        else
            snprintf(num, sizeof num, "%lld", (long long)json_object_get_int64(v));
        puts_(o, num);
        break;
    case json_type_double:
        puts_(o, ac_sdk_format_double(json_object_get_double(v), num));
        break;
    case json_type_string:
        string(o, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array: {
        put(o, "[", 1);
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n && !o->failed; i++) {
            if (i)
                put(o, ",", 1);
            value(o, json_object_array_get_idx(v, i), depth + 1);
        }
        put(o, "]", 1);
        break;
    }
    case json_type_object: {
        put(o, "{", 1);
        int first = 1;
        json_object_object_foreach(v, key, member) {
            if (o->failed)
                break;
            if (!first)
                put(o, ",", 1);
            first = 0;
            string(o, key, strlen(key));
            put(o, ":", 1);
            value(o, member, depth + 1);
        }
        put(o, "}", 1);
        break;
    }
    }
}

/* ac_sdk_json_text, with the code it failed the call with in *st. */
static char *json_text(const ac_host_api *host, ac_call *call, struct json_object *v,
                       size_t *len, ac_status *st)
{
    out o = {.host = host};
    value(&o, v, 0);
    if (o.failed) {
        host->free(o.p);
        if (o.failed == 2)
            *st = host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                             "JSON nested deeper than %d levels", MAX_DEPTH);
        else
            *st = host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory writing JSON");
        return NULL;
    }
    if (len)
        *len = o.len;
    *st = AC_OK;
    return o.p;
}

char *ac_sdk_json_text(const ac_host_api *host, ac_call *call, struct json_object *v,
                       size_t *len)
{
    ac_status st;
    return json_text(host, call, v, len, &st);
}

ac_status ac_sdk_json_body(const ac_host_api *host, ac_http_request *rq,
                           struct json_object *v, ac_call *call)
{
    size_t n;
    ac_status st;
    char *text = json_text(host, call, v, &n, &st);
    if (!text)
        return st;
    st = host->http_body(rq, text, n, call);
    host->free(text);
    return st;
}

/* ---- lookups ---- */

static struct json_object *member(struct json_object *o, const char *key, json_type t)
{
    struct json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
        return NULL;
    return v;
}

const char *ac_sdk_json_string(struct json_object *o, const char *key)
{
    struct json_object *v = member(o, key, json_type_string);
    return v ? json_object_get_string(v) : NULL;
}

int ac_sdk_json_int(struct json_object *o, const char *key, long long *out_)
{
    struct json_object *v = member(o, key, json_type_int);
    if (v) {
        *out_ = (long long)json_object_get_int64(v);
        return 1;
    }
    v = member(o, key, json_type_double);
    if (v) {
        double d = json_object_get_double(v);
        if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18) {
            *out_ = (long long)d;
            return 1;
        }
    }
    return 0;
}

struct json_object *ac_sdk_json_object(struct json_object *o, const char *key)
{
    return member(o, key, json_type_object);
}

struct json_object *ac_sdk_json_array(struct json_object *o, const char *key)
{
    return member(o, key, json_type_array);
}
