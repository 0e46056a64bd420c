/*
 * test_compact.c -- session compaction (on demand, automatic, in order
 * with turns, cancelled, failed), reading histories back (ac_messages_*,
 * ac_session_messages / _archive), and saved sessions of format version 2
 * (id, times, usage, provider and model, summaries and the archive)
 * beside version 1 files, which still load.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mockutil.h"
#include "testutil.h"

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"echo\"; echo = true; usage = [3, 2]; },\n"
    "  { model = \"summ\"; reply = \"They talked about Oslo weather.\"; usage = [50, 7]; },\n"
    "  { model = \"summ-clear\"; reply = \"Too late.\"; },\n"
    "  { model = \"e500\"; status = 500; },\n"
    "  { model = \"empty\"; reply = \"\"; },\n"
    "  { model = \"hang\"; hang = true; }\n"
    ");\n";

static mu_env env;

static int suite_init(void) { return mu_start_plain(&env, SCRIPT); }
static int suite_clean(void)
{
    mu_stop(&env);
    return 0;
}

static ac_llm *llm_of(const char *model)
{
    ac_options *o = ac_options_new();
    char base[128];
    snprintf(base, sizeof base, "%s/v1", mock_server_url(env.mock));
    ac_options_set(o, "base_url", base);
    ac_options_set(o, "api_key", "sk-compact-test");
    ac_options_set(o, "max_retries", "0");
    ac_error err;
    ac_llm *l = ac_llm_create(env.core, "openai", model, o, &err);
    ac_options_free(o);
    if (!l)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    return l;
}

static void turn(ac_session *s, const char *prompt)
{
    ac_error err;
    ac_response *r = ac_session_generate(s, prompt, NULL, &err);
    if (!r)
        fprintf(stderr, "\n  turn \"%s\": %s\n", prompt, err.message);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
}

/* Content of message i of the last request's "messages". */
static const char *sent(json_object *b, size_t i, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "messages.%zu.%s", i, key);
    return tu_jstr(b, path);
}

static size_t sent_count(json_object *b)
{
    return json_object_array_length(tu_jget(b, "messages"));
}

static int starts_with(const char *s, const char *p) { return s && strncmp(s, p, strlen(p)) == 0; }

/* ------------------------------------------------------------------ */

