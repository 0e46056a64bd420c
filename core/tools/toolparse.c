/*
 * toolparse.c -- the streaming tool-call parser (see toolparse.h).
 *
 * Input is appended to `in` and consumed as far as it can be decided.
 * In text, bytes are emitted at once except three kinds of tail, which
 * stay in `in` until the next piece decides them: a prefix of an opening
 * marker ("<tool_c"), white space (dropped if a call follows, see the
 * header), and an incomplete UTF-8 sequence (so every piece of text
 * handed on is whole characters).  When a marker is complete, bytes move
 * from `in` to the region's `raw` buffer one at a time through a small
 * scanner that knows nesting ({[( and strings in either quote, counted
 * only inside brackets), so a closing tag or fence inside a JSON or
 * Python string does not end the call.  Every byte is scanned once:
 * feeding one byte at a time costs what feeding it whole does.
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
 * Relies on alloc.h, buf.h, error.h, tooldecode.h.  One owner thread.
 */
#include "toolparse.h"
#include "tooldecode.h"
#include "../alloc.h"
#include "../buf.h"
#include "../error.h"

#include <stdio.h>
#include <string.h>

#define TP_DEFAULT_MAX   ((size_t)1 << 20)
#define TP_WS_HOLD_MAX   1024     /* trailing white space held back at most */
#define TP_HEAD_MAX      300      /* Mistral / <function=> header bytes */
#define TP_PARTIAL_MIN   3        /* a held marker prefix this long at the
                                     end is reported, shorter is text */

enum { END_CLOSER, END_VALUE, END_HEAD_MISTRAL, END_HEAD_FUNCTION };

#define FAM(f) (1u << (f))
#define ALL_FAMS 0xffffffffu

/* One syntax.  open "" = a bare value opens the region itself. */
typedef struct sx {
    const char *name;        /* for messages */
    const char *open;
    const char *close[2];    /* CLOSER: closers; VALUE: optional trailers */
    unsigned char end;
    unsigned char weak;      /* not a call -> text; names must be known */
    unsigned char chain;     /* after a value: ';' or blank, then '{' again */
    unsigned char py;        /* the body may be Python calls */
    unsigned char value0;    /* VALUE: which first bytes may open the value:
                                1 '{', 2 '[', 4 identifier */
    unsigned fams;
} sx;

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

enum { PH_NONE, PH_SNIFF, PH_HEAD, PH_BODY, PH_VALUE, PH_AFTER };

struct ac__toolparser {
    const sx   *on[N_SYNTAXES];  /* the enabled syntaxes with an opener */
    size_t      n_on;
    int         bare;            /* bare values recognised */
    char      **known;
    size_t      n_known;
    size_t      max_call;
    buf         in;              /* bytes not yet decided */
    /* text */
    int         bare_ok;         /* only white space since the start or a call */
    int         after_call;      /* dropping white space after a call */
    const sx   *chain;           /* a chain syntax's call just ended */
    int         text_out;        /* text was emitted */
    int         sep;             /* dropped white space: 0, 1 ' ', 2 '\n', 3 '\n\n' */
    size_t      run_nl;          /* the white space being dropped after a call, */
    int         run_any;         /* counted across pieces: newlines, any */
    int         head_gap;        /* HEAD: white space after the name */
    buf         ws_before;       /* white space before the open region */
    /* the open region (phase != PH_NONE) */
    const sx   *rx;
    int         phase;
    buf         raw;             /* the region's bytes, marker included */
    size_t      body_at;         /* where the body (or header) starts in raw */
    size_t      value_at;        /* VALUE: where the value starts, or SIZE_MAX */
    char       *head_name;       /* HEAD: name (and Mistral call id) */
    char       *head_id;
    int         depth, quote, esc, nostr, sniffed, plaus;
    /* totals */
    size_t      n_calls, n_bad, fed;
    ac_status   failed;
    int         finished;
};

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

static void region_clear(ac__toolparser *p)
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

