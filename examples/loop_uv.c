/*
 * loop_uv.c -- drive AbstractCore from a libuv loop (host mode).
 *
 * The adapter is a uv_poll_t on the core's backend fd and a uv_timer_t
 * set to the core's backend timeout: either one runs ac_core_run_once and
 * re-arms the timer.  Everything the core does then happens on the loop's
 * thread, between the program's other callbacks.  What the demo does is
 * in loop_demo.h.
 *
 * Usage: ./loop_uv [-c CONFIG] [-p PROVIDER] [-m MODEL] [-n N]
 *                  [-w SLOW_MODEL -t TIMEOUT_MS]
 * Build: cc -o loop_uv loop_uv.c $(pkg-config --cflags --libs abstractcore libuv)
 */
#include "loop_demo.h"
#include <uv.h>

/* ---- the adapter ---- */

typedef struct uv_ac {
    uv_poll_t  poll;
    uv_timer_t timer;
    ac_core   *core;
    void     (*after)(struct uv_ac *a);   /* the program's check, may be NULL */
    void      *data;
} uv_ac;

static void uv_ac_run(uv_ac *a);

static void uv_ac_on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    uv_ac_run(h->data);
}

static void uv_ac_on_timer(uv_timer_t *h) { uv_ac_run(h->data); }

/* Run a round, then wait for the next timer the core wants (if any). */
static void uv_ac_run(uv_ac *a)
{
    int t;
    ac_core_run_once(a->core);
    t = ac_core_backend_timeout(a->core);
    if (t < 0)
        uv_timer_stop(&a->timer);
    else
        uv_timer_start(&a->timer, uv_ac_on_timer, (uint64_t)t, 0);
    if (a->after)
        a->after(a);
}

static int uv_ac_start(uv_loop_t *loop, uv_ac *a, ac_core *core)
{
    a->core = core;
    if (uv_poll_init(loop, &a->poll, ac_core_backend_fd(core)) != 0 ||
        uv_timer_init(loop, &a->timer) != 0)
        return -1;
    a->poll.data = a->timer.data = a;
    /* Requests started before the loop runs have already made the fd
     * readable, so the first round comes without help. */
    return uv_poll_start(&a->poll, UV_READABLE, uv_ac_on_poll);
}

static void uv_ac_stop(uv_ac *a)
{
    uv_poll_stop(&a->poll);
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->poll, NULL);
    uv_close((uv_handle_t *)&a->timer, NULL);
}

/* ---- the demo ---- */

static void stop_when_done(uv_ac *a)
{
    if (demo_all_done(a->data))
        uv_ac_stop(a);
}

int main(int argc, char **argv)
{
    demo d;
    uv_ac a;
    uv_loop_t loop;
    int rc = demo_open(&d, argc, argv, "loop_uv");
    memset(&a, 0, sizeof a);
    if (rc == 0 && uv_loop_init(&loop) != 0) {
        fprintf(stderr, "loop_uv: cannot make a loop\n");
        rc = 1;
    }
    if (rc == 0) {
        a.after = stop_when_done;
        a.data = &d;
        if (uv_ac_start(&loop, &a, d.core) != 0) {
            fprintf(stderr, "loop_uv: cannot watch the core\n");
            rc = 1;
        } else {
            rc = demo_start(&d);
            if (rc != 0)
                uv_ac_stop(&a);
            uv_run(&loop, UV_RUN_DEFAULT);   /* returns once the handles are closed */
        }
        uv_loop_close(&loop);
    }
    return demo_close(&d, rc);
}
