/*
 * demo.c -- demo mode: acore-mockd, the project's mock LLM server, as a
 * child process, so that acore can be tried before any backend is set up.
 *
 * acore does not link the mock server (nor libmicrohttpd): it runs the
 * installed program.  It looks for it in this order:
 *   1. $ABSTRACTCORE_MOCKD, a path to the program;
 *   2. next to the running acore (an install, wherever it was moved);
 *   3. the build tree, when acore runs from one (<top>/cli or
 *      <top>/cli/.libs: then <top>/sdk/mock/acore-mockd);
 *   4. the bindir given to configure;
 *   5. $PATH.
 * The child gets the demo script on its standard input (--script -),
 * prints its URL on its standard output (--url-only), and runs in its own
 * process group, so the Ctrl-C that cancels a reply (acore chat) does not
 * stop it; on Linux it also gets SIGTERM if acore dies without stopping
 * it.  cli_demo_stop() sends SIGTERM and waits.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "ac_paths.h"   /* AC_BINDIR */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cli.h"

/* The embedding model `acore embed` asks the mock for in demo mode. */
#define DEMO_EMBED_MODEL "demo-embedding"

/* How long the server may take to say where it listens. */
#define DEMO_START_MS 10000
#define DEMO_STOP_MS  3000

struct cli_demo {
    pid_t pid;
    char  url[128];
};

/*
 * What the mock server answers in demo mode (the script format is in
 * docs/mock-server.md): a reply that says where it comes from, streamed
 * in visible pieces, and models that show the rest: `-m echo` repeats the
 * prompt, `-m tools` makes a tool call, `-m slow` streams long enough to
 * try Ctrl-C; `acore embed` gets vectors of 8 values.
 */
static const char demo_script[] =
    "reply = \"Hello! This reply comes from the mock LLM server bundled with "
    "AbstractCore, streamed in small pieces the way a real model streams. To talk to "
    "a real model, write a configuration file: see acore(1), CONFIGURATION.\";\n"
    "chunks = 32;\n"
    "delay_ms = 30;\n"
    "embedding_dim = 8;\n"
    "scenarios = (\n"
    "  { model = \"echo\"; echo = true; },\n"
    "  { model = \"tools\"; reply = \"\";\n"
    "    tool_calls = ( { name = \"get_weather\";\n"
    "                     arguments = \"{\\\"city\\\": \\\"Paris\\\"}\"; } ); },\n"
    "  { model = \"slow\"; reply_len = 20000; chunks = 2000; delay_ms = 25; }\n"
    ");\n";

static int demo_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The folder of the running program (no trailing slash), or "". */
static void demo_self_dir(char *buf, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;

    buf[0] = '\0';
    if (len <= 0)
        return;
    exe[len] = '\0';
    slash = strrchr(exe, '/');
    if (!slash || slash == exe)
        return;
    *slash = '\0';
    snprintf(buf, n, "%s", exe);
}

/* 1 if path ends with the folder names `tail` ("/cli/.libs"). */
static int demo_ends_with(const char *path, const char *tail)
{
    size_t a = strlen(path), b = strlen(tail);
    return a >= b && strcmp(path + a - b, tail) == 0;
}

/* Find acore-mockd (see the header comment); 0 with its path in buf. */
static int demo_find(char *buf, size_t n)
{
    const char *env = getenv("ABSTRACTCORE_MOCKD");
    const char *path = getenv("PATH");
    char self[PATH_MAX];

    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return demo_executable(buf) ? 0 : -1;
    }
    demo_self_dir(self, sizeof self);
    if (self[0]) {
        snprintf(buf, n, "%s/acore-mockd", self);
        if (demo_executable(buf))
            return 0;
        /* A build tree: <top>/cli/.libs/acore (libtool) or <top>/cli/acore. */
        if (demo_ends_with(self, "/cli/.libs")) {
            snprintf(buf, n, "%.*s/sdk/mock/acore-mockd", (int)(strlen(self) - 10), self);
            if (demo_executable(buf))
                return 0;
        } else if (demo_ends_with(self, "/cli")) {
            snprintf(buf, n, "%.*s/sdk/mock/acore-mockd", (int)(strlen(self) - 4), self);
            if (demo_executable(buf))
                return 0;
        }
    }
    snprintf(buf, n, "%s/acore-mockd", AC_BINDIR);
    if (demo_executable(buf))
        return 0;
    while (path && *path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && path[0] == '/') {   /* never a relative PATH entry */
            snprintf(buf, n, "%.*s/acore-mockd", (int)len, path);
            if (demo_executable(buf))
                return 0;
        }
        path += len + (path[len] == ':');
    }
    return -1;
}

