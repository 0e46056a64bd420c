/*
 * gw_metrics.c -- what GET /metrics reports, in the Prometheus text
 * format (version 0.0.4).
 *
 * Two sources: the gateway's own HTTP requests (gw_metrics_http and the
 * gauges, from gw_http.c and gw_chat.c), and every event of every
 * upstream request from the core's hook (gw_metrics_hook: tries,
 * retries, fallbacks, circuit changes, first tokens, ends with status,
 * latency and tokens), per provider and model.
 *
 * Model names come from clients, so the number of provider/model series
 * is bounded (MAX_SERIES): past it, new models of a provider are counted
 * under model="_other".  Key ids are the configuration's, so bounded.
 *
 * Not thread-safe: the hook and the HTTP handlers run on the gateway's
 * one loop thread (the core is in host mode), and so does rendering.
 */
#include "gw.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NB 15
static const double BOUNDS[NB] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                  2.5,   5,    10,   30,    60,   120, 300};
#define MAX_SERIES 512

typedef struct hist {
    unsigned long long b[NB];
    unsigned long long count;
    double             sum;
} hist;

typedef struct pm {
    char              *provider, *model;
    unsigned long long requests, attempts, retries, fallbacks, rate_waits;
    unsigned long long tok_in, tok_out;
    unsigned long long errors[AC_STATUS_LAST];
    long               inflight;
    int                circuit;   /* 0 closed, 1 open, 2 half open */
    hist               latency, ttft;
} pm;

static const char *const ENDPOINTS[] = {"chat_completions", "messages", "models", "embeddings",
                                        "health", "ready", "metrics", "other"};
#define NE (sizeof ENDPOINTS / sizeof ENDPOINTS[0])

typedef struct status_count {
    int                endpoint, status;
    unsigned long long n;
} status_count;

typedef struct key_count {
    char              *id;
    unsigned long long requests, limited;
} key_count;

typedef struct req_slot {
    unsigned long long id;   /* 0: empty */
    int                series;
} req_slot;

struct gw_metrics {
    pm                *series;
    size_t             n_series;
    status_count      *statuses;
    size_t             n_statuses;
    hist               http[NE];
    key_count         *keys;
    size_t             n_keys;
    long               inflight, streams, paused;
    unsigned long long disconnects, auth_failures;
    req_slot          *reqs;      /* request id -> series, for in-flight */
    size_t             req_cap, req_n;
    double             start;
};

gw_metrics *gw_metrics_new(void)
{
    gw_metrics *m = calloc(1, sizeof *m);
    if (m)
        m->start = (double)time(NULL);
    return m;
}

void gw_metrics_free(gw_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_series; i++) {
        free(m->series[i].provider);
        free(m->series[i].model);
    }
    free(m->series);
    free(m->statuses);
    for (size_t i = 0; i < m->n_keys; i++)
        free(m->keys[i].id);
    free(m->keys);
    free(m->reqs);
    free(m);
}

static void observe(hist *h, double v)
{
    for (int i = 0; i < NB; i++)
        if (v <= BOUNDS[i])
            h->b[i]++;
    h->count++;
    h->sum += v;
}

/* The series of provider/model, made on first use; -1 on no memory. */
static int series(gw_metrics *m, const char *provider, const char *model)
{
    for (size_t i = 0; i < m->n_series; i++)
        if (strcmp(m->series[i].provider, provider) == 0 &&
            strcmp(m->series[i].model, model) == 0)
            return (int)i;
    if (m->n_series >= MAX_SERIES && strcmp(model, "_other") != 0)
        return series(m, provider, "_other");
    if (m->n_series >= MAX_SERIES + 64) /* even the _other rows are bounded */
        return 0;
    pm *v = realloc(m->series, (m->n_series + 1) * sizeof *v);
    if (!v)
        return -1;
    m->series = v;
    pm *s = &v[m->n_series];
    memset(s, 0, sizeof *s);
    s->provider = strdup(provider);
    s->model = strdup(model);
    if (!s->provider || !s->model) {
        free(s->provider);
        free(s->model);
        return -1;
    }
    return (int)m->n_series++;
}

