/*
 * chat.c -- `acore chat`: an interactive conversation.
 *
 * Each line is a turn of one session (run.c prints the reply as it
 * streams); lines starting with '/' are commands: /system, /model,
 * /provider, /save, /load, /reset, /help, /exit.  The conversation is
 * kept after every turn like a single prompt's (store.c): `acore -c chat`
 * continues it, `--session NAME` keeps it under a name.
 *
 * On a terminal, lines are read with libedit (line editing, and a history
 * kept in the XDG data folder); without libedit, or when standard input
 * is not a terminal (a script piped in), plain lines, and no prompt is
 * shown.
 *
 * Ctrl-C: during a reply it cancels the reply (what arrived stays on the
 * screen, the conversation is as before the turn) and returns to the
 * prompt; on a line being typed it drops the line; at an empty prompt it
 * says how to leave, and a second Ctrl-C there (or one right after a
 * cancelled reply) leaves.  The handler only sets a flag (tty.c) and is
 * installed without SA_RESTART: the read that waits for a key returns
 * EINTR, and the reader below looks at the flag.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#ifdef HAVE_LIBEDIT
#include <histedit.h>
#endif

#include "cli.h"

#define CHAT_HISTORY_SIZE 1000
#define CHAT_LINE_MAX     ((size_t)1024 * 1024)

enum { CHAT_LINE = 1, CHAT_EOF = 0, CHAT_INTERRUPT = -1 };

/* ------------------------------------------------------------------ */
/* Reading lines                                                       */
/* ------------------------------------------------------------------ */

typedef struct chat_reader {
    int      tty;            /* standard input is a terminal */
    int      cut_nonempty;   /* the Ctrl-C dropped a line being typed */
    char    *buf;            /* the line read (read_line) */
    size_t   cap;
#ifdef HAVE_LIBEDIT
    EditLine *el;
    History  *hist;
    char      hist_file[4096];
    mbstate_t mb;
#endif
} chat_reader;

/* One line of standard input (without its newline) into r->buf, never
 * more than CHAT_LINE_MAX bytes kept: a longer line is read to its end and
 * dropped (*bad 1), as is one with a NUL byte (*bad 2), so that no input
 * grows memory past the limit.  Its length, or -1 at the end of input or
 * on an error (errno). */
static ssize_t read_line(chat_reader *r, int *bad)
{
    size_t n = 0;
    int ch, any = 0;
    *bad = 0;
    if (!r->buf) {
        if (!(r->buf = malloc(256)))
            return -1;
        r->cap = 256;
    }
    while ((ch = getc(stdin)) != EOF && ch != '\n') {
        any = 1;
        if (*bad)
            continue;
        if (ch == '\0') {
            *bad = 2;
            continue;
        }
        if (n + 2 > r->cap) {
            char *p = r->cap <= CHAT_LINE_MAX ? realloc(r->buf, r->cap * 2) : NULL;
            if (!p) {
                *bad = 1;
                continue;
            }
            r->buf = p;
            r->cap *= 2;
        }
        r->buf[n++] = (char)ch;
    }
    r->buf[n] = '\0';
    if (ch == EOF && !any)
        return -1;
    return (ssize_t)n;
}

#ifdef HAVE_LIBEDIT
static char *chat_prompt(EditLine *el)
{
    static char prompt[] = "> ";
    (void)el;
    return prompt;
}

/* libedit's character source: waits for a byte with poll(), which a
 * Ctrl-C interrupts; then libedit's el_gets returns NULL and the flag
 * says why.  Multibyte characters are decoded for the locale. */
