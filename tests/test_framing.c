/*
 * test_framing.c -- CUnit suite for the stream framer (core/framing.c).
 *
 * Feeds SSE and NDJSON bytes the way a socket delivers them -- whole, one
 * byte at a time, split at every position, and in the read sizes recorded
 * with the openai-python test vectors -- and checks the events a plugin
 * would receive.  The framer must give the same events however the bytes
 * are cut.  Also covers the limits (max_event_bytes, NUL bytes), callback
 * errors, and every allocation failing in turn.
 */
#include "framing.h"
#include "alloc.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Collecting events                                                    */
/* ------------------------------------------------------------------ */

typedef struct ev {
    char  *event;   /* NULL when the frame had none */
    char  *data;
    size_t len;
    char  *id;
} ev;

typedef struct run {
    ev       *v;
    size_t    n, cap;
    ac_status st;        /* first failing status, AC_OK if none */
    ac_error  err;
    size_t    bytes, events;
    int       bad_frame; /* a frame broke the ac_frame contract */
    long      fail_at;   /* callback fails on this event (0-based), -1 never */
    size_t    comments;  /* ac__framer_comments at the end */
} run;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static ac_status collect(void *ctx, const ac_frame *fr, ac_error *err)
{
    run *r = ctx;
    /* The contract: data is NUL-terminated at data_len and holds no NUL. */
    if (!fr->data || fr->data[fr->data_len] != '\0' ||
        strlen(fr->data) != fr->data_len)
        r->bad_frame = 1;
    if (r->fail_at >= 0 && (long)r->n == r->fail_at) {
        ac_error_clear(err);
        if (err) {
            err->code = AC_EPROTOCOL;
            snprintf(err->message, sizeof err->message, "callback said no");
        }
        return AC_EPROTOCOL;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        ev *nv = realloc(r->v, cap * sizeof *nv);
        if (!nv)
            abort();
        r->v = nv;
        r->cap = cap;
    }
    ev *e = &r->v[r->n++];
    e->event = dup_or_null(fr->event);
    e->data = malloc(fr->data_len + 1);
    if (!e->data)
        abort();
    memcpy(e->data, fr->data, fr->data_len + 1);
    e->len = fr->data_len;
    e->id = dup_or_null(fr->id);
    return AC_OK;
}

static void run_init(run *r)
{
    memset(r, 0, sizeof *r);
    r->fail_at = -1;
    ac_error_clear(&r->err);
}

static void run_free(run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].event);
        free(r->v[i].data);
        free(r->v[i].id);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Feed p in pieces of the given sizes (repeating the last; a size of 0
 * means "the rest"), then finish.  Stops at the first error. */
static void feed_sizes(run *r, ac_framing kind, size_t max, const char *p,
                       size_t n, const size_t *sizes, size_t nsizes)
{
    framer *f = ac__framer_new(kind, max);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t off = 0, k = 0;
    while (off < n) {
        size_t step = nsizes ? sizes[k < nsizes ? k : nsizes - 1] : 0;
        k++;
        if (step == 0 || step > n - off)
            step = n - off;
        r->st = ac__framer_feed(f, p + off, step, collect, r, &r->err);
        off += step;
        if (r->st != AC_OK)
            break;
    }
    if (r->st == AC_OK)
        r->st = ac__framer_finish(f, collect, r, &r->err);
    r->bytes = ac__framer_bytes(f);
    r->events = ac__framer_events(f);
    r->comments = ac__framer_comments(f);
    ac__framer_free(f);
}

static void feed_whole(run *r, ac_framing kind, size_t max, const char *p, size_t n)
{
    feed_sizes(r, kind, max, p, n, NULL, 0);
}

static void feed_step(run *r, ac_framing kind, size_t max, const char *p,
                      size_t n, size_t step)
{
    feed_sizes(r, kind, max, p, n, &step, 1);
}

static int ev_same(const ev *a, const ev *b)
{
    if ((a->event == NULL) != (b->event == NULL) ||
        (a->event && strcmp(a->event, b->event) != 0))
        return 0;
    if ((a->id == NULL) != (b->id == NULL) || (a->id && strcmp(a->id, b->id) != 0))
        return 0;
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Same events, same outcome. */
static int run_same(const run *a, const run *b)
{
    if (a->st != b->st || a->n != b->n || a->bad_frame || b->bad_frame)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!ev_same(&a->v[i], &b->v[i]))
            return 0;
    return 1;
}

/* Feed `in` whole, byte by byte, in 2-, 3- and 7-byte steps, and split in
 * two at every position; every way must give the same events and status
 * as the whole feed, which is returned in *whole (caller frees). */
static void check_any_cut(run *whole, ac_framing kind, size_t max,
                          const char *in, size_t n)
{
    run_init(whole);
    feed_whole(whole, kind, max, in, n);
    CU_ASSERT_FALSE(whole->bad_frame);
    static const size_t steps[] = { 1, 2, 3, 7 };
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        run r;
        run_init(&r);
        feed_step(&r, kind, max, in, n, steps[s]);
        CU_ASSERT_TRUE(run_same(whole, &r));
        if (!run_same(whole, &r))
            fprintf(stderr, "\n  differs with %zu-byte reads (%zu vs %zu events)\n",
                    steps[s], r.n, whole->n);
        run_free(&r);
    }
    for (size_t cut = 1; cut < n; cut++) {
        run r;
        run_init(&r);
        size_t sizes[2] = { cut, 0 };
        feed_sizes(&r, kind, max, in, n, sizes, 2);
        CU_ASSERT_TRUE(run_same(whole, &r));
        if (!run_same(whole, &r))
            fprintf(stderr, "\n  differs when split at byte %zu\n", cut);
        run_free(&r);
    }
}

