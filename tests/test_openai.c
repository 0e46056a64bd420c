/*
 * test_openai.c -- CUnit suites for the `openai` plugin and the
 * OpenAI-compatible codec it is built on (sdk/openai_compat*.c).
 *
 * Suite "plugin" loads plugins/openai/.libs/openai.so itself and drives
 * its vtable with a small fake host table, to check what the plugin sends
 * (URL, headers, the JSON body) and how it reads its settings, model lists
 * and error bodies: things replay cannot show without a server.
 *
 * Suite "replay" feeds the recorded traffic in tests/fixtures (every
 * openai_*, hf_router_*, llamacpp_*, tgi_* and lmstudio_* response, and the
 * SSE edge cases) through the real path -- core, framer, plugin,
 * accumulator -- with replay_bytes(), whole and in pieces of 1 and 7
 * bytes, and checks the response a user would get.  The expected values
 * were written from reading the fixtures.
 *
 * Suite "mock" runs the public API end to end against the mock LLM server
 * on 127.0.0.1: what the plugin sent (headers, body) and what came back,
 * streamed and not, with the server quirks the mock can imitate.
 *
 * The plugin suite runs first and unloads the plugin again, so the core
 * later loads it with its own host table.
 */
#include "alloc.h"
#include "mock_server.h"
#include "replay.h"
#include "testutil.h"

#include <abstractcore/abstractcore.h>
#include <abstractcore/provider.h>

#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_SO TEST_BUILDDIR "/plugins/openai/.libs/openai.so"

/* CU_ASSERT_STRING_EQUAL crashes on NULL; this fails the test instead. */
#define ASSERT_STR(got, want)                                              \
    do {                                                                   \
        const char *got_ = (got);                                          \
        CU_ASSERT_PTR_NOT_NULL(got_);                                      \
        if (got_)                                                          \
            CU_ASSERT_STRING_EQUAL(got_, want);                            \
    } while (0)

/* ------------------------------------------------------------------ */
/* A fake host table                                                   */
/* ------------------------------------------------------------------ */

/* Settings: up to 15 key/value pairs; a value "#INT" stands for a setting
 * of the wrong type.  `env` is the fake environment the fake secret()
 * reads, so the real OPENAI_API_KEY of whoever runs the tests is never
 * used. */
typedef struct fake_settings {
    const char *name;
    const char *kv[16][2];
    const char *env[4][2];
} fake_settings;

typedef struct fake_request {
    char   method[16];
    char   url[512];
    int    framing;
    char   hdr[16][2][256];
    int    n_hdr;
    char  *body;
    size_t body_len;
} fake_request;

typedef struct fake_call {
    int  key;
    char id[128];
    char name[128];
    char args[2048];
    int  ends;
} fake_call;

typedef struct fake_sink {
    char      text[8192];
    char      reasoning[8192];
    fake_call calls[8];
    int       n_calls;
    long      in, out;
    int       n_usage, n_finish;
    char      finish[32], raw[32];
    char      model[256];
    void     *slot;
    char      models[8][256];
    int       n_models;
} fake_sink;

/* The fake host's allocator fails once this many more calls succeeded
 * (-1: never), so every allocation failure path of the plugin runs. */
static long g_fail_after = -1;

static void *fake_malloc(size_t n)
{
    if (g_fail_after == 0)
        return NULL;
    if (g_fail_after > 0)
        g_fail_after--;
    return malloc(n);
}

static void *fake_realloc(void *p, size_t n)
{
    if (g_fail_after == 0)
        return NULL;
    if (g_fail_after > 0)
        g_fail_after--;
    return realloc(p, n);
}

static char *fake_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = fake_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Appends at most n bytes of s to buf (size cap), always terminated. */
static void append(char *buf, size_t cap, const char *s, size_t n)
{
    size_t have = strlen(buf);
    if (have + 1 >= cap)
        return;
    if (n > cap - have - 1)
        n = cap - have - 1;
    memcpy(buf + have, s, n);
    buf[have + n] = '\0';
}

static void fake_log(int level, const char *provider, const char *fmt, ...)
{
    (void)level;
    (void)provider;
    (void)fmt;
}

static int fake_setting_string(const ac_settings *s, const char *key,
                               const char **out)
{
    const fake_settings *fs = (const fake_settings *)s;
    for (int i = 0; i < 16 && fs->kv[i][0]; i++) {
        if (strcmp(fs->kv[i][0], key) == 0) {
            if (strcmp(fs->kv[i][1], "#INT") == 0)
                return -1;
            *out = fs->kv[i][1];
            return 1;
        }
    }
    return 0;
}

static int fake_setting_int(const ac_settings *s, const char *k, long long *o)
{
    (void)s; (void)k; (void)o;
    return 0;
}

static int fake_setting_bool(const ac_settings *s, const char *k, int *o)
{
    (void)s; (void)k; (void)o;
    return 0;
}

static int fake_setting_double(const ac_settings *s, const char *k, double *o)
{
    (void)s; (void)k; (void)o;
    return 0;
}

static int fake_list_count(const ac_settings *s, const char *k)
{
    (void)s; (void)k;
    return 0;
}

static const char *fake_list_item(const ac_settings *s, const char *k, int i)
{
    (void)s; (void)k; (void)i;
    return NULL;
}

static const char *fake_settings_name(const ac_settings *s)
{
    return ((const fake_settings *)s)->name;
}

static void fake_error_set(ac_error *err, ac_status code, ac_stage stage,
                           const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->code = code;
    err->stage = stage;
    err->retry_after_ms = -1;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static const char *fake_getenv(const fake_settings *fs, const char *name)
{
    for (int i = 0; i < 4 && fs->env[i][0]; i++)
        if (strcmp(fs->env[i][0], name) == 0)
            return fs->env[i][1];
    return NULL;
}

/* The documented order: api_key, (api_key_file: not faked), api_key_env,
 * then the plugin's default variable. */
/* A copy of a found key; out of memory is an error, never "no key". */
static char *fake_secret_copy(const char *v, ac_error *err)
{
    char *d = fake_strdup(v);
    if (!d)
        fake_error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    return d;
}

static char *fake_secret(const ac_settings *s, const char *default_env,
                         ac_error *err)
{
    const fake_settings *fs = (const fake_settings *)s;
    const char *v;
    if (fake_setting_string(s, "api_key", &v) == 1)
        return fake_secret_copy(v, err);
    if (fake_setting_string(s, "api_key_env", &v) == 1) {
        const char *x = fake_getenv(fs, v);
        if (!x) {
            fake_error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                           "api_key_env: variable %s is not set", v);
            return NULL;
        }
        return fake_secret_copy(x, err);
    }
    if (default_env && (v = fake_getenv(fs, default_env)) != NULL)
        return fake_secret_copy(v, err);
    return NULL;
}

static struct json_object *fake_json_parse(const char *text, size_t len,
                                           const char *what, ac_error *err)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL;
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, text, (int)len);
    if (!o || json_tokener_get_parse_end(tok) != len) {
        json_object_put(o);
        o = NULL;
        fake_error_set(err, AC_EJSON, AC_STAGE_JSON, "%s: invalid JSON",
                       what);
    }
    json_tokener_free(tok);
    return o;
}

static ac_status fake_http_set(ac_http_request *rq, const char *method,
                               const char *url, ac_framing framing)
{
    fake_request *r = (fake_request *)rq;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->url, sizeof r->url, "%s", url);
    r->framing = (int)framing;
    return AC_OK;
}

static ac_status fake_http_header(ac_http_request *rq, const char *name,
                                  const char *value)
{
    fake_request *r = (fake_request *)rq;
    if (r->n_hdr >= 16)
        return AC_ENOMEM;
    snprintf(r->hdr[r->n_hdr][0], sizeof r->hdr[0][0], "%s", name);
    snprintf(r->hdr[r->n_hdr][1], sizeof r->hdr[0][1], "%s", value);
    r->n_hdr++;
    return AC_OK;
}

static ac_status fake_http_body(ac_http_request *rq, const char *body,
                                size_t len)
{
    fake_request *r = (fake_request *)rq;
    free(r->body);
    r->body = malloc(len + 1);
    if (!r->body)
        return AC_ENOMEM;
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->body_len = len;
    return AC_OK;
}

static fake_call *fake_find_call(fake_sink *k, int key)
{
    for (int i = 0; i < k->n_calls; i++)
        if (k->calls[i].key == key)
            return &k->calls[i];
    if (k->n_calls >= 8)
        return NULL;
    fake_call *c = &k->calls[k->n_calls++];
    memset(c, 0, sizeof *c);
    c->key = key;
    return c;
}

static ac_status fake_emit_text(ac_sink *s, const char *p, size_t n)
{
    fake_sink *k = (fake_sink *)s;
    append(k->text, sizeof k->text, p, n);
    return AC_OK;
}

static ac_status fake_emit_reasoning(ac_sink *s, const char *p, size_t n)
{
    fake_sink *k = (fake_sink *)s;
    append(k->reasoning, sizeof k->reasoning, p, n);
    return AC_OK;
}

static ac_status fake_emit_tool_call(ac_sink *s, int key, const char *id,
                                     const char *name, const char *args,
                                     size_t n, int complete)
{
    fake_call *c = fake_find_call((fake_sink *)s, key);
    if (!c)
        return AC_ENOMEM;
    if (id)
        snprintf(c->id, sizeof c->id, "%s", id);
    if (name)
        snprintf(c->name, sizeof c->name, "%s", name);
    if (complete)
        c->args[0] = '\0';
    if (args)
        append(c->args, sizeof c->args, args, n);
    return AC_OK;
}

static ac_status fake_emit_tool_call_end(ac_sink *s, int key)
{
    fake_call *c = fake_find_call((fake_sink *)s, key);
    if (c)
        c->ends++;
    return AC_OK;
}

static ac_status fake_emit_usage(ac_sink *s, long in, long out)
{
    fake_sink *k = (fake_sink *)s;
    if (in >= 0)
        k->in = in;
    if (out >= 0)
        k->out = out;
    k->n_usage++;
    return AC_OK;
}

