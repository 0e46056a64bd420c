/*
 * parse.c -- fuzz target: a bundled plugin's parsers, one function at a
 * time, through the SDK's fake host (<abstractcore/testkit.h>), without a
 * core.  One binary per plugin (parse_openai, parse_anthropic, ...).
 *
 * Input: byte 0 picks the function (low 2 bits: 0 parse_response on a 200
 * body, 1 parse_error, 2 a stream: the rest framed as the plugin's own
 * streaming requests are (SSE or NDJSON, core/framing.h) and each event
 * handed to parse_event in order, then stream_free, 3 parse_models);
 * byte 1 is the HTTP status for parse_error (400 + byte % 200); the rest
 * is the body.
 *
 * Checked besides "no crash, no leak": every block the plugin took from
 * the host is given back after each input (ac_fake_allocations), and the
 * stream slot is empty after stream_free.
 */
#include "fuzz.h"
#include "framing.h"

#include <abstractcore/testkit.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ac_provider *vt;
static void *dl;
static ac_fake *fk;
static void *state;
static ac_framing stream_framing = AC_FRAMING_SSE;
static long base_allocs;

static void parse_fini(void)
{
    if (state && vt && vt->fini)
        vt->fini(state);
    state = NULL;
    ac_fake_free(fk);
    fk = NULL;
    if (dl)
        dlclose(dl);
    dl = NULL;
    vt = NULL;
}

static int parse_init(const char *plugin)
{
    if (!plugin) {
        fprintf(stderr, "parse: which plugin?\n");
        return -1;
    }
    vt = ac_fake_load(fuzz_plugin_so(plugin), &dl);
    fk = vt ? ac_fake_new() : NULL;
    if (!fk || ac_fake_set_name(fk, plugin) || ac_fake_set(fk, "api_key", "sk-fuzz")) {
        parse_fini();
        return -1;
    }
    ac_fake_set_provider(fk, vt);
    ac_status st = vt->init(ac_fake_settings(fk), &state, ac_fake_call(fk));
    if (st != AC_OK) {
        fprintf(stderr, "parse: %s init: %s\n", plugin, ac_fake_error(fk)->message);
        parse_fini();
        return -1;
    }
    /* The framing the plugin asks for when it streams. */
    ac_gen_request *rq = ac_fake_request(fk);
    rq->model = "fuzz-model";
    rq->stream = 1;
    if (ac_fake_add_message(fk, AC_ROLE_USER, "hi") == 0 && vt->build_request &&
        vt->build_request(state, rq, ac_fake_http(fk), ac_fake_call(fk)) == AC_OK &&
        ac_fake_framing(fk) != AC_FRAMING_NONE)
        stream_framing = ac_fake_framing(fk);
    ac_fake_reset(fk);
    base_allocs = ac_fake_allocations();
    return 0;
}

static ac_status on_frame(void *ctx, const ac_frame *ev, ac_error *err)
{
    (void)ctx, (void)err;
    return vt->parse_event(state, ev, ac_fake_sink(fk), ac_fake_call(fk));
}

static void parse_stream(const char *body, size_t len)
{
    if (!vt->parse_event)
        return;
    framer *f = ac__framer_new(stream_framing, 0);
    if (!f)
        return;
    ac_error err;
    ac_error_clear(&err);
    if (ac__framer_feed(f, body, len, on_frame, NULL, &err) == AC_OK)
        (void)ac__framer_finish(f, on_frame, NULL, &err);
    ac__framer_free(f);
    void **slot = ac_fake_slot(fk);
    if (vt->stream_free)
        vt->stream_free(state, *slot);
    *slot = NULL;
}

static int parse_run(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] & 3;
    int status = 400 + data[1] % 200;
    /* The core hands bodies NUL-terminated (its buffers are); an exact
     * copy lets ASan catch a read past len + 1. */
    char *body = fuzz_strndup(data + 2, size - 2);
    size_t len = size - 2;
    if (!body)
        return 0;
    ac_fake_reset(fk);
    switch (mode) {
    case 0:
        (void)vt->parse_response(state, 200, body, len, ac_fake_sink(fk), ac_fake_call(fk));
        break;
    case 1:
        if (vt->parse_error) {
            ac_fake_http_error(fk, status);
            vt->parse_error(state, status, body, len, ac_fake_call(fk));
            FUZZ_CHECK(ac_fake_error(fk)->code != AC_OK); /* the core's report stays an error */
        }
        break;
    case 2:
        parse_stream(body, len);
        break;
    default:
        if (vt->parse_models)
            (void)vt->parse_models(state, body, len, ac_fake_models(fk), ac_fake_call(fk));
        break;
    }
    FUZZ_CHECK(ac_fake_allocations() == base_allocs);
    ac_fake_reset(fk);
    free(body);
    return 0;
}

const fuzz_target fuzz_parse = {"parse", parse_init, parse_run, parse_fini};
