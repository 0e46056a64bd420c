/*
 * schema_format.c -- the "format" checks of the schema validator and its
 * ECMA 262 regexes (pattern, patternProperties, format "regex").
 *
 * Formats (draft 7, section 7.3): date-time, date, time (RFC 3339),
 * email (RFC 5321 mailbox), hostname (RFC 1123), ipv4, ipv6 (RFC 4291),
 * uri, uri-reference (RFC 3986), iri, iri-reference (RFC 3987: the same
 * grammar, non-ASCII allowed where RFC 3987 allows ucschar), uri-template
 * (RFC 6570), json-pointer (RFC 6901), relative-json-pointer, regex.
 * Each check is a hand-written scanner over (pointer, length): strings may
 * hold NUL bytes, and nothing here allocates except the regex check.
 *
 * Regexes: ECMA 262 syntax translated to PCRE2 (see schema.h for what
 * changes and what is refused); PCRE2 does the matching in UTF mode.
 * Thread-safe: only reads the compiled schema.
 */
#include "schema_int.h"
#include "../alloc.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *name; int id; } formats[] = {
    { "date-time", SF_DATE_TIME }, { "date", SF_DATE }, { "time", SF_TIME },
    { "email", SF_EMAIL }, { "hostname", SF_HOSTNAME }, { "ipv4", SF_IPV4 },
    { "ipv6", SF_IPV6 }, { "uri", SF_URI }, { "uri-reference", SF_URI_REF },
    { "iri", SF_IRI }, { "iri-reference", SF_IRI_REF },
    { "uri-template", SF_URI_TEMPLATE }, { "json-pointer", SF_JSON_POINTER },
    { "relative-json-pointer", SF_REL_JSON_POINTER }, { "regex", SF_REGEX },
};

int ac__sformat_id(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcmp(formats[i].name, name))
            return formats[i].id;
    return SF_NONE;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int is_hex(int c) { return is_digit(c) || ((c | 32) >= 'a' && (c | 32) <= 'f'); }

/* n ASCII digits at s as a number, -1 if not digits. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* ---- RFC 3339 ---- */

static int check_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 0 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static int check_time(const char *s, size_t len)
{
    if (len < 9 || s[2] != ':' || s[5] != ':')
        return 0;
    int h = digits(s, 2), mi = digits(s + 3, 2), se = digits(s + 6, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return 0;
    size_t i = 8;
    if (s[i] == '.') {
        size_t j = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == j)
            return 0;
    }
    int off = 0;                          /* minutes east of UTC */
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        i++;
    else if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (len - i != 6 || s[i + 3] != ':')
            return 0;
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return 0;
        off = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
        i += 6;
    } else
        return 0;
    if (i != len)
        return 0;
    if (se == 60) {                       /* a leap second is 23:59:60 UTC */
        int utc = ((h * 60 + mi - off) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return 0;
    }
    return 1;
}

static int check_date_time(const char *s, size_t len)
{
    return len > 11 && (s[10] == 'T' || s[10] == 't') && check_date(s, 10) &&
           check_time(s + 11, len - 11);
}

/* ---- hosts ---- */

static int check_hostname(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - label] == '-' || s[i - 1] == '-')
                return 0;
            label = 0;
        } else if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-')
            label++;
        else
            return 0;
    }
    return 1;
}

static int check_ipv4(const char *s, size_t len)
{
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        size_t j = i;
        int v = 0;
        while (j < len && is_digit(s[j]) && j - i < 3)
            v = v * 10 + (s[j++] - '0');
        if (j == i || v > 255 || (s[i] == '0' && j - i > 1))
            return 0;
        parts++;
        i = j;
        if (parts < 4) {
            if (i >= len || s[i] != '.')
                return 0;
            i++;
        }
    }
    return i == len;
}

