/*
 * test_request.c -- the request model and the engine's transport policy,
 * as a caller observes them: a burst of requests to a plain-HTTP backend
 * is sent at once (no wait for the first reply's headers, no cap that
 * turns it into rounds); the outcome is published once, before on_done,
 * which may take the response; ac_agenerate says why it returned NULL;
 * cancelling allocates nothing, however often it is called; retry
 * jitter leaves the application's rand() alone; an error body that
 * cannot be stored is out of memory, not an HTTP error.
 */
#include "alloc.h"
#include "chat.h"
#include "mockutil.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"default\"; reply = \"Hello from the mock.\"; chunks = 4; usage = [5, 4]; },\n"
    "  { model = \"hang\"; reply = \"first\"; hang = true; },\n"
    "  { model = \"e503\"; status = 503; fail_times = 1; reply = \"after backoff\"; },\n"
    "  { model = \"e500big\"; status = 500; error_message = \"the mock's own words\"; }\n"
    ");\n";

/* ------------------------------------------------------------------ */
/* A barrier server: answers nothing until `want` requests have arrived */
/* ------------------------------------------------------------------ */

/* Plain HTTP/1.1 on loopback.  If the client holds requests back (waits
 * for the first reply's headers to multiplex, or caps its connections),
 * the barrier is not reached within `hold_ms`; then everything is
 * answered anyway and `reached` stays 0. */
typedef struct barrier {
    int        lfd, port, want, hold_ms;
    atomic_int reached, arrived, at_release;
    pthread_t  th;
} barrier;

typedef struct conn {
    int    fd;
    char   buf[8192];
    size_t len;
    int    complete, answered;
} conn;

static const char REPLY_BODY[] =
    "{\"id\":\"b\",\"object\":\"chat.completion\",\"model\":\"barrier\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}";

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 1 once the headers and Content-Length bytes of body are in. */
static int request_complete(conn *c)
{
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return 0;
    const char *cl = strstr(c->buf, "Content-Length:");
    if (!cl)
        cl = strstr(c->buf, "content-length:");
    long n = cl ? strtol(cl + 15, NULL, 10) : 0;
    return (size_t)(end + 4 - c->buf) + (size_t)n <= c->len;
}

static void answer(conn *c)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", sizeof REPLY_BODY - 1);
    if (write(c->fd, head, (size_t)n) < 0 || write(c->fd, REPLY_BODY, sizeof REPLY_BODY - 1) < 0)
        (void)0; /* the client went away: it will say so */
    c->answered = 1;
}

