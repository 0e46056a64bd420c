/*
 * test_session.c -- conversations: history sent and kept, a system prompt,
 * turns serialized in call order under concurrency, rollback of a failed
 * turn, tool calls and tool results, save/load round trip, and load's
 * refusal of every file that would load with data dropped or changed.
 */
#include "mockutil.h"
#include "failmalloc.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"echo\"; echo = true; chunks = 2; usage = [3, 2]; },\n"
    "  { model = \"e500\"; status = 500; },\n"
    "  { model = \"hang\"; reply = \"first\"; chunks = 1; hang = true; },\n"
    "  { model = \"tools\"; reply = \"\"; tool_calls = ( { id = \"call_9\"; name = \"get_weather\"; arguments = \"{\\\"city\\\":\\\"Oslo\\\"}\"; } ); }\n"
    ");\n";

/* The messages array of the last request the mock saw. */
static json_object *last_messages(mu_env *e, json_object **root)
{
    char *body = mock_server_last_body(e->mock);
    *root = json_tokener_parse(body);
    free(body);
    json_object *m = NULL;
    if (*root)
        json_object_object_get_ex(*root, "messages", &m);
    return m;
}

static const char *msg_field(json_object *msgs, size_t i, const char *key)
{
    json_object *o = json_object_array_get_idx(msgs, i), *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void test_history_and_system_prompt(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    ac_session *s = ac_session_new(e.llm, "You are terse.");
    ac_error err;
    ac_response *r = ac_session_generate(s, "My name is Alice", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ac_response_free(r);
    r = ac_session_generate(s, "What is my name?", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ac_response_free(r);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 4);
    CU_ASSERT_EQUAL(ac_session_message_role(s, 0), AC_ROLE_USER);
    CU_ASSERT_EQUAL(ac_session_message_role(s, 1), AC_ROLE_ASSISTANT);
    char *c = ac_session_message_content(s, 2);
    CU_ASSERT_STRING_EQUAL(c, "What is my name?");
    ac_free(c);
    CU_ASSERT_PTR_NULL(ac_session_message_content(s, 4));
    c = ac_session_system_prompt(s);
    CU_ASSERT_STRING_EQUAL(c, "You are terse.");
    ac_free(c);

    json_object *root, *msgs = last_messages(&e, &root);
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 4);
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 0, "role"), "system");
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 0, "content"), "You are terse.");
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 1, "content"), "My name is Alice");
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 2, "role"), "assistant");
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 2, "content"), "My name is Alice");
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 3, "content"), "What is my name?");
    json_object_put(root);
    ac_session_free(s);
    mu_stop(&e);
}

/* ---- order under concurrency ---- */

typedef struct issuer {
    ac_session *s;
    int         base;
    ac_request *q[5];
} issuer;

static void *issue_turns(void *arg)
{
    issuer *is = arg;
    for (int i = 0; i < 5; i++) {
        char p[32];
        snprintf(p, sizeof p, "turn %d", is->base + i);
        is->q[i] = ac_session_agenerate(is->s, p, NULL, NULL, NULL, NULL);
    }
    return NULL;
}

