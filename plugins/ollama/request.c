/*
 * request.c -- the Ollama plugin's requests: an ac_gen_request becomes a
 * POST {base}/api/chat body built with json-c and written with the SDK's
 * checked serializer (ac_sdk_json_body), and the model listing a GET
 * {base}/api/tags.
 *
 * Ollama's shape (docs/protocols.md sections 3 and 4): the system prompt
 * is the first message; sampling goes in "options" (max tokens is
 * num_predict); "stream" is always sent because it defaults to true; tools
 * use OpenAI's function schema.  A message's content is one string: its
 * TEXT parts joined, then each FILE part as text labelled "[file: NAME]";
 * IMAGE parts go in the message's "images" as bare base64 (Ollama cannot
 * fetch a URL); an assistant's TOOL_CALL parts go back in "tool_calls"
 * with `arguments` as an object; each TOOL_RESULT becomes a role "tool"
 * message with tool_name (how Ollama links a result to its call) and
 * tool_call_id (read by newer servers).  A part type Ollama cannot take
 * fails the request with AC_EUNSUPPORTED, naming it.
 *
 * Every function here may run on any thread; state is read-only.
 */
#include "ollama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *ollama_part_name(ac_part_type t)
{
    switch (t) {
    case AC_PART_TEXT:        return "text";
    case AC_PART_IMAGE:       return "image";
    case AC_PART_FILE:        return "file";
    case AC_PART_TOOL_CALL:   return "tool call";
    case AC_PART_TOOL_RESULT: return "tool result";
    }
    return NULL;
}

/* A part this message cannot carry, or of a type this plugin does not
 * know: the request fails rather than drop it. */
static ac_status ollama_unsupported(const ac_part *p, size_t msg, const char *role,
                                    ac_call *call)
{
    const char *name = ollama_part_name(p->type);
    if (name)
        return ollama_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                 "ollama: message %zu (%s) has a %s part, which "
                                 "Ollama cannot take in a %s message", msg, role,
                                 name, role);
    return ollama_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                             "ollama: message %zu (%s) has a content part of "
                             "unknown type %d", msg, role, (int)p->type);
}

static ac_status ollama_nomem(ac_call *call)
{
    return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

/*
 * The content string of a user, system or assistant message: its TEXT
 * parts joined (m->text), then each FILE part's text under a
 * "[file: NAME]" line, blocks separated by a blank line.  A host->malloc'd
 * string and its length, or NULL on no memory.
 */
static char *ollama_content(const ac_message *m, size_t *out_len)
{
    size_t n = m->text_len, at;
    char *s;
    for (size_t i = 0; i < m->n_parts; i++) {
        const ac_part *p = ollama_host->message_part(m, i);
        if (p && p->type == AC_PART_FILE)
            n += 2 + sizeof "[file: ]\n" + strlen(p->name ? p->name : "document") +
                 p->text_len;
    }
    s = ollama_host->malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, m->text ? m->text : "", m->text_len);
    at = m->text_len;
    for (size_t i = 0; i < m->n_parts; i++) {
        const ac_part *p = ollama_host->message_part(m, i);
        const char *name;
        if (!p || p->type != AC_PART_FILE)
            continue;
        name = p->name ? p->name : "document";
        if (at > 0) {
            memcpy(s + at, "\n\n", 2);
            at += 2;
        }
        at += (size_t)sprintf(s + at, "[file: %s]\n", name);
        if (p->text_len)
            memcpy(s + at, p->text, p->text_len);
        at += p->text_len;
    }
    s[at] = '\0';
    *out_len = at;
    return s;
}

/* An IMAGE part into the message's "images": Ollama takes the bytes as a
 * bare base64 string and cannot fetch a URL.  A data: URL given as the
 * URL still carries the bytes, so its base64 is taken. */
static ac_status ollama_image(json_object **images, json_object *msg, const ac_part *p,
                              size_t msg_i, ac_call *call)
{
    const char *b64 = p->data_base64;
    if (!b64 && p->url && strncmp(p->url, "data:", 5) == 0) {
        const char *mark = strstr(p->url, ";base64,");
        const char *comma = strchr(p->url, ',');
        if (mark && mark + 7 == comma)
            b64 = comma + 1;
    }
    if (!b64 && p->url)
        return ollama_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                 "ollama: message %zu has an image given by URL; "
                                 "Ollama cannot fetch URLs and needs the image "
                                 "bytes (base64)", msg_i);
    if (!b64 || !*b64)
        return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "ollama: message %zu has an image without data",
                                 msg_i);
    if (!*images) {
        *images = json_object_new_array();
        if (ollama_add(msg, "images", *images) != 0) {
            *images = NULL;
            return ollama_nomem(call);
        }
    }
    if (ollama_append(*images, json_object_new_string(b64)) != 0)
        return ollama_nomem(call);
    return AC_OK;
}

