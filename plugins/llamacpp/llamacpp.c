/*
 * llamacpp.c -- the `llamacpp` provider plugin: GGUF models run in this
 * process by libllama (llama.cpp), no server.  Descriptor, entry point,
 * settings, init / fini, run_local, run_embed and list_models.
 *
 * One request (run_local, on a core worker thread): find the model and
 * load it on first use (model.c), format and tokenize the prompt
 * (prompt.c), build the sampler chain (a grammar from the JSON schema,
 * gbnf.c; then greedy at temperature 0, else top-k, top-p, temperature
 * and a seeded distribution), hand the job to the model's decode thread
 * (sched.c), and emit its text as it comes.  The emit may block while the
 * caller is behind (the core's flow control); the decode thread pauses
 * that sequence when its text reaches LC_READY_CAP.  A refused emit or
 * host->cancelled stops the job within one token; run_local returns only
 * after the decode thread has let go of the job.
 *
 * Tools are not declared (no AC_FEATURE_TOOLS): the core's prompted tool
 * mode writes them into the system prompt and parses the calls out of
 * the text.  A JSON schema is native (AC_FEATURE_JSON_SCHEMA): decoding is
 * constrained by the grammar, and the core validates the reply as usual.
 *
 * State: the settings (read-only after init) and the list of loaded
 * models behind a mutex; every function but init and fini may run on any
 * thread at once.  Settings: docs/providers/llamacpp.md.
 */
#include "llamacpp.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const ac_host_api *lc_host;

/* Sampling defaults when the request sets none (llama.cpp's own). */
#define DEFAULT_TEMPERATURE 0.8
#define DEFAULT_TOP_P       0.95

typedef struct lc_state {
    lc_config       cfg;
    pthread_mutex_t mu;      /* guards models */
    lc_model       *models;  /* loaded, newest first */
} lc_state;

/* ------------------------------------------------------------------ */
/* Settings                                                            */
/* ------------------------------------------------------------------ */

static ac_status bad(const ac_settings *s, const char *key, const char *what, ac_call *call)
{
    return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG, "provider '%s': %s must be %s",
                         lc_host->settings_name(s), key, what);
}

/* An integer setting in [min, max] into *out (unchanged when absent). */
static ac_status get_int(const ac_settings *s, const char *key, long long min, long long max,
                         int *out, ac_call *call)
{
    long long v;
    int got = lc_host->setting_int(s, key, &v);
    if (got == 0)
        return AC_OK;
    if (got < 0 || v < min || v > max) {
        char what[64];
        snprintf(what, sizeof what, "an integer from %lld to %lld", min, max);
        return bad(s, key, what, call);
    }
    *out = (int)v;
    return AC_OK;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

/* embed_pooling and embed_normalize (embed.c). */
static ac_status read_embed_config(const ac_settings *s, lc_config *c, ac_call *call)
{
    static const struct { const char *name; enum llama_pooling_type type; } pools[] = {
        { "model", LLAMA_POOLING_TYPE_UNSPECIFIED }, { "mean", LLAMA_POOLING_TYPE_MEAN },
        { "cls", LLAMA_POOLING_TYPE_CLS }, { "last", LLAMA_POOLING_TYPE_LAST },
    };
    c->embed_pooling = LLAMA_POOLING_TYPE_UNSPECIFIED;
    c->embed_normalize = 1;
    const char *v;
    int got = lc_host->setting_string(s, "embed_pooling", &v);
    if (got < 0)
        return bad(s, "embed_pooling", "one of \"model\", \"mean\", \"cls\", \"last\"", call);
    if (got == 1) {
        size_t i = 0;
        while (i < sizeof pools / sizeof pools[0] && strcmp(v, pools[i].name) != 0)
            i++;
        if (i == sizeof pools / sizeof pools[0])
            return bad(s, "embed_pooling", "one of \"model\", \"mean\", \"cls\", \"last\"",
                       call);
        c->embed_pooling = pools[i].type;
    }
    if (lc_host->setting_bool(s, "embed_normalize", &c->embed_normalize) < 0)
        return bad(s, "embed_normalize", "true or false", call);
    return AC_OK;
}

static ac_status read_config(const ac_settings *s, lc_config *c, ac_call *call)
{
    c->n_ctx = 0;
    c->n_threads = default_threads();
    c->n_batch = 512;
    c->n_gpu_layers = 0;
    c->n_parallel = 4;
    c->top_k = 40;
    ac_status st;
    if ((st = get_int(s, "n_ctx", 0, 1 << 24, &c->n_ctx, call)) != AC_OK ||
        (st = get_int(s, "n_threads", 1, 512, &c->n_threads, call)) != AC_OK ||
        (st = get_int(s, "n_batch", 1, 1 << 20, &c->n_batch, call)) != AC_OK ||
        (st = get_int(s, "n_gpu_layers", -1, 100000, &c->n_gpu_layers, call)) != AC_OK ||
        (st = get_int(s, "n_parallel", 1, 256, &c->n_parallel, call)) != AC_OK ||
        (st = get_int(s, "top_k", 0, 1 << 20, &c->top_k, call)) != AC_OK)
        return st;
    /* A step decodes the next token of every running sequence in one
     * batch of at most n_batch tokens. */
    if (c->n_parallel > c->n_batch)
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG, "n_parallel %d is more than "
                             "n_batch %d: a step decodes one token of every sequence in one "
                             "batch; lower n_parallel or raise n_batch", c->n_parallel,
                             c->n_batch);
    const char *v;
    int got = lc_host->setting_string(s, "model_path", &v);
    if (got <= 0 || !*v)
        return bad(s, "model_path", "set: a .gguf file or a folder of them", call);
    struct stat sb;
    if (stat(v, &sb) != 0)
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "provider '%s': model_path %s: %s", lc_host->settings_name(s), v,
                             strerror(errno));
    if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "provider '%s': model_path %s is neither a file nor a folder",
                             lc_host->settings_name(s), v);
    c->is_dir = S_ISDIR(sb.st_mode);
    if (!(c->model_path = lc_host->strdup(v)))
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    /* Strip trailing slashes so paths join cleanly. */
    for (size_t n = strlen(c->model_path); n > 1 && c->model_path[n - 1] == '/'; n--)
        c->model_path[n - 1] = '\0';
    got = lc_host->setting_string(s, "chat_template", &v);
    if (got < 0)
        return bad(s, "chat_template", "a string", call);
    if (got == 1) {
        if (!lc_template_known(v))
            return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                                 "provider '%s': chat_template \"%.60s\" is not a template "
                                 "libllama knows (a name such as chatml, llama3, mistral-v7, "
                                 "gemma, phi3, or a template text it recognizes)",
                                 lc_host->settings_name(s), v);
        if (!(c->chat_template = lc_host->strdup(v)))
            return lc_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    }
    return read_embed_config(s, c, call);
}

