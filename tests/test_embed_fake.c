/*
 * test_embed_fake.c -- the plugins' embeddings functions one by one,
 * through the fake host of <abstractcore/testkit.h>, without a core:
 * build_embed_request (URL, headers, body, dimensions, model, refusals)
 * and parse_embed_response on bodies given here -- vectors placed by
 * OpenAI's index, base64 vectors, usage and model, and every malformed
 * reply a server could send (refused with a message, never a crash) --
 * for the openai codec, ollama and huggingface (feature extraction and
 * TEI), with every allocation failing in turn leaving nothing allocated.
 *
 * A plugin keeps the host table its entry point was given, so this
 * program opens no core.
 */
#include "testutil.h"

#include <abstractcore/testkit.h>
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plugin {
    const char         *name;
    const ac_provider  *vt;
    void               *dl;
} plugin;

static plugin plugins[] = { {"openai", NULL, NULL}, {"ollama", NULL, NULL},
                            {"huggingface", NULL, NULL} };

static int suite_init(void)
{
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/plugins/%s/.libs/%s.so", TEST_BUILDDIR, plugins[i].name,
                 plugins[i].name);
        plugins[i].vt = ac_fake_load(path, &plugins[i].dl);
        if (!plugins[i].vt)
            return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++)
        if (plugins[i].dl)
            dlclose(plugins[i].dl);
    return 0;
}

static const ac_provider *vt_of(const char *name)
{
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++)
        if (!strcmp(plugins[i].name, name))
            return plugins[i].vt;
    return NULL;
}

/* A fake for plugin `name` with settings ("key", "value", ..., NULL) and
 * the batch's texts (NULL-ended); its state in *state. */
static ac_fake *fake_for(const char *name, const char *const *settings, const char *const *texts,
                         void **state)
{
    const ac_provider *vt = vt_of(name);
    ac_fake *f = ac_fake_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ac_fake_set_provider(f, vt);
    ac_fake_set_name(f, name);
    for (size_t i = 0; settings && settings[i]; i += 2)
        ac_fake_set(f, settings[i], settings[i + 1]);
    for (size_t i = 0; texts && texts[i]; i++)
        ac_fake_add_embed_text(f, texts[i]);
    *state = NULL;
    ac_status st = vt->init(ac_fake_settings(f), state, ac_fake_call(f));
    if (st != AC_OK)
        fprintf(stderr, "init %s: %s\n", name, ac_fake_error(f)->message);
    CU_ASSERT_EQUAL_FATAL(st, AC_OK);
    return f;
}

static void fake_done(const char *name, ac_fake *f, void *state)
{
    const ac_provider *vt = vt_of(name);
    if (vt->fini)
        vt->fini(state);
    ac_fake_free(f);
}

static ac_status build(const char *name, ac_fake *f, void *state)
{
    ac_fake_reset(f);
    return vt_of(name)->build_embed_request(state, ac_fake_embed_request(f), ac_fake_http(f),
                                            ac_fake_call(f));
}

static ac_status parse(const char *name, ac_fake *f, void *state, const char *body)
{
    ac_fake_reset(f);
    return vt_of(name)->parse_embed_response(state, body, strlen(body), ac_fake_embed_sink(f),
                                             ac_fake_call(f));
}

static json_object *body_json(ac_fake *f)
{
    size_t n;
    const char *b = ac_fake_body(f, &n);
    return json_tokener_parse(b);
}

/* parse fails with code, and the message holds `words`. */
static void parse_fails(const char *name, ac_fake *f, void *state, const char *body,
                        ac_status code, const char *words)
{
    ac_status st = parse(name, f, state, body);
    CU_ASSERT_EQUAL(st, code);
    CU_ASSERT_EQUAL(ac_fake_error(f)->code, code);
    if (!strstr(ac_fake_error(f)->message, words))
        fprintf(stderr, "%s: \"%s\" has no \"%s\"\n", name, ac_fake_error(f)->message, words);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, words));
}

static const char *const two[] = {"alpha", "beta", NULL};
/* A local server: no key needed. */
static const char *const local[] = {"base_url", "http://127.0.0.1:9/v1", NULL};

/* ------------------------------------------------------------------ */
/* The OpenAI codec                                                    */
/* ------------------------------------------------------------------ */

