/*
 * cli.h -- what the two halves of the acore program share.
 *
 * acore.c reads the command line, opens the core, picks the provider (or
 * starts the bundled mock server in demo mode) and runs the `plugins` and
 * `models` commands; run.c sends a prompt and prints the reply, handling
 * Ctrl-C; embed.c is the `embed` command.  All use only the public API
 * (abstractcore.h).
 */
#ifndef ACORE_CLI_H
#define ACORE_CLI_H

#include <stdio.h>

#include <abstractcore/abstractcore.h>

/* Exit statuses, as documented in acore(1), EXIT STATUS. */
enum {
    CLI_EXIT_OK        = 0,
    CLI_EXIT_REQUEST   = 1,   /* the request (or local I/O) failed */
    CLI_EXIT_USAGE     = 2,   /* bad command line */
    CLI_EXIT_CONFIG    = 3,   /* configuration, provider or plugin problem */
    CLI_EXIT_INTERRUPT = 130  /* 128 + SIGINT: cancelled with Ctrl-C */
};

/* --tool may be given this many times. */
#define CLI_MAX_TOOLS 32

typedef enum cli_output {
    CLI_OUTPUT_TEXT = 0,
    CLI_OUTPUT_JSON
} cli_output;

/* Everything the command line asked for.  Strings point into argv. */
typedef struct cli_opts {
    const char *config_path;  /* -c; NULL: the core's search order */
    const char *provider;     /* -p; NULL: default_provider (or demo) */
    const char *model;        /* -m; NULL: the provider's default */
    const char *system;       /* -s; NULL: none */
    long        max_tokens;   /* --max-tokens; 0: unset */
    int         has_temperature;
    double      temperature;  /* --temperature, when has_temperature */
    long        timeout_ms;   /* --timeout; -1: unset, 0: none */
    cli_output  output;       /* -o */
    int         stream;       /* 0 with --no-stream */
    int         verbose;      /* -v */
    int         demo;         /* --demo: use the mock even with a config */
    const char *schema_path;  /* --schema FILE: a JSON Schema for the reply */
    const char *tool_paths[CLI_MAX_TOOLS]; /* --tool FILE, each a tool */
    int         n_tools;
    int         tool_mode;    /* --tool-mode: ac_tool_mode, -1 unset */
    const char *trace_path;   /* --trace FILE */
    const char *attach_paths[AC_MAX_ATTACHMENTS]; /* -a FILE, each attached */
    int         n_attach;
} cli_opts;

/*
 * Send prompt on llm as `o` says, print the reply, and return the exit
 * status.  Installs the SIGINT handler and unblocks SIGINT in the calling
 * thread for the duration of the request (main() blocks it before any
 * library thread starts, so the handler always runs on this thread).
 */
int cli_run_prompt(ac_llm *llm, const char *prompt, const cli_opts *o);

/* `acore embed ...` (embed.c): argv[0] is "embed"; parses its own
 * options, prints one JSON line per vector, returns the exit status. */
int cli_embed_main(int argc, char **argv);

/* Print `acore: <formatted text>` as one line on stderr, with control
 * characters replaced, so server-supplied text cannot break the line or
 * drive the terminal. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print an ac_error as `acore: <provider>: <stage>: <message>`. */
void cli_print_error(const ac_error *err);

/* The exit status for a failure with this code: 3 for configuration,
 * provider and plugin problems, 1 for everything else. */
int cli_exit_status(ac_status code);

/* Write len bytes of s to f with control characters replaced by spaces. */
void cli_put_clean(FILE *f, const char *s, size_t len);

/* Write s to f as one compact line: a JSON text is re-serialized without
 * whitespace, anything else goes through cli_put_clean. */
void cli_put_oneline_json(FILE *f, const char *s, size_t len);

/* `acore serve ARGS`: exec the gateway, acore-serve (server/serve_exec.c). */
int acore_serve_exec(int argc, char **argv);

#endif /* ACORE_CLI_H */
