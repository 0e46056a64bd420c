/*
 * bench_curl.c -- the floor: bare libcurl doing the same HTTP.
 *
 * N streaming POSTs of the same JSON body as the openai plugin sends, all
 * at once on one libcurl multi handle driven the way the library's engine
 * drives it (libcurl's socket API over an epoll set), reading each SSE
 * body to its end and throwing the bytes away: no framing, no JSON, no
 * events, no threads.  Whatever the library spends beyond this is its
 * own overhead.  The same options as core/transfer.c and core/engine.c
 * where they matter: HTTP/1.1 for http:// URLs (HTTP/2 and PIPEWAIT only
 * for https://), no connection cap, keep-alive, no signals.
 *
 * --single K as bench_client: K > 0 warms up and times K requests one
 * after another first; K = 0 makes the batch the first thing done.
 * Output: key=value lines, as bench_client.
 *
 * Usage: bench_curl --url http://127.0.0.1:PORT [-n 1000] [--single 5]
 *                   [--body JSON] [--latencies FILE]
 */
#include "bench_common.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#define DEFAULT_BODY                                                        \
    "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":"  \
    "\"Write a short poem about benchmarks.\"}],\"stream\":true,"          \
    "\"stream_options\":{\"include_usage\":true}}"
#define LIMIT_MS (10.0 * 60 * 1000)
#define SAMPLE_MS 50

typedef struct xfer {
    CURL  *h;
    double t_start, t_first, t_done;
    size_t bytes;
    long   status;
    int    ok;
} xfer;

/* The loop: one multi handle, one epoll set, libcurl's timer. */
typedef struct loop {
    CURLM *m;
    int    epfd;
    double deadline;     /* libcurl's one-shot timer (bench_now_ms), < 0: none */
    size_t done;
} loop;

static size_t on_write(char *p, size_t size, size_t nmemb, void *user)
{
    (void)p;
    xfer *x = user;
    if (x->bytes == 0)
        x->t_first = bench_now_ms();
    x->bytes += size * nmemb;
    return size * nmemb;
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *user, void *sockp)
{
    (void)e;
    (void)sockp;
    loop *l = user;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data.fd = s;
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *user)
{
    (void)m;
    ((loop *)user)->deadline = timeout_ms < 0 ? -1.0 : bench_now_ms() + (double)timeout_ms;
    return 0;
}

/* libcurl's timer is one-shot: once acted on it is gone until libcurl
 * sets a new one (through on_timer, possibly during this very call). */
static void fire_timer(loop *l, int *running)
{
    l->deadline = -1.0;
    curl_multi_socket_action(l->m, CURL_SOCKET_TIMEOUT, 0, running);
}

static CURL *make_handle(xfer *x, const char *url, const char *body,
                         struct curl_slist *headers)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    /* As the library: waiting to multiplex only where HTTP/2 can be
     * negotiated; over plain HTTP it would hold a burst back until the
     * first reply's headers came. */
    if (strncasecmp(url, "https://", 8) == 0) {
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "bench-curl");
    x->h = h;
    return h;
}

static void collect(loop *l)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        x->t_done = bench_now_ms();
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &x->status);
        x->ok = msg->data.result == CURLE_OK && x->status == 200;
        if (!x->ok)
            fprintf(stderr, "bench_curl: transfer failed: %s (HTTP %ld)\n",
                    curl_easy_strerror(msg->data.result), x->status);
        curl_multi_remove_handle(l->m, msg->easy_handle);
        l->done++;
    }
}

