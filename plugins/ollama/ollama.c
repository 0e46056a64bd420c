/*
 * ollama.c -- the provider plugin for Ollama's native API: descriptor,
 * entry point, settings, and helpers shared by request.c and parse.c.
 *
 * The plugin owns only Ollama's wire format (PROTOCOLS.md section 3):
 * POST {base}/api/chat with a json-c built body, NDJSON streams (one
 * compact object per line; the core frames them), whole tool calls with
 * `arguments` as an object, usage on the done line, and errors as
 * {"error":"<string>"} both as a non-2xx body and inside a 200 stream.
 * Everything else -- transport, framing, retries, the key lookup, strict
 * JSON parsing -- comes from the host table.  State is read-only after
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

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t ollama_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

/*
 * A short, printable, one-line excerpt of server bytes for an error
 * message: control characters become spaces, runs of spaces collapse,
 * invalid UTF-8 becomes '?', and long text is cut on a character boundary
 * with "...".  Works on any bytes, including NULs.
 */
void ollama_excerpt(const char *s, size_t n, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    size_t limit = cap - 4; /* room for "..." and the NUL */
    int space = 1;          /* drops leading spaces too */
    if (cap < 8) {
        if (cap)
            out[0] = '\0';
        return;
    }
    if (limit > OLLAMA_EXCERPT_MAX)
        limit = OLLAMA_EXCERPT_MAX;
    while (i < n) {
        size_t len = ollama_utf8_len(p + i, n - i);
        if (len == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == ' ')) {
            if (!space && o < limit)
                out[o++] = ' ';
            space = 1;
            i++;
            continue;
        }
        if (len == 0) {
            if (o + 1 > limit)
                break;
            out[o++] = '?';
            i++;
        } else {
            if (o + len > limit)
                break;
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        }
        space = 0;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
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

/* Parse JSON text that must be an object (tool arguments, schemas).
 * NULL when it is not valid JSON or not an object. */
json_object *ollama_parse_object(const char *text, const char *what)
{
    ac_error scratch;
    json_object *o;
    if (!text)
        return NULL;
    memset(&scratch, 0, sizeof scratch);
    o = ollama_host->json_parse(text, strlen(text), what, &scratch);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* A string member of obj, or NULL when absent or of another type. */
const char *ollama_get_string(json_object *obj, const char *key)
{
    json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
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

/* An optional string setting, copied.  0 ok (absent: *out NULL), else an
 * AC_ECONFIG error is filled. */
static ac_status ollama_setting_strdup(const ac_settings *s, const char *key,
                                       char **out, ac_error *err)
{
    const char *v = NULL;
    int r = ollama_host->setting_string(s, key, &v);
    *out = NULL;
    if (r < 0) {
        ollama_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                               "ollama: setting '%s' must be a string", key);
        return AC_ECONFIG;
    }
    if (r == 0 || !v)
        return AC_OK;
    *out = ollama_host->strdup(v);
    if (!*out) {
        ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_CONFIG,
                               "ollama: out of memory reading settings");
        return AC_ENOMEM;
    }
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
                                        ac_error *err)
{
    const char *v = NULL;
    long long n;
    int r;
    if (AC_HOST_HAS(ollama_host, setting_type) &&
        ollama_host->setting_type(s, "keep_alive") == AC_SETTING_INT)
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
    if (!st->keep_alive) {
        ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_CONFIG,
                               "ollama: out of memory reading settings");
        return AC_ENOMEM;
    }
    return AC_OK;
bad:
    ollama_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                           "ollama: setting 'keep_alive' must be a duration "
                           "(\"5m\") or a number of seconds");
    return AC_ECONFIG;
}

/* think: true / false, or a level string. */
static ac_status ollama_read_think(ollama_state *st, const ac_settings *s,
                                   ac_error *err)
{
    static const char *const levels[] = { "low", "medium", "high", "max" };
    const char *v = NULL;
    int b;
    int r;
    if (AC_HOST_HAS(ollama_host, setting_type) &&
        ollama_host->setting_type(s, "think") == AC_SETTING_BOOL)
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
            if (!st->think_level) {
                ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_CONFIG,
                                       "ollama: out of memory reading settings");
                return AC_ENOMEM;
            }
            st->think_set = 2;
            return AC_OK;
        }
    }
bad:
    ollama_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                           "ollama: setting 'think' must be true, false, \"low\", "
                           "\"medium\", \"high\" or \"max\"");
    return AC_ECONFIG;
}

