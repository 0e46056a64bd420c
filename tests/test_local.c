/*
 * test_local.c -- in-process plugins (run_local) on the worker pool:
 * sync and streamed generation, cancel, errors, and closing the core with
 * local requests running.
 */
#include "testutil.h"

#include <CUnit/Basic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ac_core *open_local(void)
{
    char text[2048];
    snprintf(text, sizeof text, "abstractcore = { plugin_path = [ \"%s/tests/plugins/.libs\" ];"
             " engine = { workers = 2; }; };\n", TEST_BUILDDIR);
    char *path = tu_write_temp(text);
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, path, &err) != AC_OK)
        fprintf(stderr, "%s\n", err.message);
    unlink(path);
    free(path);
    return core;
}

static void test_local_sync_and_stream(void)
{
    ac_core *core = open_local();
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "localecho", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_STRING_EQUAL(ac_llm_model(llm), "echo-1");
    ac_response *r = ac_generate(llm, "one two three", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "one two three");
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 3);
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
    CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "eos");
    ac_response_free(r);

    ac_stream *s = ac_stream_open(llm, "a b c d", NULL, &err);
    const ac_chunk *c;
    int texts = 0;
    ac_status st;
    while ((st = ac_stream_next(s, &c, 5000)) == AC_OK)
        texts += c->type == AC_EVENT_TEXT;
    CU_ASSERT_EQUAL(st, AC_EOF);
    CU_ASSERT_EQUAL(texts, 4);
    ac_stream_close(s);

    r = ac_generate(llm, "fail", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "local model failed"));
    ac_models *m = ac_list_models(llm, &err);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
    ac_llm_free(llm);
    ac_core_close(core);
}

static atomic_int done_calls;
static ac_status done_status;
static void on_done(ac_request *q, ac_status st, void *u)
{
    (void)q, (void)u;
    done_status = st;
    atomic_fetch_add(&done_calls, 1);
}

static void test_local_cancel_and_close(void)
{
    ac_core *core = open_local();
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "localecho", NULL, NULL, &err);
    ac_callbacks cb = {.on_done = on_done};
    const char *longp = "w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w";
    ac_request *q = ac_agenerate(llm, longp, NULL, &cb, NULL);
    usleep(100000);
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_ECANCELED);
    size_t got = ac_response_content_len(ac_request_response(q));
    CU_ASSERT(got > 0 && got < strlen(longp));
    CU_ASSERT_EQUAL(atomic_load(&done_calls), 1);
    ac_request_free(q);

    /* Three requests on a pool of two, then close: every on_done fires. */
    atomic_store(&done_calls, 0);
    ac_request *qs[3];
    for (int i = 0; i < 3; i++)
        qs[i] = ac_agenerate(llm, longp, NULL, &cb, NULL);
    usleep(50000);
    ac_core_close(core);
    CU_ASSERT_EQUAL(atomic_load(&done_calls), 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(ac_request_status(qs[i], NULL), AC_ECANCELED);
        ac_request_free(qs[i]);
    }
    ac_llm_free(llm);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("local", NULL, NULL);
    CU_add_test(s, "run_local: sync, stream, errors", test_local_sync_and_stream);
    CU_add_test(s, "run_local: cancel and close", test_local_cancel_and_close);
    return tu_run_suites();
}
