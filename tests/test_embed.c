/*
 * test_embed.c -- embeddings (ac_embed, ac_aembed) against the mock
 * server, through the plugins that speak each API: openai and lmstudio
 * (/v1/embeddings), ollama (/api/embed), huggingface (the router's
 * feature extraction, and TEI's /embed), and an in-process plugin
 * (tests/plugins/localembed.c, run_embed on the worker pool).
 *
 * What a caller sees: one vector per text, in input order, equal to the
 * mock's deterministic vector of that text (mock_embedding); a call cut
 * into batches of the backend's limit (the mock's counters show how many
 * requests came, their largest batch, and that they were in flight at
 * once); `dimensions` sent and its vectors checked; usage summed over the
 * batches; one failing batch failing the call with its error (naming its
 * texts) and stopping the others; cancel; the core closed under a call;
 * host mode; hooks; AC_EUNSUPPORTED for plugins without embeddings; bad
 * arguments; and every allocation failing in turn, leaving nothing live.
 */
#include "alloc.h"
#include "mockutil.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEED 7

static const char script[] =
    "embedding_dim = 16; embedding_seed = 7;\n"
    "scenarios = (\n"
    "  { model = \"emb\"; first_byte_delay_ms = 150; },\n"
    "  { model = \"capped\"; max_batch = 3; },\n"
    "  { model = \"flaky\"; status = 503; fail_times = 1; },\n"
    "  { model = \"slow\"; first_byte_delay_ms = 20000; },\n"
    "  { model = \"org/minilm\"; embedding_dim = 8; first_byte_delay_ms = 150; },\n"
    "  { model = \"default\"; embedding_dim = 12; max_batch = 4; first_byte_delay_ms = 100; }\n"
    ");\n";

typedef struct env {
    mock_server *mock;
    ac_core     *core;
} env;

/* tu_plugin_path_list() without its brackets. */
static const char *plugin_dirs(void)
{
    static char dirs[2048];
    const char *l = tu_plugin_path_list();
    size_t n = strlen(l);
    snprintf(dirs, sizeof dirs, "%.*s", n > 4 ? (int)(n - 4) : 0, l + 2);
    return dirs;
}

/* A core (mode "thread" or "host") with a provider per API at a fresh
 * mock, three texts a batch for each. */
static ac_core *open_env(env *e, const char *mode)
{
    char errbuf[256];
    e->mock = mock_server_start(script, 0, errbuf, sizeof errbuf);
    if (!e->mock) {
        fprintf(stderr, "mock: %s\n", errbuf);
        return NULL;
    }
    const char *u = mock_server_url(e->mock);
    char text[8192];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = [ %s, \"%s/tests/plugins/.libs\" ];\n"
             "                 engine = { mode = \"%s\"; }; };\n"
             "providers = (\n"
             "  { name = \"oa\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"%s\";\n"
             "    embed_max_batch = 3; max_retries = 0; },\n"
             "  { name = \"lms\"; plugin = \"lmstudio\"; base_url = \"%s/v1\"; embed_max_batch = 3; },\n"
             "  { name = \"oll\"; plugin = \"ollama\"; base_url = \"%s\"; embed_max_batch = 3; },\n"
             "  { name = \"hf\"; plugin = \"huggingface\"; base_url = \"%s/v1\"; api_key = \"hf_x1234\";\n"
             "    embed_api = \"feature-extraction\"; embed_max_batch = 3; },\n"
             "  { name = \"tei\"; plugin = \"huggingface\"; base_url = \"%s\"; embed_max_batch = 3;\n"
             "    max_retries = 0; },\n"
             "  { name = \"ant\"; plugin = \"anthropic\"; base_url = \"%s\"; api_key = \"x\"; },\n"
             "  { name = \"mlx\"; plugin = \"mlx\"; base_url = \"%s/v1\"; },\n"
             "  { name = \"local\"; plugin = \"localembed\"; }\n"
             ");\n",
             plugin_dirs(), TEST_BUILDDIR, mode, u, MU_API_KEY, u, u, u, u, u, u);
    char *path = tu_write_temp(text);
    ac_error err;
    if (ac_core_open(&e->core, path, &err) != AC_OK) {
        fprintf(stderr, "core: %s\n", err.message);
        e->core = NULL;
    }
    unlink(path);
    free(path);
    return e->core;
}

