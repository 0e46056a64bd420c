/*
 * gw_out_anthropic.c -- replies in Anthropic's Messages shape.
 *
 * A stream is the event sequence Anthropic sends: message_start; per
 * content block a content_block_start, its deltas (text_delta,
 * thinking_delta, input_json_delta) and a content_block_stop;
 * message_delta with the stop reason and usage; message_stop.  An error
 * after the stream began is an `event: error`.
 *
 * Blocks cannot interleave in this format, but a backend may interleave
 * tool calls (OpenAI numbers its deltas by index).  The first call opens
 * a block and streams its argument fragments as they come; a call that
 * starts while another's block is open is held back and written whole, in
 * a block of its own, when its END arrives and no block is open (its
 * arguments are what the core's END event carries anyway).  With a JSON
 * Schema the text is not streamed: the validated document is sent as
 * one text block once known (see gw_out_openai.c).
 *
 * Thread-safety: a gw_emit belongs to one request, on the loop thread.
 */
#include "gw.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

enum { K_NONE = 0, K_TEXT, K_THINKING, K_TOOL };

static void event(jbuf *out, const char *name)
{
    jb_fmt(out, "event: %s\ndata: ", name);
}

static void preamble(gw_emit *m, jbuf *out)
{
    if (m->started)
        return;
    event(out, "message_start");
    jb_fmt(out, "{\"type\":\"message_start\",\"message\":{\"id\":\"%s\",\"type\":\"message\","
                "\"role\":\"assistant\",\"model\":", m->id);
    jb_qstr(out, m->model);
    jb_cstr(out, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                 "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n");
    m->started = 1;
}

static void close_block(gw_emit *m, jbuf *out)
{
    if (m->open_block < 0)
        return;
    event(out, "content_block_stop");
    jb_fmt(out, "{\"type\":\"content_block_stop\",\"index\":%d}\n\n", m->open_block);
    if (m->open_kind == K_TOOL && m->open_tool >= 0 && m->tools)
        m->tools[m->open_tool].closed = 1;
    m->open_block = -1;
    m->open_kind = K_NONE;
    m->open_tool = -1;
}

