/*
 * openai_compat.c -- the OpenAI Chat Completions wire codec
 * (libabstractcore-provider), shared by every OpenAI-compatible plugin:
 * settings, state and the accessors.
 *
 * ac_oai_init reads a provider instance's settings (base URL, key,
 * default model, OpenAI organization/project) through the host and keeps
 * them, with the plugin's dialect, in a state that is read-only from then
 * on, so the other functions may run on any thread at once.  Building
 * requests is in openai_compat_request.c; reading replies, errors and
 * model lists in openai_compat_parse.c (openai_compat_internal.h says
 * what they share).  The codec follows docs/protocols.md section 1 and the
 * quirks of the compatible servers listed there.
 *
 * Relies on the host table only (no core symbols) and json-c.  See
 * openai_compat.h for the contract of each function.
 */
#include "openai_compat_internal.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static char *oai_strdup(const ac_host_api *h, const char *s)
{
    size_t n = strlen(s);
    char *d = h->malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* a followed by b, malloc'd from the host. */
static char *oai_concat(const ac_host_api *h, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *d = h->malloc(na + nb + 1);
    if (!d)
        return NULL;
    memcpy(d, a, na);
    memcpy(d + na, b, nb + 1);
    return d;
}

/* Overwrite a secret before freeing it; volatile so it is not elided. */
static void oai_wipe_free(const ac_host_api *h, char *s)
{
    if (!s)
        return;
    for (volatile char *p = s; *p; p++)
        *p = 0;
    h->free(s);
}

/* ------------------------------------------------------------------ */
/* Init and fini                                                       */
/* ------------------------------------------------------------------ */

static void oai_state_free(oai_state *st)
{
    if (!st)
        return;
    const ac_host_api *h = st->host;
    if (st->user_set && st->dialect.fini_extra)
        st->dialect.fini_extra(h, st->user);
    oai_wipe_free(h, st->api_key);
    oai_wipe_free(h, st->auth_header);
    h->free(st->name);
    h->free(st->base_url);
    h->free(st->chat_url);
    h->free(st->models_url);
    h->free(st->default_model);
    h->free(st->organization);
    h->free(st->project);
    h->free(st);
}

/* Read an optional string setting into *out (a copy; "" counts as
 * absent).  A value of another type is a configuration error. */
static ac_status oai_setting(oai_state *st, const ac_settings *s,
                             const char *key, char **out, ac_call *call)
{
    const ac_host_api *h = st->host;
    const char *v = NULL;
    int rc = h->setting_string(s, key, &v);
    if (rc < 0) {
        h->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                     "provider '%s': setting '%s' must be a string",
                     st->name, key);
        return AC_ECONFIG;
    }
    if (rc == 0 || !v || !*v)
        return AC_OK;
    *out = oai_strdup(h, v);
    if (!*out) {
        h->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return AC_ENOMEM;
    }
    return AC_OK;
}

/* Drop trailing '/' so "{base}/chat/completions" has one slash. */
static void oai_trim_slash(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
}

/* 1 if a and b name the same base URL, ignoring trailing slashes. */
static int oai_same_url(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na > 0 && a[na - 1] == '/')
        na--;
    while (nb > 0 && b[nb - 1] == '/')
        nb--;
    return na == nb && memcmp(a, b, na) == 0;
}

/* Fetch the key.  White space around it (a key file's newline) is
 * dropped; a key with control characters inside could smuggle a header
 * line, so it is refused (without quoting it). */
static ac_status oai_read_key(oai_state *st, const ac_settings *s,
                              ac_call *call)
{
    const ac_host_api *h = st->host;
    char *key = NULL;
    ac_status rc = h->secret(s, st->dialect.default_key_env, &key, call);
    if (rc != AC_OK || !key)
        return rc; /* failed (the call says why), or no key set */
    char *b = key;
    while (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')
        b++;
    size_t n = strlen(b);
    while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t' ||
                     b[n - 1] == '\r' || b[n - 1] == '\n'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)b[i] < 0x20 || b[i] == 0x7F) {
            oai_wipe_free(h, key);
            h->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                         "provider '%s': the API key contains control "
                         "characters", st->name);
            return AC_ECONFIG;
        }
    }
    if (n == 0) {                   /* an empty key is no key */
        oai_wipe_free(h, key);
        return AC_OK;
    }
    memmove(key, b, n);
    memset(key + n, 0, strlen(key + n));
    key[n] = '\0';
    st->api_key = key;
    st->auth_header = oai_concat(h, "Bearer ", key);
    if (!st->auth_header) {
        h->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return AC_ENOMEM;
    }
    return AC_OK;
}

