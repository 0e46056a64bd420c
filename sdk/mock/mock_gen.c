/*
 * mock_gen.c -- the mock server's replies: one body, or a stream of events.
 *
 * A generator walks a fixed sequence of stages; stages that do not apply
 * to the protocol, the quirk or the reply (no text, no tools) are skipped,
 * so the position always names the next event to send.  The server asks
 * what kind that event is (mock_gen_peek) to pace it -- delay_ms between
 * content events, hang, drop_after_chunks -- and then takes its bytes
 * (mock_gen_next).  Events are produced one at a time, so a long reply
 * never sits in memory as a whole stream.
 *
 * Stream shapes (PROTOCOLS.md, fixtures openai_chat_stream_*.sse,
 * anthropic_stream_tool_use_live.sse, ollama_chat_stream_*.pretty.txt):
 *   OpenAI     role chunk, content deltas, tool calls (index/id/name first,
 *              then argument fragments), finish chunk, usage chunk if
 *              asked, [DONE]
 *   Anthropic  message_start, text block, ping, tool_use blocks with
 *              input_json_delta, message_delta, message_stop
 *   Ollama     content lines, one line with every tool call, done line
 */
#include <config.h>

#include "mock_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum gen_stage {
    G_PRE = 0,    /* OpenAI quirks: comments before the first chunk */
    G_START,      /* OpenAI role chunk / Anthropic message_start */
    G_TEXT_START, /* Anthropic content_block_start (text) */
    G_PING,       /* Anthropic ping */
    G_TEXT,       /* one text piece (index i) */
    G_TEXT_STOP,  /* Anthropic content_block_stop (text) */
    G_TOOL_START, /* tool call t begins (Ollama: all calls, once) */
    G_TOOL_EMPTY, /* Anthropic: the empty first input_json_delta */
    G_TOOL_FRAG,  /* argument fragment i of tool call t */
    G_TOOL_STOP,  /* Anthropic content_block_stop (tool) */
    G_FINISH,     /* finish chunk / message_delta / done line, or the error */
    G_USAGE,      /* OpenAI include_usage chunk */
    G_STOP,       /* OpenAI [DONE] / Anthropic message_stop */
    G_RAW,        /* raw bytes piece (index i) */
    G_END
};

struct mock_gen {
    mock_proto proto;
    const mock_scenario *sc;
    bool stream, include_usage, error, raw;
    char *model;
    char *text; /* reply text, or the raw bytes */
    size_t text_len;
    size_t *cuts; /* end offsets of the pieces of text */
    size_t ncuts;
    size_t **tcuts; /* per tool call: end offsets of argument fragments */
    size_t *ntcuts;
    json_object **targs; /* per tool call: arguments as an object, or NULL */
    long long prompt_tokens, completion_tokens;
    char id[64];
    long long created;
    struct timespec start;
    int stage;
    size_t t, i;
};

/* ---- setup ---- */

/* Split s into up to n pieces of about equal size, never inside a UTF-8
   sequence when utf8 is set (raw bytes are split anywhere, on purpose). */
static int gen_split(const char *s, size_t len, long n, bool utf8, size_t **cuts, size_t *ncuts)
{
    *cuts = NULL;
    *ncuts = 0;
    if (len == 0)
        return 0;
    if (n < 1)
        n = 1;
    if ((unsigned long)n > len)
        n = (long)len;
    size_t *c = malloc((size_t)n * sizeof *c);
    if (!c)
        return -1;
    size_t prev = 0, k = 0;
    for (long i = 1; i <= n; i++) {
        size_t end = i == n ? len : (size_t)((unsigned long long)len * (unsigned long long)i /
                                              (unsigned long long)n);
        while (utf8 && end < len && ((unsigned char)s[end] & 0xC0) == 0x80)
            end++;
        if (end > prev)
            c[k++] = prev = end;
    }
    *cuts = c;
    *ncuts = k;
    return 0;
}

/* ---- the stage machine ---- */

static size_t gen_npre(const mock_gen *g)
{
    if (g->proto != MOCK_PROTO_OPENAI)
        return 0;
    return g->sc->quirk == MOCK_QUIRK_TGI ? 1 : g->sc->quirk == MOCK_QUIRK_MLX ? 2 : 0;
}

