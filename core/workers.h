/*
 * workers.h -- the worker pool for in-process plugins (run_local).
 *
 * A plugin whose backend is not HTTP (a model in this process) blocks
 * while it generates; it runs on one of these threads, the only place the
 * design accepts a thread per running request.  The pool has
 * `engine.workers` threads (default 4), started on first use.  Runs
 * beyond that wait in a FIFO.  The plugin's output goes through its relay
 * (relay.h) to the engine, where the callbacks run.
 */
#ifndef AC_WORKERS_H
#define AC_WORKERS_H
#include "relay.h"

typedef struct workers workers;

workers  *ac__workers_new(int n);
/* AC_OK: queued (the pool holds a reference on r).  Otherwise not taken:
 * AC_ECANCELED, the pool has stopped; AC_ENOMEM, no room in the queue. */
ac_status ac__workers_submit(workers *w, relay *r);
/* Drop what is queued (the engine has already ended those requests),
 * wait for the runs in progress (their relays are cancelled, so they end
 * soon), join.  Idempotent. */
void      ac__workers_stop(workers *w);
void      ac__workers_free(workers *w);
#endif
