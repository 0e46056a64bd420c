/*
 * bench_client.c -- libabstractcore under load, against a mock server.
 *
 * N streaming chat requests through the library, all started at once,
 * in one of three designs (each run in its own process, so peak memory
 * and CPU time belong to one design):
 *
 *   --mode thread  the default: ac_agenerate with callbacks for every
 *                  request, then ac_gather; the core's engine thread
 *                  drives all of them on one libcurl multi handle.
 *                  ("async" is accepted for the same.)
 *   --mode host    the same requests on a core opened with
 *                  engine.mode = "host": no engine thread; this program's
 *                  own poll() loop watches ac_core_backend_fd and
 *                  ac_core_backend_timeout and calls ac_core_run_once.
 *   --mode pool    the thread-per-request design the library replaces: a
 *                  pool of (cores + 4) threads, each calling the blocking
 *                  ac_generate for the next request.
 *
 * --single K: with K > 0, one request to warm up, then K requests one
 * after another (their median is "a single request"), then the batch.
 * With K = 0 the batch is the first thing the fresh core does (the
 * "first burst" scenario).  The core is opened with the library's
 * defaults: no connection cap, no engine settings.
 *
 * Results go to stdout as key=value lines for bench/run-bench.sh;
 * problems go to stderr.  The server (acore-mockd) runs in another
 * process, so the CPU time measured here is the client's alone.
 *
 * Usage: bench_client --mode thread|host|pool --url http://127.0.0.1:PORT
 *                     --plugin-dir DIR [-n 1000] [--single 5]
 *                     [--threads T] [--latencies FILE]
 */
#include <abstractcore/abstractcore.h>
#include "bench_common.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROMPT "Write a short poem about benchmarks."
#define LIMIT_MS (10.0 * 60 * 1000)
#define SAMPLE_MS 50

typedef struct slot {
    double    t_start;      /* when the caller asked for it */
    double    t_first;      /* first text event */
    double    t_done;
    long      text_events;
    size_t    text_bytes;
    ac_status st;
} slot;

typedef enum { MODE_THREAD, MODE_HOST, MODE_POOL } mode;

typedef struct opts {
    mode        mode;
    const char *mode_name;
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
    fprintf(stderr, "usage: bench_client --mode thread|host|pool --url URL --plugin-dir DIR "
                    "[-n N] [--single K] [--threads T] [--latencies FILE]\n");
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
            o->mode_name = v;
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
    if (!o->mode_name || !o->url || !o->plugin_dir || o->n == 0 || o->single < 0)
        return -1;
    if (strcmp(o->mode_name, "thread") == 0 || strcmp(o->mode_name, "async") == 0)
        o->mode = MODE_THREAD;
    else if (strcmp(o->mode_name, "host") == 0)
        o->mode = MODE_HOST;
    else if (strcmp(o->mode_name, "pool") == 0)
        o->mode = MODE_POOL;
    else
        return -1;
    return 0;
}

/* The openai plugin from the build tree, the mock as its base URL, no
 * retries (a failure must show) and nothing else: the engine's defaults. */
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
            "abstractcore = { plugin_path = [ \"%s\" ]; };\n"
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

/* ------------------------------------------------------------------ */
/* callbacks (the engine thread, or inside ac_core_run_once)           */
/* ------------------------------------------------------------------ */

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
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
    (void)q;
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

/* ------------------------------------------------------------------ */
/* waiting: ac_gather (thread mode) or our own poll() loop (host mode)  */
/* ------------------------------------------------------------------ */

/* Host mode: the whole event loop of the application.  Runs until
 * g_done reaches `target`, sampling threads and RSS now and then. */
static int host_loop(ac_core *core, size_t target, bench_sample *sm)
{
    int fd = ac_core_backend_fd(core);
    if (fd < 0)
        return -1;
    double t0 = bench_now_ms(), t_sample = t0;
    while (atomic_load(&g_done) < target) {
        double now = bench_now_ms();
        if (now - t0 > LIMIT_MS) {
            fprintf(stderr, "bench_client: host loop gave up after %.0f ms\n", now - t0);
            return -1;
        }
        int timeout = ac_core_backend_timeout(core);
        if (sm && (timeout < 0 || timeout > SAMPLE_MS))
            timeout = SAMPLE_MS;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, timeout) < 0)
            continue;   /* EINTR */
        ac_status st = ac_core_run_once(core);
        if (st != AC_OK) {
            fprintf(stderr, "bench_client: ac_core_run_once: %s\n", ac_strerror(st));
            return -1;
        }
        if (sm && bench_now_ms() - t_sample >= SAMPLE_MS) {
            bench_take_sample(sm);
            t_sample = bench_now_ms();
        }
    }
    return 0;
}

