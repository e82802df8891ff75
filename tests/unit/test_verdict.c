/* test_verdict.c — src/cli/verdict.c against golden vectors, brute-force enumeration of the exact null distributions, and seeded null and power simulations of matrices. */
#include "unit.h"
#include "../../src/cli/verdict.h"
#include <math.h>

/* ---- Seeded randomness (splitmix64), never the clock ---------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double rng_uniform(void)
{
    return ((rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void)
{
    return sqrt(-2 * log(rng_uniform())) * cos(2 * M_PI * rng_uniform());
}

/* ln of one run's time: a log-normal jitter of sigma plus, with probability
 * spike, a 20 % slowdown (skewed noise: spikes only ever slow a run down). */
static double run_log(double level, double sigma, double spike)
{
    return level + sigma * rng_normal() + (rng_uniform() < spike ? log(1.2) : 0);
}

/* ---- Brute force, independent of verdict.c -------------------------------------- */

static void insertion_sort(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        double t = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > t; j--)
            v[j] = v[j - 1];
        v[j] = t;
    }
}

/* The 0.95 interval's k from integer counts cnt[0..total] out of all:
 * largest k with 40·(count of S <= k - 1) <= all. *below gets that count. */
static int brute_k(const long long *cnt, int total, long long all, long long *below)
{
    long long cum = 0;
    int k = 0;
    for (int s = 0; s <= total && 40 * (cum + cnt[s]) <= all; s++) {
        cum += cnt[s];
        k = s + 1;
    }
    *below = cum;
    return k;
}

/* W+ over all 2^n sign assignments, ranks 1..n. */
static void brute_signed_rank_counts(int n, long long *cnt)
{
    int total = n * (n + 1) / 2;
    for (int s = 0; s <= total; s++)
        cnt[s] = 0;
    for (long mask = 0; mask < 1L << n; mask++) {
        int s = 0;
        for (int i = 0; i < n; i++)
            if (mask >> i & 1)
                s += i + 1;
        cnt[s]++;
    }
}

/* The exact conditional p of the signed-rank test, by enumerating the signs
 * of the non-zero d; midranks of |d| (zeros ranked) from a sorted copy. */
static double brute_signed_rank_p(const double *d, int n)
{
    double sorted[20];
    int rank2[20], nz = 0, obs = 0;
    for (int i = 0; i < n; i++)
        sorted[i] = fabs(d[i]);
    insertion_sort(sorted, n);
    for (int i = 0; i < n; i++) {
        if (d[i] == 0)
            continue;
        int first = 0, last = n - 1;
        while (sorted[first] != fabs(d[i]))
            first++;
        while (sorted[last] != fabs(d[i]))
            last--;
        rank2[nz] = first + last + 2; /* twice the mean of 1-based positions */
        obs += d[i] > 0 ? rank2[nz] : 0;
        nz++;
    }
    long long le = 0, ge = 0;
    for (long mask = 0; mask < 1L << nz; mask++) {
        int s = 0;
        for (int i = 0; i < nz; i++)
            if (mask >> i & 1)
                s += rank2[i];
        le += s <= obs;
        ge += s >= obs;
    }
    return fmin(1, 2.0 * (le < ge ? le : ge) / (double)(1L << nz));
}

/* U = #{(i, j): y_j > x_i} over all ways to choose which m of the m + n
 * ranks are x's. */
static long long brute_rank_sum_counts(int m, int n, long long *cnt)
{
    long long all = 0;
    for (int s = 0; s <= m * n; s++)
        cnt[s] = 0;
    for (long mask = 0; mask < 1L << (m + n); mask++) {
        if (__builtin_popcountl(mask) != m)
            continue;
        int u = 0, xs = 0;
        for (int r = 0; r < m + n; r++) {
            if (mask >> r & 1)
                xs++;
            else
                u += xs; /* this y exceeds every x below it */
        }
        cnt[u]++;
        all++;
    }
    return all;
}

