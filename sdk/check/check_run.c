/*
 * check_run.c -- phase 2's machinery: the core that loads the plugin
 * through the real loader, a mock per scenario, one request recorded
 * event by event, and the raw bytes of a reply.
 *
 * The core is opened on a configuration written to a private temporary
 * folder that names only this plugin, by absolute path, with an empty
 * plugin_path: nothing installed on the machine takes part.  While the
 * scenarios run, stderr (fd 2) goes to a file there, so every log line
 * the core and the plugin write can be searched for the key at the end.
 */
#include "check.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the key ---- */

/* A key no one has: random, so it cannot match any text by chance. */
void check_make_secret(checker *c)
{
    unsigned char r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, r, sizeof r) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof r) { /* still unique enough for a test */
        unsigned long long x = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
        for (size_t i = 0; i < sizeof r; i++, x = x * 6364136223846793005ULL + 1)
            r[i] = (unsigned char)(x >> 56);
    }
    int n = snprintf(c->secret, sizeof c->secret, "sk-check-");
    for (size_t i = 0; i < sizeof r; i++)
        n += snprintf(c->secret + n, sizeof c->secret - (size_t)n, "%02x", r[i]);
}

verdict check_no_secret(const checker *c, const char *what, const char *text, size_t len)
{
    if (text && memmem(text, len, c->secret, strlen(c->secret)))
        return check_fail("the API key appears in %s", what);
    return NULL;
}

/* ---- the core ---- */

