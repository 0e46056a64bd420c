/*
 * check_embed.c -- embeddings (ABI 2.1) in both phases.
 *
 * Phase 1 (embed_unit), on the fake host: build_embed_request for a batch
 * of three texts with every allocation failing in turn (each failure
 * reported as AC_ENOMEM, nothing left allocated); the request sent to the
 * mock, whose embeddings answer every protocol it knows; then
 * parse_embed_response on that reply the same way, and its vectors must
 * be the mock's for those texts, at their places.  An in-process plugin
 * runs run_embed instead, once (it may load a model it keeps until fini),
 * then under the same allocation failures.
 *
 * Phase 2 (the "embeddings" scenario), through the real core: one batch
 * past the plugin's limit (embed_max_batch) is cut in two, every vector
 * comes back in input order, of one dimension, equal to the mock's; a
 * call cut into three small batches (the provider's embed_max_batch)
 * sends them at once.
 *
 * A plugin without embeddings skips both.
 */
#include "check.h"

#include <abstractcore/testkit.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAILURES 4000
#define EMBED_DIM    12
#define EMBED_SEED   5
/* The checker's own bound on the texts of the split scene. */
#define SPLIT_MAX    4096

static const char *const unit_texts[] = { "first text to embed", "second one",
                                          "the third \xc3\xa9t\xc3\xa9" };

/* ---- phase 1 ---- */

static size_t grab(char *p, size_t size, size_t n, void *ud)
{
    check_str_add(ud, p, size * n);
    return size * n;
}

