/*
 * mock_waiter.c -- the timer thread that resumes parked MHD connections.
 * See mock_waiter.h for why it exists.
 *
 * Parked entries live in a binary min-heap on their deadline; their
 * sockets sit in an epoll set watching only EPOLLRDHUP (and the implied
 * HUP/ERR), so the thread sleeps in epoll_wait() until the earliest
 * deadline, a hang-up, or an eventfd poke when a new earlier deadline
 * arrives.  Resumes are made outside the waiter's lock, in batches, so
 * the lock never nests inside libmicrohttpd's own.
 */
#include <config.h>

#include "mock_waiter.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define WAITER_BATCH 256

struct mock_waiter {
    pthread_mutex_t mu;
    pthread_t thread;
    bool thread_started;
    bool stopping;
    int ep;   /* epoll set: the wake eventfd + parked client sockets */
    int wake; /* eventfd */
    mock_wait **heap;
    size_t n, cap;
};

uint64_t mock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- heap (caller holds mu) ---- */

static void waiter_swap(mock_waiter *w, size_t a, size_t b)
{
    mock_wait *t = w->heap[a];
    w->heap[a] = w->heap[b];
    w->heap[b] = t;
    w->heap[a]->heap_idx = a;
    w->heap[b]->heap_idx = b;
}

static void waiter_up(mock_waiter *w, size_t i)
{
    while (i > 0 && w->heap[(i - 1) / 2]->deadline_ms > w->heap[i]->deadline_ms) {
        waiter_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void waiter_down(mock_waiter *w, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->n && w->heap[l]->deadline_ms < w->heap[m]->deadline_ms)
            m = l;
        if (r < w->n && w->heap[r]->deadline_ms < w->heap[m]->deadline_ms)
            m = r;
        if (m == i)
            return;
        waiter_swap(w, i, m);
        i = m;
    }
}

/* Take e out of the heap and the epoll set. */
static void waiter_unpark(mock_waiter *w, mock_wait *e)
{
    size_t i = e->heap_idx;
    w->n--;
    if (i != w->n) {
        w->heap[i] = w->heap[w->n];
        w->heap[i]->heap_idx = i;
        waiter_down(w, i);
        waiter_up(w, i);
    }
    /* Deregister before the resume: once MHD has the connection back it
       may close the socket and the number may be reused. */
    if (e->fd >= 0)
        epoll_ctl(w->ep, EPOLL_CTL_DEL, e->fd, NULL);
    e->parked = false;
}

/* ---- thread ---- */

static void *waiter_main(void *arg)
{
    mock_waiter *w = arg;
    struct epoll_event evs[64];
    struct MHD_Connection *batch[WAITER_BATCH];

    for (;;) {
        int timeout = -1;
        pthread_mutex_lock(&w->mu);
        if (w->stopping) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        if (w->n && w->heap[0]->deadline_ms != MOCK_WAIT_FOREVER) {
            uint64_t now = mock_now_ms(), d = w->heap[0]->deadline_ms;
            timeout = d <= now ? 0 : d - now > INT_MAX ? INT_MAX : (int)(d - now);
        }
        pthread_mutex_unlock(&w->mu);

        int nev = epoll_wait(w->ep, evs, 64, timeout);
        if (nev < 0 && errno != EINTR)
            nev = 0; /* cannot happen with valid fds; fall back to the timers */

        size_t nb = 0;
        pthread_mutex_lock(&w->mu);
        for (int k = 0; k < nev; k++) {
            mock_wait *e = evs[k].data.ptr;
            if (!e) {
                uint64_t v;
                if (read(w->wake, &v, sizeof v) < 0) {
                    /* EAGAIN: another poke already drained it */
                }
                continue;
            }
            /* Only a parked entry can be in the set (see waiter_unpark),
               and only this thread unparks, so e is still alive here. */
            if (e->parked && nb < WAITER_BATCH) {
                e->peer_gone = true;
                waiter_unpark(w, e);
                batch[nb++] = e->conn;
            }
        }
        uint64_t now = mock_now_ms();
        while (w->n && w->heap[0]->deadline_ms <= now && nb < WAITER_BATCH) {
            mock_wait *e = w->heap[0];
            waiter_unpark(w, e);
            batch[nb++] = e->conn;
        }
        pthread_mutex_unlock(&w->mu);

        for (size_t k = 0; k < nb; k++)
            MHD_resume_connection(batch[k]);
    }
    return NULL;
}

mock_waiter *mock_waiter_start(char *err, size_t errlen)
{
    mock_waiter *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->ep = w->wake = -1;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        free(w);
        snprintf(err, errlen, "cannot create a mutex");
        return NULL;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->ep < 0 || w->wake < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &ev) < 0) {
        snprintf(err, errlen, "cannot set up epoll: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
        snprintf(err, errlen, "cannot start the timer thread");
        goto fail;
    }
    w->thread_started = true;
    return w;
fail:
    mock_waiter_free(w);
    return NULL;
}

static void waiter_poke(mock_waiter *w)
{
    uint64_t one = 1;
    if (write(w->wake, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is already non-zero, the thread will wake */
    }
}

int mock_waiter_park(mock_waiter *w, mock_wait *e, struct MHD_Connection *conn, int fd,
                     uint64_t deadline_ms)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return 1;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        mock_wait **h = realloc(w->heap, cap * sizeof *h);
        if (!h) {
            pthread_mutex_unlock(&w->mu);
            return -1;
        }
        w->heap = h;
        w->cap = cap;
    }
    e->conn = conn;
    e->fd = fd;
    e->deadline_ms = deadline_ms;
    e->peer_gone = false;
    e->parked = true;
    e->heap_idx = w->n;
    w->heap[w->n++] = e;
    waiter_up(w, e->heap_idx);
    if (fd >= 0) {
        struct epoll_event ev = { .events = EPOLLRDHUP, .data.ptr = e };
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            e->fd = -1; /* no hang-up watch; the deadline still holds */
    }
    bool earliest = e->heap_idx == 0;
    pthread_mutex_unlock(&w->mu);
    if (earliest)
        waiter_poke(w);
    return 0;
}

void mock_waiter_stop(mock_waiter *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    bool joined = !w->thread_started;
    w->stopping = true;
    pthread_mutex_unlock(&w->mu);
    if (!joined) {
        waiter_poke(w);
        pthread_join(w->thread, NULL);
        w->thread_started = false;
    }
    /* The thread is gone and new parks are refused: resume what is left,
       one at a time so that no resume happens under our lock. */
    for (;;) {
        pthread_mutex_lock(&w->mu);
        mock_wait *e = w->n ? w->heap[w->n - 1] : NULL;
        if (e)
            waiter_unpark(w, e);
        pthread_mutex_unlock(&w->mu);
        if (!e)
            break;
        MHD_resume_connection(e->conn);
    }
}

void mock_waiter_free(mock_waiter *w)
{
    if (!w)
        return;
    mock_waiter_stop(w);
    if (w->ep >= 0)
        close(w->ep);
    if (w->wake >= 0)
        close(w->wake);
    free(w->heap);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
