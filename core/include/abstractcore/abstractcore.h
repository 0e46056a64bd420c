/*
 * abstractcore.h -- the public application API of libabstractcore.
 *
 * One API for every large-language-model backend.  A core (ac_core) reads a
 * libconfig file, loads provider plugins, and runs one engine thread that
 * drives every HTTP request through a libcurl multi handle.  An ac_llm is a
 * provider instance plus a model; requests made on it are sync
 * (ac_generate), async (ac_agenerate + callbacks or ac_request_wait), or
 * pull-streamed (ac_stream_*).  Sessions (ac_session_*) keep conversation
 * history in the core.
 *
 * Needs C11 or C++11 (ac_callbacks names one member two ways with an
 * anonymous union).  Link with -labstractcore (pkg-config abstractcore).
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *   - Handles are opaque.  Every constructor has a destructor; destructors
 *     accept NULL and are no-ops on it.
 *   - A constructor that fails returns NULL (or leaves its out-parameter
 *     untouched) and fills the caller's ac_error, if one was passed.
 *     `err` may always be NULL.
 *   - Strings passed in are copied; the caller keeps ownership.
 *   - Strings returned as `const char *` are borrowed from the handle they
 *     came from and stay valid until that handle is freed.
 *   - Every handle is reference counted internally, so they may be freed in
 *     any order: an ac_llm keeps its core alive, a request keeps its llm
 *     alive.  Freeing is never a use-after-free hazard for other handles.
 *   - "Any thread" means the function may be called concurrently from
 *     several threads on the same handle.
 */
#ifndef ABSTRACTCORE_H
#define ABSTRACTCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AC_VERSION_MAJOR 0
#define AC_VERSION_MINOR 1
#define AC_VERSION_PATCH 0
#define AC_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------ */
/* Status codes and errors                                             */
/* ------------------------------------------------------------------ */

/** Every status a function can return.  ac_strerror() names each one. */
typedef enum ac_status {
    AC_OK = 0,
    AC_EINVAL,        /* a bad argument: NULL handle, empty prompt, bad value */
    AC_ENOMEM,        /* an allocation failed */
    AC_ECONFIG,       /* configuration file or setting is wrong */
    AC_EPLUGIN,       /* a plugin could not be loaded or refused to start */
    AC_ENOPROVIDER,   /* no configured provider and no plugin by that name */
    AC_EUNSUPPORTED,  /* the provider does not support this operation */
    AC_ECONNECT,      /* could not resolve or connect to the server */
    AC_ETLS,          /* TLS handshake or certificate failure */
    AC_EHTTP,         /* the server answered with a non-success status */
    AC_EFRAMING,      /* bytes that are not valid SSE / NDJSON framing */
    AC_EJSON,         /* a body or event that is not valid JSON (or UTF-8) */
    AC_EPROTOCOL,     /* valid JSON that breaks the backend's protocol, a
                         truncated stream, or an error sent inside a stream */
    AC_ETOOBIG,       /* the response exceeded max_response_bytes; an
                         attachment exceeded its limit */
    AC_ETIMEDOUT,     /* a connect / first-byte / idle / total timeout fired;
                         from ac_request_wait: the wait itself timed out */
    AC_ECANCELED,     /* cancelled by ac_request_cancel or ac_core_close */
    AC_EIO,           /* reading or writing a local file failed */
    AC_EBUSY,         /* a blocking call made where it would deadlock: from
                         the engine thread (inside a callback), or on a
                         core in host mode; the error (or, for
                         ac_request_wait and ac_gather, a warning in the
                         log) says which */
    AC_EPENDING,      /* the request has not finished yet */
    AC_EOF,           /* ac_stream_next: the stream has ended normally */
    AC_EAGAIN,        /* ac_stream_next: nothing arrived within the wait;
                         the stream goes on, call again */
    AC_ESCHEMA,       /* structured output: no reply matched the JSON Schema
                         in the attempts allowed (the last reply is kept) */
    AC_ELIMIT,        /* a limit the caller set was reached: a tool run's
                         max_rounds with calls still pending, an input over
                         max_input_tokens */
    AC_ECIRCUIT,      /* the provider's circuit breaker is open for this
                         model: it failed too often, and rests */
    AC_STATUS_LAST    /* sentinel: number of codes, never returned */
} ac_status;

/** Where a failure happened.  ac_stage_name() names each one. */
typedef enum ac_stage {
    AC_STAGE_NONE = 0,
    AC_STAGE_CONFIG,     /* reading the config file or a provider's settings */
    AC_STAGE_PLUGIN,     /* loading or starting a plugin */
    AC_STAGE_REQUEST,    /* building the request (arguments, plugin) */
    AC_STAGE_CONNECT,    /* DNS, TCP connect, proxy */
    AC_STAGE_TLS,        /* TLS handshake */
    AC_STAGE_HTTP,       /* HTTP status or transfer */
    AC_STAGE_FRAMING,    /* SSE / NDJSON framing */
    AC_STAGE_JSON,       /* JSON or UTF-8 decoding */
    AC_STAGE_PROTOCOL,   /* the backend's protocol (incl. errors in a stream) */
    AC_STAGE_TIMEOUT,    /* a timeout fired */
    AC_STAGE_CANCELLED,  /* cancelled */
    AC_STAGE_IO,         /* local file I/O (sessions) */
    AC_STAGE_LAST
} ac_stage;

#define AC_ERROR_MESSAGE_MAX  512
#define AC_ERROR_PROVIDER_MAX 64

/**
 * A caller-owned error report.  Pass a pointer to one (on the stack is
 * fine) to any function that takes `ac_error *err`; on failure it is filled
 * in completely, on success it is left untouched.  Nothing in it needs
 * freeing.  The message never contains an API key.
 */
typedef struct ac_error {
    ac_status code;          /* what went wrong */
    ac_stage  stage;         /* where it went wrong */
    int       http_status;   /* the server's HTTP status, 0 if none */
    int       retryable;     /* 1 if the same request may succeed later */
    long      retry_after_ms;/* server's Retry-After in ms, -1 if not given */
    char      provider[AC_ERROR_PROVIDER_MAX]; /* instance name, "" if none */
    char      message[AC_ERROR_MESSAGE_MAX];   /* one line for a person */
} ac_error;

/** Name of a status code ("AC_ETIMEDOUT: timed out").  Never NULL; static. */
const char *ac_strerror(ac_status code);

/** Name of a stage ("http").  Never NULL; static storage. */
const char *ac_stage_name(ac_stage stage);

/** Clear an error to AC_OK / empty.  NULL is a no-op. */
void ac_error_clear(ac_error *err);

/** The library version string, e.g. "0.1.0".  Static storage. */
const char *ac_version(void);

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

/** How much a message matters. */
typedef enum ac_log_level {
    AC_LOG_ERROR = 0,   /* something failed that the program did not ask about */
    AC_LOG_WARN,        /* something is wrong or risky, and it went on */
    AC_LOG_INFO,
    AC_LOG_DEBUG        /* HTTP traffic (keys redacted), decisions */
} ac_log_level;

/**
 * Where every message the library writes goes.  `provider` is the
 * provider instance it is about ("" if none); `message` is one line, no
 * newline, no secret.  Both are borrowed for the call.  Called from any
 * thread, possibly several at once; it must not call back into the
 * library.
 */
typedef void (*ac_log_fn)(ac_log_level level, const char *provider, const char *message,
                          void *user);

/**
 * Send the library's messages to fn (NULL: back to the default, one line
 * "abstractcore: PROVIDER: LEVEL: MESSAGE" on stderr).  Process-wide.
 * Thread: any.
 */
void ac_log_set_handler(ac_log_fn fn, void *user);

/**
 * Messages above `level` are dropped (default AC_LOG_WARN, or the number
 * in $AC_LOG_LEVEL when set: 0 error ... 3 debug).  Process-wide.
 */
void ac_log_set_level(ac_log_level level);

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */

struct json_object;  /* json-c's value (ac_response_json) */
typedef struct ac_core       ac_core;
typedef struct ac_llm        ac_llm;
typedef struct ac_options    ac_options;
typedef struct ac_gen_params ac_gen_params;
typedef struct ac_request    ac_request;
typedef struct ac_response   ac_response;
typedef struct ac_stream     ac_stream;
typedef struct ac_session    ac_session;
typedef struct ac_models     ac_models;
typedef struct ac_embeddings ac_embeddings;

/* ------------------------------------------------------------------ */
/* Core                                                                */
/* ------------------------------------------------------------------ */

/**
 * Open a core: read the configuration, load the plugins, start the engine
 * thread.  Calls curl_global_init() once per process (thread-safe here; do
 * not call curl_global_cleanup() while a core is open).
 *
 * config_path: a libconfig file, or NULL to search, in order,
 *   $ABSTRACTCORE_CONFIG, $XDG_CONFIG_HOME/abstractcore/abstractcore.conf
 *   (or ~/.config/...), and $(sysconfdir)/abstractcore/abstractcore.conf
 *   (unless $ABSTRACTCORE_CONFIG_NOSYSTEM is set and not "0").
 *   When nothing is found the core opens with built-in defaults (the
 *   installed plugin folder, no configured providers).
 *
 * The configuration is strict (docs/configuration.md): a syntax error, a
 * key the core does not know at the top level or in the `abstractcore`
 * and `abstractcore.engine` groups, or a value of the wrong type or out
 * of range there, fails with AC_ECONFIG naming file, line and, for an
 * unknown key, the nearest known one ("did you mean base_url?").  A
 * provider whose plugin is missing or whose settings are wrong (the same
 * checks, against the core's keys and those its plugin declares) does
 * NOT fail the open: the others load, and that provider's error is
 * reported by ac_llm_create and listed by ac_core_plugin_report().
 *
 * On success *out owns a core; close it with ac_core_close().
 * Thread: any thread.  Errors: AC_EINVAL, AC_ENOMEM, AC_ECONFIG.
 */
ac_status ac_core_open(ac_core **out, const char *config_path, ac_error *err);

