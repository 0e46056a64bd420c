/*
 * test_llamacpp.c -- the llamacpp plugin (GGUF models in-process with
 * libllama), through the public API, on the tiny models the build writes
 * with tests/llama/make-tiny-gguf.py:
 *
 *   tiny.gguf             random weights: greedy text that never ends by
 *                         itself (max_tokens or n_ctx end it);
 *   tiny-programmed.gguf  answers every ChatML prompt with PROGRAMMED, 10
 *                         tokens, then its end-of-generation token.
 *
 * Suites: "text" (textout.c: stop strings across pieces, whole UTF-8
 * characters) and "gbnf" (gbnf.c: schemas to grammars libllama accepts,
 * refusals naming the keyword) on the plugin's own files compiled in;
 * "plugin": greedy output stable across runs, seeded sampling, streaming
 * events, stop strings, max_tokens, usage, cancel mid-generation, 8
 * concurrent requests, schema-constrained output that validates, prompted
 * tools, chat templates, missing / corrupt / non-GGUF files named with
 * their path, a folder of models listed, prompts and contexts too large.
 *
 * Exit 77 (SKIP) when the models were not generated (configure found no
 * Python with numpy, PyYAML and gguf-py).
 */
#include "testutil.h"
#include "plugin.h"
#include "../plugins/llamacpp/llamacpp.h"

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <llama.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MODEL_DIR TEST_BUILDDIR "/tests/llama"
#define TINY MODEL_DIR "/tiny.gguf"
#define TINY_PROGRAMMED MODEL_DIR "/tiny-programmed.gguf"
#define PLUGIN_DIR TEST_BUILDDIR "/plugins/llamacpp/.libs"
#define PROGRAMMED "The quick brown fox jumps over the lazy dog."

/* The plugin's textout.c and gbnf.c are compiled into this program; they
 * allocate through lc_host, here the core's own host table. */
const ac_host_api *lc_host;

static ac_core *core;
static char folder[64];

/* ------------------------------------------------------------------ */
/* The log: the plugin's line at the end of each request               */
/* ------------------------------------------------------------------ */

#define MAX_LINES 256
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[MAX_LINES][400];
static int n_log;

static void on_log(ac_log_level level, const char *provider, const char *message, void *user)
{
    (void)level, (void)provider, (void)user;
    if (!strstr(message, "generated tokens") && !strstr(message, "embedding ") &&
        !strstr(message, "no pooling of its own") && !strstr(message, "request queued"))
        return;
    pthread_mutex_lock(&log_mu);
    if (n_log < MAX_LINES)
        snprintf(log_lines[n_log++], sizeof log_lines[0], "%s", message);
    pthread_mutex_unlock(&log_mu);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    n_log = 0;
    pthread_mutex_unlock(&log_mu);
}