/* ---- request id -> series (open addressing, linear probing) ---- */

static req_slot *req_find(gw_metrics *m, unsigned long long id)
{
    if (!m->req_cap)
        return NULL;
    size_t i = (size_t)(id * 0x9E3779B97F4A7C15ULL) & (m->req_cap - 1);
    while (m->reqs[i].id && m->reqs[i].id != id)
        i = (i + 1) & (m->req_cap - 1);
    return &m->reqs[i];
}

static void req_put(gw_metrics *m, unsigned long long id, int s)
{
    if ((m->req_n + 1) * 2 > m->req_cap) {
        size_t cap = m->req_cap ? m->req_cap * 2 : 64;
        req_slot *old = m->reqs;
        size_t oldcap = m->req_cap;
        req_slot *nv = calloc(cap, sizeof *nv);
        if (!nv)
            return; /* not counted in flight: a gauge off by one, not a crash */
        m->reqs = nv;
        m->req_cap = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].id)
                *req_find(m, old[i].id) = old[i];
        free(old);
    }
    req_slot *r = req_find(m, id);
    if (!r->id)
        m->req_n++;
    r->id = id;
    r->series = s;
}

/* Remove id; its series, or -1. */
static int req_take(gw_metrics *m, unsigned long long id)
{
    req_slot *r = req_find(m, id);
    if (!r || !r->id)
        return -1;
    int s = r->series;
    /* Backward-shift deletion keeps every probe chain whole. */
    size_t i = (size_t)(r - m->reqs), j = i;
    for (;;) {
        j = (j + 1) & (m->req_cap - 1);
        if (!m->reqs[j].id)
            break;
        size_t home = (size_t)(m->reqs[j].id * 0x9E3779B97F4A7C15ULL) & (m->req_cap - 1);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->reqs[i] = m->reqs[j];
            i = j;
        }
    }
    m->reqs[i].id = 0;
    m->req_n--;
    return s;
}

void gw_metrics_hook(const ac_hook_event *ev, void *user)
{
    gw_metrics *m = user;
    int s = series(m, ev->provider, ev->model);
    if (s < 0)
        return;
    pm *p = &m->series[s];
    switch (ev->kind) {
    case AC_HOOK_REQUEST_START:
        p->inflight++;
        req_put(m, ev->request_id, s);
        break;
    case AC_HOOK_ATTEMPT_START: p->attempts++; break;
    case AC_HOOK_RETRY: p->retries++; break;
    case AC_HOOK_FALLBACK: p->fallbacks++; break;
    case AC_HOOK_RATE_WAIT: p->rate_waits++; break;
    case AC_HOOK_FIRST_TOKEN: observe(&p->ttft, ev->elapsed_ms / 1000.0); break;
    case AC_HOOK_CIRCUIT:
        p->circuit = strcmp(ev->circuit, "open") == 0 ? 1
                     : strcmp(ev->circuit, "half_open") == 0 ? 2 : 0;
        break;
    case AC_HOOK_REQUEST_END: {
        /* In flight where it started; the rest where it ended (a
         * fallback answers under another provider). */
        int s0 = req_take(m, ev->request_id);
        if (s0 >= 0)
            m->series[s0].inflight--;
        p->requests++;
        if (ev->status != AC_OK && (unsigned)ev->status < AC_STATUS_LAST)
            p->errors[ev->status]++;
        observe(&p->latency, ev->latency_ms / 1000.0);
        if (ev->input_tokens > 0)
            p->tok_in += (unsigned long long)ev->input_tokens;
        if (ev->output_tokens > 0)
            p->tok_out += (unsigned long long)ev->output_tokens;
        break;
    }
    default: break;
    }
}

