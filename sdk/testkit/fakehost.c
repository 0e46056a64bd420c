/*
 * fakehost.c -- a fake host for driving a provider plugin without a core.
 * See <abstractcore/testkit.h>.
 *
 * One ac_fake plays every opaque object of the ABI: the host functions
 * cast their first argument back to it.  Everything it records is bounded
 * only by memory; it allocates with the C library (not with the allocator
 * it hands the plugin, which tests make fail).
 */
#include <abstractcore/testkit.h>

#include <dlfcn.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kv {
    char *key, *value;
    int   type;          /* AC_SETTING_* */
    long long i;
    double    d;
} kv;

typedef struct text {
    char  *p;
    size_t len;
} text;

typedef struct fcall {
    int   key;
    char *id, *name;
    text  args;
    int   ends;
} fcall;

typedef struct fmsg {
    ac_message pub;
    ac_part   *parts;
    char      *joined;
} fmsg;

struct ac_fake {
    /* what the plugin sees */
    char          *name;
    kv            *settings;  size_t n_settings;
    kv            *env;       size_t n_env;
    long           fail_after;
    int            cancelled;
    ac_gen_request req;
    fmsg          *msgs;      size_t n_msgs;
    ac_tool_def   *tools;     size_t n_tools;
    ac_embed_request ereq;
    char         **etexts;    size_t n_etexts;
    /* what it did */
    char          *method, *url;
    ac_framing     framing;
    char         **headers;   size_t n_headers;   /* "Name: value" */
    text           body, out, reasoning;
    fcall         *calls;     size_t n_calls;
    long           in, outt;
    int            n_usage, n_finish;
    char          *finish, *raw, *model;
    char         **models;    size_t n_models;
    float         *vecs;      /* n_etexts * vdim, once vdim is known */
    unsigned char *vhave;
    size_t         vdim, vgot;
    ac_error       err;
    char          *secrets[8];      /* handed out by h_secret: scrubbed */
    void          *slot;
    int            secret_calls;
    char           default_env[64];
    const ac_provider *vt;          /* whose defaults settings fall back to */
};

/* The descriptor ac_fake_load returned last: new fakes take its defaults. */
static const ac_provider *_Atomic last_loaded;

/* The allocator the plugin gets fails on demand.  Its functions take no
 * fake, so the counter is the one the last ac_fake_fail_after on this
 * thread set. */
static _Thread_local long *fail_counter;

/* ------------------------------------------------------------------ */
/* Small helpers (C library memory: the fake's own)                     */
/* ------------------------------------------------------------------ */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *dup(const char *s) { return s ? dup_n(s, strlen(s)) : NULL; }

static int text_add(text *t, const char *s, size_t n)
{
    char *p = realloc(t->p, t->len + n + 1);
    if (!p)
        return -1;
    memcpy(p + t->len, s, n);
    t->len += n;
    p[t->len] = '\0';
    t->p = p;
    return 0;
}

static void text_free(text *t)
{
    free(t->p);
    t->p = NULL;
    t->len = 0;
}

static void set_str(char **slot, const char *s)
{
    free(*slot);
    *slot = dup(s);
}

static void grow(void **v, size_t n, size_t size)
{
    void *nv = realloc(*v, (n + 1) * size);
    if (nv)
        *v = nv;
}

/* ------------------------------------------------------------------ */
/* Building the fake                                                    */
/* ------------------------------------------------------------------ */

ac_fake *ac_fake_new(void)
{
    ac_fake *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = dup("fake");
    f->fail_after = -1;
    f->vt = last_loaded;
    f->req.struct_size = sizeof f->req;
    f->req.model = "";
    f->ereq.struct_size = sizeof f->ereq;
    f->ereq.model = "";
    f->in = f->outt = -1;
    f->err.retry_after_ms = -1;
    if (!f->name) {
        free(f);
        return NULL;
    }
    return f;
}

static void msg_free(fmsg *m)
{
    for (size_t i = 0; i < m->pub.n_parts; i++) {
        ac_part *p = &m->parts[i];
        free((char *)p->text);
        free((char *)p->mime_type);
        free((char *)p->data_base64);
        free((char *)p->url);
        free((char *)p->name);
        free((char *)p->id);
        free((char *)p->arguments);
    }
    free(m->parts);
    free(m->joined);
    free((char *)m->pub.name);
}

