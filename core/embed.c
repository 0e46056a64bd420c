/*
 * embed.c -- embeddings: the two request kinds behind ac_embed and
 * ac_aembed.
 *
 * A call is a *group* (kind "embed"): the caller's handle, holding the
 * texts, and the vectors as they come back.  Its texts are cut into
 * *batches* (kind "embed_batch"), each an ordinary request the engine
 * runs like any other -- its own HTTP transfer (or in-process run), its
 * provider's timeouts, retries, rate limit and circuit breaker, its own
 * hook events -- so several are in flight on the engine at once.  The
 * group itself has no transfer: the engine starts it through the kind's
 * `start` (request.h), which submits the first `embed_parallel` batches;
 * each batch's end (its on_done, in the engine context) copies its
 * vectors into the group's result at its offset, so the order is the
 * caller's whatever order batches finish in, and submits the next batch.
 * The last batch's success ends the group with AC_OK; the first failure
 * ends it at once with that batch's error, and the group's `fail` cancels
 * the batches still running and drops those not yet sent.  A cancel of
 * the group reaches it as for any request (the engine's poke finishes it
 * as cancelled), and the same `fail` stops the batches.
 *
 * Ownership: the group holds a reference on each batch until that batch
 * has ended (or, never sent, until the group ends); each batch holds one
 * on the group until it is freed, so the texts it borrows and the result
 * it writes stay.  Neither outlives the other's need, and there is no
 * cycle once every batch has ended.  All of the group's bookkeeping runs
 * in the engine context (start, the batches' on_done, fail), so it takes
 * no lock; the caller's thread only builds the group before submitting
 * it, and reads the result once the outcome is published.
 *
 * In-process plugins (run_embed): a batch runs on the worker pool through
 * the relay, like run_local.  No relay message carries vectors: nothing
 * streams, so the worker writes the batch's own sink and the engine reads
 * it only after the relay's end, which the relay's lock orders after the
 * last write; the relay holds a reference on the batch, so the sink
 * outlives a run that is still writing after a cancel.  The only cost is
 * that first_byte_timeout_ms measures the whole batch (provider.h).
 */
#include "embed.h"
#include "alloc.h"
#include "call.h"
#include "decoder.h"
#include "error.h"
#include "message.h"
#include "ratelimit.h"
#include "request.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Texts a request carries when neither the plugin nor the provider's
 * embed_max_batch says, and batches in flight when embed_parallel does
 * not say. */
#define EMBED_DEFAULT_BATCH    256
#define EMBED_DEFAULT_PARALLEL 4

typedef struct embed_batch embed_batch;

typedef struct embed_group {
    ac_request     base;
    char         **texts;       /* copies, n of them */
    size_t        *lens;
    size_t         n;
    size_t         dimensions;  /* 0: the model's own */
    char          *model;
    embed_batch  **batches;     /* n_batches; NULL once ended or dropped */
    size_t         n_batches;
    size_t         next;        /* the next batch to send */
    size_t         running;     /* sent and not ended */
    size_t         parallel;
    int            ended;       /* the outcome is decided (engine context) */
    ac_embeddings *res;         /* vectors so far; the caller's once done */
} embed_group;

struct embed_batch {
    ac_request        base;
    embed_group      *g;        /* a reference */
    size_t            index;    /* its place in g->batches */
    size_t            first;    /* texts first .. first + req.n_texts - 1 */
    int               sent;
    ac_embed_request  req;
    ac_embed_sink     sink;
};

#define GROUP(q) ((embed_group *)(q))
#define BATCH(q) ((embed_batch *)(q))

static const rq_kind group_kind;
static const rq_kind batch_kind;

const char *ac__embed_text(const ac_embed_request *req, size_t i, size_t *len)
{
    if (!req || i >= req->n_texts)
        return NULL;
    const embed_batch *b = (const embed_batch *)(const void *)((const char *)req -
                                                                offsetof(embed_batch, req));
    size_t k = b->first + i;
    if (len)
        *len = b->g->lens[k];
    return b->g->texts[k];
}

