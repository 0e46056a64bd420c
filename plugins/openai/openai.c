/*
 * openai.c -- the `openai` provider plugin: OpenAI Chat Completions at
 * https://api.openai.com/v1 (or any base_url that speaks it).
 *
 * All the protocol work is in the shared codec (libabstractcore-provider,
 * <abstractcore/openai_compat.h>); this file only states how OpenAI
 * differs from the codec's defaults: its URL, its key variable, that the
 * key is required at its own URL (a proxy or local server at another
 * base_url may need none), the max_completion_tokens field (its reasoning
 * models reject max_tokens), and the OpenAI-Organization / OpenAI-Project
 * headers from the `organization` / `project` settings.
 *
 * Settings: base_url, api_key / api_key_file / api_key_env (default
 * OPENAI_API_KEY), default_model, organization, project.
 */
#include <abstractcore/provider.h>
#include <abstractcore/openai_compat.h>

#define OPENAI_BASE_URL "https://api.openai.com/v1"

/* Set once by ac_provider_entry, before init can be called. */
static const ac_host_api *g_host;

static const ac_oai_dialect openai_dialect = {
    .struct_size         = sizeof(ac_oai_dialect),
    .default_base_url    = OPENAI_BASE_URL,
    .default_key_env     = "OPENAI_API_KEY",
    .key_policy          = AC_OAI_KEY_REQUIRED_AT_DEFAULT,
    .max_tokens_field    = AC_OAI_MAX_COMPLETION_TOKENS,
    .schema_form         = AC_OAI_SCHEMA_JSON_SCHEMA,
    .org_project_headers = 1,
};

static ac_status openai_init(const ac_settings *settings, void **state,
                             ac_call *call)
{
    return ac_oai_init(g_host, &openai_dialect, settings, state, call);
}

/* The settings read beyond the core's: the OpenAI-Organization and
 * OpenAI-Project headers (docs/configuration.md). */
static const char *const openai_settings[] = { "organization", "project", NULL };

/* Images (docs/protocols.md 1, "Images"; OpenAI's vision guide): PNG,
 * JPEG, WebP and still GIF, up to 20 MB each; high detail scales an image
 * into 2048 x 2048 and then its short side to 768, so more is never seen. */
static const ac_media_limits openai_media = {
    .struct_size          = sizeof(ac_media_limits),
    .image_formats        = AC_IMAGE_PNG | AC_IMAGE_JPEG | AC_IMAGE_WEBP | AC_IMAGE_GIF,
    .image_max_edge       = 2048,
    .image_max_short_edge = 768,
    .image_max_pixels     = 0,
    .image_max_bytes      = 20L * 1024 * 1024,
};

static const ac_provider openai_provider = {
    .struct_size      = sizeof(ac_provider),
    .abi_major        = AC_ABI_MAJOR,
    .abi_minor        = AC_ABI_MINOR,
    .name             = "openai",
    .version          = AC_VERSION_STRING,
    .description      = "OpenAI Chat Completions (api.openai.com, or any base_url that speaks it)",
    .features         = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
    .default_base_url = OPENAI_BASE_URL,
    .default_model    = "gpt-4o-mini",
    .init                 = openai_init,
    AC_OAI_PROVIDER_FUNCTIONS,
    .settings         = openai_settings,
    AC_OAI_EMBED_FUNCTIONS,
    .media            = &openai_media,
};

const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    g_host = host;
    return &openai_provider;
}
