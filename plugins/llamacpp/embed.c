/*
 * embed.c -- embeddings (run_embed, ABI 2.1) from a loaded model's pooled
 * output.
 *
 * A batch of texts (core/embed.c cuts a call into batches and runs several
 * at once on its worker threads): each text is tokenized (with the model's
 * special tokens: BOS / CLS, EOS / SEP where its vocabulary adds them;
 * control-token text in the input stays text), decoded as a sequence of
 * its own in the model's embeddings context, and its vector is libllama's
 * pooled output for that sequence (llama_get_embeddings_seq), optionally
 * L2-normalised.
 *
 * The embeddings context.  One per loaded model, made on the first
 * embeddings request and kept until fini (like the chat context), next to
 * the chat context, never mixed with it: the chat context is the decode
 * thread's and has no pooled output.  Its size: one text of at most
 * lc_embed_max_tokens tokens (the smaller of n_batch and n_ctx) per
 * llama_decode, all in one micro-batch (a model with non-causal
 * attention, BERT and friends, must see a whole sequence in one), KV
 * cells for that one text, one sequence.
 *
 * Why one shared context behind a mutex, not one per call.  Making a
 * context allocates its KV cache and compute buffers and reserves the
 * graph: on the tiny test model 1 ms, with a real model tens of ms and
 * up to hundreds of MB per context (compute buffers grow with n_batch),
 * while one llama_decode already uses n_threads cores, so two decodes at
 * once on a CPU gain nothing but contention.  So concurrent batches take
 * turns (a batch waiting for the context still sees its cancel).
 *
 * Why one text per llama_decode, not several packed as sequences of one
 * batch.  The vector of a text must not depend on what else is in its
 * batch: the core cuts a call into batches as embed_max_batch says, and
 * a caller comparing vectors (a cache, a dedup, acore-provider-check)
 * expects the same text to give the same vector, bit for bit.  Packed,
 * ggml's matrix kernels and the pooling sum see other rows and other
 * offsets and round differently (measured on the tiny model: a text
 * decoded with 7 others had all 64 values differ from its vector alone,
 * by up to 2e-4).  One text at a time costs little on a CPU
 * for the texts embeddings are made of (a decode of n tokens already
 * reads the weights once for all of them).
 *
 * Pooling.  The `embed_pooling` setting: "model" (the default) uses the
 * model's own (GGUF key <arch>.pooling_type); a model that has none
 * (chat models: NONE) is pooled with the mean of its tokens' last hidden
 * states, libllama's MEAN.  "mean", "cls", "last" force one.  A reranker
 * (RANK) has no vectors: AC_EUNSUPPORTED.
 *
 * Threads: lc_embed_run runs on any worker thread; m->emu guards the
 * embeddings context and batch.  Memory: ours from the host allocator
 * (the token lists, the vector being normalised), libllama's own for the
 * context.
 */
#include "llamacpp.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

/* The most texts one run_embed gets (embed_max_batch): the batches take
 * turns on one context, so a smaller batch lets a cancel or another
 * call's batch in sooner, and first_byte_timeout_ms (which bounds a
 * whole batch) stays meaningful; 32 vectors of even 16384 floats are
 * 2 MiB, far within max_response_bytes. */
#define EMBED_MAX_BATCH 32

size_t lc_embed_max_batch(void) { return EMBED_MAX_BATCH; }

int lc_embed_max_tokens(const lc_config *cfg, const lc_model *m)
{
    return cfg->n_batch < m->n_ctx ? cfg->n_batch : m->n_ctx;
}

static const char *pooling_name(enum llama_pooling_type p)
{
    switch (p) {
    case LLAMA_POOLING_TYPE_NONE: return "none";
    case LLAMA_POOLING_TYPE_MEAN: return "mean";
    case LLAMA_POOLING_TYPE_CLS:  return "cls";
    case LLAMA_POOLING_TYPE_LAST: return "last";
    case LLAMA_POOLING_TYPE_RANK: return "rank";
    default:                      return "unspecified";
    }
}

/* ------------------------------------------------------------------ */
/* The context                                                         */
/* ------------------------------------------------------------------ */

static struct llama_context *new_context(const lc_config *cfg, lc_model *m, int n_tokens,
                                         enum llama_pooling_type pool)
{
    struct llama_context_params cp = llama_context_default_params();
    cp.embeddings = true;
    cp.pooling_type = pool;
    cp.n_ctx = (uint32_t)n_tokens;
    cp.n_batch = (uint32_t)n_tokens;
    cp.n_ubatch = (uint32_t)n_tokens; /* a whole text in one micro-batch */
    cp.n_seq_max = 1;
    cp.n_threads = cfg->n_threads;
    cp.n_threads_batch = cfg->n_threads;
    cp.no_perf = true;
    lc_clear_llama_error();
    return llama_init_from_model(m->model, cp);
}

