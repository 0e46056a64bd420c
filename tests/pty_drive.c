/*
 * pty_drive.c -- run a program on a pseudo-terminal and talk to it as a
 * person would, for tests/test_chat.sh (acore chat: line editing, Ctrl-C).
 *
 *     pty_drive [-t SECONDS] [-o TRANSCRIPT] PROGRAM [ARG...] < SCRIPT
 *
 * The program runs with a new pseudo-terminal as its controlling terminal
 * (forkpty), so isatty() is true on its standard input, output and error,
 * and a Ctrl-C byte written to the terminal reaches it as SIGINT through
 * the line discipline, as from a keyboard.  SCRIPT has one command a line:
 *
 *     expect TEXT     wait until TEXT appears in the output after the end
 *                     of the last match (escapes: \r \n \t \\ \xHH)
 *     bytes N         wait until N more bytes arrived after the last match
 *     send TEXT       type TEXT and Enter (escapes as for expect)
 *     type TEXT       type TEXT without Enter
 *     intr            press Ctrl-C
 *     eof             press Ctrl-D
 *     exit N          wait for the program to end with status N
 *     # ...           a comment
 *
 * Every wait has a deadline (-t, default 10 s): nothing sleeps and hopes.
 * The first command that fails stops the script: pty_drive prints what it
 * waited for and the output so far (control characters made visible),
 * kills the program and exits 1.  All the output goes to TRANSCRIPT (-o)
 * for the test to inspect.  Exit status: 0 every command passed, 1 one
 * failed, 2 bad usage.
 */
#define _GNU_SOURCE 1

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX ((size_t)8 * 1024 * 1024)

static int master = -1;
static pid_t child = -1;
static char *out;
static size_t out_len, mark;
static double timeout_ms = 10000;
static int exited = 0, exit_status = -1;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Read what the program wrote, waiting at most wait_ms; -1 once the
 * terminal is closed (the program ended and its output is all read). */
static int pump(int wait_ms)
{
    struct pollfd p = { .fd = master, .events = POLLIN };
    char buf[4096];
    ssize_t n;
    int r = poll(&p, 1, wait_ms);

    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (r == 0)
        return 0;
    n = read(master, buf, sizeof buf);
    if (n <= 0)
        return (n < 0 && errno == EINTR) ? 0 : -1;   /* EIO: the slave side closed */
    if (out_len + (size_t)n > OUT_MAX) {
        fprintf(stderr, "pty_drive: more than %zu bytes of output\n", OUT_MAX);
        return -1;
    }
    memcpy(out + out_len, buf, (size_t)n);
    out_len += (size_t)n;
    out[out_len] = '\0';
    return 1;
}

