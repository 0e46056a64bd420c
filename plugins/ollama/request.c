/*
 * request.c -- the Ollama plugin's requests: an ac_gen_request becomes a
 * POST {base}/api/chat body built with json-c, and the model listing a GET
 * {base}/api/tags.
 *
 * Ollama's shape (PROTOCOLS.md sections 3 and 4): the system prompt is the
 * first message; sampling goes in "options" (max tokens is num_predict);
 * "stream" is always sent because it defaults to true; tools use OpenAI's
 * function schema; earlier tool calls go back with `arguments` as an
 * object, and results as role "tool" with tool_name.
 */
#include "ollama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A JSON number for d in its shortest round-trip form ("0.7", not
 * json-c's default "0.69999999999999996").  The decimal point is forced to
 * '.' whatever LC_NUMERIC the application set.
 */
static json_object *ollama_new_double(double d)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    for (char *c = buf; *c; c++)
        if (*c == ',')
            *c = '.';
    return json_object_new_double_s(d, buf);
}

static const char *ollama_role(ac_role role)
{
    switch (role) {
    case AC_ROLE_SYSTEM:    return "system";
    case AC_ROLE_USER:      return "user";
    case AC_ROLE_ASSISTANT: return "assistant";
    case AC_ROLE_TOOL:      return "tool";
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The chat request                                                     */
/* ------------------------------------------------------------------ */

/* Ollama takes images as bare base64 strings, so only base64 data: URLs
 * can be sent; Ollama cannot fetch an http URL. */
static ac_status ollama_add_images(json_object *msg, const ac_message *m,
                                   ac_error *err)
{
    json_object *arr = json_object_new_array();
    if (ollama_add(msg, "images", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->n_images; i++) {
        const char *url = m->images[i];
        const char *comma = url ? strchr(url, ',') : NULL;
        size_t meta;
        if (!url || strncmp(url, "data:", 5) != 0 || !comma) {
            ollama_host->error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                   "ollama: image %zu is not a data: URL; Ollama "
                                   "only takes inline base64 images", i + 1);
            return AC_EUNSUPPORTED;
        }
        meta = (size_t)(comma - url);
        if (meta < 7 || strncmp(comma - 7, ";base64", 7) != 0) {
            ollama_host->error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                   "ollama: image %zu is a data: URL without "
                                   ";base64; Ollama only takes base64 images", i + 1);
            return AC_EUNSUPPORTED;
        }
        if (ollama_append(arr, json_object_new_string(comma + 1)) != 0)
            goto nomem;
    }
    return AC_OK;
nomem:
    ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
    return AC_ENOMEM;
}

/* The assistant's earlier tool calls, in Ollama's shape: arguments as an
 * object, the position in function.index, the id only if it had one. */
static ac_status ollama_add_tool_calls(json_object *msg, const ac_message *m,
                                       ac_error *err)
{
    json_object *arr = json_object_new_array();
    if (ollama_add(msg, "tool_calls", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->n_tool_calls; i++) {
        const ac_tool_call *tc = &m->tool_calls[i];
        json_object *call = json_object_new_object();
        json_object *fn, *args;
        if (ollama_append(arr, call) != 0)
            goto nomem;
        if (tc->id && *tc->id &&
            ollama_add(call, "id", json_object_new_string(tc->id)) != 0)
            goto nomem;
        if (ollama_add(call, "type", json_object_new_string("function")) != 0)
            goto nomem;
        fn = json_object_new_object();
        if (ollama_add(call, "function", fn) != 0)
            goto nomem;
        if (ollama_add(fn, "index", json_object_new_int((int)i)) != 0 ||
            ollama_add(fn, "name",
                       json_object_new_string(tc->name ? tc->name : "")) != 0)
            goto nomem;
        /* A call cut off by max_tokens can hold invalid JSON; Ollama wants
         * an object, and dropping the whole turn would lose the history. */
        args = ollama_parse_object(tc->arguments, "tool call arguments");
        if (!args) {
            if (tc->arguments && strcmp(tc->arguments, "{}") != 0)
                ollama_host->log(AC_LOG_WARN, "ollama",
                                 "tool call %zu (%s) has arguments that are not a "
                                 "JSON object; sending {}", i,
                                 tc->name ? tc->name : "?");
            args = json_object_new_object();
        }
        if (ollama_add(fn, "arguments", args) != 0)
            goto nomem;
    }
    return AC_OK;
nomem:
    ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
    return AC_ENOMEM;
}

static ac_status ollama_add_messages(json_object *root,
                                     const ac_gen_request *req, ac_error *err)
{
    json_object *arr = json_object_new_array();
    ac_status rc;
    if (ollama_add(root, "messages", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = &req->messages[i];
        const char *role = ollama_role(m->role);
        json_object *msg;
        if (!role) {
            ollama_host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                                   "ollama: message %zu has an unknown role", i);
            return AC_EINVAL;
        }
        msg = json_object_new_object();
        if (ollama_append(arr, msg) != 0)
            goto nomem;
        /* Ollama's Message.content is a plain string, never null. */
        if (ollama_add(msg, "role", json_object_new_string(role)) != 0 ||
            ollama_add(msg, "content",
                       json_object_new_string(m->content ? m->content : "")) != 0)
            goto nomem;
        if (m->n_images > 0 && m->images) {
            rc = ollama_add_images(msg, m, err);
            if (rc != AC_OK)
                return rc;
        }
        if (m->role == AC_ROLE_ASSISTANT && m->n_tool_calls > 0 &&
            m->tool_calls) {
            rc = ollama_add_tool_calls(msg, m, err);
            if (rc != AC_OK)
                return rc;
        }
        if (m->role == AC_ROLE_TOOL) {
            /* Ollama links a result to its call by tool_name; newer
             * servers also read tool_call_id, older ones ignore it. */
            if (m->name && *m->name &&
                ollama_add(msg, "tool_name", json_object_new_string(m->name)) != 0)
                goto nomem;
            if (m->tool_call_id && *m->tool_call_id &&
                ollama_add(msg, "tool_call_id",
                           json_object_new_string(m->tool_call_id)) != 0)
                goto nomem;
        }
    }
    return AC_OK;
nomem:
    ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
    return AC_ENOMEM;
}

/* Ollama has no tool_choice: "none" is honoured by sending no tools, a
 * tool name by sending only that tool; "required" cannot be expressed and
 * falls back to "auto". */
static ac_status ollama_add_tools(json_object *root, const ac_gen_request *req,
                                  ac_error *err)
{
    const char *choice = req->tool_choice;
    json_object *arr;
    int named = 0;
    if (req->n_tools == 0 || !req->tools)
        return AC_OK;
    if (choice && !strcmp(choice, "none"))
        return AC_OK;
    if (choice && strcmp(choice, "auto") != 0 && strcmp(choice, "required") != 0) {
        for (size_t i = 0; i < req->n_tools; i++)
            if (req->tools[i].name && !strcmp(req->tools[i].name, choice))
                named = 1;
        if (!named) {
            ollama_host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                                   "ollama: tool_choice names a tool that is not "
                                   "offered");
            return AC_EINVAL;
        }
    }
    arr = json_object_new_array();
    if (ollama_add(root, "tools", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < req->n_tools; i++) {
        const ac_tool_def *t = &req->tools[i];
        json_object *tool, *fn, *params;
        if (named && (!t->name || strcmp(t->name, choice) != 0))
            continue;
        tool = json_object_new_object();
        if (ollama_append(arr, tool) != 0)
            goto nomem;
        if (ollama_add(tool, "type", json_object_new_string("function")) != 0)
            goto nomem;
        fn = json_object_new_object();
        if (ollama_add(tool, "function", fn) != 0)
            goto nomem;
        if (ollama_add(fn, "name",
                       json_object_new_string(t->name ? t->name : "")) != 0)
            goto nomem;
        if (t->description &&
            ollama_add(fn, "description",
                       json_object_new_string(t->description)) != 0)
            goto nomem;
        if (t->parameters_json) {
            params = ollama_parse_object(t->parameters_json, "tool parameters");
            if (!params) {
                ollama_host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                                       "ollama: parameters of tool '%s' are not a "
                                       "JSON object", t->name ? t->name : "");
                return AC_EINVAL;
            }
        } else {
            params = json_object_new_object();
        }
        if (ollama_add(fn, "parameters", params) != 0)
            goto nomem;
    }
    return AC_OK;
nomem:
    ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
    return AC_ENOMEM;
}

/* Sampling goes in "options", not at the top level (PROTOCOLS.md 3). */
static ac_status ollama_add_options(json_object *root, const ollama_state *st,
                                    const ac_gen_request *req, ac_error *err)
{
    json_object *opt;
    if (!req->has_max_tokens && !req->has_temperature && !req->has_top_p &&
        !req->has_seed && req->n_stop == 0 && !st->has_num_ctx)
        return AC_OK;
    opt = json_object_new_object();
    if (ollama_add(root, "options", opt) != 0)
        goto nomem;
    if (req->has_max_tokens &&
        ollama_add(opt, "num_predict", json_object_new_int64(req->max_tokens)) != 0)
        goto nomem;
    if (req->has_temperature && isfinite(req->temperature) &&
        ollama_add(opt, "temperature", ollama_new_double(req->temperature)) != 0)
        goto nomem;
    if (req->has_top_p && isfinite(req->top_p) &&
        ollama_add(opt, "top_p", ollama_new_double(req->top_p)) != 0)
        goto nomem;
    if (req->has_seed &&
        ollama_add(opt, "seed", json_object_new_int64(req->seed)) != 0)
        goto nomem;
    if (st->has_num_ctx &&
        ollama_add(opt, "num_ctx", json_object_new_int64(st->num_ctx)) != 0)
        goto nomem;
    if (req->n_stop > 0 && req->stop) {
        json_object *arr = json_object_new_array();
        if (ollama_add(opt, "stop", arr) != 0)
            goto nomem;
        for (size_t i = 0; i < req->n_stop; i++)
            if (req->stop[i] &&
                ollama_append(arr, json_object_new_string(req->stop[i])) != 0)
                goto nomem;
    }
    return AC_OK;
nomem:
    ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
    return AC_ENOMEM;
}

ac_status ollama_build_request(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_error *err)
{
    const ollama_state *st = state;
    const char *model = req->model;
    json_object *root = NULL, *schema;
    const char *body;
    ac_status rc;

    if (!model || !*model)
        model = st->default_model;
    if (!model || !*model) {
        ollama_host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                               "ollama: no model given (pass one, or set "
                               "default_model)");
        return AC_EINVAL;
    }
    root = json_object_new_object();
    if (!root)
        goto nomem;
    if (ollama_add(root, "model", json_object_new_string(model)) != 0)
        goto nomem;
    rc = ollama_add_messages(root, req, err);
    if (rc != AC_OK)
        goto done;
    rc = ollama_add_tools(root, req, err);
    if (rc != AC_OK)
        goto done;
    rc = ollama_add_options(root, st, req, err);
    if (rc != AC_OK)
        goto done;
    if (req->json_schema) {
        schema = ollama_parse_object(req->json_schema, "JSON schema");
        if (!schema) {
            ollama_host->error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                                   "ollama: the JSON schema is not a JSON object");
            rc = AC_EINVAL;
            goto done;
        }
        if (ollama_add(root, "format", schema) != 0)
            goto nomem;
    }
    /* stream defaults to true on Ollama: always say which one we want. */
    if (ollama_add(root, "stream", json_object_new_boolean(req->stream ? 1 : 0)) != 0)
        goto nomem;
    if (st->keep_alive_num) {
        if (ollama_add(root, "keep_alive",
                       json_object_new_int64(st->keep_alive_secs)) != 0)
            goto nomem;
    } else if (st->keep_alive &&
               ollama_add(root, "keep_alive",
                          json_object_new_string(st->keep_alive)) != 0) {
        goto nomem;
    }
    if (st->think_set == 1 &&
        ollama_add(root, "think", json_object_new_boolean(st->think_bool)) != 0)
        goto nomem;
    if (st->think_set == 2 &&
        ollama_add(root, "think", json_object_new_string(st->think_level)) != 0)
        goto nomem;

    body = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!body)
        goto nomem;
    rc = ollama_host->http_set(out, "POST", st->chat_url,
                               req->stream ? AC_FRAMING_NDJSON : AC_FRAMING_NONE);
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Content-Type", "application/json");
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Accept", req->stream
                                                         ? "application/x-ndjson"
                                                         : "application/json");
    if (rc == AC_OK && st->auth)
        rc = ollama_host->http_header(out, "Authorization", st->auth);
    if (rc == AC_OK)
        rc = ollama_host->http_body(out, body, strlen(body));
    if (rc != AC_OK)
        ollama_host->error_set(err, rc, AC_STAGE_REQUEST,
                               "ollama: could not build the HTTP request");
    goto done;

nomem:
    ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
    rc = AC_ENOMEM;
done:
    json_object_put(root);
    return rc;
}

/* The model listing: GET /api/tags. */
ac_status ollama_build_models_request(void *state, ac_http_request *out,
                                      ac_error *err)
{
    const ollama_state *st = state;
    ac_status rc = ollama_host->http_set(out, "GET", st->tags_url, AC_FRAMING_NONE);
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Accept", "application/json");
    if (rc == AC_OK && st->auth)
        rc = ollama_host->http_header(out, "Authorization", st->auth);
    if (rc != AC_OK)
        ollama_host->error_set(err, rc, AC_STAGE_REQUEST,
                               "ollama: could not build the models request");
    return rc;
}

