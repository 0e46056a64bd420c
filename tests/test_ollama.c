/*
 * test_ollama.c -- CUnit suites for the Ollama plugin (plugins/ollama)
 * through the real core (test_ollama_fake.c drives its functions one by
 * one through the fake host).
 *
 * Replays every ollama_* fixture through the real path (core framing, the
 * plugin loaded from the build tree, the sink) with ac__replay_bytes(), whole
 * and in pieces of 1 and 7 bytes, and checks what a caller would see:
 * content, reasoning, tool calls, finish reason, usage, model, errors.
 * The pretty-printed doc fixtures are one line each on the wire, so they
 * are compacted into NDJSON first.  Expected values come from reading the
 * fixtures.  Malformed input (bad JSON, wrong shapes, binary error bodies,
 * mutated lines) must fail cleanly.
 *
 * End-to-end tests run ac_generate, ac_agenerate streaming, a session tool
 * round trip, an HTTP error and ac_list_models against the project's mock
 * server on 127.0.0.1, and check the request body the plugin built.
 */
#include "testutil.h"
#include "alloc.h"
#include "replay.h"
#include "mock_server.h"
#include "mockutil.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ac_core *core;
static ac_llm *llm;

static const size_t pieces[] = { 0, 1, 7 };
#define N_PIECES (sizeof pieces / sizeof pieces[0])

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Concatenated (pretty-printed) JSON objects -> one compact line each. */
static char *compact_ndjson(const char *text, size_t *out_len)
{
    size_t len = strlen(text), cap = len + 16, n = 0;
    char *out = malloc(cap);
    json_tokener *tok = json_tokener_new();
    const char *p = text;
    CU_ASSERT_FATAL(out != NULL && tok != NULL);
    while (len) {
        while (len && strchr(" \t\r\n", *p)) {
            p++;
            len--;
        }
        if (!len)
            break;
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, p, (int)len);
        CU_ASSERT_FATAL(o != NULL);
        size_t used = json_tokener_get_parse_end(tok);
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        size_t ll = strlen(line);
        CU_ASSERT_FATAL(n + ll + 2 <= cap);
        memcpy(out + n, line, ll);
        n += ll;
        out[n++] = '\n';
        json_object_put(o);
        p += used;
        len -= used;
    }
    out[n] = '\0';
    json_tokener_free(tok);
    *out_len = n;
    return out;
}

/* A pretty-printed doc fixture as the NDJSON it is on the wire. */
static char *ndjson_fixture(const char *name, size_t *out_len)
{
    size_t len;
    char *pretty = tu_fixture(name, &len);
    char *nd = compact_ndjson(pretty, out_len);
    free(pretty);
    return nd;
}

/* What the event callback saw. */
typedef struct seen {
    char text[4096];
    size_t text_len;
    char reasoning[1024];
    int starts, ends, usage_at, finish_at, errors, count;
    char start_name[64], start_id[64], end_args[256];
    char finish[32], raw_finish[32];
    long in, out;
} seen;

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    seen *s = user;
    (void)q;
    s->count++;
    switch (c->type) {
    case AC_EVENT_TEXT:
        if (s->text_len + c->len < sizeof s->text) {
            memcpy(s->text + s->text_len, c->text, c->len);
            s->text_len += c->len;
            s->text[s->text_len] = '\0';
        }
        break;
    case AC_EVENT_REASONING:
        strncat(s->reasoning, c->data ? c->data : "",
                sizeof s->reasoning - strlen(s->reasoning) - 1);
        break;
    case AC_EVENT_TOOL_CALL_START:
        s->starts++;
        snprintf(s->start_name, sizeof s->start_name, "%s",
                 c->tool_name ? c->tool_name : "(null)");
        snprintf(s->start_id, sizeof s->start_id, "%s",
                 c->tool_call_id ? c->tool_call_id : "(null)");
        break;
    case AC_EVENT_TOOL_CALL_END:
        s->ends++;
        snprintf(s->end_args, sizeof s->end_args, "%.*s", (int)c->data_len,
                 c->data ? c->data : "");
        break;
    case AC_EVENT_USAGE:
        s->usage_at = s->count;
        s->in = c->input_tokens;
        s->out = c->output_tokens;
        break;
    case AC_EVENT_FINISH:
        s->finish_at = s->count;
        snprintf(s->finish, sizeof s->finish, "%s",
                 c->finish_reason ? c->finish_reason : "");
        snprintf(s->raw_finish, sizeof s->raw_finish, "%s",
                 c->raw_finish_reason ? c->raw_finish_reason : "");
        break;
    case AC_EVENT_ERROR:
        s->errors++;
        break;
    default:
        break;
    }
}

