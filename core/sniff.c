/*
 * sniff.c -- naming a 2xx body that is not what the protocol sends.  See
 * sniff.h for the rules; docs/protocols.md 0.13 for the user's view.
 *
 * Everything here works on the first AC__SNIFF_HEAD bytes a decoder kept
 * and on the response headers, in caller memory.  Text shown in a message
 * (a page title, an excerpt) is cut to a few dozen characters, made one
 * line, and made valid UTF-8 (a byte that is not becomes '?'), since error
 * messages are printed and logged as text.
 */
#include "sniff.h"
#include "error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Characters of a page title or body excerpt shown in a message. */
#define EXCERPT_CHARS 100

static int blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Index of the first byte that is not blank (nor a UTF-8 byte order mark
 * at the very start), or n. */
static size_t first_solid(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < n && blank((unsigned char)s[i]))
        i++;
    return i;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 if the
 * bytes are not one, -1 if they may be one cut short by n. */
static int utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;   /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF;   /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;   /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    for (int k = 1; k < len; k++) {
        if ((size_t)k >= n)
            return -1;
        unsigned b = s[k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
            return 0;
    }
    return len;
}

/* Binary: a C0 control other than the blanks and form feed, DEL, or more
 * than one byte in eight outside valid UTF-8.  One bad character in text
 * (the mock's invalid_utf8, a server's encoding slip) is still text. */
static int binary(const char *head, size_t n)
{
    const unsigned char *s = (const unsigned char *)head;
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if ((c < 0x20 && !blank(c) && c != '\f') || c == 0x7F)
            return 1;
        int l = utf8_len(s + i, n - i);
        if (l < 0)
            break;                              /* cut by the head's end */
        if (l == 0) {
            bad++;
            l = 1;
        }
        i += (size_t)l;
    }
    return bad * 8 > n;
}

/*
 * One line of at most EXCERPT_CHARS characters from n bytes of text: runs
 * of blanks and controls become one space, bytes that are not UTF-8 '?',
 * and "..." marks a cut.  in_tags: leave out <...> (markup as text).
 */
static void excerpt(char *out, size_t cap, const char *text, size_t n, int in_tags)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0, chars = 0;
    int space = 0, tag = 0, cut = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (in_tags && (tag || c == '<')) {
            tag = c != '>';
            space = 1;                          /* a tag separates words */
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7F || c == ' ') {
            space = 1;
            i++;
            continue;
        }
        int l = utf8_len(s + i, n - i);
        if (l < 0)
            break;                              /* cut by the head's end */
        size_t w = l ? (size_t)l : 1;           /* '?' for a byte that is not UTF-8 */
        if (chars == EXCERPT_CHARS || o + w + 5 > cap) {
            cut = 1;
            break;
        }
        if (space && o)
            out[o++] = ' ';
        space = 0;
        if (l)
            memcpy(out + o, s + i, w);
        else
            out[o] = '?';
        o += w;
        chars++;
        i += w;
    }
    if (cut && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* Case-insensitive search for lit in n bytes; NULL if absent. */
static const char *find_ci(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, lit, k) == 0)
            return s + i;
    return NULL;
}

ac__sniff ac__sniff_start(const char *head, size_t n)
{
    const unsigned char *s = (const unsigned char *)head;
    size_t i = first_solid(head, n);
    if (i == n)
        return AC__SNIFF_MORE;
    if (s[i] == '<')
        return AC__SNIFF_MARKUP;
    static const unsigned char gz[] = {0x1F, 0x8B}, zstd[] = {0x28, 0xB5, 0x2F, 0xFD};
    const unsigned char *magic[] = {gz, zstd};
    size_t magic_len[] = {sizeof gz, sizeof zstd};
    for (size_t m = 0; m < 2; m++) {
        size_t have = n - i < magic_len[m] ? n - i : magic_len[m];
        if (memcmp(s + i, magic[m], have) == 0)
            return have == magic_len[m] ? AC__SNIFF_COMPRESSED : AC__SNIFF_MORE;
    }
    return AC__SNIFF_FINE;
}

int ac__sniff_markup_done(const char *head, size_t n, size_t cap)
{
    return n >= cap || find_ci(head, n, "</title") != NULL;
}

int ac__sniff_type_expected(const char *ct)
{
    static const char *const known[] = {
        "application/json", "text/event-stream", "application/x-ndjson", "application/ndjson",
        "application/jsonl", "application/x-jsonlines", "application/jsonlines", "text/plain",
        "text/json", "application/x-json",
    };
    if (!ct)
        return 1;
    while (blank((unsigned char)*ct))
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && blank((unsigned char)ct[n - 1]))
        n--;
    if (n == 0)
        return 1;                               /* an empty header: as none */
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == n && strncasecmp(ct, known[i], n) == 0)
            return 1;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* The media type of a header value as a message shows it: before any
 * parameter, printable ASCII only, at most 63 bytes. */
static void media_type(char *out, size_t cap, const char *ct)
{
    size_t o = 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (; *ct && *ct != ';' && o + 1 < cap && o < 63; ct++)
        out[o++] = (*ct > 0x20 && *ct < 0x7F) ? *ct : '?';
    out[o] = '\0';
}

