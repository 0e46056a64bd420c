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
 * Saved sessions are JSON: {"format":"abstractcore-session","version":1,
 * "system", "provider", "model", "messages":[...]} -- never an API key.
 */
#include "alloc.h"
#include "error.h"
#include "message.h"
#include "chat.h"
#include "jsonw.h"
#include "session.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SESSION_FILE_MAX (64L * 1024 * 1024)

typedef struct turn {
    ac_session  *s;
    ac_request  *q;        /* a reference, until submitted */
    char        *prompt;   /* NULL: continue after tool results */
    struct turn *next;
} turn;

struct ac_session {
    atomic_int      refs;
    pthread_mutex_t mu;
    ac_llm         *llm;
    char           *system;
    ac__msg        *hist;
    size_t          n, cap;
    turn           *queue_head, *queue_tail;
    ac_request     *current;  /* the running turn (a reference) */
    int             busy;
};

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

static int role_parse(const char *s, ac_role *out)
{
    static const ac_role roles[] = {AC_ROLE_SYSTEM, AC_ROLE_USER, AC_ROLE_ASSISTANT, AC_ROLE_TOOL};
    for (size_t i = 0; i < 4; i++)
        if (s && strcmp(s, ac_role_name(roles[i])) == 0) {
            *out = roles[i];
            return 0;
        }
    return -1;
}

