/*
 * reply.c -- the JSON document in a model's reply, and what to tell the
 * model when it does not match (see reply.h).
 *
 * Models asked for JSON often answer with more than JSON: a Markdown
 * fence around it, "Here is the result:" before it, a remark after it.
 * As the original AbstractCore does, the document is taken from the
 * first place that holds one, in this order: the whole reply; the first
 * ``` fence (```json or bare) whose body parses; the first '{' or '['
 * from which a whole JSON value parses (text after it is ignored).  Every
 * parse is strict JSON with UTF-8 checked.
 */
#include "reply.h"
#include "../alloc.h"
#include "../buf.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* A strict parse of text[0..len): the value and where it ended, or NULL
 * (*why set when why is not NULL). */
static json_object *parse_at(const char *text, size_t len, size_t *end, int whole,
                             char *why, size_t cap)
{
    if (len > 0x7fffffff)
        return NULL;
    json_tokener *t = json_tokener_new();
    if (!t)
        return NULL;
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(t, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(t);
    if (je == json_tokener_continue) { /* a top-level number needs the end */
        o = json_tokener_parse_ex(t, "", 1);
        je = json_tokener_get_error(t);
    }
    size_t e = json_tokener_get_parse_end(t);
    if (je != json_tokener_success || !o) {
        if (why && cap)
            snprintf(why, cap, "%s at byte %zu", je == json_tokener_success
                         ? "null is not a document" : json_tokener_error_desc(je), e);
        json_object_put(o);
        json_tokener_free(t);
        return NULL;
    }
    json_tokener_free(t);
    if (whole)
        for (size_t i = e; i < len; i++)
            if (!strchr(" \t\r\n", text[i])) {
                if (why && cap)
                    snprintf(why, cap, "text after the JSON value at byte %zu", i);
                json_object_put(o);
                return NULL;
            }
    *end = e;
    return o;
}

/* The body of the first ``` fence that parses. */
static json_object *fenced(const char *text, size_t len)
{
    const char *p = text, *stop = text + len;
    while (p < stop) {
        const char *open = memmem(p, (size_t)(stop - p), "```", 3);
        if (!open)
            return NULL;
        const char *body = open + 3;
        /* The info string (json, JSON, javascript, ...) ends the line. */
        while (body < stop && *body != '\n')
            body++;
        const char *close = body < stop ? memmem(body, (size_t)(stop - body), "```", 3) : NULL;
        if (!close)
            return NULL;
        size_t e;
        size_t n = (size_t)(close - body);
        /* Trim white space: the parse wants the value alone. */
        while (n && strchr(" \t\r\n", *body))
            body++, n--;
        json_object *o = parse_at(body, n, &e, 1, NULL, 0);
        if (o)
            return o;
        p = close + 3;
    }
    return NULL;
}

/* The first '{' or '[' from which a value parses. */
static json_object *embedded(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '{' && text[i] != '[')
            continue;
        size_t e;
        json_object *o = parse_at(text + i, len - i, &e, 0, NULL, 0);
        if (o)
            return o;
    }
    return NULL;
}

struct json_object *ac__reply_json(const char *text, size_t len, char *why, size_t cap)
{
    size_t e;
    size_t a = 0, b = len;
    while (a < b && strchr(" \t\r\n", text[a]))
        a++;
    while (b > a && strchr(" \t\r\n", text[b - 1]))
        b--;
    if (a == b) {
        snprintf(why, cap, "is empty");
        return NULL;
    }
    char whole_why[160];
    json_object *o = parse_at(text + a, b - a, &e, 1, whole_why, sizeof whole_why);
    if (!o)
        o = fenced(text, len);
    if (!o)
        o = embedded(text, len);
    if (!o)
        snprintf(why, cap, "is not a JSON document (%s)", whole_why);
    return o;
}

char *ac__reply_feedback(const char *problem, const char *errors)
{
    buf b = {0};
    int rc = ac__buf_appends(&b, "Your reply ") ||
             ac__buf_appends(&b, errors ? "does not match the JSON Schema:\n" : "") ||
             ac__buf_appends(&b, errors ? errors : problem) ||
             ac__buf_appends(&b, "\n\nReply again with only the corrected JSON document: no "
                                 "prose, no Markdown fence.");
    char *s = rc ? NULL : ac__buf_steal(&b);
    if (!s)
        ac__buf_free(&b);
    return s;
}
