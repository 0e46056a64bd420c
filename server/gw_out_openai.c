/*
 * gw_out_openai.c -- replies in OpenAI's Chat Completions shape, and the
 * entry points that pick a shape (gw_emit_*).
 *
 * A stream is passed through event by event: each core event becomes one
 * `data: {chat.completion.chunk}` SSE event as it arrives -- a role chunk
 * first, then content, reasoning (as `reasoning_content`, the field
 * OpenAI-compatible servers use) and tool-call deltas with their index;
 * the finish reason in a last chunk; with stream_options.include_usage a
 * usage chunk with empty choices; then `data: [DONE]`.  An error after
 * the stream began is OpenAI's in-stream error object (which the official
 * SDKs raise), then [DONE].
 *
 * One exception to the pass-through: with a JSON Schema the core may ask
 * the model again when a reply does not match, so the text is not sent as
 * it comes; the validated document is sent as the content once it is
 * known (the core keeps the reply until then anyway).
 *
 * Thread-safety: a gw_emit belongs to one request, on the loop thread.
 */
#include "gw.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Both shapes                                                         */
/* ------------------------------------------------------------------ */

void gw_emit_init(gw_emit *m, gw_api api, const char *model, int structured, int include_usage)
{
    static unsigned long long seq;
    static unsigned salt;
    if (!salt)
        salt = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    memset(m, 0, sizeof *m);
    m->api = api;
    m->model = model;
    m->structured = structured;
    m->include_usage = include_usage;
    m->created = (long long)time(NULL);
    m->open_block = -1;
    m->in_tok = m->out_tok = -1;
    snprintf(m->id, sizeof m->id, "%s%08x%016llx", api == GW_API_OPENAI ? "chatcmpl-" : "msg_",
             salt, ++seq);
}

gw_tool_state *gw_emit_tool(gw_emit *m, jbuf *out, int i)
{
    if (i < 0 || i >= GW_MAX_TOOLS)
        return NULL;
    if (!m->tools) {
        if (!(m->tools = calloc(GW_MAX_TOOLS, sizeof *m->tools))) {
            out->oom = 1;
            return NULL;
        }
        for (int k = 0; k < GW_MAX_TOOLS; k++)
            m->tools[k].block = -1;
    }
    return &m->tools[i];
}

void gw_emit_free(gw_emit *m)
{
    for (int i = 0; m->tools && i < GW_MAX_TOOLS; i++) {
        free(m->tools[i].id);
        free(m->tools[i].name);
        free(m->tools[i].args);
    }
    free(m->tools);
    m->tools = NULL;
}

void gw_emit_event(gw_emit *m, jbuf *out, const ac_chunk *c)
{
    if (c->type == AC_EVENT_USAGE) {
        m->in_tok = c->input_tokens;
        m->out_tok = c->output_tokens;
    }
    if (c->type == AC_EVENT_FINISH) {
        snprintf(m->finish_buf, sizeof m->finish_buf, "%s", c->finish_reason ? c->finish_reason : "");
        snprintf(m->raw_buf, sizeof m->raw_buf, "%s",
                 c->raw_finish_reason ? c->raw_finish_reason : "");
        m->finish = m->finish_buf;
        m->raw_finish = m->raw_buf;
    }
    if (m->api == GW_API_OPENAI)
        gw_oa_event(m, out, c);
    else
        gw_an_event(m, out, c);
}

void gw_emit_end(gw_emit *m, jbuf *out, ac_status st, const gw_err *e)
{
    if (m->ended)
        return;
    if (m->api == GW_API_OPENAI)
        gw_oa_end(m, out, st, e);
    else
        gw_an_end(m, out, st, e);
    m->ended = 1;
}

void gw_emit_body(gw_emit *m, jbuf *out, const ac_response *r)
{
    if (m->api == GW_API_OPENAI)
        gw_oa_body(m, out, r);
    else
        gw_an_body(m, out, r);
}

void gw_emit_error(gw_api api, jbuf *out, const gw_err *e)
{
    if (api == GW_API_OPENAI)
        gw_oa_error(out, e);
    else
        gw_an_error(out, e);
}

