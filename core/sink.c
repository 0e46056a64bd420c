/*
 * sink.c -- accumulating a plugin's output into a response and events.
 * See sink.h for the rules it keeps.
 */
#include "sink.h"
#include "alloc.h"
#include "error.h"
#include "relay.h"
#include "tools/toolparse.h"

#include <json-c/json.h>
#include <string.h>

static void deliver(ac_sink *k, ac_chunk *c)
{
    if (!c->text) {
        c->text = "";
        c->len = 0;
    }
    if (!c->data)
        c->data = "";
    if (c->type != AC_EVENT_USAGE)
        c->input_tokens = c->output_tokens = -1;
    k->delivered++;
    if (k->on_event)
        k->on_event(k->ctx, c);
}

void ac__sink_init(ac_sink *k, ac_response *resp, const ac_provider *vt, void *pstate,
               sink_event_fn fn, void *ctx)
{
    memset(k, 0, sizeof *k);
    k->resp = resp;
    k->vt = vt;
    k->pstate = pstate;
    k->on_event = fn;
    k->ctx = ctx;
}

static void stream_state_free(ac_sink *k)
{
    if (k->stream_state && k->vt && k->vt->stream_free)
        k->vt->stream_free(k->pstate, k->stream_state);
    k->stream_state = NULL;
}

void ac__sink_cleanup(ac_sink *k) { stream_state_free(k); }

void ac__sink_reset(ac_sink *k)
{
    stream_state_free(k);
    ac__response_reset(k->resp);
    k->delivered = 0;
    k->finish_seen = 0;
    k->held = 0;
    ac__toolparse_free(k->tp); /* the next text makes a new one */
    k->tp = NULL;
    k->tp_calls = 0;
}

void ac__sink_parse_tools(ac_sink *k, int family, const char **names, size_t n,
                          size_t max_call)
{
    ac__free(k->tp_names);
    k->tp_on = 1;
    k->tp_family = family;
    k->tp_names = names;
    k->tp_n = n;
    k->tp_max = max_call;
}

void ac__sink_release(ac_sink *k)
{
    ac__toolparse_free(k->tp);
    k->tp = NULL;
    ac__free(k->tp_names);
    k->tp_names = NULL;
    k->tp_on = 0;
}

void **ac__sink_stream_slot(ac_sink *k) { return &k->stream_state; }

static ac_status too_big(void) { return AC_ETOOBIG; }

/* Room for n more bytes in the response as a whole?  The limit is the one
 * every buffer of the response has (max_response_bytes; 0: none).  Only a
 * check: the caller adds n to held once the bytes are stored. */
static ac_status sink_room(const ac_sink *k, size_t n)
{
    size_t limit = k->resp->content.limit;
    if (limit && (n > limit || k->held > limit - n))
        return AC_ETOOBIG;
    return AC_OK;
}

/* Text as it reaches the caller (after the tool-call parser, if any). */
static ac_status text_out(ac_sink *k, const char *s, size_t n)
{
    if (!s || !n)
        return AC_OK;
    if (sink_room(k, n) != AC_OK)
        return too_big();
    size_t at = k->resp->content.len;
    int rc = ac__buf_append(&k->resp->content, s, n);
    if (rc)
        return rc == -2 ? too_big() : AC_ENOMEM;
    k->held += n;
    ac_chunk c = {.type = AC_EVENT_TEXT, .text = k->resp->content.data + at, .len = n};
    deliver(k, &c);
    return AC_OK;
}

/* ---- prompted tools: the parser's outputs ---- */

static ac_status tp_text(void *ctx, const char *s, size_t n, ac_error *err)
{
    (void)err;
    return text_out(ctx, s, n);
}

static ac_status tp_call(void *ctx, const ac__toolcall *c, ac_error *err)
{
    (void)err;
    ac_sink *k = ctx;
    /* Keys no backend's own numbering reaches. */
    int key = 1000000 + k->tp_calls++;
    ac_status st = ac__sink_emit_tool_call(k, key, c->id, c->name, c->args, c->args_len, 1);
    return st == AC_OK ? ac__sink_emit_tool_call_end(k, key) : st;
}

