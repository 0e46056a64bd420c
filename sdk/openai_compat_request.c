/*
 * openai_compat_request.c -- the requests of the OpenAI-compatible codec:
 * POST {base}/chat/completions with its JSON body, and GET {base}/models.
 *
 * The body is built as a json-c object (never by hand), following
 * docs/protocols.md section 1 "Request fields that matter": messages made
 * of content parts (text, images as image_url parts, documents as text
 * parts labelled with their file name), assistant tool calls whose
 * arguments travel as a JSON string, tool results, the token limit in the
 * field the dialect names, sampling parameters written the short way,
 * tools, tool_choice, response_format in the dialect's form, and
 * stream_options so that usage arrives at the end of a stream.  The
 * dialect's edit_body hook sees the finished object, which is then written
 * with the SDK's checked serializer.
 *
 * Reads the state made in openai_compat.c and nothing else; safe on any
 * thread.  Memory comes from json-c and the host.
 */
#include "openai_compat_internal.h"
#include <abstractcore/sdk.h>

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

/* A double: ac_sdk_json_text writes it the short way (0.7, not
 * 0.69999999999999996), whatever the locale. */
static json_object *oai_new_double(double d) { return json_object_new_double(d); }

/* ------------------------------------------------------------------ */
/* Building requests                                                   */
/* ------------------------------------------------------------------ */

/* Headers common to every request (openai_compat_internal.h). */
ac_status oai_headers(const oai_state *st, ac_http_request *out,
                             int has_body, const char *accept, ac_call *call)
{
    const ac_host_api *h = st->host;
    ac_status rc = AC_OK;

    if (has_body)
        rc = h->http_header(out, "Content-Type", "application/json", call);
    if (rc == AC_OK)
        rc = h->http_header(out, "Accept", accept, call);
    if (rc == AC_OK && st->auth_header)
        rc = h->http_header(out, "Authorization", st->auth_header, call);
    if (rc == AC_OK && st->organization)
        rc = h->http_header(out, "OpenAI-Organization", st->organization, call);
    if (rc == AC_OK && st->project)
        rc = h->http_header(out, "OpenAI-Project", st->project, call);
    if (st->dialect.extra_headers) {
        const char *const *x = st->dialect.extra_headers;
        for (; rc == AC_OK && x[0] && x[1]; x += 2)
            rc = h->http_header(out, x[0], x[1], call);
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
                                     ac_call *call)
{
    json_object *o = text ? st->host->json_parse(call, text, strlen(text), what) : NULL;
    if (o && json_object_is_type(o, json_type_object))
        return o;
    json_object_put(o);
    st->host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                        "%s '%s' is not a JSON object", what, name);
    return NULL;
}

/* A content part object {"type": ..., ...} added to parts. */
static int oai_text_part(json_object *parts, const char *text)
{
    json_object *p = json_object_new_object();
    return oai_append(parts, p) || oai_add_str(p, "type", "text") || oai_add_str(p, "text", text);
}

/* An IMAGE part: {"type":"image_url","image_url":{"url": URL or data URL}}. */
static int oai_image_part(const oai_state *st, json_object *parts, const ac_part *img)
{
    json_object *p = json_object_new_object(), *iu = json_object_new_object();
    if (oai_append(parts, p)) {
        json_object_put(iu);
        return -1;
    }
    if (oai_add(p, "image_url", iu) || oai_add_str(p, "type", "image_url"))
        return -1;
    if (img->url)
        return oai_add_str(iu, "url", img->url);
    const char *mime = img->mime_type ? img->mime_type : "image/png";
    const char *b64 = img->data_base64 ? img->data_base64 : "";
    size_t n = strlen(mime) + strlen(b64) + 16;
    char *url = st->host->malloc(n);
    if (!url)
        return -1;
    snprintf(url, n, "data:%s;base64,%s", mime, b64);
    int rc = oai_add_str(iu, "url", url);
    st->host->free(url);
    return rc;
}

/* A document as text, labelled with its file name. */
static int oai_file_part(const oai_state *st, json_object *parts, const ac_part *f)
{
    const char *name = f->name ? f->name : "document";
    size_t n = strlen(name) + f->text_len + 32;
    char *t = st->host->malloc(n);
    if (!t)
        return -1;
    snprintf(t, n, "[file: %s]\n%.*s", name, (int)f->text_len, f->text ? f->text : "");
    int rc = oai_text_part(parts, t);
    st->host->free(t);
    return rc;
}

static ac_status oai_unsupported(const oai_state *st, const ac_part *p, const char *role,
                                 ac_call *call)
{
    return st->host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                          "a %s message with a content part of type %d, which this "
                          "backend cannot take", role, (int)p->type);
}

/* A user (or system) message: a string, or an array of parts when it
 * carries images or documents. */
static ac_status oai_user_content(const oai_state *st, const ac_message *m, json_object *o,
                                  const char *role, ac_call *call)
{
    const ac_host_api *h = st->host;
    int rich = 0;
    for (size_t i = 0; i < m->n_parts; i++) {
        const ac_part *p = h->message_part(m, i);
        if (p->type == AC_PART_IMAGE || p->type == AC_PART_FILE)
            rich = 1;
        else if (p->type != AC_PART_TEXT)
            return oai_unsupported(st, p, role, call);
    }
    if (!rich)
        return oai_add_str(o, "content", m->text) ? AC_ENOMEM : AC_OK;
    json_object *parts = json_object_new_array();
    if (oai_add(o, "content", parts))
        return AC_ENOMEM;
    for (size_t i = 0; i < m->n_parts; i++) {
        const ac_part *p = h->message_part(m, i);
        int rc = p->type == AC_PART_TEXT    ? oai_text_part(parts, p->text)
               : p->type == AC_PART_IMAGE   ? oai_image_part(st, parts, p)
                                            : oai_file_part(st, parts, p);
        if (rc)
            return AC_ENOMEM;
    }
    return AC_OK;
}

