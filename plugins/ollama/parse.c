/*
 * parse.c -- the Ollama plugin's reply parsing: NDJSON stream lines, whole
 * bodies, error bodies and the model list, into sink emits and ac_error.
 *
 * What it relies on (PROTOCOLS.md section 3): a /api/chat object carries
 * message.content / message.thinking / message.tool_calls (a /api/generate
 * line carries response / thinking at the top level); tool calls arrive
 * whole, so each gets a new key and ends at once; done_reason stays "stop"
 * after tool calls; prompt_eval_count / eval_count on the done line are
 * the usage; any line may be {"error": ...}, also inside a 200 stream.
 * Parsing goes through the host's strict parser; no input may crash.
 */
#include "ollama.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
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
        s = ollama_get_string(e, "message");
    if (!s)
        s = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
    if (!s)
        s = "unknown error";
    ollama_excerpt(s, strlen(s), out, cap);
    if (!out[0])
        snprintf(out, cap, "unknown error");
}

/*
 * An error line inside a 200 stream carries no status, only text.  Map the
 * server's known messages to the status it would have sent before the
 * stream started (routes.go); anything else is a runner failure, a 500.
 */
static void ollama_classify(const char *msg, int *status, int *retryable)
{
    if (ollama_contains(msg, "not found")) {
        *status = 404;
        *retryable = 0;
    } else if (ollama_contains(msg, "does not support") ||
               ollama_contains(msg, "invalid") ||
               ollama_contains(msg, "exceeds")) {
        *status = 400;
        *retryable = 0;
    } else if (ollama_contains(msg, "busy") ||
               ollama_contains(msg, "overloaded") ||
               ollama_contains(msg, "try again")) {
        *status = 503;
        *retryable = 1;
    } else {
        *status = 500;
        *retryable = 1;
    }
}

/* An {"error":...} object in a 2xx reply: `where` is "stream" or
 * "response". */
static ac_status ollama_error_in_body(json_object *e, const char *where,
                                      ac_error *err)
{
    char text[OLLAMA_EXCERPT_MAX + 8];
    int status, retryable;
    ollama_error_text(e, text, sizeof text);
    ollama_classify(text, &status, &retryable);
    ollama_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                           "error in %s: %s", where, text);
    if (err) {
        err->http_status = status;
        err->retryable = retryable;
    }
    return AC_EPROTOCOL;
}

/* Integer member as long, or -1 when absent or not a number. */
static long ollama_get_count(json_object *obj, const char *key)
{
    json_object *v;
    int64_t n;
    double d;
    if (!json_object_object_get_ex(obj, key, &v))
        return -1;
    if (json_object_is_type(v, json_type_double)) {
        /* Range-check before converting: an out-of-range cast is
         * undefined, and old json-c does not clamp. */
        d = json_object_get_double(v);
        if (!(d >= 0.0 && d < 2147483647.0))
            return -1;
        return (long)d;
    }
    if (!json_object_is_type(v, json_type_int))
        return -1;
    n = json_object_get_int64(v);
    if (n < 0 || n > LONG_MAX)
        return -1;
    return (long)n;
}

static ac_status ollama_emit_tool_calls(json_object *calls, ollama_stream *ss,
                                        ac_sink *k, ac_error *err)
{
    size_t n = json_object_array_length(calls);
    ac_status rc;
    for (size_t i = 0; i < n; i++) {
        json_object *call = json_object_array_get_idx(calls, i);
        json_object *fn = NULL, *args = NULL;
        const char *id, *name, *text;
        int key;
        if (!json_object_is_type(call, json_type_object) ||
            !json_object_object_get_ex(call, "function", &fn) ||
            !json_object_is_type(fn, json_type_object)) {
            ollama_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                   "ollama: a tool call without a function object");
            return AC_EPROTOCOL;
        }
        name = ollama_get_string(fn, "name");
        if (!name || !*name) {
            ollama_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                   "ollama: a tool call without a name");
            return AC_EPROTOCOL;
        }
        if (ss->n_calls >= OLLAMA_MAX_TOOL_CALLS) {
            ollama_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                                   "ollama: more than %d tool calls in one reply",
                                   OLLAMA_MAX_TOOL_CALLS);
            return AC_EPROTOCOL;
        }
        id = ollama_get_string(call, "id");
        json_object_object_get_ex(fn, "arguments", &args);
        if (!args) {
            text = "{}";
        } else if (json_object_is_type(args, json_type_string)) {
            /* Not Ollama's shape, but some proxies send OpenAI's string. */
            text = json_object_get_string(args);
        } else {
            text = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
            if (!text) {
                ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL,
                                       "ollama: out of memory");
                return AC_ENOMEM;
            }
        }
        /* Calls arrive whole and are never continued, so each gets a new
         * key: their order across the reply. */
        key = ss->n_calls++;
        rc = ollama_host->emit_tool_call(k, key, id ? id : "", name, text,
                                         strlen(text), 1);
        if (rc == AC_OK)
            rc = ollama_host->emit_tool_call_end(k, key);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}

