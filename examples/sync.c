/*
 * sync.c -- one prompt, one reply, blocking.
 *
 * The simplest use of libabstractcore: open a core, make an LLM, call
 * ac_generate, print the reply.  ac_generate works from any thread but the
 * engine thread (inside a callback it fails with AC_EBUSY).
 *
 * Usage: ./sync [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]
 *   Without -c the configuration is searched ($ABSTRACTCORE_CONFIG, then
 *   ~/.config/abstractcore/abstractcore.conf, then the system one); without
 *   -p the configuration's default_provider answers; without -m, that
 *   provider's default_model.
 * Build: cc -o sync sync.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: sync [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]\n";

/* One line a person can act on: "sync: mock: http: HTTP 401: ...". */
static void print_error(const ac_error *err)
{
    fprintf(stderr, "sync: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "Say hello in five words.";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_response *r = NULL;
    ac_error err;
    int opt, rc = 1;

    opterr = 0;                       /* our own one-line usage message */
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

    /* NULL config: search for one; NULL provider / model: the defaults. */
    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    llm = ac_llm_create(core, provider, model, NULL, &err);
    if (!llm)
        goto fail;
    r = ac_generate(llm, prompt, NULL, &err);
    if (!r)
        goto fail;

    /* The reply on stdout; what it cost on stderr, out of the way. */
    printf("%s\n", ac_response_content(r));
    fprintf(stderr, "[%s/%s: %ld tokens in, %ld out, finish %s, %.0f ms]\n",
            ac_response_provider(r), ac_response_model(r),
            ac_response_input_tokens(r), ac_response_output_tokens(r),
            ac_response_finish_reason(r), ac_response_latency_ms(r));
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_response_free(r);              /* all three accept NULL */
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
