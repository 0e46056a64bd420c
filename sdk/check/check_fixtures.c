/*
 * check_fixtures.c -- the fixture file: a backend the mock does not speak,
 * given as the bytes it answers in each scenario.
 *
 * A libconfig file (acore-provider-check(1), sdk/template/acme.check):
 *
 *   model = "acme-1";                        # optional: the model to ask for
 *   text = { body = "..."; expect_text = "..."; ... };   # required
 *   stream = { body = "..."; chunks = 4; expect_text = "..."; ... };
 *   stream_error = { body = "..."; expect_message = "..."; };
 *   tools = { ... expect_tool_name; expect_tool_arguments; };
 *   tools_stream = { ... };
 *   models = { body = "..."; expect_models = [ "a", "b" ]; };
 *   key_echo = { status = 401; body = "... ${KEY} ..."; expect_message = "..."; };
 *   errors = ( { status = 429; body = "..."; retry_after = "2";
 *                expect_message = "..."; retryable = true; }, ... );
 *
 * The mock plays each with any_path (every request is answered, whatever
 * its path) and raw (the bytes as given, in `chunks` pieces).  ${KEY} in a
 * body becomes the key the checker configured.  Unknown keys are errors,
 * naming file and line: a misspelt expectation must not pass silently.
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const scene_keys[] = {
    "body", "content_type", "chunks", "status", "retry_after", "delay_ms",
    "expect_text", "expect_input_tokens", "expect_output_tokens", "expect_finish",
    "expect_message", "retryable", "expect_retry_after_ms", "expect_tool_name",
    "expect_tool_arguments", "expect_models", NULL,
};

static const char *const top_keys[] = {
    "model", "text", "stream", "stream_error", "tools", "tools_stream", "models", "key_echo",
    "errors", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return 1;
    return 0;
}

static int bad(const checker *c, const config_setting_t *s, const char *what)
{
    fprintf(stderr, "acore-provider-check: %s:%d: %s\n", c->fx_path,
            config_setting_source_line(s), what);
    return -1;
}

static int scene_ok(const checker *c, const config_setting_t *g, const char *name)
{
    char msg[200];
    if (!config_setting_is_group(g)) {
        snprintf(msg, sizeof msg, "'%s' must be a group { body = ...; ... }", name);
        return bad(c, g, msg);
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *k = config_setting_get_elem(g, (unsigned)i);
        if (!in_list(scene_keys, config_setting_name(k))) {
            snprintf(msg, sizeof msg, "'%s' has an unknown key '%s'", name,
                     config_setting_name(k));
            return bad(c, k, msg);
        }
    }
    const char *body;
    if (!config_setting_lookup_string(g, "body", &body)) {
        snprintf(msg, sizeof msg, "'%s' needs body = \"...\" (the bytes the backend sends)",
                 name);
        return bad(c, g, msg);
    }
    return 0;
}

int check_fixtures_load(checker *c)
{
    config_init(&c->fx);
    c->have_fx = 1;
    if (config_read_file(&c->fx, c->fx_path) != CONFIG_TRUE) {
        const char *f = config_error_file(&c->fx);
        if (config_error_type(&c->fx) == CONFIG_ERR_FILE_IO)
            fprintf(stderr, "acore-provider-check: %s: cannot read it\n", c->fx_path);
        else
            fprintf(stderr, "acore-provider-check: %s:%d: %s\n", f ? f : c->fx_path,
                    config_error_line(&c->fx), config_error_text(&c->fx));
        return -1;
    }
    config_setting_t *root = config_root_setting(&c->fx);
    char msg[200];
    for (int i = 0; i < config_setting_length(root); i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        if (!in_list(top_keys, name)) {
            snprintf(msg, sizeof msg, "unknown key '%s'", name);
            return bad(c, s, msg);
        }
        if (!strcmp(name, "model")) {
            if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return bad(c, s, "'model' must be a string");
            c->model = config_setting_get_string(s);
        } else if (!strcmp(name, "errors")) {
            if (!config_setting_is_list(s))
                return bad(c, s, "'errors' must be a list ( { status = ...; ... }, ... )");
            for (int k = 0; k < config_setting_length(s); k++) {
                config_setting_t *e = config_setting_get_elem(s, (unsigned)k);
                int st;
                if (scene_ok(c, e, "errors") < 0)
                    return -1;
                if (!config_setting_lookup_int(e, "status", &st) || st < 400 || st > 599)
                    return bad(c, e, "each error needs status = 400..599");
            }
        } else if (scene_ok(c, s, name) < 0) {
            return -1;
        }
    }
    const char *t;
    config_setting_t *text = config_lookup(&c->fx, "text");
    if (!text || !config_setting_lookup_string(text, "expect_text", &t)) {
        fprintf(stderr, "acore-provider-check: %s: needs text = { body = ...; expect_text = "
                "...; } (a plain reply)\n", c->fx_path);
        return -1;
    }
    return 0;
}

size_t check_fixture_errors(checker *c)
{
    config_setting_t *e = config_lookup(&c->fx, "errors");
    return e ? (size_t)config_setting_length(e) : 0;
}

void check_quote(check_str *out, const char *s, size_t n)
{
    check_str_add(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            check_str_addf(out, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            check_str_addf(out, "\\x%02x", ch);
        else
            check_str_add(out, s + i, 1);
    }
    check_str_add(out, "\"", 1);
}

/* body with ${KEY} replaced by the key, quoted. */
static void quote_body(const checker *c, check_str *out, const char *body)
{
    check_str b = {0};
    const char *p = body, *k;
    while ((k = strstr(p, "${KEY}")) != NULL) {
        check_str_add(&b, p, (size_t)(k - p));
        check_str_add(&b, c->secret, strlen(c->secret));
        p = k + 6;
    }
    check_str_add(&b, p, strlen(p));
    check_quote(out, b.p, b.len);
    check_str_free(&b);
}