static void config_free(lc_config *c)
{
    lc_host->free(c->model_path);
    lc_host->free(c->chat_template);
    memset(c, 0, sizeof *c);
}

static ac_status lc_init(const ac_settings *s, void **state, ac_call *call)
{
    lc_state *st = lc_host->malloc(sizeof *st);
    if (!st)
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    memset(st, 0, sizeof *st);
    ac_status rc = read_config(s, &st->cfg, call);
    if (rc == AC_OK && pthread_mutex_init(&st->mu, NULL) != 0)
        rc = lc_host->fail(call, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    if (rc != AC_OK) {
        config_free(&st->cfg);
        lc_host->free(st);
        return rc;
    }
    *state = st;
    return AC_OK;
}

static void lc_fini(void *state)
{
    lc_state *st = state;
    if (!st)
        return;
    while (st->models) {
        lc_model *m = st->models;
        st->models = m->next;
        lc_model_free(m);
    }
    pthread_mutex_destroy(&st->mu);
    config_free(&st->cfg);
    lc_host->free(st);
}

/* ------------------------------------------------------------------ */
/* Sampling                                                            */
/* ------------------------------------------------------------------ */

static ac_status add_grammar(lc_model *m, const ac_gen_request *req, struct llama_sampler *chain,
                             ac_call *call)
{
    struct json_object *schema = lc_host->json_parse(call, req->json_schema,
                                                     strlen(req->json_schema), "JSON schema");
    if (!schema)
        return AC_EJSON; /* the call is failed */
    char why[300], *gbnf = NULL;
    ac_status st = lc_gbnf_from_schema(schema, &gbnf, why, sizeof why);
    json_object_put(schema);
    if (st != AC_OK)
        return lc_host->fail(call, st, AC_STAGE_REQUEST, "JSON schema \"%s\": %s",
                             req->json_schema_name ? req->json_schema_name : "", why);
    lc_clear_llama_error();
    struct llama_sampler *g = llama_sampler_init_grammar(m->vocab, gbnf, "root");
    lc_host->free(gbnf);
    if (!g)
        return lc_host->fail(call, AC_EPLUGIN, AC_STAGE_REQUEST,
                             "libllama refused the grammar made from JSON schema \"%s\": %s",
                             req->json_schema_name ? req->json_schema_name : "",
                             lc_last_llama_error());
    llama_sampler_chain_add(chain, g);
    return AC_OK;
}

static ac_status make_sampler(const lc_state *S, lc_model *m, const ac_gen_request *req,
                              struct llama_sampler **out, ac_call *call)
{
    struct llama_sampler_chain_params p = llama_sampler_chain_default_params();
    p.no_perf = true;
    struct llama_sampler *chain = llama_sampler_chain_init(p);
    if (!chain)
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    if (req->json_schema) {
        ac_status st = add_grammar(m, req, chain, call);
        if (st != AC_OK) {
            llama_sampler_free(chain);
            return st;
        }
    }
    double temp = req->has_temperature ? req->temperature : DEFAULT_TEMPERATURE;
    if (temp <= 0) {
        /* Greedy: the same text every run, whatever the seed. */
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    } else {
        double top_p = req->has_top_p ? req->top_p : DEFAULT_TOP_P;
        if (S->cfg.top_k > 0)
            llama_sampler_chain_add(chain, llama_sampler_init_top_k(S->cfg.top_k));
        if (top_p < 1.0)
            llama_sampler_chain_add(chain, llama_sampler_init_top_p((float)top_p, 1));
        llama_sampler_chain_add(chain, llama_sampler_init_temp((float)temp));
        uint32_t seed = req->has_seed ? (uint32_t)req->seed : LLAMA_DEFAULT_SEED;
        llama_sampler_chain_add(chain, llama_sampler_init_dist(seed));
    }
    *out = chain;
    return AC_OK;
}

/* ------------------------------------------------------------------ */
/* One request                                                         */
/* ------------------------------------------------------------------ */

static void job_free(lc_job *j)
{
    if (j->smpl)
        llama_sampler_free(j->smpl);
    lc_host->free(j->prompt);
    lc_text_free(&j->text);
    lc_buf_free(&j->fresh);
    lc_buf_free(&j->ready);
    lc_buf_free(&j->cuts);
    pthread_cond_destroy(&j->cv);
    lc_host->free(j);
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/*
 * Emit the job's text as it comes until it is done.  Returns AC_OK when
 * it ended by itself, else the status that stopped it (AC_ECANCELED, or
 * what emit returned); in both cases the decode thread is done with it.
 */
static ac_status relay_text(lc_model *m, lc_job *j, ac_sink *sink, ac_call *call)
{
    lc_buf take = {0}, cuts = {0};
    ac_status result = AC_OK;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!j->ready.len && j->state != LC_JOB_DONE) {
            /* The decode thread watches host->cancelled for running
             * jobs; a queued one is watched here too. */
            if (!j->cancel && lc_host->cancelled(call)) {
                j->cancel = 1;
                pthread_cond_signal(&m->work);
            }
            struct timespec ts;
            deadline_in(&ts, 50);
            pthread_cond_timedwait(&j->cv, &m->mu, &ts);
        }
        /* Swap buffers: the decode thread fills the empty pair while
         * this one is emitted. */
        lc_buf t = j->ready, c = j->cuts;
        j->ready = take;
        j->cuts = cuts;
        take = t;
        cuts = c;
        j->ready.len = j->cuts.len = 0;
        if (take.len >= LC_READY_CAP)
            pthread_cond_signal(&m->work); /* it was paused */
        int done = j->state == LC_JOB_DONE;
        pthread_mutex_unlock(&m->mu);
        /* One text event per token, however many came since the last
         * look: the caller sees the model's pace, not this thread's. */
        size_t at = 0;
        for (size_t k = 0; k + sizeof(size_t) <= cuts.len && result == AC_OK; k += sizeof(size_t)) {
            size_t n;
            memcpy(&n, cuts.p + k, sizeof n);
            ac_status st = lc_host->emit_text(sink, take.p + at, n);
            at += n;
            if (st != AC_OK) {
                result = st;
                lc_sched_cancel(m, j);
            }
        }
        take.len = cuts.len = 0;
        if (done)
            break;
        pthread_mutex_lock(&m->mu);
    }
    lc_buf_free(&take);
    lc_buf_free(&cuts);
    if (result == AC_OK && j->cancel)
        result = AC_ECANCELED;
    return result;
}

