/*
 * test_engine.c -- requests end to end against the mock server on
 * loopback: sync, async with callbacks, gather, both streaming styles,
 * cancel, every timeout, retries, HTTP errors, errors inside a stream,
 * malformed and oversized responses, closing a core with requests in
 * flight.  Everything asserted is what a caller would observe.
 */
#include "mockutil.h"
#include "request.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"default\"; reply = \"Hello from the mock.\"; chunks = 4; usage = [5, 4]; },\n"
    "  { model = \"echo\"; echo = true; chunks = 3; },\n"
    "  { model = \"slow\"; reply = \"one two three four five six seven eight nine ten\"; chunks = 10; delay_ms = 100; },\n"
    "  { model = \"hang\"; reply = \"first\"; chunks = 1; hang = true; },\n"
    "  { model = \"late\"; first_byte_delay_ms = 3000; reply = \"late\"; },\n"
    "  { model = \"tools\"; reply = \"\"; tool_calls = ( { id = \"call_1\"; name = \"get_weather\"; arguments = \"{\\\"city\\\":\\\"Paris\\\"}\"; },\n"
    "                                  { id = \"call_2\"; name = \"get_time\"; arguments = \"{}\"; } ); },\n"
    "  { model = \"e401\"; status = 401; },\n"
    "  { model = \"e429\"; status = 429; retry_after = \"0\"; fail_times = 2; reply = \"after retry\"; },\n"
    "  { model = \"e500\"; status = 500; },\n"
    "  { model = \"drop\"; reply = \"aaaa bbbb cccc dddd\"; chunks = 4; drop_after_chunks = 2; },\n"
    "  { model = \"instream\"; reply = \"partial text\"; chunks = 2; stream_error = \"model overloaded\"; },\n"
    "  { model = \"garbage\"; raw = \"data: {not json\\n\\n\"; content_type = \"text/event-stream\"; },\n"
    "  { model = \"badutf8\"; raw = \"data: {\\\"choices\\\":[{\\\"index\\\":0,\\\"delta\\\":{\\\"content\\\":\\\"ok \\xff\\xfe\\\"}}]}\\n\\n\"; content_type = \"text/event-stream\"; },\n"
    "  { model = \"big\"; reply_len = 200000; chunks = 50; },\n"
    "  { model = \"huge\"; reply_len = 4000000; chunks = 2000; },\n"
    "  { model = \"keepalive\"; reply = \"kept alive\"; chunks = 3; delay_ms = 150; keepalive_comments = true; }\n"
    ");\n";

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- an event recorder ---- */

typedef struct rec {
    pthread_mutex_t mu;
    char            text[300000];
    size_t          len;
    int             types[4096];
    int             n;
    atomic_int      done_calls;
    ac_status       done_status;
    atomic_int      first_text;
    ac_status       busy_status;
    int             cancel_in_callback;
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->done_status = AC_EPENDING;
}

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    rec *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->n < 4096)
        r->types[r->n++] = c->type;
    if (c->len && r->len + c->len < sizeof r->text) {
        memcpy(r->text + r->len, c->text, c->len);
        r->len += c->len;
        r->text[r->len] = '\0';
    }
    pthread_mutex_unlock(&r->mu);
    if (c->type == AC_EVENT_TEXT) {
        atomic_store(&r->first_text, 1);
        if (r->cancel_in_callback)
            ac_request_cancel(q);
    }
}

static void on_done(ac_request *q, ac_status st, void *user)
{
    rec *r = user;
    /* A blocking call here must refuse, not deadlock. */
    r->busy_status = ac_request_wait(q, 10);
    r->done_status = st;
    atomic_fetch_add(&r->done_calls, 1);
}

static const ac_callbacks CB = {.on_event = on_event, .on_done = on_done};

/* ---- tests ---- */

static void test_sync_generate(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "Hi", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "Hello from the mock.");
    CU_ASSERT_EQUAL(ac_response_content_len(r), strlen("Hello from the mock."));
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
    CU_ASSERT_EQUAL(ac_response_input_tokens(r), 5);
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 4);
    CU_ASSERT_STRING_EQUAL(ac_response_provider(r), "mock");
    CU_ASSERT_STRING_EQUAL(ac_response_model(r), "default");
    CU_ASSERT_PTR_NOT_NULL(ac_response_raw_json(r));
    CU_ASSERT(ac_response_latency_ms(r) > 0);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    char *auth = mock_server_last_header(e.mock, "Authorization");
    CU_ASSERT_PTR_NOT_NULL(auth);
    CU_ASSERT_STRING_EQUAL(auth, "Bearer " MU_API_KEY);
    free(auth);
    char *body = mock_server_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"Hi\""));
    free(body);
    ac_response_free(r);
    mu_stop(&e);
}

