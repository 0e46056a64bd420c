/*
 * gw_load.c -- N concurrent streams at an OpenAI- or Anthropic-shaped
 * endpoint (the gateway, nginx in front of it, or the mock itself), one
 * libcurl multi handle, a connection each; every reply classified:
 *
 *   complete     HTTP 200, the transfer ended cleanly, the stream's finish
 *                and its end marker ([DONE] / message_stop), no error event
 *   clean_error  the transfer ended cleanly and said why it failed: an
 *                HTTP error status, or an error event in a stream that
 *                then ended properly
 *   dirty        anything else: a reset or cut connection, a stream that
 *                stopped without its end, a 200 without a reply
 *
 *   gw_load URL N [--api openai|anthropic] [--model M] [--key K]
 *           [--no-stream] [--timeout S] [--signal-pid PID]
 *           [--expect-complete] [--quiet]
 *   gw_load --get URL      one GET: the body on standard output, exit 0
 *                          for a 200 (scripts without curl(1) poll with it)
 *
 * URL is the base (http://127.0.0.1:PORT); the path is the API's.  With
 * --signal-pid, once every stream has received its first bytes (all are
 * in flight), SIGTERM goes to PID: "an instance stopped mid-run".
 * Prints one line:
 *   gw_load: n=N complete=C clean_error=E dirty=D wall_ms=W cpu_ms=U
 *            first_byte_p50_ms=F first_byte_p99_ms=G
 * and, on standard error, the first few dirty replies' reasons.  Exit
 * status: 0 when nothing is dirty (and, with --expect-complete, all
 * completed), 1 otherwise, 2 for bad arguments.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct req {
    CURL  *easy;
    char  *body;
    size_t len, cap;
    int    got_bytes;
    int    done;
    double first_ms;   /* from the start to its first byte */
} req;

static double t_start;

static int anthropic, stream = 1, quiet;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    req *r = ud;
    size_t k = size * n;
    if (r->len + k + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + k + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    if (!r->got_bytes)
        r->first_ms = now_ms() - t_start;
    r->got_bytes = 1;
    return k;
}

enum { COMPLETE, CLEAN, DIRTY };

