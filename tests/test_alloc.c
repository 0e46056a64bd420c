/*
 * test_alloc.c -- the failing-allocator ("torture") run: the main
 * scenarios (open a core, create an LLM, parse a recorded stream and body,
 * build JSON, save and load a session; recorded Anthropic and Ollama
 * responses -- streams, bodies with tool calls, error bodies, an error
 * inside a stream -- through their plugins; and over loopback against the
 * mock server: a blocking request, a pull stream, callbacks, a session
 * turn, a model list) are run again and again with allocation number N
 * failing, for every N until the scenario no longer allocates that much.
 * Each run must end in success or a clean AC_ENOMEM-style error: no crash,
 * no hang, and (under valgrind or ASan) no leak.
 *
 * What the schedule reaches: every allocation of the core and of the
 * plugins (they allocate through the host table, i.e. core/alloc.h), and
 * libcurl's own: main() hands libcurl counting allocators with
 * curl_global_init_mem before any core opens, and they fail on the same
 * schedule (ac__alloc_should_fail).  The core's own curl_global_init then
 * only counts one more user: curl_global_init_mem(3) "works exactly as
 * curl_global_init(3)", whose page says the environment it sets up is
 * constant for the life of the program, "so multiple calls have the same
 * effect as one call" -- the first call's allocators stay (the loopback
 * tests check that libcurl's allocations do arrive here).  json-c's
 * allocations are not reached: json-c has no allocator hook (it calls
 * malloc directly), and failing malloc itself cannot be done under
 * valgrind or a sanitizer (tests/failmalloc.h does it for one test of
 * test_session.c where neither runs).
 */
#include "alloc.h"
#include "replay.h"
#include "testutil.h"
#include "mock_server.h"

#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *stream_fixture, *body_fixture;
static size_t stream_len, body_len;

/* 1 if the scenario ran to the end with every step succeeding. */
static int scenario(const char *cfg_path)
{
    ac_core *core = NULL;
    ac_error err;
    int ok = 0;
    if (ac_core_open(&core, cfg_path, &err) != AC_OK) {
        CU_ASSERT(err.code == AC_ENOMEM || err.code == AC_ECONFIG);
        return 0;
    }
    ac_options *o = ac_options_new();
    ac_llm *llm = NULL;
    if (o && ac_options_set(o, "api_key", "sk-test") == AC_OK)
        llm = ac_llm_create(core, "openai", "gpt-4o", o, &err);
    ac_options_free(o);
    if (llm) {
        ac_response *r = NULL;
        ac_status st = ac__replay_bytes(llm, AC_FRAMING_SSE, 200, stream_fixture, stream_len, 7,
                                    NULL, NULL, &r, &err);
        int step1 = st == AC_OK && strcmp(ac_response_content(r), "") != 0;
        if (st != AC_OK)
            CU_ASSERT(st == AC_ENOMEM || st == AC_EPLUGIN || st == AC_EPROTOCOL);
        ac_response_free(r);
        r = NULL;
        st = ac__replay_bytes(llm, AC_FRAMING_NONE, 200, body_fixture, body_len, 0, NULL, NULL, &r,
                          &err);
        int step2 = st == AC_OK;
        char *js = ac_response_to_json(r);
        ac_free(js);
        ac_response_free(r);
        ac_session *s = ac_session_new(llm, "system");
        int step3 = 0;
        if (s) {
            char path[] = "/tmp/actest-alloc-XXXXXX";
            int fd = mkstemp(path);
            close(fd);
            if (ac_session_add_tool_result(s, "id1", "tool", "result") == AC_OK &&
                ac_session_save(s, path, &err) == AC_OK) {
                ac_session *t = ac_session_load(llm, path, &err);
                step3 = t && ac_session_message_count(t) == 1;
                ac_session_free(t);
            }
            unlink(path);
            ac_session_free(s);
        }
        ok = step1 && step2 && step3;
        ac_llm_free(llm);
    }
    ac_core_close(core);
    return ok;
}

static atomic_long curl_refused;  /* libcurl allocations refused */
static long curl_refused_before;  /* ... when the current run began */
static long curl_misreported;     /* runs libcurl ended with its own wrong word */

