/*
 * ollama.h -- internals shared by the files of the Ollama plugin
 * (Ollama's native API, PROTOCOLS.md section 3).
 *
 * ollama.c holds the descriptor, the entry point, settings and the small
 * helpers the other files share; request.c turns an ac_gen_request into a
 * POST /api/chat body (and builds the /api/tags request); parse.c turns
 * replies -- whole bodies, NDJSON lines, error bodies, the model list --
 * into sink emits and ac_error reports.  Only ac_provider_entry is exported
 * from the .so; everything here is internal and prefixed ollama_.
 */
#ifndef AC_PLUGIN_OLLAMA_H
#define AC_PLUGIN_OLLAMA_H
#include <stddef.h>
#include <abstractcore/provider.h>
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

/* ---- helpers (ollama.c) ---- */

/* A short printable one-line excerpt of any bytes, for error messages. */
void ollama_excerpt(const char *s, size_t n, char *out, size_t cap);
/* Add val to an object / array, taking ownership of val: 0 ok, -1 (val
 * freed) on failure, including a NULL val from a failed constructor. */
int ollama_add(json_object *obj, const char *key, json_object *val);
int ollama_append(json_object *arr, json_object *val);
/* A string member, or NULL when absent or of another type. */
const char *ollama_get_string(json_object *obj, const char *key);
/* Parse JSON text that must be an object; NULL if it is not. */
json_object *ollama_parse_object(const char *text, const char *what);
/* Case-insensitive (ASCII) substring test; needle in lower case. */
int ollama_contains(const char *hay, const char *needle);

/* ---- request.c ---- */

ac_status ollama_build_request(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_error *err);
ac_status ollama_build_models_request(void *state, ac_http_request *out,
                                      ac_error *err);

/* ---- parse.c ---- */

ac_status ollama_parse_response(void *state, int http_status,
                                const char *body, size_t len, ac_sink *k,
                                ac_error *err);
ac_status ollama_parse_event(void *state, const ac_frame *ev, ac_sink *k,
                             ac_error *err);
void      ollama_parse_error(void *state, int http_status, const char *body,
                             size_t len, ac_error *err);
ac_status ollama_parse_models(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_error *err);
void      ollama_stream_free(void *state, void *stream_state);
#endif
