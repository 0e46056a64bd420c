/*
 * sdk_embed.c -- vectors out of JSON, for every plugin's embeddings
 * parser.  See <abstractcore/sdk.h>.
 *
 * Servers send a vector as an array of numbers, or (OpenAI with
 * "encoding_format": "base64") as the base64 of its float32 bytes.  Both
 * are read here once, bounded (never more than AC_EMBED_MAX_DIM values
 * are allocated for) and checked (a value past float's range would become
 * an infinity: refused), then handed to host->embed_vector, which applies
 * the core's own rules.  Pure functions of their inputs: any thread.
 */
#include <abstractcore/sdk.h>

#include <json-c/json.h>
#include <math.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode standard base64 (padding optional) into out (room for
 * n / 4 * 3 + 3 bytes).  The decoded length, or (size_t)-1 when s is not
 * base64. */
static size_t b64_decode(const char *s, size_t n, unsigned char *out)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return (size_t)-1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return (size_t)-1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o;
}

static ac_status from_base64(const ac_host_api *h, ac_embed_sink *out, size_t index,
                             const char *s, size_t n, ac_call *call)
{
    /* 4 base64 characters carry 3 bytes; a float is 4 bytes. */
    if (n / 4 * 3 / 4 > AC_EMBED_MAX_DIM)
        return h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                       "embedding %zu: more than %d values", index, AC_EMBED_MAX_DIM);
    unsigned char *bytes = h->malloc(n / 4 * 3 + 3);
    if (!bytes)
        return h->fail(call, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
    size_t len = b64_decode(s, n, bytes);
    ac_status rc;
    if (len == (size_t)-1 || len == 0 || len % 4 != 0) {
        rc = h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                     "embedding %zu: a string that is not the base64 of float32 values",
                     index);
    } else {
        size_t dim = len / 4;
        float *v = (float *)(void *)bytes; /* malloc'd: aligned for float */
        for (size_t i = 0; i < dim; i++) {
            const unsigned char *b = bytes + 4 * i;
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                         (uint32_t)b[3] << 24;
            float f;
            memcpy(&f, &u, sizeof f);
            v[i] = f;
        }
        rc = h->embed_vector(out, index, v, dim);
    }
    h->free(bytes);
    return rc;
}

ac_status ac_sdk_embed_vector_json(const ac_host_api *h, ac_embed_sink *out, size_t index,
                                   struct json_object *v, ac_call *call)
{
    if (json_object_is_type(v, json_type_string))
        return from_base64(h, out, index, json_object_get_string(v),
                           (size_t)json_object_get_string_len(v), call);
    if (!json_object_is_type(v, json_type_array))
        return h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                       "embedding %zu is not an array of numbers", index);
    size_t dim = json_object_array_length(v);
    if (dim == 0 || dim > AC_EMBED_MAX_DIM)
        return h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                       "embedding %zu has %zu values (1 .. %d expected)", index, dim,
                       AC_EMBED_MAX_DIM);
    float *f = h->malloc(dim * sizeof *f);
    if (!f)
        return h->fail(call, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
    ac_status rc = AC_OK;
    for (size_t i = 0; i < dim && rc == AC_OK; i++) {
        json_object *x = json_object_array_get_idx(v, i);
        if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int)) {
            rc = h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                         "embedding %zu: value %zu is not a number", index, i);
            break;
        }
        double d = json_object_get_double(x);
        if (!isfinite(d) || fabs(d) > FLT_MAX)
            rc = h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                         "embedding %zu: value %zu is out of a float's range", index, i);
        f[i] = (float)d;
    }
    if (rc == AC_OK)
        rc = h->embed_vector(out, index, f, dim);
    h->free(f);
    return rc;
}

ac_status ac_sdk_embed_list_json(const ac_host_api *h, ac_embed_sink *out,
                                 struct json_object *list, ac_call *call)
{
    if (!json_object_is_type(list, json_type_array))
        return h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                       "the embeddings are not a list of vectors");
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        ac_status rc = ac_sdk_embed_vector_json(h, out, i, json_object_array_get_idx(list, i),
                                                call);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}
