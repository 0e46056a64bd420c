/*
 * test_review.c -- regression tests for the bugs a review of core/ found:
 * each test failed (or, for the data races, failed under TSan / ASan)
 * before its fix.  They run against the in-process mock server on
 * loopback and assert what a caller would observe.
 *
 *   - a provider whose `plugin` names a file must not break the providers
 *     before it (their plugin pointers were left dangling by a realloc),
 *     and two providers may name the same plugin file;
 *   - a Retry-After too large for a long is reported, not turned negative;
 *   - the tool calls of one response share max_response_bytes with its
 *     text (a server could otherwise grow 1,024 calls to the cap each);
 *   - a turn on a session of a closed core fails with AC_ECANCELED;
 *   - ac_core_open leaves the caller's ac_error untouched on success, and
 *     a failure fills every field (no stale `provider` from the stack);
 *   - error messages show a URL without its user:password or query, and
 *     the AC_CURL_VERBOSE trace shows no key;
 *   - cancelling a queued session turn while the engine builds it is not
 *     a data race, and a cancel whose poke found no memory still ends the
 *     request;
 *   - ac_agenerate racing with ac_core_close never runs the callbacks on
 *     the caller's thread before it returns.
 */
#include "alloc.h"
#include "mockutil.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"default\"; reply = \"Hello from the mock.\"; chunks = 2; },\n"
    "  { model = \"hang\"; reply = \"first\"; hang = true; },\n"
    "  { model = \"huge429\"; status = 429; retry_after = \"1e30\"; },\n"
    "  { model = \"hugems\"; status = 503; headers = [ \"retry-after-ms: inf\" ]; }\n"
    ");\n";

/* ---- plugins named by file ---- */

static void test_plugin_by_path_keeps_earlier_providers(void)
{
    char err_text[256];
    mock_server *m = mock_server_start(SCRIPT, 0, err_text, sizeof err_text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char cfg[4096];
    /* "a" takes the openai plugin by name; "b" and "c" load a plugin by
     * file (which grew the plugin table under "a"); "d" names by file the
     * very plugin "a" found in the plugin path. */
    snprintf(cfg, sizeof cfg,
             "providers = (\n"
             " { name = \"a\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\"; },\n"
             " { name = \"b\"; plugin = \"%s/tests/plugins/.libs/localecho.so\"; },\n"
             " { name = \"c\"; plugin = \"%s/tests/plugins/.libs/localecho.so\"; },\n"
             " { name = \"d\"; plugin = \"%s/plugins/openai/.libs/openai.so\";\n"
             "   base_url = \"%s/v1\"; api_key = \"k\"; }\n"
             ");\n",
             mock_server_url(m), TEST_BUILDDIR, TEST_BUILDDIR, TEST_BUILDDIR,
             mock_server_url(m));
    ac_core *core = tu_open_core(cfg);
    const char *names[] = {"a", "b", "c", "d"};
    const char *want[] = {"Hello from the mock.", "two words", "two words",
                          "Hello from the mock."};
    for (int i = 0; i < 4; i++) {
        ac_error err;
        ac_llm *llm = ac_llm_create(core, names[i], i == 0 || i == 3 ? "default" : NULL, NULL,
                                    &err);
        CU_ASSERT_PTR_NOT_NULL(llm);
        if (!llm) {
            fprintf(stderr, "provider %s: %s\n", names[i], err.message);
            continue;
        }
        ac_response *r = ac_generate(llm, "two words", NULL, &err);
        CU_ASSERT_PTR_NOT_NULL(r);
        if (r)
            CU_ASSERT_STRING_EQUAL(ac_response_content(r), want[i]);
        ac_response_free(r);
        ac_llm_free(llm);
    }
    ac_core_close(core);
    mock_server_stop(m);
}

/* ---- Retry-After ---- */

static void expect_retry_after(mu_env *e, const char *model, int http_status)
{
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_max_retries(p, 0);
    ac_llm *llm = mu_llm(e, model);
    ac_error err;
    ac_response *r = ac_generate(llm, "x", p, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, http_status);
    /* The server asked for a very long wait: it must read as one, not as
     * "not given" (-1) nor as a negative number. */
    CU_ASSERT(err.retry_after_ms > 0);
    ac_response_free(r);
    ac_llm_free(llm);
    ac_gen_params_free(p);
}

static void test_huge_retry_after(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, NULL, NULL);
    expect_retry_after(&e, "huge429", 429);
    expect_retry_after(&e, "hugems", 503);
    mu_stop(&e);
}

