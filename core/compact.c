/*
 * compact.c -- session compaction: older turns summarised by a model into
 * one message, the newest turns kept verbatim.
 *
 * A compaction runs in the session's order of work, like a turn: on
 * demand it is an item of the session's queue (ac_session_acompact); done
 * automatically it runs in front of the turn whose input would pass the
 * threshold, and that turn is submitted when it ends, whatever its
 * outcome (a failed compaction leaves the history as it was and puts a
 * warning on the turn's response).  Either way the session is busy from
 * start to end, so no turn sees the history half compacted.
 *
 * The model is sent one user message, a transcript of the messages to
 * replace ("User: ...", "Assistant: ...", the tool calls and results), under
 * a system prompt of instructions, and its reply becomes a USER message
 * flagged AC_MESSAGE_SUMMARY at the start of the history.  The messages
 * it replaced move to the session's archive, oldest first, where
 * ac_session_archive and saved files show them.  A later compaction
 * summarises the earlier summary with the turns after it, so a summary
 * always covers the whole conversation before the kept turns.
 *
 * A turn begins at a user message that is not a summary and runs to the
 * next one, so a tool call and its result are always kept or replaced
 * together.  If the history was cleared while the summary was written
 * (the start of the history changed: the session's epoch), the summary is
 * thrown away and the compaction fails with AC_ECANCELED.
 *
 * Threads: the summary's request ends on the engine context, where the
 * history is changed under the session's lock and the next work starts.
 */
#include "session.h"
#include "alloc.h"
#include "buf.h"
#include "chat.h"
#include "context.h"
#include "error.h"
#include "log.h"
#include "response.h"

#include <string.h>

#define DEFAULT_KEEP_TURNS   2
#define DEFAULT_SUMMARY_MAX  1024
/* The transcript sent to the summariser, at most (a history this large
 * must be compacted more often; the request fails with a clear error). */
#define TRANSCRIPT_MAX       (16L * 1024 * 1024)

static const char default_instructions[] =
    "You compact conversations. The user gives you the start of a conversation between a "
    "user and an AI assistant; your summary will replace it, and the conversation will go on "
    "from the summary. Keep everything the rest of the conversation may need: facts, names, "
    "numbers, decisions, preferences, open questions, commitments, and the tools called with "
    "what they returned. Write it in the conversation's language, as short plain paragraphs "
    "or bullets, with no preamble and no comment on the task.";

static const char summary_head[] = "Summary of the conversation so far (earlier messages "
                                   "were compacted):\n\n";

struct compaction {
    /* Settings (copied from ac_compact_opts). */
    int          keep_turns;      /* < 0: none */
    ac_llm      *llm;             /* a reference, or NULL: the session's */
    char        *instructions;    /* NULL: the default */
    long         max_summary;
    long         threshold;       /* automatic compaction: the trigger */

    /* One run. */
    ac_session  *s;               /* a reference */
    turn        *then;            /* automatic: the turn to submit after */
    turn        *self;            /* on demand: its queue item */
    size_t       cut;             /* messages [0, cut) are replaced */
    unsigned     epoch;           /* s->epoch when they were read */
    atomic_int   cancelled;       /* on demand: the session was freed first */
    ac_compact_done_fn done;
    void        *user;
};

/* ------------------------------------------------------------------ */
/* Settings                                                            */
/* ------------------------------------------------------------------ */

/* Check opts and copy them into a new compaction; NULL with err filled. */
static compaction *settings_new(const ac_compact_opts *o, int automatic, ac_error *err)
{
    ac_compact_opts d = {.version = AC_COMPACT_OPTS_VERSION};
    if (!o)
        o = &d;
    const char *bad = NULL;
    if (o->version > AC_COMPACT_OPTS_VERSION)
        bad = "version is newer than this library knows";
    else if (o->keep_turns < AC_COMPACT_KEEP_NONE)
        bad = "keep_turns is negative (AC_COMPACT_KEEP_NONE keeps none)";
    else if (o->max_summary_tokens < 0)
        bad = "max_summary_tokens is negative";
    else if (automatic && o->threshold_tokens <= 0)
        bad = "threshold_tokens must be positive for automatic compaction";
    else if (o->threshold_tokens < 0)
        bad = "threshold_tokens is negative";
    else if (!ac__utf8_valid(o->instructions))
        bad = "instructions are not valid UTF-8";
    if (bad) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "compaction options: %s", bad);
        return NULL;
    }
    compaction *c = ac__calloc(1, sizeof *c);
    if (!c || (o->instructions && !(c->instructions = ac__strdup(o->instructions)))) {
        ac__free(c);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    c->keep_turns = o->keep_turns == 0 ? DEFAULT_KEEP_TURNS
                    : o->keep_turns == AC_COMPACT_KEEP_NONE ? -1 : o->keep_turns;
    c->max_summary = o->max_summary_tokens ? o->max_summary_tokens : DEFAULT_SUMMARY_MAX;
    c->threshold = o->threshold_tokens;
    if (o->llm) {
        ac__llm_ref(o->llm);
        c->llm = o->llm;
    }
    atomic_init(&c->cancelled, 0);
    return c;
}

