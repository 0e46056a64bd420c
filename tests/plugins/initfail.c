/*
 * initfail.c -- a test plugin that loads but whose init refuses its
 * settings, as a plugin does for a wrong setting: it needs mode = "ok",
 * and fails with AC_ECONFIG through host->fail, naming the setting,
 * otherwise.  With mode = "ok" it runs, replying "ok".
 */
#include <abstractcore/provider.h>
#include <string.h>

static const ac_host_api *host;

static ac_status if_init(const ac_settings *s, void **state, ac_call *call)
{
    const char *mode = NULL;
    *state = NULL;
    int got = host->setting_string(s, "mode", &mode);
    if (got < 0)
        return AC_ECONFIG; /* the core has reported the type already */
    if (got == 0)
        return host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                          "initfail: setting 'mode' is required (the only mode is \"ok\")");
    if (strcmp(mode, "ok") != 0)
        return host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                          "initfail: mode '%s' is not supported (the only mode is \"ok\")", mode);
    return AC_OK;
}

static ac_status if_run(void *state, const ac_gen_request *req, ac_sink *sink, ac_call *call)
{
    (void)state, (void)req, (void)call;
    ac_status st = host->emit_text(sink, "ok", 2);
    return st != AC_OK ? st : host->emit_finish(sink, "stop", NULL);
}

static const ac_provider descriptor = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "initfail",
    .version = "1.0",
    .init = if_init,
    .run_local = if_run,
};

AC_PLUGIN_EXPORT const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    host = h;
    return &descriptor;
}
