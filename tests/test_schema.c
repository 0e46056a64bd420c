/*
 * test_schema.c -- CUnit suite for the JSON Schema draft 7 validator
 * (core/structured/schema*.c).
 *
 * Runs every case of the official JSON-Schema-Test-Suite's draft7 files
 * (Debian's json-schema-test-suite, /usr/share/json-schema-test-suite, or
 * $JSON_SCHEMA_TEST_SUITE), remotes served from its remotes/ folder by a
 * resolver, and the optional files whose features are implemented.  Then
 * hand-written cases: the errors a caller and a model see, the keyword
 * rule, depth bombs, cycles, bad regexes, every allocation failing in turn,
 * concurrent use, and a rough timing of a tool-call argument check.
 */
#include "structured/schema.h"
#include "alloc.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *suite_dir(void)
{
    const char *d = getenv("JSON_SCHEMA_TEST_SUITE");
    return d && *d ? d : "/usr/share/json-schema-test-suite";
}

/* Resolver: http://localhost:1234/X is remotes/X of the suite. */
static json_object *resolve_remote(void *ctx, const char *uri, ac_error *err)
{
    (void)ctx;
    const char *pre = "http://localhost:1234/";
    if (strncmp(uri, pre, strlen(pre)) || strstr(uri, "..")) {
        snprintf(err->message, sizeof err->message, "no remote %s", uri);
        err->code = AC_EINVAL;
        return NULL;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/remotes/%s", suite_dir(), uri + strlen(pre));
    json_object *o = json_object_from_file(path);
    if (!o) {
        snprintf(err->message, sizeof err->message, "cannot read %.400s", path);
        err->code = AC_EIO;
    }
    return o;
}

static const ac__schema_options suite_opt = { .resolve = resolve_remote };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run one suite file; counts into *pass / *fail; prints failures. */
static int report_failures = 1;

static void run_file(const char *path, const char *label, int *pass, int *fail)
{
    json_object *groups = json_object_from_file(path);
    if (!groups) {
        printf("  cannot read %s\n", path);
        (*fail)++;
        return;
    }
    for (size_t g = 0; g < json_object_array_length(groups); g++) {
        json_object *grp = json_object_array_get_idx(groups, g);
        const char *gdesc = tu_jstr(grp, "description");
        ac_error err = { 0 };
        ac__schema *s = ac__schema_compile(tu_jget(grp, "schema"), &suite_opt, &err);
        json_object *tests = tu_jget(grp, "tests");
        for (size_t t = 0; t < json_object_array_length(tests); t++) {
            json_object *tc = json_object_array_get_idx(tests, t);
            const char *tdesc = tu_jstr(tc, "description");
            int want = json_object_get_boolean(tu_jget(tc, "valid"));
            if (!s) {
                if (report_failures)
                    printf("  FAIL %s: \"%s\" / \"%s\": compile: %s\n", label, gdesc, tdesc,
                       err.message);
                (*fail)++;
                continue;
            }
            ac__schema_errors errs = { 0 };
            ac_error verr = { 0 };
            int got = ac__schema_validate(s, tu_jget(tc, "data"), &errs, &verr);
            if (got == want) {
                (*pass)++;
                /* an invalid verdict always comes with an explanation */
                if (got == 0 && errs.count == 0) {
                    printf("  FAIL %s: \"%s\" / \"%s\": invalid without errors\n", label,
                           gdesc, tdesc);
                    (*fail)++;
                    (*pass)--;
                }
            } else if (!report_failures) {
                (*fail)++;
            } else {
                char *text = ac__schema_errors_text(&errs, 5);
                printf("  FAIL %s: \"%s\" / \"%s\": want %s, got %d %s%s\n", label, gdesc,
                       tdesc, want ? "valid" : "invalid", got, got < 0 ? verr.message : "",
                       text ? text : "");
                free(text);
                (*fail)++;
            }
            ac__schema_errors_free(&errs);
        }
        ac__schema_free(s);
    }
    json_object_put(groups);
}

/* Run every *.json of dir (sorted); returns failures. */
static int run_dir(const char *sub, const char *const *only, int *total_pass)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/draft7%s", suite_dir(), sub);
    DIR *d = opendir(dir);
    if (!d) {
        printf("  the JSON Schema test suite is missing: %s (Debian package "
               "json-schema-test-suite)\n", dir);
        return 1;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    int fails = 0, files = 0;
    for (size_t i = 0; i < n; i++) {
        int wanted = !only;
        for (size_t k = 0; only && only[k]; k++)
            wanted |= !strcmp(only[k], names[i]);
        if (wanted) {
            char path[1400], label[300];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            snprintf(label, sizeof label, "draft7%s/%s", sub, names[i]);
            int p = 0, f = 0;
            run_file(path, label, &p, &f);
            printf("  %-40s %3d passed, %d failed\n", label, p, f);
            fails += f;
            *total_pass += p;
            files++;
        }
        free(names[i]);
    }
    if (only) {
        size_t want = 0;
        while (only[want])
            want++;
        if ((size_t)files != want) {
            printf("  only %d of the %zu listed files exist in %s\n", files, want, dir);
            fails++;
        }
    }
    return fails;
}

static void test_required_suite(void)
{
    int pass = 0;
    printf("\n");
    int fails = run_dir("", NULL, &pass);
    printf("  required draft7 suite: %d cases passed, %d failed\n", pass, fails);
    CU_ASSERT_EQUAL(fails, 0);
    CU_ASSERT_TRUE(pass > 400);
}

/* Optional files this validator implements (see schema.h), all of whose
 * cases must pass: bignum, ecmascript-regex, zeroTerminatedFloats, and
 * format/ date-time, date, email, hostname, ipv4, ipv6, iri-reference, iri,
 * json-pointer, regex, relative-json-pointer, time, uri-reference,
 * uri-template, uri.  Not implemented (run, counted, not asserted):
 * content.json (contentMediaType / contentEncoding are annotations here),
 * format/idn-email.json and format/idn-hostname.json (no IDNA; those
 * formats are annotations). */
static void test_optional_suite(void)
{
    static const char *const opt[] = { "bignum.json", "ecmascript-regex.json",
                                       "zeroTerminatedFloats.json", NULL };
    static const char *const fmt[] = {
        "date-time.json", "date.json", "email.json", "hostname.json", "ipv4.json",
        "ipv6.json", "iri-reference.json", "iri.json", "json-pointer.json", "regex.json",
        "relative-json-pointer.json", "time.json", "uri-reference.json",
        "uri-template.json", "uri.json", NULL };
    int pass = 0;
    printf("\n");
    int fails = run_dir("/optional", opt, &pass) + run_dir("/optional/format", fmt, &pass);
    printf("  optional draft7 files: %d cases passed, %d failed\n", pass, fails);
    CU_ASSERT_EQUAL(fails, 0);
    static const char *const no_opt[] = { "content.json", NULL };
    static const char *const no_fmt[] = { "idn-email.json", "idn-hostname.json", NULL };
    int skipped_pass = 0;
    report_failures = 0;
    printf("  not implemented, for information (\"failed\" = not detected):\n");
    run_dir("/optional", no_opt, &skipped_pass);
    run_dir("/optional/format", no_fmt, &skipped_pass);
    report_failures = 1;
}

/* ---- helpers for hand-written cases ---- */

static ac__schema *compile(const char *text, ac_error *err)
{
    memset(err, 0, sizeof *err);
    return ac__schema_compile_text(text, strlen(text), NULL, err);
}

/* Validate instance text; returns the verdict, errors into *e. */
static int check(ac__schema *s, const char *inst, ac__schema_errors *e)
{
    json_object *o = json_tokener_parse(inst);
    ac_error err = { 0 };
    int r = ac__schema_validate(s, o, e, &err);
    json_object_put(o);
    return r;
}

static const char *const tool_schema =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    " \"required\":[\"name\",\"age\",\"email\"],"
    " \"properties\":{"
    "  \"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
    "  \"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},"
    "  \"email\":{\"type\":\"string\",\"format\":\"email\"},"
    "  \"unit\":{\"enum\":[\"celsius\",\"fahrenheit\"]},"
    "  \"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"},"
    "           \"uniqueItems\":true,\"maxItems\":5},"
    "  \"score\":{\"type\":\"number\",\"multipleOf\":0.5},"
    "  \"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "  \"verbose\":{\"type\":\"boolean\"},"
    "  \"limit\":{\"type\":\"integer\",\"exclusiveMinimum\":0},"
    "  \"where\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"},"
    "           \"lon\":{\"type\":\"number\"}},\"required\":[\"lat\",\"lon\"]}}}";

