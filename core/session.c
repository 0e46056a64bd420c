/*
 * session.c -- conversations whose history lives in the core.
 *
 * Turns on one session run one at a time, in call order: a turn issued
 * while another runs waits in a FIFO and is built (history snapshot + its
 * prompt) only when the one before it has finished, on the engine thread.
 * A turn that succeeds appends its user message and the assistant reply
 * (with tool calls); a turn that fails appends nothing, so the history is
 * as it was before it.
 *
 * Saving and loading are in session_file.c.
 */
#include "session.h"
#include "alloc.h"
#include "error.h"
#include "chat.h"

#include <stdlib.h>
#include <string.h>

typedef struct turn {
    ac_session  *s;
    ac_request  *q;        /* a reference, until submitted */
    char        *prompt;   /* NULL: continue after tool results */
    struct turn *next;
} turn;

static void session_ref(ac_session *s) { atomic_fetch_add(&s->refs, 1); }

static void session_unref(ac_session *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    ac__msgs_free(s->hist, s->n);
    ac__free(s->system);
    ac__llm_unref(s->llm);
    pthread_mutex_destroy(&s->mu);
    ac__free(s);
}

const char *ac_role_name(ac_role role)
{
    switch (role) {
    case AC_ROLE_SYSTEM: return "system";
    case AC_ROLE_USER: return "user";
    case AC_ROLE_ASSISTANT: return "assistant";
    case AC_ROLE_TOOL: return "tool";
    }
    return "unknown";
}

ac_status ac__session_push(ac_session *s, ac__msg *m)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        ac__msg *v = ac__realloc(s->hist, cap * sizeof *v);
        if (!v)
            return AC_ENOMEM;
        s->hist = v;
        s->cap = cap;
    }
    s->hist[s->n++] = *m;
    memset(m, 0, sizeof *m);
    return AC_OK;
}

ac_session *ac_session_new(ac_llm *llm, const char *system_prompt)
{
    if (!llm || !ac__utf8_valid(system_prompt))
        return NULL;
    ac_session *s = ac__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (system_prompt && !(s->system = ac__strdup(system_prompt))) {
        ac__free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->mu, NULL);
    ac__llm_ref(llm);
    s->llm = llm;
    return s;
}

ac_status ac_session_set_llm(ac_session *s, ac_llm *llm)
{
    if (!s || !llm)
        return AC_EINVAL;
    ac__llm_ref(llm);
    pthread_mutex_lock(&s->mu);
    ac_llm *old = s->llm;
    s->llm = llm;
    pthread_mutex_unlock(&s->mu);
    ac__llm_unref(old);
    return AC_OK;
}

/* Build and submit a turn: the history as it is now, plus its prompt.
 * AC_OK, or the status of a submit that did not take it (the core was
 * closed, no memory); then the turn is no longer current, and still
 * unfinished and owned by the caller. */
static ac_status turn_submit(turn *t)
{
    ac_session *s = t->s;
    ac_request *q = t->q; /* t is freed by turn_done, maybe before submit returns */
    pthread_mutex_lock(&s->mu);
    ac__chat_build(q, s->system, s->hist, s->n, t->prompt);
    s->current = q;
    ac__request_ref(q);
    pthread_mutex_unlock(&s->mu);
    ac_status st = ac__request_submit(q);
    if (st == AC_OK)
        return AC_OK;
    pthread_mutex_lock(&s->mu);
    int was_current = s->current == q;
    if (was_current)
        s->current = NULL;
    pthread_mutex_unlock(&s->mu);
    if (was_current)
        ac__request_unref(q);
    return st;
}

/* Start a queued turn whose ac_session_agenerate has returned: it must end
 * through on_done whatever happens, so a turn the engine does not take is
 * ended here (turn_done then starts the next one). */
static void turn_dispatch(turn *t)
{
    ac_request *q = t->q;
    ac_status st = turn_submit(t);
    if (st != AC_OK)
        ac__request_fail_unsubmitted(q, st);
    ac__request_unref(q); /* the turn's reference; the engine has its own */
}