typedef struct exp_ev {
    const char *event;
    const char *data;
    const char *id;
} exp_ev;

static void expect_events(const run *r, const exp_ev *want, size_t n)
{
    CU_ASSERT_EQUAL(r->n, n);
    if (r->n != n) {
        fprintf(stderr, "\n  got %zu events, want %zu\n", r->n, n);
        for (size_t i = 0; i < r->n; i++)
            fprintf(stderr, "    [%zu] event=%s data=<%s>\n", i,
                    r->v[i].event ? r->v[i].event : "(null)", r->v[i].data);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const ev *e = &r->v[i];
        if (want[i].event)
            CU_ASSERT_PTR_NOT_NULL(e->event);
        if (!want[i].event)
            CU_ASSERT_PTR_NULL(e->event);
        if (want[i].event && e->event)
            CU_ASSERT_STRING_EQUAL(e->event, want[i].event);
        CU_ASSERT_EQUAL(e->len, strlen(want[i].data));
        CU_ASSERT_STRING_EQUAL(e->data, want[i].data);
        if (want[i].id && e->id)
            CU_ASSERT_STRING_EQUAL(e->id, want[i].id);
        CU_ASSERT((want[i].id == NULL) == (e->id == NULL));
    }
}

/* Check `in` (a C string) under any cut and compare with the expected
 * events and status. */
static void check_sse(const char *in, ac_status want_st, const exp_ev *want, size_t n)
{
    run whole;
    check_any_cut(&whole, AC_FRAMING_SSE, 0, in, strlen(in));
    CU_ASSERT_EQUAL(whole.st, want_st);
    expect_events(&whole, want, n);
    run_free(&whole);
}

