/*
 * test_gateway.c -- the gateway (acore serve, server/) over HTTP, as a
 * client sees it, against the mock server: the OpenAI and Anthropic
 * endpoints streamed and not, tools, images, structured output, the
 * parameters reaching the backend, model routing and aliases, errors in
 * each API's shape naming the field, upstream failures mapped to
 * statuses, authentication, allow-lists and rates, size and count
 * limits, /v1/models, /health, /ready, /metrics, the access log, a
 * client that leaves (the backend sees the cancel), a slow client (the
 * backend is paused, not buffered), and the graceful stop.
 *
 * The gateway runs in-process (tests/gwutil.c), so valgrind sees it.
 */
#include "gwutil.h"
#include "mockutil.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"echo\"; echo = true; chunks = 3; usage = [5, 3]; },\n"
    "  { model = \"tools\"; reply = \"\"; tool_calls = ( { id = \"call_1\"; name = \"get_weather\";"
    "      arguments = \"{\\\"city\\\": \\\"Paris\\\"}\"; } ); after_tool_result = \"It is sunny.\"; },\n"
    "  { model = \"two\"; reply = \"\"; tool_calls = ( { id = \"c1\"; name = \"a\"; arguments = \"{\\\"x\\\": 1}\"; },"
    "      { id = \"c2\"; name = \"b\"; arguments = \"{\\\"y\\\": 2}\"; } ); },\n"
    "  { model = \"json\"; reply = \"{\\\"name\\\": \\\"Ada\\\", \\\"age\\\": 36}\"; chunks = 4; },\n"
    "  { model = \"hang\"; reply = \"first\"; chunks = 1; hang = true; },\n"
    "  { model = \"big\"; reply_len = 4000000; chunks = 4000; },\n"
    "  { model = \"e429\"; status = 429; retry_after = \"7\"; },\n"
    "  { model = \"e500\"; status = 500; },\n"
    "  { model = \"e401\"; status = 401; },\n"
    "  { model = \"midfail\"; chunks = 4; stream_error = \"Overloaded\"; },\n"
    "  { model = \"slow\"; reply = \"0123456789\"; chunks = 10; delay_ms = 100; },\n"
    "  { model = \"emb\"; embedding_dim = 16; }\n"
    ");\n";

/* A 2 x 2 PNG, 73 bytes. */
#define PNG_B64                                                            \
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5Er" \
    "kJggg=="

static gw_env E; /* the shared gateway of the suites without a config of their own */

static int shared_up(void) { return gwu_start(&E, SCRIPT, "aliases = [ \"fast=mock/echo\" ];"); }
static int shared_down(void)
{
    gwu_stop(&E);
    return 0;
}

static gw_resp post(gw_env *e, const char *path, const char *body)
{
    return gwu_req(e, "POST", path, body, NULL);
}

/* ------------------------------------------------------------------ */
/* OpenAI                                                              */
/* ------------------------------------------------------------------ */

static void test_oa_chat(void)
{
    gw_resp r = post(&E, "/v1/chat/completions",
                     "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"system\",\"content\":\"Be "
                     "brief.\"},{\"role\":\"user\",\"content\":\"Hello there\"}],\"max_tokens\":50,"
                     "\"temperature\":0.5,\"top_p\":0.9,\"seed\":7,\"stop\":[\"END\"]}");
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *j = gwu_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    TU_ASSERT_STR(tu_jstr(j, "object"), "chat.completion");
    TU_ASSERT_STR(tu_jstr(j, "model"), "mock/echo");
    TU_ASSERT_STR(tu_jstr(j, "choices.0.message.role"), "assistant");
    TU_ASSERT_STR(tu_jstr(j, "choices.0.message.content"), "Hello there");
    TU_ASSERT_STR(tu_jstr(j, "choices.0.finish_reason"), "stop");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "usage.prompt_tokens")), 5);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "usage.completion_tokens")), 3);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "usage.total_tokens")), 8);
    const char *id = tu_jstr(j, "id");
    CU_ASSERT(id && strncmp(id, "chatcmpl-", 9) == 0);
    char *rid = gwu_header(&r, "x-request-id");
    TU_ASSERT_STR(rid, id ? id : "");
    free(rid);
    json_object_put(j);
    gwu_free(&r);
    /* Every parameter reached the backend, under the backend's model name. */
    char *b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "model"), "echo");
    TU_ASSERT_STR(tu_jstr(j, "messages.0.role"), "system");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "max_tokens")) +
                        json_object_get_int(tu_jget(j, "max_completion_tokens")), 50);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(tu_jget(j, "temperature")), 0.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(tu_jget(j, "top_p")), 0.9, 1e-9);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "seed")), 7);
    TU_ASSERT_STR(tu_jstr(j, "stop.0"), "END");
    json_object_put(j);
    /* The upstream key never shows, not even in the gateway's answer. */
    char *auth = mock_server_last_header(E.mock, "authorization");
    TU_ASSERT_STR(auth, "Bearer sk-UPSTREAM-secret-0123");
    free(auth);
}

static void test_oa_stream_with_usage(void)
{
    gw_resp r = post(&E, "/v1/chat/completions",
                     "{\"model\":\"fast\",\"stream\":true,\"stream_options\":{\"include_usage\":"
                     "true},\"messages\":[{\"role\":\"user\",\"content\":\"one two three\"}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    char *ct = gwu_header(&r, "content-type");
    CU_ASSERT(ct && strncmp(ct, "text/event-stream", 17) == 0);
    free(ct);
    json_object *ev[32];
    int done;
    size_t n = gwu_sse(&r, ev, NULL, 32, &done);
    CU_ASSERT(done);
    CU_ASSERT_FATAL(n >= 5);
    /* role first; the content in pieces; the finish; then the usage. */
    TU_ASSERT_STR(tu_jstr(ev[0], "choices.0.delta.role"), "assistant");
    char text[256] = "";
    size_t pieces = 0;
    for (size_t i = 1; i + 2 < n; i++) {
        const char *t = tu_jstr(ev[i], "choices.0.delta.content");
        if (t) {
            strcat(text, t);
            pieces++;
        }
    }
    CU_ASSERT_STRING_EQUAL(text, "one two three");
    CU_ASSERT(pieces >= 2);
    TU_ASSERT_STR(tu_jstr(ev[n - 2], "choices.0.finish_reason"), "stop");
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(ev[n - 1], "choices")), 0);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(ev[n - 1], "usage.total_tokens")), 8);
    TU_ASSERT_STR(tu_jstr(ev[n - 1], "model"), "fast");
    for (size_t i = 0; i < n; i++)
        json_object_put(ev[i]);
    gwu_free(&r);

    /* Without include_usage: no usage chunk. */
    r = post(&E, "/v1/chat/completions", "{\"model\":\"mock/echo\",\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    n = gwu_sse(&r, ev, NULL, 32, &done);
    CU_ASSERT(done);
    CU_ASSERT_FATAL(n >= 2);
    TU_ASSERT_STR(tu_jstr(ev[n - 1], "choices.0.finish_reason"), "stop");
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_FALSE(tu_jhas(ev[i], "usage"));
        json_object_put(ev[i]);
    }
    gwu_free(&r);
}