static int chat_getc(EditLine *el, wchar_t *wc)
{
    chat_reader *r = NULL;
    el_get(el, EL_CLIENTDATA, &r);
    for (;;) {
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
        unsigned char byte;
        ssize_t n;
        size_t k;

        if (cli_interrupted) {
            const LineInfo *li = el_line(el);
            r->cut_nonempty = li && li->lastchar > li->buffer;
            errno = EINTR;
            return -1;
        }
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        n = read(STDIN_FILENO, &byte, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;   /* 0: end of input */
        k = mbrtowc(wc, (const char *)&byte, 1, &r->mb);
        if (k == (size_t)-2)
            continue;   /* more bytes of this character to come */
        if (k == (size_t)-1) {
            memset(&r->mb, 0, sizeof r->mb);
            *wc = (wchar_t)byte;   /* not the locale's encoding: as it is */
        }
        return 1;
    }
}
#endif

static void chat_reader_open(chat_reader *r)
{
    memset(r, 0, sizeof *r);
    r->tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
#ifdef HAVE_LIBEDIT
    if (!r->tty)
        return;
    setlocale(LC_CTYPE, "");
    r->el = el_init("acore", stdin, stdout, stderr);
    r->hist = history_init();
    if (!r->el || !r->hist) {
        if (r->el)
            el_end(r->el);
        if (r->hist)
            history_end(r->hist);
        r->el = NULL;
        r->hist = NULL;
        return;   /* plain lines, then */
    }
    HistEvent ev;
    history(r->hist, &ev, H_SETSIZE, CHAT_HISTORY_SIZE);
    history(r->hist, &ev, H_SETUNIQUE, 1);
    el_set(r->el, EL_EDITOR, "emacs");
    el_set(r->el, EL_PROMPT, chat_prompt);
    el_set(r->el, EL_HIST, history, r->hist);
    el_set(r->el, EL_CLIENTDATA, r);
    el_set(r->el, EL_GETCFN, chat_getc);
    el_source(r->el, NULL);   /* the user's ~/.editrc, as other programs */
    if (cli_data_dir(r->hist_file, sizeof r->hist_file - 16, 1) == 0) {
        strcat(r->hist_file, "/chat-history");
        history(r->hist, &ev, H_LOAD, r->hist_file);
    } else {
        r->hist_file[0] = '\0';
    }
#endif
}

static void chat_reader_close(chat_reader *r)
{
#ifdef HAVE_LIBEDIT
    if (r->el) {
        HistEvent ev;
        if (r->hist_file[0])
            history(r->hist, &ev, H_SAVE, r->hist_file);
        el_end(r->el);
        history_end(r->hist);
    }
#endif
    free(r->buf);
}

static void chat_reader_remember(chat_reader *r, const char *line)
{
#ifdef HAVE_LIBEDIT
    if (r->el) {
        HistEvent ev;
        history(r->hist, &ev, H_ENTER, line);
    }
#else
    (void)r;
    (void)line;
#endif
}

/* The next line, without its newline, in *line (valid until the next
 * call): CHAT_LINE, CHAT_EOF, or CHAT_INTERRUPT (r->cut_nonempty says
 * whether something had been typed). */
static int chat_read(chat_reader *r, const char **line)
{
    ssize_t n;

    r->cut_nonempty = 0;
#ifdef HAVE_LIBEDIT
    if (r->el) {
        int count = 0;
        const char *s;
        /* The terminal in libedit's mode before the prompt shows (el_gets
         * would switch only at its first read, after printing it): what
         * is typed once the prompt is there is libedit's to echo, and a
         * Ctrl-D is a key, not the terminal's end of input. */
        el_set(r->el, EL_PREP_TERM, 1);
        s = el_gets(r->el, &count);
        if (cli_interrupted)
            return CHAT_INTERRUPT;
        if (!s || count <= 0)
            return CHAT_EOF;
        free(r->buf);
        r->buf = strdup(s);
        if (!r->buf)
            return CHAT_EOF;
        r->buf[strcspn(r->buf, "\r\n")] = '\0';
        *line = r->buf;
        return CHAT_LINE;
    }
#endif
    if (r->tty) {
        fputs("> ", stdout);
        fflush(stdout);
    }
    errno = 0;
    int bad = 0;
    n = read_line(r, &bad);
    if (n < 0) {
        if (cli_interrupted || errno == EINTR) {
            clearerr(stdin);
            return CHAT_INTERRUPT;
        }
        return CHAT_EOF;
    }
    if (bad == 1)
        cli_errorf("a line of more than %zu bytes: skipped", CHAT_LINE_MAX);
    else if (bad == 2)
        cli_errorf("a line with a NUL byte: skipped");
    if (bad)
        r->buf[0] = '\0';
    r->buf[strcspn(r->buf, "\r")] = '\0';
    *line = r->buf;
    return CHAT_LINE;
}

/* ------------------------------------------------------------------ */
/* The conversation and its commands                                   */
/* ------------------------------------------------------------------ */

typedef struct chat_state {
    cli_ctx       *ctx;
    ac_session    *s;
    ac_llm        *llm;     /* the one turns use: ctx->llm or own */
    ac_llm        *own;     /* made by /model or /provider, else NULL */
    ac_gen_params *gp;
} chat_state;

enum { CHAT_GO_ON = 0, CHAT_LEAVE = 1 };

typedef struct chat_command {
    const char *name;
    int       (*run)(chat_state *st, const char *arg);
    const char *args;
    const char *help;
} chat_command;

static int chat_help(chat_state *st, const char *arg);

/* Switch turns to llm (made by the caller, now ours). */
static void chat_use(chat_state *st, ac_llm *llm)
{
    if (ac_session_set_llm(st->s, llm) != AC_OK) {
        cli_errorf("cannot switch: out of memory");
        ac_llm_free(llm);
        return;
    }
    ac_llm_free(st->own);
    st->own = llm;
    st->llm = llm;
    fprintf(stderr, "[now %s, model %s]\n", ac_llm_provider(llm),
            ac_llm_model(llm)[0] ? ac_llm_model(llm) : "(default)");
}

static int chat_model(chat_state *st, const char *arg)
{
    ac_error err;
    ac_llm *llm;

    if (!*arg) {
        fprintf(stderr, "[provider %s, model %s]\n", ac_llm_provider(st->llm),
                ac_llm_model(st->llm)[0] ? ac_llm_model(st->llm) : "(default)");
        return CHAT_GO_ON;
    }
    llm = cli_llm_new(st->ctx, ac_llm_provider(st->llm), arg, &err);
    if (!llm)
        cli_print_llm_error(&err, st->ctx->core);
    else
        chat_use(st, llm);
    return CHAT_GO_ON;
}

static int chat_provider(chat_state *st, const char *arg)
{
    char name[256];
    const char *model;
    ac_error err;
    ac_llm *llm;
    size_t n;

    if (!*arg)
        return chat_model(st, arg);
    n = strcspn(arg, " \t");
    if (n >= sizeof name) {
        cli_errorf("/provider: the name is too long");
        return CHAT_GO_ON;
    }
    memcpy(name, arg, n);
    name[n] = '\0';
    model = arg + n;
    while (*model == ' ' || *model == '\t')
        model++;
    llm = cli_llm_new(st->ctx, name, *model ? model : NULL, &err);
    if (!llm)
        cli_print_llm_error(&err, st->ctx->core);
    else
        chat_use(st, llm);
    return CHAT_GO_ON;
}

static int chat_system(chat_state *st, const char *arg)
{
    ac_error err;

    if (!*arg) {
        char *sys = ac_session_system_prompt(st->s);
        fputs("[system prompt: ", stderr);
        if (sys)
            cli_put_clean(stderr, sys, strlen(sys));
        else
            fputs("none", stderr);
        fputs("]\n", stderr);
        ac_free(sys);
        return CHAT_GO_ON;
    }
    if (cli_session_set_system(&st->s, st->llm, arg, &err) != AC_OK)
        cli_print_error(&err);
    else
        fputs("[system prompt set]\n", stderr);
    return CHAT_GO_ON;
}

static int chat_save(chat_state *st, const char *arg)
{
    char path[4096];
    ac_error err;

    if (!*arg) {
        cli_errorf("/save: which file? (/save NAME, or a path)");
        return CHAT_GO_ON;
    }
    if (cli_session_file(arg, path, sizeof path, 1) != 0)
        return CHAT_GO_ON;
    if (ac_session_save(st->s, path, &err) != AC_OK)
        cli_print_error(&err);
    else
        fprintf(stderr, "[saved %zu messages to %s]\n", ac_session_message_count(st->s), path);
    return CHAT_GO_ON;
}

static int chat_load(chat_state *st, const char *arg)
{
    char path[4096];
    ac_error err;
    ac_session *s;

    if (!*arg) {
        cli_errorf("/load: which file? (/load NAME, or a path)");
        return CHAT_GO_ON;
    }
    if (cli_session_file(arg, path, sizeof path, 0) != 0)
        return CHAT_GO_ON;
    s = ac_session_load(st->llm, path, &err);
    if (!s) {
        cli_print_error(&err);
        return CHAT_GO_ON;
    }
    ac_session_free(st->s);
    st->s = s;
    fprintf(stderr, "[loaded %zu messages from %s]\n", ac_session_message_count(s), path);
    return CHAT_GO_ON;
}

static int chat_reset(chat_state *st, const char *arg)
{
    (void)arg;
    ac_session_clear(st->s);
    fputs("[conversation cleared; the system prompt stays]\n", stderr);
    return CHAT_GO_ON;
}

static int chat_exit(chat_state *st, const char *arg)
{
    (void)st;
    (void)arg;
    return CHAT_LEAVE;
}

static const chat_command chat_commands[] = {
    { "system",   chat_system,   "[TEXT]",          "show or set the system prompt" },
    { "model",    chat_model,    "[NAME]",          "show the model, or switch to another" },
    { "provider", chat_provider, "[NAME [MODEL]]",  "switch to another provider" },
    { "save",     chat_save,     "NAME|FILE",       "save the conversation" },
    { "load",     chat_load,     "NAME|FILE",       "load a saved conversation" },
    { "reset",    chat_reset,    "",                "forget the conversation so far" },
    { "help",     chat_help,     "",                "this list" },
    { "exit",     chat_exit,     "",                "leave (also /quit, Ctrl-D)" },
    { "quit",     chat_exit,     NULL,              NULL },
};
#define CHAT_N_COMMANDS (sizeof chat_commands / sizeof chat_commands[0])

static int chat_help(chat_state *st, const char *arg)
{
    size_t i;

    (void)st;
    (void)arg;
    for (i = 0; i < CHAT_N_COMMANDS; i++) {
        char left[40];
        if (!chat_commands[i].help)
            continue;
        snprintf(left, sizeof left, "/%s %s", chat_commands[i].name, chat_commands[i].args);
        fprintf(stderr, "  %-24s %s\n", left, chat_commands[i].help);
    }
    fputs("  A NAME without '/' is kept in the data folder (see acore(1), FILES).\n"
          "  Ctrl-C cancels a reply; twice at an empty prompt leaves.\n", stderr);
    return CHAT_GO_ON;
}

/* A line that starts with '/'. */
static int chat_command_line(chat_state *st, const char *line)
{
    const char *names[CHAT_N_COMMANDS + 1];
    char name[32];
    const char *arg, *near;
    size_t n = strcspn(line + 1, " \t"), i;

    if (n == 0 || n >= sizeof name) {
        cli_errorf("'%s' is not a command (/help lists them)", line);
        return CHAT_GO_ON;
    }
    memcpy(name, line + 1, n);
    name[n] = '\0';
    arg = line + 1 + n;
    while (*arg == ' ' || *arg == '\t')
        arg++;
    for (i = 0; i < CHAT_N_COMMANDS; i++) {
        if (strcmp(chat_commands[i].name, name) == 0)
            return chat_commands[i].run(st, arg);
        names[i] = chat_commands[i].name;
    }
    names[i] = NULL;
    near = cli_nearest(name, names);
    if (near)
        cli_errorf("/%s is not a command (did you mean /%s?)", name, near);
    else
        cli_errorf("/%s is not a command (/help lists them)", name);
    return CHAT_GO_ON;
}

/* The line without blanks around it (in place). */
static char *chat_trim(char *s)
{
    size_t n;

    while (isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int cli_cmd_chat(cli_ctx *ctx)
{
    const cli_opts *o = ctx->o;
    chat_state st;
    chat_reader rd;
    int rc, armed = 0, worst = CLI_EXIT_OK;

    memset(&st, 0, sizeof st);
    st.ctx = ctx;
    st.llm = ctx->llm;
    rc = cli_session_open(ctx->llm, o, &st.s);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_gen_params(o, &st.gp);
    if (rc != CLI_EXIT_OK) {
        ac_session_free(st.s);
        return rc;
    }
    chat_reader_open(&rd);
    if (rd.tty)
        fprintf(stderr, "acore chat: provider %s, model %s%s. /help lists the commands; "
                        "Ctrl-D or /exit leaves.\n", ac_llm_provider(st.llm),
                ac_llm_model(st.llm)[0] ? ac_llm_model(st.llm) : "(default)",
                ac_session_message_count(st.s) ? " (conversation continued)" : "");
    for (;;) {
        const char *raw = NULL;
        char *line;
        int r;

        /* A Ctrl-C pressed since the last one was handled counts: it is
         * cleared only when handled, and after a turn (presses while a
         * reply winds down are that reply's). */
        cli_sigint_catch(0);
        r = chat_read(&rd, &raw);
        if (r == CHAT_EOF) {
            if (rd.tty)
                fputc('\n', stdout);
            break;
        }
        if (r == CHAT_INTERRUPT) {
            cli_interrupted = 0;
            if (rd.cut_nonempty) {
                fputc('\n', stdout);
                armed = 0;
                continue;
            }
            if (armed || !rd.tty) {
                fputc('\n', stdout);
                break;
            }
            armed = 1;
            fputs("\n[Ctrl-C again to leave, or /exit]\n", stderr);
            continue;
        }
        armed = 0;
        line = chat_trim((char *)raw);
        if (!*line)
            continue;
        chat_reader_remember(&rd, line);
        if (line[0] == '/') {
            if (chat_command_line(&st, line) == CHAT_LEAVE)
                break;
            continue;
        }
        if (!cli_valid_utf8(line)) {
            cli_errorf("that line is not valid UTF-8: not sent");
            continue;
        }
        rc = cli_run_turn(st.s, line, st.gp, o, CLI_TURN_CHAT);
        cli_interrupted = 0;
        if (rc == CLI_EXIT_INTERRUPT) {
            fputs("[cancelled; Ctrl-C at the empty prompt leaves]\n", stderr);
            armed = 1;
        } else if (rc == CLI_EXIT_OK) {
            rc = cli_session_keep(st.s, o);
        }
        if (rc != CLI_EXIT_OK && rc != CLI_EXIT_INTERRUPT)
            worst = rc;
    }
    chat_reader_close(&rd);
    ac_gen_params_free(st.gp);
    ac_session_free(st.s);
    ac_llm_free(st.own);
    /* At a terminal the user decides what failed; a script wants to know. */
    return rd.tty ? CLI_EXIT_OK : worst;
}
