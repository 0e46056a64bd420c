/*
 * openai_compat_parse.c -- what the OpenAI-compatible codec reads: a
 * chat.completion body, chat.completion.chunk SSE events, error bodies
 * and the model list, turned into emits on the host's sink or a filled
 * ac_error.
 *
 * It follows docs/protocols.md section 1 and the compatible servers' quirks
 * listed there (and the checklist of section 5): [DONE] tested before
 * any JSON parsing, errors inside a 200 stream checked before a chunk is
 * read, choices:[] usage chunks, usage sent twice (HF router), tool-call
 * fragments keyed on their index (TGI's repeated ids and null names;
 * Ollama's whole calls that all share one index, or have none),
 * LM Studio's missing content, reasoning_content / reasoning, llama.cpp's
 * integer error codes and old "error:" SSE lines, string errors from
 * vLLM / TGI / mlx-lm, HTML pages from proxies.
 *
 * Reads the state made in openai_compat.c; what it remembers across the
 * events of one response lives in the host's stream slot, so it is safe
 * on any thread.  Everything from a server goes through host->json_parse.
 */
#include "openai_compat_internal.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Longest server message quoted in an ac_error (the rest is cut, at a
 * character boundary), so "HTTP 401: " and the code in parentheses fit in
 * AC_ERROR_MESSAGE_MAX. */
#define OAI_QUOTE_MAX 360
/* Longest excerpt of a body that is not a JSON error (an HTML page). */
#define OAI_EXCERPT_MAX 160

/* One tool call of a streamed response: the server's index for it, the
 * sink key it is emitted under, and what tells it from the next call at
 * the same index (see oai_stream_tools). */
typedef struct oai_call {
    long   index;                   /* tool_calls[].index, or the position */
    int    key;                     /* the sink key */
    int    named;                   /* a name came for it */
    char  *id;                      /* the first id that came, or NULL */
} oai_call;

/* What parse_event remembers across the chunks of one response. */
typedef struct oai_stream {
    int    model_sent;
    int    finished;                /* choice 0's finish_reason was seen */
    int    done;                    /* [DONE] was seen */
    int    refusal;                 /* a refusal was emitted as text */
    oai_call *calls;                /* tool calls seen, in order */
    size_t n_calls, cap_calls;
    int    next_key;                /* keys for calls that reuse an index:
                                       -1, -2, ... (indexes are >= 0) */
} oai_stream;

/* What an error body or error event says. Strings are borrowed from the
 * parsed JSON. */
typedef struct oai_errinfo {
    const char *message;
    const char *code;               /* string code, else type / error_type */
    long        status;             /* an HTTP status the body names, or 0 */
    int         quota;              /* insufficient_quota: do not retry */
} oai_errinfo;

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Member `key` of object o, or NULL when o is not an object, the member is
 * absent, or it is JSON null. */
static json_object *oai_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static const char *oai_get_string(json_object *o, const char *key)
{
    json_object *v = oai_get(o, key);
    return v && json_object_is_type(v, json_type_string)
           ? json_object_get_string(v) : NULL;
}

/* An integer member (an integral double too: some servers send 12.0). */
static int oai_get_long(json_object *o, const char *key, long *out)
{
    json_object *v = oai_get(o, key);
    if (!v)
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        int64_t x = json_object_get_int64(v);
        if (x < LONG_MIN || x > LONG_MAX)
            return 0;
        *out = (long)x;
        return 1;
    }
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (d >= -2147483648.0 && d <= 2147483647.0 && d == (double)(long)d) {
            *out = (long)d;
            return 1;
        }
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t oai_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/*
 * Copy text from a server into out as one printable line: control
 * characters and runs of white space become one space, invalid UTF-8
 * becomes '?', and at most `max` bytes are kept (cut at a character
 * boundary, "..." appended).  For error messages and for excerpts of
 * bodies that are not JSON (a proxy's HTML page).
 */
