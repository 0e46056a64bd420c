/*
 * test_wire.c -- limits on what reaches the wire, and bodies that are not
 * the protocol's, as a program sees them.
 *
 * Against the in-process mock server, with the openai, anthropic and
 * ollama plugins (each provider allows 2 retries, so a failure that is
 * retried shows in the mock's request count), streamed and not:
 *   - streams that carry nothing (`endless = "empty"`, keep-alive
 *     comments, pings, empty chunks, empty lines) end with AC_EPROTOCOL
 *     naming max_idle_events or max_idle_bytes, by default and when set,
 *     exactly at the limit (raw streams with a known number of empty
 *     events); reasoning deltas, keep-alives between content, and a
 *     silence are progress or not counted, and pass under tiny limits;
 *   - one event larger than max_response_bytes fails early (the mock sees
 *     the client leave mid-response);
 *   - an HTML page, an XML document, a gzip body, a Content-Encoding
 *     nobody asked for, binary noise, an empty body, text where JSON or
 *     an event stream belongs, a foreign Content-Type: each fails once,
 *     unretried, with the exact code and message asserted; and bodies
 *     that parse (a foreign Content-Type or a Content-Encoding header on
 *     a plain body, JSON-labelled event streams) still succeed.
 * Then the same decoding fed one byte at a time (ac__replay_bytes), and
 * sniff.c's rules on their own.  Nothing here talks to anything but
 * 127.0.0.1.
 */
#include "error.h"
#include "mock_fault.h"
#include "mock_server.h"
#include "mockutil.h"
#include "replay.h"
#include "sniff.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static mock_server *mock;
static ac_core *core;

typedef struct proto {
    const char *provider;   /* the instance configured below */
    int         ndjson;     /* streams are NDJSON (else SSE) */
} proto;

static const proto protos[] = { { "oai", 0 }, { "anth", 0 }, { "oll", 1 } };

/* ------------------------------------------------------------------ */
/* The mock's script                                                   */
/* ------------------------------------------------------------------ */

/* Append s to the script as a libconfig string body (quotes, backslashes
 * and newlines escaped). */
