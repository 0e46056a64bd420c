/*
 * smoke.c -- libllama smoke test: proves that the libllama this tree was
 * configured with (--with-llama, pkg-config llama, or .ci/deps's
 * _deps/llama) builds, links and runs, with the C calls the llamacpp
 * plugin will make.
 *
 * It uses the tiny models tests/llama/make-tiny-gguf.py writes into the
 * build tree (tests/llama/tiny.gguf, random weights; tiny-programmed.gguf,
 * which answers every ChatML prompt with PROGRAMMED_TEXT) and checks:
 * loading with mmap and reading the metadata, the chat template from the
 * metadata through llama_chat_apply_template, tokenizing, greedy decoding
 * (same 16 tokens twice; the programmed answer and its end of
 * generation), two sequences decoded in one batch giving what each gives
 * alone, a GBNF grammar sampler, pooled embeddings, and that a truncated
 * GGUF, a file that is not GGUF and a missing file fail cleanly.  The
 * "measure" test prints the memory an n_ctx 512 context takes and the
 * tokens per second (for the record; nothing is asserted on speed).
 *
 * Relies only on libllama's C API (llama.h) and CUnit.  Exit 77 (SKIP)
 * when the models were not generated (configure found no Python with
 * numpy, PyYAML and gguf-py).  Set ACORE_LLAMA_LOG=1 to see libllama's log
 * (otherwise errors only).
 */
#include "testutil.h"

#include <CUnit/Basic.h>
#include <llama.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MODEL_DIR TEST_BUILDDIR "/tests/llama"
#define TINY MODEL_DIR "/tiny.gguf"
#define TINY_PROGRAMMED MODEL_DIR "/tiny-programmed.gguf"
#define PROGRAMMED_TEXT "The quick brown fox jumps over the lazy dog."
#define PROGRAMMED_TOKENS 10
#define N_CTX 512
#define MAXTOK 512

static struct llama_model *tiny;       /* random weights, loaded once */
static const struct llama_vocab *vocab;

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static void quiet_log(enum ggml_log_level level, const char *text, void *data)
{
    (void)data;
    if (level == GGML_LOG_LEVEL_ERROR || getenv("ACORE_LLAMA_LOG"))
        fputs(text, stderr);
}

static struct llama_model *load(const char *path)
{
    struct llama_model_params mp = llama_model_default_params();
    mp.load_mode = LLAMA_LOAD_MODE_MMAP;
    mp.n_gpu_layers = 0;
    return llama_model_load_from_file(path, mp);
}

static struct llama_context *new_ctx(struct llama_model *m, uint32_t n_seq_max, int embeddings)
{
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_batch = N_CTX;
    cp.n_ubatch = N_CTX;
    cp.n_seq_max = n_seq_max;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    cp.embeddings = embeddings != 0;
    cp.no_perf = false;
    return llama_init_from_model(m, cp);
}

/* The ChatML prompt for one user message, through the model's template. */
static int chat_prompt(const struct llama_model *m, const char *user, char *buf, int cap)
{
    const char *tmpl = llama_model_chat_template(m, NULL);
    if (!tmpl)
        return -1;
    llama_chat_message msgs[2] = {
        { "system", "You are terse." },
        { "user", user },
    };
    return llama_chat_apply_template(tmpl, msgs, 2, true, buf, cap);
}

static int tokenize(const char *text, llama_token *out, int cap)
{
    return llama_tokenize(vocab, text, (int32_t)strlen(text), out, cap,
                          true, true);
}

static void batch_add(llama_batch *b, llama_token t, llama_pos pos,
                      llama_seq_id seq, int logits)
{
    int i = b->n_tokens++;
    b->token[i] = t;
    b->pos[i] = pos;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = (int8_t)(logits != 0);
}

/* Text of tokens as a streaming plugin builds it, piece by piece (control
 * tokens render as nothing). */
static void detok(const struct llama_vocab *v, const llama_token *t, int n,
                  char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        char piece[64];
        int len = llama_token_to_piece(v, t[i], piece, sizeof piece, 0, false);
        if (len > 0)
            tu_append(buf, cap, piece, (size_t)len);
    }
}

