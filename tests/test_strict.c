/*
 * test_strict.c -- strict configuration (core/keys.c, core/confcheck.c):
 * unknown keys at every level named with file, line and the nearest key;
 * values of the wrong type or out of range; a provider whose group is
 * wrong unavailable while the others work; plugins that declare their
 * settings (ABI 2.1) and one that does not (ABI 2.0: warnings only);
 * ac_options checked the same way; ac_core_check_config's report; the
 * keys table against docs/configuration.md and conf/abstractcore.conf.
 */
#include "testutil.h"
#include "alloc.h"
#include "keys.h"
#include "settings.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACME20 TEST_BUILDDIR "/tests/plugins/.libs/acme20.so"

/* A config file: plugin_path (every plugin of the tree) on line 1, then
 * `rest` from line 2.  Returns its malloc'd path. */
static char *conf(const char *rest)
{
    char text[8192];
    snprintf(text, sizeof text, "abstractcore = { plugin_path = %s; };\n%s",
             tu_plugin_path_list(), rest);
    return tu_write_temp(text);
}

static void drop(char *path)
{
    unlink(path);
    free(path);
}

/* err.message holds path, ":line:" and every piece of want (NULL-ended). */
static int says(const ac_error *err, const char *path, int line, const char *const *want)
{
    char at[64];
    snprintf(at, sizeof at, ":%d:", line);
    int ok = err->code == AC_ECONFIG && err->stage == AC_STAGE_CONFIG &&
             (!path || strstr(err->message, path)) && (line <= 0 || strstr(err->message, at));
    for (size_t i = 0; want[i]; i++)
        ok = ok && strstr(err->message, want[i]) != NULL;
    if (!ok)
        fprintf(stderr, "\n  got: %s (%s)\n", err->message, ac_strerror(err->code));
    return ok;
}

#define SAYS(err, path, line, ...) \
    CU_ASSERT_TRUE(says(&(err), path, line, (const char *const[]){__VA_ARGS__, NULL}))

/* ------------------------------------------------------------------ */
/* The core's groups                                                   */
/* ------------------------------------------------------------------ */

