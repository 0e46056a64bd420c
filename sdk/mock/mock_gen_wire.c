/*
 * mock_gen_wire.c -- the bytes of each stage of a reply, in each protocol:
 * OpenAI chat.completion(.chunk) SSE, Anthropic message events, Ollama
 * NDJSON lines, and the three non-stream bodies.  The stage machine that
 * decides which stage comes next is mock_gen.c; see mock_gen_int.h.
 *
 * Shapes (docs/protocols.md, fixtures openai_chat_stream_*.sse,
 * anthropic_stream_tool_use_live.sse, ollama_chat_stream_*.pretty.txt).
 * Every JSON text is built with json-c, so reply text is always escaped;
 * json-c copies bytes >= 0x80 as they are, which is how invalid_utf8
 * reaches the wire.  Pure functions of the generator, no I/O.
 */
#include <config.h>

#include "mock_gen_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void gen_rfc3339(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%09ldZ", (long)ts.tv_nsec);
}

/* ---- OpenAI ---- */

/* {"index":t, "id", "type", "function":{"name", "arguments"}}; name_mode
   0 leaves id/type/name out, 1 sends the name, 2 sends name:null (TGI). */
static json_object *gen_oa_tool(const mock_gen *g, size_t t, int name_mode, const char *args,
                                size_t args_len)
{
    const mock_tool_call *tc = &g->sc->tools[t];
    json_object *o = json_object_new_object(), *fn = NULL;
    bool ok = o && mock_j_int(o, "index", (long long)t);
    if (ok && name_mode)
        ok = mock_j_str(o, "id", tc->id) && mock_j_str(o, "type", "function");
    ok = ok && (fn = json_object_new_object()) && mock_j_add(o, "function", fn);
    if (ok && name_mode == 1)
        ok = mock_j_str(fn, "name", tc->name);
    if (ok && name_mode == 2)
        ok = mock_j_null(fn, "name");
    ok = ok && mock_j_add(fn, "arguments", json_object_new_string_len(args, (int)args_len));
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* A delta {"tool_calls":[call]} (call consumed), with TGI's extras. */
static json_object *gen_oa_tool_delta(const mock_gen *g, json_object *call)
{
    json_object *d = json_object_new_object(), *arr = NULL;
    bool ok = d != NULL;
    if (ok && g->sc->quirk == MOCK_QUIRK_TGI)
        ok = mock_j_str(d, "role", "assistant") && mock_j_null(d, "content");
    ok = ok && (arr = json_object_new_array()) && mock_j_add(d, "tool_calls", arr);
    if (!ok || !mock_j_push(arr, call)) {
        if (!ok)
            json_object_put(call);
        json_object_put(d);
        return NULL;
    }
    return d;
}

/* "data: {chunk}\n\n" around a delta (consumed). */
static int gen_oa_chunk(const mock_gen *g, json_object *delta, const char *finish, mock_buf *out)
{
    bool tgi = g->sc->quirk == MOCK_QUIRK_TGI;
    json_object *ch = json_object_new_object(), *c = NULL, *choices = NULL;
    int rc;

    if (!ch || !mock_j_int(ch, "index", 0)) {
        json_object_put(delta);
        json_object_put(ch);
        return -1;
    }
    /* From here ch owns delta (mock_j_add releases it on failure). */
    if (!mock_j_add(ch, "delta", delta) || !mock_j_null(ch, "logprobs") ||
        !(finish ? mock_j_str(ch, "finish_reason", finish) : mock_j_null(ch, "finish_reason"))) {
        json_object_put(ch);
        return -1;
    }
    if (!(c = json_object_new_object()) || !mock_j_str(c, "id", tgi ? "" : g->id) ||
        !mock_j_str(c, "object", "chat.completion.chunk") || !mock_j_int(c, "created", g->created) ||
        !mock_j_str(c, "model", g->model) || !mock_j_str(c, "system_fingerprint", "fp_mock") ||
        !(choices = json_object_new_array()) || !mock_j_add(c, "choices", choices)) {
        json_object_put(ch);
        json_object_put(c);
        return -1;
    }
    rc = -1;
    /* With include_usage every chunk carries "usage": null (openai-python). */
    if (mock_j_push(choices, ch) && (!(g->include_usage || tgi) || mock_j_null(c, "usage")))
        rc = mock_buf_json(out, "data: ", c, "\n\n");
    json_object_put(c);
    return rc;
}

static json_object *gen_oa_usage(const mock_gen *g)
{
    json_object *u = json_object_new_object();
    if (u && mock_j_int(u, "prompt_tokens", g->prompt_tokens) &&
        mock_j_int(u, "completion_tokens", g->completion_tokens) &&
        mock_j_int(u, "total_tokens", g->prompt_tokens + g->completion_tokens))
        return u;
    json_object_put(u);
    return NULL;
}

/* A chunk with "choices": [] -- the usage chunk, or (endless = "empty")
   one that carries nothing at all. */
static int gen_oa_no_choices(const mock_gen *g, bool usage, mock_buf *out)
{
    json_object *c = json_object_new_object(), *arr = NULL;
    int rc = -1;
    if (c && mock_j_str(c, "id", g->sc->quirk == MOCK_QUIRK_TGI ? "" : g->id) &&
        mock_j_str(c, "object", "chat.completion.chunk") && mock_j_int(c, "created", g->created) &&
        mock_j_str(c, "model", g->model) && mock_j_str(c, "system_fingerprint", "fp_mock") &&
        (arr = json_object_new_array()) && mock_j_add(c, "choices", arr) &&
        (!usage || mock_j_add(c, "usage", gen_oa_usage(g))))
        rc = mock_buf_json(out, "data: ", c, "\n\n");
    json_object_put(c);
    return rc;
}

static int gen_oa_error(const mock_gen *g, mock_buf *out)
{
    json_object *o = json_object_new_object(), *e = NULL;
    int rc = -1;
    if (o && (e = json_object_new_object()) && mock_j_add(o, "error", e) &&
        mock_j_str(e, "message", g->sc->stream_error) &&
        mock_j_str(e, "type", g->sc->error_type ? g->sc->error_type : "server_error") &&
        mock_j_null(e, "param") && mock_j_null(e, "code"))
        rc = mock_buf_json(out, "data: ", o, "\n\n");
    json_object_put(o);
    return rc;
}

int mock_gen_oa_next(mock_gen *g, mock_buf *out)
{
    const mock_scenario *sc = g->sc;
    json_object *d = NULL;
    size_t from, len;
    char line[64];

    switch (g->stage) {
    case G_PRE:
        if (sc->quirk == MOCK_QUIRK_TGI)
            return mock_buf_puts(out, ":\n\n"); /* axum KeepAlive */
        snprintf(line, sizeof line, ": keepalive %zu/%zu\n\n", g->i + 1, mock_gen_npre(g));
        return mock_buf_puts(out, line); /* mlx_lm.server prompt progress */
    case G_START:
        d = json_object_new_object();
        if (d && !(mock_j_str(d, "role", "assistant") && mock_j_str(d, "content", "") &&
                   mock_j_null(d, "refusal"))) {
            json_object_put(d);
            d = NULL;
        }
        return d ? gen_oa_chunk(g, d, NULL, out) : -1;
    case G_TEXT:
        from = mock_gen_piece(g->cuts, g->i, &len);
        d = json_object_new_object();
        if (d && !((sc->quirk != MOCK_QUIRK_TGI || mock_j_str(d, "role", "assistant")) &&
                   mock_j_add(d, "content", json_object_new_string_len(g->text + from, (int)len)))) {
            json_object_put(d);
            d = NULL;
        }
        return d ? gen_oa_chunk(g, d, NULL, out) : -1;
    case G_TOOL_START: {
        const char *a = sc->quirk == MOCK_QUIRK_MLX ? sc->tools[g->t].arguments : "";
        d = gen_oa_tool_delta(g, gen_oa_tool(g, g->t, 1, a, strlen(a)));
        return d ? gen_oa_chunk(g, d, NULL, out) : -1;
    }
    case G_TOOL_FRAG: {
        from = mock_gen_piece(g->tcuts[g->t], g->i, &len);
        int mode = sc->quirk == MOCK_QUIRK_TGI ? (g->i == 0 ? 1 : 2) : 0;
        d = gen_oa_tool_delta(g, gen_oa_tool(g, g->t, mode, sc->tools[g->t].arguments + from, len));
        return d ? gen_oa_chunk(g, d, NULL, out) : -1;
    }
    case G_FINISH:
        if (g->error)
            return gen_oa_error(g, out);
        d = json_object_new_object();
        return d ? gen_oa_chunk(g, d, mock_gen_finish(g), out) : -1;
    case G_USAGE:
        return gen_oa_no_choices(g, true, out);
    case G_EMPTY:
        /* Nothing, two ways: a chunk without choices, then a comment. */
        if (g->i % 2)
            return mock_buf_puts(out, ": ping\n\n");
        return gen_oa_no_choices(g, false, out);
    case G_STOP:
        return mock_buf_puts(out, "data: [DONE]\n\n");
    default:
        return 0;
    }
}

int mock_gen_oa_body(mock_gen *g, mock_buf *out)
{
    const mock_scenario *sc = g->sc;
    json_object *o = json_object_new_object(), *choices = NULL, *ch = NULL, *msg = NULL;
    json_object *calls = NULL;
    int rc = -1;
    bool ok = o && mock_j_str(o, "id", g->id) && mock_j_str(o, "object", "chat.completion") &&
              mock_j_int(o, "created", g->created) && mock_j_str(o, "model", g->model) &&
              (choices = json_object_new_array()) && mock_j_add(o, "choices", choices) &&
              (ch = json_object_new_object()) && mock_j_push(choices, ch) &&
              mock_j_int(ch, "index", 0) && (msg = json_object_new_object()) &&
              mock_j_add(ch, "message", msg) && mock_j_str(msg, "role", "assistant");
    /* LM Studio leaves "content" out of tool-call replies entirely. */
    if (ok && !(sc->ntools && sc->quirk == MOCK_QUIRK_LMSTUDIO)) {
        ok = (g->text_len || !sc->ntools ? mock_j_str(msg, "content", g->text)
                                         : mock_j_null(msg, "content")) &&
             mock_j_null(msg, "refusal");
    }
    if (ok && sc->ntools)
        ok = (calls = json_object_new_array()) && mock_j_add(msg, "tool_calls", calls);
    for (size_t t = 0; ok && t < sc->ntools; t++) {
        json_object *c = gen_oa_tool(g, t, 1, sc->tools[t].arguments, strlen(sc->tools[t].arguments));
        /* Non-stream calls carry no index (openai_chat_response_parallel_tool_calls.json). */
        if (c)
            json_object_object_del(c, "index");
        ok = mock_j_push(calls, c);
    }
    ok = ok && mock_j_null(ch, "logprobs") && mock_j_str(ch, "finish_reason", mock_gen_finish(g)) &&
         mock_j_add(o, "usage", gen_oa_usage(g)) && mock_j_str(o, "system_fingerprint", "fp_mock");
    if (ok)
        rc = mock_buf_json(out, "", o, "");
    json_object_put(o);
    return rc;
}

/* ---- Anthropic ---- */

/* "event: TYPE\ndata: {"type":TYPE,...}\n\n"; o is consumed. */
static int gen_an_event(const char *type, json_object *o, mock_buf *out)
{
    int rc = -1;
    if (o) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "event: %s\ndata: ", type);
        rc = mock_buf_json(out, prefix, o, "\n\n");
    }
    json_object_put(o);
    return rc;
}

