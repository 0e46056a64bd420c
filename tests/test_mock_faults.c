/*
 * test_mock_faults.c -- the mock server's fault modes and per-round
 * scripting, seen from a libcurl client: connections closed or reset
 * instead of an answer, bodies cut after N bytes, stalls, Retry-After
 * headers, seeded garbage, endless streams of content or of nothing, a
 * huge event, invalid UTF-8, a wrong Content-Type, an HTML page, gzip
 * nobody asked for -- in the OpenAI, Anthropic and Ollama protocols --
 * then `steps`, and the load-time checks of every new key.
 */
#include <config.h>

#include "mockclient.h"

#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The three chat paths, and a body asking each for a stream or not. */
static const char *const paths[3] = { "/v1/chat/completions", "/v1/messages", "/api/chat" };

static void chat(mock_server *m, int proto, const char *model, bool stream, http_res *r)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"stream\":%s,\"max_tokens\":50,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             model, stream ? "true" : "false");
    post(m, paths[proto], body, r);
}

/* The text of a reply in any protocol, streamed or not: the content
   fragments put together (event shapes are test_mock.c's business). */
static void reply_text(int proto, const char *body, char *out, size_t n)
{
    out[0] = '\0';
    evs e = proto == 2 ? ndjson_split(body) : sse_split(body);
    if (e.n == 1 && e.v[0].data == NULL) { /* not SSE: a whole JSON body */
        evs_free(&e);
        e.v = calloc(1, sizeof *e.v);
        e.n = 1;
        e.v[0].data = strdup(body);
    }
    for (size_t i = 0; i < e.n; i++) {
        json_object *o = e.v[i].data ? json_tokener_parse(e.v[i].data) : NULL;
        const char *t = NULL;
        if (proto == 0) {
            json_object *ch = jidx(jget(o, "choices"), 0);
            t = jstr(jget(ch, "delta"), "content");
            if (!t)
                t = jstr(jget(ch, "message"), "content");
        } else if (proto == 1) {
            t = jstr(jget(o, "delta"), "text");
            if (!t)
                t = jstr(jidx(jget(o, "content"), 0), "text");
        } else {
            t = jstr(jget(o, "message"), "content");
        }
        if (t)
            strncat(out, t, n - strlen(out) - 1);
        json_object_put(o);
    }
    evs_free(&e);
}

/* ---- closing instead of answering ---- */

static void test_close_and_reset(void)
{
    mock_server *m = start("scenarios = ( { model = \"close\"; fault = \"close_on_accept\"; },\n"
                           "  { model = \"reset\"; fault = \"reset\"; },\n"
                           "  { model = \"late\"; fault = \"close_on_accept\"; first_byte_delay_ms = 300; } );");
    http_res r;
    for (int p = 0; p < 3; p++) {
        chat(m, p, "close", true, &r);
        CU_ASSERT_EQUAL(r.rc, CURLE_GOT_NOTHING); /* a FIN, not one byte */
        CU_ASSERT_EQUAL(r.len, 0);
        res_free(&r);
        chat(m, p, "reset", false, &r);
        CU_ASSERT_EQUAL(r.rc, CURLE_RECV_ERROR); /* connection reset by peer */
        res_free(&r);
    }
    chat(m, 0, "late", false, &r); /* the wait happens, then the close */
    CU_ASSERT_EQUAL(r.rc, CURLE_GOT_NOTHING);
    CU_ASSERT(r.total >= 0.29);
    res_free(&r);
    CU_ASSERT_EQUAL(mock_server_request_count(m), 7);
    CU_ASSERT_EQUAL(mock_server_disconnects(m), 0); /* the server's doing */
    mock_server_stop(m);
}

