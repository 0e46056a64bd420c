/*
 * test_resilience.c -- keeping on when a backend does not: the hooks, the
 * list of tries, the retry policy, circuit breakers, fallback chains,
 * client-side rate limits and the trace file, against mock servers.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mockutil.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Recording hook events                                               */
/* ------------------------------------------------------------------ */

typedef struct hooks {
    pthread_mutex_t mu;
    char   seq[4096];            /* one line per event: "kind provider model ..." */
    size_t len;
    int    n[16];                /* per kind */
    unsigned long long ids[64];
    int    n_ids;
    long   delay_ms;             /* the last RETRY / RATE_WAIT */
} hooks;

static void on_hook(const ac_hook_event *ev, void *user)
{
    hooks *h = user;
    pthread_mutex_lock(&h->mu);
    h->n[ev->kind]++;
    if (ev->kind == AC_HOOK_RETRY || ev->kind == AC_HOOK_RATE_WAIT)
        h->delay_ms = ev->delay_ms;
    if (ev->request && h->n_ids < 64)
        h->ids[h->n_ids++] = ev->request_id;
    int w = snprintf(h->seq + h->len, sizeof h->seq - h->len, "%s %s %s%s%s%s%s\n",
                     ac_hook_kind_name(ev->kind), ev->provider, ev->model,
                     ev->kind == AC_HOOK_FALLBACK ? " -> " : "",
                     ev->kind == AC_HOOK_FALLBACK ? ev->to_provider : "",
                     ev->kind == AC_HOOK_CIRCUIT ? " " : "",
                     ev->kind == AC_HOOK_CIRCUIT ? ev->circuit : "");
    if (w > 0 && (size_t)w < sizeof h->seq - h->len)
        h->len += (size_t)w;
    pthread_mutex_unlock(&h->mu);
}

static void hooks_init(hooks *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
}

/* ------------------------------------------------------------------ */
/* A core with two mocks: "primary" and "backup"                        */
/* ------------------------------------------------------------------ */

typedef struct two {
    mock_server *a, *b;
    ac_core     *core;
    hooks        h;
} two;

static void two_start(two *t, const char *script_a, const char *script_b, const char *extra_a,
                      const char *extra_b, const char *more)
{
    char errbuf[256];
    memset(t, 0, sizeof *t);
    hooks_init(&t->h);
    t->a = mock_server_start(script_a, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t->a);
    t->b = mock_server_start(script_b, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t->b);
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "providers = (\n"
             "  { name = \"primary\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k1\";"
             " default_model = \"gpt-x\"; %s },\n"
             "  { name = \"backup\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k2\";"
             " default_model = \"backup-default\"; %s }%s\n);\n",
             mock_server_url(t->a), extra_a ? extra_a : "", mock_server_url(t->b),
             extra_b ? extra_b : "", more ? more : "");
    t->core = tu_open_core(cfg);
    ac_core_set_hook(t->core, on_hook, &t->h);
}

static void two_stop(two *t)
{
    ac_core_close(t->core);
    mock_server_stop(t->a);
    mock_server_stop(t->b);
    pthread_mutex_destroy(&t->h.mu);
}

static ac_llm *llm(two *t, const char *provider, const char *model)
{
    ac_error err;
    ac_llm *l = ac_llm_create(t->core, provider, model, NULL, &err);
    if (!l)
        fprintf(stderr, "\n  ac_llm_create: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    return l;
}

static const char *status_name(ac_status st, char *buf)
{
    const char *s = ac_strerror(st), *c = strchr(s, ':');
    snprintf(buf, 32, "%.*s", c ? (int)(c - s) : (int)strlen(s), s);
    return buf;
}

/* "primary:AC_EHTTP:503 backup:AC_OK:200" */
static void tries(const ac_response *r, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ac_response_attempt_count(r); i++) {
        const ac_attempt *a = ac_response_attempt(r, i);
        char b[32];
        o += (size_t)snprintf(out + o, cap - o, "%s%s:%s:%d", i ? " " : "", a->provider,
                              status_name(a->status, b), a->http_status);
        CU_ASSERT(a->latency_ms >= 0);
    }
}

/* ------------------------------------------------------------------ */
/* Hooks and the list of tries                                         */
/* ------------------------------------------------------------------ */

