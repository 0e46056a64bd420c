/*
 * retry.c -- backoff and its jitter.  See retry.h.
 */
#include "retry.h"

#define RETRY_BASE_MS 500.0
#define RETRY_MAX_MS 8000.0
#define RETRY_AFTER_CAP_MS 60000L

void ac__rng_seed(uint64_t *state, uint64_t seed)
{
    *state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

/* xorshift64*: small, fast, and plenty for spreading retries. */
double ac__rng_unit(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

double ac__retry_delay_ms(uint64_t *rng, int attempt, long retry_after_ms)
{
    if (retry_after_ms >= 0)
        return (double)(retry_after_ms > RETRY_AFTER_CAP_MS ? RETRY_AFTER_CAP_MS : retry_after_ms);
    double d = RETRY_BASE_MS;
    for (int i = 1; i < attempt && d < RETRY_MAX_MS; i++)
        d *= 2;
    if (d > RETRY_MAX_MS)
        d = RETRY_MAX_MS;
    return d * (0.75 + 0.25 * ac__rng_unit(rng));
}
