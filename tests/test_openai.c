/*
 * test_openai.c -- CUnit suites for the `openai` plugin and the
 * OpenAI-compatible codec it is built on (sdk/openai_compat*.c).
 *
 * Suite "plugin" loads plugins/openai/.libs/openai.so itself and drives
 * its vtable with the SDK's fake host (<abstractcore/testkit.h>), to check
 * what it sends
 * (URL, headers, the JSON body) and how it reads its settings, model lists
 * and error bodies: things replay cannot show without a server.
 *
 * Suite "replay" feeds the recorded traffic in tests/fixtures (every
 * openai_*, hf_router_*, llamacpp_*, tgi_* and lmstudio_* response, and the
 * SSE edge cases) through the real path -- core, framer, plugin,
 * accumulator -- with ac__replay_bytes(), whole and in pieces of 1 and 7
 * bytes, and checks the response a user would get.  The expected values
 * were written from reading the fixtures.
 *
 * Suite "mock" runs the public API end to end against the mock LLM server
 * on 127.0.0.1: what the plugin sent (headers, body) and what came back,
 * streamed and not, with the server quirks the mock can imitate.  The
 * replay and mock checks are shared with test_compat_plugins.c (expect.c).
 *
 * The plugin suite runs first and unloads the plugin again, so the core
 * later loads it with its own host table.
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

#define PLUGIN_SO TEST_BUILDDIR "/plugins/openai/.libs/openai.so"

/* ------------------------------------------------------------------ */
/* Suite "plugin": the vtable with the fake host                       */
/* ------------------------------------------------------------------ */

static void *g_dl;
static const ac_provider *g_prov;

static int plugin_suite_init(void)
{
    g_prov = ac_fake_load(PLUGIN_SO, &g_dl);
    return g_prov ? 0 : -1;
}

static int plugin_suite_clean(void)
{
    g_prov = NULL;
    if (g_dl)
        dlclose(g_dl);
    g_dl = NULL;
    return 0;
}

/* A fake host with an instance name, settings (key, value pairs; a value
 * "#INT" is an integer setting, the wrong type for a string key) and a
 * fake environment (name, value pairs).  Either list may be NULL; both
 * end with NULL. */
static ac_fake *fake(const char *name, const char *const *kv, const char *const *env)
{
    ac_fake *f = ac_fake_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ac_fake_set_name(f, name);
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (strcmp(kv[i + 1], "#INT") == 0)
            ac_fake_set_int(f, kv[i], 5);
        else
            ac_fake_set(f, kv[i], kv[i + 1]);
    for (size_t i = 0; env && env[i]; i += 2)
        ac_fake_setenv(f, env[i], env[i + 1]);
    return f;
}

static const char *const KEY[] = {"api_key", "sk-test", NULL};

/* Init the plugin with f's settings; AC_OK expected. */
static void *plugin_init_ok(ac_fake *f)
{
    void *st = NULL;
    ac_status rc = g_prov->init(ac_fake_settings(f), &st, ac_fake_call(f));
    if (rc != AC_OK)
        fprintf(stderr, "init: %s\n", ac_fake_error(f)->message);
    CU_ASSERT_EQUAL(rc, AC_OK);
    return st;
}

/* Init the plugin with settings it must refuse: AC_ECONFIG and no state.
 * Returns the report, for what its message must (not) say. */
static ac_error plugin_init_fails(ac_fake *f)
{
    void *st = NULL;
    CU_ASSERT_EQUAL(g_prov->init(ac_fake_settings(f), &st, ac_fake_call(f)), AC_ECONFIG);
    CU_ASSERT_PTR_NULL(st);
    return *ac_fake_error(f);
}

/* Build f's request; the status. */
static ac_status build(void *st, ac_fake *f)
{
    return g_prov->build_request(st, ac_fake_request(f), ac_fake_http(f), ac_fake_call(f));
}

/* Parse the built body; NULL (and a failed assertion) if it is not JSON. */
static json_object *body_json(const ac_fake *f)
{
    json_object *o = json_tokener_parse(ac_fake_body(f, NULL));
    CU_ASSERT_PTR_NOT_NULL(o);
    return o;
}

static void test_descriptor(void)
{
    CU_ASSERT_EQUAL(g_prov->abi_major, AC_ABI_MAJOR);
    CU_ASSERT(g_prov->abi_minor <= AC_ABI_MINOR);
    CU_ASSERT(g_prov->struct_size >= offsetof(ac_provider, stream_free));
    TU_ASSERT_STR(g_prov->name, "openai");
    CU_ASSERT_PTR_NOT_NULL(g_prov->version);
    CU_ASSERT_PTR_NOT_NULL(g_prov->description);
    unsigned feats = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES;
    CU_ASSERT_EQUAL(g_prov->features & feats, feats);
    TU_ASSERT_STR(g_prov->default_base_url, "https://api.openai.com/v1");
    CU_ASSERT_PTR_NOT_NULL(g_prov->init);
    CU_ASSERT_PTR_NOT_NULL(g_prov->fini);
    CU_ASSERT_PTR_NOT_NULL(g_prov->build_request);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_response);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_event);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_error);
    CU_ASSERT_PTR_NOT_NULL(g_prov->build_models_request);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_models);
    CU_ASSERT_PTR_NOT_NULL(g_prov->stream_free);
    CU_ASSERT_PTR_NULL(g_prov->run_local);
}

static void test_init_needs_key_at_openai(void)
{
    ac_fake *f = fake("openai", NULL, NULL);
    ac_error err = plugin_init_fails(f);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    TU_ASSERT_STR(err.message, "provider 'openai': no API key: "
                               "set OPENAI_API_KEY or api_key_env");
    ac_fake_free(f);

    /* The same at the default URL spelled with a trailing slash. */
    static const char *const kv[] = {"base_url", "https://api.openai.com/v1/", NULL};
    f = fake("prod", kv, NULL);
    err = plugin_init_fails(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "provider 'prod'"));
    ac_fake_free(f);
}

static void test_init_key_from_default_env(void)
{
    static const char *const env[] = {"OPENAI_API_KEY", "sk-from-env", NULL};
    ac_fake *f = fake("openai", NULL, env);
    void *st = plugin_init_ok(f);
    if (st) {
        CU_ASSERT_EQUAL(g_prov->build_models_request(st, ac_fake_http(f), ac_fake_call(f)),
                        AC_OK);
        TU_ASSERT_STR(ac_fake_method(f), "GET");
        TU_ASSERT_STR(ac_fake_url(f), "https://api.openai.com/v1/models");
        CU_ASSERT_EQUAL(ac_fake_framing(f), AC_FRAMING_NONE);
        TU_ASSERT_STR(ac_fake_header(f, "Authorization"), "Bearer sk-from-env");
        TU_ASSERT_STR(ac_fake_secret_default_env(f), "OPENAI_API_KEY");
        g_prov->fini(st);
    }
    ac_fake_free(f);
}

static void test_init_unset_key_env_fails(void)
{
    /* A configured api_key_env whose variable is unset is an error even
     * where no key is needed, naming the variable. */
    static const char *const kv[] = {"base_url", "http://127.0.0.1:8080/v1",
                                      "api_key_env", "AC_TEST_NO_SUCH_VARIABLE", NULL};
    ac_fake *f = fake("local", kv, NULL);
    ac_error err = plugin_init_fails(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "AC_TEST_NO_SUCH_VARIABLE"));
    ac_fake_free(f);
}

static void test_init_wrong_type(void)
{
    static const char *const kv[] = {"api_key", "sk-test", "base_url", "#INT", NULL};
    ac_fake *f = fake("openai", kv, NULL);
    ac_error err = plugin_init_fails(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "base_url"));
    ac_fake_free(f);
}

static void test_init_key_with_newline_refused(void)
{
    static const char *const kv[] = {"api_key", "sk-te\nst", NULL};
    ac_fake *f = fake("openai", kv, NULL);
    ac_error err = plugin_init_fails(f);
    CU_ASSERT_PTR_NULL(strstr(err.message, "sk-te"));
    ac_fake_free(f);
}

