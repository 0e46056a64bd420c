/*
 * gw_openai.c -- an OpenAI Chat Completions request (POST
 * /v1/chat/completions) turned into a message list and parameters for
 * the core.
 *
 * Accepted as OpenAI documents them: messages of role system, developer,
 * user, assistant and tool; content as a string or an array of parts
 * (text, and image_url with a data: URL or an http(s) one); assistant
 * tool_calls; tools, tool_choice, response_format (json_schema,
 * json_object, text), max_tokens / max_completion_tokens, temperature,
 * top_p, stop, seed, n (1 only), stream and stream_options.include_usage.
 * Fields the core has no use for (user, metadata, store,
 * parallel_tool_calls, penalties, logit_bias, ...) are ignored, as other
 * OpenAI-compatible servers do.  Every error is a 400 naming the field
 * with OpenAI's own wording ("Invalid type for 'messages[0].content':
 * ...") and its path in `param`.
 *
 * Thread-safety: none needed (pure functions of their arguments).
 */
#include "gw.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int invalid(gw_err *e, const char *path, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int invalid(gw_err *e, const char *path, const char *code, const char *fmt, ...)
{
    char msg[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gw_err_set(e, 400, "invalid_request_error", path, code, "%s", msg);
    return -1;
}

static int oom(gw_err *e)
{
    gw_err_set(e, 500, "server_error", "", "", "Out of memory.");
    return -1;
}

/* A string value without NUL bytes inside (a C string would cut it). */
static int plain_string(json_object *v, const char *path, const char **out, gw_err *e)
{
    if (!json_object_is_type(v, json_type_string))
        return invalid(e, path, "invalid_type", "Invalid type for '%s': expected a string, but "
                       "got %s instead.", path, gw_jtype(v));
    *out = json_object_get_string(v);
    if (strlen(*out) != (size_t)json_object_get_string_len(v))
        return invalid(e, path, "invalid_value", "Invalid value for '%s': the string holds a "
                       "NUL character.", path);
    return 0;
}

/* The text of a content that may only hold text: a string, or an array
 * of {"type": "text", "text": ...} parts, joined a line apart.  Malloc'd
 * into *out. */
static int text_content(json_object *c, const char *path, char **out, gw_err *e)
{
    const char *s;
    if (json_object_is_type(c, json_type_string)) {
        if (plain_string(c, path, &s, e) != 0)
            return -1;
        return (*out = strdup(s)) ? 0 : oom(e);
    }
    if (!json_object_is_type(c, json_type_array))
        return invalid(e, path, "invalid_type", "Invalid type for '%s': expected a string or an "
                       "array of text parts, but got %s instead.", path, gw_jtype(c));
    jbuf b = {0};
    jb_raw(&b, "", 0);
    char p[200];
    for (size_t i = 0; i < json_object_array_length(c); i++) {
        json_object *part = json_object_array_get_idx(c, i);
        const char *type = NULL;
        gw_path(p, sizeof p, "%s[%zu].type", path, i);
        if (gw_jstring(part, "type", p, &type, e) < 0)
            goto fail;
        if (!type || (strcmp(type, "text") != 0 && strcmp(type, "refusal") != 0)) {
            invalid(e, p, "invalid_value", "Invalid value for '%s': only text parts may appear "
                    "here, not '%s'.", p, type ? type : "(none)");
            goto fail;
        }
        json_object *t = gw_jget(part, strcmp(type, "text") == 0 ? "text" : "refusal");
        gw_path(p, sizeof p, "%s[%zu].%s", path, i, type);
        if (!t) {
            invalid(e, p, "missing_required_parameter", "Missing required parameter: '%s'.", p);
            goto fail;
        }
        if (plain_string(t, p, &s, e) != 0)
            goto fail;
        if (i)
            jb_cstr(&b, "\n");
        jb_cstr(&b, s);
    }
    if (b.oom) {
        jb_free(&b);
        return oom(e);
    }
    *out = b.p;
    return 0;
fail:
    jb_free(&b);
    return -1;
}

/* An image_url part's URL: a data: URL (base64) or an http(s) one; the
 * core reads and checks the image (its type from its bytes). */
static int add_image(ac_messages *m, const char *url, const char *path, gw_err *e)
{
    ac_error ae;
    ac_status st = ac_messages_attach_image_url(m, url, &ae);
    if (st == AC_ENOMEM)
        return oom(e);
    if (st != AC_OK)
        return invalid(e, path, "invalid_image", "Invalid image in '%s' (expected a "
                       "data:image/...;base64 URL or an http(s) URL): %s", path, ae.message);
    return 0;
}

/* A user message: its text parts joined (a line apart), then its images
 * (the core's user message is text, then images). */
static int user_content(ac_messages *m, json_object *c, const char *path, gw_err *e)
{
    const char *s;
    if (json_object_is_type(c, json_type_string)) {
        if (plain_string(c, path, &s, e) != 0)
            return -1;
        return ac_messages_add(m, AC_ROLE_USER, s) == AC_OK ? 0 : oom(e);
    }
    if (!json_object_is_type(c, json_type_array))
        return invalid(e, path, "invalid_type", "Invalid type for '%s': expected a string or an "
                       "array of content parts, but got %s instead.", path, gw_jtype(c));
    char p[200];
    jbuf text = {0};
    int texts = 0;
    size_t n = json_object_array_length(c);
    /* Pass 0 checks every part and joins the text; pass 1 adds the images
     * to the message pass 0's text made. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            ac_status st = text.oom ? AC_ENOMEM
                                    : ac_messages_add(m, AC_ROLE_USER, texts ? text.p : NULL);
            jb_free(&text);
            if (st != AC_OK)
                return oom(e);
        }
        for (size_t i = 0; i < n; i++) {
            json_object *part = json_object_array_get_idx(c, i);
            const char *type = NULL;
            gw_path(p, sizeof p, "%s[%zu]", path, i);
            if (!json_object_is_type(part, json_type_object)) {
                jb_free(&text);
                return invalid(e, p, "invalid_type", "Invalid type for '%s': expected an "
                               "object, but got %s instead.", p, gw_jtype(part));
            }
            gw_path(p, sizeof p, "%s[%zu].type", path, i);
            int got = gw_jstring(part, "type", p, &type, e);
            if (got <= 0) {
                jb_free(&text);
                return got < 0 ? -1 : invalid(e, p, "missing_required_parameter", "Missing "
                                              "required parameter: '%s'.", p);
            }
            if (strcmp(type, "text") == 0) {
                if (pass == 1)
                    continue;
                json_object *t = gw_jget(part, "text");
                gw_path(p, sizeof p, "%s[%zu].text", path, i);
                if (!t) {
                    jb_free(&text);
                    return invalid(e, p, "missing_required_parameter", "Missing required "
                                   "parameter: '%s'.", p);
                }
                if (plain_string(t, p, &s, e) != 0) {
                    jb_free(&text);
                    return -1;
                }
                if (texts++)
                    jb_cstr(&text, "\n");
                jb_cstr(&text, s);
            } else if (strcmp(type, "image_url") == 0) {
                json_object *iu = gw_jget(part, "image_url"), *u = NULL;
                gw_path(p, sizeof p, "%s[%zu].image_url.url", path, i);
                /* Some clients send the URL itself instead of {"url": ...}. */
                u = iu && json_object_is_type(iu, json_type_string) ? iu : gw_jget(iu, "url");
                if (!u) {
                    jb_free(&text);
                    return invalid(e, p, "missing_required_parameter", "Missing required "
                                   "parameter: '%s'.", p);
                }
                if (plain_string(u, p, &s, e) != 0) {
                    jb_free(&text);
                    return -1;
                }
                if (pass == 1 && add_image(m, s, p, e) != 0)
                    return -1;
            } else {
                jb_free(&text);
                return invalid(e, p, "invalid_value", "Invalid value for '%s': content parts of "
                               "type '%s' are not supported here (text and image_url are).", p,
                               type);
            }
        }
    }
    return 0;
}

