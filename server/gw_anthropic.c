/*
 * gw_anthropic.c -- an Anthropic Messages request (POST /v1/messages)
 * turned into a message list and parameters for the core.
 *
 * Accepted as Anthropic documents it: model, max_tokens (required),
 * system (a string or text blocks), messages of role user and assistant
 * whose content is a string or blocks -- text; image (base64 or url
 * source); tool_use (assistant); tool_result (user), which becomes a
 * tool message of its own before the rest of that user turn; thinking
 * blocks of earlier turns are dropped, as the API allows --, tools
 * (custom ones: name, description, input_schema), tool_choice (auto,
 * any, tool, none), stop_sequences, temperature, top_p, stream, and
 * output_format (json_schema) for structured output.  top_k, metadata,
 * thinking and service_tier are ignored.  Errors are 400s naming the
 * field (written in Anthropic's error shape by gw_out_anthropic.c).
 *
 * Thread-safety: none needed (pure functions of their arguments).
 */
#include "gw.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int invalid(gw_err *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int invalid(gw_err *e, const char *path, const char *fmt, ...)
{
    char msg[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gw_err_set(e, 400, "invalid_request_error", path, "", "%s", msg);
    return -1;
}

static int oom(gw_err *e)
{
    gw_err_set(e, 500, "server_error", "", "", "Out of memory.");
    return -1;
}

static int need_object(json_object *v, const char *path, gw_err *e)
{
    if (!v)
        return invalid(e, path, "%s: Field required", path);
    if (!json_object_is_type(v, json_type_object))
        return invalid(e, path, "%s: Input should be an object, not %s", path, gw_jtype(v));
    return 0;
}

static int text_of(json_object *v, const char *path, const char **out, gw_err *e)
{
    if (!v)
        return invalid(e, path, "%s: Field required", path);
    if (!json_object_is_type(v, json_type_string))
        return invalid(e, path, "%s: Input should be a valid string, not %s", path, gw_jtype(v));
    *out = json_object_get_string(v);
    if (strlen(*out) != (size_t)json_object_get_string_len(v))
        return invalid(e, path, "%s: the string holds a NUL character", path);
    return 0;
}

/* A block's "type" (required). */
static int block_type(json_object *blk, const char *path, const char **type, gw_err *e)
{
    char p[200];
    if (need_object(blk, path, e) != 0)
        return -1;
    gw_path(p, sizeof p, "%s.type", path);
    return text_of(gw_jget(blk, "type"), p, type, e);
}

/* An image block: checked, and attached to the last message when attach
 * is 1 (base64 data as a data: URL; the core reads its type from the
 * bytes and checks it agrees with media_type). */
static int image(ac_messages *m, json_object *blk, const char *path, int attach, gw_err *e)
{
    char p[200];
    json_object *src = gw_jget(blk, "source");
    gw_path(p, sizeof p, "%s.source", path);
    if (need_object(src, p, e) != 0)
        return -1;
    const char *type, *mt = NULL, *data = NULL, *url = NULL;
    gw_path(p, sizeof p, "%s.source.type", path);
    if (text_of(gw_jget(src, "type"), p, &type, e) != 0)
        return -1;
    char *made = NULL;
    if (strcmp(type, "base64") == 0) {
        gw_path(p, sizeof p, "%s.source.media_type", path);
        if (text_of(gw_jget(src, "media_type"), p, &mt, e) != 0)
            return -1;
        gw_path(p, sizeof p, "%s.source.data", path);
        if (text_of(gw_jget(src, "data"), p, &data, e) != 0)
            return -1;
        if (!attach)
            return 0;
        size_t n = strlen(mt) + strlen(data) + 16;
        if (!(made = malloc(n)))
            return oom(e);
        snprintf(made, n, "data:%s;base64,%s", mt, data);
        url = made;
    } else if (strcmp(type, "url") == 0) {
        gw_path(p, sizeof p, "%s.source.url", path);
        if (text_of(gw_jget(src, "url"), p, &url, e) != 0)
            return -1;
        if (!attach)
            return 0;
    } else {
        return invalid(e, p, "%s: '%s' is not a supported image source (base64, url)", p, type);
    }
    ac_error ae;
    ac_status st = ac_messages_attach_image_url(m, url, &ae);
    free(made);
    if (st == AC_ENOMEM)
        return oom(e);
    if (st != AC_OK)
        return invalid(e, path, "%s: the image is not valid: %s", path, ae.message);
    return 0;
}

/* A tool_result's content: a string or text blocks (joined). */
static int result_text(json_object *c, const char *path, jbuf *b, gw_err *e)
{
    const char *s;
    jb_raw(b, "", 0);
    if (!c)
        return 0;
    if (json_object_is_type(c, json_type_string)) {
        if (text_of(c, path, &s, e) != 0)
            return -1;
        jb_cstr(b, s);
        return 0;
    }
    if (!json_object_is_type(c, json_type_array))
        return invalid(e, path, "%s: Input should be a string or a list of blocks, not %s", path,
                       gw_jtype(c));
    char p[200];
    for (size_t i = 0; i < json_object_array_length(c); i++) {
        json_object *blk = json_object_array_get_idx(c, i);
        const char *type;
        gw_path(p, sizeof p, "%s.%zu", path, i);
        if (block_type(blk, p, &type, e) != 0)
            return -1;
        if (strcmp(type, "text") != 0)
            return invalid(e, p, "%s: only text blocks are supported in a tool result, not '%s'",
                           p, type);
        gw_path(p, sizeof p, "%s.%zu.text", path, i);
        if (text_of(gw_jget(blk, "text"), p, &s, e) != 0)
            return -1;
        jb_cstr(b, s);
    }
    return 0;
}

static int user_turn(ac_messages *m, json_object *content, const char *path, gw_err *e)
{
    const char *s;
    if (json_object_is_type(content, json_type_string)) {
        if (text_of(content, path, &s, e) != 0)
            return -1;
        return ac_messages_add(m, AC_ROLE_USER, s) == AC_OK ? 0 : oom(e);
    }
    char p[200];
    size_t n = json_object_array_length(content);
    /* Tool results first, each a tool message; then the rest, one user
     * message (the order the other wire formats want). */
    for (size_t i = 0; i < n; i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type, *id;
        gw_path(p, sizeof p, "%s.%zu", path, i);
        if (block_type(blk, p, &type, e) != 0)
            return -1;
        if (strcmp(type, "tool_result") != 0)
            continue;
        gw_path(p, sizeof p, "%s.%zu.tool_use_id", path, i);
        if (text_of(gw_jget(blk, "tool_use_id"), p, &id, e) != 0)
            return -1;
        int is_error = 0;
        gw_path(p, sizeof p, "%s.%zu.is_error", path, i);
        if (gw_jbool(blk, "is_error", p, &is_error, e) < 0)
            return -1;
        jbuf b = {0};
        gw_path(p, sizeof p, "%s.%zu.content", path, i);
        if (result_text(gw_jget(blk, "content"), p, &b, e) != 0) {
            jb_free(&b);
            return -1;
        }
        ac_status st = b.oom ? AC_ENOMEM : ac_messages_add_tool_result(m, id, NULL, b.p, is_error);
        jb_free(&b);
        if (st == AC_ENOMEM)
            return oom(e);
        if (st != AC_OK)
            return invalid(e, p, "%s: the tool result is not valid", p);
    }
    /* Then the rest, one user message: its text blocks joined a line
     * apart, then its images. */
    jbuf text = {0};
    int texts = 0, others = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type;
        gw_path(p, sizeof p, "%s.%zu", path, i);
        block_type(blk, p, &type, e); /* checked above */
        if (strcmp(type, "tool_result") == 0)
            continue;
        others++;
        if (strcmp(type, "text") == 0) {
            gw_path(p, sizeof p, "%s.%zu.text", path, i);
            if (text_of(gw_jget(blk, "text"), p, &s, e) != 0)
                goto fail;
            if (texts++)
                jb_cstr(&text, "\n");
            jb_cstr(&text, s);
        } else if (strcmp(type, "image") == 0) {
            if (image(m, blk, p, 0, e) != 0)
                goto fail;
        } else {
            invalid(e, p, "%s: blocks of type '%s' are not supported in a user turn (text, "
                    "image, tool_result are)", p, type);
            goto fail;
        }
    }
    if (!others)
        return 0;
    ac_status st = text.oom ? AC_ENOMEM : ac_messages_add(m, AC_ROLE_USER, texts ? text.p : NULL);
    jb_free(&text);
    if (st != AC_OK)
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type;
        gw_path(p, sizeof p, "%s.%zu", path, i);
        block_type(blk, p, &type, e);
        if (strcmp(type, "image") == 0 && image(m, blk, p, 1, e) != 0)
            return -1;
    }
    return 0;
