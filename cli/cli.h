/*
 * cli.h -- what the files of the acore program share.
 *
 * acore.c reads the command line, finds the command in its table, and
 * sets up what the command needs (the core; the provider, or the demo
 * mock server: demo.c).  Commands: run.c sends one prompt and prints the
 * reply (also one turn of chat.c), chat.c is the interactive session,
 * batch.c sends many prompts at once, embed.c turns texts into vectors,
 * commands.c has the small ones (plugins, models, config check).  turn.c reads a session turn's events
 * one by one, events.c writes events and responses as JSON, store.c keeps
 * conversations in the XDG data folder, input.c reads prompts, tty.c
 * draws on a terminal and catches Ctrl-C, util.c prints messages.  All
 * of it uses only the public API (abstractcore.h).  The program is single
 * threaded apart from the library's own threads; nothing here is
 * thread-safe unless it says so.
 */
#ifndef ACORE_CLI_H
#define ACORE_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include <abstractcore/abstractcore.h>

struct json_object;

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

/* A prompt (or batch file) read from standard input larger than this is
 * refused: the program would otherwise hold any amount a pipe sends. */
#define CLI_STDIN_MAX ((size_t)16 * 1024 * 1024)

typedef enum cli_output {
    CLI_OUTPUT_TEXT = 0,
    CLI_OUTPUT_JSON,          /* the final response as one JSON object */
    CLI_OUTPUT_JSONL          /* one JSON object per event, then the response */
} cli_output;

/* Everything the command line asked for.  Strings point into argv. */
typedef struct cli_opts {
    const char *config_path;  /* -C, --config; NULL: the core's search order */
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
    int         continue_last;/* -c, --continue: the last conversation */
    const char *session;      /* --session NAME|FILE */
    long        concurrency;  /* --concurrency N (batch); 0: the default */
    const char *attach_paths[AC_MAX_ATTACHMENTS]; /* -a FILE, each attached */
    int         n_attach;
    long        dimensions;   /* --dimensions N (embed); 0: the model's own */
} cli_opts;

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

/* What a command needs set up before it runs. */
enum {
    CLI_NEEDS_CORE = 1u << 0,   /* an open core (ctx->core) */
    CLI_NEEDS_LLM  = 1u << 1    /* and the provider chosen (ctx->llm) */
};

/* What a command gets.  Everything is owned by main(). */
typedef struct cli_ctx {
    const cli_opts *o;
    int          argc;        /* the command's operands (after its name) */
    char       **argv;
    ac_core     *core;        /* CLI_NEEDS_CORE / _LLM, else NULL */
    ac_llm      *llm;         /* CLI_NEEDS_LLM, else NULL */
    const char  *provider;    /* the provider ctx->llm was made for */
    ac_options  *llm_opts;    /* the options it was made with (demo URL,
                                 --timeout), or NULL: cli_llm_new uses them */
    int          demo;        /* ctx->llm talks to the demo mock server */
} cli_ctx;

/* One row of acore.c's command table. */
typedef struct cli_command {
    const char *name;
    int        (*run)(cli_ctx *ctx);   /* returns the exit status */
    unsigned     needs;                /* CLI_NEEDS_* */
    int          min_args, max_args;   /* operands after the name; -1: any */
    const char  *usage;                /* "models [-p NAME]" */
    const char  *summary;              /* one line for `acore help` */
} cli_command;

/* commands.c */
int cli_cmd_plugins(cli_ctx *ctx);
int cli_cmd_models(cli_ctx *ctx);
int cli_cmd_config(cli_ctx *ctx);
/* chat.c */
int cli_cmd_chat(cli_ctx *ctx);
/* batch.c */
int cli_cmd_batch(cli_ctx *ctx);
/* embed.c */
int cli_cmd_embed(cli_ctx *ctx);

/* acore.c: an LLM like ctx->llm (same options), for `provider` (NULL:
 * ctx->provider) and `model` (NULL: the provider's default).  Free with
 * ac_llm_free.  NULL with err filled. */
ac_llm *cli_llm_new(const cli_ctx *ctx, const char *provider, const char *model,
                    ac_error *err);

/* ------------------------------------------------------------------ */
/* Running a turn (run.c)                                              */
/* ------------------------------------------------------------------ */

/*
 * The generation parameters the options ask for (-s is not among them:
 * a session holds the system prompt).  Reads the --schema, --tool and -a
 * files.  Returns an exit status; *out is set on CLI_EXIT_OK (free with
 * ac_gen_params_free), after printing the problem otherwise.
 */
int cli_gen_params(const cli_opts *o, ac_gen_params **out);