/* When memory runs out somewhere, the caller is told exactly that.  One
 * exception, libcurl's: its threaded resolver that cannot allocate what
 * it needs to start reports "Couldn't resolve host name" (libcurl 7.88,
 * CURLE_COULDNT_RESOLVE_HOST), which the core can only pass on as
 * AC_ECONNECT; accepted when libcurl was refused an allocation in this
 * run. */
static int oom_like(ac_status st)
{
    if (st == AC_ENOMEM)
        return 1;
    if (st == AC_ECONNECT && atomic_load(&curl_refused) > curl_refused_before) {
        curl_misreported++;
        return 1;
    }
    fprintf(stderr, "out of memory reported as %s\n", ac_strerror(st));
    return 0;
}

static void count_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q, (void)c;
    ++*(int *)user;
}

/* Over loopback; 1 if every step succeeded. */
static int network_scenario(const char *cfg_path)
{
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, cfg_path, &err) != AC_OK) {
        CU_ASSERT(oom_like(err.code));
        return 0;
    }
    int ok = 0, steps = 0;
    ac_llm *llm = ac_llm_create(core, "mock", "default", NULL, &err);
    if (!llm) {
        CU_ASSERT(oom_like(err.code));
        goto done;
    }
    ac_response *r = ac_generate(llm, "hello", NULL, &err);
    if (r)
        steps += strcmp(ac_response_content(r), "Hello from the mock.") == 0;
    else
        CU_ASSERT(oom_like(err.code));
    ac_response_free(r);

    ac_stream *s = ac_stream_open(llm, "stream", NULL, &err);
    if (s) {
        const ac_chunk *c;
        ac_status st;
        while ((st = ac_stream_next(s, &c, 10000)) == AC_OK)
            ;
        steps += st == AC_EOF;
        if (st != AC_EOF)
            CU_ASSERT(oom_like(st));
        ac_stream_close(s);
    }

    int events = 0;
    ac_callbacks cb = {.on_event = count_event};
    ac_request *q = ac_agenerate(llm, "callbacks", NULL, &cb, &events, NULL);
    if (q) {
        CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
        ac_status st = ac_request_status(q, NULL);
        steps += st == AC_OK && events >= 3;
        if (st != AC_OK)
            CU_ASSERT(oom_like(st));
        ac_request_free(q);
    }

    ac_session *sess = ac_session_new(llm, "system");
    if (sess) {
        r = ac_session_generate(sess, "turn", NULL, &err);
        steps += r && ac_session_message_count(sess) == 2;
        if (!r) {
            CU_ASSERT(oom_like(err.code));
            CU_ASSERT_EQUAL(ac_session_message_count(sess), 0); /* nothing half-recorded */
        }
        ac_response_free(r);
        ac_session_free(sess);
    }

    ac_models *m = ac_list_models(llm, &err);
    steps += m && ac_models_count(m) >= 1;
    ac_models_free(m);

    /* A whole conversation sent as a list (the gateway's call). */
    ac_messages *ml = ac_messages_new();
    if (ml && ac_messages_add(ml, AC_ROLE_SYSTEM, "sys") == AC_OK &&
        ac_messages_add(ml, AC_ROLE_USER, "look") == AC_OK &&
        ac_messages_attach_image_url(ml, "https://example.invalid/cat.png", NULL) == AC_OK &&
        ac_messages_add(ml, AC_ROLE_ASSISTANT, NULL) == AC_OK &&
        ac_messages_add_tool_call(ml, "c1", "f", "{\"a\":1}") == AC_OK &&
        ac_messages_add_tool_result(ml, "c1", NULL, "r", 0) == AC_OK &&
        ac_messages_add(ml, AC_ROLE_USER, "and?") == AC_OK) {
        r = ac_generate_messages(llm, ml, NULL, &err);
        steps += r && ac_response_content_len(r) > 0;
        if (!r)
            CU_ASSERT(oom_like(err.code));
        ac_response_free(r);
    }
    ac_messages_free(ml);

    /* The asynchronous listing. */
    ac_request *lq = ac_alist_models(llm, NULL, NULL, &err);
    if (lq) {
        CU_ASSERT_EQUAL(ac_request_wait(lq, 10000), AC_OK);
        ac_status st = ac_request_status(lq, NULL);
        ac_models *lm = ac_request_take_models(lq);
        steps += lm && ac_models_count(lm) >= 1;
        if (st != AC_OK)
            CU_ASSERT(oom_like(st));
        ac_models_free(lm);
        ac_request_free(lq);
    } else {
        CU_ASSERT(oom_like(err.code));
    }
    ok = steps == 7;
    ac_llm_free(llm);