/* An assistant message: its text, and its tool calls (arguments travel
 * as a JSON *string*; content null when empty, docs/protocols.md 1). */
static ac_status oai_assistant(const oai_state *st, const ac_message *m, json_object *o,
                               ac_call *call)
{
    const ac_host_api *h = st->host;
    json_object *calls = NULL;
    for (size_t i = 0; i < m->n_parts; i++) {
        const ac_part *p = h->message_part(m, i);
        if (p->type == AC_PART_TEXT)
            continue;
        if (p->type != AC_PART_TOOL_CALL)
            return oai_unsupported(st, p, "assistant", call);
        if (!calls && oai_add(o, "tool_calls", calls = json_object_new_array()))
            return AC_ENOMEM;
        json_object *c = json_object_new_object(), *fn = json_object_new_object();
        if (oai_append(calls, c)) {
            json_object_put(fn);
            return AC_ENOMEM;
        }
        if (oai_add(c, "function", fn) || oai_add_str(c, "id", p->id) ||
            oai_add_str(c, "type", "function") || oai_add_str(fn, "name", p->name) ||
            oai_add_str(fn, "arguments", p->arguments ? p->arguments : "{}"))
            return AC_ENOMEM;
    }
    int failed = calls && !*m->text ? json_object_object_add(o, "content", NULL)
                                    : oai_add_str(o, "content", m->text);
    return failed ? AC_ENOMEM : AC_OK;
}

/* Append message m to msgs in OpenAI's shape: one message, or for a tool
 * message one per result. */
static ac_status oai_message(const oai_state *st, const ac_message *m, json_object *msgs,
                             ac_call *call)
{
    const ac_host_api *h = st->host;
    const char *role = oai_role(m->role);
    ac_status rc;
    if (!role)
        return h->fail(call, AC_EINVAL, AC_STAGE_REQUEST, "message with an unknown role %d",
                       (int)m->role);
    if (m->role == AC_ROLE_TOOL) {
        for (size_t i = 0; i < m->n_parts; i++) {
            const ac_part *p = h->message_part(m, i);
            if (p->type != AC_PART_TOOL_RESULT)
                return oai_unsupported(st, p, "tool", call);
            json_object *o = json_object_new_object();
            if (oai_append(msgs, o) || oai_add_str(o, "role", "tool") ||
                oai_add_str(o, "tool_call_id", p->id) || oai_add_str(o, "content", p->text))
                goto nomem;
        }
        return AC_OK;
    }
    json_object *o = json_object_new_object();
    if (oai_append(msgs, o) || oai_add_str(o, "role", role))
        goto nomem;
    if (m->name && oai_add_str(o, "name", m->name))
        goto nomem;
    rc = m->role == AC_ROLE_ASSISTANT ? oai_assistant(st, m, o, call)
                                      : oai_user_content(st, m, o, role, call);
    if (rc == AC_ENOMEM)
        goto nomem;
    return rc;
nomem:
    return h->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
}

/* tools, tool_choice and response_format. */
static ac_status oai_body_tools(const oai_state *st, const ac_gen_request *req,
                                json_object *body, ac_call *call)
{
    const ac_host_api *h = st->host;

    if (req->n_tools > 0) {
        json_object *tools = json_object_new_array();
        if (oai_add(body, "tools", tools))
            goto nomem;
        for (size_t i = 0; i < req->n_tools; i++) {
            const ac_tool_def *td = h->tool(req, i);
            json_object *params = oai_parse_object(st, td->parameters_json,
                                                   "tool parameters",
                                                   td->name ? td->name : "",
                                                   call);
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
                                               "JSON schema", name, call);
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
    h->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    return AC_ENOMEM;
}

/* The whole request body. */
static ac_status oai_body(const oai_state *st, const ac_gen_request *req,
                          json_object *body, ac_call *call)
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
        rc = oai_message(st, h->message(req, i), msgs, call);
        if (rc != AC_OK)
            return rc;
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

    rc = oai_body_tools(st, req, body, call);
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
    h->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    return AC_ENOMEM;
}

ac_status ac_oai_build_request(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_call *call)
{
    const oai_state *st = state;
    json_object *body = NULL;
    ac_status rc;

    if (!st)
        return AC_EINVAL;
    const ac_host_api *h = st->host;
    if (!req || !out || (req->n_stop && !req->stop))
        return h->fail(call, AC_EINVAL, AC_STAGE_REQUEST, "openai_compat: malformed request");

    body = json_object_new_object();
    if (!body) {
        h->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return AC_ENOMEM;
    }
    rc = oai_body(st, req, body, call);
    if (rc != AC_OK)
        goto done;
    if (st->dialect.edit_body) {
        rc = st->dialect.edit_body(st, req, body, call);
        if (rc != AC_OK)
            goto done;
    }
    rc = h->http_set(out, "POST", st->chat_url,
                     req->stream ? AC_FRAMING_SSE : AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = oai_headers(st, out, 1, req->stream ? "text/event-stream"
                                                 : "application/json", call);
    if (rc == AC_OK)
        rc = ac_sdk_json_body(h, out, body, call);

done:
    json_object_put(body);
    return rc;
}

ac_status ac_oai_build_models_request(void *state, ac_http_request *out,
                                      ac_call *call)
{
    const oai_state *st = state;
    if (!st || !out)
        return AC_EINVAL;
    ac_status rc = st->host->http_set(out, "GET", st->models_url, AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = oai_headers(st, out, 0, "application/json", call);
    return rc;
}
