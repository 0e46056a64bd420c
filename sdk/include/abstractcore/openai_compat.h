/*
 * openai_compat.h -- the OpenAI Chat Completions wire codec, shared by every
 * OpenAI-compatible provider plugin (in the SDK library,
 * libabstractcore-provider: pkg-config abstractcore-provider).
 *
 * OpenAI, LM Studio, HF TGI and the HF router, mlx_lm.server, llama.cpp's
 * llama-server and vLLM all speak the same protocol with small differences
 * (docs/protocols.md section 1).  This library implements the protocol once; a
 * plugin describes its backend's differences in an ac_oai_dialect and points
 * its ac_provider vtable at the functions below.  A minimal plugin is:
 *
 *     static const ac_host_api *g_host;
 *     static const ac_oai_dialect g_dialect = {
 *         .struct_size = sizeof(ac_oai_dialect),
 *         .default_base_url = "http://localhost:1234/v1",
 *     };
 *     static ac_status my_init(const ac_settings *s, void **state, ac_call *call)
 *     {
 *         return ac_oai_init(g_host, &g_dialect, s, state, call);
 *     }
 *     static const ac_provider g_desc = {
 *         .struct_size = sizeof(ac_provider), .abi_major = AC_ABI_MAJOR,
 *         .abi_minor = AC_ABI_MINOR, .name = "mine", .version = "1.0",
 *         .features = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
 *         .init = my_init,
 *         AC_OAI_PROVIDER_FUNCTIONS,
 *     };
 *     const ac_provider *ac_provider_entry(const ac_host_api *host)
 *     {
 *         g_host = host;
 *         return &g_desc;
 *     }
 *
 * Every function except ac_oai_init has exactly the signature of the
 * ac_provider member of the same name, so the vtable can point at it
 * directly, or at a wrapper that adjusts the result.  All of them follow
 * provider.h: pure functions of their inputs and the state, callable from
 * any thread at once; the state is read-only after ac_oai_init.  Memory
 * comes from the host's allocator; failures are reported through the call
 * (host->fail).  The library links json-c only.
 *
 * Exported names start with ac_oai_ / AC_OAI_.
 */
#ifndef ABSTRACTCORE_OPENAI_COMPAT_H
#define ABSTRACTCORE_OPENAI_COMPAT_H

#include <stddef.h>
#include <abstractcore/provider.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* The dialect: what one backend does differently                       */
/* ------------------------------------------------------------------ */

/** When an API key is required (init fails with AC_ECONFIG without one). */
typedef enum ac_oai_key_policy {
    AC_OAI_KEY_OPTIONAL = 0,        /* sent when set; local servers */
    AC_OAI_KEY_REQUIRED,            /* always required (hosted services) */
    AC_OAI_KEY_REQUIRED_AT_DEFAULT  /* required only when base_url is the
                                       dialect's default_base_url (OpenAI:
                                       a proxy or local server may need none) */
} ac_oai_key_policy;

/** Which field carries the output-token limit. */
typedef enum ac_oai_max_tokens_field {
    AC_OAI_MAX_TOKENS = 0,          /* "max_tokens": most servers */
    AC_OAI_MAX_COMPLETION_TOKENS    /* "max_completion_tokens": OpenAI (its
                                       reasoning models reject max_tokens) */
} ac_oai_max_tokens_field;

/** How a JSON Schema for the reply is sent (ac_gen_params_set_json_schema). */
typedef enum ac_oai_schema_form {
    /* {"type":"json_schema","json_schema":{"name","schema","strict"}}: strict
     * only for a closed schema ("additionalProperties": false) */
    AC_OAI_SCHEMA_JSON_SCHEMA = 0,
    /* {"type":"json_object","schema":{...}}: llama.cpp's older form */
    AC_OAI_SCHEMA_JSON_OBJECT
} ac_oai_schema_form;

/**
 * A backend's differences from OpenAI.  Versioned like the ABI structs:
 * `struct_size` first (set it to sizeof(ac_oai_dialect)); members are only
 * ever appended, and ac_oai_init copies struct_size bytes into a zeroed
 * copy, so every member a plugin leaves out (or does not know) is 0/NULL,
 * which is always the OpenAI default.  The plugin keeps ownership; the
 * dialect must stay valid while the state lives (a static const is usual).
 */