/* Replay bytes; the response (maybe partial) goes to *resp. */
static ac_status replay(ac_framing framing, int status, const char *bytes,
                        size_t len, size_t piece, seen *s, ac_response **resp,
                        ac_error *err)
{
    ac_callbacks cb = { .on_event = on_event };
    memset(s, 0, sizeof *s);
    ac_error_clear(err);
    *resp = NULL;
    return ac__replay_bytes(llm, framing, status, bytes, len, piece, &cb, s, resp,
                        err);
}

/* Replay bytes that make a good reply: AC_OK, and the response (the
 * test stops here without one).  Free it with ac_response_free. */
static ac_response *replay_ok(ac_framing framing, const char *bytes,
                              size_t len, size_t piece, seen *s)
{
    ac_response *r;
    ac_error err;
    ac_status rc = replay(framing, 200, bytes, len, piece, s, &r, &err);
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    return r;
}

/* True if text parses as a JSON object equal to the expected JSON text. */
static int json_equal_text(const char *text, const char *expected)
{
    json_object *a = text ? json_tokener_parse(text) : NULL;
    json_object *b = json_tokener_parse(expected);
    int eq = a && b && json_object_is_type(a, json_type_object) &&
             json_object_equal(a, b);
    json_object_put(a);
    json_object_put(b);
    return eq;
}

/* Every byte printable (UTF-8 sequences allowed): one line for a person. */
static int printable_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Fixtures through replay                                              */
/* ------------------------------------------------------------------ */

static void test_chat_response(void)
{
    size_t len;
    char *body = tu_fixture("ollama_chat_response.json", &len);
    for (size_t i = 0; i < N_PIECES; i++) {
        seen s;
        ac_response *r = replay_ok(AC_FRAMING_NONE, body, len, pieces[i], &s);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), "Hello! How are you today?");
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
        /* This older doc example has no done_reason at all. */
        CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "");
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 26);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 298);
        CU_ASSERT_STRING_EQUAL(ac_response_model(r), "llama3.2");
        CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
        CU_ASSERT_STRING_EQUAL(s.text, "Hello! How are you today?");
        CU_ASSERT(s.usage_at > 0 && s.usage_at < s.finish_at);
        ac_response_free(r);
    }
    free(body);
}

static void test_stream_first_and_final(void)
{
    size_t n;
    char *nd = ndjson_fixture("ollama_chat_stream_first_and_final.pretty.txt", &n);
    for (size_t i = 0; i < N_PIECES; i++) {
        seen s;
        ac_response *r = replay_ok(AC_FRAMING_NDJSON, nd, n, pieces[i], &s);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), "The");
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
        /* No done_reason in this doc example either. */
        CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "");
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 26);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 282);
        CU_ASSERT_STRING_EQUAL(ac_response_model(r), "llama3.2");
        CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
        CU_ASSERT_STRING_EQUAL(s.text, "The");
        CU_ASSERT_EQUAL(s.in, 26);
        CU_ASSERT_EQUAL(s.out, 282);
        CU_ASSERT_STRING_EQUAL(s.finish, "stop");
        ac_response_free(r);
    }
    free(nd);
}

static void test_stream_tool_call(void)
{
    size_t n;
    char *nd = ndjson_fixture("ollama_chat_stream_tool_call.pretty.txt", &n);
    for (size_t i = 0; i < N_PIECES; i++) {
        seen s;
        ac_response *r = replay_ok(AC_FRAMING_NDJSON, nd, n, pieces[i], &s);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), "");
        CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 1);
        /* The doc example carries no id; Ollama matches results by name. */
        CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 0), "");
        CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 0), "get_weather");
        CU_ASSERT(json_equal_text(ac_response_tool_call_arguments(r, 0),
                                  "{\"city\":\"Tokyo\"}"));
        CU_ASSERT_EQUAL(ac_response_tool_call_truncated(r, 0), 0);
        /* done_reason stays "stop"; the calls make it tool_calls. */
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "tool_calls");
        CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "stop");
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 169);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 15);
        CU_ASSERT_EQUAL(s.starts, 1);
        CU_ASSERT_EQUAL(s.ends, 1);
        CU_ASSERT_STRING_EQUAL(s.start_name, "get_weather");
        CU_ASSERT(json_equal_text(s.end_args, "{\"city\":\"Tokyo\"}"));
        CU_ASSERT(s.usage_at > 0 && s.usage_at < s.finish_at);
        ac_response_free(r);
    }
    free(nd);
}

