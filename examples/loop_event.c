/*
 * loop_event.c -- drive AbstractCore from a libevent loop (host mode).
 *
 * The adapter is a persistent read event on the core's backend fd and a
 * timer event set to the core's backend timeout: either one runs
 * ac_core_run_once and re-arms the timer.  What the demo does is in
 * loop_demo.h.
 *
 * Usage: ./loop_event [-c CONFIG] [-p PROVIDER] [-m MODEL] [-n N]
 *                     [-w SLOW_MODEL -t TIMEOUT_MS]
 * Build: cc -o loop_event loop_event.c $(pkg-config --cflags --libs abstractcore libevent)
 */
#include "loop_demo.h"
#include <event2/event.h>

/* ---- the adapter ---- */

typedef struct ev_ac {
    struct event *io, *timer;
    ac_core      *core;
    void        (*after)(struct ev_ac *a);  /* the program's check, may be NULL */
    void         *data;
} ev_ac;

static void ev_ac_run(evutil_socket_t fd, short what, void *arg)
{
    ev_ac *a = arg;
    int t;
    (void)fd;
    (void)what;
    ac_core_run_once(a->core);
    t = ac_core_backend_timeout(a->core);
    if (t < 0) {
        evtimer_del(a->timer);
    } else {
        struct timeval tv;
        tv.tv_sec = t / 1000;
        tv.tv_usec = (t % 1000) * 1000;
        evtimer_add(a->timer, &tv);
    }
    if (a->after)
        a->after(a);
}

static int ev_ac_start(struct event_base *base, ev_ac *a, ac_core *core)
{
    a->core = core;
    a->io = event_new(base, ac_core_backend_fd(core), EV_READ | EV_PERSIST, ev_ac_run, a);
    a->timer = evtimer_new(base, ev_ac_run, a);
    if (!a->io || !a->timer)
        return -1;
    return event_add(a->io, NULL);
}

static void ev_ac_stop(ev_ac *a)
{
    if (a->io)
        event_free(a->io);
    if (a->timer)
        event_free(a->timer);
    a->io = a->timer = NULL;
}

/* ---- the demo ---- */

static void stop_when_done(ev_ac *a)
{
    if (demo_all_done(a->data))
        ev_ac_stop(a);   /* no events left: event_base_dispatch returns */
}

int main(int argc, char **argv)
{
    demo d;
    ev_ac a;
    struct event_base *base = NULL;
    int rc = demo_open(&d, argc, argv, "loop_event");
    memset(&a, 0, sizeof a);
    if (rc == 0 && !(base = event_base_new())) {
        fprintf(stderr, "loop_event: cannot make a loop\n");
        rc = 1;
    }
    if (rc == 0) {
        a.after = stop_when_done;
        a.data = &d;
        if (ev_ac_start(base, &a, d.core) != 0) {
            fprintf(stderr, "loop_event: cannot watch the core\n");
            rc = 1;
        } else if ((rc = demo_start(&d)) == 0) {
            event_base_dispatch(base);
        }
        ev_ac_stop(&a);
    }
    if (base)
        event_base_free(base);
    return demo_close(&d, rc);
}
