/*
 * mock_fault.c -- bytes for the mock server's fault modes.  See
 * mock_fault.h.  gzip is zlib's deflate with a gzip wrapper (windowBits
 * 15 + 16), so the body is what a real server's compression filter sends.
 */
#include <config.h>

#include "mock_fault.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

void mock_fault_garbage(long seed, char *out, size_t n)
{
    uint64_t state = (uint64_t)seed, z = 0;
    for (size_t k = 0; k < n; k++) {
        if (k % 8 == 0) {
            /* SplitMix64 (Steele, Lea, Flood 2014) */
            state += 0x9e3779b97f4a7c15ULL;
            z = state;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
        }
        out[k] = (char)(unsigned char)(z >> (8 * (k % 8)));
    }
}

int mock_fault_html(long status, mock_buf *out)
{
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found"
                         : status == 429 ? "Too Many Requests" : status == 500 ? "Internal Server Error"
                         : status == 502 ? "Bad Gateway" : status == 503 ? "Service Unavailable"
                         : status == 504 ? "Gateway Timeout" : "Error";
    char page[512];
    /* A 200 page is what a captive portal or a misrouted proxy sends. */
    snprintf(page, sizeof page,
             "<!DOCTYPE html>\n<html>\n<head><title>%ld %s</title></head>\n"
             "<body>\n<center><h1>%ld %s</h1></center>\n<hr><center>nginx</center>\n"
             "</body>\n</html>\n",
             status, reason, status, reason);
    return mock_buf_puts(out, page);
}

struct mock_gzip {
    z_stream zs;
    bool done;
};

mock_gzip *mock_gzip_new(void)
{
    mock_gzip *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    if (deflateInit2(&z->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

int mock_gzip_push(mock_gzip *z, const void *data, size_t len, bool finish, mock_buf *out)
{
    if (z->done)
        return 0;
    size_t old = out->len;
    z->zs.next_in = (Bytef *)(uintptr_t)data;
    z->zs.avail_in = (uInt)len;
    int flush = finish ? Z_FINISH : Z_SYNC_FLUSH;
    for (;;) {
        /* deflateBound is for a whole stream; a flush adds a few bytes */
        size_t room = deflateBound(&z->zs, (uLong)len) + 64;
        if (out->cap - out->len < room + 1) {
            if (mock_buf_append(out, "", 0) < 0) /* make sure data exists */
                goto oom;
            size_t cap = out->cap;
            while (cap - out->len < room + 1)
                cap *= 2;
            char *d = realloc(out->data, cap);
            if (!d)
                goto oom;
            out->data = d;
            out->cap = cap;
        }
        z->zs.next_out = (Bytef *)(out->data + out->len);
        z->zs.avail_out = (uInt)(out->cap - out->len - 1);
        int rc = deflate(&z->zs, flush);
        out->len = out->cap - 1 - z->zs.avail_out;
        out->data[out->len] = '\0';
        if (rc == Z_STREAM_END) {
            z->done = true;
            return 0;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            goto oom;
        if (z->zs.avail_in == 0 && z->zs.avail_out > 0 && !finish)
            return 0;
    }
oom:
    out->len = old;
    if (out->data)
        out->data[old] = '\0';
    return -1;
}

void mock_gzip_free(mock_gzip *z)
{
    if (!z)
        return;
    deflateEnd(&z->zs);
    free(z);
}

int mock_gzip_all(const void *data, size_t len, mock_buf *out)
{
    mock_gzip *z = mock_gzip_new();
    int rc = z ? mock_gzip_push(z, data, len, true, out) : -1;
    mock_gzip_free(z);
    return rc;
}

void mock_fault_reset(int fd)
{
    struct linger l = { .l_onoff = 1, .l_linger = 0 };
    struct sockaddr sa;
    if (fd < 0)
        return;
    /* libmicrohttpd shuts the write side down (a FIN) before it closes,
       so a zero linger alone would reset only after the FIN.  Connecting
       a TCP socket to AF_UNSPEC aborts the connection at once with an RST
       (Linux, tcp_disconnect); the linger covers systems without that. */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNSPEC;
    if (connect(fd, &sa, sizeof sa) != 0) {
        /* the linger still resets at close */
    }
}
