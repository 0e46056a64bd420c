/*
 * main.c -- the libFuzzer harness: LLVMFuzzerInitialize and
 * LLVMFuzzerTestOneInput on top of one fuzz_target (fuzz.h).
 *
 * Built once per fuzz binary by fuzz/fuzz.mk with
 *   -DFUZZ_TARGET=<name>      the target (fuzz_<name> in fuzz.h)
 *   -DFUZZ_PLUGIN=<plugin>    for parse and replay: the bundled plugin
 *   -DFUZZ_PLUGINDIR="<dir>"  where make fuzz put the instrumented
 *                             plugins (<dir>/<plugin>.so); $FUZZ_PLUGINDIR
 *                             overrides it.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)
#define FUZZ_SYM2(n) fuzz_##n
#define FUZZ_SYM(n) FUZZ_SYM2(n)

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET names the target: -DFUZZ_TARGET=framer"
#endif
#ifndef FUZZ_PLUGINDIR
#define FUZZ_PLUGINDIR "."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const fuzz_target *target = &FUZZ_SYM(FUZZ_TARGET);

/* The sanitizers' report channel, which run.sh keeps when it drops the
 * target's stderr (-close_fd_mask=2). */
void __sanitizer_report_error_summary(const char *summary) __attribute__((weak));

void fuzz_fail(const char *file, int line, const char *what)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s:%d: fuzz target %s: check failed: %s", file, line,
             target->name, what);
    fprintf(stderr, "%s\n", msg);
    if (__sanitizer_report_error_summary)
        __sanitizer_report_error_summary(msg);
    abort();
}

const char *fuzz_plugin_so(const char *name)
{
    static char path[4096];
    const char *dir = getenv("FUZZ_PLUGINDIR");
    snprintf(path, sizeof path, "%s/%s.so", dir && *dir ? dir : FUZZ_PLUGINDIR, name);
    return path;
}

static void at_exit(void)
{
    target->fini();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
#ifdef FUZZ_PLUGIN
    const char *plugin = FUZZ_STR(FUZZ_PLUGIN);
#else
    const char *plugin = NULL;
#endif
    if (target->init(plugin) != 0) {
        fprintf(stderr, "fuzz target %s: cannot start\n", target->name);
        exit(1);
    }
    atexit(at_exit);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return target->run(data, size);
}
