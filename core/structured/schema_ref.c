/*
 * schema_ref.c -- $ref and $id of the schema validator: RFC 3986 reference
 * resolution, the index of resources ($id, plain-name "#foo" identifiers,
 * document roots), JSON-pointer fragments, remote documents through the
 * caller's resolver, and the built-in draft-07 meta-schema.
 *
 * Every $ref is linked at compile time (ac__schema_link_refs works through
 * the queue of refs that compiling adds to), so validation never looks a
 * URI up.  Compile-time only; one thread.
 */
#include "schema_int.h"
#include "../alloc.h"
#include "../error.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RFC 3986 ---- */

typedef struct uparts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t lscheme, lauth, lpath, lquery, lfrag;
    int has_scheme, has_auth, has_query, has_frag;
} uparts;

static int is_alpha(int c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }

static void uri_parse(const char *s, uparts *u)
{
    memset(u, 0, sizeof *u);
    size_t n = strlen(s), i = 0;
    if (n && is_alpha(s[0])) {
        size_t j = 1;
        while (j < n && (is_alpha(s[j]) || (s[j] >= '0' && s[j] <= '9') || s[j] == '+' ||
                         s[j] == '-' || s[j] == '.'))
            j++;
        if (j < n && s[j] == ':') {
            u->has_scheme = 1;
            u->scheme = s;
            u->lscheme = j;
            i = j + 1;
        }
    }
    if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        u->has_auth = 1;
        u->auth = s + i;
        while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#')
            i++;
        u->lauth = (size_t)(s + i - u->auth);
    }
    u->path = s + i;
    while (i < n && s[i] != '?' && s[i] != '#')
        i++;
    u->lpath = (size_t)(s + i - u->path);
    if (i < n && s[i] == '?') {
        u->has_query = 1;
        u->query = s + ++i;
        while (i < n && s[i] != '#')
            i++;
        u->lquery = (size_t)(s + i - u->query);
    }
    if (i < n && s[i] == '#') {
        u->has_frag = 1;
        u->frag = s + i + 1;
        u->lfrag = n - i - 1;
    }
}

/* RFC 3986 5.2.4, appending to out. */
static void pop_segment(buf *out, size_t start)
{
    size_t k = out->len;
    while (k > start && out->data[k - 1] != '/')
        k--;
    out->len = k > start ? k - 1 : start;
    if (out->data)
        out->data[out->len] = '\0';
}

static int remove_dots(buf *out, const char *p, size_t n)
{
    size_t start = out->len;
    size_t i = 0;
    while (i < n) {
        const char *s = p + i;
        size_t left = n - i;
        if (left >= 3 && !memcmp(s, "../", 3))
            i += 3;
        else if (left >= 2 && !memcmp(s, "./", 2))
            i += 2;
        else if (left >= 3 && !memcmp(s, "/./", 3))
            i += 2;
        else if (left == 2 && !memcmp(s, "/.", 2)) {
            if (ac__buf_append(out, "/", 1))
                return -1;
            i = n;
        } else if (left >= 4 && !memcmp(s, "/../", 4)) {
            i += 3;
            pop_segment(out, start);
        } else if (left == 3 && !memcmp(s, "/..", 3)) {
            pop_segment(out, start);
            if (ac__buf_append(out, "/", 1))
                return -1;
            i = n;
        } else if ((left == 1 && s[0] == '.') || (left == 2 && !memcmp(s, "..", 2)))
            i = n;
        else {
            size_t j = s[0] == '/' ? 1 : 0;
            while (j < left && s[j] != '/')
                j++;
            if (ac__buf_append(out, s, j))
                return -1;
            i += j;
        }
    }
    return 0;
}