void ac_fake_reset(ac_fake *f)
{
    free(f->method);
    free(f->url);
    f->method = f->url = NULL;
    f->framing = AC_FRAMING_NONE;
    for (size_t i = 0; i < f->n_headers; i++)
        free(f->headers[i]);
    free(f->headers);
    f->headers = NULL;
    f->n_headers = 0;
    text_free(&f->body);
    text_free(&f->out);
    text_free(&f->reasoning);
    for (size_t i = 0; i < f->n_calls; i++) {
        free(f->calls[i].id);
        free(f->calls[i].name);
        text_free(&f->calls[i].args);
    }
    free(f->calls);
    f->calls = NULL;
    f->n_calls = 0;
    f->in = f->outt = -1;
    f->n_usage = f->n_finish = 0;
    free(f->finish);
    free(f->raw);
    free(f->model);
    f->finish = f->raw = f->model = NULL;
    for (size_t i = 0; i < f->n_models; i++)
        free(f->models[i]);
    free(f->models);
    f->models = NULL;
    f->n_models = 0;
    free(f->vecs);
    free(f->vhave);
    f->vecs = NULL;
    f->vhave = NULL;
    f->vdim = f->vgot = 0;
    memset(&f->err, 0, sizeof f->err);
    f->err.retry_after_ms = -1;
    f->slot = NULL;
}

void ac_fake_free(ac_fake *f)
{
    if (!f)
        return;
    ac_fake_reset(f);
    for (size_t i = 0; i < f->n_settings; i++) {
        free(f->settings[i].key);
        free(f->settings[i].value);
    }
    for (size_t i = 0; i < f->n_env; i++) {
        free(f->env[i].key);
        free(f->env[i].value);
    }
    free(f->settings);
    free(f->env);
    for (size_t i = 0; i < f->n_msgs; i++)
        msg_free(&f->msgs[i]);
    free(f->msgs);
    for (size_t i = 0; i < f->n_tools; i++) {
        free((char *)f->tools[i].name);
        free((char *)f->tools[i].description);
        free((char *)f->tools[i].parameters_json);
    }
    free(f->tools);
    for (size_t i = 0; i < f->n_etexts; i++)
        free(f->etexts[i]);
    free(f->etexts);
    free(f->name);
    for (size_t i = 0; i < 8; i++)
        free(f->secrets[i]);
    if (fail_counter == &f->fail_after)
        fail_counter = NULL;
    free(f);
}

static kv *kv_put(kv **v, size_t *n, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].key, key) == 0) {
            free((*v)[i].value);
            (*v)[i].value = NULL;
            return &(*v)[i];
        }
    kv *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    *v = nv;
    kv *e = &nv[*n];
    memset(e, 0, sizeof *e);
    if (!(e->key = dup(key)))
        return NULL;
    (*n)++;
    return e;
}

int ac_fake_set(ac_fake *f, const char *key, const char *value)
{
    kv *e = kv_put(&f->settings, &f->n_settings, key);
    if (!e || !(e->value = dup(value)))
        return -1;
    e->type = AC_SETTING_STRING;
    return 0;
}

int ac_fake_set_int(ac_fake *f, const char *key, long long value)
{
    kv *e = kv_put(&f->settings, &f->n_settings, key);
    if (!e)
        return -1;
    e->type = AC_SETTING_INT;
    e->i = value;
    return 0;
}

int ac_fake_set_bool(ac_fake *f, const char *key, int value)
{
    kv *e = kv_put(&f->settings, &f->n_settings, key);
    if (!e)
        return -1;
    e->type = AC_SETTING_BOOL;
    e->i = value != 0;
    return 0;
}

int ac_fake_set_double(ac_fake *f, const char *key, double value)
{
    kv *e = kv_put(&f->settings, &f->n_settings, key);
    if (!e)
        return -1;
    e->type = AC_SETTING_FLOAT;
    e->d = value;
    return 0;
}

int ac_fake_set_name(ac_fake *f, const char *name)
{
    char *n = dup(name);
    if (!n)
        return -1;
    free(f->name);
    f->name = n;
    return 0;
}

int ac_fake_setenv(ac_fake *f, const char *name, const char *value)
{
    kv *e = kv_put(&f->env, &f->n_env, name);
    if (!e || !(e->value = dup(value)))
        return -1;
    e->type = AC_SETTING_STRING;
    return 0;
}

