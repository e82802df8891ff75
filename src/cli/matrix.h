/* matrix.h — the feature-isolation matrix behind `hakmem matrix`: its data, the pure parts (parsing, statistics, output formats; matrix_stats.c, matrix_out.c) and the runner (matrix.c). */
#ifndef HAK_CLI_MATRIX_H
#define HAK_CLI_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
    MX_MAX_CONFIGS = 48,   /* hakmem profiles plus peers */
    MX_MAX_WORKLOADS = 24, /* the built-in ones and commands */
    MX_MAX_RUNS = 99,
    MX_NAME = 64,          /* longest configuration or workload name + 1 */
    MX_LABEL = 256,        /* longest profile description (its overrides) + 1 */
    MX_CMD = 1024,         /* longest command of a command workload + 1 */
    MX_MAX_ARGS = 64,      /* arguments of a matrix, as recorded for --replay */
};

/* The system calls counted for every configuration, in this order. */
enum { MX_MMAP, MX_MUNMAP, MX_MADVISE, MX_NSYS };
extern const char *const _hak_matrix_sys_name[MX_NSYS];

/* What hakmem's subsystems did in a run, as its statistics file counts it
 * over the whole process: X(id, path of the number in the JSON). */
#define MX_ACTIVITY(X)                                 \
    X(bc_hits, "bigcache.hits")                        \
    X(bc_misses, "bigcache.misses")                    \
    X(bc_evictions, "bigcache.evictions")              \
    X(elo_windows, "elo.windows")                      \
    X(elo_rated, "elo.rated")                          \
    X(elo_matches, "elo.matches")                      \
    X(elo_threshold, "elo.threshold")                  \
    X(madv_queued, "madvise.queued")                   \
    X(madv_immediate, "madvise.immediate")             \
    X(madv_batches, "madvise.batches")                 \
    X(os_madvise, "os.madvise")                        \
    X(os_mmap, "os.mmap")                              \
    X(os_munmap, "os.munmap")                          \
    X(arena_allocs, "large.alloc")                     \
    X(huge_allocs, "huge.alloc")                       \
    X(refill_local, "tiny.refill_local.total")         \
    X(refill_remote, "tiny.refill_remote.total")       \
    X(refill_carve, "tiny.refill_carve.total")         \
    X(refill_partial, "tiny.refill_partial.total")     \
    X(refill_empty, "tiny.refill_empty_slab.total")    \
    X(refill_new_ss, "tiny.refill_new_ss.total")

enum mx_act {
#define MX_ACT_ID(id, path) MX_A_##id,
    MX_ACTIVITY(MX_ACT_ID)
#undef MX_ACT_ID
    MX_NACT
};
extern const char *const _hak_matrix_act_path[MX_NACT];

/* The evolution mode a run ended in ("evo.mode"), as a number so that it
 * has a median: MX_MODE_NONE when ELO is off. */
enum mx_mode { MX_MODE_NONE, MX_MODE_LEARN, MX_MODE_FROZEN, MX_MODE_CANARY, MX_NMODES };

/* The subsystems a profile can switch off, and what shows they worked. */
enum mx_subsystem { MX_SUB_BIGCACHE, MX_SUB_ELO, MX_SUB_BATCH, MX_SUB_SUPERSLAB, MX_NSUB };

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
    double act[MX_NACT]; /* hakmem's activity; NAN for a peer or without counters */
    double mode;       /* enum mx_mode; NAN for a peer */
    unsigned long long seed; /* policy.seed of a hakmem run (0 for a peer) */
    double cpu_ns;     /* user + system CPU time per op of the whole process */
    double phase_ns[2]; /* a phased scenario's median ns per op in each half (phase1_ns, phase2_ns); else NAN */
    unsigned long long out_hash; /* a command's standard output (FNV-1a) */
};

/* What a configuration's time on a workload is against baseline's. */
enum mx_verdict {
    MX_V_NONE,          /* baseline itself, or no baseline result */
    MX_V_FASTER,        /* the 95 % interval of the ratio lies below 1 and passes the false-discovery check */
    MX_V_SLOWER,        /* … above 1, likewise */
    MX_V_SAME,          /* the interval lies within 1 ± MX_SAME */
    MX_V_INCONCLUSIVE,  /* none of these */
    MX_V_FEW,           /* under MX_MIN_PAIRS paired rounds: no interval */
};
#define MX_SAME 0.02     /* a ratio interval inside 1 ± 2 % is "the same" */
#define MX_MIN_PAIRS 6   /* the fewest rounds with a 95 % signed-rank interval */
#define MX_FDR 0.05      /* Benjamini–Hochberg's false discovery rate over the matrix */
enum { MX_AUTO_FIRST = 10, MX_AUTO_CAP = 30 }; /* --runs auto: rounds before the first look; the default cap */

