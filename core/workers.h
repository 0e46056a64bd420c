/*
 * workers.h -- the worker pool for in-process plugins (run_local).
 *
 * A plugin whose backend is not HTTP (a model in this process) blocks
 * while it generates; it runs on one of these threads, the only place the
 * design accepts a thread per running request.  The pool has
 * `engine.workers` threads (default 4), started on first use.  Requests
 * beyond that wait in a FIFO.  Callbacks of such requests run on the
 * worker thread.
 */
#ifndef AC_WORKERS_H
#define AC_WORKERS_H
#include "request.h"

typedef struct workers workers;

workers *ac__workers_new(int n);
/* AC_OK: queued (the pool holds a reference).  Otherwise not taken:
 * AC_ECANCELED, the pool has stopped; AC_ENOMEM, no room in the queue. */
ac_status ac__workers_submit(workers *w, ac_request *q);
/* Cancel what is queued or running (each on_done fires), join. */
void     ac__workers_stop(workers *w);
void     ac__workers_free(workers *w);
#endif