/* The embeddings context of m (under m->emu), made on first use.  AC_OK
 * or the call failed. */
static ac_status embed_context(const lc_config *cfg, lc_model *m, ac_call *call)
{
    if (m->ectx)
        return AC_OK;
    if (llama_model_has_encoder(m->model) && llama_model_has_decoder(m->model))
        return lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                             "model %s is an encoder-decoder model: it has no pooled "
                             "embeddings here", m->id);
    int n_tokens = lc_embed_max_tokens(cfg, m);
    enum llama_pooling_type want = (enum llama_pooling_type)cfg->embed_pooling;
    struct llama_context *c = new_context(cfg, m, n_tokens, want);
    if (c && want == LLAMA_POOLING_TYPE_UNSPECIFIED &&
        llama_pooling_type(c) == LLAMA_POOLING_TYPE_NONE) {
        /* A model without a pooling of its own (a chat model): the mean
         * of its tokens.  The pooling is fixed when the context is made. */
        llama_free(c);
        lc_host->log(NULL, AC_LOG_INFO, "model %s has no pooling of its own: embeddings "
                     "are the mean of its tokens' hidden states (embed_pooling)", m->id);
        c = new_context(cfg, m, n_tokens, LLAMA_POOLING_TYPE_MEAN);
    }
    if (!c)
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "cannot make an embeddings context of %d tokens for model %s "
                             "(lower n_batch): %s", n_tokens, m->path, lc_last_llama_error());
    enum llama_pooling_type got = llama_pooling_type(c);
    if (got == LLAMA_POOLING_TYPE_RANK || got == LLAMA_POOLING_TYPE_NONE) {
        llama_free(c);
        return lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                             "model %s pools with \"%s\" (a reranker's score, not a vector): "
                             "it makes no embeddings", m->id, pooling_name(got));
    }
    int dim = llama_model_n_embd_out(m->model);
    if (dim < 1 || dim > AC_EMBED_MAX_DIM) {
        llama_free(c);
        return lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                             "model %s makes vectors of %d values: outside 1..%d", m->id, dim,
                             AC_EMBED_MAX_DIM);
    }
    m->ebatch = llama_batch_init(n_tokens, 0, 1);
    m->ectx = c;
    m->e_tokens = n_tokens;
    m->e_dim = dim;
    lc_host->log(NULL, AC_LOG_INFO, "model %s: embeddings context of %d tokens, pooling %s, "
                 "%d values a vector%s", m->id, n_tokens, pooling_name(got), dim,
                 cfg->embed_normalize ? ", L2-normalised" : "");
    return AC_OK;
}

void lc_embed_free(lc_model *m)
{
    if (m->ebatch.token)
        llama_batch_free(m->ebatch);
    if (m->ectx)
        llama_free(m->ectx);
    m->ectx = NULL;
    memset(&m->ebatch, 0, sizeof m->ebatch);
}

/* ------------------------------------------------------------------ */
/* Tokens                                                              */
/* ------------------------------------------------------------------ */

/* The tokens of every text of the batch: all[off[i] .. off[i + 1]).
 * Checked against the limit (max tokens a text) here, before the wait
 * for the context.  AC_OK or the call failed. */
static ac_status tokenize_all(lc_model *m, const ac_embed_request *req, int max_tokens,
                              llama_token **all, size_t **off, ac_call *call)
{
    size_t n = req->n_texts, cap = 0;
    *all = NULL;
    *off = lc_host->malloc((n + 1) * sizeof **off);
    if (!*off)
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    (*off)[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *t = lc_host->embed_text(req, i, &len);
        if (!t || len > INT32_MAX / 2)
            return lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "text %zu of the batch is %zu bytes: too long for model %s", i,
                                 t ? len : 0, m->id);
        /* Counted first, so a text far too long is refused before any
         * of our memory is spent on it. */
        int32_t need = -llama_tokenize(m->vocab, t, (int32_t)len, NULL, 0, true, false);
        if (need <= 0)
            return lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "text %zu of the batch gave no tokens", i);
        if (need > max_tokens)
            return lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "text %zu of the batch is %d tokens, and model %s embeds at "
                                 "most %d a text (the smaller of n_batch and n_ctx): shorten "
                                 "it or raise n_batch", i, (int)need, m->id, max_tokens);
        size_t at = (*off)[i];
        if (at + (size_t)need > cap) {
            size_t ncap = cap ? cap : 256;
            while (ncap < at + (size_t)need)
                ncap *= 2;
            llama_token *v = lc_host->realloc(*all, ncap * sizeof *v);
            if (!v)
                return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
            *all = v;
            cap = ncap;
        }
        int32_t got = llama_tokenize(m->vocab, t, (int32_t)len, *all + at, need, true, false);
        if (got != need)
            return lc_host->fail(call, AC_EPLUGIN, AC_STAGE_REQUEST,
                                 "tokenizing text %zu of the batch gave %d tokens, then %d", i,
                                 (int)need, (int)got);
        (*off)[i + 1] = at + (size_t)got;
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* The batch                                                           */
/* ------------------------------------------------------------------ */