/* The statistics of one configuration on one workload over its runs. */
struct mx_summary {
    int n;                    /* successful runs */
    double ns, p95, p99;      /* medians of the runs' values */
    double ops_per_s, faults, rss_kib, cpu_ns;
    double phase_ns[2];       /* medians of the runs' phase medians; NAN when not phased */
    double sys[MX_NSYS];      /* calls per op in the steady state; NAN: unknown */
    double act[MX_NACT], mode; /* medians of the runs' activity; NAN for a peer */
    /* Time against baseline's, paired by round (ln of the ratio per round):
     * the Hodges–Lehmann estimate and its exact Wilcoxon signed-rank 95 %
     * interval, as ratios; NAN below MX_MIN_PAIRS pairs or for baseline. */
    int pairs;
    double ratio, lo, hi;
    double coverage, p;       /* the interval's exact coverage; the two-sided p of ratio 1 */
    bool discovery;           /* p at or under the matrix's Benjamini–Hochberg cut-off */
    int verdict;              /* enum mx_verdict */
};
enum mx_kind { MX_HAKMEM, MX_PEER };

/* What runs a workload: a bench_allocators scenario, larson, or a command
 * of the user's (one op = one run of it). */
enum mx_wkind { MX_W_SCENARIO, MX_W_LARSON, MX_W_COMMAND };

struct mx_config {
    char name[MX_NAME];    /* profile name, or the peer's (glibc, mimalloc, …) */
    int kind;              /* enum mx_kind */
    char label[MX_LABEL];  /* a profile's overrides "a.b = c, …"; a peer's library */
    bool sentinel;         /* --aa: baseline again under another name, which must come out the same */
};
#define MX_SENTINEL "baseline-aa"

/* Where baseline stands against the fastest peer on a workload: its time
 * over the peer's, paired by round, with a 95 % interval (NAN: no peer, or
 * too few rounds). */
struct mx_gap {
    int peer;              /* configuration index, -1 for none */
    double ratio, lo, hi;
};

