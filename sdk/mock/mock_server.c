/*
 * mock_server.c -- the mock LLM server: the libmicrohttpd daemon and its
 * callbacks, start and stop, and the counters the tests read.  See
 * mock_server.h.
 *
 * One MHD polling thread (epoll, so tens of thousands of sockets are fine)
 * serves every connection.  It must never sleep, so every wait -- before
 * the headers (first_byte_delay_ms, non-stream generation time), between
 * chunks (delay_ms), stalls, or forever (hang) -- suspends the connection
 * and parks it in the waiter (mock_waiter.c), whose thread resumes it on
 * time or as soon as the client hangs up.  A suspended connection is out
 * of MHD's idle-timeout list (and its timer restarts on resume), so the
 * idle timeout closes only connections that really sit idle.  What to
 * answer is mock_reply.c; sending it, mock_send.c.
 *
 * A request's state (mock_req) lives from MHD's first access-handler call
 * until its completion callback, which frees it; that span is what
 * mock_server_inflight() counts.
 */
#include <config.h>

#include "mock_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SERVER_DEFAULT_MAX_CONNECTIONS 65536u
#define SERVER_DEFAULT_IDLE_TIMEOUT_S 30
#define SERVER_MAX_BACKLOG 65535u
/* MHD's memory pool per connection (its default is 32 KiB): headers and
   the socket buffers.  Bodies are handed to us as they arrive, so 16 KiB
   is plenty, and it halves the memory of 10,000 open streams. */
#define SERVER_CONN_MEMORY (16u * 1024)

/* ---- small helpers ---- */

void mock_server_logf(mock_server *m, const char *fmt, ...)
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
        mock_server_logf(m, "libmicrohttpd: %s", line);
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
    pthread_mutex_lock(&m->mu);
    if (++m->inflight > m->peak_inflight)
        m->peak_inflight = m->inflight;
    pthread_mutex_unlock(&m->mu);
    return q;
}

static void server_req_free(mock_req *q)
{
    mock_server *m = q->m;
    pthread_mutex_lock(&m->mu);
    m->inflight--;
    pthread_mutex_unlock(&m->mu);
    mock_request_info_free(&q->info);
    mock_gen_free(q->gen);
    mock_gzip_free(q->gz);
    mock_buf_free(&q->body);
    mock_buf_free(&q->body_out);
    mock_buf_free(&q->out);
    mock_buf_free(&q->plain);
    server_free_hdrs(q->hdrs, q->nhdrs);
    free(q->path_model);
    free(q->url);
    free(q);
}

void mock_server_park(mock_req *q, uint64_t deadline)
{
    MHD_suspend_connection(q->conn);
    int r = mock_waiter_park(q->m->waiter, &q->wait, q->conn, q->fd, deadline);
    if (r != 0) {
        if (r < 0)
            q->park_failed = true;
        MHD_resume_connection(q->conn);
    }
}

void mock_server_count_embed(mock_server *m, size_t n)
{
    pthread_mutex_lock(&m->mu);
    m->embed_requests++;
    m->embed_inputs += n;
    if (n > m->embed_max_batch)
        m->embed_max_batch = n;
    pthread_mutex_unlock(&m->mu);
}

int mock_server_set_images(mock_server *m, const mock_request_info *info)
{
    size_t *z = NULL;
    if (info->nimages && !(z = malloc(info->nimages * sizeof *z)))
        return -1;
    if (z)
        memcpy(z, info->image_sizes, info->nimages * sizeof *z);
    pthread_mutex_lock(&m->mu);
    size_t *old = m->last_images;
    m->last_images = z;
    m->nlast_images = info->nimages;
    pthread_mutex_unlock(&m->mu);
    free(old);
    return 0;
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
    size_t *old_images = m->last_images;
    m->last_body = body;
    m->last_body_len = q->body.len;
    m->last_hdrs = q->hdrs;
    m->nlast_hdrs = q->nhdrs;
    m->last_images = NULL; /* a request without messages carries no image */
    m->nlast_images = 0;
    pthread_mutex_unlock(&m->mu);
    q->hdrs = NULL;
    q->nhdrs = 0;
    free(old_body);
    free(old_images);
    server_free_hdrs(old_hdrs, old_n);
    return 0;
}

/* ---- libmicrohttpd callbacks ---- */

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
        q->route = mock_reply_route(q);
        if (server_record(q) < 0 || mock_reply_decide(q) < 0) {
            q->deliberate = true;
            return MHD_NO;
        }
        q->state = RQ_WAITING;
    }
    /* RQ_WAITING: first time here, or resumed by the waiter. */
    if (q->wait.peer_gone)
        return MHD_NO; /* counted as a disconnect */
    if (atomic_load(&m->stopping) || q->park_failed) {
        q->deliberate = true;
        return MHD_NO;
    }
    if (mock_now_ms() < q->due) {
        mock_server_park(q, q->due);
        return MHD_YES;
    }
    return mock_send_queue(q);
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
        mock_server_logf(m, "%s %s: client went away before the reply ended", q->method, q->url);
    }
    server_req_free(q);
    *con_cls = NULL;
}

static void server_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    mock_server *m = cls;
    (void)conn;
    (void)socket_context;
    pthread_mutex_lock(&m->mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        m->conns_open++;
        m->conns_total++;
    } else if (m->conns_open) {
        m->conns_open--;
    }
    pthread_mutex_unlock(&m->mu);
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

static void server_free(mock_server *m, bool have_mu)
{
    mock_waiter_free(m->waiter);
    mock_script_free(&m->script);
    free(m->fails);
    free(m->models);
    free(m->last_body);
    free(m->last_images);
    server_free_hdrs(m->last_hdrs, m->nlast_hdrs);
    if (have_mu)
        pthread_mutex_destroy(&m->mu);
    free(m);
}

