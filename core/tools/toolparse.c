/*
 * toolparse.c -- the streaming tool-call parser (see toolparse.h).
 *
 * Input is appended to `in` and consumed as far as it can be decided.
 * In text, bytes are emitted at once except three kinds of tail, which
 * stay in `in` until the next piece decides them: a prefix of an opening
 * marker ("<tool_c"), white space (dropped if a call follows, see the
 * header), and an incomplete UTF-8 sequence (so every piece of text
 * handed on is whole characters).  When a marker is complete, the region
 * scanner (toolregion.c) takes the bytes up to the call's end.  Every
 * byte is scanned once: feeding one byte at a time costs what feeding it
 * whole does.
 *
 * A region ends one of three ways, each the syntax table's `end`:
 *   CLOSER  a closing marker outside strings (<tool_call>...</tool_call>);
 *   VALUE   one balanced value after the marker, then optionally one of
 *           the syntax's trailing markers (<|python_tag|>{...}<|eom_id|>);
 *   HEAD    Mistral `[TOOL_CALLS]name[ARGS]{...}` and `<function=name>`:
 *           a short header first, then a VALUE or a CLOSER body.
 * Then tooldecode.h decides what the bytes are.  "Strong" syntaxes (a
 * special tag) report a body that is not a call as AC__TB_INVALID;
 * "weak" ones (bare JSON, ```json, ```tool_code, functools) give it back
 * as text, and are calls only when every name is a known tool, since
 * their bytes are ordinary in answers.
 *
 * This file holds the syntax table, the text side and the output in
 * order; toolregion.c the region side (toolparse_int.h between them).
 * Relies on alloc.h, buf.h, error.h, tooldecode.h.  One owner thread.
 */
#include "toolparse_int.h"
#include "../alloc.h"
#include "../buf.h"
#include "../error.h"

#include <stdio.h>
#include <string.h>

static const sx SYNTAXES[] = {
    {"<tool_call>", "<tool_call>", {"</tool_call>", NULL}, END_CLOSER, 0, 0, 1, 0,
     FAM(AC__TF_HERMES)},
    {"<|tool_call|>", "<|tool_call|>", {"<|/tool_call|>", "</|tool_call|>"}, END_CLOSER, 0, 0, 1, 0,
     FAM(AC__TF_PHI)},
    {"<function_call>", "<function_call>", {"</function_call>", NULL}, END_CLOSER, 0, 0, 0, 0,
     FAM(AC__TF_FUNCALL) | FAM(AC__TF_LLAMA3)},
    {"<functioncall>", "<functioncall>", {"</functioncall>", NULL}, END_VALUE, 0, 0, 0, 1,
     FAM(AC__TF_FUNCALL)},
    {"<|python_tag|>", "<|python_tag|>", {"<|eom_id|>", "<|eot_id|>"}, END_VALUE, 0, 1, 1, 1 | 2 | 4,
     FAM(AC__TF_LLAMA3)},
    {"[TOOL_CALLS]", "[TOOL_CALLS]", {NULL, NULL}, END_HEAD_MISTRAL, 0, 0, 0, 1 | 2,
     FAM(AC__TF_MISTRAL)},
    {"<function=", "<function=", {"</function>", NULL}, END_HEAD_FUNCTION, 0, 0, 0, 0,
     FAM(AC__TF_LLAMA3) | FAM(AC__TF_HERMES)},
    {"```tool_code", "```tool_code", {"```", NULL}, END_CLOSER, 1, 0, 1, 0,
     FAM(AC__TF_GEMMA)},
    {"```tool_call", "```tool_call", {"```", NULL}, END_CLOSER, 1, 0, 1, 0,
     FAM(AC__TF_GEMMA)},
    {"```json", "```json", {"```", NULL}, END_CLOSER, 1, 0, 0, 0,
     FAM(AC__TF_GEMMA)},
    {"functools", "functools", {NULL, NULL}, END_VALUE, 1, 0, 0, 2,
     FAM(AC__TF_PHI)},
    {"bare JSON", "", {NULL, NULL}, END_VALUE, 1, 1, 1, 1 | 2,
     ALL_FAMS},
};
#define N_SYNTAXES (sizeof SYNTAXES / sizeof SYNTAXES[0])
#define SX_BARE (&SYNTAXES[N_SYNTAXES - 1])
_Static_assert(sizeof SYNTAXES / sizeof SYNTAXES[0] <= TP_MAX_SYNTAXES, "syntax table too big");

/* ---- families ---- */

