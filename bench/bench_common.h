/*
 * bench_common.h -- measuring helpers shared by the benchmark programs.
 *
 * Wall and CPU clocks, the process's peak memory and thread count read
 * from /proc/self, latency statistics, and the "key=value" result lines
 * that bench/run-bench.sh turns into CSV files and the tables of
 * docs/performance.md.  Linux only (the benchmarks read /proc); not part
 * of the library.  Every function is called from one thread at a time.
 */
#ifndef AC_BENCH_COMMON_H
#define AC_BENCH_COMMON_H
#include <stddef.h>

/* Monotonic wall clock, milliseconds. */
double bench_now_ms(void);
/* CPU time (user + system) of the whole process so far (every thread),
 * milliseconds. */
double bench_cpu_ms(void);
/* A "Vm...:" line of /proc/self/status in KiB (e.g. "VmHWM"); -1 if absent. */
long bench_status_kib(const char *key);
/* Threads of this process now (entries of /proc/self/task); -1 on error. */
int bench_threads(void);
/* Raise the open-file soft limit to the hard limit and print
 * "nofile_soft=" / "nofile_hard=" lines.  When the hard limit is below
 * `need` (descriptors the run will use), say so on stderr.  Returns the
 * soft limit in force afterwards. */
long bench_raise_nofile(long need);
/* Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >=
 * 4.0), so VmHWM read later is the peak since now.  0 on success. */
int bench_reset_hwm(void);
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

/* Threads and RSS seen while a batch runs (sampled every few ms). */
typedef struct bench_sample {
    int  threads_max;
    long rss_max_kib;
} bench_sample;
void bench_take_sample(bench_sample *sm);

/* The memory, CPU and wall figures of one batch: begin just before the
 * first request is started, end after the last one finished. */
typedef struct bench_batch {
    double       t0, cpu0, cpu1;
    long         rss_before_kib, hwm_kib;
    int          threads_before;
    int          hwm_reset;
    bench_sample sm;
} bench_batch;
void bench_batch_begin(bench_batch *b);
/* Right after the last request ended: read the CPU clock and VmHWM. */
void bench_batch_stop(bench_batch *b);
/* Print wall_ms (t_last - t0), cpu_ms, rss_*, kib_per_req, threads_*. */
void bench_batch_print(const bench_batch *b, double t_last, size_t n);
#endif