static int tool_calls(ac_messages *m, json_object *tc, const char *path, gw_err *e)
{
    char p[200];
    if (!json_object_is_type(tc, json_type_array))
        return invalid(e, path, "invalid_type", "Invalid type for '%s': expected an array, but "
                       "got %s instead.", path, gw_jtype(tc));
    for (size_t i = 0; i < json_object_array_length(tc); i++) {
        json_object *call = json_object_array_get_idx(tc, i);
        const char *id = NULL, *name = NULL, *args = NULL;
        gw_path(p, sizeof p, "%s[%zu].id", path, i);
        if (gw_jstring(call, "id", p, &id, e) < 0)
            return -1;
        json_object *fn = gw_jget(call, "function");
        gw_path(p, sizeof p, "%s[%zu].function", path, i);
        if (!fn || !json_object_is_type(fn, json_type_object))
            return invalid(e, p, fn ? "invalid_type" : "missing_required_parameter",
                           "%s '%s': expected an object with name and arguments.",
                           fn ? "Invalid type for" : "Missing required parameter:", p);
        gw_path(p, sizeof p, "%s[%zu].function.name", path, i);
        if (gw_jstring(fn, "name", p, &name, e) < 0)
            return -1;
        if (!name || !*name)
            return invalid(e, p, "missing_required_parameter", "Missing required parameter: "
                           "'%s'.", p);
        gw_path(p, sizeof p, "%s[%zu].function.arguments", path, i);
        json_object *a = gw_jget(fn, "arguments");
        /* A string, as OpenAI sends it; an object, as some clients do. */
        if (a && json_object_is_type(a, json_type_object))
            args = gw_jtext(a);
        else if (a && plain_string(a, p, &args, e) != 0)
            return -1;
        ac_status st = ac_messages_add_tool_call(m, id ? id : "", name,
                                                 args && *args ? args : "{}");
        if (st == AC_ENOMEM)
            return oom(e);
        if (st != AC_OK)
            return invalid(e, p, "invalid_value", "Invalid value for '%s': expected a JSON "
                           "object's text.", p);
    }
    return 0;
}