done:
    ac_core_close(core);
    return ok;
}

/* Structured output asked again, and tools read out of a stream, over
 * loopback; 1 if both worked. */
static int structured_scenario(const char *cfg_path)
{
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, cfg_path, &err) != AC_OK) {
        CU_ASSERT(oom_like(err.code));
        return 0;
    }
    int steps = 0;
    ac_llm *llm = ac_llm_create(core, "mock", "json", NULL, &err);
    ac_llm *tl = ac_llm_create(core, "mock", "tools", NULL, &err);
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params *tp = ac_gen_params_new();
    if (!llm || !tl || !p || !tp) {
        CU_ASSERT(!llm || !tl ? oom_like(err.code) : 1);
        goto done;
    }
    ac_status st = ac_gen_params_set_json_schema(
        p, "x", "{\"type\":\"object\",\"required\":[\"ok\"]}", &err);
    if (st == AC_OK) {
        ac_response *r = ac_generate(llm, "json please", p, &err);
        if (r)
            steps += ac_response_json_text(r) && !strcmp(ac_response_json_text(r), "{\"ok\":true}");
        else
            CU_ASSERT(oom_like(err.code));
        ac_response_free(r);
    } else {
        CU_ASSERT(oom_like(st));
    }
    if (ac_gen_params_add_tool(tp, "get_weather", NULL, NULL) == AC_OK &&
        ac_gen_params_set_tool_mode(tp, AC_TOOL_MODE_PROMPTED) == AC_OK &&
        ac_gen_params_set_stream(tp, 1) == AC_OK) {
        ac_response *r = ac_generate(tl, "weather", tp, &err);
        if (r)
            steps += ac_response_tool_call_count(r) == 1;
        else
            CU_ASSERT(oom_like(err.code));
        ac_response_free(r);
    }
done:
    ac_gen_params_free(p);
    ac_gen_params_free(tp);
    ac_llm_free(llm);
    ac_llm_free(tl);
    ac_core_close(core);
    return steps == 2;
}

/* ------------------------------------------------------------------ */
/* libcurl's allocations, on the core's schedule                         */
/* ------------------------------------------------------------------ */

static atomic_long curl_allocs;   /* allocations libcurl asked for */

/* The schedule's answer for one libcurl allocation. */
static int curl_t_fail(void)
{
    atomic_fetch_add(&curl_allocs, 1);
    if (!ac__alloc_should_fail())
        return 0;
    atomic_fetch_add(&curl_refused, 1);
    return 1;
}

static void *curl_t_malloc(size_t n)
{
    return curl_t_fail() ? NULL : malloc(n);
}

static void *curl_t_calloc(size_t n, size_t size)
{
    return curl_t_fail() ? NULL : calloc(n, size);
}

static void *curl_t_realloc(void *p, size_t n)
{
    return curl_t_fail() ? NULL : realloc(p, n);
}

static char *curl_t_strdup(const char *s)
{
    return curl_t_fail() ? NULL : strdup(s);
}

static void curl_t_free(void *p) { free(p); }

/* ------------------------------------------------------------------ */
/* Recorded responses through the Anthropic and Ollama plugins           */
/* ------------------------------------------------------------------ */

/* One replay: what goes in, and what comes out when nothing fails. */
typedef struct replay_step {
    const char *fixture;
    ac_framing  framing;
    int         status;
    size_t      piece;
    ac_status   want;
    int         ndjson_of_pretty;   /* the fixture is pretty-printed JSON objects */
    char       *bytes;
    size_t      len;
    char       *digest;             /* what a caller reads, from the run with no failure */
} replay_step;

typedef struct plugin_case {
    const char *provider, *model, *api_key;
    replay_step steps[6];
} plugin_case;

