/*
 * openai_compat_embed.c -- the OpenAI embeddings API in the compatible
 * codec (libabstractcore-provider): POST {base_url}/embeddings and its
 * reply (docs/protocols.md section 6), for OpenAI, LM Studio, llama.cpp's
 * llama-server, vLLM, TEI's OpenAI route and Ollama's /v1.
 *
 * Request: {"model", "input": ["text", ...], "dimensions"?}.  The input is
 * always a list, so the reply's shape never depends on the batch size;
 * vectors are asked for as floats (the API's default, and the one format
 * every compatible server has), and read as floats or as base64 should a
 * server send that anyway.  Each vector goes to the place its `index`
 * says, not its position in `data` (the API documents index; servers that
 * leave it out are read by position).
 *
 * Reads the state made in openai_compat.c; pure functions otherwise, so
 * any thread.  Error bodies are ac_oai_parse_error's, as for chat.
 */
#include "openai_compat_internal.h"

#include <abstractcore/sdk.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* The API takes 2048 inputs, but 2048 vectors of text-embedding-3-large
 * (3072 values) are about 100 MB of JSON, far past the default
 * max_response_bytes (16 MiB); 256 of them are about 12 MB. */
#define OAI_EMBED_MAX_BATCH 256

static ac_status oai_nomem(const ac_host_api *h, ac_call *call)
{
    return h->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
}

ac_status ac_oai_build_embed_request(void *state, const ac_embed_request *req,
                                     ac_http_request *out, ac_call *call)
{
    const oai_state *st = state;
    if (!st || !req || !out)
        return AC_EINVAL;
    const ac_host_api *h = st->host;
    const char *model = req->model && *req->model ? req->model : st->default_model;
    if (!model || !*model)
        return h->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                       "no embeddings model given (pass one, or set embed_model)");
    json_object *body = json_object_new_object(), *input = json_object_new_array();
    char *url = NULL;
    ac_status rc = AC_OK;
    if (!body || !input) {
        json_object_put(input);
        rc = oai_nomem(h, call);
        goto done;
    }
    if (json_object_object_add(body, "input", input) != 0) {
        json_object_put(input);
        rc = oai_nomem(h, call);
        goto done;
    }
    json_object *m = json_object_new_string(model);
    if (!m || json_object_object_add(body, "model", m) != 0) {
        json_object_put(m);
        rc = oai_nomem(h, call);
        goto done;
    }
    for (size_t i = 0; i < req->n_texts; i++) {
        size_t len = 0;
        const char *t = h->embed_text(req, i, &len);
        if (!t || len > 0x7fffffff) {
            rc = h->fail(call, AC_EINVAL, AC_STAGE_REQUEST, "text %zu is missing or over 2 GiB",
                         i);
            goto done;
        }
        json_object *s = json_object_new_string_len(t, (int)len);
        if (!s || json_object_array_add(input, s) != 0) {
            json_object_put(s);
            rc = oai_nomem(h, call);
            goto done;
        }
    }
    if (req->dimensions) {
        json_object *d = json_object_new_int64((int64_t)req->dimensions);
        if (!d || json_object_object_add(body, "dimensions", d) != 0) {
            json_object_put(d);
            rc = oai_nomem(h, call);
            goto done;
        }
    }
    size_t nb = strlen(st->base_url);
    url = h->malloc(nb + sizeof "/embeddings");
    if (!url) {
        rc = oai_nomem(h, call);
        goto done;
    }
    memcpy(url, st->base_url, nb);
    memcpy(url + nb, "/embeddings", sizeof "/embeddings");
    rc = h->http_set(out, "POST", url, AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = oai_headers(st, out, 1, "application/json", call);
    if (rc == AC_OK)
        rc = ac_sdk_json_body(h, out, body, call);
done:
    h->free(url);
    json_object_put(body);
    return rc;
}

/* data[i]'s place: its "index" when it has one, else its position. */
static ac_status oai_embed_index(const ac_host_api *h, json_object *item, size_t pos,
                                 size_t *out, ac_call *call)
{
    json_object *ix;
    *out = pos;
    if (!json_object_object_get_ex(item, "index", &ix) || !ix)
        return AC_OK;
    if (!json_object_is_type(ix, json_type_int) || json_object_get_int64(ix) < 0)
        return h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                       "embeddings data[%zu]: \"index\" is not a whole number >= 0", pos);
    *out = (size_t)json_object_get_int64(ix);
    return AC_OK;
}

ac_status ac_oai_parse_embed_response(void *state, const char *body, size_t len,
                                      ac_embed_sink *out, ac_call *call)
{
    const oai_state *st = state;
    if (!st || !body || !out)
        return AC_EINVAL;
    const ac_host_api *h = st->host;
    json_object *root = h->json_parse(call, body, len, "embeddings response");
    if (!root)
        return AC_EJSON;
    ac_status rc = AC_OK;
    json_object *e, *data;
    if (!json_object_is_type(root, json_type_object)) {
        rc = h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                     "the embeddings response is not a JSON object");
        goto done;
    }
    if (json_object_object_get_ex(root, "error", &e) && e &&
        !(json_object_is_type(e, json_type_boolean) && !json_object_get_boolean(e))) {
        char text[200];
        ac_sdk_excerpt(body, len, text, sizeof text);
        rc = h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "error in embeddings response: %s",
                     text);
        goto done;
    }
    if (!json_object_object_get_ex(root, "data", &data) ||
        !json_object_is_type(data, json_type_array)) {
        rc = h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                     "the embeddings response has no \"data\" array");
        goto done;
    }
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n && rc == AC_OK; i++) {
        json_object *item = json_object_array_get_idx(data, i), *v;
        size_t index;
        rc = oai_embed_index(h, item, i, &index, call);
        if (rc != AC_OK)
            break;
        if (!json_object_object_get_ex(item, "embedding", &v) || !v) {
            rc = h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                         "embeddings data[%zu] has no \"embedding\"", i);
            break;
        }
        rc = ac_sdk_embed_vector_json(h, out, index, v, call);
    }
    if (rc != AC_OK)
        goto done;
    const char *model = ac_sdk_json_string(root, "model");
    if (model && *model && (rc = h->embed_model(out, model)) != AC_OK)
        goto done;
    long long tokens;
    json_object *usage = ac_sdk_json_object(root, "usage");
    if (usage && ac_sdk_json_int(usage, "prompt_tokens", &tokens) && tokens >= 0)
        rc = h->embed_usage(out, tokens > 0x7fffffffLL ? 0x7fffffffL : (long)tokens);
done:
    json_object_put(root);
    return rc;
}

size_t ac_oai_embed_max_batch(void *state)
{
    (void)state;
    return OAI_EMBED_MAX_BATCH;
}

ac_status ac_oai_add_headers(const void *state, ac_http_request *out, int has_body,
                             const char *accept, ac_call *call)
{
    const oai_state *st = state;
    if (!st || !out || !accept)
        return AC_EINVAL;
    return oai_headers(st, out, has_body, accept, call);
}
