/*
 * acore.c -- the `acore` command-line program: main(), the command line,
 * and the `plugins`, `models` and `config check` commands.
 *
 *   acore [OPTIONS] PROMPT...     send a prompt, stream the reply (run.c)
 *   acore [OPTIONS] -             read the prompt from standard input
 *   acore plugins                 what the core found, loaded and refused
 *   acore models [-p NAME]        the models a provider serves
 *   acore config check [-c FILE]  every problem of the configuration file
 *
 * It uses only the public API plus the mock server library: when no
 * configuration file exists and no provider was named, it starts the
 * bundled mock LLM server in-process and talks to it through the openai
 * plugin, so a fresh build can be tried without any backend ("demo mode",
 * acore(1)).  Exit statuses are in cli.h.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <abstractcore/abstractcore.h>
#include "mock_server.h"
#include "cli.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION AC_VERSION_STRING
#endif

/* A prompt read from standard input larger than this is refused: the
 * program would otherwise hold any amount a pipe sends it. */
#define ACORE_STDIN_MAX ((size_t)16 * 1024 * 1024)

/* Limits for the numeric options (ac_gen_params checks its own too). */
#define ACORE_MAX_TOKENS_MAX 100000000L
#define ACORE_TIMEOUT_MAX    2147483647L   /* fits the core's int ms */

typedef enum acore_command {
    ACORE_CMD_PROMPT = 0,
    ACORE_CMD_PLUGINS,
    ACORE_CMD_MODELS
} acore_command;

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
    OPT_TRACE
};

static const struct option acore_long_options[] = {
    { "attach",      required_argument, NULL, 'a' },
    { "config",      required_argument, NULL, 'c' },
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
    { "verbose",     no_argument,       NULL, 'v' },
    { "help",        no_argument,       NULL, 'h' },
    { "version",     no_argument,       NULL, 'V' },
    { NULL, 0, NULL, 0 }
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Replace every control character with a space: messages stay on one line
 * and text that came from a server cannot send terminal escapes. */
static void acore_sanitize(char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f)
            *s = ' ';
    }
}

void cli_errorf(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    acore_sanitize(buf);
    fprintf(stderr, "acore: %s\n", buf);
}

void cli_print_error(const ac_error *err)
{
    char provider[AC_ERROR_PROVIDER_MAX + 2] = "";
    char stage[32] = "";
    const char *msg;

    if (err->provider[0])
        snprintf(provider, sizeof provider, "%s: ", err->provider);
    if (err->stage > AC_STAGE_NONE && err->stage < AC_STAGE_LAST)
        snprintf(stage, sizeof stage, "%s: ", ac_stage_name(err->stage));
    msg = err->message[0] ? err->message : ac_strerror(err->code);
    /* The core may already have started its message with the provider
     * name; saying it twice reads like a bug. */
    if (provider[0] && strncmp(msg, provider, strlen(provider)) == 0)
        provider[0] = '\0';
    cli_errorf("%s%s%s", provider, stage, msg);
}

int cli_exit_status(ac_status code)
{
    switch (code) {
    case AC_ECONFIG:
    case AC_EPLUGIN:
    case AC_ENOPROVIDER:
        return CLI_EXIT_CONFIG;
    default:
        return CLI_EXIT_REQUEST;
    }
}

void cli_put_oneline_json(FILE *f, const char *s, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj = NULL;

    if (tok) {
        obj = json_tokener_parse_ex(tok, s, (int)(len > 0x7fffffff ? 0x7fffffff : len));
        if (obj && json_tokener_get_error(tok) == json_tokener_success &&
            (size_t)json_tokener_get_parse_end(tok) == len) {
            fputs(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE), f);
            json_object_put(obj);
            json_tokener_free(tok);
            return;
        }
        json_object_put(obj);
        json_tokener_free(tok);
    }
    /* Not JSON (a truncated call, say): show it as it came, on one line. */
    cli_put_clean(f, s, len);
}

void cli_put_clean(FILE *f, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, f);
    }
}

/* A usage error: one line that says what is wrong and where to look. */
static int acore_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int acore_usage_error(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cli_errorf("%s (try 'acore --help')", buf);
    return CLI_EXIT_USAGE;
}

