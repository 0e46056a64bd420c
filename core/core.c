/*
 * core.c -- opening a core (config search, plugins, provider instances,
 * engine), closing it, and creating LLM handles.
 *
 * A broken provider never fails the open: its instance keeps the error,
 * which ac_llm_create returns and ac_core_plugin_report lists.  Only an
 * unreadable or malformed config file fails it, naming file and line.
 */
#include "core.h"
#include "prompted.h"
#include "alloc.h"
#include "call.h"
#include "engine.h"
#include "error.h"
#include "workers.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef AC_SYSCONFDIR
#define AC_SYSCONFDIR "/etc"
#endif
#ifndef AC_PLUGINSDIR
#define AC_PLUGINSDIR "/usr/lib/abstractcore/plugins"
#endif

#define DEFAULT_MAX_RESPONSE_BYTES (16L * 1024 * 1024)
/*
 * A stream without progress: events (SSE events and comments, NDJSON
 * lines) and bytes in a row that add nothing to the response -- no text,
 * reasoning, tool call, usage or finish.  Real servers send such events
 * in three ways, none of which comes near these limits:
 *   - keep-alives on a timer (sse-starlette's ": ping" every 15 s,
 *     Anthropic's `ping`, mlx's ": keepalive N/M" while reading a prompt):
 *     a few hundred in an hour, well under 64 KiB;
 *   - bookkeeping (OpenAI's role-only first chunk, Azure's
 *     prompt_filter_results, Anthropic's content_block_start/stop and
 *     signature deltas): a handful per response;
 *   - one event per generated token the server keeps to itself (llama.cpp
 *     holding back a possible stop string, a server buffering what may be
 *     a tool call or dropping hidden thinking): bounded by the model's
 *     output, at most a few tens of thousands of tokens, each event 100 to
 *     300 bytes.
 * Reasoning deltas are progress, so a long thinking phase never counts.
 * 50000 events and 16 MiB cover the third kind for 50000 hidden tokens
 * with room to spare (16 MiB is also the default response limit), and
 * still end a broken server's endless stream of nothing within seconds
 * on any link, where only the total timeout (10 min, or none) would.
 */
#define DEFAULT_MAX_IDLE_EVENTS 50000L
#define DEFAULT_MAX_IDLE_BYTES (16L * 1024 * 1024)

double ac__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

static void read_long(const ac_settings *s, const char *key, long *out, long min, long max)
{
    long long v;
    if (ac__settings_int(s, key, &v) == 1) {
        if (v < min || v > max)
            fprintf(stderr, "abstractcore: %s: provider '%s': %s = %lld is out of range "
                    "(%ld..%ld), ignored\n", ac__settings_where(s, key), ac__settings_name(s), key, v,
                    min, max);
        else
            *out = (long)v;
    }
}

void ac__limits_read(const ac_settings *s, const limits *base, limits *lim)
{
    *lim = *base;
    read_long(s, "connect_timeout_ms", &lim->connect_ms, 0, 86400000L);
    read_long(s, "first_byte_timeout_ms", &lim->first_byte_ms, 0, 86400000L);
    read_long(s, "idle_timeout_ms", &lim->idle_ms, 0, 86400000L);
    read_long(s, "timeout_ms", &lim->total_ms, 0, 86400000L);
    long r = lim->max_retries;
    read_long(s, "max_retries", &r, 0, 10);
    lim->max_retries = (int)r;
    long m = (long)lim->max_response_bytes;
    read_long(s, "max_response_bytes", &m, 1024, 1L << 30);
    lim->max_response_bytes = (size_t)m;
    read_long(s, "max_idle_events", &lim->max_idle_events, 0, 1000000000L);
    read_long(s, "max_idle_bytes", &lim->max_idle_bytes, 0, 1L << 30);
}

/* ------------------------------------------------------------------ */
/* Config file                                                         */
/* ------------------------------------------------------------------ */

static int file_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The file to read, or NULL for built-in defaults.  An explicit path or
 * $ABSTRACTCORE_CONFIG that names nothing is an error: the user asked for
 * that file. */
