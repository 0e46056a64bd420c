/*
 * bench_sse.c -- how fast recorded SSE streams go through the library's
 * decoding path, on one core.
 *
 * For each provider (openai, anthropic) every recorded stream fixture of
 * tests/fixtures (openai_chat_stream_*.sse, anthropic_stream_*.sse) is
 * grown in memory into a long stream: its events up to its longest run of
 * delta events (text, refusal or tool-call argument fragments), that run
 * repeated until the stream is the provider's share of --mb megabytes,
 * then its closing events.  Each long stream is fed, in pieces of --piece
 * bytes, through ac__replay_bytes() (core/replay.h): the engine's own
 * decoder, SSE framing, the plugin's parse_event loaded from the build
 * tree, the sink that builds the response, and an on_event callback that
 * counts the text -- what an HTTP transfer goes through after libcurl.
 * A fixture with no delta events (an error-only stream) is skipped.
 *
 * Reports, per provider, bytes / time over all its fixtures, by wall clock
 * and by this thread's CPU clock, median of --repeat passes, as key=value
 * lines ("openai_mbps_wall=...").  Links the core's convenience library
 * (core/libaccore.la) for the internal ac__replay_bytes.
 *
 * Usage: bench_sse --builddir DIR --fixtures DIR [--mb 64] [--piece 16384]
 *                  [--repeat 3]
 */
#include <abstractcore/abstractcore.h>
#include "bench_common.h"
#include "replay.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIXTURES 32

typedef struct stream {
    char   name[256];
    char  *bytes;
    size_t len;
    size_t repeats;     /* times the delta run was repeated */
} stream;

typedef struct provider {
    const char *name;      /* provider and plugin */
    const char *prefix;    /* fixture file name prefix */
    int (*is_delta)(const char *ev, size_t len);
    stream      s[MAX_FIXTURES];
    size_t      n;
} provider;

typedef struct counter {
    size_t text_bytes;
    size_t events;
} counter;

static int has(const char *ev, size_t len, const char *needle)
{
    return memmem(ev, len, needle, strlen(needle)) != NULL;
}

/* A chat.completion.chunk that only adds to what came before. */
static int openai_is_delta(const char *ev, size_t len)
{
    if (has(ev, len, "\"finish_reason\":\"") || has(ev, len, "\"role\":") ||
        has(ev, len, "[DONE]"))
        return 0;
    if (has(ev, len, "\"delta\":{\"content\":\"") || has(ev, len, "\"delta\":{\"refusal\":\""))
        return 1;
    /* A tool call's argument fragment, not its first chunk (with the name). */
    return has(ev, len, "\"arguments\":\"") && !has(ev, len, "\"name\":");
}

static int anthropic_is_delta(const char *ev, size_t len)
{
    return has(ev, len, "\"type\":\"content_block_delta\"");
}

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *d = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (d = malloc((size_t)n + 3)) != NULL) {
            if (fread(d, 1, (size_t)n, f) != (size_t)n) {
                free(d);
                d = NULL;
            } else {
                *len = (size_t)n;
            }
        }
    }
    fclose(f);
    return d;
}

/*
 * Grow one fixture into a stream of about `target` bytes.  Events are cut
 * at blank lines ("\n\n"); a last event without one gets it.  Returns 0,
 * 1 when the fixture has no delta run (skipped), -1 on error.  With out
 * NULL, only tells whether the fixture has a delta run.
 */
