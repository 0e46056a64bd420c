/*
 * test_alloc.c -- the failing-allocator ("torture") run: the main
 * scenarios (open a core, create an LLM, parse a recorded stream and body,
 * build JSON, save and load a session; and over loopback against the mock
 * server: a blocking request, a pull stream, callbacks, a session turn, a
 * model list) are run again and again with allocation number N failing,
 * for every N until the
 * scenario no longer allocates that much.  Each run must end in success or
 * a clean AC_ENOMEM-style error: no crash, no hang, and (under valgrind or
 * ASan) no leak.
 */
#include "alloc.h"
#include "replay.h"
#include "testutil.h"
#include "mock_server.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *stream_fixture, *body_fixture;
static size_t stream_len, body_len;

/* 1 if the scenario ran to the end with every step succeeding. */
static int scenario(const char *cfg_path)
{
    ac_core *core = NULL;
    ac_error err;
    int ok = 0;
    if (ac_core_open(&core, cfg_path, &err) != AC_OK) {
        CU_ASSERT(err.code == AC_ENOMEM || err.code == AC_ECONFIG);
        return 0;
    }
    ac_options *o = ac_options_new();
    ac_llm *llm = NULL;
    if (o && ac_options_set(o, "api_key", "sk-test") == AC_OK)
        llm = ac_llm_create(core, "openai", "gpt-4o", o, &err);
    ac_options_free(o);
    if (llm) {
        ac_response *r = NULL;
        ac_status st = ac__replay_bytes(llm, AC_FRAMING_SSE, 200, stream_fixture, stream_len, 7,
                                    NULL, NULL, &r, &err);
        int step1 = st == AC_OK && strcmp(ac_response_content(r), "") != 0;
        if (st != AC_OK)
            CU_ASSERT(st == AC_ENOMEM || st == AC_EPLUGIN || st == AC_EPROTOCOL);
        ac_response_free(r);
        r = NULL;
        st = ac__replay_bytes(llm, AC_FRAMING_NONE, 200, body_fixture, body_len, 0, NULL, NULL, &r,
                          &err);
        int step2 = st == AC_OK;
        char *js = ac_response_to_json(r);
        ac_free(js);
        ac_response_free(r);
        ac_session *s = ac_session_new(llm, "system");
        int step3 = 0;
        if (s) {
            char path[] = "/tmp/actest-alloc-XXXXXX";
            int fd = mkstemp(path);
            close(fd);
            if (ac_session_add_tool_result(s, "id1", "tool", "result") == AC_OK &&
                ac_session_save(s, path, &err) == AC_OK) {
                ac_session *t = ac_session_load(llm, path, &err);
                step3 = t && ac_session_message_count(t) == 1;
                ac_session_free(t);
            }
            unlink(path);
            ac_session_free(s);
        }
        ok = step1 && step2 && step3;
        ac_llm_free(llm);
    }
    ac_core_close(core);
    return ok;
}

/* When memory runs out somewhere, the caller is told exactly that. */
static int oom_like(ac_status st)
{
    if (st != AC_ENOMEM)
        fprintf(stderr, "out of memory reported as %s\n", ac_strerror(st));
    return st == AC_ENOMEM;
}

static void count_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q, (void)c;
    ++*(int *)user;
}

