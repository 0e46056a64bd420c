/*
 * check_scenarios.c -- phase 2: the plugin through the real loader and
 * engine, against the mock, in every scenario of the contract.
 *
 * Each scenario states its rule in the words a FAIL line prints.  Every
 * one of them also checks that the configured key appears nowhere the
 * caller can see (events, error messages, the response); the log is
 * checked once at the end (check_run.c).
 */
#include "check.h"

#include <abstractcore/testkit.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONCURRENT 100

/* ---- helpers ---- */

/* The key anywhere a caller of this request could see it. */
static verdict secret_seen(const checker *c, const seen *w)
{
    verdict v = check_no_secret(c, "an event", w->events.p, w->events.len);
    if (!v)
        v = check_no_secret(c, "the error message", w->err.message, strlen(w->err.message));
    if (!v && w->resp) {
        char *j = ac_response_to_json(w->resp);
        v = check_no_secret(c, "the response", j, j ? strlen(j) : 0);
        ac_free(j);
    }
    return v;
}

static int is_prefix(const char *p, size_t n, const char *of)
{
    return strlen(of) >= n && memcmp(p ? p : "", of, n) == 0;
}

static int json_same(const char *a, const char *b)
{
    json_object *x = json_tokener_parse(a), *y = json_tokener_parse(b);
    int same = x && y && json_object_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return same;
}

static const char *or_none(const char *s) { return s && *s ? s : "(none)"; }

/* Wait up to ms for *flag. */
static int wait_flag(_Atomic int *flag, int ms)
{
    struct timespec step = { 0, 2 * 1000 * 1000 };
    for (int waited = 0; waited < ms; waited += 2) {
        if (atomic_load(flag))
            return 1;
        nanosleep(&step, NULL);
    }
    return atomic_load(flag);
}

static int wait_disconnect(mock_server *m, int ms)
{
    struct timespec step = { 0, 2 * 1000 * 1000 };
    for (int waited = 0; waited < ms; waited += 2) {
        if (mock_server_disconnects(m) > 0)
            return 1;
        nanosleep(&step, NULL);
    }
    return mock_server_disconnects(m) > 0;
}

/* Run scene `name` (+ extra keys) once: one request, recorded in w.
 * Returns NULL with the request done, or a verdict (setup failed). */
static verdict one(checker *c, const char *name, const char *extra, const char *llm_opts,
                   int stream, const char *tool, scene *s, seen *w, run *r)
{
    const char *why = NULL;
    seen_init(w);
    if (!check_scene(c, name, extra, s))
        return CHECK_SKIP "the fixture file cannot play it (no such scenario, or its "
                          "expect_text is not in its body)";
    if (check_run_start(c, r, s, llm_opts, &why) < 0) {
        scene_free(s);
        return check_fail("%s", why);
    }
    if (check_request(c, r, stream, tool, w, &why) < 0) {
        check_run_stop(r);
        scene_free(s);
        return check_fail("%s", why);
    }
    return NULL;
}

static void done_with(scene *s, seen *w, run *r)
{
    seen_free(w);
    check_run_stop(r);
    scene_free(s);
}

/* What every finished request must show, then what a reply must. */
static verdict reply_rules(const checker *c, const scene *s, const seen *w, int stream)
{
    verdict v = secret_seen(c, w);
    if (v)
        return v;
    if (w->n_done != 1)
        return check_fail("on_done ran %d times, not once", w->n_done);
    if (w->order_bad)
        return check_fail("an event came after the finish or the error");
    if (w->status != AC_OK)
        return check_fail("failed: %s (%s)", ac_strerror(w->status), w->err.message);
    if (s->text && strcmp(w->text.p ? w->text.p : "", s->text) != 0)
        return check_fail("the text events gave \"%s\", the reply is \"%s\"",
                          w->text.p ? w->text.p : "", s->text);
    if (s->text && strcmp(ac_response_content(w->resp), s->text) != 0)
        return check_fail("the response holds \"%s\", the reply is \"%s\"",
                          ac_response_content(w->resp), s->text);
    if (w->n_finish != 1)
        return check_fail("%d finish events, not 1", w->n_finish);
    if (s->finish && strcmp(w->finish, s->finish) != 0)
        return check_fail("finish reason \"%s\", the reply's is \"%s\"", w->finish, s->finish);
    if (s->in >= 0 && (w->n_usage != 1 || w->in != s->in || w->out != s->out))
        return check_fail("usage %s (%ld in, %ld out), the reply says %ld in, %ld out",
                          w->n_usage ? "reported" : "not reported", w->in, w->out, s->in,
                          s->out);
    if (stream && c->proto != PROTO_FIXTURES && s->piece_chunks > 1 && w->n_text < 2)
        return check_fail("a stream of %d pieces gave %d text event(s): text must be "
                          "emitted as it comes", s->piece_chunks, w->n_text);
    return NULL;
}