static plugin_case anthropic_case = {
    "anthropic", "claude-sonnet-4-5", "sk-ant-test", {
        {"anthropic_stream_text.sse", AC_FRAMING_SSE, 200, 7, AC_OK, 0, NULL, 0, NULL},
        {"anthropic_stream_tool_use.sse", AC_FRAMING_SSE, 200, 0, AC_OK, 0, NULL, 0, NULL},
        {"anthropic_messages_tool_use.response.json", AC_FRAMING_NONE, 200, 0, AC_OK, 0, NULL, 0,
         NULL},
        {"anthropic_error_429_rate_limit.json", AC_FRAMING_NONE, 429, 0, AC_EHTTP, 0, NULL, 0,
         NULL},
        {"anthropic_stream_error_overloaded.sse", AC_FRAMING_SSE, 200, 5, AC_EPROTOCOL, 0, NULL,
         0, NULL},
        {NULL, 0, 0, 0, 0, 0, NULL, 0, NULL},
    }};

static plugin_case ollama_case = {
    "ollama", "llama3.2", NULL, {
        {"ollama_generate_stream.ndjson", AC_FRAMING_NDJSON, 200, 7, AC_OK, 0, NULL, 0, NULL},
        {"ollama_chat_stream_tool_call.pretty.txt", AC_FRAMING_NDJSON, 200, 0, AC_OK, 1, NULL, 0,
         NULL},
        {"ollama_chat_response.json", AC_FRAMING_NONE, 200, 0, AC_OK, 0, NULL, 0, NULL},
        {"ollama_error.json", AC_FRAMING_NONE, 500, 0, AC_EHTTP, 0, NULL, 0, NULL},
        {"ollama_stream_error_midstream.ndjson", AC_FRAMING_NDJSON, 200, 5, AC_EPROTOCOL, 0, NULL,
         0, NULL},
        {NULL, 0, 0, 0, 0, 0, NULL, 0, NULL},
    }};

static plugin_case *current_case;

/* Concatenated pretty-printed JSON objects -> one compact line each, as
 * Ollama sends them (malloc'd). */
static char *ndjson_of(const char *text, size_t len, size_t *out_len)
{
    size_t cap = len + 16, n = 0;
    char *out = malloc(cap);
    json_tokener *tok = json_tokener_new();
    CU_ASSERT_FATAL(out != NULL && tok != NULL);
    while (len) {
        while (len && strchr(" \t\r\n", *text)) {
            text++;
            len--;
        }
        if (!len)
            break;
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, text, (int)len);
        CU_ASSERT_FATAL(o != NULL);
        size_t used = json_tokener_get_parse_end(tok);
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        size_t ll = strlen(line);
        CU_ASSERT_FATAL(n + ll + 2 <= cap);
        memcpy(out + n, line, ll);
        n += ll;
        out[n++] = '\n';
        json_object_put(o);
        text += used;
        len -= used;
    }
    out[n] = '\0';
    json_tokener_free(tok);
    *out_len = n;
    return out;
}

static void case_load(plugin_case *pc)
{
    for (replay_step *st = pc->steps; st->fixture; st++) {
        st->bytes = tu_fixture(st->fixture, &st->len);
        if (st->ndjson_of_pretty) {
            size_t n;
            char *nd = ndjson_of(st->bytes, st->len, &n);
            free(st->bytes);
            st->bytes = nd;
            st->len = n;
        }
    }
}

static void case_free(plugin_case *pc)
{
    for (replay_step *st = pc->steps; st->fixture; st++) {
        free(st->bytes);
        free(st->digest);
        st->bytes = st->digest = NULL;
    }
}

/* What a caller reads from r (content, reasoning, finish, usage, model,
 * tool calls), one string; malloc'd, NULL on no memory.  Of a failed
 * request's partial response only the text that arrived (its finish
 * "error" is decoration that may be lost to the same shortage). */