static void oai_printable(const char *src, size_t n, char *out, size_t cap,
                          size_t max)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t o = 0, i = 0;
    int space = 1;                  /* drops leading white space */
    int cut = 0;

    if (cap < 4) {
        if (cap)
            out[0] = '\0';
        return;
    }
    if (max > cap - 4)
        max = cap - 4;
    while (i < n) {
        if (p[i] < 0x20 || p[i] == 0x7F || p[i] == ' ') {
            if (!space) {
                if (o + 1 > max) {
                    cut = 1;
                    break;
                }
                out[o++] = ' ';
                space = 1;
            }
            i++;
            continue;
        }
        size_t len = oai_utf8_len(p + i, n - i);
        size_t take = len ? len : 1;
        if (o + take > max) {
            cut = 1;
            break;
        }
        if (len)
            memcpy(out + o, p + i, len);
        else
            out[o] = '?';
        o += take;
        i += take;
        space = 0;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    if (cut) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static int oai_status_retryable(long status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* ------------------------------------------------------------------ */
/* Finish reasons                                                      */
/* ------------------------------------------------------------------ */

const char *ac_oai_normalize_finish(const char *raw)
{
    if (!raw)
        return "stop";
    if (strcmp(raw, "length") == 0)
        return "length";
    if (strcmp(raw, "tool_calls") == 0 || strcmp(raw, "function_call") == 0)
        return "tool_calls";
    if (strcmp(raw, "content_filter") == 0)
        return "content_filter";
    /* "stop", and values of servers that invent their own ("eos",
     * "end_turn"...): the reply ended, so it stopped. */
    return "stop";
}

/* The finish reason a user sees: a refusal is reported as content_filter
 * (OpenAI says "stop" but the content is not the reply asked for), and
 * "stop" after tool calls as tool_calls (servers such as older Ollama
 * OpenAI layers say "stop"). */
static const char *oai_finish(const char *raw, int tools, int refusal)
{
    const char *n = ac_oai_normalize_finish(raw);
    if (refusal)
        return "content_filter";
    if (tools && strcmp(n, "stop") == 0)
        return "tool_calls";
    return n;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Read the shapes of error body the compatible servers send
 * (docs/protocols.md 1, "Errors").  Returns 1 when root is one of them. */
static int oai_errinfo_read(json_object *root, oai_errinfo *ei)
{
    json_object *e = oai_get(root, "error");
    long n;

    memset(ei, 0, sizeof *ei);
    if (!root || !json_object_is_type(root, json_type_object))
        return 0;
    if (e && json_object_is_type(e, json_type_object)) {
        /* OpenAI / llama.cpp / vLLM / TGI-in-stream. */
        root = e;
    } else if (e) {
        /* vLLM 401, TGI, mlx-lm: {"error":"text"[,"error_type"]}. */
        if (json_object_is_type(e, json_type_boolean) &&
            !json_object_get_boolean(e))
            return 0;
        ei->message = json_object_get_string(e);
        ei->code = oai_get_string(root, "error_type");
        return 1;
    } else if (!oai_get_string(root, "message") &&
               !oai_get_string(root, "detail")) {
        return 0;
    }
    /* An error object, or the old vLLM {"object":"error","message",...}
     * and llama.cpp's unwrapped "error:" event data. */
    ei->message = oai_get_string(root, "message");
    if (!ei->message)
        ei->message = oai_get_string(root, "detail");   /* FastAPI */
    ei->code = oai_get_string(root, "code");
    if (oai_get_long(root, "code", &n) && n >= 100 && n <= 599)
        ei->status = n;             /* llama.cpp / vLLM: an HTTP status */
    if (oai_get_long(root, "http_status_code", &n) && n >= 100 && n <= 599)
        ei->status = n;             /* TGI */
    const char *type = oai_get_string(root, "type");
    if ((ei->code && strcmp(ei->code, "insufficient_quota") == 0) ||
        (type && strcmp(type, "insufficient_quota") == 0))
        ei->quota = 1;
    if (!ei->code || !*ei->code)
        ei->code = type;
    if (!ei->code || !*ei->code)
        ei->code = oai_get_string(root, "error_type");
    return 1;
}

/* "<message> (<code>)" as one printable line.  (The core removes our key
 * from every message, should a server echo it.) */
static void oai_errinfo_format(const oai_state *st, const oai_errinfo *ei,
                               char *buf, size_t cap)
{
    char msg[OAI_QUOTE_MAX + 8], code[64];
    const char *m = ei->message && *ei->message ? ei->message
                                                : "(no message)";
    oai_printable(m, strlen(m), msg, sizeof msg, OAI_QUOTE_MAX);
    if (ei->code && *ei->code) {
        oai_printable(ei->code, strlen(ei->code), code, sizeof code, 48);
        snprintf(buf, cap, "%s (%s)", msg, code);
    } else {
        snprintf(buf, cap, "%s", msg);
    }
}

/* Describe an error body: the server's words if it is a known shape,
 * else an excerpt of the raw bytes. */
static void oai_describe(const oai_state *st, json_object *root,
                         const char *raw, size_t len, oai_errinfo *ei,
                         char *buf, size_t cap)
{
    if (oai_errinfo_read(root, ei)) {
        oai_errinfo_format(st, ei, buf, cap);
        return;
    }
    oai_printable(raw, len, buf, cap, OAI_EXCERPT_MAX);
    if (!buf[0])
        snprintf(buf, cap, "(empty body)");
}

/* Parse a body or event into *root.  A valid "null" yields no object and
 * no error from the parser, and becomes AC_EPROTOCOL here. */
static ac_status oai_parse(const oai_state *st, const char *text, size_t len,
                           const char *what, json_object **root,
                           ac_call *call)
{
    *root = st->host->json_parse(call, text, len, what);
    if (*root && json_object_is_type(*root, json_type_object))
        return AC_OK;
    if (!*root && !(len == 4 && memcmp(text, "null", 4) == 0))
        return AC_EJSON; /* the call says why */
    json_object_put(*root);
    *root = NULL;
    st->host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                        "%s is not a JSON object", what);
    return AC_EPROTOCOL;
}

/* Parse an error body, leniently and without reporting anything: it is
 * only read for the server's words (an HTML page is quoted instead). */
static json_object *oai_try_parse(const oai_state *st, const char *text,
                                  size_t len)
{
    (void)st;
    json_tokener *t = json_tokener_new();
    json_object *o = t && len <= 0x7fffffff ? json_tokener_parse_ex(t, text, (int)len) : NULL;
    /* The whole text, or nothing: "{} trailing" is not an object. */
    size_t end = t ? json_tokener_get_parse_end(t) : 0;
    while (o && end < len && strchr(" \t\r\n", text[end]))
        end++;
    if (o && end != len) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(t);
    return o;
}

/* The error that ends a stream (or a 2xx body) that carries one. */
static ac_status oai_inband_error(const oai_state *st, json_object *root,
                                  const char *raw, size_t len,
                                  const char *where, ac_call *call)
{
    oai_errinfo ei;
    char desc[AC_ERROR_MESSAGE_MAX];

    oai_describe(st, root, raw, len, &ei, desc, sizeof desc);
    st->host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "%s: %s", where, desc);
    st->host->set_http_status(call, (int)ei.status);
    /* Worth another attempt when the server says it is busy or loading
     * (the core retries only before the first content). */
    st->host->set_retryable(call, ei.status && !ei.quota && oai_status_retryable(ei.status));
    return AC_EPROTOCOL;
}

void ac_oai_parse_error(void *state, int http_status, const char *body,
                        size_t len, ac_call *call)
{
    const oai_state *st = state;
    oai_errinfo ei;
    char desc[AC_ERROR_MESSAGE_MAX - 16];

    if (!st || !body || len == 0)
        return;                     /* keep the core's message */
    json_object *root = oai_try_parse(st, body, len);
    oai_describe(st, root, body, len, &ei, desc, sizeof desc);
    json_object_put(root);
    st->host->fail(call, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d: %s", http_status, desc);
    /* A quota is not a rate limit: waiting does not help. */
    if (ei.quota)
        st->host->set_retryable(call, 0);
}

/* ------------------------------------------------------------------ */
/* Parsing replies                                                     */
/* ------------------------------------------------------------------ */

/* The choice with index 0 (an absent index counts as 0), or NULL.
 * n>1 replies interleave other choices; only the first is kept. */
static json_object *oai_choice0(json_object *choices)
{
    if (!choices || !json_object_is_type(choices, json_type_array))
        return NULL;
    size_t n = json_object_array_length(choices);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(choices, i);
        long idx = 0;
        if (!c || !json_object_is_type(c, json_type_object))
            continue;
        if (oai_get(c, "index") && !oai_get_long(c, "index", &idx))
            continue;
        if (idx == 0)
            return c;
    }
    return NULL;
}

static ac_status oai_emit_usage(const oai_state *st, json_object *root,
                                ac_sink *sink)
{
    json_object *u = oai_get(root, "usage");
    long in = -1, out = -1;
    if (!u || !json_object_is_type(u, json_type_object))
        return AC_OK;
    if (!oai_get_long(u, "prompt_tokens", &in))
        in = -1;
    if (!oai_get_long(u, "completion_tokens", &out))
        out = -1;
    if (in < 0 && out < 0)
        return AC_OK;
    return st->host->emit_usage(sink, in, out);
}

/* Text parts of a message or delta: reasoning, content, refusal.  Empty
 * fragments are skipped (the first chunk's content is ""). */
static ac_status oai_emit_texts(const oai_state *st, json_object *m,
                                ac_sink *sink, int *refusal)
{
    const ac_host_api *h = st->host;
    ac_status rc = AC_OK;
    json_object *v;

    /* llama.cpp: reasoning_content; mlx-lm and others: reasoning. */
    v = oai_get(m, "reasoning_content");
    if (!v || !json_object_is_type(v, json_type_string))
        v = oai_get(m, "reasoning");
    if (v && json_object_is_type(v, json_type_string) &&
        json_object_get_string_len(v) > 0)
        rc = h->emit_reasoning(sink, json_object_get_string(v),
                               (size_t)json_object_get_string_len(v));
    if (rc != AC_OK)
        return rc;

    v = oai_get(m, "content");
    if (v && json_object_is_type(v, json_type_string) &&
        json_object_get_string_len(v) > 0)
        rc = h->emit_text(sink, json_object_get_string(v),
                          (size_t)json_object_get_string_len(v));
    if (rc != AC_OK)
        return rc;

    /* A refusal is what the user gets to read instead of the reply. */
    v = oai_get(m, "refusal");
    if (v && json_object_is_type(v, json_type_string) &&
        json_object_get_string_len(v) > 0) {
        *refusal = 1;
        rc = h->emit_text(sink, json_object_get_string(v),
                          (size_t)json_object_get_string_len(v));
    }
    return rc;
}

/* Arguments of a tool call: a string (the norm) is passed as is; an
 * object (some servers) is passed whole as its JSON text.  *complete is
 * set for the latter. */
static void oai_tool_args(json_object *fn, const char **args, size_t *n,
                          int *complete)
{
    json_object *a = oai_get(fn, "arguments");
    *args = NULL;
    *n = 0;
    if (!a)
        return;
    if (json_object_is_type(a, json_type_string)) {
        *args = json_object_get_string(a);
        *n = (size_t)json_object_get_string_len(a);
    } else if (json_object_is_type(a, json_type_object)) {
        size_t len = 0;
        *args = json_object_to_json_string_length(a, JSON_C_TO_STRING_PLAIN,
                                                  &len);
        *n = *args ? len : 0;
        *complete = 1;
    }
}

/* The latest call of this response at the server's index, or NULL. */
static oai_call *oai_call_find(oai_stream *ss, long index)
{
    for (size_t i = ss->n_calls; i-- > 0;)
        if (ss->calls[i].index == index)
            return &ss->calls[i];
    return NULL;
}

/* Remember a new call of this response (to tell calls apart and to end
 * them at finish_reason).  The list is small: one entry per call. */
static ac_status oai_call_add(const oai_state *st, oai_stream *ss, long index,
                              int key, oai_call **out)
{
    if (ss->n_calls == ss->cap_calls) {
        size_t cap = ss->cap_calls ? ss->cap_calls * 2 : 4;
        oai_call *v = st->host->malloc(cap * sizeof *v);
        if (!v)
            return AC_ENOMEM;
        if (ss->n_calls)
            memcpy(v, ss->calls, ss->n_calls * sizeof *v);
        st->host->free(ss->calls);
        ss->calls = v;
        ss->cap_calls = cap;
    }
    oai_call *c = &ss->calls[ss->n_calls++];
    memset(c, 0, sizeof *c);
    c->index = index;
    c->key = key;
    *out = c;
    return AC_OK;
}

/* Keep the first id a call got (the one later deltas are compared to). */
static ac_status oai_call_set_id(const oai_state *st, oai_call *c,
                                 const char *id)
{
    if (c->id || !id)
        return AC_OK;
    size_t n = strlen(id);
    c->id = st->host->malloc(n + 1);
    if (!c->id)
        return AC_ENOMEM;
    memcpy(c->id, id, n + 1);
    return AC_OK;
}

/* 1 when arguments in a delta are not a fragment of a call under way:
 * none yet ("" opens a call), or a whole JSON object. */
static int oai_args_whole(const oai_state *st, const char *args, size_t n,
                          int complete)
{
    if (complete || n == 0)
        return 1;
    /* A probe, not a report: json-c directly, so nothing is failed. */
    json_object *o = oai_try_parse(st, args, n);
    int whole = o && json_object_is_type(o, json_type_object);
    json_object_put(o);
    return whole;
}

ac_status ac_oai_parse_response(void *state, int http_status,
                                const char *body, size_t len, ac_sink *sink,
                                ac_call *call)
{
    const oai_state *st = state;
    json_object *root = NULL;
    ac_status rc = AC_OK;
    int refusal = 0;
    size_t n_calls = 0;

    if (!st || !body) {
        return AC_EINVAL;
    }
    const ac_host_api *h = st->host;
    rc = oai_parse(st, body, len, "response", &root, call);
    if (rc != AC_OK)
        return rc;
    json_object *e = oai_get(root, "error");
    if (e && !(json_object_is_type(e, json_type_boolean) &&
               !json_object_get_boolean(e))) {
        rc = oai_inband_error(st, root, body, len, "error in response", call);
        goto done;
    }

    const char *model = oai_get_string(root, "model");
    if (model && *model && (rc = h->emit_model(sink, model)) != AC_OK)
        goto done;

    json_object *choice = oai_choice0(oai_get(root, "choices"));
    if (!choice) {
        h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                     "response has no choices");
        rc = AC_EPROTOCOL;
        goto done;
    }
    /* LM Studio leaves content out entirely for tool calls; a missing
     * message is an empty reply, not an error. */
    json_object *msg = oai_get(choice, "message");
    rc = oai_emit_texts(st, msg, sink, &refusal);
    if (rc != AC_OK)
        goto done;

    json_object *calls = oai_get(msg, "tool_calls");
    if (calls && json_object_is_type(calls, json_type_array)) {
        size_t n = json_object_array_length(calls);
        for (size_t i = 0; i < n && i < INT_MAX; i++) {
            json_object *c = json_object_array_get_idx(calls, i);
            json_object *fn = oai_get(c, "function");
            const char *args, *id = oai_get_string(c, "id");
            const char *name = oai_get_string(fn, "name");
            size_t alen;
            int complete = 1;
            if (!fn)
                continue;
            oai_tool_args(fn, &args, &alen, &complete);
            rc = h->emit_tool_call(sink, (int)n_calls, id ? id : "", name,
                                   args, alen, 1);
            if (rc == AC_OK && AC_HOST_HAS(h, emit_tool_call_end))
                rc = h->emit_tool_call_end(sink, (int)n_calls);
            if (rc != AC_OK)
                goto done;
            n_calls++;
        }
    }

    rc = oai_emit_usage(st, root, sink);
    if (rc != AC_OK)
        goto done;
    /* A complete body has finished even when a server leaves
     * finish_reason null. */
    const char *fr = oai_get_string(choice, "finish_reason");
    rc = h->emit_finish(sink, oai_finish(fr, n_calls > 0, refusal), fr);

done:
    json_object_put(root);
    return rc;
}

