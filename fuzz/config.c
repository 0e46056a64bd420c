/*
 * config.c -- fuzz target: opening a core on a fuzzed configuration file
 * (ac_core_open: libconfig's parser, then the core's reading of the
 * abstractcore group, the engine settings and the provider list), then
 * what a program does next (the plugin report, an LLM by name).
 *
 * The fuzzer must not make the core load code or read files it chose:
 *   - an input naming "plugin" (plugin_path, or a provider's plugin, which
 *     may be an absolute path) or holding "@" (libconfig's @include) is
 *     skipped;
 *   - every "abstractcore = {" of the input gets "plugin_path = [ ];"
 *     inserted, and an input with none gets a group holding only that
 *     appended, so no folder is scanned for plugins (the default folder
 *     included: `make fuzz` builds the core with a plugin folder that does
 *     not exist, for an input whose only "abstractcore = {" is in a
 *     comment);
 *   - $ABSTRACTCORE_PLUGIN_PATH is unset.
 * Providers therefore all fail to find their plugin, which the core keeps
 * as each instance's error: that path is exercised, plugins' init is not.
 *
 * Checked besides "no crash, no leak": a failed open fills the error,
 * in one line.
 */
#include "fuzz.h"

#include <abstractcore/abstractcore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *cfg_path;

static int config_init(const char *plugin)
{
    (void)plugin;
    unsetenv("ABSTRACTCORE_PLUGIN_PATH");
    cfg_path = fuzz_temp_file("config");
    return cfg_path ? 0 : -1;
}

static void config_fini(void)
{
    fuzz_temp_remove(cfg_path);
    cfg_path = NULL;
}

static int has(const uint8_t *d, size_t n, const char *what)
{
    return memmem(d, n, what, strlen(what)) != NULL;
}

static int space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* The input with " plugin_path = [ ]; " after every "abstractcore" [ws]
 * ("=" or ":") [ws] "{", or with a group appended when there is none.
 * malloc'd, *out_n bytes. */
static char *guarded(const uint8_t *d, size_t n, size_t *out_n)
{
    static const char key[] = "abstractcore", ins[] = " plugin_path = [ ]; ",
                      tail[] = "\nabstractcore = { plugin_path = [ ]; };\n";
    size_t hits = 0;
    for (const uint8_t *p = d; (p = memmem(p, n - (size_t)(p - d), key, sizeof key - 1));
         p += sizeof key - 1)
        hits++;
    char *out = malloc(n + hits * (sizeof ins - 1) + sizeof tail);
    if (!out)
        return NULL;
    size_t o = 0, i = 0, inserted = 0;
    while (i < n) {
        out[o++] = (char)d[i++];
        if (i < sizeof key - 1 || memcmp(d + i - (sizeof key - 1), key, sizeof key - 1) != 0)
            continue;
        size_t j = i;
        while (j < n && space(d[j]))
            j++;
        if (j >= n || (d[j] != '=' && d[j] != ':'))
            continue;
        j++;
        while (j < n && space(d[j]))
            j++;
        if (j >= n || d[j] != '{')
            continue;
        j++;
        memcpy(out + o, d + i, j - i);
        o += j - i;
        i = j;
        memcpy(out + o, ins, sizeof ins - 1);
        o += sizeof ins - 1;
        inserted++;
    }
    if (!inserted) {
        memcpy(out + o, tail, sizeof tail - 1);
        o += sizeof tail - 1;
    }
    *out_n = o;
    return out;
}

static int config_run(const uint8_t *data, size_t size)
{
    if (has(data, size, "plugin") || memchr(data, '@', size))
        return 0;
    size_t n;
    char *text = guarded(data, size, &n);
    if (!text || fuzz_write_file(cfg_path, text, n) != 0) {
        free(text);
        return 0;
    }
    free(text);
    ac_core *core = NULL;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac_core_open(&core, cfg_path, &err);
    if (st != AC_OK) {
        FUZZ_CHECK(err.code == st && err.message[0] != '\0' && fuzz_one_line(err.message));
        return 0;
    }
    char *report = NULL;
    if (ac_core_plugin_report(core, &report, &err) == AC_OK)
        FUZZ_CHECK(report != NULL);
    ac_free(report);
    const char *names[] = {NULL, "openai", "p", "local"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ac_llm *llm = ac_llm_create(core, names[i], NULL, NULL, &err);
        if (!llm)
            FUZZ_CHECK(err.code != AC_OK && err.message[0] != '\0');
        ac_llm_free(llm);
    }
    ac_core_close(core);
    return 0;
}

const fuzz_target fuzz_config = {"config", config_init, config_run, config_fini};
