/*
 * response.c -- ac_response storage, accessors and JSON form.
 */
#include "response.h"
#include "alloc.h"
#include "hook.h"
#include "tools/toolrender.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void calls_free(ac_response *r)
{
    for (size_t i = 0; i < r->n_calls; i++) {
        ac__free(r->calls[i].id);
        ac__free(r->calls[i].name);
        ac__buf_free(&r->calls[i].args);
    }
    ac__free(r->calls);
    r->calls = NULL;
    r->n_calls = 0;
}

int ac__response_set_str(char **slot, const char *s)
{
    char *d = ac__strdup(s ? s : "");
    if (!d)
        return -1;
    ac__free(*slot);
    *slot = d;
    return 0;
}

ac_response *ac__response_new(const char *provider, const char *model, size_t limit)
{
    ac_response *r = ac__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->content.limit = r->reasoning.limit = limit;
    r->input_tokens = r->output_tokens = -1;
    r->attempts = 1;
    if (ac__response_set_str(&r->provider, provider) || ac__response_set_str(&r->model, model)) {
        ac_response_free(r);
        return NULL;
    }
    return r;
}

void ac__response_reset(ac_response *r)
{
    ac__buf_reset(&r->content);
    ac__buf_reset(&r->reasoning);
    calls_free(r);
    ac__free(r->finish);
    ac__free(r->raw_finish);
    ac__free(r->raw_json);
    r->finish = r->raw_finish = r->raw_json = NULL;
    r->input_tokens = r->output_tokens = -1;
    json_object_put(r->json);
    r->json = NULL;
    ac__free(r->json_text);
    ac__free(r->schema_errors);
    r->json_text = r->schema_errors = NULL;
    for (size_t i = 0; i < r->n_serr; i++) {
        ac__free(r->serr[i].instance_path);
        ac__free(r->serr[i].keyword);
        ac__free(r->serr[i].schema_path);
        ac__free(r->serr[i].message);
    }
    ac__free(r->serr);
    r->serr = NULL;
    r->n_serr = 0;
    for (size_t i = 0; i < r->n_warnings; i++)
        ac__free(r->warnings[i]);
    ac__free(r->warnings);
    r->warnings = NULL;
    r->n_warnings = 0;
}

static void tries_free(attempt_rec *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ac__free(t[i].provider);
        ac__free(t[i].model);
    }
    ac__free(t);
}

void ac__response_take_attempts(ac_response *r, attempt_rec *tries, size_t n)
{
    tries_free(r->tries, r->n_tries);
    ac__free(r->tries_v);
    r->tries = tries;
    r->tries_v = NULL;
    r->n_tries = 0;
    if (!n)
        return;
    ac_attempt *v = ac__calloc(n, sizeof *v);
    if (!v) {
        tries_free(tries, n);
        r->tries = NULL;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].provider = tries[i].provider;
        v[i].model = tries[i].model;
        v[i].status = tries[i].status;
        v[i].http_status = tries[i].http_status;
        v[i].started_ms = tries[i].started_ms;
        v[i].latency_ms = tries[i].latency_ms;
    }
    r->tries_v = v;
    r->n_tries = n;
}

size_t ac_response_attempt_count(const ac_response *r) { return r ? r->n_tries : 0; }
const ac_attempt *ac_response_attempt(const ac_response *r, size_t i)
{
    return r && i < r->n_tries ? &r->tries_v[i] : NULL;
}

int ac__response_warn(ac_response *r, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* A model can make any number of them: keep the first 32. */
    if (r->n_warnings >= 32)
        return 0;
    char **w = ac__realloc(r->warnings, (r->n_warnings + 1) * sizeof *w);
    if (!w)
        return -1;
    r->warnings = w;
    if (!(w[r->n_warnings] = ac__strdup(line)))
        return -1;
    r->n_warnings++;
    return 0;
}

void ac_response_free(ac_response *r)
{
    if (!r)
        return;
    ac__response_reset(r);
    ac__response_take_attempts(r, NULL, 0);
    ac__buf_free(&r->content);
    ac__buf_free(&r->reasoning);
    ac__free(r->model);
    ac__free(r->provider);
    ac__free(r);
}