fail:
    jb_free(&text);
    return -1;
}

static int assistant_turn(ac_messages *m, json_object *content, const char *path, gw_err *e)
{
    const char *s;
    if (json_object_is_type(content, json_type_string)) {
        if (text_of(content, path, &s, e) != 0)
            return -1;
        return ac_messages_add(m, AC_ROLE_ASSISTANT, *s ? s : NULL) == AC_OK ? 0 : oom(e);
    }
    char p[200];
    size_t n = json_object_array_length(content);
    /* Its text blocks joined a line apart, then its tool calls. */
    jbuf text = {0};
    int texts = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type;
        gw_path(p, sizeof p, "%s.%zu", path, i);
        if (block_type(blk, p, &type, e) != 0)
            goto fail;
        if (strcmp(type, "text") == 0) {
            gw_path(p, sizeof p, "%s.%zu.text", path, i);
            if (text_of(gw_jget(blk, "text"), p, &s, e) != 0)
                goto fail;
            if (*s) {
                if (texts++)
                    jb_cstr(&text, "\n");
                jb_cstr(&text, s);
            }
        } else if (strcmp(type, "tool_use") != 0 && strcmp(type, "thinking") != 0 &&
                   strcmp(type, "redacted_thinking") != 0) {
            invalid(e, p, "%s: blocks of type '%s' are not supported in an assistant turn "
                    "(text, tool_use, thinking are)", p, type);
            goto fail;
        }
    }
    ac_status st = text.oom ? AC_ENOMEM
                            : ac_messages_add(m, AC_ROLE_ASSISTANT, texts ? text.p : NULL);
    jb_free(&text);
    if (st != AC_OK)
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type, *id, *name;
        gw_path(p, sizeof p, "%s.%zu", path, i);
        block_type(blk, p, &type, e); /* checked above */
        if (strcmp(type, "tool_use") != 0)
            continue;
        gw_path(p, sizeof p, "%s.%zu.id", path, i);
        if (text_of(gw_jget(blk, "id"), p, &id, e) != 0)
            return -1;
        gw_path(p, sizeof p, "%s.%zu.name", path, i);
        if (text_of(gw_jget(blk, "name"), p, &name, e) != 0)
            return -1;
        json_object *input = gw_jget(blk, "input");
        gw_path(p, sizeof p, "%s.%zu.input", path, i);
        if (input && !json_object_is_type(input, json_type_object))
            return invalid(e, p, "%s: Input should be an object, not %s", p, gw_jtype(input));
        st = ac_messages_add_tool_call(m, id, name, input ? gw_jtext(input) : "{}");
        if (st == AC_ENOMEM)
            return oom(e);
        if (st != AC_OK)
            return invalid(e, p, "%s: the tool call is not valid", p);
    }
    return 0;