static void test_oa_tools(void)
{
    const char *body =
        "{\"model\":\"mock/tools\",%s\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
        "\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
        "\"string\"}}}}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\"}}}";
    char text[1024];
    snprintf(text, sizeof text, body, "");
    gw_resp r = post(&E, "/v1/chat/completions", text);
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "choices.0.finish_reason"), "tool_calls");
    CU_ASSERT_TRUE(tu_jhas(j, "choices.0.message.content")); /* null */
    CU_ASSERT_PTR_NULL(tu_jstr(j, "choices.0.message.content"));
    TU_ASSERT_STR(tu_jstr(j, "choices.0.message.tool_calls.0.id"), "call_1");
    TU_ASSERT_STR(tu_jstr(j, "choices.0.message.tool_calls.0.type"), "function");
    TU_ASSERT_STR(tu_jstr(j, "choices.0.message.tool_calls.0.function.name"), "get_weather");
    CU_ASSERT(tu_json_text_equal(tu_jstr(j, "choices.0.message.tool_calls.0.function.arguments"),
                                 "{\"city\":\"Paris\"}"));
    json_object_put(j);
    gwu_free(&r);
    /* The tools and the choice reached the backend. */
    char *b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "tools.0.function.name"), "get_weather");
    TU_ASSERT_STR(tu_jstr(j, "tool_choice.function.name"), "get_weather");
    json_object_put(j);

    /* Streamed: the call's start with id and name, then its arguments. */
    snprintf(text, sizeof text, body, "\"stream\":true,");
    r = post(&E, "/v1/chat/completions", text);
    json_object *ev[64];
    int done;
    size_t n = gwu_sse(&r, ev, NULL, 64, &done);
    CU_ASSERT(done);
    char args[256] = "";
    int started = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *tc = tu_jget(ev[i], "choices.0.delta.tool_calls.0");
        if (tc) {
            CU_ASSERT_EQUAL(json_object_get_int(tu_jget(tc, "index")), 0);
            if (tu_jstr(tc, "id")) {
                TU_ASSERT_STR(tu_jstr(tc, "id"), "call_1");
                TU_ASSERT_STR(tu_jstr(tc, "function.name"), "get_weather");
                started++;
            }
            const char *a = tu_jstr(tc, "function.arguments");
            if (a)
                strcat(args, a);
        }
    }
    CU_ASSERT_EQUAL(started, 1);
    CU_ASSERT(tu_json_text_equal(args, "{\"city\":\"Paris\"}"));
    TU_ASSERT_STR(tu_jstr(ev[n - 1], "choices.0.finish_reason"), "tool_calls");
    for (size_t i = 0; i < n; i++)
        json_object_put(ev[i]);
    gwu_free(&r);

    /* The conversation goes on with the call and its result. */
    r = post(&E, "/v1/chat/completions",
             "{\"model\":\"mock/tools\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
             "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
             "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
             "\\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
             "\"22 C\"}]}");
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "choices.0.message.content"), "It is sunny.");
    json_object_put(j);
    gwu_free(&r);
    b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "messages.1.tool_calls.0.id"), "call_1");
    TU_ASSERT_STR(tu_jstr(j, "messages.2.role"), "tool");
    TU_ASSERT_STR(tu_jstr(j, "messages.2.tool_call_id"), "call_1");
    TU_ASSERT_STR(tu_jstr(j, "messages.2.content"), "22 C");
    json_object_put(j);
}

static void test_oa_images(void)
{
    gw_resp r = post(&E, "/v1/chat/completions",
                     "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":["
                     "{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":\"image_url\","
                     "\"image_url\":{\"url\":\"data:image/png;base64," PNG_B64 "\",\"detail\":"
                     "\"low\"}}]}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    gwu_free(&r);
    size_t sizes[2];
    CU_ASSERT_EQUAL(mock_server_last_images(E.mock, sizes, 2), 1);
    CU_ASSERT_EQUAL(sizes[0], 73); /* small: sent byte for byte */
    r = post(&E, "/v1/chat/completions",
             "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
             "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,@@@@\"}}]}]}");
    CU_ASSERT_EQUAL(r.status, 400);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "error.param"), "messages[0].content[0].image_url.url");
    json_object_put(j);
    gwu_free(&r);
}

static void test_oa_structured(void)
{
    const char *fmt =
        "{\"model\":\"mock/json\",%s\"messages\":[{\"role\":\"user\",\"content\":\"Who?\"}],"
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\","
        "\"schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"age\":"
        "{\"type\":\"integer\"}},\"required\":[\"name\",\"age\"]}}}}";
    char text[1024];
    snprintf(text, sizeof text, fmt, "");
    gw_resp r = post(&E, "/v1/chat/completions", text);
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *j = gwu_json(&r);
    CU_ASSERT(tu_json_text_equal(tu_jstr(j, "choices.0.message.content"),
                                 "{\"name\":\"Ada\",\"age\":36}"));
    json_object_put(j);
    gwu_free(&r);
    char *b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "response_format.type"), "json_schema");
    json_object_put(j);
    /* Streamed: the validated document, once, as the content. */
    snprintf(text, sizeof text, fmt, "\"stream\":true,");
    r = post(&E, "/v1/chat/completions", text);
    json_object *ev[32];
    int done;
    size_t n = gwu_sse(&r, ev, NULL, 32, &done);
    CU_ASSERT(done);
    int contents = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = tu_jstr(ev[i], "choices.0.delta.content");
        if (t && *t) {
            contents++;
            CU_ASSERT(tu_json_text_equal(t, "{\"name\":\"Ada\",\"age\":36}"));
        }
        json_object_put(ev[i]);
    }
    CU_ASSERT_EQUAL(contents, 1);
    gwu_free(&r);
    /* A schema the validator refuses is the client's 400. */
    r = post(&E, "/v1/chat/completions",
             "{\"model\":\"mock/json\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
             "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\","
             "\"schema\":{\"type\":\"object\",\"minProperties\":\"two\"}}}}");
    CU_ASSERT_EQUAL(r.status, 400);
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "error.param"), "response_format.json_schema.schema");
    json_object_put(j);
    gwu_free(&r);
}

