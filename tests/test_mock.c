/*
 * test_mock.c -- the mock LLM server (sdk/mock), seen from a client.
 *
 * Each test starts the server in-process on a random loopback port and
 * talks to it with libcurl, as a provider plugin would: replies in the
 * three protocols, streamed and not, chunk counts, scenario selection,
 * errors and Retry-After, failures that clear, dropped and hanging
 * streams, disconnect counting, script errors, concurrency.  Stream bodies
 * are cut into events here with a few lines of test code; JSON goes
 * through json-c.  Nothing leaves 127.0.0.1.
 */
#include <config.h>

#include "mock_server.h"

#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mockclient.h"

#define DEFAULT_REPLY "Hello from the AbstractCore mock server."

/* ------------------------------------------------------------------ */
/* tests                                                               */
/* ------------------------------------------------------------------ */

static void test_start_random_port(void)
{
    mock_server *m = start(NULL);
    CU_ASSERT(mock_server_port(m) > 0);
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%d", mock_server_port(m));
    CU_ASSERT_STRING_EQUAL(mock_server_url(m), want);
    CU_ASSERT_EQUAL(mock_server_request_count(m), 0);
    CU_ASSERT_PTR_NULL(mock_server_last_body(m));
    CU_ASSERT_PTR_NULL(mock_server_last_header(m, "host"));

    /* a second server cannot take the same port */
    char err[256] = "";
    mock_server *m2 = mock_server_start(NULL, mock_server_port(m), err, sizeof err);
    CU_ASSERT_PTR_NULL(m2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot listen"));
    mock_server_stop(m2);
    mock_server_stop(m);
    mock_server_stop(NULL);
    CU_ASSERT_EQUAL(mock_server_port(NULL), 0);
    CU_ASSERT_STRING_EQUAL(mock_server_url(NULL), "");
}

static void test_openai_nonstream(void)
{
    mock_server *m = start(NULL);
    http_res r;
    post(m, "/v1/chat/completions", "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.ctype, "application/json"));
    json_object *o = json_tokener_parse(r.body);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT(streq(jstr(o, "object"), "chat.completion"));
    CU_ASSERT(jstr(o, "id") && !strncmp(jstr(o, "id"), "chatcmpl-", 9));
    CU_ASSERT(jint(o, "created") > 0);
    CU_ASSERT(streq(jstr(o, "model"), "gpt-4o"));
    json_object *ch = jidx(jget(o, "choices"), 0);
    CU_ASSERT(streq(jstr(jget(ch, "message"), "role"), "assistant"));
    CU_ASSERT(streq(jstr(jget(ch, "message"), "content"), DEFAULT_REPLY));
    CU_ASSERT_PTR_NULL(jget(jget(ch, "message"), "tool_calls"));
    CU_ASSERT(streq(jstr(ch, "finish_reason"), "stop"));
    json_object *u = jget(o, "usage");
    CU_ASSERT(jint(u, "prompt_tokens") > 0);
    CU_ASSERT_EQUAL(jint(u, "completion_tokens"), 8);
    CU_ASSERT_EQUAL(jint(u, "total_tokens"), jint(u, "prompt_tokens") + 8);
    json_object_put(o);
    res_free(&r);

    /* the other path works too */
    post(m, "/chat/completions", "{\"messages\":[]}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_request_count(m), 2);
    mock_server_stop(m);
}

static void test_openai_stream(void)
{
    mock_server *m = start("reply = \"one two three four five six\"; chunks = 5;");
    http_res r;
    post(m, "/v1/chat/completions",
         "{\"model\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(!strncmp(r.ctype, "text/event-stream", 17));
    oa_stream s;
    oa_read(r.body, &s);
    CU_ASSERT(s.first_role);
    CU_ASSERT_EQUAL(s.ncontent, 5);
    CU_ASSERT_STRING_EQUAL(s.text, "one two three four five six");
    CU_ASSERT(streq(s.finish, "stop"));
    CU_ASSERT(s.usage_chunk);
    CU_ASSERT(s.usage_prompt > 0);
    CU_ASSERT_EQUAL(s.usage_completion, 5);
    CU_ASSERT(s.done);
    /* the stream ends exactly with [DONE] */
    CU_ASSERT(r.len > 14 && !strcmp(r.body + r.len - 14, "data: [DONE]\n\n"));
    res_free(&r);

    /* without include_usage there is no usage chunk and no "usage" key */
    post(m, "/v1/chat/completions", "{\"stream\":true,\"messages\":[]}", &r);
    oa_read(r.body, &s);
    CU_ASSERT(!s.usage_chunk);
    CU_ASSERT_PTR_NULL(strstr(r.body, "\"usage\""));
    CU_ASSERT_EQUAL(s.ncontent, 5);
    res_free(&r);
    mock_server_stop(m);
}

static void test_openai_stream_tools(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"t\"; reply = \"\"; chunks = 4;\n"
        "  tool_calls = ( { id = \"call_1\"; name = \"get_weather\"; arguments = \"{\\\"city\\\":\\\"Paris\\\"}\"; },\n"
        "                 { name = \"get_time\"; arguments = \"{}\"; } ); } );");
    http_res r;
    post(m, "/v1/chat/completions", "{\"model\":\"t\",\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    evs e = sse_split(r.body);
    char args[2][128] = { "", "" };
    int starts = 0;
    const char *finish = NULL;
    char fin[32] = "";
    for (size_t i = 0; i < e.n; i++) {
        if (!e.v[i].data || !strcmp(e.v[i].data, "[DONE]"))
            continue;
        json_object *o = json_tokener_parse(e.v[i].data);
        json_object *ch = jidx(jget(o, "choices"), 0);
        json_object *tc = jidx(jget(jget(ch, "delta"), "tool_calls"), 0);
        if (tc) {
            long long idx = jint(tc, "index");
            CU_ASSERT_FATAL(idx == 0 || idx == 1);
            json_object *fn = jget(tc, "function");
            if (jstr(tc, "id")) {
                /* the first delta of a call: index, id, type, name, empty arguments */
                starts++;
                CU_ASSERT(streq(jstr(tc, "type"), "function"));
                CU_ASSERT(streq(jstr(fn, "name"), idx == 0 ? "get_weather" : "get_time"));
                CU_ASSERT(streq(jstr(tc, "id"), idx == 0 ? "call_1" : "call_mock_2"));
                CU_ASSERT(streq(jstr(fn, "arguments"), ""));
            } else {
                /* fragments: only index and function.arguments */
                CU_ASSERT_PTR_NULL(jget(tc, "type"));
                CU_ASSERT_PTR_NULL(jget(fn, "name"));
                strncat(args[idx], jstr(fn, "arguments"), 100);
            }
        }
        if (jstr(ch, "finish_reason")) {
            snprintf(fin, sizeof fin, "%s", jstr(ch, "finish_reason"));
            finish = fin;
        }
        json_object_put(o);
    }
    CU_ASSERT_EQUAL(starts, 2);
    CU_ASSERT_STRING_EQUAL(args[0], "{\"city\":\"Paris\"}");
    CU_ASSERT_STRING_EQUAL(args[1], "{}");
    CU_ASSERT(streq(finish, "tool_calls"));
    evs_free(&e);
    res_free(&r);

    /* non-stream: whole calls, content null */
    post(m, "/v1/chat/completions", "{\"model\":\"t\"}", &r);
    json_object *o = json_tokener_parse(r.body);
    json_object *msg = jget(jidx(jget(o, "choices"), 0), "message");
    CU_ASSERT(jget(msg, "content") == NULL && json_object_object_get_ex(msg, "content", NULL));
    json_object *c0 = jidx(jget(msg, "tool_calls"), 0);
    CU_ASSERT(streq(jstr(c0, "id"), "call_1"));
    CU_ASSERT(streq(jstr(jget(c0, "function"), "arguments"), "{\"city\":\"Paris\"}"));
    CU_ASSERT(streq(jstr(jidx(jget(o, "choices"), 0), "finish_reason"), "tool_calls"));
    json_object_put(o);
    res_free(&r);
    mock_server_stop(m);
}

static void test_anthropic(void)
{
    mock_server *m = start(
        "reply = \"Checking the weather.\"; chunks = 3; usage = [11, 7];\n"
        "tool_calls = ( { id = \"toolu_1\"; name = \"weather\"; arguments = \"{\\\"location\\\":\\\"Paris\\\"}\"; } );");
    http_res r;
    post(m, "/v1/messages", "{\"model\":\"claude-x\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *o = json_tokener_parse(r.body);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT(streq(jstr(o, "type"), "message"));
    CU_ASSERT(streq(jstr(o, "role"), "assistant"));
    CU_ASSERT(streq(jstr(o, "model"), "claude-x"));
    json_object *b0 = jidx(jget(o, "content"), 0), *b1 = jidx(jget(o, "content"), 1);
    CU_ASSERT(streq(jstr(b0, "type"), "text") && streq(jstr(b0, "text"), "Checking the weather."));
    CU_ASSERT(streq(jstr(b1, "type"), "tool_use") && streq(jstr(b1, "id"), "toolu_1"));
    CU_ASSERT(json_object_is_type(jget(b1, "input"), json_type_object));
    CU_ASSERT(streq(jstr(jget(b1, "input"), "location"), "Paris"));
    CU_ASSERT(streq(jstr(o, "stop_reason"), "tool_use"));
    CU_ASSERT_EQUAL(jint(jget(o, "usage"), "input_tokens"), 11);
    CU_ASSERT_EQUAL(jint(jget(o, "usage"), "output_tokens"), 7);
    json_object_put(o);
    res_free(&r);

    post(m, "/v1/messages", "{\"model\":\"claude-x\",\"stream\":true,\"max_tokens\":100,\"messages\":[]}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(!strncmp(r.ctype, "text/event-stream", 17));
    evs e = sse_split(r.body);
    const char *want[] = { "message_start", "content_block_start", "ping", "content_block_delta",
                           "content_block_delta", "content_block_delta", "content_block_stop",
                           "content_block_start", "content_block_delta", "content_block_delta",
                           "content_block_delta", "content_block_delta", "content_block_stop",
                           "message_delta", "message_stop" };
    size_t nwant = sizeof want / sizeof want[0];
    CU_ASSERT_EQUAL(e.n, nwant);
    char text[128] = "", json[128] = "";
    for (size_t i = 0; i < e.n && i < nwant; i++) {
        CU_ASSERT_STRING_EQUAL(e.v[i].event, want[i]);
        json_object *x = json_tokener_parse(e.v[i].data);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        CU_ASSERT(streq(jstr(x, "type"), want[i])); /* event name repeated in "type" */
        json_object *d = jget(x, "delta");
        if (streq(jstr(d, "type"), "text_delta")) {
            CU_ASSERT_EQUAL(jint(x, "index"), 0);
            strncat(text, jstr(d, "text"), 100);
        }
        if (streq(jstr(d, "type"), "input_json_delta")) {
            CU_ASSERT_EQUAL(jint(x, "index"), 1);
            strncat(json, jstr(d, "partial_json"), 100);
        }
        if (i == 7) {
            json_object *cb = jget(x, "content_block");
            CU_ASSERT(streq(jstr(cb, "type"), "tool_use") && streq(jstr(cb, "name"), "weather"));
        }
        if (i == 0)
            CU_ASSERT_EQUAL(jint(jget(jget(x, "message"), "usage"), "input_tokens"), 11);
        if (streq(want[i], "message_delta")) {
            CU_ASSERT(streq(jstr(d, "stop_reason"), "tool_use"));
            CU_ASSERT_EQUAL(jint(jget(x, "usage"), "output_tokens"), 7);
        }
        json_object_put(x);
    }
    CU_ASSERT_STRING_EQUAL(text, "Checking the weather.");
    CU_ASSERT_STRING_EQUAL(json, "{\"location\":\"Paris\"}");
    evs_free(&e);
    res_free(&r);
    mock_server_stop(m);
}

static void test_ollama(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"llama3.2\"; reply = \"Hi there, friend\"; chunks = 3; },\n"
        "  { model = \"tools\"; reply = \"\"; tool_calls = ( { name = \"get_weather\"; arguments = \"{\\\"city\\\":\\\"Tokyo\\\"}\"; } ); } );");
    http_res r;
    /* "stream" absent: Ollama streams */
    post(m, "/api/chat", "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(r.ctype, "application/x-ndjson");
    evs e = ndjson_split(r.body);
    CU_ASSERT_EQUAL_FATAL(e.n, 4);
    char text[64] = "";
    for (size_t i = 0; i < e.n; i++) {
        json_object *o = json_tokener_parse(e.v[i].data);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        CU_ASSERT(streq(jstr(o, "model"), "llama3.2"));
        CU_ASSERT(jstr(o, "created_at") != NULL);
        CU_ASSERT(streq(jstr(jget(o, "message"), "role"), "assistant"));
        bool done = json_object_get_boolean(jget(o, "done"));
        CU_ASSERT_EQUAL(done, i == 3);
        strncat(text, jstr(jget(o, "message"), "content"), 30);
        if (done) {
            CU_ASSERT(streq(jstr(o, "done_reason"), "stop"));
            CU_ASSERT(jint(o, "prompt_eval_count") > 0);
            CU_ASSERT_EQUAL(jint(o, "eval_count"), 3);
            CU_ASSERT(jint(o, "total_duration") > 0);
            CU_ASSERT(jint(o, "eval_duration") >= 0);
        }
        json_object_put(o);
    }
    CU_ASSERT_STRING_EQUAL(text, "Hi there, friend");
    evs_free(&e);
    res_free(&r);

    post(m, "/api/chat", "{\"model\":\"llama3.2\",\"stream\":false}", &r);
    CU_ASSERT(!strncmp(r.ctype, "application/json", 16));
    json_object *o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(jget(o, "message"), "content"), "Hi there, friend"));
    CU_ASSERT(json_object_get_boolean(jget(o, "done")));
    json_object_put(o);
    res_free(&r);

    /* tool calls arrive whole, arguments as an object; done_reason stays "stop" */
    post(m, "/api/chat", "{\"model\":\"tools\"}", &r);
    e = ndjson_split(r.body);
    CU_ASSERT_EQUAL_FATAL(e.n, 2);
    o = json_tokener_parse(e.v[0].data);
    json_object *fn = jget(jidx(jget(jget(o, "message"), "tool_calls"), 0), "function");
    CU_ASSERT(streq(jstr(fn, "name"), "get_weather"));
    CU_ASSERT(json_object_is_type(jget(fn, "arguments"), json_type_object));
    CU_ASSERT(streq(jstr(jget(fn, "arguments"), "city"), "Tokyo"));
    json_object_put(o);
    o = json_tokener_parse(e.v[1].data);
    CU_ASSERT(streq(jstr(o, "done_reason"), "stop"));
    json_object_put(o);
    evs_free(&e);
    res_free(&r);
    mock_server_stop(m);
}

static void test_models(void)
{
    mock_server *m = start("scenarios = ( { model = \"alpha\"; }, { model = \"default\"; }, { model = \"beta\"; } );");
    http_req q = { .path = "/v1/models" };
    http_res r;
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    json_object *o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(o, "object"), "list"));
    CU_ASSERT_EQUAL(json_object_array_length(jget(o, "data")), 2);
    CU_ASSERT(streq(jstr(jidx(jget(o, "data"), 0), "id"), "alpha"));
    CU_ASSERT(streq(jstr(jidx(jget(o, "data"), 0), "object"), "model"));
    CU_ASSERT(streq(jstr(jidx(jget(o, "data"), 1), "owned_by"), "mock"));
    json_object_put(o);
    res_free(&r);

    q.path = "/api/tags";
    http(m, &q, &r);
    o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(jidx(jget(o, "models"), 1), "name"), "beta"));
    CU_ASSERT(streq(jstr(jidx(jget(o, "models"), 1), "model"), "beta"));
    json_object_put(o);
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_request_count(m), 2);
    mock_server_stop(m);
}