/* ---- Paired: golden vectors -------------------------------------------------- */

static void fill_distinct(double *d, int n)
{
    for (int i = 0; i < n; i++)
        d[i] = (i % 2 ? -1 : 1) * (0.01 + 0.003 * i * i) + 0.001 * i;
}

static void golden_k(void **state)
{
    static const struct { int n, k; double coverage; } gold[] = {
        { 6, 1, 0.96875 }, { 8, 4, 0.9609375 }, { 10, 9, 0.951171875 }, { 12, 14, 0.95751953125 },
        { 20, 53, 0.9515590667724609 }, { 30, 138, 0.9502898789942265 }, { 99, 1914, 0.9502766200018796 },
    };
    double d[STATS_MAX_N + 1];
    struct stats_interval iv;
    fill_distinct(d, STATS_MAX_N + 1);
    for (size_t g = 0; g < sizeof gold / sizeof gold[0]; g++) {
        assert_int_equal(stats_signed_rank(d, gold[g].n, 0.95, &iv), STATS_OK);
        assert_int_equal(iv.k, gold[g].k);
        assert_int_equal(iv.n, gold[g].n);
        assert_true(fabs(iv.coverage - gold[g].coverage) < 1e-12);
        assert_true(iv.lo <= iv.est && iv.est <= iv.hi);
    }
    /* n = 6, k = 1: the extreme Walsh averages are the extreme d. */
    assert_int_equal(stats_signed_rank(d, 6, 0.95, &iv), STATS_OK);
    double lo = d[0], hi = d[0];
    for (int i = 1; i < 6; i++)
        lo = fmin(lo, d[i]), hi = fmax(hi, d[i]);
    assert_true(iv.lo == lo && iv.hi == hi);

    assert_int_equal(stats_signed_rank_min_n(0.95), 6);
    assert_int_equal(stats_signed_rank_min_n(0.99), 8);
    for (int n = 0; n <= 5; n++)
        assert_int_equal(stats_signed_rank(d, n, 0.95, &iv), STATS_TOO_FEW);
    assert_int_equal(stats_signed_rank(d, 7, 0.99, &iv), STATS_TOO_FEW);
    assert_int_equal(stats_signed_rank(d, STATS_MAX_N, 0.95, &iv), STATS_OK);
    assert_int_equal(stats_signed_rank(d, STATS_MAX_N + 1, 0.95, &iv), STATS_INVALID);
    assert_int_equal(stats_signed_rank(d, 10, 1.0, &iv), STATS_INVALID);
    assert_int_equal(stats_signed_rank(d, 10, 0, &iv), STATS_INVALID);
    d[3] = NAN;
    assert_int_equal(stats_signed_rank(d, 10, 0.95, &iv), STATS_INVALID);
    d[3] = INFINITY;
    assert_int_equal(stats_signed_rank(d, 10, 0.95, &iv), STATS_INVALID);
}

/* The note's worked example: twelve larson/P1 time ratios, all below 1. */
static void worked_example(void **state)
{
    static const double ratio[12] = { 0.951, 0.968, 0.957, 0.989, 0.944, 0.962,
                                      0.973, 0.949, 0.958, 0.981, 0.965, 0.952 };
    double d[12], walsh[78];
    for (int i = 0; i < 12; i++)
        d[i] = log(ratio[i]);
    struct stats_interval iv;
    assert_int_equal(stats_signed_rank(d, 12, 0.95, &iv), STATS_OK);
    assert_int_equal(iv.k, 14);
    assert_true(fabs(exp(iv.est) - 0.962) < 0.0005);
    assert_true(fabs(exp(iv.lo) - 0.953) < 0.0005);
    assert_true(fabs(exp(iv.hi) - 0.971) < 0.0005);
    assert_true(fabs(iv.coverage - 0.958) < 0.0005);
    assert_true(iv.p == 2.0 / 4096); /* W+ = 0: only "all negative" is as extreme, on each side */
    assert_false(iv.approx);

    int c = 0;
    for (int i = 0; i < 12; i++)
        for (int j = i; j < 12; j++)
            walsh[c++] = (d[i] + d[j]) / 2;
    insertion_sort(walsh, 78);
    assert_true(iv.lo == walsh[13] && iv.hi == walsh[78 - 14]);
    assert_true(iv.est == (walsh[38] + walsh[39]) / 2);
    /* The upper side is the wider: 0.9715 / 0.9617, about +1.0 %. */
    assert_true(fabs(stats_half_width(&iv) - log(0.9714535500990256 / 0.9617153433648915)) < 1e-9);
}

