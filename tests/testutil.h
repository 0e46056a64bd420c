/*
 * testutil.h -- shared helpers for the CUnit suites: fixtures, temporary
 * files, a core with every plugin of this tree, reading JSON by path and
 * asserting on strings that may be NULL.
 */
#ifndef AC_TESTUTIL_H
#define AC_TESTUTIL_H
#include <stddef.h>
#include <abstractcore/abstractcore.h>

struct json_object;

/* Read a whole file (NUL-terminated, malloc'd; free()); NULL on failure. */
char *tu_read_file(const char *path, size_t *len);
/* Read tests/fixtures/<name>. Aborts the test program if missing. */
char *tu_fixture(const char *name, size_t *len);
/* The len bytes of text with each "\n" made "\r\n" (sse-starlette's line
 * ends): malloc'd and NUL-terminated (free()), *out_len bytes.  A CUnit
 * assertion: the test stops here when out of memory. */
char *tu_crlf(const char *text, size_t len, size_t *out_len);
/* Write text to a new temporary file; returns its malloc'd path. */
char *tu_write_temp(const char *text);
/*
 * Open a core whose plugin_path lists every plugin built in this tree
 * (plugins/<name>/.libs) and whose config holds `extra` verbatim after the
 * abstractcore group (e.g. a `providers = ( ... );` list; may be NULL).
 * Aborts on failure (prints the error).
 */
ac_core *tu_open_core(const char *extra);
/* The libconfig plugin_path list text: [ "dir1", "dir2", ... ] (static). */
const char *tu_plugin_path_list(void);
/* Run the CUnit registry built by the caller; returns the exit status. */
int tu_run_suites(void);

/* One test of a table. */
typedef struct tu_test {
    const char *name;
    void      (*fn)(void);
} tu_test;
/* Add a suite (init and clean may be NULL) with the n tests of the table
 * to the CUnit registry, in order; 0, or -1 when CUnit fails. */
int tu_add_suite(const char *name, int (*init)(void), int (*clean)(void),
                 const tu_test *tests, size_t n);
/* The same for a table array. */
#define TU_ADD_SUITE(name, init, clean, tests)                             \
    tu_add_suite((name), (init), (clean), (tests),                         \
                 sizeof (tests) / sizeof (tests)[0])

/* Wait until cond(ctx) is true, checking every millisecond, at most
 * timeout_ms; returns 1 if it became true, 0 if the time ran out.  For
 * waiting on an observable state, never as a guess at how long
 * something takes. */
int tu_wait_until(int (*cond)(void *ctx), void *ctx, int timeout_ms);

/* Append at most n bytes of s to the NUL-terminated buf of size cap,
 * truncating at cap; buf stays terminated. */
void tu_append(char *buf, size_t cap, const char *s, size_t n);

/* JSON by path ("a.b.2.c": object members and array indexes); NULL when
 * any step is missing.  Borrowed from o. */
struct json_object *tu_jget(struct json_object *o, const char *path);
/* The string at path, or NULL when missing or not a string. */
const char *tu_jstr(struct json_object *o, const char *path);
/* 1 if the last member of path exists (even as null), else 0. */
int tu_jhas(struct json_object *o, const char *path);
/* 1 if two JSON texts (either may be NULL) parse to equal values. */
int tu_json_text_equal(const char *a, const char *b);

/* CU_ASSERT_STRING_EQUAL crashes on NULL; this fails the test instead.
 * Needs <CUnit/CUnit.h>. */
#define TU_ASSERT_STR(got, want)                                           \
    do {                                                                   \
        const char *got_ = (got);                                          \
        CU_ASSERT_PTR_NOT_NULL(got_);                                      \
        if (got_)                                                          \
            CU_ASSERT_STRING_EQUAL(got_, want);                            \
    } while (0)
#endif
