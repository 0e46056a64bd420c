/*
 * reply.c -- fuzz target: the structured-output reply extractor
 * (core/structured/reply.h): the JSON document in a model's reply, and
 * the message that asks the model again.
 *
 * Input: byte 0 picks the size of the caller's "why" buffer (1, 16, 64
 * or 256 bytes, low 2 bits); the rest is the reply text.
 *
 * Checked besides "no crash, no leak": a document found is never JSON
 * null and serializes; when none is found, why holds a message that fits
 * its buffer; the feedback message is built either way.
 */
#include "fuzz.h"
#include "alloc.h"
#include "structured/reply.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int reply_init(const char *plugin)
{
    (void)plugin;
    return 0;
}

static void reply_fini(void) {}

static int reply_run(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {1, 16, 64, 256};
    if (size < 1)
        return 0;
    size_t cap = caps[data[0] & 3];
    char *text = fuzz_strndup(data + 1, size - 1);
    char *why = malloc(cap);
    if (!text || !why) {
        free(text);
        free(why);
        return 0;
    }
    memset(why, 'x', cap);
    why[cap - 1] = '\0';
    json_object *doc = ac__reply_json(text, size - 1, why, cap);
    char *fb;
    if (doc) {
        FUZZ_CHECK(json_object_get_type(doc) != json_type_null);
        const char *js = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
        FUZZ_CHECK(js != NULL);
        fb = ac__reply_feedback(NULL, "/a: 1 is not a string");
        json_object_put(doc);
    } else {
        FUZZ_CHECK(memchr(why, '\0', cap) != NULL);
        FUZZ_CHECK(cap == 1 || why[0] != '\0');
        fb = ac__reply_feedback(why, NULL);
    }
    ac__free(fb);
    free(why);
    free(text);
    return 0;
}

const fuzz_target fuzz_reply = {"reply", reply_init, reply_run, reply_fini};