/* ---- Paired: against enumeration of all sign assignments ------------------------ */

static void signed_rank_brute(void **state)
{
    static long long cnt[16 * 17 / 2 + 1];
    double d[16], walsh[16 * 17 / 2];
    rng_state = 1;
    for (int n = 6; n <= 16; n++) {
        int total = n * (n + 1) / 2;
        brute_signed_rank_counts(n, cnt);
        long long below;
        int k = brute_k(cnt, total, 1LL << n, &below);
        for (int trial = 0; trial < 20; trial++) {
            /* Odd trials: coarse values, so ties in |d| and zeros are common. */
            for (int i = 0; i < n; i++)
                d[i] = trial % 2 ? round(2 * rng_normal()) / 4 : 0.02 * rng_normal() + 0.01;
            struct stats_interval iv, again;
            assert_int_equal(stats_signed_rank(d, n, 0.95, &iv), STATS_OK);
            assert_int_equal(iv.k, k);
            assert_true(fabs(iv.coverage - (1 - 2.0 * below / (1LL << n))) < 1e-12);
            int c = 0;
            for (int i = 0; i < n; i++)
                for (int j = i; j < n; j++)
                    walsh[c++] = (d[i] + d[j]) / 2;
            insertion_sort(walsh, total);
            assert_true(iv.lo == walsh[k - 1] && iv.hi == walsh[total - k]);
            double med = total % 2 ? walsh[total / 2] : (walsh[total / 2 - 1] + walsh[total / 2]) / 2;
            assert_true(iv.est == med);
            assert_true(fabs(iv.p - brute_signed_rank_p(d, n)) < 1e-12);
            if (trial % 2 == 0) /* no ties: the test and the interval agree */
                assert_true((iv.p <= 0.05) == (iv.lo > 0 || iv.hi < 0));
            assert_int_equal(stats_signed_rank(d, n, 0.95, &again), STATS_OK);
            assert_true(iv.est == again.est && iv.lo == again.lo && iv.hi == again.hi && iv.p == again.p);
        }
    }
    /* All zeros: no evidence either way. */
    for (int i = 0; i < 8; i++)
        d[i] = 0;
    struct stats_interval iv;
    assert_int_equal(stats_signed_rank(d, 8, 0.95, &iv), STATS_OK);
    assert_true(iv.p == 1 && iv.lo == 0 && iv.hi == 0 && iv.est == 0);
}

/* Coarse values (a timer's resolution): ties and zeros everywhere. The
 * interval keeps the no-tie k, so it must cover the centre at least as
 * often as claimed, and the conditional p must not flag more often. */
static void ties_conservative(void **state)
{
    double d[10];
    int covered = 0, flagged = 0, trials = 2000;
    struct stats_interval iv;
    rng_state = 6;
    for (int t = 0; t < trials; t++) {
        for (int i = 0; i < 10; i++)
            d[i] = round(3 * rng_normal()) - round(3 * rng_normal());
        assert_int_equal(stats_signed_rank(d, 10, 0.95, &iv), STATS_OK);
        covered += iv.lo <= 0 && 0 <= iv.hi;
        flagged += iv.p <= 0.05;
    }
    print_message("ties: centre covered in %.1f %% (claimed %.1f %%), p <= 0.05 in %.1f %%\n",
                  100.0 * covered / trials, 100 * iv.coverage, 100.0 * flagged / trials);
    assert_true(covered >= (iv.coverage - 0.01) * trials);
    assert_true(flagged <= 0.06 * trials);
}

