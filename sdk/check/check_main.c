/*
 * check_main.c -- acore-provider-check: the command line, the report, and
 * the order of the phases.  See check.h for what is checked, and
 * acore-provider-check(1) for the options.
 *
 * Exit status: 0 every scenario passed (or was skipped), 1 one failed,
 * 2 the command line or the fixture file is wrong or the plugin cannot be
 * loaded at all.
 */
#include "check.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- growing strings ---- */

void check_str_add(check_str *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *q = realloc(s->p, cap);
        if (!q) {
            fprintf(stderr, "acore-provider-check: out of memory\n");
            exit(2);
        }
        s->p = q;
        s->cap = cap;
    }
    if (n)
        memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = '\0';
}

void check_str_addf(check_str *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        check_str_add(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        fprintf(stderr, "acore-provider-check: out of memory\n");
        exit(2);
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    check_str_add(s, big, (size_t)n);
    free(big);
}

void check_str_free(check_str *s)
{
    free(s->p);
    memset(s, 0, sizeof *s);
}

/* ---- verdicts ---- */

static char verdict_buf[1024];

verdict check_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(verdict_buf, sizeof verdict_buf, fmt, ap);
    va_end(ap);
    return verdict_buf;
}

int check_selected(const checker *c, const char *name)
{
    return !c->only || strncmp(name, c->only, strlen(c->only)) == 0;
}

/* Results go to stdout, which the scenarios never write: stderr is
 * redirected to a file while they run (check_run.c), so the plugin's and
 * the core's log lines can be searched for the key. */
void check_report(checker *c, const char *scenario, verdict v)
{
    if (!v) {
        c->passed++;
        printf("PASS %s\n", scenario);
    } else if (v[0] == CHECK_SKIP[0]) {
        c->skipped++;
        printf("SKIP %s: %s\n", scenario, v + 1);
    } else {
        c->failed++;
        printf("FAIL %s: %s\n", scenario, v);
    }
    fflush(stdout);
}

/* ---- the command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: acore-provider-check [options] PLUGIN.so\n"
            "\n"
            "Run a provider plugin through the contract of provider.h: its\n"
            "descriptor, its functions on a fake host, then the real loader and\n"
            "engine against the mock LLM server in every scenario.\n"
            "\n"
            "  -f, --fixtures FILE  the backend's replies, for a protocol the mock\n"
            "                       does not speak (see acore-provider-check(1))\n"
            "  -m, --model NAME     the model to ask for (default: check-model)\n"
            "  -s, --set KEY=VALUE  a provider setting, VALUE in libconfig syntax\n"
            "                       (\"text\", 12, true); may be repeated\n"
            "  -o, --only PREFIX    run only the scenarios whose name starts so\n"
            "  -v, --verbose        show what the core and the plugin logged while the\n"
            "                       scenarios ran (on stderr, at the end)\n"
            "  -h, --help           this text\n"
            "      --version        the version of the core it checks against\n"
            "\n"
            "Prints PASS, FAIL (with the rule broken) or SKIP per scenario, then\n"
            "\"N passed, N failed\".  Exit status 0 when nothing failed, 1 when\n"
            "something did, 2 when the plugin could not be checked at all.\n");
}

/* "key=value" -> "key = value;\n", the value checked for a setting name
 * and a libconfig-ish value by the core when it reads the file. */
static int add_set(check_str *sets, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "acore-provider-check: --set %s: expected KEY=VALUE\n", arg);
        return -1;
    }
    for (const char *k = arg; k < eq; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
              (*k >= '0' && *k <= '9') || *k == '_')) {
            fprintf(stderr, "acore-provider-check: --set %s: a setting name is letters, "
                    "digits and '_'\n", arg);
            return -1;
        }
    if (strchr(eq + 1, '\n') || strchr(eq + 1, ';')) {
        fprintf(stderr, "acore-provider-check: --set %s: one value, no ';' or newline\n", arg);
        return -1;
    }
    check_str_add(sets, arg, (size_t)(eq - arg));
    check_str_addf(sets, " = %s;\n", eq + 1);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        { "fixtures", required_argument, NULL, 'f' },
        { "model", required_argument, NULL, 'm' },
        { "set", required_argument, NULL, 's' },
        { "only", required_argument, NULL, 'o' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    checker c;
    memset(&c, 0, sizeof c);
    c.saved_stderr = -1;
    c.model = "check-model";
    check_str sets = {0};
    int opt, model_given = 0;
    while ((opt = getopt_long(argc, argv, "f:m:s:o:vh", longs, NULL)) != -1) {
        switch (opt) {
        case 'f': c.fx_path = optarg; break;
        case 'm': c.model = optarg; model_given = 1; break;
        case 's':
            if (add_set(&sets, optarg) < 0)
                return 2;
            break;
        case 'o': c.only = optarg; break;
        case 'v': c.verbose = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("acore-provider-check (abstractcore %s, ABI %d.%d)\n", ac_version(),
                         AC_ABI_MAJOR, AC_ABI_MINOR); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    /* The loader takes absolute paths only (a relative one would depend
     * on the working folder of whatever program loads it). */
    char abs[PATH_MAX];
    if (!realpath(argv[optind], abs)) {
        fprintf(stderr, "acore-provider-check: %s: %s\n", argv[optind], strerror(errno));
        return 2;
    }
    c.plugin = abs;
    c.sets = sets.p ? sets.p : "";
    /* Only this plugin, whatever the environment says. */
    unsetenv("ABSTRACTCORE_PLUGIN_PATH");
    unsetenv("ABSTRACTCORE_CONFIG");

    int rc = 2;
    const char *model = c.model;
    if (c.fx_path && check_fixtures_load(&c) < 0)
        goto out;
    if (model_given) /* -m wins over the fixture file's model */
        c.model = model;
    printf("acore-provider-check %s: %s\n", ac_version(), c.plugin);
    check_make_secret(&c);
    /* A plugin that fails phase 1 badly enough (no descriptor, requests
     * that cannot be built) is not driven further: its FAIL says why. */
    int unit = check_unit(&c);
    if (unit == 0 && check_core_open(&c) == 0) {
        check_all(&c);
        check_core_close(&c);
    }
    if (c.skipped)
        printf("(%d skipped)\n", c.skipped);
    printf("%d passed, %d failed\n", c.passed, c.failed);
    fflush(stdout); /* before a leak checker's exit hook, which skips stdio's */
    rc = unit == -2 ? 2 : c.failed ? 1 : 0; /* -2: not a plugin at all */
out:
    if (c.have_fx)
        config_destroy(&c.fx);
    check_str_free(&c.plain_body);
    check_str_free(&c.stream_body);
    check_str_free(&sets);
    return rc;
}
