/*
 * provider.h -- the ABI that provider plugins are written against (ABI 2.1).
 *
 * A plugin is a shared object that exports one symbol:
 *
 *     const ac_provider *ac_provider_entry(const ac_host_api *host);
 *
 * THE ENTRY POINT RULE.  ac_provider_entry stores `host` (valid until the
 * plugin is unloaded) and returns the address of its static descriptor.
 * It does nothing else: no allocation, no I/O, no threads, no checks of
 * the host table.  The core checks compatibility itself: it refuses a
 * plugin of another ABI major or of a newer minor than its own, and the
 * host table it hands over always has every member of the plugin's ABI
 * minor (so a plugin never needs AC_HOST_HAS for members of the version it
 * was built against).  Return NULL only if the plugin cannot run in this
 * process at all (say why first with host->log, the one call an entry
 * may make); the core then refuses it, naming the file.  Everything that
 * depends on configuration belongs in `init`.
 *
 * WHAT A PLUGIN IS.  A plugin owns only its backend's wire format.  It
 * never opens a socket, starts a thread or sleeps: the core does transport,
 * framing (SSE or NDJSON into events), timeouts, retries, cancellation,
 * history and memory limits.  It builds an HTTP request from a generic one,
 * and turns the backend's bytes into generic events.  (An in-process
 * backend implements run_local instead: see there.)
 *
 * THREADS.  After `init`, a plugin's state is read-only: every function
 * below except init and fini may be called from any thread, concurrently
 * with any other, for different requests.  Calls for one response
 * (parse_event, in order, then stream_free) come from one thread at a time.
 * init and fini are never concurrent with anything on the same state.
 *
 * ERRORS.  Every call into the plugin gets an `ac_call *` (last argument):
 * the core's record of that one call.  A function that fails reports why
 * with host->fail(call, code, stage, fmt, ...) and returns the code it
 * gives (host->fail returns it).  The core owns the report: it names the
 * provider instance, and removes every configured secret (API keys, the
 * key file's contents, the key variable's value) from every message and
 * log line a plugin produces, whatever the plugin does.  A function that
 * returns a failure without calling host->fail gets a generic message.
 *
 * LIFETIMES.  Everything the core hands a plugin (requests, messages,
 * parts, frames, bodies, settings strings) is borrowed for the duration of
 * the call, unless its comment says longer.  Everything the plugin hands
 * the core (headers, bodies, emitted text) is copied before the host call
 * returns.  Memory the plugin keeps comes from host->malloc and friends,
 * which tests make fail on purpose: check every allocation.
 *
 * GROWTH.  This ABI grows for years without a major bump:
 *   - ac_host_api and ac_provider only grow at their end (SQLite's rule);
 *   - every structure the core hands a plugin starts with struct_size and
 *     only grows at its end, and none is ever an array the plugin indexes:
 *     messages, parts and tools are reached through host->message,
 *     host->message_part and host->tool, so their size is not compiled
 *     into a plugin;
 *   - the descriptor is copied by its struct_size into a zeroed one, so
 *     members a plugin built against an older minor does not know are NULL,
 *     meaning "not supported".
 * Versioning (GStreamer's and OBS's rules): abi_major must equal the
 * core's; abi_minor may not exceed the core's.
 *
 * LINKING.  Plugins may link json-c (host->json_parse hands out json-c
 * values) and the SDK library (pkg-config abstractcore-provider).  They
 * must not link libcurl, libconfig or libabstractcore itself: a plugin is
 * loaded with RTLD_LOCAL into programs that may not link the library by
 * name, so the host table is its only way into the core.  Link plugins
 * with -Wl,--no-undefined so a stray call fails at link time.
 */
#ifndef ABSTRACTCORE_PROVIDER_H
#define ABSTRACTCORE_PROVIDER_H

#include <stddef.h>
#include <stdarg.h>
#include <abstractcore/abstractcore.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AC_ABI_MAJOR 2
#define AC_ABI_MINOR 1

/* Opaque core objects handed to plugins. */
typedef struct ac_settings     ac_settings;     /* a provider instance's settings */
typedef struct ac_http_request ac_http_request; /* the HTTP request being built */
typedef struct ac_sink         ac_sink;         /* where parsed output goes */
typedef struct ac_model_list   ac_model_list;   /* models being listed */
typedef struct ac_call         ac_call;         /* one call into the plugin */
typedef struct ac_embed_sink   ac_embed_sink;   /* where vectors go (ABI 2.1) */
struct json_object;

