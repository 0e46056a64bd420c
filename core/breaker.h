/*
 * breaker.h -- a circuit breaker per provider instance and model.
 *
 * A backend that keeps failing is given a rest instead of more traffic:
 * after `circuit_failures` consecutive tries that failed for the
 * backend's sake (no connection, TLS, a timeout, HTTP 5xx or 529, an
 * error of that kind inside a stream) the circuit OPENS, and tries to that
 * model fail at once with AC_ECIRCUIT (or move on to a fallback).  After
 * `circuit_cooldown_ms` one try is let through as a probe (HALF_OPEN):
 * its success closes the circuit, its failure opens it again for another
 * cool-down.  A 4xx caused by the request, a cancel, or out of memory
 * count for nothing.
 *
 * Thread-safe: the engine records outcomes, and the application and
 * `acore plugins` read the state from any thread (one lock per instance).
 */
#ifndef AC_BREAKER_H
#define AC_BREAKER_H
#include <pthread.h>
#include <abstractcore/abstractcore.h>

struct ac_core;

typedef enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

typedef struct breaker_entry breaker_entry;

typedef struct breakers {
    pthread_mutex_t mu;
    breaker_entry  *head;
    int             failures;      /* the threshold; 0: off */
    long            cooldown_ms;
} breakers;

void ac__breakers_init(breakers *b, int failures, long cooldown_ms);
void ac__breakers_destroy(breakers *b);

/* May a try of `model` go now?  1 yes (*probe = 1 when it is the half-open
 * probe, whose outcome decides), 0 no: err says why (AC_ECIRCUIT).
 * `provider` names the instance in messages and hooks. */
int  ac__breaker_admit(breakers *b, struct ac_core *core, const char *provider,
                       const char *model, int *probe, ac_error *err);
/* A try of `model` ended: st and err (NULL on success).  probe: it was
 * the half-open probe. */
void ac__breaker_record(breakers *b, struct ac_core *core, const char *provider,
                        const char *model, int probe, ac_status st, const ac_error *err);
/* 1 if a failure like err counts against the backend. */
int  ac__breaker_counts(ac_status st, const ac_error *err);
/* The state of `model` now: "closed", "open" or "half_open". */
const char *ac__breaker_state(breakers *b, const char *model);
/* One report line per model whose circuit is not closed, appended
 * through note (for `acore plugins`). */
void ac__breaker_report(breakers *b, const char *provider,
                        void (*note)(void *ctx, const char *line), void *ctx);
#endif
