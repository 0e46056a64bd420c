/*
 * test_local.c -- in-process plugins (run_local) on the worker pool:
 * sync and streamed generation, cancel, errors, closing the core with
 * local requests running and queued, flow control with a slow reader,
 * the four timeouts, and callbacks in the engine context.
 */
#include "request.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <dlfcn.h>
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

/* ---- the localctl plugin's counters ---- */

static atomic_long *ctl_emitted, *ctl_stopped;

static int ctl_counters(void)
{
    /* The file the core loaded: the same handle, so the same counters.
     * Looked up again for every core: one that closed unloaded it, and the
     * next may map it elsewhere. */
    void *h = dlopen(TEST_BUILDDIR "/tests/plugins/.libs/localctl.so", RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return -1;
    ctl_emitted = dlsym(h, "localctl_emitted");
    ctl_stopped = dlsym(h, "localctl_stopped");
    dlclose(h); /* the core still holds it */
    return ctl_emitted && ctl_stopped ? 0 : -1;
}

typedef struct watch {
    atomic_int text;       /* TEXT events seen */
    atomic_int done;
    ac_status  status;
} watch;

static void watch_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    watch *w = user;
    if (c->type == AC_EVENT_TEXT)
        atomic_fetch_add(&w->text, 1);
}

static void watch_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    watch *w = user;
    w->status = st;
    atomic_fetch_add(&w->done, 1);
}

static const ac_callbacks WATCH = {.on_event = watch_event, .on_done = watch_done};

static int has_text(void *ctx) { return atomic_load(&((watch *)ctx)->text) > 0; }

typedef struct stop_wait {
    long want;
} stop_wait;

static int stopped_reached(void *ctx)
{
    return atomic_load(ctl_stopped) >= ((stop_wait *)ctx)->want;
}

/* ---- tests ---- */

/* Cancel while the plugin generates: on_done once with AC_ECANCELED, the
 * text so far kept, and the plugin itself told to stop. */
static void test_local_cancel(void)
{
    ac_core *core = open_local();
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "localctl", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_EQUAL_FATAL(ctl_counters(), 0);
    long stopped0 = atomic_load(ctl_stopped);
    watch w = {0};
    ac_request *q = ac_agenerate(llm, "trickle 100000 2", NULL, &WATCH, &w, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(tu_wait_until(has_text, &w, 10000));
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_ECANCELED);
    CU_ASSERT_EQUAL(w.status, AC_ECANCELED);
    CU_ASSERT_EQUAL(atomic_load(&w.done), 1);
    CU_ASSERT(ac_response_content_len(ac_request_response(q)) >= 2);
    stop_wait sw = {stopped0 + 1};
    CU_ASSERT(tu_wait_until(stopped_reached, &sw, 10000));
    ac_request_free(q);
    ac_llm_free(llm);
    ac_core_close(core);
}

/* Three long runs on a pool of two, then close: every on_done fires, the
 * two running plugins are stopped, the queued one never starts. */
static void test_local_close_with_runs(void)
{
    ac_core *core = open_local();
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "localctl", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_EQUAL_FATAL(ctl_counters(), 0);
    long stopped0 = atomic_load(ctl_stopped);
    watch w[3];
    ac_request *q[3];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 3; i++) {
        q[i] = ac_agenerate(llm, "trickle 100000 2", NULL, &WATCH, &w[i], &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    CU_ASSERT(tu_wait_until(has_text, &w[0], 10000));
    CU_ASSERT(tu_wait_until(has_text, &w[1], 10000));
    CU_ASSERT_EQUAL(atomic_load(&w[2].text), 0); /* no worker for it */
    ac_core_close(core);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(atomic_load(&w[i].done), 1);
        CU_ASSERT_EQUAL(ac_request_status(q[i], NULL), AC_ECANCELED);
        ac_request_free(q[i]);
    }
    /* ac_core_close joined the workers: both plugin calls had returned. */
    CU_ASSERT_EQUAL(atomic_load(ctl_stopped), stopped0 + 2);
    ac_llm_free(llm);
}

/* A model that produces faster than the reader reads: the stream pauses,
 * the worker waits in its emit, and at no point is more than a bounded
 * amount queued -- then the reader gets every byte, in order. */
typedef struct paused_wait {
    ac_stream *s;
} paused_wait;

static int stream_paused(void *ctx) { return ac__stream_paused(((paused_wait *)ctx)->s); }

