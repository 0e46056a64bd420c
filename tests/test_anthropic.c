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
 * Requests: the plugin's build_request is called through the llm's
 * descriptor (tests link the core whole) and the body it builds is checked
 * against the recorded requests (system placement, max_tokens, tools, a
 * tool round trip in history).
 *
 * End to end: ac_generate, ac_agenerate streaming, a session with a
 * tool round trip and errors against the project's mock server on
 * 127.0.0.1, checking the body the server received.  Nothing here talks
 * to anything but 127.0.0.1.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include "core.h"
#include "http.h"
#include "alloc.h"
#include "mock_server.h"
#include "mockutil.h"
#include "replay.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int suite_init(void)
{
    core = tu_open_core(NULL);
    llm = llm_make(NULL, NULL);
    return llm ? 0 : 1;
}

static int suite_cleanup(void)
{
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
 * x-api-key"): the key never reaches the message. */
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
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "***"));
        ac_response_free(r);
    }
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
 * (PROTOCOLS.md 5.15): the call is kept, marked truncated. */
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

/* Errors inside a 200 stream, by type. */
static void test_stream_error_kinds(void)
{
    static const struct {
        const char *text;
        int status, retryable;
        const char *msg;
    } cases[] = {
        { MSG_START(1) EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                          "\"message\":\"slow down\"}}"), 429, 1, "rate_limit_error: slow down" },
        { EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
             "\"message\":\"bad\"}}"), 400, 0, "invalid_request_error: bad" },
        { EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}"),
          500, 1, "api_error: x" },
        /* the SSE event name alone marks it when "type" is missing */
        { EV("error", "{\"error\":{\"type\":\"brand_new_error\",\"message\":\"?\"}}"),
          500, 1, "brand_new_error: ?" },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        ac_error err;
        ac_response *r = replay_text(cases[i].text, AC_EPROTOCOL, &err);
        CU_ASSERT_EQUAL(err.http_status, cases[i].status);
        CU_ASSERT_EQUAL(err.retryable, cases[i].retryable);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].msg));
        ac_response_free(r);
    }
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
/* Requests                                                             */
/* ------------------------------------------------------------------ */

/* Build a request with the llm's plugin; returns the parsed body. */
static json_object *build(ac_llm *l, const ac_gen_request *g, ac_http_request *http,
                          ac_status *rc, ac_error *err)
{
    memset(http, 0, sizeof *http);
    memset(err, 0, sizeof *err);
    *rc = l->vt->build_request(l->state, g, http, err);
    if (*rc != AC_OK || !http->body)
        return NULL;
    return json_tokener_parse(http->body);
}