char *ac__suri_resolve(const char *base, const char *ref)
{
    uparts b, r;
    uri_parse(base ? base : "", &b);
    uri_parse(ref, &r);
    buf o = { 0 };
    int bad = 0;
#define PUT(p, n) (bad |= ac__buf_append(&o, (p), (n)) != 0)
    const uparts *sch = r.has_scheme ? &r : &b;
    if (sch->has_scheme) {
        PUT(sch->scheme, sch->lscheme);
        PUT(":", 1);
    }
    if (r.has_scheme || r.has_auth) {
        if (r.has_auth) {
            PUT("//", 2);
            PUT(r.auth, r.lauth);
        }
        bad |= remove_dots(&o, r.path, r.lpath) != 0;
        if (r.has_query) {
            PUT("?", 1);
            PUT(r.query, r.lquery);
        }
    } else {
        if (b.has_auth) {
            PUT("//", 2);
            PUT(b.auth, b.lauth);
        }
        if (r.lpath == 0) {
            PUT(b.path, b.lpath);
            const uparts *q = r.has_query ? &r : &b;
            if (q->has_query) {
                PUT("?", 1);
                PUT(q->query, q->lquery);
            }
        } else {
            if (r.path[0] == '/')
                bad |= remove_dots(&o, r.path, r.lpath) != 0;
            else {
                buf m = { 0 };
                if (b.has_auth && b.lpath == 0)
                    bad |= ac__buf_append(&m, "/", 1) != 0;
                else {
                    size_t k = b.lpath;
                    while (k && b.path[k - 1] != '/')
                        k--;
                    bad |= ac__buf_append(&m, b.path, k) != 0;
                }
                bad |= ac__buf_append(&m, r.path, r.lpath) != 0;
                if (!bad)
                    bad |= remove_dots(&o, m.data, m.len) != 0;
                ac__buf_free(&m);
            }
            if (r.has_query) {
                PUT("?", 1);
                PUT(r.query, r.lquery);
            }
        }
    }
    if (r.has_frag) {
        PUT("#", 1);
        PUT(r.frag, r.lfrag);
    }
#undef PUT
    if (bad) {
        ac__buf_free(&o);
        return NULL;
    }
    return ac__buf_steal(&o);
}

/* ---- the index of resources ---- */

static char *id_base(json_object *j, const char *base, const char **frag_name, int *failed);

char *ac__schema_child_base(json_object *j, const char *base)
{
    const char *name;
    int failed;
    char *nb = id_base(j, base, &name, &failed);
    if (failed)
        return NULL;
    if (nb && json_object_get_string(json_object_object_get(j, "$id"))[0] != '#')
        return nb;
    ac__free(nb);
    return ac__strdup(base);
}

