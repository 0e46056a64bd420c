/*
 * testutil.c -- shared helpers for the CUnit suites.  See testutil.h.
 */
#include "testutil.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *d = malloc(cap);
    size_t r;
    while (d && (r = fread(d + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *nd = realloc(d, cap * 2);
            if (!nd) {
                free(d);
                d = NULL;
                break;
            }
            d = nd;
            cap *= 2;
        }
    }
    fclose(f);
    if (!d)
        return NULL;
    d[n] = '\0';
    if (len)
        *len = n;
    return d;
}

char *tu_fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TEST_FIXTURES, name);
    char *d = tu_read_file(path, len);
    if (!d) {
        fprintf(stderr, "missing fixture %s\n", path);
        abort();
    }
    return d;
}

char *tu_write_temp(const char *text)
{
    char tmpl[] = "/tmp/actest-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        abort();
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n)
        abort();
    close(fd);
    return strdup(tmpl);
}

const char *tu_plugin_path_list(void)
{
    static char list[4096];
    if (list[0])
        return list;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/plugins", TEST_BUILDDIR);
    size_t off = (size_t)snprintf(list, sizeof list, "[ ");
    DIR *d = opendir(dir);
    struct dirent *e;
    int first = 1;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        off += (size_t)snprintf(list + off, sizeof list - off, "%s\"%s/%s/.libs\"",
                                first ? "" : ", ", dir, e->d_name);
        first = 0;
    }
    if (d)
        closedir(d);
    snprintf(list + off, sizeof list - off, " ]");
    return list;
}

ac_core *tu_open_core(const char *extra)
{
    char *text = NULL;
    size_t n = strlen(tu_plugin_path_list()) + (extra ? strlen(extra) : 0) + 256;
    text = malloc(n);
    snprintf(text, n, "abstractcore = { plugin_path = %s; };\n%s\n",
             tu_plugin_path_list(), extra ? extra : "");
    char *path = tu_write_temp(text);
    free(text);
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, path, &err) != AC_OK) {
        fprintf(stderr, "ac_core_open(%s): %s\n", path, err.message);
        abort();
    }
    unlink(path);
    free(path);
    return core;
}

int tu_run_suites(void)
{
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned fails = CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    (void)failed;
    return fails ? 1 : (CU_get_error() ? 2 : 0);
}
