/*
 * core.h -- the core, its provider instances, and LLM handles.
 *
 * An instance is one configured provider (or a drop-in plugin used by its
 * own name): plugin + settings + the plugin state made by init.  Instances
 * live as long as the core; the core lives until it is closed AND every
 * handle made from it is freed (reference counts), so no handle can outlive
 * the plugin code it calls.
 */
#ifndef AC_CORE_H
#define AC_CORE_H
#include <libconfig.h>
#include <pthread.h>
#include <stdatomic.h>
#include "breaker.h"
#include "media/media.h"
#include "plugin.h"
#include "ratelimit.h"
#include "settings.h"

/* hook.h's slot, here so struct ac_core can hold it. */
typedef struct hook_slot {
    atomic_int      on;        /* a hook or a trace file is set */
    pthread_mutex_t mu;
    ac_hook_fn      fn;
    void           *user;
    struct trace   *trace;     /* the trace file, or NULL */
} hook_slot;

typedef struct engine engine;

typedef struct limits {
    long   connect_ms;
    long   first_byte_ms;
    long   idle_ms;
    long   total_ms;
    int    max_retries;
    size_t max_response_bytes;
    int    retry_timeouts;       /* first-byte and idle timeouts are retried */
    int    circuit_failures;     /* breaker threshold; 0: no breaker */
    long   circuit_cooldown_ms;
    long   rpm, tpm;             /* rate limits; 0: none */
    /* A stream that makes no progress (decoder.c): events and bytes in a
     * row that change nothing in the response; 0: no limit. */
    long   max_idle_events;
    long   max_idle_bytes;
} limits;

/* A provider's TLS settings (tls_verify, ca_bundle, client_cert,
 * client_key, client_key_password).  The strings are borrowed from the
 * llm's settings, which outlive every request of the llm. */
typedef struct tlsopts {
    int         verify;               /* 0: tls_verify = false */
    const char *ca_bundle;            /* NULL: libcurl's default CA store */
    const char *client_cert;          /* PEM; NULL: none */
    const char *client_key;           /* PEM; NULL: in client_cert, or none */
    const char *client_key_password;  /* a secret; NULL: none */
} tlsopts;

typedef struct instance {
    char          *name;
    const plugin  *pl;          /* NULL when the plugin was not found */
    ac_settings   *settings;
    void          *state;
    ac_status      status;      /* AC_OK when usable */
    ac_error       err;         /* why not */
    int            bad_group;   /* its group's keys are wrong: options cannot help */
    limits         lim;
    breakers       br;          /* per model */
    int            inited_br;
    ratelimit      rl;          /* rpm / tpm buckets */
} instance;

struct ac_core {
    atomic_int       refs;
    atomic_int       closed;
    pthread_mutex_t  mu;
    config_t         cfg;
    int              have_cfg;
    char            *config_path;
    char            *default_provider;
    plugin_set       plugins;
    instance       **inst;
    size_t           n_inst;
    engine          *eng;
    struct workers  *pool;       /* run_local pool, started on first use */
    int              n_workers;
    limits           defaults;
    hook_slot        hooks;      /* the application's hook, the trace file */
};

/* How chat requests of an llm use tools and schemas (its provider's
 * tool_mode, tool_family and schema_attempts settings). */
typedef struct chatopts {
    int schema_attempts;   /* tries in all for a matching reply, 1..10 */
    int tool_mode;         /* ac_tool_mode */
    int tool_family;       /* ac__toolfam, or -1: from the model's name */
    long max_input_tokens; /* 0: no limit */
    int trim;              /* input_overflow = "trim" */
} chatopts;

struct ac_llm {
    atomic_int          refs;
    ac_core            *core;
    instance           *inst;
    ac_settings        *own_settings;  /* with ac_options overlay, or NULL */
    void               *own_state;
    int                 own_inited;
    void               *state;         /* own_state or inst->state */
    const ac_provider  *vt;
    char               *model;
    limits              lim;
    chatopts            co;
    tlsopts             tls;
    ac__media_limits    media;         /* what its images must fit */
};

void ac__core_ref(ac_core *c);
void ac__core_unref(ac_core *c);
void ac__llm_ref(ac_llm *l);
/* The settings the llm's plugin state was made from (its own when it has
 * option overrides). */
const ac_settings *ac__llm_settings(const ac_llm *l);
void ac__llm_unref(ac_llm *l);

/* The model an instance maps `from` to (its `model_map` setting: a list
 * of "from=to" strings, "*=to" for any), or NULL.  Borrowed from the
 * instance's settings. */
const char *ac__instance_model_map(const instance *in, const char *from);

/* Read the engine's per-provider keys into lim, starting from base. */
void ac__limits_read(const ac_settings *s, const limits *base, limits *lim);

/* Read the TLS keys into t (borrowed from s).  AC_ECONFIG when a client
 * key is set without its certificate. */
ac_status ac__tls_read(const ac_settings *s, tlsopts *t, ac_error *err);

/* The run_local worker pool, started on first use; NULL when it cannot
 * be started or the core is closed. */
struct workers *ac__core_workers(ac_core *c);

/* Monotonic milliseconds. */
double ac__now_ms(void);
#endif