static void test_routing(void)
{
    /* A provider alone: its default model. */
    gw_resp r = post(&E, "/v1/chat/completions",
                     "{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    gwu_free(&r);
    char *b = mock_server_last_body(E.mock);
    json_object *j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "model"), "gpt-4o-mini"); /* the openai plugin's default */
    json_object_put(j);
    /* A model name with slashes of its own. */
    r = post(&E, "/v1/chat/completions",
             "{\"model\":\"mock/org/model-7b\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    gwu_free(&r);
    b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "model"), "org/model-7b");
    json_object_put(j);
    /* Unknown providers, plugins not configured, and nonsense: 404,
     * OpenAI's shape. */
    static const char *const bad[] = {"nosuch/model", "openai/gpt-4o", "echo", "mock/", "/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}]}", bad[i]);
        r = post(&E, "/v1/chat/completions", body);
        CU_ASSERT_EQUAL(r.status, 404);
        j = gwu_json(&r);
        TU_ASSERT_STR(tu_jstr(j, "error.code"), "model_not_found");
        TU_ASSERT_STR(tu_jstr(j, "error.type"), "invalid_request_error");
        TU_ASSERT_STR(tu_jstr(j, "error.param"), "model");
        json_object_put(j);
        gwu_free(&r);
    }
}

/* ------------------------------------------------------------------ */
/* Anthropic                                                           */
/* ------------------------------------------------------------------ */

static void test_an_messages(void)
{
    gw_resp r = post(&E, "/v1/messages",
                     "{\"model\":\"anth/echo\",\"max_tokens\":64,\"system\":\"Be brief.\","
                     "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                     "\"Hi Claude\"}]}],\"stop_sequences\":[\"END\"]}");
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "type"), "message");
    TU_ASSERT_STR(tu_jstr(j, "role"), "assistant");
    TU_ASSERT_STR(tu_jstr(j, "content.0.type"), "text");
    TU_ASSERT_STR(tu_jstr(j, "content.0.text"), "Hi Claude");
    TU_ASSERT_STR(tu_jstr(j, "stop_reason"), "end_turn");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "usage.input_tokens")), 5);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "usage.output_tokens")), 3);
    CU_ASSERT(tu_jstr(j, "id") && strncmp(tu_jstr(j, "id"), "msg_", 4) == 0);
    json_object_put(j);
    gwu_free(&r);
    char *b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "system"), "Be brief.");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "max_tokens")), 64);
    TU_ASSERT_STR(tu_jstr(j, "stop_sequences.0"), "END");
    json_object_put(j);
    /* The same providers through either API: Anthropic clients reach the
     * OpenAI backend too. */
    r = post(&E, "/v1/messages", "{\"model\":\"mock/echo\",\"max_tokens\":64,\"messages\":"
             "[{\"role\":\"user\",\"content\":\"via openai\"}]}");
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "content.0.text"), "via openai");
    json_object_put(j);
    gwu_free(&r);
}

static void test_an_stream(void)
{
    gw_resp r = post(&E, "/v1/messages", "{\"model\":\"anth/echo\",\"max_tokens\":64,\"stream\":"
                     "true,\"messages\":[{\"role\":\"user\",\"content\":\"a b c d\"}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *ev[32];
    char *names[32];
    int done;
    size_t n = gwu_sse(&r, ev, names, 32, &done);
    CU_ASSERT_FATAL(n >= 6);
    CU_ASSERT_STRING_EQUAL(names[0], "message_start");
    CU_ASSERT_STRING_EQUAL(names[1], "content_block_start");
    TU_ASSERT_STR(tu_jstr(ev[1], "content_block.type"), "text");
    char text[128] = "";
    for (size_t i = 2; i < n; i++)
        if (strcmp(names[i], "content_block_delta") == 0) {
            TU_ASSERT_STR(tu_jstr(ev[i], "delta.type"), "text_delta");
            strcat(text, tu_jstr(ev[i], "delta.text") ? tu_jstr(ev[i], "delta.text") : "");
        }
    CU_ASSERT_STRING_EQUAL(text, "a b c d");
    CU_ASSERT_STRING_EQUAL(names[n - 3], "content_block_stop");
    CU_ASSERT_STRING_EQUAL(names[n - 2], "message_delta");
    TU_ASSERT_STR(tu_jstr(ev[n - 2], "delta.stop_reason"), "end_turn");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(ev[n - 2], "usage.output_tokens")), 3);
    CU_ASSERT_STRING_EQUAL(names[n - 1], "message_stop");
    for (size_t i = 0; i < n; i++) {
        json_object_put(ev[i]);
        free(names[i]);
    }
    gwu_free(&r);
}

static void test_an_tools(void)
{
    const char *fmt = "{\"model\":\"%s\",\"max_tokens\":64,%s\"messages\":[{\"role\":\"user\","
                      "\"content\":\"Weather?\"}],\"tools\":[{\"name\":\"get_weather\","
                      "\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"any\"}}";
    char text[1024];
    snprintf(text, sizeof text, fmt, "anth/tools", "");
    gw_resp r = post(&E, "/v1/messages", text);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "stop_reason"), "tool_use");
    TU_ASSERT_STR(tu_jstr(j, "content.0.type"), "tool_use");
    TU_ASSERT_STR(tu_jstr(j, "content.0.id"), "call_1");
    TU_ASSERT_STR(tu_jstr(j, "content.0.name"), "get_weather");
    TU_ASSERT_STR(tu_jstr(j, "content.0.input.city"), "Paris");
    json_object_put(j);
    gwu_free(&r);
    char *b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "tool_choice.type"), "any");
    json_object_put(j);

    /* Two calls streamed from an OpenAI backend: each its own block. */
    snprintf(text, sizeof text, fmt, "mock/two", "\"stream\":true,");
    r = post(&E, "/v1/messages", text);
    json_object *ev[64];
    char *names[64];
    int done;
    size_t n = gwu_sse(&r, ev, names, 64, &done);
    int blocks = 0;
    char args[2][64] = {"", ""};
    int cur = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "content_block_start") == 0 &&
            strcmp(tu_jstr(ev[i], "content_block.type"), "tool_use") == 0) {
            cur = json_object_get_int(tu_jget(ev[i], "index"));
            TU_ASSERT_STR(tu_jstr(ev[i], "content_block.name"), blocks == 0 ? "a" : "b");
            TU_ASSERT_STR(tu_jstr(ev[i], "content_block.id"), blocks == 0 ? "c1" : "c2");
            blocks++;
        }
        if (strcmp(names[i], "content_block_delta") == 0 && cur >= 0 && cur < 2 &&
            tu_jstr(ev[i], "delta.partial_json"))
            strcat(args[cur], tu_jstr(ev[i], "delta.partial_json"));
    }
    CU_ASSERT_EQUAL(blocks, 2);
    CU_ASSERT(tu_json_text_equal(args[0], "{\"x\":1}"));
    CU_ASSERT(tu_json_text_equal(args[1], "{\"y\":2}"));
    TU_ASSERT_STR(tu_jstr(ev[n - 2], "delta.stop_reason"), "tool_use");
    for (size_t i = 0; i < n; i++) {
        json_object_put(ev[i]);
        free(names[i]);
    }
    gwu_free(&r);

    /* tool_use and tool_result in the history. */
    r = post(&E, "/v1/messages",
             "{\"model\":\"mock/tools\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Weather?\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
             "\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":"
             "\"Paris\"}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
             "\"tool_use_id\":\"call_1\",\"content\":\"22 C\"}]}]}");
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "content.0.text"), "It is sunny.");
    json_object_put(j);
    gwu_free(&r);
    b = mock_server_last_body(E.mock);
    j = json_tokener_parse(b);
    free(b);
    TU_ASSERT_STR(tu_jstr(j, "messages.2.role"), "tool");
    TU_ASSERT_STR(tu_jstr(j, "messages.2.content"), "22 C");
    json_object_put(j);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