/* ---- the scenarios ---- */

static verdict sc_text(checker *c, int stream)
{
    scene s;
    seen w;
    run r;
    verdict v = one(c, stream ? "stream" : "text", NULL, NULL, stream, NULL, &s, &w, &r);
    if (v)
        return v;
    v = reply_rules(c, &s, &w, stream);
    done_with(&s, &w, &r);
    return v;
}

/* The stream's bytes through the engine in pieces of every size from 1
 * byte up: the same events each time. */
static verdict sc_split(checker *c)
{
    scene s;
    run r;
    const char *why = NULL;
    if (!check_scene(c, "stream", NULL, &s))
        return CHECK_SKIP "the fixture file has no stream scenario";
    if (check_run_start(c, &r, &s, NULL, &why) < 0) {
        scene_free(&s);
        return check_fail("%s", why);
    }
    check_str bytes = {0};
    long status = 0;
    verdict v = NULL;
    if (check_capture(c, mock_server_url(r.mock), &c->stream_body, &bytes, &status, &why) < 0)
        v = check_fail("%s", why);
    else if (status != 200)
        v = check_fail("the mock answered the streaming request with HTTP %ld", status);
    seen whole;
    seen_init(&whole);
    if (!v) {
        ac_error err;
        ac_status st = ac_replay(r.llm, c->framing, 200, bytes.p, bytes.len, 0,
                                 &check_recorder, &whole, NULL, &err);
        if (st != AC_OK)
            v = check_fail("the whole stream failed: %s", err.message);
        else if (s.text && strcmp(whole.text.p ? whole.text.p : "", s.text) != 0)
            v = check_fail("the whole stream gave \"%s\", not \"%s\"", or_none(whole.text.p),
                           s.text);
    }
    for (size_t piece = 1; !v && piece <= bytes.len; piece++) {
        seen w;
        seen_init(&w);
        ac_error err;
        ac_status st = ac_replay(r.llm, c->framing, 200, bytes.p, bytes.len, piece,
                                 &check_recorder, &w, NULL, &err);
        if (st != AC_OK)
            v = check_fail("in pieces of %zu bytes the stream failed: %s", piece, err.message);
        else if (w.events.len != whole.events.len ||
                 memcmp(w.events.p, whole.events.p, w.events.len) != 0)
            v = check_fail("in pieces of %zu bytes the events differ from the whole stream's",
                           piece);
        seen_free(&w);
    }
    seen_free(&whole);
    check_str_free(&bytes);
    check_run_stop(&r);
    scene_free(&s);
    return v;
}

static verdict sc_tools(checker *c, int stream)
{
    if (!(c->features & AC_FEATURE_TOOLS))
        return CHECK_SKIP "features has no AC_FEATURE_TOOLS";
    scene s;
    seen w;
    run r;
    verdict v = one(c, stream ? "tools_stream" : "tools", NULL, NULL, stream, "get_weather", &s,
                    &w, &r);
    if (v)
        return v;
    if (!(v = reply_rules(c, &s, &w, 0))) {
        size_t n = ac_response_tool_call_count(w.resp);
        if (n != 1 || w.n_tool_end != 1)
            v = check_fail("%zu tool calls in the response and %d TOOL_CALL_END events, not 1",
                           n, w.n_tool_end);
        else if (s.tool_name && strcmp(ac_response_tool_call_name(w.resp, 0), s.tool_name))
            v = check_fail("the tool call names \"%s\", the reply \"%s\"",
                           ac_response_tool_call_name(w.resp, 0), s.tool_name);
        else if (s.tool_args && !json_same(ac_response_tool_call_arguments(w.resp, 0),
                                           s.tool_args))
            v = check_fail("the tool call's arguments are %s, the reply's %s",
                           ac_response_tool_call_arguments(w.resp, 0), s.tool_args);
        else if (strcmp(w.tool_name, ac_response_tool_call_name(w.resp, 0)) ||
                 !json_same(w.tool_args.p ? w.tool_args.p : "", s.tool_args ? s.tool_args
                            : ac_response_tool_call_arguments(w.resp, 0)))
            v = check_fail("the TOOL_CALL_END event differs from the response's tool call");
    }
    done_with(&s, &w, &r);
    return v;
}

