/*
 * trace.c -- the trace file (see trace.h).
 */
#include "trace.h"
#include "alloc.h"
#include "buf.h"
#include "chat.h"
#include "error.h"
#include "jsonw.h"
#include "log.h"
#include "response.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct trace {
    int   fd;
    int   content;
    char *path;
    int   failed;     /* a write failed: said once in the log */
};

struct trace *ac__trace_open(const char *path, int content, ac_error *err)
{
    struct trace *t = ac__calloc(1, sizeof *t);
    if (!t || !(t->path = ac__strdup(path))) {
        ac__free(t);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_IO, "out of memory");
        return NULL;
    }
    t->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (t->fd < 0) {
        ac__error_set(err, AC_EIO, AC_STAGE_IO, "trace file %s: %s", path, strerror(errno));
        ac__free(t->path);
        ac__free(t);
        return NULL;
    }
    t->content = content;
    return t;
}

void ac__trace_close(struct trace *t)
{
    if (!t)
        return;
    close(t->fd);
    ac__free(t->path);
    ac__free(t);
}

/* s as a JSON string, any byte that is not part of well-formed UTF-8
 * written as U+FFFD: a server's words must not break the line. */
static void text(jsonw *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    buf b = {0};
    for (size_t i = 0; i < n;) {
        size_t len = p[i] < 0x80 ? 1 : p[i] >= 0xC2 && p[i] <= 0xDF ? 2
                   : p[i] >= 0xE0 && p[i] <= 0xEF ? 3 : p[i] >= 0xF0 && p[i] <= 0xF4 ? 4 : 0;
        int ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && len == 3)
            ok = !(p[i] == 0xE0 && p[i + 1] < 0xA0) && !(p[i] == 0xED && p[i + 1] > 0x9F);
        if (ok && len == 4)
            ok = !(p[i] == 0xF0 && p[i + 1] < 0x90) && !(p[i] == 0xF4 && p[i + 1] > 0x8F);
        if (ok) {
            ac__buf_append(&b, p + i, len);
            i += len;
        } else {
            ac__buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    ac__jw_string_n(w, b.data ? b.data : "", b.len);
    ac__buf_free(&b);
}

/* "AC_EHTTP" out of "AC_EHTTP: HTTP error status". */
static void status_name(jsonw *w, ac_status st)
{
    const char *s = ac_strerror(st), *colon = strchr(s, ':');
    ac__jw_string_n(w, s, colon ? (size_t)(colon - s) : strlen(s));
}

static void common(jsonw *w, const char *type, const ac_hook_event *ev)
{
    ac__jw_object(w);
    ac__jw_key(w, "type");
    ac__jw_string(w, type);
    ac__jw_key(w, "request");
    ac__jw_int(w, (long long)ev->request_id);
    ac__jw_key(w, "provider");
    ac__jw_string(w, ev->provider);
    ac__jw_key(w, "model");
    ac__jw_string(w, ev->model);
    ac__jw_key(w, "status");
    status_name(w, ev->status);
    if (ev->http_status) {
        ac__jw_key(w, "http_status");
        ac__jw_int(w, ev->http_status);
    }
    if (ev->error) {
        ac__jw_key(w, "error");
        text(w, ev->error->message, strlen(ev->error->message));
    }
}

void ac__trace_event(struct trace *t, const ac_hook_event *ev)
{
    if (ev->kind != AC_HOOK_ATTEMPT_END && ev->kind != AC_HOOK_REQUEST_END)
        return;
    jsonw w;
    ac__jw_init(&w, 0);
    if (ev->kind == AC_HOOK_ATTEMPT_END) {
        common(&w, "attempt", ev);
        ac__jw_key(&w, "attempt");
        ac__jw_int(&w, ev->attempt);
        ac__jw_key(&w, "started_ms");
        ac__jw_double(&w, ev->elapsed_ms - ev->latency_ms);
        ac__jw_key(&w, "latency_ms");
        ac__jw_double(&w, ev->latency_ms);
    } else {
        common(&w, "request", ev);
        ac__jw_key(&w, "attempts");
        ac__jw_int(&w, ev->attempt);
        ac__jw_key(&w, "latency_ms");
        ac__jw_double(&w, ev->latency_ms);
        if (ev->input_tokens >= 0) {
            ac__jw_key(&w, "input_tokens");
            ac__jw_int(&w, ev->input_tokens);
        }
        if (ev->output_tokens >= 0) {
            ac__jw_key(&w, "output_tokens");
            ac__jw_int(&w, ev->output_tokens);
        }
        const ac_request *q = ev->request;
        if (t->content && q && q->kind == &ac__chat_kind) {
            const char *prompt = ac__chat_prompt(q);
            ac__jw_key(&w, "prompt");
            text(&w, prompt ? prompt : "", prompt ? strlen(prompt) : 0);
            ac__jw_key(&w, "reply");
            text(&w, ac_response_content(q->resp), ac_response_content_len(q->resp));
        }
    }
    ac__jw_end(&w);
    size_t len;
    char *line = ac__jw_finish(&w, &len);
    if (!line)
        return; /* short of memory: the line is dropped, not cut */
    line[len] = '\n'; /* the finisher's NUL: one write of the whole line */
    ssize_t n = write(t->fd, line, len + 1);
    if (n != (ssize_t)(len + 1) && !t->failed) {
        t->failed = 1;
        ac__log(AC_LOG_ERROR, ev->provider, "trace file %s: %s", t->path,
                n < 0 ? strerror(errno) : "short write");
    }
    ac__free(line);
}