static void close_env(env *e)
{
    ac_core_close(e->core);
    mock_server_stop(e->mock);
    memset(e, 0, sizeof *e);
}

/* An llm on provider p for model m, with options "k=v" pairs (NULL-ended). */
static ac_llm *llm_of(env *e, const char *p, const char *m, const char *const *opts)
{
    ac_options *o = ac_options_new();
    for (size_t i = 0; opts && opts[i]; i += 2)
        ac_options_set(o, opts[i], opts[i + 1]);
    ac_error err;
    ac_llm *l = ac_llm_create(e->core, p, m, o, &err);
    ac_options_free(o);
    if (!l)
        fprintf(stderr, "llm %s: %s\n", p, err.message);
    return l;
}

/* n distinct texts "text number i". */
static char **texts_new(size_t n)
{
    char **t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t[i] = malloc(32);
        snprintf(t[i], 32, "text number %zu", i);
    }
    return t;
}

static void texts_free(char **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
}

/* Every vector of e is the mock's vector of its text, in dim values. */
static int vectors_match(const ac_embeddings *e, char **texts, size_t n, size_t dim)
{
    if (ac_embeddings_count(e) != n || ac_embeddings_dimension(e) != dim)
        return 0;
    float want[64];
    for (size_t i = 0; i < n; i++) {
        mock_embedding(texts[i], strlen(texts[i]), SEED, dim, want);
        const float *got = ac_embeddings_vector(e, i);
        if (!got || memcmp(got, want, dim * sizeof *want) != 0)
            return 0;
    }
    return ac_embeddings_vector(e, n) == NULL;
}

static json_object *last_body(env *e) { return mu_last_body(e->mock); }

/* ------------------------------------------------------------------ */
/* Each API, batches, order                                            */
/* ------------------------------------------------------------------ */