/* A run with the settings of c. */
static compaction *settings_copy(const compaction *c)
{
    compaction *r = ac__calloc(1, sizeof *r);
    if (!r || (c->instructions && !(r->instructions = ac__strdup(c->instructions)))) {
        ac__free(r);
        return NULL;
    }
    r->keep_turns = c->keep_turns;
    r->max_summary = c->max_summary;
    r->threshold = c->threshold;
    if (c->llm) {
        ac__llm_ref(c->llm);
        r->llm = c->llm;
    }
    atomic_init(&r->cancelled, 0);
    return r;
}

void ac__compact_settings_free(compaction *c)
{
    if (!c)
        return;
    ac__llm_unref(c->llm);
    ac__free(c->instructions);
    ac__free(c);
}

void ac__compact_cancel(compaction *c) { atomic_store(&c->cancelled, 1); }

/* ------------------------------------------------------------------ */
/* What to replace, and the transcript                                  */
/* ------------------------------------------------------------------ */

static int turn_start(const ac__msg *m)
{
    return m->pub.role == AC_ROLE_USER && !(m->flags & AC_MESSAGE_SUMMARY);
}

/* The count of leading messages to replace, keeping the newest `keep`
 * turns (keep < 0: none); 0 when there is nothing to gain (no older turn,
 * or only a summary already). */
static size_t cut_point(const ac__msg *h, size_t n, int keep)
{
    size_t cut = 0;
    if (keep < 0) {
        cut = n;
    } else {
        size_t seen = 0;
        for (size_t i = n; i-- > 0;)
            if (turn_start(&h[i]) && ++seen == (size_t)keep) {
                cut = i;
                break;
            }
    }
    if (cut == 1 && (h[0].flags & AC_MESSAGE_SUMMARY))
        return 0;
    return cut;
}

/* "Name" for a transcript line: the speaker, with the author's name. */
static int speaker(buf *b, const char *who, const char *name)
{
    int rc = ac__buf_appends(b, who);
    if (!rc && name && *name) {
        rc = ac__buf_appends(b, " (");
        rc = rc ? rc : ac__buf_appends(b, name);
        rc = rc ? rc : ac__buf_appends(b, ")");
    }
    return rc ? rc : ac__buf_appends(b, ": ");
}

