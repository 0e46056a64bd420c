/*
 * test_ollama_fake.c -- the Ollama plugin's functions one by one, through
 * the fake host of <abstractcore/testkit.h>, without a core.
 *
 * init from the settings given (defaults, every setting, bad values);
 * build_request from messages made of content parts -- text, images
 * (base64 accepted, URLs refused), files (labelled text), tool calls and
 * results, and parts Ollama cannot take or of a type the plugin does not
 * know (refused, named) -- with the body read back as JSON; every
 * allocation of init and build_request failing in turn; parse_error,
 * parse_event, parse_response and parse_models on bodies and lines given.
 * Expected bodies follow Ollama's docs (docs/protocols.md section 3,
 * tests/fixtures/ollama_chat_tool_result.request.json).
 */
#include "testutil.h"

#include <abstractcore/testkit.h>
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every byte printable (UTF-8 sequences allowed): one line for a person. */
static int printable_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/*
 * The plugin keeps the host table its entry point was given, so the fake
 * and a core must not have it loaded at once: this program opens no core.
 */
static const ac_provider *vt;
static void *vt_dl;

static int fake_suite_init(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/plugins/ollama/.libs/ollama.so", TEST_BUILDDIR);
    vt = ac_fake_load(path, &vt_dl);
    return vt ? 0 : 1;
}

static int fake_suite_clean(void)
{
    if (vt_dl)
        dlclose(vt_dl);
    vt_dl = NULL;
    vt = NULL;
    return 0;
}

/* A fake whose request asks for `model` (the test stops when out of
 * memory).  Settings are added before fake_init. */
static ac_fake *fake_new(const char *model)
{
    ac_fake *f = ac_fake_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL_FATAL(ac_fake_set_name(f, "ollama"), 0);
    ac_fake_request(f)->model = model;
    return f;
}

/* init with the fake's settings: the state, or NULL with the fake's
 * report saying why. */
static void *fake_init(ac_fake *f, ac_status *rc)
{
    void *state = NULL;
    *rc = vt->init(ac_fake_settings(f), &state, ac_fake_call(f));
    return *rc == AC_OK ? state : NULL;
}

/* build_request on the fake's request (after forgetting the last one). */
static ac_status fake_build(ac_fake *f, void *state)
{
    ac_fake_reset(f);
    return vt->build_request(state, ac_fake_request(f), ac_fake_http(f), ac_fake_call(f));
}

/* The body the plugin built, parsed (the test stops when it is not JSON).
 * Free with json_object_put. */