/* A local server at another base_url: no key needed, none sent. */
static void test_request_without_key(void)
{
    static const char *const kv[] = {"base_url", "http://127.0.0.1:8080/v1/",
                                     "default_model", "qwen", NULL};
    ac_fake *f = fake("local", kv, NULL);
    ac_fake_add_message(f, AC_ROLE_USER, "hi");
    void *st = plugin_init_ok(f);
    if (!st) {
        ac_fake_free(f);
        return;
    }
    CU_ASSERT_EQUAL(build(st, f), AC_OK);
    TU_ASSERT_STR(ac_fake_method(f), "POST");
    TU_ASSERT_STR(ac_fake_url(f), "http://127.0.0.1:8080/v1/chat/completions");
    CU_ASSERT_EQUAL(ac_fake_framing(f), AC_FRAMING_NONE);
    CU_ASSERT_PTR_NULL(ac_fake_header(f, "Authorization"));
    CU_ASSERT_PTR_NULL(ac_fake_header(f, "OpenAI-Organization"));
    CU_ASSERT_PTR_NOT_NULL(ac_fake_header(f, "Content-Type"));
    json_object *b = body_json(f);
    /* The request named no model: the configured default is used. */
    TU_ASSERT_STR(tu_jstr(b, "model"), "qwen");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.role"), "user");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content"), "hi");
    CU_ASSERT_FALSE(tu_jhas(b, "stream"));
    CU_ASSERT_FALSE(tu_jhas(b, "stream_options"));
    CU_ASSERT_FALSE(tu_jhas(b, "max_completion_tokens"));
    CU_ASSERT_FALSE(tu_jhas(b, "tools"));
    CU_ASSERT_FALSE(tu_jhas(b, "response_format"));
    json_object_put(b);
    g_prov->fini(st);
    ac_fake_free(f);
}

/* The request of test_request_full_body, on f. */
static void full_request(ac_fake *f, const char *schema)
{
    static const char *const stops[] = {"END", "\n\n"};
    ac_gen_request *r = ac_fake_request(f);
    ac_fake_add_message(f, AC_ROLE_SYSTEM, "Be terse.");
    ac_fake_add_message(f, AC_ROLE_USER, "What is this and the weather?");
    ac_part url = {.struct_size = sizeof url, .type = AC_PART_IMAGE,
                   .url = "https://example.com/cat.png"};
    ac_part png = {.struct_size = sizeof png, .type = AC_PART_IMAGE, .mime_type = "image/png",
                   .data_base64 = "iVBORw0KGgo=", .data_len = 8};
    ac_part doc = {.struct_size = sizeof doc, .type = AC_PART_FILE, .name = "notes.txt",
                   .mime_type = "text/plain", .text = "line one", .text_len = 8};
    ac_fake_add_part(f, &url);
    ac_fake_add_part(f, &png);
    ac_fake_add_part(f, &doc);
    ac_fake_add_message(f, AC_ROLE_ASSISTANT, NULL);
    ac_part call = {.struct_size = sizeof call, .type = AC_PART_TOOL_CALL, .id = "call_1",
                    .name = "get_weather", .arguments = "{\"city\":\"Paris\"}"};
    ac_fake_add_part(f, &call);
    ac_fake_add_message(f, AC_ROLE_TOOL, NULL);
    ac_part res = {.struct_size = sizeof res, .type = AC_PART_TOOL_RESULT, .id = "call_1",
                   .name = "get_weather", .text = "18C", .text_len = 3};
    ac_fake_add_part(f, &res);
    ac_fake_add_message(f, AC_ROLE_ASSISTANT, "A cat; 18C.");
    ac_fake_add_tool(f, "get_weather", "Weather for a city",
                     "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");
    ac_fake_add_tool(f, "noop", NULL, "{}");
    r->model = "gpt-4o";
    r->stream = 1;
    r->has_max_tokens = 1, r->max_tokens = 100;
    r->has_temperature = 1, r->temperature = 0.7;
    r->has_top_p = 1, r->top_p = 0.9;
    r->has_seed = 1, r->seed = 42;
    r->stop = stops, r->n_stop = 2;
    r->tool_choice = "get_weather";
    r->json_schema = schema;
    r->json_schema_name = "Answer";
}

/* Every field of a full streaming request. */
static void test_request_full_body(void)
{
    static const char *const kv[] = {"api_key", "sk-test", "organization", "org-1",
                                     "project", "proj-2", NULL};
    ac_fake *f = fake("openai", kv, NULL);
    full_request(f, "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}");
    void *st = plugin_init_ok(f);
    if (!st) {
        ac_fake_free(f);
        return;
    }
    CU_ASSERT_EQUAL(build(st, f), AC_OK);
    TU_ASSERT_STR(ac_fake_url(f), "https://api.openai.com/v1/chat/completions");
    CU_ASSERT_EQUAL(ac_fake_framing(f), AC_FRAMING_SSE);
    TU_ASSERT_STR(ac_fake_header(f, "Authorization"), "Bearer sk-test");
    TU_ASSERT_STR(ac_fake_header(f, "Content-Type"), "application/json");
    TU_ASSERT_STR(ac_fake_header(f, "OpenAI-Organization"), "org-1");
    TU_ASSERT_STR(ac_fake_header(f, "OpenAI-Project"), "proj-2");
    /* The key goes in the header only. */
    CU_ASSERT_PTR_NULL(strstr(ac_fake_body(f, NULL), "sk-test"));

    json_object *b = body_json(f);
    TU_ASSERT_STR(tu_jstr(b, "model"), "gpt-4o");
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 5);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.role"), "system");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content"), "Be terse.");
    /* user with images and a document: content parts */
    TU_ASSERT_STR(tu_jstr(b, "messages.1.role"), "user");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.0.type"), "text");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.0.text"), "What is this and the weather?");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.1.type"), "image_url");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.1.image_url.url"),
                  "https://example.com/cat.png");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.2.image_url.url"),
                  "data:image/png;base64,iVBORw0KGgo=");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.3.type"), "text");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.3.text"), "[file: notes.txt]\nline one");
    /* assistant tool call: content null, arguments a JSON string */
    TU_ASSERT_STR(tu_jstr(b, "messages.2.role"), "assistant");
    CU_ASSERT_TRUE(tu_jhas(b, "messages.2.content"));
    CU_ASSERT_PTR_NULL(tu_jget(b, "messages.2.content"));
    TU_ASSERT_STR(tu_jstr(b, "messages.2.tool_calls.0.id"), "call_1");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.tool_calls.0.type"), "function");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.tool_calls.0.function.name"), "get_weather");
    CU_ASSERT_TRUE(tu_json_text_equal(tu_jstr(b, "messages.2.tool_calls.0.function.arguments"),
                                      "{\"city\":\"Paris\"}"));
    /* tool result */
    TU_ASSERT_STR(tu_jstr(b, "messages.3.role"), "tool");
    TU_ASSERT_STR(tu_jstr(b, "messages.3.tool_call_id"), "call_1");
    TU_ASSERT_STR(tu_jstr(b, "messages.3.content"), "18C");
    TU_ASSERT_STR(tu_jstr(b, "messages.4.content"), "A cat; 18C.");
    CU_ASSERT_FALSE(tu_jhas(b, "messages.4.tool_calls"));
    /* OpenAI: max_completion_tokens, not max_tokens */
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "max_completion_tokens")), 100);
    CU_ASSERT_FALSE(tu_jhas(b, "max_tokens"));
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(tu_jget(b, "temperature")), 0.7, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(tu_jget(b, "top_p")), 0.9, 1e-12);
    /* sent as written, not 0.69999999999999996 */
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_body(f, NULL), "\"temperature\":0.7"));
    CU_ASSERT_EQUAL(json_object_get_int64(tu_jget(b, "seed")), 42);
    TU_ASSERT_STR(tu_jstr(b, "stop.0"), "END");
    TU_ASSERT_STR(tu_jstr(b, "stop.1"), "\n\n");
    /* tools */
    TU_ASSERT_STR(tu_jstr(b, "tools.0.type"), "function");
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.name"), "get_weather");
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.description"), "Weather for a city");
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.parameters.properties.city.type"), "string");
    TU_ASSERT_STR(tu_jstr(b, "tools.1.function.name"), "noop");
    CU_ASSERT_FALSE(tu_jhas(b, "tools.1.function.description"));
    CU_ASSERT_TRUE(json_object_is_type(tu_jget(b, "tools.1.function.parameters"),
                                       json_type_object));
    /* a named tool choice is an object */
    TU_ASSERT_STR(tu_jstr(b, "tool_choice.type"), "function");
    TU_ASSERT_STR(tu_jstr(b, "tool_choice.function.name"), "get_weather");
    /* structured output */
    TU_ASSERT_STR(tu_jstr(b, "response_format.type"), "json_schema");
    TU_ASSERT_STR(tu_jstr(b, "response_format.json_schema.name"), "Answer");
    /* An open schema (no "additionalProperties": false) is not sent as
     * strict: OpenAI would answer 400. */
    CU_ASSERT_TRUE(tu_jhas(b, "response_format.json_schema.strict"));
    CU_ASSERT_FALSE(json_object_get_boolean(tu_jget(b, "response_format.json_schema.strict")));
    TU_ASSERT_STR(tu_jstr(b, "response_format.json_schema.schema.properties.a.type"), "integer");
    /* streaming asks for usage */
    CU_ASSERT_TRUE(json_object_get_boolean(tu_jget(b, "stream")));
    CU_ASSERT_TRUE(json_object_get_boolean(tu_jget(b, "stream_options.include_usage")));
    json_object_put(b);
    g_prov->fini(st);
    ac_fake_free(f);

    /* A closed schema is sent as strict. */
    f = fake("openai", kv, NULL);
    full_request(f, "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
                    "\"required\":[\"a\"],\"additionalProperties\":false}");
    st = plugin_init_ok(f);
    if (st) {
        CU_ASSERT_EQUAL(build(st, f), AC_OK);
        json_object *b2 = body_json(f);
        CU_ASSERT_TRUE(json_object_get_boolean(tu_jget(b2, "response_format.json_schema.strict")));
        json_object_put(b2);
        g_prov->fini(st);
    }
    ac_fake_free(f);
}