/**
 * ac_core_open with overrides of the file's `abstractcore` settings, for
 * programs that open a core without a file (or must override it).  opts
 * may be NULL; keys:
 *   "default_provider"             a provider name
 *   "engine.mode"                  "thread" (default) or "host" (below)
 *   "engine.max_connections"       connections in all, 0 = no limit (default)
 *   "engine.max_host_connections"  connections per host, 0 = no limit (default)
 *   "engine.max_idle_connections"  idle connections kept for reuse,
 *                                  0 = libcurl's default
 *   "engine.workers"               threads for in-process models (default 4)
 *   "engine.max_response_bytes"    default cap on a response (16 MiB)
 * An unknown key or a bad value fails with AC_EINVAL / AC_ECONFIG naming
 * it.  opts is only read during the call.
 */
ac_status ac_core_open_ex(ac_core **out, const char *config_path, const ac_options *opts,
                          ac_error *err);

/**
 * Close a core.  Requests still in flight are cancelled: each one's on_done
 * fires (with AC_ECANCELED) before this returns -- on the engine thread,
 * or in host mode on the calling thread -- then the engine thread and the
 * workers of in-process models are joined.  Handles made from this core
 * (llms, sessions, requests, streams) stay valid to read and to free; new
 * requests on them fail with AC_ECANCELED.  Plugins are unloaded when the
 * last of those is freed.  NULL is a no-op.  Must not be called from a
 * callback (it would wait on itself); there it does nothing but log a
 * warning.  In host mode, call it from the loop's thread, not during
 * ac_core_run_once.
 */
void ac_core_close(ac_core *core);

/* ------------------------------------------------------------------ */
/* Host mode: the application's own event loop drives the engine        */
/* ------------------------------------------------------------------ */

/*
 * With `engine = { mode = "host"; };` in the config (or the option
 * "engine.mode" = "host" of ac_core_open_ex) no engine thread is started.
 * The application's loop (libuv, libevent, GLib, its own poll/epoll)
 * watches the backend fd for reading and the backend timeout, and calls
 * ac_core_run_once when either fires; every callback (on_event, on_done)
 * then runs inside ac_core_run_once, on the loop's thread, as libuv's
 * uv_backend_fd / uv_backend_timeout work.  Requests may still be started
 * and cancelled from any thread.  Calls that would block waiting for the
 * engine (ac_generate, ac_request_wait and ac_gather with a timeout,
 * ac_stream_next with a timeout, ac_list_models, ac_embed, ac_session_generate,
 * ac_session_run_tools, ac_toolrun_wait with a timeout) fail at once
 * with AC_EBUSY and say why; polls (timeout 0) work.
 * examples/loop_*.c show adapters for libuv, libevent, GLib and poll().
 */

/** The fd to watch for reading (an epoll descriptor on Linux): it becomes
 *  readable when ac_core_run_once has work.  -1 for NULL or a closed
 *  core.  Stable for the core's life.  Thread: any. */
int       ac_core_backend_fd(ac_core *core);
/** Milliseconds until ac_core_run_once must be called even if the fd
 *  stays quiet (a timeout, a retry), 0 for now, -1 for no timer.  Ask
 *  again after every ac_core_run_once.  Thread: the loop's. */
int       ac_core_backend_timeout(ac_core *core);
/** Do whatever is due, never blocking: start requests, move bytes, fire
 *  timers, run callbacks.  AC_OK; AC_EINVAL (NULL, or the core is not in
 *  host mode); AC_EBUSY (another thread is inside it, or called from a
 *  callback); AC_ECANCELED (the core was closed).  Thread: one loop
 *  thread at a time. */
ac_status ac_core_run_once(ac_core *core);
/** 1 if the core runs in host mode, else 0. */
int       ac_core_host_mode(const ac_core *core);

/** The file the configuration came from, or NULL when built-in defaults
 *  were used.  Borrowed; valid until the core is freed. */
const char *ac_core_config_path(const ac_core *core);

/** The default provider name from the config (abstractcore.default_provider),
 *  or NULL.  Borrowed. */
const char *ac_core_default_provider(const ac_core *core);

/**
 * Write a report of every plugin and provider the core found, loaded and
 * refused (with the reason) as text, one per line, to *out.  *out is
 * malloc'd; free it with ac_free().  Thread: any.
 */
ac_status ac_core_plugin_report(ac_core *core, char **out, ac_error *err);

/**
 * The circuit breaker of this llm's provider and model: "closed" (tries
 * go), "open" (tries fail at once with AC_ECIRCUIT, or move to a
 * fallback), "half_open" (the next try is a probe).  Static string.
 * Thread: any.
 */
const char *ac_llm_circuit(const ac_llm *llm);

/**
 * Check a configuration file without opening a core: read it (config_path
 * as ac_core_open takes it; NULL searches the same places), check every
 * key and value of every group, and load the plugins (dlopen and their
 * descriptors, to learn the settings each one reads; no plugin's init
 * runs, no thread starts, nothing is contacted).  Besides what would fail
 * the open or a provider, it reports what would fail only later: an
 * api_key_env variable that is not set (when neither api_key nor
 * api_key_file is given), a plugin_path or $ABSTRACTCORE_PLUGIN_PATH
 * folder that cannot be read.
 *
 * *report gets every problem found, one per line, "FILE:LINE: message"
 * (a message that starts with "warning: " does not stop the file from
 * working: a setting a plugin that does not declare its settings may
 * read), or "" when there is none; free it with ac_free().  Returns AC_OK
 * when the file has no error (warnings allowed), AC_ECONFIG when it has
 * at least one (err then holds the first; *report lists them all, a file
 * that cannot be found or parsed included), AC_EINVAL (report is NULL) or
 * AC_ENOMEM (*report NULL).  `acore config check` prints the report.
 * Thread: any.
 */
ac_status ac_core_check_config(const char *config_path, char **report, ac_error *err);

/**
 * The settings the core itself reads in a provider group (and as
 * ac_options of ac_llm_create): the i-th name ("name", "plugin",
 * "base_url", "api_key", ..., "tls_verify", "ca_bundle", ...), or NULL
 * past the last.  A plugin's own settings (ac_provider.settings) must not
 * reuse them.  Static storage.  Thread: any.
 */
const char *ac_core_provider_setting(size_t i);

/** Free memory the library returned with "free with ac_free()".  NULL ok. */
void ac_free(void *ptr);

/* ------------------------------------------------------------------ */
/* Hooks: what happens to every request, for metrics and tracing       */
/* ------------------------------------------------------------------ */

/** What a hook event reports. */
typedef enum ac_hook_kind {
    AC_HOOK_REQUEST_START = 1, /* the engine took a request */
    AC_HOOK_ATTEMPT_START,     /* a try begins: provider, model, attempt */
    AC_HOOK_ATTEMPT_END,       /* a try ended: status, error, http_status, latency_ms */
    AC_HOOK_RETRY,             /* another try follows after delay_ms: error says why */
    AC_HOOK_FIRST_TOKEN,       /* the request's first content reached the caller */
    AC_HOOK_FALLBACK,          /* the request moves on to to_provider / to_model:
                                  error says why */
    AC_HOOK_CIRCUIT,           /* the breaker of provider / model changed: circuit */
    AC_HOOK_RATE_WAIT,         /* the provider's rate limit holds the request
                                  back delay_ms */
    AC_HOOK_REQUEST_END        /* the request ended: status, error, usage,
                                  latency_ms, and the provider / model that
                                  answered */
} ac_hook_kind;

/**
 * One event.  Valid only during the call; members are only ever
 * appended (struct_size says how many there are).  Strings are never NULL
 * ("" when not applicable).
 */
typedef struct ac_hook_event {
    size_t          struct_size;
    ac_hook_kind    kind;
    ac_request     *request;        /* NULL for AC_HOOK_CIRCUIT */
    unsigned long long request_id;  /* unique in the process, from 1 */
    const char     *provider;       /* the provider instance this is about */
    const char     *model;
    int             attempt;        /* tries started so far, 1-based (0 before) */
    ac_status       status;         /* *_END; RETRY / FALLBACK: the failure */
    const ac_error *error;          /* RETRY, FALLBACK, failed *_END; else NULL */
    int             http_status;    /* ATTEMPT_END, REQUEST_END: 0 if none */
    long            delay_ms;       /* RETRY, RATE_WAIT */
    const char     *to_provider;    /* FALLBACK */
    const char     *to_model;       /* FALLBACK */
    const char     *circuit;        /* CIRCUIT: "closed", "open", "half_open" */
    long            input_tokens;   /* REQUEST_END: -1 unknown */
    long            output_tokens;
    double          latency_ms;     /* ATTEMPT_END: the try; REQUEST_END: all of it */
    double          elapsed_ms;     /* since the request started */
} ac_hook_event;

typedef void (*ac_hook_fn)(const ac_hook_event *ev, void *user);

/**
 * Call fn for every event of every request of this core (NULL: none;
 * then building the events costs nothing).  fn runs in the engine context
 * (the engine thread, or inside ac_core_run_once in host mode), in order,
 * one at a time; it must not block, and may not call blocking functions
 * (they fail with AC_EBUSY there).  May be changed while requests run: an
 * event goes to the old or the new hook.  Thread: any.
 */
ac_status ac_core_set_hook(ac_core *core, ac_hook_fn fn, void *user);
/** Name of a hook kind ("request_start", ...).  Static. */
const char *ac_hook_kind_name(ac_hook_kind kind);

/** One try of a request, as the response lists them. */
typedef struct ac_attempt {
    const char *provider;     /* the provider instance tried */
    const char *model;
    ac_status   status;       /* AC_OK, or why this try failed */
    int         http_status;  /* 0 if none */
    double      started_ms;   /* since the request started */
    double      latency_ms;   /* how long it took */
} ac_attempt;

/* ------------------------------------------------------------------ */
/* Options for an LLM (overrides of the provider's config block)        */
/* ------------------------------------------------------------------ */

/** A new empty option set (nothing overridden).  Free with
 *  ac_options_free().  NULL on out of memory.  Not thread-safe; an option
 *  set is copied by ac_llm_create, so it may be freed right after. */
ac_options *ac_options_new(void);
void        ac_options_free(ac_options *opts);

