/*
 * relay.c -- the queue between an in-process run and the engine.  See
 * relay.h.
 */
#include "relay.h"
#include "alloc.h"
#include "call.h"
#include "engine.h"
#include "error.h"

#include <string.h>

/* The worker waits while more than this is queued, and is woken when the
 * engine has brought it below RELAY_LOW. */
#define RELAY_HIGH (256 * 1024)
#define RELAY_LOW  (64 * 1024)

typedef struct op {
    struct op *next;
    int        type, key;
    long       x, y;
    const char *a, *b, *c;   /* into data[], or NULL */
    size_t     an, cn;
    size_t     bytes;
    ac_error  *err;          /* RELAY_END */
    char       data[];
} op;

struct relay {
    atomic_int      refs;
    ac_request     *q;          /* a reference */
    ac_sink         sink;       /* relay mode: what the plugin writes into */
    atomic_int      cancel_flag;/* what host->cancelled reads */
    pthread_mutex_t mu;
    pthread_cond_t  cv;         /* the worker waits here for room */
    op             *head, *tail;
    size_t          bytes;
    int             cancelled;  /* under mu */
    int             waiting;    /* the worker is blocked, under mu */
    /* Engine context. */
    double          t_started, t_last;
    int             got_event;
};

relay *ac__relay_new(ac_request *q)
{
    relay *r = ac__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    atomic_init(&r->refs, 1);
    ac__request_ref(q);
    r->q = q;
    ac__sink_init(&r->sink, NULL, q->llm->vt, q->llm->state, NULL, NULL);
    r->sink.relay = r;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
}

void ac__relay_ref(relay *r) { atomic_fetch_add(&r->refs, 1); }

static void ops_free(op *o)
{
    while (o) {
        op *nx = o->next;
        ac__free(o->err);
        ac__free(o);
        o = nx;
    }
}

void ac__relay_unref(relay *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    ops_free(r->head);
    ac__sink_cleanup(&r->sink);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    ac__request_unref(r->q);
    ac__free(r);
}

/* ------------------------------------------------------------------ */
/* Worker side                                                         */
/* ------------------------------------------------------------------ */

int ac__relay_cancelled(relay *r)
{
    pthread_mutex_lock(&r->mu);
    int c = r->cancelled;
    pthread_mutex_unlock(&r->mu);
    return c;
}

static const char *copy_in(char **at, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = *at;
    memcpy(d, s, n);
    d[n] = '\0';
    *at += n + 1;
    return d;
}

/* Queue one op, waiting for room first.  END always goes in (it is the
 * last thing the worker says, and the engine needs it to know the run
 * is over); everything else is refused once cancelled. */
static ac_status push(relay *r, op *o)
{
    pthread_mutex_lock(&r->mu);
    while (o->type != RELAY_END && !r->cancelled && r->bytes > RELAY_HIGH) {
        r->waiting = 1;
        pthread_cond_wait(&r->cv, &r->mu);
    }
    r->waiting = 0;
    if (r->cancelled && o->type != RELAY_END) {
        pthread_mutex_unlock(&r->mu);
        ops_free(o);
        return AC_ECANCELED;
    }
    if (r->tail)
        r->tail->next = o;
    else
        r->head = o;
    r->tail = o;
    r->bytes += o->bytes;
    int cancelled = r->cancelled;
    pthread_mutex_unlock(&r->mu);
    if (!cancelled)
        ac__engine_poke(r->q->llm->core->eng, r->q);
    return AC_OK;
}

ac_status ac__relay_emit(relay *r, int type, int key, const char *a, size_t an,
                         const char *b, const char *c, size_t cn, long x, long y)
{
    /* One emit larger than the whole response may be is refused here,
     * before it is copied. */
    size_t limit = r->q->lim.max_response_bytes;
    if (limit && (an > limit || cn > limit))
        return AC_ETOOBIG;
    size_t bn = b ? strlen(b) : 0;
    size_t need = (a ? an + 1 : 0) + (b ? bn + 1 : 0) + (c ? cn + 1 : 0);
    op *o = ac__calloc(1, sizeof *o + need);
    if (!o)
        return AC_ENOMEM;
    char *at = o->data;
    o->type = type;
    o->key = key;
    o->x = x;
    o->y = y;
    o->a = copy_in(&at, a, an);
    o->an = an;
    o->b = copy_in(&at, b, bn);
    o->c = copy_in(&at, c, cn);
    o->cn = cn;
    o->bytes = sizeof *o + need;
    return push(r, o);
}

