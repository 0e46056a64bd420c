/*
 * engine.c -- the loop that drives every request.  See engine.h.
 *
 * A round (run_once): take the submit and poke queues, serve the sockets
 * epoll reports ready through curl_multi_socket_action, fire libcurl's
 * timer when due, end the transfers libcurl reports done, then our own
 * timers.  Life of an HTTP attempt: attempt_start makes a transfer
 * (transfer.c) and adds its easy handle; its bytes go through the
 * decoder into the request's kind; when libcurl reports it done,
 * transfer_done asks the transfer what came of it and ends the request,
 * or retries it (retry.h) while nothing has reached the caller.  An
 * in-process run (relay.c) is started on the worker pool and its queued
 * output drained here when the relay pokes.
 *
 * Timers: connect and total of HTTP transfers are libcurl's; first byte,
 * idle, backoff and every timer of in-process runs are checked here, by a
 * scan that runs only when the earliest deadline is due, so a thousand
 * quiet streams cost nothing per round.
 */
#include "engine.h"
#include "hook.h"
#include "alloc.h"
#include "error.h"
#include "relay.h"
#include "retry.h"
#include "transfer.h"
#include "workers.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct rq_list {
    ac_request *head;
} rq_list;

struct engine {
    engine_mode     mode;
    CURLM          *multi;
    int             epfd;          /* the backend fd */
    int             wakefd;        /* eventfd in epfd: the queues have news */
    atomic_int      wake_pending;  /* coalesces writes to wakefd */

    pthread_mutex_t mu;            /* the queues and the two flags below */
    ac_request     *sub_head, *sub_tail;
    ac_request     *poke_head, *poke_tail;
    int             stopping;
    int             dead;          /* takes no more requests */

    pthread_mutex_t run_mu;        /* one round at a time */
    pthread_t       thread;
    int             thread_started;

    /* Engine context only. */
    rq_list         active;        /* an attempt is running */
    rq_list         backoff;       /* waiting to retry */
    double          curl_due;      /* libcurl's timer, -1: none */
    double          next_timer;    /* our earliest deadline, INFINITY: none */
    uint64_t        rng;
};

static void list_add(rq_list *l, ac_request *q)
{
    q->prev = NULL;
    q->next = l->head;
    if (l->head)
        l->head->prev = q;
    l->head = q;
}

static void list_del(rq_list *l, ac_request *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else if (l->head == q)
        l->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->next = q->prev = NULL;
}

static void set_state(ac_request *q, rq_state s)
{
    pthread_mutex_lock(&q->mu);
    q->state = s;
    pthread_mutex_unlock(&q->mu);
}

static void arm(engine *e, double due)
{
    if (due > 0 && due < e->next_timer)
        e->next_timer = due;
}

