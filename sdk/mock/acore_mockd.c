/*
 * acore_mockd.c -- acore-mockd(1): the mock LLM server as a program.
 *
 * For users testing their own applications offline, and for benchmarks
 * that want the server in another process.  It starts the same server the
 * tests run in-process (mock_server.h), prints one line with its URL once
 * it accepts connections ("acore-mockd listening on URL", or with
 * --url-only the bare URL, for a parent process to read), logs requests
 * to stderr, and runs until SIGINT or SIGTERM.  It lifts its open-file
 * limit to the hard limit first: every connection is a descriptor, and
 * tens of thousands of streams are the point of --max-connections.
 * Exit status: 0 after a signal, 2 for bad flags or a bad script, 1 when
 * the server cannot start (port taken, out of memory).
 */
#include <config.h>

#include "mock_server.h"

#include <errno.h>
#include <getopt.h>
#include <libconfig.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char mockd_usage[] =
    "Usage: acore-mockd [--port N] [--script FILE] [--reply TEXT] [--chunks N]\n"
    "                   [--delay-ms N] [--max-connections N] [--idle-timeout S]\n"
    "                   [--url-only] [--quiet] [--help] [FILE]\n"
    "\n"
    "A scriptable mock LLM server on 127.0.0.1 speaking the OpenAI Chat\n"
    "Completions, Anthropic Messages and Ollama /api/chat protocols, and\n"
    "embeddings (OpenAI, Ollama, TEI, Hugging Face).\n"
    "\n"
    "  --port N        listen on port N (default 0: a free port, printed)\n"
    "  --script FILE   scenarios in libconfig syntax (see acore-mockd(1));\n"
    "                  - reads them from standard input\n"
    "  --reply TEXT    default reply text\n"
    "  --chunks N      split replies into N stream chunks (default 8)\n"
    "  --delay-ms N    pause N ms between chunks (default 0)\n"
    "  --max-connections N  serve up to N connections at once (default 65536)\n"
    "  --idle-timeout S     close keep-alive connections idle S seconds\n"
    "                       (default 30; 0: never)\n"
    "  --url-only      print only the URL (http://127.0.0.1:PORT) once listening\n"
    "  --quiet         do not log requests to stderr\n"
    "  --help          show this help\n"
    "  FILE            same as --script FILE\n";

static void mockd_log(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "acore-mockd: %s\n", line);
}

/* Parse a whole decimal number in [lo, hi]. */
static int mockd_number(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Read a whole file ("-": standard input, for a parent process that
 * hands over its script through a pipe); NULL with errno set on failure. */
static char *mockd_read_file(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *data = NULL;
    size_t len = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > 64u * 1024 * 1024) {
                errno = EFBIG;
                goto fail;
            }
            char *d = realloc(data, cap ? cap * 2 : 8192);
            if (!d)
                goto fail;
            data = d;
            cap = cap ? cap * 2 : 8192;
        }
        size_t n = fread(data + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                goto fail;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    data[len] = '\0';
    return data;
fail: {
    int e = errno ? errno : EIO;
    if (f != stdin)
        fclose(f);
    free(data);
    errno = e;
    return NULL;
}
}