static void test_hooks_and_tries(void)
{
    two t;
    two_start(&t, "reply = \"fine\"; chunks = 3; usage = [4, 2];\n"
                  "scenarios = ( { model = \"flaky\"; status = 503; fail_times = 1; } );",
              "", "max_retries = 2;", NULL, NULL);
    ac_llm *l = llm(&t, "primary", "flaky");
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);
    ac_error err;
    ac_response *r = ac_generate(l, "hi", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "fine");
    char buf[512];
    tries(r, buf, sizeof buf);
    TU_ASSERT_STR(buf, "primary:AC_EHTTP:503 primary:AC_OK:200");
    TU_ASSERT_STR(t.h.seq, "request_start primary flaky\n"
                           "attempt_start primary flaky\n"
                           "attempt_end primary flaky\n"
                           "retry primary flaky\n"
                           "attempt_start primary flaky\n"
                           "first_token primary flaky\n"
                           "attempt_end primary flaky\n"
                           "request_end primary flaky\n");
    CU_ASSERT(t.h.delay_ms >= 0);
    /* Every event of the request carries the same id. */
    for (int i = 1; i < t.h.n_ids; i++)
        CU_ASSERT_EQUAL(t.h.ids[i], t.h.ids[0]);
    /* The JSON form lists the tries too. */
    char *j = ac_response_to_json(r);
    json_object *o = json_tokener_parse(j);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(o, "attempts")), 2);
    json_object_put(o);
    ac_free(j);
    ac_response_free(r);
    /* No hook: nothing is called, the tries are still listed. */
    ac_core_set_hook(t.core, NULL, NULL);
    size_t before = t.h.len;
    r = ac_generate(l, "hi", NULL, &err);
    CU_ASSERT_EQUAL(ac_response_attempt_count(r), 1);
    CU_ASSERT_EQUAL(t.h.len, before);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
    two_stop(&t);
}

/* ------------------------------------------------------------------ */
/* The retry policy                                                    */
/* ------------------------------------------------------------------ */

