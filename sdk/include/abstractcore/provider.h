/*
 * provider.h -- the ABI that provider plugins are written against.
 *
 * A plugin is a shared object that exports one symbol:
 *
 *     const ac_provider *ac_provider_entry(const ac_host_api *host);
 *
 * The plugin keeps `host` (it stays valid until the plugin is unloaded) and
 * returns a pointer to its static descriptor.  The core copies
 * `struct_size` bytes of it into a zeroed descriptor of its own, so members
 * a plugin built against an older minor version does not know are NULL,
 * meaning "unsupported".
 *
 * A plugin owns only its backend's wire format.  It never opens a socket,
 * starts a thread or sleeps: the core does transport, framing (SSE or NDJSON
 * into events), timeouts, retries, history and memory limits.  Every
 * function below is a pure function of its inputs and the plugin's state,
 * and may be called from any thread, concurrently: state must be read-only
 * after init.
 *
 * Rules (GStreamer's and OBS's): abi_major must equal the host's; abi_minor
 * may not exceed the host's.  The host table and the descriptor only grow at
 * their end (SQLite's rule); probe newer host entries with AC_HOST_HAS.
 *
 * Plugins may link json-c (the host hands out json_object values from its
 * parser); they must not link libcurl or libconfig, and must not call
 * libabstractcore's functions directly (a plugin is loaded with
 * RTLD_LOCAL into programs that may not link the library by name): the
 * host table is their only way into the core.
 */
#ifndef ABSTRACTCORE_PROVIDER_H
#define ABSTRACTCORE_PROVIDER_H

#include <stddef.h>
#include <stdarg.h>
#include <abstractcore/abstractcore.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AC_ABI_MAJOR 1
#define AC_ABI_MINOR 0

/* Opaque host objects handed to plugins. */
typedef struct ac_settings     ac_settings;     /* a provider's settings */
typedef struct ac_http_request ac_http_request; /* request being built */
typedef struct ac_sink         ac_sink;         /* where parsed events go */
typedef struct ac_model_list   ac_model_list;   /* models being listed */
struct json_object;

/* ------------------------------------------------------------------ */
/* The generic request a plugin turns into HTTP                         */
/* ------------------------------------------------------------------ */

typedef struct ac_tool_call {
    const char *id;         /* may be "" for backends without ids */
    const char *name;
    const char *arguments;  /* a JSON object as text, never NULL ("{}") */
} ac_tool_call;

typedef struct ac_message {
    ac_role             role;
    const char         *content;       /* UTF-8, may be NULL */
    const ac_tool_call *tool_calls;    /* ASSISTANT: calls it made */
    size_t              n_tool_calls;
    const char         *tool_call_id;  /* TOOL: the call answered */
    const char         *name;          /* TOOL: the tool's name */
    const char *const  *images;        /* USER: image URLs or data: URLs */
    size_t              n_images;
} ac_message;

typedef struct ac_tool_def {
    const char *name;
    const char *description;      /* may be NULL */
    const char *parameters_json;  /* JSON Schema object as text */
} ac_tool_def;

typedef struct ac_gen_request {
    size_t             struct_size;   /* sizeof(ac_gen_request) of the host */
    const char        *model;         /* never NULL; may be "" */
    const ac_message  *messages;      /* system prompt, if any, comes first
                                         with role AC_ROLE_SYSTEM */
    size_t             n_messages;
    int                stream;        /* 1: build a streaming request */
    int                has_max_tokens;  long        max_tokens;
    int                has_temperature; double      temperature;
    int                has_top_p;       double      top_p;
    int                has_seed;        long long   seed;
    const char *const *stop;          size_t      n_stop;
    const ac_tool_def *tools;         size_t      n_tools;
    const char        *tool_choice;   /* NULL, "auto", "none", "required",
                                         or a tool name */
    const char        *json_schema;   /* NULL or a JSON Schema object text */
    const char        *json_schema_name; /* never NULL when json_schema is */
} ac_gen_request;

/* ------------------------------------------------------------------ */
/* What the core hands a plugin for each framed event                   */
/* ------------------------------------------------------------------ */

typedef enum ac_framing {
    AC_FRAMING_NONE = 0,  /* one body, parsed by parse_response */
    AC_FRAMING_SSE,       /* text/event-stream, WHATWG rules */
    AC_FRAMING_NDJSON     /* one JSON value per line */
} ac_framing;

typedef struct ac_frame {
    const char *event;    /* SSE "event:" name, NULL if none (and NDJSON);
                             an old llama.cpp "error:" line comes as "error" */
    const char *data;     /* SSE data lines joined by "\n", or the NDJSON
                             line; NUL-terminated, complete UTF-8 */
    size_t      data_len;
    const char *id;       /* SSE "id:", NULL if none */
} ac_frame;

