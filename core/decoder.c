/*
 * decoder.c -- a response's bytes into its request's kind.  See decoder.h.
 */
#include "decoder.h"
#include "alloc.h"
#include "call.h"
#include "error.h"
#include "sink.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* An error body is for a person and a plugin's parse_error; a server that
 * sends more gets the first 64 KiB read. */
#define ERROR_BODY_MAX (64 * 1024)

void ac__decoder_init(decoder *d, ac_request *q, ac_framing framing)
{
    memset(d, 0, sizeof *d);
    d->q = q;
    d->framing = framing;
    ac__decoder_reset(d);
}

void ac__decoder_reset(decoder *d)
{
    ac__framer_free(d->fr);
    d->fr = NULL;
    ac__free(d->head);
    d->head = NULL;
    d->head_gone = 0;
    ac__buf_reset(&d->body);
    d->retry_after_ms = -1;
    d->should_retry = -1;
    d->content_encoding[0] = d->content_type[0] = '\0';
    d->began = d->http_status = d->error_body = d->whole_body = d->has_type = 0;
    d->head_len = d->total = 0;
    d->decided = d->markup = 0;
    d->frames_ok = d->idle_bytes = 0;
    d->idle_events = 0;
    d->failed = AC_OK;
    ac_error_clear(&d->err);
}

void ac__decoder_free(decoder *d)
{
    ac__framer_free(d->fr);
    d->fr = NULL;
    ac__free(d->head);
    d->head = NULL;
    ac__buf_free(&d->body);
}

int ac__status_retryable(int status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* ------------------------------------------------------------------ */
/* Headers                                                             */
/* ------------------------------------------------------------------ */

/* A server's delay in ms as a long.  Converting a double the long cannot
 * hold is undefined (x86 gives LONG_MIN: "Retry-After: 1e30" read as not
 * given), so clamp first; ms is >= 0 here. */
static long ms_to_long(double ms)
{
    return ms >= (double)LONG_MAX ? LONG_MAX : (long)ms;
}

void ac__decoder_header(decoder *d, const char *p, size_t len)
{
    char line[256];
    size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, l);
    line[l] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue): forget earlier headers. */
        d->retry_after_ms = -1;
        d->should_retry = -1;
        d->content_encoding[0] = '\0';
        return;
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return;
    *colon = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(line, "retry-after-ms") == 0) {
        char *end;
        double ms = strtod(v, &end);
        if (end != v && ms >= 0)
            d->retry_after_ms = ms_to_long(ms);
    } else if (strcasecmp(line, "retry-after") == 0 && d->retry_after_ms < 0) {
        /* Seconds, or an HTTP-date; retry-after-ms wins when both come. */
        char *end;
        double s = strtod(v, &end);
        if (end != v && s >= 0 && *end == '\0') {
            d->retry_after_ms = ms_to_long(s * 1000.0);
        } else {
            time_t t = curl_getdate(v, NULL);
            if (t != (time_t)-1) {
                double delta = difftime(t, time(NULL));
                d->retry_after_ms = delta > 0 ? ms_to_long(delta * 1000.0) : 0;
            }
        }
    } else if (strcasecmp(line, "x-should-retry") == 0) {
        d->should_retry = strcasecmp(v, "true") == 0 ? 1 : strcasecmp(v, "false") == 0 ? 0 : -1;
    } else if (strcasecmp(line, "content-encoding") == 0) {
        /* The core asks for no encoding: one sent anyway names the body
         * when it does not parse (sniff.h). */
        snprintf(d->content_encoding, sizeof d->content_encoding, "%s", v);
        size_t k = strlen(d->content_encoding);
        while (k && (d->content_encoding[k - 1] == ' ' || d->content_encoding[k - 1] == '\t'))
            d->content_encoding[--k] = '\0';
    }
}

/* ------------------------------------------------------------------ */
/* Body                                                                */
/* ------------------------------------------------------------------ */

/* What the sink has counted as progress; without a sink (a kind that
 * keeps no response) every event counts. */
static size_t progress_now(const decoder *d)
{
    return d->q->sink ? d->q->sink->progress : d->frames_ok;
}