static void test_scenario_by_model(void)
{
    mock_server *m = start(
        "reply = \"top\"; chunks = 2;\n"
        "scenarios = ( { model = \"a\"; reply = \"from a\"; },\n"
        "              { model = \"default\"; reply = \"from default\"; } );");
    http_res r;
    post(m, "/v1/chat/completions", "{\"model\":\"a\",\"stream\":true}", &r);
    oa_stream s;
    oa_read(r.body, &s);
    CU_ASSERT_STRING_EQUAL(s.text, "from a");
    CU_ASSERT_EQUAL(s.ncontent, 2); /* chunks inherited from the top level */
    res_free(&r);
    post(m, "/v1/chat/completions", "{\"model\":\"zzz\"}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"from default\""));
    res_free(&r);
    mock_server_stop(m);

    /* no "default" scenario: the top-level settings answer */
    m = start("reply = \"top\"; scenarios = ( { model = \"a\"; reply = \"from a\"; } );");
    post(m, "/v1/chat/completions", "{\"model\":\"zzz\"}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"content\":\"top\""));
    res_free(&r);
    mock_server_stop(m);
}

static void test_after_tool_result(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"t\"; reply = \"\"; after_tool_result = \"It is 22 C.\";\n"
        "  tool_calls = ( { id = \"call_1\"; name = \"get_weather\"; arguments = \"{}\"; } ); } );");
    http_res r;
    /* First turn: the tool call. */
    post(m, "/v1/chat/completions",
         "{\"model\":\"t\",\"messages\":[{\"role\":\"user\",\"content\":\"w?\"}]}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "get_weather"));
    res_free(&r);
    /* The result came back: words, no call, in each protocol. */
    post(m, "/v1/chat/completions",
         "{\"model\":\"t\",\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},"
         "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"22\"}]}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"content\":\"It is 22 C.\""));
    CU_ASSERT_PTR_NULL(strstr(r.body, "get_weather"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"finish_reason\":\"stop\""));
    res_free(&r);
    post(m, "/v1/messages",
         "{\"model\":\"t\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},"
         "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"call_1\","
         "\"name\":\"get_weather\",\"input\":{}}]},{\"role\":\"user\",\"content\":"
         "[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":\"22\"}]}]}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "It is 22 C."));
    CU_ASSERT_PTR_NULL(strstr(r.body, "\"tool_use\""));
    res_free(&r);
    post(m, "/api/chat",
         "{\"model\":\"t\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},"
         "{\"role\":\"tool\",\"tool_name\":\"get_weather\",\"content\":\"22\"}]}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "It is 22 C."));
    CU_ASSERT_PTR_NULL(strstr(r.body, "tool_calls"));
    res_free(&r);
    mock_server_stop(m);
}

static void test_status_retry_after(void)
{
    mock_server *m = start(
        "status = 429; retry_after = \"2\"; headers = [ \"x-should-retry: true\" ];");
    http_req q = { .path = "/v1/chat/completions", .body = "{\"stream\":true}",
                   .want_header = "x-should-retry" };
    http_res r;
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 429);
    CU_ASSERT_STRING_EQUAL(r.retry_after, "2");
    CU_ASSERT_STRING_EQUAL(r.extra, "true");
    /* an early error on a stream request is plain JSON (docs/protocols.md §0.10) */
    CU_ASSERT(!strncmp(r.ctype, "application/json", 16));
    json_object *o = json_tokener_parse(r.body);
    CU_ASSERT(jstr(jget(o, "error"), "message") != NULL);
    CU_ASSERT(streq(jstr(jget(o, "error"), "code"), "rate_limit_exceeded"));
    json_object_put(o);
    res_free(&r);

    q.path = "/v1/messages";
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 429);
    o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(o, "type"), "error"));
    CU_ASSERT(streq(jstr(jget(o, "error"), "type"), "rate_limit_error"));
    CU_ASSERT(jstr(o, "request_id") != NULL);
    json_object_put(o);
    res_free(&r);

    q.path = "/api/chat";
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 429);
    o = json_tokener_parse(r.body);
    CU_ASSERT(jstr(o, "error") != NULL); /* a string in Ollama's shape */
    json_object_put(o);
    res_free(&r);
    mock_server_stop(m);

    /* error_body is sent verbatim */
    m = start("status = 503; error_body = \"{\\\"error\\\":\\\"Loading model\\\"}\";");
    post(m, "/v1/chat/completions", "{}", &r);
    CU_ASSERT_EQUAL(r.status, 503);
    CU_ASSERT_STRING_EQUAL(r.body, "{\"error\":\"Loading model\"}");
    CU_ASSERT_STRING_EQUAL(r.retry_after, "");
    res_free(&r);
    mock_server_stop(m);
}

