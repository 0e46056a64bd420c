/*
 * batch.c -- `acore batch FILE`: every prompt of a file sent at once
 * (asyncio.gather from the shell), the results printed as JSON lines in
 * the order of the input.
 *
 * A line of FILE (or of standard input: `-`, or no FILE with a pipe) is
 * a prompt, or, when it starts with '{', a JSON object:
 *     {"prompt": "...", "provider": "...", "model": "...", "system": "...",
 *      "id": <anything, echoed>}
 * with only "prompt" required.  Blank lines are skipped.  Every line is
 * checked before anything is sent (a mistake is FILE:LINE on stderr, exit
 * 2).  The requests go through the engine (ac_agenerate) with at most
 * --concurrency in flight (default 8); on_done, on the engine thread,
 * only marks the slot done and wakes the main thread, which starts the
 * next request, prints every result whose predecessors are all printed,
 * and draws the progress bar (stderr, on a terminal only).  Output, one
 * line per prompt (acore(1), OUTPUT FORMATS):
 *     {"line": N, "id": ..., "ok": true, "response": {...}}
 *     {"line": N, "id": ..., "ok": false, "error": {...}, "response": {...}}
 * Exit status 0 when every prompt was answered, 1 when one failed, 130
 * after Ctrl-C (requests in flight are cancelled and reported; prompts
 * not yet sent are not).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

#define BATCH_DEFAULT_CONCURRENCY 8
#define BATCH_MAX_LINES           100000
#define BATCH_POLL_MS             50

typedef struct batch batch;

typedef struct batch_item {
    batch      *b;
    size_t      line;         /* 1-based line number in the file */
    const char *prompt;       /* into the file's text, or json-owned */
    const char *provider, *model, *system;
    json_object *obj;         /* the parsed line (owns the strings), or NULL */
    ac_request  *q;
    int          started, done, printed;
} batch_item;

/* One LLM per (provider, model) the lines ask for. */
typedef struct batch_llm {
    const char *provider, *model;   /* NULL: the command line's */
    ac_llm     *llm;
    ac_error    err;                /* when llm is NULL */
} batch_llm;

struct batch {
    cli_ctx        *ctx;
    const char     *name;          /* the file, for messages */
    batch_item     *items;
    size_t          n;
    batch_llm      *llms;
    size_t          n_llms;
    ac_gen_params  *gp;            /* the command line's parameters */
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    size_t          finished;      /* on_done calls so far (under mu) */
};

static int batch_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* ------------------------------------------------------------------ */
/* Reading the file                                                    */
/* ------------------------------------------------------------------ */

static int batch_bad(const batch *b, size_t line, const char *what)
{
    cli_errorf("%s:%zu: %s", b->name, line, what);
    return CLI_EXIT_USAGE;
}

/* A JSON line: an object with "prompt" and the optional keys. */
static int batch_parse_json(batch *b, batch_item *it, const char *text, size_t len)
{
    static const char *const keys[] = { "prompt", "provider", "model", "system", "id", NULL };
    json_tokener *tok = json_tokener_new();
    json_object *o;
    char msg[300];

    if (!tok) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    o = json_tokener_parse_ex(tok, text, (int)len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        (size_t)json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        json_tokener_free(tok);
        return batch_bad(b, it->line, "not a JSON object (a line that starts with '{' is one)");
    }
    json_tokener_free(tok);
    it->obj = o;
    json_object_object_foreach(o, key, val) {
        const char *near;
        size_t i;
        for (i = 0; keys[i] && strcmp(keys[i], key) != 0; i++) {
        }
        if (!keys[i]) {
            near = cli_nearest(key, keys);
            snprintf(msg, sizeof msg, "unknown key '%.100s'%s%s%s (the keys: prompt, provider, "
                     "model, system, id)", key, near ? " (did you mean " : "",
                     near ? near : "", near ? "?)" : "");
            return batch_bad(b, it->line, msg);
        }
        if (strcmp(key, "id") == 0)
            continue;
        if (!json_object_is_type(val, json_type_string) || !json_object_get_string_len(val) ||
            !cli_valid_utf8(json_object_get_string(val))) {
            snprintf(msg, sizeof msg, "\"%s\" must be a non-empty string", key);
            return batch_bad(b, it->line, msg);
        }
        /* "\u0000" would cut the text where it stands, unseen. */
        if (strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val)) {
            snprintf(msg, sizeof msg, "\"%s\" holds a NUL character (\\u0000)", key);
            return batch_bad(b, it->line, msg);
        }
        if (strcmp(key, "prompt") == 0)
            it->prompt = json_object_get_string(val);
        else if (strcmp(key, "provider") == 0)
            it->provider = json_object_get_string(val);
        else if (strcmp(key, "model") == 0)
            it->model = json_object_get_string(val);
        else
            it->system = json_object_get_string(val);
    }
    if (!it->prompt)
        return batch_bad(b, it->line, "no \"prompt\"");
    return CLI_EXIT_OK;
}