static ac_status tp_bad(void *ctx, ac__toolbad why, const char *raw, size_t n, ac_error *err)
{
    (void)err;
    ac_sink *k = ctx;
    /* The model meant a call the library could not read: the caller sees
     * the text, and a warning says so. */
    ac_status st = text_out(k, raw, n);
    if (st == AC_OK &&
        ac__response_warn(k->resp, "%s tool call in the reply text could not be read: %.*s%s",
                          why == AC__TB_UNTERMINATED ? "an unterminated" : "a malformed",
                          (int)(n > 120 ? 120 : n), raw, n > 120 ? "..." : "") < 0)
        st = AC_ENOMEM;
    return st;
}

static const ac__toolparse_cb tp_cb = { tp_text, tp_call, tp_bad };

ac_status ac__sink_emit_text(ac_sink *k, const char *s, size_t n)
{
    if (k->relay)
        return s && n ? ac__relay_emit(k->relay, RELAY_TEXT, 0, s, n, NULL, NULL, 0, 0, 0) : AC_OK;
    if (s && n)
        k->progress++;
    if (!k->tp_on)
        return text_out(k, s, n);
    if (!s || !n)
        return AC_OK;
    if (!k->tp && !(k->tp = ac__toolparse_new((ac__toolfam)k->tp_family, k->tp_names, k->tp_n,
                                              k->tp_max)))
        return AC_ENOMEM;
    ac_error e;
    return ac__toolparse_feed(k->tp, s, n, &tp_cb, k, &e);
}

ac_status ac__sink_emit_reasoning(ac_sink *k, const char *s, size_t n)
{
    if (k->relay)
        return s && n ? ac__relay_emit(k->relay, RELAY_REASONING, 0, s, n, NULL, NULL, 0, 0, 0)
                      : AC_OK;
    if (!s || !n)
        return AC_OK;
    k->progress++;
    if (sink_room(k, n) != AC_OK)
        return too_big();
    size_t at = k->resp->reasoning.len;
    int rc = ac__buf_append(&k->resp->reasoning, s, n);
    if (rc)
        return rc == -2 ? too_big() : AC_ENOMEM;
    k->held += n;
    ac_chunk c = {.type = AC_EVENT_REASONING, .data = k->resp->reasoning.data + at,
                  .data_len = n};
    deliver(k, &c);
    return AC_OK;
}

static tool_call_acc *call_find(ac_response *r, int key, size_t *idx)
{
    for (size_t i = 0; i < r->n_calls; i++)
        if (r->calls[i].key == key) {
            *idx = i;
            return &r->calls[i];
        }
    return NULL;
}

