/*
 * schema_value.c -- helpers of the schema validator: the arena holding a
 * compiled schema, a small hash map, exact number comparison and
 * multipleOf, JSON equality and hashing, and bounded JSON previews for
 * error messages.  See schema_int.h.
 *
 * Reading json-c values here never calls json_object_to_json_string,
 * which writes a cache into the object: a compiled schema is read from
 * many threads, and an instance may be the caller's.
 */
#include "schema_int.h"
#include "../alloc.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct ac__sarena_chunk {
    ac__sarena_chunk *next;
    size_t size, used;
    max_align_t data[];
};

void *ac__sarena_alloc(ac__sarena *a, size_t n)
{
    const size_t al = sizeof(max_align_t);
    n = (n + al - 1) / al * al;
    ac__sarena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > 4096 ? n : 4096;
        c = ac__malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *ac__sarena_strndup(ac__sarena *a, const char *s, size_t n)
{
    char *d = ac__sarena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void ac__sarena_free(ac__sarena *a)
{
    while (a->head) {
        ac__sarena_chunk *n = a->head->next;
        ac__free(a->head);
        a->head = n;
    }
}

/* ---- map ---- */

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static ac__smap_ent *map_find(const ac__smap *m, const void *pk, const char *sk)
{
    if (!m->cap)
        return NULL;
    size_t i = (sk ? hash_bytes(sk, strlen(sk)) : hash_ptr(pk)) & (m->cap - 1);
    for (;;) {
        ac__smap_ent *e = &m->v[i];
        if (!e->pkey && !e->skey)
            return e;
        if (sk ? (e->skey && strcmp(e->skey, sk) == 0) : e->pkey == pk)
            return e;
        i = (i + 1) & (m->cap - 1);
    }
}

static int map_grow(ac__smap *m)
{
    if ((m->n + 1) * 2 <= m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 16;
    ac__smap old = *m;
    ac__smap_ent *v = ac__calloc(cap, sizeof *v);
    if (!v)
        return -1;
    m->v = v;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        ac__smap_ent *e = &old.v[i];
        if (e->pkey || e->skey)
            *map_find(m, e->pkey, e->skey) = *e;
    }
    ac__free(old.v);
    return 0;
}

void *ac__smap_getp(const ac__smap *m, const void *k)
{
    ac__smap_ent *e = map_find(m, k, NULL);
    return e && e->pkey ? e->val : NULL;
}

void *ac__smap_gets(const ac__smap *m, const char *k)
{
    ac__smap_ent *e = map_find(m, NULL, k);
    return e && e->skey ? e->val : NULL;
}

int ac__smap_putp(ac__smap *m, const void *k, void *val)
{
    if (map_grow(m))
        return -1;
    ac__smap_ent *e = map_find(m, k, NULL);
    if (!e->pkey)
        m->n++;
    e->pkey = k;
    e->val = val;
    return 0;
}

int ac__smap_puts(ac__smap *m, const char *k, void *val)
{
    if (map_grow(m))
        return -1;
    ac__smap_ent *e = map_find(m, NULL, k);
    if (!e->skey) {
        if (!(e->skey = ac__strdup(k)))
            return -1;
        m->n++;
    }
    e->val = val;
    return 0;
}

void ac__smap_free(ac__smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        ac__free(m->v[i].skey);
    ac__free(m->v);
    m->v = NULL;
    m->cap = m->n = 0;
}

/* ---- numbers ---- */

void ac__snum_get(json_object *o, snum *n)
{
    memset(n, 0, sizeof *n);
    if (json_object_get_type(o) == json_type_double) {
        n->kind = SNUM_DOUBLE;
        n->d = json_object_get_double(o);
        return;
    }
    n->i = json_object_get_int64(o);
    n->kind = SNUM_INT;
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (14 << 8))
    /* json-c keeps integers above INT64_MAX as uint64 (0.14 on) */
    if (n->i == INT64_MAX) {
        uint64_t u = json_object_get_uint64(o);
        if (u > (uint64_t)INT64_MAX) {
            n->kind = SNUM_UINT;
            n->u = u;
        }
    }
#endif
    n->d = n->kind == SNUM_UINT ? (double)n->u : (double)n->i;
}

int ac__snum_is_integer(const snum *n)
{
    return n->kind != SNUM_DOUBLE || (isfinite(n->d) && floor(n->d) == n->d);
}

static int cmp_int_double(int64_t a, double d)
{
    if (isnan(d))
        return 0;
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    double t = trunc(d);
    int64_t ti = (int64_t)t;
    if (a != ti)
        return a < ti ? -1 : 1;
    return d > t ? -1 : d < t ? 1 : 0;
}

static int cmp_uint_double(uint64_t a, double d)
{
    if (isnan(d))
        return 0;
    if (d >= 18446744073709551616.0)
        return -1;
    if (d < 9223372036854775808.0)
        return 1;
    double t = trunc(d);
    uint64_t ti = (uint64_t)t;
    if (a != ti)
        return a < ti ? -1 : 1;
    return d > t ? -1 : 0;
}

int ac__snum_cmp(const snum *a, const snum *b)
{
    if (a->kind == SNUM_DOUBLE && b->kind == SNUM_DOUBLE)
        return a->d < b->d ? -1 : a->d > b->d ? 1 : 0;
    if (a->kind == SNUM_DOUBLE)
        return -ac__snum_cmp(b, a);
    if (b->kind == SNUM_DOUBLE)
        return a->kind == SNUM_UINT ? cmp_uint_double(a->u, b->d) : cmp_int_double(a->i, b->d);
    if (a->kind == SNUM_UINT || b->kind == SNUM_UINT) {
        if (a->kind != b->kind)
            return a->kind == SNUM_UINT ? 1 : -1;
        return a->u < b->u ? -1 : a->u > b->u;
    }
    return a->i < b->i ? -1 : a->i > b->i;
}

void ac__sdec_of(const snum *n, sdec *d)
{
    memset(d, 0, sizeof *d);
    if (n->kind == SNUM_UINT) {
        d->m = n->u;
        d->ok = 1;
    } else if (n->kind == SNUM_INT) {
        d->neg = n->i < 0;
        d->m = d->neg ? (uint64_t)0 - (uint64_t)n->i : (uint64_t)n->i;
        d->ok = 1;
    } else if (isfinite(n->d)) {
        /* the shortest "%.Pe" that reads back as the same double: the
         * decimal the writer meant (0.0001, not 1.00000000000000005e-4) */
        char t[40];
        for (int p = 0; p <= 17; p++) {
            snprintf(t, sizeof t, "%.*e", p, n->d);
            if (strtod(t, NULL) == n->d)
                break;
        }
        const char *s = t;
        if (*s == '-') {
            d->neg = 1;
            s++;
        }
        int frac = 0, seen_dot = 0;
        for (; *s && *s != 'e'; s++) {
            if (*s == '.') {
                seen_dot = 1;
                continue;
            }
            d->m = d->m * 10 + (uint64_t)(*s - '0');
            frac += seen_dot;
        }
        d->e = (*s == 'e' ? atoi(s + 1) : 0) - frac;
        while (d->m && d->m % 10 == 0) {
            d->m /= 10;
            d->e++;
        }
        d->ok = 1;
    }
}

static uint64_t addmod(uint64_t a, uint64_t b, uint64_t m)
{
    return a >= m - b ? a - (m - b) : a + b;   /* a, b < m */
}

int ac__sdec_multiple(const sdec *x, const sdec *m)
{
    if (!x->ok || !m->ok || m->m == 0)
        return 0;
    if (x->m == 0)
        return 1;
    uint64_t mod = m->m;
    uint64_t r;
    if (m->e > x->e) {
        /* divisor mm * 10^(me - xe) against xm: too big means no */
        uint64_t big = mod;
        for (int i = x->e; i < m->e; i++) {
            if (big > UINT64_MAX / 10)
                return 0;
            big *= 10;
        }
        return x->m % big == 0;
    }
    /* x = xm * 10^k (k >= 0) modulo mm, digit by digit */
    r = x->m % mod;
    for (int i = m->e; i < x->e && r; i++) {
        uint64_t t = 0;
        for (int j = 0; j < 10; j++)
            t = addmod(t, r, mod);
        r = t;
    }
    return r == 0;
}

const char *ac__snum_text(const snum *n, char b[32])
{
    if (n->kind == SNUM_INT)
        snprintf(b, 32, "%lld", (long long)n->i);
    else if (n->kind == SNUM_UINT)
        snprintf(b, 32, "%llu", (unsigned long long)n->u);
    else if (!isfinite(n->d))
        snprintf(b, 32, "%s", isnan(n->d) ? "NaN" : n->d > 0 ? "1e999" : "-1e999");
    else {
        for (int p = 1; p <= 17; p++) {
            snprintf(b, 32, "%.*g", p, n->d);
            if (strtod(b, NULL) == n->d)
                break;
        }
    }
    return b;
}

/* ---- JSON equality and hash ---- */

static int is_num(json_object *o)
{
    json_type t = json_object_get_type(o);
    return t == json_type_int || t == json_type_double;
}

int ac__sjson_equal(json_object *a, json_object *b, unsigned depth)
{
    json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    if (is_num(a) && is_num(b)) {
        snum x, y;
        ac__snum_get(a, &x);
        ac__snum_get(b, &y);
        return ac__snum_cmp(&x, &y) == 0;
    }
    if (ta != tb)
        return 0;
    switch (ta) {
    case json_type_null:
        return 1;
    case json_type_boolean:
        return !json_object_get_boolean(a) == !json_object_get_boolean(b);
    case json_type_string: {
        int la = json_object_get_string_len(a);
        return la == json_object_get_string_len(b) &&
               memcmp(json_object_get_string(a), json_object_get_string(b), (size_t)la) == 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b))
            return 0;
        if (n && depth == 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            int r = ac__sjson_equal(json_object_array_get_idx(a, i),
                                    json_object_array_get_idx(b, i), depth - 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    case json_type_object: {
        if (json_object_object_length(a) != json_object_object_length(b))
            return 0;
        if (json_object_object_length(a) && depth == 0)
            return -1;
        json_object_object_foreach(a, k, va) {
            json_object *vb;
            if (!json_object_object_get_ex(b, k, &vb))
                return 0;
            int r = ac__sjson_equal(va, vb, depth - 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    default:
        return 0;
    }
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

uint64_t ac__sjson_hash(json_object *a, unsigned depth)
{
    switch (json_object_get_type(a)) {
    case json_type_null:
        return 1;
    case json_type_boolean:
        return json_object_get_boolean(a) ? 2 : 3;
    case json_type_int:
    case json_type_double: {
        snum n;
        ac__snum_get(a, &n);
        /* equal numbers hash alike: by their double value (-0 as 0) */
        double d = n.d == 0 ? 0 : n.d;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(bits ^ 4);
    }
    case json_type_string:
        return hash_bytes(json_object_get_string(a), (size_t)json_object_get_string_len(a));
    case json_type_array: {
        uint64_t h = 5;
        if (depth == 0)
            return h;
        for (size_t i = 0, n = json_object_array_length(a); i < n; i++)
            h = mix(h ^ ac__sjson_hash(json_object_array_get_idx(a, i), depth - 1));
        return h;
    }
    case json_type_object: {
        uint64_t h = 6;
        if (depth == 0)
            return h;
        json_object_object_foreach(a, k, v)
            h += mix(hash_bytes(k, strlen(k)) ^ mix(ac__sjson_hash(v, depth - 1)));
        return h;
    }
    default:
        return 0;
    }
}

/* ---- previews ---- */

int ac__sjson_quote(buf *b, const char *s, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    if (ac__buf_append(b, "\"", 1))
        return -1;
    size_t start = b->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char e[8];
        size_t n = 0;
        if (b->len - start >= max) {
            /* cut at a character boundary */
            if ((ch & 0xC0) == 0x80)
                continue;
            return ac__buf_appends(b, "...\"");
        }
        if (ch == '"' || ch == '\\') {
            e[n++] = '\\';
            e[n++] = (char)ch;
        } else if (ch == '\n') {
            e[n++] = '\\';
            e[n++] = 'n';
        } else if (ch == '\t') {
            e[n++] = '\\';
            e[n++] = 't';
        } else if (ch == '\r') {
            e[n++] = '\\';
            e[n++] = 'r';
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(e, "\\u00", 4);
            e[4] = hex[ch >> 4];
            e[5] = hex[ch & 15];
            n = 6;
        } else
            e[n++] = (char)ch;
        if (ac__buf_append(b, e, n))
            return -1;
    }
    return ac__buf_append(b, "\"", 1);
}

int ac__sjson_preview(buf *b, json_object *o, size_t max)
{
    size_t start = b->len;
    char t[32];
    switch (json_object_get_type(o)) {
    case json_type_null:
        return ac__buf_appends(b, "null");
    case json_type_boolean:
        return ac__buf_appends(b, json_object_get_boolean(o) ? "true" : "false");
    case json_type_int:
    case json_type_double: {
        snum n;
        ac__snum_get(o, &n);
        return ac__buf_appends(b, ac__snum_text(&n, t));
    }
    case json_type_string:
        return ac__sjson_quote(b, json_object_get_string(o),
                               (size_t)json_object_get_string_len(o), max);
    case json_type_array: {
        if (ac__buf_append(b, "[", 1))
            return -1;
        for (size_t i = 0, n = json_object_array_length(o); i < n; i++) {
            if (b->len - start >= max)
                return ac__buf_appends(b, "...]");
            if ((i && ac__buf_append(b, ",", 1)) ||
                ac__sjson_preview(b, json_object_array_get_idx(o, i), max - (b->len - start)))
                return -1;
        }
        return ac__buf_append(b, "]", 1);
    }
    case json_type_object: {
        if (ac__buf_append(b, "{", 1))
            return -1;
        int first = 1;
        json_object_object_foreach(o, k, v) {
            if (b->len - start >= max)
                return ac__buf_appends(b, "...}");
            if ((!first && ac__buf_append(b, ",", 1)) ||
                ac__sjson_quote(b, k, strlen(k), max) || ac__buf_append(b, ":", 1) ||
                ac__sjson_preview(b, v, max - (b->len - start > max ? max : b->len - start)))
                return -1;
            first = 0;
        }
        return ac__buf_append(b, "}", 1);
    }
    default:
        return 0;
    }
}

int ac__sptr_append(buf *b, const char *tok, size_t len)
{
    if (ac__buf_append(b, "/", 1))
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *e = tok[i] == '~' ? "~0" : tok[i] == '/' ? "~1" : NULL;
        if (e ? ac__buf_append(b, e, 2) : ac__buf_append(b, tok + i, 1))
            return -1;
    }
    return 0;
}

size_t ac__sutf8_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}
