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
#endif
