/*
 * chat.c -- the chat kind (see chat.h) and the public ac_generate /
 * ac_agenerate.
 *
 * Structured output runs in rounds: when a JSON Schema is set, `end`
 * validates the reply; one that does not match, with attempts left, is
 * not finished but asked again (`again`): the reply and a user message
 * with the validation errors are appended, the RESTART event tells the
 * caller to drop what it has, and the engine starts the next round.
 * Features the backend lacks (tools, a structured mode) are prompted
 * (prompted.h).
 */
#include "chat_int.h"
#include "alloc.h"
#include "call.h"
#include "decoder.h"
#include "error.h"
#include "context.h"
#include "log.h"
#include "hook.h"
#include "message.h"
#include "media/media.h"
#include "params.h"
#include "prompted.h"
#include "structured/reply.h"
#include "structured/schema.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>


/* The chat request a plugin's ac_gen_request belongs to. */
static const chat_request *of_greq(const ac_gen_request *g)
{
    return (const chat_request *)(const void *)((const char *)g - offsetof(chat_request, greq));
}

const ac_message *ac__chat_message(const ac_gen_request *g, size_t i)
{
    const chat_request *c = g ? of_greq(g) : NULL;
    return c && i < c->n_msgs ? &c->msgs[i].pub : NULL;
}

const ac_tool_def *ac__chat_tool(const ac_gen_request *g, size_t i)
{
    const chat_request *c = g ? of_greq(g) : NULL;
    return c && i < c->params->n_tools ? &c->params->tools[i] : NULL;
}

static const ac_settings *settings_of(const ac_request *q) { return ac__llm_settings(q->llm); }

/* ------------------------------------------------------------------ */
/* The kind                                                            */
/* ------------------------------------------------------------------ */

static ac_status chat_frame(ac_request *q, const ac_frame *f, ac_error *err)
{
    ac_call call;
    ac__call_init(&call, q->llm->inst->name, settings_of(q), &q->cancel);
    ac_status st = q->llm->vt->parse_event(q->llm->state, f, &CHAT(q)->sink, &call);
    return ac__call_error(&call, st, "parse_event", err);
}

static ac_status chat_body(ac_request *q, decoder *d, int status, const char *body, size_t len,
                           ac_error *err)
{
    if (CHAT(q)->count_only) {
        ac_call call;
        ac__call_init(&call, q->llm->inst->name, settings_of(q), &q->cancel);
        long n = -1;
        ac_status st = q->llm->vt->parse_count_response(q->llm->state, body, len, &n, &call);
        st = ac__call_error(&call, st, "parse_count_response", err);
        if (st == AC_OK && n < 0) {
            ac__error_set(err, AC_EPLUGIN, AC_STAGE_PLUGIN, "the plugin read no token count");
            st = AC_EPLUGIN;
        }
        CHAT(q)->counted = n;
        return st;
    }
    ac_call call;
    ac__call_init(&call, q->llm->inst->name, settings_of(q), &q->cancel);
    ac_status st = q->llm->vt->parse_response(q->llm->state, status, body, len,
                                              &CHAT(q)->sink, &call);
    st = ac__call_error(&call, st, "parse_response", err);
    if (st == AC_OK && len) {
        ac__free(q->resp->raw_json);
        q->resp->raw_json = ac__decoder_take_body(d);
        if (!q->resp->raw_json) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory keeping the body");
            return AC_ENOMEM;
        }
    }
    return st;
}

/* Usage covers every round: earlier rounds' counts are added when every
 * round reported them. */
static void usage_total(chat_request *c)
{
    ac_response *r = c->base.resp;
    if (c->round == 1)
        return;
    r->input_tokens = c->used_in >= 0 && r->input_tokens >= 0 ? r->input_tokens + c->used_in
                                                               : -1;
    r->output_tokens = c->used_out >= 0 && r->output_tokens >= 0
                           ? r->output_tokens + c->used_out : -1;
}

/* "a; b; c" from the first lines of errors, to fit an error message. */
static void first_lines(const char *errors, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = errors; *p && o + 1 < cap; p++)
        out[o++] = *p == '\n' ? ';' : *p;
    out[o] = '\0';
}

