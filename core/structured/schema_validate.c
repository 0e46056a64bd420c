/*
 * schema_validate.c -- walking a compiled schema (schema.c) against a
 * json-c instance, and the error list: what each failure reports, how
 * anyOf / oneOf failures are summarized, and the text sent back to a model.
 *
 * The walk is recursive, one C frame group per schema level, bounded by
 * max_depth; the instance path is a chain of frames on the C stack, turned
 * into a JSON pointer only when an error is recorded.  A "quiet" walk (inside
 * not, if, contains, the first pass of anyOf / oneOf, or once the error list
 * is full) stops at the first failure and builds no message, so the usual
 * valid case allocates nothing but a PCRE2 match block.
 * The error list itself is schema_errors.c.
 * Thread-safe: the schema is only read; each call has its own context.
 */
#include "schema_int.h"
#include "../alloc.h"
#include "../error.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int full(const vctx *c) { return !c->out || c->out->count >= c->cap; }
static int stop(const vctx *c) { return c->quiet || full(c); }

/* A short rendering of v for a message, in a caller buffer. */
static const char *show(buf *b, json_object *v, size_t max)
{
    ac__buf_reset(b);
    if (ac__sjson_preview(b, v, max) || !b->data)
        return "(value)";
    return b->data;
}

static const char *type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "boolean";
    case json_type_int: return "integer";
    case json_type_double: return "number";
    case json_type_string: return "string";
    case json_type_array: return "array";
    case json_type_object: return "object";
    default: return "value";
    }
}

static unsigned type_bits(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return ST_NULL;
    case json_type_boolean: return ST_BOOLEAN;
    case json_type_int: return ST_NUMBER | ST_INTEGER;
    case json_type_double: {
        snum n;
        ac__snum_get(v, &n);
        return ST_NUMBER | (ac__snum_is_integer(&n) ? ST_INTEGER : 0);
    }
    case json_type_string: return ST_STRING;
    case json_type_array: return ST_ARRAY;
    case json_type_object: return ST_OBJECT;
    default: return 0;
    }
}

static int v_node(vctx *c, const snode *n, json_object *inst, const vpath *p);

/* Does PCRE2 find re in s?  1, 0, -1 (err). */
static int match(vctx *c, pcre2_code *re, const char *src, const char *s, size_t len,
                 const vpath *p)
{
    if (!c->md && !(c->md = pcre2_match_data_create(1, c->s->gctx)))
        return ac__svnomem(c);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, c->md, c->s->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return ac__svnomem(c);
    buf ip = { 0 };
    ac__svpath_text(p, &ip);
    ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                  "regex \"%.60s\" could not finish at %.200s (PCRE2 error %d, e.g. its "
                  "match limit)", src, ip.len ? ip.data : "(root)", rc);
    ac__buf_free(&ip);
    return -1;
}

/* ---- anyOf / oneOf failures ---- */

static int is_type_only(const ac__schema_errors *e, const char *path)
{
    return e->count == 1 && !strcmp(e->items[0].keyword, "type") &&
           !strcmp(e->items[0].instance_path, path);
}

/* Every branch failed: run them again collecting errors.  When exactly one
 * branch failed for more than its type, its errors are reported as they
 * are; otherwise one error lists each branch's first failure. */
