/*
 * tooldecode.h -- turning the body of one tool-call region into calls.
 *
 * The streaming driver (toolparse.c) finds where a call region starts and
 * ends; these functions decide what the region's bytes say, once they are
 * all there.  Each body syntax has its own file:
 *   syntax_json.c    JSON (and Python-literal) call objects and arrays,
 *                    argument objects given as text, the Qwen3-Coder /
 *                    Llama `<function=name>` XML-ish form;
 *   syntax_python.c  Python-like calls `name(k=v, ...)` and Python
 *                    literals converted to JSON.
 * Every decoder appends to a tp_calls list and returns 0 when it appended
 * at least one call, 1 when the bytes are not a call (nothing appended;
 * the list is as it was), -1 when out of memory (likewise).  Arguments
 * always come out as a compact JSON object text; a missing argument
 * object becomes "{}".  Pure functions of their input; thread-safe.
 */
#ifndef AC_TOOLDECODE_H
#define AC_TOOLDECODE_H
#include <stddef.h>
#include "../buf.h"

/* One decoded call; every string owned by the list (ac__malloc'd). */
typedef struct tp_call {
    char *id;      /* the id the syntax carried, NULL if none */
    char *name;
    char *args;    /* JSON object text */
} tp_call;

typedef struct tp_calls {
    tp_call *v;
    size_t   n, cap;
} tp_calls;

/* Append a call, taking ownership of the three strings (freed on
 * failure too).  0, or -1 out of memory. */
int  ac__tp_calls_add(tp_calls *c, char *id, char *name, char *args);
/* Drop calls from index `keep` on (to undo a partial decode). */
void ac__tp_calls_truncate(tp_calls *c, size_t keep);
void ac__tp_calls_free(tp_calls *c);

/* Decode flags. */
enum {
    TP_NEED_ARGS = 1   /* a JSON call object must name its arguments
                          ("arguments" or "parameters"): used where plain
                          JSON could be an ordinary answer */
};

/* A JSON value (or, failing that, a Python literal) that is one call
 * object {"name":..., "arguments"|"parameters": {...}|"<json text>",
 * "id"?}, an OpenAI-style {"function": {...}, "id"?}, or an array of
 * them. */
int ac__tp_decode_json_calls(const char *s, size_t n, int flags, tp_calls *out);

/* The arguments of one call whose name the syntax gave separately
 * (Mistral `name[ARGS]{...}`, Llama `<function=name>{...}`): a JSON
 * object, a JSON string holding one, or empty (= {}). */
int ac__tp_decode_args(const char *id, const char *name, size_t name_len,
                       const char *s, size_t n, tp_calls *out);

/* Qwen3-Coder parameters: `<parameter=k>v</parameter>...` (the name came
 * from `<function=name>`); each value is JSON if it parses as JSON,
 * else a string. */
int ac__tp_decode_xml_params(const char *name, size_t name_len,
                             const char *s, size_t n, tp_calls *out);

/* A body that starts with `<function=name>`: the XML-ish form inside
 * a <tool_call> tag (Qwen3-Coder), with JSON or <parameter=> arguments,
 * possibly several functions. */
int ac__tp_decode_function_tags(const char *s, size_t n, tp_calls *out);

/* Python-like calls: `name(k=v, ...)`, several separated by newlines,
 * ';' or ',', or a list `[a(...), b(...)]`, each possibly wrapped in
 * print(...).  Keyword values are Python literals (strings in either
 * quote, numbers, True/False/None, lists, tuples, dicts); `**{...}`
 * merges a dict.  Positional arguments are not a call (their names are
 * unknown). */
int ac__tp_decode_python_calls(const char *s, size_t n, tp_calls *out);

/* Convert one Python literal (the whole of s, surrounding white space
 * allowed) to JSON text appended to out.  0 ok, 1 not a literal, -1 no
 * memory; on 1 and -1 out is restored to its length on entry. */
int ac__tp_python_to_json(const char *s, size_t n, buf *out);

/* Rewrite *args (a JSON object text) in the canonical form every
 * decoder hands on: compact, as json-c writes it.  0, 1 not a JSON
 * object (*args untouched), -1 no memory. */
int ac__tp_canon_args(char **args);

/* Strict JSON (json-c, UTF-8 checked), the whole of s; NULL if it is
 * not.  The caller puts the object. */
struct json_object;
struct json_object *ac__tp_json_strict(const char *s, size_t n);

/* Append s as a JSON string literal (quotes included).  0, -1, -2 as
 * ac__buf_append. */
int ac__tp_json_quote(buf *out, const char *s, size_t n);

/* 1 if name is a plausible tool name: 1..256 bytes, no control
 * characters, no quotes, no white space. */
int ac__tp_name_ok(const char *name, size_t n);
#endif
