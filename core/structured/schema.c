/*
 * schema.c -- compiling a JSON Schema draft 7 document into the node tree
 * that schema_validate.c walks.  See schema.h for what is supported and
 * the keyword rule; schema_int.h for the node.
 *
 * Each schema object of the document becomes one snode (memoized by its
 * json-c node, so $ref cycles close on themselves); its keywords are
 * checked and stored in typed fields, regexes compiled once.  $ref is
 * linked after the walk (schema_ref.c), then unknown keywords are judged
 * and in-place cycles searched.  All nodes live in the schema's arena.
 * Compile-time only; one thread per compile.
 */
#include "schema_int.h"
#include "../alloc.h"
#include "../error.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kw {
    K_TYPE, K_ENUM, K_CONST, K_MULTIPLE, K_MAXIMUM, K_MINIMUM, K_XMAX, K_XMIN,
    K_MAXLEN, K_MINLEN, K_PATTERN, K_FORMAT, K_ITEMS, K_ADDITEMS, K_MAXITEMS,
    K_MINITEMS, K_UNIQUE, K_CONTAINS, K_MAXPROPS, K_MINPROPS, K_REQUIRED,
    K_PROPS, K_PATPROPS, K_ADDPROPS, K_DEPS, K_PROPNAMES, K_IF, K_THEN, K_ELSE,
    K_ALLOF, K_ANYOF, K_ONEOF, K_NOT, K_DEFS, K_SCHEMA, K_ID, K_REF, K_ANNOT,
    K_LATER, K_UNKNOWN
};

static const struct { const char *name; int k; } keywords[] = {
    { "type", K_TYPE }, { "enum", K_ENUM }, { "const", K_CONST },
    { "multipleOf", K_MULTIPLE }, { "maximum", K_MAXIMUM }, { "minimum", K_MINIMUM },
    { "exclusiveMaximum", K_XMAX }, { "exclusiveMinimum", K_XMIN },
    { "maxLength", K_MAXLEN }, { "minLength", K_MINLEN }, { "pattern", K_PATTERN },
    { "format", K_FORMAT }, { "items", K_ITEMS }, { "additionalItems", K_ADDITEMS },
    { "maxItems", K_MAXITEMS }, { "minItems", K_MINITEMS }, { "uniqueItems", K_UNIQUE },
    { "contains", K_CONTAINS }, { "maxProperties", K_MAXPROPS },
    { "minProperties", K_MINPROPS }, { "required", K_REQUIRED },
    { "properties", K_PROPS }, { "patternProperties", K_PATPROPS },
    { "additionalProperties", K_ADDPROPS }, { "dependencies", K_DEPS },
    { "propertyNames", K_PROPNAMES }, { "if", K_IF }, { "then", K_THEN },
    { "else", K_ELSE }, { "allOf", K_ALLOF }, { "anyOf", K_ANYOF },
    { "oneOf", K_ONEOF }, { "not", K_NOT }, { "definitions", K_DEFS },
    { "$schema", K_SCHEMA }, { "$id", K_ID }, { "$ref", K_REF },
    { "$comment", K_ANNOT }, { "title", K_ANNOT }, { "description", K_ANNOT },
    { "default", K_ANNOT }, { "examples", K_ANNOT }, { "readOnly", K_ANNOT },
    { "writeOnly", K_ANNOT }, { "contentMediaType", K_ANNOT },
    { "contentEncoding", K_ANNOT },
    { "$defs", K_LATER }, { "$anchor", K_LATER }, { "$dynamicRef", K_LATER },
    { "$dynamicAnchor", K_LATER }, { "$recursiveRef", K_LATER },
    { "$recursiveAnchor", K_LATER }, { "$vocabulary", K_LATER },
    { "unevaluatedProperties", K_LATER }, { "unevaluatedItems", K_LATER },
    { "dependentRequired", K_LATER }, { "dependentSchemas", K_LATER },
    { "prefixItems", K_LATER }, { "minContains", K_LATER }, { "maxContains", K_LATER },
};

static int keyword_of(const char *k)
{
    for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
        if (!strcmp(keywords[i].name, k))
            return keywords[i].k;
    return K_UNKNOWN;
}

static const char *where(const char *ptr) { return *ptr ? ptr : "(root)"; }

