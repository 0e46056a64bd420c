/*
 * gw_log.c -- the access log: one line per request, to standard error or
 * appended to a file.
 *
 *   2025-06-01T12:00:00.123Z 10.0.0.7 key=web "POST /v1/chat/completions"
 *   status=200 provider=openai model=gpt-4o stream=1 in=12 out=34 ms=812.4
 *   id=chatcmpl-... note=-
 *
 * (one line).  Fields are key=value, so the line is read by grep, awk and
 * log shippers alike.  What came from a client (the model name, the
 * path) is cut to a sane length and every byte outside printable ASCII
 * or that would break the line (space, quote) becomes '?': a client
 * cannot forge a line.  No key is ever written, only its id.
 *
 * A line is written with one write(2) of a whole line (O_APPEND for a
 * file), so lines of several instances sharing a file do not interleave.
 * Not thread-safe: the loop thread only.
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct gw_log {
    int fd;      /* -1: off */
    int owned;   /* we opened it */
};

gw_log *gw_log_open(const char *spec, char *err, size_t n)
{
    gw_log *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    l->fd = -1;
    if (strcmp(spec, "-") == 0) {
        l->fd = STDERR_FILENO;
    } else if (*spec) {
        l->fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (l->fd < 0) {
            snprintf(err, n, "server.access_log '%s': %s", spec, strerror(errno));
            free(l);
            return NULL;
        }
        l->owned = 1;
    }
    return l;
}

void gw_log_close(gw_log *l)
{
    if (!l)
        return;
    if (l->owned)
        close(l->fd);
    free(l);
}

/* v made safe for one field: printable ASCII without blanks or quotes,
 * at most max bytes ("-" when empty). */
static void field(char *out, size_t cap, const char *v, size_t max)
{
    size_t o = 0;
    if (!v || !*v)
        v = "-";
    for (; *v && o + 1 < cap && o < max; v++) {
        unsigned char c = (unsigned char)*v;
        out[o++] = (c > 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
    }
    out[o] = '\0';
}

void gw_log_write(gw_log *l, const gw_log_rec *r)
{
    if (!l || l->fd < 0)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char client[64], key[80], method[16], path[128], provider[80], model[160], id[64], note[32];
    field(client, sizeof client, r->client, 60);
    field(key, sizeof key, r->key_id, 64);
    field(method, sizeof method, r->method, 10);
    field(path, sizeof path, r->path, 100);
    field(provider, sizeof provider, r->provider, 64);
    field(model, sizeof model, r->model, 128);
    field(id, sizeof id, r->id, 60);
    field(note, sizeof note, r->note, 24);
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "%s.%03ldZ %s key=%s \"%s %s\" status=%d provider=%s model=%s stream=%d "
                     "in=%ld out=%ld ms=%.1f id=%s note=%s\n",
                     when, (long)(tv.tv_usec / 1000), client, key, method, path, r->status,
                     provider, model, r->stream, r->in_tok, r->out_tok, r->ms, id, note);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    /* One write: a whole line or (a full disk) nothing worth retrying. */
    ssize_t w;
    do
        w = write(l->fd, line, (size_t)n);
    while (w < 0 && errno == EINTR);
}
