/*
 * test_toolrun.c -- the tool loop (ac_toolbox_*, ac_session_arun_tools,
 * ac_session_run_tools) against the mock server and the openai plugin.
 *
 * Asserted: three rounds of two parallel calls (the two calls of a round
 * wait for each other at a barrier, so they really overlap) with the
 * callbacks in order, the results in the history in call order and in
 * the request the mock received, and the final reply; arguments that
 * fail the schema, an unknown tool and failing tools go back to the model
 * as error results (the tool is not called for bad arguments), flagged
 * as errors on a backend that has the flag (Anthropic); a model without
 * a tool API (prompted mode) goes through the same loop; the round
 * limit; cancel during a turn and between steps; the application's own
 * runner; host mode driven by a poll() loop in the test thread; blocking
 * calls refused where they would deadlock; registration errors; every
 * allocation failing in turn never crashes or leaks.
 */
#include "mockutil.h"
#include "testutil.h"
#include "alloc.h"
#include "params.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"agent\"; reply = \"\"; chunks = 2;\n"
    "    steps = ( { tool_calls = ( { id = \"r1a\"; name = \"meet_a\"; arguments = \"{\\\"n\\\": 1}\"; },\n"
    "                               { id = \"r1b\"; name = \"meet_b\"; arguments = \"{\\\"n\\\": 2}\"; } ); },\n"
    "              { tool_calls = ( { id = \"r2a\"; name = \"meet_a\"; arguments = \"{\\\"n\\\": 3}\"; },\n"
    "                               { id = \"r2b\"; name = \"meet_b\"; arguments = \"{\\\"n\\\": 4}\"; } ); },\n"
    "              { tool_calls = ( { id = \"r3a\"; name = \"meet_a\"; arguments = \"{\\\"n\\\": 5}\"; },\n"
    "                               { id = \"r3b\"; name = \"meet_b\"; arguments = \"{\\\"n\\\": 6}\"; } ); },\n"
    "              { reply = \"All done: 21.\"; } ); },\n"
    "  { model = \"badargs\"; reply = \"\";\n"
    "    steps = ( { tool_calls = ( { id = \"c1\"; name = \"add\"; arguments = \"{\\\"a\\\": \\\"one\\\", \\\"b\\\": 2, \\\"c\\\": 3}\"; },\n"
    "                               { id = \"c2\"; name = \"add\"; arguments = \"[1, 2]\"; } ); },\n"
    "              { reply = \"fixed\"; } ); },\n"
    "  { model = \"unknown\"; reply = \"\";\n"
    "    steps = ( { tool_calls = ( { id = \"u1\"; name = \"nosuch\"; arguments = \"{}\"; } ); },\n"
    "              { reply = \"no such tool then\"; } ); },\n"
    "  { model = \"failing\"; reply = \"\";\n"
    "    steps = ( { tool_calls = ( { id = \"f1\"; name = \"fail\"; arguments = \"{}\"; },\n"
    "                               { id = \"f2\"; name = \"fail_silent\"; arguments = \"{}\"; },\n"
    "                               { id = \"f3\"; name = \"add\"; arguments = \"{\\\"a\\\": 1, \\\"b\\\": 2}\"; } ); },\n"
    "              { reply = \"sorry\"; } ); },\n"
    "  { model = \"forever\"; reply = \"\";\n"
    "    tool_calls = ( { name = \"add\"; arguments = \"{\\\"a\\\": 1, \\\"b\\\": 2}\"; } ); },\n"
    "  { model = \"hangs\"; reply = \"\";\n"
    "    steps = ( { tool_calls = ( { id = \"h1\"; name = \"add\"; arguments = \"{\\\"a\\\": 1, \\\"b\\\": 2}\"; } ); },\n"
    "              { reply = \"never\"; hang = true; } ); },\n"
    "  { model = \"two\"; reply = \"\";\n"
    "    steps = ( { tool_calls = ( { id = \"t1\"; name = \"add\"; arguments = \"{\\\"a\\\": 1, \\\"b\\\": 2}\"; },\n"
    "                               { id = \"t2\"; name = \"add\"; arguments = \"{\\\"a\\\": 3, \\\"b\\\": 4}\"; } ); },\n"
    "              { tool_calls = ( { id = \"t3\"; name = \"add\"; arguments = \"{\\\"a\\\": true}\"; },\n"
    "                               { id = \"t4\"; name = \"nosuch\"; } ); },\n"
    "              { reply = \"end\"; } ); },\n"
    "  { model = \"texttools\";\n"
    "    steps = ( { reply = \"Adding. <tool_call>{\\\"name\\\": \\\"add\\\", \\\"arguments\\\": {\\\"a\\\": 2, \\\"b\\\": 3}}</tool_call>\"; },\n"
    "              { reply = \"It is 5.\"; } ); },\n"
    "  { model = \"echo\"; echo = true; }\n"
    ");\n";

static const char *ADD_SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},"
    "\"required\":[\"a\",\"b\"],\"additionalProperties\":false}";
static const char *MEET_SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"]}";

/* ------------------------------------------------------------------ */
/* Tools                                                               */
/* ------------------------------------------------------------------ */

static atomic_int add_calls;

static ac_status tool_add(const char *arguments, char **result, void *user)
{
    (void)user;
    atomic_fetch_add(&add_calls, 1);
    json_object *o = json_tokener_parse(arguments), *a, *b;
    if (!o || !json_object_object_get_ex(o, "a", &a) || !json_object_object_get_ex(o, "b", &b)) {
        json_object_put(o);
        return AC_EINVAL; /* never: the schema requires both */
    }
    char t[64];
    snprintf(t, sizeof t, "%g", json_object_get_double(a) + json_object_get_double(b));
    json_object_put(o);
    *result = strdup(t);
    return *result ? AC_OK : AC_ENOMEM;
}

