/*
 * run.c -- one turn: send a prompt, print the reply, for `acore PROMPT`
 * and each turn of `acore chat`.
 *
 * Every prompt is a turn of a session (store.c keeps it for -c and
 * --session), read event by event (turn.c): text deltas go to stdout,
 * flushed as they arrive; reasoning (with -v) and tool calls go to
 * stderr.  -o json prints the whole response as one JSON object at the
 * end, -o jsonl one object per event and then the response (events.c).
 * --no-stream asks the backend for the whole reply at once; its events
 * then all arrive at the end.  While nothing has arrived yet, a spinner
 * turns on stderr when stderr is a terminal (tty.c).
 *
 * Ctrl-C: the SIGINT handler (tty.c) only sets a flag.  The loop waits
 * for events with a short timeout, and when it sees the flag cancels the
 * request, then keeps reading until the turn is done, so everything that
 * arrived is printed before acore exits with 130 (chat goes back to its
 * prompt).  For a single prompt the handler is one-shot (SA_RESETHAND): a
 * second Ctrl-C kills the program even if something hangs.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <json-c/json.h>
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

typedef struct run_state {
    const cli_opts *o;
    int  printed;         /* some reply text went to stdout */
    char last;            /* the last byte of it */
    int  reasoning_open;  /* a "[reasoning] ..." line on stderr is open */
    int  has_schema;      /* --schema: only the validated document is printed */
} run_state;

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
    if (!st->o->verbose || st->o->output != CLI_OUTPUT_TEXT || !text || len == 0)
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
    if (st->o->output == CLI_OUTPUT_JSONL) {
        cli_event_jsonl(stdout, c);
        fflush(stdout);
        return;
    }
    switch (c->type) {
    case AC_EVENT_TEXT:
        /* With a schema only the validated document is printed, at the
         * end: a reply that is asked again must not reach stdout. */
        if (!st->has_schema)
            run_print_text(st, c->text, c->len);
        break;
    case AC_EVENT_RESTART:
        if (st->o->verbose && c->error && st->o->output == CLI_OUTPUT_TEXT) {
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

/* The response as -o json prints it, or as -o jsonl's last line
 * ({"type":"response","response":{...}}).  0, or -1 on no memory. */
static int run_print_response(const run_state *st, const ac_response *r)
{
    struct json_object *obj = cli_response_object(r, st->has_schema), *line = obj;

    if (!obj)
        return -1;
    if (st->o->output == CLI_OUTPUT_JSONL) {
        line = json_object_new_object();
        if (!line) {
            json_object_put(obj);
            return -1;
        }
        json_object_object_add(line, "type", json_object_new_string("response"));
        json_object_object_add(line, "response", obj);
    }
    cli_json_line(stdout, line);
    json_object_put(line);
    return 0;
}

/*
 * The turn is done: print what the mode asks for and turn its outcome
 * into the exit status.
 */
static int run_finish(run_state *st, ac_request *q, int interrupted)
{
    const cli_opts *o = st->o;
    const ac_response *r = ac_request_response(q);
    ac_error err;
    ac_status status;

    memset(&err, 0, sizeof err);
    status = ac_request_status(q, &err);

    /* --schema: the validated document, and nothing else, on stdout. */
    if (st->has_schema && status == AC_OK && r && o->output == CLI_OUTPUT_TEXT) {
        const char *doc = ac_response_json_text(r);
        run_print_text(st, doc, doc ? strlen(doc) : 0);
    }
    run_close_reasoning(st);
    if (st->printed && st->last != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    if (o->verbose && r)
        run_print_usage(r);

    /* Ctrl-C: what arrived has been printed (or goes out as JSON). */
    if (interrupted) {
        if (o->output != CLI_OUTPUT_TEXT && r)
            run_print_response(st, r);
        return CLI_EXIT_INTERRUPT;
    }
    if (status != AC_OK) {
        if (err.code == AC_OK)   /* no report: say at least what failed */
            err.code = status;
        if (o->output == CLI_OUTPUT_JSONL && r)
            run_print_response(st, r);
        cli_print_error(&err);
        return cli_exit_status(status);
    }
    if (o->output != CLI_OUTPUT_TEXT && (!r || run_print_response(st, r) != 0)) {
        cli_errorf("out of memory formatting the response");
        return CLI_EXIT_REQUEST;
    }
    return CLI_EXIT_OK;
}

int cli_run_turn(ac_session *s, const char *prompt, const ac_gen_params *gp,
                 const cli_opts *o, int mode)
{
    run_state st;
    cli_spinner spin;
    cli_turn *t;
    ac_error err;
    int cancelled = 0, rc;
    char label[160];

    memset(&st, 0, sizeof st);
    st.o = o;
    st.has_schema = o->schema_path != NULL;
    cli_interrupted = 0;
    cli_sigint_catch(mode == CLI_TURN_ONESHOT);

    t = cli_turn_start(s, prompt, gp, &err);
    if (!t) {
        cli_print_error(&err);
        return cli_interrupted ? CLI_EXIT_INTERRUPT : cli_exit_status(err.code);
    }
    snprintf(label, sizeof label, "waiting for the reply (Ctrl-C cancels)");
    cli_spinner_start(&spin, label);
    for (;;) {
        const ac_chunk *c = NULL;
        ac_status next;

        if (cli_interrupted && !cancelled) {
            ac_request_cancel(cli_turn_request(t));
            cancelled = 1;
        }
        /* AC_EAGAIN: nothing within the poll interval; look at the
         * interrupt flag, turn the spinner, and wait again. */
        next = cli_turn_next(t, &c, RUN_POLL_MS);
        if (next == AC_OK) {
            cli_spinner_stop(&spin);
            run_event(&st, c);
            continue;
        }
        if (next == AC_EAGAIN) {
            cli_spinner_tick(&spin);
            continue;
        }
        break;   /* AC_EOF: the turn is done and every event was read */
    }
    cli_spinner_stop(&spin);
    rc = run_finish(&st, cli_turn_request(t), cancelled);
    cli_turn_close(t);
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

int cli_gen_params(const cli_opts *o, ac_gen_params **out)
{
    ac_gen_params *gp = ac_gen_params_new();
    int rc = CLI_EXIT_USAGE;

    if (!gp) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    /* The values were range-checked when parsed; a refusal here means the
     * library's limits differ, which is still the user's value to fix. */
    if (o->max_tokens > 0 && ac_gen_params_set_max_tokens(gp, o->max_tokens) != AC_OK) {
        cli_errorf("--max-tokens: the library refused %ld", o->max_tokens);
        goto fail;
    }
    if (o->has_temperature && ac_gen_params_set_temperature(gp, o->temperature) != AC_OK) {
        cli_errorf("--temperature: the library refused %g", o->temperature);
        goto fail;
    }
    if (o->timeout_ms >= 0 && ac_gen_params_set_timeouts(gp, -1, -1, -1, o->timeout_ms) != AC_OK) {
        cli_errorf("--timeout: the library refused %ld", o->timeout_ms);
        goto fail;
    }
    if (!o->stream && ac_gen_params_set_stream(gp, 0) != AC_OK) {
        cli_errorf("--no-stream: the library refused it");
        rc = CLI_EXIT_REQUEST;
        goto fail;
    }
    if (o->schema_path && (rc = run_set_schema(gp, o->schema_path)) != CLI_EXIT_OK)
        goto fail;
    for (int i = 0; i < o->n_tools; i++)
        if ((rc = run_add_tool(gp, o->tool_paths[i])) != CLI_EXIT_OK)
            goto fail;
    for (int i = 0; i < o->n_attach; i++) {
        ac_error err;
        if (ac_gen_params_attach_file(gp, o->attach_paths[i], &err) != AC_OK) {
            cli_print_error(&err);
            rc = cli_exit_status(err.code);
            goto fail;
        }
    }
    if (o->tool_mode >= 0 && ac_gen_params_set_tool_mode(gp, (ac_tool_mode)o->tool_mode) != AC_OK) {
        cli_errorf("--tool-mode: the library refused it");
        rc = CLI_EXIT_USAGE;
        goto fail;
    }
    *out = gp;
    return CLI_EXIT_OK;
fail:
    ac_gen_params_free(gp);
    return rc;
}

int cli_run_prompt(cli_ctx *ctx, const char *prompt)
{
    ac_gen_params *gp = NULL;
    ac_session *s = NULL;
    int rc;

    rc = cli_session_open(ctx->llm, ctx->o, &s);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_gen_params(ctx->o, &gp);
    if (rc == CLI_EXIT_OK)
        rc = cli_run_turn(s, prompt, gp, ctx->o, CLI_TURN_ONESHOT);
    if (rc == CLI_EXIT_OK)
        rc = cli_session_keep(s, ctx->o);
    ac_gen_params_free(gp);
    ac_session_free(s);
    return rc;
}
