/*
 * mock_gen.c -- the mock server's replies: one body, or a stream of events.
 *
 * A generator walks a fixed sequence of stages (mock_gen_int.h); stages
 * that do not apply to the protocol, the quirk or the reply (no text, no
 * tools) are skipped, so the position always names the next event to
 * send.  The server asks what kind that event is (mock_gen_peek) to pace
 * it -- delay_ms between content events, hang, stalls, drop_after_chunks
 * -- and then takes its bytes (mock_gen_next), which mock_gen_wire.c
 * writes in the request's protocol.  Events are produced one at a time,
 * so a long reply never sits in memory as a whole stream, and an endless
 * one is just a stage that never ends.
 *
 * Stream shapes (docs/protocols.md):
 *   OpenAI     role chunk, content deltas, tool calls (index/id/name first,
 *              then argument fragments), finish chunk, usage chunk if
 *              asked, [DONE]
 *   Anthropic  message_start, text block, ping, tool_use blocks with
 *              input_json_delta, message_delta, message_stop
 *   Ollama     content lines, one line with every tool call, done line
 */
#include <config.h>

#include "mock_gen_int.h"
#include "mock_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Three bytes that are not UTF-8 (a lead byte without its continuation,
   then a byte UTF-8 never uses), for invalid_utf8. */
static const char gen_bad_utf8[] = "\xC3\x28\xFF";

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

/* The text the reply carries, in g->text / g->text_len (raw: any bytes). */
static int gen_text(mock_gen *g, const mock_request_info *info)
{
    const mock_scenario *sc = g->sc;
    static const char filler[] = "The quick brown fox jumps over the lazy dog. ";
    if (sc->garbage >= 0) {
        g->raw = true;
        g->text_len = (size_t)sc->garbage;
        if (!(g->text = malloc(g->text_len + 1)))
            return -1;
        mock_fault_garbage(sc->garbage_seed, g->text, g->text_len);
        g->text[g->text_len] = '\0';
        return 0;
    }
    if (sc->huge_event_bytes > 0 && !g->raw) {
        g->text_len = (size_t)sc->huge_event_bytes;
        if (!(g->text = malloc(g->text_len + 1)))
            return -1;
        for (size_t i = 0; i < g->text_len; i++)
            g->text[i] = filler[i % (sizeof filler - 1)];
        g->text[g->text_len] = '\0';
        return 0;
    }
    const char *t = g->raw ? sc->raw : sc->echo && info->last_user ? info->last_user : sc->reply;
    /* An endless content stream needs something to repeat. */
    if (!*t && sc->endless == MOCK_ENDLESS_CONTENT)
        t = " ";
    if (!(g->text = strdup(t)))
        return -1;
    g->text_len = strlen(t);
    return 0;
}

/* invalid_utf8: put the bad bytes at the end of the middle piece, so one
   content event (and the non-stream content) carries them. */
static int gen_spoil_utf8(mock_gen *g)
{
    size_t n = sizeof gen_bad_utf8 - 1;
    size_t m = g->ncuts ? (g->ncuts - 1) / 2 : 0;
    size_t at = g->ncuts ? g->cuts[m] : 0;
    char *t = malloc(g->text_len + n + 1);
    if (!t)
        return -1;
    memcpy(t, g->text, at);
    memcpy(t + at, gen_bad_utf8, n);
    memcpy(t + at + n, g->text + at, g->text_len - at + 1);
    free(g->text);
    g->text = t;
    g->text_len += n;
    if (!g->ncuts) {
        size_t *c = malloc(sizeof *c);
        if (!c)
            return -1;
        c[0] = g->text_len;
        g->cuts = c;
        g->ncuts = 1;
        return 0;
    }
    for (size_t i = m; i < g->ncuts; i++)
        g->cuts[i] += n;
    return 0;
}

static int gen_tools(mock_gen *g)
{
    const mock_scenario *sc = g->sc;
    g->tcuts = calloc(sc->ntools, sizeof *g->tcuts);
    g->ntcuts = calloc(sc->ntools, sizeof *g->ntcuts);
    g->targs = calloc(sc->ntools, sizeof *g->targs);
    if (!g->tcuts || !g->ntcuts || !g->targs)
        return -1;
    for (size_t t = 0; t < sc->ntools; t++) {
        const char *a = sc->tools[t].arguments;
        if (gen_split(a, strlen(a), sc->chunks, true, &g->tcuts[t], &g->ntcuts[t]) < 0)
            return -1;
        /* Anthropic and Ollama carry arguments as an object; text that
           is not a JSON object is sent as a string (malformed on purpose). */
        json_object *o = json_tokener_parse(a);
        if (o && !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
        }
        g->targs[t] = o;
    }
    return 0;
}

/* ---- the stage machine ---- */

size_t mock_gen_npre(const mock_gen *g)
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
    bool empty = g->endless == MOCK_ENDLESS_EMPTY;
    mock_quirk q = g->sc->quirk;

    switch (g->stage) {
    case G_PRE: return g->i < mock_gen_npre(g);
    case G_START: return oa || an;
    case G_TEXT_START:
    case G_TEXT_STOP: return an && g->ncuts > 0 && !empty;
    case G_PING: return an;
    case G_EMPTY: return empty;
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
       sends no message_stop after `event: error` (docs/protocols.md §1, §2). */
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
    g->stage = g->stage == G_RAW || g->stage == G_BODY ? G_END : g->stage + 1;
    g->i = 0;
}

