/*
 * test_context.c -- histories the caller builds (ac_messages), sent
 * whole or added to a session; token estimates and counts;
 * max_input_tokens with an error or oldest-turns-first trimming.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockutil.h"
#include "testutil.h"

static mu_env env;

static int suite_init(void)
{
    if (mu_start_plain(&env, "reply = \"fine\"; scenarios = ( { model = \"echo\"; echo = true; } );"))
        return -1;
    return 0;
}

static int suite_clean(void)
{
    mu_stop(&env);
    return 0;
}

static ac_llm *llm_of(const char *plugin, const char *model, const char *extra_key,
                      const char *extra_value)
{
    ac_options *o = ac_options_new();
    char base[128];
    snprintf(base, sizeof base, "%s%s", mock_server_url(env.mock),
             strcmp(plugin, "openai") == 0 ? "/v1" : "");
    ac_options_set(o, "base_url", base);
    ac_options_set(o, "api_key", "sk-context-test");
    ac_options_set(o, "max_retries", "0");
    if (extra_key)
        ac_options_set(o, extra_key, extra_value);
    ac_error err;
    ac_llm *l = ac_llm_create(env.core, plugin, model, o, &err);
    ac_options_free(o);
    if (!l)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    return l;
}

/* The history of the tests: a tool round in the middle. */
static ac_messages *history(void)
{
    ac_messages *m = ac_messages_new();
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_SYSTEM, "Be brief."), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "Weather in Paris?"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_ASSISTANT, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_call(m, "call_1", "get_weather",
                                              "{\"city\":\"Paris\"}"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_result(m, "call_1", "get_weather", "sunny", 0), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_ASSISTANT, "Sunny in Paris."), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "And tomorrow?"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_set_name(m, "ada"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_count(m), 6);
    return m;
}

static const char *msg_field(json_object *b, int i, const char *key)
{
    json_object *msgs = tu_jget(b, "messages");
    json_object *m = msgs ? json_object_array_get_idx(msgs, (size_t)i) : NULL;
    return m ? tu_jstr(m, key) : NULL;
}

static void test_send_a_history(void)
{
    ac_llm *l = llm_of("openai", "echo", NULL, NULL);
    ac_messages *m = history();
    ac_error err;
    ac_response *r = ac_generate_messages(l, m, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "And tomorrow?");
    ac_response_free(r);
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 6);
    TU_ASSERT_STR(msg_field(b, 0, "role"), "system");
    TU_ASSERT_STR(msg_field(b, 0, "content"), "Be brief.");
    TU_ASSERT_STR(msg_field(b, 2, "role"), "assistant");
    json_object *call = json_object_array_get_idx(
        tu_jget(json_object_array_get_idx(tu_jget(b, "messages"), 2), "tool_calls"), 0);
    TU_ASSERT_STR(tu_jstr(call, "id"), "call_1");
    TU_ASSERT_STR(msg_field(b, 3, "role"), "tool");
    TU_ASSERT_STR(msg_field(b, 3, "tool_call_id"), "call_1");
    TU_ASSERT_STR(msg_field(b, 5, "name"), "ada");
    json_object_put(b);
    /* Bad building calls. */
    CU_ASSERT_EQUAL(ac_messages_add(m, (ac_role)9, "x"), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_messages_add_tool_call(m, "c", "f", "{}"), AC_EINVAL); /* last is user */
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "\xff"), AC_EINVAL);
    ac_messages *empty = ac_messages_new();
    CU_ASSERT_PTR_NULL(ac_generate_messages(l, empty, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    ac_messages_free(empty);
    ac_messages_free(m);
    ac_llm_free(l);
}

static void test_session_add_messages(void)
{
    ac_llm *l = llm_of("openai", "echo", NULL, NULL);
    ac_session *s = ac_session_new(l, "old system");
    ac_messages *m = history();
    CU_ASSERT_EQUAL(ac_session_add_messages(s, m), AC_OK);
    /* The system message became the session's system prompt. */
    char *sys = ac_session_system_prompt(s);
    TU_ASSERT_STR(sys, "Be brief.");
    ac_free(sys);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 5);
    CU_ASSERT_EQUAL(ac_session_message_role(s, 2), AC_ROLE_TOOL);
    ac_error err;
    ac_response *r = ac_session_generate(s, "Thanks", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 7);
    json_object_put(b);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 7);
    ac_messages_free(m);
    ac_session_free(s);
    ac_llm_free(l);
}

