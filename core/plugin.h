/*
 * plugin.h -- finding, loading and checking provider plugins.
 *
 * Every "*.so" in the plugin folders is checked for safe ownership (it and
 * its folder, after following links, writable by their owner only, owned
 * by root or by us), opened
 * with dlopen(RTLD_NOW | RTLD_LOCAL), asked for its descriptor through
 * ac_provider_entry, checked (ABI major equal, minor not newer, a
 * descriptor of at least the required size, required members present) and
 * copied into a zeroed descriptor of the host's size.  A plugin that fails
 * any step is refused with a reason naming its file; the others are
 * unaffected.  The first plugin of a name wins; later ones are refused.
 *
 * Built once at core open, then read-only (safe from any thread); unloaded
 * only when the core is freed, after the last request is done.
 */
#ifndef AC_PLUGIN_H
#define AC_PLUGIN_H
#include <abstractcore/provider.h>

typedef struct plugin {
    char        *path;
    void        *dl;
    ac_provider  vt;     /* the host-sized copy; unknown members NULL */
} plugin;

typedef struct plugin_set {
    /* One allocation per plugin: instances and LLMs keep `const plugin *`
     * (and &pl->vt), which must stay put when a later provider loads
     * another plugin by file and the table grows. */
    plugin **items;
    size_t   n;
    char   **report;     /* one line per plugin found, loaded or refused */
    size_t   n_report;
    char   **refused;    /* path, reason, path, reason, ...: files refused */
    size_t   n_refused;
} plugin_set;

/* The host table handed to every plugin (static, see host.c). */
const ac_host_api *ac__host_api(void);

/* Scan the folders, in order (missing folders are reported, not fatal). */
ac_status ac__plugins_scan(plugin_set *ps, const char *const *dirs, size_t n,
                       ac_error *err);
/* Load one plugin file by path (a provider's `plugin` naming a file).
 * A file already loaded (by the scan or an earlier provider) is the plugin
 * already there.  Returns the plugin (owned by ps; its address is stable
 * until ac__plugins_unload) or NULL with err. */
const plugin *ac__plugins_load_file(plugin_set *ps, const char *path, ac_error *err);
const plugin *ac__plugins_find(const plugin_set *ps, const char *name);
/* Why the file NAME.so was refused by the scan, or NULL if it was not. */
const char   *ac__plugins_refusal(const plugin_set *ps, const char *name);
/* Append a line to the report. */
void ac__plugins_note(plugin_set *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Two report lines for a plugin just loaded: where from, and what it is
 * (description, HTTP or in process, features). */
void ac__plugins_note_loaded(plugin_set *ps, const plugin *p);
void ac__plugins_unload(plugin_set *ps);
#endif
