/*
 * stream.c -- the pull API (ac_stream_*): events copied into a queue in
 * the engine context, read by the caller with a timeout.
 *
 * Flow control: when the caller falls behind by more than QUEUE_HIGH
 * bytes, the request is paused -- an HTTP transfer's write callback
 * returns CURL_WRITEFUNC_PAUSE (the server sees TCP backpressure), an
 * in-process run's relay stops being drained (its worker blocks) -- and
 * resumed when the queue drains below QUEUE_LOW, so a slow reader never
 * makes memory grow without bound.
 *
 * A queued event is one allocation: the node, then its strings; an error
 * report is stored only with the ERROR event.
 *
 * The stream is shared by the caller and the request's callbacks, so it is
 * reference counted: the request's reference goes in its on_done.
 */
#include "alloc.h"
#include "chat.h"
#include "engine.h"
#include "error.h"
#include "message.h"
#include "params.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define QUEUE_HIGH (256 * 1024)
#define QUEUE_LOW (64 * 1024)

typedef struct ev_node {
    struct ev_node *next;
    size_t          bytes;
    ac_chunk        c;
    ac_error       *err;     /* ERROR only, inside this allocation */
    char            data[];  /* the chunk's strings, then the error */
} ev_node;

struct ac_stream {
    atomic_int      refs;
    ac_request     *q;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    ev_node        *head, *tail;
    size_t          queued;
    int             ended;
    ac_status       end_status;
    ev_node        *current;
    int             oom;
};

static void stream_unref(ac_stream *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (ev_node *n = s->head, *nx; n; n = nx) {
        nx = n->next;
        ac__free(n);
    }
    ac__free(s->current);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    ac__free(s);
}

static size_t slen(const char *p) { return p ? strlen(p) + 1 : 0; }

static const char *keep(char **at, const char *p, size_t len)
{
    if (!p)
        return NULL;
    char *d = *at;
    memcpy(d, p, len);
    d[len] = '\0';
    *at += len + 1;
    return d;
}

/* One allocation per event: the node, its strings, its error report. */
static ev_node *node_copy(const ac_chunk *c)
{
    size_t need = (c->text ? c->len + 1 : 0) + (c->data ? c->data_len + 1 : 0) +
                  slen(c->tool_call_id) + slen(c->tool_name) + slen(c->finish_reason) +
                  slen(c->raw_finish_reason);
    size_t errat = (need + _Alignof(ac_error) - 1) / _Alignof(ac_error) * _Alignof(ac_error);
    size_t total = sizeof(ev_node) + (c->error ? errat + sizeof(ac_error) : need);
    ev_node *n = ac__malloc(total);
    if (!n)
        return NULL;
    n->next = NULL;
    n->bytes = total;
    n->c = *c;
    char *at = n->data;
    n->c.text = keep(&at, c->text, c->len);
    n->c.data = keep(&at, c->data, c->data_len);
    n->c.tool_call_id = keep(&at, c->tool_call_id, slen(c->tool_call_id) - !!c->tool_call_id);
    n->c.tool_name = keep(&at, c->tool_name, slen(c->tool_name) - !!c->tool_name);
    n->c.finish_reason = keep(&at, c->finish_reason, slen(c->finish_reason) - !!c->finish_reason);
    n->c.raw_finish_reason = keep(&at, c->raw_finish_reason,
                                  slen(c->raw_finish_reason) - !!c->raw_finish_reason);
    n->err = NULL;
    if (c->error) {
        n->err = (ac_error *)(void *)(n->data + errat);
        *n->err = *c->error;
        n->c.error = n->err;
    }
    return n;
}

