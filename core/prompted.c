/*
 * prompted.c -- tools and schemas for backends without a native form of
 * them (see prompted.h).
 *
 * Which mode applies is decided per request from the parameters, then the
 * llm's settings, then the plugin's features: tool_mode AUTO is native
 * when the plugin declares AC_FEATURE_TOOLS, prompted otherwise; a schema
 * goes in the prompt when the plugin lacks AC_FEATURE_JSON_SCHEMA.  The
 * plugin speaks for its protocol, not for every model behind it: when the
 * backend refuses the native form for this model (a 4xx saying so), the
 * request is made again with it in the prompt (ac__prompted_refused,
 * chat_fallback.c) -- tools under AUTO only, as NATIVE asks for native.  The
 * family (the syntax tools are offered and parsed in) is the provider's
 * tool_family, else the model name's (toolfamily.c), else AUTO, which
 * offers the generic <tool_call> form and reads every syntax.
 */
#include "prompted.h"
#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "keys.h"
#include "tools/toolparse.h"
#include "tools/toolprompt.h"
#include "tools/toolrender.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Settings                                                            */
/* ------------------------------------------------------------------ */

static ac_status bad_setting(const ac_settings *s, const char *key, const char *what,
                             ac_error *err)
{
    const char *w = ac__settings_where(s, key);
    ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "%s%sprovider '%s': %s must be %s", w,
                  *w ? ": " : "", ac__settings_name(s), key, what);
    return AC_ECONFIG;
}

