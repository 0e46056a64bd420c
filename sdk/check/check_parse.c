/*
 * check_parse.c -- parse_response and parse_event on the fake host, with
 * every allocation failing in turn.
 *
 * The bytes are real: the mock's answer to the request the plugin built
 * (or the fixture file's), fetched once.  A stream is cut into events
 * here with a plain SSE / NDJSON splitter -- enough for the mock's
 * well-formed output; the core's own framer, with every trap of the
 * format, is exercised in phase 2.
 */
#include "check.h"

#include <abstractcore/testkit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAILURES 4000

typedef struct frames {
    ac_frame *v;
    char    **owned;     /* the strings of v, to free */
    size_t    n, n_owned;
} frames;

static void frames_free(frames *fr)
{
    for (size_t i = 0; i < fr->n_owned; i++)
        free(fr->owned[i]);
    free(fr->owned);
    free(fr->v);
    memset(fr, 0, sizeof *fr);
}

static char *own(frames *fr, const char *s, size_t n)
{
    char *p = malloc(n + 1);
    char **o = realloc(fr->owned, (fr->n_owned + 1) * sizeof *o);
    if (!p || !o) {
        fprintf(stderr, "acore-provider-check: out of memory\n");
        exit(2);
    }
    memcpy(p, s, n);
    p[n] = '\0';
    fr->owned = o;
    fr->owned[fr->n_owned++] = p;
    return p;
}

static void frame_add(frames *fr, const char *event, const check_str *data)
{
    ac_frame *v = realloc(fr->v, (fr->n + 1) * sizeof *v);
    if (!v) {
        fprintf(stderr, "acore-provider-check: out of memory\n");
        exit(2);
    }
    fr->v = v;
    ac_frame *f = &v[fr->n++];
    memset(f, 0, sizeof *f);
    f->event = event;
    f->data = own(fr, data->p ? data->p : "", data->len);
    f->data_len = data->len;
}

/* The events of an SSE or NDJSON body. */
static void split(const char *b, size_t len, ac_framing framing, frames *fr)
{
    check_str data = {0};
    const char *event = NULL;
    int have_data = 0;
    size_t i = 0;
    while (i <= len) {
        size_t e = i;
        while (e < len && b[e] != '\n')
            e++;
        size_t n = e - i;
        if (n && b[i + n - 1] == '\r')
            n--;
        const char *line = b + i;
        if (framing == AC_FRAMING_NDJSON) {
            if (n) {
                check_str one = {0};
                check_str_add(&one, line, n);
                frame_add(fr, NULL, &one);
                check_str_free(&one);
            }
        } else if (n == 0) {
            if (have_data)
                frame_add(fr, event, &data);
            check_str_free(&data);
            event = NULL;
            have_data = 0;
        } else if (line[0] != ':') {
            const char *colon = memchr(line, ':', n);
            size_t fl = colon ? (size_t)(colon - line) : n;
            const char *val = colon ? colon + 1 : line + n;
            size_t vl = n - (size_t)(val - line);
            if (vl && *val == ' ')
                val++, vl--;
            if (fl == 4 && !memcmp(line, "data", 4)) {
                if (have_data)
                    check_str_add(&data, "\n", 1);
                check_str_add(&data, val, vl);
                have_data = 1;
            } else if (fl == 5 && !memcmp(line, "event", 5)) {
                event = own(fr, val, vl);
            }
        }
        i = e + 1;
    }
    if (framing != AC_FRAMING_NDJSON && have_data) /* a last event without its blank line */
        frame_add(fr, event, &data);
    check_str_free(&data);
}

/* What one allocation-failure run left wrong, or NULL.  `ok` says the
 * run succeeded. */
static verdict after_run(ac_fake *f, const char *fn, ac_status st, long n, long base)
{
    if (ac_fake_allocations() != base)
        return check_fail("%s %s left %ld blocks allocated", fn,
                          st == AC_OK ? "succeeding" : "failing", ac_fake_allocations() - base);
    if (st == AC_OK)
        return NULL;
    if (ac_fake_error(f)->code == AC_OK)
        return check_fail("%s failed (%s) without host->fail", fn, ac_strerror(st));
    if (ac_fake_error(f)->code != AC_ENOMEM)
        return check_fail("%s %s said %s (%s)", fn,
                          n == 0 ? "on the mock's reply" : "with an allocation failing",
                          ac_strerror(ac_fake_error(f)->code), ac_fake_error(f)->message);
    return NULL;
}

static void slot_free(const ac_provider *d, void *state, ac_fake *f)
{
    void **slot = ac_fake_slot(f);
    if (d->stream_free && *slot)
        d->stream_free(state, *slot);
    *slot = NULL;
}