/* ------------------------------------------------------------------ */
/* The generic request a plugin turns into HTTP                         */
/* ------------------------------------------------------------------ */

/** What a content part is.  New types are added at the end; a plugin
 *  that meets a type it does not know fails the request with
 *  AC_EUNSUPPORTED rather than dropping it. */
typedef enum ac_part_type {
    AC_PART_TEXT = 1,    /* text */
    AC_PART_IMAGE,       /* an image: base64 bytes or a URL */
    AC_PART_FILE,        /* a document, as text labelled with its file name */
    AC_PART_TOOL_CALL,   /* ASSISTANT: a call the model made */
    AC_PART_TOOL_RESULT  /* TOOL: the result of one call */
} ac_part_type;

/**
 * One part of a message.  Members not used by a type are NULL / 0.
 * Strings are NUL-terminated UTF-8.  Borrowed for the call.
 */
typedef struct ac_part {
    size_t       struct_size;  /* the core's sizeof(ac_part) */
    ac_part_type type;
    /* TEXT: the text.  FILE: the document's text.  TOOL_RESULT: the
     * result.  text_len is its length in bytes. */
    const char  *text;
    size_t       text_len;
    /* IMAGE, FILE: the media type ("image/png", "application/pdf"). */
    const char  *mime_type;
    /* IMAGE: the bytes, base64-encoded (no "data:" prefix), and their
     * decoded length; NULL when the image is given by URL. */
    const char  *data_base64;
    size_t       data_len;
    /* IMAGE: an http(s) URL, when the caller gave one (NULL otherwise). */
    const char  *url;
    /* FILE: the file name.  TOOL_CALL, TOOL_RESULT: the tool's name (for a
     * result, may be NULL when unknown). */
    const char  *name;
    /* TOOL_CALL: the call's id ("" for backends without ids).
     * TOOL_RESULT: the id of the call it answers. */
    const char  *id;
    /* TOOL_CALL: the arguments, a JSON object as text ("{}" if none). */
    const char  *arguments;
    /* TOOL_RESULT: 1 if the tool failed (the text says how). */
    int          is_error;
} ac_part;

/** One message.  Its parts are read with host->message_part(m, i). */
typedef struct ac_message {
    size_t      struct_size;  /* the core's sizeof(ac_message) */
    ac_role     role;
    size_t      n_parts;
    /* Every TEXT part joined, for backends that take one string per
     * message ("" when there is none); text_len bytes. */
    const char *text;
    size_t      text_len;
    /* An optional participant name (NULL if none). */
    const char *name;
} ac_message;

/** A tool (function) the model may call.  Read with host->tool(req, i). */
typedef struct ac_tool_def {
    size_t      struct_size;
    const char *name;
    const char *description;      /* may be NULL */
    const char *parameters_json;  /* a JSON Schema object as text */
} ac_tool_def;

/** The request to turn into HTTP (or to run, for run_local). */
typedef struct ac_gen_request {
    size_t             struct_size;   /* the core's sizeof(ac_gen_request) */
    const char        *model;         /* never NULL; may be "" */
    size_t             n_messages;    /* host->message(req, i); a system
                                         prompt, if any, comes first */
    int                stream;        /* 1: build a streaming request */
    int                has_max_tokens;  long        max_tokens;
    int                has_temperature; double      temperature;
    int                has_top_p;       double      top_p;
    int                has_seed;        long long   seed;
    const char *const *stop;          size_t      n_stop;
    size_t             n_tools;       /* host->tool(req, i) */
    const char        *tool_choice;   /* NULL, "auto", "none", "required",
                                         or a tool name */
    const char        *json_schema;   /* NULL or a JSON Schema object text */
    const char        *json_schema_name; /* never NULL when json_schema is */
} ac_gen_request;

/* ABI 2.1.  The largest vector the core takes (values per text). */
#define AC_EMBED_MAX_DIM 65536

/**
 * A batch of texts to embed (ABI 2.1), for build_embed_request and
 * run_embed.  Borrowed for the call.  The texts are read with
 * host->embed_text(req, i, &len), never as an array, so this struct may
 * grow.  A batch holds at most what the plugin's embed_max_batch allows,
 * and at least one text; no text is empty, and every text is UTF-8.
 */