static ac_status fake_emit_finish(ac_sink *s, const char *norm,
                                  const char *raw)
{
    fake_sink *k = (fake_sink *)s;
    snprintf(k->finish, sizeof k->finish, "%s", norm ? norm : "");
    snprintf(k->raw, sizeof k->raw, "%s", raw ? raw : "");
    k->n_finish++;
    return AC_OK;
}

static ac_status fake_emit_model(ac_sink *s, const char *model)
{
    fake_sink *k = (fake_sink *)s;
    snprintf(k->model, sizeof k->model, "%s", model);
    return AC_OK;
}

static ac_status fake_models_add(ac_model_list *l, const char *id)
{
    fake_sink *k = (fake_sink *)l;
    if (k->n_models >= 8)
        return AC_ENOMEM;
    snprintf(k->models[k->n_models++], sizeof k->models[0], "%s", id);
    return AC_OK;
}

static void **fake_stream_slot(ac_sink *s)
{
    return &((fake_sink *)s)->slot;
}

static const ac_host_api fake_host = {
    .struct_size        = sizeof(ac_host_api),
    .abi_major          = AC_ABI_MAJOR,
    .abi_minor          = AC_ABI_MINOR,
    .log                = fake_log,
    .malloc             = fake_malloc,
    .realloc            = fake_realloc,
    .free               = free,
    .strdup             = fake_strdup,
    .setting_string     = fake_setting_string,
    .setting_int        = fake_setting_int,
    .setting_bool       = fake_setting_bool,
    .setting_double     = fake_setting_double,
    .setting_list_count = fake_list_count,
    .setting_list_item  = fake_list_item,
    .settings_name      = fake_settings_name,
    .secret             = fake_secret,
    .json_parse         = fake_json_parse,
    .error_set          = fake_error_set,
    .http_set           = fake_http_set,
    .http_header        = fake_http_header,
    .http_body          = fake_http_body,
    .emit_text          = fake_emit_text,
    .emit_reasoning     = fake_emit_reasoning,
    .emit_tool_call     = fake_emit_tool_call,
    .emit_tool_call_end = fake_emit_tool_call_end,
    .emit_usage         = fake_emit_usage,
    .emit_finish        = fake_emit_finish,
    .emit_model         = fake_emit_model,
    .models_add         = fake_models_add,
    .stream_slot        = fake_stream_slot,
};

/* ------------------------------------------------------------------ */
/* Suite "plugin": the vtable with the fake host                       */
/* ------------------------------------------------------------------ */

static void *g_dl;
static const ac_provider *g_prov;

static int plugin_suite_init(void)
{
    ac_provider_entry_fn entry;
    void *sym;
    g_dl = dlopen(PLUGIN_SO, RTLD_NOW | RTLD_LOCAL);
    if (!g_dl) {
        fprintf(stderr, "dlopen %s: %s\n", PLUGIN_SO, dlerror());
        return -1;
    }
    sym = dlsym(g_dl, AC_PROVIDER_ENTRY_SYMBOL);
    if (!sym)
        return -1;
    /* POSIX: a function pointer may be copied out of dlsym's void *. */
    memcpy(&entry, &sym, sizeof entry);
    g_prov = entry(&fake_host);
    return g_prov ? 0 : -1;
}

static int plugin_suite_clean(void)
{
    g_prov = NULL;
    if (g_dl)
        dlclose(g_dl);
    g_dl = NULL;
    return 0;
}

static const char *req_header(const fake_request *r, const char *name)
{
    for (int i = 0; i < r->n_hdr; i++)
        if (strcmp(r->hdr[i][0], name) == 0)
            return r->hdr[i][1];
    return NULL;
}

/* Init the plugin with settings; AC_OK expected. */
static void *plugin_init_ok(const fake_settings *fs)
{
    void *st = NULL;
    ac_error err;
    memset(&err, 0, sizeof err);
    ac_status rc = g_prov->init((const ac_settings *)fs, &st, &err);
    if (rc != AC_OK)
        fprintf(stderr, "init: %s\n", err.message);
    CU_ASSERT_EQUAL(rc, AC_OK);
    return st;
}

/* Parse the built body; NULL (and a failed assertion) if it is not JSON. */
static json_object *body_json(const fake_request *r)
{
    json_object *o = r->body ? json_tokener_parse(r->body) : NULL;
    CU_ASSERT_PTR_NOT_NULL(o);
    return o;
}

static json_object *jget(json_object *o, const char *path)
{
    /* path: "a.b.2.c": object members and array indexes */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, ".")) {
        if (json_object_is_type(o, json_type_array)) {
            o = json_object_array_get_idx(o, (size_t)atoi(tok));
        } else if (!json_object_object_get_ex(o, tok, &o)) {
            return NULL;
        }
    }
    return o;
}

static const char *jstr(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v && json_object_is_type(v, json_type_string)
           ? json_object_get_string(v) : NULL;
}

static int jhas(json_object *o, const char *path)
{
    char buf[256];
    const char *dot = strrchr(path, '.');
    json_object *parent = o, *v = NULL;
    if (dot) {
        snprintf(buf, sizeof buf, "%.*s", (int)(dot - path), path);
        parent = jget(o, buf);
    }
    return parent && json_object_object_get_ex(parent, dot ? dot + 1 : path,
                                               &v);
}

/* The JSON text a string holds, compared as JSON. */
static int json_text_equal(const char *a, const char *b)
{
    json_object *x = a ? json_tokener_parse(a) : NULL;
    json_object *y = b ? json_tokener_parse(b) : NULL;
    int eq = x && y && json_object_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return eq;
}

static void test_descriptor(void)
{
    CU_ASSERT_EQUAL(g_prov->abi_major, AC_ABI_MAJOR);
    CU_ASSERT(g_prov->abi_minor <= AC_ABI_MINOR);
    CU_ASSERT(g_prov->struct_size >= offsetof(ac_provider, stream_free));
    ASSERT_STR(g_prov->name, "openai");
    CU_ASSERT_PTR_NOT_NULL(g_prov->version);
    unsigned caps = AC_CAP_STREAMING | AC_CAP_TOOLS | AC_CAP_MODELS |
                    AC_CAP_STRUCTURED;
    CU_ASSERT_EQUAL(g_prov->capabilities & caps, caps);
    CU_ASSERT_EQUAL(g_prov->capabilities & AC_CAP_LOCAL, 0);
    ASSERT_STR(g_prov->default_base_url,
                           "https://api.openai.com/v1");
    CU_ASSERT_PTR_NOT_NULL(g_prov->init);
    CU_ASSERT_PTR_NOT_NULL(g_prov->fini);
    CU_ASSERT_PTR_NOT_NULL(g_prov->build_request);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_response);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_event);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_error);
    CU_ASSERT_PTR_NOT_NULL(g_prov->build_models_request);
    CU_ASSERT_PTR_NOT_NULL(g_prov->parse_models);
    CU_ASSERT_PTR_NOT_NULL(g_prov->stream_free);
    CU_ASSERT_PTR_NULL(g_prov->run_local);
}

static void test_init_needs_key_at_openai(void)
{
    fake_settings fs = { .name = "openai" };
    void *st = NULL;
    ac_error err;
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->init((const ac_settings *)&fs, &st, &err),
                    AC_ECONFIG);
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    ASSERT_STR(err.message, "provider 'openai': no API key: "
                           "set OPENAI_API_KEY or api_key_env");

    /* The same at the default URL spelled with a trailing slash. */
    fake_settings fs2 = { .name = "prod",
        .kv = { { "base_url", "https://api.openai.com/v1/" } } };
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->init((const ac_settings *)&fs2, &st, &err),
                    AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "provider 'prod'"));
}

static void test_init_key_from_default_env(void)
{
    fake_settings fs = { .name = "openai",
        .env = { { "OPENAI_API_KEY", "sk-from-env" } } };
    fake_request rq;
    memset(&rq, 0, sizeof rq);
    void *st = plugin_init_ok(&fs);
    if (!st)
        return;
    CU_ASSERT_EQUAL(g_prov->build_models_request(st, (ac_http_request *)&rq,
                                                 NULL), AC_OK);
    ASSERT_STR(rq.method, "GET");
    ASSERT_STR(rq.url, "https://api.openai.com/v1/models");
    CU_ASSERT_EQUAL(rq.framing, AC_FRAMING_NONE);
    ASSERT_STR(req_header(&rq, "Authorization"), "Bearer sk-from-env");
    free(rq.body);
    g_prov->fini(st);
}

static void test_init_unset_key_env_fails(void)
{
    /* A configured api_key_env whose variable is unset is an error even
     * where no key is needed, naming the variable. */
    fake_settings fs = { .name = "local",
        .kv = { { "base_url", "http://127.0.0.1:8080/v1" },
                { "api_key_env", "AC_TEST_NO_SUCH_VARIABLE" } } };
    void *st = NULL;
    ac_error err;
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->init((const ac_settings *)&fs, &st, &err),
                    AC_ECONFIG);
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "AC_TEST_NO_SUCH_VARIABLE"));
}

static void test_init_wrong_type(void)
{
    fake_settings fs = { .name = "openai",
        .kv = { { "api_key", "sk-test" }, { "base_url", "#INT" } } };
    void *st = NULL;
    ac_error err;
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->init((const ac_settings *)&fs, &st, &err),
                    AC_ECONFIG);
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "base_url"));
}

static void test_init_key_with_newline_refused(void)
{
    fake_settings fs = { .name = "openai",
        .kv = { { "api_key", "sk-te\nst" } } };
    void *st = NULL;
    ac_error err;
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->init((const ac_settings *)&fs, &st, &err),
                    AC_ECONFIG);
    CU_ASSERT_PTR_NULL(strstr(err.message, "sk-te"));
}