/* Validate the reply: its document on the response, or (attempts left)
 * c->again with the feedback, or AC_ESCHEMA. */
static ac_status check_schema(chat_request *c, ac_error *err)
{
    ac_response *r = c->base.resp;
    char why[256];
    json_object *doc = ac__reply_json(ac_response_content(r), ac_response_content_len(r), why,
                                      sizeof why);
    char *errors = NULL;
    if (doc) {
        ac__schema_errors e = {0};
        ac_error ve;
        int v = ac__schema_validate(c->schema, doc, &e, &ve);
        if (v == 1) {
            ac__schema_errors_free(&e);
            const char *t = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
            if (!t || !(r->json_text = ac__strdup(t))) {
                json_object_put(doc);
                ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
                return AC_ENOMEM;
            }
            r->json = doc;
            return AC_OK;
        }
        if (v == 0) {
            errors = ac__schema_errors_text(&e, AC__RESP_SCHEMA_ERRORS);
            for (size_t i = 0; errors && i < e.count; i++) {
                const ac__schema_error *x = &e.items[i];
                if (ac__response_add_schema_error(r, x->instance_path, x->keyword,
                                                  x->schema_path, x->message) != 0) {
                    ac__free(errors);
                    errors = NULL;
                }
            }
        }
        ac__schema_errors_free(&e);
        json_object_put(doc);
        if (v < 0) {
            *err = ve;
            return ve.code;
        }
        if (!errors) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
            return AC_ENOMEM;
        }
    }
    r->schema_errors = errors ? errors : ac__asprintf("the reply %s", why);
    if (!r->schema_errors) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
        return AC_ENOMEM;
    }
    if (c->round < c->attempts) {
        if (!(c->feedback = ac__reply_feedback(why, errors))) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
            return AC_ENOMEM;
        }
        c->again = 1;
        return AC_OK;
    }
    char lines[AC_ERROR_MESSAGE_MAX];
    first_lines(r->schema_errors, lines, sizeof lines);
    ac__error_set(err, AC_ESCHEMA, AC_STAGE_PROTOCOL, "no reply matched the JSON Schema in %d "
                  "attempt%s; the last: %s", c->attempts, c->attempts == 1 ? "" : "s", lines);
    return AC_ESCHEMA;
}

static ac_status chat_end(ac_request *q, int streamed, ac_error *err)
{
    chat_request *c = CHAT(q);
    if (c->count_only)
        return AC_OK;
    ac_status st = ac__sink_complete(&c->sink, streamed, err);
    if (st == AC_OK && c->schema)
        st = check_schema(c, err);
    /* Said on the response that the caller gets (each try starts one
     * afresh): the backend refused a native form, the prompt carried it. */
    if (st == AC_OK && !c->again && c->force &&
        ac__response_warn(q->resp, "provider '%s', model '%s' refused the native %s; they "
                          "went in the prompt instead", q->llm->inst->name, q->llm->model,
                          ac__chat_forced_text(c->force)) != 0) {
        st = AC_ENOMEM;
        ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory");
    }
    if (st == AC_OK && !c->again) {
        usage_total(c);
        const ac_response *r = q->resp;
        ac__sink_deliver_end(&c->sink, r->json_text,
                             r->json_text ? strlen(r->json_text) : 0);
    } else if (st == AC_ESCHEMA) {
        usage_total(c);
    }
    if (st != AC_OK)
        ac__error_set_provider(err, q->llm->inst->name);
    ac__sink_cleanup(&c->sink); /* the plugin's per-response state */
    return st;
}

static size_t chat_delivered(const ac_request *q) { return CHAT(q)->sink.delivered; }
static void   chat_restart(ac_request *q) { ac__sink_reset(&CHAT(q)->sink); }

static void chat_fail(ac_request *q, const ac_error *err)
{
    ac__sink_fail(&CHAT(q)->sink, err);
    ac__sink_cleanup(&CHAT(q)->sink);
}

static void chat_release(ac_request *q)
{
    chat_request *c = CHAT(q);
    ac__sink_cleanup(&c->sink);
    ac__sink_release(&c->sink);
    ac__free(c->feedback);
    ac__msg_clear(&c->user);
    ac__chat_chain_free(c);
    ac__msgs_free(c->msgs, c->n_msgs);
    ac_gen_params_free(c->params);
}