/* The flags as libconfig text, written by libconfig (so TEXT is escaped). */
static char *mockd_overrides(const char *reply, long chunks, long delay_ms)
{
    config_t cfg;
    char *text = NULL;
    size_t len = 0;
    bool ok = true;
    config_init(&cfg);
    config_setting_t *root = config_root_setting(&cfg), *s;
    if (reply)
        ok = (s = config_setting_add(root, "reply", CONFIG_TYPE_STRING)) &&
             config_setting_set_string(s, reply);
    if (ok && chunks >= 0)
        ok = (s = config_setting_add(root, "chunks", CONFIG_TYPE_INT)) &&
             config_setting_set_int(s, (int)chunks);
    if (ok && delay_ms >= 0)
        ok = (s = config_setting_add(root, "delay_ms", CONFIG_TYPE_INT)) &&
             config_setting_set_int(s, (int)delay_ms);
    FILE *mem = ok ? open_memstream(&text, &len) : NULL;
    if (mem) {
        config_write(&cfg, mem);
        if (fclose(mem) != 0) {
            free(text);
            text = NULL;
        }
    }
    config_destroy(&cfg);
    return text;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },     { "script", required_argument, NULL, 's' },
        { "reply", required_argument, NULL, 'r' },    { "chunks", required_argument, NULL, 'c' },
        { "delay-ms", required_argument, NULL, 'd' }, { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },           { "max-connections", required_argument, NULL, 'M' },
        { "idle-timeout", required_argument, NULL, 'I' }, { "url-only", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    long port = 0, chunks = -1, delay_ms = -1, max_conns = 0, idle = 30;
    const char *script_path = NULL, *reply = NULL;
    bool quiet = false, url_only = false;
    int c, status = 1;
    char *script = NULL, *overrides = NULL;
    mock_server *m = NULL;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:s:r:c:d:qhM:I:U", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (mockd_number(optarg, 0, 65535, &port) < 0) {
                fprintf(stderr, "acore-mockd: --port wants a number 0-65535, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (mockd_number(optarg, 1, 1000000, &chunks) < 0) {
                fprintf(stderr, "acore-mockd: --chunks wants a number 1-1000000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'd':
            if (mockd_number(optarg, 0, 86400000, &delay_ms) < 0) {
                fprintf(stderr, "acore-mockd: --delay-ms wants a number 0-86400000, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'M':
            if (mockd_number(optarg, 1, 1000000, &max_conns) < 0) {
                fprintf(stderr, "acore-mockd: --max-connections wants a number 1-1000000, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'I':
            if (mockd_number(optarg, 0, 86400, &idle) < 0) {
                fprintf(stderr, "acore-mockd: --idle-timeout wants seconds 0-86400, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'U': url_only = true; break;
        case 's': script_path = optarg; break;
        case 'r': reply = optarg; break;
        case 'q': quiet = true; break;
        case 'h': fputs(mockd_usage, stdout); return 0;
        case ':':
            fprintf(stderr, "acore-mockd: %s needs a value (see --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "acore-mockd: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    /* One operand is taken as the script, as if given with --script. */
    if (optind < argc && !script_path)
        script_path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "acore-mockd: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (script_path && !(script = mockd_read_file(script_path))) {
        fprintf(stderr, "acore-mockd: %s: %s\n", script_path, strerror(errno));
        return 2;
    }
    if ((reply || chunks >= 0 || delay_ms >= 0) && !(overrides = mockd_overrides(reply, chunks, delay_ms))) {
        fprintf(stderr, "acore-mockd: out of memory\n");
        goto done;
    }

    /* Many concurrent streams need two descriptors each when the client is
       local: lift the soft limit as far as the hard one allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Block the stop signals before the server's threads exist, so they
       inherit the mask and sigwait() below is the only taker. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    mock_server_options o = {
        .script_text = script, .script_name = script_path, .overrides_text = overrides,
        .port = (int)port, .log = quiet ? NULL : mockd_log,
        .max_connections = (unsigned)max_conns,
        .idle_timeout_s = idle ? (int)idle : -1, /* 0 on the command line: never */
    };
    m = mock_server_start_opts(&o, err, sizeof err);
    if (!m) {
        fprintf(stderr, "acore-mockd: %s\n", err);
        /* A script error ("FILE:LINE: ...") is bad input, like a bad flag;
           anything else (port taken, out of memory) is a failure to run. */
        size_t n = script_path ? strlen(script_path) : 0;
        status = n && !strncmp(err, script_path, n) && err[n] == ':' ? 2 : 1;
        goto done;
    }
    if (url_only)
        printf("%s\n", mock_server_url(m));
    else
        printf("acore-mockd listening on %s\n", mock_server_url(m));
    fflush(stdout);

    int sig;
    while (sigwait(&stop, &sig) != 0) {
        /* only EINTR-like failures; keep waiting */
    }
    if (!quiet)
        fprintf(stderr, "acore-mockd: %s, stopping after %zu requests, at most %zu at once\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", mock_server_request_count(m),
                mock_server_peak_inflight(m));
    status = 0;
done:
    mock_server_stop(m);
    free(script);
    free(overrides);
    return status;
}