static void wake(engine *e)
{
    if (atomic_exchange(&e->wake_pending, 1))
        return;
    uint64_t one = 1;
    /* EAGAIN: the counter is full, so the fd is readable anyway. */
    while (write(e->wakefd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------ */
/* Ending an attempt, ending a request                                 */
/* ------------------------------------------------------------------ */

/* End the running try, if any (st: how it ended, err when it failed):
 * the transfer or run goes, the try is recorded (hook.h), and q leaves
 * the engine's lists. */
static void attempt_end(engine *e, ac_request *q, ac_status st, const ac_error *err)
{
    int http_status = 0;
    if (q->xfer && !q->local)
        http_status = ((transfer *)q->xfer)->dec.http_status;
    instance *in = q->llm->inst;
    if (q->attempt_open)
        ac__breaker_record(&in->br, q->llm->core, in->name, q->llm->model, q->probe, st, err);
    else if (q->probe)
        /* Admitted as the probe, ended before its try began (a timeout, no
         * memory): it says nothing of the backend, but must let the probe
         * go, or the circuit waits for it for good. */
        ac__breaker_record(&in->br, q->llm->core, in->name, q->llm->model, 1, AC_ECANCELED,
                           NULL);
    q->probe = 0;
    ac__ratelimit_forget(&in->rl, q);
    ac__hook_attempt_end(q, st, err, st == AC_OK ? http_status : 0);
    if (q->local) {
        if (q->xfer) {
            ac__relay_cancel(q->xfer);
            ac__relay_unref(q->xfer);
        }
    } else if (q->xfer) {
        transfer *t = q->xfer;
        curl_multi_remove_handle(e->multi, t->easy);
        ac__transfer_free(t);
    }
    q->xfer = NULL;
    if (q->state == RQ_ACTIVE)
        list_del(&e->active, q);
    else if (q->state == RQ_BACKOFF)
        list_del(&e->backoff, q);
}

static void finish(engine *e, ac_request *q, ac_status st, const ac_error *err)
{
    attempt_end(e, q, st, err);
    /* What the request used counts against its provider's tokens per
     * minute. */
    if (q->resp && q->llm->inst->rl.tpm) {
        long in = q->resp->input_tokens, out = q->resp->output_tokens;
        ac__ratelimit_used(&q->llm->inst->rl, (in > 0 ? in : 0) + (out > 0 ? out : 0));
    }
    ac__request_finish(q, st, err);
}

static void finish_canceled(engine *e, ac_request *q, const char *why)
{
    ac_error err;
    ac__error_set(&err, AC_ECANCELED, AC_STAGE_CANCELLED, "%s", why);
    finish(e, q, AC_ECANCELED, &err);
}

static void finish_timeout(engine *e, ac_request *q, const char *fmt, long ms)
{
    ac_error err;
    ac__error_set(&err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT, fmt, ms);
    finish(e, q, AC_ETIMEDOUT, &err);
}

static void attempt_start(engine *e, ac_request *q);
static void local_start(engine *e, ac_request *q);
static void try_start(engine *e, ac_request *q);
static double active_due(const ac_request *q, const char **what, long *ms);

/* Arm the timer of q's next deadline (after anything that moves one:
 * a start, the first byte, a resume, output of an in-process run). */
static void rearm(engine *e, const ac_request *q)
{
    const char *what;
    long ms;
    arm(e, active_due(q, &what, &ms));
}

void ac__engine_rearm(engine *e, ac_request *q)
{
    AC__ASSERT_ENGINE();
    if (e && q->state == RQ_ACTIVE)
        rearm(e, q);
}

/* A request that cannot go on where it is: on to its next fallback
 * provider when it may (the failure is one another backend might not
 * have, nothing reached the caller, time is left), else its end. */
static void fail_or_fallback(engine *e, ac_request *q, ac_error *err)
{
    double now = ac__now_ms();
    int time_left = q->lim.total_ms <= 0 || now < q->t_start + (double)q->lim.total_ms;
    /* The backend refused a native form for this model: the same request
     * again, that form in the prompt (a round of its own). */
    if (q->kind->downgrade && time_left && !atomic_load(&q->cancel) &&
        q->kind->delivered(q) == 0 && q->kind->downgrade(q, err, 0, NULL) > 0) {
        attempt_end(e, q, err->code, err);
        ac_error derr;
        ac_error_clear(&derr);
        if (q->kind->downgrade(q, err, 1, &derr) > 0) {
            q->round_start = q->attempt;
            try_start(e, q);
        } else {
            finish(e, q, derr.code, &derr);
        }
        return;
    }
    if (q->kind->fallback && time_left && !atomic_load(&q->cancel) &&
        q->kind->delivered(q) == 0 && (err->retryable || err->code == AC_ECIRCUIT)) {
        attempt_end(e, q, err->code, err);
        ac_error ferr;
        ac_error_clear(&ferr);
        int moved = q->kind->fallback(q, err, &ferr);
        if (moved > 0) {
            q->round_start = q->attempt;
            try_start(e, q);
            return;
        }
        if (moved < 0) {
            finish(e, q, ferr.code, &ferr);
            return;
        }
    }
    if (q->attempt > 1) {
        char n[64];
        snprintf(n, sizeof n, " (after %d attempts)", q->attempt);
        size_t l = strlen(err->message);
        if (l + strlen(n) < sizeof err->message)
            memcpy(err->message + l, n, strlen(n) + 1);
    }
    finish(e, q, err->code, err);
}

static void fail_or_retry(engine *e, ac_request *q, ac_error *err)
{
    double now = ac__now_ms();
    if (err->retryable && !q->local && !atomic_load(&q->cancel) &&
        q->kind->delivered(q) == 0 && q->attempt - q->round_start <= q->lim.max_retries) {
        double delay = ac__retry_delay_ms(&e->rng, q->attempt, err->retry_after_ms);
        if (q->lim.total_ms <= 0 || now + delay < q->t_start + (double)q->lim.total_ms) {
            attempt_end(e, q, err->code, err);
            ac__hook_retry(q, err, (long)delay);
            q->kind->restart(q);
            set_state(q, RQ_BACKOFF);
            q->retry_at = now + delay;
            list_add(&e->backoff, q);
            arm(e, q->retry_at);
            return;
        }
    }
    fail_or_fallback(e, q, err);
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */
/* ------------------------------------------------------------------ */

static void attempt_start(engine *e, ac_request *q)
{
    ac_error err;
    ac_error_clear(&err);
    double now = ac__now_ms();
    q->attempt++;
    if (q->t_start <= 0)
        q->t_start = now;
    long total = 0;
    if (q->lim.total_ms > 0) {
        total = (long)((double)q->lim.total_ms - (now - q->t_start));
        if (total <= 0) {
            finish_timeout(e, q, "total timeout (%ld ms) reached", q->lim.total_ms);
            return;
        }
    }
    transfer *t = ac__transfer_new(q, total, &err);
    if (!t) {
        finish(e, q, err.code, &err);
        return;
    }
    if (curl_multi_add_handle(e->multi, t->easy) != CURLM_OK) {
        ac__transfer_free(t);
        ac__error_set(&err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory starting the transfer");
        finish(e, q, AC_ENOMEM, &err);
        return;
    }
    q->xfer = t;
    set_state(q, RQ_ACTIVE);
    list_add(&e->active, q);
    ac__hook_attempt_start(q);
    rearm(e, q);
}

/* An in-process run: a relay, handed to the worker pool.  Its connect
 * timer is the wait for a free worker; first byte, idle and total are
 * watched by scan_timers as for HTTP. */
static void local_start(engine *e, ac_request *q)
{
    ac_error err;
    ac_error_clear(&err);
    double now = ac__now_ms();
    q->attempt++;
    if (q->t_start <= 0)
        q->t_start = now;
    relay *r = ac__relay_new(q);
    workers *w = r ? ac__core_workers(q->llm->core) : NULL;
    ac_status st = !r ? AC_ENOMEM : !w ? AC_ENOMEM : ac__workers_submit(w, r);
    if (st != AC_OK) {
        ac__relay_unref(r);
        if (st == AC_ECANCELED)
            ac__error_set(&err, st, AC_STAGE_CANCELLED, "the core was closed");
        else
            ac__error_set(&err, st, AC_STAGE_REQUEST, "out of memory starting the in-process run");
        finish(e, q, st, &err);
        return;
    }
    q->xfer = r;
    set_state(q, RQ_ACTIVE);
    list_add(&e->active, q);
    ac__hook_attempt_start(q);
    rearm(e, q);
}

/* Start q's next try once its provider's rate limit and circuit breaker
 * let it: a rate limit makes it wait in line (as a backoff), an open
 * circuit fails the try at once (or moves it to a fallback). */
static void try_start(engine *e, ac_request *q)
{
    double now = ac__now_ms();
    if (q->t_start <= 0)
        q->t_start = now;
    instance *in = q->llm->inst;
    double due;
    if (ac__ratelimit_on(&in->rl) && !ac__ratelimit_take(&in->rl, q, now, &due)) {
        double deadline = q->lim.total_ms > 0 ? q->t_start + (double)q->lim.total_ms : INFINITY;
        if (!q->rl_told) {
            q->rl_told = 1;
            ac__hook_rate_wait(q, (long)(due - now));
        }
        set_state(q, RQ_BACKOFF);
        q->retry_at = due < deadline ? due : deadline;
        list_add(&e->backoff, q);
        arm(e, q->retry_at);
        return;
    }
    q->rl_told = 0;
    int probe;
    ac_error berr;
    if (!ac__breaker_admit(&in->br, q->llm->core, in->name, q->llm->model, &probe, &berr)) {
        /* Listed as a try that did not go out. */
        ac__hook_attempt_start(q);
        ac__hook_attempt_end(q, AC_ECIRCUIT, &berr, 0);
        fail_or_fallback(e, q, &berr);
        return;
    }
    q->probe = probe;
    if (q->local)
        local_start(e, q);
    else
        attempt_start(e, q);
}

static void start_submitted(engine *e, ac_request *q, int stopping)
{
    ac__hook_request_start(q);
    if (stopping)
        finish_canceled(e, q, "the core was closed");
    else if (q->prestatus != AC_OK)
        finish(e, q, q->prestatus, &q->preerr);
    else if (atomic_load(&q->cancel))
        finish_canceled(e, q, "cancelled before it started");
    else if (q->kind->start) {
        /* It runs other requests and ends itself (request.h).  ACTIVE on
         * no list: a poke's cancel ends it through finish() like any
         * other (attempt_end finds no transfer and no list to leave). */
        set_state(q, RQ_ACTIVE);
        q->kind->start(q);
    } else
        try_start(e, q);
}

/* ------------------------------------------------------------------ */
/* Progress                                                            */
/* ------------------------------------------------------------------ */

/* A try ended well: another round of the request, or its end. */
static void ended_well(engine *e, ac_request *q)
{
    ac_error err;
    ac_error_clear(&err);
    int more = q->kind->again ? q->kind->again(q, &err) : 0;
    if (more < 0) {
        finish(e, q, err.code, &err);
        return;
    }
    if (more == 0) {
        finish(e, q, AC_OK, NULL);
        return;
    }
    attempt_end(e, q, AC_OK, NULL);
    q->round_start = q->attempt;
    try_start(e, q);
}

static void transfer_done(engine *e, transfer *t, CURLcode rc)
{
    ac_request *q = t->q;
    if (atomic_load(&q->cancel)) {
        finish_canceled(e, q, "cancelled");
        return;
    }
    ac_error err;
    ac_status st = ac__transfer_result(t, rc, &err);
    if (st == AC_OK)
        ended_well(e, q);
    else
        fail_or_retry(e, q, &err);
}

/* Apply what an in-process run has queued; end the request when the run
 * has ended. */
static void local_drain(engine *e, ac_request *q)
{
    ac_status st = AC_OK;
    ac_error err;
    ac_error_clear(&err);
    if (!ac__relay_drain(q->xfer, q->sink, &st, &err)) {
        rearm(e, q);
        return;
    }
    if (atomic_load(&q->cancel)) {
        finish_canceled(e, q, "cancelled");
        return;
    }
    if (st == AC_OK)
        st = q->kind->end(q, 0, &err);
    else if (err.code == AC_OK)
        ac__error_set(&err, st, AC_STAGE_PROTOCOL, "the in-process backend failed: %s",
                      ac_strerror(st));
    if (st == AC_OK)
        ended_well(e, q);
    else
        finish(e, q, st, &err);
}

/* A paused transfer whose reader has drained its queue goes on. */
static void resume_if_drained(engine *e, ac_request *q)
{
    if (!atomic_load(&q->paused) || ac__request_behind(q))
        return;
    atomic_store(&q->paused, 0);
    if (q->local) {
        local_drain(e, q);
    } else {
        transfer *t = q->xfer;
        t->t_last_byte = ac__now_ms();
        rearm(e, q);
        curl_easy_pause(t->easy, CURLPAUSE_CONT);
    }
}

static void handle_poke(engine *e, ac_request *q)
{
    if (q->state != RQ_ACTIVE && q->state != RQ_BACKOFF)
        return;
    if (atomic_load(&q->cancel)) {
        finish_canceled(e, q, "cancelled");
        return;
    }
    if (q->state != RQ_ACTIVE)
        return;
    if (atomic_load(&q->paused))
        resume_if_drained(e, q);
    else if (q->local)
        local_drain(e, q);
}

/* The deadline of an active request's next timer, 0 for none; *what
 * names the timer that fires first.  Timers do not run while the reader
 * holds the transfer paused. */
static double active_due(const ac_request *q, const char **what, long *ms)
{
    const limits *l = &q->lim;
    double due = 0;
#define CONSIDER(when, fmt, lim)                                          \
    do {                                                                  \
        double w_ = (when);                                               \
        if ((lim) > 0 && (due == 0 || w_ < due)) {                        \
            due = w_;                                                     \
            *what = (fmt);                                                \
            *ms = (lim);                                                  \
        }                                                                 \
    } while (0)
    if (q->local) {
        const relay *r = q->xfer;
        double started = ac__relay_started(r);
        if (!started)
            CONSIDER(q->t_start + (double)l->connect_ms,
                     "no worker was free within connect_timeout_ms (%ld ms)", l->connect_ms);
        else if (!ac__relay_got_event(r))
            CONSIDER(started + (double)l->first_byte_ms,
                     "no output within first_byte_timeout_ms (%ld ms)", l->first_byte_ms);
        else if (!atomic_load(&q->paused))
            CONSIDER(ac__relay_last_event(r) + (double)l->idle_ms,
                     "no output for idle_timeout_ms (%ld ms) in the middle of the response",
                     l->idle_ms);
        CONSIDER(q->t_start + (double)l->total_ms, "total timeout (%ld ms) reached", l->total_ms);
    } else {
        const transfer *t = q->xfer;
        if (!t->got_first_byte)
            CONSIDER(t->t_begin + (double)l->first_byte_ms,
                     "no response within first_byte_timeout_ms (%ld ms)", l->first_byte_ms);
        else if (!atomic_load(&q->paused))
            CONSIDER(t->t_last_byte + (double)l->idle_ms,
                     "no data for idle_timeout_ms (%ld ms) in the middle of the response",
                     l->idle_ms);
    }
#undef CONSIDER
    return due;
}

static void scan_timers(engine *e, double now)
{
    double next = INFINITY;
    /* What this scan starts or schedules (a retry's backoff, a new try)
     * arms the timer as it goes; the lists' own deadlines join it below. */
    e->next_timer = INFINITY;
    for (ac_request *q = e->backoff.head, *nx; q; q = nx) {
        nx = q->next;
        if (q->retry_at <= now) {
            if (q->lim.total_ms > 0 && now >= q->t_start + (double)q->lim.total_ms) {
                finish_timeout(e, q, "total timeout (%ld ms) reached", q->lim.total_ms);
                continue;
            }
            list_del(&e->backoff, q);
            set_state(q, RQ_QUEUED);
            try_start(e, q);
        } else if (q->retry_at < next) {
            next = q->retry_at;
        }
    }
    for (ac_request *q = e->active.head, *nx; q; q = nx) {
        nx = q->next;
        const char *what = NULL;
        long ms = 0;
        double due = active_due(q, &what, &ms);
        if (due == 0)
            continue;
        if (due > now) {
            if (due < next)
                next = due;
            continue;
        }
        ac_error err;
        ac__error_set(&err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT, what, ms);
        /* An HTTP first-byte or idle timeout may be retried (the request
         * never produced anything the caller saw), as the official SDKs
         * do, unless retry_on_timeout says not; local runs are not. */
        err.retryable = !q->local && q->lim.retry_timeouts;
        if (q->local)
            finish(e, q, AC_ETIMEDOUT, &err);
        else
            fail_or_retry(e, q, &err);
    }
    if (next < e->next_timer)
        e->next_timer = next;
}

/* ------------------------------------------------------------------ */
/* libcurl's socket and timer callbacks                                */
/* ------------------------------------------------------------------ */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    engine *e = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    ev.data.fd = s;
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(e->epfd, op, s, &ev) != 0) {
        /* A descriptor number reused, or removed behind our back: the
         * other operation is the right one. */
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(e->epfd, op, s, &ev) != 0)
            return -1;
    }
    if (!socketp)
        curl_multi_assign(e->multi, s, e);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    engine *e = userp;
    e->curl_due = timeout_ms < 0 ? -1 : ac__now_ms() + (double)timeout_ms;
    return 0;
}

static void read_messages(engine *e)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        transfer *t = NULL;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t)
            transfer_done(e, t, rc);
    }
}

