/*
 * commands.c -- acore's small commands: `plugins` (what the core found,
 * loaded and refused), `models` (what a provider serves) and `config
 * check` (every problem of the configuration file).
 *
 * Each is a row of acore.c's command table and gets what it asked for in
 * its cli_ctx; each returns the exit status.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

int cli_cmd_plugins(cli_ctx *ctx)
{
    ac_error err;
    char *report = NULL;
    size_t n;

    if (ac_core_plugin_report(ctx->core, &report, &err) != AC_OK) {
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

int cli_cmd_models(cli_ctx *ctx)
{
    ac_error err;
    ac_models *m;
    json_object *arr = NULL;
    size_t i, n;
    int rc = CLI_EXIT_REQUEST;

    /* Nothing to cancel politely here: let Ctrl-C end the program. */
    cli_sigint_catch(1);
    m = ac_list_models(ctx->llm, &err);
    if (cli_interrupted)
        return CLI_EXIT_INTERRUPT;
    if (!m) {
        cli_print_error(&err);
        return cli_exit_status(err.code);
    }
    n = ac_models_count(m);
    if (ctx->o->output == CLI_OUTPUT_TEXT) {
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
    cli_json_line(stdout, arr);
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
int cli_cmd_config(cli_ctx *ctx)
{
    static const char *const subcommands[] = { "check", NULL };
    ac_error err;
    char *report = NULL;
    ac_status st;

    if (strcmp(ctx->argv[0], "check") != 0) {
        const char *near = cli_nearest(ctx->argv[0], subcommands);
        return cli_usage_error("config: unknown subcommand '%s'%s", ctx->argv[0],
                               near ? " (did you mean check?)" : "; the one there is: check");
    }
    st = ac_core_check_config(ctx->o->config_path, &report, &err);
    if (!report) {
        cli_print_error(&err);
        return cli_exit_status(err.code);
    }
    if (!*report) {
        char where[1200];
        /* Nothing was checked when no file exists: say so, not "fine". */
        if (!ctx->o->config_path && cli_config_find(where, sizeof where) != 0) {
            cli_config_where(NULL, NULL, where, sizeof where);
            printf("%s; nothing to check\n", where);
        } else {
            puts("no problems found");
        }
    }
    fputs(report, stdout);
    ac_free(report);
    return st == AC_OK ? CLI_EXIT_OK : CLI_EXIT_CONFIG;
}