static ac_status config_find(const char *explicit_path, char **out, ac_error *err)
{
    *out = NULL;
    const char *env = getenv("ABSTRACTCORE_CONFIG");
    const char *asked = explicit_path ? explicit_path : (env && *env ? env : NULL);
    if (asked) {
        if (!file_exists(asked)) {
            ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "config file %s%s: %s", asked,
                      explicit_path ? "" : " (from $ABSTRACTCORE_CONFIG)",
                      access(asked, F_OK) == 0 ? "not a regular file" : strerror(errno));
            return AC_ECONFIG;
        }
        *out = ac__strdup(asked);
        return *out ? AC_OK : AC_ENOMEM;
    }
    char path[4096];
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(path, sizeof path, "%s/abstractcore/abstractcore.conf", xdg);
    else if (home && *home)
        snprintf(path, sizeof path, "%s/.config/abstractcore/abstractcore.conf", home);
    else
        path[0] = '\0';
    if (path[0] && file_exists(path))
        return (*out = ac__strdup(path)) ? AC_OK : AC_ENOMEM;
    snprintf(path, sizeof path, "%s/abstractcore/abstractcore.conf", AC_SYSCONFDIR);
    if (file_exists(path))
        return (*out = ac__strdup(path)) ? AC_OK : AC_ENOMEM;
    return AC_OK;
}

static ac_status config_load(ac_core *c, ac_error *err)
{
    config_init(&c->cfg);
    c->have_cfg = 1;
    if (!c->config_path)
        return AC_OK;
    /* @include paths are relative to the including file's folder. */
    char *dir = ac__strdup(c->config_path);
    if (!dir)
        return ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory"), AC_ENOMEM;
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        config_set_include_dir(&c->cfg, *dir ? dir : "/");
    }
    ac__free(dir);
    if (config_read_file(&c->cfg, c->config_path) != CONFIG_TRUE) {
        const char *f = config_error_file(&c->cfg);
        if (config_error_type(&c->cfg) == CONFIG_ERR_FILE_IO)
            ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "%s: cannot read: %s",
                      f ? f : c->config_path, config_error_text(&c->cfg));
        else
            ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "%s:%d: %s", f ? f : c->config_path,
                      config_error_line(&c->cfg), config_error_text(&c->cfg));
        return AC_ECONFIG;
    }
    return AC_OK;
}

static const char *where(const ac_core *c, const config_setting_t *s)
{
    static _Thread_local char w[512];
    const char *f = config_setting_source_file((config_setting_t *)s);
    snprintf(w, sizeof w, "%s:%u", f ? f : c->config_path, config_setting_source_line(s));
    return w;
}

static ac_status bad_type(ac_core *c, const config_setting_t *s, const char *key,
                          const char *want, ac_error *err)
{
    ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "%s: '%s' must be %s", where(c, s), key, want);
    return AC_ECONFIG;
}

/* ------------------------------------------------------------------ */
/* Plugins and instances                                               */
/* ------------------------------------------------------------------ */

