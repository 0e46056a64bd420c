/*
 * plugin.c -- plugin discovery and the ABI checks.  See plugin.h.
 *
 * Versioning follows GStreamer and OBS: abi_major must match, abi_minor may
 * not exceed ours, and the descriptor is copied by its own struct_size into
 * a zeroed one so members the plugin does not know read as NULL.
 */
#include "plugin.h"
#include "alloc.h"
#include "error.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>

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

/* Minimum descriptor: everything up to and including parse_event. */
#define MIN_DESCRIPTOR_SIZE (offsetof(ac_provider, parse_event) + sizeof(void *))

static ac_status plugin_check(const ac_provider *d, const char *path, ac_error *err)
{
    if (d->struct_size < MIN_DESCRIPTOR_SIZE)
        return ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN,
                         "plugin %s: descriptor too small (%zu bytes)", path, d->struct_size),
               AC_EPLUGIN;
    if (d->abi_major != AC_ABI_MAJOR)
        return ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN,
                         "plugin %s: ABI major version %u, but this core speaks %u",
                         path, d->abi_major, AC_ABI_MAJOR),
               AC_EPLUGIN;
    if (d->abi_minor > AC_ABI_MINOR)
        return ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN,
                         "plugin %s: needs ABI %u.%u, this core has %u.%u (upgrade abstractcore)",
                         path, d->abi_major, d->abi_minor, AC_ABI_MAJOR, AC_ABI_MINOR),
               AC_EPLUGIN;
    if (!d->name || !*d->name || strlen(d->name) >= AC_ERROR_PROVIDER_MAX)
        return ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin %s: missing or bad name", path),
               AC_EPLUGIN;
    if (!d->init)
        return ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin %s: no init function", path),
               AC_EPLUGIN;
    int http = d->build_request && d->parse_response;
    int local = (d->capabilities & AC_CAP_LOCAL) &&
                d->struct_size >= offsetof(ac_provider, run_local) + sizeof(void *) && d->run_local;
    if (!http && !local)
        return ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN,
                         "plugin %s: needs build_request and parse_response (or run_local)", path),
               AC_EPLUGIN;
    if ((d->capabilities & AC_CAP_STREAMING) && http && !d->parse_event)
        return ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN,
                         "plugin %s: claims streaming but has no parse_event", path),
               AC_EPLUGIN;
    return AC_OK;
}

const plugin *ac__plugins_load_file(plugin_set *ps, const char *path, ac_error *err)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin %s: cannot load: %s", path,
                  why ? why : "unknown error");
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
        ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin %s: no %s symbol (not a plugin)",
                  path, AC_PROVIDER_ENTRY_SYMBOL);
        dlclose(dl);
        return NULL;
    }
    const ac_provider *d = entry(ac__host_api());
    if (!d) {
        ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin %s: %s returned NULL", path,
                  AC_PROVIDER_ENTRY_SYMBOL);
        dlclose(dl);
        return NULL;
    }
    if (plugin_check(d, path, err) != AC_OK) {
        dlclose(dl);
        return NULL;
    }
    const plugin *dup = ac__plugins_find(ps, d->name);
    if (dup) {
        ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "plugin %s: name '%s' already loaded from %s",
                  path, d->name, dup->path);
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
            if (p)
                ac__plugins_note(ps, "plugin %s: loaded %s %s (ABI %u.%u) from %s", p->vt.name,
                             p->vt.name, p->vt.version ? p->vt.version : "?",
                             p->vt.abi_major, p->vt.abi_minor, path);
            else
                ac__plugins_note(ps, "refused: %s", e2.message);
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
    ac__free(ps->items);
    ac__free(ps->report);
    memset(ps, 0, sizeof *ps);
}