typedef struct bad_case {
    const char *body, *param;
    int         status;
} bad_case;

static void test_oa_bad_requests(void)
{
    static const bad_case cases[] = {
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\"", "", 400},
        {"[1,2]", "", 400},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model", 400},
        {"{\"model\":7,\"messages\":[]}", "model", 400},
        {"{\"model\":\"mock/echo\"}", "messages", 400},
        {"{\"model\":\"mock/echo\",\"messages\":{}}", "messages", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[]}", "messages", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[7]}", "messages[0]", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"content\":\"x\"}]}", "messages[0].role", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}",
         "messages[0].role", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":true}]}",
         "messages[0].content", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
         "\"text\",\"text\":1}]}]}", "messages[0].content[0].text", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
         "\"input_audio\"}]}]}", "messages[0].content[0].type", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
         "messages[0].tool_call_id", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
         "\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
         "messages[0].tool_calls[0].function.arguments", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"temperature\":\"hot\"}", "temperature", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"temperature\":3}", "temperature", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"max_tokens\":0}", "max_tokens", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"max_completion_tokens\":1.5}", "max_completion_tokens", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"stream\":\"yes\"}", "stream", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"stop\":[1]}", "stop[0]", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"n\":2}", "n", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"bad name\"}}]}",
         "tools[0].function.name", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"tool_choice\":\"sometimes\"}", "tool_choice", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"response_format\":{\"type\":\"xml\"}}", "response_format.type", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"stream_options\":{\"include_usage\":1}}", "stream_options.include_usage", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}",
         "messages[0].content", 400},
        {"{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"\xC3\x28\"}]}",
         "", 400},

    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_resp r = post(&E, "/v1/chat/completions", cases[i].body);
        json_object *j = gwu_json(&r);
        int ok = r.status == cases[i].status && j && tu_jstr(j, "error.message") &&
                 strcmp(tu_jstr(j, "error.type") ? tu_jstr(j, "error.type") : "",
                        "invalid_request_error") == 0 &&
                 (*cases[i].param ? tu_jstr(j, "error.param") &&
                                        strcmp(tu_jstr(j, "error.param"), cases[i].param) == 0
                                  : tu_jhas(j, "error.param") && !tu_jstr(j, "error.param"));
        if (!ok)
            fprintf(stderr, "\n  case %zu: %ld %s\n", i, r.status, r.body);
        CU_ASSERT_TRUE(ok);
        json_object_put(j);
        gwu_free(&r);
    }
}

static void test_an_bad_requests(void)
{
    static const bad_case cases[] = {
        {"{\"model\":\"anth/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "max_tokens", 400},
        {"{\"model\":\"anth/echo\",\"max_tokens\":5,\"messages\":[{\"role\":\"system\","
         "\"content\":\"x\"}]}", "messages.0.role", 400},
        {"{\"model\":\"anth/echo\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
         "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
         "\"image/png\"}}]}]}", "messages.0.content.0.source.data", 400},
        {"{\"model\":\"anth/echo\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
         "\"content\":[{\"type\":\"document\"}]}]}", "messages.0.content.0", 400},
        {"{\"model\":\"anth/echo\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
         "\"content\":\"x\"}],\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"w\"}]}",
         "tools.0.type", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_resp r = post(&E, "/v1/messages", cases[i].body);
        json_object *j = gwu_json(&r);
        const char *msg = tu_jstr(j, "error.message");
        int ok = r.status == cases[i].status && tu_jstr(j, "type") &&
                 strcmp(tu_jstr(j, "type"), "error") == 0 && tu_jstr(j, "error.type") &&
                 strcmp(tu_jstr(j, "error.type"), "invalid_request_error") == 0 && msg &&
                 strncmp(msg, cases[i].param, strlen(cases[i].param)) == 0;
        if (!ok)
            fprintf(stderr, "\n  case %zu: %ld %s\n", i, r.status, r.body);
        CU_ASSERT_TRUE(ok);
        json_object_put(j);
        gwu_free(&r);
    }
    /* A model the gateway does not serve, in Anthropic's shape. */
    gw_resp r = post(&E, "/v1/messages", "{\"model\":\"nosuch/x\",\"max_tokens\":5,\"messages\":"
                     "[{\"role\":\"user\",\"content\":\"x\"}]}");
    CU_ASSERT_EQUAL(r.status, 404);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "error.type"), "not_found_error");
    json_object_put(j);
    gwu_free(&r);
}

