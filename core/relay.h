/*
 * relay.h -- an in-process run's attempt: the bounded queue between the
 * worker thread that runs a plugin's run_local and the engine context
 * that owns the request.
 *
 * The plugin emits into a sink in relay mode (sink.c sends each emit
 * here): the emit is copied into the queue and the engine is poked.  The
 * engine drains the queue into the request's real sink, so the response
 * is built, and the caller's callbacks run, in the engine context exactly
 * as for an HTTP request -- with the same flow control (the engine stops
 * draining while a pull-stream reader is behind) and the same timeouts
 * (the engine's timers watch the relay's clocks).  When more than
 * RELAY_HIGH bytes wait, the worker blocks in its emit until the engine
 * drains or the request is cancelled: a fast model and a slow reader
 * cannot grow memory without bound.
 *
 * Two owners, reference counted: the request (its attempt) and the
 * worker job.  Worker-side functions may block; engine-side ones never do.
 */
#ifndef AC_RELAY_H
#define AC_RELAY_H
#include "request.h"
#include "sink.h"

typedef struct relay relay;

/* Engine context: a relay for q (which it references), whose sink the
 * plugin will write into.  NULL on no memory. */
relay    *ac__relay_new(ac_request *q);
void      ac__relay_ref(relay *r);
void      ac__relay_unref(relay *r);

/* ---- worker side ---- */

/* Run the plugin's run_local for the request, from start to end. */
void      ac__relay_run(relay *r);
/* The emits of a relay-mode sink (see sink.c).  AC_ECANCELED once the
 * request is cancelled or ended: the plugin should return. */
ac_status ac__relay_emit(relay *r, int type, int key, const char *a, size_t an,
                         const char *b, const char *c, size_t cn, long x, long y);
/* 1 once the request is cancelled or has ended. */
int       ac__relay_cancelled(relay *r);

/* ---- engine side ---- */

/* Apply what the worker has queued to the request's sink, in order,
 * until the queue is empty or the request's reader is behind (then q is
 * marked paused).  Returns 1 when the run has ended (its end status in
 * *st / *err), else 0. */
int       ac__relay_drain(relay *r, ac_sink *target, ac_status *st, ac_error *err);
/* Stop the worker: its blocked or next emit returns AC_ECANCELED, and
 * the plugin's cancel flag is raised.  Idempotent. */
void      ac__relay_cancel(relay *r);
/* Clocks for the engine's timers (ms; 0 until it happened). */
double    ac__relay_started(const relay *r);
double    ac__relay_last_event(const relay *r);
int       ac__relay_got_event(const relay *r);

/* Relay op types (the sink's emits). */
enum {
    RELAY_TEXT = 1, RELAY_REASONING, RELAY_TOOL_CALL, RELAY_TOOL_CALL_END,
    RELAY_USAGE, RELAY_FINISH, RELAY_MODEL, RELAY_START, RELAY_END
};
#endif