static int check_ipv6(const char *s, size_t len)
{
    int groups = 0, gap = 0;
    size_t i = 0;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 1;
        i = 2;
        if (i == len)
            return 1;
    } else if (len && s[0] == ':')
        return 0;
    while (i < len) {
        size_t j = i;
        while (j < len && is_hex(s[j]) && j - i < 5)
            j++;
        if (j < len && s[j] == '.') {      /* an embedded IPv4 ends it */
            if (!check_ipv4(s + i, len - i))
                return 0;
            groups += 2;
            i = len;
            break;
        }
        if (j == i || j - i > 4)
            return 0;
        groups++;
        i = j;
        if (i == len)
            break;
        if (s[i] != ':')
            return 0;
        i++;
        if (i < len && s[i] == ':') {
            if (gap)
                return 0;
            gap = 1;
            i++;
            if (i == len)
                break;
        } else if (i == len)
            return 0;                      /* a trailing single ":" */
    }
    return gap ? groups <= 7 : groups == 8;
}

/* ---- RFC 3986 / 3987 ---- */

static int is_unreserved(int c) { return is_alpha(c) || is_digit(c) || (c && strchr("-._~", c)); }
static int is_sub_delim(int c) { return c && strchr("!$&'()*+,;=", c); }

/* One character allowed by class at s[*i] (advancing); extra: more ASCII
 * allowed, iri: non-ASCII allowed. */
static int uri_char(const char *s, size_t len, size_t *i, const char *extra, int iri)
{
    unsigned char c = (unsigned char)s[*i];
    if (c == '%') {
        if (*i + 2 >= len)
            return 0;
        if (!is_hex(s[*i + 1]) || !is_hex(s[*i + 2]))
            return 0;
        *i += 3;
        return 1;
    }
    if (c >= 0x80) {
        if (!iri)
            return 0;
        (*i)++;
        return 1;
    }
    if (is_unreserved(c) || is_sub_delim(c) || (c && strchr(extra, c))) {
        (*i)++;
        return 1;
    }
    return 0;
}

static int check_authority(const char *s, size_t len, int iri)
{
    const char *at = memchr(s, '@', len);
    size_t i = 0;
    if (at) {
        size_t ulen = (size_t)(at - s);
        while (i < ulen)
            if (!uri_char(s, ulen, &i, ":", iri))
                return 0;
        i = ulen + 1;
    }
    if (i < len && s[i] == '[') {
        const char *close = memchr(s + i, ']', len - i);
        if (!close)
            return 0;
        size_t hl = (size_t)(close - (s + i)) - 1;
        const char *h = s + i + 1;
        if (hl && (h[0] == 'v' || h[0] == 'V')) {  /* IPvFuture */
            size_t k = 1;
            while (k < hl && is_hex(h[k]))
                k++;
            if (k == 1 || k >= hl || h[k] != '.' || k + 1 == hl)
                return 0;
            for (k++; k < hl; k++)
                if (!is_unreserved(h[k]) && !is_sub_delim(h[k]) && h[k] != ':')
                    return 0;
        } else if (!check_ipv6(h, hl))
            return 0;
        i = (size_t)(close - s) + 1;
    } else {
        while (i < len && s[i] != ':')
            if (!uri_char(s, len, &i, "", iri))
                return 0;
    }
    if (i < len) {
        if (s[i] != ':')
            return 0;
        for (i++; i < len; i++)
            if (!is_digit(s[i]))
                return 0;
    }
    return 1;
}

/* absolute: a scheme is required; else a relative reference is fine too */
static int check_uri(const char *s, size_t len, int absolute, int iri)
{
    size_t i = 0;
    size_t colon = 0;
    while (colon < len && !strchr("/?#:", s[colon]))
        colon++;
    int has_scheme = 0;
    if (colon < len && s[colon] == ':') {
        if (colon == 0 || !is_alpha(s[0]))
            return 0;                      /* ":x", "1a:x": no scheme, bad segment */
        for (size_t k = 1; k < colon; k++)
            if (!is_alpha(s[k]) && !is_digit(s[k]) && !strchr("+-.", s[k]))
                return 0;
        has_scheme = 1;
        i = colon + 1;
    }
    if (absolute && !has_scheme)
        return 0;
    if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        size_t a = i + 2, e = a;
        while (e < len && !strchr("/?#", s[e]))
            e++;
        if (!check_authority(s + a, e - a, iri))
            return 0;
        i = e;
    }
    while (i < len && s[i] != '?' && s[i] != '#')
        if (s[i] == '/')
            i++;
        else if (!uri_char(s, len, &i, ":@", iri))
            return 0;
    if (i < len && s[i] == '?')
        for (i++; i < len && s[i] != '#';)
            if (!uri_char(s, len, &i, ":@/?", iri))
                return 0;
    if (i < len && s[i] == '#')
        for (i++; i < len;)
            if (!uri_char(s, len, &i, ":@/?", iri))
                return 0;
    return 1;
}