/* A local server at another base_url: no key needed, none sent. */
static void test_request_without_key(void)
{
    fake_settings fs = { .name = "local",
        .kv = { { "base_url", "http://127.0.0.1:8080/v1/" },
                { "default_model", "qwen" } } };
    ac_message msgs[] = { { .role = AC_ROLE_USER, .content = "hi" } };
    ac_gen_request req = { .struct_size = sizeof req, .model = "",
                           .messages = msgs, .n_messages = 1 };
    fake_request rq;
    memset(&rq, 0, sizeof rq);
    void *st = plugin_init_ok(&fs);
    if (!st)
        return;
    CU_ASSERT_EQUAL(g_prov->build_request(st, &req, (ac_http_request *)&rq,
                                          NULL), AC_OK);
    ASSERT_STR(rq.method, "POST");
    ASSERT_STR(rq.url, "http://127.0.0.1:8080/v1/chat/completions");
    CU_ASSERT_EQUAL(rq.framing, AC_FRAMING_NONE);
    CU_ASSERT_PTR_NULL(req_header(&rq, "Authorization"));
    CU_ASSERT_PTR_NULL(req_header(&rq, "OpenAI-Organization"));
    CU_ASSERT_PTR_NOT_NULL(req_header(&rq, "Content-Type"));
    json_object *b = body_json(&rq);
    /* The request named no model: the configured default is used. */
    ASSERT_STR(jstr(b, "model"), "qwen");
    ASSERT_STR(jstr(b, "messages.0.role"), "user");
    ASSERT_STR(jstr(b, "messages.0.content"), "hi");
    CU_ASSERT_FALSE(jhas(b, "stream"));
    CU_ASSERT_FALSE(jhas(b, "stream_options"));
    CU_ASSERT_FALSE(jhas(b, "max_completion_tokens"));
    CU_ASSERT_FALSE(jhas(b, "tools"));
    CU_ASSERT_FALSE(jhas(b, "response_format"));
    json_object_put(b);
    free(rq.body);
    g_prov->fini(st);
}

/* Every field of a full streaming request. */
static void test_request_full_body(void)
{
    fake_settings fs = { .name = "openai",
        .kv = { { "api_key", "sk-test" }, { "organization", "org-1" },
                { "project", "proj-2" } } };
    const char *images[] = { "https://example.com/cat.png",
                             "data:image/png;base64,iVBORw0KGgo=" };
    ac_tool_call calls[] = { { "call_1", "get_weather",
                               "{\"city\":\"Paris\"}" } };
    ac_message msgs[] = {
        { .role = AC_ROLE_SYSTEM, .content = "Be terse." },
        { .role = AC_ROLE_USER, .content = "What is this and the weather?",
          .images = images, .n_images = 2 },
        { .role = AC_ROLE_ASSISTANT, .content = NULL, .tool_calls = calls,
          .n_tool_calls = 1 },
        { .role = AC_ROLE_TOOL, .content = "18C", .tool_call_id = "call_1",
          .name = "get_weather" },
        { .role = AC_ROLE_ASSISTANT, .content = "A cat; 18C." },
    };
    const char *stops[] = { "END", "\n\n" };
    ac_tool_def tools[] = {
        { "get_weather", "Weather for a city",
          "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}" },
        { "noop", NULL, "{}" },
    };
    ac_gen_request req = {
        .struct_size = sizeof req, .model = "gpt-4o",
        .messages = msgs, .n_messages = 5, .stream = 1,
        .has_max_tokens = 1, .max_tokens = 100,
        .has_temperature = 1, .temperature = 0.7,
        .has_top_p = 1, .top_p = 0.9,
        .has_seed = 1, .seed = 42,
        .stop = stops, .n_stop = 2,
        .tools = tools, .n_tools = 2,
        .tool_choice = "get_weather",
        .json_schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}",
        .json_schema_name = "Answer",
    };
    fake_request rq;
    memset(&rq, 0, sizeof rq);
    void *st = plugin_init_ok(&fs);
    if (!st)
        return;
    CU_ASSERT_EQUAL(g_prov->build_request(st, &req, (ac_http_request *)&rq,
                                          NULL), AC_OK);
    ASSERT_STR(rq.url, "https://api.openai.com/v1/chat/completions");
    CU_ASSERT_EQUAL(rq.framing, AC_FRAMING_SSE);
    ASSERT_STR(req_header(&rq, "Authorization"), "Bearer sk-test");
    ASSERT_STR(req_header(&rq, "Content-Type"), "application/json");
    ASSERT_STR(req_header(&rq, "OpenAI-Organization"), "org-1");
    ASSERT_STR(req_header(&rq, "OpenAI-Project"), "proj-2");
    /* The key goes in the header only. */
    CU_ASSERT_PTR_NULL(strstr(rq.body ? rq.body : "", "sk-test"));

    json_object *b = body_json(&rq);
    ASSERT_STR(jstr(b, "model"), "gpt-4o");
    CU_ASSERT_EQUAL(json_object_array_length(jget(b, "messages")), 5);
    ASSERT_STR(jstr(b, "messages.0.role"), "system");
    ASSERT_STR(jstr(b, "messages.0.content"), "Be terse.");
    /* user with images: content parts */
    ASSERT_STR(jstr(b, "messages.1.role"), "user");
    ASSERT_STR(jstr(b, "messages.1.content.0.type"), "text");
    ASSERT_STR(jstr(b, "messages.1.content.0.text"),
                           "What is this and the weather?");
    ASSERT_STR(jstr(b, "messages.1.content.1.type"), "image_url");
    ASSERT_STR(jstr(b, "messages.1.content.1.image_url.url"),
                           "https://example.com/cat.png");
    ASSERT_STR(jstr(b, "messages.1.content.2.image_url.url"),
                           "data:image/png;base64,iVBORw0KGgo=");
    /* assistant tool call: content null, arguments a JSON string */
    ASSERT_STR(jstr(b, "messages.2.role"), "assistant");
    CU_ASSERT_TRUE(jhas(b, "messages.2.content"));
    CU_ASSERT_PTR_NULL(jget(b, "messages.2.content"));
    ASSERT_STR(jstr(b, "messages.2.tool_calls.0.id"), "call_1");
    ASSERT_STR(jstr(b, "messages.2.tool_calls.0.type"), "function");
    ASSERT_STR(jstr(b, "messages.2.tool_calls.0.function.name"),
                           "get_weather");
    CU_ASSERT_TRUE(json_text_equal(
        jstr(b, "messages.2.tool_calls.0.function.arguments"),
        "{\"city\":\"Paris\"}"));
    /* tool result */
    ASSERT_STR(jstr(b, "messages.3.role"), "tool");
    ASSERT_STR(jstr(b, "messages.3.tool_call_id"), "call_1");
    ASSERT_STR(jstr(b, "messages.3.content"), "18C");
    ASSERT_STR(jstr(b, "messages.4.content"), "A cat; 18C.");
    CU_ASSERT_FALSE(jhas(b, "messages.4.tool_calls"));
    /* OpenAI: max_completion_tokens, not max_tokens */
    CU_ASSERT_EQUAL(json_object_get_int(jget(b, "max_completion_tokens")), 100);
    CU_ASSERT_FALSE(jhas(b, "max_tokens"));
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(jget(b, "temperature")),
                           0.7, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(jget(b, "top_p")), 0.9,
                           1e-12);
    /* sent as written, not 0.69999999999999996 */
    CU_ASSERT_PTR_NOT_NULL(strstr(rq.body, "\"temperature\":0.7"));
    CU_ASSERT_EQUAL(json_object_get_int64(jget(b, "seed")), 42);
    ASSERT_STR(jstr(b, "stop.0"), "END");
    ASSERT_STR(jstr(b, "stop.1"), "\n\n");
    /* tools */
    ASSERT_STR(jstr(b, "tools.0.type"), "function");
    ASSERT_STR(jstr(b, "tools.0.function.name"), "get_weather");
    ASSERT_STR(jstr(b, "tools.0.function.description"),
                           "Weather for a city");
    ASSERT_STR(jstr(b, "tools.0.function.parameters.properties.city.type"),
                           "string");
    ASSERT_STR(jstr(b, "tools.1.function.name"), "noop");
    CU_ASSERT_FALSE(jhas(b, "tools.1.function.description"));
    CU_ASSERT_TRUE(json_object_is_type(jget(b, "tools.1.function.parameters"),
                                       json_type_object));
    /* a named tool choice is an object */
    ASSERT_STR(jstr(b, "tool_choice.type"), "function");
    ASSERT_STR(jstr(b, "tool_choice.function.name"), "get_weather");
    /* structured output */
    ASSERT_STR(jstr(b, "response_format.type"), "json_schema");
    ASSERT_STR(jstr(b, "response_format.json_schema.name"), "Answer");
    CU_ASSERT_TRUE(json_object_get_boolean(
        jget(b, "response_format.json_schema.strict")));
    ASSERT_STR(jstr(b, "response_format.json_schema.schema.properties.a.type"),
                           "integer");
    /* streaming asks for usage */
    CU_ASSERT_TRUE(json_object_get_boolean(jget(b, "stream")));
    CU_ASSERT_TRUE(json_object_get_boolean(
        jget(b, "stream_options.include_usage")));
    json_object_put(b);
    free(rq.body);
    g_prov->fini(st);
}

static void test_request_tool_choice_words(void)
{
    static const char *const words[] = { "auto", "none", "required" };
    fake_settings fs = { .name = "openai", .kv = { { "api_key", "sk-test" } } };
    ac_message msgs[] = { { .role = AC_ROLE_USER, .content = "x" } };
    ac_tool_def tools[] = { { "f", NULL, "{\"type\":\"object\"}" } };
    void *st = plugin_init_ok(&fs);
    if (!st)
        return;
    for (size_t i = 0; i < 3; i++) {
        ac_gen_request req = { .struct_size = sizeof req, .model = "m",
                               .messages = msgs, .n_messages = 1,
                               .tools = tools, .n_tools = 1,
                               .tool_choice = words[i] };
        fake_request rq;
        memset(&rq, 0, sizeof rq);
        CU_ASSERT_EQUAL(g_prov->build_request(st, &req,
                                              (ac_http_request *)&rq, NULL),
                        AC_OK);
        json_object *b = body_json(&rq);
        ASSERT_STR(jstr(b, "tool_choice"), words[i]);
        json_object_put(b);
        free(rq.body);
    }
    g_prov->fini(st);
}

