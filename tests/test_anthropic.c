/*
 * test_anthropic.c -- CUnit suite for the anthropic provider plugin
 * (plugins/anthropic).
 *
 * Replies: every anthropic_* fixture (recorded Messages API traffic) goes
 * through the real path -- core framing, the loaded plugin, the sink --
 * with ac__replay_bytes(), whole and in 1- and 7-byte pieces, and the test
 * checks what a caller would see: content, tool calls, finish reasons,
 * token counts, errors.  Expected values were written by reading the
 * fixtures.  A few short streams built here (marked "constructed") cover
 * cases no fixture holds: a tool call cut off by max_tokens, thinking, the
 * structured-output tool, malformed events.
 *
 * Requests: the plugin's init, build_request and model listing are
 * driven through the SDK's fake host (<abstractcore/testkit.h>), with
 * requests described part by part (text, images, files, tool calls and
 * results), and the HTTP request they build is checked against the
 * recorded requests (system placement, max_tokens, tools, a tool round
 * trip in history) and the rules of request.c.
 *
 * End to end: ac_generate, ac_agenerate streaming, a session with a
 * tool round trip, a saved session with images, and errors against the
 * project's mock server on 127.0.0.1, checking the body the server
 * received.  Nothing here talks to anything but 127.0.0.1.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv, mkstemp */
#include "core.h"
#include "alloc.h"
#include "mock_server.h"
#include "mockutil.h"
#include "replay.h"
#include "testutil.h"

#include <abstractcore/testkit.h>
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static ac_core *core;
static ac_llm  *llm;

static const size_t pieces[] = { 0, 1, 7 };

static ac_llm *llm_make(const char *key, const char *value)
{
    ac_options *o = ac_options_new();
    if (!o)
        abort();
    ac_options_set(o, "api_key", "test");
    if (key)
        ac_options_set(o, key, value);
    ac_error err;
    ac_llm *l = ac_llm_create(core, "anthropic", "some-model", o, &err);
    if (!l)
        fprintf(stderr, "ac_llm_create(anthropic): %s\n", err.message);
    ac_options_free(o);
    return l;
}

static int fake_suite_init(void);
static int fake_suite_cleanup(void);

static int suite_init(void)
{
    core = tu_open_core(NULL);
    llm = llm_make(NULL, NULL);
    return llm && fake_suite_init() == 0 ? 0 : 1;
}

static int suite_cleanup(void)
{
    fake_suite_cleanup();
    ac_llm_free(llm);
    ac_core_close(core);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Replaying                                                            */
/* ------------------------------------------------------------------ */

/* What a caller saw through on_event. */
typedef struct seen {
    ac_event_type types[512];
    size_t        n;
    char          text[4096];
    size_t        text_len;
    long          usage_in, usage_out;
    char          finish[64], raw_finish[64];
} seen;

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    seen *s = user;
    if (s->n < N_OF(s->types))
        s->types[s->n++] = c->type;
    if (c->type == AC_EVENT_TEXT && s->text_len + c->len < sizeof s->text) {
        memcpy(s->text + s->text_len, c->text, c->len);
        s->text_len += c->len;
        s->text[s->text_len] = '\0';
    }
    if (c->type == AC_EVENT_USAGE) {
        s->usage_in = c->input_tokens;
        s->usage_out = c->output_tokens;
    }
    if (c->type == AC_EVENT_FINISH) {
        snprintf(s->finish, sizeof s->finish, "%s", c->finish_reason ? c->finish_reason : "");
        snprintf(s->raw_finish, sizeof s->raw_finish, "%s",
                 c->raw_finish_reason ? c->raw_finish_reason : "");
    }
}

/* Replay bytes; *out gets the response (free it), *s what on_event saw. */
static ac_status replay(ac_llm *l, ac_framing fr, int status, const char *bytes,
                        size_t len, size_t piece, ac_response **out,
                        ac_error *err, seen *s)
{
    ac_callbacks cb = { .on_event = on_event };
    memset(s, 0, sizeof *s);
    s->usage_in = s->usage_out = -2;
    memset(err, 0, sizeof *err);
    *out = NULL;
    return ac__replay_bytes(l, fr, status, bytes, len, piece, &cb, s, out, err);
}

/* Tool call i's arguments parsed: must be a JSON object. */
static json_object *args_of(const ac_response *r, size_t i)
{
    const char *a = ac_response_tool_call_arguments(r, i);
    if (!a)
        return NULL;
    json_object *o = json_tokener_parse(a);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Usage then finish, once each, at the very end. */
static void check_tail(const seen *s)
{
    CU_ASSERT_TRUE_FATAL(s->n >= 2);
    CU_ASSERT_EQUAL(s->types[s->n - 2], AC_EVENT_USAGE);
    CU_ASSERT_EQUAL(s->types[s->n - 1], AC_EVENT_FINISH);
    size_t usage = 0, finish = 0;
    for (size_t i = 0; i < s->n; i++) {
        usage += s->types[i] == AC_EVENT_USAGE;
        finish += s->types[i] == AC_EVENT_FINISH;
    }
    CU_ASSERT_EQUAL(usage, 1);
    CU_ASSERT_EQUAL(finish, 1);
}

/* One expected tool call. */
typedef struct want_call {
    const char *id, *name, *arg_key, *arg_value;
} want_call;

typedef struct want {
    const char *content;
    const char *finish, *raw_finish;
    long in, out;
    const char *model;
    size_t n_calls;
    want_call call;
} want;

static void check_reply(const char *fixture, ac_framing fr, const want *w)
{
    size_t len;
    char *bytes = tu_fixture(fixture, &len);
    for (size_t p = 0; p < N_OF(pieces); p++) {
        ac_response *r;
        ac_error err;
        seen s;
        ac_status rc = replay(llm, fr, 200, bytes, len, pieces[p], &r, &err, &s);
        if (rc != AC_OK)
            fprintf(stderr, "%s piece %zu: %s\n", fixture, pieces[p], err.message);
        CU_ASSERT_EQUAL(rc, AC_OK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), w->content);
        CU_ASSERT_EQUAL(ac_response_content_len(r), strlen(w->content));
        CU_ASSERT_STRING_EQUAL(s.text, w->content);
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), w->finish);
        CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), w->raw_finish);
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), w->in);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), w->out);
        CU_ASSERT_STRING_EQUAL(ac_response_model(r), w->model);
        CU_ASSERT_STRING_EQUAL(ac_response_reasoning(r), "");
        CU_ASSERT_EQUAL(ac_response_tool_call_count(r), w->n_calls);
        if (w->n_calls == 1 && ac_response_tool_call_count(r) == 1) {
            CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 0), w->call.id);
            CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 0), w->call.name);
            CU_ASSERT_FALSE(ac_response_tool_call_truncated(r, 0));
            json_object *a = args_of(r, 0);
            CU_ASSERT_PTR_NOT_NULL(a);
            CU_ASSERT_EQUAL(json_object_object_length(a), 1);
            const char *v = jstr(a, w->call.arg_key);
            CU_ASSERT_TRUE(v && strcmp(v, w->call.arg_value) == 0);
            json_object_put(a);
        }
        check_tail(&s);
        CU_ASSERT_EQUAL(s.usage_in, w->in);
        CU_ASSERT_EQUAL(s.usage_out, w->out);
        CU_ASSERT_STRING_EQUAL(s.finish, w->finish);
        CU_ASSERT_STRING_EQUAL(s.raw_finish, w->raw_finish);
        ac_response_free(r);
    }
    free(bytes);
}

/* ------------------------------------------------------------------ */
/* Streams (fixtures)                                                   */
/* ------------------------------------------------------------------ */

static void test_stream_text(void)
{
    /* message_start input 11; message_delta output 6, end_turn; a ping
     * in between; the file ends without the last blank line. */
    want w = { "Hello there!", "stop", "end_turn", 11, 6,
               "claude-3-opus-latest", 0, { 0 } };
    check_reply("anthropic_stream_text.sse", AC_FRAMING_SSE, &w);
}

static void test_stream_tool_use(void)
{
    want w = { "I'll check the current weather in Paris for you.",
               "tool_calls", "tool_use", 377, 65, "claude-sonnet-4-20250514", 1,
               { "toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather", "location", "Paris" } };
    check_reply("anthropic_stream_tool_use.sse", AC_FRAMING_SSE, &w);
}

static void test_stream_tool_use_live(void)
{
    /* Live: padded data lines, input_tokens repeated in message_delta. */
    want w = { "I'll get the weather information for Florence, Italy for you.",
               "tool_calls", "tool_use", 394, 67, "claude-sonnet-4-20250514", 1,
               { "toolu_01N2eM4V43kGCDkq2Lw7ChWQ", "weather", "location",
                 "Florence,Italy" } };
    check_reply("anthropic_stream_tool_use_live.sse", AC_FRAMING_SSE, &w);
}

static void test_stream_refusal(void)
{
    want w = { "", "content_filter", "refusal", 20, 0, "claude-opus-4-7", 0, { 0 } };
    check_reply("anthropic_stream_refusal.sse", AC_FRAMING_SSE, &w);
}

/* The same live stream with CRLF line ends (sse-starlette style proxies). */
static void test_stream_crlf(void)
{
    size_t len;
    char *bytes = tu_fixture("anthropic_stream_tool_use_live.sse", &len);
    size_t n;
    char *crlf = tu_crlf(bytes, len, &n);
    for (size_t p = 0; p < N_OF(pieces); p++) {
        ac_response *r;
        ac_error err;
        seen s;
        CU_ASSERT_EQUAL(replay(llm, AC_FRAMING_SSE, 200, crlf, n, pieces[p], &r, &err, &s), AC_OK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r),
                               "I'll get the weather information for Florence, Italy for you.");
        CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 1);
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "tool_calls");
        ac_response_free(r);
    }
    free(crlf);
    free(bytes);
}

static void test_stream_error_overloaded(void)
{
    size_t len;
    char *bytes = tu_fixture("anthropic_stream_error_overloaded.sse", &len);
    for (size_t p = 0; p < N_OF(pieces); p++) {
        ac_response *r;
        ac_error err;
        seen s;
        ac_status rc = replay(llm, AC_FRAMING_SSE, 200, bytes, len, pieces[p], &r, &err, &s);
        CU_ASSERT_EQUAL(rc, AC_EPROTOCOL);
        CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
        CU_ASSERT_EQUAL(err.stage, AC_STAGE_PROTOCOL);
        /* A 200 stream: the plugin reports the status the error type
         * stands for (529); the type is in the message and decides
         * retryable. */
        CU_ASSERT_EQUAL(err.http_status, 529);
        CU_ASSERT_EQUAL(err.retryable, 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "overloaded_error: Overloaded"));
        CU_ASSERT_TRUE(s.n >= 1 && s.types[s.n - 1] == AC_EVENT_ERROR);
        if (r) {
            CU_ASSERT_STRING_EQUAL(ac_response_content(r), "");
            CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "error");
        }
        ac_response_free(r);
    }
    free(bytes);
}

/* ------------------------------------------------------------------ */
/* Whole bodies (fixtures)                                              */
/* ------------------------------------------------------------------ */

static void test_body_text(void)
{
    want w = { "Ol\xc3\xa1! \n\n(That's \"hello\" in Portuguese. You could also say "
               "\"Oi!\" for a more casual \"hi!\")",
               "stop", "end_turn", 16, 34, "claude-sonnet-4-20250514", 0, { 0 } };
    check_reply("anthropic_messages_text.response.json", AC_FRAMING_NONE, &w);
}

static void test_body_tool_use(void)
{
    want w = { "I'll check the weather in Florence, Italy for you.",
               "tool_calls", "tool_use", 394, 66, "claude-sonnet-4-20250514", 1,
               { "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "weather", "location",
                 "Florence,Italy" } };
    check_reply("anthropic_messages_tool_use.response.json", AC_FRAMING_NONE, &w);
}