/**
 * Override one provider setting by its config key, as if it were written in
 * the provider's config block: "base_url", "api_key" (the key itself; never
 * logged), "api_key_env", "default_model", "timeout_ms",
 * "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms",
 * "max_retries", "max_response_bytes", "tls_verify", "ca_bundle", ...
 * (ac_core_provider_setting lists them; "name" and "plugin" are not
 * options), or a key the plugin declares.  The value is copied.  Returns
 * AC_EINVAL for a NULL or empty key.  The keys and values are checked by
 * ac_llm_create: an unknown key, or a value that does not fit its key,
 * fails it with AC_ECONFIG naming the option (and the nearest known key);
 * for a plugin that does not declare its settings (ABI 2.0) an unknown key
 * is only logged as a warning and handed to the plugin.
 */
ac_status ac_options_set(ac_options *opts, const char *key, const char *value);

/* ------------------------------------------------------------------ */
/* LLM                                                                 */
/* ------------------------------------------------------------------ */

/**
 * Create an LLM: a provider instance plus a model.
 *
 * provider: a configured provider name, or the name of a plugin found in the
 *   plugin path (used with its own defaults), or NULL for the config's
 *   default_provider.
 * model: NULL for the provider's default_model (from the config, or the
 *   plugin's own default).
 * opts: may be NULL; copied.
 *
 * Returns a new LLM (free with ac_llm_free) or NULL with err filled:
 * AC_ENOPROVIDER (unknown name), AC_EPLUGIN (plugin refused), AC_ECONFIG
 * (e.g. its API key variable is not set, a setting of its group or an
 * option is unknown or wrong), AC_ECANCELED (core closed).
 * Thread: any.
 */
ac_llm *ac_llm_create(ac_core *core, const char *provider, const char *model,
                      const ac_options *opts, ac_error *err);

/** Release an LLM.  Requests in flight on it go on and finish normally.
 *  NULL is a no-op.  Thread: any. */
void ac_llm_free(ac_llm *llm);

/** The provider instance name.  Borrowed, valid until the llm is freed. */
const char *ac_llm_provider(const ac_llm *llm);
/** The model name ("" if the backend needs none).  Borrowed. */
const char *ac_llm_model(const ac_llm *llm);

/* ------------------------------------------------------------------ */
/* Generation parameters                                               */
/* ------------------------------------------------------------------ */

/** A new parameter set with every value unset (the backend's default).
 *  Free with ac_gen_params_free().  NULL on out of memory.  Not
 *  thread-safe while being modified; requests copy what they need, so a
 *  parameter set may be reused or freed right after the call it was
 *  passed to. */
ac_gen_params *ac_gen_params_new(void);
void           ac_gen_params_free(ac_gen_params *p);

/* Each setter returns AC_OK, or AC_EINVAL for a NULL set or a value out of
 * range (stated per setter), leaving the set unchanged. */

/** Maximum output tokens, >= 1.  Unset: backend default (Anthropic: 4096). */
ac_status ac_gen_params_set_max_tokens(ac_gen_params *p, long max_tokens);
/** Sampling temperature, 0.0 .. 2.0.  Unset: backend default. */
ac_status ac_gen_params_set_temperature(ac_gen_params *p, double t);
/** Nucleus sampling, 0.0 .. 1.0.  Unset: backend default. */
ac_status ac_gen_params_set_top_p(ac_gen_params *p, double top_p);
/** Seed for backends that support it (ignored by those that do not). */
ac_status ac_gen_params_set_seed(ac_gen_params *p, long long seed);
/** Add a stop sequence (non-empty; copied).  At most 16. */
ac_status ac_gen_params_add_stop(ac_gen_params *p, const char *stop);
/** A system prompt for this request (copied).  Sessions use their own
 *  system prompt and ignore this one. */
ac_status ac_gen_params_set_system(ac_gen_params *p, const char *system);
/**
 * Offer a tool (function) the model may call.  parameters_json is a JSON
 * Schema object as text (validated here: AC_EINVAL if it is not a JSON
 * object); description may be NULL.  All copied.  At most 128 tools.
 */
ac_status ac_gen_params_add_tool(ac_gen_params *p, const char *name,
                                 const char *description,
                                 const char *parameters_json);
/** "auto" (default), "none", "required", or the name of one tool. */
ac_status ac_gen_params_set_tool_choice(ac_gen_params *p, const char *choice);
/**
 * Ask for a reply that is JSON matching schema_json, a JSON Schema (draft
 * 7) object; name may be NULL ("response").  Everything is copied.
 *
 * The schema is compiled here: a keyword the validator does not implement
 * (a later draft's), a bad value, a bad regex or a $ref that cannot be
 * resolved fails with AC_EINVAL or AC_EUNSUPPORTED and err naming the
 * keyword and its schema pointer (err may be NULL).
 *
 * The reply is validated before on_done.  A reply that is not JSON, or
 * that does not match, is sent back to the model with the validation
 * errors, up to ac_gen_params_set_schema_attempts tries in all (default 3,
 * or the provider's `schema_attempts`); then the request fails with
 * AC_ESCHEMA, keeping the last reply and its errors
 * (ac_response_schema_errors).  A reply that wraps the JSON in a Markdown
 * fence or a sentence is accepted when the JSON inside matches.  The
 * validated document: ac_response_json_text / ac_response_json, and the
 * FINISH event's `json`.
 *
 * A backend with a native structured mode gets the schema in that form
 * (OpenAI's strict mode only when the schema is closed:
 * "additionalProperties": false and every property required); one
 * without (its plugin lacks AC_FEATURE_JSON_SCHEMA) gets it in the system
 * prompt, and the same validation holds it to it.
 */
ac_status ac_gen_params_set_json_schema(ac_gen_params *p, const char *name,
                                        const char *schema_json, ac_error *err);
/** Tries in all for a reply that matches the schema, 1..10 (1: no retry).
 *  Unset: the provider's `schema_attempts`, default 3. */
ac_status ac_gen_params_set_schema_attempts(ac_gen_params *p, int attempts);

/** How tools reach the model (the provider's `tool_mode` when unset). */
typedef enum ac_tool_mode {
    AC_TOOL_MODE_AUTO = 0,  /* native when the plugin has a tool API
                               (AC_FEATURE_TOOLS), else prompted */
    AC_TOOL_MODE_NATIVE,    /* the backend's tool API */
    AC_TOOL_MODE_PROMPTED   /* the tools in the system prompt, in the model
                               family's format; calls parsed out of the
                               reply text (streamed or not) into the same
                               tool-call events native calls give */
} ac_tool_mode;
ac_status ac_gen_params_set_tool_mode(ac_gen_params *p, ac_tool_mode mode);
/**
 * Bound the input: when the messages sent (system prompt, history,
 * prompt) are estimated at more than max_tokens (ac_messages_estimate_
 * tokens' heuristic; 0: no bound), the request fails with AC_ELIMIT
 * before anything is sent -- or, with trim, the oldest turns are left out
 * of what is sent until it fits: never the system prompt, never the last
 * turn, never a tool call without its result (whole turns go, from a
 * user message to the next).  A session's history itself is not changed.
 * Unset: the provider's `max_input_tokens` and `input_overflow`.
 */
ac_status ac_gen_params_set_max_input_tokens(ac_gen_params *p, long max_tokens, int trim);
/**
 * Add a provider to fall back to (at most 8, tried in the order added;
 * replaces the provider's own `fallback` list for this request).  When a
 * try fails with an error another backend may not have -- a connection
 * error, a timeout, HTTP 408/409/429/5xx/529 after the retries, an open
 * circuit -- and nothing has reached the caller yet, the request moves on
 * to the next provider.  model: the model to ask there; NULL: the
 * provider's `model_map` for the model asked, else its default model.
 * The response says who answered (ac_response_provider / _model) and
 * lists every try (ac_response_attempt).
 */
ac_status ac_gen_params_add_fallback(ac_gen_params *p, const char *provider, const char *model);
/** Stream (1) or not (0).  Unset: ac_agenerate streams when callbacks with
 *  on_event are given; ac_generate does not stream; ac_stream_open always
 *  streams. */
ac_status ac_gen_params_set_stream(ac_gen_params *p, int stream);
/**
 * Per-request timeouts in milliseconds (0 = none), overriding the
 * provider's: connect, first byte (request sent -> first response byte),
 * idle (longest gap between received bytes, keep-alive comments count),
 * total.  A negative value leaves that one unchanged.
 */
ac_status ac_gen_params_set_timeouts(ac_gen_params *p, long connect_ms,
                                     long first_byte_ms, long idle_ms,
                                     long total_ms);
/** Retries of a failed attempt (connection errors, 408, 409, 429, 5xx)
 *  before the first content event; 0..10.  Unset: provider's max_retries
 *  (default 2). */
ac_status ac_gen_params_set_max_retries(ac_gen_params *p, int max_retries);

/* ------------------------------------------------------------------ */
/* Images and documents                                                */
/* ------------------------------------------------------------------ */

/*
 * Attachments go with the prompt: the user message of ac_generate,
 * ac_agenerate, ac_stream_open and a session turn (ac_session_generate,
 * ac_session_agenerate, the first round of ac_session_arun_tools) carries
 * the prompt's text, then each document, then each image, in the order
 * attached.  A session keeps them in its history (and its saved file), so
 * later turns send them again.  A turn with a NULL prompt and attachments
 * sends a user message of the attachments alone, as does a message list
 * (ac_generate_messages) after its last message.  Attachments stay on the
 * parameter set for every call it is passed to, until
 * ac_gen_params_clear_attachments.
 *
 * The type is told from the content (libmagic), never from the name:
 *   images:    PNG, JPEG, WebP, GIF (an animated GIF or WebP is sent as
 *              its first frame);
 *   documents: PDF (its text, read with poppler), and text in UTF-8 --
 *              plain text, Markdown, CSV, TSV, JSON and other text types
 *              (the name's extension refines the label: .md is
 *              text/markdown, .tsv text/tab-separated-values).
 * A file is read, and a document's text taken, when it is attached; the
 * parameter set then holds the bytes (shared by every copy a request
 * makes), and the file may change or go.  Files and documents of more
 * than 64 MiB are refused (AC_ETOOBIG).
 *
 * Images are fitted to the backend when a request is made: resized
 * (keeping the aspect ratio) and re-encoded to fit the provider's limits
 * (image_max_edge, image_max_short_edge, image_max_pixels,
 * image_max_bytes, image_formats: each plugin gives defaults from its
 * backend's documentation, the configuration overrides them), or passed
 * through byte for byte when they fit.  GIF and WebP are converted to PNG
 * or JPEG for backends that do not take them.  Images given by http(s)
 * URL are sent as URLs (the backend fetches them; Ollama cannot, and
 * refuses them).  Documents reach the model as text under a line
 * "[file: NAME]", after a blank line, unless the plugin takes documents
 * natively (AC_FEATURE_FILES).  A document whose text is longer than the
 * provider's max_document_bytes (default 1 MiB) or the request's
 * ac_gen_params_set_max_document_bytes fails the request with
 * AC_ETOOBIG: it is never cut.
 *
 * Errors when attaching (the set is then unchanged, err says which file):
 * AC_EINVAL (NULL argument, more than AC_MAX_ATTACHMENTS, a URL that is
 * not http, https or a base64 data: URL, a MIME type that contradicts
 * the bytes), AC_EIO (a file that cannot be read), AC_EUNSUPPORTED (a
 * type that is neither of the above, naming the type found; text that is
 * not UTF-8; a PDF that is encrypted or has no text), AC_ETOOBIG,
 * AC_ENOMEM.  Errors when a request is made, reported as every failure
 * to build a request is (on_done; ac_generate's err): AC_EUNSUPPORTED
 * for images to a provider whose plugin takes none (AC_FEATURE_IMAGES),
 * naming the provider -- nothing is sent; AC_ETOOBIG for a document over
 * the limit; AC_EUNSUPPORTED for an image that cannot be made to fit.
 */
