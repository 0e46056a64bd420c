/*
 * retry.h -- when a failed attempt is tried again, and after how long.
 *
 * A request is retried only while nothing of it has reached the caller,
 * on an error marked retryable (connection errors, 408, 409, 429, 5xx,
 * overloaded errors inside a stream, or what the server's x-should-retry
 * says), at most max_retries times, and only if the wait still fits in
 * the total timeout.  The wait is the server's Retry-After (capped at a
 * minute), otherwise exponential backoff from 500 ms to 8 s with up to a
 * quarter of jitter, so a burst of failures does not come back at once.
 *
 * The jitter comes from a generator of the engine's own (never the
 * application's rand() state).  Engine context only.
 */
#ifndef AC_RETRY_H
#define AC_RETRY_H
#include <stdint.h>

/* Seed a generator (any seed; 0 is replaced). */
void   ac__rng_seed(uint64_t *state, uint64_t seed);
/* A uniform double in [0, 1). */
double ac__rng_unit(uint64_t *state);
/* The wait before try number `attempt` + 1, in ms; retry_after_ms < 0
 * when the server gave none. */
double ac__retry_delay_ms(uint64_t *rng, int attempt, long retry_after_ms);
#endif