static void *barrier_main(void *arg)
{
    barrier *b = arg;
    int cap = b->want + 16;
    conn *cs = calloc((size_t)cap, sizeof *cs);
    struct pollfd *pf = calloc((size_t)cap + 1, sizeof *pf);
    int n = 0, answered = 0, released = 0;
    double t0 = mono_ms();
    while (answered < b->want && mono_ms() - t0 < (double)b->hold_ms * 3) {
        pf[0] = (struct pollfd){.fd = b->lfd, .events = POLLIN};
        for (int i = 0; i < n; i++)
            pf[i + 1] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
        poll(pf, (nfds_t)n + 1, 10);
        if ((pf[0].revents & POLLIN) && n < cap) {
            int fd = accept(b->lfd, NULL, NULL);
            if (fd >= 0)
                cs[n++].fd = fd;
        }
        for (int i = 0; i < n; i++) {
            conn *c = &cs[i];
            if (c->complete || !(pf[i + 1].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
            if (r > 0)
                c->len += (size_t)r;
            if (request_complete(c)) {
                c->complete = 1;
                atomic_fetch_add(&b->arrived, 1);
            }
        }
        if (!released && atomic_load(&b->arrived) >= b->want) {
            atomic_store(&b->reached, 1);
            released = 1;
        }
        if (!released && mono_ms() - t0 >= b->hold_ms)
            released = 1; /* held back by the client: answer anyway */
        if (released && !atomic_load(&b->at_release))
            atomic_store(&b->at_release, atomic_load(&b->arrived));
        for (int i = 0; released && i < n; i++)
            if (cs[i].complete && !cs[i].answered) {
                answer(&cs[i]);
                answered++;
            }
    }
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    free(cs);
    free(pf);
    return NULL;
}

static int barrier_start(barrier *b, int want, int hold_ms)
{
    memset(b, 0, sizeof *b);
    b->want = want;
    b->hold_ms = hold_ms;
    b->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (b->lfd < 0 || bind(b->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(b->lfd, 4096) != 0 || getsockname(b->lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    b->port = ntohs(a.sin_port);
    return pthread_create(&b->th, NULL, barrier_main, b) == 0 ? 0 : -1;
}

static void barrier_stop(barrier *b)
{
    pthread_join(b->th, NULL);
    close(b->lfd);
}

/* N requests to a backend that answers none of them until all N have
 * arrived.  With defaults, a fresh core sends them all at once. */
static void burst(int n)
{
    barrier b;
    CU_ASSERT_FATAL(barrier_start(&b, n, 5000) == 0);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "providers = ( { name = \"b\"; plugin = \"openai\"; "
             "base_url = \"http://127.0.0.1:%d/v1\"; api_key = \"k\"; max_retries = 0; } );\n",
             b.port);
    ac_core *core = tu_open_core(cfg);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "b", "m", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_request **q = calloc((size_t)n, sizeof *q);
    for (int i = 0; i < n; i++)
        q[i] = ac_agenerate(llm, "hi", NULL, NULL, NULL, &err);
    CU_ASSERT_EQUAL(ac_gather(q, (size_t)n, 30000), AC_OK);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ok += ac_request_status(q[i], NULL) == AC_OK;
        ac_request_free(q[i]);
    }
    free(q);
    barrier_stop(&b);
    CU_ASSERT_EQUAL(ok, n);
    if (!atomic_load(&b.reached))
        fprintf(stderr, "burst of %d: only %d arrived before the first answer\n", n,
                atomic_load(&b.at_release));
    CU_ASSERT_EQUAL(atomic_load(&b.reached), 1);
    ac_llm_free(llm);
    ac_core_close(core);
}

/* No request of a burst waits for the first reply's headers (libcurl's
 * PIPEWAIT only where HTTP/2 can be negotiated). */
static void test_burst_not_held_by_first_headers(void) { burst(8); }

/* No default cap turns 300 concurrent requests into rounds. */
static void test_burst_beyond_old_connection_cap(void) { burst(300); }

/* ------------------------------------------------------------------ */
/* The outcome, published once                                         */
/* ------------------------------------------------------------------ */

typedef struct taker {
    ac_response *taken;
    ac_status    status_in_done, seen;
    atomic_int   done;
} taker;

static void take_in_done(ac_request *q, ac_status st, void *user)
{
    taker *t = user;
    t->status_in_done = st;
    t->seen = ac_request_status(q, NULL);
    t->taken = ac_request_take_response(q);
    atomic_store(&t->done, 1);
}

static void test_take_response_in_on_done(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    taker t = {0};
    ac_callbacks cb = {.on_done = take_in_done};
    ac_error err;
    ac_request *q = ac_agenerate(e.llm, "hi", NULL, &cb, &t, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(t.status_in_done, AC_OK);
    CU_ASSERT_EQUAL(t.seen, AC_OK);
    CU_ASSERT_PTR_NOT_NULL(t.taken);
    TU_ASSERT_STR(ac_response_content(t.taken), "Hello from the mock.");
    CU_ASSERT_PTR_NULL(ac_request_response(q)); /* taken */
    ac_response_free(t.taken);
    ac_request_free(q);
    mu_stop(&e);
}

/* A hook that changes the outcome (the session could not record the
 * turn) runs before the outcome is published: nobody ever sees AC_OK. */
typedef struct hooked {
    ac_status in_hook, in_done;
    int       error_events;
} hooked;

static ac_status failing_hook(ac_request *q, ac_status st, void *ctx)
{
    hooked *h = ctx;
    (void)st;
    h->in_hook = ac_request_status(q, NULL);
    return AC_ENOMEM;
}

static void count_errors(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    ((hooked *)user)->error_events += c->type == AC_EVENT_ERROR;
}

static void status_in_done(ac_request *q, ac_status st, void *user)
{
    (void)st;
    ((hooked *)user)->in_done = ac_request_status(q, NULL);
}

static void test_outcome_published_once(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    hooked h = {AC_OK, AC_OK, 0};
    ac_callbacks cb = {.on_event = count_errors, .on_done = status_in_done};
    ac_request *q = ac__chat_new(e.llm, NULL, &cb, &h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    q->hook_done = failing_hook;
    q->hook_ctx = &h;
    CU_ASSERT_EQUAL(ac__chat_build(q, NULL, NULL, 0, "hi"), AC_OK);
    CU_ASSERT_EQUAL_FATAL(ac__request_submit(q), AC_OK);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(h.in_hook, AC_EPENDING); /* not yet published */
    CU_ASSERT_EQUAL(h.in_done, AC_ENOMEM);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_ENOMEM);
    CU_ASSERT_EQUAL(h.error_events, 1);      /* a failure always says so */
    ac_request_free(q);
    mu_stop(&e);
}

/* ------------------------------------------------------------------ */
/* Why ac_agenerate returned NULL                                      */
/* ------------------------------------------------------------------ */

static void test_agenerate_says_why(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "default", NULL);
    ac_error err;
    CU_ASSERT_PTR_NULL(ac_agenerate(e.llm, NULL, NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "prompt"));
    CU_ASSERT_PTR_NULL(ac_agenerate(NULL, "x", NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_agenerate(e.llm, "bad \xff", NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "UTF-8"));
    TU_ASSERT_STR(err.provider, "mock");
    ac_session *s = ac_session_new(e.llm, NULL);
    CU_ASSERT_PTR_NULL(ac_session_agenerate(NULL, "x", NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_session_agenerate(s, "bad \xff", NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    ac_core_close(e.core);
    CU_ASSERT_PTR_NULL(ac_agenerate(e.llm, "x", NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECANCELED);
    CU_ASSERT_PTR_NULL(ac_session_agenerate(s, "x", NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECANCELED);
    ac_session_free(s);
    e.core = NULL;
    mu_stop(&e);
}

/* ------------------------------------------------------------------ */
/* Cancel                                                              */
/* ------------------------------------------------------------------ */

/* Any number of cancels, from anywhere, cost no allocation (one poke per
 * request), and work with every allocation failing. */
static void test_cancel_allocates_nothing(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "hang", NULL);
    ac_error err;
    ac_request *q = ac_agenerate(e.llm, "x", NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(mu_wait_requests(e.mock, 1, 10000));
    long before = ac__alloc_total();
    ac__alloc_fail_after(0);
    for (int i = 0; i < 1000; i++)
        ac_request_cancel(q);
    ac__alloc_fail_after(-1);
    CU_ASSERT_EQUAL(ac__alloc_total(), before);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_ECANCELED);
    ac_request_free(q);
    mu_stop(&e);
}

/* ------------------------------------------------------------------ */
/* Retries and errors                                                  */
/* ------------------------------------------------------------------ */

/* Backoff jitter comes from the engine's own generator: an application
 * that seeds rand() for its own reasons gets the same sequence. */
static void test_retry_leaves_rand_alone(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "e503", NULL);
    srand(4242);
    int expect[4];
    for (int i = 0; i < 4; i++)
        expect[i] = rand();
    srand(4242);
    ac_error err;
    ac_response *r = ac_generate(e.llm, "x", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    TU_ASSERT_STR(ac_response_content(r), "after backoff");
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 2); /* it was retried */
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(rand(), expect[i]);
    ac_response_free(r);
    mu_stop(&e);
}

/* Every allocation of an HTTP error's path failing in turn: the outcome
 * is the server's error (with its message), or out of memory -- never an
 * HTTP error that lost what the server said. */
static void test_error_body_without_memory(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "e500big", "max_retries = 0;");
    int oom = 0, http = 0, other = 0;
    for (long n = 0; n < 400; n++) {
        ac__alloc_fail_after(n);
        ac_error err;
        ac_response *r = ac_generate(e.llm, "x", NULL, &err);
        long failures = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        CU_ASSERT_PTR_NULL(r);
        ac_response_free(r);
        if (err.code == AC_ENOMEM) {
            oom++;
        } else if (err.code == AC_EHTTP && err.http_status == 500 &&
                   strstr(err.message, "the mock's own words")) {
            http++;
            if (failures == 0)
                break; /* nothing failed: every path was walked */
        } else {
            other++;
            fprintf(stderr, "allocation %ld failing: %s: %s\n", n, ac_strerror(err.code),
                    err.message);
        }
    }
    CU_ASSERT(oom > 0);
    CU_ASSERT(http > 0);
    CU_ASSERT_EQUAL(other, 0);
    mu_stop(&e);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"burst not held by the first reply's headers", test_burst_not_held_by_first_headers},
        {"burst beyond the old connection cap", test_burst_beyond_old_connection_cap},
        {"response taken in on_done", test_take_response_in_on_done},
        {"outcome published once", test_outcome_published_once},
        {"ac_agenerate says why", test_agenerate_says_why},
        {"cancel allocates nothing", test_cancel_allocates_nothing},
        {"retry leaves rand() alone", test_retry_leaves_rand_alone},
        {"error body without memory", test_error_body_without_memory},
    };
    TU_ADD_SUITE("request", NULL, NULL, tests);
    return tu_run_suites();
}
