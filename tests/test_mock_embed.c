/*
 * test_mock_embed.c -- the mock server's embeddings (OpenAI, Ollama, Text
 * Embeddings Inference, the Hugging Face router), Anthropic's
 * count_tokens, and chat messages carrying images, seen from a libcurl
 * client.  Vectors are recomputed here from the recipe in
 * docs/mock-server.md, independently of the server's code.
 */
#include <config.h>

#include "mockclient.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* docs/mock-server.md, "Embeddings": FNV-1a 64, SplitMix64, [-1, 1),
   unit length, float32. */
static void ref_vector(const char *text, long seed, size_t dim, bool normalize, float *out)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    double *x = malloc(dim * sizeof *x), sum = 0;
    uint64_t st = h ^ (uint64_t)seed;
    for (size_t i = 0; i < dim; i++) {
        st += 0x9e3779b97f4a7c15ULL;
        uint64_t z = st;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        x[i] = (double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        sum += x[i] * x[i];
    }
    for (size_t i = 0; i < dim; i++)
        out[i] = (float)(normalize ? x[i] / sqrt(sum) : x[i]);
    free(x);
}

/* A JSON array of numbers equals the reference vector of text, value for
   value as float32 (the server sends "%.9g"). */
static bool same_vector(json_object *arr, const char *text, long seed, size_t dim, bool normalize)
{
    if (!arr || !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) != dim)
        return false;
    float *want = malloc(dim * sizeof *want);
    ref_vector(text, seed, dim, normalize, want);
    bool ok = true;
    for (size_t i = 0; ok && i < dim; i++)
        ok = (float)json_object_get_double(json_object_array_get_idx(arr, i)) == want[i];
    free(want);
    return ok;
}

static json_object *post_json(mock_server *m, const char *path, const char *body, long *status)
{
    http_res r;
    post(m, path, body, &r);
    *status = r.status;
    json_object *o = r.body ? json_tokener_parse(r.body) : NULL;
    res_free(&r);
    return o;
}

static const char script[] =
    "embedding_dim = 16; embedding_seed = 7;\n"
    "scenarios = ( { model = \"sentence-transformers/all-MiniLM-L6-v2\"; embedding_dim = 8; },\n"
    "  { model = \"small\"; max_batch = 3; },\n"
    "  { model = \"flaky\"; status = 503; fail_times = 1; },\n"
    "  { model = \"page\"; html = true; },\n"
    "  { model = \"zip\"; gzip = true; },\n"
    "  { model = \"junk\"; garbage = 32; first_byte_delay_ms = 100; } );";

