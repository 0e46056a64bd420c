/*
 * mock_script.h -- the mock server's scenarios, read from libconfig text.
 *
 * A script is a set of top-level defaults plus a list `scenarios`, each a
 * group of the same keys that overrides the defaults for requests whose
 * "model" matches.  Everything is validated when the script is loaded, so
 * the server never meets a bad value while answering; errors name the line.
 * A loaded script is immutable and may be read from any thread.
 */
#ifndef AC_MOCK_SCRIPT_H
#define AC_MOCK_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

/* Behaviours of particular OpenAI-compatible servers (PROTOCOLS.md §1). */
typedef enum mock_quirk {
    MOCK_QUIRK_NONE = 0,
    MOCK_QUIRK_LMSTUDIO, /* non-stream tool-call replies omit "content" */
    MOCK_QUIRK_TGI,      /* ":" comments; every tool delta repeats id/index, name:null */
    MOCK_QUIRK_MLX       /* ": keepalive" comments; whole tool calls in one delta */
} mock_quirk;

typedef struct mock_tool_call {
    char *id;        /* never NULL after loading (generated if not given) */
    char *name;      /* never NULL */
    char *arguments; /* JSON text as the model "wrote" it; never NULL */
} mock_tool_call;

typedef struct mock_scenario {
    char *model;          /* request "model" this answers; NULL for the defaults */
    int line;             /* script line it was defined on (0: built in) */
    char *reply;          /* never NULL */
    long reply_len;       /* >= 0: reply is this many bytes of filler; -1: off */
    long chunks;          /* >= 1 */
    long delay_ms;        /* between content chunks */
    long first_byte_delay_ms;
    bool has_usage;
    long usage_in, usage_out;
    char *finish_reason;  /* NULL: the protocol's own default */
    mock_tool_call *tools;
    size_t ntools;
    long status;          /* 200, or an HTTP error status to answer with */
    char *error_body;     /* raw error body; NULL: protocol-shaped */
    char *error_message;  /* message for generated error bodies/events; may be NULL */
    char *error_type;     /* error type for generated bodies/events; may be NULL */
    char *retry_after;    /* Retry-After value on error replies; may be NULL */
    char **headers;       /* "Name: value" added to every reply */
    size_t nheaders;
    long fail_times;      /* > 0: only the first N requests get `status` */
    long drop_after_chunks; /* >= 0: cut the connection after N content chunks; -1 off */
    char *stream_error;   /* in-stream error message after the chunks; may be NULL */
    char *after_tool_result; /* reply (no tool calls) to a request whose last
                                message is a tool result; NULL: off */
    char *raw;            /* raw body bytes instead of a generated body; may be NULL */
    char *content_type;   /* Content-Type for raw; may be NULL */
    bool echo;
    bool keepalive_comments;
    bool hang;
    mock_quirk quirk;
} mock_scenario;

typedef struct mock_script {
    mock_scenario base;   /* built-in defaults + top-level settings */
    mock_scenario *sc;    /* the `scenarios` list, in script order */
    size_t nsc;
} mock_script;

/*
 * Parse and validate `text` (NULL or "" = defaults only), then apply the
 * top-level settings of `overrides` (may be NULL) over the script's.
 * `name` names the text in error messages (NULL = "script").  On success
 * fills *out and returns 0; on failure writes "NAME:LINE: message" to
 * errbuf, leaves *out zeroed and returns -1.
 */
int mock_script_load(mock_script *out, const char *text, const char *name,
                     const char *overrides, char *errbuf, size_t errlen);

/* Free what mock_script_load() allocated; safe on a zeroed script. */
void mock_script_free(mock_script *s);

/*
 * The scenario for a request's model (may be NULL): the first scenario
 * whose model equals it, else the first scenario with model "default" (or
 * no model), else the base.  *index receives the scenario's position, or
 * s->nsc for the base (a slot for per-scenario counters).
 */
const mock_scenario *mock_script_find(const mock_script *s, const char *model, size_t *index);

#endif