static int has_header(const ac_http_request *http, const char *line)
{
    for (const struct curl_slist *h = http->headers; h; h = h->next)
        if (strcmp(h->data, line) == 0)
            return 1;
    return 0;
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

static void gen_init(ac_gen_request *g, const ac_message *m, size_t n)
{
    memset(g, 0, sizeof *g);
    g->struct_size = sizeof *g;
    g->model = "claude-sonnet-4-20250514";
    g->messages = m;
    g->n_messages = n;
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
    ac_message m[2] = {
        { .role = AC_ROLE_SYSTEM, .content = "You are a helpful assistant" },
        { .role = AC_ROLE_USER, .content = "What's the weather in Florence,Italy?" },
    };
    ac_tool_def tool = { "weather", "Get weather information for a location", schema };
    ac_gen_request g;
    gen_init(&g, m, 2);
    g.has_max_tokens = 1;
    g.max_tokens = 4000;
    g.tools = &tool;
    g.n_tools = 1;
    g.tool_choice = "auto";
    g.has_seed = 1; /* no seed on this API: dropped */
    g.seed = 7;

    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(http.method, "POST");
    CU_ASSERT_STRING_EQUAL(http.url, "https://api.anthropic.com/v1/messages");
    CU_ASSERT_EQUAL(http.framing, AC_FRAMING_NONE);
    CU_ASSERT_TRUE(has_header(&http, "x-api-key: test"));
    CU_ASSERT_TRUE(has_header(&http, "anthropic-version: 2023-06-01"));
    CU_ASSERT_TRUE(has_header(&http, "content-type: application/json"));

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
    ac__http_request_clear(&http);
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
    ac_tool_call call = { "toolu_01XLb9pzgfLa2EMyqWot6Ezt", "weather",
                          "{\"location\":\"Florence,Italy\"}" };
    ac_message m[4] = {
        { .role = AC_ROLE_SYSTEM, .content = "You are a helpful assistant" },
        { .role = AC_ROLE_USER, .content = "What's the weather in Florence,Italy?" },
        { .role = AC_ROLE_ASSISTANT, .content = "I'll check the weather in Florence, Italy for you.",
          .tool_calls = &call, .n_tool_calls = 1 },
        { .role = AC_ROLE_TOOL, .content = "40 C", .tool_call_id = "toolu_01XLb9pzgfLa2EMyqWot6Ezt",
          .name = "weather" },
    };
    ac_tool_def tool = { "weather", "Get weather information for a location", schema };
    ac_gen_request g;
    gen_init(&g, m, 4);
    g.has_max_tokens = 1;
    g.max_tokens = 4000;
    g.tools = &tool;
    g.n_tools = 1;
    g.stream = 1;

    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(http.framing, AC_FRAMING_SSE);
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
    json_object_put(b);
    ac__http_request_clear(&http);
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
    ac_message m[2] = {
        { .role = AC_ROLE_SYSTEM, .content = "You are a helpful assistant" },
        { .role = AC_ROLE_USER, .content = "What's the weather in Florence,Italy?" },
    };
    ac_gen_request g;
    gen_init(&g, m, 2);
    g.has_max_tokens = 1;
    g.max_tokens = 4000;
    g.stream = 1;
    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_TRUE(json_object_equal(path(b, "stream"), path(rec, "stream")));
    CU_ASSERT_TRUE(json_object_equal(path(b, "messages"), path(rec, "messages")));
    CU_ASSERT_EQUAL(http.framing, AC_FRAMING_SSE);
    json_object_put(b);
    ac__http_request_clear(&http);
    json_object_put(rec);
    free(rec_text);
}

/* The fixture's plain text request: with no max_tokens set, 4096 is sent
 * (the API requires one); a model of "" uses the default. */
static void test_request_defaults(void)
{
    ac_message m[3] = {
        { .role = AC_ROLE_SYSTEM, .content = "One." },
        { .role = AC_ROLE_USER, .content = "Say hi in Portuguese" },
        { .role = AC_ROLE_SYSTEM, .content = "Two." },
    };
    ac_gen_request g;
    gen_init(&g, m, 3);
    g.model = "";
    g.has_temperature = 1;
    g.temperature = 0.7;
    g.has_top_p = 1;
    g.top_p = 0.9;
    const char *stops[] = { "END", "\n\n" };
    g.stop = stops;
    g.n_stop = 2;
    g.tool_choice = "required"; /* no tools: no tool_choice */
    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(json_object_get_int(path(b, "max_tokens")), 4096);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(path(b, "model")), "claude-haiku-4-5");
    /* two system messages: both, in order, as text blocks */
    json_object *sys = path(b, "system");
    CU_ASSERT_EQUAL(json_object_array_length(sys), 2);
    CU_ASSERT_STRING_EQUAL(jstr(at(sys, 0), "text"), "One.");
    CU_ASSERT_STRING_EQUAL(jstr(at(sys, 1), "text"), "Two.");
    CU_ASSERT_EQUAL(json_object_array_length(path(b, "messages")), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(http.body, "\"temperature\":0.7,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(http.body, "\"top_p\":0.9"));
    /* "\n\n" is refused by the API ("stop_sequences: each stop sequence
     * must contain non-whitespace", BerriAI/litellm#3286): not sent. */
    CU_ASSERT_EQUAL(json_object_array_length(path(b, "stop_sequences")), 1);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(at(path(b, "stop_sequences"), 0)), "END");
    CU_ASSERT_PTR_NULL(path(b, "stop"));
    CU_ASSERT_PTR_NULL(path(b, "tools"));
    CU_ASSERT_PTR_NULL(path(b, "tool_choice"));
    json_object_put(b);
    ac__http_request_clear(&http);
}

/* tool_choice mapping, parallel tool results merged into one user
 * message, images, and structured output in both modes. */
