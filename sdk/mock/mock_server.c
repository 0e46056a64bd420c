/*
 * mock_server.c -- the mock LLM server: libmicrohttpd daemon, routing,
 * pacing of streams, and the counters the tests read.  See mock_server.h.
 *
 * One MHD polling thread (epoll, so thousands of sockets are fine) serves
 * every connection.  It must never sleep, so every wait -- before the
 * headers (first_byte_delay_ms, non-stream generation time), between
 * chunks (delay_ms), or forever (hang) -- suspends the connection and
 * parks it in the waiter (mock_waiter.c), whose thread resumes it on time
 * or as soon as the client hangs up.  What to send comes from the scenario
 * (mock_script.c) and the protocol generator (mock_gen.c).
 *
 * A request's state (mock_req) lives from MHD's first access-handler call
 * until its completion callback, which frees it; the stream's content
 * reader borrows it.
 */
#include <config.h>

#include "mock_server.h"
#include "mock_proto.h"
#include "mock_script.h"
#include "mock_waiter.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SERVER_MAX_BODY (32u * 1024 * 1024)
#define SERVER_BLOCK 4096

typedef struct mock_hdr {
    char *name, *value;
} mock_hdr;

struct mock_server {
    struct MHD_Daemon *daemon;
    mock_waiter *waiter;
    mock_script script;
    mock_log_fn log;
    void *log_user;
    int port;
    char url[48];
    const char **models; /* names for the model lists, borrowed from script */
    size_t nmodels;
    atomic_bool stopping;
    atomic_bool started; /* MHD messages go to the log only once running */
    char mhd_err[256];   /* last libmicrohttpd message, for start errors */

    pthread_mutex_t mu;  /* guards everything below */
    size_t nreq, ndisc;
    unsigned long long seq;
    long *fails;         /* per scenario (index nsc: the base) */
    char *last_body;     /* NULL until the first request */
    size_t last_body_len;
    mock_hdr *last_hdrs;
    size_t nlast_hdrs;
};

enum req_state { RQ_READING = 0, RQ_WAITING, RQ_RESPONDED };
enum req_route { RT_CHAT, RT_MODELS, RT_ROOT, RT_BAD_METHOD, RT_NOT_FOUND };

typedef struct mock_req {
    mock_server *m;
    struct MHD_Connection *conn;
    int fd;
    mock_wait wait;
    char method[16];
    char *url;
    mock_buf body;
    bool too_big;
    mock_hdr *hdrs;
    size_t nhdrs;
    bool hdrs_oom;
    enum req_state state;

    /* the decided reply */
    enum req_route route;
    const char *allow;       /* Allow header for a 405 */
    mock_proto proto;
    mock_request_info info;
    const mock_scenario *sc; /* NULL for non-chat routes */
    mock_scenario after_tool; /* sc without its tool calls (after_tool_result) */
    long status;
    bool is_error;
    const char *error_ctype; /* Content-Type of a raw error body; NULL: JSON */
    mock_gen *gen;
    mock_buf body_out;       /* a complete body, when not streaming */
    bool streaming;
    uint64_t due;            /* when the next wait ends (mock_now_ms) */

    /* stream pacing */
    mock_buf out;            /* bytes of the current event not yet handed to MHD */
    size_t out_off;
    size_t content_sent;
    int gap;                 /* 1: keep-alive comment due at half the delay */
    bool park_failed;        /* out of memory while parking: end the reply */
    bool deliberate;         /* the server ended it (drop, stop, OOM): not a disconnect */
} mock_req;

/* ---- small helpers ---- */