const char *ac_response_content(const ac_response *r)
{
    return r && r->content.data ? r->content.data : "";
}
size_t ac_response_content_len(const ac_response *r) { return r ? r->content.len : 0; }
const char *ac_response_reasoning(const ac_response *r)
{
    return r && r->reasoning.data ? r->reasoning.data : "";
}
const char *ac_response_finish_reason(const ac_response *r)
{
    return r && r->finish ? r->finish : "";
}
const char *ac_response_raw_finish_reason(const ac_response *r)
{
    return r && r->raw_finish ? r->raw_finish : "";
}
long ac_response_input_tokens(const ac_response *r) { return r ? r->input_tokens : -1; }
long ac_response_output_tokens(const ac_response *r) { return r ? r->output_tokens : -1; }
const char *ac_response_model(const ac_response *r) { return r && r->model ? r->model : ""; }
const char *ac_response_provider(const ac_response *r)
{
    return r && r->provider ? r->provider : "";
}
double ac_response_latency_ms(const ac_response *r) { return r ? r->latency_ms : 0; }
const char *ac_response_raw_json(const ac_response *r) { return r ? r->raw_json : NULL; }
size_t ac_response_tool_call_count(const ac_response *r) { return r ? r->n_calls : 0; }

const char *ac_response_tool_call_id(const ac_response *r, size_t i)
{
    return r && i < r->n_calls ? (r->calls[i].id ? r->calls[i].id : "") : NULL;
}
const char *ac_response_tool_call_name(const ac_response *r, size_t i)
{
    return r && i < r->n_calls ? (r->calls[i].name ? r->calls[i].name : "") : NULL;
}
const char *ac_response_tool_call_arguments(const ac_response *r, size_t i)
{
    if (!r || i >= r->n_calls)
        return NULL;
    return r->calls[i].args.len ? r->calls[i].args.data : "{}";
}
int ac_response_tool_call_truncated(const ac_response *r, size_t i)
{
    return r && i < r->n_calls ? r->calls[i].truncated : 0;
}

const char *ac_response_json_text(const ac_response *r) { return r ? r->json_text : NULL; }
struct json_object *ac_response_json(const ac_response *r) { return r ? r->json : NULL; }
const char *ac_response_schema_errors(const ac_response *r)
{
    return r ? r->schema_errors : NULL;
}

int ac__response_add_schema_error(ac_response *r, const char *instance_path,
                                  const char *keyword, const char *schema_path,
                                  const char *message)
{
    if (r->n_serr >= AC__RESP_SCHEMA_ERRORS)
        return 0;
    struct resp_schema_error *v = ac__realloc(r->serr, (r->n_serr + 1) * sizeof *v);
    if (!v)
        return -1;
    r->serr = v;
    struct resp_schema_error *e = &v[r->n_serr];
    e->instance_path = ac__strdup(instance_path ? instance_path : "");
    e->keyword = ac__strdup(keyword ? keyword : "");
    e->schema_path = ac__strdup(schema_path ? schema_path : "");
    e->message = ac__strdup(message ? message : "");
    if (!e->instance_path || !e->keyword || !e->schema_path || !e->message) {
        ac__free(e->instance_path);
        ac__free(e->keyword);
        ac__free(e->schema_path);
        ac__free(e->message);
        return -1;
    }
    r->n_serr++;
    return 0;
}

size_t ac_response_schema_error_count(const ac_response *r) { return r ? r->n_serr : 0; }

const char *ac_response_schema_error(const ac_response *r, size_t i, const char **instance_path,
                                     const char **keyword, const char **schema_path)
{
    if (!r || i >= r->n_serr)
        return NULL;
    if (instance_path)
        *instance_path = r->serr[i].instance_path;
    if (keyword)
        *keyword = r->serr[i].keyword;
    if (schema_path)
        *schema_path = r->serr[i].schema_path;
    return r->serr[i].message;
}
int ac_response_rounds(const ac_response *r) { return r ? r->attempts : 0; }
size_t ac_response_warning_count(const ac_response *r) { return r ? r->n_warnings : 0; }
const char *ac_response_warning(const ac_response *r, size_t i)
{
    return r && i < r->n_warnings ? r->warnings[i] : NULL;
}

char *ac_response_render_tool_calls(const ac_response *r, const char *family)
{
    ac__toolfam fam;
    if (!r || !family || ac__toolfam_parse(family, &fam) < 0)
        return NULL;
    if (!r->n_calls)
        return strdup(""); /* released with ac_free() == free() */
    ac__toolcall *calls = ac__calloc(r->n_calls, sizeof *calls);
    if (!calls)
        return NULL;
    for (size_t i = 0; i < r->n_calls; i++) {
        calls[i].id = ac_response_tool_call_id(r, i);
        calls[i].name = ac_response_tool_call_name(r, i);
        calls[i].args = r->calls[i].truncated ? "{}" : ac_response_tool_call_arguments(r, i);
        calls[i].args_len = strlen(calls[i].args);
    }
    ac_error err;
    char *text = ac__toolrender(fam, calls, r->n_calls, &err);
    ac__free(calls);
    /* ac__malloc'd: copy into what ac_free releases. */
    char *out = text ? strdup(text) : NULL;
    ac__free(text);
    return out;
}

