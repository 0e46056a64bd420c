/*
 * parse.c -- reading Anthropic replies: a whole Messages body
 * (parse_response) and the events of a stream (parse_event), into the
 * host's sink (docs/protocols.md section 2 "Non-streaming response",
 * "Streaming", and checklist items 8, 9 and 15).
 *
 * Streams are keyed by content-block index.  Only tool_use blocks need
 * remembering across events (an input_json_delta for a server-side tool
 * block, or for an index never started, must not become a call of the
 * caller's), so the per-response state is a small list of them, kept in
 * the host's stream slot and freed by anth_stream_free.
 *
 * Rules this follows: dispatch on the JSON "type", with the SSE event name
 * as fallback; ignore ping and unknown events; usage is input_tokens from
 * message_start and the cumulative output_tokens of the last
 * message_delta (reported as they come; the host keeps the last of each);
 * an `error` event ends the stream with the error its type stands for;
 * tool input arrives as string fragments that the host joins by index,
 * and a tool call with no fragments has the input {}.  An emit that fails
 * (no memory, the reply over its cap) ends the parse with the emit's code,
 * returned as is: the core words it.
 */
#include "anthropic.h"

#include <limits.h>
#include <string.h>

/* At most this many tool_use blocks per reply: bounds the linear lookup
 * against a hostile stream (real replies hold a handful). */
#define MAX_TOOL_BLOCKS 4096

json_object *anth_json_try(const char *text, size_t len, int utf8)
{
    if (!text || len > (size_t)INT_MAX)
        return NULL;
    json_tokener *t = json_tokener_new();
    if (!t)
        return NULL;
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | (utf8 ? JSON_TOKENER_VALIDATE_UTF8 : 0));
    json_object *o = json_tokener_parse_ex(t, text, (int)len);
    if (!o && json_tokener_get_error(t) == json_tokener_continue)
        o = json_tokener_parse_ex(t, "", 1); /* a top-level number ends here */
    /* The whole text, or nothing: "{} trailing" is not an object. */
    size_t end = json_tokener_get_parse_end(t);
    while (o && end < len && strchr(" \t\r\n", text[end]))
        end++;
    if (o && end != len) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(t);
    return o;
}

/* A token count, or -1 when absent or nonsense. */
static long usage_count(json_object *usage, const char *key)
{
    long long v;
    if (!ac_sdk_json_int(usage, key, &v) || v < 0)
        return -1;
    return v > LONG_MAX ? LONG_MAX : (long)v;
}

/*
 * stop_reason -> normalized finish.  "tool_use" is "stop" when the only
 * call was the structured-output tool (its input became the reply text);
 * pause_turn (a long server-side turn paused) and unknown reasons are
 * "stop": the reply is complete as far as it goes.
 */
