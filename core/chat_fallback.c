/*
 * chat_fallback.c -- moving a chat request to the next provider of its
 * fallback chain.
 *
 * The chain is the request's own (ac_gen_params_add_fallback), else the
 * `fallback` list of the provider it was made on.  The engine asks for a
 * move when a try failed with an error another backend may not have
 * (retryable, or an open circuit) and nothing reached the caller yet
 * (engine.c, fail_or_fallback).  A move makes an llm of the next provider
 * (its model: the chain's, else the provider's model_map for the model
 * asked, else its default), starts the request over from the messages as
 * the caller gave them -- fitted anew to the new plugin, whose features
 * may differ (prompted tools, a schema in the prompt) -- and lets the
 * engine start its first try there.  A provider that cannot take it (not
 * configured, unavailable, cannot build the request) is skipped, its
 * reason logged.
 *
 * The same start over, on the same provider, makes a request again with
 * its tools or schema in the prompt when the backend refused the native
 * form for this model (ac__chat_downgrade; prompted.c says when).
 *
 * Engine context only.
 */
#include "chat_int.h"
#include "alloc.h"
#include "error.h"
#include "hook.h"
#include "log.h"
#include "response.h"

#include <string.h>

static ac_status chain_add(chat_request *c, const char *provider, const char *model)
{
    char **p = ac__realloc(c->fb_provider, (c->n_fb + 1) * sizeof *p);
    if (!p)
        return AC_ENOMEM;
    c->fb_provider = p;
    char **m = ac__realloc(c->fb_model, (c->n_fb + 1) * sizeof *m);
    if (!m)
        return AC_ENOMEM;
    c->fb_model = m;
    p[c->n_fb] = ac__strdup(provider);
    m[c->n_fb] = model ? ac__strdup(model) : NULL;
    if (!p[c->n_fb] || (model && !m[c->n_fb])) {
        ac__free(p[c->n_fb]);
        ac__free(m[c->n_fb]);
        return AC_ENOMEM;
    }
    c->n_fb++;
    return AC_OK;
}

ac_status ac__chat_chain(chat_request *c)
{
    const ac_gen_params *p = c->params;
    ac_llm *llm = c->base.llm;
    if (p->n_fb) {
        for (size_t i = 0; i < p->n_fb; i++)
            if (chain_add(c, p->fb_provider[i], p->fb_model[i]) != AC_OK)
                return AC_ENOMEM;
        return AC_OK;
    }
    const ac_settings *s = ac__llm_settings(llm);
    int n = ac__settings_list_count(s, "fallback");
    const char *one = NULL;
    if (n < 0 && ac__settings_string(s, "fallback", &one) == 1)
        n = 1; /* one provider, as a plain string */
    for (int i = 0; i < n; i++) {
        const char *name = one ? one : ac__settings_list_item(s, "fallback", i);
        /* A chain naming its own provider would go round in a circle. */
        if (name && *name && strcmp(name, llm->inst->name) != 0 &&
            chain_add(c, name, NULL) != AC_OK)
            return AC_ENOMEM;
    }
    return AC_OK;
}

void ac__chat_chain_free(chat_request *c)
{
    for (size_t i = 0; i < c->n_fb; i++) {
        ac__free(c->fb_provider[i]);
        ac__free(c->fb_model[i]);
    }
    ac__free(c->fb_provider);
    ac__free(c->fb_model);
    c->fb_provider = c->fb_model = NULL;
    c->n_fb = c->fb_next = 0;
    ac__msgs_free(c->base_msgs, c->n_base);
    c->base_msgs = NULL;
    c->n_base = 0;
}

/* An llm of `provider` for the next try, or NULL with err. */
static ac_llm *next_llm(chat_request *c, const char *provider, const char *model,
                        ac_error *err)
{
    ac_core *core = c->base.llm->core;
    const char *asked = c->base.origin->model;
    ac_llm *probe = NULL;
    if (!model) {
        /* The target's model_map, read from its instance. */
        probe = ac_llm_create(core, provider, NULL, NULL, err);
        if (!probe)
            return NULL;
        const char *mapped = ac__instance_model_map(probe->inst, asked);
        if (!mapped)
            return probe; /* its default model */
        model = mapped;
    }
    ac_llm *l = ac_llm_create(core, provider, model, NULL, err);
    ac_llm_free(probe);
    return l;
}

