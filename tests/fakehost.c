/*
 * fakehost.c -- a fake host table for driving a provider plugin directly.
 * See fakehost.h.  It relies on json-c for the host's strict parser, as
 * the real host does.
 */
#include "fakehost.h"
#include "testutil.h"

#include <dlfcn.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long fh_fail_after = -1;
int  fh_secret_calls;
char fh_default_env[64];

/* --- memory ---------------------------------------------------------- */

/* Counts down to the allocation that fails. */
static int fakehost_should_fail(void)
{
    if (fh_fail_after == 0)
        return 1;
    if (fh_fail_after > 0)
        fh_fail_after--;
    return 0;
}

static void *fakehost_malloc(size_t n)
{
    return fakehost_should_fail() ? NULL : malloc(n);
}

static void *fakehost_realloc(void *p, size_t n)
{
    return fakehost_should_fail() ? NULL : realloc(p, n);
}

static char *fakehost_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = fakehost_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void fakehost_log(int level, const char *provider, const char *fmt,
                         ...)
{
    (void)level;
    (void)provider;
    (void)fmt;
}

/* --- settings -------------------------------------------------------- */

static int fakehost_setting_string(const ac_settings *s, const char *key,
                                   const char **out)
{
    const fh_settings *fs = (const fh_settings *)s;
    for (int i = 0; i < 16 && fs->kv[i][0]; i++) {
        if (strcmp(fs->kv[i][0], key) == 0) {
            if (strcmp(fs->kv[i][1], "#INT") == 0)
                return -1;
            *out = fs->kv[i][1];
            return 1;
        }
    }
    return 0;
}

/* Only strings are faked: every other type is absent. */
static int fakehost_setting_int(const ac_settings *s, const char *k,
                                long long *o)
{
    (void)s; (void)k; (void)o;
    return 0;
}

static int fakehost_setting_bool(const ac_settings *s, const char *k, int *o)
{
    (void)s; (void)k; (void)o;
    return 0;
}

static int fakehost_setting_double(const ac_settings *s, const char *k,
                                   double *o)
{
    (void)s; (void)k; (void)o;
    return 0;
}

static int fakehost_list_count(const ac_settings *s, const char *k)
{
    (void)s; (void)k;
    return 0;
}

static const char *fakehost_list_item(const ac_settings *s, const char *k,
                                      int i)
{
    (void)s; (void)k; (void)i;
    return NULL;
}

static const char *fakehost_settings_name(const ac_settings *s)
{
    return ((const fh_settings *)s)->name;
}

static void fakehost_error_set(ac_error *err, ac_status code, ac_stage stage,
                               const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->code = code;
    err->stage = stage;
    err->retry_after_ms = -1;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static const char *fakehost_getenv(const fh_settings *fs, const char *name)
{
    for (int i = 0; i < 4 && fs->env[i][0]; i++)
        if (strcmp(fs->env[i][0], name) == 0)
            return fs->env[i][1];
    return NULL;
}

/* A copy of a found key; out of memory is an error, never "no key". */
static char *fakehost_secret_copy(const char *v, ac_error *err)
{
    char *d = fakehost_strdup(v);
    if (!d)
        fakehost_error_set(err, AC_ENOMEM, AC_STAGE_CONFIG, "out of memory");
    return d;
}

/* The documented order: api_key, (api_key_file: not faked), api_key_env,
 * then the plugin's default variable. */
static char *fakehost_secret(const ac_settings *s, const char *default_env,
                             ac_error *err)
{
    const fh_settings *fs = (const fh_settings *)s;
    const char *v;
    fh_secret_calls++;
    snprintf(fh_default_env, sizeof fh_default_env, "%s",
             default_env ? default_env : "");
    if (fakehost_setting_string(s, "api_key", &v) == 1)
        return fakehost_secret_copy(v, err);
    if (fakehost_setting_string(s, "api_key_env", &v) == 1) {
        const char *x = fakehost_getenv(fs, v);
        if (!x) {
            fakehost_error_set(err, AC_ECONFIG, AC_STAGE_CONFIG,
                               "api_key_env: variable %s is not set", v);
            return NULL;
        }
        return fakehost_secret_copy(x, err);
    }
    if (default_env && (v = fakehost_getenv(fs, default_env)) != NULL)
        return fakehost_secret_copy(v, err);
    return NULL;
}

static struct json_object *fakehost_json_parse(const char *text, size_t len,
                                               const char *what,
                                               ac_error *err)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL;
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, text, (int)len);
    if (!o || json_tokener_get_parse_end(tok) != len) {
        json_object_put(o);
        o = NULL;
        fakehost_error_set(err, AC_EJSON, AC_STAGE_JSON, "%s: invalid JSON",
                           what);
    }
    json_tokener_free(tok);
    return o;
}

/* --- the request ----------------------------------------------------- */

static ac_status fakehost_http_set(ac_http_request *rq, const char *method,
                                   const char *url, ac_framing framing)
{
    fh_request *r = (fh_request *)rq;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->url, sizeof r->url, "%s", url);
    r->framing = (int)framing;
    return AC_OK;
}

static ac_status fakehost_http_header(ac_http_request *rq, const char *name,
                                      const char *value)
{
    fh_request *r = (fh_request *)rq;
    if (r->n_hdr >= 16)
        return AC_ENOMEM;
    snprintf(r->hdr[r->n_hdr][0], sizeof r->hdr[0][0], "%s", name);
    snprintf(r->hdr[r->n_hdr][1], sizeof r->hdr[0][1], "%s", value);
    r->n_hdr++;
    return AC_OK;
}