static ac_call *call_for(ac_call *call, ac_request *q)
{
    ac__call_init(call, q->llm->inst->name, ac__llm_settings(q->llm), &q->cancel);
    return call;
}

/* ------------------------------------------------------------------ */
/* A batch                                                             */
/* ------------------------------------------------------------------ */

static ac_status batch_body(ac_request *q, decoder *d, int status, const char *body, size_t len,
                            ac_error *err)
{
    (void)d, (void)status;
    embed_batch *b = BATCH(q);
    ac_call call;
    b->sink.call = call_for(&call, q);
    ac_status st = q->llm->vt->parse_embed_response(q->llm->state, body, len, &b->sink, &call);
    b->sink.call = NULL;
    return ac__call_error(&call, st, "parse_embed_response", err);
}

static ac_status batch_end(ac_request *q, int streamed, ac_error *err)
{
    (void)streamed;
    embed_batch *b = BATCH(q);
    ac_status st = ac__embed_sink_check(&b->sink, b->g->dimensions, err);
    if (st != AC_OK)
        ac__error_set_provider(err, q->llm->inst->name);
    return st;
}

static size_t batch_delivered(const ac_request *q) { (void)q; return 0; }
static void   batch_restart(ac_request *q) { ac__embed_sink_reset(&BATCH(q)->sink); }
/* Nothing to tell a caller: the group reads the outcome in on_done.  (An
 * in-process run may still be writing the sink: it is not touched.) */
static void   batch_fail(ac_request *q, const ac_error *err) { (void)q, (void)err; }

static void batch_release(ac_request *q)
{
    embed_batch *b = BATCH(q);
    ac__embed_sink_free(&b->sink);
    if (b->g)
        ac__request_unref(&b->g->base);
}

static ac_status batch_run_local(ac_request *q, ac_sink *relay_sink, ac_call *call)
{
    (void)relay_sink; /* vectors go to the batch's own sink: see the top */
    embed_batch *b = BATCH(q);
    b->sink.call = call;
    ac_status st = q->llm->vt->run_embed(q->llm->state, &b->req, &b->sink, call);
    b->sink.call = NULL;
    return st;
}

static const rq_kind batch_kind = {
    .name = "embed_batch",
    .size = sizeof(embed_batch),
    .body = batch_body,
    .end = batch_end,
    .delivered = batch_delivered,
    .restart = batch_restart,
    .fail = batch_fail,
    .release = batch_release,
    .run_local = batch_run_local,
};

/* ------------------------------------------------------------------ */
/* The group                                                           */
/* ------------------------------------------------------------------ */

/* Engine context: the group's outcome (once). */
static void group_end(embed_group *g, ac_status st, const ac_error *err)
{
    if (g->ended)
        return;
    g->ended = 1; /* also set by group_fail, which finish runs on failure */
    ac__request_finish(&g->base, st, err);
}

/* Engine context: send the next batch. */
static void send_next(embed_group *g)
{
    embed_batch *b = g->batches[g->next++];
    ac_status st = ac__request_submit(&b->base);
    if (st != AC_OK) {
        ac_error e;
        ac__request_submit_error(&b->base, st, &e);
        group_end(g, st, &e);
        return;
    }
    b->sent = 1;
    g->running++;
}

static void fill(embed_group *g)
{
    while (!g->ended && g->running < g->parallel && g->next < g->n_batches)
        send_next(g);
}

static void group_start(ac_request *q) { fill(GROUP(q)); }

/* Copy a batch's vectors to their place.  The first batch to end fixes
 * the dimension (and the memory); the others must agree. */
