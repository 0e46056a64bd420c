/*
 * toolregion.c -- scanning and deciding one tool-call region for the
 * streaming parser (toolparse.c; the design is described there).
 *
 * Bytes move from the parser's `in` to the region's `raw` one at a time
 * through a small scanner that knows nesting ({[( and strings in either
 * quote, counted only inside brackets), so a closing tag or fence inside
 * a JSON or Python string does not end the call; each byte is scanned
 * once.  When the region's end is found (its closing tag, the end of its
 * value, or the end of the reply) tooldecode.h decides what the bytes
 * are: calls, text (weak syntaxes), or a bad region (strong ones).
 * Relies on toolparse_int.h, tooldecode.h, alloc.h, buf.h, error.h.  One
 * owner thread, like the parser.
 */
#include "toolparse_int.h"
#include "../alloc.h"
#include "../error.h"

#include <string.h>

/* ---- deciding a region ---- */

/* The region's bytes decoded: 0 calls in *calls, 1 not a call, -1. */
static int decode(ac__toolparser *p, const char *s, size_t n, tp_calls *calls)
{
    const sx *x = p->rx;
    while (n && tp_is_ws((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && tp_is_ws((unsigned char)s[n - 1]))
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
            if (!ac__tp_is_known(p, calls->v[i].name)) {
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
    ac__tp_region_clear(p);
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
        st = ac__tp_nomem(err);
    } else if (!rc) {
        st = ac__tp_emit_calls(p, &calls, cb, ctx, err);
    } else if (p->rx->weak) {
        st = ac__tp_release_ws_before(p, cb, ctx, err);
        if (!st)
            st = ac__tp_emit_text(p, p->raw.data, p->raw.len, cb, ctx, err);
        p->bare_ok = 0;
    } else {
        st = ac__tp_report_bad(p, force ? (ac__toolbad)force : AC__TB_INVALID,
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
    while (i < n && tp_is_ws((unsigned char)v[i]))
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
    while (i < n && tp_is_ws((unsigned char)v[i]))
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
    while (hl && tp_is_ws((unsigned char)p->raw.data[p->body_at + hl - 1]))
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
        while (il && tp_is_ws((unsigned char)*cid)) {
            cid++;
            il--;
        }
        while (il && tp_is_ws((unsigned char)cid[il - 1]))
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

/* Region outcomes within ac__tp_region_step. */
enum { GO_ON, GO_SETTLE, GO_BAD, GO_TEXT };

/*
 * Advance the open region over `in`, consuming what it takes.  Returns
 * with the region settled (phase PH_NONE), or waiting for more bytes, or
 * an error.  final: no more bytes will come (trailers are not awaited).
 */
ac_status ac__tp_region_step(ac__toolparser *p, int final, const ac__toolparse_cb *cb,
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
        while (j < p->in.len && tp_is_ws((unsigned char)p->in.data[j]))
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
            if (!tp_is_ws(c)) {
                p->phase = c == '[' ? PH_VALUE : PH_HEAD;
                p->body_at = p->raw.len;
                continue;
            }
            break;
        case PH_HEAD: {
            int ok_gap = 1;
            if (x->end == END_HEAD_FUNCTION ? c == '>' : c == '{') {
                if (head_done(p))
                    return ac__tp_nomem(err);
                if (x->end == END_HEAD_FUNCTION) {
                    if (ac__buf_append(&p->raw, ">", 1))
                        return ac__tp_nomem(err);
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
                if (!tp_is_ws(c)) {
                    go = GO_BAD;
                    continue;
                }
                break;
            }
            /* White space may only come before "[ARGS]" or the value. */
            if (tp_is_ws(c) && p->raw.len > p->body_at)
                p->head_gap = 1;
            else if (!tp_is_ws(c) && c != '[')
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
                return ac__tp_nomem(err);
            i++;
            if (!p->sniffed && !tp_is_ws(c)) {
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
                if (tp_is_ws(c))
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
                return ac__tp_nomem(err);
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
            return ac__tp_nomem(err);
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
            ac_status st = rc < 0 ? ac__tp_nomem(err) : !rc ? ac__tp_emit_calls(p, &calls, cb, ctx, err)
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