/* What every failed request must show. */
static verdict failure_rules(const checker *c, const scene *s, const seen *w)
{
    verdict v = secret_seen(c, w);
    if (v)
        return v;
    if (w->n_done != 1)
        return check_fail("on_done ran %d times, not once", w->n_done);
    if (w->status == AC_OK)
        return check_fail("succeeded (\"%s\"), but the server sent a failure",
                          w->text.p ? w->text.p : "");
    if (!w->err.message[0] || strchr(w->err.message, '\n'))
        return check_fail("the error message must be one line, not empty");
    if (s->message && !strstr(w->err.message, s->message))
        return check_fail("the error message \"%s\" does not quote the server's \"%s\"",
                          w->err.message, s->message);
    if (w->n_error != 1)
        return check_fail("%d ERROR events, not 1", w->n_error);
    return NULL;
}

static verdict sc_error(checker *c, size_t i, int stream)
{
    char name[32];
    snprintf(name, sizeof name, "error:%zu", i);
    scene s;
    seen w;
    run r;
    verdict v = one(c, name, NULL, NULL, stream, NULL, &s, &w, &r);
    if (v)
        return v;
    if (!(v = failure_rules(c, &s, &w))) {
        if (w.err.code != AC_EHTTP || w.err.http_status != s.status)
            v = check_fail("HTTP %d came back as %s, http_status %d (%s)", s.status,
                           ac_strerror(w.err.code), w.err.http_status, w.err.message);
        else if (s.retryable >= 0 && w.err.retryable != s.retryable)
            v = check_fail("HTTP %d: retryable is %d; a caller %s retry it", s.status,
                           w.err.retryable, s.retryable ? "may" : "may not");
        else if (s.retry_after_ms >= 0 && w.err.retry_after_ms != s.retry_after_ms)
            v = check_fail("HTTP %d: retry_after_ms is %ld; the server said %ld", s.status,
                           w.err.retry_after_ms, s.retry_after_ms);
        else if (mock_server_request_count(r.mock) != 1)
            v = check_fail("with max_retries = 0 the server got %zu requests",
                           mock_server_request_count(r.mock));
    }
    done_with(&s, &w, &r);
    return v;
}

static verdict sc_stream_error(checker *c)
{
    if (!c->can_stream)
        return CHECK_SKIP "no parse_event (the plugin does not stream)";
    scene s;
    seen w;
    run r;
    verdict v = one(c, "stream_error", NULL, NULL, 1, NULL, &s, &w, &r);
    if (v)
        return v;
    if (!(v = failure_rules(c, &s, &w))) {
        if (w.err.code != AC_EPROTOCOL)
            v = check_fail("an error event in a 200 stream came back as %s, not AC_EPROTOCOL",
                           ac_strerror(w.err.code));
        else if (s.text && !is_prefix(w.text.p, w.text.len, s.text))
            v = check_fail("the text before the error, \"%s\", is not the reply's start",
                           or_none(w.text.p));
        else if (s.text && (!w.resp || strcmp(ac_response_content(w.resp),
                                              w.text.p ? w.text.p : "")))
            v = check_fail("the text that came before the error is not kept in the response");
    }
    done_with(&s, &w, &r);
    return v;
}

static verdict sc_retry(checker *c)
{
    scene s;
    seen w;
    run r;
    verdict v = one(c, "text", "status = 503; fail_times = 1;", "max_retries=1", 0, NULL, &s,
                    &w, &r);
    if (v)
        return v;
    if (!(v = reply_rules(c, &s, &w, 0)) && mock_server_request_count(r.mock) != 2)
        v = check_fail("a 503 then a reply took %zu requests, not 2",
                       mock_server_request_count(r.mock));
    done_with(&s, &w, &r);
    return v;
}

