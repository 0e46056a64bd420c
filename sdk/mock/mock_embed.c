/*
 * mock_embed.c -- embeddings for the mock server.  See mock_embed.h.
 *
 * The vector of a text: h = FNV-1a 64 of its bytes; a SplitMix64 state
 * starts at h XOR embedding_seed; each of the `dim` outputs z becomes
 * x = (z >> 11) * 2^-53 * 2 - 1, uniform in [-1, 1); the vector is divided
 * by its Euclidean length (unless TEI's "normalize": false), and every
 * value rounded to a 32-bit float, as real servers send float32.  A
 * shorter `dimensions` is therefore a prefix of the longer vector, scaled
 * back to unit length, as OpenAI's shortened embeddings are.
 *
 * Bodies are written by hand (numbers as "%.9g", which a float32 parses
 * back from exactly), with json-c only for strings: a batch of thousands
 * of vectors should not become millions of json-c objects.
 */
#include <config.h>

#include "mock_embed.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most numbers one reply may hold (about 200 MB of JSON): a batch of
   many tiny texts must not make the server build gigabytes. */
#define EMBED_MAX_VALUES (16u * 1024 * 1024)

static uint64_t embed_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mock_embed_vector(const char *text, size_t len, long seed, size_t dim, bool normalize,
                       float *out)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 0x100000001b3ULL;
    }
    /* Two passes over the same sequence: the length, then the values. */
    uint64_t state = h ^ (uint64_t)seed;
    double sum = 0;
    for (size_t i = 0; i < dim; i++) {
        double x = (double)(embed_splitmix(&state) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
        sum += x * x;
    }
    double norm = normalize && sum > 0 ? sqrt(sum) : 1.0;
    state = h ^ (uint64_t)seed;
    for (size_t i = 0; i < dim; i++) {
        double x = (double)(embed_splitmix(&state) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
        out[i] = (float)(x / norm);
    }
}

/* ---- requests ---- */

void mock_embed_req_free(mock_embed_req *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->inputs[i]);
    free(r->inputs);
    free(r->lens);
    free(r->model);
    memset(r, 0, sizeof *r);
}

static int embed_push(mock_embed_req *r, json_object *s)
{
    size_t len = (size_t)json_object_get_string_len(s);
    char **in = realloc(r->inputs, (r->n + 1) * sizeof *in);
    if (!in)
        return -2;
    r->inputs = in;
    size_t *lens = realloc(r->lens, (r->n + 1) * sizeof *lens);
    if (!lens)
        return -2;
    r->lens = lens;
    if (!(in[r->n] = malloc(len + 1)))
        return -2;
    memcpy(in[r->n], json_object_get_string(s), len + 1);
    lens[r->n++] = len;
    return 0;
}