static json_object *fake_body(ac_fake *f)
{
    size_t n;
    const char *text = ac_fake_body(f, &n);
    json_object *o = json_tokener_parse(text);
    if (!o)
        fprintf(stderr, "body: %s\n", text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(strlen(text), n);
    return o;
}

/* Init with the fake's settings and build its request: the body, parsed
 * (the test stops when either fails).  *state_out gets the state (fini
 * it). */
static json_object *fake_build_ok(ac_fake *f, void **state_out)
{
    ac_status rc;
    void *state = fake_init(f, &rc);
    if (rc != AC_OK)
        fprintf(stderr, "init: %s\n", ac_fake_error(f)->message);
    CU_ASSERT_EQUAL_FATAL(rc, AC_OK);
    rc = fake_build(f, state);
    if (rc != AC_OK)
        fprintf(stderr, "build_request: %s\n", ac_fake_error(f)->message);
    if (rc != AC_OK)
        vt->fini(state);
    CU_ASSERT_EQUAL_FATAL(rc, AC_OK);
    *state_out = state;
    return fake_body(f);
}

/* Init and build expecting the build to fail with `want`: the report's
 * message (valid until the fake changes). */
static const char *fake_build_fails(ac_fake *f, ac_status want)
{
    ac_status rc;
    void *state = fake_init(f, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AC_OK);
    rc = fake_build(f, state);
    vt->fini(state);
    CU_ASSERT_EQUAL(rc, want);
    CU_ASSERT_EQUAL(ac_fake_error(f)->code, want);
    CU_ASSERT_EQUAL(ac_fake_error(f)->stage, AC_STAGE_REQUEST);
    CU_ASSERT(printable_line(ac_fake_error(f)->message));
    return ac_fake_error(f)->message;
}

static int add_part(ac_fake *f, ac_part p)
{
    p.struct_size = sizeof p;
    return ac_fake_add_part(f, &p);
}

static void test_fake_descriptor(void)
{
    CU_ASSERT_EQUAL(vt->abi_major, AC_ABI_MAJOR);
    TU_ASSERT_STR(vt->name, "ollama");
    CU_ASSERT(vt->description && *vt->description);
    /* Images as base64, the schema as `format`; documents only as text. */
    CU_ASSERT_EQUAL(vt->features,
                    AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES);
    CU_ASSERT_PTR_NOT_NULL(vt->parse_event);
    CU_ASSERT_PTR_NOT_NULL(vt->build_models_request);
    CU_ASSERT_PTR_NULL(vt->run_local);
}

/* The settings, as they show in the request. */
static void test_fake_settings(void)
{
    void *state;
    ac_status rc;

    /* The default: localhost, no key, none of the optional fields. */
    ac_fake *f = fake_new("llama3.2");
    CU_ASSERT_EQUAL(ac_fake_add_message(f, AC_ROLE_USER, "hi"), 0);
    json_object *b = fake_build_ok(f, &state);
    TU_ASSERT_STR(ac_fake_url(f), "http://localhost:11434/api/chat");
    TU_ASSERT_STR(ac_fake_method(f), "POST");
    CU_ASSERT_EQUAL(ac_fake_framing(f), AC_FRAMING_NONE);
    TU_ASSERT_STR(ac_fake_header(f, "Accept"), "application/json");
    TU_ASSERT_STR(ac_fake_header(f, "Content-Type"), "application/json");
    CU_ASSERT_PTR_NULL(ac_fake_header(f, "Authorization"));
    TU_ASSERT_STR(ac_fake_secret_default_env(f), "OLLAMA_API_KEY");
    CU_ASSERT_PTR_NULL(tu_jget(b, "keep_alive"));
    CU_ASSERT_PTR_NULL(tu_jget(b, "think"));
    CU_ASSERT_PTR_NULL(tu_jget(b, "options"));
    json_object_put(b);
    /* The models request. */
    ac_fake_reset(f);
    CU_ASSERT_EQUAL(vt->build_models_request(state, ac_fake_http(f), ac_fake_call(f)), AC_OK);
    TU_ASSERT_STR(ac_fake_method(f), "GET");
    TU_ASSERT_STR(ac_fake_url(f), "http://localhost:11434/api/tags");
    vt->fini(state);
    ac_fake_free(f);

    /* Everything set: the key from Ollama's variable, a duration, a think
     * level, a context size, the default model. */
    f = fake_new("");
    ac_fake_set(f, "base_url", "http://127.0.0.1:9/ollama//");
    ac_fake_setenv(f, "OLLAMA_API_KEY", "ollama-key-0123");
    ac_fake_set(f, "keep_alive", "10m");
    ac_fake_set(f, "think", "high");
    ac_fake_set_int(f, "num_ctx", 8192);
    ac_fake_set(f, "default_model", "qwen3");
    ac_fake_add_message(f, AC_ROLE_USER, "hi");
    ac_fake_request(f)->stream = 1;
    b = fake_build_ok(f, &state);
    TU_ASSERT_STR(ac_fake_url(f), "http://127.0.0.1:9/ollama/api/chat");
    TU_ASSERT_STR(ac_fake_header(f, "Authorization"), "Bearer ollama-key-0123");
    CU_ASSERT_EQUAL(ac_fake_framing(f), AC_FRAMING_NDJSON);
    TU_ASSERT_STR(ac_fake_header(f, "Accept"), "application/x-ndjson");
    TU_ASSERT_STR(tu_jstr(b, "model"), "qwen3");
    TU_ASSERT_STR(tu_jstr(b, "keep_alive"), "10m");
    TU_ASSERT_STR(tu_jstr(b, "think"), "high");
    CU_ASSERT_EQUAL(json_object_get_int64(tu_jget(b, "options.num_ctx")), 8192);
    CU_ASSERT_TRUE(json_object_get_boolean(tu_jget(b, "stream")));
    json_object_put(b);
    vt->fini(state);
    ac_fake_free(f);

    /* Seconds (and digits in a string) travel as a number; think as a
     * boolean. */
    static const struct { int as_int; const char *text; long long secs; } ka[] = {
        { 1, NULL, 300 }, { 0, "-1", -1 }, { 0, "0", 0 },
    };
    for (size_t i = 0; i < sizeof ka / sizeof ka[0]; i++) {
        f = fake_new("m");
        if (ka[i].as_int)
            ac_fake_set_int(f, "keep_alive", ka[i].secs);
        else
            ac_fake_set(f, "keep_alive", ka[i].text);
        ac_fake_set_bool(f, "think", 0);
        ac_fake_add_message(f, AC_ROLE_USER, "hi");
        b = fake_build_ok(f, &state);
        CU_ASSERT(json_object_is_type(tu_jget(b, "keep_alive"), json_type_int));
        CU_ASSERT_EQUAL(json_object_get_int64(tu_jget(b, "keep_alive")), ka[i].secs);
        CU_ASSERT(json_object_is_type(tu_jget(b, "think"), json_type_boolean));
        CU_ASSERT_FALSE(json_object_get_boolean(tu_jget(b, "think")));
        json_object_put(b);
        vt->fini(state);
        ac_fake_free(f);
    }

    /* An explicit key wins over the variable. */
    f = fake_new("m");
    ac_fake_set(f, "api_key", "explicit-key-99");
    ac_fake_setenv(f, "OLLAMA_API_KEY", "from-env");
    ac_fake_add_message(f, AC_ROLE_USER, "hi");
    b = fake_build_ok(f, &state);
    TU_ASSERT_STR(ac_fake_header(f, "Authorization"), "Bearer explicit-key-99");
    json_object_put(b);
    vt->fini(state);
    ac_fake_free(f);

    /* OLLAMA_HOST without a scheme, when no base_url is set. */
    setenv("OLLAMA_HOST", "127.0.0.1:9", 1);
    f = fake_new("m");
    ac_fake_add_message(f, AC_ROLE_USER, "hi");
    b = fake_build_ok(f, &state);
    TU_ASSERT_STR(ac_fake_url(f), "http://127.0.0.1:9/api/chat");
    json_object_put(b);
    vt->fini(state);
    ac_fake_free(f);
    unsetenv("OLLAMA_HOST");

    /* Bad settings: AC_ECONFIG, naming the setting. */
    static const struct { const char *key, *value; long long num; int type;
                          const char *names; } bad[] = {
        { "base_url", "ftp://x", 0, AC_SETTING_STRING, "base_url" },
        { "base_url", NULL, 5, AC_SETTING_INT, "base_url" },
        { "keep_alive", "", 0, AC_SETTING_STRING, "keep_alive" },
        { "keep_alive", NULL, 1, AC_SETTING_BOOL, "keep_alive" },
        { "think", "maybe", 0, AC_SETTING_STRING, "think" },
        { "num_ctx", NULL, 0, AC_SETTING_INT, "num_ctx" },
        { "num_ctx", "big", 0, AC_SETTING_STRING, "num_ctx" },
        { "default_model", NULL, 1, AC_SETTING_BOOL, "default_model" },
        { "api_key_env", "AC_TEST_NO_SUCH_VARIABLE", 0, AC_SETTING_STRING,
          "AC_TEST_NO_SUCH_VARIABLE" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fake_new("m");
        if (bad[i].type == AC_SETTING_STRING)
            ac_fake_set(f, bad[i].key, bad[i].value);
        else if (bad[i].type == AC_SETTING_INT)
            ac_fake_set_int(f, bad[i].key, bad[i].num);
        else
            ac_fake_set_bool(f, bad[i].key, (int)bad[i].num);
        state = fake_init(f, &rc);
        CU_ASSERT_PTR_NULL(state);
        CU_ASSERT_EQUAL(rc, AC_ECONFIG);
        CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_ECONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, bad[i].names));
        if (rc != AC_ECONFIG)
            fprintf(stderr, "bad setting %zu: %d %s\n", i, rc, ac_fake_error(f)->message);
        vt->fini(state);
        ac_fake_free(f);
    }
}