static void gen_settle(mock_gen *g)
{
    while (g->stage != G_END && !gen_applies(g))
        gen_skip(g);
}

static void gen_consume(mock_gen *g)
{
    switch (g->stage) {
    case G_EMPTY:
        g->i = !g->i; /* forever, two kinds of nothing in turn */
        return;
    case G_TEXT:
    case G_RAW:
    case G_BODY:
        /* endless: round again from the first piece */
        if (g->endless == MOCK_ENDLESS_CONTENT && g->i + 1 >= g->ncuts)
            g->i = 0;
        else if (g->stage == G_BODY && g->ncuts == 0)
            g->i = 0; /* endless = "empty" without a stream: blank lines */
        else
            g->i++;
        break;
    case G_PRE:
    case G_TOOL_FRAG:
        g->i++;
        break;
    default:
        gen_skip(g);
    }
    gen_settle(g);
}

/* ---- shared pieces ---- */

size_t mock_gen_piece(const size_t *cuts, size_t i, size_t *len)
{
    size_t from = i ? cuts[i - 1] : 0;
    *len = cuts[i] - from;
    return from;
}

/* finish_reason / stop_reason / done_reason in the protocol's own words;
   a scripted value is translated between the three vocabularies, and
   passed through when it is none of them. */
const char *mock_gen_finish(const mock_gen *g)
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

json_object *mock_gen_args_obj(const mock_gen *g, size_t t)
{
    if (g->targs[t])
        return json_object_get(g->targs[t]);
    return json_object_new_string(g->sc->tools[t].arguments);
}

long long mock_gen_elapsed_ns(const mock_gen *g)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (long long)(now.tv_sec - g->start.tv_sec) * 1000000000LL +
                   (now.tv_nsec - g->start.tv_nsec);
    return ns > 0 ? ns : 1;
}

json_object *mock_gen_keep(json_object *o, bool ok)
{
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* ---- public ---- */

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
    g->endless = sc->endless;
    clock_gettime(CLOCK_MONOTONIC, &g->start);
    g->created = (long long)time(NULL);
    snprintf(g->id, sizeof g->id, "%s%06llu",
             p == MOCK_PROTO_ANTHROPIC ? "msg_mock" : "chatcmpl-mock", seq);

    const char *model = info->model && *info->model ? info->model
                        : sc->model && strcmp(sc->model, "default") ? sc->model
                                                                     : "mock-model";
    if (!(g->model = strdup(model)) || gen_text(g, info) < 0)
        goto fail;
    /* A huge event is one piece; an endless "empty" body has no text. */
    long pieces = sc->huge_event_bytes > 0 && !g->raw ? 1 : sc->chunks;
    bool blank = g->endless == MOCK_ENDLESS_EMPTY && !g->stream;
    if (!blank && gen_split(g->text, g->text_len, pieces, !g->raw, &g->cuts, &g->ncuts) < 0)
        goto fail;
    if (sc->invalid_utf8 && !g->raw && !blank && gen_spoil_utf8(g) < 0)
        goto fail;
    if (!g->raw && sc->ntools && gen_tools(g) < 0)
        goto fail;

    long long out = (long long)g->ncuts;
    for (size_t t = 0; !g->raw && t < sc->ntools; t++)
        out += 1 + (long long)g->ntcuts[t];
    g->prompt_tokens = sc->has_usage ? sc->usage_in
                                     : (long long)(info->prompt_bytes + 3) / 4 + 1;
    g->completion_tokens = sc->has_usage ? sc->usage_out : out;

    /* An endless reply to a non-stream request is a body that never ends. */
    g->stage = g->endless && !g->stream ? G_BODY : g->raw ? G_RAW : G_PRE;
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
    case G_EMPTY:
    case G_BODY:
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
    if (g->stage == G_BODY && g->ncuts == 0) {
        rc = mock_buf_puts(out, "\n");
    } else if (g->stage == G_RAW || g->stage == G_BODY) {
        from = mock_gen_piece(g->cuts, g->i, &len);
        rc = mock_buf_append(out, g->text + from, len);
    } else if (g->proto == MOCK_PROTO_ANTHROPIC) {
        rc = mock_gen_an_next(g, out);
    } else if (g->proto == MOCK_PROTO_OLLAMA) {
        rc = mock_gen_ol_next(g, out);
    } else {
        rc = mock_gen_oa_next(g, out);
    }
    if (rc == 0)
        gen_consume(g);
    return rc;
}

int mock_gen_keepalive(const mock_gen *g, mock_buf *out)
{
    if (g->proto == MOCK_PROTO_OLLAMA || g->raw || !g->stream)
        return 1; /* NDJSON and bodies have no comments; raw bytes are the script's own */
    return mock_buf_puts(out, ": keepalive\n\n");
}

int mock_gen_body(mock_gen *g, mock_buf *out)
{
    if (g->raw)
        return mock_buf_append(out, g->text, g->text_len);
    if (g->proto == MOCK_PROTO_ANTHROPIC)
        return mock_gen_an_body(g, out);
    if (g->proto == MOCK_PROTO_OLLAMA)
        return mock_gen_ol_body(g, out);
    return mock_gen_oa_body(g, out);
}

const char *mock_gen_content_type(const mock_gen *g)
{
    if (g->sc->content_type)
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
