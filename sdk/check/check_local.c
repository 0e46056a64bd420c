/*
 * check_local.c -- phase 2 for an in-process plugin (run_local): no HTTP
 * and no mock, so the scenarios are what a caller of a local model sees,
 * on the model the instance is given (--model, and the plugin's settings
 * with --set):
 *
 *   text         one request, whole: text, one finish, usage, on_done once
 *   stream       the same streamed: the text events are the reply, and a
 *                reply of several tokens comes in several events
 *   cancel       a long generation cancelled after its first text event:
 *                AC_ECANCELED within 5 s, and the next request is served
 *                (the cancelled run let go of the model)
 *   concurrent   16 greedy requests at once: all done, each the same text
 *   models       with list_models: the list holds the model asked for
 *
 * Every request is greedy (temperature 0) and short (max_tokens 16, but
 * the cancel), so a real model checks in seconds.
 */
#include "check.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOCAL_CONCURRENT 16
#define LOCAL_MAX_TOKENS 16

static ac_llm *local_llm(checker *c, const char **why)
{
    static char msg[600];
    ac_error err;
    ac_llm *l = ac_llm_create(c->core, "check", c->model, NULL, &err);
    if (!l) {
        snprintf(msg, sizeof msg, "ac_llm_create: %s", err.message);
        *why = msg;
    }
    return l;
}

static ac_gen_params *local_params(int stream, long max_tokens)
{
    ac_gen_params *p = ac_gen_params_new();
    if (p && (ac_gen_params_set_stream(p, stream) != AC_OK ||
              ac_gen_params_set_temperature(p, 0) != AC_OK ||
              ac_gen_params_set_max_tokens(p, max_tokens) != AC_OK)) {
        ac_gen_params_free(p);
        p = NULL;
    }
    return p;
}

/* Start one request recorded in w.  0, or -1 with *why. */
static int local_start(ac_llm *l, int stream, long max_tokens, seen *w, const char **why)
{
    seen_init(w);
    ac_gen_params *p = local_params(stream, max_tokens);
    if (!p) {
        *why = "out of memory";
        return -1;
    }
    static char msg[600];
    ac_error err;
    w->q = ac_agenerate(l, "Say hello.", p, &check_recorder, w, &err);
    ac_gen_params_free(p);
    if (!w->q) {
        snprintf(msg, sizeof msg, "ac_agenerate: %s", err.message);
        *why = msg;
        return -1;
    }
    return 0;
}

/* What every finished local reply must show. */
static verdict local_rules(const seen *w, int stream)
{
    if (w->n_done != 1)
        return check_fail("on_done ran %d times, not once", w->n_done);
    if (w->order_bad)
        return check_fail("an event came after the finish or the error");
    if (w->status != AC_OK)
        return check_fail("failed: %s (%s)", ac_strerror(w->status), w->err.message);
    if (w->n_finish != 1)
        return check_fail("%d finish events, not 1", w->n_finish);
    if (strcmp(w->finish, "stop") != 0 && strcmp(w->finish, "length") != 0)
        return check_fail("finish reason \"%s\", not stop or length", w->finish);
    const char *content = w->resp ? ac_response_content(w->resp) : NULL;
    if (!content || strcmp(content, w->text.p ? w->text.p : "") != 0)
        return check_fail("the text events gave \"%s\", the response holds \"%s\"",
                          w->text.p ? w->text.p : "", content ? content : "(none)");
    if (w->n_usage != 1 || w->in <= 0 || w->out < 0)
        return check_fail("usage %s (%ld in, %ld out): a local model knows its token counts",
                          w->n_usage ? "reported" : "not reported", w->in, w->out);
    if (w->out > LOCAL_MAX_TOKENS)
        return check_fail("%ld output tokens, but max_tokens was %d", w->out,
                          LOCAL_MAX_TOKENS);
    if (!strcmp(w->finish, "length") && w->out != LOCAL_MAX_TOKENS)
        return check_fail("finish \"length\" after %ld tokens, max_tokens was %d", w->out,
                          LOCAL_MAX_TOKENS);
    if (stream && w->out >= 2 && w->n_text < 2)
        return check_fail("%ld tokens came in %d text event(s): text must be emitted as it "
                          "comes", w->out, w->n_text);
    return NULL;
}

static verdict one_local(checker *c, int stream)
{
    const char *why = NULL;
    ac_llm *l = local_llm(c, &why);
    if (!l)
        return check_fail("%s", why);
    seen w;
    verdict v = NULL;
    if (local_start(l, stream, LOCAL_MAX_TOKENS, &w, &why) < 0)
        v = check_fail("%s", why);
    else if (ac_request_wait(w.q, 60000) != AC_OK)
        v = check_fail("no outcome within 60 s");
    else
        v = local_rules(&w, stream);
    if (w.q)
        ac_request_cancel(w.q), ac_request_wait(w.q, -1);
    seen_free(&w);
    ac_llm_free(l);
    return v;
}

static verdict local_text(checker *c) { return one_local(c, 0); }
static verdict local_stream(checker *c) { return one_local(c, 1); }

