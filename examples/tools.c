/*
 * tools.c -- offer a tool, run the calls the model makes, send the
 * results back, and get the final answer.
 *
 * Tools are offered with ac_gen_params_add_tool; when the model calls
 * them, the response lists the calls (finish_reason "tool_calls").  The
 * program runs them, appends the results to the session and continues with
 * a NULL prompt.  The session keeps the assistant's calls and the results
 * in the history, in each backend's own format (OpenAI tool_call_id,
 * Anthropic tool_use_id, Ollama tool_name).
 *
 * Tools work on every model.  -t picks how they reach it: "native" (the
 * backend's tool API), "prompted" (the tools are described in the system
 * prompt in the model family's own format, and the calls the model writes
 * into its text -- <tool_call>{...}</tool_call>, [TOOL_CALLS] [...],
 * <|python_tag|>{...} -- are read back out as the same tool calls), or
 * "auto" (native where the plugin has a tool API; the default).  The loop
 * below is the same in every mode.
 *
 * Usage: ./tools [-c CONFIG] [-p PROVIDER] [-m MODEL] [-t MODE] [PROMPT]
 *   (-c, -p, -m as in sync.c; MODE auto, native or prompted)
 * Build: cc -o tools tools.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] =
    "usage: tools [-c CONFIG] [-p PROVIDER] [-m MODEL] [-t auto|native|prompted] [PROMPT]\n";

/* Rounds of tool calls before the model is told to answer. */
#define MAX_TOOL_ROUNDS 3

static const char weather_schema[] =
    "{\"type\":\"object\","
    " \"properties\":{\"city\":{\"type\":\"string\"}},"
    " \"required\":[\"city\"]}";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "tools: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

/* The tool itself.  A real program would parse the arguments with a JSON
 * library (they are a JSON object as text, "{}" if the model sent none). */
static const char *get_weather(const char *arguments_json)
{
    return strstr(arguments_json, "Paris") ? "{\"celsius\":21,\"sky\":\"clear\"}"
                                           : "{\"celsius\":12,\"sky\":\"rain\"}";
}

/* Run every tool call in r and append each result to the session. */
static ac_status run_tool_calls(ac_session *s, const ac_response *r)
{
    for (size_t i = 0; i < ac_response_tool_call_count(r); i++) {
        const char *name = ac_response_tool_call_name(r, i);
        const char *args = ac_response_tool_call_arguments(r, i);
        const char *result;
        ac_status st;

        if (ac_response_tool_call_truncated(r, i))   /* cut off: not valid JSON */
            result = "{\"error\":\"the arguments were cut off\"}";
        else if (strcmp(name, "get_weather") == 0)
            result = get_weather(args);
        else
            result = "{\"error\":\"unknown tool\"}";
        fprintf(stderr, "[tool call] %s(%s) -> %s\n", name, args, result);
        st = ac_session_add_tool_result(s, ac_response_tool_call_id(r, i), name, result);
        if (st != AC_OK)
            return st;
    }
    return AC_OK;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "What is the weather in Paris?";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_gen_params *params = NULL;
    ac_session *s = NULL;
    ac_response *r = NULL;
    ac_tool_mode mode = AC_TOOL_MODE_AUTO;
    ac_status st;
    ac_error err;
    int opt, rc = 1;

    opterr = 0;
    while ((opt = getopt(argc, argv, "c:p:m:t:")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': provider = optarg; break;
        case 'm': model = optarg; break;
        case 't':
            if (strcmp(optarg, "auto") == 0)
                mode = AC_TOOL_MODE_AUTO;
            else if (strcmp(optarg, "native") == 0)
                mode = AC_TOOL_MODE_NATIVE;
            else if (strcmp(optarg, "prompted") == 0)
                mode = AC_TOOL_MODE_PROMPTED;
            else {
                fputs(usage, stderr);
                return 2;
            }
            break;
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
    if (!(params = ac_gen_params_new()) || !(s = ac_session_new(llm, NULL))) {
        fputs("tools: out of memory\n", stderr);
        goto done;
    }
    /* AC_EINVAL if the schema is not a JSON object, AC_ENOMEM. */
    st = ac_gen_params_add_tool(params, "get_weather", "Current weather in a city",
                                weather_schema);
    if (st != AC_OK) {
        fprintf(stderr, "tools: cannot offer the tool: %s\n", ac_strerror(st));
        goto done;
    }
    ac_gen_params_set_tool_mode(params, mode);

    if (!(r = ac_session_generate(s, prompt, params, &err)))
        goto fail;
    for (int round = 1; ac_response_tool_call_count(r) > 0; round++) {
        if ((st = run_tool_calls(s, r)) != AC_OK) {
            fprintf(stderr, "tools: cannot add a tool result: %s\n", ac_strerror(st));
            goto done;
        }
        /* Enough rounds: insist on an answer from what the model has. */
        if (round == MAX_TOOL_ROUNDS &&
            (st = ac_gen_params_set_tool_choice(params, "none")) != AC_OK) {
            fprintf(stderr, "tools: %s\n", ac_strerror(st));
            goto done;
        }
        ac_response_free(r);
        /* A NULL prompt continues the conversation after the results. */
        if (!(r = ac_session_generate(s, NULL, params, &err)))
            goto fail;
        if (round == MAX_TOOL_ROUNDS)
            break;                    /* whatever it said, it was the last turn */
    }
    printf("%s\n", ac_response_content(r));
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_response_free(r);
    ac_session_free(s);
    ac_gen_params_free(params);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