/* ---- RFC 6570 ---- */

static int check_uri_template(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '{') {
            i++;
            if (i < len && strchr("+#./;?&=,!@|", s[i]) && s[i])
                i++;
            for (;;) {                     /* varspec ("," varspec)* */
                size_t start = i;
                int dot_ok = 0;
                while (i < len) {
                    if (s[i] == '%' && i + 2 < len && is_hex(s[i + 1]) && is_hex(s[i + 2]))
                        i += 3;
                    else if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_')
                        i++;
                    else if (s[i] == '.' && dot_ok && i + 1 < len && s[i + 1] != '.') {
                        i++;
                        dot_ok = 0;
                        continue;
                    } else
                        break;
                    dot_ok = 1;
                }
                if (i == start || s[i - 1] == '.')
                    return 0;
                if (i < len && s[i] == '*')
                    i++;
                else if (i < len && s[i] == ':') {
                    size_t d = ++i;
                    while (i < len && is_digit(s[i]) && i - d < 4)
                        i++;
                    if (i == d || s[d] == '0')
                        return 0;
                }
                if (i < len && s[i] == ',') {
                    i++;
                    continue;
                }
                break;
            }
            if (i >= len || s[i] != '}')
                return 0;
            i++;
        } else if (c == '%') {
            if (i + 2 >= len || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return 0;
            i += 3;
        } else if (c < 0x21 || c == 0x7f || strchr("\"'<>\\^`{|}", c))
            return 0;
        else
            i++;
    }
    return 1;
}

/* ---- RFC 6901 and relative pointers ---- */