void ac_fake_fail_after(ac_fake *f, long n)
{
    f->fail_after = n;
    fail_counter = &f->fail_after;
}
void ac_fake_cancel(ac_fake *f) { f->cancelled = 1; }

ac_gen_request *ac_fake_request(ac_fake *f) { return &f->req; }
ac_embed_request *ac_fake_embed_request(ac_fake *f) { return &f->ereq; }

int ac_fake_add_embed_text(ac_fake *f, const char *t)
{
    char **v = realloc(f->etexts, (f->n_etexts + 1) * sizeof *v);
    if (!v)
        return -1;
    f->etexts = v;
    if (!(v[f->n_etexts] = dup(t ? t : "")))
        return -1;
    f->ereq.n_texts = ++f->n_etexts;
    /* Vectors taken so far were for the old batch. */
    free(f->vecs);
    free(f->vhave);
    f->vecs = NULL;
    f->vhave = NULL;
    f->vdim = f->vgot = 0;
    return 0;
}

static int rejoin(fmsg *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->pub.n_parts; i++)
        if (m->parts[i].type == AC_PART_TEXT)
            n += m->parts[i].text_len;
    char *j = malloc(n + 1), *at = j;
    if (!j)
        return -1;
    for (size_t i = 0; i < m->pub.n_parts; i++)
        if (m->parts[i].type == AC_PART_TEXT) {
            memcpy(at, m->parts[i].text, m->parts[i].text_len);
            at += m->parts[i].text_len;
        }
    *at = '\0';
    free(m->joined);
    m->joined = j;
    m->pub.text = j;
    m->pub.text_len = n;
    return 0;
}

int ac_fake_add_part(ac_fake *f, const ac_part *p)
{
    if (!f->n_msgs)
        return -1;
    fmsg *m = &f->msgs[f->n_msgs - 1];
    ac_part *v = realloc(m->parts, (m->pub.n_parts + 1) * sizeof *v);
    if (!v)
        return -1;
    m->parts = v;
    ac_part *d = &v[m->pub.n_parts];
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->type = p->type;
    d->text_len = p->text ? (p->text_len ? p->text_len : strlen(p->text)) : 0;
    d->text = p->text ? dup_n(p->text, d->text_len) : NULL;
    d->mime_type = dup(p->mime_type);
    d->data_base64 = dup(p->data_base64);
    d->data_len = p->data_len;
    d->url = dup(p->url);
    d->name = dup(p->name);
    d->id = dup(p->id);
    d->arguments = dup(p->arguments);
    d->is_error = p->is_error;
    m->pub.n_parts++;
    return rejoin(m);
}

int ac_fake_add_message(ac_fake *f, ac_role role, const char *t)
{
    fmsg *v = realloc(f->msgs, (f->n_msgs + 1) * sizeof *v);
    if (!v)
        return -1;
    f->msgs = v;
    fmsg *m = &v[f->n_msgs++];
    memset(m, 0, sizeof *m);
    m->pub.struct_size = sizeof m->pub;
    m->pub.role = role;
    m->pub.text = "";
    f->req.n_messages = f->n_msgs;
    if (!t)
        return 0;
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_TEXT, .text = t, .text_len = strlen(t)};
    return ac_fake_add_part(f, &p);
}

int ac_fake_add_tool(ac_fake *f, const char *name, const char *description,
                     const char *parameters_json)
{
    ac_tool_def *v = realloc(f->tools, (f->n_tools + 1) * sizeof *v);
    if (!v)
        return -1;
    f->tools = v;
    ac_tool_def *t = &v[f->n_tools++];
    t->struct_size = sizeof *t;
    t->name = dup(name);
    t->description = dup(description);
    t->parameters_json = dup(parameters_json ? parameters_json : "{\"type\":\"object\"}");
    f->req.n_tools = f->n_tools;
    return t->name && t->parameters_json ? 0 : -1;
}

const ac_settings *ac_fake_settings(ac_fake *f) { return (const ac_settings *)(void *)f; }
ac_http_request *ac_fake_http(ac_fake *f) { return (ac_http_request *)(void *)f; }
ac_sink *ac_fake_sink(ac_fake *f) { return (ac_sink *)(void *)f; }
ac_model_list *ac_fake_models(ac_fake *f) { return (ac_model_list *)(void *)f; }
ac_call *ac_fake_call(ac_fake *f) { return (ac_call *)(void *)f; }
ac_embed_sink *ac_fake_embed_sink(ac_fake *f) { return (ac_embed_sink *)(void *)f; }