#define AC_MAX_ATTACHMENTS 32

/** Attach the file at path: an image or a document (see above).  The
 *  prompt shows the model the file's base name.  Thread: as any setter. */
ac_status ac_gen_params_attach_file(ac_gen_params *p, const char *path, ac_error *err);
/** Attach an image from memory (n bytes, copied).  mime_type may be NULL;
 *  when given ("image/png") it must agree with the bytes. */
ac_status ac_gen_params_attach_image(ac_gen_params *p, const void *bytes, size_t n,
                                     const char *mime_type, ac_error *err);
/** Attach an image by URL: http:// or https:// (sent as is, fetched by
 *  the backend), or a data: URL with base64 data (decoded and handled as
 *  ac_gen_params_attach_image).  Copied. */
ac_status ac_gen_params_attach_image_url(ac_gen_params *p, const char *url, ac_error *err);
/** Attach a document from memory (n bytes, copied): a PDF or UTF-8 text,
 *  labelled `name` (a file name such as "notes.md"; its extension refines
 *  the type of text as for files). */
ac_status ac_gen_params_attach_document(ac_gen_params *p, const char *name,
                                        const void *bytes, size_t n, ac_error *err);
/** Number of attachments on p (0 for NULL). */
size_t    ac_gen_params_attachment_count(const ac_gen_params *p);
/** Drop every attachment (a set reused for the next turn).  NULL ok. */
void      ac_gen_params_clear_attachments(ac_gen_params *p);
/** The longest document text this request sends, in bytes, 1 .. 2^30,
 *  overriding the provider's max_document_bytes (default 1 MiB). */
ac_status ac_gen_params_set_max_document_bytes(ac_gen_params *p, long n);

/* ------------------------------------------------------------------ */
/* Streaming events                                                    */
/* ------------------------------------------------------------------ */

typedef enum ac_event_type {
    AC_EVENT_TEXT = 1,         /* text: a content delta */
    AC_EVENT_REASONING,        /* data: a reasoning ("thinking") delta */
    AC_EVENT_TOOL_CALL_START,  /* index, tool_call_id, tool_name */
    AC_EVENT_TOOL_CALL_DELTA,  /* index, data: an arguments fragment */
    AC_EVENT_TOOL_CALL_END,    /* index, id, name, data: full arguments JSON
                                  ("{}" if none); truncated=1 when the call
                                  was cut off and data is not valid JSON */
    AC_EVENT_USAGE,            /* input_tokens, output_tokens (-1 unknown);
                                  exactly once, before FINISH, when known */
    AC_EVENT_FINISH,           /* finish_reason, raw_finish_reason */
    AC_EVENT_ERROR,            /* error: the failure that ends the stream */
    AC_EVENT_RESTART           /* error: why the reply so far is discarded;
                                  the events that follow are a new try
                                  (structured output that did not match its
                                  schema is asked again) */
} ac_event_type;

/**
 * One streaming event.  Produced by the library; valid only during the
 * callback (or until the next ac_stream_next / ac_stream_close).  Fields
 * are only ever appended to this struct.
 *
 * `text`/`len` hold visible reply text and are non-empty only for
 * AC_EVENT_TEXT: for every other type text is "" and len 0, so a loop that
 * writes text of every event prints exactly the reply.
 */
typedef struct ac_chunk {
    ac_event_type type;
    const char   *text;        /* TEXT: the delta (not NUL-terminated-safe:
                                  use len; a NUL follows for convenience) */
    size_t        len;
    const char   *data;        /* REASONING / TOOL_CALL_DELTA / _END payload */
    size_t        data_len;
    int           index;       /* tool call index, 0-based in order seen */
    const char   *tool_call_id;/* TOOL_CALL_START / _END */
    const char   *tool_name;   /* TOOL_CALL_START / _END */
    int           truncated;   /* TOOL_CALL_END: arguments cut off */
    long          input_tokens;  /* USAGE, -1 if unknown */
    long          output_tokens; /* USAGE, -1 if unknown */
    const char   *finish_reason;     /* FINISH: stop, length, tool_calls,
                                        content_filter or error */
    const char   *raw_finish_reason; /* FINISH: the backend's own value */
    const ac_error *error;     /* ERROR, RESTART */
    const char   *json;        /* FINISH with a JSON Schema set: the
                                  validated document; else NULL */
    size_t        json_len;
} ac_chunk;

/** Name of an event type ("text", "tool_call_start", ...).  Static. */
const char *ac_event_type_name(ac_event_type type);

#define AC_CALLBACKS_VERSION 1

/**
 * Callbacks for ac_agenerate.  Copied at the call.  Both members are
 * OPTIONAL.  They run on the engine thread (for an in-process plugin, on
 * the worker thread that runs the model): they must not block, and may
 * call ac_agenerate, ac_request_cancel, ac_request_status/response and
 * ac_request_free.  Blocking calls (ac_generate, ac_request_wait, ...) made
 * from a callback fail with AC_EBUSY instead of deadlocking.
 *
 * on_event: every streaming event in order (text deltas, tool call
 *   fragments, usage, finish, error).  Non-streamed requests still deliver
 *   the same events, all at the end.  The chunk is valid only during the
 *   call.
 * on_done: exactly once per request that ac_agenerate returned: on
 *   success, error, cancel, and core close.  The outcome is final before
 *   it runs: ac_request_status gives the same status, and the response
 *   may be read or taken (ac_request_take_response) inside it.  If
 *   ac_agenerate returned NULL, no callback is ever called.
 *
 * `version` is AC_CALLBACKS_VERSION (0 is read as 1, so designated
 * initializers that omit it work).  `on_chunk` is another name for
 * `on_event`.
 */
typedef struct ac_callbacks {
    unsigned version;
    union {
        void (*on_event)(ac_request *q, const ac_chunk *chunk, void *user);
        void (*on_chunk)(ac_request *q, const ac_chunk *chunk, void *user);
    };
    void (*on_done)(ac_request *q, ac_status status, void *user);
} ac_callbacks;

/* ------------------------------------------------------------------ */
/* Generation                                                          */
/* ------------------------------------------------------------------ */

/**
 * Generate a reply, blocking until it is complete.  Does not stream unless
 * params ask for it (events are then simply accumulated).
 * Returns a response (free with ac_response_free) or NULL with err filled.
 * Thread: any except the engine thread (AC_EBUSY there).
 */
ac_response *ac_generate(ac_llm *llm, const char *prompt,
                         const ac_gen_params *params, ac_error *err);

/**
 * Start a request and return at once.  cb and params may be NULL.
 * Returns a request handle the caller owns (free with ac_request_free), or
 * NULL if the request could not even be started, with err (may be NULL)
 * saying why: AC_EINVAL (NULL llm or prompt, prompt not UTF-8), AC_ENOMEM,
 * AC_ECANCELED (the core was closed -- also by another thread during this
 * call); then no callback fires.  Every other failure, including a request
 * that cannot be built, is reported through on_done and
 * ac_request_status.  The callbacks never run on the calling thread inside
 * this call (they may run on the engine thread before it returns).
 * Thread: any, including callbacks.
 */
ac_request *ac_agenerate(ac_llm *llm, const char *prompt,
                         const ac_gen_params *params,
                         const ac_callbacks *cb, void *user, ac_error *err);

/**
 * Wait until the request is done (on_done has returned), or timeout_ms
 * passes (-1: forever, 0: poll).  Returns AC_OK when it is done (whatever
 * its outcome: see ac_request_status), AC_ETIMEDOUT if the wait timed out,
 * AC_EBUSY where waiting would deadlock (in a callback) or stall the loop
 * (host mode; a poll still works), AC_EINVAL for NULL.  Thread: any.
 */
ac_status ac_request_wait(ac_request *q, int timeout_ms);

/**
 * Wait for all n requests (NULL entries are skipped), like asyncio.gather:
 * AC_OK when every one is done, AC_ETIMEDOUT if timeout_ms (-1: forever)
 * passed first.  Each request's own outcome is in ac_request_status.
 */
ac_status ac_gather(ac_request **reqs, size_t n, int timeout_ms);

/**
 * Cancel a request from any thread, at any time.  The upstream connection
 * is closed (local servers stop generating), on_done fires once with
 * AC_ECANCELED, and text received so far is kept in the response.  A
 * request already done is left as it is.  NULL is a no-op.
 */
void ac_request_cancel(ac_request *q);

/**
 * Flow control for a program that passes events on to something slower
 * than the backend (a proxy writing them to a slow client, a pipe).
 * ac_request_pause: stop reading the reply.  Events already received
 * are still delivered (at most what the backend sent in one read, a few
 * kilobytes), then the transfer pauses: the backend sees TCP
 * backpressure, nothing more is buffered, and the idle timeout does not
 * run while paused (the total timeout still does).  ac_request_resume:
 * read on.  Pausing before the reply begins pauses it at its first
 * byte; pausing twice is pausing once.  An in-process model's run
 * stops at its next event.  Any thread, callbacks included; no-ops on
 * NULL and on a finished request.  (ac_stream_open does this by itself
 * for a reader that falls behind.)
 */