static void quiet_log(enum ggml_log_level level, const char *text, void *data)
{
    (void)level, (void)text, (void)data;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static ac_llm *llm_of(const char *provider, const char *model)
{
    ac_error err;
    ac_llm *l = ac_llm_create(core, provider, model, NULL, &err);
    if (!l)
        fprintf(stderr, "ac_llm_create %s: %s\n", provider, err.message);
    return l;
}

/* One request: the response (NULL on failure, with *err). */
static ac_response *ask(const char *provider, const char *model, const char *prompt,
                        ac_gen_params *p, ac_error *err)
{
    ac_llm *l = llm_of(provider, model);
    if (!l) {
        err->code = AC_EPLUGIN;
        return NULL;
    }
    ac_response *r = ac_generate(l, prompt, p, err);
    ac_llm_free(l);
    return r;
}

static ac_gen_params *params(long max_tokens, double temperature)
{
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (max_tokens > 0)
        CU_ASSERT_EQUAL(ac_gen_params_set_max_tokens(p, max_tokens), AC_OK);
    if (temperature >= 0)
        CU_ASSERT_EQUAL(ac_gen_params_set_temperature(p, temperature), AC_OK);
    return p;
}

/* The text of one greedy request (malloc'd), or NULL. */
static char *greedy(const char *provider, const char *prompt, long max_tokens)
{
    ac_gen_params *p = params(max_tokens, 0);
    ac_error err;
    ac_response *r = ask(provider, NULL, prompt, p, &err);
    ac_gen_params_free(p);
    if (!r) {
        fprintf(stderr, "greedy: %s\n", err.message);
        return NULL;
    }
    char *t = strdup(ac_response_content(r));
    ac_response_free(r);
    return t;
}

static int copy_file(const char *from, const char *to, size_t limit)
{
    size_t len = 0;
    char *data = tu_read_file(from, &len);
    if (!data)
        return -1;
    FILE *f = fopen(to, "wb");
    size_t n = len < limit ? len : limit;
    int ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    free(data);
    return ok ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ */
/* Suite "text": textout.c                                              */
/* ------------------------------------------------------------------ */

/* Push each piece; returns the ready text (static) and *stopped. */
static const char *feed(const char *const *stops, size_t n_stops, const char *const *pieces,
                        size_t n, int *stopped, int final)
{
    static char out[256];
    lc_text t = { .stop = stops, .n_stop = n_stops };
    lc_buf ready = {0};
    *stopped = 0;
    for (size_t i = 0; i < n && !*stopped; i++)
        CU_ASSERT_EQUAL(lc_text_push(&t, pieces[i], strlen(pieces[i]), &ready, stopped), 0);
    if (final && !*stopped)
        CU_ASSERT_EQUAL(lc_text_flush(&t, &ready), 0);
    snprintf(out, sizeof out, "%s", ready.p ? ready.p : "");
    lc_buf_free(&ready);
    lc_text_free(&t);
    return out;
}

static void test_text_stops(void)
{
    int stopped;
    const char *stops[] = { "lazy dog", "zz" };
    const char *p1[] = { "the la", "zy d", "og and more" };
    TU_ASSERT_STR(feed(stops, 2, p1, 3, &stopped, 1), "the ");
    CU_ASSERT_TRUE(stopped);
    /* A prefix that turns out not to be one is released. */
    const char *p2[] = { "a la", "zy cat" };
    TU_ASSERT_STR(feed(stops, 2, p2, 2, &stopped, 1), "a lazy cat");
    CU_ASSERT_FALSE(stopped);
    /* The earliest stop wins, whichever is listed first. */
    const char *p3[] = { "xxzz lazy dog" };
    TU_ASSERT_STR(feed(stops, 2, p3, 1, &stopped, 1), "xx");
    CU_ASSERT_TRUE(stopped);
    /* A stop at the very start: nothing at all. */
    const char *p4[] = { "z", "z", "after" };
    TU_ASSERT_STR(feed(stops, 2, p4, 3, &stopped, 1), "");
    CU_ASSERT_TRUE(stopped);
    /* Held bytes are not released before the end. */
    lc_text t = { .stop = stops, .n_stop = 2 };
    lc_buf ready = {0};
    CU_ASSERT_EQUAL(lc_text_push(&t, "ok la", 5, &ready, &stopped), 0);
    CU_ASSERT_EQUAL(ready.len, 3);
    CU_ASSERT_EQUAL(lc_text_flush(&t, &ready), 0);
    TU_ASSERT_STR(ready.p, "ok la");
    lc_buf_free(&ready);
    lc_text_free(&t);
}

static void test_text_utf8(void)
{
    /* "café ✓ 𝄞" byte by byte: released only in whole characters. */
    const char *word = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e";
    lc_text t = {0};
    lc_buf ready = {0};
    int stopped;
    for (size_t i = 0; word[i]; i++) {
        CU_ASSERT_EQUAL(lc_text_push(&t, word + i, 1, &ready, &stopped), 0);
        /* What is out is always whole characters. */
        CU_ASSERT_EQUAL(ready.len, i + 1 - t.hold.len);
        unsigned char last = ready.len ? (unsigned char)ready.p[ready.len - 1] : 'x';
        CU_ASSERT(last < 0x80 || (last >= 0x80 && last < 0xC0));
    }
    CU_ASSERT_EQUAL(t.hold.len, 0);
    TU_ASSERT_STR(ready.p, word);
    lc_buf_free(&ready);
    lc_text_free(&t);
    /* Bytes that are never UTF-8 become U+FFFD; so does an unfinished
     * character at the end. */
    const char *bad[] = { "a\xff" "b\xc0\xaf", "c\xe2\x9c" };
    TU_ASSERT_STR(feed(NULL, 0, bad, 2, &stopped, 1),
                  "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd");
    /* A stop string of multibyte characters, across a split character. */
    const char *stops[] = { "\xe2\x9c\x93!" };
    const char *p[] = { "ok \xe2", "\x9c\x93", "!" };
    TU_ASSERT_STR(feed(stops, 1, p, 3, &stopped, 1), "ok ");
    CU_ASSERT_TRUE(stopped);
}

/* ------------------------------------------------------------------ */
/* Suite "gbnf": gbnf.c                                                 */
/* ------------------------------------------------------------------ */

static struct llama_model *vocab_model;

static ac_status convert(const char *schema, char **g, char *why, size_t n)
{
    json_object *s = json_tokener_parse(schema);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ac_status st = lc_gbnf_from_schema(s, g, why, n);
    json_object_put(s);
    return st;
}

static void test_gbnf_exact(void)
{
    char *g = NULL, why[300];
    CU_ASSERT_EQUAL_FATAL(convert("{\"type\":\"boolean\"}", &g, why, sizeof why), AC_OK);
    TU_ASSERT_STR(g, "r0 ::= boolean\nroot ::= r0\nboolean ::= \"true\" | \"false\"\n");
    lc_host->free(g);
    CU_ASSERT_EQUAL_FATAL(convert("{\"enum\":[\"a\\\"b\",1,null,[true]]}", &g, why, sizeof why),
                          AC_OK);
    TU_ASSERT_STR(g, "r0 ::= \"\\\"a\\\\\\\"b\\\"\" | \"1\" | \"null\" | \"[true]\"\n"
                     "root ::= r0\n");
    lc_host->free(g);
}

/* Schemas the grammar takes: each gives a grammar libllama parses. */
static void test_gbnf_accepted(void)
{
    static const char *const ok[] = {
        "true",
        "{}",
        "{\"type\":\"string\",\"minLength\":2,\"maxLength\":40}",
        "{\"type\":[\"integer\",\"null\"]}",
        "{\"type\":\"number\",\"description\":\"x\",\"x-unit\":\"m\"}",
        "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":2,\"maxItems\":4}",
        "{\"type\":\"array\",\"maxItems\":0}",
        "{\"type\":\"array\",\"minItems\":1}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"const\":3}},"
        "\"required\":[\"b\"],\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"a\":{},\"b\":{},\"c\":{}}}",
        "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
        "{\"type\":\"object\",\"additionalProperties\":false}",
        "{\"type\":\"object\",\"required\":[\"k\"]}",
        "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}],\"title\":\"t\"}",
        "{\"allOf\":[{\"$ref\":\"#/definitions/p\"}],\"definitions\":{\"p\":{\"type\":\"integer\"}}}",
        "{\"definitions\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":"
        "\"integer\"},\"next\":{\"anyOf\":[{\"$ref\":\"#/definitions/node\"},{\"type\":"
        "\"null\"}]}},\"required\":[\"v\",\"next\"]}},\"$ref\":\"#/definitions/node\"}",
        "{\"properties\":{\"name with \\\"quotes\\\" and \\u00e9\":{\"type\":\"boolean\"}},"
        "\"required\":[\"name with \\\"quotes\\\" and \\u00e9\"]}",
        "{\"type\":\"array\",\"uniqueItems\":false,\"items\":true}",
    };
    const struct llama_vocab *v = llama_model_get_vocab(vocab_model);
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *g = NULL, why[300] = "";
        ac_status st = convert(ok[i], &g, why, sizeof why);
        if (st != AC_OK)
            fprintf(stderr, "schema %s: %s\n", ok[i], why);
        CU_ASSERT_EQUAL(st, AC_OK);
        if (!g)
            continue;
        struct llama_sampler *s = llama_sampler_init_grammar(v, g, "root");
        if (!s)
            fprintf(stderr, "libllama refused the grammar of %s:\n%s", ok[i], g);
        CU_ASSERT_PTR_NOT_NULL(s);
        if (s)
            llama_sampler_free(s);
        lc_host->free(g);
    }
}

/* What the grammar cannot promise is refused, naming keyword and place. */
static void test_gbnf_refused(void)
{
    static const struct { const char *schema; ac_status st; const char *a, *b; } bad[] = {
        { "{\"type\":\"integer\",\"minimum\":1}", AC_EUNSUPPORTED, "\"minimum\"", "root" },
        { "{\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"x\"}}}", AC_EUNSUPPORTED,
          "\"pattern\"", "/properties/a" },
        { "{\"type\":\"string\",\"format\":\"date\"}", AC_EUNSUPPORTED, "\"format\"", "root" },
        { "{\"oneOf\":[{\"type\":\"string\"}]}", AC_EUNSUPPORTED, "\"oneOf\"", "root" },
        { "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}", AC_EUNSUPPORTED, "tuple",
          "root" },
        { "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":5000}}",
          AC_EUNSUPPORTED, "maxLength", "/items" },
        { "{\"type\":\"array\",\"uniqueItems\":true}", AC_EUNSUPPORTED, "uniqueItems", "root" },
        { "{\"type\":\"object\",\"anyOf\":[{}]}", AC_EUNSUPPORTED, "anyOf", "type" },
        { "{\"$ref\":\"http://example.com/s.json\"}", AC_EUNSUPPORTED, "$ref", "root" },
        { "{\"type\":\"strnig\"}", AC_EINVAL, "strnig", "root" },
        { "false", AC_EINVAL, "false", "root" },
        { "{\"type\":\"string\",\"enum\":[1,2]}", AC_EINVAL, "enum", "root" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *g = NULL, why[300] = "";
        CU_ASSERT_EQUAL(convert(bad[i].schema, &g, why, sizeof why), bad[i].st);
        CU_ASSERT_PTR_NULL(g);
        if (!strstr(why, bad[i].a) || !strstr(why, bad[i].b))
            fprintf(stderr, "schema %s: \"%s\" lacks %s or %s\n", bad[i].schema, why, bad[i].a,
                    bad[i].b);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].a));
        CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].b));
    }
}

static int gbnf_init(void)
{
    struct llama_model_params mp = llama_model_default_params();
    vocab_model = llama_model_load_from_file(TINY, mp);
    return vocab_model ? 0 : 1;
}