static ac_status take_vectors(embed_group *g, embed_batch *b, ac_error *err)
{
    ac_embeddings *r = g->res;
    const ac_embed_sink *k = &b->sink;
    if (!r->v) {
        if (g->n > SIZE_MAX / sizeof(float) / k->dim) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "%zu vectors of %zu values do "
                          "not fit in memory", g->n, k->dim);
            return AC_ENOMEM;
        }
        if (!(r->v = ac__malloc(g->n * k->dim * sizeof(float)))) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory for %zu vectors "
                          "of %zu values", g->n, k->dim);
            return AC_ENOMEM;
        }
        r->dim = k->dim;
    } else if (k->dim != r->dim) {
        ac__error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "texts %zu..%zu: vectors of %zu "
                      "values, where another batch had %zu", b->first,
                      b->first + b->req.n_texts - 1, k->dim, r->dim);
        return AC_EPROTOCOL;
    }
    memcpy(r->v + b->first * r->dim, k->v, b->req.n_texts * r->dim * sizeof(float));
    if (k->model && !r->model) {
        r->model = k->model; /* the first that names one */
        b->sink.model = NULL;
    }
    r->input_tokens = r->input_tokens >= 0 && k->input_tokens >= 0
                          ? r->input_tokens + k->input_tokens : -1;
    r->batches++;
    return AC_OK;
}

/* "texts 32..63: " before the message (cut at its end to fit). */
static void name_texts(ac_error *e, const embed_batch *b)
{
    char prefix[64];
    int k = snprintf(prefix, sizeof prefix, "texts %zu..%zu: ", b->first,
                     b->first + b->req.n_texts - 1);
    size_t p = k > 0 && (size_t)k < sizeof prefix ? (size_t)k : 0;
    size_t len = strnlen(e->message, sizeof e->message - 1);
    size_t keep = len < sizeof e->message - 1 - p ? len : sizeof e->message - 1 - p;
    memmove(e->message + p, e->message, keep);
    memcpy(e->message, prefix, p);
    e->message[p + keep] = '\0';
}

/* Engine context: a batch has ended (its outcome is published). */
static void batch_done(ac_request *q, ac_status st, void *user)
{
    embed_group *g = user;
    embed_batch *b = BATCH(q);
    g->batches[b->index] = NULL;
    g->running--;
    /* What the batch used counts against its provider's tokens per
     * minute, as a chat reply's usage does (the engine counts those). */
    if (st == AC_OK && b->sink.input_tokens > 0 && q->llm->inst->rl.tpm)
        ac__ratelimit_used(&q->llm->inst->rl, b->sink.input_tokens);
    if (!g->ended) {
        ac_error e;
        ac_error_clear(&e);
        if (st == AC_OK)
            st = take_vectors(g, b, &e);
        else
            ac_request_status(q, &e);
        if (st != AC_OK) {
            /* Say which texts, when there was more than one batch. */
            if (g->n_batches > 1)
                name_texts(&e, b);
            if (!e.provider[0])
                ac__error_set_provider(&e, q->llm->inst->name);
            group_end(g, st, &e);
        } else if (g->next < g->n_batches) {
            fill(g);
        } else if (g->running == 0) {
            if (!g->res->model)
                g->res->model = g->model, g->model = NULL;
            group_end(g, AC_OK, NULL);
        }
    }
    ac__request_unref(q); /* the group's reference */
}

/* The group failed (a batch's error, a cancel, the core closing, a
 * request that could not be built): stop what runs, drop what waits. */
static void group_fail(ac_request *q, const ac_error *err)
{
    (void)err;
    embed_group *g = GROUP(q);
    g->ended = 1;
    for (size_t i = 0; i < g->n_batches; i++) {
        embed_batch *b = g->batches[i];
        if (!b)
            continue;
        if (b->sent) {
            ac_request_cancel(&b->base); /* its on_done lets go of it */
        } else {
            g->batches[i] = NULL;
            ac__request_unref(&b->base);
        }
    }
}

