/*
 * engine.h -- the one thread that drives every HTTP transfer through a
 * libcurl multi handle (curl_multi_poll + curl_multi_wakeup).
 *
 * Other threads talk to it only through two queues under a mutex: submit
 * (new requests) and poke (cancel, un-pause), each followed by a wakeup.
 * It owns the timers (first byte, idle, retry backoff; connect and total
 * are libcurl's), the retries, and the end of every request.
 */
#ifndef AC_ENGINE_H
#define AC_ENGINE_H
#include "request.h"

engine *ac__engine_start(long max_connections, ac_error *err);
/* Cancel everything in flight (each on_done fires), then join the thread.
 * Idempotent.  Not from the engine thread. */
void    ac__engine_stop(engine *e);
void    ac__engine_free(engine *e);
/* AC_OK: queued (the engine holds a reference from now on).  Otherwise the
 * request was not taken: AC_ECANCELED, the engine has stopped; AC_ENOMEM,
 * no room in the queue. */
ac_status ac__engine_submit(engine *e, ac_request *q);
/* Ask the engine to look at q again (cancel flag, backpressure). */
void    ac__engine_poke(engine *e, ac_request *q);
#endif