/* 10 texts, 3 a batch: 4 requests, in flight together, vectors in order. */
static void check_batches(const char *provider, const char *model, size_t dim,
                          long want_tokens, const char *want_model)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    ac_llm *llm = llm_of(&e, provider, model, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    char **texts = texts_new(10);
    mock_server_reset_peak(e.mock);
    ac_error err;
    ac_embeddings *v = ac_embed(llm, (const char *const *)texts, 10, NULL, &err);
    if (!v)
        fprintf(stderr, "%s: %s\n", provider, err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT(vectors_match(v, texts, 10, dim));
    CU_ASSERT_EQUAL(ac_embeddings_batches(v), 4);
    CU_ASSERT_EQUAL(ac_embeddings_input_tokens(v), want_tokens);
    TU_ASSERT_STR(ac_embeddings_model(v), want_model);
    TU_ASSERT_STR(ac_embeddings_provider(v), provider);
    CU_ASSERT_EQUAL(mock_server_embed_requests(e.mock), 4);
    CU_ASSERT_EQUAL(mock_server_embed_inputs(e.mock), 10);
    CU_ASSERT_EQUAL(mock_server_embed_max_batch(e.mock), 3);
    /* Sent at once (embed_parallel 4), not one after another. */
    CU_ASSERT(mock_server_peak_inflight(e.mock) >= 2);
    ac_embeddings_free(v);
    texts_free(texts, 10);
    ac_llm_free(llm);
    close_env(&e);
}

static void test_openai(void)
{
    /* 3 words a text; the mock names the model asked for. */
    check_batches("oa", "emb", 16, 30, "emb");
}

static void test_lmstudio(void) { check_batches("lms", "emb", 16, 30, "emb"); }
static void test_ollama(void) { check_batches("oll", "emb", 16, 30, "emb"); }
/* The router's pipeline: the model in the path, no usage in the reply. */
static void test_hf_feature_extraction(void)
{
    check_batches("hf", "org/minilm", 8, -1, "org/minilm");
}
/* TEI serves one model: the body names none, the mock's default answers. */
static void test_hf_tei(void) { check_batches("tei", "whatever", 12, -1, "whatever"); }

/* What went on the wire, per API. */
static void test_wire(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    const char *one[] = {"hello there"};
    struct { const char *p, *m, *input_key; int has_model; } cases[] = {
        {"oa", "emb", "input", 1},
        {"oll", "emb", "input", 1},
        {"hf", "org/minilm", "inputs", 0},
        {"tei", "x", "inputs", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_llm *llm = llm_of(&e, cases[i].p, cases[i].m, NULL);
        ac_error err;
        ac_embeddings *v = ac_embed(llm, one, 1, NULL, &err);
        CU_ASSERT_PTR_NOT_NULL(v);
        json_object *b = last_body(&e);
        CU_ASSERT_PTR_NOT_NULL(b);
        /* Always a list, so the reply's shape never depends on the batch. */
        json_object *in = tu_jget(b, cases[i].input_key);
        CU_ASSERT(in && json_object_is_type(in, json_type_array) &&
                  json_object_array_length(in) == 1);
        TU_ASSERT_STR(tu_jstr(b, cases[i].input_key[5] ? "inputs.0" : "input.0"), "hello there");
        CU_ASSERT_EQUAL(tu_jhas(b, "model"), cases[i].has_model);
        CU_ASSERT_FALSE(tu_jhas(b, "dimensions"));
        json_object_put(b);
        ac_embeddings_free(v);
        ac_llm_free(llm);
    }
    /* The key goes as a bearer token, where one is set. */
    char *auth = mock_server_last_header(e.mock, "authorization");
    CU_ASSERT_PTR_NULL(auth); /* tei: no key */
    free(auth);
    ac_llm *hf = llm_of(&e, "hf", "org/minilm", NULL);
    ac_embeddings *v = ac_embed(hf, one, 1, NULL, NULL);
    ac_embeddings_free(v);
    auth = mock_server_last_header(e.mock, "authorization");
    TU_ASSERT_STR(auth, "Bearer hf_x1234");
    free(auth);
    ac_llm_free(hf);
    close_env(&e);
}

/* embed_parallel bounds the batches in flight. */
static void test_parallel_bound(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    const char *o1[] = {"embed_parallel", "1", NULL};
    const char *o4[] = {"embed_parallel", "4", NULL};
    char **texts = texts_new(12);
    ac_llm *one = llm_of(&e, "oa", "emb", o1), *four = llm_of(&e, "oa", "emb", o4);
    mock_server_reset_peak(e.mock);
    ac_embeddings *v = ac_embed(one, (const char *const *)texts, 12, NULL, NULL);
    CU_ASSERT(vectors_match(v, texts, 12, 16));
    CU_ASSERT_EQUAL(mock_server_peak_inflight(e.mock), 1);
    ac_embeddings_free(v);
    mock_server_reset_peak(e.mock);
    v = ac_embed(four, (const char *const *)texts, 12, NULL, NULL);
    CU_ASSERT(vectors_match(v, texts, 12, 16));
    /* Four batches, each held 150 ms by the mock: all four in flight. */
    CU_ASSERT_EQUAL(mock_server_peak_inflight(e.mock), 4);
    ac_embeddings_free(v);
    texts_free(texts, 12);
    ac_llm_free(one);
    ac_llm_free(four);
    close_env(&e);
}

/* The plugin's own limit when the provider sets none; the model from
 * embed_model; a model named in the params wins. */
static void test_plugin_limit_and_model(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    /* The mock serves at most 4 (TEI's limit is 32): one request. */
    const char *o[] = {"embed_max_batch", "4", "embed_model", "default", NULL};
    ac_llm *llm = llm_of(&e, "tei", "chat-model", o);
    char **texts = texts_new(9);
    ac_embeddings *v = ac_embed(llm, (const char *const *)texts, 9, NULL, NULL);
    CU_ASSERT(vectors_match(v, texts, 9, 12));
    CU_ASSERT_EQUAL(ac_embeddings_batches(v), 3);
    TU_ASSERT_STR(ac_embeddings_model(v), "default");
    ac_embeddings_free(v);
    ac_llm_free(llm);
    const char *o2[] = {"embed_model", "org/minilm", NULL};
    llm = llm_of(&e, "oa", "chat-model", o2);
    v = ac_embed(llm, (const char *const *)texts, 2, NULL, NULL);
    CU_ASSERT(vectors_match(v, texts, 2, 8));
    TU_ASSERT_STR(ac_embeddings_model(v), "org/minilm");
    ac_embeddings_free(v);
    ac_embed_params p = {.model = "emb"};
    v = ac_embed(llm, (const char *const *)texts, 2, &p, NULL);
    CU_ASSERT(vectors_match(v, texts, 2, 16));
    ac_embeddings_free(v);
    ac_llm_free(llm);
    texts_free(texts, 9);
    close_env(&e);
}

/* ------------------------------------------------------------------ */
/* dimensions                                                          */
/* ------------------------------------------------------------------ */

static void test_dimensions(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    char **texts = texts_new(4);
    ac_embed_params p = {.version = AC_EMBED_PARAMS_VERSION, .dimensions = 8};
    ac_error err;
    /* OpenAI: sent, and the shorter vectors come back. */
    ac_llm *llm = llm_of(&e, "oa", "emb", NULL);
    ac_embeddings *v = ac_embed(llm, (const char *const *)texts, 4, &p, &err);
    CU_ASSERT(vectors_match(v, texts, 4, 8));
    json_object *b = last_body(&e);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "dimensions")), 8);
    json_object_put(b);
    ac_embeddings_free(v);
    ac_llm_free(llm);
    /* Ollama: sent; a server that ignores it is caught, not believed. */
    llm = llm_of(&e, "oll", "emb", NULL);
    v = ac_embed(llm, (const char *const *)texts, 4, &p, &err);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "asked for vectors of 8 values, the server "
                                               "sent 16"));
    b = last_body(&e);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "dimensions")), 8);
    json_object_put(b);
    ac_llm_free(llm);
    /* Hugging Face: no way to ask; nothing is sent. */
    size_t before = mock_server_embed_requests(e.mock);
    llm = llm_of(&e, "tei", "x", NULL);
    v = ac_embed(llm, (const char *const *)texts, 4, &p, &err);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dimensions"));
    CU_ASSERT_EQUAL(mock_server_embed_requests(e.mock), before);
    ac_llm_free(llm);
    texts_free(texts, 4);
    close_env(&e);
}

