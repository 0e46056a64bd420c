/*
 * ratelimit.h -- client-side rate limits per provider instance: requests
 * per minute and tokens per minute, as token buckets.
 *
 * A try that finds the bucket empty is not failed: it waits, in the order
 * the tries came, until the bucket has refilled (bounded by the request's
 * own timeouts, as any wait is).  Requests are counted when a try starts;
 * tokens when a request ends and its usage is known (the bucket may go
 * below zero: the tries after it wait until it is positive again).  A
 * bucket holds at most a minute's worth, and starts full.
 *
 * Engine context only (the buckets of a core's instances are used by its
 * one engine), so no lock.
 */
#ifndef AC_RATELIMIT_H
#define AC_RATELIMIT_H

struct ac_request;

typedef struct ratelimit {
    long   rpm, tpm;              /* 0: no limit of that kind */
    double req, tok;              /* what the buckets hold */
    double last;                  /* last refill, ms; 0: never */
    struct ac_request *head, *tail;  /* waiting tries, in order */
} ratelimit;

void ac__ratelimit_init(ratelimit *r, long rpm, long tpm);
/* 1 if rate limits apply at all. */
int  ac__ratelimit_on(const ratelimit *r);
/* May q start a try now (now: ms)?  1: yes, and a request is counted.
 * 0: q waits in line; *due is when to ask again. */
int  ac__ratelimit_take(ratelimit *r, struct ac_request *q, double now, double *due);
/* q leaves the line without starting (cancelled, timed out, closed). */
void ac__ratelimit_forget(ratelimit *r, struct ac_request *q);
/* A request ended having used `tokens` (input and output). */
void ac__ratelimit_used(ratelimit *r, long tokens);
#endif