#define FAKE(x) ((ac_fake *)(void *)(x))
#define CFAKE(x) ((const ac_fake *)(const void *)(x))

/* ------------------------------------------------------------------ */
/* The host table                                                       */
/* ------------------------------------------------------------------ */

static int should_fail(void)
{
    if (!fail_counter || *fail_counter < 0)
        return 0;
    if (*fail_counter == 0)
        return 1;
    (*fail_counter)--;
    return 0;
}

/* Blocks the plugin holds, for ac_fake_allocations (every fake, every
 * thread: host->free takes no fake). */
static _Atomic long live_blocks;

static void *h_malloc(size_t n)
{
    void *p = should_fail() ? NULL : malloc(n ? n : 1);
    if (p)
        live_blocks++;
    return p;
}

static void *h_realloc(void *p, size_t n)
{
    void *q = should_fail() ? NULL : realloc(p, n ? n : 1);
    if (q && !p)
        live_blocks++;
    return q;
}

static void h_free(void *p)
{
    if (p)
        live_blocks--;
    free(p);
}

long ac_fake_allocations(void) { return live_blocks; }

static char *h_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = h_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Every occurrence of secret in msg reads "[redacted]" (cut to fit). */
static void scrub(char *msg, size_t cap, const char *secret)
{
    size_t n = strlen(secret), from = 0;
    char *at;
    if (n < 4)
        return;
    while ((at = strstr(msg + from, secret)) != NULL) {
        size_t pos = (size_t)(at - msg);
        char rest[sizeof ((ac_error *)0)->message];
        snprintf(rest, sizeof rest, "%s", at + n);
        snprintf(at, cap - pos, "[redacted]%s", rest);
        from = pos + 10 < strlen(msg) ? pos + 10 : strlen(msg);
    }
}

static ac_status h_fail(ac_call *c, ac_status code, ac_stage stage, const char *fmt, ...)
{
    ac_fake *f = FAKE(c);
    va_list ap;
    if (!f)
        return code;
    int http = f->err.http_status, retry = f->err.retryable;
    long after = f->err.retry_after_ms;
    int refining = f->err.code == AC_EHTTP && http;
    ac_status was = f->err.code;
    memset(&f->err, 0, sizeof f->err);
    f->err.code = code == AC_OK && refining ? was : code;
    f->err.stage = refining ? AC_STAGE_HTTP : stage;
    f->err.http_status = refining ? http : 0;
    f->err.retryable = refining ? retry : 0;
    f->err.retry_after_ms = refining ? after : -1;
    va_start(ap, fmt);
    vsnprintf(f->err.message, sizeof f->err.message, fmt, ap);
    va_end(ap);
    /* As the core does: no key the instance uses in any message. */
    for (size_t i = 0; i < 8 && f->secrets[i]; i++)
        scrub(f->err.message, sizeof f->err.message, f->secrets[i]);
    return code;
}

static void h_set_retryable(ac_call *c, int r)
{
    if (c)
        FAKE(c)->err.retryable = r != 0;
}

static void h_set_http_status(ac_call *c, int status)
{
    if (c && status >= 100 && status <= 599)
        FAKE(c)->err.http_status = status;
}

static int h_cancelled(ac_call *c) { return c && FAKE(c)->cancelled; }

static void h_log(ac_call *c, int level, const char *fmt, ...)
{
    (void)c, (void)level, (void)fmt;
}

static kv *setting(const ac_settings *s, const char *key)
{
    ac_fake *f = FAKE(s);
    for (size_t i = 0; i < f->n_settings; i++)
        if (strcmp(f->settings[i].key, key) == 0)
            return &f->settings[i];
    return NULL;
}

static int h_setting_string(const ac_settings *s, const char *key, const char **out)
{
    kv *e = setting(s, key);
    const ac_provider *d = CFAKE(s)->vt;
    /* As the core: the descriptor's defaults stand in for these two. */
    if (!e && d && !strcmp(key, "base_url") && d->default_base_url) {
        *out = d->default_base_url;
        return 1;
    }
    if (!e && d && !strcmp(key, "default_model") && d->default_model) {
        *out = d->default_model;
        return 1;
    }
    if (!e)
        return 0;
    if (e->type != AC_SETTING_STRING)
        return -1;
    *out = e->value;
    return 1;
}