static void test_read_a_list(void)
{
    ac_messages *m = ac_messages_new();
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "Weather?"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_set_name(m, "ann"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_ASSISTANT, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_call(m, "c1", "get_weather", "{\"city\":\"Oslo\"}"),
                    AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_call(m, "c2", "get_time", NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_result(m, "c1", "get_weather", "sunny", 0), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_result(m, "c2", NULL, "no clock", 1), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_count(m), 4);
    CU_ASSERT_EQUAL(ac_messages_role(m, 0), AC_ROLE_USER);
    TU_ASSERT_STR(ac_messages_text(m, 0), "Weather?");
    TU_ASSERT_STR(ac_messages_name(m, 0), "ann");
    CU_ASSERT_EQUAL(ac_messages_flags(m, 0), 0);
    CU_ASSERT_EQUAL(ac_messages_role(m, 1), AC_ROLE_ASSISTANT);
    TU_ASSERT_STR(ac_messages_text(m, 1), "");
    CU_ASSERT_EQUAL(ac_messages_tool_call_count(m, 1), 2);
    const char *id, *name, *args;
    CU_ASSERT_EQUAL(ac_messages_tool_call(m, 1, 1, &id, &name, &args), AC_OK);
    TU_ASSERT_STR(id, "c2");
    TU_ASSERT_STR(name, "get_time");
    TU_ASSERT_STR(args, "{}");
    CU_ASSERT_EQUAL(ac_messages_tool_call(m, 1, 2, &id, NULL, NULL), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_messages_tool_call(m, 0, 0, &id, NULL, NULL), AC_EINVAL);
    TU_ASSERT_STR(ac_messages_text(m, 2), "sunny");
    TU_ASSERT_STR(ac_messages_tool_call_id(m, 2), "c1");
    TU_ASSERT_STR(ac_messages_name(m, 2), "get_weather");
    CU_ASSERT_EQUAL(ac_messages_flags(m, 3), AC_MESSAGE_TOOL_ERROR);
    /* What the caller added carries no origin, usage or time. */
    CU_ASSERT_PTR_NULL(ac_messages_provider(m, 1));
    CU_ASSERT_PTR_NULL(ac_messages_model(m, 1));
    CU_ASSERT_EQUAL(ac_messages_input_tokens(m, 1), -1);
    CU_ASSERT_EQUAL(ac_messages_output_tokens(m, 1), -1);
    CU_ASSERT_EQUAL(ac_messages_time(m, 1), 0);
    /* Out of range and NULL: the documented "none". */
    CU_ASSERT_PTR_NULL(ac_messages_text(m, 4));
    CU_ASSERT_PTR_NULL(ac_messages_text(NULL, 0));
    CU_ASSERT_EQUAL(ac_messages_tool_call_count(m, 9), 0);
    CU_ASSERT_PTR_NULL(ac_messages_tool_call_id(m, 0));
    CU_ASSERT_EQUAL(ac_messages_time(NULL, 0), 0);
    ac_messages_free(m);
}

static void test_session_reads_back(void)
{
    ac_llm *echo = llm_of("echo");
    long long t0 = (long long)time(NULL) * 1000;
    ac_session *s = ac_session_new(echo, NULL);
    const char *id = ac_session_id(s);
    CU_ASSERT_EQUAL_FATAL(strlen(id), 36);
    CU_ASSERT_EQUAL(id[14], '4'); /* a version 4 UUID */
    ac_session *s2 = ac_session_new(echo, NULL);
    CU_ASSERT_STRING_NOT_EQUAL(ac_session_id(s2), id);
    ac_session_free(s2);
    CU_ASSERT(ac_session_created(s) >= t0 && ac_session_created(s) < t0 + 60000);
    turn(s, "hello");
    ac_messages *m = ac_session_messages(s);
    CU_ASSERT_EQUAL_FATAL(ac_messages_count(m), 2);
    TU_ASSERT_STR(ac_messages_text(m, 1), "hello");
    TU_ASSERT_STR(ac_messages_provider(m, 1), "openai");
    TU_ASSERT_STR(ac_messages_model(m, 1), "echo");
    CU_ASSERT_EQUAL(ac_messages_input_tokens(m, 1), 3);
    CU_ASSERT_EQUAL(ac_messages_output_tokens(m, 1), 2);
    CU_ASSERT_PTR_NULL(ac_messages_provider(m, 0));
    CU_ASSERT(ac_messages_time(m, 0) >= ac_session_created(s));
    CU_ASSERT(ac_messages_time(m, 1) >= ac_messages_time(m, 0));
    CU_ASSERT(ac_session_updated(s) >= ac_messages_time(m, 1));
    ac_messages_free(m);
    m = ac_session_archive(s);
    CU_ASSERT_EQUAL(ac_messages_count(m), 0);
    ac_messages_free(m);
    CU_ASSERT_PTR_NULL(ac_session_messages(NULL));
    CU_ASSERT_PTR_NULL(ac_session_id(NULL));
    ac_session_free(s);
    ac_llm_free(echo);
}

/* On demand: the older turns become one summary, the newest stay. */
static void test_compact_on_demand(void)
{
    ac_llm *echo = llm_of("echo"), *summ = llm_of("summ");
    ac_session *s = ac_session_new(echo, "Be brief.");
    turn(s, "q1");
    turn(s, "q2");
    turn(s, "q3");
    size_t before = mock_server_request_count(env.mock), replaced = 99;
    ac_compact_opts o = {.version = AC_COMPACT_OPTS_VERSION, .llm = summ};
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_session_compact(s, &o, &replaced, &err), AC_OK);
    CU_ASSERT_EQUAL(replaced, 2); /* q1 and its reply: two turns kept */
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before + 1);
    /* What the summariser was asked. */
    json_object *b = mu_last_body(env.mock);
    TU_ASSERT_STR(tu_jstr(b, "model"), "summ");
    CU_ASSERT_EQUAL(sent_count(b), 2);
    TU_ASSERT_STR(sent(b, 0, "role"), "system");
    CU_ASSERT(starts_with(sent(b, 0, "content"), "You compact conversations."));
    const char *tr = sent(b, 1, "content");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
    CU_ASSERT_PTR_NOT_NULL(strstr(tr, "User: q1\n\nAssistant: q1\n\n"));
    CU_ASSERT_PTR_NULL(strstr(tr, "q2"));
    CU_ASSERT_PTR_NULL(strstr(tr, "Be brief.")); /* the system prompt is never summarised */
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "max_tokens")) +
                    json_object_get_int(tu_jget(b, "max_completion_tokens")), 1024);
    json_object_put(b);
    /* The history now: the summary, then q2 and q3 verbatim. */
    ac_messages *m = ac_session_messages(s);
    CU_ASSERT_EQUAL_FATAL(ac_messages_count(m), 5);
    CU_ASSERT_EQUAL(ac_messages_role(m, 0), AC_ROLE_USER);
    CU_ASSERT_EQUAL(ac_messages_flags(m, 0), AC_MESSAGE_SUMMARY);
    CU_ASSERT(starts_with(ac_messages_text(m, 0), "Summary of the conversation so far"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_messages_text(m, 0), "They talked about Oslo weather."));
    TU_ASSERT_STR(ac_messages_model(m, 0), "summ");
    CU_ASSERT_EQUAL(ac_messages_input_tokens(m, 0), 50);
    CU_ASSERT_EQUAL(ac_messages_output_tokens(m, 0), 7);
    TU_ASSERT_STR(ac_messages_text(m, 1), "q2");
    TU_ASSERT_STR(ac_messages_text(m, 4), "q3");
    ac_messages_free(m);
    m = ac_session_archive(s);
    CU_ASSERT_EQUAL_FATAL(ac_messages_count(m), 2);
    TU_ASSERT_STR(ac_messages_text(m, 0), "q1");
    CU_ASSERT_EQUAL(ac_messages_role(m, 1), AC_ROLE_ASSISTANT);
    ac_messages_free(m);
    char *sys = ac_session_system_prompt(s);
    TU_ASSERT_STR(sys, "Be brief.");
    ac_free(sys);
    /* The next turn sends the summary in place of q1. */
    turn(s, "q4");
    b = mu_last_body(env.mock);
    CU_ASSERT_EQUAL(sent_count(b), 7);
    TU_ASSERT_STR(sent(b, 0, "content"), "Be brief.");
    CU_ASSERT(starts_with(sent(b, 1, "content"), "Summary of the conversation so far"));
    TU_ASSERT_STR(sent(b, 2, "content"), "q2");
    TU_ASSERT_STR(sent(b, 6, "content"), "q4");
    json_object_put(b);
    /* Again, keeping one turn: the earlier summary is summarised with the
     * turns after it, and joins the archive. */
    o.keep_turns = 1;
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_OK);
    CU_ASSERT_EQUAL(replaced, 5);
    b = mu_last_body(env.mock);
    CU_ASSERT_PTR_NOT_NULL(strstr(sent(b, 1, "content"), "Summary of what came before: Summary "
                                                        "of the conversation so far"));
    json_object_put(b);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 3);
    m = ac_session_archive(s);
    CU_ASSERT_EQUAL(ac_messages_count(m), 7);
    CU_ASSERT_EQUAL(ac_messages_flags(m, 2), AC_MESSAGE_SUMMARY);
    ac_messages_free(m);
    /* Instructions of the caller's own replace the default. */
    turn(s, "q5");
    o.instructions = "Summarise in French.";
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_OK);
    b = mu_last_body(env.mock);
    TU_ASSERT_STR(sent(b, 0, "content"), "Summarise in French.");
    json_object_put(b);
    ac_session_free(s);
    ac_llm_free(summ);
    ac_llm_free(echo);
}

