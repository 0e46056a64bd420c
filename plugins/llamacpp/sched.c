/*
 * sched.c -- the decode thread of a loaded model: every running request
 * is one sequence of the model's llama_context, and one thread decodes
 * them all together.
 *
 * Why one thread per model.  run_local is called on several of the
 * core's worker threads at once, but a llama_context is not thread-safe,
 * and batching is the point: one llama_decode over n sequences costs
 * about what one costs on a CPU (the weights are read once per step).  So
 * the context belongs to one thread, started with the model and joined
 * in fini, and the run_local threads only hand it jobs and take back text:
 *
 *   run_local (worker)            decode thread (one per model)
 *   ------------------            -----------------------------
 *   template, tokenize, sampler
 *   lc_sched_submit  ---queue-->  admits jobs in order into free slots
 *                                 (sequence ids 0..n_parallel-1)
 *                                 each step: one batch of every running
 *                                 job's next token plus prompt chunks
 *                                 (at most n_batch tokens), llama_decode,
 *                                 sample each job, text -> job->ready
 *   waits on job->cv  <--signal--
 *   emits ready text (may block: flow control)
 *
 * A job whose ready text reaches LC_READY_CAP (its caller is behind) is
 * left out of the batches until run_local has taken the text: memory per
 * request stays bounded and the others go on.  Cancelling: run_local sets
 * job->cancel (its emit was refused, or host->cancelled), and the decode
 * thread also asks host->cancelled for every running job before each
 * step, so a cancelled sequence is never decoded again after the step in
 * progress: it stops within one token.  Its KV cells are cleared and the
 * slot goes to the next queued job.  Jobs wait in the order the
 * application made their requests (host->call_order); at most
 * engine.workers run_local calls exist, so the queue is bounded too.
 *
 * Locking: m->mu guards the queue, the slots and each job's shared fields
 * (see lc_job).  llama_decode and sampling run without it; only this
 * thread touches the context, the batch and the samplers.  Each job is
 * signalled on its own condition variable, so a waiting run_local thread
 * wakes only for its own text.
 */
#include "llamacpp.h"

#include <string.h>

static void wake(lc_job *j) { pthread_cond_signal(&j->cv); }

/* One token's text for run_local to emit as one event (under the lock). */
static int add_piece(lc_job *j, const char *p, size_t n)
{
    if (lc_buf_add(&j->cuts, &n, sizeof n) < 0)
        return -1;
    if (lc_buf_add(&j->ready, p, n) < 0) {
        j->cuts.len -= sizeof n;
        return -1;
    }
    return 0;
}

/* End job j (under the lock): slot freed and its cells cleared. */
static void retire(lc_model *m, lc_job *j)
{
    if (j->seq >= 0) {
        llama_memory_seq_rm(llama_get_memory(m->ctx), j->seq, -1, -1);
        m->slots[j->seq] = NULL;
    }
    j->seq = -1;
    j->state = LC_JOB_DONE;
    wake(j);
}

static void fail_job(lc_model *m, lc_job *j, ac_status st, const char *msg)
{
    j->err = st;
    snprintf(j->errmsg, sizeof j->errmsg, "%s", msg);
    retire(m, j);
}

/* The end of generation, not by a stop string: what is held is text.
 * Decode thread only. */
static void finish(lc_job *j, const char *reason, const char *raw)
{
    if (lc_text_flush(&j->text, &j->fresh) < 0) {
        j->oom = 1;
        return;
    }
    j->finish = reason;
    j->raw_finish = raw;
}

/* Queued jobs that were cancelled leave; then free slots take the first
 * jobs of the queue. */
static void admit(lc_model *m)
{
    lc_job **at = &m->qhead;
    m->qtail = NULL;
    while (*at) {
        lc_job *j = *at;
        if (j->cancel || lc_host->cancelled(j->call)) {
            j->cancel = 1;
            *at = j->qnext;
            j->qnext = NULL;
            retire(m, j);
            continue;
        }
        m->qtail = j;
        at = &j->qnext;
    }
    for (int s = 0; s < m->n_parallel && m->qhead; s++) {
        if (m->slots[s])
            continue;
        lc_job *j = m->qhead;
        m->qhead = j->qnext;
        if (!m->qhead)
            m->qtail = NULL;
        j->qnext = NULL;
        j->seq = s;
        j->admitted = ++m->n_admitted;
        j->state = LC_JOB_PROMPT;
        j->n_past = 0;
        m->slots[s] = j;
    }
}