static void test_unknown_top_level_key(void)
{
    char *path = conf("providres = ( );\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NULL(core);
    SAYS(err, path, 2, "unknown setting 'providres' at the top level",
         "did you mean providers?");
    drop(path);
}

static void test_unknown_core_and_engine_keys(void)
{
    ac_core *core = NULL;
    ac_error err;
    char *path = tu_write_temp("abstractcore = {\n  defualt_provider = \"x\";\n};\n");
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    SAYS(err, path, 2, "'abstractcore.defualt_provider'", "did you mean default_provider?");
    drop(path);

    path = tu_write_temp("abstractcore = {\n  engine = {\n    mode = \"thread\";\n"
                         "    wrokers = 2;\n  };\n};\n");
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    SAYS(err, path, 4, "'abstractcore.engine.wrokers'", "did you mean workers?");
    drop(path);

    /* Nothing near: no suggestion, still the key and the line. */
    path = tu_write_temp("abstractcore = {\n  colour = \"blue\";\n};\n");
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    SAYS(err, path, 2, "unknown setting 'abstractcore.colour'");
    CU_ASSERT_PTR_NULL(strstr(err.message, "did you mean"));
    drop(path);
}

static void test_every_problem_counted(void)
{
    /* The open names the first and says how many more there are. */
    char *path = tu_write_temp("abstractcore = {\n  engine = { workers = 0; };\n"
                               "  plugin_pth = [ ];\n};\nextra = 1;\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    SAYS(err, path, 2, "'abstractcore.engine.workers' must be an integer from 1 to 256, not 0",
         "and 2 more");
    drop(path);
}

static void test_core_values(void)
{
    static const struct {
        const char *text;
        int line;
        const char *want;
    } cases[] = {
        {"abstractcore = {\n engine = { mode = \"threads\"; };\n};\n", 2,
         "'abstractcore.engine.mode' must be \"thread\" or \"host\", not \"threads\""},
        {"abstractcore = {\n engine = { max_connections = 2000000; };\n};\n", 2,
         "must be an integer from 0 to 1048576, not 2000000"},
        {"abstractcore = {\n engine = { max_response_bytes = \"big\"; };\n};\n", 2,
         "must be an integer from 1024 to 1073741824, not a string"},
        {"abstractcore = {\n default_provider = 7; };\n", 2,
         "must be a string, not an integer"},
        {"abstractcore = {\n plugin_path = ( \"/tmp\", 3 ); };\n", 2,
         "must be a list of folder names (strings), not an integer (item 2)"},
        {"abstractcore = 1;\n", 1, "'abstractcore' must be a group { ... }, not an integer"},
        {"\nproviders = { a = 1; };\n", 2, "'providers' must be a list of provider groups"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = tu_write_temp(cases[i].text);
        ac_core *core = NULL;
        ac_error err;
        CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
        SAYS(err, path, cases[i].line, cases[i].want);
        drop(path);
    }
}

static void test_core_options(void)
{
    char *path = tu_write_temp("# nothing\n");
    ac_options *o = ac_options_new();
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_options_set(o, "engine.wrkers", "2"), AC_OK);
    CU_ASSERT_EQUAL(ac_core_open_ex(&core, path, o, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown core option 'engine.wrkers' (did you "
                                               "mean engine.workers?)"));
    ac_options_free(o);
    o = ac_options_new();
    CU_ASSERT_EQUAL(ac_options_set(o, "engine.workers", "300"), AC_OK);
    CU_ASSERT_EQUAL(ac_core_open_ex(&core, path, o, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "option 'engine.workers' must be an integer "
                                               "from 1 to 256, not \"300\""));
    ac_options_free(o);
    o = ac_options_new();
    CU_ASSERT_EQUAL(ac_options_set(o, "colour", "blue"), AC_OK);
    CU_ASSERT_EQUAL(ac_core_open_ex(&core, path, o, &err), AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown core option 'colour' (known: "
                                               "default_provider, engine.mode, "));
    ac_options_free(o);
    drop(path);
}

/* ------------------------------------------------------------------ */
/* Providers                                                           */
/* ------------------------------------------------------------------ */

static void test_provider_typo_leaves_others(void)
{
    char *path = conf("providers = (\n"
                      "  { name = \"typo\"; plugin = \"openai\"; api_key = \"sk-x\";\n"
                      "    base_ulr = \"http://127.0.0.1:9/v1\"; },\n"
                      "  { name = \"good\"; plugin = \"openai\"; api_key = \"sk-x\";\n"
                      "    base_url = \"http://127.0.0.1:9/v1\"; }\n);\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
    ac_llm *llm = ac_llm_create(core, "typo", NULL, NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    SAYS(err, path, 4, "provider 'typo': unknown setting 'base_ulr': neither the core nor "
         "plugin openai reads it (did you mean base_url?)");
    TU_ASSERT_STR(err.provider, "typo");
    /* Options cannot make a wrong group right: the typo stays. */
    ac_options *o = ac_options_new();
    ac_options_set(o, "base_url", "http://127.0.0.1:9/v1");
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "typo", NULL, o, &err));
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    ac_options_free(o);
    llm = ac_llm_create(core, "good", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);
    char *report = NULL;
    CU_ASSERT_EQUAL(ac_core_plugin_report(core, &report, &err), AC_OK);
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, "provider typo: unavailable: "));
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, "did you mean base_url?"));
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, "provider good: ready"));
    ac_free(report);
    ac_core_close(core);
    drop(path);
}