static verdict parse_body(const ac_provider *d, void *state, ac_fake *f, const char *b,
                          size_t len, const scene *s)
{
    long base = ac_fake_allocations();
    for (long n = 0; n < MAX_FAILURES; n++) {
        ac_fake_reset(f);
        ac_fake_fail_after(f, n);
        ac_status st = d->parse_response(state, 200, b, len, ac_fake_sink(f), ac_fake_call(f));
        ac_fake_fail_after(f, -1);
        slot_free(d, state, f);
        verdict v = after_run(f, "parse_response", st, n, base);
        if (v)
            return v;
        if (st == AC_OK) {
            if (s->text && strcmp(ac_fake_text(f), s->text) != 0)
                return check_fail("parse_response emitted \"%s\", the reply is \"%s\"",
                                  ac_fake_text(f), s->text);
            return NULL;
        }
    }
    return check_fail("parse_response did not succeed after %d allocation failures",
                      MAX_FAILURES);
}

static verdict parse_stream(const ac_provider *d, void *state, ac_fake *f, const frames *fr,
                            const scene *s)
{
    long base = ac_fake_allocations();
    for (long n = 0; n < MAX_FAILURES; n++) {
        ac_fake_reset(f);
        ac_fake_fail_after(f, n);
        ac_status st = AC_OK;
        for (size_t i = 0; i < fr->n && st == AC_OK; i++)
            st = d->parse_event(state, &fr->v[i], ac_fake_sink(f), ac_fake_call(f));
        ac_fake_fail_after(f, -1);
        slot_free(d, state, f);
        verdict v = after_run(f, "parse_event", st, n, base);
        if (v)
            return v;
        if (st == AC_OK) {
            if (s->text && strcmp(ac_fake_text(f), s->text) != 0)
                return check_fail("parse_event emitted \"%s\", the reply is \"%s\"",
                                  ac_fake_text(f), s->text);
            if (ac_fake_finish_reports(f) != 1)
                return check_fail("a whole stream gave %d finishes, not 1 (a stream must "
                                  "emit its finish)", ac_fake_finish_reports(f));
            return NULL;
        }
    }
    return check_fail("parse_event did not succeed after %d allocation failures", MAX_FAILURES);
}

/* The bytes of scene `name`: the fixture's, or the mock's answer to
 * body.  0, or -1 with *v set. */
static int scene_bytes(checker *c, const char *name, const check_str *body, check_str *out,
                       scene *s, verdict *v)
{
    if (!check_scene(c, name, NULL, s)) {
        *v = CHECK_SKIP "the fixture file has no such scenario";
        return -1;
    }
    const char *why = NULL;
    char errbuf[400];
    mock_server *m = mock_server_start(s->script.p, 0, errbuf, sizeof errbuf);
    if (!m) {
        *v = check_fail("the mock refused the scene: %s", errbuf);
        return -1;
    }
    long status = 0;
    int rc = check_capture(c, mock_server_url(m), body, out, &status, &why);
    mock_server_stop(m);
    if (rc < 0) {
        *v = check_fail("%s", why);
        return -1;
    }
    if (status != 200) {
        *v = check_fail("the mock answered the plugin's %s request with HTTP %ld: %.200s", name,
                        status, out->p ? out->p : "");
        return -1;
    }
    return 0;
}

verdict check_unit_parse(checker *c, const ac_provider *d)
{
    if (c->local)
        return CHECK_SKIP "an in-process plugin (run_local)";
    char base[128];
    snprintf(base, sizeof base, "http://127.0.0.1:9%s", c->base_suffix);
    ac_fake *f = check_fake_new(c, base);
    void *state = NULL;
    if (!f)
        return check_fail("out of memory");
    if (d->init(ac_fake_settings(f), &state, ac_fake_call(f)) != AC_OK) {
        verdict v = check_fail("init: %s", ac_fake_error(f)->message);
        ac_fake_free(f);
        return v;
    }
    verdict v = NULL;
    scene s;
    check_str bytes = {0};
    if (scene_bytes(c, "text", &c->plain_body, &bytes, &s, &v) == 0) {
        v = parse_body(d, state, f, bytes.p, bytes.len, &s);
        scene_free(&s);
    }
    check_str_free(&bytes);
    verdict sv = NULL;
    if (!v && c->can_stream &&
        scene_bytes(c, "stream", &c->stream_body, &bytes, &s, &sv) == 0) {
        frames fr = {0};
        split(bytes.p, bytes.len, c->framing, &fr);
        v = parse_stream(d, state, f, &fr, &s);
        frames_free(&fr);
        scene_free(&s);
    } else if (!v && sv && sv[0] != CHECK_SKIP[0]) {
        v = sv; /* a stream scene that could not be fetched; none is no failure */
    }
    check_str_free(&bytes);
    if (d->fini)
        d->fini(state);
    ac_fake_free(f);
    return v;
}
