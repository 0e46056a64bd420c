/*
 * prompt.c -- a request's messages to the model's prompt tokens.
 *
 * The messages go through a chat template with libllama's
 * llama_chat_apply_template, which knows the templates of the common
 * model families by name ("chatml", "llama3", "mistral-v7", "gemma",
 * "phi3", ...; llama_chat_builtin_templates lists them) and recognizes
 * their Jinja texts as stored in GGUF metadata; it is not a Jinja engine.
 * Which template (model.c): the chat_template setting, else the model's
 * own, else ChatML (logged).  The system message the core builds (the
 * caller's system prompt, with the prompted tool and schema instructions
 * when the core adds them) is the first message, role "system".
 *
 * Message content is the text parts; a document (FILE part) is its text
 * under a line "[file: NAME]".  Images, and tool calls or results as
 * parts, are refused with AC_EUNSUPPORTED: the plugin declares neither
 * images nor native tools, so the core's prompted tool mode turns calls
 * and results into text before they get here.
 *
 * The prompt is tokenized with special tokens parsed (the template's
 * markers are control tokens) and the vocabulary's BOS added when the
 * model wants one and the template did not write it.
 *
 * Relies on libllama (its vocabulary is read-only: any thread) and the
 * host allocator.  Reentrant.
 */
#include "llamacpp.h"

#include <limits.h>
#include <string.h>

int lc_template_known(const char *tmpl)
{
    llama_chat_message one = { "user", "x" };
    return llama_chat_apply_template(tmpl, &one, 1, true, NULL, 0) >= 0;
}

static const char *role_name(ac_role r)
{
    switch (r) {
    case AC_ROLE_SYSTEM: return "system";
    case AC_ROLE_USER: return "user";
    case AC_ROLE_ASSISTANT: return "assistant";
    case AC_ROLE_TOOL: return "tool";
    default: return NULL;
    }
}

static const char *part_name(ac_part_type t)
{
    switch (t) {
    case AC_PART_IMAGE: return "an image";
    case AC_PART_TOOL_CALL: return "a tool call";
    case AC_PART_TOOL_RESULT: return "a tool result";
    default: return "a part of an unknown type";
    }
}

/* Message i's content: m->text when it is all text, else built into
 * *own (host-allocated).  AC_OK or the call failed. */
static ac_status content(const ac_message *m, size_t i, const char **out, char **own,
                         ac_call *call)
{
    *own = NULL;
    int plain = 1;
    for (size_t k = 0; k < m->n_parts; k++) {
        const ac_part *p = lc_host->message_part(m, k);
        if (p->type == AC_PART_TEXT)
            continue;
        if (p->type != AC_PART_FILE)
            return lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                                 "message %zu holds %s (type %d): the llamacpp plugin takes "
                                 "text and documents only", i, part_name(p->type), (int)p->type);
        plain = 0;
    }
    if (plain) {
        *out = m->text ? m->text : "";
        return AC_OK;
    }
    lc_buf b = {0};
    int rc = 0;
    for (size_t k = 0; k < m->n_parts && !rc; k++) {
        const ac_part *p = lc_host->message_part(m, k);
        if (b.len)
            rc |= lc_buf_adds(&b, "\n\n");
        if (p->type == AC_PART_FILE)
            rc |= lc_buf_addf(&b, "[file: %s]\n", p->name ? p->name : "document");
        if (p->text)
            rc |= lc_buf_add(&b, p->text, p->text_len);
    }
    if (rc || lc_buf_add(&b, "", 0) < 0) {
        lc_buf_free(&b);
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    }
    *out = *own = b.p;
    return AC_OK;
}