/* The format the request expected, for "where ... was expected". */
static const char *expected(ac_framing framing)
{
    return framing == AC_FRAMING_SSE      ? "JSON or an event stream"
           : framing == AC_FRAMING_NDJSON ? "NDJSON"
                                          : "JSON";
}

static void name_markup(const ac__body_facts *f, const char *type, char *what, size_t cap)
{
    const char *h = f->head;
    size_t n = f->head_len, i = first_solid(h, n);
    int xml = n - i >= 5 && strncasecmp(h + i, "<?xml", 5) == 0 && !find_ci(h, n, "<html");
    char text[EXCERPT_CHARS * 4 + 8] = "";
    const char *t = find_ci(h, n, "<title");
    const char *gt = t ? memchr(t, '>', n - (size_t)(t - h)) : NULL;
    if (gt) {
        const char *end = find_ci(gt, n - (size_t)(gt - h), "</title");
        size_t len = (end ? (size_t)(end - gt) : n - (size_t)(gt - h)) - 1;
        excerpt(text, sizeof text, gt + 1, len, 1);
    }
    if (!text[0])
        excerpt(text, sizeof text, h + i, n - i, 1);
    snprintf(what, cap, "%s%s%s%s%s%s", xml ? "an XML document" : "an HTML page",
             type[0] ? " (Content-Type " : "", type, type[0] ? ")" : "", text[0] ? ": " : "",
             text);
}

int ac__sniff_name(const ac__body_facts *f, ac_error *err)
{
    char type[64] = "", what[AC_ERROR_MESSAGE_MAX];
    char text[EXCERPT_CHARS * 4 + 8];
    if (f->content_type)
        media_type(type, sizeof type, f->content_type);
    const char *h = f->head;
    size_t n = f->head_len, i = first_solid(h, n);
    const char *want = expected(f->framing);
    const char *enc = f->content_encoding && *f->content_encoding &&
                      strcasecmp(f->content_encoding, "identity") != 0 ? f->content_encoding : NULL;
    ac__sniff start = ac__sniff_start(h, n);
    if (start == AC__SNIFF_MARKUP) {
        name_markup(f, type, what, sizeof what);
    } else if (start == AC__SNIFF_COMPRESSED || enc) {
        const char *kind = enc ? enc
                           : (unsigned char)h[i] == 0x1F ? "gzip" : "zstd";
        char how[96];
        if (enc)
            snprintf(how, sizeof how, "Content-Encoding: %.40s", enc);
        else
            snprintf(how, sizeof how, "no Content-Encoding, but the bytes start with %s's "
                     "magic number", kind);
        snprintf(what, sizeof what, "a %.40s-compressed body that was not asked for (%s)", kind,
                 how);
    } else if (f->total == 0) {
        snprintf(what, sizeof what, "an empty body where %s was expected", want);
    } else if (binary(h, n)) {
        char hex[3 * 8 + 1] = "";
        for (size_t k = 0, o = 0; k < 8 && k < n; k++)
            o += (size_t)snprintf(hex + o, sizeof hex - o, "%s%02x", k ? " " : "",
                                  (unsigned char)h[k]);
        snprintf(what, sizeof what, "binary data where %s was expected (%s%s%sthe body starts "
                 "%s%s)", want, type[0] ? "Content-Type " : "", type, type[0] ? "; " : "", hex,
                 n > 8 ? " ..." : "");
    } else {
        /* Does the body not even start like the format?  An event stream
         * that gave no event; JSON or NDJSON that starts with no { or [. */
        int json_start = i < n && (h[i] == '{' || h[i] == '[');
        int not_format = f->streamed && f->framing == AC_FRAMING_SSE ? f->events == 0
                                                                     : !json_start;
        excerpt(text, sizeof text, h + i, n - i, 0);
        if (!ac__sniff_type_expected(f->content_type)) {
            const char *detail = not_format || !f->failure ? text : f->failure->message;
            snprintf(what, sizeof what, "Content-Type %s where %s was expected: %s%.400s%s", type,
                     want, not_format ? "\"" : "", detail, not_format ? "\"" : "");
        } else if (not_format) {
            const char *fmt = f->streamed && f->framing == AC_FRAMING_SSE ? "an event stream"
                              : f->streamed && f->framing == AC_FRAMING_NDJSON ? "NDJSON"
                                                                               : "JSON";
            snprintf(what, sizeof what, "a body that is not %s (%s%s): \"%s\"", fmt,
                     type[0] ? "Content-Type " : "no Content-Type", type, text);
        } else {
            return 0;
        }
    }
    /* A parse failure keeps its code and stage (AC_EJSON stays AC_EJSON):
     * only what it says changes. */
    ac__error_set(err, f->failure ? f->failure->code : AC_EPROTOCOL,
                  f->failure ? f->failure->stage : AC_STAGE_PROTOCOL,
                  "the server answered HTTP %d with %s", f->http_status, what);
    err->http_status = f->http_status;
    return 1;
}