typedef struct ac_oai_dialect {
    size_t      struct_size;        /* REQUIRED: sizeof(ac_oai_dialect) */
    /* Used when the `base_url` setting is absent.  NULL: base_url must be
     * configured. */
    const char *default_base_url;
    /* Variable read for the key when neither api_key, api_key_file nor
     * api_key_env is set ("OPENAI_API_KEY").  NULL: none. */
    const char *default_key_env;
    ac_oai_key_policy       key_policy;
    ac_oai_max_tokens_field max_tokens_field;
    /* 1: do not send stream_options.include_usage with streaming requests
     * (for servers that reject it).  Default 0: send it, so usage arrives
     * in the final chunk. */
    int         omit_stream_usage;
    ac_oai_schema_form      schema_form;
    /* 1: send OpenAI-Organization / OpenAI-Project from the `organization`
     * and `project` settings when they are set. */
    int         org_project_headers;
    /* Static headers sent with every request: a NULL-terminated list of
     * name, value, name, value, ...  May be NULL. */
    const char *const *extra_headers;

    /* OPTIONAL hooks for what knobs cannot say. */
    /* Read the plugin's own settings during ac_oai_init (after the common
     * ones); *user is then available as ac_oai_user(state).  Fail the
     * call (host->fail) and return its code to refuse the settings. */
    ac_status (*init_extra)(const ac_host_api *host, const ac_settings *s,
                            void **user, ac_call *call);
    /* Free what init_extra made.  Called by ac_oai_fini (and by a failing
     * ac_oai_init after init_extra succeeded). */
    void      (*fini_extra)(const ac_host_api *host, void *user);
    /* Adjust the request body (a json-c object, already complete) before it
     * is serialized: add a backend's own fields, rename one.  Must be
     * thread-safe like build_request. */
    ac_status (*edit_body)(const void *state, const ac_gen_request *req,
                           struct json_object *body, ac_call *call);
} ac_oai_dialect;

/* ------------------------------------------------------------------ */
/* The codec                                                           */
/* ------------------------------------------------------------------ */

/**
 * Read a provider instance's settings and make the codec state.
 *
 * host: the table the plugin got in ac_provider_entry (kept in the state).
 * dialect: the backend's differences (see above; not copied beyond its
 *   struct_size, must outlive the state).
 * Settings read through the host: base_url (else dialect default_base_url;
 * a trailing "/" is dropped), the key via host->secret() (api_key, else
 * api_key_file, else api_key_env, else dialect default_key_env),
 * default_model (used when a request's model is ""), and with
 * org_project_headers: organization, project.
 *
 * On success *state receives a new state (free with ac_oai_fini) and
 * AC_OK is returned.  On failure *state is untouched and the call is
 * failed:
 * AC_ECONFIG for a setting of the wrong type, no base_url, an api_key_env
 * or api_key_file that names nothing usable (naming the variable or file),
 * or a missing key the dialect requires ("provider 'NAME': no API key: set
 * OPENAI_API_KEY or api_key_env"); AC_EPLUGIN for no host or a bad
 * dialect; AC_ENOMEM.  The key never appears in a message or log.
 */
ac_status ac_oai_init(const ac_host_api *host, const ac_oai_dialect *dialect,
                      const ac_settings *settings, void **state,
                      ac_call *call);

/** Free a state made by ac_oai_init (the key is wiped first).  NULL ok. */
void ac_oai_fini(void *state);

/**
 * POST {base_url}/chat/completions with a JSON body: model, messages
 * (system; user with image_url parts for images and text parts labelled
 * "[file: NAME]" for documents; assistant with tool_calls whose arguments
 * are a JSON string; tool with tool_call_id, one per result), the token
 * limit in
 * the dialect's field, temperature, top_p, seed, stop, tools, tool_choice,
 * response_format, stream (+ stream_options.include_usage).  Headers:
 * Content-Type, Accept, Authorization: Bearer <key> only when a key is set,
 * the dialect's extra headers.  Framing SSE when streaming, else NONE.
 * Errors: AC_EINVAL (stage REQUEST) for a tool schema or JSON schema that
 * is not a JSON object; AC_EUNSUPPORTED for a part type the protocol
 * cannot carry; AC_ENOMEM; whatever the host or edit_body return.
 */
ac_status ac_oai_build_request(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_call *call);

/**
 * A complete 2xx chat.completion body: emits model, reasoning, content
 * (a refusal is emitted as content too), tool calls (whole, args_complete
 * = 1, keyed by position), usage and finish.  Only choice index 0 is used.
 * Errors: AC_EJSON (not JSON), AC_EPROTOCOL (an "error" object in a 2xx
 * body, no choices), or what an emit returned.
 */
ac_status ac_oai_parse_response(void *state, int http_status,
                                const char *body, size_t len, ac_sink *sink,
                                ac_call *call);

/**
 * One SSE event of a chat.completion.chunk stream.  "[DONE]" ends it (a
 * stream that ends with [DONE] but never sent a finish_reason for choice 0
 * is finished as "tool_calls" if it made tool calls, else "stop", with no
 * raw value).  An "error" member, or an SSE event named "error" (old
 * llama.cpp), returns AC_EPROTOCOL at stage PROTOCOL with the server's
 * message and, when it says one, its HTTP status.  Text, reasoning
 * (reasoning_content or reasoning), tool-call fragments (keyed by their
 * `index`; a delta with a name, another id and whole arguments at an index
 * already in use is a new call, as Ollama's OpenAI layer sends them), usage
 * (each time it appears; the core keeps the last) and the model (once) are
 * emitted for choice 0; other choices are ignored.
 *
 * Finish reasons are normalized: stop, length, content_filter as they are;
 * tool_calls and the deprecated function_call -> tool_calls; "stop" after
 * tool calls -> tool_calls; any reply that carried a refusal ->
 * content_filter; any other value -> stop.  The raw value is kept.
 * Uses the host's stream slot; free it with ac_oai_stream_free.
 */