static void test_body_tool_result(void)
{
    want w = { "The current weather in Florence, Italy is 40\xc2\xb0" "C (104\xc2\xb0"
               "F). That's quite hot! It would be a good idea to stay hydrated and "
               "seek shade or air conditioning if you're planning to be outdoors.",
               "stop", "end_turn", 475, 50, "claude-sonnet-4-20250514", 0, { 0 } };
    check_reply("anthropic_messages_tool_result.response.json", AC_FRAMING_NONE, &w);
}

/* ------------------------------------------------------------------ */
/* HTTP errors (fixtures)                                               */
/* ------------------------------------------------------------------ */

static void check_http_error(const char *fixture, int status, const char *want_prefix,
                             int retryable)
{
    size_t len;
    char *bytes = tu_fixture(fixture, &len);
    ac_response *r;
    ac_error err;
    seen s;
    ac_status rc = replay(llm, AC_FRAMING_NONE, status, bytes, len, 0, &r, &err, &s);
    CU_ASSERT_EQUAL(rc, AC_EHTTP);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, status);
    CU_ASSERT_EQUAL(err.retryable, retryable);
    if (strncmp(err.message, want_prefix, strlen(want_prefix)) != 0)
        fprintf(stderr, "%s: message \"%s\"\n", fixture, err.message);
    CU_ASSERT_EQUAL(strncmp(err.message, want_prefix, strlen(want_prefix)), 0);
    ac_response_free(r);
    free(bytes);
}

static void test_error_429(void)
{
    /* The status comes from the recording's headers file. */
    size_t hl;
    char *h = tu_fixture("anthropic_error_429_rate_limit.headers.json", &hl);
    json_object *hj = json_tokener_parse(h), *sc = NULL;
    CU_ASSERT_TRUE_FATAL(hj && json_object_object_get_ex(hj, "status_code", &sc));
    int status = json_object_get_int(sc);
    CU_ASSERT_EQUAL(status, 429);
    check_http_error("anthropic_error_429_rate_limit.json", status,
                     "HTTP 429: rate_limit_error: This request would exceed your "
                     "organization's rate limit of 20,000,000 prompt bytes per hour", 1);
    json_object_put(hj);
    free(h);
}

static void test_error_500(void)
{
    check_http_error("anthropic_error_500_api_error.json", 500,
                     "HTTP 500: api_error: Internal server error", 1);
}

static void test_error_529(void)
{
    size_t len;
    char *b = tu_fixture("anthropic_error_529_overloaded.json", &len);
    ac_response *r;
    ac_error err;
    seen s;
    CU_ASSERT_EQUAL(replay(llm, AC_FRAMING_NONE, 529, b, len, 0, &r, &err, &s), AC_EHTTP);
    CU_ASSERT_STRING_EQUAL(err.message, "HTTP 529: overloaded_error: Overloaded");
    CU_ASSERT_EQUAL(err.http_status, 529);
    CU_ASSERT_EQUAL(err.retryable, 1);
    ac_response_free(r);
    free(b);
}

/* An overload reported as 429 is still an overload; a 400 is never
 * worth retrying.  (Bodies constructed in the fixtures' shape.) */
/* A proxy in front of the API that quotes the key it was sent (a
 * constructed body; api.anthropic.com itself says only "invalid
 * x-api-key"): the key never reaches the message (the core removes it
 * from whatever the plugin reports), in HTTP errors and in a stream. */
static void test_error_key_blanked(void)
{
    static const char key[] = "sk-ant-api03-SECRET0123456789";
    ac_llm *l = llm_make("api_key", key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    static const char *const bodies[] = {
        "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
        "\"message\":\"invalid x-api-key: sk-ant-api03-SECRET0123456789\"}}",
        "<html>key sk-ant-api03-SECRET0123456789 is not allowed here</html>",
    };
    for (size_t i = 0; i < N_OF(bodies); i++) {
        ac_response *r;
        ac_error err;
        seen s;
        ac_status rc = replay(l, AC_FRAMING_NONE, 401, bodies[i], strlen(bodies[i]),
                              0, &r, &err, &s);
        CU_ASSERT_EQUAL(rc, AC_EHTTP);
        CU_ASSERT_PTR_NULL(strstr(err.message, key));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 401: "));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "[redacted]"));
        ac_response_free(r);
    }
    /* The key at every place around the end of the message: a message
     * cut inside the key keeps none of it. */
    for (size_t pad = 0; pad < AC_ERROR_MESSAGE_MAX; pad += 3) {
        char filler[AC_ERROR_MESSAGE_MAX + 1], body[2 * AC_ERROR_MESSAGE_MAX + 256];
        memset(filler, 'x', pad);
        filler[pad] = '\0';
        snprintf(body, sizeof body, "{\"type\":\"error\",\"error\":{\"type\":"
                 "\"authentication_error\",\"message\":\"%s %s\"}}", filler, key);
        ac_response *r;
        ac_error err;
        seen s;
        CU_ASSERT_EQUAL(replay(l, AC_FRAMING_NONE, 401, body, strlen(body), 0, &r, &err, &s),
                        AC_EHTTP);
        CU_ASSERT_PTR_NULL(strstr(err.message, "sk-ant-api"));
        ac_response_free(r);
    }
    static const char ev[] = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                             "\"api_error\",\"message\":\"bad key sk-ant-api03-SECRET0123456789\"}}\n\n";
    ac_response *r;
    ac_error err;
    seen s;
    CU_ASSERT_EQUAL(replay(l, AC_FRAMING_SSE, 200, ev, strlen(ev), 0, &r, &err, &s),
                    AC_EPROTOCOL);
    CU_ASSERT_PTR_NULL(strstr(err.message, key));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "api_error: bad key [redacted]"));
    ac_response_free(r);
    ac_llm_free(l);
}

static void test_error_kinds(void)
{
    check_http_error("anthropic_error_529_overloaded.json", 429,
                     "HTTP 429: overloaded_error: Overloaded", 1);
    const char *bad = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                      "\"message\":\"max_tokens: Field required\"},\"request_id\":\"req_1\"}";
    ac_response *r;
    ac_error err;
    seen s;
    CU_ASSERT_EQUAL(replay(llm, AC_FRAMING_NONE, 400, bad, strlen(bad), 0, &r, &err, &s),
                    AC_EHTTP);
    CU_ASSERT_STRING_EQUAL(err.message,
                           "HTTP 400: invalid_request_error: max_tokens: Field required");
    CU_ASSERT_EQUAL(err.http_status, 400);
    CU_ASSERT_EQUAL(err.retryable, 0);
    ac_response_free(r);
}

/* Bodies that are not Anthropic errors: a proxy's HTML page, binary
 * junk, an empty body.  The message stays one printable line. */
static void test_error_not_json(void)
{
    static const struct {
        const char *body;
        size_t len;
        int status;
        const char *want;
    } cases[] = {
        { "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n", 0, 502,
          "HTTP 502: <html> <head><title>502 Bad Gateway</title></head> </html>" },
        { "\xff\xfe\x00\x01junk\n\x80", 10, 500, "HTTP 500: ??" },
        { "{\"error\":\"model not found\"}", 0, 404, "HTTP 404: model not found" },
        { "[1,2", 0, 503, "HTTP 503: [1,2" },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        ac_response *r;
        ac_error err;
        seen s;
        size_t blen = cases[i].len ? cases[i].len : strlen(cases[i].body);
        ac_status rc = replay(llm, AC_FRAMING_NONE, cases[i].status, cases[i].body,
                              blen, 0, &r, &err, &s);
        CU_ASSERT_EQUAL(rc, AC_EHTTP);
        CU_ASSERT_EQUAL(err.http_status, cases[i].status);
        if (strncmp(err.message, cases[i].want, strlen(cases[i].want)) != 0)
            fprintf(stderr, "case %zu: message \"%s\"\n", i, err.message);
        CU_ASSERT_EQUAL(strncmp(err.message, cases[i].want, strlen(cases[i].want)), 0);
        for (const char *p = err.message; *p; p++)
            CU_ASSERT_TRUE((unsigned char)*p >= 0x20);
        ac_response_free(r);
    }
    /* A long body is cut to a short excerpt. */
    char big[4000];
    memset(big, 'x', sizeof big);
    ac_response *r;
    ac_error err;
    seen s;
    CU_ASSERT_EQUAL(replay(llm, AC_FRAMING_NONE, 502, big, sizeof big, 0, &r, &err, &s),
                    AC_EHTTP);
    CU_ASSERT_TRUE(strlen(err.message) < 200);
    ac_response_free(r);
}

/* ------------------------------------------------------------------ */
/* Constructed streams                                                  */
/* ------------------------------------------------------------------ */

#define EV(type, json) "event: " type "\ndata: " json "\n\n"
#define MSG_START(in) EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"m\"," \
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-test\"," \
    "\"stop_reason\":null,\"usage\":{\"input_tokens\":" #in ",\"output_tokens\":1}}}")
#define TOOL_START(i, id, name) EV("content_block_start", "{\"type\":\"content_block_start\"," \
    "\"index\":" #i ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"" id "\",\"name\":\"" \
    name "\",\"input\":{}}}")
#define JSON_DELTA(i, frag) EV("content_block_delta", "{\"type\":\"content_block_delta\"," \
    "\"index\":" #i ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"" frag "\"}}")
#define BLOCK_STOP(i) EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" #i "}")
#define MSG_DELTA(reason, out) EV("message_delta", "{\"type\":\"message_delta\",\"delta\":" \
    "{\"stop_reason\":\"" reason "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":" #out "}}")
#define MSG_STOP EV("message_stop", "{\"type\":\"message_stop\"}")

static ac_response *replay_text(const char *text, ac_status want_rc, ac_error *err)
{
    ac_response *last = NULL;
    for (size_t p = 0; p < N_OF(pieces); p++) {
        ac_response *r;
        seen s;
        ac_status rc = replay(llm, AC_FRAMING_SSE, 200, text, strlen(text), pieces[p],
                              &r, err, &s);
        if (rc != want_rc)
            fprintf(stderr, "piece %zu: %s\n", pieces[p], err->message);
        CU_ASSERT_EQUAL(rc, want_rc);
        ac_response_free(last);
        last = r;
    }
    return last;
}

/* max_tokens in the middle of a tool call, with no content_block_stop
 * (docs/protocols.md 5.15): the call is kept, marked truncated. */
static void test_tool_cut_by_max_tokens(void)
{
    ac_error err;
    ac_response *r = replay_text(MSG_START(12) TOOL_START(0, "toolu_a", "get_weather")
                                 JSON_DELTA(0, "") JSON_DELTA(0, "{\\\"loc")
                                 MSG_DELTA("max_tokens", 30) MSG_STOP, AC_OK, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "length");
    CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "max_tokens");
    CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 1);
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 0), "toolu_a");
    CU_ASSERT_TRUE(ac_response_tool_call_truncated(r, 0));
    CU_ASSERT_EQUAL(ac_response_input_tokens(r), 12);
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 30);
    ac_response_free(r);
}

/* A tool without input sends no fragment: its arguments are {}.  Two
 * parallel calls keep their own ids and arguments. */
static void test_tool_no_input_and_parallel(void)
{
    ac_error err;
    ac_response *r = replay_text(MSG_START(5) TOOL_START(0, "toolu_a", "now") BLOCK_STOP(0)
                                 TOOL_START(1, "toolu_b", "echo") JSON_DELTA(1, "{\\\"x\\\":")
                                 JSON_DELTA(1, "[1,2]}") BLOCK_STOP(1)
                                 MSG_DELTA("tool_use", 9) MSG_STOP, AC_OK, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 2);
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 0), "now");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_arguments(r, 0), "{}");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 1), "toolu_b");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_arguments(r, 1), "{\"x\":[1,2]}");
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "tool_calls");
    ac_response_free(r);
}

