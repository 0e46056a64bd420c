/*
 * gbnf.c -- a JSON Schema (draft 7) to a GBNF grammar, for libllama's
 * grammar sampler: a request with a schema is decoded so that every token
 * keeps the text a prefix of some JSON value the schema accepts, and the
 * end of generation is only allowed once the value is complete.
 *
 * Supported (each is enforced by the grammar, so the output validates):
 *   type (a name or a list of names: string, number, integer, boolean,
 *   null, object, array); properties, required (required members always
 *   written, the others optional, in the schema's order; no other member
 *   is ever written, so additionalProperties true / false / a schema all
 *   hold); additionalProperties as a schema on an object without
 *   properties (a map); items (one schema), minItems, maxItems;
 *   minLength, maxLength; enum, const (any JSON values, written compact);
 *   anyOf; allOf of one schema; $ref to "#" or a JSON pointer inside the
 *   document ("#/definitions/x"), recursion included; boolean schemas.
 *   Annotations are ignored: $schema, $id, $comment, title, description,
 *   default, examples, readOnly, writeOnly, deprecated, contentMediaType,
 *   contentEncoding, definitions (a container), and keys starting "x-".
 * Anything else (minimum, pattern, format, oneOf, not, if, uniqueItems
 * true, ...) is refused with AC_EUNSUPPORTED naming the keyword and its
 * place: the grammar could not promise it.  Counts above 2000 (libllama's
 * repetition limit) are refused too.
 *
 * Numbers are written without exponent (at most 16 integer and 15
 * fraction digits), strings without unpaired surrogate escapes, and
 * whitespace between tokens is bounded (a newline and up to 20 blanks),
 * so a model cannot be held forever inside a number or blank.  A string
 * without maxLength, or an array without maxItems, can still run until
 * max_tokens.
 *
 * Relies on json-c and the host allocator.  Pure and reentrant.
 */
#include "llamacpp.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH  64
#define MAX_REPEAT 2000
#define MAX_RULES  10000

/* The shared rules, written once at the end when used. */
enum {
    USE_WS = 1u << 0, USE_CHAR = 1u << 1, USE_STRING = 1u << 2, USE_INTEGER = 1u << 3,
    USE_NUMBER = 1u << 4, USE_BOOLEAN = 1u << 5, USE_NULL = 1u << 6, USE_VALUE = 1u << 7
};

typedef struct ref_rule {
    char *ptr;   /* the $ref text */
    int   id;
} ref_rule;

typedef struct gb {
    json_object *root;
    lc_buf       rules;
    unsigned     use;
    int          n_rules;
    ref_rule    *refs;
    size_t       n_refs;
    char        *why;
    size_t       why_len;
} gb;

static ac_status nomem(void) { return AC_ENOMEM; }

static ac_status refuse(gb *g, ac_status code, const char *where, const char *fmt, const char *a)
{
    char what[200];
    snprintf(what, sizeof what, fmt, a);
    snprintf(g->why, g->why_len, "%s at %s", what, *where ? where : "the schema's root");
    return code;
}

/* ---- text helpers ---- */

/* s as a GBNF literal (with its quotes). */
static int add_literal(lc_buf *b, const char *s, size_t n)
{
    if (lc_buf_add(b, "\"", 1) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = lc_buf_add(b, e, 2);
        } else if (c < 0x20 || c == 0x7F) {
            rc = lc_buf_addf(b, "\\x%02X", c);
        } else {
            rc = lc_buf_add(b, &s[i], 1);
        }
        if (rc < 0)
            return -1;
    }
    return lc_buf_add(b, "\"", 1);
}

/* A JSON value's compact text as a GBNF literal. */
static int add_json_literal(lc_buf *b, json_object *v)
{
    if (!v)
        return lc_buf_adds(b, "\"null\"");
    size_t n = 0;
    const char *t = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    return t ? add_literal(b, t, n) : -1;
}