/* The generic request's fields in Ollama's places. */
static void test_fake_request_fields(void)
{
    static const char *const stops[] = { "END", "STOP" };
    void *state;
    ac_fake *f = fake_new("llama3.2");
    ac_gen_request *q = ac_fake_request(f);
    q->has_max_tokens = 1;
    q->max_tokens = 64;
    q->has_temperature = 1;
    q->temperature = 0.7;
    q->has_top_p = 1;
    q->top_p = 0.9;
    q->has_seed = 1;
    q->seed = 42;
    q->stop = stops;
    q->n_stop = 2;
    q->json_schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\","
                     "\"maximum\":1.5}}}";
    q->json_schema_name = "answer";
    ac_fake_add_message(f, AC_ROLE_SYSTEM, "Be terse.");
    ac_fake_add_message(f, AC_ROLE_USER, "hi");
    ac_fake_add_tool(f, "get_weather", "Weather in a city",
                     "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");
    ac_fake_add_tool(f, "get_time", NULL, NULL);
    json_object *b = fake_build_ok(f, &state);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.role"), "system");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content"), "Be terse.");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.role"), "user");
    CU_ASSERT_EQUAL(json_object_get_int64(tu_jget(b, "options.num_predict")), 64);
    CU_ASSERT_EQUAL(json_object_get_int64(tu_jget(b, "options.seed")), 42);
    TU_ASSERT_STR(tu_jstr(b, "options.stop.1"), "STOP");
    /* Shortest round-trip numbers, not 0.69999999999999996. */
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_body(f, NULL), "\"temperature\":0.7"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_body(f, NULL), "\"top_p\":0.9"));
    /* The schema as `format`, an object (its name is not used). */
    TU_ASSERT_STR(tu_jstr(b, "format.type"), "object");
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(tu_jget(b, "format.properties.a.maximum")),
                           1.5, 1e-12);
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.name"), "get_weather");
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.description"), "Weather in a city");
    TU_ASSERT_STR(tu_jstr(b, "tools.1.function.name"), "get_time");
    CU_ASSERT(json_object_is_type(tu_jget(b, "tools.1.function.parameters"),
                                  json_type_object));
    CU_ASSERT_PTR_NULL(tu_jget(b, "tool_choice"));
    json_object_put(b);

    /* tool_choice: "none" sends no tools, a name only that tool,
     * "required" (which Ollama cannot express) all of them. */
    q->tool_choice = "none";
    CU_ASSERT_EQUAL_FATAL(fake_build(f, state), AC_OK);
    b = fake_body(f);
    CU_ASSERT_PTR_NULL(tu_jget(b, "tools"));
    json_object_put(b);
    q->tool_choice = "get_time";
    CU_ASSERT_EQUAL_FATAL(fake_build(f, state), AC_OK);
    b = fake_body(f);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "tools")), 1);
    TU_ASSERT_STR(tu_jstr(b, "tools.0.function.name"), "get_time");
    json_object_put(b);
    q->tool_choice = "required";
    CU_ASSERT_EQUAL_FATAL(fake_build(f, state), AC_OK);
    b = fake_body(f);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "tools")), 2);
    json_object_put(b);
    q->tool_choice = "get_nothing";
    CU_ASSERT_EQUAL(fake_build(f, state), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "tool_choice"));
    q->tool_choice = NULL;

    /* A schema that is not an object. */
    q->json_schema = "[1]";
    CU_ASSERT_EQUAL(fake_build(f, state), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "JSON schema"));
    q->json_schema = NULL;

    /* No model, and no default_model (a descriptor without one). */
    vt->fini(state);
    ac_fake_set_provider(f, NULL);
    ac_status irc;
    state = fake_init(f, &irc);
    CU_ASSERT_EQUAL_FATAL(irc, AC_OK);
    q->model = "";
    CU_ASSERT_EQUAL(fake_build(f, state), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "no model"));
    vt->fini(state);
    ac_fake_free(f);

    /* Tool parameters that are not a JSON object. */
    f = fake_new("m");
    ac_fake_add_message(f, AC_ROLE_USER, "hi");
    ac_fake_add_tool(f, "broken", NULL, "{\"type\":");
    CU_ASSERT_PTR_NOT_NULL(strstr(fake_build_fails(f, AC_EINVAL), "broken"));
    ac_fake_free(f);
}

