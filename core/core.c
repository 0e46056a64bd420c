/*
 * core.c -- opening a core (config search, plugins, provider instances,
 * engine), closing it, creating LLM handles, and checking a config file
 * without opening a core (ac_core_check_config).
 *
 * A broken provider never fails the open: its instance keeps the error
 * (a missing plugin, a wrong key or value in its group: confcheck.c),
 * which ac_llm_create returns and ac_core_plugin_report lists.  Only an
 * unreadable or malformed config file, or a wrong key or value at the top
 * level or in the abstractcore and engine groups, fails it, naming file
 * and line.
 */
#include "core.h"
#include "confcheck.h"
#include "keys.h"
#include "prompted.h"
#include "hook.h"
#include "trace.h"
#include "alloc.h"
#include "log.h"
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

/* A provider's integer setting into *out, within its range in the keys
 * table.  The value was checked when the config was loaded (and the
 * options when the llm was made), so a value that does not fit cannot
 * reach here; if one did, the default stays. */
static void read_long(const ac_settings *s, const char *key, long *out)
{
    long long v, min, max;
    ac__key_range(KS_PROVIDER, key, &min, &max);
    if (ac__settings_int_quiet(s, key, &v) == 1 && v >= min && v <= max)
        *out = (long)v;
}

const char *ac__instance_model_map(const instance *in, const char *from)
{
    int n = ac__settings_list_count(in->settings, "model_map");
    const char *one = NULL;
    if (n < 0 && ac__settings_string(in->settings, "model_map", &one) == 1)
        n = 1; /* one mapping, as a plain string */
    const char *any = NULL;
    size_t fl = strlen(from);
    for (int i = 0; i < n; i++) {
        const char *m = one ? one : ac__settings_list_item(in->settings, "model_map", i);
        const char *eq = m ? strchr(m, '=') : NULL;
        if (!eq || !eq[1])
            continue;
        if ((size_t)(eq - m) == fl && strncmp(m, from, fl) == 0)
            return eq + 1;
        if (eq - m == 1 && m[0] == '*' && !any)
            any = eq + 1;
    }
    return any;
}

void ac__limits_read(const ac_settings *s, const limits *base, limits *lim)
{
    *lim = *base;
    read_long(s, "connect_timeout_ms", &lim->connect_ms);
    read_long(s, "first_byte_timeout_ms", &lim->first_byte_ms);
    read_long(s, "idle_timeout_ms", &lim->idle_ms);
    read_long(s, "timeout_ms", &lim->total_ms);
    long r = lim->max_retries;
    read_long(s, "max_retries", &r);
    lim->max_retries = (int)r;
    long m = (long)lim->max_response_bytes;
    read_long(s, "max_response_bytes", &m);
    lim->max_response_bytes = (size_t)m;
    int b;
    if (ac__settings_bool(s, "retry_on_timeout", &b) == 1)
        lim->retry_timeouts = b;
    long f = lim->circuit_failures;
    read_long(s, "circuit_failures", &f);
    lim->circuit_failures = (int)f;
    read_long(s, "circuit_cooldown_ms", &lim->circuit_cooldown_ms);
    read_long(s, "rpm", &lim->rpm);
    read_long(s, "tpm", &lim->tpm);
    read_long(s, "max_idle_events", &lim->max_idle_events);
    read_long(s, "max_idle_bytes", &lim->max_idle_bytes);
}

