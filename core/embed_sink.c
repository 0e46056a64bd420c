/*
 * embed_sink.c -- where a plugin's vectors go, and the public accessors of
 * the vectors a call hands back.  See embed.h.
 *
 * Everything a server sends may be hostile: an index past the batch, the
 * same index twice, vectors of different sizes, NaN, a dimension that
 * would make n * dim overflow.  Each is refused here, once, for every
 * plugin, with a message that names the vector; the plugin's call is
 * failed (host->fail's rules: the core scrubs secrets, names the
 * provider), so the plugin returns the status and nothing else.
 */
#include "embed.h"
#include "alloc.h"
#include "call.h"
#include "error.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void ac__embed_sink_init(ac_embed_sink *k, size_t n, size_t cap)
{
    memset(k, 0, sizeof *k);
    k->n = n;
    k->cap = cap;
    k->input_tokens = -1;
}

void ac__embed_sink_reset(ac_embed_sink *k)
{
    size_t n = k->n, cap = k->cap;
    ac__embed_sink_free(k);
    ac__embed_sink_init(k, n, cap);
}

void ac__embed_sink_free(ac_embed_sink *k)
{
    ac__free(k->v);
    ac__free(k->have);
    ac__free(k->model);
    k->v = NULL;
    k->have = NULL;
    k->model = NULL;
    k->got = 0;
    k->dim = 0;
}

/* Fail the plugin's call (when there is one) and return code. */
static ac_status refuse(ac_embed_sink *k, ac_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ac_status refuse(ac_embed_sink *k, ac_status code, const char *fmt, ...)
{
    if (!k->call)
        return code;
    char msg[AC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ac__host_fail(k->call, code, code == AC_ETOOBIG ? AC_STAGE_HTTP : AC_STAGE_PROTOCOL,
                         "%s", msg);
}

/* The first vector fixes the batch's dimension: room for all of them. */
static ac_status first_vector(ac_embed_sink *k, size_t dim)
{
    if (k->n > SIZE_MAX / sizeof(float) / dim)
        return refuse(k, AC_ETOOBIG, "%zu vectors of %zu values do not fit in memory", k->n, dim);
    size_t bytes = k->n * dim * sizeof(float);
    if (k->cap && bytes > k->cap)
        return refuse(k, AC_ETOOBIG, "%zu vectors of %zu values are more than "
                      "max_response_bytes", k->n, dim);
    k->v = ac__malloc(bytes);
    k->have = ac__calloc(k->n, 1);
    if (!k->v || !k->have) {
        ac__free(k->v);
        ac__free(k->have);
        k->v = NULL;
        k->have = NULL;
        return refuse(k, AC_ENOMEM, "out of memory for %zu vectors of %zu values", k->n, dim);
    }
    k->dim = dim;
    return AC_OK;
}

ac_status ac__embed_vector(ac_embed_sink *k, size_t index, const float *v, size_t dim)
{
    if (!k)
        return AC_EINVAL;
    if (k->call && ac__host_cancelled(k->call))
        return AC_ECANCELED;
    if (index >= k->n)
        return refuse(k, AC_EPROTOCOL, "vector %zu is out of range: the batch has %zu texts",
                      index, k->n);
    if (!v || dim == 0 || dim > AC_EMBED_MAX_DIM)
        return refuse(k, AC_EPROTOCOL, "vector %zu has %zu values (1 .. 65536 expected)", index,
                      v ? dim : 0);
    if (k->dim == 0) {
        ac_status st = first_vector(k, dim);
        if (st != AC_OK)
            return st;
    } else if (dim != k->dim) {
        return refuse(k, AC_EPROTOCOL, "vector %zu has %zu values, the batch's first had %zu",
                      index, dim, k->dim);
    }
    if (k->have[index])
        return refuse(k, AC_EPROTOCOL, "vector %zu was given twice (%zu values)", index, dim);
    for (size_t i = 0; i < dim; i++)
        if (!isfinite(v[i]))
            return refuse(k, AC_EPROTOCOL, "vector %zu: value %zu is not a finite number", index,
                          i);
    memcpy(k->v + index * dim, v, dim * sizeof(float));
    k->have[index] = 1;
    k->got++;
    return AC_OK;
}

ac_status ac__embed_usage(ac_embed_sink *k, long input_tokens)
{
    if (!k)
        return AC_EINVAL;
    k->input_tokens = input_tokens >= 0 ? input_tokens : -1;
    return AC_OK;
}

ac_status ac__embed_model(ac_embed_sink *k, const char *model)
{
    if (!k)
        return AC_EINVAL;
    if (!model || !*model)
        return AC_OK;
    char *m = ac__strndup(model, strnlen(model, 256));
    if (!m)
        return refuse(k, AC_ENOMEM, "out of memory for the model name");
    ac__free(k->model);
    k->model = m;
    return AC_OK;
}

ac_status ac__embed_sink_check(const ac_embed_sink *k, size_t dims, ac_error *err)
{
    if (k->got < k->n) {
        size_t first = 0;
        while (k->have && first < k->n && k->have[first])
            first++;
        ac__error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                      "the reply has %zu vectors for %zu texts (the first missing: text %zu)",
                      k->got, k->n, first);
        return AC_EPROTOCOL;
    }
    if (dims && k->dim != dims) {
        ac__error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                      "asked for vectors of %zu values, the server sent %zu (can this model "
                      "shorten its vectors?)", dims, k->dim);
        return AC_EPROTOCOL;
    }
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* The public accessors                                                */
/* ------------------------------------------------------------------ */

size_t ac_embeddings_count(const ac_embeddings *e) { return e ? e->n : 0; }
size_t ac_embeddings_dimension(const ac_embeddings *e) { return e ? e->dim : 0; }

const float *ac_embeddings_vector(const ac_embeddings *e, size_t i)
{
    return e && i < e->n ? e->v + i * e->dim : NULL;
}

const char *ac_embeddings_model(const ac_embeddings *e) { return e ? e->model : ""; }
const char *ac_embeddings_provider(const ac_embeddings *e) { return e ? e->provider : ""; }
long ac_embeddings_input_tokens(const ac_embeddings *e) { return e ? e->input_tokens : -1; }
size_t ac_embeddings_batches(const ac_embeddings *e) { return e ? e->batches : 0; }

void ac_embeddings_free(ac_embeddings *e)
{
    if (!e)
        return;
    ac__free(e->v);
    ac__free(e->model);
    ac__free(e->provider);
    ac__free(e);
}
