/*
 * syntax_json.c -- JSON tool-call bodies, argument objects, and the
 * XML-ish `<function=name>` form.
 *
 * Facts this follows (see core/tools/SYNTAXES.md for the sources):
 *   - Hermes / Qwen 2.5 / Qwen 3 put {"name": ..., "arguments": {...}}
 *     inside <tool_call> tags; Llama 3.1-3.3 answer {"name": ...,
 *     "parameters": {...}}; Mistral v3 sends an array of {"name",
 *     "arguments", "id"}; Phi-4-mini a `functools[...]` array; some
 *     servers and fine-tunes wrap a call OpenAI-style as {"type":
 *     "function", "function": {"name", "arguments"}}.
 *   - glaive-style fine-tunes send "arguments" as a string holding JSON;
 *     it is unwrapped.  A call without arguments gets {}.
 *   - Qwen3-Coder writes <function=name><parameter=k>v</parameter>
 *     </function>; Llama 3.1's documented alternative is
 *     <function=name>{json}</function>.
 * JSON is parsed strictly with json-c (so the arguments that come out
 * are valid JSON, never NaN or a single-quoted string); text that is not
 * JSON is tried once more as a Python literal (syntax_python.c), since
 * models asked for JSON often write Python dicts.  Arguments are written
 * back compactly by json-c (numbers keep their text; "/" not escaped).
 * Relies on json-c, alloc.h, buf.h.  Thread-safe.
 */
#include "tooldecode.h"
#include "../alloc.h"

#include <json-c/json.h>
#include <string.h>

#define TP_NAME_MAX 256

/* ---- the call list ---- */

int ac__tp_calls_add(tp_calls *c, char *id, char *name, char *args)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        tp_call *v = ac__realloc(c->v, cap * sizeof *v);
        if (!v) {
            ac__free(id);
            ac__free(name);
            ac__free(args);
            return -1;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (tp_call){.id = id, .name = name, .args = args};
    return 0;
}

void ac__tp_calls_truncate(tp_calls *c, size_t keep)
{
    while (c->n > keep) {
        tp_call *t = &c->v[--c->n];
        ac__free(t->id);
        ac__free(t->name);
        ac__free(t->args);
    }
}

void ac__tp_calls_free(tp_calls *c)
{
    ac__tp_calls_truncate(c, 0);
    ac__free(c->v);
    c->v = NULL;
    c->cap = 0;
}

/* ---- helpers ---- */

int ac__tp_json_quote(buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = ac__buf_append(out, "\"", 1);
    size_t a = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = ac__buf_append(out, s + a, i - a);
        char e[6] = {'\\', (char)c};
        size_t el = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            memcpy(e, "\\u00", 4);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
        }
        if (!rc)
            rc = ac__buf_append(out, e, el);
        a = i + 1;
    }
    if (!rc)
        rc = ac__buf_append(out, s + a, n - a);
    if (!rc)
        rc = ac__buf_append(out, "\"", 1);
    return rc;
}

int ac__tp_name_ok(const char *name, size_t n)
{
    if (!n || n > TP_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x21 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' ||
            c == '\\' || c == '{' || c == '}' || c == '[' || c == ']' || c == '(' || c == ')')
            return 0;
    }
    return 1;
}

