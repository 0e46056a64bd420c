/*
 * request.c -- the life every request shares: creation, submission, the
 * one end, waiting; and the public ac_request_* / ac_gather API.
 *
 * The rule that keeps callbacks sane (libuv's): if the call that makes a
 * request returns NULL, no callback ever fires; otherwise on_done fires
 * exactly once, in the engine context, even for a request that could not
 * be built (the engine reports prestatus).
 */
#include "request.h"
#include "alloc.h"
#include "engine.h"
#include "error.h"
#include "hook.h"
#include "log.h"
#include "params.h"
#include "response.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static _Thread_local int engine_context;

int  ac__in_engine_context(void) { return engine_context; }
void ac__enter_engine_context(void) { engine_context = 1; }
void ac__leave_engine_context(void) { engine_context = 0; }

const char *ac__rq_state_name(rq_state s)
{
    static const char *const names[RQ_STATE_LAST] = {
        [RQ_NEW] = "new", [RQ_QUEUED] = "queued", [RQ_ACTIVE] = "active",
        [RQ_BACKOFF] = "backoff", [RQ_COMPLETE] = "complete", [RQ_DONE] = "done",
    };
    return (int)s >= 0 && s < RQ_STATE_LAST ? names[s] : "invalid";
}

static void cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

ac_request *ac__request_new(const rq_kind *kind, ac_llm *llm, const ac_gen_params *p,
                            const ac_callbacks *cb, void *user)
{
    ac_request *q = ac__calloc(1, kind->size);
    if (!q)
        return NULL;
    static atomic_ullong next_id = 1;
    atomic_init(&q->refs, 1);
    q->id = atomic_fetch_add(&next_id, 1);
    q->kind = kind;
    ac__llm_ref(llm);
    ac__llm_ref(llm);
    q->llm = q->origin = llm;
    if (cb) {
        /* Version 0 is read as 1 (designated initializers omit it). */
        q->cb.version = AC_CALLBACKS_VERSION;
        q->cb.on_event = cb->on_event;
        q->cb.on_done = cb->on_done;
    }
    q->user = user;
    q->status = AC_EPENDING;
    pthread_mutex_init(&q->mu, NULL);
    cond_init_monotonic(&q->cv);
    ac_error_clear(&q->err);
    ac_error_clear(&q->preerr);
    /* Limits: the provider's, then this request's overrides. */
    q->lim = llm->lim;
    if (p) {
        if (p->connect_ms >= 0)
            q->lim.connect_ms = p->connect_ms;
        if (p->first_byte_ms >= 0)
            q->lim.first_byte_ms = p->first_byte_ms;
        if (p->idle_ms >= 0)
            q->lim.idle_ms = p->idle_ms;
        if (p->total_ms >= 0)
            q->lim.total_ms = p->total_ms;
        if (p->max_retries >= 0)
            q->lim.max_retries = p->max_retries;
    }
    return q;
}

ac_status ac__request_prefail(ac_request *q, ac_status st, ac_stage stage, const char *msg)
{
    if (q->preerr.code == AC_OK)
        ac__error_set(&q->preerr, st, stage, "%s", msg);
    q->preerr.code = st;
    ac__error_set_provider(&q->preerr, q->llm->inst->name);
    q->prestatus = st;
    return st;
}

ac_status ac__request_submit(ac_request *q)
{
    return ac__engine_submit(q->llm->core->eng, q);
}

void ac__request_submit_error(ac_request *q, ac_status st, ac_error *err)
{
    if (st == AC_ECANCELED)
        ac__error_set(err, st, AC_STAGE_CANCELLED, "the core was closed");
    else
        ac__error_set(err, st, AC_STAGE_REQUEST, "%s queuing the request", ac_strerror(st));
    ac__error_set_provider(err, q->llm->inst->name);
}

void ac__request_fail_unsubmitted(ac_request *q, ac_status st)
{
    ac_error err;
    ac__request_submit_error(q, st, &err);
    ac__request_ref(q); /* the reference ac__request_finish lets go of */
    int outer = !ac__in_engine_context();
    if (outer)
        ac__enter_engine_context();
    ac__request_finish(q, st, &err);
    if (outer)
        ac__leave_engine_context();
}

/* A failure must end with a failure code: a plugin that returned "not
 * yet" or "end of stream" as its error would otherwise make
 * ac_stream_next callers wait, or stop as if all were well. */
static ac_status failure_code(ac_status st, ac_error *e)
{
    if (st == AC_EPENDING || st == AC_EAGAIN || st == AC_EOF || (int)st < 0 ||
        st >= AC_STATUS_LAST) {
        ac__error_set(e, AC_EPLUGIN, AC_STAGE_PLUGIN,
                      "the plugin reported a failure as %s, which is not an error code",
                      ac_strerror(st));
        return AC_EPLUGIN;
    }
    return st;
}