static void test_openai(void)
{
    mock_server *m = start(script);
    long st;
    json_object *o = post_json(m, "/v1/embeddings", "{\"model\":\"emb-x\",\"input\":\"hello world\"}", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT(streq(jstr(o, "object"), "list"));
    CU_ASSERT(streq(jstr(o, "model"), "emb-x"));
    json_object *d0 = jidx(jget(o, "data"), 0);
    CU_ASSERT(streq(jstr(d0, "object"), "embedding"));
    CU_ASSERT_EQUAL(jint(d0, "index"), 0);
    CU_ASSERT(same_vector(jget(d0, "embedding"), "hello world", 7, 16, true));
    CU_ASSERT_EQUAL(jint(jget(o, "usage"), "prompt_tokens"), 2);
    CU_ASSERT_EQUAL(jint(jget(o, "usage"), "total_tokens"), 2);
    /* the C helper gives the same vector, of unit length */
    float v[16];
    mock_embedding("hello world", 11, 7, 16, v);
    double sum = 0;
    for (int i = 0; i < 16; i++) {
        CU_ASSERT((float)json_object_get_double(jidx(jget(d0, "embedding"), (size_t)i)) == v[i]);
        sum += (double)v[i] * v[i];
    }
    CU_ASSERT(fabs(sum - 1.0) < 1e-5);
    json_object_put(o);

    /* a batch, in order; the same text always gives the same vector */
    o = post_json(m, "/v1/embeddings", "{\"input\":[\"a b c\",\"hello world\",\"a b c\"]}", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_EQUAL(json_object_array_length(jget(o, "data")), 3);
    for (size_t i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(jint(jidx(jget(o, "data"), i), "index"), (long long)i);
    CU_ASSERT(same_vector(jget(jidx(jget(o, "data"), 0), "embedding"), "a b c", 7, 16, true));
    CU_ASSERT(same_vector(jget(jidx(jget(o, "data"), 1), "embedding"), "hello world", 7, 16, true));
    CU_ASSERT(same_vector(jget(jidx(jget(o, "data"), 2), "embedding"), "a b c", 7, 16, true));
    CU_ASSERT_EQUAL(jint(jget(o, "usage"), "prompt_tokens"), 8);
    CU_ASSERT(streq(jstr(o, "model"), "mock-embedding"));
    json_object_put(o);

    /* fewer dimensions: the prefix, back to unit length */
    o = post_json(m, "/v1/embeddings", "{\"input\":\"hello world\",\"dimensions\":4}", &st);
    CU_ASSERT(same_vector(jget(jidx(jget(o, "data"), 0), "embedding"), "hello world", 7, 4, true));
    json_object_put(o);

    /* base64: little-endian float32 */
    o = post_json(m, "/v1/embeddings", "{\"input\":\"hello world\",\"encoding_format\":\"base64\"}", &st);
    const char *b64 = jstr(jidx(jget(o, "data"), 0), "embedding");
    CU_ASSERT_FATAL(b64 && strlen(b64) == (16 * 4 + 2) / 3 * 4);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char bytes[66];
    size_t nb = 0;
    for (size_t i = 0; b64[i] && b64[i + 1] && b64[i] != '='; i += 4) {
        uint32_t q = 0;
        int valid = 0;
        for (int k = 0; k < 4; k++) {
            const char *c = b64[i + (size_t)k] == '=' ? NULL : strchr(tbl, b64[i + (size_t)k]);
            q = q << 6 | (c ? (uint32_t)(c - tbl) : 0);
            valid += c != NULL;
        }
        for (int k = 0; k < valid - 1; k++)
            bytes[nb++] = (unsigned char)(q >> (16 - 8 * k));
    }
    CU_ASSERT_EQUAL(nb, 64);
    for (int i = 0; i < 16; i++) {
        uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
                     (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        float f;
        memcpy(&f, &u, 4);
        CU_ASSERT(f == v[i]);
    }
    json_object_put(o);

    /* refusals, in OpenAI's error shape */
    static const char *bad[] = { "{\"input\":5}", "{\"input\":[]}", "{\"input\":[\"a\",3]}",
                                 "{\"input\":\"a\",\"dimensions\":17}", "{\"input\":\"a\",\"dimensions\":0}",
                                 "{\"input\":\"a\",\"encoding_format\":\"hex\"}", "{oops" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = post_json(m, "/v1/embeddings", bad[i], &st);
        CU_ASSERT_EQUAL(st, 400);
        CU_ASSERT(streq(jstr(jget(o, "error"), "type"), "invalid_request_error"));
        json_object_put(o);
    }
    mock_server_stop(m);
}

static void test_ollama_tei_hf(void)
{
    mock_server *m = start(script);
    long st;
    json_object *o = post_json(m, "/api/embed", "{\"model\":\"nomic\",\"input\":[\"one\",\"two words\"]}", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT(streq(jstr(o, "model"), "nomic"));
    CU_ASSERT(same_vector(jidx(jget(o, "embeddings"), 0), "one", 7, 16, true));
    CU_ASSERT(same_vector(jidx(jget(o, "embeddings"), 1), "two words", 7, 16, true));
    CU_ASSERT_EQUAL(jint(o, "prompt_eval_count"), 3);
    CU_ASSERT(jint(o, "total_duration") > 0);
    json_object_put(o);
    o = post_json(m, "/api/embed", "{\"model\":\"nomic\",\"input\":\"one\"}", &st);
    CU_ASSERT_EQUAL(json_object_array_length(jget(o, "embeddings")), 1);
    json_object_put(o);
    o = post_json(m, "/api/embeddings", "{\"model\":\"nomic\",\"prompt\":\"one\"}", &st); /* the older API */
    CU_ASSERT(same_vector(jget(o, "embedding"), "one", 7, 16, true));
    json_object_put(o);

    /* TEI: always a list of vectors; normalize: false leaves the raw values */
    o = post_json(m, "/embed", "{\"inputs\":\"one\"}", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT(same_vector(jidx(o, 0), "one", 7, 16, true));
    json_object_put(o);
    o = post_json(m, "/embed", "{\"inputs\":[\"one\",\"two\"],\"normalize\":false}", &st);
    CU_ASSERT(same_vector(jidx(o, 1), "two", 7, 16, false));
    json_object_put(o);

    /* HF router: the model is in the path; one string gives one flat vector */
    const char *hf = "/hf-inference/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction";
    o = post_json(m, hf, "{\"inputs\":\"one\"}", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT(same_vector(o, "one", 7, 8, true)); /* that scenario's 8 dimensions */
    json_object_put(o);
    o = post_json(m, hf, "{\"inputs\":[\"one\",\"two\"]}", &st);
    CU_ASSERT(same_vector(jidx(o, 0), "one", 7, 8, true));
    CU_ASSERT(same_vector(jidx(o, 1), "two", 7, 8, true));
    json_object_put(o);
    o = post_json(m, "/hf-inference/models/other/pipeline/feature-extraction", "{\"inputs\":[\"one\"]}", &st);
    CU_ASSERT(same_vector(jidx(o, 0), "one", 7, 16, true));
    json_object_put(o);

    /* errors in each one's shape */
    o = post_json(m, "/embed", "{\"inputs\":[]}", &st);
    CU_ASSERT_EQUAL(st, 400);
    CU_ASSERT(jstr(o, "error") && jstr(o, "error_type"));
    json_object_put(o);
    o = post_json(m, "/api/embed", "{\"input\":7}", &st);
    CU_ASSERT_EQUAL(st, 400);
    CU_ASSERT(jstr(o, "error") != NULL);
    json_object_put(o);
    http_req g = { .path = hf };
    http_res r;
    http(m, &g, &r);
    CU_ASSERT_EQUAL(r.status, 405);
    res_free(&r);
    mock_server_stop(m);
}

static void test_max_batch_and_counters(void)
{
    mock_server *m = start(script);
    long st;
    CU_ASSERT_EQUAL(mock_server_embed_requests(m), 0);
    json_object *o = post_json(m, "/v1/embeddings", "{\"model\":\"small\",\"input\":[\"a\",\"b\",\"c\"]}", &st);
    CU_ASSERT_EQUAL(st, 200);
    json_object_put(o);
    o = post_json(m, "/v1/embeddings", "{\"model\":\"small\",\"input\":[\"a\",\"b\",\"c\",\"d\"]}", &st);
    CU_ASSERT_EQUAL(st, 400);
    CU_ASSERT(streq(jstr(jget(o, "error"), "type"), "invalid_request_error"));
    json_object_put(o);
    o = post_json(m, "/embed", "{\"model\":\"small\",\"inputs\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", &st);
    CU_ASSERT_EQUAL(st, 413); /* TEI refuses with 413 */
    CU_ASSERT(streq(jstr(o, "error"), "batch size 5 > maximum allowed batch size 3"));
    CU_ASSERT(streq(jstr(o, "error_type"), "validation"));
    json_object_put(o);
    o = post_json(m, "/api/embed", "{\"model\":\"small\",\"input\":[\"a\",\"b\",\"c\",\"d\"]}", &st);
    CU_ASSERT_EQUAL(st, 400);
    CU_ASSERT(jstr(o, "error") != NULL);
    json_object_put(o);
    o = post_json(m, "/api/embed", "{not json", &st);
    CU_ASSERT_EQUAL(st, 400);
    json_object_put(o);
    CU_ASSERT_EQUAL(mock_server_embed_requests(m), 5);
    CU_ASSERT_EQUAL(mock_server_embed_inputs(m), 16);
    CU_ASSERT_EQUAL(mock_server_embed_max_batch(m), 5); /* refused ones count */
    CU_ASSERT_EQUAL(mock_server_embed_requests(NULL), 0);
    mock_server_stop(m);

    /* a reply too big to build is refused, not built */
    m = start("embedding_dim = 65536;");
    char *big = malloc(300 * 4 + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    size_t k = (size_t)sprintf(big, "{\"input\":[");
    for (int i = 0; i < 300; i++)
        k += (size_t)sprintf(big + k, "%s\"x\"", i ? "," : "");
    sprintf(big + k, "]}");
    o = post_json(m, "/v1/embeddings", big, &st);
    CU_ASSERT_EQUAL(st, 413);
    CU_ASSERT_PTR_NOT_NULL(strstr(jstr(jget(o, "error"), "message"), "more than the 16777216 numbers"));
    json_object_put(o);
    free(big);
    CU_ASSERT_EQUAL(mock_server_embed_max_batch(m), 300);
    mock_server_stop(m);
}

static void test_embed_faults(void)
{
    mock_server *m = start(script);
    long st;
    json_object *o = post_json(m, "/v1/embeddings", "{\"model\":\"flaky\",\"input\":\"a\"}", &st);
    CU_ASSERT_EQUAL(st, 503);
    CU_ASSERT(jstr(jget(o, "error"), "message") != NULL);
    json_object_put(o);
    o = post_json(m, "/v1/embeddings", "{\"model\":\"flaky\",\"input\":\"a\"}", &st);
    CU_ASSERT_EQUAL(st, 200);
    json_object_put(o);
    http_res r;
    post(m, "/embed", "{\"model\":\"page\",\"inputs\":\"a\"}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(r.ctype, "text/html");
    res_free(&r);
    post(m, "/api/embed", "{\"model\":\"zip\",\"input\":\"a\"}", &r);
    CU_ASSERT_STRING_EQUAL(r.encoding, "gzip");
    CU_ASSERT(r.len > 2 && (unsigned char)r.body[0] == 0x1f);
    res_free(&r);
    /* garbage and the wait before the headers, on embeddings and count_tokens */
    post(m, "/v1/embeddings", "{\"model\":\"junk\",\"input\":\"a\"}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(r.len, 32);
    CU_ASSERT(r.ttfb >= 0.09);
    res_free(&r);
    post(m, "/v1/messages/count_tokens", "{\"model\":\"junk\",\"messages\":[]}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(r.len, 32);
    res_free(&r);
    mock_server_stop(m);
}

static void test_count_tokens(void)
{
    mock_server *m = start("scenarios = ( { model = \"fixed\"; usage = [42, 1]; } );");
    long st;
    json_object *o = post_json(m, "/v1/messages/count_tokens",
                               "{\"model\":\"claude\",\"system\":\"Be brief.\",\"messages\":["
                               "{\"role\":\"user\",\"content\":\"What is  the\\ttime?\"},"
                               "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Noon.\"}]},"
                               "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"And\\nnow\"},"
                               "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                               "\"data\":\"aGVsbG8=\"}}]}]}", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_EQUAL(jint(o, "input_tokens"), 2 + 4 + 1 + 2); /* words, images not counted */
    CU_ASSERT_EQUAL(json_object_object_length(o), 1);
    json_object_put(o);
    o = post_json(m, "/v1/messages/count_tokens", "{\"model\":\"fixed\",\"messages\":[]}", &st);
    CU_ASSERT_EQUAL(jint(o, "input_tokens"), 42);
    json_object_put(o);
    o = post_json(m, "/v1/messages/count_tokens", "[]", &st);
    CU_ASSERT_EQUAL(st, 400);
    CU_ASSERT(streq(jstr(o, "type"), "error"));
    json_object_put(o);
    mock_server_stop(m);
}

static void test_images(void)
{
    mock_server *m = start("echo = true;");
    size_t sizes[4] = { 99, 99, 99, 99 };
    http_res r;
    /* OpenAI: image_url parts; "hello" and "hello!!" as base64 data URLs, and a web URL */
    post(m, "/v1/chat/completions",
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is \"},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,aGVsbG8=\"}},"
         "{\"type\":\"text\",\"text\":\"this?\"},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,aGVsbG8hIQ==\",\"detail\":\"low\"}},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.invalid/cat.png\"}}]}]}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"content\":\"What is this?\"")); /* echo: the text parts */
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_last_images(m, sizes, 4), 3);
    CU_ASSERT_EQUAL(sizes[0], 5);
    CU_ASSERT_EQUAL(sizes[1], 7);
    CU_ASSERT_EQUAL(sizes[2], 0);
    CU_ASSERT_EQUAL(sizes[3], 99); /* nothing written past the count */

    /* Anthropic: image blocks with a base64 source */
    post(m, "/v1/messages",
         "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
         "{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"AAECAwQFBgcICQ\"}},"
         "{\"type\":\"text\",\"text\":\"Describe it.\"}]}]}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "Describe it."));
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_last_images(m, sizes, 1), 1);
    CU_ASSERT_EQUAL(sizes[0], 10);

    /* Ollama: "images" beside the content */
    post(m, "/api/chat",
         "{\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"two pictures\","
         "\"images\":[\"aGVsbG8=\",\"aGk=\"]}]}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "two pictures"));
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_last_images(m, sizes, 4), 2);
    CU_ASSERT_EQUAL(sizes[0], 5);
    CU_ASSERT_EQUAL(sizes[1], 2);
    CU_ASSERT_EQUAL(mock_server_last_images(m, NULL, 0), 2);

    /* data that is not base64 is refused, as a real server would */
    post(m, "/api/chat", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"images\":[\"not base64!\"]}]}", &r);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "image 1"));
    res_free(&r);
    post(m, "/v1/chat/completions",
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
         "{\"url\":\"data:image/png,rawbytes\"}}]}]}", &r);
    CU_ASSERT_EQUAL(r.status, 400);
    res_free(&r);

    /* a request without messages carries no image */
    http_req g = { .path = "/v1/models" };
    http(m, &g, &r);
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_last_images(m, sizes, 4), 0);
    CU_ASSERT_EQUAL(mock_server_last_images(NULL, sizes, 4), 0);
    mock_server_stop(m);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mock_server_embed", NULL, NULL);
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "OpenAI embeddings", test_openai },
        { "Ollama, TEI and Hugging Face embeddings", test_ollama_tei_hf },
        { "max_batch and the embedding counters", test_max_batch_and_counters },
        { "errors and faults on embeddings", test_embed_faults },
        { "Anthropic count_tokens", test_count_tokens },
        { "images in chat messages", test_images },
    };
    for (size_t i = 0; s && i < sizeof tests / sizeof tests[0]; i++) {
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            s = NULL;
    }
    if (!s) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    curl_global_cleanup();
    return failed ? 1 : 0;
}
