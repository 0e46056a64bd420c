/*
 * test_compat_plugins.c -- CUnit suites for the three OpenAI-compatible
 * plugins built on the shared codec: `lmstudio` (LM Studio), `huggingface`
 * (the HF Inference router and TGI) and `mlx` (mlx_lm.server).
 *
 * Suite "descriptor" loads each plugins/<name>/.libs/<name>.so itself and
 * drives it with a small fake host table, to see what cannot be seen
 * without the real server: the descriptor, the default base URL each
 * request goes to, the key variable each plugin asks for.  It runs first
 * and unloads the plugins, so the core later loads them with its host.
 *
 * Suite "replay" feeds the recorded traffic in tests/fixtures through the
 * real path (core, framer, plugin, accumulator) with replay_bytes(), whole
 * and in pieces of 1 and 7 bytes: lmstudio_* through lmstudio, hf_router_*
 * and tgi_* through huggingface, and llamacpp_* (local OpenAI-compatible
 * servers; nothing was recorded from mlx_lm.server) through lmstudio and
 * mlx, plus error bodies and streams in the shapes PROTOCOLS.md section 1
 * and mlx_lm/server.py give.  Expected values were written from reading
 * the fixtures.
 *
 * Suite "mock" runs the public API end to end against the mock LLM server
 * on 127.0.0.1 with its lmstudio / tgi / mlx quirks and scripted errors,
 * and serves recorded HF router bytes as they were: what each plugin
 * sends (model, token field, Authorization from which variable) and what
 * a caller gets back, streamed and not, and the model lists.
 *
 * The variables the plugins read (HF_TOKEN, LM_API_TOKEN) are cleared at
 * start, so whoever runs the tests never has a real token used or sent.
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

#define PLUGIN_SO(name) TEST_BUILDDIR "/plugins/" name "/.libs/" name ".so"

/* An API key no fixture contains, to check it never reaches a message. */
#define HF_TEST_KEY "hf_testkey_0123456789abcdef"

/* CU_ASSERT_STRING_EQUAL crashes on NULL; this fails the test instead. */
#define ASSERT_STR(got, want)                                              \
    do {                                                                   \
        const char *got_ = (got);                                          \
        CU_ASSERT_PTR_NOT_NULL(got_);                                      \
        if (got_)                                                          \
            CU_ASSERT_STRING_EQUAL(got_, want);                            \
    } while (0)

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */
/* ------------------------------------------------------------------ */

/* path "a.b.0.c": object members and array indexes. */
static json_object *jget(json_object *o, const char *path)
{
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

/* 1 if the top-level member exists (even as null). */
static int jhas(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v);
}

/* Two JSON texts compared as JSON. */
static int json_text_equal(const char *a, const char *b)
{
    json_object *x = a ? json_tokener_parse(a) : NULL;
    json_object *y = b ? json_tokener_parse(b) : NULL;
    int eq = x && y && json_object_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return eq;
}

/* ------------------------------------------------------------------ */
/* A fake host table (suite "descriptor")                              */
/* ------------------------------------------------------------------ */

/* Settings of up to 7 string pairs.  secret() reads api_key, else the
 * variable the plugin names, from `env` (never the real environment). */
typedef struct fake_settings {
    const char *name;
    const char *kv[8][2];
    const char *env[4][2];
} fake_settings;

typedef struct fake_request {
    char   method[16];
    char   url[512];
    int    framing;
    char   hdr[16][2][256];
    int    n_hdr;
    char  *body;
} fake_request;

/* What the plugin asked secret() for: its default key variable. */
static char g_default_env[64];
static int  g_secret_calls;

static void fake_log(int level, const char *provider, const char *fmt, ...)
{
    (void)level;
    (void)provider;
    (void)fmt;
}

static char *fake_strdup(const char *s)
{
    size_t n = s ? strlen(s) + 1 : 0;
    char *d = s ? malloc(n) : NULL;
    if (d)
        memcpy(d, s, n);
    return d;
}