static int grow(const provider *p, const char *text, size_t len, size_t target, stream *out)
{
    /* Event boundaries: ev[i] .. ev[i+1]. */
    size_t cap = 64, n = 0;
    size_t *ev = malloc(cap * sizeof *ev);
    if (!ev)
        return -1;
    size_t off = 0;
    while (off < len) {
        const char *e = memmem(text + off, len - off, "\n\n", 2);
        size_t end = e ? (size_t)(e - text) + 2 : len;
        if (n + 2 > cap) {
            size_t *nev = realloc(ev, 2 * cap * sizeof *ev);
            if (!nev) {
                free(ev);
                return -1;
            }
            ev = nev;
            cap *= 2;
        }
        ev[n++] = off;
        off = end;
    }
    ev[n] = len;
    /* The longest run of delta events. */
    size_t best_i = 0, best_k = 0;
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        while (i + k < n && p->is_delta(text + ev[i + k], ev[i + k + 1] - ev[i + k]))
            k++;
        if (k > best_k) {
            best_k = k;
            best_i = i;
        }
        i += k ? k : 1;
    }
    if (best_k == 0 || !out) {
        free(ev);
        return best_k == 0;
    }
    size_t head = ev[best_i], body = ev[best_i + best_k] - head, tail = len - head - body;
    int tail_nl = len >= 2 && memcmp(text + len - 2, "\n\n", 2) == 0;
    size_t reps = target > head + tail ? (target - head - tail) / body : 1;
    if (reps < 1)
        reps = 1;
    size_t total = head + reps * body + tail + (tail_nl ? 0 : 2);
    char *b = malloc(total + 1);
    if (!b) {
        free(ev);
        return -1;
    }
    memcpy(b, text, head);
    size_t w = head;
    for (size_t r = 0; r < reps; r++, w += body)
        memcpy(b + w, text + head, body);
    memcpy(b + w, text + head + body, tail);
    w += tail;
    if (!tail_nl) {
        memcpy(b + w, "\n\n", 2);
        w += 2;
    }
    b[w] = '\0';
    out->bytes = b;
    out->len = w;
    out->repeats = reps;
    free(ev);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_provider(provider *p, const char *dir, size_t target_total)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    char *names[MAX_FIXTURES];
    size_t nn = 0;
    struct dirent *e;
    size_t plen = strlen(p->prefix);
    while ((e = readdir(d)) != NULL && nn < MAX_FIXTURES) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, p->prefix, plen) == 0 && l > 4 &&
            strcmp(e->d_name + l - 4, ".sse") == 0)
            names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_name);
    /* Read every fixture, then share the target among those that grow. */
    char *texts[MAX_FIXTURES];
    size_t lens[MAX_FIXTURES];
    size_t usable = 0;
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i] ? names[i] : "");
        lens[i] = 0;
        texts[i] = names[i] ? read_file(path, &lens[i]) : NULL;
        if (!texts[i]) {
            fprintf(stderr, "bench_sse: cannot read %s\n", path);
            rc = -1;
        } else if (grow(p, texts[i], lens[i], 0, NULL) == 0) {
            usable++;
        }
    }
    for (size_t i = 0; i < nn; i++) {
        if (texts[i] && rc == 0) {
            stream *s = &p->s[p->n];
            snprintf(s->name, sizeof s->name, "%s", names[i]);
            int g = grow(p, texts[i], lens[i], target_total / (usable ? usable : 1), s);
            if (g == 0)
                p->n++;
            else if (g == 1)
                printf("%s_skipped=%s\n", p->name, names[i]);
            else
                rc = -1;
        }
        free(texts[i]);
        free(names[i]);
    }
    return p->n ? rc : -1;
}

static void on_event(ac_request *q, const ac_chunk *c, void *user)
{
    (void)q;
    counter *k = user;
    k->events++;
    if (c->type == AC_EVENT_TEXT)
        k->text_bytes += c->len;
}