void ac_request_pause(ac_request *q);
void ac_request_resume(ac_request *q);

/**
 * The request's outcome: AC_EPENDING while it runs, AC_OK on success,
 * otherwise its error code, with *err (if not NULL) filled with the full
 * report.  Thread: any.
 */
ac_status ac_request_status(const ac_request *q, ac_error *err);

/** 1 once the request is done (on_done has returned), else 0. */
int ac_request_done(const ac_request *q);

/**
 * The response: complete after success, partial (text so far) after an
 * error or cancel, NULL while the request runs.  Borrowed: valid until
 * ac_request_free (or ac_request_take_response).  Thread: any, from
 * on_done on.
 */
const ac_response *ac_request_response(const ac_request *q);

/**
 * Take ownership of the response out of a finished request (so it
 * outlives the request); free it with ac_response_free.  Works from
 * on_done on.  NULL while the request runs, or once taken: after this
 * ac_request_response returns NULL.
 */
ac_response *ac_request_take_response(ac_request *q);

/** The user pointer given to ac_agenerate. */
void *ac_request_user(const ac_request *q);

/**
 * Release a request.  If it is still running it is cancelled first; its
 * on_done still fires (on the engine thread), and its memory is freed after
 * that.  NULL is a no-op.  Thread: any, including its own callbacks.
 */
void ac_request_free(ac_request *q);

/* ------------------------------------------------------------------ */
/* Pull-style streaming                                                */
/* ------------------------------------------------------------------ */

/**
 * Start a streaming request that the caller reads with ac_stream_next.
 * Returns a stream (close with ac_stream_close) or NULL with err filled.
 * Events are queued by the engine; when the caller reads slower than the
 * server sends, the transfer is paused (flow control), not buffered
 * without bound.
 */
ac_stream *ac_stream_open(ac_llm *llm, const char *prompt,
                          const ac_gen_params *params, ac_error *err);

/**
 * Next event.  AC_OK with *out set: the event is valid until the next call
 * on this stream or ac_stream_close.  AC_EOF: the stream ended normally
 * (after its FINISH event).  AC_EAGAIN: nothing arrived within
 * timeout_ms (-1 forever, 0 poll); the stream goes on, call again.  Any
 * other code: the request failed; an AC_EVENT_ERROR event was delivered
 * first, and ac_request_status(ac_stream_request(s), &err) has the full
 * report.  AC_EBUSY: waiting here would deadlock (in a callback) or stall
 * the loop (host mode); poll with timeout 0 there.  Thread: one reader at
 * a time.
 */
ac_status ac_stream_next(ac_stream *s, const ac_chunk **out, int timeout_ms);

/** The stream's request (to cancel it, or read its response when done).
 *  Borrowed: valid until ac_stream_close. */
ac_request *ac_stream_request(ac_stream *s);

/** Close a stream, cancelling its request if still running.  NULL ok. */
void ac_stream_close(ac_stream *s);

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

/** The reply text, "" if none (never NULL for a non-NULL response). */
const char *ac_response_content(const ac_response *r);
/** Its length in bytes. */
size_t      ac_response_content_len(const ac_response *r);
/** Reasoning text, "" if none. */
const char *ac_response_reasoning(const ac_response *r);
/** Normalized finish reason: "stop", "length", "tool_calls",
 *  "content_filter", "error", or "" if the reply did not finish. */
const char *ac_response_finish_reason(const ac_response *r);
/** The backend's own finish reason ("end_turn", "max_tokens", ...), "". */
const char *ac_response_raw_finish_reason(const ac_response *r);
/** Input (prompt) tokens, -1 if the backend did not say. */
long        ac_response_input_tokens(const ac_response *r);
/** Output (completion) tokens, -1 if the backend did not say. */
long        ac_response_output_tokens(const ac_response *r);
/** The model that answered (as the server named it), or the requested. */
const char *ac_response_model(const ac_response *r);
/** The provider instance name. */
const char *ac_response_provider(const ac_response *r);
/** Wall time from start to done, in milliseconds (all attempts). */
double      ac_response_latency_ms(const ac_response *r);
/** The raw JSON body (non-streamed responses), or NULL. */
const char *ac_response_raw_json(const ac_response *r);
/** Number of tool calls. */
size_t      ac_response_tool_call_count(const ac_response *r);
/** Tool call i: id, name, arguments (JSON object text, "{}" if none).
 *  NULL if i is out of range. */
const char *ac_response_tool_call_id(const ac_response *r, size_t i);
const char *ac_response_tool_call_name(const ac_response *r, size_t i);
const char *ac_response_tool_call_arguments(const ac_response *r, size_t i);
/** 1 if tool call i was cut off (arguments not valid JSON). */
int         ac_response_tool_call_truncated(const ac_response *r, size_t i);
/**
 * The response's tool calls written as text in a model family's own
 * syntax, for an agent that reads calls out of text (the original's
 * `tool_call_tags`): "hermes" (<tool_call>...</tool_call>; also "qwen"),
 * "llama3", "mistral", "gemma", "phi", "function_call", "auto" (as
 * hermes).  Malloc'd (free with ac_free); "" when there are no calls; NULL
 * for an unknown family or no memory.
 */
char       *ac_response_render_tool_calls(const ac_response *r, const char *family);
/** With a JSON Schema set: the validated document as text (NUL-terminated,
 *  borrowed), or NULL (no schema, or the request failed). */
const char *ac_response_json_text(const ac_response *r);
/** The same document as a json-c value, borrowed from the response
 *  (json_object_get it to keep it longer); NULL as above. */
struct json_object *ac_response_json(const ac_response *r);
/** With a JSON Schema set: the errors of the last reply that did not
 *  match, one a line ("/age: -3 is less than the minimum 0"), or NULL when
 *  the last reply matched.  Borrowed. */
const char *ac_response_schema_errors(const ac_response *r);
/** The same errors one by one: how many (at most 20; 0 when the last reply
 *  matched, or was not JSON at all -- ac_response_schema_errors then says
 *  so). */
size_t      ac_response_schema_error_count(const ac_response *r);
/** Error i of those: its one-line message, and (each optional) the JSON
 *  pointer (RFC 6901) of the failing value ("" the root, "/items/3/name"),
 *  the keyword that failed ("required", "minimum", "false" for a false
 *  schema) and the pointer of that keyword in the schema
 *  ("/properties/age/minimum").  NULL when i is out of range.  Borrowed,
 *  valid while the response lives.  Any thread. */
const char *ac_response_schema_error(const ac_response *r, size_t i,
                                     const char **instance_path, const char **keyword,
                                     const char **schema_path);
/** Rounds of structured output: 1, more when a reply that did not match
 *  the schema was asked again (each round may itself have been retried:
 *  ac_response_attempt_count counts every try). */
int         ac_response_rounds(const ac_response *r);
/** Every try made for this response, in order: retries, fallbacks to
 *  other providers, structured-output rounds.  The last is the one that
 *  answered (or failed last).  Borrowed; NULL out of range. */
size_t            ac_response_attempt_count(const ac_response *r);
const ac_attempt *ac_response_attempt(const ac_response *r, size_t i);
/** Things the library noticed but did not fail for, one line each: a tool
 *  call written in the reply text that could not be read (its text is kept
 *  in the content).  Borrowed; count 0 when none. */
size_t      ac_response_warning_count(const ac_response *r);
const char *ac_response_warning(const ac_response *r, size_t i);
/**
 * The response as one JSON object: content, reasoning (if any),
 * tool_calls [{id, name, arguments (object)}], finish_reason,
 * raw_finish_reason, usage {input_tokens, output_tokens}, provider, model,
 * latency_ms.  Malloc'd; free with ac_free.  NULL on out of memory.
 */
char       *ac_response_to_json(const ac_response *r);
/** Free a response.  NULL is a no-op. */
void        ac_response_free(ac_response *r);

/* ------------------------------------------------------------------ */
/* Message lists: a whole history, without a session                   */
/* ------------------------------------------------------------------ */

typedef enum ac_role {
    AC_ROLE_SYSTEM = 0,
    AC_ROLE_USER,
    AC_ROLE_ASSISTANT,
    AC_ROLE_TOOL
} ac_role;

/** Name of a role ("system", "user", "assistant", "tool").  Static. */
const char *ac_role_name(ac_role role);


/**
 * A list of messages the caller builds (the original's `messages=`): sent
 * whole with ac_generate_messages, or added to a session with
 * ac_session_add_messages.  Everything added is copied.  Not thread-safe:
 * one thread builds it; once built it may be sent from many threads at
 * once (sending only reads it).
 */
typedef struct ac_messages ac_messages;

/** A new, empty list (free with ac_messages_free), or NULL on no memory. */
ac_messages *ac_messages_new(void);
void         ac_messages_free(ac_messages *m);
/** Append a message of `role` with `text` (UTF-8; may be "" or NULL for an
 *  assistant message that only calls tools).  AC_EINVAL for a bad role or
 *  text that is not UTF-8. */
ac_status ac_messages_add(ac_messages *m, ac_role role, const char *text);
/** Name the last message's author (OpenAI's `name`).  AC_EINVAL if the
 *  list is empty. */
ac_status ac_messages_set_name(ac_messages *m, const char *name);
/** Append a tool call to the last message, which must be an assistant
 *  message: id (may be ""), name, arguments (a JSON object as text; NULL:
 *  "{}"). */
ac_status ac_messages_add_tool_call(ac_messages *m, const char *id, const char *name,
                                    const char *arguments_json);
/** Append a tool message answering call `tool_call_id` (name may be
 *  NULL); is_error: the tool failed and `content` says how. */
ac_status ac_messages_add_tool_result(ac_messages *m, const char *tool_call_id,
                                      const char *name, const char *content, int is_error);
/**
 * Attach an image to the last message, which must be a user message, as
 * ac_gen_params_attach_image / _url do for a prompt (the same checks, the
 * same errors in err): its bytes (mime_type may be NULL; when given it
 * must agree with them), or a URL -- http(s), sent as it is, or a base64
 * data: URL, read as bytes.  A history may carry images in any user turn;
 * they are fitted to each backend's limits when the list is sent.
 * AC_EINVAL also when the list is empty or its last message is not a
 * user message.  The list is then unchanged.
 */