ac_status ac__sink_emit_tool_call(ac_sink *k, int key, const char *id, const char *name,
                              const char *args, size_t n, int complete)
{
    if (k->relay)
        return ac__relay_emit(k->relay, RELAY_TOOL_CALL, key, id, id ? strlen(id) : 0, name,
                              args, args ? n : 0, complete, 0);
    ac_response *r = k->resp;
    size_t idx;
    tool_call_acc *tc = call_find(r, key, &idx);
    /* A fragment with nothing in it changes nothing; anything else does
     * (a new call, its id or name, argument bytes, whole arguments). */
    if (!tc || tc->ended || (id && *id) || (name && *name) || (args && n) || complete)
        k->progress++;
    if (tc && tc->ended) {
        /* A backend that reuses a key after ending the call (whole calls
         * sent again) starts a new one. */
        tc = NULL;
        key = -1000000 - (int)r->n_calls;
    }
    if (!tc) {
        if (r->n_calls >= 1024)
            return AC_ETOOBIG;
        size_t idn = id ? strlen(id) : 0, namen = name ? strlen(name) : 0;
        if (sink_room(k, idn + namen) != AC_OK)
            return AC_ETOOBIG;
        tool_call_acc *v = ac__realloc(r->calls, (r->n_calls + 1) * sizeof *v);
        if (!v)
            return AC_ENOMEM;
        r->calls = v;
        idx = r->n_calls;
        tc = &r->calls[idx];
        memset(tc, 0, sizeof *tc);
        tc->key = key;
        tc->args.limit = r->content.limit;
        r->n_calls++;
        if ((id && ac__response_set_str(&tc->id, id)) || (name && ac__response_set_str(&tc->name, name)))
            return AC_ENOMEM;
        k->held += idn + namen;
        ac_chunk c = {.type = AC_EVENT_TOOL_CALL_START, .index = (int)idx,
                      .tool_call_id = tc->id ? tc->id : "", .tool_name = tc->name ? tc->name : ""};
        deliver(k, &c);
    } else {
        /* id and name come from the first fragment that has them. */
        if (id && *id && (!tc->id || !*tc->id)) {
            if (sink_room(k, strlen(id)) != AC_OK)
                return AC_ETOOBIG;
            if (ac__response_set_str(&tc->id, id))
                return AC_ENOMEM;
            k->held += strlen(id);
        }
        if (name && *name && (!tc->name || !*tc->name)) {
            if (sink_room(k, strlen(name)) != AC_OK)
                return AC_ETOOBIG;
            if (ac__response_set_str(&tc->name, name))
                return AC_ENOMEM;
            k->held += strlen(name);
        }
    }
    if (complete) {
        /* Whole arguments replace what came before: they no longer count. */
        k->held -= tc->args.len < k->held ? tc->args.len : k->held;
        ac__buf_reset(&tc->args);
    }
    if (args && n) {
        if (sink_room(k, n) != AC_OK)
            return AC_ETOOBIG;
        size_t at = tc->args.len;
        int rc = ac__buf_append(&tc->args, args, n);
        if (rc)
            return rc == -2 ? AC_ETOOBIG : AC_ENOMEM;
        k->held += n;
        ac_chunk c = {.type = AC_EVENT_TOOL_CALL_DELTA, .index = (int)idx,
                      .data = tc->args.data + at, .data_len = n,
                      .tool_call_id = tc->id ? tc->id : "", .tool_name = tc->name ? tc->name : ""};
        deliver(k, &c);
    }
    return AC_OK;
}

/* Arguments must be a JSON object; "" and null mean "no arguments". */
static int args_valid(buf *b)
{
    size_t i = 0;
    while (i < b->len && (b->data[i] == ' ' || b->data[i] == '\n' || b->data[i] == '\t' ||
                          b->data[i] == '\r'))
        i++;
    if (i == b->len || (b->len - i == 4 && memcmp(b->data + i, "null", 4) == 0)) {
        ac__buf_reset(b);
        return ac__buf_appends(b, "{}") == 0;
    }
    json_tokener *t = json_tokener_new();
    if (!t)
        return 0;
    json_object *o = json_tokener_parse_ex(t, b->data, (int)b->len);
    int ok = o && json_tokener_get_error(t) == json_tokener_success &&
             json_object_is_type(o, json_type_object) &&
             (size_t)json_tokener_get_parse_end(t) >= i;
    /* Nothing but white space may follow the object. */
    if (ok)
        for (size_t j = json_tokener_get_parse_end(t); j < b->len; j++)
            if (b->data[j] != ' ' && b->data[j] != '\n' && b->data[j] != '\r' && b->data[j] != '\t')
                ok = 0;
    json_object_put(o);
    json_tokener_free(t);
    return ok;
}

static void call_end(ac_sink *k, size_t idx)
{
    tool_call_acc *tc = &k->resp->calls[idx];
    if (tc->ended)
        return;
    tc->ended = 1;
    tc->truncated = !args_valid(&tc->args);
    ac_chunk c = {.type = AC_EVENT_TOOL_CALL_END, .index = (int)idx,
                  .tool_call_id = tc->id ? tc->id : "", .tool_name = tc->name ? tc->name : "",
                  .data = tc->args.len ? tc->args.data : "{}",
                  .data_len = tc->args.len ? tc->args.len : 2, .truncated = tc->truncated};
    deliver(k, &c);
}

ac_status ac__sink_emit_tool_call_end(ac_sink *k, int key)
{
    if (k->relay)
        return ac__relay_emit(k->relay, RELAY_TOOL_CALL_END, key, NULL, 0, NULL, NULL, 0, 0, 0);
    size_t idx;
    if (call_find(k->resp, key, &idx) && !k->resp->calls[idx].ended) {
        k->progress++;
        call_end(k, idx);
    }
    return AC_OK;
}

