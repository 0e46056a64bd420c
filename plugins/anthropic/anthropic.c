/*
 * anthropic.c -- the Anthropic Messages API provider plugin: descriptor,
 * settings, error mapping and model listing (PROTOCOLS.md section 2).
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
#include <stdio.h>
#include <string.h>

const ac_host_api *anth_host;

/* ------------------------------------------------------------------ */
/* Error types                                                          */
/* ------------------------------------------------------------------ */

/*
 * error.type -> the HTTP status it goes with, and whether retrying can
 * help.  From the SDK's ErrorType enum and the status table in
 * PROTOCOLS.md 2 "Errors"; 429 may also carry overloaded_error, so callers
 * switch on the type, not on the status.
 */
static const struct {
    const char *type;
    int         status;
    int         retryable;
} error_kinds[] = {
    { "invalid_request_error", 400, 0 },
    { "authentication_error",  401, 0 },
    { "billing_error",         402, 0 },
    { "permission_error",      403, 0 },
    { "not_found_error",       404, 0 },
    { "request_too_large",     413, 0 },
    { "rate_limit_error",      429, 1 },
    { "api_error",             500, 1 },
    { "timeout_error",         504, 1 },
    { "overloaded_error",      529, 1 },
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
 * Make err->message one printable line that is still valid UTF-8 after
 * snprintf may have cut it short: control bytes become spaces, and a
 * multi-byte character cut at the end is dropped.
 */
static void error_tidy_message(ac_error *err)
{
    unsigned char *p = (unsigned char *)err->message;
    size_t n = strlen(err->message);
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            p[i] = ' ';
    /* Walk back over continuation bytes to the lead byte of the last
     * character, and drop it if its sequence is incomplete. */
    size_t i = n;
    while (i > 0 && (p[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && p[i - 1] >= 0xC0) {
        unsigned char lead = p[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < need)
            p[i - 1] = '\0';
    }
}

ac_status anth_error_from_object(struct json_object *eo, const char *where,
                                 ac_error *err)
{
    const char *type = NULL, *msg = NULL;
    if (eo && json_object_is_type(eo, json_type_object)) {
        type = anth_jstr(eo, "type");
        msg = anth_jstr(eo, "message");
    } else if (eo && json_object_is_type(eo, json_type_string)) {
        msg = json_object_get_string(eo);
    }
    int k = error_kind_find(type);
    anth_host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "%s: %s%s%s",
                         where, type ? type : "error", msg ? ": " : "",
                         msg ? msg : "");
    if (err) {
        /* An unknown kind is treated as the SDK treats an unknown status
         * >= 500: a server-side failure that a retry may fix. */
        err->http_status = k >= 0 ? error_kinds[k].status : 500;
        err->retryable = k >= 0 ? error_kinds[k].retryable : 1;
        err->retry_after_ms = -1;
        error_tidy_message(err);
    }
    return AC_EPROTOCOL;
}

/* Blank our own key out of a message, should a proxy in front of the API
 * echo it.  Short keys are left alone: replacing them would mangle
 * ordinary words. */
static void error_redact_key(const anth_state *st, ac_error *err)
{
    if (!st || !st->api_key || strlen(st->api_key) < 6)
        return;
    size_t klen = strlen(st->api_key);
    char *p;
    while ((p = strstr(err->message, st->api_key)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + klen, strlen(p + klen) + 1);
    }
}

/*
 * A short printable excerpt of a body that is not an Anthropic error
 * object (an HTML page from a proxy, plain text, binary junk): runs of
 * whitespace and control bytes collapse to one space, other bytes outside
 * printable ASCII become '?', and at most `max` bytes are kept.
 */
static void excerpt_make(const char *body, size_t len, char *out, size_t max)
{
    size_t o = 0;
    int space = 1; /* drop leading whitespace */
    for (size_t i = 0; i < len && o + 1 < max; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c <= 0x20 || c == 0x7f) {
            if (!space)
                out[o++] = ' ';
            space = 1;
            continue;
        }
        out[o++] = c < 0x7f ? (char)c : '?';
        space = 0;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    if (o + 1 >= max && max > 4)
        memcpy(out + max - 4, "...", 4);
}

/*
 * A non-2xx reply.  The core has set code, stage, http_status, retryable
 * and retry_after_ms; this writes the message ("HTTP 529:
 * overloaded_error: Overloaded") and corrects retryable by error.type,
 * since Anthropic sometimes reports an overload as 429 and a 4xx that is
 * the caller's fault never goes away by retrying.  Our key is blanked out
 * of the message should the body quote it.
 */
static void anth_parse_error(void *state, int http_status, const char *body,
                             size_t len, ac_error *err)
{
    if (!err)
        return;
    if (!body || len == 0)
        return; /* keep the core's own message */

    ac_error scratch; /* json_parse fills it; err must keep the core's */
    memset(&scratch, 0, sizeof scratch);
    json_object *root = anth_host->json_parse(body, len, "error body", &scratch);
    json_object *eo = NULL;
    if (root && json_object_is_type(root, json_type_object))
        json_object_object_get_ex(root, "error", &eo);

    const char *type = NULL, *msg = NULL;
    if (eo && json_object_is_type(eo, json_type_object)) {
        type = anth_jstr(eo, "type");
        msg = anth_jstr(eo, "message");
    } else if (eo && json_object_is_type(eo, json_type_string)) {
        msg = json_object_get_string(eo); /* Ollama-style proxies */
    } else if (root && json_object_is_type(root, json_type_object)) {
        msg = anth_jstr(root, "message");
    }

    if (type || msg) {
        snprintf(err->message, sizeof err->message, "HTTP %d: %s%s%s",
                 http_status, type ? type : "", type && msg ? ": " : "",
                 msg ? msg : "");
        int k = error_kind_find(type);
        if (k >= 0)
            err->retryable = error_kinds[k].retryable;
    } else {
        char ex[161];
        excerpt_make(body, len, ex, sizeof ex);
        if (ex[0])
            snprintf(err->message, sizeof err->message, "HTTP %d: %s",
                     http_status, ex);
    }
    error_tidy_message(err);
    error_redact_key(state, err);
    if (root)
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
                              char **out, const char *name, ac_error *err)
{
    const char *v = NULL;
    int r = anth_host->setting_string(s, key, &v);
    if (r < 0) {
        anth_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                             "provider '%s': setting '%s' must be a string",
                             name, key);
        return AC_ECONFIG;
    }
    if (r == 0 || !v || !*v)
        return AC_OK;
    *out = anth_host->strdup(v);
    if (!*out) {
        anth_host->error_set(err, AC_ENOMEM, AC_STAGE_CONFIG,
                             "provider '%s': out of memory", name);
        return AC_ENOMEM;
    }
    return AC_OK;
}

static ac_status anth_init(const ac_settings *s, void **state, ac_error *err)
{
    ac_status rc = AC_OK;
    int oom = 0; /* reported at the exit, once */
    char *base = NULL, *mode = NULL;
    const char *name = anth_host->settings_name(s);
    if (!name)
        name = "anthropic";

    anth_state *st = anth_host->malloc(sizeof *st);
    if (!st) {
        oom = 1;
        goto done;
    }
    memset(st, 0, sizeof *st);
    st->max_tokens = ANTH_DEFAULT_MAX_TOKENS;
    st->name = anth_host->strdup(name);
    if (!st->name) {
        oom = 1;
        goto done;
    }

    if ((rc = setting_copy(s, "base_url", &base, name, err)) != AC_OK ||
        (rc = setting_copy(s, "anthropic_version", &st->version, name, err)) != AC_OK ||
        (rc = setting_copy(s, "anthropic_beta", &st->beta, name, err)) != AC_OK ||
        (rc = setting_copy(s, "default_model", &st->default_model, name, err)) != AC_OK ||
        (rc = setting_copy(s, "structured_output", &mode, name, err)) != AC_OK)
        goto done;

    if (state_set_urls(st, base ? base : ANTH_DEFAULT_BASE_URL) != 0 ||
        (!st->version && !(st->version = anth_host->strdup(ANTH_DEFAULT_VERSION)))) {
        oom = 1;
        goto done;
    }

    if (mode && strcmp(mode, "output_config") == 0) {
        st->native_json = 1;
    } else if (mode && strcmp(mode, "tool") != 0) {
        rc = AC_ECONFIG;
        anth_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                             "provider '%s': structured_output must be \"tool\" "
                             "or \"output_config\", not \"%s\"", name, mode);
        goto done;
    }

    long long mt;
    int r = anth_host->setting_int(s, "max_tokens", &mt);
    if (r < 0 || (r == 1 && (mt < 1 || mt > LONG_MAX))) {
        rc = AC_ECONFIG;
        anth_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                             "provider '%s': max_tokens must be an integer >= 1",
                             name);
        goto done;
    }
    if (r == 1)
        st->max_tokens = (long)mt;

    /* The key is required: api.anthropic.com answers every request
     * without one with 401, so fail early with a message that says what
     * to set.  secret() fills its own error when a configured variable
     * or file names nothing usable. */
    ac_error kerr;
    memset(&kerr, 0, sizeof kerr);
    kerr.code = AC_OK;
    st->api_key = anth_host->secret(s, "ANTHROPIC_API_KEY", &kerr);
    if (!st->api_key) {
        rc = AC_ECONFIG;
        if (kerr.code != AC_OK) {
            if (err)
                *err = kerr;
            rc = kerr.code;
        } else {
            anth_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                                 "provider '%s': no API key: set "
                                 "ANTHROPIC_API_KEY or api_key_env", name);
        }
        goto done;
    }

    *state = st;
    st = NULL;
