/*
 * hook.h -- the events of a request's life: for the application's hook
 * (ac_core_set_hook), the trace file (trace.h), and the list of tries a
 * response carries (ac_response_attempt).
 *
 * Every function here runs in the engine context, except
 * ac__hook_set (any thread).  When neither a hook nor a trace file is
 * set, an event costs one atomic load: nothing is built.  The list of
 * tries is kept whatever: a response always says who answered.
 */
#ifndef AC_HOOK_H
#define AC_HOOK_H
#include "request.h"

/* One try, as the request keeps it until it ends (then the response). */
typedef struct attempt_rec {
    char      *provider;
    char      *model;
    ac_status  status;
    int        http_status;
    double     started_ms;   /* since the request started */
    double     latency_ms;
} attempt_rec;

void ac__hook_slot_init(hook_slot *h);
void ac__hook_slot_destroy(hook_slot *h);

void ac__hook_request_start(ac_request *q);
void ac__hook_attempt_start(ac_request *q);
/* The running try ended (st, err when it failed, http_status 0 if none):
 * recorded in the request's list, and an event.  Once per try. */
void ac__hook_attempt_end(ac_request *q, ac_status st, const ac_error *err, int http_status);
void ac__hook_retry(ac_request *q, const ac_error *err, long delay_ms);
void ac__hook_first_token(ac_request *q);
void ac__hook_fallback(ac_request *q, const ac_error *why, const char *to_provider,
                       const char *to_model);
void ac__hook_rate_wait(ac_request *q, long delay_ms);
void ac__hook_circuit(ac_core *c, const char *provider, const char *model, const char *state);
/* The request ends with st: the event, and its tries move to its
 * response. */
void ac__hook_request_end(ac_request *q, ac_status st, const ac_error *err);
/* Free a request's tries (when it never reached its end). */
void ac__hook_attempts_free(ac_request *q);
#endif
