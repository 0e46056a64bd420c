/*
 * mock_fault.h -- the bytes and socket tricks of the mock server's fault
 * modes (mock_fault.c): seeded garbage, a proxy's HTML error page, gzip
 * bodies nobody asked for, and a TCP reset.  Pure functions except
 * mock_fault_reset(); a gzip stream belongs to one request.
 */
#ifndef AC_MOCK_FAULT_H
#define AC_MOCK_FAULT_H

#include <stdbool.h>
#include <stddef.h>

#include "mock_proto.h"

/*
 * n pseudo-random bytes for `garbage`, the same for the same seed: byte k
 * is byte k % 8 (least significant first) of the (k / 8 + 1)-th output of
 * SplitMix64 whose state starts at (uint64_t)seed.  docs/mock-server.md
 * spells this out so that tests can recompute it.
 */
void mock_fault_garbage(long seed, char *out, size_t n);

/* The HTML error page of `html = true`, as a reverse proxy sends it, for
   HTTP status `status`.  -1 on OOM. */
int mock_fault_html(long status, mock_buf *out);

/* A gzip (RFC 1952) compressor fed a piece at a time: each push ends with
   a sync flush, so a client can decode every event as it arrives;
   `finish` writes the trailer.  NULL on OOM. */
typedef struct mock_gzip mock_gzip;
mock_gzip *mock_gzip_new(void);
int mock_gzip_push(mock_gzip *z, const void *data, size_t len, bool finish, mock_buf *out);
void mock_gzip_free(mock_gzip *z);

/* A whole buffer, compressed in one go; -1 on OOM. */
int mock_gzip_all(const void *data, size_t len, mock_buf *out);

/* Abort the TCP connection on fd with a reset (RST) now, before
   libmicrohttpd closes it with a FIN. */
void mock_fault_reset(int fd);

#endif