/* Hand libcurl an event (a socket ready, or CURL_SOCKET_TIMEOUT).  When
 * libcurl fails it (CURLM_OUT_OF_MEMORY: a socket it could not add to
 * its hash, a connection it could not set up), the transfer it was
 * working on may never be reported done, nor its socket watched: it
 * would wait for its timeouts, or for ever.  libcurl does not say which
 * transfer that was, so every HTTP attempt running ends with libcurl's
 * out-of-memory error (test_alloc fails libcurl's allocations in turn).
 * CURLM_BAD_SOCKET only means the socket went away before we asked. */
static void curl_act(engine *e, curl_socket_t s, int flags)
{
    int running;
    CURLMcode mc = curl_multi_socket_action(e->multi, s, flags, &running);
    if (mc == CURLM_OK || mc == CURLM_BAD_SOCKET)
        return;
    read_messages(e);
    /* list_add puts a new attempt at the head: the walk never meets one
     * this loop started. */
    for (ac_request *q = e->active.head, *nx; q; q = nx) {
        nx = q->next;
        if (!q->local && q->xfer)
            transfer_done(e, q->xfer, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                                                : CURLE_FAILED_INIT);
    }
}

static void curl_timer_if_due(engine *e)
{
    if (e->curl_due >= 0 && ac__now_ms() >= e->curl_due) {
        e->curl_due = -1;
        curl_act(e, CURL_SOCKET_TIMEOUT, 0);
        read_messages(e);
    }
}