/* Over loopback; 1 if every step succeeded. */
static int network_scenario(const char *cfg_path)
{
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, cfg_path, &err) != AC_OK) {
        CU_ASSERT(oom_like(err.code));
        return 0;
    }
    int ok = 0, steps = 0;
    ac_llm *llm = ac_llm_create(core, "mock", "default", NULL, &err);
    if (!llm) {
        CU_ASSERT(oom_like(err.code));
        goto done;
    }
    ac_response *r = ac_generate(llm, "hello", NULL, &err);
    if (r)
        steps += strcmp(ac_response_content(r), "Hello from the mock.") == 0;
    else
        CU_ASSERT(oom_like(err.code));
    ac_response_free(r);

    ac_stream *s = ac_stream_open(llm, "stream", NULL, &err);
    if (s) {
        const ac_chunk *c;
        ac_status st;
        while ((st = ac_stream_next(s, &c, 10000)) == AC_OK)
            ;
        steps += st == AC_EOF;
        if (st != AC_EOF)
            CU_ASSERT(oom_like(st));
        ac_stream_close(s);
    }

    int events = 0;
    ac_callbacks cb = {.on_event = count_event};
    ac_request *q = ac_agenerate(llm, "callbacks", NULL, &cb, &events, NULL);
    if (q) {
        CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
        ac_status st = ac_request_status(q, NULL);
        steps += st == AC_OK && events >= 3;
        if (st != AC_OK)
            CU_ASSERT(oom_like(st));
        ac_request_free(q);
    }

    ac_session *sess = ac_session_new(llm, "system");
    if (sess) {
        r = ac_session_generate(sess, "turn", NULL, &err);
        steps += r && ac_session_message_count(sess) == 2;
        if (!r) {
            CU_ASSERT(oom_like(err.code));
            CU_ASSERT_EQUAL(ac_session_message_count(sess), 0); /* nothing half-recorded */
        }
        ac_response_free(r);
        ac_session_free(sess);
    }

    ac_models *m = ac_list_models(llm, &err);
    steps += m && ac_models_count(m) >= 1;
    ac_models_free(m);

    /* A whole conversation sent as a list (the gateway's call). */
    ac_messages *ml = ac_messages_new();
    if (ml && ac_messages_add(ml, AC_ROLE_SYSTEM, "sys") == AC_OK &&
        ac_messages_add(ml, AC_ROLE_USER, "look") == AC_OK &&
        ac_messages_attach_image_url(ml, "https://example.invalid/cat.png", NULL) == AC_OK &&
        ac_messages_add(ml, AC_ROLE_ASSISTANT, NULL) == AC_OK &&
        ac_messages_add_tool_call(ml, "c1", "f", "{\"a\":1}") == AC_OK &&
        ac_messages_add_tool_result(ml, "c1", NULL, "r", 0) == AC_OK &&
        ac_messages_add(ml, AC_ROLE_USER, "and?") == AC_OK) {
        r = ac_generate_messages(llm, ml, NULL, &err);
        steps += r && ac_response_content_len(r) > 0;
        if (!r)
            CU_ASSERT(oom_like(err.code));
        ac_response_free(r);
    }
    ac_messages_free(ml);

    /* The asynchronous listing. */
    ac_request *lq = ac_alist_models(llm, NULL, NULL, &err);
    if (lq) {
        CU_ASSERT_EQUAL(ac_request_wait(lq, 10000), AC_OK);
        ac_status st = ac_request_status(lq, NULL);
        ac_models *lm = ac_request_take_models(lq);
        steps += lm && ac_models_count(lm) >= 1;
        if (st != AC_OK)
            CU_ASSERT(oom_like(st));
        ac_models_free(lm);
        ac_request_free(lq);
    } else {
        CU_ASSERT(oom_like(err.code));
    }
    ok = steps == 7;
    ac_llm_free(llm);
done:
    ac_core_close(core);
    return ok;
}

/* Structured output asked again, and tools read out of a stream, over
 * loopback; 1 if both worked. */
static int structured_scenario(const char *cfg_path)
{
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, cfg_path, &err) != AC_OK) {
        CU_ASSERT(oom_like(err.code));
        return 0;
    }
    int steps = 0;
    ac_llm *llm = ac_llm_create(core, "mock", "json", NULL, &err);
    ac_llm *tl = ac_llm_create(core, "mock", "tools", NULL, &err);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params *tp = ac_gen_params_new();
    if (!llm || !tl || !p || !tp) {
        CU_ASSERT(!llm || !tl ? oom_like(err.code) : 1);
        goto done;
    }
    ac_status st = ac_gen_params_set_json_schema(
        p, "x", "{\"type\":\"object\",\"required\":[\"ok\"]}", &err);
    if (st == AC_OK) {
        ac_response *r = ac_generate(llm, "json please", p, &err);
        if (r)
            steps += ac_response_json_text(r) && !strcmp(ac_response_json_text(r), "{\"ok\":true}");
        else
            CU_ASSERT(oom_like(err.code));
        ac_response_free(r);
    } else {
        CU_ASSERT(oom_like(st));
    }
    if (ac_gen_params_add_tool(tp, "get_weather", NULL, NULL) == AC_OK &&
        ac_gen_params_set_tool_mode(tp, AC_TOOL_MODE_PROMPTED) == AC_OK &&
        ac_gen_params_set_stream(tp, 1) == AC_OK) {
        ac_response *r = ac_generate(tl, "weather", tp, &err);
        if (r)
            steps += ac_response_tool_call_count(r) == 1;
        else
            CU_ASSERT(oom_like(err.code));
        ac_response_free(r);
    }