static int fake_setting_string(const ac_settings *s, const char *key,
                               const char **out)
{
    const fake_settings *fs = (const fake_settings *)s;
    for (int i = 0; i < 8 && fs->kv[i][0]; i++) {
        if (strcmp(fs->kv[i][0], key) == 0) {
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

static char *fake_secret(const ac_settings *s, const char *default_env,
                         ac_error *err)
{
    const fake_settings *fs = (const fake_settings *)s;
    const char *v;
    (void)err;
    g_secret_calls++;
    snprintf(g_default_env, sizeof g_default_env, "%s",
             default_env ? default_env : "");
    if (fake_setting_string(s, "api_key", &v) == 1)
        return fake_strdup(v);
    for (int i = 0; default_env && i < 4 && fs->env[i][0]; i++)
        if (strcmp(fs->env[i][0], default_env) == 0)
            return fake_strdup(fs->env[i][1]);
    return NULL;
}

static struct json_object *fake_json_parse(const char *text, size_t len,
                                           const char *what, ac_error *err)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL;
    if (!tok)
        return NULL;
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
    return AC_OK;
}

/* The codec refuses a host without the emits; these suites never parse
 * through the fake host, so they only need to exist. */
static ac_status fake_emit_str(ac_sink *s, const char *p, size_t n)
{
    (void)s; (void)p; (void)n;
    return AC_OK;
}

static ac_status fake_emit_tool_call(ac_sink *s, int key, const char *id,
                                     const char *name, const char *args,
                                     size_t n, int complete)
{
    (void)s; (void)key; (void)id; (void)name; (void)args; (void)n;
    (void)complete;
    return AC_OK;
}

static ac_status fake_emit_tool_call_end(ac_sink *s, int key)
{
    (void)s; (void)key;
    return AC_OK;
}

static ac_status fake_emit_usage(ac_sink *s, long in, long out)
{
    (void)s; (void)in; (void)out;
    return AC_OK;
}

static ac_status fake_emit_finish(ac_sink *s, const char *n, const char *r)
{
    (void)s; (void)n; (void)r;
    return AC_OK;
}

static ac_status fake_emit_model(ac_sink *s, const char *model)
{
    (void)s; (void)model;
    return AC_OK;
}

static ac_status fake_models_add(ac_model_list *l, const char *id)
{
    (void)l; (void)id;
    return AC_OK;
}

static const ac_host_api fake_host = {
    .struct_size        = sizeof(ac_host_api),
    .abi_major          = AC_ABI_MAJOR,
    .abi_minor          = AC_ABI_MINOR,
    .log                = fake_log,
    .malloc             = malloc,
    .realloc            = realloc,
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
    .emit_text          = fake_emit_str,
    .emit_reasoning     = fake_emit_str,
    .emit_tool_call     = fake_emit_tool_call,
    .emit_tool_call_end = fake_emit_tool_call_end,
    .emit_usage         = fake_emit_usage,
    .emit_finish        = fake_emit_finish,
    .emit_model         = fake_emit_model,
    .models_add         = fake_models_add,
};

static const char *req_header(const fake_request *r, const char *name)
{
    for (int i = 0; i < r->n_hdr; i++)
        if (strcmp(r->hdr[i][0], name) == 0)
            return r->hdr[i][1];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Suite "descriptor"                                                  */
/* ------------------------------------------------------------------ */

/* What one plugin must declare. */
typedef struct plugin_expect {
    const char *name;
    unsigned    caps;               /* exactly these AC_CAP_* */
    const char *base_url;
    const char *default_model;      /* NULL: none */
    const char *key_env;            /* "" : the plugin names none */
} plugin_expect;

static const plugin_expect g_expect[] = {
    { "lmstudio", AC_CAP_STREAMING | AC_CAP_TOOLS | AC_CAP_MODELS |
                  AC_CAP_STRUCTURED,
      "http://localhost:1234/v1", "local-model", "LM_API_TOKEN" },
    { "huggingface", AC_CAP_STREAMING | AC_CAP_TOOLS | AC_CAP_MODELS |
                     AC_CAP_STRUCTURED,
      "https://router.huggingface.co/v1", "openai/gpt-oss-20b", "HF_TOKEN" },
    { "mlx", AC_CAP_STREAMING | AC_CAP_TOOLS | AC_CAP_MODELS,
      "http://localhost:8080/v1", NULL, "" },
};

static const ac_provider *load_plugin(const char *path, void **dl)
{
    ac_provider_entry_fn entry;
    void *sym;
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl) {
        fprintf(stderr, "\n  dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    sym = dlsym(*dl, AC_PROVIDER_ENTRY_SYMBOL);
    if (!sym)
        return NULL;
    /* POSIX: a function pointer may be copied out of dlsym's void *. */
    memcpy(&entry, &sym, sizeof entry);
    return entry(&fake_host);
}

/* A one-message request, with a token limit. */
static ac_gen_request one_message(const ac_message *m, int stream)
{
    ac_gen_request req;
    memset(&req, 0, sizeof req);
    req.struct_size = sizeof req;
    req.model = "";
    req.messages = m;
    req.n_messages = 1;
    req.stream = stream;
    req.has_max_tokens = 1;
    req.max_tokens = 64;
    return req;
}

static void check_descriptor(const plugin_expect *x, const char *path)
{
    void *dl = NULL;
    const ac_provider *p = load_plugin(path, &dl);
    CU_ASSERT_PTR_NOT_NULL(p);
    if (!p) {
        if (dl)
            dlclose(dl);
        return;
    }
    ASSERT_STR(p->name, x->name);
    CU_ASSERT_EQUAL(p->abi_major, AC_ABI_MAJOR);
    CU_ASSERT(p->abi_minor <= AC_ABI_MINOR);
    CU_ASSERT(p->struct_size >= offsetof(ac_provider, stream_free) +
                                sizeof p->stream_free);
    CU_ASSERT_PTR_NOT_NULL(p->version);
    CU_ASSERT_EQUAL(p->capabilities, x->caps);   /* never AC_CAP_LOCAL */
    ASSERT_STR(p->default_base_url, x->base_url);
    if (x->default_model)
        ASSERT_STR(p->default_model, x->default_model);
    else
        CU_ASSERT_PTR_NULL(p->default_model);
    CU_ASSERT_PTR_NULL(p->run_local);
    CU_ASSERT(p->init && p->fini && p->build_request && p->parse_response &&
              p->parse_event && p->parse_error && p->build_models_request &&
              p->parse_models && p->stream_free);

    /* No settings at all (plus a key where the default URL needs one):
     * requests go to the default URL, with max_tokens, and only a
     * configured key is sent. */
    fake_settings fs = { .name = x->name };
    if (strcmp(x->name, "huggingface") == 0) {
        fs.env[0][0] = "HF_TOKEN";
        fs.env[0][1] = HF_TEST_KEY;
    }
    void *st = NULL;
    ac_error err;
    memset(&err, 0, sizeof err);
    g_secret_calls = 0;
    ac_status rc = p->init((const ac_settings *)&fs, &st, &err);
    CU_ASSERT_EQUAL(rc, AC_OK);
    if (rc != AC_OK) {
        fprintf(stderr, "\n  %s init: %s\n", x->name, err.message);
        dlclose(dl);
        return;
    }
    CU_ASSERT_EQUAL(g_secret_calls, 1);
    ASSERT_STR(g_default_env, x->key_env);

    ac_message m = { .role = AC_ROLE_USER, .content = "hi" };
    ac_gen_request req = one_message(&m, 1);
    fake_request rq;
    memset(&rq, 0, sizeof rq);
    rc = p->build_request(st, &req, (ac_http_request *)&rq, &err);
    CU_ASSERT_EQUAL(rc, AC_OK);
    char want[256];
    snprintf(want, sizeof want, "%s/chat/completions", x->base_url);
    ASSERT_STR(rq.method, "POST");
    ASSERT_STR(rq.url, want);
    CU_ASSERT_EQUAL(rq.framing, AC_FRAMING_SSE);
    if (strcmp(x->name, "huggingface") == 0)
        ASSERT_STR(req_header(&rq, "Authorization"), "Bearer " HF_TEST_KEY);
    else
        CU_ASSERT_PTR_NULL(req_header(&rq, "Authorization"));
    json_object *b = rq.body ? json_tokener_parse(rq.body) : NULL;
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_EQUAL(json_object_get_int(jget(b, "max_tokens")), 64);
    CU_ASSERT_FALSE(jhas(b, "max_completion_tokens"));
    /* Streams ask for usage in the last chunk (mlx-lm and TGI send it
     * only then). */
    CU_ASSERT_TRUE(json_object_get_boolean(
        jget(b, "stream_options.include_usage")));
    json_object_put(b);
    free(rq.body);

    memset(&rq, 0, sizeof rq);
    rc = p->build_models_request(st, (ac_http_request *)&rq, &err);
    CU_ASSERT_EQUAL(rc, AC_OK);
    snprintf(want, sizeof want, "%s/models", x->base_url);
    ASSERT_STR(rq.method, "GET");
    ASSERT_STR(rq.url, want);
    free(rq.body);
    p->fini(st);
    dlclose(dl);
}

static void test_descriptor_lmstudio(void)
{
    check_descriptor(&g_expect[0], PLUGIN_SO("lmstudio"));
}

static void test_descriptor_huggingface(void)
{
    check_descriptor(&g_expect[1], PLUGIN_SO("huggingface"));
}

static void test_descriptor_mlx(void)
{
    check_descriptor(&g_expect[2], PLUGIN_SO("mlx"));
}

/* ------------------------------------------------------------------ */
/* Suite "replay": recorded bytes through the core                     */
/* ------------------------------------------------------------------ */

static ac_core *g_core;
static ac_llm  *g_lms, *g_hf, *g_mlx;

static ac_llm *replay_llm(const char *plugin, const char *key)
{
    ac_error err;
    ac_options *o = NULL;
    if (key) {
        o = ac_options_new();
        if (!o || ac_options_set(o, "api_key", key) != AC_OK) {
            ac_options_free(o);
            return NULL;
        }
    }
    ac_llm *llm = ac_llm_create(g_core, plugin, NULL, o, &err);
    ac_options_free(o);
    if (!llm)
        fprintf(stderr, "ac_llm_create(%s): %s\n", plugin, err.message);
    return llm;
}

static int replay_suite_init(void)
{
    g_core = tu_open_core(NULL);
    g_lms = replay_llm("lmstudio", NULL);
    /* The router's URL needs a token. */
    g_hf = replay_llm("huggingface", HF_TEST_KEY);
    g_mlx = replay_llm("mlx", NULL);
    return g_lms && g_hf && g_mlx ? 0 : -1;
}

static int replay_suite_clean(void)
{
    ac_llm_free(g_lms);
    ac_llm_free(g_hf);
    ac_llm_free(g_mlx);
    ac_core_close(g_core);
    g_lms = g_hf = g_mlx = NULL;
    g_core = NULL;
    return 0;
}

typedef struct want_call {
    const char *id, *name, *args;   /* id NULL: not checked; args as JSON */
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
    int         http_status;        /* -1: not checked */
    int         retryable;          /* -1: not checked */
    const char *msg[3];             /* substrings of err.message */
} want;

/* What a callback (or a stream reader) sees. */
typedef struct seen {
    char   text[8192];
    int    n_text, n_usage, n_finish, n_error;
    int    usage_at, finish_at, n;
} seen;

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

/* The calls of a response against the expected ones. */
static void check_calls(const char *label, size_t piece, const ac_response *r,
                        const want *w)
{
    CU_ASSERT(check_long(label, piece, "tool calls",
                         (long)ac_response_tool_call_count(r),
                         (long)w->n_calls));
    for (size_t i = 0; i < w->n_calls && i < ac_response_tool_call_count(r);
         i++) {
        if (w->calls[i].id)
            CU_ASSERT(check_str(label, piece, "tool call id",
                                ac_response_tool_call_id(r, i),
                                w->calls[i].id));
        CU_ASSERT(check_str(label, piece, "tool call name",
                            ac_response_tool_call_name(r, i),
                            w->calls[i].name));
        const char *args = ac_response_tool_call_arguments(r, i);
        if (!json_text_equal(args, w->calls[i].args)) {
            fprintf(stderr, "\n  %s (piece %zu): arguments %s, want %s\n",
                    label, piece, args ? args : "(null)", w->calls[i].args);
            CU_FAIL("tool call arguments");
        }
        CU_ASSERT_EQUAL(ac_response_tool_call_truncated(r, i), 0);
    }
}

/* The response fields a caller reads. */
static void check_response(const char *label, size_t piece,
                           const ac_response *r, const want *w)
{
    CU_ASSERT(check_str(label, piece, "content", ac_response_content(r),
                        w->content));
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
        CU_ASSERT(check_str(label, piece, "model", ac_response_model(r),
                            w->model));
    check_calls(label, piece, r, w);
}

/* An error against the expected one; never our key, always one line. */
static void check_error(const char *label, size_t piece, const ac_error *err,
                        const want *w)
{
    if (w->http_status >= 0)
        CU_ASSERT(check_long(label, piece, "http_status", err->http_status,
                             w->http_status));
    if (w->retryable >= 0)
        CU_ASSERT(check_long(label, piece, "retryable", err->retryable,
                             w->retryable));
    for (size_t m = 0; m < 3 && w->msg[m]; m++) {
        if (!strstr(err->message, w->msg[m])) {
            fprintf(stderr, "\n  %s (piece %zu): message \"%s\" lacks \"%s\"\n",
                    label, piece, err->message, w->msg[m]);
            CU_FAIL("error message");
        }
    }
    CU_ASSERT_PTR_NULL(strstr(err->message, HF_TEST_KEY));
    CU_ASSERT_PTR_NULL(strchr(err->message, '\n'));
}

static void check_replay(ac_llm *llm, const char *label, const char *bytes,
                         size_t len, ac_framing framing, int http_status,
                         const want *w)
{
    static const size_t pieces[] = { 0, 1, 7 };
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    for (size_t p = 0; p < 3; p++) {
        size_t piece = pieces[p];
        ac_callbacks cb = { .version = AC_CALLBACKS_VERSION,
                            .on_event = on_event };
        seen s;
        ac_response *r = NULL;
        ac_error err;
        memset(&s, 0, sizeof s);
        memset(&err, 0, sizeof err);
        ac_status st = replay_bytes(llm, framing, http_status, bytes, len,
                                    piece, &cb, &s, &r, &err);
        CU_ASSERT(check_str(label, piece, "status", ac_strerror(st),
                            ac_strerror(w->status)));
        CU_ASSERT_PTR_NOT_NULL(r);
        if (r) {
            check_response(label, piece, r, w);
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
            CU_ASSERT_EQUAL(err.code, st);
            CU_ASSERT(s.n_error <= 1);
            check_error(label, piece, &err, w);
        }
        ac_response_free(r);
    }
}

static void check_fixture(ac_llm *llm, const char *name, ac_framing framing,
                          int http_status, const want *w)
{
    size_t len;
    char *bytes = tu_fixture(name, &len);
    check_replay(llm, name, bytes, len, framing, http_status, w);
    free(bytes);
}

/* A TGI .chunks.json fixture as the SSE body it was on the wire: one
 * `data: <chunk>` event per element, then `data: [DONE]`.  With
 * keepalive, a ":" comment (TGI's axum keep-alive) goes before each event:
 * the snapshot kept only the chunks, the server also sends those. */
static char *chunks_to_sse(const char *name, int keepalive, size_t *out_len)
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

#define TGI_MODEL "meta-llama/Llama-3.1-8B-Instruct"
#define KIMI      "moonshotai/kimi-k2-instruct-0905"

/* --- lmstudio -------------------------------------------------------- */

static void test_lmstudio_tool_call_body(void)
{
    /* No "content" key at all beside tool_calls: an empty reply, one
     * whole call with LM Studio's numeric-string id. */
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .raw = "tool_calls", .in = 263, .out = 34,
        .model = "lmstudio-community/qwen2.5-7b-instruct", .n_calls = 1,
        .calls = { { "365174485", "search_products",
                     "{\"query\":\"dell\",\"category\":\"electronics\","
                     "\"max_price\":50}" } } };
    check_fixture(g_lms, "lmstudio_chat_response_tool_call.json",
                  AC_FRAMING_NONE, 200, &w);
}

/* --- llama.cpp recordings: local servers (lmstudio, mlx) ------------- */

static void test_local_reasoning_body(void)
{
    /* message.reasoning_content kept apart from the reply; the extra
     * "timings" object ignored. */
    want w = { .status = AC_OK, .content = "Ol\xc3\xa1!",
        .reasoning = "The user says: \"Say hi in Portuguese\". So answer: "
                     "\"Ol\xc3\xa1\" or \"Oi\". Likely \"Ol\xc3\xa1\". "
                     "Probably a friendly greeting. Just respond with that.",
        .finish = "stop", .raw = "stop", .in = 84, .out = 47,
        .model = "openai/gpt-oss-20b" };
    check_fixture(g_lms, "llamacpp_chat_text.response.json", AC_FRAMING_NONE,
                  200, &w);
    check_fixture(g_mlx, "llamacpp_chat_text.response.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_local_error_401(void)
{
    /* A local server started with a key: the integer code is an HTTP
     * status, the type is what is quoted. */
    want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 401, .retryable = 0,
        .msg = { "HTTP 401: Invalid API Key (authentication_error)" } };
    check_fixture(g_lms, "llamacpp_error_401.json", AC_FRAMING_NONE, 401, &w);
    check_fixture(g_mlx, "llamacpp_error_401.json", AC_FRAMING_NONE, 401, &w);
}

/* --- huggingface: the router ------------------------------------------ */

static void test_hf_router_body(void)
{
    /* usage has extra timing fields, x_groq and service_tier are vendor
     * extras; the model comes back lower-cased, without the suffix. */
    want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4, .model = KIMI };
    check_fixture(g_hf, "hf_router_chat_text.response.json", AC_FRAMING_NONE,
                  200, &w);
}

static void test_hf_router_stream_usage_twice(void)
{
    /* usage 20/4 on the finish chunk and again on choices:[]: one usage
     * event, the last report, nothing added up. */
    want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
        .raw = "stop", .in = 20, .out = 4, .model = KIMI };
    check_fixture(g_hf, "hf_router_chat_stream_text.sse", AC_FRAMING_SSE, 200,
                  &w);
}

/* --- huggingface: TGI ------------------------------------------------ */

static void test_tgi_stream_tool_call(void)
{
    /* id "0" and index 0 on every delta, name null after the first: one
     * call.  No finish_reason chunk: [DONE] ends it as tool_calls (the
     * backend gave no raw reason, so raw is not checked). */
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = -1, .out = -1, .model = TGI_MODEL, .n_calls = 1,
        .calls = { { "0", "get_current_weather",
                     "{\"location\":\"Brooklyn, NY\","
                     "\"format\":\"fahrenheit\"}" } } };
    for (int keepalive = 0; keepalive < 2; keepalive++) {
        size_t len;
        char *sse = chunks_to_sse("tgi_chat_stream_tool_call.chunks.json",
                                  keepalive, &len);
        check_replay(g_hf, keepalive ? "TGI tool call with ':' comments"
                                     : "TGI tool call", sse, len,
                     AC_FRAMING_SSE, 200, &w);
        free(sse);
    }
}

static void test_tgi_stream_usage(void)
{
    /* "usage":null on every chunk, then choices:[] with the usage. */
    size_t len;
    char *sse = chunks_to_sse("tgi_chat_stream_usage.chunks.json", 1, &len);
    want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
        .raw = "stop", .in = 39, .out = 3, .model = TGI_MODEL };
    check_replay(g_hf, "TGI usage", sse, len, AC_FRAMING_SSE, 200, &w);
    free(sse);
}

