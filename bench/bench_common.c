/*
 * bench_common.c -- measuring helpers for the benchmarks.  See
 * bench_common.h.  Reads /proc/self (Linux); uses only libc.
 */
#include "bench_common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double bench_cpu_ms(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

long bench_status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t klen = strlen(key);
    long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

int bench_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

long bench_raise_nofile(long need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = { rl.rlim_max, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    long soft = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
    long hard = rl.rlim_max == RLIM_INFINITY ? -1 : (long)rl.rlim_max;
    printf("nofile_soft=%ld\nnofile_hard=%ld\n", soft, hard);
    if (need > 0 && hard >= 0 && hard < need)
        fprintf(stderr, "bench: the open-file hard limit (%ld) is below the %ld "
                        "descriptors this run needs; raise it (ulimit -Hn, "
                        "/etc/security/limits.conf) or lower N\n", hard, need);
    return soft;
}

int bench_reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int bench_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double bench_pct(const double *v, size_t n, double p)
{
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

void bench_stats_of(double *v, size_t n, bench_stats *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, bench_cmp);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    out->min = v[0];
    out->max = v[n - 1];
    out->mean = sum / (double)n;
    out->p50 = bench_pct(v, n, 50);
    out->p90 = bench_pct(v, n, 90);
    out->p99 = bench_pct(v, n, 99);
}

void bench_print_stats(const char *prefix, const bench_stats *s)
{
    printf("%s_min=%.2f\n%s_p50=%.2f\n%s_p90=%.2f\n%s_p99=%.2f\n%s_max=%.2f\n%s_mean=%.2f\n",
           prefix, s->min, prefix, s->p50, prefix, s->p90, prefix, s->p99,
           prefix, s->max, prefix, s->mean);
}

void bench_write_values(const char *path, const double *v, size_t n)
{
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.3f\n", v[i]);
    fclose(f);
}

void bench_take_sample(bench_sample *sm)
{
    int t = bench_threads();
    long r = bench_status_kib("VmRSS");
    if (t > sm->threads_max)
        sm->threads_max = t;
    if (r > sm->rss_max_kib)
        sm->rss_max_kib = r;
}

void bench_batch_begin(bench_batch *b)
{
    memset(b, 0, sizeof *b);
    b->threads_before = bench_threads();
    b->rss_before_kib = bench_status_kib("VmRSS");
    b->sm.threads_max = b->threads_before;
    b->sm.rss_max_kib = b->rss_before_kib;
    b->hwm_reset = bench_reset_hwm() == 0;
    b->cpu0 = bench_cpu_ms();
    b->t0 = bench_now_ms();
}

void bench_batch_stop(bench_batch *b)
{
    b->cpu1 = bench_cpu_ms();
    bench_take_sample(&b->sm);
    b->hwm_kib = bench_status_kib("VmHWM");
}

void bench_batch_print(const bench_batch *b, double t_last, size_t n)
{
    /* Without a resettable VmHWM (old kernels) the sampled RSS is the
     * best there is, and may miss a short peak. */
    int use_hwm = b->hwm_reset && b->hwm_kib > 0;
    long peak = use_hwm ? b->hwm_kib : b->sm.rss_max_kib;
    double cpu = b->cpu1 - b->cpu0;
    if (t_last < b->t0)
        t_last = b->t0;
    printf("wall_ms=%.2f\n", t_last - b->t0);
    printf("cpu_ms=%.2f\n", cpu);
    printf("cpu_per_req_ms=%.4f\n", n ? cpu / (double)n : 0.0);
    printf("rss_before_kib=%ld\nrss_peak_kib=%ld\n", b->rss_before_kib, peak);
    printf("rss_peak_source=%s\n", use_hwm ? "VmHWM" : "VmRSS-sampled");
    printf("kib_per_req=%.2f\n", n ? (double)(peak - b->rss_before_kib) / (double)n : 0.0);
    printf("threads_before=%d\nthreads_max=%d\n", b->threads_before, b->sm.threads_max);
}