static int message(ac_messages *m, json_object *msg, size_t i, gw_err *e)
{
    char p[200];
    gw_path(p, sizeof p, "messages[%zu]", i);
    if (!json_object_is_type(msg, json_type_object))
        return invalid(e, p, "invalid_type", "Invalid type for '%s': expected an object, but got "
                       "%s instead.", p, gw_jtype(msg));
    const char *role = NULL, *name = NULL;
    gw_path(p, sizeof p, "messages[%zu].role", i);
    if (gw_jstring(msg, "role", p, &role, e) < 0)
        return -1;
    if (!role)
        return invalid(e, p, "missing_required_parameter", "Missing required parameter: '%s'.",
                       p);
    json_object *content = gw_jget(msg, "content");
    char cp[200];
    gw_path(cp, sizeof cp, "messages[%zu].content", i);
    char *text = NULL;
    int rc = 0;
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
        if (!content)
            return invalid(e, cp, "missing_required_parameter", "Missing required parameter: "
                           "'%s'.", cp);
        if (text_content(content, cp, &text, e) != 0)
            return -1;
        rc = ac_messages_add(m, AC_ROLE_SYSTEM, text) == AC_OK ? 0 : oom(e);
    } else if (strcmp(role, "user") == 0) {
        if (!content)
            return invalid(e, cp, "missing_required_parameter", "Missing required parameter: "
                           "'%s'.", cp);
        rc = user_content(m, content, cp, e);
    } else if (strcmp(role, "assistant") == 0) {
        if (content && text_content(content, cp, &text, e) != 0)
            return -1;
        rc = ac_messages_add(m, AC_ROLE_ASSISTANT, text && *text ? text : NULL) == AC_OK
                 ? 0 : oom(e);
        json_object *tc = gw_jget(msg, "tool_calls");
        gw_path(p, sizeof p, "messages[%zu].tool_calls", i);
        if (rc == 0 && tc)
            rc = tool_calls(m, tc, p, e);
    } else if (strcmp(role, "tool") == 0) {
        const char *id = NULL;
        gw_path(p, sizeof p, "messages[%zu].tool_call_id", i);
        if (gw_jstring(msg, "tool_call_id", p, &id, e) < 0)
            return -1;
        if (!id || !*id)
            return invalid(e, p, "missing_required_parameter", "Missing required parameter: "
                           "'%s'.", p);
        if (!content)
            return invalid(e, cp, "missing_required_parameter", "Missing required parameter: "
                           "'%s'.", cp);
        if (text_content(content, cp, &text, e) != 0)
            return -1;
        rc = ac_messages_add_tool_result(m, id, NULL, text, 0) == AC_OK ? 0 : oom(e);
    } else {
        return invalid(e, p, "invalid_value", "Invalid value for '%s': '%s' is not one of "
                       "system, developer, user, assistant, tool.", p, role);
    }
    free(text);
    if (rc != 0)
        return -1;
    gw_path(p, sizeof p, "messages[%zu].name", i);
    if (gw_jstring(msg, "name", p, &name, e) < 0)
        return -1;
    if (name && *name && strcmp(role, "tool") != 0 && ac_messages_set_name(m, name) != AC_OK)
        return invalid(e, p, "invalid_value", "Invalid value for '%s'.", p);
    return 0;
}