static const char *str(const config_setting_t *g, const char *key)
{
    const char *v = NULL;
    return config_setting_lookup_string(g, key, &v) ? v : NULL;
}

static long num(const config_setting_t *g, const char *key, long dflt)
{
    long long v;
    return config_setting_lookup_int64(g, key, &v) ? (long)v : dflt;
}

/* expect_models, kept for the scene (one list at a time). */
static const char *model_ids[65];

int check_fixture_scene(checker *c, const char *name, const char *extra, scene *s)
{
    config_setting_t *g;
    if (!strncmp(name, "error:", 6)) {
        config_setting_t *list = config_lookup(&c->fx, "errors");
        g = list ? config_setting_get_elem(list, (unsigned)atoi(name + 6)) : NULL;
    } else {
        g = config_lookup(&c->fx, name);
    }
    if (!g)
        return 0;
    check_str *o = &s->script;
    const char *body = str(g, "body");
    check_str bad = {0};
    if (extra && strstr(extra, "invalid_utf8 = true")) {
        /* Bytes that are not UTF-8 (C3 28 FF) inside the reply's text:
         * after its first three bytes, where the body first has them. */
        const char *t = str(g, "expect_text");
        const char *at = t && strlen(t) >= 3 ? memmem(body, strlen(body), t, 3) : NULL;
        if (!at)
            return 0;
        check_str_add(&bad, body, (size_t)(at + 3 - body));
        check_str_add(&bad, "\xc3\x28\xff", 3);
        check_str_add(&bad, at + 3, strlen(at + 3));
        body = bad.p;
    }
    check_str_addf(o, "any_path = true;\nraw = ");
    quote_body(c, o, body);
    s->body_len = strlen(body);
    check_str_free(&bad);
    check_str_addf(o, ";\n");
    if (str(g, "content_type")) {
        check_str_addf(o, "content_type = ");
        check_quote(o, str(g, "content_type"), strlen(str(g, "content_type")));
        check_str_addf(o, ";\n");
    }
    s->piece_chunks = (int)num(g, "chunks", 1);
    check_str_addf(o, "chunks = %d;\n", s->piece_chunks);
    if (num(g, "delay_ms", -1) >= 0)
        check_str_addf(o, "delay_ms = %ld;\n", num(g, "delay_ms", 0));
    s->status = (int)num(g, "status", 0);
    if (s->status)
        check_str_addf(o, "status = %d;\n", s->status);
    if (str(g, "retry_after")) {
        check_str_addf(o, "retry_after = ");
        check_quote(o, str(g, "retry_after"), strlen(str(g, "retry_after")));
        check_str_addf(o, ";\n");
    }
    if (extra)
        check_str_addf(o, "%s\n", extra);
    s->text = str(g, "expect_text");
    s->in = num(g, "expect_input_tokens", -1);
    s->out = num(g, "expect_output_tokens", -1);
    s->finish = str(g, "expect_finish");
    s->message = str(g, "expect_message");
    int r;
    s->retryable = config_setting_lookup_bool(g, "retryable", &r) ? r : -1;
    s->retry_after_ms = num(g, "expect_retry_after_ms", -1);
    s->tool_name = str(g, "expect_tool_name");
    s->tool_args = str(g, "expect_tool_arguments");
    config_setting_t *ids = config_setting_get_member(g, "expect_models");
    if (ids) {
        size_t n = 0;
        for (int i = 0; i < config_setting_length(ids) && n < 64; i++) {
            const char *id = config_setting_get_string_elem(ids, i);
            if (id)
                model_ids[n++] = id;
        }
        model_ids[n] = NULL;
        s->model_ids = model_ids;
    }
    return 1;
}
