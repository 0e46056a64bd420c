/*
 * alloc.h -- the one place all library memory comes from.
 *
 * Every allocation in the core goes through these, so the tests can make
 * the Nth allocation fail (ac__alloc_fail_after) and check that each error
 * path cleans up (curl's "torture" tests).  Thread-safe.
 */
#ifndef AC_ALLOC_H
#define AC_ALLOC_H
#include <stddef.h>

void *ac__malloc(size_t n);
void *ac__calloc(size_t n, size_t size);
void *ac__realloc(void *p, size_t n);
void  ac__free(void *p);
char *ac__strdup(const char *s);            /* NULL in -> NULL out */
char *ac__strndup(const char *s, size_t n);
char *ac__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Tests only: fail every allocation after `n` more succeed (-1: never). */
void  ac__alloc_fail_after(long n);
/* Tests only: allocations refused since the last ac__alloc_fail_after. */
long  ac__alloc_failures(void);
/* Tests only: 1 if an allocation made now must fail, by the schedule of
 * ac__alloc_fail_after (and counted in ac__alloc_failures), else 0 (and
 * counted toward that schedule).  For allocators outside the library
 * that a test puts on the same schedule: libcurl's, given to
 * curl_global_init_mem (tests/test_alloc.c). */
int   ac__alloc_should_fail(void);
/* Blocks allocated here and not yet freed: every test program ends with
 * zero (tests/testutil.c checks), so a leak on any path is a failure. */
long  ac__alloc_live(void);
/* Blocks allocated here since the program started. */
long  ac__alloc_total(void);
#endif
