/*
 * messages.c -- ac_messages, a history the caller builds: sent whole
 * (ac_generate_messages) or added to a session (session.c).
 *
 * The list is an array of the core's own messages (message.h), so sending
 * it is the path a session's history takes: a copy into the chat request.
 * Images may be attached to any user message of it (a proxy's history
 * carries them in earlier turns too): they are read and checked here as
 * ac_gen_params_attach_image does (media/detect.c), and fitted to each
 * backend's limits when a request is made (ac__media_fit_msgs).
 */
#include "messages.h"
#include "alloc.h"
#include "chat.h"
#include "context.h"
#include "params.h"
#include "error.h"
#include "request.h"
#include "media/media.h"

#include <string.h>

ac_messages *ac_messages_new(void) { return ac__calloc(1, sizeof(ac_messages)); }

void ac_messages_free(ac_messages *m)
{
    if (!m)
        return;
    ac__msgs_free(m->v, m->n);
    ac__free(m);
}

size_t ac_messages_count(const ac_messages *m) { return m ? m->n : 0; }

static ac_status grow(ac_messages *m)
{
    if (m->n < m->cap)
        return AC_OK;
    size_t cap = m->cap ? m->cap * 2 : 8;
    ac__msg *v = ac__realloc(m->v, cap * sizeof *v);
    if (!v)
        return AC_ENOMEM;
    m->v = v;
    m->cap = cap;
    return AC_OK;
}

ac_status ac_messages_add(ac_messages *m, ac_role role, const char *text)
{
    if (!m || (role != AC_ROLE_SYSTEM && role != AC_ROLE_USER && role != AC_ROLE_ASSISTANT &&
               role != AC_ROLE_TOOL) || !ac__utf8_valid(text))
        return AC_EINVAL;
    if (grow(m) != AC_OK)
        return AC_ENOMEM;
    ac_status st = ac__msg_text(&m->v[m->n], role, text && *text ? text : NULL);
    if (st != AC_OK)
        return st;
    m->n++;
    return AC_OK;
}

ac_status ac_messages_set_name(ac_messages *m, const char *name)
{
    if (!m || !m->n || !ac__utf8_valid(name))
        return AC_EINVAL;
    return ac__msg_set_name(&m->v[m->n - 1], name);
}

/* A JSON object as text?  (The same rule as tool arguments everywhere.) */
static int is_object_text(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return *s == '{';
}

ac_status ac_messages_add_tool_call(ac_messages *m, const char *id, const char *name,
                                    const char *arguments_json)
{
    if (!m || !m->n || m->v[m->n - 1].pub.role != AC_ROLE_ASSISTANT || !name || !*name ||
        !ac__utf8_valid(name) || !ac__utf8_valid(id) || !ac__utf8_valid(arguments_json) ||
        (arguments_json && !is_object_text(arguments_json)))
        return AC_EINVAL;
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_TOOL_CALL, .id = id ? id : "",
                 .name = name, .arguments = arguments_json ? arguments_json : "{}"};
    return ac__msg_add(&m->v[m->n - 1], &p);
}

ac_status ac_messages_add_tool_result(ac_messages *m, const char *tool_call_id,
                                      const char *name, const char *content, int is_error)
{
    if (!m || !tool_call_id || !content || !ac__utf8_valid(tool_call_id) ||
        !ac__utf8_valid(name) || !ac__utf8_valid(content))
        return AC_EINVAL;
    if (grow(m) != AC_OK)
        return AC_ENOMEM;
    ac_status st = ac__msg_tool_result(&m->v[m->n], tool_call_id, name, content, is_error);
    if (st != AC_OK) {
        ac__msg_clear(&m->v[m->n]);
        return st;
    }
    m->n++;
    return AC_OK;
}

/* An image part of md on the last message of m.  The message is not
 * fitted to any backend yet: the request that sends it fits it. */
static ac_status add_image(ac_messages *m, ac__media *md, ac_error *err)
{
    ac__msg *last = &m->v[m->n - 1];
    ac_status st;
    if (md->kind == AC__MEDIA_URL) {
        ac_part p = {.struct_size = sizeof p, .type = AC_PART_IMAGE, .url = md->url};
        st = ac__msg_add(last, &p);
    } else {
        char *b64 = ac__b64_encode(md->data, md->len);
        const char *mime = md->mime ? md->mime : ac__image_mime(md->format);
        ac_part p = {.struct_size = sizeof p, .type = AC_PART_IMAGE, .mime_type = mime,
                     .data_base64 = b64, .data_len = md->len};
        st = b64 ? ac__msg_add(last, &p) : AC_ENOMEM;
        ac__free(b64);
    }
    ac__media_unref(md);
    if (st != AC_OK) {
        ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory");
        return st;
    }
    last->fitted = 0;
    return AC_OK;
}

/* The last message is a user message: AC_OK, or AC_EINVAL with err. */
static ac_status last_is_user(const ac_messages *m, ac_error *err)
{
    if (m && m->n && m->v[m->n - 1].pub.role == AC_ROLE_USER)
        return AC_OK;
    ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s", !m ? "the message list is NULL"
                  : "images go on a user message, and the list's last message is not one");
    return AC_EINVAL;
}

ac_status ac_messages_attach_image(ac_messages *m, const void *bytes, size_t n,
                                   const char *mime_type, ac_error *err)
{
    ac_error e;
    ac_status st = last_is_user(m, &e);
    if (st == AC_OK && (!bytes || !n)) {
        ac__error_set(&e, AC_EINVAL, AC_STAGE_REQUEST, "the image is NULL or empty");
        st = AC_EINVAL;
    }
    ac__media *md = st == AC_OK ? ac__media_from_image(bytes, n, mime_type, &e) : NULL;
    if (md)
        return add_image(m, md, err);
    if (err)
        *err = e;
    return e.code;
}

