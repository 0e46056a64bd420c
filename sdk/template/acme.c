/*
 * acme.c -- a complete provider plugin for a made-up backend, "Acme
 * Completions": the template a third party copies to write its own.
 *
 * The backend (README.md describes it in full):
 *   POST {base_url}/v1/complete   {"model", "messages": [{"role", "text"}],
 *                                  "max_tokens"?, "temperature"?, "stop"?,
 *                                  "stream"?}
 *     -> {"model", "text", "stop_reason": "end" | "max_tokens",
 *         "usage": {"input", "output"}}
 *     or, streamed, NDJSON lines: {"text": "..."} ... then
 *        {"done": true, "stop_reason", "usage"}; an error mid-stream is a
 *        line {"error": {"message", "kind"}}
 *   GET  {base_url}/v1/models     -> {"models": [{"id"}, ...]}
 *   errors: any status, {"error": {"message", "kind"}}
 *   auth: the header X-Acme-Key, from api_key / api_key_file / api_key_env
 *         (default ACME_API_KEY); none needed for a local server.
 *
 * What every plugin does, in order below: read its settings in init,
 * turn a generic request into HTTP in build_request, turn bytes into
 * events in parse_response / parse_event, refine HTTP errors in
 * parse_error, list models.  It never touches a socket, a thread or a
 * clock, and reports every failure through host->fail.
 */
#include <abstractcore/provider.h>
#include <abstractcore/sdk.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define ACME_VERSION "1.0.0"

/* The host table, kept by the entry point (the entry point rule: nothing
 * else happens there). */
static const ac_host_api *host;

/* One instance's state: read-only after init, so every function below may
 * run on any thread at once. */
typedef struct acme {
    char *complete_url;   /* {base_url}/v1/complete */
    char *models_url;     /* {base_url}/v1/models */
    char *key;            /* NULL: no key configured */
} acme;

/* ------------------------------------------------------------------ */
/* init / fini                                                         */
/* ------------------------------------------------------------------ */

static char *join(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--; /* "http://h/" + "/v1" has one slash */
    size_t m = strlen(path);
    char *s = host->malloc(n + m + 1);
    if (s) {
        memcpy(s, base, n);
        memcpy(s + n, path, m + 1);
    }
    return s;
}

static void acme_fini(void *state)
{
    acme *a = state;
    if (!a)
        return;
    if (a->key) /* wipe the key before the memory goes back */
        memset(a->key, 0, strlen(a->key));
    host->free(a->key);
    host->free(a->complete_url);
    host->free(a->models_url);
    host->free(a);
}

static ac_status acme_init(const ac_settings *s, void **state, ac_call *call)
{
    const char *base = NULL;
    /* base_url falls back to the descriptor's default_base_url. */
    int got = host->setting_string(s, "base_url", &base);
    if (got < 0)
        return host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                          "provider '%s': base_url must be a string", host->settings_name(s));
    if (got == 0 || !*base)
        return host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                          "provider '%s': base_url is not set", host->settings_name(s));
    acme *a = host->malloc(sizeof *a);
    if (!a)
        return host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    memset(a, 0, sizeof *a);
    a->complete_url = join(base, "/v1/complete");
    a->models_url = join(base, "/v1/models");
    if (!a->complete_url || !a->models_url) {
        acme_fini(a);
        return host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    }
    /* Not required: a local Acme server takes anonymous requests. */
    ac_status st = host->secret(s, "ACME_API_KEY", &a->key, call);
    if (st != AC_OK) {
        acme_fini(a);
        return st; /* the call says why */
    }
    *state = a;
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static const char *role_name(ac_role r)
{
    switch (r) {
    case AC_ROLE_SYSTEM: return "system";
    case AC_ROLE_USER: return "user";
    case AC_ROLE_ASSISTANT: return "assistant";
    case AC_ROLE_TOOL: return "tool";
    }
    return "user";
}

/* Add v under key; json-c takes v even when the add fails.  0 or -1. */
static int put(json_object *o, const char *key, json_object *v)
{
    if (!v)
        return -1;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* The messages: Acme takes text only, so a part of any other kind is
 * refused (AC_EUNSUPPORTED, saying which), never silently dropped. */
static ac_status messages(const ac_gen_request *req, json_object *list, ac_call *call)
{
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = host->message(req, i);
        for (size_t j = 0; j < m->n_parts; j++)
            if (host->message_part(m, j)->type != AC_PART_TEXT)
                return host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                  "message %zu: Acme takes text only (part %zu is not text)",
                                  i, j);
        json_object *o = json_object_new_object();
        if (!o || json_object_array_add(list, o) != 0) {
            json_object_put(o);
            return AC_ENOMEM;
        }
        if (put(o, "role", json_object_new_string(role_name(m->role))) ||
            put(o, "text", json_object_new_string_len(m->text, (int)m->text_len)))
            return AC_ENOMEM;
    }
    return AC_OK;
}

