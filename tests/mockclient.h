/*
 * mockclient.h -- a small libcurl client for the mock server's own test
 * suites (test_mock*.c): one request at a time or in the background,
 * replies with their status, timings and a few headers, stream bodies cut
 * into SSE events or NDJSON lines, and json-c lookups that return NULL
 * instead of failing.  Test code: a failed allocation aborts.
 */
#ifndef AC_TESTS_MOCKCLIENT_H
#define AC_TESTS_MOCKCLIENT_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "mock_server.h"

typedef struct http_res {
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    double ttfb, total;   /* seconds */
    char ctype[128];
    char retry_after[64];
    char extra[128];      /* the header named in http_req.want_header */
    char encoding[64];    /* Content-Encoding */
} http_res;

typedef struct http_req {
    const char *path;
    const char *method;      /* NULL: POST with a body, GET without */
    const char *body;
    const char *headers[4];  /* NULL-terminated */
    long timeout_ms;
    const char *want_header;
    size_t abort_after;      /* >0: abort once this many body bytes arrived */
    atomic_int *got_bytes;   /* set to 1 once a body byte arrived */
    const char *accept_encoding; /* non-NULL: let libcurl decode ("": any it knows) */
    bool fresh;              /* a new connection, closed afterwards */
} http_req;

typedef struct sink {
    http_res *r;
    const http_req *q;
} sink;

typedef struct ev {
    char event[64]; /* SSE event name, "" if none */
    char *data;     /* SSE data or one NDJSON line; NULL for a comment-only block */
    bool comment;
} ev;

typedef struct evs {
    ev *v;
    size_t n;
} evs;

typedef struct oa_stream {
    size_t nchunks, ncontent;
    char text[4096];
    bool first_role, done, usage_chunk;
    const char *finish; /* static copy below */
    char finish_buf[32];
    long long usage_prompt, usage_completion;
} oa_stream;

typedef struct bg_client {
    mock_server *m;
    http_req q;
    http_res r;
    atomic_int got;
} bg_client;

/* ---- requests ---- */

CURL *http_easy(mock_server *m, const http_req *q, http_res *r, sink *s, struct curl_slist **hl);
/* Fill r's status, timings and headers from a finished handle. */
void http_finish(CURL *c, const http_req *q, http_res *r);
/* One request, to its end. */
void http(mock_server *m, const http_req *q, http_res *r);
/* POST a JSON body to path (10 s limit). */
void post(mock_server *m, const char *path, const char *body, http_res *r);
void res_free(http_res *r);
/* A server with script (NULL: the defaults) on a random port; the test
   stops here (a failed CUnit assertion) if it does not start. */
mock_server *start(const char *script);
/* The same with options (script_text and the rest in o). */
mock_server *start_opts(const mock_server_options *o);
double now_ms(void);

/* ---- bodies ---- */

void evs_free(evs *e);
/* SSE: blocks separated by a blank line, "event: " / "data: " / ":" lines. */
evs sse_split(const char *body);
/* NDJSON: one event per line. */
evs ndjson_split(const char *body);
json_object *jget(json_object *o, const char *k);
const char *jstr(json_object *o, const char *k);
long long jint(json_object *o, const char *k); /* -1 when missing */
json_object *jidx(json_object *a, size_t i);
bool streq(const char *a, const char *b);
/* An OpenAI stream: content fragments, finish, usage, [DONE]. */
void oa_read(const char *body, oa_stream *s);

/* ---- requests in the background ---- */

void *bg_run(void *arg); /* a pthread start routine for a bg_client */
void wait_for(atomic_int *flag, double max_ms);
size_t wait_disconnects(mock_server *m, size_t want, double max_ms);
/* Wait until counter(m) == want, at most max_ms; returns its last value. */
size_t wait_count(mock_server *m, size_t (*counter)(const mock_server *), size_t want,
                  double max_ms);

#endif
