/*
 * toolprompt.c -- the system-prompt text offering tools to a model, and
 * tool results written as user text (see toolprompt.h).
 *
 * Where each text comes from (core/tools/SYNTAXES.md has the links):
 *   HERMES  the Qwen 2.5 / Qwen 3 chat templates' "# Tools" block: tools
 *           as {"type": "function", "function": {...}} lines in <tools>,
 *           calls as JSON in <tool_call> tags; results in
 *           <tool_response> inside a user turn.
 *   LLAMA3  the Llama 3.1 template's instruction for custom tools ("...
 *           respond with JSON for a function call ... {"name": function
 *           name, "parameters": dictionary of argument name and its
 *           value}. Do not use variables."), each tool as JSON; results
 *           as the ipython turn's {"output": ...}.
 *   MISTRAL the [AVAILABLE_TOOLS] [...][/AVAILABLE_TOOLS] block of
 *           mistral-common v3 and the vLLM Mistral template's request to
 *           put calls in one JSON array after [TOOL_CALLS]; results as
 *           v3's [TOOL_RESULTS] {"content": ..., "call_id": ...}.
 *   GEMMA   ai.google.dev's Gemma function-calling guide: function
 *           definitions as JSON, calls as Python in a ```tool_code block,
 *           results in a ```tool_output block.
 *   PHI     the Phi-4-mini template (vLLM, contributed by Microsoft):
 *           calls as functools[{"name": ..., "arguments": ...}, ...].
 *   FUNCALL the original AbstractCore's <function_call> format.
 *   AUTO    generic: the HERMES text, the most widely trained form.
 * The wording is ours except where a model was trained on exact words.
 * Relies on json-c (through tooldecode.h), buf.h, alloc.h, error.h.
 * Pure; thread-safe.
 */
#include "toolprompt.h"
#include "tooldecode.h"
#include "../alloc.h"
#include "../buf.h"
#include "../error.h"

#include <json-c/json.h>
#include <string.h>

static int app(buf *b, const char *s) { return ac__buf_appends(b, s); }

/* {"type": "function", "function": {"name": ..., "description": ...,
 * "parameters": {...}}} (or the inner object when !wrap). */
static int tool_json(buf *b, const ac__tooldef *t, int wrap, json_object *params)
{
    int rc = wrap ? app(b, "{\"type\": \"function\", \"function\": ") : 0;
    rc = rc ? rc : app(b, "{\"name\": ");
    rc = rc ? rc : ac__tp_json_quote(b, t->name, strlen(t->name));
    if (!rc && t->description) {
        rc = app(b, ", \"description\": ");
        rc = rc ? rc : ac__tp_json_quote(b, t->description, strlen(t->description));
    }
    rc = rc ? rc : app(b, ", \"parameters\": ");
    if (!rc) {
        const char *p = params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE)
                               : "{\"type\": \"object\", \"properties\": {}}";
        rc = p ? app(b, p) : -1;
    }
    rc = rc ? rc : app(b, "}");
    if (wrap && !rc)
        rc = app(b, "}");
    return rc;
}

/* Check every tool; parse its parameters into params[i]. */
static int check_tools(const ac__tooldef *tools, size_t n, json_object **params, ac_error *err)
{
    if (!tools || !n) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "tool prompt: no tools");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const ac__tooldef *t = &tools[i];
        if (!t->name || !ac__tp_name_ok(t->name, strlen(t->name))) {
            ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                          "tool prompt: tool %zu has no usable name", i + 1);
            return -1;
        }
        if (t->parameters) {
            params[i] = ac__tp_json_strict(t->parameters, strlen(t->parameters));
            if (!params[i] || !json_object_is_type(params[i], json_type_object)) {
                ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                              "tool prompt: the parameters of tool \"%.64s\" are not a JSON object",
                              t->name);
                return -1;
            }
        }
    }
    return 0;
}

static int prompt_hermes(buf *b, const ac__tooldef *t, size_t n, json_object **params)
{
    int rc = app(b, "# Tools\n\nYou may call one or more functions to assist with the user "
                    "query.\n\nYou are provided with function signatures within <tools></tools> "
                    "XML tags:\n<tools>");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = app(b, "\n");
        rc = rc ? rc : tool_json(b, &t[i], 1, params[i]);
    }
    return rc ? rc : app(b, "\n</tools>\n\nFor each function call, return a json object with "
                            "function name and arguments within <tool_call></tool_call> XML "
                            "tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
                            "<args-json-object>}\n</tool_call>");
}

static int prompt_llama3(buf *b, const ac__tooldef *t, size_t n, json_object **params)
{
    int rc = app(b, "You have access to the following functions. To call a function, please "
                    "respond with JSON for a function call. Respond in the format {\"name\": "
                    "function name, \"parameters\": dictionary of argument name and its value}. "
                    "Do not use variables.\n\n");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = tool_json(b, &t[i], 1, params[i]);
        rc = rc ? rc : app(b, "\n\n");
    }
    return rc ? rc : app(b, "If you call a function, reply with the JSON alone; otherwise "
                            "answer in natural language.");
}