static void test_provider_values(void)
{
    static const struct {
        const char *setting;
        const char *want;
    } cases[] = {
        {"timeout_ms = \"30s\";", "'timeout_ms' must be an integer from 0 to 86400000, not a "
                                  "string"},
        {"max_retries = 11;", "'max_retries' must be an integer from 0 to 10, not 11"},
        {"connect_timeout_ms = -1;", "from 0 to 86400000, not -1"},
        {"max_response_bytes = 10;", "from 1024 to 1073741824, not 10"},
        {"schema_attempts = 0;", "'schema_attempts' must be an integer from 1 to 10, not 0"},
        {"tool_mode = \"sometimes\";", "'tool_mode' must be \"auto\", \"native\" or "
                                       "\"prompted\", not \"sometimes\""},
        {"tool_family = \"klingon\";", "'tool_family' must be one of auto, hermes"},
        {"tls_verify = \"no\";", "'tls_verify' must be true or false, not a string"},
        {"base_url = \"ftp://x\";", "'base_url' must be an http:// or https:// URL"},
        {"api_key_file = \"/nonexistent/key\";", "'api_key_file' names '/nonexistent/key', "
                                                 "which cannot be used"},
        {"ca_bundle = \"/tmp\";", "'ca_bundle' names '/tmp', which is not a regular file"},
        {"client_key = \"" TEST_FIXTURES "/tls/client.key\";",
         "'client_key' is set but 'client_cert' is not"},
        {"organization = 5;", "organization"}, /* the plugin's own: its init says */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rest[1024];
        snprintf(rest, sizeof rest, "providers = (\n  { name = \"p\"; plugin = \"openai\";\n"
                 "    api_key = \"sk-x\";\n    %s }\n);\n", cases[i].setting);
        char *path = conf(rest);
        ac_core *core = NULL;
        ac_error err;
        CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
        CU_ASSERT_PTR_NULL(ac_llm_create(core, "p", NULL, NULL, &err));
        SAYS(err, i + 1 == sizeof cases / sizeof cases[0] ? NULL : path,
             i + 1 == sizeof cases / sizeof cases[0] ? 0 : 5, cases[i].want);
        ac_core_close(core);
        drop(path);
    }
    /* Good values of every kind pass. */
    char *path = conf("providers = (\n  { name = \"p\"; plugin = \"openai\"; api_key = \"k\";\n"
                      "    timeout_ms = 0; max_retries = 10; tool_mode = \"PROMPTED\";\n"
                      "    tool_family = \"qwen\"; tls_verify = false;\n"
                      "    ca_bundle = \"" TEST_FIXTURES "/tls/ca.pem\";\n"
                      "    client_cert = \"" TEST_FIXTURES "/tls/client.pem\";\n"
                      "    client_key = \"" TEST_FIXTURES "/tls/client-encrypted.key\";\n"
                      "    client_key_password = \"test-key-password\";\n"
                      "    organization = \"org-1\"; project = \"proj-1\"; }\n);\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
    ac_llm *llm = ac_llm_create(core, "p", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    if (!llm)
        fprintf(stderr, "\n  %s\n", err.message);
    ac_llm_free(llm);
    ac_core_close(core);
    drop(path);
}

static void test_declared_plugin_keys(void)
{
    /* ollama declares keep_alive, think, num_ctx: a near miss of one of
     * them is suggested; anthropic's and the compatible plugins' lists
     * are checked the same way. */
    char *path = conf("providers = (\n"
                      "  { name = \"o\"; plugin = \"ollama\"; keep_alive = \"5m\";\n"
                      "    num_ctx = 4096; thinks = true; },\n"
                      "  { name = \"a\"; plugin = \"anthropic\"; api_key = \"k\";\n"
                      "    max_tokens = 100; anthropic_beta = \"x\"; anthropic_versoin = \"y\"; },\n"
                      "  { name = \"l\"; plugin = \"lmstudio\";\n"
                      "    organization = \"x\"; }\n);\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "o", NULL, NULL, &err));
    SAYS(err, path, 4, "unknown setting 'thinks'", "plugin ollama", "did you mean think?");
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "a", NULL, NULL, &err));
    SAYS(err, path, 6, "unknown setting 'anthropic_versoin'",
         "did you mean anthropic_version?");
    /* organization is openai's, not lmstudio's. */
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "l", NULL, NULL, &err));
    SAYS(err, path, 8, "unknown setting 'organization'", "plugin lmstudio");
    ac_core_close(core);
    drop(path);
}

static void test_undeclared_plugin_warns(void)
{
    /* acme20 is the template built against the ABI 2.0 headers: it
     * cannot declare its settings, so an unknown key is a warning in the
     * report and the provider works. */
    char *path = conf("providers = (\n  { name = \"old\"; plugin = \"" ACME20 "\";\n"
                      "    base_url = \"http://127.0.0.1:9\"; acme_region = \"eu\"; }\n);\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
    ac_llm *llm = ac_llm_create(core, "old", NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);
    char *report = NULL;
    CU_ASSERT_EQUAL(ac_core_plugin_report(core, &report, &err), AC_OK);
    char want[512];
    snprintf(want, sizeof want, "provider old: setting 'acme_region' is not a core setting "
             "and plugin acme (ABI 2.0) does not declare its settings (%s:4)", path);
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, want));
    if (report && !strstr(report, want))
        fprintf(stderr, "\n%s\n", report);
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, "provider old: ready"));
    ac_free(report);
    ac_core_close(core);
    drop(path);
}