/* Drive the multi until `expect` transfers are done (or the time limit). */
static void drive(loop *l, size_t expect, bench_sample *sm)
{
    int running;
    double t0 = bench_now_ms(), t_sample = t0;
    struct epoll_event evs[256];
    fire_timer(l, &running);
    collect(l);
    while (l->done < expect && bench_now_ms() - t0 < LIMIT_MS) {
        double now = bench_now_ms();
        int timeout = 1000;
        if (l->deadline >= 0)
            timeout = l->deadline <= now ? 0 : (int)(l->deadline - now) + 1;
        if (sm && timeout > SAMPLE_MS)
            timeout = SAMPLE_MS;
        int k = epoll_wait(l->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
        for (int i = 0; i < k; i++) {
            int what = 0;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                what |= CURL_CSELECT_IN;
            if (evs[i].events & EPOLLOUT)
                what |= CURL_CSELECT_OUT;
            if (evs[i].events & EPOLLERR)
                what |= CURL_CSELECT_ERR;
            curl_multi_socket_action(l->m, evs[i].data.fd, what, &running);
        }
        /* The timer may be due while sockets keep epoll busy. */
        if (l->deadline >= 0 && l->deadline <= bench_now_ms())
            fire_timer(l, &running);
        collect(l);
        if (sm && bench_now_ms() - t_sample >= SAMPLE_MS) {
            bench_take_sample(sm);
            t_sample = bench_now_ms();
        }
    }
}

int main(int argc, char **argv)
{
    const char *base = NULL, *body = DEFAULT_BODY, *latpath = NULL;
    size_t n = 1000;
    int nsingle = 5;
    int bad = argc % 2 == 0;   /* options come in pairs */
    for (int i = 1; i + 1 < argc && !bad; i += 2) {
        if (strcmp(argv[i], "--url") == 0)
            base = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--single") == 0)
            nsingle = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--body") == 0)
            body = argv[i + 1];
        else if (strcmp(argv[i], "--latencies") == 0)
            latpath = argv[i + 1];
        else
            bad = 1;
    }
    if (bad || !base || n == 0 || nsingle < 0) {
        fprintf(stderr, "usage: bench_curl --url URL [-n N] [--single K] "
                        "[--body JSON] [--latencies FILE]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("contender=curl\nn=%zu\n", n);
    bench_raise_nofile((long)n + 64);
    int rc = 1;
    char url[1024];
    snprintf(url, sizeof url, "%s/v1/chat/completions", base);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    loop l = { .m = curl_multi_init(), .epfd = epoll_create1(EPOLL_CLOEXEC), .deadline = -1.0 };
    struct curl_slist *hdr = NULL, *t;
    const char *hv[] = { "Content-Type: application/json",
                         "Accept: text/event-stream",
                         "Authorization: Bearer bench" };
    for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++) {
        if (!(t = curl_slist_append(hdr, hv[i]))) {
            curl_slist_free_all(hdr);
            hdr = NULL;
            break;
        }
        hdr = t;
    }
    xfer *xs = calloc(n, sizeof *xs);
    double *lat = calloc(n > (size_t)nsingle ? n : (size_t)nsingle + 1, sizeof *lat);
    double *ttft = calloc(n, sizeof *ttft);
    if (!l.m || l.epfd < 0 || !hdr || !xs || !lat || !ttft) {
        fprintf(stderr, "bench_curl: out of memory\n");
        goto done;
    }
    curl_multi_setopt(l.m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(l.m, CURLMOPT_SOCKETDATA, &l);
    curl_multi_setopt(l.m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(l.m, CURLMOPT_TIMERDATA, &l);
    curl_multi_setopt(l.m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);

    /* Single requests, one after another (the first one warms up). */
    if (nsingle > 0) {
        for (int i = -1; i < nsingle; i++) {
            xfer x;
            memset(&x, 0, sizeof x);
            if (!make_handle(&x, url, body, hdr))
                goto done;
            x.t_start = bench_now_ms();
            curl_multi_add_handle(l.m, x.h);
            drive(&l, l.done + 1, NULL);
            curl_easy_cleanup(x.h);
            if (!x.ok)
                goto done;
            if (i >= 0)
                lat[i] = x.t_done - x.t_start;
        }
        bench_stats ss;
        bench_stats_of(lat, (size_t)nsingle, &ss);
        printf("single_n=%d\n", nsingle);
        bench_print_stats("single", &ss);
    }

    bench_batch b;
    bench_batch_begin(&b);
    size_t before = l.done;
    for (size_t i = 0; i < n; i++) {
        if (!make_handle(&xs[i], url, body, hdr)) {
            fprintf(stderr, "bench_curl: curl_easy_init failed\n");
            goto done;
        }
        xs[i].t_start = bench_now_ms();
        curl_multi_add_handle(l.m, xs[i].h);
    }
    drive(&l, before + n, &b.sm);
    bench_batch_stop(&b);

    size_t ok = 0, nf = 0;
    double t_last = b.t0;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (xs[i].t_done > t_last)
            t_last = xs[i].t_done;
        if (!xs[i].ok)
            continue;
        bytes += xs[i].bytes;
        lat[ok++] = xs[i].t_done - xs[i].t_start;
        if (xs[i].t_first > 0)
            ttft[nf++] = xs[i].t_first - xs[i].t_start;
    }
    printf("ok=%zu\nfailed=%zu\n", ok, n - ok);
    bench_stats ls, fs;
    bench_stats_of(lat, ok, &ls);           /* sorts: the file is a CDF */
    bench_write_values(latpath, lat, ok);
    bench_print_stats("lat", &ls);
    bench_stats_of(ttft, nf, &fs);
    bench_print_stats("ttft", &fs);
    printf("body_bytes_per_req=%.1f\n", ok ? (double)bytes / (double)ok : 0.0);
    bench_batch_print(&b, t_last, n);
    rc = ok == n ? 0 : 1;

done:
    if (xs) {
        for (size_t i = 0; i < n; i++)
            if (xs[i].h) {
                curl_multi_remove_handle(l.m, xs[i].h);
                curl_easy_cleanup(xs[i].h);
            }
    }
    free(xs);
    free(lat);
    free(ttft);
    curl_slist_free_all(hdr);
    if (l.m)
        curl_multi_cleanup(l.m);
    if (l.epfd >= 0)
        close(l.epfd);
    curl_global_cleanup();
    fflush(stdout);
    return rc;
}