static void group_release(ac_request *q)
{
    embed_group *g = GROUP(q);
    /* No batch is left in g->batches: each one there holds a reference
     * on the group, so the group goes only after every batch has left
     * (batch_done, group_fail, or the failed build in group_new). */
    for (size_t i = 0; i < g->n; i++)
        ac__free(g->texts[i]);
    ac__free(g->texts);
    ac__free(g->lens);
    ac__free(g->batches);
    ac__free(g->model);
    ac_embeddings_free(g->res);
}

/* The group has no transfer of its own: the engine never feeds it. */
static ac_status group_body(ac_request *q, decoder *d, int status, const char *body, size_t len,
                            ac_error *err)
{
    (void)q, (void)d, (void)status, (void)body, (void)len;
    ac__error_set(err, AC_EPLUGIN, AC_STAGE_REQUEST, "an embeddings call has no body");
    return AC_EPLUGIN;
}

static ac_status group_end_ok(ac_request *q, int streamed, ac_error *err)
{
    (void)q, (void)streamed, (void)err;
    return AC_OK;
}

static size_t group_delivered(const ac_request *q) { (void)q; return 0; }
static void   group_restart(ac_request *q) { (void)q; }

static const rq_kind group_kind = {
    .name = "embed",
    .size = sizeof(embed_group),
    .body = group_body,
    .end = group_end_ok,
    .delivered = group_delivered,
    .restart = group_restart,
    .fail = group_fail,
    .release = group_release,
    .start = group_start,
};

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