/* Thinking goes to reasoning, never into content; signature deltas and
 * server-tool blocks are not the caller's tool calls. */
static void test_thinking_and_server_tools(void)
{
    ac_error err;
    ac_response *r = replay_text(
        MSG_START(3)
        EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
           "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}")
        EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
           "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me think.\"}}")
        EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
           "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"abc\"}}")
        BLOCK_STOP(0)
        EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,"
           "\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\","
           "\"name\":\"web_search\",\"input\":{}}}")
        JSON_DELTA(1, "{\\\"query\\\":\\\"x\\\"}") BLOCK_STOP(1)
        EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":2,"
           "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
        EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":2,"
           "\"delta\":{\"type\":\"text_delta\",\"text\":\"Answer.\"}}")
        BLOCK_STOP(2)
        EV("some_future_event", "{\"type\":\"some_future_event\",\"x\":1}")
        MSG_DELTA("end_turn", 7) MSG_STOP, AC_OK, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_reasoning(r), "Let me think.");
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "Answer.");
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
    ac_response_free(r);
}

/* Structured output in tool mode: the forced tool's input is the reply. */
static void test_structured_output_tool(void)
{
    ac_error err;
    ac_response *r = replay_text(MSG_START(5) TOOL_START(0, "toolu_j", "ac_json_response")
                                 JSON_DELTA(0, "{\\\"a\\\":") JSON_DELTA(0, "1}")
                                 BLOCK_STOP(0) MSG_DELTA("tool_use", 4) MSG_STOP, AC_OK, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "{\"a\":1}");
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
    ac_response_free(r);

    const char *body = "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\","
                       "\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"ac_json_response\","
                       "\"input\":{\"a\":[true]}}],\"stop_reason\":\"tool_use\","
                       "\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
    seen s;
    CU_ASSERT_EQUAL(replay(llm, AC_FRAMING_NONE, 200, body, strlen(body), 0, &r, &err, &s),
                    AC_OK);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "{\"a\":[true]}");
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
    ac_response_free(r);
}

/* Errors inside a 200 stream, by type: retryable as the type says, and
 * the status the type stands for (an unknown type: 500, like an unknown
 * server failure). */
static void test_stream_error_kinds(void)
{
    static const struct {
        const char *text;
        int retryable;
        const char *msg;
        int status;
    } cases[] = {
        { MSG_START(1) EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                          "\"message\":\"slow down\"}}"), 1, "rate_limit_error: slow down", 429 },
        { EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
             "\"message\":\"bad\"}}"), 0, "invalid_request_error: bad", 400 },
        { EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}"),
          1, "api_error: x", 500 },
        /* the SSE event name alone marks it when "type" is missing */
        { EV("error", "{\"error\":{\"type\":\"brand_new_error\",\"message\":\"?\"}}"),
          1, "brand_new_error: ?", 500 },
        /* control bytes in the message: one printable line */
        { EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
             "\"a\\nb\\u0001c\"}}"), 1, "api_error: a b c", 500 },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        ac_error err;
        ac_response *r = replay_text(cases[i].text, AC_EPROTOCOL, &err);
        CU_ASSERT_EQUAL(err.stage, AC_STAGE_PROTOCOL);
        CU_ASSERT_EQUAL(err.http_status, cases[i].status);
        CU_ASSERT_EQUAL(err.retryable, cases[i].retryable);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].msg));
        ac_response_free(r);
    }
    /* A message longer than a report holds, of two-byte characters: cut
     * at a character boundary, marked "...". */
    char text[2400];
    int n = snprintf(text, sizeof text, "event: error\ndata: {\"type\":\"error\",\"error\":"
                     "{\"type\":\"api_error\",\"message\":\"");
    for (int i = 0; i < 1000; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "\xc3\xa9");
    snprintf(text + n, sizeof text - (size_t)n, "\"}}\n\n");
    ac_error err;
    ac_response *r = replay_text(text, AC_EPROTOCOL, &err);
    size_t ml = strlen(err.message);
    CU_ASSERT_TRUE(ml > 400 && ml < sizeof err.message);
    CU_ASSERT_TRUE(ml >= 3 && strcmp(err.message + ml - 3, "...") == 0);
    /* before the "...", whole characters: every \xc3 has its \xa9 */
    const char *at_msg = strstr(err.message, "api_error: ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at_msg);
    for (const char *p = at_msg + 11; *p != '.'; p += 2)
        CU_ASSERT_TRUE_FATAL((unsigned char)p[0] == 0xc3 && (unsigned char)p[1] == 0xa9);
    ac_response_free(r);
}

/* Malformed events end the stream with an error, never a crash. */
static void test_malformed_events(void)
{
    static const struct {
        const char *text;
        ac_status rc;
    } cases[] = {
        { "event: message_start\ndata: {not json}\n\n", AC_EJSON },
        { "data: [1,2,3]\n\n", AC_EPROTOCOL },
        { "data: \"text\"\n\n", AC_EPROTOCOL },
        { MSG_START(1) EV("content_block_delta", "{\"type\":\"content_block_delta\","
                          "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}"), AC_EPROTOCOL },
        { MSG_START(1) EV("content_block_start", "{\"type\":\"content_block_start\","
                          "\"index\":-1,\"content_block\":{\"type\":\"text\"}}"), AC_EPROTOCOL },
        { MSG_START(1) EV("content_block_start", "{\"type\":\"content_block_start\","
                          "\"index\":\"0\",\"content_block\":{\"type\":\"text\"}}"), AC_EPROTOCOL },
        { MSG_START(1) EV("content_block_start", "{\"type\":\"content_block_start\","
                          "\"index\":99999999999,\"content_block\":{\"type\":\"text\"}}"),
          AC_EPROTOCOL },
        { MSG_START(1) EV("content_block_start", "{\"type\":\"content_block_start\","
                          "\"index\":0}"), AC_EPROTOCOL },
        /* a stream that never finishes is truncated */
        { MSG_START(1) EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
                          "\"delta\":{\"type\":\"text_delta\",\"text\":\"par\"}}"), AC_EPROTOCOL },
        /* nonsense members of known events are ignored */
        { EV("message_start", "{\"type\":\"message_start\",\"message\":7}")
          EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":3,"
             "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}")
          EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":3}")
          EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":5},"
             "\"usage\":{\"output_tokens\":-4}}")
          EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}"),
          AC_OK },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        ac_error err;
        ac_response *r = replay_text(cases[i].text, cases[i].rc, &err);
        if (cases[i].rc != AC_OK)
            CU_ASSERT_EQUAL(err.code, cases[i].rc);
        ac_response_free(r);
    }
    /* Invalid UTF-8 inside the JSON: refused by the framer or the parser. */
    {
        const char *t = "data: {\"type\":\"ping\",\"x\":\"\xc3\x28\"}\n\n";
        ac_response *r;
        ac_error err;
        seen s;
        ac_status rc = replay(llm, AC_FRAMING_SSE, 200, t, strlen(t), 0, &r, &err, &s);
        CU_ASSERT_TRUE(rc == AC_EJSON || rc == AC_EFRAMING);
        ac_response_free(r);
    }
    /* Whole bodies that are not messages. */
    static const char *const bodies[] = {
        "", "null", "{}", "{\"content\":{}}", "{\"content\":[1,null,{\"type\":7}]}x",
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"O\"}}",
    };
    for (size_t i = 0; i < N_OF(bodies); i++) {
        ac_response *r;
        ac_error err;
        seen s;
        ac_status rc = replay(llm, AC_FRAMING_NONE, 200, bodies[i], strlen(bodies[i]), 0,
                              &r, &err, &s);
        CU_ASSERT_NOT_EQUAL(rc, AC_OK);
        ac_response_free(r);
    }
}

/* Every prefix of a live stream, and random corruptions of it: an
 * outcome every time, no crash, no leak (run under valgrind). */