static void test_nothing_to_compact(void)
{
    ac_llm *summ = llm_of("summ");
    ac_session *s = ac_session_new(summ, NULL);
    size_t before = mock_server_request_count(env.mock), replaced = 99;
    ac_error err;
    /* Empty; then one turn, which the default keeps. */
    CU_ASSERT_EQUAL(ac_session_compact(s, NULL, &replaced, &err), AC_OK);
    CU_ASSERT_EQUAL(replaced, 0);
    turn(s, "only turn");
    before = mock_server_request_count(env.mock);
    CU_ASSERT_EQUAL(ac_session_compact(s, NULL, &replaced, &err), AC_OK);
    CU_ASSERT_EQUAL(replaced, 0);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 2);
    /* Keeping none summarises it -- with the session's own llm. */
    ac_compact_opts o = {.keep_turns = AC_COMPACT_KEEP_NONE};
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_OK);
    CU_ASSERT_EQUAL(replaced, 2);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 1);
    /* A lone summary is not summarised again. */
    before = mock_server_request_count(env.mock);
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_OK);
    CU_ASSERT_EQUAL(replaced, 0);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before);
    ac_session_free(s);
    ac_llm_free(summ);
}

/* A tool call and its result are replaced together, and the transcript
 * shows both. */
static void test_tool_turns_whole(void)
{
    ac_llm *echo = llm_of("echo"), *summ = llm_of("summ");
    ac_session *s = ac_session_new(echo, NULL);
    ac_messages *m = ac_messages_new();
    ac_messages_add(m, AC_ROLE_USER, "Weather in Oslo?");
    ac_messages_add(m, AC_ROLE_ASSISTANT, NULL);
    ac_messages_add_tool_call(m, "c1", "get_weather", "{\"city\":\"Oslo\"}");
    ac_messages_add_tool_result(m, "c1", "get_weather", "sunny", 0);
    ac_messages_add(m, AC_ROLE_ASSISTANT, NULL);
    ac_messages_add_tool_call(m, "c2", "get_time", NULL);
    ac_messages_add_tool_result(m, "c2", "get_time", "no clock", 1);
    ac_messages_add(m, AC_ROLE_ASSISTANT, "Sunny.");
    ac_messages_add(m, AC_ROLE_USER, "Thanks");
    ac_messages_add(m, AC_ROLE_ASSISTANT, "You're welcome.");
    CU_ASSERT_EQUAL(ac_session_add_messages(s, m), AC_OK);
    ac_messages_free(m);
    ac_compact_opts o = {.keep_turns = 1, .llm = summ};
    size_t replaced;
    ac_error err;
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_OK);
    CU_ASSERT_EQUAL(replaced, 6);
    json_object *b = mu_last_body(env.mock);
    const char *tr = sent(b, 1, "content");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
    CU_ASSERT_PTR_NOT_NULL(strstr(tr, "[called get_weather with {\"city\":\"Oslo\"}]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tr, "Tool result (get_weather): sunny"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tr, "Tool failed (get_time): no clock"));
    CU_ASSERT_PTR_NULL(strstr(tr, "Thanks"));
    json_object_put(b);
    m = ac_session_messages(s);
    CU_ASSERT_EQUAL(ac_messages_count(m), 3);
    TU_ASSERT_STR(ac_messages_text(m, 1), "Thanks");
    ac_messages_free(m);
    ac_session_free(s);
    ac_llm_free(summ);
    ac_llm_free(echo);
}

static ac_session *busy_session;
static void compact_in_callback(ac_request *q, ac_status st, void *user)
{
    (void)q, (void)st;
    ac_error err;
    *(ac_status *)user = ac_session_compact(busy_session, NULL, NULL, &err);
}

static void test_compaction_errors(void)
{
    ac_llm *echo = llm_of("echo"), *e500 = llm_of("e500"), *empty = llm_of("empty");
    ac_session *s = ac_session_new(echo, NULL);
    turn(s, "q1");
    turn(s, "q2");
    turn(s, "q3");
    size_t replaced = 99;
    ac_error err;
    /* The summariser fails: the history is as it was. */
    ac_compact_opts o = {.llm = e500};
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_EHTTP);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(replaced, 0);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 6);
    ac_messages *a = ac_session_archive(s);
    CU_ASSERT_EQUAL(ac_messages_count(a), 0);
    ac_messages_free(a);
    /* An empty summary is no summary. */
    o.llm = empty;
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "empty summary"));
    CU_ASSERT_EQUAL(ac_session_message_count(s), 6);
    /* Bad options. */
    ac_compact_opts bad = {.version = 99};
    CU_ASSERT_EQUAL(ac_session_compact(s, &bad, NULL, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "version"));
    bad = (ac_compact_opts){.keep_turns = -2};
    CU_ASSERT_EQUAL(ac_session_compact(s, &bad, NULL, &err), AC_EINVAL);
    bad = (ac_compact_opts){.max_summary_tokens = -1};
    CU_ASSERT_EQUAL(ac_session_acompact(s, &bad, NULL, NULL, &err), AC_EINVAL);
    bad = (ac_compact_opts){.instructions = "\xff"};
    CU_ASSERT_EQUAL(ac_session_compact(s, &bad, NULL, &err), AC_EINVAL);
    bad = (ac_compact_opts){.keep_turns = 1};
    CU_ASSERT_EQUAL(ac_session_set_compaction(s, &bad, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "threshold_tokens"));
    CU_ASSERT_EQUAL(ac_session_compact(NULL, NULL, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_session_set_compaction(NULL, NULL, &err), AC_EINVAL);
    /* Blocking from a callback would wait for itself. */
    ac_status got = AC_OK;
    busy_session = s;
    ac_callbacks cb = {.version = AC_CALLBACKS_VERSION, .on_done = compact_in_callback};
    ac_request *q = ac_agenerate(echo, "x", NULL, &cb, &got, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    ac_request_wait(q, -1);
    ac_request_free(q);
    CU_ASSERT_EQUAL(got, AC_EBUSY);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 6);
    ac_session_free(s);
    ac_llm_free(empty);
    ac_llm_free(e500);
    ac_llm_free(echo);
}