/* A member name as the JSON string the output must hold, as a GBNF
 * literal: "\"name\"". */
static int add_key_literal(lc_buf *b, const char *name)
{
    json_object *s = json_object_new_string(name);
    int rc = s ? add_json_literal(b, s) : -1;
    json_object_put(s);
    return rc;
}

/* "{min,max}" or "{min,}" or "*"; -1 no memory. */
static int add_repeat(lc_buf *b, long min, long max)
{
    if (min == 0 && max < 0)
        return lc_buf_adds(b, "*");
    if (max < 0)
        return lc_buf_addf(b, "{%ld,}", min);
    return lc_buf_addf(b, "{%ld,%ld}", min, max);
}

static int new_rule(gb *g) { return g->n_rules++; }

/* Write "rN ::= body\n". */
static ac_status put_rule(gb *g, int id, const lc_buf *body)
{
    if (lc_buf_addf(&g->rules, "r%d ::= %s\n", id, body->p ? body->p : "\"\"") < 0)
        return nomem();
    return AC_OK;
}

/* ---- keywords ---- */

static const char *const ANNOTATIONS[] = {
    "$schema", "$id", "$comment", "title", "description", "default", "examples", "readOnly",
    "writeOnly", "deprecated", "contentMediaType", "contentEncoding", "definitions", NULL
};
static const char *const SUPPORTED[] = {
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
    "minLength", "maxLength", "enum", "const", "anyOf", "allOf", "$ref", "uniqueItems", NULL
};

static int in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (!strcmp(*l, s))
            return 1;
    return 0;
}

static ac_status check_keywords(gb *g, json_object *s, const char *where)
{
    json_object_object_foreach(s, key, val) {
        if (in_list(ANNOTATIONS, key) || !strncmp(key, "x-", 2))
            continue;
        if (!in_list(SUPPORTED, key))
            return refuse(g, AC_EUNSUPPORTED, where,
                          "keyword \"%s\" is not supported by the grammar", key);
        if (!strcmp(key, "uniqueItems") && json_object_get_boolean(val))
            return refuse(g, AC_EUNSUPPORTED, where,
                          "keyword \"%s\": true is not supported by the grammar", key);
        if (!strcmp(key, "allOf") &&
            (!json_object_is_type(val, json_type_array) || json_object_array_length(val) != 1))
            return refuse(g, AC_EUNSUPPORTED, where,
                          "keyword \"%s\" is supported with one schema only", key);
    }
    return AC_OK;
}

