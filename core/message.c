/*
 * message.c -- owned messages of content parts.  See message.h.
 */
#include "message.h"
#include "response.h"
#include "alloc.h"

#include <stddef.h>
#include <string.h>

void ac__msg_init(ac__msg *m, ac_role role)
{
    memset(m, 0, sizeof *m);
    m->pub.struct_size = sizeof m->pub;
    m->pub.role = role;
    m->pub.text = "";
    m->input_tokens = m->output_tokens = -1;
}

static int dup_or_null(const char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    return (*dst = ac__strdup(src)) ? 0 : -1;
}

static void part_clear(ac_part *p)
{
    ac__free((char *)p->text);
    ac__free((char *)p->mime_type);
    ac__free((char *)p->data_base64);
    ac__free((char *)p->url);
    ac__free((char *)p->name);
    ac__free((char *)p->id);
    ac__free((char *)p->arguments);
    memset(p, 0, sizeof *p);
}

static int part_copy(ac_part *d, const ac_part *s)
{
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->type = s->type;
    d->data_len = s->data_len;
    d->is_error = s->is_error;
    if (s->text) {
        if (!(d->text = ac__strndup(s->text, s->text_len)))
            goto fail;
        d->text_len = s->text_len;
    }
    if (dup_or_null(&d->mime_type, s->mime_type) || dup_or_null(&d->data_base64, s->data_base64) ||
        dup_or_null(&d->url, s->url) || dup_or_null(&d->name, s->name) ||
        dup_or_null(&d->id, s->id) || dup_or_null(&d->arguments, s->arguments))
        goto fail;
    return 0;
fail:
    part_clear(d);
    return -1;
}

/* pub.text: every TEXT part joined, "" when there is none. */
static ac_status rejoin(ac__msg *m)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < m->pub.n_parts; i++)
        if (m->parts[i].type == AC_PART_TEXT) {
            n += m->parts[i].text_len;
            k++;
        }
    char *old = (char *)m->pub.text;
    if (k == 0) {
        m->pub.text = "";
        m->pub.text_len = 0;
    } else if (k == 1) {
        /* One text part: point at it, no copy. */
        for (size_t i = 0; i < m->pub.n_parts; i++)
            if (m->parts[i].type == AC_PART_TEXT) {
                m->pub.text = m->parts[i].text;
                m->pub.text_len = m->parts[i].text_len;
            }
    } else {
        char *t = ac__malloc(n + 1);
        if (!t)
            return AC_ENOMEM;
        size_t off = 0;
        for (size_t i = 0; i < m->pub.n_parts; i++)
            if (m->parts[i].type == AC_PART_TEXT) {
                memcpy(t + off, m->parts[i].text, m->parts[i].text_len);
                off += m->parts[i].text_len;
            }
        t[off] = '\0';
        m->pub.text = t;
        m->pub.text_len = off;
    }
    /* A joined copy of our own is freed; a pointer into a part is not. */
    int owned = old && *old;
    for (size_t i = 0; owned && i < m->pub.n_parts; i++)
        if (m->parts[i].text == old)
            owned = 0;
    if (owned && old != m->pub.text)
        ac__free(old);
    return AC_OK;
}

ac_status ac__msg_add(ac__msg *m, const ac_part *p)
{
    ac_part *v = ac__realloc(m->parts, (m->pub.n_parts + 1) * sizeof *v);
    if (!v)
        return AC_ENOMEM;
    m->parts = v; /* pub.text points at a part's string, never into this array */
    if (part_copy(&m->parts[m->pub.n_parts], p) != 0)
        return AC_ENOMEM;
    m->pub.n_parts++;
    if (p->type == AC_PART_TEXT && rejoin(m) != AC_OK) {
        part_clear(&m->parts[--m->pub.n_parts]);
        return AC_ENOMEM;
    }
    return AC_OK;
}

ac_status ac__msg_text(ac__msg *m, ac_role role, const char *text)
{
    ac__msg_init(m, role);
    if (!text)
        return AC_OK;
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_TEXT, .text = text,
                 .text_len = strlen(text)};
    ac_status st = ac__msg_add(m, &p);
    if (st != AC_OK)
        ac__msg_clear(m); /* nothing half made is left to free */
    return st;
}

ac_status ac__msg_tool_result(ac__msg *m, const char *call_id, const char *name,
                              const char *content, int is_error)
{
    ac__msg_init(m, AC_ROLE_TOOL);
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_TOOL_RESULT, .text = content,
                 .text_len = strlen(content), .name = name, .id = call_id,
                 .is_error = is_error};
    return ac__msg_add(m, &p);
}

ac_status ac__msg_set_name(ac__msg *m, const char *name)
{
    char *n = NULL;
    if (name && !(n = ac__strdup(name)))
        return AC_ENOMEM;
    ac__free((char *)m->pub.name);
    m->pub.name = n;
    return AC_OK;
}

