/*
 * reply.h -- structured output: the JSON document in a model's reply, and
 * the message that asks the model again.
 *
 * Pure functions, thread-safe.  Relies on json-c and core/alloc.h.
 */
#ifndef AC_REPLY_H
#define AC_REPLY_H
#include <stddef.h>

struct json_object;

/* The JSON document in text[0..len): the whole reply, else the first
 * ``` fenced block that parses, else the first '{' or '[' from which a
 * value parses.  A new json-c reference, or NULL with why (cap bytes) saying
 * what is wrong, worded to follow "the reply " ("is empty", "is not a
 * JSON document (...)").  JSON null is not a document. */
struct json_object *ac__reply_json(const char *text, size_t len, char *why, size_t cap);

/* The user message that asks again: the validation errors (one a line)
 * when the reply was JSON, else the problem (as ac__reply_json words
 * it).  ac__malloc'd; NULL on no memory. */
char *ac__reply_feedback(const char *problem, const char *errors);
#endif