static int strv_add(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return 0;
    char **nv = ac__realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = ac__strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

/* A plugin_path folder of the config: a relative one is relative to the
 * config file's folder (as @include is), never to the working folder. */
static ac_status add_config_dir(ac_core *c, char ***dirs, size_t *n, const char *d)
{
    const char *slash = c->config_path ? strrchr(c->config_path, '/') : NULL;
    if (*d == '/' || !*d || !slash)
        return strv_add(dirs, n, d) ? AC_ENOMEM : AC_OK;
    char *full = ac__asprintf("%.*s/%s", (int)(slash - c->config_path), c->config_path, d);
    int rc = full ? strv_add(dirs, n, full) : -1;
    ac__free(full);
    return rc ? AC_ENOMEM : AC_OK;
}

static ac_status load_plugins(ac_core *c, ac_error *err)
{
    char **dirs = NULL;
    size_t n = 0;
    ac_status st = AC_OK;
    const char *env = getenv("ABSTRACTCORE_PLUGIN_PATH");
    if (env && *env) {
        char *copy = ac__strdup(env), *save = NULL;
        if (!copy) {
            st = AC_ENOMEM;
            goto done;
        }
        for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
            /* A relative folder would be whatever the working folder of
             * the program holds: refused, as PATH's "." should be. */
            if (*t && *t != '/') {
                ac__plugins_note(&c->plugins, "ABSTRACTCORE_PLUGIN_PATH folder %s: not an "
                                 "absolute path, skipped", t);
                continue;
            }
            if (*t && strv_add(&dirs, &n, t)) {
                st = AC_ENOMEM;
                break;
            }
        }
        ac__free(copy);
        if (st != AC_OK)
            goto done;
    }
    config_setting_t *pp = config_lookup(&c->cfg, "abstractcore.plugin_path");
    if (pp) {
        if (config_setting_type(pp) == CONFIG_TYPE_STRING) {
            st = add_config_dir(c, &dirs, &n, config_setting_get_string(pp));
        } else if (config_setting_is_array(pp) || config_setting_is_list(pp)) {
            for (int i = 0; i < config_setting_length(pp) && st == AC_OK; i++) {
                config_setting_t *e = config_setting_get_elem(pp, (unsigned)i);
                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                    st = bad_type(c, e, "plugin_path", "a list of folder names (strings)", err);
                else
                    st = add_config_dir(c, &dirs, &n, config_setting_get_string(e));
            }
        } else {
            st = bad_type(c, pp, "plugin_path", "a list of folder names (strings)", err);
        }
    } else if (strv_add(&dirs, &n, AC_PLUGINSDIR)) {
        st = AC_ENOMEM;
    }
    if (st == AC_OK)
        st = ac__plugins_scan(&c->plugins, (const char *const *)dirs, n, err);
done:
    if (st == AC_ENOMEM)
        ac__error_set(err, AC_ENOMEM, AC_STAGE_PLUGIN, "out of memory");
    for (size_t i = 0; i < n; i++)
        ac__free(dirs[i]);
    ac__free(dirs);
    return st;
}

static void instance_free(instance *in)
{
    if (!in)
        return;
    if (in->state && in->pl && in->pl->vt.fini)
        in->pl->vt.fini(in->state);
    ac__settings_free(in->settings);
    ac__free(in->name);
    ac__free(in);
}

/* Run the plugin's init; a failure stays in the instance. */
static void instance_init(instance *in)
{
    ac_error_clear(&in->err);
    ac__error_set_provider(&in->err, in->name);
    ac_call call;
    ac__call_init(&call, in->name, in->settings, NULL);
    void *state = NULL;
    ac_status st = in->pl->vt.init(in->settings, &state, &call);
    if (ac__call_error(&call, st, "init", &in->err) != AC_OK) {
        in->status = st;
        in->state = NULL;
    } else {
        in->state = state;
    }
}

static instance *instance_new(ac_core *c, const char *name, const plugin *pl,
                              const config_setting_t *group)
{
    instance *in = ac__calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->name = ac__strdup(name);
    in->settings = ac__settings_new(name, group, c->config_path, NULL, pl ? &pl->vt : NULL);
    if (!in->name || !in->settings) {
        instance_free(in);
        return NULL;
    }
    in->pl = pl;
    ac_error_clear(&in->err);
    ac__error_set_provider(&in->err, name);
    /* An in-process backend has no connection: its "connect" timer is the
     * wait for a free worker, and requests queued behind long local runs
     * should not fail for waiting; the operator may still set one. */
    limits base = c->defaults;
    if (pl && !pl->vt.build_request && pl->vt.run_local)
        base.connect_ms = 0;
    ac__limits_read(in->settings, &base, &in->lim);
    return in;
}

static int instances_add(ac_core *c, instance *in)
{
    instance **v = ac__realloc(c->inst, (c->n_inst + 1) * sizeof *v);
    if (!v)
        return -1;
    c->inst = v;
    c->inst[c->n_inst++] = in;
    return 0;
}

static instance *instance_find(ac_core *c, const char *name)
{
    for (size_t i = 0; i < c->n_inst; i++)
        if (strcmp(c->inst[i]->name, name) == 0)
            return c->inst[i];
    return NULL;
}

