/*
 * embed.h -- embeddings: where a plugin's vectors go (embed_sink.c) and
 * what ac_embed hands back (struct ac_embeddings); the request kinds are
 * in embed.c.
 *
 * One sink per batch request.  It holds the batch's vectors as the plugin
 * gives them (host->embed_vector, any order), checks each against the
 * rules provider.h states -- index in range and given once, one dimension
 * for the batch, finite values, the batch's bytes within the response
 * cap -- and fails the plugin's call itself when one is broken, so the
 * plugin only has to return the status.  A sink is used by one thread at
 * a time: the engine context for HTTP batches, the worker running
 * run_embed for in-process ones (the engine reads it once the run has
 * ended).
 */
#ifndef AC_EMBED_H
#define AC_EMBED_H
#include <abstractcore/provider.h>

struct ac_embed_sink {
    size_t         n;             /* vectors the batch needs */
    size_t         dim;           /* values per vector; 0 before the first */
    float         *v;             /* n * dim, once dim is known */
    unsigned char *have;          /* n flags: vector i was given */
    size_t         got;           /* vectors given */
    long           input_tokens;  /* -1: not reported */
    char          *model;         /* what the server named, or NULL */
    size_t         cap;           /* most bytes of vectors (0: no cap) */
    ac_call       *call;          /* the plugin call under way: a broken
                                     rule fails it (NULL: none) */
};

struct ac_embeddings {
    size_t  n, dim;
    float  *v;                    /* n * dim */
    char   *model;
    char   *provider;
    long    input_tokens;         /* -1: a batch did not say */
    size_t  batches;
};

/* A sink for n vectors whose bytes may not pass cap (0: no cap). */
void      ac__embed_sink_init(ac_embed_sink *k, size_t n, size_t cap);
/* Forget every vector (a retry starts over); keeps n and cap. */
void      ac__embed_sink_reset(ac_embed_sink *k);
void      ac__embed_sink_free(ac_embed_sink *k);
/* After the plugin's call: AC_OK when every vector came (and, when
 * dims is not 0, with that many values), else AC_EPROTOCOL in err. */
ac_status ac__embed_sink_check(const ac_embed_sink *k, size_t dims, ac_error *err);

/* The host table's embedding members (host.c points at them). */
const char *ac__embed_text(const ac_embed_request *req, size_t i, size_t *len);
ac_status   ac__embed_vector(ac_embed_sink *k, size_t index, const float *v, size_t dim);
ac_status   ac__embed_usage(ac_embed_sink *k, long input_tokens);
ac_status   ac__embed_model(ac_embed_sink *k, const char *model);
#endif
