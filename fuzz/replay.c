/*
 * replay.c -- fuzz target: a response through the engine's own decoding
 * path (ac__replay_bytes, core/replay.h: status, framing, the plugin,
 * accumulation, the end of the request) with a bundled plugin loaded by a
 * real core.  One binary per plugin (replay_openai, replay_anthropic, ...).
 *
 * Input: byte 0 picks the framing (low 2 bits: none, SSE, NDJSON; 3 is
 * SSE too), whether the HTTP status is an error (bit 2) and which (bits
 * 3-7, from a table of the statuses servers send); byte 1 is the size of
 * the pieces the body is fed in (0: whole); the rest is the body.
 *
 * Checked besides "no crash, no leak": the response the caller gets, and
 * the outcome, are the same whether the body came whole or in pieces;
 * AC_OK always comes with a response; the response serializes; an error
 * is one line (whatever the server's message held).
 */
#include "fuzz.h"
#include "replay.h"

#include <abstractcore/abstractcore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ac_core *core;
static ac_llm *llm;
static char *cfg_path;

static void replay_fini(void)
{
    ac_llm_free(llm);
    llm = NULL;
    ac_core_close(core);
    core = NULL;
    fuzz_temp_remove(cfg_path);
    cfg_path = NULL;
}

static int replay_init(const char *plugin)
{
    if (!plugin) {
        fprintf(stderr, "replay: which plugin?\n");
        return -1;
    }
    /* Only this plugin, by absolute path: an empty plugin_path keeps the
     * core from scanning any folder. */
    char text[2048];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = [ ]; };\n"
             "providers = ( { name = \"p\"; plugin = \"%s\"; api_key = \"sk-fuzz\";"
             " max_retries = 0; } );\n",
             fuzz_plugin_so(plugin));
    ac_error err;
    ac_error_clear(&err);
    cfg_path = fuzz_temp_file("replay");
    if (!cfg_path || fuzz_write_file(cfg_path, text, strlen(text)) != 0 ||
        ac_core_open(&core, cfg_path, &err) != AC_OK ||
        !(llm = ac_llm_create(core, "p", "fuzz-model", NULL, &err))) {
        fprintf(stderr, "replay: %s: %s\n", plugin, err.message);
        replay_fini();
        return -1;
    }
    return 0;
}

/* A growable byte string; oom set when an append failed. */
typedef struct dbuf {
    char  *p;
    size_t n, cap;
    int    oom;
} dbuf;

/* Append s (len bytes; NULL stands for "\x03") and a separator. */
static void put(dbuf *b, const char *s, size_t len)
{
    if (!s) {
        s = "\x03";
        len = 1;
    }
    if (b->oom)
        return;
    if (b->n + len + 2 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + len + 2)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n++] = '\x01';
}

static void puts_(dbuf *b, const char *s) { put(b, s, s ? strlen(s) : 0); }

/* What a caller can read from the response, serialized (malloc'd, *out_n
 * bytes; NULL on no memory). */
static char *digest(ac_status st, const ac_response *r, size_t *out_n)
{
    dbuf b = {0};
    char num[64];
    snprintf(num, sizeof num, "%d", (int)st);
    puts_(&b, num);
    if (r) {
        put(&b, ac_response_content(r), ac_response_content_len(r));
        puts_(&b, ac_response_reasoning(r));
        puts_(&b, ac_response_finish_reason(r));
        puts_(&b, ac_response_raw_finish_reason(r));
        puts_(&b, ac_response_model(r));
        snprintf(num, sizeof num, "%ld/%ld", ac_response_input_tokens(r),
                 ac_response_output_tokens(r));
        puts_(&b, num);
        for (size_t i = 0; i < ac_response_tool_call_count(r); i++) {
            puts_(&b, ac_response_tool_call_id(r, i));
            puts_(&b, ac_response_tool_call_name(r, i));
            puts_(&b, ac_response_tool_call_arguments(r, i));
            puts_(&b, ac_response_tool_call_truncated(r, i) ? "t" : "c");
        }
        for (size_t i = 0; i < ac_response_warning_count(r); i++)
            puts_(&b, ac_response_warning(r, i));
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *out_n = b.n;
    return b.p;
}

static char *replay_once(ac_framing framing, int status, const char *body, size_t len,
                         size_t piece, size_t *dn)
{
    ac_response *r = NULL;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac__replay_bytes(llm, framing, status, body, len, piece, NULL, NULL, &r, &err);
    if (st == AC_OK)
        FUZZ_CHECK(r != NULL);
    if (st != AC_OK && st != AC_ENOMEM)
        FUZZ_CHECK(err.code == st && err.message[0] != '\0');
    FUZZ_CHECK(fuzz_one_line(err.message));
    char *d = digest(st, r, dn);
    if (r) {
        char *js = ac_response_to_json(r);
        FUZZ_CHECK(js != NULL);
        ac_free(js);
        char *calls = ac_response_render_tool_calls(r, "hermes");
        ac_free(calls);
    }
    ac_response_free(r);
    return d;
}

static int replay_run(const uint8_t *data, size_t size)
{
    static const int errors[] = {400, 401, 403, 404, 408, 409, 413, 422,
                                 429, 500, 502, 503, 504, 529, 418, 599};
    if (size < 2)
        return 0;
    static const ac_framing framings[] = {AC_FRAMING_NONE, AC_FRAMING_SSE, AC_FRAMING_NDJSON,
                                          AC_FRAMING_SSE};
    ac_framing framing = framings[data[0] & 3];
    int status = data[0] & 4 ? errors[(data[0] >> 3) & 15] : 200;
    size_t piece = data[1];
    const char *body = (const char *)data + 2;
    size_t len = size - 2;

    size_t wn = 0, cn = 0;
    char *whole = replay_once(framing, status, body, len, 0, &wn);
    if (piece) {
        char *cut = replay_once(framing, status, body, len, piece, &cn);
        if (whole && cut)
            FUZZ_CHECK(wn == cn && memcmp(whole, cut, wn) == 0);
        free(cut);
    }
    free(whole);
    return 0;
}

const fuzz_target fuzz_replay = {"replay", replay_init, replay_run, replay_fini};
