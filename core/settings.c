/*
 * settings.c -- typed lookups over a provider's config block plus the
 * ac_options overlay, and the API-key lookup.  See settings.h.
 *
 * Secrets: the key is read from the `api_key` setting, the file named by
 * `api_key_file`, or the variable named by `api_key_env`, and handed only to
 * the plugin; no message built here ever contains it.
 */
#include "settings.h"
#include "alloc.h"
#include "log.h"
#include "call.h"
#include "error.h"
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ac_options (public) ---- */

ac_options *ac_options_new(void) { return ac__calloc(1, sizeof(ac_options)); }

void ac__options_clear(ac_options *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        ac__free(o->keys[i]);
        if (o->values[i]) /* wipe: it may be an API key */
            memset(o->values[i], 0, strlen(o->values[i]));
        ac__free(o->values[i]);
    }
    ac__free(o->keys);
    ac__free(o->values);
    o->keys = o->values = NULL;
    o->n = 0;
}

void ac_options_free(ac_options *opts)
{
    ac__options_clear(opts);
    ac__free(opts);
}

ac_status ac_options_set(ac_options *o, const char *key, const char *value)
{
    if (!o || !key || !*key || !value)
        return AC_EINVAL;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->keys[i], key) == 0) {
            char *v = ac__strdup(value);
            if (!v)
                return AC_ENOMEM;
            memset(o->values[i], 0, strlen(o->values[i]));
            ac__free(o->values[i]);
            o->values[i] = v;
            return AC_OK;
        }
    }
    char **k = ac__realloc(o->keys, (o->n + 1) * sizeof *k);
    if (!k)
        return AC_ENOMEM;
    o->keys = k;
    char **v = ac__realloc(o->values, (o->n + 1) * sizeof *v);
    if (!v)
        return AC_ENOMEM;
    o->values = v;
    o->keys[o->n] = ac__strdup(key);
    o->values[o->n] = ac__strdup(value);
    if (!o->keys[o->n] || !o->values[o->n]) {
        ac__free(o->keys[o->n]);
        ac__free(o->values[o->n]);
        return AC_ENOMEM;
    }
    o->n++;
    return AC_OK;
}

int ac__options_copy(ac_options *dst, const ac_options *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src)
        return 0;
    for (size_t i = 0; i < src->n; i++)
        if (ac_options_set(dst, src->keys[i], src->values[i]) != AC_OK) {
            ac__options_clear(dst);
            return -1;
        }
    return 0;
}

/* ---- settings ---- */

static char *secret_find(const ac_settings *s, const char *default_env, ac_error *err);
static int string_quiet(const ac_settings *s, const char *key, const char **out);

/* Remember a value as a secret of these settings (once).  -1 on no
 * memory. */
