/*
 * anthropic.h -- internals shared by the files of the Anthropic Messages
 * API plugin (PROTOCOLS.md section 2).
 *
 * anthropic.c holds the descriptor, settings, error mapping and model
 * listing; request.c turns an ac_gen_request into a /v1/messages body;
 * parse.c turns replies (whole bodies and SSE events) into sink emits.
 * Only ac_provider_entry is exported from the .so; everything here is
 * internal and prefixed anth_.
 */
#ifndef AC_PLUGIN_ANTHROPIC_H
#define AC_PLUGIN_ANTHROPIC_H
#include <stddef.h>
#include <abstractcore/provider.h>
#include <json-c/json.h>

/* The host table handed to ac_provider_entry; valid until unload. */
extern const ac_host_api *anth_host;

/* Default model when neither the request nor the config names one. */
#define ANTH_DEFAULT_MODEL    "claude-haiku-4-5"
#define ANTH_DEFAULT_BASE_URL "https://api.anthropic.com"
/* Required header; the only stable version of the Messages API. */
#define ANTH_DEFAULT_VERSION  "2023-06-01"
/* max_tokens is required by the API; this is used when nobody set it. */
#define ANTH_DEFAULT_MAX_TOKENS 4096L
/*
 * Structured output in "tool" mode is a forced call of a tool by this
 * name; the parsers turn that call back into reply text, so a caller sees
 * JSON content and finish "stop" as with every other backend.  The name is
 * reserved: a user tool by this name would be read as structured output.
 */
#define ANTH_JSON_TOOL "ac_json_response"

/* One provider instance's state; read-only after init (any thread). */
typedef struct anth_state {
    char *name;          /* instance name, for messages */
    char *messages_url;  /* <base>/v1/messages */
    char *models_url;    /* <base>/v1/models?limit=1000 */
    char *api_key;       /* wiped before free; never logged */
    char *version;       /* anthropic-version header */
    char *beta;          /* anthropic-beta header, or NULL */
    char *default_model; /* config default_model, or NULL */
    long  max_tokens;    /* used when the request sets none */
    int   native_json;   /* 1: output_config.format; 0: forced tool */
} anth_state;

/* anthropic.c: the one exported symbol (see provider.h). */
const ac_provider *ac_provider_entry(const ac_host_api *host);

/* request.c */
ac_status anth_build_request(void *state, const ac_gen_request *req,
                             ac_http_request *out, ac_error *err);
/* Headers every request carries (auth, version, beta, content type). */
ac_status anth_add_headers(const anth_state *st, ac_http_request *out,
                           int has_body);

/* parse.c */
ac_status anth_parse_response(void *state, int http_status, const char *body,
                              size_t len, ac_sink *sink, ac_error *err);
ac_status anth_parse_event(void *state, const ac_frame *ev, ac_sink *sink,
                           ac_error *err);
void      anth_stream_free(void *state, void *slot_value);

/* anthropic.c: an Anthropic error object ({"type","message"}) reported
 * as an error inside a 2xx reply: AC_EPROTOCOL, stage protocol, with the
 * HTTP status and retryability its type corresponds to. */
ac_status anth_error_from_object(struct json_object *error_obj,
                                 const char *where, ac_error *err);

/* Small json-c helpers (parse.c). */
const char *anth_jstr(struct json_object *o, const char *key);
/* 1 and *out when key holds an integer, else 0. */
int         anth_jint(struct json_object *o, const char *key, long long *out);
#endif
