/*
 * gw_config.c -- the gateway's settings: the `server` section of the
 * configuration file, and the client keys file it may name.
 *
 * The core has already checked the whole file strictly when it opened
 * (core/keys.c lists every server.* key with its type and range), so
 * here the values are only read, with the defaults of
 * docs/configuration.md.  What the core cannot know is checked here:
 * duplicate key ids, aliases of the wrong form, and the keys file.
 *
 * Relies on libconfig.  Not thread-safe; called once at start.
 */
#include "gw.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void defaults(gw_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_request_bytes = 16777216;
    c->max_header_bytes = 16384;
    c->max_messages = 2048;
    c->max_connections = 4096;
    c->idle_timeout_ms = 60000;
    c->shutdown_timeout_ms = 10000;
    c->models_cache_ms = 60000;
}

static void key_free(gw_key *k)
{
    free(k->id);
    if (k->key) {
        /* A secret does not linger in freed memory. */
        volatile char *p = k->key;
        for (size_t i = 0; i < k->key_len; i++)
            p[i] = 0;
    }
    free(k->key);
    for (size_t i = 0; i < k->n_providers; i++)
        free(k->providers[i]);
    free(k->providers);
}

void gw_config_free(gw_config *c)
{
    free(c->listen);
    free(c->access_log);
    for (size_t i = 0; i < c->n_providers; i++)
        free(c->providers[i]);
    free(c->providers);
    for (size_t i = 0; i < c->n_aliases; i++) {
        free(c->aliases[i].name);
        free(c->aliases[i].provider);
        free(c->aliases[i].model);
    }
    free(c->aliases);
    for (size_t i = 0; i < c->n_keys; i++)
        key_free(&c->keys[i]);
    free(c->keys);
    memset(c, 0, sizeof *c);
}

int gw_config_serves(const gw_config *c, const char *provider)
{
    for (size_t i = 0; i < c->n_providers; i++)
        if (strcmp(c->providers[i], provider) == 0)
            return 1;
    return 0;
}

/* Append a copy of s to *v (n entries).  0 or -1. */
static int push_str(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

/* A string or a list of strings (the core checked the type). */
static int read_strings(config_setting_t *s, char ***v, size_t *n)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return push_str(v, n, config_setting_get_string(s));
    for (int i = 0; i < config_setting_length(s); i++)
        if (push_str(v, n, config_setting_get_string_elem(s, i)) != 0)
            return -1;
    return 0;
}

static void read_int(config_setting_t *g, const char *name, long long *out)
{
    long long v;
    if (g && config_setting_lookup_int64(g, name, &v) == CONFIG_TRUE)
        *out = v;
    else {
        int i;
        if (g && config_setting_lookup_int(g, name, &i) == CONFIG_TRUE)
            *out = i;
    }
}

static int add_key(gw_config *c, const char *id, const char *key, char **providers,
                   size_t n_providers, long rpm, const char *where, char *err, size_t n)
{
    if (!*id || !*key) {
        snprintf(err, n, "%s: a client key needs a non-empty id and key", where);
        return -1;
    }
    for (size_t i = 0; i < c->n_keys; i++)
        if (strcmp(c->keys[i].id, id) == 0) {
            snprintf(err, n, "%s: client key id '%s' is used twice", where, id);
            return -1;
        }
    gw_key *v = realloc(c->keys, (c->n_keys + 1) * sizeof *v);
    if (!v) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    c->keys = v;
    gw_key *k = &v[c->n_keys];
    memset(k, 0, sizeof *k);
    k->id = strdup(id);
    k->key = strdup(key);
    k->key_len = strlen(key);
    k->rpm = rpm;
    if (!k->id || !k->key) {
        key_free(k); /* the providers stay the caller's */
        snprintf(err, n, "out of memory");
        return -1;
    }
    k->providers = providers;
    k->n_providers = n_providers;
    c->n_keys++;
    return 0;
}

/* The keys file: "ID KEY [providers=A,B] [rpm=N]" per line. */
static int read_keys_file(gw_config *c, const char *path, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "server.keys_file '%s': %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char where[300];
        snprintf(where, sizeof where, "%.250s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, n, "%s: the line is longer than %zu bytes", where, sizeof line - 1);
            rc = -1;
            break;
        }
        char *save = NULL, *id = strtok_r(line, " \t\r\n", &save);
        if (!id || *id == '#')
            continue;
        char *key = strtok_r(NULL, " \t\r\n", &save);
        if (!key) {
            snprintf(err, n, "%s: expected ID KEY [providers=A,B] [rpm=N]", where);
            rc = -1;
            break;
        }
        char **prov = NULL;
        size_t np = 0;
        long rpm = 0;
        for (char *w; rc == 0 && (w = strtok_r(NULL, " \t\r\n", &save));) {
            if (strncmp(w, "providers=", 10) == 0) {
                char *s2 = NULL;
                for (char *p = strtok_r(w + 10, ",", &s2); p; p = strtok_r(NULL, ",", &s2))
                    if (push_str(&prov, &np, p) != 0) {
                        snprintf(err, n, "out of memory");
                        rc = -1;
                        break;
                    }
            } else if (strncmp(w, "rpm=", 4) == 0) {
                char *end;
                errno = 0;
                rpm = strtol(w + 4, &end, 10);
                if (errno || end == w + 4 || *end || rpm < 0 || rpm > 100000000) {
                    snprintf(err, n, "%s: rpm must be an integer from 0 to 100000000", where);
                    rc = -1;
                }
            } else {
                snprintf(err, n, "%s: unknown field '%.40s' (expected providers=A,B or rpm=N)",
                         where, w);
                rc = -1;
            }
        }
        if (rc == 0 && add_key(c, id, key, prov, np, rpm, where, err, n) == 0)
            continue;
        for (size_t i = 0; i < np; i++)
            free(prov[i]);
        free(prov);
        rc = -1;
    }
    memset(line, 0, sizeof line);
    fclose(f);
    return rc;
}