static void test_async_events_in_order(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    rec r;
    rec_init(&r);
    ac_request *q = ac_agenerate(e.llm, "Hi", NULL, &CB, &r, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(atomic_load(&r.done_calls), 1);
    CU_ASSERT_EQUAL(r.done_status, AC_OK);
    CU_ASSERT_EQUAL(r.busy_status, AC_EBUSY);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_OK);
    CU_ASSERT_STRING_EQUAL(r.text, "Hello from the mock.");
    CU_ASSERT(r.n >= 4);
    /* Text deltas (several: it streamed), then usage, then finish, last. */
    int texts = 0;
    for (int i = 0; i < r.n - 2; i++)
        texts += r.types[i] == AC_EVENT_TEXT;
    CU_ASSERT(texts >= 2);
    CU_ASSERT_EQUAL(r.types[r.n - 2], AC_EVENT_USAGE);
    CU_ASSERT_EQUAL(r.types[r.n - 1], AC_EVENT_FINISH);
    const ac_response *resp = ac_request_response(q);
    CU_ASSERT_STRING_EQUAL(ac_response_content(resp), "Hello from the mock.");
    CU_ASSERT_EQUAL(ac_response_output_tokens(resp), 4);
    CU_ASSERT_PTR_EQUAL(ac_request_user(q), &r);
    /* stream_options.include_usage was asked for. */
    char *body = mock_server_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "include_usage"));
    free(body);
    ac_request_free(q);
    mu_stop(&e);
}

