/*
 * huggingface.c -- the `huggingface` provider plugin: the Hugging Face
 * Inference router (https://router.huggingface.co/v1, the default) and
 * Text Generation Inference (TGI) servers and Inference Endpoints (set
 * base_url to http://host/v1); for embeddings also Text Embeddings
 * Inference (TEI) servers.
 *
 * Both speak OpenAI Chat Completions, so the protocol work is the shared
 * codec's (<abstractcore/openai_compat.h>, in the SDK library).  What
 * differs from OpenAI (docs/protocols.md section 1):
 *   - the token comes from HF_TOKEN by default, and is required at the
 *     router's own URL (a missing one fails ac_llm_create with AC_ECONFIG
 *     naming HF_TOKEN); at another base_url (a local TGI) none is needed,
 *     and one that is set is still sent (Inference Endpoints want it);
 *   - the token limit is `max_tokens`, which the router and TGI take
 *     (the codec's default; OpenAI's max_completion_tokens is not);
 *   - model ids may carry a routing suffix (`org/name:groq`,
 *     `:fastest`, `:cheapest`); they are sent unchanged, and the model the
 *     reply names may be spelled differently (lower case): it is reported
 *     as the server spells it.
 * The rest are reply quirks the codec already reads: the router's usage
 * sent twice (the core keeps the last report), vendor extras (`x_groq`,
 * `usage_breakdown`, `service_tier`); TGI's tool-call deltas that repeat
 * `"id":"0"` and `index` and send `"name":null` after the first, its
 * tool-call streams that end with [DONE] and no finish_reason, its `:`
 * keep-alive comments (dropped by the core's SSE framer), its error
 * bodies `{"error":"...","error_type":"validation"}` (422 validation and
 * 424 generation are not retried; 429 overloaded is), and its errors
 * inside a 200 stream, `data: {"error":{"message","http_status_code"}}`,
 * which carry their status.  So for chat this file is the dialect and
 * the descriptor, nothing else.
 *
 * Embeddings (docs/protocols.md section 6) are not OpenAI-shaped here, so
 * this file speaks them itself, in one of two forms chosen by the
 * `embed_api` setting:
 *   - "feature-extraction": the router's hf-inference pipeline,
 *     POST {root}/hf-inference/models/MODEL/pipeline/feature-extraction
 *     with {"inputs": [...]}, the model in the path;
 *   - "tei": Text Embeddings Inference, POST {root}/embed with
 *     {"inputs": [...]} (TEI serves the one model it was started with);
 *   - "auto" (the default): feature-extraction at the router, TEI at any
 *     other base_url.
 * {root} is base_url without a trailing "/v1".  Both answer a list of
 * vectors, in input order, for a list of texts; a flat vector (one text)
 * is read as the first, and one vector per token (a model without
 * pooling, [[[...]]]) is refused, naming the cause.  Neither can shorten
 * vectors, so `dimensions` fails with AC_EUNSUPPORTED.  Batches are 32
 * texts, TEI's default --max-client-batch-size (embed_max_batch changes
 * it).  Error bodies ({"error","error_type"}) are the codec's to read.
 *
 * Settings: base_url, api_key / api_key_file / api_key_env (default
 * HF_TOKEN), default_model, embed_api.
 */
#include <abstractcore/provider.h>
#include <abstractcore/openai_compat.h>
#include <abstractcore/sdk.h>

#include <json-c/json.h>
#include <string.h>

#define HF_ROUTER_URL "https://router.huggingface.co/v1"
#define HF_ROUTER_HOST "https://router.huggingface.co"
/* TEI's default --max-client-batch-size. */
#define HF_EMBED_MAX_BATCH 32

/* Set once by ac_provider_entry, before init can be called. */
static const ac_host_api *g_host;

enum { HF_EMBED_FEATURE_EXTRACTION = 1, HF_EMBED_TEI };

/* What init_extra reads: the embeddings form.  Read-only after init. */
typedef struct hf_extra {
    int   embed_api;    /* HF_EMBED_* */
} hf_extra;