fail:
    jb_free(&text);
    return -1;
}

static int system_prompt(ac_messages *m, json_object *sys, gw_err *e)
{
    const char *s;
    if (json_object_is_type(sys, json_type_string)) {
        if (text_of(sys, "system", &s, e) != 0)
            return -1;
        return !*s || ac_messages_add(m, AC_ROLE_SYSTEM, s) == AC_OK ? 0 : oom(e);
    }
    if (!json_object_is_type(sys, json_type_array))
        return invalid(e, "system", "system: Input should be a string or a list of text blocks, "
                       "not %s", gw_jtype(sys));
    char p[64];
    jbuf text = {0};
    size_t n = json_object_array_length(sys);
    for (size_t i = 0; i < n; i++) {
        json_object *blk = json_object_array_get_idx(sys, i);
        const char *type;
        gw_path(p, sizeof p, "system.%zu", i);
        if (block_type(blk, p, &type, e) != 0)
            goto fail;
        if (strcmp(type, "text") != 0) {
            invalid(e, p, "%s: only text blocks are supported in system, not '%s'", p, type);
            goto fail;
        }
        gw_path(p, sizeof p, "system.%zu.text", i);
        if (text_of(gw_jget(blk, "text"), p, &s, e) != 0)
            goto fail;
        if (i)
            jb_cstr(&text, "\n");
        jb_cstr(&text, s);
    }
    ac_status st = !n ? AC_OK : text.oom ? AC_ENOMEM : ac_messages_add(m, AC_ROLE_SYSTEM, text.p);
    jb_free(&text);
    return st == AC_OK ? 0 : oom(e);
fail:
    jb_free(&text);
    return -1;
}