ac__toolparser *ac__toolparse_new(ac__toolfam fam, const char *const *known,
                                  size_t n_known, size_t max_call)
{
    if ((unsigned)fam >= AC__TF_COUNT)
        return NULL;
    ac__toolparser *p = ac__calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->max_call = max_call ? max_call : TP_DEFAULT_MAX;
    for (size_t i = 0; i < N_SYNTAXES; i++) {
        const sx *s = &SYNTAXES[i];
        if (fam != AC__TF_AUTO && !(s->fams & FAM(fam)))
            continue;
        if (s->open[0])
            p->on[p->n_on++] = s;
        else
            p->bare = 1;
    }
    p->bare_ok = 1;
    if (n_known && known) {
        p->known = ac__calloc(n_known, sizeof *p->known);
        if (!p->known) {
            ac__free(p);
            return NULL;
        }
        for (size_t i = 0; i < n_known; i++) {
            if (!known[i])
                continue;
            p->known[p->n_known] = ac__strdup(known[i]);
            if (!p->known[p->n_known]) {
                ac__toolparse_free(p);
                return NULL;
            }
            p->n_known++;
        }
    }
    /* The region can be no larger than max_call, plus the lookahead. */
    p->raw.limit = p->max_call;
    return p;
}

void ac__tp_region_clear(ac__toolparser *p)
{
    ac__buf_reset(&p->raw);
    ac__free(p->head_name);
    ac__free(p->head_id);
    p->head_name = p->head_id = NULL;
    p->rx = NULL;
    p->phase = PH_NONE;
    p->depth = p->quote = p->esc = p->nostr = p->sniffed = p->plaus = p->head_gap = 0;
    p->value_at = (size_t)-1;
    /* Release a buffer a big call grew; a long response keeps little. */
    if (p->raw.cap > 65536)
        ac__buf_free(&p->raw);
}

void ac__toolparse_free(ac__toolparser *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_known; i++)
        ac__free(p->known[i]);
    ac__free(p->known);
    ac__buf_free(&p->in);
    ac__buf_free(&p->raw);
    ac__buf_free(&p->ws_before);
    ac__free(p->head_name);
    ac__free(p->head_id);
    ac__free(p);
}

size_t ac__toolparse_calls(const ac__toolparser *p) { return p ? p->n_calls : 0; }
size_t ac__toolparse_bad(const ac__toolparser *p) { return p ? p->n_bad : 0; }

int ac__tp_is_known(const ac__toolparser *p, const char *name)
{
    for (size_t i = 0; i < p->n_known; i++)
        if (!strcmp(p->known[i], name))
            return 1;
    return 0;
}

/* How much a run of white space separates: 1 space, 2 line, 3 paragraph. */
static int ws_kind(const char *s, size_t n)
{
    int nl = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n')
            nl++;
    return !n ? 0 : nl >= 2 ? 3 : nl ? 2 : 1;
}

/* ---- output ---- */

ac_status ac__tp_nomem(ac_error *err)
{
    ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory parsing tool calls");
    return AC_ENOMEM;
}

ac_status ac__tp_emit_text(ac__toolparser *p, const char *s, size_t n,
                           const ac__toolparse_cb *cb, void *ctx, ac_error *err)
{
    if (!n)
        return AC_OK;
    if (p->text_out && p->sep) {
        static const char *seps[] = {"", " ", "\n", "\n\n"};
        int k = p->sep;
        p->sep = 0;
        ac_status st = cb->on_text(ctx, seps[k], strlen(seps[k]), err);
        if (st)
            return st;
    }
    p->sep = 0;
    p->text_out = 1;
    return cb->on_text(ctx, s, n, err);
}

/* The white space held before a region goes out as text (the region
 * was not a call after all). */
ac_status ac__tp_release_ws_before(ac__toolparser *p, const ac__toolparse_cb *cb, void *ctx,
                                   ac_error *err)
{
    ac_status st = ac__tp_emit_text(p, p->ws_before.data, p->ws_before.len, cb, ctx, err);
    ac__buf_reset(&p->ws_before);
    return st;
}

ac_status ac__tp_report_bad(ac__toolparser *p, ac__toolbad why, const char *raw, size_t n,
                            const ac__toolparse_cb *cb, void *ctx, ac_error *err)
{
    ac_status st = ac__tp_release_ws_before(p, cb, ctx, err);
    if (st)
        return st;
    p->n_bad++;
    return cb->on_bad(ctx, why, raw, n, err);
}