static int branches_failed(vctx *c, const snode *n, const char *kw, snode **br, size_t nb,
                           json_object *inst, const vpath *p)
{
    enum { PER_BRANCH = 5 };
    ac__schema_errors *lists = ac__calloc(nb, sizeof *lists);
    if (!lists)
        return ac__svnomem(c);
    ac__schema_errors *saved = c->out;
    size_t saved_cap = c->cap;
    int rc = 0;
    buf ip = { 0 }, m = { 0 };
    c->cap = PER_BRANCH;
    for (size_t i = 0; i < nb && rc >= 0; i++) {
        c->out = &lists[i];
        rc = v_node(c, br[i], inst, p);
    }
    c->out = saved;
    c->cap = saved_cap;
    if (rc < 0 || ac__svpath_text(p, &ip))
        goto out;
    const char *here = ip.data ? ip.data : "";
    size_t lone = nb, others = 0;
    for (size_t i = 0; i < nb; i++)
        if (!is_type_only(&lists[i], here) && lists[i].count) {
            lone = i;
            others++;
        }
    if (others == 1) {
        /* the alternative meant for this type: its errors say what to fix */
        const ac__schema_errors *l = &lists[lone];
        size_t moved = 0;
        for (; moved < l->count && !full(c); moved++) {
            if (ac__serrors_push(c->out, &l->items[moved])) {
                rc = ac__svnomem(c);
                goto out;
            }
            l->items[moved].instance_path = NULL;   /* now c->out's */
        }
        c->out->total += l->total - moved;          /* found, not kept */
        goto out;
    }
    for (size_t i = 0; i < nb && m.len < 600; i++) {
        const ac__schema_errors *l = &lists[i];
        char head[32];
        snprintf(head, sizeof head, "%s(%zu) ", i ? "; " : "", i + 1);
        if (ac__buf_appends(&m, head))
            goto oom;
        for (size_t k = 0; k < l->count && k < 2; k++) {
            const char *msg = l->items[k].message;
            size_t hl = strlen(here);
            /* drop "<here>: " when the branch failed at the same place */
            if (hl && !strncmp(msg, here, hl) && !strncmp(msg + hl, ": ", 2))
                msg += hl + 2;
            else if (!hl && !strncmp(msg, "(root): ", 8))
                msg += 8;
            if ((k && ac__buf_appends(&m, ", ")) || ac__buf_append(&m, msg, strlen(msg) > 200 ? 200 : strlen(msg)))
                goto oom;
        }
        if (l->total > 2 && ac__buf_appends(&m, ", ..."))
            goto oom;
    }
    rc = ac__sreport(c, p, n, kw, "does not match any alternative of %s: %s%s", kw,
                m.data ? m.data : "", m.len >= 600 ? " ..." : "");
    goto out;
oom:
    rc = ac__svnomem(c);
out:
    for (size_t i = 0; i < nb; i++)
        ac__schema_errors_free(&lists[i]);
    ac__free(lists);
    ac__buf_free(&ip);
    ac__buf_free(&m);
    return rc < 0 ? -1 : 0;
}

/* Evaluate quietly: 1, 0, -1. */
static int quietly(vctx *c, const snode *n, json_object *inst, const vpath *p)
{
    c->quiet++;
    int r = v_node(c, n, inst, p);
    c->quiet--;
    return r;
}

/* ---- keywords by instance type ---- */

#define FAIL()                    \
    do {                          \
        valid = 0;                \
        if (stop(c))              \
            return 0;             \
    } while (0)
#define REPORT(...)                                   \
    do {                                              \
        if (!stop(c) && ac__sreport(c, __VA_ARGS__) < 0)   \
            return -1;                                \
        FAIL();                                       \
    } while (0)

static int v_number(vctx *c, const snode *n, json_object *inst, const vpath *p)
{
    int valid = 1;
    snum x;
    char a[32], b[32];
    ac__snum_get(inst, &x);
    if ((n->has & SH_MIN) && ac__snum_cmp(&x, &n->minimum) < 0)
        REPORT(p, n, "minimum", "%s is less than the minimum %s", ac__snum_text(&x, a),
               ac__snum_text(&n->minimum, b));
    if ((n->has & SH_MAX) && ac__snum_cmp(&x, &n->maximum) > 0)
        REPORT(p, n, "maximum", "%s is greater than the maximum %s", ac__snum_text(&x, a),
               ac__snum_text(&n->maximum, b));
    if ((n->has & SH_XMIN) && ac__snum_cmp(&x, &n->xmin) <= 0)
        REPORT(p, n, "exclusiveMinimum", "%s is not greater than the exclusive minimum %s",
               ac__snum_text(&x, a), ac__snum_text(&n->xmin, b));
    if ((n->has & SH_XMAX) && ac__snum_cmp(&x, &n->xmax) >= 0)
        REPORT(p, n, "exclusiveMaximum", "%s is not less than the exclusive maximum %s",
               ac__snum_text(&x, a), ac__snum_text(&n->xmax, b));
    if (n->has & SH_MULT) {
        sdec d;
        ac__sdec_of(&x, &d);
        if (!ac__sdec_multiple(&d, &n->mult_dec))
            REPORT(p, n, "multipleOf", "%s is not a multiple of %s", ac__snum_text(&x, a),
                   ac__snum_text(&n->mult, b));
    }
    return valid;
}

