/*
 * framing.c -- splitting a response byte stream into SSE or NDJSON events.
 *
 * Implements framing.h, following docs/protocols.md section 0 (the WHATWG
 * event-stream rules as the Stainless SSE decoder of the OpenAI and
 * Anthropic SDKs applies them).  Bytes are scanned once, as they arrive:
 * a line that lies wholly inside one read is handled in place, and only a
 * line that spans reads is copied into `line`, so feeding an event one
 * byte at a time costs the same as feeding it whole (no rescans).  The
 * framer works on bytes and never decodes UTF-8 or JSON; a multi-byte
 * character split across reads is simply joined before its line is handed
 * on.  Relies on alloc.h (every allocation can be made to fail), buf.h and
 * error.h.
 *
 * Decisions where the spec leaves room, each visible to plugins:
 *   - EOF (ac__framer_finish) dispatches an unterminated SSE event that has
 *     data, and treats a last line without a terminator as complete.  The
 *     WHATWG spec discards both, but real servers end their body without
 *     the final blank line (anthropic_stream_text fixture: its last event
 *     is message_stop), and finish is only called on a clean end of body,
 *     so the bytes are what the server meant to send.  A line cut in the
 *     middle reaches the plugin as it is, and its JSON parser rejects it.
 *   - `error: <value>` (old llama.cpp servers, which write
 *     "error: {json}\n\n") is collected like a data field and dispatched
 *     at the blank line (or at EOF) as an event named "error" whose data
 *     is the value (several error lines joined by "\n").  If the same
 *     block also has data lines, its data event is dispatched first, then
 *     the error event, so neither is lost.  Waiting for the blank line,
 *     rather than dispatching on the line itself, keeps one rule for every
 *     field and costs nothing: the server sends the blank line right after.
 *   - `id:` persists across events as the WHATWG "last event ID" does
 *     (and the SDKs' decoders); an empty `id:` clears it.  ac_frame.id is
 *     NULL while no id is set.  An empty `event:` name is reported as NULL.
 *   - A UTF-8 byte order mark at the very start of an SSE stream is
 *     dropped (WHATWG).
 *   - Comment lines (starting with ':') are dropped as they stream in and
 *     are never buffered, so they do not count against max_event_bytes.
 *   - NDJSON lines end at "\n" only; one "\r" before it is dropped.  Lines
 *     holding only spaces, tabs or "\r" are skipped like empty ones.
 *   - A NUL byte anywhere fails the stream with AC_EFRAMING: neither
 *     format allows one, and the frames handed on are C strings.
 *   - Once a feed fails (bad bytes, too big, out of memory, or a callback
 *     error), the framer stays failed: later calls return the same code.
 */
#include "framing.h"
#include "alloc.h"
#include "buf.h"
#include "error.h"

#include <string.h>

#define FRAMER_DEFAULT_MAX ((size_t)1 << 20)
/* Buffers that grew past this for one large event are released after it,
 * so a long-lived stream holds only what its current event needs. */
#define FRAMER_KEEP_BYTES ((size_t)16384)

struct framer {
    ac_framing kind;
    size_t     max;        /* max_event_bytes */
    buf        line;       /* the line in progress, when it spans reads */
    int        discard;    /* the line in progress is a comment: not kept */
    int        after_cr;   /* the last line ended in "\r": a "\n" next
                              belongs to that terminator (SSE only) */
    int        started;    /* a line has ended (for the BOM rule) */
    /* The SSE event being assembled (NDJSON uses data as scratch). */
    buf        data;       /* data lines joined by "\n" */
    int        has_data;   /* at least one data field, maybe empty */
    buf        name;       /* event field */
    buf        error;      /* error field values joined by "\n" */
    int        has_error;
    buf        id;         /* last event ID, persists across events */
    int        has_id;
    size_t     bytes;      /* fed so far */
    size_t     events;     /* dispatched so far */
    size_t     comments;   /* SSE comment lines begun so far */
    ac_status  failed;     /* sticky: AC_OK until a feed fails */
    int        finished;   /* ac__framer_finish was called */
};