static void test_bad_settings_lists(void)
{
    /* A plugin that declares a core key: loaded, and the core's check of
     * that key wins; its own key passes. */
    char *path = conf("providers = (\n  { name = \"b1\"; plugin = \"" TEST_BUILDDIR
                      "/tests/plugins/.libs/badsettings1.so\";\n"
                      "    region = \"eu\"; timeout_ms = \"soon\"; },\n"
                      "  { name = \"b3\"; plugin = \"" TEST_BUILDDIR
                      "/tests/plugins/.libs/badsettings3.so\"; }\n);\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "b1", NULL, NULL, &err));
    SAYS(err, path, 4, "'timeout_ms' must be an integer");
    CU_ASSERT_PTR_NULL(strstr(err.message, "region"));
    /* A name 64 bytes long or more: the loader refuses the plugin. */
    CU_ASSERT_PTR_NULL(ac_llm_create(core, "b3", NULL, NULL, &err));
    CU_ASSERT_EQUAL(err.code, AC_EPLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "settings[0] is an empty or overlong name"));
    ac_core_close(core);
    drop(path);
}

static void test_options_checked(void)
{
    char *path = conf("providers = (\n  { name = \"p\"; plugin = \"openai\"; "
                      "api_key = \"sk-x\"; }\n);\n");
    ac_core *core = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_open(&core, path, &err), AC_OK);
    static const struct {
        const char *key, *value, *want;
    } cases[] = {
        {"timeot_ms", "100", "provider 'p': unknown option 'timeot_ms': neither the core nor "
                             "plugin openai reads it (did you mean timeout_ms?)"},
        {"timeout_ms", "10 s", "option 'timeout_ms' must be an integer from 0 to 86400000, "
                               "not \"10 s\""},
        {"tls_verify", "maybe", "option 'tls_verify' must be true or false"},
        {"ca_bundle", "/nonexistent.pem", "option 'ca_bundle' names '/nonexistent.pem'"},
        {"name", "other", "option 'name' can only be set in the provider's group"},
        {"organisation", "x", "did you mean organization?"},
        {"client_key", TEST_FIXTURES "/tls/client.key", "'client_key' is set but "
                                                       "'client_cert' is not"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_options *o = ac_options_new();
        ac_options_set(o, cases[i].key, cases[i].value);
        CU_ASSERT_PTR_NULL(ac_llm_create(core, "p", NULL, o, &err));
        SAYS(err, NULL, 0, cases[i].want);
        TU_ASSERT_STR(err.provider, "p");
        ac_options_free(o);
    }
    /* A plugin's declared option and the core's pass. */
    ac_options *o = ac_options_new();
    ac_options_set(o, "organization", "org-2");
    ac_options_set(o, "max_retries", "0");
    ac_options_set(o, "tls_verify", "no");
    ac_llm *llm = ac_llm_create(core, "p", NULL, o, &err);
    CU_ASSERT_PTR_NOT_NULL(llm);
    ac_llm_free(llm);
    ac_options_free(o);
    ac_core_close(core);
    drop(path);
}