static void test_gather_100_concurrent(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    enum { N = 100 };
    ac_request *q[N];
    char prompt[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(prompt[i], sizeof prompt[i], "prompt number %d", i);
        q[i] = ac_agenerate(e.llm, prompt[i], NULL, NULL, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    CU_ASSERT_EQUAL(ac_gather(q, N, 30000), AC_OK);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ac_error err;
        if (ac_request_status(q[i], &err) != AC_OK) {
            fprintf(stderr, "request %d: %s\n", i, err.message);
            continue;
        }
        ok += strcmp(ac_response_content(ac_request_response(q[i])), prompt[i]) == 0;
        ac_request_free(q[i]);
    }
    CU_ASSERT_EQUAL(ok, N);
    mu_stop(&e);
}

static void test_gather_across_providers(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_llm *echo = mu_llm(&e, "echo");
    ac_request *q[2] = {ac_agenerate(e.llm, "a", NULL, NULL, NULL, NULL),
                        ac_agenerate(echo, "second", NULL, NULL, NULL, NULL)};
    CU_ASSERT_EQUAL(ac_gather(q, 2, 10000), AC_OK);
    CU_ASSERT_STRING_EQUAL(ac_response_content(ac_request_response(q[0])), "Hello from the mock.");
    CU_ASSERT_STRING_EQUAL(ac_response_content(ac_request_response(q[1])), "second");
    ac_request_free(q[0]);
    ac_request_free(q[1]);
    ac_llm_free(echo);
    mu_stop(&e);
}

static void test_pull_stream(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_error err;
    ac_stream *s = ac_stream_open(e.llm, "Tell me", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const ac_chunk *c;
    char text[256] = "";
    int last = 0, n = 0;
    ac_status st;
    while ((st = ac_stream_next(s, &c, 5000)) == AC_OK) {
        strncat(text, c->text, c->len);
        last = c->type;
        n++;
    }
    CU_ASSERT_EQUAL(st, AC_EOF);
    CU_ASSERT_EQUAL(last, AC_EVENT_FINISH);
    CU_ASSERT(n >= 4);
    CU_ASSERT_STRING_EQUAL(text, "Hello from the mock.");
    CU_ASSERT_EQUAL(ac_stream_next(s, &c, 0), AC_EOF);
    ac_stream_close(s);
    mu_stop(&e);
}

static int stream_paused(void *s) { return ac__stream_paused(s); }

static void test_pull_stream_slow_reader_gets_everything(void)
{
    /* 4 MB through a reader that reads nothing until the transfer is
     * paused (the queue is full: the server sees backpressure), then
     * everything: nothing lost, nothing out of order. */
    mu_env e;
    mu_start(&e, SCRIPT, "huge", NULL);
    ac_error err;
    ac_stream *s = ac_stream_open(e.llm, "huge", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(tu_wait_until(stream_paused, s, 10000));
    const ac_chunk *c;
    size_t total = 0;
    ac_status st;
    while ((st = ac_stream_next(s, &c, 10000)) == AC_OK)
        total += c->len;
    CU_ASSERT_EQUAL(st, AC_EOF);
    CU_ASSERT_EQUAL(total, 4000000);
    CU_ASSERT_EQUAL(ac__stream_paused(s), 0);
    ac_stream_close(s);
    mu_stop(&e);
}

static void test_cancel_mid_stream(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "slow", NULL);
    rec r;
    rec_init(&r);
    ac_request *q = ac_agenerate(e.llm, "count", NULL, &CB, &r, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    double t0 = mono_ms();
    while (!atomic_load(&r.first_text) && mono_ms() - t0 < 5000)
        usleep(1000);
    CU_ASSERT(atomic_load(&r.first_text));
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    ac_error err;
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_ECANCELED);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_CANCELLED);
    CU_ASSERT_EQUAL(r.done_status, AC_ECANCELED);
    ac_request_cancel(q); /* again: no effect */
    CU_ASSERT_EQUAL(atomic_load(&r.done_calls), 1);
    /* The partial text is kept. */
    const ac_response *resp = ac_request_response(q);
    CU_ASSERT(ac_response_content_len(resp) > 0);
    CU_ASSERT(ac_response_content_len(resp) < strlen("one two three four five six seven eight nine ten"));
    CU_ASSERT_EQUAL(r.types[r.n - 1], AC_EVENT_ERROR);
    /* The server saw the connection close. */
    t0 = mono_ms();
    while (mock_server_disconnects(e.mock) < 1 && mono_ms() - t0 < 3000)
        usleep(10000);
    CU_ASSERT(mock_server_disconnects(e.mock) >= 1);
    ac_request_free(q);
    mu_stop(&e);
}

static void test_cancel_from_callback_and_free_in_flight(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "slow", NULL);
    rec r;
    rec_init(&r);
    r.cancel_in_callback = 1;
    ac_request *q = ac_agenerate(e.llm, "x", NULL, &CB, &r, NULL);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_ECANCELED);
    ac_request_free(q);

    /* Freeing a running request cancels it; on_done still fires once. */
    rec r2;
    rec_init(&r2);
    q = ac_agenerate(e.llm, "x", NULL, &CB, &r2, NULL);
    ac_request_free(q);
    double t0 = mono_ms();
    while (atomic_load(&r2.done_calls) == 0 && mono_ms() - t0 < 5000)
        usleep(1000);
    CU_ASSERT_EQUAL(atomic_load(&r2.done_calls), 1);
    CU_ASSERT_EQUAL(r2.done_status, AC_ECANCELED);
    mu_stop(&e);
}

static void expect_timeout(const char *model, long connect, long first, long idle, long total,
                           double max_ms)
{
    mu_env e;
    mu_start(&e, SCRIPT, model, "max_retries = 0;");
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_timeouts(p, connect, first, idle, total);
    ac_gen_params_set_stream(p, 1);
    double t0 = mono_ms();
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", p, &err);
    double took = mono_ms() - t0;
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_TIMEOUT);
    CU_ASSERT_STRING_EQUAL(err.provider, "mock");
    CU_ASSERT(took < max_ms);
    ac_response_free(r);
    ac_gen_params_free(p);
    mu_stop(&e);
}

static void test_first_byte_timeout(void) { expect_timeout("late", -1, 300, -1, -1, 2500); }
static void test_idle_timeout(void) { expect_timeout("hang", -1, -1, 300, -1, 2500); }
static void test_total_timeout(void) { expect_timeout("slow", -1, -1, -1, 300, 2500); }

static void test_keepalive_comments_keep_idle_timer_happy(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "keepalive", NULL);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_timeouts(p, -1, -1, 1000, -1);
    ac_gen_params_set_stream(p, 1);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "kept alive");
    ac_response_free(r);
    ac_gen_params_free(p);
    mu_stop(&e);
}

