/*
 * events.c -- acore's JSON output: one line per streaming event
 * (-o jsonl), the response object (-o json, the last -o jsonl line,
 * acore batch), and errors as objects.
 *
 * The shapes are documented in acore(1), OUTPUT FORMATS; a field added
 * here goes there too (tests/test_cli.sh checks them).  Objects are built
 * with json-c, so every string is escaped the way JSON wants whatever the
 * server sent.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

void cli_json_line(FILE *f, json_object *obj)
{
    const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!s) {
        cli_errorf("out of memory writing JSON");
        return;
    }
    fputs(s, f);
    fputc('\n', f);
}

/* A string member; an allocation failure leaves the member out, which
 * json-c would also do on the line's serialization. */
static void events_str(json_object *o, const char *key, const char *s, size_t len)
{
    json_object *v = json_object_new_string_len(s ? s : "", s ? (int)len : 0);
    if (v && json_object_object_add(o, key, v) != 0)
        json_object_put(v);
}

static void events_int(json_object *o, const char *key, long v)
{
    json_object *j = json_object_new_int64(v);
    if (j && json_object_object_add(o, key, j) != 0)
        json_object_put(j);
}

/* JSON text as a value (tool arguments, a validated document); text that
 * is not JSON (a truncated call) as a string. */
static json_object *events_json_value(const char *s, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *v = NULL;

    if (tok && s) {
        v = json_tokener_parse_ex(tok, s, (int)len);
        if (!v || json_tokener_get_error(tok) != json_tokener_success ||
            (size_t)json_tokener_get_parse_end(tok) != len) {
            json_object_put(v);
            v = NULL;
        }
    }
    json_tokener_free(tok);
    return v ? v : json_object_new_string_len(s ? s : "", s ? (int)len : 0);
}

json_object *cli_error_object(const ac_error *err)
{
    json_object *o = json_object_new_object();
    char code[64];

    if (!o)
        return NULL;
    cli_status_name(err->code, code, sizeof code);
    events_str(o, "code", code, strlen(code));
    events_str(o, "stage", ac_stage_name(err->stage), strlen(ac_stage_name(err->stage)));
    if (err->provider[0])
        events_str(o, "provider", err->provider, strlen(err->provider));
    if (err->http_status)
        events_int(o, "http_status", err->http_status);
    const char *msg = err->message[0] ? err->message : ac_strerror(err->code);
    events_str(o, "message", msg, strlen(msg));
    return o;
}

void cli_event_jsonl(FILE *f, const ac_chunk *c)
{
    json_object *o = json_object_new_object(), *v;
    const char *type = ac_event_type_name(c->type);

    if (!o) {
        cli_errorf("out of memory writing JSON");
        return;
    }
    events_str(o, "type", type, strlen(type));
    switch (c->type) {
    case AC_EVENT_TEXT:
        events_str(o, "text", c->text, c->len);
        break;
    case AC_EVENT_REASONING:
        events_str(o, "text", c->data, c->data_len);
        break;
    case AC_EVENT_TOOL_CALL_START:
        events_int(o, "index", c->index);
        if (c->tool_call_id)
            events_str(o, "id", c->tool_call_id, strlen(c->tool_call_id));
        if (c->tool_name)
            events_str(o, "name", c->tool_name, strlen(c->tool_name));
        break;
    case AC_EVENT_TOOL_CALL_DELTA:
        events_int(o, "index", c->index);
        events_str(o, "arguments", c->data, c->data_len);
        break;
    case AC_EVENT_TOOL_CALL_END:
        events_int(o, "index", c->index);
        if (c->tool_call_id)
            events_str(o, "id", c->tool_call_id, strlen(c->tool_call_id));
        if (c->tool_name)
            events_str(o, "name", c->tool_name, strlen(c->tool_name));
        v = c->truncated ? json_object_new_string_len(c->data ? c->data : "",
                                                      c->data ? (int)c->data_len : 0)
                         : events_json_value(c->data ? c->data : "{}",
                                             c->data ? c->data_len : 2);
        if (v && json_object_object_add(o, "arguments", v) != 0)
            json_object_put(v);
        if (c->truncated)
            json_object_object_add(o, "truncated", json_object_new_boolean(1));
        break;
    case AC_EVENT_USAGE:
        events_int(o, "input_tokens", c->input_tokens);
        events_int(o, "output_tokens", c->output_tokens);
        break;
    case AC_EVENT_FINISH:
        if (c->finish_reason)
            events_str(o, "finish_reason", c->finish_reason, strlen(c->finish_reason));
        if (c->raw_finish_reason)
            events_str(o, "raw_finish_reason", c->raw_finish_reason,
                       strlen(c->raw_finish_reason));
        if (c->json) {
            v = events_json_value(c->json, c->json_len);
            if (v && json_object_object_add(o, "json", v) != 0)
                json_object_put(v);
        }
        break;
    case AC_EVENT_ERROR:
    case AC_EVENT_RESTART:
        if (c->error && (v = cli_error_object(c->error)) != NULL &&
            json_object_object_add(o, "error", v) != 0)
            json_object_put(v);
        break;
    }
    cli_json_line(f, o);
    json_object_put(o);
}

json_object *cli_response_object(const ac_response *r, int has_schema)
{
    char *text = ac_response_to_json(r);
    json_object *obj;

    if (!text)
        return NULL;
    obj = json_tokener_parse(text);
    ac_free(text);
    if (!obj)
        return NULL;
    /* With a schema the validated document is the content (a JSON value,
     * not the reply's text). */
    if (has_schema && ac_response_json(r)) {
        json_object_object_add(obj, "content", json_object_get(ac_response_json(r)));
        json_object_object_del(obj, "json");
    }
    return obj;
}
