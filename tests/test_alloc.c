/*
 * test_alloc.c -- the failing-allocator ("torture") run: the main
 * scenarios that need no network (open a core, create an LLM, parse a
 * recorded stream and body, build JSON, save and load a session) are run
 * again and again with allocation number N failing, for every N until the
 * scenario no longer allocates that much.  Each run must end in success or
 * a clean AC_ENOMEM-style error: no crash, no hang, and (under valgrind or
 * ASan) no leak.
 */
#include "alloc.h"
#include "replay.h"
#include "testutil.h"

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
        ac_status st = replay_bytes(llm, AC_FRAMING_SSE, 200, stream_fixture, stream_len, 7,
                                    NULL, NULL, &r, &err);
        int step1 = st == AC_OK && strcmp(ac_response_content(r), "") != 0;
        if (st != AC_OK)
            CU_ASSERT(st == AC_ENOMEM || st == AC_EPLUGIN || st == AC_EPROTOCOL);
        ac_response_free(r);
        r = NULL;
        st = replay_bytes(llm, AC_FRAMING_NONE, 200, body_fixture, body_len, 0, NULL, NULL, &r,
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

    alloc_fail_after(-1);
    CU_ASSERT_FATAL(scenario(cfg)); /* works when nothing fails */

    long n;
    int completed = 0;
    (void)0;
    for (n = 0; n < 20000; n++) {
        alloc_fail_after(n);
        int ok = scenario(cfg);
        long refused = alloc_failures();
        alloc_fail_after(-1);
        if (refused == 0) {
            /* The scenario made fewer than n allocations: all covered. */
            CU_ASSERT(ok);
            completed = 1;
            break;
        }
    }
    printf("\n    torture: %ld allocation failure points survived\n", n);
    CU_ASSERT(completed);
    CU_ASSERT(n > 50);
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
    return tu_run_suites();
}
