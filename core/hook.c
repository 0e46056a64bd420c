/*
 * hook.c -- the events of a request's life (see hook.h).
 */
#include "hook.h"
#include "alloc.h"
#include "response.h"
#include "trace.h"

#include <string.h>

void ac__hook_slot_init(hook_slot *h)
{
    atomic_init(&h->on, 0);
    pthread_mutex_init(&h->mu, NULL);
    h->fn = NULL;
    h->user = NULL;
    h->trace = NULL;
}

void ac__hook_slot_destroy(hook_slot *h)
{
    ac__trace_close(h->trace);
    h->trace = NULL;
    pthread_mutex_destroy(&h->mu);
}

ac_status ac_core_set_hook(ac_core *core, ac_hook_fn fn, void *user)
{
    if (!core)
        return AC_EINVAL;
    hook_slot *h = &core->hooks;
    pthread_mutex_lock(&h->mu);
    h->fn = fn;
    h->user = user;
    atomic_store(&h->on, fn != NULL || h->trace != NULL);
    pthread_mutex_unlock(&h->mu);
    return AC_OK;
}

const char *ac_hook_kind_name(ac_hook_kind kind)
{
    switch (kind) {
    case AC_HOOK_REQUEST_START: return "request_start";
    case AC_HOOK_ATTEMPT_START: return "attempt_start";
    case AC_HOOK_ATTEMPT_END: return "attempt_end";
    case AC_HOOK_RETRY: return "retry";
    case AC_HOOK_FIRST_TOKEN: return "first_token";
    case AC_HOOK_FALLBACK: return "fallback";
    case AC_HOOK_CIRCUIT: return "circuit";
    case AC_HOOK_RATE_WAIT: return "rate_wait";
    case AC_HOOK_REQUEST_END: return "request_end";
    }
    return "unknown";
}

/* ---- building and sending ---- */

static void event_init(ac_hook_event *ev, ac_hook_kind kind, ac_request *q)
{
    memset(ev, 0, sizeof *ev);
    ev->struct_size = sizeof *ev;
    ev->kind = kind;
    ev->provider = ev->model = ev->to_provider = ev->to_model = ev->circuit = "";
    ev->input_tokens = ev->output_tokens = -1;
    if (q) {
        ev->request = q;
        ev->request_id = q->id;
        ev->provider = q->llm->inst->name;
        ev->model = q->llm->model;
        ev->attempt = q->attempt;
        ev->elapsed_ms = q->t_start > 0 ? ac__now_ms() - q->t_start : 0;
    }
}

static void hook_send(ac_core *c, const ac_hook_event *ev)
{
    hook_slot *h = &c->hooks;
    pthread_mutex_lock(&h->mu);
    ac_hook_fn fn = h->fn;
    void *user = h->user;
    struct trace *t = h->trace;
    pthread_mutex_unlock(&h->mu);
    if (t)
        ac__trace_event(t, ev);
    if (fn)
        fn(ev, user);
}

static int on(const ac_request *q) { return atomic_load(&q->llm->core->hooks.on); }

/* ---- the events ---- */

void ac__hook_request_start(ac_request *q)
{
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_REQUEST_START, q);
    hook_send(q->llm->core, &ev);
}

void ac__hook_attempt_start(ac_request *q)
{
    q->t_attempt = ac__now_ms();
    q->attempt_open = 1;
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_ATTEMPT_START, q);
    hook_send(q->llm->core, &ev);
}

/* Keep the try in the request's list (at most a few dozen: retries are
 * bounded by max_retries per provider and round). */
static void record(ac_request *q, ac_status st, int http_status, double now)
{
    attempt_rec *v = ac__realloc(q->tries, (q->n_tries + 1) * sizeof *v);
    if (!v)
        return; /* the list is a report: short of memory, it is shorter */
    q->tries = v;
    attempt_rec *r = &v[q->n_tries];
    r->provider = ac__strdup(q->llm->inst->name);
    r->model = ac__strdup(q->llm->model);
    if (!r->provider || !r->model) {
        ac__free(r->provider);
        ac__free(r->model);
        return;
    }
    r->status = st;
    r->http_status = http_status;
    r->started_ms = q->t_start > 0 ? q->t_attempt - q->t_start : 0;
    r->latency_ms = now - q->t_attempt;
    q->n_tries++;
}

void ac__hook_attempt_end(ac_request *q, ac_status st, const ac_error *err, int http_status)
{
    if (!q->attempt_open)
        return;
    q->attempt_open = 0;
    double now = ac__now_ms();
    if (!http_status && err)
        http_status = err->http_status;
    record(q, st, http_status, now);
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_ATTEMPT_END, q);
    ev.status = st;
    ev.error = st == AC_OK ? NULL : err;
    ev.http_status = http_status;
    ev.latency_ms = now - q->t_attempt;
    hook_send(q->llm->core, &ev);
}

void ac__hook_retry(ac_request *q, const ac_error *err, long delay_ms)
{
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_RETRY, q);
    ev.status = err->code;
    ev.error = err;
    ev.delay_ms = delay_ms;
    hook_send(q->llm->core, &ev);
}

void ac__hook_first_token(ac_request *q)
{
    if (q->first_token)
        return;
    q->first_token = 1;
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_FIRST_TOKEN, q);
    hook_send(q->llm->core, &ev);
}

void ac__hook_fallback(ac_request *q, const ac_error *why, const char *to_provider,
                       const char *to_model)
{
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_FALLBACK, q);
    ev.status = why->code;
    ev.error = why;
    ev.to_provider = to_provider;
    ev.to_model = to_model;
    hook_send(q->llm->core, &ev);
}

void ac__hook_rate_wait(ac_request *q, long delay_ms)
{
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_RATE_WAIT, q);
    ev.delay_ms = delay_ms;
    hook_send(q->llm->core, &ev);
}

void ac__hook_circuit(ac_core *c, const char *provider, const char *model, const char *state)
{
    if (!atomic_load(&c->hooks.on))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_CIRCUIT, NULL);
    ev.provider = provider;
    ev.model = model;
    ev.circuit = state;
    hook_send(c, &ev);
}

void ac__hook_attempts_free(ac_request *q)
{
    for (size_t i = 0; i < q->n_tries; i++) {
        ac__free(q->tries[i].provider);
        ac__free(q->tries[i].model);
    }
    ac__free(q->tries);
    q->tries = NULL;
    q->n_tries = 0;
}

void ac__hook_request_end(ac_request *q, ac_status st, const ac_error *err)
{
    if (q->resp)
        ac__response_take_attempts(q->resp, q->tries, q->n_tries);
    else
        ac__hook_attempts_free(q);
    q->tries = NULL;
    q->n_tries = 0;
    if (!on(q))
        return;
    ac_hook_event ev;
    event_init(&ev, AC_HOOK_REQUEST_END, q);
    ev.status = st;
    ev.error = st == AC_OK ? NULL : err;
    ev.http_status = err ? err->http_status : 0;
    if (q->resp) {
        ev.input_tokens = q->resp->input_tokens;
        ev.output_tokens = q->resp->output_tokens;
    }
    ev.latency_ms = ev.elapsed_ms;
    hook_send(q->llm->core, &ev);
}
