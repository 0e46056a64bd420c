/*
 * alloc.h -- the one place all library memory comes from.
 *
 * Every allocation in the core goes through these, so the tests can make
 * the Nth allocation fail (alloc_fail_after) and check that each error
 * path cleans up (curl's "torture" tests).  Thread-safe.
 */
#ifndef AC_ALLOC_H
#define AC_ALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void  xfree(void *p);
char *xstrdup(const char *s);            /* NULL in -> NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Tests only: fail every allocation after `n` more succeed (-1: never). */
void  alloc_fail_after(long n);
/* Tests only: allocations refused since the last alloc_fail_after. */
long  alloc_failures(void);
#endif