/* The transcript of h[0..n): one paragraph per message. */
static char *transcript(const ac__msg *h, size_t n, ac_error *err)
{
    buf b = {.limit = TRANSCRIPT_MAX};
    int rc = ac__buf_appends(&b, "<conversation>\n");
    for (size_t i = 0; i < n && !rc; i++) {
        const ac__msg *m = &h[i];
        const ac_part *res = ac__msg_find(m, AC_PART_TOOL_RESULT);
        if (m->flags & AC_MESSAGE_SUMMARY)
            rc = ac__buf_appends(&b, "Summary of what came before: ");
        else if (res)
            rc = speaker(&b, res->is_error ? "Tool failed" : "Tool result", res->name);
        else
            rc = speaker(&b, m->pub.role == AC_ROLE_ASSISTANT ? "Assistant" : "User",
                         m->pub.name);
        if (!rc)
            rc = ac__buf_appends(&b, res && !*m->pub.text ? res->text : m->pub.text);
        for (size_t j = 0; j < m->pub.n_parts && !rc; j++) {
            const ac_part *p = &m->parts[j];
            if (p->type == AC_PART_TOOL_CALL) {
                rc = ac__buf_appends(&b, "\n[called ");
                rc = rc ? rc : ac__buf_appends(&b, p->name ? p->name : "");
                rc = rc ? rc : ac__buf_appends(&b, " with ");
                rc = rc ? rc : ac__buf_appends(&b, p->arguments ? p->arguments : "{}");
                rc = rc ? rc : ac__buf_appends(&b, "]");
            } else if (p->type == AC_PART_IMAGE) {
                rc = ac__buf_appends(&b, "\n[an image]");
            } else if (p->type == AC_PART_FILE) {
                rc = ac__buf_appends(&b, "\n[the file ");
                rc = rc ? rc : ac__buf_appends(&b, p->name ? p->name : "");
                rc = rc ? rc : ac__buf_appends(&b, ":\n");
                rc = rc ? rc : ac__buf_append(&b, p->text ? p->text : "", p->text_len);
                rc = rc ? rc : ac__buf_appends(&b, "]");
            }
        }
        if (!rc)
            rc = ac__buf_appends(&b, "\n\n");
    }
    if (!rc)
        rc = ac__buf_appends(&b, "</conversation>\n\nSummarise this conversation.");
    if (rc) {
        ac__buf_free(&b);
        if (rc == -2)
            ac__error_set(err, AC_ETOOBIG, AC_STAGE_REQUEST, "the messages to compact make a "
                          "transcript of more than %ld bytes; compact more often",
                          TRANSCRIPT_MAX);
        else
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    return ac__buf_steal(&b);
}

/* ------------------------------------------------------------------ */
/* A run                                                                */
/* ------------------------------------------------------------------ */

static void summary_done(ac_request *q, ac_status status, void *user);

/* Sets *waits on q (a reference), or clears it (q NULL), returning the
 * reference it held. */
static ac_request *set_waits_for(ac_request *turn_q, ac_request *q)
{
    if (q)
        ac__request_ref(q);
    pthread_mutex_lock(&turn_q->mu);
    ac_request *old = turn_q->waits_for;
    turn_q->waits_for = q;
    pthread_mutex_unlock(&turn_q->mu);
    /* A turn cancelled before q was set here found nothing to pass its
     * cancel on to (ac_request_cancel sets the flag, then looks): pass it
     * on now. */
    if (q && atomic_load(&turn_q->cancel))
        ac_request_cancel(q);
    return old;
}

/* Start run c: read what to replace, send the summary's request.  AC_OK:
 * it runs (summary_done ends it); AC_EOF: nothing to compact; otherwise
 * it could not start (err filled). */
static ac_status run_start(compaction *c, ac_error *err)
{
    ac_session *s = c->s;
    pthread_mutex_lock(&s->mu);
    c->cut = cut_point(s->hist, s->n, c->keep_turns);
    c->epoch = s->epoch;
    char *text = c->cut ? transcript(s->hist, c->cut, err) : NULL;
    ac_llm *llm = c->llm ? c->llm : s->llm;
    ac__llm_ref(llm);
    pthread_mutex_unlock(&s->mu);
    if (!c->cut) {
        ac__llm_unref(llm);
        return AC_EOF;
    }
    ac_request *q = NULL;
    ac_gen_params *p = text ? ac_gen_params_new() : NULL;
    ac_callbacks cb = {.version = AC_CALLBACKS_VERSION, .on_done = summary_done};
    if (p && ac_gen_params_set_max_tokens(p, c->max_summary) == AC_OK)
        q = ac__chat_new(llm, p, &cb, c);
    ac_gen_params_free(p);
    if (!q) {
        ac__llm_unref(llm);
        if (text)
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        ac__free(text);
        return err ? err->code : AC_ENOMEM;
    }
    /* A build that fails is reported by the engine, through summary_done. */
    ac__chat_build(q, c->instructions ? c->instructions : default_instructions, NULL, 0, text);
    ac__free(text);
    pthread_mutex_lock(&s->mu);
    ac__request_ref(q);
    s->current = q;
    if (c->then) {
        ac__request_ref(c->then->q);
        s->waiting = c->then->q;
    }
    pthread_mutex_unlock(&s->mu);
    if (c->then)
        ac__request_unref(set_waits_for(c->then->q, q));
    ac_status st = ac__request_submit(q);
    if (st == AC_OK) {
        ac__llm_unref(llm);
        return AC_OK;
    }
    /* Not taken (the core was closed): undo, no callback ran. */
    if (c->then)
        ac__request_unref(set_waits_for(c->then->q, NULL));
    pthread_mutex_lock(&s->mu);
    ac_request *cur = s->current == q ? q : NULL, *w = s->waiting;
    if (cur)
        s->current = NULL;
    s->waiting = NULL;
    pthread_mutex_unlock(&s->mu);
    ac__request_unref(cur);
    ac__request_unref(w);
    ac__request_submit_error(q, st, err);
    ac__error_set_provider(err, llm->inst->name);
    ac__llm_unref(llm);
    ac__request_unref(q);
    return st;
}

/* Replace h[0..cut) with the summary (engine context, s->mu held). */
static ac_status apply(compaction *c, ac_request *q, ac_error *err)
{
    ac_session *s = c->s;
    if (s->epoch != c->epoch || s->n < c->cut) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_REQUEST, "the history was cleared while "
                      "its summary was written; nothing was compacted");
        return AC_ECANCELED;
    }
    ac_response *r = q->resp;
    char *text = ac__asprintf("%s%s", summary_head, ac_response_content(r));
    ac__msg sum;
    ac__msg_init(&sum, AC_ROLE_USER);
    ac_status st = text ? ac__msg_text(&sum, AC_ROLE_USER, text) : AC_ENOMEM;
    ac__free(text);
    if (st == AC_OK) {
        const char *prov = ac_response_provider(r), *model = ac_response_model(r);
        st = ac__msg_set_origin(&sum, *prov ? prov : NULL, *model ? model : NULL);
    }
    /* Room in the archive first: then nothing below can fail. */
    if (st == AC_OK && s->n_archive + c->cut > s->cap_archive) {
        size_t cap = s->cap_archive ? s->cap_archive : 16;
        while (cap < s->n_archive + c->cut)
            cap *= 2;
        ac__msg *v = ac__realloc(s->archive, cap * sizeof *v);
        if (v) {
            s->archive = v;
            s->cap_archive = cap;
        } else {
            st = AC_ENOMEM;
        }
    }
    if (st != AC_OK) {
        ac__msg_clear(&sum);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory compacting the "
                      "history (it is as it was)");
        return AC_ENOMEM;
    }
    sum.flags = AC_MESSAGE_SUMMARY;
    sum.input_tokens = ac_response_input_tokens(r);
    sum.output_tokens = ac_response_output_tokens(r);
    sum.time_ms = ac__wall_ms();
    memcpy(s->archive + s->n_archive, s->hist, c->cut * sizeof *s->hist);
    s->n_archive += c->cut;
    memmove(s->hist + 1, s->hist + c->cut, (s->n - c->cut) * sizeof *s->hist);
    s->hist[0] = sum;
    s->n = s->n - c->cut + 1;
    s->epoch++;
    s->updated_ms = sum.time_ms;
    return AC_OK;
}