static void test_generate_stream(void)
{
    size_t len;
    char *nd = tu_fixture("ollama_generate_stream.ndjson", &len);
    for (size_t i = 0; i < N_PIECES; i++) {
        seen s;
        ac_response *r = replay_ok(AC_FRAMING_NDJSON, nd, len, pieces[i], &s);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), "That's a fantastic question!");
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
        CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "stop");
        /* This doc example leaves the metrics out. */
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), -1);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), -1);
        CU_ASSERT_STRING_EQUAL(ac_response_model(r), "gemma4");
        ac_response_free(r);
    }
    /* A server that ignored "stream": false sends the same lines as the
     * whole body: still one good reply. */
    {
        seen s;
        ac_response *r = replay_ok(AC_FRAMING_NONE, nd, len, 0, &s);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), "That's a fantastic question!");
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
        ac_response_free(r);
    }
    free(nd);
}

static void test_stream_error_midstream(void)
{
    size_t len;
    char *nd = tu_fixture("ollama_stream_error_midstream.ndjson", &len);
    for (size_t i = 0; i < N_PIECES; i++) {
        seen s;
        ac_response *r;
        ac_error err;
        ac_status rc = replay(AC_FRAMING_NDJSON, 200, nd, len, pieces[i], &s, &r, &err);
        CU_ASSERT_EQUAL(rc, AC_EPROTOCOL);
        CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
        CU_ASSERT_EQUAL(err.stage, AC_STAGE_PROTOCOL);
        /* A runner failure: what Ollama answers 500 for before a stream,
         * so worth another attempt; the line carries no status, so the
         * plugin gives the one Ollama would have sent. */
        CU_ASSERT_EQUAL(err.http_status, 500);
        CU_ASSERT_EQUAL(err.retryable, 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message,
                                      "an error was encountered while running the model"));
        CU_ASSERT(printable_line(err.message));
        /* Text that arrived before the error is kept. */
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_STRING_EQUAL(ac_response_content(r), " Yes.Ican");
        CU_ASSERT_STRING_EQUAL(s.text, " Yes.Ican");
        CU_ASSERT_STRING_NOT_EQUAL(ac_response_finish_reason(r), "stop");
        ac_response_free(r);
    }
    free(nd);
}

static void test_error_body(void)
{
    static const struct { int status; int retryable; } cases[] = {
        { 500, 1 }, { 502, 1 }, { 404, 0 }, { 400, 0 },
    };
    size_t len;
    char *body = tu_fixture("ollama_error.json", &len);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t i = 0; i < N_PIECES; i++) {
            seen s;
            ac_response *r;
            ac_error err;
            char want[32];
            ac_status rc = replay(AC_FRAMING_NONE, cases[c].status, body, len,
                                  pieces[i], &s, &r, &err);
            CU_ASSERT_EQUAL(rc, AC_EHTTP);
            CU_ASSERT_EQUAL(err.code, AC_EHTTP);
            CU_ASSERT_EQUAL(err.http_status, cases[c].status);
            CU_ASSERT_EQUAL(err.retryable, cases[c].retryable);
            snprintf(want, sizeof want, "HTTP %d: ", cases[c].status);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message,
                                          "the model failed to generate a response"));
            CU_ASSERT(printable_line(err.message));
            ac_response_free(r);
        }
    }
    free(body);
}

/* A proxy in front of ollama.com that quotes the key it was sent (a
 * constructed body): the key never reaches the message (the core removes
 * configured secrets from every report). */