/* The templated prompt text (host-allocated) in *text. */
static ac_status apply_template(lc_model *m, const ac_gen_request *req, char **text,
                                ac_call *call)
{
    size_t n = req->n_messages;
    llama_chat_message *msgs = lc_host->malloc((n ? n : 1) * sizeof *msgs);
    char **own = lc_host->malloc((n ? n : 1) * sizeof *own);
    ac_status st = AC_OK;
    size_t made = 0;
    *text = NULL;
    if (!msgs || !own) {
        st = lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        goto out;
    }
    for (; made < n; made++) {
        const ac_message *msg = lc_host->message(req, made);
        const char *role = msg ? role_name(msg->role) : NULL;
        if (!role) {
            st = lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                               "message %zu has a role the llamacpp plugin does not know (%d)",
                               made, msg ? (int)msg->role : -1);
            goto out;
        }
        msgs[made].role = role;
        if ((st = content(msg, made, &msgs[made].content, &own[made], call)) != AC_OK)
            goto out;
    }
    int32_t len = llama_chat_apply_template(m->tmpl, msgs, n, true, NULL, 0);
    if (len < 0) {
        st = lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                           "the chat template of model %s could not format these messages",
                           m->path);
        goto out;
    }
    char *buf = lc_host->malloc((size_t)len + 1);
    if (!buf) {
        st = lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        goto out;
    }
    int32_t again = llama_chat_apply_template(m->tmpl, msgs, n, true, buf, len + 1);
    if (again != len) {
        lc_host->free(buf);
        st = lc_host->fail(call, AC_EPLUGIN, AC_STAGE_REQUEST,
                           "the chat template gave %d bytes, then %d", (int)len, (int)again);
        goto out;
    }
    buf[len] = '\0';
    *text = buf;
out:
    for (size_t i = 0; own && i < made; i++)
        lc_host->free(own[i]);
    lc_host->free(own);
    lc_host->free(msgs);
    return st;
}

ac_status lc_prompt_tokens(lc_model *m, const ac_gen_request *req, llama_token **tokens,
                           int *n, ac_call *call)
{
    *tokens = NULL;
    *n = 0;
    if (req->n_tools)
        return lc_host->fail(call, AC_EUNSUPPORTED, AC_STAGE_REQUEST,
                             "tools in native mode: the llamacpp plugin takes tools through "
                             "the core's prompted mode (tool_mode \"auto\" or \"prompted\")");
    char *text;
    ac_status st = apply_template(m, req, &text, call);
    if (st != AC_OK)
        return st;
    size_t len = strlen(text);
    if (len > INT32_MAX / 2) {
        lc_host->free(text);
        return lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                             "the prompt is %zu bytes: too long for model %s", len, m->path);
    }
    int32_t need = -llama_tokenize(m->vocab, text, (int32_t)len, NULL, 0, true, true);
    llama_token *t = need > 0 ? lc_host->malloc((size_t)need * sizeof *t) : NULL;
    if (!t) {
        lc_host->free(text);
        return need > 0 ? lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory")
                        : lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                        "the prompt gave no tokens");
    }
    int32_t got = llama_tokenize(m->vocab, text, (int32_t)len, t, need, true, true);
    lc_host->free(text);
    if (got != need) {
        lc_host->free(t);
        return lc_host->fail(call, AC_EPLUGIN, AC_STAGE_REQUEST,
                             "tokenizing the prompt gave %d tokens, then %d", (int)need,
                             (int)got);
    }
    /* A template that writes the BOS text itself, plus the one
     * add_special puts in front: one is enough. */
    llama_token bos = llama_vocab_bos(m->vocab);
    if (got >= 2 && bos != LLAMA_TOKEN_NULL && t[0] == bos && t[1] == bos) {
        memmove(t, t + 1, (size_t)(got - 1) * sizeof *t);
        got--;
    }
    if (got >= m->n_ctx) {
        lc_host->free(t);
        return lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                             "the prompt is %d tokens, and model %s has a context of %d "
                             "(n_ctx): shorten the conversation or raise n_ctx", (int)got,
                             m->path, m->n_ctx);
    }
    *tokens = t;
    *n = got;
    return AC_OK;
}