static void test_request_bad_schema(void)
{
    fake_settings fs = { .name = "openai", .kv = { { "api_key", "sk-test" } } };
    ac_message msgs[] = { { .role = AC_ROLE_USER, .content = "x" } };
    ac_tool_def bad_tool[] = { { "f", NULL, "[1,2]" } };
    void *st = plugin_init_ok(&fs);
    ac_error err;
    if (!st)
        return;
    ac_gen_request req = { .struct_size = sizeof req, .model = "m",
                           .messages = msgs, .n_messages = 1,
                           .tools = bad_tool, .n_tools = 1 };
    fake_request rq;
    memset(&rq, 0, sizeof rq);
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->build_request(st, &req, (ac_http_request *)&rq,
                                          &err), AC_EINVAL);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'f'"));

    ac_gen_request req2 = { .struct_size = sizeof req2, .model = "m",
                            .messages = msgs, .n_messages = 1,
                            .json_schema = "{not json", .json_schema_name = "S" };
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->build_request(st, &req2, (ac_http_request *)&rq,
                                          &err), AC_EINVAL);
    free(rq.body);
    g_prov->fini(st);
}

static void test_models(void)
{
    fake_settings fs = { .name = "openai", .kv = { { "api_key", "sk-test" } } };
    void *st = plugin_init_ok(&fs);
    size_t len;
    ac_error err;
    if (!st)
        return;
    char *body = tu_fixture("llamacpp_models.json", &len);
    fake_sink k;
    memset(&k, 0, sizeof k);
    CU_ASSERT_EQUAL(g_prov->parse_models(st, body, len, (ac_model_list *)&k,
                                         NULL), AC_OK);
    CU_ASSERT_EQUAL(k.n_models, 1);
    ASSERT_STR(k.models[0],
                           "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf");
    free(body);

    /* llama.cpp while loading: meta null; entries without an id skipped */
    static const char loading[] =
        "{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"meta\":null},"
        "{\"object\":\"model\"},null,{\"id\":\"b\",\"owned_by\":\"x\"}]}";
    memset(&k, 0, sizeof k);
    CU_ASSERT_EQUAL(g_prov->parse_models(st, loading, strlen(loading),
                                         (ac_model_list *)&k, NULL), AC_OK);
    CU_ASSERT_EQUAL(k.n_models, 2);
    ASSERT_STR(k.models[0], "a");
    ASSERT_STR(k.models[1], "b");

    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->parse_models(st, "<html>", 6, (ac_model_list *)&k,
                                         &err), AC_EJSON);
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(g_prov->parse_models(st, "{\"object\":\"list\"}", 17,
                                         (ac_model_list *)&k, &err),
                    AC_EPROTOCOL);
    g_prov->fini(st);
}

/* A core-filled HTTP error, refined by the plugin. */
static ac_error http_error(void *st, int status, int retryable,
                           const char *body)
{
    ac_error err;
    memset(&err, 0, sizeof err);
    err.code = AC_EHTTP;
    err.stage = AC_STAGE_HTTP;
    err.http_status = status;
    err.retryable = retryable;
    err.retry_after_ms = retryable ? 1500 : -1;
    snprintf(err.message, sizeof err.message, "HTTP %d", status);
    g_prov->parse_error(st, status, body, strlen(body), &err);
    return err;
}