/* ------------------------------------------------------------------ */
/* The host API: what the core offers a plugin                          */
/* ------------------------------------------------------------------ */

enum { AC_LOG_ERROR = 0, AC_LOG_WARN, AC_LOG_INFO, AC_LOG_DEBUG };

typedef struct ac_host_api {
    size_t   struct_size;   /* sizeof the host's table; grows at the end */
    unsigned abi_major;
    unsigned abi_minor;

    /* Logging (never pass a secret).  `provider` may be NULL. */
    void  (*log)(int level, const char *provider, const char *fmt, ...);

    /* Memory: the core's allocator, which tests can make fail. */
    void *(*malloc)(size_t n);
    void *(*realloc)(void *p, size_t n);
    void  (*free)(void *p);
    char *(*strdup)(const char *s);

    /* Settings of this provider instance (its config block plus
     * ac_options overrides).  Each returns 1 and sets *out when the key is
     * present with the right type, 0 when absent, -1 when present with
     * another type (and logs which key, file and line).  Strings are
     * borrowed: valid while the settings are (during init). */
    int    (*setting_string)(const ac_settings *s, const char *key, const char **out);
    int    (*setting_int)(const ac_settings *s, const char *key, long long *out);
    int    (*setting_bool)(const ac_settings *s, const char *key, int *out);
    int    (*setting_double)(const ac_settings *s, const char *key, double *out);
    /* A list of strings: the count, or -1 if not a list of strings. */
    int    (*setting_list_count)(const ac_settings *s, const char *key);
    const char *(*setting_list_item)(const ac_settings *s, const char *key, int i);
    /* The instance name ("openai", "openai-staging"). */
    const char *(*settings_name)(const ac_settings *s);

    /* The API key: the `api_key` setting, else the file named by
     * `api_key_file`, else the variable named by `api_key_env` (default:
     * default_env, may be NULL).  Returns a malloc'd copy (free with
     * host->free) or NULL when none is set; when a configured api_key_env
     * or api_key_file names nothing usable, returns NULL and fills err
     * (AC_ECONFIG) naming the variable or file, never the key. */
    char  *(*secret)(const ac_settings *s, const char *default_env, ac_error *err);

    /* Parse JSON strictly (UTF-8 validated).  Returns a new reference (free
     * with json_object_put) or NULL with err filled (AC_EJSON, naming
     * `what`, e.g. "stream event"). */
    struct json_object *(*json_parse)(const char *text, size_t len,
                                      const char *what, ac_error *err);

    /* Fill an error: message formatted printf-style. */
    void  (*error_set)(ac_error *err, ac_status code, ac_stage stage,
                       const char *fmt, ...);

    /* Building the HTTP request.  Everything is copied.  Return AC_OK or
     * AC_ENOMEM / AC_EINVAL. */
    ac_status (*http_set)(ac_http_request *rq, const char *method,
                          const char *url, ac_framing framing);
    ac_status (*http_header)(ac_http_request *rq, const char *name,
                             const char *value);
    ac_status (*http_body)(ac_http_request *rq, const char *body, size_t len);

    /* Emitting parsed output into a sink.  Each returns AC_OK, or an error
     * (out of memory, response too big) the plugin should return as is.
     *
     * tool_call: `key` is the backend's own identification of the call
     * (OpenAI `index`, Anthropic content-block index, position for whole
     * calls); the core joins fragments by key and numbers calls in the
     * order first seen.  id and name may be NULL after the first fragment
     * (a repeated id is not a new call).  args may be NULL/0.  When
     * args_complete is 1, args is the whole arguments JSON (object or text
     * of one). */
    ac_status (*emit_text)(ac_sink *k, const char *s, size_t n);
    ac_status (*emit_reasoning)(ac_sink *k, const char *s, size_t n);
    ac_status (*emit_tool_call)(ac_sink *k, int key, const char *id,
                                const char *name, const char *args, size_t n,
                                int args_complete);
    ac_status (*emit_tool_call_end)(ac_sink *k, int key);
    /* Usage: -1 for a count not reported here.  The last report of each
     * count wins; reports are never summed. */
    ac_status (*emit_usage)(ac_sink *k, long input_tokens, long output_tokens);
    /* finish: normalized (stop, length, tool_calls, content_filter, error)
     * and the backend's own value (may be NULL). */
    ac_status (*emit_finish)(ac_sink *k, const char *normalized, const char *raw);
    ac_status (*emit_model)(ac_sink *k, const char *model);

    /* Model listing. */
    ac_status (*models_add)(ac_model_list *l, const char *id);

    /* The request's stream state slot, for plugins that must remember
     * something across events of one response (NULL at the start).  The
     * core frees it with the plugin's stream_free when the response ends. */
    void **(*stream_slot)(ac_sink *k);

    /* The type of a setting, without logging anything: for settings that
     * accept more than one type (a duration as "5m" or as seconds).
     * Returns one of AC_SETTING_*; an ac_options override is a string.
     * Probe with AC_HOST_HAS(host, setting_type). */
    int    (*setting_type)(const ac_settings *s, const char *key);
} ac_host_api;