static ac_status body(const ac_gen_request *req, json_object *b, ac_call *call)
{
    json_object *list = json_object_new_array();
    if (put(b, "model", json_object_new_string(req->model)) || put(b, "messages", list))
        return AC_ENOMEM;
    ac_status st = messages(req, list, call);
    if (st != AC_OK)
        return st;
    if (req->has_max_tokens && put(b, "max_tokens", json_object_new_int64(req->max_tokens)))
        return AC_ENOMEM;
    if (req->has_temperature && put(b, "temperature", json_object_new_double(req->temperature)))
        return AC_ENOMEM;
    if (req->n_stop) {
        json_object *stop = json_object_new_array();
        if (put(b, "stop", stop))
            return AC_ENOMEM;
        for (size_t i = 0; i < req->n_stop; i++)
            if (json_object_array_add(stop, json_object_new_string(req->stop[i])) != 0)
                return AC_ENOMEM;
    }
    if (req->stream && put(b, "stream", json_object_new_boolean(1)))
        return AC_ENOMEM;
    return AC_OK;
}

static ac_status auth(const acme *a, ac_http_request *out, ac_call *call)
{
    return a->key ? host->http_header(out, "X-Acme-Key", a->key, call) : AC_OK;
}

static ac_status acme_build_request(void *state, const ac_gen_request *req,
                                    ac_http_request *out, ac_call *call)
{
    const acme *a = state;
    /* Acme has no tools and no structured mode: the descriptor says so
     * (features), and a request that asks anyway is refused here. */
    if (req->n_tools || req->json_schema)
        return host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                          "Acme has no %s", req->n_tools ? "tools" : "structured output");
    json_object *b = json_object_new_object();
    if (!b)
        return host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    ac_status st = body(req, b, call);
    if (st == AC_ENOMEM)
        st = host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    if (st == AC_OK)
        st = host->http_set(out, "POST", a->complete_url,
                            req->stream ? AC_FRAMING_NDJSON : AC_FRAMING_NONE, call);
    if (st == AC_OK)
        st = host->http_header(out, "Content-Type", "application/json", call);
    if (st == AC_OK)
        st = auth(a, out, call);
    if (st == AC_OK) /* the SDK's writer: json-c's drops text when short of memory */
        st = ac_sdk_json_body(host, out, b, call);
    json_object_put(b);
    return st;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

/* "end" and "max_tokens" as the core names them. */
static ac_status finish(ac_sink *sink, const char *raw)
{
    const char *norm = raw && strcmp(raw, "max_tokens") == 0 ? "length" : "stop";
    return host->emit_finish(sink, norm, raw);
}

static ac_status usage(ac_sink *sink, json_object *o)
{
    json_object *u = ac_sdk_json_object(o, "usage");
    long long in = -1, out = -1;
    if (!u)
        return AC_OK;
    ac_sdk_json_int(u, "input", &in);
    ac_sdk_json_int(u, "output", &out);
    return host->emit_usage(sink, (long)in, (long)out);
}

/* {"error": {"message", "kind"}} -> "MESSAGE (KIND)", or NULL. */
static int error_text(json_object *o, char *buf, size_t cap)
{
    json_object *e = ac_sdk_json_object(o, "error");
    if (!e)
        return 0;
    const char *msg = ac_sdk_json_string(e, "message");
    const char *kind = ac_sdk_json_string(e, "kind");
    snprintf(buf, cap, "%s%s%s%s", msg ? msg : "(no message)", kind ? " (" : "",
             kind ? kind : "", kind ? ")" : "");
    return 1;
}

static ac_status acme_parse_response(void *state, int http_status, const char *b, size_t len,
                                     ac_sink *sink, ac_call *call)
{
    (void)state, (void)http_status;
    json_object *o = host->json_parse(call, b, len, "Acme reply");
    if (!o)
        return AC_EJSON;
    char why[300];
    ac_status st = AC_OK;
    const char *text = ac_sdk_json_string(o, "text");
    if (error_text(o, why, sizeof why))
        st = host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "Acme: %s", why);
    else if (!text)
        st = host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "Acme reply without \"text\"");
    if (st == AC_OK && ac_sdk_json_string(o, "model"))
        st = host->emit_model(sink, ac_sdk_json_string(o, "model"));
    if (st == AC_OK)
        st = host->emit_text(sink, text, strlen(text));
    if (st == AC_OK)
        st = usage(sink, o);
    if (st == AC_OK)
        st = finish(sink, ac_sdk_json_string(o, "stop_reason"));
    json_object_put(o);
    return st;
}

