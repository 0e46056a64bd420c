/*
 * ollama.c -- the provider plugin for Ollama's native API: descriptor,
 * entry point, settings, and helpers shared by request.c and parse.c.
 *
 * The plugin owns only Ollama's wire format (docs/protocols.md section 3):
 * POST {base}/api/chat with a json-c built body (written by the SDK's
 * checked serializer), NDJSON streams (one compact object per line; the
 * core frames them), whole tool calls with `arguments` as an object, usage
 * on the done line, and errors as {"error":"<string>"} both as a non-2xx
 * body and inside a 200 stream.  Everything else -- transport, framing,
 * retries, the key lookup, strict JSON parsing, keeping secrets out of
 * messages -- comes from the host table (ABI 2).  State is read-only after
 * init; per-response state lives in the stream slot, so every function may
 * run concurrently.
 */
#include "ollama.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ac_host_api *ollama_host;

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void ollama_free_secret(char *s)
{
    if (!s)
        return;
    /* The Authorization value holds the key: clear it before release. */
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    ollama_host->free(s);
}

static char *ollama_concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = ollama_host->malloc(na + nb + 1);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* Add val under key, taking ownership of val; -1 (val freed) on failure,
 * including a NULL val from a failed constructor. */
int ollama_add(json_object *obj, const char *key, json_object *val)
{
    if (!val)
        return -1;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

int ollama_append(json_object *arr, json_object *val)
{
    if (!val)
        return -1;
    if (json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

/* A strict parse that reports nothing (ollama.h).  The flags are the
 * host parser's, so a text one accepts the other accepts too. */
int ollama_json_quiet(const char *text, size_t len, json_object **out)
{
    json_tokener *t;
    json_object *o;
    enum json_tokener_error je;
    size_t end;
    *out = NULL;
    if (!text || len > (size_t)0x7fffffff || !(t = json_tokener_new()))
        return 0;
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(t, text, (int)len);
    je = json_tokener_get_error(t);
    if (je == json_tokener_continue) {
        /* Strict mode needs the end of input to finish a top-level number. */
        o = json_tokener_parse_ex(t, "", 1);
        je = json_tokener_get_error(t);
    }
    end = json_tokener_get_parse_end(t);
    json_tokener_free(t);
    while (end < len && strchr(" \t\r\n", text[end]))
        end++;
    if (je != json_tokener_success || end < len) {
        json_object_put(o);
        return 0;
    }
    *out = o;
    return 1;
}

ac_status ollama_parse(ac_call *call, const char *text, size_t len, const char *what,
                       json_object **out)
{
    size_t a = 0, b = len;
    *out = ollama_host->json_parse(call, text ? text : "", text ? len : 0, what);
    if (*out)
        return AC_OK;
    /* json-c stands for a JSON null with NULL, which the host returns
     * without failing the call. */
    while (a < b && strchr(" \t\r\n", text[a]))
        a++;
    while (b > a && strchr(" \t\r\n", text[b - 1]))
        b--;
    if (text && b - a == 4 && memcmp(text + a, "null", 4) == 0)
        return AC_OK;
    return AC_EJSON;
}

/* Case-insensitive substring test, for classifying server messages. */
int ollama_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == (unsigned char)needle[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Settings                                                             */
/* ------------------------------------------------------------------ */

/* An optional string setting, copied.  AC_OK (absent: *out NULL), else
 * the call is failed. */
static ac_status ollama_setting_strdup(const ac_settings *s, const char *key,
                                       char **out, ac_call *call)
{
    const char *v = NULL;
    int r = ollama_host->setting_string(s, key, &v);
    *out = NULL;
    if (r < 0)
        return ollama_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                                 "ollama: setting '%s' must be a string", key);
    if (r == 0 || !v)
        return AC_OK;
    *out = ollama_host->strdup(v);
    if (!*out)
        return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG,
                                 "ollama: out of memory reading settings");
    return AC_OK;
}

/* Parse all of s as a decimal integer. */
static int ollama_parse_int(const char *s, long long *out)
{
    char *end;
    long long v;
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/*
 * keep_alive and think each take two types.  The host logs a warning when a
 * setting is read as another type than it has, so each is probed with
 * setting_type first (ac_options values are strings and the host converts
 * them for setting_int / setting_bool).
 */

/* keep_alive: an Ollama duration ("5m", "1h", "0", "-1") or seconds. */
static ac_status ollama_read_keep_alive(ollama_state *st, const ac_settings *s,
                                        ac_call *call)
{
    const char *v = NULL;
    long long n;
    int r;
    if (ollama_host->setting_type(s, "keep_alive") == AC_SETTING_INT)
        r = -1; /* a number: read it as one, without a type warning */
    else
        r = ollama_host->setting_string(s, "keep_alive", &v);
    if (r == 0)
        return AC_OK;
    if (r < 0) {
        if (ollama_host->setting_int(s, "keep_alive", &n) != 1)
            goto bad;
        st->keep_alive_num = 1;
        st->keep_alive_secs = n;
        return AC_OK;
    }
    if (!v || !*v)
        goto bad;
    /* Ollama reads a bare number as seconds but rejects "-1" as a duration
     * string, so digits travel as a JSON number. */
    if (ollama_parse_int(v, &n) == 0) {
        st->keep_alive_num = 1;
        st->keep_alive_secs = n;
        return AC_OK;
    }
    st->keep_alive = ollama_host->strdup(v);
    if (!st->keep_alive)
        return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG,
                                 "ollama: out of memory reading settings");
    return AC_OK;
bad:
    return ollama_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "ollama: setting 'keep_alive' must be a duration "
                             "(\"5m\") or a number of seconds");
}

/* think: true / false, or a level string. */
static ac_status ollama_read_think(ollama_state *st, const ac_settings *s,
                                   ac_call *call)
{
    static const char *const levels[] = { "low", "medium", "high", "max" };
    const char *v = NULL;
    int b;
    int r;
    if (ollama_host->setting_type(s, "think") == AC_SETTING_BOOL)
        r = -1; /* true / false: read it as a boolean, without a warning */
    else
        r = ollama_host->setting_string(s, "think", &v);
    if (r == 0)
        return AC_OK;
    if (r < 0) {
        if (ollama_host->setting_bool(s, "think", &b) != 1)
            goto bad;
        st->think_set = 1;
        st->think_bool = b ? 1 : 0;
        return AC_OK;
    }
    if (!v)
        goto bad;
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") ||
        !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0")) {
        st->think_set = 1;
        st->think_bool = (v[0] == 't' || v[0] == 'y' || v[0] == '1');
        return AC_OK;
    }
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (!strcmp(v, levels[i])) {
            st->think_level = ollama_host->strdup(v);
            if (!st->think_level)
                return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG,
                                         "ollama: out of memory reading settings");
            st->think_set = 2;
            return AC_OK;
        }
    }