typedef struct ac_embed_request {
    size_t      struct_size;   /* the core's sizeof(ac_embed_request) */
    const char *model;         /* never NULL; may be "" */
    size_t      n_texts;       /* >= 1: host->embed_text(req, 0 .. n_texts - 1) */
    /* 0: the model's own size.  Otherwise ask for vectors of this many
     * values (1 .. AC_EMBED_MAX_DIM); a backend with no way to ask fails
     * the request with AC_EUNSUPPORTED, naming `dimensions`.  The core
     * checks that the vectors that come back have this size. */
    size_t      dimensions;
} ac_embed_request;

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

/* Log levels (AC_LOG_ERROR ... AC_LOG_DEBUG): ac_log_level in abstractcore.h. */

enum {
    AC_SETTING_ABSENT = 0,
    AC_SETTING_STRING,
    AC_SETTING_INT,
    AC_SETTING_FLOAT,
    AC_SETTING_BOOL,
    AC_SETTING_LIST,
    AC_SETTING_GROUP
};

typedef struct ac_host_api {
    size_t   struct_size;   /* sizeof the core's table; grows at the end */
    unsigned abi_major;
    unsigned abi_minor;

    /* ---- Reporting (any thread) ---- */

    /* Fail the call: fills the core's report (code, stage, message
     * formatted printf-style: one line, never a secret -- the core removes
     * configured secrets anyway) and returns `code`, so a plugin writes
     * `return host->fail(call, AC_EJSON, AC_STAGE_JSON, "...");`.  Inside
     * parse_error it refines the core's HTTP error: the message, and the
     * code if it is not AC_OK. */
    ac_status (*fail)(ac_call *call, ac_status code, ac_stage stage, const char *fmt, ...);
    /* After host->fail: whether the same request may succeed later (in
     * parse_error the core has set it from the status and the server's
     * headers), and the HTTP status the failure stands for (an error
     * event inside a 200 stream that names one, e.g. {"code": 503}). */
    void      (*set_retryable)(ac_call *call, int retryable);
    void      (*set_http_status)(ac_call *call, int http_status);
    /* 1 once the request this call serves was cancelled or timed out:
     * run_local checks it between tokens and returns AC_ECANCELED. */
    int       (*cancelled)(ac_call *call);
    /* A line for the operator, tagged with the provider instance.  The
     * call's secrets are removed from it; call may be NULL (in fini, or in
     * an entry point that is about to return NULL), and then no secret is
     * known yet to remove: log none there. */
    void      (*log)(ac_call *call, int level, const char *fmt, ...);

    /* ---- Memory: the core's allocator, which tests make fail ---- */
    void *(*malloc)(size_t n);
    void *(*realloc)(void *p, size_t n);
    void  (*free)(void *p);
    char *(*strdup)(const char *s);

    /* ---- Settings of the instance (init only; strings valid while the
     * settings are, i.e. during init: copy what you keep) ----
     * Each returns 1 and sets *out when the key is present with the right
     * type, 0 when absent, -1 when present with another type (the core has
     * then logged an error naming key, file and line; fail init with
     * AC_ECONFIG).  The core's own keys (ac_core_provider_setting) reach
     * init already checked against their type and range; keys that are
     * neither the core's nor in the descriptor's `settings` never reach
     * a plugin that declares them (ABI 2.1).
     * "base_url" and "default_model" fall back to the descriptor's
     * defaults. */
    int    (*setting_string)(const ac_settings *s, const char *key, const char **out);
    int    (*setting_int)(const ac_settings *s, const char *key, long long *out);
    int    (*setting_bool)(const ac_settings *s, const char *key, int *out);
    int    (*setting_double)(const ac_settings *s, const char *key, double *out);
    /* A list of strings: its length, or -1 if not a list of strings; then
     * item i (NULL out of range). */
    int    (*setting_list_count)(const ac_settings *s, const char *key);
    const char *(*setting_list_item)(const ac_settings *s, const char *key, int i);
    /* The type of a setting (AC_SETTING_*), without reporting anything:
     * for settings that accept more than one type. */
    int    (*setting_type)(const ac_settings *s, const char *key);
    /* The instance name ("openai", "openai-staging"). */
    const char *(*settings_name)(const ac_settings *s);
    /* The API key: the `api_key` setting, else the first line of the file
     * named by `api_key_file`, else the variable named by `api_key_env`,
     * else the variable default_env (may be NULL).  AC_OK with *key a
     * malloc'd copy (wipe and host->free it in fini), or NULL when none is
     * set.  Otherwise the call is failed and *key is NULL: AC_ECONFIG when
     * a configured api_key_env or api_key_file names nothing usable
     * (naming the variable or file, never the key), AC_ENOMEM. */
    ac_status (*secret)(const ac_settings *s, const char *default_env, char **key,
                        ac_call *call);

    /* ---- JSON ---- */
    /* Parse strictly (UTF-8 validated, nothing after the value).  A new
     * reference (json_object_put it), or NULL with the call failed
     * (AC_EJSON, naming `what`, e.g. "stream event"; a text that is just
     * `null` fails too, as json-c has no value for it). */
    struct json_object *(*json_parse)(ac_call *call, const char *text, size_t len,
                                      const char *what);

    /* ---- The generic request (borrowed for the call) ---- */
    const ac_message  *(*message)(const ac_gen_request *req, size_t i);  /* NULL out of range */
    const ac_part     *(*message_part)(const ac_message *m, size_t i);   /* NULL out of range */
    const ac_tool_def *(*tool)(const ac_gen_request *req, size_t i);     /* NULL out of range */

    /* ---- Building the HTTP request (copied) ----
     * AC_OK, or AC_EINVAL (a header name with ":" or a line break, a URL
     * that is not http(s)) / AC_ENOMEM, with the call failed. */
    ac_status (*http_set)(ac_http_request *rq, const char *method, const char *url,
                          ac_framing framing, ac_call *call);
    ac_status (*http_header)(ac_http_request *rq, const char *name, const char *value,
                             ac_call *call);
    ac_status (*http_body)(ac_http_request *rq, const char *body, size_t len, ac_call *call);

    /* ---- Emitting parsed output into a sink (copied) ----
     * Each returns AC_OK, or an error (no memory, the response over its
     * size cap, AC_ECANCELED in run_local once cancelled) that the plugin
     * returns as is (the call is failed already).
     *
     * tool_call: `key` is the backend's own identification of the call
     * (OpenAI `index`, Anthropic content-block index, position for whole
     * calls); the core joins fragments by key and numbers calls in the
     * order first seen.  id and name may be NULL after the first fragment
     * (a repeated id is not a new call).  args may be NULL / 0.  When
     * args_complete is 1, args is the whole arguments JSON.
     * usage: -1 for a count not reported here; the last report of each
     * count wins, reports are never summed.
     * finish: normalized (stop, length, tool_calls, content_filter, error)
     * and the backend's own value (may be NULL). */
    ac_status (*emit_text)(ac_sink *k, const char *s, size_t n);
    ac_status (*emit_reasoning)(ac_sink *k, const char *s, size_t n);
    ac_status (*emit_tool_call)(ac_sink *k, int key, const char *id, const char *name,
                                const char *args, size_t n, int args_complete);
    ac_status (*emit_tool_call_end)(ac_sink *k, int key);
    ac_status (*emit_usage)(ac_sink *k, long input_tokens, long output_tokens);
    ac_status (*emit_finish)(ac_sink *k, const char *normalized, const char *raw);
    ac_status (*emit_model)(ac_sink *k, const char *model);
    /* The response's state slot, for plugins that must remember something
     * across the events of one response (NULL at its start).  The core
     * frees it with the plugin's stream_free when the response ends. */
    void    **(*stream_slot)(ac_sink *k);

    /* ---- Model listing ---- */
    ac_status (*models_add)(ac_model_list *l, const char *id);

    /* ---- ABI 2.1: embeddings (any thread; the sink is used by one
     * thread at a time, the one running the plugin's call) ----
     *
     * embed_text: text i of the batch (NUL-terminated UTF-8, never empty;
     * *len, when len is not NULL, gets its length in bytes), or NULL out
     * of range.  Borrowed for the call.
     *
     * embed_vector: the vector of text `index` (0-based in the batch):
     * dim values, copied.  Give each index once, in any order (by the
     * index the response states, where it states one: OpenAI's `index`).
     * Every vector of a batch has the same dim, 1 .. AC_EMBED_MAX_DIM,
     * and only finite values.
     * embed_usage: the batch's input tokens (-1 unknown); the last report
     * wins.
     * embed_model: the model that answered, as the server names it.
     *
     * Each returns AC_OK, or an error that the plugin returns as is, with
     * the call already failed (naming what was wrong): AC_EPROTOCOL (an
     * index out of range or given twice, a dim that differs from the
     * batch's first or is out of range, a value that is not finite),
     * AC_ETOOBIG (the batch's vectors past max_response_bytes), AC_ENOMEM,
     * AC_ECANCELED (run_embed, once the request is cancelled).  A vector
     * not given by the end of the call fails the batch in the core. */
    const char *(*embed_text)(const ac_embed_request *req, size_t i, size_t *len);
    ac_status   (*embed_vector)(ac_embed_sink *out, size_t index, const float *v, size_t dim);
    ac_status   (*embed_usage)(ac_embed_sink *out, long input_tokens);
    ac_status   (*embed_model)(ac_embed_sink *out, const char *model);

    /* ---- ABI 2.1: ordering (any thread) ----
     * call_order: a number that orders run_local calls by when the
     * application made their requests (increasing, unique in the
     * process); 0 for a call with no such request.  The core's worker
     * threads may reach run_local in another order than the requests
     * were made: an in-process plugin that queues its runs serves them in
     * this one.  Plugins built against an earlier 2.1 header check
     * AC_HOST_HAS(host, call_order). */
    unsigned long long (*call_order)(const ac_call *call);
} ac_host_api;

