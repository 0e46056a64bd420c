/*
 * request.c -- turning a generic request into POST /v1/messages
 * (PROTOCOLS.md section 2 "Request body", section 4, checklist item 13).
 *
 * What differs from the OpenAI shape, and is done here:
 *   - system prompts go to the top-level `system`, never into messages;
 *   - max_tokens is required (the setting, else 4096, when unset);
 *   - stop is `stop_sequences`, without the ones of white space only
 *     ("\n\n", a common stop elsewhere), which the API refuses with a 400
 *     ("each stop sequence must contain non-whitespace"): they are dropped
 *     with a warning; there is no seed (dropped);
 *   - tools are {name, description, input_schema}, tool_choice an object;
 *   - an assistant's tool calls are `tool_use` blocks whose input is an
 *     object, and tool results are `tool_result` blocks in a user message;
 *     consecutive messages of one role are merged into one message, so the
 *     results of parallel calls travel together as the API expects;
 *   - structured output is a forced tool call (ANTH_JSON_TOOL) or, with
 *     structured_output = "output_config", the native format object;
 *   - tool-call ids must match ^[a-zA-Z0-9_-]+$ here, but a session may
 *     hold ids from another backend ("functions.weather:0" from the HF
 *     router): they are rewritten the same way in tool_use and tool_result,
 *     so the pair still matches;
 *   - text that is empty or only white space is never sent as a block: the
 *     API rejects the whole request for one ("text content blocks must be
 *     non-empty" / "must contain non-whitespace text"), and a blank reply
 *     kept in a session's history would fail every later turn.  A message
 *     left with no block is dropped, and the merging above keeps the roles
 *     alternating.
 * The body is built with json-c; every allocation is checked.
 */
#include "anthropic.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Members after n_stop were in ABI 1.0 too, but an older host's smaller
 * request struct simply lacks them: read them only when present. */
#define REQ_HAS(r, f) \
    ((r)->struct_size >= offsetof(ac_gen_request, f) + sizeof((r)->f))

