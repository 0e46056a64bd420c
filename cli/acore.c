/*
 * acore.c -- the `acore` command-line program: main(), the options, and
 * the table of commands.
 *
 *   acore [OPTIONS] PROMPT...     send a prompt, stream the reply (run.c);
 *                                 piped standard input is added to it
 *   acore [OPTIONS] -             the prompt is standard input
 *   acore [OPTIONS] -- TEXT...    TEXT is the prompt, even "chat" or "help"
 *   acore COMMAND [ARGS]          a command of the table below
 *
 * A first word that is a command's name runs the command; one that is a
 * likely typo of one ("model", "chta") is refused with "did you mean",
 * before anything is sent.  A command adds one line to acore_commands[]
 * (its function in its own file, declared in cli.h) and says there what
 * it needs set up: the core, or also the provider (or demo mode: no
 * configuration file and no -p starts acore-mockd, demo.c).  Exit
 * statuses are in cli.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* getopt_long, pthread_sigmask */
#endif

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <abstractcore/abstractcore.h>
#include "cli.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION AC_VERSION_STRING
#endif

/* Limits for the numeric options (ac_gen_params checks its own too). */
#define ACORE_MAX_TOKENS_MAX  100000000L
#define ACORE_TIMEOUT_MAX     2147483647L   /* fits the core's int ms */
#define ACORE_CONCURRENCY_MAX 1024L

static int acore_cmd_help(cli_ctx *ctx);

/* `acore [OPTIONS] serve ...`: reached when options came before the word
 * (`acore serve ...` goes to the gateway at once, in main).  Of acore's
 * own options only -C means something to the gateway: it goes on, before
 * the words after `serve`. */
static int acore_cmd_serve(cli_ctx *ctx)
{
    const char *config = ctx->o->config_path;
    size_t n = (size_t)ctx->argc + 1 + (config ? 2 : 0);
    char **args = calloc(n + 1, sizeof *args);
    if (!args) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    size_t k = 0;
    args[k++] = "serve";
    if (config) {
        args[k++] = "--config";
        args[k++] = (char *)config;
    }
    for (int i = 0; i < ctx->argc; i++)
        args[k++] = ctx->argv[i];
    int rc = acore_serve_exec((int)k, args); /* returns only when it could not run it */
    free(args);
    return rc;
}

/*
 * The commands.  One line each: name, function, what it needs, how many
 * operands it takes after its name (-1: any), usage and one line of help
 * (`acore help` prints them in this order).
 */
static const cli_command acore_commands[] = {
    { "chat",    cli_cmd_chat,    CLI_NEEDS_LLM,  0, 0, "chat",
      "an interactive conversation (line editing, history; /help inside)" },
    { "batch",   cli_cmd_batch,   CLI_NEEDS_LLM,  0, 1, "batch [FILE|-]",
      "send every prompt of FILE at once; results as JSON lines, in order" },
    { "embed",   cli_cmd_embed,   CLI_NEEDS_LLM,  0, -1, "embed [TEXT...|-]",
      "one embedding per text, as JSON lines" },
    { "models",  cli_cmd_models,  CLI_NEEDS_LLM,  0, 0, "models [-p NAME]",
      "list the models a provider serves" },
    { "plugins", cli_cmd_plugins, CLI_NEEDS_CORE, 0, 0, "plugins",
      "list plugins and providers found, loaded and refused" },
    { "config",  cli_cmd_config,  0,              1, 1, "config check [-C FILE]",
      "list every problem of the configuration file" },
    { "serve",   acore_cmd_serve, 0,              0, -1, "serve [OPTIONS]",
      "run the OpenAI- and Anthropic-compatible gateway (acore-serve(1))" },
    { "help",    acore_cmd_help,  0,              0, 1, "help [COMMAND]",
      "this help, or one command's" },
};
#define ACORE_N_COMMANDS (sizeof acore_commands / sizeof acore_commands[0])