/** True if the host table has member `fn` and it is set: only needed for
 *  members of a newer minor than the plugin was built against. */
#define AC_HOST_HAS(host, fn)                                              \
    ((host) != NULL &&                                                     \
     offsetof(ac_host_api, fn) + sizeof((host)->fn) <= (host)->struct_size && \
     (host)->fn != NULL)

/* ------------------------------------------------------------------ */
/* The provider descriptor                                              */
/* ------------------------------------------------------------------ */

/** What build_request understands beyond plain text messages.  The rest
 *  of what a plugin can do is implied by which members it sets. */
enum {
    AC_FEATURE_TOOLS       = 1u << 0,  /* tools, tool_choice, tool parts */
    AC_FEATURE_JSON_SCHEMA = 1u << 1,  /* json_schema: a native structured mode */
    AC_FEATURE_IMAGES      = 1u << 2,  /* IMAGE parts */
    AC_FEATURE_FILES       = 1u << 3   /* FILE parts natively (else the core turns
                                          each into a TEXT part "[file: NAME]\n<text>") */
};

/** Image formats a backend decodes (ac_media_limits.image_formats). */
enum {
    AC_IMAGE_PNG  = 1u << 0,
    AC_IMAGE_JPEG = 1u << 1,
    AC_IMAGE_GIF  = 1u << 2,   /* a still GIF: animations are sent as their first frame */
    AC_IMAGE_WEBP = 1u << 3
};

