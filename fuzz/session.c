/*
 * session.c -- fuzz target: loading a saved session (ac_session_load) from
 * a file holding the input, on an LLM of a core that loaded the openai
 * plugin by absolute path (an empty plugin_path: nothing else is loaded).
 *
 * Checked besides "no crash, no leak": a refusal is one line; a session
 * that loads can be read
 * (roles, contents, system prompt), saves, and loads again to the same
 * system prompt and messages.
 */
#include "fuzz.h"

#include <abstractcore/abstractcore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ac_core *core;
static ac_llm *llm;
static char *cfg_path, *in_path, *out_path;

static void session_fini(void)
{
    ac_llm_free(llm);
    llm = NULL;
    ac_core_close(core);
    core = NULL;
    fuzz_temp_remove(cfg_path);
    fuzz_temp_remove(in_path);
    fuzz_temp_remove(out_path);
    cfg_path = in_path = out_path = NULL;
}

static int session_init(const char *plugin)
{
    (void)plugin;
    char text[2048];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = [ ]; };\n"
             "providers = ( { name = \"p\"; plugin = \"%s\"; api_key = \"sk-fuzz\"; } );\n",
             fuzz_plugin_so("openai"));
    ac_error err;
    ac_error_clear(&err);
    cfg_path = fuzz_temp_file("session-cfg");
    in_path = fuzz_temp_file("session-in");
    out_path = fuzz_temp_file("session-out");
    if (!cfg_path || !in_path || !out_path ||
        fuzz_write_file(cfg_path, text, strlen(text)) != 0 ||
        ac_core_open(&core, cfg_path, &err) != AC_OK ||
        !(llm = ac_llm_create(core, "p", "fuzz-model", NULL, &err))) {
        fprintf(stderr, "session: %s\n", err.message);
        session_fini();
        return -1;
    }
    return 0;
}

/* 1 if both strings (either may be NULL) are equal. */
static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int session_run(const uint8_t *data, size_t size)
{
    if (fuzz_write_file(in_path, data, size) != 0)
        return 0;
    ac_error err;
    ac_error_clear(&err);
    ac_session *s = ac_session_load(llm, in_path, &err);
    if (!s) {
        FUZZ_CHECK(err.code != AC_OK && err.message[0] != '\0' && fuzz_one_line(err.message));
        return 0;
    }
    size_t n = ac_session_message_count(s);
    ac_status st = ac_session_save(s, out_path, &err);
    if (st == AC_OK) {
        ac_session *t = ac_session_load(llm, out_path, &err);
        FUZZ_CHECK(t != NULL); /* what we saved, we load */
        if (t) {
            FUZZ_CHECK(ac_session_message_count(t) == n);
            char *sa = ac_session_system_prompt(s), *sb = ac_session_system_prompt(t);
            FUZZ_CHECK(same(sa, sb));
            ac_free(sa);
            ac_free(sb);
            for (size_t i = 0; i < n && i < ac_session_message_count(t); i++) {
                FUZZ_CHECK(ac_session_message_role(s, i) == ac_session_message_role(t, i));
                char *a = ac_session_message_content(s, i), *b = ac_session_message_content(t, i);
                FUZZ_CHECK(same(a, b));
                ac_free(a);
                ac_free(b);
            }
            ac_session_free(t);
        }
    } else {
        FUZZ_CHECK(st == AC_ENOMEM || st == AC_EIO);
    }
    ac_session_free(s);
    return 0;
}

const fuzz_target fuzz_session = {"session", session_init, session_run, session_fini};