/* 200 bytes: 54 estimated tokens as a message. */
static const char *long_prompt(char *buf, char c)
{
    memset(buf, c, 200);
    buf[200] = '\0';
    return buf;
}

static void test_auto_compaction(void)
{
    ac_llm *echo = llm_of("echo"), *summ = llm_of("summ"), *e500 = llm_of("e500");
    ac_session *s = ac_session_new(echo, NULL);
    ac_compact_opts o = {.keep_turns = 1, .llm = summ, .threshold_tokens = 150};
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_session_set_compaction(s, &o, &err), AC_OK);
    char p[201];
    size_t before = mock_server_request_count(env.mock);
    turn(s, long_prompt(p, 'a')); /* 54: under */
    turn(s, long_prompt(p, 'b')); /* 3 x 54: over, but one turn only, kept */
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before + 2);
    ac_response *r = ac_session_generate(s, long_prompt(p, 'c'), NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_warning_count(r), 0);
    ac_response_free(r);
    /* The summary's request, then the turn's: a's turn was replaced. */
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before + 4);
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_EQUAL(sent_count(b), 4);
    CU_ASSERT(starts_with(sent(b, 0, "content"), "Summary of the conversation so far"));
    CU_ASSERT(starts_with(sent(b, 1, "content"), "bbbb"));
    CU_ASSERT(starts_with(sent(b, 3, "content"), "cccc"));
    json_object_put(b);
    ac_messages *a = ac_session_archive(s);
    CU_ASSERT_EQUAL(ac_messages_count(a), 2);
    ac_messages_free(a);
    /* A compaction that fails: the turn goes anyway, with a warning. */
    o.llm = e500;
    CU_ASSERT_EQUAL(ac_session_set_compaction(s, &o, &err), AC_OK);
    r = ac_session_generate(s, long_prompt(p, 'd'), NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_warning_count(r), 1);
    CU_ASSERT(starts_with(ac_response_warning(r, 0), "the history was not compacted: "));
    TU_ASSERT_STR(ac_response_content(r), p);
    ac_response_free(r);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 7);
    /* Off: no more compactions. */
    CU_ASSERT_EQUAL(ac_session_set_compaction(s, NULL, &err), AC_OK);
    before = mock_server_request_count(env.mock);
    turn(s, long_prompt(p, 'e'));
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before + 1);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 9);
    ac_session_free(s);
    ac_llm_free(e500);
    ac_llm_free(summ);
    ac_llm_free(echo);
}

/* Compactions take their place among turns issued around them. */
typedef struct done_rec {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             calls;
    ac_status       status;
    size_t          replaced;
    char            message[512];
    size_t          seen_before;  /* requests the mock had seen at the end */
} done_rec;

static void on_compacted(ac_session *s, ac_status st, size_t replaced, const ac_error *err,
                         void *user)
{
    (void)s;
    done_rec *d = user;
    pthread_mutex_lock(&d->mu);
    d->calls++;
    d->status = st;
    d->replaced = replaced;
    snprintf(d->message, sizeof d->message, "%s", err ? err->message : "");
    d->seen_before = mock_server_request_count(env.mock);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Wait (10 s at most) for on_compacted; 1 if it ran. */
static int wait_compacted(done_rec *d)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&d->mu);
    while (!d->calls && pthread_cond_timedwait(&d->cv, &d->mu, &until) == 0)
        ;
    int ok = d->calls == 1;
    pthread_mutex_unlock(&d->mu);
    return ok;
}