/* A reply cut short must fail: it must never look like a short reply. */
static verdict sc_truncated(checker *c, int stream)
{
    if (stream && !c->can_stream)
        return CHECK_SKIP "no parse_event (the plugin does not stream)";
    const char *name = stream ? "stream" : "text";
    scene probe;
    if (!check_scene(c, name, NULL, &probe))
        return CHECK_SKIP "the fixture file has no such scenario";
    char extra[64];
    if (probe.piece_chunks >= 2)
        snprintf(extra, sizeof extra, "drop_after_chunks = %d;", probe.piece_chunks / 2);
    else if (probe.body_len >= 2)
        snprintf(extra, sizeof extra, "close_after_bytes = %zu;", probe.body_len / 2);
    else
        snprintf(extra, sizeof extra, "drop_after_chunks = 0;");
    scene_free(&probe);
    scene s;
    seen w;
    run r;
    verdict v = one(c, name, extra, NULL, stream, NULL, &s, &w, &r);
    if (v)
        return v;
    if (!(v = failure_rules(c, &s, &w)) && s.text && !is_prefix(w.text.p, w.text.len, s.text))
        v = check_fail("the text before the cut, \"%s\", is not the reply's start",
                       or_none(w.text.p));
    done_with(&s, &w, &r);
    return v;
}

/* Bytes that are not the protocol: an error that says so, never a crash
 * or an empty success. */
static verdict sc_malformed(checker *c, const char *extra, int stream)
{
    if (stream && !c->can_stream)
        return CHECK_SKIP "no parse_event (the plugin does not stream)";
    scene s;
    seen w;
    run r;
    verdict v = one(c, stream ? "stream" : "text", extra, NULL, stream, NULL, &s, &w, &r);
    if (v)
        return v;
    s.message = NULL;
    /* In a stream, the core's framer may be the one that refuses. */
    if (!(v = failure_rules(c, &s, &w)) && w.err.code != AC_EJSON &&
        w.err.code != AC_EPROTOCOL && !(stream && w.err.code == AC_EFRAMING))
        v = check_fail("came back as %s (%s), not AC_EJSON or AC_EPROTOCOL%s",
                       ac_strerror(w.err.code), w.err.message, stream ? " (or AC_EFRAMING)" : "");
    done_with(&s, &w, &r);
    return v;
}

static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = p[i] < 0x80 ? 1 : p[i] >= 0xC2 && p[i] <= 0xDF ? 2
                   : p[i] >= 0xE0 && p[i] <= 0xEF ? 3 : p[i] >= 0xF0 && p[i] <= 0xF4 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        if ((len == 3 && p[i] == 0xE0 && p[i + 1] < 0xA0) ||
            (len == 3 && p[i] == 0xED && p[i + 1] > 0x9F) ||
            (len == 4 && p[i] == 0xF0 && p[i + 1] < 0x90) ||
            (len == 4 && p[i] == 0xF4 && p[i + 1] > 0x8F))
            return 0;
        i += len;
    }
    return 1;
}

/* Text that is not UTF-8 never reaches the caller: AC_EJSON, or text
 * made valid. */
static verdict sc_utf8(checker *c, int stream)
{
    if (stream && !c->can_stream)
        return CHECK_SKIP "no parse_event (the plugin does not stream)";
    scene s;
    seen w;
    run r;
    verdict v = one(c, stream ? "stream" : "text", "invalid_utf8 = true;", NULL, stream, NULL,
                    &s, &w, &r);
    if (v)
        return v;
    if ((v = secret_seen(c, &w)) == NULL) {
        if (w.status == AC_OK && !utf8_valid(ac_response_content(w.resp),
                                             ac_response_content_len(w.resp)))
            v = check_fail("the caller got text that is not UTF-8");
        else if (w.status == AC_OK && !utf8_valid(w.text.p ? w.text.p : "", w.text.len))
            v = check_fail("a TEXT event carried bytes that are not UTF-8");
        else if (w.status != AC_OK && w.err.code != AC_EJSON)
            v = check_fail("came back as %s (%s), not AC_EJSON", ac_strerror(w.err.code),
                           w.err.message);
    }
    done_with(&s, &w, &r);
    return v;
}

