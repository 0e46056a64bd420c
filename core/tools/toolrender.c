/*
 * toolrender.c -- tool calls written as text in a family's syntax (see
 * toolrender.h).
 *
 * JSON syntaxes embed each call's arguments as given (after checking
 * they are a JSON object), so arguments in the parser's canonical form
 * come back byte for byte.  GEMMA writes Python: the arguments are
 * parsed with json-c and each value written as a Python literal -- JSON
 * strings are valid Python strings once "\/" is avoided (our quoting
 * never writes it), true/false/null become True/False/None, numbers keep
 * their text.  Relies on json-c, buf.h, alloc.h, error.h.  Pure.
 */
#include "toolrender.h"
#include "tooldecode.h"
#include "../alloc.h"
#include "../buf.h"
#include "../error.h"

#include <json-c/json.h>
#include <string.h>

static int app(buf *b, const char *s) { return ac__buf_appends(b, s); }

static int py_ident(const char *s)
{
    static const char *const kw[] = {
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from",
        "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass",
        "raise", "return", "try", "while", "with", "yield",
    };
    if (!s[0] || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (!strcmp(s, kw[i]))
            return 0;
    return 1;
}

/* A JSON value as a Python literal. */
static int py_lit(buf *b, json_object *v)
{
    int rc = 0;
    switch (json_object_get_type(v)) {
    case json_type_null:
        return app(b, "None");
    case json_type_boolean:
        return app(b, json_object_get_boolean(v) ? "True" : "False");
    case json_type_int:
    case json_type_double: {
        const char *t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        return t ? app(b, t) : -1;
    }
    case json_type_string:
        return ac__tp_json_quote(b, json_object_get_string(v),
                                 (size_t)json_object_get_string_len(v));
    case json_type_array: {
        size_t n = json_object_array_length(v);
        rc = app(b, "[");
        for (size_t i = 0; i < n && !rc; i++) {
            rc = i ? app(b, ", ") : 0;
            rc = rc ? rc : py_lit(b, json_object_array_get_idx(v, i));
        }
        return rc ? rc : app(b, "]");
    }
    case json_type_object: {
        int first = 1;
        rc = app(b, "{");
        json_object_object_foreach(v, key, val) {
            if (rc)
                break;
            rc = first ? 0 : app(b, ", ");
            first = 0;
            rc = rc ? rc : ac__tp_json_quote(b, key, strlen(key));
            rc = rc ? rc : app(b, ": ");
            rc = rc ? rc : py_lit(b, val);
        }
        return rc ? rc : app(b, "}");
    }
    }
    return -1;
}

/* name(k=v, ..., **{"not an identifier": v}) */
static int py_call(buf *b, const char *name, json_object *args)
{
    int rc = app(b, name);
    rc = rc ? rc : app(b, "(");
    int first = 1, odd = 0;
    json_object_object_foreach(args, key, val) {
        if (rc)
            break;
        if (!py_ident(key)) {
            odd = 1;
            continue;
        }
        rc = first ? 0 : app(b, ", ");
        first = 0;
        rc = rc ? rc : app(b, key);
        rc = rc ? rc : app(b, "=");
        rc = rc ? rc : py_lit(b, val);
    }
    if (odd && !rc) {
        rc = app(b, first ? "**{" : ", **{");
        int f2 = 1;
        json_object_object_foreach(args, k2, v2) {
            if (rc)
                break;
            if (py_ident(k2))
                continue;
            rc = f2 ? 0 : app(b, ", ");
            f2 = 0;
            rc = rc ? rc : ac__tp_json_quote(b, k2, strlen(k2));
            rc = rc ? rc : app(b, ": ");
            rc = rc ? rc : py_lit(b, v2);
        }
        rc = rc ? rc : app(b, "}");
    }
    return rc ? rc : app(b, ")");
}

/* {"name": N, "<key>": A[, "id": I]} */
static int json_call(buf *b, const ac__toolcall *c, const char *args, size_t alen,
                     const char *key, int with_id)
{
    int rc = app(b, "{\"name\": ");
    rc = rc ? rc : ac__tp_json_quote(b, c->name, strlen(c->name));
    rc = rc ? rc : app(b, ", \"");
    rc = rc ? rc : app(b, key);
    rc = rc ? rc : app(b, "\": ");
    rc = rc ? rc : ac__buf_append(b, args, alen);
    if (with_id && c->id && !rc) {
        rc = app(b, ", \"id\": ");
        rc = rc ? rc : ac__tp_json_quote(b, c->id, strlen(c->id));
    }
    return rc ? rc : app(b, "}");
}

/* Dotted identifiers (brave_search.call) are Python names too. */
static int python_name(const char *s)
{
    char part[300];
    size_t k = 0;
    for (const char *p = s;; p++) {
        if (*p == '.' || !*p) {
            part[k] = '\0';
            if (!py_ident(part))
                return 0;
            k = 0;
            if (!*p)
                return 1;
            continue;
        }
        if (k >= sizeof part - 1)
            return 0;
        part[k++] = *p;
    }
}

char *ac__toolrender(ac__toolfam fam, const ac__toolcall *calls, size_t n, ac_error *err)
{
    if ((unsigned)fam >= AC__TF_COUNT || (n && !calls)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "tool render: bad arguments");
        return NULL;
    }
    buf b = {0};
    int rc = 0;
    json_object **parsed = n ? ac__calloc(n, sizeof *parsed) : NULL;
    if (n && !parsed) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    /* Check everything first: a bad call renders nothing. */
    for (size_t i = 0; i < n; i++) {
        const ac__toolcall *c = &calls[i];
        const char *a = c->args && c->args[0] ? c->args : "{}";
        size_t al = c->args && c->args[0] ? (c->args_len ? c->args_len : strlen(a)) : 2;
        if (!c->name || !ac__tp_name_ok(c->name, strlen(c->name)) ||
            (fam == AC__TF_GEMMA && !python_name(c->name))) {
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                          "tool render: call %zu has a name the syntax cannot carry", i + 1);
            goto fail;
        }
        parsed[i] = ac__tp_json_strict(a, al);
        if (!parsed[i] || !json_object_is_type(parsed[i], json_type_object)) {
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                          "tool render: the arguments of call %zu are not a JSON object", i + 1);
            goto fail;
        }
    }
    if (fam == AC__TF_GEMMA && n)
        rc = app(&b, "```tool_code\n");
    else if (fam == AC__TF_LLAMA3 && n)
        rc = app(&b, "<|python_tag|>");
    else if (fam == AC__TF_MISTRAL && n)
        rc = app(&b, "[TOOL_CALLS] [");
    for (size_t i = 0; i < n && !rc; i++) {
        const ac__toolcall *c = &calls[i];
        const char *a = c->args && c->args[0] ? c->args : "{}";
        size_t al = c->args && c->args[0] ? (c->args_len ? c->args_len : strlen(a)) : 2;
        while (al && strchr(" \t\r\n", a[0])) {
            a++;
            al--;
        }
        while (al && strchr(" \t\r\n", a[al - 1]))
            al--;
        switch (fam) {
        case AC__TF_GEMMA:
            rc = py_call(&b, c->name, parsed[i]);
            rc = rc ? rc : app(&b, "\n");
            break;
        case AC__TF_LLAMA3:
            rc = i ? app(&b, "; ") : 0;
            rc = rc ? rc : json_call(&b, c, a, al, "parameters", 0);
            break;
        case AC__TF_MISTRAL:
            rc = i ? app(&b, ", ") : 0;
            rc = rc ? rc : json_call(&b, c, a, al, "arguments", 1);
            break;
        case AC__TF_PHI:
            rc = i ? app(&b, "\n") : 0;
            rc = rc ? rc : app(&b, "<|tool_call|>");
            rc = rc ? rc : json_call(&b, c, a, al, "arguments", 0);
            rc = rc ? rc : app(&b, "</|tool_call|>");
            break;
        case AC__TF_FUNCALL:
            rc = i ? app(&b, "\n") : 0;
            rc = rc ? rc : app(&b, "<function_call>");
            rc = rc ? rc : json_call(&b, c, a, al, "arguments", 0);
            rc = rc ? rc : app(&b, "</function_call>");
            break;
        default:
            rc = i ? app(&b, "\n") : 0;
            rc = rc ? rc : app(&b, "<tool_call>\n");
            rc = rc ? rc : json_call(&b, c, a, al, "arguments", 0);
            rc = rc ? rc : app(&b, "\n</tool_call>");
            break;
        }
    }
    if (!rc && fam == AC__TF_GEMMA && n)
        rc = app(&b, "```");
    else if (!rc && fam == AC__TF_MISTRAL && n)
        rc = app(&b, "]");
    char *out = rc ? NULL : ac__buf_steal(&b);
    ac__buf_free(&b);
    if (!out)
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    for (size_t i = 0; i < n; i++)
        json_object_put(parsed[i]);
    ac__free(parsed);
    return out;
fail:
    for (size_t i = 0; i < n; i++)
        json_object_put(parsed[i]);
    ac__free(parsed);
    return NULL;
}