/* ---- Two samples --------------------------------------------------------------- */

static void rank_sum_brute(void **state)
{
    static const int sizes[][2] = { { 4, 4 }, { 2, 8 }, { 8, 2 }, { 5, 7 }, { 7, 5 }, { 6, 6 }, { 10, 12 }, { 12, 10 } };
    static long long cnt[12 * 10 + 1];
    double x[12], y[12], diff[144];
    rng_state = 2;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int m = sizes[s][0], n = sizes[s][1], mn = m * n;
        long long all = brute_rank_sum_counts(m, n, cnt), below;
        int k = brute_k(cnt, mn, all, &below);
        for (int trial = 0; trial < 10; trial++) {
            for (int i = 0; i < m; i++)
                x[i] = rng_normal();
            for (int j = 0; j < n; j++)
                y[j] = rng_normal() + 0.3 * trial;
            struct stats_interval iv;
            assert_int_equal(stats_rank_sum(x, m, y, n, 0.95, &iv), STATS_OK);
            assert_int_equal(iv.k, k);
            assert_int_equal(iv.n, m + n);
            assert_false(iv.approx);
            assert_true(fabs(iv.coverage - (1 - 2.0 * below / all)) < 1e-12);
            int u = 0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    diff[i * n + j] = y[j] - x[i];
                    u += y[j] > x[i];
                }
            insertion_sort(diff, mn);
            assert_true(iv.lo == diff[k - 1] && iv.hi == diff[mn - k]);
            assert_true(iv.est == (mn % 2 ? diff[mn / 2] : (diff[mn / 2 - 1] + diff[mn / 2]) / 2));
            long long le = 0, ge = 0;
            for (int v = 0; v <= mn; v++) {
                le += v <= u ? cnt[v] : 0;
                ge += v >= u ? cnt[v] : 0;
            }
            assert_true(fabs(iv.p - fmin(1, 2.0 * (le < ge ? le : ge) / all)) < 1e-12);
            assert_true((iv.p <= 0.05) == (iv.lo > 0 || iv.hi < 0));
        }
    }
    struct stats_interval iv;
    assert_int_equal(stats_rank_sum_min_n(0.95), 4);
    assert_int_equal(stats_rank_sum(x, 3, y, 3, 0.95, &iv), STATS_TOO_FEW);  /* C(6, 3) = 20 < 40 */
    assert_int_equal(stats_rank_sum(x, 2, y, 7, 0.95, &iv), STATS_TOO_FEW);  /* C(9, 2) = 36 */
    assert_int_equal(stats_rank_sum(x, 0, y, 12, 0.95, &iv), STATS_TOO_FEW);
    assert_int_equal(stats_rank_sum(x, 4, y, 4, 1.5, &iv), STATS_INVALID);
    x[1] = NAN;
    assert_int_equal(stats_rank_sum(x, 4, y, 4, 0.95, &iv), STATS_INVALID);
}

/* Larger sizes, k and coverage from exact integer counts (python3, the same
 * recurrence in unbounded integers). */
static void rank_sum_golden(void **state)
{
    static const struct { int m, n, k; double coverage; } gold[] = {
        { 40, 30, 435, 0.9509297450108468 },
        { 30, 40, 435, 0.9509297450108468 },
        { 99, 99, 4111, 0.950098923058379 },
    };
    double x[99], y[99];
    fill_distinct(x, 99);
    for (int j = 0; j < 99; j++)
        y[j] = x[j] + 0.5;
    for (size_t g = 0; g < sizeof gold / sizeof gold[0]; g++) {
        struct stats_interval iv;
        assert_int_equal(stats_rank_sum(x, gold[g].m, y, gold[g].n, 0.95, &iv), STATS_OK);
        assert_int_equal(iv.k, gold[g].k);
        assert_true(fabs(iv.coverage - gold[g].coverage) < 1e-12);
    }
}

