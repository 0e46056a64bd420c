/*
 * badabi.c -- a test plugin built for the next ABI major: the core must
 * refuse it with a reason naming its file, and keep the other providers.
 */
#include <abstractcore/provider.h>

static ac_status bad_init(const ac_settings *s, void **state, ac_call *call)
{
    (void)s;
    (void)call;
    *state = NULL;
    return AC_OK;
}

static ac_status bad_build(void *st, const ac_gen_request *r, ac_http_request *o, ac_call *c)
{
    (void)st, (void)r, (void)o, (void)c;
    return AC_EUNSUPPORTED;
}

static ac_status bad_parse(void *st, int status, const char *b, size_t n, ac_sink *k, ac_call *c)
{
    (void)st, (void)status, (void)b, (void)n, (void)k, (void)c;
    return AC_EUNSUPPORTED;
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR + 1,
    .abi_minor = 0,
    .name = "badabi",
    .version = "1.0",
    .init = bad_init,
    .build_request = bad_build,
    .parse_response = bad_parse,
};

const ac_provider *ac_provider_entry(const ac_host_api *host);
const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    (void)host;
    return &descriptor;
}