static int remember(const ac_settings *cs, const char *v)
{
    ac_settings *s = (ac_settings *)cs; /* the list is a cache of what was handed out */
    if (!v || !*v)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    int known = 0;
    for (size_t i = 0; i < s->n_secrets && !known; i++)
        known = strcmp(s->secrets[i], v) == 0;
    if (!known) {
        char **nv = ac__realloc(s->secrets, (s->n_secrets + 1) * sizeof *nv);
        char *copy = nv ? ac__strdup(v) : NULL;
        if (nv)
            s->secrets = nv;
        if (copy)
            s->secrets[s->n_secrets++] = copy;
        else
            rc = -1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void wipe_free(char *p)
{
    if (p)
        memset(p, 0, strlen(p));
    ac__free(p);
}

ac_settings *ac__settings_new(const char *name, const config_setting_t *group,
                              const char *file, const ac_options *overlay,
                              const ac_provider *plugin)
{
    ac_settings *s = ac__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->name = ac__strdup(name ? name : "");
    s->group = group;
    s->file = file;
    s->plugin = plugin;
    if (!s->name || ac__options_copy(&s->overlay, overlay) != 0) {
        ac__settings_free(s);
        return NULL;
    }
    /* The secrets the settings name: known before any plugin runs, so
     * that even a plugin that reads api_key itself has it scrubbed.  The
     * API key may come from a file or a variable; the other secrets
     * (client_key_password) are the keys table's KF_SECRET strings. */
    ac_error ignored;
    ac_error_clear(&ignored);
    char *k = secret_find(s, NULL, &ignored);
    int rc = remember(s, k);
    wipe_free(k);
    size_t nk;
    const keydef *keys = ac__keys(&nk);
    for (size_t i = 0; i < nk && rc == 0; i++) {
        const char *v;
        if (keys[i].scope == KS_PROVIDER && (keys[i].flags & KF_SECRET) &&
            string_quiet(s, keys[i].name, &v) == 1)
            rc = remember(s, v);
    }
    if (rc) {
        ac__settings_free(s);
        return NULL;
    }
    return s;
}

void ac__settings_free(ac_settings *s)
{
    if (!s)
        return;
    ac__options_clear(&s->overlay);
    for (size_t i = 0; i < s->n_secrets; i++)
        wipe_free(s->secrets[i]);
    ac__free(s->secrets);
    pthread_mutex_destroy(&s->mu);
    ac__free(s->name);
    ac__free(s);
}

size_t ac__settings_secret_count(const ac_settings *s)
{
    ac_settings *m = (ac_settings *)s;
    pthread_mutex_lock(&m->mu);
    size_t n = m->n_secrets;
    pthread_mutex_unlock(&m->mu);
    return n;
}

const char *ac__settings_secret_at(const ac_settings *s, size_t i)
{
    /* Entries are only appended, and freed with the settings. */
    ac_settings *m = (ac_settings *)s;
    pthread_mutex_lock(&m->mu);
    const char *v = i < m->n_secrets ? m->secrets[i] : "";
    pthread_mutex_unlock(&m->mu);
    return v;
}

static const char *overlay_get(const ac_settings *s, const char *key)
{
    if (!s || !key)
        return NULL;
    for (size_t i = s->overlay.n; i-- > 0;)
        if (strcmp(s->overlay.keys[i], key) == 0)
            return s->overlay.values[i];
    return NULL;
}

static const config_setting_t *member(const ac_settings *s, const char *key)
{
    if (!s || !s->group || !key)
        return NULL;
    return config_setting_get_member((config_setting_t *)s->group, key);
}

const char *ac__settings_where(const ac_settings *s, const char *key)
{
    static _Thread_local char where[512];
    const config_setting_t *m = member(s, key);
    where[0] = '\0';
    if (m) {
        const char *f = config_setting_source_file((config_setting_t *)m);
        snprintf(where, sizeof where, "%s:%u", f ? f : (s->file ? s->file : "config"),
                 config_setting_source_line(m));
    }
    return where;
}

/* A plugin read its own setting as another type than it has: the plugin
 * fails its init saying so; this line adds where the setting is.  (The
 * core's own settings were checked against the keys table before any
 * reader ran.) */
static void wrong_type(const ac_settings *s, const char *key, const char *want)
{
    ac_call call;
    ac__call_init(&call, s->name, s, NULL);
    const char *w = ac__settings_where(s, key);
    ac__host_log(&call, AC_LOG_ERROR, "%s%ssetting '%s' must be %s", w, *w ? ": " : "", key,
                 want);
}

/* The plugin's own default for a key the descriptor carries one for. */
static const char *plugin_default(const ac_settings *s, const char *key)
{
    if (!s || !s->plugin || !key)
        return NULL;
    if (strcmp(key, "base_url") == 0)
        return s->plugin->default_base_url;
    if (strcmp(key, "default_model") == 0)
        return s->plugin->default_model;
    return NULL;
}

/* A string setting without the wrong-type report (0 then): for the
 * secrets, gathered before anything is checked. */
static int string_quiet(const ac_settings *s, const char *key, const char **out)
{
    const char *v = overlay_get(s, key);
    const config_setting_t *m = v ? NULL : member(s, key);
    if (!v && m && config_setting_type(m) == CONFIG_TYPE_STRING)
        v = config_setting_get_string(m);
    if (!v)
        return 0;
    *out = v;
    return 1;
}

int ac__settings_string(const ac_settings *s, const char *key, const char **out)
{
    const char *v = overlay_get(s, key);
    if (v) {
        *out = v;
        return 1;
    }
    const config_setting_t *m = member(s, key);
    if (!m) {
        const char *d = plugin_default(s, key);
        if (d && *d) {
            *out = d;
            return 1;
        }
        return 0;
    }
    if (config_setting_type(m) != CONFIG_TYPE_STRING) {
        wrong_type(s, key, "a string");
        return -1;
    }
    *out = config_setting_get_string(m);
    return 1;
}

int ac__settings_int(const ac_settings *s, const char *key, long long *out)
{
    const char *v = overlay_get(s, key);
    if (v) {
        if (ac__key_parse_int(v, out) != 0) {
            wrong_type(s, key, "an integer");
            return -1;
        }
        return 1;
    }
    const config_setting_t *m = member(s, key);
    if (!m)
        return 0;
    int t = config_setting_type(m);
    if (t == CONFIG_TYPE_INT)
        *out = config_setting_get_int(m);
    else if (t == CONFIG_TYPE_INT64)
        *out = config_setting_get_int64(m);
    else {
        wrong_type(s, key, "an integer");
        return -1;
    }
    return 1;
}

int ac__settings_int_quiet(const ac_settings *s, const char *key, long long *out)
{
    const char *v = overlay_get(s, key);
    if (v)
        return ac__key_parse_int(v, out) == 0;
    const config_setting_t *m = member(s, key);
    int t = m ? config_setting_type(m) : CONFIG_TYPE_NONE;
    if (t == CONFIG_TYPE_INT)
        *out = config_setting_get_int(m);
    else if (t == CONFIG_TYPE_INT64)
        *out = config_setting_get_int64(m);
    else
        return 0;
    return 1;
}

int ac__settings_bool(const ac_settings *s, const char *key, int *out)
{
    const char *v = overlay_get(s, key);
    if (v) {
        if (ac__key_parse_bool(v, out) != 0) {
            wrong_type(s, key, "a boolean");
            return -1;
        }
        return 1;
    }
    const config_setting_t *m = member(s, key);
    if (!m)
        return 0;
    if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
        wrong_type(s, key, "a boolean (true or false)");
        return -1;
    }
    *out = config_setting_get_bool(m);
    return 1;
}

int ac__settings_double(const ac_settings *s, const char *key, double *out)
{
    const char *v = overlay_get(s, key);
    if (v) {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end) {
            wrong_type(s, key, "a number");
            return -1;
        }
        *out = d;
        return 1;
    }
    const config_setting_t *m = member(s, key);
    if (!m)
        return 0;
    int t = config_setting_type(m);
    if (t == CONFIG_TYPE_FLOAT)
        *out = config_setting_get_float(m);
    else if (t == CONFIG_TYPE_INT)
        *out = config_setting_get_int(m);
    else if (t == CONFIG_TYPE_INT64)
        *out = (double)config_setting_get_int64(m);
    else {
        wrong_type(s, key, "a number");
        return -1;
    }
    return 1;
}