/* A part type the protocol cannot carry is refused, naming the message. */
static void test_request_unsupported_part(void)
{
    ac_fake *f = fake("openai", KEY, NULL);
    ac_fake_add_message(f, AC_ROLE_USER, "x");
    ac_part odd = {.struct_size = sizeof odd, .type = AC_PART_TOOL_CALL, .id = "c",
                   .name = "f", .arguments = "{}"};
    ac_fake_add_part(f, &odd);
    void *st = plugin_init_ok(f);
    if (st) {
        CU_ASSERT_EQUAL(build(st, f), AC_EUNSUPPORTED);
        CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "user message"));
        g_prov->fini(st);
    }
    ac_fake_free(f);
}

static void test_request_tool_choice_words(void)
{
    static const char *const words[] = {"auto", "none", "required"};
    for (size_t i = 0; i < 3; i++) {
        ac_fake *f = fake("openai", KEY, NULL);
        ac_fake_add_message(f, AC_ROLE_USER, "x");
        ac_fake_add_tool(f, "f", NULL, "{\"type\":\"object\"}");
        ac_fake_request(f)->model = "m";
        ac_fake_request(f)->tool_choice = words[i];
        void *st = plugin_init_ok(f);
        if (st) {
            CU_ASSERT_EQUAL(build(st, f), AC_OK);
            json_object *b = body_json(f);
            TU_ASSERT_STR(tu_jstr(b, "tool_choice"), words[i]);
            json_object_put(b);
            g_prov->fini(st);
        }
        ac_fake_free(f);
    }
}

static void test_request_bad_schema(void)
{
    ac_fake *f = fake("openai", KEY, NULL);
    ac_fake_add_message(f, AC_ROLE_USER, "x");
    ac_fake_add_tool(f, "f", NULL, "[1,2]");
    void *st = plugin_init_ok(f);
    if (st) {
        CU_ASSERT_EQUAL(build(st, f), AC_EINVAL);
        CU_ASSERT_EQUAL(ac_fake_error(f)->stage, AC_STAGE_REQUEST);
        CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "'f'"));
        g_prov->fini(st);
    }
    ac_fake_free(f);

    f = fake("openai", KEY, NULL);
    ac_fake_add_message(f, AC_ROLE_USER, "x");
    ac_fake_request(f)->json_schema = "{not json";
    ac_fake_request(f)->json_schema_name = "S";
    st = plugin_init_ok(f);
    if (st) {
        CU_ASSERT_EQUAL(build(st, f), AC_EINVAL);
        g_prov->fini(st);
    }
    ac_fake_free(f);
}

static void test_models(void)
{
    ac_fake *f = fake("openai", KEY, NULL);
    void *st = plugin_init_ok(f);
    size_t len;
    if (!st) {
        ac_fake_free(f);
        return;
    }
    char *body = tu_fixture("llamacpp_models.json", &len);
    CU_ASSERT_EQUAL(g_prov->parse_models(st, body, len, ac_fake_models(f), ac_fake_call(f)),
                    AC_OK);
    CU_ASSERT_EQUAL(ac_fake_model_count(f), 1);
    TU_ASSERT_STR(ac_fake_model_id(f, 0), "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf");
    free(body);

    /* llama.cpp while loading: meta null; entries without an id skipped */
    static const char loading[] =
        "{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"meta\":null},"
        "{\"object\":\"model\"},null,{\"id\":\"b\",\"owned_by\":\"x\"}]}";
    ac_fake_reset(f);
    CU_ASSERT_EQUAL(g_prov->parse_models(st, loading, strlen(loading), ac_fake_models(f),
                                         ac_fake_call(f)), AC_OK);
    CU_ASSERT_EQUAL(ac_fake_model_count(f), 2);
    TU_ASSERT_STR(ac_fake_model_id(f, 0), "a");
    TU_ASSERT_STR(ac_fake_model_id(f, 1), "b");

    CU_ASSERT_EQUAL(g_prov->parse_models(st, "<html>", 6, ac_fake_models(f), ac_fake_call(f)),
                    AC_EJSON);
    CU_ASSERT_EQUAL(g_prov->parse_models(st, "{\"object\":\"list\"}", 17, ac_fake_models(f),
                                         ac_fake_call(f)), AC_EPROTOCOL);
    g_prov->fini(st);
    ac_fake_free(f);
}

/* A core-made HTTP error, refined by the plugin. */
static ac_error http_error(ac_fake *f, void *st, int status, const char *body)
{
    ac_fake_http_error(f, status);
    g_prov->parse_error(st, status, body, strlen(body), ac_fake_call(f));
    return *ac_fake_error(f);
}