static void test_key_password_is_a_secret(void)
{
    /* The settings know client_key_password as a secret from the start,
     * so every message of the instance has it scrubbed. */
    ac_options o = {0};
    ac_options_set(&o, "client_key_password", "hunter2-password");
    ac_settings *s = ac__settings_new("p", NULL, NULL, &o, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    int found = 0;
    for (size_t i = 0; i < ac__settings_secret_count(s); i++)
        found |= strcmp(ac__settings_secret_at(s, i), "hunter2-password") == 0;
    CU_ASSERT_TRUE(found);
    ac__settings_free(s);
    ac__options_clear(&o);
}

/* ------------------------------------------------------------------ */
/* The gateway's section                                               */
/* ------------------------------------------------------------------ */

static void test_server_section(void)
{
    /* The gateway's keys are checked like the core's: a typo, a bad
     * address, a client key without its key, a wrong type. */
    ac_core *core = NULL;
    ac_error err;
    char *path = conf("server = {\n  max_conections = 10;\n};\n");
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    SAYS(err, path, 3, "'server.max_conections'", "did you mean max_connections?");
    drop(path);

    path = conf("server = {\n  listen = \"localhost:8080\";\n};\n");
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    SAYS(err, path, 3, "'server.listen' must be ADDR:PORT", "not \"localhost:8080\"");
    drop(path);

    path = conf("server = {\n  keys = ( { id = \"a\"; rpm = 5; } );\n};\n");
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_ECONFIG);
    SAYS(err, path, 3, "'server.keys' item 1 has no 'key'");
    drop(path);

    /* A secret of the wrong type is named, never shown. */
    path = conf("server = {\n  keys = ( { id = \"a\"; key = 12345678; },\n"
                "           \"x\" );\n};\n");
    char *report = NULL;
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(report);
    CU_ASSERT_PTR_NOT_NULL(strstr(report, "'server.keys.key' must be a string"));
    CU_ASSERT_PTR_NOT_NULL(strstr(report, "'server.keys' item 2 is not a group"));
    CU_ASSERT_PTR_NULL(strstr(report, "12345678"));
    ac_free(report);
    drop(path);

    path = conf("server = {\n  listen = \"[::1]:0\"; max_messages = 5; access_log = \"-\";\n"
                "  keys = ( { id = \"a\"; key = \"k\"; providers = [ \"mock\" ]; rpm = 60; } );\n"
                "  aliases = [ \"fast=mock/echo\" ]; shutdown_timeout_ms = 0;\n};\n");
    CU_ASSERT_EQUAL(ac_core_open(&core, path, &err), AC_OK);
    ac_core_close(core);
    drop(path);
}

/* ------------------------------------------------------------------ */
/* ac_core_check_config                                                */
/* ------------------------------------------------------------------ */

static void test_check_config_lists_all(void)
{
    char *path = conf("abstractcor = 1;\n"                                   /* 2 */
                      "providers = (\n"                                       /* 3 */
                      "  { name = \"a\"; plugin = \"openai\";\n"              /* 4 */
                      "    base_ulr = \"http://x\"; max_retries = 99; },\n"   /* 5 */
                      "  { name = \"b\"; plugin = \"nosuchplugin\"; },\n"     /* 6 */
                      "  { name = \"a\"; plugin = \"openai\"; },\n"           /* 7 */
                      "  { plugin = \"openai\"; },\n"                         /* 8 */
                      "  { name = \"old\"; plugin = \"" ACME20 "\";\n"        /* 9 */
                      "    region = \"eu\"; }\n"                              /* 10 */
                      ");\n");
    char *report = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(report);
    char want[4096];
    snprintf(want, sizeof want,
             "%1$s:2: unknown setting 'abstractcor' at the top level (did you mean "
             "abstractcore?)\n"
             "%1$s:5: provider 'a': unknown setting 'base_ulr': neither the core nor plugin "
             "openai reads it (did you mean base_url?)\n"
             "%1$s:5: provider 'a': 'max_retries' must be an integer from 0 to 10, not 99\n"
             "%1$s:6: provider 'b': plugin 'nosuchplugin' not found in the plugin path (see "
             "`acore plugins`)\n"
             "%1$s:7: provider 'a': duplicate name (an earlier group has it)\n"
             "%1$s:8: provider #4: missing or bad 'name' (a string of 1 to 63 bytes)\n"
             "%1$s:10: warning: provider old: setting 'region' is not a core setting and "
             "plugin acme (ABI 2.0) does not declare its settings\n",
             path);
    TU_ASSERT_STR(report, want);
    if (strcmp(report, want) != 0)
        fprintf(stderr, "\n---- got:\n%s---- want:\n%s", report, want);
    SAYS(err, path, 2, "abstractcor");
    ac_free(report);
    drop(path);

    /* Clean, with a warning only: AC_OK. */
    path = conf("providers = ( { name = \"old\"; plugin = \"" ACME20 "\"; x = 1; } );\n");
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_OK);
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, ":2: warning: provider old: setting 'x'"));
    ac_free(report);
    drop(path);
    path = conf("providers = ( { name = \"p\"; plugin = \"openai\"; } );\n");
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_OK);
    TU_ASSERT_STR(report, "");
    ac_free(report);
    drop(path);

    /* A syntax error, a missing file: one line each. */
    path = tu_write_temp("abstractcore = {\n  engine = ;\n};\n");
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, ":2: syntax error"));
    CU_ASSERT_PTR_NOT_NULL(report && strchr(report, '\n') == report + strlen(report) - 1);
    ac_free(report);
    drop(path);
    CU_ASSERT_EQUAL(ac_core_check_config("/nonexistent/x.conf", &report, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(report && strstr(report, "/nonexistent/x.conf"));
    ac_free(report);
    CU_ASSERT_EQUAL(ac_core_check_config(NULL, NULL, &err), AC_EINVAL);
}

/* ac_core_check_config with allocation 0, 1, 2, ... failing: AC_ENOMEM
 * and nothing kept, until a run needs no more than allowed; then the
 * same report as without failures. */
static void test_check_config_out_of_memory(void)
{
    char *path = conf("abstractcor = 1;\n"
                      "providers = ( { name = \"a\"; plugin = \"openai\"; base_ulr = \"x\"; },\n"
                      "  { name = \"old\"; plugin = \"" ACME20 "\"; region = \"eu\"; } );\n");
    char *want = NULL, *report = NULL;
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_core_check_config(path, &want, &err), AC_ECONFIG);
    long live = ac__alloc_live(), n;
    int completed = 0;
    for (n = 0; n < 5000 && !completed; n++) {
        ac__alloc_fail_after(n);
        ac_status st = ac_core_check_config(path, &report, &err);
        long refused = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        CU_ASSERT_EQUAL(ac__alloc_live(), live);
        if (st == AC_ENOMEM) {
            CU_ASSERT_PTR_NULL(report);
            CU_ASSERT_EQUAL(err.code, AC_ENOMEM);
        } else {
            /* A failure the loader shrugs off (a report line) may change
             * the plugin notes, never the problems. */
            CU_ASSERT_EQUAL(st, AC_ECONFIG);
            if (refused == 0)
                TU_ASSERT_STR(report, want);
            completed = refused == 0;
        }
        ac_free(report);
        report = NULL;
    }
    CU_ASSERT_TRUE(completed);
    ac_free(want);
    drop(path);
}