static const char *const tool_args =
    "{\"name\":\"Ada\",\"age\":36,\"email\":\"ada@example.com\",\"unit\":\"celsius\","
    "\"tags\":[\"math\",\"engines\"],\"score\":9.5,\"when\":\"2024-05-01T10:00:00Z\","
    "\"verbose\":true,\"limit\":10,\"where\":{\"lat\":51.5,\"lon\":-0.12}}";

static const ac__schema_error *find_err(const ac__schema_errors *e, const char *kw)
{
    for (size_t i = 0; i < e->count; i++)
        if (!strcmp(e->items[i].keyword, kw))
            return &e->items[i];
    return NULL;
}

static void test_error_pointers(void)
{
    ac_error err;
    ac__schema *s = compile(tool_schema, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ac__schema_errors e = { 0 };
    CU_ASSERT_EQUAL(check(s, tool_args, &e), 1);
    CU_ASSERT_EQUAL(e.count, 0);
    int r = check(s, "{\"name\":\"\",\"age\":-3,\"colour\":1,\"unit\":\"kelvin\","
                     "\"tags\":[\"ok\",\"Bad\",\"ok\"],\"score\":0.3,\"when\":\"yesterday\","
                     "\"limit\":0,\"where\":{\"lat\":\"x\"}}", &e);
    CU_ASSERT_EQUAL(r, 0);
    const ac__schema_error *x;
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "minimum")));
    TU_ASSERT_STR(x->instance_path, "/age");
    TU_ASSERT_STR(x->schema_path, "/properties/age/minimum");
    TU_ASSERT_STR(x->message, "/age: -3 is less than the minimum 0");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "required")));
    TU_ASSERT_STR(x->instance_path, "");
    TU_ASSERT_STR(x->schema_path, "/required");
    TU_ASSERT_STR(x->message, "(root): missing required property \"email\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "additionalProperties")));
    TU_ASSERT_STR(x->schema_path, "/additionalProperties");
    CU_ASSERT_PTR_NOT_NULL(strstr(x->message, "property \"colour\" is not allowed; allowed: \"age\""));
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "minLength")));
    TU_ASSERT_STR(x->message, "/name: \"\" is 0 characters long, shorter than the minimum 1");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "enum")));
    TU_ASSERT_STR(x->message, "/unit: \"kelvin\" is not one of \"celsius\", \"fahrenheit\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "pattern")));
    TU_ASSERT_STR(x->instance_path, "/tags/1");
    TU_ASSERT_STR(x->schema_path, "/properties/tags/items/pattern");
    TU_ASSERT_STR(x->message, "/tags/1: \"Bad\" does not match the pattern \"^[a-z]+$\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "uniqueItems")));
    TU_ASSERT_STR(x->message, "/tags: items 0 and 2 are equal, but items must be unique");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "multipleOf")));
    TU_ASSERT_STR(x->message, "/score: 0.3 is not a multiple of 0.5");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "format")));
    TU_ASSERT_STR(x->message, "/when: \"yesterday\" is not a valid date-time");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "exclusiveMinimum")));
    TU_ASSERT_STR(x->message, "/limit: 0 is not greater than the exclusive minimum 0");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "type")));
    TU_ASSERT_STR(x->instance_path, "/where/lat");
    TU_ASSERT_STR(x->message, "/where/lat: expected number, got string \"x\"");
    CU_ASSERT_EQUAL(e.count, e.total);
    CU_ASSERT_EQUAL(e.count, 12);
    ac__schema_errors_free(&e);
    /* pointers escape ~ and / in member names */
    ac__schema_free(s);
    s = compile("{\"additionalProperties\":{\"type\":\"string\"}}", &err);
    CU_ASSERT_EQUAL(check(s, "{\"a/b~c\":1}", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].instance_path, "/a~1b~0c");
    TU_ASSERT_STR(e.items[0].schema_path, "/additionalProperties/type");
    ac__schema_errors_free(&e);
    /* NULL out: the verdict only */
    CU_ASSERT_EQUAL(check(s, "{\"a\":1}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"a\":\"x\"}", NULL), 1);
    ac__schema_free(s);
}

static void test_combinator_errors(void)
{
    ac_error err;
    ac__schema_errors e = { 0 };
    /* the one alternative of the instance's type reports its own errors */
    ac__schema *s = compile("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"object\","
                            "\"required\":[\"id\"]}]}", &err);
    CU_ASSERT_EQUAL(check(s, "{}", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].keyword, "required");
    TU_ASSERT_STR(e.items[0].schema_path, "/anyOf/1/required");
    ac__schema_errors_free(&e);
    /* otherwise one error sums up each alternative */
    CU_ASSERT_EQUAL(check(s, "5", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].keyword, "anyOf");
    TU_ASSERT_STR(e.items[0].message, "(root): does not match any alternative of anyOf: "
                  "(1) expected string, got integer 5; (2) expected object, got integer 5");
    ac__schema_errors_free(&e);
    ac__schema_free(s);
    s = compile("{\"properties\":{\"v\":{\"oneOf\":[{\"minimum\":0},{\"multipleOf\":2}]}}}", &err);
    CU_ASSERT_EQUAL(check(s, "{\"v\":4}", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].message, "/v: matches both alternative 1 and 2 of oneOf, but must "
                  "match exactly one");
    ac__schema_errors_free(&e);
    CU_ASSERT_EQUAL(check(s, "{\"v\":-3}", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].message, "/v: does not match any alternative of oneOf: (1) -3 is "
                  "less than the minimum 0; (2) -3 is not a multiple of 2");
    ac__schema_errors_free(&e);
    ac__schema_free(s);
    s = compile("{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"},\"not\":{\"required\":[\"x\"]},"
                "\"if\":{\"required\":[\"a\"]},\"then\":{\"required\":[\"b\"]},"
                "\"dependencies\":{\"c\":[\"d\"]}}", &err);
    CU_ASSERT_EQUAL(check(s, "{\"Up\":1,\"x\":2,\"a\":3,\"c\":4}", &e), 0);
    const ac__schema_error *x;
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "propertyNames")));
    TU_ASSERT_STR(x->message, "(root): property name \"Up\" is not allowed: \"Up\" does not "
                  "match the pattern \"^[a-z]+$\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "not")));
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "required")));
    TU_ASSERT_STR(x->schema_path, "/then/required");
    CU_ASSERT_PTR_NOT_NULL_FATAL((x = find_err(&e, "dependencies")));
    TU_ASSERT_STR(x->message, "(root): property \"d\" is required when \"c\" is present");
    ac__schema_errors_free(&e);
    ac__schema_free(s);
}