static void run_free(compaction *c)
{
    ac_session *s = c->s;
    ac__compact_settings_free(c);
    ac__session_release(s);
}

/* Run c ended with status (err for a failure): go on with the session. */
static void run_end(compaction *c, ac_status status, const ac_error *err)
{
    ac_session *s = c->s;
    if (c->then) {
        turn *t = c->then;
        ac_request *q = t->q;
        if (status != AC_OK && status != AC_EOF) {
            t->warning = ac__asprintf("the history was not compacted: %s",
                                      err && err->message[0] ? err->message
                                                             : ac_strerror(status));
            ac__log(AC_LOG_WARN, err && err->provider[0] ? err->provider : NULL,
                    "session %s: the history was not compacted: %s", s->id,
                    err && err->message[0] ? err->message : ac_strerror(status));
        }
        ac__request_unref(set_waits_for(q, NULL));
        pthread_mutex_lock(&s->mu);
        ac_request *w = s->waiting;
        s->waiting = NULL;
        pthread_mutex_unlock(&s->mu);
        ac__request_unref(w);
        ac_status st = ac__turn_submit_now(t);
        if (st != AC_OK)
            ac__request_fail_unsubmitted(q, st);
        ac__request_unref(q); /* the compaction's reference */
        run_free(c);
        return;
    }
    turn *self = c->self;
    size_t replaced = status == AC_OK ? c->cut : 0;
    if (status == AC_EOF)
        status = AC_OK;
    if (c->done)
        c->done(s, status, replaced, status == AC_OK ? NULL : err, c->user);
    ac__free(self);
    ac__session_advance(s);
    run_free(c);
}

static void summary_done(ac_request *q, ac_status status, void *user)
{
    compaction *c = user;
    ac_session *s = c->s;
    ac_error e;
    ac_error_clear(&e);
    if (status != AC_OK)
        ac_request_status(q, &e);
    else if (!q->resp || !*ac_response_content(q->resp)) {
        status = AC_EPROTOCOL;
        ac__error_set(&e, status, AC_STAGE_PROTOCOL, "the model wrote an empty summary; nothing "
                      "was compacted");
        ac__error_set_provider(&e, q->llm->inst->name);
    }
    pthread_mutex_lock(&s->mu);
    ac_request *cur = s->current == q ? q : NULL;
    if (cur)
        s->current = NULL;
    if (status == AC_OK)
        status = apply(c, q, &e);
    pthread_mutex_unlock(&s->mu);
    if (status == AC_OK)
        ac__log(AC_LOG_INFO, q->llm->inst->name, "session %s: %zu messages compacted into a "
                "summary", s->id, c->cut);
    ac__request_unref(cur);
    ac__request_unref(q); /* run_start's handle */
    run_end(c, status, &e);
}