/* Strict JSON, the whole text (white space around allowed); NULL if not. */
json_object *ac__tp_json_strict(const char *s, size_t n)
{
    if (n > 0x7fffffff)
        return NULL;
    json_tokener *t = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!t)
        return NULL;
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* json-c stops at a NUL byte: text with one is not ours to accept. */
    if (memchr(s, '\0', n)) {
        json_tokener_free(t);
        return NULL;
    }
    json_object *o = json_tokener_parse_ex(t, s, (int)n);
    enum json_tokener_error je = json_tokener_get_error(t);
    size_t end = json_tokener_get_parse_end(t);
    if (je == json_tokener_continue) {
        /* Strict mode needs the end of input to finish a top-level
         * number; all of s was read. */
        o = json_tokener_parse_ex(t, "", 1);
        je = json_tokener_get_error(t);
        end = n;
    }
    json_tokener_free(t);
    if (!o || je != json_tokener_success) {
        json_object_put(o);
        return NULL;
    }
    while (end < n && strchr(" \t\r\n", s[end]))
        end++;
    if (end < n && s[end] != '\0') {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* JSON, or failing that a Python literal converted to JSON.  *oom set
 * when the conversion ran out of memory. */
static json_object *json_lenient(const char *s, size_t n, int *oom)
{
    json_object *o = ac__tp_json_strict(s, n);
    if (o)
        return o;
    buf b = {0};
    int rc = ac__tp_python_to_json(s, n, &b);
    if (rc < 0)
        *oom = 1;
    if (!rc)
        o = ac__tp_json_strict(b.data, b.len);
    ac__buf_free(&b);
    return o;
}

static char *json_text(json_object *o)
{
    const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    return t ? ac__strdup(t) : NULL;
}

/* The argument value of a call: an object, a string holding an object
 * (or nothing), null or absent.  0 and *out set, 1 not arguments, -1. */
static int args_from(json_object *a, char **out)
{
    *out = NULL;
    if (!a) {
        *out = ac__strdup("{}");
        return *out ? 0 : -1;
    }
    if (json_object_is_type(a, json_type_object)) {
        *out = json_text(a);
        return *out ? 0 : -1;
    }
    if (json_object_is_type(a, json_type_string)) {
        const char *s = json_object_get_string(a);
        size_t n = (size_t)json_object_get_string_len(a);
        size_t i = 0;
        while (i < n && strchr(" \t\r\n", s[i]))
            i++;
        if (i == n) {
            *out = ac__strdup("{}");
            return *out ? 0 : -1;
        }
        int oom = 0;
        json_object *inner = json_lenient(s, n, &oom);
        if (oom)
            return -1;
        int rc = 1;
        if (inner && json_object_is_type(inner, json_type_object)) {
            *out = json_text(inner);
            rc = *out ? 0 : -1;
        }
        json_object_put(inner);
        return rc;
    }
    return 1;
}

static int call_from(json_object *o, int flags, tp_calls *out)
{
    if (!json_object_is_type(o, json_type_object))
        return 1;
    json_object *fn = NULL, *name = NULL, *args = NULL, *id = NULL;
    json_object_object_get_ex(o, "id", &id);
    json_object *src = o;
    if (!json_object_object_get_ex(o, "name", &name) &&
        json_object_object_get_ex(o, "function", &fn) &&
        json_object_is_type(fn, json_type_object)) {
        src = fn;                         /* OpenAI-style wrapper */
        json_object_object_get_ex(fn, "name", &name);
    }
    if (!name || !json_object_is_type(name, json_type_string))
        return 1;
    int has_args = json_object_object_get_ex(src, "arguments", &args) ||
                   json_object_object_get_ex(src, "parameters", &args);
    if (!has_args && (flags & TP_NEED_ARGS) && src == o)
        return 1;
    if (has_args && json_object_is_type(args, json_type_null))
        args = NULL;
    const char *nm = json_object_get_string(name);
    size_t nlen = (size_t)json_object_get_string_len(name);
    if (!ac__tp_name_ok(nm, nlen))
        return 1;
    char *a;
    int rc = args_from(args, &a);
    if (rc)
        return rc;
    int want_id = id && json_object_is_type(id, json_type_string) &&
                  json_object_get_string_len(id) > 0 &&
                  json_object_get_string_len(id) <= TP_NAME_MAX;
    char *idc = want_id ? ac__strdup(json_object_get_string(id)) : NULL;
    char *n = ac__strndup(nm, nlen);
    if (!n || (want_id && !idc)) {
        ac__free(n);
        ac__free(idc);
        ac__free(a);
        return -1;
    }
    return ac__tp_calls_add(out, idc, n, a);
}

int ac__tp_decode_json_calls(const char *s, size_t n, int flags, tp_calls *out)
{
    int oom = 0;
    json_object *o = json_lenient(s, n, &oom);
    if (!o)
        return oom ? -1 : 1;
    size_t keep = out->n;
    int rc;
    if (json_object_is_type(o, json_type_array)) {
        size_t len = json_object_array_length(o);
        rc = len ? 0 : 1;
        for (size_t i = 0; i < len && !rc; i++)
            rc = call_from(json_object_array_get_idx(o, i), flags, out);
    } else {
        rc = call_from(o, flags, out);
    }
    json_object_put(o);
    if (rc)
        ac__tp_calls_truncate(out, keep);
    return rc;
}

int ac__tp_decode_args(const char *id, const char *name, size_t name_len,
                       const char *s, size_t n, tp_calls *out)
{
    /* Trim the name: `[TOOL_CALLS] get_weather [ARGS]` happens. */
    while (name_len && strchr(" \t\r\n", name[0])) {
        name++;
        name_len--;
    }
    while (name_len && strchr(" \t\r\n", name[name_len - 1]))
        name_len--;
    if (!ac__tp_name_ok(name, name_len))
        return 1;
    json_object *a = NULL;
    size_t i = 0;
    while (i < n && strchr(" \t\r\n", s[i]))
        i++;
    if (i < n) {
        int oom = 0;
        a = json_lenient(s, n, &oom);
        if (!a)
            return oom ? -1 : 1;
    }
    char *args;
    int rc = args_from(a, &args);
    json_object_put(a);
    if (rc)
        return rc;
    char *nm = ac__strndup(name, name_len);
    char *idc = id ? ac__strdup(id) : NULL;
    if (!nm || (id && !idc)) {
        ac__free(nm);
        ac__free(idc);
        ac__free(args);
        return -1;
    }
    return ac__tp_calls_add(out, idc, nm, args);
}

int ac__tp_canon_args(char **args)
{
    json_object *o = ac__tp_json_strict(*args, strlen(*args));
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return 1;
    }
    char *t = json_text(o);
    json_object_put(o);
    if (!t)
        return -1;
    ac__free(*args);
    *args = t;
    return 0;
}