static void test_fail_times(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"flaky\"; status = 503; fail_times = 2; reply = \"finally\"; },\n"
        "              { model = \"other\"; status = 500; fail_times = 1; } );");
    http_res r;
    long got[4];
    for (int i = 0; i < 3; i++) {
        post(m, "/v1/chat/completions", "{\"model\":\"flaky\"}", &r);
        got[i] = r.status;
        if (i == 2)
            CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "finally"));
        res_free(&r);
    }
    CU_ASSERT_EQUAL(got[0], 503);
    CU_ASSERT_EQUAL(got[1], 503);
    CU_ASSERT_EQUAL(got[2], 200);
    /* counted per scenario */
    post(m, "/v1/chat/completions", "{\"model\":\"other\"}", &r);
    got[3] = r.status;
    res_free(&r);
    CU_ASSERT_EQUAL(got[3], 500);
    post(m, "/v1/chat/completions", "{\"model\":\"other\"}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_request_count(m), 5);
    mock_server_stop(m);
}

static void test_drop_after_chunks(void)
{
    mock_server *m = start("reply = \"aaaa bbbb cccc dddd eeee ffff gggg hhhh \"; chunks = 8; drop_after_chunks = 3;");
    http_res r;
    post(m, "/v1/chat/completions", "{\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_NOT_EQUAL(r.rc, CURLE_OK); /* a truncated transfer */
    oa_stream s;
    oa_read(r.body, &s);
    CU_ASSERT_EQUAL(s.ncontent, 3);
    CU_ASSERT_STRING_EQUAL(s.text, "aaaa bbbb cccc ");
    CU_ASSERT(!s.done);
    CU_ASSERT_PTR_NULL(s.finish);
    res_free(&r);

    post(m, "/api/chat", "{}", &r);
    CU_ASSERT_NOT_EQUAL(r.rc, CURLE_OK);
    evs e = ndjson_split(r.body);
    CU_ASSERT_EQUAL(e.n, 3);
    evs_free(&e);
    res_free(&r);

    /* non-stream: the body is cut short of its Content-Length */
    post(m, "/v1/chat/completions", "{}", &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_PARTIAL_FILE);
    json_object *o = json_tokener_parse(r.body ? r.body : "");
    CU_ASSERT_PTR_NULL(o);
    json_object_put(o);
    res_free(&r);
    /* the server cut these itself: not client disconnects */
    CU_ASSERT_EQUAL(mock_server_disconnects(m), 0);
    mock_server_stop(m);
}

static void test_stream_error(void)
{
    mock_server *m = start("reply = \"partial text\"; chunks = 2; stream_error = \"model overloaded\";");
    http_res r;
    post(m, "/v1/chat/completions", "{\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(r.rc, CURLE_OK);
    evs e = sse_split(r.body);
    CU_ASSERT_FATAL(e.n >= 2);
    json_object *o = json_tokener_parse(e.v[e.n - 2].data);
    CU_ASSERT(streq(jstr(jget(o, "error"), "message"), "model overloaded"));
    json_object_put(o);
    CU_ASSERT(streq(e.v[e.n - 1].data, "[DONE]"));
    CU_ASSERT_PTR_NULL(strstr(r.body, "finish_reason\":\"stop"));
    evs_free(&e);
    res_free(&r);

    post(m, "/v1/messages", "{\"stream\":true}", &r);
    e = sse_split(r.body);
    CU_ASSERT_FATAL(e.n >= 1);
    CU_ASSERT_STRING_EQUAL(e.v[e.n - 1].event, "error");
    o = json_tokener_parse(e.v[e.n - 1].data);
    CU_ASSERT(streq(jstr(o, "type"), "error"));
    CU_ASSERT(streq(jstr(jget(o, "error"), "message"), "model overloaded"));
    json_object_put(o);
    CU_ASSERT_PTR_NULL(strstr(r.body, "message_stop"));
    evs_free(&e);
    res_free(&r);

    post(m, "/api/chat", "{}", &r);
    e = ndjson_split(r.body);
    CU_ASSERT_EQUAL_FATAL(e.n, 3);
    o = json_tokener_parse(e.v[2].data);
    CU_ASSERT(streq(jstr(o, "error"), "model overloaded"));
    json_object_put(o);
    evs_free(&e);
    res_free(&r);
    mock_server_stop(m);
}

static void test_bad_script(void)
{
    static const struct { const char *script, *want; } cases[] = {
        { "reply = ;", "script:1:" },
        { "\n\nscenarios = ( { model = \"a\";\n dely_ms = 3; } );", "script:4: unknown key 'dely_ms'" },
        { "chunks = \"many\";", "script:1: 'chunks' must be an integer" },
        { "chunks = 0;", "script:1: 'chunks' must be between" },
        { "status = 700;", "script:1:" },
        { "headers = [ \"no colon here\" ];", "script:1:" },
        { "headers = [ \"X-A: b\\r\\nX-Injected: 1\" ];", "script:1:" },
        { "quirk = \"vllm\";", "script:1: unknown quirk" },
        { "model = \"top\";", "script:1: 'model' belongs inside a scenario" },
        { "usage = [1];", "script:1: 'usage'" },
        { "scenarios = ( 1, 2 );", "script:1: each scenario must be a group" },
        { "tool_calls = ( { arguments = \"{}\"; } );", "script:1: a tool call needs" },
        { "echo = 1;", "script:1: 'echo' must be true or false" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        const char *want = cases[i].want;
        mock_server *m = mock_server_start(cases[i].script, 0, err, sizeof err);
        CU_ASSERT_PTR_NULL(m);
        bool found = strstr(err, want) != NULL;
        if (!found)
            fprintf(stderr, "\n  script %zu: got \"%s\", want \"%s\"\n", i, err, want);
        CU_ASSERT(found);
        mock_server_stop(m);
    }
    /* a NULL errbuf is fine */
    CU_ASSERT_PTR_NULL(mock_server_start("reply = ;", 0, NULL, 0));
    /* named scripts and overrides */
    char err[256] = "";
    CU_ASSERT_PTR_NULL(mock_server_start_ex("\nchunks = -1;", "my.conf", NULL, 0, NULL, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "my.conf:2:"));
    mock_server *m = mock_server_start_ex("reply = \"script\"; chunks = 1;", "s", "reply = \"flag\";",
                                          0, NULL, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    http_res r;
    post(m, "/v1/chat/completions", "{}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"content\":\"flag\""));
    res_free(&r);
    mock_server_stop(m);
}

static void test_last_body_headers(void)
{
    mock_server *m = start(NULL);
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xc3\xa9\"}]}";
    http_req q = { .path = "/v1/chat/completions", .body = body,
                   .headers = { "Authorization: Bearer sk-test", "X-Custom: 42", NULL } };
    http_res r;
    http(m, &q, &r);
    res_free(&r);
    char *b = mock_server_last_body(m);
    CU_ASSERT(streq(b, body));
    free(b);
    char *h = mock_server_last_header(m, "authorization");
    CU_ASSERT(streq(h, "Bearer sk-test"));
    free(h);
    h = mock_server_last_header(m, "X-CUSTOM");
    CU_ASSERT(streq(h, "42"));
    free(h);
    CU_ASSERT_PTR_NULL(mock_server_last_header(m, "x-missing"));
    CU_ASSERT_PTR_NULL(mock_server_last_header(m, NULL));

    /* a GET has an empty body, and its own headers */
    http_req g = { .path = "/v1/models" };
    http(m, &g, &r);
    res_free(&r);
    b = mock_server_last_body(m);
    CU_ASSERT(streq(b, ""));
    free(b);
    CU_ASSERT_PTR_NULL(mock_server_last_header(m, "x-custom"));
    mock_server_stop(m);
}

/* ---- hanging streams, stop, disconnects ---- */

static void test_stop_with_hanging_stream(void)
{
    mock_server *m = start("reply = \"first second\"; chunks = 2; hang = true;");
    bg_client c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.q.path = "/v1/chat/completions";
    c.q.body = "{\"stream\":true}";
    c.q.timeout_ms = 20000;
    pthread_t th;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, bg_run, &c) == 0);
    wait_for(&c.got, 5000);
    CU_ASSERT(atomic_load(&c.got));
    usleep(50000); /* the stream is parked now */
    double t0 = now_ms();
    mock_server_stop(m);
    double took = now_ms() - t0;
    CU_ASSERT(took < 1000);
    pthread_join(th, NULL);
    CU_ASSERT_NOT_EQUAL(c.r.rc, CURLE_OK);
    /* headers and the first chunk arrived, then nothing */
    oa_stream s;
    oa_read(c.r.body, &s);
    CU_ASSERT(s.first_role);
    CU_ASSERT_STRING_EQUAL(s.text, "first ");
    res_free(&c.r);
}

static void test_disconnects(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"hang\"; hang = true; },\n"
        "  { model = \"slow\"; reply = \"a b c d e f g h\"; chunks = 8; delay_ms = 2000; },\n"
        "  { model = \"late\"; first_byte_delay_ms = 5000; },\n"
        "  { model = \"hangns\"; hang = true; } );");
    http_res r;
    /* the client gives up on a hanging stream */
    http_req q = { .path = "/v1/chat/completions", .body = "{\"model\":\"hang\",\"stream\":true}",
                   .timeout_ms = 300 };
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OPERATION_TIMEDOUT);
    res_free(&r);
    CU_ASSERT_EQUAL(wait_disconnects(m, 1, 2000), 1);

    /* the client cancels between two slow chunks: noticed at once, not at
       the next write 2 s later */
    q.body = "{\"model\":\"slow\",\"stream\":true}";
    q.timeout_ms = 10000;
    q.abort_after = 1;
    double t0 = now_ms();
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_WRITE_ERROR);
    res_free(&r);
    CU_ASSERT_EQUAL(wait_disconnects(m, 2, 1500), 2);
    CU_ASSERT(now_ms() - t0 < 1500);

    /* a client that leaves during first_byte_delay_ms */
    q.body = "{\"model\":\"late\"}";
    q.abort_after = 0;
    q.timeout_ms = 200;
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OPERATION_TIMEDOUT);
    res_free(&r);
    CU_ASSERT_EQUAL(wait_disconnects(m, 3, 2000), 3);

    /* hang on a non-stream request: no headers ever */
    q.body = "{\"model\":\"hangns\"}";
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OPERATION_TIMEDOUT);
    CU_ASSERT_EQUAL(r.status, 0);
    res_free(&r);
    CU_ASSERT_EQUAL(wait_disconnects(m, 4, 2000), 4);

    /* a complete stream is not a disconnect */
    post(m, "/v1/chat/completions", "{\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OK);
    res_free(&r);
    usleep(50000);
    CU_ASSERT_EQUAL(mock_server_disconnects(m), 4);
    mock_server_stop(m);
}