static int oom(scomp *c)
{
    ac__error_set(c->err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory compiling a schema");
    return -1;
}

static int idx_add(scomp *c, const char *key, json_object *node, const char *base,
                   const char *loc)
{
    if (ac__smap_gets(&c->ids, key))
        return 0;                           /* the first $id of a URI wins */
    if (c->nidx == c->capidx) {
        size_t cap = c->capidx ? c->capidx * 2 : 16;
        sidx **v = ac__realloc(c->idxs, cap * sizeof *v);
        if (!v)
            return oom(c);
        c->idxs = v;
        c->capidx = cap;
    }
    sidx *x = ac__calloc(1, sizeof *x);
    if (!x)
        return oom(c);
    c->idxs[c->nidx++] = x;
    x->node = node;
    if (!(x->base = ac__strdup(base)) || !(x->loc = ac__strdup(loc)) ||
        ac__smap_puts(&c->ids, key, x))
        return oom(c);
    return 0;
}

/* The base URI a schema object sets with $id (ignored next to $ref, as
 * draft 7 ignores every sibling of $ref): new string, or NULL with *same. */
static char *id_base(json_object *j, const char *base, const char **frag_name, int *failed)
{
    json_object *id, *ref;
    *frag_name = NULL;
    *failed = 0;
    if (!json_object_is_type(j, json_type_object) ||
        !json_object_object_get_ex(j, "$id", &id) || !json_object_is_type(id, json_type_string) ||
        json_object_object_get_ex(j, "$ref", &ref))
        return NULL;
    char *abs = ac__suri_resolve(base, json_object_get_string(id));
    if (!abs) {
        *failed = 1;
        return NULL;
    }
    char *hash = strchr(abs, '#');
    if (hash) {
        *hash = '\0';
        if (hash[1] && hash[1] != '/')
            *frag_name = json_object_get_string(id) + (strchr(json_object_get_string(id), '#') -
                                                       json_object_get_string(id)) + 1;
    }
    return abs;
}

static const char *const sub_one[] = { "additionalItems", "additionalProperties", "contains",
                                       "not", "propertyNames", "if", "then", "else", "items" };
static const char *const sub_arr[] = { "allOf", "anyOf", "oneOf", "items" };
static const char *const sub_map[] = { "properties", "patternProperties", "definitions",
                                       "dependencies" };

static int index_walk(scomp *c, json_object *j, const char *base, buf *loc, unsigned depth)
{
    if (!json_object_is_type(j, json_type_object))
        return 0;
    if (depth > c->s->max_depth) {
        ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                      "schema nesting exceeds %u levels", c->s->max_depth);
        return -1;
    }
    const char *name;
    int failed;
    char *nb = id_base(j, base, &name, &failed);
    if (failed)
        return oom(c);
    int rc = 0;
    if (nb) {
        const char *id = json_object_get_string(json_object_object_get(j, "$id"));
        if (id[0] == '#') {                 /* "#foo": a name, same base */
            ac__free(nb);
            nb = NULL;
        } else
            rc = idx_add(c, nb, j, nb, loc->data ? loc->data : "");
        if (!rc && name) {
            char *key = ac__asprintf("%s#%s", nb ? nb : base, name);
            rc = key ? idx_add(c, key, j, nb ? nb : base, loc->data ? loc->data : "") : oom(c);
            ac__free(key);
        }
    }
    const char *b = nb ? nb : base;
    size_t mark = loc->len;
    for (size_t k = 0; !rc && k < sizeof sub_one / sizeof *sub_one; k++) {
        json_object *v;
        if (json_object_object_get_ex(j, sub_one[k], &v)) {
            if (ac__sptr_append(loc, sub_one[k], strlen(sub_one[k])))
                rc = oom(c);
            else
                rc = index_walk(c, v, b, loc, depth + 1);
            loc->len = mark;
        }
    }
    for (size_t k = 0; !rc && k < sizeof sub_arr / sizeof *sub_arr; k++) {
        json_object *v;
        if (json_object_object_get_ex(j, sub_arr[k], &v) && json_object_is_type(v, json_type_array))
            for (size_t i = 0, n = json_object_array_length(v); !rc && i < n; i++) {
                char t[24];
                int tl = snprintf(t, sizeof t, "%zu", i);
                if (ac__sptr_append(loc, sub_arr[k], strlen(sub_arr[k])) ||
                    ac__sptr_append(loc, t, (size_t)tl))
                    rc = oom(c);
                else
                    rc = index_walk(c, json_object_array_get_idx(v, i), b, loc, depth + 1);
                loc->len = mark;
            }
    }
    for (size_t k = 0; !rc && k < sizeof sub_map / sizeof *sub_map; k++) {
        json_object *v;
        if (!json_object_object_get_ex(j, sub_map[k], &v) || !json_object_is_type(v, json_type_object))
            continue;
        json_object_object_foreach(v, key, val) {
            if (ac__sptr_append(loc, sub_map[k], strlen(sub_map[k])) ||
                ac__sptr_append(loc, key, strlen(key)))
                rc = oom(c);
            else
                rc = index_walk(c, val, b, loc, depth + 1);
            loc->len = mark;
            if (rc)
                break;
        }
    }
    if (loc->data)
        loc->data[loc->len] = '\0';
    ac__free(nb);
    return rc;
}

int ac__schema_index_doc(scomp *c, json_object *root, const char *uri, const char *loc_prefix)
{
    buf loc = { 0 };
    if (ac__smap_puts(&c->docs, uri, root) || ac__buf_appends(&loc, loc_prefix) ||
        idx_add(c, uri, root, uri, loc.data)) {
        ac__buf_free(&loc);
        return oom(c);
    }
    int rc = index_walk(c, root, uri, &loc, 0);
    ac__buf_free(&loc);
    return rc;
}