static int wait_all(ac_core *core, ac_request **reqs, size_t n, size_t target,
                    bench_sample *sm)
{
    if (ac_core_host_mode(core))
        return host_loop(core, target, sm);
    double t0 = bench_now_ms();
    ac_status st;
    /* Short slices, so the thread count can be sampled meanwhile. */
    do {
        st = ac_gather(reqs, n, SAMPLE_MS);
        if (sm)
            bench_take_sample(sm);
    } while (st == AC_ETIMEDOUT && bench_now_ms() - t0 < LIMIT_MS);
    if (st != AC_OK)
        fprintf(stderr, "bench_client: ac_gather: %s\n", ac_strerror(st));
    return st == AC_OK ? 0 : -1;
}

/* One request alone, start to finish, on the async path. */
static double one_async(ac_core *core, ac_llm *llm, const ac_gen_params *p)
{
    slot s;
    memset(&s, 0, sizeof s);
    size_t before = atomic_load(&g_done);
    s.t_start = bench_now_ms();
    ac_request *q = ac_agenerate(llm, PROMPT, p, &callbacks, &s, NULL);
    if (!q)
        return -1;
    if (wait_all(core, &q, 1, before + 1, NULL) != 0) {
        ac_request_free(q);
        return -1;
    }
    double lat = s.st == AC_OK ? s.t_done - s.t_start : -1;
    if (s.st != AC_OK)
        report_failure(q, 0);
    ac_request_free(q);
    return lat;
}

static double one_blocking(ac_core *core, ac_llm *llm, const ac_gen_params *p)
{
    (void)core;
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

/* ------------------------------------------------------------------ */
/* the batch: every request at once (thread and host mode)             */
/* ------------------------------------------------------------------ */

static int run_async(ac_core *core, ac_llm *llm, const ac_gen_params *p, const opts *o,
                     slot *slots, bench_sample *sm)
{
    ac_request **reqs = calloc(o->n, sizeof *reqs);
    if (!reqs)
        return -1;
    size_t start_failed = 0;
    size_t target = atomic_load(&g_done);
    double t0 = bench_now_ms();
    for (size_t i = 0; i < o->n; i++) {
        slots[i].t_start = bench_now_ms();
        ac_error err;
        reqs[i] = ac_agenerate(llm, PROMPT, p, &callbacks, &slots[i], &err);
        if (!reqs[i]) {
            if (start_failed++ < 3)
                fprintf(stderr, "bench_client: ac_agenerate: %s\n", err.message);
            slots[i].st = AC_ENOMEM;
            slots[i].t_done = bench_now_ms();
        } else {
            target++;
        }
        if (i % 500 == 0)
            bench_take_sample(sm);
    }
    double t_issued = bench_now_ms();
    int rc = wait_all(core, reqs, o->n, target, sm);
    size_t reported = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (reqs[i] && slots[i].st != AC_OK && reported++ < 3)
            report_failure(reqs[i], i);
        ac_request_free(reqs[i]);
    }
    free(reqs);
    printf("issue_ms=%.2f\nstart_failed=%zu\n", t_issued - t0, start_failed);
    return rc;
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
        ac_response *r = ac_generate(pl->llm, PROMPT, pl->params, &err);
        s->t_done = bench_now_ms();
        if (r) {
            s->st = AC_OK;
            s->text_bytes = ac_response_content_len(r);
            s->text_events = s->text_bytes > 0;
            ac_response_free(r);
        } else {
            s->st = err.code != AC_OK ? err.code : AC_EPROTOCOL;
            fprintf(stderr, "bench_client: request %zu failed: %s [%s]: %s\n", i,
                    ac_strerror(err.code), ac_stage_name(err.stage), err.message);
        }
        atomic_fetch_add(&g_done, 1);
    }
    return NULL;
}

