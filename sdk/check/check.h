/*
 * check.h -- what the parts of acore-provider-check share.
 *
 * acore-provider-check runs a provider plugin through the contract of
 * provider.h in two phases:
 *
 *   1. On the SDK's fake host (check_unit.c): the descriptor, the entry
 *      point rule, init / build_request / parse_response / parse_event /
 *      stream_free under allocation failure, and that nothing leaks.  The
 *      request bodies the plugin builds are kept for phase 2.
 *   2. Through the real loader and engine (check_scenarios.c), against the
 *      mock LLM server: text, streams, streams split at every byte, tools,
 *      usage, every error class, retries, truncated and malformed replies,
 *      cancel mid-stream, many requests at once, a key that never shows,
 *      embeddings (check_embed.c: both phases).
 *
 * The mock plays the backend in its own protocol when the plugin speaks
 * one the mock knows (OpenAI Chat Completions, Anthropic Messages, Ollama
 * /api/chat: the plugin's request path says which), else with the bytes a
 * fixture file gives for each scenario (check_fixtures.c).  Every
 * scenario is described by a `scene`: the mock script that plays it and
 * what the caller must see.
 *
 * The program is single-threaded except for the core's engine thread and
 * the mock's threads, which call back into nothing here but the request
 * callbacks of check_run.c (which only record).
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
    PROTO_OLLAMA,
    PROTO_LOCAL          /* run_local: no HTTP at all */
} check_proto;

/* A growing string (malloc'd).  Appends that run out of memory abort the
 * checker: it is a test program, and a silent short string would pass. */
typedef struct check_str {
    char  *p;
    size_t len, cap;
} check_str;