static void test_upstream_errors(void)
{
    /* The backend's 429 is the client's 429, with its Retry-After. */
    gw_resp r = post(&E, "/v1/chat/completions", "{\"model\":\"mock/e429\",\"messages\":"
                     "[{\"role\":\"user\",\"content\":\"x\"}]}");
    CU_ASSERT_EQUAL(r.status, 429);
    char *ra = gwu_header(&r, "retry-after");
    TU_ASSERT_STR(ra, "7");
    free(ra);
    gwu_free(&r);
    /* A backend's 500, or our key refused there: a bad gateway, and never
     * the upstream key in the message. */
    static const char *const models[] = {"mock/e500", "mock/e401", "anth/e500"};
    for (size_t i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"model\":\"%s\",\"stream\":true,\"messages\":"
                 "[{\"role\":\"user\",\"content\":\"x\"}]}", models[i]);
        r = post(&E, "/v1/chat/completions", body);
        if (r.status != 502)
            fprintf(stderr, "\n  %s: %ld %s\n", models[i], r.status, r.body);
        CU_ASSERT_EQUAL(r.status, 502);
        json_object *j = gwu_json(&r);
        TU_ASSERT_STR(tu_jstr(j, "error.type"), "upstream_error");
        CU_ASSERT_PTR_NULL(strstr(r.body, "UPSTREAM-secret"));
        json_object_put(j);
        gwu_free(&r);
    }
    /* An error after the stream began: the in-stream error, then [DONE]. */
    r = post(&E, "/v1/chat/completions", "{\"model\":\"mock/midfail\",\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *ev[32];
    int done;
    size_t n = gwu_sse(&r, ev, NULL, 32, &done);
    CU_ASSERT(done);
    CU_ASSERT_FATAL(n >= 2);
    CU_ASSERT_PTR_NOT_NULL(tu_jstr(ev[n - 1], "error.message"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tu_jstr(ev[n - 1], "error.message") ?
                                  tu_jstr(ev[n - 1], "error.message") : "", "Overloaded"));
    for (size_t i = 0; i < n; i++)
        json_object_put(ev[i]);
    gwu_free(&r);
    r = post(&E, "/v1/messages", "{\"model\":\"mock/midfail\",\"max_tokens\":9,\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    char *names[32];
    n = gwu_sse(&r, ev, names, 32, &done);
    CU_ASSERT_FATAL(n >= 2);
    CU_ASSERT_STRING_EQUAL(names[n - 1], "error");
    TU_ASSERT_STR(tu_jstr(ev[n - 1], "type"), "error");
    for (size_t i = 0; i < n; i++) {
        json_object_put(ev[i]);
        free(names[i]);
    }
    gwu_free(&r);
}

static void test_urls_and_methods(void)
{
    gw_resp r = gwu_req(&E, "GET", "/v1/nothing", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 404);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "error.code"), "unknown_url");
    json_object_put(j);
    gwu_free(&r);
    r = gwu_req(&E, "GET", "/v1/chat/completions", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 405);
    gwu_free(&r);
    r = gwu_req(&E, "GET", "/health", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(r.body, "{\"status\":\"ok\"}");
    gwu_free(&r);
    r = gwu_req(&E, "GET", "/ready", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "status"), "ready");
    TU_ASSERT_STR(tu_jstr(j, "providers.mock"), "ready");
    TU_ASSERT_STR(tu_jstr(j, "providers.anth"), "ready");
    json_object_put(j);
    gwu_free(&r);
}

static void test_embeddings(void)
{
    gw_resp r = post(&E, "/v1/embeddings", "{\"model\":\"mock/emb\",\"input\":[\"hello there\","
                     "\"world\"]}");
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "object"), "list");
    TU_ASSERT_STR(tu_jstr(j, "model"), "mock/emb");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(j, "usage.prompt_tokens")), 3);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(j, "data")), 2);
    static const char *const texts[] = {"hello there", "world"};
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "data.%d", i);
        json_object *d = tu_jget(j, path);
        CU_ASSERT_EQUAL(json_object_get_int(tu_jget(d, "index")), i);
        json_object *v = tu_jget(d, "embedding");
        CU_ASSERT_EQUAL_FATAL(json_object_array_length(v), 16);
        float want[16];
        mock_embedding(texts[i], strlen(texts[i]), 0, 16, want);
        for (size_t k = 0; k < 16; k++)
            CU_ASSERT_EQUAL((float)json_object_get_double(json_object_array_get_idx(v, k)),
                            want[k]);
    }
    json_object_put(j);
    gwu_free(&r);
    /* Shorter vectors, as base64 float32. */
    r = post(&E, "/v1/embeddings", "{\"model\":\"mock/emb\",\"input\":\"world\",\"dimensions\":8,"
             "\"encoding_format\":\"base64\"}");
    CU_ASSERT_EQUAL(r.status, 200);
    j = gwu_json(&r);
    const char *b64 = tu_jstr(j, "data.0.embedding");
    CU_ASSERT(b64 && strlen(b64) == 44); /* 32 bytes */
    json_object_put(j);
    gwu_free(&r);
    /* Checked like the rest; a provider that cannot embed says so. */
    r = post(&E, "/v1/embeddings", "{\"model\":\"mock/emb\",\"input\":[\"a\",3]}");
    CU_ASSERT_EQUAL(r.status, 400);
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "error.param"), "input[1]");
    json_object_put(j);
    gwu_free(&r);
    r = post(&E, "/v1/embeddings", "{\"model\":\"mock/emb\",\"input\":\"\"}");
    CU_ASSERT_EQUAL(r.status, 400);
    gwu_free(&r);
    r = post(&E, "/v1/embeddings", "{\"model\":\"anth/emb\",\"input\":\"x\"}");
    CU_ASSERT_EQUAL(r.status, 400);
    j = gwu_json(&r);
    CU_ASSERT_PTR_NOT_NULL(tu_jstr(j, "error.message"));
    json_object_put(j);
    gwu_free(&r);
}

static void test_models(void)
{
    size_t before = mock_server_request_count(E.mock);
    gw_resp r = gwu_req(&E, "GET", "/v1/models", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "object"), "list");
    json_object *data = tu_jget(j, "data");
    int saw_mock = 0, saw_anth = 0, saw_alias = 0;
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        const char *id = json_object_get_string(tu_jget(json_object_array_get_idx(data, i), "id"));
        saw_mock += strcmp(id, "mock/echo") == 0;
        saw_anth += strcmp(id, "anth/echo") == 0;
        saw_alias += strcmp(id, "fast") == 0;
    }
    CU_ASSERT_EQUAL(saw_mock, 1);
    CU_ASSERT_EQUAL(saw_anth, 1);
    CU_ASSERT_EQUAL(saw_alias, 1);
    json_object_put(j);
    gwu_free(&r);
    /* Both providers were asked (concurrently), once: the next answers
     * come from the cache. */
    CU_ASSERT_EQUAL(mock_server_request_count(E.mock), before + 2);
    r = gwu_req(&E, "GET", "/v1/models", NULL,
                (const char *const[]){"anthropic-version: 2023-06-01", NULL});
    j = gwu_json(&r);
    CU_ASSERT_PTR_NOT_NULL(tu_jget(j, "has_more"));
    TU_ASSERT_STR(tu_jstr(j, "data.0.type"), "model");
    json_object_put(j);
    gwu_free(&r);
    r = gwu_req(&E, "GET", "/v1/models/mock/echo", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "id"), "mock/echo");
    TU_ASSERT_STR(tu_jstr(j, "owned_by"), "mock");
    json_object_put(j);
    gwu_free(&r);
    r = gwu_req(&E, "GET", "/v1/models/mock/nothing", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 404);
    gwu_free(&r);
    CU_ASSERT_EQUAL(mock_server_request_count(E.mock), before + 2);
}