static int endpoint_index(const char *e)
{
    for (size_t i = 0; i < NE; i++)
        if (strcmp(ENDPOINTS[i], e) == 0)
            return (int)i;
    return (int)NE - 1;
}

static key_count *key_row(gw_metrics *m, const char *id)
{
    for (size_t i = 0; i < m->n_keys; i++)
        if (strcmp(m->keys[i].id, id) == 0)
            return &m->keys[i];
    key_count *v = realloc(m->keys, (m->n_keys + 1) * sizeof *v);
    if (!v)
        return NULL;
    m->keys = v;
    v[m->n_keys].requests = v[m->n_keys].limited = 0;
    if (!(v[m->n_keys].id = strdup(id)))
        return NULL;
    return &v[m->n_keys++];
}

void gw_metrics_http(gw_metrics *m, const char *endpoint, int status, double seconds,
                     const char *key_id)
{
    int e = endpoint_index(endpoint);
    observe(&m->http[e], seconds);
    size_t i;
    for (i = 0; i < m->n_statuses; i++)
        if (m->statuses[i].endpoint == e && m->statuses[i].status == status)
            break;
    if (i == m->n_statuses) {
        status_count *v = realloc(m->statuses, (m->n_statuses + 1) * sizeof *v);
        if (!v)
            return;
        m->statuses = v;
        v[i].endpoint = e;
        v[i].status = status;
        v[i].n = 0;
        m->n_statuses++;
    }
    m->statuses[i].n++;
    if (key_id && strcmp(key_id, "-") != 0) {
        key_count *k = key_row(m, key_id);
        if (k)
            k->requests++;
    }
}

void gw_metrics_gauge(gw_metrics *m, const char *which, int delta)
{
    if (strcmp(which, "inflight") == 0)
        m->inflight += delta;
    else if (strcmp(which, "streams") == 0)
        m->streams += delta;
    else if (strcmp(which, "paused") == 0)
        m->paused += delta;
}

void gw_metrics_count(gw_metrics *m, const char *which, const char *label)
{
    if (strcmp(which, "disconnect") == 0) {
        m->disconnects++;
    } else if (strcmp(which, "auth_failure") == 0) {
        m->auth_failures++;
    } else if (strcmp(which, "rate_limited") == 0 && label) {
        key_count *k = key_row(m, label);
        if (k)
            k->limited++;
    }
}

/* ---- rendering ---- */

/* A label value, escaped as the format wants. */
static void label(jbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            jb_raw(b, "\\", 1);
        if (*v == '\n')
            jb_raw(b, "\\n", 2);
        else
            jb_raw(b, v, 1);
    }
}