ac_status ac__sink_emit_usage(ac_sink *k, long in, long out)
{
    if (k->relay)
        return ac__relay_emit(k->relay, RELAY_USAGE, 0, NULL, 0, NULL, NULL, 0, in, out);
    /* The same counts again (OpenAI's usage on every chunk) are no news. */
    if ((in >= 0 && in != k->resp->input_tokens) || (out >= 0 && out != k->resp->output_tokens))
        k->progress++;
    if (in >= 0)
        k->resp->input_tokens = in;
    if (out >= 0)
        k->resp->output_tokens = out;
    return AC_OK;
}

ac_status ac__sink_emit_finish(ac_sink *k, const char *normalized, const char *raw)
{
    if (k->relay)
        return ac__relay_emit(k->relay, RELAY_FINISH, 0, normalized,
                              normalized ? strlen(normalized) : 0, raw, NULL, 0, 0, 0);
    if (!normalized || !*normalized)
        normalized = "stop";
    k->progress++;
    if (ac__response_set_str(&k->resp->finish, normalized) ||
        ac__response_set_str(&k->resp->raw_finish, raw ? raw : ""))
        return AC_ENOMEM;
    k->finish_seen = 1;
    return AC_OK;
}

ac_status ac__sink_emit_model(ac_sink *k, const char *model)
{
    if (k->relay)
        return ac__relay_emit(k->relay, RELAY_MODEL, 0, model, model ? strlen(model) : 0, NULL,
                              NULL, 0, 0, 0);
    if (!model || !*model)
        return AC_OK;
    return ac__response_set_str(&k->resp->model, model) ? AC_ENOMEM : AC_OK;
}

ac_status ac__sink_complete(ac_sink *k, int require_finish, ac_error *err)
{
    ac_response *r = k->resp;
    if (k->tp) {
        ac_status st = ac__toolparse_finish(k->tp, &tp_cb, k, err);
        ac__toolparse_free(k->tp);
        k->tp = NULL;
        if (st != AC_OK) {
            if (err && err->code == AC_OK)
                ac__error_set(err, st, AC_STAGE_PROTOCOL, "reading tool calls out of the reply: "
                              "%s", ac_strerror(st));
            return st;
        }
    }
    for (size_t i = 0; i < r->n_calls; i++)
        call_end(k, i);
    if (require_finish && !k->finish_seen) {
        ac__error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                  "stream ended before the backend said it was finished (truncated after %zu bytes of text)",
                  r->content.len);
        return AC_EPROTOCOL;
    }
    if (!k->finish_seen)
        ac__sink_emit_finish(k, r->n_calls ? "tool_calls" : "stop", NULL);
    /* A backend that reports tool calls but says "stop" (Ollama, or calls
     * read out of the text) still finished with tool calls. */
    if (r->n_calls && r->finish && strcmp(r->finish, "stop") == 0 &&
        ac__response_set_str(&r->finish, "tool_calls"))
        return AC_ENOMEM;
    return AC_OK;
}

void ac__sink_deliver_end(ac_sink *k, const char *json, size_t json_len)
{
    ac_response *r = k->resp;
    if (r->input_tokens >= 0 || r->output_tokens >= 0) {
        ac_chunk u = {.type = AC_EVENT_USAGE, .input_tokens = r->input_tokens,
                      .output_tokens = r->output_tokens};
        deliver(k, &u);
    }
    ac_chunk f = {.type = AC_EVENT_FINISH, .finish_reason = r->finish,
                  .raw_finish_reason = r->raw_finish, .json = json, .json_len = json_len};
    deliver(k, &f);
}

ac_status ac__sink_finalize(ac_sink *k, int require_finish, ac_error *err)
{
    ac_status st = ac__sink_complete(k, require_finish, err);
    if (st == AC_OK)
        ac__sink_deliver_end(k, NULL, 0);
    return st;
}

void ac__sink_restart_event(ac_sink *k, const ac_error *err)
{
    ac_chunk c = {.type = AC_EVENT_RESTART, .error = err};
    deliver(k, &c);
}

void ac__sink_fail(ac_sink *k, const ac_error *err)
{
    if (!k->resp->finish || !k->finish_seen)
        ac__response_set_str(&k->resp->finish, "error");
    ac_chunk c = {.type = AC_EVENT_ERROR, .error = err};
    deliver(k, &c);
}