static void acore_print_help(void)
{
    fputs(
"Usage: acore [OPTIONS] PROMPT...    send a prompt, print the reply as it streams\n"
"       acore [OPTIONS] -            read the prompt from standard input\n"
"       acore plugins                list plugins and providers found, loaded, refused\n"
"       acore models [-p NAME]       list the models a provider serves\n"
"       acore config check [-c FILE] list every problem of the configuration file\n"
"       acore embed [OPTIONS] TEXT... one embedding per text, as JSON lines\n"
"\n"
"Options:\n"
"  -c, --config FILE      read this configuration file (default: search\n"
"                         $ABSTRACTCORE_CONFIG, $XDG_CONFIG_HOME/abstractcore/,\n"
"                         then the system one)\n"
"  -p, --provider NAME    a configured provider or a plugin name\n"
"                         (default: abstractcore.default_provider)\n"
"  -m, --model NAME       the model (default: the provider's default_model)\n"
"  -s, --system TEXT      a system prompt\n"
"  -a, --attach FILE      attach an image (PNG, JPEG, WebP, GIF) or a document\n"
"                         (PDF, text, Markdown, CSV, TSV, JSON) to the prompt;\n"
"                         repeatable\n"
"      --max-tokens N     at most N output tokens (1..100000000)\n"
"      --temperature X    sampling temperature, 0.0..2.0\n"
"  -o, --output FORMAT    text (default) or json: the whole response as one\n"
"                         JSON object\n"
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
"      --demo             use the bundled mock server even if configured\n"
"  -v, --verbose          reasoning, the config file used, and a usage line,\n"
"                         on standard error\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"With no configuration file and no -p, acore starts the bundled mock LLM\n"
"server and talks to it (demo mode).  Ctrl-C cancels a running request.\n"
"Exit status: 0 ok, 1 request failed, 2 usage error, 3 configuration or\n"
"plugin error, 130 interrupted.  See acore(1).\n", stdout);
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
        return acore_usage_error("%s: '%s' is not a whole number", opt, s);
    if (errno == ERANGE || v < min || v > max)
        return acore_usage_error("%s: %s is out of range (%ld..%ld)", opt, s, min, max);
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
        return acore_usage_error("%s: '%s' is not a number", opt, s);
    if (errno == ERANGE || v < min || v > max)
        return acore_usage_error("%s: %s is out of range (%.1f..%.1f)", opt, s, min, max);
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
            return acore_usage_error("option -%c needs an argument", optopt);
        return acore_usage_error("option '%s' needs an argument", arg);
    }
    if (!is_long && optopt > 0 && optopt < 256 && isprint(optopt))
        return acore_usage_error("invalid option -%c", optopt);
    if (is_long && optopt != 0 && strchr(arg, '='))   /* --verbose=3 */
        return acore_usage_error("option '%.*s' takes no argument",
                                 (int)(strchr(arg, '=') - arg), arg);
    return acore_usage_error("unrecognized option '%s'", arg);
}

/*
 * Fill *o from argv and set *first_arg to the index of the first operand.
 * Returns CLI_EXIT_OK to go on, CLI_EXIT_USAGE after printing the error,
 * or -1 after printing --help or --version (exit 0).
 */