/* ---- remote documents ---- */

int ac__schema_depth_ok(json_object *j, unsigned left)
{
    json_type t = json_object_get_type(j);
    if (t != json_type_object && t != json_type_array)
        return 1;
    if (left == 0)
        return 0;
    if (t == json_type_array) {
        for (size_t i = 0, n = json_object_array_length(j); i < n; i++)
            if (!ac__schema_depth_ok(json_object_array_get_idx(j, i), left - 1))
                return 0;
    } else {
        json_object_object_foreach(j, k, v) {
            (void)k;
            if (!ac__schema_depth_ok(v, left - 1))
                return 0;
        }
    }
    return 1;
}

static int load_remote(scomp *c, const char *uri, const char *where, const char *ref)
{
    json_object *doc = NULL;
    if (!strcmp(uri, "http://json-schema.org/draft-07/schema") ||
        !strcmp(uri, "https://json-schema.org/draft-07/schema")) {
        if (!(doc = json_tokener_parse(ac__schema_metaschema_text())))
            return oom(c);
    } else if (!c->opt || !c->opt->resolve) {
        ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                      "schema %s: cannot resolve $ref \"%s\": no resolver for remote references",
                      *where ? where : "(root)", ref);
        return -1;
    } else if (!(doc = c->opt->resolve(c->opt->resolve_ctx, uri, c->err))) {
        ac__error_prefix(c->err, "schema %s: cannot resolve $ref \"%s\"",
                         *where ? where : "(root)", ref);
        return -1;
    }
    ac__schema *s = c->s;
    json_object **v = ac__realloc(s->remotes, (s->nremotes + 1) * sizeof *v);
    if (!v) {
        json_object_put(doc);
        return oom(c);
    }
    s->remotes = v;
    s->remotes[s->nremotes++] = doc;
    if (!ac__schema_depth_ok(doc, s->max_depth)) {
        ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                      "schema %s: document \"%s\" nests deeper than %u levels",
                      *where ? where : "(root)", uri, s->max_depth);
        return -1;
    }
    char *prefix = ac__asprintf("%s#", uri);
    if (!prefix)
        return oom(c);
    int rc = ac__schema_index_doc(c, doc, uri, prefix);
    ac__free(prefix);
    return rc;
}

/* ---- linking ---- */