static int h_setting_int(const ac_settings *s, const char *key, long long *out)
{
    kv *e = setting(s, key);
    if (!e)
        return 0;
    if (e->type != AC_SETTING_INT)
        return -1;
    *out = e->i;
    return 1;
}

static int h_setting_bool(const ac_settings *s, const char *key, int *out)
{
    kv *e = setting(s, key);
    if (!e)
        return 0;
    if (e->type != AC_SETTING_BOOL)
        return -1;
    *out = (int)e->i;
    return 1;
}

static int h_setting_double(const ac_settings *s, const char *key, double *out)
{
    kv *e = setting(s, key);
    if (!e)
        return 0;
    if (e->type == AC_SETTING_INT)
        *out = (double)e->i;
    else if (e->type == AC_SETTING_FLOAT)
        *out = e->d;
    else
        return -1;
    return 1;
}

static int h_list_count(const ac_settings *s, const char *key)
{
    return setting(s, key) ? -1 : 0; /* lists are not faked */
}

static const char *h_list_item(const ac_settings *s, const char *key, int i)
{
    (void)s, (void)key, (void)i;
    return NULL;
}

static int h_setting_type(const ac_settings *s, const char *key)
{
    kv *e = setting(s, key);
    return e ? e->type : AC_SETTING_ABSENT;
}

static const char *h_settings_name(const ac_settings *s) { return FAKE(s)->name; }

static const char *fake_getenv(const ac_fake *f, const char *name)
{
    for (size_t i = 0; i < f->n_env; i++)
        if (strcmp(f->env[i].key, name) == 0)
            return f->env[i].value;
    return NULL;
}

/* The documented order: api_key, api_key_file (not faked), api_key_env,
 * then the plugin's default variable. */
