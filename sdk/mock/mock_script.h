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

/* Behaviours of particular OpenAI-compatible servers (docs/protocols.md §1). */
typedef enum mock_quirk {
    MOCK_QUIRK_NONE = 0,
    MOCK_QUIRK_LMSTUDIO, /* non-stream tool-call replies omit "content" */
    MOCK_QUIRK_TGI,      /* ":" comments; every tool delta repeats id/index, name:null */
    MOCK_QUIRK_MLX       /* ": keepalive" comments; whole tool calls in one delta */
} mock_quirk;

/* What a scenario does to the connection instead of answering. */
typedef enum mock_fault {
    MOCK_FAULT_NONE = 0,
    MOCK_FAULT_CLOSE, /* read the request, close without a byte of response */
    MOCK_FAULT_RESET  /* the same, with a TCP reset (RST) instead of FIN */
} mock_fault;

/* A stream that never ends (endless = "content" | "empty"). */
typedef enum mock_endless {
    MOCK_ENDLESS_OFF = 0,
    MOCK_ENDLESS_CONTENT, /* reply pieces, over and over */
    MOCK_ENDLESS_EMPTY    /* events that carry nothing: empty choices, pings, comments */
} mock_endless;

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

    /* faults (docs/mock-server.md, "Faults") */
    mock_fault fault;
    long close_after_bytes;  /* >= 0: close after N body bytes; -1 off */
    long stall_after_chunks; /* >= 0: pause stall_ms once after N content chunks; -1 off */
    long stall_ms;
    char *retry_after_ms;    /* retry-after-ms header on error replies; may be NULL */
    int should_retry;        /* -1 unset; 0/1: x-should-retry false/true on error replies */
    long garbage;            /* >= 0: the body is N seeded pseudo-random bytes; -1 off */
    long garbage_seed;
    mock_endless endless;
    long huge_event_bytes;   /* > 0: the reply is one content event of N bytes; -1 off */
    bool invalid_utf8;       /* bytes that are not UTF-8 inside a content piece */
    bool html;               /* an HTML error page instead of the reply */
    bool gzip;               /* Content-Encoding: gzip, asked for or not */
    bool any_path;           /* top level: every request is a chat request,
                                whatever its path (a backend the mock does
                                not know, answered with `raw`) */

    /* embeddings (docs/mock-server.md, "Embeddings") */
    long embedding_dim;      /* >= 1 */
    long embedding_seed;
    long max_batch;          /* > 0: refuse batches bigger than this; 0: no limit */

    /* per-round scripting: the step answering a request is the number of
       assistant messages in its history, clamped to the last.  Steps are
       resolved copies of their scenario plus their own settings; only
       scenarios have them. */
    struct mock_scenario *steps;
    size_t nsteps;
    size_t slot;             /* this scenario's or step's per-server counters */
} mock_scenario;

typedef struct mock_script {
    mock_scenario base;   /* built-in defaults + top-level settings */
    mock_scenario *sc;    /* the `scenarios` list, in script order */
    size_t nsc;
    size_t nslots;        /* counters a server keeps: base, scenarios, steps */
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
 * no model), else the base.  Its `slot` numbers its per-server counters.
 */
const mock_scenario *mock_script_find(const mock_script *s, const char *model);

/* The step of sc answering a request whose history holds `assistant_msgs`
   assistant messages: steps[min(assistant_msgs, nsteps - 1)], or sc itself
   when it has no steps. */
const mock_scenario *mock_script_step(const mock_scenario *sc, size_t assistant_msgs);

#endif