static void batch_add(llama_batch *b, llama_token t, llama_pos pos, llama_seq_id seq,
                      int logits)
{
    int i = b->n_tokens++;
    b->token[i] = t;
    b->pos[i] = pos;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = (int8_t)(logits != 0);
}

/* This step's batch (under the lock): first the next token of every
 * generating job that has room for its text, then prompt chunks in slot
 * order.  The jobs in it go to in_batch; returns their count. */
static int build_batch(lc_model *m, lc_job **in_batch)
{
    llama_batch *b = &m->batch;
    b->n_tokens = 0;
    int n = 0;
    for (int s = 0; s < m->n_parallel; s++) {
        lc_job *j = m->slots[s];
        if (!j)
            continue;
        j->batch_at = -1;
        if (j->cancel || lc_host->cancelled(j->call)) {
            j->cancel = 1;
            retire(m, j);
            continue;
        }
        if (j->state != LC_JOB_GEN || j->ready.len >= LC_READY_CAP)
            continue;
        if (j->n_past >= m->n_ctx) {
            /* The sequence is full: the token sampled last was shown,
             * but cannot be decoded to get another. */
            finish(j, "length", "n_ctx");
            if (!j->oom && j->fresh.len && add_piece(j, j->fresh.p, j->fresh.len) < 0)
                j->oom = 1;
            j->fresh.len = 0;
            if (j->oom)
                fail_job(m, j, AC_ENOMEM, "out of memory");
            else
                retire(m, j);
            continue;
        }
        j->batch_at = b->n_tokens;
        batch_add(b, j->next, j->n_past++, s, 1);
        in_batch[n++] = j;
    }
    for (int s = 0; s < m->n_parallel && b->n_tokens < m->n_batch; s++) {
        lc_job *j = m->slots[s];
        if (!j || j->state != LC_JOB_PROMPT)
            continue;
        int room = m->n_batch - b->n_tokens;
        int left = j->n_prompt - j->n_past;
        int k = left < room ? left : room;
        for (int i = 0; i < k; i++) {
            int last = j->n_past + 1 == j->n_prompt;
            if (last)
                j->batch_at = b->n_tokens;
            batch_add(b, j->prompt[j->n_past], j->n_past, s, last);
            j->n_past++;
        }
        if (k > 0)
            in_batch[n++] = j;
    }
    for (int i = 0; i < n; i++)
        if (n > in_batch[i]->max_shared)
            in_batch[i]->max_shared = n;
    return n;
}

/* After a decode (without the lock): sample every job that has logits in
 * the batch and turn the token into text in j->fresh. */
static void sample_all(lc_model *m, lc_job **in_batch, int n)
{
    for (int i = 0; i < n; i++) {
        lc_job *j = in_batch[i];
        if (j->batch_at < 0)
            continue;
        llama_token t = llama_sampler_sample(j->smpl, m->ctx, j->batch_at);
        if (llama_vocab_is_eog(m->vocab, t)) {
            finish(j, "stop", "eos");
            continue;
        }
        j->n_gen_local++;
        char small[128];
        char *piece = small;
        int len = llama_token_to_piece(m->vocab, t, small, sizeof small, 0, false);
        if (len < 0) {
            piece = lc_host->malloc((size_t)-len);
            len = piece ? llama_token_to_piece(m->vocab, t, piece, -len, 0, false) : -1;
        }
        int stopped = 0;
        if (len < 0 || lc_text_push(&j->text, piece, (size_t)len, &j->fresh, &stopped) < 0)
            j->oom = 1;
        if (piece != small)
            lc_host->free(piece);
        if (j->oom)
            continue;
        if (stopped) {
            j->finish = "stop";
            j->raw_finish = "stop_string";
        } else if (j->max_tokens > 0 && j->n_gen_local >= j->max_tokens) {
            finish(j, "length", "max_tokens");
        } else {
            j->next = t;
        }
    }
}