static json_object *gen_an_obj(const char *type)
{
    json_object *o = json_object_new_object();
    if (o && !mock_j_str(o, "type", type)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *gen_an_tool_block(const mock_gen *g, size_t t, bool with_input)
{
    json_object *b = gen_an_obj("tool_use");
    bool ok = b && mock_j_str(b, "id", g->sc->tools[t].id) &&
              mock_j_str(b, "name", g->sc->tools[t].name) &&
              mock_j_add(b, "input", with_input ? mock_gen_args_obj(g, t) : json_object_new_object());
    return mock_gen_keep(b, ok);
}

static json_object *gen_an_usage(const mock_gen *g, bool with_input, long long output)
{
    json_object *u = json_object_new_object();
    bool ok = u && (!with_input || mock_j_int(u, "input_tokens", g->prompt_tokens)) &&
              mock_j_int(u, "output_tokens", output);
    return mock_gen_keep(u, ok);
}

int mock_gen_an_next(mock_gen *g, mock_buf *out)
{
    const mock_scenario *sc = g->sc;
    json_object *o = NULL, *x = NULL;
    size_t from, len, block = (g->ncuts ? 1 : 0) + g->t;
    bool ok;

    switch (g->stage) {
    case G_START:
        o = gen_an_obj("message_start");
        ok = o && (x = gen_an_obj("message")) && mock_j_add(o, "message", x) &&
             mock_j_str(x, "id", g->id) && mock_j_str(x, "role", "assistant") &&
             mock_j_str(x, "model", g->model) && mock_j_add(x, "content", json_object_new_array()) &&
             mock_j_null(x, "stop_reason") && mock_j_null(x, "stop_sequence") &&
             mock_j_add(x, "usage", gen_an_usage(g, true, 1));
        return gen_an_event("message_start", mock_gen_keep(o, ok), out);
    case G_TEXT_START:
        o = gen_an_obj("content_block_start");
        ok = o && mock_j_int(o, "index", 0) && (x = gen_an_obj("text")) &&
             mock_j_add(o, "content_block", x) && mock_j_str(x, "text", "");
        return gen_an_event("content_block_start", mock_gen_keep(o, ok), out);
    case G_PING:
        return gen_an_event("ping", gen_an_obj("ping"), out);
    case G_EMPTY:
        /* Nothing, two ways: a ping event, then a comment. */
        if (g->i % 2)
            return mock_buf_puts(out, ": ping\n\n");
        return gen_an_event("ping", gen_an_obj("ping"), out);
    case G_TEXT:
        from = mock_gen_piece(g->cuts, g->i, &len);
        o = gen_an_obj("content_block_delta");
        ok = o && mock_j_int(o, "index", 0) && (x = gen_an_obj("text_delta")) &&
             mock_j_add(o, "delta", x) &&
             mock_j_add(x, "text", json_object_new_string_len(g->text + from, (int)len));
        return gen_an_event("content_block_delta", mock_gen_keep(o, ok), out);
    case G_TEXT_STOP:
    case G_TOOL_STOP:
        o = gen_an_obj("content_block_stop");
        ok = o && mock_j_int(o, "index", g->stage == G_TEXT_STOP ? 0 : (long long)block);
        return gen_an_event("content_block_stop", mock_gen_keep(o, ok), out);
    case G_TOOL_START:
        o = gen_an_obj("content_block_start");
        ok = o && mock_j_int(o, "index", (long long)block) &&
             mock_j_add(o, "content_block", gen_an_tool_block(g, g->t, false));
        return gen_an_event("content_block_start", mock_gen_keep(o, ok), out);
    case G_TOOL_EMPTY:
    case G_TOOL_FRAG:
        from = 0;
        len = 0;
        if (g->stage == G_TOOL_FRAG)
            from = mock_gen_piece(g->tcuts[g->t], g->i, &len);
        o = gen_an_obj("content_block_delta");
        ok = o && mock_j_int(o, "index", (long long)block) &&
             (x = gen_an_obj("input_json_delta")) && mock_j_add(o, "delta", x) &&
             mock_j_add(x, "partial_json",
                        json_object_new_string_len(sc->tools[g->t].arguments + from, (int)len));
        return gen_an_event("content_block_delta", mock_gen_keep(o, ok), out);
    case G_FINISH:
        if (g->error) {
            o = gen_an_obj("error");
            ok = o && (x = json_object_new_object()) && mock_j_add(o, "error", x) &&
                 mock_j_str(x, "type", sc->error_type ? sc->error_type : "overloaded_error") &&
                 mock_j_str(x, "message", sc->stream_error);
            return gen_an_event("error", mock_gen_keep(o, ok), out);
        }
        o = gen_an_obj("message_delta");
        ok = o && (x = json_object_new_object()) && mock_j_add(o, "delta", x) &&
             mock_j_str(x, "stop_reason", mock_gen_finish(g)) && mock_j_null(x, "stop_sequence") &&
             mock_j_add(o, "usage", gen_an_usage(g, false, g->completion_tokens));
        return gen_an_event("message_delta", mock_gen_keep(o, ok), out);
    case G_STOP:
        return gen_an_event("message_stop", gen_an_obj("message_stop"), out);
    default:
        return 0;
    }
}

int mock_gen_an_body(mock_gen *g, mock_buf *out)
{
    json_object *o = gen_an_obj("message"), *content = NULL, *b = NULL;
    int rc = -1;
    bool ok = o && mock_j_str(o, "id", g->id) && mock_j_str(o, "role", "assistant") &&
              mock_j_str(o, "model", g->model) && (content = json_object_new_array()) &&
              mock_j_add(o, "content", content);
    if (ok && (g->text_len || !g->sc->ntools))
        ok = (b = gen_an_obj("text")) && mock_j_push(content, b) && mock_j_str(b, "text", g->text);
    for (size_t t = 0; ok && t < g->sc->ntools; t++)
        ok = mock_j_push(content, gen_an_tool_block(g, t, true));
    ok = ok && mock_j_str(o, "stop_reason", mock_gen_finish(g)) && mock_j_null(o, "stop_sequence") &&
         mock_j_add(o, "usage", gen_an_usage(g, true, g->completion_tokens));
    if (ok)
        rc = mock_buf_json(out, "", o, "");
    json_object_put(o);
    return rc;
}

/* ---- Ollama ---- */

/* {"model","created_at","message":{"role","content"[,"tool_calls"]},"done"...} */
static json_object *gen_ol_line(const mock_gen *g, const char *text, size_t len, bool tools,
                                bool done)
{
    char ts[64];
    json_object *o = json_object_new_object(), *m = NULL, *calls = NULL;
    gen_rfc3339(ts, sizeof ts);
    bool ok = o && mock_j_str(o, "model", g->model) && mock_j_str(o, "created_at", ts) &&
              (m = json_object_new_object()) && mock_j_add(o, "message", m) &&
              mock_j_str(m, "role", "assistant") &&
              mock_j_add(m, "content", json_object_new_string_len(text, (int)len));
    if (ok && tools)
        ok = (calls = json_object_new_array()) && mock_j_add(m, "tool_calls", calls);
    for (size_t t = 0; ok && tools && t < g->sc->ntools; t++) {
        json_object *c = json_object_new_object(), *fn = NULL;
        ok = mock_j_push(calls, c) && mock_j_str(c, "id", g->sc->tools[t].id) &&
             (fn = json_object_new_object()) && mock_j_add(c, "function", fn) &&
             mock_j_int(fn, "index", (long long)t) && mock_j_str(fn, "name", g->sc->tools[t].name) &&
             mock_j_add(fn, "arguments", mock_gen_args_obj(g, t));
    }
    ok = ok && mock_j_add(o, "done", json_object_new_boolean(done));
    if (ok && done) {
        /* Durations are nanoseconds (docs/protocols.md §3). */
        long long total = mock_gen_elapsed_ns(g), load = total / 10, pe = total / 10;
        ok = mock_j_str(o, "done_reason", mock_gen_finish(g)) && mock_j_int(o, "total_duration", total) &&
             mock_j_int(o, "load_duration", load) &&
             mock_j_int(o, "prompt_eval_count", g->prompt_tokens) &&
             mock_j_int(o, "prompt_eval_duration", pe) &&
             mock_j_int(o, "eval_count", g->completion_tokens) &&
             mock_j_int(o, "eval_duration", total - load - pe);
    }
    return mock_gen_keep(o, ok);
}

int mock_gen_ol_next(mock_gen *g, mock_buf *out)
{
    json_object *o;
    size_t from, len;
    int rc;

    switch (g->stage) {
    case G_TEXT:
        from = mock_gen_piece(g->cuts, g->i, &len);
        o = gen_ol_line(g, g->text + from, len, false, false);
        break;
    case G_EMPTY:
        /* NDJSON has no comments: a line whose content is empty. */
        o = gen_ol_line(g, "", 0, false, false);
        break;
    case G_TOOL_START:
        o = gen_ol_line(g, "", 0, true, false);
        break;
    case G_FINISH:
        if (g->error) {
            o = json_object_new_object();
            o = mock_gen_keep(o, o && mock_j_str(o, "error", g->sc->stream_error));
        } else {
            o = gen_ol_line(g, "", 0, false, true);
        }
        break;
    default:
        return 0;
    }
    rc = o ? mock_buf_json(out, "", o, "\n") : -1;
    json_object_put(o);
    return rc;
}


int mock_gen_ol_body(mock_gen *g, mock_buf *out)
{
    json_object *o = gen_ol_line(g, g->text, g->text_len, g->sc->ntools > 0, true);
    int rc = o ? mock_buf_json(out, "", o, "") : -1;
    json_object_put(o);
    return rc;
}
