/*
 * framing.h -- splitting a response byte stream into events.
 *
 * Implemented once for every provider (docs/protocols.md section 0): SSE
 * per the WHATWG rules, and NDJSON (one JSON value per line).  Bytes go in
 * as they arrive from the socket, in pieces of any size; complete events
 * come out through a callback, each a NUL-terminated ac_frame valid only
 * during the call.  The framer never parses JSON.
 *
 * Bounded: an event (or line) larger than max_event_bytes fails with
 * AC_ETOOBIG instead of growing without limit.
 *
 * Not thread-safe: one framer per response, used by one thread.
 */
#ifndef AC_FRAMING_H
#define AC_FRAMING_H
#include <stddef.h>
#include <abstractcore/provider.h>

typedef struct framer framer;

/* Called once per complete event.  Returning anything but AC_OK stops the
 * feed, which returns that status (err is the callback's to fill). */
typedef ac_status (*framer_cb)(void *ctx, const ac_frame *frame, ac_error *err);

/* A new framer (AC_FRAMING_SSE or AC_FRAMING_NDJSON); NULL on no memory
 * or another kind.  max_event_bytes 0 means 1 MiB. */
framer   *ac__framer_new(ac_framing kind, size_t max_event_bytes);
void      ac__framer_free(framer *f);            /* NULL ok */

/* Feed n bytes.  Calls cb for every event they complete. */
ac_status ac__framer_feed(framer *f, const char *p, size_t n,
                      framer_cb cb, void *ctx, ac_error *err);

/* The stream reached EOF.  NDJSON: a last line without "\n" is still
 * dispatched.  SSE: an unterminated event is dispatched too if it has data
 * (real servers end without the final blank line; see docs/protocols.md 0.6
 * and the anthropic_stream_text fixture).  */
ac_status ac__framer_finish(framer *f, framer_cb cb, void *ctx, ac_error *err);

/* Bytes fed so far, events dispatched so far, and SSE comment lines
 * (keep-alives) seen so far, each counted once when it begins. */
size_t    ac__framer_bytes(const framer *f);
size_t    ac__framer_events(const framer *f);
size_t    ac__framer_comments(const framer *f);
#endif
