/*
 * anthropic.c -- the Anthropic Messages API provider plugin: descriptor,
 * settings, error mapping and model listing (docs/protocols.md section 2).
 *
 * The plugin owns only the wire format: request.c builds the JSON body of
 * POST /v1/messages, parse.c reads replies and SSE events.  Transport,
 * framing, retries and timeouts are the core's.  All state is built in
 * init and read-only afterwards, so every entry point may run on any
 * thread concurrently.
 *
 * Settings (the provider's config block, read through the host):
 *   base_url          default https://api.anthropic.com
 *   api_key / api_key_file / api_key_env (default ANTHROPIC_API_KEY)
 *   default_model     used when a request names no model
 *   max_tokens        default for requests that set none (4096)
 *   anthropic_version header value (2023-06-01)
 *   anthropic_beta    optional anthropic-beta header value
 *   structured_output "tool" (default: a forced tool call, works on every
 *                     model) or "output_config" (the native json_schema
 *                     format of newer models)
 */
#include "anthropic.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const ac_host_api *anth_host;

/* ------------------------------------------------------------------ */
/* Error types                                                          */
/* ------------------------------------------------------------------ */

/*
 * error.type -> whether retrying can help.  From the SDK's ErrorType enum
 * and the status table in docs/protocols.md 2 "Errors" (the status each
 * type goes with is in the comment); 429 may also carry overloaded_error,
 * so this goes by the type, not by the status.
 */
static const struct {
    const char *type;
    int         retryable;
    int         status;     /* what the type stands for in a stream */
} error_kinds[] = {
    { "invalid_request_error", 0, 400 },
    { "authentication_error",  0, 401 },
    { "billing_error",         0, 402 },
    { "permission_error",      0, 403 },
    { "not_found_error",       0, 404 },
    { "request_too_large",     0, 413 },
    { "rate_limit_error",      1, 429 },
    { "api_error",             1, 500 },
    { "timeout_error",         1, 504 },
    { "overloaded_error",      1, 529 },
};

/* Index into error_kinds, or -1 for an unknown (or NULL) type. */
static int error_kind_find(const char *type)
{
    if (!type)
        return -1;
    for (size_t i = 0; i < sizeof error_kinds / sizeof error_kinds[0]; i++)
        if (strcmp(error_kinds[i].type, type) == 0)
            return (int)i;
    return -1;
}

/*
 * Fail the call with a message formatted like printf, made one printable
 * line by ac_sdk_excerpt: a server's words may hold control bytes, and a
 * long one is cut at a character boundary, never inside a UTF-8 sequence.
 */