static void test_connect_refused(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, NULL, NULL);
    ac_llm *llm = mu_llm_at(&e, "http://127.0.0.1:9/v1", NULL);
    ac_error err;
    ac_response *r = ac_generate(llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ECONNECT);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_CONNECT);
    CU_ASSERT_EQUAL(err.retryable, 1);
    ac_llm_free(llm);
    mu_stop(&e);
}

/* A loopback port whose connects hang: a listener with a full backlog
 * that never accepts (Linux drops the SYNs). */
static int hanging_port(int fds[5])
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t n = sizeof a;
    if (bind(fds[0], (struct sockaddr *)&a, sizeof a) || listen(fds[0], 0) ||
        getsockname(fds[0], (struct sockaddr *)&a, &n))
        return 0;
    for (int i = 1; i < 5; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        connect(fds[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50000);
    return ntohs(a.sin_port);
}

static void test_connect_timeout(void)
{
    int fds[5];
    int port = hanging_port(fds);
    CU_ASSERT_FATAL(port > 0);
    mu_env e;
    mu_start(&e, SCRIPT, NULL, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    ac_llm *llm = mu_llm_at(&e, url, "300");
    ac_error err;
    double t0 = mono_ms();
    ac_response *r = ac_generate(llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_TIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "connect"));
    CU_ASSERT(mono_ms() - t0 < 5000);
    ac_llm_free(llm);
    mu_stop(&e);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
}

static void check_tool_calls(const ac_response *r)
{
    CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 2);
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 0), "call_1");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 0), "get_weather");
    json_object *a = json_tokener_parse(ac_response_tool_call_arguments(r, 0));
    json_object *city;
    CU_ASSERT(a && json_object_object_get_ex(a, "city", &city) &&
              strcmp(json_object_get_string(city), "Paris") == 0);
    json_object_put(a);
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 1), "get_time");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_arguments(r, 1), "{}");
    CU_ASSERT_EQUAL(ac_response_tool_call_truncated(r, 0), 0);
    CU_ASSERT_PTR_NULL(ac_response_tool_call_id(r, 2));
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "tool_calls");
}

static void test_tool_calls_stream_and_not(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "tools", NULL);
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "get_weather", "Weather in a city",
                    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}"), AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "bad", NULL, "[1,2]"), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "get_time", NULL, NULL), AC_OK);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "weather?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    check_tool_calls(r);
    char *body = mock_server_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"tools\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "get_weather"));
    free(body);
    /* JSON form: arguments as an object. */
    char *js = ac_response_to_json(r);
    json_object *o = json_tokener_parse(js);
    json_object *calls, *c0, *args;
    CU_ASSERT(json_object_object_get_ex(o, "tool_calls", &calls));
    c0 = json_object_array_get_idx(calls, 0);
    CU_ASSERT(json_object_object_get_ex(c0, "arguments", &args) &&
              json_object_is_type(args, json_type_object));
    json_object_put(o);
    ac_free(js);
    ac_response_free(r);

    rec rr;
    rec_init(&rr);
    ac_request *q = ac_agenerate(e.llm, "weather?", p, &CB, &rr, NULL);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_OK);
    check_tool_calls(ac_request_response(q));
    int starts = 0, ends = 0;
    for (int i = 0; i < rr.n; i++) {
        starts += rr.types[i] == AC_EVENT_TOOL_CALL_START;
        ends += rr.types[i] == AC_EVENT_TOOL_CALL_END;
    }
    CU_ASSERT_EQUAL(starts, 2);
    CU_ASSERT_EQUAL(ends, 2);
    ac_request_free(q);
    ac_gen_params_free(p);
    mu_stop(&e);
}

static void test_http_401_no_key_in_message(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "e401", NULL);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_HTTP);
    CU_ASSERT_EQUAL(err.http_status, 401);
    CU_ASSERT_EQUAL(err.retryable, 0);
    CU_ASSERT_STRING_EQUAL(err.provider, "mock");
    CU_ASSERT_PTR_NULL(strstr(err.message, MU_API_KEY));
    CU_ASSERT_PTR_NULL(strstr(err.message, "SECRET"));
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 1); /* 401 is not retried */
    mu_stop(&e);
}

static void test_429_retried_then_ok(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "e429", "max_retries = 3;");
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "after retry");
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 3);
    ac_response_free(r);
    mu_stop(&e);

    mu_start(&e, SCRIPT, "e429", "max_retries = 1;");
    r = ac_generate(e.llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 429);
    CU_ASSERT_EQUAL(err.retryable, 1);
    CU_ASSERT_EQUAL(err.retry_after_ms, 0);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 2);
    mu_stop(&e);
}

