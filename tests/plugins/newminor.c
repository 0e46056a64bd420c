/*
 * newminor.c -- a test plugin that needs a newer ABI minor than the core
 * has: refused, naming the versions.
 */
#include <abstractcore/provider.h>

static ac_status nm_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s, (void)call;
    *state = NULL;
    return AC_OK;
}

static ac_status nm_build(void *st, const ac_gen_request *r, ac_http_request *o, ac_call *c)
{
    (void)st, (void)r, (void)o, (void)c;
    return AC_EUNSUPPORTED;
}

static ac_status nm_parse(void *st, int status, const char *b, size_t n, ac_sink *k, ac_call *c)
{
    (void)st, (void)status, (void)b, (void)n, (void)k, (void)c;
    return AC_EUNSUPPORTED;
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR + 1,
    .name = "newminor",
    .version = "1.0",
    .init = nm_init,
    .build_request = nm_build,
    .parse_response = nm_parse,
};

const ac_provider *ac_provider_entry(const ac_host_api *host);
const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    (void)host;
    return &descriptor;
}