bad:
    return ollama_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "ollama: setting 'think' must be true, false, \"low\", "
                             "\"medium\", \"high\" or \"max\"");
}

/* The key is optional: a local server needs none; ollama.com does. */
static ac_status ollama_read_key(ollama_state *st, const ac_settings *s,
                                 ac_call *call)
{
    char *key = NULL;
    ac_status rc = ollama_host->secret(s, OLLAMA_KEY_ENV, &key, call);
    if (rc != AC_OK || !key)
        return rc; /* a failure is reported on the call */
    if (*key) {
        st->auth = ollama_concat("Bearer ", key);
        if (!st->auth) {
            ollama_free_secret(key);
            return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG,
                                     "ollama: out of memory");
        }
    }
    ollama_free_secret(key);
    return AC_OK;
}

static void ollama_fini(void *state)
{
    ollama_state *st = state;
    if (!st)
        return;
    ollama_host->free(st->chat_url);
    ollama_host->free(st->tags_url);
    ollama_host->free(st->embed_url);
    ollama_free_secret(st->auth);
    ollama_host->free(st->default_model);
    ollama_host->free(st->keep_alive);
    ollama_host->free(st->think_level);
    ollama_host->free(st);
}

static ac_status ollama_init(const ac_settings *settings, void **state,
                             ac_call *call)
{
    ollama_state *st;
    char *base = NULL;
    const char *env;
    ac_status rc;
    size_t n;

    st = ollama_host->malloc(sizeof *st);
    if (!st)
        return ollama_host->fail(call, AC_ENOMEM, AC_STAGE_PLUGIN, "ollama: out of memory");
    memset(st, 0, sizeof *st);

    rc = ollama_setting_strdup(settings, "base_url", &base, call);
    if (rc != AC_OK)
        goto fail;
    /* Without a configured base_url, honour the variables the Python
     * AbstractCore and the ollama CLI read.  OLLAMA_HOST is often
     * "host:port" with no scheme. */
    if (!base && (((env = getenv("OLLAMA_BASE_URL")) && *env) ||
                  ((env = getenv("OLLAMA_HOST")) && *env))) {
        base = strstr(env, "://") ? ollama_host->strdup(env)
                                  : ollama_concat("http://", env);
        if (!base)
            goto nomem;
    }
    if (!base && !(base = ollama_host->strdup(OLLAMA_DEFAULT_BASE_URL)))
        goto nomem;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        rc = ollama_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                               "ollama: base_url must start with http:// or "
                               "https:// (e.g. %s)", OLLAMA_DEFAULT_BASE_URL);
        goto fail;
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    st->chat_url = ollama_concat(base, "/api/chat");
    st->tags_url = ollama_concat(base, "/api/tags");
    st->embed_url = ollama_concat(base, "/api/embed");
    if (!st->chat_url || !st->tags_url || !st->embed_url)
        goto nomem;

    rc = ollama_read_key(st, settings, call);
    if (rc != AC_OK)
        goto fail;
    rc = ollama_setting_strdup(settings, "default_model", &st->default_model,
                               call);
    if (rc != AC_OK)
        goto fail;
    rc = ollama_read_keep_alive(st, settings, call);
    if (rc != AC_OK)
        goto fail;
    rc = ollama_read_think(st, settings, call);
    if (rc != AC_OK)
        goto fail;
    switch (ollama_host->setting_int(settings, "num_ctx", &st->num_ctx)) {
    case 1:
        if (st->num_ctx <= 0 || st->num_ctx > INT_MAX) {
            rc = ollama_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                                   "ollama: setting 'num_ctx' must be a positive "
                                   "integer");
            goto fail;
        }
        st->has_num_ctx = 1;
        break;
    case 0:
        break;
    default:
        rc = ollama_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                               "ollama: setting 'num_ctx' must be an integer");
        goto fail;
    }

    ollama_host->free(base);
    *state = st;
    return AC_OK;