static void test_error_text(void)
{
    ac_error err;
    ac__schema *s = compile("{\"items\":{\"type\":\"integer\"}}", &err);
    ac__schema_errors e = { 0 };
    CU_ASSERT_EQUAL(check(s, "[1,\"a\",2.5,null]", &e), 0);
    char *t = ac__schema_errors_text(&e, 0);
    TU_ASSERT_STR(t, "/1: expected integer, got string \"a\"\n"
                     "/2: expected integer, got number 2.5\n"
                     "/3: expected integer, got null null\n");
    ac__free(t);
    t = ac__schema_errors_text(&e, 1);
    TU_ASSERT_STR(t, "/1: expected integer, got string \"a\"\n(and 2 more errors)\n");
    ac__free(t);
    ac__schema_errors_free(&e);
    t = ac__schema_errors_text(&e, 0);
    TU_ASSERT_STR(t, "");
    ac__free(t);
    /* 1000 failures: max_errors (100) kept, validation stops looking */
    char *big = malloc(4 * 1000 + 3);
    strcpy(big, "[");
    for (int i = 0; i < 1000; i++)
        strcat(big, i ? ",\"x\"" : "\"x\"");
    strcat(big, "]");
    CU_ASSERT_EQUAL(check(s, big, &e), 0);
    CU_ASSERT_EQUAL(e.count, 100);
    CU_ASSERT_TRUE(e.total >= 100);
    t = ac__schema_errors_text(&e, 0);
    CU_ASSERT_PTR_NOT_NULL(t);
    CU_ASSERT_TRUE(t && strlen(t) < 2000);
    ac__free(t);
    ac__schema_errors_free(&e);
    free(big);
    /* a long string is cut in the message */
    char lng[3000];
    memset(lng, 'y', sizeof lng);
    lng[0] = '[';
    lng[1] = '"';
    strcpy(lng + sizeof lng - 3, "\"]");
    CU_ASSERT_EQUAL(check(s, lng, &e), 0);
    CU_ASSERT_TRUE(e.count == 1 && strlen(e.items[0].message) < 200);
    CU_ASSERT_PTR_NOT_NULL(e.count ? strstr(e.items[0].message, "...\"") : NULL);
    ac__schema_errors_free(&e);
    ac__schema_free(s);
}

static void expect_refused(const char *schema, ac_status code, const char *msg)
{
    ac_error err;
    ac__schema *s = compile(schema, &err);
    CU_ASSERT_PTR_NULL(s);
    ac__schema_free(s);
    CU_ASSERT_EQUAL(err.code, code);
    if (msg && strcmp(err.message, msg)) {
        printf("\n  schema %s\n  want: %s\n  got:  %s\n", schema, msg, err.message);
        CU_FAIL("message");
    }
}

static void test_keyword_rule(void)
{
    expect_refused("{\"properties\":{\"a\":{\"$defs\":{}}}}", AC_EUNSUPPORTED,
                   "schema /properties/a: keyword \"$defs\" (JSON Schema 2019-09/2020-12) is "
                   "not supported");
    expect_refused("{\"items\":[{\"unevaluatedProperties\":false}]}", AC_EUNSUPPORTED,
                   "schema /items/0: keyword \"unevaluatedProperties\" (JSON Schema "
                   "2019-09/2020-12) is not supported");
    expect_refused("{\"$ref\":\"#/definitions/a\",\"prefixItems\":[],\"definitions\":{\"a\":{}}}",
                   AC_EUNSUPPORTED, "schema (root): keyword \"prefixItems\" (JSON Schema "
                   "2019-09/2020-12) is not supported");
    expect_refused("{\"properties\":{\"age\":{\"minimun\":0}}}", AC_EINVAL,
                   "schema /properties/age: unknown keyword \"minimun\" (not part of JSON "
                   "Schema draft 7)");
    expect_refused("{\"nullable\":true}", AC_EINVAL,
                   "schema (root): unknown keyword \"nullable\" (not part of JSON Schema draft 7)");
    expect_refused("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"}",
                   AC_EUNSUPPORTED, "schema (root): $schema \"https://json-schema.org/draft/"
                   "2020-12/schema\" is not supported (this validator implements JSON Schema "
                   "draft 7)");
    expect_refused("{\"properties\":{\"a\":{\"minLength\":-1}}}", AC_EINVAL,
                   "schema /properties/a/minLength: must be a non-negative integer");
    expect_refused("{\"type\":\"strnig\"}", AC_EINVAL,
                   "schema /type: must be one of null, boolean, object, array, number, string, "
                   "integer, or a non-empty array of them");
    expect_refused("{\"exclusiveMinimum\":true}", AC_EINVAL,
                   "schema /exclusiveMinimum: must be a number (the boolean form is draft 4)");
    expect_refused("{\"properties\":{\"a\":5}}", AC_EINVAL,
                   "schema /properties/a: a schema must be an object or a boolean, not int");
    expect_refused("{\"required\":\"x\"}", AC_EINVAL,
                   "schema /required: must be an array of strings");
    expect_refused("{\"anyOf\":{}}", AC_EINVAL,
                   "schema /anyOf: must be a non-empty array of schemas");
    expect_refused("{\"allOf\":[]}", AC_EINVAL,
                   "schema /allOf: must be a non-empty array of schemas");
    expect_refused("{\"enum\":3}", AC_EINVAL, "schema /enum: must be an array");
    expect_refused("{\"items\":[true,5]}", AC_EINVAL,
                   "schema /items/1: a schema must be an object or a boolean, not int");
    expect_refused("{\"dependencies\":{\"a\":[1]}}", AC_EINVAL,
                   "schema /dependencies/a: must be a schema or an array of strings");
    expect_refused("{\"pattern\":5}", AC_EINVAL, "schema /pattern: must be a string");
    expect_refused("{\"multipleOf\":0}", AC_EINVAL, "schema /multipleOf: must be greater than 0");
    expect_refused("{\"$ref\":5}", AC_EINVAL, "schema /$ref: must be a string");
    /* an unknown keyword holding $ref targets is a container, as in ref.json */
    ac_error err;
    ac__schema *s = compile("{\"my-defs\":{\"pos\":{\"minimum\":0}},"
                            "\"properties\":{\"a\":{\"$ref\":\"#/my-defs/pos\"}}}", &err);
    CU_ASSERT_PTR_NOT_NULL(s);
    CU_ASSERT_EQUAL(check(s, "{\"a\":-1}", NULL), 0);
    ac__schema_free(s);
    /* with AC__SCHEMA_LENIENT unknown keywords are annotations */
    ac__schema_options o = { .flags = AC__SCHEMA_LENIENT };
    const char *t = "{\"nullable\":true,\"x-order\":3,\"type\":\"string\"}";
    s = ac__schema_compile_text(t, strlen(t), &o, &err);
    CU_ASSERT_PTR_NOT_NULL(s);
    CU_ASSERT_EQUAL(check(s, "null", NULL), 0);
    ac__schema_free(s);
    t = "{\"$defs\":{}}";
    s = ac__schema_compile_text(t, strlen(t), &o, &err);
    CU_ASSERT_PTR_NULL(s);
    /* annotations of draft 7 are accepted; draft-07 $schema too */
    s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$comment\":\"c\","
                "\"title\":\"t\",\"description\":\"d\",\"default\":1,\"examples\":[1],"
                "\"readOnly\":true,\"writeOnly\":false,\"contentMediaType\":\"text/plain\","
                "\"contentEncoding\":\"base64\",\"definitions\":{}}", &err);
    CU_ASSERT_PTR_NOT_NULL(s);
    ac__schema_free(s);
    /* formats: unknown names are annotations; AC__SCHEMA_FORMAT_ANNOTATION */
    s = compile("{\"format\":\"color\"}", &err);
    CU_ASSERT_EQUAL(check(s, "\"not a colour\"", NULL), 1);
    ac__schema_free(s);
    o.flags = AC__SCHEMA_FORMAT_ANNOTATION;
    t = "{\"format\":\"ipv4\"}";
    s = ac__schema_compile_text(t, strlen(t), &o, &err);
    CU_ASSERT_EQUAL(check(s, "\"999.1.1.1\"", NULL), 1);
    ac__schema_free(s);
    /* JSON syntax errors */
    expect_refused("{\"type\":", AC_EJSON, "schema is not valid JSON: unexpected end of data");
    expect_refused("{} x", AC_EJSON, "schema is not valid JSON: unexpected character");
    expect_refused("[1]", AC_EINVAL,
                   "schema (root): a schema must be an object or a boolean, not array");
}

