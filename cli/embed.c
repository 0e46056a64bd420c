/*
 * embed.c -- `acore embed`: texts in, one JSON line per vector out.
 *
 *   acore embed [-c FILE] [-p NAME] [-m MODEL] [--dimensions N]
 *               [--timeout MS] [--demo] [-v] [TEXT...]
 *
 * Each operand is one text; with none (or a lone "-"), standard input is
 * read, one text a line (blank lines skipped).  Every vector is printed
 * on a line of its own, in input order:
 *
 *   {"index":0,"embedding":[0.0123,-0.5,...],"model":"text-embedding-3-small"}
 *
 * with each value in 9 significant digits, which read back as the same
 * 32-bit float.  -v adds one summary line on standard error.  As for a
 * prompt, no configuration and no -p means demo mode: the bundled mock
 * server plays an OpenAI-compatible backend.  Exit statuses are in cli.h.
 * Uses only the public API (ac_embed), plus the mock server library for
 * demo mode.  Ctrl-C ends the program (there is nothing half-printed to
 * keep: vectors are printed once all have come).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* getopt_long */
#endif

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <abstractcore/abstractcore.h>
#include "mock_server.h"
#include "cli.h"

/* Standard input larger than this is refused (all of it is held). */
#define EMBED_STDIN_MAX ((size_t)16 * 1024 * 1024)
/* The model the demo mode asks the mock for. */
#define EMBED_DEMO_MODEL "demo-embedding"

typedef struct embed_opts {
    const char *config_path;
    const char *provider;
    const char *model;
    long        dimensions;   /* 0: the model's own */
    long        timeout_ms;   /* -1: unset */
    int         demo;
    int         verbose;
} embed_opts;

enum { EOPT_DIMENSIONS = 1000, EOPT_TIMEOUT, EOPT_DEMO };