nomem:
    rc = ollama_host->fail(call, AC_ENOMEM, AC_STAGE_PLUGIN, "ollama: out of memory");
fail:
    ollama_host->free(base);
    ollama_fini(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                          */
/* ------------------------------------------------------------------ */

/* The settings read beyond the core's (see ollama_init and
 * docs/providers/ollama.md). */
static const char *const ollama_settings[] = { "keep_alive", "think", "num_ctx", NULL };

/* Images (docs/protocols.md 3, "Images"): PNG and JPEG are what every
 * Ollama server and runner decodes (WebP came later and not to every
 * runner); no size limit is documented, and the vision models resize to
 * about 1024 px or less (a 336 to 1120 px grid), so nothing larger is sent. */
static const ac_media_limits ollama_media = {
    .struct_size = sizeof(ac_media_limits),
    .image_formats = AC_IMAGE_PNG | AC_IMAGE_JPEG,
    .image_max_edge = 1024,
    .image_max_short_edge = 0,
    .image_max_pixels = 0,
    .image_max_bytes = 0,
};

static const ac_provider ollama_provider = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "ollama",
    .version = AC_VERSION_STRING,
    .description = "Ollama's native API (/api/chat, NDJSON streaming): a local "
                   "server or ollama.com",
    /* Images travel as base64 in `images`; a JSON schema as `format`.
     * Documents go as labelled text, which is not AC_FEATURE_FILES. */
    .features = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES,
    /* No default_base_url: the core would hand it out as the setting, and
     * OLLAMA_HOST comes between the two (init). */
    .default_base_url = NULL,
    .default_model = OLLAMA_DEFAULT_MODEL,
    .init = ollama_init,
    .fini = ollama_fini,
    .build_request = ollama_build_request,
    .parse_response = ollama_parse_response,
    .parse_event = ollama_parse_event,
    .parse_error = ollama_parse_error,
    .build_models_request = ollama_build_models_request,
    .parse_models = ollama_parse_models,
    .stream_free = ollama_stream_free,
    .settings = ollama_settings,
    .build_embed_request = ollama_build_embed_request,
    .parse_embed_response = ollama_parse_embed_response,
    .embed_max_batch = ollama_embed_max_batch,
    .media = &ollama_media,
};

/* The entry point rule (provider.h): store the host, return the
 * descriptor, nothing else. */
const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    ollama_host = h;
    return &ollama_provider;
}
