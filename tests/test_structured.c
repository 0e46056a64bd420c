/*
 * test_structured.c -- structured output that returns validated data, and
 * tools on models without a tool API (prompted tool mode), through the
 * public API against the mock server.
 *
 * Structured output: the schema is compiled when it is set (refusals name
 * the keyword); a reply that is not JSON or does not match is asked again
 * with its errors (the mock's `steps` answer by round) until it matches
 * or the attempts run out (AC_ESCHEMA, the last reply and its errors
 * kept); fences and sentences around the JSON are accepted; streams show
 * the RESTART event and the validated document on FINISH; usage covers
 * every round; a backend without a structured mode gets the schema in
 * the prompt.
 *
 * Prompted tools: the tools go into the system prompt and not into the
 * request; calls written in the reply text come out as tool-call events
 * (streamed in pieces that cut the tags anywhere, none of the tag text
 * reaching the text events); the history's calls and results go back as
 * text; an in-process plugin without a tool API gets the same; a call
 * left open is a warning, never lost text.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mockutil.h"
#include "testutil.h"

#define PERSON "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}," \
               "\"age\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"name\",\"age\"]," \
               "\"additionalProperties\":false}"

static const char *SCRIPT =
    "usage = [7, 5];\n"
    "scenarios = (\n"
    "  { model = \"fixes\"; steps = ( { reply = \"{not json\"; },\n"
    "                                 { reply = \"{\\\"name\\\":\\\"Ada\\\",\\\"age\\\":-3}\"; },\n"
    "                                 { reply = \"{\\\"name\\\":\\\"Ada\\\",\\\"age\\\":36}\"; } ); },\n"
    "  { model = \"fenced\"; reply = \"Here you go:\\n```json\\n{\\\"name\\\": \\\"Bo\\\", "
    "\\\"age\\\": 7}\\n```\\nAnything else?\"; },\n"
    "  { model = \"never\"; reply = \"{\\\"name\\\":\\\"Ada\\\",\\\"age\\\":-1}\"; },\n"
    "  { model = \"tooltext\"; chunks = 9; reply = \"Let me look. <tool_call>\\n{\\\"name\\\": "
    "\\\"get_weather\\\", \\\"arguments\\\": {\\\"city\\\": \\\"Paris\\\"}}\\n</tool_call>\"; },\n"
    "  { model = \"open\"; reply = \"Calling: <tool_call>{\\\"name\\\": \\\"get_weather\\\"\"; },\n"
    /* Backends whose model lacks a native form: refused once, then the
     * reply a model gives with it in the prompt. */
    "  { model = \"notools\"; status = 400; fail_times = 1; error_message = "
    "\"registry.ollama.ai/library/gemma3:latest does not support tools\"; reply = \"Let me look. "
    "<tool_call>{\\\"name\\\": \\\"get_weather\\\", \\\"arguments\\\": {\\\"city\\\": "
    "\\\"Paris\\\"}}</tool_call>\"; },\n"
    "  { model = \"notools-native\"; status = 400; fail_times = 1; error_message = "
    "\"registry.ollama.ai/library/gemma3:latest does not support tools\"; },\n"
    "  { model = \"noformat\"; status = 400; fail_times = 1; error_message = "
    "\"response_format json_schema is not supported by this server\"; "
    "reply = \"{\\\"name\\\":\\\"Ada\\\",\\\"age\\\":36}\"; },\n"
    "  { model = \"badrequest\"; status = 400; error_message = \"max_tokens is too large\"; }\n";

/* The tool-call reply again, in 1 to SPLITS pieces (model "split-N"). */
#define SPLITS 60
#define TOOLTEXT "Let me look. <tool_call>\\n{\\\"name\\\": \\\"get_weather\\\", " \
                 "\\\"arguments\\\": {\\\"city\\\": \\\"Paris\\\"}}\\n</tool_call>"

static mu_env env;

static int suite_init(void)
{
    char *script = malloc(64 * 1024);
    if (!script)
        return -1;
    size_t n = (size_t)snprintf(script, 64 * 1024, "%s", SCRIPT);
    for (int k = 1; k <= SPLITS; k++)
        n += (size_t)snprintf(script + n, 64 * 1024 - n,
                              ",\n  { model = \"split-%d\"; chunks = %d; reply = \"" TOOLTEXT "\"; }",
                              k, k);
    snprintf(script + n, 64 * 1024 - n, "\n);\n");
    int rc = mu_start_plain(&env, script);
    free(script);
    return rc;
}
static int suite_clean(void)
{
    mu_stop(&env);
    return 0;
}

