/*
 * gw_http.c -- the HTTP front: libmicrohttpd in external-epoll mode
 * (driven by gw_loop.c), routing, request bodies and their limits,
 * authentication, responses, and parking connections that wait.
 *
 * Limits, each a response rather than a crash or unbounded memory: the
 * request line and headers are held in libmicrohttpd's per-connection
 * pool (server.max_header_bytes plus room for the response buffer), so a
 * larger head is refused by libmicrohttpd itself (431); a body announced
 * larger than server.max_request_bytes is answered 413 before a byte of
 * it is read, and a chunked one that grows past it closes the
 * connection; connections beyond server.max_connections are closed on
 * accept; a connection quiet for server.idle_timeout_ms is closed.
 *
 * Parking: a request waiting for its backend (no response yet, or a
 * stream with nothing to send) is suspended -- libmicrohttpd stops
 * polling it, so it costs nothing -- and its socket is put in the loop's
 * epoll set for EPOLLRDHUP only: a client that leaves is seen at once
 * and its upstream request cancelled, not at the next write.
 *
 * Every function runs on the loop thread.
 */
#include "gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

double gw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

void gw_conn_ref(gw_conn *c) { c->refs++; }

void gw_conn_unref(gw_conn *c)
{
    if (--c->refs > 0)
        return;
    free(c->body);
    gw_chat_req_free(&c->req);
    gw_emit_free(&c->em);
    jb_free(&c->out);
    ac_response_free(c->resp);
    ac_embeddings_free(c->emb);
    free(c);
}

static void unpark(gw_conn *c)
{
    if (!c->parked)
        return;
    epoll_ctl(c->g->ep, EPOLL_CTL_DEL, c->sock, NULL);
    c->parked = 0;
}

void gw_conn_park(gw_conn *c)
{
    if (c->gone || !c->mc)
        return;
    if (!c->suspended) {
        MHD_suspend_connection(c->mc);
        c->suspended = 1;
    }
    if (!c->parked && c->sock >= 0) {
        struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(c->g->ep, EPOLL_CTL_ADD, c->sock, &ev) == 0)
            c->parked = 1;
    }
}

void gw_conn_wake(gw_conn *c)
{
    if (!c->suspended || !c->mc)
        return;
    unpark(c);
    c->suspended = 0;
    MHD_resume_connection(c->mc);
}

void gw_conn_peer_gone(gw_conn *c)
{
    if (c->gone)
        return;
    c->gone = 1;
    if (!c->note)
        c->note = "client_gone";
    gw_metrics_count(c->g->metrics, "disconnect", NULL);
    if (c->q)
        ac_request_cancel(c->q);
    if (c->ep == GW_EP_MODELS)
        gw_models_forget(c->g->models, c);
    unpark(c);
    /* libmicrohttpd then calls us back, we refuse, and it closes. */
    if (c->suspended && c->mc) {
        c->suspended = 0;
        MHD_resume_connection(c->mc);
    }
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static int queue(gw_conn *c, int status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    if (c->em.id[0])
        MHD_add_response_header(r, c->api == GW_API_ANTHROPIC ? "request-id" : "x-request-id",
                                c->em.id);
    if (c->g->stopping)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c->mc, (unsigned)status, r);
    MHD_destroy_response(r);
    c->status = status;
    c->state = GW_ST_RESPONDING;
    return ok == MHD_YES;
}

int gw_respond_json(gw_conn *c, int status, jbuf *body, long retry_after_s)
{
    if (body->oom) {
        jb_free(body);
        return MHD_NO;
    }
    if (!body->p)
        jb_raw(body, "", 0);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body->len, body->p, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        jb_free(body);
        return MHD_NO;
    }
    memset(body, 0, sizeof *body); /* the response owns it now */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (retry_after_s >= 0) {
        char v[24];
        snprintf(v, sizeof v, "%ld", retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    return queue(c, status, r);
}

int gw_respond_text(gw_conn *c, int status, const char *type, const char *text, size_t n)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return queue(c, status, r);
}