/* Append (takes ownership of *m on success).  Called with mu held. */
static ac_status hist_push(ac_session *s, ac__msg *m)
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
        int ok = (!t->prompt || ac__msg_text(&user, AC_ROLE_USER, t->prompt) == AC_OK) &&
                 ac__msg_from_response(&reply, q->resp, s->n) == AC_OK;
        size_t before = s->n;
        if (ok && t->prompt && hist_push(s, &user) != AC_OK)
            ok = 0;
        if (ok && hist_push(s, &reply) != AC_OK) {
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
        st = hist_push(s, &m);
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

/* ------------------------------------------------------------------ */
/* Save and load                                                       */
/* ------------------------------------------------------------------ */

/* The saved file is written with jsonw, whose every append is checked:
 * a save that runs out of memory writes nothing, rather than a file
 * missing a message that would load as a different conversation. */
/* One message in the saved form (format version 1): role, content (its
 * text, or a tool message's result), tool_calls, tool_call_id, name,
 * images (data: URLs or http(s) URLs). */
static void message_write(jsonw *w, const ac__msg *m)
{
    const ac_part *res = ac__msg_find(m, AC_PART_TOOL_RESULT);
    ac__jw_object(w);
    ac__jw_key(w, "role");
    ac__jw_string(w, ac_role_name(m->pub.role));
    ac__jw_key(w, "content");
    ac__jw_string(w, *m->pub.text || !res ? m->pub.text : res->text);
    int calls = 0, images = 0;
    for (size_t i = 0; i < m->pub.n_parts; i++) {
        calls += m->parts[i].type == AC_PART_TOOL_CALL;
        images += m->parts[i].type == AC_PART_IMAGE;
    }
    if (calls) {
        ac__jw_key(w, "tool_calls");
        ac__jw_array(w);
        for (size_t i = 0; i < m->pub.n_parts; i++) {
            const ac_part *p = &m->parts[i];
            if (p->type != AC_PART_TOOL_CALL)
                continue;
            ac__jw_object(w);
            ac__jw_key(w, "id");
            ac__jw_string(w, p->id);
            ac__jw_key(w, "name");
            ac__jw_string(w, p->name);
            /* Stored arguments are always a JSON object (the sink
             * checked them): written as they are. */
            ac__jw_key(w, "arguments");
            ac__jw_raw(w, p->arguments ? p->arguments : "{}");
            ac__jw_end(w);
        }
        ac__jw_end(w);
    }
    if (res) {
        ac__jw_key(w, "tool_call_id");
        ac__jw_string(w, res->id);
    }
    if (res && res->name) {
        ac__jw_key(w, "name");
        ac__jw_string(w, res->name);
    } else if (m->pub.name) {
        ac__jw_key(w, "name");
        ac__jw_string(w, m->pub.name);
    }
    if (images) {
        ac__jw_key(w, "images");
        ac__jw_array(w);
        for (size_t i = 0; i < m->pub.n_parts; i++) {
            const ac_part *p = &m->parts[i];
            if (p->type != AC_PART_IMAGE)
                continue;
            if (p->url) {
                ac__jw_string(w, p->url);
            } else {
                char *u = ac__asprintf("data:%s;base64,%s", p->mime_type ? p->mime_type : "image/png",
                                       p->data_base64 ? p->data_base64 : "");
                if (!u)
                    w->failed = 1;
                ac__jw_string(w, u ? u : "");
                ac__free(u);
            }
        }
        ac__jw_end(w);
    }
    ac__jw_end(w);
}

ac_status ac_session_save(ac_session *s, const char *path, ac_error *err)
{
    if (!s || !path || !*path) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_IO, "session or path is NULL");
        return AC_EINVAL;
    }
    jsonw w;
    ac__jw_init(&w, 1);
    pthread_mutex_lock(&s->mu);
    ac__jw_object(&w);
    ac__jw_key(&w, "format");
    ac__jw_string(&w, "abstractcore-session");
    ac__jw_key(&w, "version");
    ac__jw_int(&w, 1);
    if (s->system) {
        ac__jw_key(&w, "system");
        ac__jw_string(&w, s->system);
    }
    ac__jw_key(&w, "provider");
    ac__jw_string(&w, s->llm->inst->name);
    ac__jw_key(&w, "model");
    ac__jw_string(&w, s->llm->model);
    ac__jw_key(&w, "messages");
    ac__jw_array(&w);
    for (size_t i = 0; i < s->n; i++)
        message_write(&w, &s->hist[i]);
    ac__jw_end(&w);
    ac__jw_end(&w);
    pthread_mutex_unlock(&s->mu);
    char *text = ac__jw_finish(&w, NULL);
    ac_status st = AC_OK;
    char *tmp = text ? ac__asprintf("%s.tmp.XXXXXX", path) : NULL;
    int fd = tmp ? mkstemp(tmp) : -1; /* only once there is text to write */
    if (!text || !tmp) {
        st = AC_ENOMEM;
        ac__error_set(err, st, AC_STAGE_IO, "out of memory");
    } else if (fd < 0) {
        st = AC_EIO;
        ac__error_set(err, st, AC_STAGE_IO, "cannot save session to %s: %s", path, strerror(errno));
    } else {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t wr = write(fd, text + off, len - off);
            if (wr < 0 && errno == EINTR)
                continue;
            if (wr <= 0)
                break;
            off += (size_t)wr;
        }
        int bad = off < len || write(fd, "\n", 1) != 1 || fsync(fd) != 0;
        int saved_errno = errno;
        if (close(fd) != 0)
            bad = 1;
        if (bad || rename(tmp, path) != 0) {
            st = AC_EIO;
            ac__error_set(err, st, AC_STAGE_IO, "cannot save session to %s: %s", path,
                      strerror(bad ? saved_errno : errno));
            unlink(tmp);
        }
    }
    ac__free(tmp);
    ac__free(text);
    return st;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* A saved string, read exactly: a string with no NUL inside (json-c keeps
 * "\u0000" and C strings would cut the value there).  1 ok, 0 absent,
 * -1 present but not such a string. */
static int saved_string(json_object *o, const char *key, const char **out)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    const char *sv = json_object_get_string(v);
    if ((size_t)json_object_get_string_len(v) != strlen(sv))
        return -1;
    *out = sv;
    return 1;
}

static ac_status bad_value(ac_error *err, const char *path, size_t i, const char *what)
{
    ac__error_set(err, AC_EPROTOCOL, AC_STAGE_IO, "%s: messages[%zu]%s", path, i, what);
    return AC_EPROTOCOL;
}

/* An image as saved: a data: URL (split into its type and base64) or an
 * http(s) URL. */