static void test_parse_error_direct(void)
{
    fake_settings fs = { .name = "openai",
        .kv = { { "api_key", "sk-secret-abcdef123456" } } };
    void *st = plugin_init_ok(&fs);
    if (!st)
        return;
    /* A proxy echoing our key must not put it in the message. */
    ac_error e = http_error(st, 401, 0,
        "{\"error\":{\"message\":\"bad key sk-secret-abcdef123456 given\","
        "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
    CU_ASSERT_PTR_NULL(strstr(e.message, "sk-secret-abcdef123456"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "HTTP 401: bad key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "(invalid_api_key)"));

    /* A rate limit keeps the core's retry advice; a quota drops it. */
    e = http_error(st, 429, 1,
        "{\"error\":{\"message\":\"slow down\",\"type\":\"requests\","
        "\"param\":null,\"code\":\"rate_limit_exceeded\"}}");
    CU_ASSERT_EQUAL(e.code, AC_EHTTP);
    CU_ASSERT_EQUAL(e.stage, AC_STAGE_HTTP);
    CU_ASSERT_EQUAL(e.retryable, 1);
    CU_ASSERT_EQUAL(e.retry_after_ms, 1500);
    e = http_error(st, 429, 1,
        "{\"error\":{\"message\":\"You exceeded your current quota, please "
        "check your plan and billing details.\",\"type\":\"insufficient_quota\","
        "\"param\":null,\"code\":\"insufficient_quota\"}}");
    CU_ASSERT_EQUAL(e.retryable, 0);
    ASSERT_STR(e.message, "HTTP 429: You exceeded your current "
                           "quota, please check your plan and billing "
                           "details. (insufficient_quota)");

    /* An empty body keeps the core's message. */
    e = http_error(st, 503, 1, "");
    ASSERT_STR(e.message, "HTTP 503");

    /* A huge, binary, newline-ridden body gives one short printable line. */
    char big[4096];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)(i % 7 == 0 ? '\n' : (i % 11 == 0 ? '\xff' : 'a'));
    big[sizeof big - 1] = '\0';
    e = http_error(st, 500, 1, big);
    CU_ASSERT_PTR_NULL(strchr(e.message, '\n'));
    CU_ASSERT(strlen(e.message) < 300);
    CU_ASSERT_EQUAL(strncmp(e.message, "HTTP 500: ", 10), 0);
    g_prov->fini(st);
}

/* Malformed events must fail cleanly or be ignored: never crash or leak
 * (run under valgrind). */
static void test_events_malformed(void)
{
    static const char *const events[] = {
        "{not json", "[1,2]", "\"text\"", "null", "", "   ",
        "{\"choices\":\"x\",\"usage\":\"y\",\"model\":5}",
        "{\"choices\":[null,7,{\"index\":\"0\"},{\"index\":0,\"delta\":\"x\"}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":5,"
        "\"tool_calls\":[3,null,{\"index\":-1},{\"index\":99999999999,"
        "\"function\":{\"name\":7,\"arguments\":5}},{\"function\":\"x\"}]},"
        "\"finish_reason\":4}],\"usage\":{\"prompt_tokens\":\"3\"}}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":{\"a\":[1]}}}]}}]}",
        "{\"error\":false,\"choices\":[]}",
        "{\"error\":null}",
        "{\"error\":{}}",
        "{\"error\":[1]}",
        "[DONE]",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"after done\"}}]}",
    };
    static fake_sink k;             /* large: not on the stack */
    const size_t n_events = sizeof events / sizeof events[0];
    fake_settings fs = { .name = "openai", .kv = { { "api_key", "sk-test" } } };
    void *st = plugin_init_ok(&fs);
    if (!st)
        return;
    /* Each event alone in its own response, then all of them in one. */
    for (int pass = 0; pass < 2; pass++) {
        memset(&k, 0, sizeof k);
        for (size_t i = 0; i < n_events; i++) {
            ac_frame f = { .data = events[i], .data_len = strlen(events[i]) };
            ac_error err;
            memset(&err, 0, sizeof err);
            ac_status rc = g_prov->parse_event(st, &f, (ac_sink *)&k, &err);
            CU_ASSERT(rc == AC_OK || rc == AC_EJSON || rc == AC_EPROTOCOL);
            if (rc != AC_OK)
                CU_ASSERT_NOT_EQUAL(err.message[0], '\0');
            if (pass == 0) {
                g_prov->stream_free(st, k.slot);
                memset(&k, 0, sizeof k);
            }
        }
        g_prov->stream_free(st, k.slot);
        /* Nothing after [DONE] counts. */
        if (pass == 1)
            CU_ASSERT_PTR_NULL(strstr(k.text, "after done"));
    }
    /* Bodies too. */
    static const char *const bodies[] = {
        "", "{", "[]", "{\"choices\":[]}", "{\"choices\":[{\"index\":1}]}",
        "{\"choices\":[{\"message\":null,\"finish_reason\":null}]}",
        "{\"choices\":[{\"message\":{\"tool_calls\":[1,{\"function\":null},"
        "{\"function\":{\"name\":\"f\",\"arguments\":[1]}}]}}]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        ac_error err;
        memset(&k, 0, sizeof k);
        memset(&err, 0, sizeof err);
        ac_status rc = g_prov->parse_response(st, 200, bodies[i],
                                              strlen(bodies[i]),
                                              (ac_sink *)&k, &err);
        CU_ASSERT(rc == AC_OK || rc == AC_EJSON || rc == AC_EPROTOCOL);
    }
    g_prov->fini(st);
}

/* One init + request + streamed tool call + fini; the status of the
 * first step that failed. */
static ac_status oom_scenario(void)
{
    static fake_sink k;
    static const char *const events[] = {
        "{\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\","
        "\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"\"}},{\"index\":1,\"id\":\"d\",\"function\":{\"name\":"
        "\"g\",\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\"{}\"}},{\"index\":2,\"id\":\"e\","
        "\"function\":{\"name\":\"h\"}},{\"index\":3,\"id\":\"f\","
        "\"function\":{\"name\":\"i\"}},{\"index\":4,\"id\":\"g\","
        "\"function\":{\"name\":\"j\"}}]},\"finish_reason\":\"tool_calls\"}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
        "[DONE]",
    };
    fake_settings fs = { .name = "openai",
        .kv = { { "api_key", "sk-test" }, { "organization", "o" },
                { "project", "p" }, { "default_model", "m" } } };
    ac_message msgs[] = { { .role = AC_ROLE_USER, .content = "x" } };
    ac_gen_request req = { .struct_size = sizeof req, .model = "",
                           .messages = msgs, .n_messages = 1, .stream = 1 };
    fake_request rq;
    ac_error err;
    void *st = NULL;
    ac_status rc;

    memset(&rq, 0, sizeof rq);
    memset(&k, 0, sizeof k);
    rc = g_prov->init((const ac_settings *)&fs, &st, &err);
    if (rc != AC_OK) {
        CU_ASSERT_PTR_NULL(st);
        return rc;
    }
    rc = g_prov->build_request(st, &req, (ac_http_request *)&rq, &err);
    for (size_t i = 0; rc == AC_OK && i < sizeof events / sizeof events[0];
         i++) {
        ac_frame f = { .data = events[i], .data_len = strlen(events[i]) };
        rc = g_prov->parse_event(st, &f, (ac_sink *)&k, &err);
    }
    g_prov->stream_free(st, k.slot);
    g_prov->fini(st);
    free(rq.body);
    return rc;
}

static void test_allocation_failures(void)
{
    /* Fail the 1st, 2nd, ... allocation until the scenario passes: each
     * must fail cleanly with AC_ENOMEM (valgrind checks for leaks). */
    long n;
    ac_status rc = AC_ENOMEM;
    for (n = 0; n < 200 && rc != AC_OK; n++) {
        g_fail_after = n;
        rc = oom_scenario();
        g_fail_after = -1;
        if (rc != AC_OK && rc != AC_ENOMEM) {
            fprintf(stderr, "\n  allocation %ld failing gave %s\n", n,
                    ac_strerror(rc));
            CU_FAIL("not AC_ENOMEM");
        }
    }
    CU_ASSERT_EQUAL(rc, AC_OK);
    CU_ASSERT(n > 5);               /* the scenario does allocate */
}

/* ------------------------------------------------------------------ */
/* Suite "replay": recorded traffic through the real path               */
/* ------------------------------------------------------------------ */

static ac_core *g_core;
static ac_llm  *g_llm;

static int replay_suite_init(void)
{
    ac_error err;
    ac_options *opts = ac_options_new();
    if (!opts)
        return -1;
    g_core = tu_open_core(NULL);
    if (!g_core || ac_options_set(opts, "api_key", "sk-test") != AC_OK) {
        ac_options_free(opts);
        return -1;
    }
    g_llm = ac_llm_create(g_core, "openai", "gpt-4o", opts, &err);
    ac_options_free(opts);
    if (!g_llm) {
        fprintf(stderr, "ac_llm_create(openai): %s\n", err.message);
        return -1;
    }
    return 0;
}

static int replay_suite_clean(void)
{
    ac_llm_free(g_llm);
    ac_core_close(g_core);
    g_llm = NULL;
    g_core = NULL;
    return 0;
}

typedef struct want_call {
    const char *id, *name, *args;   /* args: JSON, compared as JSON */
} want_call;

typedef struct want {
    ac_status   status;
    const char *content;
    const char *reasoning;          /* NULL: not checked */
    const char *finish, *raw;       /* NULL: not checked */
    long        in, out;
    const char *model;              /* NULL: not checked */
    size_t      n_calls;
    want_call   calls[2];
    /* errors */
    int         http_status;
    int         retryable;
    const char *msg[3];             /* substrings of err.message */
} want;

/* What a callback sees. */
typedef struct seen {
    char   text[8192];
    int    n_text, n_usage, n_finish, n_error;
    int    usage_at, finish_at, n;
} seen;

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    seen *s = user;
    (void)q;
    switch (c->type) {
    case AC_EVENT_TEXT:
        if (c->text)
            append(s->text, sizeof s->text, c->text, c->len);
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

static int check_str(const char *label, size_t piece, const char *what,
                     const char *got, const char *expect)
{
    if (got && expect && strcmp(got, expect) == 0)
        return 1;
    fprintf(stderr, "\n  %s (piece %zu): %s is \"%s\", want \"%s\"\n", label,
            piece, what, got ? got : "(null)", expect ? expect : "(null)");
    return 0;
}

static int check_long(const char *label, size_t piece, const char *what,
                      long got, long expect)
{
    if (got == expect)
        return 1;
    fprintf(stderr, "\n  %s (piece %zu): %s is %ld, want %ld\n", label, piece,
            what, got, expect);
    return 0;
}

static void check_replay(const char *label, const char *bytes, size_t len,
                         ac_framing framing, int http_status, const want *w)
{
    static const size_t pieces[] = { 0, 1, 7 };
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_llm);
    for (size_t p = 0; p < 3; p++) {
        size_t piece = pieces[p];
        ac_callbacks cb = { .version = AC_CALLBACKS_VERSION,
                            .on_event = on_event };
        seen s;
        ac_response *r = NULL;
        ac_error err;
        memset(&s, 0, sizeof s);
        memset(&err, 0, sizeof err);
        ac_status st = replay_bytes(g_llm, framing, http_status, bytes, len,
                                    piece, &cb, &s, &r, &err);
        CU_ASSERT(check_str(label, piece, "status", ac_strerror(st),
                            ac_strerror(w->status)));
        if (st != AC_OK)
            CU_ASSERT_EQUAL(err.code, st);
        CU_ASSERT_PTR_NOT_NULL(r);
        if (r) {
            CU_ASSERT(check_str(label, piece, "content",
                                ac_response_content(r), w->content));
            CU_ASSERT_EQUAL(ac_response_content_len(r), strlen(w->content));
            if (w->reasoning)
                CU_ASSERT(check_str(label, piece, "reasoning",
                                    ac_response_reasoning(r), w->reasoning));
            if (w->finish)
                CU_ASSERT(check_str(label, piece, "finish_reason",
                                    ac_response_finish_reason(r), w->finish));
            if (w->raw)
                CU_ASSERT(check_str(label, piece, "raw_finish_reason",
                                    ac_response_raw_finish_reason(r), w->raw));
            CU_ASSERT(check_long(label, piece, "input_tokens",
                                 ac_response_input_tokens(r), w->in));
            CU_ASSERT(check_long(label, piece, "output_tokens",
                                 ac_response_output_tokens(r), w->out));
            if (w->model)
                CU_ASSERT(check_str(label, piece, "model",
                                    ac_response_model(r), w->model));
            CU_ASSERT(check_long(label, piece, "tool calls",
                                 (long)ac_response_tool_call_count(r),
                                 (long)w->n_calls));
            for (size_t i = 0; i < w->n_calls &&
                               i < ac_response_tool_call_count(r); i++) {
                CU_ASSERT(check_str(label, piece, "tool call id",
                                    ac_response_tool_call_id(r, i),
                                    w->calls[i].id));
                CU_ASSERT(check_str(label, piece, "tool call name",
                                    ac_response_tool_call_name(r, i),
                                    w->calls[i].name));
                const char *args = ac_response_tool_call_arguments(r, i);
                if (!json_text_equal(args, w->calls[i].args)) {
                    fprintf(stderr, "\n  %s (piece %zu): arguments %s, want %s\n",
                            label, piece, args ? args : "(null)",
                            w->calls[i].args);
                    CU_FAIL("tool call arguments");
                }
                CU_ASSERT_EQUAL(ac_response_tool_call_truncated(r, i), 0);
            }
            /* The events add up to the response. */
            CU_ASSERT(check_str(label, piece, "streamed text", s.text,
                                w->content));
        }
        if (w->status == AC_OK) {
            CU_ASSERT(check_long(label, piece, "finish events", s.n_finish, 1));
            CU_ASSERT(check_long(label, piece, "usage events", s.n_usage,
                                 w->in >= 0 || w->out >= 0 ? 1 : 0));
            if (s.n_usage == 1 && s.n_finish == 1)
                CU_ASSERT(s.usage_at < s.finish_at);
            CU_ASSERT_EQUAL(s.n_error, 0);
        } else {
            CU_ASSERT(s.n_error <= 1);
            if (w->http_status >= 0)
                CU_ASSERT(check_long(label, piece, "http_status",
                                     err.http_status, w->http_status));
            if (w->retryable >= 0)
                CU_ASSERT(check_long(label, piece, "retryable", err.retryable,
                                     w->retryable));
            for (size_t m = 0; m < 3 && w->msg[m]; m++) {
                if (!strstr(err.message, w->msg[m])) {
                    fprintf(stderr, "\n  %s (piece %zu): message \"%s\" "
                            "lacks \"%s\"\n", label, piece, err.message,
                            w->msg[m]);
                    CU_FAIL("error message");
                }
            }
            /* Never our key. */
            CU_ASSERT_PTR_NULL(strstr(err.message, "sk-test"));
            CU_ASSERT_PTR_NULL(strchr(err.message, '\n'));
        }
        ac_response_free(r);
    }
}

static void check_fixture(const char *name, ac_framing framing,
                          int http_status, const want *w)
{
    size_t len;
    char *bytes = tu_fixture(name, &len);
    check_replay(name, bytes, len, framing, http_status, w);
    free(bytes);
}

/* A TGI .chunks.json fixture as the SSE body it was on the wire: one
 * `data: <chunk>` event per element, then `data: [DONE]`. */
static char *chunks_to_sse(const char *name, size_t *out_len)
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
        n += (size_t)snprintf(sse + n, cap - n, "data: %s\n\n", chunk);
        CU_ASSERT_FATAL(n < cap);
    }
    n += (size_t)snprintf(sse + n, cap - n, "data: [DONE]\n\n");
    CU_ASSERT_FATAL(n < cap);
    json_object_put(arr);
    *out_len = n;
    return sse;
}

#define GPT4O "gpt-4o-2024-08-06"

/* --- streams --------------------------------------------------------- */

static void test_stream_text(void)
{
    want w = { .status = AC_OK,
        .content = "I'm unable to provide real-time weather updates. To get "
                   "the current weather in San Francisco, I recommend "
                   "checking a reliable weather website or a weather app.",
        .reasoning = "", .finish = "stop", .raw = "stop", .in = 14, .out = 30,
        .model = GPT4O };
    check_fixture("openai_chat_stream_text.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_tool_call(void)
{
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 44, .out = 16, .model = GPT4O,
        .n_calls = 1,
        .calls = { { "call_4XzlGBLtUe9dy3GVNV4jhq7h", "get_weather",
                     "{\"city\":\"New York City\"}" } } };
    check_fixture("openai_chat_stream_tool_call.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_length(void)
{
    want w = { .status = AC_OK, .content = "{\"", .finish = "length",
        .raw = "length", .in = 79, .out = 1, .model = GPT4O };
    check_fixture("openai_chat_stream_length_max_tokens.sse", AC_FRAMING_SSE,
                  200, &w);
}

static void test_stream_n3_first_choice_only(void)
{
    want w = { .status = AC_OK,
        .content = "{\"city\":\"San Francisco\",\"temperature\":65,\"units\":\"f\"}",
        .finish = "stop", .raw = "stop", .in = 79, .out = 42, .model = GPT4O };
    check_fixture("openai_chat_stream_n3_choices.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_refusal(void)
{
    /* The refusal is the text the user reads; flagged as content_filter. */
    want w = { .status = AC_OK,
        .content = "I'm sorry, I can't assist with that request.",
        .finish = "content_filter", .raw = "stop", .in = 79, .out = 11,
        .model = GPT4O };
    check_fixture("openai_chat_stream_refusal.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_hf_router_usage_twice(void)
{
    /* usage 20/4 arrives on the finish chunk and again on choices:[]:
     * the last wins, nothing is added up. */
    want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4,
        .model = "moonshotai/kimi-k2-instruct-0905" };
    check_fixture("hf_router_chat_stream_text.sse", AC_FRAMING_SSE, 200, &w);
}

static void test_stream_tgi_tool_call(void)
{
    /* id "0" and index 0 repeated on every delta, name null after the
     * first: one call.  The snapshot has no finish_reason chunk; [DONE]
     * ends it as tool_calls.  The backend gave no raw reason, so what the
     * core reports as raw is its business: not checked. */
    size_t len;
    char *sse = chunks_to_sse("tgi_chat_stream_tool_call.chunks.json", &len);
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = NULL, .in = -1, .out = -1,
        .model = "meta-llama/Llama-3.1-8B-Instruct", .n_calls = 1,
        .calls = { { "0", "get_current_weather",
                     "{\"location\":\"Brooklyn, NY\",\"format\":\"fahrenheit\"}" } } };
    check_replay("tgi_chat_stream_tool_call", sse, len, AC_FRAMING_SSE, 200,
                 &w);
    free(sse);
}

static void test_stream_tgi_usage(void)
{
    size_t len;
    char *sse = chunks_to_sse("tgi_chat_stream_usage.chunks.json", &len);
    want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
        .raw = "stop", .in = 39, .out = 3,
        .model = "meta-llama/Llama-3.1-8B-Instruct" };
    check_replay("tgi_chat_stream_usage", sse, len, AC_FRAMING_SSE, 200, &w);
    free(sse);
}

static void test_stream_crlf(void)
{
    /* sse-starlette servers end lines with CRLF. */
    size_t len;
    char *lf = tu_fixture("openai_chat_stream_length_max_tokens.sse", &len);
    char *crlf = malloc(2 * len + 1);
    size_t n = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(crlf);
    for (size_t i = 0; i < len; i++) {
        if (lf[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = lf[i];
    }
    want w = { .status = AC_OK, .content = "{\"", .finish = "length",
        .raw = "length", .in = 79, .out = 1, .model = GPT4O };
    check_replay("length stream with CRLF", crlf, n, AC_FRAMING_SSE, 200, &w);
    free(lf);
    free(crlf);
}

static void test_stream_truncated(void)
{
    /* Cut before the finish chunk: an error, with the text so far kept. */
    size_t len;
    char *b = tu_fixture("openai_chat_stream_length_max_tokens.sse", &len);
    char *cut = strstr(b, "\"finish_reason\":\"length\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
    while (cut > b && cut[-1] != '\n')
        cut--;
    want w = { .status = AC_EPROTOCOL, .content = "{\"", .in = -1, .out = -1,
               .http_status = -1, .retryable = -1 };
    check_replay("truncated stream", b, (size_t)(cut - b), AC_FRAMING_SSE,
                 200, &w);
    free(b);
}

static void test_stream_errors_in_200(void)
{
    /* TGI: an error object with http_status_code, then [DONE]. */
    static const char tgi[] =
        "data: {\"id\":\"\",\"object\":\"chat.completion.chunk\",\"model\":\"tgi\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
        "data: {\"error\":{\"message\":\"Input validation error: too long\","
        "\"http_status_code\":422}}\n\n"
        "data: [DONE]\n\n";
    want w1 = { .status = AC_EPROTOCOL, .content = "Hel", .in = -1, .out = -1,
        .http_status = 422, .retryable = 0,
        .msg = { "Input validation error: too long" } };
    check_replay("TGI error in stream", tgi, strlen(tgi), AC_FRAMING_SSE, 200,
                 &w1);

    /* vLLM: integer code. */
    static const char vllm[] =
        "data: {\"error\":{\"message\":\"bad request\",\"type\":"
        "\"BadRequestError\",\"param\":null,\"code\":400}}\n\n"
        "data: [DONE]\n\n";
    want w2 = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = 400, .retryable = 0,
        .msg = { "bad request", "BadRequestError" } };
    check_replay("vLLM error in stream", vllm, strlen(vllm), AC_FRAMING_SSE,
                 200, &w2);

    /* Old llama.cpp: a non-standard "error:" line. */
    static const char llama[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
        "error: {\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}\n\n";
    want w3 = { .status = AC_EPROTOCOL, .content = "Hi", .in = -1, .out = -1,
        .http_status = 500, .retryable = -1, .msg = { "boom" } };
    check_replay("llama.cpp error: line", llama, strlen(llama),
                 AC_FRAMING_SSE, 200, &w3);

    /* mlx-lm / TGI native: a string. */
    static const char str[] = "data: {\"error\":\"model crashed\"}\n\n";
    want w4 = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = -1, .retryable = -1, .msg = { "model crashed" } };
    check_replay("string error in stream", str, strlen(str), AC_FRAMING_SSE,
                 200, &w4);
}

static void test_stream_bad_json(void)
{
    static const char bad[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\n\n";
    want w = { .status = AC_EJSON, .content = "A", .in = -1, .out = -1,
               .http_status = -1, .retryable = -1 };
    check_replay("broken JSON event", bad, strlen(bad), AC_FRAMING_SSE, 200,
                 &w);
}

static void test_sse_edge_cases(void)
{
    /* Framing vectors from openai-python: valid JSON that is not a chunk,
     * so no text and no finish (a truncated stream) -- but never a JSON
     * or framing error, which would mean the event was cut wrong. */
    static const char *const names[] = {
        "sse_edge_cases/escaped_newlines_in_json.sse",
        "sse_edge_cases/multiline_data_with_empty_data_lines.sse",
        "sse_edge_cases/utf8_split_across_reads.sse",
    };
    for (size_t i = 0; i < 3; i++) {
        want w = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
                   .http_status = -1, .retryable = -1 };
        check_fixture(names[i], AC_FRAMING_SSE, 200, &w);
    }
}

/* --- whole bodies ---------------------------------------------------- */

static void test_response_text(void)
{
    want w = { .status = AC_OK,
        .content = "I'm unable to provide real-time weather updates. To get "
                   "the current weather in San Francisco, I recommend "
                   "checking a reliable weather website or app like the "
                   "Weather Channel or a local news station.",
        .reasoning = "", .finish = "stop", .raw = "stop", .in = 14, .out = 37,
        .model = GPT4O };
    check_fixture("openai_chat_response_text.json", AC_FRAMING_NONE, 200, &w);
}

static void test_response_parallel_tool_calls(void)
{
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 149, .out = 60, .model = GPT4O,
        .n_calls = 2,
        .calls = {
            { "call_fdNz3vOBKYgOIpMdWotB9MjY", "GetWeatherArgs",
              "{\"city\":\"Edinburgh\",\"country\":\"GB\",\"units\":\"c\"}" },
            { "call_h1DWI1POMJLb0KwIyQHWXD4p", "get_stock_price",
              "{\"ticker\":\"AAPL\",\"exchange\":\"NASDAQ\"}" } } };
    check_fixture("openai_chat_response_parallel_tool_calls.json",
                  AC_FRAMING_NONE, 200, &w);
}

static void test_response_length(void)
{
    want w = { .status = AC_OK, .content = "{\"", .finish = "length",
        .raw = "length", .in = 79, .out = 1, .model = GPT4O };
    check_fixture("openai_chat_response_length.json", AC_FRAMING_NONE, 200, &w);
}

static void test_response_json_schema(void)
{
    want w = { .status = AC_OK,
        .content = "{\"city\":\"San Francisco\",\"temperature\":65,\"units\":\"f\"}",
        .finish = "stop", .raw = "stop", .in = 79, .out = 14, .model = GPT4O };
    check_fixture("openai_chat_response_json_schema.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_response_refusal(void)
{
    want w = { .status = AC_OK,
        .content = "I'm very sorry, but I can't assist with that.",
        .finish = "content_filter", .raw = "stop", .in = 79, .out = 12,
        .model = GPT4O };
    check_fixture("openai_chat_response_refusal.json", AC_FRAMING_NONE, 200,
                  &w);
}

static void test_response_lmstudio_tool_call(void)
{
    /* No content key at all next to tool_calls. */
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 263, .out = 34,
        .model = "lmstudio-community/qwen2.5-7b-instruct", .n_calls = 1,
        .calls = { { "365174485", "search_products",
                     "{\"query\":\"dell\",\"category\":\"electronics\","
                     "\"max_price\":50}" } } };
    check_fixture("lmstudio_chat_response_tool_call.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_response_llamacpp_reasoning(void)
{
    want w = { .status = AC_OK, .content = "Ol\xc3\xa1!",
        .reasoning = "The user says: \"Say hi in Portuguese\". So answer: "
                     "\"Ol\xc3\xa1\" or \"Oi\". Likely \"Ol\xc3\xa1\". Probably "
                     "a friendly greeting. Just respond with that.",
        .finish = "stop", .raw = "stop", .in = 84, .out = 47,
        .model = "openai/gpt-oss-20b" };
    check_fixture("llamacpp_chat_text.response.json", AC_FRAMING_NONE, 200,
                  &w);
}

static void test_response_hf_router(void)
{
    want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4,
        .model = "moonshotai/kimi-k2-instruct-0905" };
    check_fixture("hf_router_chat_text.response.json", AC_FRAMING_NONE, 200,
                  &w);
}

/* --- errors ---------------------------------------------------------- */

static void test_error_openai_401(void)
{
    /* The server's own masked key is its text; ours never appears. */
    want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Incorrect API key provided: sk-PMafP",
                 "(invalid_api_key)" } };
    check_fixture("openai_error_401_invalid_api_key.json", AC_FRAMING_NONE,
                  401, &w);
}

static void test_error_openai_429(void)
{
    want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 1,
        .msg = { "HTTP 429: Rate limit reached for gpt-4",
                 "(rate_limit_exceeded)" } };
    check_fixture("openai_error_429_rate_limit.json", AC_FRAMING_NONE, 429,
                  &w);
}

static void test_error_llamacpp_401(void)
{
    want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Invalid API Key (authentication_error)" } };
    check_fixture("llamacpp_error_401.json", AC_FRAMING_NONE, 401, &w);
}

static void test_error_shapes(void)
{
    static const char quota[] =
        "{\"error\":{\"message\":\"You exceeded your current quota.\","
        "\"type\":\"insufficient_quota\",\"param\":null,"
        "\"code\":\"insufficient_quota\"}}";
    want w1 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 0,
        .msg = { "You exceeded your current quota.", "insufficient_quota" } };
    check_replay("insufficient_quota", quota, strlen(quota), AC_FRAMING_NONE,
                 429, &w1);

    static const char vllm[] = "{\"error\":\"Unauthorized\"}";
    want w2 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Unauthorized" } };
    check_replay("vLLM 401", vllm, strlen(vllm), AC_FRAMING_NONE, 401, &w2);

    static const char tgi[] =
        "{\"error\":\"Input validation error: `inputs` must have less than "
        "4096 tokens\",\"error_type\":\"validation\"}";
    want w3 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 422, .retryable = 0,
        .msg = { "HTTP 422: Input validation error", "(validation)" } };
    check_replay("TGI 422", tgi, strlen(tgi), AC_FRAMING_NONE, 422, &w3);

    static const char old_vllm[] =
        "{\"object\":\"error\",\"message\":\"The model `x` does not exist.\","
        "\"type\":\"NotFoundError\",\"param\":null,\"code\":404}";
    want w4 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0,
        .msg = { "HTTP 404: The model `x` does not exist." } };
    check_replay("old vLLM 404", old_vllm, strlen(old_vllm), AC_FRAMING_NONE,
                 404, &w4);

    static const char html[] =
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
    want w5 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 502, .retryable = 1,
        .msg = { "HTTP 502: ", "502 Bad Gateway" } };
    check_replay("proxy HTML 502", html, strlen(html), AC_FRAMING_NONE, 502,
                 &w5);
}

static void test_error_in_200_body(void)
{
    static const char body[] =
        "{\"error\":{\"message\":\"Loading model\",\"code\":503,"
        "\"type\":\"unavailable_error\"}}";
    want w = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = 503, .retryable = -1, .msg = { "Loading model" } };
    check_replay("error in a 200 body", body, strlen(body), AC_FRAMING_NONE,
                 200, &w);
}

