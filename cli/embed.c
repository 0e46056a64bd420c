/*
 * embed.c -- `acore embed`: texts in, one JSON line per vector out.
 *
 *   acore [-C FILE] [-p NAME] [-m MODEL] [--dimensions N] [--timeout MS]
 *         [--demo] [-v] embed [TEXT...]
 *
 * Each operand is one text; with none (or a lone "-"), standard input is
 * read, one text a line (blank lines skipped).  Every vector is printed
 * on a line of its own, in input order:
 *
 *   {"index":0,"embedding":[0.0123,-0.5,...],"model":"text-embedding-3-small"}
 *
 * with each value in 9 significant digits, which read back as the same
 * 32-bit float.  -v adds one summary line on standard error.  The
 * provider is chosen as for a prompt (acore.c sets up ctx->llm; demo mode
 * makes the mock server play an OpenAI-compatible embedding backend); -m
 * names the embedding model (default: the provider's embed_model, else
 * its default_model).  Exit statuses are in cli.h.  Uses only the public
 * API (ac_embed).  Ctrl-C ends the program (there is nothing half-printed
 * to keep: vectors are printed once all have come).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include <abstractcore/abstractcore.h>
#include "cli.h"

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
    int rc = cli_read_all(stdin, CLI_STDIN_MAX, 0, "standard input", &t->buf, NULL);

    if (rc != CLI_EXIT_OK)
        return rc;
    for (char *line = t->buf, *next; line && *line; line = next) {
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
        return cli_usage_error("embed: no text on standard input");
    return CLI_EXIT_OK;
}

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

int cli_cmd_embed(cli_ctx *ctx)
{
    const cli_opts *o = ctx->o;
    texts t = {0};
    ac_embeddings *e = NULL;
    json_object *model = NULL;
    ac_error err;
    int rc;

    if (ctx->argc == 0 || (ctx->argc == 1 && strcmp(ctx->argv[0], "-") == 0)) {
        if (ctx->argc == 0 && isatty(STDIN_FILENO))
            return cli_usage_error("embed: give the texts (or - for standard input)");
        if ((rc = texts_from_stdin(&t)) != CLI_EXIT_OK)
            goto done;
    } else {
        t.n = (size_t)ctx->argc;
        t.v = malloc(t.n * sizeof *t.v);
        if (!t.v) {
            cli_errorf("out of memory");
            rc = CLI_EXIT_REQUEST;
            goto done;
        }
        for (size_t i = 0; i < t.n; i++) {
            t.v[i] = ctx->argv[i];
            if (!t.v[i][0]) {
                rc = cli_usage_error("embed: text %zu is empty", i);
                goto done;
            }
        }
    }
    for (size_t i = 0; i < t.n; i++)
        if (!cli_valid_utf8(t.v[i])) {
            rc = cli_usage_error("embed: text %zu is not valid UTF-8", i);
            goto done;
        }

    ac_embed_params p = {.version = AC_EMBED_PARAMS_VERSION,
                         .dimensions = (size_t)o->dimensions, .model = o->model};
    e = ac_embed(ctx->llm, (const char *const *)t.v, t.n, &p, &err);
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
    if (o->verbose) {
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
    texts_free(&t);
    return rc;
}