static int gbnf_clean(void)
{
    llama_model_free(vocab_model);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Suite "plugin"                                                       */
/* ------------------------------------------------------------------ */

static void test_greedy_stable(void)
{
    char *a = greedy("tiny", "Hello world", 32);
    char *b = greedy("tiny", "Hello world", 32);
    char *c = greedy("tiny", "Hello world", 32);
    char *other = greedy("tiny", "the lazy dog", 32);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    printf("\n  greedy: \"%s\"\n", a);
    CU_ASSERT(strlen(a) >= 32);
    TU_ASSERT_STR(b, a);
    TU_ASSERT_STR(c, a);
    CU_ASSERT(strcmp(a, other) != 0);
    free(a), free(b), free(c), free(other);

    /* Usage from the real counts, finish "length" at max_tokens. */
    ac_gen_params *p = params(32, 0);
    ac_error err;
    ac_response *r = ask("tiny", "tiny", "Hello world", p, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 32);
    /* <|im_start|>system ... : the ChatML prompt of "Hello world". */
    CU_ASSERT(ac_response_input_tokens(r) > 5);
    TU_ASSERT_STR(ac_response_finish_reason(r), "length");
    TU_ASSERT_STR(ac_response_raw_finish_reason(r), "max_tokens");
    TU_ASSERT_STR(ac_response_model(r), "tiny");
    ac_response_free(r);
}

static void test_seeded(void)
{
    char *t[3];
    long long seeds[3] = { 42, 42, 7 };
    for (int i = 0; i < 3; i++) {
        ac_gen_params *p = params(24, 1.0);
        ac_gen_params_set_seed(p, seeds[i]);
        ac_gen_params_set_top_p(p, 0.9);
        ac_error err;
        ac_response *r = ask("tiny", NULL, "Hello world", p, &err);
        ac_gen_params_free(p);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        t[i] = strdup(ac_response_content(r));
        ac_response_free(r);
    }
    TU_ASSERT_STR(t[1], t[0]);
    CU_ASSERT(strcmp(t[0], t[2]) != 0);
    char *g = greedy("tiny", "Hello world", 24);
    CU_ASSERT(g && strcmp(t[0], g) != 0); /* sampling, not greedy */
    free(g);
    for (int i = 0; i < 3; i++)
        free(t[i]);
}

static void test_programmed(void)
{
    ac_gen_params *p = params(0, 0);
    ac_error err;
    ac_response *r = ask("prog", NULL, "Write a poem about the sea.", p, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), PROGRAMMED);
    TU_ASSERT_STR(ac_response_finish_reason(r), "stop");
    TU_ASSERT_STR(ac_response_raw_finish_reason(r), "eos");
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), 10);
    ac_response_free(r);
}

static void test_streaming(void)
{
    ac_llm *l = llm_of("prog", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params *p = params(0, 0);
    ac_error err;
    ac_stream *s = ac_stream_open(l, "Hi", p, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char text[256] = "";
    int texts = 0, usage = 0, finish = 0, after_finish = 0;
    const ac_chunk *c;
    ac_status st;
    while ((st = ac_stream_next(s, &c, 10000)) == AC_OK) {
        if (finish)
            after_finish++;
        if (c->type == AC_EVENT_TEXT) {
            texts++;
            tu_append(text, sizeof text, c->text, c->len);
        } else if (c->type == AC_EVENT_USAGE) {
            usage++;
            CU_ASSERT_EQUAL(c->output_tokens, 10);
            CU_ASSERT(c->input_tokens > 0);
        } else if (c->type == AC_EVENT_FINISH) {
            finish++;
            TU_ASSERT_STR(c->finish_reason, "stop");
        }
    }
    CU_ASSERT_EQUAL(st, AC_EOF);
    TU_ASSERT_STR(text, PROGRAMMED);
    /* Token by token: one event each. */
    CU_ASSERT_EQUAL(texts, 10);
    CU_ASSERT_EQUAL(usage, 1);
    CU_ASSERT_EQUAL(finish, 1);
    CU_ASSERT_EQUAL(after_finish, 0);
    printf("\n  %d text events\n", texts);
    ac_stream_close(s);
    ac_llm_free(l);
}

static void stop_case(const char *stop, long max_tokens, const char *want, const char *finish,
                      const char *raw, long out_tokens)
{
    ac_gen_params *p = params(max_tokens, 0);
    if (stop)
        CU_ASSERT_EQUAL(ac_gen_params_add_stop(p, stop), AC_OK);
    ac_error err;
    ac_response *r = ask("prog", NULL, "Hi", p, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), want);
    TU_ASSERT_STR(ac_response_finish_reason(r), finish);
    TU_ASSERT_STR(ac_response_raw_finish_reason(r), raw);
    if (out_tokens >= 0)
        CU_ASSERT_EQUAL(ac_response_output_tokens(r), out_tokens);
    ac_response_free(r);
}

static void test_stop_and_length(void)
{
    /* "fox jum" spans the tokens " fox" and " jumps". */
    stop_case("fox jum", 0, "The quick brown ", "stop", "stop_string", 5);
    stop_case("lazy", 0, "The quick brown fox jumps over the ", "stop", "stop_string", 8);
    stop_case("The", 0, "", "stop", "stop_string", 1);
    /* A stop string that never comes. */
    stop_case("cat", 0, PROGRAMMED, "stop", "eos", 10);
    stop_case(NULL, 3, "The quick brown", "length", "max_tokens", 3);
    /* max_tokens and a stop string in the same token: the stop wins. */
    stop_case("brown", 3, "The quick ", "stop", "stop_string", 3);
}

/* ---- cancel ---- */

typedef struct watch {
    atomic_int text, done;
    ac_status  status;
} watch;

static void watch_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    if (c->type == AC_EVENT_TEXT)
        atomic_fetch_add(&((watch *)user)->text, 1);
}

static void watch_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    ((watch *)user)->status = st;
    atomic_store(&((watch *)user)->done, 1);
}

static const ac_callbacks WATCH = { .version = AC_CALLBACKS_VERSION, .on_event = watch_event,
                                    .on_done = watch_done };

static int has_text(void *ctx) { return atomic_load(&((watch *)ctx)->text) > 0; }

static long logged_tokens(const char *how)
{
    long n = -1;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < n_log; i++) {
        const char *at = strstr(log_lines[i], how);
        if (at && sscanf(at + strlen(how), " after %ld generated", &n) == 1)
            break;
    }
    pthread_mutex_unlock(&log_mu);
    return n;
}

static int cancel_logged(void *ctx)
{
    (void)ctx;
    return logged_tokens("request cancelled") >= 0;
}

