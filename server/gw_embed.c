/*
 * gw_embed.c -- POST /v1/embeddings: OpenAI's embeddings API over every
 * served provider whose plugin embeds (ac_aembed).
 *
 * The request is read and checked as OpenAI documents it (model routed
 * like a chat model, input a string or a list of strings, dimensions,
 * encoding_format float or base64), then embedded asynchronously: the
 * core cuts the texts into the backend's batches and sends them at once
 * while the connection parks; its on_done writes
 * {"object":"list","data":[{"object":"embedding","index":i,"embedding":
 * [...] or "base64"}],"model","usage"}, the vectors in input order.
 *
 * Loop thread only.  The upstream request holds a reference on the
 * connection until its on_done.
 */
#include "gw.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct embed_req {
    const char **inputs;
    size_t       n;
    long long    dimensions;   /* 0: the model's */
    int          base64;
} embed_req;

static void embedded(ac_request *q, ac_status st, void *user)
{
    gw_conn *c = user;
    c->done = 1;
    c->ust = st;
    c->g->inflight--;
    if (st == AC_OK) {
        c->emb = ac_request_take_embeddings(q);
        c->in_tok = c->emb ? ac_embeddings_input_tokens(c->emb) : -1;
    } else {
        ac_error ae;
        ac_request_status(q, &ae);
        gw_err_from_ac(&c->err, &ae);
        if (st == AC_ECANCELED && !c->note)
            c->note = c->g->cancelled ? "shutdown" : "cancelled";
    }
    c->q = NULL;
    ac_request_free(q);
    gw_conn_wake(c);
    gw_conn_unref(c);
}

/* Start the embedding of r on provider/model, and park c. */
static int embed_call(gw_conn *c, const char *provider, const char *model, const embed_req *r)
{
    gateway *g = c->g;
    gw_err e;
    ac_error ae;
    ac_llm *llm = ac_llm_create(g->core, provider, model, NULL, &ae);
    if (!llm) {
        gw_err_from_ac(&e, &ae);
        e.status = ae.code == AC_ENOPROVIDER ? 404 : 503;
        return gw_respond_error(c, &e);
    }
    if (!*c->model)
        snprintf(c->model, sizeof c->model, "%s", ac_llm_model(llm));
    ac_embed_params p = {.version = AC_EMBED_PARAMS_VERSION, .dimensions = (size_t)r->dimensions};
    ac_callbacks cb = {.version = AC_CALLBACKS_VERSION, .on_done = embedded};
    c->embed_b64 = r->base64;
    gw_conn_ref(c);
    ac_request *q = ac_aembed(llm, r->inputs, r->n, &p, &cb, c, &ae);
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
}

/* Standard base64 of n bytes into b. */
static void base64(jbuf *b, const unsigned char *s, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        q[0] = a[v >> 18 & 63];
        q[1] = a[v >> 12 & 63];
        q[2] = i + 1 < n ? a[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? a[v & 63] : '=';
        jb_raw(b, q, 4);
    }
}

int gw_embed_resume(gw_conn *c)
{
    if (c->gone)
        return 0;
    if (!c->done) {
        gw_conn_park(c);
        return 1;
    }
    if (c->ust != AC_OK || !c->emb)
        return gw_respond_error(c, &c->err);
    const ac_embeddings *v = c->emb;
    size_t dim = ac_embeddings_dimension(v);
    jbuf b = {0};
    jb_cstr(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < ac_embeddings_count(v); i++) {
        const float *x = ac_embeddings_vector(v, i);
        jb_fmt(&b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        if (c->embed_b64) {
            /* Little-endian float32, as OpenAI sends them. */
            unsigned char *raw = malloc(dim * 4 + 1);
            if (!raw) {
                jb_free(&b);
                return 0;
            }
            for (size_t k = 0; k < dim; k++) {
                unsigned u;
                memcpy(&u, &x[k], 4);
                raw[4 * k] = (unsigned char)u;
                raw[4 * k + 1] = (unsigned char)(u >> 8);
                raw[4 * k + 2] = (unsigned char)(u >> 16);
                raw[4 * k + 3] = (unsigned char)(u >> 24);
            }
            jb_raw(&b, "\"", 1);
            base64(&b, raw, dim * 4);
            jb_raw(&b, "\"", 1);
            free(raw);
        } else {
            jb_raw(&b, "[", 1);
            /* Nine significant digits: each parses back to the same float. */
            for (size_t k = 0; k < dim; k++)
                jb_fmt(&b, k ? ",%.9g" : "%.9g", (double)x[k]);
            jb_raw(&b, "]", 1);
        }
        jb_raw(&b, "}", 1);
    }
    long in = ac_embeddings_input_tokens(v);
    jb_cstr(&b, "],\"model\":");
    jb_qstr(&b, c->req.model);
    jb_fmt(&b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}", in < 0 ? 0 : in,
           in < 0 ? 0 : in);
    return gw_respond_json(c, 200, &b, -1);
}