int gw_respond_error(gw_conn *c, const gw_err *e)
{
    jbuf b = {0};
    gw_emit_error(c->api, &b, e);
    return gw_respond_json(c, e->status, &b, e->retry_after_s);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = gw_chat_read(cls, buf, max);
    if (n == GW_READ_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == GW_READ_ERROR)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

int gw_respond_stream(gw_conn *c)
{
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8 * 1024, stream_reader, c, NULL);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    /* nginx passes each event on at once instead of buffering it. */
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    c->streaming = 1;
    gw_metrics_gauge(c->g->metrics, "streams", 1);
    return queue(c, 200, r);
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

static const char *endpoint_name(gw_endpoint ep)
{
    switch (ep) {
    case GW_EP_CHAT: return "chat_completions";
    case GW_EP_MESSAGES: return "messages";
    case GW_EP_MODELS: return "models";
    case GW_EP_EMBEDDINGS: return "embeddings";
    case GW_EP_HEALTH: return "health";
    case GW_EP_READY: return "ready";
    case GW_EP_METRICS: return "metrics";
    default: return "other";
    }
}

/* Which endpoint; a known path with the wrong method is BAD_METHOD. */
static gw_endpoint route(const char *method, const char *url)
{
    static const struct {
        const char *path, *method;
        gw_endpoint ep;
        int prefix;
    } table[] = {
        {"/v1/chat/completions", "POST", GW_EP_CHAT, 0},
        {"/chat/completions", "POST", GW_EP_CHAT, 0},
        {"/v1/messages", "POST", GW_EP_MESSAGES, 0},
        {"/v1/models", "GET", GW_EP_MODELS, 0},
        {"/v1/models/", "GET", GW_EP_MODELS, 1},
        {"/models", "GET", GW_EP_MODELS, 0},
        {"/v1/embeddings", "POST", GW_EP_EMBEDDINGS, 0},
        {"/embeddings", "POST", GW_EP_EMBEDDINGS, 0},
        {"/health", "GET", GW_EP_HEALTH, 0},
        {"/ready", "GET", GW_EP_READY, 0},
        {"/metrics", "GET", GW_EP_METRICS, 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int match = table[i].prefix ? strncmp(url, table[i].path, strlen(table[i].path)) == 0
                                    : strcmp(url, table[i].path) == 0;
        if (!match)
            continue;
        if (strcmp(method, table[i].method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(table[i].method, "GET") == 0))
            return table[i].ep;
        return GW_EP_BAD_METHOD;
    }
    return GW_EP_NOT_FOUND;
}

/* The client's key: "Authorization: Bearer KEY" or "x-api-key: KEY". */
static const char *token_of(struct MHD_Connection *mc)
{
    const char *a = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        while (*a == ' ')
            a++;
        return a;
    }
    return MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "x-api-key");
}

int gw_ready(gateway *g, jbuf *out)
{
    int ready = 0;
    jb_cstr(out, "{\"providers\":{");
    for (size_t i = 0; i < g->cfg.n_providers; i++) {
        ac_error e;
        ac_llm *llm = ac_llm_create(g->core, g->cfg.providers[i], NULL, NULL, &e);
        jb_cstr(out, i ? "," : "");
        jb_qstr(out, g->cfg.providers[i]);
        jb_cstr(out, ":");
        if (llm) {
            jb_cstr(out, "\"ready\"");
            ready++;
        } else {
            char v[AC_ERROR_MESSAGE_MAX + 16];
            snprintf(v, sizeof v, "unavailable: %s", e.message);
            jb_qstr(out, v);
        }
        ac_llm_free(llm);
    }
    int ok = ready > 0 && !g->stopping;
    jb_fmt(out, "},\"status\":\"%s\"}", g->stopping ? "stopping" : ok ? "ready" : "not_ready");
    return ok;
}