static verdict sc_cancel(checker *c)
{
    if (!c->can_stream)
        return CHECK_SKIP "no parse_event (the plugin does not stream)";
    scene s;
    run r;
    const char *why = NULL;
    if (!check_scene(c, "stream", "hang = true;", &s))
        return CHECK_SKIP "the fixture file has no stream scenario";
    if (check_run_start(c, &r, &s, NULL, &why) < 0) {
        scene_free(&s);
        return check_fail("%s", why);
    }
    seen w;
    seen_init(&w);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);
    ac_error err;
    verdict v = NULL;
    w.q = ac_agenerate(r.llm, "Say hello.", p, &check_recorder, &w, &err);
    ac_gen_params_free(p);
    if (!w.q) {
        v = check_fail("ac_agenerate: %s", err.message);
    } else {
        /* The first text (the mock then sends nothing more); a protocol
         * whose first piece holds no whole event is cancelled waiting. */
        int got_text = wait_flag((_Atomic int *)&w.first_text, 10000);
        if (!got_text && c->proto != PROTO_FIXTURES)
            v = check_fail("no text event within 10 s of the stream's first piece");
        ac_request_cancel(w.q);
        if (!v && ac_request_wait(w.q, 5000) != AC_OK)
            v = check_fail("cancelled, but not done within 5 s");
        else if (!v && w.status != AC_ECANCELED)
            v = check_fail("cancelled, but it ended with %s", ac_strerror(w.status));
        else if (!v && w.n_done != 1)
            v = check_fail("on_done ran %d times, not once", w.n_done);
        else if (!v && !wait_disconnect(r.mock, 5000))
            v = check_fail("cancelled, but the connection to the server stayed open 5 s");
        if (!v)
            v = secret_seen(c, &w);
        ac_request_wait(w.q, -1);
    }
    seen_free(&w);
    check_run_stop(&r);
    scene_free(&s);
    return v;
}

static verdict sc_concurrent(checker *c)
{
    int stream = c->can_stream;
    scene s;
    run r;
    const char *why = NULL;
    if (!check_scene(c, stream ? "stream" : "text", "delay_ms = 2;", &s))
        return stream ? CHECK_SKIP "the fixture file has no stream scenario"
                      : CHECK_SKIP "the fixture file has no text scenario";
    if (check_run_start(c, &r, &s, NULL, &why) < 0) {
        scene_free(&s);
        return check_fail("%s", why);
    }
    static seen w[CONCURRENT];
    ac_request *q[CONCURRENT];
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, stream);
    verdict v = NULL;
    for (size_t i = 0; i < CONCURRENT; i++) {
        seen_init(&w[i]);
        q[i] = w[i].q = ac_agenerate(r.llm, "Say hello.", p, &check_recorder, &w[i], NULL);
        if (!q[i] && !v)
            v = check_fail("ac_agenerate %zu of %d failed", i + 1, CONCURRENT);
    }
    ac_gen_params_free(p);
    if (ac_gather(q, CONCURRENT, 60000) != AC_OK && !v)
        v = check_fail("%d requests at once were not all done within 60 s", CONCURRENT);
    for (size_t i = 0; i < CONCURRENT && !v; i++) {
        verdict one_v = reply_rules(c, &s, &w[i], stream);
        if (one_v)
            v = check_fail("request %zu of %d: %s", i + 1, CONCURRENT, one_v);
    }
    if (!v && mock_server_request_count(r.mock) != CONCURRENT)
        v = check_fail("%d requests reached the server %zu times", CONCURRENT,
                       mock_server_request_count(r.mock));
    for (size_t i = 0; i < CONCURRENT; i++) {
        if (w[i].q)
            ac_request_cancel(w[i].q), ac_request_wait(w[i].q, -1);
        seen_free(&w[i]);
    }
    check_run_stop(&r);
    scene_free(&s);
    return v;
}

/* A server that quotes the key back: the caller never sees it. */
static verdict sc_key_echo(checker *c)
{
    scene s;
    seen w;
    run r;
    verdict v = one(c, "key_echo", NULL, NULL, 0, NULL, &s, &w, &r);
    if (v)
        return v;
    v = failure_rules(c, &s, &w);
    done_with(&s, &w, &r);
    return v;
}

static verdict sc_models(checker *c)
{
    if (!c->can_list)
        return CHECK_SKIP "no parse_models";
    scene s;
    run r;
    const char *why = NULL;
    if (!check_scene(c, "models", NULL, &s))
        return CHECK_SKIP "the fixture file has no models scenario";
    if (check_run_start(c, &r, &s, NULL, &why) < 0) {
        scene_free(&s);
        return check_fail("%s", why);
    }
    ac_error err;
    ac_models *m = ac_list_models(r.llm, &err);
    verdict v = NULL;
    size_t want = 0;
    while (s.model_ids && s.model_ids[want])
        want++;
    if (!m) {
        v = check_fail("ac_list_models: %s", err.message);
    } else if (s.model_ids && ac_models_count(m) != want) {
        v = check_fail("%zu models listed, the server has %zu", ac_models_count(m), want);
    } else {
        for (size_t i = 0; i < want && !v; i++) {
            int found = 0;
            for (size_t k = 0; k < ac_models_count(m); k++)
                found |= !strcmp(ac_models_id(m, k), s.model_ids[i]);
            if (!found)
                v = check_fail("the model \"%s\" is not listed", s.model_ids[i]);
        }
    }
    if (!v && !m)
        v = check_no_secret(c, "the error message", err.message, strlen(err.message));
    ac_models_free(m);
    check_run_stop(&r);
    scene_free(&s);
    return v;
}

