/*
 * context.c -- a long conversation kept within a budget: a history built
 * by hand and sent whole, its size estimated, and a session that
 * compacts its older turns into a summary when it grows past a threshold.
 *
 * Usage: ./context [-c CONFIG] [-p PROVIDER] [-m MODEL] [-s SUMMARY_MODEL]
 *   (-c, -p, -m as in sync.c; -s: the model that writes summaries, on the
 *   same provider; the session's model by default)
 * Build: cc -o context context.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] =
    "usage: context [-c CONFIG] [-p PROVIDER] [-m MODEL] [-s SUMMARY_MODEL]\n";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "context: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

static const char *const questions[] = {
    "Plan a three-day trip to Oslo.",
    "What should I pack for it in November?",
    "Which museums are open on Mondays?",
    "Summarise the plan in one line.",
};

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL, *summary_model = NULL;
    ac_core *core = NULL;
    ac_llm *llm = NULL, *summariser = NULL;
    ac_messages *msgs = NULL, *hist = NULL;
    ac_session *s = NULL;
    ac_response *r = NULL;
    ac_error err;
    int opt, rc = 1;

    opterr = 0;
    while ((opt = getopt(argc, argv, "c:p:m:s:")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': provider = optarg; break;
        case 'm': model = optarg; break;
        case 's': summary_model = optarg; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    if (!(llm = ac_llm_create(core, provider, model, NULL, &err)))
        goto fail;
    if (summary_model &&
        !(summariser = ac_llm_create(core, provider, summary_model, NULL, &err)))
        goto fail;

    /* A history built by hand, sent whole: no session needed. */
    if (!(msgs = ac_messages_new()) ||
        ac_messages_add(msgs, AC_ROLE_SYSTEM, "You are a travel agent.") != AC_OK ||
        ac_messages_add(msgs, AC_ROLE_USER, "I like museums.") != AC_OK ||
        ac_messages_add(msgs, AC_ROLE_ASSISTANT, "Noted: museums.") != AC_OK ||
        ac_messages_add(msgs, AC_ROLE_USER, "Where should I go first?") != AC_OK) {
        fputs("context: out of memory\n", stderr);
        goto done;
    }
    printf("about %ld input tokens\n", ac_messages_estimate_tokens(msgs));
    if (!(r = ac_generate_messages(llm, msgs, NULL, &err)))
        goto fail;
    printf("> Where should I go first?\n%s\n", ac_response_content(r));
    ac_response_free(r);
    r = NULL;

    /* A session that compacts itself: before a turn whose input would be
     * over 60 tokens, the older turns become one summary; the newest turn
     * stays word for word. */
    if (!(s = ac_session_new(llm, "You are a travel agent."))) {
        fputs("context: out of memory\n", stderr);
        goto done;
    }
    ac_compact_opts compact = {.version = AC_COMPACT_OPTS_VERSION, .keep_turns = 1,
                               .llm = summariser, .threshold_tokens = 60};
    if (ac_session_set_compaction(s, &compact, &err) != AC_OK)
        goto fail;
    for (size_t i = 0; i < sizeof questions / sizeof questions[0]; i++) {
        if (!(r = ac_session_generate(s, questions[i], NULL, &err)))
            goto fail;
        printf("> %s\n%s\n", questions[i], ac_response_content(r));
        /* A compaction that failed does not fail the turn: it says so. */
        for (size_t w = 0; w < ac_response_warning_count(r); w++)
            fprintf(stderr, "context: warning: %s\n", ac_response_warning(r, w));
        ac_response_free(r);
        r = NULL;
    }

    /* What the history holds now: a summary, then the newest turn. */
    if (!(hist = ac_session_messages(s))) {
        fputs("context: out of memory\n", stderr);
        goto done;
    }
    for (size_t i = 0; i < ac_messages_count(hist); i++)
        printf("%zu %-9s%s %.60s\n", i, ac_role_name(ac_messages_role(hist, i)),
               ac_messages_flags(hist, i) & AC_MESSAGE_SUMMARY ? " summary" : "",
               ac_messages_text(hist, i));
    ac_messages_free(hist);
    if (!(hist = ac_session_archive(s))) {
        fputs("context: out of memory\n", stderr);
        goto done;
    }
    printf("%zu messages compacted\n", ac_messages_count(hist));
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_messages_free(hist);
    ac_messages_free(msgs);
    ac_session_free(s);
    ac_llm_free(summariser);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
