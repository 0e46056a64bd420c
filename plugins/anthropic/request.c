/*
 * request.c -- turning a generic request into POST /v1/messages
 * (docs/protocols.md section 2 "Request body", section 4, checklist item
 * 13).
 *
 * Messages arrive as content parts (provider.h); what each becomes:
 *   - SYSTEM: its TEXT (and FILE) parts go to the top-level `system`, a
 *     string when there is one block, else an array of text blocks; never
 *     into messages;
 *   - USER: TEXT parts are text blocks; IMAGE parts are image blocks with a
 *     base64 source ({type, media_type, data}) or a url source for an
 *     http(s) URL; FILE parts are text blocks "[file: NAME]\n<text>".
 *     Documents go as text, not as the API's `document` block: the
 *     block's plain-text form carries nothing more for the model than the
 *     label does (its title), while the servers that also speak this API
 *     (Ollama, LM Studio, proxies) take text blocks but not documents, and
 *     the label is the one the OpenAI codec writes, so a session that moves
 *     between backends reads the same.  Attachments that follow all of a
 *     message's text (a prompt with files attached) are put before it,
 *     where Anthropic's guides place images and long documents; parts that
 *     interleave keep their order ("image 1: <img> image 2: <img>");
 *   - ASSISTANT: TEXT parts are text blocks, TOOL_CALL parts `tool_use`
 *     blocks whose input is the arguments object;
 *   - TOOL: each TOOL_RESULT part is a `tool_result` block ({tool_use_id,
 *     content, is_error when set}) in a user message;
 *   - consecutive messages of one role (a tool message counts as user) are
 *     merged into one message, so the results of parallel calls, and a
 *     prompt that follows them, travel together as the API expects;
 *   - a part a role cannot carry here (an image from the assistant, text
 *     in a tool message) or of a type this plugin does not know fails the
 *     request with AC_EUNSUPPORTED naming it, never dropped in silence.
 * And otherwise:
 *   - max_tokens is required (the setting, else 4096, when unset);
 *   - stop is `stop_sequences`, without the ones of white space only
 *     ("\n\n", a common stop elsewhere), which the API refuses with a 400
 *     ("each stop sequence must contain non-whitespace"): they are dropped
 *     with a warning; there is no seed (dropped);
 *   - tools are {name, description, input_schema}, tool_choice an object;
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
 * The body is a json-c tree written by ac_sdk_json_body (every append
 * checked); every allocation is checked.  Any thread (state is read-only).
 */
#include "anthropic.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

static ac_status nomem(const anth_state *st, ac_call *call)
{
    return anth_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST,
                           "provider '%s': out of memory building the request", st->name);
}

/* A JSON object the caller gave as text (a tool schema, a tool call's
 * arguments): a new object, or NULL if the text is not one. */
static json_object *object_parse(const char *text)
{
    if (!text)
        return NULL;
    json_object *o = anth_json_try(text, strlen(text), 1);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* 1 when the n bytes are nothing but white space (or none): such text
 * never becomes a text block (see the top of this file). */
static int text_blank(const char *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' &&
            s[i] != '\f' && s[i] != '\v')
            return 0;
    return 1;
}

/* A part's text and its length ("" when it has none). */
static const char *part_text(const ac_part *p, size_t *n)
{
    *n = p->text ? p->text_len : 0;
    return p->text ? p->text : "";
}

/* {"type":"text","text":<n bytes of s>} */
static json_object *block_text(const char *s, size_t n)
{
    json_object *b = json_object_new_object();
    if (!b)
        return NULL;
    if (json_set(b, "type", json_object_new_string("text")) != 0 ||
        json_set(b, "text", json_object_new_string_len(s, (int)n)) != 0) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/* A FILE part: a text block "[file: NAME]\n<text>". */
static json_object *block_file(const ac_part *p)
{
    static const char pre[] = "[file: ";
    const char *name = p->name && *p->name ? p->name : "document";
    size_t tn, nn = strlen(name);
    const char *t = part_text(p, &tn);
    size_t n = sizeof pre - 1 + nn + 2 + tn;
    char *s = anth_host->malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, pre, sizeof pre - 1);
    memcpy(s + sizeof pre - 1, name, nn);
    memcpy(s + sizeof pre - 1 + nn, "]\n", 2);
    memcpy(s + sizeof pre - 1 + nn + 2, t, tn);
    s[n] = '\0';
    json_object *b = block_text(s, n);
    anth_host->free(s);
    return b;
}