framer *ac__framer_new(ac_framing kind, size_t max_event_bytes)
{
    if (kind != AC_FRAMING_SSE && kind != AC_FRAMING_NDJSON)
        return NULL;
    framer *f = ac__calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->kind = kind;
    f->max = max_event_bytes ? max_event_bytes : FRAMER_DEFAULT_MAX;
    f->failed = AC_OK;
    return f;
}

void ac__framer_free(framer *f)
{
    if (!f)
        return;
    ac__buf_free(&f->line);
    ac__buf_free(&f->data);
    ac__buf_free(&f->name);
    ac__buf_free(&f->error);
    ac__buf_free(&f->id);
    ac__free(f);
}

size_t ac__framer_bytes(const framer *f) { return f ? f->bytes : 0; }
size_t ac__framer_events(const framer *f) { return f ? f->events : 0; }
size_t ac__framer_comments(const framer *f) { return f ? f->comments : 0; }

/* Bytes held for the event being assembled, not counting the line. */
static size_t framer_held(const framer *f)
{
    return f->data.len + f->name.len + f->error.len;
}

static const char *framer_kind_name(const framer *f)
{
    return f->kind == AC_FRAMING_SSE ? "SSE event" : "NDJSON line";
}

static ac_status framer_too_big(framer *f, ac_error *err)
{
    ac__error_set(err, AC_ETOOBIG, AC_STAGE_FRAMING,
              "%s larger than the limit of %zu bytes",
              framer_kind_name(f), f->max);
    return AC_ETOOBIG;
}

static ac_status framer_no_memory(ac_error *err)
{
    ac__error_set(err, AC_ENOMEM, AC_STAGE_FRAMING,
              "out of memory while buffering a stream event");
    return AC_ENOMEM;
}

/* Would holding `more` bytes beside `held` pass the limit? */
static int framer_over(const framer *f, size_t held, size_t more)
{
    return held > f->max || more > f->max - held;
}

/* Keep part of a line that spans reads.  The limit counts the event
 * assembled so far plus the line, so a server cannot grow either without
 * bound, however it splits its bytes. */
static ac_status framer_keep(framer *f, const char *p, size_t n, ac_error *err)
{
    if (framer_over(f, framer_held(f) + f->line.len, n))
        return framer_too_big(f, err);
    if (ac__buf_append(&f->line, p, n) != 0)
        return framer_no_memory(err);
    return AC_OK;
}

/* After an event, drop memory that one unusually large event made grow. */
static void framer_trim(buf *b)
{
    if (b->cap > FRAMER_KEEP_BYTES)
        ac__buf_free(b);
    else
        ac__buf_reset(b);
}

static ac_status framer_emit(framer *f, const char *event, const char *data,
                             size_t len, framer_cb cb, void *ctx,
                             ac_error *err)
{
    ac_frame fr = {
        .event = event,
        .data = data ? data : "",
        .data_len = data ? len : 0,
        .id = f->has_id && f->id.data ? f->id.data : NULL,
    };
    f->events++;
    return cb ? cb(ctx, &fr, err) : AC_OK;
}

/* The blank line (or EOF): hand on the event, then start a new one.  An
 * event without data lines dispatches nothing (WHATWG "if the data buffer
 * is empty, return"), but one empty data line makes an event with data "". */
static ac_status sse_dispatch(framer *f, framer_cb cb, void *ctx, ac_error *err)
{
    ac_status st = AC_OK;
    if (f->has_data) {
        const char *event = f->name.len ? f->name.data : NULL;
        st = framer_emit(f, event, f->data.data, f->data.len, cb, ctx, err);
    }
    if (st == AC_OK && f->has_error)
        st = framer_emit(f, "error", f->error.data, f->error.len, cb, ctx, err);
    f->has_data = 0;
    f->has_error = 0;
    framer_trim(&f->data);
    framer_trim(&f->name);
    framer_trim(&f->error);
    return st;
}