/* POST body to url: the reply in out.  The HTTP status, or -1 (why set). */
static long post(const char *url, const char *body, size_t len, check_str *out,
                 const char **why)
{
    static char msg[CURL_ERROR_SIZE + 64];
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    char cerr[CURL_ERROR_SIZE] = "";
    long status = -1;
    if (h && hd) {
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        if (curl_easy_perform(h) == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        } else {
            snprintf(msg, sizeof msg, "sending the embeddings request to the mock: %s", cerr);
            *why = msg;
        }
    } else {
        *why = "out of memory";
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return status;
}

/* The fake's vectors are the mock's for the unit texts. */
static verdict unit_vectors(ac_fake *f, size_t dim_want)
{
    size_t n = sizeof unit_texts / sizeof unit_texts[0];
    if (ac_fake_embed_count(f) != n)
        return check_fail("%zu vectors for %zu texts", ac_fake_embed_count(f), n);
    if (dim_want && ac_fake_embed_dim(f) != dim_want)
        return check_fail("vectors of %zu values; the mock sent %zu", ac_fake_embed_dim(f),
                          dim_want);
    for (size_t i = 0; dim_want && i < n; i++) {
        float want[EMBED_DIM];
        mock_embedding(unit_texts[i], strlen(unit_texts[i]), EMBED_SEED, EMBED_DIM, want);
        const float *got = ac_fake_embed_vector(f, i);
        if (!got || memcmp(got, want, sizeof want) != 0)
            return check_fail("vector %zu is not the one the server sent for text %zu "
                              "(out of order, or misread)", i, i);
    }
    return NULL;
}

/* fn (build, parse or run) with every allocation failing in turn. */
typedef ac_status (*embed_step)(const ac_provider *d, void *state, ac_fake *f, const void *arg);

static verdict failing(const ac_provider *d, void *state, ac_fake *f, embed_step fn,
                       const void *arg, const char *what)
{
    long base = ac_fake_allocations();
    for (long n = 0; n < MAX_FAILURES; n++) {
        ac_fake_reset(f);
        ac_fake_fail_after(f, n);
        ac_status st = fn(d, state, f, arg);
        ac_fake_fail_after(f, -1);
        if (ac_fake_allocations() != base)
            return check_fail("%s %s left %ld blocks allocated", what,
                              st == AC_OK ? "succeeding" : "failing",
                              ac_fake_allocations() - base);
        if (st == AC_OK)
            return NULL;
        if (ac_fake_error(f)->code == AC_OK)
            return check_fail("%s failed (%s) without host->fail", what, ac_strerror(st));
        if (ac_fake_error(f)->code != AC_ENOMEM)
            return check_fail("%s%s said %s (%s)", what, n ? " with an allocation failing" : "",
                              ac_strerror(ac_fake_error(f)->code), ac_fake_error(f)->message);
    }
    return check_fail("%s did not succeed after %d allocation failures", what, MAX_FAILURES);
}

static ac_status do_build(const ac_provider *d, void *state, ac_fake *f, const void *arg)
{
    (void)arg;
    return d->build_embed_request(state, ac_fake_embed_request(f), ac_fake_http(f),
                                  ac_fake_call(f));
}

static ac_status do_parse(const ac_provider *d, void *state, ac_fake *f, const void *arg)
{
    const check_str *reply = arg;
    return d->parse_embed_response(state, reply->p ? reply->p : "", reply->len,
                                   ac_fake_embed_sink(f), ac_fake_call(f));
}

static ac_status do_run(const ac_provider *d, void *state, ac_fake *f, const void *arg)
{
    (void)arg;
    return d->run_embed(state, ac_fake_embed_request(f), ac_fake_embed_sink(f), ac_fake_call(f));
}

/* The HTTP round: build against the mock, fetch its reply, parse it. */
static verdict unit_http(checker *c, const ac_provider *d, ac_fake *f, void *state,
                         mock_server *m)
{
    verdict v = failing(d, state, f, do_build, NULL, "build_embed_request");
    if (v)
        return v;
    if (ac_fake_framing(f) != AC_FRAMING_NONE)
        return check_fail("build_embed_request set framing %d: embeddings never stream",
                          (int)ac_fake_framing(f));
    check_str url = {0}, body = {0}, reply = {0};
    check_str_addf(&url, "%s", ac_fake_url(f));
    size_t n;
    const char *b = ac_fake_body(f, &n);
    check_str_add(&body, b, n);
    const char *why = NULL;
    long status = post(url.p, body.p ? body.p : "", body.len, &reply, &why);
    if (status < 0) {
        v = check_fail("%s", why);
    } else if (status == 404 || status == 405) {
        v = CHECK_SKIP "the mock does not speak this embeddings API";
    } else if (status != 200) {
        v = check_fail("the mock answered the embeddings request with HTTP %ld: %.200s", status,
                       reply.p ? reply.p : "");
    } else {
        snprintf(c->embed_path, sizeof c->embed_path, "%s",
                 url.p + strlen(mock_server_url(m)));
        c->embed_mock = 1;
        v = failing(d, state, f, do_parse, &reply, "parse_embed_response");
        if (!v)
            v = unit_vectors(f, EMBED_DIM);
    }
    check_str_free(&url);
    check_str_free(&body);
    check_str_free(&reply);
    return v;
}

verdict check_unit_embed(checker *c, const ac_provider *d)
{
    if (!c->can_embed)
        return CHECK_SKIP "no embeddings (build_embed_request and parse_embed_response, or "
                          "run_embed)";
    char errbuf[256];
    char script[128];
    snprintf(script, sizeof script, "embedding_dim = %d; embedding_seed = %d;", EMBED_DIM,
             EMBED_SEED);
    mock_server *m = mock_server_start(script, 0, errbuf, sizeof errbuf);
    if (!m)
        return check_fail("the mock: %s", errbuf);
    char base[256];
    snprintf(base, sizeof base, "%s%s", mock_server_url(m), c->base_suffix);
    ac_fake *f = check_fake_new(c, base);
    verdict v = NULL;
    void *state = NULL;
    if (!f) {
        v = check_fail("out of memory");
        goto done;
    }
    ac_fake_embed_request(f)->model = c->model;
    for (size_t i = 0; i < sizeof unit_texts / sizeof unit_texts[0]; i++)
        if (ac_fake_add_embed_text(f, unit_texts[i]) < 0) {
            v = check_fail("out of memory");
            goto done;
        }
    if (d->init(ac_fake_settings(f), &state, ac_fake_call(f)) != AC_OK) {
        v = check_fail("init: %s", ac_fake_error(f)->message);
        goto done;
    }
    c->embed_max = d->embed_max_batch ? d->embed_max_batch(state) : 0;
    if (c->embed_local) {
        /* One run first: an in-process plugin may load its model on first
         * use and keep it until fini (not a leak of the call's). */
        ac_fake_reset(f);
        if (do_run(d, state, f, NULL) != AC_OK)
            v = check_fail("run_embed: %s (%s)", ac_fake_error(f)->message,
                           ac_strerror(ac_fake_error(f)->code));
        if (!v)
            v = failing(d, state, f, do_run, NULL, "run_embed");
        if (!v)
            v = unit_vectors(f, 0);
    } else {
        v = unit_http(c, d, f, state, m);
    }
    if (d->fini)
        d->fini(state);
done:
    ac_fake_free(f);
    mock_server_stop(m);
    return v;
}

/* ---- phase 2 ---- */

static char **texts_new(size_t n)
{
    char **t = calloc(n, sizeof *t);
    for (size_t i = 0; t && i < n; i++) {
        t[i] = malloc(48);
        if (t[i])
            snprintf(t[i], 48, "checker text %zu", i);
    }
    return t;
}

static void texts_free(char **t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i]);
    free(t);
}