static void test_parse_error_direct(void)
{
    static const char *const kv[] = {"api_key", "sk-secret-abcdef123456", NULL};
    ac_fake *f = fake("openai", kv, NULL);
    void *st = plugin_init_ok(f);
    if (!st) {
        ac_fake_free(f);
        return;
    }
    /* A proxy echoing our key: the host keeps it out of the message. */
    ac_error e = http_error(f, st, 401,
        "{\"error\":{\"message\":\"bad key sk-secret-abcdef123456 given\","
        "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
    CU_ASSERT_PTR_NULL(strstr(e.message, "sk-secret-abcdef123456"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "HTTP 401: bad key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "(invalid_api_key)"));

    /* A rate limit keeps the core's retry advice; a quota drops it. */
    e = http_error(f, st, 429,
        "{\"error\":{\"message\":\"slow down\",\"type\":\"requests\","
        "\"param\":null,\"code\":\"rate_limit_exceeded\"}}");
    CU_ASSERT_EQUAL(e.code, AC_EHTTP);
    CU_ASSERT_EQUAL(e.stage, AC_STAGE_HTTP);
    CU_ASSERT_EQUAL(e.http_status, 429);
    CU_ASSERT_EQUAL(e.retryable, 1);
    e = http_error(f, st, 429,
        "{\"error\":{\"message\":\"You exceeded your current quota, please "
        "check your plan and billing details.\",\"type\":\"insufficient_quota\","
        "\"param\":null,\"code\":\"insufficient_quota\"}}");
    CU_ASSERT_EQUAL(e.retryable, 0);
    TU_ASSERT_STR(e.message, "HTTP 429: You exceeded your current "
                             "quota, please check your plan and billing "
                             "details. (insufficient_quota)");

    /* An empty body keeps the core's message. */
    e = http_error(f, st, 503, "");
    TU_ASSERT_STR(e.message, "HTTP 503");

    /* A huge, binary, newline-ridden body gives one short printable line. */
    char big[4096];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)(i % 7 == 0 ? '\n' : (i % 11 == 0 ? '\xff' : 'a'));
    big[sizeof big - 1] = '\0';
    e = http_error(f, st, 500, big);
    CU_ASSERT_PTR_NULL(strchr(e.message, '\n'));
    CU_ASSERT(strlen(e.message) < 300);
    CU_ASSERT_EQUAL(strncmp(e.message, "HTTP 500: ", 10), 0);
    g_prov->fini(st);
    ac_fake_free(f);
}

/* Malformed events must fail cleanly or be ignored: never crash or leak
 * (run under valgrind). */
static void test_events_malformed(void)
{
    static const char *const events[] = {
        "{not json", "[1,2]", "\"text\"", "null", "", "   ",
        "{\"choices\":\"x\",\"usage\":\"y\",\"model\":5}",
        "{\"choices\":[null,7,{\"index\":\"0\"},{\"index\":0,\"delta\":\"x\"}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":5,"
        "\"tool_calls\":[3,null,{\"index\":-1},{\"index\":99999999999,"
        "\"function\":{\"name\":7,\"arguments\":5}},{\"function\":\"x\"}]},"
        "\"finish_reason\":4}],\"usage\":{\"prompt_tokens\":\"3\"}}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":{\"a\":[1]}}}]}}]}",
        "{\"error\":false,\"choices\":[]}",
        "{\"error\":null}",
        "{\"error\":{}}",
        "{\"error\":[1]}",
        "[DONE]",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"after done\"}}]}",
    };
    const size_t n_events = sizeof events / sizeof events[0];
    ac_fake *f = fake("openai", KEY, NULL);
    void *st = plugin_init_ok(f);
    if (!st) {
        ac_fake_free(f);
        return;
    }
    /* Each event alone in its own response, then all of them in one. */
    for (int pass = 0; pass < 2; pass++) {
        ac_fake_reset(f);
        for (size_t i = 0; i < n_events; i++) {
            ac_frame fr = {.data = events[i], .data_len = strlen(events[i])};
            ac_status rc = g_prov->parse_event(st, &fr, ac_fake_sink(f), ac_fake_call(f));
            CU_ASSERT(rc == AC_OK || rc == AC_EJSON || rc == AC_EPROTOCOL);
            if (rc != AC_OK)
                CU_ASSERT_NOT_EQUAL(ac_fake_error(f)->message[0], '\0');
            if (pass == 0) {
                g_prov->stream_free(st, *ac_fake_slot(f));
                ac_fake_reset(f);
            }
        }
        g_prov->stream_free(st, *ac_fake_slot(f));
        /* Nothing after [DONE] counts. */
        if (pass == 1)
            CU_ASSERT_PTR_NULL(strstr(ac_fake_text(f), "after done"));
    }
    /* Bodies too. */
    static const char *const bodies[] = {
        "", "{", "[]", "{\"choices\":[]}", "{\"choices\":[{\"index\":1}]}",
        "{\"choices\":[{\"message\":null,\"finish_reason\":null}]}",
        "{\"choices\":[{\"message\":{\"tool_calls\":[1,{\"function\":null},"
        "{\"function\":{\"name\":\"f\",\"arguments\":[1]}}]}}]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        ac_fake_reset(f);
        ac_status rc = g_prov->parse_response(st, 200, bodies[i], strlen(bodies[i]),
                                              ac_fake_sink(f), ac_fake_call(f));
        CU_ASSERT(rc == AC_OK || rc == AC_EJSON || rc == AC_EPROTOCOL);
    }
    g_prov->fini(st);
    ac_fake_free(f);
}

/* One init + request + streamed tool call + fini with the host's
 * allocations failing after n; the status of the first step that failed. */
static ac_status oom_scenario(long n)
{
    static const char *const events[] = {
        "{\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\","
        "\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"\"}},{\"index\":1,\"id\":\"d\",\"function\":{\"name\":"
        "\"g\",\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\"{}\"}},{\"index\":2,\"id\":\"e\","
        "\"function\":{\"name\":\"h\"}},{\"index\":3,\"id\":\"f\","
        "\"function\":{\"name\":\"i\"}},{\"index\":4,\"id\":\"g\","
        "\"function\":{\"name\":\"j\"}}]},\"finish_reason\":\"tool_calls\"}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
        "[DONE]",
    };
    static const char *const kv[] = {"api_key", "sk-test", "organization", "o",
                                     "project", "p", "default_model", "m", NULL};
    ac_fake *f = fake("openai", kv, NULL);
    ac_fake_add_message(f, AC_ROLE_USER, "x");
    ac_fake_request(f)->stream = 1;
    void *st = NULL;
    ac_fake_fail_after(f, n);
    ac_status rc = g_prov->init(ac_fake_settings(f), &st, ac_fake_call(f));
    if (rc != AC_OK) {
        CU_ASSERT_PTR_NULL(st);
        ac_fake_free(f);
        return rc;
    }
    rc = build(st, f);
    for (size_t i = 0; rc == AC_OK && i < sizeof events / sizeof events[0]; i++) {
        ac_frame fr = {.data = events[i], .data_len = strlen(events[i])};
        rc = g_prov->parse_event(st, &fr, ac_fake_sink(f), ac_fake_call(f));
    }
    g_prov->stream_free(st, *ac_fake_slot(f));
    g_prov->fini(st);
    ac_fake_free(f);
    return rc;
}

static void test_allocation_failures(void)
{
    /* Fail the 1st, 2nd, ... allocation until the scenario passes: each
     * must fail cleanly with AC_ENOMEM (valgrind checks for leaks). */
    long n;
    ac_status rc = AC_ENOMEM;
    for (n = 0; n < 300 && rc != AC_OK; n++) {
        rc = oom_scenario(n);
        if (rc != AC_OK && rc != AC_ENOMEM) {
            fprintf(stderr, "\n  allocation %ld failing gave %s\n", n, ac_strerror(rc));
            CU_FAIL("not AC_ENOMEM");
        }
    }
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT(n > 5);               /* the scenario does allocate */
}

/* ------------------------------------------------------------------ */
/* Suite "replay": recorded traffic through the real path               */
/* ------------------------------------------------------------------ */

static ac_core *g_core;
static ac_llm  *g_llm;

static int replay_suite_init(void)
{
    ac_error err;
    ac_options *opts = ac_options_new();
    if (!opts)
        return -1;
    g_core = tu_open_core(NULL);
    if (!g_core || ac_options_set(opts, "api_key", "sk-test") != AC_OK) {
        ac_options_free(opts);
        return -1;
    }
    g_llm = ac_llm_create(g_core, "openai", "gpt-4o", opts, &err);
    ac_options_free(opts);
    if (!g_llm) {
        fprintf(stderr, "ac_llm_create(openai): %s\n", err.message);
        return -1;
    }
    return 0;
}

static int replay_suite_clean(void)
{
    ac_llm_free(g_llm);
    ac_core_close(g_core);
    g_llm = NULL;
    g_core = NULL;
    return 0;
}

/* Replays on the openai llm, whose key must never show in an error. */
static void check_replay(const char *label, const char *bytes, size_t len,
                         ac_framing framing, int http_status, const ex_want *w)
{
    ex_check_replay(g_llm, "sk-test", label, bytes, len, framing,
                    http_status, w);
}

static void check_fixture(const char *name, ac_framing framing,
                          int http_status, const ex_want *w)
{
    ex_check_fixture(g_llm, "sk-test", name, framing, http_status, w);
}

#define GPT4O "gpt-4o-2024-08-06"

/* --- streams --------------------------------------------------------- */

static void test_stream_text(void)
{
    ex_want w = { .status = AC_OK,
        .content = "I'm unable to provide real-time weather updates. To get "
                   "the current weather in San Francisco, I recommend "
                   "checking a reliable weather website or a weather app.",
        .reasoning = "", .finish = "stop", .raw = "stop", .in = 14, .out = 30,
        .model = GPT4O };
    check_fixture("openai_chat_stream_text.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_tool_call(void)
{
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 44, .out = 16, .model = GPT4O,
        .n_calls = 1,
        .calls = { { "call_4XzlGBLtUe9dy3GVNV4jhq7h", "get_weather",
                     "{\"city\":\"New York City\"}" } } };
    check_fixture("openai_chat_stream_tool_call.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_length(void)
{
    ex_want w = { .status = AC_OK, .content = "{\"", .finish = "length",
        .raw = "length", .in = 79, .out = 1, .model = GPT4O };
    check_fixture("openai_chat_stream_length_max_tokens.sse", AC_FRAMING_SSE,
                  200, &w);
}

static void test_stream_n3_first_choice_only(void)
{
    ex_want w = { .status = AC_OK,
        .content = "{\"city\":\"San Francisco\",\"temperature\":65,\"units\":\"f\"}",
        .finish = "stop", .raw = "stop", .in = 79, .out = 42, .model = GPT4O };
    check_fixture("openai_chat_stream_n3_choices.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_refusal(void)
{
    /* The refusal is the text the user reads; flagged as content_filter. */
    ex_want w = { .status = AC_OK,
        .content = "I'm sorry, I can't assist with that request.",
        .finish = "content_filter", .raw = "stop", .in = 79, .out = 11,
        .model = GPT4O };
    check_fixture("openai_chat_stream_refusal.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_hf_router_usage_twice(void)
{
    /* usage 20/4 arrives on the finish chunk and again on choices:[]:
     * the last wins, nothing is added up. */
    ex_want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4,
        .model = "moonshotai/kimi-k2-instruct-0905" };
    check_fixture("hf_router_chat_stream_text.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_tgi_tool_call(void)
{
    /* id "0" and index 0 repeated on every delta, name null after the
     * first: one call.  The snapshot has no finish_reason chunk; [DONE]
     * ends it as tool_calls.  The backend gave no raw reason, so what the
     * core reports as raw is its business: not checked. */
    size_t len;
    char *sse = ex_chunks_to_sse("tgi_chat_stream_tool_call.chunks.json", 0,
                                 &len);
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = NULL, .in = -1, .out = -1,
        .model = "meta-llama/Llama-3.1-8B-Instruct", .n_calls = 1,
        .calls = { { "0", "get_current_weather",
                     "{\"location\":\"Brooklyn, NY\",\"format\":\"fahrenheit\"}" } } };
    check_replay("tgi_chat_stream_tool_call", sse, len, AC_FRAMING_SSE, 200,
                 &w);
    free(sse);
}

static void test_stream_tgi_usage(void)
{
    size_t len;
    char *sse = ex_chunks_to_sse("tgi_chat_stream_usage.chunks.json", 0, &len);
    ex_want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
        .raw = "stop", .in = 39, .out = 3,
        .model = "meta-llama/Llama-3.1-8B-Instruct" };
    check_replay("tgi_chat_stream_usage", sse, len, AC_FRAMING_SSE, 200, &w);
    free(sse);
}

static void test_stream_crlf(void)
{
    /* sse-starlette servers end lines with CRLF. */
    size_t len;
    char *lf = tu_fixture("openai_chat_stream_length_max_tokens.sse", &len);
    size_t n;
    char *crlf = tu_crlf(lf, len, &n);
    ex_want w = { .status = AC_OK, .content = "{\"", .finish = "length",
        .raw = "length", .in = 79, .out = 1, .model = GPT4O };
    check_replay("length stream with CRLF", crlf, n, AC_FRAMING_SSE, 200, &w);
    free(lf);
    free(crlf);
}

static void test_stream_truncated(void)
{
    /* Cut before the finish chunk: an error, with the text so far kept. */
    size_t len;
    char *b = tu_fixture("openai_chat_stream_length_max_tokens.sse", &len);
    char *cut = strstr(b, "\"finish_reason\":\"length\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
    while (cut > b && cut[-1] != '\n')
        cut--;
    ex_want w = { .status = AC_EPROTOCOL, .content = "{\"", .in = -1, .out = -1,
               .http_status = -1, .retryable = -1 };
    check_replay("truncated stream", b, (size_t)(cut - b), AC_FRAMING_SSE,
                 200, &w);
    free(b);
}

static void test_stream_errors_in_200(void)
{
    /* TGI: an error object with http_status_code, then [DONE]. */
    static const char tgi[] =
        "data: {\"id\":\"\",\"object\":\"chat.completion.chunk\",\"model\":\"tgi\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
        "data: {\"error\":{\"message\":\"Input validation error: too long\","
        "\"http_status_code\":422}}\n\n"
        "data: [DONE]\n\n";
    ex_want w1 = { .status = AC_EPROTOCOL, .content = "Hel", .in = -1,
        .out = -1, .http_status = 422, .retryable = 0,
        .msg = { "Input validation error: too long" } };
    check_replay("TGI error in stream", tgi, strlen(tgi), AC_FRAMING_SSE, 200,
                 &w1);

    /* vLLM: integer code. */
    static const char vllm[] =
        "data: {\"error\":{\"message\":\"bad request\",\"type\":"
        "\"BadRequestError\",\"param\":null,\"code\":400}}\n\n"
        "data: [DONE]\n\n";
    ex_want w2 = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = 400, .retryable = 0,
        .msg = { "bad request", "BadRequestError" } };
    check_replay("vLLM error in stream", vllm, strlen(vllm), AC_FRAMING_SSE,
                 200, &w2);

    /* Old llama.cpp: a non-standard "error:" line. */
    static const char llama[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
        "error: {\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}\n\n";
    ex_want w3 = { .status = AC_EPROTOCOL, .content = "Hi", .in = -1, .out = -1,
        .http_status = 500, .retryable = -1, .msg = { "boom" } };
    check_replay("llama.cpp error: line", llama, strlen(llama),
                 AC_FRAMING_SSE, 200, &w3);

    /* mlx-lm / TGI native: a string. */
    static const char str[] = "data: {\"error\":\"model crashed\"}\n\n";
    ex_want w4 = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = -1, .retryable = -1, .msg = { "model crashed" } };
    check_replay("string error in stream", str, strlen(str), AC_FRAMING_SSE,
                 200, &w4);
}

/* Regression: tool calls that share an index.  Ollama's OpenAI layer
 * sends every call of a streamed reply whole, each in its own chunk, all
 * with "index":0 (ollama#15457; still so for models without their own
 * parser, ollama#15497), and before 0.4.7 with no index at all
 * (ollama#7881).  Joining by index made one call of
 * '{"filePath":"hello.py"}{"filePath":"world.py"}', flagged truncated.
 * Hand-written bytes in the shape of Ollama's openai.go chunks (no
 * fixture holds such a stream). */
#define OLLAMA_CHUNK(calls)                                                 \
    "data: {\"id\":\"chatcmpl-42\",\"object\":\"chat.completion.chunk\","   \
    "\"created\":1775700000,\"model\":\"qwen2.5-coder:7b\","                \
    "\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":0,"       \
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["   \
    calls "]},\"finish_reason\":null}]}\n\n"
#define OLLAMA_END                                                          \
    "data: {\"id\":\"chatcmpl-42\",\"object\":\"chat.completion.chunk\","   \
    "\"created\":1775700000,\"model\":\"qwen2.5-coder:7b\","                \
    "\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":0,"       \
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"                  \
    "\"finish_reason\":\"tool_calls\"}]}\n\n"                               \
    "data: {\"id\":\"chatcmpl-42\",\"object\":\"chat.completion.chunk\","   \
    "\"created\":1775700000,\"model\":\"qwen2.5-coder:7b\","                \
    "\"system_fingerprint\":\"fp_ollama\",\"choices\":[],\"usage\":"        \
    "{\"prompt_tokens\":150,\"completion_tokens\":60,"                      \
    "\"total_tokens\":210}}\n\n"                                            \
    "data: [DONE]\n\n"

static void test_stream_tool_calls_sharing_an_index(void)
{
    static const char reused[] =
        OLLAMA_CHUNK("{\"id\":\"call_h1x7k2\",\"index\":0,\"type\":\"function\","
                     "\"function\":{\"name\":\"file_write\",\"arguments\":"
                     "\"{\\\"filePath\\\":\\\"hello.py\\\"}\"}}")
        OLLAMA_CHUNK("{\"id\":\"call_w9q3m0\",\"index\":0,\"type\":\"function\","
                     "\"function\":{\"name\":\"file_write\",\"arguments\":"
                     "\"{\\\"filePath\\\":\\\"world.py\\\"}\"}}")
        OLLAMA_END;
    static const char unindexed[] =
        OLLAMA_CHUNK("{\"id\":\"call_h1x7k2\",\"type\":\"function\","
                     "\"function\":{\"name\":\"file_write\",\"arguments\":"
                     "\"{\\\"filePath\\\":\\\"hello.py\\\"}\"}}")
        OLLAMA_CHUNK("{\"id\":\"call_w9q3m0\",\"type\":\"function\","
                     "\"function\":{\"name\":\"file_write\",\"arguments\":"
                     "\"{\\\"filePath\\\":\\\"world.py\\\"}\"}}")
        OLLAMA_END;
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 150, .out = 60,
        .model = "qwen2.5-coder:7b", .n_calls = 2,
        .calls = { { "call_h1x7k2", "file_write", "{\"filePath\":\"hello.py\"}" },
                   { "call_w9q3m0", "file_write", "{\"filePath\":\"world.py\"}" } } };
    check_replay("Ollama: every call at index 0", reused, strlen(reused),
                 AC_FRAMING_SSE, 200, &w);
    check_replay("old Ollama: calls without index", unindexed,
                 strlen(unindexed), AC_FRAMING_SSE, 200, &w);
    /* Each allocation of the new-call path failing in turn. */
    ex_check_replay_oom(g_llm, AC_FRAMING_SSE, reused, strlen(reused), 500);

    /* What must stay one call (constructed): OpenAI's fragments with the id
     * only on the first; a server that repeats id and name on the last
     * fragment (vLLM's finish chunk); one that sends another id without a
     * name (seen from a hosted API), or with a name but in the middle of
     * the arguments.  And two calls with their own index
     * stay two. */
    static const char one[] =
        OLLAMA_CHUNK("{\"index\":0,\"id\":\"call_a\",\"type\":\"function\","
                     "\"function\":{\"name\":\"file_write\",\"arguments\":\"\"}}")
        OLLAMA_CHUNK("{\"index\":0,\"function\":{\"arguments\":"
                     "\"{\\\"filePath\\\":\"}}")
        OLLAMA_CHUNK("{\"index\":0,\"id\":\"call_other\",\"function\":"
                     "{\"arguments\":\"\\\"hel\"}}")
        OLLAMA_CHUNK("{\"index\":0,\"id\":\"call_x2\",\"function\":"
                     "{\"name\":\"file_write\",\"arguments\":\"lo\"}}")
        OLLAMA_CHUNK("{\"index\":0,\"id\":\"call_a\",\"type\":\"function\","
                     "\"function\":{\"name\":\"file_write\",\"arguments\":"
                     "\".py\\\"}\"}}")
        OLLAMA_CHUNK("{\"index\":1,\"id\":\"call_b\",\"type\":\"function\","
                     "\"function\":{\"name\":\"file_write\",\"arguments\":\"\"}}")
        OLLAMA_CHUNK("{\"index\":1,\"function\":{\"arguments\":"
                     "\"{\\\"filePath\\\":\\\"world.py\\\"}\"}}")
        OLLAMA_END;
    ex_want w1 = w;
    w1.calls[0].id = "call_a";
    w1.calls[1].id = "call_b";
    check_replay("fragments at one index stay one call", one, strlen(one),
                 AC_FRAMING_SSE, 200, &w1);
}
#undef OLLAMA_CHUNK
#undef OLLAMA_END

static void test_stream_bad_json(void)
{
    static const char bad[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\n\n";
    ex_want w = { .status = AC_EJSON, .content = "A", .in = -1, .out = -1,
               .http_status = -1, .retryable = -1 };
    check_replay("broken JSON event", bad, strlen(bad), AC_FRAMING_SSE, 200,
                 &w);
}

static void test_sse_edge_cases(void)
{
    /* Framing vectors from openai-python: valid JSON that is not a chunk,
     * so no text and no finish (a truncated stream) -- but never a JSON
     * or framing error, which would mean the event was cut wrong. */
    static const char *const names[] = {
        "sse_edge_cases/escaped_newlines_in_json.sse",
        "sse_edge_cases/multiline_data_with_empty_data_lines.sse",
        "sse_edge_cases/utf8_split_across_reads.sse",
    };
    for (size_t i = 0; i < 3; i++) {
        ex_want w = { .status = AC_EPROTOCOL, .content = "", .in = -1,
                      .out = -1, .http_status = -1, .retryable = -1 };
        check_fixture(names[i], AC_FRAMING_SSE, 200, &w);
    }
}

/* --- whole bodies ---------------------------------------------------- */

static void test_response_text(void)
{
    ex_want w = { .status = AC_OK,
        .content = "I'm unable to provide real-time weather updates. To get "
                   "the current weather in San Francisco, I recommend "
                   "checking a reliable weather website or app like the "
                   "Weather Channel or a local news station.",
        .reasoning = "", .finish = "stop", .raw = "stop", .in = 14, .out = 37,
        .model = GPT4O };
    check_fixture("openai_chat_response_text.json", AC_FRAMING_NONE, 200, &w);
}

static void test_response_parallel_tool_calls(void)
{
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 149, .out = 60, .model = GPT4O,
        .n_calls = 2,
        .calls = {
            { "call_fdNz3vOBKYgOIpMdWotB9MjY", "GetWeatherArgs",
              "{\"city\":\"Edinburgh\",\"country\":\"GB\",\"units\":\"c\"}" },
            { "call_h1DWI1POMJLb0KwIyQHWXD4p", "get_stock_price",
              "{\"ticker\":\"AAPL\",\"exchange\":\"NASDAQ\"}" } } };
    check_fixture("openai_chat_response_parallel_tool_calls.json",
                  AC_FRAMING_NONE, 200, &w);
}

static void test_response_length(void)
{
    ex_want w = { .status = AC_OK, .content = "{\"", .finish = "length",
        .raw = "length", .in = 79, .out = 1, .model = GPT4O };
    check_fixture("openai_chat_response_length.json", AC_FRAMING_NONE, 200, &w);
}

static void test_response_json_schema(void)
{
    ex_want w = { .status = AC_OK,
        .content = "{\"city\":\"San Francisco\",\"temperature\":65,\"units\":\"f\"}",
        .finish = "stop", .raw = "stop", .in = 79, .out = 14, .model = GPT4O };
    check_fixture("openai_chat_response_json_schema.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_response_refusal(void)
{
    ex_want w = { .status = AC_OK,
        .content = "I'm very sorry, but I can't assist with that.",
        .finish = "content_filter", .raw = "stop", .in = 79, .out = 12,
        .model = GPT4O };
    check_fixture("openai_chat_response_refusal.json", AC_FRAMING_NONE, 200,
                  &w);
}

static void test_response_lmstudio_tool_call(void)
{
    /* No content key at all next to tool_calls. */
    ex_want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 263, .out = 34,
        .model = "lmstudio-community/qwen2.5-7b-instruct", .n_calls = 1,
        .calls = { { "365174485", "search_products",
                     "{\"query\":\"dell\",\"category\":\"electronics\","
                     "\"max_price\":50}" } } };
    check_fixture("lmstudio_chat_response_tool_call.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_response_llamacpp_reasoning(void)
{
    ex_want w = { .status = AC_OK, .content = "Ol\xc3\xa1!",
        .reasoning = "The user says: \"Say hi in Portuguese\". So answer: "
                     "\"Ol\xc3\xa1\" or \"Oi\". Likely \"Ol\xc3\xa1\". Probably "
                     "a friendly greeting. Just respond with that.",
        .finish = "stop", .raw = "stop", .in = 84, .out = 47,
        .model = "openai/gpt-oss-20b" };
    check_fixture("llamacpp_chat_text.response.json", AC_FRAMING_NONE, 200,
                  &w);
}

static void test_response_hf_router(void)
{
    ex_want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4,
        .model = "moonshotai/kimi-k2-instruct-0905" };
    check_fixture("hf_router_chat_text.response.json", AC_FRAMING_NONE, 200,
                  &w);
}

/* --- errors ---------------------------------------------------------- */

static void test_error_openai_401(void)
{
    /* The server's own masked key is its text; ours never appears. */
    ex_want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Incorrect API key provided: sk-PMafP",
                 "(invalid_api_key)" } };
    check_fixture("openai_error_401_invalid_api_key.json", AC_FRAMING_NONE,
                  401, &w);
}

static void test_error_openai_429(void)
{
    ex_want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 1,
        .msg = { "HTTP 429: Rate limit reached for gpt-4",
                 "(rate_limit_exceeded)" } };
    check_fixture("openai_error_429_rate_limit.json", AC_FRAMING_NONE, 429,
                  &w);
}

static void test_error_llamacpp_401(void)
{
    ex_want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Invalid API Key (authentication_error)" } };
    check_fixture("llamacpp_error_401.json", AC_FRAMING_NONE, 401, &w);
}

static void test_error_shapes(void)
{
    static const char quota[] =
        "{\"error\":{\"message\":\"You exceeded your current quota.\","
        "\"type\":\"insufficient_quota\",\"param\":null,"
        "\"code\":\"insufficient_quota\"}}";
    ex_want w1 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 0,
        .msg = { "You exceeded your current quota.", "insufficient_quota" } };
    check_replay("insufficient_quota", quota, strlen(quota), AC_FRAMING_NONE,
                 429, &w1);

    static const char vllm[] = "{\"error\":\"Unauthorized\"}";
    ex_want w2 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Unauthorized" } };
    check_replay("vLLM 401", vllm, strlen(vllm), AC_FRAMING_NONE, 401, &w2);

    static const char tgi[] =
        "{\"error\":\"Input validation error: `inputs` must have less than "
        "4096 tokens\",\"error_type\":\"validation\"}";
    ex_want w3 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 422, .retryable = 0,
        .msg = { "HTTP 422: Input validation error", "(validation)" } };
    check_replay("TGI 422", tgi, strlen(tgi), AC_FRAMING_NONE, 422, &w3);

    static const char old_vllm[] =
        "{\"object\":\"error\",\"message\":\"The model `x` does not exist.\","
        "\"type\":\"NotFoundError\",\"param\":null,\"code\":404}";
    ex_want w4 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0,
        .msg = { "HTTP 404: The model `x` does not exist." } };
    check_replay("old vLLM 404", old_vllm, strlen(old_vllm), AC_FRAMING_NONE,
                 404, &w4);

    static const char html[] =
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
    ex_want w5 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 502, .retryable = 1,
        .msg = { "HTTP 502: ", "502 Bad Gateway" } };
    check_replay("proxy HTML 502", html, strlen(html), AC_FRAMING_NONE, 502,
                 &w5);
}

static void test_error_in_200_body(void)
{
    static const char body[] =
        "{\"error\":{\"message\":\"Loading model\",\"code\":503,"
        "\"type\":\"unavailable_error\"}}";
    ex_want w = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = 503, .retryable = -1, .msg = { "Loading model" } };
    check_replay("error in a 200 body", body, strlen(body), AC_FRAMING_NONE,
                 200, &w);
}

/* --- out of memory through the real host ------------------------------ */

static void test_replay_allocation_failures(void)
{
    /* The core's allocator fails at each allocation in turn while a
     * tool-call stream is replayed. */
    size_t len;
    char *bytes = tu_fixture("openai_chat_stream_tool_call.sse", &len);
    ex_check_replay_oom(g_llm, AC_FRAMING_SSE, bytes, len, 500);
    free(bytes);
}

/* ------------------------------------------------------------------ */
/* Suite "mock": the public API against the mock server                 */
/* ------------------------------------------------------------------ */

static mu_env g_menv;       /* the mock and a core; no llm */

static const char mock_script[] =
    "reply = \"Hello from the mock.\";\n"
    "chunks = 5;\n"
    "usage = [12, 5];\n"
    "scenarios = (\n"
    "  { model = \"tools\"; tool_calls = ( { id = \"call_1\"; name = \"get_weather\";\n"
    "      arguments = \"{\\\"city\\\":\\\"Paris\\\"}\"; } ); },\n"
    "  { model = \"tgi\"; quirk = \"tgi\"; tool_calls = ( { name = \"get_weather\";\n"
    "      arguments = \"{\\\"city\\\":\\\"Rome\\\"}\"; } ); },\n"
    "  { model = \"mlx\"; quirk = \"mlx\"; tool_calls = ( { name = \"a\"; arguments = \"{}\"; },\n"
    "      { name = \"b\"; arguments = \"{\\\"x\\\":[1,2]}\"; } ); },\n"
    "  { model = \"lmstudio\"; quirk = \"lmstudio\"; tool_calls = ( { id = \"365174485\";\n"
    "      name = \"search_products\"; arguments = \"{\\\"query\\\":\\\"dell\\\"}\"; } ); },\n"
    "  { model = \"unauthorized\"; status = 401; error_message = \"Invalid API Key\";\n"
    "      error_type = \"authentication_error\"; },\n"
    "  { model = \"midstream\"; stream_error = \"the model crashed\"; }\n"
    ");\n";

static int mock_suite_init(void)
{
    return mu_start_plain(&g_menv, mock_script);
}

static int mock_suite_clean(void)
{
    mu_stop(&g_menv);
    return 0;
}

/* An llm on the openai plugin pointed at the mock. */
static ac_llm *mock_llm(const char *model)
{
    char url[256];
    ac_error err;
    ac_options *o = ac_options_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    snprintf(url, sizeof url, "%s/v1", mock_server_url(g_menv.mock));
    CU_ASSERT_EQUAL(ac_options_set(o, "base_url", url), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "api_key", "sk-mock-key-123"), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "max_retries", "0"), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "organization", "org-mock"), AC_OK);
    ac_llm *llm = ac_llm_create(g_menv.core, "openai", model, o, &err);
    ac_options_free(o);
    if (!llm)
        fprintf(stderr, "\n  ac_llm_create: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    return llm;
}

