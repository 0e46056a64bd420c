/*
 * engine.c -- the engine thread: every transfer of every provider on one
 * libcurl multi handle.  See engine.h.
 *
 * Life of an attempt: attempt_start makes an easy handle and adds it to the
 * multi; on_header / on_write watch the status and feed bytes to the framer
 * (or buffer a whole body); transfer_done decides: success (finalize the
 * sink), retry (before any event reached the caller, on a retryable
 * failure, after a backoff that honours Retry-After), or failure.
 *
 * Timers: connect and total are libcurl's options; first-byte and idle are
 * checked here, by a scan that runs only when the earliest deadline is due,
 * so a thousand quiet streams cost nothing per loop.
 */
#include "engine.h"
#include "alloc.h"
#include "error.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ERROR_BODY_MAX (64 * 1024)
#define RETRY_BASE_MS 500.0
#define RETRY_MAX_MS 8000.0
#define RETRY_AFTER_CAP_MS 60000L

typedef struct rq_list {
    ac_request *head;
} rq_list;

typedef struct rq_vec {
    ac_request **v;
    size_t n, cap;
} rq_vec;

struct engine {
    CURLM          *multi;
    pthread_t       thread;
    int             started;
    pthread_mutex_t mu;
    rq_vec          submitted;   /* under mu */
    rq_vec          poked;       /* under mu */
    int             stopping;    /* under mu */
    int             dead;        /* under mu: no longer takes requests */
    rq_list         active;      /* engine thread only */
    rq_list         waiting;     /* engine thread only: retry backoff */
    double          next_timer;  /* engine thread only */
};

static void list_add(rq_list *l, ac_request *q)
{
    q->prev = NULL;
    q->next = l->head;
    if (l->head)
        l->head->prev = q;
    l->head = q;
}

static void list_del(rq_list *l, ac_request *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else if (l->head == q)
        l->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->next = q->prev = NULL;
}

static int vec_push(rq_vec *v, ac_request *q)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        ac_request **nv = ac__realloc(v->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = q;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Ending an attempt                                                   */
/* ------------------------------------------------------------------ */

static void transfer_end(engine *e, ac_request *q)
{
    if (q->easy) {
        curl_multi_remove_handle(e->multi, q->easy);
        curl_easy_cleanup(q->easy);
        q->easy = NULL;
    }
    ac__framer_free(q->fr);
    q->fr = NULL;
    if (q->state == RQ_ACTIVE)
        list_del(&e->active, q);
    else if (q->state == RQ_WAITING)
        list_del(&e->waiting, q);
}

static void finish(engine *e, ac_request *q, ac_status st, const ac_error *err)
{
    transfer_end(e, q);
    q->state = RQ_DONE;
    ac__request_finish(q, st, err);
}

static void finish_canceled(engine *e, ac_request *q, const char *why)
{
    ac_error err;
    ac__error_set(&err, AC_ECANCELED, AC_STAGE_CANCELLED, "%s", why);
    ac__error_set_provider(&err, q->llm->inst->name);
    finish(e, q, AC_ECANCELED, &err);
}

static double backoff_ms(const ac_request *q)
{
    if (q->retry_after_ms >= 0)
        return (double)(q->retry_after_ms > RETRY_AFTER_CAP_MS ? RETRY_AFTER_CAP_MS
                                                              : q->retry_after_ms);
    double d = RETRY_BASE_MS;
    for (int i = 1; i < q->attempt && d < RETRY_MAX_MS; i++)
        d *= 2;
    if (d > RETRY_MAX_MS)
        d = RETRY_MAX_MS;
    /* Jitter of up to a quarter, so a burst of failures does not come back
     * all at once. */
    return d * (0.75 + 0.25 * ((double)rand() / RAND_MAX));
}

static void fail_or_retry(engine *e, ac_request *q, ac_error *err)
{
    ac__error_set_provider(err, q->llm->inst->name);
    double now = ac__now_ms();
    if (err->retryable && !atomic_load(&q->cancel) && q->sink.delivered == 0 &&
        q->attempt <= q->lim.max_retries) {
        double delay = backoff_ms(q);
        if (q->lim.total_ms <= 0 || now + delay < q->t_start + (double)q->lim.total_ms) {
            transfer_end(e, q);
            ac__sink_reset(&q->sink);
            q->state = RQ_WAITING;
            q->retry_at = now + delay;
            list_add(&e->waiting, q);
            if (q->retry_at < e->next_timer)
                e->next_timer = q->retry_at;
            return;
        }
    }
    if (q->attempt > 1) {
        char n[64];
        snprintf(n, sizeof n, " (after %d attempts)", q->attempt);
        size_t l = strlen(err->message);
        if (l + strlen(n) < sizeof err->message)
            memcpy(err->message + l, n, strlen(n) + 1);
    }
    finish(e, q, err->code, err);
}

/* ------------------------------------------------------------------ */
/* Callbacks from libcurl                                              */
/* ------------------------------------------------------------------ */

/* A server's delay in ms as a long.  Converting a double the long cannot
 * hold is undefined (x86 gives LONG_MIN: "Retry-After: 1e30" read as not
 * given), so clamp first; d is >= 0 here. */
static long ms_to_long(double d)
{
    return d >= (double)LONG_MAX ? LONG_MAX : (long)d;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    ac_request *q = ud;
    size_t len = size * n;
    char line[256];
    size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, l);
    line[l] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue): forget earlier headers. */
        q->retry_after_ms = -1;
        q->should_retry = -1;
        return len;
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return len;
    *colon = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(line, "retry-after-ms") == 0) {
        char *end;
        double ms = strtod(v, &end);
        if (end != v && ms >= 0)
            q->retry_after_ms = ms_to_long(ms);
    } else if (strcasecmp(line, "retry-after") == 0 && q->retry_after_ms < 0) {
        char *end;
        double s = strtod(v, &end);
        if (end != v && s >= 0 && *end == '\0') {
            q->retry_after_ms = ms_to_long(s * 1000.0);
        } else {
            time_t t = curl_getdate(v, NULL);
            if (t != (time_t)-1) {
                double d = difftime(t, time(NULL));
                q->retry_after_ms = d > 0 ? ms_to_long(d * 1000.0) : 0;
            }
        }
    } else if (strcasecmp(line, "x-should-retry") == 0) {
        q->should_retry = strcasecmp(v, "true") == 0 ? 1 : strcasecmp(v, "false") == 0 ? 0 : -1;
    }
    return len;
}

