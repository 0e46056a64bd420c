/*
 * syntax_python.c -- Python-like tool calls and Python literals as JSON.
 *
 * Gemma is prompted to call tools as Python code in a ```tool_code block
 * (ai.google.dev/gemma/docs "function calling": `[func(a=1), g(b="x")]`,
 * the Gemma cookbook's ```tool_code / ```tool_output convention), Llama
 * 3.2 and Llama 4 are trained on the same list-of-calls form, and open
 * models asked for JSON often answer with Python dicts ('single quotes',
 * True/False/None).  This file reads that subset of Python -- calls with
 * keyword arguments whose values are literals -- and writes JSON; it
 * never evaluates anything.  A small recursive-descent reader over the
 * bytes, depth-limited (TP_PY_MAX_DEPTH), writing into a buf.
 *
 * Decisions:
 *   - strings: '...', "...", triple-quoted, r/u/b prefixes; escapes \n \t
 *     \r \b \f \v \a \0 \\ \' \" \xHH \uXXXX \UXXXXXXXX and line
 *     continuation; an unknown escape keeps its backslash (as Python
 *     does); \u surrogate pairs are joined, a lone surrogate becomes
 *     U+FFFD, so the output is valid UTF-8 JSON whenever the input is
 *     UTF-8;
 *   - numbers: Python's forms made JSON ("1." -> "1.0", ".5" -> "0.5",
 *     underscores dropped, leading '+' and zeros dropped); hex, octal and
 *     binary integers, NaN and inf are not literals here;
 *   - True/False/None and true/false/null; tuples become arrays; dict
 *     keys may be strings, numbers (stringified) or bare identifiers;
 *   - a call's positional argument makes the text "not a call" (only the
 *     tool's schema could name it), except print(call) which unwraps.
 * Relies on buf.h / alloc.h.  Thread-safe (no shared state).
 */
#include "tooldecode.h"
#include "../alloc.h"

#include <string.h>

#define TP_PY_MAX_DEPTH 64

typedef struct py {
    const char *s;
    size_t      n, i;
    int         depth;
    int         oom;
} py;

static int py_value(py *p, buf *out);

static int is_ident0(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(unsigned char c)
{
    return is_ident0(c) || (c >= '0' && c <= '9');
}

static void py_ws(py *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            p->i++;
        else if (c == '\\' && p->i + 1 < p->n && p->s[p->i + 1] == '\n')
            p->i += 2;
        else
            break;
    }
}