static int dispatch(gw_conn *c)
{
    gateway *g = c->g;
    gw_err e;
    jbuf b = {0};
    switch (c->ep) {
    case GW_EP_HEALTH:
        jb_cstr(&b, "{\"status\":\"ok\"}");
        return gw_respond_json(c, 200, &b, -1);
    case GW_EP_READY: {
        int ok = gw_ready(g, &b);
        return gw_respond_json(c, ok ? 200 : 503, &b, -1);
    }
    case GW_EP_METRICS: {
        size_t n = 0;
        char *text = gw_metrics_render(g->metrics, &n);
        if (!text)
            return MHD_NO;
        struct MHD_Response *r =
            MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
        if (!r) {
            free(text);
            return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8");
        return queue(c, 200, r);
    }
    case GW_EP_NOT_FOUND:
        gw_err_set(&e, 404, "invalid_request_error", "", "unknown_url", "Unknown request URL: "
                   "%s %.200s. Try /v1/chat/completions, /v1/messages or /v1/models.",
                   c->method, c->path);
        return gw_respond_error(c, &e);
    case GW_EP_BAD_METHOD:
        gw_err_set(&e, 405, "invalid_request_error", "", "method_not_allowed",
                   "%s is not allowed on %.200s.", c->method, c->path);
        return gw_respond_error(c, &e);
    default: break;
    }
    /* The API endpoints need a key (when keys are configured). */
    c->key = gw_auth_check(g->auth, token_of(c->mc));
    if (c->key == GW_AUTH_DENIED) {
        gw_metrics_count(g->metrics, "auth_failure", NULL);
        gw_err_set(&e, 401, "invalid_request_error", "", "invalid_api_key",
                   token_of(c->mc) ? "Incorrect API key provided." :
                   "You didn't provide an API key: send it as 'Authorization: Bearer KEY' or "
                   "'x-api-key: KEY'.");
        return gw_respond_error(c, &e);
    }
    switch (c->ep) {
    case GW_EP_CHAT:
    case GW_EP_MESSAGES: return gw_chat_start(c);
    case GW_EP_MODELS: return gw_models_start(c);
    case GW_EP_EMBEDDINGS: return gw_embed_start(c);
    default: return MHD_NO;
    }
}

/* ------------------------------------------------------------------ */
/* libmicrohttpd's callbacks                                           */
/* ------------------------------------------------------------------ */

static gw_conn *conn_new(gateway *g, struct MHD_Connection *mc, const char *url,
                         const char *method)
{
    gw_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->g = g;
    c->mc = mc;
    c->refs = 1;
    c->t0 = gw_now_ms();
    c->key = GW_AUTH_OPEN;
    c->sock = -1;
    c->in_tok = c->out_tok = -1;
    c->em.open_block = -1;
    snprintf(c->method, sizeof c->method, "%s", method);
    snprintf(c->path, sizeof c->path, "%s", url);
    c->ep = route(method, url);
    c->api = c->ep == GW_EP_MESSAGES ? GW_API_ANTHROPIC : GW_API_OPENAI;
    if (c->ep == GW_EP_MODELS &&
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "anthropic-version"))
        c->api = GW_API_ANTHROPIC;
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (fd)
        c->sock = fd->connect_fd;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      c->client, sizeof c->client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      c->client, sizeof c->client);
    }
    c->next = g->conns;
    if (g->conns)
        g->conns->prev = c;
    g->conns = c;
    g->n_conns++;
    gw_metrics_gauge(g->metrics, "inflight", 1);
    return c;
}