/* Values for the long options that have no short form. */
enum {
    OPT_MAX_TOKENS = 1000,
    OPT_TEMPERATURE,
    OPT_TIMEOUT,
    OPT_NO_STREAM,
    OPT_DEMO,
    OPT_SCHEMA,
    OPT_TOOL,
    OPT_TOOL_MODE,
    OPT_TRACE,
    OPT_SESSION,
    OPT_CONCURRENCY,
    OPT_DIMENSIONS
};

static const struct option acore_long_options[] = {
    { "attach",      required_argument, NULL, 'a' },
    { "config",      required_argument, NULL, 'C' },
    { "continue",    no_argument,       NULL, 'c' },
    { "session",     required_argument, NULL, OPT_SESSION },
    { "provider",    required_argument, NULL, 'p' },
    { "model",       required_argument, NULL, 'm' },
    { "system",      required_argument, NULL, 's' },
    { "max-tokens",  required_argument, NULL, OPT_MAX_TOKENS },
    { "temperature", required_argument, NULL, OPT_TEMPERATURE },
    { "output",      required_argument, NULL, 'o' },
    { "timeout",     required_argument, NULL, OPT_TIMEOUT },
    { "no-stream",   no_argument,       NULL, OPT_NO_STREAM },
    { "demo",        no_argument,       NULL, OPT_DEMO },
    { "schema",      required_argument, NULL, OPT_SCHEMA },
    { "tool",        required_argument, NULL, OPT_TOOL },
    { "tool-mode",   required_argument, NULL, OPT_TOOL_MODE },
    { "trace",       required_argument, NULL, OPT_TRACE },
    { "concurrency", required_argument, NULL, OPT_CONCURRENCY },
    { "dimensions",  required_argument, NULL, OPT_DIMENSIONS },
    { "verbose",     no_argument,       NULL, 'v' },
    { "help",        no_argument,       NULL, 'h' },
    { "version",     no_argument,       NULL, 'V' },
    { NULL, 0, NULL, 0 }
};

/* ------------------------------------------------------------------ */
/* Help                                                                */
/* ------------------------------------------------------------------ */

static void acore_print_help(void)
{
    size_t i;

    fputs(
"Usage: acore [OPTIONS] PROMPT...    send a prompt, print the reply as it streams;\n"
"                                    piped standard input is added to the prompt\n"
"       acore [OPTIONS] -            the prompt is standard input\n"
"       acore [OPTIONS] -- PROMPT... the words are the prompt, even a command's name\n", stdout);
    for (i = 0; i < ACORE_N_COMMANDS; i++)
        printf("       acore %-22s %s\n", acore_commands[i].usage, acore_commands[i].summary);
    fputs(
"\n"
"Options:\n"
"  -C, --config FILE      read this configuration file (default: search\n"
"                         $ABSTRACTCORE_CONFIG, $XDG_CONFIG_HOME/abstractcore/,\n"
"                         then the system one)\n"
"  -p, --provider NAME    a configured provider or a plugin name\n"
"                         (default: abstractcore.default_provider)\n"
"  -m, --model NAME       the model (default: the provider's default_model)\n"
"  -s, --system TEXT      a system prompt\n"
"  -a, --attach FILE      attach an image (PNG, JPEG, WebP, GIF) or a document\n"
"                         (PDF, text, Markdown, CSV, TSV, JSON) to the prompt;\n"
"                         repeatable\n"
"  -c, --continue         continue the last conversation (prompt or chat)\n"
"      --session NAME     continue (or start) the conversation kept as NAME\n"
"                         ($XDG_DATA_HOME/abstractcore/sessions/NAME.json;\n"
"                         a NAME with a '/' is a file)\n"
"      --max-tokens N     at most N output tokens (1..100000000)\n"
"      --temperature X    sampling temperature, 0.0..2.0\n"
"  -o, --output FORMAT    text (default); json: the whole response as one\n"
"                         JSON object; jsonl: one JSON object per event as it\n"
"                         streams, then the response\n"
"      --timeout MS       give up after MS milliseconds in total (0: none)\n"
"      --no-stream        ask for the whole reply at once\n"
"      --schema FILE      a JSON Schema (draft 7) the reply must match: prints\n"
"                         the validated JSON document (asked again with the\n"
"                         errors up to the provider's schema_attempts)\n"
"      --tool FILE        offer a tool: FILE holds {\"name\", \"description\",\n"
"                         \"parameters\"}; repeatable; calls go to stderr (or\n"
"                         into -o json)\n"
"      --tool-mode MODE   auto (default), native or prompted: tools through the\n"
"                         backend's API, or in the prompt and read from the text\n"
"      --trace FILE       append one JSON line per try and per request to FILE\n"
"                         (timings, provider, model, status, usage; no text)\n"
"      --concurrency N    batch: at most N requests at once (default 8)\n"
"      --dimensions N     embed: vectors of N values (models that can shorten\n"
"                         theirs, e.g. OpenAI text-embedding-3)\n"
"      --demo             use the mock server (acore-mockd) even if configured\n"
"  -v, --verbose          reasoning, the config file used, and a usage line,\n"
"                         on standard error\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"With no configuration file and no -p, acore starts the mock LLM server\n"
"acore-mockd and talks to it (demo mode).  Ctrl-C cancels a running request.\n"
"Exit status: 0 ok, 1 request failed, 2 usage error, 3 configuration or\n"
"plugin error, 130 interrupted.  See acore(1).\n", stdout);
}

