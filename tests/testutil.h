/*
 * testutil.h -- shared helpers for the CUnit suites.
 */
#ifndef AC_TESTUTIL_H
#define AC_TESTUTIL_H
#include <stddef.h>
#include <abstractcore/abstractcore.h>

/* Read a whole file (NUL-terminated, malloc'd; free()); NULL on failure. */
char *tu_read_file(const char *path, size_t *len);
/* Read tests/fixtures/<name>. Aborts the test program if missing. */
char *tu_fixture(const char *name, size_t *len);
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
#endif