/*
 * Decode the prompt in ctx's sequence 0 and sample up to n_max tokens with
 * smpl (greedy when NULL) into out; stops after an end-of-generation token
 * when stop_at_eog (the token is stored).  Returns the count, -1 when a
 * decode fails.
 */
static int generate(struct llama_context *ctx, const llama_token *prompt, int n_prompt,
                    int n_max, llama_token *out, struct llama_sampler *smpl,
                    int stop_at_eog)
{
    struct llama_sampler *own = NULL;
    if (!smpl) {
        own = llama_sampler_chain_init(llama_sampler_chain_default_params());
        llama_sampler_chain_add(own, llama_sampler_init_greedy());
        smpl = own;
    }
    llama_batch b = llama_batch_init(N_CTX, 0, 1);
    int n = 0;
    llama_pos pos = 0;
    for (int i = 0; i < n_prompt; i++)
        batch_add(&b, prompt[i], pos++, 0, i == n_prompt - 1);
    while (n < n_max) {
        if (llama_decode(ctx, b) != 0) {
            n = -1;
            break;
        }
        llama_token t = llama_sampler_sample(smpl, ctx, b.n_tokens - 1);
        out[n++] = t;
        if (stop_at_eog && llama_vocab_is_eog(vocab, t))
            break;
        b.n_tokens = 0;
        batch_add(&b, t, pos++, 0, 1);
    }
    llama_batch_free(b);
    if (own)
        llama_sampler_free(own);
    return n;
}

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void test_metadata(void)
{
    CU_ASSERT_EQUAL(llama_model_n_embd(tiny), 64);
    CU_ASSERT_EQUAL(llama_model_n_layer(tiny), 2);
    CU_ASSERT_EQUAL(llama_model_n_head(tiny), 4);
    CU_ASSERT_EQUAL(llama_model_n_head_kv(tiny), 2);
    CU_ASSERT_EQUAL(llama_model_n_ctx_train(tiny), 2048);
    CU_ASSERT_EQUAL(llama_vocab_n_tokens(vocab), 433);
    CU_ASSERT_EQUAL(llama_vocab_type(vocab), LLAMA_VOCAB_TYPE_SPM);
    CU_ASSERT_FALSE(llama_vocab_get_add_bos(vocab));
    CU_ASSERT_TRUE(llama_vocab_is_eog(vocab, 4));   /* <|im_end|> */
    CU_ASSERT_TRUE(llama_vocab_is_eog(vocab, llama_vocab_eos(vocab)));
    CU_ASSERT_FALSE(llama_vocab_is_eog(vocab, 3));  /* <|im_start|> */
    char name[64];
    CU_ASSERT(llama_model_meta_val_str(tiny, "general.name", name, sizeof name) > 0);
    TU_ASSERT_STR(name, "tiny-random");
    const char *tmpl = llama_model_chat_template(tiny, NULL);
    CU_ASSERT_PTR_NOT_NULL(tmpl);
    CU_ASSERT(tmpl && strstr(tmpl, "<|im_start|>") != NULL);
}

static void test_chat_template(void)
{
    char buf[512];
    int n = chat_prompt(tiny, "Hi", buf, sizeof buf);
    const char *want = "<|im_start|>system\nYou are terse.<|im_end|>\n"
                       "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    CU_ASSERT_EQUAL(n, (int)strlen(want));
    if (n > 0 && n < (int)sizeof buf) {
        buf[n] = '\0';
        TU_ASSERT_STR(buf, want);
    }
    /* Too small a buffer: the length needed comes back, nothing overrun. */
    char small[8];
    memset(small, 'x', sizeof small);
    CU_ASSERT_EQUAL(chat_prompt(tiny, "Hi", small, 4), (int)strlen(want));
    CU_ASSERT_EQUAL(small[4], 'x');
}