static void test_metrics(void)
{
    gw_resp r = post(&E, "/v1/chat/completions", "{\"model\":\"mock/echo\",\"messages\":"
                     "[{\"role\":\"user\",\"content\":\"count me\"}]}");
    gwu_free(&r);
    r = post(&E, "/v1/chat/completions", "{\"model\":\"no/such\",\"messages\":"
             "[{\"role\":\"user\",\"content\":\"x\"}]}");
    gwu_free(&r);
    r = gwu_req(&E, "GET", "/metrics", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    char *ct = gwu_header(&r, "content-type");
    CU_ASSERT(ct && strstr(ct, "version=0.0.4"));
    free(ct);
    static const char *const want[] = {
        "# TYPE acore_gateway_requests_total counter",
        "acore_gateway_requests_total{endpoint=\"chat_completions\",status=\"200\"} ",
        "acore_gateway_requests_total{endpoint=\"chat_completions\",status=\"404\"} ",
        "acore_gateway_request_duration_seconds_bucket{endpoint=\"chat_completions\",le=\"+Inf\"} ",
        "acore_gateway_requests_in_flight 1\n", /* this request */
        "acore_upstream_requests_total{provider=\"mock\",model=\"echo\"} ",
        "acore_upstream_tokens_total{provider=\"mock\",model=\"echo\",direction=\"input\"} ",
        "acore_upstream_errors_total{provider=\"mock\",model=\"e429\",error=\"AC_EHTTP\"} 1\n",
        "acore_upstream_in_flight{provider=\"mock\",model=\"echo\"} 0\n",
        "acore_upstream_time_to_first_token_seconds_count{provider=\"mock\",model=\"echo\"} ",
        "# TYPE acore_upstream_request_duration_seconds histogram",
        "process_resident_memory_bytes ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int ok = strstr(r.body, want[i]) != NULL;
        if (!ok)
            fprintf(stderr, "\n  /metrics lacks: %s", want[i]);
        CU_ASSERT_TRUE(ok);
    }
    gwu_free(&r);
}

/* ------------------------------------------------------------------ */
/* Clients that leave, clients that are slow                           */
/* ------------------------------------------------------------------ */

static size_t abort_on_data(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n == 0 ? 0 : 0; /* any byte: stop, as a client that leaves */
}

static void test_disconnect_cancels_upstream(void)
{
    size_t before = mock_server_disconnects(E.mock);
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", E.base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"model\":\"mock/hang\",\"stream\":true,"
                     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, abort_on_data);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CU_ASSERT_EQUAL(curl_easy_perform(c), CURLE_WRITE_ERROR);
    curl_easy_cleanup(c);
    /* The backend sees the close of its connection at once. */
    CU_ASSERT_TRUE(mu_wait_disconnects(E.mock, before + 1, 5000));
    CU_ASSERT_TRUE(gwu_wait_metric(&E, "acore_upstream_in_flight{provider=\"mock\","
                                        "model=\"hang\"} 0", 5000));
    /* The same while the client waits for the first byte (parked). */
    before = mock_server_disconnects(E.mock);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port(E.g))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    const char *body = "{\"model\":\"mock/hang\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    char req[512];
    int n = snprintf(req, sizeof req, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    CU_ASSERT_EQUAL(write(s, req, (size_t)n), n);
    CU_ASSERT_TRUE(gwu_wait_metric(&E, "acore_upstream_in_flight{provider=\"mock\","
                                        "model=\"hang\"} 1", 5000));
    close(s);
    CU_ASSERT_TRUE(mu_wait_disconnects(E.mock, before + 1, 5000));
    CU_ASSERT_TRUE(gwu_wait_metric(&E, "acore_upstream_in_flight{provider=\"mock\","
                                        "model=\"hang\"} 0", 5000));
}

static void test_slow_client_pauses_upstream(void)
{
    /* A client that reads nothing: the gateway holds at most a bounded
     * buffer for it and pauses the backend; then it reads everything. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port(E.g))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    const char *body = "{\"model\":\"mock/big\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"x\"}]}";
    char req[512];
    int n = snprintf(req, sizeof req, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    CU_ASSERT_EQUAL(write(s, req, (size_t)n), n);
    CU_ASSERT_TRUE(gwu_wait_metric(&E, "acore_gateway_streams_paused 1", 10000));
    /* Now read it all: every content byte arrives and the stream ends. */
    size_t total = 0, content = 0;
    char buf[65536];
    char *tail = calloc(1, 64);
    for (;;) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t k = read(s, buf, sizeof buf);
        if (k <= 0)
            break;
        total += (size_t)k;
        /* 4,000,000 filler bytes travel as "content" strings. */
        for (ssize_t i = 0; i < k; i++)
            content += buf[i] != '\0';
        memmove(tail, tail + (k >= 63 ? 63 : k), (size_t)(63 - (k >= 63 ? 63 : k)));
        memcpy(tail + 63 - (k >= 63 ? 63 : k), buf + k - (k >= 63 ? 63 : k),
               (size_t)(k >= 63 ? 63 : k));
        if (strstr(tail, "data: [DONE]\n\n"))
            break;
    }
    CU_ASSERT(total > 4000000);
    CU_ASSERT_PTR_NOT_NULL(strstr(tail, "data: [DONE]"));
    free(tail);
    close(s);
    CU_ASSERT_TRUE(gwu_wait_metric(&E, "acore_gateway_streams_paused 0", 5000));
}

/* ------------------------------------------------------------------ */
/* Keys, rates, limits                                                 */
/* ------------------------------------------------------------------ */

static const char *CHAT_BODY =
    "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static gw_resp chat_as(gw_env *e, const char *model, const char *header)
{
    char body[256];
    snprintf(body, sizeof body, CHAT_BODY, model);
    return gwu_req(e, "POST", "/v1/chat/completions", body,
                   header ? (const char *const[]){header, NULL} : NULL);
}

static void expect_status(gw_resp r, long status, const char *code)
{
    json_object *j = gwu_json(&r);
    int ok = r.status == status && (!code || (tu_jstr(j, "error.code") &&
                                              strcmp(tu_jstr(j, "error.code"), code) == 0));
    if (!ok)
        fprintf(stderr, "\n  want %ld %s, got %ld %s\n", status, code ? code : "", r.status,
                r.body);
    CU_ASSERT_TRUE(ok);
    json_object_put(j);
    gwu_free(&r);
}

