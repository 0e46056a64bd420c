/*
 * breaker.c -- circuit breakers (see breaker.h).
 */
#include "breaker.h"
#include "alloc.h"
#include "core.h"
#include "error.h"
#include "hook.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

struct breaker_entry {
    char          *model;
    breaker_state  state;
    int            failures;     /* consecutive counted failures */
    double         opened_at;    /* ms */
    int            probing;      /* the half-open probe is out */
    breaker_entry *next;
};

static const char *state_name(breaker_state s)
{
    return s == BREAKER_OPEN ? "open" : s == BREAKER_HALF_OPEN ? "half_open" : "closed";
}

void ac__breakers_init(breakers *b, int failures, long cooldown_ms)
{
    pthread_mutex_init(&b->mu, NULL);
    b->head = NULL;
    b->failures = failures;
    b->cooldown_ms = cooldown_ms;
}

void ac__breakers_destroy(breakers *b)
{
    for (breaker_entry *e = b->head, *n; e; e = n) {
        n = e->next;
        ac__free(e->model);
        ac__free(e);
    }
    b->head = NULL;
    pthread_mutex_destroy(&b->mu);
}

/* The entry of model (made when create), under b->mu. */
static breaker_entry *entry(breakers *b, const char *model, int create)
{
    for (breaker_entry *e = b->head; e; e = e->next)
        if (strcmp(e->model, model) == 0)
            return e;
    if (!create)
        return NULL;
    breaker_entry *e = ac__calloc(1, sizeof *e);
    if (!e || !(e->model = ac__strdup(model))) {
        ac__free(e);
        return NULL; /* no memory: this try is not counted */
    }
    e->next = b->head;
    b->head = e;
    return e;
}

int ac__breaker_counts(ac_status st, const ac_error *err)
{
    switch (st) {
    case AC_ECONNECT:
    case AC_ETLS:
    case AC_ETIMEDOUT:
        return 1;
    case AC_EHTTP:
        /* A 5xx (529 included), or a connection lost mid-answer (no
         * status); never a 4xx, which the request caused. */
        return !err || err->http_status == 0 || err->http_status >= 500;
    case AC_EPROTOCOL:
        /* An error event inside a 200 stream that stands for a 5xx. */
        return err && err->http_status >= 500;
    default:
        return 0;
    }
}

/* A state change: logged and sent to the hooks (outside the lock). */
static void changed(ac_core *core, const char *provider, const char *model, breaker_state s,
                    int failures)
{
    if (s == BREAKER_OPEN)
        ac__log(AC_LOG_WARN, provider, "circuit open for model '%s' after %d failed tries",
                model, failures);
    else if (s == BREAKER_CLOSED)
        ac__log(AC_LOG_INFO, provider, "circuit closed for model '%s'", model);
    ac__hook_circuit(core, provider, model, state_name(s));
}

int ac__breaker_admit(breakers *b, ac_core *core, const char *provider, const char *model,
                      int *probe, ac_error *err)
{
    *probe = 0;
    if (b->failures <= 0)
        return 1;
    pthread_mutex_lock(&b->mu);
    breaker_entry *e = entry(b, model, 0);
    int admit = 1, became_half = 0;
    double wait_ms = 0;
    if (e && e->state == BREAKER_OPEN) {
        double now = ac__now_ms();
        if (now >= e->opened_at + (double)b->cooldown_ms) {
            e->state = BREAKER_HALF_OPEN;
            became_half = 1;
        } else {
            admit = 0;
            wait_ms = e->opened_at + (double)b->cooldown_ms - now;
        }
    }
    if (e && e->state == BREAKER_HALF_OPEN) {
        if (e->probing) {
            admit = 0;
        } else {
            e->probing = 1;
            *probe = 1;
        }
    }
    int failures = e ? e->failures : 0;
    pthread_mutex_unlock(&b->mu);
    if (became_half)
        ac__hook_circuit(core, provider, model, "half_open");
    if (!admit) {
        if (wait_ms > 0)
            ac__error_set(err, AC_ECIRCUIT, AC_STAGE_REQUEST, "circuit open for model '%s' "
                          "after %d failed tries; the next try in %.0f s", model, failures,
                          wait_ms / 1000 + 0.5);
        else
            ac__error_set(err, AC_ECIRCUIT, AC_STAGE_REQUEST, "circuit half open for model "
                          "'%s': a probe is out, waiting for it", model);
        ac__error_set_provider(err, provider);
        err->retryable = 0;
    }
    return admit;
}

void ac__breaker_record(breakers *b, ac_core *core, const char *provider, const char *model,
                        int probe, ac_status st, const ac_error *err)
{
    if (b->failures <= 0)
        return;
    int counted = st != AC_OK && ac__breaker_counts(st, err);
    /* A probe cancelled before it said anything decides nothing. */
    int no_outcome = st == AC_ECANCELED || st == AC_ENOMEM || st == AC_ECIRCUIT;
    pthread_mutex_lock(&b->mu);
    breaker_entry *e = entry(b, model, counted);
    breaker_state before = e ? e->state : BREAKER_CLOSED, after = before;
    int failures = 0;
    if (e) {
        if (probe)
            e->probing = 0;
        if (counted) {
            e->failures++;
            if ((e->state == BREAKER_CLOSED && e->failures >= b->failures) ||
                (e->state == BREAKER_HALF_OPEN && probe)) {
                e->state = BREAKER_OPEN;
                e->opened_at = ac__now_ms();
            }
        } else if (!no_outcome) {
            /* The backend answered (a success, or a 4xx it meant). */
            e->failures = 0;
            if (e->state == BREAKER_HALF_OPEN || (e->state == BREAKER_OPEN && probe))
                e->state = BREAKER_CLOSED;
        }
        after = e->state;
        failures = e->failures;
    }
    pthread_mutex_unlock(&b->mu);
    if (after != before)
        changed(core, provider, model, after, failures);
}

const char *ac__breaker_state(breakers *b, const char *model)
{
    pthread_mutex_lock(&b->mu);
    breaker_entry *e = entry(b, model, 0);
    breaker_state s = e ? e->state : BREAKER_CLOSED;
    if (s == BREAKER_OPEN && ac__now_ms() >= e->opened_at + (double)b->cooldown_ms)
        s = BREAKER_HALF_OPEN; /* what the next try would find */
    pthread_mutex_unlock(&b->mu);
    return state_name(s);
}

void ac__breaker_report(breakers *b, const char *provider,
                        void (*note)(void *ctx, const char *line), void *ctx)
{
    char lines[8][256];
    int n = 0;
    pthread_mutex_lock(&b->mu);
    double now = ac__now_ms();
    for (breaker_entry *e = b->head; e && n < 8; e = e->next) {
        if (e->state == BREAKER_CLOSED)
            continue;
        double left = e->opened_at + (double)b->cooldown_ms - now;
        if (e->state == BREAKER_OPEN && left > 0)
            snprintf(lines[n++], sizeof lines[0], "provider %s: model %s: circuit open after %d "
                     "failed tries, next try in %.0f s", provider, e->model, e->failures,
                     left / 1000 + 0.5);
        else
            snprintf(lines[n++], sizeof lines[0], "provider %s: model %s: circuit half open "
                     "(the next try is a probe)", provider, e->model);
    }
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < n; i++)
        note(ctx, lines[i]);
}
