/*
 * request.c -- creating, building, waiting on and ending requests; the
 * public ac_generate / ac_agenerate / ac_request_* / ac_gather API.
 *
 * The rule that keeps callbacks sane (libuv's): if ac_agenerate returns
 * NULL, no callback ever fires; otherwise on_done fires exactly once, on
 * the engine thread, even for a request that could not be built (the
 * engine reports prestatus).
 */
#include "request.h"
#include "alloc.h"
#include "engine.h"
#include "error.h"
#include "message.h"
#include "workers.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static _Thread_local int engine_thread_flag;

int  ac__on_engine_thread(void) { return engine_thread_flag; }
void ac__mark_engine_thread(void) { engine_thread_flag = 1; }

static void cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void on_sink_event(void *ctx, const ac_chunk *c)
{
    ac_request *q = ctx;
    if (q->cb.on_event)
        q->cb.on_event(q, c, q->user);
}

ac_request *ac__request_new(ac_llm *llm, rq_kind kind, const ac_gen_params *params,
                        const ac_callbacks *cb, void *user)
{
    ac_request *q = ac__calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->params = ac__params_copy(params);
    q->resp = ac__response_new(llm->inst->name, llm->model, llm->lim.max_response_bytes);
    if (!q->params || !q->resp) {
        ac_gen_params_free(q->params);
        ac_response_free(q->resp);
        ac__free(q);
        return NULL;
    }
    atomic_init(&q->refs, 1);
    q->kind = kind;
    ac__llm_ref(llm);
    q->llm = llm;
    if (cb) {
        /* Version 0 is read as 1 (designated initializers omit it). */
        q->cb.version = AC_CALLBACKS_VERSION;
        q->cb.on_event = cb->on_event;
        q->cb.on_done = cb->on_done;
    }
    q->user = user;
    q->status = AC_EPENDING;
    q->retry_after_ms = -1;
    pthread_mutex_init(&q->mu, NULL);
    cond_init_monotonic(&q->cv);
    ac_error_clear(&q->err);
    ac_error_clear(&q->preerr);
    ac_error_clear(&q->pending_err);

    /* Limits: the provider's, then this request's overrides. */
    q->lim = llm->lim;
    const ac_gen_params *p = q->params;
    if (p->connect_ms >= 0)
        q->lim.connect_ms = p->connect_ms;
    if (p->first_byte_ms >= 0)
        q->lim.first_byte_ms = p->first_byte_ms;
    if (p->idle_ms >= 0)
        q->lim.idle_ms = p->idle_ms;
    if (p->total_ms >= 0)
        q->lim.total_ms = p->total_ms;
    if (p->max_retries >= 0)
        q->lim.max_retries = p->max_retries;
    q->stream = p->stream >= 0 ? p->stream : (cb && cb->on_event != NULL);
    /* Decided here, once: ac_request_cancel reads it from any thread, while
     * a queued session turn is built on the engine thread. */
    q->local = kind == RQ_GENERATE && !llm->vt->build_request && llm->vt->run_local;
    ac__sink_init(&q->sink, q->resp, llm->vt, llm->state, on_sink_event, q);
    return q;
}

static ac_status prefail(ac_request *q, ac_status st, ac_stage stage, const char *msg)
{
    if (q->preerr.code == AC_OK) {
        ac__error_set(&q->preerr, st, stage, "%s", msg);
    }
    ac__error_set_provider(&q->preerr, q->llm->inst->name);
    q->prestatus = q->preerr.code;
    return q->prestatus;
}

