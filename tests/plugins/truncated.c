/*
 * truncated.c -- a test plugin whose descriptor says it is one member
 * shorter than the smallest the core accepts (it stops before `init`):
 * the core must refuse it as "descriptor too small", whatever the bytes
 * after struct_size hold, and never call what lies there.
 */
#include <abstractcore/provider.h>

static ac_status tr_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s, (void)call;
    *state = NULL;
    return AC_OK;
}

static ac_status tr_run(void *state, const ac_gen_request *req, ac_sink *sink, ac_call *call)
{
    (void)state, (void)req, (void)sink, (void)call;
    return AC_EUNSUPPORTED;
}

/* Every member is set, so only the size can be the reason for refusing. */
static const ac_provider descriptor = {
    .struct_size = offsetof(ac_provider, init),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "truncated",
    .version = "1.0",
    .init = tr_init,
    .run_local = tr_run,
};

AC_PLUGIN_EXPORT const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    (void)host;
    return &descriptor;
}