static ac_status fail_line(ac_call *call, ac_status code, ac_stage stage,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ac_status fail_line(ac_call *call, ac_status code, ac_stage stage,
                           const char *fmt, ...)
{
    char raw[AC_ERROR_MESSAGE_MAX * 2], line[AC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
    ac_sdk_excerpt(raw, len, line, sizeof line);
    return anth_host->fail(call, code, stage, "%s", line);
}

ac_status anth_error_from_object(json_object *eo, const char *where, ac_call *call)
{
    const char *type = NULL, *msg = NULL;
    if (eo && json_object_is_type(eo, json_type_object)) {
        type = ac_sdk_json_string(eo, "type");
        msg = ac_sdk_json_string(eo, "message");
    } else if (eo && json_object_is_type(eo, json_type_string)) {
        msg = json_object_get_string(eo);
    }
    int k = error_kind_find(type);
    fail_line(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "%s: %s%s%s", where,
              type ? type : "error", msg ? ": " : "", msg ? msg : "");
    /* An unknown kind is treated as the SDK treats an unknown status
     * >= 500: a server-side failure that a retry may fix.  Inside a 200
     * stream the type is all there is: give the status it stands for. */
    anth_host->set_retryable(call, k >= 0 ? error_kinds[k].retryable : 1);
    anth_host->set_http_status(call, k >= 0 ? error_kinds[k].status : 500);
    return AC_EPROTOCOL;
}

/*
 * A non-2xx reply.  The core has made the report (AC_EHTTP, the status,
 * retryable from the status and x-should-retry, Retry-After); this words
 * the message ("HTTP 529: overloaded_error: Overloaded") and corrects
 * retryable by error.type, since Anthropic sometimes reports an overload
 * as 429 and a 4xx that is the caller's fault never goes away by
 * retrying.  (The core removes our key from the message, should a proxy
 * quote it.)
 */
static void anth_parse_error(void *state, int http_status, const char *body,
                             size_t len, ac_call *call)
{
    (void)state;
    if (!body || len == 0)
        return; /* keep the core's own message */

    /* Read quietly: a proxy's HTML page is quoted, not reported as JSON. */
    json_object *root = anth_json_try(body, len, 0);
    json_object *eo = NULL;
    if (root && json_object_is_type(root, json_type_object))
        json_object_object_get_ex(root, "error", &eo);

    const char *type = NULL, *msg = NULL;
    if (eo && json_object_is_type(eo, json_type_object)) {
        type = ac_sdk_json_string(eo, "type");
        msg = ac_sdk_json_string(eo, "message");
    } else if (eo && json_object_is_type(eo, json_type_string)) {
        msg = json_object_get_string(eo); /* Ollama-style proxies */
    } else if (root && json_object_is_type(root, json_type_object)) {
        msg = ac_sdk_json_string(root, "message");
    }

    if (type || msg) {
        fail_line(call, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d: %s%s%s", http_status,
                  type ? type : "", type && msg ? ": " : "", msg ? msg : "");
        int k = error_kind_find(type);
        if (k >= 0)
            anth_host->set_retryable(call, error_kinds[k].retryable);
    } else {
        char ex[161];
        ac_sdk_excerpt(body, len, ex, sizeof ex);
        if (ex[0])
            anth_host->fail(call, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d: %s", http_status, ex);
    }
    json_object_put(root);
}

/* ------------------------------------------------------------------ */
/* Settings                                                             */
/* ------------------------------------------------------------------ */

static void state_free(anth_state *st)
{
    if (!st)
        return;
    if (st->api_key) {
        /* volatile: keep the wipe from being optimised away */
        volatile char *p = st->api_key;
        while (*p)
            *p++ = '\0';
    }
    anth_host->free(st->api_key);
    anth_host->free(st->name);
    anth_host->free(st->messages_url);
    anth_host->free(st->models_url);
    anth_host->free(st->version);
    anth_host->free(st->beta);
    anth_host->free(st->default_model);
    anth_host->free(st);
}

/* base + suffix in a new host allocation. */
static char *url_join(const char *base, size_t base_len, const char *suffix)
{
    size_t sl = strlen(suffix);
    char *u = anth_host->malloc(base_len + sl + 1);
    if (!u)
        return NULL;
    memcpy(u, base, base_len);
    memcpy(u + base_len, suffix, sl + 1);
    return u;
}

/*
 * The endpoint URLs.  base_url is the server root (https://api.anthropic
 * .com, http://localhost:11434 for Ollama's compatible endpoint); a base
 * that already ends in /v1, as OpenAI-style settings are written, is
 * accepted too.
 */
static int state_set_urls(anth_state *st, const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    int has_v1 = n >= 3 && memcmp(base + n - 3, "/v1", 3) == 0;
    st->messages_url = url_join(base, n, has_v1 ? "/messages" : "/v1/messages");
    st->models_url = url_join(base, n, has_v1 ? "/models?limit=1000"
                                              : "/v1/models?limit=1000");
    return st->messages_url && st->models_url ? 0 : -1;
}

/* An optional string setting copied into *out (left NULL when absent). */
static ac_status setting_copy(const ac_settings *s, const char *key,
                              char **out, const char *name, ac_call *call)
{
    const char *v = NULL;
    int r = anth_host->setting_string(s, key, &v);
    if (r < 0)
        return anth_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                               "provider '%s': setting '%s' must be a string", name, key);
    if (r == 0 || !v || !*v)
        return AC_OK;
    *out = anth_host->strdup(v);
    if (!*out)
        return anth_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG,
                               "provider '%s': out of memory", name);
    return AC_OK;
}

/*
 * The API key into st->api_key.  It is required: api.anthropic.com
 * answers every request without one with 401, so init fails early with a
 * message that says what to set.
 */
static ac_status key_read(anth_state *st, const ac_settings *s, ac_call *call)
{
    ac_status rc = anth_host->secret(s, "ANTHROPIC_API_KEY", &st->api_key, call);
    if (rc != AC_OK || st->api_key)
        return rc; /* a failure is reported on the call */
    return anth_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                           "provider '%s': no API key: set ANTHROPIC_API_KEY or "
                           "api_key_env", st->name);
}

static ac_status anth_init(const ac_settings *s, void **state, ac_call *call)
{
    ac_status rc = AC_OK;
    char *base = NULL, *mode = NULL;
    const char *name = anth_host->settings_name(s);
    if (!name)
        name = "anthropic";

    anth_state *st = anth_host->malloc(sizeof *st);
    if (!st)
        goto nomem;
    memset(st, 0, sizeof *st);
    st->max_tokens = ANTH_DEFAULT_MAX_TOKENS;
    st->name = anth_host->strdup(name);
    if (!st->name)
        goto nomem;

    if ((rc = setting_copy(s, "base_url", &base, name, call)) != AC_OK ||
        (rc = setting_copy(s, "anthropic_version", &st->version, name, call)) != AC_OK ||
        (rc = setting_copy(s, "anthropic_beta", &st->beta, name, call)) != AC_OK ||
        (rc = setting_copy(s, "default_model", &st->default_model, name, call)) != AC_OK ||
        (rc = setting_copy(s, "structured_output", &mode, name, call)) != AC_OK)
        goto done;

    if (state_set_urls(st, base ? base : ANTH_DEFAULT_BASE_URL) != 0 ||
        (!st->version && !(st->version = anth_host->strdup(ANTH_DEFAULT_VERSION))))
        goto nomem;

    if (mode && strcmp(mode, "output_config") == 0) {
        st->native_json = 1;
    } else if (mode && strcmp(mode, "tool") != 0) {
        rc = anth_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "provider '%s': structured_output must be \"tool\" "
                             "or \"output_config\", not \"%s\"", name, mode);
        goto done;
    }

    long long mt;
    int r = anth_host->setting_int(s, "max_tokens", &mt);
    if (r < 0 || (r == 1 && (mt < 1 || mt > LONG_MAX))) {
        rc = anth_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "provider '%s': max_tokens must be an integer >= 1", name);
        goto done;
    }
    if (r == 1)
        st->max_tokens = (long)mt;

    if ((rc = key_read(st, s, call)) != AC_OK)
        goto done;

    *state = st;
    st = NULL;
    goto done;
