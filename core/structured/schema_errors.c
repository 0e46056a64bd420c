/*
 * schema_errors.c -- the error list of the schema validator: recording an
 * error (instance pointer, keyword, schema pointer, message in one block),
 * moving errors between lists, and the text sent back to a model.
 * See schema.h.  Not thread-safe: one list per validation.
 */
#include "schema_int.h"
#include "../alloc.h"
#include "../error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define POINTER_MAX 4096   /* longer instance pointers are cut with "..." */

int ac__svnomem(vctx *c)
{
    ac__error_set(c->err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory validating JSON");
    return -1;
}

int ac__serrors_push(ac__schema_errors *e, const ac__schema_error *x)
{
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        ac__schema_error *v = ac__realloc(e->items, cap * sizeof *v);
        if (!v)
            return -1;
        e->items = v;
        e->cap = cap;
    }
    e->items[e->count++] = *x;
    e->total++;
    return 0;
}

/* The RFC 6901 pointer of p. */
int ac__svpath_text(const vpath *p, buf *b)
{
    size_t n = 0;
    for (const vpath *q = p; q && q->up; q = q->up)
        n++;
    if (!n)
        return ac__buf_append(b, "", 0);
    const vpath **v = ac__malloc(n * sizeof *v);
    if (!v)
        return -1;
    size_t i = n;
    for (const vpath *q = p; q && q->up; q = q->up)
        v[--i] = q;
    int rc = 0;
    for (i = 0; i < n && !rc; i++) {
        if (b->len > POINTER_MAX) {
            rc = ac__buf_appends(b, "...");
            break;
        }
        if (v[i]->key)
            rc = ac__sptr_append(b, v[i]->key, v[i]->len);
        else {
            char t[24];
            int tl = snprintf(t, sizeof t, "%zu", v[i]->idx);
            rc = ac__sptr_append(b, t, (size_t)tl);
        }
    }
    ac__free(v);
    return rc;
}

/* Record one error (unless the list is full): keyword kw of node n failed
 * at instance path p.  kw "false" names the node itself. */
int ac__sreport(vctx *c, const vpath *p, const snode *n, const char *kw, const char *fmt, ...)
{
    if (!c->out)
        return 0;
    c->out->total++;
    if (c->out->count >= c->cap)
        return 0;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf ip = { 0 }, sp = { 0 }, all = { 0 };
    int bad = ac__svpath_text(p, &ip) || ac__buf_appends(&sp, n->ptr) ||
              (strcmp(kw, "false") && ac__sptr_append(&sp, kw, strlen(kw)));
    if (!bad) {
        const char *shown = ip.len ? ip.data : "(root)";
        size_t sl = strlen(shown) > 200 ? 200 : strlen(shown);
        bad = ac__buf_append(&all, ip.data ? ip.data : "", ip.len + 1) ||
              ac__buf_append(&all, sp.data, sp.len + 1) ||
              ac__buf_append(&all, shown, sl) ||
              ac__buf_appends(&all, sl < strlen(shown) ? "...: " : ": ") ||
              ac__buf_appends(&all, msg);
    }
    ac__buf_free(&ip);
    ac__buf_free(&sp);
    ac__schema_error x = { NULL, kw, NULL, NULL };
    if (!bad) {
        x.instance_path = all.data;
        x.schema_path = x.instance_path + strlen(x.instance_path) + 1;
        x.message = x.schema_path + strlen(x.schema_path) + 1;
        c->out->total--;                 /* counted above; push counts again */
        bad = ac__serrors_push(c->out, &x) != 0;
        if (bad)
            c->out->total++;
    }
    if (bad) {
        ac__buf_free(&all);
        return ac__svnomem(c);
    }
    return 0;
}

char *ac__schema_errors_text(const ac__schema_errors *e, size_t max)
{
    buf b = { 0 };
    int bad = 0;
    if (!max)
        max = 20;
    size_t shown = 0;
    for (size_t i = 0; e && i < e->count && shown < max && !bad; i++, shown++)
        bad = ac__buf_appends(&b, e->items[i].message) || ac__buf_append(&b, "\n", 1);
    if (!bad && e && e->total > shown) {
        char t[64];
        snprintf(t, sizeof t, "(and %zu more error%s)\n", e->total - shown,
                 e->total - shown == 1 ? "" : "s");
        bad = ac__buf_appends(&b, t);
    }
    if (bad) {
        ac__buf_free(&b);
        return NULL;
    }
    return ac__buf_steal(&b);
}

void ac__schema_errors_free(ac__schema_errors *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->count; i++)
        ac__free((char *)e->items[i].instance_path);
    ac__free(e->items);
    memset(e, 0, sizeof *e);
}