static void check_ndjson(const char *in, const exp_ev *want, size_t n)
{
    run whole;
    check_any_cut(&whole, AC_FRAMING_NDJSON, 0, in, strlen(in));
    CU_ASSERT_EQUAL(whole.st, AC_OK);
    expect_events(&whole, want, n);
    run_free(&whole);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* The openai-python SSE test vectors (tests/fixtures/sse_edge_cases)  */
/* ------------------------------------------------------------------ */

/* Read the "chunk boundaries ... : [12, 35, 2]" line of a .source.txt. */
static size_t read_boundaries(const char *fixture, size_t *out, size_t max)
{
    char name[512];
    snprintf(name, sizeof name, "%s.source.txt", fixture);
    char *src = tu_fixture(name, NULL);
    size_t n = 0;
    const char *line = strstr(src, "chunk boundaries");
    const char *lb = line ? strchr(line, '[') : NULL;
    if (lb) {
        const char *q = lb + 1;
        while (n < max && *q && *q != ']') {
            char *end;
            unsigned long v = strtoul(q, &end, 10);
            if (end == q) {
                q++;
                continue;
            }
            out[n++] = v;
            q = end;
        }
    }
    free(src);
    return n;
}

static void check_edge_fixture(const char *fixture, const exp_ev *want, size_t nwant)
{
    size_t len;
    char *in = tu_fixture(fixture, &len);
    size_t cuts[64];
    size_t ncuts = read_boundaries(fixture, cuts, N_OF(cuts));
    CU_ASSERT_TRUE_FATAL(ncuts > 0);
    size_t sum = 0;
    for (size_t i = 0; i < ncuts; i++)
        sum += cuts[i];
    CU_ASSERT_EQUAL(sum, len);   /* the recorded reads cover the file */

    run rec;
    run_init(&rec);
    feed_sizes(&rec, AC_FRAMING_SSE, 0, in, len, cuts, ncuts);
    CU_ASSERT_EQUAL(rec.st, AC_OK);
    expect_events(&rec, want, nwant);
    CU_ASSERT_EQUAL(rec.bytes, len);
    CU_ASSERT_EQUAL(rec.events, nwant);

    run whole;
    check_any_cut(&whole, AC_FRAMING_SSE, 0, in, len);
    CU_ASSERT_TRUE(run_same(&rec, &whole));
    run_free(&whole);
    run_free(&rec);
    free(in);
}

static void test_edge_escaped_newlines(void)
{
    /* The JSON holds backslash-n text: not an event boundary. */
    static const exp_ev want[] = {
        { "ping", "{\"foo\": \"my long\\n\\ncontent\"}", NULL },
    };
    check_edge_fixture("sse_edge_cases/escaped_newlines_in_json.sse", want, N_OF(want));
}

static void test_edge_multiline_empty_data(void)
{
    static const exp_ev want[] = { { "ping", "{\n\"foo\":\n\n\ntrue}", NULL } };
    check_edge_fixture("sse_edge_cases/multiline_data_with_empty_data_lines.sse",
                       want, N_OF(want));
}

static void test_edge_utf8_split(void)
{
    /* "известни" arrives cut inside characters; the event has it whole. */
    static const exp_ev want[] = {
        { NULL, "{\"content\":\"\xd0\xb8\xd0\xb7\xd0\xb2\xd0\xb5\xd1\x81\xd1\x82"
                "\xd0\xbd\xd0\xb8\"}", NULL },
    };
    check_edge_fixture("sse_edge_cases/utf8_split_across_reads.sse", want, N_OF(want));
}

/* ------------------------------------------------------------------ */
/* SSE line endings                                                    */
/* ------------------------------------------------------------------ */

static void test_crlf(void)
{
    /* sse-starlette's default separator. */
    static const exp_ev want[] = {
        { NULL, "{\"a\":1}", NULL }, { "x", "two\nlines", NULL }, { NULL, "[DONE]", NULL },
    };
    check_sse("data: {\"a\":1}\r\n\r\n"
              "event: x\r\ndata: two\r\ndata: lines\r\n\r\n"
              ": ping - 2024-01-01\r\n\r\n"
              "data: [DONE]\r\n\r\n", AC_OK, want, N_OF(want));
}

static void test_lone_cr(void)
{
    static const exp_ev want[] = { { NULL, "a", NULL }, { NULL, "b\nc", NULL } };
    check_sse("data: a\r\rdata: b\rdata: c\r\r", AC_OK, want, N_OF(want));
}

static void test_mixed_endings(void)
{
    static const exp_ev want[] = { { NULL, "a\nb\nc", NULL }, { NULL, "d", NULL } };
    check_sse("data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\r", AC_OK, want, N_OF(want));
}

static void test_cr_at_end_of_read(void)
{
    /* "\r" ends one read and "\n" starts the next: one terminator, not an
     * empty line (which would dispatch "a" on its own). */
    framer *f = ac__framer_new(AC_FRAMING_SSE, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    run r;
    run_init(&r);
    ac_error err;
    CU_ASSERT_EQUAL(ac__framer_feed(f, "data: a\r", 8, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(ac__framer_feed(f, "\ndata: b\r", 9, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(ac__framer_feed(f, "\n", 1, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(ac__framer_feed(f, "\r", 1, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(r.n, 1);   /* a lone "\r" line ends the event at once */
    CU_ASSERT_EQUAL(ac__framer_feed(f, "\n", 1, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(ac__framer_finish(f, collect, &r, &err), AC_OK);
    static const exp_ev want[] = { { NULL, "a\nb", NULL } };
    expect_events(&r, want, N_OF(want));
    CU_ASSERT_EQUAL(ac__framer_bytes(f), 20);
    ac__framer_free(f);
    run_free(&r);
}

static void test_unicode_separators_not_breaks(void)
{
    /* U+2028 and U+2029 are text, not line breaks (docs/protocols.md 0.1). */
    static const exp_ev want[] = {
        { NULL, "{\"t\":\"a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\x85" "d\x0b\x0c" "e\"}", NULL },
    };
    check_sse("data: {\"t\":\"a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\x85" "d\x0b\x0c" "e\"}\n\n",
              AC_OK, want, N_OF(want));
}

/* ------------------------------------------------------------------ */
/* SSE fields                                                           */
/* ------------------------------------------------------------------ */

static void test_comments_only(void)
{
    check_sse(": keep-alive\n\n:\n\n: keepalive 10/200\n\n: ping - 2025-01-01 00:00:00\r\n\r\n",
              AC_OK, NULL, 0);
    /* Comments inside an event do not split it. */
    static const exp_ev want[] = { { "e", "a\nb", NULL } };
    check_sse(": hi\nevent: e\n: mid\ndata: a\n:x\ndata: b\n: end\n\n", AC_OK, want, N_OF(want));
}

/* Comment lines are counted once each, however the reads cut them (the
 * decoder counts keep-alives as events that carry nothing). */
static void test_comments_counted(void)
{
    static const char text[] = "\xef\xbb\xbf: first\r\n\r\n:\n: keepalive 10/200\r"
                               "data: x\n:in an event\n\n::\n";
    static const size_t cuts[][1] = { { 0 }, { 1 }, { 2 }, { 5 } };
    for (size_t i = 0; i < N_OF(cuts); i++) {
        run r;
        run_init(&r);
        feed_sizes(&r, AC_FRAMING_SSE, 0, text, sizeof text - 1, cuts[i], 1);
        CU_ASSERT_EQUAL(r.st, AC_OK);
        CU_ASSERT_EQUAL(r.comments, 5);
        CU_ASSERT_EQUAL(r.events, 1);
        run_free(&r);
    }
    /* NDJSON has no comments. */
    run r;
    run_init(&r);
    feed_whole(&r, AC_FRAMING_NDJSON, 0, ":x\n", 3);
    CU_ASSERT_EQUAL(r.comments, 0);
    run_free(&r);
    CU_ASSERT_EQUAL(ac__framer_comments(NULL), 0);
}

static void test_done(void)
{
    static const exp_ev want[] = {
        { NULL, "{\"choices\":[]}", NULL }, { NULL, "[DONE]", NULL },
    };
    check_sse("data: {\"choices\":[]}\n\ndata: [DONE]\n\n", AC_OK, want, N_OF(want));
}

static void test_multiline_data(void)
{
    static const exp_ev want[] = {
        { NULL, "line1\nline2\n\nline4", NULL },
        { NULL, " two spaces keep one", NULL },
        { NULL, "nospace", NULL },
        { NULL, "", NULL },                 /* "data" with no colon */
        { NULL, "", NULL },                 /* "data:" */
        { NULL, "\n", NULL },               /* two empty data lines */
        { NULL, "a: b:c", NULL },           /* only the first colon splits */
    };
    check_sse("data: line1\ndata: line2\ndata:\ndata: line4\n\n"
              "data:  two spaces keep one\n\n"
              "data:nospace\n\n"
              "data\n\n"
              "data:\n\n"
              "data: \ndata\n\n"
              "data: a: b:c\n\n", AC_OK, want, N_OF(want));
}

static void test_no_data_no_event(void)
{
    /* Blocks without a data field dispatch nothing, and blank lines alone
     * do nothing either. */
    check_sse("event: ping\n\nid: 7\n\nretry: 1000\n\nfoo: bar\n\n\n\n\n", AC_OK, NULL, 0);
    /* "Data" is not "data": field names are case-sensitive. */
    check_sse("Data: x\nDATA: y\n data: z\ndatum: w\ndat: v\n\n", AC_OK, NULL, 0);
}

static void test_event_names_and_ids(void)
{
    static const exp_ev want[] = {
        { "message_start", "{\"type\":\"message_start\"}", NULL },
        { NULL, "plain", NULL },                   /* name reset after dispatch */
        { "second", "x", NULL },                   /* last event: line wins */
        { NULL, "empty name", NULL },              /* "event:" empty -> NULL */
        { NULL, "with id", "42" },
        { NULL, "id persists", "42" },
        { NULL, "id cleared", NULL },
        { "e", "retry and unknown ignored", NULL },
    };
    check_sse("event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
              "data: plain\n\n"
              "event: first\nevent: second\ndata: x\n\n"
              "event:\ndata: empty name\n\n"
              "id: 42\ndata: with id\n\n"
              "data: id persists\n\n"
              "id\ndata: id cleared\n\n"
              "retry: 3000\nfoo: bar\nevent: e\ndata: retry and unknown ignored\n\n",
              AC_OK, want, N_OF(want));
}

static void test_error_lines(void)
{
    /* Old llama.cpp: "error: {json}" then a blank line. */
    static const exp_ev want1[] = {
        { NULL, "{\"content\":\"hi\"}", NULL },
        { "error", "{\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}", NULL },
    };
    check_sse("data: {\"content\":\"hi\"}\n\n"
              "error: {\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}\n\n",
              AC_OK, want1, N_OF(want1));

    /* In the same block as data: the data event first, then the error. */
    static const exp_ev want2[] = {
        { "x", "d", NULL }, { "error", "e1\ne2", NULL },
    };
    check_sse("error: e1\nevent: x\ndata: d\nerror: e2\n\n", AC_OK, want2, N_OF(want2));

    /* The server closes right after the error line: dispatched at EOF. */
    static const exp_ev want3[] = { { "error", "{\"message\":\"gone\"}", NULL } };
    check_sse("error: {\"message\":\"gone\"}\n", AC_OK, want3, N_OF(want3));
    check_sse("error: {\"message\":\"gone\"}", AC_OK, want3, N_OF(want3));

    /* "event: error" (Anthropic) is an ordinary named event. */
    static const exp_ev want4[] = { { "error", "{\"type\":\"error\"}", NULL } };
    check_sse("event: error\ndata: {\"type\":\"error\"}\n\n", AC_OK, want4, N_OF(want4));
}

static void test_eof_unterminated(void)
{
    /* Real servers end without the final blank line (anthropic fixture):
     * the last event still reaches the plugin; a partial line with no
     * terminator at all too. */
    static const exp_ev want[] = { { "a", "1", NULL }, { "b", "2", NULL } };
    check_sse("event: a\ndata: 1\n\nevent: b\ndata: 2\n", AC_OK, want, N_OF(want));
    check_sse("event: a\ndata: 1\n\nevent: b\ndata: 2", AC_OK, want, N_OF(want));
    check_sse("event: a\ndata: 1\n\nevent: b\ndata: 2\r", AC_OK, want, N_OF(want));
    /* Without data nothing is dispatched at EOF. */
    check_sse("event: a\n", AC_OK, NULL, 0);
    check_sse(": bye", AC_OK, NULL, 0);
    check_sse("", AC_OK, NULL, 0);
}

static void test_bom(void)
{
    static const exp_ev want[] = { { NULL, "x", NULL }, { NULL, "\xef\xbb\xbfy", NULL } };
    check_sse("\xef\xbb\xbf" "data: x\n\ndata: \xef\xbb\xbfy\n\n", AC_OK, want, N_OF(want));
    check_sse("\xef\xbb\xbf: comment\n\n", AC_OK, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Every recorded SSE fixture                                          */
/* ------------------------------------------------------------------ */

static int count_data_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, "data:", 5) == 0)
            n++;
    }
    return n;
}

static void check_sse_fixture(const char *name)
{
    size_t len;
    char *in = tu_fixture(name, &len);
    run whole;
    check_any_cut(&whole, AC_FRAMING_SSE, 0, in, len);
    CU_ASSERT_EQUAL(whole.st, AC_OK);
    /* These fixtures send one data line per event. */
    CU_ASSERT_EQUAL((int)whole.n, count_data_lines(in));
    CU_ASSERT_EQUAL(whole.events, whole.n);
    CU_ASSERT_EQUAL(whole.bytes, len);

    /* And in random read sizes. */
    unsigned seed = 12345;
    for (int round = 0; round < 20; round++) {
        size_t sizes[256];
        for (size_t i = 0; i < N_OF(sizes); i++) {
            seed = seed * 1103515245u + 12345u;
            sizes[i] = 1 + (seed >> 16) % 97;
        }
        run r;
        run_init(&r);
        feed_sizes(&r, AC_FRAMING_SSE, 0, in, len, sizes, N_OF(sizes));
        CU_ASSERT_TRUE(run_same(&whole, &r));
        run_free(&r);
    }

    if (strncmp(name, "openai_", 7) == 0 || strncmp(name, "hf_", 3) == 0) {
        CU_ASSERT_TRUE(whole.n > 0 && strcmp(whole.v[whole.n - 1].data, "[DONE]") == 0);
        for (size_t i = 0; i < whole.n; i++)
            CU_ASSERT_PTR_NULL(whole.v[i].event);
    }
    if (strncmp(name, "anthropic_", 10) == 0) {
        for (size_t i = 0; i < whole.n; i++)
            CU_ASSERT_PTR_NOT_NULL(whole.v[i].event);
    }
    if (strcmp(name, "anthropic_stream_text.sse") == 0 ||
        strcmp(name, "anthropic_stream_tool_use.sse") == 0) {
        /* Ends without a blank line, and without a newline: still there. */
        CU_ASSERT_TRUE(whole.n > 0 && whole.v[whole.n - 1].event &&
                       strcmp(whole.v[whole.n - 1].event, "message_stop") == 0);
        CU_ASSERT_TRUE(whole.n > 0 &&
                       strcmp(whole.v[whole.n - 1].data, "{\"type\":\"message_stop\"}") == 0);
    }
    if (strcmp(name, "anthropic_stream_tool_use_live.sse") == 0) {
        /* The padding before "}" is data, passed through as it came. */
        CU_ASSERT_TRUE(whole.n > 0 &&
                       strcmp(whole.v[whole.n - 1].data,
                              "{\"type\":\"message_stop\"             }") == 0);
    }
    if (strcmp(name, "anthropic_stream_error_overloaded.sse") == 0) {
        CU_ASSERT_TRUE(whole.n == 1 && strcmp(whole.v[0].event, "error") == 0);
    }
    run_free(&whole);
    free(in);
}

static void test_all_sse_fixtures(void)
{
    DIR *d = opendir(TEST_FIXTURES);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".sse") != 0)
            continue;
        check_sse_fixture(e->d_name);
        seen++;
    }
    closedir(d);
    CU_ASSERT_TRUE(seen >= 11);
}

static void test_crlf_fixture(void)
{
    /* The same recording with sse-starlette's "\r\n" separators gives the
     * same events. */
    size_t len;
    char *in = tu_fixture("openai_chat_stream_text.sse", &len);
    size_t m;
    char *crlf = tu_crlf(in, len, &m);
    run a, b, c;
    run_init(&a);
    run_init(&b);
    run_init(&c);
    feed_whole(&a, AC_FRAMING_SSE, 0, in, len);
    feed_step(&b, AC_FRAMING_SSE, 0, crlf, m, 1);
    for (size_t i = 0; i < m; i++)      /* and lone "\r" */
        if (crlf[i] == '\n')
            crlf[i] = '\r';
    feed_step(&c, AC_FRAMING_SSE, 0, crlf, m, 1);
    CU_ASSERT_TRUE(a.n > 30);
    CU_ASSERT_TRUE(run_same(&a, &b));
    /* With lone "\r" each data line is now followed by an extra blank
     * line; every event here has one data line, so the events match. */
    CU_ASSERT_TRUE(run_same(&a, &c));
    run_free(&a);
    run_free(&b);
    run_free(&c);
    free(crlf);
    free(in);
}

/* ------------------------------------------------------------------ */
/* NDJSON                                                               */
/* ------------------------------------------------------------------ */

static void test_ndjson_basic(void)
{
    static const exp_ev want[] = {
        { NULL, "{\"a\":1}", NULL }, { NULL, "{\"b\":2}", NULL },
        { NULL, " {\"c\":3} ", NULL }, { NULL, "{\"d\":\"x\\ny\"}", NULL },
        { NULL, "{\"e\":\"data: not sse\"}", NULL }, { NULL, "{\"last\":true}", NULL },
    };
    check_ndjson("{\"a\":1}\n\n{\"b\":2}\r\n\r\n   \n \t\r\n {\"c\":3} \n"
                 "{\"d\":\"x\\ny\"}\n{\"e\":\"data: not sse\"}\n{\"last\":true}",
                 want, N_OF(want));
    check_ndjson("", NULL, 0);
    check_ndjson("\n\n\r\n", NULL, 0);
    /* ":" is not a comment in NDJSON. */
    static const exp_ev want2[] = { { NULL, ": x", NULL } };
    check_ndjson(": x\n", want2, N_OF(want2));
}

static void check_ndjson_fixture(const char *name)
{
    size_t len;
    char *in = tu_fixture(name, &len);
    run whole;
    check_any_cut(&whole, AC_FRAMING_NDJSON, 0, in, len);
    CU_ASSERT_EQUAL(whole.st, AC_OK);
    /* One event per line, each equal to the line. */
    size_t lines = 0;
    const char *p = in;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (lines < whole.n) {
            CU_ASSERT_EQUAL(whole.v[lines].len, l);
            CU_ASSERT_TRUE(memcmp(whole.v[lines].data, p, l) == 0);
            CU_ASSERT_PTR_NULL(whole.v[lines].event);
            CU_ASSERT_PTR_NULL(whole.v[lines].id);
        }
        lines++;
        p += l + (nl ? 1 : 0);
    }
    CU_ASSERT_EQUAL(whole.n, lines);
    run_free(&whole);

    /* Without its final "\n" the last line still arrives (at finish). */
    run cut;
    run_init(&cut);
    CU_ASSERT_TRUE_FATAL(len > 0 && in[len - 1] == '\n');
    feed_step(&cut, AC_FRAMING_NDJSON, 0, in, len - 1, 5);
    CU_ASSERT_EQUAL(cut.st, AC_OK);
    CU_ASSERT_EQUAL(cut.n, lines);
    run_free(&cut);
    free(in);
}

static void test_ndjson_fixtures(void)
{
    check_ndjson_fixture("ollama_generate_stream.ndjson");
    check_ndjson_fixture("ollama_stream_error_midstream.ndjson");
}

static void test_ndjson_last_line_at_finish(void)
{
    framer *f = ac__framer_new(AC_FRAMING_NDJSON, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    run r;
    run_init(&r);
    ac_error err;
    CU_ASSERT_EQUAL(ac__framer_feed(f, "{\"a\":1}\n{\"done\":", 16, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_EQUAL(ac__framer_feed(f, "true}", 5, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(r.n, 1);          /* not before the stream ends */
    CU_ASSERT_EQUAL(ac__framer_finish(f, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(r.n, 2);
    CU_ASSERT_EQUAL(ac__framer_events(f), 2);
    if (r.n == 2)
        CU_ASSERT_STRING_EQUAL(r.v[1].data, "{\"done\":true}");
    /* finish again: nothing more; feed after finish: refused. */
    CU_ASSERT_EQUAL(ac__framer_finish(f, collect, &r, &err), AC_OK);
    CU_ASSERT_EQUAL(r.n, 2);
    CU_ASSERT_EQUAL(ac__framer_feed(f, "{}\n", 3, collect, &r, &err), AC_EINVAL);
    ac__framer_free(f);
    run_free(&r);
}

/* ------------------------------------------------------------------ */
/* Limits and malformed input                                          */
/* ------------------------------------------------------------------ */

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_oversize_sse(void)
{
    /* Small events pass a 64-byte limit; an oversize one fails with
     * AC_ETOOBIG naming the limit, after the earlier events arrived. */
    char *big = repeat('x', 100);
    char in[512];
    snprintf(in, sizeof in, "data: small\n\ndata: %s\n\ndata: after\n\n", big);
    static const size_t steps[] = { 0, 1, 3, 50 };
    for (size_t s = 0; s < N_OF(steps); s++) {
        run r;
        run_init(&r);
        feed_step(&r, AC_FRAMING_SSE, 64, in, strlen(in), steps[s]);
        CU_ASSERT_EQUAL(r.st, AC_ETOOBIG);
        CU_ASSERT_EQUAL(r.err.code, AC_ETOOBIG);
        CU_ASSERT_EQUAL(r.err.stage, AC_STAGE_FRAMING);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.err.message, "64"));
        CU_ASSERT_EQUAL(r.n, 1);
        run_free(&r);
    }

    /* Many small data lines that add up past the limit. */
    char many[1024] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "data: 0123456789\n");
    strcat(many, "\n");
    run r;
    run_init(&r);
    check_any_cut(&r, AC_FRAMING_SSE, 128, many, strlen(many));
    CU_ASSERT_EQUAL(r.st, AC_ETOOBIG);
    CU_ASSERT_EQUAL(r.n, 0);
    run_free(&r);

    /* A huge unknown field or event name is bounded too... */
    snprintf(in, sizeof in, "foo: %s\n\n", big);
    run_init(&r);
    check_any_cut(&r, AC_FRAMING_SSE, 64, in, strlen(in));
    CU_ASSERT_EQUAL(r.st, AC_ETOOBIG);
    run_free(&r);
    /* ...but a comment is dropped as it streams, never held. */
    snprintf(in, sizeof in, ": %s\n\ndata: ok\n\n", big);
    static const exp_ev ok[] = { { NULL, "ok", NULL } };
    run_init(&r);
    check_any_cut(&r, AC_FRAMING_SSE, 64, in, strlen(in));
    CU_ASSERT_EQUAL(r.st, AC_OK);
    expect_events(&r, ok, 1);
    run_free(&r);
    free(big);
}

static void test_oversize_default_limit(void)
{
    /* 0 means 1 MiB: 512 KiB passes, 2 MiB does not. */
    size_t n = 2u << 20;
    char *in = malloc(n + 16);
    if (!in) { /* not CU_ASSERT_..._FATAL: the compiler must see the return */
        CU_FAIL("out of memory");
        return;
    }
    memcpy(in, "data: ", 6);
    memset(in + 6, 'y', 512u << 10);
    memcpy(in + 6 + (512u << 10), "\n\n", 3);
    run r;
    run_init(&r);
    feed_step(&r, AC_FRAMING_SSE, 0, in, strlen(in), 4096);
    CU_ASSERT_EQUAL(r.st, AC_OK);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_TRUE(r.n == 1 && r.v[0].len == 512u << 10);
    run_free(&r);

    memset(in, 'z', n);
    memcpy(in + n, "\n", 2);
    run_init(&r);
    feed_step(&r, AC_FRAMING_NDJSON, 0, in, n + 1, 65536);
    CU_ASSERT_EQUAL(r.st, AC_ETOOBIG);
    CU_ASSERT_EQUAL(r.err.stage, AC_STAGE_FRAMING);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.message, "1048576"));
    run_free(&r);
    free(in);
}

static void test_oversize_ndjson(void)
{
    char *big = repeat('q', 200);
    char in[512];
    snprintf(in, sizeof in, "{\"a\":1}\n\"%s\"\n{\"b\":2}\n", big);
    run r;
    run_init(&r);
    check_any_cut(&r, AC_FRAMING_NDJSON, 100, in, strlen(in));
    CU_ASSERT_EQUAL(r.st, AC_ETOOBIG);
    CU_ASSERT_EQUAL(r.err.stage, AC_STAGE_FRAMING);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.message, "100"));
    CU_ASSERT_EQUAL(r.n, 1);
    run_free(&r);
    /* The same line without the final "\n" is refused as well. */
    snprintf(in, sizeof in, "\"%s\"", big);
    run_init(&r);
    check_any_cut(&r, AC_FRAMING_NDJSON, 100, in, strlen(in));
    CU_ASSERT_EQUAL(r.st, AC_ETOOBIG);
    run_free(&r);
    free(big);
}

static void check_nul(ac_framing kind, const char *in, size_t n, size_t want_events)
{
    run r;
    run_init(&r);
    check_any_cut(&r, kind, 0, in, n);
    CU_ASSERT_EQUAL(r.st, AC_EFRAMING);
    CU_ASSERT_EQUAL(r.err.code, AC_EFRAMING);
    CU_ASSERT_EQUAL(r.err.stage, AC_STAGE_FRAMING);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.message, "NUL"));
    CU_ASSERT_EQUAL(r.n, want_events);
    run_free(&r);
}

static void test_nul_bytes(void)
{
    static const char sse1[] = "data: ok\n\ndata: a\0b\n\ndata: never\n\n";
    check_nul(AC_FRAMING_SSE, sse1, sizeof sse1 - 1, 1);
    static const char sse2[] = ": comment \0 too\n\n";
    check_nul(AC_FRAMING_SSE, sse2, sizeof sse2 - 1, 0);
    static const char sse3[] = "\0";
    check_nul(AC_FRAMING_SSE, sse3, 1, 0);
    static const char nd[] = "{\"a\":1}\n{\"b\":\"\0\"}\n";
    check_nul(AC_FRAMING_NDJSON, nd, sizeof nd - 1, 1);
    /* The error is sticky: the framer refuses more bytes. */
    framer *f = ac__framer_new(AC_FRAMING_SSE, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ac_error err;
    CU_ASSERT_EQUAL(ac__framer_feed(f, "x\0", 2, NULL, NULL, &err), AC_EFRAMING);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "offset 1"));
    CU_ASSERT_EQUAL(ac__framer_feed(f, "data: y\n\n", 9, NULL, NULL, &err), AC_EFRAMING);
    CU_ASSERT_EQUAL(ac__framer_finish(f, NULL, NULL, &err), AC_EFRAMING);
    CU_ASSERT_EQUAL(ac__framer_events(f), 0);
    ac__framer_free(f);
}

static void test_callback_error_stops(void)
{
    static const char in[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    framer *f = ac__framer_new(AC_FRAMING_SSE, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    run r;
    run_init(&r);
    r.fail_at = 1;
    ac_error err;
    ac_error_clear(&err);
    CU_ASSERT_EQUAL(ac__framer_feed(f, in, sizeof in - 1, collect, &r, &err), AC_EPROTOCOL);
    CU_ASSERT_STRING_EQUAL(err.message, "callback said no");
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_EQUAL(ac__framer_finish(f, collect, &r, &err), AC_EPROTOCOL);
    CU_ASSERT_EQUAL(r.n, 1);
    ac__framer_free(f);
    run_free(&r);
}

static void test_api_edges(void)
{
    CU_ASSERT_PTR_NULL(ac__framer_new(AC_FRAMING_NONE, 0));
    CU_ASSERT_PTR_NULL(ac__framer_new((ac_framing)42, 0));
    ac__framer_free(NULL);
    CU_ASSERT_EQUAL(ac__framer_bytes(NULL), 0);
    CU_ASSERT_EQUAL(ac__framer_events(NULL), 0);
    ac_error err;
    CU_ASSERT_EQUAL(ac__framer_feed(NULL, "x", 1, NULL, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac__framer_finish(NULL, NULL, NULL, NULL), AC_EINVAL);
    framer *f = ac__framer_new(AC_FRAMING_SSE, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(ac__framer_feed(f, NULL, 1, NULL, NULL, NULL), AC_EINVAL);
    CU_ASSERT_EQUAL(ac__framer_feed(f, NULL, 0, NULL, NULL, NULL), AC_OK);
    /* A NULL callback: events are counted and dropped. */
    CU_ASSERT_EQUAL(ac__framer_feed(f, "data: a\n\ndata: b\n\n", 18, NULL, NULL, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac__framer_events(f), 2);
    CU_ASSERT_EQUAL(ac__framer_bytes(f), 18);
    ac__framer_free(f);
}

static void test_byte_at_a_time_is_linear(void)
{
    /* A 1 MiB event fed one byte per read must not rescan what is
     * buffered: that would be ~10^11 byte visits and take minutes.  The
     * bound is loose enough for valgrind. */
    size_t n = 1u << 20;
    char *in = malloc(n + 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    memcpy(in, "data: ", 6);
    memset(in + 6, 'w', n);
    memcpy(in + 6 + n, "\n\n", 2);
    framer *f = ac__framer_new(AC_FRAMING_SSE, 2u << 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    run r;
    run_init(&r);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ac_status st = AC_OK;
    for (size_t i = 0; i < n + 8 && st == AC_OK; i++)
        st = ac__framer_feed(f, in + i, 1, collect, &r, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CU_ASSERT_EQUAL(st, AC_OK);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_TRUE(r.n == 1 && r.v[0].len == n);
    CU_ASSERT_TRUE(secs < 20.0);
    ac__framer_free(f);
    run_free(&r);
    free(in);
}

/* Every allocation failing in turn: the framer reports AC_ENOMEM (or
 * copes), never crashes, leaks (run under valgrind) or reports events it
 * did not get. */
static void test_alloc_failures(void)
{
    static const char sse[] = "event: a\nid: 1\ndata: x\ndata: y\nerror: e\n\n"
                              "data: partial";
    static const char nd[] = "{\"a\":1}\n{\"b\":";
    for (int kind = 0; kind < 2; kind++) {
        const char *in = kind ? nd : sse;
        size_t n = kind ? sizeof nd - 1 : sizeof sse - 1;
        ac_framing fk = kind ? AC_FRAMING_NDJSON : AC_FRAMING_SSE;
        run ref;
        run_init(&ref);
        feed_step(&ref, fk, 0, in, n, 3);
        CU_ASSERT_EQUAL_FATAL(ref.st, AC_OK);
        int completed = 0;
        for (long k = 0; k < 200 && !completed; k++) {
            for (size_t step = 1; step <= 4; step += 3) {
                run r;
                run_init(&r);
                ac__alloc_fail_after(k);
                framer *f = ac__framer_new(fk, 0);
                if (!f) {
                    ac__alloc_fail_after(-1);
                    run_free(&r);
                    continue;
                }
                ac_status st = AC_OK;
                ac_error err;
                for (size_t off = 0; off < n && st == AC_OK; off += step)
                    st = ac__framer_feed(f, in + off, off + step > n ? n - off : step,
                                     collect, &r, &err);
                if (st == AC_OK)
                    st = ac__framer_finish(f, collect, &r, &err);
                ac__alloc_fail_after(-1);
                CU_ASSERT(st == AC_OK || st == AC_ENOMEM);
                if (st == AC_ENOMEM)
                    CU_ASSERT_EQUAL(err.stage, AC_STAGE_FRAMING);
                CU_ASSERT_FALSE(r.bad_frame);
                /* What did arrive is a prefix of the real events. */
                CU_ASSERT_TRUE(r.n <= ref.n);
                for (size_t i = 0; i < r.n && i < ref.n; i++)
                    CU_ASSERT_TRUE(ev_same(&r.v[i], &ref.v[i]));
                if (st == AC_OK) {
                    CU_ASSERT_TRUE(run_same(&r, &ref));
                    if (step == 4)
                        completed = 1;
                }
                ac__framer_free(f);
                run_free(&r);
            }
        }
        CU_ASSERT_TRUE(completed);
        run_free(&ref);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        { "sse_edge_cases: escaped newlines in JSON", test_edge_escaped_newlines },
        { "sse_edge_cases: multi-line data with empty lines", test_edge_multiline_empty_data },
        { "sse_edge_cases: UTF-8 split across reads", test_edge_utf8_split },
        { "CRLF line endings", test_crlf },
        { "lone CR line endings", test_lone_cr },
        { "mixed line endings", test_mixed_endings },
        { "CR at the end of a read, LF in the next", test_cr_at_end_of_read },
        { "U+2028/U+2029 are not line breaks", test_unicode_separators_not_breaks },
        { "comments only dispatch nothing", test_comments_only },
        { "comments are counted", test_comments_counted },
        { "[DONE] is passed on as data", test_done },
        { "multi-line and empty data", test_multiline_data },
        { "blocks without data dispatch nothing", test_no_data_no_event },
        { "event names and ids", test_event_names_and_ids },
        { "llama.cpp error: lines", test_error_lines },
        { "unterminated event at EOF", test_eof_unterminated },
        { "byte order mark", test_bom },
        { "every *.sse fixture, any cut", test_all_sse_fixtures },
        { "fixture with CRLF and CR endings", test_crlf_fixture },
        { "NDJSON lines", test_ndjson_basic },
        { "NDJSON fixtures, any cut", test_ndjson_fixtures },
        { "NDJSON last line at finish", test_ndjson_last_line_at_finish },
        { "oversize SSE events", test_oversize_sse },
        { "default limit is 1 MiB", test_oversize_default_limit },
        { "oversize NDJSON lines", test_oversize_ndjson },
        { "NUL bytes", test_nul_bytes },
        { "callback error stops the feed", test_callback_error_stops },
        { "API edge cases", test_api_edges },
        { "byte-at-a-time feeding is linear", test_byte_at_a_time_is_linear },
        { "every allocation failing in turn", test_alloc_failures },
    };
    if (TU_ADD_SUITE("framing", NULL, NULL, tests))
        return 2;
    return tu_run_suites();
}
