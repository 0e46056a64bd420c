/*
 * fuzz.h -- the fuzz targets' common shape.
 *
 * Each fuzz/<name>.c is one target: a fuzz_target with an init (once per
 * process), a run (one input: the body of LLVMFuzzerTestOneInput) and a
 * fini.  Two harnesses drive them:
 *   - fuzz/main.c, built by `make fuzz` with clang and libFuzzer, one
 *     binary per target (and per plugin for parse and replay), defines
 *     LLVMFuzzerInitialize and LLVMFuzzerTestOneInput on top of these;
 *   - tests/test_fuzz_regress.c, built by `make check` with the normal
 *     compiler, runs every target over the inputs kept under
 *     tests/fixtures/fuzz/<target>/ (the crashes fuzzing found once).
 * The harness provides fuzz_fail (what a broken invariant does: abort
 * under libFuzzer, a failed assertion in the regression test) and
 * fuzz_plugin_so (where a bundled plugin's .so is).
 *
 * A target never touches the network, never loads a file it did not
 * choose, and frees everything it made before run returns.  Targets are
 * single-threaded (libFuzzer runs one input at a time).
 */
#ifndef AC_FUZZ_H
#define AC_FUZZ_H
#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_target {
    const char *name;   /* folder name under tests/fixtures/fuzz/ (parse
                           and replay add "_<plugin>") */
    /* Once, before the first input.  plugin: the bundled plugin to drive
     * (parse and replay), else NULL.  0 ok, -1 cannot run (message on
     * stderr). */
    int  (*init)(const char *plugin);
    /* One input.  Returns 0 (libFuzzer's convention). */
    int  (*run)(const uint8_t *data, size_t size);
    void (*fini)(void);
} fuzz_target;

extern const fuzz_target fuzz_framer, fuzz_parse, fuzz_replay, fuzz_config,
    fuzz_session, fuzz_schema, fuzz_toolparse, fuzz_reply;

/* Provided by the harness.  An invariant of the code under test does not
 * hold: under libFuzzer this aborts (a crash, with the input saved). */
void fuzz_fail(const char *file, int line, const char *what);
#define FUZZ_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond))                                                       \
            fuzz_fail(__FILE__, __LINE__, #cond);                          \
    } while (0)

/* Provided by the harness: the absolute path of the bundled plugin
 * `name`'s shared object (static storage, valid until the next call). */
const char *fuzz_plugin_so(const char *name);

/* ---- helpers (fuzz/fuzzutil.c) ---- */

/* 1 if an error message is one line, as ac_error promises (no CR, LF). */
int   fuzz_one_line(const char *msg);

/* A NUL-terminated malloc'd copy of data (NULL on no memory). */
char *fuzz_strndup(const uint8_t *data, size_t size);
/* Replace the contents of the file at path with data; 0 or -1. */
int   fuzz_write_file(const char *path, const void *data, size_t size);
/* A new empty temporary file's path (malloc'd), removed by
 * fuzz_temp_remove; NULL on failure. */
char *fuzz_temp_file(const char *tag);
void  fuzz_temp_remove(char *path);
#endif
