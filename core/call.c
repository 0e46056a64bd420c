/*
 * call.c -- reports from plugins, and the secrets kept out of them.  See
 * call.h.
 */
#include "call.h"
#include "log.h"
#include "error.h"
#include "settings.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ac__call_init(ac_call *c, const char *provider, const ac_settings *s, atomic_int *cancel)
{
    memset(c, 0, sizeof *c);
    ac_error_clear(&c->err);
    c->provider = provider;
    c->settings = s;
    c->cancel = cancel;
}

void ac__call_init_refine(ac_call *c, const char *provider, const ac_settings *s,
                          const ac_error *http_error)
{
    ac__call_init(c, provider, s, NULL);
    c->err = *http_error;
    c->refining = 1;
}

static const char redact_mark[] = "[redacted]";

/* Replace the n bytes at pos of text (cap bytes) with the mark, as much of
 * it and of what follows as fits.  Returns the offset after the mark. */
static size_t redact_span(char *text, size_t cap, size_t pos, size_t n)
{
    size_t len = strlen(text);
    size_t tail = len - pos - n;
    size_t room = cap - 1 - pos;           /* bytes we may write from pos */
    size_t m = sizeof redact_mark - 1 < room ? sizeof redact_mark - 1 : room;
    size_t keep = tail < room - m ? tail : room - m;
    memmove(text + pos + m, text + pos + n, keep);
    memcpy(text + pos, redact_mark, m);
    text[pos + m + keep] = '\0';
    return pos + m;
}

/* 1 when the text just before `end` is the first 4 or more bytes of
 * secret (n bytes); *p is how many. */
static int cut_key_before(const char *text, size_t end, const char *secret, size_t n, size_t *p)
{
    for (size_t k = n - 1 < end ? n - 1 : end; k >= 4; k--)
        if (memcmp(text + end - k, secret, k) == 0) {
            *p = k;
            return 1;
        }
    return 0;
}

void ac__scrub_secrets(const ac_settings *s, char *text, size_t cap)
{
    for (size_t k = 0; s && k < ac__settings_secret_count(s); k++) {
        const char *secret = ac__settings_secret_at(s, k);
        size_t n = strlen(secret);
        /* Very short values are not keys, and would blank ordinary text. */
        if (n < 4)
            continue;
        char *at;
        size_t from = 0, p;
        while ((at = strstr(text + from, secret)) != NULL)
            from = redact_span(text, cap, (size_t)(at - text), n);
        /* A text cut inside a key keeps the key's first bytes, which the
         * search above does not find: before a "..." (the core's and the
         * SDK's excerpts mark their cuts so), or at the end of a text that
         * fills its buffer. */
        for (from = 0; (at = strstr(text + from, "...")) != NULL;) {
            size_t end = (size_t)(at - text);
            if (cut_key_before(text, end, secret, n, &p))
                end = redact_span(text, cap, end - p, p);
            from = end + 3 <= strlen(text) ? end + 3 : strlen(text);
        }
        size_t len = strlen(text);
        if (cap && len + 1 == cap && cut_key_before(text, len, secret, n, &p))
            redact_span(text, cap, len - p, p);
    }
}

ac_status ac__host_fail(ac_call *c, ac_status code, ac_stage stage, const char *fmt, ...)
{
    if (!c)
        return code;
    va_list ap;
    va_start(ap, fmt);
    if (c->refining) {
        /* Keep what the core knows of the HTTP error (status, retry
         * hints); take the plugin's words, and its code if it gave one. */
        ac_error keep = c->err;
        ac__error_vset(&c->err, code == AC_OK ? keep.code : code, keep.stage, fmt, ap);
        c->err.http_status = keep.http_status;
        c->err.retryable = keep.retryable;
        c->err.retry_after_ms = keep.retry_after_ms;
    } else {
        ac__error_vset(&c->err, code, stage, fmt, ap);
    }
    va_end(ap);
    ac__scrub_secrets(c->settings, c->err.message, sizeof c->err.message);
    c->failed = 1;
    return code;
}

void ac__host_set_retryable(ac_call *c, int retryable)
{
    if (c)
        c->err.retryable = retryable ? 1 : 0;
}

void ac__host_set_http_status(ac_call *c, int http_status)
{
    if (c && http_status >= 100 && http_status <= 599)
        c->err.http_status = http_status;
}

int ac__host_cancelled(ac_call *c)
{
    return c && c->cancel && atomic_load(c->cancel) != 0;
}

void ac__host_log(ac_call *c, int level, const char *fmt, ...)
{
    if (!ac__log_enabled(level))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt ? fmt : "", ap);
    va_end(ap);
    if (c)
        ac__scrub_secrets(c->settings, line, sizeof line);
    ac__log(level, c ? c->provider : NULL, "%s", line);
}

ac_status ac__call_error(ac_call *c, ac_status st, const char *fn, ac_error *err)
{
    if (c->refining) {
        *err = c->err;
        if (err->code == AC_OK)
            err->code = AC_EHTTP;
        st = err->code;
    } else if (st == AC_OK) {
        return AC_OK;
    } else if (c->failed) {
        /* The report's code wins over the one returned: a plugin that
         * returns AC_EJSON after host->json_parse ran out of memory is
         * out of memory. */
        *err = c->err;
        if (err->code == AC_OK)
            err->code = st;
        st = err->code;
    } else if (st == AC_ETOOBIG) {
        /* What the host's emits return is reported for the plugin. */
        ac__error_set(err, st, AC_STAGE_HTTP, "the response exceeded max_response_bytes");
    } else if (st == AC_ENOMEM) {
        ac__error_set(err, st, AC_STAGE_PLUGIN, "out of memory in the plugin's %s", fn);
    } else if (st == AC_ECANCELED) {
        ac__error_set(err, st, AC_STAGE_CANCELLED, "cancelled");
    } else {
        ac__error_set(err, st, AC_STAGE_PLUGIN, "the plugin's %s failed with %s without saying why",
                      fn, ac_strerror(st));
    }
    ac__error_set_provider(err, c->provider);
    ac__scrub_secrets(c->settings, err->message, sizeof err->message);
    return st;
}