static ac_status load_providers(ac_core *c, ac_error *err)
{
    config_setting_t *list = config_lookup(&c->cfg, "providers");
    if (!list)
        return AC_OK;
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return bad_type(c, list, "providers", "a list of provider groups: ( { ... }, ... )", err);
    for (int i = 0; i < config_setting_length(list); i++) {
        config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        const char *name = NULL, *plug = NULL;
        if (!config_setting_is_group(g)) {
            ac__plugins_note(&c->plugins, "provider #%d (%s): not a group { ... }, skipped", i + 1,
                         where(c, g));
            continue;
        }
        if (!config_setting_lookup_string(g, "name", &name) || !*name ||
            strlen(name) >= AC_ERROR_PROVIDER_MAX) {
            ac__plugins_note(&c->plugins, "provider #%d (%s): missing or bad 'name', skipped", i + 1,
                         where(c, g));
            continue;
        }
        if (instance_find(c, name)) {
            ac__plugins_note(&c->plugins, "provider %s (%s): duplicate name, skipped", name,
                         where(c, g));
            continue;
        }
        if (!config_setting_lookup_string(g, "plugin", &plug))
            plug = name;
        const plugin *pl = NULL;
        ac_error perr;
        ac_error_clear(&perr);
        /* A plain name is looked up in the plugin path; only an absolute
         * path names a file, so a relative path or ".." cannot make the
         * program load something from wherever it happens to run. */
        if (plug[0] == '/') {
            size_t before = c->plugins.n;
            pl = ac__plugins_load_file(&c->plugins, plug, &perr);
            if (pl && c->plugins.n > before)
                ac__plugins_note_loaded(&c->plugins, pl);
        } else if (strchr(plug, '/') || strstr(plug, ".."))
            ac__error_set(&perr, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin '%s' is neither a plugin "
                          "name (looked up in the plugin path) nor an absolute path", plug);
        else if (!(pl = ac__plugins_find(&c->plugins, plug)) &&
                 ac__plugins_refusal(&c->plugins, plug))
            ac__error_set(&perr, AC_EPLUGIN, AC_STAGE_PLUGIN, "found but refused: %s",
                          ac__plugins_refusal(&c->plugins, plug));
        instance *in = instance_new(c, name, pl, g);
        if (!in || instances_add(c, in)) {
            instance_free(in);
            return ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory"), AC_ENOMEM;
        }
        if (!pl) {
            in->status = AC_EPLUGIN;
            if (perr.code != AC_OK)
                ac__error_set(&in->err, AC_EPLUGIN, AC_STAGE_PLUGIN, "%s: provider '%s': %s",
                          where(c, g), name, perr.message);
            else
                ac__error_set(&in->err, AC_EPLUGIN, AC_STAGE_PLUGIN,
                          "%s: provider '%s': plugin '%s' not found in the plugin path "
                          "(see `acore plugins`)", where(c, g), name, plug);
            ac__error_set_provider(&in->err, name);
        } else {
            instance_init(in);
        }
        if (in->status == AC_OK)
            ac__plugins_note(&c->plugins, "provider %s: ready (plugin %s)", name, pl->vt.name);
        else
            ac__plugins_note(&c->plugins, "provider %s: unavailable: %s", name, in->err.message);
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

void ac__core_ref(ac_core *c) { atomic_fetch_add(&c->refs, 1); }

struct workers *ac__core_workers(ac_core *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->pool && !atomic_load(&c->closed))
        c->pool = ac__workers_new(c->n_workers);
    workers *w = c->pool;
    pthread_mutex_unlock(&c->mu);
    return w;
}

static void core_destroy(ac_core *c)
{
    ac__engine_free(c->eng);
    ac__workers_free(c->pool);
    for (size_t i = 0; i < c->n_inst; i++)
        instance_free(c->inst[i]);
    ac__free(c->inst);
    ac__plugins_unload(&c->plugins);
    if (c->have_cfg)
        config_destroy(&c->cfg);
    ac__free(c->config_path);
    ac__free(c->default_provider);
    pthread_mutex_destroy(&c->mu);
    ac__free(c);
}

void ac__core_unref(ac_core *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        core_destroy(c);
}

/* The engine's settings: abstractcore.engine in the file, then the
 * application's overrides ("engine.KEY" in the options of
 * ac_core_open_ex).  Defaults are those a user of the official SDKs would
 * expect: no cap on connections (a burst to one backend is sent at once,
 * as the Node SDK does), 4 workers for in-process models. */
typedef struct engine_key {
    const char *key;
    long        min, max;
    long       *slot;
} engine_key;

static ac_status engine_value(ac_core *c, const engine_key *k, const config_setting_t *grp,
                              const ac_options *opts, ac_error *err)
{
    char full[64];
    snprintf(full, sizeof full, "engine.%s", k->key);
    const char *ov = NULL;
    for (size_t i = 0; opts && i < opts->n; i++)
        if (strcmp(opts->keys[i], full) == 0)
            ov = opts->values[i];
    long long v;
    const char *where_ = NULL;
    if (ov) {
        char *end;
        errno = 0;
        v = strtoll(ov, &end, 10);
        if (errno || end == ov || *end) {
            ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "option '%s' = '%s': must be an "
                          "integer", full, ov);
            return AC_ECONFIG;
        }
        where_ = "option";
    } else {
        config_setting_t *s = grp ? config_setting_get_member((config_setting_t *)grp, k->key)
                                  : NULL;
        if (!s)
            return AC_OK;
        int t = config_setting_type(s);
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return bad_type(c, s, k->key, "an integer", err);
        v = t == CONFIG_TYPE_INT ? config_setting_get_int(s) : config_setting_get_int64(s);
        where_ = where(c, s);
    }
    if (v < k->min || v > k->max) {
        ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "%s: '%s' = %lld is out of range "
                      "(%ld..%ld)", where_, full, v, k->min, k->max);
        return AC_ECONFIG;
    }
    *k->slot = (long)v;
    return AC_OK;
}