/* ------------------------------------------------------------------ */
/* Automatic, before a turn                                             */
/* ------------------------------------------------------------------ */

int ac__compact_before(turn *t)
{
    ac_session *s = t->s;
    /* A turn cancelled while it waited pays for no summary. */
    if (atomic_load(&t->q->cancel))
        return 0;
    pthread_mutex_lock(&s->mu);
    compaction *set = s->auto_compact, *c = NULL;
    int due = 0;
    if (set) {
        long est = ac__estimate_tokens(s->hist, s->n, s->system);
        if (t->prompt)
            est += 4 + (long)((strlen(t->prompt) + 3) / 4);
        due = est > set->threshold && cut_point(s->hist, s->n, set->keep_turns) > 0;
        if (due && !(c = settings_copy(set)))
            t->warning = ac__strdup("the history was not compacted: out of memory");
    }
    pthread_mutex_unlock(&s->mu);
    if (!c)
        return 0;
    ac__session_hold(s);
    c->s = s;
    c->then = t;
    ac__request_ref(t->q);
    ac_error err;
    ac_error_clear(&err);
    ac_status st = run_start(c, &err);
    if (st == AC_OK)
        return 1;
    if (st != AC_EOF)
        t->warning = ac__asprintf("the history was not compacted: %s", err.message);
    ac__request_unref(t->q);
    run_free(c);
    return 0;
}

/* ------------------------------------------------------------------ */
/* On demand                                                            */
/* ------------------------------------------------------------------ */

void ac__compact_dispatch(turn *t)
{
    compaction *c = t->job;
    ac_error err;
    ac_error_clear(&err);
    ac_status st;
    if (atomic_load(&c->cancelled)) {
        st = AC_ECANCELED;
        ac__error_set(&err, st, AC_STAGE_CANCELLED, "the session was freed before its "
                      "compaction ran");
    } else {
        st = run_start(c, &err);
        if (st == AC_OK)
            return;
    }
    run_end(c, st, &err);
}

ac_status ac_session_acompact(ac_session *s, const ac_compact_opts *opts, ac_compact_done_fn done,
                              void *user, ac_error *err)
{
    if (!s) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "session is NULL");
        return AC_EINVAL;
    }
    compaction *c = settings_new(opts, 0, err);
    if (!c)
        return err ? err->code : AC_EINVAL;
    turn *t = ac__calloc(1, sizeof *t);
    if (!t) {
        ac__compact_settings_free(c);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return AC_ENOMEM;
    }
    ac__session_hold(s);
    c->s = s;
    c->self = t;
    c->done = done;
    c->user = user;
    t->s = s;
    t->job = c;
    if (ac__session_enqueue(s, t))
        ac__compact_dispatch(t);
    return AC_OK;
}

/* The blocking call waits on this. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             done;
    ac_status       status;
    size_t          replaced;
    ac_error        err;
} waiter;

static void wake(ac_session *s, ac_status status, size_t replaced, const ac_error *err,
                 void *user)
{
    (void)s;
    waiter *w = user;
    pthread_mutex_lock(&w->mu);
    w->status = status;
    w->replaced = replaced;
    if (err)
        w->err = *err;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

ac_status ac_session_compact(ac_session *s, const ac_compact_opts *opts, size_t *replaced,
                             ac_error *err)
{
    if (replaced)
        *replaced = 0;
    if (!s) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "session is NULL");
        return AC_EINVAL;
    }
    ac_llm *llm = ac__session_llm(s);
    int busy = ac__refuse_blocking(llm, "ac_session_compact", err);
    ac__llm_unref(llm);
    if (busy)
        return AC_EBUSY;
    waiter w = {.status = AC_OK};
    ac_error_clear(&w.err);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    ac_status st = ac_session_acompact(s, opts, wake, &w, err);
    if (st == AC_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        st = w.status;
        if (st != AC_OK && err)
            *err = w.err;
        if (replaced)
            *replaced = w.replaced;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return st;
}

ac_status ac_session_set_compaction(ac_session *s, const ac_compact_opts *opts, ac_error *err)
{
    if (!s) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "session is NULL");
        return AC_EINVAL;
    }
    compaction *c = NULL;
    if (opts && !(c = settings_new(opts, 1, err)))
        return err ? err->code : AC_EINVAL;
    pthread_mutex_lock(&s->mu);
    compaction *old = s->auto_compact;
    s->auto_compact = c;
    pthread_mutex_unlock(&s->mu);
    ac__compact_settings_free(old);
    return AC_OK;
}