static const struct option embed_long_options[] = {
    { "config",     required_argument, NULL, 'c' },
    { "provider",   required_argument, NULL, 'p' },
    { "model",      required_argument, NULL, 'm' },
    { "dimensions", required_argument, NULL, EOPT_DIMENSIONS },
    { "timeout",    required_argument, NULL, EOPT_TIMEOUT },
    { "demo",       no_argument,       NULL, EOPT_DEMO },
    { "verbose",    no_argument,       NULL, 'v' },
    { "help",       no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

static int embed_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int embed_usage_error(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cli_errorf("embed: %s (try 'acore embed --help')", buf);
    return CLI_EXIT_USAGE;
}

static void embed_help(void)
{
    fputs(
"Usage: acore embed [OPTIONS] TEXT...   one embedding per text, as JSON lines\n"
"       acore embed [OPTIONS] [-]       the texts from standard input, one a line\n"
"\n"
"Each line printed is {\"index\": N, \"embedding\": [...], \"model\": \"...\"}, in\n"
"the order of the texts.\n"
"\n"
"Options:\n"
"  -c, --config FILE      read this configuration file\n"
"  -p, --provider NAME    a configured provider or a plugin name\n"
"  -m, --model NAME       the embedding model (default: the provider's\n"
"                         embed_model, else its default_model)\n"
"      --dimensions N     ask for vectors of N values (models that can\n"
"                         shorten theirs, e.g. OpenAI text-embedding-3)\n"
"      --timeout MS       give up on a request after MS milliseconds (0: none)\n"
"      --demo             use the bundled mock server even if configured\n"
"  -v, --verbose          a summary line on standard error\n"
"  -h, --help             show this help and exit\n"
"\n"
"Exit status: 0 ok, 1 request failed, 2 usage error, 3 configuration or\n"
"plugin error.  See acore(1).\n", stdout);
}

static int embed_parse_long(const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || isspace((unsigned char)*s) || errno == ERANGE || v < min || v > max)
        return embed_usage_error("%s: '%s' is not a whole number in %ld..%ld", opt, s, min,
                                 max);
    *out = v;
    return CLI_EXIT_OK;
}

static int embed_parse_args(int argc, char **argv, embed_opts *o, int *first)
{
    int c, rc;
    memset(o, 0, sizeof *o);
    o->timeout_ms = -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:p:m:vh", embed_long_options, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 'p': o->provider = optarg; break;
        case 'm':
            if (!optarg[0])
                return embed_usage_error("--model: empty name");
            o->model = optarg;
            break;
        case EOPT_DIMENSIONS:
            if ((rc = embed_parse_long("--dimensions", optarg, 1, 65536, &o->dimensions)))
                return rc;
            break;
        case EOPT_TIMEOUT:
            if ((rc = embed_parse_long("--timeout", optarg, 0, 2147483647L, &o->timeout_ms)))
                return rc;
            break;
        case EOPT_DEMO: o->demo = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h':
            embed_help();
            return -1;
        case ':':
            return embed_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            return embed_usage_error("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    if ((o->config_path && !o->config_path[0]) || (o->provider && !o->provider[0]))
        return embed_usage_error("an empty --config or --provider");
    if (o->demo && o->provider)
        return embed_usage_error("--demo and --provider cannot be used together");
    *first = optind;
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* The texts                                                           */
/* ------------------------------------------------------------------ */

typedef struct texts {
    char  **v;
    size_t  n;
    char   *buf;   /* standard input, split in place */
} texts;

static void texts_free(texts *t)
{
    free(t->v);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

/* Standard input, one text per line (blank lines skipped, a trailing \r
 * dropped). */
static int texts_from_stdin(texts *t)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = cap > EMBED_STDIN_MAX ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                if (cap > EMBED_STDIN_MAX)
                    return embed_usage_error("standard input is larger than %zu MiB",
                                             EMBED_STDIN_MAX / (1024 * 1024));
                cli_errorf("out of memory reading standard input");
                return CLI_EXIT_REQUEST;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(stdin)) {
        free(buf);
        cli_errorf("reading standard input: %s", strerror(errno));
        return CLI_EXIT_REQUEST;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return embed_usage_error("standard input contains a NUL byte");
    }
    t->buf = buf;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (!l)
            continue;
        char **v = realloc(t->v, (t->n + 1) * sizeof *v);
        if (!v) {
            cli_errorf("out of memory");
            return CLI_EXIT_REQUEST;
        }
        t->v = v;
        t->v[t->n++] = line;
    }
    if (t->n == 0)
        return embed_usage_error("no text on standard input");
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void embed_print(const ac_embeddings *e, const char *model_json)
{
    size_t dim = ac_embeddings_dimension(e);
    for (size_t i = 0; i < ac_embeddings_count(e); i++) {
        const float *v = ac_embeddings_vector(e, i);
        printf("{\"index\":%zu,\"embedding\":[", i);
        for (size_t k = 0; k < dim; k++)
            printf("%s%.9g", k ? "," : "", (double)v[k]);
        printf("],\"model\":%s}\n", model_json);
    }
}

/* ------------------------------------------------------------------ */
/* Demo mode                                                           */
/* ------------------------------------------------------------------ */

static int embed_demo(const embed_opts *o, mock_server **mock, ac_options *opts)
{
    char errbuf[256] = "", base[300];
    *mock = mock_server_start("embedding_dim = 8;", 0, errbuf, sizeof errbuf);
    if (!*mock) {
        cli_errorf("cannot start the bundled mock server: %s", errbuf);
        return CLI_EXIT_CONFIG;
    }
    snprintf(base, sizeof base, "%s/v1", mock_server_url(*mock));
    if (ac_options_set(opts, "base_url", base) != AC_OK ||
        ac_options_set(opts, "api_key", "mock") != AC_OK ||
        ac_options_set(opts, "embed_model", EMBED_DEMO_MODEL) != AC_OK) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    fprintf(stderr, "acore: %s; using the bundled mock server at %s (see acore(1), "
            "CONFIGURATION)\n", o->demo ? "demo mode" : "no backend configured",
            mock_server_url(*mock));
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

int cli_embed_main(int argc, char **argv)
{
    embed_opts o;
    texts t = {0};
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_options *opts = NULL;
    mock_server *mock = NULL;
    ac_embeddings *e = NULL;
    json_object *model = NULL;
    ac_error err;
    int first = 0;
    int rc = embed_parse_args(argc, argv, &o, &first);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;

    if (first == argc || (argc - first == 1 && strcmp(argv[first], "-") == 0)) {
        if ((rc = texts_from_stdin(&t)) != CLI_EXIT_OK)
            goto done;
    } else {
        t.n = (size_t)(argc - first);
        t.v = malloc(t.n * sizeof *t.v);
        if (!t.v) {
            cli_errorf("out of memory");
            rc = CLI_EXIT_REQUEST;
            goto done;
        }
        for (size_t i = 0; i < t.n; i++) {
            t.v[i] = argv[first + (int)i];
            if (!t.v[i][0]) {
                rc = embed_usage_error("text %zu is empty", i);
                goto done;
            }
        }
    }

    if (ac_core_open_ex(&core, o.config_path, NULL, &err) != AC_OK) {
        cli_print_error(&err);
        rc = err.code == AC_ENOMEM ? CLI_EXIT_REQUEST : CLI_EXIT_CONFIG;
        goto done;
    }
    opts = ac_options_new();
    if (!opts) {
        cli_errorf("out of memory");
        rc = CLI_EXIT_REQUEST;
        goto done;
    }
    const char *provider = o.provider;
    const char *model_name = o.model;
    if (o.demo || (!o.provider && !ac_core_config_path(core))) {
        if ((rc = embed_demo(&o, &mock, opts)) != CLI_EXIT_OK)
            goto done;
        provider = "openai";
    } else if (!provider && !ac_core_default_provider(core)) {
        cli_errorf("no provider chosen: pass -p NAME, or set abstractcore.default_provider in "
                   "%s", ac_core_config_path(core));
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
    llm = ac_llm_create(core, provider, NULL, opts, &err);
    if (!llm) {
        cli_print_error(&err);
        rc = err.code == AC_ENOMEM ? CLI_EXIT_REQUEST : CLI_EXIT_CONFIG;
        goto done;
    }
    ac_embed_params p = {.version = AC_EMBED_PARAMS_VERSION, .dimensions = (size_t)o.dimensions,
                         .model = model_name};
    e = ac_embed(llm, (const char *const *)t.v, t.n, &p, &err);
    if (!e) {
        cli_print_error(&err);
        /* A text or a model name the backend cannot take is the user's
         * to fix, as a bad option is. */
        rc = err.code == AC_EINVAL ? CLI_EXIT_USAGE : cli_exit_status(err.code);
        goto done;
    }
    model = json_object_new_string(ac_embeddings_model(e));
    if (!model) {
        cli_errorf("out of memory");
        rc = CLI_EXIT_REQUEST;
        goto done;
    }
    embed_print(e, json_object_to_json_string_ext(model, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    if (o.verbose) {
        long tok = ac_embeddings_input_tokens(e);
        char tokens[32] = "unknown";
        if (tok >= 0)
            snprintf(tokens, sizeof tokens, "%ld", tok);
        fprintf(stderr, "acore: %zu vector%s of %zu values from %s, model ",
                ac_embeddings_count(e), ac_embeddings_count(e) == 1 ? "" : "s",
                ac_embeddings_dimension(e), ac_embeddings_provider(e));
        cli_put_clean(stderr, ac_embeddings_model(e), strlen(ac_embeddings_model(e)));
        fprintf(stderr, ", %zu request%s, input tokens %s\n", ac_embeddings_batches(e),
                ac_embeddings_batches(e) == 1 ? "" : "s", tokens);
    }
    rc = CLI_EXIT_OK;
done:
    json_object_put(model);
    ac_embeddings_free(e);
    ac_llm_free(llm);
    ac_options_free(opts);
    ac_core_close(core);
    if (mock)
        mock_server_stop(mock);
    texts_free(&t);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_errorf("writing standard output: %s", strerror(errno));
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_REQUEST;
    }
    return rc;
}