static void test_cancel(void)
{
    ac_llm *l = llm_of("tiny", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    log_reset();
    ac_gen_params *p = params(0, 0); /* no limit: the context's 2048 */
    ac_gen_params_set_stream(p, 1);
    watch w = {0};
    ac_error err;
    ac_request *q = ac_agenerate(l, "Tell me a very long story.", p, &WATCH, &w, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FATAL(tu_wait_until(has_text, &w, 30000));
    double t0 = now_ms();
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_ECANCELED);
    CU_ASSERT_EQUAL(w.status, AC_ECANCELED);
    /* The caller is told at once; the plugin's run ends on its worker:
     * its line says the decode thread let go of the sequence because it
     * was cancelled (not "length": the 2048-token context full), and
     * after how many tokens (a few; hundreds under valgrind, as the first
     * event takes that long to reach this thread). */
    CU_ASSERT(tu_wait_until(cancel_logged, NULL, 10000));
    double took = now_ms() - t0;
    long n = logged_tokens("request cancelled");
    printf("\n  decoding stopped after %ld tokens, %.1f ms after the cancel\n", n, took);
    CU_ASSERT(n >= 1 && n < 2000);
    CU_ASSERT(took < 5000);
    ac_request_free(q);
    /* The model serves the next request as usual. */
    char *t = greedy("tiny", "Hello world", 8);
    CU_ASSERT_PTR_NOT_NULL(t);
    free(t);
    ac_llm_free(l);
}

/* The engine's timeouts hold for local runs: a total timeout far shorter
 * than the generation ends it with AC_ETIMEDOUT, and the decode thread
 * lets the sequence go (logged as cancelled, short of the full context). */
static void test_timeout(void)
{
    ac_llm *l = llm_of("tiny", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    log_reset();
    ac_gen_params *p = params(0, 0); /* no limit: the context's 2048 */
    ac_gen_params_set_stream(p, 1);
    CU_ASSERT_EQUAL(ac_gen_params_set_timeouts(p, -1, -1, -1, 100), AC_OK);
    ac_error err;
    double t0 = now_ms();
    ac_response *r = ac_generate(l, "Tell me a very long story.", p, &err);
    double took = now_ms() - t0;
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NULL(r);
    ac_response_free(r);
    CU_ASSERT_EQUAL(err.code, AC_ETIMEDOUT);
    CU_ASSERT(took < 5000);
    CU_ASSERT(tu_wait_until(cancel_logged, NULL, 10000));
    long n = logged_tokens("request cancelled");
    CU_ASSERT(n >= 0 && n < 2000);
    /* The model serves the next request as usual. */
    char *t = greedy("tiny", "Hello world", 8);
    CU_ASSERT_PTR_NOT_NULL(t);
    free(t);
    ac_llm_free(l);
}

/* ---- concurrency ---- */

/* With one sequence at a time (n_parallel 1), requests wait their turn
 * and are served in the order the application made them -- although the
 * core's worker threads reach the plugin in any order. */
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_order;

static void order_done(ac_request *q, ac_status st, void *user)
{
    (void)q, (void)st, (void)user;
    pthread_mutex_lock(&order_mu);
    n_order++;
    pthread_mutex_unlock(&order_mu);
}

/* ctx: how many "request queued" lines to wait for. */
static int queued_logged(void *ctx)
{
    int n = 0;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < n_log; i++)
        n += strstr(log_lines[i], "request queued") != NULL;
    pthread_mutex_unlock(&log_mu);
    return n >= *(int *)ctx;
}

static void test_queued_in_order(void)
{
    enum { N = 6 };
    static const ac_callbacks ORDER = { .version = AC_CALLBACKS_VERSION,
                                        .on_done = order_done };
    ac_llm *l = llm_of("serial", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_request *q[N];
    ac_error err;
    n_order = 0;
    log_reset();
    /* The first takes the one sequence, for up to the whole context ... */
    ac_gen_params *p = params(0, 0);
    q[0] = ac_agenerate(l, "Tell me a very long story.", p, &ORDER, (void *)(intptr_t)0, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q[0]);
    int want = 1;
    CU_ASSERT_FATAL(tu_wait_until(queued_logged, &want, 30000));
    /* ... while the others are made, at once, and wait in the plugin's
     * queue (each says so when it gets there, in whatever order the
     * worker threads bring them). */
    p = params(8, 0);
    char prompt[64] = "";
    for (int i = 1; i < N; i++) {
        /* Request i has a prompt of i words: its log line tells it apart. */
        strcat(prompt, " hello");
        q[i] = ac_agenerate(l, prompt, p, &ORDER, (void *)(intptr_t)i, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    ac_gen_params_free(p);
    want = N;
    CU_ASSERT_FATAL(tu_wait_until(queued_logged, &want, 60000));
    /* The first still holds the sequence: the others all waited. */
    CU_ASSERT_FATAL(!ac_request_done(q[0]));
    ac_request_cancel(q[0]);
    CU_ASSERT_EQUAL(ac_gather(q, N, 120000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q[0], &err), AC_ECANCELED);
    for (int i = 1; i < N; i++)
        CU_ASSERT_EQUAL(ac_request_status(q[i], &err), AC_OK);
    for (int i = 0; i < N; i++)
        ac_request_free(q[i]);
    pthread_mutex_lock(&order_mu);
    CU_ASSERT_EQUAL(n_order, N);
    pthread_mutex_unlock(&order_mu);
    /* The decode thread's admissions (its numbering, whatever order the
     * worker threads log in or the engine ends the requests in): by the
     * order the requests were made. */
    int tokens[N];
    unsigned long long ord;
    unsigned long adm[N];
    int n = 0;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < n_log && n < N; i++) {
        const char *at = strstr(log_lines[i], "request length after 8 generated tokens (prompt ");
        const char *o = strstr(log_lines[i], "; order ");
        if (at && o && sscanf(at, "request length after 8 generated tokens (prompt %d",
                              &tokens[n]) == 1 &&
            sscanf(o, "; order %llu, admitted %lu", &ord, &adm[n]) == 2)
            n++;
    }
    pthread_mutex_unlock(&log_mu);
    CU_ASSERT_EQUAL(n, N - 1);
    /* A longer prompt is a later request: admitted later. */
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            if (a != b)
                CU_ASSERT(tokens[a] != tokens[b]);
            if (tokens[a] < tokens[b])
                CU_ASSERT(adm[a] < adm[b]);
        }
    ac_llm_free(l);
}

static void test_concurrent(void)
{
    enum { N = 8 };
    const char *prompts[2] = { "Hello world", "the lazy dog" };
    char *alone[2];
    for (int i = 0; i < 2; i++) {
        alone[i] = greedy("tiny", prompts[i], 128);
        CU_ASSERT_PTR_NOT_NULL_FATAL(alone[i]);
    }
    ac_llm *l = llm_of("tiny", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    log_reset();
    ac_gen_params *p = params(128, 0);
    ac_request *q[N];
    ac_error err;
    double t0 = now_ms();
    for (int i = 0; i < N; i++) {
        q[i] = ac_agenerate(l, prompts[i % 2], p, NULL, NULL, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    ac_gen_params_free(p);
    CU_ASSERT_EQUAL(ac_gather(q, N, 60000), AC_OK);
    double took = now_ms() - t0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(ac_request_status(q[i], &err), AC_OK);
        ac_response *r = ac_request_take_response(q[i]);
        CU_ASSERT_PTR_NOT_NULL(r);
        if (r) {
            /* Decoded next to others, the same text as alone. */
            TU_ASSERT_STR(ac_response_content(r), alone[i % 2]);
            CU_ASSERT_EQUAL(ac_response_output_tokens(r), 128);
        }
        ac_response_free(r);
        ac_request_free(q[i]);
    }
    /* n_parallel 4: batches held up to 4 sequences, never more. */
    int most = 0, lines;
    pthread_mutex_lock(&log_mu);
    lines = 0;
    for (int i = 0; i < n_log; i++) {
        lines += strstr(log_lines[i], "generated tokens") != NULL;
        const char *at = strstr(log_lines[i], "shared by up to ");
        int k;
        if (at && sscanf(at, "shared by up to %d", &k) == 1 && k > most)
            most = k;
    }
    pthread_mutex_unlock(&log_mu);
    printf("\n  %d requests in %.0f ms, batches of up to %d sequences\n", N, took, most);
    CU_ASSERT_EQUAL(lines, N);
    CU_ASSERT(most >= 2 && most <= 4);
    free(alone[0]), free(alone[1]);
    ac_llm_free(l);
}

/* ---- structured output ---- */

static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"maxLength\":12},"
    "\"age\":{\"type\":\"integer\"},"
    "\"score\":{\"type\":\"number\"},"
    "\"ok\":{\"type\":\"boolean\"},"
    "\"nothing\":{\"type\":\"null\"},"
    "\"color\":{\"enum\":[\"red\",\"green\",\"blue\"]},"
    "\"kind\":{\"const\":\"point\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":5},"
    "\"maxItems\":3},"
    "\"pos\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"},"
    "\"y\":{\"type\":\"integer\"}},\"required\":[\"x\",\"y\"],"
    "\"additionalProperties\":false},"
    "\"note\":{\"type\":[\"string\",\"null\"],\"maxLength\":6},"
    "\"extra\":{\"type\":\"boolean\"}},"
    "\"required\":[\"name\",\"age\",\"score\",\"ok\",\"nothing\",\"color\",\"kind\",\"tags\","
    "\"pos\",\"note\"],\"additionalProperties\":false}";

static void test_schema(void)
{
    /* Greedy, then sampled with four seeds: whatever the random weights
     * pick, the grammar keeps it valid (one attempt: no retry hides a
     * failure). */
    for (int i = 0; i < 5; i++) {
        ac_gen_params *p = params(400, i == 0 ? 0.0 : 1.0);
        if (i)
            ac_gen_params_set_seed(p, i);
        ac_error err;
        CU_ASSERT_EQUAL_FATAL(ac_gen_params_set_json_schema(p, "thing", SCHEMA, &err), AC_OK);
        ac_gen_params_set_schema_attempts(p, 1);
        ac_response *r = ask("tiny", NULL, "Describe a thing as JSON.", p, &err);
        ac_gen_params_free(p);
        if (!r)
            fprintf(stderr, "schema run %d: %s\n", i, err.message);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        TU_ASSERT_STR(ac_response_finish_reason(r), "stop");
        const char *doc = ac_response_json_text(r);
        CU_ASSERT_PTR_NOT_NULL(doc);
        if (i == 0)
            printf("\n  %s\n", doc ? doc : "(none)");
        json_object *j = doc ? json_tokener_parse(doc) : NULL;
        CU_ASSERT_PTR_NOT_NULL(j);
        TU_ASSERT_STR(tu_jstr(j, "kind"), "point");
        CU_ASSERT(tu_jhas(j, "pos.x") && tu_jhas(j, "pos.y"));
        json_object_put(j);
        ac_response_free(r);
    }
}

static void test_schema_refused(void)
{
    ac_gen_params *p = params(20, 0);
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_set_json_schema(
                              p, "n", "{\"type\":\"integer\",\"minimum\":3}", &err), AC_OK);
    ac_response *r = ask("tiny", NULL, "A number.", p, &err);
    ac_gen_params_free(p);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "minimum"));
    ac_response_free(r);
}