static ac_status build_messages(ac_request *q, const char *system, const ac_message *history,
                                size_t n_history, const char *prompt)
{
    size_t n = (system ? 1 : 0) + n_history + (prompt ? 1 : 0);
    if (n == 0)
        return prefail(q, AC_EINVAL, AC_STAGE_REQUEST, "nothing to send: no prompt and no history");
    q->msgs = ac__calloc(n, sizeof *q->msgs);
    if (!q->msgs)
        return prefail(q, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    size_t k = 0;
    ac_status st = AC_OK;
    if (system && (st = ac__msg_init(&q->msgs[k++], AC_ROLE_SYSTEM, system)) != AC_OK)
        goto fail;
    for (size_t i = 0; i < n_history; i++)
        if ((st = ac__msg_copy(&q->msgs[k++], &history[i])) != AC_OK)
            goto fail;
    if (prompt && (st = ac__msg_init(&q->msgs[k++], AC_ROLE_USER, prompt)) != AC_OK)
        goto fail;
    q->n_msgs = k;
    return AC_OK;
fail:
    q->n_msgs = k;
    return prefail(q, st, AC_STAGE_REQUEST, "out of memory");
}

ac_status ac__request_build(ac_request *q, const char *system, const ac_message *history,
                        size_t n_history, const char *prompt)
{
    ac_llm *llm = q->llm;
    const ac_provider *vt = llm->vt;
    const ac_gen_params *p = q->params;
    if (q->kind == RQ_MODELS) {
        if (!vt->build_models_request || !vt->parse_models)
            return prefail(q, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                           "this provider's plugin cannot list models");
        ac_status st = vt->build_models_request(llm->state, &q->http, &q->preerr);
        if (st == AC_OK && !q->http.url)
            st = AC_EPLUGIN, ac__error_set(&q->preerr, AC_EPLUGIN, AC_STAGE_PLUGIN,
                                      "the plugin built a request without a URL");
        if (st != AC_OK)
            return prefail(q, st, AC_STAGE_REQUEST, "the plugin could not build the request");
        q->http.framing = AC_FRAMING_NONE;
        return AC_OK;
    }
    if (!vt->build_request && !q->local)
        return prefail(q, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                       "the plugin can neither build HTTP requests nor run locally");
    if (q->stream && !vt->parse_event && !q->local)
        q->stream = 0; /* the backend cannot stream: events come at the end */
    ac_status st = build_messages(q, system, history, n_history, prompt);
    if (st != AC_OK)
        return st;
    ac_gen_request *g = &q->greq;
    g->struct_size = sizeof *g;
    g->model = llm->model;
    g->messages = q->msgs;
    g->n_messages = q->n_msgs;
    g->stream = q->stream;
    g->has_max_tokens = p->has_max_tokens;
    g->max_tokens = p->max_tokens;
    g->has_temperature = p->has_temperature;
    g->temperature = p->temperature;
    g->has_top_p = p->has_top_p;
    g->top_p = p->top_p;
    g->has_seed = p->has_seed;
    g->seed = p->seed;
    g->stop = (const char *const *)p->stop;
    g->n_stop = p->n_stop;
    g->tools = p->tools;
    g->n_tools = p->n_tools;
    g->tool_choice = p->tool_choice;
    g->json_schema = p->json_schema;
    g->json_schema_name = p->json_schema ? p->json_schema_name : NULL;
    if (q->local)
        return AC_OK; /* run_local takes the request as it is */
    st = vt->build_request(llm->state, g, &q->http, &q->preerr);
    if (st == AC_OK && !q->http.url)
        st = AC_EPLUGIN, ac__error_set(&q->preerr, AC_EPLUGIN, AC_STAGE_PLUGIN,
                                  "the plugin built a request without a URL");
    /* A framing the engine has no framer for would otherwise fail later as
     * "out of memory starting the transfer". */
    if (st == AC_OK && q->stream && q->http.framing != AC_FRAMING_NONE &&
        q->http.framing != AC_FRAMING_SSE && q->http.framing != AC_FRAMING_NDJSON)
        st = AC_EPLUGIN, ac__error_set(&q->preerr, AC_EPLUGIN, AC_STAGE_PLUGIN,
                                  "the plugin asked for an unknown framing (%d)",
                                  (int)q->http.framing);
    if (st != AC_OK)
        return prefail(q, st, AC_STAGE_REQUEST, "the plugin could not build the request");
    if (!q->stream)
        q->http.framing = AC_FRAMING_NONE;
    /* libcurl sends "Expect: 100-continue" before a large body and waits
     * up to a second for a server that may never answer it: a long
     * history would pay that on every turn. */
    struct curl_slist *h = curl_slist_append(q->http.headers, "Expect:");
    if (!h)
        return prefail(q, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    q->http.headers = h;
    return AC_OK;
}

ac_status ac__request_submit(ac_request *q)
{
    ac_core *core = q->llm->core;
    if (!q->local)
        return ac__engine_submit(core->eng, q);
    workers *w = ac__core_workers(core);
    if (!w)
        return atomic_load(&core->closed) ? AC_ECANCELED : AC_ENOMEM;
    return ac__workers_submit(w, q);
}

void ac__request_submit_error(ac_request *q, ac_status st, ac_error *err)
{
    if (st == AC_ECANCELED)
        ac__error_set(err, st, AC_STAGE_CANCELLED, "the core was closed");
    else
        ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory queuing the request");
    ac__error_set_provider(err, q->llm->inst->name);
}

void ac__request_fail_unsubmitted(ac_request *q, ac_status st)
{
    ac_error err;
    ac_error_clear(&err);
    ac__request_submit_error(q, st, &err);
    ac__request_ref(q); /* the reference ac__request_finish lets go of */
    q->state = RQ_DONE;
    ac__request_finish(q, st, &err);
}

void ac__request_finish(ac_request *q, ac_status status, const ac_error *err)
{
    ac_error e;
    ac_error_clear(&e);
    /* A failure must end with a failure code: a plugin that returned
     * "not yet" or "end of stream" as its error would otherwise make
     * ac_stream_next callers wait or stop as if all were well. */
    if (status == AC_EPENDING || status == AC_EAGAIN || status == AC_EOF ||
        (int)status < 0 || status >= AC_STATUS_LAST) {
        ac__error_set(&e, AC_EPLUGIN, AC_STAGE_PLUGIN,
                  "the plugin reported a failure as %s, which is not an error code",
                  ac_strerror(status));
        status = AC_EPLUGIN;
        err = &e;
    }
    if (status != AC_OK) {
        if (err && err != &e)
            e = *err;
        if (e.code == AC_OK)
            ac__error_set(&e, status, AC_STAGE_NONE, "%s", ac_strerror(status));
        e.code = status;
        if (!e.provider[0])
            ac__error_set_provider(&e, q->llm->inst->name);
        ac__sink_fail(&q->sink, &e);
    }
    ac__sink_cleanup(&q->sink);
    if (q->t_start > 0 && q->resp)
        q->resp->latency_ms = ac__now_ms() - q->t_start;
    pthread_mutex_lock(&q->mu);
    q->status = status;
    q->err = e;
    q->finished = 1;
    pthread_mutex_unlock(&q->mu);
    if (q->hook_done) {
        ac_status hs = q->hook_done(q, q->hook_ctx);
        if (hs != AC_OK && status == AC_OK) {
            pthread_mutex_lock(&q->mu);
            status = q->status = hs;
            ac__error_set(&q->err, hs, AC_STAGE_REQUEST, "out of memory recording the turn in "
                      "the session's history (the history is as before the turn)");
            ac__error_set_provider(&q->err, q->llm->inst->name);
            pthread_mutex_unlock(&q->mu);
        }
    }
    if (q->cb.on_done)
        q->cb.on_done(q, status, q->user);
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    ac__request_unref(q); /* the engine's reference */
}

void ac__request_ref(ac_request *q) { atomic_fetch_add(&q->refs, 1); }

void ac__request_unref(ac_request *q)
{
    if (!q || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    ac__http_request_clear(&q->http);
    ac__msgs_free(q->msgs, q->n_msgs);
    ac_gen_params_free(q->params);
    ac_response_free(q->resp);
    ac__framer_free(q->fr);
    ac__buf_free(&q->body);
    ac__buf_free(&q->errbody);
    for (size_t i = 0; i < q->models.n; i++)
        ac__free(q->models.ids[i]);
    ac__free(q->models.ids);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    ac__llm_unref(q->llm);
    ac__free(q);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static ac_request *agenerate(ac_llm *llm, const char *prompt, const ac_gen_params *params,
                             const ac_callbacks *cb, void *user, int force_stream, ac_error *err)
{
    if (!llm || !prompt) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s is NULL", llm ? "prompt" : "llm");
        return NULL;
    }
    if (!ac__utf8_valid(prompt)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "the prompt is not valid UTF-8");
        return NULL;
    }
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    ac_request *q = ac__request_new(llm, RQ_GENERATE, params, cb, user);
    if (!q) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    if (force_stream >= 0)
        q->stream = force_stream;
    const char *system = q->params->system;
    ac__request_build(q, system, NULL, 0, prompt);
    /* Not taken (the core closed since the check above, or no memory):
     * fail here, before the caller has the handle, rather than run its
     * callbacks on this thread inside this call. */
    ac_status st = ac__request_submit(q);
    if (st != AC_OK) {
        ac__request_submit_error(q, st, err);
        ac__request_unref(q);
        return NULL;
    }
    return q;
}

ac_request *ac_agenerate(ac_llm *llm, const char *prompt, const ac_gen_params *params,
                         const ac_callbacks *cb, void *user)
{
    return agenerate(llm, prompt, params, cb, user, -1, NULL);
}

/* Shared by ac_generate and the session: wait, then hand out the response
 * or the error. */
ac_response *ac__request_wait_result(ac_request *q, ac_error *err)
{
    ac_request_wait(q, -1);
    ac_error e;
    ac_error_clear(&e);
    ac_status st = ac_request_status(q, &e);
    ac_response *r = NULL;
    if (st == AC_OK)
        r = ac_request_take_response(q);
    else if (err)
        *err = e;
    ac_request_free(q);
    return r;
}

ac_response *ac_generate(ac_llm *llm, const char *prompt, const ac_gen_params *params,
                         ac_error *err)
{
    if (ac__on_engine_thread()) {
        ac__error_set(err, AC_EBUSY, AC_STAGE_REQUEST,
                  "ac_generate called from a callback (engine thread); use ac_agenerate");
        return NULL;
    }
    ac_request *q = agenerate(llm, prompt, params, NULL, NULL, -1, err);
    return q ? ac__request_wait_result(q, err) : NULL;
}

static int deadline_passed(const struct timespec *dl)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > dl->tv_sec || (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

static void deadline_from(struct timespec *dl, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, dl);
    dl->tv_sec += timeout_ms / 1000;
    dl->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl->tv_nsec >= 1000000000L) {
        dl->tv_sec++;
        dl->tv_nsec -= 1000000000L;
    }
}

static ac_status wait_until(ac_request *q, const struct timespec *dl)
{
    pthread_mutex_lock(&q->mu);
    while (!q->done) {
        if (!dl) {
            pthread_cond_wait(&q->cv, &q->mu);
        } else if (pthread_cond_timedwait(&q->cv, &q->mu, dl) == ETIMEDOUT || deadline_passed(dl)) {
            int done = q->done;
            pthread_mutex_unlock(&q->mu);
            return done ? AC_OK : AC_ETIMEDOUT;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return AC_OK;
}

ac_status ac_request_wait(ac_request *q, int timeout_ms)
{
    if (!q)
        return AC_EINVAL;
    if (ac_request_done(q))
        return AC_OK;
    if (ac__on_engine_thread())
        return AC_EBUSY;
    if (timeout_ms < 0)
        return wait_until(q, NULL);
    struct timespec dl;
    deadline_from(&dl, timeout_ms);
    return wait_until(q, &dl);
}

ac_status ac_gather(ac_request **reqs, size_t n, int timeout_ms)
{
    if (!reqs && n)
        return AC_EINVAL;
    if (ac__on_engine_thread()) {
        for (size_t i = 0; i < n; i++)
            if (reqs[i] && !ac_request_done(reqs[i]))
                return AC_EBUSY;
        return AC_OK;
    }
    struct timespec dl;
    if (timeout_ms >= 0)
        deadline_from(&dl, timeout_ms);
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i])
            continue;
        ac_status st = wait_until(reqs[i], timeout_ms >= 0 ? &dl : NULL);
        if (st != AC_OK)
            return st;
    }
    return AC_OK;
}