static void server_logf(mock_server *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void server_logf(mock_server *m, const char *fmt, ...)
{
    if (!m->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    m->log(m->log_user, line);
}

static void server_mhd_log(void *cls, const char *fmt, va_list ap)
{
    mock_server *m = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (atomic_load(&m->started)) {
        server_logf(m, "libmicrohttpd: %s", line);
        return;
    }
    /* Read only when MHD_start_daemon() failed, i.e. with no MHD thread;
       the start error reports it, in one line. */
    snprintf(m->mhd_err, sizeof m->mhd_err, "%s", line);
}

static void server_free_hdrs(mock_hdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static enum MHD_Result server_collect_hdr(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    mock_req *q = cls;
    (void)kind;
    mock_hdr *h = realloc(q->hdrs, (q->nhdrs + 1) * sizeof *h);
    if (!h) {
        q->hdrs_oom = true;
        return MHD_NO;
    }
    q->hdrs = h;
    h[q->nhdrs].name = strdup(key ? key : "");
    h[q->nhdrs].value = strdup(value ? value : "");
    if (!h[q->nhdrs].name || !h[q->nhdrs].value) {
        free(h[q->nhdrs].name);
        free(h[q->nhdrs].value);
        q->hdrs_oom = true;
        return MHD_NO;
    }
    q->nhdrs++;
    return MHD_YES;
}

static mock_req *server_req_new(mock_server *m, struct MHD_Connection *conn, const char *url,
                                const char *method)
{
    mock_req *q = calloc(1, sizeof *q);
    if (!q || !(q->url = strdup(url ? url : "/"))) {
        free(q);
        return NULL;
    }
    q->m = m;
    q->conn = conn;
    snprintf(q->method, sizeof q->method, "%s", method ? method : "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    q->fd = ci ? (int)ci->connect_fd : -1;
    return q;
}

static void server_req_free(mock_req *q)
{
    mock_request_info_free(&q->info);
    mock_gen_free(q->gen);
    mock_buf_free(&q->body);
    mock_buf_free(&q->body_out);
    mock_buf_free(&q->out);
    server_free_hdrs(q->hdrs, q->nhdrs);
    free(q->url);
    free(q);
}

/*
 * Wait until `deadline` (or until the client leaves): suspend and park.
 * The caller returns at once as if waiting (MHD_YES / 0 bytes); MHD calls
 * it again when the waiter resumes the connection.  If parking failed,
 * the connection was resumed right away and the flags tell why.
 */
static void server_park(mock_req *q, uint64_t deadline)
{
    MHD_suspend_connection(q->conn);
    int r = mock_waiter_park(q->m->waiter, &q->wait, q->conn, q->fd, deadline);
    if (r != 0) {
        if (r < 0)
            q->park_failed = true;
        MHD_resume_connection(q->conn);
    }
}

/* ---- the stream ---- */

static ssize_t server_stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    mock_req *q = cls;
    mock_server *m = q->m;
    const mock_scenario *sc = q->sc;
    (void)pos;

    for (;;) {
        if (q->out_off < q->out.len) {
            size_t n = q->out.len - q->out_off;
            if (n > max)
                n = max;
            memcpy(buf, q->out.data + q->out_off, n);
            q->out_off += n;
            if (q->out_off == q->out.len)
                q->out.len = q->out_off = 0;
            return (ssize_t)n;
        }
        if (q->wait.peer_gone)
            return MHD_CONTENT_READER_END_WITH_ERROR; /* counted as a disconnect */
        if (atomic_load(&m->stopping) || q->park_failed) {
            q->deliberate = true;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        mock_ev ev = mock_gen_peek(q->gen);
        if (ev == MOCK_EV_END)
            return MHD_CONTENT_READER_END_OF_STREAM;
        bool past_preamble = ev != MOCK_EV_META || q->content_sent > 0;
        if (sc->drop_after_chunks >= 0 && past_preamble &&
            q->content_sent >= (size_t)sc->drop_after_chunks) {
            q->deliberate = true;
            server_logf(m, "%s %s: dropping the connection after %zu chunks (drop_after_chunks)",
                        q->method, q->url, q->content_sent);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (sc->hang && (q->content_sent >= 1 || ev == MOCK_EV_FINISH)) {
            server_park(q, MOCK_WAIT_FOREVER);
            return 0;
        }
        uint64_t now = mock_now_ms();
        if (ev == MOCK_EV_CONTENT && q->content_sent > 0) {
            if (now < q->due) {
                server_park(q, q->due);
                return 0;
            }
            if (q->gap == 1) {
                /* A comment half-way through the pause, as keep-alive pings
                   arrive while a real server is busy (PROTOCOLS.md §0.4). */
                q->gap = 2;
                q->due = now + (uint64_t)(sc->delay_ms - sc->delay_ms / 2);
                if (mock_gen_keepalive(q->gen, &q->out) < 0) {
                    q->deliberate = true;
                    return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                continue;
            }
        }
        if (mock_gen_next(q->gen, &q->out) < 0) {
            q->deliberate = true;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (ev == MOCK_EV_CONTENT) {
            q->content_sent++;
            q->gap = sc->keepalive_comments ? 1 : 0;
            q->due = now + (uint64_t)(q->gap ? sc->delay_ms / 2 : sc->delay_ms);
        }
    }
}

/* A complete body cut short (drop_after_chunks on a non-stream reply):
   the headers promise every byte, the connection closes after half. */
static ssize_t server_cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    mock_req *q = cls;
    size_t cut = q->body_out.len / 2;
    if (pos >= cut) {
        q->deliberate = true;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = cut - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, q->body_out.data + pos, n);
    return (ssize_t)n;
}

/* ---- deciding the reply ---- */

static enum req_route server_route(mock_req *q)
{
    static const struct { const char *path, *method; enum req_route route; mock_proto proto; } tbl[] = {
        { "/v1/chat/completions", "POST", RT_CHAT, MOCK_PROTO_OPENAI },
        { "/chat/completions", "POST", RT_CHAT, MOCK_PROTO_OPENAI },
        { "/v1/messages", "POST", RT_CHAT, MOCK_PROTO_ANTHROPIC },
        { "/api/chat", "POST", RT_CHAT, MOCK_PROTO_OLLAMA },
        { "/v1/models", "GET", RT_MODELS, MOCK_PROTO_OPENAI },
        { "/models", "GET", RT_MODELS, MOCK_PROTO_OPENAI },
        { "/api/tags", "GET", RT_MODELS, MOCK_PROTO_OLLAMA },
        { "/", "GET", RT_ROOT, MOCK_PROTO_OPENAI },
        { "/health", "GET", RT_ROOT, MOCK_PROTO_OPENAI },
    };
    q->proto = strncmp(q->url, "/api/", 5) ? MOCK_PROTO_OPENAI : MOCK_PROTO_OLLAMA;
    for (size_t i = 0; i < sizeof tbl / sizeof tbl[0]; i++) {
        if (strcmp(q->url, tbl[i].path))
            continue;
        q->proto = tbl[i].proto;
        q->allow = tbl[i].method[0] == 'G' ? "GET, HEAD" : "POST";
        if (strcmp(q->method, tbl[i].method) &&
            !(tbl[i].method[0] == 'G' && !strcmp(q->method, "HEAD")))
            return RT_BAD_METHOD;
        return tbl[i].route;
    }
    return RT_NOT_FOUND;
}

static int server_error_reply(mock_req *q, long status, const char *message)
{
    q->status = status;
    q->is_error = true;
    return mock_proto_error_body(q->proto, status, message, NULL, NULL, &q->body_out);
}

/* Record the finished request in the counters the tests read. */
static int server_record(mock_req *q)
{
    mock_server *m = q->m;
    char *body = malloc(q->body.len + 1);
    if (!body)
        return -1;
    if (q->body.len)
        memcpy(body, q->body.data, q->body.len);
    body[q->body.len] = '\0';
    MHD_get_connection_values(q->conn, MHD_HEADER_KIND, server_collect_hdr, q);
    if (q->hdrs_oom) {
        free(body);
        return -1;
    }
    pthread_mutex_lock(&m->mu);
    m->nreq++;
    char *old_body = m->last_body;
    mock_hdr *old_hdrs = m->last_hdrs;
    size_t old_n = m->nlast_hdrs;
    m->last_body = body;
    m->last_body_len = q->body.len;
    m->last_hdrs = q->hdrs;
    m->nlast_hdrs = q->nhdrs;
    pthread_mutex_unlock(&m->mu);
    q->hdrs = NULL;
    q->nhdrs = 0;
    free(old_body);
    server_free_hdrs(old_hdrs, old_n);
    return 0;
}

/* Decide status and body for a chat request.  -1: out of memory. */
static int server_decide_chat(mock_req *q)
{
    mock_server *m = q->m;
    char err[200];

    if (q->too_big)
        return server_error_reply(q, 413, "request body too large for the mock server");
    int r = mock_proto_parse_request(q->proto, q->body.data, q->body.len, &q->info, err, sizeof err);
    if (r == -2)
        return -1;
    if (r == -1)
        return server_error_reply(q, 400, err);

    size_t idx;
    q->sc = mock_script_find(&m->script, q->info.model, &idx);
    if (q->sc->after_tool_result && q->info.ends_with_tool_result) {
        /* The tool's result came back: answer it in words, as a model
           would, instead of calling the tool again.  A shallow copy that
           borrows the script's strings. */
        q->after_tool = *q->sc;
        q->after_tool.tools = NULL;
        q->after_tool.ntools = 0;
        q->after_tool.reply = q->after_tool.after_tool_result;
        q->after_tool.reply_len = -1;
        q->after_tool.echo = false;
        q->after_tool.finish_reason = NULL;
        q->sc = &q->after_tool;
    }
    const mock_scenario *sc = q->sc;
    long fail_status = sc->status != 200 ? sc->status : sc->fail_times > 0 ? 500 : 200;

    pthread_mutex_lock(&m->mu);
    unsigned long long seq = ++m->seq;
    bool fail = fail_status != 200 && (sc->fail_times == 0 || m->fails[idx] < sc->fail_times);
    if (fail)
        m->fails[idx]++;
    pthread_mutex_unlock(&m->mu);

    if (!(q->gen = mock_gen_new(q->proto, sc, &q->info, seq)))
        return -1;
    uint64_t now = mock_now_ms();
    q->due = now + (uint64_t)sc->first_byte_delay_ms;
    if (fail) {
        q->status = fail_status;
        q->is_error = true;
        if (sc->error_body)
            return mock_buf_puts(&q->body_out, sc->error_body);
        if (sc->raw) {
            /* e.g. a proxy's HTML error page: the script's bytes, as they are */
            q->error_ctype = sc->content_type;
            return mock_buf_puts(&q->body_out, sc->raw);
        }
        char rid[48];
        snprintf(rid, sizeof rid, "req_mock%06llu", seq);
        return mock_proto_error_body(q->proto, fail_status, sc->error_message, sc->error_type, rid,
                                     &q->body_out);
    }
    q->status = 200;
    q->streaming = q->info.stream;
    if (q->streaming)
        return 0;
    if (sc->hang) {
        q->due = MOCK_WAIT_FOREVER;
    } else {
        /* A non-stream reply takes as long as the stream would have. */
        q->due += (uint64_t)sc->delay_ms * (uint64_t)(sc->chunks - 1);
    }
    return mock_gen_body(q->gen, &q->body_out);
}

static int server_decide(mock_req *q)
{
    mock_server *m = q->m;
    switch (q->route) {
    case RT_CHAT:
        return server_decide_chat(q);
    case RT_MODELS: {
        /* GET /v1/models answers in Anthropic's shape to Anthropic clients. */
        const char *v = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "anthropic-version");
        if (v && q->proto == MOCK_PROTO_OPENAI)
            q->proto = MOCK_PROTO_ANTHROPIC;
        q->status = 200;
        return mock_proto_models(q->proto, m->models, m->nmodels, &q->body_out);
    }
    case RT_ROOT:
        q->status = 200;
        return mock_buf_puts(&q->body_out, "{\"status\":\"ok\",\"server\":\"acore-mockd\"}");
    case RT_BAD_METHOD:
        return server_error_reply(q, 405, "method not allowed on this path");
    default: {
        char msg[300];
        snprintf(msg, sizeof msg, "Invalid URL (%s %.200s): not a path the mock server serves",
                 q->method, q->url);
        return server_error_reply(q, 404, msg);
    }
    }
}

/* ---- answering ---- */

static bool server_add_header(struct MHD_Response *r, const char *line)
{
    /* "Name: value", validated when the script was loaded. */
    const char *colon = strchr(line, ':');
    char name[128];
    size_t n = (size_t)(colon - line);
    if (n >= sizeof name)
        return false;
    memcpy(name, line, n);
    name[n] = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return MHD_add_response_header(r, name, v) == MHD_YES;
}

static enum MHD_Result server_queue(mock_req *q)
{
    mock_server *m = q->m;
    const mock_scenario *sc = q->sc;
    struct MHD_Response *r;
    const char *ctype = "application/json";
    bool stream = q->streaming && !q->is_error;

    if (stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SERVER_BLOCK, server_stream_reader,
                                              q, NULL);
    } else if (!q->is_error && sc && sc->drop_after_chunks >= 0) {
        r = MHD_create_response_from_callback(q->body_out.len, SERVER_BLOCK, server_cut_reader, q,
                                              NULL);
    } else {
        r = MHD_create_response_from_buffer(q->body_out.len, q->body_out.data,
                                            MHD_RESPMEM_MUST_COPY);
    }
    if (!r)
        return MHD_NO;
    if (!q->is_error && q->gen)
        ctype = mock_gen_content_type(q->gen);
    else if (q->error_ctype)
        ctype = q->error_ctype;
    bool ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES;
    if (ok && stream)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") == MHD_YES;
    if (ok && q->gen) {
        char rid[64];
        snprintf(rid, sizeof rid, "req_%s", mock_gen_id(q->gen));
        ok = MHD_add_response_header(r, q->proto == MOCK_PROTO_ANTHROPIC ? "request-id"
                                                                         : "x-request-id",
                                     rid) == MHD_YES;
    }
    if (ok && q->route == RT_BAD_METHOD)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, q->allow) == MHD_YES;
    if (ok && sc && q->is_error && sc->retry_after)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, sc->retry_after) == MHD_YES;
    for (size_t i = 0; ok && sc && i < sc->nheaders; i++)
        ok = server_add_header(r, sc->headers[i]);
    enum MHD_Result res = ok ? MHD_queue_response(q->conn, (unsigned)q->status, r) : MHD_NO;
    MHD_destroy_response(r);
    if (res == MHD_YES) {
        q->state = RQ_RESPONDED;
        server_logf(m, "%s %s%s%s%s -> %ld", q->method, q->url,
                    q->info.model ? " model=" : "", q->info.model ? q->info.model : "",
                    stream ? " (stream)" : "", q->status);
    }
    return res;
}

static enum MHD_Result server_access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **con_cls)
{
    mock_server *m = cls;
    mock_req *q = *con_cls;
    (void)version;

    if (!q) {
        if (!(q = server_req_new(m, conn, url, method)))
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!q->too_big && q->body.len + *upload_size > SERVER_MAX_BODY) {
            q->too_big = true; /* keep reading, answer 413 at the end */
            mock_buf_free(&q->body);
        }
        if (!q->too_big && mock_buf_append(&q->body, upload_data, *upload_size) < 0) {
            q->deliberate = true;
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->state == RQ_RESPONDED)
        return MHD_YES;
    if (q->state == RQ_READING) {
        q->route = server_route(q);
        if (server_record(q) < 0 || server_decide(q) < 0) {
            q->deliberate = true;
            return MHD_NO;
        }
        q->state = RQ_WAITING;
        if (q->route != RT_CHAT)
            return server_queue(q);
    }
    /* RQ_WAITING: first time here, or resumed by the waiter. */
    if (q->wait.peer_gone)
        return MHD_NO; /* counted as a disconnect */
    if (atomic_load(&m->stopping) || q->park_failed) {
        q->deliberate = true;
        return MHD_NO;
    }
    if (mock_now_ms() < q->due) {
        server_park(q, q->due);
        return MHD_YES;
    }
    return server_queue(q);
}

static void server_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    mock_server *m = cls;
    mock_req *q = *con_cls;
    (void)conn;
    if (!q)
        return;
    if (q->state != RQ_READING && !q->deliberate && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
        toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN) {
        pthread_mutex_lock(&m->mu);
        m->ndisc++;
        pthread_mutex_unlock(&m->mu);
        server_logf(m, "%s %s: client went away before the reply ended", q->method, q->url);
    }
    server_req_free(q);
    *con_cls = NULL;
}