/* What only the check finds (the open would let the provider fail at its
 * first request, and skip the folder with a note): an API key variable
 * that is not set, plugin folders that cannot be read. */
static void test_check_variables_and_folders(void)
{
    unsetenv("AC_TEST_NO_SUCH_KEY");
    char text[8192];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = [ \"%s/plugins/openai/.libs\",\n"  /* 1 */
             "  \"/nonexistent/ac-plugins\", \"%s/conf/abstractcore.conf\" ]; };\n" /* 2 */
             "providers = (\n"                                                    /* 3 */
             "  { name = \"a\"; plugin = \"openai\";\n"                           /* 4 */
             "    api_key_env = \"AC_TEST_NO_SUCH_KEY\"; },\n"                      /* 5 */
             "  { name = \"b\"; plugin = \"openai\"; api_key = \"k\";\n"          /* 6 */
             "    api_key_env = \"AC_TEST_NO_SUCH_KEY\"; }\n"                       /* 7 */
             ");\n", TEST_BUILDDIR, TEST_SRCDIR);
    char *path = tu_write_temp(text);
    char *report = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_ECONFIG);
    char want[8192];
    snprintf(want, sizeof want,
             "%1$s:2: plugin_path folder '/nonexistent/ac-plugins' cannot be read: No such "
             "file or directory\n"
             "%1$s:2: plugin_path folder '%2$s/conf/abstractcore.conf' cannot be read: not a "
             "folder\n"
             "%1$s:5: provider 'a': environment variable AC_TEST_NO_SUCH_KEY (api_key_env) is "
             "not set\n", path, TEST_SRCDIR);
    TU_ASSERT_STR(report, want);
    ac_free(report);
    /* Set, the variable is fine; b's api_key wins over it anyway. */
    setenv("AC_TEST_NO_SUCH_KEY", "sk-test", 1);
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_ECONFIG);
    CU_ASSERT_PTR_NULL(report && strstr(report, "AC_TEST_NO_SUCH_KEY"));
    ac_free(report);
    unsetenv("AC_TEST_NO_SUCH_KEY");
    /* $ABSTRACTCORE_PLUGIN_PATH's folders too, without a line. */
    setenv("ABSTRACTCORE_PLUGIN_PATH", "/nonexistent/ac-env-plugins", 1);
    drop(path);
    path = conf("");
    CU_ASSERT_EQUAL(ac_core_check_config(path, &report, &err), AC_ECONFIG);
    TU_ASSERT_STR(report, "$ABSTRACTCORE_PLUGIN_PATH folder '/nonexistent/ac-env-plugins' "
                          "cannot be read: No such file or directory\n");
    ac_free(report);
    unsetenv("ABSTRACTCORE_PLUGIN_PATH");
    drop(path);
}