int ac__schema_ref_add(scomp *c, snode *from, const char *base)
{
    if (c->nrefs == c->caprefs) {
        size_t cap = c->caprefs ? c->caprefs * 2 : 16;
        sref *v = ac__realloc(c->refs, cap * sizeof *v);
        if (!v)
            return oom(c);
        c->refs = v;
        c->caprefs = cap;
    }
    if (!(c->refs[c->nrefs].base = ac__strdup(base)))
        return oom(c);
    c->refs[c->nrefs++].from = from;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 32;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static void pct_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        int h, l;
        if (*s == '%' && (h = hexval(s[1])) >= 0 && (l = hexval(s[2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            s += 2;
        } else
            *o++ = *s;
    }
    *o = '\0';
}

/* Walk pointer p (decoded, "" or "/a/b") from node; NULL when missing. */
static json_object *walk_pointer(scomp *c, json_object *node, const char *p, char **base,
                                 int *failed)
{
    buf tok = { 0 };
    *failed = 0;
    while (*p == '/') {
        p++;
        ac__buf_reset(&tok);
        for (; *p && *p != '/'; p++) {
            char ch = *p;
            if (ch == '~' && (p[1] == '0' || p[1] == '1'))
                ch = *++p == '0' ? '~' : '/';
            if (ac__buf_append(&tok, &ch, 1)) {
                *failed = 1;
                goto out;
            }
        }
        const char *t = tok.data ? tok.data : "";
        json_object *next = NULL;
        if (json_object_is_type(node, json_type_object))
            json_object_object_get_ex(node, t, &next);
        else if (json_object_is_type(node, json_type_array)) {
            char *end;
            unsigned long i = strtoul(t, &end, 10);
            if (*t >= '0' && *t <= '9' && !*end && (t[0] != '0' || !t[1]) &&
                i < json_object_array_length(node))
                next = json_object_array_get_idx(node, i);
        }
        if (!next) {
            node = NULL;
            goto out;
        }
        node = next;
        if (ac__smap_putp(&c->touched, node, node)) {
            *failed = 1;
            goto out;
        }
        const char *name;
        int f;
        char *nb = id_base(node, *base, &name, &f);
        if (f) {
            *failed = 1;
            goto out;
        }
        if (nb && json_object_get_string(json_object_object_get(node, "$id"))[0] != '#') {
            ac__free(*base);
            *base = nb;
        } else
            ac__free(nb);
    }
out:
    ac__buf_free(&tok);
    return *failed ? NULL : node;
}

static int link_one(scomp *c, sref *r)
{
    snode *from = r->from;
    const char *where = from->ptr;
    char *abs = ac__suri_resolve(r->base, from->ref_text);
    char *base = NULL, *loc = NULL;
    int rc = -1, failed = 0;
    if (!abs)
        return oom(c);
    char *hash = strchr(abs, '#');
    const char *frag = "";
    if (hash) {
        *hash = '\0';
        frag = hash + 1;
    }
    int pointer = *frag == '\0' || *frag == '/';
    char *key = pointer ? ac__strdup(abs) : ac__asprintf("%s#%s", abs, frag);
    if (!key)
        goto nomem;
    sidx *x = ac__smap_gets(&c->ids, key);
    if (!x && !ac__smap_gets(&c->docs, abs)) {
        if (load_remote(c, abs, where, from->ref_text))
            goto out;
        x = ac__smap_gets(&c->ids, key);
    }
    if (!x) {
        ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                      "schema %s: cannot resolve $ref \"%s\": no schema has that URI",
                      *where ? where : "(root)", from->ref_text);
        goto out;
    }
    json_object *target = x->node;
    if (!(base = ac__strdup(x->base)))
        goto nomem;
    if (pointer && *frag) {
        pct_decode((char *)frag);
        target = walk_pointer(c, x->node, frag, &base, &failed);
        if (failed)
            goto nomem;
        if (!target) {
            ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                          "schema %s: cannot resolve $ref \"%s\": no such location",
                          *where ? where : "(root)", from->ref_text);
            goto out;
        }
        loc = ac__asprintf("%s%s", x->loc, frag);
    } else
        loc = ac__strdup(x->loc);
    if (!loc)
        goto nomem;
    if (!json_object_is_type(target, json_type_object) &&
        !json_object_is_type(target, json_type_boolean)) {
        ac__error_set(c->err, AC_EINVAL, AC_STAGE_REQUEST,
                      "schema %s: $ref \"%s\" points to a %s, not a schema",
                      *where ? where : "(root)", from->ref_text,
                      json_type_to_name(json_object_get_type(target)));
        goto out;
    }
    from->ref = ac__schema_compile_node(c, target, base, loc, 0);
    rc = from->ref ? 0 : -1;
    goto out;
nomem:
    oom(c);
out:
    ac__free(abs);
    ac__free(key);
    ac__free(base);
    ac__free(loc);
    return rc;
}

int ac__schema_link_refs(scomp *c)
{
    while (c->refpos < c->nrefs) {
        sref *r = &c->refs[c->refpos++];
        /* link_one may grow c->refs: copy the entry first */
        sref copy = *r;
        if (link_one(c, &copy))
            return -1;
    }
    return 0;
}

/* The draft-07 meta-schema (http://json-schema.org/draft-07/schema#), the
 * published document, minified. */