static ac_status tool_fail(const char *arguments, char **result, void *user)
{
    (void)arguments, (void)user;
    *result = strdup("disk on fire");
    return AC_EIO;
}

static ac_status tool_fail_silent(const char *arguments, char **result, void *user)
{
    (void)arguments, (void)result, (void)user;
    return AC_EIO;
}

/* Two calls that meet: each waits (at most 10 s) for the other one of
 * its round, so a round whose calls did not run at once shows as
 * "met": false -- never a hang. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             arrived;
    unsigned        generation;
} barrier = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static _Thread_local int on_runner_thread;
static atomic_int meet_off_runner;

static int meet(void)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&barrier.mu);
    unsigned gen = barrier.generation;
    int met = 1;
    if (++barrier.arrived == 2) {
        barrier.arrived = 0;
        barrier.generation++;
        pthread_cond_broadcast(&barrier.cv);
    } else {
        while (barrier.generation == gen)
            if (pthread_cond_timedwait(&barrier.cv, &barrier.mu, &dl) != 0 &&
                barrier.generation == gen) {
                barrier.arrived--;
                met = 0;
                break;
            }
    }
    pthread_mutex_unlock(&barrier.mu);
    return met;
}

static ac_status tool_meet(const char *arguments, char **result, void *user)
{
    (void)user;
    if (!on_runner_thread)
        atomic_fetch_add(&meet_off_runner, 1);
    json_object *o = json_tokener_parse(arguments), *n = NULL;
    json_object_object_get_ex(o, "n", &n);
    int v = json_object_get_int(n);
    json_object_put(o);
    int met = meet();
    char t[64];
    snprintf(t, sizeof t, "{\"n\":%d,\"met\":%s}", v, met ? "true" : "false");
    *result = strdup(t);
    return AC_OK;
}

static ac_toolbox *make_toolbox(void)
{
    ac_toolbox *tb = ac_toolbox_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    ac_error err;
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "add", "Add two numbers", ADD_SCHEMA, tool_add, NULL, &err),
                    AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "meet_a", NULL, MEET_SCHEMA, tool_meet, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "meet_b", NULL, MEET_SCHEMA, tool_meet, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "fail", NULL, NULL, tool_fail, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "fail_silent", NULL, NULL, tool_fail_silent, NULL, &err),
                    AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_count(tb), 5);
    return tb;
}

/* ------------------------------------------------------------------ */
/* What the callbacks saw                                              */
/* ------------------------------------------------------------------ */

#define LOG_MAX 64

typedef struct seen {
    pthread_mutex_t mu;
    char   log[LOG_MAX][160];   /* "round 1", "start r1a", "done r1a 0 RESULT" */
    int    n;
    char   text[256];           /* TEXT events of every round */
    int    finishes;            /* FINISH events */
    int    done_calls;          /* the run's on_done */
    ac_status done_status;
    int    cancel_on_start;     /* ac_toolrun_cancel from on_tool_start */
    int    concurrent;          /* two callbacks at once (never) */
    atomic_int inside;
    ac_status status_in_done;   /* ac_toolrun_status inside on_done */
    ac_status wait_in_done;     /* ac_toolrun_wait inside on_done */
    pthread_t loop_thread;      /* host mode: where turns' events run */
    int    events_off_loop;
    int    tools_on_loop;
} seen;

static void seen_init(seen *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static void seen_log(seen *s, const char *fmt, const char *a, const char *b, int k)
{
    pthread_mutex_lock(&s->mu);
    if (s->n < LOG_MAX)
        snprintf(s->log[s->n++], sizeof s->log[0], fmt, a, b, k);
    pthread_mutex_unlock(&s->mu);
}

static void enter(seen *s)
{
    if (atomic_exchange(&s->inside, 1))
        s->concurrent++;
}
static void leave(seen *s) { atomic_store(&s->inside, 0); }

static void cb_event(ac_toolrun *run, const ac_chunk *c, void *user)
{
    (void)run;
    seen *s = user;
    enter(s);
    if (s->loop_thread && !pthread_equal(pthread_self(), s->loop_thread))
        s->events_off_loop++;
    if (c->type == AC_EVENT_TEXT)
        tu_append(s->text, sizeof s->text, c->text, c->len);
    if (c->type == AC_EVENT_FINISH)
        s->finishes++;
    leave(s);
}

static void cb_round(ac_toolrun *run, int round, void *user)
{
    (void)run;
    seen *s = user;
    enter(s);
    char t[16];
    snprintf(t, sizeof t, "%d", round);
    seen_log(s, "round %s%s", t, "", 0);
    leave(s);
}

static void cb_start(ac_toolrun *run, const char *name, const char *id, const char *args,
                     void *user)
{
    (void)name, (void)args;
    seen *s = user;
    enter(s);
    if (s->loop_thread && pthread_equal(pthread_self(), s->loop_thread))
        s->tools_on_loop++;
    seen_log(s, "start %s%s", id, "", 0);
    if (s->cancel_on_start)
        ac_toolrun_cancel(run);
    leave(s);
}

static void cb_done(ac_toolrun *run, const char *name, const char *id, const char *result,
                    int is_error, void *user)
{
    (void)run, (void)name;
    seen *s = user;
    enter(s);
    pthread_mutex_lock(&s->mu);
    if (s->n < LOG_MAX)
        snprintf(s->log[s->n++], sizeof s->log[0], "done %s %d %s", id, is_error, result);
    pthread_mutex_unlock(&s->mu);
    leave(s);
}

static void cb_run_done(ac_toolrun *run, ac_status st, void *user)
{
    seen *s = user;
    enter(s);
    s->done_calls++;
    s->done_status = st;
    /* The outcome is final inside on_done, and waiting here would wait
     * on itself (both asserted by the test's thread). */
    s->status_in_done = ac_toolrun_status(run, NULL);
    s->wait_in_done = ac_toolrun_wait(run, 100);
    leave(s);
}

static ac_toolrun_opts opts_for(seen *s)
{
    ac_toolrun_opts o = {.version = AC_TOOLRUN_OPTS_VERSION,
                         .on_event = cb_event,
                         .on_round = cb_round,
                         .on_tool_start = cb_start,
                         .on_tool_done = cb_done,
                         .user = s};
    return o;
}

/* Index of the first log line starting with prefix, -1 if none. */
static int log_find(seen *s, const char *prefix)
{
    for (int i = 0; i < s->n; i++)
        if (strncmp(s->log[i], prefix, strlen(prefix)) == 0)
            return i;
    return -1;
}

/* The messages of the last request the mock received. */
static json_object *last_messages(mu_env *e, json_object **root)
{
    *root = mu_last_body(e->mock);
    return *root ? tu_jget(*root, "messages") : NULL;
}

static const char *msg_str(json_object *msgs, int i, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "%d.%s", i, key);
    return tu_jstr(msgs, path);
}

