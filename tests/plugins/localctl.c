/*
 * localctl.c -- a test in-process plugin (run_local) whose behaviour the
 * prompt (the last user message) commands, for the flow-control and
 * timeout tests of in-process runs:
 *
 *   flood N        emit N pieces of 1 KiB as fast as emits return
 *   wait MS        say nothing for MS ms, then "done"
 *   stall MS       emit "first ", say nothing for MS ms, then "late"
 *   trickle N MS   emit N words, one every MS ms
 *
 * Waiting asks host->cancelled every millisecond, as a model checks it
 * between tokens.  The counters below are read by the tests (dlopen the
 * same file with RTLD_NOLOAD): pieces emitted, and runs that stopped
 * because they were told to (host->cancelled, or an emit refused).
 */
#include <abstractcore/provider.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

atomic_long localctl_emitted;
atomic_long localctl_stopped;

static const ac_host_api *host;

static ac_status lc_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s, (void)call;
    *state = NULL;
    return AC_OK;
}

static int cancelled(ac_call *call) { return host->cancelled(call); }

/* 0 when the time passed, -1 when told to stop first. */
static int pause_ms(long ms, ac_call *cancel)
{
    struct timespec one = {0, 1000000L};
    for (long i = 0; i < ms; i++) {
        if (cancelled(cancel))
            return -1;
        nanosleep(&one, NULL);
    }
    return cancelled(cancel) ? -1 : 0;
}

static ac_status stopped(void)
{
    atomic_fetch_add(&localctl_stopped, 1);
    return AC_ECANCELED;
}

static ac_status emit(ac_sink *sink, const char *s, size_t n)
{
    ac_status st = host->emit_text(sink, s, n);
    if (st == AC_OK)
        atomic_fetch_add(&localctl_emitted, 1);
    return st;
}

static ac_status lc_run(void *state, const ac_gen_request *req, ac_sink *sink,
                        ac_call *cancel)
{
    (void)state;
    const char *cmd = "";
    for (size_t i = req->n_messages; i-- > 0;) {
        const ac_message *m = host->message(req, i);
        if (m->role == AC_ROLE_USER) {
            cmd = m->text;
            break;
        }
    }
    long a = 0, b = 0;
    if (sscanf(cmd, "flood %ld", &a) == 1) {
        char piece[1024];
        for (long i = 0; i < a; i++) {
            memset(piece, 'a' + (int)(i % 26), sizeof piece);
            if (cancelled(cancel) || emit(sink, piece, sizeof piece) != AC_OK)
                return stopped();
        }
    } else if (sscanf(cmd, "wait %ld", &a) == 1) {
        if (pause_ms(a, cancel) || emit(sink, "done", 4) != AC_OK)
            return stopped();
    } else if (sscanf(cmd, "stall %ld", &a) == 1) {
        if (emit(sink, "first ", 6) != AC_OK || pause_ms(a, cancel) ||
            emit(sink, "late", 4) != AC_OK)
            return stopped();
    } else if (sscanf(cmd, "trickle %ld %ld", &a, &b) == 2) {
        for (long i = 0; i < a; i++)
            if (pause_ms(b, cancel) || emit(sink, "w ", 2) != AC_OK)
                return stopped();
    } else {
        return host->fail(cancel, AC_EINVAL, AC_STAGE_REQUEST, "localctl: unknown command '%s'",
                          cmd);
    }
    return host->emit_finish(sink, "stop", "eos");
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "localctl",
    .version = "1.0",
    .default_model = "ctl-1",
    .init = lc_init,
    .run_local = lc_run,
};

const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    return &descriptor;
}