static void test_close_after_bytes(void)
{
    mock_server *m = start("reply = \"one two three four five six seven eight\"; chunks = 8;\n"
                           "scenarios = ( { model = \"cut\"; close_after_bytes = 100; },\n"
                           "  { model = \"zero\"; close_after_bytes = 0; },\n"
                           "  { model = \"long\"; close_after_bytes = 100000; } );");
    http_res r;
    for (int p = 0; p < 3; p++) {
        for (int stream = 0; stream < 2; stream++) {
            chat(m, p, "cut", stream, &r);
            CU_ASSERT_EQUAL(r.status, 200);
            CU_ASSERT_NOT_EQUAL(r.rc, CURLE_OK);
            CU_ASSERT_EQUAL(r.len, 100); /* exactly N bytes, then the close */
            res_free(&r);
        }
        chat(m, p, "zero", false, &r); /* headers only */
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT_EQUAL(r.rc, CURLE_PARTIAL_FILE);
        CU_ASSERT_EQUAL(r.len, 0);
        res_free(&r);
        chat(m, p, "long", true, &r); /* a cut past the end changes nothing */
        CU_ASSERT_EQUAL(r.rc, CURLE_OK);
        char text[256];
        reply_text(p, r.body, text, sizeof text);
        CU_ASSERT_STRING_EQUAL(text, "one two three four five six seven eight");
        res_free(&r);
    }
    CU_ASSERT_EQUAL(mock_server_disconnects(m), 0);
    mock_server_stop(m);
}

static void test_stall(void)
{
    mock_server *m = start("reply = \"a b c d\"; chunks = 4; stall_after_chunks = 2; stall_ms = 250;");
    http_res r;
    for (int p = 0; p < 3; p++) {
        for (int stream = 0; stream < 2; stream++) {
            chat(m, p, "x", stream, &r);
            CU_ASSERT_EQUAL(r.rc, CURLE_OK);
            CU_ASSERT(r.total >= 0.24 && r.total < 3.0);
            /* stream: the first two pieces come before the stall; a
               complete body: its first half */
            CU_ASSERT(r.ttfb < 0.2);
            char text[64];
            reply_text(p, r.body, text, sizeof text);
            CU_ASSERT_STRING_EQUAL(text, "a b c d");
            res_free(&r);
        }
    }
    mock_server_stop(m);
}

static void test_retry_headers(void)
{
    mock_server *m = start(
        "scenarios = ( { model = \"rl\"; status = 429; retry_after = 2; retry_after_ms = 1500; should_retry = true; },\n"
        "  { model = \"busy\"; status = 503; should_retry = false; },\n"
        "  { model = \"over\"; status = 529; retry_after = \"7\"; },\n"
        "  { model = \"fine\"; retry_after = 2; retry_after_ms = 1500; should_retry = true; } );");
    http_req q = { .path = "/v1/chat/completions", .want_header = "retry-after-ms", .timeout_ms = 5000 };
    http_res r;
    q.body = "{\"model\":\"rl\"}";
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 429);
    CU_ASSERT_STRING_EQUAL(r.retry_after, "2");
    CU_ASSERT_STRING_EQUAL(r.extra, "1500");
    res_free(&r);
    q.want_header = "x-should-retry";
    http(m, &q, &r);
    CU_ASSERT_STRING_EQUAL(r.extra, "true");
    res_free(&r);
    q.body = "{\"model\":\"busy\"}";
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 503);
    CU_ASSERT_STRING_EQUAL(r.retry_after, ""); /* without Retry-After */
    CU_ASSERT_STRING_EQUAL(r.extra, "false");
    res_free(&r);
    q.path = "/v1/messages";
    q.body = "{\"model\":\"over\"}";
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 529);
    CU_ASSERT_STRING_EQUAL(r.retry_after, "7");
    json_object *o = json_tokener_parse(r.body);
    CU_ASSERT(streq(jstr(jget(o, "error"), "type"), "overloaded_error"));
    json_object_put(o);
    res_free(&r);
    q.path = "/api/chat";
    q.body = "{\"model\":\"fine\",\"stream\":false}"; /* only errors carry them */
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(r.retry_after, "");
    CU_ASSERT_STRING_EQUAL(r.extra, "");
    res_free(&r);
    mock_server_stop(m);
}

/* ---- bytes that are not what they should be ---- */