static void test_openai_build(void)
{
    const char *const set[] = {"base_url", "http://h.example/v1/", "api_key", "sk-abc123", NULL};
    void *st;
    ac_fake *f = fake_for("openai", set, two, &st);
    ac_fake_embed_request(f)->model = "text-embedding-3-small";
    CU_ASSERT_EQUAL(build("openai", f, st), AC_OK);
    TU_ASSERT_STR(ac_fake_method(f), "POST");
    TU_ASSERT_STR(ac_fake_url(f), "http://h.example/v1/embeddings");
    CU_ASSERT_EQUAL(ac_fake_framing(f), AC_FRAMING_NONE);
    TU_ASSERT_STR(ac_fake_header(f, "Authorization"), "Bearer sk-abc123");
    TU_ASSERT_STR(ac_fake_header(f, "Content-Type"), "application/json");
    json_object *b = body_json(f);
    TU_ASSERT_STR(tu_jstr(b, "model"), "text-embedding-3-small");
    TU_ASSERT_STR(tu_jstr(b, "input.0"), "alpha");
    TU_ASSERT_STR(tu_jstr(b, "input.1"), "beta");
    CU_ASSERT_FALSE(tu_jhas(b, "dimensions"));
    CU_ASSERT_FALSE(tu_jhas(b, "encoding_format"));
    json_object_put(b);
    /* dimensions; a model of "" is the instance's default. */
    ac_fake_embed_request(f)->dimensions = 256;
    ac_fake_embed_request(f)->model = "";
    CU_ASSERT_EQUAL(build("openai", f, st), AC_OK);
    b = body_json(f);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "dimensions")), 256);
    TU_ASSERT_STR(tu_jstr(b, "model"), vt_of("openai")->default_model);
    json_object_put(b);
    CU_ASSERT_EQUAL(vt_of("openai")->embed_max_batch(st), 256);
    fake_done("openai", f, st);
}

static void test_openai_parse(void)
{
    void *st;
    const char *const three[] = {"a", "b", "c", NULL};
    ac_fake *f = fake_for("openai", local, three, &st);
    /* Placed by index, whatever the order of data. */
    CU_ASSERT_EQUAL(parse("openai", f, st,
                          "{\"object\":\"list\",\"data\":["
                          "{\"index\":2,\"embedding\":[3,3.5]},"
                          "{\"index\":0,\"embedding\":[1,1.5]},"
                          "{\"index\":1,\"embedding\":[2,2.5]}],"
                          "\"model\":\"text-embedding-3-small\","
                          "\"usage\":{\"prompt_tokens\":9,\"total_tokens\":9}}"), AC_OK);
    CU_ASSERT_EQUAL(ac_fake_embed_count(f), 3);
    CU_ASSERT_EQUAL(ac_fake_embed_dim(f), 2);
    for (int i = 0; i < 3; i++) {
        const float *v = ac_fake_embed_vector(f, (size_t)i);
        CU_ASSERT(v && v[0] == (float)(i + 1) && v[1] == (float)i + 1.5f);
    }
    CU_ASSERT_EQUAL(ac_fake_input_tokens(f), 9);
    TU_ASSERT_STR(ac_fake_model(f), "text-embedding-3-small");
    /* No index: by position.  base64 of float32 little-endian:
     * 1.0 = 00 00 80 3f, -2.0 = 00 00 00 c0 -> "AACAPwAAAMA=". */
    CU_ASSERT_EQUAL(parse("openai", f, st,
                          "{\"data\":[{\"embedding\":\"AACAPwAAAMA=\"},"
                          "{\"embedding\":\"AACAPwAAAMA\"},{\"embedding\":[0,0]}]}"), AC_OK);
    const float *v = ac_fake_embed_vector(f, 1);
    CU_ASSERT(v && v[0] == 1.0f && v[1] == -2.0f);
    CU_ASSERT_EQUAL(ac_fake_input_tokens(f), -1);
    fake_done("openai", f, st);
}