static int py_peek(py *p)
{
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

/* Append, recording out-of-memory (and over-limit) in p. */
static int put(py *p, buf *out, const char *s, size_t n)
{
    if (ac__buf_append(out, s, n)) {
        p->oom = 1;
        return -1;
    }
    return 0;
}

static int put_utf8(py *p, buf *out, unsigned long cp)
{
    char u[4];
    size_t k;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;
    if (cp > 0x10FFFF)
        cp = 0xFFFD;
    if (cp < 0x80) {
        /* Control characters must be escaped in JSON. */
        if (cp < 0x20 || cp == '"' || cp == '\\') {
            char e[8];
            static const char hex[] = "0123456789abcdef";
            if (cp == '"' || cp == '\\') {
                e[0] = '\\'; e[1] = (char)cp;
                return put(p, out, e, 2);
            }
            memcpy(e, "\\u00", 4);
            e[4] = hex[cp >> 4];
            e[5] = hex[cp & 15];
            return put(p, out, e, 6);
        }
        u[0] = (char)cp; k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); k = 4;
    }
    return put(p, out, u, k);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* n hex digits at s, or -1. */
static long hexn(const char *s, size_t avail, size_t n)
{
    long v = 0;
    if (avail < n)
        return -1;
    for (size_t k = 0; k < n; k++) {
        int h = hexval((unsigned char)s[k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A string literal at p->i (prefix allowed), written as a JSON string. */
static int py_string(py *p, buf *out)
{
    int raw = 0;
    while (p->i + 1 < p->n && p->s[p->i] && strchr("rRuUbB", p->s[p->i])) {
        if (p->s[p->i] == 'r' || p->s[p->i] == 'R')
            raw = 1;
        p->i++;
    }
    int q = py_peek(p);
    if (q != '"' && q != '\'')
        return 1;
    int triple = p->i + 2 < p->n && p->s[p->i + 1] == q && p->s[p->i + 2] == q;
    p->i += triple ? 3 : 1;
    if (put(p, out, "\"", 1))
        return -1;
    for (;;) {
        if (p->i >= p->n)
            return 1;
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == q) {
            if (!triple) {
                p->i++;
                break;
            }
            if (p->i + 2 < p->n && p->s[p->i + 1] == q && p->s[p->i + 2] == q) {
                p->i += 3;
                break;
            }
        }
        if (c == '\n' && !triple)
            return 1;
        if (c == '\\' && !raw && p->i + 1 < p->n) {
            unsigned char e = (unsigned char)p->s[p->i + 1];
            const char *rest = p->s + p->i + 2;
            size_t avail = p->n - p->i - 2;
            long cp = -1;
            size_t used = 2;
            switch (e) {
            case 'n': cp = '\n'; break;
            case 't': cp = '\t'; break;
            case 'r': cp = '\r'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'v': cp = '\v'; break;
            case 'a': cp = 7; break;
            case '0': cp = 0; break;
            case '\\': case '\'': case '"': case '/': cp = e; break;
            case '\n': p->i += 2; continue;          /* line continuation */
            case 'x': cp = hexn(rest, avail, 2); used = 4; break;
            case 'u': cp = hexn(rest, avail, 4); used = 6;
                if (cp >= 0xD800 && cp <= 0xDBFF && avail >= 10 && rest[4] == '\\' &&
                    rest[5] == 'u') {
                    long lo = hexn(rest + 6, avail - 6, 4);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        used = 12;
                    }
                }
                break;
            case 'U': cp = hexn(rest, avail, 8); used = 10; break;
            default: break;
            }
            if (cp < 0) {
                if (e == 'x' || e == 'u' || e == 'U')
                    return 1;                       /* bad escape */
                /* Unknown escape: Python keeps the backslash. */
                if (put_utf8(p, out, '\\'))
                    return -1;
                p->i++;
                continue;
            }
            if (put_utf8(p, out, (unsigned long)cp))
                return -1;
            p->i += used;
            continue;
        }
        if (c < 0x20) {
            if (put_utf8(p, out, c))
                return -1;
        } else if (c == '"' || c == '\\') {
            if (put_utf8(p, out, c))
                return -1;
        } else if (put(p, out, (const char *)&p->s[p->i], 1)) {
            return -1;
        }
        p->i++;
    }
    return put(p, out, "\"", 1) ? -1 : 0;
}

/* A decimal number, normalized to JSON. */
static int py_number(py *p, buf *out)
{
    size_t i = p->i;
    char tmp[128];
    size_t k = 0;
    if (i < p->n && (p->s[i] == '-' || p->s[i] == '+')) {
        if (p->s[i] == '-')
            tmp[k++] = '-';
        i++;
    }
    /* Integer part: drop leading zeros and underscores. */
    size_t int_digits = 0;
    int leading = 1;
    while (i < p->n && ((p->s[i] >= '0' && p->s[i] <= '9') || p->s[i] == '_')) {
        if (p->s[i] != '_') {
            if (!(leading && p->s[i] == '0') && k < sizeof tmp - 8) {
                tmp[k++] = p->s[i];
                leading = 0;
            }
            int_digits++;
        }
        i++;
    }
    if (int_digits && leading)
        tmp[k++] = '0';
    size_t frac_digits = 0;
    int dot = 0;
    if (i < p->n && p->s[i] == '.') {
        dot = 1;
        i++;
        if (!int_digits)
            tmp[k++] = '0';
        tmp[k++] = '.';
        while (i < p->n && ((p->s[i] >= '0' && p->s[i] <= '9') || p->s[i] == '_')) {
            if (p->s[i] != '_' && k < sizeof tmp - 8) {
                tmp[k++] = p->s[i];
                frac_digits++;
            }
            i++;
        }
        if (!frac_digits)
            tmp[k++] = '0';
    }
    if (!int_digits && !frac_digits)
        return 1;
    (void)dot;
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        size_t j = i + 1, exp_digits = 0;
        char e[40];
        size_t ek = 0;
        e[ek++] = p->s[i];                      /* 'e' or 'E', as written */
        if (j < p->n && (p->s[j] == '-' || p->s[j] == '+'))
            e[ek++] = p->s[j++];
        while (j < p->n && p->s[j] >= '0' && p->s[j] <= '9') {
            if (ek < sizeof e - 1)
                e[ek++] = p->s[j];
            exp_digits++;
            j++;
        }
        if (exp_digits) {
            if (k + ek < sizeof tmp) {
                memcpy(tmp + k, e, ek);
                k += ek;
            }
            i = j;
        }
    }
    if (i < p->n && (is_ident(p->s[i]) || p->s[i] == '.'))
        return 1;                                   /* 0x10, 1j, 1.2.3 */
    if (k >= sizeof tmp - 8)
        return 1;                                   /* absurdly long */
    p->i = i;
    return put(p, out, tmp, k) ? -1 : 0;
}

/* Items up to `close`, separated by ',' (trailing comma allowed). */
static int py_seq(py *p, buf *out, char close, int dict)
{
    int first = 1;
    for (;;) {
        py_ws(p);
        if (py_peek(p) == close) {
            p->i++;
            return 0;
        }
        if (!first) {
            if (py_peek(p) != ',')
                return 1;
            p->i++;
            py_ws(p);
            if (py_peek(p) == close) {
                p->i++;
                return 0;
            }
        }
        if (!first && put(p, out, ",", 1))
            return -1;
        first = 0;
        int rc;
        if (dict) {
            int c = py_peek(p);
            if (c == '"' || c == '\'') {
                rc = py_string(p, out);
            } else if (c >= 0 && (is_ident0((unsigned char)c) || c == '-' ||
                                  (c >= '0' && c <= '9'))) {
                /* Bare identifier or number key: stringified. */
                size_t a = p->i;
                while (p->i < p->n && (is_ident(p->s[p->i]) || p->s[p->i] == '-' ||
                                       p->s[p->i] == '+' || p->s[p->i] == '.'))
                    p->i++;
                rc = ac__tp_json_quote(out, p->s + a, p->i - a) ? -1 : 0;
                if (rc)
                    p->oom = 1;
            } else {
                rc = 1;
            }
            if (rc)
                return rc;
            py_ws(p);
            if (py_peek(p) != ':')
                return 1;
            p->i++;
            if (put(p, out, ":", 1))
                return -1;
        }
        rc = py_value(p, out);
        if (rc)
            return rc;
    }
}

static int word_is(py *p, const char *w)
{
    size_t l = strlen(w);
    return p->n - p->i >= l && !memcmp(p->s + p->i, w, l) &&
           (p->i + l == p->n || !is_ident(p->s[p->i + l]));
}

static int py_value(py *p, buf *out)
{
    py_ws(p);
    int c = py_peek(p);
    if (c < 0)
        return 1;
    if (++p->depth > TP_PY_MAX_DEPTH)
        return 1;
    int rc;
    static const struct { const char *py, *json; } words[] = {
        {"True", "true"}, {"False", "false"}, {"None", "null"},
        {"true", "true"}, {"false", "false"}, {"null", "null"},
    };
    if (c == '[') {
        p->i++;
        rc = put(p, out, "[", 1) ? -1 : py_seq(p, out, ']', 0);
        if (!rc && put(p, out, "]", 1))
            rc = -1;
    } else if (c == '(') {
        p->i++;
        rc = put(p, out, "[", 1) ? -1 : py_seq(p, out, ')', 0);
        if (!rc && put(p, out, "]", 1))
            rc = -1;
    } else if (c == '{') {
        p->i++;
        rc = put(p, out, "{", 1) ? -1 : py_seq(p, out, '}', 1);
        if (!rc && put(p, out, "}", 1))
            rc = -1;
    } else if (c == '"' || c == '\'' ||
               ((c == 'r' || c == 'u' || c == 'b' || c == 'R' || c == 'U' || c == 'B') &&
                p->i + 1 < p->n && (p->s[p->i + 1] == '"' || p->s[p->i + 1] == '\''))) {
        rc = py_string(p, out);
    } else if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) {
        rc = py_number(p, out);
    } else {
        rc = 1;
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
            if (word_is(p, words[k].py)) {
                p->i += strlen(words[k].py);
                rc = put(p, out, words[k].json, strlen(words[k].json)) ? -1 : 0;
                break;
            }
        }
    }
    p->depth--;
    return p->oom ? -1 : rc;
}

