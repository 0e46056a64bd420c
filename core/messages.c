/*
 * messages.c -- ac_messages, a conversation the caller keeps and sends
 * whole (ac_agenerate_messages), without a session: the system prompts,
 * user turns with text and images, assistant turns with their tool calls,
 * and tool results, in order.  What a proxy receives in one request, or
 * a program that keeps its own history.
 *
 * The list is the same ac__msg vector a session keeps (message.h), so a
 * request is built from it exactly as from a session's history
 * (ac__chat_build): every plugin, every tool mode, structured output and
 * fallbacks work the same.  Everything handed in is checked here, where
 * the caller can be told which call was wrong, rather than by a plugin.
 *
 * Not thread-safe while being built (like ac_gen_params); a request copies
 * the messages before ac_agenerate_messages returns.
 */
#include "alloc.h"
#include "chat.h"
#include "error.h"
#include "message.h"
#include "params.h"

#include <json-c/json.h>
#include <string.h>

struct ac_messages {
    ac__msg *v;
    size_t   n, cap;
};

ac_messages *ac_messages_new(void) { return ac__calloc(1, sizeof(ac_messages)); }

void ac_messages_free(ac_messages *m)
{
    if (!m)
        return;
    ac__msgs_free(m->v, m->n);
    ac__free(m);
}

size_t ac_messages_count(const ac_messages *m) { return m ? m->n : 0; }

/* Room for one more message. */
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

static ac__msg *last(ac_messages *m) { return m && m->n ? &m->v[m->n - 1] : NULL; }

static int text_ok(const char *s) { return s && ac__utf8_valid(s); }

ac_status ac_messages_add(ac_messages *m, ac_role role, const char *text)
{
    /* A tool message is its result: ac_messages_add_tool_result. */
    if (!m || (role != AC_ROLE_SYSTEM && role != AC_ROLE_USER && role != AC_ROLE_ASSISTANT) ||
        (text && !ac__utf8_valid(text)))
        return AC_EINVAL;
    if (grow(m) != AC_OK)
        return AC_ENOMEM;
    ac_status st = ac__msg_text(&m->v[m->n], role, text);
    if (st == AC_OK)
        m->n++;
    return st;
}

ac_status ac_messages_add_text(ac_messages *m, const char *text)
{
    ac__msg *l = last(m);
    if (!l || l->pub.role == AC_ROLE_TOOL || !text_ok(text))
        return AC_EINVAL;
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_TEXT, .text = text,
                 .text_len = strlen(text)};
    return ac__msg_add(l, &p);
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* The decoded length of standard or URL-safe base64 (padding optional),
 * or -1 when s is not base64 or is empty. */
static long long b64_decoded_len(const char *s)
{
    size_t n = strlen(s), pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n == 0 || n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (b64_value((unsigned char)s[i]) < 0)
            return -1;
    return (long long)(n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0));
}

ac_status ac_messages_add_image(ac_messages *m, const char *mime_type, const char *data_base64,
                                const char *url)
{
    ac__msg *l = last(m);
    if (!l || l->pub.role != AC_ROLE_USER || !data_base64 == !url)
        return AC_EINVAL;
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_IMAGE};
    if (data_base64) {
        long long len = b64_decoded_len(data_base64);
        if (len < 0 || !mime_type || strncmp(mime_type, "image/", 6) != 0 || !mime_type[6] ||
            !ac__utf8_valid(mime_type))
            return AC_EINVAL;
        p.data_base64 = data_base64;
        p.data_len = (size_t)len;
        p.mime_type = mime_type;
    } else {
        if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
            !ac__utf8_valid(url) || (mime_type && !ac__utf8_valid(mime_type)))
            return AC_EINVAL;
        p.url = url;
        p.mime_type = mime_type;
    }
    return ac__msg_add(l, &p);
}

/* 1 if text is one JSON object (blanks around it allowed), 0 if not, -1
 * on no memory. */