/* A non-negative count keyword: 1 and *out, 0 absent, or a refusal. */
static int get_count(gb *g, json_object *s, const char *key, const char *where, long *out,
                     ac_status *st)
{
    json_object *v;
    if (!json_object_object_get_ex(s, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
        *st = refuse(g, AC_EINVAL, where, "\"%s\" is not a number", key);
        return -1;
    }
    double d = json_object_get_double(v);
    if (d > MAX_REPEAT) {
        *st = refuse(g, AC_EUNSUPPORTED, where,
                     "\"%s\" above 2000 is not supported by the grammar", key);
        return -1;
    }
    if (d < 0 || d != (double)(long)d) {
        *st = refuse(g, AC_EINVAL, where, "\"%s\" is not a non-negative integer", key);
        return -1;
    }
    *out = (long)d;
    return 1;
}

/* ---- schemas ---- */

static ac_status gen(gb *g, json_object *s, const char *where, int depth, int *id);

static ac_status sub(gb *g, json_object *s, const char *where, const char *step, int depth,
                     int *id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", where, step);
    return gen(g, s, path, depth + 1, id);
}

/* "#" or "#/a/b" (~0 ~1 escapes) inside the root document. */
static json_object *resolve(gb *g, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    json_object *at = g->root;
    const char *p = ref + 1;
    char tok[256];
    while (*p) {
        if (*p != '/')
            return NULL;
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1'))
                c = *p++ == '0' ? '~' : '/';
            if (n + 1 >= sizeof tok)
                return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        json_object *next = NULL;
        if (json_object_is_type(at, json_type_object)) {
            if (!json_object_object_get_ex(at, tok, &next))
                return NULL;
        } else if (json_object_is_type(at, json_type_array)) {
            char *end;
            long i = strtol(tok, &end, 10);
            if (*end || i < 0 || (size_t)i >= json_object_array_length(at))
                return NULL;
            next = json_object_array_get_idx(at, (size_t)i);
        } else {
            return NULL;
        }
        at = next;
    }
    return at;
}

static ac_status gen_ref(gb *g, const char *ref, const char *where, int depth, int *id)
{
    for (size_t i = 0; i < g->n_refs; i++)
        if (!strcmp(g->refs[i].ptr, ref)) {
            *id = g->refs[i].id;
            return AC_OK;
        }
    json_object *target = resolve(g, ref);
    if (!target)
        return refuse(g, AC_EUNSUPPORTED, where,
                      "$ref \"%s\" is not a pointer into the schema", ref);
    ref_rule *v = lc_host->realloc(g->refs, (g->n_refs + 1) * sizeof *v);
    if (!v)
        return nomem();
    g->refs = v;
    if (!(v[g->n_refs].ptr = lc_host->strdup(ref)))
        return nomem();
    /* The rule's name is known before its body, so a schema that refers
     * to itself refers to this rule. */
    int me = v[g->n_refs].id = new_rule(g);
    g->n_refs++;
    int inner;
    ac_status st = gen(g, target, ref + 1, depth + 1, &inner);
    if (st != AC_OK)
        return st;
    lc_buf body = {0};
    st = lc_buf_addf(&body, "r%d", inner) < 0 ? nomem() : put_rule(g, me, &body);
    lc_buf_free(&body);
    *id = me;
    return st;
}

static ac_status alt_list(gb *g, json_object *arr, const char *where, const char *kw,
                          int depth, lc_buf *body)
{
    size_t n = json_object_array_length(arr);
    if (!n)
        return refuse(g, AC_EINVAL, where, "\"%s\" is empty", kw);
    for (size_t i = 0; i < n; i++) {
        char step[64];
        snprintf(step, sizeof step, "%s/%zu", kw, i);
        int r;
        ac_status st = sub(g, json_object_array_get_idx(arr, i), where, step, depth, &r);
        if (st != AC_OK)
            return st;
        if (lc_buf_addf(body, "%sr%d", i ? " | " : "", r) < 0)
            return nomem();
    }
    return AC_OK;
}

static int type_matches(json_object *v, const char *type)
{
    enum json_type t = json_object_get_type(v);
    if (!strcmp(type, "string"))
        return t == json_type_string;
    if (!strcmp(type, "boolean"))
        return t == json_type_boolean;
    if (!strcmp(type, "null"))
        return t == json_type_null;
    if (!strcmp(type, "object"))
        return t == json_type_object;
    if (!strcmp(type, "array"))
        return t == json_type_array;
    if (!strcmp(type, "number"))
        return t == json_type_int || t == json_type_double;
    if (!strcmp(type, "integer"))
        return t == json_type_int ||
               (t == json_type_double &&
                json_object_get_double(v) == (double)(long long)json_object_get_double(v));
    return 0;
}

/* Whether value v is allowed by the "type" keyword tv (NULL: any). */
static int type_allows(json_object *tv, json_object *v)
{
    if (!tv)
        return 1;
    if (json_object_is_type(tv, json_type_string))
        return type_matches(v, json_object_get_string(tv));
    for (size_t i = 0; json_object_is_type(tv, json_type_array) &&
                       i < json_object_array_length(tv); i++)
        if (type_matches(v, json_object_get_string(json_object_array_get_idx(tv, i))))
            return 1;
    return 0;
}

static ac_status gen_enum(gb *g, json_object *s, json_object *tv, const char *where,
                          lc_buf *body)
{
    json_object *c, *e;
    if (json_object_object_get_ex(s, "const", &c)) {
        if (!type_allows(tv, c))
            return refuse(g, AC_EINVAL, where, "%s: \"const\" does not match \"type\"",
                          "the schema accepts nothing");
        return add_json_literal(body, c) < 0 ? nomem() : AC_OK;
    }
    json_object_object_get_ex(s, "enum", &e);
    if (!json_object_is_type(e, json_type_array))
        return refuse(g, AC_EINVAL, where, "\"%s\" is not an array", "enum");
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(e); i++) {
        json_object *v = json_object_array_get_idx(e, i);
        if (!type_allows(tv, v))
            continue;
        if ((n++ && lc_buf_adds(body, " | ") < 0) || add_json_literal(body, v) < 0)
            return nomem();
    }
    if (!n)
        return refuse(g, AC_EINVAL, where, "%s: no \"enum\" value matches \"type\"",
                      "the schema accepts nothing");
    return AC_OK;
}