ac_status ac_oai_parse_event(void *state, const ac_frame *ev, ac_sink *sink,
                             ac_call *call);

/**
 * Refine the core's HTTP error from a non-2xx body: sets its message to
 * "HTTP <status>: <server message> (<code or type>)".  Understands
 * {"error":{"message","type","code"(string or int),"param"}},
 * {"error":"text"[,"error_type"]}, {"object":"error","message",...},
 * {"detail":"text"}; anything else (an HTML page from a proxy) is quoted
 * as a short printable excerpt.  insufficient_quota makes the error not
 * retryable; otherwise the core's retryable and retry_after_ms stay.  (The
 * core blanks the configured key out of the message should a server echo
 * it.)
 */
void ac_oai_parse_error(void *state, int http_status, const char *body,
                        size_t len, ac_call *call);

/** GET {base_url}/models with the same auth headers.  AC_ENOMEM or the
 *  host's error. */
ac_status ac_oai_build_models_request(void *state, ac_http_request *out,
                                      ac_call *call);

/** {"data":[{"id":...},...]}: adds each id (extra members such as
 *  llama.cpp's meta, even null, are ignored).  AC_EJSON, AC_EPROTOCOL (no
 *  data array), AC_ENOMEM. */
ac_status ac_oai_parse_models(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_call *call);

/** Free the per-response state ac_oai_parse_event keeps in the stream
 *  slot.  NULL ok. */
void ac_oai_stream_free(void *state, void *stream_state);

/**
 * Embeddings (ABI 2.1): POST {base_url}/embeddings with {"model" (the
 * request's, else default_model), "input": [texts...], "dimensions" when
 * asked}, the same headers as chat.  AC_EINVAL when there is no model at
 * all; AC_ENOMEM; the host's error.
 */
ac_status ac_oai_build_embed_request(void *state, const ac_embed_request *req,
                                     ac_http_request *out, ac_call *call);

/**
 * A 2xx embeddings body: each data[i].embedding (floats, or a base64
 * string) to host->embed_vector at data[i].index (its position when it
 * has none), the model, usage.prompt_tokens.  AC_EJSON, AC_EPROTOCOL (no
 * data array, an "error" in the body, a vector that is not one), or what
 * the host returned.
 */
ac_status ac_oai_parse_embed_response(void *state, const char *body, size_t len,
                                      ac_embed_sink *out, ac_call *call);

/** Texts per embeddings request: 256 (the API takes 2048, but their
 *  vectors as JSON pass the default max_response_bytes). */
size_t ac_oai_embed_max_batch(void *state);

/* ------------------------------------------------------------------ */
/* Helpers for plugins that wrap the functions above                    */
/* ------------------------------------------------------------------ */

/** The host table given to ac_oai_init.  NULL for a NULL state. */
const ac_host_api *ac_oai_host(const void *state);
/** What the dialect's init_extra stored, or NULL. */
void *ac_oai_user(const void *state);
/** The base URL in use, without a trailing "/".  Borrowed from the state. */
const char *ac_oai_base_url(const void *state);
/** 1 when an API key is configured (the key itself is never handed out). */
int ac_oai_has_key(const void *state);
/**
 * Add the headers the codec sends with every request -- Content-Type:
 * application/json when has_body, Accept, Authorization when a key is
 * set, OpenAI-Organization / -Project, the dialect's extra headers -- to
 * a request the plugin builds itself (another endpoint of the same
 * server), so the key never leaves the state.  AC_OK or the host's error.
 */
ac_status ac_oai_add_headers(const void *state, ac_http_request *out, int has_body,
                             const char *accept, ac_call *call);
/**
 * Normalize a backend finish_reason: "stop", "length", "tool_calls"
 * (also for "function_call"), "content_filter"; NULL or anything else ->
 * "stop".  Static storage.
 */
const char *ac_oai_normalize_finish(const char *raw);

/**
 * The vtable members every OpenAI-compatible plugin takes from this
 * library as they are: put it in an ac_provider initializer after .init.
 * A plugin that wraps one of them lists the members itself instead
 * (initializing a member twice draws -Woverride-init).
 */
#define AC_OAI_PROVIDER_FUNCTIONS                                \
    .fini = ac_oai_fini,                                         \
    .build_request = ac_oai_build_request,                       \
    .parse_response = ac_oai_parse_response,                     \
    .parse_event = ac_oai_parse_event,                           \
    .parse_error = ac_oai_parse_error,                           \
    .build_models_request = ac_oai_build_models_request,         \
    .parse_models = ac_oai_parse_models,                         \
    .stream_free = ac_oai_stream_free

/**
 * The embeddings members, for a plugin whose backend serves
 * {base_url}/embeddings (put it after AC_OAI_PROVIDER_FUNCTIONS).
 */
#define AC_OAI_EMBED_FUNCTIONS                                   \
    .build_embed_request = ac_oai_build_embed_request,           \
    .parse_embed_response = ac_oai_parse_embed_response,         \
    .embed_max_batch = ac_oai_embed_max_batch

#ifdef __cplusplus
}
#endif
#endif /* ABSTRACTCORE_OPENAI_COMPAT_H */
