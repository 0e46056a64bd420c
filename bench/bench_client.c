/*
 * bench_client.c -- libabstractcore under load, against a mock server.
 *
 * Two designs for the same N streaming requests, each run in its own
 * process (so peak memory and CPU time belong to one design):
 *
 *   --mode async  every request at once through the async API
 *                 (ac_agenerate with callbacks, then ac_gather): one engine
 *                 thread drives all of them on one libcurl multi handle.
 *   --mode pool   the thread-per-request design: a pool of (cores + 4)
 *                 threads, each calling the blocking ac_generate in turn.
 *
 * Before the batch each mode times --single requests one after another:
 * the latency of "a single one" that the batch is compared with.  Results
 * go to stdout as key=value lines for bench/run-bench.sh; problems go to
 * stderr.  The server (acore-mockd) runs in another process, so the CPU
 * time measured here is the client's alone.
 *
 * Usage: bench_client --mode async|pool --url http://127.0.0.1:PORT
 *                     --plugin-dir DIR [-n 1000] [--single 5]
 *                     [--threads T] [--latencies FILE]
 */
#include <abstractcore/abstractcore.h>
#include "bench_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROMPT "Write a short poem about benchmarks."
#define GATHER_LIMIT_MS (10 * 60 * 1000)

typedef struct slot {
    double    t_start;      /* when the caller asked for it */
    double    t_service;    /* when a thread / the engine took it up */
    double    t_first;      /* first text event (async only) */
    double    t_done;
    long      text_events;
    size_t    text_bytes;
    ac_status st;
} slot;

typedef struct opts {
    const char *mode;
    const char *url;
    const char *plugin_dir;
    const char *latencies;
    size_t      n;
    int         single;
    int         threads;
} opts;

static atomic_size_t g_done;

static void usage(void)
{
    fprintf(stderr, "usage: bench_client --mode async|pool --url URL --plugin-dir DIR "
                    "[-n N] [--single R] [--threads T] [--latencies FILE]\n");
    exit(2);
}

static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->n = 1000;
    o->single = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (strcmp(a, "--mode") == 0)
            o->mode = v;
        else if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--plugin-dir") == 0)
            o->plugin_dir = v;
        else if (strcmp(a, "--latencies") == 0)
            o->latencies = v;
        else if (strcmp(a, "-n") == 0)
            o->n = strtoul(v, NULL, 10);
        else if (strcmp(a, "--single") == 0)
            o->single = atoi(v);
        else if (strcmp(a, "--threads") == 0)
            o->threads = atoi(v);
        else
            return -1;
        i++;
    }
    if (!o->mode || !o->url || !o->plugin_dir || o->n == 0 || o->single < 1)
        return -1;
    if (strcmp(o->mode, "async") != 0 && strcmp(o->mode, "pool") != 0)
        return -1;
    return 0;
}

/* The config the brief asks for: the openai plugin from the build tree,
 * room for every connection at once, no retries (a failure must show). */
static char *write_config(const opts *o)
{
    char *path = strdup("/tmp/acore-bench-XXXXXX");
    if (!path)
        return NULL;
    int fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        free(path);
        return NULL;
    }
    fprintf(f,
            "abstractcore = {\n"
            "  plugin_path = [ \"%s\" ];\n"
            "  engine = { max_connections = 2048; };\n"
            "};\n"
            "providers = ( { name = \"openai\"; plugin = \"openai\";\n"
            "  base_url = \"%s/v1\"; api_key = \"bench\"; max_retries = 0; } );\n",
            o->plugin_dir, o->url);
    if (fclose(f) != 0) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

/* Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0), so
 * VmHWM after the batch is the batch's own peak. */
static int reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* async                                                               */
/* ------------------------------------------------------------------ */

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    slot *s = user;
    if (c->type == AC_EVENT_TEXT) {
        if (s->text_events == 0)
            s->t_first = bench_now_ms();
        s->text_events++;
        s->text_bytes += c->len;
    }
}

static void on_done(ac_request *q, ac_status st, void *user)
{
    slot *s = user;
    s->t_done = bench_now_ms();
    s->st = st;
    atomic_fetch_add(&g_done, 1);
}

static const ac_callbacks callbacks = {
    .version = AC_CALLBACKS_VERSION, .on_event = on_event, .on_done = on_done,
};

static void report_failure(ac_request *q, size_t i)
{
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac_request_status(q, &err);
    fprintf(stderr, "bench_client: request %zu failed: %s [%s]: %s\n", i,
            ac_strerror(st), ac_stage_name(err.stage), err.message);
}

/* One request alone, start to finish, on the async path. */
static double one_async(ac_llm *llm, const ac_gen_params *p)
{
    slot s;
    memset(&s, 0, sizeof s);
    s.t_start = bench_now_ms();
    ac_request *q = ac_agenerate(llm, PROMPT, p, &callbacks, &s, NULL);
    if (!q)
        return -1;
    ac_request_wait(q, -1);
    double lat = s.st == AC_OK ? s.t_done - s.t_start : -1;
    if (s.st != AC_OK)
        report_failure(q, 0);
    ac_request_free(q);
    return lat;
}