static void test_request_tools_and_json(void)
{
    ac_tool_call calls[2] = { { "t1", "a", "{}" }, { "t2", "b", "{\"x\":1" /* cut off */ } };
    const char *imgs[] = { "data:image/png;base64,iVBORw0KGgo=", "https://example.com/x.jpg" };
    ac_message m[5] = {
        { .role = AC_ROLE_USER, .content = "Look", .images = imgs, .n_images = 2 },
        { .role = AC_ROLE_ASSISTANT, .content = "", .tool_calls = calls, .n_tool_calls = 2 },
        { .role = AC_ROLE_TOOL, .content = "r1", .tool_call_id = "t1" },
        { .role = AC_ROLE_TOOL, .content = "r2", .tool_call_id = "t2" },
        { .role = AC_ROLE_USER, .content = "Thanks" },
    };
    ac_tool_def tools[2] = { { "a", NULL, "{\"type\":\"object\"}" },
                             { "b", "B", "{\"type\":\"object\",\"properties\":{}}" } };
    static const struct { const char *choice, *type, *name; } choices[] = {
        { "auto", "auto", NULL }, { "none", "none", NULL },
        { "required", "any", NULL }, { "b", "tool", "b" },
    };
    for (size_t c = 0; c < N_OF(choices); c++) {
        ac_gen_request g;
        gen_init(&g, m, 5);
        g.tools = tools;
        g.n_tools = 2;
        g.tool_choice = choices[c].choice;
        ac_http_request http;
        ac_status rc;
        ac_error err;
        json_object *b = build(llm, &g, &http, &rc, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        json_object *tc = path(b, "tool_choice");
        CU_ASSERT_STRING_EQUAL(jstr(tc, "type"), choices[c].type);
        if (choices[c].name)
            CU_ASSERT_STRING_EQUAL(jstr(tc, "name"), choices[c].name);
        if (c == 0) {
            json_object *msgs = path(b, "messages");
            CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
            json_object *u = path(at(msgs, 0), "content");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 0), "source"), "type"), "base64");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 0), "source"), "media_type"), "image/png");
            CU_ASSERT_STRING_EQUAL(jstr(path(at(u, 0), "source"), "data"), "iVBORw0KGgo=");
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
        ac__http_request_clear(&http);
    }

    /* Structured output, default (tool) mode: a forced extra tool. */
    ac_gen_request g;
    gen_init(&g, m + 4, 1);
    g.json_schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}";
    g.json_schema_name = "thing";
    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(jstr(at(path(b, "tools"), 0), "name"), "ac_json_response");
    CU_ASSERT_STRING_EQUAL(jstr(path(b, "tool_choice"), "name"), "ac_json_response");
    CU_ASSERT_STRING_EQUAL(jstr(path(b, "tool_choice"), "type"), "tool");
    CU_ASSERT_PTR_NULL(path(b, "output_config"));
    json_object_put(b);
    ac__http_request_clear(&http);

    /* ... and the native form when configured. */
    ac_llm *native = llm_make("structured_output", "output_config");
    CU_ASSERT_PTR_NOT_NULL_FATAL(native);
    b = build(native, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    json_object *fmt = path(path(b, "output_config"), "format");
    CU_ASSERT_STRING_EQUAL(jstr(fmt, "type"), "json_schema");
    CU_ASSERT_STRING_EQUAL(jstr(path(fmt, "schema"), "type"), "object");
    CU_ASSERT_PTR_NULL(path(b, "tools"));
    json_object_put(b);
    ac__http_request_clear(&http);
    ac_llm_free(native);

    /* A schema that is not a JSON object is the caller's error. */
    tools[0].parameters_json = "[]";
    gen_init(&g, m + 4, 1);
    g.tools = tools;
    g.n_tools = 1;
    b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "tool 'a'"));
    ac__http_request_clear(&http);
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
    ac_tool_call call = { "toolu_1", "weather", "{\"location\":\"Paris\"}" };
    ac_message m[8] = {
        { .role = AC_ROLE_SYSTEM, .content = " \n" },
        { .role = AC_ROLE_USER, .content = "Hi" },
        { .role = AC_ROLE_ASSISTANT, .content = "" },     /* an empty reply */
        { .role = AC_ROLE_USER, .content = "Still there?" },
        { .role = AC_ROLE_ASSISTANT, .content = "\n\n", .tool_calls = &call,
          .n_tool_calls = 1 },
        { .role = AC_ROLE_TOOL, .content = "", .tool_call_id = "toolu_1" },
        { .role = AC_ROLE_USER, .content = "  " },
        { .role = AC_ROLE_ASSISTANT, .content = NULL },
    };
    ac_gen_request g;
    gen_init(&g, m, 8);
    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(llm, &g, &http, &rc, &err);
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
    ac__http_request_clear(&http);

    /* Stop sequences of white space only are refused too ("stop_sequences:
     * each stop sequence must contain non-whitespace"): none left, no
     * field. */
    static const char *const blank_stops[] = { "\n", " \t", "" };
    gen_init(&g, m + 1, 1);
    g.stop = blank_stops;
    g.n_stop = 3;
    b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_FALSE(tu_jhas(b, "stop_sequences"));
    json_object_put(b);
    ac__http_request_clear(&http);

    /* Nothing but blank text: refused here, with a message that says so,
     * rather than sent for a 400. */
    gen_init(&g, m + 6, 2);
    b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "empty"));
    ac__http_request_clear(&http);

    /* A blank prompt after a reply: left out, the reply would become a
     * prefill the model continues.  Refused the same way. */
    ac_message turn[3] = {
        { .role = AC_ROLE_USER, .content = "Hi" },
        { .role = AC_ROLE_ASSISTANT, .content = "Hello!" },
        { .role = AC_ROLE_USER, .content = " \n" },
    };
    gen_init(&g, turn, 3);
    b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_EQUAL(rc, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "the last message is empty"));
    ac__http_request_clear(&http);
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
 * "functions.weather:0" (PROTOCOLS.md 1, tool-call deltas).  Such an id is
 * now rewritten, the same way in tool_use and tool_result, so the pair
 * still matches; an id that differs from it only in those characters stays
 * a different id; valid ids are sent unchanged.  (Constructed history.) */