static ac_status gen_string(gb *g, json_object *s, const char *where, lc_buf *body)
{
    long min = 0, max = -1;
    ac_status st = AC_OK;
    if (get_count(g, s, "minLength", where, &min, &st) < 0 ||
        get_count(g, s, "maxLength", where, &max, &st) < 0)
        return st;
    if (max >= 0 && max < min)
        return refuse(g, AC_EINVAL, where, "%s: maxLength is below minLength",
                      "the schema accepts nothing");
    g->use |= USE_CHAR;
    if (lc_buf_adds(body, "(\"\\\"\" char") < 0 || add_repeat(body, min, max) < 0 ||
        lc_buf_adds(body, " \"\\\"\")") < 0)
        return nomem();
    return AC_OK;
}

static ac_status gen_array(gb *g, json_object *s, const char *where, int depth, lc_buf *body)
{
    long min = 0, max = -1;
    ac_status st = AC_OK;
    if (get_count(g, s, "minItems", where, &min, &st) < 0 ||
        get_count(g, s, "maxItems", where, &max, &st) < 0)
        return st;
    if (max >= 0 && max < min)
        return refuse(g, AC_EINVAL, where, "%s: maxItems is below minItems",
                      "the schema accepts nothing");
    json_object *items;
    char item[32];
    if (json_object_object_get_ex(s, "items", &items)) {
        if (json_object_is_type(items, json_type_array))
            return refuse(g, AC_EUNSUPPORTED, where,
                          "\"%s\" as a list (a tuple) is not supported by the grammar",
                          "items");
        int r;
        if ((st = sub(g, items, where, "items", depth, &r)) != AC_OK)
            return st;
        snprintf(item, sizeof item, "r%d", r);
    } else {
        g->use |= USE_VALUE;
        snprintf(item, sizeof item, "value");
    }
    g->use |= USE_WS;
    int rc;
    if (max == 0)
        rc = lc_buf_adds(body, "(\"[\" ws \"]\")");
    else if (min == 0)
        rc = lc_buf_addf(body, "(\"[\" ws (%s ws (\",\" ws %s ws)", item, item) < 0 ||
             add_repeat(body, 0, max < 0 ? -1 : max - 1) < 0 ||
             lc_buf_adds(body, ")? \"]\")") < 0;
    else
        rc = lc_buf_addf(body, "(\"[\" ws %s ws (\",\" ws %s ws)", item, item) < 0 ||
             add_repeat(body, min - 1, max < 0 ? -1 : max - 1) < 0 ||
             lc_buf_adds(body, " \"]\")") < 0;
    return rc ? nomem() : AC_OK;
}