/* An llm of plugin `plugin` at the mock (OpenAI's protocol, so /v1). */
static ac_llm *llm_of(const char *plugin, const char *model, const char *tool_mode)
{
    ac_options *o = ac_options_new();
    char base[128];
    snprintf(base, sizeof base, "%s/v1", mock_server_url(env.mock));
    ac_options_set(o, "base_url", base);
    ac_options_set(o, "max_retries", "0");
    ac_options_set(o, "api_key", "sk-structured-test");
    if (tool_mode)
        ac_options_set(o, "tool_mode", tool_mode);
    ac_error err;
    ac_llm *l = ac_llm_create(env.core, plugin, model, o, &err);
    ac_options_free(o);
    if (!l)
        fprintf(stderr, "ac_llm_create %s: %s\n", plugin, err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    return l;
}

static ac_gen_params *schema_params(int attempts, int stream)
{
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_set_json_schema(p, "person", PERSON, &err), AC_OK);
    if (attempts)
        CU_ASSERT_EQUAL(ac_gen_params_set_schema_attempts(p, attempts), AC_OK);
    ac_gen_params_set_stream(p, stream);
    return p;
}

/* The text of message i of the last request body ("" if none). */
static const char *body_message(json_object *b, size_t i, const char **role)
{
    json_object *msgs = tu_jget(b, "messages");
    json_object *m = msgs ? json_object_array_get_idx(msgs, i) : NULL;
    *role = m ? tu_jstr(m, "role") : NULL;
    return m && tu_jstr(m, "content") ? tu_jstr(m, "content") : "";
}

/* ------------------------------------------------------------------ */
/* Setting a schema                                                    */
/* ------------------------------------------------------------------ */

static void test_schema_refused_when_set(void)
{
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL(ac_gen_params_set_json_schema(p, NULL, "{\"$defs\": {}}", &err),
                    AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "$defs"));
    CU_ASSERT_EQUAL(ac_gen_params_set_json_schema(p, NULL, "{\"type\": \"strnig\"}", &err),
                    AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "type"));
    CU_ASSERT_EQUAL(ac_gen_params_set_json_schema(p, NULL, "{\"minLenght\": 3}", &err),
                    AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "minLenght"));
    CU_ASSERT_EQUAL(ac_gen_params_set_json_schema(p, NULL, "[1]", &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_set_json_schema(p, NULL, PERSON, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_set_schema_attempts(p, 0), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_set_schema_attempts(p, 11), AC_EINVAL);
    ac_gen_params_free(p);
}

/* ------------------------------------------------------------------ */
/* Asking again                                                        */
/* ------------------------------------------------------------------ */

static void test_asked_again_until_valid(void)
{
    ac_llm *l = llm_of("openai", "fixes", NULL);
    ac_gen_params *p = schema_params(0, 0);
    size_t before = mock_server_request_count(env.mock);
    ac_error err;
    ac_response *r = ac_generate(l, "Who?", p, &err);
    if (!r)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock) - before, 3);
    CU_ASSERT_EQUAL(ac_response_rounds(r), 3);
    TU_ASSERT_STR(ac_response_json_text(r), "{\"name\":\"Ada\",\"age\":36}");
    CU_ASSERT_EQUAL(json_object_get_int(json_object_object_get(ac_response_json(r), "age")), 36);
    CU_ASSERT_PTR_NULL(ac_response_schema_errors(r));
    /* Usage covers the three rounds. */
    CU_ASSERT_EQUAL(ac_response_input_tokens(r), 21);
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 15);
    /* The last request carried both earlier replies and the errors. */
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    const char *role;
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 5);
    TU_ASSERT_STR(body_message(b, 1, &role), "{not json");
    TU_ASSERT_STR(role, "assistant");
    CU_ASSERT_PTR_NOT_NULL(strstr(body_message(b, 2, &role), "is not a JSON document"));
    TU_ASSERT_STR(role, "user");
    TU_ASSERT_STR(body_message(b, 3, &role), "{\"name\":\"Ada\",\"age\":-3}");
    const char *fb = body_message(b, 4, &role);
    CU_ASSERT_PTR_NOT_NULL(strstr(fb, "does not match the JSON Schema"));
    CU_ASSERT_PTR_NOT_NULL(strstr(fb, "/age"));
    CU_ASSERT_PTR_NOT_NULL(strstr(fb, "minimum"));
    /* Native structured mode: the schema went as response_format. */
    CU_ASSERT_PTR_NOT_NULL(tu_jget(b, "response_format"));
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