/* Ties: x = 1 2 2 3 5, y = 2 4 4 6 7 8 give U = 25, sum t^3 - t = 30, variance
 * 30·(12 - 30/110)/12, p = erfc((25 - 15 - 0.5) / sqrt(2·var)) (python3). */
static void rank_sum_ties(void **state)
{
    static const double x[] = { 1, 2, 2, 3, 5 }, y[] = { 2, 4, 4, 6, 7, 8 };
    struct stats_interval iv;
    assert_int_equal(stats_rank_sum(x, 5, y, 6, 0.95, &iv), STATS_OK);
    assert_true(iv.approx);
    assert_true(fabs(iv.p - 0.07934368319771508) < 1e-12);
    assert_true(iv.est == 2.5); /* median of the 30 differences: (2 + 3) / 2 */
    static const double same[] = { 1, 1, 1, 1 };
    assert_int_equal(stats_rank_sum(same, 4, same, 4, 0.95, &iv), STATS_OK);
    assert_true(iv.p == 1 && iv.approx && iv.lo == 0 && iv.hi == 0);
}

/* The shift of y against x: exact when y is x shifted, and an interval that
 * covers the true shift as often as it claims. */
static void shift_recovered(void **state)
{
    double x[20], y[20];
    struct stats_interval iv;
    rng_state = 3;
    for (int i = 0; i < 20; i++) {
        x[i] = rng_normal();
        y[i] = x[i] + 0.1;
    }
    assert_int_equal(stats_rank_sum(x, 20, y, 20, 0.95, &iv), STATS_OK);
    assert_true(fabs(iv.est - 0.1) < 1e-12);
    assert_true(iv.lo < 0.1 && 0.1 < iv.hi);
    assert_int_equal(stats_rank_sum(y, 20, x, 20, 0.95, &iv), STATS_OK);
    assert_true(fabs(iv.est + 0.1) < 1e-12);

    int covered = 0, trials = 2000;
    double coverage = 0;
    for (int t = 0; t < trials; t++) {
        for (int i = 0; i < 10; i++)
            x[i] = run_log(0, 0.05, 0.05);
        for (int j = 0; j < 12; j++)
            y[j] = run_log(-0.05, 0.05, 0.05);
        assert_int_equal(stats_rank_sum(x, 10, y, 12, 0.95, &iv), STATS_OK);
        covered += iv.lo <= -0.05 && -0.05 <= iv.hi;
        coverage = iv.coverage;
    }
    print_message("two samples 10 vs 12: true shift covered in %.1f %% (claimed %.1f %%)\n",
                  100.0 * covered / trials, 100 * coverage);
    assert_true(covered >= (coverage - 0.01) * trials);
}

/* ---- Simulated matrices --------------------------------------------------------- */

enum { ROUNDS = 10, CELLS = 8, TRIALS = 2000 };

/* One matrix of CELLS configs against a shared baseline over ROUNDS rounds;
 * each round's drift is shared by all its runs. effect is cell 0's log
 * ratio. Fills the cells' intervals; returns how many intervals exclude 0. */
static int simulate_matrix(double effect, double sigma, double spike, struct stats_interval *iv)
{
    double d[CELLS][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double drift = 0.05 * rng_normal(), base = run_log(drift, sigma, spike);
        for (int c = 0; c < CELLS; c++)
            d[c][r] = run_log(drift + (c == 0 ? effect : 0), sigma, spike) - base;
    }
    int excluded = 0;
    for (int c = 0; c < CELLS; c++) {
        assert_int_equal(stats_signed_rank(d[c], ROUNDS, 0.95, &iv[c]), STATS_OK);
        excluded += iv[c].lo > 0 || iv[c].hi < 0;
        assert_true((iv[c].p <= 0.05) == (iv[c].lo > 0 || iv[c].hi < 0)); /* continuous: no ties */
    }
    return excluded;
}

