/*
 * mock_load.c -- a manual load check for acore-mockd: N streaming chat
 * requests at once on one libcurl multi handle, HTTP/1.1, one connection
 * each and no cap on connections, so the server must hold all N open
 * together.  Not run by `make check` (N = 10,000 needs 10,000 descriptors
 * on each side); built on demand with `make tests/mock_load`.
 *
 * Usage: mock_load URL [N]
 *   URL  acore-mockd's base URL, e.g. from `acore-mockd --url-only
 *        --chunks 20 --delay-ms 100` (each stream then lasts ~2 s, so
 *        all N are open at the same time)
 * Prints: requests, complete streams (HTTP 200 ending in data: [DONE]),
 * failures by libcurl error, the most sockets open at once, the wall
 * time, and the spread of the time to the first byte (connection setup
 * and headers) and of each stream's length (the server's pacing).  Exit
 * status 0 when every stream was complete.
 */
#include <config.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct xfer {
    char tail[16]; /* the last bytes of the body */
    size_t bytes;
    double first, done; /* seconds: first body byte, end */
} xfer;

static long load_open, load_peak;

static double load_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t load_write(char *p, size_t size, size_t n, void *user)
{
    xfer *x = user;
    if (!x->bytes)
        x->first = load_now();
    size_t len = size * n, keep = sizeof x->tail - 1;
    if (len >= keep) {
        memcpy(x->tail, p + len - keep, keep);
    } else {
        size_t old = strlen(x->tail), drop = old + len > keep ? old + len - keep : 0;
        memmove(x->tail, x->tail + drop, old - drop);
        memcpy(x->tail + old - drop, p, len);
        x->tail[old - drop + len] = '\0';
    }
    x->tail[keep] = '\0';
    x->bytes += len;
    return len;
}

static curl_socket_t load_opensocket(void *user, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)user;
    (void)purpose;
    curl_socket_t s = socket(a->family, a->socktype, a->protocol);
    if (s != CURL_SOCKET_BAD && ++load_open > load_peak)
        load_peak = load_open;
    return s;
}

static int load_closesocket(void *user, curl_socket_t s)
{
    (void)user;
    load_open--;
    return close(s);
}

static int load_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* "p50 p99 max" of v (sorted here). */
static void load_pct(const char *name, double *v, long n)
{
    qsort(v, (size_t)n, sizeof *v, load_cmp);
    printf("%s_s p50=%.2f p99=%.2f max=%.2f\n", name, v[n / 2], v[n * 99 / 100], v[n - 1]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mock_load URL [N]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 10000;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char url[512];
    snprintf(url, sizeof url, "%s/v1/chat/completions", argv[1]);
    static const char body[] = "{\"model\":\"load\",\"stream\":true,\"messages\":"
                               "[{\"role\":\"user\",\"content\":\"hi\"}]}";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, n);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    xfer *xs = calloc((size_t)n, sizeof *xs);
    CURL **hs = calloc((size_t)n, sizeof *hs);
    if (!m || !hl || !xs || !hs)
        return 1;
    for (long i = 0; i < n; i++) {
        CURL *h = hs[i] = curl_easy_init();
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, load_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &xs[i]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &xs[i]);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, load_opensocket);
        curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, load_closesocket);
        curl_multi_add_handle(m, h);
    }
    double t0 = load_now();
    int running = 1;
    long ok = 0, failed = 0, by_code[CURL_LAST] = { 0 };
    while (running) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            xfer *x;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            x->done = load_now();
            if (msg->data.result == CURLE_OK && status == 200 && strstr(x->tail, "[DONE]"))
                ok++;
            else {
                failed++;
                by_code[msg->data.result < CURL_LAST ? msg->data.result : 0]++;
            }
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double wall = load_now() - t0;
    printf("requests=%ld complete=%ld failed=%ld peak_open_sockets=%ld wall_s=%.2f\n", n, ok, failed,
           load_peak, wall);
    for (int c = 0; c < CURL_LAST; c++) {
        if (by_code[c])
            printf("  %ld x %s\n", by_code[c], curl_easy_strerror((CURLcode)c));
    }
    /* first byte: connection setup and headers; stream: the server's pacing */
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    for (long i = 0; a && b && i < n; i++) {
        a[i] = xs[i].bytes ? xs[i].first - t0 : wall;
        b[i] = xs[i].bytes ? xs[i].done - xs[i].first : 0;
    }
    if (a && b && n > 0) {
        load_pct("first_byte", a, n);
        load_pct("stream", b, n);
    }
    free(a);
    free(b);
    for (long i = 0; i < n; i++) {
        curl_multi_remove_handle(m, hs[i]);
        curl_easy_cleanup(hs[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hl);
    free(xs);
    free(hs);
    curl_global_cleanup();
    return ok == n ? 0 : 1;
}