static void ollama_fini(void *state)
{
    ollama_state *st = state;
    if (!st)
        return;
    ollama_host->free(st->chat_url);
    ollama_host->free(st->tags_url);
    ollama_free_secret(st->auth);
    ollama_host->free(st->default_model);
    ollama_host->free(st->keep_alive);
    ollama_host->free(st->think_level);
    ollama_host->free(st);
}

static ac_status ollama_init(const ac_settings *settings, void **state,
                             ac_error *err)
{
    ollama_state *st;
    char *base = NULL, *key = NULL;
    const char *env;
    ac_error kerr;
    ac_status rc;
    size_t n;

    st = ollama_host->malloc(sizeof *st);
    if (!st) {
        ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_PLUGIN,
                               "ollama: out of memory");
        return AC_ENOMEM;
    }
    memset(st, 0, sizeof *st);

    rc = ollama_setting_strdup(settings, "base_url", &base, err);
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
        ollama_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                               "ollama: base_url must start with http:// or "
                               "https:// (e.g. %s)", OLLAMA_DEFAULT_BASE_URL);
        rc = AC_ECONFIG;
        goto fail;
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    st->chat_url = ollama_concat(base, "/api/chat");
    st->tags_url = ollama_concat(base, "/api/tags");
    if (!st->chat_url || !st->tags_url)
        goto nomem;

    /* The key is optional (a local server needs none; ollama.com does):
     * NULL with no error means "none set". */
    memset(&kerr, 0, sizeof kerr);
    key = ollama_host->secret(settings, OLLAMA_KEY_ENV, &kerr);
    if (!key && kerr.code != AC_OK) {
        if (err)
            *err = kerr;
        rc = kerr.code;
        goto fail;
    }
    if (key && *key) {
        st->auth = ollama_concat("Bearer ", key);
        if (!st->auth)
            goto nomem;
    }

    rc = ollama_setting_strdup(settings, "default_model", &st->default_model,
                               err);
    if (rc != AC_OK)
        goto fail;
    rc = ollama_read_keep_alive(st, settings, err);
    if (rc != AC_OK)
        goto fail;
    rc = ollama_read_think(st, settings, err);
    if (rc != AC_OK)
        goto fail;
    switch (ollama_host->setting_int(settings, "num_ctx", &st->num_ctx)) {
    case 1:
        if (st->num_ctx <= 0 || st->num_ctx > INT_MAX) {
            ollama_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                                   "ollama: setting 'num_ctx' must be a positive "
                                   "integer");
            rc = AC_ECONFIG;
            goto fail;
        }
        st->has_num_ctx = 1;
        break;
    case 0:
        break;
    default:
        ollama_host->error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                               "ollama: setting 'num_ctx' must be an integer");
        rc = AC_ECONFIG;
        goto fail;
    }

    ollama_free_secret(key);
    ollama_host->free(base);
    *state = st;
    return AC_OK;

nomem:
    ollama_host->error_set(err, AC_ENOMEM, AC_STAGE_PLUGIN, "ollama: out of memory");
    rc = AC_ENOMEM;
fail:
    ollama_free_secret(key);
    ollama_host->free(base);
    ollama_fini(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                          */
/* ------------------------------------------------------------------ */

static const ac_provider ollama_provider = {
    .struct_size = sizeof(ac_provider),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .name = "ollama",
    .version = AC_VERSION_STRING,
    .capabilities = AC_CAP_STREAMING | AC_CAP_TOOLS | AC_CAP_MODELS |
                    AC_CAP_STRUCTURED,
    .default_base_url = OLLAMA_DEFAULT_BASE_URL,
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
};

const ac_provider *ac_provider_entry(const ac_host_api *h)
{
    /* Every member up to stream_slot is part of ABI 1.0; refuse a host
     * table too short to hold them rather than call through garbage. */
    if (!h || h->abi_major != AC_ABI_MAJOR || !AC_HOST_HAS(h, stream_slot) ||
        !h->malloc || !h->free || !h->strdup || !h->json_parse ||
        !h->error_set || !h->setting_string || !h->setting_int ||
        !h->setting_bool || !h->secret || !h->http_set || !h->http_header ||
        !h->http_body || !h->emit_text || !h->emit_reasoning ||
        !h->emit_tool_call || !h->emit_tool_call_end || !h->emit_usage ||
        !h->emit_finish || !h->emit_model || !h->models_add || !h->log)
        return NULL;
    ollama_host = h;
    return &ollama_provider;
}