static int prompt_mistral(buf *b, const ac__tooldef *t, size_t n, json_object **params)
{
    int rc = app(b, "[AVAILABLE_TOOLS] [");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? app(b, ", ") : 0;
        rc = rc ? rc : tool_json(b, &t[i], 1, params[i]);
    }
    return rc ? rc : app(b, "][/AVAILABLE_TOOLS]\nYou can call the tools above. To call one "
                            "or more, answer with [TOOL_CALLS] followed by a single JSON array "
                            "of calls: [TOOL_CALLS] [{\"name\": tool name, \"arguments\": "
                            "{argument name: value}}, additional calls]. After calling tools, "
                            "wait for their results before answering.");
}

static int prompt_gemma(buf *b, const ac__tooldef *t, size_t n, json_object **params)
{
    int rc = app(b, "You have access to functions. If you decide to invoke any of the "
                    "function(s), write the call(s) as Python in a code block wrapped with "
                    "```tool_code and ```, one call per line, with keyword arguments:\n"
                    "```tool_code\nfunc_name1(params_name1=params_value1, "
                    "params_name2=params_value2)\n```\nYou SHOULD NOT include any other text "
                    "in the response if you call a function. The results will come back "
                    "wrapped with ```tool_output.\n[\n");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? app(b, ",\n") : 0;
        rc = rc ? rc : tool_json(b, &t[i], 0, params[i]);
    }
    return rc ? rc : app(b, "\n]");
}

static int prompt_phi(buf *b, const ac__tooldef *t, size_t n, json_object **params)
{
    int rc = app(b, "In addition to plain text responses, you can choose to call one or more "
                    "of the provided functions.\n\nIf you decide to call functions:\n"
                    "  * prefix function calls with functools marker (no closing marker "
                    "required)\n  * all function calls should be generated in a single JSON "
                    "list formatted as functools[{\"name\": [function name], \"arguments\": "
                    "[function arguments as JSON]}, ...]\n  * follow the provided JSON "
                    "schema. Do not hallucinate arguments or values.\n\n");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = tool_json(b, &t[i], 1, params[i]);
        rc = rc ? rc : app(b, "\n\n");
    }
    return rc;
}

static int prompt_funcall(buf *b, const ac__tooldef *t, size_t n, json_object **params)
{
    int rc = app(b, "You can call the following functions:\n");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = tool_json(b, &t[i], 1, params[i]);
        rc = rc ? rc : app(b, "\n");
    }
    return rc ? rc : app(b, "\nTo call a function, write a JSON object with its name and "
                            "arguments between <function_call> and </function_call> tags:\n"
                            "<function_call>{\"name\": <function-name>, \"arguments\": "
                            "<args-json-object>}</function_call>\nYou may call several "
                            "functions, one tag each.");
}

char *ac__toolprompt_system(ac__toolfam fam, const ac__tooldef *tools, size_t n,
                            ac_error *err)
{
    if ((unsigned)fam >= AC__TF_COUNT) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "tool prompt: unknown family");
        return NULL;
    }
    json_object **params = n ? ac__calloc(n, sizeof *params) : NULL;
    if (n && !params) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    char *out = NULL;
    if (!check_tools(tools, n, params, err)) {
        buf b = {0};
        int rc;
        switch (fam) {
        case AC__TF_LLAMA3: rc = prompt_llama3(&b, tools, n, params); break;
        case AC__TF_MISTRAL: rc = prompt_mistral(&b, tools, n, params); break;
        case AC__TF_GEMMA: rc = prompt_gemma(&b, tools, n, params); break;
        case AC__TF_PHI: rc = prompt_phi(&b, tools, n, params); break;
        case AC__TF_FUNCALL: rc = prompt_funcall(&b, tools, n, params); break;
        default: rc = prompt_hermes(&b, tools, n, params); break;
        }
        out = rc ? NULL : ac__buf_steal(&b);
        ac__buf_free(&b);
        if (!out)
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        json_object_put(params[i]);
    ac__free(params);
    return out;
}

char *ac__toolprompt_result(ac__toolfam fam, const char *id, const char *name,
                            const char *content, ac_error *err)
{
    if (!content || (unsigned)fam >= AC__TF_COUNT) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "tool result: no content");
        return NULL;
    }
    (void)name;
    buf b = {0};
    size_t cl = strlen(content);
    int rc;
    switch (fam) {
    case AC__TF_LLAMA3:
        rc = app(&b, "{\"output\": ");
        rc = rc ? rc : ac__tp_json_quote(&b, content, cl);
        rc = rc ? rc : app(&b, "}");
        break;
    case AC__TF_MISTRAL:
        rc = app(&b, "[TOOL_RESULTS] {\"content\": ");
        rc = rc ? rc : ac__tp_json_quote(&b, content, cl);
        if (!rc && id) {
            rc = app(&b, ", \"call_id\": ");
            rc = rc ? rc : ac__tp_json_quote(&b, id, strlen(id));
        }
        rc = rc ? rc : app(&b, "}[/TOOL_RESULTS]");
        break;
    case AC__TF_GEMMA:
        rc = app(&b, "```tool_output\n");
        rc = rc ? rc : app(&b, content);
        rc = rc ? rc : app(&b, "\n```");
        break;
    default:
        rc = app(&b, "<tool_response>\n");
        rc = rc ? rc : app(&b, content);
        rc = rc ? rc : app(&b, "\n</tool_response>");
        break;
    }
    char *out = rc ? NULL : ac__buf_steal(&b);
    ac__buf_free(&b);
    if (!out)
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    return out;
}
