/*
 * gather.c -- several requests at once on one engine thread, then wait
 * for all of them, like asyncio.gather.
 *
 * The requests run concurrently (one socket each, no thread each);
 * ac_gather waits for all of them.  Each one's outcome is its own: one
 * failing does not stop the others.
 *
 * Usage: ./gather [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT...]
 *   (-c, -p, -m as in sync.c; without prompts it asks three questions)
 * Build: cc -o gather gather.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 when every request succeeded, 1 otherwise (one line on
 * stderr per failure), 2 for a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: gather [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT...]\n";

static const char *const default_prompts[] = {
    "Name a prime number.", "Name a colour.", "Name a planet."
};

/* "gather: 1: mock: http: ..." -- which request (if any), then what went
 * wrong, on one line. */
static void print_error(const char *what, const ac_error *err)
{
    fprintf(stderr, "gather: %s%s%s%s%s: %s\n", what, what[0] ? ": " : "",
            err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *const *prompts = default_prompts;
    size_t n = sizeof default_prompts / sizeof default_prompts[0];
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_request **reqs = NULL;
    ac_status st;
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
    if (optind < argc) {              /* the operands are the prompts */
        prompts = (const char *const *)(argv + optind);
        n = (size_t)(argc - optind);
    }

    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    if (!(llm = ac_llm_create(core, provider, model, NULL, &err)))
        goto fail;
    if (!(reqs = calloc(n, sizeof *reqs))) {
        fputs("gather: out of memory\n", stderr);
        goto done;
    }

    /* No callbacks: the requests run in the background and the results
     * are read after the wait.  A request that could not even start is
     * NULL, and ac_gather skips NULL entries. */
    for (size_t i = 0; i < n; i++) {
        reqs[i] = ac_agenerate(llm, prompts[i], NULL, NULL, NULL, &err);
        if (!reqs[i])
            fprintf(stderr, "gather: %zu: not started: %s\n", i, err.message);
    }

    /* AC_ETIMEDOUT if some are still running after 60 s: those report
     * AC_EPENDING below, and ac_request_free cancels them. */
    ac_gather(reqs, n, 60000);

    rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i]) {
            /* said above, when it could not start */
            rc = 1;
        } else if ((st = ac_request_status(reqs[i], &err)) == AC_OK) {
            printf("%zu: %s\n", i, ac_response_content(ac_request_response(reqs[i])));
        } else if (st == AC_EPENDING) {   /* the gather timed out */
            fprintf(stderr, "gather: %zu: still running after 60 s; cancelled\n", i);
            rc = 1;
        } else {
            char what[32];
            snprintf(what, sizeof what, "%zu", i);
            print_error(what, &err);
            rc = 1;
        }
    }
    goto done;
fail:
    print_error("", &err);
done:
    if (reqs)
        for (size_t i = 0; i < n; i++)
            ac_request_free(reqs[i]);     /* cancels any still running */
    free(reqs);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