static ac_status on_frame(void *ctx, const ac_frame *f, ac_error *err)
{
    ac_request *q = ctx;
    const ac_provider *vt = q->llm->vt;
    ac_status st = vt->parse_event(q->llm->state, f, &q->sink, err);
    if (st != AC_OK && err->message[0] == '\0')
        ac__error_set(err, st, st == AC_ETOOBIG ? AC_STAGE_HTTP : AC_STAGE_PROTOCOL,
                  "%s while parsing a stream event",
                  st == AC_ETOOBIG ? "response exceeded max_response_bytes" : ac_strerror(st));
    return st;
}

static void first_byte(ac_request *q)
{
    long code = 0;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
    q->http_status = (int)code;
    q->got_first_byte = 1;
    if (code < 200 || code > 299) {
        q->error_body = 1;
        return;
    }
    if (q->http.framing != AC_FRAMING_NONE) {
        /* An early failure on a stream request may come back as plain JSON
         * with a 2xx status from a proxy: parse it as a whole body. */
        char *ct = NULL;
        curl_easy_getinfo(q->easy, CURLINFO_CONTENT_TYPE, &ct);
        if (ct && strncasecmp(ct, "application/json", 16) == 0)
            q->whole_body = 1;
    }
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    ac_request *q = ud;
    size_t len = size * n;
    if (atomic_load(&q->cancel))
        return 0;
    if (!q->got_first_byte)
        first_byte(q);
    q->t_last_byte = ac__now_ms();
    if (q->error_body) {
        size_t room = ERROR_BODY_MAX > q->errbody.len ? ERROR_BODY_MAX - q->errbody.len : 0;
        if (room && ac__buf_append(&q->errbody, p, len < room ? len : room) == -1)
            return 0;
        return len;
    }
    if (q->hook_backpressure && q->hook_backpressure(q->hook_ctx)) {
        atomic_store(&q->paused, 1);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (q->fr && !q->whole_body) {
        ac_status st = ac__framer_feed(q->fr, p, len, on_frame, q, &q->pending_err);
        if (st != AC_OK) {
            q->has_pending_err = 1;
            if (q->pending_err.code == AC_OK)
                ac__error_set(&q->pending_err, st, AC_STAGE_FRAMING, "%s", ac_strerror(st));
            return 0;
        }
        return len;
    }
    int rc = ac__buf_append(&q->body, p, len);
    if (rc) {
        q->has_pending_err = 1;
        if (rc == -2)
            ac__error_set(&q->pending_err, AC_ETOOBIG, AC_STAGE_HTTP,
                      "response exceeded max_response_bytes (%zu bytes)", q->lim.max_response_bytes);
        else
            ac__error_set(&q->pending_err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory");
        return 0;
    }
    return len;
}

/* The AC_CURL_VERBOSE trace, as libcurl's own but with secrets blanked:
 * libcurl prints every request header, and a trace is what people paste
 * into bug reports.  The values of the headers that carry keys, and the
 * query of the request line (where a key may ride), read "[redacted]".
 * Bodies and TLS data are not printed. */
static int secret_header(const char *line, size_t n)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "x-api-key",
                                        "api-key", "x-goog-api-key", "cookie"};
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return 0;
    size_t k = (size_t)(colon - line);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == k && strncasecmp(line, names[i], k) == 0)
            return 1;
    return 0;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h, (void)ud;
    const char *tag = type == CURLINFO_TEXT ? "* " : type == CURLINFO_HEADER_IN ? "< "
                    : type == CURLINFO_HEADER_OUT ? "> " : NULL;
    if (!tag)
        return 0;
    for (size_t i = 0; i < size;) {
        size_t end = i;
        while (end < size && data[end] != '\n')
            end++;
        size_t n = end - i;
        const char *line = data + i;
        if (n && line[n - 1] == '\r')
            n--;
        const char *q = type == CURLINFO_HEADER_OUT ? memchr(line, '?', n) : NULL;
        if (n == 0) {
            /* the blank line after the headers */
        } else if (type != CURLINFO_TEXT && secret_header(line, n)) {
            const char *colon = memchr(line, ':', n);
            fprintf(stderr, "%s%.*s: [redacted]\n", tag, (int)(colon - line), line);
        } else if (q && !memchr(line, ':', (size_t)(q - line))) {
            /* "POST /path?query HTTP/1.1" */
            const char *sp = memchr(q, ' ', n - (size_t)(q - line));
            fprintf(stderr, "%s%.*s?[redacted]%.*s\n", tag, (int)(q - line), line,
                    sp ? (int)(n - (size_t)(sp - line)) : 0, sp ? sp : "");
        } else {
            fprintf(stderr, "%s%.*s\n", tag, (int)n, line);
        }
        i = end + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Starting an attempt                                                 */
/* ------------------------------------------------------------------ */

static void attempt_start(engine *e, ac_request *q)
{
    ac_error err;
    ac_error_clear(&err);
    double now = ac__now_ms();
    q->attempt++;
    if (q->attempt == 1)
        q->t_start = now;
    q->t_attempt = q->t_last_byte = now;
    q->got_first_byte = q->error_body = q->whole_body = q->has_pending_err = 0;
    q->http_status = 0;
    q->retry_after_ms = -1;
    q->should_retry = -1;
    ac_error_clear(&q->pending_err);
    ac__buf_reset(&q->body);
    ac__buf_reset(&q->errbody);
    q->body.limit = q->lim.max_response_bytes;

    long total = 0;
    if (q->lim.total_ms > 0) {
        total = (long)((double)q->lim.total_ms - (now - q->t_start));
        if (total <= 0) {
            ac__error_set(&err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT, "total timeout (%ld ms) reached",
                      q->lim.total_ms);
            finish(e, q, AC_ETIMEDOUT, &err);
            return;
        }
    }
    if (q->http.framing != AC_FRAMING_NONE) {
        q->fr = ac__framer_new(q->http.framing, q->lim.max_response_bytes);
        if (!q->fr)
            goto oom;
    }
    CURL *h = q->easy = curl_easy_init();
    if (!h)
        goto oom;
    curl_easy_setopt(h, CURLOPT_URL, q->http.url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, q);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, q->http.headers);
    if (strcmp(q->http.method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->http.body ? q->http.body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->http.body_len);
        if (strcmp(q->http.method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->http.method);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "abstractcore/" AC_VERSION_STRING);
    if (q->lim.connect_ms > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, q->lim.connect_ms);
    if (total > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total);
    if (getenv("AC_CURL_VERBOSE")) {
        /* Through on_debug, which keeps keys out of the trace. */
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    }
    if (curl_multi_add_handle(e->multi, h) != CURLM_OK)
        goto oom;
    q->state = RQ_ACTIVE;
    list_add(&e->active, q);
    double first = q->lim.first_byte_ms > 0 ? now + (double)q->lim.first_byte_ms : 0;
    if (first && first < e->next_timer)
        e->next_timer = first;
    return;
oom:
    ac__error_set(&err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory starting the transfer");
    finish(e, q, AC_ENOMEM, &err);
}

/* ------------------------------------------------------------------ */
/* A transfer ended                                                    */
/* ------------------------------------------------------------------ */

static int status_retryable(int status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

static void http_error(engine *e, ac_request *q)
{
    ac_error err;
    ac_error_clear(&err);
    ac__error_set(&err, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d", q->http_status);
    err.http_status = q->http_status;
    err.retryable = q->should_retry >= 0 ? q->should_retry : status_retryable(q->http_status);
    err.retry_after_ms = q->retry_after_ms;
    const ac_provider *vt = q->llm->vt;
    if (vt->parse_error) {
        vt->parse_error(q->llm->state, q->http_status, q->errbody.data ? q->errbody.data : "",
                        q->errbody.len, &err);
        /* The plugin may only refine the report, not make it a success. */
        err.code = err.code == AC_OK ? AC_EHTTP : err.code;
        err.http_status = q->http_status;
        err.retry_after_ms = q->retry_after_ms;
        if (q->should_retry >= 0)
            err.retryable = q->should_retry;
    }
    fail_or_retry(e, q, &err);
}

/* The URL as error messages show it: scheme, host, port and path, without
 * user:password or the query, where a key may ride (a base_url with
 * credentials, a backend that takes ?key=).  Parsed by libcurl's URL API. */
static void url_for_message(const char *url, char *out, size_t n)
{
    snprintf(out, n, "the server");
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        snprintf(out, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
                 path ? path : "");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

static void curl_failure(engine *e, ac_request *q, CURLcode rc)
{
    ac_error err;
    ac_error_clear(&err);
    char host[256];
    url_for_message(q->http.url, host, sizeof host);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        ac__error_set(&err, AC_ECONNECT, AC_STAGE_CONNECT, "cannot connect to %s: %s", host,
                  curl_easy_strerror(rc));
        err.retryable = 1;
        break;
    case CURLE_OPERATION_TIMEDOUT: {
        double connect = 0;
        curl_easy_getinfo(q->easy, CURLINFO_CONNECT_TIME, &connect);
        if (connect <= 0 && !q->got_first_byte)
            ac__error_set(&err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT,
                      "connect timeout (%ld ms) reaching %s", q->lim.connect_ms, host);
        else
            ac__error_set(&err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT, "total timeout (%ld ms) reached",
                      q->lim.total_ms);
        err.retryable = connect <= 0;
        break;
    }
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        ac__error_set(&err, AC_ETLS, AC_STAGE_TLS, "TLS with %s failed: %s", host,
                  curl_easy_strerror(rc));
        break;
    case CURLE_OUT_OF_MEMORY:
        ac__error_set(&err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory in libcurl");
        break;
    default:
        ac__error_set(&err, AC_EHTTP, AC_STAGE_HTTP, "%s %s: %s%s", q->http.method, host,
                  curl_easy_strerror(rc),
                  q->got_first_byte ? " (connection lost mid-response)" : "");
        /* A connection that broke is worth another try, if nothing of the
         * reply reached the caller yet (fail_or_retry checks that). */
        err.retryable = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR ||
                        rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
                        rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
        break;
    }
    fail_or_retry(e, q, &err);
}

static void transfer_done(engine *e, ac_request *q, CURLcode rc)
{
    if (atomic_load(&q->cancel)) {
        finish_canceled(e, q, "cancelled");
        return;
    }
    if (q->has_pending_err) {
        ac_error err = q->pending_err;
        fail_or_retry(e, q, &err);
        return;
    }
    if (rc != CURLE_OK) {
        curl_failure(e, q, rc);
        return;
    }
    if (!q->got_first_byte)
        first_byte(q);
    if (q->error_body) {
        http_error(e, q);
        return;
    }
    ac_error err;
    ac_error_clear(&err);
    const ac_provider *vt = q->llm->vt;
    ac_status st;
    if (q->kind == RQ_MODELS) {
        st = vt->parse_models(q->llm->state, q->body.data ? q->body.data : "", q->body.len,
                              &q->models, &err);
        if (st != AC_OK) {
            if (err.code == AC_OK)
                ac__error_set(&err, st, AC_STAGE_PROTOCOL, "cannot parse the model list");
            fail_or_retry(e, q, &err);
            return;
        }
        finish(e, q, AC_OK, NULL);
        return;
    }
    int streamed = q->fr && !q->whole_body;
    if (streamed) {
        st = ac__framer_finish(q->fr, on_frame, q, &err);
    } else {
        st = vt->parse_response(q->llm->state, q->http_status, q->body.data ? q->body.data : "",
                                q->body.len, &q->sink, &err);
        if (st == AC_OK && q->body.data) {
            q->sink.resp->raw_json = ac__buf_steal(&q->body);
            q->body.limit = q->lim.max_response_bytes;
        }
    }
    if (st != AC_OK) {
        if (err.code == AC_OK)
            ac__error_set(&err, st, AC_STAGE_PROTOCOL, "%s", ac_strerror(st));
        fail_or_retry(e, q, &err);
        return;
    }
    st = ac__sink_finalize(&q->sink, streamed, &err);
    if (st != AC_OK) {
        ac__error_set_provider(&err, q->llm->inst->name);
        finish(e, q, st, &err);
        return;
    }
    finish(e, q, AC_OK, NULL);
}

/* ------------------------------------------------------------------ */
/* Timers and pokes                                                    */
/* ------------------------------------------------------------------ */

/* A paused transfer whose reader has drained the queue goes on. */
static void resume_if_drained(ac_request *q)
{
    if (q->state == RQ_ACTIVE && atomic_load(&q->paused) &&
        !(q->hook_backpressure && q->hook_backpressure(q->hook_ctx))) {
        atomic_store(&q->paused, 0);
        q->t_last_byte = ac__now_ms();
        curl_easy_pause(q->easy, CURLPAUSE_CONT);
    }
}

/* Besides the timers, the scan looks at the cancel flag and at paused
 * transfers: a poke that ac__engine_poke could not queue (out of memory) is
 * made up for here, within a second, instead of a cancel that never
 * happens or a stream paused for good. */
static void scan_timers(engine *e, double now)
{
    double next = now + 1000.0;
    for (ac_request *q = e->waiting.head, *nx; q; q = nx) {
        nx = q->next;
        if (atomic_load(&q->cancel)) {
            finish_canceled(e, q, "cancelled");
        } else if (q->retry_at <= now) {
            list_del(&e->waiting, q);
            q->state = RQ_QUEUED;
            attempt_start(e, q);
        } else if (q->retry_at < next) {
            next = q->retry_at;
        }
    }
    for (ac_request *q = e->active.head, *nx; q; q = nx) {
        nx = q->next;
        if (atomic_load(&q->cancel)) {
            finish_canceled(e, q, "cancelled");
            continue;
        }
        resume_if_drained(q);
        if (atomic_load(&q->paused))
            continue;
        ac_error err;
        ac_error_clear(&err);
        if (!q->got_first_byte && q->lim.first_byte_ms > 0) {
            double due = q->t_attempt + (double)q->lim.first_byte_ms;
            if (due <= now) {
                ac__error_set(&err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT,
                          "no response within first_byte_timeout_ms (%ld ms)", q->lim.first_byte_ms);
                err.retryable = 1;
                fail_or_retry(e, q, &err);
                continue;
            }
            if (due < next)
                next = due;
        } else if (q->got_first_byte && q->lim.idle_ms > 0) {
            double due = q->t_last_byte + (double)q->lim.idle_ms;
            if (due <= now) {
                ac__error_set(&err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT,
                          "no data for idle_timeout_ms (%ld ms) in the middle of the response",
                          q->lim.idle_ms);
                err.retryable = 1;
                fail_or_retry(e, q, &err);
                continue;
            }
            if (due < next)
                next = due;
        }
    }
    e->next_timer = next;
}

static void handle_poke(engine *e, ac_request *q)
{
    if (q->state == RQ_DONE)
        return;
    if (atomic_load(&q->cancel)) {
        if (q->state == RQ_ACTIVE || q->state == RQ_WAITING)
            finish_canceled(e, q, "cancelled");
        return;
    }
    resume_if_drained(q);
}

static void start_submitted(engine *e, ac_request *q, int stopping)
{
    if (stopping) {
        finish_canceled(e, q, "the core was closed");
    } else if (q->prestatus != AC_OK) {
        q->state = RQ_DONE;
        ac__request_finish(q, q->prestatus, &q->preerr);
    } else if (atomic_load(&q->cancel)) {
        finish_canceled(e, q, "cancelled before it started");
    } else {
        attempt_start(e, q);
    }
}

static void *engine_main(void *arg)
{
    engine *e = arg;
    ac__mark_engine_thread();
    rq_vec sub = {0}, pok = {0};
    for (;;) {
        pthread_mutex_lock(&e->mu);
        rq_vec t = e->submitted;
        e->submitted = sub;
        sub = t;
        t = e->poked;
        e->poked = pok;
        pok = t;
        int stopping = e->stopping;
        if (stopping && sub.n == 0 && !e->active.head && !e->waiting.head) {
            e->dead = 1;
            pthread_mutex_unlock(&e->mu);
            break;
        }
        pthread_mutex_unlock(&e->mu);

        for (size_t i = 0; i < sub.n; i++)
            start_submitted(e, sub.v[i], stopping);
        sub.n = 0;
        for (size_t i = 0; i < pok.n; i++) {
            handle_poke(e, pok.v[i]);
            ac__request_unref(pok.v[i]);
        }
        pok.n = 0;
        if (stopping) {
            while (e->active.head)
                finish_canceled(e, e->active.head, "the core was closed");
            while (e->waiting.head)
                finish_canceled(e, e->waiting.head, "the core was closed");
            continue;
        }

        int running = 0;
        curl_multi_perform(e->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            ac_request *q = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            CURLcode rc = m->data.result;
            if (q)
                transfer_done(e, q, rc);
        }
        double now = ac__now_ms();
        if (now >= e->next_timer)
            scan_timers(e, now);
        double wait = e->next_timer - ac__now_ms();
        int timeout = wait <= 0 ? 0 : wait > 1000 ? 1000 : (int)wait + 1;
        curl_multi_poll(e->multi, NULL, 0, timeout, NULL);
    }
    /* Anything poked after the last round holds a reference. */
    for (size_t i = 0; i < pok.n; i++)
        ac__request_unref(pok.v[i]);
    ac__free(sub.v);
    ac__free(pok.v);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The API of the engine                                               */
/* ------------------------------------------------------------------ */

engine *ac__engine_start(long max_connections, ac_error *err)
{
    engine *e = ac__calloc(1, sizeof *e);
    if (!e) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    e->multi = curl_multi_init();
    if (!e->multi) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "curl_multi_init failed");
        goto fail;
    }
    if (max_connections > 0) {
        curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
        curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, max_connections);
    }
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    e->next_timer = ac__now_ms() + 1000.0;
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "cannot start the engine thread");
        goto fail;
    }
    e->started = 1;
    return e;
fail:
    if (e->multi)
        curl_multi_cleanup(e->multi);
    pthread_mutex_destroy(&e->mu);
    ac__free(e);
    return NULL;
}

ac_status ac__engine_submit(engine *e, ac_request *q)
{
    pthread_mutex_lock(&e->mu);
    if (e->dead) {
        pthread_mutex_unlock(&e->mu);
        return AC_ECANCELED;
    }
    if (vec_push(&e->submitted, q) != 0) {
        pthread_mutex_unlock(&e->mu);
        return AC_ENOMEM;
    }
    ac__request_ref(q);
    q->state = RQ_QUEUED;
    pthread_mutex_unlock(&e->mu);
    curl_multi_wakeup(e->multi);
    return AC_OK;
}

void ac__engine_poke(engine *e, ac_request *q)
{
    pthread_mutex_lock(&e->mu);
    if (e->dead) {
        pthread_mutex_unlock(&e->mu);
        return;
    }
    ac__request_ref(q);
    if (vec_push(&e->poked, q) != 0) {
        /* Out of memory: the cancel flag is still seen by on_write and at
         * the end of the transfer. */
        pthread_mutex_unlock(&e->mu);
        ac__request_unref(q);
        return;
    }
    pthread_mutex_unlock(&e->mu);
    curl_multi_wakeup(e->multi);
}

void ac__engine_stop(engine *e)
{
    if (!e || !e->started)
        return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_mutex_unlock(&e->mu);
    curl_multi_wakeup(e->multi);
    pthread_join(e->thread, NULL);
    e->started = 0;
}

void ac__engine_free(engine *e)
{
    if (!e)
        return;
    ac__engine_stop(e);
    curl_multi_cleanup(e->multi);
    ac__free(e->submitted.v);
    ac__free(e->poked.v);
    pthread_mutex_destroy(&e->mu);
    ac__free(e);
}
