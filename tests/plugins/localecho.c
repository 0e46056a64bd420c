/*
 * localecho.c -- a test in-process plugin (run_local): it "generates" the
 * words of the last user message one by one, 20 ms apart, polling the
 * cancel flag, as a real in-process model would.  A prompt of "fail"
 * fails.
 */
#include <abstractcore/provider.h>
#include <string.h>
#include <time.h>

static const ac_host_api *host;

static ac_status le_init(const ac_settings *s, void **state, ac_error *err)
{
    (void)s, (void)err;
    *state = NULL;
    return AC_OK;
}

static ac_status le_run(void *state, const ac_gen_request *req, ac_sink *sink,
                        const volatile int *cancel, ac_error *err)
{
    (void)state;
    const char *text = "";
    for (size_t i = req->n_messages; i-- > 0;)
        if (req->messages[i].role == AC_ROLE_USER && req->messages[i].content) {
            text = req->messages[i].content;
            break;
        }
    if (strcmp(text, "fail") == 0) {
        host->error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "the local model failed");
        return AC_EPROTOCOL;
    }
    long words = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p + 1) : strlen(p);
        if (__atomic_load_n(cancel, __ATOMIC_RELAXED))
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
    .capabilities = AC_CAP_LOCAL | AC_CAP_STREAMING,
    .default_model = "echo-1",
    .init = le_init,
    .run_local = le_run,
};

const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    return &descriptor;
}