static void test_request_foreign_tool_ids(void)
{
    ac_tool_call calls[3] = {
        { "functions.weather:0", "weather", "{\"location\":\"Paris\"}" },
        { "functions_weather_0", "weather", "{\"location\":\"Rome\"}" },
        { "call_Ab-9", "weather", "{\"location\":\"Oslo\"}" },
    };
    ac_message m[5] = {
        { .role = AC_ROLE_USER, .content = "Weather in Paris, Rome and Oslo?" },
        { .role = AC_ROLE_ASSISTANT, .tool_calls = calls, .n_tool_calls = 3 },
        { .role = AC_ROLE_TOOL, .content = "22 C", .tool_call_id = "functions.weather:0" },
        { .role = AC_ROLE_TOOL, .content = "25 C", .tool_call_id = "functions_weather_0" },
        { .role = AC_ROLE_TOOL, .content = "9 C", .tool_call_id = "call_Ab-9" },
    };
    ac_gen_request g;
    gen_init(&g, m, 5);
    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(llm, &g, &http, &rc, &err);
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
    ac__http_request_clear(&http);

    /* Each allocation failing in turn (the rewritten ids are allocated):
     * out of memory, never a crash or a leak (run under valgrind). */
    int completed = 0;
    for (long n = 0; n < 200 && !completed; n++) {
        ac__alloc_fail_after(n);
        b = build(llm, &g, &http, &rc, &err);
        ac__alloc_fail_after(-1);
        if (rc == AC_OK)
            completed = 1;
        else
            CU_ASSERT_EQUAL(rc, AC_ENOMEM);
        json_object_put(b);
        ac__http_request_clear(&http);
    }
    CU_ASSERT_TRUE(completed);
}

/* Settings: base_url (with or without /v1), max_tokens, version, beta. */
static void test_settings(void)
{
    static const struct { const char *base, *want; } urls[] = {
        { "http://127.0.0.1:9", "http://127.0.0.1:9/v1/messages" },
        { "http://127.0.0.1:9/", "http://127.0.0.1:9/v1/messages" },
        { "http://127.0.0.1:9/v1/", "http://127.0.0.1:9/v1/messages" },
    };
    ac_message m = { .role = AC_ROLE_USER, .content = "hi" };
    ac_gen_request g;
    gen_init(&g, &m, 1);
    for (size_t i = 0; i < N_OF(urls); i++) {
        ac_llm *l = llm_make("base_url", urls[i].base);
        CU_ASSERT_PTR_NOT_NULL_FATAL(l);
        ac_http_request http;
        ac_status rc;
        ac_error err;
        json_object *b = build(l, &g, &http, &rc, &err);
        CU_ASSERT_STRING_EQUAL(http.url, urls[i].want);
        json_object_put(b);
        ac__http_request_clear(&http);
        ac_llm_free(l);
    }
    ac_llm *l = llm_make("anthropic_beta", "tools-2024-04-04");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_http_request http;
    ac_status rc;
    ac_error err;
    json_object *b = build(l, &g, &http, &rc, &err);
    CU_ASSERT_TRUE(has_header(&http, "anthropic-beta: tools-2024-04-04"));
    json_object_put(b);
    ac__http_request_clear(&http);
    ac_llm_free(l);

    l = llm_make("max_tokens", "123");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    b = build(l, &g, &http, &rc, &err);
    CU_ASSERT_EQUAL(json_object_get_int(path(b, "max_tokens")), 123);
    json_object_put(b);
    ac__http_request_clear(&http);
    ac_llm_free(l);

    /* the key never appears in the body */
    b = build(llm, &g, &http, &rc, &err);
    CU_ASSERT_PTR_NULL(strstr(http.body, "test"));
    json_object_put(b);
    ac__http_request_clear(&http);

    CU_ASSERT_PTR_NULL(llm_make("structured_output", "magic"));
}