/* --- out of memory through the real host ------------------------------ */

static void test_replay_allocation_failures(void)
{
    /* The core's allocator (which the host table hands the plugin) fails
     * at each allocation in turn while a tool-call stream is replayed. */
    size_t len;
    char *bytes = tu_fixture("openai_chat_stream_tool_call.sse", &len);
    ac_status st = AC_ENOMEM;
    long n;
    for (n = 0; n < 500 && st != AC_OK; n++) {
        ac_response *r = NULL;
        ac_error err;
        alloc_fail_after(n);
        st = replay_bytes(g_llm, AC_FRAMING_SSE, 200, bytes, len, 7, NULL,
                          NULL, &r, &err);
        alloc_fail_after(-1);
        if (st != AC_OK && st != AC_ENOMEM) {
            fprintf(stderr, "\n  allocation %ld failing gave %s: %s\n", n,
                    ac_strerror(st), err.message);
            CU_FAIL("not AC_ENOMEM");
        }
        ac_response_free(r);
    }
    CU_ASSERT_EQUAL(st, AC_OK);
    free(bytes);
}

/* ------------------------------------------------------------------ */
/* Suite "mock": the public API against the mock server                 */
/* ------------------------------------------------------------------ */

static mock_server *g_mock;
static ac_core     *g_mcore;