static ac_status chat_run_local(ac_request *q, ac_sink *sink, ac_call *call)
{
    return q->llm->vt->run_local(q->llm->state, &CHAT(q)->greq, sink, call);
}

static int chat_again(ac_request *q, ac_error *err);

const rq_kind ac__chat_kind = {
    .name = "chat",
    .size = sizeof(chat_request),
    .frame = chat_frame,
    .body = chat_body,
    .end = chat_end,
    .delivered = chat_delivered,
    .restart = chat_restart,
    .fail = chat_fail,
    .release = chat_release,
    .run_local = chat_run_local,
    .again = chat_again,
    .fallback = ac__chat_fallback,
    .downgrade = ac__chat_downgrade,
};

static void on_sink_event(void *ctx, const ac_chunk *c)
{
    ac_request *q = ctx;
    if (!q->first_token && (c->type == AC_EVENT_TEXT || c->type == AC_EVENT_REASONING ||
                            c->type == AC_EVENT_TOOL_CALL_START))
        ac__hook_first_token(q);
    if (q->cb.on_event)
        q->cb.on_event(q, c, q->user);
}

ac_request *ac__chat_new(ac_llm *llm, const ac_gen_params *params, const ac_callbacks *cb,
                         void *user)
{
    ac_request *q = ac__request_new(&ac__chat_kind, llm, params, cb, user);
    if (!q)
        return NULL;
    chat_request *c = CHAT(q);
    c->params = ac__params_copy(params);
    q->resp = ac__response_new(llm->inst->name, llm->model, llm->lim.max_response_bytes);
    if (!c->params || !q->resp) {
        ac__request_unref(q);
        return NULL;
    }
    q->stream = c->params->stream >= 0 ? c->params->stream : (cb && cb->on_event != NULL);
    /* Decided here, once: ac_request_cancel reads it from any thread,
     * while a queued session turn is built in the engine context. */
    q->local = !llm->vt->build_request && llm->vt->run_local;
    ac__sink_init(&c->sink, q->resp, llm->vt, llm->state, on_sink_event, q);
    q->sink = &c->sink;
    c->schema = c->params->schema ? c->params->schema->s : NULL;
    c->attempts = c->params->schema_attempts >= 0 ? c->params->schema_attempts
                                                  : llm->co.schema_attempts;
    c->round = 1;
    if (ac__chat_chain(c) != AC_OK) {
        ac__request_unref(q);
        return NULL;
    }
    return q;
}

const ac_gen_params *ac__chat_params(const ac_request *q) { return CHAT(q)->params; }

