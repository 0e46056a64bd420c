/*
 * check_scenes.c -- what the mock plays in each scenario, and what the
 * caller must see then.
 *
 * For a protocol the mock speaks, a scene is a few script keys: the mock
 * writes the bytes in the plugin's own protocol (docs/mock-server.md), so
 * one table serves OpenAI, Anthropic and Ollama plugins alike.  For any
 * other protocol the scene comes from the fixture file
 * (check_fixtures.c).
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reply every text scene gives: ASCII and multi-byte UTF-8 both, so a
 * stream split inside a character is tried too. */
#define REPLY "Hello from the checker: caf\xc3\xa9, na\xc3\xafve, \xe2\x9c\x93 done."

static const char *const model_ids[] = { "check-alpha", "check-beta", NULL };

/* The HTTP error classes: the status, whether a caller may retry it, and
 * the Retry-After the server sends (none: -1). */
static const struct {
    int status;
    int retryable;
    int retry_after_s;
} errors[] = {
    { 400, 0, -1 }, { 401, 0, -1 }, { 403, 0, -1 }, { 404, 0, -1 },
    { 429, 1, 2 }, { 500, 1, -1 }, { 503, 1, -1 }, { 529, 1, -1 },
};

size_t check_error_count(checker *c)
{
    if (c->proto == PROTO_FIXTURES)
        return check_fixture_errors(c);
    return sizeof errors / sizeof errors[0];
}

void scene_free(scene *s)
{
    check_str_free(&s->script);
    memset(s, 0, sizeof *s);
}

static void scene_init(scene *s)
{
    memset(s, 0, sizeof *s);
    s->in = s->out = -1;
    s->retryable = -1;
    s->retry_after_ms = -1;
}

/* The error class message, kept for the scene's lifetime. */
static char error_message[64];

static int native(checker *c, const char *name, scene *s)
{
    check_str *o = &s->script;
    if (!strcmp(name, "text") || !strcmp(name, "stream")) {
        check_str_add(o, "reply = ", 8);
        check_quote(o, REPLY, strlen(REPLY));
        check_str_addf(o, "; chunks = 6; usage = [7, 5];\n");
        s->text = REPLY;
        s->in = 7;
        s->out = 5;
        s->finish = "stop";
        s->piece_chunks = 6;
        return 1;
    }
    if (!strcmp(name, "tools") || !strcmp(name, "tools_stream")) {
        check_str_addf(o, "tool_calls = ( { id = \"call_ck1\"; name = \"get_weather\"; "
                       "arguments = \"{\\\"city\\\":\\\"Paris\\\"}\"; } ); usage = [9, 4];\n");
        s->tool_name = "get_weather";
        s->tool_args = "{\"city\":\"Paris\"}";
        s->finish = "tool_calls";
        return 1;
    }
    if (!strcmp(name, "stream_error")) {
        check_str_add(o, "reply = ", 8);
        check_quote(o, REPLY, strlen(REPLY));
        check_str_addf(o, "; chunks = 6; stream_error = \"checker overload 7731\";\n");
        s->text = REPLY; /* what came before the error is a prefix of it */
        s->message = "checker overload 7731";
        s->piece_chunks = 6;
        return 1;
    }
    if (!strcmp(name, "models")) {
        check_str_addf(o, "scenarios = (");
        for (size_t i = 0; model_ids[i]; i++)
            check_str_addf(o, "%s{ model = \"%s\"; }", i ? ", " : "", model_ids[i]);
        check_str_addf(o, ");\n");
        s->model_ids = model_ids;
        return 1;
    }
    if (!strcmp(name, "key_echo")) {
        /* A server that quotes the key it was sent, as OpenAI's 401 does. */
        check_str_addf(o, "status = 401; error_message = \"Incorrect API key provided: %s. "
                       "You can find your API key at the console.\";\n", c->secret);
        s->status = 401;
        s->message = "Incorrect API key provided";
        return 1;
    }
    if (!strncmp(name, "error:", 6)) {
        size_t i = (size_t)atoi(name + 6);
        if (i >= sizeof errors / sizeof errors[0])
            return 0;
        snprintf(error_message, sizeof error_message, "checker error %d, code %zu",
                 errors[i].status, 4200 + i);
        check_str_addf(o, "status = %d; error_message = \"%s\";\n", errors[i].status,
                       error_message);
        if (errors[i].retry_after_s >= 0)
            check_str_addf(o, "retry_after = \"%d\";\n", errors[i].retry_after_s);
        s->status = errors[i].status;
        s->retryable = errors[i].retryable;
        s->retry_after_ms = errors[i].retry_after_s >= 0 ? errors[i].retry_after_s * 1000L : -1;
        s->message = error_message;
        return 1;
    }
    return 0;
}

int check_scene(checker *c, const char *name, const char *extra, scene *s)
{
    scene_init(s);
    int found = c->proto == PROTO_FIXTURES ? check_fixture_scene(c, name, extra, s)
                                           : native(c, name, s);
    if (!found) {
        scene_free(s);
        return 0;
    }
    if (c->proto != PROTO_FIXTURES && extra)
        check_str_addf(&s->script, "%s\n", extra);
    return 1;
}