/* One member: "\"name\"" ws ":" ws VALUE ws, VALUE rule r (-1: any value). */
static int add_member(lc_buf *b, const char *name, int r)
{
    if (add_key_literal(b, name) < 0)
        return -1;
    return r >= 0 ? lc_buf_addf(b, " ws \":\" ws r%d ws", r)
                  : lc_buf_adds(b, " ws \":\" ws value ws");
}

static ac_status gen_object(gb *g, json_object *s, const char *where, int depth, lc_buf *body)
{
    json_object *props = NULL, *req = NULL, *addl = NULL;
    json_object_object_get_ex(s, "properties", &props);
    json_object_object_get_ex(s, "required", &req);
    json_object_object_get_ex(s, "additionalProperties", &addl);
    if (props && !json_object_is_type(props, json_type_object))
        return refuse(g, AC_EINVAL, where, "\"%s\" is not an object", "properties");
    if (req && !json_object_is_type(req, json_type_array))
        return refuse(g, AC_EINVAL, where, "\"%s\" is not an array", "required");
    g->use |= USE_WS;
    size_t n_req = req ? json_object_array_length(req) : 0;
    int n_props = props ? json_object_object_length(props) : 0;

    if (!n_props && !n_req) {
        int closed = addl && json_object_is_type(addl, json_type_boolean) &&
                     !json_object_get_boolean(addl);
        if (closed)
            return lc_buf_adds(body, "(\"{\" ws \"}\")") < 0 ? nomem() : AC_OK;
        /* A map: string keys, values of additionalProperties (or any). */
        char val[32] = "value";
        if (addl && !json_object_is_type(addl, json_type_boolean)) {
            int r;
            ac_status st = sub(g, addl, where, "additionalProperties", depth, &r);
            if (st != AC_OK)
                return st;
            snprintf(val, sizeof val, "r%d", r);
        } else {
            g->use |= USE_VALUE;
        }
        g->use |= USE_STRING;
        return lc_buf_addf(body, "(\"{\" ws (string ws \":\" ws %s ws (\",\" ws string ws "
                           "\":\" ws %s ws)*)? \"}\")", val, val) < 0 ? nomem() : AC_OK;
    }

    /* Members: the required ones (in properties order, then required
     * names properties does not have), then the optional ones. */
    size_t cap = (size_t)n_props + n_req;
    const char **names = lc_host->malloc(cap * sizeof *names);
    int *rules = lc_host->malloc(cap * sizeof *rules);
    char *is_req = lc_host->malloc(cap);
    ac_status st = AC_OK;
    size_t n = 0, n_required = 0;
    if (!names || !rules || !is_req) {
        st = nomem();
        goto out;
    }
    for (size_t i = 0; i < n_req; i++)
        if (!json_object_is_type(json_object_array_get_idx(req, i), json_type_string)) {
            st = refuse(g, AC_EINVAL, where, "\"%s\" holds a non-string", "required");
            goto out;
        }
    for (int pass = 0; pass < 2 && st == AC_OK; pass++) {
        if (props) {
            json_object_object_foreach(props, key, val) {
                int required = 0;
                for (size_t i = 0; i < n_req; i++)
                    required |= !strcmp(json_object_get_string(json_object_array_get_idx(req, i)),
                                        key);
                if (required != (pass == 0))
                    continue;
                char step[300];
                snprintf(step, sizeof step, "properties/%s", key);
                if ((st = sub(g, val, where, step, depth, &rules[n])) != AC_OK)
                    break;
                names[n] = key;
                is_req[n] = (char)required;
                n++;
            }
        }
        if (pass == 0 && st == AC_OK) {
            for (size_t i = 0; i < n_req; i++) {
                const char *key = json_object_get_string(json_object_array_get_idx(req, i));
                json_object *dummy;
                int dup = 0;
                for (size_t k = n_required; k < n; k++)
                    dup |= !strcmp(names[k], key);
                if (dup || (props && json_object_object_get_ex(props, key, &dummy)))
                    continue;
                /* Required but not described: any value (or the
                 * additionalProperties schema). */
                if (addl && !json_object_is_type(addl, json_type_boolean)) {
                    if ((st = sub(g, addl, where, "additionalProperties", depth, &rules[n])) !=
                        AC_OK)
                        break;
                } else if (addl && !json_object_get_boolean(addl)) {
                    st = refuse(g, AC_EINVAL, where,
                                "%s: a required member is neither a property nor allowed as an "
                                "additional one", "the schema accepts nothing");
                    break;
                } else {
                    g->use |= USE_VALUE;
                    rules[n] = -1;
                }
                names[n] = key;
                is_req[n] = 1;
                n++;
            }
            n_required = n;
        }
    }
    if (st != AC_OK)
        goto out;

    lc_buf b = {0};
    int rc = 0;
#define MEMBER(buf, i) add_member(buf, names[i], rules[i])
    rc |= lc_buf_adds(&b, "(\"{\" ws ");
    if (n_required) {
        for (size_t i = 0; i < n_required && !rc; i++) {
            if (i)
                rc |= lc_buf_adds(&b, " \",\" ws ");
            rc |= MEMBER(&b, i);
        }
        for (size_t i = n_required; i < n && !rc; i++) {
            rc |= lc_buf_adds(&b, " (\",\" ws ");
            rc |= MEMBER(&b, i);
            rc |= lc_buf_adds(&b, ")?");
        }
    } else {
        /* All optional: the first one present has no comma before it.
         * tail[i] = ("," ws member_i)? tail[i+1], one rule each, so the
         * grammar grows linearly. */
        int next_tail = -1;
        int *tails = lc_host->malloc(n * sizeof *tails);
        if (!tails)
            rc = -1;
        for (size_t i = n; i-- > 1 && !rc;) {
            lc_buf tb = {0};
            rc |= lc_buf_adds(&tb, "(\",\" ws ");
            rc |= MEMBER(&tb, i);
            rc |= lc_buf_adds(&tb, ")?");
            if (next_tail >= 0)
                rc |= lc_buf_addf(&tb, " r%d", next_tail);
            int t = new_rule(g);
            if (!rc && put_rule(g, t, &tb) != AC_OK)
                rc = -1;
            lc_buf_free(&tb);
            tails[i] = next_tail = t;
        }
        rc |= lc_buf_adds(&b, "(");
        for (size_t i = 0; i < n && !rc; i++) {
            if (i)
                rc |= lc_buf_adds(&b, " | ");
            rc |= MEMBER(&b, i);
            if (i + 1 < n)
                rc |= lc_buf_addf(&b, " r%d", tails[i + 1]);
        }
        rc |= lc_buf_adds(&b, ")?");
        lc_host->free(tails);
    }
#undef MEMBER
    rc |= lc_buf_adds(&b, " \"}\")");
    if (rc || lc_buf_add(body, b.p, b.len) < 0)
        st = nomem();
    lc_buf_free(&b);
out:
    lc_host->free(names);
    lc_host->free(rules);
    lc_host->free(is_req);
    return st;
}