static const cli_command *acore_find_command(const char *name)
{
    size_t i;

    for (i = 0; i < ACORE_N_COMMANDS; i++)
        if (strcmp(acore_commands[i].name, name) == 0)
            return &acore_commands[i];
    return NULL;
}

static const char *acore_nearest_command(const char *word)
{
    const char *names[ACORE_N_COMMANDS + 1];
    size_t i;

    for (i = 0; i < ACORE_N_COMMANDS; i++)
        names[i] = acore_commands[i].name;
    names[i] = NULL;
    return cli_nearest(word, names);
}

/* `acore help`, `acore help COMMAND`, and `acore help commands` (the
 * names, one a line, for shell completion). */
static int acore_cmd_help(cli_ctx *ctx)
{
    const cli_command *c;
    size_t i;

    if (ctx->argc == 0) {
        acore_print_help();
        return CLI_EXIT_OK;
    }
    if (strcmp(ctx->argv[0], "commands") == 0) {
        for (i = 0; i < ACORE_N_COMMANDS; i++)
            puts(acore_commands[i].name);
        return CLI_EXIT_OK;
    }
    c = acore_find_command(ctx->argv[0]);
    if (!c) {
        const char *near = acore_nearest_command(ctx->argv[0]);
        return cli_usage_error("help: no command '%s'%s%s%s", ctx->argv[0],
                               near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    }
    printf("Usage: acore [OPTIONS] %s\n  %s\nSee acore(1), COMMANDS.\n", c->usage, c->summary);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* The command line                                                    */
/* ------------------------------------------------------------------ */

static int acore_parse_long(const char *opt, const char *s, long min, long max,
                            long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || isspace((unsigned char)*s))
        return cli_usage_error("%s: '%s' is not a whole number", opt, s);
    if (errno == ERANGE || v < min || v > max)
        return cli_usage_error("%s: %s is out of range (%ld..%ld)", opt, s, min, max);
    *out = v;
    return CLI_EXIT_OK;
}

static int acore_parse_double(const char *opt, const char *s, double min,
                              double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || isspace((unsigned char)*s) || !isfinite(v))
        return cli_usage_error("%s: '%s' is not a number", opt, s);
    if (errno == ERANGE || v < min || v > max)
        return cli_usage_error("%s: %s is out of range (%.1f..%.1f)", opt, s, min, max);
    *out = v;
    return CLI_EXIT_OK;
}

/* The message for a '?' or ':' from getopt_long (opterr is off so that
 * every usage error is exactly one line in our own words). */