static int bad_arg(ac_error *err, const ac_llm *llm, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad_arg(ac_error *err, const ac_llm *llm, const char *fmt, ...)
{
    char m[AC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s", m);
    if (llm)
        ac__error_set_provider(err, llm->inst->name);
    return -1;
}

static int check_args(ac_llm *llm, const char *const *texts, size_t n, const ac_embed_params *p,
                      ac_error *err)
{
    if (!llm)
        return bad_arg(err, NULL, "llm is NULL");
    if (!texts)
        return bad_arg(err, llm, "texts is NULL");
    if (n == 0)
        return bad_arg(err, llm, "no texts to embed (n is 0)");
    for (size_t i = 0; i < n; i++) {
        if (!texts[i])
            return bad_arg(err, llm, "text %zu is NULL", i);
        if (!texts[i][0])
            return bad_arg(err, llm, "text %zu is empty (no backend embeds an empty text)", i);
        if (!ac__utf8_valid(texts[i]))
            return bad_arg(err, llm, "text %zu is not valid UTF-8", i);
    }
    if (p && p->version > AC_EMBED_PARAMS_VERSION)
        return bad_arg(err, llm, "ac_embed_params version %u is newer than this library's (%d)",
                       p->version, AC_EMBED_PARAMS_VERSION);
    if (p && p->dimensions > AC_EMBED_MAX_DIM)
        return bad_arg(err, llm, "dimensions %zu is out of range (1 .. %d, or 0)", p->dimensions,
                       AC_EMBED_MAX_DIM);
    if (p && p->model && (!*p->model || !ac__utf8_valid(p->model)))
        return bad_arg(err, llm, "the model name is empty or not valid UTF-8");
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return -1;
    }
    return 0;
}

/* Texts per batch and batches at once: the provider's settings, else the
 * plugin's limit, else the defaults. */
static void plan(ac_llm *llm, size_t *batch, size_t *parallel)
{
    const ac_settings *s = ac__llm_settings(llm);
    long long v;
    *batch = 0;
    if (ac__settings_int_quiet(s, "embed_max_batch", &v) == 1 && v > 0)
        *batch = (size_t)v;
    else if (llm->vt->embed_max_batch)
        *batch = llm->vt->embed_max_batch(llm->state);
    if (*batch == 0)
        *batch = EMBED_DEFAULT_BATCH;
    *parallel = EMBED_DEFAULT_PARALLEL;
    if (ac__settings_int_quiet(s, "embed_parallel", &v) == 1 && v > 0)
        *parallel = (size_t)v;
}

/* Copy the caller's texts and choose the model.  AC_OK or AC_ENOMEM. */
static ac_status copy_in(embed_group *g, const char *const *texts, size_t n,
                         const ac_embed_params *p)
{
    ac_llm *llm = g->base.llm;
    g->texts = ac__calloc(n, sizeof *g->texts);
    g->lens = ac__calloc(n, sizeof *g->lens);
    if (!g->texts || !g->lens)
        return AC_ENOMEM;
    g->n = n;
    for (size_t i = 0; i < n; i++) {
        g->lens[i] = strlen(texts[i]);
        if (!(g->texts[i] = ac__strndup(texts[i], g->lens[i])))
            return AC_ENOMEM;
    }
    const char *model = p ? p->model : NULL;
    if (!model && ac__settings_string(ac__llm_settings(llm), "embed_model", &model) != 1)
        model = NULL;
    g->model = ac__strdup(model ? model : llm->model);
    g->res = ac__calloc(1, sizeof *g->res);
    if (!g->model || !g->res)
        return AC_ENOMEM;
    g->res->n = n;
    g->res->provider = ac__strdup(llm->inst->name);
    return g->res->provider ? AC_OK : AC_ENOMEM;
}

/* Make batch i (texts first .. first + count - 1) and, for HTTP, its
 * request.  AC_OK; AC_ENOMEM; or a build failure recorded as the group's
 * (prefail: the engine reports it through on_done). */
static ac_status make_batch(embed_group *g, size_t i, size_t first, size_t count)
{
    ac_llm *llm = g->base.llm;
    const ac_provider *vt = llm->vt;
    ac_callbacks cb = {.on_done = batch_done};
    ac_request *q = ac__request_new(&batch_kind, llm, NULL, &cb, g);
    if (!q)
        return AC_ENOMEM;
    embed_batch *b = BATCH(q);
    ac__request_ref(&g->base);
    b->g = g;
    b->index = i;
    b->first = first;
    b->req.struct_size = sizeof b->req;
    b->req.model = g->model;
    b->req.n_texts = count;
    b->req.dimensions = g->dimensions;
    ac__embed_sink_init(&b->sink, count, q->lim.max_response_bytes);
    g->batches[i] = b;
    q->local = !vt->build_embed_request && vt->run_embed;
    if (q->local)
        return AC_OK;
    ac_call call;
    ac_status st = vt->build_embed_request(llm->state, &b->req, &q->http, call_for(&call, q));
    st = ac__call_error(&call, st, "build_embed_request", &g->base.preerr);
    if (st == AC_OK && !q->http.url) {
        st = AC_EPLUGIN;
        ac__error_set(&g->base.preerr, st, AC_STAGE_PLUGIN,
                      "the plugin built an embeddings request without a URL");
    }
    if (st != AC_OK)
        return ac__request_prefail(&g->base, st, AC_STAGE_REQUEST,
                                   "the plugin could not build the embeddings request");
    q->http.framing = AC_FRAMING_NONE;
    /* No "Expect: 100-continue" wait before a large batch (chat.c). */
    struct curl_slist *h = curl_slist_append(q->http.headers, "Expect:");
    if (!h)
        return AC_ENOMEM;
    q->http.headers = h;
    return AC_OK;
}

/* The whole group: NULL on no memory (err filled).  A group that cannot
 * be sent (no embeddings in the plugin, a batch the plugin refused) is
 * returned prefailed. */
static embed_group *group_new(ac_llm *llm, const char *const *texts, size_t n,
                              const ac_embed_params *p, const ac_callbacks *cb, void *user,
                              ac_error *err)
{
    ac_request *q = ac__request_new(&group_kind, llm, NULL, cb, user);
    if (!q)
        goto nomem;
    embed_group *g = GROUP(q);
    g->dimensions = p ? p->dimensions : 0;
    if (copy_in(g, texts, n, p) != AC_OK)
        goto nomem;
    const ac_provider *vt = llm->vt;
    int http = vt->build_embed_request && vt->parse_embed_response;
    if (!http && !vt->run_embed) {
        char m[AC_ERROR_MESSAGE_MAX];
        snprintf(m, sizeof m, "provider '%s' cannot make embeddings (its plugin, %s, has no "
                 "embeddings API)", llm->inst->name, vt->name);
        ac__request_prefail(q, AC_EUNSUPPORTED, AC_STAGE_REQUEST, m);
        return g;
    }
    size_t batch, parallel;
    plan(llm, &batch, &parallel);
    g->parallel = parallel;
    g->n_batches = (n + batch - 1) / batch;
    if (!(g->batches = ac__calloc(g->n_batches, sizeof *g->batches)))
        goto nomem;
    for (size_t i = 0; i < g->n_batches; i++) {
        size_t first = i * batch, count = n - first < batch ? n - first : batch;
        ac_status st = make_batch(g, i, first, count);
        if (st == AC_ENOMEM)
            goto nomem;
        if (st != AC_OK)
            break; /* prefailed: the engine reports it */
    }
    return g;
nomem:
    if (q) {
        /* The batches made so far go with it (none was sent). */
        embed_group *gg = GROUP(q);
        for (size_t i = 0; gg->batches && i < gg->n_batches; i++)
            if (gg->batches[i]) {
                ac_request *b = &gg->batches[i]->base;
                gg->batches[i] = NULL;
                ac__request_unref(b);
            }
        ac__request_unref(q);
    }
    ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    ac__error_set_provider(err, llm->inst->name);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

ac_request *ac_aembed(ac_llm *llm, const char *const *texts, size_t n,
                      const ac_embed_params *p, const ac_callbacks *cb, void *user,
                      ac_error *err)
{
    if (check_args(llm, texts, n, p, err))
        return NULL;
    embed_group *g = group_new(llm, texts, n, p, cb, user, err);
    if (!g)
        return NULL;
    ac_status st = ac__request_submit(&g->base);
    if (st != AC_OK) {
        ac__request_submit_error(&g->base, st, err);
        group_fail(&g->base, NULL); /* drops the batches, none sent */
        ac__request_unref(&g->base);
        return NULL;
    }
    return &g->base;
}

ac_embeddings *ac_embed(ac_llm *llm, const char *const *texts, size_t n,
                        const ac_embed_params *p, ac_error *err)
{
    if (ac__refuse_blocking(llm, "ac_embed", err))
        return NULL;
    ac_request *q = ac_aembed(llm, texts, n, p, NULL, NULL, err);
    if (!q)
        return NULL;
    ac_request_wait(q, -1);
    ac_embeddings *e = NULL;
    if (ac_request_status(q, err) == AC_OK)
        e = ac_request_take_embeddings(q);
    ac_request_free(q);
    return e;
}

const ac_embeddings *ac_request_embeddings(const ac_request *q)
{
    if (!q || q->kind != &group_kind)
        return NULL;
    ac_request *m = (ac_request *)q;
    pthread_mutex_lock(&m->mu);
    const ac_embeddings *e = m->state >= RQ_COMPLETE && m->status == AC_OK ? GROUP(m)->res
                                                                           : NULL;
    pthread_mutex_unlock(&m->mu);
    return e;
}

ac_embeddings *ac_request_take_embeddings(ac_request *q)
{
    if (!q || q->kind != &group_kind)
        return NULL;
    pthread_mutex_lock(&q->mu);
    ac_embeddings *e = NULL;
    if (q->state >= RQ_COMPLETE && q->status == AC_OK) {
        e = GROUP(q)->res;
        GROUP(q)->res = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return e;
}
