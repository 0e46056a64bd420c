/*
 * util.c -- acore's messages: errors on one line with control characters
 * replaced, exit statuses for library codes, "did you mean", and where
 * the configuration was looked for.
 *
 * Everything here writes to stdio from the main thread only.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "ac_paths.h"   /* AC_SYSCONFDIR, for cli_config_where */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "cli.h"

/* Replace every control character with a space: messages stay on one line
 * and text that came from a server cannot send terminal escapes. */
static void util_sanitize(char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f)
            *s = ' ';
    }
}

void cli_errorf(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    util_sanitize(buf);
    fprintf(stderr, "acore: %s\n", buf);
}

int cli_usage_error(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cli_errorf("%s (try 'acore --help')", buf);
    return CLI_EXIT_USAGE;
}

void cli_print_error(const ac_error *err)
{
    char provider[AC_ERROR_PROVIDER_MAX + 2] = "";
    char stage[32] = "";
    const char *msg;

    if (err->provider[0])
        snprintf(provider, sizeof provider, "%s: ", err->provider);
    if (err->stage > AC_STAGE_NONE && err->stage < AC_STAGE_LAST)
        snprintf(stage, sizeof stage, "%s: ", ac_stage_name(err->stage));
    msg = err->message[0] ? err->message : ac_strerror(err->code);
    /* The core may already have started its message with the provider
     * name; saying it twice reads like a bug. */
    if (provider[0] && strncmp(msg, provider, strlen(provider)) == 0)
        provider[0] = '\0';
    cli_errorf("%s%s%s", provider, stage, msg);
}

int cli_exit_status(ac_status code)
{
    switch (code) {
    case AC_ECONFIG:
    case AC_EPLUGIN:
    case AC_ENOPROVIDER:
        return CLI_EXIT_CONFIG;
    default:
        return CLI_EXIT_REQUEST;
    }
}

void cli_put_clean(FILE *f, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, f);
    }
}

void cli_put_oneline_json(FILE *f, const char *s, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj = NULL;

    if (tok) {
        obj = json_tokener_parse_ex(tok, s, (int)(len > 0x7fffffff ? 0x7fffffff : len));
        if (obj && json_tokener_get_error(tok) == json_tokener_success &&
            (size_t)json_tokener_get_parse_end(tok) == len) {
            fputs(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE), f);
            json_object_put(obj);
            json_tokener_free(tok);
            return;
        }
        json_object_put(obj);
        json_tokener_free(tok);
    }
    /* Not JSON (a truncated call, say): show it as it came, on one line. */
    cli_put_clean(f, s, len);
}

/* Edit distance with adjacent transpositions (optimal string alignment),
 * for words of at most 63 bytes; a longer word is nobody's typo. */
static size_t util_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t d[64][64];

    if (la >= 64 || lb >= 64)
        return 64;
    for (i = 0; i <= la; i++)
        d[i][0] = i;
    for (j = 0; j <= lb; j++)
        d[0][j] = j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* A typo is one edit away in a short word, two in a longer one; words of
 * under four letters are too short to tell ("hat" is not "chat"), and a
 * real word two edits from a command ("hello", "help") is a prompt. */
const char *cli_nearest(const char *word, const char *const *cands)
{
    size_t len = strlen(word), best = 64, i;
    const char *pick = NULL;

    if (len < 4)
        return NULL;
    for (i = 0; cands[i]; i++) {
        size_t d = util_distance(word, cands[i]);
        if (d > 0 && d < best) {
            best = d;
            pick = cands[i];
        }
    }
    if (!pick || best > (len >= 7 ? 2u : 1u))
        return NULL;
    return pick;
}

void cli_status_name(ac_status code, char *buf, size_t n)
{
    const char *s = ac_strerror(code);
    size_t k = strcspn(s, ":");

    snprintf(buf, n, "%.*s", (int)k, s);
}

/* The user's file in the search order: $XDG_CONFIG_HOME or ~/.config. */
static void util_user_config(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (xdg && *xdg)
        snprintf(buf, n, "%s/abstractcore/abstractcore.conf", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.config/abstractcore/abstractcore.conf", home);
    else
        snprintf(buf, n, "$XDG_CONFIG_HOME/abstractcore/abstractcore.conf");
}

static int util_no_system(void)
{
    const char *nosys = getenv("ABSTRACTCORE_CONFIG_NOSYSTEM");
    return nosys && *nosys && strcmp(nosys, "0") != 0;
}

static int util_is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_config_find(char *buf, size_t n)
{
    const char *env = getenv("ABSTRACTCORE_CONFIG");

    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return 0;
    }
    util_user_config(buf, n);
    if (util_is_file(buf))
        return 0;
    snprintf(buf, n, "%s/abstractcore/abstractcore.conf", AC_SYSCONFDIR);
    return !util_no_system() && util_is_file(buf) ? 0 : -1;
}

void cli_config_where(const ac_core *core, const char *config_path, char *buf, size_t n)
{
    const char *used = core ? ac_core_config_path(core) : config_path;
    char user[1024];

    if (used) {
        snprintf(buf, n, "the configuration file %s", used);
        return;
    }
    util_user_config(user, sizeof user);
    if (util_no_system())
        snprintf(buf, n, "no configuration file (looked for %s)", user);
    else
        snprintf(buf, n, "no configuration file (looked for %s and %s/abstractcore/abstractcore.conf)",
                 user, AC_SYSCONFDIR);
}

void cli_print_llm_error(const ac_error *err, const ac_core *core)
{
    char where[1200];

    if (err->code != AC_ENOPROVIDER) {
        cli_print_error(err);
        return;
    }
    /* A provider the core does not know: the library's message, and
     * where to look and what to try, on the same line. */
    cli_config_where(core, NULL, where, sizeof where);
    cli_errorf("%s%s%s (%s; `acore plugins` lists the providers; `acore --demo` runs "
               "without any)", err->provider[0] ? err->provider : "",
               err->provider[0] ? ": " : "",
               err->message[0] ? err->message : ac_strerror(err->code), where);
}
