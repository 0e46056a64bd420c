/*
 * gw_loop.c -- the gateway's one loop, its start and its graceful stop.
 *
 * One thread, one epoll set: libmicrohttpd's own epoll descriptor (the
 * daemon runs in external-epoll mode), the core's backend descriptor (the
 * core runs in host mode), a wake eventfd, and the sockets of parked
 * connections (EPOLLRDHUP: a client leaving).  Each turn waits for the
 * earliest of libmicrohttpd's timeout, the core's timeout and the stop
 * deadline, then runs the core (ac_core_run_once: transfers, timers, and
 * every callback, which append events to connections and wake them), then
 * libmicrohttpd (MHD_run: accept, read, dispatch, write).  docs/deploying.md
 * says why one thread: no lock and no hand-off between the engine and the
 * HTTP side, an event goes from the backend's socket to the client's in
 * one turn, and an instance is scaled by running more of them.
 *
 * The stop (gw_stop: SIGTERM, SIGINT, or a test): stop accepting (the
 * listening socket is closed, so a load balancer moves on at once), say
 * "stopping" on /ready, answer what arrives on open connections with
 * "Connection: close", let requests in flight finish for
 * server.shutdown_timeout_ms, then cancel the rest -- a stream ends with
 * its API's error event, a waiting request gets a 503 -- and exit once
 * every response is out (or 2 s more have passed).
 */
#include "gw.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define FINAL_GRACE_MS 2000.0
#define MHD_ROUNDS 16

static void loop_close(gateway *g)
{
    if (g->ep >= 0)
        close(g->ep);
    if (g->wake >= 0)
        close(g->wake);
    g->ep = g->wake = -1;
}

void gw_free(gateway *g)
{
    if (!g)
        return;
    if (g->mhd) {
        /* libmicrohttpd must not be stopped with suspended connections. */
        for (gw_conn *c = g->conns; c; c = c->next)
            gw_conn_peer_gone(c);
        for (int i = 0; i < 16 && g->conns; i++)
            MHD_run(g->mhd);
        MHD_stop_daemon(g->mhd);
        g->mhd = NULL;
    }
    /* Requests still running end here: their on_done drops the last
     * reference on their connections. */
    ac_core_close(g->core);
    gw_models_free(g->models);
    gw_log_close(g->log);
    gw_metrics_free(g->metrics);
    gw_auth_free(g->auth);
    gw_config_free(&g->cfg);
    loop_close(g);
    free(g);
}