/* Write all of s to fd; -1 on failure (a child that died: EPIPE). */
static int demo_write_all(int fd, const char *s, size_t len)
{
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    int rc = 0;

    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = -1;
            break;
        }
        s += w;
        len -= (size_t)w;
    }
    signal(SIGPIPE, old);
    return rc;
}

/* Read the child's first line (its URL) within DEMO_START_MS. */
static int demo_read_url(int fd, char *url, size_t n)
{
    size_t len = 0;
    double end = cli_now_ms() + DEMO_START_MS;

    while (len + 1 < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int left = (int)(end - cli_now_ms());
        ssize_t r;

        if (left <= 0)
            return -1;
        if (poll(&p, 1, left) <= 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        r = read(fd, url + len, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (url[len] == '\n') {
            url[len] = '\0';
            return strncmp(url, "http://127.0.0.1:", 17) == 0 ? 0 : -1;
        }
        len++;
    }
    return -1;
}

static void demo_reap(pid_t pid)
{
    double end = cli_now_ms() + DEMO_STOP_MS;
    int st;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        if (cli_now_ms() > end) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            return;
        }
        usleep(10000);
    }
}

int cli_demo_start(int explicit_demo, ac_options *opts, cli_demo **out)
{
    char prog[PATH_MAX + 32];
    char base_url[sizeof ((cli_demo *)0)->url + 8];
    int in[2] = { -1, -1 }, outp[2] = { -1, -1 };
    long maxfd = sysconf(_SC_OPEN_MAX);
    pid_t parent = getpid();
    cli_demo *d;

    if (demo_find(prog, sizeof prog) != 0) {
        const char *env = getenv("ABSTRACTCORE_MOCKD");
        if (env && *env)
            cli_errorf("demo mode: $ABSTRACTCORE_MOCKD (%s) is not an executable file", env);
        else
            cli_errorf("demo mode needs acore-mockd, the mock LLM server, and none was found "
                       "(next to acore, in %s or in $PATH); install it, or configure a "
                       "provider: see acore(1), CONFIGURATION", AC_BINDIR);
        return CLI_EXIT_CONFIG;
    }
    if (maxfd < 0 || maxfd > 65536)
        maxfd = 65536;
    d = calloc(1, sizeof *d);
    if (!d || pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
        cli_errorf("demo mode: cannot start acore-mockd: %s", d ? strerror(errno) : "out of memory");
        goto fail;
    }
    d->pid = fork();
    if (d->pid < 0) {
        cli_errorf("demo mode: cannot start acore-mockd: %s", strerror(errno));
        goto fail;
    }
    if (d->pid == 0) {
        /* The child: only async-signal-safe calls until exec (the parent
         * has threads). */
        sigset_t none;
        char *argv[] = { prog, "--port", "0", "--url-only", "--quiet", "--script", "-", NULL };
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
#endif
        if (dup2(in[0], STDIN_FILENO) < 0 || dup2(outp[1], STDOUT_FILENO) < 0)
            _exit(127);
        for (long fd = 3; fd < maxfd; fd++)
            close((int)fd);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(prog, argv);
        _exit(127);
    }
    (void)parent;
    close(in[0]);
    close(outp[1]);
    in[0] = outp[1] = -1;
    if (demo_write_all(in[1], demo_script, sizeof demo_script - 1) != 0) {
        close(in[1]);
        in[1] = -1;
        cli_errorf("demo mode: %s stopped before it read its script", prog);
        goto fail_child;
    }
    close(in[1]);
    in[1] = -1;
    if (demo_read_url(outp[0], d->url, sizeof d->url) != 0) {
        cli_errorf("demo mode: %s did not start (no URL within %d s)", prog,
                   DEMO_START_MS / 1000);
        goto fail_child;
    }
    close(outp[0]);
    outp[0] = -1;
    snprintf(base_url, sizeof base_url, "%s/v1", d->url);
    if (ac_options_set(opts, "base_url", base_url) != AC_OK ||
        ac_options_set(opts, "api_key", "mock") != AC_OK ||
        ac_options_set(opts, "embed_model", DEMO_EMBED_MODEL) != AC_OK) {
        cli_errorf("out of memory");
        goto fail_child;
    }
    if (explicit_demo)
        fprintf(stderr, "acore: demo mode: using the bundled mock server at %s "
                        "(see acore(1), CONFIGURATION)\n", d->url);
    else
        fprintf(stderr, "acore: no backend configured; using the bundled mock server "
                        "at %s (see acore(1), CONFIGURATION)\n", d->url);
    *out = d;
    return CLI_EXIT_OK;

fail_child:
    kill(d->pid, SIGTERM);
    demo_reap(d->pid);
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
    }
    free(d);
    return CLI_EXIT_CONFIG;
}

void cli_demo_stop(cli_demo *d)
{
    if (!d)
        return;
    kill(d->pid, SIGTERM);
    demo_reap(d->pid);
    free(d);
}
