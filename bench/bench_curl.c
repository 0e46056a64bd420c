/*
 * bench_curl.c -- the CPU floor: bare libcurl doing the same HTTP.
 *
 * N streaming POSTs of the same JSON body as the openai plugin sends, all
 * at once on one libcurl multi handle (the design the library's engine
 * uses), reading each SSE body to its end and throwing the bytes away: no
 * framing, no JSON, no events.  Whatever CPU the library spends beyond this
 * is its own overhead.  Same options as core/engine.c where they matter
 * (HTTP version, keep-alive, no signals).  Output: key=value lines, as
 * bench_client.
 *
 * Usage: bench_curl --url http://127.0.0.1:PORT [-n 1000] [--single 5]
 *                   [--body JSON] [--latencies FILE]
 */
#include "bench_common.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BODY                                                        \
    "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":"  \
    "\"Write a short poem about benchmarks.\"}],\"stream\":true,"          \
    "\"stream_options\":{\"include_usage\":true}}"
#define LIMIT_MS (10.0 * 60 * 1000)

typedef struct xfer {
    CURL  *h;
    double t_start, t_first, t_done;
    size_t bytes;
    long   status;
    int    ok;
} xfer;

static size_t on_write(char *p, size_t size, size_t nmemb, void *user)
{
    xfer *x = user;
    if (x->bytes == 0)
        x->t_first = bench_now_ms();
    x->bytes += size * nmemb;
    return size * nmemb;
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
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "bench-curl");
    x->h = h;
    return h;
}

/* Drive the multi until every transfer is done (or the time limit). */
static void drive(CURLM *m, size_t expect, int *threads_max, long *rss_max)
{
    int running = 1;
    size_t done = 0;
    double t0 = bench_now_ms();
    unsigned loops = 0;
    while (done < expect && bench_now_ms() - t0 < LIMIT_MS) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
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
            curl_multi_remove_handle(m, msg->easy_handle);
            done++;
        }
        if (threads_max && (loops++ % 64) == 0) {
            int t = bench_threads();
            long r = bench_status_kib("VmRSS");
            if (t > *threads_max)
                *threads_max = t;
            if (r > *rss_max)
                *rss_max = r;
        }
        if (done < expect)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
}

static int reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
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
    if (bad || !base || n == 0 || nsingle < 1) {
        fprintf(stderr, "usage: bench_curl --url URL [-n N] [--single R] "
                        "[--body JSON] [--latencies FILE]\n");
        return 2;
    }
    bench_raise_nofile();
    int rc = 1;
    char url[1024];
    snprintf(url, sizeof url, "%s/v1/chat/completions", base);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
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
    double *lat = calloc(n > (size_t)nsingle ? n : (size_t)nsingle, sizeof *lat);
    double *ttft = calloc(n, sizeof *ttft);
    if (!m || !hdr || !xs || !lat || !ttft) {
        fprintf(stderr, "bench_curl: out of memory\n");
        goto done;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 2048L);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 2048L);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);

    /* Single requests, one after another (first one warms up). */
    for (int i = -1; i < nsingle; i++) {
        xfer x;
        memset(&x, 0, sizeof x);
        if (!make_handle(&x, url, body, hdr))
            goto done;
        x.t_start = bench_now_ms();
        curl_multi_add_handle(m, x.h);
        drive(m, 1, NULL, NULL);
        curl_easy_cleanup(x.h);
        if (!x.ok)
            goto done;
        if (i >= 0)
            lat[i] = x.t_done - x.t_start;
    }
    bench_stats ss;
    bench_stats_of(lat, (size_t)nsingle, &ss);

    int threads_before = bench_threads(), threads_max = threads_before;
    long rss_before = bench_status_kib("VmRSS"), rss_max = rss_before;
    int hwm_reset = reset_hwm() == 0;
    double cpu0 = bench_cpu_ms();
    double t0 = bench_now_ms();
    for (size_t i = 0; i < n; i++) {
        if (!make_handle(&xs[i], url, body, hdr)) {
            fprintf(stderr, "bench_curl: curl_easy_init failed\n");
            goto done;
        }
        xs[i].t_start = bench_now_ms();
        curl_multi_add_handle(m, xs[i].h);
    }
    drive(m, n, &threads_max, &rss_max);
    double cpu1 = bench_cpu_ms();
    long hwm = bench_status_kib("VmHWM");
    long peak = hwm_reset ? hwm : rss_max;

    size_t ok = 0, nf = 0;
    double t_last = t0;
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
    bench_stats ls, fs;
    bench_stats_of(lat, ok, &ls);           /* sorts: the file is a CDF */
    bench_write_values(latpath, lat, ok);
    bench_stats_of(ttft, nf, &fs);
    printf("mode=curl\nn=%zu\nok=%zu\nfailed=%zu\n", n, ok, n - ok);
    printf("single_n=%d\n", nsingle);
    bench_print_stats("single", &ss);
    bench_print_stats("lat", &ls);
    bench_print_stats("ttft", &fs);
    printf("wall_ms=%.2f\n", t_last - t0);
    printf("ratio_wall=%.3f\n", ss.p50 > 0 ? (t_last - t0) / ss.p50 : 0.0);
    printf("ratio_p99=%.3f\n", ss.p50 > 0 ? ls.p99 / ss.p50 : 0.0);
    printf("cpu_ms=%.2f\n", cpu1 - cpu0);
    printf("cpu_per_req_ms=%.4f\n", (cpu1 - cpu0) / (double)n);
    printf("rss_before_kib=%ld\nrss_peak_kib=%ld\n", rss_before, peak);
    printf("rss_peak_source=%s\n", hwm_reset ? "VmHWM" : "VmRSS-sampled");
    printf("kib_per_req=%.2f\n", (double)(peak - rss_before) / (double)n);
    printf("threads_before=%d\nthreads_max=%d\n", threads_before, threads_max);
    printf("body_bytes_per_req=%.1f\n", ok ? (double)bytes / (double)ok : 0.0);
    rc = ok == n ? 0 : 1;

done:
    if (xs) {
        for (size_t i = 0; i < n; i++)
            if (xs[i].h) {
                curl_multi_remove_handle(m, xs[i].h);
                curl_easy_cleanup(xs[i].h);
            }
    }
    free(xs);
    free(lat);
    free(ttft);
    curl_slist_free_all(hdr);
    if (m)
        curl_multi_cleanup(m);
    curl_global_cleanup();
    fflush(stdout);
    return rc;
}