static void test_tgi_error_bodies(void)
{
    /* {"error","error_type"} (PROTOCOLS.md 1, "Errors"): validation and
     * generation failures are not worth repeating; overloaded is. */
    static const char v422[] =
        "{\"error\":\"Input validation error: `inputs` tokens + "
        "`max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and "
        "512 `max_new_tokens`\",\"error_type\":\"validation\"}";
    want w1 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 422, .retryable = 0,
        .msg = { "HTTP 422: Input validation error: `inputs` tokens",
                 "(validation)" } };
    check_replay(g_hf, "TGI 422", v422, strlen(v422), AC_FRAMING_NONE, 422,
                 &w1);

    static const char g424[] =
        "{\"error\":\"Request failed during generation: Server error: "
        "CUDA out of memory\",\"error_type\":\"generation\"}";
    want w2 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 424, .retryable = 0,
        .msg = { "HTTP 424: Request failed during generation",
                 "(generation)" } };
    check_replay(g_hf, "TGI 424", g424, strlen(g424), AC_FRAMING_NONE, 424,
                 &w2);

    static const char o429[] =
        "{\"error\":\"Model is overloaded\",\"error_type\":\"overloaded\"}";
    want w3 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 1,
        .msg = { "HTTP 429: Model is overloaded (overloaded)" } };
    check_replay(g_hf, "TGI 429", o429, strlen(o429), AC_FRAMING_NONE, 429,
                 &w3);
}