static void test_openai_bad_replies(void)
{
    void *st;
    ac_fake *f = fake_for("openai", local, two, &st);
    parse_fails("openai", f, st, "not json", AC_EJSON, "embeddings response");
    parse_fails("openai", f, st, "[1,2]", AC_EPROTOCOL, "not a JSON object");
    parse_fails("openai", f, st, "{\"object\":\"list\"}", AC_EPROTOCOL, "no \"data\" array");
    parse_fails("openai", f, st, "{\"error\":{\"message\":\"boom\"}}", AC_EPROTOCOL, "boom");
    parse_fails("openai", f, st, "{\"data\":[{\"index\":2,\"embedding\":[1]}]}", AC_EPROTOCOL,
                "vector 2 is out of range");
    parse_fails("openai", f, st, "{\"data\":[{\"index\":0,\"embedding\":[1]},"
                "{\"index\":0,\"embedding\":[1]}]}", AC_EPROTOCOL, "given twice");
    parse_fails("openai", f, st, "{\"data\":[{\"embedding\":[1,2]},{\"embedding\":[1]}]}",
                AC_EPROTOCOL, "vector 1 has 1 values, the batch's first had 2");
    parse_fails("openai", f, st, "{\"data\":[{\"embedding\":[1,\"x\"]}]}", AC_EPROTOCOL,
                "value 1 is not a number");
    parse_fails("openai", f, st, "{\"data\":[{\"embedding\":[1e39]}]}", AC_EPROTOCOL,
                "out of a float's range");
    parse_fails("openai", f, st, "{\"data\":[{\"embedding\":[]}]}", AC_EPROTOCOL,
                "has 0 values");
    parse_fails("openai", f, st, "{\"data\":[{\"embedding\":\"A*==\"}]}", AC_EPROTOCOL,
                "not the base64");
    parse_fails("openai", f, st, "{\"data\":[{\"embedding\":{}}]}", AC_EPROTOCOL,
                "not an array of numbers");
    parse_fails("openai", f, st, "{\"data\":[{\"index\":-1,\"embedding\":[1]}]}", AC_EPROTOCOL,
                "\"index\"");
    parse_fails("openai", f, st, "{\"data\":[{\"index\":0}]}", AC_EPROTOCOL,
                "no \"embedding\"");
    fake_done("openai", f, st);
}

/* Every allocation of build and parse failing in turn: reported as
 * AC_ENOMEM, nothing left allocated, then success. */
static void alloc_round(const char *name, const char *const *set, const char *reply)
{
    void *st;
    ac_fake *f = fake_for(name, set, two, &st);
    ac_fake_embed_request(f)->model = "org/model";
    for (int step = 0; step < 2; step++) {
        long base = ac_fake_allocations();
        int done = 0;
        for (long n = 0; n < 2000 && !done; n++) {
            ac_fake_reset(f);
            ac_fake_fail_after(f, n);
            ac_status rc = step == 0 ? build(name, f, st) : parse(name, f, st, reply);
            ac_fake_fail_after(f, -1);
            CU_ASSERT_EQUAL(ac_fake_allocations(), base);
            if (rc == AC_OK)
                done = 1;
            else
                CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_ENOMEM);
        }
        CU_ASSERT(done);
    }
    CU_ASSERT_EQUAL(ac_fake_embed_count(f), 2);
    fake_done(name, f, st);
}

static void test_alloc_failures(void)
{
    alloc_round("openai", local,
                "{\"data\":[{\"index\":1,\"embedding\":[0.5,1]},{\"index\":0,\"embedding\":"
                "\"AACAPwAAAMA=\"}],\"model\":\"m\",\"usage\":{\"prompt_tokens\":2}}");
    alloc_round("ollama", NULL,
                "{\"model\":\"m\",\"embeddings\":[[1,2],[3,4]],\"prompt_eval_count\":2}");
    const char *const fe[] = {"base_url", "http://127.0.0.1:9/v1", "embed_api",
                              "feature-extraction", NULL};
    alloc_round("huggingface", fe, "[[1,2],[3,4]]");
    const char *const tei[] = {"base_url", "http://tei.local:8080", NULL};
    alloc_round("huggingface", tei, "[[1,2],[3,4]]");
}

/* ------------------------------------------------------------------ */
/* Ollama                                                              */
/* ------------------------------------------------------------------ */