static ac_status acme_parse_event(void *state, const ac_frame *ev, ac_sink *sink,
                                  ac_call *call)
{
    (void)state;
    json_object *o = host->json_parse(call, ev->data, ev->data_len, "Acme stream line");
    if (!o)
        return AC_EJSON;
    char why[300];
    ac_status st = AC_OK;
    json_object *done;
    if (error_text(o, why, sizeof why)) {
        /* An error inside a 200 stream ends it; "overloaded" is worth
         * another try (before anything reached the caller). */
        json_object *e = ac_sdk_json_object(o, "error");
        const char *kind = ac_sdk_json_string(e, "kind");
        st = host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "Acme: %s", why);
        host->set_retryable(call, kind && strcmp(kind, "overloaded") == 0);
    } else if (json_object_object_get_ex(o, "done", &done) && json_object_get_boolean(done)) {
        st = usage(sink, o);
        if (st == AC_OK)
            st = finish(sink, ac_sdk_json_string(o, "stop_reason"));
    } else if (ac_sdk_json_string(o, "text")) {
        const char *t = ac_sdk_json_string(o, "text");
        st = host->emit_text(sink, t, strlen(t));
    } /* anything else: a line of a newer server, ignored */
    json_object_put(o);
    return st;
}

static void acme_parse_error(void *state, int http_status, const char *b, size_t len,
                             ac_call *call)
{
    (void)state;
    /* Leniently: an HTML page from a proxy is quoted, not refused. */
    json_tokener *t = json_tokener_new();
    json_object *o = t && len < 0x7fffffff ? json_tokener_parse_ex(t, b, (int)len) : NULL;
    json_tokener_free(t);
    char why[300], excerpt[200];
    if (o && error_text(o, why, sizeof why))
        host->fail(call, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d: %s", http_status, why);
    else if (len)
        host->fail(call, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d: %s", http_status,
                   ac_sdk_excerpt(b, len, excerpt, sizeof excerpt));
    json_object *e = o ? ac_sdk_json_object(o, "error") : NULL;
    const char *kind = e ? ac_sdk_json_string(e, "kind") : NULL;
    if (kind && strcmp(kind, "quota") == 0)
        host->set_retryable(call, 0); /* waiting does not bring money */
    json_object_put(o);
}

/* ------------------------------------------------------------------ */
/* Models                                                              */
/* ------------------------------------------------------------------ */

static ac_status acme_build_models_request(void *state, ac_http_request *out, ac_call *call)
{
    const acme *a = state;
    ac_status st = host->http_set(out, "GET", a->models_url, AC_FRAMING_NONE, call);
    return st == AC_OK ? auth(a, out, call) : st;
}

static ac_status acme_parse_models(void *state, const char *b, size_t len, ac_model_list *out,
                                   ac_call *call)
{
    (void)state;
    json_object *o = host->json_parse(call, b, len, "Acme model list");
    if (!o)
        return AC_EJSON;
    json_object *list = ac_sdk_json_array(o, "models");
    ac_status st = AC_OK;
    if (!list)
        st = host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "Acme model list without "
                        "\"models\"");
    for (size_t i = 0; st == AC_OK && list && i < json_object_array_length(list); i++) {
        const char *id = ac_sdk_json_string(json_object_array_get_idx(list, i), "id");
        if (id)
            st = host->models_add(out, id);
    }
    json_object_put(o);
    return st;
}

/* ------------------------------------------------------------------ */
/* The descriptor and the entry point                                   */
/* ------------------------------------------------------------------ */

#if AC_ABI_MINOR >= 1
/* The settings this plugin reads beyond the core's (base_url, api_key,
 * default_model, timeouts, ...: ac_core_provider_setting lists them).
 * Acme reads none; add the names of yours ("acme_region", ...).  With the
 * list, a key of a provider group that neither the core nor the plugin
 * reads is an error naming file, line and the nearest name, so a typo
 * never passes silently.
 *
 * Why the #if: `settings` came with ABI 2.1, and this same file is also
 * built against the ABI 2.0 headers (tests/abi/2.0, by make check) to
 * prove that a plugin written for 2.0 still loads.  Built that way it
 * declares nothing, and the core only warns about keys it does not know.
 * A plugin of your own needs no #if if it only targets 2.1 and later. */
static const char *const acme_settings[] = { NULL };
#endif

static const ac_provider acme_provider = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "acme",
    .version = ACME_VERSION,
    .description = "Acme Completions (the SDK's template plugin)",
    .features = 0, /* text only: no tools, no structured output, no images */
    .default_base_url = "http://localhost:8800",
    .default_model = "acme-1",
    .init = acme_init,
    .fini = acme_fini,
    .build_request = acme_build_request,
    .parse_response = acme_parse_response,
    .parse_event = acme_parse_event,
    .parse_error = acme_parse_error,
    .build_models_request = acme_build_models_request,
    .parse_models = acme_parse_models,
#if AC_ABI_MINOR >= 1
    .settings = acme_settings,
#endif
};

AC_PLUGIN_EXPORT const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    return &acme_provider;
}
