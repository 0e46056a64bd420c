/*
 * lmstudio.c -- the `lmstudio` provider plugin: LM Studio's
 * OpenAI-compatible server (http://localhost:1234/v1 by default).
 *
 * LM Studio speaks OpenAI Chat Completions, so the protocol work is the
 * shared codec's (<abstractcore/openai_compat.h>, in the SDK library).
 * What differs from OpenAI (docs/protocols.md section 1, LM Studio docs
 * `1_developer/3_openai-compat`):
 *   - the local URL, and no key unless "Require Authentication" is on in
 *     LM Studio; then the token comes from api_key / api_key_file /
 *     api_key_env, by default the variable LM_API_TOKEN (the one LM
 *     Studio's own tools read).  A missing token is never an error here:
 *     the server says 401 if it wants one;
 *   - the token limit is `max_tokens` (the codec's default);
 *   - a non-stream tool-call reply has no `content` key at all
 *     [fixture lmstudio_chat_response_tool_call.json]: the codec already
 *     reads a missing content as an empty reply;
 *   - GET /v1/models lists the downloaded models (with JIT loading on,
 *     not only the loaded ones).
 * So this file is the dialect and the descriptor, nothing else.
 *
 * The default model is "local-model", the Python AbstractCore's
 * placeholder: LM Studio answers with the loaded model whatever the name
 * while one model is loaded; with several, name one.
 *
 * Settings: base_url, api_key / api_key_file / api_key_env (default
 * LM_API_TOKEN), default_model.
 */
#include <abstractcore/provider.h>
#include <abstractcore/openai_compat.h>

#define LMSTUDIO_BASE_URL "http://localhost:1234/v1"

/* Set once by ac_provider_entry, before init can be called. */
static const ac_host_api *g_host;

static const ac_oai_dialect lmstudio_dialect = {
    .struct_size      = sizeof(ac_oai_dialect),
    .default_base_url = LMSTUDIO_BASE_URL,
    .default_key_env  = "LM_API_TOKEN",
    .key_policy       = AC_OAI_KEY_OPTIONAL,
    .max_tokens_field = AC_OAI_MAX_TOKENS,
    .schema_form      = AC_OAI_SCHEMA_JSON_SCHEMA,
};

static ac_status lmstudio_init(const ac_settings *settings, void **state,
                               ac_call *call)
{
    return ac_oai_init(g_host, &lmstudio_dialect, settings, state, call);
}

/* No settings beyond the core's (base_url, api_key, default_model, ...):
 * any other key of its provider groups is a configuration error. */
static const char *const lmstudio_settings[] = { NULL };

/* Images (docs/providers/lmstudio.md): LM Studio documents JPEG, PNG and
 * WebP, but its OpenAI-compatible route has refused WebP; local vision
 * models work at about 1024 px or less, and no byte limit is documented. */
static const ac_media_limits lmstudio_media = {
    .struct_size          = sizeof(ac_media_limits),
    .image_formats        = AC_IMAGE_PNG | AC_IMAGE_JPEG,
    .image_max_edge       = 1024,
    .image_max_short_edge = 0,
    .image_max_pixels     = 0,
    .image_max_bytes      = 0,
};

static const ac_provider lmstudio_provider = {
    .struct_size      = sizeof(ac_provider),
    .abi_major        = AC_ABI_MAJOR,
    .abi_minor        = AC_ABI_MINOR,
    .name             = "lmstudio",
    .version          = AC_VERSION_STRING,
    /* Not AC_CAP_LOCAL: that flag means an in-process backend; LM Studio
     * is a server, however near. */
    .description      = "LM Studio's OpenAI-compatible server",
    .features         = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
    .default_base_url = LMSTUDIO_BASE_URL,
    .default_model    = "local-model",
    .init                 = lmstudio_init,
    AC_OAI_PROVIDER_FUNCTIONS,
    .settings         = lmstudio_settings,
    AC_OAI_EMBED_FUNCTIONS,
    .media            = &lmstudio_media,
};

const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    g_host = host;
    return &lmstudio_provider;
}
