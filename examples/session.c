/*
 * session.c -- a conversation whose history lives in the core, saved to a
 * file and loaded back.
 *
 * Each turn sends the whole history, in the backend's own format.  A saved
 * session is plain JSON without any API key, and can be loaded later, even
 * bound to another provider or model.
 *
 * Usage: ./session [-c CONFIG] [-p PROVIDER] [-m MODEL] [FILE]
 *   (-c, -p, -m as in sync.c; FILE is where the session is saved,
 *   chat.json by default)
 * Build: cc -o session session.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: session [-c CONFIG] [-p PROVIDER] [-m MODEL] [FILE]\n";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "session: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

/* One turn: the prompt and the reply join the history on success. */
static int say(ac_session *s, const char *prompt, ac_error *err)
{
    ac_response *r = ac_session_generate(s, prompt, NULL, err);
    if (!r)
        return -1;                    /* the history is left as it was */
    printf("> %s\n%s\n", prompt, ac_response_content(r));
    ac_response_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *path = "chat.json";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_session *s = NULL, *again = NULL;
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
        path = argv[optind++];
    if (optind < argc) {
        fputs(usage, stderr);
        return 2;
    }

    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    if (!(llm = ac_llm_create(core, provider, model, NULL, &err)))
        goto fail;
    if (!(s = ac_session_new(llm, "You are terse."))) {
        fputs("session: out of memory\n", stderr);
        goto done;
    }
    if (say(s, "My name is Alice.", &err) != 0)
        goto fail;

    /* Atomic: written to a temporary file, then renamed.  No API key. */
    if (ac_session_save(s, path, &err) != AC_OK)
        goto fail;
    /* A new session from the file: the first turn is in its history, so
     * the model can answer the next question. */
    if (!(again = ac_session_load(llm, path, &err)))
        goto fail;
    if (say(again, "What is my name?", &err) != 0)
        goto fail;

    printf("history of %s:\n", path);
    for (size_t i = 0; i < ac_session_message_count(again); i++) {
        char *text = ac_session_message_content(again, i);   /* a copy, or NULL */
        if (!text) {
            fputs("session: out of memory\n", stderr);
            goto done;
        }
        printf("%zu %-9s %s\n", i, ac_role_name(ac_session_message_role(again, i)), text);
        ac_free(text);
    }
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_session_free(again);
    ac_session_free(s);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