/* Open a block of kind (closing another): its content_block_start. */
static void open_block(gw_emit *m, jbuf *out, int kind, const char *id, const char *name)
{
    close_block(m, out);
    m->open_tool = -1;
    m->open_block = m->next_block++;
    m->open_kind = kind;
    event(out, "content_block_start");
    jb_fmt(out, "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":",
           m->open_block);
    if (kind == K_TEXT) {
        jb_cstr(out, "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    } else if (kind == K_THINKING) {
        jb_cstr(out, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n");
    } else {
        jb_cstr(out, "{\"type\":\"tool_use\",\"id\":");
        jb_qstr(out, id);
        jb_cstr(out, ",\"name\":");
        jb_qstr(out, name);
        jb_cstr(out, ",\"input\":{}}}\n\n");
    }
}

static void delta(gw_emit *m, jbuf *out, const char *type, const char *field, const char *s,
                  size_t n)
{
    event(out, "content_block_delta");
    jb_fmt(out, "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"%s\","
                "\"%s\":", m->open_block, type, field);
    jb_str(out, s, n);
    jb_cstr(out, "}}\n\n");
}

/* Write every held-back call that has ended, each whole in its block. */
static void flush_deferred(gw_emit *m, jbuf *out)
{
    for (int i = 0; m->tools && i < GW_MAX_TOOLS; i++) {
        gw_tool_state *t = &m->tools[i];
        if (!t->deferred || !t->args || t->closed)
            continue;
        open_block(m, out, K_TOOL, t->id, t->name);
        m->open_tool = i;
        if (*t->args)
            delta(m, out, "input_json_delta", "partial_json", t->args, strlen(t->args));
        close_block(m, out);
    }
}

static char *dup0(const char *s) { return strdup(s ? s : ""); }

void gw_an_event(gw_emit *m, jbuf *out, const ac_chunk *c)
{
    preamble(m, out);
    int i = c->index;
    int tool = c->type == AC_EVENT_TOOL_CALL_START || c->type == AC_EVENT_TOOL_CALL_DELTA ||
               c->type == AC_EVENT_TOOL_CALL_END;
    gw_tool_state *t = tool ? gw_emit_tool(m, out, i) : NULL;
    char idbuf[64];
    switch (c->type) {
    case AC_EVENT_TEXT:
        if (m->structured || !c->len)
            break;
        if (m->open_kind != K_TEXT)
            open_block(m, out, K_TEXT, NULL, NULL);
        delta(m, out, "text_delta", "text", c->text, c->len);
        break;
    case AC_EVENT_REASONING:
        if (!c->data_len)
            break;
        if (m->open_kind != K_THINKING)
            open_block(m, out, K_THINKING, NULL, NULL);
        delta(m, out, "thinking_delta", "thinking", c->data, c->data_len);
        break;
    case AC_EVENT_TOOL_CALL_START: {
        if (!t)
            break;
        const char *id = gw_call_id(m, c->tool_call_id, i, idbuf, sizeof idbuf);
        if (m->open_kind == K_TOOL) {
            /* Another call's block is open: this one waits, whole. */
            t->deferred = 1;
            t->id = dup0(id);
            t->name = dup0(c->tool_name);
            if (!t->id || !t->name)
                out->oom = 1;
            break;
        }
        open_block(m, out, K_TOOL, id, c->tool_name ? c->tool_name : "");
        m->open_tool = i;
        t->block = m->open_block;
        break;
    }
    case AC_EVENT_TOOL_CALL_DELTA:
        if (t && !t->deferred && m->open_kind == K_TOOL && m->open_tool == i && c->data_len) {
            delta(m, out, "input_json_delta", "partial_json", c->data, c->data_len);
            t->sent += c->data_len;
        }
        break;
    case AC_EVENT_TOOL_CALL_END:
        if (!t)
            break;
        if (t->deferred) {
            if (!(t->args = dup0(c->data)))
                out->oom = 1;
            if (m->open_block < 0)
                flush_deferred(m, out);
            break;
        }
        if (m->open_kind == K_TOOL && m->open_tool == i) {
            if (t->sent == 0 && c->data_len)
                delta(m, out, "input_json_delta", "partial_json", c->data, c->data_len);
            close_block(m, out);
            flush_deferred(m, out);
        }
        break;
    case AC_EVENT_FINISH:
        if (m->structured && c->json) {
            open_block(m, out, K_TEXT, NULL, NULL);
            delta(m, out, "text_delta", "text", c->json, c->json_len);
        }
        break;
    default: break;
    }
}

static const char *stop_reason(const char *finish, const char *raw)
{
    static const char *const own[] = {"end_turn", "max_tokens", "stop_sequence", "tool_use",
                                      "pause_turn", "refusal"};
    for (size_t i = 0; raw && i < sizeof own / sizeof own[0]; i++)
        if (strcmp(raw, own[i]) == 0)
            return own[i];
    if (!finish)
        return "end_turn";
    if (strcmp(finish, "length") == 0)
        return "max_tokens";
    if (strcmp(finish, "tool_calls") == 0)
        return "tool_use";
    if (strcmp(finish, "content_filter") == 0)
        return "refusal";
    return "end_turn";
}

void gw_an_end(gw_emit *m, jbuf *out, ac_status st, const gw_err *e)
{
    if (st != AC_OK) {
        event(out, "error");
        gw_an_error(out, e);
        jb_cstr(out, "\n\n");
        return;
    }
    preamble(m, out);
    close_block(m, out);
    flush_deferred(m, out);
    event(out, "message_delta");
    jb_fmt(out, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\","
                "\"stop_sequence\":null},\"usage\":{\"input_tokens\":%ld,\"output_tokens\":%ld}}"
                "\n\n", stop_reason(m->finish, m->raw_finish), m->in_tok < 0 ? 0 : m->in_tok,
           m->out_tok < 0 ? 0 : m->out_tok);
    event(out, "message_stop");
    jb_cstr(out, "{\"type\":\"message_stop\"}\n\n");
}

/* A tool call's arguments as an object's text: "{}" when they are not
 * one (a call the backend cut off). */
static void input_object(jbuf *out, const char *args)
{
    json_object *o = args ? json_tokener_parse(args) : NULL;
    if (o && json_object_is_type(o, json_type_object))
        jb_cstr(out, gw_jtext(o));
    else
        jb_cstr(out, "{}");
    json_object_put(o);
}

void gw_an_body(gw_emit *m, jbuf *out, const ac_response *r)
{
    jb_fmt(out, "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", m->id);
    jb_qstr(out, m->model);
    jb_cstr(out, ",\"content\":[");
    int n = 0;
    if (*ac_response_reasoning(r)) {
        jb_cstr(out, "{\"type\":\"thinking\",\"thinking\":");
        jb_qstr(out, ac_response_reasoning(r));
        jb_cstr(out, ",\"signature\":\"\"}");
        n++;
    }
    const char *json = m->structured ? ac_response_json_text(r) : NULL;
    if (json || ac_response_content_len(r)) {
        jb_cstr(out, n++ ? ",{\"type\":\"text\",\"text\":" : "{\"type\":\"text\",\"text\":");
        if (json)
            jb_qstr(out, json);
        else
            jb_str(out, ac_response_content(r), ac_response_content_len(r));
        jb_cstr(out, "}");
    }
    for (size_t i = 0; i < ac_response_tool_call_count(r); i++) {
        char idbuf[64];
        jb_cstr(out, n++ ? ",{\"type\":\"tool_use\",\"id\":" : "{\"type\":\"tool_use\",\"id\":");
        jb_qstr(out, gw_call_id(m, ac_response_tool_call_id(r, i), (int)i, idbuf, sizeof idbuf));
        jb_cstr(out, ",\"name\":");
        jb_qstr(out, ac_response_tool_call_name(r, i));
        jb_cstr(out, ",\"input\":");
        input_object(out, ac_response_tool_call_arguments(r, i));
        jb_cstr(out, "}");
    }
    long in = ac_response_input_tokens(r), outn = ac_response_output_tokens(r);
    jb_fmt(out, "],\"stop_reason\":\"%s\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":%ld,"
                "\"output_tokens\":%ld}}",
           stop_reason(ac_response_finish_reason(r), ac_response_raw_finish_reason(r)),
           in < 0 ? 0 : in, outn < 0 ? 0 : outn);
}

static const char *an_type(int status)
{
    switch (status) {
    case 400: case 405: case 409: case 415: case 422: case 431: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: case 529: return "overloaded_error";
    default: return "api_error";
    }
}

void gw_an_error(jbuf *out, const gw_err *e)
{
    jb_fmt(out, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":", an_type(e->status));
    jb_qstr(out, e->message);
    jb_cstr(out, "}}");
}
