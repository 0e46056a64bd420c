/*
 * request.h -- one request's life (struct ac_request).
 *
 * A request is created on the caller's thread, built (the plugin turns it
 * into HTTP), submitted to the engine, and finished exactly once on the
 * engine thread (ac__request_finish: status, then the internal hook, then the
 * caller's on_done, then waiters wake).  Two references keep it alive: the
 * caller's handle and the engine's while it runs; whichever lets go last
 * frees it.
 *
 * Fields under "engine" are touched only by the engine thread; the outcome
 * fields only under `mu`.
 */
#ifndef AC_REQUEST_H
#define AC_REQUEST_H
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include "buf.h"
#include "core.h"
#include "framing.h"
#include "http.h"
#include "params.h"
#include "sink.h"

typedef enum rq_kind { RQ_GENERATE = 0, RQ_MODELS } rq_kind;
typedef enum rq_state { RQ_NEW = 0, RQ_QUEUED, RQ_ACTIVE, RQ_WAITING, RQ_DONE } rq_state;

struct ac_request {
    atomic_int        refs;
    rq_kind           kind;
    ac_llm           *llm;          /* a reference */
    ac_callbacks      cb;
    void             *user;
    ac_gen_params    *params;       /* owned copy */
    ac_message       *msgs;         /* owned */
    size_t            n_msgs;
    ac_gen_request    greq;
    ac_http_request   http;
    limits            lim;
    int               stream;
    ac_status         prestatus;    /* failed before it could start */
    ac_error          preerr;

    /* outcome, under mu */
    pthread_mutex_t   mu;
    pthread_cond_t    cv;
    int               finished;     /* status final (before on_done) */
    int               done;         /* on_done returned */
    ac_status         status;
    ac_error          err;
    ac_response      *resp;
    struct ac_model_list models;

    atomic_int        cancel;
    volatile int      local_cancel; /* the flag run_local polls */
    int               local;        /* runs on the worker pool */
    atomic_int        paused;       /* transfer paused by backpressure */

    /* internal hooks (sessions, pull streams); run on the engine thread */
    /* Its failure (the session could not record the turn) turns a success
     * into that failure before on_done sees it. */
    ac_status       (*hook_done)(ac_request *q, void *ctx);
    int             (*hook_backpressure)(void *ctx);  /* 1: pause */
    void             *hook_ctx;

    /* engine */
    rq_state          state;
    ac_sink           sink;
    framer           *fr;
    buf               body;
    buf               errbody;
    CURL             *easy;
    int               attempt;
    int               http_status;
    int               got_first_byte;
    int               error_body;
    int               whole_body;   /* stream asked, JSON answered */
    int               has_pending_err;
    ac_error          pending_err;
    long              retry_after_ms;
    int               should_retry; /* -1 no header, 0, 1 */
    double            t_start, t_attempt, t_last_byte, retry_at;
    ac_request       *next, *prev;  /* engine's active/waiting list */
};

/* A new request on llm (takes a reference on it).  params and cb may be
 * NULL.  NULL on no memory. */
ac_request *ac__request_new(ac_llm *llm, rq_kind kind, const ac_gen_params *params,
                        const ac_callbacks *cb, void *user);
/* Build messages and HTTP: system prompt, then history (may be NULL), then
 * the prompt (may be NULL).  On failure records prestatus (the engine will
 * report it through on_done) and returns it. */
ac_status ac__request_build(ac_request *q, const char *system, const ac_message *history,
                        size_t n_history, const char *prompt);
/* Hand to the engine, or to the worker pool for an in-process plugin
 * (which then holds a reference).  AC_OK when taken; otherwise nothing
 * happened and no callback fired: AC_ECANCELED (the core was closed) or
 * AC_ENOMEM.  The caller either drops the request without callbacks (it
 * never reached the user) or ends it with ac__request_fail_unsubmitted. */
ac_status ac__request_submit(ac_request *q);
/* Fill err for a status of ac__request_submit. */
void      ac__request_submit_error(ac_request *q, ac_status st, ac_error *err);
/* End a request ac__request_submit did not take, on this thread, once. */
void      ac__request_fail_unsubmitted(ac_request *q, ac_status st);
/* Engine thread: the one and only end of a request. */
void      ac__request_finish(ac_request *q, ac_status status, const ac_error *err);
void      ac__request_ref(ac_request *q);
void      ac__request_unref(ac_request *q);
/* Wait for q, then take its response (or copy its error); frees q. */
ac_response *ac__request_wait_result(ac_request *q, ac_error *err);
/* 1 on the engine thread of any core. */
int       ac__on_engine_thread(void);
void      ac__mark_engine_thread(void);
#endif