/* {"type":"base64","media_type":<mime, mn bytes>,"data":<b64>} */
static json_object *source_base64(const char *mime, size_t mn, const char *b64)
{
    json_object *src = json_object_new_object();
    if (!src)
        return NULL;
    if (json_set(src, "type", json_object_new_string("base64")) != 0 ||
        json_set(src, "media_type", json_object_new_string_len(mime, (int)mn)) != 0 ||
        json_set(src, "data", json_object_new_string(b64)) != 0) {
        json_object_put(src);
        return NULL;
    }
    return src;
}

/*
 * An IMAGE part: base64 bytes become a base64 source, an http(s) URL a url
 * source for the server to fetch.  A data: URL given as the URL (the core
 * splits those; a plugin-facing request made elsewhere may not) is sent as
 * base64 too, since the API fetches only http(s).  (The caller checked that
 * the part has data or a URL.)
 */
static json_object *block_image(const ac_part *p)
{
    const char *url = p->url;
    const char *b64 = url ? strstr(url, ";base64,") : NULL;
    json_object *src;
    if (p->data_base64) {
        const char *mime = p->mime_type && *p->mime_type ? p->mime_type : "image/png";
        src = source_base64(mime, strlen(mime), p->data_base64);
    } else if (strncmp(url, "data:", 5) == 0 && b64 && b64 < strchr(url, ',')) {
        /* data:<media type>;base64,<data> (";base64," before any other
         * comma: a URL with parameters is left to the server). */
        src = source_base64(url + 5, (size_t)(b64 - (url + 5)), b64 + 8);
    } else {
        src = json_object_new_object();
        if (src && (json_set(src, "type", json_object_new_string("url")) != 0 ||
                    json_set(src, "url", json_object_new_string(url)) != 0)) {
            json_object_put(src);
            src = NULL;
        }
    }
    if (!src)
        return NULL;
    json_object *b = json_object_new_object();
    if (!b || json_set(b, "type", json_object_new_string("image")) != 0) {
        json_object_put(src);
        json_object_put(b);
        return NULL;
    }
    if (json_set(b, "source", src) != 0) { /* json_set freed src */
        json_object_put(b);
        return NULL;
    }
    return b;
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
static json_object *block_tool_use(const ac_part *p, ac_call *call)
{
    json_object *b = json_object_new_object();
    if (!b)
        return NULL;
    json_object *input = object_parse(p->arguments);
    if (!input) {
        anth_host->log(call, AC_LOG_WARN, "tool call '%s': arguments are not a JSON "
                       "object; sending {}", p->name ? p->name : "");
        input = json_object_new_object();
    }
    if (json_set(b, "type", json_object_new_string("tool_use")) != 0 ||
        json_set(b, "id", tool_id_string(p->id)) != 0 ||
        json_set(b, "name", json_object_new_string(p->name ? p->name : "")) != 0) {
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

/* A tool_result block answering call p->id; an empty result is still
 * sent (the API pairs it with its call). */
static json_object *block_tool_result(const ac_part *p)
{
    size_t n;
    const char *t = part_text(p, &n);
    json_object *b = json_object_new_object();
    if (!b)
        return NULL;
    if (json_set(b, "type", json_object_new_string("tool_result")) != 0 ||
        json_set(b, "tool_use_id", tool_id_string(p->id)) != 0 ||
        json_set(b, "content", json_object_new_string_len(t, (int)n)) != 0 ||
        (p->is_error && json_set(b, "is_error", json_object_new_boolean(1)) != 0)) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/* ------------------------------------------------------------------ */
/* Which parts a message may carry                                      */
/* ------------------------------------------------------------------ */

static const char *role_name(ac_role r)
{
    switch (r) {
    case AC_ROLE_SYSTEM: return "system";
    case AC_ROLE_USER: return "user";
    case AC_ROLE_ASSISTANT: return "assistant";
    case AC_ROLE_TOOL: return "tool";
    }
    return NULL;
}

static const char *part_name(ac_part_type t)
{
    switch (t) {
    case AC_PART_TEXT: return "text";
    case AC_PART_IMAGE: return "image";
    case AC_PART_FILE: return "file";
    case AC_PART_TOOL_CALL: return "tool call";
    case AC_PART_TOOL_RESULT: return "tool result";
    }
    return NULL;
}

/* 1 if this API takes a part of type t in a message of role r. */
static int part_allowed(ac_role r, ac_part_type t)
{
    switch (r) {
    case AC_ROLE_SYSTEM: return t == AC_PART_TEXT || t == AC_PART_FILE;
    case AC_ROLE_USER: return t == AC_PART_TEXT || t == AC_PART_IMAGE || t == AC_PART_FILE;
    case AC_ROLE_ASSISTANT: return t == AC_PART_TEXT || t == AC_PART_TOOL_CALL;
    case AC_ROLE_TOOL: return t == AC_PART_TOOL_RESULT;
    }
    return 0;
}

/* Every message's role and parts are ones this API takes: AC_OK, or the
 * call failed (AC_EUNSUPPORTED for a part, AC_EINVAL for nonsense). */
static ac_status messages_check(const anth_state *st, const ac_gen_request *req,
                                ac_call *call)
{
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = anth_host->message(req, i);
        if (!m)
            return anth_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                   "provider '%s': message %zu is missing", st->name, i);
        const char *role = role_name(m->role);
        if (!role)
            return anth_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                   "provider '%s': message %zu has an unknown role %d",
                                   st->name, i, (int)m->role);
        for (size_t j = 0; j < m->n_parts; j++) {
            const ac_part *p = anth_host->message_part(m, j);
            const char *what = p ? part_name(p->type) : NULL;
            if (!what)
                return anth_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                       "provider '%s': message %zu (%s) has a content part "
                                       "of type %d, which this plugin does not know",
                                       st->name, i, role, p ? (int)p->type : -1);
            if (!part_allowed(m->role, p->type))
                return anth_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                       "provider '%s': message %zu (%s): the Anthropic "
                                       "Messages API takes no %s part in %s messages",
                                       st->name, i, role, what, role);
            if (p->text && p->text_len > INT_MAX / 2)
                return anth_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                       "provider '%s': message %zu: a %s part of %zu bytes "
                                       "is too large", st->name, i, what, p->text_len);
            if (p->type == AC_PART_IMAGE && !p->data_base64 && !(p->url && *p->url))
                return anth_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                       "provider '%s': message %zu: an image part with "
                                       "neither data nor a URL", st->name, i);
        }
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

