/*
 * failmalloc.h -- make an allocation of code we do not own (json-c,
 * libcurl, libc) fail, for the tests of what the library does then.
 *
 * tests/failmalloc.c defines malloc, calloc and realloc for the test
 * program, in front of glibc's: after fm_fail_after(n), the n+1th
 * allocation made by the calling thread (and every one after it) returns
 * NULL until fm_fail_after(-1); after fm_fail_nth(n) only the n+1th does,
 * which shows a failure that was ignored.  Other threads are never touched, so a
 * test on one thread is deterministic.  Under a sanitizer or valgrind,
 * which bring their own allocator, it cannot work: fm_available() says
 * so and the tests that need it skip.
 */
#ifndef AC_FAILMALLOC_H
#define AC_FAILMALLOC_H
void fm_fail_after(long n);
void fm_fail_nth(long n);
long fm_failures(void);
int  fm_available(void);
#endif
