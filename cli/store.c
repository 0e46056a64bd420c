/*
 * store.c -- conversations kept on disk, so that `acore -c` continues the
 * last one and `--session NAME` a named one.
 *
 * They live in the XDG data folder, $XDG_DATA_HOME/abstractcore (default
 * ~/.local/share/abstractcore), made mode 0700: last-session.json is the
 * conversation of the last `acore PROMPT` or `acore chat` turn, and
 * sessions/NAME.json the named ones.  A name holding a '/' is a file name
 * as it is.  The files are the library's session format
 * (ac_session_save: written to a temporary file, then renamed; mode 0600;
 * never an API key).
 *
 * The library has no call to change a session's system prompt, so
 * cli_session_set_system() goes through that format: save, change
 * "system", load.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

/* mkdir -p with mode 0700 for what it makes. */
static int store_mkdirs(const char *dir)
{
    char tmp[4096];
    size_t i, n = strlen(dir);

    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            tmp[i] = c;
        }
    }
    return 0;
}

int cli_data_dir(char *buf, size_t n, int create)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int len;

    /* The spec: a relative $XDG_DATA_HOME is invalid and ignored. */
    if (xdg && xdg[0] == '/')
        len = snprintf(buf, n, "%s/abstractcore", xdg);
    else if (home && home[0] == '/')
        len = snprintf(buf, n, "%s/.local/share/abstractcore", home);
    else {
        cli_errorf("no place for conversations: set $HOME or $XDG_DATA_HOME");
        return -1;
    }
    if (len < 0 || (size_t)len >= n) {
        cli_errorf("the data folder's name is too long");
        return -1;
    }
    if (create && store_mkdirs(buf) != 0) {
        cli_errorf("cannot make the folder %s: %s", buf, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_session_file(const char *name, char *buf, size_t n, int create_dir)
{
    char dir[4096];
    size_t len = strlen(name);
    int w;

    if (!*name) {
        cli_errorf("a session needs a name");
        return -1;
    }
    if (strchr(name, '/')) {
        if (len >= n) {
            cli_errorf("the session file name is too long");
            return -1;
        }
        memcpy(buf, name, len + 1);
        return 0;
    }
    if (cli_data_dir(dir, sizeof dir, 0) != 0)
        return -1;
    if (len > 5 && strcmp(name + len - 5, ".json") == 0)
        len -= 5;   /* "notes.json" and "notes" are one session */
    w = snprintf(buf, n, "%s/sessions/%.*s.json", dir, (int)len, name);
    if (w < 0 || (size_t)w >= n) {
        cli_errorf("the session file name is too long");
        return -1;
    }
    if (create_dir) {
        char sub[4096 + 16];
        snprintf(sub, sizeof sub, "%s/sessions", dir);
        if (store_mkdirs(sub) != 0) {
            cli_errorf("cannot make the folder %s: %s", sub, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int cli_last_session_file(char *buf, size_t n, int create_dir)
{
    char dir[4096];
    int w;

    if (cli_data_dir(dir, sizeof dir, create_dir) != 0)
        return -1;
    w = snprintf(buf, n, "%s/last-session.json", dir);
    if (w < 0 || (size_t)w >= n) {
        cli_errorf("the data folder's name is too long");
        return -1;
    }
    return 0;
}

static int store_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int cli_session_open(ac_llm *llm, const cli_opts *o, ac_session **out)
{
    char path[4096];
    const char *from = NULL;
    ac_session *s = NULL;
    ac_error err;

    if (o->continue_last) {
        if (cli_last_session_file(path, sizeof path, 0) != 0)
            return CLI_EXIT_REQUEST;
        if (!store_exists(path)) {
            cli_errorf("no conversation to continue (none kept in %s yet)", path);
            return CLI_EXIT_USAGE;
        }
        from = path;
    } else if (o->session) {
        if (cli_session_file(o->session, path, sizeof path, 0) != 0)
            return CLI_EXIT_REQUEST;
        if (store_exists(path))
            from = path;
    }
    if (from) {
        s = ac_session_load(llm, from, &err);
        if (!s) {
            cli_print_error(&err);
            return CLI_EXIT_REQUEST;
        }
        if (o->system && cli_session_set_system(&s, llm, o->system, &err) != AC_OK) {
            cli_print_error(&err);
            ac_session_free(s);
            return CLI_EXIT_REQUEST;
        }
    } else if (!(s = ac_session_new(llm, o->system))) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    *out = s;
    return CLI_EXIT_OK;
}

int cli_session_keep(ac_session *s, const cli_opts *o)
{
    char path[4096];
    ac_error err;
    int rc = CLI_EXIT_OK;

    if (o->session) {
        if (cli_session_file(o->session, path, sizeof path, 1) != 0)
            return CLI_EXIT_REQUEST;
        if (ac_session_save(s, path, &err) != AC_OK) {
            cli_print_error(&err);
            rc = CLI_EXIT_REQUEST;
        }
    }
    /* The last conversation is a convenience: failing to keep it (a
     * read-only home) is said, but is not the request's failure. */
    if (cli_last_session_file(path, sizeof path, 1) == 0 &&
        ac_session_save(s, path, &err) != AC_OK) {
        cli_errorf("warning: the conversation was not kept for -c: %s", err.message);
    }
    return rc;
}

ac_status cli_session_set_system(ac_session **sp, ac_llm *llm, const char *system,
                                 ac_error *err)
{
    char dir[] = "/tmp/acore-session-XXXXXX";
    const char *tmpdir = getenv("TMPDIR");
    char base[4096], path[4200];
    json_object *doc = NULL;
    ac_session *ns = NULL;
    ac_status st;

    ac_error_clear(err);
    if (system && !cli_valid_utf8(system)) {
        err->code = AC_EINVAL;
        snprintf(err->message, sizeof err->message, "the system prompt is not valid UTF-8");
        return AC_EINVAL;
    }
    if (tmpdir && tmpdir[0] == '/' && strlen(tmpdir) < 4000)
        snprintf(base, sizeof base, "%s/acore-session-XXXXXX", tmpdir);
    else
        snprintf(base, sizeof base, "%s", dir);
    if (!mkdtemp(base)) {
        err->code = AC_EIO;
        err->stage = AC_STAGE_IO;
        snprintf(err->message, sizeof err->message, "cannot make a temporary folder: %s",
                 strerror(errno));
        return AC_EIO;
    }
    snprintf(path, sizeof path, "%s/session.json", base);
    st = ac_session_save(*sp, path, err);
    if (st != AC_OK)
        goto done;
    doc = json_object_from_file(path);
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        st = AC_EIO;
        err->code = st;
        snprintf(err->message, sizeof err->message, "cannot read back %.300s", path);
        goto done;
    }
    json_object_object_del(doc, "system");
    if (system && *system)
        json_object_object_add(doc, "system", json_object_new_string(system));
    if (json_object_to_file_ext(path, doc, JSON_C_TO_STRING_PLAIN) != 0) {
        st = AC_EIO;
        err->code = st;
        snprintf(err->message, sizeof err->message, "cannot write %.300s", path);
        goto done;
    }
    ns = ac_session_load(llm, path, err);
    if (!ns) {
        st = err->code != AC_OK ? err->code : AC_ENOMEM;
        goto done;
    }
    ac_session_free(*sp);
    *sp = ns;
    st = AC_OK;
done:
    json_object_put(doc);
    unlink(path);
    rmdir(base);
    return st;
}
