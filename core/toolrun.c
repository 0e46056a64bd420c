/*
 * toolrun.c -- the tool loop (ac_session_arun_tools and friends): send a
 * turn, run the tool calls of its reply on threads that are not the
 * engine's, append the results, send the next turn, until the model
 * answers without calls or the round limit is reached.
 *
 * Relies on sessions (turns are ac_session_agenerate, the history is the
 * session's; session.h for the small extras), the toolbox (toolbox.h:
 * tools, compiled schemas, the pool) and the schema validator.
 *
 * The run is a relay of one actor at a time, never two:
 *
 *   arun / last job --ac_session_agenerate--> turn (engine context)
 *     turn_done: no calls -> finish;  calls -> hand them to the runner
 *   jobs (pool or runner threads): each takes calls one at a time until
 *     none is left; the job that ends last appends every result in call
 *     order, then sends the next turn from its own thread (or finishes).
 *
 * So tools never run in the engine context (host mode included: the
 * loop's thread only ever runs turn_done, which blocks on nothing), and
 * the callbacks of a run are sequential by construction -- except
 * on_tool_start / on_tool_done of concurrent calls, which cb_mu
 * serializes.
 *
 * A turn's request handle is owned by the run and freed by whichever of
 * its starter (back from ac_session_agenerate) and its on_done comes
 * second: on_done may run on the engine thread before the starter has
 * even stored the handle.  `current` (under mu) is what ac_toolrun_cancel
 * cancels.
 *
 * References on the run: the application's handle, each turn in flight,
 * each job queued or running.  The run holds the session, the toolbox and
 * the llm until its last reference goes.
 */
#include "toolbox.h"
#include "session.h"
#include "alloc.h"
#include "buf.h"
#include "core.h"
#include "error.h"
#include "message.h"
#include "params.h"
#include "request.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_ROUNDS    8
#define DEFAULT_PARALLEL  4
#define ERRORS_SHOWN      20   /* validation errors sent back to the model */

enum { RES_NONE = 0, RES_STATIC, RES_LIB, RES_APP };

typedef struct call {
    const char *name, *args;   /* borrowed from the run's response */
    const char *id;            /* the response's, or own_id */
    char       *own_id;        /* the history's id for a call without one */
    int         truncated;
    const char *result;
    int         res_kind;      /* RES_*: how result is freed */
    int         is_error;
    int         ran;           /* taken by a job (else: not run) */
} call;

struct ac_toolrun {
    atomic_int       refs;
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    pthread_mutex_t  cb_mu;    /* on_tool_start / on_tool_done */
    ac_session      *s;        /* held */
    const ac_toolbox *tb;      /* a reference */
    ac_llm          *llm;      /* a reference: the blocking-call check */
    ac_gen_params   *params;   /* own copy, tools added */
    ac_gen_params   *later;    /* the same without attachments: rounds 2.. */
    ac_toolrun_opts  o;
    void           (*on_done)(ac_toolrun *, ac_status, void *);
    void            *user;
    ac__pool_job    *jobs;     /* max_parallel nodes (the pool only) */

    /* Under mu. */
    int              rounds;       /* turns sent */
    int              done_round;   /* turns whose on_done has run */
    ac_request      *current;      /* the turn in flight, once stored */
    int              cancel;
    int              finished;     /* outcome published */
    int              ended;        /* on_done returned */
    ac_status        status;
    ac_error         err;
    ac_response     *resp;         /* the last reply (owned) */
    call            *calls;        /* this round's */
    size_t           n_calls, next_call;
    int              active;       /* jobs of this round not yet ended */
    int              no_thread;    /* no job could be started */
};

/* The run whose job this thread is running (a wait there would wait on
 * itself). */
static _Thread_local const ac_toolrun *tls_run;

static void run_ref(ac_toolrun *r) { atomic_fetch_add(&r->refs, 1); }

static void run_unref(ac_toolrun *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    ac_response_free(r->resp);
    ac_gen_params_free(r->params);
    ac_gen_params_free(r->later);
    ac__free(r->jobs);
    ac__llm_unref(r->llm);
    ac__session_release(r->s);
    ac__toolbox_unref(r->tb);
    pthread_mutex_destroy(&r->cb_mu);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    ac__free(r);
}

