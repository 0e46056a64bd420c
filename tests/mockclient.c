/*
 * mockclient.c -- the mock server test suites' libcurl client.  See
 * mockclient.h.
 */
#include <config.h>

#include "mockclient.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = sz * n;
    char *b = realloc(s->r->body, s->r->len + len + 1);
    if (!b)
        return 0;
    memcpy(b + s->r->len, p, len);
    s->r->body = b;
    s->r->len += len;
    b[s->r->len] = '\0';
    if (s->q->got_bytes)
        atomic_store(s->q->got_bytes, 1);
    if (s->q->abort_after && s->r->len >= s->q->abort_after)
        return 0; /* the client cancels */
    return len;
}

static void header_value(CURL *c, const char *name, char *out, size_t n)
{
    struct curl_header *h;
    out[0] = '\0';
    if (name && curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        snprintf(out, n, "%s", h->value);
}

CURL *http_easy(mock_server *m, const http_req *q, http_res *r, sink *s,
                       struct curl_slist **hl)
{
    char url[256];
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    snprintf(url, sizeof url, "%s%s", mock_server_url(m), q->path);
    s->r = r;
    s->q = q;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    if (q->timeout_ms)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms);
    if (q->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        *hl = curl_slist_append(*hl, "Content-Type: application/json");
    }
    for (int i = 0; i < 4 && q->headers[i]; i++)
        *hl = curl_slist_append(*hl, q->headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hl);
    if (q->method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    if (q->accept_encoding)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, q->accept_encoding);
    if (q->fresh) {
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    }
    return c;
}

void http_finish(CURL *c, const http_req *q, http_res *r)
{
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME, &r->ttfb);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->total);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(r->ctype, sizeof r->ctype, "%s", ct);
    header_value(c, "Retry-After", r->retry_after, sizeof r->retry_after);
    header_value(c, q->want_header, r->extra, sizeof r->extra);
    header_value(c, "Content-Encoding", r->encoding, sizeof r->encoding);
}

void http(mock_server *m, const http_req *q, http_res *r)
{
    sink s;
    struct curl_slist *hl = NULL;
    memset(r, 0, sizeof *r);
    CURL *c = http_easy(m, q, r, &s, &hl);
    if (!c) {
        r->rc = CURLE_OUT_OF_MEMORY;
        return;
    }
    r->rc = curl_easy_perform(c);
    http_finish(c, q, r);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
}

/* POST a JSON body to path. */
void post(mock_server *m, const char *path, const char *body, http_res *r)
{
    http_req q = { .path = path, .body = body, .timeout_ms = 10000 };
    http(m, &q, r);
}

void res_free(http_res *r)
{
    free(r->body);
    r->body = NULL;
}

/* A server with script (NULL: the defaults) on a random port; the test
 * stops here (a failed assertion) if it does not start. */
mock_server *start(const char *script)
{
    char err[256] = "";
    mock_server *m = mock_server_start(script, 0, err, sizeof err);
    if (!m)
        fprintf(stderr, "mock_server_start: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- stream bodies, cut into events (test-side, for assertions) ---- */



void evs_free(evs *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].data);
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

static void evs_push(evs *e, ev x)
{
    ev *v = realloc(e->v, (e->n + 1) * sizeof *v);
    if (!v)
        abort();
    e->v = v;
    e->v[e->n++] = x;
}

/* SSE: blocks separated by a blank line, "event: " / "data: " / ":" lines. */
evs sse_split(const char *body)
{
    evs out = { 0 };
    const char *p = body ? body : "";
    while (*p) {
        const char *end = strstr(p, "\n\n");
        size_t blen = end ? (size_t)(end - p) : strlen(p);
        ev x;
        memset(&x, 0, sizeof x);
        const char *l = p;
        while (l < p + blen) {
            const char *nl = memchr(l, '\n', (size_t)(p + blen - l));
            size_t ll = nl ? (size_t)(nl - l) : (size_t)(p + blen - l);
            if (ll >= 7 && !strncmp(l, "event: ", 7))
                snprintf(x.event, sizeof x.event, "%.*s", (int)(ll - 7), l + 7);
            else if (ll >= 6 && !strncmp(l, "data: ", 6))
                x.data = strndup(l + 6, ll - 6);
            else if (ll >= 1 && l[0] == ':')
                x.comment = true;
            l += ll + 1;
        }
        evs_push(&out, x);
        p += blen;
        while (*p == '\n')
            p++;
    }
    return out;
}

evs ndjson_split(const char *body)
{
    evs out = { 0 };
    const char *p = body ? body : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        ev x;
        memset(&x, 0, sizeof x);
        x.data = strndup(p, ll);
        evs_push(&out, x);
        p += ll + (nl ? 1 : 0);
    }
    return out;
}