/* ------------------------------------------------------------------ */
/* A round                                                             */
/* ------------------------------------------------------------------ */

static void cancel_everything(engine *e)
{
    while (e->active.head)
        finish_canceled(e, e->active.head, "the core was closed");
    while (e->backoff.head)
        finish_canceled(e, e->backoff.head, "the core was closed");
}

/* Engine context.  Returns 1 when stopping and nothing is left. */
static int round_once(engine *e)
{
    /* Drain the wake fd first, then allow wakes again, then take the
     * queues: a waker that finds wake_pending set has queued its work
     * before this round takes it.  (Cleared before the read, a wake
     * written between the two was consumed while wake_pending stayed
     * set, and every later wake was skipped until some timer ran a
     * round: a lost poke left a finished in-process run waiting.) */
    uint64_t count;
    while (read(e->wakefd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    atomic_store(&e->wake_pending, 0);
    pthread_mutex_lock(&e->mu);
    ac_request *sub = e->sub_head, *pok = e->poke_head;
    e->sub_head = e->sub_tail = e->poke_head = e->poke_tail = NULL;
    int stopping = e->stopping;
    pthread_mutex_unlock(&e->mu);

    while (sub) {
        ac_request *q = sub;
        sub = q->qnext;
        q->qnext = NULL;
        start_submitted(e, q, stopping);
    }
    while (pok) {
        /* Each leaves the list as it is handled, not all at the start: a
         * request poked again while one before it is handled (a callback
         * cancelling another request) must not be queued anew -- that
         * would rewrite its pnext under this walk and lose the rest of
         * the list, and their references.  Until it is handled, a poke
         * of it is already pending. */
        ac_request *q = pok;
        pthread_mutex_lock(&e->mu);
        pok = q->pnext;
        q->pnext = NULL;
        q->poked = 0;
        pthread_mutex_unlock(&e->mu);
        handle_poke(e, q);
        ac__request_unref(q);
    }
    if (stopping) {
        cancel_everything(e);
        pthread_mutex_lock(&e->mu);
        int empty = !e->sub_head && !e->poke_head;
        if (empty)
            e->dead = 1;
        pthread_mutex_unlock(&e->mu);
        return empty;
    }

    struct epoll_event ev[128];
    int n = epoll_wait(e->epfd, ev, 128, 0);
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd == e->wakefd)
            continue;
        int flags = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_act(e, fd, flags);
    }
    read_messages(e);
    curl_timer_if_due(e);
    double now = ac__now_ms();
    if (now >= e->next_timer) {
        scan_timers(e, now);
        /* A retry started by the scan asks libcurl's timer for "now". */
        curl_timer_if_due(e);
    }
    return 0;
}