static json_object *mock_last_body(void)
{
    json_object *o = mu_last_body(g_menv.mock);
    CU_ASSERT_PTR_NOT_NULL(o);
    return o;
}

static void mock_check_header(const char *name, const char *want_value)
{
    char *v = mock_server_last_header(g_menv.mock, name);
    TU_ASSERT_STR(v, want_value);
    free(v);
}

static void test_mock_generate(void)
{
    ac_llm *llm = mock_llm("gpt-4o");
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 64);
    ac_gen_params_set_temperature(p, 0.2);
    ac_gen_params_set_system(p, "Be brief.");
    ac_response *r = ac_generate(llm, "Say hello", p, &err);
    if (!r)
        fprintf(stderr, "\n  ac_generate: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r) {
        TU_ASSERT_STR(ac_response_content(r), "Hello from the mock.");
        TU_ASSERT_STR(ac_response_finish_reason(r), "stop");
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 12);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 5);
        CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    }
    mock_check_header("Authorization", "Bearer sk-mock-key-123");
    mock_check_header("OpenAI-Organization", "org-mock");
    json_object *b = mock_last_body();
    TU_ASSERT_STR(tu_jstr(b, "model"), "gpt-4o");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.role"), "system");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content"), "Be brief.");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.role"), "user");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content"), "Say hello");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "max_completion_tokens")),
                    64);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(tu_jget(b, "temperature")),
                           0.2, 1e-12);
    CU_ASSERT_FALSE(tu_jhas(b, "stream"));
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_stream(void)
{
    ac_llm *llm = mock_llm("gpt-4o");
    ac_response *r;
    ac_error err;
    ex_seen s;
    memset(&s, 0, sizeof s);
    ac_status st = ex_read_stream(llm, NULL, &s, &r, &err);
    CU_ASSERT_EQUAL(st, AC_OK);
    if (st != AC_OK)
        fprintf(stderr, "\n  stream: %s\n", err.message);
    TU_ASSERT_STR(s.text, "Hello from the mock.");
    CU_ASSERT(s.n_text > 1);        /* it really streamed */
    CU_ASSERT_EQUAL(s.n_usage, 1);
    CU_ASSERT_EQUAL(s.n_finish, 1);
    if (r) {
        TU_ASSERT_STR(ac_response_content(r), "Hello from the mock.");
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 12);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 5);
    }
    json_object *b = mock_last_body();
    CU_ASSERT_TRUE(json_object_get_boolean(tu_jget(b, "stream")));
    CU_ASSERT_TRUE(json_object_get_boolean(
        tu_jget(b, "stream_options.include_usage")));
    json_object_put(b);
    mock_check_header("Accept", "text/event-stream");
    ac_response_free(r);
    ac_llm_free(llm);
}

