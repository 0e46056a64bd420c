/*
 * nullentry.c -- a test plugin whose entry point returns NULL because a
 * check it makes fails, as a plugin that cannot run in this process at
 * all does (a missing CPU feature, say).  The check here is that the
 * variable AC_TEST_NULLENTRY_OK is set, so a test can also see it load.
 * It logs why through the host, as the core's refusal tells the user to
 * look for.
 */
#include <abstractcore/provider.h>
#include <stdlib.h>

static const ac_host_api *host;

static ac_status ne_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s, (void)call;
    *state = NULL;
    return AC_OK;
}

static ac_status ne_run(void *state, const ac_gen_request *req, ac_sink *sink, ac_call *call)
{
    (void)state, (void)req, (void)call;
    return host->emit_finish(sink, "stop", NULL);
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "nullentry",
    .version = "1.0",
    .init = ne_init,
    .run_local = ne_run,
};

AC_PLUGIN_EXPORT const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    if (!getenv("AC_TEST_NULLENTRY_OK")) {
        h->log(NULL, AC_LOG_ERROR, "nullentry: AC_TEST_NULLENTRY_OK is not set, cannot run");
        return NULL;
    }
    return &descriptor;
}