static void test_error_key_blanked(void)
{
    static const char key[] = "ollama-SECRET-0123456789abcdef";
    ac_options *o = ac_options_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    ac_options_set(o, "api_key", key);
    ac_error err;
    ac_llm *l = ac_llm_create(core, "ollama", "some-model", o, &err);
    ac_options_free(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    static const char body[] =
        "{\"error\":\"unauthorized: key ollama-SECRET-0123456789abcdef is "
        "not valid\"}";
    ac_response *r = NULL;
    ac_error_clear(&err);
    ac_status rc = ac__replay_bytes(l, AC_FRAMING_NONE, 401, body, strlen(body), 0,
                                NULL, NULL, &r, &err);
    CU_ASSERT_EQUAL(rc, AC_EHTTP);
    CU_ASSERT_PTR_NULL(strstr(err.message, key));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 401: unauthorized: key [redacted] is"));
    ac_response_free(r);
    ac_llm_free(l);
}

/* ------------------------------------------------------------------ */
/* Shapes and bytes the fixtures do not have                            */
/* ------------------------------------------------------------------ */

/* One NDJSON replay at every piece size; returns the last status. */
static ac_status replay_all(const char *nd, ac_framing framing, int status,
                            seen *s, ac_response **r, ac_error *err)
{
    ac_status rc = AC_OK;
    for (size_t i = 0; i < N_PIECES; i++) {
        if (i > 0)
            ac_response_free(*r);
        rc = replay(framing, status, nd, strlen(nd), pieces[i], s, r, err);
    }
    return rc;
}

static void test_thinking_and_length(void)
{
    const char *nd =
        "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\","
        "\"thinking\":\"Let me think.\"},\"done\":false}\n"
        "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
        "\"done\":false}\n"
        "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":3,"
        "\"eval_count\":10}\n";
    seen s;
    ac_response *r = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(replay_all(nd, AC_FRAMING_NDJSON, 200, &s, &r, &err), AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(ac_response_content(r), "Hi");
    CU_ASSERT_STRING_EQUAL(ac_response_reasoning(r), "Let me think.");
    CU_ASSERT_STRING_EQUAL(s.reasoning, "Let me think.");
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "length");
    CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "length");
    CU_ASSERT_EQUAL(ac_response_input_tokens(r), 3);
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 10);
    ac_response_free(r);
}

static void test_two_tool_calls_with_ids(void)
{
    /* Newer servers send an id; calls may come in separate chunks with the
     * same position, and each is still its own call. */
    const char *nd =
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":"
        "[{\"id\":\"call_a\",\"function\":{\"index\":0,\"name\":\"f\",\"arguments\":{\"x\":1}}}]},"
        "\"done\":false}\n"
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":"
        "[{\"id\":\"call_b\",\"function\":{\"name\":\"g\",\"arguments\":{}}}]},"
        "\"done\":false}\n"
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"done\":true,\"done_reason\":\"stop\"}\n";
    seen s;
    ac_response *r = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(replay_all(nd, AC_FRAMING_NDJSON, 200, &s, &r, &err), AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 2);
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 0), "call_a");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 0), "f");
    CU_ASSERT(json_equal_text(ac_response_tool_call_arguments(r, 0), "{\"x\":1}"));
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 1), "call_b");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 1), "g");
    CU_ASSERT(json_equal_text(ac_response_tool_call_arguments(r, 1), "{}"));
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "tool_calls");
    CU_ASSERT_EQUAL(s.starts, 2);
    CU_ASSERT_EQUAL(s.ends, 2);
    ac_response_free(r);
}

static void test_malformed_stream(void)
{
    static const struct { const char *nd; ac_status want; } cases[] = {
        { "not json at all\n", AC_EJSON },
        { "{\"model\":\"m\",\"done\":fal\n", AC_EJSON },
        { "[1,2,3]\n", AC_EPROTOCOL },
        { "\"a string\"\n", AC_EPROTOCOL },
        { "{\"message\":{\"tool_calls\":[{\"function\":{\"arguments\":{}}}]},\"done\":false}\n",
          AC_EPROTOCOL },
        { "{\"message\":{\"tool_calls\":[42]},\"done\":false}\n", AC_EPROTOCOL },
        { "{\"error\":{\"message\":\"boom\"}}\n", AC_EPROTOCOL },
        { "{\"message\":{\"content\":\"\xff\xfe\"},\"done\":false}\n", AC_EJSON },
        /* Text, then the stream just stops: no done line. */
        { "{\"message\":{\"content\":\"The\"},\"done\":false}\n", AC_EPROTOCOL },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        seen s;
        ac_response *r = NULL;
        ac_error err;
        ac_status rc = replay_all(cases[c].nd, AC_FRAMING_NDJSON, 200, &s, &r, &err);
        CU_ASSERT_EQUAL(rc, cases[c].want);
        CU_ASSERT_EQUAL(err.code, cases[c].want);
        CU_ASSERT(printable_line(err.message));
        if (rc != cases[c].want)
            fprintf(stderr, "case %zu: got %d (%s)\n", c, rc, err.message);
        if (r)
            CU_ASSERT_STRING_NOT_EQUAL(ac_response_finish_reason(r), "stop");
        ac_response_free(r);
    }
    /* An error object from a proxy: its message is used. */
    {
        seen s;
        ac_response *r = NULL;
        ac_error err;
        replay_all("{\"error\":{\"message\":\"boom\",\"type\":\"x\"}}\n",
                   AC_FRAMING_NDJSON, 200, &s, &r, &err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "boom"));
        ac_response_free(r);
    }
    /* A model that is gone mid-stream is not worth retrying. */
    {
        seen s;
        ac_response *r = NULL;
        ac_error err;
        replay_all("{\"error\":\"model 'x' not found\"}\n", AC_FRAMING_NDJSON, 200,
                   &s, &r, &err);
        CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
        CU_ASSERT_EQUAL(err.http_status, 404);
        CU_ASSERT_EQUAL(err.retryable, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "error in stream: model 'x' not found"));
        ac_response_free(r);
    }
}

