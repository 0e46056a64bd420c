/*
 * embed.c -- Ollama's embeddings API (docs/protocols.md section 6):
 * POST {base}/api/embed and its reply.
 *
 * Request: {"model", "input": ["text", ...], "dimensions"?, "keep_alive"?,
 * "options": {"num_ctx"}?}: the input always a list, the instance's
 * keep_alive and num_ctx as for chat.  Ollama's default truncation is
 * left alone (an input longer than the context is cut at its end; see
 * docs/providers/ollama.md).  Reply: {"model", "embeddings": [[...], ...]
 * (always a list, in input order), "prompt_eval_count"?, durations}.
 * Errors are {"error": "text"}, read by ollama_parse_error as for chat.
 *
 * Pure functions of their inputs and the read-only state: any thread.
 */
#include "ollama.h"

#include <string.h>

/* Ollama documents no batch limit: it embeds a batch in one pass of the
 * model, and a large one only takes memory.  The core's default cut. */
#define OLLAMA_EMBED_MAX_BATCH 256

static ac_status ollama_embed_nomem(ac_call *call)
{
    return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "ollama: out of memory");
}

/* keep_alive and options.num_ctx, as chat requests carry them. */
static int ollama_embed_extras(json_object *root, const ollama_state *st)
{
    if (st->keep_alive_num) {
        if (ollama_add(root, "keep_alive", json_object_new_int64(st->keep_alive_secs)) != 0)
            return -1;
    } else if (st->keep_alive &&
               ollama_add(root, "keep_alive", json_object_new_string(st->keep_alive)) != 0) {
        return -1;
    }
    if (st->has_num_ctx) {
        json_object *opt = json_object_new_object();
        if (ollama_add(root, "options", opt) != 0 ||
            ollama_add(opt, "num_ctx", json_object_new_int64(st->num_ctx)) != 0)
            return -1;
    }
    return 0;
}

ac_status ollama_build_embed_request(void *state, const ac_embed_request *req,
                                     ac_http_request *out, ac_call *call)
{
    const ollama_state *st = state;
    const char *model = req->model && *req->model ? req->model : st->default_model;
    if (!model || !*model)
        return ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "ollama: no embeddings model given (pass one, or set "
                                 "embed_model)");
    json_object *root = json_object_new_object(), *input = json_object_new_array();
    ac_status rc = AC_OK;
    if (!root || ollama_add(root, "input", input) != 0 ||
        ollama_add(root, "model", json_object_new_string(model)) != 0) {
        if (!root)
            json_object_put(input);
        rc = ollama_embed_nomem(call);
        goto done;
    }
    for (size_t i = 0; i < req->n_texts; i++) {
        size_t len = 0;
        const char *t = ollama_host->embed_text(req, i, &len);
        if (!t || len > 0x7fffffff) {
            rc = ollama_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                   "ollama: text %zu is missing or over 2 GiB", i);
            goto done;
        }
        if (ollama_append(input, json_object_new_string_len(t, (int)len)) != 0) {
            rc = ollama_embed_nomem(call);
            goto done;
        }
    }
    if ((req->dimensions &&
         ollama_add(root, "dimensions", json_object_new_int64((int64_t)req->dimensions)) != 0) ||
        ollama_embed_extras(root, st) != 0) {
        rc = ollama_embed_nomem(call);
        goto done;
    }
    rc = ollama_host->http_set(out, "POST", st->embed_url, AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Content-Type", "application/json", call);
    if (rc == AC_OK)
        rc = ollama_host->http_header(out, "Accept", "application/json", call);
    if (rc == AC_OK && st->auth)
        rc = ollama_host->http_header(out, "Authorization", st->auth, call);
    if (rc == AC_OK)
        rc = ac_sdk_json_body(ollama_host, out, root, call);
done:
    json_object_put(root);
    return rc;
}

ac_status ollama_parse_embed_response(void *state, const char *body, size_t len,
                                      ac_embed_sink *out, ac_call *call)
{
    json_object *root, *e;
    (void)state;
    ac_status rc = ollama_parse(call, body, body ? len : 0, "embeddings response", &root);
    if (rc != AC_OK)
        return rc;
    if (!root || !json_object_is_type(root, json_type_object)) {
        rc = ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                               "ollama: the embeddings response is not a JSON object");
        goto done;
    }
    if (json_object_object_get_ex(root, "error", &e) && e) {
        char text[OLLAMA_EXCERPT_MAX + 8];
        const char *s = json_object_get_string(e);
        ac_sdk_excerpt(s, strlen(s), text, sizeof text);
        rc = ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "ollama: %s", text);
        goto done;
    }
    json_object *list = ac_sdk_json_array(root, "embeddings");
    if (!list) {
        rc = ollama_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                               "ollama: the embeddings response has no \"embeddings\" list");
        goto done;
    }
    rc = ac_sdk_embed_list_json(ollama_host, out, list, call);
    const char *model = ac_sdk_json_string(root, "model");
    if (rc == AC_OK && model && *model)
        rc = ollama_host->embed_model(out, model);
    long long n;
    if (rc == AC_OK && ac_sdk_json_int(root, "prompt_eval_count", &n) && n >= 0)
        rc = ollama_host->embed_usage(out, n > 0x7fffffffLL ? 0x7fffffffL : (long)n);
done:
    json_object_put(root);
    return rc;
}

size_t ollama_embed_max_batch(void *state)
{
    (void)state;
    return OLLAMA_EMBED_MAX_BATCH;
}