/* ---- public API ---- */

static int server_list_models(mock_server *m)
{
    static const char *fallback = "mock-model";
    m->models = calloc(m->script.nsc + 1, sizeof *m->models);
    if (!m->models)
        return -1;
    for (size_t i = 0; i < m->script.nsc; i++) {
        const char *name = m->script.sc[i].model;
        bool dup = !name || !strcmp(name, "default");
        for (size_t k = 0; !dup && k < m->nmodels; k++)
            dup = !strcmp(m->models[k], name);
        if (!dup)
            m->models[m->nmodels++] = name;
    }
    if (!m->nmodels)
        m->models[m->nmodels++] = fallback;
    return 0;
}

mock_server *mock_server_start_ex(const char *script_text, const char *script_name,
                                  const char *overrides_text, int port, mock_log_fn log,
                                  void *log_user, char *errbuf, size_t errlen)
{
    char tmp[256];
    char *eb = errbuf && errlen ? errbuf : tmp;
    size_t el = errbuf && errlen ? errlen : sizeof tmp;
    bool have_mu = false;

    eb[0] = '\0';
    if (port < 0 || port > 65535) {
        snprintf(eb, el, "port %d is out of range (0-65535)", port);
        return NULL;
    }
    mock_server *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(eb, el, "out of memory");
        return NULL;
    }
    m->log = log;
    m->log_user = log_user;
    atomic_init(&m->stopping, false);
    atomic_init(&m->started, false);
    if (mock_script_load(&m->script, script_text, script_name, overrides_text, eb, el) < 0)
        goto fail;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        snprintf(eb, el, "cannot create a mutex");
        goto fail;
    }
    have_mu = true;
    if (!(m->fails = calloc(m->script.nsc + 1, sizeof *m->fails)) || server_list_models(m) < 0) {
        snprintf(eb, el, "out of memory");
        goto fail;
    }
    if (!(m->waiter = mock_waiter_start(eb, el)))
        goto fail;

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* epoll: no FD_SETSIZE limit; suspend/resume: waits without a thread
       per connection; no connection timeout: hanging streams stay open. */
    m->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, server_access, m,
        MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, m, /* first, to catch every message */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)0,
        MHD_OPTION_NOTIFY_COMPLETED, server_completed, m,
        MHD_OPTION_END);
    if (!m->daemon) {
        snprintf(eb, el, "cannot listen on 127.0.0.1:%d%s%s", port, m->mhd_err[0] ? ": " : "",
                 m->mhd_err);
        goto fail;
    }
    atomic_store(&m->started, true);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = di && di->port ? (int)di->port : port;
    snprintf(m->url, sizeof m->url, "http://127.0.0.1:%d", m->port);
    return m;