static void test_attempts_run_out(void)
{
    ac_llm *l = llm_of("openai", "never", NULL);
    ac_gen_params *p = schema_params(2, 0);
    size_t before = mock_server_request_count(env.mock);
    ac_error err;
    ac_request *q = ac_agenerate(l, "Who?", p, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_ESCHEMA);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock) - before, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "2 attempts"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/age"));
    TU_ASSERT_STR(err.provider, "openai");
    const ac_response *r = ac_request_response(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "{\"name\":\"Ada\",\"age\":-1}");
    CU_ASSERT_PTR_NULL(ac_response_json_text(r));
    CU_ASSERT_PTR_NOT_NULL(ac_response_schema_errors(r));
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_response_schema_errors(r), "/age"));
    /* One by one: where, which keyword, where in the schema. */
    CU_ASSERT_EQUAL(ac_response_schema_error_count(r), 1);
    const char *at = NULL, *kw = NULL, *sp = NULL;
    const char *msg = ac_response_schema_error(r, 0, &at, &kw, &sp);
    CU_ASSERT_PTR_NOT_NULL(msg && strstr(msg, "minimum"));
    TU_ASSERT_STR(at, "/age");
    TU_ASSERT_STR(kw, "minimum");
    TU_ASSERT_STR(sp, "/properties/age/minimum");
    CU_ASSERT_PTR_NULL(ac_response_schema_error(r, 1, &at, NULL, NULL));
    CU_ASSERT_PTR_NULL(ac_response_schema_error(NULL, 0, NULL, NULL, NULL));
    CU_ASSERT_EQUAL(ac_response_rounds(r), 2);
    ac_request_free(q);
    /* One attempt: no asking again. */
    ac_gen_params_set_schema_attempts(p, 1);
    before = mock_server_request_count(env.mock);
    CU_ASSERT_PTR_NULL(ac_generate(l, "Who?", p, &err));
    CU_ASSERT_EQUAL(err.code, AC_ESCHEMA);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock) - before, 1);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

static void test_fenced_json_accepted(void)
{
    ac_llm *l = llm_of("openai", "fenced", NULL);
    ac_gen_params *p = schema_params(0, 0);
    ac_error err;
    ac_response *r = ac_generate(l, "Who?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_rounds(r), 1);
    TU_ASSERT_STR(ac_response_json_text(r), "{\"name\":\"Bo\",\"age\":7}");
    /* The text is what the model wrote. */
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_response_content(r), "Here you go"));
    char *j = ac_response_to_json(r);
    json_object *o = json_tokener_parse(j);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(o, "json.age")), 7);
    json_object_put(o);
    ac_free(j);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* ---- streaming ---- */

typedef struct rec {
    char seq[4096];     /* one letter per event: T text, R restart, U usage, F finish, E error */
    char text[2048];
    char json[256];
    size_t n;
} rec;

static void rec_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    rec *r = user;
    static const char letters[] = "?TXSDNUFER";
    if (r->n + 1 < sizeof r->seq)
        r->seq[r->n++] = c->type < (int)sizeof letters - 1 ? letters[c->type] : '?';
    if (c->type == AC_EVENT_RESTART) {
        r->seq[r->n - 1] = 'R';
        r->text[0] = '\0';
    }
    if (c->type == AC_EVENT_TEXT)
        tu_append(r->text, sizeof r->text, c->text, c->len);
    if (c->type == AC_EVENT_FINISH && c->json)
        snprintf(r->json, sizeof r->json, "%.*s", (int)c->json_len, c->json);
}

static const ac_callbacks REC = {.on_event = rec_event};

/* Collapse runs of T: "TTTUF" -> "TUF". */
static void squeeze(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++)
        if (!(*p == 'T' && o > s && o[-1] == 'T'))
            *o++ = *p;
    *o = '\0';
}