static int acore_parse_args(int argc, char **argv, cli_opts *o, int *first_arg)
{
    int c, rc;

    memset(o, 0, sizeof *o);
    o->timeout_ms = -1;
    o->tool_mode = -1;
    o->stream = 1;
    o->output = CLI_OUTPUT_TEXT;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":a:c:p:m:s:o:vhV", acore_long_options, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (!optarg[0])
                return acore_usage_error("--attach: empty file name");
            if (o->n_attach >= AC_MAX_ATTACHMENTS)
                return acore_usage_error("--attach: at most %d files", AC_MAX_ATTACHMENTS);
            o->attach_paths[o->n_attach++] = optarg;
            break;
        case 'c':
            if (!optarg[0])
                return acore_usage_error("--config: empty file name");
            o->config_path = optarg;
            break;
        case 'p':
            if (!optarg[0])
                return acore_usage_error("--provider: empty name");
            o->provider = optarg;
            break;
        case 'm':
            if (!optarg[0])
                return acore_usage_error("--model: empty name");
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
        case 'o':
            if (strcmp(optarg, "text") == 0)
                o->output = CLI_OUTPUT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                o->output = CLI_OUTPUT_JSON;
            else
                return acore_usage_error("--output: '%s' is not text or json", optarg);
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
                return acore_usage_error("--schema: empty file name");
            o->schema_path = optarg;
            break;
        case OPT_TOOL:
            if (!optarg[0])
                return acore_usage_error("--tool: empty file name");
            if (o->n_tools >= CLI_MAX_TOOLS)
                return acore_usage_error("--tool: at most %d tools", CLI_MAX_TOOLS);
            o->tool_paths[o->n_tools++] = optarg;
            break;
        case OPT_TRACE:
            if (!optarg[0])
                return acore_usage_error("--trace: empty file name");
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
                return acore_usage_error("--tool-mode: '%s' is not auto, native or prompted",
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
        return acore_usage_error("--demo and --provider cannot be used together");
    *first_arg = optind;
    return CLI_EXIT_OK;
}

/* 1 if s is well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * past U+10FFFF).  Every backend takes JSON, which must be UTF-8; a bad
 * prompt is the user's to fix, so it is refused here with a clear message
 * rather than as a server's JSON error. */
static int acore_valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        unsigned c = *s;
        size_t n, i;
        unsigned cp, min;

        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1; cp = c & 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2; cp = c & 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        for (i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)   /* also stops at the NUL */
                return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* Join the operands with single spaces, so `acore Say hello` works
 * without quotes.  Returns a malloc'd string or NULL (out of memory). */
static char *acore_join_args(int argc, char **argv, int first)
{
    size_t len = 1, off = 0;
    char *s;
    int i;

    for (i = first; i < argc; i++)
        len += strlen(argv[i]) + 1;
    s = malloc(len);
    if (!s)
        return NULL;
    for (i = first; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (i > first)
            s[off++] = ' ';
        memcpy(s + off, argv[i], n);
        off += n;
    }
    s[off] = '\0';
    return s;
}

/* Read all of standard input as the prompt.  Trailing newlines are
 * dropped (`echo hi | acore -` should send "hi").  Returns an exit
 * status; *out is a malloc'd string on success. */
static int acore_read_stdin(char **out)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = CLI_EXIT_REQUEST;

    if (!buf) {
        cli_errorf("out of memory");
        goto done;
    }
    for (;;) {
        size_t n;
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                cli_errorf("out of memory reading standard input");
                goto done;
            }
            buf = nb;
            cap *= 2;
        }
        n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
        if (len > ACORE_STDIN_MAX)
            break;
    }
    if (ferror(stdin)) {
        cli_errorf("reading standard input: %s", strerror(errno));
        goto done;
    }
    if (len > ACORE_STDIN_MAX) {
        rc = acore_usage_error("the prompt on standard input is larger than %zu MiB",
                               ACORE_STDIN_MAX / (1024 * 1024));
        goto done;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        rc = acore_usage_error("the prompt on standard input contains a NUL byte");
        goto done;
    }
    *out = buf;
    buf = NULL;
    rc = CLI_EXIT_OK;
done:
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static int acore_cmd_plugins(ac_core *core)
{
    ac_error err;
    char *report = NULL;
    size_t n;

    if (ac_core_plugin_report(core, &report, &err) != AC_OK) {
        cli_print_error(&err);
        return cli_exit_status(err.code);
    }
    n = strlen(report);
    fputs(report, stdout);
    if (n > 0 && report[n - 1] != '\n')
        putchar('\n');
    ac_free(report);
    return CLI_EXIT_OK;
}

static int acore_cmd_models(ac_llm *llm, const cli_opts *o)
{
    ac_error err;
    ac_models *m = ac_list_models(llm, &err);
    json_object *arr = NULL;
    size_t i, n;
    int rc = CLI_EXIT_REQUEST;

    if (!m) {
        cli_print_error(&err);
        return cli_exit_status(err.code);
    }
    n = ac_models_count(m);
    if (o->output == CLI_OUTPUT_TEXT) {
        for (i = 0; i < n; i++) {
            /* Ids come from the server: keep them on their line. */
            const char *id = ac_models_id(m, i);
            cli_put_clean(stdout, id, strlen(id));
            putchar('\n');
        }
        rc = CLI_EXIT_OK;
        goto done;
    }
    arr = json_object_new_array();
    if (!arr)
        goto oom;
    for (i = 0; i < n; i++) {
        json_object *id = json_object_new_string(ac_models_id(m, i));
        if (!id || json_object_array_add(arr, id) != 0) {
            json_object_put(id);
            goto oom;
        }
    }
    puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    rc = CLI_EXIT_OK;
    goto done;
oom:
    cli_errorf("out of memory");
done:
    json_object_put(arr);
    ac_models_free(m);
    return rc;
}