ac_status ac_messages_attach_image(ac_messages *m, const void *bytes, size_t n,
                                   const char *mime_type, ac_error *err);
ac_status ac_messages_attach_image_url(ac_messages *m, const char *url, ac_error *err);
/** Messages in the list. */
size_t    ac_messages_count(const ac_messages *m);

/*
 * Reading a list: the caller's own, or a copy of a session's history
 * (ac_session_messages) or archive (ac_session_archive).  Strings are
 * borrowed from the list: valid until it is changed or freed.  Out of
 * range (or m NULL), each returns its "none": NULL, 0, or AC_ROLE_USER.
 */
enum {
    AC_MESSAGE_SUMMARY    = 1u << 0, /* a compaction's summary (user role) of
                                        the messages it replaced */
    AC_MESSAGE_TOOL_ERROR = 1u << 1  /* a tool result that reports a failure */
};
ac_role     ac_messages_role(const ac_messages *m, size_t i);
/** The text ("" for an assistant message that only calls tools); a tool
 *  message's result. */
const char *ac_messages_text(const ac_messages *m, size_t i);
/** The author's name (ac_messages_set_name), or a tool message's tool. */
const char *ac_messages_name(const ac_messages *m, size_t i);
/** AC_MESSAGE_* bits. */
unsigned    ac_messages_flags(const ac_messages *m, size_t i);
/** A tool message: the id of the call it answers. */
const char *ac_messages_tool_call_id(const ac_messages *m, size_t i);
/** An assistant message's tool calls, and call j of them (any of id, name,
 *  arguments may be NULL).  AC_EINVAL out of range. */
size_t      ac_messages_tool_call_count(const ac_messages *m, size_t i);
ac_status   ac_messages_tool_call(const ac_messages *m, size_t i, size_t j, const char **id,
                                  const char **name, const char **arguments);
/** A session's reply (or summary): the provider instance and model that
 *  wrote it, NULL when not known (messages the caller added). */
const char *ac_messages_provider(const ac_messages *m, size_t i);
const char *ac_messages_model(const ac_messages *m, size_t i);
/** ... and the usage of the request that wrote it: -1 when not known. */
long        ac_messages_input_tokens(const ac_messages *m, size_t i);
long        ac_messages_output_tokens(const ac_messages *m, size_t i);
/** When the message joined a session's history, in milliseconds since
 *  the Unix epoch; 0 when not known. */
long long   ac_messages_time(const ac_messages *m, size_t i);
/**
 * An estimate of the input tokens the messages take: 4 per message, one
 * per 4 bytes of text, tool-call arguments and results, 85 per image.
 * Real tokenizers give 3 to 5 bytes a token for English and code (fewer
 * for other scripts): good for keeping under a limit with a margin, not
 * for billing.  No network, any thread.
 */
long      ac_messages_estimate_tokens(const ac_messages *m);
/**
 * The input tokens msgs would take on llm (with params' system prompt,
 * tools and schema, which may be NULL): the backend's own count where its
 * plugin offers one (Anthropic's count_tokens; *exact = 1, a request to
 * the server, blocking), else ac_messages_estimate_tokens (*exact = 0, no
 * request).  exact may be NULL.  Errors as ac_generate.
 */
ac_status ac_count_tokens(ac_llm *llm, const ac_messages *msgs, const ac_gen_params *params,
                          long *tokens, int *exact, ac_error *err);

/**
 * Send a whole history: as ac_generate / ac_agenerate, with `msgs` in place
 * of a prompt (a system message in it, if any, comes first; params'
 * system prompt is used only when it has none).  The list is copied at the
 * call; the caller may change or free it at once.
 */
ac_response *ac_generate_messages(ac_llm *llm, const ac_messages *msgs,
                                  const ac_gen_params *params, ac_error *err);
ac_request  *ac_agenerate_messages(ac_llm *llm, const ac_messages *msgs,
                                   const ac_gen_params *params, const ac_callbacks *cb,
                                   void *user, ac_error *err);

/* ------------------------------------------------------------------ */
/* Sessions: conversation history kept in the core                      */
/* ------------------------------------------------------------------ */

/**
 * A new session on llm, with an optional system prompt (copied; NULL for
 * none).  Free with ac_session_free.  NULL on bad arguments / no memory.
 */
ac_session *ac_session_new(ac_llm *llm, const char *system_prompt);

/** Free a session.  Turns still queued or running are cancelled (their
 *  on_done fires).  NULL ok.  Thread: any. */
void ac_session_free(ac_session *s);

/**
 * Switch the LLM used for the next turns (a different provider or model
 * mid-conversation).  The history is kept and sent to the new backend in
 * its own format.  Thread: any.
 */
ac_status ac_session_set_llm(ac_session *s, ac_llm *llm);

/**
 * One turn: send the history plus prompt, wait for the reply.  On success
 * the user message and the reply (with its tool calls) are appended to the
 * history; on failure the history is left as it was.  prompt may be NULL
 * to continue after tool results (ac_session_add_tool_result).
 * Returns a response (free with ac_response_free) or NULL with err.
 */
ac_response *ac_session_generate(ac_session *s, const char *prompt,
                                 const ac_gen_params *params, ac_error *err);

/**
 * The async turn.  Turns on one session run one at a time in call order,
 * even when issued concurrently from many threads: each sees the history
 * of all turns issued before it that succeeded.  Callbacks, ownership and
 * errors as ac_agenerate.  (One exception: if the core is closed during
 * this call while other turns of the session wait behind this one, those
 * turns end here, with AC_ECANCELED, and their on_done runs on this
 * thread.)
 */
ac_request *ac_session_agenerate(ac_session *s, const char *prompt,
                                 const ac_gen_params *params,
                                 const ac_callbacks *cb, void *user,
                                 ac_error *err);

/** Append every message of msgs to the history, as they are (any role,
 *  tool calls and results included; a system message sets the session's
 *  system prompt instead).  All or nothing.  Thread: any. */
ac_status ac_session_add_messages(ac_session *s, const ac_messages *msgs);

/** Append a tool result (for a tool call the model made) to the history.
 *  name may be NULL (looked up from the call).  Copied. */
ac_status ac_session_add_tool_result(ac_session *s, const char *tool_call_id,
                                     const char *name, const char *content);

/** Number of messages in the history (the system prompt not counted). */
size_t      ac_session_message_count(ac_session *s);
/** Role and content of message i (content "" for a pure tool-call turn).
 *  The returned string is a copy: free with ac_free.  NULL if out of
 *  range. */
ac_role     ac_session_message_role(ac_session *s, size_t i);
char       *ac_session_message_content(ac_session *s, size_t i);
/** The system prompt, or NULL (a copy: free with ac_free). */
char       *ac_session_system_prompt(ac_session *s);
/** Drop all history (keeps the system prompt).  Waits for no turn: turns
 *  in flight append to the cleared history. */
void        ac_session_clear(ac_session *s);

/**
 * Save the session -- its id and times, system prompt, history (messages,
 * tool calls and results, attachments, each reply's provider, model and
 * usage) and archive -- as JSON to path (format: docs/sessions.md),
 * atomically (written to a temporary file, then renamed).  Attachments
 * are inline: images as data: URLs, documents as their text.  Contains no
 * API key.  AC_EIO with the file name on failure.  Thread: any.
 */
ac_status ac_session_save(ac_session *s, const char *path, ac_error *err);

/** ac_session_save_ex flags. */
#define AC_SAVE_ATTACHMENTS_BY_REFERENCE (1u << 0)

/**
 * ac_session_save with flags.  AC_SAVE_ATTACHMENTS_BY_REFERENCE keeps
 * each image given by its bytes and each document as a file beside the
 * session file, in the directory PATH.files/ (created), named by the
 * SHA-256 of its content, and the session file names it with its digest:
 * a small session file, and an attachment sent in many turns or saved many
 * times is stored once.  Move or copy the directory with the file.
 * ac_session_load reads such files back, checking every digest.  Files
 * no longer referenced are not deleted.  AC_EINVAL for an unknown flag;
 * AC_EIO naming the attachment that could not be written (the session
 * file is then left as it was).
 */
ac_status ac_session_save_ex(ac_session *s, const char *path, unsigned flags, ac_error *err);

/**
 * Load a session saved by ac_session_save, bound to llm.  Returns a new
 * session (free with ac_session_free) or NULL with err: AC_EIO (the file,
 * or an attachment it refers to, cannot be read), AC_EJSON / AC_EPROTOCOL
 * (not a saved session, or one that would load changed: naming the file
 * and the JSON path; an attachment whose bytes do not match its digest).
 */
ac_session *ac_session_load(ac_llm *llm, const char *path, ac_error *err);

/**
 * A copy of the history (the system prompt not included), to read with
 * the ac_messages_* accessors: each message's role, text, tool calls and
 * results, and for replies the provider, model and usage and the time it
 * was added.  Free with ac_messages_free.  NULL for NULL s or no memory.
 * Thread: any.
 */
ac_messages *ac_session_messages(ac_session *s);
/** A copy of the messages compactions replaced, oldest first (empty when
 *  none was): what the summary at the start of the history stands for. */
ac_messages *ac_session_archive(ac_session *s);
/** The session's id, a UUID (random at ac_session_new, kept by saving
 *  and loading).  Borrowed: valid while s is. */
const char *ac_session_id(ac_session *s);
/** When the session was created and when its history last changed, in
 *  milliseconds since the Unix epoch (kept by saving and loading). */
long long   ac_session_created(ac_session *s);
long long   ac_session_updated(ac_session *s);

/* ------------------------------------------------------------------ */
/* Compaction: older turns summarised into one message                  */
/* ------------------------------------------------------------------ */