ac_status ac__chatopts_read(const ac_settings *s, chatopts *co, ac_error *err)
{
    /* The values were checked against the keys table (keys.c) when the
     * config was loaded and the llm made; these checks use the same
     * table, for a value that reached here another way. */
    char want[160];
    co->schema_attempts = 3;
    co->tool_mode = AC_TOOL_MODE_AUTO;
    co->tool_family = -1;
    long long n, min, max;
    ac__key_range(KS_PROVIDER, "schema_attempts", &min, &max);
    int got = ac__settings_int(s, "schema_attempts", &n);
    const keydef *k = ac__key_find(KS_PROVIDER, "schema_attempts");
    if (got < 0 || (got == 1 && (n < min || n > max)))
        return bad_setting(s, "schema_attempts", ac__key_expect_text(k, want, sizeof want), err);
    if (got == 1)
        co->schema_attempts = (int)n;
    const char *v;
    k = ac__key_find(KS_PROVIDER, "tool_mode");
    got = ac__settings_string(s, "tool_mode", &v);
    /* The table's choices, in order: auto, native, prompted. */
    static const int modes[] = {AC_TOOL_MODE_AUTO, AC_TOOL_MODE_NATIVE, AC_TOOL_MODE_PROMPTED};
    int i = got == 1 ? ac__key_choice(k, v) : 0;
    if (got < 0 || i < 0 || i > 2)
        return bad_setting(s, "tool_mode", ac__key_expect_text(k, want, sizeof want), err);
    if (got == 1)
        co->tool_mode = modes[i];
    got = ac__settings_string(s, "tool_family", &v);
    ac__toolfam fam;
    k = ac__key_find(KS_PROVIDER, "tool_family");
    if (got < 0 || (got == 1 && ac__toolfam_parse(v, &fam) < 0))
        return bad_setting(s, "tool_family", ac__key_expect_text(k, want, sizeof want), err);
    if (got == 1)
        co->tool_family = (int)fam;
    co->max_input_tokens = 0;
    co->trim = 0;
    ac__key_range(KS_PROVIDER, "max_input_tokens", &min, &max);
    k = ac__key_find(KS_PROVIDER, "max_input_tokens");
    got = ac__settings_int(s, "max_input_tokens", &n);
    if (got < 0 || (got == 1 && (n < min || n > max)))
        return bad_setting(s, "max_input_tokens", ac__key_expect_text(k, want, sizeof want),
                           err);
    if (got == 1)
        co->max_input_tokens = (long)n;
    k = ac__key_find(KS_PROVIDER, "input_overflow");
    got = ac__settings_string(s, "input_overflow", &v);
    i = got == 1 ? ac__key_choice(k, v) : 0;
    if (got < 0 || i < 0)
        return bad_setting(s, "input_overflow", ac__key_expect_text(k, want, sizeof want), err);
    co->trim = i == 1;
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* The plan                                                            */
/* ------------------------------------------------------------------ */

static int tools_offered(const ac_gen_params *p)
{
    /* "none" offers nothing: no prompt text, no parsing. */
    return p->n_tools > 0 && !(p->tool_choice && !strcmp(p->tool_choice, "none"));
}

static int tool_mode_of(const ac_llm *llm, const ac_gen_params *p)
{
    return p->tool_mode >= 0 ? p->tool_mode : llm->co.tool_mode;
}

void ac__prompted_plan(const ac_llm *llm, const ac_gen_params *p, unsigned force,
                       prompted_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    int mode = tool_mode_of(llm, p);
    unsigned features = llm->vt->features;
    if (tools_offered(p))
        plan->tools = mode == AC_TOOL_MODE_PROMPTED ||
                      (mode == AC_TOOL_MODE_AUTO &&
                       (!(features & AC_FEATURE_TOOLS) || (force & AC__PROMPT_TOOLS)));
    plan->schema = p->json_schema &&
                   (!(features & AC_FEATURE_JSON_SCHEMA) || (force & AC__PROMPT_SCHEMA));
    plan->family = llm->co.tool_family >= 0 ? llm->co.tool_family
                                            : (int)ac__toolfam_from_model(llm->model);
}

/* Whether text holds one of words[] (ASCII, any case). */
static int says(const char *text, const char *const *words)
{
    for (; *words; words++)
        if (strcasestr(text, *words))
            return 1;
    return 0;
}

unsigned ac__prompted_refused(const ac_llm *llm, const ac_gen_params *p,
                              const prompted_plan *plan, const ac_error *why)
{
    /* A request the backend could not take as sent: 400, 404 (a route or
     * a feature the server lacks), 422 (vLLM, TGI); never auth or rate
     * limits, which the prompt does not change. */
    int st = why->http_status;
    if (st != 400 && st != 404 && st != 422 && st != 501)
        return 0;
    /* "does not support tools" (Ollama: "registry.ollama.ai/library/
     * gemma3:latest does not support tools"), "tools are not supported",
     * "tool use is unsupported", vLLM's "--enable-auto-tool-choice",
     * llama.cpp's "tools param requires --jinja flag". */
    static const char *const refusal[] = {"not support", "unsupported", "not enabled",
                                          "not available", "not allowed", "requires --",
                                          NULL};
    static const char *const tool_words[] = {"tool", "function", NULL};
    static const char *const schema_words[] = {"response_format", "json_schema", "json schema",
                                               "structured output", NULL};
    const char *m = why->message;
    if (!says(m, refusal))
        return 0;
    unsigned add = 0;
    if (tools_offered(p) && !plan->tools && tool_mode_of(llm, p) == AC_TOOL_MODE_AUTO &&
        (says(m, tool_words) || strcasestr(m, "auto-tool-choice")))
        add |= AC__PROMPT_TOOLS;
    if (p->json_schema && !plan->schema && says(m, schema_words))
        add |= AC__PROMPT_SCHEMA;
    return add;
}

/* ------------------------------------------------------------------ */
/* The system text                                                     */
/* ------------------------------------------------------------------ */

static char *tools_text(const prompted_plan *plan, const ac_gen_params *p, ac_error *err)
{
    ac__tooldef defs[AC_MAX_TOOLS];
    for (size_t i = 0; i < p->n_tools; i++) {
        defs[i].name = p->tools[i].name;
        defs[i].description = p->tools[i].description;
        defs[i].parameters = p->tools[i].parameters_json;
    }
    char *t = ac__toolprompt_system((ac__toolfam)plan->family, defs, p->n_tools, err);
    if (!t)
        return NULL;
    /* tool_choice: "required" or one tool's name is asked for in words. */
    const char *c = p->tool_choice;
    if (c && strcmp(c, "auto") != 0) {
        char *more = !strcmp(c, "required")
            ? ac__asprintf("%s\n\nYou must call at least one tool in this reply.", t)
            : ac__asprintf("%s\n\nYou must call the tool \"%s\" in this reply.", t, c);
        ac__free(t);
        if (!more)
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        t = more;
    }
    return t;
}

char *ac__prompted_system(const prompted_plan *plan, const ac_gen_params *p, ac_status *st,
                          ac_error *err)
{
    *st = AC_OK;
    if (!plan->tools && !plan->schema)
        return NULL;
    buf b = {0};
    char *tools = NULL;
    if (plan->tools && !(tools = tools_text(plan, p, err))) {
        *st = err && err->code != AC_OK ? err->code : AC_ENOMEM;
        return NULL;
    }
    int rc = tools ? ac__buf_appends(&b, tools) : 0;
    ac__free(tools);
    if (!rc && plan->schema) {
        rc = (b.len ? ac__buf_appends(&b, "\n\n") : 0) ||
             ac__buf_appends(&b, "Answer with one JSON document that matches this JSON "
                                 "Schema, and nothing else: no prose, no Markdown fence.\n") ||
             ac__buf_appends(&b, p->json_schema);
    }
    char *text = rc ? NULL : ac__buf_steal(&b);
    if (!text) {
        ac__buf_free(&b);
        *st = AC_ENOMEM;
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    }
    return text;
}

/* ------------------------------------------------------------------ */
/* The history                                                         */
/* ------------------------------------------------------------------ */

/* An assistant message with tool calls: its text, then the calls as the
 * family writes them. */
static ac_status calls_as_text(const prompted_plan *plan, ac__msg *m, ac_error *err)
{
    size_t n = 0;
    for (size_t j = 0; j < m->pub.n_parts; j++)
        n += m->parts[j].type == AC_PART_TOOL_CALL;
    if (!n)
        return AC_OK;
    ac__toolcall *calls = ac__calloc(n, sizeof *calls);
    if (!calls)
        return AC_ENOMEM;
    size_t k = 0;
    for (size_t j = 0; j < m->pub.n_parts; j++) {
        const ac_part *p = &m->parts[j];
        if (p->type != AC_PART_TOOL_CALL)
            continue;
        calls[k].id = p->id;
        calls[k].name = p->name;
        calls[k].args = p->arguments ? p->arguments : "{}";
        calls[k].args_len = strlen(calls[k].args);
        k++;
    }
    char *text = ac__toolrender((ac__toolfam)plan->family, calls, n, err);
    ac__free(calls);
    if (!text)
        return err && err->code != AC_OK ? err->code : AC_ENOMEM;
    ac__msg out;
    ac__msg_init(&out, AC_ROLE_ASSISTANT);
    char *joined = m->pub.text && m->pub.text_len
                       ? ac__asprintf("%s\n%s", m->pub.text, text) : NULL;
    ac_status st = ac__msg_text(&out, AC_ROLE_ASSISTANT, joined ? joined : text);
    ac__free(joined);
    ac__free(text);
    if (st != AC_OK) {
        ac__msg_clear(&out);
        return st;
    }
    ac__msg_clear(m);
    *m = out;
    return AC_OK;
}

/* A tool message: its results as a user message, in the family's
 * wrapping (one per result, joined by newlines). */
static ac_status result_as_text(const prompted_plan *plan, ac__msg *m, ac_error *err)
{
    buf b = {0};
    int rc = 0;
    for (size_t j = 0; j < m->pub.n_parts && !rc; j++) {
        const ac_part *p = &m->parts[j];
        const char *content = p->type == AC_PART_TOOL_RESULT || p->type == AC_PART_TEXT
                                  ? (p->text ? p->text : "") : NULL;
        if (!content)
            continue;
        char *tagged = NULL;
        if (p->type == AC_PART_TOOL_RESULT) {
            /* A failed tool says so, whatever the family's wrapping. */
            char *c = p->is_error ? ac__asprintf("Error: %s", content) : NULL;
            tagged = ac__toolprompt_result((ac__toolfam)plan->family, p->id, p->name,
                                           c ? c : content, err);
            ac__free(c);
            if (!tagged) {
                rc = -1;
                break;
            }
        }
        rc = (b.len && ac__buf_appends(&b, "\n")) ||
             ac__buf_appends(&b, tagged ? tagged : content);
        ac__free(tagged);
    }
    char *text = rc ? NULL : ac__buf_steal(&b);
    if (!text) {
        ac__buf_free(&b);
        return err && err->code != AC_OK ? err->code : AC_ENOMEM;
    }
    ac__msg out;
    ac_status st = ac__msg_text(&out, AC_ROLE_USER, text);
    ac__free(text);
    if (st != AC_OK)
        return st;
    ac__msg_clear(m);
    *m = out;
    return AC_OK;
}

ac_status ac__prompted_messages(const prompted_plan *plan, ac__msg *msgs, size_t n,
                                ac_error *err)
{
    if (!plan->tools)
        return AC_OK;
    for (size_t i = 0; i < n; i++) {
        ac_status st = AC_OK;
        if (msgs[i].pub.role == AC_ROLE_ASSISTANT)
            st = calls_as_text(plan, &msgs[i], err);
        else if (msgs[i].pub.role == AC_ROLE_TOOL)
            st = result_as_text(plan, &msgs[i], err);
        if (st != AC_OK) {
            if (st == AC_ENOMEM)
                ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
            return st;
        }
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* The parser in front of the sink                                     */
/* ------------------------------------------------------------------ */

ac_status ac__prompted_sink_start(const prompted_plan *plan, ac_sink *k,
                                  const ac_gen_params *p, size_t max_call)
{
    if (!plan->tools)
        return AC_OK;
    const char **names = ac__calloc(p->n_tools ? p->n_tools : 1, sizeof *names);
    if (!names)
        return AC_ENOMEM;
    for (size_t i = 0; i < p->n_tools; i++)
        names[i] = p->tools[i].name;
    ac__sink_parse_tools(k, plan->family, names, p->n_tools, max_call);
    return AC_OK;
}
