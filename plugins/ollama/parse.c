/*
 * parse.c -- the Ollama plugin's reply parsing: NDJSON stream lines, whole
 * bodies, error bodies and the model list, into sink emits and reports on
 * the call.
 *
 * What it relies on (docs/protocols.md section 3): a /api/chat object carries
 * message.content / message.thinking / message.tool_calls (a /api/generate
 * line carries response / thinking at the top level); tool calls arrive
 * whole, so each gets a new key and ends at once; done_reason stays "stop"
 * after tool calls; prompt_eval_count / eval_count on the done line are
 * the usage; any line may be {"error": ...}, also inside a 200 stream.
 * Parsing goes through the host's strict parser (or the same rules,
 * quietly, where a failure is not yet the call's); no input may crash.
 * Every function may run on any thread; the calls for one response come
 * from one thread at a time, in order.
 */
#include "ollama.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The text of an "error" member: a string (Ollama), or an object with a
 * message (proxies speaking OpenAI's shape), else the value as JSON. */
static void ollama_error_text(json_object *e, char *out, size_t cap)
{
    const char *s = NULL;
    if (json_object_is_type(e, json_type_string))
        s = json_object_get_string(e);
    else if (json_object_is_type(e, json_type_object))
        s = ac_sdk_json_string(e, "message");
    /* json-c's own text is enough here: it is only quoted, cut to an
     * excerpt, never sent (and ac_sdk_json_text would fail the call, which
     * inside parse_error would change the report's code). */
    if (!s)
        s = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
    ac_sdk_excerpt(s ? s : "", s ? strlen(s) : 0, out, cap);
    if (!out[0])
        snprintf(out, cap, "unknown error");
}

/*
 * An error line inside a 200 stream carries no status, only text.  Judge
 * from the server's known messages (routes.go) whether the same request
 * may succeed later, as the status it would have sent before the stream
 * started would say: "not found" (404) and bad requests (400) not;
 * "busy" (503) and anything else, a runner failure (500), yes.
 */
static int ollama_guess_status(const char *msg)
{
    if (ollama_contains(msg, "not found"))
        return 404;
    if (ollama_contains(msg, "does not support") || ollama_contains(msg, "invalid") ||
        ollama_contains(msg, "exceeds"))
        return 400;
    if (ollama_contains(msg, "busy"))
        return 503;
    return 500;
}

/* An {"error":...} object in a 2xx reply: `where` is "stream" or
 * "response". */
static ac_status ollama_error_in_body(json_object *e, const char *where,
                                      ac_call *call)
{
    char text[OLLAMA_EXCERPT_MAX + 8];
    ollama_error_text(e, text, sizeof text);
    ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "error in %s: %s", where, text);
    int status = ollama_guess_status(text);
    ollama_host->set_http_status(call, status);
    ollama_host->set_retryable(call, status >= 500);
    return AC_EPROTOCOL;
}

/* Integer member as long, or -1 when absent, not a whole number or out
 * of range. */
static long ollama_get_count(json_object *obj, const char *key)
{
    long long n;
    if (!ac_sdk_json_int(obj, key, &n) || n < 0 || n > LONG_MAX)
        return -1;
    return (long)n;
}

static ac_status ollama_emit_tool_calls(json_object *calls, ollama_stream *ss,
                                        ac_sink *k, ac_call *call)
{
    size_t n = json_object_array_length(calls);
    ac_status rc;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(calls, i);
        json_object *fn = ac_sdk_json_object(c, "function"), *args = NULL;
        const char *id, *name, *text;
        char *json = NULL;
        int key;
        if (!fn)
            return ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                     "ollama: a tool call without a function object");
        name = ac_sdk_json_string(fn, "name");
        if (!name || !*name)
            return ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                     "ollama: a tool call without a name");
        if (ss->n_calls >= OLLAMA_MAX_TOOL_CALLS)
            return ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                     "ollama: more than %d tool calls in one reply",
                                     OLLAMA_MAX_TOOL_CALLS);
        id = ac_sdk_json_string(c, "id");
        json_object_object_get_ex(fn, "arguments", &args);
        if (!args) {
            text = "{}";
        } else if (json_object_is_type(args, json_type_string)) {
            /* Not Ollama's shape, but some proxies send OpenAI's string. */
            text = json_object_get_string(args);
        } else {
            text = json = ac_sdk_json_text(ollama_host, call, args, NULL);
            if (!json)
                return AC_ENOMEM; /* the call says why */
        }
        /* Calls arrive whole and are never continued, so each gets a new
         * key: their order across the reply. */
        key = ss->n_calls++;
        rc = ollama_host->emit_tool_call(k, key, id ? id : "", name, text,
                                         strlen(text), 1);
        ollama_host->free(json);
        if (rc == AC_OK)
            rc = ollama_host->emit_tool_call_end(k, key);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}

