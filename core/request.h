/*
 * request.h -- one request's life: the part every kind of request shares.
 *
 * A request is three things, kept apart:
 *
 *   - struct ac_request (here): what the caller owns and sees -- the
 *     handle, its callbacks, its limits, its one state, and its outcome
 *     (status, error, response), published exactly once;
 *   - the kind (chat.c, models.c, ...): what is asked and how the answer
 *     is read.  A kind embeds struct ac_request as its first member (as
 *     libuv's handles embed uv_handle_t) and fills an rq_kind table, so
 *     adding a kind adds a file, not branches in the engine;
 *   - the attempt (transfer.c for HTTP, relay.c for in-process plugins):
 *     engine-private, one per try, freed when the try ends.
 *
 * States (rq_state, printable with ac__rq_state_name) move forward only:
 *
 *   NEW -> QUEUED -> ACTIVE <-> BACKOFF -> COMPLETE -> DONE
 *
 * COMPLETE: the outcome is published (ac_request_status and the response
 * are final) and on_done is running; DONE: on_done has returned and
 * waiters are woken.  Nothing changes the outcome after COMPLETE.
 *
 * Threads: a request is created and built on the caller's thread, then
 * owned by the engine context (the engine thread, or the application's
 * thread inside ac_core_run_once in host mode), which alone runs its
 * attempts and ends it.  `state`, `status`, `err` and `resp` are written
 * under `mu` and read under it from any thread.  Two references keep a
 * request alive: the caller's handle and the engine's while it runs.
 */
#ifndef AC_REQUEST_H
#define AC_REQUEST_H
#include <pthread.h>
#include <stdatomic.h>
#include "core.h"
#include "http.h"

typedef enum rq_state {
    RQ_NEW = 0,   /* created; being built, or a session turn waiting */
    RQ_QUEUED,    /* handed to the engine, not started */
    RQ_ACTIVE,    /* an attempt is running */
    RQ_BACKOFF,   /* waiting to retry */
    RQ_COMPLETE,  /* outcome published; on_done running */
    RQ_DONE,      /* on_done returned */
    RQ_STATE_LAST
} rq_state;

const char *ac__rq_state_name(rq_state s);

typedef struct rq_kind rq_kind;
typedef struct ac__decoder ac__decoder;

struct ac_request {
    atomic_int          refs;
    const rq_kind      *kind;
    ac_llm             *llm;          /* a reference: the provider it is on now
                                         (engine context: a fallback moves it) */
    ac_llm             *origin;       /* a reference: the llm it was made on,
                                         for any thread (its core, its name) */
    ac_callbacks        cb;
    void               *user;
    limits              lim;
    int                 stream;       /* the caller asked for events as they come */
    int                 local;        /* an in-process plugin runs it (run_local) */
    ac_http_request     http;         /* built by the kind (HTTP requests) */
    ac_status           prestatus;    /* it could not be built: reported by the engine */
    ac_error            preerr;

    /* Outcome, under mu. */
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    rq_state            state;
    ac_status           status;
    ac_error            err;
    ac_response        *resp;         /* chat kinds; NULL for others */
    ac_sink            *sink;         /* chat kinds: where the plugin's output
                                         goes (engine context) */

    atomic_int          cancel;       /* asked to stop (any thread) */
    ac_request         *waits_for;    /* under mu, a reference: a request that
                                         must end before this one is submitted
                                         (a session's compaction); cancelled
                                         with it */
    atomic_int          paused;       /* its transfer is paused by backpressure */
    atomic_int          held;         /* the caller asked for a pause
                                         (ac_request_pause; any thread) */

    /* Internal hooks, run in the engine context.  hook_done may turn a
     * success into a failure (the session could not record the turn); it
     * runs before the outcome is published.  hook_backpressure returns 1
     * to pause the transfer (a pull stream whose reader is behind). */
    ac_status         (*hook_done)(ac_request *q, ac_status st, void *ctx);
    int               (*hook_backpressure)(void *ctx);
    void               *hook_ctx;

    unsigned long long  id;           /* unique in the process, from 1 */

    /* Engine context only. */
    int                 attempt;      /* tries started, 1-based */
    double              t_attempt;    /* this try began */
    int                 attempt_open; /* a try runs: its end is not recorded yet */
    int                 first_token;  /* content reached the caller */
    int                 probe;        /* this try is its circuit's probe */
    int                 rl_waiting;   /* in its instance's rate-limit line */
    int                 rl_told;      /* the hook heard of this wait */
    ac_request         *rl_next;
    struct attempt_rec *tries;        /* the tries so far (hook.h) */
    size_t              n_tries;
    int                 round_start;  /* `attempt` when this round began */
    double              t_start;      /* first try, ms (ac__now_ms) */
    double              t_queued;     /* handed to the engine */
    double              retry_at;     /* BACKOFF: when to try again */
    void               *xfer;         /* the running attempt: struct transfer
                                         or struct relay */
    ac_request         *next, *prev;  /* engine's active / backoff lists */

    /* The engine's queues, under the engine's lock. */
    ac_request         *qnext;        /* submit queue */
    ac_request         *pnext;        /* poke queue */
    int                 poked;        /* on the poke queue */
};

/*
 * What a kind provides.  Every member runs in the engine context unless
 * said otherwise.  `frame`, `body` and `end` are the decoder's target (see
 * decoder.h): replay.c drives them exactly as the engine does.
 */