static void test_turns_serialized_in_call_order(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    ac_session *s = ac_session_new(e.llm, NULL);
    /* One thread, ten turns at once: they run in call order. */
    ac_request *q[10];
    for (int i = 0; i < 10; i++) {
        char p[32];
        snprintf(p, sizeof p, "msg %d", i);
        q[i] = ac_session_agenerate(s, p, NULL, NULL, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    CU_ASSERT_EQUAL(ac_gather(q, 10, 20000), AC_OK);
    CU_ASSERT_EQUAL_FATAL(ac_session_message_count(s), 20);
    for (int i = 0; i < 10; i++) {
        char p[32];
        snprintf(p, sizeof p, "msg %d", i);
        char *u = ac_session_message_content(s, (size_t)(2 * i));
        char *a = ac_session_message_content(s, (size_t)(2 * i + 1));
        CU_ASSERT_STRING_EQUAL(u, p);
        CU_ASSERT_STRING_EQUAL(a, p);
        ac_free(u);
        ac_free(a);
        /* Turn i saw the 2*i messages before it, plus its prompt. */
        CU_ASSERT_EQUAL(ac_request_status(q[i], NULL), AC_OK);
        ac_request_free(q[i]);
    }
    json_object *root, *msgs = last_messages(&e, &root);
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 19);
    json_object_put(root);

    /* Four threads at once: every turn is a user message directly followed
     * by its own reply, and each thread's turns keep their order. */
    ac_session_clear(s);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 0);
    issuer is[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        is[i].s = s;
        is[i].base = i * 100;
        pthread_create(&t[i], NULL, issue_turns, &is[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(ac_gather(is[i].q, 5, 20000), AC_OK);
        for (int k = 0; k < 5; k++)
            ac_request_free(is[i].q[k]);
    }
    CU_ASSERT_EQUAL_FATAL(ac_session_message_count(s), 40);
    int last_seen[4] = {-1, -1, -1, -1};
    for (size_t i = 0; i < 40; i += 2) {
        char *u = ac_session_message_content(s, i), *a = ac_session_message_content(s, i + 1);
        CU_ASSERT_STRING_EQUAL(u, a);
        int n = atoi(u + 5);
        CU_ASSERT(n % 100 > last_seen[n / 100]);
        last_seen[n / 100] = n % 100;
        ac_free(u);
        ac_free(a);
    }
    ac_session_free(s);
    mu_stop(&e);
}

static void test_failed_turn_leaves_history(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", "max_retries = 0;");
    ac_session *s = ac_session_new(e.llm, "sys");
    ac_error err;
    ac_response *r = ac_session_generate(s, "first", NULL, &err);
    ac_response_free(r);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 2);
    ac_llm *bad = mu_llm(&e, "e500");
    CU_ASSERT_EQUAL(ac_session_set_llm(s, bad), AC_OK);
    r = ac_session_generate(s, "this fails", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.http_status, 500);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 2);
    /* Queued turns after a failing one still run, on the history as is. */
    ac_request *q1 = ac_session_agenerate(s, "fails too", NULL, NULL, NULL, NULL);
    ac_session_set_llm(s, e.llm);
    ac_request *q2 = ac_session_agenerate(s, "works", NULL, NULL, NULL, NULL);
    ac_request *qs[2] = {q1, q2};
    CU_ASSERT_EQUAL(ac_gather(qs, 2, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q1, NULL), AC_EHTTP);
    CU_ASSERT_EQUAL(ac_request_status(q2, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 4);
    char *c = ac_session_message_content(s, 2);
    CU_ASSERT_STRING_EQUAL(c, "works");
    ac_free(c);
    ac_request_free(q1);
    ac_request_free(q2);
    ac_llm_free(bad);
    ac_session_free(s);
    mu_stop(&e);
}

static void test_tool_round_trip(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "tools", NULL);
    ac_session *s = ac_session_new(e.llm, NULL);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_add_tool(p, "get_weather", "weather", "{\"type\":\"object\"}");
    ac_error err;
    ac_response *r = ac_session_generate(s, "Weather in Oslo?", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 1);
    ac_response_free(r);
    CU_ASSERT_EQUAL(ac_session_add_tool_result(s, "call_9", NULL, "-3 C, snow"), AC_OK);
    ac_llm *echo = mu_llm(&e, "echo");
    ac_session_set_llm(s, echo);
    r = ac_session_generate(s, NULL, p, &err); /* continue after the result */
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *root, *msgs = last_messages(&e, &root);
    CU_ASSERT_EQUAL_FATAL(json_object_array_length(msgs), 3);
    json_object *asst = json_object_array_get_idx(msgs, 1), *calls;
    CU_ASSERT(json_object_object_get_ex(asst, "tool_calls", &calls));
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 2, "role"), "tool");
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 2, "tool_call_id"), "call_9");
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 2, "content"), "-3 C, snow");
    json_object_put(root);
    ac_gen_params_free(p);
    ac_llm_free(echo);
    ac_session_free(s);
    mu_stop(&e);
}

