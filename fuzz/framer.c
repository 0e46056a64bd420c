/*
 * framer.c -- fuzz target: the SSE / NDJSON framer (core/framing.h).
 *
 * Input: byte 0 picks the framing (bit 0: SSE or NDJSON) and the event
 * bound (bits 1-2: 1 MiB, 64, 4096 or 65536 bytes); byte 1 is the size of
 * the pieces the stream is fed in (0: all at once); the rest is the
 * response body.
 *
 * Checked besides "no crash, no leak": every frame is a C string of
 * data_len bytes; feeding the body in pieces gives the same frames, in
 * the same order, and the same outcome as feeding it whole (the framer's
 * contract: bytes in pieces of any size); the byte count is the body's.
 */
#include "fuzz.h"
#include "framing.h"

#include <stdlib.h>
#include <string.h>

/* Every frame seen, serialized; malloc'd, grown as needed. */
typedef struct record {
    char  *p;
    size_t n, cap;
    int    oom;
} record;

static void rec_add(record *r, const char *s, size_t n)
{
    if (r->oom)
        return;
    if (r->n + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->n + n + 1)
            cap *= 2;
        char *q = realloc(r->p, cap);
        if (!q) {
            r->oom = 1;
            return;
        }
        r->p = q;
        r->cap = cap;
    }
    memcpy(r->p + r->n, s, n);
    r->n += n;
}

static ac_status on_frame(void *ctx, const ac_frame *f, ac_error *err)
{
    (void)err;
    record *r = ctx;
    FUZZ_CHECK(f->data != NULL);
    if (!f->data)
        return AC_OK;
    FUZZ_CHECK(strlen(f->data) == f->data_len);
    FUZZ_CHECK(!f->event || *f->event); /* an empty name comes as NULL */
    const char *ev = f->event ? f->event : "";
    const char *id = f->id ? f->id : "\x03";
    rec_add(r, ev, strlen(ev));
    rec_add(r, "\x01", 1);
    rec_add(r, f->data, f->data_len);
    rec_add(r, "\x01", 1);
    rec_add(r, id, strlen(id));
    rec_add(r, "\x02", 1);
    return AC_OK;
}

/* Feed body in pieces of `piece` bytes (0: whole), then finish; the
 * outcome, with the frames in *r. */
static ac_status frame_all(ac_framing kind, size_t max, const char *body, size_t len,
                           size_t piece, record *r)
{
    framer *f = ac__framer_new(kind, max);
    if (!f)
        return AC_ENOMEM;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = AC_OK;
    size_t off = 0;
    do {
        size_t n = piece && len - off > piece ? piece : len - off;
        st = ac__framer_feed(f, body + off, n, on_frame, r, &err);
        off += n;
    } while (st == AC_OK && off < len);
    if (st == AC_OK)
        st = ac__framer_finish(f, on_frame, r, &err);
    if (st == AC_OK)
        FUZZ_CHECK(ac__framer_bytes(f) == len);
    /* A failed framer stays failed. */
    if (st != AC_OK)
        FUZZ_CHECK(ac__framer_feed(f, "x", 1, on_frame, r, &err) == st);
    ac__framer_free(f);
    return st;
}

static int framer_init(const char *plugin)
{
    (void)plugin;
    return 0;
}

static int framer_run(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const size_t maxes[] = {0, 64, 4096, 65536};
    ac_framing kind = data[0] & 1 ? AC_FRAMING_NDJSON : AC_FRAMING_SSE;
    size_t max = maxes[(data[0] >> 1) & 3];
    size_t piece = data[1];
    const char *body = (const char *)data + 2;
    size_t len = size - 2;

    record whole = {0}, cut = {0};
    ac_status a = frame_all(kind, max, body, len, 0, &whole);
    ac_status b = piece ? frame_all(kind, max, body, len, piece, &cut) : a;
    if (piece && !whole.oom && !cut.oom) {
        FUZZ_CHECK(a == b);
        FUZZ_CHECK(whole.n == cut.n && (whole.n == 0 || memcmp(whole.p, cut.p, whole.n) == 0));
    }
    free(whole.p);
    free(cut.p);
    return 0;
}

static void framer_fini(void) {}

const fuzz_target fuzz_framer = {"framer", framer_init, framer_run, framer_fini};
