/*
 * test_hostloop.c -- host mode: no engine thread; the test's own poll()
 * loop drives the engine through ac_core_backend_fd, ac_core_backend_timeout
 * and ac_core_run_once.  Asserted: many concurrent streams with cancels
 * and timeouts all end, every callback runs on the loop's thread (inside
 * ac_core_run_once, or inside ac_core_close for requests it ends),
 * blocking calls refuse with AC_EBUSY while polls work, requests may be
 * started from other threads, in-process runs work too, and the mode is
 * chosen by the config file or by an option.
 */
#include "mockutil.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"default\"; reply = \"Hello from the mock.\"; chunks = 4; usage = [5, 4]; },\n"
    "  { model = \"slow\"; reply = \"one two three four five six\"; chunks = 6; delay_ms = 50; },\n"
    "  { model = \"late\"; first_byte_delay_ms = 5000; reply = \"late\"; }\n"
    ");\n";

static pthread_t loop_thread;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* tu_plugin_path_list() without its brackets. */
static const char *plugin_dirs(void)
{
    static char dirs[2048];
    const char *l = tu_plugin_path_list();
    size_t n = strlen(l);
    snprintf(dirs, sizeof dirs, "%.*s", n > 4 ? (int)(n - 4) : 0, l + 2);
    return dirs;
}

/* A core in host mode: providers "mock" (at the mock) and the test
 * plugins' folder for in-process runs. */
static ac_core *open_host(mock_server *m, ac_error *err)
{
    char text[4096];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = [ %s, \"%s/tests/plugins/.libs\" ]; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";\n"
             "                api_key = \"%s\"; max_retries = 0; } );\n",
             plugin_dirs(), TEST_BUILDDIR, m ? mock_server_url(m) : "http://127.0.0.1:9", MU_API_KEY);
    char *path = tu_write_temp(text);
    ac_options *o = ac_options_new();
    ac_options_set(o, "engine.mode", "host");
    ac_core *core = NULL;
    if (ac_core_open_ex(&core, path, o, err) != AC_OK)
        core = NULL;
    ac_options_free(o);
    unlink(path);
    free(path);
    return core;
}

/* The application's loop: poll the backend fd with the backend timeout,
 * run a round, until cond holds or timeout_ms passes. */
static int drive(ac_core *core, int (*cond)(void *), void *ctx, int timeout_ms)
{
    int fd = ac_core_backend_fd(core);
    double end = mono_ms() + timeout_ms;
    while (!cond(ctx)) {
        if (mono_ms() > end)
            return 0;
        int t = ac_core_backend_timeout(core);
        int left = (int)(end - mono_ms()) + 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, t < 0 || t > left ? left : t);
        if (ac_core_run_once(core) != AC_OK)
            return 0;
    }
    return 1;
}

/* ---- many streams, cancels, timeouts ---- */

enum { N = 100 };

typedef struct slot {
    ac_request *q;
    char        text[256];
    size_t      len;
    int         cancel_on_first;
    int         events, off_thread;
    int         done;
    ac_status   status;
} slot;

static atomic_int finished;

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    slot *s = user;
    s->events++;
    s->off_thread += !pthread_equal(pthread_self(), loop_thread);
    if (c->type == AC_EVENT_TEXT && s->len + c->len < sizeof s->text) {
        memcpy(s->text + s->len, c->text, c->len);
        s->len += c->len;
        if (s->cancel_on_first)
            ac_request_cancel(q);
    }
}

static void on_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    slot *s = user;
    s->off_thread += !pthread_equal(pthread_self(), loop_thread);
    s->status = st;
    s->done++;
    atomic_fetch_add(&finished, 1);
}

static const ac_callbacks CB = {.on_event = on_event, .on_done = on_done};

static int all_finished(void *want) { return atomic_load(&finished) >= *(int *)want; }