/* ---- memory: tool calls count against max_response_bytes ---- */

static void test_tool_calls_share_the_response_cap(void)
{
    /* Three calls of ~800 bytes each: every one fits the 1,024-byte cap on
     * its own, together they do not. */
    char args[900];
    size_t n = (size_t)snprintf(args, sizeof args, "{\\\"a\\\":\\\"");
    while (n < 800)
        args[n++] = 'x';
    snprintf(args + n, sizeof args - n, "\\\"}");
    char script[8192];
    snprintf(script, sizeof script,
             "scenarios = ( { model = \"calls\"; reply = \"\"; chunks = 8; tool_calls = (\n"
             "  { id = \"c1\"; name = \"f\"; arguments = \"%s\"; },\n"
             "  { id = \"c2\"; name = \"f\"; arguments = \"%s\"; },\n"
             "  { id = \"c3\"; name = \"f\"; arguments = \"%s\"; } ); } );\n",
             args, args, args);
    mu_env e;
    mu_start(&e, script, "calls", "max_response_bytes = 1024;");
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", p, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ETOOBIG);
    ac_response_free(r);
    ac_gen_params_free(p);
    mu_stop(&e);
}

/* ---- closed cores ---- */

static void test_session_turn_after_close(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_session *s = ac_session_new(e.llm, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ac_core_close(e.core);
    ac_error err;
    ac_response *r = ac_session_generate(s, "hi", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ECANCELED); /* the header's promise */
    CU_ASSERT_EQUAL(ac_session_message_count(s), 0);
    ac_response_free(r);
    ac_session_free(s);
    e.core = NULL; /* closed above; its last reference goes with the llm */
    mu_stop(&e);
}

static void test_core_open_success_leaves_err(void)
{
    char *path = tu_write_temp("abstractcore = { };\n");
    ac_error err;
    ac_error_clear(&err);
    err.code = AC_EIO;
    snprintf(err.message, sizeof err.message, "sentinel");
    ac_core *core = NULL;
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_OK);
    CU_ASSERT_EQUAL(err.code, AC_EIO);
    CU_ASSERT_STRING_EQUAL(err.message, "sentinel");
    ac_core_close(core);
    unlink(path);
    free(path);
}

/* Reports are filled completely: a caller's uninitialised ac_error must
 * not keep stack bytes in `provider` (ac__error_set used to keep that field
 * from before), while reports about a provider still name it. */
