/* verdict.h — how `hakmem matrix` turns benchmark runs into verdicts (faster, slower, same): distribution-free statistics, Hodges–Lehmann estimates with exact Wilcoxon / Mann–Whitney intervals, Benjamini–Hochberg and the verdict rule. Pure: no globals, no I/O; names start with stats_. */
#ifndef HAK_CLI_VERDICT_H
#define HAK_CLI_VERDICT_H

#include <stdbool.h>

enum {
    /* Most values one sample may hold. The exact distributions cost about
     * n^3 steps (paired) and m·n·(m·n/2) (two samples); 128 covers the
     * matrix's 99 rounds. */
    STATS_MAX_N = 128,
};

/* What the functions below return. */
enum stats_status {
    STATS_OK = 0,
    STATS_TOO_FEW = -1,  /* too few values for any interval at this confidence (see *_min_n) */
    STATS_INVALID = -2,  /* a NaN or infinite value, n above STATS_MAX_N, or confidence outside (0, 1) */
    STATS_NOMEM = -3,    /* the work space could not be allocated */
};

/* A location estimate with its confidence interval and test. Units are
 * those of the input: with log ratios in, exp() of est, lo and hi are the
 * ratio and its bounds. */
struct stats_interval {
    double est;       /* Hodges–Lehmann estimate */
    double lo, hi;    /* confidence bounds, lo <= est <= hi */
    double coverage;  /* achieved coverage of [lo, hi]: the exact distributions are discrete, so
                         it is the confidence asked for or more (n = 6: 0.969 for 0.95) */
    double p;         /* two-sided p-value of "no shift" (see each function) */
    bool approx;      /* p is a normal approximation (two samples with ties); else exact */
    int k;            /* lo and hi are the k-th smallest and k-th largest average or difference */
    int n;            /* values used: n (paired) or m + n (two samples) */
};

/* ---- Paired: one config against the baseline of the same rounds ---------- */

/* d[0..n) are per-round differences of logs, d[r] = ln(config[r]) -
 * ln(baseline[r]); the result describes the typical per-round log ratio.
 *
 * est is the median of the n(n+1)/2 Walsh averages (d[i] + d[j]) / 2,
 * i <= j; lo and hi are their k-th smallest and k-th largest, k the largest
 * integer with P(W+ <= k - 1) <= (1 - confidence) / 2 under the exact null
 * distribution of the signed-rank statistic W+ without ties. Zeros and ties
 * stay among the averages; the closed interval then covers at least
 * as often (conservative).
 *
 * p tests median 0 exactly, conditionally on the data's ties (Pratt): the
 * |d| get midranks with zeros ranked among them (lowest), only non-zero d
 * carry a sign, and p is twice the smaller tail of the sum of positive
 * midranks over all sign flips of the non-zero d (at most 1). Without ties
 * or zeros, p <= 1 - confidence exactly when [lo, hi] excludes 0; with them
 * the two may disagree at the margin.
 *
 * Needs n >= stats_signed_rank_min_n(confidence) (6 at 0.95): else
 * STATS_TOO_FEW. Returns a stats_status; *out is set only on STATS_OK. */
int stats_signed_rank(const double *d, int n, double confidence, struct stats_interval *out);

/* The fewest values stats_signed_rank accepts at this confidence (6 at
 * 0.95, where 2^-n must be <= 0.025), or STATS_INVALID. */
int stats_signed_rank_min_n(double confidence);

/* ---- Two samples: the same config's log differences from two sessions ---- */

/* x[0..m) and y[0..n) are independent samples (e.g. a config's d from
 * matrix files A and B, which share no rounds); the result is the shift of y
 * against x: est > 0 means y is higher.
 *
 * est is the median of the m·n differences y[j] - x[i]; lo and hi are their
 * k-th smallest and k-th largest, k the largest integer with P(U <= k - 1) <=
 * (1 - confidence) / 2 under the exact Mann–Whitney null distribution
 * without ties (U counts pairs with y[j] > x[i]).
 *
 * p is two-sided for "same distribution": exact without ties in the pooled
 * values; with ties, the normal approximation with tie-corrected variance
 * and continuity correction, and approx is set. Ties count half in U.
 * Without ties, p <= 1 - confidence exactly when [lo, hi] excludes 0.
 *
 * Needs C(m + n, m) >= 2 / (1 - confidence) (at 0.95: m = n = 4, or 2 and
 * 8): else STATS_TOO_FEW. Returns a stats_status; *out is set only on
 * STATS_OK. */
int stats_rank_sum(const double *x, int m, const double *y, int n, double confidence,
                   struct stats_interval *out);

/* The fewest values per sample stats_rank_sum accepts with m = n at this
 * confidence (4 at 0.95), or STATS_INVALID. */
int stats_rank_sum_min_n(double confidence);

/* ---- Using the results ------------------------------------------------------ */

/* The largest distance from est to a bound, in the interval's units: with
 * log ratios, h <= 0.05 means the ratio is known to within about ±5 % (the
 * adaptive runs' stop rule). Intervals from HL are not symmetric, so this
 * is the wider side. */
double stats_half_width(const struct stats_interval *iv);

/* Benjamini–Hochberg at false-discovery rate q over p[0..m). NaN entries
 * (cells without a test) are not hypotheses: they do not count in m and are
 * never flagged. flag[i] is set when p[i] <= cut-off, the cut-off being
 * i·q/m' for the largest rank i with p(i) <= i·q/m' (m' the number of
 * p-values), 0 if there is none. Writes the cut-off to *cutoff unless NULL;
 * returns the number flagged. O(m^2), no allocation. */
int stats_bh(const double *p, int m, double q, bool *flag, double *cutoff);

enum stats_verdict {
    STATS_FASTER,        /* hi < 1 and the cell passed the multiple-test check */
    STATS_SLOWER,        /* lo > 1 and the cell passed */
    STATS_SAME,          /* otherwise, [lo, hi] inside [1 - delta, 1 + delta] */
    STATS_INCONCLUSIVE,  /* none of these (also for NaN bounds) */
};

/* The verdict on a ratio interval [lo, hi] (ratio space: exp of the log
 * bounds), oriented so that a ratio below 1 is better (time per op; invert
 * throughput first). flagged is the cell's BH flag (for a lone comparison,
 * p <= 1 - confidence); delta the equivalence margin as a fraction (0.02
 * for ±2 %). A difference shown and passed takes precedence over "same":
 * [0.985, 0.995] flagged is faster. */
enum stats_verdict stats_verdict(double lo, double hi, bool flagged, double delta);

/* "faster", "slower", "same", "inconclusive". */
const char *stats_verdict_name(enum stats_verdict v);

/* A short reason for a stats_status, e.g. "too few values for an interval". */
const char *stats_status_name(int status);

/* ---- Helpers ------------------------------------------------------------------ */

/* Sorts v[0..n) ascending with NaNs last; returns how many are not NaN. */
int stats_sort(double *v, int n);

/* The median of sorted v[0..n); NaN if n <= 0. */
double stats_median(const double *v, int n);

#endif