/* docs/mock-server.md's recipe for `garbage`, written again here. */
static void garbage_ref(uint64_t seed, unsigned char *out, size_t n)
{
    uint64_t z = 0;
    for (size_t k = 0; k < n; k++) {
        if (k % 8 == 0) {
            seed += 0x9e3779b97f4a7c15ULL;
            z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
        }
        out[k] = (unsigned char)(z >> (8 * (k % 8)));
    }
}

static void test_garbage(void)
{
    mock_server *m = start("garbage = 300; garbage_seed = 42; chunks = 7;");
    unsigned char want[300];
    garbage_ref(42, want, sizeof want);
    http_res r;
    for (int p = 0; p < 3; p++) {
        for (int stream = 0; stream < 2; stream++) {
            chat(m, p, "x", stream, &r);
            CU_ASSERT_EQUAL(r.status, 200);
            CU_ASSERT_EQUAL(r.rc, CURLE_OK);
            CU_ASSERT_EQUAL_FATAL(r.len, sizeof want);
            CU_ASSERT(memcmp(r.body, want, sizeof want) == 0);
            /* under the Content-Type a real reply would have */
            CU_ASSERT(!strncmp(r.ctype, stream ? (p == 2 ? "application/x-ndjson" : "text/event-stream")
                                               : "application/json", 16));
            res_free(&r);
        }
    }
    mock_server_stop(m);
}

