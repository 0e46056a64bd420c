/*
 * tool_loop.c -- let the library run the tool loop: register C functions
 * as tools with the JSON Schema of their arguments, and get the final
 * answer once the model has called them as often as it wanted.
 *
 * ac_session_run_tools sends the prompt, and while the reply asks for
 * tool calls it checks each call's arguments against its tool's schema,
 * runs the calls of a reply at the same time (on a small pool of
 * threads), appends the results to the session and asks again.  A call
 * to a tool that does not exist, arguments that do not match the schema
 * and a tool that fails all go back to the model as error results, so it
 * can correct itself.  The callbacks print each step on stderr.
 *
 * Usage: ./tool_loop [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]
 *   (-c, -p, -m as in sync.c)
 * Build: cc -o tool_loop tool_loop.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt(), strdup() */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: tool_loop [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]\n";

static const char weather_schema[] =
    "{\"type\":\"object\","
    " \"properties\":{\"city\":{\"type\":\"string\",\"minLength\":1}},"
    " \"required\":[\"city\"], \"additionalProperties\":false}";
static const char fahrenheit_schema[] =
    "{\"type\":\"object\","
    " \"properties\":{\"celsius\":{\"type\":\"number\"}},"
    " \"required\":[\"celsius\"], \"additionalProperties\":false}";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "tool_loop: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

/* The tools.  Their arguments have been checked against their schema
 * already, so "city" is there and is a string; a real program would still
 * read them with a JSON library. */
static ac_status get_weather(const char *arguments, char **result, void *user)
{
    const char *answer = NULL;
    (void)user;
    if (strstr(arguments, "\"Paris\""))
        answer = "{\"celsius\":21,\"sky\":\"clear\"}";
    else if (strstr(arguments, "\"Oslo\""))
        answer = "{\"celsius\":12,\"sky\":\"rain\"}";
    /* A tool that fails returns a status other than AC_OK; the text it
     * sets in *result is what the model is told. */
    *result = strdup(answer ? answer : "no weather station in that city");
    if (!*result)
        return AC_ENOMEM;
    return answer ? AC_OK : AC_EINVAL;
}

static ac_status to_fahrenheit(const char *arguments, char **result, void *user)
{
    char text[64];
    const char *v = strstr(arguments, "\"celsius\"");
    (void)user;
    v = v ? strchr(v, ':') : NULL;
    if (!v)
        return AC_EINVAL;
    snprintf(text, sizeof text, "{\"fahrenheit\":%.1f}", strtod(v + 1, NULL) * 9 / 5 + 32);
    *result = strdup(text);
    return *result ? AC_OK : AC_ENOMEM;
}

/* Each step, as the loop takes it.  The callbacks of one run never run at
 * the same time, so they may print without a lock. */
static void on_round(ac_toolrun *run, int round, void *user)
{
    (void)run, (void)user;
    fprintf(stderr, "[round %d]\n", round);
}

static void on_tool_done(ac_toolrun *run, const char *name, const char *id,
                         const char *result, int is_error, void *user)
{
    const char *p;
    (void)run, (void)id, (void)user;
    fprintf(stderr, "[tool%s] %s -> ", is_error ? " error" : "", name);
    for (p = result; *p; p++) {            /* validation errors: one a line */
        if (*p != '\n')
            fputc(*p, stderr);
        else if (p[1])
            fputs(" / ", stderr);
    }
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "What is the weather in Paris and in Oslo, in Fahrenheit?";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_toolbox *tb = NULL;
    ac_session *s = NULL;
    ac_response *r = NULL;
    ac_toolrun_opts opts = {.version = AC_TOOLRUN_OPTS_VERSION};
    ac_error err;
    int opt, rc = 1;

    opterr = 0;
    while ((opt = getopt(argc, argv, "c:p:m:")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': provider = optarg; break;
        case 'm': model = optarg; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc)
        prompt = argv[optind++];
    if (optind < argc) {
        fputs(usage, stderr);
        return 2;
    }

    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    if (!(llm = ac_llm_create(core, provider, model, NULL, &err)))
        goto fail;
    if (!(tb = ac_toolbox_new()) || !(s = ac_session_new(llm, NULL))) {
        fputs("tool_loop: out of memory\n", stderr);
        goto done;
    }
    /* A schema the validator cannot use is refused here, with its reason. */
    if (ac_toolbox_add(tb, "get_weather", "Current weather in a city", weather_schema,
                       get_weather, NULL, &err) != AC_OK ||
        ac_toolbox_add(tb, "to_fahrenheit", "Convert Celsius to Fahrenheit",
                       fahrenheit_schema, to_fahrenheit, NULL, &err) != AC_OK)
        goto fail;

    opts.max_rounds = 5;          /* model turns at most (default 8) */
    opts.max_parallel = 4;        /* calls of one reply at once (default 4) */
    opts.on_round = on_round;
    opts.on_tool_done = on_tool_done;
    /* Offers the toolbox's tools itself; blocks until the final answer. */
    if (!(r = ac_session_run_tools(s, prompt, NULL, tb, &opts, &err)))
        goto fail;
    printf("%s\n", ac_response_content(r));
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_response_free(r);
    ac_session_free(s);
    ac_toolbox_free(tb);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