/* An assistant's TOOL_CALL part into "tool_calls", in Ollama's shape:
 * arguments as an object, the position in function.index, the id only if
 * it had one. */
static ac_status ollama_tool_call(json_object **calls, json_object *msg, const ac_part *p,
                                  ac_call *call)
{
    json_object *c, *fn, *args = NULL;
    int index;
    if (!*calls) {
        *calls = json_object_new_array();
        if (ollama_add(msg, "tool_calls", *calls) != 0) {
            *calls = NULL;
            return ollama_nomem(call);
        }
    }
    index = (int)json_object_array_length(*calls);
    c = json_object_new_object();
    if (ollama_append(*calls, c) != 0)
        return ollama_nomem(call);
    if (p->id && *p->id && ollama_add(c, "id", json_object_new_string(p->id)) != 0)
        return ollama_nomem(call);
    if (ollama_add(c, "type", json_object_new_string("function")) != 0)
        return ollama_nomem(call);
    fn = json_object_new_object();
    if (ollama_add(c, "function", fn) != 0)
        return ollama_nomem(call);
    if (ollama_add(fn, "index", json_object_new_int(index)) != 0 ||
        ollama_add(fn, "name", json_object_new_string(p->name ? p->name : "")) != 0)
        return ollama_nomem(call);
    /* A call cut off by max_tokens can hold invalid JSON; Ollama wants an
     * object, and dropping the whole turn would lose the history. */
    if (p->arguments && ollama_json_quiet(p->arguments, strlen(p->arguments), &args) &&
        !json_object_is_type(args, json_type_object)) {
        json_object_put(args);
        args = NULL;
    }
    if (!args) {
        if (p->arguments && strcmp(p->arguments, "{}") != 0)
            ollama_host->log(call, AC_LOG_WARN,
                             "tool call %d (%s) has arguments that are not a "
                             "JSON object; sending {}", index,
                             p->name ? p->name : "?");
        args = json_object_new_object();
    }
    if (ollama_add(fn, "arguments", args) != 0)
        return ollama_nomem(call);
    return AC_OK;
}

/* A TOOL message: one role "tool" message per result it carries. */
static ac_status ollama_tool_results(json_object *arr, const ac_message *m, size_t msg_i,
                                     ac_call *call)
{
    for (size_t j = 0; j < m->n_parts; j++) {
        const ac_part *p = ollama_host->message_part(m, j);
        const char *name;
        json_object *msg;
        if (!p)
            continue;
        if (p->type != AC_PART_TOOL_RESULT)
            return ollama_unsupported(p, msg_i, "tool", call);
        /* Ollama links a result to its call by tool_name; newer servers
         * also read tool_call_id, older ones ignore it.  Ollama has no
         * error flag: a failed tool's text says so. */
        name = p->name && *p->name ? p->name : m->name;
        if (p->text_len > (size_t)0x7fffffff)
            return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                     "ollama: message %zu is larger than 2 GiB", msg_i);
        msg = json_object_new_object();
        if (ollama_append(arr, msg) != 0 ||
            ollama_add(msg, "role", json_object_new_string("tool")) != 0 ||
            ollama_add(msg, "content",
                       json_object_new_string_len(p->text ? p->text : "",
                                                  p->text ? (int)p->text_len : 0)) != 0)
            return ollama_nomem(call);
        if (name && *name &&
            ollama_add(msg, "tool_name", json_object_new_string(name)) != 0)
            return ollama_nomem(call);
        if (p->id && *p->id &&
            ollama_add(msg, "tool_call_id", json_object_new_string(p->id)) != 0)
            return ollama_nomem(call);
    }
    return AC_OK;
}