int ac__tp_python_to_json(const char *s, size_t n, buf *out)
{
    size_t mark = out->len;
    py p = {.s = s, .n = n};
    int rc = py_value(&p, out);
    if (!rc) {
        py_ws(&p);
        if (p.i != p.n)
            rc = 1;
    }
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

/* ---- calls ---- */

/* name(args) at p->i; appends one call. */
static int py_call(py *p, tp_calls *calls)
{
    py_ws(p);
    size_t a = p->i;
    if (p->i >= p->n || !is_ident0((unsigned char)p->s[p->i]))
        return 1;
    while (p->i < p->n && (is_ident(p->s[p->i]) ||
                           (p->s[p->i] == '.' && p->i + 1 < p->n && is_ident0(p->s[p->i + 1]))))
        p->i++;
    size_t name_len = p->i - a;
    const char *name = p->s + a;
    py_ws(p);
    if (py_peek(p) != '(')
        return 1;
    p->i++;
    if (name_len == 5 && !memcmp(name, "print", 5)) {
        /* print(call): the Gemma cookbook's tool_code wraps calls so. */
        int rc = py_call(p, calls);
        if (rc)
            return rc;
        py_ws(p);
        if (py_peek(p) != ')') {
            ac__tp_calls_truncate(calls, calls->n - 1);
            return 1;
        }
        p->i++;
        return 0;
    }
    if (!ac__tp_name_ok(name, name_len))
        return 1;
    buf args = {0};
    int rc = ac__buf_append(&args, "{", 1) ? -1 : 0;
    int first = 1;
    while (!rc) {
        py_ws(p);
        if (py_peek(p) == ')') {
            p->i++;
            break;
        }
        if (!first) {
            if (py_peek(p) != ',') {
                rc = 1;
                break;
            }
            p->i++;
            py_ws(p);
            if (py_peek(p) == ')') {
                p->i++;
                break;
            }
        }
        if (p->n - p->i >= 2 && p->s[p->i] == '*' && p->s[p->i + 1] == '*') {
            /* **{...}: merge the dict's members. */
            p->i += 2;
            py_ws(p);
            if (py_peek(p) != '{') {
                rc = 1;
                break;
            }
            size_t mark = args.len;
            rc = py_value(p, &args);
            if (rc)
                break;
            /* Strip the dict's braces, keeping its members. */
            size_t inner = args.len - mark - 2;
            if (!inner) {
                args.len = mark;
                args.data[mark] = '\0';
                continue;
            }
            if (!first) {
                args.data[mark] = ',';           /* '{' becomes the comma */
            } else {
                memmove(args.data + mark, args.data + mark + 1, inner);
                args.len--;
            }
            args.len--;                           /* the closing '}' */
            args.data[args.len] = '\0';
            first = 0;
            continue;
        }
        size_t k = p->i;
        if (k >= p->n || !is_ident0((unsigned char)p->s[k])) {
            rc = 1;                               /* positional */
            break;
        }
        while (p->i < p->n && is_ident(p->s[p->i]))
            p->i++;
        size_t klen = p->i - k;
        py_ws(p);
        if (py_peek(p) != '=' || (p->i + 1 < p->n && p->s[p->i + 1] == '=')) {
            rc = 1;
            break;
        }
        p->i++;
        if ((!first && ac__buf_append(&args, ",", 1)) || ac__tp_json_quote(&args, p->s + k, klen) ||
            ac__buf_append(&args, ":", 1)) {
            rc = -1;
            break;
        }
        first = 0;
        rc = py_value(p, &args);
    }
    if (!rc && ac__buf_append(&args, "}", 1))
        rc = -1;
    if (rc) {
        ac__buf_free(&args);
        return p->oom ? -1 : rc;
    }
    char *nm = ac__strndup(name, name_len);
    char *ar = ac__buf_steal(&args);
    int crc = ar ? ac__tp_canon_args(&ar) : -1;
    if (!nm || crc) {
        ac__free(nm);
        ac__free(ar);
        return crc > 0 ? 1 : -1;
    }
    return ac__tp_calls_add(calls, NULL, nm, ar);
}

int ac__tp_decode_python_calls(const char *s, size_t n, tp_calls *out)
{
    size_t keep = out->n;
    py p = {.s = s, .n = n};
    int rc = 0, any = 0;
    py_ws(&p);
    int list = py_peek(&p) == '[';
    if (list)
        p.i++;
    for (;;) {
        py_ws(&p);
        while (p.i < p.n && (p.s[p.i] == ',' || p.s[p.i] == ';')) {
            p.i++;
            py_ws(&p);
        }
        if (list && py_peek(&p) == ']') {
            p.i++;
            py_ws(&p);
            rc = p.i == p.n ? 0 : 1;
            break;
        }
        if (p.i >= p.n) {
            rc = list ? 1 : 0;
            break;
        }
        rc = py_call(&p, out);
        if (rc)
            break;
        any = 1;
    }
    if (!rc && !any)
        rc = 1;
    if (rc)
        ac__tp_calls_truncate(out, keep);
    return rc;
}