/* One reply object (a stream line, or the whole non-stream body). */
static ac_status ollama_handle(json_object *obj, ollama_stream *ss,
                               const char *where, ac_sink *k, ac_error *err)
{
    json_object *v, *msg = NULL;
    const char *s, *model;
    ac_status rc = AC_OK;

    if (!json_object_is_type(obj, json_type_object)) {
        ollama_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                               "ollama: a reply that is not a JSON object");
        return AC_EPROTOCOL;
    }
    /* An error can be the last line of a 200 stream (PROTOCOLS.md 3). */
    if (json_object_object_get_ex(obj, "error", &v) && v)
        return ollama_error_in_body(v, where, err);

    model = ollama_get_string(obj, "model");
    if (model && *model && !ss->model_sent) {
        rc = ollama_host->emit_model(k, model);
        if (rc != AC_OK)
            return rc;
        ss->model_sent = 1;
    }

    if (json_object_object_get_ex(obj, "message", &msg) &&
        json_object_is_type(msg, json_type_object)) {
        /* /api/chat: message.thinking (older builds: reasoning), content,
         * tool_calls. */
        s = ollama_get_string(msg, "thinking");
        if (!s)
            s = ollama_get_string(msg, "reasoning");
        if (s && *s && (rc = ollama_host->emit_reasoning(k, s, strlen(s))) != AC_OK)
            return rc;
        s = ollama_get_string(msg, "content");
        if (s && *s && (rc = ollama_host->emit_text(k, s, strlen(s))) != AC_OK)
            return rc;
        if (json_object_object_get_ex(msg, "tool_calls", &v) &&
            json_object_is_type(v, json_type_array)) {
            rc = ollama_emit_tool_calls(v, ss, k, err);
            if (rc != AC_OK)
                return rc;
        }
    } else {
        /* /api/generate lines carry top-level thinking and response. */
        s = ollama_get_string(obj, "thinking");
        if (s && *s && (rc = ollama_host->emit_reasoning(k, s, strlen(s))) != AC_OK)
            return rc;
        s = ollama_get_string(obj, "response");
        if (s && *s && (rc = ollama_host->emit_text(k, s, strlen(s))) != AC_OK)
            return rc;
    }

    if (json_object_object_get_ex(obj, "done", &v) &&
        json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v)) {
        long in = ollama_get_count(obj, "prompt_eval_count");
        long out = ollama_get_count(obj, "eval_count");
        const char *raw = ollama_get_string(obj, "done_reason");
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
                             ac_sink *k, ac_error *err)
{
    ollama_stream tmp, *ss = &tmp;
    void **slot;
    json_object *obj;
    ac_status rc;
    size_t i;

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
            if (!fresh) {
                ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL,
                                       "ollama: out of memory");
                return AC_ENOMEM;
            }
            memset(fresh, 0, sizeof *fresh);
            *slot = fresh;
        }
        ss = *slot;
    }

    obj = ollama_host->json_parse(ev->data, ev->data_len, "stream line", err);
    if (!obj)
        return err && err->code != AC_OK ? err->code : AC_EJSON;
    rc = ollama_handle(obj, ss, "stream", k, err);
    json_object_put(obj);
    return rc;
}

void ollama_stream_free(void *state, void *stream_state)
{
    ollama_host->free(stream_state);
}

/* A non-streamed reply is one finished object: without "done": true it
 * was cut short or is not Ollama's. */
static ac_status ollama_check_done(ac_status rc, const ollama_stream *ss,
                                   ac_error *err)
{
    if (rc == AC_OK && !ss->done) {
        ollama_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                               "ollama: the reply did not finish (no \"done\": true)");
        return AC_EPROTOCOL;
    }
    return rc;
}

