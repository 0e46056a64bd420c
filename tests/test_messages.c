/*
 * test_messages.c -- the calls the gateway (server/) needed from the
 * core, tested as any program would use them: images on any user turn
 * of a message list (ac_messages_attach_image / _url), sent with tool
 * calls and results to the openai and anthropic plugins as each wire
 * format wants them; flow control of a callback-driven request
 * (ac_request_pause / ac_request_resume); and the asynchronous model
 * listing (ac_alist_models), which host mode needs.
 */
#include "mockutil.h"
#include "request.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *SCRIPT =
    "scenarios = (\n"
    "  { model = \"echo\"; echo = true; chunks = 2; },\n"
    "  { model = \"huge\"; reply_len = 4000000; chunks = 4000; },\n"
    "  { model = \"named\"; reply = \"ok\"; }\n"
    ");\n";

/* A 2 x 2 PNG, 73 bytes. */
static const char PNG_BYTES[] =
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00"
    "\x00\x02\x00\x00\x00\x02\x08\x02\x00\x00\x00\xfd\xd4\x9a\x73\x00\x00\x00"
    "\x10\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\x00\x44\x0c\x10\x0a\x00\x1f"
    "\xee\x03\xfd\x8b\x5f\x14\xd4\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60"
    "\x82";
#define PNG_B64                                                            \
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5Er" \
    "kJggg=="

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A whole conversation: system, a user turn with an image, an assistant
 * turn with a tool call, its result, and the question. */
static ac_messages *conversation(void)
{
    ac_messages *m = ac_messages_new();
    ac_error err;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_SYSTEM, "Be brief."), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "What is in this picture?"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_attach_image_url(m, "data:image/png;base64," PNG_B64, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_ASSISTANT, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_call(m, "call_7", "look", "{\"zoom\": 2}"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add_tool_result(m, "call_7", NULL, "a cat", 0), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "And its colour?"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_count(m), 5);
    return m;
}

static void test_openai_wire(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    ac_messages *m = conversation();
    ac_error err;
    ac_response *r = ac_generate_messages(e.llm, m, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "And its colour?");
    ac_response_free(r);
    json_object *b = mu_last_body(e.mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.role"), "system");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content"), "Be brief.");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.role"), "user");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.0.text"), "What is in this picture?");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.1.image_url.url"),
                  "data:image/png;base64," PNG_B64);
    TU_ASSERT_STR(tu_jstr(b, "messages.2.role"), "assistant");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.tool_calls.0.id"), "call_7");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.tool_calls.0.function.name"), "look");
    CU_ASSERT(tu_json_text_equal(tu_jstr(b, "messages.2.tool_calls.0.function.arguments"),
                                 "{\"zoom\":2}"));
    TU_ASSERT_STR(tu_jstr(b, "messages.3.role"), "tool");
    TU_ASSERT_STR(tu_jstr(b, "messages.3.tool_call_id"), "call_7");
    TU_ASSERT_STR(tu_jstr(b, "messages.3.content"), "a cat");
    TU_ASSERT_STR(tu_jstr(b, "messages.4.content"), "And its colour?");
    json_object_put(b);
    size_t sizes[2];
    CU_ASSERT_EQUAL(mock_server_last_images(e.mock, sizes, 2), 1);
    CU_ASSERT_EQUAL(sizes[0], 73); /* small: sent byte for byte */
    ac_messages_free(m);
    mu_stop(&e);
}