static void test_save_load_round_trip(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "tools", NULL);
    ac_session *s = ac_session_new(e.llm, "Be brief.");
    ac_error err;
    ac_response *r = ac_session_generate(s, "Weather?", NULL, &err);
    ac_response_free(r);
    ac_session_add_tool_result(s, "call_9", NULL, "sunny");
    char path[] = "/tmp/actest-session-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(ac_session_save(s, path, &err), AC_OK);
    char *text = tu_read_file(path, NULL);
    CU_ASSERT_PTR_NULL(strstr(text, MU_API_KEY)); /* never a key */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "get_weather"));
    free(text);
    ac_session *t = ac_session_load(e.llm, path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(ac_session_message_count(t), ac_session_message_count(s));
    for (size_t i = 0; i < ac_session_message_count(s); i++) {
        CU_ASSERT_EQUAL(ac_session_message_role(t, i), ac_session_message_role(s, i));
        char *a = ac_session_message_content(s, i), *b = ac_session_message_content(t, i);
        CU_ASSERT_STRING_EQUAL(a, b);
        ac_free(a);
        ac_free(b);
    }
    char *sys = ac_session_system_prompt(t);
    CU_ASSERT_STRING_EQUAL(sys, "Be brief.");
    ac_free(sys);
    /* The loaded history is sent as it was saved. */
    ac_llm *echo = mu_llm(&e, "echo");
    ac_session_set_llm(t, echo);
    r = ac_session_generate(t, "and now?", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *root, *msgs = last_messages(&e, &root);
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 5);
    CU_ASSERT_STRING_EQUAL(msg_field(msgs, 3, "tool_call_id"), "call_9");
    json_object_put(root);
    ac_llm_free(echo);
    ac_session_free(t);

    /* Bad files: clear errors naming the file. */
    CU_ASSERT_PTR_NULL(ac_session_load(e.llm, "/nonexistent/s.json", &err));
    CU_ASSERT_EQUAL(err.code, AC_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/s.json"));
    FILE *f = fopen(path, "w");
    fputs("{\"format\": \"abstractcore-session\", \"messages\": [ {\"role\": ", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(ac_session_load(e.llm, path, &err));
    CU_ASSERT_EQUAL(err.code, AC_EJSON);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
    f = fopen(path, "w");
    fputs("{\"hello\": 1}", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(ac_session_load(e.llm, path, &err));
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    f = fopen(path, "w");
    fputs("{\"format\": \"abstractcore-session\", \"messages\": [ {\"role\": \"wizard\"} ]}", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(ac_session_load(e.llm, path, &err));
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    CU_ASSERT_EQUAL(ac_session_save(s, "/nonexistent-dir/x.json", &err), AC_EIO);
    unlink(path);
    ac_session_free(s);
    mu_stop(&e);
}

/* Every allocation of a save failing in turn -- json-c's, libc's and
 * ours: the save either fails with AC_ENOMEM and leaves the file as it
 * was, or writes a file that loads back to the same conversation. */
static const char *SAVED =
    "{\"format\":\"abstractcore-session\",\"version\":1,\"system\":\"Be brief.\","
    "\"provider\":\"mock\",\"model\":\"echo\",\"messages\":["
    "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
    "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_9\","
    "\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\",\"days\":[1,2]}}]},"
    "{\"role\":\"tool\",\"content\":\"sunny\",\"tool_call_id\":\"call_9\","
    "\"name\":\"get_weather\"},"
    "{\"role\":\"assistant\",\"content\":\"Sunny, both days.\"}]}";

static int same_session(ac_session *a, ac_session *b)
{
    size_t n = ac_session_message_count(a);
    int same = n == ac_session_message_count(b);
    for (size_t i = 0; same && i < n; i++) {
        char *x = ac_session_message_content(a, i), *y = ac_session_message_content(b, i);
        same = x && y && strcmp(x, y) == 0 &&
               ac_session_message_role(a, i) == ac_session_message_role(b, i);
        ac_free(x);
        ac_free(y);
    }
    return same;
}

static void test_save_whole_or_nothing(void)
{
    if (!fm_available()) {
        fprintf(stderr, "(skipped: the allocator is not ours to fail here: valgrind or a "
                "sanitizer)\n");
        return;
    }
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    char *src = tu_write_temp(SAVED);
    ac_error err;
    ac_session *s = ac_session_load(e.llm, src, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char *dst = tu_write_temp("previous contents");
    int ok = 0, oom = 0, wrong = 0;
    for (long n = 0; n < 100000; n++) {
        fm_fail_nth(n);
        ac_status st = ac_session_save(s, dst, &err);
        long failures = fm_failures();
        fm_fail_after(-1);
        if (st == AC_OK) {
            ac_session *t = ac_session_load(e.llm, dst, &err);
            if (!t || !same_session(s, t)) {
                char *got = tu_read_file(dst, NULL);
                fprintf(stderr, "allocation %ld failing, the save said AC_OK and wrote: %s\n",
                        n, got ? got : "(nothing)");
                free(got);
                wrong++;
            }
            ac_session_free(t);
            ok++;
            if (failures == 0)
                break; /* every allocation of a save was failed once */
            FILE *f = fopen(dst, "w"); /* back to the old contents */
            fputs("previous contents", f);
            fclose(f);
        } else {
            CU_ASSERT_EQUAL(st, AC_ENOMEM);
            char *now = tu_read_file(dst, NULL);
            if (!now || strcmp(now, "previous contents") != 0) {
                fprintf(stderr, "allocation %ld failing, the save failed but the file is: %s\n",
                        n, now ? now : "(gone)");
                wrong++;
            }
            free(now);
            oom++;
        }
    }
    CU_ASSERT(oom > 0);
    CU_ASSERT(ok > 0);
    CU_ASSERT_EQUAL(wrong, 0);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
    ac_session_free(s);
    mu_stop(&e);
}

/* Files that would load with something dropped or changed are refused,
 * naming the file and the JSON path of the value. */
#define HEAD "{\"format\":\"abstractcore-session\",\"version\":1,\"system\":\"s\"," \
             "\"provider\":\"mock\",\"model\":\"echo\",\"messages\":["
#define USER "{\"role\":\"user\",\"content\":\"Weather?\"}"
#define CALL(args) "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"c1\"," \
                   "\"name\":\"get_weather\",\"arguments\":" args "}]}"
#define RESULT "{\"role\":\"tool\",\"content\":\"sunny\",\"tool_call_id\":\"c1\"," \
               "\"name\":\"get_weather\"}"

static void test_load_refuses_changes(void)
{
    static const struct {
        const char *text;
        ac_status   code;
        const char *message;  /* after "FILE: " */
    } cases[] = {
        /* Values of the wrong type, by path. */
        { HEAD "{\"role\":\"user\",\"content\":42}]}", AC_EPROTOCOL,
          "messages[0].content is a number, not a string" },
        { HEAD "{\"role\":\"user\",\"content\":null}]}", AC_EPROTOCOL,
          "messages[0].content is null, not a string" },
        { HEAD USER ",{\"role\":\"user\",\"content\":[\"a\"]}]}", AC_EPROTOCOL,
          "messages[1].content is an array, not a string" },
        { HEAD "{\"role\":7}]}", AC_EPROTOCOL, "messages[0].role is a number, not a string" },
        { HEAD "\"hello\"]}", AC_EPROTOCOL, "messages[0] is a string, not an object" },
        { HEAD USER "," CALL("{}") ",{\"role\":\"tool\",\"content\":\"x\",\"tool_call_id\":"
          "\"c1\",\"name\":false}]}", AC_EPROTOCOL,
          "messages[2].name is a boolean, not a string" },
        { "{\"format\":\"abstractcore-session\",\"system\":5,\"messages\":[]}", AC_EPROTOCOL,
          "system is a number, not a string" },
        { "{\"format\":\"abstractcore-session\",\"model\":{},\"messages\":[]}", AC_EPROTOCOL,
          "model is an object, not a string" },
        { "{\"format\":\"abstractcore-session\",\"messages\":{}}", AC_EPROTOCOL,
          "messages is an object, not an array" },
        { "{\"format\":\"abstractcore-session\",\"version\":\"1\",\"messages\":[]}",
          AC_EPROTOCOL, "version is a string, not an integer" },
        { "{\"format\":\"abstractcore-session\",\"version\":3,\"messages\":[]}", AC_EPROTOCOL,
          "version 3: this library reads versions 1 and 2" },
        /* A NUL cutting a string. */
        { HEAD "{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}", AC_EPROTOCOL,
          "messages[0].content holds a NUL byte (\\u0000), which would cut the text there" },
        { "{\"format\":\"abstractcore-session\",\"system\":\"x\\u0000\",\"messages\":[]}",
          AC_EPROTOCOL, "system holds a NUL byte (\\u0000), which would cut the text there" },
        { HEAD "{\"role\":\"user\",\"content\\u0000x\":\"hi\"}]}", AC_EPROTOCOL,
          "line 1: an object key holding a NUL byte (\\u0000), which would cut the key" },
        { HEAD USER ",\n" CALL("{\"ci\\u0000ty\":1}") "]}", AC_EPROTOCOL,
          "line 2: an object key holding a NUL byte (\\u0000), which would cut the key" },
        { HEAD "{\"role\":\"user\",\"content\":\"\\ud800 alone\"}]}", AC_EPROTOCOL,
          "line 1: a UTF-16 surrogate escape without its pair, which would load as U+FFFD" },
        /* Tool calls. */
        { HEAD USER "," CALL("\"not json\"") "]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0].arguments is text that is not a JSON object (a tool "
          "call's arguments are a JSON object, or the text of one)" },
        { HEAD USER "," CALL("\"[1, 2]\"") "]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0].arguments is text that is not a JSON object (a tool "
          "call's arguments are a JSON object, or the text of one)" },
        { HEAD USER "," CALL("\"{} {}\"") "]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0].arguments is text that is not a JSON object (a tool "
          "call's arguments are a JSON object, or the text of one)" },
        { HEAD USER "," CALL("[1]") "]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0].arguments is an array (a tool call's arguments are a JSON "
          "object, or the text of one)" },
        { HEAD USER "," CALL("3") "]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0].arguments is a number (a tool call's arguments are a JSON "
          "object, or the text of one)" },
        { HEAD USER ",{\"role\":\"assistant\",\"tool_calls\":{}}]}", AC_EPROTOCOL,
          "messages[1].tool_calls is an object, not an array" },
        { HEAD USER ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\"}]}]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0] has no name" },
        { HEAD USER ",{\"role\":\"assistant\",\"tool_calls\":[{\"name\":\"f\",\"id\":1}]}]}",
          AC_EPROTOCOL, "messages[1].tool_calls[0].id is a number, not a string" },
        { HEAD USER ",{\"role\":\"assistant\",\"tool_calls\":[{\"name\":\"f\",\"type\":"
          "\"function\"}]}]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0] has a field \"type\" that a saved tool call does not have "
          "(id, name, arguments)" },
        { HEAD USER ",{\"role\":\"assistant\",\"tool_calls\":[5]}]}", AC_EPROTOCOL,
          "messages[1].tool_calls[0] is a number, not an object" },
        /* Roles, and fields a role has no use for. */
        { HEAD "{\"role\":\"wizard\",\"content\":\"x\"}]}", AC_EPROTOCOL,
          "messages[0].role \"wizard\" is not user, assistant or tool (the system prompt is the "
          "file's \"system\")" },
        { HEAD "{\"role\":\"system\",\"content\":\"x\"}]}", AC_EPROTOCOL,
          "messages[0].role \"system\" is not user, assistant or tool (the system prompt is the "
          "file's \"system\")" },
        { HEAD "{\"content\":\"x\"}]}", AC_EPROTOCOL, "messages[0] has no role" },
        { HEAD "{\"role\":\"user\",\"content\":\"x\",\"tool_call_id\":\"c1\"}]}", AC_EPROTOCOL,
          "messages[0].tool_call_id on a user message (only tool messages answer a call)" },
        { HEAD "{\"role\":\"user\",\"tool_calls\":[]}]}", AC_EPROTOCOL,
          "messages[0].tool_calls on a user message (only assistant messages make tool calls)" },
        { HEAD USER ",{\"role\":\"tool\",\"content\":\"x\"}]}", AC_EPROTOCOL,
          "messages[1] is a tool message without tool_call_id" },
        /* Fields this version does not know. */
        { HEAD "{\"role\":\"user\",\"contents\":\"x\"}]}", AC_EPROTOCOL,
          "messages[0] has a field \"contents\" that a saved message of version 1 does not have "
          "(role, content, tool_calls, tool_call_id, name, images)" },
        { "{\"format\":\"abstractcore-session\",\"sytem\":\"x\",\"messages\":[]}", AC_EPROTOCOL,
          "a field \"sytem\" that a saved session of version 1 does not have (format, version, "
          "system, provider, model, messages)" },
        /* Version 2's fields are not version 1's. */
        { HEAD "{\"role\":\"user\",\"content\":\"x\",\"summary\":true}]}", AC_EPROTOCOL,
          "messages[0] has a field \"summary\" that a saved message of version 1 does not have "
          "(role, content, tool_calls, tool_call_id, name, images)" },
        { "{\"format\":\"abstractcore-session\",\"version\":1,\"archive\":[],\"messages\":[]}",
          AC_EPROTOCOL, "a field \"archive\" that a saved session of version 1 does not have "
          "(format, version, system, provider, model, messages)" },
        { HEAD "{\"role\":\"user\",\"content\":\"x\",\"images\":[3]}]}", AC_EPROTOCOL,
          "messages[0].images[0] is not a data: or http(s) URL" },
        { HEAD "{\"role\":\"user\",\"content\":\"x\",\"images\":\"a\"}]}", AC_EPROTOCOL,
          "messages[0].images is a string, not an array" },
        /* Not JSON, or more than one JSON text. */
        { HEAD USER "]} {}", AC_EJSON, NULL },
        { HEAD "{\"role\":\"user\",\"content\":\"\xff\"}]}", AC_EJSON, NULL },
        { "[1, 2]", AC_EPROTOCOL, "not a saved abstractcore session (no \"format\": "
          "\"abstractcore-session\" and \"messages\")" },
    };
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = tu_write_temp(cases[i].text);
        ac_error err;
        ac_session *s = ac_session_load(e.llm, path, &err);
        CU_ASSERT_PTR_NULL(s);
        ac_session_free(s);
        CU_ASSERT_EQUAL(err.code, cases[i].code);
        char want[1024];
        if (cases[i].message)
            snprintf(want, sizeof want, "%s: %s", path, cases[i].message);
        else
            snprintf(want, sizeof want, "session file %s is not valid JSON: ", path);
        int same = cases[i].message ? strcmp(err.message, want) == 0
                                    : strncmp(err.message, want, strlen(want)) == 0;
        CU_ASSERT(same);
        if (!same || err.code != cases[i].code)
            fprintf(stderr, "\ncase %zu: got %s: %s\n  wanted %s: %s\n", i,
                    ac_strerror(err.code), err.message, ac_strerror(cases[i].code), want);
        unlink(path);
        free(path);
    }
    mu_stop(&e);
}

/* What loads: arguments as an object or as the text of one (kept as they
 * are), a surrogate pair, names and images, and no version. */
static void test_load_accepts(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    char *path = tu_write_temp(
        "{\"format\":\"abstractcore-session\",\"messages\":["
        "{\"role\":\"user\",\"content\":\"smile \\ud83d\\ude00\",\"name\":\"ann\","
        "\"images\":[\"https://example.org/a.png\"]},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
        "{\"id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"n\\\": 1.50}\"},"
        "{\"id\":\"c2\",\"name\":\"g\",\"arguments\":{\"s\":\"a\\u0000b\"}},"
        "{\"name\":\"h\"}]},"
        "{\"role\":\"tool\",\"content\":\"ok\",\"tool_call_id\":\"c1\"}]}\n\n");
    ac_error err;
    ac_session *s = ac_session_load(e.llm, path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 3);
    char *c = ac_session_message_content(s, 0);
    CU_ASSERT_STRING_EQUAL(c, "smile \xf0\x9f\x98\x80");
    ac_free(c);
    /* The history goes out as it was saved: arguments text unchanged. */
    ac_response *r = ac_session_generate(s, "and?", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *root, *msgs = last_messages(&e, &root);
    CU_ASSERT_EQUAL(json_object_array_length(msgs), 4);
    json_object *calls = NULL;
    json_object_object_get_ex(json_object_array_get_idx(msgs, 1), "tool_calls", &calls);
    CU_ASSERT_EQUAL(json_object_array_length(calls), 3);
    TU_ASSERT_STR(tu_jstr(json_object_array_get_idx(calls, 0), "function.arguments"),
                  "{\"n\": 1.50}");
    TU_ASSERT_STR(tu_jstr(json_object_array_get_idx(calls, 1), "function.arguments"),
                  "{\"s\":\"a\\u0000b\"}");
    json_object_put(root);
    ac_session_free(s);
    unlink(path);
    free(path);
    mu_stop(&e);
}

/* Free a session with one turn running and two queued: all three end
 * cancelled (on_done once each), and the queued ones are never sent. */
static atomic_int free_done_calls;
static void count_done(ac_request *q, ac_status st, void *u)
{
    (void)q, (void)st, (void)u;
    atomic_fetch_add(&free_done_calls, 1);
}

static void test_free_with_turns_queued(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "hang", NULL);
    ac_session *s = ac_session_new(e.llm, NULL);
    ac_callbacks cb = {.on_done = count_done};
    ac_request *q[3];
    atomic_store(&free_done_calls, 0);
    for (int i = 0; i < 3; i++) {
        q[i] = ac_session_agenerate(s, "x", NULL, &cb, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    CU_ASSERT(mu_wait_requests(e.mock, 1, 10000)); /* the first turn is running */
    ac_session_free(s);
    CU_ASSERT_EQUAL(ac_gather(q, 3, 10000), AC_OK);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(ac_request_status(q[i], NULL), AC_ECANCELED);
        ac_request_free(q[i]);
    }
    CU_ASSERT_EQUAL(atomic_load(&free_done_calls), 3);
    CU_ASSERT_EQUAL(mock_server_request_count(e.mock), 1);
    CU_ASSERT_EQUAL(ac_request_status(NULL, NULL), AC_EINVAL);
    mu_stop(&e);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("session", NULL, NULL);
    CU_add_test(s, "history and system prompt", test_history_and_system_prompt);
    CU_add_test(s, "turns serialized in call order", test_turns_serialized_in_call_order);
    CU_add_test(s, "failed turn leaves history", test_failed_turn_leaves_history);
    CU_add_test(s, "tool call and result round trip", test_tool_round_trip);
    CU_add_test(s, "save/load round trip and bad files", test_save_load_round_trip);
    CU_add_test(s, "free with turns queued", test_free_with_turns_queued);
    CU_add_test(s, "save: the whole file or nothing", test_save_whole_or_nothing);
    CU_add_test(s, "load refuses what it would drop or change", test_load_refuses_changes);
    CU_add_test(s, "load keeps what it is given", test_load_accepts);
    return tu_run_suites();
}
