/*
 * mock_script.c -- load and validate the mock server's libconfig scripts.
 *
 * The base scenario starts as the built-in defaults, then takes the
 * script's top-level settings, then the overrides (acore-mockd's flags).
 * Each entry of `scenarios` starts as a deep copy of that base and applies
 * its own settings, so a scenario only states what differs.  Every value
 * is checked here, with the line it came from, so that the server never
 * has to reject a scenario while answering a request.
 */
#include <config.h>

#include "mock_script.h"

#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_DEFAULT_REPLY "Hello from the AbstractCore mock server."
#define SCRIPT_MAX_REPLY_LEN (64L * 1024 * 1024)
#define SCRIPT_MAX_DELAY_MS (24L * 3600 * 1000)
#define SCRIPT_MAX_CHUNKS 1000000L

/* Where errors go: "NAME:LINE: message". */
typedef struct script_err {
    const char *name;
    char *buf;
    size_t len;
} script_err;

static void script_fail(script_err *e, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void script_fail(script_err *e, int line, const char *fmt, ...)
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

static char *script_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Replace *slot by a copy of v; -1 when out of memory (slot unchanged). */
static int script_set_str(char **slot, const char *v)
{
    char *c = strdup(v);
    if (!c)
        return -1;
    free(*slot);
    *slot = c;
    return 0;
}

static void script_free_scenario(mock_scenario *s)
{
    if (!s)
        return;
    free(s->model);
    free(s->reply);
    free(s->finish_reason);
    for (size_t i = 0; i < s->ntools; i++) {
        free(s->tools[i].id);
        free(s->tools[i].name);
        free(s->tools[i].arguments);
    }
    free(s->tools);
    free(s->error_body);
    free(s->error_message);
    free(s->error_type);
    free(s->retry_after);
    for (size_t i = 0; i < s->nheaders; i++)
        free(s->headers[i]);
    free(s->headers);
    free(s->stream_error);
    free(s->after_tool_result);
    free(s->raw);
    free(s->content_type);
    memset(s, 0, sizeof *s);
}

/* Deep copy; on failure dst is left zeroed and -1 returned. */
static int script_copy_scenario(mock_scenario *dst, const mock_scenario *src)
{
    *dst = *src;
    dst->model = NULL;
    dst->reply = dst->finish_reason = dst->error_body = dst->error_message = NULL;
    dst->error_type = dst->retry_after = dst->stream_error = dst->after_tool_result = NULL;
    dst->raw = dst->content_type = NULL;
    dst->tools = NULL;
    dst->headers = NULL;
    dst->ntools = dst->nheaders = 0;

    struct { char **d; const char *s; } strs[] = {
        { &dst->model, src->model },           { &dst->reply, src->reply },
        { &dst->finish_reason, src->finish_reason }, { &dst->error_body, src->error_body },
        { &dst->error_message, src->error_message }, { &dst->error_type, src->error_type },
        { &dst->retry_after, src->retry_after }, { &dst->stream_error, src->stream_error },
        { &dst->raw, src->raw },               { &dst->content_type, src->content_type },
        { &dst->after_tool_result, src->after_tool_result },
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strs[i].s && !(*strs[i].d = strdup(strs[i].s)))
            goto fail;
    }
    if (src->ntools) {
        dst->tools = calloc(src->ntools, sizeof *dst->tools);
        if (!dst->tools)
            goto fail;
        for (size_t i = 0; i < src->ntools; i++) {
            dst->ntools = i + 1;
            dst->tools[i].id = script_strdup(src->tools[i].id);
            dst->tools[i].name = script_strdup(src->tools[i].name);
            dst->tools[i].arguments = script_strdup(src->tools[i].arguments);
            if (!dst->tools[i].id || !dst->tools[i].name || !dst->tools[i].arguments)
                goto fail;
        }
    }
    if (src->nheaders) {
        dst->headers = calloc(src->nheaders, sizeof *dst->headers);
        if (!dst->headers)
            goto fail;
        for (size_t i = 0; i < src->nheaders; i++) {
            dst->nheaders = i + 1;
            if (!(dst->headers[i] = strdup(src->headers[i])))
                goto fail;
        }
    }
    return 0;
fail:
    script_free_scenario(dst);
    return -1;
}

