/*
 * confcheck.c -- strict configuration: unknown keys, wrong types, values
 * out of range, unreadable files, in the file and in ac_options.  See
 * confcheck.h; the keys and their types are keys.c's.
 *
 * Why strict: a typo'd key used to be ignored, so `base_ulr` sent the
 * request, with its key, to the plugin's default host.  Every problem
 * names file and line, and an unknown key names the nearest known one.
 */
#include "confcheck.h"
#include "alloc.h"
#include "call.h"
#include "error.h"
#include "keys.h"
#include "settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The problems list                                                   */
/* ------------------------------------------------------------------ */

void ac__problems_free(problems *p)
{
    for (size_t i = 0; i < p->n; i++) {
        ac__free(p->items[i].where);
        ac__free(p->items[i].text);
    }
    ac__free(p->items);
    p->items = NULL;
    p->n = 0;
}

void ac__problem(problems *p, int warning, const char *where, const char *fmt, ...)
{
    char text[AC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!warning) {
        /* Counted and remembered without allocating: an open that cannot
         * keep the list still fails with the first error. */
        if (p->errors++ == 0)
            ac__error_set(&p->first, AC_ECONFIG, AC_STAGE_CONFIG, "%s%s%s", where,
                          *where ? ": " : "", text);
    } else if (p->notes) {
        ac__plugins_note(p->notes, "%s%s%s%s", text, *where ? " (" : "", where,
                         *where ? ")" : "");
    }
    if (!p->collect)
        return;
    problem *v = ac__realloc(p->items, (p->n + 1) * sizeof *v);
    if (!v) {
        p->nomem = 1;
        return;
    }
    p->items = v;
    v[p->n].where = ac__strdup(where);
    v[p->n].text = ac__strdup(text);
    v[p->n].warning = warning;
    if (!v[p->n].where || !v[p->n].text) {
        ac__free(v[p->n].where);
        ac__free(v[p->n].text);
        p->nomem = 1;
        return;
    }
    p->n++;
}

const char *ac__config_where(const config_setting_t *s, const char *file)
{
    static _Thread_local char w[512];
    const char *f = config_setting_source_file((config_setting_t *)s);
    snprintf(w, sizeof w, "%s:%u", f ? f : file ? file : "config",
             config_setting_source_line(s));
    return w;
}

/* " (did you mean X?)" or "". */
static void suggestion(char *buf, size_t n, const char *near)
{
    if (near)
        snprintf(buf, n, " (did you mean %s?)", near);
    else
        buf[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* The core's groups                                                   */
/* ------------------------------------------------------------------ */

static void check_group(const config_setting_t *g, keyscope scope, const char *prefix,
                        const char *file, problems *p);

/* server.keys: a list of groups, each a client key of the gateway with
 * the members the table requires. */
static void check_server_keys(const config_setting_t *list, const char *file, problems *p)
{
    size_t nk;
    const keydef *keys = ac__keys(&nk);
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *g =
            config_setting_get_elem((config_setting_t *)list, (unsigned)i);
        if (config_setting_type((config_setting_t *)g) != CONFIG_TYPE_GROUP) {
            ac__problem(p, 0, ac__config_where(g, file), "'server.keys' item %d is not a "
                        "group { id = ...; key = ...; }", i + 1);
            continue;
        }
        check_group(g, KS_SERVER_KEY, "server.keys.", file, p);
        for (size_t k = 0; k < nk; k++)
            if (keys[k].scope == KS_SERVER_KEY && (keys[k].flags & KF_REQUIRED) &&
                !config_setting_get_member((config_setting_t *)g, keys[k].name))
                ac__problem(p, 0, ac__config_where(g, file), "'server.keys' item %d has no "
                            "'%s'", i + 1, keys[k].name);
    }
}

/* Every member of group g (in scope) against the table; the full name of
 * a member is prefix + its name. */
static void check_group(const config_setting_t *g, keyscope scope, const char *prefix,
                        const char *file, problems *p)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem((config_setting_t *)g, (unsigned)i);
        const char *name = config_setting_name((config_setting_t *)m);
        const char *where = ac__config_where(m, file);
        if (!name)
            continue;
        const keydef *k = ac__key_find(scope, name);
        char msg[300], near[96];
        if (!k) {
            suggestion(near, sizeof near, ac__key_nearest(scope, name, NULL, 0));
            if (scope == KS_TOP)
                ac__problem(p, 0, where, "unknown setting '%s' at the top level%s", name,
                            near);
            else
                ac__problem(p, 0, where, "unknown setting '%s%s'%s", prefix, name, near);
            continue;
        }
        if (ac__key_check_setting(k, m, msg, sizeof msg) != 0) {
            ac__problem(p, 0, where, "'%s%s' %s", prefix, name, msg);
            continue;
        }
        if (scope == KS_TOP && strcmp(name, "abstractcore") == 0)
            check_group(m, KS_CORE, "abstractcore.", file, p);
        else if (scope == KS_CORE && strcmp(name, "engine") == 0)
            check_group(m, KS_ENGINE, "abstractcore.engine.", file, p);
        else if (scope == KS_CORE && strcmp(name, "trace") == 0)
            check_group(m, KS_TRACE, "abstractcore.trace.", file, p);
        else if (scope == KS_TOP && strcmp(name, "server") == 0)
            check_group(m, KS_SERVER, "server.", file, p);
        else if (scope == KS_SERVER && strcmp(name, "keys") == 0)
            check_server_keys(m, file, p);
    }
}