static void test_many_streams_cancels_timeouts(void)
{
    mock_server *m = mock_server_start(SCRIPT, 0, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    ac_error err;
    ac_core *core = open_host(m, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT(ac_core_host_mode(core));
    CU_ASSERT(ac_core_backend_fd(core) >= 0);
    CU_ASSERT_EQUAL(ac_core_backend_timeout(core), -1); /* nothing to do */
    ac_llm *fast = ac_llm_create(core, "mock", "default", NULL, &err);
    ac_llm *slow = ac_llm_create(core, "mock", "slow", NULL, &err);
    ac_llm *late = ac_llm_create(core, "mock", "late", NULL, &err);
    CU_ASSERT_FATAL(fast && slow && late);
    ac_gen_params *stream = ac_gen_params_new();
    ac_gen_params_set_stream(stream, 1);
    ac_gen_params *hurry = ac_gen_params_new();
    ac_gen_params_set_timeouts(hurry, -1, 200, -1, -1);
    static slot s[N];
    memset(s, 0, sizeof s);
    atomic_store(&finished, 0);
    for (int i = 0; i < N; i++) {
        ac_llm *l = i % 10 == 3 ? slow : i % 10 == 7 ? late : fast;
        s[i].cancel_on_first = i % 10 == 3;
        s[i].q = ac_agenerate(l, "hi", i % 10 == 7 ? hurry : stream, &CB, &s[i], &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s[i].q);
    }
    /* Nothing runs until the loop does. */
    CU_ASSERT_EQUAL(atomic_load(&finished), 0);
    int want = N;
    CU_ASSERT(drive(core, all_finished, &want, 30000));
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(s[i].done, 1);
        CU_ASSERT_EQUAL(s[i].off_thread, 0);
        CU_ASSERT(ac_request_done(s[i].q));
        if (i % 10 == 3) {
            CU_ASSERT_EQUAL(s[i].status, AC_ECANCELED);
            CU_ASSERT(s[i].len > 0 && s[i].len < strlen("one two three four five six"));
        } else if (i % 10 == 7) {
            ac_error e;
            CU_ASSERT_EQUAL(ac_request_status(s[i].q, &e), AC_ETIMEDOUT);
            CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "first_byte"));
        } else {
            CU_ASSERT_EQUAL(s[i].status, AC_OK);
            s[i].text[s[i].len] = '\0';
            CU_ASSERT_STRING_EQUAL(s[i].text, "Hello from the mock.");
        }
        ac_request_free(s[i].q);
    }
    /* Idle again: no timer left armed. */
    CU_ASSERT_EQUAL(ac_core_backend_timeout(core), -1);
    ac_gen_params_free(stream);
    ac_gen_params_free(hurry);
    ac_llm_free(fast);
    ac_llm_free(slow);
    ac_llm_free(late);
    ac_core_close(core);
    mock_server_stop(m);
}

/* ---- blocking calls refuse, polls work ---- */

static int is_done(void *q) { return ac_request_done(q); }

/* The log's warnings (the why of a bare AC_EBUSY). */
static char warned[512];
static void keep_warning(ac_log_level level, const char *provider, const char *message,
                         void *user)
{
    (void)provider, (void)user;
    if (level == AC_LOG_WARN)
        snprintf(warned, sizeof warned, "%s", message);
}