static ac_status engine_mode_value(ac_core *c, const config_setting_t *grp,
                                   const ac_options *opts, engine_config *ec, ac_error *err)
{
    const char *v = NULL, *where_ = "option 'engine.mode'";
    for (size_t i = 0; opts && i < opts->n; i++)
        if (strcmp(opts->keys[i], "engine.mode") == 0)
            v = opts->values[i];
    if (!v && grp) {
        config_setting_t *s = config_setting_get_member((config_setting_t *)grp, "mode");
        if (!s)
            return AC_OK;
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return bad_type(c, s, "mode", "\"thread\" or \"host\"", err);
        v = config_setting_get_string(s);
        where_ = where(c, s);
    }
    if (!v)
        return AC_OK;
    if (strcmp(v, "thread") == 0)
        ec->mode = ENGINE_THREAD;
    else if (strcmp(v, "host") == 0)
        ec->mode = ENGINE_HOST;
    else {
        ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "%s: engine mode '%s' is neither "
                      "\"thread\" nor \"host\"", where_, v);
        return AC_ECONFIG;
    }
    return AC_OK;
}

static ac_status read_engine_settings(ac_core *c, const ac_options *opts, engine_config *ec,
                                      ac_error *err)
{
    memset(ec, 0, sizeof *ec);
    ec->mode = ENGINE_THREAD;
    c->defaults.connect_ms = 10000;
    c->defaults.first_byte_ms = 0;
    c->defaults.idle_ms = 300000;
    c->defaults.total_ms = 600000;
    c->defaults.max_retries = 2;
    c->defaults.max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES;
    c->defaults.max_idle_events = DEFAULT_MAX_IDLE_EVENTS;
    c->defaults.max_idle_bytes = DEFAULT_MAX_IDLE_BYTES;
    static const char *const known[] = {
        "default_provider", "engine.mode", "engine.max_connections",
        "engine.max_host_connections", "engine.max_idle_connections", "engine.workers",
        "engine.max_response_bytes",
    };
    for (size_t i = 0; opts && i < opts->n; i++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= strcmp(opts->keys[i], known[k]) == 0;
        if (!ok) {
            ac__error_set(err, AC_EINVAL, AC_STAGE_CONFIG, "unknown core option '%s' (known: "
                          "default_provider, engine.mode, engine.max_connections, "
                          "engine.max_host_connections, engine.max_idle_connections, "
                          "engine.workers, engine.max_response_bytes)", opts->keys[i]);
            return AC_EINVAL;
        }
    }
    config_setting_t *top = config_lookup(&c->cfg, "abstractcore");
    if (top && !config_setting_is_group(top))
        return bad_type(c, top, "abstractcore", "a group { ... }", err);
    const char *dpv = NULL;
    for (size_t i = 0; opts && i < opts->n; i++)
        if (strcmp(opts->keys[i], "default_provider") == 0)
            dpv = opts->values[i];
    config_setting_t *dp = config_lookup(&c->cfg, "abstractcore.default_provider");
    if (!dpv && dp) {
        if (config_setting_type(dp) != CONFIG_TYPE_STRING)
            return bad_type(c, dp, "default_provider", "a string", err);
        dpv = config_setting_get_string(dp);
    }
    if (dpv && !(c->default_provider = ac__strdup(dpv)))
        return AC_ENOMEM;
    config_setting_t *eng = config_lookup(&c->cfg, "abstractcore.engine");
    if (eng && !config_setting_is_group(eng))
        return bad_type(c, eng, "engine", "a group { ... }", err);
    long n_workers = 4, max_bytes = (long)c->defaults.max_response_bytes;
    const engine_key keys[] = {
        {"max_connections", 0, 1L << 20, &ec->max_connections},
        {"max_host_connections", 0, 1L << 20, &ec->max_host_connections},
        {"max_idle_connections", 0, 1L << 20, &ec->max_idle_connections},
        {"workers", 1, 256, &n_workers},
        {"max_response_bytes", 1024, 1L << 30, &max_bytes},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        ac_status st = engine_value(c, &keys[i], eng, opts, err);
        if (st != AC_OK)
            return st;
    }
    c->n_workers = (int)n_workers;
    c->defaults.max_response_bytes = (size_t)max_bytes;
    return engine_mode_value(c, eng, opts, ec, err);
}

