/*
 * test_config.c -- opening a core: config search, syntax and type errors,
 * plugin loading and refusal (ABI checks), provider errors that leave the
 * other providers working, API keys that never leak into messages.
 */
#include "testutil.h"
#include <abstractcore/provider.h>

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *cfg_with(const char *fmt, const char *arg)
{
    char text[8192];
    snprintf(text, sizeof text, fmt, arg ? arg : "");
    return tu_write_temp(text);
}

static ac_status open_text(const char *text, ac_core **core, ac_error *err)
{
    char *path = tu_write_temp(text);
    ac_status st = ac_core_open(core, path, err);
    unlink(path);
    free(path);
    return st;
}

static void test_syntax_error_names_file_and_line(void)
{
    char *path = cfg_with("abstractcore = {\n  plugin_path = [ \"/tmp\" ];\n  oops = ;\n};\n", NULL);
    ac_core *core = (ac_core *)0x1;
    ac_error err;
    ac_status st = ac_core_open(&core, path, &err);
    CU_ASSERT_EQUAL(st, AC_ECONFIG);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":3:"));
    CU_ASSERT_PTR_EQUAL(core, (ac_core *)0x1); /* untouched on failure */
    unlink(path);
    free(path);
}

static void test_missing_explicit_file(void)
{
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_open(&core, "/nonexistent/ac.conf", &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/ac.conf"));
    CU_ASSERT_PTR_NULL(core);
}

static void test_search_env_then_defaults(void)
{
    char *path = cfg_with("abstractcore = { default_provider = \"x\"; plugin_path = [ \"/tmp\" ]; };\n", NULL);
    setenv("ABSTRACTCORE_CONFIG", path, 1);
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, NULL, &err), AC_OK);
    CU_ASSERT_STRING_EQUAL(ac_core_config_path(core), path);
    CU_ASSERT_STRING_EQUAL(ac_core_default_provider(core), "x");
    ac_core_close(core);
    unsetenv("ABSTRACTCORE_CONFIG");

    /* Nothing anywhere: built-in defaults, no error.  "Anywhere" is
     * $XDG_CONFIG_HOME here: the last place searched, the system-wide
     * $(sysconfdir)/abstractcore/abstractcore.conf, is skipped
     * (ABSTRACTCORE_CONFIG_NOSYSTEM, set by tu_run_suites), so a file
     * installed there cannot change this result. */
    char dir[] = "/tmp/actest-xdg-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    setenv("XDG_CONFIG_HOME", dir, 1);
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, NULL, &err), AC_OK);
    CU_ASSERT_PTR_NULL(ac_core_config_path(core));
    ac_core_close(core);

    /* XDG file found. */
    char sub[512], file[600];
    snprintf(sub, sizeof sub, "%s/abstractcore", dir);
    mkdir(sub, 0700);
    snprintf(file, sizeof file, "%s/abstractcore.conf", sub);
    FILE *f = fopen(file, "w");
    fputs("abstractcore = { default_provider = \"fromxdg\"; plugin_path = [ \"/tmp\" ]; };\n", f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, NULL, &err), AC_OK);
    CU_ASSERT_STRING_EQUAL(ac_core_default_provider(core), "fromxdg");
    ac_core_close(core);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
    setenv("XDG_CONFIG_HOME", "/nonexistent/abstractcore-tests", 1); /* as testutil set it */
    unlink(path);
    free(path);
}

static void test_type_errors(void)
{
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(open_text("abstractcore = { plugin_path = 5; };\n", &core, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "plugin_path"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":1"));
    CU_ASSERT_EQUAL(open_text("abstractcore = {\n engine = { max_connections = -1; };\n};\n",
                              &core, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_connections"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":2"));
    CU_ASSERT_EQUAL(open_text("providers = 3;\n", &core, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "providers"));
}

static void test_unknown_provider(void)
{
    ac_core *core = tu_open_core(NULL);
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "nosuchthing", NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ENOPROVIDER);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nosuchthing"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "openai")); /* lists what exists */
    /* No provider and no default. */
    llm = ac_llm_create(core, NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ENOPROVIDER);
    ac_core_close(core);
}

static void test_broken_provider_leaves_others(void)
{
    ac_core *core = tu_open_core(
        "providers = (\n"
        "  { name = \"ghost\"; plugin = \"doesnotexist\"; },\n"
        "  { name = \"nokey\"; plugin = \"openai\"; api_key_env = \"AC_TEST_SURELY_UNSET\"; },\n"
        "  { name = \"local\"; plugin = \"openai\"; base_url = \"http://127.0.0.1:9/v1\"; },\n"
        "  { name = \"ghost\"; plugin = \"openai\"; }\n"
        ");\n");
    ac_error err;
    ac_llm *llm = ac_llm_create(core, "ghost", NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "doesnotexist"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":3")); /* config line */

    unsetenv("AC_TEST_SURELY_UNSET");
    llm = ac_llm_create(core, "nokey", NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "AC_TEST_SURELY_UNSET"));
    CU_ASSERT_STRING_EQUAL(err.provider, "nokey");

    /* An option can supply what the config lacked. */
    ac_options *o = ac_options_new();
    ac_options_set(o, "api_key", "sk-from-options");
    llm = ac_llm_create(core, "nokey", "m", o, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);
    ac_options_free(o);

    llm = ac_llm_create(core, "local", "m1", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_STRING_EQUAL(ac_llm_provider(llm), "local");
    CU_ASSERT_STRING_EQUAL(ac_llm_model(llm), "m1");
    ac_llm_free(llm);

    char *report = NULL;
    CU_ASSERT_EQUAL(ac_core_plugin_report(core, &report, &err), AC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(report, "duplicate"));
    CU_ASSERT_PTR_NOT_NULL(strstr(report, "doesnotexist"));
    ac_free(report);
    ac_core_close(core);
}

