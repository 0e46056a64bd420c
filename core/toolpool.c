/*
 * toolpool.c -- the threads that run tool calls when the application gives
 * no runner of its own (ac_toolrun_opts.run == NULL).  See toolbox.h.
 *
 * A FIFO of caller-owned job nodes and threads started on demand: a job
 * queued when no thread is idle starts one, up to max_threads, so the
 * calls of a round really run at once (two tools that wait for each other
 * both get a thread).  Idle threads wait on a condition variable and cost
 * nothing until the pool stops.
 *
 * Lifetime: the pool is reference counted -- the owner (a toolbox) holds
 * one reference and every thread holds one -- because the owner may stop
 * it from one of its own threads (the last run let go of the toolbox
 * inside a tool's job): that thread cannot join itself, so it is
 * detached, and the pool's memory goes when the last thread leaves.
 * Threads start with every signal blocked: the application's handlers run
 * on its own threads.
 */
#include "toolbox.h"
#include "alloc.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

struct ac__pool {
    atomic_int      refs;       /* the owner's + one per running thread */
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    ac__pool_job   *head, *tail;
    size_t          queued;     /* jobs in the FIFO */
    pthread_t      *threads;    /* max of them, allocated up front */
    int             n, max;
    int             idle;       /* threads waiting for a job */
    int             stop;
};

static void pool_unref(ac__pool *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    ac__free(p->threads);
    ac__free(p);
}

static void *pool_main(void *arg)
{
    ac__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (!p->head)
            break; /* stopping, and nothing left */
        ac__pool_job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        /* The node may be reused as soon as fn starts: read it first. */
        void (*fn)(void *) = j->fn;
        void *a = j->arg;
        fn(a);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    pool_unref(p);
    return NULL;
}

ac__pool *ac__pool_new(int max_threads)
{
    ac__pool *p = ac__calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->max = max_threads > 0 ? max_threads : 1;
    p->threads = ac__calloc((size_t)p->max, sizeof *p->threads);
    if (!p->threads) {
        ac__free(p);
        return NULL;
    }
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return p;
}

/* Start one more thread; called with mu held.  0 ok, -1 failed. */
static int pool_grow(ac__pool *p)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_fetch_add(&p->refs, 1);
    int rc = pthread_create(&p->threads[p->n], NULL, pool_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_fetch_sub(&p->refs, 1); /* never the last: the owner holds one */
        return -1;
    }
    p->n++;
    return 0;
}

ac_status ac__pool_submit(ac__pool *p, ac__pool_job *job)
{
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        return AC_ECANCELED;
    }
    /* Each queued job needs an idle thread of its own to start now. */
    if ((size_t)p->idle <= p->queued && p->n < p->max && pool_grow(p) != 0 && p->n == 0) {
        pthread_mutex_unlock(&p->mu);
        return AC_ENOMEM; /* no thread at all: nobody would ever run it */
    }
    job->next = NULL;
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return AC_OK;
}

void ac__pool_stop(ac__pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    int n = p->n;
    pthread_mutex_unlock(&p->mu);
    /* n and threads[] no longer change: submit refuses once stopping. */
    pthread_t self = pthread_self();
    for (int i = 0; i < n; i++) {
        if (pthread_equal(p->threads[i], self))
            pthread_detach(self);
        else
            pthread_join(p->threads[i], NULL);
    }
    pool_unref(p);
}
