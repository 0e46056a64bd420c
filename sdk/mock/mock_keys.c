/*
 * mock_keys.c -- the script settings the mock server knows, each read,
 * checked and applied to a scenario.  See mock_keys.h.
 *
 * Most settings are a plain string, integer in a range, or boolean stored
 * at a fixed place in mock_scenario: those are rows of one table.  The
 * others (lists, enumerations, values of two types) have a function each.
 * docs/mock-server.md documents every row; keep the two in step.
 */
#include <config.h>

#include "mock_keys.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS_MAX_BYTES (64L * 1024 * 1024)
#define KEYS_MAX_DELAY_MS (24L * 3600 * 1000)
#define KEYS_MAX_CHUNKS 1000000L
#define KEYS_MAX_COUNT 1000000000L

void mock_script_fail(mock_script_err *e, int line, const char *fmt, ...)
{
    if (!e->buf || e->len == 0)
        return;
    int n = snprintf(e->buf, e->len, "%s:%d: ", e->name, line);
    if (n < 0 || (size_t)n >= e->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
    va_end(ap);
}

const size_t mock_keys_str[] = {
    offsetof(mock_scenario, model),         offsetof(mock_scenario, reply),
    offsetof(mock_scenario, finish_reason), offsetof(mock_scenario, error_body),
    offsetof(mock_scenario, error_message), offsetof(mock_scenario, error_type),
    offsetof(mock_scenario, retry_after),   offsetof(mock_scenario, stream_error),
    offsetof(mock_scenario, after_tool_result), offsetof(mock_scenario, raw),
    offsetof(mock_scenario, content_type),  offsetof(mock_scenario, retry_after_ms),
};
const size_t mock_keys_nstr = sizeof mock_keys_str / sizeof mock_keys_str[0];

/* ---- typed readers: each reports its own error with the line ---- */

static int keys_line(const config_setting_t *st)
{
    return (int)config_setting_source_line(st);
}

static bool keys_is_int(const config_setting_t *st)
{
    int t = config_setting_type(st);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int keys_long(const config_setting_t *st, long lo, long hi, long *out, mock_script_err *e)
{
    if (!keys_is_int(st)) {
        mock_script_fail(e, keys_line(st), "'%s' must be an integer", config_setting_name(st));
        return -1;
    }
    long long v = config_setting_get_int64(st);
    if (v < lo || v > hi) {
        mock_script_fail(e, keys_line(st), "'%s' must be between %ld and %ld",
                         config_setting_name(st), lo, hi);
        return -1;
    }
    *out = (long)v;
    return 0;
}

static const char *keys_string(const config_setting_t *st, mock_script_err *e)
{
    if (config_setting_type(st) != CONFIG_TYPE_STRING) {
        mock_script_fail(e, keys_line(st), "'%s' must be a string", config_setting_name(st));
        return NULL;
    }
    return config_setting_get_string(st);
}

static int keys_bool(const config_setting_t *st, bool *out, mock_script_err *e)
{
    if (config_setting_type(st) != CONFIG_TYPE_BOOL) {
        mock_script_fail(e, keys_line(st), "'%s' must be true or false", config_setting_name(st));
        return -1;
    }
    *out = config_setting_get_bool(st) != 0;
    return 0;
}

/* Replace *slot by a copy of v; -1 when out of memory (slot unchanged). */
static int keys_set_str(char **slot, const char *v, const config_setting_t *st, mock_script_err *e)
{
    char *c = strdup(v);
    if (!c) {
        mock_script_fail(e, keys_line(st), "out of memory");
        return -1;
    }
    free(*slot);
    *slot = c;
    return 0;
}

/* A header value: one line, not empty (header injection otherwise). */
static int keys_header_value(mock_scenario *s, char **slot, const config_setting_t *st,
                             mock_script_err *e)
{
    char num[32];
    const char *v;
    (void)s;
    if (keys_is_int(st)) {
        snprintf(num, sizeof num, "%lld", config_setting_get_int64(st));
        v = num;
    } else if (!(v = keys_string(st, e))) {
        return -1;
    }
    if (!*v || strpbrk(v, "\r\n")) {
        mock_script_fail(e, keys_line(st), "'%s' must be a non-empty single line",
                         config_setting_name(st));
        return -1;
    }
    return keys_set_str(slot, v, st, e);
}

/* ---- settings with a function of their own ---- */

static int key_reply(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    const char *v = keys_string(st, e);
    if (!v || keys_set_str(&s->reply, v, st, e) < 0)
        return -1;
    s->reply_len = -1; /* a reply given here beats an inherited reply_len */
    return 0;
}

static int key_retry_after(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    return keys_header_value(s, &s->retry_after, st, e);
}

static int key_retry_after_ms(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    return keys_header_value(s, &s->retry_after_ms, st, e);
}

static int key_should_retry(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    bool b;
    if (keys_bool(st, &b, e) < 0)
        return -1;
    s->should_retry = b ? 1 : 0;
    return 0;
}

/* One of `names` (NULL-terminated); its position goes to *out. */
static int keys_choice(const config_setting_t *st, const char *const *names, int *out,
                       mock_script_err *e)
{
    const char *v = keys_string(st, e);
    if (!v)
        return -1;
    char list[160] = "";
    for (int i = 0; names[i]; i++) {
        if (!strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    mock_script_fail(e, keys_line(st), "unknown %s \"%s\" (%s)", config_setting_name(st), v, list);
    return -1;
}

static int key_quirk(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    static const char *const names[] = { "none", "lmstudio", "tgi", "mlx", NULL };
    int v;
    if (keys_choice(st, names, &v, e) < 0)
        return -1;
    s->quirk = (mock_quirk)v;
    return 0;
}

static int key_fault(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    static const char *const names[] = { "none", "close_on_accept", "reset", NULL };
    int v;
    if (keys_choice(st, names, &v, e) < 0)
        return -1;
    s->fault = (mock_fault)v;
    return 0;
}

static int key_endless(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    static const char *const names[] = { "off", "content", "empty", NULL };
    int v;
    if (keys_choice(st, names, &v, e) < 0)
        return -1;
    s->endless = (mock_endless)v;
    return 0;
}

static void keys_free_tools(mock_tool_call *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].id);
        free(t[i].name);
        free(t[i].arguments);
    }
    free(t);
}

static int key_tools(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    if (!config_setting_is_list(st) && !config_setting_is_array(st)) {
        mock_script_fail(e, keys_line(st), "'tool_calls' must be a list of groups: ( { name = ...; } )");
        return -1;
    }
    int n = config_setting_length(st);
    mock_tool_call *tools = n > 0 ? calloc((size_t)n, sizeof *tools) : NULL;
    if (n > 0 && !tools) {
        mock_script_fail(e, keys_line(st), "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(st, (unsigned)i);
        if (!config_setting_is_group(g)) {
            mock_script_fail(e, keys_line(g), "each tool call must be a group { name = ...; }");
            goto fail;
        }
        const char *id = NULL, *name = NULL, *args = NULL;
        for (int k = 0; k < config_setting_length(g); k++) {
            const config_setting_t *f = config_setting_get_elem(g, (unsigned)k);
            const char *key = config_setting_name(f);
            const char **slot = !strcmp(key, "id") ? &id : !strcmp(key, "name") ? &name
                                : !strcmp(key, "arguments") ? &args : NULL;
            if (!slot) {
                mock_script_fail(e, keys_line(f), "unknown tool call key '%s' (id, name, arguments)", key);
                goto fail;
            }
            if (!(*slot = keys_string(f, e)))
                goto fail;
        }
        if (!name || !*name) {
            mock_script_fail(e, keys_line(g), "a tool call needs a non-empty 'name'");
            goto fail;
        }
        char gen[32];
        snprintf(gen, sizeof gen, "call_mock_%d", i + 1);
        tools[i].id = strdup(id ? id : gen);
        tools[i].name = strdup(name);
        tools[i].arguments = strdup(args ? args : "{}");
        if (!tools[i].id || !tools[i].name || !tools[i].arguments) {
            mock_script_fail(e, keys_line(g), "out of memory");
            goto fail;
        }
    }
    keys_free_tools(s->tools, s->ntools);
    s->tools = tools;
    s->ntools = (size_t)n;
    return 0;
fail:
    keys_free_tools(tools, (size_t)n); /* calloc'd: entries not reached are NULL */
    return -1;
}

/* A header line must be "Name: value", with no CR/LF (header injection). */
static bool keys_valid_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strpbrk(h, "\r\n"))
        return false;
    for (const char *p = h; p < colon; p++) {
        if (*p == ' ' || *p == '\t')
            return false;
    }
    return true;
}

