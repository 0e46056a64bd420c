/*
 * expect.c -- check responses, events and errors against expectations.
 * See expect.h.  Relies on ac__replay_bytes() (core/replay.h) for feeding
 * recorded bytes through the real path.
 */
#include "expect.h"
#include "alloc.h"
#include "replay.h"
#include "testutil.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ex_on_event(ac_request *q, const ac_chunk *c, void *user)
{
    ex_seen *s = user;
    (void)q;
    switch (c->type) {
    case AC_EVENT_TEXT:
        if (c->text)
            tu_append(s->text, sizeof s->text, c->text, c->len);
        s->n_text++;
        break;
    case AC_EVENT_USAGE:
        s->n_usage++;
        s->usage_at = s->n;
        break;
    case AC_EVENT_FINISH:
        s->n_finish++;
        s->finish_at = s->n;
        break;
    case AC_EVENT_ERROR:
        s->n_error++;
        break;
    default:
        break;
    }
    s->n++;
}

int ex_check_str(const char *label, size_t piece, const char *what,
                 const char *got, const char *expect)
{
    if (got && expect && strcmp(got, expect) == 0)
        return 1;
    fprintf(stderr, "\n  %s (piece %zu): %s is \"%s\", want \"%s\"\n", label,
            piece, what, got ? got : "(null)", expect ? expect : "(null)");
    return 0;
}

int ex_check_long(const char *label, size_t piece, const char *what,
                  long got, long expect)
{
    if (got == expect)
        return 1;
    fprintf(stderr, "\n  %s (piece %zu): %s is %ld, want %ld\n", label, piece,
            what, got, expect);
    return 0;
}

/* The calls of a response against the expected ones. */
static void expect_calls(const char *label, size_t piece,
                         const ac_response *r, const ex_want *w)
{
    CU_ASSERT(ex_check_long(label, piece, "tool calls",
                            (long)ac_response_tool_call_count(r),
                            (long)w->n_calls));
    for (size_t i = 0; i < w->n_calls && i < ac_response_tool_call_count(r);
         i++) {
        if (w->calls[i].id)
            CU_ASSERT(ex_check_str(label, piece, "tool call id",
                                   ac_response_tool_call_id(r, i),
                                   w->calls[i].id));
        CU_ASSERT(ex_check_str(label, piece, "tool call name",
                               ac_response_tool_call_name(r, i),
                               w->calls[i].name));
        const char *args = ac_response_tool_call_arguments(r, i);
        if (!tu_json_text_equal(args, w->calls[i].args)) {
            fprintf(stderr, "\n  %s (piece %zu): arguments %s, want %s\n",
                    label, piece, args ? args : "(null)", w->calls[i].args);
            CU_FAIL("tool call arguments");
        }
        CU_ASSERT_EQUAL(ac_response_tool_call_truncated(r, i), 0);
    }
}

void ex_check_response(const char *label, size_t piece, const ac_response *r,
                       const ex_want *w)
{
    CU_ASSERT(ex_check_str(label, piece, "content", ac_response_content(r),
                           w->content));
    CU_ASSERT_EQUAL(ac_response_content_len(r), strlen(w->content));
    if (w->reasoning)
        CU_ASSERT(ex_check_str(label, piece, "reasoning",
                               ac_response_reasoning(r), w->reasoning));
    if (w->finish)
        CU_ASSERT(ex_check_str(label, piece, "finish_reason",
                               ac_response_finish_reason(r), w->finish));
    if (w->raw)
        CU_ASSERT(ex_check_str(label, piece, "raw_finish_reason",
                               ac_response_raw_finish_reason(r), w->raw));
    CU_ASSERT(ex_check_long(label, piece, "input_tokens",
                            ac_response_input_tokens(r), w->in));
    CU_ASSERT(ex_check_long(label, piece, "output_tokens",
                            ac_response_output_tokens(r), w->out));
    if (w->model)
        CU_ASSERT(ex_check_str(label, piece, "model", ac_response_model(r),
                               w->model));
    expect_calls(label, piece, r, w);
}

void ex_check_error(const char *label, size_t piece, const ac_error *err,
                    const ex_want *w, const char *secret)
{
    if (w->http_status >= 0)
        CU_ASSERT(ex_check_long(label, piece, "http_status",
                                err->http_status, w->http_status));
    if (w->retryable >= 0)
        CU_ASSERT(ex_check_long(label, piece, "retryable", err->retryable,
                                w->retryable));
    for (size_t m = 0; m < 3 && w->msg[m]; m++) {
        if (!strstr(err->message, w->msg[m])) {
            fprintf(stderr, "\n  %s (piece %zu): message \"%s\" lacks \"%s\"\n",
                    label, piece, err->message, w->msg[m]);
            CU_FAIL("error message");
        }
    }
    CU_ASSERT_PTR_NULL(strstr(err->message, secret));
    CU_ASSERT_PTR_NULL(strchr(err->message, '\n'));
}

