/*
 * bench_startup.c -- what starting up costs.
 *
 *   bench_startup --builddir DIR [--runs 100]
 *       ac_core_open + ac_core_close of a core whose plugin_path lists the
 *       six plugin folders of the build tree and which configures one
 *       provider of each (dummy keys, nothing contacted): reading the
 *       config, dlopen'ing and checking six plugins, starting and joining
 *       the engine thread.  One untimed open first (the page cache, the
 *       dynamic loader's first look-ups), then --runs timed ones.
 *
 *   bench_startup --exec PROGRAM [ARG...] [--runs 100]
 *       fork + exec + wait of PROGRAM (e.g. `acore --version`), its
 *       output thrown away; one untimed run first.
 *
 * Prints key=value lines: startup_runs, startup_min/p50/p90/max/mean (ms),
 * and for the core the providers the core loaded (from
 * ac_core_plugin_report), so a run that loaded fewer than six says so.
 */
#include <abstractcore/abstractcore.h>
#include "bench_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const plugins[] = {
    "openai", "anthropic", "ollama", "lmstudio", "huggingface", "mlx",
};
#define NPLUGINS (sizeof plugins / sizeof plugins[0])

static char *write_config(const char *builddir)
{
    char *path = strdup("/tmp/acore-bench-startup-XXXXXX");
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
    fprintf(f, "abstractcore = { plugin_path = [ ");
    for (size_t i = 0; i < NPLUGINS; i++)
        fprintf(f, "%s\"%s/plugins/%s/.libs\"", i ? ", " : "", builddir, plugins[i]);
    fprintf(f, " ]; };\nproviders = (\n");
    for (size_t i = 0; i < NPLUGINS; i++)
        fprintf(f, "  { name = \"%s\"; plugin = \"%s\"; api_key = \"bench-dummy-key\"; }%s\n",
                plugins[i], plugins[i], i + 1 < NPLUGINS ? "," : "");
    fprintf(f, ");\n");
    if (fclose(f) != 0) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

static double run_exec(char **argv)
{
    double t0 = bench_now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return bench_now_ms() - t0;
}

static double run_open(const char *cfg)
{
    ac_core *core = NULL;
    ac_error err;
    double t0 = bench_now_ms();
    if (ac_core_open(&core, cfg, &err) != AC_OK) {
        fprintf(stderr, "bench_startup: ac_core_open: %s\n", err.message);
        return -1;
    }
    ac_core_close(core);
    return bench_now_ms() - t0;
}

/* How many of the six providers the core has ready (an llm can be made). */
static int providers_ready(const char *cfg)
{
    ac_core *core = NULL;
    ac_error err;
    if (ac_core_open(&core, cfg, &err) != AC_OK)
        return -1;
    int ready = 0;
    for (size_t i = 0; i < NPLUGINS; i++) {
        ac_llm *llm = ac_llm_create(core, plugins[i], "bench", NULL, &err);
        if (llm)
            ready++;
        else
            fprintf(stderr, "bench_startup: provider %s: %s\n", plugins[i], err.message);
        ac_llm_free(llm);
    }
    ac_core_close(core);
    return ready;
}

int main(int argc, char **argv)
{
    const char *builddir = NULL;
    char **exec_argv = NULL;
    int runs = 100;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--builddir") == 0 && i + 1 < argc) {
            builddir = argv[++i];
        } else if (strcmp(argv[i], "--exec") == 0 && i + 1 < argc) {
            /* Everything after --exec up to a later --runs is the command. */
            exec_argv = &argv[i + 1];
            int j = i + 1;
            while (j < argc && strcmp(argv[j], "--runs") != 0)
                j++;
            if (j < argc && j + 1 < argc)
                runs = atoi(argv[j + 1]);
            argv[j < argc ? j : argc] = NULL;
            break;
        } else {
            builddir = NULL;
            exec_argv = NULL;
            break;
        }
    }
    if ((!builddir == !exec_argv) || runs < 1) {
        fprintf(stderr, "usage: bench_startup --builddir DIR [--runs N]\n"
                        "       bench_startup --exec PROGRAM [ARG...] [--runs N]\n");
        return 2;
    }
    double *t = calloc((size_t)runs, sizeof *t);
    char *cfg = builddir ? write_config(builddir) : NULL;
    int rc = 1;
    if (!t || (builddir && !cfg)) {
        fprintf(stderr, "bench_startup: out of memory or no temporary file\n");
        goto done;
    }
    if (cfg) {
        int ready = providers_ready(cfg);
        printf("what=core_open_close\nproviders_ready=%d\nproviders=%zu\n", ready, NPLUGINS);
        if (ready != (int)NPLUGINS)
            goto done;
    } else {
        printf("what=exec\n");
    }
    for (int i = -1; i < runs; i++) {
        double v = cfg ? run_open(cfg) : run_exec(exec_argv);
        if (v < 0) {
            fprintf(stderr, "bench_startup: run %d failed\n", i + 1);
            goto done;
        }
        if (i >= 0)
            t[i] = v;
    }
    bench_stats s;
    bench_stats_of(t, (size_t)runs, &s);
    printf("startup_runs=%d\n", runs);
    bench_print_stats("startup", &s);
    rc = 0;
done:
    free(t);
    if (cfg) {
        unlink(cfg);
        free(cfg);
    }
    return rc;
}