/* Images: bare base64 in the message's `images`; a URL is refused. */
static void test_fake_images(void)
{
    void *state;
    ac_fake *f = fake_new("llava");
    ac_fake_add_message(f, AC_ROLE_USER, "What is in ");
    add_part(f, (ac_part){ .type = AC_PART_IMAGE, .mime_type = "image/png",
                           .data_base64 = "aGVsbG8=", .data_len = 5 });
    add_part(f, (ac_part){ .type = AC_PART_TEXT, .text = "these?" });
    add_part(f, (ac_part){ .type = AC_PART_IMAGE, .mime_type = "image/jpeg",
                           .data_base64 = "d29ybGQ=", .data_len = 5 });
    /* A data: URL carries the bytes too. */
    add_part(f, (ac_part){ .type = AC_PART_IMAGE,
                           .url = "data:image/gif;base64,R0lGODlh" });
    json_object *b = fake_build_ok(f, &state);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content"), "What is in these?");
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages.0.images")), 3);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.images.0"), "aGVsbG8=");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.images.1"), "d29ybGQ=");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.images.2"), "R0lGODlh");
    json_object_put(b);
    vt->fini(state);
    ac_fake_free(f);

    /* A message without images has no `images`. */
    f = fake_new("llava");
    ac_fake_add_message(f, AC_ROLE_USER, "plain");
    b = fake_build_ok(f, &state);
    CU_ASSERT_PTR_NULL(tu_jget(b, "messages.0.images"));
    json_object_put(b);
    vt->fini(state);
    ac_fake_free(f);

    /* By URL: Ollama cannot fetch it. */
    f = fake_new("llava");
    ac_fake_add_message(f, AC_ROLE_USER, "Describe");
    add_part(f, (ac_part){ .type = AC_PART_IMAGE, .url = "https://example.com/cat.png" });
    const char *msg = fake_build_fails(f, AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "URL"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "image bytes"));
    ac_fake_free(f);

    /* Neither bytes nor a URL. */
    f = fake_new("llava");
    ac_fake_add_message(f, AC_ROLE_USER, "Describe");
    add_part(f, (ac_part){ .type = AC_PART_IMAGE, .mime_type = "image/png" });
    CU_ASSERT_PTR_NOT_NULL(strstr(fake_build_fails(f, AC_EINVAL), "image"));
    ac_fake_free(f);
}

