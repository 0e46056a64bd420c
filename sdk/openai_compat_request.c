/*
 * openai_compat_request.c -- the requests of the OpenAI-compatible codec:
 * POST {base}/chat/completions with its JSON body, and GET {base}/models.
 *
 * The body is built as a json-c object (never by hand), following
 * PROTOCOLS.md section 1 "Request fields that matter": messages with
 * image parts, assistant tool calls whose arguments travel as a JSON
 * string, tool results, the token limit in the field the dialect names,
 * sampling parameters written the short way, tools, tool_choice,
 * response_format in the dialect's form, and stream_options so that usage
 * arrives at the end of a stream.  The dialect's edit_body hook sees the
 * finished object before it is serialized.
 *
 * Reads the state made in openai_compat.c and nothing else; safe on any
 * thread.  Memory comes from json-c and the host.
 */
#include "openai_compat_internal.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Add val to obj (or arr).  Takes ownership of val even on failure, so
 * callers can chain constructors: a NULL val (out of memory) fails too. */
static int oai_add(json_object *obj, const char *key, json_object *val)
{
    if (!val)
        return -1;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

static int oai_append(json_object *arr, json_object *val)
{
    if (!val)
        return -1;
    if (json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

static int oai_add_str(json_object *obj, const char *key, const char *s)
{
    return oai_add(obj, key, json_object_new_string(s ? s : ""));
}

/* A double serialized the short way: json-c's own "%.17g" would send
 * 0.7 as 0.69999999999999996.  The text is fixed up for locales whose
 * decimal point is a comma. */
static json_object *oai_new_double(double d)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", d);
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = '.';
    return json_object_new_double_s(d, buf);
}

/* ------------------------------------------------------------------ */
/* Building requests                                                   */
/* ------------------------------------------------------------------ */

/* Headers common to every request. */
static ac_status oai_headers(const oai_state *st, ac_http_request *out,
                             int has_body, const char *accept)
{
    const ac_host_api *h = st->host;
    ac_status rc = AC_OK;

    if (has_body)
        rc = h->http_header(out, "Content-Type", "application/json");
    if (rc == AC_OK)
        rc = h->http_header(out, "Accept", accept);
    if (rc == AC_OK && st->auth_header)
        rc = h->http_header(out, "Authorization", st->auth_header);
    if (rc == AC_OK && st->organization)
        rc = h->http_header(out, "OpenAI-Organization", st->organization);
    if (rc == AC_OK && st->project)
        rc = h->http_header(out, "OpenAI-Project", st->project);
    if (st->dialect.extra_headers) {
        const char *const *x = st->dialect.extra_headers;
        for (; rc == AC_OK && x[0] && x[1]; x += 2)
            rc = h->http_header(out, x[0], x[1]);
    }
    return rc;
}

static const char *oai_role(ac_role r)
{
    switch (r) {
    case AC_ROLE_SYSTEM:    return "system";
    case AC_ROLE_USER:      return "user";
    case AC_ROLE_ASSISTANT: return "assistant";
    case AC_ROLE_TOOL:      return "tool";
    }
    return NULL;
}

/* Parse a JSON object given as text (tool parameters, a schema).  NULL
 * with AC_EINVAL filled when it is not one. */
static json_object *oai_parse_object(const oai_state *st, const char *text,
                                     const char *what, const char *name,
                                     ac_error *err)
{
    ac_error perr;
    memset(&perr, 0, sizeof perr);
    json_object *o = text ? st->host->json_parse(text, strlen(text), what,
                                                 &perr) : NULL;
    if (o && json_object_is_type(o, json_type_object))
        return o;
    json_object_put(o);
    st->host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                        "%s '%s' is not a JSON object", what, name);
    return NULL;
}

/* One message in OpenAI's shape.  NULL on failure (*rc says why). */
static json_object *oai_message(const oai_state *st, const ac_message *m,
                                ac_status *rc, ac_error *err)
{
    json_object *o = json_object_new_object();
    const char *role = oai_role(m->role);
    const char *text = m->content ? m->content : "";

    *rc = AC_ENOMEM;
    if (!o)
        return NULL;
    if (!role) {
        st->host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                            "message with an unknown role %d", (int)m->role);
        *rc = AC_EINVAL;
        goto fail;
    }
    if ((m->n_images && !m->images) || (m->n_tool_calls && !m->tool_calls)) {
        st->host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                            "malformed %s message", role);
        *rc = AC_EINVAL;
        goto fail;
    }
    if (oai_add_str(o, "role", role))
        goto fail;

    if (m->role == AC_ROLE_USER && m->n_images > 0) {
        /* Images make content an array of parts. */
        json_object *parts = json_object_new_array();
        if (oai_add(o, "content", parts))
            goto fail;
        if (*text) {
            json_object *p = json_object_new_object();
            if (oai_append(parts, p) || oai_add_str(p, "type", "text") ||
                oai_add_str(p, "text", text))
                goto fail;
        }
        for (size_t i = 0; i < m->n_images; i++) {
            json_object *p = json_object_new_object();
            json_object *iu = json_object_new_object();
            if (oai_append(parts, p)) {
                json_object_put(iu);
                goto fail;
            }
            if (oai_add(p, "image_url", iu) ||
                oai_add_str(p, "type", "image_url") ||
                oai_add_str(iu, "url", m->images[i] ? m->images[i] : ""))
                goto fail;
        }
    } else if (m->role == AC_ROLE_ASSISTANT && m->n_tool_calls > 0) {
        /* A tool-call turn: content null when empty (PROTOCOLS.md 1). */
        if (*text ? oai_add_str(o, "content", text)
                  : json_object_object_add(o, "content", NULL))
            goto fail;
        json_object *calls = json_object_new_array();
        if (oai_add(o, "tool_calls", calls))
            goto fail;
        for (size_t i = 0; i < m->n_tool_calls; i++) {
            const ac_tool_call *tc = &m->tool_calls[i];
            json_object *c = json_object_new_object();
            json_object *fn = json_object_new_object();
            if (oai_append(calls, c)) {
                json_object_put(fn);
                goto fail;
            }
            /* arguments travel as a JSON *string*. */
            if (oai_add(c, "function", fn) ||
                oai_add_str(c, "id", tc->id) ||
                oai_add_str(c, "type", "function") ||
                oai_add_str(fn, "name", tc->name) ||
                oai_add_str(fn, "arguments",
                            tc->arguments ? tc->arguments : "{}"))
                goto fail;
        }
    } else {
        if (oai_add_str(o, "content", text))
            goto fail;
    }
    if (m->role == AC_ROLE_TOOL &&
        oai_add_str(o, "tool_call_id", m->tool_call_id))
        goto fail;
    *rc = AC_OK;
    return o;