static ac_status gen_type(gb *g, json_object *s, const char *type, const char *where, int depth,
                          lc_buf *body)
{
    if (!strcmp(type, "string"))
        return gen_string(g, s, where, body);
    if (!strcmp(type, "object"))
        return gen_object(g, s, where, depth, body);
    if (!strcmp(type, "array"))
        return gen_array(g, s, where, depth, body);
    const char *rule = NULL;
    unsigned use = 0;
    if (!strcmp(type, "integer"))
        rule = "integer", use = USE_INTEGER;
    else if (!strcmp(type, "number"))
        rule = "number", use = USE_NUMBER | USE_INTEGER;
    else if (!strcmp(type, "boolean"))
        rule = "boolean", use = USE_BOOLEAN;
    else if (!strcmp(type, "null"))
        rule = "null", use = USE_NULL;
    if (!rule)
        return refuse(g, AC_EINVAL, where, "\"%s\" is not a JSON Schema type", type);
    g->use |= use;
    return lc_buf_adds(body, rule) < 0 ? nomem() : AC_OK;
}

/* The type a schema without "type" describes, from its keywords. */
static const char *implied_type(json_object *s)
{
    static const struct { const char *kw, *type; } hints[] = {
        { "properties", "object" }, { "required", "object" },
        { "additionalProperties", "object" }, { "items", "array" }, { "minItems", "array" },
        { "maxItems", "array" }, { "minLength", "string" }, { "maxLength", "string" },
    };
    json_object *v;
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (json_object_object_get_ex(s, hints[i].kw, &v))
            return hints[i].type;
    return NULL;
}

