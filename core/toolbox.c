/*
 * toolbox.c -- the application's tools: C functions registered by name
 * with the JSON Schema of their arguments (ac_toolbox_*), for the tool
 * loop of toolrun.c.
 *
 * Each tool's schema is compiled once, here, by the core's validator
 * (structured/schema.h), so a schema the validator cannot honour is
 * refused at registration with the compiler's message, not found out
 * when the model first calls the tool.  Tools are separate immutable
 * blocks behind a pointer array, so a tool looked up by a running call
 * stays put while another thread adds tools (the array grows, the tools
 * do not move).
 *
 * Ownership: the toolbox is reference counted; the application holds one
 * reference (ac_toolbox_free drops it) and every run one more.  The last
 * reference stops the pool of threads (toolpool.c) and frees the tools.
 * Thread-safety: every function here may be called from any thread.
 */
#include "toolbox.h"
#include "alloc.h"
#include "error.h"
#include "message.h"
#include "params.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define NAME_MAX_LEN 64

struct ac_toolbox {
    atomic_int      refs;
    pthread_mutex_t mu;      /* tools, n, cap, pool */
    ac__tool      **tools;
    size_t          n, cap;
    ac__pool       *pool;    /* started on first submit */
};

static void tool_free(ac__tool *t)
{
    if (!t)
        return;
    ac__free(t->name);
    ac__free(t->description);
    ac__free(t->schema_json);
    ac__schema_free(t->schema);
    ac__free(t);
}

ac_toolbox *ac_toolbox_new(void)
{
    ac_toolbox *tb = ac__calloc(1, sizeof *tb);
    if (!tb)
        return NULL;
    atomic_init(&tb->refs, 1);
    pthread_mutex_init(&tb->mu, NULL);
    return tb;
}

void ac__toolbox_ref(const ac_toolbox *tb)
{
    atomic_fetch_add(&((ac_toolbox *)tb)->refs, 1);
}

void ac__toolbox_unref(const ac_toolbox *ctb)
{
    ac_toolbox *tb = (ac_toolbox *)ctb;
    if (!tb || atomic_fetch_sub(&tb->refs, 1) != 1)
        return;
    ac__pool_stop(tb->pool);
    for (size_t i = 0; i < tb->n; i++)
        tool_free(tb->tools[i]);
    ac__free(tb->tools);
    pthread_mutex_destroy(&tb->mu);
    ac__free(tb);
}

void ac_toolbox_free(ac_toolbox *tb) { ac__toolbox_unref(tb); }

/* 1..64 of [A-Za-z0-9_-]: what OpenAI's and Anthropic's tool APIs take. */
static int name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return n > 0 && n <= NAME_MAX_LEN;
}

/* The schema text as a JSON object, strictly (no trailing bytes).  A new
 * json-c reference, or NULL with err filled. */
static json_object *schema_object(const char *name, const char *text, ac_error *err)
{
    json_tokener *t = json_tokener_new();
    if (!t) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    size_t len = strlen(text);
    /* With its NUL: a bare literal ("true") ends there. */
    json_object *o = json_tokener_parse_ex(t, text, (int)len + 1);
    enum json_tokener_error je = json_tokener_get_error(t);
    size_t end = json_tokener_get_parse_end(t);
    json_tokener_free(t);
    if (!o || je != json_tokener_success) {
        ac__error_set(err, AC_EJSON, AC_STAGE_REQUEST,
                      "tool \"%s\": the parameters schema is not valid JSON: %s", name,
                      je == json_tokener_continue ? "unexpected end of text"
                                                  : json_tokener_error_desc(je));
        json_object_put(o);
        return NULL;
    }
    for (; end < len; end++)
        if (!strchr(" \t\r\n", text[end])) {
            ac__error_set(err, AC_EJSON, AC_STAGE_REQUEST,
                          "tool \"%s\": text after the parameters schema", name);
            json_object_put(o);
            return NULL;
        }
    if (!json_object_is_type(o, json_type_object)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "tool \"%s\": the parameters schema is not a JSON object", name);
        json_object_put(o);
        return NULL;
    }
    return o;
}