static void test_malformed_body(void)
{
    static const char *bodies[] = {
        "", "   ", "null", "[]", "{", "{\"message\":7}",
        "{\"message\":{\"content\":5,\"tool_calls\":{}},\"done\":\"yes\"}",
    };
    for (size_t c = 0; c < sizeof bodies / sizeof bodies[0]; c++) {
        seen s;
        ac_response *r = NULL;
        ac_error err;
        ac_status rc = replay(AC_FRAMING_NONE, 200, bodies[c], strlen(bodies[c]),
                              0, &s, &r, &err);
        /* None of these is a finished reply. */
        CU_ASSERT_NOT_EQUAL(rc, AC_OK);
        CU_ASSERT(printable_line(err.message));
        ac_response_free(r);
    }
    /* {"error":...} with a 200 status is still an error. */
    {
        seen s;
        ac_response *r = NULL;
        ac_error err;
        const char *b = "{\"error\":\"the model failed to generate a response\"}";
        ac_status rc = replay(AC_FRAMING_NONE, 200, b, strlen(b), 0, &s, &r, &err);
        CU_ASSERT_EQUAL(rc, AC_EPROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "the model failed to generate"));
        ac_response_free(r);
    }
}

static void test_error_non_json(void)
{
    static const char html[] =
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
        "<body><center><h1>502 Bad Gateway</h1></center></body></html>\r\n";
    static const char binary[] = "\x00\x01\xff\xfe\x1b[31m\x80garbage\x00\n\t";
    char big[8192];
    seen s;
    ac_response *r;
    ac_error err;
    ac_status rc = replay(AC_FRAMING_NONE, 502, html, sizeof html - 1, 0, &s, &r, &err);
    CU_ASSERT_EQUAL(rc, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 502);
    CU_ASSERT_EQUAL(err.retryable, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 502"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "502 Bad Gateway"));
    CU_ASSERT(printable_line(err.message));
    ac_response_free(r);

    rc = replay(AC_FRAMING_NONE, 500, binary, sizeof binary - 1, 0, &s, &r, &err);
    CU_ASSERT_EQUAL(rc, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 500);
    CU_ASSERT(printable_line(err.message));
    ac_response_free(r);

    rc = replay(AC_FRAMING_NONE, 503, "", 0, 0, &s, &r, &err);
    CU_ASSERT_EQUAL(rc, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 503);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 503"));
    ac_response_free(r);

    /* A huge error string is cut to a short excerpt. */
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"error\":\"", 10);
    memcpy(big + sizeof big - 2, "\"}", 2);
    rc = replay(AC_FRAMING_NONE, 500, big, sizeof big, 0, &s, &r, &err);
    CU_ASSERT_EQUAL(rc, AC_EHTTP);
    CU_ASSERT(strlen(err.message) < 300);
    CU_ASSERT(printable_line(err.message));
    ac_response_free(r);
}

/* Mutated fixture lines: whatever comes back, no crash, no hang, and the
 * error (if any) is one printable line.  Valgrind/ASan runs of this suite
 * check the memory side. */
static void test_mutations(void)
{
    size_t n;
    char *nd = ndjson_fixture("ollama_chat_stream_tool_call.pretty.txt", &n);
    char *buf = malloc(n + 1);
    unsigned seed = 12345;
    CU_ASSERT_FATAL(buf != NULL);
    for (int it = 0; it < 2000; it++) {
        seen s;
        ac_response *r = NULL;
        ac_error err;
        size_t m = n;
        memcpy(buf, nd, n + 1);
        for (int k = 0; k < 1 + it % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % m;
            seed = seed * 1103515245u + 12345u;
            buf[pos] = "{}[]\":,0\\\nxA\x80\xff"[(seed >> 8) % 15];
        }
        if (it % 5 == 0)
            m = (seed >> 4) % n;
        replay(it % 2 ? AC_FRAMING_NDJSON : AC_FRAMING_NONE, 200, buf, m,
               (size_t)(it % 3) * 3, &s, &r, &err);
        CU_ASSERT(printable_line(err.message));
        ac_response_free(r);
    }
    free(buf);
    free(nd);
}