static ac_status lc_run(void *state, const ac_gen_request *req, ac_sink *sink, ac_call *call)
{
    lc_state *S = state;
    lc_model *m = NULL;
    pthread_mutex_lock(&S->mu);
    ac_status st = lc_model_get(&S->cfg, &S->models, req->model, &m, call);
    pthread_mutex_unlock(&S->mu);
    if (st != AC_OK)
        return st;

    lc_job *j = lc_host->malloc(sizeof *j);
    if (!j)
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    memset(j, 0, sizeof *j);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int cv_rc = pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (cv_rc != 0) {
        lc_host->free(j);
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    }
    j->call = call;
    j->seq = -1;
    j->batch_at = -1;
    j->max_tokens = req->has_max_tokens && req->max_tokens > 0 ? req->max_tokens : 0;
    j->text.stop = req->stop;
    j->text.n_stop = req->stop ? req->n_stop : 0;
    if ((st = lc_prompt_tokens(m, req, &j->prompt, &j->n_prompt, call)) != AC_OK ||
        (st = make_sampler(S, m, req, &j->smpl, call)) != AC_OK) {
        job_free(j);
        return st;
    }
    j->order = AC_HOST_HAS(lc_host, call_order) ? lc_host->call_order(call) : 0;
    lc_sched_submit(m, j);
    st = relay_text(m, j, sink, call);

    /* The job is DONE: the decode thread has let go of it. */
    const char *how = st == AC_ECANCELED ? "cancelled" : st != AC_OK ? "stopped"
                    : j->err ? "failed" : j->finish;
    lc_host->log(call, AC_LOG_DEBUG, "model %s: request %s after %ld generated tokens "
                 "(prompt %d tokens, batches shared by up to %d sequences; order %llu, "
                 "admitted %lu)", m->id, how ? how : "ended", j->n_gen, j->n_prompt,
                 j->max_shared, j->order, j->admitted);
    if (st == AC_OK && j->err)
        st = lc_host->fail(call, j->err, j->err == AC_ENOMEM ? AC_STAGE_REQUEST
                                                             : AC_STAGE_PROTOCOL,
                           "model %s: %s", m->path, j->errmsg);
    if (st == AC_OK && !j->finish)
        st = lc_host->fail(call, AC_EPLUGIN, AC_STAGE_PROTOCOL,
                           "model %s: the decode ended without a reason", m->path);
    /* The model at the end: an event before the first token would stop
     * the core's first_byte_timeout while the request still waits. */
    if (st == AC_OK)
        st = lc_host->emit_model(sink, m->id);
    if (st == AC_OK)
        st = lc_host->emit_usage(sink, j->n_prompt, j->n_gen);
    if (st == AC_OK)
        st = lc_host->emit_finish(sink, j->finish, j->raw_finish);
    job_free(j);
    return st;
}