static int v_string(vctx *c, const snode *n, json_object *inst, const vpath *p)
{
    int valid = 1;
    const char *s = json_object_get_string(inst);
    size_t len = (size_t)json_object_get_string_len(inst);
    buf b = { 0 };
    if (n->min_len || n->max_len != SIZE_MAX) {
        size_t cp = ac__sutf8_len(s, len);
        if (cp < n->min_len) {
            if (!stop(c) && ac__sreport(c, p, n, "minLength", "%s is %zu character%s long, shorter "
                                   "than the minimum %zu", show(&b, inst, 60), cp,
                                   cp == 1 ? "" : "s", n->min_len) < 0)
                goto fail;
            valid = 0;
            if (stop(c))
                goto out;
        }
        if (cp > n->max_len) {
            if (!stop(c) && ac__sreport(c, p, n, "maxLength", "%s is %zu characters long, longer "
                                   "than the maximum %zu", show(&b, inst, 60), cp, n->max_len) < 0)
                goto fail;
            valid = 0;
            if (stop(c))
                goto out;
        }
    }
    if (n->pattern) {
        int r = match(c, n->pattern, n->pattern_src, s, len, p);
        if (r < 0)
            goto fail;
        if (!r) {
            if (!stop(c) && ac__sreport(c, p, n, "pattern", "%s does not match the pattern \"%.200s\"",
                                   show(&b, inst, 60), n->pattern_src) < 0)
                goto fail;
            valid = 0;
            if (stop(c))
                goto out;
        }
    }
    if (n->format) {
        int r = ac__sformat_check(c->s, n->format, s, len);
        if (r < 0) {
            ac__svnomem(c);
            goto fail;
        }
        if (!r) {
            if (!stop(c) && ac__sreport(c, p, n, "format", "%s is not a valid %s", show(&b, inst, 60),
                                   n->format_name) < 0)
                goto fail;
            valid = 0;
        }
    }
out:
    ac__buf_free(&b);
    return valid;
fail:
    ac__buf_free(&b);
    return -1;
}

typedef struct hidx { uint64_t h; size_t i; } hidx;

static int cmp_hidx(const void *a, const void *b)
{
    const hidx *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h ? 1 : x->i < y->i ? -1 : x->i > y->i;
}

/* First equal pair (*i < *j): 1 found, 0 none, -1 out of memory, -2 too
 * deep to compare. */
static int find_duplicate(vctx *c, json_object *arr, size_t *fi, size_t *fj)
{
    size_t n = json_object_array_length(arr);
    unsigned d = c->s->max_depth;
    if (n <= 16) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                int r = ac__sjson_equal(json_object_array_get_idx(arr, i),
                                        json_object_array_get_idx(arr, j), d);
                if (r) {
                    *fi = i;
                    *fj = j;
                    return r < 0 ? -2 : 1;
                }
            }
        return 0;
    }
    hidx *h = ac__malloc(n * sizeof *h);
    if (!h)
        return ac__svnomem(c);
    for (size_t i = 0; i < n; i++)
        h[i] = (hidx){ ac__sjson_hash(json_object_array_get_idx(arr, i), d), i };
    qsort(h, n, sizeof *h, cmp_hidx);
    int found = 0;
    for (size_t a = 0; a < n && found >= 0; a++)
        for (size_t b = a + 1; b < n && h[b].h == h[a].h; b++) {
            int r = ac__sjson_equal(json_object_array_get_idx(arr, h[a].i),
                                    json_object_array_get_idx(arr, h[b].i), d);
            if (r < 0) {
                found = -2;
                break;
            }
            if (r && (!found || h[a].i < *fi || (h[a].i == *fi && h[b].i < *fj))) {
                *fi = h[a].i;
                *fj = h[b].i;
                found = 1;
            }
        }
    ac__free(h);
    return found;
}

static int too_deep(vctx *c, const vpath *p)
{
    buf ip = { 0 };
    ac__svpath_text(p, &ip);
    ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                  "instance nesting exceeds %u levels at %.200s", c->s->max_depth,
                  ip.len ? ip.data : "(root)");
    ac__buf_free(&ip);
    return -1;
}