static void test_endless(void)
{
    mock_server *m = start("reply = \"ab\"; chunks = 2; delay_ms = 5;\n"
                           "scenarios = ( { model = \"c\"; endless = \"content\"; },\n"
                           "  { model = \"e\"; endless = \"empty\"; } );");
    http_req q = { .timeout_ms = 10000, .abort_after = 6000 };
    http_res r;
    char body[128];
    for (int p = 0; p < 3; p++) {
        q.path = paths[p];
        /* content, forever: the pieces over and over */
        snprintf(body, sizeof body, "{\"model\":\"c\",\"stream\":true}");
        q.body = body;
        http(m, &q, &r);
        CU_ASSERT_EQUAL(r.rc, CURLE_WRITE_ERROR); /* the client had enough */
        CU_ASSERT(r.len >= 6000);
        char text[4096];
        reply_text(p, r.body, text, sizeof text);
        CU_ASSERT(strlen(text) >= 10 && !strncmp(text, "ababababab", 10));
        const char *end = p == 0 ? "[DONE]" : p == 1 ? "message_stop" : "\"done\":true";
        CU_ASSERT_PTR_NULL(strstr(r.body, end)); /* it never finishes */
        res_free(&r);
        /* nothing, forever */
        snprintf(body, sizeof body, "{\"model\":\"e\",\"stream\":true}");
        http(m, &q, &r);
        CU_ASSERT_EQUAL(r.rc, CURLE_WRITE_ERROR);
        reply_text(p, r.body, text, sizeof text);
        CU_ASSERT_STRING_EQUAL(text, "");
        evs e = p == 2 ? ndjson_split(r.body) : sse_split(r.body);
        size_t comments = 0, empty = 0;
        for (size_t i = 0; i + 1 < e.n; i++) { /* the last may be cut */
            comments += e.v[i].comment && !e.v[i].data;
            json_object *o = e.v[i].data ? json_tokener_parse(e.v[i].data) : NULL;
            if (p == 0 && o && json_object_array_length(jget(o, "choices")) == 0)
                empty++;
            if (p == 1 && streq(e.v[i].event, "ping"))
                empty++;
            if (p == 2 && streq(jstr(jget(o, "message"), "content"), "") &&
                !json_object_get_boolean(jget(o, "done")))
                empty++;
            json_object_put(o);
        }
        CU_ASSERT(empty > 10);
        CU_ASSERT(p == 2 ? comments == 0 : comments > 10); /* NDJSON has no comments */
        evs_free(&e);
        res_free(&r);
    }
    /* without a stream: a body that never ends */
    q.path = paths[0];
    q.body = "{\"model\":\"c\"}";
    q.abort_after = 100;
    http(m, &q, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(r.len >= 100 && !strncmp(r.body, "abababab", 8));
    res_free(&r);
    q.body = "{\"model\":\"e\"}";
    http(m, &q, &r);
    CU_ASSERT(r.len >= 100 && r.body[0] == '\n' && r.body[99] == '\n');
    res_free(&r);
    mock_server_stop(m);
}

static void test_huge_event(void)
{
    mock_server *m = start("huge_event_bytes = 1000000; chunks = 8;");
    http_res r;
    for (int p = 0; p < 3; p++) {
        chat(m, p, "x", true, &r);
        CU_ASSERT_EQUAL(r.rc, CURLE_OK);
        evs e = p == 2 ? ndjson_split(r.body) : sse_split(r.body);
        size_t big = 0, pieces = 0;
        for (size_t i = 0; i < e.n; i++) {
            if (e.v[i].data && strlen(e.v[i].data) > 1000000)
                big++;
            pieces += e.v[i].data && strstr(e.v[i].data, "quick brown") != NULL;
        }
        CU_ASSERT_EQUAL(big, 1); /* one event carries all of it */
        CU_ASSERT_EQUAL(pieces, 1);
        evs_free(&e);
        res_free(&r);
    }
    mock_server_stop(m);
}

static void test_invalid_utf8(void)
{
    mock_server *m = start("reply = \"hello world, again\"; chunks = 3; invalid_utf8 = true;");
    http_res r;
    for (int p = 0; p < 3; p++) {
        for (int stream = 0; stream < 2; stream++) {
            chat(m, p, "x", stream, &r);
            CU_ASSERT_EQUAL(r.rc, CURLE_OK);
            const char *bad = memmem(r.body, r.len, "\xC3\x28\xFF", 3);
            CU_ASSERT_PTR_NOT_NULL(bad);
            /* at the end of the middle piece, "world," (a stream: in its event) */
            CU_ASSERT(bad && bad - r.body >= 6 && !memcmp(bad - 6, "world,", 6));
            char text[128];
            reply_text(p, r.body, text, sizeof text);
            CU_ASSERT_STRING_EQUAL(text, "hello world,\xC3\x28\xFF again");
            res_free(&r);
        }
    }
    mock_server_stop(m);
}

static void test_content_type_and_html(void)
{
    mock_server *m = start("scenarios = ( { model = \"plain\"; content_type = \"text/plain\"; reply = \"ok\"; },\n"
                           "  { model = \"html\"; html = true; },\n"
                           "  { model = \"proxy\"; html = true; status = 502; } );");
    http_res r;
    for (int p = 0; p < 3; p++) {
        for (int stream = 0; stream < 2; stream++) {
            chat(m, p, "plain", stream, &r); /* an otherwise normal reply */
            CU_ASSERT_EQUAL(r.status, 200);
            CU_ASSERT_STRING_EQUAL(r.ctype, "text/plain");
            char text[64];
            reply_text(p, r.body, text, sizeof text);
            CU_ASSERT_STRING_EQUAL(text, "ok");
            res_free(&r);
            chat(m, p, "html", stream, &r);
            CU_ASSERT_EQUAL(r.status, 200);
            CU_ASSERT_STRING_EQUAL(r.ctype, "text/html");
            CU_ASSERT(r.body && !strncmp(r.body, "<!DOCTYPE html>", 15));
            res_free(&r);
        }
        chat(m, p, "proxy", true, &r);
        CU_ASSERT_EQUAL(r.status, 502);
        CU_ASSERT_STRING_EQUAL(r.ctype, "text/html");
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "502 Bad Gateway"));
        res_free(&r);
    }
    mock_server_stop(m);
}

