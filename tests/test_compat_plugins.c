/*
 * test_compat_plugins.c -- CUnit suites for the three OpenAI-compatible
 * plugins built on the shared codec: `lmstudio` (LM Studio), `huggingface`
 * (the HF Inference router and TGI) and `mlx` (mlx_lm.server).
 *
 * Suite "descriptor" loads each plugins/<name>/.libs/<name>.so itself and
 * drives it with the SDK's fake host (<abstractcore/testkit.h>), to see what cannot be seen
 * without the real server: the descriptor, the default base URL each
 * request goes to, the key variable each plugin asks for.  It runs first
 * and unloads the plugins, so the core later loads them with its host.
 *
 * Suite "replay" feeds the recorded traffic in tests/fixtures through the
 * real path (core, framer, plugin, accumulator) with ac__replay_bytes(), whole
 * and in pieces of 1 and 7 bytes: lmstudio_* through lmstudio, hf_router_*
 * and tgi_* through huggingface, and llamacpp_* (local OpenAI-compatible
 * servers; nothing was recorded from mlx_lm.server) through lmstudio and
 * mlx, plus error bodies and streams in the shapes docs/protocols.md section 1
 * and mlx_lm/server.py give.  Expected values were written from reading
 * the fixtures.
 *
 * Suite "mock" runs the public API end to end against the mock LLM server
 * on 127.0.0.1 with its lmstudio / tgi / mlx quirks and scripted errors,
 * and serves recorded HF router bytes as they were: what each plugin
 * sends (model, token field, Authorization from which variable) and what
 * a caller gets back, streamed and not, and the model lists.
 *
 * The variables the plugins read (HF_TOKEN, LM_API_TOKEN) are cleared at
 * start, so whoever runs the tests never has a real token used or sent.
 */
#include "expect.h"
#include <abstractcore/testkit.h>
#include "mock_server.h"
#include "mockutil.h"
#include "testutil.h"

#include <abstractcore/abstractcore.h>
#include <abstractcore/provider.h>

#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_SO(name) TEST_BUILDDIR "/plugins/" name "/.libs/" name ".so"

/* An API key no fixture contains, to check it never reaches a message. */
#define HF_TEST_KEY "hf_testkey_0123456789abcdef"

/* ------------------------------------------------------------------ */
/* Suite "descriptor"                                                  */
/* ------------------------------------------------------------------ */

/* What one plugin must declare. */
typedef struct plugin_expect {
    const char *name;
    unsigned    features;           /* exactly these AC_FEATURE_* */
    const char *base_url;
    const char *default_model;      /* NULL: none */
    const char *key_env;            /* "" : the plugin names none */
} plugin_expect;

static const plugin_expect g_expect[] = {
    { "lmstudio", AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
      "http://localhost:1234/v1", "local-model", "LM_API_TOKEN" },
    { "huggingface", AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
      "https://router.huggingface.co/v1", "openai/gpt-oss-20b", "HF_TOKEN" },
    { "mlx", AC_FEATURE_TOOLS,
      "http://localhost:8080/v1", NULL, "" },
};

static void check_descriptor(const plugin_expect *x, const char *path)
{
    void *dl = NULL;
    const ac_provider *p = ac_fake_load(path, &dl);
    CU_ASSERT_PTR_NOT_NULL(p);
    if (!p) {
        if (dl)
            dlclose(dl);
        return;
    }
    TU_ASSERT_STR(p->name, x->name);
    CU_ASSERT_EQUAL(p->abi_major, AC_ABI_MAJOR);
    CU_ASSERT(p->abi_minor <= AC_ABI_MINOR);
    CU_ASSERT(p->struct_size >= offsetof(ac_provider, stream_free) +
                                sizeof p->stream_free);
    CU_ASSERT_PTR_NOT_NULL(p->version);
    CU_ASSERT_PTR_NOT_NULL(p->description);
    CU_ASSERT_EQUAL(p->features, x->features);
    TU_ASSERT_STR(p->default_base_url, x->base_url);
    if (x->default_model)
        TU_ASSERT_STR(p->default_model, x->default_model);
    else
        CU_ASSERT_PTR_NULL(p->default_model);
    CU_ASSERT_PTR_NULL(p->run_local);
    CU_ASSERT(p->init && p->fini && p->build_request && p->parse_response &&
              p->parse_event && p->parse_error && p->build_models_request &&
              p->parse_models && p->stream_free);

    /* No settings at all (plus a key where the default URL needs one):
     * requests go to the default URL, with max_tokens, and only a
     * configured key is sent. */
    ac_fake *f = ac_fake_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ac_fake_set_name(f, x->name);
    if (strcmp(x->name, "huggingface") == 0)
        ac_fake_setenv(f, "HF_TOKEN", HF_TEST_KEY);
    void *st = NULL;
    ac_status rc = p->init(ac_fake_settings(f), &st, ac_fake_call(f));
    CU_ASSERT_EQUAL(rc, AC_OK);
    if (rc != AC_OK) {
        fprintf(stderr, "\n  %s init: %s\n", x->name, ac_fake_error(f)->message);
        ac_fake_free(f);
        dlclose(dl);
        return;
    }
    CU_ASSERT_EQUAL(ac_fake_secret_calls(f), 1);
    TU_ASSERT_STR(ac_fake_secret_default_env(f), x->key_env);

    ac_fake_add_message(f, AC_ROLE_USER, "hi");
    ac_gen_request *req = ac_fake_request(f);
    req->stream = 1;
    req->has_max_tokens = 1;
    req->max_tokens = 64;
    rc = p->build_request(st, req, ac_fake_http(f), ac_fake_call(f));
    CU_ASSERT_EQUAL(rc, AC_OK);
    char want[256];
    snprintf(want, sizeof want, "%s/chat/completions", x->base_url);
    TU_ASSERT_STR(ac_fake_method(f), "POST");
    TU_ASSERT_STR(ac_fake_url(f), want);
    CU_ASSERT_EQUAL(ac_fake_framing(f), AC_FRAMING_SSE);
    if (strcmp(x->name, "huggingface") == 0)
        TU_ASSERT_STR(ac_fake_header(f, "Authorization"), "Bearer " HF_TEST_KEY);
    else
        CU_ASSERT_PTR_NULL(ac_fake_header(f, "Authorization"));
    json_object *b = json_tokener_parse(ac_fake_body(f, NULL));
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "max_tokens")), 64);
    CU_ASSERT_FALSE(tu_jhas(b, "max_completion_tokens"));
    /* Streams ask for usage in the last chunk (mlx-lm and TGI send it
     * only then). */
    CU_ASSERT_TRUE(json_object_get_boolean(tu_jget(b, "stream_options.include_usage")));
    json_object_put(b);

    ac_fake_reset(f);
    rc = p->build_models_request(st, ac_fake_http(f), ac_fake_call(f));
    CU_ASSERT_EQUAL(rc, AC_OK);
    snprintf(want, sizeof want, "%s/models", x->base_url);
    TU_ASSERT_STR(ac_fake_method(f), "GET");
    TU_ASSERT_STR(ac_fake_url(f), want);
    p->fini(st);
    ac_fake_free(f);
    dlclose(dl);
}

