/*
 * test_fuzz_regress.c -- the fuzz targets (fuzz/<target>.c) built with the
 * normal compiler, without libFuzzer, run over the inputs kept under
 * tests/fixtures/fuzz/<target>/: every crash `make fuzz` ever found (the
 * file that triggered it), plus a few inputs per target that reach deep,
 * so past crashes stay fixed on machines without clang.
 *
 * One test per target (parse and replay once per bundled plugin, loaded
 * from plugins/<name>/.libs/).  A test passes when every input runs to
 * the end with every check of the target holding (a check that fails is
 * a failed assertion naming fuzz/<target>.c and the line); a crash or a
 * leak fails the program as it would under libFuzzer (run it under
 * valgrind, or build with --enable-sanitizers, to see leaks and memory
 * errors the way make fuzz does).  A target whose folder is missing or
 * empty fails: every target keeps at least one input.
 */
#include "fuzz.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    CU_assertImplementation(CU_FALSE, (unsigned)line, what, file, "", CU_FALSE);
}

const char *fuzz_plugin_so(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/plugins/%s/.libs/%s.so", TEST_BUILDDIR, name, name);
    return path;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run target t (for plugin, or NULL) over every file of its folder. */
static void replay_folder(const fuzz_target *t, const char *plugin)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/fuzz/%s%s%s", TEST_FIXTURES, t->name, plugin ? "_" : "",
             plugin ? plugin : "");
    DIR *d = opendir(dir);
    if (!d)
        fprintf(stderr, "%s: missing\n", dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char **nv = realloc(names, (n + 1) * sizeof *nv);
        CU_ASSERT_PTR_NOT_NULL_FATAL(nv);
        names = nv;
        names[n] = strdup(e->d_name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(names[n]);
        n++;
    }
    closedir(d);
    CU_ASSERT(n > 0);
    qsort(names, n, sizeof *names, cmp_names);
    CU_ASSERT_EQUAL_FATAL(t->init(plugin), 0);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len = 0;
        char *data = tu_read_file(path, &len);
        CU_ASSERT_PTR_NOT_NULL(data);
        if (data) {
            /* An exact copy: a read past the end is caught by valgrind
             * and ASan, as libFuzzer's own copy would be. */
            uint8_t *copy = malloc(len ? len : 1);
            CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
            memcpy(copy, data, len);
            t->run(copy, len);
            free(copy);
        }
        free(data);
        free(names[i]);
    }
    t->fini();
    printf("\n    %s%s%s: %zu inputs\n", t->name, plugin ? "_" : "", plugin ? plugin : "", n);
    free(names);
}

#define SIMPLE(name)                                                       \
    static void test_##name(void) { replay_folder(&fuzz_##name, NULL); }
SIMPLE(framer)
SIMPLE(config)
SIMPLE(session)
SIMPLE(schema)
SIMPLE(toolparse)
SIMPLE(reply)

#define PLUGIN(target, plugin)                                             \
    static void test_##target##_##plugin(void) { replay_folder(&fuzz_##target, #plugin); }
#define BOTH(plugin) PLUGIN(parse, plugin) PLUGIN(replay, plugin)
BOTH(openai)
BOTH(anthropic)
BOTH(ollama)
BOTH(lmstudio)
BOTH(huggingface)
BOTH(mlx)

/* The parse tests load each plugin through the fake host and unload it
 * before its replay test loads it in a core: a plugin keeps the host
 * table its entry was given last (testkit.h). */
static const tu_test tests[] = {
    {"framer", test_framer},
    {"parse_openai", test_parse_openai},
    {"replay_openai", test_replay_openai},
    {"parse_anthropic", test_parse_anthropic},
    {"replay_anthropic", test_replay_anthropic},
    {"parse_ollama", test_parse_ollama},
    {"replay_ollama", test_replay_ollama},
    {"parse_lmstudio", test_parse_lmstudio},
    {"replay_lmstudio", test_replay_lmstudio},
    {"parse_huggingface", test_parse_huggingface},
    {"replay_huggingface", test_replay_huggingface},
    {"parse_mlx", test_parse_mlx},
    {"replay_mlx", test_replay_mlx},
    {"config", test_config},
    {"session", test_session},
    {"schema", test_schema},
    {"toolparse", test_toolparse},
    {"reply", test_reply},
};

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (TU_ADD_SUITE("fuzz regressions", NULL, NULL, tests) != 0)
        return 2;
    return tu_run_suites();
}