static bool gen_applies(const mock_gen *g)
{
    bool oa = g->proto == MOCK_PROTO_OPENAI, an = g->proto == MOCK_PROTO_ANTHROPIC;
    bool ol = g->proto == MOCK_PROTO_OLLAMA;
    bool tool = g->sc->ntools > 0 && g->t < g->sc->ntools;
    mock_quirk q = g->sc->quirk;

    switch (g->stage) {
    case G_PRE: return g->i < gen_npre(g);
    case G_START: return oa || an;
    case G_TEXT_START:
    case G_TEXT_STOP: return an && g->ncuts > 0;
    case G_PING: return an;
    case G_TEXT: return g->i < g->ncuts;
    /* TGI has no separate start delta: its first fragment carries the name. */
    case G_TOOL_START: return tool && (an || (oa && q != MOCK_QUIRK_TGI) || (ol && g->t == 0));
    case G_TOOL_EMPTY: return tool && an;
    /* mlx sends each call whole in its start delta; Ollama never fragments. */
    case G_TOOL_FRAG: return tool && g->i < g->ntcuts[g->t] && (an || (oa && q != MOCK_QUIRK_MLX));
    case G_TOOL_STOP: return tool && an;
    case G_FINISH: return true;
    case G_USAGE: return oa && g->include_usage && !g->error;
    /* vLLM and TGI still send [DONE] after an in-stream error; Anthropic
       sends no message_stop after `event: error` (PROTOCOLS.md §1, §2). */
    case G_STOP: return oa || (an && !g->error);
    case G_RAW: return g->raw && g->i < g->ncuts;
    default: return true;
    }
}

/* Leave the current stage (it is done or does not apply). */
static void gen_skip(mock_gen *g)
{
    if (g->stage >= G_TOOL_START && g->stage <= G_TOOL_STOP) {
        if (g->t >= g->sc->ntools) {
            g->stage = G_FINISH;
            g->i = 0;
            return;
        }
        if (g->stage == G_TOOL_STOP) {
            g->t++;
            g->stage = G_TOOL_START;
            g->i = 0;
            return;
        }
    }
    g->stage = g->stage == G_RAW ? G_END : g->stage + 1;
    g->i = 0;
}

static void gen_settle(mock_gen *g)
{
    while (g->stage != G_END && !gen_applies(g))
        gen_skip(g);
}

static void gen_consume(mock_gen *g)
{
    if (g->stage == G_PRE || g->stage == G_TEXT || g->stage == G_TOOL_FRAG || g->stage == G_RAW)
        g->i++;
    else
        gen_skip(g);
    gen_settle(g);
}

/* ---- shared pieces ---- */

static size_t gen_piece(const size_t *cuts, size_t i, size_t *len)
{
    size_t from = i ? cuts[i - 1] : 0;
    *len = cuts[i] - from;
    return from;
}

/* finish_reason / stop_reason / done_reason in the protocol's own words;
   a scripted value is translated between the three vocabularies, and
   passed through when it is none of them. */
static const char *gen_finish(const mock_gen *g)
{
    const char *f = g->sc->finish_reason;
    int k; /* 0 stop, 1 length, 2 tools */
    if (!f)
        k = g->sc->ntools ? 2 : 0;
    else if (!strcmp(f, "stop") || !strcmp(f, "end_turn"))
        k = 0;
    else if (!strcmp(f, "length") || !strcmp(f, "max_tokens"))
        k = 1;
    else if (!strcmp(f, "tool_calls") || !strcmp(f, "tool_use"))
        k = 2;
    else
        return f;
    switch (g->proto) {
    case MOCK_PROTO_ANTHROPIC: return k == 0 ? "end_turn" : k == 1 ? "max_tokens" : "tool_use";
    /* Ollama has no tool finish reason: tool calls still end with "stop". */
    case MOCK_PROTO_OLLAMA: return k == 1 ? "length" : "stop";
    default: return k == 0 ? "stop" : k == 1 ? "length" : "tool_calls";
    }
}

/* Tool arguments as Anthropic/Ollama want them: an object (new ref). */
static json_object *gen_args_obj(const mock_gen *g, size_t t)
{
    if (g->targs[t])
        return json_object_get(g->targs[t]);
    return json_object_new_string(g->sc->tools[t].arguments);
}

static void gen_rfc3339(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%09ldZ", (long)ts.tv_nsec);
}

static long long gen_elapsed_ns(const mock_gen *g)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (long long)(now.tv_sec - g->start.tv_sec) * 1000000000LL +
                   (now.tv_nsec - g->start.tv_nsec);
    return ns > 0 ? ns : 1;
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