ac_status ac__tls_read(const ac_settings *s, tlsopts *t, ac_error *err)
{
    memset(t, 0, sizeof *t);
    t->verify = 1;
    int b;
    if (ac__settings_bool(s, "tls_verify", &b) == 1)
        t->verify = b;
    const char *v;
    if (ac__settings_string(s, "ca_bundle", &v) == 1)
        t->ca_bundle = v;
    if (ac__settings_string(s, "client_cert", &v) == 1)
        t->client_cert = v;
    if (ac__settings_string(s, "client_key", &v) == 1)
        t->client_key = v;
    if (ac__settings_string(s, "client_key_password", &v) == 1)
        t->client_key_password = v;
    /* The file's group was checked at load; options may still pair a key
     * with no certificate, which TLS would ignore without a word. */
    if (!t->client_cert && (t->client_key || t->client_key_password)) {
        ac__error_set(err, AC_ECONFIG, AC_STAGE_CONFIG, "provider '%s': '%s' is set but "
                      "'client_cert' is not", ac__settings_name(s),
                      t->client_key ? "client_key" : "client_key_password");
        return AC_ECONFIG;
    }
    return AC_OK;
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
    return ac__config_where(s, c->config_path);
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
    if (in->inited_br)
        ac__breakers_destroy(&in->br);
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
    ac__breakers_init(&in->br, in->lim.circuit_failures, in->lim.circuit_cooldown_ms);
    ac__ratelimit_init(&in->rl, in->lim.rpm, in->lim.tpm);
    in->inited_br = 1;
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

/* The name of provider group #i (1-based) g, or NULL after saying why
 * it is skipped (say: a report note, or a problem when checking). */
static const char *provider_name(ac_core *c, config_setting_t *g, int i, problems *check)
{
    const char *name = NULL, *why = NULL;
    if (!config_setting_is_group(g))
        why = "not a group { ... }";
    else if (!config_setting_lookup_string(g, "name", &name) || !*name ||
             strlen(name) >= AC_ERROR_PROVIDER_MAX)
        why = "missing or bad 'name' (a string of 1 to 63 bytes)";
    if (why) {
        if (check)
            ac__problem(check, 0, where(c, g), "provider #%d: %s", i, why);
        else
            ac__plugins_note(&c->plugins, "provider #%d (%s): %s, skipped", i, where(c, g), why);
        return NULL;
    }
    return name;
}

/* The plugin of provider `name` (group g), loading it when the group
 * names a file; NULL with why in *perr (AC_EPLUGIN, naming file and
 * line). */
static const plugin *provider_plugin(ac_core *c, config_setting_t *g, const char *name,
                                     ac_error *perr)
{
    const char *plug = NULL;
    if (!config_setting_lookup_string(g, "plugin", &plug))
        plug = name;
    const plugin *pl = NULL;
    ac_error e;
    ac_error_clear(&e);
    ac_error_clear(perr);
    /* A plain name is looked up in the plugin path; only an absolute
     * path names a file, so a relative path or ".." cannot make the
     * program load something from wherever it happens to run. */
    if (plug[0] == '/') {
        size_t before = c->plugins.n;
        pl = ac__plugins_load_file(&c->plugins, plug, &e);
        if (pl && c->plugins.n > before)
            ac__plugins_note_loaded(&c->plugins, pl);
    } else if (strchr(plug, '/') || strstr(plug, ".."))
        ac__error_set(&e, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin '%s' is neither a plugin "
                      "name (looked up in the plugin path) nor an absolute path", plug);
    else if (!(pl = ac__plugins_find(&c->plugins, plug)) &&
             ac__plugins_refusal(&c->plugins, plug))
        ac__error_set(&e, AC_EPLUGIN, AC_STAGE_PLUGIN, "found but refused: %s",
                      ac__plugins_refusal(&c->plugins, plug));
    if (pl)
        return pl;
    if (e.code != AC_OK)
        ac__error_set(perr, AC_EPLUGIN, AC_STAGE_PLUGIN, "%s: provider '%s': %s", where(c, g),
                      name, e.message);
    else
        ac__error_set(perr, AC_EPLUGIN, AC_STAGE_PLUGIN, "%s: provider '%s': plugin '%s' not "
                      "found in the plugin path (see `acore plugins`)", where(c, g), name, plug);
    ac__error_set_provider(perr, name);
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
        const char *name = provider_name(c, g, i + 1, NULL);
        if (!name)
            continue;
        if (instance_find(c, name)) {
            ac__plugins_note(&c->plugins, "provider %s (%s): duplicate name, skipped", name,
                         where(c, g));
            continue;
        }
        ac_error perr;
        const plugin *pl = provider_plugin(c, g, name, &perr);
        /* Its keys, before its plugin runs: a typo must not reach a
         * backend (base_ulr would send the key to the default host). */
        problems pr;
        memset(&pr, 0, sizeof pr);
        pr.notes = &c->plugins;
        ac__confcheck_provider(g, c->config_path, name, pl ? &pl->vt : NULL, &pr);
        instance *in = instance_new(c, name, pl, g);
        if (!in || instances_add(c, in)) {
            instance_free(in);
            return ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory"), AC_ENOMEM;
        }
        if (!pl) {
            in->status = AC_EPLUGIN;
            in->err = perr;
        } else if (pr.errors) {
            in->status = AC_ECONFIG;
            in->bad_group = 1;
            in->err = pr.first;
            if (pr.errors > 1) {
                size_t n = strlen(in->err.message);
                snprintf(in->err.message + n, sizeof in->err.message - n, " (and %zu more: "
                         "`acore config check` lists them all)", pr.errors - 1);
            }
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
    ac__hook_slot_destroy(&c->hooks);
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
 * as the Node SDK does), 4 workers for in-process models.  The file's
 * values were checked (confcheck.c) and so were the options, against the
 * same table (keys.c). */
static long engine_value(const config_setting_t *grp, const ac_options *opts, const char *key,
                         long dflt)
{
    char full[64];
    snprintf(full, sizeof full, "engine.%s", key);
    const char *ov = NULL;
    for (size_t i = 0; opts && i < opts->n; i++)
        if (strcmp(opts->keys[i], full) == 0)
            ov = opts->values[i];
    long long v, min, max;
    ac__key_range(KS_ENGINE, key, &min, &max);
    if (ov) {
        if (ac__key_parse_int(ov, &v) != 0)
            return dflt;
    } else {
        config_setting_t *s = grp ? config_setting_get_member((config_setting_t *)grp, key)
                                  : NULL;
        int t = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return dflt;
        v = t == CONFIG_TYPE_INT ? config_setting_get_int(s) : config_setting_get_int64(s);
    }
    return v >= min && v <= max ? (long)v : dflt;
}

static void engine_mode_value(const config_setting_t *grp, const ac_options *opts,
                              engine_config *ec)
{
    const char *v = NULL;
    for (size_t i = 0; opts && i < opts->n; i++)
        if (strcmp(opts->keys[i], "engine.mode") == 0)
            v = opts->values[i];
    if (!v && grp) {
        config_setting_t *s = config_setting_get_member((config_setting_t *)grp, "mode");
        if (s && config_setting_type(s) == CONFIG_TYPE_STRING)
            v = config_setting_get_string(s);
    }
    /* "thread", "host": the order of the table's choices. */
    ec->mode = v && ac__key_choice(ac__key_find(KS_ENGINE, "mode"), v) == 1 ? ENGINE_HOST
                                                                            : ENGINE_THREAD;
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
    /* The official SDKs retry a timed-out request (openai-python,
     * anthropic-sdk-python): so do we, and say that it may be billed
     * twice (docs/reliability.md). */
    c->defaults.retry_timeouts = 1;
    c->defaults.circuit_failures = 5;
    c->defaults.circuit_cooldown_ms = 30000;
    c->defaults.max_idle_events = DEFAULT_MAX_IDLE_EVENTS;
    c->defaults.max_idle_bytes = DEFAULT_MAX_IDLE_BYTES;
    ac_status st = ac__confcheck_core_options(opts, err);
    if (st != AC_OK)
        return st;
    const char *dpv = NULL;
    for (size_t i = 0; opts && i < opts->n; i++)
        if (strcmp(opts->keys[i], "default_provider") == 0)
            dpv = opts->values[i];
    config_setting_t *dp = config_lookup(&c->cfg, "abstractcore.default_provider");
    if (!dpv && dp && config_setting_type(dp) == CONFIG_TYPE_STRING)
        dpv = config_setting_get_string(dp);
    if (dpv && !(c->default_provider = ac__strdup(dpv)))
        return AC_ENOMEM;
    config_setting_t *eng = config_lookup(&c->cfg, "abstractcore.engine");
    ec->max_connections = engine_value(eng, opts, "max_connections", 0);
    ec->max_host_connections = engine_value(eng, opts, "max_host_connections", 0);
    ec->max_idle_connections = engine_value(eng, opts, "max_idle_connections", 0);
    c->n_workers = (int)engine_value(eng, opts, "workers", 4);
    c->defaults.max_response_bytes =
        (size_t)engine_value(eng, opts, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES);
    engine_mode_value(eng, opts, ec);
    return AC_OK;
}

/* The top level, abstractcore and abstractcore.engine, checked as a whole:
 * the first error fails the open (saying how many more there are). */
static ac_status check_core_groups(ac_core *c, ac_error *err)
{
    if (!c->config_path)
        return AC_OK;
    problems p;
    memset(&p, 0, sizeof p);
    ac__confcheck_core(&c->cfg, c->config_path, &p);
    if (!p.errors)
        return AC_OK;
    *err = p.first;
    if (p.errors > 1) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, " (and %zu more: `acore config "
                 "check` lists them all)", p.errors - 1);
    }
    return AC_ECONFIG;
}

