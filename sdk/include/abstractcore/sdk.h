/*
 * sdk.h -- the small helpers every provider codec needs, written once
 * (part of the static library libabstractcore-provider: pkg-config
 * abstractcore-provider).
 *
 * All of them are pure functions, callable from any thread.  Memory they
 * return comes from the host's allocator (host->free it); a function that
 * takes a call reports its failures there (host->fail) and returns NULL or
 * the status.  Names start with ac_sdk_.
 */
#ifndef ABSTRACTCORE_SDK_H
#define ABSTRACTCORE_SDK_H

#include <stddef.h>
#include <abstractcore/provider.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;

/* ------------------------------------------------------------------ */
/* JSON out                                                            */
/* ------------------------------------------------------------------ */

/**
 * The JSON text of a json-c value, every append checked.  (json-c's own
 * serializer silently drops text when its buffer cannot grow: a request
 * body built with it may go out damaged when memory is short.)  Strings
 * are escaped per RFC 8259; numbers are written whatever the process's
 * locale (a double as the shortest text that reads back as itself).
 * Returns a host->malloc'd, NUL-terminated string (host->free it) and its
 * length in *len (len may be NULL), or NULL with the call failed
 * (AC_ENOMEM, or AC_EINVAL for a value nested deeper than 256).
 */
char     *ac_sdk_json_text(const ac_host_api *host, ac_call *call,
                           struct json_object *value, size_t *len);

/** ac_sdk_json_text of value as the request's body. */
ac_status ac_sdk_json_body(const ac_host_api *host, ac_http_request *rq,
                           struct json_object *value, ac_call *call);

/* ------------------------------------------------------------------ */
/* JSON in                                                             */
/* ------------------------------------------------------------------ */

/** Member `key` of object o if it is a string, else NULL.  Borrowed from
 *  o.  o may be NULL or not an object. */
const char *ac_sdk_json_string(struct json_object *o, const char *key);
/** Member `key` of object o if it is an integer (or a double with no
 *  fraction): 1 and *out set; 0 absent or another type. */
int         ac_sdk_json_int(struct json_object *o, const char *key, long long *out);
/** Member `key` of o if it is an object (or array: ac_sdk_json_array),
 *  else NULL.  Borrowed. */
struct json_object *ac_sdk_json_object(struct json_object *o, const char *key);
struct json_object *ac_sdk_json_array(struct json_object *o, const char *key);

/* ------------------------------------------------------------------ */
/* Text                                                                */
/* ------------------------------------------------------------------ */

/** 1 if the n bytes are well-formed UTF-8 (no overlongs, no surrogates,
 *  nothing above U+10FFFF), else 0.  A NUL byte is valid UTF-8 here. */
int         ac_sdk_utf8_valid(const char *s, size_t n);

/**
 * A one-line excerpt of a server's body for an error message: at most
 * cap - 1 bytes into out (cap >= 8), control characters and runs of
 * white space as one space, bytes that are not UTF-8 as '?', cut at a
 * character boundary with "..." when longer.  Returns out.
 */
char       *ac_sdk_excerpt(const char *body, size_t len, char *out, size_t cap);

/** The shortest decimal text that reads back as v ("0.1", "1e-05",
 *  "-3"), whatever the locale, into buf (at least 32 bytes); "null" for
 *  a value JSON cannot hold (NaN, infinity).  Returns buf. */
char       *ac_sdk_format_double(double v, char *buf);

/* ------------------------------------------------------------------ */
/* Embeddings (ABI 2.1)                                                 */
/* ------------------------------------------------------------------ */

/**
 * Give the vector in JSON value v to host->embed_vector as text `index`
 * of the batch.  v is an array of numbers (each rounded to a float), or
 * a string holding the base64 of little-endian IEEE-754 float32 values
 * (OpenAI's "encoding_format": "base64").  AC_OK; otherwise the call is
 * failed: AC_EPROTOCOL (not an array of numbers, a number past float's
 * range, bad base64, no value or more than AC_EMBED_MAX_DIM), AC_ENOMEM,
 * or what embed_vector returned (it fails the call itself).
 */
ac_status ac_sdk_embed_vector_json(const ac_host_api *host, ac_embed_sink *out, size_t index,
                                   struct json_object *v, ac_call *call);

/**
 * Every element of the JSON array `list` as a vector (as above), by
 * position: element i is text i.  AC_EPROTOCOL when list is not an
 * array; otherwise as ac_sdk_embed_vector_json.
 */
ac_status ac_sdk_embed_list_json(const ac_host_api *host, ac_embed_sink *out,
                                 struct json_object *list, ac_call *call);

#ifdef __cplusplus
}
#endif
#endif /* ABSTRACTCORE_SDK_H */