static void test_keys_rates_allow_lists(void)
{
    gw_env e;
    char *log = tu_write_temp("");
    char server[1024];
    snprintf(server, sizeof server,
             "access_log = \"%s\";\n"
             "keys = ( { id = \"alice\"; key = \"sk-alice-0123456789\"; },\n"
             "         { id = \"bob\"; key = \"sk-bob-0123456789\"; providers = [ \"anth\" ]; "
             "rpm = 2; } );", log);
    CU_ASSERT_EQUAL_FATAL(gwu_start(&e, SCRIPT, server), 0);
    /* No key, a wrong one, a prefix of one, one too long: 401. */
    gw_resp r = chat_as(&e, "mock/echo", NULL);
    char *www = gwu_header(&r, "www-authenticate");
    TU_ASSERT_STR(www, "Bearer");
    free(www);
    expect_status(r, 401, "invalid_api_key");
    expect_status(chat_as(&e, "mock/echo", "Authorization: Bearer sk-alice-0123456780"), 401,
                  "invalid_api_key");
    expect_status(chat_as(&e, "mock/echo", "Authorization: Bearer sk-alice"), 401, NULL);
    expect_status(chat_as(&e, "mock/echo", "Authorization: Bearer sk-alice-01234567890"), 401,
                  NULL);
    expect_status(chat_as(&e, "mock/echo", "Authorization: Basic sk-alice-0123456789"), 401, NULL);
    /* Either header works. */
    expect_status(chat_as(&e, "mock/echo", "Authorization: Bearer sk-alice-0123456789"), 200, NULL);
    expect_status(chat_as(&e, "mock/echo", "x-api-key: sk-alice-0123456789"), 200, NULL);
    /* bob: anth only, two a minute. */
    expect_status(chat_as(&e, "mock/echo", "x-api-key: sk-bob-0123456789"), 403,
                  "provider_not_allowed");
    expect_status(chat_as(&e, "anth/echo", "x-api-key: sk-bob-0123456789"), 200, NULL);
    expect_status(chat_as(&e, "anth/echo", "x-api-key: sk-bob-0123456789"), 200, NULL);
    r = chat_as(&e, "anth/echo", "x-api-key: sk-bob-0123456789");
    char *ra = gwu_header(&r, "retry-after");
    CU_ASSERT(ra && atoi(ra) >= 1 && atoi(ra) <= 30);
    free(ra);
    expect_status(r, 429, "rate_limit_exceeded");
    /* bob's models: anth's only. */
    r = gwu_req(&e, "GET", "/v1/models", NULL,
                (const char *const[]){"Authorization: Bearer sk-bob-0123456789", NULL});
    json_object *j = gwu_json(&r);
    json_object *data = tu_jget(j, "data");
    CU_ASSERT(json_object_array_length(data) > 0);
    for (size_t i = 0; i < json_object_array_length(data); i++)
        TU_ASSERT_STR(tu_jstr(json_object_array_get_idx(data, i), "owned_by"), "anth");
    json_object_put(j);
    gwu_free(&r);
    /* Health and metrics need no key. */
    r = gwu_req(&e, "GET", "/metrics", NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "acore_gateway_rate_limited_total{key=\"bob\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "acore_gateway_auth_failures_total 5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "acore_gateway_key_requests_total{key=\"alice\"} 2\n"));
    CU_ASSERT_PTR_NULL(strstr(r.body, "sk-"));
    gwu_free(&r);
    gwu_stop(&e);
    /* The access log: one line a request, ids not keys. */
    char *text = tu_read_file(log, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, " key=alice \"POST /v1/chat/completions\" status=200 "
                                        "provider=mock model=echo stream=0 in=5 out=3 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, " key=bob \"POST /v1/chat/completions\" status=429 "
                                        "provider=anth model=echo "));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, " key=- \"POST /v1/chat/completions\" status=401 "));
    CU_ASSERT_PTR_NULL(strstr(text, "sk-"));
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    if (lines != 12)
        fprintf(stderr, "\n%s", text);
    CU_ASSERT_EQUAL(lines, 12); /* 11 chats and the models; not /metrics */
    free(text);
    unlink(log);
    free(log);
}

/* The gateway has accepted n connections: each answers nothing but is
 * open.  (/metrics cannot tell: asking would take a connection.)  Seen
 * from here as n sockets of ours that the peer has accepted: a request
 * written on a spare connection cannot be used either, so wait on the
 * gateway's own count. */