/* Messages being built: the array, and the content array of its last
 * message so the next message of the same role can be merged in. */
typedef struct msg_builder {
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

/* 1 if part p becomes a block (blank text does not). */
static int part_sent(const ac_part *p)
{
    size_t n;
    const char *t = part_text(p, &n);
    return p->type != AC_PART_TEXT || !text_blank(t, n);
}

/* The number of blocks a non-system message becomes. */
static size_t msg_blocks(const ac_message *m)
{
    size_t n = 0;
    for (size_t j = 0; j < m->n_parts; j++)
        n += part_sent(anth_host->message_part(m, j));
    return n;
}

/* One part as a block (its role was checked); NULL out of memory. */
static json_object *block_make(const ac_part *p, ac_call *call)
{
    size_t n;
    const char *t;
    switch (p->type) {
    case AC_PART_TEXT:
        t = part_text(p, &n);
        return block_text(t, n);
    case AC_PART_IMAGE: return block_image(p);
    case AC_PART_FILE: return block_file(p);
    case AC_PART_TOOL_CALL: return block_tool_use(p, call);
    case AC_PART_TOOL_RESULT: return block_tool_result(p);
    }
    return NULL;
}

/* 1 when a user message's attachments (IMAGE, FILE) all follow its text:
 * they are then sent first (see the top of this file). */
static int attachments_trail(const ac_message *m)
{
    int seen_attachment = 0, any_text = 0;
    for (size_t j = 0; j < m->n_parts; j++) {
        const ac_part *p = anth_host->message_part(m, j);
        if (p->type == AC_PART_TEXT) {
            if (seen_attachment)
                return 0;
            any_text = 1;
        } else {
            seen_attachment = 1;
        }
    }
    return any_text && seen_attachment;
}

/* One non-system message into the builder.  0, or -1 out of memory. */
static int msgs_add(msg_builder *mb, const ac_message *m, ac_call *call)
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
    /* Pass 0: attachments moved before the text; pass 1: the rest, in
     * order. */
    int lead = m->role == AC_ROLE_USER && attachments_trail(m);
    for (int pass = lead ? 0 : 1; pass < 2; pass++)
        for (size_t j = 0; j < m->n_parts; j++) {
            const ac_part *p = anth_host->message_part(m, j);
            int attachment = p->type == AC_PART_IMAGE || p->type == AC_PART_FILE;
            if (!part_sent(p) || (lead && attachment != (pass == 0)))
                continue;
            if (json_push(c, block_make(p, call)) != 0)
                return -1;
        }
    return 0;
}