static void test_tgi_error_in_stream(void)
{
    /* TGI's chat endpoint: the error object names its status, then
     * [DONE]; the text before it is kept. */
    static const char s422[] =
        ":\n\n"
        "data: {\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1,"
        "\"model\":\"" TGI_MODEL "\",\"system_fingerprint\":\"3.1.2-native\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}],"
        "\"usage\":null}\n\n"
        "data: {\"error\":{\"message\":\"Input validation error: grammar "
        "is not valid\",\"http_status_code\":422}}\n\n"
        "data: [DONE]\n\n";
    want w1 = { .status = AC_EPROTOCOL, .content = "Hel", .in = -1, .out = -1,
        .http_status = 422, .retryable = 0,
        .msg = { "error in stream: Input validation error: grammar is "
                 "not valid" } };
    check_replay(g_hf, "TGI 422 in stream", s422, strlen(s422),
                 AC_FRAMING_SSE, 200, &w1);

    static const char s429[] =
        "data: {\"error\":{\"message\":\"Model is overloaded\","
        "\"http_status_code\":429}}\n\n"
        "data: [DONE]\n\n";
    want w2 = { .status = AC_EPROTOCOL, .content = "", .in = -1, .out = -1,
        .http_status = 429, .retryable = 1, .msg = { "Model is overloaded" } };
    check_replay(g_hf, "TGI 429 in stream", s429, strlen(s429),
                 AC_FRAMING_SSE, 200, &w2);
}

/* --- mlx --------------------------------------------------------------- */

static void test_mlx_stream(void)
{
    /* The shape of mlx_lm/server.py's generate_response (no recording
     * exists): keepalive comments while the prompt is processed, every
     * delta with content, reasoning and tool_calls, reasoning in
     * delta.reasoning, each tool call whole with an incrementing index,
     * finish_reason tool_calls, then the usage chunk. */
    static const char mlx[] =
        ": keepalive 128/512\n\n"
        ": keepalive 512/512\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, \"finish_reason\": null, "
        "\"delta\": {\"role\": \"assistant\", \"content\": \"\", "
        "\"reasoning\": \"Two tools.\", \"tool_calls\": []}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, \"finish_reason\": null, "
        "\"delta\": {\"role\": \"assistant\", \"content\": \"Sure.\", "
        "\"reasoning\": \"\", \"tool_calls\": []}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, \"finish_reason\": null, "
        "\"delta\": {\"role\": \"assistant\", \"content\": \"\", "
        "\"reasoning\": \"\", \"tool_calls\": ["
        "{\"function\": {\"name\": \"a\", \"arguments\": \"{}\"}, "
        "\"type\": \"function\", \"id\": \"u-1\", \"index\": 0}, "
        "{\"function\": {\"name\": \"b\", \"arguments\": \"{\\\"x\\\": [1, 2]}\"}, "
        "\"type\": \"function\", \"id\": \"u-2\", \"index\": 1}]}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion.chunk\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [{\"index\": 0, "
        "\"finish_reason\": \"tool_calls\", \"delta\": {\"role\": "
        "\"assistant\", \"content\": \"\", \"reasoning\": \"\", "
        "\"tool_calls\": []}}]}\n\n"
        "data: {\"id\": \"chatcmpl-1\", \"system_fingerprint\": \"0.28.3\", "
        "\"object\": \"chat.completion\", \"model\": \"default_model\", "
        "\"created\": 1, \"choices\": [], \"usage\": {\"prompt_tokens\": 42, "
        "\"completion_tokens\": 17, \"total_tokens\": 59, "
        "\"prompt_tokens_details\": {\"cached_tokens\": 0}}}\n\n"
        "data: [DONE]\n\n";
    want w = { .status = AC_OK, .content = "Sure.", .reasoning = "Two tools.",
        .finish = "tool_calls", .raw = "tool_calls", .in = 42, .out = 17,
        .model = "default_model", .n_calls = 2,
        .calls = { { "u-1", "a", "{}" }, { "u-2", "b", "{\"x\":[1,2]}" } } };
    check_replay(g_mlx, "mlx stream", mlx, strlen(mlx), AC_FRAMING_SSE, 200,
                 &w);
}