static const char mock_script[] =
    "reply = \"Hello from the mock.\";\n"
    "chunks = 5;\n"
    "usage = [12, 5];\n"
    "scenarios = (\n"
    "  { model = \"tools\"; tool_calls = ( { id = \"call_1\"; name = \"get_weather\";\n"
    "      arguments = \"{\\\"city\\\":\\\"Paris\\\"}\"; } ); },\n"
    "  { model = \"tgi\"; quirk = \"tgi\"; tool_calls = ( { name = \"get_weather\";\n"
    "      arguments = \"{\\\"city\\\":\\\"Rome\\\"}\"; } ); },\n"
    "  { model = \"mlx\"; quirk = \"mlx\"; tool_calls = ( { name = \"a\"; arguments = \"{}\"; },\n"
    "      { name = \"b\"; arguments = \"{\\\"x\\\":[1,2]}\"; } ); },\n"
    "  { model = \"lmstudio\"; quirk = \"lmstudio\"; tool_calls = ( { id = \"365174485\";\n"
    "      name = \"search_products\"; arguments = \"{\\\"query\\\":\\\"dell\\\"}\"; } ); },\n"
    "  { model = \"unauthorized\"; status = 401; error_message = \"Invalid API Key\";\n"
    "      error_type = \"authentication_error\"; },\n"
    "  { model = \"midstream\"; stream_error = \"the model crashed\"; }\n"
    ");\n";

static int mock_suite_init(void)
{
    char errbuf[256] = "";
    g_mock = mock_server_start(mock_script, 0, errbuf, sizeof errbuf);
    if (!g_mock) {
        fprintf(stderr, "mock_server_start: %s\n", errbuf);
        return -1;
    }
    g_mcore = tu_open_core(NULL);
    return g_mcore ? 0 : -1;
}

static int mock_suite_clean(void)
{
    ac_core_close(g_mcore);
    mock_server_stop(g_mock);
    g_mcore = NULL;
    g_mock = NULL;
    return 0;
}

/* An llm on the openai plugin pointed at the mock. */
static ac_llm *mock_llm(const char *model)
{
    char url[256];
    ac_error err;
    ac_options *o = ac_options_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    snprintf(url, sizeof url, "%s/v1", mock_server_url(g_mock));
    CU_ASSERT_EQUAL(ac_options_set(o, "base_url", url), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "api_key", "sk-mock-key-123"), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "max_retries", "0"), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "organization", "org-mock"), AC_OK);
    ac_llm *llm = ac_llm_create(g_mcore, "openai", model, o, &err);
    ac_options_free(o);
    if (!llm)
        fprintf(stderr, "\n  ac_llm_create: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    return llm;
}

static json_object *mock_last_body(void)
{
    char *b = mock_server_last_body(g_mock);
    json_object *o = b ? json_tokener_parse(b) : NULL;
    free(b);
    CU_ASSERT_PTR_NOT_NULL(o);
    return o;
}

static void mock_check_header(const char *name, const char *want_value)
{
    char *v = mock_server_last_header(g_mock, name);
    ASSERT_STR(v, want_value);
    free(v);
}

static void test_mock_generate(void)
{
    ac_llm *llm = mock_llm("gpt-4o");
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 64);
    ac_gen_params_set_temperature(p, 0.2);
    ac_gen_params_set_system(p, "Be brief.");
    ac_response *r = ac_generate(llm, "Say hello", p, &err);
    if (!r)
        fprintf(stderr, "\n  ac_generate: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r) {
        ASSERT_STR(ac_response_content(r), "Hello from the mock.");
        ASSERT_STR(ac_response_finish_reason(r), "stop");
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 12);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 5);
        CU_ASSERT_EQUAL(ac_response_tool_call_count(r), 0);
    }
    mock_check_header("Authorization", "Bearer sk-mock-key-123");
    mock_check_header("OpenAI-Organization", "org-mock");
    json_object *b = mock_last_body();
    ASSERT_STR(jstr(b, "model"), "gpt-4o");
    ASSERT_STR(jstr(b, "messages.0.role"), "system");
    ASSERT_STR(jstr(b, "messages.0.content"), "Be brief.");
    ASSERT_STR(jstr(b, "messages.1.role"), "user");
    ASSERT_STR(jstr(b, "messages.1.content"), "Say hello");
    CU_ASSERT_EQUAL(json_object_get_int(jget(b, "max_completion_tokens")), 64);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(jget(b, "temperature")), 0.2,
                           1e-12);
    CU_ASSERT_FALSE(jhas(b, "stream"));
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