static int conns_at(void *arg)
{
    gw_env *e = arg;
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(e->g->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di && di->num_connections >= 3;
}

static int gwu_wait_metric_conns(gw_env *e, unsigned n)
{
    (void)n;
    return tu_wait_until(conns_at, e, 5000);
}

static void test_limits(void)
{
    gw_env e;
    CU_ASSERT_EQUAL_FATAL(gwu_start(&e, SCRIPT, "max_request_bytes = 2048; max_header_bytes = 2048;"
                                                " max_messages = 3; max_connections = 3;"), 0);
    /* A body announced larger than the limit: 413, unread. */
    char *big = malloc(4096);
    memset(big, 'a', 4095);
    big[4095] = '\0';
    memcpy(big, "{\"model\":\"", 10);
    gw_resp r = post(&e, "/v1/chat/completions", big);
    CU_ASSERT_EQUAL(r.status, 413);
    json_object *j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "error.code"), "request_too_large");
    json_object_put(j);
    gwu_free(&r);
    /* Too many headers: refused by the HTTP layer. */
    char hdr[3000] = "X-Filler: ";
    memset(hdr + 10, 'h', sizeof hdr - 11);
    hdr[sizeof hdr - 1] = '\0';
    r = gwu_req(&e, "GET", "/health", NULL, (const char *const[]){hdr, NULL});
    CU_ASSERT_EQUAL(r.status, 431);
    json_object *jh = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(jh, "error.code"), "request_header_too_large");
    json_object_put(jh);
    gwu_free(&r);
    /* Past libmicrohttpd's pool: refused by it, never a crash. */
    char *huge = malloc(40000);
    memset(huge, 'h', 39999);
    huge[39999] = '\0';
    memcpy(huge, "X-Huge: ", 8);
    r = gwu_req(&e, "GET", "/health", NULL, (const char *const[]){huge, NULL});
    CU_ASSERT_EQUAL(r.status, 431);
    gwu_free(&r);
    free(huge);
    gwu_free(&r);
    free(big);
    /* Too many messages. */
    r = post(&e, "/v1/chat/completions", "{\"model\":\"mock/echo\",\"messages\":["
             "{\"role\":\"user\",\"content\":\"1\"},{\"role\":\"user\",\"content\":\"2\"},"
             "{\"role\":\"user\",\"content\":\"3\"},{\"role\":\"user\",\"content\":\"4\"}]}");
    CU_ASSERT_EQUAL(r.status, 400);
    j = gwu_json(&r);
    TU_ASSERT_STR(tu_jstr(j, "error.param"), "messages");
    TU_ASSERT_STR(tu_jstr(j, "error.code"), "array_above_max_length");
    json_object_put(j);
    gwu_free(&r);
    /* Connections: with three held open, a fourth waits in the listen
     * backlog, unserved, until one of them closes. */
    int s[4];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port(e.g))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++) {
        s[i] = socket(AF_INET, SOCK_STREAM, 0);
        CU_ASSERT_EQUAL(connect(s[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    CU_ASSERT_TRUE(gwu_wait_metric_conns(&e, 3));
    s[3] = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_EQUAL(connect(s[3], (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CU_ASSERT_EQUAL(write(s[3], req, strlen(req)), (ssize_t)strlen(req));
    struct pollfd p = {.fd = s[3], .events = POLLIN};
    CU_ASSERT_EQUAL(poll(&p, 1, 200), 0); /* not served while three are open */
    close(s[0]);
    CU_ASSERT_EQUAL(poll(&p, 1, 5000), 1);
    char buf[64] = "";
    CU_ASSERT(read(s[3], buf, sizeof buf - 1) > 12);
    CU_ASSERT_EQUAL(strncmp(buf, "HTTP/1.1 200", 12), 0);
    for (int i = 1; i < 4; i++)
        close(s[i]);
    gwu_stop(&e);
}

static void test_idle_timeout_spares_waiting(void)
{
    /* A client connection idle past idle_timeout_ms is closed, but one
     * waiting for a slow backend (before its first byte, or in a stall in
     * the middle of a stream) is not idle. */
    gw_env e;
    CU_ASSERT_EQUAL_FATAL(gwu_start(&e, "scenarios = (\n"
                                        "  { model = \"late\"; reply = \"ok\"; first_byte_delay_ms = 2500; },\n"
                                        "  { model = \"stall\"; chunks = 4; stall_after_chunks = 1; stall_ms = 2500; }\n"
                                        ");\n", "idle_timeout_ms = 1000;"), 0);
    gw_resp r = post(&e, "/v1/chat/completions", "{\"model\":\"mock/late\",\"messages\":"
                     "[{\"role\":\"user\",\"content\":\"x\"}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(r.curl_rc, CURLE_OK);
    gwu_free(&r);
    r = post(&e, "/v1/chat/completions", "{\"model\":\"mock/stall\",\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(r.curl_rc, CURLE_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "data: [DONE]"));
    gwu_free(&r);
    /* A connection that says nothing is closed after the timeout. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port(e.g))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    struct pollfd p = {.fd = s, .events = POLLIN};
    CU_ASSERT_EQUAL(poll(&p, 1, 5000), 1);
    char c;
    CU_ASSERT_EQUAL(read(s, &c, 1), 0);
    close(s);
    gwu_stop(&e);
}

/* ------------------------------------------------------------------ */
/* Stopping                                                            */
/* ------------------------------------------------------------------ */

typedef struct bg {
    gw_env *e;
    const char *body;
    gw_resp r;
    pthread_t t;
} bg;

static void *bg_run(void *arg)
{
    bg *b = arg;
    b->r = gwu_req(b->e, "POST", "/v1/chat/completions", b->body, NULL);
    return NULL;
}

static int refused(void *arg)
{
    gw_env *e = arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port(e->g))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return rc != 0;
}

static void test_graceful_stop(void)
{
    /* In flight when the stop comes, within the deadline: it finishes. */
    gw_env e;
    CU_ASSERT_EQUAL_FATAL(gwu_start(&e, SCRIPT, "shutdown_timeout_ms = 10000;"), 0);
    bg b = {.e = &e, .body = "{\"model\":\"mock/slow\",\"stream\":true,\"messages\":[{\"role\":"
                             "\"user\",\"content\":\"x\"}]}"};
    pthread_create(&b.t, NULL, bg_run, &b);
    CU_ASSERT_TRUE(gwu_wait_metric(&e, "acore_gateway_streams_open 1", 5000));
    gw_stop(e.g);
    /* New connections are refused at once. */
    CU_ASSERT_TRUE(tu_wait_until(refused, &e, 5000));
    pthread_join(b.t, NULL);
    CU_ASSERT_EQUAL(b.r.status, 200);
    CU_ASSERT_EQUAL(b.r.curl_rc, CURLE_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.r.body, "\"finish_reason\":\"stop\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.r.body, "data: [DONE]\n\n"));
    gwu_free(&b.r);
    gwu_stop(&e);

    /* Past the deadline: cancelled, and the stream ends with an error
     * event a client can read, not a cut. */
    CU_ASSERT_EQUAL_FATAL(gwu_start(&e, SCRIPT, "shutdown_timeout_ms = 0;"), 0);
    b.e = &e;
    b.body = "{\"model\":\"mock/hang\",\"stream\":true,\"messages\":[{\"role\":\"user\","
             "\"content\":\"x\"}]}";
    pthread_create(&b.t, NULL, bg_run, &b);
    CU_ASSERT_TRUE(gwu_wait_metric(&e, "acore_gateway_streams_open 1", 5000));
    gw_stop(e.g);
    pthread_join(b.t, NULL);
    CU_ASSERT_EQUAL(b.r.status, 200);
    CU_ASSERT_EQUAL(b.r.curl_rc, CURLE_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.r.body, "server_shutting_down"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.r.body, "data: [DONE]\n\n"));
    CU_ASSERT(mu_wait_disconnects(e.mock, 1, 5000));
    gwu_free(&b.r);
    gwu_stop(&e);
}


int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const tu_test openai[] = {
        {"chat: the reply, usage, ids, parameters upstream", test_oa_chat},
        {"stream: pieces, finish, include_usage", test_oa_stream_with_usage},
        {"tools: calls, streamed calls, results", test_oa_tools},
        {"images as data URLs", test_oa_images},
        {"structured output", test_oa_structured},
        {"routing: provider, provider/model, aliases, 404s", test_routing},
        {"400s name the field", test_oa_bad_requests},
    };
    static const tu_test anthropic[] = {
        {"messages", test_an_messages},
        {"stream", test_an_stream},
        {"tools, streamed calls as blocks, results", test_an_tools},
        {"400s name the field, Anthropic's shape", test_an_bad_requests},
    };
    static const tu_test rest[] = {
        {"upstream errors: statuses, in-stream errors", test_upstream_errors},
        {"URLs, methods, health, ready", test_urls_and_methods},
        {"embeddings: vectors in order, dimensions, base64", test_embeddings},
        {"models: every provider, cached, both shapes", test_models},
        {"metrics", test_metrics},
        {"a client that leaves cancels its backend request", test_disconnect_cancels_upstream},
        {"a slow client pauses its backend", test_slow_client_pauses_upstream},
    };
    static const tu_test own[] = {
        {"keys, allow-lists, rates, the access log", test_keys_rates_allow_lists},
        {"limits: body, headers, messages, connections", test_limits},
        {"the idle timeout spares requests waiting for their backend", test_idle_timeout_spares_waiting},
        {"graceful stop", test_graceful_stop},
    };
    if (CU_initialize_registry() != CUE_SUCCESS ||
        TU_ADD_SUITE("openai", shared_up, shared_down, openai) ||
        TU_ADD_SUITE("anthropic", shared_up, shared_down, anthropic) ||
        TU_ADD_SUITE("gateway", shared_up, shared_down, rest) ||
        TU_ADD_SUITE("configured", NULL, NULL, own))
        return 2;
    int rc = tu_run_suites();
    curl_global_cleanup();
    return rc;
}