/* Inflate a whole gzip body. */
static char *gunzip(const char *data, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return NULL;
    size_t cap = 1 << 20;
    char *out = malloc(cap + 1);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = inflate(&zs, Z_FINISH);
    *out_len = cap - zs.avail_out;
    out[*out_len] = '\0';
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_gzip(void)
{
    mock_server *m = start("gzip = true; reply = \"squeezed reply\"; chunks = 3;\n"
                           "scenarios = ( { model = \"err\"; status = 500; } );");
    http_res r;
    for (int p = 0; p < 3; p++) {
        for (int stream = 0; stream < 2; stream++) {
            /* as sent: a real gzip body the client never asked for */
            chat(m, p, "x", stream, &r);
            CU_ASSERT_EQUAL(r.rc, CURLE_OK);
            CU_ASSERT_STRING_EQUAL(r.encoding, "gzip");
            CU_ASSERT_FATAL(r.len > 10);
            CU_ASSERT((unsigned char)r.body[0] == 0x1f && (unsigned char)r.body[1] == 0x8b);
            char *mockreq = mock_server_last_header(m, "accept-encoding");
            CU_ASSERT_PTR_NULL(mockreq);
            free(mockreq);
            size_t n;
            char *plain = gunzip(r.body, r.len, &n);
            CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
            char text[64];
            reply_text(p, plain, text, sizeof text);
            CU_ASSERT_STRING_EQUAL(text, "squeezed reply");
            free(plain);
            res_free(&r);
        }
    }
    /* libcurl decodes it when asked to, event by event */
    http_req q = { .path = "/v1/chat/completions", .body = "{\"stream\":true}", .accept_encoding = "",
                   .timeout_ms = 5000 };
    http(m, &q, &r);
    oa_stream s;
    oa_read(r.body, &s);
    CU_ASSERT_STRING_EQUAL(s.text, "squeezed reply");
    CU_ASSERT(s.done);
    res_free(&r);
    /* errors too */
    chat(m, 0, "err", false, &r);
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_STRING_EQUAL(r.encoding, "gzip");
    res_free(&r);
    mock_server_stop(m);
}

/* ---- steps ---- */

/* A request with `rounds` earlier rounds of assistant tool calls and
   tool results, in protocol p's shape. */
static void history(int p, int rounds, char *out, size_t n)
{
    size_t k = (size_t)snprintf(out, n, "{\"model\":\"loop\",\"stream\":false,\"max_tokens\":9,"
                                        "\"messages\":[{\"role\":\"user\",\"content\":\"go\"}");
    for (int i = 0; i < rounds && k < n; i++) {
        if (p == 1)
            k += (size_t)snprintf(out + k, n - k,
                                  ",{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t%d\","
                                  "\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"content\":"
                                  "[{\"type\":\"tool_result\",\"tool_use_id\":\"t%d\",\"content\":\"r\"}]}", i, i);
        else
            k += (size_t)snprintf(out + k, n - k,
                                  ",{\"role\":\"assistant\",\"content\":\"\"},"
                                  "{\"role\":\"tool\",\"tool_call_id\":\"t%d\",\"content\":\"r\"}", i);
    }
    snprintf(out + k, n - k, "]}");
}

static const char steps_script[] =
    "scenarios = ( { model = \"loop\"; reply = \"\"; steps = (\n"
    "  { tool_calls = ( { id = \"a1\"; name = \"f\"; }, { id = \"a2\"; name = \"g\"; } ); },\n"
    "  { tool_calls = ( { id = \"b1\"; name = \"f\"; }, { id = \"b2\"; name = \"g\"; } ); },\n"
    "  { tool_calls = ( { id = \"c1\"; name = \"f\"; }, { id = \"c2\"; name = \"g\"; } ); },\n"
    "  { reply = \"All done.\"; } ); },\n"
    "  { model = \"json\"; steps = ( { reply = \"{not json\"; }, { reply = \"{\\\"ok\\\":true}\"; } ); },\n"
    "  { model = \"flaky\"; steps = ( { reply = \"one\"; status = 503; fail_times = 1; }, { reply = \"two\"; } ); } );";

static void test_steps_tool_loop(void)
{
    mock_server *m = start(steps_script);
    char body[2048];
    http_res r;
    for (int p = 0; p < 3; p++) {
        for (int round = 0; round < 6; round++) {
            history(p, round, body, sizeof body);
            post(m, paths[p], body, &r);
            CU_ASSERT_EQUAL(r.status, 200);
            if (round < 3) { /* two parallel calls, with the round's ids */
                char id1[8], id2[8];
                snprintf(id1, sizeof id1, "\"%c1\"", 'a' + round);
                snprintf(id2, sizeof id2, "\"%c2\"", 'a' + round);
                CU_ASSERT_PTR_NOT_NULL(strstr(r.body, id1));
                CU_ASSERT_PTR_NOT_NULL(strstr(r.body, id2));
                CU_ASSERT_PTR_NULL(strstr(r.body, "All done."));
            } else { /* the last step answers every later round */
                CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "All done."));
                CU_ASSERT_PTR_NULL(strstr(r.body, "\"a1\""));
            }
            res_free(&r);
        }
    }
    mock_server_stop(m);
}