static void test_compaction_in_order(void)
{
    ac_llm *echo = llm_of("echo"), *summ = llm_of("summ");
    ac_session *s = ac_session_new(echo, NULL);
    turn(s, "q1");
    turn(s, "q2");
    size_t before = mock_server_request_count(env.mock);
    done_rec d = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    ac_error err;
    ac_request *t3 = ac_session_agenerate(s, "q3", NULL, NULL, NULL, &err);
    ac_compact_opts o = {.keep_turns = 1, .llm = summ};
    CU_ASSERT_EQUAL(ac_session_acompact(s, &o, on_compacted, &d, &err), AC_OK);
    ac_request *t4 = ac_session_agenerate(s, "q4", NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t4);
    CU_ASSERT_EQUAL(ac_request_wait(t4, -1), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(t3, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(t4, NULL), AC_OK);
    CU_ASSERT_FATAL(wait_compacted(&d));
    /* q3's turn, then the summary (which saw q3), then q4's turn. */
    CU_ASSERT_EQUAL(d.status, AC_OK);
    CU_ASSERT_EQUAL(d.replaced, 4);
    CU_ASSERT_EQUAL(d.seen_before, before + 2);
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), before + 3);
    json_object *b = mu_last_body(env.mock);
    CU_ASSERT_EQUAL(sent_count(b), 4);
    CU_ASSERT(starts_with(sent(b, 0, "content"), "Summary of the conversation so far"));
    TU_ASSERT_STR(sent(b, 1, "content"), "q3");
    TU_ASSERT_STR(sent(b, 3, "content"), "q4");
    json_object_put(b);
    ac_request_free(t3);
    ac_request_free(t4);
    ac_session_free(s);
    ac_llm_free(summ);
    ac_llm_free(echo);
}

/* The history cleared while its summary is written: the summary is
 * thrown away.  The hook clears it as the summary's request starts. */
static ac_session *clear_me;
static void clear_on_start(const ac_hook_event *ev, void *user)
{
    (void)user;
    if (ev->kind == AC_HOOK_REQUEST_START && strcmp(ev->model, "summ-clear") == 0)
        ac_session_clear(clear_me);
}

static int disconnected_one(void *ctx)
{
    return mock_server_disconnects(env.mock) > *(size_t *)ctx;
}

static void test_compaction_cancelled(void)
{
    ac_llm *echo = llm_of("echo"), *clear = llm_of("summ-clear"), *hang = llm_of("hang");
    ac_session *s = ac_session_new(echo, NULL);
    turn(s, "q1");
    turn(s, "q2");
    turn(s, "q3");
    clear_me = s;
    CU_ASSERT_EQUAL(ac_core_set_hook(env.core, clear_on_start, NULL), AC_OK);
    ac_compact_opts o = {.llm = clear};
    ac_error err;
    size_t replaced = 9;
    CU_ASSERT_EQUAL(ac_session_compact(s, &o, &replaced, &err), AC_ECANCELED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cleared"));
    CU_ASSERT_EQUAL(replaced, 0);
    CU_ASSERT_EQUAL(ac_core_set_hook(env.core, NULL, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 0);
    ac_messages *a = ac_session_archive(s);
    CU_ASSERT_EQUAL(ac_messages_count(a), 0);
    ac_messages_free(a);

    /* A turn waiting for its automatic compaction is cancelled: so is
     * the summary's request (the mock sees the client go). */
    turn(s, "q1");
    turn(s, "q2");
    o = (ac_compact_opts){.keep_turns = 1, .llm = hang, .threshold_tokens = 1};
    CU_ASSERT_EQUAL(ac_session_set_compaction(s, &o, &err), AC_OK);
    size_t reqs = mock_server_request_count(env.mock), gone = mock_server_disconnects(env.mock);
    ac_request *q = ac_session_agenerate(s, "q3", NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FATAL(mu_wait_requests(env.mock, reqs + 1, 10000));
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_ECANCELED);
    ac_request_free(q);
    CU_ASSERT(tu_wait_until(disconnected_one, &gone, 10000));
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), reqs + 1); /* the turn never went */
    CU_ASSERT_EQUAL(ac_session_message_count(s), 4);

    /* Freeing the session: the running summary and a compaction queued
     * behind it both end, cancelled. */
    done_rec d1 = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    done_rec d2 = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    o = (ac_compact_opts){.keep_turns = 1, .llm = hang};
    reqs = mock_server_request_count(env.mock);
    CU_ASSERT_EQUAL(ac_session_acompact(s, &o, on_compacted, &d1, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_session_acompact(s, &o, on_compacted, &d2, &err), AC_OK);
    CU_ASSERT_FATAL(mu_wait_requests(env.mock, reqs + 1, 10000));
    ac_session_free(s);
    CU_ASSERT_FATAL(wait_compacted(&d1));
    CU_ASSERT_FATAL(wait_compacted(&d2));
    CU_ASSERT_EQUAL(d1.status, AC_ECANCELED);
    CU_ASSERT_EQUAL(d2.status, AC_ECANCELED);
    CU_ASSERT_PTR_NOT_NULL(strstr(d2.message, "freed"));
    CU_ASSERT_EQUAL(mock_server_request_count(env.mock), reqs + 1);
    ac_llm_free(hang);
    ac_llm_free(clear);
    ac_llm_free(echo);
}

/* ------------------------------------------------------------------ */
/* Saved sessions, version 2                                            */
/* ------------------------------------------------------------------ */

static int same_lists(ac_messages *a, ac_messages *b)
{
    size_t n = ac_messages_count(a);
    if (n != ac_messages_count(b))
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *pa = ac_messages_provider(a, i), *pb = ac_messages_provider(b, i);
        const char *ma = ac_messages_model(a, i), *mb = ac_messages_model(b, i);
        const char *na = ac_messages_name(a, i), *nb = ac_messages_name(b, i);
        if (ac_messages_role(a, i) != ac_messages_role(b, i) ||
            strcmp(ac_messages_text(a, i), ac_messages_text(b, i)) != 0 ||
            ac_messages_flags(a, i) != ac_messages_flags(b, i) ||
            (!pa != !pb) || (pa && strcmp(pa, pb) != 0) || (!ma != !mb) ||
            (ma && strcmp(ma, mb) != 0) || (!na != !nb) || (na && strcmp(na, nb) != 0) ||
            ac_messages_input_tokens(a, i) != ac_messages_input_tokens(b, i) ||
            ac_messages_output_tokens(a, i) != ac_messages_output_tokens(b, i) ||
            ac_messages_time(a, i) != ac_messages_time(b, i) ||
            ac_messages_tool_call_count(a, i) != ac_messages_tool_call_count(b, i)) {
            fprintf(stderr, "\n  message %zu differs\n", i);
            return 0;
        }
    }
    return 1;
}

