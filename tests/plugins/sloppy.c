/*
 * sloppy.c -- an Acme Completions plugin (sdk/template/README.md) with one
 * mistake of a kind real plugins make, chosen by the setting `bug`, for
 * tests/test_template.sh to show that acore-provider-check names each:
 *
 *   init_leak      init takes a block fini never gives back
 *   oom_silent     build_request fails on no memory without host->fail
 *   drop_parts     parts it cannot take are dropped, not refused
 *   no_finish      a stream never emits its finish
 *   error_ignored  an error line inside a stream is skipped
 *   always_retry   every HTTP error is called retryable
 *   no_quote       HTTP errors do not quote the server's message
 *   log_key        init logs the key (the core must scrub it)
 *
 * With no bug it is a correct, minimal Acme plugin.
 */
#include <abstractcore/provider.h>
#include <abstractcore/sdk.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const ac_host_api *host;

typedef struct sloppy {
    char  url[512];
    char *key;
    char  bug[32];
    void *leak;
} sloppy;

static int bug(const sloppy *s, const char *name) { return strcmp(s->bug, name) == 0; }

static void sl_fini(void *state)
{
    sloppy *s = state;
    if (!s)
        return;
    if (!bug(s, "init_leak"))
        host->free(s->leak);
    host->free(s->key);
    host->free(s);
}

static ac_status sl_init(const ac_settings *st, void **state, ac_call *call)
{
    const char *base = NULL, *b = NULL;
    host->setting_string(st, "base_url", &base);
    sloppy *s = host->malloc(sizeof *s);
    if (!s)
        return host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    memset(s, 0, sizeof *s);
    if (host->setting_string(st, "bug", &b) == 1)
        snprintf(s->bug, sizeof s->bug, "%s", b);
    snprintf(s->url, sizeof s->url, "%s/v1/complete", base ? base : "http://localhost:8800");
    ac_status rc = host->secret(st, "ACME_API_KEY", &s->key, call);
    if (rc == AC_OK && !(s->leak = host->malloc(16)))
        rc = host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    if (rc != AC_OK) {
        s->bug[0] = '\0';
        sl_fini(s);
        return rc;
    }
    if (bug(s, "log_key"))
        host->log(call, AC_LOG_WARN, "using key %s", s->key ? s->key : "(none)");
    *state = s;
    return AC_OK;
}

static ac_status sl_build(void *state, const ac_gen_request *req, ac_http_request *out,
                          ac_call *call)
{
    const sloppy *s = state;
    json_object *b = json_object_new_object(), *msgs = json_object_new_array();
    json_object_object_add(b, "model", json_object_new_string(req->model));
    json_object_object_add(b, "messages", msgs);
    if (req->stream)
        json_object_object_add(b, "stream", json_object_new_boolean(1));
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = host->message(req, i);
        for (size_t j = 0; j < m->n_parts; j++)
            if (host->message_part(m, j)->type != AC_PART_TEXT && !bug(s, "drop_parts")) {
                json_object_put(b);
                return host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                  "message %zu: text only", i);
            }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "text", json_object_new_string_len(m->text, (int)m->text_len));
        json_object_array_add(msgs, o);
    }
    ac_status st = host->http_set(out, "POST", s->url,
                                  req->stream ? AC_FRAMING_NDJSON : AC_FRAMING_NONE, call);
    if (st == AC_OK && s->key)
        st = host->http_header(out, "X-Acme-Key", s->key, call);
    if (st == AC_OK) {
        size_t n;
        char *text = ac_sdk_json_text(host, call, b, &n);
        st = text ? AC_OK : AC_ENOMEM;
        if (text && bug(s, "oom_silent")) { /* a needless copy that fails in silence */
            char *copy = host->malloc(n + 1);
            if (!copy)
                st = AC_ENOMEM;
            host->free(copy);
        }
        if (st == AC_OK)
            st = host->http_body(out, text, n, call);
        host->free(text);
    }
    json_object_put(b);
    return st;
}

static ac_status finish(ac_sink *k, json_object *o)
{
    json_object *u = ac_sdk_json_object(o, "usage");
    long long in = -1, out = -1;
    ac_sdk_json_int(u, "input", &in);
    ac_sdk_json_int(u, "output", &out);
    ac_status st = u ? host->emit_usage(k, (long)in, (long)out) : AC_OK;
    return st == AC_OK ? host->emit_finish(k, "stop", ac_sdk_json_string(o, "stop_reason")) : st;
}

static ac_status sl_parse_response(void *state, int status, const char *b, size_t len,
                                   ac_sink *k, ac_call *call)
{
    (void)state, (void)status;
    json_object *o = host->json_parse(call, b, len, "Acme reply");
    if (!o)
        return AC_EJSON;
    const char *t = ac_sdk_json_string(o, "text");
    ac_status st = t ? host->emit_text(k, t, strlen(t))
                     : host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "no text");
    if (st == AC_OK)
        st = finish(k, o);
    json_object_put(o);
    return st;
}

static ac_status sl_parse_event(void *state, const ac_frame *ev, ac_sink *k, ac_call *call)
{
    const sloppy *s = state;
    json_object *o = host->json_parse(call, ev->data, ev->data_len, "Acme line");
    if (!o)
        return AC_EJSON;
    ac_status st = AC_OK;
    json_object *e = ac_sdk_json_object(o, "error");
    if (e && !bug(s, "error_ignored"))
        st = host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "Acme: %s",
                        ac_sdk_json_string(e, "message") ? ac_sdk_json_string(e, "message")
                                                         : "error");
    else if (ac_sdk_json_string(o, "text"))
        st = host->emit_text(k, ac_sdk_json_string(o, "text"),
                             strlen(ac_sdk_json_string(o, "text")));
    else if (ac_sdk_json_object(o, "usage") && !bug(s, "no_finish"))
        st = finish(k, o);
    json_object_put(o);
    return st;
}

static void sl_parse_error(void *state, int status, const char *b, size_t len, ac_call *call)
{
    const sloppy *s = state;
    char ex[200];
    if (!bug(s, "no_quote"))
        host->fail(call, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d: %s", status,
                   ac_sdk_excerpt(b, len, ex, sizeof ex));
    if (bug(s, "always_retry"))
        host->set_retryable(call, 1);
    else if (len && memmem(b, len, "\"quota\"", 7))
        host->set_retryable(call, 0); /* waiting does not bring money */
}

static const ac_provider sloppy_provider = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "sloppy",
    .version = "0.1",
    .description = "Acme with one mistake (tests of acore-provider-check)",
    .init = sl_init,
    .fini = sl_fini,
    .build_request = sl_build,
    .parse_response = sl_parse_response,
    .parse_event = sl_parse_event,
    .parse_error = sl_parse_error,
};

AC_PLUGIN_EXPORT const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    return &sloppy_provider;
}
