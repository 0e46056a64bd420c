/*
 * gwutil.h -- run the gateway (server/) in-process against the mock
 * server, and talk to it with libcurl, for tests/test_gateway.c.
 */
#ifndef AC_GWUTIL_H
#define AC_GWUTIL_H
#include <pthread.h>
#include <stddef.h>
#include "mock_server.h"
#include "../server/gw.h"

struct json_object;

typedef struct gw_env {
    mock_server *mock;
    gateway     *g;
    pthread_t    thread;
    int          rc;
    char         base[64];   /* http://127.0.0.1:PORT */
    char        *conf_path;
} gw_env;

/* Start the mock with `script`, write a configuration with providers
 * "mock" (openai plugin) and "anth" (anthropic plugin) at it, no retries,
 * plus `server` (the text inside server = { ... }; may be NULL), and run
 * a gateway on it in a thread.  0, or -1 with a line on stderr. */
int  gwu_start(gw_env *e, const char *script, const char *server);
/* Stop the gateway (gracefully), join it, stop the mock. */
void gwu_stop(gw_env *e);

typedef struct gw_resp {
    long   status;
    char  *body;      /* NUL-terminated, malloc'd */
    size_t len;
    char  *headers;   /* the response head, malloc'd */
    int    curl_rc;   /* CURLcode */
} gw_resp;

/* One request: method, path, body (NULL: none), extra headers (NULL
 * terminated, may be NULL). */
gw_resp gwu_req(gw_env *e, const char *method, const char *path, const char *body,
                const char *const *headers);
void    gwu_free(gw_resp *r);
/* The value of a response header (case-insensitive), malloc'd, or NULL. */
char   *gwu_header(const gw_resp *r, const char *name);
/* The body parsed as JSON (json_object_put it), or NULL. */
struct json_object *gwu_json(const gw_resp *r);
/* The SSE events of a body: the data of each (json_object_put each),
 * into out (at most max); *done set when `data: [DONE]` was seen; the
 * event names into names when not NULL ("" for none; free()). */
size_t  gwu_sse(const gw_resp *r, struct json_object **out, char **names, size_t max, int *done);

/* Wait until the gateway's /metrics has `line` (a whole metrics line,
 * "name{labels} value"), at most timeout_ms; 1 if it did. */
int     gwu_wait_metric(gw_env *e, const char *line, int timeout_ms);
#endif