const char *ac__chat_prompt(const ac_request *q)
{
    const chat_request *c = (const chat_request *)q;
    for (size_t i = c->n_msgs; i-- > 0;)
        if (c->msgs[i].pub.role == AC_ROLE_USER)
            return c->msgs[i].pub.text;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

/* The messages as the caller gave them: system prompt, history, the user
 * message (NULL: none). */
static ac_status build_messages(chat_request *c, const char *system, const ac__msg *history,
                                size_t n_history, const ac__msg *user)
{
    ac_request *q = &c->base;
    ac_status st = AC_OK;
    size_t n = (system ? 1 : 0) + n_history + (user ? 1 : 0);
    if (n == 0)
        return ac__request_prefail(q, AC_EINVAL, AC_STAGE_REQUEST,
                                   "nothing to send: no prompt and no history");
    c->msgs = ac__calloc(n, sizeof *c->msgs);
    if (!c->msgs)
        return ac__request_prefail(q, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    size_t k = 0;
    if (system && (st = ac__msg_text(&c->msgs[k++], AC_ROLE_SYSTEM, system)) != AC_OK)
        goto fail;
    for (size_t i = 0; i < n_history; i++)
        if ((st = ac__msg_copy(&c->msgs[k++], &history[i])) != AC_OK)
            goto fail;
    if (user && (st = ac__msg_copy(&c->msgs[k++], user)) != AC_OK)
        goto fail;
    c->n_msgs = k;
    return AC_OK;
fail:
    c->n_msgs = k;
    return ac__request_prefail(q, st, AC_STAGE_REQUEST, "out of memory");
}

/* max_input_tokens: fail before sending, or leave out the oldest turns. */
static ac_status fit_input(chat_request *c)
{
    ac_request *q = &c->base;
    const ac_gen_params *p = c->params;
    long max = p->max_input_tokens >= 0 ? p->max_input_tokens : q->llm->co.max_input_tokens;
    int trim = p->trim >= 0 ? p->trim : q->llm->co.trim;
    /* ac_count_tokens counts what the caller has, over the limit or not. */
    if (max <= 0 || c->count_only)
        return AC_OK;
    long est = ac__estimate_tokens(c->msgs, c->n_msgs, NULL);
    if (est <= max)
        return AC_OK;
    long drop = trim ? ac__trim_count(c->msgs, c->n_msgs, NULL, max) : -1;
    if (drop < 0) {
        char m[300];
        snprintf(m, sizeof m, "the input is about %ld tokens, more than max_input_tokens = %ld%s",
                 est, max, trim ? " even with only the last turn kept"
                               : " (input_overflow = \"trim\" leaves out the oldest turns)");
        return ac__request_prefail(q, AC_ELIMIT, AC_STAGE_REQUEST, m);
    }
    size_t first = c->n_msgs && c->msgs[0].pub.role == AC_ROLE_SYSTEM ? 1 : 0;
    for (size_t i = first; i < first + (size_t)drop; i++)
        ac__msg_clear(&c->msgs[i]);
    memmove(c->msgs + first, c->msgs + first + drop,
            (c->n_msgs - first - (size_t)drop) * sizeof *c->msgs);
    c->n_msgs -= (size_t)drop;
    ac__log(AC_LOG_INFO, q->llm->inst->name, "left out the %ld oldest messages to fit "
            "max_input_tokens = %ld", drop, max);
    return AC_OK;
}

/* Deep copies of n messages into *out.  AC_OK or AC_ENOMEM. */
static ac_status copy_messages(const ac__msg *src, size_t n, ac__msg **out)
{
    ac__msg *v = ac__calloc(n ? n : 1, sizeof *v);
    if (!v)
        return AC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (ac__msg_copy(&v[i], &src[i]) != AC_OK) {
            ac__msgs_free(v, i + 1);
            return AC_ENOMEM;
        }
    *out = v;
    return AC_OK;
}

/* What the backend cannot take natively goes into the system prompt: the
 * first message's text when it is the system prompt, else a new first
 * message. */
static ac_status add_prompted_system(chat_request *c, ac_error *err)
{
    ac_status st;
    char *extra = ac__prompted_system(&c->plan, c->params, &st, err);
    if (!extra)
        return st;
    ac__msg sys;
    if (c->n_msgs && c->msgs[0].pub.role == AC_ROLE_SYSTEM && c->msgs[0].pub.text_len) {
        char *joined = ac__asprintf("%s\n\n%s", c->msgs[0].pub.text, extra);
        st = joined ? ac__msg_text(&sys, AC_ROLE_SYSTEM, joined) : AC_ENOMEM;
        ac__free(joined);
        ac__free(extra);
        if (st != AC_OK)
            return st;
        ac__msg_clear(&c->msgs[0]);
        c->msgs[0] = sys;
        return AC_OK;
    }
    st = ac__msg_text(&sys, AC_ROLE_SYSTEM, extra);
    ac__free(extra);
    ac__msg *v = st == AC_OK ? ac__realloc(c->msgs, (c->n_msgs + 1) * sizeof *v) : NULL;
    if (!v) {
        if (st == AC_OK)
            ac__msg_clear(&sys);
        return AC_ENOMEM;
    }
    memmove(v + 1, v, c->n_msgs * sizeof *v);
    v[0] = sys;
    c->msgs = v;
    c->n_msgs++;
    return AC_OK;
}

ac_status ac__chat_fit(chat_request *c, const ac__msg *base, size_t n_base)
{
    ac_request *q = &c->base;
    const ac_provider *vt = q->llm->vt;
    ac_error *err = &q->preerr;
    ac_error_clear(err);
    q->local = !vt->build_request && vt->run_local;
    q->stream = c->params->stream >= 0 ? c->params->stream : (q->cb.on_event != NULL);
    if (q->stream && !vt->parse_event && !q->local)
        q->stream = 0; /* the backend cannot stream: events come at the end */
    if (base) {
        ac__msgs_free(c->msgs, c->n_msgs);
        c->msgs = NULL;
        c->n_msgs = 0;
        if (copy_messages(base, n_base, &c->msgs) != AC_OK) {
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
            return AC_ENOMEM;
        }
        c->n_msgs = n_base;
    }
    /* Images refused or fitted to this plugin, documents as text where it
     * takes none natively. */
    ac_status st = ac__media_fit_msgs(q->llm, c->msgs, c->n_msgs, err);
    if (st != AC_OK)
        return st;
    ac__prompted_plan(q->llm, c->params, c->force, &c->plan);
    ac__sink_release(&c->sink);
    st = ac__prompted_sink_start(&c->plan, &c->sink, c->params, 0);
    if (st == AC_OK)
        st = add_prompted_system(c, err);
    if (st == AC_OK)
        st = ac__prompted_messages(&c->plan, c->msgs, c->n_msgs, err);
    if (st != AC_OK) {
        if (err->code == AC_OK)
            ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory");
        return st;
    }
    ac__chat_fill(c);
    return q->local ? AC_OK : ac__chat_http(q);
}

void ac__chat_fill(chat_request *c)
{
    const ac_gen_params *p = c->params;
    ac_gen_request *g = &c->greq;
    g->struct_size = sizeof *g;
    g->model = c->base.llm->model;
    g->n_messages = c->n_msgs;
    g->stream = c->base.stream;
    g->has_max_tokens = p->has_max_tokens;
    g->max_tokens = p->max_tokens;
    g->has_temperature = p->has_temperature;
    g->temperature = p->temperature;
    g->has_top_p = p->has_top_p;
    g->top_p = p->top_p;
    g->has_seed = p->has_seed;
    g->seed = p->seed;
    g->stop = (const char *const *)p->stop;
    g->n_stop = p->n_stop;
    /* Prompted features are the core's business: the plugin sees none. */
    g->n_tools = c->plan.tools ? 0 : p->n_tools;
    g->tool_choice = c->plan.tools ? NULL : p->tool_choice;
    g->json_schema = c->plan.schema ? NULL : p->json_schema;
    g->json_schema_name = g->json_schema ? p->json_schema_name : NULL;
}

static ac_status plugin_fail(ac_request *q, const char *msg)
{
    ac__error_set(&q->preerr, AC_EPLUGIN, AC_STAGE_PLUGIN, "%s", msg);
    return AC_EPLUGIN;
}

/* The plugin's HTTP request for the messages as they are now. */
ac_status ac__chat_http(ac_request *q)
{
    chat_request *c = CHAT(q);
    const ac_provider *vt = q->llm->vt;
    ac_call call;
    ac__call_init(&call, q->llm->inst->name, settings_of(q), &q->cancel);
    ac_status st = c->count_only
        ? vt->build_count_request(q->llm->state, &c->greq, &q->http, &call)
        : vt->build_request(q->llm->state, &c->greq, &q->http, &call);
    st = ac__call_error(&call, st, c->count_only ? "build_count_request" : "build_request",
                        &q->preerr);
    if (st == AC_OK && !q->http.url)
        st = plugin_fail(q, "the plugin built a request without a URL");
    /* A framing the engine has no framer for would otherwise fail later
     * as "out of memory starting the stream". */
    if (st == AC_OK && q->stream && q->http.framing != AC_FRAMING_NONE &&
        q->http.framing != AC_FRAMING_SSE && q->http.framing != AC_FRAMING_NDJSON) {
        char m[96];
        snprintf(m, sizeof m, "the plugin asked for an unknown framing (%d)",
                 (int)q->http.framing);
        st = plugin_fail(q, m);
    }
    if (st != AC_OK)
        return st;
    if (!q->stream)
        q->http.framing = AC_FRAMING_NONE;
    /* libcurl sends "Expect: 100-continue" before a large body and waits
     * up to a second for a server that may never answer it: a long
     * history would pay that on every turn. */
    struct curl_slist *h = curl_slist_append(q->http.headers, "Expect:");
    if (!h) {
        ac__error_set(&q->preerr, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return AC_ENOMEM;
    }
    q->http.headers = h;
    return AC_OK;
}

ac_status ac__chat_user(ac_request *q, const char *prompt)
{
    chat_request *c = CHAT(q);
    ac_error e;
    ac__msg_clear(&c->user);
    c->user_made = 1;
    ac_status st = ac__media_user_msg(q->llm, prompt, c->params, &c->user, &e);
    if (st != AC_OK) {
        q->preerr = e; /* kept whole (stage, message) by the prefail */
        return ac__request_prefail(q, st, e.stage, e.message);
    }
    return AC_OK;
}

const ac__msg *ac__chat_user_msg(const ac_request *q)
{
    const chat_request *c = (const chat_request *)q;
    return c->user.pub.n_parts ? &c->user : NULL;
}

ac_status ac__chat_build(ac_request *q, const char *system, const ac__msg *history,
                         size_t n_history, const char *prompt)
{
    chat_request *c = CHAT(q);
    const ac_provider *vt = q->llm->vt;
    if (q->prestatus != AC_OK)
        return q->prestatus; /* the user message could not be made */
    if (!vt->build_request && !vt->run_local)
        return ac__request_prefail(q, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                   "the plugin can neither build HTTP requests nor run locally");
    if (!c->user_made && ac__chat_user(q, prompt) != AC_OK)
        return q->prestatus;
    ac_status st = build_messages(c, system, history, n_history, ac__chat_user_msg(q));
    if (st != AC_OK)
        return st;
    if ((st = fit_input(c)) != AC_OK)
        return st;
    /* A fallback starts from the messages as given, not as fitted to this
     * plugin; so does a request made again with its tools or schema in the
     * prompt (ac__chat_downgrade). */
    int keep = c->n_fb || (!c->count_only && (c->params->n_tools || c->params->json_schema));
    if (keep && copy_messages(c->msgs, c->n_msgs, &c->base_msgs) != AC_OK)
        return ac__request_prefail(q, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    c->n_base = keep ? c->n_msgs : 0;
    st = ac__chat_fit(c, NULL, 0);
    if (st != AC_OK)
        return ac__request_prefail(q, st, AC_STAGE_REQUEST, q->preerr.code != AC_OK
                                   ? q->preerr.message : "the plugin could not build the request");
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* Rounds                                                              */
/* ------------------------------------------------------------------ */

/* Append the reply and the feedback to the messages. */
static ac_status append_feedback(chat_request *c)
{
    ac__msg *m = ac__realloc(c->msgs, (c->n_msgs + 2) * sizeof *m);
    if (!m)
        return AC_ENOMEM;
    c->msgs = m;
    ac__msg *reply = &m[c->n_msgs], *ask = &m[c->n_msgs + 1];
    ac__msg_init(reply, AC_ROLE_ASSISTANT);
    ac__msg_init(ask, AC_ROLE_USER);
    const ac_response *r = c->base.resp;
    /* An empty reply is still a turn: a placeholder keeps the roles
     * alternating for backends that insist. */
    ac_status st = ac__msg_text(reply, AC_ROLE_ASSISTANT,
                                ac_response_content_len(r) ? ac_response_content(r) : "(empty)");
    if (st == AC_OK)
        st = ac__msg_text(ask, AC_ROLE_USER, c->feedback);
    if (st != AC_OK) {
        ac__msg_clear(reply);
        ac__msg_clear(ask);
        return st;
    }
    c->n_msgs += 2;
    return AC_OK;
}

static int chat_again(ac_request *q, ac_error *err)
{
    chat_request *c = CHAT(q);
    if (!c->again)
        return 0;
    c->again = 0;
    ac_response *r = q->resp;
    /* What this round used, for the total. */
    c->used_in = c->round == 1 ? r->input_tokens : c->used_in >= 0 && r->input_tokens >= 0
                                                       ? c->used_in + r->input_tokens : -1;
    c->used_out = c->round == 1 ? r->output_tokens : c->used_out >= 0 && r->output_tokens >= 0
                                                         ? c->used_out + r->output_tokens : -1;
    char lines[AC_ERROR_MESSAGE_MAX];
    first_lines(r->schema_errors ? r->schema_errors : "", lines, sizeof lines);
    ac_error why;
    ac__error_set(&why, AC_ESCHEMA, AC_STAGE_PROTOCOL, "attempt %d of %d did not match the "
                  "JSON Schema: %s", c->round, c->attempts, lines);
    ac__error_set_provider(&why, q->llm->inst->name);
    ac__sink_restart_event(&c->sink, &why);
    ac_status st = append_feedback(c);
    ac__free(c->feedback);
    c->feedback = NULL;
    if (st != AC_OK) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory asking again");
        return -1;
    }
    ac__sink_reset(&c->sink);
    r->attempts = ++c->round;
    c->greq.n_messages = c->n_msgs;
    if (q->local)
        return 1;
    ac__http_request_clear(&q->http);
    ac_error_clear(&q->preerr);
    if (ac__chat_http(q) != AC_OK) {
        *err = q->preerr;
        return -1;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int check_prompt(ac_llm *llm, const char *prompt, ac_error *err)
{
    if (!llm || !prompt) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s is NULL", llm ? "prompt" : "llm");
        return -1;
    }
    if (!ac__utf8_valid(prompt)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "the prompt is not valid UTF-8");
        ac__error_set_provider(err, llm->inst->name);
        return -1;
    }
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return -1;
    }
    return 0;
}

/* A request of history hist[0..n) and then prompt (either may be
 * absent), built and submitted. */
static ac_request *start(ac_llm *llm, const ac__msg *hist, size_t n, const char *prompt,
                         const ac_gen_params *params, const ac_callbacks *cb, void *user,
                         int count_only, ac_error *err)
{
    ac_request *q = ac__chat_new(llm, params, cb, user);
    if (!q) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    if (count_only) {
        /* One question to one backend: no rounds, no fallback, no stream. */
        chat_request *c = CHAT(q);
        c->count_only = 1;
        c->schema = NULL;
        ac__chat_chain_free(c);
        c->params->stream = 0;
    }
    /* A history that starts with its own system prompt keeps it. */
    const char *system = n && hist[0].pub.role == AC_ROLE_SYSTEM ? NULL
                                                                 : CHAT(q)->params->system;
    ac__chat_build(q, system, hist, n, prompt);
    /* Not taken (the core closed since the check above): fail here,
     * before the caller has the handle, rather than run its callbacks on
     * this thread inside this call. */
    ac_status st = ac__request_submit(q);
    if (st != AC_OK) {
        ac__request_submit_error(q, st, err);
        ac__request_unref(q);
        return NULL;
    }
    return q;
}

ac_request *ac_agenerate(ac_llm *llm, const char *prompt, const ac_gen_params *params,
                         const ac_callbacks *cb, void *user, ac_error *err)
{
    if (check_prompt(llm, prompt, err))
        return NULL;
    return start(llm, NULL, 0, prompt, params, cb, user, 0, err);
}

ac_request *ac__chat_start(ac_llm *llm, const ac__msg *hist, size_t n,
                           const ac_gen_params *params, const ac_callbacks *cb, void *user,
                           ac_error *err)
{
    if (check_prompt(llm, "", err))
        return NULL;
    return start(llm, hist, n, NULL, params, cb, user, 0, err);
}

ac_request *ac__chat_count(ac_llm *llm, const ac__msg *hist, size_t n,
                           const ac_gen_params *params, ac_error *err)
{
    if (check_prompt(llm, "", err))
        return NULL;
    return start(llm, hist, n, NULL, params, NULL, NULL, 1, err);
}

long ac__chat_counted(const ac_request *q) { return ((const chat_request *)q)->counted; }

ac_response *ac_generate(ac_llm *llm, const char *prompt, const ac_gen_params *params,
                         ac_error *err)
{
    if (ac__refuse_blocking(llm, "ac_generate", err))
        return NULL;
    ac_request *q = ac_agenerate(llm, prompt, params, NULL, NULL, err);
    return q ? ac__request_wait_result(q, err) : NULL;
}