void ac_request_cancel(ac_request *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    int finished = q->finished;
    pthread_mutex_unlock(&q->mu);
    if (finished)
        return;
    atomic_store(&q->cancel, 1);
    /* Plain int in the ABI (const volatile int *); written atomically so
     * that, with a plugin that loads it atomically too, there is no data
     * race. */
    __atomic_store_n(&q->local_cancel, 1, __ATOMIC_SEQ_CST);
    if (!q->local)
        ac__engine_poke(q->llm->core->eng, q);
}

ac_status ac_request_status(const ac_request *q, ac_error *err)
{
    if (!q)
        return AC_EINVAL;
    ac_request *m = (ac_request *)q;
    pthread_mutex_lock(&m->mu);
    ac_status st = m->finished ? m->status : AC_EPENDING;
    if (err && m->finished && st != AC_OK)
        *err = m->err;
    pthread_mutex_unlock(&m->mu);
    return st;
}

int ac_request_done(const ac_request *q)
{
    if (!q)
        return 0;
    ac_request *m = (ac_request *)q;
    pthread_mutex_lock(&m->mu);
    int d = m->done;
    pthread_mutex_unlock(&m->mu);
    return d;
}

const ac_response *ac_request_response(const ac_request *q)
{
    if (!q)
        return NULL;
    ac_request *m = (ac_request *)q;
    pthread_mutex_lock(&m->mu);
    const ac_response *r = m->finished ? m->resp : NULL;
    pthread_mutex_unlock(&m->mu);
    return r;
}