static void test_fuzz_live_stream(void)
{
    size_t len;
    char *bytes = tu_fixture("anthropic_stream_tool_use_live.sse", &len);
    for (size_t cut = 0; cut <= len; cut += 3) {
        ac_response *r;
        ac_error err;
        seen s;
        ac_status rc = replay(llm, AC_FRAMING_SSE, 200, bytes, cut, 0, &r, &err, &s);
        CU_ASSERT_TRUE(rc == AC_OK || rc == AC_EPROTOCOL || rc == AC_EJSON);
        ac_response_free(r);
    }
    unsigned long seed = 12345;
    char *copy = malloc(len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    for (int round = 0; round < 300; round++) {
        memcpy(copy, bytes, len);
        for (int k = 0; k < 4; k++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            copy[(seed >> 33) % len] = (char)(seed >> 20);
        }
        ac_response *r;
        ac_error err;
        seen s;
        ac_status rc = replay(llm, AC_FRAMING_SSE, 200, copy, len, round % 2 ? 7 : 0,
                              &r, &err, &s);
        CU_ASSERT_TRUE(rc > AC_OK ? err.message[0] != '\0' : 1);
        ac_response_free(r);
    }
    free(copy);
    free(bytes);
}

/* Every allocation failing in turn while a stream with a tool call is
 * parsed: an error or success, never a crash or a leak. */
static void test_alloc_failures(void)
{
    size_t len;
    char *bytes = tu_fixture("anthropic_stream_tool_use.sse", &len);
    int completed = 0;
    for (long n = 0; n < 2000 && !completed; n++) {
        ac_response *r = NULL;
        ac_error err;
        memset(&err, 0, sizeof err);
        ac__alloc_fail_after(n);
        ac_status rc = ac__replay_bytes(llm, AC_FRAMING_SSE, 200, bytes, len, 7, NULL, NULL,
                                    &r, &err);
        ac__alloc_fail_after(-1);
        if (rc == AC_OK)
            completed = 1;
        else
            CU_ASSERT_TRUE(rc == AC_ENOMEM || rc == AC_EPROTOCOL || rc == AC_ETOOBIG ||
                           rc == AC_EFRAMING);
        ac_response_free(r);
    }
    CU_ASSERT_TRUE(completed);
    free(bytes);
}

/* ------------------------------------------------------------------ */
/* Requests, through the fake host                                      */
/* ------------------------------------------------------------------ */

/*
 * The real host's message() reads only requests the core made, so the
 * plugin's build_request is driven here through the SDK's fake host
 * (<abstractcore/testkit.h>): a request described part by part, the HTTP
 * request the plugin built read back.  The fake loads a private copy of
 * the .so: the core of the suites above dlopens the same file, and a
 * plugin keeps one host pointer, which the fake's ac_fake_load would
 * otherwise take from under the core.
 */
#define PLUGIN_SO TEST_BUILDDIR "/plugins/anthropic/.libs/anthropic.so"

static const ac_provider *fvt;  /* the copy's descriptor */
static void              *fdl;

static int fake_suite_init(void)
{
    size_t len;
    char *bytes = tu_read_file(PLUGIN_SO, &len);
    char tmp[] = "/tmp/ac-anthropic-test-XXXXXX";
    int fd = bytes ? mkstemp(tmp) : -1;
    int ok = fd >= 0 && write(fd, bytes, len) == (ssize_t)len;
    if (fd >= 0)
        close(fd);
    free(bytes);
    if (ok)
        fvt = ac_fake_load(tmp, &fdl);
    if (fd >= 0)
        unlink(tmp); /* the mapping stays */
    return fvt ? 0 : 1;
}

static int fake_suite_cleanup(void)
{
    if (fdl)
        dlclose(fdl);
    return 0;
}

/* One plugin instance on a fake host. */
typedef struct fx {
    ac_fake *f;
    void    *st;
} fx;

/* A fake with api_key "test" and the recorded model; more settings may be
 * given before fx_init. */
static void fx_new(fx *x)
{
    x->f = ac_fake_new();
    x->st = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(x->f);
    CU_ASSERT_EQUAL_FATAL(ac_fake_set(x->f, "api_key", "test"), 0);
    ac_fake_request(x->f)->model = "claude-sonnet-4-20250514";
}

static ac_status fx_init(fx *x)
{
    ac_status rc = fvt->init(ac_fake_settings(x->f), &x->st, ac_fake_call(x->f));
    if (rc != AC_OK)
        x->st = NULL;
    return rc;
}

/* fx_new then fx_init, which must succeed. */
static void fx_ready(fx *x)
{
    fx_new(x);
    ac_status rc = fx_init(x);
    if (rc != AC_OK)
        fprintf(stderr, "init: %s\n", ac_fake_error(x->f)->message);
    CU_ASSERT_EQUAL_FATAL(rc, AC_OK);
}

static void fx_free(fx *x)
{
    if (x->st)
        fvt->fini(x->st);
    ac_fake_free(x->f);
    x->f = NULL;
    x->st = NULL;
}

/* Build the request; returns the parsed body (put it), NULL on failure. */
static json_object *fx_build(fx *x, ac_status *rc)
{
    ac_fake_reset(x->f);
    *rc = fvt->build_request(x->st, ac_fake_request(x->f), ac_fake_http(x->f),
                             ac_fake_call(x->f));
    if (*rc != AC_OK)
        return NULL;
    return json_tokener_parse(ac_fake_body(x->f, NULL));
}

static void msg(fx *x, ac_role role, const char *text)
{
    CU_ASSERT_EQUAL_FATAL(ac_fake_add_message(x->f, role, text), 0);
}

static void part(fx *x, const ac_part *p)
{
    CU_ASSERT_EQUAL_FATAL(ac_fake_add_part(x->f, p), 0);
}

/* A tool call on the last (assistant) message. */
static void tool_call(fx *x, const char *id, const char *name, const char *args)
{
    ac_part p = { .struct_size = sizeof p, .type = AC_PART_TOOL_CALL, .id = id,
                  .name = name, .arguments = args };
    part(x, &p);
}

/* A tool message answering call id. */
static void tool_result(fx *x, const char *id, const char *text, int is_error)
{
    msg(x, AC_ROLE_TOOL, NULL);
    ac_part p = { .struct_size = sizeof p, .type = AC_PART_TOOL_RESULT, .id = id,
                  .text = text, .text_len = strlen(text), .is_error = is_error };
    part(x, &p);
}

static void tool(fx *x, const char *name, const char *description, const char *schema)
{
    CU_ASSERT_EQUAL_FATAL(ac_fake_add_tool(x->f, name, description, schema), 0);
}

static json_object *path(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_get_ex(o, key, &v);
    return v;
}

static json_object *at(json_object *a, size_t i)
{
    if (!a || !json_object_is_type(a, json_type_array) || i >= json_object_array_length(a))
        return NULL;
    return json_object_array_get_idx(a, i);
}

/* Header `name` is `want`. */
static int header_is(const fx *x, const char *name, const char *value)
{
    const char *v = ac_fake_header(x->f, name);
    return v && strcmp(v, value) == 0;
}

/* The descriptor: ABI 2, features by what build_request understands. */
static void test_descriptor(void)
{
    CU_ASSERT_EQUAL(fvt->abi_major, AC_ABI_MAJOR);
    CU_ASSERT_EQUAL(fvt->abi_minor, AC_ABI_MINOR);
    CU_ASSERT_STRING_EQUAL(fvt->name, "anthropic");
    CU_ASSERT_TRUE(fvt->description && strstr(fvt->description, "Anthropic"));
    CU_ASSERT_EQUAL(fvt->features,
                    AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES);
    CU_ASSERT_PTR_NOT_NULL(fvt->parse_event);
    CU_ASSERT_PTR_NOT_NULL(fvt->build_models_request);
    CU_ASSERT_PTR_NULL(fvt->run_local);
}

/* The recorded first turn of the weather conversation: same model,
 * max_tokens, system text, user text, tool and tool_choice. */
static void test_request_tool_use(void)
{
    size_t len;
    char *rec_text = tu_fixture("anthropic_messages_tool_use.request.json", &len);
    json_object *rec = json_tokener_parse(rec_text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
    const char *schema = json_object_to_json_string(path(at(path(rec, "tools"), 0),
                                                         "input_schema"));
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_SYSTEM, "You are a helpful assistant");
    msg(&x, AC_ROLE_USER, "What's the weather in Florence,Italy?");
    tool(&x, "weather", "Get weather information for a location", schema);
    ac_gen_request *g = ac_fake_request(x.f);
    g->has_max_tokens = 1;
    g->max_tokens = 4000;
    g->tool_choice = "auto";
    g->has_seed = 1; /* no seed on this API: dropped */
    g->seed = 7;

    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(ac_fake_method(x.f), "POST");
    CU_ASSERT_STRING_EQUAL(ac_fake_url(x.f), "https://api.anthropic.com/v1/messages");
    CU_ASSERT_EQUAL(ac_fake_framing(x.f), AC_FRAMING_NONE);
    CU_ASSERT_TRUE(header_is(&x, "x-api-key", "test"));
    CU_ASSERT_TRUE(header_is(&x, "anthropic-version", "2023-06-01"));
    CU_ASSERT_TRUE(header_is(&x, "content-type", "application/json"));
    CU_ASSERT_PTR_NULL(ac_fake_header(x.f, "anthropic-beta"));

    CU_ASSERT_TRUE(json_object_equal(path(b, "model"), path(rec, "model")));
    CU_ASSERT_TRUE(json_object_equal(path(b, "max_tokens"), path(rec, "max_tokens")));
    /* system is top level (a string here, a block array in the recording) */
    CU_ASSERT_STRING_EQUAL(json_object_get_string(path(b, "system")),
                           jstr(at(path(rec, "system"), 0), "text"));
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 1);
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 0), "role"), "user");
    CU_ASSERT_TRUE(json_object_equal(path(at(msgs, 0), "content"),
                                     path(at(path(rec, "messages"), 0), "content")));
    CU_ASSERT_TRUE(json_object_equal(path(b, "tools"), path(rec, "tools")));
    CU_ASSERT_STRING_EQUAL(jstr(path(b, "tool_choice"), "type"), "auto");
    CU_ASSERT_PTR_NULL(path(b, "seed"));
    CU_ASSERT_PTR_NULL(path(b, "stream"));
    json_object_put(b);
    fx_free(&x);
    json_object_put(rec);
    free(rec_text);
}

/* The recorded second turn: the assistant's tool_use block sent back
 * unchanged and the result as a user tool_result block. */
static void test_request_tool_result(void)
{
    size_t len;
    char *rec_text = tu_fixture("anthropic_messages_tool_result.request.json", &len);
    json_object *rec = json_tokener_parse(rec_text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
    json_object *rmsgs = path(rec, "messages");
    const char *schema = json_object_to_json_string(path(at(path(rec, "tools"), 0),
                                                         "input_schema"));
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_SYSTEM, "You are a helpful assistant");
    msg(&x, AC_ROLE_USER, "What's the weather in Florence,Italy?");
    msg(&x, AC_ROLE_ASSISTANT, "I'll check the weather in Florence, Italy for you.");
    tool_call(&x, "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "weather", "{\"location\":\"Florence,Italy\"}");
    tool_result(&x, "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "40 C", 0);
    tool(&x, "weather", "Get weather information for a location", schema);
    ac_gen_request *g = ac_fake_request(x.f);
    g->has_max_tokens = 1;
    g->max_tokens = 4000;
    g->stream = 1;

    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(ac_fake_framing(x.f), AC_FRAMING_SSE);
    CU_ASSERT_TRUE(json_object_get_boolean(path(b, "stream")));
    CU_ASSERT_PTR_NULL(path(b, "tool_choice"));
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
    /* user turn and assistant turn exactly as recorded */
    CU_ASSERT_TRUE(json_object_equal(at(msgs, 0), at(rmsgs, 0)));
    CU_ASSERT_TRUE(json_object_equal(at(msgs, 1), at(rmsgs, 1)));
    /* the result: a user message holding one tool_result block */
    json_object *res = at(path(at(msgs, 2), "content"), 0);
    json_object *rres = at(path(at(rmsgs, 2), "content"), 0);
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 2), "role"), "user");
    CU_ASSERT_EQUAL(json_object_array_length(path(at(msgs, 2), "content")), 1);
    CU_ASSERT_STRING_EQUAL(jstr(res, "type"), "tool_result");
    CU_ASSERT_STRING_EQUAL(jstr(res, "tool_use_id"), jstr(rres, "tool_use_id"));
    CU_ASSERT_STRING_EQUAL(jstr(res, "content"), jstr(at(path(rres, "content"), 0), "text"));
    CU_ASSERT_PTR_NULL(path(res, "is_error"));
    json_object_put(b);
    fx_free(&x);
    json_object_put(rec);
    free(rec_text);
}

/* The live streaming request: stream:true and SSE framing. */
static void test_request_stream_live(void)
{
    size_t len;
    char *rec_text = tu_fixture("anthropic_stream_tool_use_live.request.json", &len);
    json_object *rec = json_tokener_parse(rec_text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_SYSTEM, "You are a helpful assistant");
    msg(&x, AC_ROLE_USER, "What's the weather in Florence,Italy?");
    ac_gen_request *g = ac_fake_request(x.f);
    g->has_max_tokens = 1;
    g->max_tokens = 4000;
    g->stream = 1;
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_TRUE(json_object_equal(path(b, "stream"), path(rec, "stream")));
    CU_ASSERT_TRUE(json_object_equal(path(b, "messages"), path(rec, "messages")));
    CU_ASSERT_EQUAL(ac_fake_framing(x.f), AC_FRAMING_SSE);
    json_object_put(b);
    fx_free(&x);
    json_object_put(rec);
    free(rec_text);
}

/* The fixture's plain text request: with no max_tokens set, 4096 is sent
 * (the API requires one); a model of "" uses the default. */
static void test_request_defaults(void)
{
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_SYSTEM, "One.");
    msg(&x, AC_ROLE_USER, "Say hi in Portuguese");
    msg(&x, AC_ROLE_SYSTEM, "Two.");
    ac_gen_request *g = ac_fake_request(x.f);
    g->model = "";
    g->has_temperature = 1;
    g->temperature = 0.7;
    g->has_top_p = 1;
    g->top_p = 0.9;
    static const char *const stops[] = { "END", "\n\n" };
    g->stop = stops;
    g->n_stop = 2;
    g->tool_choice = "required"; /* no tools: no tool_choice */
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(json_object_get_int(path(b, "max_tokens")), 4096);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(path(b, "model")), "claude-haiku-4-5");
    /* two system messages: both, in order, as text blocks */
    json_object *sys = path(b, "system");
    CU_ASSERT_EQUAL(json_object_array_length(sys), 2);
    CU_ASSERT_STRING_EQUAL(jstr(at(sys, 0), "text"), "One.");
    CU_ASSERT_STRING_EQUAL(jstr(at(sys, 1), "text"), "Two.");
    CU_ASSERT_EQUAL(json_object_array_length(path(b, "messages")), 1);
    const char *body = ac_fake_body(x.f, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"temperature\":0.7,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"top_p\":0.9"));
    /* "\n\n" is refused by the API ("stop_sequences: each stop sequence
     * must contain non-whitespace", BerriAI/litellm#3286): not sent. */
    CU_ASSERT_EQUAL(json_object_array_length(path(b, "stop_sequences")), 1);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(at(path(b, "stop_sequences"), 0)), "END");
    CU_ASSERT_PTR_NULL(path(b, "stop"));
    CU_ASSERT_PTR_NULL(path(b, "tools"));
    CU_ASSERT_PTR_NULL(path(b, "tool_choice"));
    json_object_put(b);
    fx_free(&x);
}