static void test_mlx_error_bodies(void)
{
    /* {"error": str}; older servers answer 404 for a failed generation,
     * which is not retried, newer ones 500 (retried). */
    static const char e404[] =
        "{\"error\": \"Only 'text' content type is supported.\"}";
    want w1 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0,
        .msg = { "HTTP 404: Only 'text' content type is supported." } };
    check_replay(g_mlx, "mlx 404", e404, strlen(e404), AC_FRAMING_NONE, 404,
                 &w1);

    static const char e500[] = "{\"error\": \"[metal::malloc] Resource limit "
                               "(499000) exceeded.\"}";
    want w2 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 500, .retryable = 1,
        .msg = { "HTTP 500: [metal::malloc] Resource limit" } };
    check_replay(g_mlx, "mlx 500", e500, strlen(e500), AC_FRAMING_NONE, 500,
                 &w2);

    /* A path the server does not serve: a bare text body. */
    static const char nf[] = "Not Found";
    want w3 = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0, .msg = { "HTTP 404: Not Found" } };
    check_replay(g_mlx, "mlx bare 404", nf, strlen(nf), AC_FRAMING_NONE, 404,
                 &w3);
}

/* --- out of memory through the real host ------------------------------ */

static void test_replay_allocation_failures(void)
{
    /* The core's allocator (which the host table hands the plugins) fails
     * at each allocation in turn while TGI's tool-call stream is replayed
     * in 7-byte pieces: every run ends in AC_OK or AC_ENOMEM. */
    size_t len;
    char *sse = chunks_to_sse("tgi_chat_stream_tool_call.chunks.json", 1,
                              &len);
    ac_status st = AC_ENOMEM;
    long n;
    for (n = 0; n < 1000 && st != AC_OK; n++) {
        ac_response *r = NULL;
        ac_error err;
        memset(&err, 0, sizeof err);
        alloc_fail_after(n);
        st = replay_bytes(g_hf, AC_FRAMING_SSE, 200, sse, len, 7, NULL, NULL,
                          &r, &err);
        alloc_fail_after(-1);
        if (st != AC_OK && st != AC_ENOMEM) {
            fprintf(stderr, "\n  allocation %ld failing gave %s: %s\n", n,
                    ac_strerror(st), err.message);
            CU_FAIL("not AC_ENOMEM");
        }
        ac_response_free(r);
    }
    CU_ASSERT_EQUAL(st, AC_OK);
    free(sse);
}

/* ------------------------------------------------------------------ */
/* Suite "mock": the public API against the mock server                 */
/* ------------------------------------------------------------------ */

static mock_server *g_mock;
static ac_core     *g_mcore;

/* Scenarios by model name.  The HF router scenarios serve the recorded
 * fixtures' bytes as they are (appended at run time, see mock_script). */
static const char mock_script_head[] =
    "reply = \"Hello from the mock.\";\n"
    "chunks = 5;\n"
    "usage = [12, 5];\n"
    "scenarios = (\n"
    "  { model = \"lms-tools\"; quirk = \"lmstudio\"; reply = \"\"; tool_calls = (\n"
    "      { id = \"365174485\"; name = \"search_products\";\n"
    "        arguments = \"{\\\"query\\\":\\\"dell\\\"}\"; } ); },\n"
    "  { model = \"tgi\"; quirk = \"tgi\"; reply = \"OK!\"; usage = [39, 3]; },\n"
    "  { model = \"tgi-tools\"; quirk = \"tgi\"; reply = \"\"; tool_calls = (\n"
    "      { name = \"get_current_weather\";\n"
    "        arguments = \"{\\\"location\\\":\\\"Brooklyn, NY\\\"}\"; } ); },\n"
    "  { model = \"tgi-422\"; status = 422; error_body = \"{\\\"error\\\":"
    "\\\"Input validation error: `max_new_tokens` must be strictly positive\\\","
    "\\\"error_type\\\":\\\"validation\\\"}\"; },\n"
    "  { model = \"tgi-424\"; status = 424; error_body = \"{\\\"error\\\":"
    "\\\"Request failed during generation: Server error: Unexpected <class "
    "'torch.OutOfMemoryError'>\\\",\\\"error_type\\\":\\\"generation\\\"}\"; },\n"
    "  { model = \"tgi-429\"; status = 429; error_body = \"{\\\"error\\\":"
    "\\\"Model is overloaded\\\",\\\"error_type\\\":\\\"overloaded\\\"}\"; },\n"
    "  { model = \"tgi-midstream\"; content_type = \"text/event-stream\"; raw = "
    "\":\\n\\ndata: {\\\"object\\\":\\\"chat.completion.chunk\\\",\\\"id\\\":"
    "\\\"\\\",\\\"created\\\":1,\\\"model\\\":\\\"tgi\\\",\\\"choices\\\":[{"
    "\\\"index\\\":0,\\\"delta\\\":{\\\"role\\\":\\\"assistant\\\",\\\"content\\\":"
    "\\\"Par\\\"},\\\"finish_reason\\\":null}],\\\"usage\\\":null}\\n\\n"
    "data: {\\\"error\\\":{\\\"message\\\":\\\"Request failed during generation: "
    "CUDA error\\\",\\\"http_status_code\\\":424}}\\n\\ndata: [DONE]\\n\\n\"; },\n"
    "  { model = \"mlx-tools\"; quirk = \"mlx\"; reply = \"\"; tool_calls = (\n"
    "      { name = \"a\"; arguments = \"{}\"; },\n"
    "      { name = \"b\"; arguments = \"{\\\"x\\\":[1,2]}\"; } ); },\n"
    "  { model = \"mlx-404\"; status = 404; error_body = \"{\\\"error\\\": "
    "\\\"Model not found: mlx-404\\\"}\"; }";

/* text as a libconfig string literal, appended to buf (size cap). */
static void cfg_quote(char *buf, size_t cap, const char *text, size_t len)
{
    size_t n = strlen(buf);
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(buf + n, cap - n, "\\%c", c);
        else if (c == '\n')
            n += (size_t)snprintf(buf + n, cap - n, "\\n");
        else if (c < 0x20 || c >= 0x7F)
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
        buf[n] = '\0';
    }
}