/* History message i's content (a copy in a static buffer). */
static const char *hist(ac_session *s, size_t i)
{
    static char buf[512];
    char *c = ac_session_message_content(s, i);
    snprintf(buf, sizeof buf, "%s", c ? c : "(none)");
    ac_free(c);
    return buf;
}

/* The three rounds of the agent model, checked. */
static void check_agent_run(seen *s, ac_session *ses, mu_env *e)
{
    CU_ASSERT_EQUAL(s->concurrent, 0);
    /* round n, both starts, both dones (the barrier lets neither end
     * before the other started), then round n+1. */
    static const char *ids[3][2] = {{"r1a", "r1b"}, {"r2a", "r2b"}, {"r3a", "r3b"}};
    CU_ASSERT_EQUAL_FATAL(s->n, 3 * 5 + 1);
    for (int r = 0; r < 3; r++) {
        int base = r * 5;
        char want[16];
        snprintf(want, sizeof want, "round %d", r + 1);
        TU_ASSERT_STR(s->log[base], want);
        for (int k = 0; k < 2; k++) {
            const char *l = s->log[base + 1 + k];
            CU_ASSERT(strncmp(l, "start ", 6) == 0);
            const char *d = s->log[base + 3 + k];
            CU_ASSERT(strncmp(d, "done ", 5) == 0);
            CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"met\":true"));
            CU_ASSERT_PTR_NOT_NULL(strstr(d, " 0 {")); /* not an error */
        }
        for (int k = 0; k < 2; k++) {
            char p[16];
            snprintf(p, sizeof p, "start %s", ids[r][k]);
            int st = log_find(s, p);
            snprintf(p, sizeof p, "done %s", ids[r][k]);
            int dn = log_find(s, p);
            CU_ASSERT(st > base && st <= base + 2);
            CU_ASSERT(dn > base + 2 && dn <= base + 4);
        }
    }
    TU_ASSERT_STR(s->log[15], "round 4");
    TU_ASSERT_STR(s->text, "All done: 21.");
    CU_ASSERT_EQUAL(s->finishes, 4);

    /* The history: user, then per round the calls and both results in
     * call order, then the answer. */
    CU_ASSERT_EQUAL_FATAL(ac_session_message_count(ses), 11);
    CU_ASSERT_EQUAL(ac_session_message_role(ses, 0), AC_ROLE_USER);
    for (int r = 0; r < 3; r++) {
        CU_ASSERT_EQUAL(ac_session_message_role(ses, (size_t)(1 + 3 * r)), AC_ROLE_ASSISTANT);
        CU_ASSERT_EQUAL(ac_session_message_role(ses, (size_t)(2 + 3 * r)), AC_ROLE_TOOL);
        CU_ASSERT_EQUAL(ac_session_message_role(ses, (size_t)(3 + 3 * r)), AC_ROLE_TOOL);
        char want[64];
        snprintf(want, sizeof want, "{\"n\":%d,\"met\":true}", 2 * r + 1);
        TU_ASSERT_STR(hist(ses, (size_t)(2 + 3 * r)), want);
        snprintf(want, sizeof want, "{\"n\":%d,\"met\":true}", 2 * r + 2);
        TU_ASSERT_STR(hist(ses, (size_t)(3 + 3 * r)), want);
    }
    TU_ASSERT_STR(hist(ses, 10), "All done: 21.");

    /* What the model got in the last request: the results with their
     * call ids, and every tool of the toolbox offered. */
    CU_ASSERT_EQUAL(mock_server_request_count(e->mock), 4);
    json_object *root, *msgs = last_messages(e, &root);
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 10);
    TU_ASSERT_STR(msg_str(msgs, 8, "role"), "tool");
    TU_ASSERT_STR(msg_str(msgs, 8, "tool_call_id"), "r3a");
    TU_ASSERT_STR(msg_str(msgs, 8, "content"), "{\"n\":5,\"met\":true}");
    TU_ASSERT_STR(msg_str(msgs, 9, "tool_call_id"), "r3b");
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(root, "tools")), 5);
    TU_ASSERT_STR(tu_jstr(root, "tools.1.function.name"), "meet_a");
    json_object_put(root);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_three_rounds_in_parallel(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "agent", NULL);
    ac_toolbox *tb = make_toolbox();
    ac_session *ses = ac_session_new(e.llm, NULL);
    seen s;
    seen_init(&s);
    ac_toolrun_opts o = opts_for(&s);
    ac_error err;
    ac_toolrun *run = ac_session_arun_tools(ses, "Add things up.", NULL, tb, &o, cb_run_done, &s,
                                            &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_EQUAL(ac_toolrun_wait(run, 30000), AC_OK);
    CU_ASSERT_EQUAL(ac_toolrun_status(run, &err), AC_OK);
    CU_ASSERT_EQUAL(s.done_calls, 1);
    CU_ASSERT_EQUAL(s.done_status, AC_OK);
    CU_ASSERT_EQUAL(s.status_in_done, AC_OK);
    CU_ASSERT_EQUAL(s.wait_in_done, AC_EBUSY);
    CU_ASSERT_EQUAL(ac_toolrun_rounds(run), 4);
    const ac_response *r = ac_toolrun_response(run);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "All done: 21.");
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    check_agent_run(&s, ses, &e);
    ac_toolrun_free(run);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