/* The history of test_request_tools_and_json: a prompt with two images
 * attached, two parallel calls (one cut off), their results, thanks. */
static void tools_history(fx *x)
{
    msg(x, AC_ROLE_USER, "Look");
    ac_part img = { .struct_size = sizeof img, .type = AC_PART_IMAGE,
                    .mime_type = "image/png", .data_base64 = "iVBORw0KGgo=", .data_len = 8 };
    part(x, &img);
    ac_part url = { .struct_size = sizeof url, .type = AC_PART_IMAGE,
                    .url = "https://example.com/x.jpg" };
    part(x, &url);
    msg(x, AC_ROLE_ASSISTANT, "");
    tool_call(x, "t1", "a", "{}");
    tool_call(x, "t2", "b", "{\"x\":1" /* cut off */);
    tool_result(x, "t1", "r1", 0);
    tool_result(x, "t2", "r2", 0);
    msg(x, AC_ROLE_USER, "Thanks");
    tool(x, "a", NULL, "{\"type\":\"object\"}");
    tool(x, "b", "B", "{\"type\":\"object\",\"properties\":{}}");
}

/* tool_choice mapping, parallel tool results merged into one user
 * message, images, and structured output in both modes. */
static void test_request_tools_and_json(void)
{
    static const struct { const char *choice, *type, *name; } choices[] = {
        { "auto", "auto", NULL }, { "none", "none", NULL },
        { "required", "any", NULL }, { "b", "tool", "b" },
    };
    for (size_t c = 0; c < N_OF(choices); c++) {
        fx x;
        fx_ready(&x);
        tools_history(&x);
        ac_fake_request(x.f)->tool_choice = choices[c].choice;
        ac_status rc;
        json_object *b = fx_build(&x, &rc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        json_object *tc = path(b, "tool_choice");
        CU_ASSERT_STRING_EQUAL(jstr(tc, "type"), choices[c].type);
        if (choices[c].name)
            CU_ASSERT_STRING_EQUAL(jstr(tc, "name"), choices[c].name);
        if (c == 0) {
            json_object *msgs = path(b, "messages");
            CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
            /* the attached images go before the prompt's text */
            json_object *u = path(at(msgs, 0), "content");
            CU_ASSERT_STRING_EQUAL(jstr(at(u, 0), "type"), "image");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 0), "source"), "type"), "base64");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 0), "source"), "media_type"), "image/png");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 0), "source"), "data"), "iVBORw0KGgo=");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 1), "source"), "type"), "url");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 1), "source"), "url"),
                                   "https://example.com/x.jpg");
            CU_ASSERT_STRING_EQUAL(jstr(at(u, 2), "text"), "Look");
            json_object *a = path(at(msgs, 1), "content");
            CU_ASSERT_EQUAL(json_object_array_length(a), 2); /* no empty text block */
            CU_ASSERT_STRING_EQUAL(jstr(at(a, 1), "id"), "t2");
            CU_ASSERT_EQUAL(json_object_object_length(path(at(a, 1), "input")), 0);
            json_object *t = path(at(msgs, 2), "content");
            CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 2), "role"), "user");
            CU_ASSERT_EQUAL(json_object_array_length(t), 3);
            CU_ASSERT_STRING_EQUAL(jstr(at(t, 0), "tool_use_id"), "t1");
            CU_ASSERT_STRING_EQUAL(jstr(at(t, 1), "tool_use_id"), "t2");
            CU_ASSERT_STRING_EQUAL(jstr(at(t, 2), "text"), "Thanks");
            CU_ASSERT_PTR_NULL(path(at(path(b, "tools"), 0), "description"));
        }
        json_object_put(b);
        fx_free(&x);
    }

    /* Structured output, default (tool) mode: a forced extra tool. */
    static const char schema[] = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}";
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "Thanks");
    ac_fake_request(x.f)->json_schema = schema;
    ac_fake_request(x.f)->json_schema_name = "thing";
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(jstr(at(path(b, "tools"), 0), "name"), "ac_json_response");
    CU_ASSERT_PTR_NOT_NULL(strstr(jstr(at(path(b, "tools"), 0), "description"), "'thing'"));
    CU_ASSERT_STRING_EQUAL(jstr(path(b, "tool_choice"), "name"), "ac_json_response");
    CU_ASSERT_STRING_EQUAL(jstr(path(b, "tool_choice"), "type"), "tool");
    CU_ASSERT_PTR_NULL(path(b, "output_config"));
    json_object_put(b);
    fx_free(&x);

    /* ... and the native form when configured. */
    fx_new(&x);
    CU_ASSERT_EQUAL(ac_fake_set(x.f, "structured_output", "output_config"), 0);
    CU_ASSERT_EQUAL_FATAL(fx_init(&x), AC_OK);
    msg(&x, AC_ROLE_USER, "Thanks");
    ac_fake_request(x.f)->json_schema = schema;
    ac_fake_request(x.f)->json_schema_name = "thing";
    b = fx_build(&x, &rc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    json_object *fmt = path(path(b, "output_config"), "format");
    CU_ASSERT_STRING_EQUAL(jstr(fmt, "type"), "json_schema");
    CU_ASSERT_STRING_EQUAL(jstr(path(fmt, "schema"), "type"), "object");
    CU_ASSERT_PTR_NULL(path(b, "tools"));
    json_object_put(b);
    /* a schema that is not a JSON object is the caller's error */
    ac_fake_request(x.f)->json_schema = "[1]";
    CU_ASSERT_PTR_NULL(fx_build(&x, &rc));
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "json_schema is not a JSON object"));
    fx_free(&x);

    /* Tool parameters that are not a JSON object: the caller's error too,
     * naming the tool; nothing is built. */
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "Thanks");
    tool(&x, "a", NULL, "[]");
    b = fx_build(&x, &rc);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_EQUAL(ac_fake_error(x.f)->code, AC_EINVAL);
    CU_ASSERT_EQUAL(ac_fake_error(x.f)->stage, AC_STAGE_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "tool 'a'"));
    CU_ASSERT_STRING_EQUAL(ac_fake_body(x.f, NULL), "");
    fx_free(&x);
}

/* Image parts: base64 bytes (with their media type), an http(s) URL, a
 * data: URL given as the URL; interleaved text keeps its place. */
static void test_request_images(void)
{
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "Image 1:");
    ac_part jpg = { .struct_size = sizeof jpg, .type = AC_PART_IMAGE,
                    .mime_type = "image/jpeg", .data_base64 = "/9j/4AAQ", .data_len = 6 };
    part(&x, &jpg);
    ac_part t2 = { .struct_size = sizeof t2, .type = AC_PART_TEXT, .text = "Image 2:",
                   .text_len = 8 };
    part(&x, &t2);
    ac_part url = { .struct_size = sizeof url, .type = AC_PART_IMAGE,
                    .url = "https://example.com/cat.png" };
    part(&x, &url);
    ac_part data = { .struct_size = sizeof data, .type = AC_PART_IMAGE,
                     .url = "data:image/webp;base64,UklGRg==" };
    part(&x, &data);
    ac_part t3 = { .struct_size = sizeof t3, .type = AC_PART_TEXT, .text = "Compare them.",
                   .text_len = 13 };
    part(&x, &t3);
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    json_object *c = path(at(path(b, "messages"), 0), "content");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(c), 6);
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 0), "text"), "Image 1:");
    json_object *s = path(at(c, 1), "source");
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 1), "type"), "image");
    CU_ASSERT_STRING_EQUAL(jstr(s, "type"), "base64");
    CU_ASSERT_STRING_EQUAL(jstr(s, "media_type"), "image/jpeg");
    CU_ASSERT_STRING_EQUAL(jstr(s, "data"), "/9j/4AAQ");
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 2), "text"), "Image 2:");
    s = path(at(c, 3), "source");
    CU_ASSERT_STRING_EQUAL(jstr(s, "type"), "url");
    CU_ASSERT_STRING_EQUAL(jstr(s, "url"), "https://example.com/cat.png");
    CU_ASSERT_PTR_NULL(path(s, "data"));
    s = path(at(c, 4), "source");
    CU_ASSERT_STRING_EQUAL(jstr(s, "type"), "base64");
    CU_ASSERT_STRING_EQUAL(jstr(s, "media_type"), "image/webp");
    CU_ASSERT_STRING_EQUAL(jstr(s, "data"), "UklGRg==");
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 5), "text"), "Compare them.");
    json_object_put(b);
    fx_free(&x);

    /* An image alone is a whole prompt; one with neither data nor URL is
     * refused. */
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, NULL);
    part(&x, &url);
    b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_EQUAL(json_object_array_length(path(at(path(b, "messages"), 0), "content")), 1);
    json_object_put(b);
    ac_part none = { .struct_size = sizeof none, .type = AC_PART_IMAGE, .mime_type = "image/png" };
    part(&x, &none);
    CU_ASSERT_PTR_NULL(fx_build(&x, &rc));
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "neither data nor a URL"));
    fx_free(&x);
}

/* File parts: labelled text blocks, before the prompt they are attached
 * to; in a system message, part of the system blocks. */
static void test_request_files(void)
{
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_SYSTEM, "Answer from the notes.");
    ac_part style = { .struct_size = sizeof style, .type = AC_PART_FILE, .name = "style.md",
                      .mime_type = "text/markdown", .text = "Be brief.", .text_len = 9 };
    part(&x, &style);
    msg(&x, AC_ROLE_USER, "Summarize.");
    ac_part notes = { .struct_size = sizeof notes, .type = AC_PART_FILE, .name = "notes.txt",
                      .mime_type = "text/plain", .text = "line 1\nline 2", .text_len = 13 };
    part(&x, &notes);
    ac_part anon = { .struct_size = sizeof anon, .type = AC_PART_FILE,
                     .mime_type = "application/pdf", .text = "", .text_len = 0 };
    part(&x, &anon);
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    json_object *sys = path(b, "system");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(sys), 2);
    CU_ASSERT_STRING_EQUAL(jstr(at(sys, 0), "text"), "Answer from the notes.");
    CU_ASSERT_STRING_EQUAL(jstr(at(sys, 1), "text"), "[file: style.md]\nBe brief.");
    json_object *c = path(at(path(b, "messages"), 0), "content");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(c), 3);
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 0), "type"), "text");
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 0), "text"), "[file: notes.txt]\nline 1\nline 2");
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 1), "text"), "[file: document]\n");
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 2), "text"), "Summarize.");
    json_object_put(b);
    fx_free(&x);
}

/* Tool results: each a tool_result block, is_error when the tool failed,
 * consecutive ones (separate messages, or parts of one) grouped in one
 * user message, results before the text that follows them. */