/* A tool-call reply from `model`, streamed or not. */
static void mock_tool_case(const char *model, int stream, size_t n_calls,
                           const ex_call *calls)
{
    ac_llm *llm = mock_llm(model);
    ac_gen_params *p = ac_gen_params_new();
    ac_response *r = NULL;
    ac_error err;
    ex_seen s;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "get_weather", "Weather",
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}"),
        AC_OK);
    memset(&s, 0, sizeof s);
    if (stream) {
        CU_ASSERT_EQUAL(ex_read_stream(llm, p, &s, &r, &err), AC_OK);
    } else {
        r = ac_generate(llm, "Weather?", p, &err);
        if (!r)
            fprintf(stderr, "\n  %s: %s\n", model, err.message);
    }
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r) {
        TU_ASSERT_STR(ac_response_finish_reason(r), "tool_calls");
        CU_ASSERT(ex_check_long(model, (size_t)stream, "tool calls",
                                (long)ac_response_tool_call_count(r),
                                (long)n_calls));
        for (size_t i = 0; i < n_calls && i < ac_response_tool_call_count(r);
             i++) {
            if (calls[i].id)
                TU_ASSERT_STR(ac_response_tool_call_id(r, i), calls[i].id);
            TU_ASSERT_STR(ac_response_tool_call_name(r, i), calls[i].name);
            CU_ASSERT_TRUE(tu_json_text_equal(
                ac_response_tool_call_arguments(r, i), calls[i].args));
        }
    }
    json_object *b = mock_last_body();
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.name"), "get_weather");
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_tool_calls(void)
{
    const ex_call paris[] = { { "call_1", "get_weather",
                                  "{\"city\":\"Paris\"}" } };
    const ex_call rome[] = { { NULL, "get_weather", "{\"city\":\"Rome\"}" } };
    const ex_call two[] = { { NULL, "a", "{}" },
                              { NULL, "b", "{\"x\":[1,2]}" } };
    const ex_call dell[] = { { "365174485", "search_products",
                                 "{\"query\":\"dell\"}" } };
    for (int stream = 0; stream < 2; stream++) {
        mock_tool_case("tools", stream, 1, paris);
        mock_tool_case("tgi", stream, 1, rome);
        mock_tool_case("mlx", stream, 2, two);
        mock_tool_case("lmstudio", stream, 1, dell);
    }
}