/* system: one string, or an array of text blocks when there are several
 * (or a file).  0, or -1 out of memory. */
static int add_system(json_object *root, const ac_gen_request *req)
{
    size_t n = 0;
    const ac_part *one = NULL;
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = anth_host->message(req, i);
        if (m->role != AC_ROLE_SYSTEM)
            continue;
        for (size_t j = 0; j < m->n_parts; j++) {
            const ac_part *p = anth_host->message_part(m, j);
            if (part_sent(p)) {
                one = p;
                n++;
            }
        }
    }
    if (n == 0)
        return 0;
    if (n == 1 && one->type == AC_PART_TEXT) {
        size_t tn;
        const char *t = part_text(one, &tn);
        return json_set(root, "system", json_object_new_string_len(t, (int)tn));
    }
    json_object *arr = json_object_new_array();
    if (json_set(root, "system", arr) != 0)
        return -1;
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = anth_host->message(req, i);
        if (m->role != AC_ROLE_SYSTEM)
            continue;
        for (size_t j = 0; j < m->n_parts; j++) {
            const ac_part *p = anth_host->message_part(m, j);
            if (part_sent(p) && json_push(arr, block_make(p, NULL)) != 0)
                return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Tools and structured output                                          */
/* ------------------------------------------------------------------ */

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

static ac_status not_object(const anth_state *st, const char *what, ac_call *call)
{
    return anth_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                           "provider '%s': %s not a JSON object", st->name, what);
}

/* tools, tool_choice and structured output.  AC_OK, or the call failed
 * (AC_ENOMEM, or AC_EINVAL for a schema that is not a JSON object). */
