/*
 * gw_models.c -- GET /v1/models (and /v1/models/ID): every served
 * provider's models, listed concurrently, kept for
 * server.models_cache_ms.
 *
 * A request that finds the list stale starts one listing per provider
 * (ac_alist_models: the core runs them all at once on its loop) and
 * parks; requests arriving meanwhile wait for the same listings.  When
 * the last listing ends the list is rebuilt -- "provider/id" for every
 * model a provider listed; a provider that cannot list (or failed)
 * contributes its default model when it has one; then the aliases --
 * and every waiter is answered, each with the providers its key may use.
 * The answer is OpenAI's list, or Anthropic's when the request carries
 * an anthropic-version header.
 *
 * Loop thread only.
 */
#include "gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *id;      /* provider/model, or an alias */
    char *owner;   /* the provider */
} entry;

typedef struct listing {
    gw_models  *m;
    char       *provider;
    char       *fallback;   /* its default model, or NULL */
    ac_request *q;
} listing;

struct gw_models {
    gateway  *g;
    entry    *list, *next;
    size_t    n, n_next;
    double    fetched;      /* when the list was made, 0: never */
    listing **running;
    size_t    n_running;
    gw_conn  *waiters;
};

gw_models *gw_models_new(gateway *g)
{
    gw_models *m = calloc(1, sizeof *m);
    if (m)
        m->g = g;
    return m;
}

static void entries_free(entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].owner);
    }
    free(v);
}

void gw_models_free(gw_models *m)
{
    if (!m)
        return;
    entries_free(m->list, m->n);
    entries_free(m->next, m->n_next);
    free(m->running);
    free(m);
}

static void add(gw_models *m, const char *provider, const char *id)
{
    char *full = malloc(strlen(provider) + strlen(id) + 2);
    entry *v = realloc(m->next, (m->n_next + 1) * sizeof *v);
    if (!full || !v) {
        free(full);
        if (v)
            m->next = v;
        return; /* a listing short of one model, not a failure */
    }
    m->next = v;
    sprintf(full, "%s/%s", provider, id);
    v[m->n_next].id = full;
    if (!(v[m->n_next].owner = strdup(provider))) {
        free(full);
        return;
    }
    m->n_next++;
}

/* Every listing ended: the new list, the aliases, and the answers. */
static void finish(gw_models *m)
{
    for (size_t i = 0; i < m->g->cfg.n_aliases; i++) {
        const gw_alias *a = &m->g->cfg.aliases[i];
        entry *v = realloc(m->next, (m->n_next + 1) * sizeof *v);
        if (!v)
            break;
        m->next = v;
        v[m->n_next].id = strdup(a->name);
        v[m->n_next].owner = strdup(a->provider);
        if (!v[m->n_next].id || !v[m->n_next].owner) {
            free(v[m->n_next].id);
            free(v[m->n_next].owner);
            break;
        }
        m->n_next++;
    }
    entries_free(m->list, m->n);
    m->list = m->next;
    m->n = m->n_next;
    m->next = NULL;
    m->n_next = 0;
    m->fetched = gw_now_ms();
    gw_conn *w = m->waiters;
    m->waiters = NULL;
    while (w) {
        gw_conn *nx = w->waiter_next;
        w->waiter_next = NULL;
        gw_conn_wake(w);
        w = nx;
    }
}

static void listed(ac_request *q, ac_status st, void *user)
{
    listing *l = user;
    gw_models *m = l->m;
    ac_models *got = st == AC_OK ? ac_request_take_models(q) : NULL;
    size_t n = ac_models_count(got);
    for (size_t i = 0; i < n; i++)
        add(m, l->provider, ac_models_id(got, i));
    ac_models_free(got);
    if (n == 0 && l->fallback)
        add(m, l->provider, l->fallback);
    ac_request_free(q);
    for (size_t i = 0; i < m->n_running; i++)
        if (m->running[i] == l) {
            m->running[i] = m->running[--m->n_running];
            break;
        }
    free(l->provider);
    free(l->fallback);
    free(l);
    if (m->n_running == 0)
        finish(m);
}