static void test_descriptor_lmstudio(void)
{
    check_descriptor(&g_expect[0], PLUGIN_SO("lmstudio"));
}

static void test_descriptor_huggingface(void)
{
    check_descriptor(&g_expect[1], PLUGIN_SO("huggingface"));
}

static void test_descriptor_mlx(void)
{
    check_descriptor(&g_expect[2], PLUGIN_SO("mlx"));
}

/* ------------------------------------------------------------------ */
/* Suite "replay": recorded bytes through the core                     */
/* ------------------------------------------------------------------ */

static ac_core *g_core;
static ac_llm  *g_lms, *g_hf, *g_mlx;

static ac_llm *replay_llm(const char *plugin, const char *key)
{
    ac_error err;
    ac_options *o = NULL;
    if (key) {
        o = ac_options_new();
        if (!o || ac_options_set(o, "api_key", key) != AC_OK) {
            ac_options_free(o);
            return NULL;
        }
    }
    ac_llm *llm = ac_llm_create(g_core, plugin, NULL, o, &err);
    ac_options_free(o);
    if (!llm)
        fprintf(stderr, "ac_llm_create(%s): %s\n", plugin, err.message);
    return llm;
}

static int replay_suite_init(void)
{
    g_core = tu_open_core(NULL);
    g_lms = replay_llm("lmstudio", NULL);
    /* The router's URL needs a token. */
    g_hf = replay_llm("huggingface", HF_TEST_KEY);
    g_mlx = replay_llm("mlx", NULL);
    return g_lms && g_hf && g_mlx ? 0 : -1;
}

static int replay_suite_clean(void)
{
    ac_llm_free(g_lms);
    ac_llm_free(g_hf);
    ac_llm_free(g_mlx);
    ac_core_close(g_core);
    g_lms = g_hf = g_mlx = NULL;
    g_core = NULL;
    return 0;
}

/* Replays on llm, whose key (if any) is HF_TEST_KEY. */
static void check_replay(ac_llm *llm, const char *label, const char *bytes,
                         size_t len, ac_framing framing, int http_status,
                         const ex_want *w)
{
    ex_check_replay(llm, HF_TEST_KEY, label, bytes, len, framing,
                    http_status, w);
}

static void check_fixture(ac_llm *llm, const char *name, ac_framing framing,
                          int http_status, const ex_want *w)
{
    ex_check_fixture(llm, HF_TEST_KEY, name, framing, http_status, w);
}

#define TGI_MODEL "meta-llama/Llama-3.1-8B-Instruct"
#define KIMI      "moonshotai/kimi-k2-instruct-0905"

/* --- lmstudio -------------------------------------------------------- */

static void test_lmstudio_tool_call_body(void)
{
    /* No "content" key at all beside tool_calls: an empty reply, one
     * whole call with LM Studio's numeric-string id. */
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 263, .out = 34,
        .model = "lmstudio-community/qwen2.5-7b-instruct", .n_calls = 1,
        .calls = { { "365174485", "search_products",
                     "{\"query\":\"dell\",\"category\":\"electronics\","
                     "\"max_price\":50}" } } };
    check_fixture(g_lms, "lmstudio_chat_response_tool_call.json",
                  AC_FRAMING_NONE, 200, &w);
}

/* --- llama.cpp recordings: local servers (lmstudio, mlx) ------------- */