static int watch(gateway *g, int fd, void *tag, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    return epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Each stream costs a descriptor to its client and one to its backend. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

gateway *gw_new(const char *config_path, const char *listen, char *err, size_t n)
{
    gateway *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    g->ep = g->wake = -1;
    atomic_init(&g->stop_asked, 0);
    raise_fd_limit();
    ac_options *o = ac_options_new();
    ac_error ae;
    if (!o || ac_options_set(o, "engine.mode", "host") != AC_OK) {
        ac_options_free(o);
        snprintf(err, n, "out of memory");
        free(g);
        return NULL;
    }
    ac_status st = ac_core_open_ex(&g->core, config_path, o, &ae);
    ac_options_free(o);
    if (st != AC_OK) {
        snprintf(err, n, "config: %s", ae.message);
        free(g);
        return NULL;
    }
    char cerr[512];
    if (gw_config_load(&g->cfg, ac_core_config_path(g->core), cerr, sizeof cerr) != 0) {
        snprintf(err, n, "config: %s", cerr);
        goto fail;
    }
    if (listen) {
        char *l = strdup(listen);
        if (!l) {
            snprintf(err, n, "out of memory");
            goto fail;
        }
        free(g->cfg.listen);
        g->cfg.listen = l;
    }
    if (!(g->auth = gw_auth_new(&g->cfg)) || !(g->metrics = gw_metrics_new()) ||
        !(g->models = gw_models_new(g))) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    if (!(g->log = gw_log_open(g->cfg.access_log, err, n)))
        goto fail;
    ac_core_set_hook(g->core, gw_metrics_hook, g->metrics);
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    g->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g->ep < 0 || g->wake < 0) {
        snprintf(err, n, "epoll / eventfd: %s", strerror(errno));
        goto fail;
    }
    if (!(g->mhd = gw_http_start(g, err, n)))
        goto fail;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(g->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    g->mhd_fd = di ? di->epoll_fd : -1;
    g->core_fd = ac_core_backend_fd(g->core);
    if (g->mhd_fd < 0 || g->core_fd < 0 || watch(g, g->mhd_fd, &g->mhd_fd, EPOLLIN) != 0 ||
        watch(g, g->core_fd, &g->core_fd, EPOLLIN) != 0 ||
        watch(g, g->wake, &g->wake, EPOLLIN) != 0) {
        snprintf(err, n, "cannot watch the loop's descriptors: %s", strerror(errno));
        goto fail;
    }
    return g;
fail:
    gw_free(g);
    return NULL;
}

int gw_port(const gateway *g) { return g->port; }

void gw_stop(gateway *g)
{
    atomic_store(&g->stop_asked, 1);
    uint64_t one = 1;
    ssize_t w = write(g->wake, &one, sizeof one);
    (void)w;
}

static void begin_stop(gateway *g)
{
    g->stopping = 1;
    g->stop_deadline = gw_now_ms() + (double)g->cfg.shutdown_timeout_ms;
    /* No new connections: the load balancer's connect fails at once and it
     * tries another instance. */
    MHD_socket s = MHD_quiesce_daemon(g->mhd);
    if (s != MHD_INVALID_SOCKET)
        close(s);
}

/* The deadline passed: every request still waiting for its backend is
 * cancelled; their on_done answers them. */
static void cancel_all(gateway *g)
{
    g->cancelled = 1;
    g->stop_deadline = gw_now_ms() + FINAL_GRACE_MS;
    for (gw_conn *c = g->conns; c; c = c->next)
        if (c->q)
            ac_request_cancel(c->q);
    gw_models_cancel(g->models);
}

static int timeout_ms(gateway *g)
{
    long long t = -1;
    MHD_UNSIGNED_LONG_LONG mt;
    if (MHD_get_timeout(g->mhd, &mt) == MHD_YES)
        t = (long long)mt;
    int ct = ac_core_backend_timeout(g->core);
    if (ct >= 0 && (t < 0 || ct < t))
        t = ct;
    if (g->stopping) {
        double left = g->stop_deadline - gw_now_ms();
        long long s = left > 0 ? (long long)left + 1 : 0;
        if (t < 0 || s < t)
            t = s;
    }
    return t > 60000 || t < 0 ? (t < 0 ? -1 : 60000) : (int)t;
}

int gw_run(gateway *g)
{
    struct epoll_event evs[64];
    int rc = 0;
    for (;;) {
        int n = epoll_wait(g->ep, evs, 64, timeout_ms(g));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "acore-serve: epoll_wait: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &g->wake) {
                uint64_t v;
                ssize_t r = read(g->wake, &v, sizeof v);
                (void)r;
            } else if (tag != &g->mhd_fd && tag != &g->core_fd) {
                gw_conn_peer_gone(tag);
            }
        }
        if (atomic_load(&g->stop_asked) && !g->stopping)
            begin_stop(g);
        ac_core_run_once(g->core);
        /* At the connection limit libmicrohttpd stops polling its listening
         * socket, and takes it back only at the start of its next round:
         * when this round closed a connection, that round is now, or a
         * client waiting in the backlog would wait for the next event. */
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(g->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        unsigned before = di ? di->num_connections : 0;
        /* libmicrohttpd accepts ten connections a round; a burst of a
         * thousand would otherwise take a hundred turns of the whole loop.
         * More rounds while it has work, a bounded number, so the core's
         * transfers are not starved. */
        for (int k = 0; k < MHD_ROUNDS; k++) {
            MHD_run(g->mhd);
            struct pollfd p = {.fd = g->mhd_fd, .events = POLLIN};
            if (poll(&p, 1, 0) != 1)
                break;
        }
        di = MHD_get_daemon_info(g->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (before >= (unsigned)g->cfg.max_connections && di &&
            di->num_connections < before)
            MHD_run(g->mhd);
        if (g->stopping) {
            double now = gw_now_ms();
            if (!g->cancelled && g->inflight > 0 && now >= g->stop_deadline)
                cancel_all(g);
            /* Done when nothing is left to answer, or the grace is over. */
            if (g->n_conns == 0 || (g->cancelled && now >= g->stop_deadline))
                break;
            if (!g->cancelled && g->inflight == 0 && now >= g->stop_deadline)
                break;
        }
    }
    return rc;
}
