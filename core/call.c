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

void ac__scrub_secrets(const ac_settings *s, char *text, size_t cap)
{
    static const char mark[] = "[redacted]";
    for (size_t k = 0; s && k < ac__settings_secret_count(s); k++) {
        const char *secret = ac__settings_secret_at(s, k);
        size_t n = strlen(secret);
        /* Very short values are not keys, and would blank ordinary text. */
        if (n < 4)
            continue;
        char *at;
        size_t from = 0;
        while ((at = strstr(text + from, secret)) != NULL) {
            size_t pos = (size_t)(at - text), len = strlen(text);
            size_t tail = len - pos - n;
            size_t room = cap - 1 - pos;           /* bytes we may write from pos */
            size_t m = sizeof mark - 1 < room ? sizeof mark - 1 : room;
            size_t keep = tail < room - m ? tail : room - m;
            memmove(at + m, at + n, keep);
            memcpy(at, mark, m);
            at[m + keep] = '\0';
            from = pos + m;
        }
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
