/*
 * mlx.c -- the `mlx` provider plugin: mlx_lm.server, the OpenAI-compatible
 * server of Apple's MLX LM (http://localhost:8080/v1 by default).
 *
 * mlx_lm.server speaks OpenAI Chat Completions, so the protocol work is
 * the shared codec's (libabstractcore-provider,
 * <abstractcore/openai_compat.h>).  What differs from OpenAI
 * (docs/protocols.md section 1, ml-explore/mlx-lm `mlx_lm/server.py`):
 *   - the local URL and no authentication: no key is looked for, and one
 *     configured on purpose (a proxy in front) is sent as usual;
 *   - the token limit is `max_tokens` (the codec's default).  The server
 *     stops at 512 tokens when none is sent, and samples at temperature 0;
 *     both are sent only when the caller sets them;
 *   - `model` is optional there and means "load this model" (from the
 *     Hugging Face cache, or the Hub), so no default model is declared:
 *     without one the field is left out and the model the server was
 *     started with answers;
 *   - no structured output: a JSON schema is sent as response_format but
 *     the server does not read it, so AC_FEATURE_JSON_SCHEMA is not claimed.
 * The rest are reply quirks the codec already reads: `: keepalive N/M`
 * comments while a long prompt is processed (dropped by the core's SSE
 * framer), whole tool calls in one delta with an incrementing `index`,
 * reasoning in `delta.reasoning`, finish_reason switching from stop to
 * tool_calls, usage only with stream_options.include_usage (sent), and
 * error bodies `{"error":"text"}` (404 for a failed generation in older
 * versions: not retried; 5xx: retried).  So this file is the dialect and
 * the descriptor, nothing else.
 *
 * Settings: base_url, api_key / api_key_file / api_key_env (none by
 * default), default_model.
 */
#include <abstractcore/provider.h>
#include <abstractcore/openai_compat.h>

#define MLX_BASE_URL "http://localhost:8080/v1"

/* Set once by ac_provider_entry, before init can be called. */
static const ac_host_api *g_host;

static const ac_oai_dialect mlx_dialect = {
    .struct_size      = sizeof(ac_oai_dialect),
    .default_base_url = MLX_BASE_URL,
    .default_key_env  = NULL,           /* the server has no auth */
    .key_policy       = AC_OAI_KEY_OPTIONAL,
    .max_tokens_field = AC_OAI_MAX_TOKENS,
    .schema_form      = AC_OAI_SCHEMA_JSON_SCHEMA,
};

static ac_status mlx_init(const ac_settings *settings, void **state,
                          ac_call *call)
{
    return ac_oai_init(g_host, &mlx_dialect, settings, state, call);
}

/* No settings beyond the core's (base_url, api_key, default_model, ...):
 * any other key of its provider groups is a configuration error. */
static const char *const mlx_settings[] = { NULL };

static const ac_provider mlx_provider = {
    .struct_size      = sizeof(ac_provider),
    .abi_major        = AC_ABI_MAJOR,
    .abi_minor        = AC_ABI_MINOR,
    .name             = "mlx",
    .version          = AC_VERSION_STRING,
    .description      = "mlx_lm.server on Apple silicon (OpenAI-compatible)",
    .features         = AC_FEATURE_TOOLS, /* text only: mlx_lm.server refuses images */
    .default_base_url = MLX_BASE_URL,
    .default_model    = NULL,           /* the server's own (see above) */
    .init                 = mlx_init,
    AC_OAI_PROVIDER_FUNCTIONS,
    .settings         = mlx_settings,
};

const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    g_host = host;
    return &mlx_provider;
}
