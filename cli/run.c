/*
 * run.c -- send one prompt and print the reply, for acore.
 *
 * By default the reply is streamed with the pull API (ac_stream_open /
 * ac_stream_next): text deltas go to stdout, flushed as they arrive;
 * reasoning (with -v) and tool calls go to stderr.  --no-stream sends one
 * ac_agenerate request without callbacks and prints the whole reply.
 * -o json prints ac_response_to_json() of the final response instead.
 *
 * Ctrl-C: the SIGINT handler only sets a flag (about the only thing a
 * handler may safely do).  The main loop waits for events with a short
 * timeout, and when it sees the flag calls ac_request_cancel(), then keeps
 * reading until the request is done, so everything that arrived is
 * printed before acore exits with 130.  main() blocked SIGINT before the
 * library's threads started, so they inherited the block and only this
 * thread ever runs the handler.  The handler is one-shot (SA_RESETHAND):
 * a second Ctrl-C kills the program even if something hangs.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* sigaction, pthread_sigmask */
#endif

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <abstractcore/abstractcore.h>
#include "cli.h"

/* How often the wait loops look at the Ctrl-C flag: short enough to feel
 * immediate, long enough to cost nothing. */
#define RUN_POLL_MS 50

/* --schema and --tool files larger than this are refused. */
#define RUN_FILE_MAX ((size_t)1024 * 1024)

static volatile sig_atomic_t run_interrupted;

typedef struct run_state {
    const cli_opts *o;
    int  printed;         /* some reply text went to stdout */
    char last;            /* the last byte of it */
    int  reasoning_open;  /* a "[reasoning] ..." line on stderr is open */
    int  saw_error;       /* an AC_EVENT_ERROR arrived: the stream is over */
    int  streamed;        /* text was printed as events arrived */
} run_state;