/* ---- <function=name> and <parameter=k> ---- */

static const char *find(const char *s, size_t n, const char *what)
{
    size_t l = strlen(what);
    for (size_t i = 0; i + l <= n; i++)
        if (s[i] == what[0] && !memcmp(s + i, what, l))
            return s + i;
    return NULL;
}

int ac__tp_decode_xml_params(const char *name, size_t name_len,
                             const char *s, size_t n, tp_calls *out)
{
    buf args = {0};
    int rc = ac__buf_append(&args, "{", 1) ? -1 : 0;
    const char *p = s, *end = s + n;
    int first = 1;
    while (!rc) {
        while (p < end && strchr(" \t\r\n", *p))
            p++;
        if (p == end)
            break;
        if ((size_t)(end - p) < 11 || memcmp(p, "<parameter=", 11)) {
            rc = 1;
            break;
        }
        p += 11;
        const char *gt = memchr(p, '>', (size_t)(end - p));
        if (!gt || gt == p) {
            rc = 1;
            break;
        }
        const char *key = p;
        size_t klen = (size_t)(gt - p);
        p = gt + 1;
        const char *close = find(p, (size_t)(end - p), "</parameter>");
        if (!close) {
            rc = 1;
            break;
        }
        /* The value sits between newlines the template adds. */
        const char *v = p, *ve = close;
        if (v < ve && *v == '\n')
            v++;
        if (ve > v && ve[-1] == '\n')
            ve--;
        p = close + 12;
        if ((!first && ac__buf_append(&args, ",", 1)) || ac__tp_json_quote(&args, key, klen) ||
            ac__buf_append(&args, ":", 1)) {
            rc = -1;
            break;
        }
        first = 0;
        json_object *jv = ac__tp_json_strict(v, (size_t)(ve - v));
        if (jv && (size_t)(ve - v) > 0) {
            char *t = json_text(jv);
            rc = t ? (ac__buf_appends(&args, t) ? -1 : 0) : -1;
            ac__free(t);
        } else {
            rc = ac__tp_json_quote(&args, v, (size_t)(ve - v)) ? -1 : 0;
        }
        json_object_put(jv);
    }
    if (!rc && ac__buf_append(&args, "}", 1))
        rc = -1;
    if (rc) {
        ac__buf_free(&args);
        return rc;
    }
    while (name_len && strchr(" \t\r\n", name[name_len - 1]))
        name_len--;
    if (!ac__tp_name_ok(name, name_len)) {
        ac__buf_free(&args);
        return 1;
    }
    char *nm = ac__strndup(name, name_len);
    char *a = ac__buf_steal(&args);
    int crc = a ? ac__tp_canon_args(&a) : -1;
    if (!nm || crc) {
        ac__free(nm);
        ac__free(a);
        return crc > 0 ? 1 : -1;
    }
    return ac__tp_calls_add(out, NULL, nm, a);
}

int ac__tp_decode_function_tags(const char *s, size_t n, tp_calls *out)
{
    size_t keep = out->n;
    const char *p = s, *end = s + n;
    int rc = 0, any = 0;
    for (;;) {
        while (p < end && strchr(" \t\r\n", *p))
            p++;
        if (p == end)
            break;
        if ((size_t)(end - p) < 10 || memcmp(p, "<function=", 10)) {
            rc = 1;
            break;
        }
        p += 10;
        const char *gt = memchr(p, '>', (size_t)(end - p));
        const char *close = gt ? find(gt, (size_t)(end - gt), "</function>") : NULL;
        if (!gt || !close) {
            rc = 1;
            break;
        }
        const char *body = gt + 1;
        const char *b = body;
        while (b < close && strchr(" \t\r\n", *b))
            b++;
        if (b < close && *b == '<')
            rc = ac__tp_decode_xml_params(p, (size_t)(gt - p), body, (size_t)(close - body), out);
        else
            rc = ac__tp_decode_args(NULL, p, (size_t)(gt - p), body, (size_t)(close - body), out);
        if (rc)
            break;
        any = 1;
        p = close + 11;
    }
    if (!rc && !any)
        rc = 1;
    if (rc)
        ac__tp_calls_truncate(out, keep);
    return rc;
}