/* Add one value to a field that joins its lines with "\n" (data, error). */
static ac_status sse_join(framer *f, buf *b, int *has, const char *v,
                          size_t n, ac_error *err)
{
    /* Check the whole addition first, so a failure leaves b as it was. */
    if (framer_over(f, framer_held(f), n + (*has ? 1 : 0)))
        return framer_too_big(f, err);
    if ((*has && ac__buf_append(b, "\n", 1) != 0) || ac__buf_append(b, v, n) != 0)
        return framer_no_memory(err);
    *has = 1;
    return AC_OK;
}

static int sse_field_is(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(name, want, n) == 0;
}

/* One complete SSE line (terminator removed; never holds a NUL). */
static ac_status sse_line(framer *f, const char *s, size_t n, framer_cb cb,
                          void *ctx, ac_error *err)
{
    if (!f->started && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        n -= 3;
    }
    if (n == 0)
        return sse_dispatch(f, cb, ctx, err);
    if (s[0] == ':') {
        f->comments++;                         /* comment, e.g. keep-alive */
        return AC_OK;
    }

    /* "field: value", one leading space stripped; no colon: the whole line
     * is the field name and the value is empty. */
    const char *colon = memchr(s, ':', n);
    size_t nlen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = colon ? n - nlen - 1 : 0;
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }

    if (sse_field_is(s, nlen, "data"))
        return sse_join(f, &f->data, &f->has_data, v, vlen, err);
    if (sse_field_is(s, nlen, "error"))
        return sse_join(f, &f->error, &f->has_error, v, vlen, err);
    if (sse_field_is(s, nlen, "event")) {
        ac__buf_reset(&f->name);
        if (framer_over(f, framer_held(f), vlen))
            return framer_too_big(f, err);
        if (ac__buf_append(&f->name, v, vlen) != 0)
            return framer_no_memory(err);
        return AC_OK;
    }
    if (sse_field_is(s, nlen, "id")) {
        /* Not part of the event's size: it is one line, already bounded. */
        ac__buf_reset(&f->id);
        f->has_id = 0;
        if (vlen == 0)
            return AC_OK;
        if (ac__buf_append(&f->id, v, vlen) != 0)
            return framer_no_memory(err);
        f->has_id = 1;
        return AC_OK;
    }
    return AC_OK;                              /* retry, unknown fields */
}

/* One complete NDJSON line.  `own` says s is f->line's buffer (writable,
 * so the line can be handed on without another copy). */
static ac_status ndjson_line(framer *f, const char *s, size_t n, int own,
                             framer_cb cb, void *ctx, ac_error *err)
{
    if (n && s[n - 1] == '\r')
        n--;
    size_t k = 0;
    while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
        k++;
    if (k == n)
        return AC_OK;                          /* blank line: skipped */
    if (own) {
        f->line.data[n] = '\0';
        return framer_emit(f, NULL, f->line.data, n, cb, ctx, err);
    }
    ac__buf_reset(&f->data);
    if (ac__buf_append(&f->data, s, n) != 0)
        return framer_no_memory(err);
    ac_status st = framer_emit(f, NULL, f->data.data, n, cb, ctx, err);
    framer_trim(&f->data);
    return st;
}

static ac_status framer_line(framer *f, const char *s, size_t n, int own,
                             framer_cb cb, void *ctx, ac_error *err)
{
    if (f->kind == AC_FRAMING_NDJSON)
        return ndjson_line(f, s, n, own, cb, ctx, err);
    return sse_line(f, s, n, cb, ctx, err);
}

/* Index of the first byte at or after i that ends a line (or is a NUL,
 * which is an error), or n if the line goes on past this read. */