static const ac_callbacks callbacks = {
    .version = AC_CALLBACKS_VERSION, .on_event = on_event,
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *write_config(const char *builddir)
{
    char *path = strdup("/tmp/acore-bench-sse-XXXXXX");
    if (!path)
        return NULL;
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        free(path);
        return NULL;
    }
    /* Nothing is sent: the base URLs are never contacted.  The cap on a
     * response is raised so the long streams fit. */
    fprintf(f,
            "abstractcore = { plugin_path = [ \"%s/plugins/openai/.libs\", "
            "\"%s/plugins/anthropic/.libs\" ]; };\n"
            "providers = (\n"
            "  { name = \"openai\"; plugin = \"openai\"; base_url = \"http://127.0.0.1:9/v1\";\n"
            "    api_key = \"bench\"; max_response_bytes = 1073741824; },\n"
            "  { name = \"anthropic\"; plugin = \"anthropic\"; base_url = \"http://127.0.0.1:9\";\n"
            "    api_key = \"bench\"; max_response_bytes = 1073741824; } );\n",
            builddir, builddir);
    if (fclose(f) != 0) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

int main(int argc, char **argv)
{
    const char *builddir = NULL, *fixtures = NULL;
    double mb = 64;
    size_t piece = 16384;
    int repeat = 3;
    int bad = argc % 2 == 0;
    for (int i = 1; i + 1 < argc && !bad; i += 2) {
        if (strcmp(argv[i], "--builddir") == 0)
            builddir = argv[i + 1];
        else if (strcmp(argv[i], "--fixtures") == 0)
            fixtures = argv[i + 1];
        else if (strcmp(argv[i], "--mb") == 0)
            mb = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--piece") == 0)
            piece = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else
            bad = 1;
    }
    if (bad || !builddir || !fixtures || mb <= 0 || repeat < 1 || repeat > 99) {
        fprintf(stderr, "usage: bench_sse --builddir DIR --fixtures DIR [--mb 64] "
                        "[--piece 16384] [--repeat 3]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    provider prov[2] = {
        { .name = "openai", .prefix = "openai_chat_stream_", .is_delta = openai_is_delta },
        { .name = "anthropic", .prefix = "anthropic_stream_", .is_delta = anthropic_is_delta },
    };
    int rc = 1;
    ac_core *core = NULL;
    ac_error err;
    ac_error_clear(&err);
    char *cfg = write_config(builddir);
    if (!cfg || ac_core_open(&core, cfg, &err) != AC_OK) {
        fprintf(stderr, "bench_sse: cannot open a core: %s\n", cfg ? err.message : "config");
        goto done;
    }
    size_t target = (size_t)(mb * 1e6);
    printf("piece=%zu\nrepeat=%d\n", piece, repeat);
    for (int pi = 0; pi < 2; pi++) {
        provider *p = &prov[pi];
        if (load_provider(p, fixtures, target) != 0)
            goto done;
        ac_llm *llm = ac_llm_create(core, p->name, "bench", NULL, &err);
        if (!llm) {
            fprintf(stderr, "bench_sse: %s: %s\n", p->name, err.message);
            goto done;
        }
        size_t total = 0;
        for (size_t i = 0; i < p->n; i++)
            total += p->s[i].len;
        double wall[100], cpu[100];
        int failed = 0;
        size_t text_bytes = 0, events = 0;
        for (int r = 0; r < repeat && !failed; r++) {
            double w0 = bench_now_ms(), c0 = thread_cpu_ms();
            for (size_t i = 0; i < p->n; i++) {
                counter k = { 0, 0 };
                ac_response *resp = NULL;
                ac_status st = ac__replay_bytes(llm, AC_FRAMING_SSE, 200, p->s[i].bytes,
                                                p->s[i].len, piece, &callbacks, &k, &resp, &err);
                ac_response_free(resp);
                if (st != AC_OK) {
                    fprintf(stderr, "bench_sse: %s: %s\n", p->s[i].name, err.message);
                    failed = 1;
                    break;
                }
                if (r == 0) {
                    text_bytes += k.text_bytes;
                    events += k.events;
                }
            }
            wall[r] = bench_now_ms() - w0;
            cpu[r] = thread_cpu_ms() - c0;
        }
        ac_llm_free(llm);
        if (failed)
            goto done;
        qsort(wall, (size_t)repeat, sizeof *wall, cmp_double);
        qsort(cpu, (size_t)repeat, sizeof *cpu, cmp_double);
        double w = wall[(repeat - 1) / 2], c = cpu[(repeat - 1) / 2];
        printf("%s_fixtures=%zu\n", p->name, p->n);
        for (size_t i = 0; i < p->n; i++)
            printf("%s_fixture=%s (%zu bytes, delta run x%zu)\n", p->name, p->s[i].name,
                   p->s[i].len, p->s[i].repeats);
        printf("%s_bytes=%zu\n%s_events=%zu\n%s_text_bytes=%zu\n", p->name, total, p->name,
               events, p->name, text_bytes);
        printf("%s_wall_ms=%.1f\n%s_cpu_ms=%.1f\n", p->name, w, p->name, c);
        printf("%s_mbps_wall=%.1f\n%s_mbps_cpu=%.1f\n", p->name, (double)total / 1e3 / w,
               p->name, (double)total / 1e3 / c);
        printf("%s_wall_runs_ms=", p->name);
        for (int r = 0; r < repeat; r++)
            printf("%s%.1f", r ? "," : "", wall[r]);
        printf("\n");
    }
    rc = 0;
done:
    for (int pi = 0; pi < 2; pi++)
        for (size_t i = 0; i < prov[pi].n; i++)
            free(prov[pi].s[i].bytes);
    ac_core_close(core);
    if (cfg) {
        unlink(cfg);
        free(cfg);
    }
    return rc;
}
