/*
 * jsonw.h -- writing JSON text into a bounded, checked buffer.
 *
 * json-c's serializer drops text silently when its buffer cannot grow
 * (a string written as "" under memory pressure), so whatever the library
 * must write exactly -- saved sessions, bodies it sends -- is written here
 * instead: every append is checked, the first failure sticks, and
 * ac__jw_finish then returns NULL instead of a damaged document.
 *
 * Strings must be valid UTF-8 (the callers check what comes from outside);
 * they are escaped per RFC 8259.  Not thread-safe: one writer, one owner.
 */
#ifndef AC_JSONW_H
#define AC_JSONW_H
#include <stddef.h>
#include "buf.h"

#define AC_JW_MAX_DEPTH 64

typedef struct jsonw {
    buf  b;
    int  failed;                          /* no memory, or misuse */
    int  pretty;                          /* two-space indentation */
    int  depth;
    int  count[AC_JW_MAX_DEPTH];          /* members written per level */
    char kind[AC_JW_MAX_DEPTH];           /* '{' or '[' per level */
    int  after_key;                       /* a key was written, value next */
} jsonw;

void  ac__jw_init(jsonw *w, int pretty);
void  ac__jw_object(jsonw *w);            /* { */
void  ac__jw_array(jsonw *w);             /* [ */
void  ac__jw_end(jsonw *w);               /* } or ] */
void  ac__jw_key(jsonw *w, const char *key);
void  ac__jw_string(jsonw *w, const char *s);           /* NULL writes "" */
void  ac__jw_string_n(jsonw *w, const char *s, size_t n);
void  ac__jw_int(jsonw *w, long long v);
void  ac__jw_double(jsonw *w, double v);  /* non-finite values write null */
void  ac__jw_bool(jsonw *w, int v);
void  ac__jw_null(jsonw *w);
/* Already valid JSON text, written as it is. */
void  ac__jw_raw(jsonw *w, const char *json);
/* The document (ac__free it), or NULL if anything failed or it is not
 * complete; *len (may be NULL) gets its length.  Frees the writer's
 * buffer either way. */
char *ac__jw_finish(jsonw *w, size_t *len);
#endif