ac_status ac__tp_emit_calls(ac__toolparser *p, tp_calls *calls, const ac__toolparse_cb *cb,
                            void *ctx, ac_error *err)
{
    /* White space around a call is dropped; remember how much. */
    int k = ws_kind(p->ws_before.data, p->ws_before.len);
    if (k > p->sep)
        p->sep = k;
    ac__buf_reset(&p->ws_before);
    for (size_t i = 0; i < calls->n; i++) {
        char idbuf[32];
        tp_call *c = &calls->v[i];
        p->n_calls++;
        if (!c->id)
            snprintf(idbuf, sizeof idbuf, "call_%zu", p->n_calls);
        ac__toolcall tc = {.id = c->id ? c->id : idbuf, .name = c->name, .args = c->args,
                           .args_len = strlen(c->args), .known = ac__tp_is_known(p, c->name)};
        ac_status st = cb->on_call(ctx, &tc, err);
        if (st)
            return st;
    }
    p->after_call = 1;
    p->bare_ok = 1;
    return AC_OK;
}

/* ---- text ---- */

/* Bytes at the end of s/n that start an incomplete UTF-8 sequence. */
static size_t utf8_partial(const char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = (unsigned char)s[n - k];
        if ((c & 0xC0) == 0x80)
            continue;                       /* continuation: look further */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k ? k : 0;
    }
    return 0;
}

/* Emit in[from, to).  hold: keep back trailing white space and an
 * incomplete character (they stay in `in`); before_region: trailing
 * white space goes to ws_before instead.  Returns the bytes used (what
 * may be consumed from `in`) via *used. */
enum { EM_ALL, EM_HOLD, EM_REGION };

static ac_status emit_span(ac__toolparser *p, size_t from, size_t to, int mode, size_t *used,
                           const ac__toolparse_cb *cb, void *ctx, ac_error *err)
{
    const char *s = p->in.data;
    size_t end = to;
    if (mode == EM_HOLD) {
        size_t part = utf8_partial(s + from, to - from);
        end -= part;
        if (!part) {
            size_t w = end;
            while (w > from && tp_is_ws((unsigned char)s[w - 1]))
                w--;
            if (end - w <= TP_WS_HOLD_MAX)
                end = w;
        }
    } else if (mode == EM_REGION) {
        size_t w = end;
        while (w > from && tp_is_ws((unsigned char)s[w - 1]))
            w--;
        if (w < end && ac__buf_append(&p->ws_before, s + w, end - w))
            return ac__tp_nomem(err);
        end = w;
    }
    *used = mode == EM_HOLD ? end : to;
    return ac__tp_emit_text(p, s + from, end - from, cb, ctx, err);
}

static ac_status open_region(ac__toolparser *p, const sx *x, size_t consume,
                             ac_error *err)
{
    ac__buf_consume(&p->in, consume);
    ac__tp_region_clear(p);
    p->rx = x;
    if (ac__buf_appends(&p->raw, x->open))
        return ac__tp_nomem(err);
    p->body_at = p->raw.len;
    p->phase = x->end == END_CLOSER ? PH_BODY : x->end == END_VALUE ? PH_VALUE
             : x->end == END_HEAD_MISTRAL ? PH_SNIFF : PH_HEAD;
    p->bare_ok = 0;
    p->after_call = 0;
    p->chain = NULL;
    return AC_OK;
}

/*
 * Text until a region opens or the bytes run out.  Consumes what it
 * emits; what could still become a marker (and held white space or an
 * incomplete character) stays in `in` unless final.
 */