static void test_delays(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"paced\"; reply = \"a b c d\"; chunks = 4; delay_ms = 100; },\n"
        "  { model = \"late\"; first_byte_delay_ms = 300; },\n"
        "  { model = \"ka\"; reply = \"x y z\"; chunks = 3; delay_ms = 60; keepalive_comments = true; } );");
    http_res r;
    post(m, "/v1/chat/completions", "{\"model\":\"paced\",\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OK);
    CU_ASSERT(r.total >= 0.29);
    CU_ASSERT(r.total < 3.0);
    res_free(&r);

    /* non-stream waits as long as the stream would have */
    post(m, "/v1/chat/completions", "{\"model\":\"paced\"}", &r);
    CU_ASSERT(r.ttfb >= 0.29);
    res_free(&r);

    post(m, "/v1/chat/completions", "{\"model\":\"late\",\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.rc, CURLE_OK);
    CU_ASSERT(r.ttfb >= 0.29);
    res_free(&r);

    /* keep-alive comments between chunks, which a client must skip */
    post(m, "/v1/chat/completions", "{\"model\":\"ka\",\"stream\":true}", &r);
    evs e = sse_split(r.body);
    size_t comments = 0;
    for (size_t i = 0; i < e.n; i++)
        comments += e.v[i].comment;
    CU_ASSERT_EQUAL(comments, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\n\n: keepalive\n\n"));
    oa_stream s;
    oa_read(r.body, &s);
    CU_ASSERT_STRING_EQUAL(s.text, "x y z");
    evs_free(&e);
    res_free(&r);
    mock_server_stop(m);
}

static void test_echo_raw_len_utf8(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"echo\"; echo = true; chunks = 3; },\n"
        "  { model = \"raw\"; raw = \"data: {not json\\n\\n\"; content_type = \"text/event-stream\"; },\n"
        "  { model = \"big\"; reply_len = 100000; },\n"
        "  { model = \"proxy\"; status = 502; raw = \"<html>502 Bad Gateway</html>\"; content_type = \"text/html\"; },\n"
        "  { model = \"utf8\"; reply = \"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80!\"; chunks = 40; } );");
    http_res r;
    post(m, "/v1/chat/completions",
         "{\"model\":\"echo\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"first\"},"
         "{\"role\":\"assistant\",\"content\":\"ok\"},"
         "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"second \\\"quoted\\\"\"}]}]}", &r);
    oa_stream s;
    oa_read(r.body, &s);
    CU_ASSERT_STRING_EQUAL(s.text, "second \"quoted\"");
    res_free(&r);
    post(m, "/v1/messages",
         "{\"model\":\"echo\",\"messages\":[{\"role\":\"user\",\"content\":\"anthropic echo\"}]}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"text\":\"anthropic echo\""));
    res_free(&r);

    post(m, "/v1/chat/completions", "{\"model\":\"raw\",\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(r.body, "data: {not json\n\n");
    CU_ASSERT_STRING_EQUAL(r.ctype, "text/event-stream");
    res_free(&r);

    /* raw bytes with an error status: a proxy's error page */
    post(m, "/v1/chat/completions", "{\"model\":\"proxy\",\"stream\":true}", &r);
    CU_ASSERT_EQUAL(r.status, 502);
    CU_ASSERT_STRING_EQUAL(r.body, "<html>502 Bad Gateway</html>");
    CU_ASSERT_STRING_EQUAL(r.ctype, "text/html");
    res_free(&r);

    post(m, "/v1/chat/completions", "{\"model\":\"big\"}", &r);
    json_object *o = json_tokener_parse(r.body);
    const char *content = jstr(jget(jidx(jget(o, "choices"), 0), "message"), "content");
    CU_ASSERT(content && strlen(content) == 100000);
    json_object_put(o);
    res_free(&r);

    /* pieces never split a UTF-8 sequence */
    post(m, "/v1/chat/completions", "{\"model\":\"utf8\",\"stream\":true}", &r);
    evs e = sse_split(r.body);
    size_t pieces = 0;
    for (size_t i = 0; i < e.n; i++) {
        if (!e.v[i].data || !strcmp(e.v[i].data, "[DONE]"))
            continue;
        o = json_tokener_parse(e.v[i].data);
        const char *c = jstr(jget(jidx(jget(o, "choices"), 0), "delta"), "content");
        if (c && *c) {
            pieces++;
            CU_ASSERT(((unsigned char)c[0] & 0xC0) != 0x80);
        }
        json_object_put(o);
    }
    oa_read(r.body, &s);
    CU_ASSERT_STRING_EQUAL(s.text, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80!");
    CU_ASSERT(pieces > 10);
    evs_free(&e);
    res_free(&r);
    mock_server_stop(m);
}

static void test_usage_finish_mapping(void)
{
    mock_server *m = start("usage = [11, 22]; finish_reason = \"length\";");
    http_res r;
    post(m, "/v1/chat/completions", "{}", &r);
    json_object *o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(jidx(jget(o, "choices"), 0), "finish_reason"), "length"));
    CU_ASSERT_EQUAL(jint(jget(o, "usage"), "prompt_tokens"), 11);
    CU_ASSERT_EQUAL(jint(jget(o, "usage"), "completion_tokens"), 22);
    json_object_put(o);
    res_free(&r);
    post(m, "/v1/messages", "{}", &r);
    o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(o, "stop_reason"), "max_tokens"));
    json_object_put(o);
    res_free(&r);
    post(m, "/api/chat", "{\"stream\":false}", &r);
    o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(o, "done_reason"), "length"));
    CU_ASSERT_EQUAL(jint(o, "prompt_eval_count"), 11);
    CU_ASSERT_EQUAL(jint(o, "eval_count"), 22);
    json_object_put(o);
    res_free(&r);
    mock_server_stop(m);
}