static int script_defaults(mock_scenario *s)
{
    memset(s, 0, sizeof *s);
    s->reply = strdup(SCRIPT_DEFAULT_REPLY);
    if (!s->reply)
        return -1;
    s->reply_len = -1;
    s->chunks = 8;
    s->status = 200;
    s->drop_after_chunks = -1;
    return 0;
}

/* ---- typed readers: each reports its own error with the line ---- */

static int script_line(const config_setting_t *st)
{
    return (int)config_setting_source_line(st);
}

static int script_get_long(const config_setting_t *st, long lo, long hi, long *out, script_err *e)
{
    int t = config_setting_type(st);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        script_fail(e, script_line(st), "'%s' must be an integer", config_setting_name(st));
        return -1;
    }
    long long v = config_setting_get_int64(st);
    if (v < lo || v > hi) {
        script_fail(e, script_line(st), "'%s' must be between %ld and %ld", config_setting_name(st),
                    lo, hi);
        return -1;
    }
    *out = (long)v;
    return 0;
}

static const char *script_get_string(const config_setting_t *st, script_err *e)
{
    if (config_setting_type(st) != CONFIG_TYPE_STRING) {
        script_fail(e, script_line(st), "'%s' must be a string", config_setting_name(st));
        return NULL;
    }
    return config_setting_get_string(st);
}

static int script_get_bool(const config_setting_t *st, bool *out, script_err *e)
{
    if (config_setting_type(st) != CONFIG_TYPE_BOOL) {
        script_fail(e, script_line(st), "'%s' must be true or false", config_setting_name(st));
        return -1;
    }
    *out = config_setting_get_bool(st) != 0;
    return 0;
}

/* A header line must be "Name: value", with no CR/LF (header injection). */
static int script_valid_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strpbrk(h, "\r\n"))
        return 0;
    for (const char *p = h; p < colon; p++) {
        if (*p == ' ' || *p == '\t')
            return 0;
    }
    return 1;
}

