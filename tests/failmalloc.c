/*
 * failmalloc.c -- see failmalloc.h.  glibc supports replacing malloc in
 * the program ("Replacing malloc" in its manual); these forward to its
 * own __libc_* functions.  Not compiled in under AddressSanitizer, whose
 * allocator must see every block.
 */
#include "failmalloc.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
void fm_fail_after(long n) { (void)n; }
void fm_fail_nth(long n) { (void)n; }
long fm_failures(void) { return 0; }
int  fm_available(void) { return 0; }
#else
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static _Thread_local long countdown = -1;
static _Thread_local int  once;
static _Thread_local long failures;

static int should_fail(void)
{
    if (countdown < 0)
        return 0;
    if (countdown == 0) {
        failures++;
        errno = ENOMEM;
        if (once)
            countdown = -1;
        return 1;
    }
    countdown--;
    return 0;
}

void *malloc(size_t n) { return should_fail() ? NULL : __libc_malloc(n); }
void *calloc(size_t n, size_t size) { return should_fail() ? NULL : __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { return should_fail() ? NULL : __libc_realloc(p, n); }

void fm_fail_after(long n)
{
    failures = 0;
    once = 0;
    countdown = n;
}

void fm_fail_nth(long n)
{
    fm_fail_after(n);
    once = 1;
}

long fm_failures(void) { return failures; }

/* Valgrind replaces malloc in the program too: then ours never runs. */
int fm_available(void)
{
    /* Through a volatile pointer: the compiler may not assume what the
     * standard malloc would return. */
    void *(*volatile alloc)(size_t) = malloc;
    fm_fail_after(0);
    void *p = alloc(16);
    fm_fail_after(-1);
    free(p);
    return p == NULL;
}
#endif
