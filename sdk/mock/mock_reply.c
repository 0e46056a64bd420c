/*
 * mock_reply.c -- which route a request takes and what the mock server
 * answers it: status, Content-Type, and a complete body or a generator for
 * a stream.  Sending it (pacing, faults on the wire) is mock_send.c.
 *
 * Every request with a scenario (chat, count_tokens, embeddings) goes the
 * same way: pick the scenario by model (and the step by the history),
 * count the request against fail_times, and either fail it as scripted
 * or build the reply, unless the scenario wants an HTML page or garbage
 * instead.  Runs on libmicrohttpd's thread; see mock_internal.h.
 */
#include <config.h>

#include "mock_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_HF_PREFIX "/hf-inference/models/"
#define REPLY_HF_SUFFIX "/pipeline/feature-extraction"

/* ---- routes ---- */

/* POST /hf-inference/models/<model>/pipeline/feature-extraction; the model
   may hold slashes (sentence-transformers/all-MiniLM-L6-v2). */
static bool reply_hf_path(mock_req *q)
{
    size_t n = strlen(q->url), pre = strlen(REPLY_HF_PREFIX), suf = strlen(REPLY_HF_SUFFIX);
    if (n <= pre + suf || strncmp(q->url, REPLY_HF_PREFIX, pre) ||
        strcmp(q->url + n - suf, REPLY_HF_SUFFIX))
        return false;
    free(q->path_model);
    q->path_model = strndup(q->url + pre, n - pre - suf);
    return true; /* a failed strndup only loses the model name */
}

enum req_route mock_reply_route(mock_req *q)
{
    static const struct {
        const char *path, *method;
        enum req_route route;
        mock_proto proto;
    } tbl[] = {
        { "/v1/chat/completions", "POST", RT_CHAT, MOCK_PROTO_OPENAI },
        { "/chat/completions", "POST", RT_CHAT, MOCK_PROTO_OPENAI },
        { "/v1/messages", "POST", RT_CHAT, MOCK_PROTO_ANTHROPIC },
        { "/v1/messages/count_tokens", "POST", RT_COUNT, MOCK_PROTO_ANTHROPIC },
        { "/api/chat", "POST", RT_CHAT, MOCK_PROTO_OLLAMA },
        { "/v1/embeddings", "POST", RT_EMBED, MOCK_PROTO_OPENAI },
        { "/embeddings", "POST", RT_EMBED, MOCK_PROTO_OPENAI },
        { "/api/embed", "POST", RT_EMBED, MOCK_PROTO_OLLAMA },
        { "/api/embeddings", "POST", RT_EMBED, MOCK_PROTO_OLLAMA },
        { "/embed", "POST", RT_EMBED, MOCK_PROTO_TEI },
        { "/v1/models", "GET", RT_MODELS, MOCK_PROTO_OPENAI },
        { "/models", "GET", RT_MODELS, MOCK_PROTO_OPENAI },
        { "/api/tags", "GET", RT_MODELS, MOCK_PROTO_OLLAMA },
        { "/", "GET", RT_ROOT, MOCK_PROTO_OPENAI },
        { "/health", "GET", RT_ROOT, MOCK_PROTO_OPENAI },
    };
    q->proto = strncmp(q->url, "/api/", 5) ? MOCK_PROTO_OPENAI : MOCK_PROTO_OLLAMA;
    if (q->m->script.base.any_path) {
        /* A protocol the mock does not speak: the script's raw bytes
         * answer whatever the request is. */
        q->allow = "GET, HEAD, POST";
        return RT_CHAT;
    }
    for (size_t i = 0; i < sizeof tbl / sizeof tbl[0]; i++) {
        if (strcmp(q->url, tbl[i].path))
            continue;
        q->proto = tbl[i].proto;
        q->embed_legacy = !strcmp(tbl[i].path, "/api/embeddings");
        q->allow = tbl[i].method[0] == 'G' ? "GET, HEAD" : "POST";
        if (strcmp(q->method, tbl[i].method) &&
            !(tbl[i].method[0] == 'G' && !strcmp(q->method, "HEAD")))
            return RT_BAD_METHOD;
        return tbl[i].route;
    }
    if (reply_hf_path(q)) {
        q->proto = MOCK_PROTO_HF;
        q->allow = "POST";
        return strcmp(q->method, "POST") ? RT_BAD_METHOD : RT_EMBED;
    }
    return RT_NOT_FOUND;
}

/* ---- pieces every scripted route shares ---- */

static int reply_error(mock_req *q, long status, const char *message)
{
    q->status = status;
    q->is_error = true;
    return mock_proto_error_body(q->proto, status, message, NULL, NULL, &q->body_out);
}

