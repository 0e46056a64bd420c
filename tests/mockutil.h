/*
 * mockutil.h -- start the mock LLM server and a core wired to it.
 */
#ifndef AC_MOCKUTIL_H
#define AC_MOCKUTIL_H
#include <abstractcore/abstractcore.h>
#include "mock_server.h"

#define MU_API_KEY "sk-SECRET-test-key-0123456789"

typedef struct mu_env {
    mock_server *mock;
    ac_core     *core;
    ac_llm      *llm;     /* provider "mock" (openai plugin) */
} mu_env;

/* Start the mock with `script` (libconfig text), open a core with provider
 * "mock" = the openai plugin at the mock, and an llm for `model`.  extra
 * provider settings (e.g. "max_retries = 0;") go into the provider block.
 * Aborts on failure. */
void mu_start(mu_env *e, const char *script, const char *model, const char *extra);
void mu_stop(mu_env *e);
/* Another llm on the same core. */
ac_llm *mu_llm(mu_env *e, const char *model);
/* An llm for "default" on provider "mock" sent to base_url instead (a
 * port that refuses or never answers), with no retries, and with
 * connect_timeout_ms when not NULL.  A CUnit assertion: the test stops
 * here when it cannot be made.  Free it with ac_llm_free. */
ac_llm *mu_llm_at(mu_env *e, const char *base_url,
                  const char *connect_timeout_ms);

/* For a suite's init: start the mock with `script` and open a core with
 * every plugin of the tree and no provider configured (llm stays NULL).
 * Returns 0, or -1 with a line on stderr.  Stop with mu_stop. */
int mu_start_plain(mu_env *e, const char *script);

/* Wait (at most timeout_ms) until the mock has received at least n
 * requests; 1 if it has. */
int mu_wait_requests(const mock_server *m, size_t n, int timeout_ms);
/* Wait (at most timeout_ms) until the mock has seen at least n clients go
 * away mid-response; 1 if it has. */
int mu_wait_disconnects(const mock_server *m, size_t n, int timeout_ms);

/* The body of the last request the mock received, parsed; NULL when
 * there was none or it is not JSON.  Free with json_object_put. */
struct json_object *mu_last_body(const mock_server *m);
#endif