void ac__confcheck_core(const config_t *cfg, const char *file, problems *p)
{
    check_group(config_root_setting(cfg), KS_TOP, "", file, p);
}

/* ------------------------------------------------------------------ */
/* A provider                                                          */
/* ------------------------------------------------------------------ */

static int declared(const ac_provider *vt, const char *name)
{
    for (size_t i = 0; vt && vt->settings && vt->settings[i]; i++)
        if (strcmp(vt->settings[i], name) == 0)
            return 1;
    return 0;
}

/* What an unknown key of this plugin is: 0 fine (declared), 1 an error
 * (the plugin declares and it is not there), 2 a warning (undeclared). */
static int unknown_kind(const ac_provider *vt, const char *name)
{
    if (!vt)
        return 0; /* no plugin: the provider is unavailable for that already */
    if (!vt->settings)
        return 2;
    return declared(vt, name) ? 0 : 1;
}

static void undeclared_warning(problems *p, const char *where, const char *provider,
                               const char *key, const ac_provider *vt)
{
    ac__problem(p, 1, where, "provider %s: setting '%s' is not a core setting and plugin %s "
                "(ABI %u.%u) does not declare its settings", provider, key, vt->name,
                vt->abi_major, vt->abi_minor);
}

void ac__confcheck_provider(const config_setting_t *g, const char *file, const char *name,
                            const ac_provider *vt, problems *p)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem((config_setting_t *)g, (unsigned)i);
        const char *key = config_setting_name((config_setting_t *)m);
        const char *where = ac__config_where(m, file);
        if (!key)
            continue;
        const keydef *k = ac__key_find(KS_PROVIDER, key);
        char msg[300], near[96];
        if (k) {
            if (ac__key_check_setting(k, m, msg, sizeof msg) != 0)
                ac__problem(p, 0, where, "provider '%s': '%s' %s", name, key, msg);
            continue;
        }
        switch (unknown_kind(vt, key)) {
        case 1:
            suggestion(near, sizeof near, ac__key_nearest(KS_PROVIDER, key, vt->settings, 0));
            ac__problem(p, 0, where, "provider '%s': unknown setting '%s': neither the core "
                        "nor plugin %s reads it%s", name, key, vt->name, near);
            break;
        case 2: undeclared_warning(p, where, name, key, vt); break;
        default: break;
        }
    }
    /* A key without its certificate would be ignored by TLS: say so. */
    static const char *const needs_cert[] = {"client_key", "client_key_password"};
    if (!config_setting_get_member((config_setting_t *)g, "client_cert"))
        for (size_t i = 0; i < sizeof needs_cert / sizeof needs_cert[0]; i++) {
            const config_setting_t *m =
                config_setting_get_member((config_setting_t *)g, needs_cert[i]);
            if (m)
                ac__problem(p, 0, ac__config_where(m, file), "provider '%s': '%s' is set "
                            "but 'client_cert' is not", name, needs_cert[i]);
        }
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static ac_status option_error(ac_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static ac_status option_error(ac_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ac__error_vset(err, AC_ECONFIG, AC_STAGE_CONFIG, fmt, ap);
    va_end(ap);
    return AC_ECONFIG;
}

ac_status ac__confcheck_options(const ac_options *o, const char *name, const ac_provider *vt,
                                ac_error *err)
{
    char msg[300], near[96];
    for (size_t i = 0; o && i < o->n; i++) {
        const char *key = o->keys[i];
        const keydef *k = ac__key_find(KS_PROVIDER, key);
        if (k && (k->flags & KF_GROUP_ONLY))
            return option_error(err, "provider '%s': option '%s' can only be set in the "
                                "provider's group of the config file", name, key);
        if (k) {
            if (ac__key_check_string(k, o->values[i], msg, sizeof msg) != 0) {
                /* A secret's value never shows: check_string quotes it. */
                if (k->flags & KF_SECRET)
                    snprintf(msg, sizeof msg, "has a value that is not valid");
                return option_error(err, "provider '%s': option '%s' %s", name, key, msg);
            }
            continue;
        }
        switch (unknown_kind(vt, key)) {
        case 1:
            suggestion(near, sizeof near, ac__key_nearest(KS_PROVIDER, key, vt->settings, 1));
            return option_error(err, "provider '%s': unknown option '%s': neither the core "
                                "nor plugin %s reads it%s", name, key, vt->name, near);
        case 2: {
            ac_call call;
            ac__call_init(&call, name, NULL, NULL);
            ac__host_log(&call, AC_LOG_WARN, "option '%s' is not a core setting and plugin %s "
                         "(ABI %u.%u) does not declare its settings", key, vt->name,
                         vt->abi_major, vt->abi_minor);
            break;
        }
        default: break;
        }
    }
    return AC_OK;
}

/* " (known: default_provider, engine.mode, ...)", from the table. */
static void known_core_options(char *buf, size_t n)
{
    size_t nk, off = (size_t)snprintf(buf, n, " (known: default_provider");
    const keydef *keys = ac__keys(&nk);
    for (size_t i = 0; i < nk && off < n; i++)
        if (keys[i].scope == KS_ENGINE || keys[i].scope == KS_TRACE)
            off += (size_t)snprintf(buf + off, n - off, ", %s.%s",
                                    keys[i].scope == KS_ENGINE ? "engine" : "trace",
                                    keys[i].name);
    if (off < n)
        snprintf(buf + off, n - off, ")");
}

ac_status ac__confcheck_core_options(const ac_options *o, ac_error *err)
{
    char msg[300], near[300];
    for (size_t i = 0; o && i < o->n; i++) {
        const char *key = o->keys[i];
        const keydef *k = NULL;
        if (strncmp(key, "engine.", 7) == 0)
            k = ac__key_find(KS_ENGINE, key + 7);
        else if (strncmp(key, "trace.", 6) == 0)
            k = ac__key_find(KS_TRACE, key + 6);
        else if (strcmp(key, "default_provider") == 0)
            k = ac__key_find(KS_CORE, key);
        if (!k) {
            const char *n = strncmp(key, "engine.", 7) == 0
                                ? ac__key_nearest(KS_ENGINE, key + 7, NULL, 0)
                                : ac__key_nearest(KS_CORE, key, NULL, 0);
            if (n && strncmp(key, "engine.", 7) == 0)
                snprintf(near, sizeof near, " (did you mean engine.%s?)", n);
            else if (n && strcmp(n, "default_provider") == 0)
                snprintf(near, sizeof near, " (did you mean default_provider?)");
            else
                known_core_options(near, sizeof near);
            ac__error_set(err, AC_EINVAL, AC_STAGE_CONFIG, "unknown core option '%s'%s", key,
                          near);
            return AC_EINVAL;
        }
        if (ac__key_check_string(k, o->values[i], msg, sizeof msg) != 0)
            return option_error(err, "option '%s' %s", key, msg);
    }
    return AC_OK;
}