static struct MHD_Daemon *server_daemon(mock_server *m, const mock_server_options *o)
{
    unsigned limit = o->max_connections ? o->max_connections : SERVER_DEFAULT_MAX_CONNECTIONS;
    /* The kernel clamps the backlog to net.core.somaxconn; ask for enough
       that a burst of connects up to the limit is not the bottleneck. */
    unsigned backlog = limit < SERVER_MAX_BACKLOG ? limit : SERVER_MAX_BACKLOG;
    unsigned idle = o->idle_timeout_s < 0    ? 0
                    : o->idle_timeout_s == 0 ? SERVER_DEFAULT_IDLE_TIMEOUT_S
                                             : (unsigned)o->idle_timeout_s;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* epoll: no FD_SETSIZE limit; suspend/resume: waits without a thread
       per connection; the idle timeout spares suspended connections. */
    return MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)o->port, NULL, NULL, server_access, m,
        MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, m, /* first, to catch every message */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVER_CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, backlog,
        MHD_OPTION_CONNECTION_TIMEOUT, idle,
        MHD_OPTION_NOTIFY_COMPLETED, server_completed, m,
        MHD_OPTION_NOTIFY_CONNECTION, server_connection, m,
        MHD_OPTION_END);
}

mock_server *mock_server_start_opts(const mock_server_options *o, char *errbuf, size_t errlen)
{
    char tmp[256];
    char *eb = errbuf && errlen ? errbuf : tmp;
    size_t el = errbuf && errlen ? errlen : sizeof tmp;
    bool have_mu = false;

    eb[0] = '\0';
    if (o->port < 0 || o->port > 65535) {
        snprintf(eb, el, "port %d is out of range (0-65535)", o->port);
        return NULL;
    }
    mock_server *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(eb, el, "out of memory");
        return NULL;
    }
    m->log = o->log;
    m->log_user = o->log_user;
    atomic_init(&m->stopping, false);
    atomic_init(&m->started, false);
    if (mock_script_load(&m->script, o->script_text, o->script_name, o->overrides_text, eb, el) < 0)
        goto fail;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        snprintf(eb, el, "cannot create a mutex");
        goto fail;
    }
    have_mu = true;
    if (!(m->fails = calloc(m->script.nslots, sizeof *m->fails)) || server_list_models(m) < 0) {
        snprintf(eb, el, "out of memory");
        goto fail;
    }
    if (!(m->waiter = mock_waiter_start(eb, el)))
        goto fail;
    if (!(m->daemon = server_daemon(m, o))) {
        snprintf(eb, el, "cannot listen on 127.0.0.1:%d%s%s", o->port, m->mhd_err[0] ? ": " : "",
                 m->mhd_err);
        goto fail;
    }
    atomic_store(&m->started, true);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = di && di->port ? (int)di->port : o->port;
    snprintf(m->url, sizeof m->url, "http://127.0.0.1:%d", m->port);
    return m;
fail:
    server_free(m, have_mu);
    return NULL;
}

mock_server *mock_server_start_ex(const char *script_text, const char *script_name,
                                  const char *overrides_text, int port, mock_log_fn log,
                                  void *log_user, char *errbuf, size_t errlen)
{
    mock_server_options o = { .script_text = script_text, .script_name = script_name,
                              .overrides_text = overrides_text, .port = port, .log = log,
                              .log_user = log_user };
    return mock_server_start_opts(&o, errbuf, errlen);
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
    server_free(m, true);
}

/* ---- counters ---- */

/* The counters are logically read-only; the mutex inside is not. */
static pthread_mutex_t *server_mu(const mock_server *m)
{
    return (pthread_mutex_t *)&m->mu;
}

/* Read one counter under the lock; 0 if m is NULL. */
static size_t server_read(const mock_server *m, const size_t *field)
{
    if (!m)
        return 0;
    pthread_mutex_lock(server_mu(m));
    size_t n = *field;
    pthread_mutex_unlock(server_mu(m));
    return n;
}

#define SERVER_COUNTER(fn, field)                                                                  \
    size_t fn(const mock_server *m)                                                                \
    {                                                                                              \
        return server_read(m, m ? &m->field : NULL);                                               \
    }

SERVER_COUNTER(mock_server_request_count, nreq)
SERVER_COUNTER(mock_server_disconnects, ndisc)
SERVER_COUNTER(mock_server_inflight, inflight)
SERVER_COUNTER(mock_server_peak_inflight, peak_inflight)
SERVER_COUNTER(mock_server_connections, conns_open)
SERVER_COUNTER(mock_server_connections_total, conns_total)
SERVER_COUNTER(mock_server_embed_requests, embed_requests)
SERVER_COUNTER(mock_server_embed_inputs, embed_inputs)
SERVER_COUNTER(mock_server_embed_max_batch, embed_max_batch)

void mock_server_reset_peak(mock_server *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->peak_inflight = m->inflight;
    pthread_mutex_unlock(&m->mu);
}

size_t mock_server_last_images(const mock_server *m, size_t *sizes, size_t max)
{
    if (!m)
        return 0;
    pthread_mutex_lock(server_mu(m));
    size_t n = m->nlast_images;
    for (size_t i = 0; sizes && i < n && i < max; i++)
        sizes[i] = m->last_images[i];
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

void mock_embedding(const char *text, size_t len, long seed, size_t dim, float *out)
{
    mock_embed_vector(text ? text : "", text ? len : 0, seed, dim, true, out);
}
