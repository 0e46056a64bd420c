/*
 * test_providers.c -- one behaviour across all six providers, against the
 * mock server speaking each one's protocol: a gather over all six at once
 * (streamed and not), and one session whose turns move between backends,
 * with tool calls and tool results, keeping a history each accepts.
 */
#include "mockutil.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"echo\"; echo = true; chunks = 3; usage = [7, 3]; },\n"
    "  { model = \"lms\"; echo = true; chunks = 3; quirk = \"lmstudio\"; usage = [7, 3]; },\n"
    "  { model = \"tgi\"; echo = true; chunks = 3; quirk = \"tgi\"; usage = [7, 3]; },\n"
    "  { model = \"mlx\"; echo = true; chunks = 3; quirk = \"mlx\"; usage = [7, 3]; },\n"
    "  { model = \"tools\"; reply = \"\"; tool_calls = ( { id = \"call_1\"; name = \"get_weather\"; arguments = \"{\\\"city\\\":\\\"Paris\\\"}\"; } ); }\n"
    ");\n";

static const char *NAMES[6] = {"openai", "anthropic", "ollama", "lmstudio", "huggingface", "mlx"};
static const char *MODELS[6] = {"echo", "echo", "echo", "lms", "tgi", "mlx"};

typedef struct env {
    mock_server *mock;
    ac_core     *core;
    ac_llm      *llm[6];
} env;

static void env_start(env *e)
{
    char errbuf[256];
    memset(e, 0, sizeof *e);
    e->mock = mock_server_start(SCRIPT, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->mock);
    const char *u = mock_server_url(e->mock);
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "providers = (\n"
             " { name = \"openai\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\"; },\n"
             " { name = \"anthropic\"; plugin = \"anthropic\"; base_url = \"%s\"; api_key = \"k\"; },\n"
             " { name = \"ollama\"; plugin = \"ollama\"; base_url = \"%s\"; },\n"
             " { name = \"lmstudio\"; plugin = \"lmstudio\"; base_url = \"%s/v1\"; },\n"
             " { name = \"huggingface\"; plugin = \"huggingface\"; base_url = \"%s/v1\"; api_key = \"k\"; },\n"
             " { name = \"mlx\"; plugin = \"mlx\"; base_url = \"%s/v1\"; }\n"
             ");\n", u, u, u, u, u, u);
    e->core = tu_open_core(cfg);
    for (int i = 0; i < 6; i++) {
        ac_error err;
        e->llm[i] = ac_llm_create(e->core, NAMES[i], MODELS[i], NULL, &err);
        if (!e->llm[i])
            fprintf(stderr, "%s: %s\n", NAMES[i], err.message);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e->llm[i]);
    }
}

static void env_stop(env *e)
{
    for (int i = 0; i < 6; i++)
        ac_llm_free(e->llm[i]);
    ac_core_close(e->core);
    mock_server_stop(e->mock);
}

static void gather_all(int stream)
{
    env e;
    env_start(&e);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, stream);
    ac_gen_params_set_max_tokens(p, 64);
    ac_request *q[6];
    char prompt[6][64];
    for (int i = 0; i < 6; i++) {
        snprintf(prompt[i], sizeof prompt[i], "hello %s, in one word", NAMES[i]);
        q[i] = ac_agenerate(e.llm[i], prompt[i], p, NULL, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    CU_ASSERT_EQUAL(ac_gather(q, 6, 20000), AC_OK);
    for (int i = 0; i < 6; i++) {
        ac_error err;
        ac_status st = ac_request_status(q[i], &err);
        if (st != AC_OK)
            fprintf(stderr, "%s (stream=%d): %s\n", NAMES[i], stream, err.message);
        CU_ASSERT_EQUAL(st, AC_OK);
        const ac_response *r = ac_request_response(q[i]);
        /* The same answer, the same vocabulary, whatever the backend. */
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), prompt[i]);
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
        CU_ASSERT_STRING_EQUAL(ac_response_provider(r), NAMES[i]);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 3);
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 7);
        ac_request_free(q[i]);
    }
    ac_gen_params_free(p);
    env_stop(&e);
}

static void test_gather_six_providers(void) { gather_all(0); }
static void test_gather_six_providers_streamed(void) { gather_all(1); }

