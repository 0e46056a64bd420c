/*
 * gw_chat.c -- one generation's life: POST /v1/chat/completions and POST
 * /v1/messages from a complete body to the last byte of the reply.
 *
 *   body -> JSON -> gw_openai_parse / gw_anthropic_parse -> route the
 *   model to a provider (alias, "provider/model", or a provider's default)
 *   -> the key's allow-list and rate -> ac_agenerate_messages, and the
 *   connection parks (suspended, its socket watched for the client
 *   leaving);
 *   each event -> gw_emit_event appends SSE bytes to the connection's
 *   buffer and wakes it; libmicrohttpd's content reader (gw_chat_read)
 *   takes them; when more than GW_OUT_HIGH bytes wait for a slow client
 *   the upstream is paused (ac_request_pause: the backend sees TCP
 *   backpressure) until the client drained it below GW_OUT_LOW;
 *   on_done -> the end of the stream, or the whole body, or an error.
 *
 * A stream's HTTP status is sent with its first event, so a request that
 * fails before any event (a 404 model, a 429, a refused connection after
 * the retries) gets its proper status and an error body, not a 200 with
 * an error event.  Once the first event is out, an error can only be an
 * in-stream error event.
 *
 * Ownership: the upstream request holds a reference on the connection
 * from ac_agenerate_messages until its on_done, which frees the request.
 * Everything runs on the loop thread (the core is in host mode).
 */
#include "gw.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_route(const gateway *g, const char *name, char **provider, char **model, gw_err *e)
{
    *provider = *model = NULL;
    for (size_t i = 0; i < g->cfg.n_aliases; i++)
        if (strcmp(g->cfg.aliases[i].name, name) == 0) {
            *provider = strdup(g->cfg.aliases[i].provider);
            *model = strdup(g->cfg.aliases[i].model);
            goto made;
        }
    const char *slash = strchr(name, '/');
    if (slash) {
        *provider = strndup(name, (size_t)(slash - name));
        if (*provider && gw_config_serves(&g->cfg, *provider) && slash[1]) {
            *model = strdup(slash + 1);
            goto made;
        }
    } else if (gw_config_serves(&g->cfg, name)) {
        *provider = strdup(name); /* its default model */
        if (*provider)
            return 0;
        goto oom;
    }
    free(*provider);
    *provider = NULL;
    gw_err_set(e, 404, "invalid_request_error", "model", "model_not_found",
               "The model '%.200s' does not exist or you do not have access to it: use "
               "PROVIDER/MODEL with a provider this gateway serves, or an alias (GET /v1/models "
               "lists them).", name);
    return -1;
made:
    if (*provider && *model)
        return 0;
oom:
    free(*provider);
    free(*model);
    *provider = *model = NULL;
    gw_err_set(e, 500, "server_error", "", "", "Out of memory.");
    return -1;
}

/* ------------------------------------------------------------------ */
/* The core's callbacks                                                */
/* ------------------------------------------------------------------ */

static void on_event(ac_request *q, const ac_chunk *ch, void *user)
{
    gw_conn *c = user;
    /* An error is on_done's: before the first event it is an HTTP
     * status, after it the API's in-stream error. */
    if (c->gone || ch->type == AC_EVENT_ERROR)
        return;
    gw_emit_event(&c->em, &c->out, ch);
    if (!c->held && c->out.len > GW_OUT_HIGH) {
        /* The client reads slower than the backend writes. */
        ac_request_pause(q);
        c->held = 1;
        gw_metrics_gauge(c->g->metrics, "paused", 1);
    }
    gw_conn_wake(c);
}