static void test_blocking_calls_refuse(void)
{
    mock_server *m = mock_server_start(SCRIPT, 0, NULL, 0);
    ac_error err;
    ac_core *core = open_host(m, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_llm *llm = ac_llm_create(core, "mock", "default", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);

    CU_ASSERT_PTR_NULL(ac_generate(llm, "x", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "host mode"));
    CU_ASSERT_PTR_NULL(ac_list_models(llm, &err));
    CU_ASSERT_EQUAL(err.code, AC_EBUSY);
    ac_session *sess = ac_session_new(llm, NULL);
    CU_ASSERT_PTR_NULL(ac_session_generate(sess, "x", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EBUSY);
    ac_session_free(sess);
    CU_ASSERT_EQUAL(mock_server_request_count(m), 0);

    ac_request *q = ac_agenerate(llm, "x", NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    warned[0] = '\0';
    ac_log_set_handler(keep_warning, NULL);
    CU_ASSERT_EQUAL(ac_request_wait(q, 100), AC_EBUSY);
    ac_log_set_handler(NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(warned, "ac_request_wait would block, but this core runs in "
                                          "host mode"));
    CU_ASSERT_EQUAL(ac_request_wait(q, 0), AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(ac_gather(&q, 1, 100), AC_EBUSY);
    CU_ASSERT_EQUAL(ac_gather(&q, 1, 0), AC_ETIMEDOUT);
    ac_stream *s = ac_stream_open(llm, "y", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const ac_chunk *c;
    CU_ASSERT_EQUAL(ac_stream_next(s, &c, 100), AC_EBUSY);
    CU_ASSERT_EQUAL(ac_stream_next(s, &c, 0), AC_EAGAIN);

    CU_ASSERT(drive(core, is_done, q, 10000));
    CU_ASSERT_EQUAL(ac_request_wait(q, 100), AC_OK); /* done: nothing to wait for */
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_OK);
    CU_ASSERT(drive(core, is_done, ac_stream_request(s), 10000));
    size_t text = 0;
    ac_status st;
    while ((st = ac_stream_next(s, &c, 0)) == AC_OK)
        text += c->len;
    CU_ASSERT_EQUAL(st, AC_EOF);
    CU_ASSERT_EQUAL(text, strlen("Hello from the mock."));
    ac_stream_close(s);
    ac_request_free(q);
    ac_llm_free(llm);
    ac_core_close(core);
    mock_server_stop(m);
}

/* ---- run_once rules, close ---- */

static int close_done_on_loop;
static void close_done(ac_request *q, ac_status st, void *user)
{
    (void)q, (void)user;
    close_done_on_loop += st == AC_ECANCELED && pthread_equal(pthread_self(), loop_thread);
}

static void test_run_once_rules_and_close(void)
{
    ac_error err;
    ac_core *threaded = tu_open_core(NULL);
    CU_ASSERT_EQUAL(ac_core_run_once(threaded), AC_EINVAL);
    CU_ASSERT_FALSE(ac_core_host_mode(threaded));
    ac_core_close(threaded);
    CU_ASSERT_EQUAL(ac_core_run_once(NULL), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_core_backend_fd(NULL), -1);

    mock_server *m = mock_server_start(SCRIPT, 0, NULL, 0);
    ac_core *core = open_host(m, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_llm *llm = ac_llm_create(core, "mock", "late", NULL, &err);
    ac_callbacks cb = {.on_done = close_done};
    ac_request *q[3];
    for (int i = 0; i < 3; i++)
        q[i] = ac_agenerate(llm, "x", NULL, &cb, NULL, &err);
    /* Let the requests reach the server, then close: on_done runs here. */
    ac_core_run_once(core);
    close_done_on_loop = 0;
    ac_core_close(core);
    CU_ASSERT_EQUAL(close_done_on_loop, 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(ac_request_done(q[i]));
        ac_request_free(q[i]);
    }
    CU_ASSERT_EQUAL(ac_core_run_once(core), AC_ECANCELED);
    CU_ASSERT_EQUAL(ac_core_backend_fd(core), -1);
    CU_ASSERT_PTR_NULL(ac_agenerate(llm, "x", NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECANCELED);
    ac_llm_free(llm);
    mock_server_stop(m);
}

/* ---- other threads start requests; the loop runs them ---- */

typedef struct starter {
    ac_llm     *llm;
    ac_request *q[10];
    slot        s[10];
} starter;

static void *start_from_thread(void *arg)
{
    starter *st = arg;
    for (int i = 0; i < 10; i++)
        st->q[i] = ac_agenerate(st->llm, "hi", NULL, &CB, &st->s[i], NULL);
    return NULL;
}

static void test_requests_from_other_threads(void)
{
    mock_server *m = mock_server_start(SCRIPT, 0, NULL, 0);
    ac_error err;
    ac_core *core = open_host(m, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    static starter st;
    memset(&st, 0, sizeof st);
    st.llm = ac_llm_create(core, "mock", "default", NULL, &err);
    atomic_store(&finished, 0);
    pthread_t t;
    pthread_create(&t, NULL, start_from_thread, &st);
    int want = 10;
    CU_ASSERT(drive(core, all_finished, &want, 20000));
    pthread_join(t, NULL);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(st.s[i].status, AC_OK);
        CU_ASSERT_EQUAL(st.s[i].off_thread, 0);
        ac_request_free(st.q[i]);
    }
    ac_llm_free(st.llm);
    ac_core_close(core);
    mock_server_stop(m);
}

/* ---- in-process runs ---- */

static void test_local_runs_in_host_mode(void)
{
    ac_error err;
    ac_core *core = open_host(NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_llm *llm = ac_llm_create(core, "localecho", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    slot s;
    memset(&s, 0, sizeof s);
    atomic_store(&finished, 0);
    ac_request *q = ac_agenerate(llm, "one two three", NULL, &CB, &s, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    int want = 1;
    CU_ASSERT(drive(core, all_finished, &want, 10000));
    CU_ASSERT_EQUAL(s.status, AC_OK);
    CU_ASSERT_EQUAL(s.off_thread, 0);
    s.text[s.len] = '\0';
    CU_ASSERT_STRING_EQUAL(s.text, "one two three");
    ac_request_free(q);
    ac_llm_free(llm);
    ac_core_close(core);
}

/* ---- the mode from the file; a bad one is named ---- */

static void test_mode_from_config(void)
{
    char *path = tu_write_temp("abstractcore = { engine = { mode = \"host\"; }; };\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_OK);
    CU_ASSERT(ac_core_host_mode(core));
    ac_core_close(core);
    unlink(path);
    free(path);
    path = tu_write_temp("abstractcore = {\n  engine = { mode = \"fibers\"; };\n};\n");
    core = NULL;
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NULL(core);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "fibers"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":2"));
    unlink(path);
    free(path);
    ac_options *o = ac_options_new();
    ac_options_set(o, "engine.moed", "host");
    CU_ASSERT_EQUAL(ac_core_open_ex(&core, NULL, o, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "engine.moed"));
    ac_options_free(o);
}

int main(void)
{
    loop_thread = pthread_self();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"100 streams with cancels and timeouts", test_many_streams_cancels_timeouts},
        {"blocking calls refuse, polls work", test_blocking_calls_refuse},
        {"run_once rules; close ends requests here", test_run_once_rules_and_close},
        {"requests started from other threads", test_requests_from_other_threads},
        {"in-process runs", test_local_runs_in_host_mode},
        {"mode from the config file", test_mode_from_config},
    };
    TU_ADD_SUITE("hostloop", NULL, NULL, tests);
    return tu_run_suites();
}
