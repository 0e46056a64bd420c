/*
 * mockutil.c -- see mockutil.h.
 */
#include "mockutil.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mu_start(mu_env *e, const char *script, const char *model, const char *extra)
{
    char errbuf[512];
    memset(e, 0, sizeof *e);
    e->mock = mock_server_start(script, 0, errbuf, sizeof errbuf);
    if (!e->mock) {
        fprintf(stderr, "mock_server_start: %s\n", errbuf);
        abort();
    }
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";\n"
             "                api_key = \"%s\"; %s } );\n",
             mock_server_url(e->mock), MU_API_KEY, extra ? extra : "");
    e->core = tu_open_core(cfg);
    if (model)
        e->llm = mu_llm(e, model);
}

ac_llm *mu_llm(mu_env *e, const char *model)
{
    ac_error err;
    ac_llm *l = ac_llm_create(e->core, "mock", model, NULL, &err);
    if (!l) {
        fprintf(stderr, "ac_llm_create: %s\n", err.message);
        abort();
    }
    return l;
}

void mu_stop(mu_env *e)
{
    ac_llm_free(e->llm);
    ac_core_close(e->core);
    mock_server_stop(e->mock);
    memset(e, 0, sizeof *e);
}