/*
 * A long conversation is compacted by asking a model (the session's, or
 * another: a small fast one does well) to summarise its older turns.  The
 * summary becomes one user message flagged AC_MESSAGE_SUMMARY at the
 * start of the history; the newest keep_turns turns stay verbatim; the
 * messages replaced move to the archive (ac_session_archive), and saved
 * files keep both.  A turn is a user message and everything up to the
 * next one, so a tool call is never parted from its result.  The system
 * prompt is never summarised.  A later compaction summarises the earlier
 * summary with the turns after it.
 *
 * On demand: ac_session_compact / ac_session_acompact.  Automatically:
 * ac_session_set_compaction, with a threshold -- before a turn whose
 * input (history, system prompt and prompt, by the estimate of
 * ac_messages_estimate_tokens) is over it, the session compacts, then
 * sends the turn.  A compaction that fails leaves the history as it was;
 * the turn is sent anyway, and its response carries a warning
 * (ac_response_warning) saying why.
 *
 * Compactions run in the session's order with its turns: one queued
 * behind a running turn waits for it, and turns issued meanwhile wait for
 * the compaction.  The summary's request is an ordinary request on the
 * summarising llm (hooks and traces see it, its retries and timeouts
 * apply); cancelling a turn that waits for its compaction cancels the
 * summary's request too.
 */
#define AC_COMPACT_OPTS_VERSION 1
#define AC_COMPACT_KEEP_NONE    (-1)  /* keep_turns: summarise every turn */

typedef struct ac_compact_opts {
    unsigned    version;            /* AC_COMPACT_OPTS_VERSION (0 is read as 1) */
    int         keep_turns;         /* newest turns kept verbatim; 0: 2;
                                       AC_COMPACT_KEEP_NONE: none */
    ac_llm     *llm;                /* writes the summary; NULL: the session's
                                       llm at the time (a reference is kept
                                       while the options are in use) */
    const char *instructions;       /* the summariser's system prompt (copied);
                                       NULL: the default (docs/api.md) */
    long        max_summary_tokens; /* the summary's max_tokens; 0: 1024 */
    long        threshold_tokens;   /* ac_session_set_compaction only: compact
                                       before a turn estimated at more input
                                       tokens than this (> 0) */
} ac_compact_opts;

/** A compaction ended: status AC_OK (replaced: messages replaced by the
 *  summary, 0 when there was nothing to compact) or its error (err,
 *  borrowed for the call; AC_ECANCELED if the session was freed or the
 *  history cleared meanwhile). */
typedef void (*ac_compact_done_fn)(ac_session *s, ac_status status, size_t replaced,
                                   const ac_error *err, void *user);

/**
 * Compact now (opts may be NULL: the defaults).  Returns AC_OK when the
 * compaction is queued; `done` (may be NULL) then runs exactly once: in
 * the engine context when the summary's request ends, or on this thread
 * before ac_session_acompact returns when the session was idle and there
 * was nothing to compact.  AC_EINVAL (NULL s, bad opts) or AC_ENOMEM
 * otherwise, and done does not run.  Thread: any.
 */
ac_status ac_session_acompact(ac_session *s, const ac_compact_opts *opts,
                              ac_compact_done_fn done, void *user, ac_error *err);
/** The blocking form: waits for turns queued before it, then for the
 *  summary; *replaced (may be NULL) as for done.  AC_EBUSY from the engine
 *  context or in host mode. */
ac_status ac_session_compact(ac_session *s, const ac_compact_opts *opts, size_t *replaced,
                             ac_error *err);
/** Compact automatically before turns past opts->threshold_tokens (see
 *  above); opts NULL turns it off.  Copied.  Thread: any. */
ac_status ac_session_set_compaction(ac_session *s, const ac_compact_opts *opts,
                                    ac_error *err);

/* ------------------------------------------------------------------ */
/* Running tools: a session loop that calls the application's C functions */
/* ------------------------------------------------------------------ */

/*
 * The application registers C functions as tools, each with a name and a
 * JSON Schema for its arguments, in a toolbox.  ac_session_arun_tools
 * then runs the loop a tool-using agent needs: send the prompt, and while
 * the reply asks for tool calls, validate each call's arguments against
 * its tool's schema, run the calls (those of one reply concurrently),
 * append the results to the session and ask again -- until the model
 * answers without calls (the run succeeds with that reply) or max_rounds
 * turns were sent (it fails).  A round is one model turn plus the calls
 * its reply asks for.
 *
 * What the model gets back as a call's result (marked is_error where the
 * backend has such a flag, as Anthropic does):
 *   - the tool's *result on AC_OK;
 *   - on any other status, the tool's *result if it set one, else
 *     "tool \"NAME\" failed: <ac_strerror(status)>";
 *   - for a name no tool has: "no tool named \"NAME\"";
 *   - for arguments that are not a JSON object, or were cut off: a line
 *     saying so; for arguments that fail the schema: the validator's
 *     errors, one a line, each with the JSON pointer of the failing value
 *     and the schema keyword ("/a: expected number, got string
 *     \"one\" [keyword type]"); the tool is not called.
 * Every call of a reply gets a result, in the order of the calls, so the
 * history stays valid for every backend: a call not run (the round limit
 * was reached, the run was cancelled) gets "not run: ..." as an error.
 */
typedef struct ac_toolbox ac_toolbox;
typedef struct ac_toolrun ac_toolrun;

/**
 * A tool.  `arguments` is the call's JSON object text, already validated
 * against the tool's schema.  Set *result to a malloc'd NUL-terminated
 * UTF-8 text (the library frees it with free(); NULL is read as "") and
 * return AC_OK; or return any other status for a failed tool (then
 * *result, if set, is the error text the model sees).  Text that is not
 * UTF-8 is replaced by an error result.  Runs on a thread of the
 * library's pool or of the application's runner, never on the engine
 * thread; several calls (of one run or of several) may run at once, so a
 * tool touching shared state locks it.  It may block (a file, a
 * database, a network request).  `user` is the pointer given to
 * ac_toolbox_add.
 */
typedef ac_status (*ac_tool_fn)(const char *arguments, char **result, void *user);

/** A new empty toolbox (free with ac_toolbox_free), NULL on no memory. */
ac_toolbox *ac_toolbox_new(void);

/**
 * Release the toolbox.  Runs still using it keep it alive until they are
 * freed.  Its thread pool (ac_toolrun_opts.run) is stopped and joined
 * when the last holder lets go: here when no run holds it (idle pool
 * threads exit at once).  When the last holder lets go on one of the
 * pool's own threads (a run freed in its on_done), that thread is
 * detached instead of joined and exits when its job returns.  NULL is a
 * no-op.  Thread: any.
 */
void ac_toolbox_free(ac_toolbox *tb);

/**
 * Register a tool.  name: 1..64 characters of [A-Za-z0-9_-] (what OpenAI
 * and Anthropic accept), unique in the toolbox.  description may be
 * NULL.  parameters_schema_json: the tool's arguments as a JSON Schema
 * (draft 7) object, or NULL for any object.  Everything is copied.  The
 * schema is compiled here, once: a schema that is not a JSON object, or
 * that the validator refuses (an unknown or later-draft keyword, a bad
 * value, a bad regex, a $ref that cannot be resolved), fails with
 * AC_EINVAL, AC_EJSON or AC_EUNSUPPORTED and err naming the tool and the
 * compiler's message with its schema pointer.  Also AC_EINVAL for a NULL
 * toolbox or fn, a bad or taken name, or more than 128 tools; AC_ENOMEM.
 * Thread: any, also while runs use the toolbox (a run offers the tools
 * the toolbox had when it started, but runs any tool it has when the
 * model calls it).
 */
ac_status ac_toolbox_add(ac_toolbox *tb, const char *name, const char *description,
                         const char *parameters_schema_json, ac_tool_fn fn, void *user,
                         ac_error *err);

/** Number of tools registered. */
size_t ac_toolbox_count(const ac_toolbox *tb);

/**
 * Offer every tool of the toolbox in p (ac_gen_params_add_tool for each,
 * in registration order), for an application that runs its own loop.
 * ac_session_arun_tools does this itself.  All or nothing: AC_EINVAL (NULL,
 * or p would hold more than 128 tools), AC_ENOMEM, and p is unchanged.
 */
ac_status ac_toolbox_offer(const ac_toolbox *tb, ac_gen_params *p);

#define AC_TOOLRUN_OPTS_VERSION 1
#define AC_TOOLRUN_MAX_PARALLEL 64

/**
 * How a run goes.  Zero-initialised means the defaults; fields are only
 * ever appended.  Every hook below gets `user` (this struct's) as its
 * last argument.  Copied at the call.
 *
 * Callbacks of one run never run at the same time as each other, so they
 * need no lock among themselves; they may run on the engine thread (in
 * host mode: inside ac_core_run_once), on a pool or runner thread, or --
 * on_round(1) only -- on the calling thread inside ac_session_arun_tools.
 * They must not block; they may call ac_toolrun_cancel, ac_toolrun_rounds
 * and ac_toolrun_status.
 */
typedef struct ac_toolrun_opts {
    unsigned version;      /* AC_TOOLRUN_OPTS_VERSION (0 is read as 1) */
    int max_rounds;        /* model turns at most; 0: 8.  A reply that
                              still asks for calls in the last one fails
                              the run (AC_ELIMIT) */
    int max_parallel;      /* calls of one reply run at once, at most,
                              1..AC_TOOLRUN_MAX_PARALLEL; 0: 4 */
    /*
     * Where tool calls run.  NULL: on the toolbox's own pool, threads the
     * library starts on first use (as many as calls run at once, at most
     * AC_TOOLRUN_MAX_PARALLEL, kept idle between rounds) and joins in
     * ac_toolbox_free.  Otherwise the application runs them on its
     * threads: `run` must arrange for job(arg) to be called exactly once,
     * on some other thread, and return without waiting for it (it is
     * called from the engine context, where nothing may block).  A job
     * runs one or more calls, then may start the next turn.
     */
    void (*run)(void (*job)(void *arg), void *arg, void *user);
    /* Every streaming event of every round's turn, in order, as
     * ac_callbacks.on_event gives them (turns stream when this is set). */
    void (*on_event)(ac_toolrun *run, const ac_chunk *chunk, void *user);
    /* Round `round` (1-based) is about to be sent. */
    void (*on_round)(ac_toolrun *run, int round, void *user);
    /* A call starts (also a call refused before its tool runs: unknown
     * name, bad arguments).  id is the call's id in the history. */
    void (*on_tool_start)(ac_toolrun *run, const char *name, const char *id,
                          const char *arguments, void *user);
    /* A call ended: result is what the model will see (borrowed for the
     * callback), is_error 1 for a failure.  Calls not run (a cancel, the
     * round limit) are reported by neither callback. */
    void (*on_tool_done)(ac_toolrun *run, const char *name, const char *id,
                         const char *result, int is_error, void *user);
    void *user;
} ac_toolrun_opts;