static enum MHD_Result head_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_size, void **con_cls)
{
    gateway *g = cls;
    gw_conn *c = *con_cls;
    (void)version;
    if (!c) {
        if (!(c = conn_new(g, mc, url, method)))
            return MHD_NO;
        *con_cls = c;
        /* The head as the client sent it, near enough: what a proxy in
         * front counts too.  (A head past libmicrohttpd's pool never gets
         * here: it answers that itself.) */
        size_t head = strlen(method) + strlen(url) + 12;
        MHD_get_connection_values(mc, MHD_HEADER_KIND, head_bytes, &head);
        if (head > (size_t)g->cfg.max_header_bytes) {
            gw_err e;
            gw_err_set(&e, 431, "invalid_request_error", "", "request_header_too_large",
                       "The request line and headers are larger than this server accepts "
                       "(%lld bytes).", g->cfg.max_header_bytes);
            c->too_big = 1;
            return gw_respond_error(c, &e) ? MHD_YES : MHD_NO;
        }
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)g->cfg.max_request_bytes) {
            gw_err e;
            gw_err_set(&e, 413, "invalid_request_error", "", "request_too_large",
                       "The request body is larger than this server accepts (%lld bytes).",
                       g->cfg.max_request_bytes);
            c->too_big = 1;
            return gw_respond_error(c, &e) ? MHD_YES : MHD_NO;
        }
        /* What is refused anyway is refused before its body is read (and
         * before "100 Continue" invites it): an unknown route, a wrong
         * method, an API request without a valid key.  A stranger cannot
         * make the gateway hold max_request_bytes per connection. */
        int api = c->ep != GW_EP_HEALTH && c->ep != GW_EP_READY && c->ep != GW_EP_METRICS;
        if (c->ep == GW_EP_NOT_FOUND || c->ep == GW_EP_BAD_METHOD ||
            (api && gw_auth_check(g->auth, token_of(mc)) == GW_AUTH_DENIED)) {
            c->refused = 1;
            c->state = GW_ST_WAITING;
            return dispatch(c) ? MHD_YES : MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (c->too_big || c->refused)
            return MHD_NO;
        if (c->len + *upload_size > (size_t)g->cfg.max_request_bytes) {
            /* A chunked body past the limit: nothing can be answered in
             * the middle of a body, so the connection is closed. */
            c->too_big = 1;
            c->status = 413;
            return MHD_NO;
        }
        if (c->len + *upload_size + 1 > c->cap) {
            size_t cap = c->cap ? c->cap : 4096;
            while (cap < c->len + *upload_size + 1)
                cap *= 2;
            char *p = realloc(c->body, cap);
            if (!p)
                return MHD_NO;
            c->body = p;
            c->cap = cap;
        }
        memcpy(c->body + c->len, upload_data, *upload_size);
        c->len += *upload_size;
        c->body[c->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    int rc;
    switch (c->state) {
    case GW_ST_READING:
        c->state = GW_ST_WAITING; /* until dispatch says otherwise */
        rc = dispatch(c);
        break;
    case GW_ST_WAITING:
        rc = c->ep == GW_EP_MODELS       ? gw_models_resume(c)
             : c->ep == GW_EP_EMBEDDINGS ? gw_embed_resume(c)
                                         : gw_chat_resume(c);
        break;
    default:
        rc = 1;
        break;
    }
    return rc ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    gateway *g = cls;
    gw_conn *c = *con_cls;
    (void)mc;
    if (!c)
        return;
    *con_cls = NULL;
    int cut = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (cut && !c->gone && (c->q || (c->state == GW_ST_RESPONDING && c->streaming &&
                                     !(c->done && c->out.len == 0)))) {
        /* The client left (or the daemon stops) in the middle. */
        c->gone = 1;
        if (!c->note)
            c->note = toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown" : "client_gone";
        if (toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
            gw_metrics_count(g->metrics, "disconnect", NULL);
        if (c->q)
            ac_request_cancel(c->q);
    }
    c->gone = 1;
    unpark(c);
    if (c->ep == GW_EP_MODELS)
        gw_models_forget(g->models, c);
    if (c->streaming)
        gw_metrics_gauge(g->metrics, "streams", -1);
    if (!c->status)
        c->status = c->too_big ? 413 : 499; /* nginx's word for a client that left */
    double ms = gw_now_ms() - c->t0;
    const char *key_id = gw_auth_id(g->auth, c->key);
    gw_metrics_http(g->metrics, endpoint_name(c->ep), c->status, ms / 1000.0, key_id);
    gw_metrics_gauge(g->metrics, "inflight", -1);
    if (c->ep != GW_EP_HEALTH && c->ep != GW_EP_READY && c->ep != GW_EP_METRICS) {
        gw_log_rec r = {.client = c->client, .key_id = key_id, .method = c->method,
                        .path = c->path, .provider = c->provider, .model = c->model,
                        .status = c->status, .stream = c->req.stream, .in_tok = c->in_tok,
                        .out_tok = c->out_tok, .ms = ms, .id = c->em.id,
                        .note = c->note ? c->note : ""};
        gw_log_write(g->log, &r);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->n_conns--;
    c->mc = NULL;
    c->suspended = 0;
    gw_conn_unref(c);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    /* Our own doing when a client left (the access log says so): not
     * worth a line each. */
    if (strstr(line, "application error generating response") ||
        strstr(line, "Application reported internal error"))
        return;
    fprintf(stderr, "acore-serve: libmicrohttpd: %s\n", line);
}

/* "ADDR:PORT" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, int *v6)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1])
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    char host[64];
    size_t n = (size_t)(colon - s);
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        *len = sizeof *a;
        *v6 = 1;
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    *len = sizeof *a;
    *v6 = 0;
    return 0;
}

struct MHD_Daemon *gw_http_start(gateway *g, char *err, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int v6;
    if (parse_listen(g->cfg.listen, &ss, &sl, &v6) != 0) {
        snprintf(err, n, "listen address '%s' is not ADDR:PORT (an IPv4 address or a "
                 "[bracketed] IPv6 one)", g->cfg.listen);
        return NULL;
    }
    unsigned timeout_s = (unsigned)((g->cfg.idle_timeout_ms + 999) / 1000);
    unsigned backlog = g->cfg.max_connections < 4096 ? (unsigned)g->cfg.max_connections : 4096;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0),
        0, NULL, NULL, on_access, g,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, g,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)g->cfg.max_connections,
        /* The head, plus room to write the response through: the pool is
         * most of what an open stream costs here (every event is a few
         * hundred bytes; a bigger reply takes a few more writes). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)g->cfg.max_header_bytes + 8192,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, backlog,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
        MHD_OPTION_END);
    if (!d) {
        snprintf(err, n, "cannot listen on %s: %s", g->cfg.listen,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    g->port = di ? di->port : 0;
    (void)sl;
    return d;
}