static int key_headers(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    if (!config_setting_is_array(st) && !config_setting_is_list(st)) {
        mock_script_fail(e, keys_line(st), "'headers' must be an array of \"Name: value\" strings");
        return -1;
    }
    int n = config_setting_length(st);
    char **hs = n > 0 ? calloc((size_t)n, sizeof *hs) : NULL;
    if (n > 0 && !hs) {
        mock_script_fail(e, keys_line(st), "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *h = config_setting_get_elem(st, (unsigned)i);
        const char *v = config_setting_type(h) == CONFIG_TYPE_STRING ? config_setting_get_string(h)
                                                                      : NULL;
        if (!v || !keys_valid_header(v)) {
            mock_script_fail(e, keys_line(st), "header %d must be a string \"Name: value\"", i + 1);
            goto fail;
        }
        if (!(hs[i] = strdup(v))) {
            mock_script_fail(e, keys_line(st), "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < s->nheaders; i++)
        free(s->headers[i]);
    free(s->headers);
    s->headers = hs;
    s->nheaders = (size_t)n;
    return 0;
fail:
    for (int i = 0; i < n; i++)
        free(hs[i]);
    free(hs);
    return -1;
}

static int key_usage(mock_scenario *s, const config_setting_t *st, mock_script_err *e)
{
    if ((!config_setting_is_array(st) && !config_setting_is_list(st)) ||
        config_setting_length(st) != 2) {
        mock_script_fail(e, keys_line(st), "'usage' must be [input_tokens, output_tokens]");
        return -1;
    }
    long v[2];
    for (unsigned i = 0; i < 2; i++) {
        const config_setting_t *x = config_setting_get_elem(st, i);
        long long n = keys_is_int(x) ? config_setting_get_int64(x) : -1;
        if (n < 0 || n > 1000000000LL) {
            mock_script_fail(e, keys_line(st), "'usage' must hold two non-negative integers");
            return -1;
        }
        v[i] = (long)n;
    }
    s->has_usage = true;
    s->usage_in = v[0];
    s->usage_out = v[1];
    return 0;
}

/* ---- the table ---- */

typedef int (*key_fn)(mock_scenario *s, const config_setting_t *st, mock_script_err *e);
enum key_type { K_STR, K_LINE, K_LONG, K_BOOL, K_FN, K_PLACE };

typedef struct key_def {
    const char *name;
    enum key_type type;
    size_t off;   /* K_STR, K_LINE, K_LONG, K_BOOL */
    long lo, hi;  /* K_LONG */
    key_fn fn;    /* K_FN */
} key_def;

#define STR(n, f) { n, K_STR, offsetof(mock_scenario, f), 0, 0, NULL }
#define LINE(n, f) { n, K_LINE, offsetof(mock_scenario, f), 0, 0, NULL }
#define LONG(n, f, lo, hi) { n, K_LONG, offsetof(mock_scenario, f), lo, hi, NULL }
#define BOOL(n, f) { n, K_BOOL, offsetof(mock_scenario, f), 0, 0, NULL }
#define FN(n, fn) { n, K_FN, 0, 0, 0, fn }

static const key_def keys_table[] = {
    { "model", K_PLACE, offsetof(mock_scenario, model), 0, 0, NULL },
    { "steps", K_PLACE, 0, 0, 0, NULL },
    /* the reply */
    FN("reply", key_reply),
    LONG("reply_len", reply_len, 0, KEYS_MAX_BYTES),
    BOOL("echo", echo),
    LONG("chunks", chunks, 1, KEYS_MAX_CHUNKS),
    LONG("delay_ms", delay_ms, 0, KEYS_MAX_DELAY_MS),
    LONG("first_byte_delay_ms", first_byte_delay_ms, 0, KEYS_MAX_DELAY_MS),
    FN("usage", key_usage),
    STR("finish_reason", finish_reason),
    FN("tool_calls", key_tools),
    STR("after_tool_result", after_tool_result),
    FN("quirk", key_quirk),
    BOOL("keepalive_comments", keepalive_comments),
    /* errors */
    LONG("status", status, 200, 599),
    LONG("fail_times", fail_times, 0, KEYS_MAX_COUNT),
    STR("error_body", error_body),
    STR("error_message", error_message),
    STR("error_type", error_type),
    FN("retry_after", key_retry_after),
    FN("retry_after_ms", key_retry_after_ms),
    FN("should_retry", key_should_retry),
    FN("headers", key_headers),
    STR("stream_error", stream_error),
    /* faults */
    LONG("drop_after_chunks", drop_after_chunks, 0, KEYS_MAX_CHUNKS),
    BOOL("hang", hang),
    STR("raw", raw),
    LINE("content_type", content_type),
    FN("fault", key_fault),
    LONG("close_after_bytes", close_after_bytes, 0, LONG_MAX),
    LONG("stall_after_chunks", stall_after_chunks, 0, KEYS_MAX_CHUNKS),
    LONG("stall_ms", stall_ms, 1, KEYS_MAX_DELAY_MS),
    LONG("garbage", garbage, 0, KEYS_MAX_BYTES),
    LONG("garbage_seed", garbage_seed, LONG_MIN, LONG_MAX),
    FN("endless", key_endless),
    LONG("huge_event_bytes", huge_event_bytes, 1, KEYS_MAX_BYTES),
    BOOL("invalid_utf8", invalid_utf8),
    BOOL("html", html),
    BOOL("gzip", gzip),
    BOOL("any_path", any_path),
    /* embeddings */
    LONG("embedding_dim", embedding_dim, 1, 65536),
    LONG("embedding_seed", embedding_seed, LONG_MIN, LONG_MAX),
    LONG("max_batch", max_batch, 0, KEYS_MAX_COUNT),
};

/* model and steps: scenarios only (steps: not in a step either). */
static int keys_place(mock_scenario *s, const key_def *k, const config_setting_t *st,
                      enum mock_key_where where, mock_script_err *e)
{
    bool model = !strcmp(k->name, "model");
    if (where == MOCK_KEY_TOP) {
        mock_script_fail(e, keys_line(st), "'%s' belongs inside a scenario of the 'scenarios' list",
                         k->name);
        return -1;
    }
    if (where == MOCK_KEY_STEP) {
        mock_script_fail(e, keys_line(st), "a step cannot set '%s' (%s)", k->name,
                         model ? "it answers its scenario's model" : "steps do not nest");
        return -1;
    }
    if (!model) {
        if (!config_setting_is_list(st) && !config_setting_is_array(st)) {
            mock_script_fail(e, keys_line(st), "'steps' must be a list of groups: ( { ... }, { ... } )");
            return -1;
        }
        return 0; /* the loader builds the steps */
    }
    const char *v = keys_string(st, e);
    return v ? keys_set_str(&s->model, v, st, e) : -1;
}

int mock_keys_apply(mock_scenario *s, const config_setting_t *st, enum mock_key_where where,
                    mock_script_err *e)
{
    const char *name = config_setting_name(st);
    const key_def *k = NULL;
    for (size_t i = 0; !k && i < sizeof keys_table / sizeof keys_table[0]; i++) {
        if (!strcmp(keys_table[i].name, name))
            k = &keys_table[i];
    }
    if (!k) {
        mock_script_fail(e, keys_line(st), "unknown key '%s'", name);
        return -1;
    }
    char *base = (char *)s;
    const char *v;
    switch (k->type) {
    case K_PLACE:
        return keys_place(s, k, st, where, e);
    case K_FN:
        return k->fn(s, st, e);
    case K_LONG:
        return keys_long(st, k->lo, k->hi, (long *)(void *)(base + k->off), e);
    case K_BOOL:
        return keys_bool(st, (bool *)(void *)(base + k->off), e);
    case K_LINE:
    case K_STR:
        if (!(v = keys_string(st, e)))
            return -1;
        if (k->type == K_LINE && strpbrk(v, "\r\n")) {
            mock_script_fail(e, keys_line(st), "'%s' must be one line", name);
            return -1;
        }
        return keys_set_str((char **)(void *)(base + k->off), v, st, e);
    }
    return -1;
}