/* One reply object (a stream line, or the whole non-stream body); obj may
 * be NULL (a JSON null) or not an object. */
static ac_status ollama_handle(json_object *obj, ollama_stream *ss,
                               const char *where, ac_sink *k, ac_call *call)
{
    json_object *v, *msg;
    const char *s, *model;
    ac_status rc = AC_OK;

    if (!json_object_is_type(obj, json_type_object))
        return ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                 "ollama: a reply that is not a JSON object");
    /* An error can be the last line of a 200 stream (docs/protocols.md 3). */
    if (json_object_object_get_ex(obj, "error", &v) && v)
        return ollama_error_in_body(v, where, call);

    model = ac_sdk_json_string(obj, "model");
    if (model && *model && !ss->model_sent) {
        rc = ollama_host->emit_model(k, model);
        if (rc != AC_OK)
            return rc;
        ss->model_sent = 1;
    }

    msg = ac_sdk_json_object(obj, "message");
    if (msg) {
        /* /api/chat: message.thinking (older builds: reasoning), content,
         * tool_calls. */
        s = ac_sdk_json_string(msg, "thinking");
        if (!s)
            s = ac_sdk_json_string(msg, "reasoning");
        if (s && *s && (rc = ollama_host->emit_reasoning(k, s, strlen(s))) != AC_OK)
            return rc;
        s = ac_sdk_json_string(msg, "content");
        if (s && *s && (rc = ollama_host->emit_text(k, s, strlen(s))) != AC_OK)
            return rc;
        v = ac_sdk_json_array(msg, "tool_calls");
        if (v && (rc = ollama_emit_tool_calls(v, ss, k, call)) != AC_OK)
            return rc;
    } else {
        /* /api/generate lines carry top-level thinking and response. */
        s = ac_sdk_json_string(obj, "thinking");
        if (s && *s && (rc = ollama_host->emit_reasoning(k, s, strlen(s))) != AC_OK)
            return rc;
        s = ac_sdk_json_string(obj, "response");
        if (s && *s && (rc = ollama_host->emit_text(k, s, strlen(s))) != AC_OK)
            return rc;
    }

    if (json_object_object_get_ex(obj, "done", &v) &&
        json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v)) {
        long in = ollama_get_count(obj, "prompt_eval_count");
        long out = ollama_get_count(obj, "eval_count");
        const char *raw = ac_sdk_json_string(obj, "done_reason");
        const char *norm;
        if (in >= 0 || out >= 0) {
            rc = ollama_host->emit_usage(k, in, out);
            if (rc != AC_OK)
                return rc;
        }
        /* done_reason stays "stop" after tool calls: detect them by their
         * presence.  load/unload (model-only requests) end normally. */
        if (raw && !strcmp(raw, "length"))
            norm = "length";
        else if (ss->n_calls > 0)
            norm = "tool_calls";
        else
            norm = "stop";
        ss->done = 1;
        rc = ollama_host->emit_finish(k, norm, raw);
    }
    return rc;
}

ac_status ollama_parse_event(void *state, const ac_frame *ev,
                             ac_sink *k, ac_call *call)
{
    ollama_stream tmp, *ss = &tmp;
    void **slot;
    json_object *obj;
    ac_status rc;
    size_t i;

    (void)state;
    if (!ev || !ev->data)
        return AC_OK;
    for (i = 0; i < ev->data_len; i++)
        if (!isspace((unsigned char)ev->data[i]))
            break;
    if (i == ev->data_len)
        return AC_OK; /* a blank line between objects */

    memset(&tmp, 0, sizeof tmp);
    slot = ollama_host->stream_slot(k);
    if (slot) {
        if (!*slot) {
            ollama_stream *fresh = ollama_host->malloc(sizeof *fresh);
            if (!fresh)
                return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_PROTOCOL,
                                         "ollama: out of memory");
            memset(fresh, 0, sizeof *fresh);
            *slot = fresh;
        }
        ss = *slot;
    }

    rc = ollama_parse(call, ev->data, ev->data_len, "stream line", &obj);
    if (rc != AC_OK)
        return rc;
    rc = ollama_handle(obj, ss, "stream", k, call);
    json_object_put(obj);
    return rc;
}

void ollama_stream_free(void *state, void *stream_state)
{
    (void)state;
    ollama_host->free(stream_state);
}

/* A non-streamed reply is one finished object: without "done": true it
 * was cut short or is not Ollama's. */
