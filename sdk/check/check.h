/*
 * check.h -- what the parts of acore-provider-check share.
 *
 * acore-provider-check loads a provider plugin through the real loader and
 * drives it, through the public API, against the mock LLM server through
 * every scenario the ABI's contract covers (scenarios.c).  The mock plays
 * the backend: in its own protocol when the plugin speaks one the mock
 * knows (OpenAI Chat Completions, Anthropic Messages, Ollama /api/chat),
 * else with the bytes a fixture file gives for each scenario (fixtures.c).
 */
#ifndef AC_CHECK_H
#define AC_CHECK_H

#include <abstractcore/abstractcore.h>
#include <abstractcore/provider.h>
#include <libconfig.h>
#include <stddef.h>

#include "mock_server.h"

typedef enum check_proto {
    PROTO_FIXTURES = 0,  /* the plugin's own protocol, from --fixtures */
    PROTO_OPENAI,
    PROTO_ANTHROPIC,
    PROTO_OLLAMA
} check_proto;

typedef struct checker {
    const char        *plugin;      /* absolute path of the .so */
    const ac_provider *vt;          /* its descriptor (loaded with the fake host) */
    void              *dl;
    check_proto        proto;
    const char        *proto_name;
    ac_framing         framing;     /* how its streams are framed */
    char               base_path[256];  /* the path of its default base_url */
    char               req_path[256];   /* the path its chat requests go to */
    config_t           fx;          /* the fixture file */
    int                have_fx;
    const char        *fx_path;
    const char        *model;       /* the model asked for */
    char               secret[64];  /* the key configured: never to be seen */
    int                verbose;
    int                passed, failed, skipped;
    char               log_path[256];   /* stderr while scenarios run */
} checker;

/* A scenario's verdict: NULL passed, else the rule broken (static or in
 * the checker's scratch buffer). */
typedef const char *verdict;

/* ---- running ---- */

/* Start the mock with script, open a core whose provider "check" is the
 * plugin at the mock (extra provider settings appended), make an llm.
 * 0, or -1 with *why set. */
typedef struct run {
    mock_server *mock;
    ac_core     *core;
    ac_llm      *llm;
} run;
int  check_run_start(checker *c, run *r, const char *script, const char *extra,
                     const char **why);
void check_run_stop(run *r);

/* Printf into the verdict scratch buffer. */
verdict check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the scenarios ---- */

void check_all(checker *c);

/* ---- the fixture file ---- */

/* Read --fixtures: 0, or -1 with a message on stderr. */
int  check_fixtures_load(checker *c, const char *path);
/* The mock script that plays scenario `name` from the fixtures into buf
 * (any_path, raw, content_type, status, ...); extra keys appended; NULL
 * if the file has no such scenario. */
const char *check_fixture_script(checker *c, const char *name, const char *extra,
                                 char *buf, size_t cap);
/* A string or integer member of a fixture scenario (NULL / -1 absent). */
const char *check_fixture_str(checker *c, const char *name, const char *key);
long        check_fixture_long(checker *c, const char *name, const char *key);
/* The escaped form of s for a libconfig string (quotes, backslashes,
 * control bytes as \xNN) into buf. */
const char *check_escape(const char *s, size_t n, char *buf, size_t cap);
#endif
