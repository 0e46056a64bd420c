/*
 * tty.c -- what acore draws on a terminal, and Ctrl-C.
 *
 * The spinner (while waiting for a reply's first event) and the progress
 * bar (acore batch) go to standard error, and only when standard error is
 * a terminal: a pipe or a file never gets a carriage return or a frame.
 * Each erases itself before anything else is printed, so the reply text
 * on standard output (often the same terminal) starts on a clean line.
 *
 * Ctrl-C: the handler only sets cli_interrupted (about the only thing a
 * handler may safely do); the loops that wait look at it.  main() blocks
 * SIGINT before the library starts its threads, so they inherit the block
 * and the handler only ever runs on the thread that unblocks it here.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* sigaction, pthread_sigmask */
#endif

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

volatile sig_atomic_t cli_interrupted;

static void tty_on_sigint(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

void cli_sigint_catch(int once)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tty_on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = once ? SA_RESETHAND : 0;
    sigaction(SIGINT, &sa, NULL);
    /* A Ctrl-C pressed while SIGINT was blocked is delivered here. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ */
/* Spinner                                                             */
/* ------------------------------------------------------------------ */

/* Frames are drawn every SPIN_MS, after a first SPIN_DELAY_MS: a reply
 * that starts at once (the mock, a warm local model) never flickers. */
#define SPIN_MS       100
#define SPIN_DELAY_MS 150

void cli_spinner_start(cli_spinner *sp, const char *label)
{
    memset(sp, 0, sizeof *sp);
    sp->on = isatty(STDERR_FILENO);
    sp->label = label ? label : "";
    sp->next_ms = cli_now_ms() + SPIN_DELAY_MS;
}

void cli_spinner_tick(cli_spinner *sp)
{
    static const char frames[] = "|/-\\";
    double now;
    int n;

    if (!sp->on)
        return;
    now = cli_now_ms();
    if (now < sp->next_ms)
        return;
    sp->next_ms = now + SPIN_MS;
    n = fprintf(stderr, "\r%c %s", frames[sp->frame++ % 4], sp->label);
    if (n > 0 && (size_t)n > sp->width)
        sp->width = (size_t)n;
    fflush(stderr);
}

void cli_spinner_stop(cli_spinner *sp)
{
    if (sp->on && sp->width > 0)
        fprintf(stderr, "\r%*s\r", (int)sp->width, "");
    fflush(stderr);
    sp->on = 0;
    sp->width = 0;
}

/* ------------------------------------------------------------------ */
/* Progress bar                                                        */
/* ------------------------------------------------------------------ */

#define BAR_CELLS 30

void cli_progress_start(cli_progress *p, size_t total)
{
    memset(p, 0, sizeof *p);
    p->on = isatty(STDERR_FILENO) && total > 0;
    p->total = total;
}

void cli_progress_draw(cli_progress *p, size_t done, size_t failed)
{
    char bar[BAR_CELLS + 1];
    size_t fill, i;
    int n;

    if (!p->on)
        return;
    fill = p->total ? done * BAR_CELLS / p->total : 0;
    for (i = 0; i < BAR_CELLS; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_CELLS] = '\0';
    n = fprintf(stderr, "\r[%s] %zu/%zu", bar, done, p->total);
    if (failed)
        n += fprintf(stderr, ", %zu failed", failed);
    if (n > 0 && (size_t)n > p->width)
        p->width = (size_t)n;
    fflush(stderr);
}

void cli_progress_clear(cli_progress *p)
{
    if (p->on && p->width > 0) {
        fprintf(stderr, "\r%*s\r", (int)p->width, "");
        fflush(stderr);
    }
    p->width = 0;
}