/*
 * The scenario's own failures: fail_times and status (counted per
 * scenario or step), and the wait before the headers.  Returns 1 when the
 * request fails as scripted (body decided), 0 to go on, -1 on OOM.
 * *seq receives the request's number, for ids.
 */
static int reply_scripted(mock_req *q, unsigned long long *seq)
{
    mock_server *m = q->m;
    const mock_scenario *sc = q->sc;
    long fail_status = sc->status != 200 ? sc->status : sc->fail_times > 0 ? 500 : 200;

    pthread_mutex_lock(&m->mu);
    *seq = ++m->seq;
    bool fail = fail_status != 200 && (sc->fail_times == 0 || m->fails[sc->slot] < sc->fail_times);
    if (fail)
        m->fails[sc->slot]++;
    pthread_mutex_unlock(&m->mu);

    q->due = mock_now_ms() + (uint64_t)sc->first_byte_delay_ms;
    if (!fail)
        return 0;
    q->status = fail_status;
    q->is_error = true;
    if (sc->error_body)
        return mock_buf_puts(&q->body_out, sc->error_body) < 0 ? -1 : 1;
    if (sc->html) {
        q->ctype = sc->content_type ? sc->content_type : "text/html";
        return mock_fault_html(fail_status, &q->body_out) < 0 ? -1 : 1;
    }
    if (sc->raw) {
        /* e.g. a proxy's error page: the script's bytes, as they are */
        q->ctype = sc->content_type;
        return mock_buf_puts(&q->body_out, sc->raw) < 0 ? -1 : 1;
    }
    char rid[48];
    snprintf(rid, sizeof rid, "req_mock%06llu", *seq);
    return mock_proto_error_body(q->proto, fail_status, sc->error_message, sc->error_type, rid,
                                 &q->body_out) < 0 ? -1 : 1;
}

/* html and garbage replace a successful reply on routes without a
   generator.  1 when they did, 0 if not, -1 on OOM. */
static int reply_instead(mock_req *q)
{
    const mock_scenario *sc = q->sc;
    q->status = 200;
    if (sc->html) {
        q->ctype = sc->content_type ? sc->content_type : "text/html";
        return mock_fault_html(200, &q->body_out) < 0 ? -1 : 1;
    }
    if (sc->garbage >= 0) {
        q->ctype = sc->content_type;
        if (mock_buf_append(&q->body_out, "", 0) < 0)
            return -1;
        char *g = malloc((size_t)sc->garbage + 1);
        if (!g)
            return -1;
        mock_fault_garbage(sc->garbage_seed, g, (size_t)sc->garbage);
        int rc = mock_buf_append(&q->body_out, g, (size_t)sc->garbage);
        free(g);
        return rc < 0 ? -1 : 1;
    }
    return 0;
}

/* Parse a chat or count_tokens body: 0, 1 (answered 400), -1 (OOM). */
static int reply_parse_chat(mock_req *q)
{
    char err[200];
    if (q->too_big)
        return reply_error(q, 413, "request body too large for the mock server") < 0 ? -1 : 1;
    int r = mock_proto_parse_request(q->proto, q->body.data, q->body.len, &q->info, err, sizeof err);
    if (r == -2)
        return -1;
    /* any_path plays a protocol the mock does not know: a body that is
     * not a JSON object (a GET, a form) is that protocol's business. */
    if (r == -1 && q->m->script.base.any_path) {
        memset(&q->info, 0, sizeof q->info);
        return 0;
    }
    if (r == -1)
        return reply_error(q, 400, err) < 0 ? -1 : 1;
    return mock_server_set_images(q->m, &q->info) < 0 ? -1 : 0;
}

/* ---- chat ---- */