static const char *finish_map(const char *raw, int real_tools, int json_out)
{
    if (strcmp(raw, "max_tokens") == 0 ||
        strcmp(raw, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(raw, "tool_use") == 0)
        return json_out && !real_tools ? "stop" : "tool_calls";
    if (strcmp(raw, "refusal") == 0)
        return "content_filter";
    return "stop";
}

/*
 * The text of a tool's input object ("{}" when there is none), in a new
 * host allocation (*n its length), or NULL with the call failed.  Written
 * by ac_sdk_json_text, every append checked: json-c's own writer drops
 * text when memory is short, which would hand the caller cut arguments.
 */
static char *input_text(json_object *block, size_t *n, ac_call *call)
{
    json_object *in = NULL;
    const char *s = NULL;
    char *t;
    if (!json_object_object_get_ex(block, "input", &in) || !in)
        s = "{}";
    else if (json_object_is_type(in, json_type_string))
        s = json_object_get_string(in); /* already text; the host checks it */
    if (!s)
        return ac_sdk_json_text(anth_host, call, in, n);
    if (!(t = anth_host->strdup(s))) {
        anth_host->fail(call, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
        return NULL;
    }
    *n = strlen(t);
    return t;
}

static ac_status protocol_error(ac_call *call, const char *what)
{
    return anth_host->fail(call, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                           "unexpected reply: %s", what);
}

/* A top-level error in a 2xx reply: {"type":"error","error":{...}}. */
static int is_error(json_object *root, const char *type, json_object **eo)
{
    *eo = NULL;
    json_object_object_get_ex(root, "error", eo);
    return *eo != NULL || (type && strcmp(type, "error") == 0);
}

/* ------------------------------------------------------------------ */
/* Whole bodies                                                         */
/* ------------------------------------------------------------------ */

/* Inside anth_parse_response: an emit that fails ends the parse, with its
 * code as is. */
#define EMIT(e)                             \
    do {                                    \
        if ((rc = (e)) != AC_OK)            \
            goto done;                      \
    } while (0)

/* One tool_use block of a whole reply, at position i. */
static ac_status body_tool_use(json_object *b, int i, ac_sink *sink, int *real_tools,
                               int *json_out, ac_call *call)
{
    const char *id = ac_sdk_json_string(b, "id"), *name = ac_sdk_json_string(b, "name");
    size_t an;
    char *args = input_text(b, &an, call);
    if (!args)
        return AC_ENOMEM;
    ac_status rc;
    if (name && strcmp(name, ANTH_JSON_TOOL) == 0) {
        *json_out = 1;
        rc = anth_host->emit_text(sink, args, an);
    } else {
        /* Whole calls: the key is the block's position. */
        ++*real_tools;
        rc = anth_host->emit_tool_call(sink, i, id ? id : "", name ? name : "", args, an, 1);
        if (rc == AC_OK)
            rc = anth_host->emit_tool_call_end(sink, i);
    }
    anth_host->free(args);
    return rc;
}

ac_status anth_parse_response(void *state, int http_status, const char *body,
                              size_t len, ac_sink *sink, ac_call *call)
{
    (void)state;
    (void)http_status;
    ac_status rc = AC_OK;
    int real_tools = 0, json_out = 0;
    json_object *root = anth_host->json_parse(call, body ? body : "", body ? len : 0,
                                              "response body");
    if (!root)
        return AC_EJSON;
    json_object *eo, *content = NULL;
    if (!json_object_is_type(root, json_type_object)) {
        rc = protocol_error(call, "the body is not a JSON object");
        goto done;
    }
    if (is_error(root, ac_sdk_json_string(root, "type"), &eo)) {
        rc = anth_error_from_object(eo, "error in response", call);
        goto done;
    }
    if (!(content = ac_sdk_json_array(root, "content"))) {
        rc = protocol_error(call, "no \"content\" array in the message");
        goto done;
    }

    const char *model = ac_sdk_json_string(root, "model");
    if (model)
        EMIT(anth_host->emit_model(sink, model));

    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n && i <= INT_MAX; i++) {
        json_object *b = json_object_array_get_idx(content, i);
        const char *bt = ac_sdk_json_string(b, "type");
        if (!bt)
            continue;
        if (strcmp(bt, "text") == 0) {
            const char *t = ac_sdk_json_string(b, "text");
            if (t && *t)
                EMIT(anth_host->emit_text(sink, t, strlen(t)));
        } else if (strcmp(bt, "thinking") == 0) {
            const char *t = ac_sdk_json_string(b, "thinking");
            if (t && *t)
                EMIT(anth_host->emit_reasoning(sink, t, strlen(t)));
        } else if (strcmp(bt, "tool_use") == 0) {
            EMIT(body_tool_use(b, (int)i, sink, &real_tools, &json_out, call));
        }
        /* Other blocks (redacted_thinking, server tools and their
         * results) carry nothing a caller of this API reads. */
    }

    json_object *usage = ac_sdk_json_object(root, "usage");
    if (usage)
        EMIT(anth_host->emit_usage(sink, usage_count(usage, "input_tokens"),
                                   usage_count(usage, "output_tokens")));
    const char *stop = ac_sdk_json_string(root, "stop_reason");
    if (stop)
        EMIT(anth_host->emit_finish(sink, finish_map(stop, real_tools, json_out),
                                    stop));
done:
    json_object_put(root);
    return rc;
}
#undef EMIT

/* ------------------------------------------------------------------ */
/* Streams                                                              */
/* ------------------------------------------------------------------ */

typedef struct tool_block {
    int           index;
    unsigned char json_out; /* the structured-output tool: input is text */
    unsigned char got_args; /* a non-empty input fragment came */
    unsigned char ended;    /* content_block_stop came */
} tool_block;

typedef struct stream_state {
    tool_block *v;
    size_t      n, cap;
    int         real_tools;
    int         json_out;
} stream_state;

void anth_stream_free(void *state, void *slot_value)
{
    (void)state;
    stream_state *ss = slot_value;
    if (!ss)
        return;
    anth_host->free(ss->v);
    anth_host->free(ss);
}

/* The response's state, made on first use; NULL out of memory. */
static stream_state *stream_get(ac_sink *sink)
{
    void **slot = anth_host->stream_slot(sink);
    if (!slot)
        return NULL;
    if (!*slot) {
        stream_state *ss = anth_host->malloc(sizeof *ss);
        if (!ss)
            return NULL;
        memset(ss, 0, sizeof *ss);
        *slot = ss;
    }
    return *slot;
}

/* The tool block with this index, or NULL. */
static tool_block *block_find(ac_sink *sink, int index)
{
    void **slot = anth_host->stream_slot(sink);
    stream_state *ss = slot ? *slot : NULL;
    for (size_t i = 0; ss && i < ss->n; i++)
        if (ss->v[i].index == index)
            return &ss->v[i];
    return NULL;
}

/* Remember a new tool block.  AC_OK, AC_ENOMEM or AC_EPROTOCOL (too many). */
static ac_status block_add(stream_state *ss, int index, int json_out)
{
    if (ss->n == ss->cap) {
        if (ss->cap >= MAX_TOOL_BLOCKS)
            return AC_EPROTOCOL;
        size_t cap = ss->cap ? ss->cap * 2 : 4;
        tool_block *v = anth_host->realloc(ss->v, cap * sizeof *v);
        if (!v)
            return AC_ENOMEM;
        ss->v = v;
        ss->cap = cap;
    }
    tool_block *b = &ss->v[ss->n++];
    memset(b, 0, sizeof *b);
    b->index = index;
    b->json_out = (unsigned char)(json_out != 0);
    if (json_out)
        ss->json_out = 1;
    else
        ss->real_tools++;
    return AC_OK;
}

/* The event's "index" as a sink key: 0..INT_MAX, or -1. */
static int event_index(json_object *root)
{
    long long v;
    if (!ac_sdk_json_int(root, "index", &v) || v < 0 || v > INT_MAX)
        return -1;
    return (int)v;
}

static ac_status on_message_start(json_object *root, ac_sink *sink)
{
    ac_status rc = AC_OK;
    json_object *msg = ac_sdk_json_object(root, "message");
    const char *model = ac_sdk_json_string(msg, "model");
    if (model)
        rc = anth_host->emit_model(sink, model);
    json_object *usage = ac_sdk_json_object(msg, "usage");
    if (rc == AC_OK && usage)
        rc = anth_host->emit_usage(sink, usage_count(usage, "input_tokens"),
                                   usage_count(usage, "output_tokens"));
    return rc;
}

static ac_status on_block_start(json_object *root, int index, ac_sink *sink,
                                ac_call *call)
{
    json_object *cb = ac_sdk_json_object(root, "content_block");
    const char *bt = ac_sdk_json_string(cb, "type");
    if (!bt)
        return protocol_error(call, "content_block_start without a block type");
    if (strcmp(bt, "text") == 0) {
        const char *t = ac_sdk_json_string(cb, "text");
        return t && *t ? anth_host->emit_text(sink, t, strlen(t)) : AC_OK;
    }
    if (strcmp(bt, "thinking") == 0) {
        const char *t = ac_sdk_json_string(cb, "thinking");
        return t && *t ? anth_host->emit_reasoning(sink, t, strlen(t)) : AC_OK;
    }
    if (strcmp(bt, "tool_use") != 0 || block_find(sink, index))
        return AC_OK; /* server tools, unknown kinds, a repeated start */

    const char *id = ac_sdk_json_string(cb, "id"), *name = ac_sdk_json_string(cb, "name");
    int json_out = name && strcmp(name, ANTH_JSON_TOOL) == 0;
    stream_state *ss = stream_get(sink);
    if (!ss)
        return AC_ENOMEM;
    ac_status rc = block_add(ss, index, json_out);
    if (rc == AC_EPROTOCOL)
        return protocol_error(call, "too many tool_use blocks");
    if (rc != AC_OK)
        return rc;
    tool_block *b = &ss->v[ss->n - 1];

    /* The start's input is {} and the real input follows as fragments;
     * a non-empty one (not seen live, allowed by the schema) is whole. */
    json_object *in = ac_sdk_json_object(cb, "input");
    size_t an = 0;
    char *args = NULL;
    if (in && json_object_object_length(in) > 0) {
        if (!(args = input_text(cb, &an, call)))
            return AC_ENOMEM;
        b->got_args = 1;
    }
    if (json_out)
        rc = args ? anth_host->emit_text(sink, args, an) : AC_OK;
    else
        rc = anth_host->emit_tool_call(sink, index, id ? id : "", name ? name : "",
                                       args, an, args != NULL);
    anth_host->free(args);
    return rc;
}

static ac_status on_block_delta(json_object *root, int index, ac_sink *sink)
{
    json_object *d = ac_sdk_json_object(root, "delta");
    const char *dt = ac_sdk_json_string(d, "type");
    if (!dt)
        return AC_OK;
    if (strcmp(dt, "text_delta") == 0) {
        const char *t = ac_sdk_json_string(d, "text");
        return t && *t ? anth_host->emit_text(sink, t, strlen(t)) : AC_OK;
    }
    if (strcmp(dt, "thinking_delta") == 0) {
        const char *t = ac_sdk_json_string(d, "thinking");
        return t && *t ? anth_host->emit_reasoning(sink, t, strlen(t)) : AC_OK;
    }
    if (strcmp(dt, "input_json_delta") == 0) {
        tool_block *b = block_find(sink, index);
        const char *p = ac_sdk_json_string(d, "partial_json");
        /* The first fragment is usually "": nothing to add. */
        if (!b || b->ended || !p || !*p)
            return AC_OK;
        b->got_args = 1;
        if (b->json_out)
            return anth_host->emit_text(sink, p, strlen(p));
        return anth_host->emit_tool_call(sink, index, NULL, NULL, p, strlen(p), 0);
    }
    return AC_OK; /* signature_delta, citations_delta, newer kinds */
}

static ac_status on_block_stop(int index, ac_sink *sink)
{
    tool_block *b = block_find(sink, index);
    if (!b || b->ended)
        return AC_OK;
    b->ended = 1;
    ac_status rc = AC_OK;
    if (!b->got_args) /* a tool without input sends no fragment: {} */
        rc = b->json_out ? anth_host->emit_text(sink, "{}", 2)
                         : anth_host->emit_tool_call(sink, index, NULL, NULL,
                                                     "{}", 2, 1);
    if (rc == AC_OK && !b->json_out)
        rc = anth_host->emit_tool_call_end(sink, index);
    return rc;
}

static ac_status on_message_delta(json_object *root, ac_sink *sink)
{
    ac_status rc = AC_OK;
    json_object *usage = ac_sdk_json_object(root, "usage");
    /* output_tokens here is the running total, not an increment; live
     * streams repeat input_tokens too.  Usage goes before finish. */
    if (usage)
        rc = anth_host->emit_usage(sink, usage_count(usage, "input_tokens"),
                                   usage_count(usage, "output_tokens"));
    const char *stop = ac_sdk_json_string(ac_sdk_json_object(root, "delta"), "stop_reason");
    if (rc == AC_OK && stop) {
        void **slot = anth_host->stream_slot(sink);
        stream_state *ss = slot ? *slot : NULL;
        rc = anth_host->emit_finish(sink, finish_map(stop, ss ? ss->real_tools : 0,
                                                     ss ? ss->json_out : 0),
                                    stop);
    }
    return rc;
}

ac_status anth_parse_event(void *state, const ac_frame *ev, ac_sink *sink,
                           ac_call *call)
{
    (void)state;
    ac_status rc = AC_OK;
    json_object *root = NULL, *eo = NULL;
    if (!ev)
        return AC_OK;
    if (!ev->data || ev->data_len == 0) {
        /* `event: error` with no data still ends the stream. */
        if (ev->event && strcmp(ev->event, "error") == 0)
            return anth_error_from_object(NULL, "error in stream", call);
        return AC_OK;
    }

    root = anth_host->json_parse(call, ev->data, ev->data_len, "stream event");
    if (!root)
        return AC_EJSON;
    if (!json_object_is_type(root, json_type_object)) {
        rc = protocol_error(call, "a stream event that is not a JSON object");
        goto done;
    }
    const char *type = ac_sdk_json_string(root, "type");
    if (!type)
        type = ev->event ? ev->event : "";
    if (is_error(root, type, &eo)) {
        rc = anth_error_from_object(eo, "error in stream", call);
        goto done;
    }

    int block_event = strncmp(type, "content_block_", 14) == 0;
    int index = block_event ? event_index(root) : -1;
    if (block_event && index < 0) {
        rc = protocol_error(call, "a content block event without a valid index");
        goto done;
    }

    if (strcmp(type, "message_start") == 0)
        rc = on_message_start(root, sink);
    else if (strcmp(type, "content_block_start") == 0)
        rc = on_block_start(root, index, sink, call);
    else if (strcmp(type, "content_block_delta") == 0)
        rc = on_block_delta(root, index, sink);
    else if (strcmp(type, "content_block_stop") == 0)
        rc = on_block_stop(index, sink);
    else if (strcmp(type, "message_delta") == 0)
        rc = on_message_delta(root, sink);
    /* message_stop, ping and event types added later: nothing to do.
     * A failed emit's code is returned as is. */
done:
    json_object_put(root);
    return rc;
}
