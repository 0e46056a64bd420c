/*
 * test_soak.c -- thousands of requests at once through a mix of faults,
 * fallbacks, cancels and session turns, against two mock servers.
 *
 * Checks what must hold whatever the mix: every request ends exactly once
 * (on_done once, the status it reports is the one on_done saw) with the
 * outcome its scenario calls for; no event comes after the end; session
 * histories hold exactly the turns that succeeded, in order; and memory
 * (the library's live allocations) and file descriptors are back where
 * they started once the core is closed.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "mockutil.h"
#include "testutil.h"

#define N_REQUESTS 3000
#define N_SESSIONS 24
#define TURNS_PER_SESSION 6

/* The scenarios, by model, and what each must end with. */
typedef enum kind {
    K_OK, K_FALLBACK, K_DROP, K_GARBAGE, K_INSTREAM, K_CANCEL, K_SLOW, K_COUNT
} kind;

static const char *const models[K_COUNT] = {
    "ok", "down", "drop", "garbage", "instream", "hang", "slow",
};

static const char SCRIPT_A[] =
    "reply = \"primary answers\"; chunks = 4; delay_ms = 1; usage = [3, 4];\n"
    "scenarios = (\n"
    "  { model = \"down\"; status = 503; },\n"
    "  { model = \"drop\"; chunks = 6; drop_after_chunks = 2; },\n"
    "  { model = \"garbage\"; garbage = 200; },\n"
    "  { model = \"instream\"; chunks = 3; stream_error = \"the model fell over\"; },\n"
    "  { model = \"hang\"; hang = true; },\n"
    "  { model = \"slow\"; first_byte_delay_ms = 40; }\n"
    ");\n";

static const char SCRIPT_B[] = "reply = \"backup answers\"; chunks = 2;";

typedef struct slot {
    kind              k;
    ac_request       *q;
    atomic_int        done;       /* on_done calls */
    atomic_int        events_after;  /* events after on_done */
    atomic_int        text;       /* text events */
    ac_status         status;     /* what on_done said */
} slot;

static slot slots[N_REQUESTS];

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    slot *s = user;
    if (atomic_load(&s->done))
        atomic_fetch_add(&s->events_after, 1);
    if (c->type == AC_EVENT_TEXT)
        atomic_fetch_add(&s->text, 1);
}

static void on_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    slot *s = user;
    s->status = st;
    atomic_fetch_add(&s->done, 1);
}

static const ac_callbacks CB = {.on_event = on_event, .on_done = on_done};