/* Take m->emu, giving up when the call is cancelled: a batch may wait
 * for others (each as long as its texts take).  0, or -1 cancelled. */
static int lock_context(lc_model *m, ac_call *call)
{
    for (;;) {
        if (lc_host->cancelled(call))
            return -1;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = pthread_mutex_timedlock(&m->emu, &ts);
        if (rc == 0)
            return 0;
        if (rc != ETIMEDOUT)
            return -1; /* cannot happen with a live mutex */
    }
}

/* Decode text i (n tokens at tok) alone and give its vector.  Under
 * m->emu.  vec: e_dim floats of scratch. */
static ac_status embed_one(const lc_config *cfg, lc_model *m, size_t i, const llama_token *tok,
                           int n, float *vec, ac_embed_sink *out, ac_call *call)
{
    llama_memory_t mem = llama_get_memory(m->ectx);
    /* Every text starts at cell 0.  The cells' data stays: a cell not
     * in the text is masked out (its weight exactly 0), and zeroing the
     * cache would cost a memset of it per text. */
    if (mem)
        llama_memory_clear(mem, false);
    llama_batch *b = &m->ebatch;
    for (int k = 0; k < n; k++) {
        b->token[k] = tok[k];
        b->pos[k] = k;
        b->n_seq_id[k] = 1;
        b->seq_id[k][0] = 0;
        b->logits[k] = 1; /* pooling needs every token's output */
    }
    b->n_tokens = n;
    lc_clear_llama_error();
    int rc = llama_model_has_encoder(m->model) ? llama_encode(m->ectx, *b)
                                               : llama_decode(m->ectx, *b);
    if (rc != 0)
        return lc_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                             "model %s: embedding text %zu of the batch (%d tokens) failed "
                             "(%d): %s", m->path, i, n, rc, lc_last_llama_error());
    const float *e = llama_get_embeddings_seq(m->ectx, 0);
    if (!e)
        return lc_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                             "model %s: no pooled output for text %zu of the batch", m->path, i);
    double sum = 0;
    for (int k = 0; k < m->e_dim; k++)
        sum += (double)e[k] * e[k];
    if (!isfinite(sum))
        return lc_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                             "model %s: the vector of text %zu of the batch is not finite",
                             m->path, i);
    double scale = cfg->embed_normalize && sum > 0 ? 1.0 / sqrt(sum) : 1.0;
    for (int k = 0; k < m->e_dim; k++)
        vec[k] = (float)(e[k] * scale);
    return lc_host->embed_vector(out, i, vec, (size_t)m->e_dim);
}

ac_status lc_embed_run(const lc_config *cfg, lc_model *m, const ac_embed_request *req,
                       ac_embed_sink *out, ac_call *call)
{
    llama_token *all = NULL;
    size_t *off = NULL;
    float *vec = NULL;
    ac_status st = tokenize_all(m, req, lc_embed_max_tokens(cfg, m), &all, &off, call);
    if (st != AC_OK)
        goto done;
    if (lock_context(m, call) < 0) {
        st = AC_ECANCELED;
        goto done;
    }
    st = embed_context(cfg, m, call);
    if (st == AC_OK && req->dimensions && req->dimensions != (size_t)m->e_dim)
        st = lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                           "dimensions %zu: model %s makes vectors of %d values and cannot "
                           "shorten them (leave dimensions 0)", req->dimensions, m->id,
                           m->e_dim);
    if (st == AC_OK && !(vec = lc_host->malloc((size_t)m->e_dim * sizeof *vec)))
        st = lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    size_t done = 0;
    if (st == AC_OK)
        lc_host->log(call, AC_LOG_DEBUG, "model %s: embedding %zu texts (%zu tokens)", m->id,
                     req->n_texts, off[req->n_texts]);
    for (; st == AC_OK && done < req->n_texts; done++) {
        if (lc_host->cancelled(call)) {
            st = AC_ECANCELED;
            break;
        }
        st = embed_one(cfg, m, done, all + off[done], (int)(off[done + 1] - off[done]), vec,
                       out, call);
    }
    pthread_mutex_unlock(&m->emu);
    if (st == AC_ECANCELED)
        lc_host->log(call, AC_LOG_DEBUG, "model %s: embedding cancelled after %zu of %zu texts",
                     m->id, done, req->n_texts);
    if (st == AC_OK)
        st = lc_host->embed_usage(out, (long)off[req->n_texts]);
    if (st == AC_OK)
        st = lc_host->embed_model(out, m->id);
done:
    lc_host->free(vec);
    lc_host->free(all);
    lc_host->free(off);
    return st;
}