void ac__request_finish(ac_request *q, ac_status status, const ac_error *err)
{
    AC__ASSERT_ENGINE();
    AC__ASSERT(q->state < RQ_COMPLETE);
    ac_error e;
    ac_error_clear(&e);
    if (status != AC_OK) {
        if (err)
            e = *err;
        status = failure_code(status, &e);
        if (e.code == AC_OK)
            ac__error_set(&e, status, AC_STAGE_NONE, "%s", ac_strerror(status));
        e.code = status;
        if (!e.provider[0])
            ac__error_set_provider(&e, q->llm->inst->name);
        q->kind->fail(q, &e);
    }
    if (q->t_start > 0 && q->resp)
        q->resp->latency_ms = ac__now_ms() - q->t_start;
    /* Everything that can change the outcome runs before it is
     * published: a session that cannot record the turn fails it. */
    if (q->hook_done) {
        ac_status hs = q->hook_done(q, status, q->hook_ctx);
        if (hs != AC_OK && status == AC_OK) {
            status = hs;
            ac__error_set(&e, hs, AC_STAGE_REQUEST, "out of memory recording the turn in "
                          "the session's history (the history is as before the turn)");
            ac__error_set_provider(&e, q->llm->inst->name);
            q->kind->fail(q, &e);
        }
    }
    ac__hook_request_end(q, status, status == AC_OK ? NULL : &e);
    pthread_mutex_lock(&q->mu);
    q->status = status;
    q->err = e;
    q->state = RQ_COMPLETE;
    pthread_mutex_unlock(&q->mu);
    if (q->cb.on_done)
        q->cb.on_done(q, status, q->user);
    pthread_mutex_lock(&q->mu);
    q->state = RQ_DONE;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    ac__request_unref(q); /* the engine's reference */
}

void ac__request_ref(ac_request *q) { atomic_fetch_add(&q->refs, 1); }