/* Documents: their text after the message's own, labelled. */
static void test_fake_files(void)
{
    void *state;
    ac_fake *f = fake_new("m");
    ac_fake_add_message(f, AC_ROLE_USER, "Summarize:");
    add_part(f, (ac_part){ .type = AC_PART_FILE, .name = "notes.txt",
                           .mime_type = "text/plain", .text = "line one\nline two" });
    add_part(f, (ac_part){ .type = AC_PART_FILE, .mime_type = "text/plain",
                           .text = "untitled" });
    /* A document alone. */
    ac_fake_add_message(f, AC_ROLE_USER, NULL);
    add_part(f, (ac_part){ .type = AC_PART_FILE, .name = "a.md", .text = "# A" });
    json_object *b = fake_build_ok(f, &state);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content"),
                  "Summarize:\n\n[file: notes.txt]\nline one\nline two"
                  "\n\n[file: document]\nuntitled");
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content"), "[file: a.md]\n# A");
    json_object_put(b);
    vt->fini(state);
    ac_fake_free(f);
}

/* An earlier tool exchange: the assistant's calls with object arguments,
 * each result as a role "tool" message with tool_name. */
static void test_fake_tool_history(void)
{
    void *state;
    ac_fake *f = fake_new("qwen3");
    ac_fake_add_message(f, AC_ROLE_USER, "Weather and time in Paris?");
    ac_fake_add_message(f, AC_ROLE_ASSISTANT, "Let me check.");
    add_part(f, (ac_part){ .type = AC_PART_TOOL_CALL, .id = "call_1", .name = "get_weather",
                           .arguments = "{\"city\":\"Paris\"}" });
    /* No id (an older server), and arguments cut off by max_tokens. */
    add_part(f, (ac_part){ .type = AC_PART_TOOL_CALL, .id = "", .name = "get_time",
                           .arguments = "{\"tz\":\"Eur" });
    ac_fake_add_message(f, AC_ROLE_TOOL, NULL);
    add_part(f, (ac_part){ .type = AC_PART_TOOL_RESULT, .id = "call_1", .name = "get_weather",
                           .text = "18°C" });
    ac_fake_add_message(f, AC_ROLE_TOOL, NULL);
    add_part(f, (ac_part){ .type = AC_PART_TOOL_RESULT, .name = "get_time",
                           .text = "unknown time zone", .is_error = 1 });
    /* Two results in one message: one Ollama message each. */
    ac_fake_add_message(f, AC_ROLE_TOOL, NULL);
    add_part(f, (ac_part){ .type = AC_PART_TOOL_RESULT, .id = "c2", .name = "a", .text = "1" });
    add_part(f, (ac_part){ .type = AC_PART_TOOL_RESULT, .id = "c3", .name = "b", .text = "2" });
    json_object *b = fake_build_ok(f, &state);

    json_object *m = tu_jget(b, "messages.1");
    TU_ASSERT_STR(tu_jstr(m, "role"), "assistant");
    TU_ASSERT_STR(tu_jstr(m, "content"), "Let me check.");
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(m, "tool_calls")), 2);
    TU_ASSERT_STR(tu_jstr(m, "tool_calls.0.id"), "call_1");
    TU_ASSERT_STR(tu_jstr(m, "tool_calls.0.type"), "function");
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(m, "tool_calls.0.function.index")), 0);
    TU_ASSERT_STR(tu_jstr(m, "tool_calls.0.function.name"), "get_weather");
    json_object *args = tu_jget(m, "tool_calls.0.function.arguments");
    CU_ASSERT(json_object_is_type(args, json_type_object));
    TU_ASSERT_STR(tu_jstr(args, "city"), "Paris");
    /* No id is sent when the call had none; broken arguments go as {}. */
    CU_ASSERT_PTR_NULL(tu_jget(m, "tool_calls.1.id"));
    CU_ASSERT_EQUAL(json_object_get_int(tu_jget(m, "tool_calls.1.function.index")), 1);
    args = tu_jget(m, "tool_calls.1.function.arguments");
    CU_ASSERT(json_object_is_type(args, json_type_object));
    CU_ASSERT_EQUAL(json_object_object_length(args), 0);

    m = tu_jget(b, "messages.2");
    TU_ASSERT_STR(tu_jstr(m, "role"), "tool");
    TU_ASSERT_STR(tu_jstr(m, "content"), "18°C");
    TU_ASSERT_STR(tu_jstr(m, "tool_name"), "get_weather");
    TU_ASSERT_STR(tu_jstr(m, "tool_call_id"), "call_1");
    m = tu_jget(b, "messages.3");
    TU_ASSERT_STR(tu_jstr(m, "role"), "tool");
    TU_ASSERT_STR(tu_jstr(m, "content"), "unknown time zone");
    TU_ASSERT_STR(tu_jstr(m, "tool_name"), "get_time");
    CU_ASSERT_PTR_NULL(tu_jget(m, "tool_call_id"));
    TU_ASSERT_STR(tu_jstr(b, "messages.4.tool_name"), "a");
    TU_ASSERT_STR(tu_jstr(b, "messages.4.content"), "1");
    TU_ASSERT_STR(tu_jstr(b, "messages.5.tool_name"), "b");
    TU_ASSERT_STR(tu_jstr(b, "messages.5.tool_call_id"), "c3");
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 6);
    json_object_put(b);
    vt->fini(state);
    ac_fake_free(f);
}