static void test_quirks(void)
{
    mock_server *m = start(
        "reply = \"\"; chunks = 3;\n"
        "tool_calls = ( { id = \"0\"; name = \"get_current_weather\"; arguments = \"{\\\"location\\\":\\\"Paris\\\"}\"; } );\n"
        "scenarios = ( { model = \"lmstudio\"; quirk = \"lmstudio\"; },\n"
        "  { model = \"tgi\"; quirk = \"tgi\"; },\n"
        "  { model = \"mlx\"; quirk = \"mlx\"; } );");
    http_res r;
    /* LM Studio: no "content" key at all beside tool calls */
    post(m, "/v1/chat/completions", "{\"model\":\"lmstudio\"}", &r);
    json_object *o = json_tokener_parse(r.body);
    json_object *msg = jget(jidx(jget(o, "choices"), 0), "message");
    CU_ASSERT(!json_object_object_get_ex(msg, "content", NULL));
    CU_ASSERT_PTR_NOT_NULL(jget(msg, "tool_calls"));
    json_object_put(o);
    res_free(&r);

    /* TGI: ":" comment; every tool delta repeats id and index; name:null after the first */
    post(m, "/v1/chat/completions", "{\"model\":\"tgi\",\"stream\":true}", &r);
    CU_ASSERT(!strncmp(r.body, ":\n\n", 3));
    evs e = sse_split(r.body);
    int tool_deltas = 0, null_names = 0;
    char args[128] = "";
    for (size_t i = 0; i < e.n; i++) {
        if (!e.v[i].data || !strcmp(e.v[i].data, "[DONE]"))
            continue;
        o = json_tokener_parse(e.v[i].data);
        CU_ASSERT(streq(jstr(o, "id"), ""));
        json_object *tc = jidx(jget(jget(jidx(jget(o, "choices"), 0), "delta"), "tool_calls"), 0);
        if (tc) {
            tool_deltas++;
            CU_ASSERT(streq(jstr(tc, "id"), "0"));
            CU_ASSERT_EQUAL(jint(tc, "index"), 0);
            json_object *fn = jget(tc, "function");
            if (json_object_object_get_ex(fn, "name", NULL) && !jget(fn, "name"))
                null_names++;
            strncat(args, jstr(fn, "arguments"), 100);
        }
        json_object_put(o);
    }
    CU_ASSERT_EQUAL(tool_deltas, 3);
    CU_ASSERT_EQUAL(null_names, 2);
    CU_ASSERT_STRING_EQUAL(args, "{\"location\":\"Paris\"}");
    evs_free(&e);
    res_free(&r);

    /* mlx: ": keepalive" comments first, the call whole in one delta */
    post(m, "/v1/chat/completions", "{\"model\":\"mlx\",\"stream\":true}", &r);
    CU_ASSERT(!strncmp(r.body, ": keepalive", 11));
    e = sse_split(r.body);
    tool_deltas = 0;
    for (size_t i = 0; i < e.n; i++) {
        if (!e.v[i].data || !strcmp(e.v[i].data, "[DONE]"))
            continue;
        o = json_tokener_parse(e.v[i].data);
        json_object *tc = jidx(jget(jget(jidx(jget(o, "choices"), 0), "delta"), "tool_calls"), 0);
        if (tc) {
            tool_deltas++;
            CU_ASSERT(streq(jstr(jget(tc, "function"), "arguments"), "{\"location\":\"Paris\"}"));
        }
        json_object_put(o);
    }
    CU_ASSERT_EQUAL(tool_deltas, 1);
    evs_free(&e);
    res_free(&r);
    mock_server_stop(m);
}

