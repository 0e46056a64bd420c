/*
 * toolbox.h -- what toolrun.c needs of the toolbox (toolbox.c) and of the
 * pool that runs tool calls when the application gives no runner
 * (toolpool.c).
 *
 * A tool, once registered, never changes and lives as long as its
 * toolbox: a run holds a reference on the toolbox (ac__toolbox_ref), so
 * the ac__tool pointers it looks up stay valid however the application
 * frees things.
 */
#ifndef AC_TOOLBOX_H
#define AC_TOOLBOX_H
#include <abstractcore/abstractcore.h>
#include "structured/schema.h"

typedef struct ac__tool {
    char       *name;
    char       *description;   /* NULL: none */
    char       *schema_json;   /* as given, for offering */
    ac__schema *schema;        /* compiled once; validated from any thread */
    ac_tool_fn  fn;
    void       *user;
} ac__tool;

/* A job for the pool.  The node belongs to the caller (a run keeps one
 * per worker), so queueing never allocates; it must stay valid until
 * fn has started. */
typedef struct ac__pool_job {
    void (*fn)(void *arg);
    void *arg;
    struct ac__pool_job *next;
} ac__pool_job;

typedef struct ac__pool ac__pool;

void ac__toolbox_ref(const ac_toolbox *tb);
void ac__toolbox_unref(const ac_toolbox *tb);
/* The tool named name, or NULL.  Any thread. */
const ac__tool *ac__toolbox_find(const ac_toolbox *tb, const char *name);
/* Offer every tool to p that p does not offer yet (by name).  All or
 * nothing: AC_OK, AC_EINVAL (too many tools), AC_ENOMEM. */
ac_status ac__toolbox_offer_missing(const ac_toolbox *tb, ac_gen_params *p);
/* Queue a job on the toolbox's pool, starting the pool on first use and
 * a thread when none is idle (up to AC_TOOLRUN_MAX_PARALLEL).  AC_OK, or
 * AC_ENOMEM when there is no thread to run it (none could be started).
 * Any thread. */
ac_status ac__toolbox_submit(const ac_toolbox *tb, ac__pool_job *job);

/* The pool itself (toolpool.c). */
ac__pool  *ac__pool_new(int max_threads);
ac_status  ac__pool_submit(ac__pool *p, ac__pool_job *job);
/* Stop: threads finish the job they run, then exit; joined here, except
 * the calling thread's own (it is detached and exits when its job
 * returns).  Frees the pool once every thread is gone.  NULL ok. */
void       ac__pool_stop(ac__pool *p);
#endif