static ac_status text_step(ac__toolparser *p, int final, const ac__toolparse_cb *cb,
                           void *ctx, ac_error *err)
{
    const char *s = p->in.data;
    size_t n = p->in.len, i = 0, used = 0;
    ac_status st;
    if (p->after_call || p->chain) {
        /* White space after a call is dropped (and ';' between chained
         * values, as Llama writes several). */
        while (i < n && (tp_is_ws((unsigned char)s[i]) || (p->chain && s[i] == ';'))) {
            p->run_nl += s[i] == '\n';
            p->run_any = 1;
            i++;
        }
        if (i == n) {
            ac__buf_consume(&p->in, n);
            return AC_OK;
        }
        /* The run ended: it counts as one stretch of white space. */
        int k = p->run_nl >= 2 ? 3 : p->run_nl ? 2 : p->run_any;
        if (k > p->sep)
            p->sep = k;
        p->run_nl = 0;
        p->run_any = 0;
        if (p->chain && s[i] == '{') {
            const sx *x = p->chain;
            st = open_region(p, x, i, err);
            if (!st) {
                ac__buf_reset(&p->raw);      /* no marker: the '{' opens it */
                p->body_at = 0;
            }
            return st;
        }
        p->after_call = 0;
        p->chain = NULL;
    }
    size_t from = i;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const sx *hit = NULL;
        int partial = 0, partial_strong = 0;
        for (size_t k = 0; k < p->n_on; k++) {
            const char *o = p->on[k]->open;
            if ((unsigned char)o[0] != c)
                continue;
            size_t l = strlen(o), have = n - i;
            if (have >= l) {
                if (!memcmp(s + i, o, l)) {
                    hit = p->on[k];
                    break;
                }
            } else if (!memcmp(s + i, o, have)) {
                partial = 1;
                if (!p->on[k]->weak)
                    partial_strong = 1;
            }
        }
        if (!hit && !partial && p->bare && p->bare_ok && (c == '{' || c == '['))
            hit = SX_BARE;
        if (hit) {
            st = emit_span(p, from, i, EM_REGION, &used, cb, ctx, err);
            if (st)
                return st;
            return open_region(p, hit, i + strlen(hit->open), err);
        }
        if (partial && !final) {
            st = emit_span(p, from, i, EM_HOLD, &used, cb, ctx, err);
            ac__buf_consume(&p->in, used);
            return st;
        }
        if (partial && partial_strong && n - i >= TP_PARTIAL_MIN) {
            /* The reply ends in what is most likely a cut tag. */
            st = emit_span(p, from, i, EM_REGION, &used, cb, ctx, err);
            if (!st)
                st = ac__tp_report_bad(p, AC__TB_UNTERMINATED, s + i, n - i, cb, ctx, err);
            if (!st)
                ac__buf_consume(&p->in, n);
            return st;
        }
        if (!tp_is_ws(c))
            p->bare_ok = 0;
    }
    st = emit_span(p, from, n, final ? EM_ALL : EM_HOLD, &used, cb, ctx, err);
    if (!st)
        ac__buf_consume(&p->in, used);
    return st;
}

/* Run text and regions over `in` as far as it goes. */
static ac_status pump(ac__toolparser *p, int final, const ac__toolparse_cb *cb, void *ctx,
                      ac_error *err)
{
    for (;;) {
        ac_status st;
        if (p->phase != PH_NONE) {
            int phase = p->phase;
            size_t before = p->in.len;
            st = ac__tp_region_step(p, final, cb, ctx, err);
            if (st)
                return st;
            /* A step that settled a value into PH_AFTER (its optional
             * trailer) has not looked at the bytes after it yet: go on.
             * Only a step that took nothing waits for more bytes (at
             * the end of the reply, returning here left the text after
             * a chained call unread). */
            if (p->phase != PH_NONE && p->phase == phase && p->in.len == before)
                return AC_OK;               /* waiting for more bytes */
            continue;
        }
        if (!p->in.len)
            return AC_OK;
        st = text_step(p, final, cb, ctx, err);
        if (st)
            return st;
        if (p->phase == PH_NONE)
            return AC_OK;
    }
}

static ac_status fail(ac__toolparser *p, ac_status st)
{
    p->failed = st;
    return st;
}

ac_status ac__toolparse_feed(ac__toolparser *p, const char *s, size_t n,
                             const ac__toolparse_cb *cb, void *ctx, ac_error *err)
{
    if (!p || !cb || !cb->on_text || !cb->on_call || !cb->on_bad || (n && !s)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_PROTOCOL, "tool parser: bad arguments");
        return AC_EINVAL;
    }
    if (p->failed) {
        ac__error_set(err, p->failed, AC_STAGE_PROTOCOL, "tool parser: failed earlier: %s",
                      ac_strerror(p->failed));
        return p->failed;
    }
    if (p->finished) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_PROTOCOL, "tool parser: fed after finish");
        return AC_EINVAL;
    }
    if (!n)
        return AC_OK;
    if (ac__buf_append(&p->in, s, n))
        return fail(p, ac__tp_nomem(err));
    p->fed += n;
    ac_status st = pump(p, 0, cb, ctx, err);
    return st ? fail(p, st) : AC_OK;
}

ac_status ac__toolparse_finish(ac__toolparser *p, const ac__toolparse_cb *cb, void *ctx,
                               ac_error *err)
{
    if (!p || !cb || !cb->on_text || !cb->on_call || !cb->on_bad) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_PROTOCOL, "tool parser: bad arguments");
        return AC_EINVAL;
    }
    if (p->failed) {
        ac__error_set(err, p->failed, AC_STAGE_PROTOCOL, "tool parser: failed earlier: %s",
                      ac_strerror(p->failed));
        return p->failed;
    }
    if (p->finished) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_PROTOCOL, "tool parser: finished twice");
        return AC_EINVAL;
    }
    p->finished = 1;
    ac_status st = pump(p, 1, cb, ctx, err);
    return st ? fail(p, st) : AC_OK;
}