static double one_blocking(ac_llm *llm, const ac_gen_params *p)
{
    ac_error err;
    double t0 = bench_now_ms();
    ac_response *r = ac_generate(llm, PROMPT, p, &err);
    double t1 = bench_now_ms();
    if (!r) {
        fprintf(stderr, "bench_client: single request failed: %s: %s\n",
                ac_strerror(err.code), err.message);
        return -1;
    }
    ac_response_free(r);
    return t1 - t0;
}

typedef struct sample {
    int  threads_max;
    long rss_max_kib;
} sample;

static void take_sample(sample *sm)
{
    int t = bench_threads();
    long r = bench_status_kib("VmRSS");
    if (t > sm->threads_max)
        sm->threads_max = t;
    if (r > sm->rss_max_kib)
        sm->rss_max_kib = r;
}

static int run_async(ac_llm *llm, const ac_gen_params *p, const opts *o,
                     slot *slots, sample *sm)
{
    ac_request **reqs = calloc(o->n, sizeof *reqs);
    if (!reqs)
        return -1;
    size_t start_failed = 0;
    double t0 = bench_now_ms();
    for (size_t i = 0; i < o->n; i++) {
        slots[i].t_start = slots[i].t_service = bench_now_ms();
        reqs[i] = ac_agenerate(llm, PROMPT, p, &callbacks, &slots[i], NULL);
        if (!reqs[i]) {
            slots[i].st = AC_ENOMEM;
            slots[i].t_done = bench_now_ms();
            start_failed++;
        }
        if (i % 100 == 0)
            take_sample(sm);
    }
    double t_issued = bench_now_ms();
    /* Wait in short slices so the thread count and RSS can be sampled
     * while everything is in flight. */
    ac_status st;
    do {
        st = ac_gather(reqs, o->n, 20);
        take_sample(sm);
    } while (st == AC_ETIMEDOUT && bench_now_ms() - t0 < GATHER_LIMIT_MS);
    if (st != AC_OK)
        fprintf(stderr, "bench_client: ac_gather: %s\n", ac_strerror(st));
    size_t reported = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (reqs[i] && slots[i].st != AC_OK && reported++ < 3)
            report_failure(reqs[i], i);
        ac_request_free(reqs[i]);
    }
    free(reqs);
    printf("issue_ms=%.2f\nstart_failed=%zu\n", t_issued - t0, start_failed);
    return 0;
}

/* ------------------------------------------------------------------ */
/* pool                                                                */
/* ------------------------------------------------------------------ */

typedef struct pool {
    ac_llm              *llm;
    const ac_gen_params *params;
    slot                *slots;
    size_t               n;
    atomic_size_t        next;
} pool;

static void *pool_worker(void *arg)
{
    pool *pl = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&pl->next, 1);
        if (i >= pl->n)
            break;
        slot *s = &pl->slots[i];
        ac_error err;
        s->t_service = bench_now_ms();
        ac_response *r = ac_generate(pl->llm, PROMPT, pl->params, &err);
        s->t_done = bench_now_ms();
        if (r) {
            s->st = AC_OK;
            s->text_bytes = ac_response_content_len(r);
            s->text_events = s->text_bytes > 0;
            ac_response_free(r);
        } else {
            s->st = err.code;
            if (s->st == AC_OK)
                s->st = AC_EPROTOCOL;
            fprintf(stderr, "bench_client: request %zu failed: %s [%s]: %s\n", i,
                    ac_strerror(err.code), ac_stage_name(err.stage), err.message);
        }
        atomic_fetch_add(&g_done, 1);
    }
    return NULL;
}

