/*
 * expect.h -- check what a caller gets (a response, its events, an error)
 * against what a test expects, for recorded bytes replayed through the
 * real path (core, framer, plugin, accumulator) and for exchanges with the
 * mock server.  Shared by the suites of the OpenAI-compatible plugins.
 *
 * A failing check prints the label, the piece size (or 0/1 for not
 * streamed/streamed), the field and both values, so the CUnit failure
 * says which case went wrong and how.
 */
#ifndef AC_EXPECT_H
#define AC_EXPECT_H
#include <stddef.h>
#include <abstractcore/provider.h>   /* ac_framing */

/* An expected tool call: id NULL is not checked; args are compared as
 * JSON. */
typedef struct ex_call {
    const char *id, *name, *args;
} ex_call;

/* An expected outcome. */
typedef struct ex_want {
    ac_status   status;
    const char *content;
    const char *reasoning;          /* NULL: not checked */
    const char *finish, *raw;       /* NULL: not checked */
    long        in, out;
    const char *model;              /* NULL: not checked */
    size_t      n_calls;
    ex_call     calls[2];
    /* errors */
    int         http_status;        /* -1: not checked */
    int         retryable;          /* -1: not checked */
    const char *msg[3];             /* substrings of err.message */
} ex_want;

/* What a callback (or a stream reader) saw: the text and the count and
 * position of each kind of event. */
typedef struct ex_seen {
    char   text[8192];
    int    n_text, n_usage, n_finish, n_error;
    int    usage_at, finish_at, n;
} ex_seen;

/* An on_event callback recording into the ex_seen `user`. */
void ex_on_event(ac_request *q, const ac_chunk *c, void *user);

/* 1 if got equals expect (neither NULL), else 0 with a line on stderr. */
int ex_check_str(const char *label, size_t piece, const char *what,
                 const char *got, const char *expect);
int ex_check_long(const char *label, size_t piece, const char *what,
                  long got, long expect);

/* The response fields a caller reads, tool calls included. */
void ex_check_response(const char *label, size_t piece, const ac_response *r,
                       const ex_want *w);
/* An error against the expected one; never `secret` (the API key the
 * test configured), always one line. */
void ex_check_error(const char *label, size_t piece, const ac_error *err,
                    const ex_want *w, const char *secret);

/* Replay bytes on llm whole and in pieces of 1 and 7 bytes: the outcome,
 * the response and the events must be what w says, and an error message
 * must not hold secret. */
void ex_check_replay(ac_llm *llm, const char *secret, const char *label,
                     const char *bytes, size_t len, ac_framing framing,
                     int http_status, const ex_want *w);
/* The same with the bytes of tests/fixtures/<name>, labelled by name. */
void ex_check_fixture(ac_llm *llm, const char *secret, const char *name,
                      ac_framing framing, int http_status, const ex_want *w);

/* Replay bytes on llm in 7-byte pieces with the core's allocator (the
 * one the host table hands plugins) failing at the 1st, 2nd, ...
 * allocation in turn: every run must end in AC_OK or AC_ENOMEM, and one
 * must succeed before max_n allocations (run under valgrind for leaks). */
void ex_check_replay_oom(ac_llm *llm, ac_framing framing, const char *bytes,
                         size_t len, long max_n);

/* A TGI .chunks.json fixture as the SSE body it was on the wire: one
 * `data: <chunk>` event per element, then `data: [DONE]`.  With
 * keepalive, a ":" comment (TGI's axum keep-alive) goes before each event:
 * the snapshot kept only the chunks, the server also sends those.
 * Returns a malloc'd body (free()) of *out_len bytes. */
char *ex_chunks_to_sse(const char *name, int keepalive, size_t *out_len);

/* Stream "Say hello" on llm with params p (may be NULL), recording the
 * events into s; *out gets the response (free with ac_response_free).
 * Returns the final status (AC_OK at the end of the stream), err filled
 * on failure. */
ac_status ex_read_stream(ac_llm *llm, const ac_gen_params *p, ex_seen *s,
                         ac_response **out, ac_error *err);
#endif
