/*
 * sink.h -- where a plugin's parsed output goes (struct ac_sink).
 *
 * The sink turns the plugin's emits into the response and into the events
 * the caller sees, and keeps the rules every provider shares:
 *   - tool-call fragments are joined by the backend's key and numbered in
 *     the order first seen; a repeated id on a later fragment is the same
 *     call (TGI);
 *   - usage: the last report of each count wins, never summed, and it is
 *     delivered once, at the end, before FINISH (OpenAI sends usage after
 *     finish_reason; callers get one order for every backend);
 *   - FINISH is delivered last, after any tool call the backend left open
 *     is ended (and marked truncated if its JSON is incomplete);
 *   - text, reasoning and every tool call's id, name and arguments together
 *     stay within max_response_bytes (AC_ETOOBIG past it), so a server
 *     cannot grow a response past the cap by spreading it over calls;
 *   - `progress` counts the emits that changed the response (text counted
 *     as it comes in, before the prompted-tools parser holds any back), so
 *     the decoder can bound a stream whose events carry nothing.
 * Used by one thread at a time (the engine context).
 *
 * A sink in relay mode (relay != NULL) is the one an in-process plugin
 * writes into on its worker thread: it stores nothing and forwards every
 * emit to the relay (relay.h), which the engine applies to the request's
 * real sink.
 */
#ifndef AC_SINK_H
#define AC_SINK_H
#include "response.h"
#include <abstractcore/provider.h>

typedef void (*sink_event_fn)(void *ctx, const ac_chunk *chunk);

struct ac_sink {
    ac_response        *resp;
    const ac_provider  *vt;          /* for stream_free */
    void               *pstate;
    void               *stream_state;
    sink_event_fn       on_event;    /* may be NULL */
    void               *ctx;
    size_t              delivered;   /* content events delivered */
    int                 finish_seen;
    size_t              held;        /* bytes of text, reasoning and tool
                                        calls in resp: all of them together
                                        are capped by the response limit */
    size_t              progress;    /* emits that changed the response
                                        (text, reasoning, tool calls, usage,
                                        finish): the decoder's measure of a
                                        stream that carries nothing */
    struct relay       *relay;       /* relay mode: forward every emit */
    /* Prompted tools: text goes through a tool-call parser first. */
    int                 tp_on;
    int                 tp_family;
    const char        **tp_names;    /* owned */
    size_t              tp_n, tp_max;
    struct ac__toolparser *tp;       /* made on the first text */
    int                 tp_calls;    /* calls parsed in this response */
};

void      ac__sink_init(ac_sink *k, ac_response *resp, const ac_provider *vt,
                    void *pstate, sink_event_fn fn, void *ctx);
/* Start over for a retry (nothing was delivered yet). */
void      ac__sink_reset(ac_sink *k);
/* Read tool calls out of the text (prompted tool mode): family is an
 * ac__toolfam, names the n tools offered (the sink owns the array, not
 * the strings, which must outlive it), max_call the largest call region.
 * Before any emit. */
void      ac__sink_parse_tools(ac_sink *k, int family, const char **names, size_t n,
                               size_t max_call);
/* End of a successful response, in two steps: complete ends the text
 * (the tool-call parser's held text), the open tool calls and the finish
 * reason -- require_finish: a stream that never said how it finished is
 * reported as truncated (AC_EPROTOCOL), keeping what arrived; deliver_end
 * then delivers USAGE and FINISH (json: the validated document, or NULL).
 * finalize is both. */
ac_status ac__sink_complete(ac_sink *k, int require_finish, ac_error *err);
void      ac__sink_deliver_end(ac_sink *k, const char *json, size_t json_len);
ac_status ac__sink_finalize(ac_sink *k, int require_finish, ac_error *err);
/* Deliver a RESTART event (err: why the reply is discarded). */
void      ac__sink_restart_event(ac_sink *k, const ac_error *err);
/* Free what the sink owns for the whole request (the parser, the names). */
void      ac__sink_release(ac_sink *k);
/* Deliver an ERROR event and mark the response finished by error. */
void      ac__sink_fail(ac_sink *k, const ac_error *err);
void      ac__sink_cleanup(ac_sink *k);

/* The emit entry points of the host table. */
ac_status ac__sink_emit_text(ac_sink *k, const char *s, size_t n);
ac_status ac__sink_emit_reasoning(ac_sink *k, const char *s, size_t n);
ac_status ac__sink_emit_tool_call(ac_sink *k, int key, const char *id, const char *name,
                              const char *args, size_t n, int complete);
ac_status ac__sink_emit_tool_call_end(ac_sink *k, int key);
ac_status ac__sink_emit_usage(ac_sink *k, long in, long out);
ac_status ac__sink_emit_finish(ac_sink *k, const char *normalized, const char *raw);
ac_status ac__sink_emit_model(ac_sink *k, const char *model);
void    **ac__sink_stream_slot(ac_sink *k);
#endif