fail:
    if (*rc == AC_ENOMEM)
        st->host->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    json_object_put(o);
    return NULL;
}

/* tools, tool_choice and response_format. */
static ac_status oai_body_tools(const oai_state *st, const ac_gen_request *req,
                                json_object *body, ac_error *err)
{
    const ac_host_api *h = st->host;

    if (req->n_tools > 0) {
        json_object *tools = json_object_new_array();
        if (oai_add(body, "tools", tools))
            goto nomem;
        for (size_t i = 0; i < req->n_tools; i++) {
            const ac_tool_def *td = &req->tools[i];
            json_object *params = oai_parse_object(st, td->parameters_json,
                                                   "tool parameters",
                                                   td->name ? td->name : "",
                                                   err);
            if (!params)
                return AC_EINVAL;
            json_object *t = json_object_new_object();
            json_object *fn = json_object_new_object();
            if (oai_append(tools, t)) {
                json_object_put(fn);
                json_object_put(params);
                goto nomem;
            }
            if (oai_add(t, "function", fn)) {
                json_object_put(params);
                goto nomem;
            }
            if (oai_add_str(t, "type", "function") ||
                oai_add_str(fn, "name", td->name) ||
                (td->description &&
                 oai_add_str(fn, "description", td->description)) ||
                oai_add(fn, "parameters", params))
                goto nomem;
        }
    }

    if (req->tool_choice && *req->tool_choice) {
        const char *c = req->tool_choice;
        if (strcmp(c, "auto") == 0 || strcmp(c, "none") == 0 ||
            strcmp(c, "required") == 0) {
            if (oai_add_str(body, "tool_choice", c))
                goto nomem;
        } else {
            json_object *tc = json_object_new_object();
            json_object *fn = json_object_new_object();
            if (oai_add(body, "tool_choice", tc)) {
                json_object_put(fn);
                goto nomem;
            }
            if (oai_add(tc, "function", fn) ||
                oai_add_str(tc, "type", "function") ||
                oai_add_str(fn, "name", c))
                goto nomem;
        }
    }

    if (req->json_schema) {
        const char *name = req->json_schema_name && *req->json_schema_name
                           ? req->json_schema_name : "response";
        json_object *schema = oai_parse_object(st, req->json_schema,
                                               "JSON schema", name, err);
        if (!schema)
            return AC_EINVAL;
        json_object *rf = json_object_new_object();
        if (oai_add(body, "response_format", rf)) {
            json_object_put(schema);
            goto nomem;
        }
        if (st->dialect.schema_form == AC_OAI_SCHEMA_JSON_OBJECT) {
            if (oai_add_str(rf, "type", "json_object") ||
                oai_add(rf, "schema", schema))
                goto nomem;
        } else {
            /* OpenAI's strict mode rejects (HTTP 400) any schema that does
             * not close its objects with "additionalProperties": false and
             * list every property as required.  Ask for it only when the
             * caller wrote such a schema; otherwise the schema still guides
             * the reply, without the 400. */
            json_object *ap = NULL;
            int strict = json_object_object_get_ex(schema, "additionalProperties", &ap) &&
                         json_object_is_type(ap, json_type_boolean) &&
                         !json_object_get_boolean(ap);
            json_object *js = json_object_new_object();
            if (oai_add(rf, "json_schema", js)) {
                json_object_put(schema);
                goto nomem;
            }
            if (oai_add_str(rf, "type", "json_schema") ||
                oai_add_str(js, "name", name) ||
                oai_add(js, "schema", schema) ||
                oai_add(js, "strict", json_object_new_boolean(strict)))
                goto nomem;
        }
    }
    return AC_OK;

nomem:
    h->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    return AC_ENOMEM;
}