static int run_pool(ac_llm *llm, const ac_gen_params *p, const opts *o, slot *slots,
                    bench_sample *sm)
{
    int nt = o->threads > 0 ? o->threads : bench_cores() + 4;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    if (!th)
        return -1;
    pool pl = { .llm = llm, .params = p, .slots = slots, .n = o->n };
    atomic_init(&pl.next, 0);
    size_t target = atomic_load(&g_done) + o->n;
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
    while (started > 0 && atomic_load(&g_done) < target && bench_now_ms() - t0 < LIMIT_MS) {
        bench_take_sample(sm);
        usleep(SAMPLE_MS * 1000);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    printf("pool_threads=%d\n", nt);
    return started > 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */

static ac_status open_core(const opts *o, const char *cfg, ac_core **core, ac_error *err)
{
    if (o->mode != MODE_HOST)
        return ac_core_open(core, cfg, err);
    ac_options *co = ac_options_new();
    if (!co)
        return AC_ENOMEM;
    ac_status st = ac_options_set(co, "engine.mode", "host");
    if (st == AC_OK)
        st = ac_core_open_ex(core, cfg, co, err);
    ac_options_free(co);
    return st;
}

/* Per-request figures: latency, time to first text, events seen. */
static void report_requests(const opts *o, const slot *slots, double t0, double *t_last)
{
    double *lat = calloc(o->n, sizeof *lat);
    double *ttft = calloc(o->n, sizeof *ttft);
    size_t ok = 0, n_first = 0;
    long ev_min = -1, ev_max = 0;
    *t_last = t0;
    for (size_t i = 0; i < o->n; i++) {
        const slot *s = &slots[i];
        if (s->t_done > *t_last)
            *t_last = s->t_done;
        if (s->st != AC_OK)
            continue;
        if (lat)
            lat[ok] = s->t_done - s->t_start;
        if (ttft && s->t_first > 0)
            ttft[n_first++] = s->t_first - s->t_start;
        if (ev_min < 0 || s->text_events < ev_min)
            ev_min = s->text_events;
        if (s->text_events > ev_max)
            ev_max = s->text_events;
        ok++;
    }
    printf("ok=%zu\nfailed=%zu\n", ok, o->n - ok);
    if (lat) {
        bench_stats ls;
        bench_stats_of(lat, ok, &ls);           /* sorts: the file is a CDF */
        bench_write_values(o->latencies, lat, ok);
        bench_print_stats("lat", &ls);
    }
    if (ttft && n_first) {
        bench_stats fs;
        bench_stats_of(ttft, n_first, &fs);
        bench_print_stats("ttft", &fs);
    }
    printf("text_events_min=%ld\ntext_events_max=%ld\n", ev_min < 0 ? 0 : ev_min, ev_max);
    free(lat);
    free(ttft);
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o) != 0)
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("contender=library-%s\nn=%zu\n", o.mode == MODE_THREAD ? "thread"
                                           : o.mode == MODE_HOST ? "host" : "pool", o.n);
    /* A socket per request, plus a few. */
    bench_raise_nofile((long)o.n + 64);
    int rc = 1;
    char *cfg = NULL;
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_gen_params *params = NULL;
    slot *slots = NULL;
    double *single = NULL;
    ac_error err;
    ac_error_clear(&err);

    cfg = write_config(&o);
    if (!cfg) {
        perror("bench_client: config file");
        goto done;
    }
    if (open_core(&o, cfg, &core, &err) != AC_OK) {
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
    single = calloc((size_t)o.single + 1, sizeof *single);
    if (!params || !slots || !single) {
        fprintf(stderr, "bench_client: out of memory\n");
        goto done;
    }
    if (ac_gen_params_set_stream(params, 1) != AC_OK)
        goto done;

    /* A single request at a time: one to warm up (connection, code
     * paths), then the timed ones.  None at all for a first burst. */
    if (o.single > 0) {
        double (*one)(ac_core *, ac_llm *, const ac_gen_params *) =
            o.mode == MODE_POOL ? one_blocking : one_async;
        if (one(core, llm, params) < 0)
            goto done;
        for (int i = 0; i < o.single; i++)
            if ((single[i] = one(core, llm, params)) < 0)
                goto done;
        bench_stats ss;
        bench_stats_of(single, (size_t)o.single, &ss);
        printf("single_n=%d\n", o.single);
        bench_print_stats("single", &ss);
    }

    bench_batch b;
    bench_batch_begin(&b);
    int brc = o.mode == MODE_POOL ? run_pool(llm, params, &o, slots, &b.sm)
                                  : run_async(core, llm, params, &o, slots, &b.sm);
    bench_batch_stop(&b);
    double t_last;
    report_requests(&o, slots, b.t0, &t_last);
    bench_batch_print(&b, t_last, o.n);
    size_t ok = 0;
    for (size_t i = 0; i < o.n; i++)
        ok += slots[i].st == AC_OK;
    rc = brc == 0 && ok == o.n ? 0 : 1;

done:
    free(single);
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