/**
 * What a backend's images must fit (ABI 2.1), from its documentation.  The
 * core resizes (keeping the aspect ratio) and re-encodes every image before
 * build_request sees it, so the IMAGE parts a plugin gets already fit; an
 * image that fits is passed through byte for byte.  The provider settings
 * image_formats, image_max_edge, image_max_short_edge, image_max_pixels
 * and image_max_bytes override each value (docs/configuration.md).  0 in
 * a limit means none.  Static, read-only; grows only at its end.
 */
typedef struct ac_media_limits {
    size_t   struct_size;          /* sizeof(ac_media_limits) at build */
    unsigned image_formats;        /* AC_IMAGE_*; 0: PNG and JPEG */
    long     image_max_edge;       /* pixels of the longer side */
    long     image_max_short_edge; /* pixels of the shorter side */
    long     image_max_pixels;     /* width x height */
    long     image_max_bytes;      /* the image as sent: its base64 text */
} ac_media_limits;

/**
 * A plugin's static descriptor.  REQUIRED members must be set; OPTIONAL
 * ones may be NULL.  The core copies struct_size bytes into a zeroed
 * descriptor of its own size.
 *
 * Which members a plugin sets says what it does:
 *   - HTTP backend: build_request and parse_response; streaming if
 *     parse_event is set too;
 *   - in-process backend: run_local (then build_request stays NULL);
 *   - model listing: build_models_request and parse_models (HTTP), or
 *     list_models (in-process, ABI 2.1);
 *   - embeddings (ABI 2.1): build_embed_request and parse_embed_response
 *     (HTTP), or run_embed (in-process).  A plugin may embed and not chat
 *     (then it sets no chat member; chat on it fails with AC_EUNSUPPORTED).
 */