ac_status ac_oai_init(const ac_host_api *host, const ac_oai_dialect *dialect,
                      const ac_settings *settings, void **state,
                      ac_call *call)
{
    oai_state *st = NULL;
    ac_status rc;

    /* The core guarantees a host table of this ABI: nothing to check but
     * that the plugin passed it at all. */
    if (!host || !state)
        return AC_EPLUGIN;
    if (!dialect || dialect->struct_size < sizeof(size_t)) {
        host->fail(call, AC_EPLUGIN, AC_STAGE_PLUGIN,
                        "openai_compat: the plugin passed no valid dialect");
        return AC_EPLUGIN;
    }

    st = host->malloc(sizeof *st);
    if (!st) {
        host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return AC_ENOMEM;
    }
    memset(st, 0, sizeof *st);
    st->host = host;
    /* Members the plugin's (older) header did not have stay zero, which
     * is always the OpenAI default. */
    memcpy(&st->dialect, dialect, dialect->struct_size < sizeof st->dialect
                                  ? dialect->struct_size : sizeof st->dialect);
    st->dialect.struct_size = sizeof st->dialect;

    const char *name = host->settings_name(settings);
    st->name = oai_strdup(host, name ? name : "?");
    if (!st->name) {
        host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        rc = AC_ENOMEM;
        goto done;
    }

    rc = oai_setting(st, settings, "base_url", &st->base_url, call);
    if (rc != AC_OK)
        goto done;
    if (!st->base_url) {
        if (!st->dialect.default_base_url || !*st->dialect.default_base_url) {
            host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                            "provider '%s': no base_url is set", st->name);
            rc = AC_ECONFIG;
            goto done;
        }
        st->base_url = oai_strdup(host, st->dialect.default_base_url);
        if (!st->base_url) {
            host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
            rc = AC_ENOMEM;
            goto done;
        }
    }
    oai_trim_slash(st->base_url);
    st->chat_url = oai_concat(host, st->base_url, "/chat/completions");
    st->models_url = oai_concat(host, st->base_url, "/models");
    if (!st->chat_url || !st->models_url) {
        host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        rc = AC_ENOMEM;
        goto done;
    }

    rc = oai_setting(st, settings, "default_model", &st->default_model, call);
    if (rc != AC_OK)
        goto done;
    if (st->dialect.org_project_headers) {
        rc = oai_setting(st, settings, "organization", &st->organization, call);
        if (rc != AC_OK)
            goto done;
        rc = oai_setting(st, settings, "project", &st->project, call);
        if (rc != AC_OK)
            goto done;
    }

    rc = oai_read_key(st, settings, call);
    if (rc != AC_OK)
        goto done;
    if (!st->api_key) {
        int required = st->dialect.key_policy == AC_OAI_KEY_REQUIRED ||
            (st->dialect.key_policy == AC_OAI_KEY_REQUIRED_AT_DEFAULT &&
             st->dialect.default_base_url &&
             oai_same_url(st->base_url, st->dialect.default_base_url));
        if (required) {
            const char *env = st->dialect.default_key_env;
            host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                            "provider '%s': no API key: set %s or api_key_env",
                            st->name, env && *env ? env : "api_key");
            rc = AC_ECONFIG;
            goto done;
        }
    }

    if (st->dialect.init_extra) {
        rc = st->dialect.init_extra(host, settings, &st->user, call);
        if (rc != AC_OK)
            goto done;
        st->user_set = 1;
    }
    rc = AC_OK;

done:
    if (rc != AC_OK) {
        oai_state_free(st);
        return rc;
    }
    *state = st;
    return AC_OK;
}

void ac_oai_fini(void *state)
{
    oai_state_free(state);
}

const ac_host_api *ac_oai_host(const void *state)
{
    return state ? ((const oai_state *)state)->host : NULL;
}

void *ac_oai_user(const void *state)
{
    return state ? ((const oai_state *)state)->user : NULL;
}

const char *ac_oai_base_url(const void *state)
{
    return state ? ((const oai_state *)state)->base_url : NULL;
}

int ac_oai_has_key(const void *state)
{
    return state && ((const oai_state *)state)->api_key != NULL;
}