/* A part Ollama cannot take, or of a type the plugin does not know: the
 * request fails, naming it, rather than drop it. */
static void test_fake_unsupported_parts(void)
{
    static const struct { ac_role role; ac_part_type type; const char *names; } cases[] = {
        { AC_ROLE_USER, (ac_part_type)99, "unknown type 99" },
        { AC_ROLE_ASSISTANT, (ac_part_type)42, "unknown type 42" },
        { AC_ROLE_TOOL, (ac_part_type)7, "unknown type 7" },
        { AC_ROLE_USER, AC_PART_TOOL_CALL, "tool call" },
        { AC_ROLE_ASSISTANT, AC_PART_TOOL_RESULT, "tool result" },
        { AC_ROLE_TOOL, AC_PART_TEXT, "text" },
        { AC_ROLE_TOOL, AC_PART_IMAGE, "image" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_fake *f = fake_new("m");
        ac_fake_add_message(f, AC_ROLE_USER, "hi");
        ac_fake_add_message(f, cases[i].role, NULL);
        add_part(f, (ac_part){ .type = cases[i].type, .text = "x", .name = "n", .id = "i",
                               .arguments = "{}", .data_base64 = "eA==" });
        const char *msg = fake_build_fails(f, AC_EUNSUPPORTED);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, cases[i].names));
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "message 1"));
        if (!strstr(msg, cases[i].names))
            fprintf(stderr, "case %zu: %s\n", i, msg);
        ac_fake_free(f);
    }
}

/* Every allocation of init and build_request failing in turn: AC_ENOMEM
 * reported as such, nothing leaked (valgrind), and once enough succeed,
 * the very body a run without failures builds. */
