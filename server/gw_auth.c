/*
 * gw_auth.c -- client keys: which key a request carries, what it may
 * use, and how fast.
 *
 * A token is compared with every configured key, always all of them,
 * each byte of the token against the key's byte at that position (the
 * key repeated), accumulating differences with OR: the time depends on
 * the token's length and the number of keys, never on how much of a key
 * matched nor on which key it was.  The rate is a token bucket per key:
 * `rpm` requests a minute, a burst of up to `rpm` at once.
 *
 * The keys come from the gw_config, which must outlive the gw_auth.
 * Not thread-safe: the loop thread only.
 */
#include "gw.h"

#include <stdlib.h>
#include <string.h>

typedef struct bucket {
    double tokens;
    double last_ms;
} bucket;

struct gw_auth {
    const gw_config *cfg;
    bucket          *buckets;
};

gw_auth *gw_auth_new(const gw_config *c)
{
    gw_auth *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = c;
    if (c->n_keys && !(a->buckets = calloc(c->n_keys, sizeof *a->buckets))) {
        free(a);
        return NULL;
    }
    for (size_t i = 0; i < c->n_keys; i++)
        a->buckets[i].tokens = (double)c->keys[i].rpm;
    return a;
}

void gw_auth_free(gw_auth *a)
{
    if (!a)
        return;
    free(a->buckets);
    free(a);
}

int gw_auth_check(const gw_auth *a, const char *token)
{
    if (a->cfg->n_keys == 0)
        return GW_AUTH_OPEN;
    if (!token)
        return GW_AUTH_DENIED;
    size_t n = strlen(token);
    int found = GW_AUTH_DENIED;
    for (size_t k = 0; k < a->cfg->n_keys; k++) {
        const gw_key *key = &a->cfg->keys[k];
        volatile unsigned char diff = (unsigned char)(n != key->key_len);
        for (size_t i = 0; i < n; i++)
            diff |= (unsigned char)(token[i] ^ key->key[i % key->key_len]);
        /* Branch-free choice, so the match does not show either. */
        int hit = diff == 0;
        found = hit ? (int)k : found;
    }
    return found;
}

const char *gw_auth_id(const gw_auth *a, int k)
{
    if (k < 0 || (size_t)k >= a->cfg->n_keys)
        return "-";
    return a->cfg->keys[k].id;
}

int gw_auth_allows(const gw_auth *a, int k, const char *provider)
{
    if (k < 0 || (size_t)k >= a->cfg->n_keys)
        return 1;
    const gw_key *key = &a->cfg->keys[k];
    if (!key->providers)
        return 1;
    for (size_t i = 0; i < key->n_providers; i++)
        if (strcmp(key->providers[i], provider) == 0)
            return 1;
    return 0;
}

long gw_auth_take(gw_auth *a, int k, double now_ms)
{
    if (k < 0 || (size_t)k >= a->cfg->n_keys || a->cfg->keys[k].rpm <= 0)
        return 0;
    double rate = (double)a->cfg->keys[k].rpm / 60000.0; /* per ms */
    bucket *b = &a->buckets[k];
    if (b->last_ms > 0 && now_ms > b->last_ms) {
        b->tokens += (now_ms - b->last_ms) * rate;
        if (b->tokens > (double)a->cfg->keys[k].rpm)
            b->tokens = (double)a->cfg->keys[k].rpm;
    }
    b->last_ms = now_ms;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    long wait = (long)((1.0 - b->tokens) / rate / 1000.0 + 0.999);
    return wait < 1 ? 1 : wait;
}