static void put_escaped(char *out, size_t cap, const char *s)
{
    size_t o = strlen(out);
    for (; *s && o + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void put(char *out, size_t cap, const char *s) { tu_append(out, cap, s, strlen(s)); }

static void put_raw_scenario(char *out, size_t cap, const char *model, const char *raw)
{
    put(out, cap, "  { model = \"");
    put(out, cap, model);
    put(out, cap, "\"; raw = \"");
    put_escaped(out, cap, raw);
    put(out, cap, "\"; },\n");
}

/* n copies of s after out (a text buffer). */
static void repeat(char *out, size_t cap, const char *s, int n)
{
    for (int i = 0; i < n; i++)
        put(out, cap, s);
}

#define OAI_DONE "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"done\"}," \
                 "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
#define ANTH_START "event: message_start\ndata: {\"type\":\"message_start\",\"message\":" \
                   "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\"," \
                   "\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n"
#define ANTH_TEXT(i) "event: content_block_start\ndata: {\"type\":\"content_block_start\"," \
                     "\"index\":" i ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" \
                     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\"," \
                     "\"index\":" i ",\"delta\":{\"type\":\"text_delta\",\"text\":\"done\"}}\n\n" \
                     "event: content_block_stop\ndata: {\"type\":\"content_block_stop\"," \
                     "\"index\":" i "}\n\n"
#define ANTH_END "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":" \
                 "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\n" \
                 "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
#define OLL_EMPTY "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"}," \
                  "\"done\":false}\n"
#define OLL_DONE "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"done\"}," \
                 "\"done\":false}\n{\"model\":\"m\",\"message\":{\"role\":\"assistant\"," \
                 "\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\"," \
                 "\"prompt_eval_count\":1,\"eval_count\":41}\n"

static char *make_script(void)
{
    size_t cap = 64 * 1024;
    char *s = calloc(1, cap), *raw = calloc(1, cap);
    if (!s || !raw)
        abort();
    put(s, cap,
        "scenarios = (\n"
        "  { model = \"nothing-forever\"; endless = \"empty\"; },\n"
        "  { model = \"keepalive\"; reply = \"one two three four five six seven eight\";\n"
        "    chunks = 8; keepalive_comments = true; delay_ms = 4; },\n"
        "  { model = \"stall\"; reply = \"slow but fine\"; chunks = 4; stall_after_chunks = 2;\n"
        "    stall_ms = 200; },\n"
        "  { model = \"huge\"; huge_event_bytes = 8000000; },\n"
        "  { model = \"html\"; html = true; },\n"
        "  { model = \"gzip\"; gzip = true; },\n"
        "  { model = \"garbage\"; garbage = 64; garbage_seed = 7; },\n"
        "  { model = \"octet\"; content_type = \"application/octet-stream\"; reply = \"fine\"; },\n"
        "  { model = \"octet-text\"; content_type = \"application/octet-stream\";\n"
        "    raw = \"hello there\"; },\n"
        "  { model = \"plain-text\"; raw = \"Internal error\"; },\n"
        "  { model = \"nothing\"; raw = \"\"; },\n"
        "  { model = \"json-label\"; content_type = \"application/json\"; reply = \"fine\"; },\n"
        "  { model = \"br-label\"; headers = [ \"Content-Encoding: br\" ]; reply = \"fine\"; },\n"
        "  { model = \"br-text\"; headers = [ \"Content-Encoding: br\" ]; raw = \"hello\"; },\n"
        "  { model = \"xml\"; content_type = \"application/xml\";\n"
        "    raw = \"<?xml version=\\\"1.0\\\"?><error><message>nope</message></error>\"; },\n"
        "  { model = \"page\";\n"
        "    raw = \"\\n  <html><body><h1>Access   denied</h1><p>by policy</p></body></html>\"; },\n");

    /* Reasoning for 40 events, then the answer: progress all along. */
    raw[0] = '\0';
    repeat(raw, cap, "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hm \"}}]}"
                     "\n\n", 40);
    put(raw, cap, OAI_DONE);
    put_raw_scenario(s, cap, "think-oai", raw);
    raw[0] = '\0';
    put(raw, cap, ANTH_START "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                  "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n");
    repeat(raw, cap, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                     "\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hm \"}}\n\n",
           40);
    put(raw, cap, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}"
                  "\n\n" ANTH_TEXT("1") ANTH_END);
    put_raw_scenario(s, cap, "think-anth", raw);
    raw[0] = '\0';
    repeat(raw, cap, "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\","
                     "\"thinking\":\"hm \"},\"done\":false}\n", 40);
    put(raw, cap, OLL_DONE);
    put_raw_scenario(s, cap, "think-oll", raw);

    /* Exactly 10 events that carry nothing in a row, then the answer. */
    raw[0] = '\0';
    repeat(raw, cap, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[]}\n\n"
                     ": ping\n\n", 5);
    put(raw, cap, OAI_DONE);
    put_raw_scenario(s, cap, "ten-oai", raw);
    raw[0] = '\0';
    put(raw, cap, ANTH_START);
    repeat(raw, cap, "event: ping\ndata: {\"type\": \"ping\"}\n\n", 9);
    put(raw, cap, ANTH_TEXT("0") ANTH_END); /* its content_block_start is the tenth */
    put_raw_scenario(s, cap, "ten-anth", raw);
    raw[0] = '\0';
    repeat(raw, cap, OLL_EMPTY, 10);
    put(raw, cap, OLL_DONE);
    put_raw_scenario(s, cap, "ten-oll", raw);

    put(s, cap, "  { model = \"default\"; }\n);\n");
    free(raw);
    return s;
}

static int wire_init(void)
{
    char *script = make_script();
    char errbuf[512];
    mock = mock_server_start(script, 0, errbuf, sizeof errbuf);
    free(script);
    if (!mock) {
        fprintf(stderr, "mock_server_start: %s\n", errbuf);
        return 1;
    }
    /* 2 retries each: a failure that is retried shows in the request
     * count.  A total timeout that bounds a test that would hang. */
    const char *u = mock_server_url(mock);
    char extra[2048];
    snprintf(extra, sizeof extra,
             "providers = (\n"
             "  { name = \"oai\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\";\n"
             "    max_retries = 2; timeout_ms = 60000; },\n"
             "  { name = \"anth\"; plugin = \"anthropic\"; base_url = \"%s\"; api_key = \"k\";\n"
             "    max_retries = 2; timeout_ms = 60000; },\n"
             "  { name = \"oll\"; plugin = \"ollama\"; base_url = \"%s\";\n"
             "    max_retries = 2; timeout_ms = 60000; } );\n", u, u, u);
    core = tu_open_core(extra);
    return 0;
}

static int wire_cleanup(void)
{
    ac_core_close(core);
    mock_server_stop(mock);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Asking                                                              */
/* ------------------------------------------------------------------ */

typedef struct outcome {
    ac_status st;
    ac_error  err;
    char      content[256];   /* the reply text on success */
    size_t    requests;       /* requests the mock received for it */
} outcome;

/* One ac_generate of "hi" to provider/model, streamed or not, with the
 * provider settings of opts ("key", "value", ..., NULL; may be NULL). */
static void ask(const char *provider, const char *model, int stream, const char *const *opts,
                outcome *out)
{
    memset(out, 0, sizeof *out);
    ac_options *o = ac_options_new();
    for (size_t i = 0; opts && opts[i]; i += 2)
        ac_options_set(o, opts[i], opts[i + 1]);
    ac_llm *llm = ac_llm_create(core, provider, model, o, &out->err);
    ac_options_free(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, stream);
    size_t before = mock_server_request_count(mock);
    ac_response *r = ac_generate(llm, "hi", p, &out->err);
    out->requests = mock_server_request_count(mock) - before;
    out->st = r ? AC_OK : out->err.code;
    if (r)
        snprintf(out->content, sizeof out->content, "%s", ac_response_content(r));
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

/* The request failed once (no retry) with exactly this code, stage and
 * message. */
static void expect_fail(const char *provider, const char *model, int stream,
                        const char *const *opts, ac_status code, ac_stage stage,
                        const char *message)
{
    outcome o;
    ask(provider, model, stream, opts, &o);
    CU_ASSERT_EQUAL(o.st, code);
    CU_ASSERT_EQUAL(o.err.stage, stage);
    CU_ASSERT_STRING_EQUAL(o.err.message, message);
    CU_ASSERT_STRING_EQUAL(o.err.provider, provider);
    CU_ASSERT_EQUAL(o.err.retryable, 0);
    CU_ASSERT_EQUAL(o.requests, 1);
    if (o.st != code || o.err.stage != stage || strcmp(o.err.message, message) != 0 ||
        o.requests != 1)
        fprintf(stderr, "\n%s %s stream=%d: got %s at %s after %zu request(s):\n  %s\n"
                "wanted %s at %s:\n  %s\n", provider, model, stream, ac_strerror(o.st),
                ac_stage_name(o.err.stage), o.requests, o.err.message, ac_strerror(code),
                ac_stage_name(stage), message);
}

static void expect_ok(const char *provider, const char *model, int stream,
                      const char *const *opts, const char *content)
{
    outcome o;
    ask(provider, model, stream, opts, &o);
    CU_ASSERT_EQUAL(o.st, AC_OK);
    CU_ASSERT_STRING_EQUAL(o.content, content);
    CU_ASSERT_EQUAL(o.requests, 1);
    if (o.st != AC_OK || strcmp(o.content, content) != 0)
        fprintf(stderr, "\n%s %s stream=%d: got %s (%s), content \"%s\"\n", provider, model,
                stream, ac_strerror(o.st), o.err.message, o.content);
}

/* "where ... was expected" for a request to p. */
static const char *expected(const proto *p, int stream)
{
    return !stream ? "JSON" : p->ndjson ? "NDJSON" : "JSON or an event stream";
}

static const char *idle_message(const char *what, long limit, const char *unit, char *buf,
                                size_t cap)
{
    snprintf(buf, cap, "the stream carried nothing (keep-alives, pings or empty chunks: no "
             "text, reasoning, tool call, usage or finish) for more than %s = %ld %s in a row",
             what, limit, unit);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Streams that carry nothing                                          */
/* ------------------------------------------------------------------ */

static void test_idle_default(void)
{
    char m[512];
    for (size_t i = 0; i < N_OF(protos); i++)
        expect_fail(protos[i].provider, "nothing-forever", 1, NULL, AC_EPROTOCOL,
                    AC_STAGE_PROTOCOL, idle_message("max_idle_events", 50000, "events", m,
                                                    sizeof m));
}

static void test_idle_events_and_bytes(void)
{
    static const char *const events[] = { "max_idle_events", "200", "max_idle_bytes", "0", NULL };
    static const char *const bytes[] = { "max_idle_events", "0", "max_idle_bytes", "8192", NULL };
    char m[512];
    for (size_t i = 0; i < N_OF(protos); i++) {
        expect_fail(protos[i].provider, "nothing-forever", 1, events, AC_EPROTOCOL,
                    AC_STAGE_PROTOCOL, idle_message("max_idle_events", 200, "events", m,
                                                    sizeof m));
        expect_fail(protos[i].provider, "nothing-forever", 1, bytes, AC_EPROTOCOL,
                    AC_STAGE_PROTOCOL, idle_message("max_idle_bytes", 8192, "bytes", m,
                                                    sizeof m));
    }
}

/* Not streamed, the endless nothing is a body that never ends: bounded by
 * max_response_bytes, as every whole body is. */
static void test_idle_whole_body(void)
{
    static const char *const small[] = { "max_response_bytes", "65536", NULL };
    for (size_t i = 0; i < N_OF(protos); i++)
        expect_fail(protos[i].provider, "nothing-forever", 0, small, AC_ETOOBIG, AC_STAGE_HTTP,
                    "response exceeded max_response_bytes (65536 bytes)");
}

/* Ten events that carry nothing in a row (empty choices and comments,
 * pings and an empty content block, empty lines): ten pass, nine fail. */
static void test_idle_exact_limit(void)
{
    static const char *const ten[] = { "max_idle_events", "10", NULL };
    static const char *const nine[] = { "max_idle_events", "9", NULL };
    static const char *const models[] = { "ten-oai", "ten-anth", "ten-oll" };
    char m[512];
    for (size_t i = 0; i < N_OF(protos); i++) {
        expect_ok(protos[i].provider, models[i], 1, ten, "done");
        expect_fail(protos[i].provider, models[i], 1, nine, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                    idle_message("max_idle_events", 9, "events", m, sizeof m));
    }
    /* The same ten by their bytes. */
    static const char *const few_bytes[] = { "max_idle_bytes", "100", NULL };
    expect_fail("oai", "ten-oai", 1, few_bytes, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                idle_message("max_idle_bytes", 100, "bytes", m, sizeof m));
}

/* A long thinking phase is progress: 40 reasoning deltas in a row pass a
 * limit of 5. */
static void test_reasoning_is_progress(void)
{
    static const char *const tight[] = { "max_idle_events", "5", NULL };
    static const char *const models[] = { "think-oai", "think-anth", "think-oll" };
    for (size_t i = 0; i < N_OF(protos); i++)
        expect_ok(protos[i].provider, models[i], 1, tight, "done");
}

/* Keep-alive comments between pieces of content, and a silence, pass
 * limits that an endless stream of them would not. */
static void test_keepalives_and_stalls_pass(void)
{
    static const char *const tight[] = { "max_idle_events", "3", "max_idle_bytes", "4096", NULL };
    expect_ok("oai", "keepalive", 1, tight, "one two three four five six seven eight");
    expect_ok("anth", "keepalive", 1, tight, "one two three four five six seven eight");
    /* Anthropic's content_block_start and ping come in a row. */
    static const char *const two[] = { "max_idle_events", "2", NULL };
    for (size_t i = 0; i < N_OF(protos); i++)
        expect_ok(protos[i].provider, "stall", 1, two, "slow but fine");
}

/* One event larger than max_response_bytes fails as soon as it passes
 * the limit: the client leaves mid-response. */
static void test_huge_event(void)
{
    static const char *const small[] = { "max_response_bytes", "65536", NULL };
    for (size_t i = 0; i < N_OF(protos); i++) {
        size_t gone = mock_server_disconnects(mock);
        expect_fail(protos[i].provider, "huge", 1, small, AC_ETOOBIG, AC_STAGE_FRAMING,
                    protos[i].ndjson ? "a single NDJSON line larger than max_response_bytes "
                                       "(65536 bytes)"
                                     : "a single SSE event larger than max_response_bytes "
                                       "(65536 bytes)");
        CU_ASSERT(mu_wait_disconnects(mock, gone + 1, 10000));
        gone = mock_server_disconnects(mock);
        expect_fail(protos[i].provider, "huge", 0, small, AC_ETOOBIG, AC_STAGE_HTTP,
                    "response exceeded max_response_bytes (65536 bytes)");
        CU_ASSERT(mu_wait_disconnects(mock, gone + 1, 10000));
    }
}

/* ------------------------------------------------------------------ */
/* Bodies that are not the protocol's                                  */
/* ------------------------------------------------------------------ */

static void test_html_and_xml(void)
{
    for (size_t i = 0; i < N_OF(protos); i++)
        for (int stream = 0; stream < 2; stream++) {
            const char *p = protos[i].provider;
            char m[512];
            expect_fail(p, "html", stream, NULL, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                        "the server answered HTTP 200 with an HTML page (Content-Type "
                        "text/html): 200 OK");
            expect_fail(p, "xml", stream, NULL, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                        "the server answered HTTP 200 with an XML document (Content-Type "
                        "application/xml): nope");
            snprintf(m, sizeof m, "the server answered HTTP 200 with an HTML page (Content-Type "
                     "%s): Access denied by policy",
                     !stream ? "application/json" : protos[i].ndjson ? "application/x-ndjson"
                                                                      : "text/event-stream");
            expect_fail(p, "page", stream, NULL, AC_EPROTOCOL, AC_STAGE_PROTOCOL, m);
        }
}

static void test_compressed(void)
{
    for (size_t i = 0; i < N_OF(protos); i++)
        for (int stream = 0; stream < 2; stream++) {
            const char *p = protos[i].provider;
            expect_fail(p, "gzip", stream, NULL, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                        "the server answered HTTP 200 with a gzip-compressed body that was not "
                        "asked for (Content-Encoding: gzip)");
            /* Not asked for indeed: the core sends no Accept-Encoding. */
            char *ae = mock_server_last_header(mock, "Accept-Encoding");
            CU_ASSERT_PTR_NULL(ae);
            free(ae);
            /* A header that lies about a body that parses: the body wins. */
            expect_ok(p, "br-label", stream, NULL, "fine");
        }
}

/* Noise, nothing, and text: the parser's code, named for what it is. */
static void test_garbage_empty_text(void)
{
    char noise[8], hex[32] = "";
    mock_fault_garbage(7, noise, sizeof noise);
    for (size_t k = 0, o = 0; k < sizeof noise; k++)
        o += (size_t)snprintf(hex + o, sizeof hex - o, "%s%02x", k ? " " : "",
                              (unsigned char)noise[k]);
    for (size_t i = 0; i < N_OF(protos); i++)
        for (int stream = 0; stream < 2; stream++) {
            const proto *p = &protos[i];
            const char *ct = !stream ? "application/json"
                             : p->ndjson ? "application/x-ndjson" : "text/event-stream";
            char m[512];
            snprintf(m, sizeof m, "the server answered HTTP 200 with binary data where %s was "
                     "expected (Content-Type %s; the body starts %s ...)", expected(p, stream),
                     ct, hex);
            /* In SSE the noise makes no event, and the stream ends
             * unfinished; as JSON or NDJSON it does not parse. */
            expect_fail(p->provider, "garbage", stream, NULL,
                        stream && !p->ndjson ? AC_EPROTOCOL : AC_EJSON,
                        stream && !p->ndjson ? AC_STAGE_PROTOCOL : AC_STAGE_JSON, m);

            snprintf(m, sizeof m, "the server answered HTTP 200 with an empty body where %s was "
                     "expected", expected(p, stream));
            expect_fail(p->provider, "nothing", stream, NULL, stream ? AC_EPROTOCOL : AC_EJSON,
                        stream ? AC_STAGE_PROTOCOL : AC_STAGE_JSON, m);

            snprintf(m, sizeof m, "the server answered HTTP 200 with a body that is not %s "
                     "(Content-Type %s): \"Internal error\"",
                     !stream ? "JSON" : p->ndjson ? "NDJSON" : "an event stream", ct);
            expect_fail(p->provider, "plain-text", stream, NULL,
                        stream && !p->ndjson ? AC_EPROTOCOL : AC_EJSON,
                        stream && !p->ndjson ? AC_STAGE_PROTOCOL : AC_STAGE_JSON, m);

            expect_fail(p->provider, "br-text", stream, NULL,
                        stream && !p->ndjson ? AC_EPROTOCOL : AC_EJSON,
                        stream && !p->ndjson ? AC_STAGE_PROTOCOL : AC_STAGE_JSON,
                        "the server answered HTTP 200 with a br-compressed body that was not "
                        "asked for (Content-Encoding: br)");
        }
}

static void test_content_type(void)
{
    for (size_t i = 0; i < N_OF(protos); i++)
        for (int stream = 0; stream < 2; stream++) {
            const proto *p = &protos[i];
            char m[512];
            /* A foreign label on a body that parses: the body wins. */
            expect_ok(p->provider, "octet", stream, NULL, "fine");
            /* An event stream labelled JSON, JSON labelled anything. */
            expect_ok(p->provider, "json-label", stream, NULL, "fine");
            snprintf(m, sizeof m, "the server answered HTTP 200 with Content-Type "
                     "application/octet-stream where %s was expected: \"hello there\"",
                     expected(p, stream));
            expect_fail(p->provider, "octet-text", stream, NULL,
                        stream && !p->ndjson ? AC_EPROTOCOL : AC_EJSON,
                        stream && !p->ndjson ? AC_STAGE_PROTOCOL : AC_STAGE_JSON, m);
        }
}

/* ------------------------------------------------------------------ */
/* The decoder fed a byte at a time, without a Content-Type            */
/* ------------------------------------------------------------------ */

static ac_status replay(ac_framing framing, const char *bytes, size_t piece, ac_error *err,
                        char *content, size_t cap)
{
    ac_error e;
    ac_llm *llm = ac_llm_create(core, "oai", "m", NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_response *r = NULL;
    ac_status st = ac__replay_bytes(llm, framing, 200, bytes, strlen(bytes), piece, NULL, NULL,
                                    &r, err);
    content[0] = '\0';
    if (r)
        snprintf(content, cap, "%s", ac_response_content(r));
    ac_response_free(r);
    ac_llm_free(llm);
    return st;
}

static void test_byte_at_a_time(void)
{
    static const size_t pieces[] = { 0, 1, 3 };
    for (size_t k = 0; k < N_OF(pieces); k++) {
        ac_error err;
        char c[64];
        /* Blank lines, then a page. */
        CU_ASSERT_EQUAL(replay(AC_FRAMING_SSE, "\r\n\n  <!doctype html><html><head><title>\n"
                               "Sign in</title>", pieces[k], &err, c, sizeof c), AC_EPROTOCOL);
        CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with an HTML page: "
                                            "Sign in");
        /* gzip's magic number, split. */
        CU_ASSERT_EQUAL(replay(AC_FRAMING_NONE, "\x1f\x8b\x08", pieces[k], &err, c, sizeof c),
                        AC_EPROTOCOL);
        CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with a gzip-compressed "
                               "body that was not asked for (no Content-Encoding, but the bytes "
                               "start with gzip's magic number)");
        /* A byte order mark and blanks before a stream, and before JSON on
         * a stream request (a proxy's answer): both parse. */
        CU_ASSERT_EQUAL(replay(AC_FRAMING_SSE, "\xEF\xBB\xBF\n" OAI_DONE, pieces[k], &err, c,
                               sizeof c), AC_OK);
        CU_ASSERT_STRING_EQUAL(c, "done");
        CU_ASSERT_EQUAL(replay(AC_FRAMING_SSE, "\n {\"choices\":[{\"index\":0,\"message\":"
                               "{\"role\":\"assistant\",\"content\":\"whole\"},"
                               "\"finish_reason\":\"stop\"}]}", pieces[k], &err, c, sizeof c),
                        AC_OK);
        CU_ASSERT_STRING_EQUAL(c, "whole");
        /* Comments only: no event, so not an event stream. */
        CU_ASSERT_EQUAL(replay(AC_FRAMING_SSE, ": hello\n\n: still here\n\n", pieces[k], &err,
                               c, sizeof c), AC_EPROTOCOL);
        CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with a body that is "
                                            "not an event stream (no Content-Type): \": hello : "
                                            "still here\"");
    }
}

/* ------------------------------------------------------------------ */
/* sniff.c on its own                                                  */
/* ------------------------------------------------------------------ */

static int named(const char *head, size_t n, const char *ct, const char *ce, ac_framing framing,
                 int streamed, size_t events, const ac_error *failure, ac_error *err)
{
    ac__body_facts f = {
        .http_status = 200, .content_type = ct, .content_encoding = ce, .head = head,
        .head_len = n, .total = n, .framing = framing, .streamed = streamed, .events = events,
        .failure = failure,
    };
    return ac__sniff_name(&f, err);
}

static void test_sniff_start(void)
{
    CU_ASSERT_EQUAL(ac__sniff_start("", 0), AC__SNIFF_MORE);
    CU_ASSERT_EQUAL(ac__sniff_start(" \r\n\t", 4), AC__SNIFF_MORE);
    CU_ASSERT_EQUAL(ac__sniff_start("\xEF\xBB\xBF", 3), AC__SNIFF_MORE);
    CU_ASSERT_EQUAL(ac__sniff_start("\xEF\xBB\xBF<x", 5), AC__SNIFF_MARKUP);
    CU_ASSERT_EQUAL(ac__sniff_start("\n<html>", 7), AC__SNIFF_MARKUP);
    CU_ASSERT_EQUAL(ac__sniff_start("\x1f", 1), AC__SNIFF_MORE);
    CU_ASSERT_EQUAL(ac__sniff_start("\x1f\x8b", 2), AC__SNIFF_COMPRESSED);
    CU_ASSERT_EQUAL(ac__sniff_start("\x1f\x8c", 2), AC__SNIFF_FINE);
    CU_ASSERT_EQUAL(ac__sniff_start("\x28\xb5\x2f", 3), AC__SNIFF_MORE);
    CU_ASSERT_EQUAL(ac__sniff_start("\x28\xb5\x2f\xfd", 4), AC__SNIFF_COMPRESSED);
    CU_ASSERT_EQUAL(ac__sniff_start("(x", 2), AC__SNIFF_FINE);
    CU_ASSERT_EQUAL(ac__sniff_start("{", 1), AC__SNIFF_FINE);
    CU_ASSERT_EQUAL(ac__sniff_start("data: x", 7), AC__SNIFF_FINE);
    CU_ASSERT_EQUAL(ac__sniff_start("\0", 1), AC__SNIFF_FINE);
    CU_ASSERT(!ac__sniff_markup_done("<html><title>x", 14, 100));
    CU_ASSERT(ac__sniff_markup_done("<html><title>x</TITLE", 21, 100));
    CU_ASSERT(ac__sniff_markup_done("<html>", 6, 6));
}

static void test_sniff_types(void)
{
    static const char *const yes[] = {
        NULL, "", "application/json", "application/json; charset=utf-8", " Text/Event-Stream ",
        "application/x-ndjson", "application/jsonl", "text/plain;charset=UTF-8",
        "application/problem+json", "application/vnd.api+json",
    };
    static const char *const no[] = {
        "text/html", "application/octet-stream", "application/xml", "text/xml",
        "application/jsonx", "+json", "image/png",
    };
    for (size_t i = 0; i < N_OF(yes); i++)
        CU_ASSERT(ac__sniff_type_expected(yes[i]));
    for (size_t i = 0; i < N_OF(no); i++)
        CU_ASSERT(!ac__sniff_type_expected(no[i]));
}

static void test_sniff_names(void)
{
    ac_error err, fail;
    ac__error_set(&fail, AC_EJSON, AC_STAGE_JSON, "invalid JSON at byte 12");
    /* A title cut at 100 characters, blanks collapsed, bad bytes as '?'. */
    char page[600];
    snprintf(page, sizeof page, "<html><head><title>  %0150d \xff end</title>", 0);
    CU_ASSERT(named(page, strlen(page), "text/html; charset=utf-8", NULL, AC_FRAMING_NONE, 0, 0,
                    NULL, &err));
    char want[600];
    snprintf(want, sizeof want, "the server answered HTTP 200 with an HTML page (Content-Type "
             "text/html): %0100d...", 0);
    CU_ASSERT_STRING_EQUAL(err.message, want);
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    CU_ASSERT_EQUAL(err.http_status, 200);
    const char *bad = "<title>caf\xc3\xa9 \xff\xfe</title>";
    CU_ASSERT(named(bad, strlen(bad), NULL, NULL, AC_FRAMING_NONE, 0, 0, NULL, &err));
    CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with an HTML page: "
                                        "caf\xc3\xa9 ??");
    /* Content-Encoding identity is no encoding. */
    CU_ASSERT(!named("{\"a\":", 5, "application/json", "identity", AC_FRAMING_NONE, 0, 0, &fail,
                     &err));
    CU_ASSERT(named("{\"a\":", 5, "application/json", "deflate", AC_FRAMING_NONE, 0, 0, &fail,
                    &err));
    CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with a deflate-compressed "
                                        "body that was not asked for (Content-Encoding: deflate)");
    CU_ASSERT_EQUAL(err.code, AC_EJSON); /* the parser's code stays */
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_JSON);
    CU_ASSERT(named("\x28\xb5\x2f\xfd\x00", 5, NULL, NULL, AC_FRAMING_SSE, 1, 0, NULL, &err));
    CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with a zstd-compressed body "
                           "that was not asked for (no Content-Encoding, but the bytes start "
                           "with zstd's magic number)");
    /* One bad byte in text is text; many are binary. */
    const char *text = "{\"content\":\"a\xff b\"} trailing";
    CU_ASSERT(!named(text, strlen(text), "application/json", NULL, AC_FRAMING_NONE, 0, 0, &fail,
                     &err));
    CU_ASSERT(named("\xff\xfe\xfd\xfc", 4, NULL, NULL, AC_FRAMING_NONE, 0, 0, &fail, &err));
    CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with binary data where "
                                        "JSON was expected (the body starts ff fe fd fc)");
    /* Valid JSON a plugin refused, under a foreign type: its message kept. */
    ac__error_set(&fail, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "no choices in the response");
    CU_ASSERT(named("{\"x\":1}", 7, "application/octet-stream", NULL, AC_FRAMING_NONE, 0, 0,
                    &fail, &err));
    CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with Content-Type "
                                        "application/octet-stream where JSON was expected: no "
                                        "choices in the response");
    /* ... and under an expected type the plugin's error stands. */
    CU_ASSERT(!named("{\"x\":1}", 7, "text/plain", NULL, AC_FRAMING_NONE, 0, 0, &fail, &err));
    /* An event stream whose events failed: their error stands. */
    CU_ASSERT(!named("data: {oops\n\n", 13, "text/event-stream", NULL, AC_FRAMING_SSE, 1, 1,
                     &fail, &err));
    /* NDJSON lines that are not JSON. */
    CU_ASSERT(named("oops\n", 5, "application/x-ndjson", NULL, AC_FRAMING_NDJSON, 1, 1, &fail,
                    &err));
    CU_ASSERT_STRING_EQUAL(err.message, "the server answered HTTP 200 with a body that is not "
                                        "NDJSON (Content-Type application/x-ndjson): \"oops\"");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test idle[] = {
        { "endless nothing: the default limit", test_idle_default },
        { "endless nothing: events and bytes", test_idle_events_and_bytes },
        { "endless nothing, not streamed", test_idle_whole_body },
        { "exactly at the limit", test_idle_exact_limit },
        { "reasoning is progress", test_reasoning_is_progress },
        { "keep-alives between content, a stall", test_keepalives_and_stalls_pass },
        { "one huge event", test_huge_event },
    };
    static const tu_test bodies[] = {
        { "HTML and XML", test_html_and_xml },
        { "compressed bodies", test_compressed },
        { "noise, nothing, text", test_garbage_empty_text },
        { "Content-Type", test_content_type },
        { "a byte at a time", test_byte_at_a_time },
    };
    static const tu_test sniff[] = {
        { "first bytes", test_sniff_start },
        { "expected types", test_sniff_types },
        { "names", test_sniff_names },
    };
    if (TU_ADD_SUITE("wire limits", wire_init, wire_cleanup, idle) ||
        TU_ADD_SUITE("wrong bodies", wire_init, wire_cleanup, bodies) ||
        TU_ADD_SUITE("sniff", NULL, NULL, sniff))
        return 2;
    return tu_run_suites();
}