static void test_request_tool_results_grouped(void)
{
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "Weather in Paris, Rome and Oslo?");
    msg(&x, AC_ROLE_ASSISTANT, "Checking.");
    tool_call(&x, "toolu_1", "weather", "{\"location\":\"Paris\"}");
    tool_call(&x, "toolu_2", "weather", "{\"location\":\"Rome\"}");
    tool_call(&x, "toolu_3", "weather", "{\"location\":\"Oslo\"}");
    tool_result(&x, "toolu_1", "22 C", 0);
    tool_result(&x, "toolu_2", "station offline", 1);
    ac_part r3 = { .struct_size = sizeof r3, .type = AC_PART_TOOL_RESULT, .id = "toolu_3",
                   .name = "weather", .text = "9 C", .text_len = 3 };
    part(&x, &r3); /* a second result in the same tool message */
    msg(&x, AC_ROLE_USER, "And tomorrow?");
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 1), "role"), "assistant");
    CU_ASSERT_EQUAL(json_object_array_length(path(at(msgs, 1), "content")), 4);
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 2), "role"), "user");
    json_object *c = path(at(msgs, 2), "content");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(c), 4);
    static const char *const ids[] = { "toolu_1", "toolu_2", "toolu_3" };
    static const char *const texts[] = { "22 C", "station offline", "9 C" };
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(jstr(at(c, i), "type"), "tool_result");
        CU_ASSERT_STRING_EQUAL(jstr(at(c, i), "tool_use_id"), ids[i]);
        CU_ASSERT_STRING_EQUAL(jstr(at(c, i), "content"), texts[i]);
        json_object *e = path(at(c, i), "is_error");
        if (i == 1) {
            CU_ASSERT_TRUE(e && json_object_is_type(e, json_type_boolean) &&
                           json_object_get_boolean(e));
        } else {
            CU_ASSERT_PTR_NULL(e);
        }
    }
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 3), "text"), "And tomorrow?");
    json_object_put(b);
    fx_free(&x);
}

/* A part this API cannot take where it is, or of a type the plugin does
 * not know, fails the request with AC_EUNSUPPORTED naming it: never
 * dropped in silence.  Nothing is built. */
static void test_request_unsupported_parts(void)
{
    static const struct {
        ac_role role;
        ac_part_type type;
        const char *want;
    } cases[] = {
        { AC_ROLE_USER, (ac_part_type)99, "type 99" },
        { AC_ROLE_ASSISTANT, (ac_part_type)0, "type 0" },
        { AC_ROLE_ASSISTANT, AC_PART_IMAGE, "no image part in assistant messages" },
        { AC_ROLE_ASSISTANT, AC_PART_FILE, "no file part in assistant messages" },
        { AC_ROLE_USER, AC_PART_TOOL_CALL, "no tool call part in user messages" },
        { AC_ROLE_USER, AC_PART_TOOL_RESULT, "no tool result part in user messages" },
        { AC_ROLE_TOOL, AC_PART_TEXT, "no text part in tool messages" },
        { AC_ROLE_SYSTEM, AC_PART_IMAGE, "no image part in system messages" },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        fx x;
        fx_ready(&x);
        msg(&x, AC_ROLE_USER, "Hi");
        msg(&x, cases[i].role, NULL);
        ac_part p = { .struct_size = sizeof p, .type = cases[i].type, .text = "x", .text_len = 1,
                      .url = "https://example.com/a.png", .id = "i", .name = "n",
                      .arguments = "{}" };
        part(&x, &p);
        msg(&x, AC_ROLE_USER, "Go on");
        ac_status rc;
        CU_ASSERT_PTR_NULL(fx_build(&x, &rc));
        CU_ASSERT_EQUAL(rc, AC_EUNSUPPORTED);
        const ac_error *e = ac_fake_error(x.f);
        CU_ASSERT_EQUAL(e->code, AC_EUNSUPPORTED);
        CU_ASSERT_EQUAL(e->stage, AC_STAGE_REQUEST);
        if (!strstr(e->message, cases[i].want))
            fprintf(stderr, "case %zu: \"%s\"\n", i, e->message);
        CU_ASSERT_PTR_NOT_NULL(strstr(e->message, cases[i].want));
        CU_ASSERT_PTR_NOT_NULL(strstr(e->message, "message 1"));
        CU_ASSERT_STRING_EQUAL(ac_fake_body(x.f, NULL), "");
        CU_ASSERT_STRING_EQUAL(ac_fake_url(x.f), "");
        fx_free(&x);
    }
    /* A role that is none of the four. */
    fx x;
    fx_ready(&x);
    msg(&x, (ac_role)42, "?");
    ac_status rc;
    CU_ASSERT_PTR_NULL(fx_build(&x, &rc));
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "unknown role 42"));
    fx_free(&x);
}

/* 1 if any text block anywhere in the body (system included) holds
 * nothing but white space. */
static int has_blank_text_block(json_object *o)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (has_blank_text_block(json_object_array_get_idx(o, i)))
                return 1;
        return 0;
    }
    if (!json_object_is_type(o, json_type_object))
        return 0;
    const char *type = jstr(o, "type"), *text = jstr(o, "text");
    if (type && strcmp(type, "text") == 0 && text &&
        text[strspn(text, " \t\r\n")] == '\0')
        return 1;
    json_object_object_foreach(o, k, v) {
        (void)k;
        if (has_blank_text_block(v))
            return 1;
    }
    return 0;
}

/* Regression: the API refuses a request holding an empty text block
 * ("messages: text content blocks must be non-empty") or one of white
 * space only ("... must contain non-whitespace text").  An empty reply
 * kept in a session (a refusal, a turn that ended at once) used to go back
 * as {"type":"text","text":""} and every later turn of the session failed
 * with 400.  Blank text is now left out, messages left empty are dropped
 * and their neighbours merged, so roles still alternate.  (Constructed
 * history; the rejection messages are the API's, as reported in
 * anthropics/claude-code#23440 and home-assistant/core#175637.) */
static void test_request_blank_text(void)
{
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_SYSTEM, " \n");
    msg(&x, AC_ROLE_USER, "Hi");
    msg(&x, AC_ROLE_ASSISTANT, "");                 /* an empty reply */
    msg(&x, AC_ROLE_USER, "Still there?");
    msg(&x, AC_ROLE_ASSISTANT, "\n\n");
    tool_call(&x, "toolu_1", "weather", "{\"location\":\"Paris\"}");
    tool_result(&x, "toolu_1", "", 0);
    msg(&x, AC_ROLE_USER, "  ");
    msg(&x, AC_ROLE_ASSISTANT, NULL);               /* no part at all */
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_FALSE(has_blank_text_block(b));
    CU_ASSERT_PTR_NULL(path(b, "system"));          /* blank: no system */
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
    /* The two questions, merged around the dropped empty reply. */
    json_object *u = path(at(msgs, 0), "content");
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 0), "role"), "user");
    CU_ASSERT_EQUAL(json_object_array_length(u), 2);
    CU_ASSERT_STRING_EQUAL(jstr(at(u, 0), "text"), "Hi");
    CU_ASSERT_STRING_EQUAL(jstr(at(u, 1), "text"), "Still there?");
    /* The tool call without its blank preamble. */
    json_object *a = path(at(msgs, 1), "content");
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 1), "role"), "assistant");
    CU_ASSERT_EQUAL(json_object_array_length(a), 1);
    CU_ASSERT_STRING_EQUAL(jstr(at(a, 0), "type"), "tool_use");
    /* The (empty) result is still sent: the API pairs it with the call. */
    json_object *t = path(at(msgs, 2), "content");
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 2), "role"), "user");
    CU_ASSERT_EQUAL(json_object_array_length(t), 1);
    CU_ASSERT_STRING_EQUAL(jstr(at(t, 0), "type"), "tool_result");
    CU_ASSERT_STRING_EQUAL(jstr(at(t, 0), "tool_use_id"), "toolu_1");
    json_object_put(b);
    fx_free(&x);

    /* Stop sequences of white space only are refused too ("stop_sequences:
     * each stop sequence must contain non-whitespace"): none left, no
     * field. */
    static const char *const blank_stops[] = { "\n", " \t", "" };
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "Hi");
    ac_fake_request(x.f)->stop = blank_stops;
    ac_fake_request(x.f)->n_stop = 3;
    b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_FALSE(tu_jhas(b, "stop_sequences"));
    json_object_put(b);
    fx_free(&x);

    /* Nothing but blank text: refused here, with a message that says so,
     * rather than sent for a 400. */
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "  ");
    msg(&x, AC_ROLE_ASSISTANT, NULL);
    CU_ASSERT_PTR_NULL(fx_build(&x, &rc));
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_EQUAL(ac_fake_error(x.f)->stage, AC_STAGE_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "empty"));
    fx_free(&x);

    /* A blank prompt after a reply: left out, the reply would become a
     * prefill the model continues.  Refused the same way. */
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "Hi");
    msg(&x, AC_ROLE_ASSISTANT, "Hello!");
    msg(&x, AC_ROLE_USER, " \n");
    CU_ASSERT_PTR_NULL(fx_build(&x, &rc));
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "the last message is empty"));
    fx_free(&x);
}

/* 1 if s matches ^[a-zA-Z0-9_-]+$, the API's pattern for tool ids. */
static int id_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Regression: a session that moves here from another backend carries that
 * backend's tool-call ids, and the API refuses any id outside
 * ^[a-zA-Z0-9_-]+$ with a 400 ("messages.1.content.0.tool_use.id: String
 * should match pattern").  The HF router (groq backend) names its calls
 * "functions.weather:0" (docs/protocols.md 1, tool-call deltas).  Such an
 * id is now rewritten, the same way in tool_use and tool_result, so the
 * pair still matches; an id that differs from it only in those characters
 * stays a different id; valid ids are sent unchanged.  (Constructed
 * history.) */
static void test_request_foreign_tool_ids(void)
{
    fx x;
    fx_ready(&x);
    msg(&x, AC_ROLE_USER, "Weather in Paris, Rome and Oslo?");
    msg(&x, AC_ROLE_ASSISTANT, NULL);
    tool_call(&x, "functions.weather:0", "weather", "{\"location\":\"Paris\"}");
    tool_call(&x, "functions_weather_0", "weather", "{\"location\":\"Rome\"}");
    tool_call(&x, "call_Ab-9", "weather", "{\"location\":\"Oslo\"}");
    tool_result(&x, "functions.weather:0", "22 C", 0);
    tool_result(&x, "functions_weather_0", "25 C", 0);
    tool_result(&x, "call_Ab-9", "9 C", 0);
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
    json_object *uses = path(at(msgs, 1), "content");
    json_object *results = path(at(msgs, 2), "content");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(uses), 3);
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(results), 3);
    for (size_t i = 0; i < 3; i++) {
        const char *use = jstr(at(uses, i), "id");
        const char *res = jstr(at(results, i), "tool_use_id");
        CU_ASSERT_TRUE(id_ok(use));
        CU_ASSERT_TRUE(use && res && strcmp(use, res) == 0);
    }
    CU_ASSERT_STRING_EQUAL(jstr(at(uses, 1), "id"), "functions_weather_0");
    CU_ASSERT_STRING_EQUAL(jstr(at(uses, 2), "id"), "call_Ab-9");
    CU_ASSERT_STRING_NOT_EQUAL(jstr(at(uses, 0), "id"), jstr(at(uses, 1), "id"));
    json_object_put(b);
    fx_free(&x);
}

/* Each of the host's allocations failing in turn while requests with
 * every kind of part are built (rewritten ids, files, the structured
 * output tool's description, the body's text): out of memory, reported,
 * never a crash or a leak (run under valgrind). */
static void test_request_alloc_failures(void)
{
    for (int kind = 0; kind < 2; kind++) {
        fx x;
        ac_status rc;
        fx_ready(&x);
        msg(&x, AC_ROLE_SYSTEM, "S");
        ac_part doc = { .struct_size = sizeof doc, .type = AC_PART_FILE, .name = "a.txt",
                        .text = "A", .text_len = 1 };
        part(&x, &doc);
        msg(&x, AC_ROLE_USER, "Q");
        part(&x, &doc);
        msg(&x, AC_ROLE_ASSISTANT, NULL);
        tool_call(&x, "functions.weather:0", "weather", "{\"location\":\"Paris\"}");
        tool_result(&x, "functions.weather:0", "22 C", 1);
        if (kind == 1) {
            ac_fake_request(x.f)->json_schema = "{\"type\":\"object\"}";
            ac_fake_request(x.f)->json_schema_name = "answer";
        }
        int completed = 0, failed = 0;
        for (long n = 0; n < 200 && !completed; n++) {
            ac_fake_fail_after(x.f, n);
            json_object *b = fx_build(&x, &rc);
            ac_fake_fail_after(x.f, -1);
            if (rc == AC_OK) {
                completed = 1;
                CU_ASSERT_PTR_NOT_NULL(b);
            } else {
                failed++;
                CU_ASSERT_EQUAL(rc, AC_ENOMEM);
                CU_ASSERT_EQUAL(ac_fake_error(x.f)->code, AC_ENOMEM);
            }
            json_object_put(b);
        }
        CU_ASSERT_TRUE(completed);
        CU_ASSERT_TRUE(failed >= 3);
        fx_free(&x);
    }
}