/* n texts through the core; the rules every call must keep. */
static verdict embed_call(checker *c, const char *script, const char *opts, size_t n,
                          size_t want_batches, int want_overlap)
{
    scene s;
    memset(&s, 0, sizeof s);
    check_str_addf(&s.script, "%s", script);
    run r;
    const char *why = NULL;
    if (check_run_start(c, &r, &s, opts, &why) < 0) {
        scene_free(&s);
        return check_fail("%s", why);
    }
    char **texts = texts_new(n);
    if (texts && c->embed_local && texts[n - 1] && texts[0])
        snprintf(texts[n - 1], 48, "%s", texts[0]);
    verdict v = NULL;
    ac_error err;
    ac_embeddings *e = texts ? ac_embed(r.llm, (const char *const *)texts, n, NULL, &err)
                             : NULL;
    if (!e) {
        /* A key in the message is the worse failure: looked for first. */
        v = texts ? check_no_secret(c, "the error message", err.message, strlen(err.message))
                  : NULL;
        if (!v)
            v = texts ? check_fail("ac_embed of %zu texts: %s", n, err.message)
                      : check_fail("out of memory");
    } else if (ac_embeddings_count(e) != n) {
        v = check_fail("%zu vectors for %zu texts", ac_embeddings_count(e), n);
    } else if (c->embed_local) {
        /* Not the mock's vectors: the same text twice must give the same
         * vector, wherever it stands (texts 0 and n-1 are equal below). */
        size_t d = ac_embeddings_dimension(e);
        if (!d || memcmp(ac_embeddings_vector(e, 0), ac_embeddings_vector(e, n - 1),
                         d * sizeof(float)) != 0)
            v = check_fail("the same text gave two different vectors (out of order?)");
    } else if (ac_embeddings_dimension(e) != EMBED_DIM) {
        v = check_fail("vectors of %zu values; the mock sent %d", ac_embeddings_dimension(e),
                       EMBED_DIM);
    } else {
        for (size_t i = 0; i < n && !v; i++) {
            float want[EMBED_DIM];
            mock_embedding(texts[i], strlen(texts[i]), EMBED_SEED, EMBED_DIM, want);
            if (memcmp(ac_embeddings_vector(e, i), want, sizeof want) != 0)
                v = check_fail("vector %zu is not the one for text %zu: out of order", i, i);
        }
    }
    if (!v && e && want_batches && ac_embeddings_batches(e) != want_batches)
        v = check_fail("%zu texts took %zu requests; %zu expected", n, ac_embeddings_batches(e),
                       want_batches);
    if (!v && !c->embed_local && want_overlap && mock_server_peak_inflight(r.mock) < 2)
        v = check_fail("the batches went one after another, not at once");
    ac_embeddings_free(e);
    texts_free(texts, n);
    check_run_stop(&r);
    scene_free(&s);
    return v;
}

verdict check_embed_scenario(checker *c)
{
    if (!c->can_embed)
        return CHECK_SKIP "no embeddings";
    if (!c->embed_local && !c->embed_mock)
        return CHECK_SKIP "the mock does not speak the plugin's embeddings API";
    size_t limit = c->embed_max ? c->embed_max : 256;
    char script[160];
    /* One past the plugin's own limit: the mock refuses a larger batch,
     * as the real server does, so the cut is the plugin's number. */
    if (limit < SPLIT_MAX) {
        snprintf(script, sizeof script, "embedding_dim = %d; embedding_seed = %d; "
                 "max_batch = %zu;", EMBED_DIM, EMBED_SEED, limit);
        verdict v = embed_call(c, script, NULL, limit + 1, 2, 0);
        if (v)
            return v;
    }
    /* Small batches, sent at once while the mock holds each a while. */
    snprintf(script, sizeof script, "embedding_dim = %d; embedding_seed = %d; max_batch = 3; "
             "first_byte_delay_ms = 100;", EMBED_DIM, EMBED_SEED);
    return embed_call(c, script, "embed_max_batch=3 embed_parallel=4", 7, 3, 1);
}