ac_status ac_messages_attach_image_url(ac_messages *m, const char *url, ac_error *err)
{
    ac_error e;
    ac_status st = last_is_user(m, &e);
    if (st == AC_OK && (!url || !*url || !ac__utf8_valid(url))) {
        ac__error_set(&e, AC_EINVAL, AC_STAGE_REQUEST, "the image URL is NULL, empty or not "
                      "UTF-8");
        st = AC_EINVAL;
    }
    ac__media *md = st == AC_OK ? ac__media_from_url(url, &e) : NULL;
    if (md)
        return add_image(m, md, err);
    if (err)
        *err = e;
    return e.code;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

static const ac__msg *at(const ac_messages *m, size_t i) { return m && i < m->n ? &m->v[i] : NULL; }

ac_role ac_messages_role(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    return x ? x->pub.role : AC_ROLE_USER;
}

const char *ac_messages_text(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    if (!x)
        return NULL;
    const ac_part *res = ac__msg_find(x, AC_PART_TOOL_RESULT);
    return *x->pub.text || !res ? x->pub.text : res->text;
}

const char *ac_messages_name(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    if (!x)
        return NULL;
    const ac_part *res = ac__msg_find(x, AC_PART_TOOL_RESULT);
    return res && res->name ? res->name : x->pub.name;
}

unsigned ac_messages_flags(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    if (!x)
        return 0;
    const ac_part *res = ac__msg_find(x, AC_PART_TOOL_RESULT);
    return x->flags | (res && res->is_error ? AC_MESSAGE_TOOL_ERROR : 0);
}

const char *ac_messages_tool_call_id(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    const ac_part *res = x ? ac__msg_find(x, AC_PART_TOOL_RESULT) : NULL;
    return res ? res->id : NULL;
}

/* Call j of message x, or NULL. */
static const ac_part *call_at(const ac__msg *x, size_t j)
{
    for (size_t k = 0, seen = 0; x && k < x->pub.n_parts; k++)
        if (x->parts[k].type == AC_PART_TOOL_CALL && seen++ == j)
            return &x->parts[k];
    return NULL;
}

size_t ac_messages_tool_call_count(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    size_t n = 0;
    for (size_t k = 0; x && k < x->pub.n_parts; k++)
        n += x->parts[k].type == AC_PART_TOOL_CALL;
    return n;
}

ac_status ac_messages_tool_call(const ac_messages *m, size_t i, size_t j, const char **id,
                                const char **name, const char **arguments)
{
    const ac_part *p = call_at(at(m, i), j);
    if (!p)
        return AC_EINVAL;
    if (id)
        *id = p->id ? p->id : "";
    if (name)
        *name = p->name;
    if (arguments)
        *arguments = p->arguments ? p->arguments : "{}";
    return AC_OK;
}

const char *ac_messages_provider(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    return x ? x->provider : NULL;
}

const char *ac_messages_model(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    return x ? x->model : NULL;
}

long ac_messages_input_tokens(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    return x ? x->input_tokens : -1;
}

long ac_messages_output_tokens(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    return x ? x->output_tokens : -1;
}

long long ac_messages_time(const ac_messages *m, size_t i)
{
    const ac__msg *x = at(m, i);
    return x ? x->time_ms : 0;
}

/* ------------------------------------------------------------------ */
/* Sending                                                              */
/* ------------------------------------------------------------------ */

ac_request *ac_agenerate_messages(ac_llm *llm, const ac_messages *msgs,
                                  const ac_gen_params *params, const ac_callbacks *cb,
                                  void *user, ac_error *err)
{
    if (!llm || !msgs || !msgs->n) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s",
                      !llm ? "llm is NULL" : "no messages to send");
        return NULL;
    }
    return ac__chat_start(llm, msgs->v, msgs->n, params, cb, user, err);
}

long ac_messages_estimate_tokens(const ac_messages *m)
{
    return m ? ac__estimate_tokens(m->v, m->n, NULL) : 0;
}

ac_status ac_count_tokens(ac_llm *llm, const ac_messages *msgs, const ac_gen_params *params,
                          long *tokens, int *exact, ac_error *err)
{
    if (!llm || !msgs || !tokens) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "NULL argument");
        return AC_EINVAL;
    }
    if (exact)
        *exact = 0;
    if (!llm->vt->build_count_request || !llm->vt->parse_count_response) {
        const char *system = params && params->system && !(msgs->n && msgs->v[0].pub.role ==
                                                             AC_ROLE_SYSTEM)
                                 ? params->system : NULL;
        *tokens = ac__estimate_tokens(msgs->v, msgs->n, system);
        return AC_OK;
    }
    if (ac__refuse_blocking(llm, "ac_count_tokens", err))
        return AC_EBUSY;
    if (!msgs->n) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "no messages to count");
        return AC_EINVAL;
    }
    ac_request *q = ac__chat_count(llm, msgs->v, msgs->n, params, err);
    if (!q)
        return err ? err->code : AC_ENOMEM;
    ac_request_wait(q, -1);
    ac_status st = ac_request_status(q, err);
    if (st == AC_OK) {
        *tokens = ac__chat_counted(q);
        if (exact)
            *exact = 1;
    }
    ac_request_free(q);
    return st;
}

ac_response *ac_generate_messages(ac_llm *llm, const ac_messages *msgs,
                                  const ac_gen_params *params, ac_error *err)
{
    if (ac__refuse_blocking(llm, "ac_generate_messages", err))
        return NULL;
    ac_request *q = ac_agenerate_messages(llm, msgs, params, NULL, NULL, err);
    return q ? ac__request_wait_result(q, err) : NULL;
}
