/*
 * input.c -- the prompt of `acore WORDS...`: the words, then standard
 * input when it is not a terminal (`cat notes.txt | acore summarize:`),
 * or standard input alone for `-`; bounded, checked to be UTF-8.
 *
 * Every buffer here is malloc'd and owned by the caller on success.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_read_all(FILE *f, size_t max, int trim, const char *what, char **out, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = CLI_EXIT_REQUEST;

    if (!buf) {
        cli_errorf("out of memory");
        goto done;
    }
    for (;;) {
        size_t n;
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                cli_errorf("out of memory reading %s", what);
                goto done;
            }
            buf = nb;
            cap *= 2;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0 || len > max)
            break;
    }
    if (ferror(f)) {
        cli_errorf("reading %s: %s", what, strerror(errno));
        goto done;
    }
    if (len > max) {
        rc = cli_usage_error("%s is larger than %zu MiB", what, max / (1024 * 1024));
        goto done;
    }
    while (trim && len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        rc = cli_usage_error("%s contains a NUL byte", what);
        goto done;
    }
    *out = buf;
    if (lenp)
        *lenp = len;
    buf = NULL;
    rc = CLI_EXIT_OK;
done:
    free(buf);
    return rc;
}

/* 1 if s is well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * past U+10FFFF).  Every backend takes JSON, which must be UTF-8; a bad
 * prompt is the user's to fix, so it is refused here with a clear message
 * rather than as a server's JSON error. */
int cli_valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        unsigned c = *s;
        size_t n, i;
        unsigned cp, min;

        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1; cp = c & 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2; cp = c & 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        for (i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)   /* also stops at the NUL */
                return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* Join the words with single spaces, so `acore Say hello` works without
 * quotes.  Returns a malloc'd string or NULL (out of memory). */
static char *input_join(int argc, char **argv)
{
    size_t len = 1, off = 0;
    char *s;
    int i;

    for (i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    s = malloc(len);
    if (!s)
        return NULL;
    for (i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (i > 0)
            s[off++] = ' ';
        memcpy(s + off, argv[i], n);
        off += n;
    }
    s[off] = '\0';
    return s;
}

int cli_prompt_from_args(int argc, char **argv, char **out)
{
    char *words = NULL, *piped = NULL, *prompt = NULL;
    size_t wlen, plen = 0;
    int only_stdin = argc == 1 && strcmp(argv[0], "-") == 0;
    int rc;

    if (!only_stdin && !(words = input_join(argc, argv))) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    /* A terminal is where the user types the words, not a document. */
    if (only_stdin || !isatty(STDIN_FILENO)) {
        rc = cli_read_all(stdin, CLI_STDIN_MAX, 1,
                          only_stdin ? "the prompt on standard input" : "standard input",
                          &piped, &plen);
        if (rc != CLI_EXIT_OK) {
            free(words);
            return rc;
        }
    }
    wlen = words ? strlen(words) : 0;
    if (wlen && plen) {
        /* The instruction, a blank line, the document. */
        prompt = malloc(wlen + plen + 3);
        if (prompt) {
            memcpy(prompt, words, wlen);
            memcpy(prompt + wlen, "\n\n", 2);
            memcpy(prompt + wlen + 2, piped, plen + 1);
        }
        free(words);
        free(piped);
    } else if (plen) {
        prompt = piped;
        free(words);
    } else {
        /* Nothing piped: the words, or "" (still to be refused). */
        prompt = words ? words : piped;
        if (prompt == words)
            free(piped);
    }
    if (!prompt) {
        cli_errorf("out of memory");
        return CLI_EXIT_REQUEST;
    }
    if (prompt[0] == '\0') {
        free(prompt);
        return cli_usage_error(argc == 0 ? "missing prompt" : "empty prompt");
    }
    if (!cli_valid_utf8(prompt)) {
        free(prompt);
        return cli_usage_error("the prompt is not valid UTF-8");
    }
    *out = prompt;
    return CLI_EXIT_OK;
}