static char *response_digest(const ac_response *r, ac_status st)
{
    if (!r)
        return strdup("(none)");
    char *d = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&d, &n);
    if (!f)
        return NULL;
    if (st != AC_OK) {
        fprintf(f, "content=%s", ac_response_content(r));
        fclose(f);
        return d;
    }
    fprintf(f, "content=%s|reasoning=%s|finish=%s/%s|usage=%ld/%ld|model=%s",
            ac_response_content(r), ac_response_reasoning(r) ? ac_response_reasoning(r) : "",
            ac_response_finish_reason(r), ac_response_raw_finish_reason(r),
            ac_response_input_tokens(r), ac_response_output_tokens(r), ac_response_model(r));
    for (size_t i = 0; i < ac_response_tool_call_count(r); i++)
        fprintf(f, "|call %s %s %s", ac_response_tool_call_id(r, i),
                ac_response_tool_call_name(r, i), ac_response_tool_call_arguments(r, i));
    fclose(f);
    return d;
}

/* The current case's replays on a fresh core; 1 if every one ended as
 * it does when nothing fails (the first run records that). */
static int plugin_scenario(const char *cfg_path)
{
    plugin_case *pc = current_case;
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, cfg_path, &err) != AC_OK) {
        CU_ASSERT(oom_like(err.code));
        return 0;
    }
    int ok = 0;
    ac_options *o = ac_options_new();
    ac_llm *llm = NULL;
    if (o && (!pc->api_key || ac_options_set(o, "api_key", pc->api_key) == AC_OK))
        llm = ac_llm_create(core, pc->provider, pc->model, o, &err);
    else
        err.code = AC_ENOMEM;
    ac_options_free(o);
    if (!llm) {
        CU_ASSERT(oom_like(err.code));
        goto done;
    }
    ok = 1;
    for (replay_step *st = pc->steps; st->fixture; st++) {
        ac_response *r = NULL;
        ac_status rc = ac__replay_bytes(llm, st->framing, st->status, st->bytes, st->len,
                                        st->piece, NULL, NULL, &r, &err);
        if (rc != st->want) {
            if (!oom_like(rc))
                fprintf(stderr, "  %s: %s (%s)\n", st->fixture, ac_strerror(rc), err.message);
            CU_ASSERT(oom_like(rc));
            ok = 0;
        } else {
            char *js = ac_response_to_json(r);   /* may fail: out of memory */
            ac_free(js);
            char *d = response_digest(r, rc);
            CU_ASSERT_PTR_NOT_NULL_FATAL(d);
            if (!st->digest) {
                st->digest = d;                  /* the run where nothing fails */
            } else {
                /* Out of memory that still ended as wanted lost nothing. */
                if (strcmp(d, st->digest) != 0)
                    fprintf(stderr, "  %s: got %s\n  want %s\n", st->fixture, d, st->digest);
                CU_ASSERT_STRING_EQUAL(d, st->digest);
                free(d);
            }
        }
        ac_response_free(r);
    }
    ac_llm_free(llm);
done:
    ac_core_close(core);
    return ok;
}

/* Run scenario(cfg) with allocation 0, 1, 2, ... failing in turn, until a
 * run makes fewer allocations than the failing one: that run covered the
 * scenario and must succeed.  It must also succeed when nothing fails.
 * Returns how many failure points were survived. */
static long torture(int (*scenario_fn)(const char *), const char *cfg,
                    long max_n, const char *label)
{
    ac__alloc_fail_after(-1);
    CU_ASSERT_FATAL(scenario_fn(cfg)); /* works when nothing fails */
    long n;
    int completed = 0;
    for (n = 0; n < max_n; n++) {
        curl_refused_before = atomic_load(&curl_refused);
        ac__alloc_fail_after(n);
        int ok = scenario_fn(cfg);
        long refused = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        if (refused == 0) {
            /* The scenario made fewer than n allocations: all covered. */
            CU_ASSERT(ok);
            completed = 1;
            break;
        }
    }
    printf("\n    %s: %ld allocation failure points survived\n", label, n);
    CU_ASSERT(completed);
    return n;
}

static void test_network_allocation_failing_in_turn(void)
{
    char errbuf[256];
    mock_server *mock = mock_server_start(
        "scenarios = ( { model = \"default\"; reply = \"Hello from the mock.\"; chunks = 3; usage = [2, 3]; } );",
        0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mock);
    char text[4096];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";"
             " api_key = \"sk-x\"; max_retries = 0; } );\n",
             tu_plugin_path_list(), mock_server_url(mock));
    char *cfg = tu_write_temp(text);
    CU_ASSERT(torture(network_scenario, cfg, 50000, "torture (network)") > 100);
    unlink(cfg);
    free(cfg);
    mock_server_stop(mock);
}