static int gen_oa_next(mock_gen *g, mock_buf *out)
{
    const mock_scenario *sc = g->sc;
    json_object *d = NULL;
    size_t from, len;
    char line[64];

    switch (g->stage) {
    case G_PRE:
        if (sc->quirk == MOCK_QUIRK_TGI)
            return mock_buf_puts(out, ":\n\n"); /* axum KeepAlive */
        snprintf(line, sizeof line, ": keepalive %zu/%zu\n\n", g->i + 1, gen_npre(g));
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
        from = gen_piece(g->cuts, g->i, &len);
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
        from = gen_piece(g->tcuts[g->t], g->i, &len);
        int mode = sc->quirk == MOCK_QUIRK_TGI ? (g->i == 0 ? 1 : 2) : 0;
        d = gen_oa_tool_delta(g, gen_oa_tool(g, g->t, mode, sc->tools[g->t].arguments + from, len));
        return d ? gen_oa_chunk(g, d, NULL, out) : -1;
    }
    case G_FINISH:
        if (g->error)
            return gen_oa_error(g, out);
        d = json_object_new_object();
        return d ? gen_oa_chunk(g, d, gen_finish(g), out) : -1;
    case G_USAGE: {
        json_object *c = json_object_new_object(), *arr = NULL;
        int rc = -1;
        if (c && mock_j_str(c, "id", sc->quirk == MOCK_QUIRK_TGI ? "" : g->id) &&
            mock_j_str(c, "object", "chat.completion.chunk") && mock_j_int(c, "created", g->created) &&
            mock_j_str(c, "model", g->model) && mock_j_str(c, "system_fingerprint", "fp_mock") &&
            (arr = json_object_new_array()) && mock_j_add(c, "choices", arr) &&
            mock_j_add(c, "usage", gen_oa_usage(g)))
            rc = mock_buf_json(out, "data: ", c, "\n\n");
        json_object_put(c);
        return rc;
    }
    case G_STOP:
        return mock_buf_puts(out, "data: [DONE]\n\n");
    default:
        return 0;
    }
}

static int gen_oa_body(mock_gen *g, mock_buf *out)
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
    ok = ok && mock_j_null(ch, "logprobs") && mock_j_str(ch, "finish_reason", gen_finish(g)) &&
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

/* Helper: finish building `o` only if ok, else drop it. */
static json_object *gen_keep(json_object *o, bool ok)
{
    if (!ok) {
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
              mock_j_add(b, "input", with_input ? gen_args_obj(g, t) : json_object_new_object());
    return gen_keep(b, ok);
}

static json_object *gen_an_usage(const mock_gen *g, bool with_input, long long output)
{
    json_object *u = json_object_new_object();
    bool ok = u && (!with_input || mock_j_int(u, "input_tokens", g->prompt_tokens)) &&
              mock_j_int(u, "output_tokens", output);
    return gen_keep(u, ok);
}

static int gen_an_next(mock_gen *g, mock_buf *out)
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
        return gen_an_event("message_start", gen_keep(o, ok), out);
    case G_TEXT_START:
        o = gen_an_obj("content_block_start");
        ok = o && mock_j_int(o, "index", 0) && (x = gen_an_obj("text")) &&
             mock_j_add(o, "content_block", x) && mock_j_str(x, "text", "");
        return gen_an_event("content_block_start", gen_keep(o, ok), out);
    case G_PING:
        return gen_an_event("ping", gen_an_obj("ping"), out);
    case G_TEXT:
        from = gen_piece(g->cuts, g->i, &len);
        o = gen_an_obj("content_block_delta");
        ok = o && mock_j_int(o, "index", 0) && (x = gen_an_obj("text_delta")) &&
             mock_j_add(o, "delta", x) &&
             mock_j_add(x, "text", json_object_new_string_len(g->text + from, (int)len));
        return gen_an_event("content_block_delta", gen_keep(o, ok), out);
    case G_TEXT_STOP:
    case G_TOOL_STOP:
        o = gen_an_obj("content_block_stop");
        ok = o && mock_j_int(o, "index", g->stage == G_TEXT_STOP ? 0 : (long long)block);
        return gen_an_event("content_block_stop", gen_keep(o, ok), out);
    case G_TOOL_START:
        o = gen_an_obj("content_block_start");
        ok = o && mock_j_int(o, "index", (long long)block) &&
             mock_j_add(o, "content_block", gen_an_tool_block(g, g->t, false));
        return gen_an_event("content_block_start", gen_keep(o, ok), out);
    case G_TOOL_EMPTY:
    case G_TOOL_FRAG:
        from = 0;
        len = 0;
        if (g->stage == G_TOOL_FRAG)
            from = gen_piece(g->tcuts[g->t], g->i, &len);
        o = gen_an_obj("content_block_delta");
        ok = o && mock_j_int(o, "index", (long long)block) &&
             (x = gen_an_obj("input_json_delta")) && mock_j_add(o, "delta", x) &&
             mock_j_add(x, "partial_json",
                        json_object_new_string_len(sc->tools[g->t].arguments + from, (int)len));
        return gen_an_event("content_block_delta", gen_keep(o, ok), out);
    case G_FINISH:
        if (g->error) {
            o = gen_an_obj("error");
            ok = o && (x = json_object_new_object()) && mock_j_add(o, "error", x) &&
                 mock_j_str(x, "type", sc->error_type ? sc->error_type : "overloaded_error") &&
                 mock_j_str(x, "message", sc->stream_error);
            return gen_an_event("error", gen_keep(o, ok), out);
        }
        o = gen_an_obj("message_delta");
        ok = o && (x = json_object_new_object()) && mock_j_add(o, "delta", x) &&
             mock_j_str(x, "stop_reason", gen_finish(g)) && mock_j_null(x, "stop_sequence") &&
             mock_j_add(o, "usage", gen_an_usage(g, false, g->completion_tokens));
        return gen_an_event("message_delta", gen_keep(o, ok), out);
    case G_STOP:
        return gen_an_event("message_stop", gen_an_obj("message_stop"), out);
    default:
        return 0;
    }
}