static int acore_getopt_error(int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    int is_long = strncmp(arg, "--", 2) == 0;

    if (c == ':') {
        if (!is_long && optopt > 0 && optopt < 256)
            return cli_usage_error("option -%c needs an argument", optopt);
        return cli_usage_error("option '%s' needs an argument", arg);
    }
    if (!is_long && optopt > 0 && optopt < 256 && isprint(optopt))
        return cli_usage_error("invalid option -%c", optopt);
    if (is_long && optopt != 0 && strchr(arg, '='))   /* --verbose=3 */
        return cli_usage_error("option '%.*s' takes no argument",
                               (int)(strchr(arg, '=') - arg), arg);
    return cli_usage_error("unrecognized option '%s'", arg);
}

/*
 * Fill *o from argv and set *first_arg to the index of the first operand
 * and *dashdash when `--` ended the options (the operands are then a
 * prompt, whatever they say).  Returns CLI_EXIT_OK to go on,
 * CLI_EXIT_USAGE after printing the error, or -1 after printing --help or
 * --version (exit 0).
 */
static int acore_parse_args(int argc, char **argv, cli_opts *o, int *first_arg, int *dashdash)
{
    int c, rc, last_end = 1;

    memset(o, 0, sizeof *o);
    o->timeout_ms = -1;
    o->tool_mode = -1;
    o->stream = 1;
    o->output = CLI_OUTPUT_TEXT;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":a:C:cp:m:s:o:vhV", acore_long_options, NULL)) != -1) {
        last_end = optind;
        switch (c) {
        case 'a':
            if (!optarg[0])
                return cli_usage_error("--attach: empty file name");
            if (o->n_attach >= AC_MAX_ATTACHMENTS)
                return cli_usage_error("--attach: at most %d files", AC_MAX_ATTACHMENTS);
            o->attach_paths[o->n_attach++] = optarg;
            break;
        case 'C':
            if (!optarg[0])
                return cli_usage_error("--config: empty file name");
            o->config_path = optarg;
            break;
        case 'c':
            o->continue_last = 1;
            break;
        case OPT_SESSION:
            if (!optarg[0])
                return cli_usage_error("--session: empty name");
            o->session = optarg;
            break;
        case 'p':
            if (!optarg[0])
                return cli_usage_error("--provider: empty name");
            o->provider = optarg;
            break;
        case 'm':
            if (!optarg[0])
                return cli_usage_error("--model: empty name");
            o->model = optarg;
            break;
        case 's':
            o->system = optarg;
            break;
        case OPT_MAX_TOKENS:
            rc = acore_parse_long("--max-tokens", optarg, 1, ACORE_MAX_TOKENS_MAX, &o->max_tokens);
            if (rc != CLI_EXIT_OK)
                return rc;
            break;
        case OPT_TEMPERATURE:
            rc = acore_parse_double("--temperature", optarg, 0.0, 2.0, &o->temperature);
            if (rc != CLI_EXIT_OK)
                return rc;
            o->has_temperature = 1;
            break;
        case OPT_DIMENSIONS:
            rc = acore_parse_long("--dimensions", optarg, 1, 65536, &o->dimensions);
            if (rc != CLI_EXIT_OK)
                return rc;
            break;
        case OPT_CONCURRENCY:
            rc = acore_parse_long("--concurrency", optarg, 1, ACORE_CONCURRENCY_MAX,
                                  &o->concurrency);
            if (rc != CLI_EXIT_OK)
                return rc;
            break;
        case 'o':
            if (strcmp(optarg, "text") == 0)
                o->output = CLI_OUTPUT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                o->output = CLI_OUTPUT_JSON;
            else if (strcmp(optarg, "jsonl") == 0)
                o->output = CLI_OUTPUT_JSONL;
            else
                return cli_usage_error("--output: '%s' is not text, json or jsonl", optarg);
            break;
        case OPT_TIMEOUT:
            rc = acore_parse_long("--timeout", optarg, 0, ACORE_TIMEOUT_MAX, &o->timeout_ms);
            if (rc != CLI_EXIT_OK)
                return rc;
            break;
        case OPT_NO_STREAM:
            o->stream = 0;
            break;
        case OPT_DEMO:
            o->demo = 1;
            break;
        case OPT_SCHEMA:
            if (!optarg[0])
                return cli_usage_error("--schema: empty file name");
            o->schema_path = optarg;
            break;
        case OPT_TOOL:
            if (!optarg[0])
                return cli_usage_error("--tool: empty file name");
            if (o->n_tools >= CLI_MAX_TOOLS)
                return cli_usage_error("--tool: at most %d tools", CLI_MAX_TOOLS);
            o->tool_paths[o->n_tools++] = optarg;
            break;
        case OPT_TRACE:
            if (!optarg[0])
                return cli_usage_error("--trace: empty file name");
            o->trace_path = optarg;
            break;
        case OPT_TOOL_MODE:
            if (strcmp(optarg, "auto") == 0)
                o->tool_mode = AC_TOOL_MODE_AUTO;
            else if (strcmp(optarg, "native") == 0)
                o->tool_mode = AC_TOOL_MODE_NATIVE;
            else if (strcmp(optarg, "prompted") == 0)
                o->tool_mode = AC_TOOL_MODE_PROMPTED;
            else
                return cli_usage_error("--tool-mode: '%s' is not auto, native or prompted",
                                       optarg);
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            acore_print_help();
            return -1;
        case 'V':
            printf("acore %s (libabstractcore %s)\n", PACKAGE_VERSION, ac_version());
            return -1;
        default: /* '?' or ':' */
            return acore_getopt_error(c, argv);
        }
    }
    if (o->demo && o->provider)
        return cli_usage_error("--demo and --provider cannot be used together");
    if (o->continue_last && o->session)
        return cli_usage_error("--continue and --session cannot be used together");
    if (o->system && !cli_valid_utf8(o->system))
        return cli_usage_error("--system: the text is not valid UTF-8");
    /* getopt moved every operand behind the options; `--` was the end of
     * the options if it sits just before them and was not an option's
     * argument (`-s --`). */
    *dashdash = optind > 1 && optind - 1 >= last_end && strcmp(argv[optind - 1], "--") == 0;
    *first_arg = optind;
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Setting up what a command needs                                     */
/* ------------------------------------------------------------------ */