static void test_structured_allocation_failing_in_turn(void)
{
    char errbuf[256];
    mock_server *mock = mock_server_start(
        "scenarios = ( { model = \"json\"; steps = ( { reply = \"no\"; },"
        " { reply = \"{\\\"ok\\\":true}\"; } ); },\n"
        " { model = \"tools\"; chunks = 5; reply = \"a <tool_call>{\\\"name\\\": "
        "\\\"get_weather\\\", \\\"arguments\\\": {}}</tool_call>\"; } );",
        0, errbuf, sizeof errbuf);
    if (!mock)
        fprintf(stderr, "%s\n", errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mock);
    char text[4096];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";"
             " api_key = \"sk-x\"; max_retries = 0; } );\n",
             tu_plugin_path_list(), mock_server_url(mock));
    char *cfg = tu_write_temp(text);
    CU_ASSERT(torture(structured_scenario, cfg, 50000, "torture (structured, prompted)") > 100);
    unlink(cfg);
    free(cfg);
    mock_server_stop(mock);
}

static void test_every_allocation_failing_in_turn(void)
{
    char *cfg = NULL;
    {
        char text[4096];
        snprintf(text, sizeof text, "abstractcore = { plugin_path = %s; };\n",
                 tu_plugin_path_list());
        cfg = tu_write_temp(text);
    }
    stream_fixture = tu_fixture("openai_chat_stream_text.sse", &stream_len);
    body_fixture = tu_fixture("openai_chat_response_parallel_tool_calls.json", &body_len);

    CU_ASSERT(torture(scenario, cfg, 20000, "torture") > 50);
    free(stream_fixture);
    free(body_fixture);
    unlink(cfg);
    free(cfg);
}

static void plugin_torture(plugin_case *pc, const char *label)
{
    char text[4096];
    snprintf(text, sizeof text, "abstractcore = { plugin_path = %s; };\n", tu_plugin_path_list());
    char *cfg = tu_write_temp(text);
    case_load(pc);
    current_case = pc;
    CU_ASSERT(torture(plugin_scenario, cfg, 20000, label) > 50);
    current_case = NULL;
    case_free(pc);
    unlink(cfg);
    free(cfg);
}

static void test_anthropic_allocation_failing_in_turn(void)
{
    plugin_torture(&anthropic_case, "torture (anthropic)");
}

static void test_ollama_allocation_failing_in_turn(void)
{
    plugin_torture(&ollama_case, "torture (ollama)");
}

/* libcurl's allocators are ours: a request over loopback goes through
 * them, so the network tortures above failed libcurl's allocations too. */
static void test_curl_allocations_reach_the_test(void)
{
    long asked = atomic_load(&curl_allocs), refused = atomic_load(&curl_refused);
    /* The loopback tortures ran first. */
    CU_ASSERT(asked > 0);
    CU_ASSERT(refused > 0);
    printf("\n    libcurl asked the test's allocator %ld times, %ld refused; %ld runs ended "
           "in libcurl's \"Couldn't resolve host name\" for its own allocation failure\n",
           asked, refused, curl_misreported);
}

int main(void)
{
    /* Before any core opens: the core's curl_global_init then changes
     * nothing (see the header). */
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, curl_t_malloc, curl_t_free, curl_t_realloc,
                             curl_t_strdup, curl_t_calloc) != CURLE_OK)
        return 2;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("alloc", NULL, NULL);
    CU_add_test(s, "every allocation failing in turn", test_every_allocation_failing_in_turn);
    CU_add_test(s, "every allocation failing in turn, over loopback",
                test_network_allocation_failing_in_turn);
    CU_add_test(s, "every allocation failing in turn: structured output, prompted tools",
                test_structured_allocation_failing_in_turn);
    CU_add_test(s, "every allocation failing in turn: libcurl's allocations are on the schedule",
                test_curl_allocations_reach_the_test);
    CU_add_test(s, "every allocation failing in turn: Anthropic responses",
                test_anthropic_allocation_failing_in_turn);
    CU_add_test(s, "every allocation failing in turn: Ollama responses",
                test_ollama_allocation_failing_in_turn);
    return tu_run_suites();
}