ac_status ac_core_open_ex(ac_core **out, const char *config_path, const ac_options *opts,
                          ac_error *err)
{
    if (!out) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_CONFIG, "out is NULL");
        return AC_EINVAL;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "curl_global_init failed: %s",
                  curl_easy_strerror(curl_init_rc));
        return AC_ENOMEM;
    }
    /* Work on a local report: the caller's is left untouched on success
     * (the header's convention), and filled only when we fail. */
    ac_error local, *user_err = err;
    ac_error_clear(&local);
    err = &local;
    ac_core *c = ac__calloc(1, sizeof *c);
    if (!c) {
        ac__error_set(user_err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return AC_ENOMEM;
    }
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    engine_config ec;
    ac_status st = config_find(config_path, &c->config_path, err);
    if (st == AC_OK)
        st = config_load(c, err);
    if (st == AC_OK)
        st = read_engine_settings(c, opts, &ec, err);
    if (st == AC_OK)
        st = load_plugins(c, err);
    if (st == AC_OK)
        st = load_providers(c, err);
    if (st == AC_OK && !(c->eng = ac__engine_new(&ec, err)))
        st = err->code ? err->code : AC_ENOMEM;
    if (st != AC_OK) {
        if (err->code == AC_OK)
            ac__error_set(err, st, AC_STAGE_CONFIG, "%s", ac_strerror(st));
        core_destroy(c);
        if (user_err)
            *user_err = local;
        return st;
    }
    *out = c;
    return AC_OK;
}

ac_status ac_core_open(ac_core **out, const char *config_path, ac_error *err)
{
    return ac_core_open_ex(out, config_path, NULL, err);
}