static void run_on_sigint(int sig)
{
    (void)sig;
    run_interrupted = 1;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void run_close_reasoning(run_state *st)
{
    if (st->reasoning_open) {
        fputc('\n', stderr);
        st->reasoning_open = 0;
    }
}

static void run_print_text(run_state *st, const char *text, size_t len)
{
    if (st->o->output != CLI_OUTPUT_TEXT || !text || len == 0)
        return;
    run_close_reasoning(st);
    fwrite(text, 1, len, stdout);
    /* Deltas are shown as they arrive, not when a buffer fills. */
    fflush(stdout);
    st->printed = 1;
    st->last = text[len - 1];
}

static void run_print_reasoning(run_state *st, const char *text, size_t len)
{
    if (!st->o->verbose || !text || len == 0)
        return;
    if (!st->reasoning_open) {
        fputs("[reasoning] ", stderr);
        st->reasoning_open = 1;
    }
    fwrite(text, 1, len, stderr);
    fflush(stderr);
}

static void run_print_tool_call(run_state *st, const char *name,
                                const char *args, size_t len, int truncated)
{
    if (st->o->output != CLI_OUTPUT_TEXT)
        return;   /* the JSON output carries them */
    run_close_reasoning(st);
    fputs("[tool call] ", stderr);
    if (name)
        cli_put_clean(stderr, name, strlen(name));
    fputc('(', stderr);
    if (args && len > 0)
        cli_put_oneline_json(stderr, args, len);
    fputs(truncated ? ") [truncated]\n" : ")\n", stderr);
}

static void run_event(run_state *st, const ac_chunk *c)
{
    switch (c->type) {
    case AC_EVENT_TEXT:
        /* With a schema only the validated document is printed, at the
         * end: a reply that is asked again must not reach stdout. */
        if (!st->o->schema_path)
            run_print_text(st, c->text, c->len);
        break;
    case AC_EVENT_RESTART:
        if (st->o->verbose && c->error) {
            run_close_reasoning(st);
            fputs("[retry] ", stderr);
            cli_put_clean(stderr, c->error->message, strlen(c->error->message));
            fputc('\n', stderr);
        }
        break;
    case AC_EVENT_REASONING:
        run_print_reasoning(st, c->data, c->data_len);
        break;
    case AC_EVENT_TOOL_CALL_END:
        run_print_tool_call(st, c->tool_name, c->data, c->data_len, c->truncated);
        break;
    case AC_EVENT_ERROR:
        st->saw_error = 1;
        break;
    default:
        break;   /* usage and finish are read from the response at the end */
    }
}

static void run_print_usage(const ac_response *r)
{
    const char *finish = ac_response_finish_reason(r);

    fprintf(stderr, "[usage] input_tokens=%ld output_tokens=%ld finish_reason=%s "
                    "provider=", ac_response_input_tokens(r),
            ac_response_output_tokens(r), finish[0] ? finish : "none");
    cli_put_clean(stderr, ac_response_provider(r), strlen(ac_response_provider(r)));
    fputs(" model=", stderr);
    cli_put_clean(stderr, ac_response_model(r), strlen(ac_response_model(r)));
    fprintf(stderr, " latency_ms=%.0f\n", ac_response_latency_ms(r));
}

/* ac_response_to_json, with --schema the validated document as its
 * "content" (a JSON value, not the reply's text).  Malloc'd; NULL on no
 * memory. */
static char *run_response_json(const ac_response *r, const cli_opts *o)
{
    char *json = ac_response_to_json(r);
    if (!json || !o->schema_path || !ac_response_json(r))
        return json;
    json_object *obj = json_tokener_parse(json);
    ac_free(json);
    if (!obj)
        return NULL;
    json_object_object_add(obj, "content", json_object_get(ac_response_json(r)));
    json_object_object_del(obj, "json");
    const char *t = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
    char *out = t ? strdup(t) : NULL;
    json_object_put(obj);
    return out;
}

/*
 * The request is done: print what the mode asks for and turn its outcome
 * into the exit status.
 */
static int run_finish(run_state *st, ac_request *q)
{
    const cli_opts *o = st->o;
    const ac_response *r = ac_request_response(q);
    ac_error err;
    ac_status status;
    char *json;
    size_t i;

    memset(&err, 0, sizeof err);
    status = ac_request_status(q, &err);

    /* --schema: the validated document, and nothing else, on stdout. */
    if (o->schema_path && status == AC_OK && r && o->output == CLI_OUTPUT_TEXT) {
        const char *doc = ac_response_json_text(r);
        run_print_text(st, doc, doc ? strlen(doc) : 0);
    }
    /* --no-stream: nothing was printed yet. */
    if (!st->streamed && r && o->output == CLI_OUTPUT_TEXT) {
        run_print_reasoning(st, ac_response_reasoning(r), strlen(ac_response_reasoning(r)));
        if (!o->schema_path)
            run_print_text(st, ac_response_content(r), ac_response_content_len(r));
        for (i = 0; i < ac_response_tool_call_count(r); i++) {
            const char *args = ac_response_tool_call_arguments(r, i);
            run_print_tool_call(st, ac_response_tool_call_name(r, i), args,
                                args ? strlen(args) : 0,
                                ac_response_tool_call_truncated(r, i));
        }
    }
    run_close_reasoning(st);
    if (st->printed && st->last != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    if (o->verbose && r)
        run_print_usage(r);

    /* Ctrl-C: what arrived has been printed (or goes out as JSON). */
    if (run_interrupted) {
        if (o->output == CLI_OUTPUT_JSON && r && (json = run_response_json(r, o)) != NULL) {
            puts(json);
            free(json);
        }
        return CLI_EXIT_INTERRUPT;
    }
    if (status != AC_OK) {
        if (err.code == AC_OK)   /* no report: say at least what failed */
            err.code = status;
        cli_print_error(&err);
        return cli_exit_status(status);
    }
    if (o->output == CLI_OUTPUT_JSON) {
        if (!r || !(json = run_response_json(r, o))) {
            cli_errorf("out of memory formatting the response");
            return CLI_EXIT_REQUEST;
        }
        puts(json);
        free(json);
    }
    return CLI_EXIT_OK;
}

/* Wait until q is done, cancelling it once if Ctrl-C was pressed. */
static void run_wait(ac_request *q, int *cancelled)
{
    for (;;) {
        if (run_interrupted && !*cancelled) {
            ac_request_cancel(q);
            *cancelled = 1;
        }
        if (ac_request_wait(q, RUN_POLL_MS) != AC_ETIMEDOUT)
            break;
    }
}

/* ------------------------------------------------------------------ */
/* The two ways to run                                                 */
/* ------------------------------------------------------------------ */

static int run_stream(ac_llm *llm, const char *prompt, const ac_gen_params *gp,
                      run_state *st)
{
    ac_error err;
    ac_stream *s = ac_stream_open(llm, prompt, gp, &err);
    ac_request *q;
    int cancelled = 0, rc;

    if (!s) {
        cli_print_error(&err);
        return run_interrupted ? CLI_EXIT_INTERRUPT : cli_exit_status(err.code);
    }
    st->streamed = 1;
    q = ac_stream_request(s);
    for (;;) {
        const ac_chunk *c = NULL;
        ac_status next;

        if (run_interrupted && !cancelled) {
            ac_request_cancel(q);
            cancelled = 1;
        }
        /* AC_EAGAIN: nothing within the poll interval; look at the
         * interrupt flag and wait again. */
        next = ac_stream_next(s, &c, RUN_POLL_MS);
        if (next == AC_OK) {
            if (c)
                run_event(st, c);
            continue;
        }
        if (next == AC_EAGAIN)
            continue;
        break;   /* AC_EOF, or the request failed */
    }
    /* The status and response are final only once on_done has run. */
    run_wait(q, &cancelled);
    rc = run_finish(st, q);
    ac_stream_close(s);
    return rc;
}

static int run_whole(ac_llm *llm, const char *prompt, const ac_gen_params *gp,
                     run_state *st)
{
    ac_error err;
    ac_request *q = ac_agenerate(llm, prompt, gp, NULL, NULL, &err);
    int cancelled = 0, rc;

    if (!q) {
        cli_errorf("cannot start the request: %s", err.message);
        return CLI_EXIT_REQUEST;
    }
    run_wait(q, &cancelled);
    rc = run_finish(st, q);
    ac_request_free(q);
    return rc;
}

/* A whole file of at most RUN_FILE_MAX bytes, NUL-terminated (malloc'd),
 * or NULL after a message naming the option and the file. */
static char *run_read_file(const char *opt, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_errorf("%s %s: %s", opt, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(RUN_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, RUN_FILE_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        cli_errorf("out of memory");
    else if (bad)
        cli_errorf("%s %s: cannot read it", opt, path);
    else if (n > RUN_FILE_MAX)
        cli_errorf("%s %s: larger than %zu bytes", opt, path, RUN_FILE_MAX);
    if (!buf || bad || n > RUN_FILE_MAX) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int run_set_schema(ac_gen_params *gp, const char *path)
{
    char *text = run_read_file("--schema", path);
    if (!text)
        return CLI_EXIT_USAGE;
    ac_error err;
    ac_status st = ac_gen_params_set_json_schema(gp, NULL, text, &err);
    free(text);
    if (st != AC_OK) {
        cli_errorf("--schema %s: %s", path, st == AC_ENOMEM ? "out of memory" : err.message);
        return st == AC_ENOMEM ? CLI_EXIT_REQUEST : CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* A tool file: {"name": ..., "description": ..., "parameters": {...}}. */
static int run_add_tool(ac_gen_params *gp, const char *path)
{
    char *text = run_read_file("--tool", path);
    if (!text)
        return CLI_EXIT_USAGE;
    json_tokener *t = json_tokener_new();
    json_object *o = t ? json_tokener_parse_ex(t, text, (int)strlen(text)) : NULL;
    int whole = t && json_tokener_get_error(t) == json_tokener_success;
    json_tokener_free(t);
    free(text);
    json_object *name, *desc = NULL, *params = NULL;
    int rc = CLI_EXIT_USAGE;
    if (!o || !whole || !json_object_is_type(o, json_type_object))
        cli_errorf("--tool %s: not a JSON object {\"name\", \"description\", \"parameters\"}",
                   path);
    else if (!json_object_object_get_ex(o, "name", &name) ||
             !json_object_is_type(name, json_type_string) || !json_object_get_string_len(name))
        cli_errorf("--tool %s: needs \"name\", a non-empty string", path);
    else if (json_object_object_get_ex(o, "description", &desc) && desc &&
             !json_object_is_type(desc, json_type_string))
        cli_errorf("--tool %s: \"description\" must be a string", path);
    else if (json_object_object_get_ex(o, "parameters", &params) && params &&
             !json_object_is_type(params, json_type_object))
        cli_errorf("--tool %s: \"parameters\" must be a JSON Schema object", path);
    else {
        const char *pj = params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN)
                                : NULL;
        ac_status st = ac_gen_params_add_tool(gp, json_object_get_string(name),
                                              desc ? json_object_get_string(desc) : NULL, pj);
        if (st == AC_OK)
            rc = CLI_EXIT_OK;
        else
            cli_errorf("--tool %s: the library refused it (%s)", path, ac_strerror(st));
    }
    json_object_put(o);
    return rc;
}

int cli_run_prompt(ac_llm *llm, const char *prompt, const cli_opts *o)
{
    ac_gen_params *gp = ac_gen_params_new();
    run_state st;
    struct sigaction sa;
    sigset_t set;
    int rc = CLI_EXIT_REQUEST;

    memset(&st, 0, sizeof st);
    st.o = o;
    if (!gp) {
        cli_errorf("out of memory");
        goto done;
    }
    /* The values were range-checked when parsed; a refusal here means the
     * library's limits differ, which is still the user's value to fix. */
    if (o->system && ac_gen_params_set_system(gp, o->system) != AC_OK) {
        cli_errorf("--system: the library refused this system prompt");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (o->max_tokens > 0 && ac_gen_params_set_max_tokens(gp, o->max_tokens) != AC_OK) {
        cli_errorf("--max-tokens: the library refused %ld", o->max_tokens);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (o->has_temperature && ac_gen_params_set_temperature(gp, o->temperature) != AC_OK) {
        cli_errorf("--temperature: the library refused %g", o->temperature);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (o->timeout_ms >= 0 && ac_gen_params_set_timeouts(gp, -1, -1, -1, o->timeout_ms) != AC_OK) {
        cli_errorf("--timeout: the library refused %ld", o->timeout_ms);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (!o->stream && ac_gen_params_set_stream(gp, 0) != AC_OK) {
        cli_errorf("--no-stream: the library refused it");
        goto done;
    }
    if (o->schema_path && (rc = run_set_schema(gp, o->schema_path)) != CLI_EXIT_OK)
        goto done;
    for (int i = 0; i < o->n_tools; i++)
        if ((rc = run_add_tool(gp, o->tool_paths[i])) != CLI_EXIT_OK)
            goto done;
    for (int i = 0; i < o->n_attach; i++) {
        ac_error err;
        if (ac_gen_params_attach_file(gp, o->attach_paths[i], &err) != AC_OK) {
            cli_print_error(&err);
            rc = cli_exit_status(err.code);
            goto done;
        }
    }
    if (o->tool_mode >= 0 && ac_gen_params_set_tool_mode(gp, (ac_tool_mode)o->tool_mode) != AC_OK) {
        cli_errorf("--tool-mode: the library refused it");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    rc = CLI_EXIT_REQUEST;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = run_on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    /* A Ctrl-C pressed during start-up was held back by the block in
     * main(); it is delivered here and cancels at once. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    rc = o->stream ? run_stream(llm, prompt, gp, &st) : run_whole(llm, prompt, gp, &st);

done:
    ac_gen_params_free(gp);
    return rc;
}