ac_status ac__engine_run_once(engine *e)
{
    if (pthread_mutex_trylock(&e->run_mu) != 0)
        return AC_EBUSY;
    pthread_mutex_lock(&e->mu);
    int dead = e->dead;
    pthread_mutex_unlock(&e->mu);
    if (dead) {
        pthread_mutex_unlock(&e->run_mu);
        return AC_ECANCELED;
    }
    int outer = !ac__in_engine_context();
    if (outer)
        ac__enter_engine_context();
    round_once(e);
    if (outer)
        ac__leave_engine_context();
    pthread_mutex_unlock(&e->run_mu);
    return AC_OK;
}

int ac__engine_backend_fd(const engine *e) { return e->epfd; }

int ac__engine_backend_timeout(engine *e)
{
    /* A deadline armed for a request that has ended since is stale: with
     * nothing running, an idle core has no timer (a host's loop sleeps). */
    if (!e->active.head && !e->backoff.head)
        e->next_timer = INFINITY;
    double due = e->next_timer;
    if (e->curl_due >= 0 && e->curl_due < due)
        due = e->curl_due;
    if (isinf(due))
        return -1;
    double ms = ceil(due - ac__now_ms());
    return ms <= 0 ? 0 : ms >= (double)INT_MAX ? INT_MAX : (int)ms;
}