void ac_core_close(ac_core *core)
{
    if (!core)
        return;
    if (ac__in_engine_context()) {
        fprintf(stderr, "abstractcore: warning: ac_core_close called from a callback; ignored\n");
        return;
    }
    if (atomic_exchange(&core->closed, 1))
        return;
    /* First the engine ends every request (in-process runs included:
     * their relays are cancelled), then the workers finish the plugin
     * calls in progress and are joined. */
    ac__engine_stop(core->eng);
    pthread_mutex_lock(&core->mu);
    workers *w = core->pool;
    pthread_mutex_unlock(&core->mu);
    ac__workers_stop(w);
    ac__core_unref(core);
}

/* ------------------------------------------------------------------ */
/* Host mode: the application's loop drives the engine                 */
/* ------------------------------------------------------------------ */

int ac_core_backend_fd(ac_core *core)
{
    if (!core || atomic_load(&core->closed))
        return -1;
    return ac__engine_backend_fd(core->eng);
}

int ac_core_backend_timeout(ac_core *core)
{
    if (!core || atomic_load(&core->closed))
        return -1;
    return ac__engine_backend_timeout(core->eng);
}

ac_status ac_core_run_once(ac_core *core)
{
    if (!core)
        return AC_EINVAL;
    if (atomic_load(&core->closed))
        return AC_ECANCELED;
    if (ac__engine_mode(core->eng) != ENGINE_HOST)
        return AC_EINVAL;
    if (ac__in_engine_context())
        return AC_EBUSY;
    return ac__engine_run_once(core->eng);
}

int ac_core_host_mode(const ac_core *core)
{
    return core && ac__engine_mode(core->eng) == ENGINE_HOST;
}

const char *ac_core_config_path(const ac_core *core) { return core ? core->config_path : NULL; }
const char *ac_core_default_provider(const ac_core *core)
{
    return core ? core->default_provider : NULL;
}

ac_status ac_core_plugin_report(ac_core *core, char **out, ac_error *err)
{
    if (!core || !out) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_NONE, "NULL argument");
        return AC_EINVAL;
    }
    pthread_mutex_lock(&core->mu);
    size_t n = 128;
    for (size_t i = 0; i < core->plugins.n_report; i++)
        n += strlen(core->plugins.report[i]) + 1;
    char *s = malloc(n + strlen(core->config_path ? core->config_path : "") + 64);
    if (s) {
        size_t off = (size_t)sprintf(s, "config: %s\n",
                                     core->config_path ? core->config_path : "(none: built-in defaults)");
        for (size_t i = 0; i < core->plugins.n_report; i++)
            off += (size_t)sprintf(s + off, "%s\n", core->plugins.report[i]);
    }
    pthread_mutex_unlock(&core->mu);
    if (!s) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_NONE, "out of memory");
        return AC_ENOMEM;
    }
    *out = s;
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* LLM handles                                                         */
/* ------------------------------------------------------------------ */

void ac__llm_ref(ac_llm *l) { atomic_fetch_add(&l->refs, 1); }

void ac__llm_unref(ac_llm *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    if (l->own_inited && l->own_state && l->vt->fini)
        l->vt->fini(l->own_state);
    ac__settings_free(l->own_settings);
    ac__free(l->model);
    ac__core_unref(l->core);
    ac__free(l);
}

void ac_llm_free(ac_llm *llm) { ac__llm_unref(llm); }
const ac_settings *ac__llm_settings(const ac_llm *l)
{
    return l->own_settings ? l->own_settings : l->inst->settings;
}

const char *ac_llm_provider(const ac_llm *llm) { return llm ? llm->inst->name : ""; }
const char *ac_llm_model(const ac_llm *llm) { return llm ? llm->model : ""; }

/* The instance for a name: configured, or made now for a drop-in plugin
 * used by its own name.  Called with core->mu held. */