static void test_retry_on_timeout_setting(void)
{
    /* Two providers on the same slow mock: the default retries a
     * first-byte timeout, as the official SDKs do; retry_on_timeout =
     * false does not. */
    char errbuf[256];
    mock_server *m = mock_server_start("scenarios = ( { model = \"late\"; "
                                       "first_byte_delay_ms = 400; } );", 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "providers = (\n"
             "  { name = \"sdk\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\";"
             " max_retries = 1; first_byte_timeout_ms = 100; },\n"
             "  { name = \"once\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\";"
             " max_retries = 1; first_byte_timeout_ms = 100; retry_on_timeout = false; }\n);\n",
             mock_server_url(m), mock_server_url(m));
    ac_core *core = tu_open_core(cfg);
    ac_error err;
    ac_llm *sdk = ac_llm_create(core, "sdk", "late", NULL, &err);
    ac_llm *once = ac_llm_create(core, "once", "late", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sdk);
    CU_ASSERT_PTR_NOT_NULL_FATAL(once);
    size_t n0 = mock_server_request_count(m);
    CU_ASSERT_PTR_NULL(ac_generate(sdk, "hi", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mock_server_request_count(m) - n0, 2);
    n0 = mock_server_request_count(m);
    CU_ASSERT_PTR_NULL(ac_generate(once, "hi", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(err.retryable, 0);
    CU_ASSERT_EQUAL(mock_server_request_count(m) - n0, 1);
    ac_llm_free(sdk);
    ac_llm_free(once);
    ac_core_close(core);
    mock_server_stop(m);
}

/* ------------------------------------------------------------------ */
/* Circuit breakers                                                    */
/* ------------------------------------------------------------------ */

static int circuit_is(void *ctx)
{
    void **a = ctx;
    return strcmp(ac_llm_circuit(a[0]), a[1]) == 0;
}

static void test_circuit_breaker(void)
{
    two t;
    two_start(&t, "scenarios = ( { model = \"down\"; status = 500; fail_times = 3; },\n"
                  "              { model = \"picky\"; status = 400; } );",
              "", "max_retries = 0; circuit_failures = 2; circuit_cooldown_ms = 300;", NULL,
              NULL);
    ac_llm *l = llm(&t, "primary", "down");
    ac_error err;
    TU_ASSERT_STR(ac_llm_circuit(l), "closed");
    CU_ASSERT_PTR_NULL(ac_generate(l, "1", NULL, &err));
    CU_ASSERT_EQUAL(err.http_status, 500);
    TU_ASSERT_STR(ac_llm_circuit(l), "closed");
    CU_ASSERT_PTR_NULL(ac_generate(l, "2", NULL, &err));
    TU_ASSERT_STR(ac_llm_circuit(l), "open");
    /* Open: fails at once, the server hears nothing. */
    size_t n0 = mock_server_request_count(t.a);
    CU_ASSERT_PTR_NULL(ac_generate(l, "3", NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECIRCUIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "circuit open for model 'down'"));
    TU_ASSERT_STR(err.provider, "primary");
    CU_ASSERT_EQUAL(mock_server_request_count(t.a), n0);
    /* acore plugins shows it. */
    char *rep = NULL;
    CU_ASSERT_EQUAL(ac_core_plugin_report(t.core, &rep, &err), AC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "provider primary: model down: circuit open after 2 "
                                       "failed tries"));
    ac_free(rep);
    /* After the cool-down one probe goes: the server still fails (its
     * third failure), so it opens again. */
    void *ctx[2] = {l, "half_open"};
    CU_ASSERT(tu_wait_until(circuit_is, ctx, 5000));
    CU_ASSERT_PTR_NULL(ac_generate(l, "4", NULL, &err));
    CU_ASSERT_EQUAL(err.http_status, 500);
    TU_ASSERT_STR(ac_llm_circuit(l), "open");
    /* The next probe finds it well: closed. */
    CU_ASSERT(tu_wait_until(circuit_is, ctx, 5000));
    ac_response *r = ac_generate(l, "5", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    TU_ASSERT_STR(ac_llm_circuit(l), "closed");
    CU_ASSERT(strstr(t.h.seq, "circuit primary down open\n") != NULL);
    CU_ASSERT(strstr(t.h.seq, "circuit primary down half_open\n") != NULL);
    CU_ASSERT(strstr(t.h.seq, "circuit primary down closed\n") != NULL);
    CU_ASSERT_EQUAL(t.h.n[AC_HOOK_CIRCUIT], 5);
    ac_llm_free(l);
    /* A 4xx is the request's fault, not the backend's: never opens. */
    l = llm(&t, "primary", "picky");
    for (int i = 0; i < 4; i++)
        CU_ASSERT_PTR_NULL(ac_generate(l, "x", NULL, &err));
    CU_ASSERT_EQUAL(err.http_status, 400);
    TU_ASSERT_STR(ac_llm_circuit(l), "closed");
    ac_llm_free(l);
    two_stop(&t);
}

/* ------------------------------------------------------------------ */
/* Fallback chains                                                     */
/* ------------------------------------------------------------------ */

static void test_fallback_chain(void)
{
    two t;
    two_start(&t, "status = 503;",
              "reply = \"from backup\"; scenarios = ( { model = \"backup-model\"; "
              "reply = \"mapped\"; } );",
              "max_retries = 1; fallback = [ \"backup\" ];",
              "model_map = [ \"gpt-x=backup-model\" ];", NULL);
    ac_llm *l = llm(&t, "primary", NULL);
    ac_error err;
    ac_response *r = ac_generate(l, "hi", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "mapped");
    TU_ASSERT_STR(ac_response_provider(r), "backup");
    TU_ASSERT_STR(ac_response_model(r), "backup-model");
    char buf[512];
    tries(r, buf, sizeof buf);
    TU_ASSERT_STR(buf, "primary:AC_EHTTP:503 primary:AC_EHTTP:503 backup:AC_OK:200");
    CU_ASSERT_PTR_NOT_NULL(strstr(t.h.seq, "fallback primary gpt-x -> backup\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.h.seq, "request_end backup backup-model\n"));
    ac_response_free(r);
    /* A model the map does not know: the backup's default. */
    ac_llm *other = llm(&t, "primary", "gpt-y");
    r = ac_generate(other, "hi", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_model(r), "backup-default");
    TU_ASSERT_STR(ac_response_content(r), "from backup");
    ac_response_free(r);
    ac_llm_free(other);
    /* The request's own chain replaces the provider's: here, none that
     * works. */
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_add_fallback(p, "nowhere", NULL), AC_OK);
    CU_ASSERT_PTR_NULL(ac_generate(l, "hi", p, &err));
    CU_ASSERT_EQUAL(err.http_status, 503);
    TU_ASSERT_STR(err.provider, "primary");
    ac_gen_params_free(p);
    p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_add_fallback(p, "backup", "chosen"), AC_OK);
    r = ac_generate(l, "hi", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_model(r), "chosen");
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
    two_stop(&t);
}

static void test_fallback_rules(void)
{
    two t;
    two_start(&t,
              "scenarios = ( { model = \"bad\"; status = 400; },\n"
              "  { model = \"cut\"; chunks = 6; drop_after_chunks = 2; },\n"
              "  { model = \"down\"; status = 500; } );",
              "reply = \"backup\";",
              "max_retries = 0; fallback = [ \"backup\" ]; circuit_failures = 1;"
              " circuit_cooldown_ms = 60000;", NULL, NULL);
    ac_error err;
    /* A 400 is the request's fault: no other backend would take it
     * better. */
    ac_llm *l = llm(&t, "primary", "bad");
    CU_ASSERT_PTR_NULL(ac_generate(l, "x", NULL, &err));
    CU_ASSERT_EQUAL(err.http_status, 400);
    ac_llm_free(l);
    /* Text reached the caller: no starting over elsewhere. */
    l = llm(&t, "primary", "cut");
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);
    CU_ASSERT_PTR_NULL(ac_generate(l, "x", p, &err));
    CU_ASSERT_EQUAL(mock_server_request_count(t.b), 0);
    ac_gen_params_free(p);
    ac_llm_free(l);
    /* An open circuit moves on at once, without asking the primary. */
    l = llm(&t, "primary", "down");
    ac_response *r = ac_generate(l, "x", NULL, &err); /* opens it, falls back */
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    TU_ASSERT_STR(ac_llm_circuit(l), "open");
    size_t n0 = mock_server_request_count(t.a);
    r = ac_generate(l, "x", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "backup");
    CU_ASSERT_EQUAL(mock_server_request_count(t.a), n0);
    char buf[512];
    tries(r, buf, sizeof buf);
    TU_ASSERT_STR(buf, "primary:AC_ECIRCUIT:0 backup:AC_OK:200");
    ac_response_free(r);
    ac_llm_free(l);
    two_stop(&t);
}

/* The backup's plugin has no tool API: the request is fitted anew, the
 * tools prompted, the call read out of the text. */
static void test_fallback_refits(void)
{
    char errbuf[256];
    mock_server *m = mock_server_start("status = 503;", 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "abstractcore = { plugin_path = [ \"" TEST_BUILDDIR "/plugins/openai/.libs\", \""
             TEST_BUILDDIR "/tests/plugins/.libs\" ]; };\n"
             "providers = ( { name = \"primary\"; plugin = \"openai\"; base_url = \"%s/v1\";"
             " api_key = \"k\"; max_retries = 0; fallback = [ \"localecho\" ]; } );\n",
             mock_server_url(m));
    char *path = tu_write_temp(cfg);
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
    unlink(path);
    free(path);
    ac_llm *l = ac_llm_create(core, "primary", "gpt-x", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_add_tool(p, "get_weather", NULL, NULL);
    ac_response *r = ac_generate(l, "ok <tool_call>{\"name\": \"get_weather\", \"arguments\": "
                                 "{}}</tool_call>", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_provider(r), "localecho");
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 1);
    TU_ASSERT_STR(ac_response_content(r), "ok");
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(l);
    ac_core_close(core);
    mock_server_stop(m);
}

/* ------------------------------------------------------------------ */
/* Rate limits                                                         */
/* ------------------------------------------------------------------ */

static void test_rate_limits(void)
{
    two t;
    two_start(&t, "reply = \"ok\"; usage = [7, 5];", "reply = \"ok\"; usage = [7, 5];",
              "rpm = 1;", "tpm = 10;", NULL);
    ac_error err;
    /* One request a minute: the first goes, the second waits (not fails)
     * until its own timeout ends the wait. */
    ac_llm *l = llm(&t, "primary", NULL);
    ac_response *r = ac_generate(l, "1", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_timeouts(p, -1, -1, -1, 300);
    size_t n0 = mock_server_request_count(t.a);
    CU_ASSERT_PTR_NULL(ac_generate(l, "2", p, &err));
    CU_ASSERT_EQUAL(err.code, AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mock_server_request_count(t.a), n0);
    CU_ASSERT_EQUAL(t.h.n[AC_HOOK_RATE_WAIT], 1);
    CU_ASSERT(t.h.delay_ms > 30000 && t.h.delay_ms <= 60000);
    /* In line, in order: cancelling the first waiter lets no one jump. */
    ac_request *a = ac_agenerate(l, "a", NULL, NULL, NULL, &err);
    ac_request *b = ac_agenerate(l, "b", NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    ac_request_cancel(a);
    CU_ASSERT_EQUAL(ac_request_wait(a, 5000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(a, NULL), AC_ECANCELED);
    CU_ASSERT_EQUAL(ac_request_wait(b, 200), AC_ETIMEDOUT); /* still waiting */
    ac_request_free(a);
    ac_request_free(b); /* cancels it */
    ac_llm_free(l);
    /* Ten tokens a minute: the first request uses 12, the next waits. */
    l = llm(&t, "backup", NULL);
    r = ac_generate(l, "1", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    n0 = mock_server_request_count(t.b);
    CU_ASSERT_PTR_NULL(ac_generate(l, "2", p, &err));
    CU_ASSERT_EQUAL(err.code, AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mock_server_request_count(t.b), n0);
    ac_gen_params_free(p);
    ac_llm_free(l);
    two_stop(&t);
}

/* ------------------------------------------------------------------ */
/* The trace file                                                      */
/* ------------------------------------------------------------------ */

static void test_trace_file(void)
{
    static const char script[] = "reply = \"traced reply\"; usage = [3, 2];\n"
                                 "scenarios = ( { model = \"flaky\"; status = 503; "
                                 "fail_times = 1; } );";
    char errbuf[256];
    /* fail_times counts per server: one server per run. */
    mock_server *m = mock_server_start(script, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    int port = mock_server_port(m);
    char dir[] = "/tmp/actest-trace-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char file[128], cfg[2048];
    snprintf(file, sizeof file, "%s/trace.jsonl", dir);
    snprintf(cfg, sizeof cfg,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";"
             " api_key = \"sk-trace-SECRET-9\"; } );\n", tu_plugin_path_list(), mock_server_url(m));
    char *path = tu_write_temp(cfg);
    for (int content = 0; content < 2; content++) {
        if (content) {
            mock_server_stop(m);
            m = mock_server_start(script, port, errbuf, sizeof errbuf);
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        }
        ac_options *o = ac_options_new();
        ac_options_set(o, "trace.file", file);
        ac_options_set(o, "trace.content", content ? "true" : "false");
        ac_core *core = NULL;
        ac_error err;
        CU_ASSERT_EQUAL_FATAL(ac_core_open_ex(&core, path, o, &err), AC_OK);
        ac_options_free(o);
        ac_llm *l = ac_llm_create(core, "mock", "flaky", NULL, &err);
        ac_response *r = ac_generate(l, "secret question", NULL, &err);
        CU_ASSERT_PTR_NOT_NULL(r);
        ac_response_free(r);
        ac_llm_free(l);
        ac_core_close(core);
        char *text = tu_read_file(file, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        CU_ASSERT_PTR_NULL(strstr(text, "sk-trace-SECRET-9"));
        /* Lines: attempt (503), attempt (ok), request; each a JSON object. */
        int lines = 0, requests = 0, attempts = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_object *j = json_tokener_parse(line);
            CU_ASSERT_PTR_NOT_NULL_FATAL(j);
            lines++;
            const char *type = tu_jstr(j, "type");
            if (type && !strcmp(type, "request")) {
                requests++;
                TU_ASSERT_STR(tu_jstr(j, "status"), "AC_OK");
                CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "attempts")), 2);
                CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "input_tokens")), 3);
                CU_ASSERT_EQUAL(tu_jhas(j, "prompt"), content);
                if (content) {
                    TU_ASSERT_STR(tu_jstr(j, "prompt"), "secret question");
                    TU_ASSERT_STR(tu_jstr(j, "reply"), "traced reply");
                }
            } else if (type && !strcmp(type, "attempt")) {
                attempts++;
                if (attempts == 1) {
                    TU_ASSERT_STR(tu_jstr(j, "status"), "AC_EHTTP");
                    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "http_status")), 503);
                }
            }
            json_object_put(j);
        }
        CU_ASSERT_EQUAL(lines, 3);
        CU_ASSERT_EQUAL(requests, 1);
        CU_ASSERT_EQUAL(attempts, 2);
        free(text);
        unlink(file);
    }
    /* A file that cannot be opened fails the open, naming it. */
    ac_options *o = ac_options_new();
    ac_options_set(o, "trace.file", "/nonexistent-dir/trace.jsonl");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_open_ex(&core, path, o, &err), AC_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent-dir/trace.jsonl"));
    ac_options_free(o);
    unlink(path);
    free(path);
    rmdir(dir);
    mock_server_stop(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"hooks and the list of tries", test_hooks_and_tries},
        {"retry_on_timeout", test_retry_on_timeout_setting},
        {"circuit breaker", test_circuit_breaker},
        {"fallback chains", test_fallback_chain},
        {"when there is no fallback", test_fallback_rules},
        {"a fallback is fitted to its plugin", test_fallback_refits},
        {"rate limits", test_rate_limits},
        {"the trace file", test_trace_file},
    };
    if (TU_ADD_SUITE("resilience", NULL, NULL, tests))
        return 2;
    return tu_run_suites();
}