/* The stream has gone too long without progress? */
static ac_status idle_check(decoder *d, ac_error *err)
{
    const limits *l = &d->q->lim;
    const char *what = NULL, *unit = NULL;
    long limit = 0;
    if (l->max_idle_events > 0 && d->idle_events > l->max_idle_events)
        what = "max_idle_events", unit = "events", limit = l->max_idle_events;
    else if (l->max_idle_bytes > 0 && d->idle_bytes > (size_t)l->max_idle_bytes)
        what = "max_idle_bytes", unit = "bytes", limit = l->max_idle_bytes;
    if (what) {
        ac__error_set(err, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                      "the stream carried nothing (keep-alives, pings or empty chunks: no text, "
                      "reasoning, tool call, usage or finish) for more than %s = %ld %s in a "
                      "row", what, limit, unit);
        return AC_EPROTOCOL;
    }
    return AC_OK;
}

static ac_status on_frame(void *ctx, const ac_frame *f, ac_error *err)
{
    decoder *d = ctx;
    ac_request *q = d->q;
    size_t before = progress_now(d);
    ac_status st = q->kind->frame(q, f, err);
    if (st != AC_OK) {
        if (err->message[0] == '\0')
            ac__error_set(err, st, st == AC_ETOOBIG ? AC_STAGE_HTTP : AC_STAGE_PROTOCOL,
                          "%s while parsing a stream event",
                          st == AC_ETOOBIG ? "response exceeded max_response_bytes"
                                           : ac_strerror(st));
        return st;
    }
    d->frames_ok++;
    if (progress_now(d) != before) {
        d->idle_events = 0;
        d->idle_bytes = 0;
        return AC_OK;
    }
    d->idle_events++;
    return idle_check(d, err);
}

void ac__decoder_begin(decoder *d, int status, const char *content_type)
{
    if (d->began)
        return;
    d->began = 1;
    d->http_status = status;
    d->has_type = content_type != NULL;
    snprintf(d->content_type, sizeof d->content_type, "%s", content_type ? content_type : "");
    d->body.limit = d->q->lim.max_response_bytes;
    if (status < 200 || status > 299) {
        d->error_body = 1;
        d->body.limit = ERROR_BODY_MAX;
    }
    /* A 2xx body's mode (whole or framed) waits for its first bytes. */
}