ac_llm *cli_llm_new(const cli_ctx *ctx, const char *provider, const char *model,
                    ac_error *err)
{
    return ac_llm_create(ctx->core, provider ? provider : ctx->provider, model, ctx->llm_opts,
                         err);
}

/* What main() made, to undo in reverse. */
typedef struct acore_setup {
    ac_core    *core;
    ac_llm     *llm;
    ac_options *opts;
    cli_demo   *demo;
} acore_setup;

/* Open the core and, for CLI_NEEDS_LLM, choose the provider (or start the
 * demo server) and make the LLM; fill ctx.  Returns an exit status. */
static int acore_set_up(cli_ctx *ctx, unsigned needs, acore_setup *su)
{
    const cli_opts *o = ctx->o;
    ac_options *copts = NULL;
    const char *provider = o->provider;
    ac_error err;
    ac_status st;
    int rc;

    if (o->trace_path) {
        copts = ac_options_new();
        if (!copts || ac_options_set(copts, "trace.file", o->trace_path) != AC_OK) {
            cli_errorf("out of memory");
            ac_options_free(copts);
            return CLI_EXIT_REQUEST;
        }
    }
    st = ac_core_open_ex(&su->core, o->config_path, copts, &err);
    ac_options_free(copts);
    if (st != AC_OK) {
        cli_print_error(&err);
        return err.code == AC_ENOMEM ? CLI_EXIT_REQUEST : CLI_EXIT_CONFIG;
    }
    ctx->core = su->core;
    if (o->verbose) {
        const char *path = ac_core_config_path(su->core);
        fprintf(stderr, "acore: config: %s\n", path ? path : "none (built-in defaults)");
    }
    if (!(needs & CLI_NEEDS_LLM))
        return CLI_EXIT_OK;

    su->opts = ac_options_new();
    if (!su->opts) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    if (o->demo || (!o->provider && !ac_core_config_path(su->core))) {
        rc = cli_demo_start(o->demo, su->opts, &su->demo);
        if (rc != CLI_EXIT_OK)
            return rc;
        provider = "openai";
        ctx->demo = 1;
    } else if (!provider && !ac_core_default_provider(su->core)) {
        cli_errorf("no provider chosen: pass -p NAME, or set abstractcore.default_provider "
                   "in %s (or try the mock server: acore --demo)",
                   ac_core_config_path(su->core));
        return CLI_EXIT_CONFIG;
    }
    if (o->timeout_ms >= 0) {
        char ms[32];
        snprintf(ms, sizeof ms, "%ld", o->timeout_ms);
        if (ac_options_set(su->opts, "timeout_ms", ms) != AC_OK) {
            cli_errorf("out of memory");
            return CLI_EXIT_REQUEST;
        }
    }
    ctx->llm_opts = su->opts;
    ctx->provider = provider;
    su->llm = ac_llm_create(su->core, provider, o->model, su->opts, &err);
    if (!su->llm) {
        cli_print_llm_error(&err, su->core);
        return err.code == AC_ENOMEM ? CLI_EXIT_REQUEST : CLI_EXIT_CONFIG;
    }
    ctx->llm = su->llm;
    ctx->provider = ac_llm_provider(su->llm);
    if (o->verbose)
        fprintf(stderr, "acore: provider %s, model %s\n", ac_llm_provider(su->llm),
                ac_llm_model(su->llm)[0] ? ac_llm_model(su->llm) : "(none)");
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    cli_opts o;
    cli_ctx ctx;
    acore_setup su;
    const cli_command *cmd = NULL;
    char *prompt = NULL;
    sigset_t sigint_set;
    int first = 0, dashdash = 0, nargs, rc;

    /* `acore serve` is the gateway, a program of its own with options of
     * its own (acore-serve(1)): everything after the word goes to it. */
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return acore_serve_exec(argc - 1, argv + 1);

    rc = acore_parse_args(argc, argv, &o, &first, &dashdash);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    memset(&ctx, 0, sizeof ctx);
    memset(&su, 0, sizeof su);
    ctx.o = &o;

    nargs = argc - first;
    if (nargs > 0 && !dashdash) {
        cmd = acore_find_command(argv[first]);
        /* A likely typo of a command is refused before anything is sent;
         * a longer text that starts with one is a prompt. */
        if (!cmd && nargs <= 2) {
            const char *near = acore_nearest_command(argv[first]);
            if (near)
                return cli_usage_error("unknown command '%s' (did you mean %s?); to send it as "
                                       "a prompt: acore -- %s", argv[first], near, argv[first]);
        }
    }
    if (cmd) {
        ctx.argc = nargs - 1;
        ctx.argv = argv + first + 1;
        if (ctx.argc < cmd->min_args)
            return cli_usage_error("%s: missing argument (usage: acore %s)", cmd->name, cmd->usage);
        if (cmd->max_args >= 0 && ctx.argc > cmd->max_args)
            return cli_usage_error("%s: unexpected argument '%s'", cmd->name,
                                   ctx.argv[cmd->max_args]);
    } else {
        rc = cli_prompt_from_args(nargs, argv + first, &prompt);
        if (rc != CLI_EXIT_OK)
            return rc;
    }

    /* Block SIGINT before the core starts its threads, so they inherit
     * the mask and Ctrl-C is always delivered to this thread, which
     * catches it when it can act on it (tty.c). */
    sigemptyset(&sigint_set);
    sigaddset(&sigint_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigint_set, NULL);

    if (!cmd || (cmd->needs & (CLI_NEEDS_CORE | CLI_NEEDS_LLM)))
        rc = acore_set_up(&ctx, cmd ? cmd->needs : CLI_NEEDS_LLM, &su);
    if (rc == CLI_EXIT_OK)
        rc = cmd ? cmd->run(&ctx) : cli_run_prompt(&ctx, prompt);

    /* Close the core before stopping the mock, so no request is left
     * talking to a server that is going away. */
    ac_llm_free(su.llm);
    ac_options_free(su.opts);
    ac_core_close(su.core);
    cli_demo_stop(su.demo);
    free(prompt);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_errorf("writing standard output: %s", strerror(errno));
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_REQUEST;
    }
    return rc;
}