static void test_steps_retry_and_counts(void)
{
    mock_server *m = start(steps_script);
    http_res r;
    const char *first = "{\"model\":\"json\",\"messages\":[{\"role\":\"user\",\"content\":\"give json\"}]}";
    const char *again = "{\"model\":\"json\",\"messages\":[{\"role\":\"user\",\"content\":\"give json\"},"
                        "{\"role\":\"assistant\",\"content\":\"{not json\"},"
                        "{\"role\":\"user\",\"content\":\"that was not JSON: fix it\"}]}";
    post(m, "/v1/chat/completions", first, &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"content\":\"{not json\""));
    res_free(&r);
    post(m, "/v1/chat/completions", again, &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"content\":\"{\\\"ok\\\":true}\""));
    res_free(&r);
    /* fail_times counts per step */
    const char *f0 = "{\"model\":\"flaky\",\"messages\":[]}";
    const char *f1 = "{\"model\":\"flaky\",\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}]}";
    post(m, "/v1/chat/completions", f0, &r);
    CU_ASSERT_EQUAL(r.status, 503);
    res_free(&r);
    post(m, "/v1/chat/completions", f1, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "two"));
    res_free(&r);
    post(m, "/v1/chat/completions", f0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "one"));
    res_free(&r);
    mock_server_stop(m);
}