static ac_status fakehost_http_body(ac_http_request *rq, const char *body,
                                    size_t len)
{
    fh_request *r = (fh_request *)rq;
    free(r->body);
    r->body = malloc(len + 1);
    if (!r->body)
        return AC_ENOMEM;
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->body_len = len;
    return AC_OK;
}

const char *fh_header(const fh_request *r, const char *name)
{
    for (int i = 0; i < r->n_hdr; i++)
        if (strcmp(r->hdr[i][0], name) == 0)
            return r->hdr[i][1];
    return NULL;
}

/* --- the sink -------------------------------------------------------- */

static fh_call *fakehost_find_call(fh_sink *k, int key)
{
    for (int i = 0; i < k->n_calls; i++)
        if (k->calls[i].key == key)
            return &k->calls[i];
    if (k->n_calls >= 8)
        return NULL;
    fh_call *c = &k->calls[k->n_calls++];
    memset(c, 0, sizeof *c);
    c->key = key;
    return c;
}

static ac_status fakehost_emit_text(ac_sink *s, const char *p, size_t n)
{
    fh_sink *k = (fh_sink *)s;
    tu_append(k->text, sizeof k->text, p, n);
    return AC_OK;
}

static ac_status fakehost_emit_reasoning(ac_sink *s, const char *p, size_t n)
{
    fh_sink *k = (fh_sink *)s;
    tu_append(k->reasoning, sizeof k->reasoning, p, n);
    return AC_OK;
}

static ac_status fakehost_emit_tool_call(ac_sink *s, int key, const char *id,
                                         const char *name, const char *args,
                                         size_t n, int complete)
{
    fh_call *c = fakehost_find_call((fh_sink *)s, key);
    if (!c)
        return AC_ENOMEM;
    if (id)
        snprintf(c->id, sizeof c->id, "%s", id);
    if (name)
        snprintf(c->name, sizeof c->name, "%s", name);
    if (complete)
        c->args[0] = '\0';
    if (args)
        tu_append(c->args, sizeof c->args, args, n);
    return AC_OK;
}

static ac_status fakehost_emit_tool_call_end(ac_sink *s, int key)
{
    fh_call *c = fakehost_find_call((fh_sink *)s, key);
    if (c)
        c->ends++;
    return AC_OK;
}

static ac_status fakehost_emit_usage(ac_sink *s, long in, long out)
{
    fh_sink *k = (fh_sink *)s;
    if (in >= 0)
        k->in = in;
    if (out >= 0)
        k->out = out;
    k->n_usage++;
    return AC_OK;
}

static ac_status fakehost_emit_finish(ac_sink *s, const char *norm,
                                      const char *raw)
{
    fh_sink *k = (fh_sink *)s;
    snprintf(k->finish, sizeof k->finish, "%s", norm ? norm : "");
    snprintf(k->raw, sizeof k->raw, "%s", raw ? raw : "");
    k->n_finish++;
    return AC_OK;
}

static ac_status fakehost_emit_model(ac_sink *s, const char *model)
{
    fh_sink *k = (fh_sink *)s;
    snprintf(k->model, sizeof k->model, "%s", model);
    return AC_OK;
}

static ac_status fakehost_models_add(ac_model_list *l, const char *id)
{
    fh_sink *k = (fh_sink *)l;
    if (k->n_models >= 8)
        return AC_ENOMEM;
    snprintf(k->models[k->n_models++], sizeof k->models[0], "%s", id);
    return AC_OK;
}

static void **fakehost_stream_slot(ac_sink *s)
{
    return &((fh_sink *)s)->slot;
}

const ac_host_api fh_host = {
    .struct_size        = sizeof(ac_host_api),
    .abi_major          = AC_ABI_MAJOR,
    .abi_minor          = AC_ABI_MINOR,
    .log                = fakehost_log,
    .malloc             = fakehost_malloc,
    .realloc            = fakehost_realloc,
    .free               = free,
    .strdup             = fakehost_strdup,
    .setting_string     = fakehost_setting_string,
    .setting_int        = fakehost_setting_int,
    .setting_bool       = fakehost_setting_bool,
    .setting_double     = fakehost_setting_double,
    .setting_list_count = fakehost_list_count,
    .setting_list_item  = fakehost_list_item,
    .settings_name      = fakehost_settings_name,
    .secret             = fakehost_secret,
    .json_parse         = fakehost_json_parse,
    .error_set          = fakehost_error_set,
    .http_set           = fakehost_http_set,
    .http_header        = fakehost_http_header,
    .http_body          = fakehost_http_body,
    .emit_text          = fakehost_emit_text,
    .emit_reasoning     = fakehost_emit_reasoning,
    .emit_tool_call     = fakehost_emit_tool_call,
    .emit_tool_call_end = fakehost_emit_tool_call_end,
    .emit_usage         = fakehost_emit_usage,
    .emit_finish        = fakehost_emit_finish,
    .emit_model         = fakehost_emit_model,
    .models_add         = fakehost_models_add,
    .stream_slot        = fakehost_stream_slot,
};

/* --- loading --------------------------------------------------------- */

const ac_provider *fh_load_plugin(const char *path, void **dl)
{
    ac_provider_entry_fn entry;
    void *sym;
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl) {
        fprintf(stderr, "\n  dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    sym = dlsym(*dl, AC_PROVIDER_ENTRY_SYMBOL);
    if (!sym)
        return NULL;
    /* POSIX: a function pointer may be copied out of dlsym's void *. */
    memcpy(&entry, &sym, sizeof entry);
    return entry(&fh_host);
}
