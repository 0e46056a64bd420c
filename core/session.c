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
#include "messages.h"
#include "alloc.h"
#include "error.h"
#include "chat.h"
#include "response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static void session_ref(ac_session *s) { atomic_fetch_add(&s->refs, 1); }

static void session_unref(ac_session *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    ac__msgs_free(s->hist, s->n);
    ac__msgs_free(s->archive, s->n_archive);
    ac__compact_settings_free(s->auto_compact);
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

long long ac__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append *m to v[0..*n) (capacity *cap), moving it. */
static ac_status push(ac__msg **v, size_t *n, size_t *cap, ac__msg *m)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        ac__msg *nv = ac__realloc(*v, nc * sizeof *nv);
        if (!nv)
            return AC_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *m;
    memset(m, 0, sizeof *m);
    return AC_OK;
}

ac_status ac__session_push(ac_session *s, ac__msg *m)
{
    long long now = ac__wall_ms();
    if (!m->time_ms)
        m->time_ms = now;
    ac_status st = push(&s->hist, &s->n, &s->cap, m);
    if (st == AC_OK)
        s->updated_ms = now;
    return st;
}

ac_status ac__session_archive_push(ac_session *s, ac__msg *m)
{
    return push(&s->archive, &s->n_archive, &s->cap_archive, m);
}

/* A random (version 4) UUID. */
static void new_id(char out[37])
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t k = getrandom(r + got, sizeof r - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (got < sizeof r) {
        /* No entropy source (a sandbox without getrandom): the clock and
         * the address make an id unique enough within the process. */
        unsigned long long x = (unsigned long long)ac__wall_ms() * 6364136223846793005ULL ^
                               (unsigned long long)(uintptr_t)out;
        for (size_t i = got; i < sizeof r; i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
            r[i] = (unsigned char)(x >> 56);
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
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
    new_id(s->id);
    s->created_ms = s->updated_ms = ac__wall_ms();
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

ac_status ac__turn_submit_now(turn *t)
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

/* Build and submit a turn: the history as it is now, plus its prompt --
 * after compacting it first, when the session compacts automatically and
 * the turn is over the threshold.  AC_OK, or the status of a submit that
 * did not take it (the core was closed, no memory); then the turn is no
 * longer current, and still unfinished and owned by the caller. */
static ac_status turn_submit(turn *t)
{
    if (ac__compact_before(t))
        return AC_OK;
    return ac__turn_submit_now(t);
}

/* Start a queued turn whose ac_session_agenerate has returned: it must end
 * through on_done whatever happens, so a turn the engine does not take is
 * ended here (turn_done then starts the next one). */
static void turn_dispatch(turn *t)
{
    if (t->job) {
        ac__compact_dispatch(t);
        return;
    }
    ac_request *q = t->q;
    ac_status st = turn_submit(t);
    if (st != AC_OK)
        ac__request_fail_unsubmitted(q, st);
    ac__request_unref(q); /* the turn's reference; the engine has its own */
}

int ac__session_enqueue(ac_session *s, turn *t)
{
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
    return run_now;
}

void ac__session_advance(ac_session *s)
{
    pthread_mutex_lock(&s->mu);
    turn *next = s->queue_head;
    if (next) {
        s->queue_head = next->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
    } else {
        s->busy = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (next)
        turn_dispatch(next);
}

static ac_status turn_done(ac_request *q, ac_status status, void *ctx)
{
    turn *t = ctx;
    ac_session *s = t->s;
    ac_status st = AC_OK;
    if (t->warning && q->resp)
        ac__response_warn(q->resp, "%s", t->warning);
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
    ac_request *cur = s->current == q ? q : NULL;
    if (cur)
        s->current = NULL;
    pthread_mutex_unlock(&s->mu);
    ac__request_unref(cur);
    ac__free(t->prompt);
    ac__free(t->warning);
    ac__free(t);
    ac__session_advance(s);
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
    if (!ac__session_enqueue(s, t))
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
    ac__free(t->prompt);
    ac__free(t->warning);
    ac__free(t);
    ac__session_advance(s);
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
    for (turn *t = s->queue_head; t; t = t->next) {
        if (t->job)
            ac__compact_cancel(t->job);
        else
            atomic_store(&t->q->cancel, 1);
    }
    ac_request *cur = s->current, *waiting = s->waiting;
    if (cur)
        ac__request_ref(cur);
    if (waiting)
        ac__request_ref(waiting);
    pthread_mutex_unlock(&s->mu);
    if (waiting) {
        /* A turn waiting for its compaction: cancelling it cancels that. */
        ac_request_cancel(waiting);
        ac__request_unref(waiting);
    }
    if (cur) {
        ac_request_cancel(cur);
        ac__request_unref(cur);
    }
    session_unref(s);
}

ac_status ac_session_add_messages(ac_session *s, const ac_messages *msgs)
{
    if (!s || !msgs)
        return AC_EINVAL;
    /* Copies first, outside the lock; then all of them or none. */
    size_t n = msgs->n;
    ac__msg *copy = ac__calloc(n ? n : 1, sizeof *copy);
    char *system = NULL;
    if (!copy)
        return AC_ENOMEM;
    ac_status st = AC_OK;
    for (size_t i = 0; i < n && st == AC_OK; i++)
        st = ac__msg_copy(&copy[i], &msgs->v[i]);
    pthread_mutex_lock(&s->mu);
    size_t before = s->n;
    for (size_t i = 0; i < n && st == AC_OK; i++) {
        if (copy[i].pub.role == AC_ROLE_SYSTEM) {
            char *t = ac__strdup(copy[i].pub.text ? copy[i].pub.text : "");
            if (!t) {
                st = AC_ENOMEM;
                break;
            }
            ac__free(system);
            system = t;
            continue;
        }
        st = ac__session_push(s, &copy[i]);
    }
    if (st != AC_OK) {
        while (s->n > before)
            ac__msg_clear(&s->hist[--s->n]);
    } else if (system) {
        ac__free(s->system);
        s->system = system;
        system = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    ac__free(system);
    ac__msgs_free(copy, n); /* what was pushed was moved out: empty now */
    return st;
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
    s->epoch++;
    s->updated_ms = ac__wall_ms();
    pthread_mutex_unlock(&s->mu);
}

/* A copy of v[0..n) as a caller's list. */
static ac_messages *list_copy(const ac__msg *v, size_t n)
{
    ac_messages *m = ac_messages_new();
    if (!m)
        return NULL;
    if (n && !(m->v = ac__calloc(n, sizeof *m->v))) {
        ac_messages_free(m);
        return NULL;
    }
    m->cap = n;
    for (; m->n < n; m->n++)
        if (ac__msg_copy(&m->v[m->n], &v[m->n]) != AC_OK) {
            ac_messages_free(m);
            return NULL;
        }
    return m;
}

ac_messages *ac_session_messages(ac_session *s)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->mu);
    ac_messages *m = list_copy(s->hist, s->n);
    pthread_mutex_unlock(&s->mu);
    return m;
}

ac_messages *ac_session_archive(ac_session *s)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->mu);
    ac_messages *m = list_copy(s->archive, s->n_archive);
    pthread_mutex_unlock(&s->mu);
    return m;
}

const char *ac_session_id(ac_session *s) { return s ? s->id : NULL; }

long long ac_session_created(ac_session *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    long long t = s->created_ms;
    pthread_mutex_unlock(&s->mu);
    return t;
}

long long ac_session_updated(ac_session *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    long long t = s->updated_ms;
    pthread_mutex_unlock(&s->mu);
    return t;
}