static void test_local_reasoning_body(void)
{
    /* message.reasoning_content kept apart from the reply; the extra
     * "timings" object ignored. */
    ex_want w = { .status = AC_OK, .content = "Ol\xc3\xa1!",
        .reasoning = "The user says: \"Say hi in Portuguese\". So answer: "
                     "\"Ol\xc3\xa1\" or \"Oi\". Likely \"Ol\xc3\xa1\". "
                     "Probably a friendly greeting. Just respond with that.",
        .finish = "stop", .raw = "stop", .in = 84, .out = 47,
        .model = "openai/gpt-oss-20b" };
    check_fixture(g_lms, "llamacpp_chat_text.response.json", AC_FRAMING_NONE,
                  200, &w);
    check_fixture(g_mlx, "llamacpp_chat_text.response.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_local_error_401(void)
{
    /* A local server started with a key: the integer code is an HTTP
     * status, the type is what is quoted. */
    ex_want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Invalid API Key (authentication_error)" } };
    check_fixture(g_lms, "llamacpp_error_401.json", AC_FRAMING_NONE, 401, &w);
    check_fixture(g_mlx, "llamacpp_error_401.json", AC_FRAMING_NONE, 401, &w);
}

/* --- huggingface: the router ------------------------------------------ */

static void test_hf_router_body(void)
{
    /* usage has extra timing fields, x_groq and service_tier are vendor
     * extras; the model comes back lower-cased, without the suffix. */
    ex_want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4, .model = KIMI };
    check_fixture(g_hf, "hf_router_chat_text.response.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_hf_router_stream_usage_twice(void)
{
    /* usage 20/4 on the finish chunk and again on choices:[]: one usage
     * event, the last report, nothing added up. */
    ex_want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4, .model = KIMI };
    check_fixture(g_hf, "hf_router_chat_stream_text.sse", AC_FRAMING_SSE, 200,
                  &w);
}

/* --- huggingface: TGI ------------------------------------------------ */

static void test_tgi_stream_tool_call(void)
{
    /* id "0" and index 0 on every delta, name null after the first: one
     * call.  No finish_reason chunk: [DONE] ends it as tool_calls (the
     * backend gave no raw reason, so raw is not checked). */
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = -1, .out = -1, .model = TGI_MODEL, .n_calls = 1,
        .calls = { { "0", "get_current_weather",
                     "{\"location\":\"Brooklyn, NY\","
                     "\"format\":\"fahrenheit\"}" } } };
    for (int keepalive = 0; keepalive < 2; keepalive++) {
        size_t len;
        char *sse = ex_chunks_to_sse("tgi_chat_stream_tool_call.chunks.json",
                                     keepalive, &len);
        check_replay(g_hf, keepalive ? "TGI tool call with ':' comments"
                                     : "TGI tool call", sse, len,
                     AC_FRAMING_SSE, 200, &w);
        free(sse);
    }
}

static void test_tgi_stream_usage(void)
{
    /* "usage":null on every chunk, then choices:[] with the usage. */
    size_t len;
    char *sse = ex_chunks_to_sse("tgi_chat_stream_usage.chunks.json", 1, &len);
    ex_want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
        .raw = "stop", .in = 39, .out = 3, .model = TGI_MODEL };
    check_replay(g_hf, "TGI usage", sse, len, AC_FRAMING_SSE, 200, &w);
    free(sse);
}

static void test_tgi_error_bodies(void)
{
    /* {"error","error_type"} (docs/protocols.md 1, "Errors"): validation and
     * generation failures are not worth repeating; overloaded is. */
    static const char v422[] =
        "{\"error\":\"Input validation error: `inputs` tokens + "
        "`max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and "
        "512 `max_new_tokens`\",\"error_type\":\"validation\"}";
    ex_want w1 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 422, .retryable = 0,
        .msg = { "HTTP 422: Input validation error: `inputs` tokens",
                 "(validation)" } };
    check_replay(g_hf, "TGI 422", v422, strlen(v422), AC_FRAMING_NONE, 422,
                 &w1);

    static const char g424[] =
        "{\"error\":\"Request failed during generation: Server error: "
        "CUDA out of memory\",\"error_type\":\"generation\"}";
    ex_want w2 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 424, .retryable = 0,
        .msg = { "HTTP 424: Request failed during generation",
                 "(generation)" } };
    check_replay(g_hf, "TGI 424", g424, strlen(g424), AC_FRAMING_NONE, 424,
                 &w2);

    static const char o429[] =
        "{\"error\":\"Model is overloaded\",\"error_type\":\"overloaded\"}";
    ex_want w3 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 1,
        .msg = { "HTTP 429: Model is overloaded (overloaded)" } };
    check_replay(g_hf, "TGI 429", o429, strlen(o429), AC_FRAMING_NONE, 429,
                 &w3);
}

static void test_tgi_error_in_stream(void)
{
    /* TGI's chat endpoint: the error object names its status, then
     * [DONE]; the text before it is kept. */
    static const char s422[] =
        ":\n\n"
        "data: {\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1,"
        "\"model\":\"" TGI_MODEL "\",\"system_fingerprint\":\"3.1.2-native\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}],"
        "\"usage\":null}\n\n"
        "data: {\"error\":{\"message\":\"Input validation error: grammar "
        "is not valid\",\"http_status_code\":422}}\n\n"
        "data: [DONE]\n\n";
    ex_want w1 = { .status = AC_EPROTOCOL, .content = "Hel", .in = -1,
        .out = -1, .http_status = 422, .retryable = 0,
        .msg = { "error in stream: Input validation error: grammar is "
                 "not valid" } };
    check_replay(g_hf, "TGI 422 in stream", s422, strlen(s422),
                 AC_FRAMING_SSE, 200, &w1);

    static const char s429[] =
        "data: {\"error\":{\"message\":\"Model is overloaded\","
        "\"http_status_code\":429}}\n\n"
        "data: [DONE]\n\n";
    ex_want w2 = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 1, .msg = { "Model is overloaded" } };
    check_replay(g_hf, "TGI 429 in stream", s429, strlen(s429),
                 AC_FRAMING_SSE, 200, &w2);
}

/* --- mlx --------------------------------------------------------------- */