int check_core_open(checker *c)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/acore-check-XXXXXX");
    if (!mkdtemp(c->dir)) {
        fprintf(stderr, "acore-provider-check: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    check_str conf = {0};
    check_str_addf(&conf, "abstractcore = { plugin_path = [ ]; };\n"
                   "providers = ( { name = \"check\"; plugin = ");
    check_quote(&conf, c->plugin, strlen(c->plugin));
    check_str_addf(&conf, ";\n  api_key = \"%s\"; max_retries = 0;\n%s} );\n", c->secret,
                   c->sets);
    char path[128];
    snprintf(path, sizeof path, "%s/check.conf", c->dir);
    FILE *f = fopen(path, "w");
    int ok = f && fwrite(conf.p, 1, conf.len, f) == conf.len;
    if (f && fclose(f) != 0)
        ok = 0;
    check_str_free(&conf);
    if (!ok) {
        fprintf(stderr, "acore-provider-check: cannot write %s\n", path);
        return -1;
    }
    ac_error err;
    if (ac_core_open(&c->core, path, &err) != AC_OK) {
        check_report(c, "core", check_fail("ac_core_open: %s", err.message));
        return -1;
    }
    /* The loader's verdict on the plugin: a refusal is the first thing a
     * user would meet. */
    ac_llm *llm = ac_llm_create(c->core, "check", c->model, NULL, &err);
    if (!llm) {
        check_report(c, "loader", check_fail("%s", err.message));
        ac_core_close(c->core);
        c->core = NULL;
        return -1;
    }
    ac_llm_free(llm);
    check_report(c, "loader", NULL);

    snprintf(path, sizeof path, "%s/stderr.log", c->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    fflush(stderr);
    c->saved_stderr = fd >= 0 ? dup(2) : -1;
    if (c->saved_stderr >= 0)
        dup2(fd, 2);
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Everything written to stderr while the scenarios ran: no key in it;
 * shown with --verbose. */
static void log_review(checker *c)
{
    char path[128];
    snprintf(path, sizeof path, "%s/stderr.log", c->dir);
    FILE *f = fopen(path, "r");
    check_str log = {0};
    char buf[4096];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        check_str_add(&log, buf, n);
    if (f)
        fclose(f);
    if (check_selected(c, "log"))
        check_report(c, "log", check_no_secret(c, "what the core and the plugin logged",
                                                log.p, log.len));
    if (c->verbose && log.len)
        fprintf(stderr, "---- logged while the scenarios ran ----\n%s"
                "---- end of log ----\n", log.p);
    check_str_free(&log);
    remove(path);
}

void check_core_close(checker *c)
{
    ac_core_close(c->core);
    c->core = NULL;
    if (c->saved_stderr >= 0) {
        fflush(stderr);
        dup2(c->saved_stderr, 2);
        close(c->saved_stderr);
        c->saved_stderr = -1;
        log_review(c);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/check.conf", c->dir);
    remove(path);
    rmdir(c->dir);
}

/* ---- one mock, one llm ---- */

int check_run_start(checker *c, run *r, const scene *s, const char *llm_opts,
                    const char **why)
{
    static char msg[600];
    memset(r, 0, sizeof r[0]);
    char errbuf[400];
    r->mock = mock_server_start(s->script.p ? s->script.p : "", 0, errbuf, sizeof errbuf);
    if (!r->mock) {
        snprintf(msg, sizeof msg, "the mock refused the scene's script: %s", errbuf);
        *why = msg;
        return -1;
    }
    char base[256];
    snprintf(base, sizeof base, "%s%s", mock_server_url(r->mock), c->base_suffix);
    ac_options *o = ac_options_new();
    int bad = !o || ac_options_set(o, "base_url", base) != AC_OK;
    /* llm_opts: "key=value key=value" */
    char opts[256];
    snprintf(opts, sizeof opts, "%s", llm_opts ? llm_opts : "");
    char *save = NULL;
    for (char *t = strtok_r(opts, " ", &save); t && !bad; t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '=');
        if (eq) {
            *eq = '\0';
            bad = ac_options_set(o, t, eq + 1) != AC_OK;
        }
    }
    ac_error err;
    r->llm = bad ? NULL : ac_llm_create(c->core, "check", c->model, o, &err);
    ac_options_free(o);
    if (!r->llm) {
        snprintf(msg, sizeof msg, "ac_llm_create: %s", bad ? "out of memory" : err.message);
        *why = msg;
        mock_server_stop(r->mock);
        r->mock = NULL;
        return -1;
    }
    return 0;
}

void check_run_stop(run *r)
{
    ac_llm_free(r->llm);
    mock_server_stop(r->mock);
    memset(r, 0, sizeof r[0]);
}

/* ---- recording a request ---- */

void seen_init(seen *w)
{
    memset(w, 0, sizeof *w);
    w->in = w->out = -1;
    w->status = AC_OK;
}

void seen_free(seen *w)
{
    check_str_free(&w->events);
    check_str_free(&w->text);
    check_str_free(&w->tool_args);
    ac_response_free(w->resp);
    ac_request_free(w->q);
    memset(w, 0, sizeof *w);
}

static void on_event(ac_request *q, const ac_chunk *ch, void *user)
{
    (void)q;
    seen *w = user;
    check_str *e = &w->events;
    if (w->n_finish || w->n_error)
        w->order_bad = 1;
    switch (ch->type) {
    case AC_EVENT_TEXT:
        check_str_add(e, "text|", 5);
        check_str_add(e, ch->text, ch->len);
        check_str_add(&w->text, ch->text, ch->len);
        w->n_text++;
        atomic_store((_Atomic int *)&w->first_text, 1);
        break;
    case AC_EVENT_REASONING:
        check_str_add(e, "reasoning|", 10);
        check_str_add(e, ch->data, ch->data_len);
        break;
    case AC_EVENT_TOOL_CALL_START:
        check_str_addf(e, "tool_start|%d|%s|%s", ch->index,
                       ch->tool_call_id ? ch->tool_call_id : "", ch->tool_name ? ch->tool_name : "");
        break;
    case AC_EVENT_TOOL_CALL_DELTA:
        check_str_addf(e, "tool_delta|%d|", ch->index);
        check_str_add(e, ch->data, ch->data_len);
        break;
    case AC_EVENT_TOOL_CALL_END:
        check_str_addf(e, "tool_end|%d|%s|%s|%d|", ch->index,
                       ch->tool_call_id ? ch->tool_call_id : "",
                       ch->tool_name ? ch->tool_name : "", ch->truncated);
        check_str_add(e, ch->data, ch->data_len);
        if (!w->n_tool_end++) {
            snprintf(w->tool_name, sizeof w->tool_name, "%s", ch->tool_name ? ch->tool_name : "");
            check_str_add(&w->tool_args, ch->data ? ch->data : "", ch->data ? ch->data_len : 0);
        }
        break;
    case AC_EVENT_USAGE:
        check_str_addf(e, "usage|%ld|%ld", ch->input_tokens, ch->output_tokens);
        w->in = ch->input_tokens;
        w->out = ch->output_tokens;
        w->n_usage++;
        break;
    case AC_EVENT_FINISH:
        check_str_addf(e, "finish|%s|%s", ch->finish_reason ? ch->finish_reason : "",
                       ch->raw_finish_reason ? ch->raw_finish_reason : "");
        snprintf(w->finish, sizeof w->finish, "%s", ch->finish_reason ? ch->finish_reason : "");
        w->n_finish++;
        break;
    case AC_EVENT_ERROR:
        check_str_addf(e, "error|%d|%s", ch->error ? (int)ch->error->code : 0,
                       ch->error ? ch->error->message : "");
        w->n_error++;
        break;
    default:
        check_str_addf(e, "event %d", (int)ch->type);
        break;
    }
    check_str_add(e, "\n", 1);
}

static void on_done(ac_request *q, ac_status st, void *user)
{
    seen *w = user;
    w->n_done++;
    w->status = ac_request_status(q, &w->err);
    if (w->status != st)
        w->order_bad = 1;
    w->resp = ac_request_take_response(q);
}

const ac_callbacks check_recorder = {
    .version = AC_CALLBACKS_VERSION,
    .on_event = on_event,
    .on_done = on_done,
};

int check_request(checker *c, run *r, int stream, const char *tool, seen *w, const char **why)
{
    (void)c;
    ac_gen_params *p = ac_gen_params_new();
    if (!p || ac_gen_params_set_stream(p, stream) != AC_OK ||
        (tool && ac_gen_params_add_tool(p, tool, "The weather in a city.",
                                        "{\"type\":\"object\",\"properties\":{\"city\":"
                                        "{\"type\":\"string\"}},\"required\":[\"city\"]}")
                     != AC_OK)) {
        ac_gen_params_free(p);
        *why = "out of memory";
        return -1;
    }
    ac_error err;
    w->q = ac_agenerate(r->llm, "Say hello.", p, &check_recorder, w, &err);
    ac_gen_params_free(p);
    if (!w->q) {
        w->status = err.code;
        w->err = err;
        w->n_done = 1;
        return 0;
    }
    if (ac_request_wait(w->q, 30000) != AC_OK) {
        ac_request_cancel(w->q);
        ac_request_wait(w->q, -1);
        *why = "no outcome within 30 s";
        return -1;
    }
    return 0;
}

/* ---- raw bytes ---- */

static size_t capture_write(char *p, size_t size, size_t n, void *user)
{
    check_str *out = user;
    if (out->len + size * n > 64u << 20)
        return 0; /* no scenario's reply is this large */
    check_str_add(out, p, size * n);
    return size * n;
}

int check_capture(checker *c, const char *mock_url, const check_str *body, check_str *out,
                  long *status, const char **why)
{
    static char msg[CURL_ERROR_SIZE + 64];
    char url[512];
    snprintf(url, sizeof url, "%s%s%s", mock_url, c->base_suffix, c->req_path);
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    char cerr[CURL_ERROR_SIZE] = "";
    int rc = -1;
    if (h && hd) {
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->req_method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->p ? body->p : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, capture_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        if (curl_easy_perform(h) == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
            rc = 0;
        } else {
            snprintf(msg, sizeof msg, "fetching the mock's reply: %s", cerr);
            *why = msg;
        }
    } else {
        *why = "out of memory";
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return rc;
}