static int gen_an_body(mock_gen *g, mock_buf *out)
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
    ok = ok && mock_j_str(o, "stop_reason", gen_finish(g)) && mock_j_null(o, "stop_sequence") &&
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
             mock_j_add(fn, "arguments", gen_args_obj(g, t));
    }
    ok = ok && mock_j_add(o, "done", json_object_new_boolean(done));
    if (ok && done) {
        /* Durations are nanoseconds (PROTOCOLS.md §3). */
        long long total = gen_elapsed_ns(g), load = total / 10, pe = total / 10;
        ok = mock_j_str(o, "done_reason", gen_finish(g)) && mock_j_int(o, "total_duration", total) &&
             mock_j_int(o, "load_duration", load) &&
             mock_j_int(o, "prompt_eval_count", g->prompt_tokens) &&
             mock_j_int(o, "prompt_eval_duration", pe) &&
             mock_j_int(o, "eval_count", g->completion_tokens) &&
             mock_j_int(o, "eval_duration", total - load - pe);
    }
    return gen_keep(o, ok);
}

static int gen_ol_next(mock_gen *g, mock_buf *out)
{
    json_object *o;
    size_t from, len;
    int rc;

    switch (g->stage) {
    case G_TEXT:
        from = gen_piece(g->cuts, g->i, &len);
        o = gen_ol_line(g, g->text + from, len, false, false);
        break;
    case G_TOOL_START:
        o = gen_ol_line(g, "", 0, true, false);
        break;
    case G_FINISH:
        if (g->error) {
            o = json_object_new_object();
            o = gen_keep(o, o && mock_j_str(o, "error", g->sc->stream_error));
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

mock_gen *mock_gen_new(mock_proto p, const mock_scenario *sc, const mock_request_info *info,
                       unsigned long long seq)
{
    mock_gen *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->proto = p;
    g->sc = sc;
    g->stream = info->stream;
    g->include_usage = info->include_usage;
    g->error = sc->stream_error != NULL;
    g->raw = sc->raw != NULL;
    clock_gettime(CLOCK_MONOTONIC, &g->start);
    g->created = (long long)time(NULL);
    snprintf(g->id, sizeof g->id, "%s%06llu",
             p == MOCK_PROTO_ANTHROPIC ? "msg_mock" : "chatcmpl-mock", seq);

    const char *model = info->model && *info->model ? info->model
                        : sc->model && strcmp(sc->model, "default") ? sc->model
                                                                     : "mock-model";
    const char *text = g->raw                      ? sc->raw
                       : sc->echo && info->last_user ? info->last_user
                                                     : sc->reply;
    if (!(g->model = strdup(model)) || !(g->text = strdup(text)))
        goto fail;
    g->text_len = strlen(g->text);
    if (gen_split(g->text, g->text_len, sc->chunks, !g->raw, &g->cuts, &g->ncuts) < 0)
        goto fail;

    if (!g->raw && sc->ntools) {
        g->tcuts = calloc(sc->ntools, sizeof *g->tcuts);
        g->ntcuts = calloc(sc->ntools, sizeof *g->ntcuts);
        g->targs = calloc(sc->ntools, sizeof *g->targs);
        if (!g->tcuts || !g->ntcuts || !g->targs)
            goto fail;
        for (size_t t = 0; t < sc->ntools; t++) {
            const char *a = sc->tools[t].arguments;
            if (gen_split(a, strlen(a), sc->chunks, true, &g->tcuts[t], &g->ntcuts[t]) < 0)
                goto fail;
            /* Anthropic and Ollama carry arguments as an object; text that
               is not a JSON object is sent as a string (malformed on purpose). */
            json_object *o = json_tokener_parse(a);
            if (o && !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
            }
            g->targs[t] = o;
        }
    }

    long long out = (long long)g->ncuts;
    for (size_t t = 0; !g->raw && t < sc->ntools; t++)
        out += 1 + (long long)g->ntcuts[t];
    g->prompt_tokens = sc->has_usage ? sc->usage_in
                                     : (long long)(info->prompt_bytes + 3) / 4 + 1;
    g->completion_tokens = sc->has_usage ? sc->usage_out : out;

    g->stage = g->raw ? G_RAW : G_PRE;
    gen_settle(g); /* onto the first event that applies */
    return g;
fail:
    mock_gen_free(g);
    return NULL;
}

void mock_gen_free(mock_gen *g)
{
    if (!g)
        return;
    for (size_t t = 0; g->sc && t < g->sc->ntools; t++) {
        if (g->tcuts)
            free(g->tcuts[t]);
        if (g->targs)
            json_object_put(g->targs[t]);
    }
    free(g->tcuts);
    free(g->ntcuts);
    free(g->targs);
    free(g->cuts);
    free(g->text);
    free(g->model);
    free(g);
}

mock_ev mock_gen_peek(const mock_gen *g)
{
    switch (g->stage) {
    case G_TEXT:
    case G_TOOL_FRAG:
    case G_RAW: return MOCK_EV_CONTENT;
    case G_TOOL_START: return g->proto == MOCK_PROTO_ANTHROPIC ? MOCK_EV_META : MOCK_EV_CONTENT;
    case G_FINISH: return MOCK_EV_FINISH;
    case G_END: return MOCK_EV_END;
    default: return MOCK_EV_META;
    }
}

int mock_gen_next(mock_gen *g, mock_buf *out)
{
    int rc;
    size_t from, len;

    if (g->stage == G_END)
        return 0;
    if (g->stage == G_RAW) {
        from = gen_piece(g->cuts, g->i, &len);
        rc = mock_buf_append(out, g->text + from, len);
    } else if (g->proto == MOCK_PROTO_ANTHROPIC) {
        rc = gen_an_next(g, out);
    } else if (g->proto == MOCK_PROTO_OLLAMA) {
        rc = gen_ol_next(g, out);
    } else {
        rc = gen_oa_next(g, out);
    }
    if (rc == 0)
        gen_consume(g);
    return rc;
}

int mock_gen_keepalive(const mock_gen *g, mock_buf *out)
{
    if (g->proto == MOCK_PROTO_OLLAMA || g->raw)
        return 1; /* NDJSON has no comments; raw bytes are the script's own */
    return mock_buf_puts(out, ": keepalive\n\n");
}

int mock_gen_body(mock_gen *g, mock_buf *out)
{
    if (g->raw)
        return mock_buf_append(out, g->text, g->text_len);
    if (g->proto == MOCK_PROTO_ANTHROPIC)
        return gen_an_body(g, out);
    if (g->proto == MOCK_PROTO_OLLAMA) {
        json_object *o = gen_ol_line(g, g->text, g->text_len, g->sc->ntools > 0, true);
        int rc = o ? mock_buf_json(out, "", o, "") : -1;
        json_object_put(o);
        return rc;
    }
    return gen_oa_body(g, out);
}

const char *mock_gen_content_type(const mock_gen *g)
{
    if (g->raw && g->sc->content_type)
        return g->sc->content_type;
    if (!g->stream)
        return g->proto == MOCK_PROTO_OLLAMA ? "application/json; charset=utf-8" : "application/json";
    switch (g->proto) {
    case MOCK_PROTO_ANTHROPIC: return "text/event-stream; charset=utf-8";
    case MOCK_PROTO_OLLAMA: return "application/x-ndjson";
    default: return "text/event-stream";
    }
}

const char *mock_gen_id(const mock_gen *g)
{
    return g->id;
}
