/*
 * plugin.c -- plugin discovery and the ABI checks.  See plugin.h.
 *
 * Versioning follows GStreamer and OBS: abi_major must match, abi_minor may
 * not exceed ours, and the descriptor is copied by its own struct_size into
 * a zeroed one so members the plugin does not know read as NULL.
 *
 * Before a file is loaded, it and its folder must be writable by no one
 * but their owner, and owned by root or by us: a plugin runs with the
 * program's rights, so whoever can replace it can run code as us (the
 * rule ssh applies to its keys).  Links are followed first: the file and
 * folder checked (and loaded) are the real ones.
 */
#include "plugin.h"
#include "alloc.h"
#include "error.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void ac__plugins_note(plugin_set *ps, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **r = ac__realloc(ps->report, (ps->n_report + 1) * sizeof *r);
    if (!r)
        return;
    ps->report = r;
    if ((ps->report[ps->n_report] = ac__strdup(line)) != NULL)
        ps->n_report++;
}

const plugin *ac__plugins_find(const plugin_set *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->items[i]->vt.name, name) == 0)
            return ps->items[i];
    return NULL;
}

/* Remember why a file was refused, so a provider that names it learns
 * why, instead of "not found". */
static void refused_add(plugin_set *ps, const char *path, const char *why)
{
    char **v = ac__realloc(ps->refused, (ps->n_refused + 1) * 2 * sizeof *v);
    if (!v)
        return;
    ps->refused = v;
    char *p = ac__strdup(path), *w = ac__strdup(why);
    if (!p || !w) {
        ac__free(p);
        ac__free(w);
        return;
    }
    v[2 * ps->n_refused] = p;
    v[2 * ps->n_refused + 1] = w;
    ps->n_refused++;
}