static ac_status turn_done(ac_request *q, ac_status status, void *ctx)
{
    turn *t = ctx;
    ac_session *s = t->s;
    turn *next = NULL;
    ac_status st = AC_OK;
    pthread_mutex_lock(&s->mu);
    if (status == AC_OK && q->resp) {
        /* Both messages or neither: the history never holds half a turn. */
        ac__msg user, reply;
        ac__msg_init(&user, AC_ROLE_USER);
        ac__msg_init(&reply, AC_ROLE_ASSISTANT);
        /* The user message as sent: the prompt and its attachments (images
         * fitted to the llm of this turn). */
        const ac__msg *sent = ac__chat_user_msg(q);
        int ok = (!sent || ac__msg_copy(&user, sent) == AC_OK) &&
                 ac__msg_from_response(&reply, q->resp, s->n) == AC_OK;
        size_t before = s->n;
        if (ok && sent && ac__session_push(s, &user) != AC_OK)
            ok = 0;
        if (ok && ac__session_push(s, &reply) != AC_OK) {
            ok = 0;
            while (s->n > before)
                ac__msg_clear(&s->hist[--s->n]);
        }
        ac__msg_clear(&user);
        ac__msg_clear(&reply);
        if (!ok)
            st = AC_ENOMEM;
    }
    if (s->current == q) {
        s->current = NULL;
        ac__request_unref(q);
    }
    next = s->queue_head;
    if (next) {
        s->queue_head = next->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
    } else {
        s->busy = 0;
    }
    pthread_mutex_unlock(&s->mu);
    ac__free(t->prompt);
    ac__free(t);
    if (next)
        turn_dispatch(next);
    session_unref(s);
    return st;
}

ac_request *ac_session_agenerate(ac_session *s, const char *prompt, const ac_gen_params *params,
                                 const ac_callbacks *cb, void *user, ac_error *err)
{
    if (!s) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "session is NULL");
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    ac_llm *llm = s->llm;
    ac__llm_ref(llm);
    pthread_mutex_unlock(&s->mu);
    turn *t = NULL;
    ac_request *q = NULL;
    if (!ac__utf8_valid(prompt)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "the prompt is not valid UTF-8");
        goto fail_named;
    }
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        goto fail_named;
    }
    t = ac__calloc(1, sizeof *t);
    if (!t || (prompt && !(t->prompt = ac__strdup(prompt))))
        goto oom;
    q = ac__chat_new(llm, params, cb, user);
    if (!q)
        goto oom;
    /* The prompt and its attachments now, on this thread: a queued turn is
     * built in the engine context, where no image should be resized.  A
     * failure is the turn's, reported through on_done. */
    ac__chat_user(q, prompt);
    ac__llm_unref(llm);
    llm = NULL;
    session_ref(s);
    t->s = s;
    t->q = q;
    ac__request_ref(q);
    q->hook_done = turn_done;
    q->hook_ctx = t;
    pthread_mutex_lock(&s->mu);
    int run_now = !s->busy;
    if (run_now) {
        s->busy = 1;
    } else {
        if (s->queue_tail)
            s->queue_tail->next = t;
        else
            s->queue_head = t;
        s->queue_tail = t;
    }
    pthread_mutex_unlock(&s->mu);
    if (!run_now)
        return q;
    ac_status st = turn_submit(t);
    if (st == AC_OK) {
        ac__request_unref(q); /* the turn's reference; the engine has its own */
        return q;
    }
    /* Not taken (the core closed meanwhile): fail like ac_agenerate, with
     * no callback on this thread, and hand the session to the next turn
     * that queued behind this one (it ends through its on_done). */
    ac__request_submit_error(q, st, err);
    turn *next;
    pthread_mutex_lock(&s->mu);
    next = s->queue_head;
    if (next) {
        s->queue_head = next->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
    } else {
        s->busy = 0;
    }
    pthread_mutex_unlock(&s->mu);
    ac__free(t->prompt);
    ac__free(t);
    if (next)
        turn_dispatch(next);
    session_unref(s);
    ac__request_unref(q); /* the turn's */
    ac__request_unref(q); /* the caller's: it never saw the handle */
    return NULL;
oom:
    ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory starting the turn");
fail_named:
    ac__error_set_provider(err, llm->inst->name);
    ac__llm_unref(llm);
    if (t)
        ac__free(t->prompt);
    ac__free(t);
    return NULL;
}

ac_response *ac_session_generate(ac_session *s, const char *prompt, const ac_gen_params *params,
                                 ac_error *err)
{
    if (!s) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "session is NULL");
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    ac_llm *llm = s->llm;
    ac__llm_ref(llm);
    pthread_mutex_unlock(&s->mu);
    int busy = ac__refuse_blocking(llm, "ac_session_generate", err);
    ac__llm_unref(llm);
    if (busy)
        return NULL;
    ac_request *q = ac_session_agenerate(s, prompt, params, NULL, NULL, err);
    return q ? ac__request_wait_result(q, err) : NULL;
}