static int classify(req *r, CURLcode rc, char *why, size_t n)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    const char *b = r->body ? r->body : "";
    if (rc != CURLE_OK) {
        snprintf(why, n, "transfer: %s (status %ld, %zu bytes)", curl_easy_strerror(rc), status,
                 r->len);
        return DIRTY;
    }
    if (status >= 400)
        return CLEAN;
    if (status != 200) {
        snprintf(why, n, "status %ld", status);
        return DIRTY;
    }
    if (!stream) {
        if (strstr(b, anthropic ? "\"type\":\"message\"" : "\"chat.completion\""))
            return COMPLETE;
        snprintf(why, n, "a 200 without a reply: %.80s", b);
        return DIRTY;
    }
    int error = anthropic ? strstr(b, "event: error\n") != NULL : strstr(b, "data: {\"error\"") != NULL;
    int ended = anthropic ? strstr(b, "event: message_stop\n") != NULL || error
                          : r->len >= 14 && strcmp(b + r->len - 14, "data: [DONE]\n\n") == 0;
    int finished = anthropic ? strstr(b, "\"stop_reason\":\"") != NULL
                             : strstr(b, "\"finish_reason\":\"") != NULL;
    if (error && ended)
        return CLEAN;
    if (ended && finished)
        return COMPLETE;
    snprintf(why, n, "a stream that stopped without its end (%zu bytes, ends \"%.40s\")", r->len,
             r->len > 40 ? b + r->len - 40 : b);
    return DIRTY;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--get") == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        req r = {0};
        r.easy = curl_easy_init();
        curl_easy_setopt(r.easy, CURLOPT_URL, argv[2]);
        curl_easy_setopt(r.easy, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(r.easy, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(r.easy, CURLOPT_TIMEOUT, 10L);
        CURLcode rc = curl_easy_perform(r.easy);
        long status = 0;
        curl_easy_getinfo(r.easy, CURLINFO_RESPONSE_CODE, &status);
        if (r.body)
            fputs(r.body, stdout);
        curl_easy_cleanup(r.easy);
        free(r.body);
        curl_global_cleanup();
        return rc == CURLE_OK && status == 200 ? 0 : 1;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: gw_load URL N [--api openai|anthropic] [--model M] [--key K] "
                        "[--no-stream] [--timeout S] [--signal-pid PID] [--expect-complete] "
                        "[--quiet]\n");
        return 2;
    }
    const char *base = argv[1], *model = NULL, *key = NULL;
    long n = atol(argv[2]), timeout = 60, pid = 0;
    int expect_complete = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--api") && i + 1 < argc)
            anthropic = !strcmp(argv[++i], "anthropic");
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--key") && i + 1 < argc)
            key = argv[++i];
        else if (!strcmp(argv[i], "--no-stream"))
            stream = 0;
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = atol(argv[++i]);
        else if (!strcmp(argv[i], "--signal-pid") && i + 1 < argc)
            pid = atol(argv[++i]);
        else if (!strcmp(argv[i], "--expect-complete"))
            expect_complete = 1;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else {
            fprintf(stderr, "gw_load: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (n < 1 || n > 100000) {
        fprintf(stderr, "gw_load: N must be 1 to 100000\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char url[512], body[512], auth[300];
    snprintf(url, sizeof url, "%s%s", base, anthropic ? "/v1/messages" : "/v1/chat/completions");
    if (anthropic)
        snprintf(body, sizeof body, "{\"model\":\"%s\",\"max_tokens\":256,\"stream\":%s,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"load\"}]}",
                 model ? model : "mock/echo", stream ? "true" : "false");
    else
        snprintf(body, sizeof body, "{\"model\":\"%s\",\"stream\":%s,\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"load\"}]}", model ? model : "mock/echo",
                 stream ? "true" : "false");
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hl = curl_slist_append(hl, auth);
    }
    if (anthropic)
        hl = curl_slist_append(hl, "anthropic-version: 2023-06-01");
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    req *rs = calloc((size_t)n, sizeof *rs);
    if (!rs)
        return 2;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_ms();
    t_start = t0;
    for (long i = 0; i < n; i++) {
        CURL *e = curl_easy_init();
        rs[i].easy = e;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &rs[i]);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &rs[i]);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_multi_add_handle(m, e);
    }
    long counts[3] = {0, 0, 0}, finished = 0, shown = 0;
    int signalled = 0;
    while (finished < n) {
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            req *r;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            char why[300] = "";
            int k = classify(r, msg->data.result, why, sizeof why);
            counts[k]++;
            if (k == DIRTY && shown++ < 5 && !quiet)
                fprintf(stderr, "gw_load: dirty: %s\n", why);
            r->done = 1;
            finished++;
            curl_multi_remove_handle(m, r->easy);
        }
        if (pid && !signalled) {
            long flowing = 0;
            for (long i = 0; i < n; i++)
                flowing += rs[i].got_bytes || rs[i].done;
            if (flowing == n) {
                kill((pid_t)pid, SIGTERM);
                signalled = 1;
                if (!quiet)
                    fprintf(stderr, "gw_load: every stream under way after %.0f ms: SIGTERM "
                                    "to %ld\n", now_ms() - t0, pid);
            }
        }
        if (finished < n)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double wall = now_ms() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                  ru0.ru_stime.tv_sec) * 1000.0 +
                 (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                  ru0.ru_stime.tv_usec) / 1000.0;
    /* When the replies began: how fast the streams were all under way. */
    double *first = calloc((size_t)n, sizeof *first);
    long nf = 0;
    for (long i = 0; first && i < n; i++)
        if (rs[i].got_bytes)
            first[nf++] = rs[i].first_ms;
    double p50 = 0, p99 = 0;
    if (nf) {
        qsort(first, (size_t)nf, sizeof *first, cmp_double);
        p50 = first[nf / 2];
        p99 = first[(nf * 99) / 100 < nf ? (nf * 99) / 100 : nf - 1];
    }
    free(first);
    printf("gw_load: n=%ld complete=%ld clean_error=%ld dirty=%ld wall_ms=%.0f cpu_ms=%.0f "
           "first_byte_p50_ms=%.0f first_byte_p99_ms=%.0f%s\n",
           n, counts[COMPLETE], counts[CLEAN], counts[DIRTY], wall, cpu, p50, p99,
           pid && !signalled ? " (no signal sent)" : "");
    for (long i = 0; i < n; i++) {
        curl_easy_cleanup(rs[i].easy);
        free(rs[i].body);
    }
    free(rs);
    curl_slist_free_all(hl);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    if (counts[DIRTY] || (expect_complete && counts[COMPLETE] != n) || (pid && !signalled))
        return 1;
    return 0;
}