static void test_error_filled_completely(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", "max_retries = 0;");
    ac_error err;
    memset(&err, 'X', sizeof err);
    CU_ASSERT_PTR_NULL(ac_generate(e.llm, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.provider, "");
    CU_ASSERT_EQUAL(err.http_status, 0);
    CU_ASSERT_EQUAL(err.retry_after_ms, -1);
    memset(&err, 'X', sizeof err);
    CU_ASSERT_PTR_NULL(ac_llm_create(e.core, "no-such-provider", NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ENOPROVIDER);
    CU_ASSERT_STRING_EQUAL(err.provider, "no-such-provider");
    memset(&err, 'X', sizeof err);
    ac_llm *l = mu_llm(&e, "huge429");
    CU_ASSERT_PTR_NULL(ac_generate(l, "x", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_STRING_EQUAL(err.provider, "mock");
    ac_llm_free(l);
    mu_stop(&e);

    /* A provider whose plugin is missing: its report names it. */
    ac_core *core = tu_open_core("providers = ( { name = \"ghost\"; plugin = \"nonexistent\"; } );");
    memset(&err, 'X', sizeof err);
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "ghost", NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_STRING_EQUAL(err.provider, "ghost");
    ac_core_close(core);
}

/* ---- secrets ---- */

static void test_url_credentials_not_in_messages(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, NULL, NULL);
    /* Port 9 (discard) refuses on loopback: a connect error that names
     * the server. */
    ac_llm *llm = mu_llm_at(&e, "http://user:s3cr3t@127.0.0.1:9/v1?key=k3y",
                            NULL);
    ac_error err;
    ac_response *r = ac_generate(llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ECONNECT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "127.0.0.1"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "s3cr3t"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "k3y"));
    ac_response_free(r);
    ac_llm_free(llm);
    mu_stop(&e);
}

/* The debug trace of every request goes to the log handler: not its key. */
typedef struct logbuf {
    char   text[65536];
    size_t len;
    int    levels[4];
} logbuf;

static void collect(ac_log_level level, const char *provider, const char *message, void *user)
{
    logbuf *b = user;
    b->levels[level]++;
    int n = snprintf(b->text + b->len, sizeof b->text - b->len, "%d|%s|%s\n", (int)level,
                     provider, message);
    if (n > 0 && (size_t)n < sizeof b->text - b->len)
        b->len += (size_t)n;
}

static void test_verbose_trace_hides_key(void)
{
    static logbuf b;
    memset(&b, 0, sizeof b);
    ac_log_set_handler(collect, &b);
    ac_log_set_level(AC_LOG_DEBUG);
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "Hi", NULL, &err);
    mu_stop(&e);
    ac_log_set_level(AC_LOG_WARN);
    ac_log_set_handler(NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    /* Debug lines, tagged with the provider, and nothing on stderr. */
    CU_ASSERT_PTR_NOT_NULL(strstr(b.text, "3|mock|> POST /v1/chat/completions"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.text, "3|mock|> Authorization: [redacted]"));
    CU_ASSERT_PTR_NULL(strstr(b.text, MU_API_KEY));
    CU_ASSERT(b.levels[AC_LOG_DEBUG] > 5);
    /* Back to the default level: no more debug lines. */
    size_t before = b.len;
    ac_log_set_handler(collect, &b);
    mu_start(&e, SCRIPT, "default", NULL);
    r = ac_generate(e.llm, "Hi", NULL, &err);
    ac_response_free(r);
    mu_stop(&e);
    ac_log_set_handler(NULL, NULL);
    CU_ASSERT_EQUAL(b.len, before);
}

/* ---- races ---- */

/* Cancel a queued turn from another thread while the engine thread builds
 * it (the turn before it just ended): the cancel must not read what the
 * build writes.  TSan reported the race on the request's `local` flag. */
typedef struct canceller {
    ac_request *q;
    atomic_int  go;
} canceller;

static void *cancel_spin(void *arg)
{
    canceller *c = arg;
    while (!atomic_load(&c->go))
        ;
    for (int i = 0; i < 200000 && !ac_request_done(c->q); i++)
        ac_request_cancel(c->q);
    return NULL;
}

static void test_cancel_queued_turn(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "hang", NULL);
    ac_session *s = ac_session_new(e.llm, NULL);
    ac_request *q1 = ac_session_agenerate(s, "one", NULL, NULL, NULL, NULL);
    ac_request *q2 = ac_session_agenerate(s, "two", NULL, NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q2);
    canceller c = {.q = q2};
    pthread_t t;
    pthread_create(&t, NULL, cancel_spin, &c);
    CU_ASSERT(mu_wait_requests(e.mock, 1, 10000)); /* turn one is running */
    atomic_store(&c.go, 1);
    ac_request_cancel(q1);
    CU_ASSERT_EQUAL(ac_request_wait(q1, 5000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_wait(q2, 5000), AC_OK);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(ac_request_status(q1, NULL), AC_ECANCELED);
    CU_ASSERT_EQUAL(ac_request_status(q2, NULL), AC_ECANCELED);
    ac_request_free(q1);
    ac_request_free(q2);
    ac_session_free(s);
    mu_stop(&e);
}

typedef struct race {
    ac_llm          *llm;
    const char      *prompt;
    atomic_int       started;
    ac_request      *q;
    atomic_int       done_calls;
    atomic_int       done_inside_call; /* on_done ran before ac_agenerate returned */
    ac_error         err;              /* why ac_agenerate returned NULL */
} race;

static _Thread_local int inside_agenerate;

static void race_done(ac_request *q, ac_status st, void *user)
{
    (void)q, (void)st;
    race *r = user;
    if (inside_agenerate)
        atomic_fetch_add(&r->done_inside_call, 1);
    atomic_fetch_add(&r->done_calls, 1);
}

static void *race_thread(void *arg)
{
    race *r = arg;
    ac_callbacks cb = {.on_done = race_done};
    atomic_store(&r->started, 1);
    inside_agenerate = 1;
    r->q = ac_agenerate(r->llm, r->prompt, NULL, &cb, r, &r->err);
    inside_agenerate = 0;
    return NULL;
}

/* ac_agenerate builds its request (a large prompt takes a while) while
 * another thread closes the core.  Whatever wins, the callbacks run on the
 * engine thread, after ac_agenerate returned, and exactly once -- or, if
 * it returned NULL, never. */
static void test_agenerate_racing_close(void)
{
    size_t n = 4u << 20;
    char *big = malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'a', n);
    big[n] = '\0';
    int inside = 0, refused = 0, taken = 0;
    for (int i = 0; i < 12; i++) {
        mu_env e;
        mu_start(&e, SCRIPT, "default", NULL);
        race r;
        memset(&r, 0, sizeof r);
        r.llm = e.llm;
        r.prompt = big;
        if (i == 0) {
            /* Closed before: refused, no callback. */
            ac_core_close(e.core);
            race_thread(&r);
        } else if (i == 1) {
            /* Closed after it returned: taken, cancelled or done. */
            race_thread(&r);
            ac_core_close(e.core);
        } else {
            pthread_t t;
            pthread_create(&t, NULL, race_thread, &r);
            while (!atomic_load(&r.started))
                ;
            for (volatile int k = 0; k < (i % 4) * 20000; k++)
                ;
            ac_core_close(e.core);
            pthread_join(t, NULL);
        }
        if (r.q) {
            taken++;
            CU_ASSERT_EQUAL(ac_request_wait(r.q, 5000), AC_OK);
            CU_ASSERT_EQUAL(atomic_load(&r.done_calls), 1);
            ac_status st = ac_request_status(r.q, NULL);
            CU_ASSERT(st == AC_OK || st == AC_ECANCELED);
        } else {
            refused++;
            CU_ASSERT_EQUAL(atomic_load(&r.done_calls), 0);
            CU_ASSERT_EQUAL(r.err.code, AC_ECANCELED);
        }
        inside += atomic_load(&r.done_inside_call);
        ac_request_free(r.q);
        e.core = NULL;
        mu_stop(&e);
    }
    CU_ASSERT_EQUAL(inside, 0);
    CU_ASSERT(refused >= 1); /* both outcomes were exercised */
    CU_ASSERT(taken >= 1);
    free(big);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("review", NULL, NULL);
    CU_add_test(s, "plugin by path keeps earlier providers", test_plugin_by_path_keeps_earlier_providers);
    CU_add_test(s, "huge Retry-After", test_huge_retry_after);
    CU_add_test(s, "tool calls share the response cap", test_tool_calls_share_the_response_cap);
    CU_add_test(s, "session turn after close", test_session_turn_after_close);
    CU_add_test(s, "core open success leaves err", test_core_open_success_leaves_err);
    CU_add_test(s, "errors filled completely", test_error_filled_completely);
    CU_add_test(s, "URL credentials not in messages", test_url_credentials_not_in_messages);
    CU_add_test(s, "verbose trace hides the key", test_verbose_trace_hides_key);
    CU_add_test(s, "cancel a queued turn", test_cancel_queued_turn);
    CU_add_test(s, "agenerate racing close", test_agenerate_racing_close);
    return tu_run_suites();
}