/* ------------------------------------------------------------------ */
/* Failures                                                            */
/* ------------------------------------------------------------------ */

/* One batch refused (the server's limit is lower than ours): the call
 * fails with that batch's error, naming its texts. */
static void test_one_batch_fails(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    const char *o[] = {"embed_max_batch", "4", NULL};
    char **texts = texts_new(5);
    ac_error err;
    ac_llm *llm = llm_of(&e, "oa", "capped", o);
    ac_embeddings *v = ac_embed(llm, (const char *const *)texts, 5, NULL, &err);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 400);
    TU_ASSERT_STR(err.provider, "oa");
    CU_ASSERT(strncmp(err.message, "texts 0..3: HTTP 400: ", 22) == 0);
    ac_llm_free(llm);
    /* TEI says 413, in its own words. */
    const char *o5[] = {"embed_max_batch", "5", NULL};
    llm = llm_of(&e, "tei", "x", o5);
    v = ac_embed(llm, (const char *const *)texts, 5, NULL, &err);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(err.http_status, 413);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "batch size 5 > maximum allowed batch size 4"));
    ac_llm_free(llm);
    texts_free(texts, 5);
    close_env(&e);
}

/* A batch that fails once is retried like any request. */
static void test_retry(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    const char *o[] = {"max_retries", "2", NULL};
    char **texts = texts_new(2);
    ac_llm *llm = llm_of(&e, "oa", "flaky", o);
    ac_embeddings *v = ac_embed(llm, (const char *const *)texts, 2, NULL, NULL);
    CU_ASSERT(vectors_match(v, texts, 2, 16));
    CU_ASSERT_EQUAL(mock_server_embed_requests(e.mock), 2);
    ac_embeddings_free(v);
    ac_llm_free(llm);
    texts_free(texts, 2);
    close_env(&e);
}