static void test_anthropic_wire(void)
{
    char errbuf[256];
    mock_server *mock = mock_server_start(SCRIPT, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mock);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "providers = ( { name = \"anth\"; plugin = \"anthropic\"; "
             "base_url = \"%s\"; api_key = \"k\"; } );\n", mock_server_url(mock));
    ac_core *core = tu_open_core(cfg);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "anth", "echo", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_messages *m = conversation();
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_system(p, "First.");
    ac_response *r = ac_generate_messages(llm, m, p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), "And its colour?");
    ac_response_free(r);
    json_object *b = mu_last_body(mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* The list's system prompt wins over params', in Anthropic's
     * top-level field. */
    TU_ASSERT_STR(tu_jstr(b, "system"), "Be brief.");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.role"), "user");
    /* The image before its text, as Anthropic recommends. */
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.0.type"), "image");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.0.source.media_type"), "image/png");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.0.source.data"), PNG_B64);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.1.text"), "What is in this picture?");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.0.type"), "tool_use");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.0.id"), "call_7");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(b, "messages.1.content.0.input.zoom")), 2);
    TU_ASSERT_STR(tu_jstr(b, "messages.2.role"), "user");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.content.0.type"), "tool_result");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.content.0.tool_use_id"), "call_7");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.content.1.text"), "And its colour?");
    json_object_put(b);
    ac_gen_params_free(p);
    ac_messages_free(m);
    ac_llm_free(llm);
    ac_core_close(core);
    mock_server_stop(mock);
}

static void test_image_refusals(void)
{
    ac_messages *m = ac_messages_new();
    ac_error err;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    /* Nothing to attach to, or not a user turn. */
    CU_ASSERT_EQUAL(ac_messages_attach_image_url(m, "https://x/y.png", &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_messages_attach_image_url(NULL, "https://x/y.png", &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_ASSISTANT, "hi"), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_attach_image_url(m, "https://x/y.png", &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "user message"));
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "look"), AC_OK);
    /* Not an image, not a URL, not base64. */
    CU_ASSERT_NOT_EQUAL(ac_messages_attach_image(m, "not an image at all", 19, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_attach_image(m, NULL, 0, NULL, &err), AC_EINVAL);
    CU_ASSERT_NOT_EQUAL(ac_messages_attach_image_url(m, "ftp://x/y.png", &err), AC_OK);
    CU_ASSERT_NOT_EQUAL(ac_messages_attach_image_url(m, "data:image/png;base64,@@@@", &err), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_attach_image_url(m, "", &err), AC_EINVAL);
    /* And what works: a URL, and bytes. */
    CU_ASSERT_EQUAL(ac_messages_attach_image_url(m, "https://x/y.png", &err), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_attach_image(m, PNG_BYTES, sizeof PNG_BYTES - 1, "image/png",
                                             &err), AC_OK);
    /* A type that does not agree with the bytes. */
    CU_ASSERT_NOT_EQUAL(ac_messages_attach_image(m, PNG_BYTES, sizeof PNG_BYTES - 1,
                                                 "image/jpeg", &err), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_count(m), 2);
    ac_messages_free(m);
    ac_messages_free(NULL);
}

static void test_name_and_list_reuse(void)
{
    /* The list may change right after the call: the request has a copy. */
    mu_env e;
    mu_start(&e, SCRIPT, "named", NULL);
    ac_messages *m = ac_messages_new();
    ac_messages_add(m, AC_ROLE_USER, "hi");
    CU_ASSERT_EQUAL(ac_messages_set_name(m, "alice"), AC_OK);
    ac_request *q = ac_agenerate_messages(e.llm, m, NULL, NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    ac_messages_add(m, AC_ROLE_ASSISTANT, "changed");
    ac_messages_free(m);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, NULL), AC_OK);
    json_object *b = mu_last_body(e.mock);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 1);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.name"), "alice");
    json_object_put(b);
    ac_request_free(q);
    mu_stop(&e);
}

/* A core in host mode with provider "mock" at the mock; NULL on failure. */
static ac_core *open_host(mock_server *mock)
{
    char text[4096];
    snprintf(text, sizeof text, "abstractcore = { plugin_path = %s; engine = { mode = \"host\"; }; };\n"
             "providers = ( { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\"; "
             "api_key = \"k\"; } );\n", tu_plugin_path_list(), mock_server_url(mock));
    char *path = tu_write_temp(text);
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, path, &err) != AC_OK) {
        fprintf(stderr, "ac_core_open: %s\n", err.message);
        core = NULL;
    }
    unlink(path);
    free(path);
    return core;
}

