/*
 * test_loader.c -- the plugin loader's refusal rules, as a user sees them:
 * the lines of ac_core_plugin_report (what `acore plugins` prints) and the
 * error ac_llm_create returns for a provider whose plugin was refused.
 *
 * Each test copies the test plugins it needs (tests/plugins/<name>.c,
 * built into tests/plugins/.libs) into a folder of its own made with
 * mkdtemp, writes its config there, and removes the folder at the end, so
 * modes and owners can be changed freely and no test sees another's files.
 * test_config.c covers the ABI version checks and a missing entry symbol;
 * this covers the rest: descriptor size, an entry that returns NULL, a
 * missing symbol, init failures, unsafe files and folders, relative
 * plugin values, "found but refused" and name clashes.
 */
#include "testutil.h"
#include <abstractcore/provider.h>

#include <CUnit/Basic.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLUGIN_BUILD_DIR TEST_BUILDDIR "/tests/plugins/.libs"

/* The refusal of a descriptor one member short of the minimum (truncated.c). */
#define TOO_SMALL_FMT "descriptor too small (%zu bytes; at least %zu): truncated or not a descriptor"
#define TOO_SMALL_ARGS offsetof(ac_provider, init), offsetof(ac_provider, init) + sizeof(void *)
#define NULL_ENTRY_WHY                                                                   \
    "its ac_provider_entry returned NULL (it cannot run in this process; its log line, " \
    "if any, says why)"
#define RELATIVE_FMT                                                                     \
    "%s:%d: provider '%s': plugin '%s' is neither a plugin name (looked up in the plugin " \
    "path) nor an absolute path"

/* ------------------------------------------------------------------ */
/* A temporary folder per test                                          */
/* ------------------------------------------------------------------ */

typedef struct fx {
    char dir[64];      /* /tmp/actest-loader-XXXXXX, mode 0700 */
    char plugins[128]; /* dir/plugins, the plugin_path of the config */
    char conf[128];    /* dir/ac.conf */
} fx;

