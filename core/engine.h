/*
 * engine.h -- the loop that drives every request: all HTTP transfers on
 * one libcurl multi handle (its socket API over an epoll set), the
 * in-process runs' relays, the timers, the retries, and the end of every
 * request.
 *
 * One loop, two drivers.  In thread mode (the default) the engine starts
 * a thread that waits on the backend fd and runs one round at a time.  In
 * host mode no thread is started: the application's own event loop
 * watches ac__engine_backend_fd (readable when work is due) and the
 * timeout from ac__engine_backend_timeout, and calls
 * ac__engine_run_once, on one thread; every callback then runs inside
 * that call (libuv's uv_backend_fd / uv_backend_timeout model).
 *
 * Other threads reach the engine only through two intrusive queues under
 * a mutex -- submit (new requests) and poke (cancel, un-pause, a relay
 * with news) -- followed by a write to an eventfd in the epoll set, so
 * neither allocates and a burst of pokes to one request costs one entry.
 */
#ifndef AC_ENGINE_H
#define AC_ENGINE_H
#include "request.h"

typedef enum engine_mode { ENGINE_THREAD = 0, ENGINE_HOST } engine_mode;

typedef struct engine_config {
    engine_mode mode;
    long max_connections;       /* in all; 0: no limit */
    long max_host_connections;  /* per host; 0: no limit */
    long max_idle_connections;  /* kept open for reuse; 0: libcurl's default */
} engine_config;

/* Start an engine (and, in thread mode, its thread).  NULL with err. */
engine     *ac__engine_new(const engine_config *cfg, ac_error *err);
/* Cancel everything in flight (each on_done fires: on the engine thread,
 * or in host mode on this thread), then stop taking requests and, in
 * thread mode, join the thread.  Idempotent.  Not from the engine
 * context. */
void        ac__engine_stop(engine *e);
void        ac__engine_free(engine *e);
engine_mode ac__engine_mode(const engine *e);
/* AC_OK: queued (the engine holds a reference from now on).
 * AC_ECANCELED: the engine has stopped; nothing happened. */
ac_status   ac__engine_submit(engine *e, ac_request *q);
/* Ask the engine to look at q again (cancel flag, backpressure released,
 * a relay with news).  Never allocates; coalesced.  Any thread. */
void        ac__engine_poke(engine *e, ac_request *q);
/* Engine context: q's timers moved (its first byte came); arm the next. */
void        ac__engine_rearm(engine *e, ac_request *q);

/* Host mode (they work in thread mode too, but there the thread calls
 * them).  The fd is an epoll descriptor: poll it for reading. */
int         ac__engine_backend_fd(const engine *e);
/* Milliseconds until a timer is due (0: now), -1 when none is armed.
 * Engine context. */
int         ac__engine_backend_timeout(engine *e);
/* One round: take the queues, serve ready sockets and due timers,
 * deliver callbacks.  Never blocks.  AC_EBUSY if another thread is in a
 * round, AC_ECANCELED once stopped. */
ac_status   ac__engine_run_once(engine *e);
#endif