/* The blocking form, with no callbacks at all; and the toolbox offered
 * by hand to a request of the application's own. */
static void test_blocking_and_offer(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "agent", NULL);
    ac_toolbox *tb = make_toolbox();
    ac_session *ses = ac_session_new(e.llm, "Be brief.");
    ac_error err;
    ac_response *r = ac_session_run_tools(ses, "Add things up.", NULL, tb, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "All done: 21.");
    ac_response_free(r);
    CU_ASSERT_EQUAL(ac_session_message_count(ses), 11);
    ac_session_free(ses);

    /* A tool the parameters offer already is not offered twice. */
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "add", "mine", "{\"type\":\"object\"}"), AC_OK);
    ses = ac_session_new(e.llm, NULL);
    r = ac_session_run_tools(ses, "Add things up.", p, tb, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *root = mu_last_body(e.mock);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(root, "tools")), 5);
    TU_ASSERT_STR(tu_jstr(root, "tools.0.function.description"), "mine");
    json_object_put(root);
    ac_session_free(ses);

    CU_ASSERT_EQUAL(ac_toolbox_offer(tb, p), AC_OK);
    CU_ASSERT_EQUAL(p->n_tools, 6);
    CU_ASSERT_STRING_EQUAL(p->tools[1].name, "add");
    CU_ASSERT_STRING_EQUAL(p->tools[5].name, "fail_silent");
    /* All or nothing: 126 + 5 tools would be too many. */
    while (p->n_tools < 126)
        CU_ASSERT_EQUAL_FATAL(ac_gen_params_add_tool(p, "x", NULL, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_offer(tb, p), AC_EINVAL);
    CU_ASSERT_EQUAL(p->n_tools, 126);
    CU_ASSERT_EQUAL(ac_toolbox_offer(NULL, p), AC_EINVAL);
    ac_gen_params_free(p);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

/* A run with the "seen" callbacks, waited for; returns its status. */
static ac_status run_model(mu_env *e, ac_toolbox *tb, const char *model, seen *s,
                           ac_toolrun_opts *o, ac_session **out)
{
    ac_llm *llm = mu_llm(e, model);
    ac_session *ses = ac_session_new(llm, NULL);
    ac_llm_free(llm);
    ac_error err;
    ac_toolrun *run = ac_session_arun_tools(ses, "Go.", NULL, tb, o, cb_run_done, s, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_EQUAL(ac_toolrun_wait(run, 30000), AC_OK);
    ac_status st = ac_toolrun_status(run, &err);
    CU_ASSERT_EQUAL(s->done_calls, 1);
    CU_ASSERT_EQUAL(s->status_in_done, st);
    CU_ASSERT_EQUAL(s->wait_in_done, AC_EBUSY);
    ac_toolrun_free(run);
    *out = ses;
    return st;
}

static void test_bad_arguments_go_back(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, NULL, NULL);
    ac_toolbox *tb = make_toolbox();
    seen s;
    seen_init(&s);
    ac_toolrun_opts o = opts_for(&s);
    ac_session *ses;
    atomic_store(&add_calls, 0);
    CU_ASSERT_EQUAL(run_model(&e, tb, "badargs", &s, &o, &ses), AC_OK);
    CU_ASSERT_EQUAL(atomic_load(&add_calls), 0); /* the tool never saw them */
    TU_ASSERT_STR(s.text, "fixed");
    int d = log_find(&s, "done c1 1 ");
    CU_ASSERT(d >= 0);
    json_object *root, *msgs = last_messages(&e, &root);
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 4);
    TU_ASSERT_STR(msg_str(msgs, 2, "tool_call_id"), "c1");
    const char *c1 = msg_str(msgs, 2, "content");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
    /* Each error with the failing value's pointer and the keyword. */
    CU_ASSERT_PTR_NOT_NULL(strstr(c1, "do not match the tool's parameters schema"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c1, "/a: expected number, got string \"one\" [keyword type]\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c1, "[keyword type]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c1, "[keyword additionalProperties]"));
    if (d >= 0)
        CU_ASSERT_PTR_NOT_NULL(strstr(s.log[d], "[keyword type]"));
    const char *c2 = msg_str(msgs, 3, "content");
    CU_ASSERT_PTR_NOT_NULL(c2 && strstr(c2, "not a JSON object"));
    json_object_put(root);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

/* On a backend whose tool results carry an error flag (Anthropic), the
 * refused arguments go back flagged, and the good result does not. */
static void test_error_flag_on_anthropic(void)
{
    mock_server *m = mock_server_start(SCRIPT, 0, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char extra[512];
    snprintf(extra, sizeof extra,
             "providers = ( { name = \"anthropic\"; plugin = \"anthropic\"; "
             "base_url = \"%s\"; api_key = \"test\"; } );", mock_server_url(m));
    ac_core *core = tu_open_core(extra);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "anthropic", "failing", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_toolbox *tb = make_toolbox();
    ac_session *ses = ac_session_new(llm, NULL);
    ac_response *r = ac_session_run_tools(ses, "Go.", NULL, tb, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    TU_ASSERT_STR(ac_response_content(r), "sorry");
    ac_response_free(r);
    json_object *root = mu_last_body(m);
    /* user, assistant (three tool_use), user (three tool_result) */
    json_object *blocks = tu_jget(root, "messages.2.content");
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(blocks), 3);
    TU_ASSERT_STR(tu_jstr(blocks, "0.type"), "tool_result");
    TU_ASSERT_STR(tu_jstr(blocks, "0.tool_use_id"), "f1");
    CU_ASSERT(json_object_get_boolean(tu_jget(blocks, "0.is_error")));
    CU_ASSERT(json_object_get_boolean(tu_jget(blocks, "1.is_error")));
    CU_ASSERT_FALSE(tu_jhas(blocks, "2.is_error") &&
                    json_object_get_boolean(tu_jget(blocks, "2.is_error")));
    json_object_put(root);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    ac_llm_free(llm);
    ac_core_close(core);
    mock_server_stop(m);
}

/* A model without a tool API (prompted mode): the calls it writes in its
 * text are run the same way, and the results go back as text. */
static void test_prompted_mode(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "texttools", "tool_mode = \"prompted\";");
    ac_toolbox *tb = make_toolbox();
    ac_session *ses = ac_session_new(e.llm, NULL);
    atomic_store(&add_calls, 0);
    ac_error err;
    ac_response *r = ac_session_run_tools(ses, "What is 2 + 3?", NULL, tb, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "It is 5.");
    ac_response_free(r);
    CU_ASSERT_EQUAL(atomic_load(&add_calls), 1);
    CU_ASSERT_EQUAL(ac_session_message_count(ses), 4);
    TU_ASSERT_STR(hist(ses, 2), "5");
    json_object *root, *msgs = last_messages(&e, &root);
    CU_ASSERT_PTR_NULL(tu_jget(root, "tools")); /* offered in the system prompt */
    const char *sys = msg_str(msgs, 0, "content");
    CU_ASSERT_PTR_NOT_NULL(sys && strstr(sys, "meet_a"));
    const char *call = msg_str(msgs, 2, "content");
    CU_ASSERT_PTR_NOT_NULL(call && strstr(call, "<tool_call>"));
    TU_ASSERT_STR(msg_str(msgs, 3, "role"), "user");
    const char *res = msg_str(msgs, 3, "content");
    CU_ASSERT_PTR_NOT_NULL(res && strstr(res, "<tool_response>") && strstr(res, "5"));
    json_object_put(root);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

static void test_unknown_tool_and_failing_tools(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, NULL, NULL);
    ac_toolbox *tb = make_toolbox();
    seen s;
    seen_init(&s);
    ac_toolrun_opts o = opts_for(&s);
    ac_session *ses;
    CU_ASSERT_EQUAL(run_model(&e, tb, "unknown", &s, &o, &ses), AC_OK);
    TU_ASSERT_STR(s.text, "no such tool then");
    CU_ASSERT(log_find(&s, "start u1") >= 0);
    CU_ASSERT(log_find(&s, "done u1 1 no tool named \"nosuch\"") >= 0);
    json_object *root, *msgs = last_messages(&e, &root);
    TU_ASSERT_STR(msg_str(msgs, 2, "content"), "no tool named \"nosuch\"");
    json_object_put(root);
    ac_session_free(ses);

    seen_init(&s);
    CU_ASSERT_EQUAL(run_model(&e, tb, "failing", &s, &o, &ses), AC_OK);
    TU_ASSERT_STR(s.text, "sorry");
    CU_ASSERT(log_find(&s, "done f1 1 disk on fire") >= 0);
    CU_ASSERT(log_find(&s, "done f2 1 tool \"fail_silent\" failed: ") >= 0);
    CU_ASSERT(log_find(&s, "done f3 0 3") >= 0);
    msgs = last_messages(&e, &root);
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 5);
    TU_ASSERT_STR(msg_str(msgs, 2, "content"), "disk on fire");
    const char *c = msg_str(msgs, 3, "content");
    CU_ASSERT_PTR_NOT_NULL(c && strstr(c, "AC_EIO"));
    TU_ASSERT_STR(msg_str(msgs, 4, "content"), "3");
    json_object_put(root);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

static void test_round_limit(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "forever", NULL);
    ac_toolbox *tb = make_toolbox();
    seen s;
    seen_init(&s);
    ac_toolrun_opts o = opts_for(&s);
    o.max_rounds = 3;
    ac_session *ses = ac_session_new(e.llm, NULL);
    atomic_store(&add_calls, 0);
    ac_error err;
    ac_toolrun *run = ac_session_arun_tools(ses, "Loop.", NULL, tb, &o, cb_run_done, &s, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_EQUAL(ac_toolrun_wait(run, 30000), AC_OK);
    CU_ASSERT_EQUAL(ac_toolrun_status(run, &err), AC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "round 3"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_rounds"));
    TU_ASSERT_STR(err.provider, "mock");
    CU_ASSERT_EQUAL(s.done_status, AC_ELIMIT);
    CU_ASSERT_EQUAL(ac_toolrun_rounds(run), 3);
    CU_ASSERT_EQUAL(atomic_load(&add_calls), 2); /* rounds 1 and 2 only */
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 3);
    /* The last reply, which still asked for a call, is kept. */
    const ac_response *r = ac_toolrun_response(run);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 1);
    /* The history stays valid: the call not run has a result saying so. */
    size_t n = ac_session_message_count(ses);
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_EQUAL(ac_session_message_role(ses, n - 1), AC_ROLE_TOOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(hist(ses, n - 1), "not run"));
    ac_toolrun_free(run);

    /* The blocking form says the same. */
    ac_session_clear(ses);
    CU_ASSERT_PTR_NULL(ac_session_run_tools(ses, "Loop.", NULL, tb, &o, &err));
    CU_ASSERT_EQUAL(err.code, AC_ELIMIT);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

static void test_cancel_mid_turn(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "hangs", NULL);
    ac_toolbox *tb = make_toolbox();
    seen s;
    seen_init(&s);
    ac_toolrun_opts o = opts_for(&s);
    ac_session *ses = ac_session_new(e.llm, NULL);
    ac_error err;
    ac_toolrun *run = ac_session_arun_tools(ses, "Go.", NULL, tb, &o, cb_run_done, &s, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    /* The second turn is hanging at the mock. */
    CU_ASSERT_FATAL(mu_wait_requests(e.mock, 2, 10000));
    CU_ASSERT_EQUAL(ac_toolrun_wait(run, 0), AC_ETIMEDOUT);
    CU_ASSERT_EQUAL(ac_toolrun_status(run, NULL), AC_EPENDING);
    CU_ASSERT_PTR_NULL(ac_toolrun_response(run));
    ac_toolrun_cancel(run);
    CU_ASSERT_EQUAL(ac_toolrun_wait(run, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_toolrun_status(run, &err), AC_ECANCELED);
    CU_ASSERT_EQUAL(s.done_calls, 1);
    CU_ASSERT_EQUAL(ac_toolrun_rounds(run), 2);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 2);
    /* The cancelled turn left the history as it found it. */
    CU_ASSERT_EQUAL(ac_session_message_count(ses), 3);
    ac_toolrun_free(run);

    /* Freeing a running run cancels it too; its on_done still fires. */
    seen_init(&s);
    ac_session_clear(ses);
    run = ac_session_arun_tools(ses, "Go.", NULL, tb, &o, cb_run_done, &s, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_FATAL(mu_wait_requests(e.mock, 4, 10000));
    ac_toolrun_free(run);
    ac_session_free(ses); /* the run keeps what it needs */
    ac_toolbox_free(tb);
    mu_stop(&e);          /* the run has ended by now */
    CU_ASSERT_EQUAL(s.done_calls, 1);
    CU_ASSERT_EQUAL(s.done_status, AC_ECANCELED);
}

/* Cancel from on_tool_start of the first call: it still runs, the calls
 * after it do not, and no further turn is sent. */
static void test_cancel_between_steps(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, NULL, NULL);
    ac_toolbox *tb = make_toolbox();
    seen s;
    seen_init(&s);
    s.cancel_on_start = 1;
    ac_toolrun_opts o = opts_for(&s);
    o.max_parallel = 1;
    ac_session *ses;
    CU_ASSERT_EQUAL(run_model(&e, tb, "failing", &s, &o, &ses), AC_ECANCELED);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 1);
    CU_ASSERT_EQUAL(s.n, 3);
    TU_ASSERT_STR(s.log[1], "start f1");
    TU_ASSERT_STR(s.log[2], "done f1 1 disk on fire");
    CU_ASSERT_EQUAL_FATAL(ac_session_message_count(ses), 5);
    TU_ASSERT_STR(hist(ses, 2), "disk on fire");
    CU_ASSERT_PTR_NOT_NULL(strstr(hist(ses, 3), "not run: the tool run was cancelled"));
    CU_ASSERT_PTR_NOT_NULL(strstr(hist(ses, 4), "not run"));
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

/* ---- the application's own threads ---- */

typedef struct runner {
    pthread_mutex_t mu;
    pthread_t       t[16];
    int             n, overflow;
} runner;

typedef struct job_arg {
    void (*job)(void *);
    void *arg;
} job_arg;

static void *runner_main(void *p)
{
    job_arg ja = *(job_arg *)p;
    free(p);
    on_runner_thread = 1;
    ja.job(ja.arg);
    return NULL;
}

static void app_run(void (*job)(void *), void *arg, void *user)
{
    runner *rn = user;
    job_arg *ja = malloc(sizeof *ja);
    ja->job = job;
    ja->arg = arg;
    pthread_mutex_lock(&rn->mu);
    if (rn->n < 16 && pthread_create(&rn->t[rn->n], NULL, runner_main, ja) == 0)
        rn->n++;
    else
        rn->overflow++;
    pthread_mutex_unlock(&rn->mu);
}

static void test_application_runner(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "agent", NULL);
    ac_toolbox *tb = make_toolbox();
    ac_session *ses = ac_session_new(e.llm, NULL);
    runner rn = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ac_toolrun_opts o = {.run = app_run, .user = &rn, .max_parallel = 2};
    atomic_store(&meet_off_runner, 0);
    ac_error err;
    ac_response *r = ac_session_run_tools(ses, "Add things up.", NULL, tb, &o, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    TU_ASSERT_STR(ac_response_content(r), "All done: 21.");
    ac_response_free(r);
    pthread_mutex_lock(&rn.mu);
    int n = rn.n;
    pthread_mutex_unlock(&rn.mu);
    for (int i = 0; i < n; i++)
        pthread_join(rn.t[i], NULL);
    CU_ASSERT_EQUAL(n, 6);            /* two jobs a round */
    CU_ASSERT_EQUAL(rn.overflow, 0);
    CU_ASSERT_EQUAL(atomic_load(&meet_off_runner), 0);
    for (int i = 3; i < 10; i += 3) { /* the barrier met every time */
        CU_ASSERT_PTR_NOT_NULL(strstr(hist(ses, (size_t)i), "\"met\":true"));
        CU_ASSERT_PTR_NOT_NULL(strstr(hist(ses, (size_t)i - 1), "\"met\":true"));
    }
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

/* ---- host mode ---- */

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static ac_core *open_host(mock_server *m)
{
    const char *l = tu_plugin_path_list();
    char text[4096];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";\n"
             "                api_key = \"%s\"; max_retries = 0; } );\n",
             l, mock_server_url(m), MU_API_KEY);
    char *path = tu_write_temp(text);
    ac_options *o = ac_options_new();
    ac_options_set(o, "engine.mode", "host");
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open_ex(&core, path, o, &err) != AC_OK) {
        fprintf(stderr, "ac_core_open_ex: %s\n", err.message);
        core = NULL;
    }
    ac_options_free(o);
    unlink(path);
    free(path);
    return core;
}