ac_response *ac_request_take_response(ac_request *q)
{
    if (!q)
        return NULL;
    pthread_mutex_lock(&q->mu);
    ac_response *r = NULL;
    if (q->done) {
        r = q->resp;
        q->resp = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return r;
}

void *ac_request_user(const ac_request *q) { return q ? q->user : NULL; }

void ac_request_free(ac_request *q)
{
    if (!q)
        return;
    ac_request_cancel(q);
    ac__request_unref(q);
}

ac_models *ac_list_models(ac_llm *llm, ac_error *err)
{
    if (!llm) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "llm is NULL");
        return NULL;
    }
    if (ac__on_engine_thread()) {
        ac__error_set(err, AC_EBUSY, AC_STAGE_REQUEST, "ac_list_models called from a callback");
        return NULL;
    }
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    ac_request *q = ac__request_new(llm, RQ_MODELS, NULL, NULL, NULL);
    ac_models *m = ac__calloc(1, sizeof *m);
    if (!q || !m) {
        if (q)
            ac__request_unref(q);
        ac__free(m);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    ac__request_build(q, NULL, NULL, 0, NULL);
    ac_status sst = ac__request_submit(q);
    if (sst != AC_OK) {
        ac__request_submit_error(q, sst, err);
        ac__request_unref(q);
        ac__free(m);
        return NULL;
    }
    ac_request_wait(q, -1);
    ac_status st = ac_request_status(q, err);
    if (st == AC_OK) {
        m->l = q->models;
        memset(&q->models, 0, sizeof q->models);
    } else {
        ac__free(m);
        m = NULL;
    }
    ac__request_unref(q);
    return m;
}