static void stream_on_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    ac_stream *s = user;
    ev_node *n = node_copy(c);
    if (!n) {
        s->oom = 1;
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = n;
    else
        s->head = n;
    s->tail = n;
    s->queued += n->bytes;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void stream_on_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    ac_stream *s = user;
    pthread_mutex_lock(&s->mu);
    s->ended = 1;
    s->end_status = (st == AC_OK && s->oom) ? AC_ENOMEM : st;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

/* Engine context.  When full, the request is marked paused here, under
 * the queue's lock: the reader checks `paused` under the same lock after
 * taking an event, so it cannot drain the queue between our check and the
 * mark and never see it (a lost wakeup that would leave the request
 * paused for good). */
static int stream_backpressure(void *ctx)
{
    ac_stream *s = ctx;
    pthread_mutex_lock(&s->mu);
    int full = s->queued > QUEUE_HIGH;
    if (full)
        atomic_store(&s->q->paused, 1);
    pthread_mutex_unlock(&s->mu);
    return full;
}

ac_stream *ac_stream_open(ac_llm *llm, const char *prompt, const ac_gen_params *params,
                          ac_error *err)
{
    if (!llm || !prompt) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s is NULL", llm ? "prompt" : "llm");
        return NULL;
    }
    if (!ac__utf8_valid(prompt)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "the prompt is not valid UTF-8");
        return NULL;
    }
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    ac_stream *s = ac__calloc(1, sizeof *s);
    if (!s) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 2); /* the caller's and the request's */
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &a);
    pthread_condattr_destroy(&a);
    ac_callbacks cb = {.version = AC_CALLBACKS_VERSION, .on_event = stream_on_event,
                       .on_done = stream_on_done};
    ac_request *q = ac__chat_new(llm, params, &cb, s);
    if (!q) {
        atomic_store(&s->refs, 1);
        stream_unref(s);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    q->stream = 1;
    q->hook_backpressure = stream_backpressure;
    q->hook_ctx = s;
    s->q = q;
    ac__chat_build(q, ac__chat_params(q)->system, NULL, 0, prompt);
    ac_status st = ac__request_submit(q);
    if (st != AC_OK) {
        /* Not taken (the core closed meanwhile): no callback ran, so the
         * request's reference on s is still there to drop. */
        ac__request_submit_error(q, st, err);
        ac__request_unref(q);
        stream_unref(s);
        stream_unref(s);
        return NULL;
    }
    return s;
}

ac_request *ac_stream_request(ac_stream *s) { return s ? s->q : NULL; }

ac_status ac_stream_next(ac_stream *s, const ac_chunk **out, int timeout_ms)
{
    if (!s || !out)
        return AC_EINVAL;
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
    pthread_mutex_lock(&s->mu);
    ac__free(s->current);
    s->current = NULL;
    while (!s->head && !s->ended) {
        if (timeout_ms == 0) {
            pthread_mutex_unlock(&s->mu);
            return AC_EAGAIN;
        }
        if (ac__refuse_blocking(s->q->origin, "ac_stream_next", NULL)) {
            pthread_mutex_unlock(&s->mu);
            return AC_EBUSY;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
            if (!s->head && !s->ended) {
                pthread_mutex_unlock(&s->mu);
                return AC_EAGAIN;
            }
        }
    }
    if (!s->head) {
        ac_status st = s->end_status == AC_OK ? AC_EOF : s->end_status;
        pthread_mutex_unlock(&s->mu);
        /* on_done has run; let the request be done too, so its response
         * can be taken right after the end of the stream.  (Not from the
         * engine context, where on_done itself is still running.) */
        if (!ac__in_engine_context() && ac__engine_mode(s->q->origin->core->eng) != ENGINE_HOST)
            ac_request_wait(s->q, -1);
        return st;
    }
    ev_node *n = s->head;
    s->head = n->next;
    if (!s->head)
        s->tail = NULL;
    s->queued -= n->bytes;
    s->current = n;
    int resume = s->queued < QUEUE_LOW && atomic_load(&s->q->paused);
    pthread_mutex_unlock(&s->mu);
    if (resume)
        ac__engine_poke(s->q->origin->core->eng, s->q);
    *out = &n->c;
    return AC_OK;
}

void ac_stream_close(ac_stream *s)
{
    if (!s)
        return;
    ac_request *q = s->q;
    ac_request_cancel(q);
    /* The request keeps its own reference on s until its on_done. */
    ac__request_unref(q);
    stream_unref(s);
}

/* Tests: 1 while the request is paused because this reader is behind. */
int ac__stream_paused(const ac_stream *s)
{
    return s && atomic_load(&s->q->paused);
}