static void test_host_mode(void)
{
    mock_server *m = mock_server_start(SCRIPT, 0, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    ac_core *core = open_host(m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "mock", "agent", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_toolbox *tb = make_toolbox();
    ac_session *ses = ac_session_new(llm, NULL);
    /* Blocking would stall the loop. */
    CU_ASSERT_PTR_NULL(ac_session_run_tools(ses, "x", NULL, tb, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "host mode"));
    seen s;
    seen_init(&s);
    s.loop_thread = pthread_self();
    ac_toolrun_opts o = opts_for(&s);
    ac_toolrun *run = ac_session_arun_tools(ses, "Add things up.", NULL, tb, &o, cb_run_done, &s,
                                            &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_EQUAL(ac_toolrun_wait(run, 100), AC_EBUSY);
    /* The application's loop. */
    int fd = ac_core_backend_fd(core);
    double end = mono_ms() + 30000;
    while (ac_toolrun_wait(run, 0) != AC_OK && mono_ms() < end) {
        int t = ac_core_backend_timeout(core);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, t < 0 || t > 50 ? 50 : t);
        CU_ASSERT_EQUAL_FATAL(ac_core_run_once(core), AC_OK);
    }
    CU_ASSERT_EQUAL(ac_toolrun_status(run, &err), AC_OK);
    CU_ASSERT_EQUAL(s.events_off_loop, 0); /* turns' events: on the loop */
    CU_ASSERT_EQUAL(s.tools_on_loop, 0);   /* tools: never on it */
    TU_ASSERT_STR(ac_response_content(ac_toolrun_response(run)), "All done: 21.");
    check_agent_run(&s, ses, &(mu_env){.mock = m});
    ac_toolrun_free(run);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    ac_llm_free(llm);
    ac_core_close(core);
    mock_server_stop(m);
}

/* Blocking calls in a callback fail instead of deadlocking. */
static ac_session *cb_session;
static ac_toolbox *cb_toolbox;
static ac_status cb_status = AC_OK;

static void blocking_in_callback(ac_request *q, ac_status st, void *u)
{
    (void)q, (void)st, (void)u;
    ac_error err;
    ac_response *r = ac_session_run_tools(cb_session, "x", NULL, cb_toolbox, NULL, &err);
    cb_status = r ? AC_OK : err.code;
    ac_response_free(r);
}

static void test_blocking_refused_in_callback(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    cb_toolbox = make_toolbox();
    cb_session = ac_session_new(e.llm, NULL);
    ac_callbacks cb = {.on_done = blocking_in_callback};
    ac_request *q = ac_agenerate(e.llm, "hi", NULL, &cb, NULL, NULL);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(cb_status, AC_EBUSY);
    ac_request_free(q);
    /* A model that calls nothing: one round, its reply. */
    ac_error err;
    ac_response *r = ac_session_run_tools(cb_session, "just talk", NULL, cb_toolbox, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    TU_ASSERT_STR(ac_response_content(r), "just talk");
    ac_response_free(r);
    ac_session_free(cb_session);
    ac_toolbox_free(cb_toolbox);
    mu_stop(&e);
}

static void test_registration_and_arguments(void)
{
    ac_toolbox *tb = ac_toolbox_new();
    ac_error err;
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "ok_name-1", NULL, NULL, tool_add, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "ok_name-1", NULL, NULL, tool_add, NULL, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "already"));
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "", NULL, NULL, tool_add, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "has space", NULL, NULL, tool_add, NULL, &err), AC_EINVAL);
    char longname[66];
    memset(longname, 'n', 65);
    longname[65] = '\0';
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, longname, NULL, NULL, tool_add, NULL, &err), AC_EINVAL);
    longname[64] = '\0';
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, longname, NULL, NULL, tool_add, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", NULL, NULL, NULL, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_toolbox_add(NULL, "f", NULL, NULL, tool_add, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", "\xff", NULL, tool_add, NULL, &err), AC_EINVAL);
    /* The schema: JSON, an object, and one the validator takes. */
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", NULL, "{\"type\":", tool_add, NULL, &err), AC_EJSON);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "tool \"f\""));
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", NULL, "true", tool_add, NULL, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a JSON object"));
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", NULL, "{\"type\":\"object\"} x", tool_add, NULL, &err),
                    AC_EJSON);
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", NULL,
                                   "{\"properties\":{\"a\":{\"type\":\"strnig\"}}}", tool_add,
                                   NULL, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "tool \"f\": "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/properties/a"));
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", NULL, "{\"$defs\":{}}", tool_add, NULL, &err),
                    AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "$defs"));
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "f", NULL, "{\"$ref\":\"http://example.com/s.json\"}",
                                   tool_add, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_toolbox_count(tb), 2);
    for (int i = 2; i < 128; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        CU_ASSERT_EQUAL(ac_toolbox_add(tb, name, NULL, NULL, tool_add, NULL, &err), AC_OK);
    }
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "one_too_many", NULL, NULL, tool_add, NULL, &err),
                    AC_EINVAL);
    CU_ASSERT_EQUAL(ac_toolbox_count(tb), 128);
    CU_ASSERT_EQUAL(ac_toolbox_count(NULL), 0);

    /* Bad arguments to the run itself. */
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    ac_session *ses = ac_session_new(e.llm, NULL);
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(NULL, "x", NULL, tb, NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(ses, "x", NULL, NULL, NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    ac_toolrun_opts o = {.max_parallel = 65};
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(ses, "x", NULL, tb, &o, NULL, NULL, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_parallel"));
    o = (ac_toolrun_opts){.max_rounds = -1};
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(ses, "x", NULL, tb, &o, NULL, NULL, &err));
    o = (ac_toolrun_opts){.version = 99};
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(ses, "x", NULL, tb, &o, NULL, NULL, &err));
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(ses, "\xff", NULL, tb, NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    /* 128 tools and one more of the parameters' own: too many. */
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_add_tool(p, "mine", NULL, NULL);
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(ses, "x", p, tb, NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "128"));
    ac_gen_params_free(p);
    CU_ASSERT_EQUAL(ac_session_message_count(ses), 0);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 0);
    CU_ASSERT_EQUAL(ac_toolrun_wait(NULL, 0), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_toolrun_status(NULL, NULL), AC_EINVAL);
    CU_ASSERT_PTR_NULL(ac_toolrun_response(NULL));
    CU_ASSERT_EQUAL(ac_toolrun_rounds(NULL), 0);
    ac_toolrun_cancel(NULL);
    ac_toolrun_free(NULL);
    ac_toolbox_free(NULL);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