static int wait_text(seen *w, int ms)
{
    struct timespec step = { 0, 2 * 1000 * 1000 };
    for (int waited = 0; waited < ms; waited += 2) {
        if (atomic_load((_Atomic int *)&w->first_text) || w->n_done)
            return 1;
        nanosleep(&step, NULL);
    }
    return atomic_load((_Atomic int *)&w->first_text);
}

static verdict local_cancel(checker *c)
{
    const char *why = NULL;
    ac_llm *l = local_llm(c, &why);
    if (!l)
        return check_fail("%s", why);
    seen w;
    verdict v = NULL;
    /* As long as the model will go: the context ends it if nothing else. */
    if (local_start(l, 1, 1000000, &w, &why) < 0) {
        v = check_fail("%s", why);
    } else if (!wait_text(&w, 30000)) {
        v = check_fail("no text event within 30 s");
    } else if (w.n_done) {
        v = CHECK_SKIP "the model ended its reply before the cancel";
    } else {
        ac_request_cancel(w.q);
        if (ac_request_wait(w.q, 5000) != AC_OK)
            v = check_fail("cancelled, but not done within 5 s");
        else if (w.status != AC_ECANCELED)
            v = check_fail("cancelled, but it ended with %s", ac_strerror(w.status));
        else if (w.n_done != 1)
            v = check_fail("on_done ran %d times, not once", w.n_done);
    }
    if (w.q)
        ac_request_cancel(w.q), ac_request_wait(w.q, -1);
    seen_free(&w);
    if (!v) {
        /* The cancelled run must let go of the model: the next request is
         * served (a run still decoding would hold a sequence, or the
         * whole model, until its context is full). */
        seen next;
        if (local_start(l, 0, LOCAL_MAX_TOKENS, &next, &why) < 0)
            v = check_fail("%s", why);
        else if (ac_request_wait(next.q, 30000) != AC_OK)
            v = check_fail("after a cancel, the next request was not served within 30 s");
        else
            v = local_rules(&next, 0);
        if (next.q)
            ac_request_cancel(next.q), ac_request_wait(next.q, -1);
        seen_free(&next);
    }
    ac_llm_free(l);
    return v;
}

static verdict local_concurrent(checker *c)
{
    const char *why = NULL;
    ac_llm *l = local_llm(c, &why);
    if (!l)
        return check_fail("%s", why);
    static seen w[LOCAL_CONCURRENT];
    ac_request *q[LOCAL_CONCURRENT];
    verdict v = NULL;
    size_t started = 0;
    for (; started < LOCAL_CONCURRENT; started++) {
        if (local_start(l, 1, LOCAL_MAX_TOKENS, &w[started], &why) < 0) {
            v = check_fail("request %zu: %s", started + 1, why);
            break;
        }
        q[started] = w[started].q;
    }
    if (!v && ac_gather(q, started, 120000) != AC_OK)
        v = check_fail("%d requests at once were not all done within 120 s", LOCAL_CONCURRENT);
    for (size_t i = 0; i < started && !v; i++) {
        verdict one_v = local_rules(&w[i], 1);
        if (one_v) {
            /* one_v lives in the buffer check_fail writes: copy it first. */
            char broke[512];
            snprintf(broke, sizeof broke, "%s", one_v);
            v = check_fail("request %zu of %d: %s", i + 1, LOCAL_CONCURRENT, broke);
        }
        else if (i && strcmp(w[i].text.p ? w[i].text.p : "", w[0].text.p ? w[0].text.p : ""))
            v = check_fail("greedy requests at once gave different texts (\"%s\", \"%s\")",
                           w[0].text.p ? w[0].text.p : "", w[i].text.p ? w[i].text.p : "");
    }
    for (size_t i = 0; i < started; i++) {
        ac_request_cancel(w[i].q), ac_request_wait(w[i].q, -1);
        seen_free(&w[i]);
    }
    ac_llm_free(l);
    return v;
}

static verdict local_models(checker *c)
{
    if (!c->can_list)
        return CHECK_SKIP "no list_models (the plugin cannot list models)";
    const char *why = NULL;
    ac_llm *l = local_llm(c, &why);
    if (!l)
        return check_fail("%s", why);
    ac_error err;
    ac_models *m = ac_list_models(l, &err);
    verdict v = NULL;
    if (!m) {
        v = check_fail("ac_list_models: %s", err.message);
    } else if (!ac_models_count(m)) {
        v = check_fail("the list is empty, yet the model \"%s\" answered", c->model);
    } else {
        int found = 0;
        for (size_t k = 0; k < ac_models_count(m); k++)
            found |= !strcmp(ac_models_id(m, k), c->model);
        if (!found)
            v = check_fail("the model \"%s\" is not listed", c->model);
    }
    ac_models_free(m);
    ac_llm_free(l);
    return v;
}

void check_local_all(checker *c)
{
    static const struct { const char *name; verdict (*fn)(checker *); } scenarios[] = {
        { "text", local_text }, { "stream", local_stream }, { "cancel", local_cancel },
        { "concurrent", local_concurrent }, { "models", local_models },
    };
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (check_selected(c, scenarios[i].name))
            check_report(c, scenarios[i].name, scenarios[i].fn(c));
}