int ac__settings_list_count(const ac_settings *s, const char *key)
{
    const config_setting_t *m = member(s, key);
    if (!m)
        return 0;
    if (!config_setting_is_aggregate(m) || config_setting_type(m) == CONFIG_TYPE_GROUP)
        return -1;
    int n = config_setting_length(m);
    for (int i = 0; i < n; i++)
        if (config_setting_type(config_setting_get_elem(m, (unsigned)i)) != CONFIG_TYPE_STRING)
            return -1;
    return n;
}

const char *ac__settings_list_item(const ac_settings *s, const char *key, int i)
{
    const config_setting_t *m = member(s, key);
    if (!m || i < 0 || !config_setting_is_aggregate(m))
        return NULL;
    const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
    return e ? config_setting_get_string(e) : NULL;
}

const char *ac__settings_name(const ac_settings *s) { return s ? s->name : ""; }

int ac__settings_type(const ac_settings *s, const char *key)
{
    if (overlay_get(s, key))
        return AC_SETTING_STRING;
    const config_setting_t *m = member(s, key);
    if (!m)
        return plugin_default(s, key) ? AC_SETTING_STRING : AC_SETTING_ABSENT;
    switch (config_setting_type(m)) {
    case CONFIG_TYPE_STRING: return AC_SETTING_STRING;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return AC_SETTING_INT;
    case CONFIG_TYPE_FLOAT: return AC_SETTING_FLOAT;
    case CONFIG_TYPE_BOOL: return AC_SETTING_BOOL;
    case CONFIG_TYPE_GROUP: return AC_SETTING_GROUP;
    default: return AC_SETTING_LIST;
    }
}

static char *read_key_file(const ac_settings *s, const char *path, ac_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                  "provider '%s': cannot read api_key_file '%s': %s", s->name, path,
                  strerror(errno));
        return NULL;
    }
    char line[4096];
    char *k = NULL;
    if (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n && !(k = ac__strdup(line))) {
            memset(line, 0, sizeof line);
            fclose(f);
            ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "provider '%s': out of memory", s->name);
            return NULL;
        }
        memset(line, 0, sizeof line);
    }
    fclose(f);
    if (!k)
        ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                  "provider '%s': api_key_file '%s' is empty", s->name, path);
    return k;
}

static char *secret_dup(const ac_settings *s, const char *v, ac_error *err)
{
    char *k = ac__strdup(v);
    if (!k)
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "provider '%s': out of memory", s->name);
    return k;
}

static char *secret_find(const ac_settings *s, const char *default_env, ac_error *err)
{
    const char *v;
    if (ac__settings_string(s, "api_key", &v) == 1 && *v)
        return secret_dup(s, v, err);
    if (ac__settings_string(s, "api_key_file", &v) == 1 && *v)
        return read_key_file(s, v, err);
    if (ac__settings_string(s, "api_key_env", &v) == 1 && *v) {
        const char *k = getenv(v);
        if (!k || !*k) {
            const char *w = ac__settings_where(s, "api_key_env");
            ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                      "%s%sprovider '%s': environment variable %s (api_key_env) is not set",
                      w, *w ? ": " : "", s->name, v);
            return NULL;
        }
        return secret_dup(s, k, err);
    }
    if (default_env && *default_env) {
        const char *k = getenv(default_env);
        if (k && *k)
            return secret_dup(s, k, err);
    }
    return NULL;
}

ac_status ac__settings_secret(const ac_settings *s, const char *default_env, char **key,
                              ac_call *call)
{
    ac_error e;
    ac_error_clear(&e);
    char *k = secret_find(s, default_env, &e);
    if (k && remember(s, k) != 0) {
        wipe_free(k);
        k = NULL;
        ac__error_set(&e, AC_ENOMEM, AC_STAGE_CONFIG, "provider '%s': out of memory", s->name);
    }
    *key = k;
    if (!k && e.code != AC_OK)
        return ac__host_fail(call, e.code, e.stage, "%s", e.message);
    return AC_OK;
}