static void test_ollama(void)
{
    const char *const set[] = {"base_url", "http://ollama.local:11434/", "keep_alive", "10m",
                               NULL};
    void *st;
    ac_fake *f = fake_for("ollama", set, two, &st);
    ac_fake_embed_request(f)->model = "nomic-embed-text";
    ac_fake_embed_request(f)->dimensions = 64;
    CU_ASSERT_EQUAL(build("ollama", f, st), AC_OK);
    TU_ASSERT_STR(ac_fake_url(f), "http://ollama.local:11434/api/embed");
    CU_ASSERT_PTR_NULL(ac_fake_header(f, "Authorization"));
    json_object *b = body_json(f);
    TU_ASSERT_STR(tu_jstr(b, "model"), "nomic-embed-text");
    TU_ASSERT_STR(tu_jstr(b, "input.1"), "beta");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "dimensions")), 64);
    TU_ASSERT_STR(tu_jstr(b, "keep_alive"), "10m");
    CU_ASSERT_FALSE(tu_jhas(b, "truncate")); /* Ollama's own default */
    json_object_put(b);

    CU_ASSERT_EQUAL(parse("ollama", f, st, "{\"model\":\"nomic-embed-text\",\"embeddings\":"
                          "[[0.25,0.5],[0.75,1]],\"total_duration\":5,\"prompt_eval_count\":4}"),
                    AC_OK);
    const float *v = ac_fake_embed_vector(f, 1);
    CU_ASSERT(v && v[0] == 0.75f && v[1] == 1.0f);
    CU_ASSERT_EQUAL(ac_fake_input_tokens(f), 4);
    TU_ASSERT_STR(ac_fake_model(f), "nomic-embed-text");
    parse_fails("ollama", f, st, "{\"error\":\"model not found\"}", AC_EPROTOCOL,
                "model not found");
    parse_fails("ollama", f, st, "{\"embedding\":[1,2]}", AC_EPROTOCOL, "\"embeddings\"");
    parse_fails("ollama", f, st, "{\"embeddings\":[[1,2],[3,4],[5,6]]}", AC_EPROTOCOL,
                "out of range");
    parse_fails("ollama", f, st, "null", AC_EPROTOCOL, "not a JSON object");
    fake_done("ollama", f, st);
}

/* ------------------------------------------------------------------ */
/* Hugging Face                                                        */
/* ------------------------------------------------------------------ */

static void test_hf_urls(void)
{
    void *st;
    /* The router (the default base_url): its feature-extraction pipeline. */
    const char *const router[] = {"api_key", "hf_tok", NULL};
    ac_fake *f = fake_for("huggingface", router, two, &st);
    ac_fake_embed_request(f)->model = "sentence-transformers/all-MiniLM-L6-v2";
    CU_ASSERT_EQUAL(build("huggingface", f, st), AC_OK);
    TU_ASSERT_STR(ac_fake_url(f), "https://router.huggingface.co/hf-inference/models/"
                                  "sentence-transformers/all-MiniLM-L6-v2/pipeline/"
                                  "feature-extraction");
    TU_ASSERT_STR(ac_fake_header(f, "Authorization"), "Bearer hf_tok");
    json_object *b = body_json(f);
    TU_ASSERT_STR(tu_jstr(b, "inputs.0"), "alpha");
    CU_ASSERT_FALSE(tu_jhas(b, "model"));
    json_object_put(b);
    /* A model id is a path: nothing else goes in. */
    const char *bad[] = {"../secrets", "a b", "x?y=1", "/abs", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ac_fake_embed_request(f)->model = bad[i];
        CU_ASSERT_EQUAL(build("huggingface", f, st), AC_EINVAL);
    }
    /* No way to shorten vectors. */
    ac_fake_embed_request(f)->model = "org/m";
    ac_fake_embed_request(f)->dimensions = 8;
    CU_ASSERT_EQUAL(build("huggingface", f, st), AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "dimensions"));
    CU_ASSERT_EQUAL(vt_of("huggingface")->embed_max_batch(st), 32);
    fake_done("huggingface", f, st);
    /* Elsewhere: TEI's /embed at the root, "/v1" dropped; or as told. */
    const char *const tei[] = {"base_url", "http://tei.local:8080/v1", NULL};
    f = fake_for("huggingface", tei, two, &st);
    CU_ASSERT_EQUAL(build("huggingface", f, st), AC_OK);
    TU_ASSERT_STR(ac_fake_url(f), "http://tei.local:8080/embed");
    fake_done("huggingface", f, st);
    const char *const fe[] = {"base_url", "http://tgi.local/v1", "embed_api",
                              "feature-extraction", NULL};
    f = fake_for("huggingface", fe, two, &st);
    ac_fake_embed_request(f)->model = "org/m";
    CU_ASSERT_EQUAL(build("huggingface", f, st), AC_OK);
    TU_ASSERT_STR(ac_fake_url(f), "http://tgi.local/hf-inference/models/org/m/pipeline/"
                                  "feature-extraction");
    fake_done("huggingface", f, st);
    /* A bad embed_api is a configuration error. */
    ac_fake *g = ac_fake_new();
    ac_fake_set_provider(g, vt_of("huggingface"));
    ac_fake_set(g, "embed_api", "openai");
    ac_fake_set(g, "api_key", "hf_tok");
    void *s2 = NULL;
    CU_ASSERT_EQUAL(vt_of("huggingface")->init(ac_fake_settings(g), &s2, ac_fake_call(g)),
                    AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(g)->message, "embed_api"));
    ac_fake_free(g);
}