static void test_500_exhausts_retries(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "e500", "max_retries = 2;");
    ac_error err;
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_max_retries(p, 1); /* the request's own setting wins */
    ac_response *r = ac_generate(e.llm, "x", p, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.http_status, 500);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "2 attempts"));
    ac_gen_params_free(p);
    mu_stop(&e);
}

static void test_dropped_mid_stream_keeps_partial(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "drop", NULL);
    rec r;
    rec_init(&r);
    ac_request *q = ac_agenerate(e.llm, "x", NULL, &CB, &r, NULL);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    ac_error err;
    ac_status st = ac_request_status(q, &err);
    CU_ASSERT_NOT_EQUAL(st, AC_OK);
    CU_ASSERT_NOT_EQUAL(st, AC_EPENDING);
    CU_ASSERT(err.stage == AC_STAGE_HTTP || err.stage == AC_STAGE_PROTOCOL);
    CU_ASSERT(ac_response_content_len(ac_request_response(q)) > 0);
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(ac_request_response(q)), "error");
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 1); /* text reached us: no retry */
    ac_request_free(q);
    mu_stop(&e);
}

static void test_error_inside_200_stream(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "instream", "max_retries = 0;");
    ac_error err;
    ac_stream *s = ac_stream_open(e.llm, "x", NULL, &err);
    const ac_chunk *c;
    ac_status st;
    int saw_error = 0;
    while ((st = ac_stream_next(s, &c, 5000)) == AC_OK)
        if (c->type == AC_EVENT_ERROR) {
            saw_error = 1;
            CU_ASSERT_PTR_NOT_NULL(c->error);
            CU_ASSERT_PTR_NOT_NULL(strstr(c->error->message, "overloaded"));
        }
    CU_ASSERT(saw_error);
    CU_ASSERT_EQUAL(st, AC_EPROTOCOL);
    CU_ASSERT_EQUAL(ac_request_status(ac_stream_request(s), &err), AC_EPROTOCOL);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PROTOCOL);
    CU_ASSERT_STRING_EQUAL(ac_response_content(ac_request_response(ac_stream_request(s))),
                           "partial text");
    ac_stream_close(s);
    mu_stop(&e);
}

/* A streamed reply from `model` whose events are not valid JSON fails
 * with AC_EJSON at the JSON stage, and no response. */
static void expect_stream_json_error(const char *model)
{
    mu_env e;
    mu_start(&e, SCRIPT, model, "max_retries = 0;");
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", p, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EJSON);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_JSON);
    ac_gen_params_free(p);
    mu_stop(&e);
}

static void test_malformed_stream(void) { expect_stream_json_error("garbage"); }
static void test_invalid_utf8(void) { expect_stream_json_error("badutf8"); }

static void test_oversized_response(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "big", "max_response_bytes = 4096; max_retries = 0;");
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ETOOBIG);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);
    r = ac_generate(e.llm, "x", p, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ETOOBIG);
    ac_gen_params_free(p);
    mu_stop(&e);
}

static int got_first_text(void *r) { return atomic_load(&((rec *)r)->first_text); }

static void test_close_core_with_requests_in_flight(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "hang", NULL);
    enum { N = 5 };
    rec r[N];
    ac_request *q[N];
    for (int i = 0; i < N; i++) {
        rec_init(&r[i]);
        q[i] = ac_agenerate(e.llm, "x", NULL, &CB, &r[i], NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    /* Every one mid-stream: its first text arrived, the rest never will. */
    for (int i = 0; i < N; i++)
        CU_ASSERT(tu_wait_until(got_first_text, &r[i], 10000));
    ac_core_close(e.core);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(atomic_load(&r[i].done_calls), 1);
        CU_ASSERT_EQUAL(r[i].done_status, AC_ECANCELED);
        CU_ASSERT(ac_request_done(q[i]));
        TU_ASSERT_STR(ac_response_content(ac_request_response(q[i])), "first");
        ac_request_free(q[i]);
    }
    /* The server saw every connection close. */
    CU_ASSERT(mu_wait_disconnects(e.mock, N, 10000));
    /* New requests on a closed core fail at once, with no callback. */
    CU_ASSERT_PTR_NULL(ac_agenerate(e.llm, "x", NULL, &CB, &r[0], NULL));
    e.core = NULL;
    mu_stop(&e);
}