static void test_tokenize(void)
{
    char text[512];
    int n = chat_prompt(tiny, "Hello world", text, sizeof text);
    CU_ASSERT_FATAL(n > 0 && n < (int)sizeof text);
    text[n] = '\0';
    llama_token t[MAXTOK];
    int nt = tokenize(text, t, MAXTOK);
    CU_ASSERT_FATAL(nt > 0);
    CU_ASSERT_EQUAL(t[0], 3);                        /* <|im_start|> */
    CU_ASSERT_EQUAL(t[nt - 1], 5 + '\n');            /* byte <0x0A> */
    /* Detokenized with specials, the text comes back byte for byte. */
    char back[512];
    int nb = llama_detokenize(vocab, t, nt, back, sizeof back, false, true);
    CU_ASSERT_EQUAL(nb, n);
    if (nb == n)
        CU_ASSERT_EQUAL(memcmp(back, text, (size_t)n), 0);
    /* Too small a token array: minus the count needed. */
    CU_ASSERT_EQUAL(tokenize(text, t, 2), -nt);
    /* Non-ASCII text falls back to bytes and round-trips. */
    const char *utf8 = "caf\xc3\xa9 \xe2\x9c\x93";
    nt = llama_tokenize(vocab, utf8, (int32_t)strlen(utf8), t, MAXTOK, false, false);
    CU_ASSERT(nt > 0);
    detok(vocab, t, nt, back, sizeof back);
    TU_ASSERT_STR(back, utf8);
}