static ac_status image_part(ac__msg *m, const char *u)
{
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_IMAGE};
    char *mime = NULL;
    if (strncmp(u, "data:", 5) == 0) {
        const char *semi = strstr(u, ";base64,");
        if (!semi)
            return AC_EPROTOCOL;
        if (!(mime = ac__strndup(u + 5, (size_t)(semi - u - 5))))
            return AC_ENOMEM;
        p.mime_type = mime;
        p.data_base64 = semi + 8;
        p.data_len = strlen(p.data_base64) / 4 * 3;
    } else if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) {
        p.url = u;
    } else {
        return AC_EPROTOCOL;
    }
    ac_status st = ac__msg_add(m, &p);
    ac__free(mime);
    return st;
}

/* One saved message, strictly: a value that would load dropped or changed
 * (a number as content, a NUL cutting a string, arguments that are not a
 * JSON object) is refused with its place in the file. */
static ac_status message_from_json(json_object *o, ac__msg *m, const char *path, size_t i,
                                   ac_error *err)
{
    ac__msg_init(m, AC_ROLE_USER);
    const char *role_s, *content, *id, *name;
    ac_role role;
    if (!json_object_is_type(o, json_type_object))
        return bad_value(err, path, i, " is not an object");
    if (saved_string(o, "role", &role_s) != 1 || role_parse(role_s, &role) ||
        role == AC_ROLE_SYSTEM)
        return bad_value(err, path, i, ".role is not user, assistant or tool");
    if (saved_string(o, "content", &content) < 0)
        return bad_value(err, path, i, ".content is not a string (or holds a NUL byte)");
    if (saved_string(o, "tool_call_id", &id) < 0)
        return bad_value(err, path, i, ".tool_call_id is not a string");
    if (saved_string(o, "name", &name) < 0)
        return bad_value(err, path, i, ".name is not a string");
    if (!ac__utf8_valid(content) || !ac__utf8_valid(id) || !ac__utf8_valid(name))
        return bad_value(err, path, i, " has text that is not UTF-8");
    ac_status st;
    if (role == AC_ROLE_TOOL) {
        if (!id)
            return bad_value(err, path, i, ": a tool message without tool_call_id");
        st = ac__msg_tool_result(m, id, name, content ? content : "", 0);
    } else {
        st = ac__msg_text(m, role, content && *content ? content : NULL);
        if (st == AC_OK && name)
            st = ac__msg_set_name(m, name);
    }
    if (st != AC_OK)
        goto oom;
    json_object *calls;
    if (json_object_object_get_ex(o, "tool_calls", &calls)) {
        if (!json_object_is_type(calls, json_type_array) || role != AC_ROLE_ASSISTANT) {
            ac__msg_clear(m);
            return bad_value(err, path, i, ".tool_calls is not a list on an assistant message");
        }
        for (size_t k = 0; k < json_object_array_length(calls); k++) {
            json_object *c = json_object_array_get_idx(calls, k), *args = NULL;
            const char *cid = NULL, *cname = NULL;
            char what[96];
            int bad = !json_object_is_type(c, json_type_object) ||
                      saved_string(c, "name", &cname) != 1 || !*cname ||
                      saved_string(c, "id", &cid) < 0;
            if (!bad && json_object_object_get_ex(c, "arguments", &args) &&
                !json_object_is_type(args, json_type_object))
                bad = 2;
            if (bad) {
                snprintf(what, sizeof what, ".tool_calls[%zu]%s", k,
                         bad == 2 ? ".arguments is not a JSON object" : " has no name (or a bad id)");
                ac__msg_clear(m);
                return bad_value(err, path, i, what);
            }
            const char *at = args ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN)
                                  : "{}";
            if (!at)
                goto oom;
            ac_part p = {.struct_size = sizeof p, .type = AC_PART_TOOL_CALL, .id = cid ? cid : "",
                         .name = cname, .arguments = at};
            if (ac__msg_add(m, &p) != AC_OK)
                goto oom;
        }
    }
    json_object *imgs;
    if (json_object_object_get_ex(o, "images", &imgs)) {
        if (!json_object_is_type(imgs, json_type_array)) {
            ac__msg_clear(m);
            return bad_value(err, path, i, ".images is not a list");
        }
        for (size_t k = 0; k < json_object_array_length(imgs); k++) {
            json_object *u = json_object_array_get_idx(imgs, k);
            st = json_object_is_type(u, json_type_string)
                     ? image_part(m, json_object_get_string(u)) : AC_EPROTOCOL;
            if (st == AC_ENOMEM)
                goto oom;
            if (st != AC_OK) {
                char what[64];
                snprintf(what, sizeof what, ".images[%zu] is not a data: or http(s) URL", k);
                ac__msg_clear(m);
                return bad_value(err, path, i, what);
            }
        }
    }
    return AC_OK;
