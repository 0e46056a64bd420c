/*
 * ollama.h -- internals shared by the files of the Ollama plugin
 * (Ollama's native API, docs/protocols.md section 3).
 *
 * ollama.c holds the descriptor, the entry point, settings and the small
 * helpers the other files share; request.c turns an ac_gen_request (its
 * messages made of content parts) into a POST /api/chat body (and builds
 * the /api/tags request); parse.c turns replies -- whole bodies, NDJSON
 * lines, error bodies, the model list -- into sink emits and reports on
 * the call; embed.c builds /api/embed requests and reads their replies.  Only ac_provider_entry is exported from the .so; everything
 * here is internal and prefixed ollama_.
 */
#ifndef AC_PLUGIN_OLLAMA_H
#define AC_PLUGIN_OLLAMA_H
#include <stddef.h>
#include <abstractcore/provider.h>
#include <abstractcore/sdk.h>
#include <json-c/json.h>

#define OLLAMA_DEFAULT_BASE_URL "http://localhost:11434"
/* The Python AbstractCore's default Ollama model. */
#define OLLAMA_DEFAULT_MODEL    "qwen3:4b-instruct-2507-q4_K_M"
/* Optional: only ollama.com cloud models need a key. */
#define OLLAMA_KEY_ENV          "OLLAMA_API_KEY"
/* Longest server text quoted in an error message. */
#define OLLAMA_EXCERPT_MAX      200
/* A reply announcing more calls than this is not a real model reply; the
 * cap keeps the int call keys far from overflow. */
#define OLLAMA_MAX_TOOL_CALLS   100000

/* The one exported symbol (provider.h declares only its pointer type). */
const ac_provider *ac_provider_entry(const ac_host_api *host);

/* The host table handed to ac_provider_entry; valid until unload. */
extern const ac_host_api *ollama_host;

/* Per-instance settings, fixed at init and read-only afterwards. */
typedef struct ollama_state {
    char *chat_url;       /* {base}/api/chat */
    char *tags_url;       /* {base}/api/tags */
    char *embed_url;      /* {base}/api/embed */
    char *auth;           /* "Bearer <key>", or NULL when no key is set */
    char *default_model;  /* the instance's default_model, or NULL */
    char *keep_alive;     /* a duration such as "5m", or NULL */
    int   keep_alive_num; /* keep_alive is keep_alive_secs instead */
    long long keep_alive_secs;
    int   has_num_ctx;
    long long num_ctx;
    int   think_set;      /* 0: not sent; 1: think_bool; 2: think_level */
    int   think_bool;
    char *think_level;    /* "low", "medium", "high", "max" */
} ollama_state;

/* Per-response state, kept in the host's stream slot. */
typedef struct ollama_stream {
    int n_calls;     /* whole tool calls seen: the next call's key */
    int model_sent;  /* emit_model already called */
    int done;        /* the "done": true object was seen */
} ollama_stream;

/* ---- helpers (ollama.c; any thread) ---- */

/* Add val to an object / array, taking ownership of val: 0 ok, -1 (val
 * freed) on failure, including a NULL val from a failed constructor. */
int ollama_add(json_object *obj, const char *key, json_object *val);
int ollama_append(json_object *arr, json_object *val);
/* Parse len bytes as one whole JSON value, strictly (UTF-8 checked, as
 * the host's parser does) but without reporting anything: for probes whose
 * failure is not the call's (tool arguments, a body that may be NDJSON).
 * 1 and *out (a new reference; NULL for a JSON null), or 0 if it is not
 * one JSON value. */
int ollama_json_quiet(const char *text, size_t len, json_object **out);
/* host->json_parse, telling a JSON null (which it returns as NULL without
 * failing the call) from bad JSON: AC_OK and *out (a new reference, or
 * NULL for "null": the caller reports that it is not an object), or
 * AC_EJSON with the call failed. */
ac_status ollama_parse(ac_call *call, const char *text, size_t len, const char *what,
                       json_object **out);
/* Case-insensitive (ASCII) substring test; needle in lower case. */
int ollama_contains(const char *hay, const char *needle);

/* ---- request.c ---- */

ac_status ollama_build_request(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_call *call);
ac_status ollama_build_models_request(void *state, ac_http_request *out,
                                      ac_call *call);

/* ---- embed.c ---- */

ac_status ollama_build_embed_request(void *state, const ac_embed_request *req,
                                     ac_http_request *out, ac_call *call);
ac_status ollama_parse_embed_response(void *state, const char *body, size_t len,
                                      ac_embed_sink *out, ac_call *call);
size_t    ollama_embed_max_batch(void *state);

/* ---- parse.c ---- */

ac_status ollama_parse_response(void *state, int http_status,
                                const char *body, size_t len, ac_sink *k,
                                ac_call *call);
ac_status ollama_parse_event(void *state, const ac_frame *ev, ac_sink *k,
                             ac_call *call);
void      ollama_parse_error(void *state, int http_status, const char *body,
                             size_t len, ac_call *call);
ac_status ollama_parse_models(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_call *call);
void      ollama_stream_free(void *state, void *stream_state);
#endif