/* A system, user or assistant message. */
static ac_status ollama_message(json_object *arr, const ac_message *m, const char *role,
                                size_t msg_i, ac_call *call)
{
    json_object *msg, *images = NULL, *calls = NULL;
    char *content;
    size_t content_len = 0;
    ac_status rc;

    /* Check every part before building anything: the error names the
     * first one Ollama cannot take. */
    for (size_t j = 0; j < m->n_parts; j++) {
        const ac_part *p = ollama_host->message_part(m, j);
        if (!p || p->type == AC_PART_TEXT || p->type == AC_PART_IMAGE ||
            p->type == AC_PART_FILE)
            continue;
        if (p->type == AC_PART_TOOL_CALL && m->role == AC_ROLE_ASSISTANT)
            continue;
        return ollama_unsupported(p, msg_i, role, call);
    }

    msg = json_object_new_object();
    if (ollama_append(arr, msg) != 0 ||
        ollama_add(msg, "role", json_object_new_string(role)) != 0)
        return ollama_nomem(call);
    /* Ollama's Message.content is a plain string, never null. */
    content = ollama_content(m, &content_len);
    if (!content)
        return ollama_nomem(call);
    if (content_len > (size_t)0x7fffffff) {
        ollama_host->free(content);
        return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "ollama: message %zu is larger than 2 GiB", msg_i);
    }
    rc = ollama_add(msg, "content", json_object_new_string_len(content, (int)content_len));
    ollama_host->free(content);
    if (rc != 0)
        return ollama_nomem(call);

    for (size_t j = 0; j < m->n_parts; j++) {
        const ac_part *p = ollama_host->message_part(m, j);
        rc = AC_OK;
        if (p && p->type == AC_PART_IMAGE)
            rc = ollama_image(&images, msg, p, msg_i, call);
        else if (p && p->type == AC_PART_TOOL_CALL)
            rc = ollama_tool_call(&calls, msg, p, call);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}

static ac_status ollama_add_messages(json_object *root, const ac_gen_request *req,
                                     ac_call *call)
{
    json_object *arr = json_object_new_array();
    ac_status rc;
    if (ollama_add(root, "messages", arr) != 0)
        return ollama_nomem(call);
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = ollama_host->message(req, i);
        const char *role = m ? ollama_role(m->role) : NULL;
        if (!role)
            return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                     "ollama: message %zu has an unknown role", i);
        if (m->role == AC_ROLE_TOOL)
            rc = ollama_tool_results(arr, m, i, call);
        else
            rc = ollama_message(arr, m, role, i, call);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* Tools, options, the body                                             */
/* ------------------------------------------------------------------ */

/* JSON text that must be an object (tool parameters, the schema): a new
 * reference, or NULL when it is not valid JSON or not an object. */
static json_object *ollama_object_text(const char *text)
{
    json_object *o = NULL;
    if (!text || !ollama_json_quiet(text, strlen(text), &o))
        return NULL;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Ollama has no tool_choice: "none" is honoured by sending no tools, a
 * tool name by sending only that tool; "required" cannot be expressed and
 * falls back to "auto". */
static ac_status ollama_add_tools(json_object *root, const ac_gen_request *req,
                                  ac_call *call)
{
    const char *choice = req->tool_choice;
    json_object *arr;
    int named = 0;
    if (req->n_tools == 0)
        return AC_OK;
    if (choice && !strcmp(choice, "none"))
        return AC_OK;
    if (choice && strcmp(choice, "auto") != 0 && strcmp(choice, "required") != 0) {
        for (size_t i = 0; i < req->n_tools; i++) {
            const ac_tool_def *t = ollama_host->tool(req, i);
            if (t && t->name && !strcmp(t->name, choice))
                named = 1;
        }
        if (!named)
            return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                     "ollama: tool_choice names a tool that is not "
                                     "offered");
    }
    arr = json_object_new_array();
    if (ollama_add(root, "tools", arr) != 0)
        return ollama_nomem(call);
    for (size_t i = 0; i < req->n_tools; i++) {
        const ac_tool_def *t = ollama_host->tool(req, i);
        json_object *tool, *fn, *params;
        if (!t || (named && (!t->name || strcmp(t->name, choice) != 0)))
            continue;
        tool = json_object_new_object();
        if (ollama_append(arr, tool) != 0 ||
            ollama_add(tool, "type", json_object_new_string("function")) != 0)
            return ollama_nomem(call);
        fn = json_object_new_object();
        if (ollama_add(tool, "function", fn) != 0 ||
            ollama_add(fn, "name", json_object_new_string(t->name ? t->name : "")) != 0)
            return ollama_nomem(call);
        if (t->description &&
            ollama_add(fn, "description", json_object_new_string(t->description)) != 0)
            return ollama_nomem(call);
        if (t->parameters_json) {
            params = ollama_object_text(t->parameters_json);
            if (!params)
                return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                         "ollama: parameters of tool '%s' are not a "
                                         "JSON object", t->name ? t->name : "");
        } else {
            params = json_object_new_object();
        }
        if (ollama_add(fn, "parameters", params) != 0)
            return ollama_nomem(call);
    }
    return AC_OK;
}

/* Sampling goes in "options", not at the top level (docs/protocols.md 3).
 * Doubles are written shortest-round-trip ("0.7") by the serializer. */
