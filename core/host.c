/*
 * host.c -- the host table (ac_host_api, ABI 2) the core hands to every
 * plugin: reporting (call.c), allocation, settings and secrets
 * (settings.c), strict JSON parsing, the generic request's messages, parts
 * and tools (chat.c, message.c), building the HTTP request, and emitting
 * into the sink (sink.c).  The table is static and append-only (SQLite's
 * rule); its functions are thread-safe.
 */
#include "alloc.h"
#include "call.h"
#include "chat.h"
#include "embed.h"
#include "error.h"
#include "http.h"
#include "plugin.h"
#include "settings.h"
#include "sink.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ---- */

static json_object *json_parse_err(const char *text, size_t len, const char *what,
                                   ac_error *err)
{
    if (!text || len > (size_t)0x7fffffff) {
        ac__error_set(err, AC_EJSON, AC_STAGE_JSON, "%s: no JSON text", what ? what : "JSON");
        return NULL;
    }
    json_tokener *t = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!t) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_JSON, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(t, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(t);
    if (je == json_tokener_continue) {
        /* Strict mode needs the end of input to finish a top-level number;
         * anything else still open is truncated JSON. */
        o = json_tokener_parse_ex(t, "", 1);
        je = json_tokener_get_error(t);
    }
    size_t end = json_tokener_get_parse_end(t);
    if (o && je == json_tokener_success) {
        while (end < len && strchr(" \t\r\n", text[end]))
            end++;
        if (end < len) {
            json_object_put(o);
            o = NULL;
            ac__error_set(err, AC_EJSON, AC_STAGE_JSON, "%s: unexpected data after the JSON value "
                      "at byte %zu", what ? what : "JSON", end);
        }
    } else if (je == json_tokener_success) {
        /* The text was `null`: json-c's value for it is NULL, which a
         * caller cannot tell from a failure, so it is one. */
        ac__error_set(err, AC_EJSON, AC_STAGE_JSON, "%s: null where a JSON value was expected",
                      what ? what : "JSON");
    } else {
        json_object_put(o);
        o = NULL;
        ac__error_set(err, AC_EJSON, AC_STAGE_JSON, "%s: invalid JSON at byte %zu: %s",
                  what ? what : "JSON", end, json_tokener_error_desc(je));
    }
    json_tokener_free(t);
    return o;
}

static json_object *host_json_parse(ac_call *call, const char *text, size_t len,
                                    const char *what)
{
    ac_error err;
    ac_error_clear(&err);
    json_object *o = json_parse_err(text, len, what, &err);
    if (!o)
        ac__host_fail(call, err.code, err.stage, "%s", err.message);
    return o;
}

/* ---- HTTP request ---- */

void ac__http_request_clear(ac_http_request *rq)
{
    ac__free(rq->url);
    curl_slist_free_all(rq->headers);
    if (rq->body)
        ac__free(rq->body);
    memset(rq, 0, sizeof *rq);
}

static ac_status oom(ac_call *call)
{
    return ac__host_fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory building the request");
}

static ac_status host_http_set(ac_http_request *rq, const char *method, const char *url,
                               ac_framing framing, ac_call *call)
{
    if (!rq || !method || !url || strlen(method) >= sizeof rq->method ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return ac__host_fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                             "the plugin asked for a bad method or a URL that is not http(s)");
    char *u = ac__strdup(url);
    if (!u)
        return oom(call);
    ac__free(rq->url);
    rq->url = u;
    snprintf(rq->method, sizeof rq->method, "%s", method);
    rq->framing = framing;
    return AC_OK;
}

static ac_status host_http_header(ac_http_request *rq, const char *name, const char *value,
                                  ac_call *call)
{
    if (!rq || !name || !*name || !value || strpbrk(name, ":\r\n") || strpbrk(value, "\r\n"))
        return ac__host_fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                             "the plugin gave a header name with ':' or a line break in a header");
    char *line = ac__asprintf("%s: %s", name, value);
    if (!line)
        return oom(call);
    struct curl_slist *l = curl_slist_append(rq->headers, line);
    memset(line, 0, strlen(line)); /* it may carry a key */
    ac__free(line);
    if (!l)
        return oom(call);
    rq->headers = l;
    return AC_OK;
}

static ac_status host_http_body(ac_http_request *rq, const char *body, size_t len,
                                ac_call *call)
{
    if (!rq || (!body && len))
        return ac__host_fail(call, AC_EINVAL, AC_STAGE_REQUEST, "the plugin gave no body");
    char *b = ac__strndup(body ? body : "", len);
    if (!b)
        return oom(call);
    ac__free(rq->body);
    rq->body = b;
    rq->body_len = len;
    return AC_OK;
}

static unsigned long long host_call_order(const ac_call *c) { return c ? c->order : 0; }

static ac_status host_models_add(ac_model_list *l, const char *id)
{
    if (!l || !id)
        return AC_EINVAL;
    if (l->n >= 100000)
        return AC_ETOOBIG;
    char **v = ac__realloc(l->ids, (l->n + 1) * sizeof *v);
    if (!v)
        return AC_ENOMEM;
    l->ids = v;
    if (!(l->ids[l->n] = ac__strdup(id)))
        return AC_ENOMEM;
    l->n++;
    return AC_OK;
}

static const ac_host_api host_table = {
    .struct_size = sizeof(ac_host_api),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .fail = ac__host_fail,
    .set_retryable = ac__host_set_retryable,
    .set_http_status = ac__host_set_http_status,
    .cancelled = ac__host_cancelled,
    .log = ac__host_log,
    .malloc = ac__malloc,
    .realloc = ac__realloc,
    .free = ac__free,
    .strdup = ac__strdup,
    .setting_string = ac__settings_string,
    .setting_int = ac__settings_int,
    .setting_bool = ac__settings_bool,
    .setting_double = ac__settings_double,
    .setting_list_count = ac__settings_list_count,
    .setting_list_item = ac__settings_list_item,
    .setting_type = ac__settings_type,
    .settings_name = ac__settings_name,
    .secret = ac__settings_secret,
    .json_parse = host_json_parse,
    .message = ac__chat_message,
    .message_part = ac__msg_part,
    .tool = ac__chat_tool,
    .http_set = host_http_set,
    .http_header = host_http_header,
    .http_body = host_http_body,
    .emit_text = ac__sink_emit_text,
    .emit_reasoning = ac__sink_emit_reasoning,
    .emit_tool_call = ac__sink_emit_tool_call,
    .emit_tool_call_end = ac__sink_emit_tool_call_end,
    .emit_usage = ac__sink_emit_usage,
    .emit_finish = ac__sink_emit_finish,
    .emit_model = ac__sink_emit_model,
    .stream_slot = ac__sink_stream_slot,
    .models_add = host_models_add,
    .embed_text = ac__embed_text,
    .embed_vector = ac__embed_vector,
    .embed_usage = ac__embed_usage,
    .embed_model = ac__embed_model,
    .call_order = host_call_order,
};

const ac_host_api *ac__host_api(void) { return &host_table; }

void ac_free(void *ptr) { free(ptr); }

size_t ac_models_count(const ac_models *m) { return m ? m->l.n : 0; }
const char *ac_models_id(const ac_models *m, size_t i)
{
    return m && i < m->l.n ? m->l.ids[i] : NULL;
}
void ac_models_free(ac_models *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->l.n; i++)
        ac__free(m->l.ids[i]);
    ac__free(m->l.ids);
    ac__free(m);
}