/* The request starts over on its llm: sink, rounds and messages. */
static ac_status start_over(chat_request *c)
{
    ac_request *q = &c->base;
    ac_llm *l = q->llm;
    ac_response *r = q->resp;
    ac__sink_cleanup(&c->sink);
    c->sink.vt = l->vt;
    c->sink.pstate = l->state;
    ac__sink_reset(&c->sink);
    /* Structured output starts its rounds over too. */
    c->round = 1;
    c->again = 0;
    c->used_in = c->used_out = 0;
    r->attempts = 1;
    c->attempts = c->params->schema_attempts >= 0 ? c->params->schema_attempts
                                                  : l->co.schema_attempts;
    ac__http_request_clear(&q->http);
    return ac__chat_fit(c, c->base_msgs, c->n_base);
}

/* Put the request on llm l: its response, sink and messages start over. */
static ac_status move_to(chat_request *c, ac_llm *l)
{
    ac_request *q = &c->base;
    ac_llm *old = q->llm;
    q->llm = l;
    ac__llm_unref(old);
    ac_response *r = q->resp;
    if (ac__response_set_str(&r->provider, l->inst->name) ||
        ac__response_set_str(&r->model, l->model))
        return AC_ENOMEM;
    /* A new backend may take natively what the last one refused. */
    c->force = 0;
    return start_over(c);
}

const char *ac__chat_forced_text(unsigned force)
{
    return force == (AC__PROMPT_TOOLS | AC__PROMPT_SCHEMA) ? "tools and schema"
           : force == AC__PROMPT_TOOLS                   ? "tools"
                                                         : "schema";
}

int ac__chat_downgrade(ac_request *q, const ac_error *why, int apply, ac_error *err)
{
    chat_request *c = CHAT(q);
    if (!c->base_msgs || c->count_only)
        return 0;
    unsigned add = ac__prompted_refused(q->llm, c->params, &c->plan, why) & ~c->force;
    if (!add || !apply)
        return add != 0;
    ac__log(AC_LOG_INFO, q->llm->inst->name, "model '%s' refused the native %s (%s): asking "
            "again with them in the prompt", q->llm->model, ac__chat_forced_text(add),
            why->message);
    c->force |= add;
    ac__hook_retry(q, why, 0);
    ac_status st = start_over(c);
    if (st != AC_OK) {
        if (st == AC_ENOMEM)
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        else
            *err = q->preerr;
        return -1;
    }
    return 1;
}

int ac__chat_fallback(ac_request *q, const ac_error *why, ac_error *err)
{
    chat_request *c = CHAT(q);
    while (c->fb_next < c->n_fb) {
        const char *provider = c->fb_provider[c->fb_next];
        const char *model = c->fb_model[c->fb_next];
        c->fb_next++;
        ac_error e;
        ac_error_clear(&e);
        ac_llm *l = next_llm(c, provider, model, &e);
        if (!l) {
            ac__log(AC_LOG_WARN, q->llm->inst->name, "fallback to provider '%s' skipped: %s",
                    provider, e.message);
            continue;
        }
        ac__hook_fallback(q, why, l->inst->name, l->model);
        ac__log(AC_LOG_INFO, q->llm->inst->name, "falling back to provider '%s' (model '%s'): "
                "%s", l->inst->name, l->model, why->message);
        ac_status st = move_to(c, l);
        if (st == AC_ENOMEM) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory moving the request "
                          "to provider '%s'", provider);
            return -1;
        }
        if (st != AC_OK) {
            ac__log(AC_LOG_WARN, provider, "fallback: cannot take the request: %s",
                    q->preerr.message);
            continue;
        }
        return 1;
    }
    return 0;
}