static ac_status gen(gb *g, json_object *s, const char *where, int depth, int *id)
{
    if (depth > MAX_DEPTH)
        return refuse(g, AC_EUNSUPPORTED, where, "%s", "nesting deeper than 64 schemas");
    if (g->n_rules > MAX_RULES)
        return refuse(g, AC_EUNSUPPORTED, where, "%s", "a grammar of more than 10000 rules");
    lc_buf body = {0};
    ac_status st = AC_OK;
    if (json_object_is_type(s, json_type_boolean)) {
        if (!json_object_get_boolean(s))
            return refuse(g, AC_EINVAL, where, "%s", "the schema false accepts nothing");
        g->use |= USE_VALUE;
        st = lc_buf_adds(&body, "value") < 0 ? nomem() : AC_OK;
        goto done;
    }
    if (!json_object_is_type(s, json_type_object))
        return refuse(g, AC_EINVAL, where, "%s", "a schema that is not an object or boolean");
    if ((st = check_keywords(g, s, where)) != AC_OK)
        return st;
    json_object *v, *tv = NULL;
    if (json_object_object_get_ex(s, "$ref", &v)) {
        /* Draft 7: what stands next to $ref is ignored. */
        if (!json_object_is_type(v, json_type_string))
            return refuse(g, AC_EINVAL, where, "\"%s\" is not a string", "$ref");
        return gen_ref(g, json_object_get_string(v), where, depth, id);
    }
    json_object_object_get_ex(s, "type", &tv);
    if (tv && !json_object_is_type(tv, json_type_string) &&
        !json_object_is_type(tv, json_type_array))
        return refuse(g, AC_EINVAL, where, "\"%s\" is not a string or a list", "type");
    int combined = json_object_object_get_ex(s, "anyOf", &v) ||
                   json_object_object_get_ex(s, "allOf", &v);
    if (combined) {
        /* Combined with other assertions, the grammar would have to
         * intersect: only the plain form is taken. */
        json_object_object_foreach(s, key, val) {
            (void)val;
            if (in_list(SUPPORTED, key) && strcmp(key, "anyOf") && strcmp(key, "allOf"))
                return refuse(g, AC_EUNSUPPORTED, where,
                              "anyOf or allOf next to \"%s\" is not supported by the grammar",
                              key);
        }
        json_object *other;
        if (json_object_object_get_ex(s, "anyOf", &v) &&
            json_object_object_get_ex(s, "allOf", &other))
            return refuse(g, AC_EUNSUPPORTED, where, "%s",
                          "anyOf next to allOf is not supported by the grammar");
        const char *kw = json_object_object_get_ex(s, "anyOf", NULL) ? "anyOf" : "allOf";
        json_object_object_get_ex(s, kw, &v);
        if (!json_object_is_type(v, json_type_array))
            return refuse(g, AC_EINVAL, where, "\"%s\" is not an array", kw);
        st = alt_list(g, v, where, kw, depth, &body);
        goto done;
    }
    if (json_object_object_get_ex(s, "const", &v) || json_object_object_get_ex(s, "enum", &v)) {
        st = gen_enum(g, s, tv, where, &body);
        goto done;
    }
    if (!tv) {
        const char *t = implied_type(s);
        if (t) {
            st = gen_type(g, s, t, where, depth, &body);
        } else {
            g->use |= USE_VALUE;
            st = lc_buf_adds(&body, "value") < 0 ? nomem() : AC_OK;
        }
        goto done;
    }
    if (json_object_is_type(tv, json_type_string)) {
        st = gen_type(g, s, json_object_get_string(tv), where, depth, &body);
        goto done;
    }
    if (!json_object_array_length(tv)) {
        st = refuse(g, AC_EINVAL, where, "\"%s\" is an empty list", "type");
        goto done;
    }
    for (size_t i = 0; i < json_object_array_length(tv) && st == AC_OK; i++) {
        json_object *t = json_object_array_get_idx(tv, i);
        if (!json_object_is_type(t, json_type_string)) {
            st = refuse(g, AC_EINVAL, where, "\"%s\" holds a non-string", "type");
            break;
        }
        if (i && lc_buf_adds(&body, " | ") < 0)
            st = nomem();
        else
            st = gen_type(g, s, json_object_get_string(t), where, depth, &body);
    }
done:
    if (st == AC_OK) {
        *id = new_rule(g);
        st = put_rule(g, *id, &body);
    }
    lc_buf_free(&body);
    return st;
}