static void on_done(ac_request *q, ac_status st, void *user)
{
    gw_conn *c = user;
    gateway *g = c->g;
    c->done = 1;
    c->ust = st;
    g->inflight--;
    if (st != AC_OK) {
        ac_error ae;
        ac_request_status(q, &ae);
        gw_err_from_ac(&c->err, &ae);
        if (st == AC_ECANCELED && g->cancelled)
            gw_err_set(&c->err, 503, "server_error", "", "server_shutting_down",
                       "The gateway is shutting down; the request was cancelled.");
        if (st == AC_ECANCELED && !c->note)
            c->note = g->cancelled ? "shutdown" : "cancelled";
    }
    c->resp = ac_request_take_response(q);
    if (c->resp) {
        c->in_tok = ac_response_input_tokens(c->resp);
        c->out_tok = ac_response_output_tokens(c->resp);
    }
    if (c->held) {
        c->held = 0;
        gw_metrics_gauge(g->metrics, "paused", -1);
    }
    /* A stream that began ends in its own format; one that failed before
     * its first event gets an HTTP error status instead (gw_chat_resume). */
    if (!c->gone && c->req.stream && (c->em.started || st == AC_OK))
        gw_emit_end(&c->em, &c->out, st, &c->err);
    c->q = NULL;
    ac_request_free(q);
    gw_conn_wake(c);
    gw_conn_unref(c);
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */
/* ------------------------------------------------------------------ */

int gw_chat_start(gw_conn *c)
{
    gateway *g = c->g;
    gw_err e;
    json_object *root = gw_json_parse(c->body, c->len, &e);
    if (!root)
        return gw_respond_error(c, &e);
    int rc = c->ep == GW_EP_CHAT ? gw_openai_parse(root, g->cfg.max_messages, &c->req, &e)
                                 : gw_anthropic_parse(root, g->cfg.max_messages, &c->req, &e);
    json_object_put(root);
    free(c->body);
    c->body = NULL;
    c->len = c->cap = 0;
    if (rc != 0)
        return gw_respond_error(c, &e);
    char *provider = NULL, *model = NULL;
    if (gw_route(g, c->req.model, &provider, &model, &e) != 0)
        return gw_respond_error(c, &e);
    snprintf(c->provider, sizeof c->provider, "%s", provider);
    snprintf(c->model, sizeof c->model, "%s", model ? model : "");
    if (!gw_auth_allows(g->auth, c->key, provider)) {
        gw_err_set(&e, 403, "permission_error", "model", "provider_not_allowed",
                   "This key may not use provider '%s'.", provider);
        goto fail;
    }
    long wait = gw_auth_take(g->auth, c->key, gw_now_ms());
    if (wait > 0) {
        gw_err_set(&e, 429, "rate_limit_error", "", "rate_limit_exceeded",
                   "Rate limit reached for key '%s': try again in %ld s.",
                   gw_auth_id(g->auth, c->key), wait);
        e.retry_after_s = wait;
        gw_metrics_count(g->metrics, "rate_limited", gw_auth_id(g->auth, c->key));
        goto fail;
    }
    ac_error ae;
    ac_llm *llm = ac_llm_create(g->core, provider, model, NULL, &ae);
    if (!llm) {
        gw_err_from_ac(&e, &ae);
        if (ae.code == AC_ENOPROVIDER) {
            e.status = 404;
            snprintf(e.code, sizeof e.code, "model_not_found");
        } else {
            /* Its plugin is missing or its group is wrong: our fault. */
            e.status = 503;
            snprintf(e.type, sizeof e.type, "server_error");
            snprintf(e.code, sizeof e.code, "provider_unavailable");
        }
        goto fail;
    }
    free(provider);
    free(model);
    if (!*c->model)
        snprintf(c->model, sizeof c->model, "%s", ac_llm_model(llm));
    gw_emit_init(&c->em, c->req.api, c->req.model, c->req.structured, c->req.include_usage);
    ac_callbacks cb = {.version = AC_CALLBACKS_VERSION,
                       .on_event = c->req.stream ? on_event : NULL,
                       .on_done = on_done};
    gw_conn_ref(c);
    ac_request *q = ac_agenerate_messages(llm, c->req.msgs, c->req.params, &cb, c, &ae);
    ac_llm_free(llm);
    if (!q) {
        gw_conn_unref(c);
        gw_err_from_ac(&e, &ae);
        return gw_respond_error(c, &e);
    }
    c->q = q;
    g->inflight++;
    c->state = GW_ST_WAITING;
    gw_conn_park(c);
    return 1;
fail:
    free(provider);
    free(model);
    return gw_respond_error(c, &e);
}

int gw_chat_resume(gw_conn *c)
{
    if (c->gone)
        return 0;
    if (c->req.stream) {
        if (c->out.len || (c->done && c->ust == AC_OK) || (c->done && c->em.started))
            return gw_respond_stream(c);
        if (c->done)
            return gw_respond_error(c, &c->err);
        gw_conn_park(c);
        return 1;
    }
    if (!c->done) {
        gw_conn_park(c);
        return 1;
    }
    if (c->ust != AC_OK || !c->resp)
        return gw_respond_error(c, &c->err);
    jbuf body = {0};
    gw_emit_body(&c->em, &body, c->resp);
    return gw_respond_json(c, 200, &body, -1);
}

long gw_chat_read(gw_conn *c, char *buf, size_t max)
{
    if (c->gone)
        return GW_READ_ERROR;
    if (c->out.oom) {
        /* The rest of the reply cannot be written: end it broken rather
         * than with a hole in it. */
        if (c->q)
            ac_request_cancel(c->q);
        return GW_READ_ERROR;
    }
    if (c->out.len) {
        size_t n = c->out.len < max ? c->out.len : max;
        memcpy(buf, c->out.p, n);
        jb_consume(&c->out, n);
        if (c->held && c->out.len < GW_OUT_LOW) {
            c->held = 0;
            gw_metrics_gauge(c->g->metrics, "paused", -1);
            ac_request_resume(c->q);
        }
        return (long)n;
    }
    if (c->done)
        return GW_READ_END;
    gw_conn_park(c);
    return 0;
}
