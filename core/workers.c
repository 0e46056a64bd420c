/*
 * workers.c -- the run_local worker pool.  See workers.h.
 */
#include "workers.h"
#include "alloc.h"

#include <string.h>

struct workers {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    pthread_t      *threads;
    int             n;
    relay         **queue;      /* FIFO ring */
    size_t          head, len, cap;
    int             stopping;
};

static void *worker_main(void *arg)
{
    workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->len && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stopping)
            break;
        relay *r = w->queue[w->head];
        w->head = (w->head + 1) % w->cap;
        w->len--;
        pthread_mutex_unlock(&w->mu);
        /* A run the engine already ended (cancelled, timed out, the core
         * closed while it waited) is not started. */
        if (!ac__relay_cancelled(r))
            ac__relay_run(r);
        ac__relay_unref(r);
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
    if (!w->threads) {
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

ac_status ac__workers_submit(workers *w, relay *r)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return AC_ECANCELED;
    }
    if (w->len == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        relay **v = ac__calloc(cap, sizeof *v);
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
    ac__relay_ref(r);
    w->queue[(w->head + w->len) % w->cap] = r;
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
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    /* Nothing runs now: release what never started. */
    for (; w->len; w->len--) {
        ac__relay_unref(w->queue[w->head]);
        w->head = (w->head + 1) % w->cap;
    }
}

void ac__workers_free(workers *w)
{
    if (!w)
        return;
    ac__workers_stop(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    ac__free(w->threads);
    ac__free(w->queue);
    ac__free(w);
}