/* No key anywhere: ac_llm_create says what to set.  (main() unset
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
    ac_llm_free(l);

    /* ... and once it is set, its value is the key sent */
    setenv("AC_TEST_ANTHROPIC_KEY", "sk-ant-from-env", 1);
    l = ac_llm_create(core, "anthropic", "m", o, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_message m = { .role = AC_ROLE_USER, .content = "hi" };
    ac_gen_request g;
    gen_init(&g, &m, 1);
    ac_http_request http;
    ac_status rc;
    json_object *b = build(l, &g, &http, &rc, &err);
    CU_ASSERT_TRUE(has_header(&http, "x-api-key: sk-ant-from-env"));
    json_object_put(b);
    ac__http_request_clear(&http);
    ac_llm_free(l);
    unsetenv("AC_TEST_ANTHROPIC_KEY");
    ac_options_free(o);
}

/* GET /v1/models and its reply (the shape of PROTOCOLS.md 2). */
static void test_models(void)
{
    ac_http_request http;
    ac_error err;
    memset(&http, 0, sizeof http);
    CU_ASSERT_EQUAL(llm->vt->build_models_request(llm->state, &http, &err), AC_OK);
    CU_ASSERT_STRING_EQUAL(http.method, "GET");
    CU_ASSERT_STRING_EQUAL(http.url, "https://api.anthropic.com/v1/models?limit=1000");
    CU_ASSERT_TRUE(has_header(&http, "x-api-key: test"));
    CU_ASSERT_TRUE(has_header(&http, "anthropic-version: 2023-06-01"));
    ac__http_request_clear(&http);

    const char *body = "{\"data\":[{\"type\":\"model\",\"id\":\"claude-sonnet-4-20250514\","
                       "\"display_name\":\"Claude Sonnet 4\",\"created_at\":\"2025-05-22T00:00:00Z\"},"
                       "{\"type\":\"model\",\"id\":\"claude-3-5-haiku-20241022\"},{\"id\":5}],"
                       "\"has_more\":false,\"first_id\":\"a\",\"last_id\":\"b\"}";
    struct ac_model_list list = { NULL, 0 };
    CU_ASSERT_EQUAL(llm->vt->parse_models(llm->state, body, strlen(body), &list, &err), AC_OK);
    CU_ASSERT_EQUAL_FATAL(list.n, 2);
    CU_ASSERT_STRING_EQUAL(list.ids[0], "claude-sonnet-4-20250514");
    CU_ASSERT_STRING_EQUAL(list.ids[1], "claude-3-5-haiku-20241022");
    for (size_t i = 0; i < list.n; i++)
        ac__free(list.ids[i]);
    ac__free(list.ids);

    struct ac_model_list empty = { NULL, 0 };
    CU_ASSERT_EQUAL(llm->vt->parse_models(llm->state, "{\"data\":{}}", 11, &empty, &err),
                    AC_EPROTOCOL);
    CU_ASSERT_EQUAL(llm->vt->parse_models(llm->state, "<html>", 6, &empty, &err), AC_EJSON);
    CU_ASSERT_EQUAL(empty.n, 0);
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
    CU_ASSERT_EQUAL(err.http_status, 529);
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
        { "our key is blanked out of error messages", test_error_key_blanked },
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
        { "request: blank text is never a block", test_request_blank_text },
        { "request: tool ids from other backends", test_request_foreign_tool_ids },
        { "settings", test_settings },
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
        !CU_add_test(m, "HTTP and in-stream errors", test_mock_errors))
        return 2;
    return tu_run_suites();
}
