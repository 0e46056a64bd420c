/*
 * vision.c -- ask about images and documents.
 *
 * Each FILE is attached to the question with ac_gen_params_attach_file:
 * an image (PNG, JPEG, WebP, GIF) goes to the model as an image, resized
 * to what the provider takes when it is too large; a document (PDF, text,
 * Markdown, CSV, TSV, JSON) as its text under a line "[file: NAME]".  The
 * type comes from the file's content, not its name.  A file that cannot
 * be read or is neither fails here, before anything is sent; so does an
 * image for a provider that takes none.
 *
 * Usage: ./vision [-c CONFIG] [-p PROVIDER] [-m MODEL] [-q QUESTION] FILE...
 * Build: cc -o vision vision.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] =
    "usage: vision [-c CONFIG] [-p PROVIDER] [-m MODEL] [-q QUESTION] FILE...\n";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "vision: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *question = "What do these show? Answer in two sentences.";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_gen_params *params = NULL;
    ac_response *r = NULL;
    ac_error err;
    int opt, rc = 1;

    opterr = 0;
    while ((opt = getopt(argc, argv, "c:p:m:q:")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': provider = optarg; break;
        case 'm': model = optarg; break;
        case 'q': question = optarg; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind == argc) {
        fputs(usage, stderr);
        return 2;
    }

    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    llm = ac_llm_create(core, provider, model, NULL, &err);
    if (!llm)
        goto fail;
    params = ac_gen_params_new();
    if (!params) {
        fputs("vision: out of memory\n", stderr);
        goto done;
    }
    /* Each file is read and its type told now; the parameter set keeps
     * what will be sent. */
    for (int i = optind; i < argc; i++)
        if (ac_gen_params_attach_file(params, argv[i], &err) != AC_OK)
            goto fail;

    /* Images are fitted to this provider's limits as the request is made. */
    r = ac_generate(llm, question, params, &err);
    if (!r)
        goto fail;
    printf("%s\n", ac_response_content(r));
    fprintf(stderr, "[%zu attachment(s) to %s/%s: %ld tokens in]\n",
            ac_gen_params_attachment_count(params), ac_response_provider(r),
            ac_response_model(r), ac_response_input_tokens(r));
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_response_free(r);
    ac_gen_params_free(params);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