static void test_list_models_everywhere(void)
{
    env e;
    env_start(&e);
    for (int i = 0; i < 6; i++) {
        ac_error err;
        ac_models *m = ac_list_models(e.llm[i], &err);
        if (!m)
            fprintf(stderr, "%s: %s\n", NAMES[i], err.message);
        CU_ASSERT_PTR_NOT_NULL(m);
        CU_ASSERT(ac_models_count(m) >= 1);
        ac_models_free(m);
    }
    env_stop(&e);
}

/* ---- one session, every backend ---- */

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o)
        json_object_object_get_ex(o, key, &v);
    return v;
}

/* Does the body's text contain s (a cheap check for nested shapes)? */
static int body_has(json_object *o, const char *s)
{
    return o && strstr(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), s) != NULL;
}

static void test_session_moves_between_backends(void)
{
    env e;
    env_start(&e);
    ac_error err;
    ac_llm *tools = ac_llm_create(e.core, "openai", "tools", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tools);
    ac_session *s = ac_session_new(tools, "Answer briefly.");
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_add_tool(p, "get_weather", "Weather for a city",
                           "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");

    /* 1. OpenAI asks for a tool. */
    ac_response *r = ac_session_generate(s, "Weather in Paris?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 1);
    ac_response_free(r);
    CU_ASSERT_EQUAL(ac_session_add_tool_result(s, "call_1", NULL, "22 C and sunny"), AC_OK);

    /* 2. Anthropic continues: tool_use and tool_result blocks, system on top. */
    ac_session_set_llm(s, e.llm[1]);
    r = ac_session_generate(s, NULL, p, &err);
    if (!r)
        fprintf(stderr, "anthropic turn: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *b = mu_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT(body_has(get(b, "system"), "Answer briefly."));
    json_object *msgs = get(b, "messages");
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 3);
    CU_ASSERT(body_has(json_object_array_get_idx(msgs, 1), "\"type\":\"tool_use\""));
    CU_ASSERT(body_has(json_object_array_get_idx(msgs, 1), "\"input\":{\"city\":\"Paris\"}"));
    CU_ASSERT(body_has(json_object_array_get_idx(msgs, 2), "\"tool_use_id\":\"call_1\""));
    json_object_put(b);

    /* 3. Ollama: arguments as an object, the result by tool name. */
    ac_session_set_llm(s, e.llm[2]);
    r = ac_session_generate(s, "And tomorrow?", NULL, &err);
    if (!r)
        fprintf(stderr, "ollama turn: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    b = mu_last_body(e.mock);
    msgs = get(b, "messages");
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 6); /* system + 5 */
    CU_ASSERT(body_has(json_object_array_get_idx(msgs, 2), "\"arguments\":{\"city\":\"Paris\"}"));
    CU_ASSERT(body_has(json_object_array_get_idx(msgs, 3), "\"role\":\"tool\""));
    CU_ASSERT(body_has(json_object_array_get_idx(msgs, 3), "get_weather"));
    json_object_put(b);

    /* 4. The OpenAI-compatible three: arguments as a string, tool_call_id. */
    for (int i = 3; i < 6; i++) {
        ac_session_set_llm(s, e.llm[i]);
        r = ac_session_generate(s, "Thanks!", NULL, &err);
        if (!r)
            fprintf(stderr, "%s turn: %s\n", NAMES[i], err.message);
        CU_ASSERT_PTR_NOT_NULL(r);
        ac_response_free(r);
        b = mu_last_body(e.mock);
        msgs = get(b, "messages");
        CU_ASSERT(body_has(json_object_array_get_idx(msgs, 2),
                           "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\""));
        CU_ASSERT(body_has(json_object_array_get_idx(msgs, 3), "\"tool_call_id\":\"call_1\""));
        json_object_put(b);
    }
    /* user+call, result, reply, then two per turn for four turns */
    CU_ASSERT_EQUAL(ac_session_message_count(s), 12);
    ac_gen_params_free(p);
    ac_session_free(s);
    ac_llm_free(tools);
    env_stop(&e);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("providers", NULL, NULL);
    CU_add_test(s, "gather over six providers", test_gather_six_providers);
    CU_add_test(s, "gather over six providers, streamed", test_gather_six_providers_streamed);
    CU_add_test(s, "list models everywhere", test_list_models_everywhere);
    CU_add_test(s, "session moves between backends", test_session_moves_between_backends);
    return tu_run_suites();
}