/* Settings: base_url (with or without /v1), max_tokens, version, beta. */
static void test_settings(void)
{
    static const struct { const char *base, *want; } urls[] = {
        { "http://127.0.0.1:9", "http://127.0.0.1:9/v1/messages" },
        { "http://127.0.0.1:9/", "http://127.0.0.1:9/v1/messages" },
        { "http://127.0.0.1:9/v1/", "http://127.0.0.1:9/v1/messages" },
    };
    ac_status rc;
    json_object *b;
    for (size_t i = 0; i < N_OF(urls); i++) {
        fx x;
        fx_new(&x);
        ac_fake_set(x.f, "base_url", urls[i].base);
        CU_ASSERT_EQUAL_FATAL(fx_init(&x), AC_OK);
        msg(&x, AC_ROLE_USER, "hi");
        b = fx_build(&x, &rc);
        CU_ASSERT_STRING_EQUAL(ac_fake_url(x.f), urls[i].want);
        json_object_put(b);
        fx_free(&x);
    }
    fx x;
    fx_new(&x);
    ac_fake_set(x.f, "anthropic_beta", "tools-2024-04-04");
    ac_fake_set(x.f, "anthropic_version", "2099-01-01");
    ac_fake_set_int(x.f, "max_tokens", 123);
    CU_ASSERT_EQUAL_FATAL(fx_init(&x), AC_OK);
    msg(&x, AC_ROLE_USER, "hi");
    b = fx_build(&x, &rc);
    CU_ASSERT_TRUE(header_is(&x, "anthropic-beta", "tools-2024-04-04"));
    CU_ASSERT_TRUE(header_is(&x, "anthropic-version", "2099-01-01"));
    CU_ASSERT_EQUAL(json_object_get_int(path(b, "max_tokens")), 123);
    /* the key never appears in the body */
    CU_ASSERT_PTR_NULL(strstr(ac_fake_body(x.f, NULL), "test"));
    json_object_put(b);
    fx_free(&x);

    /* Wrong settings fail init, naming the setting. */
    static const struct { const char *key, *value; int is_int; long long i; const char *want; }
    bad[] = {
        { "structured_output", "magic", 0, 0, "structured_output must be" },
        { "max_tokens", NULL, 1, 0, "max_tokens must be an integer >= 1" },
        { "max_tokens", "many", 0, 0, "max_tokens must be an integer >= 1" },
        { "base_url", NULL, 1, 5, "setting 'base_url' must be a string" },
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        fx_new(&x);
        if (bad[i].is_int)
            ac_fake_set_int(x.f, bad[i].key, bad[i].i);
        else
            ac_fake_set(x.f, bad[i].key, bad[i].value);
        CU_ASSERT_EQUAL(fx_init(&x), AC_ECONFIG);
        CU_ASSERT_EQUAL(ac_fake_error(x.f)->code, AC_ECONFIG);
        CU_ASSERT_EQUAL(ac_fake_error(x.f)->stage, AC_STAGE_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, bad[i].want));
        fx_free(&x);
    }
    /* ... and through the core. */
    CU_ASSERT_PTR_NULL(llm_make("structured_output", "magic"));
}

/* Every allocation of init failing in turn: AC_ENOMEM reported, nothing
 * leaked (valgrind), and then an instance. */
static void test_init_alloc_failures(void)
{
    int completed = 0;
    for (long n = 0; n < 50 && !completed; n++) {
        fx x;
        fx_new(&x);
        ac_fake_set(x.f, "anthropic_beta", "b");
        ac_fake_set(x.f, "default_model", "m");
        ac_fake_fail_after(x.f, n);
        ac_status rc = fx_init(&x);
        ac_fake_fail_after(x.f, -1);
        if (rc == AC_OK)
            completed = 1;
        else
            CU_ASSERT_EQUAL(rc, AC_ENOMEM);
        fx_free(&x);
    }
    CU_ASSERT_TRUE(completed);
}

/* No key anywhere: init says what to set.  (main() unset
 * ANTHROPIC_API_KEY before the core was opened.) */
static void test_no_api_key(void)
{
    ac_error err;
    memset(&err, 0, sizeof err);
    ac_llm *l = ac_llm_create(core, "anthropic", "m", NULL, &err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "provider 'anthropic': no API key: set "
                                               "ANTHROPIC_API_KEY or api_key_env"));
    ac_llm_free(l);

    /* api_key_env naming a variable that is not set: named in the error */
    ac_options *o = ac_options_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    ac_options_set(o, "api_key_env", "AC_TEST_ANTHROPIC_KEY");
    unsetenv("AC_TEST_ANTHROPIC_KEY");
    memset(&err, 0, sizeof err);
    l = ac_llm_create(core, "anthropic", "m", o, &err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "AC_TEST_ANTHROPIC_KEY"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "no API key"));
    ac_llm_free(l);
    /* ... and once it is set, an instance */
    setenv("AC_TEST_ANTHROPIC_KEY", "sk-ant-from-env", 1);
    l = ac_llm_create(core, "anthropic", "m", o, &err);
    CU_ASSERT_PTR_NOT_NULL(l);
    ac_llm_free(l);
    unsetenv("AC_TEST_ANTHROPIC_KEY");
    ac_options_free(o);

    /* The same on the fake host, and the key is the one sent. */
    fx x;
    x.f = ac_fake_new();
    x.st = NULL;
    CU_ASSERT_EQUAL(fx_init(&x), AC_ECONFIG);
    CU_ASSERT_STRING_EQUAL(ac_fake_secret_default_env(x.f), "ANTHROPIC_API_KEY");
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "no API key"));
    ac_fake_set(x.f, "api_key_env", "AC_TEST_ANTHROPIC_KEY");
    ac_fake_reset(x.f);
    CU_ASSERT_EQUAL(fx_init(&x), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "AC_TEST_ANTHROPIC_KEY"));
    CU_ASSERT_PTR_NULL(strstr(ac_fake_error(x.f)->message, "no API key"));
    ac_fake_setenv(x.f, "AC_TEST_ANTHROPIC_KEY", "sk-ant-from-env");
    ac_fake_reset(x.f);
    CU_ASSERT_EQUAL_FATAL(fx_init(&x), AC_OK);
    msg(&x, AC_ROLE_USER, "hi");
    ac_status rc;
    json_object *b = fx_build(&x, &rc);
    CU_ASSERT_TRUE(header_is(&x, "x-api-key", "sk-ant-from-env"));
    json_object_put(b);
    fx_free(&x);
}

/* GET /v1/models and its reply (the shape of docs/protocols.md 2). */
static void test_models(void)
{
    fx x;
    fx_ready(&x);
    CU_ASSERT_EQUAL(fvt->build_models_request(x.st, ac_fake_http(x.f), ac_fake_call(x.f)),
                    AC_OK);
    CU_ASSERT_STRING_EQUAL(ac_fake_method(x.f), "GET");
    CU_ASSERT_STRING_EQUAL(ac_fake_url(x.f), "https://api.anthropic.com/v1/models?limit=1000");
    CU_ASSERT_TRUE(header_is(&x, "x-api-key", "test"));
    CU_ASSERT_TRUE(header_is(&x, "anthropic-version", "2023-06-01"));
    CU_ASSERT_PTR_NULL(ac_fake_header(x.f, "content-type"));

    const char *body = "{\"data\":[{\"type\":\"model\",\"id\":\"claude-sonnet-4-20250514\","
                       "\"display_name\":\"Claude Sonnet 4\",\"created_at\":\"2025-05-22T00:00:00Z\"},"
                       "{\"type\":\"model\",\"id\":\"claude-3-5-haiku-20241022\"},{\"id\":5}],"
                       "\"has_more\":false,\"first_id\":\"a\",\"last_id\":\"b\"}";
    ac_fake_reset(x.f);
    CU_ASSERT_EQUAL(fvt->parse_models(x.st, body, strlen(body), ac_fake_models(x.f),
                                      ac_fake_call(x.f)), AC_OK);
    CU_ASSERT_EQUAL_FATAL(ac_fake_model_count(x.f), 2);
    CU_ASSERT_STRING_EQUAL(ac_fake_model_id(x.f, 0), "claude-sonnet-4-20250514");
    CU_ASSERT_STRING_EQUAL(ac_fake_model_id(x.f, 1), "claude-3-5-haiku-20241022");

    ac_fake_reset(x.f);
    CU_ASSERT_EQUAL(fvt->parse_models(x.st, "{\"data\":{}}", 11, ac_fake_models(x.f),
                                      ac_fake_call(x.f)), AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(x.f)->message, "\"data\""));
    CU_ASSERT_EQUAL(fvt->parse_models(x.st, "<html>", 6, ac_fake_models(x.f),
                                      ac_fake_call(x.f)), AC_EJSON);
    CU_ASSERT_EQUAL(ac_fake_error(x.f)->code, AC_EJSON);
    CU_ASSERT_EQUAL(ac_fake_model_count(x.f), 0);
    fx_free(&x);
}

/* ------------------------------------------------------------------ */
/* End to end against the mock server                                   */
/* ------------------------------------------------------------------ */


/* Scenarios by model name (sdk/mock script syntax). */
static const char mock_script[] =
    "scenarios = (\n"
    "  { model = \"m-text\"; reply = \"Hello there!\"; chunks = 3; usage = [11, 6]; },\n"
    "  { model = \"m-tool\"; reply = \"Checking.\"; usage = [5, 9];\n"
    "    tool_calls = ( { id = \"toolu_1\"; name = \"weather\";\n"
    "                     arguments = \"{\\\"location\\\":\\\"Paris\\\"}\"; } ); },\n"
    "  { model = \"m-529\"; status = 529; error_message = \"Overloaded\"; },\n"
    "  { model = \"m-serr\"; reply = \"partial\"; chunks = 2; stream_error = \"Overloaded\"; }\n"
    ");\n";

static mock_server *mock;
static ac_core     *mcore;

static int mock_init(void)
{
    char errbuf[256];
    mock = mock_server_start(mock_script, 0, errbuf, sizeof errbuf);
    if (!mock) {
        fprintf(stderr, "mock_server_start: %s\n", errbuf);
        return 1;
    }
    char extra[512];
    snprintf(extra, sizeof extra,
             "providers = ( { name = \"anthropic\"; plugin = \"anthropic\"; "
             "base_url = \"%s\"; api_key = \"test\"; } );", mock_server_url(mock));
    mcore = tu_open_core(extra);
    return 0;
}

static int mock_cleanup(void)
{
    ac_core_close(mcore);
    mock_server_stop(mock);
    return 0;
}

static ac_llm *mock_llm(const char *model)
{
    ac_error err;
    ac_llm *l = ac_llm_create(mcore, "anthropic", model, NULL, &err);
    if (!l)
        fprintf(stderr, "ac_llm_create: %s\n", err.message);
    return l;
}