/* ---- the order ---- */

static void run1(checker *c, const char *name, verdict (*fn)(checker *))
{
    if (check_selected(c, name))
        check_report(c, name, fn(c));
}

static verdict text_plain(checker *c) { return sc_text(c, 0); }
static verdict text_stream(checker *c)
{
    return c->can_stream ? sc_text(c, 1) : CHECK_SKIP "no parse_event (the plugin does not stream)";
}
static verdict split(checker *c)
{
    return c->can_stream ? sc_split(c) : CHECK_SKIP "no parse_event (the plugin does not stream)";
}
static verdict tools_plain(checker *c) { return sc_tools(c, 0); }
static verdict tools_stream(checker *c)
{
    return c->can_stream ? sc_tools(c, 1) : CHECK_SKIP "no parse_event (the plugin does not stream)";
}
static verdict trunc_plain(checker *c) { return sc_truncated(c, 0); }
static verdict trunc_stream(checker *c) { return sc_truncated(c, 1); }
static verdict garbage_plain(checker *c) { return sc_malformed(c, "garbage = 300;", 0); }
static verdict garbage_stream(checker *c) { return sc_malformed(c, "garbage = 300;", 1); }
static verdict html_page(checker *c) { return sc_malformed(c, "html = true;", 0); }
static verdict utf8_plain(checker *c) { return sc_utf8(c, 0); }
static verdict utf8_stream(checker *c) { return sc_utf8(c, 1); }

void check_all(checker *c)
{
    if (c->proto == PROTO_LOCAL) {
        check_report(c, "scenarios", CHECK_SKIP "an in-process plugin: the HTTP scenarios do "
                     "not apply");
        run1(c, "embeddings", check_embed_scenario);
        return;
    }
    run1(c, "text", text_plain);
    run1(c, "stream", text_stream);
    run1(c, "split", split);
    run1(c, "tools", tools_plain);
    run1(c, "tools_stream", tools_stream);
    for (size_t i = 0; i < check_error_count(c); i++) {
        char name[48];
        scene s;
        if (!check_scene(c, (snprintf(name, sizeof name, "error:%zu", i), name), NULL, &s))
            continue;
        /* error_429, then error_429.2 for a second 429 of another kind */
        int nth = 1;
        for (size_t k = 0; k < i; k++) {
            scene o;
            char oname[32];
            snprintf(oname, sizeof oname, "error:%zu", k);
            if (check_scene(c, oname, NULL, &o)) {
                nth += o.status == s.status;
                scene_free(&o);
            }
        }
        if (nth > 1)
            snprintf(name, sizeof name, "error_%d.%d", s.status, nth);
        else
            snprintf(name, sizeof name, "error_%d", s.status);
        scene_free(&s);
        if (check_selected(c, name))
            check_report(c, name, sc_error(c, i, 0));
    }
    if (check_error_count(c) && check_selected(c, "error_stream"))
        check_report(c, "error_stream", c->can_stream ? sc_error(c, 0, 1)
                     : CHECK_SKIP "no parse_event (the plugin does not stream)");
    run1(c, "stream_error", sc_stream_error);
    run1(c, "retry", sc_retry);
    run1(c, "truncated", trunc_plain);
    run1(c, "truncated_stream", trunc_stream);
    run1(c, "malformed", garbage_plain);
    run1(c, "malformed_stream", garbage_stream);
    run1(c, "html", html_page);
    run1(c, "utf8", utf8_plain);
    run1(c, "utf8_stream", utf8_stream);
    run1(c, "cancel", sc_cancel);
    run1(c, "concurrent", sc_concurrent);
    run1(c, "key_echo", sc_key_echo);
    run1(c, "models", sc_models);
    run1(c, "embeddings", check_embed_scenario);
}
