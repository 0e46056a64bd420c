/*
 * decoder.c -- a response's bytes into its request's kind.  See decoder.h.
 */
#include "decoder.h"
#include "alloc.h"
#include "call.h"
#include "error.h"

#include <curl/curl.h>
#include <limits.h>
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
    ac__buf_reset(&d->body);
    d->retry_after_ms = -1;
    d->should_retry = -1;
    d->began = d->http_status = d->error_body = d->whole_body = 0;
    d->failed = AC_OK;
    ac_error_clear(&d->err);
}

void ac__decoder_free(decoder *d)
{
    ac__framer_free(d->fr);
    d->fr = NULL;
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
    }
}

/* ------------------------------------------------------------------ */
/* Body                                                                */
/* ------------------------------------------------------------------ */

static ac_status on_frame(void *ctx, const ac_frame *f, ac_error *err)
{
    ac_request *q = ctx;
    ac_status st = q->kind->frame(q, f, err);
    if (st != AC_OK && err->message[0] == '\0')
        ac__error_set(err, st, st == AC_ETOOBIG ? AC_STAGE_HTTP : AC_STAGE_PROTOCOL,
                      "%s while parsing a stream event",
                      st == AC_ETOOBIG ? "response exceeded max_response_bytes" : ac_strerror(st));
    return st;
}

void ac__decoder_begin(decoder *d, int status, const char *content_type)
{
    if (d->began)
        return;
    d->began = 1;
    d->http_status = status;
    d->body.limit = d->q->lim.max_response_bytes;
    if (status < 200 || status > 299) {
        d->error_body = 1;
        d->body.limit = ERROR_BODY_MAX;
        return;
    }
    /* An early failure on a stream request may come back as plain JSON
     * with a 2xx status from a proxy: parse it as a whole body. */
    if (d->framing == AC_FRAMING_NONE || !d->q->kind->frame ||
        (content_type && strncasecmp(content_type, "application/json", 16) == 0)) {
        d->whole_body = 1;
        return;
    }
    d->fr = ac__framer_new(d->framing, d->q->lim.max_response_bytes);
    if (!d->fr) {
        d->failed = AC_ENOMEM;
        ac__error_set(&d->err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory starting the stream");
    }
}

static ac_status feed_fail(decoder *d, ac_status st, ac_stage stage, const char *msg)
{
    d->failed = st;
    if (d->err.code == AC_OK)
        ac__error_set(&d->err, st, stage, "%s", msg);
    d->err.code = st;
    return st;
}

ac_status ac__decoder_feed(decoder *d, const char *p, size_t n)
{
    if (d->failed != AC_OK)
        return d->failed;
    if (!d->began)
        ac__decoder_begin(d, 200, NULL);
    if (d->failed != AC_OK)
        return d->failed;
    if (d->error_body) {
        /* Keep what fits; the rest of an error page is not needed. */
        size_t room = d->body.limit > d->body.len ? d->body.limit - d->body.len : 0;
        if (room && ac__buf_append(&d->body, p, n < room ? n : room) == -1)
            return feed_fail(d, AC_ENOMEM, AC_STAGE_HTTP,
                             "out of memory storing the server's error reply");
        return AC_OK;
    }
    if (d->fr) {
        ac_status st = ac__framer_feed(d->fr, p, n, on_frame, d->q, &d->err);
        if (st != AC_OK)
            return feed_fail(d, st, AC_STAGE_FRAMING, ac_strerror(st));
        return AC_OK;
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
    if (d->failed != AC_OK) {
        *err = d->err;
        err->code = d->failed;
        return d->failed;
    }
    if (!d->began)
        ac__decoder_begin(d, 200, NULL);
    if (d->failed != AC_OK) {
        *err = d->err;
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
        st = ac__framer_finish(d->fr, on_frame, q, err);
    else
        st = q->kind->body(q, d, d->http_status, d->body.data ? d->body.data : "", d->body.len,
                           err);
    if (st == AC_OK)
        st = q->kind->end(q, streamed, err);
    if (st != AC_OK) {
        if (err->code == AC_OK)
            ac__error_set(err, st, AC_STAGE_PROTOCOL, "%s", ac_strerror(st));
        err->code = st;
    }
    return st;
}
