/*
 * workers.c -- the run_local worker pool.  See workers.h.
 */
#include "workers.h"
#include "alloc.h"
#include "error.h"

#include <string.h>

struct workers {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    pthread_t      *threads;
    int             n, started;
    ac_request    **queue;      /* FIFO ring */
    size_t          head, len, cap;
    ac_request    **running;    /* one slot per thread */
    int             stopping;
};

static void local_finish_canceled(ac_request *q, const char *why)
{
    ac_error err;
    ac_error_clear(&err);
    ac__error_set(&err, AC_ECANCELED, AC_STAGE_CANCELLED, "%s", why);
    q->state = RQ_DONE;
    ac__request_finish(q, AC_ECANCELED, &err);
}

static void local_run(ac_request *q)
{
    ac_error err;
    ac_error_clear(&err);
    if (q->prestatus != AC_OK) {
        q->state = RQ_DONE;
        ac__request_finish(q, q->prestatus, &q->preerr);
        return;
    }
    if (atomic_load(&q->cancel)) {
        local_finish_canceled(q, "cancelled before it started");
        return;
    }
    q->state = RQ_ACTIVE;
    q->t_start = ac__now_ms();
    q->attempt = 1;
    ac_status st = q->llm->vt->run_local(q->llm->state, &q->greq, &q->sink, &q->local_cancel,
                                         &err);
    if (atomic_load(&q->cancel)) {
        local_finish_canceled(q, "cancelled");
        return;
    }
    if (st == AC_OK)
        st = ac__sink_finalize(&q->sink, 0, &err);
    else if (err.code == AC_OK)
        ac__error_set(&err, st, AC_STAGE_PROTOCOL, "the in-process backend failed: %s",
                  ac_strerror(st));
    q->state = RQ_DONE;
    ac__request_finish(q, st, st == AC_OK ? NULL : &err);
}

static void *worker_main(void *arg)
{
    workers *w = arg;
    ac__mark_engine_thread(); /* blocking calls from callbacks must refuse here too */
    pthread_mutex_lock(&w->mu);
    int slot = w->started++;
    for (;;) {
        while (!w->len && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->len && w->stopping)
            break;
        ac_request *q = w->queue[w->head];
        w->head = (w->head + 1) % w->cap;
        w->len--;
        int stopping = w->stopping;
        /* The slot holds a reference of its own: ac__request_finish drops the
         * pool's, which may be the last, and ac__workers_stop reads the slot
         * (to raise the cancel flag) until we clear it below. */
        ac__request_ref(q);
        w->running[slot] = q;
        pthread_mutex_unlock(&w->mu);
        if (stopping)
            local_finish_canceled(q, "the core was closed");
        else
            local_run(q);
        pthread_mutex_lock(&w->mu);
        w->running[slot] = NULL;
        pthread_mutex_unlock(&w->mu);
        ac__request_unref(q);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

workers *ac__workers_new(int n)
{
    workers *w = ac__calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->n = n > 0 ? n : 4;
    w->threads = ac__calloc((size_t)w->n, sizeof *w->threads);
    w->running = ac__calloc((size_t)w->n, sizeof *w->running);
    if (!w->threads || !w->running) {
        ac__free(w->threads);
        ac__free(w->running);
        ac__free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int ok = 0;
    for (int i = 0; i < w->n; i++)
        if (pthread_create(&w->threads[i], NULL, worker_main, w) == 0)
            ok++;
        else
            break;
    w->n = ok; /* only the threads that exist are joined */
    if (ok == 0) {
        ac__workers_free(w);
        return NULL;
    }
    return w;
}

ac_status ac__workers_submit(workers *w, ac_request *q)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return AC_ECANCELED;
    }
    if (w->len == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        ac_request **v = ac__calloc(cap, sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&w->mu);
            return AC_ENOMEM;
        }
        for (size_t i = 0; i < w->len; i++)
            v[i] = w->queue[(w->head + i) % w->cap];
        ac__free(w->queue);
        w->queue = v;
        w->head = 0;
        w->cap = cap;
    }
    ac__request_ref(q); /* released by ac__request_finish */
    q->state = RQ_QUEUED;
    w->queue[(w->head + w->len) % w->cap] = q;
    w->len++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return AC_OK;
}

void ac__workers_stop(workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    w->stopping = 1;
    for (int i = 0; i < w->n; i++)
        if (w->running[i]) {
            atomic_store(&w->running[i]->cancel, 1);
            /* Plain int in the ABI (const volatile int *); written
             * atomically so that, with a plugin that loads it atomically
             * too, there is no data race. */
            __atomic_store_n(&w->running[i]->local_cancel, 1, __ATOMIC_SEQ_CST);
        }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
}

void ac__workers_free(workers *w)
{
    if (!w)
        return;
    ac__workers_stop(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    ac__free(w->threads);
    ac__free(w->running);
    ac__free(w->queue);
    ac__free(w);
}