static void test_estimate_and_count(void)
{
    ac_messages *m = ac_messages_new();
    ac_messages_add(m, AC_ROLE_USER, "one two three four five six"); /* 27 bytes */
    /* 4 framing + ceil(27 / 4) = 4 + 7 */
    CU_ASSERT_EQUAL(ac_messages_estimate_tokens(m), 11);
    ac_messages_add(m, AC_ROLE_ASSISTANT, "seven");
    CU_ASSERT_EQUAL(ac_messages_estimate_tokens(m), 11 + 4 + 2);
    /* Anthropic counts on the server (the mock: words). */
    ac_llm *a = llm_of("anthropic", "claude-x", NULL, NULL);
    long n = 0;
    int exact = 0;
    ac_error err;
    CU_ASSERT_EQUAL(ac_count_tokens(a, m, NULL, &n, &exact, &err), AC_OK);
    CU_ASSERT_EQUAL(exact, 1);
    CU_ASSERT_EQUAL(n, 7);
    ac_llm_free(a);
    /* A count is of what the caller has: max_input_tokens limits what is
     * sent, not what is counted. */
    a = llm_of("anthropic", "claude-x", "max_input_tokens", "5");
    CU_ASSERT_EQUAL(ac_count_tokens(a, m, NULL, &n, &exact, &err), AC_OK);
    CU_ASSERT_EQUAL(n, 7);
    ac_llm_free(a);
    /* OpenAI has no count endpoint: the estimate, no request. */
    ac_llm *o = llm_of("openai", "echo", NULL, NULL);
    size_t before = mock_server_request_count(env.mock);
    CU_ASSERT_EQUAL(ac_count_tokens(o, m, NULL, &n, &exact, &err), AC_OK);
    CU_ASSERT_EQUAL(exact, 0);
    CU_ASSERT_EQUAL(n, 17);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before);
    ac_llm_free(o);
    ac_messages_free(m);
}

static void test_max_input_tokens(void)
{
    ac_llm *l = llm_of("openai", "echo", "max_input_tokens", "30");
    ac_messages *m = history();
    ac_error err;
    size_t before = mock_server_request_count(env.mock);
    /* Too long, and no trimming: refused before anything is sent. */
    CU_ASSERT_EQUAL(ac_messages_estimate_tokens(m) > 30, 1);
    CU_ASSERT_PTR_NULL(ac_generate_messages(l, m, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_input_tokens = 30"));
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before);
    /* Trimming: the oldest turn goes whole (the tool call with its
     * result); the system prompt and the last turn stay. */
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_set_max_input_tokens(p, 30, 1), AC_OK);
    ac_response *r = ac_generate_messages(l, m, p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ac_response_free(r);
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 2);
    TU_ASSERT_STR(msg_field(b, 0, "role"), "system");
    TU_ASSERT_STR(msg_field(b, 1, "content"), "And tomorrow?");
    json_object_put(b);
    /* Even the last turn alone is too long: an error, trimming or not. */
    CU_ASSERT_EQUAL(ac_gen_params_set_max_input_tokens(p, 5, 1), AC_OK);
    CU_ASSERT_PTR_NULL(ac_generate_messages(l, m, p, &err));
    CU_ASSERT_EQUAL(err.code, AC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "even with only the last turn kept"));
    ac_gen_params_free(p);
    ac_messages_free(m);
    ac_llm_free(l);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"a history sent whole", test_send_a_history},
        {"messages added to a session", test_session_add_messages},
        {"token estimates and counts", test_estimate_and_count},
        {"max_input_tokens: error or trim", test_max_input_tokens},
    };
    if (TU_ADD_SUITE("context", suite_init, suite_clean, tests))
        return 2;
    return tu_run_suites();
}
