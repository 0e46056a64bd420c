/*
 * message.c -- deep copies of messages.  See message.h.
 */
#include "message.h"
#include "alloc.h"

#include <string.h>

ac_status ac__msg_init(ac_message *m, ac_role role, const char *content)
{
    memset(m, 0, sizeof *m);
    m->role = role;
    if (content && !(m->content = ac__strdup(content)))
        return AC_ENOMEM;
    return AC_OK;
}

void ac__msg_clear(ac_message *m)
{
    if (!m)
        return;
    ac__free((char *)m->content);
    for (size_t i = 0; i < m->n_tool_calls; i++) {
        ac__free((char *)m->tool_calls[i].id);
        ac__free((char *)m->tool_calls[i].name);
        ac__free((char *)m->tool_calls[i].arguments);
    }
    ac__free((ac_tool_call *)m->tool_calls);
    ac__free((char *)m->tool_call_id);
    ac__free((char *)m->name);
    for (size_t i = 0; i < m->n_images; i++)
        ac__free((char *)m->images[i]);
    ac__free((char **)m->images);
    memset(m, 0, sizeof *m);
}

void ac__msgs_free(ac_message *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        ac__msg_clear(&v[i]);
    ac__free(v);
}

static int dup_or_null(const char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    return (*dst = ac__strdup(src)) ? 0 : -1;
}

ac_status ac__msg_copy(ac_message *dst, const ac_message *src)
{
    memset(dst, 0, sizeof *dst);
    dst->role = src->role;
    if (dup_or_null(&dst->content, src->content) ||
        dup_or_null(&dst->tool_call_id, src->tool_call_id) ||
        dup_or_null(&dst->name, src->name))
        goto fail;
    if (src->n_tool_calls) {
        ac_tool_call *c = ac__calloc(src->n_tool_calls, sizeof *c);
        if (!c)
            goto fail;
        dst->tool_calls = c;
        for (size_t i = 0; i < src->n_tool_calls; i++) {
            dst->n_tool_calls = i + 1;
            if (dup_or_null(&c[i].id, src->tool_calls[i].id ? src->tool_calls[i].id : "") ||
                dup_or_null(&c[i].name, src->tool_calls[i].name ? src->tool_calls[i].name : "") ||
                dup_or_null(&c[i].arguments,
                            src->tool_calls[i].arguments ? src->tool_calls[i].arguments : "{}"))
                goto fail;
        }
    }
    if (src->n_images) {
        const char **im = ac__calloc(src->n_images, sizeof *im);
        if (!im)
            goto fail;
        dst->images = im;
        for (size_t i = 0; i < src->n_images; i++) {
            dst->n_images = i + 1;
            if (dup_or_null(&im[i], src->images[i]))
                goto fail;
        }
    }
    return AC_OK;
fail:
    ac__msg_clear(dst);
    return AC_ENOMEM;
}

ac_status ac__msg_from_response(ac_message *dst, const ac_response *r, size_t seq)
{
    ac_message m = {.role = AC_ROLE_ASSISTANT, .content = ac_response_content(r)};
    size_t n = ac_response_tool_call_count(r);
    ac_tool_call *calls = NULL;
    if (n) {
        calls = ac__calloc(n, sizeof *calls);
        if (!calls)
            return AC_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            calls[i].id = ac_response_tool_call_id(r, i);
            calls[i].name = ac_response_tool_call_name(r, i);
            /* A truncated call is kept as "{}" so the history stays valid
             * JSON for every backend. */
            calls[i].arguments = ac_response_tool_call_truncated(r, i)
                                     ? "{}" : ac_response_tool_call_arguments(r, i);
        }
    }
    m.tool_calls = calls;
    m.n_tool_calls = n;
    ac_status st = ac__msg_copy(dst, &m);
    ac__free(calls);
    for (size_t i = 0; st == AC_OK && i < n; i++) {
        if (dst->tool_calls[i].id && *dst->tool_calls[i].id)
            continue;
        char *id = ac__asprintf("call_%zu_%zu", seq, i);
        if (!id) {
            ac__msg_clear(dst);
            return AC_ENOMEM;
        }
        ac__free((char *)dst->tool_calls[i].id);
        ((ac_tool_call *)dst->tool_calls)[i].id = id;
    }
    return st;
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