void ac_session_free(ac_session *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (turn *t = s->queue_head; t; t = t->next)
        atomic_store(&t->q->cancel, 1);
    ac_request *cur = s->current;
    if (cur)
        ac__request_ref(cur);
    pthread_mutex_unlock(&s->mu);
    if (cur) {
        ac_request_cancel(cur);
        ac__request_unref(cur);
    }
    session_unref(s);
}

ac_status ac_session_add_tool_result(ac_session *s, const char *tool_call_id, const char *name,
                                     const char *content)
{
    return ac__session_add_result(s, tool_call_id, name, content, 0);
}

ac_status ac__session_add_result(ac_session *s, const char *tool_call_id, const char *name,
                                 const char *content, int is_error)
{
    if (!s || !tool_call_id || !content || !ac__utf8_valid(content) || !ac__utf8_valid(tool_call_id) ||
        !ac__utf8_valid(name))
        return AC_EINVAL;
    ac__msg m;
    pthread_mutex_lock(&s->mu);
    /* Find the tool's name from the call, for backends that key results by
     * name (Ollama). */
    const char *found = name;
    for (size_t i = s->n; !found && i-- > 0;)
        for (size_t j = 0; j < s->hist[i].pub.n_parts; j++) {
            const ac_part *p = &s->hist[i].parts[j];
            if (p->type == AC_PART_TOOL_CALL && p->id && strcmp(p->id, tool_call_id) == 0) {
                found = p->name;
                break;
            }
        }
    ac_status st = ac__msg_tool_result(&m, tool_call_id, found, content, is_error);
    if (st == AC_OK)
        st = ac__session_push(s, &m);
    pthread_mutex_unlock(&s->mu);
    ac__msg_clear(&m);
    return st;
}

/* ------------------------------------------------------------------ */
/* For the tool loop (session.h)                                        */
/* ------------------------------------------------------------------ */

void ac__session_hold(ac_session *s) { session_ref(s); }
void ac__session_release(ac_session *s) { session_unref(s); }

ac_llm *ac__session_llm(ac_session *s)
{
    pthread_mutex_lock(&s->mu);
    ac_llm *llm = s->llm;
    ac__llm_ref(llm);
    pthread_mutex_unlock(&s->mu);
    return llm;
}

char *ac__session_call_id(ac_session *s, size_t i)
{
    char *id = NULL;
    pthread_mutex_lock(&s->mu);
    size_t k = s->n;
    while (k > 0 && s->hist[k - 1].pub.role != AC_ROLE_ASSISTANT)
        k--;
    if (k > 0) {
        const ac__msg *m = &s->hist[k - 1];
        for (size_t j = 0, seen = 0; j < m->pub.n_parts && !id; j++)
            if (m->parts[j].type == AC_PART_TOOL_CALL && seen++ == i)
                id = ac__strdup(m->parts[j].id ? m->parts[j].id : "");
    }
    pthread_mutex_unlock(&s->mu);
    return id;
}

size_t ac_session_message_count(ac_session *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

ac_role ac_session_message_role(ac_session *s, size_t i)
{
    ac_role r = AC_ROLE_USER;
    if (!s)
        return r;
    pthread_mutex_lock(&s->mu);
    if (i < s->n)
        r = s->hist[i].pub.role;
    pthread_mutex_unlock(&s->mu);
    return r;
}

char *ac_session_message_content(ac_session *s, size_t i)
{
    if (!s)
        return NULL;
    char *c = NULL;
    pthread_mutex_lock(&s->mu);
    if (i < s->n) {
        /* A tool message's content is its result. */
        const ac_part *res = ac__msg_find(&s->hist[i], AC_PART_TOOL_RESULT);
        c = strdup(*s->hist[i].pub.text || !res ? s->hist[i].pub.text : res->text);
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

char *ac_session_system_prompt(ac_session *s)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->mu);
    char *c = s->system ? strdup(s->system) : NULL;
    pthread_mutex_unlock(&s->mu);
    return c;
}

void ac_session_clear(ac_session *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        ac__msg_clear(&s->hist[i]);
    s->n = 0;
    pthread_mutex_unlock(&s->mu);
}