const char *ac__schema_metaschema_text(void)
{
    return
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$id\":\"http://json-"
    "schema.org/draft-07/schema#\",\"title\":\"Core schema meta-schema\",\"definiti"
    "ons\":{\"schemaArray\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"$ref\":\"#\"}},\""
    "nonNegativeInteger\":{\"type\":\"integer\",\"minimum\":0},\"nonNegativeIntegerDe"
    "fault0\":{\"allOf\":[{\"$ref\":\"#/definitions/nonNegativeInteger\"},{\"default\""
    ":0}]},\"simpleTypes\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"null\",\"number\""
    ",\"object\",\"string\"]},\"stringArray\":{\"type\":\"array\",\"items\":{\"type\":\"stri"
    "ng\"},\"uniqueItems\":true,\"default\":[]}},\"type\":[\"object\",\"boolean\"],\"prop"
    "erties\":{\"$id\":{\"type\":\"string\",\"format\":\"uri-reference\"},\"$schema\":{\"ty"
    "pe\":\"string\",\"format\":\"uri\"},\"$ref\":{\"type\":\"string\",\"format\":\"uri-refer"
    "ence\"},\"$comment\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},\"descripti"
    "on\":{\"type\":\"string\"},\"default\":true,\"readOnly\":{\"type\":\"boolean\",\"defau"
    "lt\":false},\"examples\":{\"type\":\"array\",\"items\":true},\"multipleOf\":{\"type\""
    ":\"number\",\"exclusiveMinimum\":0},\"maximum\":{\"type\":\"number\"},\"exclusiveMa"
    "ximum\":{\"type\":\"number\"},\"minimum\":{\"type\":\"number\"},\"exclusiveMinimum\":"
    "{\"type\":\"number\"},\"maxLength\":{\"$ref\":\"#/definitions/nonNegativeInteger\""
    "},\"minLength\":{\"$ref\":\"#/definitions/nonNegativeIntegerDefault0\"},\"patte"
    "rn\":{\"type\":\"string\",\"format\":\"regex\"},\"additionalItems\":{\"$ref\":\"#\"},\"i"
    "tems\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#/definitions/schemaArray\"}],\"defa"
    "ult\":true},\"maxItems\":{\"$ref\":\"#/definitions/nonNegativeInteger\"},\"minIt"
    "ems\":{\"$ref\":\"#/definitions/nonNegativeIntegerDefault0\"},\"uniqueItems\":{"
    "\"type\":\"boolean\",\"default\":false},\"contains\":{\"$ref\":\"#\"},\"maxProperties"
    "\":{\"$ref\":\"#/definitions/nonNegativeInteger\"},\"minProperties\":{\"$ref\":\"#"
    "/definitions/nonNegativeIntegerDefault0\"},\"required\":{\"$ref\":\"#/definiti"
    "ons/stringArray\"},\"additionalProperties\":{\"$ref\":\"#\"},\"definitions\":{\"ty"
    "pe\":\"object\",\"additionalProperties\":{\"$ref\":\"#\"},\"default\":{}},\"properti"
    "es\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#\"},\"default\":{}},\""
    "patternProperties\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#\"},"
    "\"propertyNames\":{\"format\":\"regex\"},\"default\":{}},\"dependencies\":{\"type\":"
    "\"object\",\"additionalProperties\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#/defini"
    "tions/stringArray\"}]}},\"propertyNames\":{\"$ref\":\"#\"},\"const\":true,\"enum\":"
    "{\"type\":\"array\",\"items\":true},\"type\":{\"anyOf\":[{\"$ref\":\"#/definitions/si"
    "mpleTypes\"},{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/simpleTypes\"}"
    ",\"minItems\":1,\"uniqueItems\":true}]},\"format\":{\"type\":\"string\"},\"contentM"
    "ediaType\":{\"type\":\"string\"},\"contentEncoding\":{\"type\":\"string\"},\"if\":{\"$"
    "ref\":\"#\"},\"then\":{\"$ref\":\"#\"},\"else\":{\"$ref\":\"#\"},\"allOf\":{\"$ref\":\"#/def"
    "initions/schemaArray\"},\"anyOf\":{\"$ref\":\"#/definitions/schemaArray\"},\"one"
    "Of\":{\"$ref\":\"#/definitions/schemaArray\"},\"not\":{\"$ref\":\"#\"}},\"default\":t"
    "rue}"
    ;
}