/* The script: the scenarios above plus the HF router's recorded stream
 * and body, each served for its own model id (with a `:provider`
 * suffix, which must reach the server unchanged to select it). */
static char *mock_script(void)
{
    size_t slen, blen;
    char *sse = tu_fixture("hf_router_chat_stream_text.sse", &slen);
    char *body = tu_fixture("hf_router_chat_text.response.json", &blen);
    size_t cap = sizeof mock_script_head + 4 * (slen + blen) + 512;
    char *s = malloc(cap);
    if (s) {
        snprintf(s, cap, "%s,\n  { model = \"moonshotai/Kimi-K2-Instruct-0905"
                 ":groq\"; content_type = \"text/event-stream\"; raw = \"",
                 mock_script_head);
        cfg_quote(s, cap, sse, slen);
        strncat(s, "\"; },\n  { model = \"moonshotai/Kimi-K2-Instruct-0905"
                ":fastest\"; content_type = \"application/json\"; raw = \"",
                cap - strlen(s) - 1);
        cfg_quote(s, cap, body, blen);
        strncat(s, "\"; }\n);\n", cap - strlen(s) - 1);
    }
    free(sse);
    free(body);
    return s;
}

static int mock_suite_init(void)
{
    char errbuf[256] = "";
    char *script = mock_script();
    if (!script)
        return -1;
    g_mock = mock_server_start(script, 0, errbuf, sizeof errbuf);
    free(script);
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

/* An llm on `plugin` pointed at the mock (or at its default URL when
 * at_mock is 0), with api_key when not NULL, no retries; NULL with *err
 * filled on failure. */
static ac_llm *make_llm(ac_core *core, const char *plugin, const char *model,
                        int at_mock, const char *api_key, ac_error *err)
{
    char url[256];
    ac_options *o = ac_options_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    snprintf(url, sizeof url, "%s/v1", mock_server_url(g_mock));
    if (at_mock)
        CU_ASSERT_EQUAL(ac_options_set(o, "base_url", url), AC_OK);
    if (api_key)
        CU_ASSERT_EQUAL(ac_options_set(o, "api_key", api_key), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "max_retries", "0"), AC_OK);
    memset(err, 0, sizeof *err);
    ac_llm *llm = ac_llm_create(core, plugin, model, o, err);
    ac_options_free(o);
    return llm;
}

static ac_llm *mock_llm(const char *plugin, const char *model)
{
    ac_error err;
    ac_llm *llm = make_llm(g_mcore, plugin, model, 1, NULL, &err);
    if (!llm)
        fprintf(stderr, "\n  ac_llm_create(%s): %s\n", plugin, err.message);
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

/* The last request's header, or NULL (a copy of at most 255 bytes). */
static const char *mock_header(const char *name)
{
    static char buf[256];
    char *v = mock_server_last_header(g_mock, name);
    if (!v)
        return NULL;
    snprintf(buf, sizeof buf, "%s", v);
    free(v);
    return buf;
}

/* Read a whole stream; returns the final status. */
static ac_status read_stream(ac_llm *llm, const ac_gen_params *p, seen *s,
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

/* One exchange with `llm`, streamed or not, checked against w; params
 * may be NULL. */
static void exchange(ac_llm *llm, int stream, const ac_gen_params *p,
                     const char *label, const want *w)
{
    ac_response *r = NULL;
    ac_error err;
    seen s;
    ac_status st;
    memset(&s, 0, sizeof s);
    memset(&err, 0, sizeof err);
    if (stream) {
        st = read_stream(llm, p, &s, &r, &err);
    } else {
        r = ac_generate(llm, "Say hello", p, &err);
        st = r ? AC_OK : err.code;
    }
    CU_ASSERT(check_str(label, (size_t)stream, "status", ac_strerror(st),
                        ac_strerror(w->status)));
    if (w->status == AC_OK) {
        CU_ASSERT_PTR_NOT_NULL(r);
        if (r)
            check_response(label, (size_t)stream, r, w);
        if (stream) {
            CU_ASSERT(check_str(label, 1, "streamed text", s.text,
                                w->content));
            CU_ASSERT(check_long(label, 1, "usage events", s.n_usage,
                                 w->in >= 0 || w->out >= 0 ? 1 : 0));
            CU_ASSERT(check_long(label, 1, "finish events", s.n_finish, 1));
        }
    } else {
        CU_ASSERT_EQUAL(err.code, st);
        check_error(label, (size_t)stream, &err, w);
        if (stream) {
            CU_ASSERT_EQUAL(s.n_error, 1);
            if (r)
                CU_ASSERT(check_str(label, 1, "text kept",
                                    ac_response_content(r), w->content));
        } else {
            CU_ASSERT_PTR_NULL(r);
        }
    }
    ac_response_free(r);
}

static ac_gen_params *tool_params(const char *tool)
{
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, tool, "A tool",
        "{\"type\":\"object\",\"properties\":{}}"), AC_OK);
    return p;
}

static int models_have(ac_llm *llm, const char *id)
{
    ac_error err;
    int found = 0;
    ac_models *m = ac_list_models(llm, &err);
    CU_ASSERT_PTR_NOT_NULL(m);
    if (!m) {
        fprintf(stderr, "\n  ac_list_models: %s\n", err.message);
        return 0;
    }
    for (size_t i = 0; i < ac_models_count(m); i++)
        if (strcmp(ac_models_id(m, i), id) == 0)
            found = 1;
    ac_models_free(m);
    return found;
}

#define MOCK_TEXT "Hello from the mock."

/* --- lmstudio -------------------------------------------------------- */

static void test_mock_lmstudio_generate(void)
{
    /* No model given: LM Studio's placeholder, which it answers with the
     * loaded model.  max_tokens in its own field; no key, no header. */
    ac_llm *llm = mock_llm("lmstudio", NULL);
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 64);
    want w = { .status = AC_OK, .content = MOCK_TEXT, .finish = "stop",
               .in = 12, .out = 5, .model = "local-model" };
    exchange(llm, 0, p, "lmstudio generate", &w);
    json_object *b = mock_last_body();
    ASSERT_STR(jstr(b, "model"), "local-model");
    CU_ASSERT_EQUAL(json_object_get_int(jget(b, "max_tokens")), 64);
    CU_ASSERT_FALSE(jhas(b, "max_completion_tokens"));
    json_object_put(b);
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));
    exchange(llm, 1, p, "lmstudio stream", &w);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_lmstudio_token(void)
{
    /* With "Require Authentication" on, LM_API_TOKEN is sent. */
    CU_ASSERT_EQUAL(setenv("LM_API_TOKEN", "lm-token-abcdef123", 1), 0);
    ac_llm *llm = mock_llm("lmstudio", "qwen2.5-7b-instruct");
    unsetenv("LM_API_TOKEN");
    want w = { .status = AC_OK, .content = MOCK_TEXT, .in = 12, .out = 5,
               .model = "qwen2.5-7b-instruct" };
    exchange(llm, 0, NULL, "lmstudio with token", &w);
    ASSERT_STR(mock_header("Authorization"), "Bearer lm-token-abcdef123");
    ac_llm_free(llm);
}