static ac_status ollama_check_done(ac_status rc, const ollama_stream *ss,
                                   ac_call *call)
{
    if (rc == AC_OK && !ss->done)
        return ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                 "ollama: the reply did not finish (no \"done\": true)");
    return rc;
}

/*
 * A server or proxy that ignored "stream": false sends NDJSON: take it
 * line by line rather than fail a good reply.  0 and the outcome in *rc,
 * or -1 when a line is not JSON (the body is then just bad).
 */
static int ollama_lines(const char *body, size_t len, ollama_stream *ss, ac_sink *k,
                        ac_call *call, ac_status *rc)
{
    size_t start, end;
    *rc = AC_OK;
    for (start = 0; start < len && *rc == AC_OK; start = end + 1) {
        const char *nl = memchr(body + start, '\n', len - start);
        json_object *obj;
        size_t i = start;
        end = nl ? (size_t)(nl - body) : len;
        while (i < end && isspace((unsigned char)body[i]))
            i++;
        if (i == end)
            continue;
        if (!ollama_json_quiet(body + start, end - start, &obj))
            return -1;
        *rc = ollama_handle(obj, ss, "response", k, call);
        json_object_put(obj);
    }
    return 0;
}

ac_status ollama_parse_response(void *state, int http_status,
                                const char *body, size_t len,
                                ac_sink *k, ac_call *call)
{
    ollama_stream ss;
    json_object *obj;
    ac_status rc;

    (void)state;
    (void)http_status;
    memset(&ss, 0, sizeof ss);
    if (!body)
        len = 0;
    /* Quietly first: a body that is not one JSON value may be NDJSON, and
     * only when it is not that either is the call failed. */
    if (!ollama_json_quiet(body, len, &obj)) {
        if (body && memchr(body, '\n', len) &&
            ollama_lines(body, len, &ss, k, call, &rc) == 0)
            return ollama_check_done(rc, &ss, call);
        /* The report of the whole body's first error. */
        rc = ollama_parse(call, body, len, "response body", &obj);
        if (rc != AC_OK)
            return rc;
    }
    rc = ollama_handle(obj, &ss, "response", k, call);
    json_object_put(obj);
    return ollama_check_done(rc, &ss, call);
}

/* The core made the report from the status (code, status, retryability,
 * Retry-After); put the server's words in the message.  The core keeps
 * configured keys out of it, should a proxy quote the one it was sent. */
void ollama_parse_error(void *state, int http_status, const char *body,
                        size_t len, ac_call *call)
{
    char text[OLLAMA_EXCERPT_MAX + 8];
    json_object *obj = NULL, *e;

    (void)state;
    text[0] = '\0';
    if (body && len > 0) {
        if (ollama_json_quiet(body, len, &obj) &&
            json_object_object_get_ex(obj, "error", &e) && e)
            ollama_error_text(e, text, sizeof text);
        else
            ac_sdk_excerpt(body, len, text, sizeof text);
        json_object_put(obj);
    }
    if (!text[0] && body && len > 0)
        snprintf(text, sizeof text, "a response body of %zu bytes without "
                 "readable text", len);
    else if (!text[0])
        snprintf(text, sizeof text, "empty response body");
    ollama_host->fail(call, AC_OK, AC_STAGE_HTTP, "HTTP %d: %s", http_status, text);
    /* Ollama answers 500 when a model does not fit in memory: the same
     * request will fail the same way. */
    if (ollama_contains(text, "requires more system memory"))
        ollama_host->set_retryable(call, 0);
}

/* GET /api/tags: {"models":[{"name":"llama3.2:latest","model":...},...]} */
ac_status ollama_parse_models(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_call *call)
{
    json_object *obj, *models;
    ac_status rc;
    size_t n;

    (void)state;
    rc = ollama_parse(call, body, body ? len : 0, "model list", &obj);
    if (rc != AC_OK)
        return rc;
    models = ac_sdk_json_array(obj, "models");
    if (!models) {
        rc = ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                               "ollama: the model list has no \"models\" array");
        goto done;
    }
    n = json_object_array_length(models);
    for (size_t i = 0; i < n && rc == AC_OK; i++) {
        json_object *m = json_object_array_get_idx(models, i);
        const char *id = ac_sdk_json_string(m, "name");
        if (!id || !*id)
            id = ac_sdk_json_string(m, "model");
        if (id && *id)
            rc = ollama_host->models_add(out, id);
    }
    if (rc != AC_OK)
        ollama_host->fail(call, rc, AC_STAGE_PROTOCOL,
                          "ollama: could not store the model list");
done:
    json_object_put(obj);
    return rc;
}