static ac_status ollama_add_options(json_object *root, const ollama_state *st,
                                    const ac_gen_request *req, ac_call *call)
{
    json_object *opt;
    if (!req->has_max_tokens && !req->has_temperature && !req->has_top_p &&
        !req->has_seed && req->n_stop == 0 && !st->has_num_ctx)
        return AC_OK;
    opt = json_object_new_object();
    if (ollama_add(root, "options", opt) != 0)
        return ollama_nomem(call);
    if (req->has_max_tokens &&
        ollama_add(opt, "num_predict", json_object_new_int64(req->max_tokens)) != 0)
        return ollama_nomem(call);
    if (req->has_temperature && isfinite(req->temperature) &&
        ollama_add(opt, "temperature", json_object_new_double(req->temperature)) != 0)
        return ollama_nomem(call);
    if (req->has_top_p && isfinite(req->top_p) &&
        ollama_add(opt, "top_p", json_object_new_double(req->top_p)) != 0)
        return ollama_nomem(call);
    if (req->has_seed &&
        ollama_add(opt, "seed", json_object_new_int64(req->seed)) != 0)
        return ollama_nomem(call);
    if (st->has_num_ctx &&
        ollama_add(opt, "num_ctx", json_object_new_int64(st->num_ctx)) != 0)
        return ollama_nomem(call);
    if (req->n_stop > 0 && req->stop) {
        json_object *arr = json_object_new_array();
        if (ollama_add(opt, "stop", arr) != 0)
            return ollama_nomem(call);
        for (size_t i = 0; i < req->n_stop; i++)
            if (req->stop[i] &&
                ollama_append(arr, json_object_new_string(req->stop[i])) != 0)
                return ollama_nomem(call);
    }
    return AC_OK;
}

/* Everything after the messages, tools and options: format, stream,
 * keep_alive, think. */
static ac_status ollama_add_rest(json_object *root, const ollama_state *st,
                                 const ac_gen_request *req, ac_call *call)
{
    if (req->json_schema) {
        json_object *schema = ollama_object_text(req->json_schema);
        if (!schema)
            return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                     "ollama: the JSON schema is not a JSON object");
        if (ollama_add(root, "format", schema) != 0)
            return ollama_nomem(call);
    }
    /* stream defaults to true on Ollama: always say which one we want. */
    if (ollama_add(root, "stream", json_object_new_boolean(req->stream ? 1 : 0)) != 0)
        return ollama_nomem(call);
    if (st->keep_alive_num) {
        if (ollama_add(root, "keep_alive", json_object_new_int64(st->keep_alive_secs)) != 0)
            return ollama_nomem(call);
    } else if (st->keep_alive &&
               ollama_add(root, "keep_alive", json_object_new_string(st->keep_alive)) != 0) {
        return ollama_nomem(call);
    }
    if (st->think_set == 1 &&
        ollama_add(root, "think", json_object_new_boolean(st->think_bool)) != 0)
        return ollama_nomem(call);
    if (st->think_set == 2 &&
        ollama_add(root, "think", json_object_new_string(st->think_level)) != 0)
        return ollama_nomem(call);
    return AC_OK;
}

ac_status ollama_build_request(void *state, const ac_gen_request *req,
                               ac_http_request *out, ac_call *call)
{
    const ollama_state *st = state;
    const char *model = req->model;
    json_object *root;
    ac_status rc;

    if (!model || !*model)
        model = st->default_model;
    if (!model || !*model)
        return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "ollama: no model given (pass one, or set "
                                 "default_model)");
    root = json_object_new_object();
    if (!root)
        return ollama_nomem(call);
    if (ollama_add(root, "model", json_object_new_string(model)) != 0) {
        rc = ollama_nomem(call);
        goto done;
    }
    rc = ollama_add_messages(root, req, call);
    if (rc == AC_OK)
        rc = ollama_add_tools(root, req, call);
    if (rc == AC_OK)
        rc = ollama_add_options(root, st, req, call);
    if (rc == AC_OK)
        rc = ollama_add_rest(root, st, req, call);
    if (rc != AC_OK)
        goto done;

    rc = ollama_host->http_set(out, "POST", st->chat_url,
                               req->stream ? AC_FRAMING_NDJSON : AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Content-Type", "application/json", call);
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Accept", req->stream ? "application/x-ndjson"
                                                                 : "application/json",
                                      call);
    if (rc == AC_OK && st->auth)
        rc = ollama_host->http_header(out, "Authorization", st->auth, call);
    if (rc == AC_OK)
        rc = ac_sdk_json_body(ollama_host, out, root, call);
done:
    json_object_put(root);
    return rc;
}

/* The model listing: GET /api/tags. */
ac_status ollama_build_models_request(void *state, ac_http_request *out, ac_call *call)
{
    const ollama_state *st = state;
    ac_status rc = ollama_host->http_set(out, "GET", st->tags_url, AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Accept", "application/json", call);
    if (rc == AC_OK && st->auth)
        rc = ollama_host->http_header(out, "Authorization", st->auth, call);
    return rc;
}