const char *gw_call_id(const gw_emit *m, const char *given, int index, char *buf, size_t n)
{
    if (given && *given)
        return given;
    /* A backend without call ids (Ollama): one the client can answer. */
    const char *tail = strchr(m->id, '-') ? strchr(m->id, '-') + 1 : strchr(m->id, '_') + 1;
    snprintf(buf, n, "%s%s_%d", m->api == GW_API_OPENAI ? "call_" : "toolu_", tail, index);
    return buf;
}

/* ------------------------------------------------------------------ */
/* OpenAI                                                              */
/* ------------------------------------------------------------------ */

static void chunk_head(gw_emit *m, jbuf *out)
{
    jb_fmt(out, "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
                "\"model\":", m->id, m->created);
    jb_qstr(out, m->model);
    jb_cstr(out, ",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":");
}

static void chunk_tail(jbuf *out, const char *finish)
{
    jb_cstr(out, ",\"logprobs\":null,\"finish_reason\":");
    jb_qstr(out, finish);
    jb_cstr(out, "}]}\n\n");
}

static void delta_text(gw_emit *m, jbuf *out, const char *field, const char *s, size_t n)
{
    chunk_head(m, out);
    jb_fmt(out, "{\"%s\":", field);
    jb_str(out, s, n);
    jb_cstr(out, "}");
    chunk_tail(out, NULL);
}

static void tool_delta(gw_emit *m, jbuf *out, int index, const char *id, const char *name,
                       const char *args, size_t n)
{
    chunk_head(m, out);
    jb_fmt(out, "{\"tool_calls\":[{\"index\":%d,", index);
    if (id) {
        jb_cstr(out, "\"id\":");
        jb_qstr(out, id);
        jb_cstr(out, ",\"type\":\"function\",");
    }
    jb_cstr(out, "\"function\":{");
    if (name) {
        jb_cstr(out, "\"name\":");
        jb_qstr(out, name);
        jb_cstr(out, ",");
    }
    jb_cstr(out, "\"arguments\":");
    jb_str(out, args, n);
    jb_cstr(out, "}}]}");
    chunk_tail(out, NULL);
}

static const char *oa_finish(const gw_emit *m)
{
    const char *f = m->finish;
    if (!f || !*f || strcmp(f, "error") == 0)
        return "stop";
    return f;
}

void gw_oa_event(gw_emit *m, jbuf *out, const ac_chunk *c)
{
    if (!m->started) {
        chunk_head(m, out);
        jb_cstr(out, "{\"role\":\"assistant\",\"content\":\"\"}");
        chunk_tail(out, NULL);
        m->started = 1;
    }
    int i = c->index;
    int tool = c->type == AC_EVENT_TOOL_CALL_START || c->type == AC_EVENT_TOOL_CALL_DELTA ||
               c->type == AC_EVENT_TOOL_CALL_END;
    gw_tool_state *t = tool ? gw_emit_tool(m, out, i) : NULL;
    char idbuf[64];
    switch (c->type) {
    case AC_EVENT_TEXT:
        if (!m->structured && c->len)
            delta_text(m, out, "content", c->text, c->len);
        break;
    case AC_EVENT_REASONING:
        if (c->data_len)
            delta_text(m, out, "reasoning_content", c->data, c->data_len);
        break;
    case AC_EVENT_TOOL_CALL_START:
        tool_delta(m, out, i, gw_call_id(m, c->tool_call_id, i, idbuf, sizeof idbuf),
                   c->tool_name ? c->tool_name : "", "", 0);
        break;
    case AC_EVENT_TOOL_CALL_DELTA:
        if (c->data_len) {
            tool_delta(m, out, i, NULL, NULL, c->data, c->data_len);
            if (t)
                t->sent += c->data_len;
        }
        break;
    case AC_EVENT_TOOL_CALL_END:
        /* A backend that sends a call whole (or a prompted call parsed out
         * of the text) gave no deltas: the arguments go now. */
        if (t && t->sent == 0 && c->data_len)
            tool_delta(m, out, i, NULL, NULL, c->data, c->data_len);
        break;
    case AC_EVENT_FINISH:
        if (m->structured && c->json)
            delta_text(m, out, "content", c->json, c->json_len);
        break;
    default: break;
    }
}

static void usage_json(jbuf *out, long in, long outn)
{
    long i = in < 0 ? 0 : in, o = outn < 0 ? 0 : outn;
    jb_fmt(out, "{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld}", i, o,
           i + o);
}

void gw_oa_end(gw_emit *m, jbuf *out, ac_status st, const gw_err *e)
{
    if (st != AC_OK) {
        jb_cstr(out, "data: ");
        gw_oa_error(out, e);
        jb_cstr(out, "\n\ndata: [DONE]\n\n");
        return;
    }
    if (!m->started) {
        chunk_head(m, out);
        jb_cstr(out, "{\"role\":\"assistant\",\"content\":\"\"}");
        chunk_tail(out, NULL);
        m->started = 1;
    }
    chunk_head(m, out);
    jb_cstr(out, "{}");
    chunk_tail(out, oa_finish(m));
    if (m->include_usage) {
        jb_fmt(out, "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
                    "\"model\":", m->id, m->created);
        jb_qstr(out, m->model);
        jb_cstr(out, ",\"system_fingerprint\":null,\"choices\":[],\"usage\":");
        usage_json(out, m->in_tok, m->out_tok);
        jb_cstr(out, "}\n\n");
    }
    jb_cstr(out, "data: [DONE]\n\n");
}

void gw_oa_body(gw_emit *m, jbuf *out, const ac_response *r)
{
    jb_fmt(out, "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":", m->id,
           m->created);
    jb_qstr(out, m->model);
    jb_cstr(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    size_t ncalls = ac_response_tool_call_count(r);
    const char *json = m->structured ? ac_response_json_text(r) : NULL;
    if (json)
        jb_qstr(out, json);
    else if (ac_response_content_len(r) || !ncalls)
        jb_str(out, ac_response_content(r), ac_response_content_len(r));
    else
        jb_cstr(out, "null");
    jb_cstr(out, ",\"refusal\":null");
    if (*ac_response_reasoning(r)) {
        jb_cstr(out, ",\"reasoning_content\":");
        jb_qstr(out, ac_response_reasoning(r));
    }
    if (ncalls) {
        jb_cstr(out, ",\"tool_calls\":[");
        for (size_t i = 0; i < ncalls; i++) {
            char idbuf[64];
            jb_cstr(out, i ? ",{\"id\":" : "{\"id\":");
            jb_qstr(out, gw_call_id(m, ac_response_tool_call_id(r, i), (int)i, idbuf,
                                    sizeof idbuf));
            jb_cstr(out, ",\"type\":\"function\",\"function\":{\"name\":");
            jb_qstr(out, ac_response_tool_call_name(r, i));
            jb_cstr(out, ",\"arguments\":");
            jb_qstr(out, ac_response_tool_call_arguments(r, i));
            jb_cstr(out, "}}");
        }
        jb_cstr(out, "]");
    }
    const char *f = ac_response_finish_reason(r);
    m->finish = f;
    jb_cstr(out, "},\"logprobs\":null,\"finish_reason\":");
    jb_qstr(out, oa_finish(m));
    jb_cstr(out, "}],\"usage\":");
    usage_json(out, ac_response_input_tokens(r), ac_response_output_tokens(r));
    jb_cstr(out, ",\"system_fingerprint\":null}");
}

void gw_oa_error(jbuf *out, const gw_err *e)
{
    jb_cstr(out, "{\"error\":{\"message\":");
    jb_qstr(out, e->message);
    jb_cstr(out, ",\"type\":");
    jb_qstr(out, e->type[0] ? e->type : "server_error");
    jb_cstr(out, ",\"param\":");
    jb_qstr(out, e->param[0] ? e->param : NULL);
    jb_cstr(out, ",\"code\":");
    jb_qstr(out, e->code[0] ? e->code : NULL);
    jb_cstr(out, "}}");
}