static ac_status add_tools(json_object *root, const anth_state *st,
                           const ac_gen_request *req, ac_call *call)
{
    const char *choice = req->tool_choice;
    const char *schema = req->json_schema;
    const char *schema_name = schema && req->json_schema_name
                            ? req->json_schema_name : "response";
    int bad = 0;
    int forced_json = schema && !st->native_json;

    if (req->n_tools > 0 || forced_json) {
        json_object *arr = json_object_new_array();
        if (json_set(root, "tools", arr) != 0)
            return nomem(st, call);
        for (size_t i = 0; i < req->n_tools; i++) {
            const ac_tool_def *td = anth_host->tool(req, i);
            const char *name = td && td->name ? td->name : "";
            json_object *t = td ? tool_make(td->name, td->description,
                                            td->parameters_json, &bad) : NULL;
            if (bad || !td) {
                char what[160];
                snprintf(what, sizeof what, "tool '%s': parameters are", name);
                return not_object(st, what, call);
            }
            if (json_push(arr, t) != 0)
                return nomem(st, call);
        }
        if (forced_json) {
            /* Sized to fit: a fixed buffer could cut the (UTF-8) name. */
            static const char fmt[] = "Give your final answer by calling this "
                                      "tool: its input is the JSON reply '%s', "
                                      "matching the schema.";
            size_t dn = sizeof fmt + strlen(schema_name);
            char *desc = anth_host->malloc(dn);
            if (!desc)
                return nomem(st, call);
            snprintf(desc, dn, fmt, schema_name);
            json_object *t = tool_make(ANTH_JSON_TOOL, desc, schema, &bad);
            anth_host->free(desc);
            if (bad)
                return not_object(st, "json_schema is", call);
            if (json_push(arr, t) != 0)
                return nomem(st, call);
            /* Forcing our tool overrides the caller's tool_choice. */
            if (json_set(root, "tool_choice", tool_choice_make(ANTH_JSON_TOOL)) != 0)
                return nomem(st, call);
        } else if (choice && *choice) {
            /* tool_choice without tools is a 400 on this API: sent only
             * when there are tools to choose from. */
            if (json_set(root, "tool_choice", tool_choice_make(choice)) != 0)
                return nomem(st, call);
        }
    }

    if (schema && st->native_json) {
        json_object *s = object_parse(schema);
        if (!s)
            return not_object(st, "json_schema is", call);
        json_object *oc = json_object_new_object(), *fmt = json_object_new_object();
        if (json_set(root, "output_config", oc) != 0) {
            json_object_put(fmt);
            json_object_put(s);
            return nomem(st, call);
        }
        if (json_set(oc, "format", fmt) != 0 ||
            json_set(fmt, "type", json_object_new_string("json_schema")) != 0) {
            json_object_put(s);
            return nomem(st, call);
        }
        if (json_set(fmt, "schema", s) != 0)
            return nomem(st, call);
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* The request                                                          */
/* ------------------------------------------------------------------ */

ac_status anth_add_headers(const anth_state *st, ac_http_request *out,
                           int has_body, ac_call *call)
{
    ac_status rc = anth_host->http_header(out, "x-api-key", st->api_key, call);
    if (rc == AC_OK)
        rc = anth_host->http_header(out, "anthropic-version", st->version, call);
    if (rc == AC_OK && st->beta)
        rc = anth_host->http_header(out, "anthropic-beta", st->beta, call);
    if (rc == AC_OK && has_body)
        rc = anth_host->http_header(out, "content-type", "application/json", call);
    return rc;
}

/* Sampling: temperature, top_p, stop_sequences.  0, or -1 out of memory. */
static int add_sampling(json_object *root, const ac_gen_request *req, ac_call *call)
{
    /* Anthropic's temperature range is 0..1; a larger value is passed on
     * so the server's 400 says so, rather than being clamped behind the
     * caller's back.  There is no seed. */
    if (req->has_temperature &&
        json_set(root, "temperature", json_object_new_double(req->temperature)) != 0)
        return -1;
    if (req->has_top_p && json_set(root, "top_p", json_object_new_double(req->top_p)) != 0)
        return -1;
    json_object *arr = NULL;
    for (size_t i = 0; req->stop && i < req->n_stop; i++) {
        const char *s = req->stop[i];
        if (text_blank(s, s ? strlen(s) : 0)) {
            if (s && *s)
                anth_host->log(call, AC_LOG_WARN, "stop sequence %zu is only white "
                               "space, which this API refuses: not sent", i + 1);
            continue;
        }
        if (!arr) {
            arr = json_object_new_array();
            if (json_set(root, "stop_sequences", arr) != 0)
                return -1;
        }
        if (json_push(arr, json_object_new_string(s)) != 0)
            return -1;
    }
    return 0;
}

/* The body into root.  AC_OK, or the call failed. */
static ac_status body_fill(const anth_state *st, const ac_gen_request *req,
                           json_object *root, ac_call *call)
{
    const char *model = req->model && *req->model ? req->model
                      : st->default_model ? st->default_model
                      : ANTH_DEFAULT_MODEL;
    long max_tokens = req->has_max_tokens && req->max_tokens > 0
                    ? req->max_tokens : st->max_tokens;
    if (json_set(root, "model", json_object_new_string(model)) != 0 ||
        json_set(root, "max_tokens", json_object_new_int64(max_tokens)) != 0 ||
        add_system(root, req) != 0)
        return nomem(st, call);

    msg_builder mb = { json_object_new_array(), NULL, AC_ROLE_USER };
    if (json_set(root, "messages", mb.messages) != 0)
        return nomem(st, call);
    const ac_message *last = NULL;
    for (size_t i = 0; i < req->n_messages; i++) {
        const ac_message *m = anth_host->message(req, i);
        if (m->role == AC_ROLE_SYSTEM)
            continue;
        last = m;
        if (msgs_add(&mb, m, call) != 0)
            return nomem(st, call);
    }
    /* Only blank text: the API would refuse it ("at least one message
     * is required"); and a blank prompt left out would turn the reply
     * before it into a prefill the model continues.  Say so instead. */
    const char *empty = NULL;
    if (json_object_array_length(mb.messages) == 0)
        empty = "every message is empty or white space";
    else if (last && last->role != AC_ROLE_ASSISTANT && msg_blocks(last) == 0)
        empty = "the last message is empty or white space";
    if (empty)
        return anth_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                               "provider '%s': nothing to send: %s", st->name, empty);

    if (add_sampling(root, req, call) != 0)
        return nomem(st, call);
    ac_status rc = add_tools(root, st, req, call);
    if (rc != AC_OK)
        return rc;
    if (req->stream && json_set(root, "stream", json_object_new_boolean(1)) != 0)
        return nomem(st, call);
    return AC_OK;
}

/* POST /v1/messages/count_tokens: the body a request would have, less
 * what that endpoint refuses (max_tokens, stream, sampling). */
ac_status anth_build_count_request(void *state, const ac_gen_request *req,
                                   ac_http_request *out, ac_call *call)
{
    const anth_state *st = state;
    ac_status rc = messages_check(st, req, call);
    if (rc != AC_OK)
        return rc;
    json_object *root = json_object_new_object();
    if (!root)
        return nomem(st, call);
    rc = body_fill(st, req, root, call);
    static const char *const drop[] = {"max_tokens", "stream", "temperature", "top_p",
                                       "top_k", "stop_sequences", "metadata"};
    for (size_t i = 0; rc == AC_OK && i < sizeof drop / sizeof drop[0]; i++)
        json_object_object_del(root, drop[i]);
    char *url = NULL;
    if (rc == AC_OK) {
        size_t n = strlen(st->messages_url);
        url = anth_host->malloc(n + sizeof "/count_tokens");
        if (!url)
            rc = nomem(st, call);
        else
            memcpy(url, st->messages_url, n), memcpy(url + n, "/count_tokens",
                                                     sizeof "/count_tokens");
    }
    if (rc == AC_OK)
        rc = anth_host->http_set(out, "POST", url, AC_FRAMING_NONE, call);
    anth_host->free(url);
    if (rc == AC_OK)
        rc = anth_add_headers(st, out, 1, call);
    if (rc == AC_OK)
        rc = ac_sdk_json_body(anth_host, out, root, call);
    json_object_put(root);
    return rc;
}

ac_status anth_build_request(void *state, const ac_gen_request *req,
                             ac_http_request *out, ac_call *call)
{
    const anth_state *st = state;
    ac_status rc = messages_check(st, req, call);
    if (rc != AC_OK)
        return rc;
    json_object *root = json_object_new_object();
    if (!root)
        return nomem(st, call);
    rc = body_fill(st, req, root, call);
    if (rc == AC_OK)
        rc = anth_host->http_set(out, "POST", st->messages_url,
                                 req->stream ? AC_FRAMING_SSE : AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = anth_add_headers(st, out, 1, call);
    if (rc == AC_OK)
        rc = ac_sdk_json_body(anth_host, out, root, call);
    json_object_put(root);
    return rc;
}