/* json path helpers: NULL when missing */
json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, k, &v))
        return NULL;
    return v;
}

const char *jstr(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

long long jint(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v ? json_object_get_int64(v) : -1;
}

json_object *jidx(json_object *a, size_t i)
{
    return a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a)
               ? json_object_array_get_idx(a, i)
               : NULL;
}

bool streq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* OpenAI stream: the content fragments and the tool-call deltas. */

void oa_read(const char *body, oa_stream *s)
{
    evs e = sse_split(body);
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < e.n; i++) {
        if (!e.v[i].data)
            continue;
        if (!strcmp(e.v[i].data, "[DONE]")) {
            s->done = true;
            continue;
        }
        json_object *o = json_tokener_parse(e.v[i].data);
        CU_ASSERT_PTR_NOT_NULL(o);
        CU_ASSERT(streq(jstr(o, "object"), "chat.completion.chunk"));
        s->nchunks++;
        json_object *ch = jidx(jget(o, "choices"), 0);
        if (!ch && jget(o, "usage") && json_object_is_type(jget(o, "usage"), json_type_object)) {
            s->usage_chunk = true;
            s->usage_prompt = jint(jget(o, "usage"), "prompt_tokens");
            s->usage_completion = jint(jget(o, "usage"), "completion_tokens");
        }
        json_object *d = jget(ch, "delta");
        if (s->nchunks == 1)
            s->first_role = streq(jstr(d, "role"), "assistant") && streq(jstr(d, "content"), "");
        else if (jstr(d, "content")) {
            s->ncontent++;
            strncat(s->text, jstr(d, "content"), sizeof s->text - strlen(s->text) - 1);
        }
        if (jstr(ch, "finish_reason")) {
            snprintf(s->finish_buf, sizeof s->finish_buf, "%s", jstr(ch, "finish_reason"));
            s->finish = s->finish_buf;
        }
        json_object_put(o);
    }
    evs_free(&e);
}


void *bg_run(void *arg)
{
    bg_client *c = arg;
    c->q.got_bytes = &c->got;
    http(c->m, &c->q, &c->r);
    return NULL;
}

void wait_for(atomic_int *flag, double max_ms)
{
    double t0 = now_ms();
    while (!atomic_load(flag) && now_ms() - t0 < max_ms)
        usleep(2000);
}

size_t wait_disconnects(mock_server *m, size_t want, double max_ms)
{
    double t0 = now_ms();
    while (mock_server_disconnects(m) < want && now_ms() - t0 < max_ms)
        usleep(2000);
    return mock_server_disconnects(m);
}

size_t wait_count(mock_server *m, size_t (*counter)(const mock_server *), size_t want,
                  double max_ms)
{
    double t0 = now_ms();
    while (counter(m) != want && now_ms() - t0 < max_ms)
        usleep(2000);
    return counter(m);
}

mock_server *start_opts(const mock_server_options *o)
{
    char err[256] = "";
    mock_server *m = mock_server_start_opts(o, err, sizeof err);
    if (!m)
        fprintf(stderr, "mock_server_start_opts: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}
