/*
 * cancel.c -- stop a long reply after half a second and keep what arrived.
 *
 * ac_request_cancel works from any thread (or from the request's own
 * callback), at any time: it closes the connection (local servers stop
 * generating), on_done fires once with AC_ECANCELED, and the text received
 * so far stays in the response.  A request that already finished is left
 * as it is.
 *
 * Usage: ./cancel [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]
 *   (-c, -p, -m as in sync.c)
 * Build: cc -o cancel cancel.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 when the reply finished in time or was cancelled, 1 on
 * any other failure (one line on stderr), 2 for a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: cancel [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]\n";

/* How long the reply may run before it is cancelled. */
#define CANCEL_AFTER_MS 500

static void print_error(const ac_error *err)
{
    fprintf(stderr, "cancel: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "Tell me a very long story.";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_gen_params *params = NULL;
    ac_request *q = NULL;
    const ac_response *r;
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
        fputs("cancel: out of memory\n", stderr);
        goto done;
    }
    /* Streamed, so the text accumulates as it arrives and a cancel keeps
     * it; a non-streamed reply has nothing until it is complete. */
    ac_gen_params_set_stream(params, 1);

    /* No callbacks: the request runs in the background. */
    q = ac_agenerate(llm, prompt, params, NULL, NULL, &err);
    if (!q)
        goto fail;
    if (ac_request_wait(q, CANCEL_AFTER_MS) == AC_ETIMEDOUT) {
        ac_request_cancel(q);
        ac_request_wait(q, -1);            /* returns once on_done has run */
    }

    r = ac_request_response(q);            /* partial after a cancel */
    switch (ac_request_status(q, &err)) {
    case AC_OK:
        printf("finished in time: %s\n", ac_response_content(r));
        break;
    case AC_ECANCELED:
        printf("cancelled after %zu bytes: %s\n",
               r ? ac_response_content_len(r) : 0, r ? ac_response_content(r) : "");
        break;
    default:
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