struct rq_kind {
    const char *name;                 /* "chat", "models" */
    size_t      size;                 /* sizeof the kind's struct */
    /* One framed stream event.  NULL: the kind never streams. */
    ac_status (*frame)(ac_request *q, const ac_frame *f, ac_error *err);
    /* A whole 2xx body; may take it with ac__decoder_take_body. */
    ac_status (*body)(ac_request *q, ac__decoder *d, int http_status,
                      const char *body, size_t len, ac_error *err);
    /* The response ended well: finish it (a stream must have said how it
     * finished).  streamed: it came as framed events. */
    ac_status (*end)(ac_request *q, int streamed, ac_error *err);
    /* Events the caller has seen: after the first, no retry. */
    size_t    (*delivered)(const ac_request *q);
    /* Start over for another try. */
    void      (*restart)(ac_request *q);
    /* The request failed: tell the caller (an ERROR event). */
    void      (*fail)(ac_request *q, const ac_error *err);
    /* Any thread, once, when the last reference goes: free the kind's
     * own fields (not the struct). */
    void      (*release)(ac_request *q);
    /* In-process plugins: run the request on a worker thread, emitting
     * into `sink` (a relay, see relay.h).  NULL: the kind needs HTTP. */
    ac_status (*run_local)(ac_request *q, ac_sink *sink, ac_call *call);
    /* OPTIONAL.  After `end` succeeded: 1 when the kind has made another
     * round of the same request (its messages grew, its HTTP request is
     * rebuilt: structured output asked again), 0 when the request is
     * done, -1 on failure (err filled).  Each round gets max_retries of
     * its own; the total timeout spans them all. */
    int       (*again)(ac_request *q, ac_error *err);
    /* OPTIONAL.  The request failed with why (nothing reached the
     * caller): move it to its next fallback provider -- a new llm, the
     * request rebuilt for it.  1 moved, 0 no fallback left, -1 failure
     * (err filled). */
    int       (*fallback)(ac_request *q, const ac_error *why, ac_error *err);
    /* OPTIONAL.  The request failed with a client error (why, nothing
     * reached the caller) that says the backend lacks a native form the
     * request used -- tools or a schema for this model: make it again on
     * the same llm without it.  apply 0: only say whether it would (1)
     * or not (0), changing nothing; apply 1: do it -- 1 remade, -1
     * failure (err filled).  Asked before `fallback`. */
    int       (*downgrade)(ac_request *q, const ac_error *why, int apply, ac_error *err);
    /* OPTIONAL.  A kind that runs no transfer of its own but other
     * requests (an embeddings call, embed.c, runs its batches): the
     * engine calls start instead of starting a try, with q ACTIVE but on
     * none of its lists (no timer, no retry), and the kind ends q itself
     * with ac__request_finish.  A cancel still ends q through the
     * engine, which calls `fail`: there the kind stops what it started.
     * Closing the core ends the requests q started, and so q. */
    void      (*start)(ac_request *q);
};

/* Make a request of `kind` on llm (takes a reference on it): limits are
 * the llm's, then params' overrides (params may be NULL).  NULL on no
 * memory.  The kind fills its own fields after this. */
ac_request *ac__request_new(const rq_kind *kind, ac_llm *llm, const ac_gen_params *params,
                            const ac_callbacks *cb, void *user);
/* Record that q cannot be built; the engine reports it through on_done.
 * Returns the status. */
ac_status   ac__request_prefail(ac_request *q, ac_status st, ac_stage stage, const char *msg);
/* Hand q to the engine (which then holds a reference).  AC_OK when
 * taken; otherwise nothing happened and no callback fired: AC_ECANCELED
 * (the core was closed).  Any thread. */
ac_status   ac__request_submit(ac_request *q);
/* Fill err for a status ac__request_submit returned. */
void        ac__request_submit_error(ac_request *q, ac_status st, ac_error *err);
/* End a request ac__request_submit did not take, on this thread, once
 * (a queued session turn whose core closed). */
void        ac__request_fail_unsubmitted(ac_request *q, ac_status st);
/* Engine context: the one and only end of a request -- the ERROR event
 * on failure, hook_done, publish, on_done, wake the waiters, drop the
 * engine's reference. */
void        ac__request_finish(ac_request *q, ac_status st, const ac_error *err);
void        ac__request_ref(ac_request *q);
void        ac__request_unref(ac_request *q);
/* Engine context: 1 when the reply must not be read further now -- the
 * caller holds it (ac_request_pause) or its pull stream's reader is
 * behind (hook_backpressure).  The transfer then pauses; a poke makes the
 * engine ask again. */
int         ac__request_behind(ac_request *q);
/* The request's state, read under its lock. */
rq_state    ac__request_state(const ac_request *q);
/* Wait for q, then take its response (or copy its error); frees q. */
ac_response *ac__request_wait_result(ac_request *q, ac_error *err);
/* A blocking wait from here would deadlock or stall the host's loop:
 * fill err and return 1 (AC_EBUSY, saying why and naming `what`). */
int         ac__refuse_blocking(const ac_llm *llm, const char *what, ac_error *err);

/* The engine context: the engine thread, or the application's thread
 * while it runs ac_core_run_once (and replay's caller while it replays).
 * Callbacks run there; blocking calls made there fail with AC_EBUSY. */
int         ac__in_engine_context(void);
void        ac__enter_engine_context(void);
void        ac__leave_engine_context(void);

/* Tests: 1 while the stream's request is paused because its reader is
 * behind (stream.c). */
int         ac__stream_paused(const ac_stream *s);

/* Debug builds: an invariant that is a bug in the library if false. */
#ifdef NDEBUG
#define AC__ASSERT(x) ((void)0)
#else
#include <assert.h>
#define AC__ASSERT(x) assert(x)
#endif
#define AC__ASSERT_ENGINE() AC__ASSERT(ac__in_engine_context())
#endif