static void test_fake_alloc_failures(void)
{
    void *state;
    ac_status rc;
    ac_fake *f = fake_new("llava");
    ac_fake_set(f, "api_key", "alloc-key-123");
    ac_fake_set(f, "keep_alive", "5m");
    ac_fake_set(f, "think", "low");
    ac_fake_set(f, "default_model", "llava");
    ac_fake_request(f)->has_temperature = 1;
    ac_fake_request(f)->temperature = 0.25;
    ac_fake_add_message(f, AC_ROLE_SYSTEM, "sys");
    ac_fake_add_message(f, AC_ROLE_USER, "look");
    add_part(f, (ac_part){ .type = AC_PART_IMAGE, .data_base64 = "aGVsbG8=" });
    add_part(f, (ac_part){ .type = AC_PART_FILE, .name = "f.txt", .text = "doc" });
    ac_fake_add_message(f, AC_ROLE_ASSISTANT, NULL);
    add_part(f, (ac_part){ .type = AC_PART_TOOL_CALL, .id = "c", .name = "t",
                           .arguments = "{\"a\":[1,2]}" });
    ac_fake_add_message(f, AC_ROLE_TOOL, NULL);
    add_part(f, (ac_part){ .type = AC_PART_TOOL_RESULT, .id = "c", .name = "t", .text = "ok" });
    ac_fake_add_tool(f, "t", "a tool", "{\"type\":\"object\"}");

    json_object *b = fake_build_ok(f, &state);
    json_object_put(b);
    char *want = strdup(ac_fake_body(f, NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);

    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
        ac_fake_reset(f);
        ac_fake_fail_after(f, n);
        rc = vt->build_request(state, ac_fake_request(f), ac_fake_http(f), ac_fake_call(f));
        ac_fake_fail_after(f, -1);
        CU_ASSERT(rc == AC_OK || rc == AC_ENOMEM);
        if (rc == AC_ENOMEM)
            CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_ENOMEM);
        if (rc == AC_OK) {
            ok = 1;
            TU_ASSERT_STR(ac_fake_body(f, NULL), want);
        }
    }
    CU_ASSERT(ok);
    vt->fini(state);
    free(want);

    ok = 0;
    for (long n = 0; n < 100 && !ok; n++) {
        ac_fake_reset(f);
        ac_fake_fail_after(f, n);
        state = fake_init(f, &rc);
        ac_fake_fail_after(f, -1);
        CU_ASSERT(rc == AC_OK || rc == AC_ENOMEM);
        if (rc == AC_ENOMEM)
            CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_ENOMEM);
        if (rc != AC_OK && rc != AC_ENOMEM)
            fprintf(stderr, "init, failing at %ld: %d %s\n", n, rc, ac_fake_error(f)->message);
        ok = rc == AC_OK;
        vt->fini(state);
    }
    CU_ASSERT(ok);
    ac_fake_free(f);
}

/* parse_error refines the core's HTTP error; parse_event reports an error
 * line with its retryability; parse_models lists names. */
