/*
 * mockutil.c -- see mockutil.h.
 */
#include "mockutil.h"
#include "testutil.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
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

ac_llm *mu_llm_at(mu_env *e, const char *base_url,
                  const char *connect_timeout_ms)
{
    ac_options *o = ac_options_new();
    ac_options_set(o, "base_url", base_url);
    ac_options_set(o, "max_retries", "0");
    if (connect_timeout_ms)
        ac_options_set(o, "connect_timeout_ms", connect_timeout_ms);
    ac_error err;
    ac_llm *llm = ac_llm_create(e->core, "mock", "default", o, &err);
    ac_options_free(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    return llm;
}

void mu_stop(mu_env *e)
{
    ac_llm_free(e->llm);
    ac_core_close(e->core);
    mock_server_stop(e->mock);
    memset(e, 0, sizeof *e);
}

int mu_start_plain(mu_env *e, const char *script)
{
    char errbuf[512];
    memset(e, 0, sizeof *e);
    e->mock = mock_server_start(script, 0, errbuf, sizeof errbuf);
    if (!e->mock) {
        fprintf(stderr, "mock_server_start: %s\n", errbuf);
        return -1;
    }
    e->core = tu_open_core(NULL);
    return 0;
}

json_object *mu_last_body(const mock_server *m)
{
    char *b = mock_server_last_body(m);
    json_object *o = b ? json_tokener_parse(b) : NULL;
    free(b);
    return o;
}

typedef struct count_wait {
    const mock_server *m;
    size_t             n;
} count_wait;

static int have_requests(void *ctx)
{
    count_wait *w = ctx;
    return mock_server_request_count(w->m) >= w->n;
}

static int have_disconnects(void *ctx)
{
    count_wait *w = ctx;
    return mock_server_disconnects(w->m) >= w->n;
}

int mu_wait_requests(const mock_server *m, size_t n, int timeout_ms)
{
    count_wait w = {m, n};
    return tu_wait_until(have_requests, &w, timeout_ms);
}

int mu_wait_disconnects(const mock_server *m, size_t n, int timeout_ms)
{
    count_wait w = {m, n};
    return tu_wait_until(have_disconnects, &w, timeout_ms);
}