static int v_array(vctx *c, const snode *n, json_object *inst, const vpath *p)
{
    int valid = 1;
    size_t len = json_object_array_length(inst);
    if (len < n->min_items)
        REPORT(p, n, "minItems", "array has %zu item%s, fewer than the minimum %zu", len,
               len == 1 ? "" : "s", n->min_items);
    if (len > n->max_items)
        REPORT(p, n, "maxItems", "array has %zu items, more than the maximum %zu", len,
               n->max_items);
    if (n->has & SH_UNIQUE) {
        size_t i = 0, j = 0;
        int r = find_duplicate(c, inst, &i, &j);
        if (r < 0)
            return r == -1 ? -1 : too_deep(c, p);
        if (r)
            REPORT(p, n, "uniqueItems", "items %zu and %zu are equal, but items must be unique", i, j);
    }
    if (n->items || n->items_is_arr) {
        for (size_t i = 0; i < len; i++) {
            const snode *s = n->items;
            if (n->items_is_arr)
                s = i < n->nitems_arr ? n->items_arr[i] : n->additems;
            if (!s)
                break;
            if (n->items_is_arr && i >= n->nitems_arr && s->boolean == 0) {
                REPORT(p, n, "additionalItems", "array has %zu items, but at most %zu are allowed "
                       "(additionalItems is false)", len, n->nitems_arr);
                break;
            }
            vpath child = { p, NULL, 0, i };
            int r = v_node(c, s, json_object_array_get_idx(inst, i), &child);
            if (r < 0)
                return -1;
            if (!r)
                FAIL();
        }
    }
    if (n->contains) {
        int any = 0;
        for (size_t i = 0; i < len && !any; i++) {
            vpath child = { p, NULL, 0, i };
            int r = quietly(c, n->contains, json_object_array_get_idx(inst, i), &child);
            if (r < 0)
                return -1;
            any = r;
        }
        if (!any)
            REPORT(p, n, "contains", "no item of the array matches the \"contains\" schema");
    }
    return valid;
}

