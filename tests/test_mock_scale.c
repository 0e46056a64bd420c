/*
 * test_mock_scale.c -- the mock server under many connections: the
 * connection limit, the idle timeout (which closes idle keep-alive
 * connections and never a reply that is waiting), more than 4096
 * connections at once, and the in-flight and connection counters a
 * client's tests read.
 *
 * Connections are plain sockets here where the test must hold them open
 * and idle (libcurl would pool them out of sight); replies through
 * libcurl elsewhere.  Everything on 127.0.0.1.
 */
#include <config.h>

#include "mockclient.h"

#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define GET_HEALTH "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
#define POST_HANG                                                                                  \
    "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" \
    "Content-Length: 2\r\n\r\n{}"

/* ---- plain sockets ---- */

static int sock_connect(const mock_server *m, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)mock_server_port(m)) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool sock_send(int fd, const char *s)
{
    size_t n = strlen(s);
    return send(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* Wait up to ms for fd to be readable: 1 readable (data or EOF), 0 not. */
static int sock_wait(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) > 0;
}

/* Read what arrives within ms; the byte count, 0 at EOF, -1 for nothing. */
static ssize_t sock_read(int fd, char *buf, size_t max, int ms)
{
    if (!sock_wait(fd, ms))
        return -1;
    ssize_t n = recv(fd, buf, max - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return n < 0 ? 0 : n;
}

/* A connection that has had one reply and now sits idle (keep-alive). */
static int idle_connection(const mock_server *m)
{
    char buf[1024];
    int fd = sock_connect(m, false);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(sock_send(fd, GET_HEALTH));
    ssize_t n = sock_read(fd, buf, sizeof buf, 5000);
    CU_ASSERT(n > 0 && !strncmp(buf, "HTTP/1.1 200", 12));
    return fd;
}

/* ---- tests ---- */

/* An idle keep-alive connection is closed after the idle timeout. */
static void test_idle_timeout(void)
{
    mock_server_options o = { .idle_timeout_s = 1 };
    mock_server *m = start_opts(&o);
    char buf[256];
    int fd = idle_connection(m);
    CU_ASSERT_EQUAL(wait_count(m, mock_server_connections, 1, 2000), 1);
    double t0 = now_ms();
    ssize_t n = sock_read(fd, buf, sizeof buf, 4000); /* EOF when the server closes it */
    double took = now_ms() - t0;
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(took > 700 && took < 3000);
    CU_ASSERT_EQUAL(wait_count(m, mock_server_connections, 0, 2000), 0);
    CU_ASSERT_EQUAL(mock_server_connections_total(m), 1);
    close(fd);
    mock_server_stop(m);
}

typedef struct waiting_reply {
    bg_client c;
    atomic_int done;
} waiting_reply;

static void *waiting_run(void *arg)
{
    waiting_reply *w = arg;
    bg_run(&w->c);
    atomic_store(&w->done, 1);
    return NULL;
}

/* Replies that wait longer than the idle timeout -- before the headers, in
   a stall, in a hanging stream -- are not idle: none is closed. */
static void test_waiting_is_not_idle(void)
{
    mock_server_options o = {
        .idle_timeout_s = 1,
        .script_text = "scenarios = ( { model = \"late\"; first_byte_delay_ms = 2500; },\n"
                       "  { model = \"stall\"; reply = \"a b c\"; chunks = 3; stall_after_chunks = 1; stall_ms = 2500; },\n"
                       "  { model = \"hang\"; hang = true; } );",
    };
    mock_server *m = start_opts(&o);
    static const char *bodies[] = { "{\"model\":\"late\"}", "{\"model\":\"stall\",\"stream\":true}",
                                    "{\"model\":\"hang\",\"stream\":true}" };
    waiting_reply w[3];
    pthread_t th[3];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 3; i++) {
        w[i].c.m = m;
        w[i].c.q.path = "/v1/chat/completions";
        w[i].c.q.body = bodies[i];
        w[i].c.q.timeout_ms = 20000;
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, waiting_run, &w[i]) == 0);
    }
    CU_ASSERT_EQUAL(wait_count(m, mock_server_inflight, 3, 5000), 3);
    usleep(2800 * 1000); /* well past the idle timeout */
    CU_ASSERT_FALSE(atomic_load(&w[2].done)); /* the hanging stream is still open */
    CU_ASSERT(mock_server_connections(m) >= 1);
    CU_ASSERT(mock_server_inflight(m) >= 1);
    CU_ASSERT_EQUAL(mock_server_disconnects(m), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(w[0].c.r.rc, CURLE_OK);
    CU_ASSERT_EQUAL(w[0].c.r.status, 200);
    CU_ASSERT(w[0].c.r.ttfb >= 2.4);
    CU_ASSERT_EQUAL(w[1].c.r.rc, CURLE_OK);
    oa_stream s;
    oa_read(w[1].c.r.body, &s);
    CU_ASSERT_STRING_EQUAL(s.text, "a b c");
    CU_ASSERT(s.done);
    CU_ASSERT(w[1].c.r.total >= 2.4);
    mock_server_stop(m); /* ends the hanging stream */
    pthread_join(th[2], NULL);
    CU_ASSERT_NOT_EQUAL(w[2].c.r.rc, CURLE_OK);
    for (int i = 0; i < 3; i++)
        res_free(&w[i].c.r);
}

