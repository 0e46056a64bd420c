/*
 * loop_poll.c -- drive AbstractCore from a plain poll() loop (host mode).
 *
 * The smallest host loop: wait for the backend fd to become readable or
 * the backend timeout to pass, then let the core do what is due.  A
 * program with its own poll() or epoll set adds the fd to it beside its
 * other fds, and folds the timeout into its own.  What the demo does is in
 * loop_demo.h.
 *
 * Usage: ./loop_poll [-c CONFIG] [-p PROVIDER] [-m MODEL] [-n N]
 *                    [-w SLOW_MODEL -t TIMEOUT_MS]
 * Build: cc -o loop_poll loop_poll.c $(pkg-config --cflags --libs abstractcore)
 */
#include "loop_demo.h"
#include <poll.h>

/* The whole adapter: one iteration of the application's loop. */
static int poll_once(ac_core *core)
{
    struct pollfd p;
    p.fd = ac_core_backend_fd(core);
    p.events = POLLIN;
    p.revents = 0;
    /* -1 (no timer) waits for the fd alone. */
    if (poll(&p, 1, ac_core_backend_timeout(core)) < 0)
        return -1;
    return ac_core_run_once(core) == AC_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    demo d;
    int rc = demo_open(&d, argc, argv, "loop_poll");
    if (rc == 0)
        rc = demo_start(&d);
    while (rc == 0 && !demo_all_done(&d))
        if (poll_once(d.core) != 0) {
            fprintf(stderr, "loop_poll: the loop failed\n");
            rc = 1;
        }
    return demo_close(&d, rc);
}