nomem:
    rc = anth_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG,
                         "provider '%s': out of memory", name);
done:
    anth_host->free(base);
    anth_host->free(mode);
    state_free(st);
    return rc;
}

static void anth_fini(void *state)
{
    state_free(state);
}

/* ------------------------------------------------------------------ */
/* Models                                                               */
/* ------------------------------------------------------------------ */

/* GET /v1/models.  One page of up to 1000 (the API's maximum); cursor
 * paging (has_more / after_id) would need a request per page. */
static ac_status anth_build_models_request(void *state, ac_http_request *out,
                                           ac_call *call)
{
    const anth_state *st = state;
    ac_status rc = anth_host->http_set(out, "GET", st->models_url, AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = anth_add_headers(st, out, 0, call);
    return rc;
}

static ac_status anth_parse_models(void *state, const char *body, size_t len,
                                   ac_model_list *out, ac_call *call)
{
    (void)state;
    ac_status rc = AC_OK;
    json_object *root = anth_host->json_parse(call, body, len, "models list");
    if (!root)
        return AC_EJSON;
    json_object *data = ac_sdk_json_array(root, "data");
    if (!data) {
        rc = anth_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                             "models list: no \"data\" array");
        goto done;
    }
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n; i++) {
        const char *id = ac_sdk_json_string(json_object_array_get_idx(data, i), "id");
        if (!id || !*id)
            continue;
        if ((rc = anth_host->models_add(out, id)) != AC_OK)
            goto done; /* the emit's code, returned as is */
    }
done:
    json_object_put(root);
    return rc;
}

/* {"input_tokens": N} */
static ac_status anth_parse_count(void *state, const char *body, size_t len, long *tokens,
                                  ac_call *call)
{
    (void)state;
    json_object *root = anth_host->json_parse(call, body, len, "token count");
    if (!root)
        return AC_EJSON;
    long long n;
    ac_status rc = AC_OK;
    if (!ac_sdk_json_int(root, "input_tokens", &n) || n < 0 || n > LONG_MAX)
        rc = anth_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                             "token count: no \"input_tokens\" number");
    else
        *tokens = (long)n;
    json_object_put(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Descriptor                                                           */
/* ------------------------------------------------------------------ */

/* The settings read beyond the core's (see anth_init and
 * docs/providers/anthropic.md). */
static const char *const anthropic_settings[] = {
    "anthropic_version", "anthropic_beta", "structured_output", "max_tokens", NULL
};

/* Images (docs/protocols.md 2, "Images"; Anthropic's vision guide): JPEG,
 * PNG, GIF, WebP; a long edge over 1568 px or more than about 1.15
 * megapixels is scaled down by the server anyway; 5 MB per image, counted
 * on the base64 text ("image exceeds 5 MB maximum: N bytes > 5242880
 * bytes"). */
static const ac_media_limits anthropic_media = {
    .struct_size = sizeof(ac_media_limits),
    .image_formats = AC_IMAGE_PNG | AC_IMAGE_JPEG | AC_IMAGE_GIF | AC_IMAGE_WEBP,
    .image_max_edge = 1568,
    .image_max_short_edge = 0,
    .image_max_pixels = 1150000,
    .image_max_bytes = 5242880,
};

static const ac_provider anthropic_provider = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "anthropic",
    .version = AC_VERSION_STRING,
    .description = "Anthropic Messages API (api.anthropic.com, or a base_url that speaks it)",
    /* json_schema goes to the server either way: as a forced tool's
     * input_schema, or as output_config.format.  FILE parts are sent as
     * labelled text (request.c says why), so no AC_FEATURE_FILES. */
    .features = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
    .default_base_url = ANTH_DEFAULT_BASE_URL,
    .default_model = ANTH_DEFAULT_MODEL,
    .init = anth_init,
    .fini = anth_fini,
    .build_request = anth_build_request,
    .parse_response = anth_parse_response,
    .parse_event = anth_parse_event,
    .parse_error = anth_parse_error,
    .build_models_request = anth_build_models_request,
    .parse_models = anth_parse_models,
    .run_local = NULL,
    .stream_free = anth_stream_free,
    .settings = anthropic_settings,
    .build_count_request = anth_build_count_request,
    .parse_count_response = anth_parse_count,
    .media = &anthropic_media,
};

/* The entry point rule (provider.h): store the host, return the
 * descriptor, nothing else. */
const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    anth_host = host;
    return &anthropic_provider;
}
