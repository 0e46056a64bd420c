/*
 * mock_send.c -- putting the decided reply on the wire: headers, the
 * stream's pacing (delay_ms, keep-alive comments, hang, stalls), and the
 * faults that happen to bytes in flight (drop_after_chunks,
 * close_after_bytes, gzip, closing or resetting instead of answering).
 *
 * A complete body without faults goes to libmicrohttpd as a buffer.
 * Anything else goes through a content reader: the stream reader pulls
 * events from the generator (mock_gen.c), compresses them when gzip is
 * on, and cuts the connection where the script says; the body reader does
 * the same for a complete body.  Waits never block MHD's thread: they
 * park the connection in the waiter (mock_server_park).
 */
#include <config.h>

#include "mock_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared by both readers ---- */

/* Why a resumed or running reply must end now: 0 to go on, else the
   reader's return value. */
static ssize_t send_must_end(mock_req *q)
{
    if (q->wait.peer_gone)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* counted as a disconnect */
    if (atomic_load(&q->m->stopping) || q->park_failed) {
        q->deliberate = true;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return 0;
}

/* close_after_bytes / a cut body: the server closes, not the client. */
static ssize_t send_cut(mock_req *q)
{
    q->deliberate = true;
    mock_server_logf(q->m, "%s %s: closing the connection after %zu body bytes", q->method, q->url,
                     q->wire_sent);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* ---- the stream ---- */

/* Where the next event's bytes go: straight out, or through gzip. */
static mock_buf *send_sink(mock_req *q)
{
    return q->gz ? &q->plain : &q->out;
}

/* Move what the sink gathered to q->out, compressed; finish: the trailer. */
static int send_flush(mock_req *q, bool finish)
{
    if (!q->gz)
        return 0;
    int rc = mock_gzip_push(q->gz, q->plain.data, q->plain.len, finish, &q->out);
    q->plain.len = 0;
    if (finish)
        q->gz_done = true;
    return rc;
}

/* Hand out pending wire bytes, up to the cut.  0 when none are pending. */
static ssize_t send_pending(mock_req *q, char *buf, size_t max)
{
    size_t n = q->out.len - q->out_off;
    if (n == 0)
        return 0;
    if (q->cut != SIZE_MAX && n > q->cut - q->wire_sent)
        n = q->cut - q->wire_sent;
    if (n == 0)
        return send_cut(q);
    if (n > max)
        n = max;
    memcpy(buf, q->out.data + q->out_off, n);
    q->out_off += n;
    q->wire_sent += n;
    if (q->out_off == q->out.len)
        q->out.len = q->out_off = 0;
    return (ssize_t)n;
}

/* Before the next event: a fault or a wait?  1: the reader returns *ret. */
static int send_before_event(mock_req *q, mock_ev ev, ssize_t *ret)
{
    const mock_scenario *sc = q->sc;
    bool past_preamble = ev != MOCK_EV_META || q->content_sent > 0;
    if (sc->drop_after_chunks >= 0 && past_preamble &&
        q->content_sent >= (size_t)sc->drop_after_chunks) {
        q->deliberate = true;
        mock_server_logf(q->m, "%s %s: dropping the connection after %zu chunks (drop_after_chunks)",
                         q->method, q->url, q->content_sent);
        *ret = MHD_CONTENT_READER_END_WITH_ERROR;
        return 1;
    }
    if (sc->stall_after_chunks >= 0 && !q->stalled && past_preamble &&
        q->content_sent >= (size_t)sc->stall_after_chunks) {
        q->stalled = true;
        mock_server_park(q, mock_now_ms() + (uint64_t)sc->stall_ms);
        *ret = 0;
        return 1;
    }
    if (sc->hang && (q->content_sent >= 1 || ev == MOCK_EV_FINISH)) {
        mock_server_park(q, MOCK_WAIT_FOREVER);
        *ret = 0;
        return 1;
    }
    return 0;
}

static ssize_t send_stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    mock_req *q = cls;
    const mock_scenario *sc = q->sc;
    ssize_t r;
    (void)pos;

    for (;;) {
        if ((r = send_pending(q, buf, max)) != 0)
            return r;
        if (q->cut != SIZE_MAX && q->wire_sent >= q->cut)
            return send_cut(q);
        if (q->gz_done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if ((r = send_must_end(q)) != 0)
            return r;
        mock_ev ev = mock_gen_peek(q->gen);
        if (ev == MOCK_EV_END) {
            if (!q->gz)
                return MHD_CONTENT_READER_END_OF_STREAM;
            if (send_flush(q, true) < 0)
                goto oom;
            continue;
        }
        if (send_before_event(q, ev, &r))
            return r;
        uint64_t now = mock_now_ms();
        if (ev == MOCK_EV_CONTENT && q->content_sent > 0) {
            if (now < q->due) {
                mock_server_park(q, q->due);
                return 0;
            }
            if (q->gap == 1) {
                /* A comment half-way through the pause, as keep-alive pings
                   arrive while a real server is busy (docs/protocols.md §0.4). */
                q->gap = 2;
                q->due = now + (uint64_t)(sc->delay_ms - sc->delay_ms / 2);
                if (mock_gen_keepalive(q->gen, send_sink(q)) < 0 || send_flush(q, false) < 0)
                    goto oom;
                continue;
            }
        }
        if (mock_gen_next(q->gen, send_sink(q)) < 0 || send_flush(q, false) < 0)
            goto oom;
        if (ev == MOCK_EV_CONTENT) {
            q->content_sent++;
            q->gap = sc->keepalive_comments ? 1 : 0;
            q->due = now + (uint64_t)(q->gap ? sc->delay_ms / 2 : sc->delay_ms);
        }
    }
oom:
    q->deliberate = true;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* ---- a complete body with a fault on the way ---- */

/* The headers promise every byte; the body may stall once (stall_at) and
   may end early (cut). */
static ssize_t send_body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    mock_req *q = cls;
    ssize_t r;
    size_t at = (size_t)pos;

    if ((r = send_must_end(q)) != 0)
        return r;
    if (at >= q->cut) {
        q->wire_sent = at;
        return send_cut(q);
    }
    if (!q->stalled && at >= q->stall_at) {
        q->stalled = true;
        mock_server_park(q, mock_now_ms() + (uint64_t)q->sc->stall_ms);
        return 0;
    }
    size_t end = q->body_out.len;
    if (q->cut < end)
        end = q->cut;
    if (!q->stalled && q->stall_at < end)
        end = q->stall_at;
    size_t n = end - at < max ? end - at : max;
    memcpy(buf, q->body_out.data + at, n);
    return (ssize_t)n;
}

/* ---- headers ---- */

static bool send_add_header(struct MHD_Response *r, const char *line)
{
    /* "Name: value", validated when the script was loaded. */
    const char *colon = strchr(line, ':');
    char name[128];
    size_t n = (size_t)(colon - line);
    if (n >= sizeof name)
        return false;
    memcpy(name, line, n);
    name[n] = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return MHD_add_response_header(r, name, v) == MHD_YES;
}

static bool send_headers(mock_req *q, struct MHD_Response *r, bool stream)
{
    const mock_scenario *sc = q->sc;
    bool ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                      q->ctype ? q->ctype : "application/json") == MHD_YES;
    if (ok && stream)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") == MHD_YES;
    if (ok && q->gen) {
        char rid[64];
        snprintf(rid, sizeof rid, "req_%s", mock_gen_id(q->gen));
        ok = MHD_add_response_header(r, q->proto == MOCK_PROTO_ANTHROPIC ? "request-id"
                                                                         : "x-request-id",
                                     rid) == MHD_YES;
    }
    if (ok && q->route == RT_BAD_METHOD)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, q->allow) == MHD_YES;
    if (!sc)
        return ok;
    if (ok && sc->gzip)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") == MHD_YES;
    if (ok && q->is_error && sc->retry_after)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, sc->retry_after) == MHD_YES;
    if (ok && q->is_error && sc->retry_after_ms)
        ok = MHD_add_response_header(r, "retry-after-ms", sc->retry_after_ms) == MHD_YES;
    if (ok && q->is_error && sc->should_retry >= 0)
        ok = MHD_add_response_header(r, "x-should-retry",
                                     sc->should_retry ? "true" : "false") == MHD_YES;
    for (size_t i = 0; ok && i < sc->nheaders; i++)
        ok = send_add_header(r, sc->headers[i]);
    return ok;
}