static int read_keys(gw_config *c, config_setting_t *list, const char *file, char *err, size_t n)
{
    for (int i = 0; list && i < config_setting_length(list); i++) {
        config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        const char *id = "", *key = "";
        int rpm = 0;
        config_setting_lookup_string(g, "id", &id);
        config_setting_lookup_string(g, "key", &key);
        config_setting_lookup_int(g, "rpm", &rpm);
        char **prov = NULL;
        size_t np = 0;
        config_setting_t *ps = config_setting_get_member(g, "providers");
        char where[300];
        snprintf(where, sizeof where, "%.250s:%u", file, config_setting_source_line(g));
        if ((ps && read_strings(ps, &prov, &np) != 0) ||
            add_key(c, id, key, prov, np, rpm, where, err, n) != 0) {
            if (!*err)
                snprintf(err, n, "out of memory");
            for (size_t k = 0; k < np; k++)
                free(prov[k]);
            free(prov);
            return -1;
        }
    }
    return 0;
}

static int read_aliases(gw_config *c, config_setting_t *s, char *err, size_t n)
{
    char **v = NULL;
    size_t nv = 0;
    int rc = read_strings(s, &v, &nv);
    if (rc != 0)
        snprintf(err, n, "out of memory");
    for (size_t i = 0; rc == 0 && i < nv; i++) {
        char *eq = strchr(v[i], '='), *slash = eq ? strchr(eq + 1, '/') : NULL;
        if (!eq || eq == v[i] || !slash || slash == eq + 1 || !slash[1]) {
            snprintf(err, n, "server.aliases: '%.100s' is not ALIAS=PROVIDER/MODEL", v[i]);
            rc = -1;
            break;
        }
        gw_alias *a = realloc(c->aliases, (c->n_aliases + 1) * sizeof *a);
        if (!a) {
            snprintf(err, n, "out of memory");
            rc = -1;
            break;
        }
        c->aliases = a;
        a = &a[c->n_aliases];
        a->name = strndup(v[i], (size_t)(eq - v[i]));
        a->provider = strndup(eq + 1, (size_t)(slash - eq - 1));
        a->model = strdup(slash + 1);
        c->n_aliases++;
        if (!a->name || !a->provider || !a->model) {
            snprintf(err, n, "out of memory");
            rc = -1;
        }
    }
    for (size_t i = 0; i < nv; i++)
        free(v[i]);
    free(v);
    return rc;
}

int gw_config_load(gw_config *c, const char *path, char *err, size_t n)
{
    defaults(c);
    err[0] = '\0';
    config_t cfg;
    config_init(&cfg);
    int rc = -1;
    if (path && config_read_file(&cfg, path) != CONFIG_TRUE) {
        snprintf(err, n, "%s:%d: %s", config_error_file(&cfg) ? config_error_file(&cfg) : path,
                 config_error_line(&cfg), config_error_text(&cfg));
        goto out;
    }
    config_setting_t *srv = path ? config_lookup(&cfg, "server") : NULL;
    const char *s;
    if (!(c->listen = strdup(srv && config_setting_lookup_string(srv, "listen", &s) ? s
                                                                     : "127.0.0.1:8080")))
        goto oom;
    if (!(c->access_log = strdup(srv && config_setting_lookup_string(srv, "access_log", &s)
                                     ? s : "-")))
        goto oom;
    read_int(srv, "max_request_bytes", &c->max_request_bytes);
    read_int(srv, "max_header_bytes", &c->max_header_bytes);
    read_int(srv, "max_messages", &c->max_messages);
    read_int(srv, "max_connections", &c->max_connections);
    read_int(srv, "idle_timeout_ms", &c->idle_timeout_ms);
    read_int(srv, "shutdown_timeout_ms", &c->shutdown_timeout_ms);
    read_int(srv, "models_cache_ms", &c->models_cache_ms);
    config_setting_t *ps = srv ? config_setting_get_member(srv, "providers") : NULL;
    if (ps) {
        if (read_strings(ps, &c->providers, &c->n_providers) != 0)
            goto oom;
    } else if (path) {
        /* Every configured provider group, by name. */
        config_setting_t *list = config_lookup(&cfg, "providers");
        for (int i = 0; list && i < config_setting_length(list); i++) {
            const char *name;
            config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
            if (config_setting_lookup_string(g, "name", &name) && !gw_config_serves(c, name) &&
                push_str(&c->providers, &c->n_providers, name) != 0)
                goto oom;
        }
    }
    config_setting_t *as = srv ? config_setting_get_member(srv, "aliases") : NULL;
    if (as && read_aliases(c, as, err, n) != 0)
        goto out;
    for (size_t i = 0; i < c->n_aliases; i++)
        if (!gw_config_serves(c, c->aliases[i].provider)) {
            snprintf(err, n, "server.aliases: '%s' names provider '%s', which is not served",
                     c->aliases[i].name, c->aliases[i].provider);
            goto out;
        }
    if (read_keys(c, srv ? config_setting_get_member(srv, "keys") : NULL, path ? path : "",
                  err, n) != 0)
        goto out;
    if (srv && config_setting_lookup_string(srv, "keys_file", &s) &&
        read_keys_file(c, s, err, n) != 0)
        goto out;
    rc = 0;
    goto out;
oom:
    snprintf(err, n, "out of memory reading the server section");
out:
    config_destroy(&cfg);
    if (rc != 0)
        gw_config_free(c);
    return rc;
}