/* The core closed under a run: it ends cancelled. */
static void test_core_closed(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "hangs", NULL);
    ac_toolbox *tb = make_toolbox();
    ac_session *ses = ac_session_new(e.llm, NULL);
    seen s;
    seen_init(&s);
    ac_toolrun_opts o = opts_for(&s);
    ac_toolrun *run = ac_session_arun_tools(ses, "Go.", NULL, tb, &o, cb_run_done, &s, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_FATAL(mu_wait_requests(e.mock, 2, 10000));
    ac_core_close(e.core);
    e.core = NULL;
    CU_ASSERT_EQUAL(ac_toolrun_wait(run, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_toolrun_status(run, NULL), AC_ECANCELED);
    ac_toolrun_free(run);
    ac_error err;
    CU_ASSERT_PTR_NULL(ac_session_arun_tools(ses, "x", NULL, tb, NULL, NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECANCELED);
    ac_session_free(ses);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

/* Every allocation failing in turn, across every thread of a two-round
 * run: it ends with its answer or with AC_ENOMEM -- never a crash, a
 * hang, another error or a leak (the leaks suite counts). */
static void test_allocation_failures(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "two", "max_retries = 0;");
    ac_toolbox *tb = make_toolbox();
    int ok = 0, oom = 0, other = 0;
    long n;
    for (n = 0; n < 20000; n++) {
        ac_session *ses = ac_session_new(e.llm, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ses);
        ac_error err;
        ac__alloc_fail_after(n);
        ac_response *r = ac_session_run_tools(ses, "Go.", NULL, tb, NULL, &err);
        long failures = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        if (r && strcmp(ac_response_content(r), "end") == 0) {
            ok++;
        } else if (!r && err.code == AC_ENOMEM) {
            oom++;
        } else {
            other++;
            fprintf(stderr, "allocation %ld failing: %s: %s\n", n,
                    r ? "a wrong reply" : ac_strerror(err.code), r ? ac_response_content(r)
                                                                   : err.message);
        }
        ac_response_free(r);
        ac_session_free(ses);
        if (r && failures == 0)
            break; /* nothing failed: every allocation was failed once */
    }
    fprintf(stderr, "(%ld allocations failed in turn: %d ok, %d out of memory)\n", n, ok, oom);
    CU_ASSERT(oom > 0);
    CU_ASSERT(ok > 0);
    CU_ASSERT_EQUAL(other, 0);
    ac_toolbox_free(tb);
    mu_stop(&e);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"three rounds of two parallel calls", test_three_rounds_in_parallel},
        {"blocking run, tools offered", test_blocking_and_offer},
        {"arguments failing the schema go back", test_bad_arguments_go_back},
        {"unknown tool, failing tools", test_unknown_tool_and_failing_tools},
        {"error results flagged (Anthropic)", test_error_flag_on_anthropic},
        {"prompted tool mode", test_prompted_mode},
        {"round limit", test_round_limit},
        {"cancel during a turn, free while running", test_cancel_mid_turn},
        {"cancel between steps", test_cancel_between_steps},
        {"the application's runner", test_application_runner},
        {"host mode", test_host_mode},
        {"blocking refused in a callback", test_blocking_refused_in_callback},
        {"registration and bad arguments", test_registration_and_arguments},
        {"core closed under a run", test_core_closed},
        {"allocation failures", test_allocation_failures},
    };
    TU_ADD_SUITE("toolrun", NULL, NULL, tests);
    return tu_run_suites();
}
