/*
 * acore_serve.c -- the program acore-serve (`acore serve` runs it): the
 * OpenAI- and Anthropic-compatible gateway over every configured
 * provider.
 *
 *   acore-serve [-c CONFIG] [--listen ADDR:PORT] [--help] [--version]
 *
 * Prints "acore-serve listening on http://ADDR:PORT" on standard output
 * once it accepts connections (flushed, for scripts that start it with
 * port 0), serves until SIGTERM or SIGINT, then stops gracefully (see
 * gw_loop.c) and exits 0.  Exit status: 0 after a stop, 1 when it cannot
 * listen or the loop fails, 2 for a bad option, 3 for a bad
 * configuration.  The gateway itself is gw_*.c; this file is options and
 * signals.
 */
#include "gw.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gateway *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        gw_stop(running); /* an atomic store and a write(2): signal-safe */
}

static const char usage[] =
    "usage: acore-serve [-c CONFIG] [--listen ADDR:PORT]\n"
    "       acore serve [-c CONFIG] [--listen ADDR:PORT]\n"
    "\n"
    "Serve every configured provider through the OpenAI Chat Completions and\n"
    "Anthropic Messages HTTP APIs.\n"
    "\n"
    "  -C, --config FILE     the configuration (default: the usual search, as acore;\n"
    "                        -c is accepted too)\n"
    "  -l, --listen ADDR:PORT  where to listen (default: server.listen, else\n"
    "                        127.0.0.1:8080); port 0 picks a free one\n"
    "  -h, --help            this help\n"
    "  -V, --version         the version\n"
    "\n"
    "Endpoints: POST /v1/chat/completions, POST /v1/messages, GET /v1/models,\n"
    "POST /v1/embeddings, GET /health, GET /ready, GET /metrics.\n"
    "The `server` section of the configuration sets keys, limits and the access\n"
    "log (docs/configuration.md); docs/deploying.md shows it behind nginx.\n"
    "SIGTERM or SIGINT stops it gracefully (server.shutdown_timeout_ms).\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'C'},
        {"listen", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *listen = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":C:c:l:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'C':
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("acore-serve %s\n", ac_version()); return 0;
        case ':':
            fprintf(stderr, "acore-serve: %s needs a value (see --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "acore-serve: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "acore-serve: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[1024];
    gateway *g = gw_new(config, listen, err, sizeof err);
    if (!g) {
        fprintf(stderr, "acore-serve: %s\n", err);
        return strncmp(err, "config: ", 8) == 0 ? 3 : 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    running = g;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (g->cfg.n_keys == 0 && strncmp(g->cfg.listen, "127.", 4) != 0 &&
        strncmp(g->cfg.listen, "[::1]", 5) != 0)
        fprintf(stderr, "acore-serve: warning: no client keys are configured (server.keys) and "
                        "%s is not a loopback address: anyone who reaches it may use every "
                        "provider\n", g->cfg.listen);
    const char *host = g->cfg.listen;
    const char *colon = strrchr(host, ':');
    printf("acore-serve listening on http://%.*s:%d\n", (int)(colon - host), host, gw_port(g));
    fflush(stdout);
    int rc = gw_run(g);
    running = NULL;
    gw_free(g);
    return rc == 0 ? 0 : 1;
}