static void test_bad_requests(void)
{
    mock_server *m = start(NULL);
    static const char *bodies[] = { "{bad", "[1,2]", "", "{} trailing", "\"str\"",
                                    "{\"model\":\"\\ud800\",\"messages\":[{\"role\":\"user\",\"content\":5}]}" };
    http_res r;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        post(m, "/v1/chat/completions", bodies[i], &r);
        if (i < 5) {
            CU_ASSERT_EQUAL(r.status, 400);
            json_object *o = json_tokener_parse(r.body);
            CU_ASSERT(jstr(jget(o, "error"), "message") != NULL);
            json_object_put(o);
        } else {
            CU_ASSERT_EQUAL(r.status, 200); /* odd but valid JSON is served */
        }
        res_free(&r);
    }
    post(m, "/api/chat", "{bad", &r);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "{\"error\":\""));
    res_free(&r);

    http_req q = { .path = "/nope" };
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 404);
    res_free(&r);
    q.path = "/v1/chat/completions"; /* GET */
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 405);
    res_free(&r);
    q.path = "/v1/models";
    q.method = "DELETE";
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 405);
    res_free(&r);
    /* the server is still fine */
    post(m, "/v1/chat/completions", "{}", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    res_free(&r);
    mock_server_stop(m);
}

/* Many concurrent slow streams on one curl multi: they overlap (the
   server's delays do not block each other) and every reply is intact. */