static void test_mock_errors(void)
{
    ac_llm *llm = mock_llm("unauthorized");
    ac_error err;
    memset(&err, 0, sizeof err);
    ac_response *r = ac_generate(llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 401);
    CU_ASSERT_EQUAL(err.retryable, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Invalid API Key"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "sk-mock-key-123"));
    ac_response_free(r);
    ac_llm_free(llm);

    /* An error inside a 200 stream: the text before it is kept. */
    llm = mock_llm("midstream");
    ex_seen s;
    memset(&s, 0, sizeof s);
    memset(&err, 0, sizeof err);
    ac_status st = ex_read_stream(llm, NULL, &s, &r, &err);
    CU_ASSERT_EQUAL(st, AC_EPROTOCOL);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "the model crashed"));
    CU_ASSERT_EQUAL(s.n_error, 1);
    if (r)
        TU_ASSERT_STR(ac_response_content(r), s.text);
    ac_response_free(r);
    ac_llm_free(llm);
}

static void test_mock_models(void)
{
    ac_llm *llm = mock_llm("gpt-4o");
    ac_error err;
    ac_models *m = ac_list_models(llm, &err);
    CU_ASSERT_PTR_NOT_NULL(m);
    if (!m)
        fprintf(stderr, "\n  ac_list_models: %s\n", err.message);
    int found = 0;
    for (size_t i = 0; m && i < ac_models_count(m); i++)
        if (strcmp(ac_models_id(m, i), "tools") == 0)
            found = 1;
    CU_ASSERT_TRUE(found);
    mock_check_header("Authorization", "Bearer sk-mock-key-123");
    ac_models_free(m);
    ac_llm_free(llm);
}