static const sprop *find_prop(const snode *n, const char *k, size_t len)
{
    size_t lo = 0, hi = n->nprops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const sprop *x = &n->props[mid];
        size_t m = x->len < len ? x->len : len;
        int r = memcmp(x->name, k, m);
        if (!r)
            r = (x->len > len) - (x->len < len);
        if (!r)
            return x;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* "allowed: "a", "b", ..." for an additionalProperties: false error. */
static void allowed_list(const snode *n, buf *b)
{
    ac__buf_reset(b);
    if (!n->nprops)
        return;
    ac__buf_appends(b, "; allowed: ");
    for (size_t i = 0; i < n->nprops && b->len < 300; i++) {
        if (i)
            ac__buf_appends(b, ", ");
        ac__sjson_quote(b, n->props[i].name, n->props[i].len, 60);
    }
    if (b->len >= 300)
        ac__buf_appends(b, ", ...");
}

static int v_object(vctx *c, const snode *n, json_object *inst, const vpath *p)
{
    int valid = 1;
    size_t count = (size_t)json_object_object_length(inst);
    buf b = { 0 }, q = { 0 };
    int rc = 0;
#undef REPORT
#define REPORT(...)                                             \
    do {                                                        \
        if (!stop(c) && ac__sreport(c, __VA_ARGS__) < 0)             \
            goto fail;                                          \
        valid = 0;                                              \
        if (stop(c))                                            \
            goto out;                                           \
    } while (0)
#define CHECK(r)                    \
    do {                            \
        int r_ = (r);               \
        if (r_ < 0)                 \
            goto fail;              \
        if (!r_) {                  \
            valid = 0;              \
            if (stop(c))            \
                goto out;           \
        }                           \
    } while (0)
    if (count < n->min_props)
        REPORT(p, n, "minProperties", "object has %zu propert%s, fewer than the minimum %zu",
               count, count == 1 ? "y" : "ies", n->min_props);
    if (count > n->max_props)
        REPORT(p, n, "maxProperties", "object has %zu properties, more than the maximum %zu",
               count, n->max_props);
    for (size_t i = 0; i < n->nrequired; i++)
        if (!json_object_object_get_ex(inst, n->required[i], NULL)) {
            ac__buf_reset(&q);
            ac__sjson_quote(&q, n->required[i], strlen(n->required[i]), 100);
            REPORT(p, n, "required", "missing required property %s", q.data ? q.data : "");
        }
    if (n->nprops || n->npprops || n->addprops || n->propnames) {
        json_object_object_foreach(inst, k, v) {
            size_t kl = strlen(k);
            vpath child = { p, k, kl, 0 };
            int matched = 0;
            const sprop *pr = find_prop(n, k, kl);
            if (pr) {
                matched = 1;
                CHECK(v_node(c, pr->s, v, &child));
            }
            for (size_t i = 0; i < n->npprops; i++) {
                int r = match(c, n->pprops[i].re, n->pprops[i].src, k, kl, p);
                if (r < 0)
                    goto fail;
                if (r) {
                    matched = 1;
                    CHECK(v_node(c, n->pprops[i].s, v, &child));
                }
            }
            if (!matched && n->addprops) {
                if (n->addprops->boolean == 0) {
                    ac__buf_reset(&q);
                    ac__sjson_quote(&q, k, kl, 100);
                    allowed_list(n, &b);
                    REPORT(p, n, "additionalProperties", "property %s is not allowed%s",
                           q.data ? q.data : "", b.data ? b.data : "");
                } else
                    CHECK(v_node(c, n->addprops, v, &child));
            }
            if (n->propnames) {
                json_object *name = json_object_new_string_len(k, (int)kl);
                if (!name) {
                    ac__svnomem(c);
                    goto fail;
                }
                int r = quietly(c, n->propnames, name, &child);
                if (r == 0 && !stop(c)) {
                    /* say which name, and why, in one error */
                    ac__schema_errors one = { 0 };
                    ac__schema_errors *saved = c->out;
                    size_t cap = c->cap;
                    c->out = &one;
                    c->cap = 1;
                    r = v_node(c, n->propnames, name, &child);
                    c->out = saved;
                    c->cap = cap;
                    if (r >= 0) {
                        const char *why = one.count ? strstr(one.items[0].message, ": ") : NULL;
                        ac__buf_reset(&q);
                        ac__sjson_quote(&q, k, kl, 100);
                        if (ac__sreport(c, p, n, "propertyNames", "property name %s is not allowed%s%s",
                                   q.data ? q.data : "", why ? ":" : "", why ? why + 1 : "") < 0)
                            r = -1;
                        else
                            r = 0;
                    }
                    ac__schema_errors_free(&one);
                }
                json_object_put(name);
                CHECK(r);
            }
        }
    }
    for (size_t i = 0; i < n->ndeps; i++) {
        const sdep *d = &n->deps[i];
        if (!json_object_object_get_ex(inst, d->name, NULL))
            continue;
        if (d->s) {
            CHECK(v_node(c, d->s, inst, p));
            continue;
        }
        for (size_t j = 0; j < d->nreq; j++)
            if (!json_object_object_get_ex(inst, d->req[j], NULL)) {
                ac__buf_reset(&q);
                ac__buf_reset(&b);
                ac__sjson_quote(&q, d->req[j], strlen(d->req[j]), 100);
                ac__sjson_quote(&b, d->name, d->len, 100);
                REPORT(p, n, "dependencies", "property %s is required when %s is present",
                       q.data ? q.data : "", b.data ? b.data : "");
            }
    }
out:
    rc = valid;
    goto done;
fail:
    rc = -1;
done:
    ac__buf_free(&b);
    ac__buf_free(&q);
    return rc;
#undef CHECK
#undef REPORT
}

#define REPORT(...)                                   \
    do {                                              \
        if (!stop(c) && ac__sreport(c, __VA_ARGS__) < 0)   \
            goto fail;                                \
        valid = 0;                                    \
        if (stop(c))                                  \
            goto out;                                 \
    } while (0)
#define CHECK(r)                    \
    do {                            \
        int r_ = (r);               \
        if (r_ < 0)                 \
            goto fail;              \
        if (!r_) {                  \
            valid = 0;              \
            if (stop(c))            \
                goto out;           \
        }                           \
    } while (0)

static int v_body(vctx *c, const snode *n, json_object *inst, const vpath *p)
{
    int valid = 1, rc;
    buf b = { 0 }, e = { 0 };
    if (n->boolean == 0)
        REPORT(p, n, "false", "no value is allowed here (the schema is false)");
    if (n->boolean != -1)
        goto out;
    if (n->ref) {
        CHECK(v_node(c, n->ref, inst, p));
        goto out;
    }
    unsigned bits = type_bits(inst);
    if (n->types && !(n->types & bits)) {
        static const char *const names[] = { "null", "boolean", "object", "array", "number",
                                             "string", "integer" };
        for (int i = 0; i < 7; i++)
            if (n->types & (1u << i)) {
                ac__buf_appends(&e, e.len ? " or " : "");
                ac__buf_appends(&e, names[i]);
            }
        REPORT(p, n, "type", "expected %s, got %s %s", e.data ? e.data : "", type_name(inst),
               show(&b, inst, 60));
    }
    if (n->enum_) {
        int found = 0;
        size_t m = json_object_array_length(n->enum_);
        for (size_t i = 0; i < m && !found; i++) {
            int r = ac__sjson_equal(inst, json_object_array_get_idx(n->enum_, i), c->s->max_depth);
            if (r < 0) {
                too_deep(c, p);
                goto fail;
            }
            found = r;
        }
        if (!found) {
            ac__buf_reset(&e);
            for (size_t i = 0; i < m && e.len < 300; i++) {
                ac__buf_appends(&e, i ? ", " : "");
                ac__sjson_preview(&e, json_object_array_get_idx(n->enum_, i), 60);
            }
            if (e.len >= 300)
                ac__buf_appends(&e, ", ...");
            REPORT(p, n, "enum", "%s is not one of %s", show(&b, inst, 60),
                   m ? (e.data ? e.data : "") : "(an empty enum: nothing is allowed)");
        }
    }
    if (n->has & SH_CONST) {
        int r = ac__sjson_equal(inst, n->const_, c->s->max_depth);
        if (r < 0) {
            too_deep(c, p);
            goto fail;
        }
        if (!r) {
            ac__buf_reset(&e);
            ac__sjson_preview(&e, n->const_, 100);
            REPORT(p, n, "const", "expected the constant %s, got %s", e.data ? e.data : "",
                   show(&b, inst, 60));
        }
    }
    if (bits & ST_NUMBER)
        CHECK(v_number(c, n, inst, p));
    else if (bits & ST_STRING)
        CHECK(v_string(c, n, inst, p));
    else if (bits & ST_ARRAY)
        CHECK(v_array(c, n, inst, p));
    else if (bits & ST_OBJECT)
        CHECK(v_object(c, n, inst, p));
    for (size_t i = 0; i < n->nallof; i++)
        CHECK(v_node(c, n->allof[i], inst, p));
    if (n->nanyof) {
        int any = 0;
        for (size_t i = 0; i < n->nanyof && !any; i++) {
            rc = quietly(c, n->anyof[i], inst, p);
            if (rc < 0)
                goto fail;
            any = rc;
        }
        if (!any) {
            if (!stop(c) && branches_failed(c, n, "anyOf", n->anyof, n->nanyof, inst, p) < 0)
                goto fail;
            valid = 0;
            if (stop(c))
                goto out;
        }
    }
    if (n->noneof) {
        size_t first = 0, second = 0, hits = 0;
        for (size_t i = 0; i < n->noneof && hits < 2; i++) {
            rc = quietly(c, n->oneof[i], inst, p);
            if (rc < 0)
                goto fail;
            if (rc)
                *(hits++ ? &second : &first) = i;
        }
        if (hits == 0) {
            if (!stop(c) && branches_failed(c, n, "oneOf", n->oneof, n->noneof, inst, p) < 0)
                goto fail;
            valid = 0;
            if (stop(c))
                goto out;
        } else if (hits > 1)
            REPORT(p, n, "oneOf", "matches both alternative %zu and %zu of oneOf, but must match "
                   "exactly one", first + 1, second + 1);
    }
    if (n->not_) {
        rc = quietly(c, n->not_, inst, p);
        if (rc < 0)
            goto fail;
        if (rc)
            REPORT(p, n, "not", "%s must not match the schema at %s", show(&b, inst, 60),
                   *n->not_->ptr ? n->not_->ptr : "(root)");
    }
    if (n->if_ && (n->then_ || n->else_)) {
        rc = quietly(c, n->if_, inst, p);
        if (rc < 0)
            goto fail;
        const snode *next = rc ? n->then_ : n->else_;
        if (next)
            CHECK(v_node(c, next, inst, p));
    }
out:
    rc = valid;
    goto done;
fail:
    rc = -1;
done:
    ac__buf_free(&b);
    ac__buf_free(&e);
    return rc;
}

static int v_node(vctx *c, const snode *n, json_object *inst, const vpath *p)
{
    if (c->depth >= c->s->max_depth)
        return too_deep(c, p);
    c->depth++;
    int r = v_body(c, n, inst, p);
    c->depth--;
    return r;
}

int ac__schema_validate(const ac__schema *s, json_object *instance, ac__schema_errors *out,
                        ac_error *err)
{
    if (!s) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "no schema to validate against");
        return -1;
    }
    vctx c = { .s = s, .out = out, .err = err };
    c.cap = out ? out->count + s->max_errors : 0;
    if (!out)
        c.quiet = 1;
    size_t before = out ? out->total : 0;
    vpath root = { NULL, NULL, 0, 0 };
    int r = v_node(&c, s->root, instance, &root);
    pcre2_match_data_free(c.md);
    if (r > 0 && out && out->total != before)
        r = 0;
    return r;
}