const char *ac__plugins_refusal(const plugin_set *ps, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < ps->n_refused; i++) {
        const char *path = ps->refused[2 * i];
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (strncmp(base, name, n) == 0 && strcmp(base + n, ".so") == 0)
            return ps->refused[2 * i + 1];
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static ac_status refuse(ac_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ac_status refuse(ac_error *err, const char *path, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin %s: %s", path, why);
    return AC_EPLUGIN;
}

/* Writable by no one but its owner, owned by root or by us. */
static int safe_owner(const char *path, const char *what, ac_error *err, const char *file)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return refuse(err, file, "cannot stat %s %s", what, path), 0;
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return refuse(err, file, "%s %s is writable by other users (mode %03o): "
                      "chmod go-w it", what, path, (unsigned)(st.st_mode & 0777)), 0;
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return refuse(err, file, "%s %s belongs to another user (uid %u), who could "
                      "replace it", what, path, (unsigned)st.st_uid), 0;
    return 1;
}

/* Checks the file where it really is, and gives that path (PATH_MAX bytes
 * at real) for dlopen: a link in a safe folder to a file in a folder
 * others can write is as replaceable as that file, and what is loaded
 * must be what was checked. */
static int path_safe(const char *path, char *real, ac_error *err)
{
    if (!realpath(path, real))
        return refuse(err, path, "cannot resolve the file %s: %s", path, strerror(errno)), 0;
    if (!safe_owner(real, "the file", err, path))
        return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", real);
    char *slash = strrchr(dir, '/'); /* real is absolute: there is one */
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    return safe_owner(dir, "its folder", err, path);
}

/* The smallest descriptor that has every REQUIRED member: up to init. */
#define MIN_DESCRIPTOR_SIZE (offsetof(ac_provider, init) + sizeof(void *))

/* Most settings a plugin may declare. */
#define MAX_SETTINGS 256

static int has(const ac_provider *d, size_t off)
{
    return d->struct_size >= off + sizeof(void *);
}

static ac_status plugin_check(const ac_provider *d, const char *path, ac_error *err)
{
    /* struct_size, abi_major and abi_minor are where every ABI put them. */
    if (d->abi_major != AC_ABI_MAJOR)
        return refuse(err, path, "ABI major version %u, but this core speaks %u (rebuild the "
                      "plugin against this core's SDK)", d->abi_major, AC_ABI_MAJOR);
    if (d->abi_minor > AC_ABI_MINOR)
        return refuse(err, path, "needs ABI %u.%u, this core has %u.%u (upgrade abstractcore)",
                      d->abi_major, d->abi_minor, AC_ABI_MAJOR, AC_ABI_MINOR);
    if (d->struct_size < MIN_DESCRIPTOR_SIZE)
        return refuse(err, path, "descriptor too small (%zu bytes; at least %zu): truncated or "
                      "not a descriptor", d->struct_size, (size_t)MIN_DESCRIPTOR_SIZE);
    if (!d->name || !*d->name || strlen(d->name) >= AC_ERROR_PROVIDER_MAX ||
        strcspn(d->name, "/ \t\n") != strlen(d->name))
        return refuse(err, path, "missing or bad name");
    if (!d->version)
        return refuse(err, path, "no version string");
    if (!d->init)
        return refuse(err, path, "no init function");
    int http = has(d, offsetof(ac_provider, parse_response)) && d->build_request &&
               d->parse_response;
    int local = has(d, offsetof(ac_provider, run_local)) && d->run_local;
    /* ABI 2.1: a plugin may only make embeddings (a TEI server, a local
     * sentence encoder); chat on it fails with AC_EUNSUPPORTED. */
    int embed = has(d, offsetof(ac_provider, run_embed)) &&
                (d->run_embed || (d->build_embed_request && d->parse_embed_response));
    if (!http && !local && !embed)
        return refuse(err, path, "needs build_request and parse_response (an HTTP backend), "
                      "run_local (an in-process one) or embeddings");
    if (has(d, offsetof(ac_provider, parse_models)) &&
        !d->build_models_request != !d->parse_models)
        return refuse(err, path, "sets one of build_models_request and parse_models, not both");
    /* ABI 2.1: embeddings over HTTP take both members. */
    if (has(d, offsetof(ac_provider, parse_embed_response)) &&
        !d->build_embed_request != !d->parse_embed_response)
        return refuse(err, path, "sets one of build_embed_request and parse_embed_response, "
                      "not both");
    if (has(d, offsetof(ac_provider, parse_count_response)) &&
        !d->build_count_request != !d->parse_count_response)
        return refuse(err, path, "sets one of build_count_request and parse_count_response, "
                      "not both");
    /* ABI 2.1: the settings it reads.  Read with a bound, so a list that
     * was never terminated is refused instead of read past its end. */
    if (has(d, offsetof(ac_provider, settings)) && d->settings) {
        size_t i;
        for (i = 0; i < MAX_SETTINGS && d->settings[i]; i++)
            if (!*d->settings[i] || strnlen(d->settings[i], 64) >= 64)
                return refuse(err, path, "settings[%zu] is an empty or overlong name", i);
        if (i == MAX_SETTINGS)
            return refuse(err, path, "settings lists %d names or more: not NULL-terminated?",
                          MAX_SETTINGS);
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

const plugin *ac__plugins_load_file(plugin_set *ps, const char *path, ac_error *err)
{
    char real[PATH_MAX];
    if (!path_safe(path, real, err))
        return NULL;
    void *dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        refuse(err, path, "cannot load: %s", why ? why : "unknown error");
        return NULL;
    }
    /* The same file again (two providers naming it, or one naming a plugin
     * the scan found): the loader hands back the handle it already has, so
     * it is the plugin we have, not a name clash. */
    for (size_t i = 0; i < ps->n; i++)
        if (ps->items[i]->dl == dl) {
            dlclose(dl); /* drops only the reference this dlopen added */
            return ps->items[i];
        }
    ac_provider_entry_fn entry;
    *(void **)&entry = dlsym(dl, AC_PROVIDER_ENTRY_SYMBOL);
    if (!entry) {
        refuse(err, path, "no %s symbol (not a plugin)", AC_PROVIDER_ENTRY_SYMBOL);
        dlclose(dl);
        return NULL;
    }
    const ac_provider *d = entry(ac__host_api());
    if (!d) {
        refuse(err, path, "its %s returned NULL (it cannot run in this process; its log line, "
               "if any, says why)", AC_PROVIDER_ENTRY_SYMBOL);
        dlclose(dl);
        return NULL;
    }
    if (plugin_check(d, path, err) != AC_OK) {
        dlclose(dl);
        return NULL;
    }
    const plugin *dup = ac__plugins_find(ps, d->name);
    if (dup) {
        refuse(err, path, "name '%s' already loaded from %s", d->name, dup->path);
        dlclose(dl);
        return NULL;
    }
    plugin *p = ac__calloc(1, sizeof *p);
    plugin **items = p ? ac__realloc(ps->items, (ps->n + 1) * sizeof *items) : NULL;
    if (items)
        ps->items = items;
    if (!p || !items || !(p->path = ac__strdup(path))) {
        ac__free(p);
        dlclose(dl);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_PLUGIN, "out of memory loading %s", path);
        return NULL;
    }
    p->dl = dl;
    size_t n = d->struct_size < sizeof p->vt ? d->struct_size : sizeof p->vt;
    memcpy(&p->vt, d, n);
    p->vt.struct_size = n;
    ps->items[ps->n++] = p;
    return p;
}

/* "plugin NAME: DESCRIPTION (features: tools, images)": what `acore
 * plugins` shows a user choosing a backend. */
void ac__plugins_note_loaded(plugin_set *ps, const plugin *p)
{
    ac__plugins_note(ps, "plugin %s: loaded %s %s (ABI %u.%u) from %s", p->vt.name, p->vt.name,
                     p->vt.version, p->vt.abi_major, p->vt.abi_minor, p->path);
    static const struct { unsigned bit; const char *name; } names[] = {
        { AC_FEATURE_TOOLS, "tools" }, { AC_FEATURE_JSON_SCHEMA, "json_schema" },
        { AC_FEATURE_IMAGES, "images" }, { AC_FEATURE_FILES, "files" },
    };
    char feats[128] = "";
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (p->vt.features & names[i].bit)
            n += (size_t)snprintf(feats + n, sizeof feats - n, "%s%s", n ? ", " : "",
                                  names[i].name);
    /* ABI 2.1: embeddings are a set of members, not a feature bit. */
    if (p->vt.run_embed || (p->vt.build_embed_request && p->vt.parse_embed_response))
        n += (size_t)snprintf(feats + n, sizeof feats - n, "%sembeddings", n ? ", " : "");
    const char *d = p->vt.description && *p->vt.description ? p->vt.description
                                                             : "(no description)";
    ac__plugins_note(ps, "plugin %s: %s (%s; features: %s)", p->vt.name, d,
                     p->vt.run_local || p->vt.run_embed ? "in process" : "HTTP",
                     n ? feats : "none");
}

static int has_so_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ac_status ac__plugins_scan(plugin_set *ps, const char *const *dirs, size_t n, ac_error *err)
{
    (void)err;
    for (size_t i = 0; i < n; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) {
            ac__plugins_note(ps, "folder %s: not readable, skipped", dirs[i]);
            continue;
        }
        /* Sorted, so which plugin wins a name clash does not depend on the
         * file system's order. */
        char **names = NULL;
        size_t nn = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!has_so_suffix(e->d_name))
                continue;
            char **nv = ac__realloc(names, (nn + 1) * sizeof *nv);
            if (!nv)
                break;
            names = nv;
            if ((names[nn] = ac__strdup(e->d_name)) != NULL)
                nn++;
        }
        closedir(d);
        if (nn)
            qsort(names, nn, sizeof *names, cmp_str);
        for (size_t j = 0; j < nn; j++) {
            char *path = ac__asprintf("%s/%s", dirs[i], names[j]);
            ac__free(names[j]);
            if (!path)
                continue;
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                ac__free(path);
                continue;
            }
            ac_error e2;
            ac_error_clear(&e2);
            const plugin *p = ac__plugins_load_file(ps, path, &e2);
            if (p) {
                ac__plugins_note_loaded(ps, p);
            } else {
                ac__plugins_note(ps, "refused: %s", e2.message);
                refused_add(ps, path, e2.message);
            }
            ac__free(path);
        }
        ac__free(names);
    }
    return AC_OK;
}

void ac__plugins_unload(plugin_set *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        /* Under valgrind or ASan, keep the code mapped so leak reports can
         * name plugin frames. */
        if (ps->items[i]->dl && !getenv("AC_NO_DLCLOSE"))
            dlclose(ps->items[i]->dl);
        ac__free(ps->items[i]->path);
        ac__free(ps->items[i]);
    }
    for (size_t i = 0; i < ps->n_report; i++)
        ac__free(ps->report[i]);
    for (size_t i = 0; i < 2 * ps->n_refused; i++)
        ac__free(ps->refused[i]);
    ac__free(ps->items);
    ac__free(ps->report);
    ac__free(ps->refused);
    memset(ps, 0, sizeof *ps);
}
