/*
 * anthropic.h -- internals shared by the files of the Anthropic Messages
 * API plugin (docs/protocols.md section 2).
 *
 * anthropic.c holds the descriptor, settings, error mapping and model
 * listing; request.c turns an ac_gen_request into a /v1/messages body;
 * parse.c turns replies (whole bodies and SSE events) into sink emits.
 * Only ac_provider_entry is exported from the .so; everything here is
 * internal and prefixed anth_.  Every function reports its failures on
 * the call it is given (host->fail) and returns the code.
 */
#ifndef AC_PLUGIN_ANTHROPIC_H
#define AC_PLUGIN_ANTHROPIC_H
#include <stddef.h>
#include <abstractcore/provider.h>
#include <abstractcore/sdk.h>
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
                             ac_http_request *out, ac_call *call);
ac_status anth_build_count_request(void *state, const ac_gen_request *req,
                                   ac_http_request *out, ac_call *call);
/* Headers every request carries (auth, version, beta, content type). */
ac_status anth_add_headers(const anth_state *st, ac_http_request *out,
                           int has_body, ac_call *call);

/* parse.c */
ac_status anth_parse_response(void *state, int http_status, const char *body,
                              size_t len, ac_sink *sink, ac_call *call);
ac_status anth_parse_event(void *state, const ac_frame *ev, ac_sink *sink,
                           ac_call *call);
void      anth_stream_free(void *state, void *slot_value);
/*
 * Parse JSON text without reporting anything (strict, the whole text one
 * value, UTF-8 checked when `utf8` is 1): a new reference, or NULL.  For
 * text whose failure the caller words itself (a schema the caller gave, an
 * error body that may be an HTML page), where host->json_parse would fail
 * the call with its own message.
 */
json_object *anth_json_try(const char *text, size_t len, int utf8);

/* anthropic.c: an Anthropic error object ({"type","message"}) reported
 * as an error inside a 2xx reply: AC_EPROTOCOL, stage protocol, retryable
 * as its type says. */
ac_status anth_error_from_object(json_object *error_obj, const char *where,
                                 ac_call *call);
#endif