static int check_json_pointer(const char *s, size_t len)
{
    if (len && s[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '~' && (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')))
            return 0;
    return 1;
}

static int check_rel_json_pointer(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && is_digit(s[i]))
        i++;
    if (i == 0 || (s[0] == '0' && i > 1))
        return 0;
    if (i == len)
        return 1;
    if (s[i] == '#')
        return i + 1 == len;
    return check_json_pointer(s + i, len - i);
}

/* ---- RFC 5321 mailbox ---- */

static int check_email(const char *s, size_t len)
{
    const char *at = NULL;
    for (size_t i = len; i-- > 0;)
        if (s[i] == '@') {
            at = s + i;
            break;
        }
    if (!at)
        return 0;
    size_t ll = (size_t)(at - s), dl = len - ll - 1;
    const char *d = at + 1;
    if (ll == 0 || ll > 64)
        return 0;
    if (s[0] == '"') {
        if (ll < 2 || s[ll - 1] != '"')
            return 0;
        for (size_t i = 1; i < ll - 1; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                if (++i >= ll - 1 || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
                    return 0;
            } else if (c < 0x20 || c > 0x7e || c == '"')
                return 0;
        }
    } else {
        for (size_t i = 0; i < ll; i++) {
            char c = s[i];
            if (c == '.') {
                if (i == 0 || i == ll - 1 || s[i - 1] == '.')
                    return 0;
            } else if (!is_alpha(c) && !is_digit(c) && !(c && strchr("!#$%&'*+-/=?^_`{|}~", c)))
                return 0;
        }
    }
    if (dl >= 2 && d[0] == '[' && d[dl - 1] == ']') {
        if (dl > 7 && !strncmp(d + 1, "IPv6:", 5))
            return check_ipv6(d + 6, dl - 7);
        return check_ipv4(d + 1, dl - 2);
    }
    return check_hostname(d, dl);
}

int ac__sformat_check(const ac__schema *s, int fmt, const char *str, size_t len)
{
    switch (fmt) {
    case SF_DATE_TIME: return check_date_time(str, len);
    case SF_DATE: return check_date(str, len);
    case SF_TIME: return check_time(str, len);
    case SF_EMAIL: return check_email(str, len);
    case SF_HOSTNAME: return check_hostname(str, len);
    case SF_IPV4: return check_ipv4(str, len);
    case SF_IPV6: return check_ipv6(str, len);
    case SF_URI: return check_uri(str, len, 1, 0);
    case SF_URI_REF: return check_uri(str, len, 0, 0);
    case SF_IRI: return check_uri(str, len, 1, 1);
    case SF_IRI_REF: return check_uri(str, len, 0, 1);
    case SF_URI_TEMPLATE: return check_uri_template(str, len);
    case SF_JSON_POINTER: return check_json_pointer(str, len);
    case SF_REL_JSON_POINTER: return check_rel_json_pointer(str, len);
    case SF_REGEX: {
        char msg[128];
        pcre2_code *re = ac__sregex_compile(s, str, len, msg, sizeof msg);
        if (!re)
            return strcmp(msg, "out of memory") ? 0 : -1;
        pcre2_code_free(re);
        return 1;
    }
    default:
        return 1;
    }
}

/* ---- ECMA 262 regexes ---- */

/* ECMA 262 white space and line terminators (\s), as class contents. */
#define ECMA_WS "\\t\\n\\u000B\\f\\r \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029" \
                "\\u202F\\u205F\\u3000\\uFEFF"

static const char bad_escape[] = "not an ECMA 262 escape";

char *ac__sregex_translate(const char *p, size_t len, size_t *out_len, char *whybuf, size_t n)
{
    buf o = { 0 };
    int in_class = 0, bad = 0;
    size_t i = 0;
    const char *w = NULL, **why = &w;
    char esc = 0;
#define PUT(s, n) (bad |= ac__buf_append(&o, (s), (n)) != 0)
#define PUTS(s) PUT((s), strlen(s))
    while (i < len && !*why && !bad) {
        char c = p[i];
        int quant = 0;
        if (c == '\\') {
            if (i + 1 >= len) {
                *why = "it ends with a lone backslash";
                break;
            }
            char e = p[i + 1];
            i += 2;
            if (!is_alpha(e)) {
                PUT(p + i - 2, 2);         /* identity escape, digit, \0 */
                continue;
            }
            switch (e) {
            case 'd': case 'D': case 'w': case 'W': case 'b': case 'B':
            case 'f': case 'n': case 'r': case 't':
                PUT(p + i - 2, 2);
                break;
            case 'v':
                PUTS("\\u000B");
                break;
            case 's':
                PUTS(in_class ? ECMA_WS : "[" ECMA_WS "]");
                break;
            case 'S':
                PUTS(in_class ? "\\S" : "[^" ECMA_WS "]");
                break;
            case 'c':
                if (i >= len || !is_alpha(p[i]))
                    *why = "\\c must be followed by a letter";
                else {
                    PUT(p + i - 2, 3);
                    i++;
                }
                break;
            case 'x':
                if (i + 1 >= len || !is_hex(p[i]) || !is_hex(p[i + 1]))
                    *why = "\\x must be followed by two hex digits";
                else {
                    PUT(p + i - 2, 4);
                    i += 2;
                }
                break;
            case 'u': {
                size_t j = i;
                if (j < len && p[j] == '{') {
                    for (j++; j < len && is_hex(p[j]); j++)
                        ;
                    if (j == i + 1 || j >= len || p[j] != '}')
                        j = 0;
                    else
                        j++;
                } else {
                    while (j < len && j - i < 4 && is_hex(p[j]))
                        j++;
                    if (j - i != 4)
                        j = 0;
                }
                if (!j)
                    *why = "\\u must be followed by four hex digits or {hex}";
                else {
                    PUT(p + i - 2, j - i + 2);
                    i = j;
                }
                break;
            }
            case 'k': case 'p': case 'P': {
                char open = e == 'k' ? '<' : '{', close = e == 'k' ? '>' : '}';
                size_t j = i;
                if (j < len && p[j] == open)
                    while (j < len && p[j] != close)
                        j++;
                if (j == i || j >= len)
                    *why = e == 'k' ? "\\k must be followed by <name>" : "\\p must be followed by {property}";
                else {
                    PUT(p + i - 2, j - i + 3);
                    i = j + 1;
                }
                break;
            }
            default:
                esc = e;
                *why = bad_escape;
            }
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = 0;
            if (c == '[')
                PUTS("\\[");               /* no POSIX [:alpha:] in ECMA 262 */
            else
                PUT(&c, 1);
            i++;
            continue;
        }
        switch (c) {
        case '[':
            if (i + 1 < len && p[i + 1] == ']') {
                PUTS("(?!)");              /* [] matches nothing */
                i += 2;
            } else if (i + 2 < len && p[i + 1] == '^' && p[i + 2] == ']') {
                PUTS("[\\s\\S]");           /* [^] matches anything */
                i += 3;
            } else {
                in_class = 1;
                PUT(&c, 1);
                i++;
                if (i < len && p[i] == '^') {
                    PUT("^", 1);
                    i++;
                }
            }
            break;
        case '.':
            PUTS("[^\\n\\r\\u2028\\u2029]");
            i++;
            break;
        case '(':
            if (i + 1 < len && p[i + 1] == '*')
                *why = "(* verbs are not ECMA 262";
            else if (i + 1 < len && p[i + 1] == '?') {
                char g = i + 2 < len ? p[i + 2] : 0;
                char g2 = i + 3 < len ? p[i + 3] : 0;
                if (!(g == ':' || g == '=' || g == '!' ||
                      (g == '<' && (g2 == '=' || g2 == '!' || is_alpha(g2) || g2 == '_' || g2 == '$'))))
                    *why = "only (?: (?= (?! (?<= (?<! and (?<name> groups are ECMA 262";
            }
            PUT(&c, 1);
            i++;
            break;
        case '*': case '+': case '?':
            PUT(&c, 1);
            i++;
            quant = 1;
            break;
        case '{': {
            size_t j = i + 1, d1;
            while (j < len && is_digit(p[j]))
                j++;
            d1 = j;
            if (d1 > i + 1 && j < len && p[j] == ',')
                for (j++; j < len && is_digit(p[j]); j++)
                    ;
            if (d1 > i + 1 && j < len && p[j] == '}') {
                PUT(p + i, j - i + 1);
                i = j + 1;
                quant = 1;
            } else {
                PUTS("\\{");
                i++;
            }
            break;
        }
        case '}':
            PUTS("\\}");
            i++;
            break;
        default:
            PUT(&c, 1);
            i++;
        }
        if (quant) {
            if (i < len && p[i] == '?') {
                PUT("?", 1);
                i++;
            }
            if (i < len && (p[i] == '+' || p[i] == '*' || p[i] == '?' || p[i] == '{'))
                *why = p[i] == '+' ? "possessive quantifiers are not ECMA 262"
                                   : "a quantifier cannot follow a quantifier";
        }
    }
#undef PUT
#undef PUTS
    if (!*why && !bad && in_class)
        *why = "a character class is not closed";
    if (bad && !*why)
        *why = "out of memory";
    if (*why) {
        if (*why == bad_escape)
            snprintf(whybuf, n, "\\%c is %s", esc, bad_escape);
        else
            snprintf(whybuf, n, "%s", *why);
        ac__buf_free(&o);
        return NULL;
    }
    *out_len = o.len;
    return ac__buf_steal(&o);
}

pcre2_code *ac__sregex_compile(const ac__schema *s, const char *src, size_t len, char *msg,
                               size_t n)
{
    size_t tl = 0;
    char *t = ac__sregex_translate(src, len, &tl, msg, n);
    if (!t)
        return NULL;
    pcre2_compile_context *cc = pcre2_compile_context_create(s->gctx);
    if (!cc) {
        ac__free(t);
        snprintf(msg, n, "out of memory");
        return NULL;
    }
    pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
    int ec = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)t, tl,
                                   PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY |
                                   PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C,
                                   &ec, &off, cc);
    pcre2_compile_context_free(cc);
    ac__free(t);
    if (!re) {
        if (ec == PCRE2_ERROR_NOMEMORY || ec == PCRE2_ERROR_HEAP_FAILED)
            snprintf(msg, n, "out of memory");
        else {
            PCRE2_UCHAR m[160];
            if (pcre2_get_error_message(ec, m, sizeof m) < 0)
                snprintf((char *)m, sizeof m, "error %d", ec);
            snprintf(msg, n, "%s", (char *)m);
        }
    }
    return re;
}
