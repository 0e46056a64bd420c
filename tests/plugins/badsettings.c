/*
 * badsettings.c -- test plugins whose ABI 2.1 `settings` list is wrong,
 * one way per build (BAD_SETTINGS):
 *   1  names a core setting ("timeout_ms"): loaded (the core's key wins),
 *      but acore-provider-check fails it;
 *   2  a name that is not an identifier ("Base URL"): the same;
 *   3  a name of 64 bytes or more: refused by the loader, failed by the
 *      checker.
 */
#include <abstractcore/provider.h>

#ifndef BAD_SETTINGS
#error "build with -DBAD_SETTINGS=1, 2 or 3"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

#if BAD_SETTINGS == 1
static const char *const settings[] = {"region", "timeout_ms", NULL};
#elif BAD_SETTINGS == 2
static const char *const settings[] = {"Base URL", NULL};
#else
static const char *const settings[] = {
    "a_setting_name_far_too_long_to_be_typed_in_any_configuration_file", NULL};
#endif

static ac_status bs_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s, (void)call;
    *state = NULL;
    return AC_OK;
}

static ac_status bs_build(void *st, const ac_gen_request *r, ac_http_request *o, ac_call *c)
{
    (void)st, (void)r, (void)o, (void)c;
    return AC_EUNSUPPORTED;
}

static ac_status bs_parse(void *st, int status, const char *b, size_t n, ac_sink *k, ac_call *c)
{
    (void)st, (void)status, (void)b, (void)n, (void)k, (void)c;
    return AC_EUNSUPPORTED;
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "badsettings" STR(BAD_SETTINGS),
    .version = "1.0",
    .description = "a test plugin with a wrong settings list",
    .init = bs_init,
    .build_request = bs_build,
    .parse_response = bs_parse,
    .settings = settings,
};

const ac_provider *ac_provider_entry(const ac_host_api *host);
const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    (void)host;
    return &descriptor;
}