int gw_embed_start(gw_conn *c)
{
    gateway *g = c->g;
    gw_err e;
    json_object *root = gw_json_parse(c->body, c->len, &e);
    if (!root)
        return gw_respond_error(c, &e);
    embed_req r = {0};
    const char *model = NULL, *fmt = NULL;
    char *provider = NULL, *pmodel = NULL;
    int rc;
    if (gw_jstring(root, "model", "model", &model, &e) < 0)
        goto fail;
    if (!model || !*model) {
        gw_err_set(&e, 400, "invalid_request_error", "model", "missing_required_parameter",
                   "Missing required parameter: 'model'.");
        goto fail;
    }
    json_object *in = gw_jget(root, "input");
    if (!in) {
        gw_err_set(&e, 400, "invalid_request_error", "input", "missing_required_parameter",
                   "Missing required parameter: 'input'.");
        goto fail;
    }
    size_t n = json_object_is_type(in, json_type_array) ? json_object_array_length(in) : 1;
    if (!json_object_is_type(in, json_type_string) && !json_object_is_type(in, json_type_array)) {
        gw_err_set(&e, 400, "invalid_request_error", "input", "invalid_type",
                   "Invalid type for 'input': expected a string or an array of strings, but got "
                   "%s instead.", gw_jtype(in));
        goto fail;
    }
    if (n == 0 || n > 2048) {
        gw_err_set(&e, 400, "invalid_request_error", "input", "invalid_value",
                   "Invalid 'input': between 1 and 2048 texts are accepted, not %zu.", n);
        goto fail;
    }
    if (!(r.inputs = calloc(n, sizeof *r.inputs))) {
        gw_err_set(&e, 500, "server_error", "", "", "Out of memory.");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_is_type(in, json_type_array)
                             ? json_object_array_get_idx(in, i) : in;
        if (!json_object_is_type(v, json_type_string)) {
            char p[32];
            gw_path(p, sizeof p, "input[%zu]", i);
            gw_err_set(&e, 400, "invalid_request_error", p, "invalid_type",
                       "Invalid type for '%s': expected a string, but got %s instead.", p,
                       gw_jtype(v));
            goto fail;
        }
        r.inputs[i] = json_object_get_string(v);
    }
    r.n = n;
    if (gw_jint(root, "dimensions", "dimensions", 1, 65536, &r.dimensions, &e) < 0 ||
        gw_jstring(root, "encoding_format", "encoding_format", &fmt, &e) < 0)
        goto fail;
    if (fmt && strcmp(fmt, "float") != 0 && strcmp(fmt, "base64") != 0) {
        gw_err_set(&e, 400, "invalid_request_error", "encoding_format", "invalid_value",
                   "Invalid value for 'encoding_format': '%.40s' is not one of float, base64.",
                   fmt);
        goto fail;
    }
    r.base64 = fmt && strcmp(fmt, "base64") == 0;
    if (gw_route(g, model, &provider, &pmodel, &e) != 0)
        goto fail;
    snprintf(c->provider, sizeof c->provider, "%s", provider);
    snprintf(c->model, sizeof c->model, "%s", pmodel ? pmodel : "");
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
    if (!(c->req.model = strdup(model))) {
        gw_err_set(&e, 500, "server_error", "", "", "Out of memory.");
        goto fail;
    }
    rc = embed_call(c, provider, pmodel, &r);
    free(provider);
    free(pmodel);
    free(r.inputs);
    json_object_put(root);
    return rc;
fail:
    free(provider);
    free(pmodel);
    free(r.inputs);
    json_object_put(root);
    return gw_respond_error(c, &e);
}