static void test_unsupported(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    const char *t[] = {"hello"};
    const char *names[] = {"ant", "mlx"}, *plugins[] = {"anthropic", "mlx"};
    for (int i = 0; i < 2; i++) {
        ac_llm *llm = llm_of(&e, names[i], "m", NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
        ac_error err;
        CU_ASSERT_PTR_NULL(ac_embed(llm, t, 1, NULL, &err));
        CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
        TU_ASSERT_STR(err.provider, names[i]);
        char want[128];
        snprintf(want, sizeof want, "provider '%s' cannot make embeddings (its plugin, %s,",
                 names[i], plugins[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
        /* Async: the same, through on_done. */
        ac_request *q = ac_aembed(llm, t, 1, NULL, NULL, NULL, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
        CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_EUNSUPPORTED);
        ac_request_free(q);
        ac_llm_free(llm);
    }
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 0);
    close_env(&e);
}

static void test_bad_arguments(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    ac_llm *llm = llm_of(&e, "oa", "emb", NULL);
    ac_error err;
    const char *ok[] = {"a", "b"}, *empty[] = {"a", ""}, *null[] = {"a", NULL},
               *bad[] = {"\xff\xfe"};
    CU_ASSERT_PTR_NULL(ac_embed(NULL, ok, 2, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_embed(llm, NULL, 2, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_embed(llm, ok, 0, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_embed(llm, empty, 2, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "text 1 is empty"));
    CU_ASSERT_PTR_NULL(ac_embed(llm, null, 2, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "text 1 is NULL"));
    CU_ASSERT_PTR_NULL(ac_embed(llm, bad, 1, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "text 0 is not valid UTF-8"));
    ac_embed_params p = {.dimensions = 70000};
    CU_ASSERT_PTR_NULL(ac_aembed(llm, ok, 2, &p, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    p = (ac_embed_params){.version = 99};
    CU_ASSERT_PTR_NULL(ac_aembed(llm, ok, 2, &p, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 0);
    /* Not vectors of another kind of request. */
    ac_request *q = ac_agenerate(llm, "hi", NULL, NULL, NULL, NULL);
    ac_request_wait(q, 5000);
    CU_ASSERT_PTR_NULL(ac_request_embeddings(q));
    CU_ASSERT_PTR_NULL(ac_request_take_embeddings(q));
    ac_request_free(q);
    ac_llm_free(llm);
    close_env(&e);
}

/* ------------------------------------------------------------------ */
/* Async, cancel, close, host mode, hooks                              */
/* ------------------------------------------------------------------ */

typedef struct done_rec {
    atomic_int  calls;
    ac_status   status;
    size_t      count;     /* vectors seen from on_done */
} done_rec;

static void on_done(ac_request *q, ac_status st, void *user)
{
    done_rec *d = user;
    d->status = st;
    const ac_embeddings *v = ac_request_embeddings(q);
    d->count = v ? ac_embeddings_count(v) : 0;
    atomic_fetch_add(&d->calls, 1);
}

static void test_async(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    ac_llm *llm = llm_of(&e, "oll", "emb", NULL);
    char **texts = texts_new(7);
    done_rec d = {0};
    ac_callbacks cb = {.on_done = on_done};
    ac_error err;
    ac_request *q = ac_aembed(llm, (const char *const *)texts, 7, NULL, &cb, &d, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(atomic_load(&d.calls), 1);
    CU_ASSERT_EQUAL(d.status, AC_OK);
    CU_ASSERT_EQUAL(d.count, 7);
    CU_ASSERT_PTR_NULL(ac_request_response(q));
    CU_ASSERT(vectors_match(ac_request_embeddings(q), texts, 7, 16));
    ac_embeddings *v = ac_request_take_embeddings(q);
    CU_ASSERT_PTR_NULL(ac_request_embeddings(q));
    ac_request_free(q);
    CU_ASSERT(vectors_match(v, texts, 7, 16)); /* outlives the request */
    ac_embeddings_free(v);
    texts_free(texts, 7);
    ac_llm_free(llm);
    close_env(&e);
}

static int inflight_is(void *ctx)
{
    env *e = ctx;
    return mock_server_inflight(e->mock) >= 2;
}

static void test_cancel(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    ac_llm *llm = llm_of(&e, "oa", "slow", NULL);
    char **texts = texts_new(6);
    done_rec d = {0};
    ac_callbacks cb = {.on_done = on_done};
    ac_request *q = ac_aembed(llm, (const char *const *)texts, 6, NULL, &cb, &d, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FATAL(tu_wait_until(inflight_is, &e, 5000));
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    ac_error err;
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_ECANCELED);
    CU_ASSERT_EQUAL(atomic_load(&d.calls), 1);
    CU_ASSERT_PTR_NULL(ac_request_embeddings(q));
    /* Both batches' connections are dropped, not left to finish. */
    CU_ASSERT(mu_wait_disconnects(e.mock, 2, 5000));
    ac_request_free(q);
    texts_free(texts, 6);
    ac_llm_free(llm);
    close_env(&e);
}

/* Closing the core ends a call in flight before it returns. */
static void test_core_close(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    ac_llm *llm = llm_of(&e, "oa", "slow", NULL);
    char **texts = texts_new(6);
    done_rec d = {0};
    ac_callbacks cb = {.on_done = on_done};
    ac_request *q = ac_aembed(llm, (const char *const *)texts, 6, NULL, &cb, &d, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(tu_wait_until(inflight_is, &e, 5000));
    ac_core_close(e.core);
    CU_ASSERT_EQUAL(atomic_load(&d.calls), 1);
    CU_ASSERT_EQUAL(d.status, AC_ECANCELED);
    ac_error err;
    const char *one[] = {"x"};
    CU_ASSERT_PTR_NULL(ac_aembed(llm, one, 1, NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECANCELED);
    ac_request_free(q);
    texts_free(texts, 6);
    ac_llm_free(llm);
    e.core = NULL;
    close_env(&e);
}

static int request_done(void *q) { return ac_request_done(q); }

static void test_host_mode(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "host"));
    ac_llm *llm = llm_of(&e, "oa", "emb", NULL);
    char **texts = texts_new(7);
    ac_error err;
    CU_ASSERT_PTR_NULL(ac_embed(llm, (const char *const *)texts, 7, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EBUSY);
    ac_request *q = ac_aembed(llm, (const char *const *)texts, 7, NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    int fd = ac_core_backend_fd(e.core);
    for (int i = 0; i < 5000 && !request_done(q); i++) {
        int t = ac_core_backend_timeout(e.core);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, t < 0 || t > 10 ? 10 : t);
        CU_ASSERT_EQUAL(ac_core_run_once(e.core), AC_OK);
    }
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_OK);
    CU_ASSERT(vectors_match(ac_request_embeddings(q), texts, 7, 16));
    ac_request_free(q);
    texts_free(texts, 7);
    ac_llm_free(llm);
    close_env(&e);
}

typedef struct hook_rec {
    int starts, ends;
    int end_ok;
} hook_rec;

static void on_hook(const ac_hook_event *ev, void *user)
{
    hook_rec *h = user;
    if (ev->kind == AC_HOOK_REQUEST_START)
        h->starts++;
    if (ev->kind == AC_HOOK_REQUEST_END) {
        h->ends++;
        h->end_ok += ev->status == AC_OK;
    }
}

/* The call and each batch are requests to hooks. */
static void test_hooks(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    hook_rec h = {0};
    ac_core_set_hook(e.core, on_hook, &h);
    ac_llm *llm = llm_of(&e, "lms", "emb", NULL);
    char **texts = texts_new(7);
    ac_embeddings *v = ac_embed(llm, (const char *const *)texts, 7, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL(v);
    ac_core_set_hook(e.core, NULL, NULL);
    CU_ASSERT_EQUAL(h.starts, 4);
    CU_ASSERT_EQUAL(h.ends, 4);
    CU_ASSERT_EQUAL(h.end_ok, 4);
    ac_embeddings_free(v);
    texts_free(texts, 7);
    ac_llm_free(llm);
    close_env(&e);
}

/* ------------------------------------------------------------------ */
/* In process                                                          */
/* ------------------------------------------------------------------ */

static void test_local(void)
{
    env e;
    CU_ASSERT_PTR_NOT_NULL_FATAL(open_env(&e, "thread"));
    ac_llm *llm = llm_of(&e, "local", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    const char *t[] = {"alpha", "be", "gamma ray", "delta", "e"};
    ac_error err;
    ac_embeddings *v = ac_embed(llm, t, 5, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(ac_embeddings_count(v), 5);
    CU_ASSERT_EQUAL(ac_embeddings_dimension(v), 4);
    CU_ASSERT_EQUAL(ac_embeddings_batches(v), 3); /* the plugin takes 2 a batch */
    CU_ASSERT_EQUAL(ac_embeddings_input_tokens(v), 5);
    TU_ASSERT_STR(ac_embeddings_model(v), "local-encoder");
    for (size_t i = 0; i < 5; i++) {
        const float *x = ac_embeddings_vector(v, i);
        size_t n = strlen(t[i]);
        CU_ASSERT(x[0] == (float)n && x[1] == (float)t[i][0] && x[2] == (float)t[i][n - 1] &&
                  x[3] == 1.0f);
    }
    ac_embeddings_free(v);
    /* The plugin's own refusal. */
    ac_embed_params p = {.dimensions = 2};
    CU_ASSERT_PTR_NULL(ac_embed(llm, t, 5, &p, &err));
    CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
    /* A failing batch stops the one still running ("slow" waits for its
     * cancel): the call ends at once, with the failure. */
    const char *mixed[] = {"fail", "x", "slow one", "y"};
    const ac_embed_params p1 = {.model = NULL};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_PTR_NULL(ac_embed(llm, mixed, 4, &p1, &err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "texts 0..1: the local encoder failed"));
    CU_ASSERT(t1.tv_sec - t0.tv_sec < 5);
    /* Cancel reaches the worker. */
    const char *slow[] = {"slow", "slow too"};
    done_rec d = {0};
    ac_callbacks cb = {.on_done = on_done};
    ac_request *q = ac_aembed(llm, slow, 2, NULL, &cb, &d, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    CU_ASSERT_EQUAL(d.status, AC_ECANCELED);
    ac_request_free(q);
    /* Chat on an embeddings-only plugin. */
    ac_response *r = ac_generate(llm, "hello", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
    ac_llm_free(llm);
    close_env(&e);
}

/* ------------------------------------------------------------------ */
/* Every allocation failing in turn                                    */
/* ------------------------------------------------------------------ */

static char alloc_cfg[8192];

/* Open, embed 5 texts in 3 batches (HTTP) and 3 in process, close: 1 if
 * every step worked.  A failure must be AC_ENOMEM (or a core that could
 * not open its config for want of memory). */
static int alloc_scenario(void)
{
    ac_core *core = NULL;
    ac_error err;
    char *path = tu_write_temp(alloc_cfg);
    ac_status st = ac_core_open(&core, path, &err);
    unlink(path);
    free(path);
    if (st != AC_OK) {
        CU_ASSERT(err.code == AC_ENOMEM || err.code == AC_ECONFIG);
        return 0;
    }
    int steps = 0;
    const char *t[] = {"one", "two words", "three more words", "four", "five"};
    ac_llm *llm = ac_llm_create(core, "oa", "emb", NULL, &err);
    if (llm) {
        ac_embeddings *v = ac_embed(llm, t, 5, NULL, &err);
        if (v)
            steps += ac_embeddings_count(v) == 5 && ac_embeddings_batches(v) == 3;
        else if (err.code != AC_ENOMEM)
            fprintf(stderr, "embed: %s\n", err.message);
        if (!v)
            CU_ASSERT_EQUAL(err.code, AC_ENOMEM);
        ac_embeddings_free(v);
        ac_llm_free(llm);
    }
    ac_llm *loc = ac_llm_create(core, "local", NULL, NULL, &err);
    if (loc) {
        ac_embeddings *v = ac_embed(loc, t, 3, NULL, &err);
        if (v)
            steps += ac_embeddings_count(v) == 3;
        else
            CU_ASSERT_EQUAL(err.code, AC_ENOMEM);
        ac_embeddings_free(v);
        ac_llm_free(loc);
    }
    ac_core_close(core);
    return steps == 2;
}

static void test_alloc_failing_in_turn(void)
{
    char errbuf[256];
    mock_server *m = mock_server_start("embedding_dim = 4;", 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    snprintf(alloc_cfg, sizeof alloc_cfg,
             "abstractcore = { plugin_path = [ %s, \"%s/tests/plugins/.libs\" ]; };\n"
             "providers = (\n"
             "  { name = \"oa\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\";\n"
             "    embed_max_batch = 2; max_retries = 0; },\n"
             "  { name = \"local\"; plugin = \"localembed\"; }\n"
             ");\n", plugin_dirs(), TEST_BUILDDIR, mock_server_url(m));
    ac__alloc_fail_after(-1);
    CU_ASSERT_FATAL(alloc_scenario());
    long n;
    int covered = 0;
    for (n = 0; n < 100000; n++) {
        ac__alloc_fail_after(n);
        int ok = alloc_scenario();
        long refused = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        if (refused == 0) {
            CU_ASSERT(ok);
            covered = 1;
            break;
        }
    }
    printf("\n    embeddings: %ld allocation failure points survived\n", n);
    CU_ASSERT(covered);
    mock_server_stop(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test apis[] = {
        {"openai: batches of 3, in flight at once, in order", test_openai},
        {"lmstudio", test_lmstudio},
        {"ollama /api/embed", test_ollama},
        {"huggingface: the router's feature extraction", test_hf_feature_extraction},
        {"huggingface: TEI /embed", test_hf_tei},
        {"what goes on the wire", test_wire},
        {"embed_parallel bounds the batches in flight", test_parallel_bound},
        {"the plugin's limit, embed_model, the model asked", test_plugin_limit_and_model},
        {"dimensions", test_dimensions},
    };
    static const tu_test failures[] = {
        {"one batch failing fails the call", test_one_batch_fails},
        {"a batch retried", test_retry},
        {"AC_EUNSUPPORTED without embeddings", test_unsupported},
        {"bad arguments", test_bad_arguments},
    };
    static const tu_test life[] = {
        {"async: on_done, the vectors, take", test_async},
        {"cancel drops every batch", test_cancel},
        {"the core closed under a call", test_core_close},
        {"host mode", test_host_mode},
        {"hooks see the call and each batch", test_hooks},
        {"in process: run_embed on the workers", test_local},
    };
    static const tu_test alloc[] = {
        {"every allocation failing in turn", test_alloc_failing_in_turn},
    };
    TU_ADD_SUITE("embed: APIs", NULL, NULL, apis);
    TU_ADD_SUITE("embed: failures", NULL, NULL, failures);
    TU_ADD_SUITE("embed: life of a call", NULL, NULL, life);
    TU_ADD_SUITE("embed: allocation", NULL, NULL, alloc);
    return tu_run_suites();
}
