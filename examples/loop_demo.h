/*
 * loop_demo.h -- what the loop_*.c examples do once their event loop
 * drives the core: open a core in host mode, start N streamed requests at
 * once, cancel every tenth after its first text, send every tenth
 * (index 5, 15, ...) to a slower model with a total timeout, and count
 * how each ended.  Each loop_*.c adds only the part a program copies: the
 * few lines that let its loop (libuv, libevent, GLib, poll) drive the
 * core.
 *
 * Host mode: no engine thread.  The loop watches ac_core_backend_fd for
 * reading and the timeout from ac_core_backend_timeout, and calls
 * ac_core_run_once when either fires; every callback below then runs on
 * the loop's thread, inside ac_core_run_once -- so it may touch the
 * program's state without a lock, but must not block.
 *
 * Usage: ./loop_X [-c CONFIG] [-p PROVIDER] [-m MODEL] [-n N]
 *                 [-w SLOW_MODEL -t TIMEOUT_MS]
 * Prints one line per request ("7: ok Hello...", "3: cancelled after 5
 * bytes", "5: timed out"), then "N requests: A ok, B cancelled, C timed
 * out, D failed".  Exit status 0 when every request ended as planned, 1
 * otherwise (one line on stderr), 2 for a bad command line.
 */
#ifndef LOOP_DEMO_H
#define LOOP_DEMO_H
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

typedef struct demo_req {
    struct demo  *d;
    int           index;
    ac_request   *q;
    size_t        bytes;
    char          text[128];
} demo_req;

typedef struct demo {
    const char   *name;
    ac_core      *core;
    ac_llm       *llm, *slow;
    ac_gen_params *stream, *hurry;
    demo_req     *r;
    int           n, finished;
    int           ok, cancelled, timedout, failed;
} demo;

static void demo_error(const demo *d, const ac_error *err)
{
    fprintf(stderr, "%s: %s%s%s\n", d->name, err->provider, err->provider[0] ? ": " : "",
            err->message);
}

/* On the loop's thread, inside ac_core_run_once. */
static void demo_event(ac_request *q, const ac_chunk *c, void *user)
{
    demo_req *r = user;
    if (c->type != AC_EVENT_TEXT)
        return;
    if (r->bytes + c->len < sizeof r->text)
        memcpy(r->text + r->bytes, c->text, c->len);
    r->bytes += c->len;
    r->text[r->bytes < sizeof r->text ? r->bytes : sizeof r->text - 1] = '\0';
    if (r->index % 10 == 3)
        ac_request_cancel(q);   /* on_done follows, with AC_ECANCELED */
}

static void demo_done(ac_request *q, ac_status st, void *user)
{
    demo_req *r = user;
    demo *d = r->d;
    (void)q;
    d->finished++;
    if (st == AC_OK) {
        d->ok++;
        printf("%d: ok %s\n", r->index, r->text);
    } else if (st == AC_ECANCELED) {
        d->cancelled++;
        printf("%d: cancelled after %zu bytes\n", r->index, r->bytes);
    } else if (st == AC_ETIMEDOUT) {
        d->timedout++;
        printf("%d: timed out\n", r->index);
    } else {
        d->failed++;
        printf("%d: failed: %s\n", r->index, ac_strerror(st));
    }
}

/* Parse the command line and open a core in host mode.  0, or the exit
 * status to return. */
static int demo_open(demo *d, int argc, char **argv, const char *name)
{
    const char *config = NULL, *provider = NULL, *model = NULL, *slow = NULL;
    long timeout_ms = 0;
    int opt;
    memset(d, 0, sizeof *d);
    d->name = name;
    d->n = 100;
    while ((opt = getopt(argc, argv, "c:p:m:n:w:t:")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': provider = optarg; break;
        case 'm': model = optarg; break;
        case 'n': d->n = atoi(optarg); break;
        case 'w': slow = optarg; break;
        case 't': timeout_ms = atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-c CONFIG] [-p PROVIDER] [-m MODEL] [-n N] "
                    "[-w SLOW_MODEL -t TIMEOUT_MS]\n", name);
            return 2;
        }
    }
    if (d->n < 1 || d->n > 100000 || (slow && timeout_ms <= 0)) {
        fprintf(stderr, "%s: -n must be 1..100000, and -w needs -t\n", name);
        return 2;
    }
    ac_error err;
    ac_options *o = ac_options_new();
    if (!o || ac_options_set(o, "engine.mode", "host") != AC_OK) {
        fprintf(stderr, "%s: out of memory\n", name);
        ac_options_free(o);
        return 1;
    }
    ac_status st = ac_core_open_ex(&d->core, config, o, &err);
    ac_options_free(o);
    if (st != AC_OK || !(d->llm = ac_llm_create(d->core, provider, model, NULL, &err)) ||
        (slow && !(d->slow = ac_llm_create(d->core, provider, slow, NULL, &err)))) {
        demo_error(d, &err);
        return 1;
    }
    d->stream = ac_gen_params_new();
    d->hurry = ac_gen_params_new();
    d->r = calloc((size_t)d->n, sizeof *d->r);
    if (!d->stream || !d->hurry || !d->r) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    ac_gen_params_set_stream(d->stream, 1);
    ac_gen_params_set_stream(d->hurry, 1);
    ac_gen_params_set_timeouts(d->hurry, -1, -1, -1, timeout_ms);
    return 0;
}

/* Start every request.  They run once the loop runs. */
static int demo_start(demo *d)
{
    static const ac_callbacks cb = {.on_event = demo_event, .on_done = demo_done};
    for (int i = 0; i < d->n; i++) {
        ac_error err;
        int slow = d->slow && i % 10 == 5;
        d->r[i].d = d;
        d->r[i].index = i;
        d->r[i].q = ac_agenerate(slow ? d->slow : d->llm, "Say hello.",
                                 slow ? d->hurry : d->stream, &cb, &d->r[i], &err);
        if (!d->r[i].q) {
            demo_error(d, &err);
            return 1;
        }
    }
    return 0;
}

static int demo_all_done(const demo *d) { return d->finished == d->n; }

/* Print the summary, free everything.  The exit status. */
static int demo_close(demo *d, int rc)
{
    if (d->r && demo_all_done(d)) {
        printf("%d requests: %d ok, %d cancelled, %d timed out, %d failed\n", d->n, d->ok,
               d->cancelled, d->timedout, d->failed);
        if (d->failed)
            rc = 1;
    }
    for (int i = 0; d->r && i < d->n; i++)
        ac_request_free(d->r[i].q);
    free(d->r);
    ac_gen_params_free(d->stream);
    ac_gen_params_free(d->hurry);
    ac_llm_free(d->llm);
    ac_llm_free(d->slow);
    ac_core_close(d->core);
    return rc;
}
#endif