static int tools(ac_gen_params *gp, json_object *t, gw_err *e)
{
    if (!json_object_is_type(t, json_type_array))
        return invalid(e, "tools", "tools: Input should be a list, not %s", gw_jtype(t));
    if (json_object_array_length(t) > GW_MAX_TOOLS)
        return invalid(e, "tools", "tools: at most %d tools are accepted", GW_MAX_TOOLS);
    char p[64];
    for (size_t i = 0; i < json_object_array_length(t); i++) {
        json_object *tool = json_object_array_get_idx(t, i);
        const char *name, *desc = NULL, *type = NULL;
        gw_path(p, sizeof p, "tools.%zu", i);
        if (need_object(tool, p, e) != 0)
            return -1;
        gw_path(p, sizeof p, "tools.%zu.type", i);
        if (gw_jstring(tool, "type", p, &type, e) < 0)
            return -1;
        if (type && strcmp(type, "custom") != 0)
            return invalid(e, p, "%s: server tools ('%s') are not supported; give name, "
                           "description and input_schema", p, type);
        gw_path(p, sizeof p, "tools.%zu.name", i);
        if (text_of(gw_jget(tool, "name"), p, &name, e) != 0)
            return -1;
        gw_path(p, sizeof p, "tools.%zu.description", i);
        if (gw_jstring(tool, "description", p, &desc, e) < 0)
            return -1;
        json_object *schema = gw_jget(tool, "input_schema");
        gw_path(p, sizeof p, "tools.%zu.input_schema", i);
        if (need_object(schema, p, e) != 0)
            return -1;
        ac_status st = ac_gen_params_add_tool(gp, name, desc, gw_jtext(schema));
        if (st == AC_ENOMEM)
            return oom(e);
        if (st != AC_OK)
            return invalid(e, p, "%s: the tool could not be offered (%s)", p, ac_strerror(st));
    }
    return 0;
}

static int tool_choice(ac_gen_params *gp, json_object *tc, gw_err *e)
{
    const char *type, *name = NULL;
    if (need_object(tc, "tool_choice", e) != 0 ||
        text_of(gw_jget(tc, "type"), "tool_choice.type", &type, e) != 0)
        return -1;
    const char *choice;
    if (strcmp(type, "auto") == 0)
        choice = "auto";
    else if (strcmp(type, "any") == 0)
        choice = "required";
    else if (strcmp(type, "none") == 0)
        choice = "none";
    else if (strcmp(type, "tool") == 0) {
        if (text_of(gw_jget(tc, "name"), "tool_choice.name", &name, e) != 0)
            return -1;
        choice = name;
    } else
        return invalid(e, "tool_choice.type", "tool_choice.type: '%s' is not one of auto, any, "
                       "tool, none", type);
    return ac_gen_params_set_tool_choice(gp, choice) == AC_OK ? 0 : oom(e);
}

static int output_format(gw_chat_req *r, json_object *of, gw_err *e)
{
    const char *type;
    if (need_object(of, "output_format", e) != 0 ||
        text_of(gw_jget(of, "type"), "output_format.type", &type, e) != 0)
        return -1;
    if (strcmp(type, "json_schema") != 0)
        return invalid(e, "output_format.type", "output_format.type: '%s' is not supported "
                       "(json_schema is)", type);
    json_object *s = gw_jget(of, "schema");
    if (need_object(s, "output_format.schema", e) != 0)
        return -1;
    ac_error ae;
    ac_status st = ac_gen_params_set_json_schema(r->params, NULL, gw_jtext(s), &ae);
    if (st == AC_ENOMEM)
        return oom(e);
    if (st != AC_OK)
        return invalid(e, "output_format.schema", "output_format.schema: %s", ae.message);
    r->structured = 1;
    return 0;
}