static void reap(int block)
{
    int st;
    if (exited || child < 0)
        return;
    if (waitpid(child, &st, block ? 0 : WNOHANG) == child) {
        exited = 1;
        exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
}

/* Decode \r \n \t \\ \xHH in place; returns the length. */
static size_t unescape(char *s)
{
    char *w = s, *r = s;
    while (*r) {
        if (*r == '\\' && r[1]) {
            r++;
            switch (*r) {
            case 'r': *w++ = '\r'; r++; break;
            case 'n': *w++ = '\n'; r++; break;
            case 't': *w++ = '\t'; r++; break;
            case 'x':
                if (isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
                    char hex[3] = { r[1], r[2], 0 };
                    *w++ = (char)strtol(hex, NULL, 16);
                    r += 3;
                    break;
                }
                /* fall through */
            default: *w++ = *r++; break;
            }
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void show(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

static int fail(const char *cmd)
{
    fprintf(stderr, "pty_drive: FAILED: %s\n--- output after the last match (%zu bytes):\n",
            cmd, out_len - mark);
    show(stderr, out + mark, out_len - mark);
    fputs("\n---\n", stderr);
    return 1;
}

static int send_bytes(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(master, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int do_expect(const char *text, size_t n, const char *cmd)
{
    double end = now_ms() + timeout_ms;
    for (;;) {
        char *hit = out_len >= mark + n ? memmem(out + mark, out_len - mark, text, n) : NULL;
        if (hit) {
            mark = (size_t)(hit - out) + n;
            return 0;
        }
        double left = end - now_ms();
        if (left <= 0 || pump((int)(left > 100 ? 100 : left + 1)) < 0) {
            if (left > 0) {   /* the terminal closed: one last look */
                hit = out_len >= mark + n ? memmem(out + mark, out_len - mark, text, n) : NULL;
                if (hit) {
                    mark = (size_t)(hit - out) + n;
                    return 0;
                }
            }
            return fail(cmd);
        }
    }
}

static int do_bytes(size_t n, const char *cmd)
{
    double end = now_ms() + timeout_ms;
    while (out_len < mark + n) {
        double left = end - now_ms();
        if (left <= 0 || pump((int)(left > 100 ? 100 : left + 1)) < 0)
            return fail(cmd);
    }
    mark = out_len;
    return 0;
}

static int do_exit(int want, const char *cmd)
{
    double end = now_ms() + timeout_ms;
    while (!exited) {
        if (now_ms() > end)
            return fail(cmd);
        if (pump(50) < 0)
            reap(1);   /* the terminal closed: the program is ending */
        else
            reap(0);
    }
    while (pump(0) > 0) {
    }
    if (exit_status != want) {
        fprintf(stderr, "pty_drive: exit status %d, expected %d\n", exit_status, want);
        return fail(cmd);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *transcript = NULL;
    struct winsize ws = { .ws_row = 40, .ws_col = 120 };
    char line[8192];
    int opt, rc = 0;

    while ((opt = getopt(argc, argv, "+t:o:")) != -1) {
        if (opt == 't')
            timeout_ms = atof(optarg) * 1000.0;
        else if (opt == 'o')
            transcript = optarg;
        else
            return 2;
    }
    if (optind >= argc || timeout_ms <= 0) {
        fprintf(stderr, "usage: pty_drive [-t SECONDS] [-o TRANSCRIPT] PROGRAM [ARG...] < SCRIPT\n");
        return 2;
    }
    out = malloc(OUT_MAX + 1);
    if (!out)
        return 2;
    out[0] = '\0';
    signal(SIGPIPE, SIG_IGN);
    child = forkpty(&master, NULL, NULL, &ws);
    if (child < 0) {
        perror("pty_drive: forkpty");
        return 2;
    }
    if (child == 0) {
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "pty_drive: %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    while (fgets(line, sizeof line, stdin)) {
        char *arg;
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        arg = strchr(line, ' ');
        arg = arg ? arg + 1 : line + strlen(line);
        if (strncmp(line, "expect ", 7) == 0) {
            char cmd[8192];
            snprintf(cmd, sizeof cmd, "%s", line);
            size_t n = unescape(arg);
            rc = do_expect(arg, n, cmd);
        } else if (strncmp(line, "bytes ", 6) == 0) {
            rc = do_bytes((size_t)atol(arg), line);
        } else if (strncmp(line, "send ", 5) == 0 || strncmp(line, "type ", 5) == 0) {
            int enter = line[0] == 's';
            size_t n = unescape(arg);
            rc = send_bytes(arg, n) || (enter && send_bytes("\r", 1)) ? fail(line) : 0;
        } else if (strcmp(line, "intr") == 0) {
            rc = send_bytes("\x03", 1) ? fail(line) : 0;
        } else if (strcmp(line, "eof") == 0) {
            rc = send_bytes("\x04", 1) ? fail(line) : 0;
        } else if (strncmp(line, "exit ", 5) == 0) {
            rc = do_exit(atoi(arg), line);
        } else {
            fprintf(stderr, "pty_drive: unknown command: %s\n", line);
            rc = 2;
        }
        if (rc)
            break;
    }
    if (!exited) {
        if (rc == 0)   /* the script did not wait for the end: not our business */
            kill(child, SIGTERM);
        else
            kill(child, SIGKILL);
        reap(1);
    }
    if (transcript) {
        FILE *f = fopen(transcript, "wb");
        if (f) {
            fwrite(out, 1, out_len, f);
            fclose(f);
        }
    }
    close(master);
    free(out);
    return rc;
}