static instance *instance_for(ac_core *c, const char *name, ac_error *err)
{
    instance *in = instance_find(c, name);
    if (in)
        return in;
    const plugin *pl = ac__plugins_find(&c->plugins, name);
    if (!pl && ac__plugins_refusal(&c->plugins, name)) {
        ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "no provider named '%s', and its plugin "
                      "was found but refused: %s", name, ac__plugins_refusal(&c->plugins, name));
        return NULL;
    }
    if (!pl) {
        char known[256] = "";
        size_t off = 0;
        for (size_t i = 0; i < c->n_inst && off < sizeof known - 64; i++)
            off += (size_t)snprintf(known + off, sizeof known - off, "%s%s", off ? ", " : "",
                                    c->inst[i]->name);
        for (size_t i = 0; i < c->plugins.n && off < sizeof known - 64; i++)
            if (!instance_find(c, c->plugins.items[i]->vt.name))
                off += (size_t)snprintf(known + off, sizeof known - off, "%s%s",
                                        off ? ", " : "", c->plugins.items[i]->vt.name);
        ac__error_set(err, AC_ENOPROVIDER, AC_STAGE_CONFIG,
                  "no provider or plugin named '%s' (available: %s)", name,
                  off ? known : "none; see `acore plugins`");
        return NULL;
    }
    in = instance_new(c, name, pl, NULL);
    if (!in || instances_add(c, in)) {
        instance_free(in);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return NULL;
    }
    instance_init(in);
    return in;
}

ac_llm *ac_llm_create(ac_core *core, const char *provider, const char *model,
                      const ac_options *opts, ac_error *err)
{
    if (!core) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_CONFIG, "core is NULL");
        return NULL;
    }
    if (atomic_load(&core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        return NULL;
    }
    if (!provider)
        provider = core->default_provider;
    if (!provider || !*provider) {
        ac__error_set(err, AC_ENOPROVIDER, AC_STAGE_CONFIG,
                  "no provider given and no abstractcore.default_provider in the config");
        return NULL;
    }
    pthread_mutex_lock(&core->mu);
    instance *in = instance_for(core, provider, err);
    pthread_mutex_unlock(&core->mu);
    if (!in) {
        ac__error_set_provider(err, provider);
        return NULL;
    }
    if (!in->pl) {
        if (err)
            *err = in->err;
        return NULL;
    }
    ac_llm *l = ac__calloc(1, sizeof *l);
    if (!l) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return NULL;
    }
    atomic_init(&l->refs, 1);
    l->inst = in;
    l->vt = &in->pl->vt;
    l->lim = in->lim;
    const ac_settings *s = in->settings;
    if (opts && opts->n) {
        /* Overrides make a plugin state of this LLM's own. */
        l->own_settings = ac__settings_new(in->name, in->settings->group, core->config_path, opts,
                                           l->vt);
        if (!l->own_settings) {
            ac__free(l);
            ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
            return NULL;
        }
        ac_error e;
        ac_call call;
        ac__call_init(&call, in->name, l->own_settings, NULL);
        ac_status st = l->vt->init(l->own_settings, &l->own_state, &call);
        if (ac__call_error(&call, st, "init", &e) != AC_OK) {
            if (err)
                *err = e;
            ac__settings_free(l->own_settings);
            ac__free(l);
            return NULL;
        }
        l->own_inited = 1;
        l->state = l->own_state;
        ac__limits_read(l->own_settings, &in->lim, &l->lim);
        s = l->own_settings;
    } else if (in->status != AC_OK) {
        if (err)
            *err = in->err;
        ac__free(l);
        return NULL;
    } else {
        l->state = in->state;
    }
    ac_error coerr;
    if (ac__chatopts_read(s, &l->co, &coerr) != AC_OK) {
        if (l->own_inited && l->vt->fini)
            l->vt->fini(l->own_state);
        ac__settings_free(l->own_settings);
        ac__free(l);
        if (err)
            *err = coerr;
        ac__error_set_provider(err, in->name);
        return NULL;
    }
    const char *m = model;
    if (!m && ac__settings_string(s, "default_model", &m) != 1)
        m = NULL;
    if (!m)
        m = l->vt->default_model ? l->vt->default_model : "";
    l->model = ac__strdup(m);
    if (!l->model) {
        if (l->own_inited && l->vt->fini)
            l->vt->fini(l->own_state);
        ac__settings_free(l->own_settings);
        ac__free(l);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return NULL;
    }
    ac__core_ref(core);
    l->core = core;
    return l;
}