/* How cli_run_turn treats Ctrl-C. */
enum {
    CLI_TURN_ONESHOT = 0,   /* a second Ctrl-C kills the program */
    CLI_TURN_CHAT    = 1    /* Ctrl-C only cancels; the handler stays */
};

/*
 * Send prompt as the next turn of session s with gp, print the reply as
 * o says (text streamed, -o json, -o jsonl), and return the exit status:
 * CLI_EXIT_INTERRUPT after Ctrl-C (what arrived is printed; the session
 * is unchanged), 1 or 3 after a failure (one line on stderr).  On success
 * the session holds the turn.  Unblocks SIGINT in the calling thread and
 * catches it for the duration (main() blocks it before any library thread
 * starts, so the handler always runs on this thread).
 */
int cli_run_turn(ac_session *s, const char *prompt, const ac_gen_params *gp,
                 const cli_opts *o, int mode);

/* `acore PROMPT`: open the conversation (-c, --session, or a new one),
 * run one turn, keep the conversation (store.c), return the exit status. */
int cli_run_prompt(cli_ctx *ctx, const char *prompt);

/* ------------------------------------------------------------------ */
/* Events of a session turn, one at a time (turn.c)                    */
/* ------------------------------------------------------------------ */

typedef struct cli_turn cli_turn;

/* Start a turn of s.  NULL with err filled when it could not start. */
cli_turn *cli_turn_start(ac_session *s, const char *prompt, const ac_gen_params *gp,
                         ac_error *err);
/* The next event, as ac_stream_next: AC_OK with *out (valid until the next
 * call), AC_EAGAIN after timeout_ms without one, AC_EOF once the turn is
 * done and every event was read. */
ac_status cli_turn_next(cli_turn *t, const ac_chunk **out, int timeout_ms);
/* The turn's request (cancel it, read its status and response). */
ac_request *cli_turn_request(cli_turn *t);
/* Cancel if still running, wait for it, free everything.  NULL ok. */
void cli_turn_close(cli_turn *t);

/* ------------------------------------------------------------------ */
/* JSON output (events.c)                                              */
/* ------------------------------------------------------------------ */

/* One -o jsonl line for an event (documented in acore(1)). */
void cli_event_jsonl(FILE *f, const ac_chunk *c);
/* The response as a json-c object: ac_response_to_json, with a JSON
 * Schema set (has_schema) the validated document as "content".  NULL on
 * no memory.  Release with json_object_put. */
struct json_object *cli_response_object(const ac_response *r, int has_schema);
/* An ac_error as {"code", "stage", "message", ...}.  NULL on no memory. */
struct json_object *cli_error_object(const ac_error *err);
/* Print obj on one line (compact JSON) and a newline. */
void cli_json_line(FILE *f, struct json_object *obj);

/* ------------------------------------------------------------------ */
/* Conversations on disk (store.c)                                     */
/* ------------------------------------------------------------------ */

/* $XDG_DATA_HOME/abstractcore (default ~/.local/share/abstractcore),
 * made (mode 0700) when create is 1.  0, or -1 after printing why. */
int cli_data_dir(char *buf, size_t n, int create);
/* The file of a session name: NAME itself when it holds a '/', else
 * DATA/sessions/NAME.json.  0, or -1 after printing why. */
int cli_session_file(const char *name, char *buf, size_t n, int create_dir);
/* DATA/last-session.json: what -c continues. */
int cli_last_session_file(char *buf, size_t n, int create_dir);
/* The session the options ask for on llm: -c loads the last one (an
 * error if there is none), --session NAME loads NAME when its file
 * exists, else a new one; -s sets the system prompt.  Returns an exit
 * status; *out set on CLI_EXIT_OK. */
int cli_session_open(ac_llm *llm, const cli_opts *o, ac_session **out);
/* Keep s after a turn: in the --session file (if any) and as the last
 * conversation.  A failure is a warning unless it was --session's file
 * (then 1). */
int cli_session_keep(ac_session *s, const cli_opts *o);
/* Replace the system prompt of *s (NULL: none), keeping the history;
 * *s may be replaced by an equivalent session.  AC_OK or the failure,
 * with err. */
ac_status cli_session_set_system(ac_session **s, ac_llm *llm, const char *system,
                                 ac_error *err);

/* ------------------------------------------------------------------ */
/* Prompts (input.c)                                                   */
/* ------------------------------------------------------------------ */

/* Read all of f, at most max bytes, NUL-terminated, trailing newlines
 * dropped when trim.  Returns an exit status; *out malloc'd on success;
 * `what` names the source in messages ("standard input"). */