static size_t framer_scan(const framer *f, const char *p, size_t i, size_t n)
{
    if (f->kind == AC_FRAMING_NDJSON) {
        for (; i < n; i++)
            if (p[i] == '\n' || p[i] == '\0')
                break;
        return i;
    }
    for (; i < n; i++) {
        char c = p[i];
        if (c == '\n' || c == '\r' || c == '\0')
            break;
    }
    return i;
}

/* Refuse further use after a failure (the state is unknown mid-line). */
static ac_status framer_usable(const framer *f, const char *what, ac_error *err)
{
    if (f->failed != AC_OK) {
        ac__error_set(err, f->failed, AC_STAGE_FRAMING,
                  "%s: the stream already failed (%s)", what,
                  ac_strerror(f->failed));
        return f->failed;
    }
    return AC_OK;
}

ac_status ac__framer_feed(framer *f, const char *p, size_t n,
                      framer_cb cb, void *ctx, ac_error *err)
{
    if (!f || (!p && n)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_FRAMING, "ac__framer_feed: %s",
                  f ? "NULL bytes" : "NULL framer");
        return AC_EINVAL;
    }
    ac_status st = framer_usable(f, "ac__framer_feed", err);
    if (st != AC_OK)
        return st;
    if (f->finished) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_FRAMING,
                  "ac__framer_feed: called after ac__framer_finish");
        return AC_EINVAL;
    }

    size_t base = f->bytes;
    f->bytes += n;
    size_t i = 0;
    while (i < n) {
        /* "\r\n" is one terminator even when a read ends between them;
         * without this the "\n" would read as an empty line and dispatch
         * the event early. */
        if (f->after_cr) {
            f->after_cr = 0;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t end = framer_scan(f, p, i, n);
        int complete = end < n;
        const char *s = p + i;
        size_t len = end - i;

        if (f->discard) {
            /* Rest of a comment that began in an earlier read. */
        } else if (f->line.len == 0) {
            if (f->kind == AC_FRAMING_SSE && len && s[0] == ':') {
                f->discard = !complete;        /* comment: never kept */
                f->comments++;
            } else if (!complete) {
                st = framer_keep(f, s, len, err);
            } else if (framer_over(f, framer_held(f), len)) {
                st = framer_too_big(f, err);
            } else if (p[end] != '\0') {
                st = framer_line(f, s, len, 0, cb, ctx, err);
            }
        } else {
            st = framer_keep(f, s, len, err);
            if (st == AC_OK && complete && p[end] != '\0') {
                st = framer_line(f, f->line.data, f->line.len, 1, cb, ctx, err);
                framer_trim(&f->line);
            }
        }
        if (st != AC_OK)
            break;
        if (!complete)
            break;
        if (p[end] == '\0') {
            ac__error_set(err, AC_EFRAMING, AC_STAGE_FRAMING,
                      "NUL byte in the %s stream at byte offset %zu",
                      f->kind == AC_FRAMING_SSE ? "SSE" : "NDJSON",
                      base + end);
            st = AC_EFRAMING;
            break;
        }
        f->discard = 0;                        /* a comment ends here */
        f->after_cr = p[end] == '\r';
        f->started = 1;
        i = end + 1;
    }
    if (st != AC_OK)
        f->failed = st;
    return st;
}

ac_status ac__framer_finish(framer *f, framer_cb cb, void *ctx, ac_error *err)
{
    if (!f) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_FRAMING, "ac__framer_finish: NULL framer");
        return AC_EINVAL;
    }
    ac_status st = framer_usable(f, "ac__framer_finish", err);
    if (st != AC_OK || f->finished)
        return st;
    f->finished = 1;

    /* A last line without its terminator still counts (see the top). */
    if (!f->discard && f->line.len)
        st = framer_line(f, f->line.data, f->line.len, 1, cb, ctx, err);
    f->discard = 0;
    framer_trim(&f->line);
    if (st == AC_OK && f->kind == AC_FRAMING_SSE)
        st = sse_dispatch(f, cb, ctx, err);
    if (st != AC_OK)
        f->failed = st;
    return st;
}