/* Every allocation failing in turn (the plugin allocates through the
 * host, so its stream state is covered): the outcome is success or
 * AC_ENOMEM, never a crash or a leak, and success comes once enough
 * allocations are allowed. */
static void test_alloc_failures(void)
{
    size_t len, n;
    char *nd = ndjson_fixture("ollama_chat_stream_tool_call.pretty.txt", &n);
    char *body = tu_fixture("ollama_chat_response.json", &len);
    struct { ac_framing f; const char *b; size_t n; } runs[] = {
        { AC_FRAMING_NDJSON, nd, n }, { AC_FRAMING_NONE, body, len },
    };
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        int ok = 0;
        for (long fail = 0; fail < 400 && !ok; fail++) {
            seen s;
            ac_response *r = NULL;
            ac_error err;
            ac__alloc_fail_after(fail);
            ac_status rc = replay(runs[k].f, 200, runs[k].b, runs[k].n, 7, &s, &r, &err);
            ac__alloc_fail_after(-1);
            CU_ASSERT(rc == AC_OK || rc == AC_ENOMEM);
            if (rc != AC_OK && rc != AC_ENOMEM)
                fprintf(stderr, "fail at %ld: %d %s\n", fail, rc, err.message);
            if (rc == AC_OK) {
                ok = 1;
                CU_ASSERT_PTR_NOT_NULL_FATAL(r);
                CU_ASSERT_STRING_NOT_EQUAL(ac_response_finish_reason(r), "");
            }
            ac_response_free(r);
        }
        CU_ASSERT(ok);
    }
    free(body);
    free(nd);
}

/* ------------------------------------------------------------------ */
/* End to end against the mock server                                   */
/* ------------------------------------------------------------------ */

/* A core whose "ollama" provider points at a mock server. */
static ac_core *mock_core(mock_server *m)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "providers = ( { name = \"ollama\"; plugin = \"ollama\"; "
             "base_url = \"%s\"; api_key = \"test\"; } );",
             mock_server_url(m));
    return tu_open_core(extra);
}

/* A mock server with script (NULL: its defaults), a core whose "ollama"
 * provider points at it and an llm for model (the test stops here when
 * either fails).  Stop with mu_stop. */
static void ollama_start(mu_env *e, const char *script, const char *model)
{
    char errbuf[256] = "";
    ac_error err;
    memset(e, 0, sizeof *e);
    e->mock = mock_server_start(script, 0, errbuf, sizeof errbuf);
    if (!e->mock)
        fprintf(stderr, "mock script: %s\n", errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->mock);
    e->core = mock_core(e->mock);
    e->llm = ac_llm_create(e->core, "ollama", model, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->llm);
}

/* obj at a path of member names / array indices ("messages", "0", ...). */
static json_object *jget(json_object *o, const char *const *path, size_t n)
{
    for (size_t i = 0; o && i < n; i++) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(path[i]));
        else if (!json_object_object_get_ex(o, path[i], &o))
            o = NULL;
    }
    return o;
}
#define JGET(o, ...) \
    jget((o), (const char *const[]){ __VA_ARGS__ }, \
         sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static const char *jstr(json_object *o)
{
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "(none)";
}

static void test_e2e_generate(void)
{
    mu_env e;
    ac_error err;
    ollama_start(&e, NULL, "llama3.2");
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_system(p, "You are terse.");
    ac_gen_params_set_max_tokens(p, 64);
    ac_gen_params_set_temperature(p, 0.5);
    ac_gen_params_set_seed(p, 7);
    ac_gen_params_add_stop(p, "END");
    ac_gen_params_add_tool(p, "get_weather", "Get the weather in a given city",
                           "{\"type\":\"object\",\"properties\":{\"city\":"
                           "{\"type\":\"string\"}},\"required\":[\"city\"]}");
    ac_response *r = ac_generate(e.llm, "what is the weather in tokyo?", p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r) {
        CU_ASSERT_STRING_EQUAL(ac_response_content(r),
                               "Hello from the AbstractCore mock server.");
        CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "stop");
    } else {
        fprintf(stderr, "ac_generate: %s\n", err.message);
    }
    json_object *b = mu_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "model")), "llama3.2");
    /* Ollama: the system prompt is the first message, not a field. */
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "0", "role")), "system");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "0", "content")), "You are terse.");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "1", "role")), "user");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "1", "content")),
                           "what is the weather in tokyo?");
    CU_ASSERT_PTR_NULL(JGET(b, "system"));
    /* Sampling lives in options; max tokens is num_predict. */
    CU_ASSERT_EQUAL(json_object_get_int64(JGET(b, "options", "num_predict")), 64);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(JGET(b, "options", "temperature")), 0.5, 1e-9);
    CU_ASSERT_EQUAL(json_object_get_int64(JGET(b, "options", "seed")), 7);
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "options", "stop", "0")), "END");
    CU_ASSERT_PTR_NULL(JGET(b, "max_tokens"));
    CU_ASSERT_PTR_NULL(JGET(b, "temperature"));
    /* stream defaults to true on Ollama, so it is always sent. */
    CU_ASSERT(json_object_is_type(JGET(b, "stream"), json_type_boolean));
    CU_ASSERT_FALSE(json_object_get_boolean(JGET(b, "stream")));
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "tools", "0", "type")), "function");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "tools", "0", "function", "name")), "get_weather");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "tools", "0", "function", "parameters", "type")),
                           "object");
    char *auth = mock_server_last_header(e.mock, "Authorization");
    CU_ASSERT_PTR_NOT_NULL(auth);
    if (auth)
        CU_ASSERT_STRING_EQUAL(auth, "Bearer test");
    free(auth);
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    mu_stop(&e);
}