oom:
    ac__msg_clear(m);
    ac__error_set(err, AC_ENOMEM, AC_STAGE_IO, "out of memory");
    return AC_ENOMEM;
}

ac_session *ac_session_load(ac_llm *llm, const char *path, ac_error *err)
{
    if (!llm || !path) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_IO, "llm or path is NULL");
        return NULL;
    }
    /* Work on a local report: the caller's may hold anything until we fail. */
    ac_error local, *user_err = err;
    ac_error_clear(&local);
    err = &local;
    FILE *f = fopen(path, "rb");
    if (!f) {
        ac__error_set(user_err, AC_EIO, AC_STAGE_IO, "cannot open session file %s: %s", path,
                  strerror(errno));
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    json_object *root = NULL;
    char chunk[65536];
    size_t total = 0, r;
    enum json_tokener_error je = json_tokener_continue;
    if (tok)
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    while (tok && !root && (r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        total += r;
        if (total > (size_t)SESSION_FILE_MAX)
            break;
        root = json_tokener_parse_ex(tok, chunk, (int)r);
        je = json_tokener_get_error(tok);
        if (je != json_tokener_continue && je != json_tokener_success)
            break;
    }
    int ioerr = ferror(f);
    fclose(f);
    ac_session *s = NULL;
    if (tok)
        json_tokener_free(tok);
    if (!tok) {
        ac__error_set(user_err, AC_ENOMEM, AC_STAGE_IO, "out of memory");
        return NULL;
    }
    if (ioerr) {
        ac__error_set(err, AC_EIO, AC_STAGE_IO, "cannot read session file %s", path);
        goto done;
    }
    if (total > (size_t)SESSION_FILE_MAX) {
        ac__error_set(err, AC_ETOOBIG, AC_STAGE_IO, "session file %s is larger than %ld bytes", path,
                  SESSION_FILE_MAX);
        goto done;
    }
    if (!root) {
        ac__error_set(err, AC_EJSON, AC_STAGE_JSON, "session file %s is not valid JSON: %s", path,
                  je == json_tokener_continue ? "unexpected end of file" : json_tokener_error_desc(je));
        goto done;
    }
    const char *fmt = jstr(root, "format");
    json_object *msgs;
    if (!fmt || strcmp(fmt, "abstractcore-session") != 0 ||
        !json_object_object_get_ex(root, "messages", &msgs) ||
        !json_object_is_type(msgs, json_type_array)) {
        ac__error_set(err, AC_EPROTOCOL, AC_STAGE_IO,
                  "%s is not a saved abstractcore session (no format/messages)", path);
        goto done;
    }
    const char *system;
    if (saved_string(root, "system", &system) < 0 || !ac__utf8_valid(system)) {
        ac__error_set(err, AC_EPROTOCOL, AC_STAGE_IO, "%s: system is not a string (or holds a "
                      "NUL byte)", path);
        goto done;
    }
    s = ac_session_new(llm, system);
    if (!s) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_IO, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        ac__msg m;
        if (message_from_json(json_object_array_get_idx(msgs, i), &m, path, i, err) != AC_OK ||
            hist_push(s, &m) != AC_OK) {
            ac__msg_clear(&m);
            if (err->code == AC_OK)
                ac__error_set(err, AC_ENOMEM, AC_STAGE_IO, "out of memory");
            ac_session_free(s);
            s = NULL;
            break;
        }
    }
done:
    json_object_put(root);
    if (!s && user_err)
        *user_err = local;
    return s;
}