/* ---- prompts, tools, templates ---- */

static long input_tokens(const char *provider, ac_gen_params *p, ac_status *st)
{
    ac_error err;
    ac_response *r = ask(provider, NULL, "Hi", p, &err);
    *st = r ? AC_OK : err.code;
    if (!r)
        fprintf(stderr, "%s: %s\n", provider, err.message);
    long n = r ? ac_response_input_tokens(r) : -1;
    ac_response_free(r);
    return n;
}

static void test_tools_prompted(void)
{
    ac_status st;
    ac_gen_params *p = params(0, 0);
    long plain = input_tokens("prog", p, &st);
    CU_ASSERT_EQUAL(st, AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_set_system(p, "You are terse."), AC_OK);
    long with_system = input_tokens("prog", p, &st);
    CU_ASSERT_EQUAL(st, AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_add_tool(p, "get_weather", "The weather in a city.",
                                           "{\"type\":\"object\",\"properties\":{\"city\":"
                                           "{\"type\":\"string\"}},\"required\":[\"city\"]}"),
                    AC_OK);
    /* The core's prompted mode: the tools reach the model in the system
     * prompt it builds, through the chat template. */
    long with_tools = input_tokens("prog", p, &st);
    CU_ASSERT_EQUAL(st, AC_OK);
    printf("\n  input tokens: %ld plain, %ld with a system prompt, %ld with a tool\n", plain,
           with_system, with_tools);
    CU_ASSERT(with_system > plain);
    CU_ASSERT(with_tools > with_system + 20);
    /* Native tools are not this plugin's. */
    CU_ASSERT_EQUAL(ac_gen_params_set_tool_mode(p, AC_TOOL_MODE_NATIVE), AC_OK);
    input_tokens("prog", p, &st);
    CU_ASSERT_EQUAL(st, AC_EUNSUPPORTED);
    ac_gen_params_free(p);
}

static void test_templates(void)
{
    ac_status st;
    ac_gen_params *p = params(4, 0);
    long chatml = input_tokens("prog", p, &st);
    long llama3 = input_tokens("llama3", p, &st);
    CU_ASSERT_EQUAL(st, AC_OK);
    CU_ASSERT(llama3 > 0 && llama3 != chatml);
    ac_gen_params_free(p);
    ac_error err;
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "badtmpl", NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "chat_template"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no-such-template"));
}

static void test_too_long(void)
{
    char prompt[2048] = "";
    for (int i = 0; i < 60; i++)
        strcat(prompt, "word ");
    ac_error err;
    ac_response *r = ask("small", NULL, prompt, NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "n_ctx"));
    /* A short one fits; the context ends the reply when it is full. */
    r = ask("small", NULL, "Hi", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ac_response_free(r);
    /* More context than the model was trained for. */
    r = ask("toobig", NULL, "Hi", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "trained for"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, TINY_PROGRAMMED));
}

/* ---- files ---- */

static void expect_fail(const char *provider, const char *model, ac_status code,
                        const char *text, const char *path)
{
    ac_error err;
    ac_response *r = ask(provider, model, "Hi", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    ac_response_free(r);
    if (err.code != code || !strstr(err.message, text) || (path && !strstr(err.message, path)))
        fprintf(stderr, "%s/%s: %s (%s)\n", provider, model ? model : "", err.message,
                ac_strerror(err.code));
    CU_ASSERT_EQUAL(err.code, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, text));
    if (path)
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
}