/* Start a listing of every served provider; 0 when none could start. */
static size_t refresh(gw_models *m)
{
    gateway *g = m->g;
    listing **v = realloc(m->running, (g->cfg.n_providers + 1) * sizeof *v);
    if (!v)
        return 0;
    m->running = v;
    for (size_t i = 0; i < g->cfg.n_providers; i++) {
        const char *p = g->cfg.providers[i];
        ac_llm *llm = ac_llm_create(g->core, p, NULL, NULL, NULL);
        if (!llm)
            continue; /* unavailable: /ready says why */
        listing *l = calloc(1, sizeof *l);
        if (!l || !(l->provider = strdup(p))) {
            free(l);
            ac_llm_free(llm);
            continue;
        }
        l->m = m;
        l->fallback = *ac_llm_model(llm) ? strdup(ac_llm_model(llm)) : NULL;
        ac_callbacks cb = {.version = AC_CALLBACKS_VERSION, .on_done = listed};
        m->running[m->n_running++] = l;
        l->q = ac_alist_models(llm, &cb, l, NULL);
        ac_llm_free(llm);
        if (!l->q) {
            m->n_running--;
            if (l->fallback)
                add(m, p, l->fallback);
            free(l->provider);
            free(l->fallback);
            free(l);
        }
    }
    return m->n_running;
}

void gw_models_cancel(gw_models *m)
{
    for (size_t i = 0; m && i < m->n_running; i++)
        ac_request_cancel(m->running[i]->q);
}

void gw_models_forget(gw_models *m, gw_conn *c)
{
    for (gw_conn **p = &m->waiters; *p; p = (gw_conn **)&(*p)->waiter_next)
        if (*p == c) {
            *p = c->waiter_next;
            c->waiter_next = NULL;
            return;
        }
}

/* The answer for c, from the list. */
static int answer(gw_conn *c)
{
    gw_models *m = c->g->models;
    const char *one = strncmp(c->path, "/v1/models/", 11) == 0 ? c->path + 11 : NULL;
    jbuf b = {0};
    size_t shown = 0;
    const entry *first = NULL, *last = NULL;
    if (!one)
        jb_cstr(&b, c->api == GW_API_ANTHROPIC ? "{\"data\":[" : "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = &m->list[i];
        if (!gw_auth_allows(c->g->auth, c->key, e->owner) || (one && strcmp(one, e->id) != 0))
            continue;
        if (shown++)
            jb_cstr(&b, ",");
        if (!first)
            first = e;
        last = e;
        if (c->api == GW_API_ANTHROPIC) {
            jb_cstr(&b, "{\"type\":\"model\",\"id\":");
            jb_qstr(&b, e->id);
            jb_cstr(&b, ",\"display_name\":");
            jb_qstr(&b, e->id);
            jb_cstr(&b, ",\"created_at\":\"1970-01-01T00:00:00Z\"}");
        } else {
            jb_cstr(&b, "{\"id\":");
            jb_qstr(&b, e->id);
            jb_cstr(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
            jb_qstr(&b, e->owner);
            jb_cstr(&b, "}");
        }
        if (one)
            break;
    }
    if (one) {
        if (!shown) {
            jb_free(&b);
            gw_err e;
            gw_err_set(&e, 404, "invalid_request_error", "model", "model_not_found",
                       "The model '%.200s' does not exist or you do not have access to it.", one);
            return gw_respond_error(c, &e);
        }
        return gw_respond_json(c, 200, &b, -1);
    }
    if (c->api == GW_API_ANTHROPIC) {
        jb_cstr(&b, "],\"has_more\":false,\"first_id\":");
        jb_qstr(&b, first ? first->id : NULL);
        jb_cstr(&b, ",\"last_id\":");
        jb_qstr(&b, last ? last->id : NULL);
        jb_cstr(&b, "}");
    } else {
        jb_cstr(&b, "]}");
    }
    return gw_respond_json(c, 200, &b, -1);
}

int gw_models_start(gw_conn *c)
{
    gw_models *m = c->g->models;
    double age = gw_now_ms() - m->fetched;
    if (m->fetched > 0 && age < (double)c->g->cfg.models_cache_ms && m->n_running == 0)
        return answer(c);
    if (m->n_running == 0 && refresh(m) == 0) {
        finish(m);
        return answer(c);
    }
    c->waiter_next = m->waiters;
    m->waiters = c;
    c->state = GW_ST_WAITING;
    gw_conn_park(c);
    return 1;
}

int gw_models_resume(gw_conn *c)
{
    if (c->gone)
        return 0;
    gw_models *m = c->g->models;
    for (gw_conn *w = m->waiters; w; w = w->waiter_next)
        if (w == c) {
            gw_conn_park(c); /* still waiting */
            return 1;
        }
    return answer(c);
}