static void test_mlx_stream(void)
{
    /* The shape of mlx_lm/server.py's generate_response (no recording
     * exists): keepalive comments while the prompt is processed, every
     * delta with content, reasoning and tool_calls, reasoning in
     * delta.reasoning, each tool call whole with an incrementing index,
     * finish_reason tool_calls, then the usage chunk. */
    static const char mlx[] =
        ": keepalive 128/512\n\n"
        ": keepalive 512/512\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, \"finish_reason\": null, "
        "\"delta\": {\"role\": \"assistant\", \"content\": \"\", "
        "\"reasoning\": \"Two tools.\", \"tool_calls\": []}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, \"finish_reason\": null, "
        "\"delta\": {\"role\": \"assistant\", \"content\": \"Sure.\", "
        "\"reasoning\": \"\", \"tool_calls\": []}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, \"finish_reason\": null, "
        "\"delta\": {\"role\": \"assistant\", \"content\": \"\", "
        "\"reasoning\": \"\", \"tool_calls\": ["
        "{\"function\": {\"name\": \"a\", \"arguments\": \"{}\"}, "
        "\"type\": \"function\", \"id\": \"u-1\", \"index\": 0}, "
        "{\"function\": {\"name\": \"b\", \"arguments\": \"{\\\"x\\\": [1, 2]}\"}, "
        "\"type\": \"function\", \"id\": \"u-2\", \"index\": 1}]}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, "
        "\"finish_reason\": \"tool_calls\", \"delta\": {\"role\": "
        "\"assistant\", \"content\": \"\", \"reasoning\": \"\", "
        "\"tool_calls\": []}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [], \"usage\": {\"prompt_tokens\": 42, "
        "\"completion_tokens\": 17, \"total_tokens\": 59, "
        "\"prompt_tokens_details\": {\"cached_tokens\": 0}}}\n\n"
        "data: [DONE]\n\n";
    ex_want w = { .status = AC_OK, .content = "Sure.",
        .reasoning = "Two tools.", .finish = "tool_calls", .raw = "tool_calls",
        .in = 42, .out = 17, .model = "default_model", .n_calls = 2,
        .calls = { { "u-1", "a", "{}" }, { "u-2", "b", "{\"x\":[1,2]}" } } };
    check_replay(g_mlx, "mlx stream", mlx, strlen(mlx), AC_FRAMING_SSE, 200,
                 &w);
}

static void test_mlx_error_bodies(void)
{
    /* {"error": str}; older servers answer 404 for a failed generation,
     * which is not retried, newer ones 500 (retried). */
    static const char e404[] =
        "{\"error\": \"Only 'text' content type is supported.\"}";
    ex_want w1 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0,
        .msg = { "HTTP 404: Only 'text' content type is supported." } };
    check_replay(g_mlx, "mlx 404", e404, strlen(e404), AC_FRAMING_NONE, 404,
                 &w1);

    static const char e500[] = "{\"error\": \"[metal::malloc] Resource limit "
                               "(499000) exceeded.\"}";
    ex_want w2 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 500, .retryable = 1,
        .msg = { "HTTP 500: [metal::malloc] Resource limit" } };
    check_replay(g_mlx, "mlx 500", e500, strlen(e500), AC_FRAMING_NONE, 500,
                 &w2);

    /* A path the server does not serve: a bare text body. */
    static const char nf[] = "Not Found";
    ex_want w3 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0, .msg = { "HTTP 404: Not Found" } };
    check_replay(g_mlx, "mlx bare 404", nf, strlen(nf), AC_FRAMING_NONE, 404,
                 &w3);
}

/* --- out of memory through the real host ------------------------------ */

static void test_replay_allocation_failures(void)
{
    /* The core's allocator fails at each allocation in turn while TGI's
     * tool-call stream (with keep-alive comments) is replayed. */
    size_t len;
    char *sse = ex_chunks_to_sse("tgi_chat_stream_tool_call.chunks.json", 1,
                                 &len);
    ex_check_replay_oom(g_hf, AC_FRAMING_SSE, sse, len, 1000);
    free(sse);
}

/* ------------------------------------------------------------------ */
/* Suite "mock": the public API against the mock server                 */
/* ------------------------------------------------------------------ */

static mu_env g_menv;       /* the mock and a core; no llm */

/* Scenarios by model name.  The HF router scenarios serve the recorded
 * fixtures' bytes as they are (appended at run time, see mock_script). */
static const char mock_script_head[] =
    "reply = \"Hello from the mock.\";\n"
    "chunks = 5;\n"
    "usage = [12, 5];\n"
    "scenarios = (\n"
    "  { model = \"lms-tools\"; quirk = \"lmstudio\"; reply = \"\"; tool_calls = (\n"
    "      { id = \"365174485\"; name = \"search_products\";\n"
    "        arguments = \"{\\\"query\\\":\\\"dell\\\"}\"; } ); },\n"
    "  { model = \"tgi\"; quirk = \"tgi\"; reply = \"OK!\"; usage = [39, 3]; },\n"
    "  { model = \"tgi-tools\"; quirk = \"tgi\"; reply = \"\"; tool_calls = (\n"
    "      { name = \"get_current_weather\";\n"
    "        arguments = \"{\\\"location\\\":\\\"Brooklyn, NY\\\"}\"; } ); },\n"
    "  { model = \"tgi-422\"; status = 422; error_body = \"{\\\"error\\\":"
    "\\\"Input validation error: `max_new_tokens` must be strictly positive\\\","
    "\\\"error_type\\\":\\\"validation\\\"}\"; },\n"
    "  { model = \"tgi-424\"; status = 424; error_body = \"{\\\"error\\\":"
    "\\\"Request failed during generation: Server error: Unexpected <class "
    "'torch.OutOfMemoryError'>\\\",\\\"error_type\\\":\\\"generation\\\"}\"; },\n"
    "  { model = \"tgi-429\"; status = 429; error_body = \"{\\\"error\\\":"
    "\\\"Model is overloaded\\\",\\\"error_type\\\":\\\"overloaded\\\"}\"; },\n"
    "  { model = \"tgi-midstream\"; content_type = \"text/event-stream\"; raw = "
    "\":\\n\\ndata: {\\\"object\\\":\\\"chat.completion.chunk\\\",\\\"id\\\":"
    "\\\"\\\",\\\"created\\\":1,\\\"model\\\":\\\"tgi\\\",\\\"choices\\\":[{"
    "\\\"index\\\":0,\\\"delta\\\":{\\\"role\\\":\\\"assistant\\\",\\\"content\\\":"
    "\\\"Par\\\"},\\\"finish_reason\\\":null}],\\\"usage\\\":null}\\n\\n"
    "data: {\\\"error\\\":{\\\"message\\\":\\\"Request failed during generation: "
    "CUDA error\\\",\\\"http_status_code\\\":424}}\\n\\ndata: [DONE]\\n\\n\"; },\n"
    "  { model = \"mlx-tools\"; quirk = \"mlx\"; reply = \"\"; tool_calls = (\n"
    "      { name = \"a\"; arguments = \"{}\"; },\n"
    "      { name = \"b\"; arguments = \"{\\\"x\\\":[1,2]}\"; } ); },\n"
    "  { model = \"mlx-404\"; status = 404; error_body = \"{\\\"error\\\": "
    "\\\"Model not found: mlx-404\\\"}\"; }";

