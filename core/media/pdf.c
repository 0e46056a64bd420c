/*
 * pdf.c -- the text of a PDF document, with poppler-glib: each page's text
 * in reading order as poppler lays it out, pages separated by a blank
 * line.
 *
 * A PDF it cannot open, one that asks for a password, and one with no text
 * at all (a scan: pages that are pictures) are errors naming the document;
 * so is text past `max`, which is checked page by page so a huge document
 * stops early.  The text is checked to be UTF-8 without NUL bytes (poppler
 * writes UTF-8; a broken font map could still give anything).  poppler
 * reports syntax problems of damaged files on stderr itself; its GLib API
 * has no way to route them.  Thread-safe: each call has its own document.
 */
#include "media.h"
#include "../alloc.h"
#include "../buf.h"
#include "../error.h"
#include "../message.h"

#include <glib.h>
#include <poppler.h>
#include <stdio.h>
#include <string.h>

static char *fail(ac_error *err, buf *b, ac_status code, const char *name, const char *what)
{
    ac__buf_free(b);
    ac__error_set(err, code, AC_STAGE_REQUEST, "%s: %s", name, what);
    return NULL;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n\f\v", s[i]))
            return 0;
    return 1;
}

char *ac__pdf_text(const void *bytes, size_t n, const char *name, size_t max, size_t *len,
                   ac_error *err)
{
    buf b = {.limit = max};
    GError *gerr = NULL;
    GBytes *gb = g_bytes_new_static(bytes, n);
    PopplerDocument *doc = poppler_document_new_from_bytes(gb, NULL, &gerr);
    g_bytes_unref(gb); /* the document holds its own reference */
    if (!doc) {
        int locked = gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED;
        char what[200];
        if (locked)
            snprintf(what, sizeof what, "the PDF is encrypted (it needs a password)");
        else
            snprintf(what, sizeof what, "not a PDF that can be read (%s)",
                     gerr && gerr->message ? gerr->message : "no reason given");
        g_clear_error(&gerr);
        return fail(err, &b, AC_EUNSUPPORTED, name, what);
    }
    int pages = poppler_document_get_n_pages(doc);
    int rc = 0;
    for (int i = 0; i < pages && rc == 0; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *t = page ? poppler_page_get_text(page) : NULL;
        if (t && *t) {
            if (b.len)
                rc = ac__buf_append(&b, "\n\n", 2);
            if (rc == 0)
                rc = ac__buf_append(&b, t, strlen(t));
        }
        g_free(t);
        if (page)
            g_object_unref(page);
    }
    g_object_unref(doc);
    if (rc == -1)
        return fail(err, &b, AC_ENOMEM, name, "out of memory reading the PDF's text");
    if (rc == -2) {
        char what[160];
        snprintf(what, sizeof what, "the PDF's text is larger than %zu bytes", max);
        return fail(err, &b, AC_ETOOBIG, name, what);
    }
    if (blank(b.data, b.len))
        return fail(err, &b, AC_EUNSUPPORTED, name,
                    "the PDF has no text (a scanned document holds only pictures)");
    if (strlen(b.data) != b.len || !ac__utf8_valid(b.data))
        return fail(err, &b, AC_EUNSUPPORTED, name, "the PDF's text is not valid UTF-8");
    *len = b.len;
    char *s = ac__buf_steal(&b);
    if (!s)
        return fail(err, &b, AC_ENOMEM, name, "out of memory");
    return s;
}