static void on_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    (void)st;
    (void)user;
}

static void test_e2e_stream(void)
{
    mu_env e;
    ac_error err;
    ollama_start(&e, NULL, "llama3.2");
    seen s;
    memset(&s, 0, sizeof s);
    ac_callbacks cb = { .on_event = on_event, .on_done = on_done };
    ac_request *q = ac_agenerate(e.llm, "Hello", NULL, &cb, &s, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_OK);
    CU_ASSERT_STRING_EQUAL(s.text, "Hello from the AbstractCore mock server.");
    CU_ASSERT_STRING_EQUAL(s.finish, "stop");
    json_object *b = mu_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_TRUE(json_object_get_boolean(JGET(b, "stream")));
    CU_ASSERT_PTR_NULL(JGET(b, "options"));
    json_object_put(b);
    ac_request_free(q);
    mu_stop(&e);
}

static void test_e2e_session_tool_round_trip(void)
{
    static const char script[] =
        "scenarios = ( { model = \"tool-model\"; tool_calls = ( { id = \"call_7\";"
        " name = \"get_temperature\"; arguments = \"{\\\"city\\\":\\\"New York\\\"}\"; } );"
        " } );";
    mu_env e;
    ac_error err;
    ollama_start(&e, script, "tool-model");
    ac_session *sess = ac_session_new(e.llm, "You are terse.");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sess);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_add_tool(p, "get_temperature", NULL,
                           "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");
    ac_response *r = ac_session_generate(sess, "What is the temperature in New York?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 1);
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_id(r, 0), "call_7");
    CU_ASSERT_STRING_EQUAL(ac_response_tool_call_name(r, 0), "get_temperature");
    CU_ASSERT(json_equal_text(ac_response_tool_call_arguments(r, 0), "{\"city\":\"New York\"}"));
    CU_ASSERT_STRING_EQUAL(ac_response_finish_reason(r), "tool_calls");
    CU_ASSERT_STRING_EQUAL(ac_response_raw_finish_reason(r), "stop");
    CU_ASSERT_EQUAL(ac_session_add_tool_result(sess, ac_response_tool_call_id(r, 0), NULL,
                                               "22°C"), AC_OK);
    ac_response_free(r);
    r = ac_session_generate(sess, NULL, p, &err);
    ac_response_free(r);

    /* The follow-up carries the whole exchange, in Ollama's shape
     * (ollama_chat_tool_result.request.json). */
    json_object *b = mu_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "0", "role")), "system");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "1", "role")), "user");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "2", "role")), "assistant");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "2", "tool_calls", "0", "function", "name")),
                           "get_temperature");
    /* Arguments go back as an object, not a string. */
    json_object *args = JGET(b, "messages", "2", "tool_calls", "0", "function", "arguments");
    CU_ASSERT(json_object_is_type(args, json_type_object));
    CU_ASSERT_STRING_EQUAL(jstr(JGET(args, "city")), "New York");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "3", "role")), "tool");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "3", "tool_name")), "get_temperature");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "3", "content")), "22°C");
    /* The server sent an id, so it goes back on both sides. */
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "2", "tool_calls", "0", "id")), "call_7");
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "3", "tool_call_id")), "call_7");
    json_object_put(b);
    ac_gen_params_free(p);
    ac_session_free(sess);
    mu_stop(&e);
}

/* A server that gives its calls no id (older Ollama): the response and
 * the history hold the same generated id, so the caller answers by it. */
