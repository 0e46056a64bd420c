/*
 * gw_embed.c -- POST /v1/embeddings.
 *
 * The request is read and checked as OpenAI documents it (model routed
 * like a chat model, input a string or a list of strings, dimensions,
 * encoding_format float or base64), so a client's mistakes get the same
 * 400s as elsewhere.  What answers it is one seam, embed_call(): the core
 * has no embeddings call in this build yet (issue 10 adds ac_embed and
 * an asynchronous variant), so it answers 501.  With that call, embed_call
 * starts the asynchronous embedding, parks the connection like a chat
 * request, and its on_done writes {"object":"list","data":[{"object":
 * "embedding","index":i,"embedding":[...]}],"model",...,"usage"}.
 *
 * Loop thread only.
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

/* The one place the core is called.  Answers c (or parks it). */
static int embed_call(gw_conn *c, const char *provider, const char *model, const embed_req *r)
{
    (void)provider, (void)model, (void)r;
    gw_err e;
    gw_err_set(&e, 501, "invalid_request_error", "", "unsupported",
               "Embeddings are not available in this build of the gateway: the core has no "
               "embeddings call yet.");
    return gw_respond_error(c, &e);
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