static void test_fake_replies(void)
{
    void *state;
    ac_status rc;
    ac_fake *f = fake_new("m");
    state = fake_init(f, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AC_OK);

    static const char oom[] =
        "{\"error\":\"model requires more system memory (9.1 GiB) than is available (4.0 GiB)\"}";
    ac_fake_reset(f);
    ac_fake_http_error(f, 500);
    vt->parse_error(state, 500, oom, strlen(oom), ac_fake_call(f));
    CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_EHTTP);
    CU_ASSERT_EQUAL(ac_fake_error(f)->http_status, 500);
    CU_ASSERT_EQUAL(ac_fake_error(f)->retryable, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message,
                                  "HTTP 500: model requires more system memory"));
    static const char busy[] = "{\"error\":\"server busy, please try again\"}";
    ac_fake_reset(f);
    ac_fake_http_error(f, 503);
    vt->parse_error(state, 503, busy, strlen(busy), ac_fake_call(f));
    CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_EHTTP);
    CU_ASSERT_EQUAL(ac_fake_error(f)->retryable, 1);
    TU_ASSERT_STR(ac_fake_error(f)->message, "HTTP 503: server busy, please try again");

    /* The status Ollama would have answered before a stream began. */
    static const struct { const char *line; int retryable, status; } lines[] = {
        { "{\"error\":\"model 'x' not found\"}", 0, 404 },
        { "{\"error\":\"invalid options\"}", 0, 400 },
        { "{\"error\":\"server busy\"}", 1, 503 },
        { "{\"error\":\"an error was encountered while running the model\"}", 1, 500 },
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        ac_fake_reset(f);
        ac_frame ev = { .data = lines[i].line, .data_len = strlen(lines[i].line) };
        CU_ASSERT_EQUAL(vt->parse_event(state, &ev, ac_fake_sink(f), ac_fake_call(f)),
                        AC_EPROTOCOL);
        CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_EPROTOCOL);
        CU_ASSERT_EQUAL(ac_fake_error(f)->stage, AC_STAGE_PROTOCOL);
        CU_ASSERT_EQUAL(ac_fake_error(f)->retryable, lines[i].retryable);
        CU_ASSERT_EQUAL(ac_fake_error(f)->http_status, lines[i].status);
        CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "error in stream: "));
        vt->stream_free(state, *ac_fake_slot(f));
    }

    /* A JSON null line is not a reply (the host's parser accepts it). */
    ac_fake_reset(f);
    ac_frame nul = { .data = "null", .data_len = 4 };
    CU_ASSERT_EQUAL(vt->parse_event(state, &nul, ac_fake_sink(f), ac_fake_call(f)),
                    AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ac_fake_error(f)->message, "not a JSON object"));
    vt->stream_free(state, *ac_fake_slot(f));

    /* A whole body that is NDJSON is read without a report. */
    static const char nd[] =
        "{\"model\":\"m\",\"message\":{\"content\":\"a\"},\"done\":false}\n"
        "{\"model\":\"m\",\"message\":{\"content\":\"b\"},\"done\":true,\"eval_count\":2}\n";
    ac_fake_reset(f);
    CU_ASSERT_EQUAL(vt->parse_response(state, 200, nd, strlen(nd), ac_fake_sink(f),
                                       ac_fake_call(f)), AC_OK);
    CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_OK);
    TU_ASSERT_STR(ac_fake_text(f), "ab");
    TU_ASSERT_STR(ac_fake_finish(f), "stop");
    CU_ASSERT_EQUAL(ac_fake_output_tokens(f), 2);

    size_t len;
    char *tags = tu_fixture("ollama_tags.json", &len);
    ac_fake_reset(f);
    CU_ASSERT_EQUAL(vt->parse_models(state, tags, len, ac_fake_models(f), ac_fake_call(f)),
                    AC_OK);
    CU_ASSERT(ac_fake_model_count(f) >= 2);
    TU_ASSERT_STR(ac_fake_model_id(f, 0), "deepseek-r1:latest");
    TU_ASSERT_STR(ac_fake_model_id(f, 1), "llama3.2:latest");
    free(tags);
    ac_fake_reset(f);
    CU_ASSERT_EQUAL(vt->parse_models(state, "{}", 2, ac_fake_models(f), ac_fake_call(f)),
                    AC_EPROTOCOL);
    ac_fake_reset(f);
    CU_ASSERT_EQUAL(vt->parse_models(state, "{", 1, ac_fake_models(f), ac_fake_call(f)),
                    AC_EJSON);
    CU_ASSERT_EQUAL(ac_fake_error(f)->code, AC_EJSON);
    vt->fini(state);
    ac_fake_free(f);
}

static const tu_test fake_tests[] = {
    { "descriptor", test_fake_descriptor },
    { "settings in the request", test_fake_settings },
    { "request fields", test_fake_request_fields },
    { "image parts: base64, not URLs", test_fake_images },
    { "file parts as labelled text", test_fake_files },
    { "tool calls and results", test_fake_tool_history },
    { "unknown and misplaced parts refused", test_fake_unsupported_parts },
    { "allocation failures in init and build_request", test_fake_alloc_failures },
    { "error bodies, error lines, model list", test_fake_replies },
};

int main(void)
{
    /* The plugin reads these when no setting says otherwise (the fake
     * host fakes only the key's lookup): a developer's own must not leak
     * into the tests. */
    unsetenv("OLLAMA_API_KEY");
    unsetenv("OLLAMA_HOST");
    unsetenv("OLLAMA_BASE_URL");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (TU_ADD_SUITE("ollama_fake", fake_suite_init, fake_suite_clean, fake_tests))
        return 2;
    return tu_run_suites();
}
