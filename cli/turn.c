/*
 * turn.c -- a session turn read event by event, like ac_stream_next.
 *
 * The library streams a session turn only through callbacks
 * (ac_session_agenerate), which run on its engine thread and must not
 * block; acore prints on its main thread, where it also watches for
 * Ctrl-C.  So on_event copies each event into a queue and on_done marks
 * the turn finished; cli_turn_next() takes them out in order, waiting on
 * a condition variable.  The copies are the queue's: an ac_chunk's
 * strings are valid only during the callback.
 *
 * The queue is not bounded by count: it holds what the main thread has
 * not printed yet, at most one reply (the provider's max_response_bytes),
 * and the main thread takes events as fast as it can write them.
 *
 * Thread-safety: the callbacks run on the engine thread, everything else
 * on the caller's; the mutex guards the queue and the done flag.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

typedef struct turn_event {
    struct turn_event *next;
    ac_chunk  c;        /* its pointers point at the copies below */
    ac_error  err;
    char     *text, *data, *id, *name, *finish, *raw_finish, *json;
} turn_event;

struct cli_turn {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    turn_event     *head, *tail;
    turn_event     *current;   /* handed out by the last cli_turn_next */
    int             done;
    int             nomem;     /* an event could not be copied */
    ac_request     *q;
};

static void turn_event_free(turn_event *e)
{
    if (!e)
        return;
    free(e->text);
    free(e->data);
    free(e->id);
    free(e->name);
    free(e->finish);
    free(e->raw_finish);
    free(e->json);
    free(e);
}

/* A copy of len bytes of s with a NUL after them; *ok cleared on no
 * memory.  NULL stays NULL. */
static char *turn_copy(const char *s, size_t len, int *ok)
{
    char *c;

    if (!s)
        return NULL;
    c = malloc(len + 1);
    if (!c) {
        *ok = 0;
        return NULL;
    }
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

static turn_event *turn_event_copy(const ac_chunk *c)
{
    turn_event *e = calloc(1, sizeof *e);
    int ok = 1;

    if (!e)
        return NULL;
    e->c = *c;
    e->text = turn_copy(c->text ? c->text : "", c->text ? c->len : 0, &ok);
    e->data = turn_copy(c->data, c->data_len, &ok);
    e->id = turn_copy(c->tool_call_id, c->tool_call_id ? strlen(c->tool_call_id) : 0, &ok);
    e->name = turn_copy(c->tool_name, c->tool_name ? strlen(c->tool_name) : 0, &ok);
    e->finish = turn_copy(c->finish_reason, c->finish_reason ? strlen(c->finish_reason) : 0, &ok);
    e->raw_finish = turn_copy(c->raw_finish_reason,
                              c->raw_finish_reason ? strlen(c->raw_finish_reason) : 0, &ok);
    e->json = turn_copy(c->json, c->json_len, &ok);
    if (!ok) {
        turn_event_free(e);
        return NULL;
    }
    e->c.text = e->text;
    e->c.data = e->data;
    e->c.tool_call_id = e->id;
    e->c.tool_name = e->name;
    e->c.finish_reason = e->finish;
    e->c.raw_finish_reason = e->raw_finish;
    e->c.json = e->json;
    if (c->error) {
        e->err = *c->error;
        e->c.error = &e->err;
    }
    return e;
}

static void turn_on_event(ac_request *q, const ac_chunk *c, void *user)
{
    cli_turn *t = user;
    turn_event *e = turn_event_copy(c);

    (void)q;
    pthread_mutex_lock(&t->mu);
    if (!e) {
        t->nomem = 1;
    } else {
        if (t->tail)
            t->tail->next = e;
        else
            t->head = e;
        t->tail = e;
    }
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void turn_on_done(ac_request *q, ac_status status, void *user)
{
    cli_turn *t = user;

    (void)q;
    (void)status;
    pthread_mutex_lock(&t->mu);
    t->done = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

cli_turn *cli_turn_start(ac_session *s, const char *prompt, const ac_gen_params *gp,
                         ac_error *err)
{
    static const ac_callbacks cb = { .version = AC_CALLBACKS_VERSION,
                                     .on_event = turn_on_event, .on_done = turn_on_done };
    cli_turn *t = calloc(1, sizeof *t);
    pthread_condattr_t a;

    if (!t) {
        ac_error_clear(err);
        err->code = AC_ENOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &a);
    pthread_condattr_destroy(&a);
    t->q = ac_session_agenerate(s, prompt, gp, &cb, t, err);
    if (!t->q) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

ac_status cli_turn_next(cli_turn *t, const ac_chunk **out, int timeout_ms)
{
    struct timespec until;
    ac_status st;

    turn_event_free(t->current);
    t->current = NULL;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    while (!t->head && !t->done) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &until) == ETIMEDOUT)
            break;
    }
    if (t->head) {
        t->current = t->head;
        t->head = t->head->next;
        if (!t->head)
            t->tail = NULL;
        *out = &t->current->c;
        st = AC_OK;
    } else {
        st = t->done ? AC_EOF : AC_EAGAIN;
    }
    pthread_mutex_unlock(&t->mu);
    return st;
}

ac_request *cli_turn_request(cli_turn *t)
{
    return t->q;
}

void cli_turn_close(cli_turn *t)
{
    turn_event *e;

    if (!t)
        return;
    /* Freeing a running request cancels it; on_done still fires, so wait
     * for it first: the callbacks use t. */
    ac_request_cancel(t->q);
    ac_request_wait(t->q, -1);
    ac_request_free(t->q);
    turn_event_free(t->current);
    for (e = t->head; e;) {
        turn_event *next = e->next;
        turn_event_free(e);
        e = next;
    }
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