static snode *fail(scomp *c, ac_status code, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static snode *fail(scomp *c, ac_status code, const char *ptr, const char *fmt, ...)
{
    char msg[AC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* fmt starts with "/keyword: ..." or ": ..." */
    ac__error_set(c->err, code, AC_STAGE_REQUEST, "schema %s%s",
                  !*ptr && msg[0] == ':' ? "(root)" : ptr, msg);
    return NULL;
}

static snode *nomem(scomp *c)
{
    ac__error_set(c->err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory compiling a schema");
    return NULL;
}

/* ptr + "/" + a (+ "/" + b), escaped, in the arena. */
static const char *child_ptr(scomp *c, const char *ptr, const char *a, const char *b)
{
    buf t = { 0 };
    const char *r = NULL;
    if (!ac__buf_appends(&t, ptr) && !ac__sptr_append(&t, a, strlen(a)) &&
        (!b || !ac__sptr_append(&t, b, strlen(b))))
        r = ac__sarena_strndup(&c->s->arena, t.data, t.len);
    ac__buf_free(&t);
    return r;
}

static snode *sub(scomp *c, json_object *v, const char *base, const char *ptr,
                  const char *a, const char *b, unsigned depth)
{
    const char *p = child_ptr(c, ptr, a, b);
    if (!p)
        return nomem(c);
    return ac__schema_compile_node(c, v, base, p, depth + 1);
}

static snode *sub_idx(scomp *c, json_object *v, const char *base, const char *ptr,
                      const char *a, size_t i, unsigned depth)
{
    char t[24];
    snprintf(t, sizeof t, "%zu", i);
    return sub(c, v, base, ptr, a, t, depth);
}

static int is_number(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* A non-negative integer keyword (5 or 5.0); -1 when it is not one. */
static int get_count(json_object *v, size_t *out)
{
    if (!is_number(v))
        return -1;
    snum n;
    ac__snum_get(v, &n);
    if (!ac__snum_is_integer(&n))
        return -1;
    if (n.kind == SNUM_UINT)
        *out = n.u > SIZE_MAX ? SIZE_MAX : (size_t)n.u;
    else if (n.kind == SNUM_INT) {
        if (n.i < 0)
            return -1;
        *out = (uint64_t)n.i > SIZE_MAX ? SIZE_MAX : (size_t)n.i;
    } else {
        if (n.d < 0)
            return -1;
        *out = n.d >= (double)SIZE_MAX ? SIZE_MAX : (size_t)n.d;
    }
    return 0;
}

static int type_bit(const char *t)
{
    static const char *const names[] = { "null", "boolean", "object", "array",
                                         "number", "string", "integer" };
    for (int i = 0; i < 7; i++)
        if (!strcmp(t, names[i]))
            return 1 << i;
    return 0;
}

static pcre2_code *regex(scomp *c, const char *src, size_t len, const char *ptr)
{
    char msg[256];
    ac__schema *s = c->s;
    if (s->ncodes == s->capcodes) {
        size_t cap = s->capcodes ? s->capcodes * 2 : 8;
        pcre2_code **v = ac__realloc(s->codes, cap * sizeof *v);
        if (!v)
            return (pcre2_code *)nomem(c);
        s->codes = v;
        s->capcodes = cap;
    }
    pcre2_code *re = ac__sregex_compile(s, src, len, msg, sizeof msg);
    if (!re) {
        if (!strcmp(msg, "out of memory"))
            return (pcre2_code *)nomem(c);
        return (pcre2_code *)fail(c, AC_EINVAL, ptr, ": invalid regex: %s", msg);
    }
    s->codes[s->ncodes++] = re;
    return re;
}

static int cmp_prop(const void *a, const void *b)
{
    const sprop *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->name, y->name, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

static int schema_uri_refused(const char *u)
{
    return strstr(u, "/draft/2019-09/") || strstr(u, "/draft/2020-12/") ||
           strstr(u, "/draft/next/") || strstr(u, "draft-04/") || strstr(u, "draft-03/");
}

/* Record an unknown keyword: refused at the end unless a $ref reaches in. */
static int unknown(scomp *c, snode *n, const char *k, json_object *v)
{
    if (c->s->flags & AC__SCHEMA_LENIENT)
        return 0;
    if (c->nunk == c->capunk) {
        size_t cap = c->capunk ? c->capunk * 2 : 8;
        sunknown *u = ac__realloc(c->unk, cap * sizeof *u);
        if (!u)
            return -1;
        c->unk = u;
        c->capunk = cap;
    }
    c->unk[c->nunk++] = (sunknown){ v, k, n->ptr };
    return 0;
}

static snode **schema_array(scomp *c, json_object *v, const char *base, const char *ptr,
                            const char *k, size_t *count, unsigned depth)
{
    /* json-c asserts on the length of a non-array: check the type first */
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return (snode **)fail(c, AC_EINVAL, ptr, "/%s: must be a non-empty array of schemas", k);
    size_t n = json_object_array_length(v);
    snode **a = ac__sarena_alloc(&c->s->arena, n * sizeof *a);
    if (!a)
        return (snode **)nomem(c);
    for (size_t i = 0; i < n; i++)
        if (!(a[i] = sub_idx(c, json_object_array_get_idx(v, i), base, ptr, k, i, depth)))
            return NULL;
    *count = n;
    return a;
}

/* One keyword of an object schema; 0 ok, -1 failed (err set). */
static int keyword(scomp *c, snode *n, const char *k, json_object *v, const char *base,
                   unsigned depth)
{
    const char *ptr = n->ptr;
    ac__sarena *ar = &c->s->arena;
    int kind = keyword_of(k);
    switch (kind) {
    case K_TYPE:
        if (json_object_is_type(v, json_type_string)) {
            if (!(n->types = (unsigned)type_bit(json_object_get_string(v))))
                goto bad_type;
        } else if (json_object_is_type(v, json_type_array) && json_object_array_length(v)) {
            for (size_t i = 0, m = json_object_array_length(v); i < m; i++) {
                json_object *t = json_object_array_get_idx(v, i);
                int b = json_object_is_type(t, json_type_string) ? type_bit(json_object_get_string(t)) : 0;
                if (!b)
                    goto bad_type;
                n->types |= (unsigned)b;
            }
        } else
            goto bad_type;
        return 0;
    bad_type:
        fail(c, AC_EINVAL, ptr, "/type: must be one of null, boolean, object, array, number, "
             "string, integer, or a non-empty array of them");
        return -1;
    case K_ENUM:
        if (!json_object_is_type(v, json_type_array)) {
            fail(c, AC_EINVAL, ptr, "/enum: must be an array");
            return -1;
        }
        n->enum_ = v;
        return 0;
    case K_CONST:
        n->const_ = v;
        n->has |= SH_CONST;
        return 0;
    case K_MULTIPLE: case K_MAXIMUM: case K_MINIMUM: case K_XMAX: case K_XMIN: {
        if (!is_number(v)) {
            fail(c, AC_EINVAL, ptr, "/%s: must be a number%s", k,
                 json_object_is_type(v, json_type_boolean) ? " (the boolean form is draft 4)" : "");
            return -1;
        }
        snum x;
        ac__snum_get(v, &x);
        if (kind == K_MULTIPLE) {
            snum zero = { SNUM_INT, 0, 0, 0 };
            if (ac__snum_cmp(&x, &zero) <= 0) {
                fail(c, AC_EINVAL, ptr, "/multipleOf: must be greater than 0");
                return -1;
            }
            n->mult = x;
            ac__sdec_of(&x, &n->mult_dec);
            n->has |= SH_MULT;
        } else if (kind == K_MAXIMUM) {
            n->maximum = x;
            n->has |= SH_MAX;
        } else if (kind == K_MINIMUM) {
            n->minimum = x;
            n->has |= SH_MIN;
        } else if (kind == K_XMAX) {
            n->xmax = x;
            n->has |= SH_XMAX;
        } else {
            n->xmin = x;
            n->has |= SH_XMIN;
        }
        return 0;
    }
    case K_MAXLEN: case K_MINLEN: case K_MAXITEMS: case K_MINITEMS: case K_MAXPROPS:
    case K_MINPROPS: {
        size_t *f = kind == K_MAXLEN ? &n->max_len : kind == K_MINLEN ? &n->min_len :
                    kind == K_MAXITEMS ? &n->max_items : kind == K_MINITEMS ? &n->min_items :
                    kind == K_MAXPROPS ? &n->max_props : &n->min_props;
        if (get_count(v, f)) {
            fail(c, AC_EINVAL, ptr, "/%s: must be a non-negative integer", k);
            return -1;
        }
        return 0;
    }
    case K_PATTERN: {
        if (!json_object_is_type(v, json_type_string)) {
            fail(c, AC_EINVAL, ptr, "/pattern: must be a string");
            return -1;
        }
        const char *p = child_ptr(c, ptr, "pattern", NULL);
        n->pattern_src = json_object_get_string(v);
        if (!p || !(n->pattern = regex(c, n->pattern_src, (size_t)json_object_get_string_len(v), p)))
            return p ? -1 : (nomem(c), -1);
        return 0;
    }
    case K_FORMAT:
        if (!json_object_is_type(v, json_type_string)) {
            fail(c, AC_EINVAL, ptr, "/format: must be a string");
            return -1;
        }
        n->format_name = json_object_get_string(v);
        if (!(c->s->flags & AC__SCHEMA_FORMAT_ANNOTATION))
            n->format = ac__sformat_id(n->format_name);
        return 0;
    case K_ITEMS:
        if (json_object_is_type(v, json_type_array)) {
            size_t m = json_object_array_length(v);
            n->items_is_arr = 1;
            n->nitems_arr = m;
            if (m && !(n->items_arr = ac__sarena_alloc(ar, m * sizeof *n->items_arr)))
                return nomem(c), -1;
            for (size_t i = 0; i < m; i++)
                if (!(n->items_arr[i] = sub_idx(c, json_object_array_get_idx(v, i), base, ptr,
                                                "items", i, depth)))
                    return -1;
            return 0;
        }
        return (n->items = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_ADDITEMS:
        return (n->additems = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_CONTAINS:
        return (n->contains = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_ADDPROPS:
        return (n->addprops = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_PROPNAMES:
        return (n->propnames = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_IF:
        return (n->if_ = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_THEN:
        return (n->then_ = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_ELSE:
        return (n->else_ = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_NOT:
        return (n->not_ = sub(c, v, base, ptr, k, NULL, depth)) ? 0 : -1;
    case K_UNIQUE:
        if (!json_object_is_type(v, json_type_boolean)) {
            fail(c, AC_EINVAL, ptr, "/uniqueItems: must be a boolean");
            return -1;
        }
        if (json_object_get_boolean(v))
            n->has |= SH_UNIQUE;
        return 0;
    case K_REQUIRED: {
        if (!json_object_is_type(v, json_type_array))
            goto bad_required;
        size_t m = json_object_array_length(v);
        if (m && !(n->required = ac__sarena_alloc(ar, m * sizeof *n->required)))
            return nomem(c), -1;
        for (size_t i = 0; i < m; i++) {
            json_object *t = json_object_array_get_idx(v, i);
            if (!json_object_is_type(t, json_type_string))
                goto bad_required;
            n->required[i] = json_object_get_string(t);
        }
        n->nrequired = m;
        return 0;
    bad_required:
        fail(c, AC_EINVAL, ptr, "/required: must be an array of strings");
        return -1;
    }
    case K_PROPS: case K_PATPROPS: case K_DEPS: case K_DEFS: {
        if (!json_object_is_type(v, json_type_object)) {
            fail(c, AC_EINVAL, ptr, "/%s: must be an object", k);
            return -1;
        }
        size_t m = (size_t)json_object_object_length(v), i = 0;
        if (kind == K_PROPS && m && !(n->props = ac__sarena_alloc(ar, m * sizeof *n->props)))
            return nomem(c), -1;
        if (kind == K_PATPROPS && m && !(n->pprops = ac__sarena_alloc(ar, m * sizeof *n->pprops)))
            return nomem(c), -1;
        if (kind == K_DEPS && m && !(n->deps = ac__sarena_alloc(ar, m * sizeof *n->deps)))
            return nomem(c), -1;
        json_object_object_foreach(v, name, val) {
            if (kind == K_DEPS && json_object_is_type(val, json_type_array)) {
                sdep *d = &n->deps[i++];
                d->name = name;
                d->len = strlen(name);
                d->nreq = json_object_array_length(val);
                if (d->nreq && !(d->req = ac__sarena_alloc(ar, d->nreq * sizeof *d->req)))
                    return nomem(c), -1;
                for (size_t j = 0; j < d->nreq; j++) {
                    json_object *t = json_object_array_get_idx(val, j);
                    if (!json_object_is_type(t, json_type_string)) {
                        const char *p = child_ptr(c, ptr, k, name);
                        if (!p)
                            return nomem(c), -1;
                        fail(c, AC_EINVAL, p, ": must be a schema or an array of strings");
                        return -1;
                    }
                    d->req[j] = json_object_get_string(t);
                }
                continue;
            }
            snode *s = sub(c, val, base, ptr, k, name, depth);
            if (!s)
                return -1;
            if (kind == K_PROPS)
                n->props[i++] = (sprop){ name, strlen(name), s };
            else if (kind == K_DEPS)
                n->deps[i++] = (sdep){ name, strlen(name), s, NULL, 0 };
            else if (kind == K_PATPROPS) {
                const char *p = child_ptr(c, ptr, k, name);
                if (!p)
                    return nomem(c), -1;
                pcre2_code *re = regex(c, name, strlen(name), p);
                if (!re)
                    return -1;
                n->pprops[i++] = (spat){ re, name, s };
            }
        }
        if (kind == K_PROPS) {
            n->nprops = i;
            if (i > 1)
                qsort(n->props, i, sizeof *n->props, cmp_prop);
        } else if (kind == K_PATPROPS)
            n->npprops = i;
        else if (kind == K_DEPS)
            n->ndeps = i;
        return 0;
    }
    case K_ALLOF:
        return (n->allof = schema_array(c, v, base, ptr, k, &n->nallof, depth)) ? 0 : -1;
    case K_ANYOF:
        return (n->anyof = schema_array(c, v, base, ptr, k, &n->nanyof, depth)) ? 0 : -1;
    case K_ONEOF:
        return (n->oneof = schema_array(c, v, base, ptr, k, &n->noneof, depth)) ? 0 : -1;
    case K_SCHEMA:
        if (!json_object_is_type(v, json_type_string)) {
            fail(c, AC_EINVAL, ptr, "/$schema: must be a string");
            return -1;
        }
        if (schema_uri_refused(json_object_get_string(v))) {
            fail(c, AC_EUNSUPPORTED, ptr, ": $schema \"%s\" is not supported (this validator "
                 "implements JSON Schema draft 7)", json_object_get_string(v));
            return -1;
        }
        return 0;
    case K_ID:
        if (!json_object_is_type(v, json_type_string)) {
            fail(c, AC_EINVAL, ptr, "/$id: must be a string");
            return -1;
        }
        return 0;
    case K_ANNOT: case K_REF:
        return 0;
    case K_LATER:
        fail(c, AC_EUNSUPPORTED, ptr, ": keyword \"%s\" (JSON Schema 2019-09/2020-12) is "
             "not supported", k);
        return -1;
    default:
        if (unknown(c, n, k, v))
            return nomem(c), -1;
        return 0;
    }
}

snode *ac__schema_compile_node(scomp *c, json_object *j, const char *base, const char *ptr,
                               unsigned depth)
{
    snode *n = ac__smap_getp(&c->compiled, j);
    if (n)
        return n;
    if (depth > c->s->max_depth)
        return fail(c, AC_EINVAL, ptr, ": nesting exceeds %u levels", c->s->max_depth);
    json_type t = json_object_get_type(j);
    if (t != json_type_object && t != json_type_boolean)
        return fail(c, AC_EINVAL, ptr, ": a schema must be an object or a boolean, not %s",
                    json_type_to_name(t));
    if (!(n = ac__sarena_alloc(&c->s->arena, sizeof *n)) ||
        !(n->ptr = ac__sarena_strndup(&c->s->arena, ptr, strlen(ptr))) ||
        ac__smap_putp(&c->compiled, j, n))
        return nomem(c);
    n->json = j;
    if (t == json_type_boolean) {
        n->boolean = json_object_get_boolean(j) ? 1 : 0;
        return n;
    }
    n->boolean = -1;
    n->max_len = n->max_items = n->max_props = SIZE_MAX;
    json_object *ref;
    if (json_object_object_get_ex(j, "$ref", &ref)) {
        /* draft 7: $ref's siblings are ignored (and so is a sibling $id),
         * but a later-draft or unknown keyword is still judged */
        if (!json_object_is_type(ref, json_type_string))
            return fail(c, AC_EINVAL, ptr, "/$ref: must be a string");
        n->ref_text = json_object_get_string(ref);
        if (ac__schema_ref_add(c, n, base))
            return NULL;
        json_object_object_foreach(j, k, v) {
            int kind = keyword_of(k);
            if ((kind == K_LATER || kind == K_UNKNOWN) && keyword(c, n, k, v, base, depth))
                return NULL;
        }
        return n;
    }
    char *nb = ac__schema_child_base(j, base);
    if (!nb)
        return nomem(c);
    json_object_object_foreach(j, k, v) {
        if (keyword(c, n, k, v, nb, depth)) {
            ac__free(nb);
            return NULL;
        }
    }
    ac__free(nb);
    /* then / else without if, additionalItems without an items array: inert */
    if (!n->if_)
        n->then_ = n->else_ = NULL;
    if (!n->items_is_arr)
        n->additems = NULL;
    return n;
}

/* ---- in-place cycles ---- */

static snode *inplace_child(const snode *n, size_t i)
{
    if (n->boolean != -1)
        return NULL;
    if (n->ref)
        return i == 0 ? n->ref : NULL;
    if (i < n->nallof)
        return n->allof[i];
    i -= n->nallof;
    if (i < n->nanyof)
        return n->anyof[i];
    i -= n->nanyof;
    if (i < n->noneof)
        return n->oneof[i];
    i -= n->noneof;
    const snode *one[4] = { n->not_, n->if_, n->then_, n->else_ };
    for (size_t k = 0; k < 4; k++) {
        if (!one[k])
            continue;
        if (i == 0)
            return (snode *)one[k];
        i--;
    }
    for (size_t k = 0; k < n->ndeps; k++) {
        if (!n->deps[k].s)
            continue;
        if (i == 0)
            return n->deps[k].s;
        i--;
    }
    return NULL;
}

static int find_cycles(scomp *c)
{
    struct frame { snode *n; size_t next; } *st = ac__malloc((c->compiled.n + 1) * sizeof *st);
    if (!st)
        return nomem(c), -1;
    int rc = 0;
    for (size_t e = 0; !rc && e < c->compiled.cap; e++) {
        snode *root = c->compiled.v[e].pkey ? c->compiled.v[e].val : NULL;
        if (!root || root->mark)
            continue;
        size_t sp = 0;
        st[sp++] = (struct frame){ root, 0 };
        root->mark = 1;
        while (sp && !rc) {
            struct frame *f = &st[sp - 1];
            snode *ch = inplace_child(f->n, f->next++);
            if (!ch) {
                f->n->mark = 2;
                sp--;
            } else if (ch->mark == 1) {
                fail(c, AC_EINVAL, f->n->ptr, ": schema cycle: evaluating it leads back to %s "
                     "without descending into the instance", where(ch->ptr));
                rc = -1;
            } else if (ch->mark == 0) {
                ch->mark = 1;
                st[sp++] = (struct frame){ ch, 0 };
            }
        }
    }
    ac__free(st);
    return rc;
}

/* ---- entry points ---- */

static void *pmalloc(size_t n, void *ud) { (void)ud; return ac__malloc(n); }
static void pfree(void *p, void *ud) { (void)ud; ac__free(p); }

void ac__schema_free(ac__schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncodes; i++)
        pcre2_code_free(s->codes[i]);
    ac__free(s->codes);
    pcre2_match_context_free(s->mctx);
    pcre2_general_context_free(s->gctx);
    for (size_t i = 0; i < s->nremotes; i++)
        json_object_put(s->remotes[i]);
    ac__free(s->remotes);
    json_object_put(s->doc);
    ac__sarena_free(&s->arena);
    ac__free(s);
}

static void scomp_free(scomp *c)
{
    ac__smap_free(&c->compiled);
    ac__smap_free(&c->ids);
    ac__smap_free(&c->touched);
    ac__smap_free(&c->docs);
    for (size_t i = 0; i < c->nrefs; i++)
        ac__free(c->refs[i].base);
    ac__free(c->refs);
    ac__free(c->unk);
    for (size_t i = 0; i < c->nidx; i++) {
        ac__free(c->idxs[i]->base);
        ac__free(c->idxs[i]->loc);
        ac__free(c->idxs[i]);
    }
    ac__free(c->idxs);
}

ac__schema *ac__schema_compile(json_object *doc, const ac__schema_options *opt, ac_error *err)
{
    json_type t = json_object_get_type(doc);
    if (t != json_type_object && t != json_type_boolean) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "schema (root): a schema must be an object or a boolean, not %s",
                      json_type_to_name(t));
        return NULL;
    }
    ac__schema *s = ac__calloc(1, sizeof *s);
    if (!s) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory compiling a schema");
        return NULL;
    }
    s->max_depth = opt && opt->max_depth ? opt->max_depth : 512;
    s->max_errors = opt && opt->max_errors ? opt->max_errors : 100;
    s->flags = opt ? opt->flags : 0;
    scomp c = { .s = s, .opt = opt, .err = err };
    const char *base = opt && opt->base_uri ? opt->base_uri : "";
    if (!ac__schema_depth_ok(doc, s->max_depth)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "schema (root): nesting exceeds %u levels", s->max_depth);
        goto fail;
    }
    if (json_object_deep_copy(doc, &s->doc, NULL) || !s->doc)
        goto oom;
    if (!(s->gctx = pcre2_general_context_create(pmalloc, pfree, NULL)) ||
        !(s->mctx = pcre2_match_context_create(s->gctx)))
        goto oom;
    /* a backtracking bomb in a pattern ends as an error, not a hang */
    pcre2_set_match_limit(s->mctx, 1000000);
    pcre2_set_depth_limit(s->mctx, 10000);
    if (ac__schema_index_doc(&c, s->doc, base, "") ||
        !(s->root = ac__schema_compile_node(&c, s->doc, base, "", 0)) ||
        ac__schema_link_refs(&c))
        goto fail;
    for (size_t i = 0; i < c.nunk; i++)
        if (!ac__smap_getp(&c.touched, c.unk[i].value)) {
            fail(&c, AC_EINVAL, c.unk[i].ptr, ": unknown keyword \"%s\" (not part of JSON "
                 "Schema draft 7)", c.unk[i].kw);
            goto fail;
        }
    if (find_cycles(&c))
        goto fail;
    scomp_free(&c);
    return s;
oom:
    nomem(&c);
fail:
    scomp_free(&c);
    ac__schema_free(s);
    return NULL;
}

static size_t parse_end(struct json_tokener *tok)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
    return json_tokener_get_parse_end(tok);
#else
    return (size_t)tok->char_offset;
#endif
}

ac__schema *ac__schema_compile_text(const char *text, size_t len, const ac__schema_options *opt,
                                    ac_error *err)
{
    unsigned depth = opt && opt->max_depth ? opt->max_depth : 512;
    if (!text || len > INT32_MAX) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "schema text missing or too long");
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex((int)depth + 1);
    if (!tok) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory compiling a schema");
        return NULL;
    }
    json_object *doc = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    if (e == json_tokener_continue) {
        /* a number or literal at the very end needs a delimiter */
        doc = json_tokener_parse_ex(tok, " ", 1);
        e = json_tokener_get_error(tok);
        if (e == json_tokener_continue)
            e = json_tokener_error_parse_eof;
    } else if (e == json_tokener_success && parse_end(tok) < len) {
        /* only white space may follow the value */
        for (size_t i = parse_end(tok); i < len; i++)
            if (!strchr(" \t\r\n", text[i])) {
                e = json_tokener_error_parse_unexpected;
                break;
            }
    }
    json_tokener_free(tok);
    if (e != json_tokener_success) {
        json_object_put(doc);
        if (e == json_tokener_error_depth)
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                          "schema (root): nesting exceeds %u levels", depth);
        else
            ac__error_set(err, AC_EJSON, AC_STAGE_JSON, "schema is not valid JSON: %s",
                          json_tokener_error_desc(e));
        return NULL;
    }
    ac__schema *s = ac__schema_compile(doc, opt, err);
    json_object_put(doc);
    return s;
}