static void test_abi_mismatch_refused(void)
{
    char text[4096];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = [ \"%s/tests/plugins/.libs\", \"%s/plugins/openai/.libs\" ]; };\n"
             "providers = ( { name = \"bad\"; plugin = \"badabi\"; },\n"
             "              { name = \"o\"; plugin = \"openai\"; base_url = \"http://127.0.0.1:9/v1\"; } );\n",
             TEST_BUILDDIR, TEST_BUILDDIR);
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(open_text(text, &core, &err), AC_OK);
    char *report = NULL;
    CU_ASSERT_EQUAL_FATAL(ac_core_plugin_report(core, &report, &err), AC_OK);
    char want[64];
    snprintf(want, sizeof want, "badabi.so: ABI major version %d", AC_ABI_MAJOR + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(report, want));
    snprintf(want, sizeof want, "newminor.so: needs ABI %d.%d", AC_ABI_MAJOR, AC_ABI_MINOR + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(report, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(report, "noentry.so: no ac_provider_entry"));
    CU_ASSERT_PTR_NOT_NULL(strstr(report, "loaded openai"));
    ac_free(report);
    ac_llm *llm = ac_llm_create(core, "bad", NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "badabi"));
    llm = ac_llm_create(core, "o", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);
    ac_core_close(core);
}

static void test_include_and_default_provider(void)
{
    char dir[] = "/tmp/actest-inc-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char main_path[512], inc_path[512];
    snprintf(main_path, sizeof main_path, "%s/main.conf", dir);
    snprintf(inc_path, sizeof inc_path, "%s/backend.conf", dir);
    FILE *f = fopen(inc_path, "w");
    fputs("providers = ( { name = \"inc\"; plugin = \"openai\"; base_url = \"http://127.0.0.1:9/v1\";"
          " default_model = \"from-include\"; } );\n", f);
    fclose(f);
    f = fopen(main_path, "w");
    fprintf(f, "abstractcore = { plugin_path = %s; default_provider = \"inc\"; };\n"
               "@include \"backend.conf\"\n", tu_plugin_path_list());
    fclose(f);
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, main_path, &err), AC_OK);
    ac_llm *llm = ac_llm_create(core, NULL, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_STRING_EQUAL(ac_llm_provider(llm), "inc");
    CU_ASSERT_STRING_EQUAL(ac_llm_model(llm), "from-include");
    ac_llm_free(llm);
    ac_core_close(core);
    unlink(inc_path);
    unlink(main_path);
    rmdir(dir);
}

static void test_dropin_plugin_by_name(void)
{
    /* No provider block: the plugin is usable by its own name. */
    ac_core *core = tu_open_core(NULL);
    ac_error err;
    ac_options *o = ac_options_new();
    CU_ASSERT_EQUAL(ac_options_set(o, "base_url", "http://127.0.0.1:9/v1"), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "api_key", "sk-x"), AC_OK);
    CU_ASSERT_EQUAL(ac_options_set(o, "", "x"), AC_EINVAL);
    ac_llm *llm = ac_llm_create(core, "openai", NULL, o, &err);
    ac_options_free(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(llm);
    CU_ASSERT_STRING_EQUAL(ac_llm_provider(llm), "openai");
    /* Handles may be freed in any order: the llm outlives the closed core. */
    ac_core_close(core);
    CU_ASSERT_STRING_EQUAL(ac_llm_provider(llm), "openai");
    ac_response *r = ac_generate(llm, "hi", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_ECANCELED);
    ac_llm_free(llm);
}

static void test_strerror_names_every_code(void)
{
    for (int c = 0; c < AC_STATUS_LAST; c++) {
        const char *s = ac_strerror((ac_status)c);
        CU_ASSERT_PTR_NOT_NULL(s);
        CU_ASSERT_STRING_NOT_EQUAL(s, "unknown status code");
    }
    CU_ASSERT_STRING_EQUAL(ac_strerror(AC_STATUS_LAST), "unknown status code");
    for (int s = 0; s < AC_STAGE_LAST; s++)
        CU_ASSERT_STRING_NOT_EQUAL(ac_stage_name((ac_stage)s), "unknown");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "syntax error names file and line", test_syntax_error_names_file_and_line);
    CU_add_test(s, "missing explicit file", test_missing_explicit_file);
    CU_add_test(s, "search: env, xdg, defaults", test_search_env_then_defaults);
    CU_add_test(s, "type errors name key and line", test_type_errors);
    CU_add_test(s, "unknown provider", test_unknown_provider);
    CU_add_test(s, "broken provider leaves others", test_broken_provider_leaves_others);
    CU_add_test(s, "ABI mismatch refused", test_abi_mismatch_refused);
    CU_add_test(s, "@include and default_provider", test_include_and_default_provider);
    CU_add_test(s, "drop-in plugin by name", test_dropin_plugin_by_name);
    CU_add_test(s, "strerror names every code", test_strerror_names_every_code);
    return tu_run_suites();
}
