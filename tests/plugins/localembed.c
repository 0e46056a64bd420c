/*
 * localembed.c -- a test in-process plugin that only makes embeddings
 * (run_embed, ABI 2.1), as a local sentence encoder would.  The vector of
 * a text is [its length, its first byte, its last byte, 1], computed on
 * the core's worker thread.  A text "fail" fails the batch; a text that
 * starts with "slow" makes the run wait, polling host->cancelled, until
 * it is cancelled (or 10 s pass); `dimensions` is refused.
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

static ac_status le_embed(void *state, const ac_embed_request *req, ac_embed_sink *out,
                          ac_call *call)
{
    (void)state;
    if (req->dimensions)
        return host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                          "localembed cannot shorten vectors (dimensions)");
    for (size_t i = 0; i < req->n_texts; i++) {
        size_t len;
        const char *t = host->embed_text(req, i, &len);
        if (strcmp(t, "fail") == 0)
            return host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "the local encoder failed");
        for (int k = 0; strncmp(t, "slow", 4) == 0 && k < 1000; k++) {
            if (host->cancelled(call))
                return AC_ECANCELED;
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        float v[4] = {(float)len, (float)(unsigned char)t[0], (float)(unsigned char)t[len - 1],
                      1.0f};
        ac_status st = host->embed_vector(out, i, v, 4);
        if (st != AC_OK)
            return st;
    }
    host->embed_usage(out, (long)req->n_texts);
    return host->embed_model(out, "local-encoder");
}

static size_t le_max_batch(void *state)
{
    (void)state;
    return 2;
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "localembed",
    .version = "1.0",
    .description = "embeds texts in process",
    .default_model = "local-encoder",
    .init = le_init,
    .run_embed = le_embed,
    .embed_max_batch = le_max_batch,
};

const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    return &descriptor;
}