/* The one end of a run: publish, on_done, wake the waiters. */
static void finish(ac_toolrun *r, ac_status st, const ac_error *err)
{
    pthread_mutex_lock(&r->mu);
    if (r->finished) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    r->finished = 1;
    r->status = st;
    if (st != AC_OK) {
        if (err && err->code != AC_OK)
            r->err = *err;
        else
            ac__error_set(&r->err, st, AC_STAGE_REQUEST, "the tool run failed");
    }
    pthread_mutex_unlock(&r->mu);
    if (r->on_done)
        r->on_done(r, st, r->user);
    pthread_mutex_lock(&r->mu);
    r->ended = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* finish with an error of ours, named after the session's provider. */
static void fail(ac_toolrun *r, ac_status st, ac_stage stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(ac_toolrun *r, ac_status st, ac_stage stage, const char *fmt, ...)
{
    ac_error e;
    va_list ap;
    va_start(ap, fmt);
    ac__error_vset(&e, st, stage, fmt, ap);
    va_end(ap);
    ac__error_set_provider(&e, r->llm->inst->name);
    finish(r, st, &e);
}

/* ------------------------------------------------------------------ */
/* Turns                                                               */
/* ------------------------------------------------------------------ */

static void turn_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    ac_toolrun *r = user;
    r->o.on_event(r, c, r->o.user);
}

static void turn_done(ac_request *q, ac_status st, void *user);

/* Send turn `round` (already counted and announced).  1 if it is on its
 * way (it ends through turn_done), 0 with err filled if not. */
static int turn_send(ac_toolrun *r, const char *prompt, int round, ac_error *err)
{
    ac_callbacks cb = {.version = AC_CALLBACKS_VERSION,
                       .on_event = r->o.on_event ? turn_event : NULL,
                       .on_done = turn_done};
    run_ref(r); /* the turn's */
    /* Attachments go with the first round's prompt only: later rounds
     * continue the history, which holds them already. */
    ac_request *q = ac_session_agenerate(r->s, prompt, round == 1 ? r->params : r->later, &cb,
                                         r, err);
    if (!q) {
        atomic_fetch_sub(&r->refs, 1); /* never the last: the caller holds one */
        return 0;
    }
    int free_now = 0, cancel_now = 0;
    pthread_mutex_lock(&r->mu);
    if (r->done_round >= round) {
        free_now = 1; /* it already ended: nobody will cancel it */
    } else {
        r->current = q;
        if (r->cancel) {
            cancel_now = 1;
            ac__request_ref(q); /* turn_done may free it meanwhile */
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (free_now)
        ac_request_free(q);
    if (cancel_now) {
        ac_request_cancel(q);
        ac__request_unref(q);
    }
    return 1;
}

/* The next round, from the thread that ended the last one. */
static void next_round(ac_toolrun *r)
{
    pthread_mutex_lock(&r->mu);
    int cancelled = r->cancel;
    int round = cancelled ? r->rounds : ++r->rounds;
    pthread_mutex_unlock(&r->mu);
    if (cancelled) {
        fail(r, AC_ECANCELED, AC_STAGE_CANCELLED, "the tool run was cancelled after round %d",
             round);
        return;
    }
    if (r->o.on_round)
        r->o.on_round(r, round, r->o.user);
    ac_error e;
    ac_error_clear(&e);
    if (!turn_send(r, NULL, round, &e))
        finish(r, e.code != AC_OK ? e.code : AC_EPROTOCOL, &e);
}

/* The id call i has in the history: the response's, or the one the
 * history made up for a backend that gave none (Ollama). */
static const char *call_id(ac_toolrun *r, size_t i, char **own)
{
    const char *id = ac_response_tool_call_id(r->resp, i);
    *own = NULL;
    if (*id)
        return id;
    *own = ac__session_call_id(r->s, i);
    return *own;
}

/* A result "not run: why" for every call of the last reply, so the
 * history holds no call without its result (backends refuse that). */
static void add_not_run(ac_toolrun *r, const char *why)
{
    for (size_t i = 0; i < ac_response_tool_call_count(r->resp); i++) {
        char *own;
        const char *id = call_id(r, i, &own);
        if (id)
            ac__session_add_result(r->s, id, ac_response_tool_call_name(r->resp, i), why, 1);
        ac__free(own);
    }
}

static void job_main(void *arg);
static void round_end(ac_toolrun *r);

/* Hand this round's calls to `workers` jobs. */
static void dispatch(ac_toolrun *r, int workers)
{
    for (int w = 0; w < workers; w++) {
        run_ref(r); /* the job's */
        if (r->o.run) {
            r->o.run(job_main, r, r->o.user);
            continue;
        }
        r->jobs[w].fn = job_main;
        r->jobs[w].arg = r;
        if (ac__toolbox_submit(r->tb, &r->jobs[w]) == AC_OK)
            continue;
        /* No thread for it.  If it was the last job to end, the round
         * ends here (all calls taken by the others, or none run). */
        pthread_mutex_lock(&r->mu);
        int last = --r->active == 0;
        if (last && r->next_call == 0)
            r->no_thread = 1;
        pthread_mutex_unlock(&r->mu);
        if (last)
            round_end(r);
        atomic_fetch_sub(&r->refs, 1); /* the caller holds one */
    }
}

/* Engine context: a turn ended. */
static void after_turn(ac_toolrun *r, ac_status st, const ac_error *e, int round, int cancelled)
{
    if (st != AC_OK) {
        finish(r, st, e);
        return;
    }
    size_t n = ac_response_tool_call_count(r->resp);
    if (n == 0) {
        finish(r, AC_OK, NULL);
        return;
    }
    if (cancelled) {
        add_not_run(r, "not run: the tool run was cancelled");
        fail(r, AC_ECANCELED, AC_STAGE_CANCELLED, "the tool run was cancelled in round %d",
             round);
        return;
    }
    if (round >= r->o.max_rounds) {
        add_not_run(r, "not run: the limit of rounds was reached");
        fail(r, AC_ELIMIT, AC_STAGE_REQUEST,
             "the model still called tools in round %d, the last allowed (max_rounds); "
             "%zu call%s not run", round, n, n == 1 ? "" : "s");
        return;
    }
    call *calls = ac__calloc(n, sizeof *calls);
    for (size_t i = 0; calls && i < n; i++) {
        call *c = &calls[i];
        c->name = ac_response_tool_call_name(r->resp, i);
        c->args = ac_response_tool_call_arguments(r->resp, i);
        c->truncated = ac_response_tool_call_truncated(r->resp, i);
        if (!(c->id = call_id(r, i, &c->own_id))) {
            for (size_t k = 0; k <= i; k++)
                ac__free(calls[k].own_id);
            ac__free(calls);
            calls = NULL;
        }
    }
    if (!calls) {
        add_not_run(r, "not run: out of memory");
        fail(r, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory starting the tool calls");
        return;
    }
    int workers = n < (size_t)r->o.max_parallel ? (int)n : r->o.max_parallel;
    pthread_mutex_lock(&r->mu);
    r->calls = calls;
    r->n_calls = n;
    r->next_call = 0;
    r->active = workers;
    r->no_thread = 0;
    pthread_mutex_unlock(&r->mu);
    dispatch(r, workers);
}

static void turn_done(ac_request *q, ac_status st, void *user)
{
    ac_toolrun *r = user;
    pthread_mutex_lock(&r->mu);
    int own = r->current == q;
    if (own)
        r->current = NULL;
    r->done_round = r->rounds;
    int round = r->rounds, cancelled = r->cancel;
    pthread_mutex_unlock(&r->mu);
    ac_error e;
    ac_error_clear(&e);
    ac_request_status(q, &e);
    ac_response *resp = ac_request_take_response(q);
    if (own)
        ac_request_free(q);
    pthread_mutex_lock(&r->mu);
    ac_response *old = r->resp;
    r->resp = resp;
    pthread_mutex_unlock(&r->mu);
    ac_response_free(old);
    after_turn(r, st, &e, round, cancelled);
    run_unref(r); /* the turn's */
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

static void set_result(call *c, const char *text, int kind, int is_error)
{
    c->result = text;
    c->res_kind = kind;
    c->is_error = is_error;
}

/* An error result of ours, formatted; a static one without memory. */
static void set_error(call *c, char *text)
{
    if (text)
        set_result(c, text, RES_LIB, 1);
    else
        set_result(c, "the call failed: out of memory", RES_STATIC, 1);
}

static void result_free(call *c)
{
    if (c->res_kind == RES_LIB)
        ac__free((char *)c->result);
    else if (c->res_kind == RES_APP)
        free((char *)c->result);
    set_result(c, NULL, RES_NONE, 0);
}

/* The validator's errors as the model sees them: one a line, the failing
 * value's pointer and the keyword. */
static char *schema_errors_text(const ac__schema_errors *errs)
{
    buf b = {0};
    int bad = ac__buf_appends(&b, "the arguments do not match the tool's parameters schema, "
                                  "so the tool was not called:\n");
    size_t shown = 0;
    for (; !bad && shown < errs->count && shown < ERRORS_SHOWN; shown++) {
        const ac__schema_error *x = &errs->items[shown];
        bad = ac__buf_appends(&b, x->message) || ac__buf_appends(&b, " [keyword ") ||
              ac__buf_appends(&b, x->keyword) || ac__buf_appends(&b, "]\n");
    }
    if (!bad && errs->total > shown) {
        char t[64];
        snprintf(t, sizeof t, "(and %zu more error%s)\n", errs->total - shown,
                 errs->total - shown == 1 ? "" : "s");
        bad = ac__buf_appends(&b, t);
    }
    if (bad) {
        ac__buf_free(&b);
        return NULL;
    }
    return ac__buf_steal(&b);
}

/* The arguments as a JSON object, strictly; NULL with *why set if not. */
static json_object *parse_args(const char *text, char **why)
{
    *why = NULL;
    json_tokener *t = json_tokener_new();
    if (!t)
        return NULL;
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    size_t len = strlen(text);
    /* With its NUL: a bare literal ("true") ends there. */
    json_object *o = json_tokener_parse_ex(t, text, (int)len + 1);
    enum json_tokener_error je = json_tokener_get_error(t);
    size_t end = json_tokener_get_parse_end(t);
    json_tokener_free(t);
    while (o && end < len && strchr(" \t\r\n", text[end]))
        end++;
    if (!o || je != json_tokener_success || end < len) {
        *why = ac__asprintf("the arguments are not valid JSON (%s), so the tool was not called",
                            !o || je != json_tokener_success ? json_tokener_error_desc(je)
                                                             : "text after the value");
    } else if (!json_object_is_type(o, json_type_object)) {
        *why = ac__asprintf("the arguments are not a JSON object, so the tool was not called");
    } else {
        return o;
    }
    json_object_put(o);
    return NULL;
}

/* Check the arguments and run the tool: the call's result is set. */
static void run_tool(ac_toolrun *r, call *c)
{
    const ac__tool *t = ac__toolbox_find(r->tb, c->name);
    if (!t) {
        set_error(c, ac__asprintf("no tool named \"%s\"", c->name));
        return;
    }
    /* A call the sink marked cut off (its arguments are not a JSON
     * object) is told why its text is wrong. */
    char *why;
    json_object *args = parse_args(c->args, &why);
    if (args && c->truncated) {
        json_object_put(args);
        args = NULL;
        why = ac__asprintf("the arguments were cut off, so the tool was not called");
    }
    if (!args) {
        set_error(c, why);
        return;
    }
    ac__schema_errors errs = {0};
    ac_error verr;
    ac_error_clear(&verr);
    int ok = ac__schema_validate(t->schema, args, &errs, &verr);
    json_object_put(args);
    if (ok == 0)
        set_error(c, schema_errors_text(&errs));
    else if (ok < 0)
        set_error(c, ac__asprintf("the arguments could not be validated (%s), so the tool was "
                                  "not called", verr.message));
    ac__schema_errors_free(&errs);
    if (ok != 1)
        return;
    char *out = NULL;
    ac_status st = t->fn(c->args, &out, t->user);
    if (st == AC_OK)
        set_result(c, out ? out : "", out ? RES_APP : RES_STATIC, 0);
    else if (out)
        set_result(c, out, RES_APP, 1);
    else
        set_error(c, ac__asprintf("tool \"%s\" failed: %s", c->name, ac_strerror(st)));
    if (!ac__utf8_valid(c->result)) {
        result_free(c);
        set_result(c, "the tool's result is not valid UTF-8", RES_STATIC, 1);
    }
}

static void call_run(ac_toolrun *r, call *c)
{
    c->ran = 1;
    if (r->o.on_tool_start) {
        pthread_mutex_lock(&r->cb_mu);
        r->o.on_tool_start(r, c->name, c->id, c->args, r->o.user);
        pthread_mutex_unlock(&r->cb_mu);
    }
    run_tool(r, c);
    if (r->o.on_tool_done) {
        pthread_mutex_lock(&r->cb_mu);
        r->o.on_tool_done(r, c->name, c->id, c->result, c->is_error, r->o.user);
        pthread_mutex_unlock(&r->cb_mu);
    }
}

/* Every job of the round has ended: the results go to the history in
 * call order, then the next round (or the end). */
static void round_end(ac_toolrun *r)
{
    pthread_mutex_lock(&r->mu);
    call *calls = r->calls;
    size_t n = r->n_calls;
    int no_thread = r->no_thread;
    r->calls = NULL;
    r->n_calls = 0;
    int cancelled = r->cancel;
    pthread_mutex_unlock(&r->mu);
    const char *not_run = no_thread ? "not run: no thread could be started to run the tool"
                                    : "not run: the tool run was cancelled";
    ac_status st = AC_OK;
    for (size_t i = 0; i < n; i++) {
        call *c = &calls[i];
        if (st == AC_OK)
            st = ac__session_add_result(r->s, c->id, c->name, c->ran ? c->result : not_run,
                                        c->ran ? c->is_error : 1);
        result_free(c);
        ac__free(c->own_id);
    }
    ac__free(calls);
    if (st != AC_OK)
        fail(r, st, AC_STAGE_REQUEST, "cannot add a tool result to the session: %s",
             ac_strerror(st));
    else if (no_thread)
        fail(r, AC_ENOMEM, AC_STAGE_REQUEST, "no thread could be started to run the tools");
    else if (cancelled)
        fail(r, AC_ECANCELED, AC_STAGE_CANCELLED, "the tool run was cancelled in round %d",
             ac_toolrun_rounds(r));
    else
        next_round(r);
}

/* A job: take calls until none is left; the last job to end ends the
 * round. */
static void job_main(void *arg)
{
    ac_toolrun *r = arg;
    const ac_toolrun *outer = tls_run;
    tls_run = r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (r->next_call >= r->n_calls) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        call *c = &r->calls[r->next_call++];
        int skip = r->cancel;
        pthread_mutex_unlock(&r->mu);
        if (!skip)
            call_run(r, c);
    }
    pthread_mutex_lock(&r->mu);
    int last = --r->active == 0;
    pthread_mutex_unlock(&r->mu);
    if (last)
        round_end(r);
    tls_run = outer;
    run_unref(r); /* the job's */
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int opts_read(ac_toolrun_opts *o, const ac_toolrun_opts *in, ac_error *err)
{
    memset(o, 0, sizeof *o);
    if (in)
        *o = *in;
    const char *bad = NULL;
    if (o->version > AC_TOOLRUN_OPTS_VERSION)
        bad = "version is newer than this library knows";
    else if (o->max_rounds < 0)
        bad = "max_rounds is negative";
    else if (o->max_parallel < 0 || o->max_parallel > AC_TOOLRUN_MAX_PARALLEL)
        bad = "max_parallel is not 0..64";
    if (bad) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "bad tool run options: %s", bad);
        return -1;
    }
    o->version = AC_TOOLRUN_OPTS_VERSION;
    if (!o->max_rounds)
        o->max_rounds = DEFAULT_ROUNDS;
    if (!o->max_parallel)
        o->max_parallel = DEFAULT_PARALLEL;
    return 0;
}

ac_toolrun *ac_session_arun_tools(ac_session *s, const char *prompt, const ac_gen_params *params,
                                  const ac_toolbox *tb, const ac_toolrun_opts *opts,
                                  void (*on_done)(ac_toolrun *, ac_status, void *), void *user,
                                  ac_error *err)
{
    if (!s || !tb) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s is NULL", !s ? "session" : "toolbox");
        return NULL;
    }
    ac_toolrun_opts o;
    if (opts_read(&o, opts, err))
        return NULL;
    ac_toolrun *r = ac__calloc(1, sizeof *r);
    if (!r) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory starting the tool run");
        return NULL;
    }
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->cb_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    ac__session_hold(s);
    r->s = s;
    ac__toolbox_ref(tb);
    r->tb = tb;
    r->llm = ac__session_llm(s);
    r->o = o;
    r->on_done = on_done;
    r->user = user;
    r->params = ac__params_copy(params);
    ac_status st = r->params ? ac__toolbox_offer_missing(tb, r->params) : AC_ENOMEM;
    if (st == AC_OK && !(r->later = ac__params_copy(r->params)))
        st = AC_ENOMEM;
    if (st == AC_OK)
        ac_gen_params_clear_attachments(r->later);
    if (st == AC_OK && !o.run && !(r->jobs = ac__calloc((size_t)o.max_parallel, sizeof *r->jobs)))
        st = AC_ENOMEM;
    if (st != AC_OK) {
        ac__error_set(err, st, AC_STAGE_REQUEST, "%s",
                      st == AC_ENOMEM ? "out of memory starting the tool run"
                                      : "the parameters and the toolbox offer more than 128 "
                                        "tools");
        ac__error_set_provider(err, r->llm->inst->name);
        run_unref(r);
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    r->rounds = 1;
    pthread_mutex_unlock(&r->mu);
    if (o.on_round)
        o.on_round(r, 1, o.user);
    if (!turn_send(r, prompt, 1, err)) {
        run_unref(r);
        return NULL;
    }
    return r;
}

ac_status ac_toolrun_wait(ac_toolrun *r, int timeout_ms)
{
    if (!r)
        return AC_EINVAL;
    pthread_mutex_lock(&r->mu);
    int ended = r->ended;
    pthread_mutex_unlock(&r->mu);
    if (ended)
        return AC_OK;
    if (timeout_ms == 0)
        return AC_ETIMEDOUT;
    if (tls_run == r || ac__refuse_blocking(r->llm, "ac_toolrun_wait", NULL))
        return AC_EBUSY;
    struct timespec dl;
    if (timeout_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    ac_status st = AC_OK;
    pthread_mutex_lock(&r->mu);
    while (!r->ended) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&r->cv, &r->mu);
        } else if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT) {
            st = r->ended ? AC_OK : AC_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

void ac_toolrun_cancel(ac_toolrun *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->cancel = 1;
    ac_request *q = r->current;
    if (q)
        ac__request_ref(q);
    pthread_mutex_unlock(&r->mu);
    if (q) {
        ac_request_cancel(q);
        ac__request_unref(q);
    }
}

ac_status ac_toolrun_status(const ac_toolrun *cr, ac_error *err)
{
    if (!cr)
        return AC_EINVAL;
    ac_toolrun *r = (ac_toolrun *)cr;
    pthread_mutex_lock(&r->mu);
    ac_status st = r->finished ? r->status : AC_EPENDING;
    if (err && st != AC_OK && st != AC_EPENDING)
        *err = r->err;
    pthread_mutex_unlock(&r->mu);
    return st;
}

const ac_response *ac_toolrun_response(const ac_toolrun *cr)
{
    if (!cr)
        return NULL;
    ac_toolrun *r = (ac_toolrun *)cr;
    pthread_mutex_lock(&r->mu);
    const ac_response *resp = r->finished ? r->resp : NULL;
    pthread_mutex_unlock(&r->mu);
    return resp;
}

int ac_toolrun_rounds(const ac_toolrun *cr)
{
    if (!cr)
        return 0;
    ac_toolrun *r = (ac_toolrun *)cr;
    pthread_mutex_lock(&r->mu);
    int n = r->rounds;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void ac_toolrun_free(ac_toolrun *r)
{
    if (!r)
        return;
    ac_toolrun_cancel(r);
    run_unref(r);
}

ac_response *ac_session_run_tools(ac_session *s, const char *prompt, const ac_gen_params *params,
                                  const ac_toolbox *tb, const ac_toolrun_opts *opts,
                                  ac_error *err)
{
    if (!s) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "session is NULL");
        return NULL;
    }
    ac_llm *llm = ac__session_llm(s);
    int busy = ac__refuse_blocking(llm, "ac_session_run_tools", err);
    ac__llm_unref(llm);
    if (busy)
        return NULL;
    ac_toolrun *r = ac_session_arun_tools(s, prompt, params, tb, opts, NULL, NULL, err);
    if (!r)
        return NULL;
    ac_toolrun_wait(r, -1);
    ac_response *resp = NULL;
    if (ac_toolrun_status(r, err) == AC_OK) {
        pthread_mutex_lock(&r->mu);
        resp = r->resp;
        r->resp = NULL;
        pthread_mutex_unlock(&r->mu);
    }
    ac_toolrun_free(r);
    return resp;
}
