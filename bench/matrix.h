/* matrix.h — the feature-isolation matrix behind `hakmem matrix`: its data, the pure parts (parsing, statistics, output formats; matrix_stats.c, matrix_out.c) and the runner (matrix.c). */
#ifndef HAK_BENCH_MATRIX_H
#define HAK_BENCH_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
    MX_MAX_CONFIGS = 48,   /* hakmem profiles plus peers */
    MX_MAX_WORKLOADS = 8,  /* the six bench_allocators scenarios and larson */
    MX_MAX_RUNS = 99,
    MX_NAME = 64,          /* longest configuration or workload name + 1 */
    MX_LABEL = 256,        /* longest profile description (its overrides) + 1 */
};

/* The system calls counted for every configuration, in this order. */
enum { MX_MMAP, MX_MUNMAP, MX_MADVISE, MX_NSYS };
extern const char *const _hak_matrix_sys_name[MX_NSYS];

/* One run of one configuration on one workload. An "op" is one iteration
 * of a bench_allocators scenario, or one replacement (free + malloc) of
 * larson. Values that a workload does not report are NAN. */
struct mx_sample {
    bool ok;
    double ns;         /* median ns per op of the run (larson: 1e9 / ops/s) */
    double p95, p99;   /* ns per op (NAN for larson: one figure per run) */
    double ops_per_s;
    double faults;     /* minor page faults per op */
    double rss_kib;    /* peak resident set of the process */
    double ops;        /* ops the process did, warm-up included (syscall rates) */
};

/* The statistics of one configuration on one workload over its runs. */
struct mx_summary {
    int n;                    /* successful runs */
    double ns, p95, p99;      /* medians of the runs' values */
    double ops_per_s, faults, rss_kib;
    double spread;            /* (max - min) / median of the runs' ns, a fraction; NAN below 2 runs */
    double sys[MX_NSYS];      /* calls per op in the steady state; NAN: unknown */
    double delta;             /* ns / baseline's ns - 1; NAN without a baseline */
    int mark;                 /* enum mx_mark */
};

enum mx_mark {
    MX_NONE,      /* no delta (this is baseline, or baseline has no result) */
    MX_BEYOND,    /* |delta| exceeds the spread of both: a difference */
    MX_INSIDE,    /* |delta| within the larger spread: not a difference */
    MX_UNKNOWN,   /* fewer than 2 runs on either side: no spread to judge by */
};

enum mx_kind { MX_HAKMEM, MX_PEER };

struct mx_config {
    char name[MX_NAME];    /* profile name, or the peer's (glibc, mimalloc, …) */
    int kind;              /* enum mx_kind */
    char label[MX_LABEL];  /* a profile's overrides "a.b = c, …"; a peer's library */
};

/* The whole matrix: inputs, every run's sample, and the summaries. */
struct mx_matrix {
    int nconfigs, nworkloads, runs;
    struct mx_config config[MX_MAX_CONFIGS];
    char workload[MX_MAX_WORKLOADS][MX_NAME];
    char what[MX_MAX_WORKLOADS][MX_LABEL]; /* what one op of the workload is */
    struct mx_sample sample[MX_MAX_WORKLOADS][MX_MAX_CONFIGS][MX_MAX_RUNS];
    /* Syscalls counted in the base (shortest) and full runs, and their ops;
     * NAN when the configuration's counts are unavailable. */
    double sys_base[MX_MAX_WORKLOADS][MX_MAX_CONFIGS][MX_NSYS], ops_base[MX_MAX_WORKLOADS][MX_MAX_CONFIGS];
    double sys_full[MX_MAX_WORKLOADS][MX_MAX_CONFIGS][MX_NSYS], ops_full[MX_MAX_WORKLOADS][MX_MAX_CONFIGS];
    struct mx_summary sum[MX_MAX_WORKLOADS][MX_MAX_CONFIGS];
    char info[1024];       /* one line: what was run (commands, iterations) */
};

/* ---- Parsing (matrix_stats.c) ------------------------------------------- */

/* bench_allocators' line "scenario NAME iterations=N warmup=W median_ns=…
 * p95_ns=… p99_ns=… faults_median=…" in out; fills ns, p95, p99, faults,
 * ops_per_s and ops. Returns 0, or -1 if the line or a field is missing. */
int _hak_matrix_parse_scenario(const char *out, const char *name, struct mx_sample *s);

/* larson's "Throughput = X operations per second" (stdout) and "larson: N
 * operations by …" (stderr); fills ns, ops_per_s, ops (p95, p99 NAN).
 * Returns 0, or -1 if either is missing. */
int _hak_matrix_parse_larson(const char *out, const char *err, struct mx_sample *s);

/* The NAME of the first "allocator: NAME" line of text into buf ("" if none). */
void _hak_matrix_parse_allocator(const char *text, char *buf, size_t len);

/* The calls of the os object of hakmem's statistics JSON. Returns 0, or -1
 * if one is missing. */
int _hak_matrix_parse_hakmem_stats(const char *json, double sys[MX_NSYS]);

/* The calls of `strace -c` output (0 for a call not listed). Returns 0, or
 * -1 if text holds no strace summary table. */
int _hak_matrix_parse_strace(const char *text, double sys[MX_NSYS]);

/* Calls fn(name, label, arg) for each [profile NAME] section of the ini
 * text, in file order; label is its "key = value" lines joined by ", ".
 * Returns the number of profiles. */
int _hak_matrix_ini_profiles(const char *ini, void (*fn)(const char *name, const char *label, void *arg), void *arg);

/* ---- Statistics (matrix_stats.c) ----------------------------------------- */

/* Sorts v[0..n) ascending (NANs last) and returns how many are not NAN. */
int _hak_matrix_sort(double *v, int n);
/* The median of sorted v[0..n); NAN if n is 0. */
double _hak_matrix_median(const double *v, int n);
/* The nearest-rank percentile of sorted v[0..n): the least value with at
 * least pct % of v at or below it; NAN if n is 0. */
double _hak_matrix_percentile(const double *v, int n, double pct);
/* (max - min) / median of sorted v[0..n), a fraction; NAN if n < 2. */
double _hak_matrix_spread(const double *v, int n);

/* How a delta compares with the spreads of its two sides (enum mx_mark). */
int _hak_matrix_judge(double delta, double spread_base, double spread_other);

/* Fills m->sum from the samples and syscall counts; the configuration
 * named "baseline" (if any) is the reference of every delta. */
void _hak_matrix_summarize(struct mx_matrix *m);

/* ---- Output (matrix_out.c) ------------------------------------------------ */

void _hak_matrix_print_table(FILE *f, const struct mx_matrix *m);
/* One line per hakmem profile other than baseline: what it changed on each
 * workload, claiming only deltas beyond the spread. */
void _hak_matrix_print_attribution(FILE *f, const struct mx_matrix *m);
void _hak_matrix_write_csv(FILE *f, const struct mx_matrix *m);
void _hak_matrix_write_json(FILE *f, const struct mx_matrix *m);
/* gnuplot's input: one row per workload, one column per configuration, the
 * median time over baseline's (NAN → "NaN"); and a script that plots it
 * from data_path into svg_path. */
void _hak_matrix_write_plot_data(FILE *f, const struct mx_matrix *m);
void _hak_matrix_write_plot_script(FILE *f, const struct mx_matrix *m, const char *data_path, const char *svg_path);

/* ---- The command (matrix.c) ---------------------------------------------- */

/* `hakmem matrix ARGS…`: argv holds the arguments after "matrix"; library
 * is the libhakmem to preload. Returns the exit status. */
int _hak_matrix_main(int argc, char **argv, const char *library);

#endif