/* The whole request body. */
static ac_status oai_body(const oai_state *st, const ac_gen_request *req,
                          json_object *body, ac_error *err)
{
    const ac_host_api *h = st->host;
    ac_status rc;
    const char *model = req->model && *req->model ? req->model
                                                  : st->default_model;

    /* mlx-lm treats model as optional; send it whenever we know one. */
    if (model && *model && oai_add_str(body, "model", model))
        goto nomem;

    json_object *msgs = json_object_new_array();
    if (oai_add(body, "messages", msgs))
        goto nomem;
    for (size_t i = 0; i < req->n_messages; i++) {
        json_object *m = oai_message(st, &req->messages[i], &rc, err);
        if (!m)
            return rc;
        if (oai_append(msgs, m))
            goto nomem;
    }

    if (req->has_max_tokens &&
        oai_add(body, st->dialect.max_tokens_field ==
                      AC_OAI_MAX_COMPLETION_TOKENS ? "max_completion_tokens"
                                                   : "max_tokens",
                json_object_new_int64(req->max_tokens)))
        goto nomem;
    if (req->has_temperature &&
        oai_add(body, "temperature", oai_new_double(req->temperature)))
        goto nomem;
    if (req->has_top_p && oai_add(body, "top_p", oai_new_double(req->top_p)))
        goto nomem;
    if (req->has_seed &&
        oai_add(body, "seed", json_object_new_int64((int64_t)req->seed)))
        goto nomem;
    if (req->n_stop > 0) {
        json_object *stop = json_object_new_array();
        if (oai_add(body, "stop", stop))
            goto nomem;
        for (size_t i = 0; i < req->n_stop; i++)
            if (oai_append(stop, json_object_new_string(
                                     req->stop[i] ? req->stop[i] : "")))
                goto nomem;
    }

    rc = oai_body_tools(st, req, body, err);
    if (rc != AC_OK)
        return rc;

    if (req->stream) {
        if (oai_add(body, "stream", json_object_new_boolean(1)))
            goto nomem;
        /* Usage comes only in a final chunk asked for this way. */
        if (!st->dialect.omit_stream_usage) {
            json_object *so = json_object_new_object();
            if (oai_add(body, "stream_options", so) ||
                oai_add(so, "include_usage", json_object_new_boolean(1)))
                goto nomem;
        }
    }
    return AC_OK;

nomem:
    h->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    return AC_ENOMEM;
}

ac_status ac_oai_build_request(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_error *err)
{
    const oai_state *st = state;
    json_object *body = NULL;
    ac_status rc;

    if (!st) {
        oai_error_raw(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "openai_compat: no state");
        return AC_EINVAL;
    }
    const ac_host_api *h = st->host;
    if (!req || !out || req->struct_size <
            offsetof(ac_gen_request, json_schema_name) + sizeof(char *) ||
        (req->n_messages && !req->messages) || (req->n_tools && !req->tools) ||
        (req->n_stop && !req->stop)) {
        h->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                     "openai_compat: malformed request");
        return AC_EINVAL;
    }

    body = json_object_new_object();
    if (!body) {
        h->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return AC_ENOMEM;
    }
    rc = oai_body(st, req, body, err);
    if (rc != AC_OK)
        goto done;
    if (st->dialect.edit_body) {
        rc = st->dialect.edit_body(st, req, body, err);
        if (rc != AC_OK)
            goto done;
    }

    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!text) {
        h->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        rc = AC_ENOMEM;
        goto done;
    }
    rc = h->http_set(out, "POST", st->chat_url,
                     req->stream ? AC_FRAMING_SSE : AC_FRAMING_NONE);
    if (rc == AC_OK)
        rc = oai_headers(st, out, 1, req->stream ? "text/event-stream"
                                                 : "application/json");
    if (rc == AC_OK)
        rc = h->http_body(out, text, len);
    if (rc != AC_OK)
        h->error_set(err, rc, AC_STAGE_REQUEST,
                     "could not build the HTTP request");

done:
    json_object_put(body);
    return rc;
}

ac_status ac_oai_build_models_request(void *state, ac_http_request *out,
                                      ac_error *err)
{
    const oai_state *st = state;
    if (!st || !out) {
        oai_error_raw(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "openai_compat: no state");
        return AC_EINVAL;
    }
    ac_status rc = st->host->http_set(out, "GET", st->models_url,
                                      AC_FRAMING_NONE);
    if (rc == AC_OK)
        rc = oai_headers(st, out, 0, "application/json");
    if (rc != AC_OK)
        st->host->error_set(err, rc, AC_STAGE_REQUEST,
                            "could not build the HTTP request");
    return rc;
}
