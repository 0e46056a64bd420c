/*
 * gwutil.c -- see gwutil.h.
 */
#include "gwutil.h"
#include "testutil.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static void *run(void *arg)
{
    gw_env *e = arg;
    e->rc = gw_run(e->g);
    return NULL;
}

int gwu_start(gw_env *e, const char *script, const char *server)
{
    memset(e, 0, sizeof *e);
    char err[512];
    e->mock = mock_server_start(script, 0, err, sizeof err);
    if (!e->mock) {
        fprintf(stderr, "mock_server_start: %s\n", err);
        return -1;
    }
    char text[8192];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = (\n"
             "  { name = \"mock\"; plugin = \"openai\"; base_url = \"%s/v1\";\n"
             "    api_key = \"sk-UPSTREAM-secret-0123\"; max_retries = 0; },\n"
             "  { name = \"anth\"; plugin = \"anthropic\"; base_url = \"%s\";\n"
             "    api_key = \"sk-UPSTREAM-secret-0123\"; max_retries = 0; }\n"
             ");\n"
             "server = { %s %s };\n",
             tu_plugin_path_list(), mock_server_url(e->mock), mock_server_url(e->mock),
             server && strstr(server, "access_log") ? "" : "access_log = \"\";",
             server ? server : "");
    e->conf_path = tu_write_temp(text);
    e->g = gw_new(e->conf_path, "127.0.0.1:0", err, sizeof err);
    if (!e->g) {
        fprintf(stderr, "gw_new: %s\n", err);
        mock_server_stop(e->mock);
        unlink(e->conf_path);
        free(e->conf_path);
        return -1;
    }
    snprintf(e->base, sizeof e->base, "http://127.0.0.1:%d", gw_port(e->g));
    pthread_create(&e->thread, NULL, run, e);
    return 0;
}

void gwu_stop(gw_env *e)
{
    if (!e->g)
        return;
    gw_stop(e->g);
    pthread_join(e->thread, NULL);
    gw_free(e->g);
    mock_server_stop(e->mock);
    unlink(e->conf_path);
    free(e->conf_path);
    memset(e, 0, sizeof *e);
}

typedef struct sink {
    char  *p;
    size_t n;
} sink;

static size_t on_bytes(char *p, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    char *np = realloc(s->p, s->n + len + 1);
    if (!np)
        return 0;
    memcpy(np + s->n, p, len);
    s->n += len;
    np[s->n] = '\0';
    s->p = np;
    return len;
}

gw_resp gwu_req(gw_env *e, const char *method, const char *path, const char *body,
                const char *const *headers)
{
    gw_resp r = {0};
    sink b = {0}, h = {0};
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", e->base, path);
    struct curl_slist *hl = NULL;
    if (body)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_bytes);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    r.curl_rc = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    r.body = b.p ? b.p : strdup("");
    r.len = b.n;
    r.headers = h.p ? h.p : strdup("");
    return r;
}

void gwu_free(gw_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

char *gwu_header(const gw_resp *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = r->headers; l && *l;) {
        const char *eol = strstr(l, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - l) > n && strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ')
                v++;
            return strndup(v, (size_t)(eol - v));
        }
        l = eol + 2;
    }
    return NULL;
}

json_object *gwu_json(const gw_resp *r) { return r->body ? json_tokener_parse(r->body) : NULL; }

size_t gwu_sse(const gw_resp *r, json_object **out, char **names, size_t max, int *done)
{
    size_t k = 0;
    *done = 0;
    char *copy = strdup(r->body ? r->body : "");
    char *save = NULL;
    for (char *ev = copy; ev; ev = save) {
        char *end = strstr(ev, "\n\n");
        save = end ? end + 2 : NULL;
        if (end)
            *end = '\0';
        const char *name = "", *data = NULL;
        for (char *line = strtok(ev, "\n"); line; line = strtok(NULL, "\n")) {
            if (strncmp(line, "event: ", 7) == 0)
                name = line + 7;
            else if (strncmp(line, "data: ", 6) == 0)
                data = line + 6;
        }
        if (!data)
            continue;
        if (strcmp(data, "[DONE]") == 0) {
            *done = 1;
            continue;
        }
        if (k < max) {
            out[k] = json_tokener_parse(data);
            if (names)
                names[k] = strdup(name);
            k++;
        }
    }
    free(copy);
    return k;
}

int gwu_wait_metric(gw_env *e, const char *line, int timeout_ms)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        gw_resp r = gwu_req(e, "GET", "/metrics", NULL, NULL);
        char want[512];
        snprintf(want, sizeof want, "\n%s\n", line);
        int found = r.body && strstr(r.body, want) != NULL;
        gwu_free(&r);
        if (found)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
            return 0;
        usleep(5000);
    }
}
