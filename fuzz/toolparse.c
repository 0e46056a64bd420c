/*
 * toolparse.c -- fuzz target: the prompted tool-call parser
 * (core/tools/toolparse.h), fed a model's reply text.
 *
 * Input: byte 0 picks the syntax family (its low 3 bits, modulo the
 * number of families) and the largest call (bits 4-5: 1 MiB, 16, 256, 4096
 * bytes); byte 1 is the size of the pieces the text is fed in (0:
 * whole); the rest is the reply.  The known tools are get_weather,
 * search and run_code.
 *
 * Checked besides "no crash, no leak": the outputs (text, calls, bad
 * regions, in order) and the outcome are the same whether the text came
 * whole or in pieces; a call's arguments are a JSON object; `known` says
 * whether the name is a known tool; a reply without calls comes out byte
 * for byte (its text and bad regions, in order, are the input).
 */
#include "fuzz.h"
#include "tools/toolparse.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_tools[] = {"get_weather", "search", "run_code"};
#define N_KNOWN (sizeof known_tools / sizeof known_tools[0])

/* Outputs, serialized; text pieces are merged, so how the parser cut
 * them does not matter. */
typedef struct out {
    char  *p;
    size_t n, cap;
    int    last_text;   /* the last output was text */
    int    oom;
    char  *plain;       /* text and bad regions only, as they came */
    size_t plain_n, plain_cap;
    size_t calls;
} out;

static void grow_add(char **p, size_t *n, size_t *cap, int *oom, const char *s, size_t len)
{
    if (*oom)
        return;
    if (*n + len + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *n + len + 1)
            c *= 2;
        char *q = realloc(*p, c);
        if (!q) {
            *oom = 1;
            return;
        }
        *p = q;
        *cap = c;
    }
    if (len)
        memcpy(*p + *n, s, len);
    *n += len;
}

static void add(out *o, const char *s, size_t n) { grow_add(&o->p, &o->n, &o->cap, &o->oom, s, n); }
static void add_plain(out *o, const char *s, size_t n)
{
    grow_add(&o->plain, &o->plain_n, &o->plain_cap, &o->oom, s, n);
}

static ac_status on_text(void *ctx, const char *s, size_t n, ac_error *err)
{
    (void)err;
    out *o = ctx;
    if (!o->last_text)
        add(o, "\x01T", 2);
    o->last_text = 1;
    add(o, s, n);
    add_plain(o, s, n);
    return AC_OK;
}

static ac_status on_call(void *ctx, const ac__toolcall *c, ac_error *err)
{
    (void)err;
    out *o = ctx;
    o->last_text = 0;
    o->calls++;
    FUZZ_CHECK(c->id && c->name && c->args);
    if (!c->id || !c->name || !c->args)
        return AC_OK;
    FUZZ_CHECK(strlen(c->args) == c->args_len);
    int is_known = 0;
    for (size_t i = 0; i < N_KNOWN; i++)
        is_known |= strcmp(c->name, known_tools[i]) == 0;
    FUZZ_CHECK(c->known == is_known);
    json_tokener *tok = json_tokener_new();
    if (tok) {
        json_object *v = json_tokener_parse_ex(tok, c->args, (int)c->args_len);
        FUZZ_CHECK(json_tokener_get_error(tok) == json_tokener_success &&
                   json_object_is_type(v, json_type_object));
        json_object_put(v);
        json_tokener_free(tok);
    }
    add(o, "\x01C", 2);
    add(o, c->id, strlen(c->id));
    add(o, "\x02", 1);
    add(o, c->name, strlen(c->name));
    add(o, "\x02", 1);
    add(o, c->args, c->args_len);
    add(o, c->known ? "\x02k" : "\x02u", 2);
    return AC_OK;
}

static ac_status on_bad(void *ctx, ac__toolbad why, const char *raw, size_t n, ac_error *err)
{
    (void)err;
    out *o = ctx;
    o->last_text = 0;
    FUZZ_CHECK(why == AC__TB_INVALID || why == AC__TB_UNTERMINATED);
    add(o, why == AC__TB_INVALID ? "\x01I" : "\x01U", 2);
    add(o, raw, n);
    add_plain(o, raw, n);
    return AC_OK;
}

static const ac__toolparse_cb cbs = {on_text, on_call, on_bad};

static ac_status parse_all(ac__toolfam fam, size_t max_call, const char *s, size_t len,
                           size_t piece, out *o)
{
    ac__toolparser *p = ac__toolparse_new(fam, known_tools, N_KNOWN, max_call);
    if (!p)
        return AC_ENOMEM;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = AC_OK;
    size_t off = 0;
    do {
        size_t n = piece && len - off > piece ? piece : len - off;
        st = ac__toolparse_feed(p, s + off, n, &cbs, o, &err);
        off += n;
    } while (st == AC_OK && off < len);
    if (st == AC_OK)
        st = ac__toolparse_finish(p, &cbs, o, &err);
    if (st == AC_OK)
        FUZZ_CHECK(ac__toolparse_calls(p) == o->calls);
    ac__toolparse_free(p);
    return st;
}

static int toolparse_init(const char *plugin)
{
    (void)plugin;
    return 0;
}

static void toolparse_fini(void) {}

static int toolparse_run(const uint8_t *data, size_t size)
{
    static const size_t max_calls[] = {0, 16, 256, 4096};
    if (size < 2)
        return 0;
    ac__toolfam fam = (ac__toolfam)((data[0] & 7) % AC__TF_COUNT);
    size_t max_call = max_calls[(data[0] >> 4) & 3];
    size_t piece = data[1];
    const char *text = (const char *)data + 2;
    size_t len = size - 2;

    out whole, cut;
    memset(&whole, 0, sizeof whole);
    memset(&cut, 0, sizeof cut);
    ac_status a = parse_all(fam, max_call, text, len, 0, &whole);
    if (a == AC_OK && !whole.oom && whole.calls == 0)
        FUZZ_CHECK(whole.plain_n == len && (len == 0 || memcmp(whole.plain, text, len) == 0));
    if (piece) {
        ac_status b = parse_all(fam, max_call, text, len, piece, &cut);
        if (!whole.oom && !cut.oom && a != AC_ENOMEM && b != AC_ENOMEM) {
            FUZZ_CHECK(a == b);
            if (a == AC_OK)
                FUZZ_CHECK(whole.n == cut.n && (whole.n == 0 || memcmp(whole.p, cut.p, whole.n) == 0));
        }
    }
    free(whole.p);
    free(whole.plain);
    free(cut.p);
    free(cut.plain);
    return 0;
}

const fuzz_target fuzz_toolparse = {"toolparse", toolparse_init, toolparse_run, toolparse_fini};