/* Past max_connections a new connection waits in the backlog until one
   closes: here a client closes one; with an idle timeout the server
   would close the idle ones itself. */
static void test_connection_limit(void)
{
    mock_server_options o = { .max_connections = 4, .idle_timeout_s = -1 };
    mock_server *m = start_opts(&o);
    char buf[1024];
    int fds[4];
    for (int i = 0; i < 4; i++)
        fds[i] = idle_connection(m);
    CU_ASSERT_EQUAL(wait_count(m, mock_server_connections, 4, 2000), 4);
    int extra = sock_connect(m, false); /* accepted by the kernel, not yet by the server */
    CU_ASSERT_FATAL(extra >= 0);
    CU_ASSERT_FATAL(sock_send(extra, GET_HEALTH));
    CU_ASSERT_EQUAL(sock_read(extra, buf, sizeof buf, 1200), -1);
    CU_ASSERT_EQUAL(mock_server_connections_total(m), 4);
    close(fds[0]);
    CU_ASSERT(sock_read(extra, buf, sizeof buf, 5000) > 0);
    CU_ASSERT(!strncmp(buf, "HTTP/1.1 200", 12));
    CU_ASSERT_EQUAL(mock_server_connections_total(m), 5);
    for (int i = 1; i < 4; i++)
        close(fds[i]);
    close(extra);
    mock_server_stop(m);

    /* the same with an idle timeout: the idle four go, the fifth is served */
    o.idle_timeout_s = 1;
    m = start_opts(&o);
    for (int i = 0; i < 4; i++)
        fds[i] = idle_connection(m);
    extra = sock_connect(m, false);
    CU_ASSERT_FATAL(extra >= 0);
    CU_ASSERT_FATAL(sock_send(extra, GET_HEALTH));
    double t0 = now_ms();
    CU_ASSERT(sock_read(extra, buf, sizeof buf, 5000) > 0);
    CU_ASSERT(!strncmp(buf, "HTTP/1.1 200", 12));
    CU_ASSERT(now_ms() - t0 > 500);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(sock_read(fds[i], buf, sizeof buf, 3000), 0); /* closed by the server */
        close(fds[i]);
    }
    close(extra);
    mock_server_stop(m);
}

/* The client-side proof this exists for: N requests to a server that
   delays its headers are all in flight at once. */