static void test_hf_parse(void)
{
    void *st;
    const char *const one[] = {"only", NULL};
    ac_fake *f = fake_for("huggingface", local, one, &st);
    /* One text: a flat vector, as sentence-transformers models answer. */
    CU_ASSERT_EQUAL(parse("huggingface", f, st, "[0.5, -0.5, 1]"), AC_OK);
    CU_ASSERT_EQUAL(ac_fake_embed_dim(f), 3);
    CU_ASSERT_EQUAL(parse("huggingface", f, st, "[[0.5, -0.5, 1]]"), AC_OK);
    CU_ASSERT_EQUAL(ac_fake_embed_count(f), 1);
    parse_fails("huggingface", f, st, "[[[0.1,0.2],[0.3,0.4]]]", AC_EPROTOCOL,
                "one vector per token");
    parse_fails("huggingface", f, st, "{\"error\":\"Model is loading\",\"estimated_time\":20}",
                AC_EPROTOCOL, "Model is loading");
    parse_fails("huggingface", f, st, "[]", AC_EPROTOCOL, "empty list");
    parse_fails("huggingface", f, st, "[[1],[2]]", AC_EPROTOCOL, "out of range");
    parse_fails("huggingface", f, st, "[[true]]", AC_EPROTOCOL, "not a number");
    fake_done("huggingface", f, st);
}

/* ------------------------------------------------------------------ */
/* The fake host's own rules                                           */
/* ------------------------------------------------------------------ */

static void test_fake_sink_rules(void)
{
    ac_fake *f = ac_fake_new();
    const ac_host_api *h = ac_fake_host();
    ac_fake_add_embed_text(f, "x");
    ac_fake_add_embed_text(f, "yy");
    size_t len = 0;
    TU_ASSERT_STR(h->embed_text(ac_fake_embed_request(f), 1, &len), "yy");
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_PTR_NULL(h->embed_text(ac_fake_embed_request(f), 2, NULL));
    float v[2] = {1, 2};
    CU_ASSERT_EQUAL(h->embed_vector(ac_fake_embed_sink(f), 0, v, 2), AC_OK);
    CU_ASSERT_EQUAL(h->embed_vector(ac_fake_embed_sink(f), 0, v, 2), AC_EPROTOCOL);
    CU_ASSERT_EQUAL(h->embed_vector(ac_fake_embed_sink(f), 1, v, 1), AC_EPROTOCOL);
    CU_ASSERT_EQUAL(h->embed_vector(ac_fake_embed_sink(f), 1, v, 0), AC_EPROTOCOL);
    CU_ASSERT_EQUAL(h->embed_vector(ac_fake_embed_sink(f), 5, v, 2), AC_EPROTOCOL);
    CU_ASSERT_PTR_NULL(ac_fake_embed_vector(f, 1));
    CU_ASSERT_EQUAL(ac_fake_embed_count(f), 1);
    ac_fake_cancel(f);
    CU_ASSERT_EQUAL(h->embed_vector(ac_fake_embed_sink(f), 1, v, 2), AC_ECANCELED);
    ac_fake_free(f);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"openai: the request", test_openai_build},
        {"openai: vectors by index, base64, usage, model", test_openai_parse},
        {"openai: every malformed reply refused", test_openai_bad_replies},
        {"every allocation failing in turn", test_alloc_failures},
        {"ollama: /api/embed", test_ollama},
        {"huggingface: URLs, model ids, dimensions, embed_api", test_hf_urls},
        {"huggingface: flat, listed and per-token replies", test_hf_parse},
        {"the fake host keeps the core's rules", test_fake_sink_rules},
    };
    TU_ADD_SUITE("embed (fake host)", suite_init, suite_clean, tests);
    return tu_run_suites();
}