static void test_concurrent_streams(void)
{
    int n = 200;
    const char *env = getenv("MOCK_TEST_CONCURRENCY");
    if (env && atoi(env) > 0)
        n = atoi(env);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)(2 * n + 64) > rl.rlim_cur)
            n = (int)((rl.rlim_cur - 64) / 2);
    }
    mock_server *m = start("echo = true; chunks = 5; delay_ms = 50;");
    CURLM *multi = curl_multi_init();
    CU_ASSERT_PTR_NOT_NULL_FATAL(multi);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    http_req *qs = calloc((size_t)n, sizeof *qs);
    http_res *rs = calloc((size_t)n, sizeof *rs);
    sink *ss = calloc((size_t)n, sizeof *ss);
    struct curl_slist **hls = calloc((size_t)n, sizeof *hls);
    char (*bodies)[128] = calloc((size_t)n, sizeof *bodies);
    CURL **eh = calloc((size_t)n, sizeof *eh);
    CU_ASSERT_FATAL(qs && rs && ss && hls && bodies && eh);
    for (int i = 0; i < n; i++) {
        snprintf(bodies[i], sizeof bodies[i],
                 "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"request number %d\"}]}", i);
        qs[i].path = "/v1/chat/completions";
        qs[i].body = bodies[i];
        qs[i].timeout_ms = 30000;
        eh[i] = http_easy(m, &qs[i], &rs[i], &ss[i], &hls[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(eh[i]);
        curl_multi_add_handle(multi, eh[i]);
    }
    double t0 = now_ms();
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    double took = now_ms() - t0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
        for (int i = 0; i < n; i++) {
            if (msg->easy_handle == eh[i])
                rs[i].rc = msg->data.result;
        }
    }
    int good = 0;
    for (int i = 0; i < n; i++) {
        http_finish(eh[i], &qs[i], &rs[i]);
        char want[64];
        snprintf(want, sizeof want, "request number %d", i);
        oa_stream s;
        oa_read(rs[i].body, &s);
        if (rs[i].rc == CURLE_OK && rs[i].status == 200 && !strcmp(s.text, want) && s.done)
            good++;
        curl_multi_remove_handle(multi, eh[i]);
        curl_easy_cleanup(eh[i]);
        curl_slist_free_all(hls[i]);
        res_free(&rs[i]);
    }
    CU_ASSERT_EQUAL(good, n);
    /* 4 pauses of 50 ms each: serialized this would take n x 200 ms */
    if (took > 5000)
        fprintf(stderr, "\n  %d streams took %.0f ms\n", n, took);
    CU_ASSERT(took < 5000);
    CU_ASSERT_EQUAL(mock_server_request_count(m), (size_t)n);
    CU_ASSERT_EQUAL(mock_server_disconnects(m), 0);
    curl_multi_cleanup(multi);
    free(qs);
    free(rs);
    free(ss);
    free(hls);
    free(bodies);
    free(eh);
    mock_server_stop(m);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mock_server", NULL, NULL);
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "start on a random port", test_start_random_port },
        { "OpenAI non-stream", test_openai_nonstream },
        { "OpenAI stream", test_openai_stream },
        { "OpenAI tool calls", test_openai_stream_tools },
        { "Anthropic", test_anthropic },
        { "Ollama", test_ollama },
        { "model lists", test_models },
        { "scenario by model", test_scenario_by_model },
        { "after_tool_result", test_after_tool_result },
        { "status and Retry-After", test_status_retry_after },
        { "fail_times", test_fail_times },
        { "drop_after_chunks", test_drop_after_chunks },
        { "stream_error", test_stream_error },
        { "bad scripts", test_bad_script },
        { "last body and headers", test_last_body_headers },
        { "stop with a hanging stream", test_stop_with_hanging_stream },
        { "disconnects", test_disconnects },
        { "delays", test_delays },
        { "echo, raw, reply_len, UTF-8", test_echo_raw_len_utf8 },
        { "usage and finish mapping", test_usage_finish_mapping },
        { "quirks", test_quirks },
        { "bad requests", test_bad_requests },
        { "concurrent streams", test_concurrent_streams },
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