/* `acore config check`: every problem of the file, one per line on
 * standard output ("FILE:LINE: message"); exit 0 without errors
 * (warnings allowed), 3 with one.  Nothing is started or contacted. */
static int acore_cmd_config_check(const cli_opts *o)
{
    ac_error err;
    char *report = NULL;
    ac_status st = ac_core_check_config(o->config_path, &report, &err);
    if (!report) {
        cli_print_error(&err);
        return cli_exit_status(err.code);
    }
    fputs(report, stdout);
    if (!*report)
        puts("no problems found");
    ac_free(report);
    return st == AC_OK ? CLI_EXIT_OK : CLI_EXIT_CONFIG;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

/*
 * What the bundled mock server answers in demo mode (the script format is
 * in docs/mock-server.md): a reply that says where it comes from, streamed
 * in visible pieces, and models that show the rest: `-m echo` repeats the
 * prompt, `-m tools` makes a tool call, `-m slow` streams long enough to
 * try Ctrl-C.
 */
static const char acore_demo_script[] =
    "reply = \"Hello! This reply comes from the mock LLM server bundled with "
    "AbstractCore, streamed in small pieces the way a real model streams. To talk to "
    "a real model, write a configuration file: see acore(1), CONFIGURATION.\";\n"
    "chunks = 32;\n"
    "delay_ms = 30;\n"
    "scenarios = (\n"
    "  { model = \"echo\"; echo = true; },\n"
    "  { model = \"tools\"; reply = \"\";\n"
    "    tool_calls = ( { name = \"get_weather\";\n"
    "                     arguments = \"{\\\"city\\\": \\\"Paris\\\"}\"; } ); },\n"
    "  { model = \"slow\"; reply_len = 20000; chunks = 2000; delay_ms = 25; }\n"
    ");\n";

/* Start the bundled mock server and point the openai plugin at it. */
static int acore_start_demo(const cli_opts *o, mock_server **mock, ac_options *opts)
{
    char errbuf[256] = "";
    char base_url[300];
    const char *url;

    *mock = mock_server_start(acore_demo_script, 0, errbuf, sizeof errbuf);
    if (!*mock) {
        cli_errorf("cannot start the bundled mock server: %s",
                   errbuf[0] ? errbuf : "unknown error");
        return CLI_EXIT_CONFIG;
    }
    url = mock_server_url(*mock);
    snprintf(base_url, sizeof base_url, "%s/v1", url);
    if (ac_options_set(opts, "base_url", base_url) != AC_OK ||
        ac_options_set(opts, "api_key", "mock") != AC_OK) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    if (o->demo)
        fprintf(stderr, "acore: demo mode: using the bundled mock server at %s "
                        "(see acore(1), CONFIGURATION)\n", url);
    else
        fprintf(stderr, "acore: no backend configured; using the bundled mock server "
                        "at %s (see acore(1), CONFIGURATION)\n", url);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    cli_opts o;
    acore_command cmd = ACORE_CMD_PROMPT;
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_options *opts = NULL;
    mock_server *mock = NULL;
    char *prompt = NULL;
    const char *provider;
    sigset_t sigint_set;
    ac_error err;
    int first = 0, nargs, rc;

    if (argc > 1 && strcmp(argv[1], "serve") == 0) return acore_serve_exec(argc - 1, argv + 1);
    /* `acore embed` has options and output of its own (cli/embed.c). */
    if (argc > 1 && strcmp(argv[1], "embed") == 0)
        return cli_embed_main(argc - 1, argv + 1);

    rc = acore_parse_args(argc, argv, &o, &first);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;

    nargs = argc - first;
    if (nargs >= 1 && strcmp(argv[first], "plugins") == 0)
        cmd = ACORE_CMD_PLUGINS;
    else if (nargs >= 1 && strcmp(argv[first], "models") == 0)
        cmd = ACORE_CMD_MODELS;
    else if (nargs == 2 && strcmp(argv[first], "config") == 0 &&
             strcmp(argv[first + 1], "check") == 0)
        return acore_cmd_config_check(&o); /* other words after "config": a prompt */
    if (cmd != ACORE_CMD_PROMPT && nargs > 1)
        return acore_usage_error("%s: unexpected argument '%s'", argv[first], argv[first + 1]);
    if (cmd == ACORE_CMD_PROMPT) {
        if (nargs == 0)
            return acore_usage_error("missing prompt");
        if (nargs == 1 && strcmp(argv[first], "-") == 0) {
            rc = acore_read_stdin(&prompt);
            if (rc != CLI_EXIT_OK)
                return rc;
        } else if (!(prompt = acore_join_args(argc, argv, first))) {
            cli_errorf("out of memory");
            return CLI_EXIT_REQUEST;
        }
        if (!prompt || prompt[0] == '\0') {
            free(prompt);
            return acore_usage_error("empty prompt");
        }
        if (!acore_valid_utf8(prompt)) {
            free(prompt);
            return acore_usage_error("the prompt is not valid UTF-8");
        }
    }
    if (o.system && !acore_valid_utf8(o.system))
        return acore_usage_error("--system: the text is not valid UTF-8");

    /* Block SIGINT before the core and the mock server start their
     * threads, so they inherit the mask and Ctrl-C is always delivered to
     * this thread, where run.c polls for it. */
    sigemptyset(&sigint_set);
    sigaddset(&sigint_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigint_set, NULL);

    ac_options *copts = o.trace_path ? ac_options_new() : NULL;
    if (o.trace_path && (!copts || ac_options_set(copts, "trace.file", o.trace_path) != AC_OK)) {
        cli_errorf("out of memory");
        ac_options_free(copts);
        rc = CLI_EXIT_REQUEST;
        goto done;
    }
    ac_status open_st = ac_core_open_ex(&core, o.config_path, copts, &err);
    ac_options_free(copts);
    if (open_st != AC_OK) {
        cli_print_error(&err);
        rc = err.code == AC_ENOMEM ? CLI_EXIT_REQUEST : CLI_EXIT_CONFIG;
        goto done;
    }
    if (o.verbose) {
        const char *path = ac_core_config_path(core);
        fprintf(stderr, "acore: config: %s\n", path ? path : "none (built-in defaults)");
    }
    if (cmd == ACORE_CMD_PLUGINS) {
        rc = acore_cmd_plugins(core);
        goto done;
    }

    if (o.timeout_ms >= 0 || o.demo || (!o.provider && !ac_core_config_path(core))) {
        opts = ac_options_new();
        if (!opts) {
            cli_errorf("out of memory");
            rc = CLI_EXIT_REQUEST;
            goto done;
        }
    }
    provider = o.provider;
    if (o.demo || (!o.provider && !ac_core_config_path(core))) {
        rc = acore_start_demo(&o, &mock, opts);
        if (rc != CLI_EXIT_OK)
            goto done;
        provider = "openai";
    } else if (!provider && !ac_core_default_provider(core)) {
        cli_errorf("no provider chosen: pass -p NAME, or set abstractcore.default_provider in %s",
                   ac_core_config_path(core));
        rc = CLI_EXIT_CONFIG;
        goto done;
    }
    if (o.timeout_ms >= 0) {
        char ms[32];
        snprintf(ms, sizeof ms, "%ld", o.timeout_ms);
        if (ac_options_set(opts, "timeout_ms", ms) != AC_OK) {
            cli_errorf("out of memory");
            rc = CLI_EXIT_REQUEST;
            goto done;
        }
    }

    llm = ac_llm_create(core, provider, o.model, opts, &err);
    if (!llm) {
        cli_print_error(&err);
        rc = err.code == AC_ENOMEM ? CLI_EXIT_REQUEST : CLI_EXIT_CONFIG;
        goto done;
    }
    if (o.verbose)
        fprintf(stderr, "acore: provider %s, model %s\n", ac_llm_provider(llm),
                ac_llm_model(llm)[0] ? ac_llm_model(llm) : "(none)");

    if (cmd == ACORE_CMD_MODELS) {
        /* Nothing to cancel politely here: let Ctrl-C end the program. */
        pthread_sigmask(SIG_UNBLOCK, &sigint_set, NULL);
        rc = acore_cmd_models(llm, &o);
    } else {
        rc = cli_run_prompt(llm, prompt, &o);
    }

done:
    /* Close the core before stopping the mock, so no request is left
     * talking to a server that is going away. */
    ac_llm_free(llm);
    ac_options_free(opts);
    ac_core_close(core);
    if (mock)
        mock_server_stop(mock);
    free(prompt);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_errorf("writing standard output: %s", strerror(errno));
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_REQUEST;
    }
    return rc;
}