static ac_status hf_init_extra(const ac_host_api *host, const ac_settings *s, void **user,
                               ac_call *call)
{
    const char *api = NULL, *base = NULL;
    int rc = host->setting_string(s, "embed_api", &api);
    if (rc < 0 || (rc == 1 && strcmp(api, "auto") != 0 &&
                   strcmp(api, "feature-extraction") != 0 && strcmp(api, "tei") != 0))
        return host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                          "huggingface: setting 'embed_api' must be \"auto\", "
                          "\"feature-extraction\" or \"tei\"");
    hf_extra *x = host->malloc(sizeof *x);
    if (!x)
        return host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    if (rc == 1 && strcmp(api, "tei") == 0) {
        x->embed_api = HF_EMBED_TEI;
    } else if (rc == 1 && strcmp(api, "feature-extraction") == 0) {
        x->embed_api = HF_EMBED_FEATURE_EXTRACTION;
    } else {
        /* auto: the router's pipeline at the router, TEI elsewhere. */
        if (host->setting_string(s, "base_url", &base) != 1 || !base)
            base = HF_ROUTER_URL;
        x->embed_api = strncmp(base, HF_ROUTER_HOST, strlen(HF_ROUTER_HOST)) == 0 &&
                               (base[strlen(HF_ROUTER_HOST)] == '/' ||
                                base[strlen(HF_ROUTER_HOST)] == '\0')
                           ? HF_EMBED_FEATURE_EXTRACTION : HF_EMBED_TEI;
    }
    *user = x;
    return AC_OK;
}

static void hf_fini_extra(const ac_host_api *host, void *user)
{
    host->free(user);
}

static const ac_oai_dialect huggingface_dialect = {
    .struct_size      = sizeof(ac_oai_dialect),
    .default_base_url = HF_ROUTER_URL,
    .default_key_env  = "HF_TOKEN",
    .key_policy       = AC_OAI_KEY_REQUIRED_AT_DEFAULT,
    .max_tokens_field = AC_OAI_MAX_TOKENS,
    .schema_form      = AC_OAI_SCHEMA_JSON_SCHEMA,
    .init_extra       = hf_init_extra,
    .fini_extra       = hf_fini_extra,
};

static ac_status huggingface_init(const ac_settings *settings, void **state,
                                  ac_call *call)
{
    return ac_oai_init(g_host, &huggingface_dialect, settings, state, call);
}

/* ------------------------------------------------------------------ */
/* Embeddings                                                          */
/* ------------------------------------------------------------------ */

static ac_status hf_nomem(ac_call *call)
{
    return g_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
}

/* A model id goes into the URL's path as it is: only the characters Hub
 * ids use ("org/name", letters, digits, '-', '_', '.'), no "..". */
static int hf_model_ok(const char *m)
{
    if (!*m || strstr(m, "..") || m[0] == '/')
        return 0;
    for (const char *p = m; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '/'))
            return 0;
    return 1;
}

/* The URL of a batch: {root}/embed or {root}/hf-inference/.../MODEL/...,
 * root being base_url without "/v1".  host->malloc'd, or NULL. */
static char *hf_embed_url(const char *base, int api, const char *model)
{
    size_t nb = strlen(base);
    if (nb >= 3 && strcmp(base + nb - 3, "/v1") == 0)
        nb -= 3;
    static const char pre[] = "/hf-inference/models/", post[] = "/pipeline/feature-extraction";
    size_t need = api == HF_EMBED_TEI ? nb + sizeof "/embed"
                                      : nb + strlen(pre) + strlen(model) + sizeof post;
    char *u = g_host->malloc(need);
    if (!u)
        return NULL;
    memcpy(u, base, nb);
    if (api == HF_EMBED_TEI) {
        memcpy(u + nb, "/embed", sizeof "/embed");
    } else {
        char *at = u + nb;
        memcpy(at, pre, strlen(pre));
        at += strlen(pre);
        memcpy(at, model, strlen(model));
        at += strlen(model);
        memcpy(at, post, sizeof post);
    }
    return u;
}