ac_status ollama_parse_response(void *state, int http_status,
                                const char *body, size_t len,
                                ac_sink *k, ac_error *err)
{
    ollama_stream ss;
    json_object *obj;
    ac_error first;
    ac_status rc = AC_OK;
    size_t start, end;

    memset(&ss, 0, sizeof ss);
    memset(&first, 0, sizeof first);
    obj = ollama_host->json_parse(body ? body : "", body ? len : 0, "response body",
                                  &first);
    if (obj) {
        rc = ollama_handle(obj, &ss, "response", k, err);
        json_object_put(obj);
        return ollama_check_done(rc, &ss, err);
    }
    /* A server or proxy that ignored "stream": false sends NDJSON: take it
     * line by line rather than fail a good reply.  If any line is not JSON,
     * the body was just bad: report the first error. */
    if (!body || !memchr(body, '\n', len))
        goto bad;
    for (start = 0; start < len && rc == AC_OK; start = end + 1) {
        const char *nl = memchr(body + start, '\n', len - start);
        end = nl ? (size_t)(nl - body) : len;
        size_t i = start;
        while (i < end && isspace((unsigned char)body[i]))
            i++;
        if (i == end)
            continue;
        ac_error scratch;
        memset(&scratch, 0, sizeof scratch);
        obj = ollama_host->json_parse(body + start, end - start, "response line",
                                      &scratch);
        if (!obj)
            goto bad;
        rc = ollama_handle(obj, &ss, "response", k, err);
        json_object_put(obj);
    }
    return ollama_check_done(rc, &ss, err);
bad:
    if (err)
        *err = first;
    return first.code != AC_OK ? first.code : AC_EJSON;
}

/* The core filled err from the status; put the server's words in the
 * message, keeping everything else it set. */
void ollama_parse_error(void *state, int http_status, const char *body,
                        size_t len, ac_error *err)
{
    char text[OLLAMA_EXCERPT_MAX + 8];
    json_object *obj = NULL, *e;
    ac_error saved, scratch;

    if (!err)
        return;
    saved = *err;
    text[0] = '\0';
    if (body && len > 0) {
        memset(&scratch, 0, sizeof scratch);
        obj = ollama_host->json_parse(body, len, "error body", &scratch);
        if (obj && json_object_is_type(obj, json_type_object) &&
            json_object_object_get_ex(obj, "error", &e) && e)
            ollama_error_text(e, text, sizeof text);
        else
            ollama_excerpt(body, len, text, sizeof text);
        json_object_put(obj);
    }
    if (!text[0] && len > 0)
        snprintf(text, sizeof text, "a response body of %zu bytes without "
                 "readable text", len);
    else if (!text[0])
        snprintf(text, sizeof text, "empty response body");
    ollama_host->error_set(err, saved.code, saved.stage, "HTTP %d: %s", http_status,
                           text);
    /* A proxy in front of ollama.com may quote the key it was sent: blank
     * it ("Bearer " + key is the header we hold).  Short keys are left
     * alone, as replacing them would mangle ordinary words. */
    const ollama_state *st = state;
    const char *key = st && st->auth ? st->auth + 7 : NULL;
    size_t klen = key ? strlen(key) : 0;
    char *p;
    while (klen >= 6 && (p = strstr(err->message, key)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + klen, strlen(p + klen) + 1);
    }
    err->http_status = saved.http_status;
    err->retryable = saved.retryable;
    err->retry_after_ms = saved.retry_after_ms;
    /* Ollama answers 500 when a model does not fit in memory: the same
     * request will fail the same way. */
    if (ollama_contains(text, "requires more system memory"))
        err->retryable = 0;
}

/* GET /api/tags: {"models":[{"name":"llama3.2:latest","model":...},...]} */
ac_status ollama_parse_models(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_error *err)
{
    json_object *obj, *models;
    ac_status rc = AC_OK;
    size_t n;

    obj = ollama_host->json_parse(body ? body : "", body ? len : 0, "model list", err);
    if (!obj)
        return err && err->code != AC_OK ? err->code : AC_EJSON;
    if (!json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, "models", &models) ||
        !json_object_is_type(models, json_type_array)) {
        ollama_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                               "ollama: the model list has no \"models\" array");
        rc = AC_EPROTOCOL;
        goto done;
    }
    n = json_object_array_length(models);
    for (size_t i = 0; i < n && rc == AC_OK; i++) {
        json_object *m = json_object_array_get_idx(models, i);
        const char *id = ollama_get_string(m, "name");
        if (!id || !*id)
            id = ollama_get_string(m, "model");
        if (id && *id)
            rc = ollama_host->models_add(out, id);
    }
    if (rc != AC_OK)
        ollama_host->error_set(err, rc, AC_STAGE_PROTOCOL,
                               "ollama: could not store the model list");
done:
    json_object_put(obj);
    return rc;
}