/* Add v under key k, taking ownership of v even on failure. */
static int json_set(json_object *o, const char *k, json_object *v)
{
    if (!v)
        return -1;
    if (json_object_object_add(o, k, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* Append v to array a, taking ownership of v even on failure. */
static int json_push(json_object *a, json_object *v)
{
    if (!v)
        return -1;
    if (json_object_array_add(a, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/*
 * A double written the short way ("0.7", not json-c's default
 * "0.69999999999999996"), with a '.' whatever LC_NUMERIC says.
 */
static json_object *json_double(double d)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", d);
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = '.';
    return json_object_new_double_s(d, buf);
}

/* {"type":"text","text":s} */
static json_object *block_text(const char *s)
{
    json_object *b = json_object_new_object();
    if (!b)
        return NULL;
    if (json_set(b, "type", json_object_new_string("text")) != 0 ||
        json_set(b, "text", json_object_new_string(s)) != 0) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/*
 * An image block from a URL.  data: URLs become base64 sources
 * ({"type":"base64","media_type","data"}); anything else is sent as a
 * "url" source for the server to fetch.
 */
static json_object *block_image(const char *url)
{
    json_object *b = json_object_new_object(), *src = json_object_new_object();
    if (!b || !src)
        goto fail;
    const char *comma = strchr(url, ',');
    const char *b64 = strstr(url, ";base64,");
    if (strncmp(url, "data:", 5) == 0 && comma && b64 && b64 < comma) {
        json_object *mt = json_object_new_string_len(url + 5, (int)(b64 - (url + 5)));
        if (json_set(src, "type", json_object_new_string("base64")) != 0 ||
            json_set(src, "media_type", mt) != 0 ||
            json_set(src, "data", json_object_new_string(comma + 1)) != 0)
            goto fail;
    } else {
        if (json_set(src, "type", json_object_new_string("url")) != 0 ||
            json_set(src, "url", json_object_new_string(url)) != 0)
            goto fail;
    }
    if (json_set(b, "type", json_object_new_string("image")) != 0)
        goto fail;
    if (json_set(b, "source", src) != 0) {
        src = NULL;
        goto fail;
    }
    return b;
fail:
    json_object_put(src);
    json_object_put(b);
    return NULL;
}

/*
 * Parse JSON text the caller gave us (a tool schema, a tool call's
 * arguments): a new object, or NULL if the text is not a JSON object.
 * A scratch error keeps json_parse's report out of the caller's err.
 */
static json_object *object_parse(const char *text)
{
    if (!text)
        return NULL;
    ac_error scratch;
    memset(&scratch, 0, sizeof scratch);
    json_object *o = anth_host->json_parse(text, strlen(text), "request JSON",
                                           &scratch);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* 1 when text has nothing but white space (or is NULL or ""): such text
 * never becomes a text block (see the top of this file). */
static int text_blank(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' &&
            *s != '\f' && *s != '\v')
            return 0;
    return 1;
}

/* Messages being built: the array, and the content array of its last
 * message so the next message of the same role can be merged in. */
typedef struct msg_builder {
    const char  *provider;   /* instance name, for log lines */
    json_object *messages;
    json_object *last_content;
    ac_role      last_role;  /* USER or ASSISTANT */
} msg_builder;

/* The content array to add blocks for a message of `role` to: the last
 * message's when it has the same role, else a new message's. */
static json_object *msgs_target(msg_builder *mb, ac_role role)
{
    if (mb->last_content && mb->last_role == role)
        return mb->last_content;
    json_object *m = json_object_new_object(), *c = json_object_new_array();
    if (!m || !c) {
        json_object_put(m);
        json_object_put(c);
        return NULL;
    }
    if (json_set(m, "role", json_object_new_string(
                     role == AC_ROLE_ASSISTANT ? "assistant" : "user")) != 0) {
        json_object_put(m);
        json_object_put(c);
        return NULL;
    }
    if (json_set(m, "content", c) != 0) { /* json_set freed c */
        json_object_put(m);
        return NULL;
    }
    if (json_push(mb->messages, m) != 0)
        return NULL;
    mb->last_content = c;
    mb->last_role = role;
    return c;
}

/* A byte this API allows in a tool-call id (^[a-zA-Z0-9_-]+$). */
static int id_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A tool-call id as this API accepts it (else a 400 "String should match
 * pattern"): other bytes become '_', and a changed id gets a hash of the
 * original appended, so two ids that differ only there stay apart.
 * Deterministic, so a tool_use and its tool_result keep matching.  ""
 * stays "" (nothing to pair; the API says so).  A new json-c string, NULL
 * out of memory. */
static json_object *tool_id_string(const char *id)
{
    if (!id)
        id = "";
    size_t n = strlen(id), i = 0;
    while (i < n && id_char_ok((unsigned char)id[i]))
        i++;
    if (i == n)
        return json_object_new_string(id);
    char *out = anth_host->malloc(n + 10);
    if (!out)
        return NULL;
    uint32_t h = 2166136261u;           /* FNV-1a of the original */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        h = (h ^ c) * 16777619u;
        out[i] = id_char_ok(c) ? (char)c : '_';
    }
    snprintf(out + n, 10, "_%08x", (unsigned)h);
    json_object *js = json_object_new_string(out);
    anth_host->free(out);
    return js;
}

/* A tool_use block for a call the assistant made earlier.  The API wants
 * its input as an object; arguments that are not one (a call cut off by
 * max_tokens) are sent as {} so the conversation can go on. */
static json_object *block_tool_use(const ac_tool_call *tc, const char *provider)
{
    json_object *b = json_object_new_object();
    if (!b)
        return NULL;
    json_object *input = object_parse(tc->arguments);
    if (!input) {
        anth_host->log(AC_LOG_WARN, provider,
                       "tool call '%s': arguments are not a JSON object; "
                       "sending {}", tc->name ? tc->name : "");
        input = json_object_new_object();
    }
    if (json_set(b, "type", json_object_new_string("tool_use")) != 0 ||
        json_set(b, "id", tool_id_string(tc->id)) != 0 ||
        json_set(b, "name", json_object_new_string(tc->name ? tc->name : "")) != 0) {
        json_object_put(input);     /* not handed to b yet */
        json_object_put(b);
        return NULL;
    }
    if (json_set(b, "input", input) != 0) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

static json_object *block_tool_result(const ac_message *m)
{
    json_object *b = json_object_new_object();
    if (!b)
        return NULL;
    if (json_set(b, "type", json_object_new_string("tool_result")) != 0 ||
        json_set(b, "tool_use_id", tool_id_string(m->tool_call_id)) != 0 ||
        json_set(b, "content", json_object_new_string(
                     m->content ? m->content : "")) != 0) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/* The number of blocks a non-system message becomes. */
static size_t msg_blocks(const ac_message *m)
{
    if (m->role == AC_ROLE_TOOL)
        return 1;                   /* a tool_result, even an empty one */
    size_t n = text_blank(m->content) ? 0 : 1;
    if (m->role == AC_ROLE_USER)
        for (size_t i = 0; i < m->n_images && m->images; i++)
            n += m->images[i] != NULL;
    if (m->role == AC_ROLE_ASSISTANT && m->tool_calls)
        n += m->n_tool_calls;
    return n;
}

/* One non-system message into the builder.  0, or -1 out of memory. */
static int msgs_add(msg_builder *mb, const ac_message *m)
{
    /* A message with nothing to send (an empty reply in the history) is
     * left out: its neighbours of one role merge, so turns still
     * alternate. */
    if (msg_blocks(m) == 0)
        return 0;
    ac_role role = m->role == AC_ROLE_ASSISTANT ? AC_ROLE_ASSISTANT : AC_ROLE_USER;
    json_object *c = msgs_target(mb, role);
    if (!c)
        return -1;

    if (m->role == AC_ROLE_TOOL) {
        if (json_push(c, block_tool_result(m)) != 0)
            return -1;
    } else {
        /* Images before text: Anthropic's documented best placement. */
        if (m->role == AC_ROLE_USER)
            for (size_t i = 0; i < m->n_images && m->images; i++)
                if (m->images[i] && json_push(c, block_image(m->images[i])) != 0)
                    return -1;
        if (!text_blank(m->content) &&
            json_push(c, block_text(m->content)) != 0)
            return -1;
        if (m->role == AC_ROLE_ASSISTANT)
            for (size_t i = 0; i < m->n_tool_calls && m->tool_calls; i++)
                if (json_push(c, block_tool_use(&m->tool_calls[i], mb->provider)) != 0)
                    return -1;
    }
    return 0;
}

/* system: one string, or an array of text blocks when there are several. */
static int add_system(json_object *root, const ac_gen_request *req)
{
    size_t n = 0;
    const char *one = NULL;
    for (size_t i = 0; i < req->n_messages; i++)
        if (req->messages[i].role == AC_ROLE_SYSTEM &&
            !text_blank(req->messages[i].content)) {
            one = req->messages[i].content;
            n++;
        }
    if (n == 0)
        return 0;
    if (n == 1)
        return json_set(root, "system", json_object_new_string(one));
    json_object *arr = json_object_new_array();
    if (json_set(root, "system", arr) != 0)
        return -1;
    for (size_t i = 0; i < req->n_messages; i++)
        if (req->messages[i].role == AC_ROLE_SYSTEM &&
            !text_blank(req->messages[i].content) &&
            json_push(arr, block_text(req->messages[i].content)) != 0)
            return -1;
    return 0;
}

/* {"name","description"?,"input_schema"}; *bad set when the schema
 * is not a JSON object. */
static json_object *tool_make(const char *name, const char *description,
                              const char *schema, int *bad)
{
    json_object *t = json_object_new_object();
    if (!t)
        return NULL;
    json_object *s = object_parse(schema);
    if (!s) {
        *bad = 1;
        json_object_put(t);
        return NULL;
    }
    if (json_set(t, "name", json_object_new_string(name ? name : "")) != 0 ||
        (description && *description &&
         json_set(t, "description", json_object_new_string(description)) != 0)) {
        json_object_put(s);
        json_object_put(t);
        return NULL;
    }
    if (json_set(t, "input_schema", s) != 0) { /* json_set freed s */
        json_object_put(t);
        return NULL;
    }
    return t;
}

/* tool_choice: auto / none / required (-> any) / a tool's name. */
static json_object *tool_choice_make(const char *choice)
{
    json_object *tc = json_object_new_object();
    if (!tc)
        return NULL;
    const char *type = strcmp(choice, "auto") == 0 ? "auto"
                     : strcmp(choice, "none") == 0 ? "none"
                     : strcmp(choice, "required") == 0 ? "any" : "tool";
    if (json_set(tc, "type", json_object_new_string(type)) != 0 ||
        (strcmp(type, "tool") == 0 &&
         json_set(tc, "name", json_object_new_string(choice)) != 0)) {
        json_object_put(tc);
        return NULL;
    }
    return tc;
}

/*
 * tools, tool_choice and structured output.  Returns AC_OK, AC_ENOMEM or
 * AC_EINVAL (a schema that is not a JSON object; `what` names it).
 */
static ac_status add_tools(json_object *root, const anth_state *st,
                           const ac_gen_request *req, char *what, size_t whatlen)
{
    const ac_tool_def *tools = REQ_HAS(req, n_tools) ? req->tools : NULL;
    size_t n_tools = tools ? req->n_tools : 0;
    const char *choice = REQ_HAS(req, tool_choice) ? req->tool_choice : NULL;
    const char *schema = REQ_HAS(req, json_schema_name) ? req->json_schema : NULL;
    const char *schema_name = schema && req->json_schema_name
                            ? req->json_schema_name : "response";
    int bad = 0;
    int forced_json = schema && !st->native_json;

    if (n_tools > 0 || forced_json) {
        json_object *arr = json_object_new_array();
        if (json_set(root, "tools", arr) != 0)
            return AC_ENOMEM;
        for (size_t i = 0; i < n_tools; i++) {
            json_object *t = tool_make(tools[i].name, tools[i].description,
                                       tools[i].parameters_json, &bad);
            if (bad) {
                snprintf(what, whatlen, "tool '%s': parameters are",
                         tools[i].name ? tools[i].name : "");
                return AC_EINVAL;
            }
            if (json_push(arr, t) != 0)
                return AC_ENOMEM;
        }
        if (forced_json) {
            /* Sized to fit: a fixed buffer could cut the (UTF-8) name. */
            static const char fmt[] = "Give your final answer by calling this "
                                      "tool: its input is the JSON reply '%s', "
                                      "matching the schema.";
            size_t dn = sizeof fmt + strlen(schema_name);
            char *desc = anth_host->malloc(dn);
            if (!desc)
                return AC_ENOMEM;
            snprintf(desc, dn, fmt, schema_name);
            json_object *t = tool_make(ANTH_JSON_TOOL, desc, schema, &bad);
            anth_host->free(desc);
            if (bad) {
                snprintf(what, whatlen, "json_schema is");
                return AC_EINVAL;
            }
            if (json_push(arr, t) != 0)
                return AC_ENOMEM;
            /* Forcing our tool overrides the caller's tool_choice. */
            if (json_set(root, "tool_choice", tool_choice_make(ANTH_JSON_TOOL)) != 0)
                return AC_ENOMEM;
        } else if (choice && *choice) {
            /* tool_choice without tools is a 400 on this API: sent only
             * when there are tools to choose from. */
            if (json_set(root, "tool_choice", tool_choice_make(choice)) != 0)
                return AC_ENOMEM;
        }
    }

    if (schema && st->native_json) {
        json_object *s = object_parse(schema);
        if (!s) {
            snprintf(what, whatlen, "json_schema is");
            return AC_EINVAL;
        }
        json_object *oc = json_object_new_object(), *fmt = json_object_new_object();
        if (json_set(root, "output_config", oc) != 0) {
            json_object_put(fmt);
            json_object_put(s);
            return AC_ENOMEM;
        }
        if (json_set(oc, "format", fmt) != 0) {
            json_object_put(s);
            return AC_ENOMEM;
        }
        if (json_set(fmt, "type", json_object_new_string("json_schema")) != 0) {
            json_object_put(s);
            return AC_ENOMEM;
        }
        if (json_set(fmt, "schema", s) != 0)
            return AC_ENOMEM;
    }
    return AC_OK;
}

ac_status anth_add_headers(const anth_state *st, ac_http_request *out,
                           int has_body)
{
    ac_status rc = anth_host->http_header(out, "x-api-key", st->api_key);
    if (rc == AC_OK)
        rc = anth_host->http_header(out, "anthropic-version", st->version);
    if (rc == AC_OK && st->beta)
        rc = anth_host->http_header(out, "anthropic-beta", st->beta);
    if (rc == AC_OK && has_body)
        rc = anth_host->http_header(out, "content-type", "application/json");
    return rc;
}

ac_status anth_build_request(void *state, const ac_gen_request *req,
                             ac_http_request *out, ac_error *err)
{
    const anth_state *st = state;
    ac_status rc = AC_ENOMEM;
    char what[160] = "";
    const char *empty = NULL;   /* why there is nothing to send */
    json_object *root = json_object_new_object();
    msg_builder mb = { st->name, NULL, NULL, AC_ROLE_USER };
    if (!root)
        goto done;

    const char *model = req->model && *req->model ? req->model
                      : st->default_model ? st->default_model
                      : ANTH_DEFAULT_MODEL;
    long max_tokens = req->has_max_tokens && req->max_tokens > 0
                    ? req->max_tokens : st->max_tokens;
    if (json_set(root, "model", json_object_new_string(model)) != 0 ||
        json_set(root, "max_tokens", json_object_new_int64(max_tokens)) != 0)
        goto done;

    if (add_system(root, req) != 0)
        goto done;
    mb.messages = json_object_new_array();
    if (json_set(root, "messages", mb.messages) != 0)
        goto done;
    for (size_t i = 0; i < req->n_messages; i++)
        if (req->messages[i].role != AC_ROLE_SYSTEM &&
            msgs_add(&mb, &req->messages[i]) != 0)
            goto done;
    /* Only blank text: the API would refuse it ("at least one message
     * is required"); and a blank prompt left out would turn the reply
     * before it into a prefill the model continues.  Say so instead. */
    const ac_message *last = NULL;
    for (size_t i = 0; i < req->n_messages; i++)
        if (req->messages[i].role != AC_ROLE_SYSTEM)
            last = &req->messages[i];
    if (json_object_array_length(mb.messages) == 0)
        empty = "every message is empty or white space";
    else if (last && last->role != AC_ROLE_ASSISTANT && msg_blocks(last) == 0)
        empty = "the last message is empty or white space";
    if (empty) {
        rc = AC_EINVAL;
        goto done;
    }

    /* Sampling.  Anthropic's temperature range is 0..1; a larger value is
     * passed on so the server's 400 says so, rather than being clamped
     * behind the caller's back.  There is no seed. */
    if (req->has_temperature &&
        json_set(root, "temperature", json_double(req->temperature)) != 0)
        goto done;
    if (req->has_top_p && json_set(root, "top_p", json_double(req->top_p)) != 0)
        goto done;
    if (req->n_stop > 0 && req->stop) {
        json_object *arr = NULL;
        for (size_t i = 0; i < req->n_stop; i++) {
            if (text_blank(req->stop[i])) {
                if (req->stop[i] && *req->stop[i])
                    anth_host->log(AC_LOG_WARN, st->name,
                                   "stop sequence %zu is only white space, which "
                                   "this API refuses: not sent", i + 1);
                continue;
            }
            if (!arr) {
                arr = json_object_new_array();
                if (json_set(root, "stop_sequences", arr) != 0)
                    goto done;
            }
            if (json_push(arr, json_object_new_string(req->stop[i])) != 0)
                goto done;
        }
    }

    if ((rc = add_tools(root, st, req, what, sizeof what)) != AC_OK)
        goto done;
    rc = AC_ENOMEM;

    if (req->stream && json_set(root, "stream", json_object_new_boolean(1)) != 0)
        goto done;

    size_t len = 0;
    const char *body = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!body)
        goto done;
    rc = anth_host->http_set(out, "POST", st->messages_url,
                             req->stream ? AC_FRAMING_SSE : AC_FRAMING_NONE);
    if (rc == AC_OK)
        rc = anth_add_headers(st, out, 1);
    if (rc == AC_OK)
        rc = anth_host->http_body(out, body, len);
done:
    if (empty)
        anth_host->error_set(err, rc, AC_STAGE_REQUEST,
                             "provider '%s': nothing to send: %s", st->name,
                             empty);
    else if (rc == AC_EINVAL && what[0])
        anth_host->error_set(err, rc, AC_STAGE_REQUEST,
                             "provider '%s': %s not a JSON object",
                             st->name, what);
    else if (rc != AC_OK)
        anth_host->error_set(err, rc, AC_STAGE_REQUEST,
                             "provider '%s': building the request failed (%s)",
                             st->name, rc == AC_ENOMEM ? "out of memory"
                                                       : "rejected by the core");
    json_object_put(root);
    return rc;
}