/* text as a libconfig string literal, appended to buf (size cap). */
static void cfg_quote(char *buf, size_t cap, const char *text, size_t len)
{
    size_t n = strlen(buf);
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(buf + n, cap - n, "\\%c", c);
        else if (c == '\n')
            n += (size_t)snprintf(buf + n, cap - n, "\\n");
        else if (c < 0x20 || c >= 0x7F)
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
        buf[n] = '\0';
    }
}

/* The script: the scenarios above plus the HF router's recorded stream
 * and body, each served for its own model id (with a `:provider`
 * suffix, which must reach the server unchanged to select it). */
static char *mock_script(void)
{
    size_t slen, blen;
    char *sse = tu_fixture("hf_router_chat_stream_text.sse", &slen);
    char *body = tu_fixture("hf_router_chat_text.response.json", &blen);
    size_t cap = sizeof mock_script_head + 4 * (slen + blen) + 512;
    char *s = malloc(cap);
    if (s) {
        snprintf(s, cap, "%s,\n  { model = \"moonshotai/Kimi-K2-Instruct-0905"
                 ":groq\"; content_type = \"text/event-stream\"; raw = \"",
                 mock_script_head);
        cfg_quote(s, cap, sse, slen);
        strncat(s, "\"; },\n  { model = \"moonshotai/Kimi-K2-Instruct-0905"
                ":fastest\"; content_type = \"application/json\"; raw = \"",
                cap - strlen(s) - 1);
        cfg_quote(s, cap, body, blen);
        strncat(s, "\"; }\n);\n", cap - strlen(s) - 1);
    }
    free(sse);
    free(body);
    return s;
}

static int mock_suite_init(void)
{
    char *script = mock_script();
    int rc = script ? mu_start_plain(&g_menv, script) : -1;
    free(script);
    return rc;
}

static int mock_suite_clean(void)
{
    mu_stop(&g_menv);
    return 0;
}

/* An llm on `plugin` pointed at the mock (or at its default URL when
 * at_mock is 0), with api_key when not NULL, no retries; NULL with *err
 * filled on failure. */
static ac_llm *make_llm(ac_core *core, const char *plugin, const char *model,
                        int at_mock, const char *api_key, ac_error *err)
{
    char url[256];
    ac_options *o = ac_options_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    snprintf(url, sizeof url, "%s/v1", mock_server_url(g_menv.mock));
    if (at_mock)
        CU_ASSERT_EQUAL(ac_options_set(o, "base_url", url), AC_OK);
    if (api_key)
        CU_ASSERT_EQUAL(ac_options_set(o, "api_key", api_key), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "max_retries", "0"), AC_OK);
    memset(err, 0, sizeof *err);
    ac_llm *llm = ac_llm_create(core, plugin, model, o, err);
    ac_options_free(o);
    return llm;
}