static void test_list_models(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_error err;
    ac_models *m = ac_list_models(e.llm, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(ac_models_count(m) >= 5);
    int found = 0;
    for (size_t i = 0; i < ac_models_count(m); i++)
        found += strcmp(ac_models_id(m, i), "echo") == 0;
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_PTR_NULL(ac_models_id(m, ac_models_count(m)));
    ac_models_free(m);
    mu_stop(&e);
}

static void test_large_prompt_no_expect_wait(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    size_t n = 1536 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    ac_error err;
    ac_response *r = ac_generate(e.llm, big, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    char *expect = mock_server_last_header(e.mock, "Expect");
    CU_ASSERT_PTR_NULL(expect); /* no 100-continue round trip */
    free(expect);
    char *body = mock_server_last_body(e.mock);
    CU_ASSERT(body && strlen(body) > n);
    free(body);
    ac_response_free(r);
    free(big);
    mu_stop(&e);
}

static void test_bad_arguments(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_error err;
    CU_ASSERT_PTR_NULL(ac_generate(NULL, "x", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_generate(e.llm, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_agenerate(e.llm, NULL, NULL, NULL, NULL, NULL));
    CU_ASSERT_PTR_NULL(ac_generate(e.llm, "bad \xff byte", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "UTF-8"));
    CU_ASSERT_PTR_NULL(ac_generate(e.llm, "overlong \xc0\xaf", NULL, &err));
    CU_ASSERT_PTR_NULL(ac_generate(e.llm, "surrogate \xed\xa0\x80", NULL, &err));
    CU_ASSERT_PTR_NULL(ac_stream_open(e.llm, "cut \xe2\x82", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 0);
    CU_ASSERT_EQUAL(ac_request_wait(NULL, 0), AC_EINVAL);
    ac_request_free(NULL);
    ac_request_cancel(NULL);
    ac_response_free(NULL);
    CU_ASSERT_STRING_EQUAL(ac_response_content(NULL), "");
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_set_temperature(p, 3.0), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_set_max_tokens(p, 0), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_set_json_schema(p, "x", "not json", NULL), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_set_json_schema(p, "x", "{\"type\":\"object\"}", NULL), AC_OK);
    ac_gen_params_free(p);
    mu_stop(&e);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("engine", NULL, NULL);
    CU_add_test(s, "sync generate", test_sync_generate);
    CU_add_test(s, "async: events in order, on_done once", test_async_events_in_order);
    CU_add_test(s, "gather 100 concurrent", test_gather_100_concurrent);
    CU_add_test(s, "gather across llms", test_gather_across_providers);
    CU_add_test(s, "pull stream", test_pull_stream);
    CU_add_test(s, "pull stream, slow reader", test_pull_stream_slow_reader_gets_everything);
    CU_add_test(s, "cancel mid-stream", test_cancel_mid_stream);
    CU_add_test(s, "cancel from callback, free in flight", test_cancel_from_callback_and_free_in_flight);
    CU_add_test(s, "first-byte timeout", test_first_byte_timeout);
    CU_add_test(s, "idle timeout", test_idle_timeout);
    CU_add_test(s, "total timeout", test_total_timeout);
    CU_add_test(s, "keep-alive comments", test_keepalive_comments_keep_idle_timer_happy);
    CU_add_test(s, "connect refused", test_connect_refused);
    CU_add_test(s, "connect timeout", test_connect_timeout);
    CU_add_test(s, "tool calls, streamed and not", test_tool_calls_stream_and_not);
    CU_add_test(s, "HTTP 401, key never in message", test_http_401_no_key_in_message);
    CU_add_test(s, "429 retried", test_429_retried_then_ok);
    CU_add_test(s, "500 exhausts retries", test_500_exhausts_retries);
    CU_add_test(s, "dropped mid-stream", test_dropped_mid_stream_keeps_partial);
    CU_add_test(s, "error inside a 200 stream", test_error_inside_200_stream);
    CU_add_test(s, "malformed stream", test_malformed_stream);
    CU_add_test(s, "invalid UTF-8", test_invalid_utf8);
    CU_add_test(s, "oversized response", test_oversized_response);
    CU_add_test(s, "close core with requests in flight", test_close_core_with_requests_in_flight);
    CU_add_test(s, "list models", test_list_models);
    CU_add_test(s, "large prompt, no Expect wait", test_large_prompt_no_expect_wait);
    CU_add_test(s, "bad arguments", test_bad_arguments);
    return tu_run_suites();
}