/* run_embed: the batch's vectors from the model's pooled output. */
static ac_status lc_embed(void *state, const ac_embed_request *req, ac_embed_sink *out,
                          ac_call *call)
{
    lc_state *S = state;
    lc_model *m = NULL;
    pthread_mutex_lock(&S->mu);
    ac_status st = lc_model_get(&S->cfg, &S->models, req->model, &m, call);
    pthread_mutex_unlock(&S->mu);
    if (st != AC_OK)
        return st;
    return lc_embed_run(&S->cfg, m, req, out, call);
}

static size_t lc_embed_batch(void *state)
{
    (void)state;
    return lc_embed_max_batch();
}

static ac_status lc_list(void *state, ac_model_list *out, ac_call *call)
{
    lc_state *S = state;
    return lc_model_list(&S->cfg, out, call);
}

/* ------------------------------------------------------------------ */
/* The descriptor                                                      */
/* ------------------------------------------------------------------ */

static const char *const lc_settings[] = {
    "model_path", "n_ctx", "n_threads", "n_batch", "n_gpu_layers", "n_parallel",
    "chat_template", "top_k", "embed_pooling", "embed_normalize", NULL
};

static const ac_provider lc_provider = {
    .struct_size = sizeof(ac_provider),
    .abi_major   = AC_ABI_MAJOR,
    .abi_minor   = AC_ABI_MINOR,
    .name        = "llamacpp",
    .version     = AC_VERSION_STRING,
    .description = "GGUF models in this process with libllama (llama.cpp), no server",
    .features    = AC_FEATURE_JSON_SCHEMA, /* tools: the core's prompted mode */
    .init        = lc_init,
    .fini        = lc_fini,
    .run_local   = lc_run,
    .settings    = lc_settings,
    .list_models = lc_list,
    .run_embed   = lc_embed,
    .embed_max_batch = lc_embed_batch,
};

const ac_provider *ac_provider_entry(const ac_host_api *host)
{
    lc_host = host;
    return &lc_provider;
}