static int bh_cells(const struct stats_interval *iv, bool *flag)
{
    double p[CELLS];
    for (int c = 0; c < CELLS; c++)
        p[c] = iv[c].p;
    return stats_bh(p, CELLS, 0.05, flag, NULL);
}

/* Identical configurations: the nominal 5 % per cell, and 5 % of matrices
 * with any flag after BH (±1 point for the Monte-Carlo error, ~0.5 point). */
static void null_matrices(void **state)
{
    struct stats_interval iv[CELLS];
    bool flag[CELLS];
    int cell_flags = 0, any_flag = 0;
    rng_state = 4;
    for (int t = 0; t < TRIALS; t++) {
        cell_flags += simulate_matrix(0, 0.03, 0.05, iv);
        any_flag += bh_cells(iv, flag) > 0;
    }
    double cell_rate = (double)cell_flags / (TRIALS * CELLS), matrix_rate = (double)any_flag / TRIALS;
    print_message("null, %d rounds: %.2f %% of cells flagged, %.2f %% of matrices with a BH flag\n", ROUNDS,
                  100 * cell_rate, 100 * matrix_rate);
    assert_true(cell_rate <= 0.06 && cell_rate >= 0.03);
    assert_true(matrix_rate <= 0.06);

    /* Two samples from the same law. */
    double x[ROUNDS], y[ROUNDS];
    int flags = 0;
    for (int t = 0; t < TRIALS; t++) {
        for (int i = 0; i < ROUNDS; i++) {
            x[i] = run_log(0, 0.03, 0.05) - run_log(0, 0.03, 0.05);
            y[i] = run_log(0, 0.03, 0.05) - run_log(0, 0.03, 0.05);
        }
        struct stats_interval two;
        assert_int_equal(stats_rank_sum(x, ROUNDS, y, ROUNDS, 0.95, &two), STATS_OK);
        flags += two.lo > 0 || two.hi < 0;
    }
    print_message("null, two samples of %d: %.2f %% flagged\n", ROUNDS, 100.0 * flags / TRIALS);
    assert_true(flags <= 0.06 * TRIALS && flags >= 0.03 * TRIALS);
}

/* A 10 % effect under 3 % log-normal noise (no spikes: a 20 % spike in one
 * run of 20 is noise of another size), among 7 null cells, is found after
 * BH: all ten rounds must agree nearly always, as BH asks p <= 0.05 / 8. */
static void power(void **state)
{
    struct stats_interval iv[CELLS];
    bool flag[CELLS];
    int found = 0;
    rng_state = 5;
    for (int t = 0; t < TRIALS; t++) {
        bool slower = t % 2 == 0;
        simulate_matrix(log(slower ? 1.10 : 0.90), 0.03, 0, iv);
        bh_cells(iv, flag);
        enum stats_verdict v = stats_verdict(exp(iv[0].lo), exp(iv[0].hi), flag[0], 0.02);
        found += v == (slower ? STATS_SLOWER : STATS_FASTER);
    }
    print_message("power, 10 %% effect, 3 %% noise, %d rounds: %.2f %% found\n", ROUNDS, 100.0 * found / TRIALS);
    assert_true(found >= 0.95 * TRIALS);
}

/* ---- Benjamini–Hochberg, verdicts, helpers -------------------------------------- */