/* Under the lock again: the step's text and endings become visible. */
static void publish(lc_model *m, lc_job **in_batch, int n)
{
    for (int i = 0; i < n; i++) {
        lc_job *j = in_batch[i];
        if (j->state == LC_JOB_DONE)
            continue;
        if (j->batch_at >= 0 && j->state == LC_JOB_PROMPT)
            j->state = LC_JOB_GEN;
        j->n_gen = j->n_gen_local;
        if (j->fresh.len && !j->oom) {
            if (add_piece(j, j->fresh.p, j->fresh.len) < 0)
                j->oom = 1;
            wake(j);
        }
        j->fresh.len = 0;
        if (j->oom) {
            fail_job(m, j, AC_ENOMEM, "out of memory");
        } else if (j->cancel) {
            retire(m, j);
        } else if (j->finish) {
            retire(m, j);
        }
    }
}

static void *decode_main(void *arg)
{
    lc_model *m = arg;
    lc_job **in_batch = m->in_batch;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        if (m->stopping)
            break;
        admit(m);
        int n = build_batch(m, in_batch);
        if (!n) {
            pthread_cond_wait(&m->work, &m->mu);
            continue;
        }
        pthread_mutex_unlock(&m->mu);

        int rc = llama_decode(m->ctx, m->batch);
        atomic_fetch_add(&m->decodes, 1);
        if (rc == 0)
            sample_all(m, in_batch, n);

        pthread_mutex_lock(&m->mu);
        if (rc != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "llama_decode failed (%d) on a batch of %d tokens", rc,
                     m->batch.n_tokens);
            for (int i = 0; i < n; i++)
                if (in_batch[i]->state != LC_JOB_DONE)
                    fail_job(m, in_batch[i], AC_EPROTOCOL, msg);
            continue;
        }
        publish(m, in_batch, n);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

ac_status lc_sched_start(lc_model *m)
{
    /* The step list is made here, not by the thread: an allocation
     * failure is then the caller's to report, and the thread never
     * allocates behind a caller's back (a plugin checker counting the
     * blocks it holds would see them come and go). */
    m->in_batch = lc_host->malloc((size_t)m->n_parallel * sizeof *m->in_batch);
    if (!m->in_batch)
        return AC_ENOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&m->work, NULL) != 0) {
        pthread_mutex_destroy(&m->mu);
        goto fail;
    }
    atomic_init(&m->decodes, 0);
    if (pthread_create(&m->thread, NULL, decode_main, m) != 0) {
        pthread_cond_destroy(&m->work);
        pthread_mutex_destroy(&m->mu);
        goto fail;
    }
    m->running = 1;
    return AC_OK;
fail:
    lc_host->free(m->in_batch);
    m->in_batch = NULL;
    return AC_ENOMEM;
}

void lc_sched_stop(lc_model *m)
{
    if (!m->running)
        return;
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_cond_signal(&m->work);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->work);
    pthread_mutex_destroy(&m->mu);
    lc_host->free(m->in_batch);
    m->in_batch = NULL;
    m->running = 0;
}

void lc_sched_submit(lc_model *m, lc_job *j)
{
    pthread_mutex_lock(&m->mu);
    j->state = LC_JOB_QUEUED;
    j->seq = -1;
    j->batch_at = -1;
    /* In the order the application made the requests (host->call_order),
     * not the order the worker threads got here in: after every job of a
     * lower or equal order; unknown (0) last. */
    lc_job **at = &m->qhead;
    while (*at && (!j->order || ((*at)->order && (*at)->order <= j->order)))
        at = &(*at)->qnext;
    j->qnext = *at;
    *at = j;
    if (!j->qnext)
        m->qtail = j;
    int waiting = 0;
    for (lc_job *w = m->qhead; w; w = w->qnext)
        waiting++;
    pthread_cond_signal(&m->work);
    pthread_mutex_unlock(&m->mu);
    lc_host->log(j->call, AC_LOG_DEBUG, "model %s: request queued (order %llu, %d waiting)",
                 m->id, j->order, waiting);
}

void lc_sched_cancel(lc_model *m, lc_job *j)
{
    pthread_mutex_lock(&m->mu);
    j->cancel = 1;
    pthread_cond_signal(&m->work);
    pthread_mutex_unlock(&m->mu);
}