static void fx_make(fx *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/actest-loader-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f->dir));
    snprintf(f->plugins, sizeof f->plugins, "%s/plugins", f->dir);
    snprintf(f->conf, sizeof f->conf, "%s/ac.conf", f->dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(f->plugins, 0700), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fx_remove(fx *f)
{
    CU_ASSERT_EQUAL(nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Copy tests/plugins/.libs/<so>.so to <dir>/<as> (as NULL: <so>.so) with
 * the given mode; the new path goes to out. */
static void copy_plugin(const char *so, const char *dir, const char *as, mode_t mode,
                        char *out, size_t cap)
{
    char src[1024];
    snprintf(src, sizeof src, "%s/%s.so", PLUGIN_BUILD_DIR, so);
    if (as)
        snprintf(out, cap, "%s/%s", dir, as);
    else
        snprintf(out, cap, "%s/%s.so", dir, so);
    size_t len = 0;
    char *bytes = tu_read_file(src, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, bytes, len), (ssize_t)len);
    close(fd);
    free(bytes);
    CU_ASSERT_EQUAL_FATAL(chmod(out, mode), 0);
}

/* Write f->conf: line 1 sets plugin_path to the folders (a libconfig list
 * body; NULL: f->plugins alone), `rest` follows from line 2.  Then open a
 * core on it. */
static ac_status open_conf(fx *f, const char *folders, const char *rest, ac_core **core,
                           ac_error *err)
{
    FILE *c = fopen(f->conf, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    if (folders)
        fprintf(c, "abstractcore = { plugin_path = [ %s ]; };\n%s", folders, rest ? rest : "");
    else
        fprintf(c, "abstractcore = { plugin_path = [ \"%s\" ]; };\n%s", f->plugins,
                rest ? rest : "");
    fclose(c);
    *core = NULL;
    return ac_core_open(core, f->conf, err);
}

/* Open, or fail this test. */
static ac_core *open_ok(fx *f, const char *folders, const char *rest)
{
    ac_core *core = NULL;
    ac_error err;
    ac_status st = open_conf(f, folders, rest, &core, &err);
    if (st != AC_OK)
        fprintf(stderr, "\n  ac_core_open: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(st, AC_OK);
    return core;
}

/* The plugin report (what `acore plugins` prints); free with ac_free. */
static char *report_of(ac_core *core)
{
    char *r = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_plugin_report(core, &r, &err), AC_OK);
    return r;
}

/* 1 if text has `line` as a whole line; else prints both and returns 0. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    fprintf(stderr, "\n  no line: %s\n  in:\n%s", line, text);
    return 0;
}

/* The line of text that starts with prefix (static copy), or NULL. */
static const char *line_starting(const char *text, const char *prefix)
{
    static char line[1024];
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, n) == 0) {
            size_t len = strcspn(p, "\n");
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            return line;
        }
    fprintf(stderr, "\n  no line starting: %s\n  in:\n%s", prefix, text);
    return NULL;
}

#define ASSERT_LINE(text, line) CU_ASSERT(has_line((text), (line)))

/* TU_ASSERT_STR that shows both strings when they differ. */
#define ASSERT_MSG(got, want)                                                        \
    do {                                                                             \
        const char *g_ = (got), *w_ = (want);                                        \
        if (!g_ || strcmp(g_, w_) != 0)                                              \
            fprintf(stderr, "\n  got:  %s\n  want: %s\n", g_ ? g_ : "(null)", w_);  \
        TU_ASSERT_STR(g_, w_);                                                       \
    } while (0)

/* ac_llm_create must fail; its error goes to err. */
static void create_fails(ac_core *core, const char *provider, const ac_options *o,
                         ac_error *err)
{
    ac_error_clear(err);
    ac_llm *llm = ac_llm_create(core, provider, NULL, o, err);
    CU_ASSERT_PTR_NULL(llm);
    ac_llm_free(llm);
}

/* The provider works: a prompt to it gets `reply`. */
static void replies(ac_core *core, const char *provider, const char *prompt, const char *reply)
{
    ac_error err;
    ac_llm *llm = ac_llm_create(core, provider, NULL, NULL, &err);
    if (!llm)
        fprintf(stderr, "\n  ac_llm_create(%s): %s\n", provider, err.message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    ac_response *r = ac_generate(llm, prompt, NULL, &err);
    if (!r)
        fprintf(stderr, "\n  ac_generate(%s): %s\n", provider, err.message);
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r) {
        TU_ASSERT_STR(ac_response_content(r), reply);
        TU_ASSERT_STR(ac_response_provider(r), provider);
    }
    ac_response_free(r);
    ac_llm_free(llm);
}

/* ------------------------------------------------------------------ */
/* The descriptor and the entry point                                   */
/* ------------------------------------------------------------------ */

static void test_descriptor_too_small(void)
{
    fx f;
    fx_make(&f);
    char tr[256], echo[256], why[256], want[1024], rest[1024];
    copy_plugin("truncated", f.plugins, NULL, 0755, tr, sizeof tr);
    copy_plugin("localecho", f.plugins, NULL, 0755, echo, sizeof echo);
    snprintf(why, sizeof why, TOO_SMALL_FMT, TOO_SMALL_ARGS);
    /* Named by its absolute path, so the file is loaded for the provider
     * itself (not only found by the scan). */
    snprintf(rest, sizeof rest,
             "providers = (\n"
             "  { name = \"t\"; plugin = \"%s\"; },\n"
             "  { name = \"echo\"; plugin = \"localecho\"; }\n"
             ");\n", tr);
    ac_core *core = open_ok(&f, NULL, rest);

    char *report = report_of(core);
    snprintf(want, sizeof want, "refused: plugin %s: %s", tr, why);
    ASSERT_LINE(report, want);
    snprintf(want, sizeof want, "plugin localecho: loaded localecho 1.0 (ABI %d.%d) from %s",
             AC_ABI_MAJOR, AC_ABI_MINOR, echo);
    ASSERT_LINE(report, want);
    snprintf(want, sizeof want, "provider t: unavailable: %s:3: provider 't': plugin %s: %s",
             f.conf, tr, why);
    ASSERT_LINE(report, want);
    ASSERT_LINE(report, "provider echo: ready (plugin localecho)");
    ac_free(report);

    ac_error err;
    create_fails(core, "t", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
    TU_ASSERT_STR(err.provider, "t");
    snprintf(want, sizeof want, "%s:3: provider 't': plugin %s: %s", f.conf, tr, why);
    ASSERT_MSG(err.message, want);
    replies(core, "echo", "still here", "still here");
    ac_core_close(core);
    fx_remove(&f);
}

/* Run ac_core_open with stderr going to a file; what was written there
 * goes to *logged (malloc'd). */
static ac_core *open_logging(fx *f, const char *rest, char **logged)
{
    char log_path[256];
    snprintf(log_path, sizeof log_path, "%s/stderr.log", f->dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    ac_core *core = NULL;
    ac_error err;
    ac_status st = open_conf(f, NULL, rest, &core, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *logged = tu_read_file(log_path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*logged);
    if (st != AC_OK)
        fprintf(stderr, "\n  ac_core_open: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(st, AC_OK);
    return core;
}

static void test_entry_returns_null(void)
{
    fx f;
    fx_make(&f);
    char ne[256], want[1024], *logged = NULL;
    copy_plugin("nullentry", f.plugins, NULL, 0755, ne, sizeof ne);
    const char *rest = "providers = ( { name = \"n\"; plugin = \"nullentry\"; } );\n";
    unsetenv("AC_TEST_NULLENTRY_OK");
    ac_core *core = open_logging(&f, rest, &logged);

    /* Its own line says why, as the refusal says to look for. */
    ASSERT_LINE(logged, "abstractcore: error: nullentry: AC_TEST_NULLENTRY_OK is not set, "
                        "cannot run");
    free(logged);
    char *report = report_of(core);
    snprintf(want, sizeof want, "refused: plugin %s: " NULL_ENTRY_WHY, ne);
    ASSERT_LINE(report, want);
    ac_free(report);
    ac_error err;
    create_fails(core, "n", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
    TU_ASSERT_STR(err.provider, "n");
    snprintf(want, sizeof want, "%s:2: provider 'n': found but refused: plugin %s: " NULL_ENTRY_WHY,
             f.conf, ne);
    ASSERT_MSG(err.message, want);
    ac_core_close(core);

    /* When its check passes, the same file loads and runs: the NULL was
     * the only reason. */
    setenv("AC_TEST_NULLENTRY_OK", "1", 1);
    core = open_logging(&f, rest, &logged);
    CU_ASSERT_PTR_NULL(strstr(logged, "nullentry"));
    free(logged);
    report = report_of(core);
    snprintf(want, sizeof want, "plugin nullentry: loaded nullentry 1.0 (ABI %d.%d) from %s",
             AC_ABI_MAJOR, AC_ABI_MINOR, ne);
    ASSERT_LINE(report, want);
    ASSERT_LINE(report, "provider n: ready (plugin nullentry)");
    ac_free(report);
    replies(core, "n", "anything", "");
    ac_core_close(core);
    unsetenv("AC_TEST_NULLENTRY_OK");
    fx_remove(&f);
}

static void test_undefined_symbol(void)
{
    fx f;
    fx_make(&f);
    char us[256], echo[256], want[1024];
    copy_plugin("undefsym", f.plugins, NULL, 0755, us, sizeof us);
    copy_plugin("localecho", f.plugins, NULL, 0755, echo, sizeof echo);
    ac_core *core = open_ok(&f, NULL,
                            "providers = (\n"
                            "  { name = \"u\"; plugin = \"undefsym\"; },\n"
                            "  { name = \"echo\"; plugin = \"localecho\"; }\n"
                            ");\n");
    char *report = report_of(core);
    /* The loader's words end with dlerror()'s, which name the symbol. */
    snprintf(want, sizeof want, "refused: plugin %s: cannot load: ", us);
    const char *line = line_starting(report, want);
    CU_ASSERT_PTR_NOT_NULL(line);
    if (line)
        CU_ASSERT_PTR_NOT_NULL(strstr(line, "ac_test_symbol_nobody_defines"));
    ASSERT_LINE(report, "provider echo: ready (plugin localecho)");
    ac_free(report);

    ac_error err;
    create_fails(core, "u", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
    TU_ASSERT_STR(err.provider, "u");
    snprintf(want, sizeof want, "%s:3: provider 'u': found but refused: plugin %s: cannot load: ",
             f.conf, us);
    CU_ASSERT_EQUAL(strncmp(err.message, want, strlen(want)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "ac_test_symbol_nobody_defines"));
    /* The other provider is unaffected. */
    replies(core, "echo", "hello world", "hello world");
    ac_core_close(core);
    fx_remove(&f);
}

/* ------------------------------------------------------------------ */
/* init failures                                                        */
/* ------------------------------------------------------------------ */

static void test_init_fails(void)
{
    fx f;
    fx_make(&f);
    char path[256];
    copy_plugin("initfail", f.plugins, NULL, 0755, path, sizeof path);
    /* The plugin loads; its init refuses the settings of two instances. */
    ac_core *core = open_ok(&f, NULL,
                            "providers = (\n"
                            "  { name = \"unset\"; plugin = \"initfail\"; },\n"
                            "  { name = \"fast\"; plugin = \"initfail\"; mode = \"fast\"; },\n"
                            "  { name = \"good\"; plugin = \"initfail\"; mode = \"ok\"; }\n"
                            ");\n");
    const char *unset_msg = "initfail: setting 'mode' is required (the only mode is \"ok\")";
    const char *fast_msg = "initfail: mode 'fast' is not supported (the only mode is \"ok\")";
    char want[1024];
    char *report = report_of(core);
    snprintf(want, sizeof want, "provider unset: unavailable: %s", unset_msg);
    ASSERT_LINE(report, want);
    snprintf(want, sizeof want, "provider fast: unavailable: %s", fast_msg);
    ASSERT_LINE(report, want);
    ASSERT_LINE(report, "provider good: ready (plugin initfail)");
    ac_free(report);

    /* The user gets the plugin's code, stage and words, and the instance. */
    ac_error err;
    create_fails(core, "unset", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_CONFIG);
    TU_ASSERT_STR(err.provider, "unset");
    ASSERT_MSG(err.message, unset_msg);
    create_fails(core, "fast", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    TU_ASSERT_STR(err.provider, "fast");
    ASSERT_MSG(err.message, fast_msg);
    /* Every attempt says the same: the failure is kept, not forgotten. */
    create_fails(core, "fast", NULL, &err);
    ASSERT_MSG(err.message, fast_msg);

    /* Overrides run init again with the new settings: a wrong one fails
     * naming this instance, a right one works. */
    ac_options *o = ac_options_new();
    CU_ASSERT_EQUAL_FATAL(ac_options_set(o, "mode", "slow"), AC_OK);
    create_fails(core, "unset", o, &err);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    TU_ASSERT_STR(err.provider, "unset");
    ASSERT_MSG(err.message, "initfail: mode 'slow' is not supported (the only mode is \"ok\")");
    CU_ASSERT_EQUAL_FATAL(ac_options_set(o, "mode", "ok"), AC_OK);
    ac_llm *llm = ac_llm_create(core, "unset", NULL, o, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);
    ac_options_free(o);

    /* Used by its own name, without a provider block: the same init, the
     * instance named after the plugin. */
    create_fails(core, "initfail", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_CONFIG);
    TU_ASSERT_STR(err.provider, "initfail");
    ASSERT_MSG(err.message, unset_msg);

    replies(core, "good", "hi", "ok");
    ac_core_close(core);
    fx_remove(&f);
}

/* ------------------------------------------------------------------ */
/* Files and folders others could replace                               */
/* ------------------------------------------------------------------ */

/* Open a core whose plugin_path is f->plugins and whose provider "echo"
 * names localecho: by name when abs is NULL, else by that path. */
static ac_core *open_echo(fx *f, const char *abs)
{
    char rest[512];
    snprintf(rest, sizeof rest, "providers = ( { name = \"echo\"; plugin = \"%s\"; } );\n",
             abs ? abs : "localecho");
    return open_ok(f, NULL, rest);
}

/* The scan refused `file` for `why`, and provider "echo" (naming it by
 * name) reports "found but refused" with the same reason. */
static void assert_refused(fx *f, const char *file, const char *why)
{
    ac_core *core = open_echo(f, NULL);
    char want[1024];
    char *report = report_of(core);
    snprintf(want, sizeof want, "refused: plugin %s: %s", file, why);
    ASSERT_LINE(report, want);
    ac_free(report);
    ac_error err;
    create_fails(core, "echo", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
    TU_ASSERT_STR(err.provider, "echo");
    snprintf(want, sizeof want, "%s:2: provider 'echo': found but refused: plugin %s: %s",
             f->conf, file, why);
    ASSERT_MSG(err.message, want);
    ac_core_close(core);
}

/* Provider "echo" names `file` by its absolute path: refused for `why`. */
static void assert_refused_by_path(fx *f, const char *file, const char *why)
{
    ac_core *core = open_echo(f, file);
    ac_error err;
    char want[1024];
    create_fails(core, "echo", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    TU_ASSERT_STR(err.provider, "echo");
    snprintf(want, sizeof want, "%s:2: provider 'echo': plugin %s: %s", f->conf, file, why);
    ASSERT_MSG(err.message, want);
    ac_core_close(core);
}

static void test_writable_file(void)
{
    fx f;
    fx_make(&f);
    char echo[256], why[512];
    copy_plugin("localecho", f.plugins, NULL, 0666, echo, sizeof echo);
    snprintf(why, sizeof why, "the file %s is writable by other users (mode 666): chmod go-w it",
             echo);
    assert_refused(&f, echo, why);
    assert_refused_by_path(&f, echo, why);
    /* Writable by its group is as bad. */
    CU_ASSERT_EQUAL_FATAL(chmod(echo, 0664), 0);
    snprintf(why, sizeof why, "the file %s is writable by other users (mode 664): chmod go-w it",
             echo);
    assert_refused(&f, echo, why);
    /* chmod go-w, as the message says, and it loads. */
    CU_ASSERT_EQUAL_FATAL(chmod(echo, 0644), 0);
    ac_core *core = open_echo(&f, NULL);
    replies(core, "echo", "fixed now", "fixed now");
    ac_core_close(core);
    fx_remove(&f);
}

static void test_writable_folder(void)
{
    fx f;
    fx_make(&f);
    char echo[256], why[512];
    copy_plugin("localecho", f.plugins, NULL, 0755, echo, sizeof echo);
    CU_ASSERT_EQUAL_FATAL(chmod(f.plugins, 0777), 0);
    snprintf(why, sizeof why, "its folder %s is writable by other users (mode 777): chmod go-w "
             "it", f.plugins);
    assert_refused(&f, echo, why);
    assert_refused_by_path(&f, echo, why);
    /* The sticky bit (/tmp's) does not make it safe: others can still add
     * files, and remove the folder's own if they are theirs. */
    CU_ASSERT_EQUAL_FATAL(chmod(f.plugins, 01777), 0);
    assert_refused(&f, echo, why);
    CU_ASSERT_EQUAL_FATAL(chmod(f.plugins, 0755), 0);
    ac_core *core = open_echo(&f, NULL);
    replies(core, "echo", "fixed now", "fixed now");
    ac_core_close(core);
    fx_remove(&f);
}

/* A link in a safe folder to a plugin in a folder anyone can write: the
 * folder that holds the file is the one checked. */
static void test_link_into_writable_folder(void)
{
    fx f;
    fx_make(&f);
    char open_dir[256], target[256], link_path[256], why[512];
    snprintf(open_dir, sizeof open_dir, "%s/open", f.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(open_dir, 0700), 0);
    copy_plugin("localecho", open_dir, NULL, 0755, target, sizeof target);
    CU_ASSERT_EQUAL_FATAL(chmod(open_dir, 0777), 0);
    snprintf(link_path, sizeof link_path, "%s/localecho.so", f.plugins);
    CU_ASSERT_EQUAL_FATAL(symlink(target, link_path), 0);
    snprintf(why, sizeof why, "its folder %s is writable by other users (mode 777): chmod go-w "
             "it", open_dir);
    assert_refused(&f, link_path, why);
    assert_refused_by_path(&f, link_path, why);
    /* Through ".." in an absolute path, the folder reached is checked. */
    char dotdot[300];
    snprintf(dotdot, sizeof dotdot, "%s/../open/localecho.so", f.plugins);
    assert_refused_by_path(&f, dotdot, why);
    /* Once that folder is safe, the link is an ordinary way to install. */
    CU_ASSERT_EQUAL_FATAL(chmod(open_dir, 0755), 0);
    ac_core *core = open_echo(&f, NULL);
    replies(core, "echo", "linked", "linked");
    ac_core_close(core);
    fx_remove(&f);
}

/* Registered only when running as root: only root can give a file away. */
static void test_other_owner(void)
{
    fx f;
    fx_make(&f);
    char echo[256], why[512];
    copy_plugin("localecho", f.plugins, NULL, 0755, echo, sizeof echo);
    CU_ASSERT_EQUAL_FATAL(chown(echo, 65534, 65534), 0);
    snprintf(why, sizeof why, "the file %s belongs to another user (uid 65534), who could "
             "replace it", echo);
    assert_refused(&f, echo, why);
    assert_refused_by_path(&f, echo, why);
    CU_ASSERT_EQUAL_FATAL(chown(echo, 0, 0), 0);
    CU_ASSERT_EQUAL_FATAL(chown(f.plugins, 65534, 65534), 0);
    snprintf(why, sizeof why, "its folder %s belongs to another user (uid 65534), who could "
             "replace it", f.plugins);
    assert_refused(&f, echo, why);
    assert_refused_by_path(&f, echo, why);
    CU_ASSERT_EQUAL_FATAL(chown(f.plugins, 0, 0), 0);
    ac_core *core = open_echo(&f, NULL);
    replies(core, "echo", "mine again", "mine again");
    ac_core_close(core);
    fx_remove(&f);
}

/* ------------------------------------------------------------------ */
/* How a provider names its plugin                                      */
/* ------------------------------------------------------------------ */

static void test_relative_plugin_values(void)
{
    fx f;
    fx_make(&f);
    char echo[256], want[1024];
    copy_plugin("localecho", f.plugins, NULL, 0755, echo, sizeof echo);
    /* Run from the temporary folder, where "plugins/localecho.so" and
     * "./plugins/localecho.so" do name a good plugin: still refused, since
     * what loads must not depend on where the program runs. */
    char cwd[1024];
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    CU_ASSERT_EQUAL_FATAL(chdir(f.dir), 0);
    static const char *const values[] = {
        "plugins/localecho.so", "./plugins/localecho.so", "../plugins/localecho.so", "..",
        "localecho/..",
    };
    const size_t n = sizeof values / sizeof values[0];
    char rest[2048] = "providers = (\n";
    for (size_t i = 0; i < n; i++) {
        char item[256];
        snprintf(item, sizeof item, "  { name = \"rel%zu\"; plugin = \"%s\"; },\n", i, values[i]);
        tu_append(rest, sizeof rest, item, strlen(item));
    }
    const char *tail = "  { name = \"echo\"; plugin = \"localecho\"; }\n);\n";
    tu_append(rest, sizeof rest, tail, strlen(tail));
    ac_core *core = open_ok(&f, NULL, rest);
    CU_ASSERT_EQUAL(chdir(cwd), 0);

    char *report = report_of(core);
    for (size_t i = 0; i < n; i++) {
        char name[16], msg[768];
        snprintf(name, sizeof name, "rel%zu", i);
        snprintf(msg, sizeof msg, RELATIVE_FMT, f.conf, (int)i + 3, name, values[i]);
        ac_error err;
        create_fails(core, name, NULL, &err);
        CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
        CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
        TU_ASSERT_STR(err.provider, name);
        ASSERT_MSG(err.message, msg);
        snprintf(want, sizeof want, "provider %s: unavailable: %s", name, msg);
        ASSERT_LINE(report, want);
    }
    ac_free(report);
    replies(core, "echo", "by name", "by name");
    ac_core_close(core);
    fx_remove(&f);
}

static void test_found_but_refused_by_name(void)
{
    fx f;
    fx_make(&f);
    char tr[256], why[256], want[1024];
    copy_plugin("truncated", f.plugins, NULL, 0755, tr, sizeof tr);
    snprintf(why, sizeof why, TOO_SMALL_FMT, TOO_SMALL_ARGS);
    ac_core *core = open_ok(&f, NULL,
                            "providers = (\n"
                            "  { name = \"byname\"; plugin = \"truncated\"; },\n"
                            "  { name = \"nowhere\"; plugin = \"absentplugin\"; }\n"
                            ");\n");
    ac_error err;
    create_fails(core, "byname", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
    TU_ASSERT_STR(err.provider, "byname");
    snprintf(want, sizeof want, "%s:3: provider 'byname': found but refused: plugin %s: %s",
             f.conf, tr, why);
    ASSERT_MSG(err.message, want);
    /* By its own name, without a provider block. */
    create_fails(core, "truncated", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
    TU_ASSERT_STR(err.provider, "truncated");
    snprintf(want, sizeof want, "no provider named 'truncated', and its plugin was found but "
             "refused: plugin %s: %s", tr, why);
    ASSERT_MSG(err.message, want);
    /* Unlike a plugin that is not there at all. */
    create_fails(core, "nowhere", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    snprintf(want, sizeof want, "%s:4: provider 'nowhere': plugin 'absentplugin' not found in "
             "the plugin path (see `acore plugins`)", f.conf);
    ASSERT_MSG(err.message, want);
    ac_core_close(core);
    fx_remove(&f);
}

/* ------------------------------------------------------------------ */
/* Two files, one name                                                  */
/* ------------------------------------------------------------------ */

static void test_duplicate_name(void)
{
    fx f;
    fx_make(&f);
    char a[256], b[256], want[1024], rest[1024];
    copy_plugin("localecho", f.plugins, "a.so", 0755, a, sizeof a);
    copy_plugin("localecho", f.plugins, "b.so", 0755, b, sizeof b);
    snprintf(rest, sizeof rest,
             "providers = (\n"
             "  { name = \"second\"; plugin = \"%s\"; },\n"
             "  { name = \"first\"; plugin = \"%s\"; },\n"
             "  { name = \"echo\"; plugin = \"localecho\"; }\n"
             ");\n", b, a);
    ac_core *core = open_ok(&f, NULL, rest);
    char *report = report_of(core);
    /* Files are taken in name order: a.so wins, b.so is refused. */
    snprintf(want, sizeof want, "plugin localecho: loaded localecho 1.0 (ABI %d.%d) from %s",
             AC_ABI_MAJOR, AC_ABI_MINOR, a);
    ASSERT_LINE(report, want);
    snprintf(want, sizeof want, "refused: plugin %s: name 'localecho' already loaded from %s", b, a);
    ASSERT_LINE(report, want);
    ASSERT_LINE(report, "plugin localecho: echoes the prompt back, word by word (in process; "
                        "features: none)");
    ASSERT_LINE(report, "provider first: ready (plugin localecho)");
    ASSERT_LINE(report, "provider echo: ready (plugin localecho)");
    ac_free(report);
    ac_error err;
    create_fails(core, "second", NULL, &err);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_PLUGIN);
    TU_ASSERT_STR(err.provider, "second");
    snprintf(want, sizeof want, "%s:3: provider 'second': plugin %s: name 'localecho' already "
             "loaded from %s", f.conf, b, a);
    ASSERT_MSG(err.message, want);
    /* Naming the winner's file again is the same plugin, not a clash. */
    replies(core, "first", "same file", "same file");
    replies(core, "echo", "by name", "by name");
    ac_core_close(core);

    /* Across folders, plugin_path's order decides, not the file names. */
    char early[256], c[256], folders[600];
    snprintf(early, sizeof early, "%s/early", f.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(early, 0700), 0);
    copy_plugin("localecho", early, "c.so", 0755, c, sizeof c);
    snprintf(folders, sizeof folders, "\"%s\", \"%s\"", early, f.plugins);
    core = open_ok(&f, folders, NULL);
    report = report_of(core);
    snprintf(want, sizeof want, "plugin localecho: loaded localecho 1.0 (ABI %d.%d) from %s",
             AC_ABI_MAJOR, AC_ABI_MINOR, c);
    ASSERT_LINE(report, want);
    snprintf(want, sizeof want, "refused: plugin %s: name 'localecho' already loaded from %s", a, c);
    ASSERT_LINE(report, want);
    snprintf(want, sizeof want, "refused: plugin %s: name 'localecho' already loaded from %s", b, c);
    ASSERT_LINE(report, want);
    ac_free(report);
    ac_core_close(core);
    fx_remove(&f);
}

/* A relative plugin_path folder is the config file's, whatever the working
 * folder; a relative folder in $ABSTRACTCORE_PLUGIN_PATH is skipped. */
static void test_relative_plugin_path(void)
{
    fx f;
    fx_make(&f);
    char so[256], want[512];
    copy_plugin("localecho", f.plugins, NULL, 0755, so, sizeof so);
    char cwd[1024];
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    CU_ASSERT_EQUAL_FATAL(chdir("/"), 0);
    ac_core *core = open_ok(&f, "\"plugins\"", "providers = ( { name = \"echo\"; plugin = "
                            "\"localecho\"; } );\n");
    replies(core, "echo", "found beside the config", "found beside the config");
    ac_core_close(core);

    CU_ASSERT_EQUAL_FATAL(chdir(f.dir), 0);
    CU_ASSERT_EQUAL(setenv("ABSTRACTCORE_PLUGIN_PATH", "plugins", 1), 0);
    core = open_ok(&f, "", NULL);
    char *report = report_of(core);
    ASSERT_LINE(report, "ABSTRACTCORE_PLUGIN_PATH folder plugins: not an absolute path, "
                        "skipped");
    snprintf(want, sizeof want, "loaded localecho 1.0 (ABI %d.%d) from", AC_ABI_MAJOR,
             AC_ABI_MINOR);
    CU_ASSERT_PTR_NULL(strstr(report, want));
    ac_free(report);
    ac_core_close(core);
    CU_ASSERT_EQUAL(unsetenv("ABSTRACTCORE_PLUGIN_PATH"), 0);
    CU_ASSERT_EQUAL(chdir(cwd), 0);
    fx_remove(&f);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test entry[] = {
        {"descriptor too small", test_descriptor_too_small},
        {"entry returns NULL", test_entry_returns_null},
        {"undefined symbol", test_undefined_symbol},
        {"init fails", test_init_fails},
    };
    static const tu_test files[] = {
        {"world- and group-writable file", test_writable_file},
        {"world-writable folder", test_writable_folder},
        {"link into a writable folder", test_link_into_writable_folder},
    };
    static const tu_test owner[] = {
        {"file or folder of another user", test_other_owner},
    };
    static const tu_test naming[] = {
        {"relative plugin values", test_relative_plugin_values},
        {"found but refused, by name", test_found_but_refused_by_name},
        {"two files, one name", test_duplicate_name},
        {"relative plugin_path folders", test_relative_plugin_path},
    };
    if (TU_ADD_SUITE("loader: entry and descriptor", NULL, NULL, entry) ||
        TU_ADD_SUITE("loader: unsafe files", NULL, NULL, files) ||
        TU_ADD_SUITE("loader: naming plugins", NULL, NULL, naming))
        return 2;
    /* Giving a file to another user takes root; without it the test is
     * not registered (not run and passed), and this says so. */
    if (geteuid() == 0) {
        if (TU_ADD_SUITE("loader: owners (root)", NULL, NULL, owner))
            return 2;
    } else {
        fprintf(stderr, "test_loader: not root: the test \"%s\" is not run (it needs to chown "
                "a file to uid 65534)\n", owner[0].name);
    }
    return tu_run_suites();
}