/* ------------------------------------------------------------------ */

static const tu_test plugin_tests[] = {
    { "descriptor", test_descriptor },
    { "init needs a key at api.openai.com", test_init_needs_key_at_openai },
    { "init reads OPENAI_API_KEY", test_init_key_from_default_env },
    { "init fails on an unset api_key_env", test_init_unset_key_env_fails },
    { "init refuses a setting of the wrong type", test_init_wrong_type },
    { "init refuses a key with a newline", test_init_key_with_newline_refused },
    { "request without a key", test_request_without_key },
    { "request body, every field", test_request_full_body },
    { "tool_choice words", test_request_tool_choice_words },
    { "a part the protocol cannot carry", test_request_unsupported_part },
    { "bad tool or JSON schema", test_request_bad_schema },
    { "models", test_models },
    { "parse_error direct", test_parse_error_direct },
    { "malformed events and bodies", test_events_malformed },
    { "allocation failures", test_allocation_failures },
};

static const tu_test mock_tests[] = {
    { "generate", test_mock_generate },
    { "stream", test_mock_stream },
    { "tool calls (openai, tgi, mlx, lmstudio)", test_mock_tool_calls },
    { "errors", test_mock_errors },
    { "models", test_mock_models },
};

static const tu_test replay_tests[] = {
    { "stream: text", test_stream_text },
    { "stream: tool call", test_stream_tool_call },
    { "stream: length", test_stream_length },
    { "stream: n=3 keeps choice 0", test_stream_n3_first_choice_only },
    { "stream: refusal", test_stream_refusal },
    { "stream: HF router usage twice", test_stream_hf_router_usage_twice },
    { "stream: TGI tool call", test_stream_tgi_tool_call },
    { "stream: TGI usage", test_stream_tgi_usage },
    { "stream: CRLF", test_stream_crlf },
    { "stream: truncated", test_stream_truncated },
    { "stream: errors inside a 200 stream", test_stream_errors_in_200 },
    { "stream: tool calls sharing an index (Ollama)",
      test_stream_tool_calls_sharing_an_index },
    { "stream: broken JSON", test_stream_bad_json },
    { "stream: SSE edge cases", test_sse_edge_cases },
    { "body: text", test_response_text },
    { "body: parallel tool calls", test_response_parallel_tool_calls },
    { "body: length", test_response_length },
    { "body: json schema", test_response_json_schema },
    { "body: refusal", test_response_refusal },
    { "body: LM Studio tool call", test_response_lmstudio_tool_call },
    { "body: llama.cpp reasoning", test_response_llamacpp_reasoning },
    { "body: HF router", test_response_hf_router },
    { "error: OpenAI 401", test_error_openai_401 },
    { "error: OpenAI 429", test_error_openai_429 },
    { "error: llama.cpp 401", test_error_llamacpp_401 },
    { "error: other shapes", test_error_shapes },
    { "error: in a 200 body", test_error_in_200_body },
    { "allocation failures", test_replay_allocation_failures },
};

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    /* Order matters: see the top of the file. */
    if (TU_ADD_SUITE("plugin", plugin_suite_init, plugin_suite_clean,
                     plugin_tests) ||
        TU_ADD_SUITE("replay", replay_suite_init, replay_suite_clean,
                     replay_tests) ||
        TU_ADD_SUITE("mock", mock_suite_init, mock_suite_clean, mock_tests))
        return 2;
    return tu_run_suites();
}
