/*
 * async.c -- start a request, print its text from a callback as it
 * streams, and wait for it to finish.
 *
 * ac_agenerate returns at once.  With an on_event callback the reply
 * streams; the callbacks run on the library's engine thread, so they only
 * copy data out and never block.  The main thread waits here, but it could
 * run an event loop, a UI, or more requests instead.
 *
 * Usage: ./async [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]
 *   (-c, -p, -m as in sync.c: without them, the configuration search and
 *   its default provider and model)
 * Build: cc -o async async.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: async [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]\n";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "async: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

/* Runs on the engine thread: must not block, must not call ac_generate,
 * ac_request_wait or other blocking functions (they return AC_EBUSY). */
static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    (void)user;
    if (c->type == AC_EVENT_TEXT) {
        fwrite(c->text, 1, c->len, stdout);   /* c is valid only during the call */
        fflush(stdout);
    } else if (c->type == AC_EVENT_USAGE) {
        fprintf(stderr, "[usage: %ld in, %ld out]\n", c->input_tokens, c->output_tokens);
    }
}

/* Runs exactly once, on the engine thread, whatever the outcome.  The
 * main thread reads *user only after ac_request_wait said the request is
 * done, which is after this returned. */
static void on_done(ac_request *q, ac_status status, void *user)
{
    (void)q;
    *(ac_status *)user = status;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "Write a haiku about sockets.";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_gen_params *params = NULL;
    ac_request *q = NULL;
    ac_status final = AC_EPENDING;
    ac_callbacks cb = { .version = AC_CALLBACKS_VERSION,
                        .on_event = on_event, .on_done = on_done };
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
    if (!(params = ac_gen_params_new())) {
        fputs("async: out of memory\n", stderr);
        goto done;
    }
    /* Constant values in range: these setters cannot fail here. */
    ac_gen_params_set_max_tokens(params, 200);
    ac_gen_params_set_temperature(params, 0.7);

    /* Returns at once; params and cb are copied, so they could be freed now. */
    q = ac_agenerate(llm, prompt, params, &cb, &final, &err);
    if (!q) /* err says why (a prompt that is not UTF-8, no memory, the
             * core closed); no callback will fire. */
        goto fail;

    /* The main thread is free to do other work; here it just waits. */
    if (ac_request_wait(q, 60000) == AC_ETIMEDOUT) {
        ac_request_cancel(q);         /* on_done still fires, with AC_ECANCELED */
        ac_request_wait(q, -1);
    }
    putchar('\n');
    /* `final` holds what on_done saw; ac_request_status says the same and
     * fills in the whole report. */
    if (final != AC_OK) {
        ac_request_status(q, &err);
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_request_free(q);
    ac_gen_params_free(params);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