static ac_status hf_build_embed_request(void *state, const ac_embed_request *req,
                                        ac_http_request *out, ac_call *call)
{
    const hf_extra *x = ac_oai_user(state);
    const char *model = req->model;
    if (req->dimensions)
        return g_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                            "huggingface: the %s API cannot shorten vectors (dimensions)",
                            x->embed_api == HF_EMBED_TEI ? "TEI /embed" : "feature-extraction");
    if (x->embed_api == HF_EMBED_FEATURE_EXTRACTION && !hf_model_ok(model))
        return g_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                            "huggingface: '%s' is not a model id (org/name) for the "
                            "feature-extraction URL", model);
    json_object *body = json_object_new_object(), *inputs = json_object_new_array();
    char *url = NULL;
    ac_status rc = AC_OK;
    if (!body || !inputs || json_object_object_add(body, "inputs", inputs) != 0) {
        json_object_put(inputs); /* not the body's: it was not added */
        rc = hf_nomem(call);
        goto done;
    }
    for (size_t i = 0; i < req->n_texts; i++) {
        size_t len = 0;
        const char *t = g_host->embed_text(req, i, &len);
        if (!t || len > 0x7fffffff) {
            rc = g_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                              "huggingface: text %zu is missing or over 2 GiB", i);
            goto done;
        }
        json_object *str = json_object_new_string_len(t, (int)len);
        if (!str || json_object_array_add(inputs, str) != 0) {
            json_object_put(str);
            rc = hf_nomem(call);
            goto done;
        }
    }
    if (!(url = hf_embed_url(ac_oai_base_url(state), x->embed_api, model))) {
        rc = hf_nomem(call);
        goto done;
    }
    rc = g_host->http_set(out, "POST", url, AC_FRAMING_NONE, call);
    if (rc == AC_OK)
        rc = ac_oai_add_headers(state, out, 1, "application/json", call);
    if (rc == AC_OK)
        rc = ac_sdk_json_body(g_host, out, body, call);
done:
    g_host->free(url);
    json_object_put(body);
    return rc;
}

/* The depth of nested arrays at the start of v: 1 for [0.1, ...], 2 for
 * [[0.1, ...], ...], 3 for one vector per token. */
static int hf_depth(json_object *v)
{
    int d = 0;
    while (d < 4 && json_object_is_type(v, json_type_array) && json_object_array_length(v)) {
        v = json_object_array_get_idx(v, 0);
        d++;
    }
    return d;
}

static ac_status hf_parse_embed_response(void *state, const char *body, size_t len,
                                         ac_embed_sink *out, ac_call *call)
{
    (void)state;
    json_object *root = g_host->json_parse(call, body, len, "embeddings response");
    if (!root)
        return AC_EJSON;
    ac_status rc;
    int depth = hf_depth(root);
    if (json_object_is_type(root, json_type_object)) {
        const char *e = ac_sdk_json_string(root, "error");
        char text[200];
        ac_sdk_excerpt(e ? e : body, e ? strlen(e) : len, text, sizeof text);
        rc = g_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                          "huggingface: the embeddings response is not a list of vectors: %s",
                          text);
    } else if (depth == 1) {
        rc = ac_sdk_embed_vector_json(g_host, out, 0, root, call); /* one text, flat */
    } else if (depth == 2) {
        rc = ac_sdk_embed_list_json(g_host, out, root, call);
    } else if (depth >= 3) {
        rc = g_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                          "huggingface: the model answered one vector per token (it has no "
                          "pooling): use a sentence-embedding model");
    } else {
        rc = g_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                          "huggingface: the embeddings response is an empty list");
    }
    json_object_put(root);
    return rc;
}

static size_t hf_embed_max_batch(void *state)
{
    (void)state;
    return HF_EMBED_MAX_BATCH;
}

/* The settings read beyond the core's: embed_api (above).  Any other key
 * of its provider groups is a configuration error. */
static const char *const huggingface_settings[] = { "embed_api", NULL };

static const ac_provider huggingface_provider = {
    .struct_size      = sizeof(ac_provider),
    .abi_major        = AC_ABI_MAJOR,
    .abi_minor        = AC_ABI_MINOR,
    .name             = "huggingface",
    .version          = AC_VERSION_STRING,
    .description      = "Hugging Face: the Inference Providers router and TGI servers (OpenAI-compatible)",
    .features         = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
    .default_base_url = HF_ROUTER_URL,
    /* Open weights that many of the router's providers serve.  TGI reads
     * the name as a LoRA adapter id and falls back to the model it runs
     * (any name but "tgi" is looked up), so the default is harmless there. */
    .default_model    = "openai/gpt-oss-20b",
    .init                 = huggingface_init,
    AC_OAI_PROVIDER_FUNCTIONS,
    .settings         = huggingface_settings,
    .build_embed_request  = hf_build_embed_request,
    .parse_embed_response = hf_parse_embed_response,
    .embed_max_batch      = hf_embed_max_batch,
};

const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    g_host = host;
    return &huggingface_provider;
}