static void head(jbuf *b, const char *name, const char *type, const char *help)
{
    jb_fmt(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void pm_labels(jbuf *b, const pm *p)
{
    jb_cstr(b, "provider=\"");
    label(b, p->provider);
    jb_cstr(b, "\",model=\"");
    label(b, p->model);
    jb_cstr(b, "\"");
}

static void hist_out(jbuf *b, const char *name, const hist *h, void (*labels)(jbuf *, const void *),
                     const void *ctx)
{
    for (int i = 0; i <= NB; i++) {
        jb_fmt(b, "%s_bucket{", name);
        labels(b, ctx);
        if (i < NB)
            jb_fmt(b, ",le=\"%g\"} %llu\n", BOUNDS[i], h->b[i]);
        else
            jb_fmt(b, ",le=\"+Inf\"} %llu\n", h->count);
    }
    jb_fmt(b, "%s_sum{", name);
    labels(b, ctx);
    jb_fmt(b, "} %.6f\n%s_count{", h->sum, name);
    labels(b, ctx);
    jb_fmt(b, "} %llu\n", h->count);
}

static void pm_labels_v(jbuf *b, const void *p) { pm_labels(b, p); }
static void ep_labels_v(jbuf *b, const void *e)
{
    jb_fmt(b, "endpoint=\"%s\"", (const char *)e);
}

/* A counter (or gauge) of every series: the field at offset. */
static void per_series(jbuf *b, gw_metrics *m, const char *name, const char *type,
                       const char *help, size_t offset, int is_long)
{
    head(b, name, type, help);
    for (size_t i = 0; i < m->n_series; i++) {
        const pm *p = &m->series[i];
        jb_fmt(b, "%s{", name);
        pm_labels(b, p);
        if (is_long)
            jb_fmt(b, "} %ld\n", *(const long *)(const void *)((const char *)p + offset));
        else
            jb_fmt(b, "} %llu\n",
                   *(const unsigned long long *)(const void *)((const char *)p + offset));
    }
}

static void process_metrics(jbuf *b, const gw_metrics *m)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        head(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
        jb_fmt(b, "process_cpu_seconds_total %.3f\n",
               (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    }
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total, pages_res;
    if (f && fscanf(f, "%ld %ld", &pages_total, &pages_res) == 2) {
        head(b, "process_resident_memory_bytes", "gauge", "Resident memory size.");
        jb_fmt(b, "process_resident_memory_bytes %lld\n",
               (long long)pages_res * (long long)sysconf(_SC_PAGESIZE));
    }
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = -1; /* the listing's own descriptor */
        while (readdir(d))
            n++;
        closedir(d);
        head(b, "process_open_fds", "gauge", "Open file descriptors.");
        jb_fmt(b, "process_open_fds %ld\n", n - 2); /* . and .. */
    }
    head(b, "process_start_time_seconds", "gauge", "Start time since the epoch.");
    jb_fmt(b, "process_start_time_seconds %.0f\n", m->start);
}

char *gw_metrics_render(gw_metrics *m, size_t *len)
{
    jbuf b = {0};
    head(&b, "acore_gateway_requests_total", "counter",
         "HTTP requests answered, by endpoint and status.");
    for (size_t i = 0; i < m->n_statuses; i++)
        jb_fmt(&b, "acore_gateway_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
               ENDPOINTS[m->statuses[i].endpoint], m->statuses[i].status, m->statuses[i].n);
    head(&b, "acore_gateway_request_duration_seconds", "histogram",
         "HTTP request time, from the request to the last byte of the answer.");
    for (size_t e = 0; e < NE; e++)
        if (m->http[e].count)
            hist_out(&b, "acore_gateway_request_duration_seconds", &m->http[e], ep_labels_v,
                     ENDPOINTS[e]);
    head(&b, "acore_gateway_requests_in_flight", "gauge", "HTTP requests being handled.");
    jb_fmt(&b, "acore_gateway_requests_in_flight %ld\n", m->inflight);
    head(&b, "acore_gateway_streams_open", "gauge", "Streamed replies being sent.");
    jb_fmt(&b, "acore_gateway_streams_open %ld\n", m->streams);
    head(&b, "acore_gateway_streams_paused", "gauge",
         "Streams whose backend is paused because their client reads slower.");
    jb_fmt(&b, "acore_gateway_streams_paused %ld\n", m->paused);
    head(&b, "acore_gateway_client_disconnects_total", "counter",
         "Clients that left before their reply ended (the backend request is cancelled).");
    jb_fmt(&b, "acore_gateway_client_disconnects_total %llu\n", m->disconnects);
    head(&b, "acore_gateway_auth_failures_total", "counter",
         "Requests refused for a missing or unknown key.");
    jb_fmt(&b, "acore_gateway_auth_failures_total %llu\n", m->auth_failures);
    head(&b, "acore_gateway_key_requests_total", "counter", "Requests per client key.");
    for (size_t i = 0; i < m->n_keys; i++) {
        jb_cstr(&b, "acore_gateway_key_requests_total{key=\"");
        label(&b, m->keys[i].id);
        jb_fmt(&b, "\"} %llu\n", m->keys[i].requests);
    }
    head(&b, "acore_gateway_rate_limited_total", "counter",
         "Requests refused with 429 by a key's rpm.");
    for (size_t i = 0; i < m->n_keys; i++) {
        jb_cstr(&b, "acore_gateway_rate_limited_total{key=\"");
        label(&b, m->keys[i].id);
        jb_fmt(&b, "\"} %llu\n", m->keys[i].limited);
    }

    per_series(&b, m, "acore_upstream_requests_total", "counter",
               "Backend requests ended (model listings included), where they ended.",
               offsetof(pm, requests), 0);
    head(&b, "acore_upstream_errors_total", "counter", "Backend requests that failed, by error.");
    for (size_t i = 0; i < m->n_series; i++)
        for (int st = 1; st < AC_STATUS_LAST; st++)
            if (m->series[i].errors[st]) {
                const char *name = ac_strerror((ac_status)st), *colon = strchr(name, ':');
                jb_cstr(&b, "acore_upstream_errors_total{");
                pm_labels(&b, &m->series[i]);
                jb_fmt(&b, ",error=\"%.*s\"} %llu\n",
                       (int)(colon ? (size_t)(colon - name) : strlen(name)), name,
                       m->series[i].errors[st]);
            }
    per_series(&b, m, "acore_upstream_in_flight", "gauge", "Backend requests running.",
               offsetof(pm, inflight), 1);
    per_series(&b, m, "acore_upstream_attempts_total", "counter",
               "Tries sent to the backend (retries and fallbacks included).",
               offsetof(pm, attempts), 0);
    per_series(&b, m, "acore_upstream_retries_total", "counter", "Tries retried.",
               offsetof(pm, retries), 0);
    per_series(&b, m, "acore_upstream_fallbacks_total", "counter",
               "Requests moved to a fallback provider from this one.", offsetof(pm, fallbacks),
               0);
    per_series(&b, m, "acore_upstream_rate_limit_waits_total", "counter",
               "Requests held back by the provider's own rpm / tpm.", offsetof(pm, rate_waits),
               0);
    head(&b, "acore_upstream_circuit_state", "gauge",
         "The circuit breaker: 0 closed, 1 open, 2 half open.");
    for (size_t i = 0; i < m->n_series; i++) {
        jb_cstr(&b, "acore_upstream_circuit_state{");
        pm_labels(&b, &m->series[i]);
        jb_fmt(&b, "} %d\n", m->series[i].circuit);
    }
    head(&b, "acore_upstream_tokens_total", "counter", "Tokens the backends reported.");
    for (size_t i = 0; i < m->n_series; i++) {
        jb_cstr(&b, "acore_upstream_tokens_total{");
        pm_labels(&b, &m->series[i]);
        jb_fmt(&b, ",direction=\"input\"} %llu\nacore_upstream_tokens_total{",
               m->series[i].tok_in);
        pm_labels(&b, &m->series[i]);
        jb_fmt(&b, ",direction=\"output\"} %llu\n", m->series[i].tok_out);
    }
    head(&b, "acore_upstream_request_duration_seconds", "histogram",
         "Backend request time, every try included.");
    for (size_t i = 0; i < m->n_series; i++)
        if (m->series[i].latency.count)
            hist_out(&b, "acore_upstream_request_duration_seconds", &m->series[i].latency,
                     pm_labels_v, &m->series[i]);
    head(&b, "acore_upstream_time_to_first_token_seconds", "histogram",
         "From the request to its first content.");
    for (size_t i = 0; i < m->n_series; i++)
        if (m->series[i].ttft.count)
            hist_out(&b, "acore_upstream_time_to_first_token_seconds", &m->series[i].ttft,
                     pm_labels_v, &m->series[i]);
    process_metrics(&b, m);
    if (b.oom) {
        jb_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
