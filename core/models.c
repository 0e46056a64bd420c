/*
 * models.c -- the model-list kind of request: ac_alist_models (and
 * ac_request_take_models), and the blocking ac_list_models on top of it.
 *
 * An HTTP plugin's list is a request through the engine (build, send,
 * parse).  An in-process plugin's (list_models, ABI 2.1) is one call on
 * the caller's thread, made when the request is: the request then only
 * carries the outcome through the engine, so that callbacks, waits and
 * ac_request_take_models behave the same for both.
 */
#include "alloc.h"
#include "call.h"
#include "decoder.h"
#include "error.h"
#include "request.h"

#include <string.h>

typedef struct models_request {
    ac_request           base;
    struct ac_model_list list;
    int                  taken;  /* ac_request_take_models moved it out */
} models_request;

#define MODELS(q) ((models_request *)(q))

static void list_clear(struct ac_model_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        ac__free(l->ids[i]);
    ac__free(l->ids);
    l->ids = NULL;
    l->n = 0;
}

static ac_status models_body(ac_request *q, decoder *d, int status, const char *body, size_t len,
                             ac_error *err)
{
    (void)d, (void)status;
    ac_call call;
    ac__call_init(&call, q->llm->inst->name, ac__llm_settings(q->llm), &q->cancel);
    ac_status st = q->llm->vt->parse_models(q->llm->state, body, len, &MODELS(q)->list, &call);
    return ac__call_error(&call, st, "parse_models", err);
}

static ac_status models_end(ac_request *q, int streamed, ac_error *err)
{
    (void)q, (void)streamed, (void)err;
    return AC_OK;
}

static size_t models_delivered(const ac_request *q) { (void)q; return 0; }
static void   models_restart(ac_request *q) { list_clear(&MODELS(q)->list); }
static void   models_fail(ac_request *q, const ac_error *err) { (void)q, (void)err; }
static void   models_release(ac_request *q) { list_clear(&MODELS(q)->list); }

static const rq_kind models_kind = {
    .name = "models",
    .size = sizeof(models_request),
    .body = models_body,
    .end = models_end,
    .delivered = models_delivered,
    .restart = models_restart,
    .fail = models_fail,
    .release = models_release,
};

/* The list is already made (list_local): end the request with it. */
static void local_start(ac_request *q) { ac__request_finish(q, AC_OK, NULL); }

static const rq_kind models_local_kind = {
    .name = "models",
    .size = sizeof(models_request),
    .end = models_end,
    .delivered = models_delivered,
    .restart = models_restart,
    .fail = models_fail,
    .release = models_release,
    .start = local_start,
};

/* An in-process plugin lists its models itself, on this thread; a
 * failure is the request's, reported through the engine like a build
 * failure. */
static void list_local(ac_request *q)
{
    ac_call call;
    ac__call_init(&call, q->llm->inst->name, ac__llm_settings(q->llm), &q->cancel);
    ac_status st = q->llm->vt->list_models(q->llm->state, &MODELS(q)->list, &call);
    if (ac__call_error(&call, st, "list_models", &q->preerr) != AC_OK) {
        list_clear(&MODELS(q)->list);
        ac__request_prefail(q, q->preerr.code, AC_STAGE_PLUGIN, "the plugin could not list "
                            "its models");
    }
}

static void build(ac_request *q)
{
    const ac_provider *vt = q->llm->vt;
    if (!vt->build_models_request || !vt->parse_models) {
        ac__request_prefail(q, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                            "this provider's plugin cannot list models");
        return;
    }
    ac_call call;
    ac__call_init(&call, q->llm->inst->name, ac__llm_settings(q->llm), &q->cancel);
    ac_status st = vt->build_models_request(q->llm->state, &q->http, &call);
    st = ac__call_error(&call, st, "build_models_request", &q->preerr);
    if (st == AC_OK && !q->http.url) {
        st = AC_EPLUGIN;
        ac__error_set(&q->preerr, st, AC_STAGE_PLUGIN, "the plugin built a request without a URL");
    }
    if (st != AC_OK)
        ac__request_prefail(q, st, AC_STAGE_REQUEST, "the plugin could not build the request");
    q->http.framing = AC_FRAMING_NONE;
}

/* A models request on llm, built and submitted; NULL with err. */
static ac_request *models_start(ac_llm *llm, const ac_callbacks *cb, void *user, ac_error *err)
{
    if (!llm) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "llm is NULL");
        return NULL;
    }
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    int local = llm->vt->list_models != NULL;
    ac_request *q = ac__request_new(local ? &models_local_kind : &models_kind, llm, NULL, cb,
                                    user);
    if (!q) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    if (local)
        list_local(q);
    else
        build(q);
    ac_status st = ac__request_submit(q);
    if (st != AC_OK) {
        ac__request_submit_error(q, st, err);
        ac__request_unref(q);
        return NULL;
    }
    return q;
}

ac_request *ac_alist_models(ac_llm *llm, const ac_callbacks *cb, void *user, ac_error *err)
{
    return models_start(llm, cb, user, err);
}

ac_models *ac_request_take_models(ac_request *q)
{
    if (!q || (q->kind != &models_kind && q->kind != &models_local_kind) ||
        ac__request_state(q) < RQ_COMPLETE)
        return NULL;
    pthread_mutex_lock(&q->mu);
    ac_models *m = NULL;
    if (q->status == AC_OK && !MODELS(q)->taken && (m = ac__calloc(1, sizeof *m)) != NULL) {
        m->l = MODELS(q)->list;
        memset(&MODELS(q)->list, 0, sizeof MODELS(q)->list);
        MODELS(q)->taken = 1;
    }
    pthread_mutex_unlock(&q->mu);
    return m;
}

ac_models *ac_list_models(ac_llm *llm, ac_error *err)
{
    if (llm && ac__refuse_blocking(llm, "ac_list_models", err))
        return NULL;
    ac_request *q = models_start(llm, NULL, NULL, err);
    if (!q)
        return NULL;
    ac_request_wait(q, -1);
    ac_models *m = NULL;
    if (ac_request_status(q, err) == AC_OK && !(m = ac_request_take_models(q)))
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    ac__request_unref(q);
    return m;
}