/* The input member: a string or an array of strings. */
static int embed_inputs(mock_embed_req *r, json_object *v, const char *key, char *err, size_t errlen)
{
    if (v && json_object_is_type(v, json_type_string)) {
        r->single = true;
        return embed_push(r, v);
    }
    if (!v || !json_object_is_type(v, json_type_array)) {
        snprintf(err, errlen, "'%s' must be a string or an array of strings", key);
        return -1;
    }
    size_t n = json_object_array_length(v);
    if (n == 0) {
        snprintf(err, errlen, "'%s' is an empty array: nothing to embed", key);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        if (!json_object_is_type(s, json_type_string)) {
            snprintf(err, errlen, "'%s'[%zu] must be a string (token arrays are not supported)",
                     key, i);
            return -1;
        }
        int rc = embed_push(r, s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* OpenAI's options: dimensions and encoding_format. */
static int embed_openai_options(mock_embed_req *r, json_object *root, char *err, size_t errlen)
{
    json_object *v;
    if (json_object_object_get_ex(root, "dimensions", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1) {
            snprintf(err, errlen, "'dimensions' must be a positive integer");
            return -1;
        }
        long long d = json_object_get_int64(v);
        r->dimensions = d > 1000000 ? 1000000 : (long)d;
    }
    if (json_object_object_get_ex(root, "encoding_format", &v) &&
        !json_object_is_type(v, json_type_null)) {
        const char *f = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (strcmp(f, "float") && strcmp(f, "base64")) {
            snprintf(err, errlen, "'encoding_format' must be \"float\" or \"base64\"");
            return -1;
        }
        r->base64 = !strcmp(f, "base64");
    }
    return 0;
}

int mock_embed_parse(mock_proto p, bool legacy, const char *body, size_t len, mock_embed_req *r,
                     char *err, size_t errlen)
{
    bool oom;
    json_object *root = mock_proto_parse_object(body, len, err, errlen, &oom), *v = NULL;
    int rc;

    memset(r, 0, sizeof *r);
    r->normalize = true;
    r->legacy = legacy;
    if (!root)
        return oom ? -2 : -1;
    rc = -2;
    if (json_object_object_get_ex(root, "model", &v) && json_object_is_type(v, json_type_string) &&
        !(r->model = strdup(json_object_get_string(v))))
        goto done;
    if (legacy) {
        /* /api/embeddings: one "prompt" */
        if (!json_object_object_get_ex(root, "prompt", &v) || !json_object_is_type(v, json_type_string)) {
            snprintf(err, errlen, "'prompt' must be a string");
            rc = -1;
            goto done;
        }
        r->single = true;
        rc = embed_push(r, v);
        goto done;
    }
    const char *key = p == MOCK_PROTO_TEI || p == MOCK_PROTO_HF ? "inputs" : "input";
    v = NULL;
    json_object_object_get_ex(root, key, &v);
    if ((rc = embed_inputs(r, v, key, err, errlen)) < 0)
        goto done;
    if (p == MOCK_PROTO_OPENAI && (rc = embed_openai_options(r, root, err, errlen)) < 0)
        goto done;
    if ((p == MOCK_PROTO_TEI || p == MOCK_PROTO_HF) && json_object_object_get_ex(root, "normalize", &v) &&
        json_object_is_type(v, json_type_boolean))
        r->normalize = json_object_get_boolean(v) != 0;
    rc = 0;
done:
    if (rc == -2)
        snprintf(err, errlen, "out of memory");
    json_object_put(root);
    return rc;
}

long mock_embed_check(mock_proto p, const mock_embed_req *r, const mock_scenario *sc, char *msg,
                      size_t msglen)
{
    bool tei = p == MOCK_PROTO_TEI || p == MOCK_PROTO_HF;
    if (sc->max_batch > 0 && r->n > (size_t)sc->max_batch) {
        if (tei)
            snprintf(msg, msglen, "batch size %zu > maximum allowed batch size %ld", r->n,
                     sc->max_batch);
        else
            snprintf(msg, msglen, "'input' holds %zu texts, more than the %ld this server takes "
                     "in one request", r->n, sc->max_batch);
        return tei ? 413 : 400;
    }
    if (r->dimensions > sc->embedding_dim) {
        snprintf(msg, msglen, "'dimensions' %ld is more than this model's %ld", r->dimensions,
                 sc->embedding_dim);
        return 400;
    }
    size_t dim = r->dimensions > 0 ? (size_t)r->dimensions : (size_t)sc->embedding_dim;
    if (r->n > EMBED_MAX_VALUES / dim) {
        snprintf(msg, msglen, "%zu texts of %zu dimensions: more than the %u numbers the mock "
                 "server sends in one reply", r->n, dim, EMBED_MAX_VALUES);
        return 413;
    }
    return 0;
}

/* ---- bodies ---- */

static int embed_b64(const unsigned char *p, size_t n, mock_buf *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        q[0] = tbl[v >> 18 & 63];
        q[1] = tbl[v >> 12 & 63];
        q[2] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? tbl[v & 63] : '=';
        if (mock_buf_append(out, q, 4) < 0)
            return -1;
    }
    return 0;
}

/* One vector: a JSON array of numbers, or (base64) a JSON string of the
   little-endian float32 bytes. */
static int embed_one(const mock_embed_req *r, size_t i, const mock_scenario *sc, size_t dim,
                     float *v, mock_buf *out)
{
    mock_embed_vector(r->inputs[i], r->lens[i], sc->embedding_seed, dim, r->normalize, v);
    if (r->base64) {
        unsigned char *b = malloc(dim * 4);
        if (!b)
            return -1;
        for (size_t k = 0; k < dim; k++) {
            uint32_t u;
            memcpy(&u, &v[k], 4);
            for (int j = 0; j < 4; j++)
                b[k * 4 + (size_t)j] = (unsigned char)(u >> (8 * j));
        }
        int rc = mock_buf_puts(out, "\"") < 0 || embed_b64(b, dim * 4, out) < 0 ||
                         mock_buf_puts(out, "\"") < 0 ? -1 : 0;
        free(b);
        return rc;
    }
    char num[32];
    if (mock_buf_puts(out, "[") < 0)
        return -1;
    for (size_t k = 0; k < dim; k++) {
        int n = snprintf(num, sizeof num, "%s%.9g", k ? "," : "", (double)v[k]);
        if (mock_buf_append(out, num, (size_t)n) < 0)
            return -1;
    }
    return mock_buf_puts(out, "]");
}

/* A JSON string literal of s, escaped by json-c. */
static int embed_str(const char *s, mock_buf *out)
{
    json_object *o = json_object_new_string(s);
    int rc = o ? mock_buf_json(out, "", o, "") : -1;
    json_object_put(o);
    return rc;
}

int mock_embed_body(mock_proto p, const mock_embed_req *r, const mock_scenario *sc,
                    const char *model, mock_buf *out)
{
    size_t dim = r->dimensions > 0 ? (size_t)r->dimensions : (size_t)sc->embedding_dim;
    float *v = malloc(dim * sizeof *v);
    long long tokens = 0;
    char tail[160];
    bool ok = v != NULL;

    for (size_t i = 0; i < r->n; i++)
        tokens += (long long)mock_proto_words(r->inputs[i], r->lens[i]);
    if (sc->has_usage)
        tokens = sc->usage_in;
    if (ok && p == MOCK_PROTO_OPENAI) {
        ok = mock_buf_puts(out, "{\"object\":\"list\",\"data\":[") == 0;
        for (size_t i = 0; ok && i < r->n; i++) {
            char head[80];
            snprintf(head, sizeof head, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":",
                     i ? "," : "", i);
            ok = mock_buf_puts(out, head) == 0 && embed_one(r, i, sc, dim, v, out) == 0 &&
                 mock_buf_puts(out, "}") == 0;
        }
        snprintf(tail, sizeof tail, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
                 tokens, tokens);
        ok = ok && mock_buf_puts(out, "],\"model\":") == 0 && embed_str(model, out) == 0 &&
             mock_buf_puts(out, tail) == 0;
    } else if (ok && p == MOCK_PROTO_OLLAMA && r->legacy) {
        ok = mock_buf_puts(out, "{\"embedding\":") == 0 && embed_one(r, 0, sc, dim, v, out) == 0 &&
             mock_buf_puts(out, "}") == 0;
    } else if (ok && p == MOCK_PROTO_OLLAMA) {
        ok = mock_buf_puts(out, "{\"model\":") == 0 && embed_str(model, out) == 0 &&
             mock_buf_puts(out, ",\"embeddings\":[") == 0;
        for (size_t i = 0; ok && i < r->n; i++)
            ok = (!i || mock_buf_puts(out, ",") == 0) && embed_one(r, i, sc, dim, v, out) == 0;
        /* durations in nanoseconds, as Ollama reports them */
        snprintf(tail, sizeof tail, "],\"total_duration\":%lld,\"load_duration\":%lld,"
                 "\"prompt_eval_count\":%lld}", 1000000LL + (long long)r->n * 1000, 100000LL, tokens);
        ok = ok && mock_buf_puts(out, tail) == 0;
    } else if (ok) {
        /* TEI: always a list of vectors; HF: a bare vector for one string */
        bool flat = p == MOCK_PROTO_HF && r->single;
        ok = flat || mock_buf_puts(out, "[") == 0;
        for (size_t i = 0; ok && i < r->n; i++)
            ok = (!i || mock_buf_puts(out, ",") == 0) && embed_one(r, i, sc, dim, v, out) == 0;
        ok = ok && (flat || mock_buf_puts(out, "]") == 0);
    }
    free(v);
    return ok ? 0 : -1;
}
