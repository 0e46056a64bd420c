/*
 * alloc.c -- checked allocation with a failure switch and counters for
 * tests.  See alloc.h.
 */
#include "alloc.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;
static atomic_long failed_count;
static atomic_long live_count;   /* blocks handed out and not yet freed */
static atomic_long alloc_count;  /* blocks handed out, ever */

static void *counted(void *p)
{
    if (p) {
        atomic_fetch_add(&live_count, 1);
        atomic_fetch_add(&alloc_count, 1);
    }
    return p;
}

long ac__alloc_live(void) { return atomic_load(&live_count); }
long ac__alloc_total(void) { return atomic_load(&alloc_count); }

int ac__alloc_should_fail(void)
{
    long n = atomic_load(&fail_countdown);
    while (n >= 0) {
        if (n == 0) {
            atomic_fetch_add(&failed_count, 1);
            return 1;
        }
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return 0;
    }
    return 0;
}

void ac__alloc_fail_after(long n)
{
    atomic_store(&failed_count, 0);
    atomic_store(&fail_countdown, n);
}

long ac__alloc_failures(void) { return atomic_load(&failed_count); }

void *ac__malloc(size_t n)
{
    if (ac__alloc_should_fail())
        return NULL;
    return counted(malloc(n ? n : 1));
}

void *ac__calloc(size_t n, size_t size)
{
    if (ac__alloc_should_fail())
        return NULL;
    return counted(calloc(n ? n : 1, size ? size : 1));
}

void *ac__realloc(void *p, size_t n)
{
    if (ac__alloc_should_fail())
        return NULL;
    if (!p)
        return counted(realloc(NULL, n ? n : 1));
    return realloc(p, n ? n : 1);
}

void ac__free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&live_count, 1);
    free(p);
}

char *ac__strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = ac__malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ac__strdup(const char *s)
{
    return s ? ac__strndup(s, strlen(s)) : NULL;
}

char *ac__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = ac__malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