static void *engine_main(void *arg)
{
    engine *e = arg;
    ac__enter_engine_context();
    for (;;) {
        struct pollfd p = {.fd = e->epfd, .events = POLLIN};
        poll(&p, 1, ac__engine_backend_timeout(e));
        pthread_mutex_lock(&e->run_mu);
        int over = round_once(e);
        pthread_mutex_unlock(&e->run_mu);
        if (over)
            break;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The engine's API                                                    */
/* ------------------------------------------------------------------ */

engine *ac__engine_new(const engine_config *cfg, ac_error *err)
{
    engine *e = ac__calloc(1, sizeof *e);
    if (!e) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return NULL;
    }
    e->mode = cfg->mode;
    e->epfd = e->wakefd = -1;
    e->curl_due = -1;
    e->next_timer = INFINITY;
    ac__rng_seed(&e->rng, (uint64_t)(ac__now_ms() * 1000.0) ^ (uint64_t)(uintptr_t)e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->run_mu, NULL);
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->epfd < 0 || e->wakefd < 0) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "cannot make the engine's event set: %s",
                      strerror(errno));
        goto fail;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = e->wakefd;
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev) != 0) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "cannot watch the engine's wakeup: %s",
                      strerror(errno));
        goto fail;
    }
    e->multi = curl_multi_init();
    if (!e->multi) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "curl_multi_init failed");
        goto fail;
    }
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (cfg->max_connections > 0)
        curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, cfg->max_connections);
    if (cfg->max_host_connections > 0)
        curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, cfg->max_host_connections);
    if (cfg->max_idle_connections > 0)
        curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, cfg->max_idle_connections);
    if (e->mode == ENGINE_THREAD) {
        if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "cannot start the engine thread");
            goto fail;
        }
        e->thread_started = 1;
    }
    return e;