static int run_pool(ac_llm *llm, const ac_gen_params *p, const opts *o,
                    slot *slots, sample *sm)
{
    int nt = o->threads > 0 ? o->threads : bench_cores() + 4;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    if (!th)
        return -1;
    pool pl = { .llm = llm, .params = p, .slots = slots, .n = o->n };
    atomic_init(&pl.next, 0);
    double t0 = bench_now_ms();
    for (size_t i = 0; i < o->n; i++)
        slots[i].t_start = t0;     /* all asked for at once, queued */
    int started = 0;
    for (int i = 0; i < nt; i++) {
        if (pthread_create(&th[i], NULL, pool_worker, &pl) != 0) {
            fprintf(stderr, "bench_client: pthread_create failed\n");
            break;
        }
        started++;
    }
    while (started > 0 && atomic_load(&g_done) < o->n &&
           bench_now_ms() - t0 < GATHER_LIMIT_MS) {
        take_sample(sm);
        usleep(20000);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    printf("pool_threads=%d\n", nt);
    return started > 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o) != 0)
        usage();
    bench_raise_nofile();
    int is_async = strcmp(o.mode, "async") == 0;
    int rc = 1;
    char *cfg = NULL;
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_gen_params *params = NULL;
    slot *slots = NULL;
    double *lat = NULL, *aux = NULL, *single = NULL;
    ac_error err;
    ac_error_clear(&err);

    cfg = write_config(&o);
    if (!cfg) {
        perror("bench_client: config file");
        goto done;
    }
    if (ac_core_open(&core, cfg, &err) != AC_OK) {
        fprintf(stderr, "bench_client: ac_core_open: %s\n", err.message);
        goto done;
    }
    llm = ac_llm_create(core, "openai", "bench", NULL, &err);
    if (!llm) {
        fprintf(stderr, "bench_client: ac_llm_create: %s\n", err.message);
        goto done;
    }
    params = ac_gen_params_new();
    slots = calloc(o.n, sizeof *slots);
    lat = calloc(o.n, sizeof *lat);
    aux = calloc(o.n, sizeof *aux);
    single = calloc((size_t)o.single, sizeof *single);
    if (!params || !slots || !lat || !aux || !single) {
        fprintf(stderr, "bench_client: out of memory\n");
        goto done;
    }
    if (ac_gen_params_set_stream(params, 1) != AC_OK)
        goto done;

    /* A single request at a time: one to warm up (plugin, connection
     * code paths), then the timed ones. */
    double (*one)(ac_llm *, const ac_gen_params *) = is_async ? one_async : one_blocking;
    if (one(llm, params) < 0)
        goto done;
    for (int i = 0; i < o.single; i++)
        if ((single[i] = one(llm, params)) < 0)
            goto done;
    bench_stats ss;
    bench_stats_of(single, (size_t)o.single, &ss);

    sample sm = { 0, 0 };
    int threads_before = bench_threads();
    long rss_before = bench_status_kib("VmRSS");
    int hwm_reset = reset_hwm() == 0;
    double cpu0 = bench_cpu_ms();
    double t0 = bench_now_ms();
    atomic_store(&g_done, 0);
    printf("mode=%s\nn=%zu\n", o.mode, o.n);
    if ((is_async ? run_async : run_pool)(llm, params, &o, slots, &sm) != 0)
        goto done;
    double t1 = bench_now_ms();
    double cpu1 = bench_cpu_ms();
    long hwm_after = bench_status_kib("VmHWM");
    long peak = hwm_reset ? hwm_after : sm.rss_max_kib;

    size_t ok = 0, n_first = 0;
    long ev_min = -1, ev_max = 0;
    double t_last = t0;
    for (size_t i = 0; i < o.n; i++) {
        slot *s = &slots[i];
        if (s->t_done > t_last)
            t_last = s->t_done;
        if (s->st != AC_OK)
            continue;
        lat[ok] = s->t_done - s->t_start;
        if (s->t_first > 0)
            aux[n_first++] = s->t_first - s->t_start;
        if (ev_min < 0 || s->text_events < ev_min)
            ev_min = s->text_events;
        if (s->text_events > ev_max)
            ev_max = s->text_events;
        ok++;
    }
    bench_stats ls, fs;
    bench_stats_of(lat, ok, &ls);           /* sorts: the file is a CDF */
    bench_write_values(o.latencies, lat, ok);
    bench_stats_of(aux, n_first, &fs);
    /* Service time (pool): how long each call itself took, queueing left out. */
    size_t n_serv = 0;
    for (size_t i = 0; i < o.n; i++)
        if (slots[i].st == AC_OK)
            aux[n_serv++] = slots[i].t_done - slots[i].t_service;
    bench_stats vs;
    bench_stats_of(aux, n_serv, &vs);

    printf("ok=%zu\nfailed=%zu\n", ok, o.n - ok);
    printf("single_n=%d\n", o.single);
    bench_print_stats("single", &ss);
    bench_print_stats("lat", &ls);
    if (n_first)
        bench_print_stats("ttft", &fs);
    bench_print_stats("service", &vs);
    printf("wall_ms=%.2f\n", t_last - t0);
    printf("batch_ms=%.2f\n", t1 - t0);
    printf("ratio_wall=%.3f\n", ss.p50 > 0 ? (t_last - t0) / ss.p50 : 0.0);
    printf("ratio_p99=%.3f\n", ss.p50 > 0 ? ls.p99 / ss.p50 : 0.0);
    printf("cpu_ms=%.2f\n", cpu1 - cpu0);
    printf("cpu_per_req_ms=%.4f\n", (cpu1 - cpu0) / (double)o.n);
    printf("rss_before_kib=%ld\n", rss_before);
    printf("rss_peak_kib=%ld\n", peak);
    printf("rss_peak_source=%s\n", hwm_reset ? "VmHWM" : "VmRSS-sampled");
    printf("kib_per_req=%.2f\n", (double)(peak - rss_before) / (double)o.n);
    printf("threads_before=%d\n", threads_before);
    printf("threads_max=%d\n", sm.threads_max > threads_before ? sm.threads_max : threads_before);
    printf("text_events_min=%ld\ntext_events_max=%ld\n", ev_min < 0 ? 0 : ev_min, ev_max);
    rc = ok == o.n ? 0 : 1;

done:
    free(single);
    free(aux);
    free(lat);
    free(slots);
    ac_gen_params_free(params);
    ac_llm_free(llm);
    ac_core_close(core);
    if (cfg) {
        unlink(cfg);
        free(cfg);
    }
    fflush(stdout);
    return rc;
}