/* abstractcore.trace = { file = "..."; content = false; }, or the options
 * trace.file / trace.content (which win). */
static ac_status read_trace_settings(ac_core *c, const ac_options *opts, ac_error *err)
{
    const char *file = NULL, *content = NULL;
    for (size_t i = 0; opts && i < opts->n; i++) {
        if (strcmp(opts->keys[i], "trace.file") == 0)
            file = opts->values[i];
        else if (strcmp(opts->keys[i], "trace.content") == 0)
            content = opts->values[i];
    }
    config_setting_t *tr = config_lookup(&c->cfg, "abstractcore.trace");
    if (tr && !config_setting_is_group(tr))
        return bad_type(c, tr, "trace", "a group { file = \"...\"; content = false; }", err);
    int want_content = 0;
    if (tr) {
        config_setting_t *f = config_setting_get_member(tr, "file");
        config_setting_t *ct = config_setting_get_member(tr, "content");
        if (f && config_setting_type(f) != CONFIG_TYPE_STRING)
            return bad_type(c, f, "trace.file", "a file name (string)", err);
        if (ct && config_setting_type(ct) != CONFIG_TYPE_BOOL)
            return bad_type(c, ct, "trace.content", "true or false", err);
        if (!file && f)
            file = config_setting_get_string(f);
        if (ct)
            want_content = config_setting_get_bool(ct);
    }
    if (content) {
        if (!strcmp(content, "true") || !strcmp(content, "1") || !strcmp(content, "yes"))
            want_content = 1;
        else if (!strcmp(content, "false") || !strcmp(content, "0") || !strcmp(content, "no"))
            want_content = 0;
        else {
            ac__error_set(err, AC_EINVAL, AC_STAGE_CONFIG, "option trace.content: '%s' is not "
                          "true or false", content);
            return AC_EINVAL;
        }
    }
    if (!file || !*file)
        return AC_OK;
    struct trace *t = ac__trace_open(file, want_content, err);
    if (!t)
        return err->code;
    pthread_mutex_lock(&c->hooks.mu);
    c->hooks.trace = t;
    atomic_store(&c->hooks.on, 1);
    pthread_mutex_unlock(&c->hooks.mu);
    return AC_OK;
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
    ac__hook_slot_init(&c->hooks);
    engine_config ec;
    ac_status st = config_find(config_path, &c->config_path, err);
    if (st == AC_OK)
        st = config_load(c, err);
    if (st == AC_OK)
        st = check_core_groups(c, err);
    if (st == AC_OK)
        st = read_engine_settings(c, opts, &ec, err);
    if (st == AC_OK)
        st = read_trace_settings(c, opts, err);
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
        ac__log(AC_LOG_WARN, NULL, "ac_core_close called from a callback; ignored");
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

typedef struct report_buf {
    char   *s;
    size_t *off;
} report_buf;

static void report_line(void *ctx, const char *line)
{
    report_buf *b = ctx;
    *b->off += (size_t)sprintf(b->s + *b->off, "%.255s\n", line);
}

const char *ac_llm_circuit(const ac_llm *llm)
{
    if (!llm)
        return "closed";
    return ac__breaker_state(&llm->inst->br, llm->model);
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
    /* Breakers that are not closed: at most 8 lines of 256 per instance. */
    n += core->n_inst * 8 * 257;
    char *s = malloc(n + strlen(core->config_path ? core->config_path : "") + 64);
    if (s) {
        size_t off = (size_t)sprintf(s, "config: %s\n",
                                     core->config_path ? core->config_path : "(none: built-in defaults)");
        for (size_t i = 0; i < core->plugins.n_report; i++)
            off += (size_t)sprintf(s + off, "%s\n", core->plugins.report[i]);
        report_buf rb = {s, &off};
        for (size_t i = 0; i < core->n_inst; i++)
            if (core->inst[i]->inited_br)
                ac__breaker_report(&core->inst[i]->br, core->inst[i]->name, report_line, &rb);
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
/* Checking a configuration                                            */
/* ------------------------------------------------------------------ */

/* Every provider group of the file, as load_providers reads them, each
 * problem kept; no plugin init runs. */
static void check_providers(ac_core *c, problems *p)
{
    config_setting_t *list = config_lookup(&c->cfg, "providers");
    if (!list || (!config_setting_is_list(list) && !config_setting_is_array(list)))
        return; /* absent, or reported by ac__confcheck_core */
    for (int i = 0; i < config_setting_length(list); i++) {
        config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        const char *name = provider_name(c, g, i + 1, p);
        if (!name)
            continue;
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) {
            const char *other = NULL;
            config_setting_t *h = config_setting_get_elem(list, (unsigned)j);
            dup = config_setting_is_group(h) && config_setting_lookup_string(h, "name", &other) &&
                  strcmp(other, name) == 0;
        }
        if (dup) {
            ac__problem(p, 0, where(c, g), "provider '%s': duplicate name (an earlier group "
                        "has it)", name);
            continue;
        }
        ac_error perr;
        const plugin *pl = provider_plugin(c, g, name, &perr);
        if (!pl)
            ac__problem(p, 0, "", "%s", perr.message); /* names file and line already */
        ac__confcheck_provider(g, c->config_path, name, pl ? &pl->vt : NULL, p);
    }
}

/* The problems as text: "FILE:LINE: message" (a warning's message starts
 * with "warning: "), one per line. */
static char *problems_text(const problems *p)
{
    size_t n = 1;
    for (size_t i = 0; i < p->n; i++)
        n += strlen(p->items[i].where) + strlen(p->items[i].text) + 16;
    char *s = malloc(n); /* the caller frees it with ac_free */
    if (!s)
        return NULL;
    size_t off = 0;
    s[0] = '\0';
    for (size_t i = 0; i < p->n; i++)
        off += (size_t)snprintf(s + off, n - off, "%s%s%s%s\n", p->items[i].where,
                                *p->items[i].where ? ": " : "",
                                p->items[i].warning ? "warning: " : "", p->items[i].text);
    return s;
}

ac_status ac_core_check_config(const char *config_path, char **report, ac_error *err)
{
    if (!report) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_CONFIG, "report is NULL");
        return AC_EINVAL;
    }
    *report = NULL;
    ac_core *c = ac__calloc(1, sizeof *c);
    if (!c) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
        return AC_ENOMEM;
    }
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    problems p;
    memset(&p, 0, sizeof p);
    p.collect = 1;
    ac_error e;
    ac_error_clear(&e);
    ac_status st = config_find(config_path, &c->config_path, &e);
    if (st == AC_OK && c->config_path)
        st = config_load(c, &e);
    if (st == AC_ECONFIG) {
        ac__problem(&p, 0, "", "%s", e.message); /* names file and line already */
        st = AC_OK;
    } else if (st == AC_OK && c->config_path) {
        ac__confcheck_core(&c->cfg, c->config_path, &p);
        /* The plugins are loaded (dlopen and the descriptor, no init) to
         * learn the settings each one reads.  A plugin_path of the wrong
         * type is a problem already listed: look no further. */
        if (load_plugins(c, &e) == AC_ENOMEM)
            st = AC_ENOMEM;
        else
            check_providers(c, &p);
    }
    char *text = st == AC_OK && !p.nomem ? problems_text(&p) : NULL;
    if (!text) {
        st = AC_ENOMEM;
        ac__error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    } else if (p.errors) {
        st = AC_ECONFIG;
        if (err)
            *err = p.first;
    }
    ac__problems_free(&p);
    core_destroy(c);
    *report = text;
    return st;
}

const char *ac_core_provider_setting(size_t i)
{
    size_t n, seen = 0;
    const keydef *k = ac__keys(&n);
    for (size_t j = 0; j < n; j++)
        if (k[j].scope == KS_PROVIDER && seen++ == i)
            return k[j].name;
    return NULL;
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
    if (!in->pl || in->bad_group) {
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
        ac_error oerr;
        if (ac__confcheck_options(opts, in->name, l->vt, &oerr) != AC_OK) {
            ac__free(l);
            if (err)
                *err = oerr;
            ac__error_set_provider(err, in->name);
            return NULL;
        }
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
    if (ac__chatopts_read(s, &l->co, &coerr) != AC_OK ||
        ac__tls_read(s, &l->tls, &coerr) != AC_OK ||
        ac__media_limits_read(s, l->vt, &l->media, &coerr) != AC_OK) {
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