/* [A-Za-z0-9_-]{1,64}, what OpenAI accepts as a function name. */
static int tool_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int tools(ac_gen_params *gp, json_object *t, gw_err *e)
{
    char p[160];
    if (!json_object_is_type(t, json_type_array))
        return invalid(e, "tools", "invalid_type", "Invalid type for 'tools': expected an array, "
                       "but got %s instead.", gw_jtype(t));
    if (json_object_array_length(t) > GW_MAX_TOOLS)
        return invalid(e, "tools", "array_above_max_length", "Invalid 'tools': at most %d tools "
                       "are accepted.", GW_MAX_TOOLS);
    for (size_t i = 0; i < json_object_array_length(t); i++) {
        json_object *tool = json_object_array_get_idx(t, i);
        const char *type = "function", *name = NULL, *desc = NULL;
        gw_path(p, sizeof p, "tools[%zu].type", i);
        if (gw_jstring(tool, "type", p, &type, e) < 0)
            return -1;
        if (strcmp(type, "function") != 0)
            return invalid(e, p, "invalid_value", "Invalid value for '%s': only 'function' tools "
                           "are supported.", p);
        json_object *fn = gw_jget(tool, "function");
        gw_path(p, sizeof p, "tools[%zu].function", i);
        if (!fn || !json_object_is_type(fn, json_type_object))
            return invalid(e, p, fn ? "invalid_type" : "missing_required_parameter",
                           "%s '%s': expected an object.",
                           fn ? "Invalid type for" : "Missing required parameter:", p);
        gw_path(p, sizeof p, "tools[%zu].function.name", i);
        if (gw_jstring(fn, "name", p, &name, e) < 0)
            return -1;
        if (!name || !tool_name_ok(name))
            return invalid(e, p, name ? "invalid_value" : "missing_required_parameter",
                           "Invalid '%s': expected a name of 1 to 64 letters, digits, _ or -.", p);
        gw_path(p, sizeof p, "tools[%zu].function.description", i);
        if (gw_jstring(fn, "description", p, &desc, e) < 0)
            return -1;
        json_object *params = gw_jget(fn, "parameters");
        gw_path(p, sizeof p, "tools[%zu].function.parameters", i);
        if (params && !json_object_is_type(params, json_type_object))
            return invalid(e, p, "invalid_type", "Invalid type for '%s': expected an object (a "
                           "JSON Schema), but got %s instead.", p, gw_jtype(params));
        const char *schema = params ? gw_jtext(params) : "{\"type\":\"object\",\"properties\":{}}";
        ac_status st = ac_gen_params_add_tool(gp, name, desc, schema);
        if (st == AC_ENOMEM)
            return oom(e);
        if (st != AC_OK)
            return invalid(e, p, "invalid_value", "Invalid value for '%s': the tool could not "
                           "be offered (%s).", p, ac_strerror(st));
    }
    return 0;
}