static void test_sample_config_is_clean(void)
{
    /* conf/abstractcore.conf, with this tree's plugins: no problem. */
    char env[4096] = "";
    static const char *const names[] = {"openai", "anthropic", "ollama", "lmstudio",
                                        "huggingface", "mlx"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        snprintf(env + strlen(env), sizeof env - strlen(env), "%s%s/plugins/%s/.libs",
                 i ? ":" : "", TEST_BUILDDIR, names[i]);
    setenv("ABSTRACTCORE_PLUGIN_PATH", env, 1);
    /* The sample's providers read their keys from these. */
    setenv("OPENAI_API_KEY", "sk-test", 1);
    setenv("ANTHROPIC_API_KEY", "sk-test", 1);
    char *report = NULL;
    ac_error err;
    CU_ASSERT_EQUAL(ac_core_check_config(TEST_SRCDIR "/conf/abstractcore.conf", &report, &err),
                    AC_OK);
    TU_ASSERT_STR(report, "");
    ac_free(report);
    unsetenv("OPENAI_API_KEY");
    unsetenv("ANTHROPIC_API_KEY");
    unsetenv("ABSTRACTCORE_PLUGIN_PATH");
}

/* ------------------------------------------------------------------ */
/* The table and the documentation                                     */
/* ------------------------------------------------------------------ */

/* The documented name of a key: engine keys as `engine.NAME` (the
 * abstractcore table), trace keys as `trace.NAME`, the gateway's as
 * `server.NAME` and `server.keys.NAME`, the others as themselves. */
static void doc_name(const keydef *k, char *buf, size_t n)
{
    snprintf(buf, n, "| `%s%s` |", k->scope == KS_ENGINE          ? "engine."
                                   : k->scope == KS_TRACE         ? "trace."
                                   : k->scope == KS_SERVER        ? "server."
                                   : k->scope == KS_SERVER_KEY    ? "server.keys."
                                                                  : "",
             k->name);
}

static void test_every_key_documented(void)
{
    char *doc = tu_read_file(TEST_SRCDIR "/docs/configuration.md", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    size_t n;
    const keydef *keys = ac__keys(&n);
    for (size_t i = 0; i < n; i++) {
        char name[128], type[256], cell[300];
        doc_name(&keys[i], name, sizeof name);
        ac__key_type_text(&keys[i], type, sizeof type);
        snprintf(cell, sizeof cell, " %s |", type);
        const char *row = strstr(doc, name);
        const char *eol = row ? strchr(row, '\n') : NULL;
        /* The row's second cell is the table's type text, exactly. */
        int ok = row && eol && strncmp(row + strlen(name), cell, strlen(cell)) == 0;
        if (!ok)
            fprintf(stderr, "\n  docs/configuration.md: no row \"%s%s\"", name, cell);
        CU_ASSERT_TRUE(ok);
    }
    /* And every row of those tables is a key of the table. */
    for (const char *p = doc; (p = strstr(p, "\n| `")) != NULL; p++) {
        const char *end = strstr(p + 4, "` |");
        if (!end || end - (p + 4) >= 100)
            continue;
        char row[128];
        snprintf(row, sizeof row, "| `%.*s` |", (int)(end - (p + 4)), p + 4);
        int known = 0;
        for (size_t i = 0; i < n && !known; i++) {
            char name[128];
            doc_name(&keys[i], name, sizeof name);
            known = strcmp(name, row) == 0;
        }
        if (!known)
            fprintf(stderr, "\n  docs/configuration.md documents %s, which keys.c lacks", row);
        CU_ASSERT_TRUE(known);
    }
    free(doc);
}

/* abstractcore.conf(5), made by docs/conf-man.awk from configuration.md's
 * tables: every key of the table, with its exact type, as
 * "\fBNAME\fR (TYPE" (the engine, trace and server keys with their group). */
static void test_every_key_in_man_page(void)
{
    char *man = tu_read_file(TEST_BUILDDIR "/docs/abstractcore.conf.5", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(man);
    size_t n;
    const keydef *keys = ac__keys(&n);
    for (size_t i = 0; i < n; i++) {
        char type[256], entry[400];
        ac__key_type_text(&keys[i], type, sizeof type);
        const char *group = keys[i].scope == KS_ENGINE       ? "engine."
                            : keys[i].scope == KS_TRACE      ? "trace."
                            : keys[i].scope == KS_SERVER     ? "server."
                            : keys[i].scope == KS_SERVER_KEY ? "server.keys."
                                                             : "";
        snprintf(entry, sizeof entry, "\n.TP\n\\fB%s%s\\fR (%s", group, keys[i].name, type);
        int ok = strstr(man, entry) != NULL;
        if (!ok)
            fprintf(stderr, "\n  docs/abstractcore.conf.5: no entry \"%s\"", entry + 5);
        CU_ASSERT_TRUE(ok);
    }
    free(man);
}

static void test_nearest(void)
{
    TU_ASSERT_STR(ac__key_nearest(KS_PROVIDER, "base_ulr", NULL, 0), "base_url");
    TU_ASSERT_STR(ac__key_nearest(KS_PROVIDER, "timeout", NULL, 0), "timeout_ms");
    TU_ASSERT_STR(ac__key_nearest(KS_PROVIDER, "apikey", NULL, 0), "api_key");
    TU_ASSERT_STR(ac__key_nearest(KS_PROVIDER, "tls_verfy", NULL, 0), "tls_verify");
    CU_ASSERT_PTR_NULL(ac__key_nearest(KS_PROVIDER, "colour", NULL, 0));
    CU_ASSERT_PTR_NULL(ac__key_nearest(KS_PROVIDER, "nmae", NULL, 1)); /* name: not an option */
    static const char *const extra[] = {"keep_alive", NULL};
    TU_ASSERT_STR(ac__key_nearest(KS_PROVIDER, "keepalive", extra, 0), "keep_alive");
    /* The public list is the table's provider keys. */
    size_t n, np = 0;
    const keydef *keys = ac__keys(&n);
    for (size_t i = 0; i < n; i++)
        if (keys[i].scope == KS_PROVIDER)
            TU_ASSERT_STR(ac_core_provider_setting(np++), keys[i].name);
    CU_ASSERT_PTR_NULL(ac_core_provider_setting(np));
}

int main(void)
{
    static const tu_test core_tests[] = {
        {"unknown top-level key", test_unknown_top_level_key},
        {"unknown abstractcore and engine keys", test_unknown_core_and_engine_keys},
        {"every problem counted", test_every_problem_counted},
        {"core values: type and range", test_core_values},
        {"core options", test_core_options},
    };
    static const tu_test provider_tests[] = {
        {"a typo'd key: that provider only", test_provider_typo_leaves_others},
        {"provider values: type, range, files", test_provider_values},
        {"keys the plugins declare", test_declared_plugin_keys},
        {"ABI 2.0 plugin: warnings only", test_undeclared_plugin_warns},
        {"wrong settings lists", test_bad_settings_lists},
        {"ac_options checked", test_options_checked},
        {"client_key_password is a secret", test_key_password_is_a_secret},
        {"the gateway's server section", test_server_section},
    };
    static const tu_test check_tests[] = {
        {"ac_core_check_config lists every problem", test_check_config_lists_all},
        {"ac_core_check_config out of memory", test_check_config_out_of_memory},
        {"unset key variables, unreadable plugin folders", test_check_variables_and_folders},
        {"the sample config is clean", test_sample_config_is_clean},
        {"every key documented", test_every_key_documented},
        {"every key in abstractcore.conf(5)", test_every_key_in_man_page},
        {"nearest key", test_nearest},
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    if (TU_ADD_SUITE("core groups", NULL, NULL, core_tests) ||
        TU_ADD_SUITE("providers", NULL, NULL, provider_tests) ||
        TU_ADD_SUITE("check", NULL, NULL, check_tests))
        return 99;
    return tu_run_suites();
}