/* The loop of a host-mode application, until cond(ctx) or 10 s. */
static int drive(ac_core *core, int (*cond)(void *), void *ctx)
{
    double end = mono_ms() + 10000;
    while (!cond(ctx)) {
        if (mono_ms() > end)
            return 0;
        struct pollfd p = {.fd = ac_core_backend_fd(core), .events = POLLIN};
        int t = ac_core_backend_timeout(core);
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        ac_core_run_once(core);
    }
    return 1;
}

/* ---- pause and resume ---- */

typedef struct flow {
    atomic_size_t bytes, events;
    atomic_int    done;
    ac_status     status;
    int           pause_first;
} flow;

static void flow_event(ac_request *q, const ac_chunk *c, void *user)
{
    flow *f = user;
    if (atomic_fetch_add(&f->events, 1) == 0 && f->pause_first)
        ac_request_pause(q);
    atomic_fetch_add(&f->bytes, c->len);
}

static void flow_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    flow *f = user;
    f->status = st;
    atomic_store(&f->done, 1);
}

static const ac_callbacks FLOW_CB = {.on_event = flow_event, .on_done = flow_done};

static int is_paused(void *q) { return atomic_load(&((ac_request *)q)->paused); }

static void test_pause_holds_the_transfer(void)
{
    /* 4 MB that a reader pauses at its first event: the transfer stops
     * (the mock's reply stays unfinished), the idle timeout does not fire
     * while paused, and after the resume every byte arrives. */
    mu_env e;
    mu_start(&e, SCRIPT, "huge", "idle_timeout_ms = 150;");
    flow f = {.pause_first = 1};
    ac_request *q = ac_agenerate(e.llm, "x", NULL, &FLOW_CB, &f, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FATAL(tu_wait_until(is_paused, q, 10000));
    size_t seen = atomic_load(&f.bytes);
    CU_ASSERT(seen < 4000000);
    /* Three idle timeouts' worth of stillness: nothing arrives, nothing
     * fails. */
    usleep(450 * 1000);
    CU_ASSERT_EQUAL(atomic_load(&f.bytes), seen);
    CU_ASSERT_FALSE(atomic_load(&f.done));
    CU_ASSERT_EQUAL(mock_server_inflight(e.mock), 1);
    ac_request_resume(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 20000), AC_OK);
    CU_ASSERT_EQUAL(f.status, AC_OK);
    CU_ASSERT_EQUAL(atomic_load(&f.bytes), 4000000);
    ac_request_free(q);
    mu_stop(&e);
}

static int flow_done_p(void *f) { return atomic_load(&((flow *)f)->done); }