static ac_llm *mock_llm(const char *plugin, const char *model)
{
    ac_error err;
    ac_llm *llm = make_llm(g_menv.core, plugin, model, 1, NULL, &err);
    if (!llm)
        fprintf(stderr, "\n  ac_llm_create(%s): %s\n", plugin, err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    return llm;
}

static json_object *mock_last_body(void)
{
    json_object *o = mu_last_body(g_menv.mock);
    CU_ASSERT_PTR_NOT_NULL(o);
    return o;
}

/* The last request's header, or NULL (a copy of at most 255 bytes). */
static const char *mock_header(const char *name)
{
    static char buf[256];
    char *v = mock_server_last_header(g_menv.mock, name);
    if (!v)
        return NULL;
    snprintf(buf, sizeof buf, "%s", v);
    free(v);
    return buf;
}

/* One exchange with `llm`, streamed or not, checked against w; params
 * may be NULL. */
static void exchange(ac_llm *llm, int stream, const ac_gen_params *p,
                     const char *label, const ex_want *w)
{
    ac_response *r = NULL;
    ac_error err;
    ex_seen s;
    ac_status st;
    memset(&s, 0, sizeof s);
    memset(&err, 0, sizeof err);
    if (stream) {
        st = ex_read_stream(llm, p, &s, &r, &err);
    } else {
        r = ac_generate(llm, "Say hello", p, &err);
        st = r ? AC_OK : err.code;
    }
    CU_ASSERT(ex_check_str(label, (size_t)stream, "status", ac_strerror(st),
                           ac_strerror(w->status)));
    if (w->status == AC_OK) {
        CU_ASSERT_PTR_NOT_NULL(r);
        if (r)
            ex_check_response(label, (size_t)stream, r, w);
        if (stream) {
            CU_ASSERT(ex_check_str(label, 1, "streamed text", s.text,
                                   w->content));
            CU_ASSERT(ex_check_long(label, 1, "usage events", s.n_usage,
                                    w->in >= 0 || w->out >= 0 ? 1 : 0));
            CU_ASSERT(ex_check_long(label, 1, "finish events", s.n_finish, 1));
        }
    } else {
        CU_ASSERT_EQUAL(err.code, st);
        ex_check_error(label, (size_t)stream, &err, w, HF_TEST_KEY);
        if (stream) {
            CU_ASSERT_EQUAL(s.n_error, 1);
            if (r)
                CU_ASSERT(ex_check_str(label, 1, "text kept",
                                       ac_response_content(r), w->content));
        } else {
            CU_ASSERT_PTR_NULL(r);
        }
    }
    ac_response_free(r);
}

static ac_gen_params *tool_params(const char *tool)
{
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, tool, "A tool",
        "{\"type\":\"object\",\"properties\":{}}"), AC_OK);
    return p;
}

static int models_have(ac_llm *llm, const char *id)
{
    ac_error err;
    int found = 0;
    ac_models *m = ac_list_models(llm, &err);
    CU_ASSERT_PTR_NOT_NULL(m);
    if (!m) {
        fprintf(stderr, "\n  ac_list_models: %s\n", err.message);
        return 0;
    }
    for (size_t i = 0; i < ac_models_count(m); i++)
        if (strcmp(ac_models_id(m, i), id) == 0)
            found = 1;
    ac_models_free(m);
    return found;
}

#define MOCK_TEXT "Hello from the mock."

/* --- lmstudio -------------------------------------------------------- */

static void test_mock_lmstudio_generate(void)
{
    /* No model given: LM Studio's placeholder, which it answers with the
     * loaded model.  max_tokens in its own field; no key, no header. */
    ac_llm *llm = mock_llm("lmstudio", NULL);
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 64);
    ex_want w = { .status = AC_OK, .content = MOCK_TEXT, .finish = "stop",
               .in = 12, .out = 5, .model = "local-model" };
    exchange(llm, 0, p, "lmstudio generate", &w);
    json_object *b = mock_last_body();
    TU_ASSERT_STR(tu_jstr(b, "model"), "local-model");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "max_tokens")), 64);
    CU_ASSERT_FALSE(tu_jhas(b, "max_completion_tokens"));
    json_object_put(b);
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));
    exchange(llm, 1, p, "lmstudio stream", &w);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_lmstudio_token(void)
{
    /* With "Require Authentication" on, LM_API_TOKEN is sent. */
    CU_ASSERT_EQUAL(setenv("LM_API_TOKEN", "lm-token-abcdef123", 1), 0);
    ac_llm *llm = mock_llm("lmstudio", "qwen2.5-7b-instruct");
    unsetenv("LM_API_TOKEN");
    ex_want w = { .status = AC_OK, .content = MOCK_TEXT, .in = 12, .out = 5,
               .model = "qwen2.5-7b-instruct" };
    exchange(llm, 0, NULL, "lmstudio with token", &w);
    TU_ASSERT_STR(mock_header("Authorization"), "Bearer lm-token-abcdef123");
    ac_llm_free(llm);
}

static void test_mock_lmstudio_tool_calls(void)
{
    /* Non-streamed, the reply has no "content" key: an empty reply. */
    ac_llm *llm = mock_llm("lmstudio", "lms-tools");
    ac_gen_params *p = tool_params("search_products");
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = 12, .out = 5, .n_calls = 1,
        .calls = { { "365174485", "search_products",
                     "{\"query\":\"dell\"}" } } };
    exchange(llm, 0, p, "lmstudio tool call", &w);
    exchange(llm, 1, p, "lmstudio tool call", &w);
    json_object *b = mock_last_body();
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.name"), "search_products");
    json_object_put(b);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_lmstudio_models(void)
{
    ac_llm *llm = mock_llm("lmstudio", NULL);
    CU_ASSERT_TRUE(models_have(llm, "lms-tools"));
    CU_ASSERT_TRUE(models_have(llm, "mlx-tools"));
    ac_llm_free(llm);
}

/* --- huggingface ----------------------------------------------------- */

static void test_mock_hf_key_policy(void)
{
    ac_error err;
    /* The router's URL without a token: refused, naming the variable. */
    ac_llm *llm = make_llm(g_menv.core, "huggingface", NULL, 0, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HF_TOKEN"));
    ac_llm_free(llm);

    /* The same for a user who configured nothing at all. */
    ac_core *core = tu_open_core(NULL);
    memset(&err, 0, sizeof err);
    llm = ac_llm_create(core, "huggingface", NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HF_TOKEN"));
    ac_llm_free(llm);
    ac_core_close(core);

    /* HF_TOKEN, or a configured key, is enough (nothing is sent here). */
    CU_ASSERT_EQUAL(setenv("HF_TOKEN", HF_TEST_KEY, 1), 0);
    llm = make_llm(g_menv.core, "huggingface", NULL, 0, NULL, &err);
    unsetenv("HF_TOKEN");
    if (!llm)
        fprintf(stderr, "\n  with HF_TOKEN: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(llm);
    if (llm)
        TU_ASSERT_STR(ac_llm_model(llm), "openai/gpt-oss-20b");
    ac_llm_free(llm);
    llm = make_llm(g_menv.core, "huggingface", NULL, 0, HF_TEST_KEY, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);

    /* A TGI server at another URL needs none, and gets none... */
    llm = mock_llm("huggingface", "tgi");
    ex_want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
               .in = 39, .out = 3, .model = "tgi" };
    exchange(llm, 0, NULL, "TGI without token", &w);
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));
    ac_llm_free(llm);

    /* ...but a token that is set is sent (Inference Endpoints). */
    CU_ASSERT_EQUAL(setenv("HF_TOKEN", HF_TEST_KEY, 1), 0);
    llm = mock_llm("huggingface", "tgi");
    unsetenv("HF_TOKEN");
    exchange(llm, 0, NULL, "TGI with HF_TOKEN", &w);
    TU_ASSERT_STR(mock_header("Authorization"), "Bearer " HF_TEST_KEY);
    ac_llm_free(llm);
}