void check_str_add(check_str *s, const char *p, size_t n);
void check_str_addf(check_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void check_str_free(check_str *s);

typedef struct checker {
    /* from the command line */
    const char *plugin;          /* absolute path of the .so */
    const char *fx_path;         /* --fixtures, or NULL */
    const char *model;           /* the model asked for */
    const char *only;            /* run the scenarios whose name starts so */
    const char *sets;            /* --set lines, "key = value;\n" each */
    int         verbose;

    /* what phase 1 learnt */
    char        name[64];        /* the descriptor's name */
    unsigned    features;
    int         can_stream;      /* parse_event is set */
    int         can_list;        /* parse_models is set */
    int         local;           /* run_local */
    check_proto proto;
    const char *proto_name;
    char        base_suffix[64]; /* mock URL + this = the base_url to give */
    char        req_path[256];   /* the chat request's path under base_url */
    char        req_method[16];
    check_str   plain_body;      /* the body of a request that does not stream */
    check_str   stream_body;     /* the body of a streaming request */
    ac_framing  framing;         /* how it frames streams */
    int         chat;            /* it chats: HTTP or run_local */
    int         can_embed;       /* embeddings members (ABI 2.1) */
    int         embed_local;     /* run_embed */
    size_t      embed_max;       /* its embed_max_batch, 0: none */
    int         embed_mock;      /* the mock answered its embeddings request */
    char        embed_path[256]; /* where that request went */

    /* the fixture file */
    config_t    fx;
    int         have_fx;

    /* phase 2 */
    char        dir[64];         /* temporary folder: config, stderr log */
    char        secret[48];      /* the key configured: never to be seen */
    ac_core    *core;
    int         saved_stderr;    /* -1: stderr not redirected */

    int         passed, failed, skipped;
} checker;

/* A scenario's verdict: NULL passed, else the rule broken (in a static
 * buffer that the next check_fail overwrites). */
typedef const char *verdict;
verdict check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print and count one result.  A verdict of CHECK_SKIP + reason skips. */
#define CHECK_SKIP "\001"
void check_report(checker *c, const char *scenario, verdict v);
/* Whether scenario `name` is selected by --only. */
int  check_selected(const checker *c, const char *name);

/* ---- phase 1 (check_unit.c) ---- */

/* The descriptor and unit scenarios on the fake host.  0, or -1 if the
 * plugin cannot be loaded at all (reported). */
int check_unit(checker *c);
/* A fake host (testkit.h) with the instance's settings: name "check",
 * base_url (if not NULL), the key, the --set settings; a request for the
 * model with one user message.  NULL on no memory or a bad --set. */
struct ac_fake;
struct ac_fake *check_fake_new(const checker *c, const char *base);
/* parse_response and parse_event on the fake host, on bytes the mock (or
 * the fixture file) gives, every allocation failing in turn
 * (check_parse.c). */
verdict check_unit_parse(checker *c, const ac_provider *d);

/* ---- a scene: one scenario's script and expectations ---- */

typedef struct scene {
    check_str   script;          /* the mock script */
    const char *text;            /* the reply text the caller must get */
    long        in, out;         /* usage to see, -1: not checked */
    const char *finish;          /* normalized finish reason, NULL: any */
    const char *message;         /* an error message must contain this */
    int         status;          /* an HTTP error's status, 0: none */
    int         retryable;       /* for status: 1 yes, 0 no, -1 not checked */
    long        retry_after_ms;  /* for status: -1 not checked */
    const char *tool_name;       /* a tool call to see */
    const char *tool_args;
    const char *const *model_ids;/* models to list, NULL-terminated */
    int         piece_chunks;    /* how many pieces the stream has */
    size_t      body_len;        /* a fixture's body length, 0 native */
} scene;

void scene_free(scene *s);

/* The scene for scenario `name` (text, stream, tools, tools_stream,
 * stream_error, models, key_echo, error:N for the N-th error class), with
 * `extra` mock keys appended.  1 found, 0 the plugin's protocol has no such
 * scene (a fixture file without it). */
int check_scene(checker *c, const char *name, const char *extra, scene *s);
/* The HTTP error classes checked, for error:N; the count. */
size_t check_error_count(checker *c);

/* ---- phase 2 running (check_run.c) ---- */

/* Open the core on a config naming only this plugin (phase 2 start).
 * 0, or -1 reported. */
int  check_core_open(checker *c);
void check_core_close(checker *c);

/* A mock playing one script, and an llm of the plugin pointed at it. */
typedef struct run {
    mock_server *mock;
    ac_llm      *llm;
} run;
/* 0, or -1 with *why set (a static message). */
int  check_run_start(checker *c, run *r, const scene *s, const char *llm_opts,
                     const char **why);
void check_run_stop(run *r);

/* What a caller of one request saw, in order: every event as one line of
 * the transcript, the text, usage, tool calls, finish, on_done count. */
typedef struct seen {
    check_str   events;          /* "text|...\n", "usage|7|5\n", ... */
    check_str   text;
    long        in, out;
    int         n_text, n_usage, n_finish, n_error, n_done;
    int         order_bad;       /* an event after FINISH or ERROR */
    char        finish[32];
    char        tool_name[128];
    check_str   tool_args;
    int         n_tool_end;
    ac_status   status;
    ac_error    err;
    ac_response *resp;           /* taken in on_done; freed by seen_free */
    ac_request  *q;
    volatile int first_text;
} seen;

void seen_init(seen *w);
void seen_free(seen *w);
extern const ac_callbacks check_recorder;

/* One request on r: streamed or not, with a tool when tool != NULL.
 * Waits up to 30 s.  Fills w.  0, or -1 with *why (the wait timed out). */
int check_request(checker *c, run *r, int stream, const char *tool, seen *w,
                  const char **why);
/* Make the random key every phase configures (c->secret). */
void check_make_secret(checker *c);
/* Scan text for the configured key: a verdict. */
verdict check_no_secret(const checker *c, const char *what, const char *text, size_t len);

/* Send the plugin's request (body: c->plain_body or c->stream_body) to
 * the mock at url and keep the raw bytes of the answer and its status.
 * 0, or -1 with *why set. */
int check_capture(checker *c, const char *mock_url, const check_str *body, check_str *out,
                  long *status, const char **why);

/* ---- the scenarios (check_scenarios.c) ---- */

void check_all(checker *c);

/* ---- embeddings (check_embed.c) ---- */

/* Phase 1: build_embed_request and parse_embed_response (or run_embed)
 * on the fake host, every allocation failing in turn, against the mock's
 * reply; learns embed_max, embed_mock. */
verdict check_unit_embed(checker *c, const ac_provider *d);
/* Phase 2: the "embeddings" scenario through the core. */
verdict check_embed_scenario(checker *c);

/* ---- the fixture file (check_fixtures.c) ---- */

/* Read --fixtures: 0, or -1 with a message on stderr. */
int  check_fixtures_load(checker *c);
/* The fixture scene `name` into s (script with any_path).  1 / 0. */
int  check_fixture_scene(checker *c, const char *name, const char *extra, scene *s);
size_t check_fixture_errors(checker *c);
/* The escaped form of n bytes of s as a libconfig string literal with
 * its quotes (control and non-ASCII bytes as \xNN), appended to out. */
void check_quote(check_str *out, const char *s, size_t n);
#endif