/* Split text into items (in place: lines are cut at their newline). */
static int batch_parse(batch *b, char *text)
{
    size_t line = 0, cap = 0;
    char *p = text;
    int rc;

    while (*p) {
        char *end = strchr(p, '\n'), *s = p;
        size_t len;
        batch_item *it;

        line++;
        if (end)
            *end = '\0';
        p = end ? end + 1 : p + strlen(p);
        len = strlen(s);
        if (len > 0 && s[len - 1] == '\r')
            s[--len] = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            continue;
        if (b->n >= BATCH_MAX_LINES)
            return batch_bad(b, line, "more than 100000 prompts: split the file");
        if (b->n == cap) {
            batch_item *ni = realloc(b->items, (cap ? cap * 2 : 64) * sizeof *ni);
            if (!ni) {
                cli_errorf("out of memory");
                return CLI_EXIT_REQUEST;
            }
            b->items = ni;
            cap = cap ? cap * 2 : 64;
        }
        it = &b->items[b->n++];
        memset(it, 0, sizeof *it);
        it->line = line;
        if (*s == '{') {
            rc = batch_parse_json(b, it, s, strlen(s));
            if (rc != CLI_EXIT_OK)
                return rc;
        } else {
            if (!cli_valid_utf8(s))
                return batch_bad(b, line, "not valid UTF-8");
            it->prompt = s;
        }
    }
    if (b->n == 0) {
        cli_errorf("%s: no prompts", b->name);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* On the engine thread: mark the slot and wake the main thread. */
static void batch_on_done(ac_request *q, ac_status status, void *user)
{
    batch_item *it = user;
    batch *b = it->b;

    (void)q;
    (void)status;
    pthread_mutex_lock(&b->mu);
    it->done = 1;
    b->finished++;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* The LLM for the line's (provider, model), made on first use (a failure
 * is remembered too); NULL with *err filled when it cannot be made (that
 * line then fails, not the batch).  Borrowed: the batch frees them. */
static ac_llm *batch_llm_for(batch *b, const batch_item *it, ac_error *err)
{
    batch_llm *l;
    size_t i;

    if (!it->provider && !it->model)
        return b->ctx->llm;
    for (i = 0; i < b->n_llms; i++) {
        l = &b->llms[i];
        if (batch_same(l->provider, it->provider) && batch_same(l->model, it->model)) {
            if (!l->llm)
                *err = l->err;
            return l->llm;
        }
    }
    l = realloc(b->llms, (b->n_llms + 1) * sizeof *l);
    if (!l) {
        err->code = AC_ENOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    b->llms = l;
    l = &b->llms[b->n_llms++];
    memset(l, 0, sizeof *l);
    l->provider = it->provider;
    l->model = it->model;
    /* A line that names only a provider gets its default model; one that
     * names only a model keeps the command line's provider. */
    l->llm = cli_llm_new(b->ctx, it->provider, it->model, &l->err);
    if (!l->llm)
        *err = l->err;
    return l->llm;
}

/* Start item it.  A line that cannot even start is done at once, with its
 * error kept for the output. */
static void batch_start(batch *b, batch_item *it, ac_error *start_err)
{
    static const ac_callbacks cb = { .version = AC_CALLBACKS_VERSION,
                                     .on_done = batch_on_done };
    ac_gen_params *gp = b->gp, *own = NULL;
    ac_llm *llm;

    it->started = 1;
    ac_error_clear(start_err);
    llm = batch_llm_for(b, it, start_err);
    if (!llm)
        goto failed;
    if (it->system) {
        /* The command line's parameters with this line's system prompt
         * (the library copies them at the call). */
        if (cli_gen_params(b->ctx->o, &own) != CLI_EXIT_OK ||
            ac_gen_params_set_system(own, it->system) != AC_OK) {
            start_err->code = AC_ENOMEM;
            snprintf(start_err->message, sizeof start_err->message, "out of memory");
            goto failed;
        }
        gp = own;
    }
    it->q = ac_agenerate(llm, it->prompt, gp, &cb, it, start_err);
    if (it->q) {
        ac_gen_params_free(own);
        return;
    }
failed:
    ac_gen_params_free(own);
    pthread_mutex_lock(&b->mu);
    it->done = 1;
    b->finished++;
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------------------------ */
/* Printing                                                            */
/* ------------------------------------------------------------------ */

/* One result line; 1 if the prompt was answered. */
static int batch_print(batch *b, batch_item *it, const ac_error *start_err)
{
    json_object *o = json_object_new_object(), *v;
    ac_error err;
    ac_status st;
    const ac_response *r = NULL;
    int ok;

    if (!o) {
        cli_errorf("out of memory");
        return 0;
    }
    json_object_object_add(o, "line", json_object_new_int64((int64_t)it->line));
    if (it->obj && json_object_object_get_ex(it->obj, "id", &v))
        json_object_object_add(o, "id", json_object_get(v));
    if (it->q) {
        ac_error_clear(&err);
        st = ac_request_status(it->q, &err);
        if (st != AC_OK && err.code == AC_OK)
            err.code = st;
        r = ac_request_response(it->q);
    } else {
        err = *start_err;
        st = err.code != AC_OK ? err.code : AC_ENOMEM;
        err.code = st;
    }
    ok = st == AC_OK;
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    if (!ok && (v = cli_error_object(&err)) != NULL)
        json_object_object_add(o, "error", v);
    if (r && (v = cli_response_object(r, b->ctx->o->schema_path != NULL)) != NULL)
        json_object_object_add(o, "response", v);
    cli_json_line(stdout, o);
    json_object_put(o);
    return ok;
}

int cli_cmd_batch(cli_ctx *ctx)
{
    const cli_opts *o = ctx->o;
    const char *file = ctx->argc > 0 ? ctx->argv[0] : "-";
    size_t conc = o->concurrency > 0 ? (size_t)o->concurrency : BATCH_DEFAULT_CONCURRENCY;
    size_t next_send = 0, next_print = 0, inflight = 0, failed = 0, i;
    ac_error *start_errs = NULL;
    cli_progress bar;
    pthread_condattr_t ca;
    char *text = NULL;
    batch b;
    int rc, interrupted = 0;

    memset(&b, 0, sizeof b);
    b.ctx = ctx;
    b.name = strcmp(file, "-") == 0 ? "standard input" : file;
    if (strcmp(file, "-") == 0) {
        if (ctx->argc == 0 && isatty(STDIN_FILENO))
            return cli_usage_error("batch: give a FILE of prompts (or - for standard input)");
        rc = cli_read_all(stdin, CLI_STDIN_MAX, 0, "standard input", &text, NULL);
    } else {
        FILE *f = fopen(file, "rb");
        if (!f) {
            cli_errorf("batch: %s: %s", file, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        rc = cli_read_all(f, CLI_STDIN_MAX, 0, file, &text, NULL);
        fclose(f);
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    pthread_mutex_init(&b.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b.cv, &ca);
    pthread_condattr_destroy(&ca);

    rc = batch_parse(&b, text);
    if (rc != CLI_EXIT_OK)
        goto done;
    rc = cli_gen_params(o, &b.gp);
    if (rc != CLI_EXIT_OK)
        goto done;
    if (o->system && ac_gen_params_set_system(b.gp, o->system) != AC_OK) {
        cli_errorf("--system: the library refused this system prompt");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    for (i = 0; i < b.n; i++)
        b.items[i].b = &b;
    start_errs = calloc(b.n, sizeof *start_errs);
    if (!start_errs) {
        cli_errorf("out of memory");
        rc = CLI_EXIT_REQUEST;
        goto done;
    }

    cli_interrupted = 0;
    cli_sigint_catch(1);
    cli_progress_start(&bar, b.n);
    cli_progress_draw(&bar, 0, 0);
    while (next_print < b.n) {
        struct timespec until;

        if (cli_interrupted && !interrupted) {
            /* Stop sending; cancel what runs; report what was sent. */
            interrupted = 1;
            for (i = next_print; i < next_send; i++)
                ac_request_cancel(b.items[i].q);
        }
        /* In flight: started and not done (done ones wait only for their
         * turn to be printed, and do not count). */
        pthread_mutex_lock(&b.mu);
        inflight = next_send - b.finished;
        pthread_mutex_unlock(&b.mu);
        while (!interrupted && next_send < b.n && inflight < conc) {
            batch_start(&b, &b.items[next_send], &start_errs[next_send]);
            next_send++;
            inflight++;
        }
        /* Print every result whose predecessors are printed. */
        pthread_mutex_lock(&b.mu);
        while (next_print < next_send && b.items[next_print].done) {
            batch_item *it = &b.items[next_print];
            pthread_mutex_unlock(&b.mu);
            cli_progress_clear(&bar);
            if (!batch_print(&b, it, &start_errs[next_print]))
                failed++;
            fflush(stdout);
            ac_request_free(it->q);
            it->q = NULL;
            next_print++;
            cli_progress_draw(&bar, next_print, failed);
            pthread_mutex_lock(&b.mu);
        }
        if (interrupted && next_print == next_send) {
            pthread_mutex_unlock(&b.mu);
            break;
        }
        if (next_print < next_send && !b.items[next_print].done &&
            (interrupted || next_send == b.n || next_send - b.finished >= conc)) {
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += BATCH_POLL_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&b.cv, &b.mu, &until);
        }
        pthread_mutex_unlock(&b.mu);
    }
    cli_progress_clear(&bar);
    rc = interrupted ? CLI_EXIT_INTERRUPT : failed ? CLI_EXIT_REQUEST : CLI_EXIT_OK;
    if (failed && !interrupted)
        cli_errorf("%zu of %zu prompts failed (their lines say why)", failed, b.n);

done:
    for (i = 0; i < b.n; i++) {
        ac_request_free(b.items[i].q);
        json_object_put(b.items[i].obj);
    }
    for (i = 0; i < b.n_llms; i++)
        ac_llm_free(b.llms[i].llm);
    free(b.llms);
    free(b.items);
    free(start_errs);
    ac_gen_params_free(b.gp);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    free(text);
    return rc;
}