static int is_known(const ac__toolparser *p, const char *name)
{
    for (size_t i = 0; i < p->n_known; i++)
        if (!strcmp(p->known[i], name))
            return 1;
    return 0;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
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

static ac_status nomem(ac_error *err)
{
    ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory parsing tool calls");
    return AC_ENOMEM;
}

static ac_status emit_text(ac__toolparser *p, const char *s, size_t n,
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
static ac_status release_ws_before(ac__toolparser *p, const ac__toolparse_cb *cb, void *ctx,
                                   ac_error *err)
{
    ac_status st = emit_text(p, p->ws_before.data, p->ws_before.len, cb, ctx, err);
    ac__buf_reset(&p->ws_before);
    return st;
}

static ac_status report_bad(ac__toolparser *p, ac__toolbad why, const char *raw, size_t n,
                            const ac__toolparse_cb *cb, void *ctx, ac_error *err)
{
    ac_status st = release_ws_before(p, cb, ctx, err);
    if (st)
        return st;
    p->n_bad++;
    return cb->on_bad(ctx, why, raw, n, err);
}

static ac_status emit_calls(ac__toolparser *p, tp_calls *calls, const ac__toolparse_cb *cb,
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
                           .args_len = strlen(c->args), .known = is_known(p, c->name)};
        ac_status st = cb->on_call(ctx, &tc, err);
        if (st)
            return st;
    }
    p->after_call = 1;
    p->bare_ok = 1;
    return AC_OK;
}

/* ---- deciding a region ---- */