static int reply_chat(mock_req *q)
{
    unsigned long long seq;
    int r = reply_parse_chat(q);
    if (r)
        return r < 0 ? -1 : 0;
    const mock_scenario *sc = mock_script_find(&q->m->script, q->info.model);
    sc = mock_script_step(sc, q->info.assistant_msgs);
    if (sc->after_tool_result && q->info.ends_with_tool_result) {
        /* The tool's result came back: answer it in words, as a model
           would, instead of calling the tool again.  A shallow copy that
           borrows the script's strings. */
        q->after_tool = *sc;
        q->after_tool.tools = NULL;
        q->after_tool.ntools = 0;
        q->after_tool.reply = q->after_tool.after_tool_result;
        q->after_tool.echo = false;
        q->after_tool.finish_reason = NULL;
        sc = &q->after_tool;
    }
    q->sc = sc;
    if ((r = reply_scripted(q, &seq)) != 0)
        return r < 0 ? -1 : 0;
    q->status = 200;
    if (sc->html) {
        q->ctype = sc->content_type ? sc->content_type : "text/html";
        return mock_fault_html(200, &q->body_out);
    }
    if (!(q->gen = mock_gen_new(q->proto, sc, &q->info, seq)))
        return -1;
    q->ctype = mock_gen_content_type(q->gen);
    /* An endless reply never has a complete body: it goes as a stream. */
    q->streaming = q->info.stream || sc->endless != MOCK_ENDLESS_OFF;
    if (q->streaming)
        return 0;
    if (sc->hang)
        q->due = MOCK_WAIT_FOREVER;
    else /* a non-stream reply takes as long as the stream would have */
        q->due += (uint64_t)sc->delay_ms * (uint64_t)(sc->chunks - 1);
    return mock_gen_body(q->gen, &q->body_out);
}

/* ---- Anthropic count_tokens ---- */

static int reply_count(mock_req *q)
{
    unsigned long long seq;
    int r = reply_parse_chat(q);
    if (r)
        return r < 0 ? -1 : 0;
    q->sc = mock_script_find(&q->m->script, q->info.model);
    if ((r = reply_scripted(q, &seq)) != 0 || (r = reply_instead(q)) != 0)
        return r < 0 ? -1 : 0;
    char body[64];
    long long n = q->sc->has_usage ? q->sc->usage_in : (long long)q->info.words;
    snprintf(body, sizeof body, "{\"input_tokens\":%lld}", n);
    q->status = 200;
    q->ctype = q->sc->content_type;
    return mock_buf_puts(&q->body_out, body);
}

/* ---- embeddings ---- */

static int reply_embed(mock_req *q)
{
    mock_embed_req er;
    char err[200];
    unsigned long long seq;
    int r;

    if (q->too_big) {
        mock_server_count_embed(q->m, 0);
        return reply_error(q, 413, "request body too large for the mock server");
    }
    r = mock_embed_parse(q->proto, q->embed_legacy, q->body.data, q->body.len, &er, err, sizeof err);
    mock_server_count_embed(q->m, r == 0 ? er.n : 0);
    if (r == -2)
        goto oom;
    if (r == -1) {
        mock_embed_req_free(&er);
        return reply_error(q, 400, err);
    }
    const char *model = q->proto == MOCK_PROTO_HF && q->path_model ? q->path_model : er.model;
    q->sc = mock_script_find(&q->m->script, model);
    if ((r = reply_scripted(q, &seq)) != 0 || (r = reply_instead(q)) != 0) {
        mock_embed_req_free(&er);
        return r < 0 ? -1 : 0;
    }
    long refuse = mock_embed_check(q->proto, &er, q->sc, err, sizeof err);
    if (refuse) {
        mock_embed_req_free(&er);
        return reply_error(q, refuse, err);
    }
    const char *name = model && *model ? model
                       : q->sc->model && strcmp(q->sc->model, "default") ? q->sc->model
                                                                         : "mock-embedding";
    q->status = 200;
    q->ctype = q->sc->content_type;
    r = mock_embed_body(q->proto, &er, q->sc, name, &q->body_out);
    mock_embed_req_free(&er);
    return r;
oom:
    mock_embed_req_free(&er);
    return -1;
}

/* ---- everything ---- */

int mock_reply_decide(mock_req *q)
{
    mock_server *m = q->m;
    switch (q->route) {
    case RT_CHAT:
        return reply_chat(q);
    case RT_COUNT:
        return reply_count(q);
    case RT_EMBED:
        return reply_embed(q);
    case RT_MODELS: {
        /* GET /v1/models answers in Anthropic's shape to Anthropic clients. */
        const char *v = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "anthropic-version");
        if (v && q->proto == MOCK_PROTO_OPENAI)
            q->proto = MOCK_PROTO_ANTHROPIC;
        q->status = 200;
        return mock_proto_models(q->proto, m->models, m->nmodels, &q->body_out);
    }
    case RT_ROOT:
        q->status = 200;
        return mock_buf_puts(&q->body_out, "{\"status\":\"ok\",\"server\":\"acore-mockd\"}");
    case RT_BAD_METHOD:
        return reply_error(q, 405, "method not allowed on this path");
    default: {
        char msg[300];
        snprintf(msg, sizeof msg, "Invalid URL (%s %.200s): not a path the mock server serves",
                 q->method, q->url);
        return reply_error(q, 404, msg);
    }
    }
}