void ac__msg_clear(ac__msg *m)
{
    if (!m)
        return;
    /* The joined text is ours only when it points at no part. */
    int own_text = m->pub.text && *m->pub.text;
    for (size_t i = 0; i < m->pub.n_parts; i++)
        if (m->parts[i].text == m->pub.text)
            own_text = 0;
    if (own_text)
        ac__free((char *)m->pub.text);
    for (size_t i = 0; i < m->pub.n_parts; i++)
        part_clear(&m->parts[i]);
    ac__free(m->parts);
    ac__free((char *)m->pub.name);
    ac__free(m->provider);
    ac__free(m->model);
    memset(m, 0, sizeof *m);
}

void ac__msgs_free(ac__msg *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        ac__msg_clear(&v[i]);
    ac__free(v);
}

ac_status ac__msg_set_origin(ac__msg *m, const char *provider, const char *model)
{
    char *p = NULL, *md = NULL;
    if ((provider && !(p = ac__strdup(provider))) || (model && !(md = ac__strdup(model)))) {
        ac__free(p);
        return AC_ENOMEM;
    }
    ac__free(m->provider);
    ac__free(m->model);
    m->provider = p;
    m->model = md;
    return AC_OK;
}

ac_status ac__msg_copy(ac__msg *dst, const ac__msg *src)
{
    ac__msg_init(dst, src->pub.role);
    dst->flags = src->flags;
    dst->input_tokens = src->input_tokens;
    dst->output_tokens = src->output_tokens;
    dst->time_ms = src->time_ms;
    if (ac__msg_set_name(dst, src->pub.name) != AC_OK ||
        ac__msg_set_origin(dst, src->provider, src->model) != AC_OK)
        goto fail;
    for (size_t i = 0; i < src->pub.n_parts; i++)
        if (ac__msg_add(dst, &src->parts[i]) != AC_OK)
            goto fail;
    dst->fitted = src->fitted;
    return AC_OK;
fail:
    ac__msg_clear(dst);
    return AC_ENOMEM;
}

const ac_part *ac__msg_part(const ac_message *m, size_t i)
{
    if (!m || i >= m->n_parts)
        return NULL;
    const ac__msg *o = (const ac__msg *)(const void *)((const char *)m - offsetof(ac__msg, pub));
    return &o->parts[i];
}

const ac_part *ac__msg_find(const ac__msg *m, ac_part_type t)
{
    for (size_t i = 0; i < m->pub.n_parts; i++)
        if (m->parts[i].type == t)
            return &m->parts[i];
    return NULL;
}

ac_status ac__msg_from_response(ac__msg *dst, ac_response *r, size_t seq)
{
    ac__msg_init(dst, AC_ROLE_ASSISTANT);
    dst->input_tokens = ac_response_input_tokens(r);
    dst->output_tokens = ac_response_output_tokens(r);
    const char *prov = ac_response_provider(r), *model = ac_response_model(r);
    if (ac__msg_set_origin(dst, *prov ? prov : NULL, *model ? model : NULL) != AC_OK)
        goto fail;
    const char *text = ac_response_content(r);
    if (*text) {
        ac_part p = {.struct_size = sizeof p, .type = AC_PART_TEXT, .text = text,
                     .text_len = ac_response_content_len(r)};
        if (ac__msg_add(dst, &p) != AC_OK)
            goto fail;
    }
    for (size_t i = 0; i < ac_response_tool_call_count(r); i++) {
        char *gen = NULL;
        const char *id = ac_response_tool_call_id(r, i);
        if (!*id && !(gen = ac__asprintf("call_%zu_%zu", seq, i)))
            goto fail;
        /* A truncated call is kept as "{}" so the history stays valid
         * JSON for every backend. */
        ac_part p = {.struct_size = sizeof p, .type = AC_PART_TOOL_CALL,
                     .id = gen ? gen : id, .name = ac_response_tool_call_name(r, i),
                     .arguments = ac_response_tool_call_truncated(r, i)
                                      ? "{}" : ac_response_tool_call_arguments(r, i)};
        ac_status st = ac__msg_add(dst, &p);
        if (st != AC_OK) {
            ac__free(gen);
            goto fail;
        }
        /* The caller reads the same id from the response as the history
         * holds, to answer the call with ac_session_add_tool_result. */
        if (gen) {
            ac__free(r->calls[i].id);
            r->calls[i].id = gen;
        }
    }
    return AC_OK;
fail:
    ac__msg_clear(dst);
    return AC_ENOMEM;
}

int ac__utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    if (!s)
        return 1;
    while (*s) {
        unsigned c = *s;
        size_t n;
        unsigned min;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (s[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        s += n + 1;
    }
    return 1;
}