static ac_status h_secret(const ac_settings *s, const char *default_env, char **key,
                          ac_call *c)
{
    *key = NULL;
    ac_fake *f = FAKE(s);
    const char *v;
    f->secret_calls++;
    snprintf(f->default_env, sizeof f->default_env, "%s", default_env ? default_env : "");
    const char *found = NULL;
    if (h_setting_string(s, "api_key", &v) == 1 && *v) {
        found = v;
    } else if (h_setting_string(s, "api_key_env", &v) == 1 && *v) {
        if (!(found = fake_getenv(f, v)))
            return h_fail(c, AC_ECONFIG, AC_STAGE_CONFIG, "provider '%s': environment "
                          "variable %s (api_key_env) is not set", f->name, v);
    } else if (default_env) {
        found = fake_getenv(f, default_env);
    }
    if (!found)
        return AC_OK;
    for (size_t i = 0; i < 8; i++)
        if (!f->secrets[i] || strcmp(f->secrets[i], found) == 0) {
            if (!f->secrets[i])
                f->secrets[i] = dup(found);
            break;
        }
    if (!(*key = h_strdup(found)))
        return h_fail(c, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    return AC_OK;
}

static struct json_object *h_json_parse(ac_call *c, const char *t, size_t len, const char *what)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL;
    if (!tok) {
        h_fail(c, AC_ENOMEM, AC_STAGE_JSON, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, t, (int)len);
    if (json_tokener_get_error(tok) == json_tokener_continue)
        o = json_tokener_parse_ex(tok, "", 1);
    size_t end = json_tokener_get_parse_end(tok);
    while (o && end < len && strchr(" \t\r\n", t[end]))
        end++;
    if (!o || end != len) {
        json_object_put(o);
        o = NULL;
        h_fail(c, AC_EJSON, AC_STAGE_JSON, "%s: invalid JSON", what ? what : "JSON");
    }
    json_tokener_free(tok);
    return o;
}

static const ac_message *h_message(const ac_gen_request *req, size_t i)
{
    const ac_fake *f = (const ac_fake *)(const void *)((const char *)req - offsetof(ac_fake, req));
    return i < f->n_msgs ? &f->msgs[i].pub : NULL;
}

static const ac_part *h_message_part(const ac_message *m, size_t i)
{
    const fmsg *fm = (const fmsg *)(const void *)((const char *)m - offsetof(fmsg, pub));
    return i < m->n_parts ? &fm->parts[i] : NULL;
}

static const ac_tool_def *h_tool(const ac_gen_request *req, size_t i)
{
    const ac_fake *f = (const ac_fake *)(const void *)((const char *)req - offsetof(ac_fake, req));
    return i < f->n_tools ? &f->tools[i] : NULL;
}

static ac_status h_http_set(ac_http_request *rq, const char *method, const char *url,
                            ac_framing framing, ac_call *c)
{
    ac_fake *f = FAKE(rq);
    if (!method || !url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return h_fail(c, AC_EINVAL, AC_STAGE_REQUEST, "bad method or URL");
    set_str(&f->method, method);
    set_str(&f->url, url);
    f->framing = framing;
    return f->method && f->url ? AC_OK : h_fail(c, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
}

static ac_status h_http_header(ac_http_request *rq, const char *name, const char *value,
                               ac_call *c)
{
    ac_fake *f = FAKE(rq);
    if (!name || !*name || !value || strpbrk(name, ":\r\n") || strpbrk(value, "\r\n"))
        return h_fail(c, AC_EINVAL, AC_STAGE_REQUEST, "bad header");
    grow((void **)&f->headers, f->n_headers, sizeof *f->headers);
    char *line = malloc(strlen(name) + strlen(value) + 3);
    if (!line)
        return h_fail(c, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    sprintf(line, "%s: %s", name, value);
    f->headers[f->n_headers++] = line;
    return AC_OK;
}

static ac_status h_http_body(ac_http_request *rq, const char *body, size_t len, ac_call *c)
{
    ac_fake *f = FAKE(rq);
    text_free(&f->body);
    if (text_add(&f->body, body ? body : "", body ? len : 0) != 0)
        return h_fail(c, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    return AC_OK;
}

static ac_status h_emit_text(ac_sink *k, const char *s, size_t n)
{
    if (FAKE(k)->cancelled)
        return AC_ECANCELED;
    return s && n && text_add(&FAKE(k)->out, s, n) ? AC_ENOMEM : AC_OK;
}

static ac_status h_emit_reasoning(ac_sink *k, const char *s, size_t n)
{
    return s && n && text_add(&FAKE(k)->reasoning, s, n) ? AC_ENOMEM : AC_OK;
}

static fcall *find_call(ac_fake *f, int key)
{
    for (size_t i = 0; i < f->n_calls; i++)
        if (f->calls[i].key == key)
            return &f->calls[i];
    fcall *v = realloc(f->calls, (f->n_calls + 1) * sizeof *v);
    if (!v)
        return NULL;
    f->calls = v;
    fcall *c = &v[f->n_calls++];
    memset(c, 0, sizeof *c);
    c->key = key;
    return c;
}

static ac_status h_emit_tool_call(ac_sink *k, int key, const char *id, const char *name,
                                  const char *args, size_t n, int complete)
{
    fcall *c = find_call(FAKE(k), key);
    if (!c)
        return AC_ENOMEM;
    if (id && *id && !c->id)
        c->id = dup(id);
    if (name && *name && !c->name)
        c->name = dup(name);
    if (complete)
        text_free(&c->args);
    if (args && n && text_add(&c->args, args, n))
        return AC_ENOMEM;
    return AC_OK;
}

static ac_status h_emit_tool_call_end(ac_sink *k, int key)
{
    fcall *c = find_call(FAKE(k), key);
    if (c)
        c->ends++;
    return AC_OK;
}

static ac_status h_emit_usage(ac_sink *k, long in, long out)
{
    ac_fake *f = FAKE(k);
    if (in >= 0)
        f->in = in;
    if (out >= 0)
        f->outt = out;
    f->n_usage++;
    return AC_OK;
}

static ac_status h_emit_finish(ac_sink *k, const char *norm, const char *raw)
{
    ac_fake *f = FAKE(k);
    set_str(&f->finish, norm ? norm : "");
    set_str(&f->raw, raw ? raw : "");
    f->n_finish++;
    return AC_OK;
}

static ac_status h_emit_model(ac_sink *k, const char *model)
{
    set_str(&FAKE(k)->model, model ? model : "");
    return AC_OK;
}

static void **h_stream_slot(ac_sink *k) { return &FAKE(k)->slot; }

static ac_status h_models_add(ac_model_list *l, const char *id)
{
    ac_fake *f = FAKE(l);
    grow((void **)&f->models, f->n_models, sizeof *f->models);
    char *d = dup(id);
    if (!d)
        return AC_ENOMEM;
    f->models[f->n_models++] = d;
    return AC_OK;
}

/* ---- embeddings ---- */

static const char *h_embed_text(const ac_embed_request *req, size_t i, size_t *len)
{
    const ac_fake *f = (const ac_fake *)(const void *)((const char *)req -
                                                       offsetof(ac_fake, ereq));
    if (i >= f->n_etexts)
        return NULL;
    if (len)
        *len = strlen(f->etexts[i]);
    return f->etexts[i];
}

/* The core's rules (core/embed_sink.c), so a plugin tested here meets
 * the same refusals. */
static ac_status h_embed_vector(ac_embed_sink *k, size_t index, const float *v, size_t dim)
{
    ac_fake *f = FAKE(k);
    ac_call *c = ac_fake_call(f);
    if (f->cancelled)
        return AC_ECANCELED;
    if (index >= f->n_etexts)
        return h_fail(c, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                      "vector %zu is out of range: the batch has %zu texts", index, f->n_etexts);
    if (!v || dim == 0 || dim > AC_EMBED_MAX_DIM)
        return h_fail(c, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "vector %zu has %zu values", index,
                      v ? dim : 0);
    if (!f->vdim) {
        f->vecs = calloc(f->n_etexts, dim * sizeof *f->vecs);
        f->vhave = calloc(f->n_etexts, 1);
        if (!f->vecs || !f->vhave) {
            free(f->vecs);
            free(f->vhave);
            f->vecs = NULL;
            f->vhave = NULL;
            return h_fail(c, AC_ENOMEM, AC_STAGE_PROTOCOL, "out of memory");
        }
        f->vdim = dim;
    } else if (dim != f->vdim) {
        return h_fail(c, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                      "vector %zu has %zu values, the batch's first had %zu", index, dim,
                      f->vdim);
    }
    if (f->vhave[index])
        return h_fail(c, AC_EPROTOCOL, AC_STAGE_PROTOCOL, "vector %zu was given twice", index);
    for (size_t i = 0; i < dim; i++)
        if (!isfinite(v[i]))
            return h_fail(c, AC_EPROTOCOL, AC_STAGE_PROTOCOL,
                          "vector %zu: value %zu is not a finite number", index, i);
    memcpy(f->vecs + index * dim, v, dim * sizeof *v);
    f->vhave[index] = 1;
    f->vgot++;
    return AC_OK;
}

static ac_status h_embed_usage(ac_embed_sink *k, long input_tokens)
{
    return h_emit_usage((ac_sink *)(void *)k, input_tokens, -1);
}

static ac_status h_embed_model(ac_embed_sink *k, const char *model)
{
    return h_emit_model((ac_sink *)(void *)k, model);
}

static const ac_host_api fake_host = {
    .struct_size = sizeof(ac_host_api),
    .abi_major = AC_ABI_MAJOR,
    .abi_minor = AC_ABI_MINOR,
    .fail = h_fail,
    .set_retryable = h_set_retryable,
    .set_http_status = h_set_http_status,
    .cancelled = h_cancelled,
    .log = h_log,
    .malloc = h_malloc,
    .realloc = h_realloc,
    .free = h_free,
    .strdup = h_strdup,
    .setting_string = h_setting_string,
    .setting_int = h_setting_int,
    .setting_bool = h_setting_bool,
    .setting_double = h_setting_double,
    .setting_list_count = h_list_count,
    .setting_list_item = h_list_item,
    .setting_type = h_setting_type,
    .settings_name = h_settings_name,
    .secret = h_secret,
    .json_parse = h_json_parse,
    .message = h_message,
    .message_part = h_message_part,
    .tool = h_tool,
    .http_set = h_http_set,
    .http_header = h_http_header,
    .http_body = h_http_body,
    .emit_text = h_emit_text,
    .emit_reasoning = h_emit_reasoning,
    .emit_tool_call = h_emit_tool_call,
    .emit_tool_call_end = h_emit_tool_call_end,
    .emit_usage = h_emit_usage,
    .emit_finish = h_emit_finish,
    .emit_model = h_emit_model,
    .stream_slot = h_stream_slot,
    .models_add = h_models_add,
    .embed_text = h_embed_text,
    .embed_vector = h_embed_vector,
    .embed_usage = h_embed_usage,
    .embed_model = h_embed_model,
};

const ac_host_api *ac_fake_host(void) { return &fake_host; }

const ac_provider *ac_fake_load(const char *path, void **dl)
{
    ac_provider_entry_fn entry;
    void *sym;
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl) {
        fprintf(stderr, "ac_fake_load: %s\n", dlerror());
        return NULL;
    }
    sym = dlsym(*dl, AC_PROVIDER_ENTRY_SYMBOL);
    if (!sym) {
        fprintf(stderr, "ac_fake_load: %s: no %s\n", path, AC_PROVIDER_ENTRY_SYMBOL);
        return NULL;
    }
    /* POSIX: a function pointer may be copied out of dlsym's void *. */
    memcpy(&entry, &sym, sizeof entry);
    const ac_provider *d = entry(&fake_host);
    last_loaded = d;
    return d;
}

void ac_fake_set_provider(ac_fake *f, const ac_provider *d) { f->vt = d; }

/* ------------------------------------------------------------------ */
/* Reading what the plugin did                                          */
/* ------------------------------------------------------------------ */

static const char *or_empty(const char *s) { return s ? s : ""; }

const char *ac_fake_method(const ac_fake *f) { return or_empty(f->method); }
const char *ac_fake_url(const ac_fake *f) { return or_empty(f->url); }
ac_framing ac_fake_framing(const ac_fake *f) { return f->framing; }

const char *ac_fake_header(const ac_fake *f, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < f->n_headers; i++)
        if (strncasecmp(f->headers[i], name, n) == 0 && f->headers[i][n] == ':')
            return f->headers[i] + n + 2;
    return NULL;
}

const char *ac_fake_body(const ac_fake *f, size_t *len)
{
    if (len)
        *len = f->body.len;
    return or_empty(f->body.p);
}

const char *ac_fake_text(const ac_fake *f) { return or_empty(f->out.p); }
const char *ac_fake_reasoning(const ac_fake *f) { return or_empty(f->reasoning.p); }
size_t ac_fake_call_count(const ac_fake *f) { return f->n_calls; }
const char *ac_fake_call_id(const ac_fake *f, size_t i)
{
    return i < f->n_calls ? or_empty(f->calls[i].id) : NULL;
}
const char *ac_fake_call_name(const ac_fake *f, size_t i)
{
    return i < f->n_calls ? or_empty(f->calls[i].name) : NULL;
}
const char *ac_fake_call_args(const ac_fake *f, size_t i)
{
    return i < f->n_calls ? or_empty(f->calls[i].args.p) : NULL;
}
int ac_fake_call_ends(const ac_fake *f, size_t i)
{
    return i < f->n_calls ? f->calls[i].ends : 0;
}
long ac_fake_input_tokens(const ac_fake *f) { return f->in; }
long ac_fake_output_tokens(const ac_fake *f) { return f->outt; }
int ac_fake_usage_reports(const ac_fake *f) { return f->n_usage; }
const char *ac_fake_finish(const ac_fake *f) { return or_empty(f->finish); }
const char *ac_fake_raw_finish(const ac_fake *f) { return or_empty(f->raw); }
int ac_fake_finish_reports(const ac_fake *f) { return f->n_finish; }
const char *ac_fake_model(const ac_fake *f) { return or_empty(f->model); }
size_t ac_fake_model_count(const ac_fake *f) { return f->n_models; }
const char *ac_fake_model_id(const ac_fake *f, size_t i)
{
    return i < f->n_models ? f->models[i] : NULL;
}
size_t ac_fake_embed_count(const ac_fake *f) { return f->vgot; }
size_t ac_fake_embed_dim(const ac_fake *f) { return f->vdim; }
const float *ac_fake_embed_vector(const ac_fake *f, size_t i)
{
    return i < f->n_etexts && f->vhave && f->vhave[i] ? f->vecs + i * f->vdim : NULL;
}
const ac_error *ac_fake_error(const ac_fake *f) { return &f->err; }
void **ac_fake_slot(ac_fake *f) { return &f->slot; }
int ac_fake_secret_calls(const ac_fake *f) { return f->secret_calls; }
const char *ac_fake_secret_default_env(const ac_fake *f) { return f->default_env; }

void ac_fake_http_error(ac_fake *f, int status)
{
    memset(&f->err, 0, sizeof f->err);
    f->err.code = AC_EHTTP;
    f->err.stage = AC_STAGE_HTTP;
    f->err.http_status = status;
    f->err.retryable = status == 408 || status == 409 || status == 429 || status >= 500;
    f->err.retry_after_ms = -1;
    snprintf(f->err.message, sizeof f->err.message, "HTTP %d", status);
}