/* The region's bytes decoded: 0 calls in *calls, 1 not a call, -1. */
static int decode(ac__toolparser *p, const char *s, size_t n, tp_calls *calls)
{
    const sx *x = p->rx;
    while (n && is_ws((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && is_ws((unsigned char)s[n - 1]))
        n--;
    int rc;
    if (x->end == END_HEAD_FUNCTION || (x->end == END_HEAD_MISTRAL && p->head_name)) {
        const char *nm = p->head_name;
        if (n && s[0] == '<')
            rc = ac__tp_decode_xml_params(nm, strlen(nm), s, n, calls);
        else
            rc = ac__tp_decode_args(p->head_id, nm, strlen(nm), s, n, calls);
    } else if (n >= 10 && !memcmp(s, "<function=", 10)) {
        rc = ac__tp_decode_function_tags(s, n, calls);
    } else {
        rc = 1;
        if (!(x->py && n && s[0] != '{' && s[0] != '['))
            rc = ac__tp_decode_json_calls(s, n, x->weak ? TP_NEED_ARGS : 0, calls);
        if (rc == 1 && x->py)
            rc = ac__tp_decode_python_calls(s, n, calls);
    }
    if (!rc && x->weak) {
        for (size_t i = 0; i < calls->n; i++) {
            if (!is_known(p, calls->v[i].name)) {
                ac__tp_calls_truncate(calls, 0);
                return 1;
            }
        }
    }
    return rc;
}

/* After the region: back to text. */
static void region_end(ac__toolparser *p, int was_call)
{
    const sx *x = p->rx;
    region_clear(p);
    p->chain = was_call && x->chain ? x : NULL;
}

/* Settle the region on body s/n.  force: 0 decode it, else the region is
 * bad for that reason (an AC__TB_* value) without decoding.  A call in a
 * VALUE syntax with trailers leaves the region open in PH_AFTER. */
static ac_status settle(ac__toolparser *p, const char *s, size_t n, int force,
                        const ac__toolparse_cb *cb, void *ctx, ac_error *err)
{
    tp_calls calls = {0};
    int rc = force ? 1 : decode(p, s, n, &calls);
    ac_status st;
    if (rc < 0) {
        st = nomem(err);
    } else if (!rc) {
        st = emit_calls(p, &calls, cb, ctx, err);
    } else if (p->rx->weak) {
        st = release_ws_before(p, cb, ctx, err);
        if (!st)
            st = emit_text(p, p->raw.data, p->raw.len, cb, ctx, err);
        p->bare_ok = 0;
    } else {
        st = report_bad(p, force ? (ac__toolbad)force : AC__TB_INVALID,
                        p->raw.data, p->raw.len, cb, ctx, err);
        p->bare_ok = 0;
    }
    ac__tp_calls_free(&calls);
    if (st)
        return st;
    if (!rc && p->phase == PH_VALUE && p->rx->close[0])
        p->phase = PH_AFTER;
    else
        region_end(p, !rc);
    return AC_OK;
}

/* ---- scanning a region ---- */

/* Nesting and strings: returns 1 when a bracket closes the outermost
 * level. */
static int scan(ac__toolparser *p, unsigned char c)
{
    if (p->quote) {
        if (p->esc)
            p->esc = 0;
        else if (c == '\\')
            p->esc = 1;
        else if (c == p->quote)
            p->quote = 0;
        return 0;
    }
    if (p->nostr)
        return 0;
    switch (c) {
    case '{': case '[': case '(':
        p->depth++;
        return 0;
    case '}': case ']': case ')':
        return p->depth > 0 && --p->depth == 0;
    case '"': case '\'':
        if (p->depth > 0)
            p->quote = c;
        return 0;
    default:
        return 0;
    }
}

static int is_ident(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* A bare value so far: -1 cannot be a call, 0 undecided, 1 plausible.
 * Decided within the first few bytes, so ordinary text starting with '['
 * or '{' ("[1] Smith", "{a, b}") is released at once. */
static int plausible(const char *v, size_t n)
{
    size_t i = 1;
    while (i < n && is_ws((unsigned char)v[i]))
        i++;
    if (i == n)
        return 0;
    unsigned char c = (unsigned char)v[i];
    if (v[0] == '{')
        return c == '"' || c == '\'' || c == '}' ? 1 : -1;
    if (c == '{')
        return plausible(v + i, n - i);
    if (c == ']')
        return 1;
    if (!is_ident(c) || (c >= '0' && c <= '9'))
        return -1;
    size_t a = i;
    while (i < n && (is_ident((unsigned char)v[i]) || v[i] == '.'))
        i++;
    if (i - a > 256)
        return -1;
    while (i < n && is_ws((unsigned char)v[i]))
        i++;
    if (i == n)
        return 0;
    return v[i] == '(' ? 1 : -1;
}

static int head_char_ok(unsigned char c)
{
    return is_ident(c) || c == '-' || c == '.' || c == ':' || c == '/' || c == '[' ||
           c == ']' || c == ' ';
}

/* The header so far, white space at its end left out. */
static size_t head_len(const ac__toolparser *p)
{
    size_t hl = p->raw.len - p->body_at;
    while (hl && is_ws((unsigned char)p->raw.data[p->body_at + hl - 1]))
        hl--;
    return hl;
}

/* 1 if the Mistral header ends in "[ARGS]" (only the value may follow). */
static int ends_with_args(const ac__toolparser *p)
{
    size_t hl = head_len(p);
    return hl >= 6 && !memcmp(p->raw.data + p->body_at + hl - 6, "[ARGS]", 6);
}

/* The header is complete: split name and Mistral call id. */
static int head_done(ac__toolparser *p)
{
    const char *h = p->raw.data + p->body_at;
    size_t hl = head_len(p);
    if (p->rx->end == END_HEAD_MISTRAL && hl >= 6 && !memcmp(h + hl - 6, "[ARGS]", 6))
        hl -= 6;
    size_t nl = hl;
    const char *cid = NULL;
    for (size_t k = 0; p->rx->end == END_HEAD_MISTRAL && k + 9 <= hl; k++) {
        if (!memcmp(h + k, "[CALL_ID]", 9)) {
            cid = h + k + 9;
            nl = k;
            break;
        }
    }
    p->head_name = ac__strndup(h, nl);
    if (!p->head_name)
        return -1;
    if (cid) {
        size_t il = hl - nl - 9;
        while (il && is_ws((unsigned char)*cid)) {
            cid++;
            il--;
        }
        while (il && is_ws((unsigned char)cid[il - 1]))
            il--;
        p->head_id = ac__strndup(cid, il);
        if (!p->head_id)
            return -1;
    }
    return 0;
}

static ac_status too_big(ac__toolparser *p, ac_error *err)
{
    ac__error_set(err, AC_ETOOBIG, AC_STAGE_PROTOCOL,
                  "a %s tool call is larger than %zu bytes (at reply byte %zu)",
                  p->rx->name, p->max_call, p->fed - p->in.len);
    return AC_ETOOBIG;
}

/* Region outcomes within region_step. */
enum { GO_ON, GO_SETTLE, GO_BAD, GO_TEXT };

/*
 * Advance the open region over `in`, consuming what it takes.  Returns
 * with the region settled (phase PH_NONE), or waiting for more bytes, or
 * an error.  final: no more bytes will come (trailers are not awaited).
 */
static ac_status region_step(ac__toolparser *p, int final, const ac__toolparse_cb *cb,
                             void *ctx, ac_error *err)
{
    const sx *x = p->rx;
    size_t i = 0;
    int go = GO_ON;
    const char *body = NULL;
    size_t blen = 0;

    if (p->phase == PH_AFTER) {
        /* Optional trailer: white space, then one of close[]. */
        size_t j = 0;
        while (j < p->in.len && is_ws((unsigned char)p->in.data[j]))
            j++;
        int wait = 0;
        for (int k = 0; k < 2 && x->close[k]; k++) {
            size_t l = strlen(x->close[k]), have = p->in.len - j;
            if (have >= l && !memcmp(p->in.data + j, x->close[k], l)) {
                ac__buf_consume(&p->in, j + l);
                region_end(p, 1);
                return AC_OK;
            }
            if (have < l && !memcmp(p->in.data + j, x->close[k], have))
                wait = 1;
        }
        if (wait && !final)
            return AC_OK;
        region_end(p, 1);
        return AC_OK;
    }

    while (go == GO_ON && i < p->in.len) {
        unsigned char c = (unsigned char)p->in.data[i];
        if (p->raw.len >= p->max_call) {
            if (x->weak) {
                go = GO_TEXT;       /* too big to be a call we would take */
                break;
            }
            ac__buf_consume(&p->in, i);
            return too_big(p, err);
        }
        switch (p->phase) {
        case PH_SNIFF:                              /* after [TOOL_CALLS] */
            if (!is_ws(c)) {
                p->phase = c == '[' ? PH_VALUE : PH_HEAD;
                p->body_at = p->raw.len;
                continue;
            }
            break;
        case PH_HEAD: {
            int ok_gap = 1;
            if (x->end == END_HEAD_FUNCTION ? c == '>' : c == '{') {
                if (head_done(p))
                    return nomem(err);
                if (x->end == END_HEAD_FUNCTION) {
                    if (ac__buf_append(&p->raw, ">", 1))
                        return nomem(err);
                    i++;
                    p->phase = PH_BODY;
                } else {
                    p->phase = PH_VALUE;    /* the '{' opens the value */
                }
                p->body_at = p->raw.len;
                continue;
            }
            if (x->end == END_HEAD_MISTRAL && ends_with_args(p)) {
                /* "[ARGS]" seen; anything but the value is bad. */
                if (!is_ws(c)) {
                    go = GO_BAD;
                    continue;
                }
                break;
            }
            /* White space may only come before "[ARGS]" or the value. */
            if (is_ws(c) && p->raw.len > p->body_at)
                p->head_gap = 1;
            else if (!is_ws(c) && c != '[')
                ok_gap = !p->head_gap;
            if (c == '[')
                p->head_gap = 0;
            if (!ok_gap || !head_char_ok(c) || p->raw.len - p->body_at >= TP_HEAD_MAX) {
                go = GO_BAD;                /* c goes back to text */
                continue;
            }
            break;
        }
        case PH_BODY:
            if (ac__buf_append(&p->raw, (const char *)&c, 1))
                return nomem(err);
            i++;
            if (!p->sniffed && !is_ws(c)) {
                p->sniffed = 1;
                p->nostr = c == '<';        /* XML-ish: values are raw text */
            }
            scan(p, c);
            if (!p->quote) {
                for (int k = 0; k < 2 && x->close[k]; k++) {
                    size_t l = strlen(x->close[k]);
                    if ((unsigned char)x->close[k][l - 1] == c &&
                        p->raw.len - p->body_at >= l &&
                        !memcmp(p->raw.data + p->raw.len - l, x->close[k], l)) {
                        body = p->raw.data + p->body_at;
                        blen = p->raw.len - p->body_at - l;
                        go = GO_SETTLE;
                        break;
                    }
                }
            }
            continue;
        case PH_VALUE:
            if (p->value_at == (size_t)-1) {
                if (is_ws(c))
                    break;
                int ok = (c == '{' && (x->value0 & 1)) || (c == '[' && (x->value0 & 2)) ||
                         (is_ident(c) && !(c >= '0' && c <= '9') && (x->value0 & 4));
                if (!ok) {
                    go = GO_BAD;
                    continue;
                }
                p->value_at = p->raw.len;
            }
            if (p->depth == 0 && !is_ident(c) && c != '.' && c != '(' && c != '{' && c != '[') {
                go = GO_BAD;                /* `name(`: nothing else before '(' */
                continue;
            }
            if (ac__buf_append(&p->raw, (const char *)&c, 1))
                return nomem(err);
            if (x->weak && p->plaus == 0) {
                p->plaus = plausible(p->raw.data + p->value_at, p->raw.len - p->value_at);
                if (p->plaus < 0) {
                    p->raw.len--;           /* c goes back to text */
                    p->raw.data[p->raw.len] = '\0';
                    go = GO_TEXT;
                    continue;
                }
            }
            i++;
            if (scan(p, c)) {
                body = p->raw.data + p->value_at;
                blen = p->raw.len - p->value_at;
                go = GO_SETTLE;
            }
            continue;
        default:
            break;
        }
        /* The byte is part of the region but of no other interest. */
        if (ac__buf_append(&p->raw, (const char *)&c, 1))
            return nomem(err);
        i++;
    }
    ac__buf_consume(&p->in, i);
    switch (go) {
    case GO_SETTLE:
        return settle(p, body, blen, 0, cb, ctx, err);
    case GO_BAD:
        return settle(p, NULL, 0, AC__TB_INVALID, cb, ctx, err);
    case GO_TEXT:
        return settle(p, NULL, 0, AC__TB_INVALID, cb, ctx, err);  /* weak: text */
    default:
        break;
    }
    if (final && p->phase != PH_NONE) {
        /* The reply ended inside the region.  A tag body that is whole
         * but lost its closing tag (a stop sequence) is still a call. */
        if (p->phase == PH_BODY && !p->quote) {
            tp_calls calls = {0};
            int rc = decode(p, p->raw.data + p->body_at, p->raw.len - p->body_at, &calls);
            ac_status st = rc < 0 ? nomem(err) : !rc ? emit_calls(p, &calls, cb, ctx, err)
                                                      : AC_OK;
            ac__tp_calls_free(&calls);
            if (st)
                return st;
            if (!rc) {
                region_end(p, 1);
                return AC_OK;
            }
        }
        return settle(p, NULL, 0, AC__TB_UNTERMINATED, cb, ctx, err);
    }
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
            while (w > from && is_ws((unsigned char)s[w - 1]))
                w--;
            if (end - w <= TP_WS_HOLD_MAX)
                end = w;
        }
    } else if (mode == EM_REGION) {
        size_t w = end;
        while (w > from && is_ws((unsigned char)s[w - 1]))
            w--;
        if (w < end && ac__buf_append(&p->ws_before, s + w, end - w))
            return nomem(err);
        end = w;
    }
    *used = mode == EM_HOLD ? end : to;
    return emit_text(p, s + from, end - from, cb, ctx, err);
}

static ac_status open_region(ac__toolparser *p, const sx *x, size_t consume,
                             ac_error *err)
{
    ac__buf_consume(&p->in, consume);
    region_clear(p);
    p->rx = x;
    if (ac__buf_appends(&p->raw, x->open))
        return nomem(err);
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
        while (i < n && (is_ws((unsigned char)s[i]) || (p->chain && s[i] == ';'))) {
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
                st = report_bad(p, AC__TB_UNTERMINATED, s + i, n - i, cb, ctx, err);
            if (!st)
                ac__buf_consume(&p->in, n);
            return st;
        }
        if (!is_ws(c))
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
            st = region_step(p, final, cb, ctx, err);
            if (st)
                return st;
            if (p->phase != PH_NONE)
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
        return fail(p, nomem(err));
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
