/*
 * bench_common.h -- measuring helpers shared by the benchmark programs.
 *
 * Wall and CPU clocks, the process's peak memory and thread count read
 * from /proc/self, latency statistics, and the "key=value" result lines
 * that bench/run-bench.sh turns into the table in docs/performance.md.
 * Linux only (the benchmarks read /proc); not part of the library.
 */
#ifndef AC_BENCH_COMMON_H
#define AC_BENCH_COMMON_H
#include <stddef.h>

/* Monotonic wall clock, milliseconds. */
double bench_now_ms(void);
/* CPU time (user + system) of the whole process so far, milliseconds. */
double bench_cpu_ms(void);
/* A "Vm...:" line of /proc/self/status in KiB (e.g. "VmHWM"); -1 if absent. */
long bench_status_kib(const char *key);
/* Threads of this process now (entries of /proc/self/task); -1 on error. */
int bench_threads(void);
/* Raise the open-file limit to its hard limit (1,000 sockets need it). */
void bench_raise_nofile(void);
/* Online CPUs. */
int bench_cores(void);

typedef struct bench_stats {
    double min, p50, p90, p99, max, mean;
} bench_stats;

/* Statistics of v[0..n) (sorts v in place).  All zero when n is 0. */
void bench_stats_of(double *v, size_t n, bench_stats *out);

/* Print "prefix_p50=..." etc. for a stats block. */
void bench_print_stats(const char *prefix, const bench_stats *s);

/* Write v[0..n) one per line to path (for the plot); path may be NULL. */
void bench_write_values(const char *path, const double *v, size_t n);
#endif
