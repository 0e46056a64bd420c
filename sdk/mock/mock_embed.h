/*
 * mock_embed.h -- the mock server's embeddings (mock_embed.c): reading an
 * embeddings request in each of the four shapes the server answers,
 * checking it against the scenario, the vectors, and the reply bodies.
 *
 *   OpenAI   POST /v1/embeddings   {"input": s | [s...], "dimensions"?, "encoding_format"?}
 *   Ollama   POST /api/embed       {"input": s | [s...]}
 *            POST /api/embeddings  {"prompt": s}              (the older endpoint)
 *   TEI      POST /embed           {"inputs": s | [s...], "normalize"?}
 *   HF       POST /hf-inference/models/<model>/pipeline/feature-extraction
 *                                  {"inputs": s | [s...], "normalize"?}
 *
 * A vector depends only on the text, embedding_seed and the dimension
 * (docs/mock-server.md, "Embeddings", gives the recipe).  Pure functions,
 * no I/O, no locks.
 */
#ifndef AC_MOCK_EMBED_H
#define AC_MOCK_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include "mock_proto.h"

typedef struct mock_embed_req {
    char *model;      /* "model" of the body (HF: set by the caller from the path); may be NULL */
    char **inputs;    /* the texts, NUL-terminated, in order */
    size_t *lens;     /* their lengths in bytes (a text may hold "\u0000") */
    size_t n;
    bool single;      /* the input was one string, not an array */
    bool legacy;      /* Ollama /api/embeddings: {"embedding": [...]} */
    bool base64;      /* OpenAI encoding_format "base64" */
    bool normalize;   /* TEI/HF "normalize" (default true) */
    long dimensions;  /* OpenAI "dimensions"; 0 when absent */
} mock_embed_req;

/* Read an embeddings body of protocol p (legacy: Ollama's /api/embeddings).
   0; -1 with a message for a 400 in err; -2 out of memory.  r is filled as
   far as it was read either way; free it with mock_embed_req_free(). */
int mock_embed_parse(mock_proto p, bool legacy, const char *body, size_t len, mock_embed_req *r,
                     char *err, size_t errlen);
void mock_embed_req_free(mock_embed_req *r);

/* Whether the scenario serves r: 0, or the HTTP status of the refusal
   with a message in msg: a batch over max_batch (as the real server: TEI
   and HF 413, OpenAI and Ollama 400), dimensions over embedding_dim (400),
   or a reply of more than 16 Mi numbers (413). */
long mock_embed_check(mock_proto p, const mock_embed_req *r, const mock_scenario *sc, char *msg,
                      size_t msglen);

/* The vector of text: dim values, each rounded to a 32-bit float, of unit
   length when normalize is set. */
void mock_embed_vector(const char *text, size_t len, long seed, size_t dim, bool normalize,
                       float *out);

/* The reply body.  model: what the reply names.  -1 on OOM. */
int mock_embed_body(mock_proto p, const mock_embed_req *r, const mock_scenario *sc,
                    const char *model, mock_buf *out);

#endif