/* The per-response state in the host's stream slot, made on first use.
 * *out stays NULL for a host without stream slots (then the model is
 * emitted with every chunk and [DONE] finishes nothing). */
static ac_status oai_stream_get(const oai_state *st, ac_sink *sink,
                                oai_stream **out, ac_call *call)
{
    const ac_host_api *h = st->host;
    *out = NULL;
    if (!AC_HOST_HAS(h, stream_slot))
        return AC_OK;
    void **slot = h->stream_slot(sink);
    if (!slot)
        return AC_OK;
    if (!*slot) {
        oai_stream *ss = h->malloc(sizeof *ss);
        if (!ss) {
            h->fail(call, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
            return AC_ENOMEM;
        }
        memset(ss, 0, sizeof *ss);
        *slot = ss;
    }
    *out = *slot;
    return AC_OK;
}

/* End every tool call of the response, then report the finish. */
static ac_status oai_stream_finish(const oai_state *st, oai_stream *ss,
                                   ac_sink *sink, const char *raw)
{
    const ac_host_api *h = st->host;
    ac_status rc = AC_OK;
    int tools = ss && ss->n_calls > 0;

    if (ss && AC_HOST_HAS(h, emit_tool_call_end))
        for (size_t i = 0; rc == AC_OK && i < ss->n_calls; i++)
            rc = h->emit_tool_call_end(sink, ss->calls[i].key);
    if (rc != AC_OK)
        return rc;
    if (ss)
        ss->finished = 1;
    return h->emit_finish(sink, oai_finish(raw, tools, ss && ss->refusal),
                          raw);
}

/*
 * The tool-call fragments of one delta.
 *
 * Fragments are joined by their `index` (docs/protocols.md 1), never by id or
 * position; a repeated id is not a new call (TGI sends "id":"0" on every
 * delta of a call, vLLM repeats id and name on the last one).  But
 * Ollama's OpenAI layer gives every call of a reply index 0 (ollama#15457,
 * still so for models without their own parser, ollama#15497), and before
 * 0.4.7 sent no index at all (ollama#7881): each call comes whole in its
 * own chunk, and joining by index glued them into one call whose
 * arguments were '{...}{...}'.  So a delta at an index already in use
 * starts a new call when it says so unmistakably: a name, an id other
 * than the call's, and arguments that are not a fragment (none yet, or a
 * whole object).  Such a call gets a key of its own, and later fragments
 * at that index go to it.
 */
static ac_status oai_stream_tools(const oai_state *st, oai_stream *ss,
                                  json_object *calls, ac_sink *sink,
                                  ac_call *call)
{
    const ac_host_api *h = st->host;
    size_t n = json_object_array_length(calls);

    for (size_t i = 0; i < n && i < INT_MAX; i++) {
        json_object *c = json_object_array_get_idx(calls, i);
        json_object *fn = oai_get(c, "function");
        const char *args;
        size_t alen;
        int complete = 0;
        long key;
        ac_status rc;

        if (!c || !json_object_is_type(c, json_type_object))
            continue;
        /* Key on index, never on id or position (docs/protocols.md 1); a
         * server without index gets the position. */
        if (!oai_get_long(c, "index", &key) || key < 0 || key > INT_MAX)
            key = (long)i;
        const char *id = oai_get_string(c, "id");
        const char *name = oai_get_string(fn, "name");
        if (id && !*id)
            id = NULL;
        if (name && !*name)
            name = NULL;                /* TGI: null after the first */
        oai_tool_args(fn, &args, &alen, &complete);
        if (!id && !name && alen == 0)
            continue;                   /* nothing to add */
        int sink_key = (int)key;
        rc = AC_OK;
        if (ss) {
            oai_call *oc = oai_call_find(ss, key);
            if (oc && id && oc->id && strcmp(id, oc->id) != 0 &&
                name && oc->named && ss->next_key > INT_MIN + 1 &&
                oai_args_whole(st, args, alen, complete)) {
                /* Another call at the same index (Ollama). */
                rc = oai_call_add(st, ss, key, --ss->next_key, &oc);
            } else if (!oc) {
                rc = oai_call_add(st, ss, key, (int)key, &oc);
            }
            if (rc == AC_OK)
                rc = oai_call_set_id(st, oc, id);
            if (rc == AC_OK) {
                oc->named |= name != NULL;
                sink_key = oc->key;
            }
        }
        if (rc == AC_OK)
            rc = h->emit_tool_call(sink, sink_key, id, name, args, alen,
                                   complete);
        if (rc != AC_OK) {
            if (rc == AC_ENOMEM)
                h->fail(call, AC_ENOMEM, AC_STAGE_PROTOCOL,
                             "out of memory");
            return rc;
        }
    }
    return AC_OK;
}

static int oai_is_done(const ac_frame *ev)
{
    return ev->data_len >= 6 && memcmp(ev->data, "[DONE]", 6) == 0;
}

ac_status ac_oai_parse_event(void *state, const ac_frame *ev, ac_sink *sink,
                             ac_call *call)
{
    const oai_state *st = state;
    json_object *root = NULL;
    oai_stream *ss = NULL;
    ac_status rc;

    if (!st || !ev || !ev->data) {
        return AC_EINVAL;
    }
    const ac_host_api *h = st->host;
    rc = oai_stream_get(st, sink, &ss, call);
    if (rc != AC_OK)
        return rc;
    if (ss && ss->done)
        return AC_OK;               /* nothing counts after [DONE] */

    /* Old llama.cpp builds sent errors as a non-standard "error:" field,
     * which the framer hands over as an event named "error". */
    if (ev->event && strcmp(ev->event, "error") == 0) {
        root = oai_try_parse(st, ev->data, ev->data_len);
        rc = oai_inband_error(st, root, ev->data, ev->data_len,
                              "error in stream", call);
        goto done;
    }
    /* [DONE] is not JSON: test before parsing (docs/protocols.md 0.7). */
    if (oai_is_done(ev)) {
        if (ss) {
            ss->done = 1;
            /* A server that closed the stream properly but never said why
             * (TGI's tool-call streams) has still finished. */
            if (!ss->finished)
                rc = oai_stream_finish(st, ss, sink, NULL);
        }
        goto done;
    }
    size_t i = 0;
    while (i < ev->data_len && (ev->data[i] == ' ' || ev->data[i] == '\t' ||
                                ev->data[i] == '\r' || ev->data[i] == '\n'))
        i++;
    if (i == ev->data_len)
        goto done;                  /* an empty data: line carries nothing */

    rc = oai_parse(st, ev->data, ev->data_len, "stream event", &root, call);
    if (rc != AC_OK)
        goto done;
    /* A truthy top-level "error" inside a 200 stream (vLLM, TGI,
     * llama.cpp): check before interpreting the chunk. */
    json_object *e = oai_get(root, "error");
    if (e && !(json_object_is_type(e, json_type_boolean) &&
               !json_object_get_boolean(e))) {
        rc = oai_inband_error(st, root, ev->data, ev->data_len,
                              "error in stream", call);
        goto done;
    }

    const char *model = oai_get_string(root, "model");
    if (model && *model && !(ss && ss->model_sent)) {
        rc = h->emit_model(sink, model);
        if (rc != AC_OK)
            goto done;
        if (ss)
            ss->model_sent = 1;
    }

    /* The usage chunk has "choices":[]: never index it blindly. */
    json_object *choice = oai_choice0(oai_get(root, "choices"));
    if (choice) {
        json_object *delta = oai_get(choice, "delta");
        int refusal = 0;
        rc = oai_emit_texts(st, delta, sink, &refusal);
        if (rc != AC_OK)
            goto done;
        if (refusal && ss)
            ss->refusal = 1;
        json_object *calls = oai_get(delta, "tool_calls");
        if (calls && json_object_is_type(calls, json_type_array)) {
            rc = oai_stream_tools(st, ss, calls, sink, call);
            if (rc != AC_OK)
                goto done;
        }
        const char *fr = oai_get_string(choice, "finish_reason");
        if (fr && *fr && !(ss && ss->finished)) {
            rc = oai_stream_finish(st, ss, sink, fr);
            if (rc != AC_OK)
                goto done;
        }
    }

    /* Usage may come more than once (HF router: on the finish chunk and
     * again on choices:[]); each is emitted and the host keeps the last. */
    rc = oai_emit_usage(st, root, sink);

done:
    json_object_put(root);
    return rc;
}

void ac_oai_stream_free(void *state, void *stream_state)
{
    const oai_state *st = state;
    oai_stream *ss = stream_state;
    if (!st || !ss)
        return;
    for (size_t i = 0; i < ss->n_calls; i++)
        st->host->free(ss->calls[i].id);
    st->host->free(ss->calls);
    st->host->free(ss);
}

/* ------------------------------------------------------------------ */
/* Models                                                              */
/* ------------------------------------------------------------------ */

ac_status ac_oai_parse_models(void *state, const char *body, size_t len,
                              ac_model_list *out, ac_call *call)
{
    const oai_state *st = state;
    json_object *root = NULL;
    ac_status rc = AC_OK;

    if (!st || !body || !out) {
        return AC_EINVAL;
    }
    const ac_host_api *h = st->host;
    rc = oai_parse(st, body, len, "model list", &root, call);
    if (rc != AC_OK)
        return rc;
    json_object *data = oai_get(root, "data");
    if (!data || !json_object_is_type(data, json_type_array)) {
        h->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                     "model list has no \"data\" array");
        rc = AC_EPROTOCOL;
        goto done;
    }
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n; i++) {
        const char *id = oai_get_string(json_object_array_get_idx(data, i),
                                        "id");
        if (!id || !*id)
            continue;
        rc = h->models_add(out, id);
        if (rc != AC_OK) {
            h->fail(call, rc, AC_STAGE_PROTOCOL,
                         "could not add a model to the list");
            goto done;
        }
    }

done:
    json_object_put(root);
    return rc;
}