int cli_read_all(FILE *f, size_t max, int trim, const char *what, char **out, size_t *len);
/*
 * The prompt of `acore [OPTIONS] WORDS...`: the words joined with spaces,
 * then, when standard input is not a terminal, a blank line and all of
 * standard input; `-` alone is standard input only.  Checked: not empty,
 * UTF-8.  Returns an exit status; *out malloc'd on success.
 */
int cli_prompt_from_args(int argc, char **argv, char **out);
/* 1 if s is well-formed UTF-8. */
int cli_valid_utf8(const char *s);

/* ------------------------------------------------------------------ */
/* The demo server (demo.c)                                            */
/* ------------------------------------------------------------------ */

typedef struct cli_demo cli_demo;

/* Start acore-mockd with the demo script as a child process and point
 * opts (base_url, api_key, embed_model) at it; say so on stderr
 * (explicit: --demo).
 * Returns an exit status; *out set on CLI_EXIT_OK. */
int cli_demo_start(int explicit_demo, ac_options *opts, cli_demo **out);
/* Stop the server and wait for it.  NULL ok. */
void cli_demo_stop(cli_demo *d);

/* ------------------------------------------------------------------ */
/* The terminal (tty.c)                                                */
/* ------------------------------------------------------------------ */

/* Set by the SIGINT handler; cleared by whoever handles it. */
extern volatile sig_atomic_t cli_interrupted;
/* Catch SIGINT in this thread: once, a second Ctrl-C kills the program
 * (SA_RESETHAND); else the handler stays.  Never SA_RESTART, so a
 * blocking read returns EINTR. */
void cli_sigint_catch(int once);

/* A spinner on stderr while waiting, only when stderr is a terminal. */
typedef struct cli_spinner {
    int    on;      /* stderr is a terminal and the spinner is shown */
    int    frame;
    size_t width;   /* characters drawn, to erase */
    double next_ms;
    const char *label;
} cli_spinner;
void cli_spinner_start(cli_spinner *sp, const char *label);
void cli_spinner_tick(cli_spinner *sp);   /* call often; draws at ~10 Hz */
void cli_spinner_stop(cli_spinner *sp);   /* erase it; idempotent */

/* A progress bar on stderr, only when stderr is a terminal. */
typedef struct cli_progress {
    int    on;
    size_t total, width;
} cli_progress;
void cli_progress_start(cli_progress *p, size_t total);
void cli_progress_draw(cli_progress *p, size_t done, size_t failed);
void cli_progress_clear(cli_progress *p);   /* erase, to print a line */
double cli_now_ms(void);

/* ------------------------------------------------------------------ */
/* Messages (util.c)                                                   */
/* ------------------------------------------------------------------ */

/* Print `acore: <formatted text>` as one line on stderr, with control
 * characters replaced, so server-supplied text cannot break the line or
 * drive the terminal. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: that line plus "(try 'acore --help')"; returns 2. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print an ac_error as `acore: <provider>: <stage>: <message>`. */
void cli_print_error(const ac_error *err);
/* The error of ac_llm_create: for an unknown provider with where the
 * configuration was looked for and a word about --demo. */
void cli_print_llm_error(const ac_error *err, const ac_core *core);
/* The exit status for a failure with this code: 3 for configuration,
 * provider and plugin problems, 1 for everything else. */
int cli_exit_status(ac_status code);
/* Write len bytes of s to f with control characters replaced by spaces. */
void cli_put_clean(FILE *f, const char *s, size_t len);
/* Write s to f as one compact line: a JSON text is re-serialized without
 * whitespace, anything else goes through cli_put_clean. */
void cli_put_oneline_json(FILE *f, const char *s, size_t len);
/* The candidate nearest to word (edit distance with transpositions),
 * close enough to be a typo of it, or NULL.  cands is NULL-terminated. */
const char *cli_nearest(const char *word, const char *const *cands);
/* "AC_EHTTP" for AC_EHTTP: the code's name alone. */
void cli_status_name(ac_status code, char *buf, size_t n);
/* The file the core's search would read (no explicit path): 0 with its
 * name in buf, -1 when there is none. */
int cli_config_find(char *buf, size_t n);
/* Where the core looked for a configuration file, for messages: the
 * file it used, or the places it searched. */
void cli_config_where(const ac_core *core, const char *config_path, char *buf, size_t n);

/* `acore serve ARGS`: exec the gateway, acore-serve (server/serve_exec.c). */
int acore_serve_exec(int argc, char **argv);

#endif /* ACORE_CLI_H */