/* Read a whole stream; returns the final status. */
static ac_status mock_stream(ac_llm *llm, const ac_gen_params *p, seen *s,
                             ac_response **out, ac_error *err)
{
    const ac_chunk *c;
    ac_status st;
    ac_stream *sm = ac_stream_open(llm, "Say hello", p, err);
    *out = NULL;
    if (!sm)
        return err->code;
    while ((st = ac_stream_next(sm, &c, 10000)) == AC_OK)
        on_event(NULL, c, s);
    /* The stream can end before the request is marked done: wait. */
    CU_ASSERT_EQUAL(ac_request_wait(ac_stream_request(sm), 10000), AC_OK);
    if (st != AC_EOF)
        ac_request_status(ac_stream_request(sm), err);
    *out = ac_request_take_response(ac_stream_request(sm));
    CU_ASSERT_PTR_NOT_NULL(*out);
    ac_stream_close(sm);
    return st == AC_EOF ? AC_OK : st;
}

static void test_mock_stream(void)
{
    ac_llm *llm = mock_llm("gpt-4o");
    ac_response *r;
    ac_error err;
    seen s;
    memset(&s, 0, sizeof s);
    ac_status st = mock_stream(llm, NULL, &s, &r, &err);
    CU_ASSERT_EQUAL(st, AC_OK);
    if (st != AC_OK)
        fprintf(stderr, "\n  stream: %s\n", err.message);
    ASSERT_STR(s.text, "Hello from the mock.");
    CU_ASSERT(s.n_text > 1);        /* it really streamed */
    CU_ASSERT_EQUAL(s.n_usage, 1);
    CU_ASSERT_EQUAL(s.n_finish, 1);
    if (r) {
        ASSERT_STR(ac_response_content(r), "Hello from the mock.");
        CU_ASSERT_EQUAL(ac_response_input_tokens(r), 12);
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), 5);
    }
    json_object *b = mock_last_body();
    CU_ASSERT_TRUE(json_object_get_boolean(jget(b, "stream")));
    CU_ASSERT_TRUE(json_object_get_boolean(
        jget(b, "stream_options.include_usage")));
    json_object_put(b);
    mock_check_header("Accept", "text/event-stream");
    ac_response_free(r);
    ac_llm_free(llm);
}

/* A tool-call reply from `model`, streamed or not. */
static void mock_tool_case(const char *model, int stream, size_t n_calls,
                           const want_call *calls)
{
    ac_llm *llm = mock_llm(model);
    ac_gen_params *p = ac_gen_params_new();
    ac_response *r = NULL;
    ac_error err;
    seen s;
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "get_weather", "Weather",
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}"),
        AC_OK);
    memset(&s, 0, sizeof s);
    if (stream) {
        CU_ASSERT_EQUAL(mock_stream(llm, p, &s, &r, &err), AC_OK);
    } else {
        r = ac_generate(llm, "Weather?", p, &err);
        if (!r)
            fprintf(stderr, "\n  %s: %s\n", model, err.message);
    }
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r) {
        ASSERT_STR(ac_response_finish_reason(r), "tool_calls");
        CU_ASSERT(check_long(model, (size_t)stream, "tool calls",
                             (long)ac_response_tool_call_count(r),
                             (long)n_calls));
        for (size_t i = 0; i < n_calls && i < ac_response_tool_call_count(r);
             i++) {
            if (calls[i].id)
                ASSERT_STR(ac_response_tool_call_id(r, i), calls[i].id);
            ASSERT_STR(ac_response_tool_call_name(r, i), calls[i].name);
            CU_ASSERT_TRUE(json_text_equal(ac_response_tool_call_arguments(r, i),
                                           calls[i].args));
        }
    }
    json_object *b = mock_last_body();
    ASSERT_STR(jstr(b, "tools.0.function.name"), "get_weather");
    json_object_put(b);
    ac_response_free(r);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_tool_calls(void)
{
    const want_call paris[] = { { "call_1", "get_weather",
                                  "{\"city\":\"Paris\"}" } };
    const want_call rome[] = { { NULL, "get_weather", "{\"city\":\"Rome\"}" } };
    const want_call two[] = { { NULL, "a", "{}" },
                              { NULL, "b", "{\"x\":[1,2]}" } };
    const want_call dell[] = { { "365174485", "search_products",
                                 "{\"query\":\"dell\"}" } };
    for (int stream = 0; stream < 2; stream++) {
        mock_tool_case("tools", stream, 1, paris);
        mock_tool_case("tgi", stream, 1, rome);
        mock_tool_case("mlx", stream, 2, two);
        mock_tool_case("lmstudio", stream, 1, dell);
    }
}

static void test_mock_errors(void)
{
    ac_llm *llm = mock_llm("unauthorized");
    ac_error err;
    memset(&err, 0, sizeof err);
    ac_response *r = ac_generate(llm, "x", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 401);
    CU_ASSERT_EQUAL(err.retryable, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Invalid API Key"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "sk-mock-key-123"));
    ac_response_free(r);
    ac_llm_free(llm);

    /* An error inside a 200 stream: the text before it is kept. */
    llm = mock_llm("midstream");
    seen s;
    memset(&s, 0, sizeof s);
    memset(&err, 0, sizeof err);
    ac_status st = mock_stream(llm, NULL, &s, &r, &err);
    CU_ASSERT_EQUAL(st, AC_EPROTOCOL);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "the model crashed"));
    CU_ASSERT_EQUAL(s.n_error, 1);
    if (r)
        ASSERT_STR(ac_response_content(r), s.text);
    ac_response_free(r);
    ac_llm_free(llm);
}

static void test_mock_models(void)
{
    ac_llm *llm = mock_llm("gpt-4o");
    ac_error err;
    ac_models *m = ac_list_models(llm, &err);
    CU_ASSERT_PTR_NOT_NULL(m);
    if (!m)
        fprintf(stderr, "\n  ac_list_models: %s\n", err.message);
    int found = 0;
    for (size_t i = 0; m && i < ac_models_count(m); i++)
        if (strcmp(ac_models_id(m, i), "tools") == 0)
            found = 1;
    CU_ASSERT_TRUE(found);
    mock_check_header("Authorization", "Bearer sk-mock-key-123");
    ac_models_free(m);
    ac_llm_free(llm);
}

/* ------------------------------------------------------------------ */

typedef struct test_def {
    const char *name;
    CU_TestFunc fn;
} test_def;

static const test_def plugin_tests[] = {
    { "descriptor", test_descriptor },
    { "init needs a key at api.openai.com", test_init_needs_key_at_openai },
    { "init reads OPENAI_API_KEY", test_init_key_from_default_env },
    { "init fails on an unset api_key_env", test_init_unset_key_env_fails },
    { "init refuses a setting of the wrong type", test_init_wrong_type },
    { "init refuses a key with a newline", test_init_key_with_newline_refused },
    { "request without a key", test_request_without_key },
    { "request body, every field", test_request_full_body },
    { "tool_choice words", test_request_tool_choice_words },
    { "bad tool or JSON schema", test_request_bad_schema },
    { "models", test_models },
    { "parse_error direct", test_parse_error_direct },
    { "malformed events and bodies", test_events_malformed },
    { "allocation failures", test_allocation_failures },
};

static const test_def mock_tests[] = {
    { "generate", test_mock_generate },
    { "stream", test_mock_stream },
    { "tool calls (openai, tgi, mlx, lmstudio)", test_mock_tool_calls },
    { "errors", test_mock_errors },
    { "models", test_mock_models },
};

static const test_def replay_tests[] = {
    { "stream: text", test_stream_text },
    { "stream: tool call", test_stream_tool_call },
    { "stream: length", test_stream_length },
    { "stream: n=3 keeps choice 0", test_stream_n3_first_choice_only },
    { "stream: refusal", test_stream_refusal },
    { "stream: HF router usage twice", test_stream_hf_router_usage_twice },
    { "stream: TGI tool call", test_stream_tgi_tool_call },
    { "stream: TGI usage", test_stream_tgi_usage },
    { "stream: CRLF", test_stream_crlf },
    { "stream: truncated", test_stream_truncated },
    { "stream: errors inside a 200 stream", test_stream_errors_in_200 },
    { "stream: broken JSON", test_stream_bad_json },
    { "stream: SSE edge cases", test_sse_edge_cases },
    { "body: text", test_response_text },
    { "body: parallel tool calls", test_response_parallel_tool_calls },
    { "body: length", test_response_length },
    { "body: json schema", test_response_json_schema },
    { "body: refusal", test_response_refusal },
    { "body: LM Studio tool call", test_response_lmstudio_tool_call },
    { "body: llama.cpp reasoning", test_response_llamacpp_reasoning },
    { "body: HF router", test_response_hf_router },
    { "error: OpenAI 401", test_error_openai_401 },
    { "error: OpenAI 429", test_error_openai_429 },
    { "error: llama.cpp 401", test_error_llamacpp_401 },
    { "error: other shapes", test_error_shapes },
    { "error: in a 200 body", test_error_in_200_body },
    { "allocation failures", test_replay_allocation_failures },
};

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    /* Order matters: see the top of the file. */
    CU_pSuite s1 = CU_add_suite("plugin", plugin_suite_init,
                                plugin_suite_clean);
    CU_pSuite s2 = CU_add_suite("replay", replay_suite_init,
                                replay_suite_clean);
    CU_pSuite s3 = CU_add_suite("mock", mock_suite_init, mock_suite_clean);
    if (!s1 || !s2 || !s3)
        return 2;
    for (size_t i = 0; i < sizeof mock_tests / sizeof mock_tests[0]; i++)
        if (!CU_add_test(s3, mock_tests[i].name, mock_tests[i].fn))
            return 2;
    for (size_t i = 0; i < sizeof plugin_tests / sizeof plugin_tests[0]; i++)
        if (!CU_add_test(s1, plugin_tests[i].name, plugin_tests[i].fn))
            return 2;
    for (size_t i = 0; i < sizeof replay_tests / sizeof replay_tests[0]; i++)
        if (!CU_add_test(s2, replay_tests[i].name, replay_tests[i].fn))
            return 2;
    return tu_run_suites();
}