static void bh_known(void **state)
{
    /* 6 p-values (the NaN is no test); thresholds i·0.05/6 = .0083 .0167 .025
     * .0333 .0417 .05. Sorted: .005 .01 .03 .04 .041 .2; the largest rank
     * under its threshold is 5 (.041 <= .0417), so ranks 1..5 are flagged,
     * .03 and .04 too although they exceed their own thresholds. */
    static const double p[] = { 0.01, 0.04, 0.03, 0.005, 0.2, NAN, 0.041 };
    static const bool want[] = { true, true, true, true, false, false, true };
    bool flag[7];
    double cut;
    assert_int_equal(stats_bh(p, 7, 0.05, flag, &cut), 5);
    assert_memory_equal(flag, want, sizeof want);
    assert_true(fabs(cut - 5 * 0.05 / 6) < 1e-15);

    static const double none[] = { 0.5, 0.03 }; /* .03 > .025, .5 > .05 */
    assert_int_equal(stats_bh(none, 2, 0.05, flag, &cut), 0);
    assert_true(!flag[0] && !flag[1] && cut == 0);

    static const double tied[] = { 0.02, 0.9, 0.02 }; /* the pair has rank 2: .02 <= .0333 */
    assert_int_equal(stats_bh(tied, 3, 0.05, flag, NULL), 2);
    assert_true(flag[0] && !flag[1] && flag[2]);

    static const double untested[] = { NAN, NAN };
    assert_int_equal(stats_bh(untested, 2, 0.05, flag, &cut), 0);
    assert_true(!flag[0] && !flag[1] && cut == 0);
}

static void verdicts(void **state)
{
    static const struct { double lo, hi; bool flagged; enum stats_verdict v; } cases[] = {
        { 0.95, 0.97, true, STATS_FASTER },
        { 1.01, 1.05, true, STATS_SLOWER },
        { 0.95, 0.97, false, STATS_INCONCLUSIVE }, /* excludes 1 but fails BH */
        { 0.99, 1.01, false, STATS_SAME },
        { 0.98, 1.02, false, STATS_SAME },         /* the margin is inclusive */
        { 0.985, 0.995, true, STATS_FASTER },      /* a passed difference beats "same" */
        { 0.985, 0.995, false, STATS_SAME },
        { 0.99, 1.01, true, STATS_SAME },          /* flagged, yet the interval holds 1 */
        { 0.97, 1.03, false, STATS_INCONCLUSIVE },
        { 1.001, 1.03, true, STATS_SLOWER },
        { NAN, NAN, true, STATS_INCONCLUSIVE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(stats_verdict(cases[i].lo, cases[i].hi, cases[i].flagged, 0.02), cases[i].v);
    assert_string_equal(stats_verdict_name(STATS_FASTER), "faster");
    assert_string_equal(stats_verdict_name(STATS_SLOWER), "slower");
    assert_string_equal(stats_verdict_name(STATS_SAME), "same");
    assert_string_equal(stats_verdict_name(STATS_INCONCLUSIVE), "inconclusive");
    assert_string_equal(stats_status_name(STATS_TOO_FEW), "too few values for an interval at this confidence");
    assert_string_not_equal(stats_status_name(STATS_INVALID), stats_status_name(STATS_NOMEM));
}

static void helpers(void **state)
{
    double v[] = { 3, NAN, 1, 2, NAN, 0.5 };
    assert_int_equal(stats_sort(v, 6), 4);
    assert_true(v[0] == 0.5 && v[1] == 1 && v[2] == 2 && v[3] == 3 && isnan(v[4]) && isnan(v[5]));
    assert_true(stats_median(v, 4) == 1.5 && stats_median(v, 3) == 1 && isnan(stats_median(v, 0)));
    struct stats_interval iv = { .est = 0.1, .lo = 0.05, .hi = 0.2 };
    assert_true(fabs(stats_half_width(&iv) - 0.1) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_k),
        cmocka_unit_test(worked_example),
        cmocka_unit_test(signed_rank_brute),
        cmocka_unit_test(ties_conservative),
        cmocka_unit_test(rank_sum_brute),
        cmocka_unit_test(rank_sum_golden),
        cmocka_unit_test(rank_sum_ties),
        cmocka_unit_test(shift_recovered),
        cmocka_unit_test(null_matrices),
        cmocka_unit_test(power),
        cmocka_unit_test(bh_known),
        cmocka_unit_test(verdicts),
        cmocka_unit_test(helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