static void test_stream_restarts(void)
{
    ac_llm *l = llm_of("openai", "fixes", NULL);
    ac_gen_params *p = schema_params(0, 1);
    rec r = {0};
    ac_error err;
    ac_request *q = ac_agenerate(l, "Who?", p, &REC, &r, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_OK);
    squeeze(r.seq);
    TU_ASSERT_STR(r.seq, "TRTRTUF");
    TU_ASSERT_STR(r.text, "{\"name\":\"Ada\",\"age\":36}");
    TU_ASSERT_STR(r.json, "{\"name\":\"Ada\",\"age\":36}");
    ac_request_free(q);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* ---- a backend without a structured mode ---- */

static void test_schema_in_prompt(void)
{
    /* mlx_lm.server has no structured mode (AC_FEATURE_JSON_SCHEMA). */
    ac_llm *l = llm_of("mlx", "fenced", NULL);
    ac_gen_params *p = schema_params(0, 0);
    ac_gen_params_set_system(p, "Be terse.");
    ac_error err;
    ac_response *r = ac_generate(l, "Who?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_json_text(r), "{\"name\":\"Bo\",\"age\":7}");
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_PTR_NULL(tu_jget(b, "response_format"));
    const char *role;
    const char *sys = body_message(b, 0, &role);
    TU_ASSERT_STR(role, "system");
    CU_ASSERT_EQUAL(strncmp(sys, "Be terse.\n\n", 11), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(sys, "JSON Schema"));
    CU_ASSERT_PTR_NOT_NULL(strstr(sys, "\"minimum\":0"));
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* ------------------------------------------------------------------ */
/* Prompted tools                                                      */
/* ------------------------------------------------------------------ */

static ac_gen_params *tool_params(int stream)
{
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "get_weather", "The weather in a city.",
                                           "{\"type\":\"object\",\"properties\":{\"city\":"
                                           "{\"type\":\"string\"}}}"), AC_OK);
    ac_gen_params_set_stream(p, stream);
    return p;
}

static void test_prompted_tools_stream(void)
{
    ac_llm *l = llm_of("openai", "tooltext", "prompted");
    ac_gen_params *p = tool_params(1);
    rec r = {0};
    ac_error err;
    ac_request *q = ac_agenerate(l, "Weather in Paris?", p, &REC, &r, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_OK);
    const ac_response *res = ac_request_response(q);
    /* Nothing of the tag reached the text. */
    TU_ASSERT_STR(r.text, "Let me look.");
    TU_ASSERT_STR(ac_response_content(res), "Let me look.");
    CU_ASSERT_EQUAL(ac_response_tool_call_count(res), 1);
    TU_ASSERT_STR(ac_response_tool_call_name(res, 0), "get_weather");
    CU_ASSERT(tu_json_text_equal(ac_response_tool_call_arguments(res, 0), "{\"city\":\"Paris\"}"));
    CU_ASSERT(strlen(ac_response_tool_call_id(res, 0)) > 0);
    TU_ASSERT_STR(ac_response_finish_reason(res), "tool_calls");
    squeeze(r.seq);
    TU_ASSERT_STR(r.seq, "TSDNUF");
    /* The request had no tools; the system prompt offered them. */
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_PTR_NULL(tu_jget(b, "tools"));
    const char *role;
    const char *sys = body_message(b, 0, &role);
    TU_ASSERT_STR(role, "system");
    CU_ASSERT_PTR_NOT_NULL(strstr(sys, "get_weather"));
    CU_ASSERT_PTR_NOT_NULL(strstr(sys, "<tool_call>"));
    json_object_put(b);
    /* Written back in another family's syntax. */
    char *m = ac_response_render_tool_calls(res, "mistral");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(strncmp(m, "[TOOL_CALLS]", 12), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "get_weather"));
    ac_free(m);
    CU_ASSERT_PTR_NULL(ac_response_render_tool_calls(res, "klingon"));
    ac_request_free(q);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* Cut in every number of pieces from 1 to SPLITS through the whole
 * path: the same call, the same text. */
static void test_prompted_tools_every_split(void)
{
    ac_gen_params *p = tool_params(1);
    for (int k = 1; k <= SPLITS; k++) {
        char model[32];
        snprintf(model, sizeof model, "split-%d", k);
        ac_llm *l = llm_of("openai", model, "prompted");
        rec r = {0};
        ac_error err;
        ac_request *q = ac_agenerate(l, "Weather?", p, &REC, &r, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
        CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_OK);
        const ac_response *res = ac_request_response(q);
        CU_ASSERT_EQUAL(ac_response_tool_call_count(res), 1);
        if (ac_response_tool_call_count(res) == 1)
            CU_ASSERT(tu_json_text_equal(ac_response_tool_call_arguments(res, 0),
                                         "{\"city\":\"Paris\"}"));
        TU_ASSERT_STR(r.text, "Let me look.");
        ac_request_free(q);
        ac_llm_free(l);
    }
    ac_gen_params_free(p);
}

static void test_prompted_history(void)
{
    ac_llm *l = llm_of("openai", "tooltext", "prompted");
    ac_gen_params *p = tool_params(0);
    ac_session *s = ac_session_new(l, "You help.");
    ac_error err;
    ac_response *r = ac_session_generate(s, "Weather in Paris?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 1);
    CU_ASSERT_EQUAL(ac_session_add_tool_result(s, ac_response_tool_call_id(r, 0), "get_weather",
                                               "sunny, 21 C"), AC_OK);
    ac_response_free(r);
    r = ac_session_generate(s, NULL, p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    /* The second request: the call as text in the assistant turn, the
     * result as a user turn in <tool_response>. */
    json_object *b = mu_last_body(env.mock);
    const char *role;
    CU_ASSERT_PTR_NOT_NULL(strstr(body_message(b, 0, &role), "You help.\n\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body_message(b, 2, &role), "<tool_call>"));
    TU_ASSERT_STR(role, "assistant");
    const char *res = body_message(b, 3, &role);
    TU_ASSERT_STR(role, "user");
    CU_ASSERT_PTR_NOT_NULL(strstr(res, "<tool_response>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(res, "sunny, 21 C"));
    json_object *msgs = tu_jget(b, "messages");
    for (size_t i = 0; i < json_object_array_length(msgs); i++)
        CU_ASSERT_PTR_NULL(tu_jget(json_object_array_get_idx(msgs, i), "tool_calls"));
    json_object_put(b);
    ac_session_free(s);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* An in-process plugin with no tool API: AUTO prompts; the echo plugin
 * repeats the prompt, so the prompt's call comes back as text. */
static void test_prompted_local_auto(void)
{
    ac_error err;
    char *conf = tu_write_temp("abstractcore = { plugin_path = [ \"" TEST_BUILDDIR
                               "/tests/plugins/.libs\" ]; };\n");
    ac_core *core = NULL;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, conf, &err), AC_OK);
    unlink(conf);
    free(conf);
    ac_llm *l = ac_llm_create(core, "localecho", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params *p = tool_params(1);
    rec r = {0};
    ac_request *q = ac_agenerate(l, "ok <tool_call>{\"name\": \"get_weather\", \"arguments\": "
                                 "{\"city\": \"Oslo\"}}</tool_call>", p, &REC, &r, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_OK);
    const ac_response *res = ac_request_response(q);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(res), 1);
    CU_ASSERT(tu_json_text_equal(ac_response_tool_call_arguments(res, 0), "{\"city\":\"Oslo\"}"));
    TU_ASSERT_STR(r.text, "ok");
    ac_request_free(q);
    /* Native mode on a plugin without a tool API: the plugin sees the
     * tools (and here ignores them): no parsing, the text stays. */
    ac_gen_params_set_tool_mode(p, AC_TOOL_MODE_NATIVE);
    memset(&r, 0, sizeof r);
    q = ac_agenerate(l, "ok <tool_call>{}</tool_call>", p, &REC, &r, &err);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(ac_request_response(q)), 0);
    TU_ASSERT_STR(r.text, "ok <tool_call>{}</tool_call>");
    ac_request_free(q);
    ac_gen_params_free(p);
    ac_llm_free(l);
    ac_core_close(core);
}

static void test_prompted_unterminated(void)
{
    ac_llm *l = llm_of("openai", "open", "prompted");
    ac_gen_params *p = tool_params(0);
    ac_error err;
    ac_response *r = ac_generate(l, "Weather?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    /* The text is kept, and a warning says what happened. */
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_response_content(r), "<tool_call>{\"name\""));
    CU_ASSERT_EQUAL(ac_response_warning_count(r), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_response_warning(r, 0), "unterminated"));
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

static void test_bad_tool_mode_setting(void)
{
    ac_options *o = ac_options_new();
    ac_options_set(o, "api_key", "sk-structured-test");
    ac_options_set(o, "tool_mode", "sometimes");
    ac_error err;
    CU_ASSERT_PTR_NULL(ac_llm_create(env.core, "openai", "x", o, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "tool_mode"));
    ac_options_set(o, "tool_mode", "native");
    ac_options_set(o, "tool_family", "klingon");
    CU_ASSERT_PTR_NULL(ac_llm_create(env.core, "openai", "x", o, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "tool_family"));
    ac_options_set(o, "tool_family", "qwen");
    ac_options_set(o, "schema_attempts", "0");
    CU_ASSERT_PTR_NULL(ac_llm_create(env.core, "openai", "x", o, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "schema_attempts"));
    ac_options_free(o);
}

/* ------------------------------------------------------------------ */
/* A backend that refuses the native form for its model                */
/* ------------------------------------------------------------------ */

static int warned_of(const ac_response *r, const char *what)
{
    for (size_t i = 0; i < ac_response_warning_count(r); i++)
        if (strstr(ac_response_warning(r, i), what))
            return 1;
    return 0;
}

static void test_refused_tools_prompted(void)
{
    /* The plugin has native tools; this model has not (Ollama's 400). */
    ac_llm *l = llm_of("openai", "notools", NULL);
    ac_gen_params *p = tool_params(0);
    size_t before = mock_server_request_count(env.mock);
    ac_error err;
    ac_response *r = ac_generate(l, "Weather in Paris?", p, &err);
    if (!r)
        fprintf(stderr, "notools: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock) - before, 2);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 1);
    TU_ASSERT_STR(ac_response_tool_call_name(r, 0), "get_weather");
    CU_ASSERT(tu_json_text_equal(ac_response_tool_call_arguments(r, 0), "{\"city\":\"Paris\"}"));
    TU_ASSERT_STR(ac_response_content(r), "Let me look.");
    CU_ASSERT_EQUAL(ac_response_attempt_count(r), 2);
    CU_ASSERT(warned_of(r, "refused the native tools"));
    /* The second request offered them in the system prompt. */
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_PTR_NULL(tu_jget(b, "tools"));
    const char *role;
    CU_ASSERT_PTR_NOT_NULL(strstr(body_message(b, 0, &role), "get_weather"));
    TU_ASSERT_STR(role, "system");
    json_object_put(b);
    ac_response_free(r);

    /* tool_mode native asks for native: the 400 is the answer. */
    ac_llm *n = llm_of("openai", "notools-native", "native");
    before = mock_server_request_count(env.mock);
    CU_ASSERT_PTR_NULL(ac_generate(n, "Weather in Paris?", p, &err));
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 400);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock) - before, 1);
    ac_llm_free(n);

    /* Another 400 is not a refusal of tools: one request. */
    ac_llm *o = llm_of("openai", "badrequest", NULL);
    before = mock_server_request_count(env.mock);
    CU_ASSERT_PTR_NULL(ac_generate(o, "Weather in Paris?", p, &err));
    CU_ASSERT_EQUAL(err.http_status, 400);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock) - before, 1);
    ac_llm_free(o);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

static void test_refused_schema_prompted(void)
{
    ac_llm *l = llm_of("openai", "noformat", NULL);
    ac_gen_params *p = schema_params(0, 1);
    size_t before = mock_server_request_count(env.mock);
    ac_error err;
    ac_response *r = ac_generate(l, "Who?", p, &err);
    if (!r)
        fprintf(stderr, "noformat: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock) - before, 2);
    TU_ASSERT_STR(ac_response_json_text(r), "{\"name\":\"Ada\",\"age\":36}");
    CU_ASSERT(warned_of(r, "refused the native schema"));
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_PTR_NULL(tu_jget(b, "response_format"));
    const char *role;
    CU_ASSERT_PTR_NOT_NULL(strstr(body_message(b, 0, &role), "JSON Schema"));
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test structured[] = {
        {"a schema is compiled when set", test_schema_refused_when_set},
        {"asked again until it matches", test_asked_again_until_valid},
        {"attempts run out: AC_ESCHEMA", test_attempts_run_out},
        {"JSON in a fence is accepted", test_fenced_json_accepted},
        {"streamed: RESTART, then the document on FINISH", test_stream_restarts},
        {"no structured mode: the schema in the prompt", test_schema_in_prompt},
        {"a model that refuses the native schema: in the prompt", test_refused_schema_prompted},
    };
    static const tu_test tools[] = {
        {"calls read out of a stream", test_prompted_tools_stream},
        {"every piece size", test_prompted_tools_every_split},
        {"the history as text", test_prompted_history},
        {"an in-process plugin, auto mode", test_prompted_local_auto},
        {"an unterminated call is a warning", test_prompted_unterminated},
        {"bad settings", test_bad_tool_mode_setting},
        {"a model that refuses native tools: in the prompt", test_refused_tools_prompted},
    };
    if (TU_ADD_SUITE("structured output", suite_init, suite_clean, structured) ||
        TU_ADD_SUITE("prompted tools", suite_init, suite_clean, tools))
        return 2;
    return tu_run_suites();
}