static size_t open_fds(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Turn results of a session, kept by its on_done. */
typedef struct sess {
    ac_session *s;
    ac_request *q[TURNS_PER_SESSION];
    atomic_int  ok;
} sess;

static void turn_done(ac_request *q, ac_status st, void *user)
{
    (void)q;
    if (st == AC_OK)
        atomic_fetch_add(&((sess *)user)->ok, 1);
}

static const ac_callbacks TURN_CB = {.on_done = turn_done};

static int outcome_ok(const slot *s, const ac_request *q)
{
    const ac_response *r = ac_request_response(q);
    switch (s->k) {
    case K_OK:
    case K_SLOW:
        return s->status == AC_OK && !strcmp(ac_response_content(r), "primary answers");
    case K_FALLBACK:
        return s->status == AC_OK && !strcmp(ac_response_content(r), "backup answers") &&
               !strcmp(ac_response_provider(r), "backup");
    case K_DROP: /* text reached the caller: no fallback, a cut stream */
        return s->status == AC_EHTTP || s->status == AC_EPROTOCOL;
    case K_GARBAGE:
        return s->status == AC_EJSON || s->status == AC_EFRAMING || s->status == AC_EPROTOCOL;
    case K_INSTREAM:
        return s->status == AC_EPROTOCOL;
    case K_CANCEL:
        return s->status == AC_ECANCELED;
    default:
        return 0;
    }
}

static void test_soak(void)
{
    long live0 = ac__alloc_live();
    size_t fds0 = open_fds();
    char errbuf[256];
    mock_server *a = mock_server_start(SCRIPT_A, 0, errbuf, sizeof errbuf);
    mock_server *b = mock_server_start(SCRIPT_B, 0, errbuf, sizeof errbuf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "providers = (\n"
             "  { name = \"primary\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\";"
             " max_retries = 1; circuit_failures = 0; fallback = [ \"backup\" ]; },\n"
             "  { name = \"backup\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\";"
             " default_model = \"any\"; }\n);\n",
             mock_server_url(a), mock_server_url(b));
    ac_core *core = tu_open_core(cfg);
    ac_llm *llms[K_COUNT];
    ac_error err;
    for (int k = 0; k < K_COUNT; k++) {
        llms[k] = ac_llm_create(core, "primary", models[k], NULL, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(llms[k]);
    }
    ac_gen_params *p = ac_gen_params_new();
    ac_gen_params_set_stream(p, 1);

    /* Sessions: their turns queue behind each other while the rest runs. */
    static sess sessions[N_SESSIONS];
    for (int i = 0; i < N_SESSIONS; i++) {
        memset(&sessions[i], 0, sizeof sessions[i]);
        sessions[i].s = ac_session_new(llms[i % 2 ? K_OK : K_FALLBACK], "soak");
        CU_ASSERT_PTR_NOT_NULL_FATAL(sessions[i].s);
    }
    for (int t = 0; t < TURNS_PER_SESSION; t++)
        for (int i = 0; i < N_SESSIONS; i++) {
            char prompt[32];
            snprintf(prompt, sizeof prompt, "turn %d", t);
            sessions[i].q[t] = ac_session_agenerate(sessions[i].s, prompt, p, &TURN_CB,
                                                    &sessions[i], &err);
            CU_ASSERT_PTR_NOT_NULL(sessions[i].q[t]);
        }

    for (int i = 0; i < N_REQUESTS; i++) {
        slot *s = &slots[i];
        memset(s, 0, sizeof *s);
        s->k = (kind)(i % K_COUNT);
        s->q = ac_agenerate(llms[s->k], "soak", p, &CB, s, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s->q);
        /* Cancel the hanging ones at once or later, from this thread. */
        if (s->k == K_CANCEL && i % 2)
            ac_request_cancel(s->q);
    }
    for (int i = 0; i < N_REQUESTS; i++)
        if (slots[i].k == K_CANCEL)
            ac_request_cancel(slots[i].q);
    ac_request *all[N_REQUESTS];
    for (int i = 0; i < N_REQUESTS; i++)
        all[i] = slots[i].q;
    CU_ASSERT_EQUAL(ac_gather(all, N_REQUESTS, 120000), AC_OK);

    int wrong = 0, twice = 0, late = 0, mismatch = 0;
    for (int i = 0; i < N_REQUESTS; i++) {
        slot *s = &slots[i];
        ac_status st = ac_request_status(s->q, NULL);
        twice += atomic_load(&s->done) != 1;
        late += atomic_load(&s->events_after);
        mismatch += st != s->status;
        if (!outcome_ok(s, s->q)) {
            if (wrong++ < 5)
                fprintf(stderr, "\n  request %d (%s): %s", i, models[s->k],
                        ac_strerror(s->status));
        }
        ac_request_free(s->q);
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(twice, 0);
    CU_ASSERT_EQUAL(late, 0);
    CU_ASSERT_EQUAL(mismatch, 0);

    /* Sessions: every turn done; the history holds the turns that
     * succeeded, user then assistant, in order. */
    for (int i = 0; i < N_SESSIONS; i++) {
        sess *x = &sessions[i];
        CU_ASSERT_EQUAL(ac_gather(x->q, TURNS_PER_SESSION, 60000), AC_OK);
        CU_ASSERT_EQUAL(atomic_load(&x->ok), TURNS_PER_SESSION);
        CU_ASSERT_EQUAL(ac_session_message_count(x->s), (size_t)(2 * atomic_load(&x->ok)));
        for (size_t m = 0; m < ac_session_message_count(x->s); m++) {
            CU_ASSERT_EQUAL(ac_session_message_role(x->s, m),
                            m % 2 ? AC_ROLE_ASSISTANT : AC_ROLE_USER);
            if (m % 2 == 0) {
                char want[32], *got = ac_session_message_content(x->s, m);
                snprintf(want, sizeof want, "turn %zu", m / 2);
                TU_ASSERT_STR(got, want);
                ac_free(got);
            }
        }
        for (int t = 0; t < TURNS_PER_SESSION; t++)
            ac_request_free(x->q[t]);
        ac_session_free(x->s);
    }
    ac_gen_params_free(p);
    for (int k = 0; k < K_COUNT; k++)
        ac_llm_free(llms[k]);
    ac_core_close(core);
    mock_server_stop(a);
    mock_server_stop(b);
    /* Back where it started. */
    CU_ASSERT_EQUAL(ac__alloc_live(), live0);
    CU_ASSERT_EQUAL(open_fds(), fds0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"thousands of requests: faults, fallbacks, cancels, sessions", test_soak},
    };
    if (TU_ADD_SUITE("soak", NULL, NULL, tests))
        return 2;
    return tu_run_suites();
}