static void test_mock_lmstudio_tool_calls(void)
{
    /* Non-streamed, the reply has no "content" key: an empty reply. */
    ac_llm *llm = mock_llm("lmstudio", "lms-tools");
    ac_gen_params *p = tool_params("search_products");
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = 12, .out = 5, .n_calls = 1,
        .calls = { { "365174485", "search_products",
                     "{\"query\":\"dell\"}" } } };
    exchange(llm, 0, p, "lmstudio tool call", &w);
    exchange(llm, 1, p, "lmstudio tool call", &w);
    json_object *b = mock_last_body();
    ASSERT_STR(jstr(b, "tools.0.function.name"), "search_products");
    json_object_put(b);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_lmstudio_models(void)
{
    ac_llm *llm = mock_llm("lmstudio", NULL);
    CU_ASSERT_TRUE(models_have(llm, "lms-tools"));
    CU_ASSERT_TRUE(models_have(llm, "mlx-tools"));
    ac_llm_free(llm);
}

/* --- huggingface ----------------------------------------------------- */

static void test_mock_hf_key_policy(void)
{
    ac_error err;
    /* The router's URL without a token: refused, naming the variable. */
    ac_llm *llm = make_llm(g_mcore, "huggingface", NULL, 0, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HF_TOKEN"));
    ac_llm_free(llm);

    /* The same for a user who configured nothing at all. */
    ac_core *core = tu_open_core(NULL);
    memset(&err, 0, sizeof err);
    llm = ac_llm_create(core, "huggingface", NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HF_TOKEN"));
    ac_llm_free(llm);
    ac_core_close(core);

    /* HF_TOKEN, or a configured key, is enough (nothing is sent here). */
    CU_ASSERT_EQUAL(setenv("HF_TOKEN", HF_TEST_KEY, 1), 0);
    llm = make_llm(g_mcore, "huggingface", NULL, 0, NULL, &err);
    unsetenv("HF_TOKEN");
    if (!llm)
        fprintf(stderr, "\n  with HF_TOKEN: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(llm);
    if (llm)
        ASSERT_STR(ac_llm_model(llm), "openai/gpt-oss-20b");
    ac_llm_free(llm);
    llm = make_llm(g_mcore, "huggingface", NULL, 0, HF_TEST_KEY, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);

    /* A TGI server at another URL needs none, and gets none... */
    llm = mock_llm("huggingface", "tgi");
    want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
               .in = 39, .out = 3, .model = "tgi" };
    exchange(llm, 0, NULL, "TGI without token", &w);
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));
    ac_llm_free(llm);

    /* ...but a token that is set is sent (Inference Endpoints). */
    CU_ASSERT_EQUAL(setenv("HF_TOKEN", HF_TEST_KEY, 1), 0);
    llm = mock_llm("huggingface", "tgi");
    unsetenv("HF_TOKEN");
    exchange(llm, 0, NULL, "TGI with HF_TOKEN", &w);
    ASSERT_STR(mock_header("Authorization"), "Bearer " HF_TEST_KEY);
    ac_llm_free(llm);
}

static void test_mock_hf_router(void)
{
    /* The router's recorded bytes, selected by a model id with a
     * `:provider` suffix that must arrive unchanged; max_tokens, as the
     * router takes it. */
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 4000);
    ac_gen_params_set_system(p, "You are a helpful assistant");
    want w = { .status = AC_OK, .content = "Ol\xc3\xa1!", .finish = "stop",
               .raw = "stop", .in = 20, .out = 4, .model = KIMI };

    ac_llm *llm = mock_llm("huggingface",
                           "moonshotai/Kimi-K2-Instruct-0905:groq");
    exchange(llm, 1, p, "HF router stream", &w);
    json_object *b = mock_last_body();
    ASSERT_STR(jstr(b, "model"), "moonshotai/Kimi-K2-Instruct-0905:groq");
    CU_ASSERT_EQUAL(json_object_get_int(jget(b, "max_tokens")), 4000);
    CU_ASSERT_FALSE(jhas(b, "max_completion_tokens"));
    CU_ASSERT_TRUE(json_object_get_boolean(jget(b, "stream")));
    CU_ASSERT_TRUE(json_object_get_boolean(
        jget(b, "stream_options.include_usage")));
    json_object_put(b);
    ac_llm_free(llm);

    llm = mock_llm("huggingface", "moonshotai/Kimi-K2-Instruct-0905:fastest");
    exchange(llm, 0, p, "HF router body", &w);
    b = mock_last_body();
    ASSERT_STR(jstr(b, "model"), "moonshotai/Kimi-K2-Instruct-0905:fastest");
    json_object_put(b);
    ac_llm_free(llm);
    ac_gen_params_free(p);
}

