/*
 * testutil.c -- shared helpers for the CUnit suites.  See testutil.h.
 */
#include "testutil.h"
#include "alloc.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

char *tu_crlf(const char *text, size_t len, size_t *out_len)
{
    char *crlf = malloc(2 * len + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(crlf);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = text[i];
    }
    crlf[n] = '\0';
    *out_len = n;
    return crlf;
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
        /* Only plugins that were built: plugins/llamacpp exists in a
         * build tree without libllama, empty. */
        char libs[1400];
        struct stat st;
        snprintf(libs, sizeof libs, "%s/%s/.libs", dir, e->d_name);
        if (stat(libs, &st) != 0 || !S_ISDIR(st.st_mode))
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

int tu_add_suite(const char *name, int (*init)(void), int (*clean)(void),
                 const tu_test *tests, size_t n)
{
    CU_pSuite s = CU_add_suite(name, init, clean);
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}

/* Runs last: every block the library allocated is freed by now (every
 * core closed, every handle freed), on every path the tests took. */
static void test_no_live_allocations(void)
{
    long live = ac__alloc_live();
    if (live != 0)
        fprintf(stderr, "%ld library allocation(s) still live after every test\n", live);
    CU_ASSERT_EQUAL(live, 0);
}

int tu_run_suites(void)
{
    /* Tests never read what is configured on the machine: no system-wide
     * file (make install puts none, but an administrator may), no user
     * file, no file named by the caller's environment.  A test that wants
     * the search order sets these itself. */
    setenv("ABSTRACTCORE_CONFIG_NOSYSTEM", "1", 1);
    setenv("XDG_CONFIG_HOME", "/nonexistent/abstractcore-tests", 1);
    unsetenv("ABSTRACTCORE_CONFIG");
    static const tu_test leaks[] = {
        {"no library allocation outlives the tests", test_no_live_allocations},
    };
    TU_ADD_SUITE("leaks", NULL, NULL, leaks);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned fails = CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    (void)failed;
    return fails ? 1 : (CU_get_error() ? 2 : 0);
}

int tu_wait_until(int (*cond)(void *ctx), void *ctx, int timeout_ms)
{
    struct timespec t0, now, ms = {0, 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (cond(ctx))
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double spent = (double)(now.tv_sec - t0.tv_sec) * 1e3 +
                       (double)(now.tv_nsec - t0.tv_nsec) / 1e6;
        if (spent >= timeout_ms)
            return cond(ctx);
        nanosleep(&ms, NULL);
    }
}

void tu_append(char *buf, size_t cap, const char *s, size_t n)
{
    size_t have = strlen(buf);
    if (have + 1 >= cap)
        return;
    if (n > cap - have - 1)
        n = cap - have - 1;
    memcpy(buf + have, s, n);
    buf[have + n] = '\0';
}

json_object *tu_jget(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, ".")) {
        if (json_object_is_type(o, json_type_array)) {
            o = json_object_array_get_idx(o, (size_t)atoi(tok));
        } else if (!json_object_object_get_ex(o, tok, &o)) {
            return NULL;
        }
    }
    return o;
}

const char *tu_jstr(json_object *o, const char *path)
{
    json_object *v = tu_jget(o, path);
    return v && json_object_is_type(v, json_type_string)
           ? json_object_get_string(v) : NULL;
}

int tu_jhas(json_object *o, const char *path)
{
    char buf[256];
    const char *dot = strrchr(path, '.');
    json_object *parent = o, *v = NULL;
    if (dot) {
        snprintf(buf, sizeof buf, "%.*s", (int)(dot - path), path);
        parent = tu_jget(o, buf);
    }
    return parent && json_object_object_get_ex(parent, dot ? dot + 1 : path,
                                               &v);
}

int tu_json_text_equal(const char *a, const char *b)
{
    json_object *x = a ? json_tokener_parse(a) : NULL;
    json_object *y = b ? json_tokener_parse(b) : NULL;
    int eq = x && y && json_object_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return eq;
}
