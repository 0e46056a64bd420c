/*
 * models.c -- the model-list kind of request and ac_list_models.
 *
 * An HTTP plugin's list is a request through the engine (build, send,
 * parse); an in-process plugin's (list_models, ABI 2.1) is one call on the
 * caller's thread.
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

/* An in-process plugin lists its models itself, without the engine. */
static ac_models *list_local(ac_llm *llm, ac_error *err)
{
    ac_models *m = ac__calloc(1, sizeof *m);
    if (!m) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    ac_call call;
    ac__call_init(&call, llm->inst->name, ac__llm_settings(llm), NULL);
    ac_status st = llm->vt->list_models(llm->state, &m->l, &call);
    if (ac__call_error(&call, st, "list_models", err) != AC_OK) {
        list_clear(&m->l);
        ac__free(m);
        return NULL;
    }
    return m;
}

ac_models *ac_list_models(ac_llm *llm, ac_error *err)
{
    if (!llm) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "llm is NULL");
        return NULL;
    }
    if (ac__refuse_blocking(llm, "ac_list_models", err))
        return NULL;
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    if (llm->vt->list_models)
        return list_local(llm, err);
    ac_request *q = ac__request_new(&models_kind, llm, NULL, NULL, NULL);
    ac_models *m = ac__calloc(1, sizeof *m);
    if (!q || !m) {
        if (q)
            ac__request_unref(q);
        ac__free(m);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    build(q);
    ac_status st = ac__request_submit(q);
    if (st != AC_OK) {
        ac__request_submit_error(q, st, err);
        ac__request_unref(q);
        ac__free(m);
        return NULL;
    }
    ac_request_wait(q, -1);
    if (ac_request_status(q, err) == AC_OK) {
        m->l = MODELS(q)->list;
        memset(&MODELS(q)->list, 0, sizeof MODELS(q)->list);
    } else {
        ac__free(m);
        m = NULL;
    }
    ac__request_unref(q);
    return m;
}