void ac__relay_run(relay *r)
{
    ac_request *q = r->q;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac__relay_emit(r, RELAY_START, 0, NULL, 0, NULL, NULL, 0, 0, 0);
    if (st == AC_OK) {
        ac_call call;
        ac__call_init(&call, q->llm->inst->name, ac__llm_settings(q->llm), &r->cancel_flag);
        call.order = q->id; /* made in the order the application made them */
        st = q->kind->run_local(q, &r->sink, &call);
        st = ac__call_error(&call, st, "run_local", &err);
    } else if (st == AC_ENOMEM) {
        ac__error_set(&err, st, AC_STAGE_REQUEST, "out of memory starting the in-process run");
    }
    /* The plugin's per-response state goes with the run. */
    ac__sink_cleanup(&r->sink);
    op *o = ac__calloc(1, sizeof *o);
    ac_error *e = o ? ac__malloc(sizeof *e) : NULL;
    if (!e) {
        /* Without memory for the report, the run still has to end: the
         * engine finishes a relay it hears nothing more from as soon as
         * it sees the worker is gone (ac__relay_drain). */
        ac__free(o);
        pthread_mutex_lock(&r->mu);
        r->cancelled = r->cancelled ? r->cancelled : 2;
        pthread_mutex_unlock(&r->mu);
        ac__engine_poke(q->llm->core->eng, q);
        return;
    }
    *e = err;
    o->type = RELAY_END;
    o->x = st;
    o->err = e;
    o->bytes = sizeof *o;
    push(r, o);
}

/* ------------------------------------------------------------------ */
/* Engine side                                                         */
/* ------------------------------------------------------------------ */

double ac__relay_started(const relay *r) { return r->t_started; }
double ac__relay_last_event(const relay *r) { return r->t_last; }
int    ac__relay_got_event(const relay *r) { return r->got_event; }

void ac__relay_cancel(relay *r)
{
    pthread_mutex_lock(&r->mu);
    if (!r->cancelled)
        r->cancelled = 1;
    atomic_store(&r->cancel_flag, 1);
    op *o = r->head;
    r->head = r->tail = NULL;
    r->bytes = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    ops_free(o);
}

static ac_status apply(relay *r, ac_sink *k, op *o)
{
    switch (o->type) {
    case RELAY_TEXT: return ac__sink_emit_text(k, o->a, o->an);
    case RELAY_REASONING: return ac__sink_emit_reasoning(k, o->a, o->an);
    case RELAY_TOOL_CALL: return ac__sink_emit_tool_call(k, o->key, o->a, o->b, o->c, o->cn,
                                                         (int)o->x);
    case RELAY_TOOL_CALL_END: return ac__sink_emit_tool_call_end(k, o->key);
    case RELAY_USAGE: return ac__sink_emit_usage(k, o->x, o->y);
    case RELAY_FINISH: return ac__sink_emit_finish(k, o->a, o->b);
    case RELAY_MODEL: return ac__sink_emit_model(k, o->a);
    case RELAY_START: r->t_started = ac__now_ms(); return AC_OK;
    default: return AC_OK;
    }
}

int ac__relay_drain(relay *r, ac_sink *target, ac_status *st, ac_error *err)
{
    AC__ASSERT_ENGINE();
    ac_request *q = r->q;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        op *o = r->head;
        if (!o) {
            int lost = r->cancelled == 2;
            pthread_mutex_unlock(&r->mu);
            if (lost) {
                *st = AC_ENOMEM;
                ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST,
                              "out of memory ending the in-process run");
                return 1;
            }
            return 0;
        }
        r->head = o->next;
        o->next = NULL;
        if (!r->head)
            r->tail = NULL;
        r->bytes -= o->bytes;
        if (r->waiting && r->bytes <= RELAY_LOW)
            pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (o->type == RELAY_END) {
            *st = (ac_status)o->x;
            *err = *o->err;
            ops_free(o);
            return 1;
        }
        if (o->type != RELAY_START) {
            r->got_event = 1;
            r->t_last = ac__now_ms();
        }
        ac_status as = apply(r, target, o);
        ops_free(o);
        if (as != AC_OK) {
            *st = as;
            ac__error_set(err, as, as == AC_ETOOBIG ? AC_STAGE_HTTP : AC_STAGE_PROTOCOL, "%s",
                          as == AC_ETOOBIG ? "response exceeded max_response_bytes"
                                           : "out of memory storing the response");
            return 1;
        }
        if (ac__request_behind(q)) {
            atomic_store(&q->paused, 1);
            return 0;
        }
    }
}