/* ac_generate: the reply, and the request as the server received it. */
static void test_mock_generate(void)
{
    ac_llm *l = mock_llm("m-text");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_system(p, "Be brief.");
    ac_gen_params_set_max_tokens(p, 50);
    ac_gen_params_add_stop(p, "END");
    ac_error err;
    ac_response *r = ac_generate(l, "Hi", p, &err);
    if (!r)
        fprintf(stderr, "ac_generate: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "Hello there!");
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
    CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "end_turn");
    CU_ASSERT_EQUAL(ac_response_input_tokens(r), 11);
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 6);
    ac_response_free(r);

    json_object *b = mu_last_body(mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(path(b, "model")), "m-text");
    CU_ASSERT_EQUAL(json_object_get_int(path(b, "max_tokens")), 50);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(path(b, "system")), "Be brief.");
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 1); /* system not in messages */
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 0), "role"), "user");
    CU_ASSERT_STRING_EQUAL(jstr(at(path(at(msgs, 0), "content"), 0), "text"), "Hi");
    CU_ASSERT_STRING_EQUAL(json_object_get_string(at(path(b, "stop_sequences"), 0)), "END");
    CU_ASSERT_FALSE(json_object_get_boolean(path(b, "stream")));
    json_object_put(b);
    char *h = mock_server_last_header(mock, "x-api-key");
    CU_ASSERT_TRUE(h && strcmp(h, "test") == 0);
    free(h);
    h = mock_server_last_header(mock, "anthropic-version");
    CU_ASSERT_TRUE(h && strcmp(h, "2023-06-01") == 0);
    free(h);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* ac_agenerate streaming: text arrives in pieces, usage then finish. */
static void test_mock_stream(void)
{
    ac_llm *l = mock_llm("m-text");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);
    seen s;
    memset(&s, 0, sizeof s);
    ac_callbacks cb = { .on_event = on_event };
    ac_request *q = ac_agenerate(l, "Hi", p, &cb, &s, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    ac_error err;
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_OK);
    const ac_response *r = ac_request_response(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "Hello there!");
    CU_ASSERT_STRING_EQUAL(s.text, "Hello there!");
    size_t texts = 0;
    for (size_t i = 0; i < s.n; i++)
        texts += s.types[i] == AC_EVENT_TEXT;
    CU_ASSERT_TRUE(texts >= 2);
    check_tail(&s);
    CU_ASSERT_EQUAL(s.usage_in, 11);
    CU_ASSERT_EQUAL(s.usage_out, 6);
    json_object *b = mu_last_body(mock);
    CU_ASSERT_TRUE(json_object_get_boolean(path(b, "stream")));
    CU_ASSERT_EQUAL(json_object_get_int(path(b, "max_tokens")), 4096);
    json_object_put(b);
    ac_request_free(q);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* A session with a tool round trip: the second request carries the
 * assistant's tool_use block and the tool_result, system on top. */
static void test_mock_session_tools(void)
{
    ac_llm *l = mock_llm("m-tool");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params *p = ac_gen_params_new();
    const char *schema = "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},"
                         "\"required\":[\"location\"]}";
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "weather", "Get the weather", schema), AC_OK);
    ac_session *sess = ac_session_new(l, "You are terse.");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sess);
    ac_error err;
    ac_response *r = ac_session_generate(sess, "Weather in Paris?", p, &err);
    if (!r)
        fprintf(stderr, "ac_session_generate: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 1);
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 0), "toolu_1");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 0), "weather");
    json_object *a = args_of(r, 0);
    CU_ASSERT_TRUE(a && jstr(a, "location") && strcmp(jstr(a, "location"), "Paris") == 0);
    json_object_put(a);
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "tool_calls");
    ac_response_free(r);

    json_object *b = mu_last_body(mock);
    json_object *tool = at(path(b, "tools"), 0);
    CU_ASSERT_STRING_EQUAL(jstr(tool, "name"), "weather");
    json_object *want_schema = json_tokener_parse(schema);
    CU_ASSERT_TRUE(json_object_equal(path(tool, "input_schema"), want_schema));
    json_object_put(want_schema);
    json_object_put(b);

    CU_ASSERT_EQUAL(ac_session_add_tool_result(sess, "toolu_1", NULL, "18 C"), AC_OK);
    r = ac_session_generate(sess, NULL, p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    b = mu_last_body(mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(path(b, "system")), "You are terse.");
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 1), "role"), "assistant");
    json_object *ac = path(at(msgs, 1), "content");
    json_object *use = NULL;
    for (size_t i = 0; i < json_object_array_length(ac); i++)
        if (jstr(at(ac, i), "type") && strcmp(jstr(at(ac, i), "type"), "tool_use") == 0)
            use = at(ac, i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(use);
    CU_ASSERT_STRING_EQUAL(jstr(use, "id"), "toolu_1");
    CU_ASSERT_STRING_EQUAL(jstr(use, "name"), "weather");
    CU_ASSERT_STRING_EQUAL(jstr(path(use, "input"), "location"), "Paris");
    CU_ASSERT_STRING_EQUAL(jstr(at(msgs, 2), "role"), "user");
    json_object *res = at(path(at(msgs, 2), "content"), 0);
    CU_ASSERT_STRING_EQUAL(jstr(res, "type"), "tool_result");
    CU_ASSERT_STRING_EQUAL(jstr(res, "tool_use_id"), "toolu_1");
    CU_ASSERT_STRING_EQUAL(jstr(res, "content"), "18 C");
    json_object_put(b);
    ac_session_free(sess);
    ac_gen_params_free(p);
    ac_llm_free(l);
}

/* A saved session whose first prompt had two images attached (a data:
 * URL and an http(s) URL, as ac_session_save writes them): through the
 * real core and host, the next request carries them as image blocks
 * before the prompt's text, then the reply, then the new prompt. */
static void test_mock_session_images(void)
{
    ac_llm *l = mock_llm("m-text");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    char *file = tu_write_temp(
        "{\"format\":\"abstractcore-session\",\"version\":1,\"system\":\"Be brief.\","
        "\"messages\":[{\"role\":\"user\",\"content\":\"What is this?\",\"images\":["
        "\"data:image/png;base64,iVBORw0KGgo=\",\"https://example.com/cat.jpg\"]},"
        "{\"role\":\"assistant\",\"content\":\"A cat.\"}]}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(file);
    ac_error err;
    ac_session *sess = ac_session_load(l, file, &err);
    if (!sess)
        fprintf(stderr, "ac_session_load: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sess);
    ac_response *r = ac_session_generate(sess, "And this?", NULL, &err);
    if (!r)
        fprintf(stderr, "ac_session_generate: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *b = mu_last_body(mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(path(b, "system")), "Be brief.");
    json_object *msgs = path(b, "messages");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
    json_object *c = path(at(msgs, 0), "content");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(c), 3);
    CU_ASSERT_STRING_EQUAL(jstr(path(at(c, 0), "source"), "type"), "base64");
    CU_ASSERT_STRING_EQUAL(jstr(path(at(c, 0), "source"), "media_type"), "image/png");
    CU_ASSERT_STRING_EQUAL(jstr(path(at(c, 0), "source"), "data"), "iVBORw0KGgo=");
    CU_ASSERT_STRING_EQUAL(jstr(path(at(c, 1), "source"), "type"), "url");
    CU_ASSERT_STRING_EQUAL(jstr(path(at(c, 1), "source"), "url"), "https://example.com/cat.jpg");
    CU_ASSERT_STRING_EQUAL(jstr(at(c, 2), "text"), "What is this?");
    CU_ASSERT_STRING_EQUAL(jstr(at(path(at(msgs, 1), "content"), 0), "text"), "A cat.");
    CU_ASSERT_STRING_EQUAL(jstr(at(path(at(msgs, 2), "content"), 0), "text"), "And this?");
    json_object_put(b);
    ac_session_free(sess);
    unlink(file);
    free(file);
    ac_llm_free(l);
}

/* HTTP 529 and an error event inside a 200 stream. */
static void test_mock_errors(void)
{
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_max_retries(p, 0);
    ac_llm *l = mock_llm("m-529");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_error err;
    ac_response *r = ac_generate(l, "Hi", p, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 529);
    CU_ASSERT_EQUAL(err.retryable, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 529: overloaded_error: Overloaded"));
    ac_response_free(r);
    ac_llm_free(l);

    l = mock_llm("m-serr");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params_set_stream(p, 1);
    ac_request *q = ac_agenerate(l, "Hi", p, NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_EPROTOCOL);
    CU_ASSERT_EQUAL(err.http_status, 529); /* what overloaded_error stands for */
    CU_ASSERT_EQUAL(err.retryable, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "overloaded_error: Overloaded"));
    const ac_response *rr = ac_request_response(q);
    CU_ASSERT_TRUE(rr && strcmp(ac_response_content(rr), "partial") == 0);
    ac_request_free(q);
    ac_llm_free(l);
    ac_gen_params_free(p);
}

int main(void)
{
    /* The tests decide where the key comes from. */
    unsetenv("ANTHROPIC_API_KEY");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        { "stream: text", test_stream_text },
        { "stream: tool use", test_stream_tool_use },
        { "stream: tool use (live, padded)", test_stream_tool_use_live },
        { "stream: refusal", test_stream_refusal },
        { "stream: CRLF line ends", test_stream_crlf },
        { "stream: overloaded error event", test_stream_error_overloaded },
        { "body: text", test_body_text },
        { "body: tool use", test_body_tool_use },
        { "body: after a tool result", test_body_tool_result },
        { "HTTP 429 rate limit", test_error_429 },
        { "HTTP 500 api_error", test_error_500 },
        { "HTTP 529 overloaded", test_error_529 },
        { "error types decide retryable", test_error_kinds },
        { "our key never reaches error messages", test_error_key_blanked },
        { "error bodies that are not JSON", test_error_not_json },
        { "tool call cut by max_tokens", test_tool_cut_by_max_tokens },
        { "tool without input, parallel calls", test_tool_no_input_and_parallel },
        { "thinking and server tools", test_thinking_and_server_tools },
        { "structured output tool", test_structured_output_tool },
        { "error events by type", test_stream_error_kinds },
        { "malformed events and bodies", test_malformed_events },
        { "prefixes and corruptions of a live stream", test_fuzz_live_stream },
        { "every allocation failing in turn", test_alloc_failures },
        { "request: recorded tool-use turn", test_request_tool_use },
        { "request: recorded tool-result turn", test_request_tool_result },
        { "request: recorded streaming turn", test_request_stream_live },
        { "request: defaults, system, sampling", test_request_defaults },
        { "request: tools, images, structured output", test_request_tools_and_json },
        { "request: image parts", test_request_images },
        { "request: file parts", test_request_files },
        { "request: tool results grouped, is_error", test_request_tool_results_grouped },
        { "request: unsupported parts refused", test_request_unsupported_parts },
        { "request: blank text is never a block", test_request_blank_text },
        { "request: tool ids from other backends", test_request_foreign_tool_ids },
        { "request: every allocation failing in turn", test_request_alloc_failures },
        { "descriptor", test_descriptor },
        { "settings", test_settings },
        { "init: every allocation failing in turn", test_init_alloc_failures },
        { "no API key", test_no_api_key },
        { "models", test_models },
    };
    if (TU_ADD_SUITE("anthropic", suite_init, suite_cleanup, tests))
        return 2;
    CU_pSuite m = CU_add_suite("anthropic against the mock server", mock_init, mock_cleanup);
    if (!m ||
        !CU_add_test(m, "ac_generate and the request body", test_mock_generate) ||
        !CU_add_test(m, "ac_agenerate streaming", test_mock_stream) ||
        !CU_add_test(m, "session with a tool round trip", test_mock_session_tools) ||
        !CU_add_test(m, "saved session with images", test_mock_session_images) ||
        !CU_add_test(m, "HTTP and in-stream errors", test_mock_errors))
        return 2;
    return tu_run_suites();
}