ac_status ac_toolbox_add(ac_toolbox *tb, const char *name, const char *description,
                         const char *parameters_schema_json, ac_tool_fn fn, void *user,
                         ac_error *err)
{
    if (!tb || !name || !fn) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s is NULL",
                      !tb ? "toolbox" : !name ? "tool name" : "tool function");
        return AC_EINVAL;
    }
    if (!name_ok(name)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "bad tool name \"%.64s\": 1 to 64 letters, digits, '_' or '-'", name);
        return AC_EINVAL;
    }
    if (!ac__utf8_valid(description)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST,
                      "tool \"%s\": the description is not valid UTF-8", name);
        return AC_EINVAL;
    }
    if (!parameters_schema_json)
        parameters_schema_json = "{\"type\":\"object\",\"properties\":{}}";
    json_object *doc = schema_object(name, parameters_schema_json, err);
    if (!doc)
        return err ? err->code : AC_EINVAL;
    ac_error cerr;
    ac_error_clear(&cerr);
    ac__tool *t = ac__calloc(1, sizeof *t);
    if (t) {
        t->fn = fn;
        t->user = user;
        t->name = ac__strdup(name);
        t->description = description ? ac__strdup(description) : NULL;
        t->schema_json = ac__strdup(parameters_schema_json);
    }
    if (!t || !t->name || (description && !t->description) || !t->schema_json) {
        json_object_put(doc);
        tool_free(t);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory adding tool \"%s\"",
                      name);
        return AC_ENOMEM;
    }
    t->schema = ac__schema_compile(doc, NULL, &cerr);
    json_object_put(doc);
    if (!t->schema) {
        tool_free(t);
        if (cerr.code == AC_OK)
            ac__error_set(&cerr, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        ac__error_set(err, cerr.code, AC_STAGE_REQUEST, "tool \"%s\": %s", name, cerr.message);
        return cerr.code;
    }
    ac_status st = AC_OK;
    pthread_mutex_lock(&tb->mu);
    for (size_t i = 0; i < tb->n && st == AC_OK; i++)
        if (strcmp(tb->tools[i]->name, name) == 0)
            st = AC_EINVAL;
    if (st != AC_OK) {
        ac__error_set(err, st, AC_STAGE_REQUEST, "there is already a tool named \"%s\"", name);
    } else if (tb->n >= AC_MAX_TOOLS) {
        st = AC_EINVAL;
        ac__error_set(err, st, AC_STAGE_REQUEST, "a toolbox holds at most %d tools",
                      AC_MAX_TOOLS);
    } else if (tb->n == tb->cap) {
        size_t cap = tb->cap ? tb->cap * 2 : 8;
        ac__tool **v = ac__realloc(tb->tools, cap * sizeof *v);
        if (v) {
            tb->tools = v;
            tb->cap = cap;
        } else {
            st = AC_ENOMEM;
            ac__error_set(err, st, AC_STAGE_REQUEST, "out of memory adding tool \"%s\"", name);
        }
    }
    if (st == AC_OK)
        tb->tools[tb->n++] = t;
    pthread_mutex_unlock(&tb->mu);
    if (st != AC_OK)
        tool_free(t);
    return st;
}

size_t ac_toolbox_count(const ac_toolbox *ctb)
{
    ac_toolbox *tb = (ac_toolbox *)ctb;
    if (!tb)
        return 0;
    pthread_mutex_lock(&tb->mu);
    size_t n = tb->n;
    pthread_mutex_unlock(&tb->mu);
    return n;
}

const ac__tool *ac__toolbox_find(const ac_toolbox *ctb, const char *name)
{
    ac_toolbox *tb = (ac_toolbox *)ctb;
    const ac__tool *found = NULL;
    pthread_mutex_lock(&tb->mu);
    for (size_t i = 0; i < tb->n && !found; i++)
        if (strcmp(tb->tools[i]->name, name) == 0)
            found = tb->tools[i];
    pthread_mutex_unlock(&tb->mu);
    return found;
}

static int offers(const ac_gen_params *p, size_t upto, const char *name)
{
    for (size_t i = 0; i < upto; i++)
        if (strcmp(p->tools[i].name, name) == 0)
            return 1;
    return 0;
}

/* Add the tools (all of them, or those p lacks); on failure take back
 * what was added, so p is as it was. */
static ac_status offer(const ac_toolbox *ctb, ac_gen_params *p, int only_missing)
{
    ac_toolbox *tb = (ac_toolbox *)ctb;
    if (!tb || !p)
        return AC_EINVAL;
    size_t before = p->n_tools;
    ac_status st = AC_OK;
    pthread_mutex_lock(&tb->mu);
    for (size_t i = 0; i < tb->n && st == AC_OK; i++) {
        const ac__tool *t = tb->tools[i];
        if (only_missing && offers(p, before, t->name))
            continue;
        st = ac_gen_params_add_tool(p, t->name, t->description, t->schema_json);
    }
    pthread_mutex_unlock(&tb->mu);
    if (st != AC_OK)
        while (p->n_tools > before) {
            ac_tool_def *d = &p->tools[--p->n_tools];
            ac__free((char *)d->name);
            ac__free((char *)d->description);
            ac__free((char *)d->parameters_json);
            memset(d, 0, sizeof *d);
        }
    return st;
}

ac_status ac_toolbox_offer(const ac_toolbox *tb, ac_gen_params *p) { return offer(tb, p, 0); }

ac_status ac__toolbox_offer_missing(const ac_toolbox *tb, ac_gen_params *p)
{
    return offer(tb, p, 1);
}

ac_status ac__toolbox_submit(const ac_toolbox *ctb, ac__pool_job *job)
{
    ac_toolbox *tb = (ac_toolbox *)ctb;
    pthread_mutex_lock(&tb->mu);
    if (!tb->pool)
        tb->pool = ac__pool_new(AC_TOOLRUN_MAX_PARALLEL);
    ac__pool *pool = tb->pool;
    pthread_mutex_unlock(&tb->mu);
    /* The pool is stopped only by the last reference, which the caller's
     * run still holds: no lock needed past here. */
    return pool ? ac__pool_submit(pool, job) : AC_ENOMEM;
}