static void test_bad_files(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/broken.gguf", folder);
    expect_fail("folder", "broken", AC_EIO, "could not load", path);
    snprintf(path, sizeof path, "%s/notgguf.gguf", folder);
    expect_fail("folder", "notgguf", AC_ECONFIG, "not a GGUF file", path);
    snprintf(path, sizeof path, "%s/nope.gguf", folder);
    expect_fail("folder", "nope", AC_ECONFIG, "does not exist", path);
    expect_fail("folder", "../tiny", AC_EINVAL, "not a file name", folder);
    expect_fail("folder", NULL, AC_EINVAL, "holds 4 models", folder);
    expect_fail("prog", "other", AC_EINVAL, "not served here", TINY_PROGRAMMED);
    /* A model_path that does not exist: the provider is refused. */
    ac_error err;
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "missing", NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    snprintf(path, sizeof path, "%s/missing.gguf", folder);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
    /* The folder's good models still work. */
    ac_response *r = ask("folder", "tiny-programmed", "Hi", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    TU_ASSERT_STR(ac_response_content(r), PROGRAMMED);
    TU_ASSERT_STR(ac_response_model(r), "tiny-programmed");
    ac_response_free(r);
}

static void test_list_models(void)
{
    ac_llm *l = llm_of("folder", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_error err;
    ac_models *m = ac_list_models(l, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    static const char *const want[] = { "broken", "notgguf", "tiny", "tiny-programmed" };
    CU_ASSERT_EQUAL(ac_models_count(m), 4);
    for (size_t i = 0; i < 4 && i < ac_models_count(m); i++)
        TU_ASSERT_STR(ac_models_id(m, i), want[i]);
    ac_models_free(m);
    ac_llm_free(l);
    l = llm_of("prog", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    m = ac_list_models(l, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(ac_models_count(m), 1);
    TU_ASSERT_STR(ac_models_id(m, 0), "tiny-programmed");
    ac_models_free(m);
    ac_llm_free(l);
}

/* ---- for the record ---- */

static long rss_kib(void)
{
    long pages = 0, rss = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = -1;
    if (f)
        fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Tokens per second of the tiny model, alone and four at once, and the
 * memory of loading it (docs/providers/llamacpp.md quotes them; nothing
 * is asserted on speed). */
/* ------------------------------------------------------------------ */
/* Embeddings (run_embed)                                              */
/* ------------------------------------------------------------------ */

/* ac_embed of n texts on provider `name` (NULL on failure, with *err). */
static ac_embeddings *embed(const char *name, const char *const *texts, size_t n,
                            size_t dimensions, ac_error *err)
{
    ac_llm *l = llm_of(name, NULL);
    if (!l) {
        err->code = AC_EPLUGIN;
        return NULL;
    }
    ac_embed_params p = { .version = AC_EMBED_PARAMS_VERSION, .dimensions = dimensions };
    ac_embeddings *e = ac_embed(l, texts, n, &p, err);
    ac_llm_free(l);
    return e;
}

static double norm_of(const float *v, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += (double)v[k] * v[k];
    return sqrt(s);
}

/* The tokens the tiny model makes of a text, as the plugin counts them. */
static long count_tokens(const char *text)
{
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *m = llama_model_load_from_file(TINY, mp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    int32_t n = -llama_tokenize(llama_model_get_vocab(m), text, (int32_t)strlen(text), NULL, 0,
                                true, false);
    llama_model_free(m);
    return n;
}

static void test_embed_vectors(void)
{
    const char *texts[] = { "Hello world", "the lazy dog", "Hello world",
                            "caf\xc3\xa9 \xe2\x9c\x93" };
    ac_error err;
    ac_embeddings *e = embed("tiny", texts, 4, 0, &err);
    if (!e)
        fprintf(stderr, "ac_embed: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(ac_embeddings_count(e), 4);
    CU_ASSERT_EQUAL(ac_embeddings_dimension(e), 64); /* the tiny model's n_embd */
    TU_ASSERT_STR(ac_embeddings_model(e), "tiny");
    TU_ASSERT_STR(ac_embeddings_provider(e), "tiny");
    CU_ASSERT_EQUAL(ac_embeddings_batches(e), 1);
    long want = 0;
    for (int i = 0; i < 4; i++)
        want += count_tokens(texts[i]);
    CU_ASSERT(want >= 4);
    CU_ASSERT_EQUAL(ac_embeddings_input_tokens(e), want);
    for (size_t i = 0; i < 4; i++) {
        const float *v = ac_embeddings_vector(e, i);
        for (size_t k = 0; k < 64; k++)
            CU_ASSERT(isfinite(v[k]));
        /* L2-normalised by default. */
        CU_ASSERT(fabs(norm_of(v, 64) - 1.0) < 1e-5);
    }
    size_t sz = 64 * sizeof(float);
    /* The same text, the same vector; another text, another. */
    CU_ASSERT_EQUAL(memcmp(ac_embeddings_vector(e, 0), ac_embeddings_vector(e, 2), sz), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(ac_embeddings_vector(e, 0), ac_embeddings_vector(e, 1), sz), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(ac_embeddings_vector(e, 1), ac_embeddings_vector(e, 3), sz), 0);
    /* Across calls, alone or with others: the same bits. */
    ac_embeddings *again = embed("tiny", texts + 1, 1, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT_EQUAL(memcmp(ac_embeddings_vector(again, 0), ac_embeddings_vector(e, 1), sz), 0);
    ac_embeddings_free(again);
    /* dimensions: the model's own size is fine; another is refused. */
    again = embed("tiny", texts, 1, 64, &err);
    CU_ASSERT_PTR_NOT_NULL(again);
    ac_embeddings_free(again);
    again = embed("tiny", texts, 1, 32, &err);
    CU_ASSERT_PTR_NULL(again);
    CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dimensions 32"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "64 values"));

    /* embed_normalize = false: the raw pooled output, same direction. */
    ac_embeddings *raw = embed("embraw", texts, 2, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    for (size_t i = 0; i < 2; i++) {
        const float *r = ac_embeddings_vector(raw, i), *v = ac_embeddings_vector(e, i);
        double n = norm_of(r, 64);
        CU_ASSERT(fabs(n - 1.0) > 1e-3);
        for (size_t k = 0; k < 64; k++)
            CU_ASSERT(fabs(r[k] / n - v[k]) < 1e-5);
    }
    ac_embeddings_free(raw);
    /* embed_pooling = "last": the last token's state, not the mean. */
    ac_embeddings *last = embed("emblast", texts, 2, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last);
    CU_ASSERT_NOT_EQUAL(memcmp(ac_embeddings_vector(last, 1), ac_embeddings_vector(e, 1), sz), 0);
    CU_ASSERT(fabs(norm_of(ac_embeddings_vector(last, 1), 64) - 1.0) < 1e-5);
    ac_embeddings_free(last);
    ac_embeddings_free(e);
    /* A pooling that is not one. */
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "badpool", NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "embed_pooling"));
    /* More sequences than a batch holds tokens: refused, not overrun. */
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "badbatch", NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "n_parallel 4 is more than n_batch 2"));
}

/* A model without a pooling of its own (the programmed one, as a chat
 * model): embed_pooling "model" falls back to the mean of its tokens, said
 * once in the log, and gives exactly what "mean" asked for gives. */
static int nopool_logged(void)
{
    int found = 0;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < n_log && !found; i++)
        found = strstr(log_lines[i], "tiny-programmed has no pooling of its own") != NULL;
    pthread_mutex_unlock(&log_mu);
    return found;
}

static void test_embed_no_pooling(void)
{
    const char *texts[] = { "Hello world", "the lazy dog" };
    ac_error err;
    log_reset();
    ac_embeddings *dflt = embed("prog", texts, 2, 0, &err);
    if (!dflt)
        fprintf(stderr, "ac_embed: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dflt);
    CU_ASSERT_TRUE(nopool_logged());
    ac_embeddings *mean = embed("progmean", texts, 2, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mean);
    size_t sz = 64 * sizeof(float);
    for (size_t i = 0; i < 2; i++) {
        CU_ASSERT(fabs(norm_of(ac_embeddings_vector(dflt, i), 64) - 1.0) < 1e-5);
        CU_ASSERT_EQUAL(memcmp(ac_embeddings_vector(dflt, i), ac_embeddings_vector(mean, i), sz),
                        0);
    }
    CU_ASSERT_NOT_EQUAL(memcmp(ac_embeddings_vector(dflt, 0), ac_embeddings_vector(dflt, 1), sz),
                        0);
    ac_embeddings_free(dflt);
    ac_embeddings_free(mean);
}

static void test_embed_order(void)
{
    enum { N = 40 };
    char buf[N][64];
    const char *texts[N];
    for (int i = 0; i < N; i++) {
        /* Some texts repeat: 0, 13, 26, 39 are the same. */
        snprintf(buf[i], sizeof buf[i], "text number %d of the tiny model", i % 13);
        texts[i] = buf[i];
    }
    ac_error err;
    /* embed_max_batch = 3: 14 batches, 4 at a time, on one context. */
    ac_embeddings *e = embed("emb3", texts, N, 0, &err);
    if (!e)
        fprintf(stderr, "ac_embed: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(ac_embeddings_count(e), N);
    CU_ASSERT_EQUAL(ac_embeddings_batches(e), 14);
    long want = 0;
    for (int i = 0; i < N; i++)
        want += count_tokens(texts[i]);
    CU_ASSERT_EQUAL(ac_embeddings_input_tokens(e), want);
    /* Each vector is its own text's, as embedded alone. */
    for (int i = 0; i < 13; i++) {
        ac_embeddings *one = embed("tiny", texts + i, 1, 0, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(one);
        for (int j = i; j < N; j += 13)
            CU_ASSERT_EQUAL(memcmp(ac_embeddings_vector(e, (size_t)j),
                                   ac_embeddings_vector(one, 0), 64 * sizeof(float)), 0);
        ac_embeddings_free(one);
    }
    CU_ASSERT_NOT_EQUAL(memcmp(ac_embeddings_vector(e, 0), ac_embeddings_vector(e, 1),
                               64 * sizeof(float)), 0);
    ac_embeddings_free(e);
}

static void test_embed_too_long(void)
{
    /* "tiny" embeds at most n_batch (512) tokens a text. */
    static char longtext[4000];
    longtext[0] = '\0';
    for (int i = 0; i < 600; i++)
        strcat(longtext, "x ");
    const char *texts[] = { "Hello", longtext, "world" };
    long n = count_tokens(longtext);
    CU_ASSERT(n > 512);
    ac_error err;
    ac_embeddings *e = embed("tiny", texts, 3, 0, &err);
    CU_ASSERT_PTR_NULL(e);
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    char want[64];
    snprintf(want, sizeof want, "text 1 of the batch is %ld tokens", n);
    if (!strstr(err.message, want))
        fprintf(stderr, "too long: %s\n", err.message);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "at most 512"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "n_batch"));
    /* With n_batch 2048 it fits. */
    e = embed("embbig", texts, 3, 0, &err);
    CU_ASSERT_PTR_NOT_NULL(e);
    ac_embeddings_free(e);
}

static int embed_started(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&log_mu);
    int yes = 0;
    for (int i = 0; i < n_log && !yes; i++)
        yes = strstr(log_lines[i], "embedding 1000 texts") != NULL;
    pthread_mutex_unlock(&log_mu);
    return yes;
}

/* "embedding cancelled after K of N texts": K, or -1. */
static long embed_cancelled_after(void)
{
    long k = -1;
    pthread_mutex_lock(&log_mu);
    for (int i = 0; i < n_log && k < 0; i++) {
        const char *at = strstr(log_lines[i], "embedding cancelled after ");
        if (at && sscanf(at + strlen("embedding cancelled after "), "%ld", &k) != 1)
            k = -1;
    }
    pthread_mutex_unlock(&log_mu);
    return k;
}

static int embed_cancel_logged(void *ctx)
{
    (void)ctx;
    return embed_cancelled_after() >= 0;
}

static void test_embed_cancel(void)
{
    /* 1000 texts of about 100 tokens in one batch (embed_max_batch 1000):
     * seconds of work on one thread, so it is still running when
     * cancelled, and one text is short enough (milliseconds; under
     * valgrind under a second) for the check between texts to be seen. */
    enum { N = 1000 };
    static char longtext[220];
    longtext[0] = '\0';
    for (int i = 0; i < 50; i++)
        strcat(longtext, "x ");
    const char *texts[N];
    for (int i = 0; i < N; i++)
        texts[i] = longtext;
    ac_llm *l = llm_of("embcancel", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    log_reset();
    watch w = {0};
    ac_error err;
    ac_request *q = ac_aembed(l, texts, N, NULL, &WATCH, &w, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FATAL(tu_wait_until(embed_started, NULL, 30000));
    double t0 = now_ms();
    ac_request_cancel(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 10000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_ECANCELED);
    /* The plugin stops between texts, before the end of its batch. */
    CU_ASSERT(tu_wait_until(embed_cancel_logged, NULL, 10000));
    long k = embed_cancelled_after();
    double took = now_ms() - t0;
    printf("\n  embedding stopped after %ld of 1000 texts, %.1f ms after the cancel\n", k, took);
    CU_ASSERT(k >= 0 && k < 1000);
    CU_ASSERT(took < 5000);
    ac_request_free(q);
    /* The context was let go: the next call is served. */
    const char *one[] = { "Hello world" };
    ac_embeddings *e = ac_embed(l, one, 1, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(e);
    ac_embeddings_free(e);
    ac_llm_free(l);
}

static void test_embed_measure(void)
{
    enum { N = 256 };
    char buf[N][80];
    const char *texts[N];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "The quick brown fox %d jumps over the lazy dog.", i);
        texts[i] = buf[i];
    }
    ac_error err;
    ac_embeddings *e = embed("tiny", texts, 1, 0, &err); /* the context made */
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    ac_embeddings_free(e);
    double t0 = now_ms();
    e = embed("tiny", texts, N, 0, &err);
    double took = now_ms() - t0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    long tokens = ac_embeddings_input_tokens(e);
    printf("\n  %d short texts (%ld tokens) in %.1f ms: %.0f texts/s, %.0f tokens/s\n", N,
           tokens, took, N * 1000.0 / took, tokens * 1000.0 / took);
    ac_embeddings_free(e);
    static char longtext[1100];
    longtext[0] = '\0';
    for (int i = 0; i < 250; i++)
        strcat(longtext, "x ");
    const char *longs[16];
    for (int i = 0; i < 16; i++)
        longs[i] = longtext;
    t0 = now_ms();
    e = embed("tiny", longs, 16, 0, &err);
    took = now_ms() - t0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    tokens = ac_embeddings_input_tokens(e);
    printf("  16 texts of %ld tokens in %.1f ms: %.0f texts/s, %.0f tokens/s\n", tokens / 16,
           took, 16 * 1000.0 / took, tokens * 1000.0 / took);
    ac_embeddings_free(e);
}


static void test_measure(void)
{
    enum { TOKENS = 256, PAR = 4 };
    ac_llm *l = llm_of("measure", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    long before = rss_kib();
    ac_gen_params *p = params(TOKENS, 0);
    ac_error err;
    double t0 = now_ms();
    ac_response *r = ac_generate(l, "Tell me a long story.", p, &err);
    double one = now_ms() - t0;
    long after = rss_kib();
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ac_response_output_tokens(r), TOKENS);
    ac_response_free(r);
    /* Again, loaded: the generation alone. */
    t0 = now_ms();
    r = ac_generate(l, "Tell me a long story.", p, &err);
    one = now_ms() - t0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ac_response_free(r);
    ac_request *q[PAR];
    t0 = now_ms();
    for (int i = 0; i < PAR; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i] = ac_agenerate(l, "Tell me a long story.", p, NULL,
                                                         NULL, &err));
    CU_ASSERT_EQUAL(ac_gather(q, PAR, 120000), AC_OK);
    double par = now_ms() - t0;
    for (int i = 0; i < PAR; i++)
        ac_request_free(q[i]);
    ac_gen_params_free(p);
    printf("\n  measure: %d tokens alone in %.0f ms (%.0f tok/s), %d x %d at once in %.0f ms "
           "(%.0f tok/s in all), 1 thread; RSS +%ld KiB for loading the model and a context "
           "of 4 x 2048 tokens\n", TOKENS, one, TOKENS * 1e3 / one, PAR, TOKENS, par,
           PAR * TOKENS * 1e3 / par, after - before);
    ac_llm_free(l);
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static int plugin_init(void)
{
    snprintf(folder, sizeof folder, "/tmp/acllamacpp-XXXXXX");
    if (!mkdtemp(folder))
        return 1;
    char a[128], b[128], c[128], d[128], e[128];
    snprintf(a, sizeof a, "%s/tiny.gguf", folder);
    snprintf(b, sizeof b, "%s/tiny-programmed.gguf", folder);
    snprintf(c, sizeof c, "%s/broken.gguf", folder);
    snprintf(d, sizeof d, "%s/notgguf.gguf", folder);
    snprintf(e, sizeof e, "%s/readme.txt", folder);
    if (copy_file(TINY, a, (size_t)-1) || copy_file(TINY_PROGRAMMED, b, (size_t)-1) ||
        copy_file(TINY, c, 100000) || write_text(d, "This is not a model.\n") ||
        write_text(e, "models live here\n"))
        return 1;
    char conf[8192];
    snprintf(conf, sizeof conf,
             "abstractcore = { plugin_path = [ \"%s\" ]; engine = { workers = 12; }; };\n"
             "providers = (\n"
             " { name = \"tiny\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_ctx = 2048; n_parallel = 4; },\n"
             " { name = \"prog\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_ctx = 1024; n_parallel = 2; },\n"
             " { name = \"folder\"; plugin = \"llamacpp\"; model_path = \"%s/\"; n_threads = 1;"
             "   n_ctx = 256; n_parallel = 1; },\n"
             " { name = \"small\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_ctx = 32; n_parallel = 1; },\n"
             " { name = \"toobig\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_ctx = 4096; },\n"
             " { name = \"llama3\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_ctx = 256; n_parallel = 1; chat_template = \"llama3\"; },\n"
             " { name = \"badtmpl\"; plugin = \"llamacpp\"; model_path = \"%s\";"
             "   chat_template = \"no-such-template\"; },\n"
             " { name = \"missing\"; plugin = \"llamacpp\"; model_path = \"%s/missing.gguf\"; },\n"
             " { name = \"measure\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_ctx = 2048; n_parallel = 4; },\n"
             " { name = \"emb3\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_parallel = 1; embed_max_batch = 3; embed_parallel = 4; },\n"
             " { name = \"embraw\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_parallel = 1; embed_normalize = false; },\n"
             " { name = \"emblast\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_parallel = 1; embed_pooling = \"last\"; },\n"
             " { name = \"embbig\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_parallel = 1; n_ctx = 2048; n_batch = 2048; },\n"
             " { name = \"embcancel\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_parallel = 1; embed_max_batch = 1000; },\n"
             " { name = \"badpool\"; plugin = \"llamacpp\"; model_path = \"%s\";"
             "   embed_pooling = \"max\"; },\n"
             " { name = \"progmean\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_parallel = 1; embed_pooling = \"mean\"; },\n"
             " { name = \"serial\"; plugin = \"llamacpp\"; model_path = \"%s\"; n_threads = 1;"
             "   n_ctx = 2048; n_parallel = 1; },\n"
             " { name = \"badbatch\"; plugin = \"llamacpp\"; model_path = \"%s\";"
             "   n_batch = 2; n_parallel = 4; }\n"
             ");\n",
             PLUGIN_DIR, TINY, TINY_PROGRAMMED, folder, TINY_PROGRAMMED, TINY_PROGRAMMED,
             TINY_PROGRAMMED, TINY_PROGRAMMED, folder, TINY, TINY, TINY, TINY, TINY, TINY, TINY,
             TINY_PROGRAMMED, TINY, TINY);
    char *path = tu_write_temp(conf);
    ac_error err;
    int rc = ac_core_open(&core, path, &err) == AC_OK ? 0 : 1;
    if (rc)
        fprintf(stderr, "ac_core_open: %s\n", err.message);
    unlink(path);
    free(path);
    return rc;
}

static int plugin_clean(void)
{
    ac_core_close(core);
    core = NULL;
    const char *names[] = { "tiny.gguf", "tiny-programmed.gguf", "broken.gguf", "notgguf.gguf",
                            "readme.txt" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", folder, names[i]);
        unlink(p);
    }
    rmdir(folder);
    return 0;
}

int main(void)
{
    if (access(TINY, R_OK) != 0 || access(TINY_PROGRAMMED, R_OK) != 0) {
        printf("SKIP: no test models in %s: configure found no Python 3 with "
               "numpy, PyYAML and llama.cpp's gguf-py to write them\n", MODEL_DIR);
        return 77;
    }
    lc_host = ac__host_api();
    llama_log_set(quiet_log, NULL); /* until the plugin sets its own */
    ac_log_set_handler(on_log, NULL);
    ac_log_set_level(AC_LOG_DEBUG);
    llama_backend_init();
    static const tu_test text[] = {
        { "stop strings across pieces", test_text_stops },
        { "whole UTF-8 characters only", test_text_utf8 },
    };
    static const tu_test gbnf[] = {
        { "exact grammars", test_gbnf_exact },
        { "accepted schemas parse in libllama", test_gbnf_accepted },
        { "refusals name the keyword", test_gbnf_refused },
    };
    static const tu_test plugin_tests[] = {
        { "greedy output is the same every run", test_greedy_stable },
        { "seeded sampling", test_seeded },
        { "the programmed model's answer", test_programmed },
        { "streaming events", test_streaming },
        { "stop strings and max_tokens", test_stop_and_length },
        { "cancel mid-generation", test_cancel },
        { "a total timeout ends a local run", test_timeout },
        { "8 concurrent requests", test_concurrent },
        { "one sequence at a time: served in order", test_queued_in_order },
        { "schema-constrained output validates", test_schema },
        { "a schema keyword the grammar cannot keep", test_schema_refused },
        { "tools through the prompted mode", test_tools_prompted },
        { "chat templates", test_templates },
        { "prompt and context too large", test_too_long },
        { "missing, corrupt and non-GGUF files", test_bad_files },
        { "a folder of models is listed", test_list_models },
        { "measure", test_measure },
        { "embeddings: vectors, usage, pooling, dimensions", test_embed_vectors },
        { "embeddings: a model without a pooling of its own", test_embed_no_pooling },
        { "embeddings: 40 texts in 14 batches, in order", test_embed_order },
        { "embeddings: a text too long", test_embed_too_long },
        { "embeddings: cancel", test_embed_cancel },
        { "embeddings: measure", test_embed_measure },
    };
    if (CU_initialize_registry() != CUE_SUCCESS || TU_ADD_SUITE("text", NULL, NULL, text) ||
        TU_ADD_SUITE("gbnf", gbnf_init, gbnf_clean, gbnf) ||
        TU_ADD_SUITE("plugin", plugin_init, plugin_clean, plugin_tests))
        return 2;
    int rc = tu_run_suites();
    llama_backend_free();
    return rc;
}
