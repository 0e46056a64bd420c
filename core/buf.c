/*
 * buf.c -- growable, capped byte buffer.  See buf.h.
 */
#include "buf.h"
#include "alloc.h"

#include <string.h>

int ac__buf_append(buf *b, const void *p, size_t n)
{
    if (b->limit && (n > b->limit || b->len > b->limit - n))
        return -2;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = ac__realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ac__buf_appends(buf *b, const char *s) { return ac__buf_append(b, s, strlen(s)); }

void ac__buf_reset(buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void ac__buf_free(buf *b)
{
    ac__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void ac__buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        ac__buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *ac__buf_steal(buf *b)
{
    char *d = b->data;
    if (!d)
        d = ac__strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