static int tool_choice(ac_gen_params *gp, json_object *tc, gw_err *e)
{
    const char *choice = NULL;
    if (json_object_is_type(tc, json_type_string)) {
        choice = json_object_get_string(tc);
        if (strcmp(choice, "none") && strcmp(choice, "auto") && strcmp(choice, "required"))
            return invalid(e, "tool_choice", "invalid_value", "Invalid value for 'tool_choice': "
                           "'%s' is not one of none, auto, required.", choice);
    } else if (json_object_is_type(tc, json_type_object)) {
        json_object *fn = gw_jget(tc, "function");
        if (gw_jstring(fn, "name", "tool_choice.function.name", &choice, e) < 0)
            return -1;
        if (!choice)
            return invalid(e, "tool_choice.function.name", "missing_required_parameter",
                           "Missing required parameter: 'tool_choice.function.name'.");
    } else {
        return invalid(e, "tool_choice", "invalid_type", "Invalid type for 'tool_choice': "
                       "expected a string or an object, but got %s instead.", gw_jtype(tc));
    }
    return ac_gen_params_set_tool_choice(gp, choice) == AC_OK ? 0 : oom(e);
}

static int response_format(gw_chat_req *r, json_object *rf, gw_err *e)
{
    if (!json_object_is_type(rf, json_type_object))
        return invalid(e, "response_format", "invalid_type", "Invalid type for "
                       "'response_format': expected an object, but got %s instead.",
                       gw_jtype(rf));
    const char *type = NULL;
    if (gw_jstring(rf, "type", "response_format.type", &type, e) < 0)
        return -1;
    if (!type)
        return invalid(e, "response_format.type", "missing_required_parameter",
                       "Missing required parameter: 'response_format.type'.");
    if (strcmp(type, "text") == 0)
        return 0;
    const char *name = NULL, *schema = NULL;
    if (strcmp(type, "json_object") == 0) {
        name = "json_object";
        schema = "{\"type\":\"object\"}";
    } else if (strcmp(type, "json_schema") == 0) {
        json_object *js = gw_jget(rf, "json_schema");
        if (!js || !json_object_is_type(js, json_type_object))
            return invalid(e, "response_format.json_schema", js ? "invalid_type"
                           : "missing_required_parameter", "Invalid 'response_format.json_schema"
                           "': expected an object with a name and a schema.");
        if (gw_jstring(js, "name", "response_format.json_schema.name", &name, e) < 0)
            return -1;
        json_object *s = gw_jget(js, "schema");
        if (!s || !json_object_is_type(s, json_type_object))
            return invalid(e, "response_format.json_schema.schema", s ? "invalid_type"
                           : "missing_required_parameter", "Invalid 'response_format.json_schema"
                           ".schema': expected a JSON Schema object.");
        schema = gw_jtext(s);
    } else {
        return invalid(e, "response_format.type", "invalid_value", "Invalid value for "
                       "'response_format.type': '%s' is not one of text, json_object, "
                       "json_schema.", type);
    }
    ac_error ae;
    ac_status st = ac_gen_params_set_json_schema(r->params, name, schema, &ae);
    if (st == AC_ENOMEM)
        return oom(e);
    if (st != AC_OK)
        return invalid(e, "response_format.json_schema.schema", "invalid_schema",
                       "Invalid schema for 'response_format.json_schema.schema': %s", ae.message);
    r->structured = 1;
    return 0;
}

static int stop(ac_gen_params *gp, json_object *s, gw_err *e)
{
    if (json_object_is_type(s, json_type_string)) {
        const char *v = json_object_get_string(s);
        return !*v || ac_gen_params_add_stop(gp, v) == AC_OK ? 0 : oom(e);
    }
    if (!json_object_is_type(s, json_type_array))
        return invalid(e, "stop", "invalid_type", "Invalid type for 'stop': expected a string or "
                       "an array of strings, but got %s instead.", gw_jtype(s));
    if (json_object_array_length(s) > 16)
        return invalid(e, "stop", "array_above_max_length", "Invalid 'stop': at most 16 "
                       "sequences are accepted.");
    for (size_t i = 0; i < json_object_array_length(s); i++) {
        json_object *v = json_object_array_get_idx(s, i);
        char p[32];
        gw_path(p, sizeof p, "stop[%zu]", i);
        const char *t;
        if (plain_string(v, p, &t, e) != 0)
            return -1;
        if (*t && ac_gen_params_add_stop(gp, t) != AC_OK)
            return oom(e);
    }
    return 0;
}

