/*
 * localecho.c -- a test in-process plugin (run_local): it "generates" the
 * words of the last user message one by one, 20 ms apart, polling the
 * cancel state (host->cancelled), as a real in-process model would.  A prompt of "fail"
 * fails.
 */
#include <abstractcore/provider.h>
#include <string.h>
#include <time.h>

static const ac_host_api *host;

static ac_status le_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s, (void)call;
    *state = NULL;
    return AC_OK;
}

static ac_status le_run(void *state, const ac_gen_request *req, ac_sink *sink,
                        ac_call *call)
{
    (void)state;
    const char *text = "";
    for (size_t i = req->n_messages; i-- > 0;) {
        const ac_message *m = host->message(req, i);
        if (m->role == AC_ROLE_USER) {
            text = m->text;
            break;
        }
    }
    if (strcmp(text, "fail") == 0) {
        return host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "the local model failed");
    }
    long words = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p + 1) : strlen(p);
        if (host->cancelled(call))
            return AC_ECANCELED;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        ac_status st = host->emit_text(sink, p, n);
        if (st != AC_OK)
            return st;
        words++;
        p += n;
    }
    host->emit_usage(sink, (long)strlen(text), words);
    return host->emit_finish(sink, "stop", "eos");
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "localecho",
    .version = "1.0",
    .description = "echoes the prompt back, word by word",
    .default_model = "echo-1",
    .init = le_init,
    .run_local = le_run,
};

const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    return &descriptor;
}