static void test_save_load_v2(void)
{
    ac_llm *echo = llm_of("echo"), *summ = llm_of("summ");
    ac_session *s = ac_session_new(echo, "Be brief.");
    turn(s, "q1");
    turn(s, "q2");
    ac_messages *m = ac_messages_new();
    ac_messages_add(m, AC_ROLE_ASSISTANT, NULL);
    ac_messages_add_tool_call(m, "c9", "get_time", NULL);
    ac_messages_add_tool_result(m, "c9", "get_time", "no clock", 1);
    ac_session_add_messages(s, m);
    ac_messages_free(m);
    turn(s, "q3");
    ac_compact_opts o = {.keep_turns = 1, .llm = summ};
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_session_compact(s, &o, NULL, &err), AC_OK);
    char *path = tu_write_temp("");
    CU_ASSERT_EQUAL_FATAL(ac_session_save(s, path, &err), AC_OK);
    char *text = tu_read_file(path, NULL);
    json_object *f = json_tokener_parse(text);
    free(text);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(f, "version")), 2);
    TU_ASSERT_STR(tu_jstr(f, "id"), ac_session_id(s));
    CU_ASSERT_PTR_NOT_NULL(tu_jstr(f, "created"));
    CU_ASSERT_EQUAL(json_object_get_boolean(tu_jget(f, "messages.0.summary")), 1);
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(f, "messages.0.usage.input_tokens")), 50);
    TU_ASSERT_STR(tu_jstr(f, "messages.0.model"), "summ");
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(f, "archive")), 6);
    CU_ASSERT_EQUAL(json_object_get_boolean(tu_jget(f, "archive.5.is_error")), 1);
    CU_ASSERT(tu_jhas(f, "archive.1.time"));
    json_object_put(f);
    ac_session *t = ac_session_load(echo, path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    TU_ASSERT_STR(ac_session_id(t), ac_session_id(s));
    CU_ASSERT_EQUAL(ac_session_created(t), ac_session_created(s));
    CU_ASSERT_EQUAL(ac_session_updated(t), ac_session_updated(s));
    ac_messages *a = ac_session_messages(s), *b = ac_session_messages(t);
    CU_ASSERT(same_lists(a, b));
    ac_messages_free(a);
    ac_messages_free(b);
    a = ac_session_archive(s);
    b = ac_session_archive(t);
    CU_ASSERT(same_lists(a, b));
    CU_ASSERT_EQUAL(ac_messages_flags(b, 5), AC_MESSAGE_TOOL_ERROR);
    ac_messages_free(a);
    ac_messages_free(b);
    /* Saved again, the file is the same. */
    char *again = tu_write_temp("");
    CU_ASSERT_EQUAL(ac_session_save(t, again, &err), AC_OK);
    char *x = tu_read_file(path, NULL), *y = tu_read_file(again, NULL);
    CU_ASSERT_STRING_EQUAL(x, y);
    free(x);
    free(y);
    unlink(again);
    free(again);
    ac_session_free(t);
    ac_session_free(s);
    unlink(path);
    free(path);
    ac_llm_free(summ);
    ac_llm_free(echo);
}

/* A 1x1 PNG. */
static const unsigned char PNG[] =
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01"
    "\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90\x77\x53\xde\x00\x00\x00\x0c\x49\x44\x41\x54"
    "\x78\x9c\x63\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00"
    "\x49\x45\x4e\x44\xae\x42\x60\x82";

static int file_is(const char *path, const void *bytes, size_t n)
{
    size_t len = 0;
    char *got = tu_read_file(path, &len);
    int same = got && len == n && memcmp(got, bytes, n) == 0;
    free(got);
    return same;
}

/* Attachments kept beside the file: saved once, named by their digest,
 * loaded back and checked. */