static int script_read_tools(mock_scenario *s, const config_setting_t *st, script_err *e)
{
    if (!config_setting_is_list(st) && !config_setting_is_array(st)) {
        script_fail(e, script_line(st), "'tool_calls' must be a list of groups: ( { name = ...; } )");
        return -1;
    }
    int n = config_setting_length(st);
    mock_tool_call *tools = n > 0 ? calloc((size_t)n, sizeof *tools) : NULL;
    if (n > 0 && !tools) {
        script_fail(e, script_line(st), "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(st, (unsigned)i);
        if (!config_setting_is_group(g)) {
            script_fail(e, script_line(g), "each tool call must be a group { name = ...; }");
            goto fail;
        }
        const char *id = NULL, *name = NULL, *args = NULL;
        for (int k = 0; k < config_setting_length(g); k++) {
            const config_setting_t *f = config_setting_get_elem(g, (unsigned)k);
            const char *key = config_setting_name(f);
            const char **slot = !strcmp(key, "id") ? &id : !strcmp(key, "name") ? &name
                                : !strcmp(key, "arguments") ? &args : NULL;
            if (!slot) {
                script_fail(e, script_line(f), "unknown tool call key '%s' (id, name, arguments)", key);
                goto fail;
            }
            if (!(*slot = script_get_string(f, e)))
                goto fail;
        }
        if (!name || !*name) {
            script_fail(e, script_line(g), "a tool call needs a non-empty 'name'");
            goto fail;
        }
        char gen[32];
        snprintf(gen, sizeof gen, "call_mock_%d", i + 1);
        tools[i].id = strdup(id ? id : gen);
        tools[i].name = strdup(name);
        tools[i].arguments = strdup(args ? args : "{}");
        if (!tools[i].id || !tools[i].name || !tools[i].arguments) {
            script_fail(e, script_line(g), "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < s->ntools; i++) {
        free(s->tools[i].id);
        free(s->tools[i].name);
        free(s->tools[i].arguments);
    }
    free(s->tools);
    s->tools = tools;
    s->ntools = (size_t)n;
    return 0;
fail:
    /* calloc'd: entries not reached yet are NULL. */
    for (int i = 0; i < n; i++) {
        free(tools[i].id);
        free(tools[i].name);
        free(tools[i].arguments);
    }
    free(tools);
    return -1;
}

static int script_read_headers(mock_scenario *s, const config_setting_t *st, script_err *e)
{
    if (!config_setting_is_array(st) && !config_setting_is_list(st)) {
        script_fail(e, script_line(st), "'headers' must be an array of \"Name: value\" strings");
        return -1;
    }
    int n = config_setting_length(st);
    char **hs = n > 0 ? calloc((size_t)n, sizeof *hs) : NULL;
    if (n > 0 && !hs) {
        script_fail(e, script_line(st), "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *h = config_setting_get_elem(st, (unsigned)i);
        const char *v = config_setting_type(h) == CONFIG_TYPE_STRING ? config_setting_get_string(h)
                                                                      : NULL;
        if (!v || !script_valid_header(v)) {
            script_fail(e, script_line(st), "header %d must be a string \"Name: value\"", i + 1);
            goto fail;
        }
        if (!(hs[i] = strdup(v))) {
            script_fail(e, script_line(st), "out of memory");
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

static int script_read_usage(mock_scenario *s, const config_setting_t *st, script_err *e)
{
    if ((!config_setting_is_array(st) && !config_setting_is_list(st)) ||
        config_setting_length(st) != 2) {
        script_fail(e, script_line(st), "'usage' must be [input_tokens, output_tokens]");
        return -1;
    }
    long v[2];
    for (unsigned i = 0; i < 2; i++) {
        const config_setting_t *x = config_setting_get_elem(st, i);
        int t = config_setting_type(x);
        long long n = (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) ? config_setting_get_int64(x) : -1;
        if (n < 0 || n > 1000000000LL) {
            script_fail(e, script_line(st), "'usage' must hold two non-negative integers");
            return -1;
        }
        v[i] = (long)n;
    }
    s->has_usage = true;
    s->usage_in = v[0];
    s->usage_out = v[1];
    return 0;
}

/* Apply one setting to s.  `top` is true for top-level/override settings. */
static int script_apply(mock_scenario *s, const config_setting_t *st, bool top, script_err *e)
{
    const char *key = config_setting_name(st);
    int line = script_line(st);
    const char *str = NULL;
    char **str_slot = NULL;

    if (!strcmp(key, "model")) {
        if (top) {
            script_fail(e, line, "'model' belongs inside a scenario of the 'scenarios' list");
            return -1;
        }
        str_slot = &s->model;
    } else if (!strcmp(key, "reply")) {
        str_slot = &s->reply;
        s->reply_len = -1; /* a reply given here beats an inherited reply_len */
    } else if (!strcmp(key, "finish_reason")) {
        str_slot = &s->finish_reason;
    } else if (!strcmp(key, "error_body")) {
        str_slot = &s->error_body;
    } else if (!strcmp(key, "error_message")) {
        str_slot = &s->error_message;
    } else if (!strcmp(key, "error_type")) {
        str_slot = &s->error_type;
    } else if (!strcmp(key, "stream_error")) {
        str_slot = &s->stream_error;
    } else if (!strcmp(key, "after_tool_result")) {
        str_slot = &s->after_tool_result;
    } else if (!strcmp(key, "raw")) {
        str_slot = &s->raw;
    } else if (!strcmp(key, "content_type")) {
        str_slot = &s->content_type;
        if (config_setting_type(st) == CONFIG_TYPE_STRING &&
            strpbrk(config_setting_get_string(st), "\r\n")) {
            script_fail(e, line, "'content_type' must be one line");
            return -1;
        }
    } else if (!strcmp(key, "retry_after")) {
        int t = config_setting_type(st);
        char num[32];
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
            snprintf(num, sizeof num, "%lld", config_setting_get_int64(st));
            str = num;
        } else if (!(str = script_get_string(st, e))) {
            return -1;
        }
        if (!*str || strpbrk(str, "\r\n")) {
            script_fail(e, line, "'retry_after' must be a non-empty single line");
            return -1;
        }
        if (script_set_str(&s->retry_after, str) < 0)
            goto oom;
        return 0;
    } else if (!strcmp(key, "reply_len")) {
        return script_get_long(st, 0, SCRIPT_MAX_REPLY_LEN, &s->reply_len, e);
    } else if (!strcmp(key, "chunks")) {
        return script_get_long(st, 1, SCRIPT_MAX_CHUNKS, &s->chunks, e);
    } else if (!strcmp(key, "delay_ms")) {
        return script_get_long(st, 0, SCRIPT_MAX_DELAY_MS, &s->delay_ms, e);
    } else if (!strcmp(key, "first_byte_delay_ms")) {
        return script_get_long(st, 0, SCRIPT_MAX_DELAY_MS, &s->first_byte_delay_ms, e);
    } else if (!strcmp(key, "status")) {
        return script_get_long(st, 200, 599, &s->status, e);
    } else if (!strcmp(key, "fail_times")) {
        return script_get_long(st, 0, 1000000000L, &s->fail_times, e);
    } else if (!strcmp(key, "drop_after_chunks")) {
        return script_get_long(st, 0, SCRIPT_MAX_CHUNKS, &s->drop_after_chunks, e);
    } else if (!strcmp(key, "usage")) {
        return script_read_usage(s, st, e);
    } else if (!strcmp(key, "tool_calls")) {
        return script_read_tools(s, st, e);
    } else if (!strcmp(key, "headers")) {
        return script_read_headers(s, st, e);
    } else if (!strcmp(key, "echo")) {
        return script_get_bool(st, &s->echo, e);
    } else if (!strcmp(key, "keepalive_comments")) {
        return script_get_bool(st, &s->keepalive_comments, e);
    } else if (!strcmp(key, "hang")) {
        return script_get_bool(st, &s->hang, e);
    } else if (!strcmp(key, "quirk")) {
        if (!(str = script_get_string(st, e)))
            return -1;
        if (!strcmp(str, "none"))
            s->quirk = MOCK_QUIRK_NONE;
        else if (!strcmp(str, "lmstudio"))
            s->quirk = MOCK_QUIRK_LMSTUDIO;
        else if (!strcmp(str, "tgi"))
            s->quirk = MOCK_QUIRK_TGI;
        else if (!strcmp(str, "mlx"))
            s->quirk = MOCK_QUIRK_MLX;
        else {
            script_fail(e, line, "unknown quirk \"%s\" (none, lmstudio, tgi, mlx)", str);
            return -1;
        }
        return 0;
    } else {
        script_fail(e, line, "unknown key '%s'", key);
        return -1;
    }

    if (!(str = script_get_string(st, e)))
        return -1;
    if (script_set_str(str_slot, str) < 0)
        goto oom;
    return 0;
oom:
    script_fail(e, line, "out of memory");
    return -1;
}

/* Turn reply_len into filler text, once every setting is in. */
static int script_finish(mock_scenario *s, script_err *e)
{
    static const char filler[] = "The quick brown fox jumps over the lazy dog. ";
    if (s->reply_len < 0)
        return 0;
    char *r = malloc((size_t)s->reply_len + 1);
    if (!r) {
        script_fail(e, s->line, "out of memory for reply_len %ld", s->reply_len);
        return -1;
    }
    for (long i = 0; i < s->reply_len; i++)
        r[i] = filler[(size_t)i % (sizeof filler - 1)];
    r[s->reply_len] = '\0';
    free(s->reply);
    s->reply = r;
    return 0;
}

/* Apply every top-level setting of root except `scenarios`. */
static int script_apply_top(mock_scenario *base, const config_setting_t *root, script_err *e)
{
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *st = config_setting_get_elem(root, (unsigned)i);
        if (!strcmp(config_setting_name(st), "scenarios"))
            continue;
        if (script_apply(base, st, true, e) < 0)
            return -1;
    }
    return 0;
}

static int script_parse(config_t *cfg, const char *text, script_err *e)
{
    config_init(cfg);
    if (config_read_string(cfg, text) != CONFIG_TRUE) {
        script_fail(e, config_error_line(cfg), "%s", config_error_text(cfg));
        config_destroy(cfg);
        return -1;
    }
    return 0;
}

int mock_script_load(mock_script *out, const char *text, const char *name,
                     const char *overrides, char *errbuf, size_t errlen)
{
    script_err e = { name ? name : "script", errbuf, errlen };
    config_t cfg, ovr;
    bool have_cfg = false, have_ovr = false;
    mock_script s;

    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (script_defaults(&s.base) < 0) {
        script_fail(&e, 0, "out of memory");
        goto fail;
    }
    if (text && *text) {
        if (script_parse(&cfg, text, &e) < 0)
            goto fail;
        have_cfg = true;
        if (script_apply_top(&s.base, config_root_setting(&cfg), &e) < 0)
            goto fail;
    }
    if (overrides && *overrides) {
        script_err oe = { "overrides", errbuf, errlen };
        if (script_parse(&ovr, overrides, &oe) < 0)
            goto fail;
        have_ovr = true;
        if (script_apply_top(&s.base, config_root_setting(&ovr), &oe) < 0)
            goto fail;
    }
    /* Scenarios copy the base before its reply_len is turned into text, so
       that a scenario can still replace the reply or change the length. */
    const config_setting_t *list = have_cfg ? config_lookup(&cfg, "scenarios") : NULL;
    if (list) {
        if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
            script_fail(&e, script_line(list), "'scenarios' must be a list: ( { ... }, { ... } )");
            goto fail;
        }
        int n = config_setting_length(list);
        s.sc = n > 0 ? calloc((size_t)n, sizeof *s.sc) : NULL;
        if (n > 0 && !s.sc) {
            script_fail(&e, script_line(list), "out of memory");
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
            if (!config_setting_is_group(g)) {
                script_fail(&e, script_line(g), "each scenario must be a group { ... }");
                goto fail;
            }
            if (script_copy_scenario(&s.sc[i], &s.base) < 0) {
                script_fail(&e, script_line(g), "out of memory");
                goto fail;
            }
            s.nsc = (size_t)i + 1;
            s.sc[i].line = script_line(g);
            for (int k = 0; k < config_setting_length(g); k++) {
                if (script_apply(&s.sc[i], config_setting_get_elem(g, (unsigned)k), false, &e) < 0)
                    goto fail;
            }
            if (script_finish(&s.sc[i], &e) < 0)
                goto fail;
        }
    }
    if (script_finish(&s.base, &e) < 0)
        goto fail;
    if (have_cfg)
        config_destroy(&cfg);
    if (have_ovr)
        config_destroy(&ovr);
    *out = s;
    return 0;
fail:
    if (have_cfg)
        config_destroy(&cfg);
    if (have_ovr)
        config_destroy(&ovr);
    mock_script_free(&s);
    return -1;
}

void mock_script_free(mock_script *s)
{
    if (!s)
        return;
    script_free_scenario(&s->base);
    for (size_t i = 0; i < s->nsc; i++)
        script_free_scenario(&s->sc[i]);
    free(s->sc);
    memset(s, 0, sizeof *s);
}

const mock_scenario *mock_script_find(const mock_script *s, const char *model, size_t *index)
{
    size_t fallback = s->nsc;
    for (size_t i = 0; i < s->nsc; i++) {
        const char *m = s->sc[i].model;
        if (model && m && !strcmp(m, model)) {
            *index = i;
            return &s->sc[i];
        }
        if (fallback == s->nsc && (!m || !strcmp(m, "default")))
            fallback = i;
    }
    *index = fallback;
    return fallback < s->nsc ? &s->sc[fallback] : &s->base;
}