static int json_object_text(const char *text)
{
    size_t len = strlen(text);
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    int ok = o && json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(o, json_type_object);
    for (size_t i = ok ? json_tokener_get_parse_end(tok) : len; i < len; i++)
        if (!strchr(" \t\r\n", text[i]))
            ok = 0;
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

ac_status ac_messages_add_tool_call(ac_messages *m, const char *id, const char *name,
                                    const char *arguments_json)
{
    ac__msg *l = last(m);
    if (!l || l->pub.role != AC_ROLE_ASSISTANT || !name || !*name || !ac__utf8_valid(name) ||
        !ac__utf8_valid(id) || !ac__utf8_valid(arguments_json))
        return AC_EINVAL;
    if (!arguments_json)
        arguments_json = "{}";
    int obj = json_object_text(arguments_json);
    if (obj < 0)
        return AC_ENOMEM;
    if (!obj)
        return AC_EINVAL;
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_TOOL_CALL, .id = id ? id : "",
                 .name = name, .arguments = arguments_json};
    return ac__msg_add(l, &p);
}

/* The name of the tool call `id` in the messages so far, or NULL. */
static const char *call_name(const ac_messages *m, const char *id)
{
    for (size_t i = m->n; i-- > 0;)
        for (size_t j = 0; j < m->v[i].pub.n_parts; j++) {
            const ac_part *p = &m->v[i].parts[j];
            if (p->type == AC_PART_TOOL_CALL && p->id && strcmp(p->id, id) == 0)
                return p->name;
        }
    return NULL;
}

ac_status ac_messages_add_tool_result(ac_messages *m, const char *tool_call_id, const char *name,
                                      const char *content, int is_error)
{
    if (!m || !tool_call_id || !*tool_call_id || !ac__utf8_valid(tool_call_id) ||
        !text_ok(content) || !ac__utf8_valid(name))
        return AC_EINVAL;
    if (grow(m) != AC_OK)
        return AC_ENOMEM;
    /* Backends that key results by the tool's name (Ollama) get it from
     * the call when the caller did not say. */
    ac_status st = ac__msg_tool_result(&m->v[m->n], tool_call_id,
                                       name ? name : call_name(m, tool_call_id), content,
                                       is_error != 0);
    if (st != AC_OK) {
        ac__msg_clear(&m->v[m->n]);
        return st;
    }
    m->n++;
    return AC_OK;
}

ac_status ac_messages_set_name(ac_messages *m, const char *name)
{
    ac__msg *l = last(m);
    if (!l || (name && (!*name || !ac__utf8_valid(name))))
        return AC_EINVAL;
    return ac__msg_set_name(l, name);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

ac_request *ac_agenerate_messages(ac_llm *llm, const ac_messages *msgs,
                                  const ac_gen_params *params, const ac_callbacks *cb, void *user,
                                  ac_error *err)
{
    if (!llm || !msgs || msgs->n == 0) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s",
                      !llm ? "llm is NULL" : !msgs ? "msgs is NULL" : "the message list is empty");
        return NULL;
    }
    if (atomic_load(&llm->core->closed)) {
        ac__error_set(err, AC_ECANCELED, AC_STAGE_CANCELLED, "the core was closed");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    ac_request *q = ac__chat_new(llm, params, cb, user);
    if (!q) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        ac__error_set_provider(err, llm->inst->name);
        return NULL;
    }
    /* A system prompt in params goes first, before the list's own. */
    ac__chat_build(q, ac__chat_params(q)->system, msgs->v, msgs->n, NULL);
    ac_status st = ac__request_submit(q);
    if (st != AC_OK) {
        ac__request_submit_error(q, st, err);
        ac__request_unref(q);
        return NULL;
    }
    return q;
}

ac_response *ac_generate_messages(ac_llm *llm, const ac_messages *msgs,
                                  const ac_gen_params *params, ac_error *err)
{
    if (ac__refuse_blocking(llm, "ac_generate_messages", err))
        return NULL;
    ac_request *q = ac_agenerate_messages(llm, msgs, params, NULL, NULL, err);
    return q ? ac__request_wait_result(q, err) : NULL;
}