fail:
    if (e->multi)
        curl_multi_cleanup(e->multi);
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->wakefd >= 0)
        close(e->wakefd);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->run_mu);
    ac__free(e);
    return NULL;
}

engine_mode ac__engine_mode(const engine *e) { return e->mode; }

ac_status ac__engine_submit(engine *e, ac_request *q)
{
    pthread_mutex_lock(&e->mu);
    if (e->dead) {
        pthread_mutex_unlock(&e->mu);
        return AC_ECANCELED;
    }
    ac__request_ref(q);
    q->t_queued = ac__now_ms();
    set_state(q, RQ_QUEUED);
    q->qnext = NULL;
    if (e->sub_tail)
        e->sub_tail->qnext = q;
    else
        e->sub_head = q;
    e->sub_tail = q;
    pthread_mutex_unlock(&e->mu);
    wake(e);
    return AC_OK;
}

void ac__engine_poke(engine *e, ac_request *q)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    if (e->dead || q->poked) {
        pthread_mutex_unlock(&e->mu);
        return;
    }
    q->poked = 1;
    ac__request_ref(q);
    q->pnext = NULL;
    if (e->poke_tail)
        e->poke_tail->pnext = q;
    else
        e->poke_head = q;
    e->poke_tail = q;
    pthread_mutex_unlock(&e->mu);
    wake(e);
}

void ac__engine_stop(engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    int already = e->stopping;
    e->stopping = 1;
    pthread_mutex_unlock(&e->mu);
    if (e->mode == ENGINE_THREAD) {
        if (e->thread_started) {
            wake(e);
            pthread_join(e->thread, NULL);
            e->thread_started = 0;
        }
        return;
    }
    if (already)
        return;
    /* Host mode: the application's thread ends everything, here. */
    pthread_mutex_lock(&e->run_mu);
    ac__enter_engine_context();
    while (!round_once(e))
        ;
    ac__leave_engine_context();
    pthread_mutex_unlock(&e->run_mu);
}

void ac__engine_free(engine *e)
{
    if (!e)
        return;
    ac__engine_stop(e);
    /* Requests still queued to a dead engine hold references: drop them
     * (only pokes can be left; submits are refused once dead). */
    for (ac_request *q = e->poke_head, *nx; q; q = nx) {
        nx = q->pnext;
        ac__request_unref(q);
    }
    curl_multi_cleanup(e->multi);
    close(e->epfd);
    close(e->wakefd);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->run_mu);
    ac__free(e);
}