void ex_check_replay(ac_llm *llm, const char *secret, const char *label,
                     const char *bytes, size_t len, ac_framing framing,
                     int http_status, const ex_want *w)
{
    static const size_t pieces[] = { 0, 1, 7 };
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    for (size_t p = 0; p < 3; p++) {
        size_t piece = pieces[p];
        ac_callbacks cb = { .version = AC_CALLBACKS_VERSION,
                            .on_event = ex_on_event };
        ex_seen s;
        ac_response *r = NULL;
        ac_error err;
        memset(&s, 0, sizeof s);
        memset(&err, 0, sizeof err);
        ac_status st = ac__replay_bytes(llm, framing, http_status, bytes, len,
                                    piece, &cb, &s, &r, &err);
        CU_ASSERT(ex_check_str(label, piece, "status", ac_strerror(st),
                               ac_strerror(w->status)));
        CU_ASSERT_PTR_NOT_NULL(r);
        if (r) {
            ex_check_response(label, piece, r, w);
            /* The events add up to the response. */
            CU_ASSERT(ex_check_str(label, piece, "streamed text", s.text,
                                   w->content));
        }
        if (w->status == AC_OK) {
            CU_ASSERT(ex_check_long(label, piece, "finish events",
                                    s.n_finish, 1));
            CU_ASSERT(ex_check_long(label, piece, "usage events", s.n_usage,
                                    w->in >= 0 || w->out >= 0 ? 1 : 0));
            if (s.n_usage == 1 && s.n_finish == 1)
                CU_ASSERT(s.usage_at < s.finish_at);
            CU_ASSERT_EQUAL(s.n_error, 0);
        } else {
            CU_ASSERT_EQUAL(err.code, st);
            CU_ASSERT(s.n_error <= 1);
            ex_check_error(label, piece, &err, w, secret);
        }
        ac_response_free(r);
    }
}

void ex_check_fixture(ac_llm *llm, const char *secret, const char *name,
                      ac_framing framing, int http_status, const ex_want *w)
{
    size_t len;
    char *bytes = tu_fixture(name, &len);
    ex_check_replay(llm, secret, name, bytes, len, framing, http_status, w);
    free(bytes);
}

void ex_check_replay_oom(ac_llm *llm, ac_framing framing, const char *bytes,
                         size_t len, long max_n)
{
    ac_status st = AC_ENOMEM;
    for (long n = 0; n < max_n && st != AC_OK; n++) {
        ac_response *r = NULL;
        ac_error err;
        memset(&err, 0, sizeof err);
        ac__alloc_fail_after(n);
        st = ac__replay_bytes(llm, framing, 200, bytes, len, 7, NULL, NULL, &r,
                          &err);
        ac__alloc_fail_after(-1);
        if (st != AC_OK && st != AC_ENOMEM) {
            fprintf(stderr, "\n  allocation %ld failing gave %s: %s\n", n,
                    ac_strerror(st), err.message);
            CU_FAIL("not AC_ENOMEM");
        }
        ac_response_free(r);
    }
    CU_ASSERT_EQUAL(st, AC_OK);
}

char *ex_chunks_to_sse(const char *name, int keepalive, size_t *out_len)
{
    size_t len;
    char *text = tu_fixture(name, &len);
    json_object *arr = json_tokener_parse(text);
    free(text);
    CU_ASSERT_FATAL(arr && json_object_is_type(arr, json_type_array));
    size_t cap = len + 64 * json_object_array_length(arr) + 64, n = 0;
    char *sse = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sse);
    sse[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        const char *chunk = json_object_to_json_string_ext(
            json_object_array_get_idx(arr, i), JSON_C_TO_STRING_PLAIN);
        n += (size_t)snprintf(sse + n, cap - n, "%sdata: %s\n\n",
                              keepalive ? ":\n\n" : "", chunk);
        CU_ASSERT_FATAL(n < cap);
    }
    n += (size_t)snprintf(sse + n, cap - n, "data: [DONE]\n\n");
    CU_ASSERT_FATAL(n < cap);
    json_object_put(arr);
    *out_len = n;
    return sse;
}

ac_status ex_read_stream(ac_llm *llm, const ac_gen_params *p, ex_seen *s,
                         ac_response **out, ac_error *err)
{
    const ac_chunk *c;
    ac_status st;
    ac_stream *sm = ac_stream_open(llm, "Say hello", p, err);
    *out = NULL;
    if (!sm)
        return err->code;
    while ((st = ac_stream_next(sm, &c, 10000)) == AC_OK)
        ex_on_event(NULL, c, s);
    /* The stream can end before the request is marked done: wait. */
    CU_ASSERT_EQUAL(ac_request_wait(ac_stream_request(sm), 10000), AC_OK);
    if (st != AC_EOF)
        ac_request_status(ac_stream_request(sm), err);
    *out = ac_request_take_response(ac_stream_request(sm));
    CU_ASSERT_PTR_NOT_NULL(*out);
    ac_stream_close(sm);
    return st == AC_EOF ? AC_OK : st;
}
