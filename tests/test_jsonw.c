/*
 * test_jsonw.c -- the checked JSON writer (core/jsonw.c): what it writes
 * parses back to what was written (escapes, nesting, numbers), misuse and
 * out of memory give NULL rather than a damaged document.
 */
#include "alloc.h"
#include "jsonw.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <float.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

static char *sample(int pretty)
{
    jsonw w;
    ac__jw_init(&w, pretty);
    ac__jw_object(&w);
    ac__jw_key(&w, "text");
    ac__jw_string(&w, "quote \" backslash \\ newline \n tab \t bell \a nul-free \xc3\xa9 \xf0\x9f\x98\x80");
    ac__jw_key(&w, "n");
    ac__jw_int(&w, -9007199254740993LL);
    ac__jw_key(&w, "x");
    ac__jw_double(&w, 0.1);
    ac__jw_key(&w, "one");
    ac__jw_double(&w, 1.0);
    ac__jw_key(&w, "big");
    ac__jw_double(&w, DBL_MAX);
    ac__jw_key(&w, "inf");
    ac__jw_double(&w, INFINITY);
    ac__jw_key(&w, "list");
    ac__jw_array(&w);
    ac__jw_bool(&w, 1);
    ac__jw_bool(&w, 0);
    ac__jw_null(&w);
    ac__jw_array(&w);
    ac__jw_end(&w);
    ac__jw_object(&w);
    ac__jw_end(&w);
    ac__jw_raw(&w, "{\"raw\":[1,2]}");
    ac__jw_end(&w);
    ac__jw_end(&w);
    return ac__jw_finish(&w, NULL);
}

static void test_round_trip(void)
{
    for (int pretty = 0; pretty < 2; pretty++) {
        char *t = sample(pretty);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        json_object *o = json_tokener_parse(t);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        TU_ASSERT_STR(tu_jstr(o, "text"), "quote \" backslash \\ newline \n tab \t bell \a "
                                          "nul-free \xc3\xa9 \xf0\x9f\x98\x80");
        CU_ASSERT_EQUAL(json_object_get_int64(tu_jget(o, "n")), -9007199254740993LL);
        CU_ASSERT_EQUAL(json_object_get_double(tu_jget(o, "x")), 0.1);
        CU_ASSERT(json_object_is_type(tu_jget(o, "one"), json_type_double));
        CU_ASSERT_EQUAL(json_object_get_double(tu_jget(o, "big")), DBL_MAX);
        CU_ASSERT(tu_jhas(o, "inf") && tu_jget(o, "inf") == NULL); /* null */
        CU_ASSERT_EQUAL(json_object_array_length(tu_jget(o, "list")), 6);
        CU_ASSERT_EQUAL(json_object_get_int(tu_jget(o, "list.5.raw.1")), 2);
        CU_ASSERT_EQUAL(pretty, strchr(t, '\n') != NULL);
        /* Control characters are escaped, never written raw. */
        CU_ASSERT_PTR_NULL(strchr(t, '\a'));
        CU_ASSERT_PTR_NOT_NULL(strstr(t, "\\u0007"));
        json_object_put(o);
        ac__free(t);
    }
}

static void test_misuse_gives_null(void)
{
    jsonw w;
    ac__jw_init(&w, 0);
    ac__jw_end(&w);                       /* nothing open */
    CU_ASSERT_PTR_NULL(ac__jw_finish(&w, NULL));
    ac__jw_init(&w, 0);
    ac__jw_key(&w, "k");                  /* a key outside an object */
    CU_ASSERT_PTR_NULL(ac__jw_finish(&w, NULL));
    ac__jw_init(&w, 0);
    ac__jw_int(&w, 1);
    ac__jw_int(&w, 2);                    /* two documents */
    CU_ASSERT_PTR_NULL(ac__jw_finish(&w, NULL));
    ac__jw_init(&w, 0);
    ac__jw_object(&w);                    /* never closed */
    CU_ASSERT_PTR_NULL(ac__jw_finish(&w, NULL));
    ac__jw_init(&w, 0);
    for (int i = 0; i < AC_JW_MAX_DEPTH + 1; i++)
        ac__jw_array(&w);                 /* too deep */
    for (int i = 0; i < AC_JW_MAX_DEPTH + 1; i++)
        ac__jw_end(&w);
    CU_ASSERT_PTR_NULL(ac__jw_finish(&w, NULL));
    ac__jw_init(&w, 0);
    CU_ASSERT_PTR_NULL(ac__jw_finish(&w, NULL)); /* empty */
}

static void test_out_of_memory(void)
{
    char *whole = sample(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
    int nulls = 0;
    for (long n = 0;; n++) {
        ac__alloc_fail_after(n);
        char *t = sample(1);
        long failures = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        if (!t) {
            nulls++;
            continue;
        }
        CU_ASSERT_STRING_EQUAL(t, whole); /* whole, or nothing */
        ac__free(t);
        if (failures == 0)
            break;
    }
    CU_ASSERT(nulls > 0);
    ac__free(whole);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"round trip", test_round_trip},
        {"misuse gives NULL", test_misuse_gives_null},
        {"out of memory gives NULL", test_out_of_memory},
    };
    TU_ADD_SUITE("jsonw", NULL, NULL, tests);
    return tu_run_suites();
}