/**
 * Start the loop on session s with prompt (NULL: continue the history as
 * it is) and params (may be NULL; copied, with the toolbox's tools added
 * to those it offers already), and return at once.  The run keeps s and
 * tb alive until it is freed.  Each turn is an ac_session_agenerate: the
 * history gets each reply and the tool results; a turn that fails ends
 * the run with its error (and leaves the history as that turn found it).
 * Do not start other turns on s while the run goes.
 *
 * Returns a run the caller owns (free with ac_toolrun_free), or NULL with
 * err: AC_EINVAL (NULL s or tb, bad opts, prompt not UTF-8), AC_ENOMEM,
 * AC_ECANCELED (the core was closed); then no callback but on_round(1)
 * has run.  Otherwise on_done(run, status, user) runs exactly once when
 * the run ends (user is this call's `user`): AC_OK, the turn's error,
 * AC_ECANCELED (ac_toolrun_cancel, ac_core_close), AC_ELIMIT (the model
 * still called tools in round max_rounds; the calls were not run), or
 * AC_ENOMEM.  on_done may be NULL; it runs under the same rules as the
 * other callbacks and may free the run.  Works in host mode: tools run
 * on the pool or runner, never inside ac_core_run_once; the thread that
 * finishes a round's last call starts the next turn.  Thread: any,
 * except inside a tool of this run.
 */
ac_toolrun *ac_session_arun_tools(ac_session *s, const char *prompt, const ac_gen_params *params,
                                  const ac_toolbox *tb, const ac_toolrun_opts *opts,
                                  void (*on_done)(ac_toolrun *run, ac_status status, void *user),
                                  void *user, ac_error *err);

/**
 * Wait until the run has ended (its on_done has returned) or timeout_ms
 * passes (-1: forever, 0: poll).  AC_OK when it has ended (whatever its
 * outcome), AC_ETIMEDOUT, AC_EINVAL for NULL, AC_EBUSY where waiting
 * would deadlock or stall (a callback or a tool of this run, the engine
 * context, host mode; a poll still works).
 */
ac_status ac_toolrun_wait(ac_toolrun *run, int timeout_ms);

/**
 * Stop the run, from any thread (callbacks and tools included): the turn
 * in flight is cancelled; calls already running finish and their results
 * are kept, calls not started are not run; no further turn starts.  The
 * run then ends with AC_ECANCELED (unless it had already ended).  NULL ok.
 */
void ac_toolrun_cancel(ac_toolrun *run);

/** AC_EPENDING while the run goes; then its outcome, with *err (may be
 *  NULL) filled for a failure. */
ac_status ac_toolrun_status(const ac_toolrun *run, ac_error *err);

/**
 * The last reply once the run has ended, NULL before: the final answer
 * on success, the reply that still asked for calls after AC_ETOOBIG, the
 * partial reply of a turn that failed.  Borrowed from the run.
 */
const ac_response *ac_toolrun_response(const ac_toolrun *run);

/** Turns sent so far (the current round number). */
int ac_toolrun_rounds(const ac_toolrun *run);

/** Release the run; a run still going is cancelled first, its on_done
 *  still fires, and its memory goes after that.  NULL ok.  Thread: any,
 *  including the run's callbacks. */
void ac_toolrun_free(ac_toolrun *run);

/**
 * The blocking loop: ac_session_arun_tools, wait, and return the final
 * response (free with ac_response_free), or NULL with err (the run's
 * error; use the asynchronous call to read the last reply of a failed
 * run).  AC_EBUSY from the engine context or in host mode, like
 * ac_session_generate.
 */
ac_response *ac_session_run_tools(ac_session *s, const char *prompt, const ac_gen_params *params,
                                  const ac_toolbox *tb, const ac_toolrun_opts *opts,
                                  ac_error *err);

/* ------------------------------------------------------------------ */
/* Models                                                              */
/* ------------------------------------------------------------------ */

/** List the models the provider serves (blocking).  Returns a list (free
 *  with ac_models_free) or NULL with err (AC_EUNSUPPORTED if the plugin
 *  cannot list).  AC_EBUSY in a callback and in host mode: use
 *  ac_alist_models there. */
ac_models  *ac_list_models(ac_llm *llm, ac_error *err);
/**
 * The asynchronous listing, for callbacks and host mode: returns at once
 * with a request (free with ac_request_free), or NULL with err (AC_EINVAL,
 * AC_ENOMEM, AC_ECANCELED); cb may be NULL, and only its on_done is ever
 * called.  Its outcome is ac_request_status's (AC_EUNSUPPORTED if the
 * plugin cannot list); ac_request_response is NULL for it.  Thread: any.
 */
ac_request *ac_alist_models(ac_llm *llm, const ac_callbacks *cb, void *user, ac_error *err);
/** The list of a listing that succeeded (free with ac_models_free), from
 *  its on_done on; NULL while it runs, after a failure, for another kind
 *  of request, or once taken. */
ac_models  *ac_request_take_models(ac_request *q);
size_t      ac_models_count(const ac_models *m);
/** Model id i, NULL out of range.  Borrowed from the list. */
const char *ac_models_id(const ac_models *m, size_t i);
void        ac_models_free(ac_models *m);

/* ------------------------------------------------------------------ */
/* Embeddings                                                          */
/* ------------------------------------------------------------------ */

/*
 * A batch of texts in, one vector per text out, in the order given.  The
 * provider's plugin speaks its backend's embeddings API (OpenAI's
 * /v1/embeddings, Ollama's /api/embed, Hugging Face's feature extraction
 * and TEI's /embed, ...); a plugin without one fails with AC_EUNSUPPORTED
 * naming the provider.
 *
 * The texts are cut into batches of at most the backend's limit (the
 * plugin's, or the provider's `embed_max_batch`), and up to
 * `embed_parallel` (default 4) batches are in flight at once, each an
 * HTTP request of its own with the provider's timeouts, retries, rate
 * limits and circuit breaker (never a fallback to another provider:
 * vectors of two models do not compare).  The first batch that fails
 * fails the call with its error (naming the texts it held) and cancels
 * the others.
 * Hooks and traces see the call as one request and each batch as one
 * more.
 */

#define AC_EMBED_PARAMS_VERSION 1

/** How to embed.  Zero-initialised means the defaults; members are only
 *  ever appended.  Copied at the call. */
typedef struct ac_embed_params {
    unsigned    version;     /* AC_EMBED_PARAMS_VERSION (0 is read as 1) */
    /* Values per vector, 1 .. 65536; 0: the model's own.  Only some
     * models can shorten their vectors (OpenAI's text-embedding-3, some
     * Ollama models); a plugin whose API cannot ask fails with
     * AC_EUNSUPPORTED, and vectors of another size fail with
     * AC_EPROTOCOL. */
    size_t      dimensions;
    /* The model; NULL: the provider's `embed_model` setting, else the
     * llm's model. */
    const char *model;
} ac_embed_params;

/**
 * Embed n texts (blocking).  texts: n NUL-terminated UTF-8 strings, none
 * empty; copied.  p may be NULL.  Returns the vectors (free with
 * ac_embeddings_free) or NULL with err: AC_EINVAL (NULL llm or texts, n 0,
 * a NULL, empty or non-UTF-8 text, naming its index, a bad p),
 * AC_EUNSUPPORTED, AC_ENOMEM, AC_ECANCELED (the core was closed), AC_EBUSY
 * (a callback or host mode, as ac_generate), or a batch's error.
 * Thread: any except the engine context.
 */
ac_embeddings *ac_embed(ac_llm *llm, const char *const *texts, size_t n,
                        const ac_embed_params *p, ac_error *err);

/**
 * The asynchronous ac_embed: returns a request the caller owns (free with
 * ac_request_free), or NULL with err for the argument errors above,
 * AC_ENOMEM and AC_ECANCELED; then no callback fires.  Every other
 * failure (AC_EUNSUPPORTED included) comes through on_done and
 * ac_request_status, as for ac_agenerate.  cb->on_event is never called
 * (vectors do not stream); on_done runs once, in the engine context.
 * The vectors: ac_request_embeddings.  ac_request_cancel cancels every
 * batch in flight.  Works in host mode.  Thread: any, callbacks included.
 */
ac_request *ac_aembed(ac_llm *llm, const char *const *texts, size_t n,
                      const ac_embed_params *p, const ac_callbacks *cb, void *user,
                      ac_error *err);

/** The vectors of a request made by ac_aembed that succeeded, from on_done
 *  on; NULL before, after a failure, for another kind of request, or once
 *  taken.  Borrowed: valid until ac_request_free. */
const ac_embeddings *ac_request_embeddings(const ac_request *q);
/** Take them (so they outlive the request); free with ac_embeddings_free.
 *  NULL as above. */
ac_embeddings *ac_request_take_embeddings(ac_request *q);

/** Number of vectors: the number of texts. */
size_t       ac_embeddings_count(const ac_embeddings *e);
/** Values per vector (the same for all). */
size_t       ac_embeddings_dimension(const ac_embeddings *e);
/** Vector i (dimension floats, as the server sent them: unit length or
 *  not, as the backend chose), NULL out of range.  Borrowed. */
const float *ac_embeddings_vector(const ac_embeddings *e, size_t i);
/** The model that answered (as the server named it), or the requested.
 *  Borrowed. */
const char  *ac_embeddings_model(const ac_embeddings *e);
/** The provider instance name.  Borrowed. */
const char  *ac_embeddings_provider(const ac_embeddings *e);
/** Input tokens of all batches, -1 if a batch did not say. */
long         ac_embeddings_input_tokens(const ac_embeddings *e);
/** Requests it took (batches). */
size_t       ac_embeddings_batches(const ac_embeddings *e);
/** Free the vectors.  NULL is a no-op. */
void         ac_embeddings_free(ac_embeddings *e);

#ifdef __cplusplus
}
#endif
#endif /* ABSTRACTCORE_H */
