/*
 * huggingface.c -- the `huggingface` provider plugin: the Hugging Face
 * Inference router (https://router.huggingface.co/v1, the default) and
 * Text Generation Inference (TGI) servers and Inference Endpoints (set
 * base_url to http://host/v1).
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
 * which carry their status.  So this file is the dialect and the
 * descriptor, nothing else.
 *
 * Settings: base_url, api_key / api_key_file / api_key_env (default
 * HF_TOKEN), default_model.
 */
#include <abstractcore/provider.h>
#include <abstractcore/openai_compat.h>

#define HF_ROUTER_URL "https://router.huggingface.co/v1"

/* Set once by ac_provider_entry, before init can be called. */
static const ac_host_api *g_host;

static const ac_oai_dialect huggingface_dialect = {
    .struct_size      = sizeof(ac_oai_dialect),
    .default_base_url = HF_ROUTER_URL,
    .default_key_env  = "HF_TOKEN",
    .key_policy       = AC_OAI_KEY_REQUIRED_AT_DEFAULT,
    .max_tokens_field = AC_OAI_MAX_TOKENS,
    .schema_form      = AC_OAI_SCHEMA_JSON_SCHEMA,
};

static ac_status huggingface_init(const ac_settings *settings, void **state,
                                  ac_call *call)
{
    return ac_oai_init(g_host, &huggingface_dialect, settings, state, call);
}

/* No settings beyond the core's (base_url, api_key, default_model, ...):
 * any other key of its provider groups is a configuration error. */
static const char *const huggingface_settings[] = { NULL };

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
};

const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    g_host = host;
    return &huggingface_provider;
}