/* The whole matrix: inputs, every run's sample, and the summaries. */
struct mx_matrix {
    int nconfigs, nworkloads;
    int runs;              /* rounds asked for (--runs; with --runs auto, the cap) */
    int rounds[MX_MAX_WORKLOADS]; /* rounds each workload ran */
    unsigned long long seed; /* the schedule's and the runs' policy seeds' source (--seed) */
    struct mx_config config[MX_MAX_CONFIGS];
    char workload[MX_MAX_WORKLOADS][MX_NAME];
    char what[MX_MAX_WORKLOADS][MX_LABEL]; /* what one op of the workload is */
    int wkind[MX_MAX_WORKLOADS];           /* enum mx_wkind */
    char command[MX_MAX_WORKLOADS][MX_CMD]; /* a command workload's shell command, else "" */
    struct mx_sample sample[MX_MAX_WORKLOADS][MX_MAX_CONFIGS][MX_MAX_RUNS];
    /* Syscalls counted in the base (shortest) and full runs, and their ops;
     * NAN when the configuration's counts are unavailable. */
    double sys_base[MX_MAX_WORKLOADS][MX_MAX_CONFIGS][MX_NSYS], ops_base[MX_MAX_WORKLOADS][MX_MAX_CONFIGS];
    double sys_full[MX_MAX_WORKLOADS][MX_MAX_CONFIGS][MX_NSYS], ops_full[MX_MAX_WORKLOADS][MX_MAX_CONFIGS];
    struct mx_summary sum[MX_MAX_WORKLOADS][MX_MAX_CONFIGS];
    struct mx_gap gap[MX_MAX_WORKLOADS];
    double bh_cut;         /* the largest p flagged by Benjamini–Hochberg (0: none) */
    int cells, discoveries;/* cells with an interval; those flagged */
    char info[1024];       /* one line: what was run (commands, iterations) */
    char note[1024];       /* what did not go as asked (intervals that stayed wide), or "" */
    /* The training pass: each workload's policy state file (written under
     * the learning profile, read by frozen profiles; "" for none) and a
     * line on where it came from. */
    char state_file[MX_MAX_WORKLOADS][4096];
    char state_note[MX_MAX_WORKLOADS][512];
    int nargs;             /* the arguments it ran with, --seed and --out left out (--replay) */
    char args[MX_MAX_ARGS][MX_CMD];
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

/* The number (true is 1, false 0) or string at a dotted path ("os.mmap")
 * of a JSON object. Returns 0, or -1 if absent or of another type. */
int _hak_matrix_json_number(const char *json, const char *path, double *out);
int _hak_matrix_json_string(const char *json, const char *path, char *buf, size_t len);

/* Reads a matrix.json back into m: configurations, workloads, every run's
 * figures and activity, the seed and arguments; per-op system calls as
 * recorded; then summarizes. Returns 0, or -1 with the reason in err. */
int _hak_matrix_read_json(const char *json, struct mx_matrix *m, char *err, size_t len);

/* hakmem's activity from its statistics JSON: every MX_ACTIVITY number
 * (NAN where absent, and all but the policy's "elo." ones when the
 * counters were compiled out) and the evolution mode. Returns -1 if the
 * text is not hakmem's statistics. */
int _hak_matrix_parse_activity(const char *json, double act[MX_NACT], double *mode);

/* The calls of `strace -c` output (0 for a call not listed). Returns 0, or
 * -1 if text holds no strace summary table. */
int _hak_matrix_parse_strace(const char *text, double sys[MX_NSYS]);

/* Calls fn(name, label, arg) for each [KIND NAME] section of the ini text
 * (kind "profile" or "workload"), in file order; label is its "key =
 * value" lines joined by ", ". Returns the number of sections. */
int _hak_matrix_ini_sections(const char *ini, const char *kind,
                             void (*fn)(const char *name, const char *label, void *arg), void *arg);

/* ---- Statistics (matrix_stats.c) ----------------------------------------- */

extern const char *const _hak_matrix_sub_name[MX_NSUB];
/* The subsystems whose options differ between two profiles' labels ("k = v,
 * …"), as bits 1 << enum mx_subsystem; bit 1 << MX_NSUB for an option of
 * no subsystem. */
unsigned _hak_matrix_changed_subsystems(const char *label, const char *base_label);
/* Whether a run's activity shows subsystem sub at work: 1, 0, or -1 when
 * unknown; why gets the figure that says so ("0 BigCache lookups"). */
int _hak_matrix_exercised(int sub, const double act[MX_NACT], char *why, size_t len);

/* Fills m->sum from the samples and syscall counts; the configuration
 * named "baseline" (if any) is the reference of every delta. */
void _hak_matrix_summarize(struct mx_matrix *m);

/* The widest interval of workload w's cells: the larger relative distance
 * from a ratio to its bounds (0.05 is +/-5 %), INFINITY for a cell without
 * one, 0 with no cell; *cell (unless NULL) gets its configuration or -1. */
double _hak_matrix_widest(const struct mx_matrix *m, int w, int *cell);

/* ---- Output (matrix_out.c) ------------------------------------------------ */

extern const char *const _hak_matrix_verdict_name[]; /* by enum mx_verdict */
void _hak_matrix_print_table(FILE *f, const struct mx_matrix *m);
/* One line per hakmem profile other than baseline: what it changed on each
 * workload, claiming only deltas beyond the spread. */
void _hak_matrix_print_attribution(FILE *f, const struct mx_matrix *m);
/* Per workload: baseline against the fastest peer, each subsystem's share
 * of baseline's time (its single-subsystem profile against baseline), and
 * what stays unexplained. */
void _hak_matrix_print_gaps(FILE *f, const struct mx_matrix *m);
void _hak_matrix_write_csv(FILE *f, const struct mx_matrix *m);
void _hak_matrix_write_json(FILE *f, const struct mx_matrix *m);
/* gnuplot's input: one row per workload, one column per configuration, the
 * median time over baseline's (NAN → "NaN"); and a script that plots it
 * from data_path into svg_path. */
void _hak_matrix_write_plot_data(FILE *f, const struct mx_matrix *m);
void _hak_matrix_write_plot_script(FILE *f, const struct mx_matrix *m, const char *data_path, const char *svg_path);

/* ---- Two matrices (matrix_compare.c) -------------------------------------- */

/* Prints every workload and configuration that a and b share: B's time
 * against A's with an interval and a verdict. Returns how many hakmem
 * configurations B made slower. */
int _hak_matrix_compare(FILE *f, const struct mx_matrix *a, const struct mx_matrix *b);

/* ---- The command (matrix.c) ---------------------------------------------- */

/* `hakmem matrix ARGS…`: argv holds the arguments after "matrix"; library
 * is the libhakmem to preload. Returns the exit status. */
int _hak_matrix_main(int argc, char **argv, const char *library);

#endif