static void test_local_flow_control(void)
{
    enum { PIECES = 8000, BOUND = 700 }; /* 8 MB; the queues hold ~512 KiB */
    ac_core *core = open_local();
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "localctl", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_EQUAL_FATAL(ctl_counters(), 0);
    long emitted0 = atomic_load(ctl_emitted);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "flood %d", PIECES);
    ac_stream *s = ac_stream_open(llm, cmd, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    paused_wait pw = {s};
    CU_ASSERT_FATAL(tu_wait_until(stream_paused, &pw, 10000));
    CU_ASSERT(atomic_load(ctl_emitted) - emitted0 < BOUND);
    const ac_chunk *c;
    ac_status st;
    long read_pieces = 0, bad = 0, over = 0;
    while ((st = ac_stream_next(s, &c, 10000)) == AC_OK) {
        if (c->type != AC_EVENT_TEXT)
            continue;
        if (c->len != 1024 || c->text[0] != 'a' + (int)(read_pieces % 26) ||
            c->text[1023] != c->text[0])
            bad++;
        read_pieces++;
        if (atomic_load(ctl_emitted) - emitted0 - read_pieces > BOUND)
            over++;
    }
    if (st != AC_EOF) {
        ac_error e;
        ac_request_status(ac_stream_request(s), &e);
        fprintf(stderr, "flow control: stream ended with %s: %s (after %ld pieces)\n",
                ac_strerror(st), e.message, read_pieces);
    }
    CU_ASSERT_EQUAL(st, AC_EOF);
    CU_ASSERT_EQUAL(read_pieces, PIECES);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(over, 0);
    ac_stream_close(s);
    ac_llm_free(llm);
    ac_core_close(core);
}

/* The four timeouts apply to in-process runs as to HTTP requests, and a
 * run that times out is told to stop. */
static void expect_timeout(ac_llm *llm, const char *cmd, long connect_ms, long fb_ms,
                           long idle_ms, long total_ms, const char *what, const char *kept)
{
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_timeouts(p, connect_ms, fb_ms, idle_ms, total_ms);
    ac_gen_params_set_stream(p, 1);
    ac_error err;
    ac_request *q = ac_agenerate(llm, cmd, p, NULL, NULL, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_TIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, what));
    if (kept)
        TU_ASSERT_STR(ac_response_content(ac_request_response(q)), kept);
    ac_request_free(q);
}

static void test_local_timeouts(void)
{
    ac_core *core = open_local();
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "localctl", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_EQUAL_FATAL(ctl_counters(), 0);
    long stopped0 = atomic_load(ctl_stopped);
    expect_timeout(llm, "wait 60000", -1, 200, -1, -1, "first_byte_timeout_ms", "");
    expect_timeout(llm, "stall 60000", -1, -1, 200, -1, "idle_timeout_ms", "first ");
    expect_timeout(llm, "trickle 100000 5", -1, -1, -1, 300, "total timeout", NULL);
    stop_wait sw = {stopped0 + 3};
    CU_ASSERT(tu_wait_until(stopped_reached, &sw, 10000));

    /* Connect: the wait for a free worker.  Both workers are busy. */
    watch w[2];
    memset(w, 0, sizeof w);
    ac_request *busy[2];
    for (int i = 0; i < 2; i++) {
        busy[i] = ac_agenerate(llm, "trickle 100000 2", NULL, &WATCH, &w[i], &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(busy[i]);
        CU_ASSERT(tu_wait_until(has_text, &w[i], 10000));
    }
    expect_timeout(llm, "wait 1", 200, -1, -1, -1, "no worker was free", "");
    for (int i = 0; i < 2; i++) {
        ac_request_cancel(busy[i]);
        CU_ASSERT_EQUAL(ac_request_wait(busy[i], 10000), AC_OK);
        ac_request_free(busy[i]);
    }
    ac_llm_free(llm);
    ac_core_close(core);
}

/* Callbacks of in-process runs run in the engine context, as those of
 * HTTP requests: a blocking call there is refused. */
static ac_status busy_seen = AC_OK;
static void busy_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)c, (void)user;
    busy_seen = ac_request_wait(q, 1000);
}

static void test_local_callbacks_in_engine_context(void)
{
    ac_core *core = open_local();
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "localecho", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_callbacks cb = {.on_event = busy_event};
    busy_seen = AC_OK;
    ac_request *q = ac_agenerate(llm, "one", NULL, &cb, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_OK);
    CU_ASSERT_EQUAL(busy_seen, AC_EBUSY);
    ac_request_free(q);
    ac_llm_free(llm);
    ac_core_close(core);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("local", NULL, NULL);
    CU_add_test(s, "run_local: sync, stream, errors", test_local_sync_and_stream);
    CU_add_test(s, "run_local: cancel", test_local_cancel);
    CU_add_test(s, "run_local: close with runs going and queued", test_local_close_with_runs);
    CU_add_test(s, "run_local: flow control", test_local_flow_control);
    CU_add_test(s, "run_local: four timeouts", test_local_timeouts);
    CU_add_test(s, "run_local: callbacks in the engine context",
                test_local_callbacks_in_engine_context);
    return tu_run_suites();
}
