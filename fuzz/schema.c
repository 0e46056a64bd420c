/*
 * schema.c -- fuzz target: the JSON Schema validator
 * (core/structured/schema.h): compile a fuzzed schema, then validate
 * fixed instances and a fuzzed one against it.
 *
 * Input: the schema text, then optionally a NUL byte and the instance
 * text, then optionally a NUL byte and one byte of options (bits 0-1: the
 * AC__SCHEMA_* flags; bits 2-3: max_depth 0 (512), 3, 16 or 64; bits 4-5:
 * max_errors 0 (100), 1, 3 or 1000).  A remote $ref resolves to a small
 * fixed document, so the remote-reference paths run too.
 *
 * Checked besides "no crash, no leak, no hang": a compile failure fills
 * the error; "valid" comes with no errors and "invalid" with at least
 * one; validating twice gives the same answer; the errors render.
 */
#include "fuzz.h"
#include "alloc.h"
#include "structured/schema.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fixed_texts[] = {
    "null", "true", "0", "-1", "1.5", "1e308", "-9223372036854775808",
    "18446744073709551615", "\"\"", "\"abc\"", "\"2020-01-01T00:00:00Z\"",
    "\"a@b.c\"", "\"\\u00e9t\\u00e9\"", "[]", "[1,2,2,\"x\",null]",
    "{}", "{\"a\":1,\"b\":\"x\",\"c\":[null,{\"d\":true}],\"foo\":-2.5}",
    "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
};
#define N_FIXED (sizeof fixed_texts / sizeof fixed_texts[0])
static json_object *fixed[N_FIXED];

static json_object *resolve(void *ctx, const char *uri, ac_error *err)
{
    (void)ctx, (void)uri, (void)err;
    return json_tokener_parse(
        "{\"definitions\":{\"i\":{\"type\":\"integer\"},\"s\":{\"type\":\"string\","
        "\"maxLength\":3}},\"type\":[\"object\",\"integer\"],"
        "\"properties\":{\"a\":{\"$ref\":\"#/definitions/i\"}}}");
}

static int schema_init(const char *plugin)
{
    (void)plugin;
    for (size_t i = 0; i < N_FIXED; i++) {
        fixed[i] = json_tokener_parse(fixed_texts[i]);
        if (!fixed[i] && strcmp(fixed_texts[i], "null") != 0) {
            fprintf(stderr, "schema: cannot parse %s\n", fixed_texts[i]);
            return -1;
        }
    }
    return 0;
}

static void schema_fini(void)
{
    for (size_t i = 0; i < N_FIXED; i++) {
        json_object_put(fixed[i]);
        fixed[i] = NULL;
    }
}

static void validate(const ac__schema *s, json_object *inst)
{
    ac__schema_errors e1;
    memset(&e1, 0, sizeof e1);
    ac_error err;
    ac_error_clear(&err);
    int r1 = ac__schema_validate(s, inst, &e1, &err);
    FUZZ_CHECK(r1 == 1 || r1 == 0 || r1 == -1);
    if (r1 == 1)
        FUZZ_CHECK(e1.total == 0 && e1.count == 0);
    if (r1 == 0)
        FUZZ_CHECK(e1.total > 0 && e1.count > 0 && e1.count <= e1.total);
    if (r1 == -1)
        FUZZ_CHECK(err.code != AC_OK);
    for (size_t i = 0; i < e1.count; i++)
        FUZZ_CHECK(e1.items[i].instance_path && e1.items[i].keyword &&
                   e1.items[i].schema_path && e1.items[i].message);
    char *text = ac__schema_errors_text(&e1, 0);
    if (text) {
        if (r1 == 1)
            FUZZ_CHECK(text[0] == '\0');
        ac__free(text);
    }
    int r2 = ac__schema_validate(s, inst, NULL, &err);
    if (r1 != -1 && r2 != -1)
        FUZZ_CHECK(r1 == r2);
    ac__schema_errors_free(&e1);
}

static int schema_run(const uint8_t *data, size_t size)
{
    static const unsigned depths[] = {0, 3, 16, 64}, maxerr[] = {0, 1, 3, 1000};
    const uint8_t *nul = memchr(data, '\0', size);
    size_t schema_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *inst = nul ? nul + 1 : NULL;
    size_t inst_len = 0;
    uint8_t opt = 0;
    if (inst) {
        const uint8_t *nul2 = memchr(inst, '\0', size - (size_t)(inst - data));
        inst_len = nul2 ? (size_t)(nul2 - inst) : size - (size_t)(inst - data);
        if (nul2 && (size_t)(nul2 + 1 - data) < size)
            opt = nul2[1];
    }
    ac__schema_options o;
    memset(&o, 0, sizeof o);
    o.resolve = resolve;
    o.flags = opt & 3;
    o.max_depth = depths[(opt >> 2) & 3];
    o.max_errors = maxerr[(opt >> 4) & 3];
    ac_error err;
    ac_error_clear(&err);
    ac__schema *s = ac__schema_compile_text((const char *)data, schema_len, &o, &err);
    if (!s) {
        FUZZ_CHECK(err.code != AC_OK && err.message[0] != '\0');
        return 0;
    }
    for (size_t i = 0; i < N_FIXED; i++)
        validate(s, fixed[i]);
    if (inst) {
        json_tokener *tok = json_tokener_new();
        if (tok) {
            json_object *v = json_tokener_parse_ex(tok, (const char *)inst, (int)inst_len);
            if (json_tokener_get_error(tok) == json_tokener_success)
                validate(s, v);
            json_object_put(v);
            json_tokener_free(tok);
        }
    }
    ac__schema_free(s);
    return 0;
}

const fuzz_target fuzz_schema = {"schema", schema_init, schema_run, schema_fini};