static void test_mock_tgi(void)
{
    /* ":" keep-alive comments, role on every delta, "id":"" chunks. */
    ac_llm *llm = mock_llm("huggingface", "tgi");
    want w = { .status = AC_OK, .content = "OK!", .finish = "stop",
               .in = 39, .out = 3, .model = "tgi" };
    exchange(llm, 1, NULL, "TGI stream", &w);
    ac_llm_free(llm);

    /* Streamed, the call repeats its id and index and sends name:null
     * after the first delta: still one call. */
    llm = mock_llm("huggingface", "tgi-tools");
    ac_gen_params *p = tool_params("get_current_weather");
    want wt = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = 12, .out = 5, .n_calls = 1,
        .calls = { { NULL, "get_current_weather",
                     "{\"location\":\"Brooklyn, NY\"}" } } };
    exchange(llm, 0, p, "TGI tool call", &wt);
    exchange(llm, 1, p, "TGI tool call", &wt);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_tgi_errors(void)
{
    static const struct {
        const char *model;
        want        w;
    } cases[] = {
        { "tgi-422", { .status = AC_EHTTP, .content = "", .in = -1,
            .out = -1, .http_status = 422, .retryable = 0,
            .msg = { "HTTP 422: Input validation error: `max_new_tokens`",
                     "(validation)" } } },
        { "tgi-424", { .status = AC_EHTTP, .content = "", .in = -1,
            .out = -1, .http_status = 424, .retryable = 0,
            .msg = { "HTTP 424: Request failed during generation",
                     "(generation)" } } },
        { "tgi-429", { .status = AC_EHTTP, .content = "", .in = -1,
            .out = -1, .http_status = 429, .retryable = 1,
            .msg = { "HTTP 429: Model is overloaded (overloaded)" } } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_llm *llm = mock_llm("huggingface", cases[i].model);
        exchange(llm, 0, NULL, cases[i].model, &cases[i].w);
        exchange(llm, 1, NULL, cases[i].model, &cases[i].w);
        ac_llm_free(llm);
    }

    /* An error inside the 200 stream, with its status; the text before
     * it is kept. */
    ac_llm *llm = mock_llm("huggingface", "tgi-midstream");
    want w = { .status = AC_EPROTOCOL, .content = "Par", .in = -1, .out = -1,
        .http_status = 424, .retryable = 0,
        .msg = { "Request failed during generation: CUDA error" } };
    exchange(llm, 1, NULL, "TGI error in stream", &w);
    ac_llm_free(llm);
}

static void test_mock_hf_models(void)
{
    ac_llm *llm = mock_llm("huggingface", "tgi");
    CU_ASSERT_TRUE(models_have(llm, "tgi-tools"));
    ac_llm_free(llm);
}

/* --- mlx ------------------------------------------------------------- */

static void test_mock_mlx_generate(void)
{
    /* No model: the field is left out (mlx would load a named one), and
     * nothing the caller did not set is sent -- the server's own
     * temperature 0 and 512 tokens apply.  No key, whatever variables
     * are set. */
    CU_ASSERT_EQUAL(setenv("HF_TOKEN", HF_TEST_KEY, 1), 0);
    CU_ASSERT_EQUAL(setenv("LM_API_TOKEN", "lm-token-abcdef123", 1), 0);
    ac_llm *llm = mock_llm("mlx", NULL);
    unsetenv("HF_TOKEN");
    unsetenv("LM_API_TOKEN");
    want w = { .status = AC_OK, .content = MOCK_TEXT, .finish = "stop",
               .in = 12, .out = 5 };
    exchange(llm, 0, NULL, "mlx generate", &w);
    json_object *b = mock_last_body();
    CU_ASSERT_FALSE(jhas(b, "model"));
    CU_ASSERT_FALSE(jhas(b, "max_tokens"));
    CU_ASSERT_FALSE(jhas(b, "temperature"));
    json_object_put(b);
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));

    /* What the caller sets is sent, max_tokens in its own field. */
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_gen_params_set_max_tokens(p, 2048);
    ac_gen_params_set_temperature(p, 0.7);
    exchange(llm, 1, p, "mlx stream", &w);
    b = mock_last_body();
    CU_ASSERT_EQUAL(json_object_get_int(jget(b, "max_tokens")), 2048);
    CU_ASSERT_FALSE(jhas(b, "max_completion_tokens"));
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double(jget(b, "temperature")),
                           0.7, 1e-12);
    json_object_put(b);
    ac_gen_params_free(p);
    ac_llm_free(llm);

    /* A key configured on purpose (a proxy in front) is sent. */
    ac_error err;
    llm = make_llm(g_mcore, "mlx", "mlx-community/Qwen3-4B-4bit", 1,
                   "proxy-key-0123456", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    exchange(llm, 0, NULL, "mlx behind a proxy", &w);
    ASSERT_STR(mock_header("Authorization"), "Bearer proxy-key-0123456");
    b = mock_last_body();
    ASSERT_STR(jstr(b, "model"), "mlx-community/Qwen3-4B-4bit");
    json_object_put(b);
    ac_llm_free(llm);
}

static void test_mock_mlx_tool_calls(void)
{
    /* ": keepalive" comments, then each call whole in one delta with an
     * incrementing index. */
    ac_llm *llm = mock_llm("mlx", "mlx-tools");
    ac_gen_params *p = tool_params("a");
    want w = { .status = AC_OK, .content = "", .finish = "tool_calls",
        .in = 12, .out = 5, .n_calls = 2,
        .calls = { { NULL, "a", "{}" }, { NULL, "b", "{\"x\":[1,2]}" } } };
    exchange(llm, 0, p, "mlx tool calls", &w);
    exchange(llm, 1, p, "mlx tool calls", &w);
    ac_gen_params_free(p);
    ac_llm_free(llm);
}

static void test_mock_mlx_errors(void)
{
    ac_llm *llm = mock_llm("mlx", "mlx-404");
    want w = { .status = AC_EHTTP, .content = "", .in = -1, .out = -1,
        .http_status = 404, .retryable = 0,
        .msg = { "HTTP 404: Model not found: mlx-404" } };
    exchange(llm, 0, NULL, "mlx 404", &w);
    exchange(llm, 1, NULL, "mlx 404", &w);
    ac_llm_free(llm);
}

static void test_mock_mlx_models(void)
{
    ac_llm *llm = mock_llm("mlx", NULL);
    CU_ASSERT_TRUE(models_have(llm, "mlx-tools"));
    CU_ASSERT_PTR_NULL(mock_header("Authorization"));
    ac_llm_free(llm);
}

/* ------------------------------------------------------------------ */

typedef struct test_def {
    const char *name;
    CU_TestFunc fn;
} test_def;

static const test_def descriptor_tests[] = {
    { "lmstudio", test_descriptor_lmstudio },
    { "huggingface", test_descriptor_huggingface },
    { "mlx", test_descriptor_mlx },
};

static const test_def replay_tests[] = {
    { "lmstudio: tool call without content", test_lmstudio_tool_call_body },
    { "local servers: reasoning_content", test_local_reasoning_body },
    { "local servers: llama.cpp 401", test_local_error_401 },
    { "huggingface: router body", test_hf_router_body },
    { "huggingface: router usage twice", test_hf_router_stream_usage_twice },
    { "huggingface: TGI tool call", test_tgi_stream_tool_call },
    { "huggingface: TGI usage", test_tgi_stream_usage },
    { "huggingface: TGI error bodies", test_tgi_error_bodies },
    { "huggingface: TGI errors in a stream", test_tgi_error_in_stream },
    { "mlx: stream", test_mlx_stream },
    { "mlx: error bodies", test_mlx_error_bodies },
    { "allocation failures", test_replay_allocation_failures },
};

static const test_def mock_tests[] = {
    { "lmstudio: generate and stream", test_mock_lmstudio_generate },
    { "lmstudio: LM_API_TOKEN", test_mock_lmstudio_token },
    { "lmstudio: tool calls", test_mock_lmstudio_tool_calls },
    { "lmstudio: models", test_mock_lmstudio_models },
    { "huggingface: key policy", test_mock_hf_key_policy },
    { "huggingface: router bytes", test_mock_hf_router },
    { "huggingface: TGI", test_mock_tgi },
    { "huggingface: TGI errors", test_mock_tgi_errors },
    { "huggingface: models", test_mock_hf_models },
    { "mlx: generate and stream", test_mock_mlx_generate },
    { "mlx: tool calls", test_mock_mlx_tool_calls },
    { "mlx: errors", test_mock_mlx_errors },
    { "mlx: models", test_mock_mlx_models },
};

static int add_suite(const char *name, CU_InitializeFunc init,
                     CU_CleanupFunc clean, const test_def *tests, size_t n)
{
    CU_pSuite s = CU_add_suite(name, init, clean);
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}

#define N(a) (sizeof (a) / sizeof (a)[0])

int main(void)
{
    /* Never the real tokens of whoever runs the tests. */
    unsetenv("HF_TOKEN");
    unsetenv("LM_API_TOKEN");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    /* Order matters: the descriptor suite loads the plugins with the
     * fake host and unloads them before any core does. */
    if (add_suite("descriptor", NULL, NULL, descriptor_tests,
                  N(descriptor_tests)) ||
        add_suite("replay", replay_suite_init, replay_suite_clean,
                  replay_tests, N(replay_tests)) ||
        add_suite("mock", mock_suite_init, mock_suite_clean, mock_tests,
                  N(mock_tests)))
        return 2;
    return tu_run_suites();
}