char *ac_response_to_json(const ac_response *r)
{
    if (!r)
        return NULL;
    json_object *o = json_object_new_object();
    json_object *calls = json_object_new_array();
    json_object *usage = json_object_new_object();
    char *out = NULL;
    if (!o || !calls || !usage) {
        json_object_put(o);
        json_object_put(calls);
        json_object_put(usage);
        return NULL;
    }
    json_object_object_add(o, "content", json_object_new_string_len(
        ac_response_content(r), (int)ac_response_content_len(r)));
    if (r->reasoning.len)
        json_object_object_add(o, "reasoning", json_object_new_string(r->reasoning.data));
    for (size_t i = 0; i < r->n_calls; i++) {
        json_object *c = json_object_new_object();
        if (!c)
            continue;
        json_object_object_add(c, "id", json_object_new_string(ac_response_tool_call_id(r, i)));
        json_object_object_add(c, "name", json_object_new_string(ac_response_tool_call_name(r, i)));
        json_object *args = NULL;
        if (!r->calls[i].truncated)
            args = json_tokener_parse(ac_response_tool_call_arguments(r, i));
        if (args && json_object_is_type(args, json_type_object)) {
            json_object_object_add(c, "arguments", args);
        } else {
            /* Not an object (cut off by the token limit): give the text as
             * received and say so, rather than pretend it is valid. */
            json_object_put(args);
            json_object_object_add(c, "arguments", json_object_new_string(
                ac_response_tool_call_arguments(r, i)));
            json_object_object_add(c, "truncated", json_object_new_boolean(1));
        }
        json_object_array_add(calls, c);
    }
    json_object_object_add(o, "tool_calls", calls);
    json_object_object_add(o, "finish_reason", json_object_new_string(ac_response_finish_reason(r)));
    json_object_object_add(o, "raw_finish_reason",
                           json_object_new_string(ac_response_raw_finish_reason(r)));
    json_object_object_add(usage, "input_tokens", r->input_tokens >= 0
                               ? json_object_new_int64(r->input_tokens) : NULL);
    json_object_object_add(usage, "output_tokens", r->output_tokens >= 0
                               ? json_object_new_int64(r->output_tokens) : NULL);
    json_object_object_add(o, "usage", usage);
    json_object_object_add(o, "provider", json_object_new_string(ac_response_provider(r)));
    json_object_object_add(o, "model", json_object_new_string(ac_response_model(r)));
    json_object_object_add(o, "latency_ms", json_object_new_double(r->latency_ms));
    if (r->json)
        json_object_object_add(o, "json", json_object_get(r->json));
    if (r->schema_errors)
        json_object_object_add(o, "schema_errors", json_object_new_string(r->schema_errors));
    if (r->attempts > 1)
        json_object_object_add(o, "rounds", json_object_new_int(r->attempts));
    if (r->n_tries) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < r->n_tries; i++) {
            json_object *t = json_object_new_object();
            if (!t)
                continue;
            const char *st = ac_strerror(r->tries_v[i].status), *colon = strchr(st, ':');
            json_object_object_add(t, "provider", json_object_new_string(r->tries_v[i].provider));
            json_object_object_add(t, "model", json_object_new_string(r->tries_v[i].model));
            json_object_object_add(t, "status", json_object_new_string_len(
                st, colon ? (int)(colon - st) : (int)strlen(st)));
            if (r->tries_v[i].http_status)
                json_object_object_add(t, "http_status",
                                       json_object_new_int(r->tries_v[i].http_status));
            json_object_object_add(t, "latency_ms",
                                   json_object_new_double(r->tries_v[i].latency_ms));
            json_object_array_add(a, t);
        }
        json_object_object_add(o, "attempts", a);
    }
    if (r->n_warnings) {
        json_object *w = json_object_new_array();
        for (size_t i = 0; w && i < r->n_warnings; i++)
            json_object_array_add(w, json_object_new_string(r->warnings[i]));
        json_object_object_add(o, "warnings", w);
    }
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s)
        out = strdup(s); /* released with ac_free() == free() */
    json_object_put(o);
    return out;
}