static void test_pause_before_start_and_noops(void)
{
    /* In host mode nothing moves until the loop runs, so the pause surely
     * comes before the reply's first byte. */
    char errbuf[256];
    mock_server *mock = mock_server_start(SCRIPT, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mock);
    ac_core *core = open_host(mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_llm *llm = ac_llm_create(core, "mock", "echo", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_request_pause(NULL);
    ac_request_resume(NULL);
    flow f = {0};
    ac_request *q = ac_agenerate(llm, "held", NULL, &FLOW_CB, &f, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    ac_request_pause(q);
    ac_request_pause(q);
    /* Held at its first byte: no event until the resume. */
    CU_ASSERT_FATAL(drive(core, is_paused, q));
    CU_ASSERT_EQUAL(atomic_load(&f.events), 0);
    ac_request_resume(q);
    ac_request_resume(q);
    CU_ASSERT_FATAL(drive(core, flow_done_p, &f));
    CU_ASSERT_EQUAL(f.status, AC_OK);
    CU_ASSERT_EQUAL(atomic_load(&f.bytes), 4);
    /* Finished: both are no-ops. */
    ac_request_pause(q);
    ac_request_resume(q);
    ac_request_free(q);
    ac_llm_free(llm);
    ac_core_close(core);
    mock_server_stop(mock);
}

static void test_cancel_while_paused(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "huge", NULL);
    flow f = {.pause_first = 1};
    ac_request *q = ac_agenerate(e.llm, "x", NULL, &FLOW_CB, &f, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FATAL(tu_wait_until(is_paused, q, 10000));
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(f.status, AC_ECANCELED);
    CU_ASSERT(mu_wait_disconnects(e.mock, 1, 10000));
    ac_request_free(q);
    mu_stop(&e);
}

/* ---- listing models without blocking ---- */

typedef struct listing {
    ac_models *m;
    ac_status  st;
    int        done;
} listing;

static void list_done(ac_request *q, ac_status st, void *user)
{
    listing *l = user;
    l->st = st;
    l->m = ac_request_take_models(q);
    l->done = 1;
}

static int listed(void *l) { return ((listing *)l)->done; }

static void test_alist_models_host_mode(void)
{
    char errbuf[256];
    mock_server *mock = mock_server_start(SCRIPT, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mock);
    ac_core *core = open_host(mock);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "mock", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    /* The blocking call cannot work here, and says so. */
    CU_ASSERT_PTR_NULL(ac_list_models(llm, &err));
    CU_ASSERT_EQUAL(err.code, AC_EBUSY);
    listing l = {0};
    ac_callbacks cb = {.on_done = list_done};
    ac_request *q = ac_alist_models(llm, &cb, &l, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NULL(ac_request_take_models(q)); /* not done yet */
    CU_ASSERT(drive(core, listed, &l));
    CU_ASSERT_EQUAL(l.st, AC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l.m);
    CU_ASSERT_EQUAL(ac_models_count(l.m), 3);
    int saw_echo = 0;
    for (size_t i = 0; i < ac_models_count(l.m); i++)
        saw_echo += strcmp(ac_models_id(l.m, i), "echo") == 0;
    CU_ASSERT_EQUAL(saw_echo, 1);
    /* Taken once. */
    CU_ASSERT_PTR_NULL(ac_request_take_models(q));
    ac_models_free(l.m);
    ac_request_free(q);
    ac_llm_free(llm);
    ac_core_close(core);
    mock_server_stop(mock);
}

static void test_alist_models_threaded(void)
{
    mu_env e;
    mu_start(&e, SCRIPT, "echo", NULL);
    listing l = {0};
    ac_callbacks cb = {.on_done = list_done};
    ac_request *q = ac_alist_models(e.llm, &cb, &l, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(l.st, AC_OK);
    CU_ASSERT_EQUAL(ac_models_count(l.m), 3);
    ac_models_free(l.m);
    ac_request_free(q);
    /* The blocking call is the same listing. */
    ac_models *m = ac_list_models(e.llm, NULL);
    CU_ASSERT_EQUAL(ac_models_count(m), 3);
    ac_models_free(m);
    ac_request *chat = ac_agenerate(e.llm, "x", NULL, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(ac_request_wait(chat, 10000), AC_OK);
    CU_ASSERT_PTR_NULL(ac_request_take_models(chat));
    ac_request_free(chat);
    CU_ASSERT_PTR_NULL(ac_alist_models(NULL, NULL, NULL, NULL));
    mu_stop(&e);
}

int main(void)
{
    static const tu_test tests[] = {
        {"a whole conversation on the OpenAI wire", test_openai_wire},
        {"a whole conversation on the Anthropic wire", test_anthropic_wire},
        {"images refused where they cannot go", test_image_refusals},
        {"names, and a list changed after the call", test_name_and_list_reuse},
        {"pause holds the transfer, resume finishes it", test_pause_holds_the_transfer},
        {"pause before the reply, and no-ops", test_pause_before_start_and_noops},
        {"cancel while paused", test_cancel_while_paused},
        {"models listed asynchronously in host mode", test_alist_models_host_mode},
        {"models listed asynchronously on the engine thread", test_alist_models_threaded},
    };
    if (CU_initialize_registry() != CUE_SUCCESS || TU_ADD_SUITE("messages", NULL, NULL, tests))
        return 2;
    return tu_run_suites();
}