static void test_mock_hf_router(void)
{
    /* The router's recorded bytes, selected by a model id with a
     * `:provider` suffix that must arrive unchanged; max_tokens, as the
     * router takes it. */
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 4000);
    ac_gen_params_set_system(p, "You are a helpful assistant");
    ex_want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
               .raw = "stop", .in = 20, .out = 4, .model = KIMI };

    ac_llm *llm = mock_llm("huggingface",
                           "moonshotai/Kimi-K2-Instruct-0905:groq");
    exchange(llm, 1, p, "HF router stream", &w);
    json_object *b = mock_last_body();
    TU_ASSERT_STR(tu_jstr(b, "model"), "moonshotai/Kimi-K2-Instruct-0905:groq");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "max_tokens")), 4000);
    CU_ASSERT_FALSE(tu_jhas(b, "max_completion_tokens"));
    CU_ASSERT_TRUE(json_object_get_boolean(tu_jget(b, "stream")));
    CU_ASSERT_TRUE(json_object_get_boolean(
        tu_jget(b, "stream_options.include_usage")));
    json_object_put(b);
    ac_llm_free(llm);

    llm = mock_llm("huggingface", "moonshotai/Kimi-K2-Instruct-0905:fastest");
    exchange(llm, 0, p, "HF router body", &w);
    b = mock_last_body();
    TU_ASSERT_STR(tu_jstr(b, "model"),
                  "moonshotai/Kimi-K2-Instruct-0905:fastest");
    json_object_put(b);
    ac_llm_free(llm);
    ac_gen_params_free(p);
}

static void test_mock_tgi(void)
{
    /* ":" keep-alive comments, role on every delta, "id":"" chunks. */
    ac_llm *llm = mock_llm("huggingface", "tgi");
    ex_want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
               .in = 39, .out = 3, .model = "tgi" };
    exchange(llm, 1, NULL, "TGI stream", &w);
    ac_llm_free(llm);

    /* Streamed, the call repeats its id and index and sends name:null
     * after the first delta: still one call. */
    llm = mock_llm("huggingface", "tgi-tools");
    ac_gen_params *p = tool_params("get_current_weather");
    ex_want wt = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = 12, .out = 5, .n_calls = 1,
        .calls = { { NULL, "get_current_weather",
                     "{\"location\":\"Brooklyn, NY\"}" } } };
    exchange(llm, 0, p, "TGI tool call", &wt);
    exchange(llm, 1, p, "TGI tool call", &wt);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_tgi_errors(void)
{
    static const struct {
        const char *model;
        ex_want        w;
    } cases[] = {
        { "tgi-422", { .status = AC_EHTTP, .content = "", .in = -1,
            .out = -1, .http_status = 422, .retryable = 0,
            .msg = { "HTTP 422: Input validation error: `max_new_tokens`",
                     "(validation)" } } },
        { "tgi-424", { .status = AC_EHTTP, .content = "", .in = -1,
            .out = -1, .http_status = 424, .retryable = 0,
            .msg = { "HTTP 424: Request failed during generation",
                     "(generation)" } } },
        { "tgi-429", { .status = AC_EHTTP, .content = "", .in = -1,
            .out = -1, .http_status = 429, .retryable = 1,
            .msg = { "HTTP 429: Model is overloaded (overloaded)" } } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_llm *llm = mock_llm("huggingface", cases[i].model);
        exchange(llm, 0, NULL, cases[i].model, &cases[i].w);
        exchange(llm, 1, NULL, cases[i].model, &cases[i].w);
        ac_llm_free(llm);
    }

    /* An error inside the 200 stream, with its status; the text before
     * it is kept. */
    ac_llm *llm = mock_llm("huggingface", "tgi-midstream");
    ex_want w = { .status = AC_EPROTOCOL, .content = "Par", .in = -1, .out = -1,
        .http_status = 424, .retryable = 0,
        .msg = { "Request failed during generation: CUDA error" } };
    exchange(llm, 1, NULL, "TGI error in stream", &w);
    ac_llm_free(llm);
}

static void test_mock_hf_models(void)
{
    ac_llm *llm = mock_llm("huggingface", "tgi");
    CU_ASSERT_TRUE(models_have(llm, "tgi-tools"));
    ac_llm_free(llm);
}

/* --- mlx ------------------------------------------------------------- */

static void test_mock_mlx_generate(void)
{
    /* No model: the field is left out (mlx would load a named one), and
     * nothing the caller did not set is sent -- the server's own
     * temperature 0 and 512 tokens apply.  No key, whatever variables
     * are set. */
    CU_ASSERT_EQUAL(setenv("HF_TOKEN", HF_TEST_KEY, 1), 0);
    CU_ASSERT_EQUAL(setenv("LM_API_TOKEN", "lm-token-abcdef123", 1), 0);
    ac_llm *llm = mock_llm("mlx", NULL);
    unsetenv("HF_TOKEN");
    unsetenv("LM_API_TOKEN");
    ex_want w = { .status = AC_OK, .content = MOCK_TEXT, .finish = "stop",
               .in = 12, .out = 5 };
    exchange(llm, 0, NULL, "mlx generate", &w);
    json_object *b = mock_last_body();
    CU_ASSERT_FALSE(tu_jhas(b, "model"));
    CU_ASSERT_FALSE(tu_jhas(b, "max_tokens"));
    CU_ASSERT_FALSE(tu_jhas(b, "temperature"));
    json_object_put(b);
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));

    /* What the caller sets is sent, max_tokens in its own field. */
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 2048);
    ac_gen_params_set_temperature(p, 0.7);
    exchange(llm, 1, p, "mlx stream", &w);
    b = mock_last_body();
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "max_tokens")), 2048);
    CU_ASSERT_FALSE(tu_jhas(b, "max_completion_tokens"));
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(tu_jget(b, "temperature")),
                           0.7, 1e-12);
    json_object_put(b);
    ac_gen_params_free(p);
    ac_llm_free(llm);

    /* A key configured on purpose (a proxy in front) is sent. */
    ac_error err;
    llm = make_llm(g_menv.core, "mlx", "mlx-community/Qwen3-4B-4bit", 1,
                   "proxy-key-0123456", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    exchange(llm, 0, NULL, "mlx behind a proxy", &w);
    TU_ASSERT_STR(mock_header("Authorization"), "Bearer proxy-key-0123456");
    b = mock_last_body();
    TU_ASSERT_STR(tu_jstr(b, "model"), "mlx-community/Qwen3-4B-4bit");
    json_object_put(b);
    ac_llm_free(llm);
}