done:
    if (oom) {
        rc = AC_ENOMEM;
        anth_host->error_set(err, AC_ENOMEM, AC_STAGE_PLUGIN,
                             "provider '%s': out of memory", name);
    }
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
                                           ac_error *err)
{
    const anth_state *st = state;
    ac_status rc = anth_host->http_set(out, "GET", st->models_url,
                                       AC_FRAMING_NONE);
    if (rc == AC_OK)
        rc = anth_add_headers(st, out, 0);
    if (rc != AC_OK)
        anth_host->error_set(err, rc, AC_STAGE_REQUEST,
                             "building the models request failed");
    return rc;
}

static ac_status anth_parse_models(void *state, const char *body, size_t len,
                                   ac_model_list *out, ac_error *err)
{
    (void)state;
    ac_status rc = AC_OK;
    json_object *root = anth_host->json_parse(body, len, "models list", err);
    if (!root)
        return err ? err->code : AC_EJSON;
    json_object *data = NULL;
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "data", &data) ||
        !json_object_is_type(data, json_type_array)) {
        rc = AC_EPROTOCOL;
        anth_host->error_set(err, rc, AC_STAGE_PROTOCOL,
                             "models list: no \"data\" array");
        goto done;
    }
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n; i++) {
        const char *id = anth_jstr(json_object_array_get_idx(data, i), "id");
        if (!id || !*id)
            continue;
        if ((rc = anth_host->models_add(out, id)) != AC_OK) {
            anth_host->error_set(err, rc, AC_STAGE_PROTOCOL,
                                 "models list: cannot add a model");
            goto done;
        }
    }
done:
    json_object_put(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Descriptor                                                           */
/* ------------------------------------------------------------------ */

static const ac_provider anthropic_provider = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "anthropic",
    .version = "0.1.0",
    .capabilities = AC_CAP_STREAMING | AC_CAP_TOOLS | AC_CAP_MODELS |
                    AC_CAP_STRUCTURED,
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
};

/* The host table must hold every entry this plugin calls (all of ABI
 * 1.0); an older or broken host gets NULL, which the loader refuses. */
const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    if (!host || host->abi_major != AC_ABI_MAJOR || !AC_HOST_HAS(host, stream_slot))
        return NULL;
    anth_host = host;
    return &anthropic_provider;
}
