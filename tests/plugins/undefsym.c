/*
 * undefsym.c -- a test plugin that calls a function nothing defines (as a
 * plugin built against a library the program does not have would): it
 * links only because it is linked with --unresolved-symbols=ignore-all,
 * and dlopen(RTLD_NOW) must fail, naming the symbol.
 */
#include <abstractcore/provider.h>

int ac_test_symbol_nobody_defines(void);

static ac_status us_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s, (void)call;
    *state = NULL;
    return ac_test_symbol_nobody_defines() ? AC_OK : AC_ECONFIG;
}

static ac_status us_run(void *state, const ac_gen_request *req, ac_sink *sink, ac_call *call)
{
    (void)state, (void)req, (void)sink, (void)call;
    return AC_EUNSUPPORTED;
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "undefsym",
    .version = "1.0",
    .init = us_init,
    .run_local = us_run,
};

AC_PLUGIN_EXPORT const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    (void)host;
    return &descriptor;
}