static void test_e2e_session_tool_without_id(void)
{
    static const char script[] =
        "scenarios = ( { model = \"tool-model\"; tool_calls = ( { id = \"\";"
        " name = \"get_temperature\"; arguments = \"{}\"; } ); } );";
    mu_env e;
    ac_error err;
    ollama_start(&e, script, "tool-model");
    ac_session *sess = ac_session_new(e.llm, NULL);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_add_tool(p, "get_temperature", NULL, NULL);
    ac_response *r = ac_session_generate(sess, "Temperature?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(ac_response_tool_call_count(r), 1);
    const char *id = ac_response_tool_call_id(r, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT(strncmp(id, "call_", 5) == 0);
    char kept[64];
    snprintf(kept, sizeof kept, "%s", id);
    CU_ASSERT_EQUAL(ac_session_add_tool_result(sess, id, NULL, "22"), AC_OK);
    ac_response_free(r);
    r = ac_session_generate(sess, NULL, p, &err);
    ac_response_free(r);
    json_object *b = mu_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "1", "tool_calls", "0", "id")), kept);
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "2", "tool_call_id")), kept);
    CU_ASSERT_STRING_EQUAL(jstr(JGET(b, "messages", "2", "tool_name")), "get_temperature");
    json_object_put(b);
    ac_gen_params_free(p);
    ac_session_free(sess);
    mu_stop(&e);
}

static void test_e2e_http_error(void)
{
    static const char script[] =
        "scenarios = ( { model = \"missing\"; status = 404; "
        "error_message = \"model 'missing' not found\"; } );";
    mu_env e;
    ac_error err;
    ollama_start(&e, script, "missing");
    ac_response *r = ac_generate(e.llm, "hi", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 404);
    CU_ASSERT_EQUAL(err.retryable, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "model 'missing' not found"));
    ac_response_free(r);
    mu_stop(&e);
}

static void test_e2e_list_models(void)
{
    mu_env e;
    ac_error err;
    ollama_start(&e, NULL, "llama3.2");
    ac_models *ms = ac_list_models(e.llm, &err);
    CU_ASSERT_PTR_NOT_NULL(ms);
    if (ms) {
        CU_ASSERT(ac_models_count(ms) >= 1);
        for (size_t i = 0; i < ac_models_count(ms); i++)
            CU_ASSERT(ac_models_id(ms, i) && *ac_models_id(ms, i));
    } else {
        fprintf(stderr, "ac_list_models: %s\n", err.message);
    }
    ac_models_free(ms);
    mu_stop(&e);
}

/* ------------------------------------------------------------------ */

static int suite_init(void)
{
    ac_error err;
    core = tu_open_core(NULL);
    llm = ac_llm_create(core, "ollama", "some-model", NULL, &err);
    if (!llm) {
        fprintf(stderr, "ac_llm_create(ollama): %s\n", err.message);
        return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    ac_llm_free(llm);
    ac_core_close(core);
    return 0;
}

static const tu_test replay_tests[] = {
    { "chat response (stream:false)", test_chat_response },
    { "stream: first and final chunk", test_stream_first_and_final },
    { "stream: whole tool call", test_stream_tool_call },
    { "stream: /api/generate lines", test_generate_stream },
    { "stream: error line inside a 200", test_stream_error_midstream },
    { "error bodies", test_error_body },
    { "our key is kept out of error messages", test_error_key_blanked },
    { "thinking and length", test_thinking_and_length },
    { "two tool calls with ids", test_two_tool_calls_with_ids },
    { "malformed stream lines", test_malformed_stream },
    { "malformed bodies", test_malformed_body },
    { "non-JSON error bodies", test_error_non_json },
    { "mutated lines", test_mutations },
    { "allocation failures", test_alloc_failures },
};

static const tu_test mock_tests[] = {
    { "ac_generate: request body", test_e2e_generate },
    { "ac_agenerate streaming", test_e2e_stream },
    { "session tool round trip", test_e2e_session_tool_round_trip },
    { "session tool call without an id", test_e2e_session_tool_without_id },
    { "HTTP 404 from the server", test_e2e_http_error },
    { "ac_list_models (/api/tags)", test_e2e_list_models },
};

int main(void)
{
    /* The plugin reads these when no setting says otherwise: a developer's
     * own must not leak into the tests. */
    unsetenv("OLLAMA_API_KEY");
    unsetenv("OLLAMA_HOST");
    unsetenv("OLLAMA_BASE_URL");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (TU_ADD_SUITE("ollama_replay", suite_init, suite_clean, replay_tests) ||
        TU_ADD_SUITE("ollama_mock", NULL, NULL, mock_tests))
        return 2;
    return tu_run_suites();
}