static void test_save_by_reference(void)
{
    ac_llm *echo = llm_of("echo");
    ac_session *s = ac_session_new(echo, NULL);
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    static const char notes[] = "# Notes\nThe launch is on Friday.\n";
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, PNG, sizeof PNG - 1, "image/png", &err),
                          AC_OK);
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_document(p, "notes.md", notes, strlen(notes), &err),
                          AC_OK);
    ac_response *r = ac_session_generate(s, "What is in these?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ac_response_free(r);
    r = ac_session_generate(s, "And again?", p, &err); /* the same attachments twice */
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ac_response_free(r);
    ac_gen_params_free(p);

    char dir[] = "/tmp/actest-refs-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[256], files[300];
    snprintf(path, sizeof path, "%s/chat.json", dir);
    snprintf(files, sizeof files, "%s/chat.json.files", dir);
    CU_ASSERT_EQUAL(ac_session_save_ex(s, path, 99, &err), AC_EINVAL);
    CU_ASSERT_EQUAL_FATAL(ac_session_save_ex(s, path, AC_SAVE_ATTACHMENTS_BY_REFERENCE, &err),
                          AC_OK);
    char *text = tu_read_file(path, NULL);
    json_object *f = json_tokener_parse(text);
    free(text);
    const char *img = tu_jstr(f, "messages.0.images.0.file");
    const char *img_sha = tu_jstr(f, "messages.0.images.0.sha256");
    const char *doc = tu_jstr(f, "messages.0.files.0.file");
    CU_ASSERT_PTR_NOT_NULL_FATAL(img);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(img_sha);
    CU_ASSERT(starts_with(img, "chat.json.files/"));
    CU_ASSERT_PTR_NOT_NULL(strstr(img, img_sha));
    TU_ASSERT_STR(tu_jstr(f, "messages.0.images.0.mime_type"), "image/png");
    CU_ASSERT(!tu_jhas(f, "messages.0.files.0.text"));
    /* The second turn's attachments are the same files. */
    TU_ASSERT_STR(tu_jstr(f, "messages.2.images.0.file"), img);
    TU_ASSERT_STR(tu_jstr(f, "messages.2.files.0.file"), doc);
    char full[512];
    snprintf(full, sizeof full, "%s/%s", dir, img);
    CU_ASSERT(file_is(full, PNG, sizeof PNG - 1));
    char doc_path[512];
    snprintf(doc_path, sizeof doc_path, "%s/%s", dir, doc);
    CU_ASSERT(file_is(doc_path, notes, strlen(notes)));
    char sha[65];
    snprintf(sha, sizeof sha, "%s", img_sha);
    json_object_put(f);

    /* Loaded back: the same conversation, the same bytes sent. */
    ac_session *t = ac_session_load(echo, path, &err);
    if (!t)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    char *inline1 = tu_write_temp(""), *inline2 = tu_write_temp("");
    CU_ASSERT_EQUAL(ac_session_save(s, inline1, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_session_save(t, inline2, &err), AC_OK);
    char *x = tu_read_file(inline1, NULL), *y = tu_read_file(inline2, NULL);
    CU_ASSERT_STRING_EQUAL(x, y);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "The launch is on Friday."));
    free(x);
    free(y);
    unlink(inline1);
    unlink(inline2);
    free(inline1);
    free(inline2);
    ac_session_free(t);

    /* A changed attachment is refused, naming it; a missing one too. */
    FILE *w = fopen(doc_path, "w");
    fputs("# Notes\nThe launch is on Monday.\n", w);
    fclose(w);
    CU_ASSERT_PTR_NULL(ac_session_load(echo, path, &err));
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "does not match its sha256"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "messages[0].files[0]"));
    unlink(doc_path);
    CU_ASSERT_PTR_NULL(ac_session_load(echo, path, &err));
    CU_ASSERT_EQUAL(err.code, AC_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "cannot be read"));
    /* Saving again writes what is missing. */
    CU_ASSERT_EQUAL(ac_session_save_ex(s, path, AC_SAVE_ATTACHMENTS_BY_REFERENCE, &err), AC_OK);
    CU_ASSERT(file_is(doc_path, notes, strlen(notes)));

    /* A file naming anything but its own attachments is refused. */
    static const char *const names[] = {
        "/etc/passwd", "../x.files/", "chat.json.files/../../etc/passwd", ".files/",
        "chat.json.files/sub/",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        /* A name ending in '/' gets the right digest after it: only the
         * directory part is wrong. */
        int dir_only = names[i][strlen(names[i]) - 1] == '/';
        char body[1024], bp[300];
        snprintf(body, sizeof body,
                 "{\"format\":\"abstractcore-session\",\"version\":2,\"messages\":["
                 "{\"role\":\"user\",\"content\":\"x\",\"files\":[{\"name\":\"a\","
                 "\"file\":\"%s%s%s\",\"sha256\":\"%s\"}]}]}",
                 names[i], dir_only ? sha : "", dir_only ? ".png" : "", sha);
        snprintf(bp, sizeof bp, "%s/bad.json", dir);
        w = fopen(bp, "w");
        fputs(body, w);
        fclose(w);
        CU_ASSERT_PTR_NULL(ac_session_load(echo, bp, &err));
        CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a name this library writes"));
        unlink(bp);
    }
    /* Clean up: the directory of attachments and the file. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    ac_session_free(s);
    ac_llm_free(echo);
}

/* A file of version 1 (no id, times or usage) still loads. */
static void test_load_v1(void)
{
    ac_llm *echo = llm_of("echo");
    char *path = tu_write_temp(
        "{\"format\":\"abstractcore-session\",\"version\":1,\"system\":\"Be brief.\","
        "\"provider\":\"mock\",\"model\":\"echo\",\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_9\","
        "\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]},"
        "{\"role\":\"tool\",\"content\":\"sunny\",\"tool_call_id\":\"call_9\"},"
        "{\"role\":\"assistant\",\"content\":\"Sunny.\"}]}");
    long long t0 = (long long)time(NULL) * 1000;
    ac_error err;
    ac_session *s = ac_session_load(echo, path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(strlen(ac_session_id(s)), 36);
    CU_ASSERT(ac_session_created(s) >= t0);
    ac_messages *m = ac_session_messages(s);
    CU_ASSERT_EQUAL(ac_messages_count(m), 4);
    CU_ASSERT_EQUAL(ac_messages_time(m, 0), 0);
    CU_ASSERT_EQUAL(ac_messages_input_tokens(m, 3), -1);
    CU_ASSERT_PTR_NULL(ac_messages_model(m, 3));
    ac_messages_free(m);
    ac_session_free(s);
    unlink(path);
    free(path);
    ac_llm_free(echo);
}

#define V2 "{\"format\":\"abstractcore-session\",\"version\":2,"
#define V2M V2 "\"messages\":["

static void test_load_v2_refuses(void)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        { V2 "\"id\":\"abc\",\"messages\":[]}",
          "id \"abc\" is not a UUID in lowercase (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
        { V2 "\"id\":7,\"messages\":[]}", "id is a number, not a string" },
        { V2 "\"created\":\"yesterday\",\"messages\":[]}",
          "created \"yesterday\" is not a UTC time like 2026-12-04T20:11:12.345Z" },
        { V2 "\"updated\":\"2026-02-30T10:00:00Z\",\"messages\":[]}",
          "updated \"2026-02-30T10:00:00Z\" is not a UTC time like 2026-12-04T20:11:12.345Z" },
        { V2 "\"created\":\"2026-12-04T20:11:12.345+01:00\",\"messages\":[]}",
          "created \"2026-12-04T20:11:12.345+01:00\" is not a UTC time like "
          "2026-12-04T20:11:12.345Z" },
        { V2 "\"archive\":{},\"messages\":[]}", "archive is an object, not an array" },
        { V2 "\"sessions\":[],\"messages\":[]}",
          "a field \"sessions\" that a saved session of version 2 does not have (format, "
          "version, system, provider, model, messages, id, created, updated, archive)" },
        { V2M "{\"role\":\"assistant\",\"content\":\"x\",\"summary\":true}]}",
          "messages[0].summary on an assistant message (a summary is a user message)" },
        { V2M "{\"role\":\"user\",\"content\":\"x\",\"summary\":1}]}",
          "messages[0].summary is not a boolean" },
        { V2M "{\"role\":\"user\",\"content\":\"x\",\"model\":\"m\"}]}",
          "messages[0].model on a user message (only replies and summaries have one)" },
        { V2M "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":{\"input_tokens\":-1}}]}",
          "messages[0].usage.input_tokens is not a count (a whole number from 0 to "
          "2147483647)" },
        { V2M "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":{\"in\":1}}]}",
          "messages[0].usage has a field \"in\" (only input_tokens and output_tokens)" },
        { V2M "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":[]}]}",
          "messages[0].usage is an array, not an object" },
        { V2M "{\"role\":\"user\",\"content\":\"x\",\"time\":\"noon\"}]}",
          "messages[0].time \"noon\" is not a UTC time like 2026-12-04T20:11:12.345Z" },
        { V2M "{\"role\":\"user\",\"content\":\"x\",\"is_error\":true}]}",
          "messages[0].is_error on a user message (only tool results fail)" },
        { V2 "\"messages\":[],\"archive\":[{\"role\":\"user\",\"contents\":\"x\"}]}",
          "archive[0] has a field \"contents\" that a saved message of version 2 does not "
          "have (role, content, tool_calls, tool_call_id, name, images, is_error, summary, "
          "provider, model, usage, time, files)" },
    };
    ac_llm *echo = llm_of("echo");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = tu_write_temp(cases[i].text);
        ac_error err;
        ac_session *s = ac_session_load(echo, path, &err);
        CU_ASSERT_PTR_NULL(s);
        ac_session_free(s);
        char want[1024];
        snprintf(want, sizeof want, "%s: %s", path, cases[i].message);
        int same = err.code == AC_EPROTOCOL && strcmp(err.message, want) == 0;
        CU_ASSERT(same);
        if (!same)
            fprintf(stderr, "\ncase %zu: got %s: %s\n  wanted %s\n", i, ac_strerror(err.code),
                    err.message, want);
        unlink(path);
        free(path);
    }
    ac_llm_free(echo);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"reading a message list", test_read_a_list},
        {"a session's history read back", test_session_reads_back},
        {"compaction on demand", test_compact_on_demand},
        {"nothing to compact", test_nothing_to_compact},
        {"tool calls stay with their results", test_tool_turns_whole},
        {"compaction errors", test_compaction_errors},
        {"automatic compaction", test_auto_compaction},
        {"compactions in order with turns", test_compaction_in_order},
        {"compactions cancelled", test_compaction_cancelled},
        {"save and load, version 2", test_save_load_v2},
        {"attachments saved by reference", test_save_by_reference},
        {"version 1 files still load", test_load_v1},
        {"version 2 files refused", test_load_v2_refuses},
    };
    if (TU_ADD_SUITE("compact", suite_init, suite_clean, tests))
        return 2;
    return tu_run_suites();
}
