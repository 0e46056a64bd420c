/*
 * buf.h -- a growable byte buffer with a hard cap.
 *
 * Every buffer a server can grow is one of these, with a cap taken from the
 * provider's max_response_bytes, so a hostile server cannot exhaust memory.
 * The contents are always NUL-terminated (the NUL is not counted in len).
 * Not thread-safe: one owner.
 */
#ifndef AC_BUF_H
#define AC_BUF_H
#include <stddef.h>

typedef struct buf {
    char  *data;   /* NULL until the first append */
    size_t len;
    size_t cap;    /* allocated bytes */
    size_t limit;  /* max len; 0 = unlimited */
} buf;

/* Result of ac__buf_append: 0 ok, -1 out of memory, -2 over the limit. */
int    ac__buf_append(buf *b, const void *p, size_t n);
int    ac__buf_appends(buf *b, const char *s);
void   ac__buf_reset(buf *b);                 /* len = 0, keeps memory */
void   ac__buf_free(buf *b);                  /* releases memory, len = 0 */
void   ac__buf_consume(buf *b, size_t n);     /* drop the first n bytes */
char  *ac__buf_steal(buf *b);                 /* take data (never NULL on ok; "" alloc'd), NULL on OOM */
#endif