static void test_refs(void)
{
    expect_refused("{\"$ref\":\"http://example.com/s.json#/x\"}", AC_EINVAL,
                   "schema (root): cannot resolve $ref \"http://example.com/s.json#/x\": no "
                   "resolver for remote references");
    expect_refused("{\"properties\":{\"a\":{\"$ref\":\"#/definitions/nope\"}}}", AC_EINVAL,
                   "schema /properties/a: cannot resolve $ref \"#/definitions/nope\": no such "
                   "location");
    expect_refused("{\"$ref\":\"#frag\"}", AC_EINVAL,
                   "schema (root): cannot resolve $ref \"#frag\": no schema has that URI");
    /* the resolver's error is passed on, naming the $ref */
    ac_error err = { 0 };
    const char *t = "{\"$ref\":\"http://localhost:1234/nothing.json\"}";
    ac__schema *s = ac__schema_compile_text(t, strlen(t), &suite_opt, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(err.code, AC_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "schema (root): cannot resolve $ref "
                                  "\"http://localhost:1234/nothing.json\": cannot read"));
    /* the compiled schema keeps its own copy of the document */
    json_object *doc = json_tokener_parse("{\"definitions\":{\"n\":{\"type\":\"integer\"}},"
                                          "\"items\":{\"$ref\":\"#/definitions/n\"}}");
    s = ac__schema_compile(doc, NULL, &err);
    json_object_put(doc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ac__schema_errors e = { 0 };
    CU_ASSERT_EQUAL(check(s, "[1,\"x\"]", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].schema_path, "/definitions/n/type");
    ac__schema_errors_free(&e);
    ac__schema_free(s);
    /* errors inside a remote document name it */
    t = "{\"properties\":{\"n\":{\"$ref\":\"http://localhost:1234/subSchemas.json#/refToInteger\"}}}";
    s = ac__schema_compile_text(t, strlen(t), &suite_opt, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(check(s, "{\"n\":\"x\"}", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].schema_path, "http://localhost:1234/subSchemas.json#/integer/type");
    ac__schema_errors_free(&e);
    ac__schema_free(s);
    /* the draft-07 meta-schema is built in */
    s = compile("{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(check(s, tool_schema, NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"minLength\":-1}", &e), 0);
    CU_ASSERT_TRUE(e.count >= 1);
    ac__schema_errors_free(&e);
    ac__schema_free(s);
}

/* $ref / $id cases of later releases of the suite's draft7 ref.json than
 * Debian ships, and a few of our own: (schema, instance, valid). */
static const struct { const char *schema, *inst; int valid; } ref_cases[] = {
    /* refs with relative uris and definitions */
    { "{\"$id\":\"http://example.com/d1.json\",\"properties\":{\"foo\":{\"$id\":\"d2.json\","
      "\"definitions\":{\"inner\":{\"properties\":{\"bar\":{\"type\":\"string\"}}}},"
      "\"allOf\":[{\"$ref\":\"#/definitions/inner\"}]}},\"allOf\":[{\"$ref\":\"d2.json\"}]}",
      "{\"foo\":{\"bar\":\"a\"},\"bar\":\"a\"}", 1 },
    { "{\"$id\":\"http://example.com/d1.json\",\"properties\":{\"foo\":{\"$id\":\"d2.json\","
      "\"definitions\":{\"inner\":{\"properties\":{\"bar\":{\"type\":\"string\"}}}},"
      "\"allOf\":[{\"$ref\":\"#/definitions/inner\"}]}},\"allOf\":[{\"$ref\":\"d2.json\"}]}",
      "{\"foo\":{\"bar\":1},\"bar\":\"a\"}", 0 },
    { "{\"$id\":\"http://example.com/d1.json\",\"properties\":{\"foo\":{\"$id\":\"d2.json\","
      "\"definitions\":{\"inner\":{\"properties\":{\"bar\":{\"type\":\"string\"}}}},"
      "\"allOf\":[{\"$ref\":\"#/definitions/inner\"}]}},\"allOf\":[{\"$ref\":\"d2.json\"}]}",
      "{\"foo\":{\"bar\":\"a\"},\"bar\":1}", 0 },
    /* URN base URIs */
    { "{\"$id\":\"urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed\",\"minimum\":30,"
      "\"properties\":{\"foo\":{\"$ref\":\"urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed\"}}}",
      "{\"foo\":12}", 0 },
    { "{\"$id\":\"urn:uuid:deadbeef-1234-0000-0000-4321feebdaed\",\"properties\":{\"foo\":"
      "{\"$ref\":\"urn:uuid:deadbeef-1234-0000-0000-4321feebdaed#/definitions/bar\"}},"
      "\"definitions\":{\"bar\":{\"type\":\"string\"}}}", "{\"foo\":12}", 0 },
    { "{\"$id\":\"urn:uuid:deadbeef-1234-0000-0000-4321feebdaed\",\"properties\":{\"foo\":"
      "{\"$ref\":\"urn:uuid:deadbeef-1234-0000-0000-4321feebdaed#something\"}},"
      "\"definitions\":{\"bar\":{\"$id\":\"#something\",\"type\":\"string\"}}}",
      "{\"foo\":\"x\"}", 1 },
    /* file URIs, empty pointer tokens, quotes */
    { "{\"$id\":\"file:///c:/folder/file.json\",\"definitions\":{\"foo\":{\"type\":\"number\"}},"
      "\"allOf\":[{\"$ref\":\"#/definitions/foo\"}]}", "\"a\"", 0 },
    { "{\"definitions\":{\"\":{\"definitions\":{\"\":{\"type\":\"number\"}}}},"
      "\"allOf\":[{\"$ref\":\"#/definitions//definitions/\"}]}", "\"a\"", 0 },
    { "{\"properties\":{\"foo\\\"bar\":{\"$ref\":\"#/definitions/foo%22bar\"}},"
      "\"definitions\":{\"foo\\\"bar\":{\"type\":\"number\"}}}", "{\"foo\\\"bar\":\"1\"}", 0 },
    /* $id resolved against the nearest parent's */
    { "{\"$id\":\"http://example.com/a.json\",\"definitions\":{\"x\":{\"$id\":"
      "\"http://example.com/b/c.json\",\"not\":{\"definitions\":{\"y\":{\"$id\":\"d.json\","
      "\"type\":\"number\"}}}}},\"allOf\":[{\"$ref\":\"http://example.com/b/d.json\"}]}",
      "\"a\"", 0 },
    /* $ref ignores its sibling $id; an $id inside enum is data */
    { "{\"$id\":\"http://localhost:1234/sibling_id/base/\",\"definitions\":{\"foo\":{\"$id\":"
      "\"http://localhost:1234/sibling_id/foo.json\",\"type\":\"string\"},\"base_foo\":"
      "{\"$id\":\"foo.json\",\"type\":\"number\"}},\"allOf\":[{\"$id\":"
      "\"http://localhost:1234/sibling_id/\",\"$ref\":\"foo.json\"}]}", "\"a\"", 0 },
    { "{\"definitions\":{\"a_string\":{\"type\":\"string\"}},"
      "\"enum\":[{\"$ref\":\"#/definitions/a_string\"}]}", "\"this is a string\"", 0 },
    /* ../ in references (a root $ref would make the root $id ignored) */
    { "{\"$id\":\"http://x.org/a/b/c.json\",\"definitions\":{\"n\":{\"$id\":\"../n.json\","
      "\"type\":\"null\"}},\"allOf\":[{\"$ref\":\"http://x.org/a/n.json\"}]}", "null", 1 },
    { "{\"$id\":\"http://x.org/a/b/c.json\",\"definitions\":{\"n\":{\"$id\":\"./../../n.json\","
      "\"type\":\"null\"}},\"allOf\":[{\"$ref\":\"/n.json\"}]}", "1", 0 },
};

static void test_ref_cases(void)
{
    for (size_t i = 0; i < sizeof ref_cases / sizeof *ref_cases; i++) {
        ac_error err;
        ac__schema *s = compile(ref_cases[i].schema, &err);
        if (!s) {
            printf("\n  case %zu: %s\n", i, err.message);
            CU_FAIL("compile");
            continue;
        }
        int r = check(s, ref_cases[i].inst, NULL);
        if (r != ref_cases[i].valid) {
            printf("\n  case %zu: want %d, got %d\n", i, ref_cases[i].valid, r);
            CU_FAIL("verdict");
        }
        ac__schema_free(s);
    }
}

static void test_cycles(void)
{
    expect_refused("{\"$ref\":\"#\"}", AC_EINVAL,
                   "schema (root): schema cycle: evaluating it leads back to (root) without "
                   "descending into the instance");
    expect_refused("{\"definitions\":{\"a\":{\"allOf\":[{\"$ref\":\"#/definitions/b\"}]},"
                   "\"b\":{\"anyOf\":[{\"not\":{\"$ref\":\"#/definitions/a\"}}]}},"
                   "\"properties\":{\"x\":{\"$ref\":\"#/definitions/a\"}}}", AC_EINVAL, NULL);
    /* recursion through the instance is fine: a tree */
    ac_error err;
    ac__schema *s = compile("{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
                            "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ac__schema_errors e = { 0 };
    CU_ASSERT_EQUAL(check(s, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":\"x\"}]}]}", &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].instance_path, "/kids/0/kids/0/v");
    TU_ASSERT_STR(e.items[0].schema_path, "/properties/v/type");
    ac__schema_errors_free(&e);
    ac__schema_free(s);
}

static void test_regex(void)
{
    expect_refused("{\"properties\":{\"a\":{\"pattern\":\"^(abc\"}}}", AC_EINVAL,
                   "schema /properties/a/pattern: invalid regex: missing closing parenthesis");
    expect_refused("{\"pattern\":\"abc\\\\Z\"}", AC_EINVAL,
                   "schema /pattern: invalid regex: \\Z is not an ECMA 262 escape");
    expect_refused("{\"patternProperties\":{\"a++\":{}}}", AC_EINVAL,
                   "schema /patternProperties/a++: invalid regex: possessive quantifiers are "
                   "not ECMA 262");
    expect_refused("{\"pattern\":\"(?i)abc\"}", AC_EINVAL,
                   "schema /pattern: invalid regex: only (?: (?= (?! (?<= (?<! and (?<name> "
                   "groups are ECMA 262");
    expect_refused("{\"pattern\":\"(*LIMIT_MATCH=99999999)a\"}", AC_EINVAL,
                   "schema /pattern: invalid regex: (* verbs are not ECMA 262");
    ac_error err;
    ac__schema *s = compile("{\"properties\":{"
                            "\"dot\":{\"pattern\":\"^a.c$\"},"
                            "\"ws\":{\"pattern\":\"^\\\\s$\"},"
                            "\"u\":{\"pattern\":\"^\\\\u00e9$\"},"
                            "\"uni\":{\"pattern\":\"^\\\\p{L}+$\"},"
                            "\"dgt\":{\"pattern\":\"^\\\\d$\"},"
                            "\"cls\":{\"pattern\":\"^[[:a]+$\"}}}", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(check(s, "{\"dot\":\"abc\"}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"dot\":\"a\\nc\"}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"dot\":\"a\\u00e9c\"}", NULL), 1);   /* one code point */
    CU_ASSERT_EQUAL(check(s, "{\"dot\":\"abc\\n\"}", NULL), 0);      /* $ only at the end */
    CU_ASSERT_EQUAL(check(s, "{\"ws\":\"\\u00a0\"}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"ws\":\"\\ufeff\"}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"u\":\"\\u00e9\"}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"uni\":\"\\u00e9t\\u00e9\"}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"dgt\":\"\\u0660\"}", NULL), 0);     /* ASCII digits only */
    CU_ASSERT_EQUAL(check(s, "{\"cls\":\"[:a\"}", NULL), 1);         /* no POSIX classes */
    ac__schema_free(s);
    /* a backtracking bomb ends as an error, not a hang */
    s = compile("{\"pattern\":\"^(a+)+$\"}", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    json_object *o = json_object_new_string("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
    ac__schema_errors e = { 0 };
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(ac__schema_validate(s, o, &e, &err), -1);
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "match limit"));
    ac__schema_errors_free(&e);
    json_object_put(o);
    ac__schema_free(s);
}

static void test_numbers_and_strings(void)
{
    ac_error err;
    ac__schema *s = compile("{\"properties\":{"
                            "\"i\":{\"type\":\"integer\"},"
                            "\"m\":{\"multipleOf\":0.0001},"
                            "\"m3\":{\"multipleOf\":0.1},"
                            "\"big\":{\"multipleOf\":3},"
                            "\"len\":{\"minLength\":2,\"maxLength\":2},"
                            "\"c\":{\"const\":{\"a\":[1,{\"b\":2.0}],\"c\":null}},"
                            "\"e\":{\"enum\":[1.5,[1,2]]},"
                            "\"u\":{\"uniqueItems\":true},"
                            "\"max\":{\"maximum\":9007199254740993}}}", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(check(s, "{\"i\":1.0}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"i\":1.5}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"i\":1e300}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"m\":0.0075}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"m\":0.00751}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"m\":12345}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"m3\":0.3}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"m3\":1e300}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"m3\":0.31}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"big\":18446744073709551615}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"big\":9223372036854775807}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"big\":-9}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"len\":\"\\u65e5\\u672c\"}", NULL), 1);   /* 2 code points */
    CU_ASSERT_EQUAL(check(s, "{\"len\":\"\\ud83d\\ude00x\"}", NULL), 1);  /* astral + x */
    CU_ASSERT_EQUAL(check(s, "{\"len\":\"abc\"}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"c\":{\"c\":null,\"a\":[1.0,{\"b\":2}]}}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"c\":{\"c\":null,\"a\":[1,{\"b\":2,\"x\":0}]}}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"e\":[1.0,2]}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"e\":true}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"u\":[1,true,\"1\",[1],{\"a\":1}]}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"u\":[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1.0}]}", NULL), 0);
    CU_ASSERT_EQUAL(check(s, "{\"max\":9007199254740993}", NULL), 1);
    CU_ASSERT_EQUAL(check(s, "{\"max\":9007199254740994}", NULL), 0);
    /* uniqueItems over many items goes by hash */
    char big[40000] = "{\"u\":[";
    for (int i = 0; i < 2000; i++)
        sprintf(big + strlen(big), "%s{\"k\":%d}", i ? "," : "", i);
    strcat(big, ",{\"k\":1999.0}]}");
    ac__schema_errors e = { 0 };
    CU_ASSERT_EQUAL(check(s, big, &e), 0);
    CU_ASSERT_EQUAL_FATAL(e.count, 1);
    TU_ASSERT_STR(e.items[0].message, "/u: items 1999 and 2000 are equal, but items must be unique");
    ac__schema_errors_free(&e);
    ac__schema_free(s);
}

/* Format test vectors beyond Debian's suite (later suite releases and our
 * own): (format, string, valid). */
static const struct { const char *fmt, *str; int valid; } format_cases[] = {
    { "time", "08:30:06Z", 1 },
    { "time", "23:59:60Z", 1 },
    { "time", "23:59:60+00:00", 1 },
    { "time", "01:29:60+01:30", 1 },
    { "time", "23:29:60+23:30", 1 },
    { "time", "15:59:60-08:00", 1 },
    { "time", "00:29:60-23:30", 1 },
    { "time", "23:20:50.52Z", 1 },
    { "time", "08:30:06+00:20", 1 },
    { "time", "08:30:06z", 1 },
    { "time", "008:030:006Z", 0 },
    { "time", "8:3:6Z", 0 },
    { "time", "22:59:60Z", 0 },
    { "time", "23:58:60Z", 0 },
    { "time", "23:59:60+01:00", 0 },
    { "time", "23:59:60+00:30", 0 },
    { "time", "23:59:60-01:00", 0 },
    { "time", "23:59:60-00:30", 0 },
    { "time", "08:30:06-8:000", 0 },
    { "time", "24:00:00Z", 0 },
    { "time", "00:60:00Z", 0 },
    { "time", "00:00:61Z", 0 },
    { "time", "01:02:03+24:00", 0 },
    { "time", "01:02:03+00:60", 0 },
    { "time", "01:02:03Z+00:30", 0 },
    { "time", "08:30:06 PST", 0 },
    { "time", "12:00:00", 0 },
    { "time", "12:00:00.52", 0 },
    { "time", "1\xe0""\xa7""\xa8"":00:00Z", 0 },
    { "time", "08:30:06#00:20", 0 },
    { "time", "ab:cd:ef", 0 },
    { "time", "08:30:06.Z", 0 },
    { "date-time", "1998-12-31T23:59:60Z", 1 },
    { "date-time", "1998-12-31T15:59:60.123-08:00", 1 },
    { "date-time", "2020-02-29t00:00:00z", 1 },
    { "date-time", "1998-12-31T23:59:61Z", 0 },
    { "date-time", "1998-12-31T23:58:60Z", 0 },
    { "date-time", "1998-12-31T22:59:60Z", 0 },
    { "date-time", "1990-12-31T15:59:59-24:00", 0 },
    { "date-time", "2013-350T01:01:01", 0 },
    { "date-time", "1963-06-1\xe0""\xa7""\xaa""T00:00:00Z", 0 },
    { "date-time", "2021-02-29T00:00:00Z", 0 },
    { "date-time", "1963-06-19 08:30:06Z", 0 },
    { "date", "2020-02-29", 1 },
    { "date", "2000-02-29", 1 },
    { "date", "1963-06-19", 1 },
    { "date", "2021-02-29", 0 },
    { "date", "1900-02-29", 0 },
    { "date", "2020-13-01", 0 },
    { "date", "2020-00-01", 0 },
    { "date", "2020-01-32", 0 },
    { "date", "1998-1-20", 0 },
    { "date", "1998-01-1\xe0""\xa7""\xaa""", 0 },
    { "date", "2020-01-01T00:00:00Z", 0 },
    { "email", "te~st@example.com", 1 },
    { "email", "~test@example.com", 1 },
    { "email", "test~@example.com", 1 },
    { "email", "\"joe bloggs\"@example.com", 1 },
    { "email", "\"joe..bloggs\"@example.com", 1 },
    { "email", "\"joe@bloggs\"@example.com", 1 },
    { "email", "joe.bloggs@[127.0.0.1]", 1 },
    { "email", "joe.bloggs@[IPv6:::1]", 1 },
    { "email", "te.s.t@example.com", 1 },
    { "email", "2962", 0 },
    { "email", ".test@example.com", 0 },
    { "email", "test.@example.com", 0 },
    { "email", "te..st@example.com", 0 },
    { "email", "joe.bloggs@invalid=domain.com", 0 },
    { "email", "joe.bloggs@[127.0.0.300]", 0 },
    { "email", "@example.com", 0 },
    { "email", "a@", 0 },
    { "email", "a b@example.com", 0 },
    { "ipv4", "192.168.0.1", 1 },
    { "ipv4", "0.0.0.0", 1 },
    { "ipv4", "255.255.255.255", 1 },
    { "ipv4", "087.10.0.1", 0 },
    { "ipv4", "1\xe0""\xa7""\xa8""7.0.0.1", 0 },
    { "ipv4", "192.168.1.0/24", 0 },
    { "ipv4", "127.0.0.0.1", 0 },
    { "ipv4", "256.256.256.256", 0 },
    { "ipv4", "127.0", 0 },
    { "ipv4", "0x7f000001", 0 },
    { "ipv4", "", 0 },
    { "ipv4", " 1.1.1.1", 0 },
    { "ipv6", "::1", 1 },
    { "ipv6", "::", 1 },
    { "ipv6", "1:1:1:1:1:1:1::", 1 },
    { "ipv6", "::42:ff:1", 1 },
    { "ipv6", "1:d6::42", 1 },
    { "ipv6", "100:100:100:100:100:100:255.255.255.255", 1 },
    { "ipv6", "::ffff:192.168.0.1", 1 },
    { "ipv6", "1:2:3:4:5:6:7:8", 1 },
    { "ipv6", "::abcd", 1 },
    { "ipv6", "12345::", 0 },
    { "ipv6", "::abcef", 0 },
    { "ipv6", "1:1:1:1:1:1:1:1:1", 0 },
    { "ipv6", "1::d6::42", 0 },
    { "ipv6", "1:2:3:4:1.2.3.4", 0 },
    { "ipv6", "fe80::a%eth1", 0 },
    { "ipv6", " ::1", 0 },
    { "ipv6", "::1 ", 0 },
    { "ipv6", "1:", 0 },
    { "ipv6", "1:::2", 0 },
    { "ipv6", "::laptop", 0 },
    { "ipv6", ":1:2:3:4:5:6:7", 0 },
    { "ipv6", "1:2:3:4:5:6:7:", 0 },
    { "hostname", "www.example.com", 1 },
    { "hostname", "h", 1 },
    { "hostname", "a-b.c1", 1 },
    { "hostname", "xn--4gbwdl.xn--wgbh1c", 1 },
    { "hostname", "-hostname", 0 },
    { "hostname", "hostname-", 0 },
    { "hostname", "_hostname", 0 },
    { "hostname", "host_name", 0 },
    { "hostname", "", 0 },
    { "hostname", "a..b", 0 },
    { "hostname", "a.", 0 },
    { "hostname", "example.com:80", 0 },
    { "relative-json-pointer", "1", 1 },
    { "relative-json-pointer", "0/foo/bar", 1 },
    { "relative-json-pointer", "0#", 1 },
    { "relative-json-pointer", "120/foo/bar", 1 },
    { "relative-json-pointer", "-1/foo/bar", 0 },
    { "relative-json-pointer", "+1/foo/bar", 0 },
    { "relative-json-pointer", "0##", 0 },
    { "relative-json-pointer", "01/a", 0 },
    { "relative-json-pointer", "01#", 0 },
    { "relative-json-pointer", "", 0 },
    { "relative-json-pointer", "/foo/bar", 0 },
    { "uri", "http://a.b/c?d#e", 1 },
    { "uri", "urn:isbn:0451450523", 1 },
    { "uri", "http://[v1.fe80::a+en1]/", 1 },
    { "uri", "http://a.b:8080/", 1 },
    { "uri", "http://a.b:80a/", 0 },
    { "uri", "http://[::1/", 0 },
    { "uri", "http://a b/", 0 },
    { "uri", "//a.b/", 0 },
    { "uri", ":x", 0 },
    { "uri", "http://a.b/%zz", 0 },
    { "uri", "http://a.b/\xc3""\xa9""", 0 },
    { "iri", "http://a.b/\xc3""\xa9""", 1 },
    { "iri", "/\xc3""\xa9""", 0 },
    { "uri-template", "/{x}", 1 },
    { "uri-template", "{+path}/x{?a,b*}", 1 },
    { "uri-template", "{var:30}", 1 },
    { "uri-template", "{a.b}", 1 },
    { "uri-template", "{x", 0 },
    { "uri-template", "{}", 0 },
    { "uri-template", "{a..b}", 0 },
    { "uri-template", "{x:0}", 0 },
    { "uri-template", "{x:10000}", 0 },
    { "uri-template", "a b", 0 },
    { "regex", "^\\d+$", 1 },
    { "regex", "(?<y>a)\\k<y>", 1 },
    { "regex", "[^]", 1 },
    { "regex", "\\u{1F600}", 1 },
    { "regex", "\\Z", 0 },
    { "regex", "a{2}+", 0 },
    { "regex", "(?P<x>a)", 0 },
    { "regex", "\\", 0 },
};

static void test_format_cases(void)
{
    for (size_t i = 0; i < sizeof format_cases / sizeof *format_cases; i++) {
        char t[100];
        ac_error err;
        snprintf(t, sizeof t, "{\"format\":\"%s\"}", format_cases[i].fmt);
        ac__schema *s = compile(t, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        json_object *o = json_object_new_string(format_cases[i].str);
        int r = ac__schema_validate(s, o, NULL, &err);
        if (r != format_cases[i].valid) {
            printf("\n  format %s \"%s\": want %d, got %d\n", format_cases[i].fmt,
                   format_cases[i].str, format_cases[i].valid, r);
            CU_FAIL("format");
        }
        json_object_put(o);
        ac__schema_free(s);
    }
}

/* Free a deep chain built below without json-c's recursion. */
static void put_chain(json_object *o)
{
    while (o) {
        json_object *next = NULL;
        if (json_object_is_type(o, json_type_array) && json_object_array_length(o)) {
            next = json_object_get(json_object_array_get_idx(o, 0));
            json_object_array_del_idx(o, 0, 1);
        } else if (json_object_is_type(o, json_type_object)) {
            json_object_object_foreach(o, k, v) {
                next = json_object_get(v);
                json_object_object_del(o, k);
                break;
            }
        }
        json_object_put(o);
        o = next;
    }
}

static void test_depth_bombs(void)
{
    enum { DEEP = 100000 };
    ac_error err;
    /* a 100,000-deep schema as text and as a json-c value */
    char *t = malloc(DEEP * 8 + 16), *p = t;
    for (int i = 0; i < DEEP; i++)
        p += sprintf(p, "{\"not\":");
    p += sprintf(p, "{}");
    for (int i = 0; i < DEEP; i++)
        *p++ = '}';
    *p = '\0';
    ac__schema *s = compile(t, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    TU_ASSERT_STR(err.message, "schema (root): nesting exceeds 512 levels");
    free(t);
    json_object *deep = json_object_new_object();
    for (int i = 0; i < DEEP; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "not", deep);
        deep = o;
    }
    s = ac__schema_compile(deep, NULL, &err);
    CU_ASSERT_PTR_NULL(s);
    TU_ASSERT_STR(err.message, "schema (root): nesting exceeds 512 levels");
    put_chain(deep);
    /* a 100,000-deep instance */
    deep = json_object_new_array();
    for (int i = 0; i < DEEP; i++) {
        json_object *o = json_object_new_array();
        json_object_array_add(o, deep);
        deep = o;
    }
    s = compile("{\"items\":{\"$ref\":\"#\"}}", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ac__schema_errors e = { 0 };
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(ac__schema_validate(s, deep, &e, &err), -1);
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "instance nesting exceeds 512 levels at /0/0/0/0"));
    ac__schema_free(s);
    s = compile("true", &err);           /* nothing to descend: valid */
    CU_ASSERT_EQUAL(ac__schema_validate(s, deep, &e, &err), 1);
    ac__schema_free(s);
    json_object *pair = json_object_new_array();
    json_object_array_add(pair, deep);
    json_object_array_add(pair, json_object_get(deep));
    s = compile("{\"uniqueItems\":true}", &err);
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(ac__schema_validate(s, pair, &e, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "instance nesting exceeds"));
    ac__schema_free(s);
    s = compile("{\"enum\":[1,[[[]]]]}", &err);
    CU_ASSERT_EQUAL(ac__schema_validate(s, deep, &e, &err), 0);
    ac__schema_free(s);
    ac__schema_errors_free(&e);
    json_object_array_del_idx(pair, 1, 1);
    json_object_get(deep);
    json_object_put(pair);   /* pair's element 0 is still ours */
    put_chain(deep);
    /* a long $ref chain without nesting */
    char *chain = malloc(50000 * 40), *q = chain;
    q += sprintf(q, "{\"$ref\":\"#/definitions/d0\",\"definitions\":{");
    for (int i = 0; i < 20000; i++)
        q += sprintf(q, "\"d%d\":{\"$ref\":\"#/definitions/d%d\"},", i, i + 1);
    q += sprintf(q, "\"d20000\":{\"type\":\"string\"}}}");
    s = compile(chain, &err);
    CU_ASSERT_PTR_NOT_NULL(s);
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(check(s, "\"x\"", NULL), -1);   /* 20,000 hops: past max_depth */
    ac__schema_free(s);
    free(chain);
}

/* Every allocation failing in turn: compile, validate, render. */
static void test_alloc_failures(void)
{
    static const char *const schema =
        "{\"$id\":\"http://localhost:1234/root.json\","
        "\"definitions\":{\"pos\":{\"type\":\"integer\",\"minimum\":1},"
        " \"named\":{\"$id\":\"#named\",\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}},"
        "\"type\":\"object\",\"required\":[\"a\",\"zz\"],\"additionalProperties\":false,"
        "\"properties\":{\"a\":{\"$ref\":\"#/definitions/pos\"},"
        " \"b\":{\"$ref\":\"#named\"},"
        " \"c\":{\"anyOf\":[{\"type\":\"string\"},{\"$ref\":\"subSchemas.json#/refToInteger\"}]},"
        " \"d\":{\"type\":\"array\",\"uniqueItems\":true,\"items\":{\"format\":\"regex\"}},"
        " \"e\":{\"propertyNames\":{\"maxLength\":2},\"patternProperties\":{\"^x\":{\"const\":1}}},"
        " \"zz\":{}}}";
    static const char *const inst =
        "{\"a\":0,\"b\":\"Q\",\"c\":1.5,\"d\":[\"(\",\"a\",\"a\"],\"e\":{\"xlong\":2},\"f\":1}";
    int compiled_ok = 0, validated = 0;
    for (long n = 0; n < 100000; n++) {
        ac_error err = { 0 };
        ac__alloc_fail_after(n);
        ac__schema *s = ac__schema_compile_text(schema, strlen(schema), &suite_opt, &err);
        long failures = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        if (!s) {
            if (err.code != AC_ENOMEM)
                printf("\n  compile, allocation %ld failing: %s\n", n, err.message);
            CU_ASSERT_EQUAL(err.code, AC_ENOMEM);
            CU_ASSERT_TRUE(failures > 0);
            continue;
        }
        ac__schema_free(s);
        if (failures == 0) {
            compiled_ok = 1;
            break;
        }
    }
    CU_ASSERT_TRUE(compiled_ok);
    ac_error err = { 0 };
    ac__schema *s = ac__schema_compile_text(schema, strlen(schema), &suite_opt, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    json_object *o = json_tokener_parse(inst);
    size_t full = 0;
    for (long n = 0; n < 100000; n++) {
        ac__schema_errors e = { 0 };
        memset(&err, 0, sizeof err);
        ac__alloc_fail_after(n);
        int r = ac__schema_validate(s, o, &e, &err);
        char *text = r >= 0 ? ac__schema_errors_text(&e, 0) : NULL;
        long failures = ac__alloc_failures();
        ac__alloc_fail_after(-1);
        CU_ASSERT_TRUE(r == 0 || r == -1);
        if (r < 0 && err.code != AC_ENOMEM)
            printf("\n  validate, allocation %ld failing: %s\n", n, err.message);
        if (r < 0)
            CU_ASSERT_EQUAL(err.code, AC_ENOMEM);
        ac__free(text);
        if (failures == 0) {
            full = e.count;
            validated = 1;
            ac__schema_errors_free(&e);
            break;
        }
        ac__schema_errors_free(&e);
    }
    CU_ASSERT_TRUE(validated);
    CU_ASSERT_EQUAL(full, 9);
    /* what a model would be sent */
    ac__schema_errors e = { 0 };
    CU_ASSERT_EQUAL(ac__schema_validate(s, o, &e, &err), 0);
    char *t = ac__schema_errors_text(&e, 0);
    TU_ASSERT_STR(t,
        "(root): missing required property \"zz\"\n"
        "/a: 0 is less than the minimum 1\n"
        "/b: \"Q\" does not match the pattern \"^[a-z]+$\"\n"
        "/c: does not match any alternative of anyOf: (1) expected string, got number 1.5; "
        "(2) expected integer, got number 1.5\n"
        "/d: items 1 and 2 are equal, but items must be unique\n"
        "/d/0: \"(\" is not a valid regex\n"
        "/e/xlong: expected the constant 1, got 2\n"
        "/e: property name \"xlong\" is not allowed: \"xlong\" is 5 characters long, longer "
        "than the maximum 2\n"
        "(root): property \"f\" is not allowed; allowed: \"a\", \"b\", \"c\", \"d\", \"e\", "
        "\"zz\"\n");
    ac__free(t);
    ac__schema_errors_free(&e);
    json_object_put(o);
    ac__schema_free(s);
}

typedef struct tharg {
    ac__schema *s;
    int ok;
} tharg;

static void *validate_many(void *p)
{
    tharg *a = p;
    json_object *good = json_tokener_parse(tool_args);
    json_object *bad = json_tokener_parse("{\"name\":\"\",\"age\":-1,\"tags\":[\"A\"]}");
    a->ok = 1;
    for (int i = 0; i < 2000; i++) {
        ac__schema_errors e = { 0 };
        ac_error err;
        if (ac__schema_validate(a->s, good, NULL, &err) != 1 ||
            ac__schema_validate(a->s, bad, &e, &err) != 0 || e.count != 4)
            a->ok = 0;
        ac__schema_errors_free(&e);
    }
    json_object_put(good);
    json_object_put(bad);
    return NULL;
}

static void test_threads(void)
{
    ac_error err;
    ac__schema *s = compile(tool_schema, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    pthread_t th[4];
    tharg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].s = s;
        pthread_create(&th[i], NULL, validate_many, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_TRUE(a[i].ok);
    }
    ac__schema_free(s);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Rough timing, printed (not asserted: machines differ). */
static void test_timing(void)
{
    ac_error err;
    enum { N = 20000 };
    double t0 = now();
    ac__schema *s = NULL;
    for (int i = 0; i < 200; i++) {
        ac__schema_free(s);
        s = compile(tool_schema, &err);
    }
    double t1 = now();
    json_object *o = json_tokener_parse(tool_args);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= ac__schema_validate(s, o, NULL, &err) == 1;
    double t2 = now();
    json_object *bad = json_tokener_parse("{\"name\":\"\",\"age\":-1,\"tags\":[\"A\"]}");
    for (int i = 0; i < N; i++) {
        ac__schema_errors e = { 0 };
        ok &= ac__schema_validate(s, bad, &e, &err) == 0;
        ac__schema_errors_free(&e);
    }
    double t3 = now();
    CU_ASSERT_TRUE(ok);
    printf("\n  compile %.1f us, validate 10 valid properties %.2f us, invalid (4 errors) "
           "%.2f us\n", (t1 - t0) / 200 * 1e6, (t2 - t1) / N * 1e6, (t3 - t2) / N * 1e6);
    json_object_put(o);
    json_object_put(bad);
    ac__schema_free(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        { "the draft7 required suite, every case", test_required_suite },
        { "the draft7 optional files implemented", test_optional_suite },
        { "error pointers, keywords and messages", test_error_pointers },
        { "anyOf / oneOf / not / if / propertyNames errors", test_combinator_errors },
        { "error text for a model", test_error_text },
        { "the keyword rule: later drafts, unknown, annotations", test_keyword_rule },
        { "$ref: remote, missing, copies, meta-schema", test_refs },
        { "$ref and $id cases of later suite releases", test_ref_cases },
        { "cycles refused, recursion through the instance allowed", test_cycles },
        { "ECMA 262 regexes", test_regex },
        { "format vectors", test_format_cases },
        { "numbers and strings", test_numbers_and_strings },
        { "depth bombs", test_depth_bombs },
        { "every allocation failing in turn", test_alloc_failures },
        { "one schema, four threads", test_threads },
        { "timing", test_timing },
    };
    if (TU_ADD_SUITE("schema", NULL, NULL, tests))
        return 2;
    return tu_run_suites();
}