static void test_inflight_peak(void)
{
    enum { N = 20 };
    mock_server *m = start("first_byte_delay_ms = 300;");
    CU_ASSERT_EQUAL(mock_server_inflight(m), 0);
    CU_ASSERT_EQUAL(mock_server_peak_inflight(m), 0);
    CURLM *multi = curl_multi_init();
    http_req q[N];
    http_res r[N];
    sink s[N];
    struct curl_slist *hl[N];
    CURL *eh[N];
    memset(q, 0, sizeof q);
    memset(r, 0, sizeof r);
    memset(hl, 0, sizeof hl);
    for (int i = 0; i < N; i++) {
        q[i].path = "/v1/chat/completions";
        q[i].body = "{}";
        q[i].timeout_ms = 10000;
        eh[i] = http_easy(m, &q[i], &r[i], &s[i], &hl[i]);
        curl_multi_add_handle(multi, eh[i]);
    }
    int running = 1;
    size_t seen = 0;
    while (running) {
        curl_multi_perform(multi, &running);
        size_t now = mock_server_inflight(m);
        if (now > seen)
            seen = now;
        if (running)
            curl_multi_poll(multi, NULL, 0, 20, NULL);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        http_finish(eh[i], &q[i], &r[i]);
        ok += r[i].status == 200;
        curl_multi_remove_handle(multi, eh[i]);
        curl_easy_cleanup(eh[i]);
        curl_slist_free_all(hl[i]);
        res_free(&r[i]);
    }
    curl_multi_cleanup(multi);
    CU_ASSERT_EQUAL(ok, N);
    CU_ASSERT_EQUAL(seen, N);
    CU_ASSERT_EQUAL(mock_server_peak_inflight(m), N);
    CU_ASSERT_EQUAL(wait_count(m, mock_server_inflight, 0, 2000), 0);
    CU_ASSERT(mock_server_connections_total(m) >= N);

    /* one after the other: never more than one at a time */
    mock_server_reset_peak(m);
    CU_ASSERT_EQUAL(mock_server_peak_inflight(m), 0);
    for (int i = 0; i < 3; i++) {
        http_res one;
        post(m, "/v1/chat/completions", "{}", &one);
        CU_ASSERT_EQUAL(one.status, 200);
        res_free(&one);
    }
    CU_ASSERT_EQUAL(mock_server_peak_inflight(m), 1);
    CU_ASSERT_EQUAL(mock_server_inflight(NULL), 0);
    CU_ASSERT_EQUAL(mock_server_peak_inflight(NULL), 0);
    CU_ASSERT_EQUAL(mock_server_connections(NULL), 0);
    mock_server_reset_peak(NULL);
    mock_server_stop(m);
}

/* More connections than the old limit of 4096, all parked at once on a
   reply that never comes, then all noticed when their clients leave.
   Needs two descriptors per connection (both ends are in this process). */
static void test_over_4096(void)
{
    int n = 5000;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)(2 * n + 100)) {
        fprintf(stderr, "\n  skipped: %d connections need %d descriptors, the limit is %lu\n", n,
                2 * n + 100, (unsigned long)rl.rlim_cur);
        return;
    }
    mock_server *m = start("hang = true;");
    int *fds = calloc((size_t)n, sizeof *fds);
    bool *done = calloc((size_t)n, sizeof *done);
    CU_ASSERT_FATAL(fds && done);
    int opened = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = sock_connect(m, true);
        opened += fds[i] >= 0;
    }
    CU_ASSERT_EQUAL(opened, n);
    /* connects complete as the server accepts; then each sends its request */
    int sent = 0;
    double t0 = now_ms();
    while (sent < n && now_ms() - t0 < 20000) {
        for (int i = 0; i < n; i++) {
            struct pollfd p = { .fd = fds[i], .events = POLLOUT };
            if (!done[i] && fds[i] >= 0 && poll(&p, 1, 0) == 1 && sock_send(fds[i], POST_HANG)) {
                sent++;
                done[i] = true;
            }
        }
        usleep(10000);
    }
    CU_ASSERT_EQUAL(sent, n);
    CU_ASSERT_EQUAL(wait_count(m, mock_server_inflight, (size_t)n, 20000), (size_t)n);
    CU_ASSERT_EQUAL(mock_server_connections(m), (size_t)n);
    CU_ASSERT_EQUAL(mock_server_peak_inflight(m), (size_t)n);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    CU_ASSERT_EQUAL(wait_disconnects(m, (size_t)n, 20000), (size_t)n);
    CU_ASSERT_EQUAL(wait_count(m, mock_server_connections, 0, 10000), 0);
    free(fds);
    free(done);
    mock_server_stop(m);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mock_server_scale", NULL, NULL);
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "idle keep-alive connections close", test_idle_timeout },
        { "waiting replies are not idle", test_waiting_is_not_idle },
        { "connection limit", test_connection_limit },
        { "in-flight requests and their peak", test_inflight_peak },
        { "more than 4096 connections", test_over_4096 },
    };
    for (size_t i = 0; s && i < sizeof tests / sizeof tests[0]; i++) {
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            s = NULL;
    }
    if (!s) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    curl_global_cleanup();
    return failed ? 1 : 0;
}