typedef struct ac_provider {
    size_t      struct_size;   /* REQUIRED: sizeof(ac_provider) at build */
    unsigned    abi_major;     /* REQUIRED: AC_ABI_MAJOR */
    unsigned    abi_minor;     /* REQUIRED: AC_ABI_MINOR */
    const char *name;          /* REQUIRED: plugin name, e.g. "openai" (< 64 bytes) */
    const char *version;       /* REQUIRED: plugin version string */
    const char *description;   /* OPTIONAL: one line, shown by `acore plugins` */
    unsigned    features;      /* AC_FEATURE_* */
    /* OPTIONAL: host->setting_string(s, "base_url") returns this when the
     * instance sets none; likewise default_model. */
    const char *default_base_url;
    const char *default_model;

    /* REQUIRED.  Read the instance's settings and make the state (NULL is
     * a valid state).  On failure call host->fail (AC_ECONFIG for a wrong
     * setting, naming it) and return its code; *state is then ignored. */
    ac_status (*init)(const ac_settings *settings, void **state, ac_call *call);
    /* OPTIONAL.  Free the state (wipe keys first).  Called once, when the
     * last request of the instance is gone. */
    void      (*fini)(void *state);

    /* HTTP backends.  Turn a request into HTTP: host->http_set, then
     * headers and body.  A part type or feature the backend cannot take
     * fails with AC_EUNSUPPORTED, naming it. */
    ac_status (*build_request)(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_call *call);
    /* A complete 2xx body: emit its content, then (optionally) finish;
     * the core ends open tool calls and finishes with "stop" or
     * "tool_calls" when the plugin did not say. */
    ac_status (*parse_response)(void *state, int http_status, const char *body,
                                size_t len, ac_sink *sink, ac_call *call);
    /* OPTIONAL (streaming).  One framed event in, zero or more emits out.
     * A stream must emit a finish before it ends, or the core reports it
     * truncated.  Fail to end the stream with an error (an error event
     * inside a 200 stream: AC_EPROTOCOL, with the server's message). */
    ac_status (*parse_event)(void *state, const ac_frame *ev, ac_sink *sink,
                             ac_call *call);
    /* OPTIONAL.  A non-2xx body.  The core has already made the report:
     * AC_EHTTP, the status, retryable from the status and the server's
     * x-should-retry, the server's Retry-After.  The plugin refines the
     * message with host->fail (e.g. "HTTP 429: Rate limit reached
     * (rate_limit_error)") and, where the body says better,
     * host->set_retryable (insufficient_quota is not worth retrying). */
    void      (*parse_error)(void *state, int http_status, const char *body,
                             size_t len, ac_call *call);
    /* OPTIONAL.  Listing models. */
    ac_status (*build_models_request)(void *state, ac_http_request *out, ac_call *call);
    ac_status (*parse_models)(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_call *call);
    /* In-process backends only.  Run to completion on one of the core's
     * worker threads (engine.workers of them), emitting into sink as tokens
     * come.  An emit may block while the caller is behind (flow control);
     * it returns AC_ECANCELED once the request is cancelled or timed out,
     * and host->cancelled(call) says so too: return AC_ECANCELED soon
     * after.  The caller's callbacks do not run on this thread. */
    ac_status (*run_local)(void *state, const ac_gen_request *req, ac_sink *sink,
                           ac_call *call);
    /* OPTIONAL.  Free what the plugin stored in the stream slot. */
    void      (*stream_free)(void *state, void *stream_state);

    /* ---- ABI 2.1 ---- */

    /* OPTIONAL: NULL-terminated names of the settings the plugin reads
     * beyond the core's (docs/plugin-authors.md).  With it, a setting of a
     * provider group that is neither the core's nor in this list is a
     * configuration error naming file, line and the nearest known name;
     * an empty list ({ NULL }) says the plugin reads none.  NULL (and
     * every plugin built for ABI 2.0) means "not declared": unknown
     * settings then only get a warning in the plugin report.  Names are
     * identifiers (a-z, 0-9, '_', starting with a letter, < 64 bytes) and
     * never one of the core's (ac_core_provider_setting). */
    const char *const *settings;

    /* ---- ABI 2.1: embeddings (all OPTIONAL) ----
     * A plugin that sets none of these cannot embed: ac_embed fails with
     * AC_EUNSUPPORTED naming the provider.  The core cuts a call's texts
     * into batches of at most embed_max_batch texts and sends several at
     * once (the provider's embed_parallel), each batch a request of its
     * own with the provider's timeouts, retries, rate limits and circuit
     * breaker; it puts the vectors back in the caller's order. */

    /* HTTP backends (both or neither).  Turn a batch into HTTP:
     * host->http_set (AC_FRAMING_NONE: embeddings never stream), headers,
     * body.  What the backend cannot do fails with AC_EUNSUPPORTED,
     * naming it (`dimensions` where it cannot be asked for). */
    ac_status (*build_embed_request)(void *state, const ac_embed_request *req,
                                     ac_http_request *out, ac_call *call);
    /* A complete 2xx body of such a request: host->embed_vector for each
     * text, embed_usage and embed_model where the body says them.  A
     * non-2xx body goes to parse_error, as for chat. */
    ac_status (*parse_embed_response)(void *state, const char *body, size_t len,
                                      ac_embed_sink *out, ac_call *call);
    /* In-process backends.  Compute the batch's vectors on one of the
     * core's worker threads (as run_local), giving each with
     * host->embed_vector; check host->cancelled(call) between texts and
     * return AC_ECANCELED soon after it says 1.  The vectors reach the
     * caller when the call returns (there is nothing to stream), so
     * first_byte_timeout_ms bounds the whole batch. */
    ac_status (*run_embed)(void *state, const ac_embed_request *req, ac_embed_sink *out,
                           ac_call *call);
    /* OPTIONAL.  The most texts one request of this instance may carry:
     * the backend's documented limit, or what keeps a reply within the
     * default max_response_bytes.  0 (or NULL): no limit of its own (the
     * core then sends at most 256 a request).  The provider's
     * `embed_max_batch` setting overrides it.  Any thread, after init. */
    size_t    (*embed_max_batch)(void *state);

    /* ---- ABI 2.1: counting input tokens ---- */
    /* OPTIONAL (together).  The backend's own count of the input tokens a
     * request would take (Anthropic's /v1/messages/count_tokens): build
     * the HTTP request for req as build_request would (its messages,
     * system prompt and tools; req->stream is 0), then read the count
     * from the 2xx body into *tokens.  Without them, ac_count_tokens
     * falls back to the core's estimate. */
    ac_status (*build_count_request)(void *state, const ac_gen_request *req,
                                     ac_http_request *out, ac_call *call);
    ac_status (*parse_count_response)(void *state, const char *body, size_t len, long *tokens,
                                      ac_call *call);

    /* ---- ABI 2.1: images ---- */
    /* OPTIONAL: the limits images must fit for this backend (see
     * ac_media_limits), for a plugin with AC_FEATURE_IMAGES.  NULL: the
     * core's defaults (PNG and JPEG, 2048 pixels on the long edge, 5 MiB
     * of base64). */
    const ac_media_limits *media;
    /* OPTIONAL (ABI 2.1), for in-process backends, whose models are not
     * listed over HTTP: add the id of every model the instance offers
     * with host->models_add, in the order to show them.  Called by
     * ac_list_models on the caller's thread, concurrently with anything
     * but init and fini.  Fail with host->fail (AC_EIO for a folder that
     * cannot be read, AC_ENOMEM).  An HTTP backend leaves it NULL and sets
     * build_models_request and parse_models instead; when both are set,
     * this one is used. */
    ac_status (*list_models)(void *state, ac_model_list *out, ac_call *call);
} ac_provider;

/** Marks the entry point exported even when a plugin is built with
 *  -fvisibility=hidden (which keeps everything else it links private). */
#if defined(__GNUC__) || defined(__clang__)
#define AC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define AC_PLUGIN_EXPORT
#endif

/** The one symbol a plugin exports (see the entry point rule above). */
AC_PLUGIN_EXPORT const ac_provider *ac_provider_entry(const ac_host_api *host);
typedef const ac_provider *(*ac_provider_entry_fn)(const ac_host_api *host);
#define AC_PROVIDER_ENTRY_SYMBOL "ac_provider_entry"

#ifdef __cplusplus
}
#endif
#endif /* ABSTRACTCORE_PROVIDER_H */