int gw_anthropic_parse(json_object *root, long long max_messages, gw_chat_req *r, gw_err *e)
{
    memset(r, 0, sizeof *r);
    r->api = GW_API_ANTHROPIC;
    const char *model;
    if (text_of(gw_jget(root, "model"), "model", &model, e) != 0)
        return -1;
    if (!*model)
        return invalid(e, "model", "model: String should have at least 1 character");
    if (!(r->model = strdup(model)) || !(r->msgs = ac_messages_new()) ||
        !(r->params = ac_gen_params_new()))
        return oom(e);
    long long ll;
    double d;
    int got, b;
    if ((got = gw_jint(root, "max_tokens", "max_tokens", 1, 1000000000, &ll, e)) < 0)
        return -1;
    if (!got)
        return invalid(e, "max_tokens", "max_tokens: Field required");
    ac_gen_params_set_max_tokens(r->params, (long)ll);
    json_object *v;
    if ((v = gw_jget(root, "system")) && system_prompt(r->msgs, v, e) != 0)
        return -1;
    json_object *msgs = gw_jget(root, "messages");
    if (!msgs)
        return invalid(e, "messages", "messages: Field required");
    if (!json_object_is_type(msgs, json_type_array))
        return invalid(e, "messages", "messages: Input should be a valid list, not %s",
                       gw_jtype(msgs));
    size_t n = json_object_array_length(msgs);
    if (n == 0)
        return invalid(e, "messages", "messages: at least one message is required");
    if ((long long)n > max_messages)
        return invalid(e, "messages", "messages: %zu messages, more than this server accepts "
                       "(%lld)", n, max_messages);
    char p[64];
    for (size_t i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(msgs, i);
        const char *role;
        gw_path(p, sizeof p, "messages.%zu", i);
        if (need_object(msg, p, e) != 0)
            return -1;
        gw_path(p, sizeof p, "messages.%zu.role", i);
        if (text_of(gw_jget(msg, "role"), p, &role, e) != 0)
            return -1;
        json_object *content = gw_jget(msg, "content");
        gw_path(p, sizeof p, "messages.%zu.content", i);
        if (!content)
            return invalid(e, p, "%s: Field required", p);
        if (!json_object_is_type(content, json_type_string) &&
            !json_object_is_type(content, json_type_array))
            return invalid(e, p, "%s: Input should be a string or a list of blocks, not %s", p,
                           gw_jtype(content));
        int rc;
        if (strcmp(role, "user") == 0)
            rc = user_turn(r->msgs, content, p, e);
        else if (strcmp(role, "assistant") == 0)
            rc = assistant_turn(r->msgs, content, p, e);
        else {
            gw_path(p, sizeof p, "messages.%zu.role", i);
            return invalid(e, p, "%s: Input should be 'user' or 'assistant'", p);
        }
        if (rc != 0)
            return -1;
    }
    if ((got = gw_jnum(root, "temperature", "temperature", 0, 2, &d, e)) < 0)
        return -1;
    if (got)
        ac_gen_params_set_temperature(r->params, d);
    if ((got = gw_jnum(root, "top_p", "top_p", 0, 1, &d, e)) < 0)
        return -1;
    if (got)
        ac_gen_params_set_top_p(r->params, d);
    if ((v = gw_jget(root, "stop_sequences"))) {
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > 16)
            return invalid(e, "stop_sequences", "stop_sequences: Input should be a list of at "
                           "most 16 strings");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            const char *s;
            gw_path(p, sizeof p, "stop_sequences.%zu", i);
            if (text_of(json_object_array_get_idx(v, i), p, &s, e) != 0)
                return -1;
            if (*s && ac_gen_params_add_stop(r->params, s) != AC_OK)
                return oom(e);
        }
    }
    if ((v = gw_jget(root, "tools")) && tools(r->params, v, e) != 0)
        return -1;
    if ((v = gw_jget(root, "tool_choice")) && tool_choice(r->params, v, e) != 0)
        return -1;
    if ((v = gw_jget(root, "output_format")) && output_format(r, v, e) != 0)
        return -1;
    if ((got = gw_jbool(root, "stream", "stream", &b, e)) < 0)
        return -1;
    r->stream = got && b;
    ac_gen_params_set_stream(r->params, r->stream);
    return 0;
}
