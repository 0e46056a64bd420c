/*
 * sniff.h -- naming a 2xx body that is not what the protocol sends.
 *
 * A server, a proxy, a captive portal or a wrong base_url can answer a
 * request with status 200 and an HTML page, a compressed body nobody asked
 * for, binary noise, nothing at all, or text under a foreign Content-Type.
 * The parsers then fail on a symptom ("NUL byte at offset 3", "stream
 * ended ... after 0 bytes of text").  These functions look at the first
 * bytes of the body and at its headers and say what the body is instead
 * (docs/protocols.md 0.13).  The rules:
 *
 *   - On the first bytes, decided at once (the decoder stops reading), only
 *     bodies that can never parse: the first non-blank byte is '<' (HTML or
 *     XML: no JSON value and no SSE field starts so in any real stream), or
 *     the magic bytes of gzip (1f 8b) or zstd (28 b5 2f fd).  The core
 *     never sends Accept-Encoding, so libcurl hands on encoded bytes as
 *     they came.
 *   - After a parse failure, and only if nothing of the body was read
 *     successfully before it, in this order: a Content-Encoding other than
 *     identity; an empty body; binary bytes (C0 controls, or more than one
 *     byte in eight not UTF-8); a Content-Type that is none of the
 *     protocol's (JSON, event stream, NDJSON, or text/plain, which older
 *     llama.cpp servers send); a body that does not even start like the
 *     expected format.  Otherwise the parser's own error stands.
 *   - A body that parses is never failed, whatever its Content-Type (some
 *     servers send text/plain or none at all).
 *
 * A body refused on its first bytes fails with AC_EPROTOCOL at
 * AC_STAGE_PROTOCOL; a body named after a parse failure keeps the
 * parser's code and stage (AC_EJSON, AC_EFRAMING, AC_EPROTOCOL): only the
 * message changes.  Never retryable (the same server gives the same
 * page).  Every message starts "the server answered HTTP <status> with".
 * Pure functions on caller memory: thread-safe, no allocation.
 */
#ifndef AC_SNIFF_H
#define AC_SNIFF_H
#include <stddef.h>
#include <abstractcore/provider.h>

/* The first bytes of a body a decoder keeps for these functions. */
#define AC__SNIFF_HEAD 4096

typedef enum ac__sniff {
    AC__SNIFF_MORE = 0,    /* only blanks so far (or a magic number begun) */
    AC__SNIFF_FINE,        /* may be the protocol's: parse it */
    AC__SNIFF_MARKUP,      /* '<': an HTML page or an XML document */
    AC__SNIFF_COMPRESSED   /* gzip or zstd bytes */
} ac__sniff;

/* What the first n bytes of a body say (see the rules above). */
ac__sniff ac__sniff_start(const char *head, size_t n);

/* A markup body: 1 once its first n bytes are enough to name it (its
 * <title> has ended, or n reached cap). */
int ac__sniff_markup_done(const char *head, size_t n, size_t cap);

/* What is known about a body that failed (or that sniff_start refused). */
typedef struct ac__body_facts {
    int         http_status;
    const char *content_type;     /* NULL: none sent */
    const char *content_encoding; /* NULL: none sent */
    const char *head;             /* its first bytes */
    size_t      head_len;
    size_t      total;            /* body bytes received */
    ac_framing  framing;          /* what the request asked for (NONE: JSON) */
    int         streamed;         /* the body went through the framer */
    size_t      events;           /* events the framer dispatched */
    const ac_error *failure;      /* the parser's error, or NULL */
} ac__body_facts;

/* Name the body in err and return 1; 0 when the rules find nothing to
 * say better than f->failure (err untouched). */
int ac__sniff_name(const ac__body_facts *f, ac_error *err);

/* 1 if content_type (NULL: none) is one the protocols use or servers are
 * known to send for them: JSON (and any +json), an event stream, NDJSON /
 * JSON lines, text/plain. */
int ac__sniff_type_expected(const char *content_type);
#endif