static void test_mock_mlx_tool_calls(void)
{
    /* ": keepalive" comments, then each call whole in one delta with an
     * incrementing index. */
    ac_llm *llm = mock_llm("mlx", "mlx-tools");
    ac_gen_params *p = tool_params("a");
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = 12, .out = 5, .n_calls = 2,
        .calls = { { NULL, "a", "{}" }, { NULL, "b", "{\"x\":[1,2]}" } } };
    exchange(llm, 0, p, "mlx tool calls", &w);
    exchange(llm, 1, p, "mlx tool calls", &w);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_mlx_errors(void)
{
    ac_llm *llm = mock_llm("mlx", "mlx-404");
    ex_want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0,
        .msg = { "HTTP 404: Model not found: mlx-404" } };
    exchange(llm, 0, NULL, "mlx 404", &w);
    exchange(llm, 1, NULL, "mlx 404", &w);
    ac_llm_free(llm);
}

static void test_mock_mlx_models(void)
{
    ac_llm *llm = mock_llm("mlx", NULL);
    CU_ASSERT_TRUE(models_have(llm, "mlx-tools"));
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));
    ac_llm_free(llm);
}

/* ------------------------------------------------------------------ */

static const tu_test descriptor_tests[] = {
    { "lmstudio", test_descriptor_lmstudio },
    { "huggingface", test_descriptor_huggingface },
    { "mlx", test_descriptor_mlx },
};

static const tu_test replay_tests[] = {
    { "lmstudio: tool call without content", test_lmstudio_tool_call_body },
    { "local servers: reasoning_content", test_local_reasoning_body },
    { "local servers: llama.cpp 401", test_local_error_401 },
    { "huggingface: router body", test_hf_router_body },
    { "huggingface: router usage twice", test_hf_router_stream_usage_twice },
    { "huggingface: TGI tool call", test_tgi_stream_tool_call },
    { "huggingface: TGI usage", test_tgi_stream_usage },
    { "huggingface: TGI error bodies", test_tgi_error_bodies },
    { "huggingface: TGI errors in a stream", test_tgi_error_in_stream },
    { "mlx: stream", test_mlx_stream },
    { "mlx: error bodies", test_mlx_error_bodies },
    { "allocation failures", test_replay_allocation_failures },
};

static const tu_test mock_tests[] = {
    { "lmstudio: generate and stream", test_mock_lmstudio_generate },
    { "lmstudio: LM_API_TOKEN", test_mock_lmstudio_token },
    { "lmstudio: tool calls", test_mock_lmstudio_tool_calls },
    { "lmstudio: models", test_mock_lmstudio_models },
    { "huggingface: key policy", test_mock_hf_key_policy },
    { "huggingface: router bytes", test_mock_hf_router },
    { "huggingface: TGI", test_mock_tgi },
    { "huggingface: TGI errors", test_mock_tgi_errors },
    { "huggingface: models", test_mock_hf_models },
    { "mlx: generate and stream", test_mock_mlx_generate },
    { "mlx: tool calls", test_mock_mlx_tool_calls },
    { "mlx: errors", test_mock_mlx_errors },
    { "mlx: models", test_mock_mlx_models },
};

int main(void)
{
    /* Never the real tokens of whoever runs the tests. */
    unsetenv("HF_TOKEN");
    unsetenv("LM_API_TOKEN");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    /* Order matters: the descriptor suite loads the plugins with the
     * fake host and unloads them before any core does. */
    if (TU_ADD_SUITE("descriptor", NULL, NULL, descriptor_tests) ||
        TU_ADD_SUITE("replay", replay_suite_init, replay_suite_clean,
                     replay_tests) ||
        TU_ADD_SUITE("mock", mock_suite_init, mock_suite_clean, mock_tests))
        return 2;
    return tu_run_suites();
}