fail:
    mock_waiter_free(m->waiter);
    mock_script_free(&m->script);
    free(m->fails);
    free(m->models);
    if (have_mu)
        pthread_mutex_destroy(&m->mu);
    free(m);
    return NULL;
}

mock_server *mock_server_start(const char *script_text, int port, char *errbuf, size_t errlen)
{
    return mock_server_start_ex(script_text, NULL, NULL, port, NULL, NULL, errbuf, errlen);
}

int mock_server_port(const mock_server *m)
{
    return m ? m->port : 0;
}

const char *mock_server_url(const mock_server *m)
{
    return m ? m->url : "";
}

void mock_server_stop(mock_server *m)
{
    if (!m)
        return;
    atomic_store(&m->stopping, true);
    /* Every parked connection must be resumed before MHD_stop_daemon(),
       which aborts on suspended ones; resumed streams see `stopping`. */
    mock_waiter_stop(m->waiter);
    MHD_stop_daemon(m->daemon);
    mock_waiter_free(m->waiter);
    mock_script_free(&m->script);
    free(m->fails);
    free(m->models);
    free(m->last_body);
    server_free_hdrs(m->last_hdrs, m->nlast_hdrs);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The counters are logically read-only; the mutex inside is not. */
static pthread_mutex_t *server_mu(const mock_server *m)
{
    return (pthread_mutex_t *)&m->mu;
}

size_t mock_server_request_count(const mock_server *m)
{
    if (!m)
        return 0;
    pthread_mutex_lock(server_mu(m));
    size_t n = m->nreq;
    pthread_mutex_unlock(server_mu(m));
    return n;
}

size_t mock_server_disconnects(const mock_server *m)
{
    if (!m)
        return 0;
    pthread_mutex_lock(server_mu(m));
    size_t n = m->ndisc;
    pthread_mutex_unlock(server_mu(m));
    return n;
}

char *mock_server_last_body(const mock_server *m)
{
    if (!m)
        return NULL;
    pthread_mutex_lock(server_mu(m));
    /* memcpy, not strdup: a body may hold NUL bytes */
    char *b = m->last_body ? malloc(m->last_body_len + 1) : NULL;
    if (b)
        memcpy(b, m->last_body, m->last_body_len + 1);
    pthread_mutex_unlock(server_mu(m));
    return b;
}

char *mock_server_last_header(const mock_server *m, const char *name)
{
    if (!m || !name)
        return NULL;
    char *v = NULL;
    pthread_mutex_lock(server_mu(m));
    for (size_t i = 0; i < m->nlast_hdrs; i++) {
        if (!strcasecmp(m->last_hdrs[i].name, name)) {
            v = strdup(m->last_hdrs[i].value);
            break;
        }
    }
    pthread_mutex_unlock(server_mu(m));
    return v;
}