/* The first non-blank byte of what the head holds, or 0. */
static char first_byte_of(const decoder *d)
{
    size_t i = 0;
    if (d->head_len >= 3 && memcmp(d->head, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < d->head_len && (d->head[i] == ' ' || d->head[i] == '\t' || d->head[i] == '\r' ||
                               d->head[i] == '\n'))
        i++;
    return i < d->head_len ? d->head[i] : 0;
}

/* Whole body or framed, once the first bytes are known.  An early
 * failure on a stream request may come back as plain JSON with a 2xx
 * status from a proxy: on an SSE request a body that starts with '{' or
 * '[' (which no event stream does) is one, whatever its Content-Type
 * says, and one labelled JSON that does not is a stream after all; on an
 * NDJSON request, whose lines start with '{' too, the label decides. */
static ac_status choose_mode(decoder *d)
{
    const ac_request *q = d->q;
    char c = first_byte_of(d);
    if (d->framing == AC_FRAMING_NONE || !q->kind->frame)
        d->whole_body = 1;
    else if (d->framing == AC_FRAMING_SSE)
        d->whole_body = c == '{' || c == '[';
    else
        d->whole_body = d->has_type && strncasecmp(d->content_type, "application/json", 16) == 0;
    if (d->whole_body)
        return AC_OK;
    d->fr = ac__framer_new(d->framing, q->lim.max_response_bytes);
    if (!d->fr) {
        d->failed = AC_ENOMEM;
        ac__error_set(&d->err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory starting the stream");
        return AC_ENOMEM;
    }
    return AC_OK;
}

/* Name a body that failed before anything of it was read, when sniff.h
 * can say more than the parser did (err keeps its provider). */
static void name_body(decoder *d, ac_error *err, int early)
{
    if (d->head_gone || (!early && (d->frames_ok > 0 ||
                                (err->code != AC_EFRAMING && err->code != AC_EJSON &&
                                 err->code != AC_EPROTOCOL))))
        return;
    ac__body_facts f = {
        .http_status = d->http_status,
        .content_type = d->has_type ? d->content_type : NULL,
        .content_encoding = d->content_encoding[0] ? d->content_encoding : NULL,
        .head = d->head ? d->head : "",
        .head_len = d->head_len,
        .total = d->total,
        .framing = d->framing,
        .streamed = d->fr != NULL,
        .events = ac__framer_events(d->fr),
        .failure = early ? NULL : err,
    };
    ac_error named;
    if (!ac__sniff_name(&f, &named))
        return;
    ac__error_set_provider(&named, err->provider);
    *err = named;
}

static ac_status feed_fail(decoder *d, ac_status st, ac_stage stage, const char *msg)
{
    d->failed = st;
    if (d->err.code == AC_OK)
        ac__error_set(&d->err, st, stage, "%s", msg);
    d->err.code = st;
    return st;
}

/* A body that can never parse: fail now, named. */
static ac_status fail_named(decoder *d)
{
    ac_error_clear(&d->err);
    name_body(d, &d->err, 1);
    return feed_fail(d, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "the server's body is not the protocol's");
}

/* Bytes of a 2xx body, after the first ones were looked at. */
static ac_status deliver(decoder *d, const char *p, size_t n)
{
    if (n == 0)
        return AC_OK;
    if (d->fr) {
        size_t comments = ac__framer_comments(d->fr);
        d->idle_bytes = n > SIZE_MAX - d->idle_bytes ? SIZE_MAX : d->idle_bytes + n;
        ac_status st = ac__framer_feed(d->fr, p, n, on_frame, d, &d->err);
        if (st == AC_OK) {
            /* Keep-alive comments are events that carry nothing. */
            d->idle_events += (long)(ac__framer_comments(d->fr) - comments);
            st = idle_check(d, &d->err);
            if (st != AC_OK)
                return feed_fail(d, st, AC_STAGE_PROTOCOL, "");
            return AC_OK;
        }
        if (st == AC_ETOOBIG && d->err.stage == AC_STAGE_FRAMING)
            ac__error_set(&d->err, AC_ETOOBIG, AC_STAGE_FRAMING,
                          "a single %s larger than max_response_bytes (%zu bytes)",
                          d->framing == AC_FRAMING_SSE ? "SSE event" : "NDJSON line",
                          d->q->lim.max_response_bytes);
        if (d->err.code == AC_OK)
            d->err.code = st;
        name_body(d, &d->err, 0);
        return feed_fail(d, d->err.code, AC_STAGE_FRAMING, ac_strerror(st));
    }
    int rc = ac__buf_append(&d->body, p, n);
    if (rc == -2) {
        char m[128];
        snprintf(m, sizeof m, "response exceeded max_response_bytes (%zu bytes)",
                 d->q->lim.max_response_bytes);
        return feed_fail(d, AC_ETOOBIG, AC_STAGE_HTTP, m);
    }
    if (rc)
        return feed_fail(d, AC_ENOMEM, AC_STAGE_HTTP, "out of memory storing the response");
    return AC_OK;
}

/* Look at the first bytes (held in head: `held` of them came before p)
 * and start the body's mode, or fail it at once. */
static ac_status decide(decoder *d, ac__sniff v, size_t held, const char *p, size_t n)
{
    d->decided = 1;
    if (v == AC__SNIFF_COMPRESSED)
        return fail_named(d);
    if (v == AC__SNIFF_MARKUP) {
        d->markup = 1;
        return ac__sniff_markup_done(d->head, d->head_len, AC__SNIFF_HEAD) ? fail_named(d)
                                                                           : AC_OK;
    }
    if (choose_mode(d) != AC_OK)
        return d->failed;
    ac_status st = deliver(d, d->head, held);
    return st == AC_OK ? deliver(d, p, n) : st;
}

/* Keep the first bytes of the body.  -1 on no memory. */
static int head_keep(decoder *d, const char *p, size_t n, size_t *kept)
{
    *kept = 0;
    if (d->head_gone)
        return 0;
    if (!d->head && !(d->head = ac__malloc(AC__SNIFF_HEAD)))
        return -1;
    size_t room = AC__SNIFF_HEAD - d->head_len;
    *kept = n < room ? n : room;
    memcpy(d->head + d->head_len, p, *kept);
    d->head_len += *kept;
    return 0;
}

ac_status ac__decoder_feed(decoder *d, const char *p, size_t n)
{
    if (d->failed != AC_OK)
        return d->failed;
    if (!d->began)
        ac__decoder_begin(d, 200, NULL);
    if (d->error_body) {
        /* Keep what fits; the rest of an error page is not needed. */
        size_t room = d->body.limit > d->body.len ? d->body.limit - d->body.len : 0;
        if (room && ac__buf_append(&d->body, p, n < room ? n : room) == -1)
            return feed_fail(d, AC_ENOMEM, AC_STAGE_HTTP,
                             "out of memory storing the server's error reply");
        return AC_OK;
    }
    d->total += n;
    size_t held = d->head_len, k;
    if (head_keep(d, p, n, &k) != 0)
        return feed_fail(d, AC_ENOMEM, AC_STAGE_HTTP, "out of memory reading the response");
    ac_status st;
    if (d->markup) {
        st = ac__sniff_markup_done(d->head, d->head_len, AC__SNIFF_HEAD) ? fail_named(d) : AC_OK;
    } else if (d->decided) {
        st = deliver(d, p, n);
    } else {
        /* Until a byte that is not blank arrives (or the head is full),
         * the bytes wait in head: all of them fit, or the head is full. */
        ac__sniff v = ac__sniff_start(d->head, d->head_len);
        if (v == AC__SNIFF_MORE && k == n && d->head_len < AC__SNIFF_HEAD)
            return AC_OK;
        st = decide(d, v == AC__SNIFF_MORE ? AC__SNIFF_FINE : v, held, p, n);
    }
    /* A stream whose first event was read is the protocol's: nothing will
     * be named, so its head is let go (deliver may have been reading it). */
    if (d->fr && d->frames_ok > 0 && d->head) {
        ac__free(d->head);
        d->head = NULL;
        d->head_len = 0;
        d->head_gone = 1;
    }
    return st;
}

char *ac__decoder_take_body(decoder *d)
{
    size_t limit = d->body.limit;
    char *s = ac__buf_steal(&d->body);
    d->body.limit = limit;
    return s;
}

/* A non-2xx reply as an error: the status says whether to retry unless
 * the server said so itself; the plugin refines the message (and may
 * say a 429 is not worth retrying: insufficient_quota), but cannot make
 * it a success or change what the server said. */
static void http_error(decoder *d, ac_error *err)
{
    ac_request *q = d->q;
    ac__error_set(err, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d", d->http_status);
    err->http_status = d->http_status;
    err->retryable = d->should_retry >= 0 ? d->should_retry : ac__status_retryable(d->http_status);
    err->retry_after_ms = d->retry_after_ms;
    const ac_provider *vt = q->llm->vt;
    if (vt->parse_error) {
        ac_call call;
        ac__call_init_refine(&call, q->llm->inst->name, ac__llm_settings(q->llm), err);
        vt->parse_error(q->llm->state, d->http_status, d->body.data ? d->body.data : "",
                        d->body.len, &call);
        ac__call_error(&call, AC_OK, "parse_error", err);
        err->http_status = d->http_status;
        err->retry_after_ms = d->retry_after_ms;
        if (d->should_retry >= 0)
            err->retryable = d->should_retry;
    }
}

ac_status ac__decoder_finish(decoder *d, ac_error *err)
{
    ac_request *q = d->q;
    if (!d->began)
        ac__decoder_begin(d, 200, NULL);
    if (d->failed == AC_OK && !d->error_body) {
        /* A body too short to say what it is: look at what came. */
        if (!d->decided) {
            ac__sniff v = ac__sniff_start(d->head ? d->head : "", d->head_len);
            decide(d, v == AC__SNIFF_MORE ? AC__SNIFF_FINE : v, d->head_len, NULL, 0);
        }
        if (d->failed == AC_OK && d->markup)
            fail_named(d);
    }
    if (d->failed != AC_OK) {
        *err = d->err;
        err->code = d->failed;
        return d->failed;
    }
    ac_error_clear(err);
    if (d->error_body) {
        http_error(d, err);
        return err->code;
    }
    ac_status st;
    int streamed = d->fr != NULL;
    if (streamed)
        st = ac__framer_finish(d->fr, on_frame, d, err);
    else
        st = q->kind->body(q, d, d->http_status, d->body.data ? d->body.data : "", d->body.len,
                           err);
    if (st == AC_OK)
        st = q->kind->end(q, streamed, err);
    if (st != AC_OK) {
        if (err->code == AC_OK)
            ac__error_set(err, st, AC_STAGE_PROTOCOL, "%s", ac_strerror(st));
        err->code = st;
        name_body(d, err, 0);
        st = err->code;
    }
    return st;
}