enum {
    AC_SETTING_ABSENT = 0,
    AC_SETTING_STRING,
    AC_SETTING_INT,
    AC_SETTING_FLOAT,
    AC_SETTING_BOOL,
    AC_SETTING_LIST,
    AC_SETTING_GROUP
};

/** True if the host table has member `fn` and it is set. */
#define AC_HOST_HAS(host, fn)                                              \
    ((host) != NULL &&                                                     \
     offsetof(ac_host_api, fn) + sizeof((host)->fn) <= (host)->struct_size && \
     (host)->fn != NULL)

/* ------------------------------------------------------------------ */
/* The provider descriptor                                              */
/* ------------------------------------------------------------------ */

enum {
    AC_CAP_STREAMING  = 1u << 0,
    AC_CAP_TOOLS      = 1u << 1,
    AC_CAP_MODELS     = 1u << 2,
    AC_CAP_EMBEDDINGS = 1u << 3,
    AC_CAP_STRUCTURED = 1u << 4,
    AC_CAP_LOCAL      = 1u << 5   /* in-process backend (run_local) */
};

typedef struct ac_provider {
    size_t      struct_size;   /* REQUIRED: sizeof(ac_provider) at build */
    unsigned    abi_major;     /* REQUIRED: AC_ABI_MAJOR */
    unsigned    abi_minor;     /* REQUIRED: AC_ABI_MINOR */
    const char *name;          /* REQUIRED: plugin name, e.g. "openai" */
    const char *version;       /* REQUIRED: plugin version string */
    unsigned    capabilities;  /* AC_CAP_* */
    const char *default_base_url; /* OPTIONAL: used when none is set */
    const char *default_model;    /* OPTIONAL */

    /* REQUIRED.  Read settings, make the state (NULL is a valid state).
     * On failure fill err (AC_ECONFIG / AC_EPLUGIN), return its code. */
    ac_status (*init)(const ac_settings *settings, void **state, ac_error *err);
    /* OPTIONAL.  Free the state. */
    void      (*fini)(void *state);

    /* REQUIRED for HTTP backends.  Turn a request into HTTP. */
    ac_status (*build_request)(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_error *err);
    /* REQUIRED for HTTP backends.  A complete 2xx body: emit its content. */
    ac_status (*parse_response)(void *state, int http_status,
                                const char *body, size_t len, ac_sink *sink,
                                ac_error *err);
    /* REQUIRED if streaming.  One framed event in, zero or more emits out.
     * Return an error (filled in err) to end the stream with it, e.g. an
     * error event inside a 200 stream. */
    ac_status (*parse_event)(void *state, const ac_frame *ev, ac_sink *sink,
                             ac_error *err);
    /* OPTIONAL.  A non-2xx body.  The core has already filled err with
     * code AC_EHTTP, stage, http_status, retryable and retry_after_ms from
     * the status and headers; the plugin refines message and retryable
     * (e.g. insufficient_quota is not retryable). */
    void      (*parse_error)(void *state, int http_status, const char *body,
                             size_t len, ac_error *err);
    /* OPTIONAL.  Listing models. */
    ac_status (*build_models_request)(void *state, ac_http_request *out,
                                      ac_error *err);
    ac_status (*parse_models)(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_error *err);
    /* OPTIONAL.  In-process backends only (set AC_CAP_LOCAL and leave
     * build_request NULL): run to completion on one of the core's worker
     * threads (engine.workers of them), emitting into sink as tokens come;
     * poll *cancel (the core sets it atomically from another thread: read
     * it with __atomic_load_n(cancel, __ATOMIC_RELAXED)) and return
     * AC_ECANCELED soon after it becomes non-zero.
     * The caller's callbacks run on that worker thread. */
    ac_status (*run_local)(void *state, const ac_gen_request *req,
                           ac_sink *sink, const volatile int *cancel,
                           ac_error *err);
    /* OPTIONAL.  Frees what the plugin stored in *stream_slot. */
    void      (*stream_free)(void *state, void *stream_state);
} ac_provider;

/** The one symbol a plugin exports: it keeps `host` (valid until the
 *  plugin is unloaded) and returns its static descriptor. */
const ac_provider *ac_provider_entry(const ac_host_api *host);
typedef const ac_provider *(*ac_provider_entry_fn)(const ac_host_api *host);
#define AC_PROVIDER_ENTRY_SYMBOL "ac_provider_entry"

#ifdef __cplusplus
}
#endif
#endif /* ABSTRACTCORE_PROVIDER_H */