int gw_openai_parse(json_object *root, long long max_messages, gw_chat_req *r, gw_err *e)
{
    memset(r, 0, sizeof *r);
    r->api = GW_API_OPENAI;
    const char *model = NULL;
    if (gw_jstring(root, "model", "model", &model, e) < 0)
        return -1;
    if (!model || !*model)
        return invalid(e, "model", "missing_required_parameter", "Missing required parameter: "
                       "'model'.");
    if (!(r->model = strdup(model)) || !(r->msgs = ac_messages_new()) ||
        !(r->params = ac_gen_params_new()))
        return oom(e);
    json_object *msgs = gw_jget(root, "messages");
    if (!msgs)
        return invalid(e, "messages", "missing_required_parameter", "Missing required parameter: "
                       "'messages'.");
    if (!json_object_is_type(msgs, json_type_array))
        return invalid(e, "messages", "invalid_type", "Invalid type for 'messages': expected an "
                       "array, but got %s instead.", gw_jtype(msgs));
    size_t n = json_object_array_length(msgs);
    if (n == 0)
        return invalid(e, "messages", "empty_array", "Invalid 'messages': empty array. Expected "
                       "an array with minimum length 1.");
    if ((long long)n > max_messages)
        return invalid(e, "messages", "array_above_max_length", "Invalid 'messages': %zu "
                       "messages, more than this server accepts (%lld).", n, max_messages);
    for (size_t i = 0; i < n; i++)
        if (message(r->msgs, json_object_array_get_idx(msgs, i), i, e) != 0)
            return -1;

    ac_gen_params *gp = r->params;
    long long ll;
    double d;
    int b, got;
    if ((got = gw_jint(root, "max_completion_tokens", "max_completion_tokens", 1, 1000000000,
                       &ll, e)) < 0)
        return -1;
    if (!got && (got = gw_jint(root, "max_tokens", "max_tokens", 1, 1000000000, &ll, e)) < 0)
        return -1;
    if (got)
        ac_gen_params_set_max_tokens(gp, (long)ll);
    if ((got = gw_jnum(root, "temperature", "temperature", 0, 2, &d, e)) < 0)
        return -1;
    if (got)
        ac_gen_params_set_temperature(gp, d);
    if ((got = gw_jnum(root, "top_p", "top_p", 0, 1, &d, e)) < 0)
        return -1;
    if (got)
        ac_gen_params_set_top_p(gp, d);
    if ((got = gw_jint(root, "seed", "seed", -(1LL << 62), 1LL << 62, &ll, e)) < 0)
        return -1;
    if (got)
        ac_gen_params_set_seed(gp, ll);
    if ((got = gw_jint(root, "n", "n", 1, 128, &ll, e)) < 0)
        return -1;
    if (got && ll != 1)
        return invalid(e, "n", "invalid_value", "Invalid value for 'n': this server returns one "
                       "choice (n = 1).");
    json_object *v;
    if ((v = gw_jget(root, "stop")) && stop(gp, v, e) != 0)
        return -1;
    if ((v = gw_jget(root, "tools")) && tools(gp, v, e) != 0)
        return -1;
    if ((v = gw_jget(root, "tool_choice")) && tool_choice(gp, v, e) != 0)
        return -1;
    if ((v = gw_jget(root, "response_format")) && response_format(r, v, e) != 0)
        return -1;
    if ((got = gw_jbool(root, "stream", "stream", &b, e)) < 0)
        return -1;
    r->stream = got && b;
    if ((v = gw_jget(root, "stream_options"))) {
        if (!json_object_is_type(v, json_type_object))
            return invalid(e, "stream_options", "invalid_type", "Invalid type for "
                           "'stream_options': expected an object, but got %s instead.",
                           gw_jtype(v));
        if ((got = gw_jbool(v, "include_usage", "stream_options.include_usage", &b, e)) < 0)
            return -1;
        r->include_usage = got && b;
    }
    ac_gen_params_set_stream(gp, r->stream);
    return 0;
}

void gw_chat_req_free(gw_chat_req *r)
{
    free(r->model);
    ac_messages_free(r->msgs);
    ac_gen_params_free(r->params);
    memset(r, 0, sizeof *r);
}