static void greedy16(const char *user, llama_token *out, char *text, size_t cap)
{
    char prompt[512];
    llama_token pt[MAXTOK];
    int n = chat_prompt(tiny, user, prompt, sizeof prompt);
    CU_ASSERT_FATAL(n > 0 && n < (int)sizeof prompt);
    prompt[n] = '\0';
    int np = tokenize(prompt, pt, MAXTOK);
    CU_ASSERT_FATAL(np > 0);
    struct llama_context *ctx = new_ctx(tiny, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(generate(ctx, pt, np, 16, out, NULL, 0), 16);
    llama_free(ctx);
    detok(vocab, out, 16, text, cap);
}

static void test_greedy_deterministic(void)
{
    llama_token a[16], b[16];
    char ta[512], tb[512];
    greedy16("Hello world", a, ta, sizeof ta);
    greedy16("Hello world", b, tb, sizeof tb);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    TU_ASSERT_STR(ta, tb);
    printf("\n  random model, greedy: \"%s\"\n", ta);
    /* Only normal tokens: printable text, never an end of generation. */
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(llama_vocab_get_attr(vocab, a[i]) & LLAMA_TOKEN_ATTR_NORMAL,
                        LLAMA_TOKEN_ATTR_NORMAL);
    CU_ASSERT(strlen(ta) >= 16);
    for (const char *p = ta; *p; p++)
        CU_ASSERT(*p >= 0x20 && *p < 0x7f);
    /* Another prompt, another answer: attention is live. */
    char tc[512];
    greedy16("the lazy dog", b, tc, sizeof tc);
    CU_ASSERT(strcmp(ta, tc) != 0);
}

static void test_programmed(void)
{
    struct llama_model *m = load(TINY_PROGRAMMED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const char *users[] = { "Hi", "Write a poem about the sea." };
    for (size_t u = 0; u < 2; u++) {
        char prompt[512], text[512];
        llama_token pt[MAXTOK], out[32];
        int n = chat_prompt(m, users[u], prompt, sizeof prompt);
        CU_ASSERT_FATAL(n > 0 && n < (int)sizeof prompt);
        prompt[n] = '\0';
        int np = tokenize(prompt, pt, MAXTOK);
        struct llama_context *ctx = new_ctx(m, 1, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
        int ng = generate(ctx, pt, np, 32, out, NULL, 1);
        llama_free(ctx);
        /* The text, 10 tokens, then <|im_end|>. */
        CU_ASSERT_EQUAL(ng, PROGRAMMED_TOKENS + 1);
        CU_ASSERT(ng > 0 && out[ng - 1] == 4);
        detok(llama_model_get_vocab(m), out, ng, text, sizeof text);
        printf("\n  programmed: \"%s\", then token %d, %d tokens\n", text,
               ng > 0 ? out[ng - 1] : -1, ng);
        TU_ASSERT_STR(text, PROGRAMMED_TEXT);
    }
    llama_model_free(m);
}

static void test_parallel(void)
{
    const char *users[2] = { "Hello world", "the lazy dog" };
    llama_token alone[2][16];
    char alone_text[2][512];
    for (int s = 0; s < 2; s++)
        greedy16(users[s], alone[s], alone_text[s], sizeof alone_text[s]);

    struct llama_context *ctx = new_ctx(tiny, 2, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_EQUAL(llama_n_seq_max(ctx), 2);
    struct llama_sampler *g = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(g, llama_sampler_init_greedy());
    llama_batch b = llama_batch_init(N_CTX, 0, 2);
    llama_pos pos[2] = { 0, 0 };
    int last[2] = { 0, 0 };
    for (int s = 0; s < 2; s++) {
        char prompt[512];
        llama_token pt[MAXTOK];
        int n = chat_prompt(tiny, users[s], prompt, sizeof prompt);
        CU_ASSERT_FATAL(n > 0 && n < (int)sizeof prompt);
        prompt[n] = '\0';
        int np = tokenize(prompt, pt, MAXTOK);
        CU_ASSERT_FATAL(np > 0);
        for (int i = 0; i < np; i++)
            batch_add(&b, pt[i], pos[s]++, s, i == np - 1);
        last[s] = b.n_tokens - 1;
    }
    llama_token got[2][16];
    for (int step = 0; step < 16; step++) {
        CU_ASSERT_EQUAL_FATAL(llama_decode(ctx, b), 0);
        llama_token t0 = llama_sampler_sample(g, ctx, last[0]);
        llama_token t1 = llama_sampler_sample(g, ctx, last[1]);
        got[0][step] = t0;
        got[1][step] = t1;
        b.n_tokens = 0;
        batch_add(&b, t0, pos[0]++, 0, 1);
        batch_add(&b, t1, pos[1]++, 1, 1);
        last[0] = 0;
        last[1] = 1;
    }
    for (int s = 0; s < 2; s++) {
        char text[512];
        detok(vocab, got[s], 16, text, sizeof text);
        TU_ASSERT_STR(text, alone_text[s]);
        CU_ASSERT_EQUAL(memcmp(got[s], alone[s], sizeof got[s]), 0);
    }
    /* Each sequence holds its prompt and its 16 tokens (minus the last,
     * sampled but not decoded). */
    llama_memory_t mem = llama_get_memory(ctx);
    CU_ASSERT_EQUAL(llama_memory_seq_pos_max(mem, 0), pos[0] - 2);
    CU_ASSERT_EQUAL(llama_memory_seq_pos_max(mem, 1), pos[1] - 2);
    /* Dropping one sequence leaves the other. */
    CU_ASSERT_TRUE(llama_memory_seq_rm(mem, 1, -1, -1));
    CU_ASSERT_EQUAL(llama_memory_seq_pos_max(mem, 1), -1);
    CU_ASSERT_EQUAL(llama_memory_seq_pos_max(mem, 0), pos[0] - 2);
    llama_batch_free(b);
    llama_sampler_free(g);
    llama_free(ctx);
}

static void test_grammar(void)
{
    const char *gbnf = "root ::= (\"yes\" | \"no\") \"!\"\n";
    struct llama_sampler *chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    struct llama_sampler *gs = llama_sampler_init_grammar(vocab, gbnf, "root");
    CU_ASSERT_PTR_NOT_NULL_FATAL(gs);
    llama_sampler_chain_add(chain, gs);
    llama_sampler_chain_add(chain, llama_sampler_init_greedy());

    char prompt[512], text[512];
    llama_token pt[MAXTOK], out[16];
    int n = chat_prompt(tiny, "Answer yes or no.", prompt, sizeof prompt);
    CU_ASSERT_FATAL(n > 0 && n < (int)sizeof prompt);
    prompt[n] = '\0';
    int np = tokenize(prompt, pt, MAXTOK);
    struct llama_context *ctx = new_ctx(tiny, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    int ng = generate(ctx, pt, np, 16, out, chain, 1);
    llama_free(ctx);
    /* The grammar's text, then the end of generation it forces (the
     * random model never ends by itself). */
    CU_ASSERT(ng >= 2 && llama_vocab_is_eog(vocab, out[ng - 1]));
    detok(vocab, out, ng, text, sizeof text);
    printf("\n  grammar yes|no: \"%s\" in %d tokens\n", text, ng);
    CU_ASSERT(strcmp(text, "yes!") == 0 || strcmp(text, "no!") == 0);
    llama_sampler_free(chain);

    /* A grammar that does not parse: NULL, no crash. */
    CU_ASSERT_PTR_NULL(llama_sampler_init_grammar(vocab, "root ::= (", "root"));
}

static int embed2(struct llama_context *ctx, const char *t0, const char *t1,
                  float *e0, float *e1)
{
    llama_token a[MAXTOK], b[MAXTOK];
    int na = llama_tokenize(vocab, t0, (int32_t)strlen(t0), a, MAXTOK, false, false);
    int nb = llama_tokenize(vocab, t1, (int32_t)strlen(t1), b, MAXTOK, false, false);
    if (na <= 0 || nb <= 0)
        return -1;
    llama_memory_clear(llama_get_memory(ctx), true);
    llama_batch bt = llama_batch_init(N_CTX, 0, 1);
    for (int i = 0; i < na; i++)
        batch_add(&bt, a[i], i, 0, 1);
    for (int i = 0; i < nb; i++)
        batch_add(&bt, b[i], i, 1, 1);
    int rc = llama_decode(ctx, bt);
    llama_batch_free(bt);
    if (rc != 0)
        return -1;
    const float *v0 = llama_get_embeddings_seq(ctx, 0);
    const float *v1 = llama_get_embeddings_seq(ctx, 1);
    if (!v0 || !v1)
        return -1;
    memcpy(e0, v0, 64 * sizeof *e0);
    memcpy(e1, v1, 64 * sizeof *e1);
    return 0;
}

static void test_embeddings(void)
{
    struct llama_context *ctx = new_ctx(tiny, 2, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    /* MEAN comes from the model's metadata (llama.pooling_type). */
    CU_ASSERT_EQUAL(llama_pooling_type(ctx), LLAMA_POOLING_TYPE_MEAN);
    float a[64], b[64], c[64], d[64];
    CU_ASSERT_EQUAL_FATAL(embed2(ctx, "Hello world", "the lazy dog", a, b), 0);
    CU_ASSERT_EQUAL_FATAL(embed2(ctx, "Hello world", "the quick fox", c, d), 0);
    double norm = 0, diff_ab = 0, diff_ac = 0, diff_bd = 0;
    for (int i = 0; i < 64; i++) {
        CU_ASSERT(isfinite(a[i]) && isfinite(b[i]));
        norm += (double)a[i] * a[i];
        diff_ab += fabs((double)a[i] - b[i]);
        diff_ac += fabs((double)a[i] - c[i]);
        diff_bd += fabs((double)b[i] - d[i]);
    }
    CU_ASSERT(norm > 0.1);
    CU_ASSERT(diff_ab > 0.1);       /* different texts, different vectors */
    CU_ASSERT(diff_bd > 0.1);
    CU_ASSERT(diff_ac < 1e-4);      /* same text, same vector, whatever its neighbour */
    llama_free(ctx);
}

static char *write_bytes(const void *data, size_t len)
{
    char tmpl[] = "/tmp/acllamaXXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return NULL;
    ssize_t w = write(fd, data, len);
    close(fd);
    if (w < 0 || (size_t)w != len) {
        unlink(tmpl);
        return NULL;
    }
    return strdup(tmpl);
}

static void test_bad_files(void)
{
    size_t len = 0;
    char *whole = tu_read_file(TINY, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
    /* Cut in the tensor data, in the metadata, and inside the header. */
    size_t cuts[] = { len / 2, 2000, 10 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char *path = write_bytes(whole, cuts[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(path);
        struct llama_model *m = load(path);
        CU_ASSERT_PTR_NULL(m);
        if (m)
            llama_model_free(m);
        unlink(path);
        free(path);
    }
    free(whole);
    const char *text = "This is not a GGUF file, only text.\n";
    char *path = write_bytes(text, strlen(text));
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_PTR_NULL(load(path));
    unlink(path);
    free(path);
    CU_ASSERT_PTR_NULL(load(MODEL_DIR "/no-such-model.gguf"));
}

static void test_measure(void)
{
    long before = rss_kib();
    double t0 = now_s();
    struct llama_model *m = load(TINY);
    double t_load = now_s() - t0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    long after_model = rss_kib();
    struct llama_context *ctx = new_ctx(m, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    long after_ctx = rss_kib();

    char prompt[512];
    llama_token pt[MAXTOK], out[256];
    int n = chat_prompt(m, "Tell me a long story.", prompt, sizeof prompt);
    CU_ASSERT_FATAL(n > 0 && n < (int)sizeof prompt);
    prompt[n] = '\0';
    int np = tokenize(prompt, pt, MAXTOK);
    t0 = now_s();
    int ng = generate(ctx, pt, np, 256, out, NULL, 0);
    double t_gen = now_s() - t0;
    CU_ASSERT_EQUAL(ng, 256);
    long after_gen = rss_kib();
    struct llama_perf_context_data pd = llama_perf_context(ctx);
    printf("\n  measure: model load %.1f ms (mmap), RSS +%ld KiB; context n_ctx %d: "
           "RSS +%ld KiB after creation, +%ld KiB after %d tokens; state %zu bytes\n",
           t_load * 1e3, after_model - before, N_CTX, after_ctx - after_model,
           after_gen - after_model, np + ng, llama_state_get_size(ctx));
    printf("  measure: prompt %d tokens at %.0f tok/s, generation %d tokens at %.0f tok/s "
           "(%.0f tok/s wall, sampling included), 2 threads\n",
           pd.n_p_eval, pd.t_p_eval_ms > 0 ? 1e3 * pd.n_p_eval / pd.t_p_eval_ms : 0.0,
           pd.n_eval, pd.t_eval_ms > 0 ? 1e3 * pd.n_eval / pd.t_eval_ms : 0.0,
           ng / t_gen);
    llama_free(ctx);
    llama_model_free(m);
}

static int suite_init(void)
{
    tiny = load(TINY);
    if (!tiny)
        return 1;
    vocab = llama_model_get_vocab(tiny);
    return 0;
}

static int suite_clean(void)
{
    llama_model_free(tiny);
    return 0;
}

int main(void)
{
    if (access(TINY, R_OK) != 0 || access(TINY_PROGRAMMED, R_OK) != 0) {
        printf("SKIP: no test models in %s: configure found no Python 3 with "
               "numpy, PyYAML and llama.cpp's gguf-py to write them\n", MODEL_DIR);
        return 77;
    }
    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    printf("libllama %s\n%s\n", llama_version(), llama_print_system_info());
    static const tu_test tests[] = {
        { "metadata", test_metadata },
        { "chat template", test_chat_template },
        { "tokenize", test_tokenize },
        { "greedy twice, same text", test_greedy_deterministic },
        { "programmed model answers", test_programmed },
        { "two sequences in one batch", test_parallel },
        { "grammar sampler", test_grammar },
        { "pooled embeddings", test_embeddings },
        { "truncated, not GGUF, missing", test_bad_files },
        { "measure", test_measure },
    };
    if (CU_initialize_registry() != CUE_SUCCESS
        || TU_ADD_SUITE("llama", suite_init, suite_clean, tests) != 0)
        return 2;
    int rc = tu_run_suites();
    llama_backend_free();
    return rc;
}
