/*
 * embed.c -- embeddings: rank documents by their meaning's closeness to a
 * query.
 *
 * One ac_embed call embeds the query and every document together (the
 * library cuts a long list into batches of the backend's limit and sends
 * them at once); the vectors come back in the order of the texts.  Each
 * document is then scored by the cosine similarity of its vector with the
 * query's, and the documents are printed best first.  ac_aembed is the
 * same call without blocking (on_done, then ac_request_embeddings).
 *
 * Usage: ./embed [-c CONFIG] [-p PROVIDER] [-m MODEL] [QUERY [DOCUMENT...]]
 *   -m names the embedding model (default: the provider's embed_model,
 *   else its default_model).  Without documents, a few built-in ones.
 * Build: cc -o embed embed.c $(pkg-config --cflags --libs abstractcore) -lm
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] =
    "usage: embed [-c CONFIG] [-p PROVIDER] [-m MODEL] [QUERY [DOCUMENT...]]\n";

static const char *const builtin[] = {
    "To reset your password, open Settings, then Account, then Reset password.",
    "Our offices are closed on public holidays.",
    "Invoices are sent by email on the first day of each month.",
    "If you forgot your password, the login page has a link to set a new one.",
};

typedef struct ranked {
    const char *text;
    double      score;
} ranked;

static double cosine(const float *a, const float *b, size_t dim)
{
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    return na > 0 && nb > 0 ? dot / (sqrt(na) * sqrt(nb)) : 0;
}

static int best_first(const void *x, const void *y)
{
    double a = ((const ranked *)x)->score, b = ((const ranked *)y)->score;
    return a < b ? 1 : a > b ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *query = "How do I change my password?";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_embeddings *e = NULL;
    const char **texts = NULL;
    ranked *docs = NULL;
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
        query = argv[optind++];
    /* The texts: the query first, then the documents. */
    size_t n_docs = optind < argc ? (size_t)(argc - optind) : sizeof builtin / sizeof builtin[0];
    texts = malloc((n_docs + 1) * sizeof *texts);
    docs = malloc(n_docs * sizeof *docs);
    if (!texts || !docs) {
        fputs("embed: out of memory\n", stderr);
        goto done;
    }
    texts[0] = query;
    for (size_t i = 0; i < n_docs; i++)
        texts[i + 1] = optind < argc ? argv[optind + (int)i] : builtin[i];

    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    llm = ac_llm_create(core, provider, NULL, NULL, &err);
    if (!llm)
        goto fail;
    /* Zero-initialised params are the defaults; .dimensions would ask a
     * model that can (OpenAI's text-embedding-3) for shorter vectors. */
    ac_embed_params p = {.version = AC_EMBED_PARAMS_VERSION, .model = model};
    e = ac_embed(llm, texts, n_docs + 1, &p, &err);
    if (!e)
        goto fail;

    size_t dim = ac_embeddings_dimension(e);
    const float *q = ac_embeddings_vector(e, 0);
    for (size_t i = 0; i < n_docs; i++) {
        docs[i].text = texts[i + 1];
        docs[i].score = cosine(q, ac_embeddings_vector(e, i + 1), dim);
    }
    qsort(docs, n_docs, sizeof *docs, best_first);
    for (size_t i = 0; i < n_docs; i++)
        printf("%.3f  %s\n", docs[i].score, docs[i].text);
    fprintf(stderr, "[%s/%s: %zu vectors of %zu values, %zu request%s, %ld tokens]\n",
            ac_embeddings_provider(e), ac_embeddings_model(e), ac_embeddings_count(e), dim,
            ac_embeddings_batches(e), ac_embeddings_batches(e) == 1 ? "" : "s",
            ac_embeddings_input_tokens(e));
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "embed: %s%s%s: %s\n", err.provider, err.provider[0] ? ": " : "",
            ac_stage_name(err.stage), err.message);
done:
    ac_embeddings_free(e);            /* all three accept NULL */
    ac_llm_free(llm);
    ac_core_close(core);
    free(texts);
    free(docs);
    return rc;
}