done:
    ac_gen_params_free(p);
    ac_gen_params_free(tp);
    ac_llm_free(llm);
    ac_llm_free(tl);
    ac_core_close(core);
    return steps == 2;
}

/* Run scenario(cfg) with allocation 0, 1, 2, ... failing in turn, until a
 * run makes fewer allocations than the failing one: that run covered the
 * scenario and must succeed.  It must also succeed when nothing fails.
 * Returns how many failure points were survived. */
static long torture(int (*scenario_fn)(const char *), const char *cfg,
                    long max_n, const char *label)
{
    ac__alloc_fail_after(-1);
    CU_ASSERT_FATAL(scenario_fn(cfg)); /* works when nothing fails */
    long n;
    int completed = 0;
    for (n = 0; n < max_n; n++) {
        ac__alloc_fail_after(n);
        int ok = scenario_fn(cfg);
        long refused = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        if (refused == 0) {
            /* The scenario made fewer than n allocations: all covered. */
            CU_ASSERT(ok);
            completed = 1;
            break;
        }
    }
    printf("\n    %s: %ld allocation failure points survived\n", label, n);
    CU_ASSERT(completed);
    return n;
}

static void test_network_allocation_failing_in_turn(void)
{
    char errbuf[256];
    mock_server *mock = mock_server_start(
        "scenarios = ( { model = \"default\"; reply = \"Hello from the mock.\"; chunks = 3; usage = [2, 3]; } );",
        0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mock);
    char text[4096];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";"
             " api_key = \"sk-x\"; max_retries = 0; } );\n",
             tu_plugin_path_list(), mock_server_url(mock));
    char *cfg = tu_write_temp(text);
    CU_ASSERT(torture(network_scenario, cfg, 50000, "torture (network)") > 100);
    unlink(cfg);
    free(cfg);
    mock_server_stop(mock);
}

static void test_structured_allocation_failing_in_turn(void)
{
    char errbuf[256];
    mock_server *mock = mock_server_start(
        "scenarios = ( { model = \"json\"; steps = ( { reply = \"no\"; },"
        " { reply = \"{\\\"ok\\\":true}\"; } ); },\n"
        " { model = \"tools\"; chunks = 5; reply = \"a <tool_call>{\\\"name\\\": "
        "\\\"get_weather\\\", \\\"arguments\\\": {}}</tool_call>\"; } );",
        0, errbuf, sizeof errbuf);
    if (!mock)
        fprintf(stderr, "%s\n", errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mock);
    char text[4096];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";"
             " api_key = \"sk-x\"; max_retries = 0; } );\n",
             tu_plugin_path_list(), mock_server_url(mock));
    char *cfg = tu_write_temp(text);
    CU_ASSERT(torture(structured_scenario, cfg, 50000, "torture (structured, prompted)") > 100);
    unlink(cfg);
    free(cfg);
    mock_server_stop(mock);
}

static void test_every_allocation_failing_in_turn(void)
{
    char *cfg = NULL;
    {
        char text[4096];
        snprintf(text, sizeof text, "abstractcore = { plugin_path = %s; };\n",
                 tu_plugin_path_list());
        cfg = tu_write_temp(text);
    }
    stream_fixture = tu_fixture("openai_chat_stream_text.sse", &stream_len);
    body_fixture = tu_fixture("openai_chat_response_parallel_tool_calls.json", &body_len);

    CU_ASSERT(torture(scenario, cfg, 20000, "torture") > 50);
    free(stream_fixture);
    free(body_fixture);
    unlink(cfg);
    free(cfg);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("alloc", NULL, NULL);
    CU_add_test(s, "every allocation failing in turn", test_every_allocation_failing_in_turn);
    CU_add_test(s, "every allocation failing in turn, over loopback",
                test_network_allocation_failing_in_turn);
    CU_add_test(s, "every allocation failing in turn: structured output, prompted tools",
                test_structured_allocation_failing_in_turn);
    return tu_run_suites();
}