/* Many conversations at once, each at its own round: each gets its step. */
static void test_steps_concurrent(void)
{
    enum { N = 40 };
    mock_server *m = start(steps_script);
    CURLM *multi = curl_multi_init();
    static char bodies[N][2048];
    http_req q[N];
    http_res r[N];
    sink s[N];
    struct curl_slist *hl[N];
    CURL *eh[N];
    memset(q, 0, sizeof q);
    memset(r, 0, sizeof r);
    memset(hl, 0, sizeof hl);
    for (int i = 0; i < N; i++) {
        history(i % 3, i % 5, bodies[i], sizeof bodies[i]);
        q[i].path = paths[i % 3];
        q[i].body = bodies[i];
        q[i].timeout_ms = 10000;
        eh[i] = http_easy(m, &q[i], &r[i], &s[i], &hl[i]);
        curl_multi_add_handle(multi, eh[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running)
            curl_multi_poll(multi, NULL, 0, 50, NULL);
    }
    int good = 0;
    for (int i = 0; i < N; i++) {
        int round = i % 5;
        char want[16];
        if (round < 3)
            snprintf(want, sizeof want, "\"%c2\"", 'a' + round);
        else
            snprintf(want, sizeof want, "All done.");
        good += r[i].body && strstr(r[i].body, want) != NULL;
        curl_multi_remove_handle(multi, eh[i]);
        curl_easy_cleanup(eh[i]);
        curl_slist_free_all(hl[i]);
        res_free(&r[i]);
    }
    curl_multi_cleanup(multi);
    CU_ASSERT_EQUAL(good, N);
    mock_server_stop(m);
}

/* ---- scripts ---- */

static void test_bad_new_keys(void)
{
    static const struct { const char *script, *want; } cases[] = {
        { "fault = \"explode\";", "script:1: unknown fault \"explode\" (none, close_on_accept, reset)" },
        { "\nendless = 1;", "script:2: 'endless' must be a string" },
        { "endless = \"sometimes\";", "script:1: unknown endless" },
        { "scenarios = ( {\n model = \"a\";\n stall_after_chunks = 2; } );", "script:1: 'stall_after_chunks' needs 'stall_ms'" },
        { "stall_ms = 0;", "script:1: 'stall_ms' must be between 1" },
        { "close_after_bytes = -1;", "script:1: 'close_after_bytes' must be between 0" },
        { "garbage = \"lots\";", "script:1: 'garbage' must be an integer" },
        { "huge_event_bytes = 0;", "script:1: 'huge_event_bytes' must be between 1" },
        { "gzip = \"yes\";", "script:1: 'gzip' must be true or false" },
        { "retry_after_ms = \"\";", "script:1: 'retry_after_ms' must be a non-empty single line" },
        { "should_retry = 1;", "script:1: 'should_retry' must be true or false" },
        { "embedding_dim = 0;", "script:1: 'embedding_dim' must be between 1 and 65536" },
        { "max_batch = -3;", "script:1: 'max_batch' must be between 0" },
        { "steps = ( { reply = \"x\"; } );", "script:1: 'steps' belongs inside a scenario" },
        { "scenarios = ( { model = \"a\";\n steps = 3; } );", "script:2: 'steps' must be a list" },
        { "scenarios = ( { model = \"a\"; steps = (\n 4 ); } );", "script:2: each step must be a group" },
        { "scenarios = ( { model = \"a\"; steps = (\n { model = \"b\"; } ); } );", "script:2: a step cannot set 'model'" },
        { "scenarios = ( { model = \"a\"; steps = ( { steps = (); } ); } );", "script:1: a step cannot set 'steps'" },
        { "scenarios = ( { model = \"a\"; steps = ( {\n dely_ms = 1; } ); } );", "script:2: unknown key 'dely_ms'" },
        { "content_type = \"text/plain\\r\\nX: y\";", "script:1: 'content_type' must be one line" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        mock_server *m = mock_server_start(cases[i].script, 0, err, sizeof err);
        CU_ASSERT_PTR_NULL(m);
        bool found = strstr(err, cases[i].want) != NULL;
        if (!found)
            fprintf(stderr, "\n  case %zu: got \"%s\", want \"%s\"\n", i, err, cases[i].want);
        CU_ASSERT(found);
        mock_server_stop(m);
    }
    /* every new key in a valid script, at the top and in a scenario and a step */
    mock_server *m = start(
        "fault = \"none\"; close_after_bytes = 10000; stall_after_chunks = 9; stall_ms = 1;\n"
        "retry_after_ms = 5; should_retry = false; garbage_seed = -5; endless = \"off\";\n"
        "invalid_utf8 = false; html = false; gzip = false; embedding_dim = 8; embedding_seed = 3;\n"
        "max_batch = 0;\n"
        "scenarios = ( { model = \"s\"; huge_event_bytes = 10; steps = ( { garbage = 5; }, { endless = \"off\"; } ); } );");
    mock_server_stop(m);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mock_server_faults", NULL, NULL);
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "close and reset instead of answering", test_close_and_reset },
        { "close_after_bytes", test_close_after_bytes },
        { "stall mid-reply", test_stall },
        { "Retry-After, retry-after-ms, x-should-retry", test_retry_headers },
        { "seeded garbage", test_garbage },
        { "endless streams and bodies", test_endless },
        { "a huge event", test_huge_event },
        { "invalid UTF-8 in a content piece", test_invalid_utf8 },
        { "wrong Content-Type, HTML pages", test_content_type_and_html },
        { "gzip nobody asked for", test_gzip },
        { "steps: a tool loop of three rounds", test_steps_tool_loop },
        { "steps: a retry after a bad reply, fail_times", test_steps_retry_and_counts },
        { "steps: concurrent conversations", test_steps_concurrent },
        { "new keys checked at load", test_bad_new_keys },
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