/* ---- queueing ---- */

/* fault: read the request, then close (or reset) without a byte. */
static enum MHD_Result send_fault(mock_req *q)
{
    bool reset = q->sc->fault == MOCK_FAULT_RESET;
    if (reset)
        mock_fault_reset(q->fd);
    q->deliberate = true;
    q->state = RQ_RESPONDED;
    mock_server_logf(q->m, "%s %s: %s without answering (fault)", q->method, q->url,
                     reset ? "resetting the connection" : "closing the connection");
    return MHD_NO;
}

enum MHD_Result mock_send_queue(mock_req *q)
{
    const mock_scenario *sc = q->sc;
    struct MHD_Response *r;
    bool stream = q->streaming && !q->is_error;

    if (sc && sc->fault != MOCK_FAULT_NONE)
        return send_fault(q);
    q->cut = q->stall_at = SIZE_MAX;
    if (sc && sc->close_after_bytes >= 0)
        q->cut = (size_t)sc->close_after_bytes;
    if (stream) {
        if (sc->gzip && !(q->gz = mock_gzip_new()))
            return MHD_NO;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SERVER_BLOCK, send_stream_reader,
                                              q, NULL);
    } else {
        if (sc && sc->gzip) {
            mock_buf z = { 0 };
            if (mock_gzip_all(q->body_out.data, q->body_out.len, &z) < 0) {
                mock_buf_free(&z);
                return MHD_NO;
            }
            mock_buf_free(&q->body_out);
            q->body_out = z;
        }
        if (sc && !q->is_error && sc->drop_after_chunks >= 0 && q->body_out.len / 2 < q->cut)
            q->cut = q->body_out.len / 2; /* half the promised body, then close */
        if (sc && !q->is_error && sc->stall_after_chunks >= 0)
            q->stall_at = q->body_out.len / 2;
        if (q->cut != SIZE_MAX || q->stall_at != SIZE_MAX)
            r = MHD_create_response_from_callback(q->body_out.len, SERVER_BLOCK, send_body_reader,
                                                  q, NULL);
        else
            r = MHD_create_response_from_buffer(q->body_out.len, q->body_out.data,
                                                MHD_RESPMEM_MUST_COPY);
    }
    if (!r)
        return MHD_NO;
    enum MHD_Result res = send_headers(q, r, stream)
                              ? MHD_queue_response(q->conn, (unsigned)q->status, r) : MHD_NO;
    MHD_destroy_response(r);
    if (res == MHD_YES) {
        q->state = RQ_RESPONDED;
        mock_server_logf(q->m, "%s %s%s%s%s -> %ld", q->method, q->url,
                         q->info.model ? " model=" : "", q->info.model ? q->info.model : "",
                         stream ? " (stream)" : "", q->status);
    }
    return res;
}
