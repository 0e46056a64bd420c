/*
 * decoder.h -- one response's bytes into a request's kind: the single
 * decoding path that the engine's transfers and replay.c both run, so the
 * fixture tests test what ships.
 *
 * Per attempt: header lines (retry hints, Content-Encoding), then the
 * status and Content-Type when the first body byte arrives (begin), then
 * body bytes in pieces of any size (feed), then the end of the body
 * (finish).  A 2xx body is first looked at (sniff.h): one that can never
 * be the protocol's (an HTML page, compressed bytes) fails at once, named
 * for what it is.  Otherwise a streamed response goes through the framer
 * (SSE or NDJSON) into the kind's `frame`; a 2xx whole body (or, on an
 * SSE request, a body that starts with '{' or '[', or, on an NDJSON
 * request, an application/json one: a proxy's early failure) into the
 * kind's `body`.  A body that fails to parse before anything of it was
 * read is named by sniff.h when it can say more than the parser.  Any
 * other status is kept (bounded) and turned into a classified ac_error by
 * finish: HTTP status, whether a retry may help (408, 409, 429, 5xx, or
 * the server's x-should-retry), the server's Retry-After, refined by the
 * plugin's parse_error.
 *
 * Bounded: every buffer a server can grow is capped by the request's
 * max_response_bytes (error bodies by ERROR_BODY_MAX), and a stream fails
 * after max_idle_events events or max_idle_bytes bytes in a row without
 * progress (nothing the sink's `progress` counts: see core.c for the
 * defaults and why).  Not thread-safe: one decoder per attempt, used by
 * the engine context only.
 */
#ifndef AC_DECODER_H
#define AC_DECODER_H
#include "buf.h"
#include "framing.h"
#include "request.h"
#include "sniff.h"

struct ac__decoder {
    ac_request  *q;
    ac_framing   framing;        /* what the request asked for */
    /* From the headers. */
    long         retry_after_ms; /* -1: not given */
    int          should_retry;   /* -1: no x-should-retry, else 0 / 1 */
    char         content_encoding[32]; /* "" when none was sent */
    /* From begin. */
    int          began;
    int          http_status;
    char         content_type[128];
    int          has_type;       /* content_type was sent */
    int          error_body;     /* non-2xx: keep the body for the error */
    int          whole_body;     /* 2xx, not framed: one body for `body` */
    framer      *fr;
    buf          body;           /* whole body, or the error body */
    /* A 2xx body's first AC__SNIFF_HEAD bytes, for sniff.h: allocated
     * on its first byte, released once a stream's first event was read
     * (nothing is named after that), so a long stream does not keep it. */
    char        *head;
    size_t       head_len;
    int          head_gone;      /* released: keep no more */
    size_t       total;          /* 2xx body bytes fed */
    int          decided;        /* the first bytes were looked at, the
                                    mode (whole or framed) chosen */
    int          markup;         /* an HTML page: kept until it can be named */
    /* Progress of a stream. */
    size_t       frames_ok;      /* events the kind took without error */
    long         idle_events;    /* events and comments in a row without progress */
    size_t       idle_bytes;     /* bytes fed since the last progress */
    /* The first failure while feeding; feed refuses more after it. */
    ac_status    failed;
    ac_error     err;
};
typedef struct ac__decoder decoder;

void      ac__decoder_init(decoder *d, ac_request *q, ac_framing framing);
/* Forget everything of the last attempt. */
void      ac__decoder_reset(decoder *d);
void      ac__decoder_free(decoder *d);
/* One raw header line ("Name: value\r\n", or a status line). */
void      ac__decoder_header(decoder *d, const char *line, size_t n);
/* The response's status and Content-Type (may be NULL).  Called once,
 * before the first feed; finish calls it if no byte came. */
void      ac__decoder_begin(decoder *d, int http_status, const char *content_type);
/* Body bytes.  AC_OK, or the failure (also kept in d->err). */
ac_status ac__decoder_feed(decoder *d, const char *p, size_t n);
/*
 * The body ended.  AC_OK: the kind has seen all of it and ended the
 * response (its `end`).  Otherwise err is filled: an HTTP error, a
 * framing or parse failure, a truncated stream; err->retryable says
 * whether another try may help.
 */
ac_status ac__decoder_finish(decoder *d, ac_error *err);
/* Inside the kind's `body`: take the body buffer (NUL-terminated,
 * ac__free it); NULL on no memory. */
char     *ac__decoder_take_body(decoder *d);
/* 1 for the statuses worth another try (408, 409, 429, 5xx). */
int       ac__status_retryable(int http_status);
#endif