static const char *const SHARED[] = {
    /* USE_WS */      "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n",
    /* USE_CHAR */    "char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" "
                      "([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))\n",
    /* USE_STRING */  "string ::= \"\\\"\" char* \"\\\"\"\n",
    /* USE_INTEGER */ "integer ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n",
    /* USE_NUMBER */  "number ::= integer (\".\" [0-9]{1,15})?\n",
    /* USE_BOOLEAN */ "boolean ::= \"true\" | \"false\"\n",
    /* USE_NULL */    "null ::= \"null\"\n",
    /* USE_VALUE */   "value ::= object | array | string | number | boolean | null\n"
                      "object ::= \"{\" ws (string ws \":\" ws value ws (\",\" ws string ws "
                      "\":\" ws value ws)*)? \"}\"\n",
};
static const char ARRAY_RULE[] = "array ::= \"[\" ws (value ws (\",\" ws value ws)*)? \"]\"\n";

ac_status lc_gbnf_from_schema(json_object *schema, char **out, char *why, size_t why_len)
{
    *out = NULL;
    if (why_len)
        why[0] = '\0';
    gb g = { .root = schema, .why = why, .why_len = why_len };
    int top;
    ac_status st = gen(&g, schema, "", 0, &top);
    if (st == AC_OK) {
        /* value needs every other shared rule. */
        if (g.use & USE_VALUE)
            g.use |= USE_WS | USE_CHAR | USE_STRING | USE_INTEGER | USE_NUMBER | USE_BOOLEAN |
                     USE_NULL;
        if (g.use & (USE_STRING))
            g.use |= USE_CHAR;
        if (g.use & USE_NUMBER)
            g.use |= USE_INTEGER;
        if (lc_buf_addf(&g.rules, "root ::= r%d\n", top) < 0)
            st = nomem();
        for (unsigned i = 0; st == AC_OK && i < sizeof SHARED / sizeof SHARED[0]; i++)
            if ((g.use & (1u << i)) && lc_buf_adds(&g.rules, SHARED[i]) < 0)
                st = nomem();
        if (st == AC_OK && (g.use & USE_VALUE) && lc_buf_adds(&g.rules, ARRAY_RULE) < 0)
            st = nomem();
    }
    if (st == AC_ENOMEM)
        snprintf(why, why_len, "out of memory converting the schema to a grammar");
    for (size_t i = 0; i < g.n_refs; i++)
        lc_host->free(g.refs[i].ptr);
    lc_host->free(g.refs);
    if (st != AC_OK) {
        lc_buf_free(&g.rules);
        return st;
    }
    *out = g.rules.p;
    return AC_OK;
}