void ac__request_unref(ac_request *q)
{
    if (!q || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    q->kind->release(q);
    ac__request_unref(q->waits_for);
    ac__hook_attempts_free(q);
    ac__http_request_clear(&q->http);
    ac_response_free(q->resp);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    ac__llm_unref(q->llm);
    ac__llm_unref(q->origin);
    ac__free(q);
}

rq_state ac__request_state(const ac_request *q)
{
    ac_request *m = (ac_request *)q;
    pthread_mutex_lock(&m->mu);
    rq_state s = m->state;
    pthread_mutex_unlock(&m->mu);
    return s;
}

int ac__refuse_blocking(const ac_llm *llm, const char *what, ac_error *err)
{
    /* ac_request_wait and ac_gather return a bare status: the why goes to
     * the log, so that a program is not left with AC_EBUSY alone. */
    ac_error own;
    if (!err)
        err = &own;
    if (ac__in_engine_context()) {
        ac__error_set(err, AC_EBUSY, AC_STAGE_REQUEST,
                      "%s called from a callback, where it would wait for itself; use the "
                      "asynchronous call", what);
    } else if (llm && ac__engine_mode(llm->core->eng) == ENGINE_HOST) {
        ac__error_set(err, AC_EBUSY, AC_STAGE_REQUEST,
                      "%s would block, but this core runs in host mode: the application's "
                      "loop drives it (ac_core_run_once); use the asynchronous call", what);
    } else {
        return 0;
    }
    if (llm)
        ac__error_set_provider(err, llm->inst->name);
    if (err == &own)
        ac__log(AC_LOG_WARN, llm ? llm->inst->name : NULL, "%s", own.message);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Waiting                                                             */
/* ------------------------------------------------------------------ */

static int deadline_passed(const struct timespec *dl)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > dl->tv_sec || (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

static void deadline_from(struct timespec *dl, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, dl);
    dl->tv_sec += timeout_ms / 1000;
    dl->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl->tv_nsec >= 1000000000L) {
        dl->tv_sec++;
        dl->tv_nsec -= 1000000000L;
    }
}

static ac_status wait_until(ac_request *q, const struct timespec *dl)
{
    ac_status st = AC_OK;
    pthread_mutex_lock(&q->mu);
    while (q->state != RQ_DONE) {
        if (!dl) {
            pthread_cond_wait(&q->cv, &q->mu);
        } else if (pthread_cond_timedwait(&q->cv, &q->mu, dl) == ETIMEDOUT ||
                   deadline_passed(dl)) {
            st = q->state == RQ_DONE ? AC_OK : AC_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

ac_status ac_request_wait(ac_request *q, int timeout_ms)
{
    if (!q)
        return AC_EINVAL;
    if (ac_request_done(q))
        return AC_OK;
    if (timeout_ms == 0)
        return AC_ETIMEDOUT;
    if (ac__refuse_blocking(q->llm, "ac_request_wait", NULL))
        return AC_EBUSY;
    if (timeout_ms < 0)
        return wait_until(q, NULL);
    struct timespec dl;
    deadline_from(&dl, timeout_ms);
    return wait_until(q, &dl);
}

ac_status ac_gather(ac_request **reqs, size_t n, int timeout_ms)
{
    if (!reqs && n)
        return AC_EINVAL;
    int pending = 0;
    for (size_t i = 0; i < n; i++)
        if (reqs[i] && !ac_request_done(reqs[i])) {
            if (timeout_ms == 0)
                return AC_ETIMEDOUT;
            if (ac__refuse_blocking(reqs[i]->llm, "ac_gather", NULL))
                return AC_EBUSY;
            pending = 1;
        }
    if (!pending)
        return AC_OK;
    struct timespec dl;
    if (timeout_ms >= 0)
        deadline_from(&dl, timeout_ms);
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i])
            continue;
        ac_status st = wait_until(reqs[i], timeout_ms >= 0 ? &dl : NULL);
        if (st != AC_OK)
            return st;
    }
    return AC_OK;
}

ac_response *ac__request_wait_result(ac_request *q, ac_error *err)
{
    wait_until(q, NULL);
    ac_error e;
    ac_status st = ac_request_status(q, &e);
    ac_response *r = NULL;
    if (st == AC_OK)
        r = ac_request_take_response(q);
    else if (err)
        *err = e;
    ac_request_free(q);
    return r;
}

/* ------------------------------------------------------------------ */
/* The public handle                                                   */
/* ------------------------------------------------------------------ */

void ac_request_cancel(ac_request *q)
{
    if (!q)
        return;
    if (ac__request_state(q) >= RQ_COMPLETE)
        return;
    if (atomic_exchange(&q->cancel, 1))
        return; /* already asked: one poke is enough */
    /* A request not yet submitted (a session turn waiting its turn) is
     * ignored by the poke; the engine sees the flag when it gets it. */
    ac__engine_poke(q->origin->core->eng, q);
    pthread_mutex_lock(&q->mu);
    ac_request *w = q->waits_for;
    if (w)
        ac__request_ref(w);
    pthread_mutex_unlock(&q->mu);
    if (w) {
        ac_request_cancel(w);
        ac__request_unref(w);
    }
}

int ac__request_behind(ac_request *q)
{
    if (atomic_load(&q->held))
        return 1;
    return q->hook_backpressure && q->hook_backpressure(q->hook_ctx);
}

void ac_request_pause(ac_request *q)
{
    if (q)
        atomic_store(&q->held, 1);
}

void ac_request_resume(ac_request *q)
{
    if (!q || !atomic_exchange(&q->held, 0))
        return;
    /* The engine looks again: a transfer it paused goes on, unless a pull
     * stream's reader is still behind.  A request not running ignores the
     * poke, and one not paused yet simply never pauses. */
    if (ac__request_state(q) < RQ_COMPLETE)
        ac__engine_poke(q->origin->core->eng, q);
}

ac_status ac_request_status(const ac_request *q, ac_error *err)
{
    if (!q)
        return AC_EINVAL;
    ac_request *m = (ac_request *)q;
    pthread_mutex_lock(&m->mu);
    ac_status st = m->state >= RQ_COMPLETE ? m->status : AC_EPENDING;
    if (err && st != AC_OK && st != AC_EPENDING)
        *err = m->err;
    pthread_mutex_unlock(&m->mu);
    return st;
}

int ac_request_done(const ac_request *q)
{
    return q && ac__request_state(q) == RQ_DONE;
}

const ac_response *ac_request_response(const ac_request *q)
{
    if (!q)
        return NULL;
    ac_request *m = (ac_request *)q;
    pthread_mutex_lock(&m->mu);
    const ac_response *r = m->state >= RQ_COMPLETE ? m->resp : NULL;
    pthread_mutex_unlock(&m->mu);
    return r;
}

ac_response *ac_request_take_response(ac_request *q)
{
    if (!q)
        return NULL;
    pthread_mutex_lock(&q->mu);
    ac_response *r = NULL;
    if (q->state >= RQ_COMPLETE) {
        r = q->resp;
        q->resp = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return r;
}

void *ac_request_user(const ac_request *q) { return q ? q->user : NULL; }

void ac_request_free(ac_request *q)
{
    if (!q)
        return;
    ac_request_cancel(q);
    ac__request_unref(q);
}
