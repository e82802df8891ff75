/* verdict.c — Hodges–Lehmann estimates with exact signed-rank and rank-sum intervals, Benjamini–Hochberg and verdicts for comparing benchmark runs; contracts in verdict.h. */
#include "verdict.h"
#include <math.h>
#include <stdlib.h>

/* ---- Helpers ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return (isnan(x) != 0) - (isnan(y) != 0);
    return (x > y) - (x < y);
}

int stats_sort(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = 0;
    while (k < n && !isnan(v[k]))
        k++;
    return k;
}

double stats_median(const double *v, int n)
{
    if (n <= 0)
        return NAN;
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool all_finite(const double *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

static bool valid_confidence(double confidence)
{
    return confidence > 0 && confidence < 1;
}

/* The tail probability an interval may leave on each side. Exact tails are
 * dyadic fractions; the relative slack keeps one that equals (1 - c) / 2 on
 * the accepted side although c arrives rounded from decimal. */
static double tail_allowed(double confidence)
{
    return (1 - confidence) / 2 * (1 + 1e-9);
}

/* dist[0..total] := P(S = s), S = sum of w[i]·B[i] over independent fair
 * coins B[i]; the w[i] are positive and sum to total. Halving at each step
 * keeps it a probability (2^-n does not overflow, and stays exact in
 * binary while the counts fit in 53 bits). */
static void coin_sum_dist(const int *w, int count, double *dist, int total)
{
    dist[0] = 1;
    for (int s = 1; s <= total; s++)
        dist[s] = 0;
    int top = 0;
    for (int i = 0; i < count; i++) {
        top += w[i];
        for (int s = top; s >= w[i]; s--)
            dist[s] = 0.5 * dist[s] + 0.5 * dist[s - w[i]];
        for (int s = w[i] - 1; s >= 0; s--)
            dist[s] *= 0.5;
    }
}

/* The largest k with P(S <= k - 1) <= the allowed tail, for dist[0..total];
 * *tail gets P(S <= k - 1). 0 means no interval at this confidence. */
static int lower_k(const double *dist, int total, double confidence, double *tail)
{
    double allowed = tail_allowed(confidence), cum = 0;
    int k = 0;
    *tail = 0;
    for (int s = 0; s <= total && cum + dist[s] <= allowed; s++) {
        cum += dist[s];
        k = s + 1;
        *tail = cum;
    }
    return k;
}

static double cdf(const double *dist, int s)
{
    double cum = 0;
    for (int i = 0; i <= s; i++)
        cum += dist[i];
    return cum;
}

/* ---- Paired: Wilcoxon signed rank ------------------------------------------ */

int stats_signed_rank_min_n(double confidence)
{
    if (!valid_confidence(confidence))
        return STATS_INVALID;
    double allowed = tail_allowed(confidence), p0 = 1; /* P(W+ = 0) = 2^-n */
    int n = 0;
    while (p0 > allowed) {
        p0 /= 2;
        n++;
    }
    return n;
}

int stats_signed_rank(const double *d, int n, double confidence, struct stats_interval *out)
{
    if (!valid_confidence(confidence) || n < 0 || n > STATS_MAX_N || !all_finite(d, n))
        return STATS_INVALID;
    if (n < stats_signed_rank_min_n(confidence))
        return STATS_TOO_FEW;
    int walsh = n * (n + 1) / 2, twice = n * (n + 1); /* doubled midranks sum to n(n+1) */
    double *a = malloc((size_t)walsh * sizeof *a);
    double *dist = malloc((size_t)(twice + 1) * sizeof *dist);
    int *w = malloc((size_t)n * sizeof *w);
    if (!a || !dist || !w) {
        free(a);
        free(dist);
        free(w);
        return STATS_NOMEM;
    }

    int c = 0;
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++)
            a[c++] = (d[i] + d[j]) / 2;
    stats_sort(a, walsh);

    /* k from W+ without ties: ranks 1..n. */
    for (int i = 0; i < n; i++)
        w[i] = i + 1;
    coin_sum_dist(w, n, dist, walsh);
    double tail;
    int k = lower_k(dist, walsh, confidence, &tail);

    /* p: doubled midranks of |d| (integers), zeros ranked but unsigned. */
    int count = 0, total = 0, obs = 0;
    for (int i = 0; i < n; i++) {
        if (d[i] == 0)
            continue;
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            less += fabs(d[j]) < fabs(d[i]);
            equal += fabs(d[j]) == fabs(d[i]);
        }
        w[count] = 2 * less + equal + 1; /* ranks less+1 .. less+equal, doubled mean */
        total += w[count];
        if (d[i] > 0)
            obs += w[count];
        count++;
    }
    coin_sum_dist(w, count, dist, total);
    /* S and total - S have the same distribution (flip every sign). */
    double side = cdf(dist, obs < total - obs ? obs : total - obs);

    out->est = stats_median(a, walsh);
    out->lo = a[k - 1];
    out->hi = a[walsh - k];
    out->coverage = 1 - 2 * tail;
    out->p = fmin(1, 2 * side);
    out->approx = false;
    out->k = k;
    out->n = n;
    free(a);
    free(dist);
    free(w);
    return STATS_OK;
}

/* ---- Two samples: Mann–Whitney rank sum ------------------------------------ */

/* dist[0..cap] := P(U = u) for samples of sizes m and n without ties,
 * cap <= m·n/2 (the lower half; U and m·n - U have the same distribution).
 * Recurrence on the largest of i + j values: it is an x with probability
 * i / (i + j), and then exceeds all j y's. rows holds (n + 1)·(cap + 1)
 * doubles: row j is the distribution for (i, j) as i grows. All terms are
 * positive, so no cancellation (unlike the product formula). */
static void rank_sum_dist(int m, int n, int cap, double *rows, double *dist)
{
    size_t len = (size_t)cap + 1;
    for (int j = 0; j <= n; j++) {
        double *r = rows + (size_t)j * len;
        r[0] = 1; /* i = 0: U = 0 */
        for (int u = 1; u <= cap; u++)
            r[u] = 0;
    }
    for (int i = 1; i <= m; i++)
        for (int j = 1; j <= n; j++) {
            double *r = rows + (size_t)j * len, *left = r - len;
            double px = (double)i / (i + j), py = (double)j / (i + j);
            for (int u = cap; u >= 0; u--)
                r[u] = px * (u >= j ? r[u - j] : 0) + py * left[u];
        }
    for (int u = 0; u <= cap; u++)
        dist[u] = rows[(size_t)n * len + (size_t)u];
}

int stats_rank_sum_min_n(double confidence)
{
    if (!valid_confidence(confidence))
        return STATS_INVALID;
    double allowed = tail_allowed(confidence), p0 = 1; /* 1 / C(2n, n) */
    int n = 0;
    while (p0 > allowed) {
        n++;
        p0 *= (double)n * n / ((2.0 * n) * (2.0 * n - 1));
    }
    return n;
}

int stats_rank_sum(const double *x, int m, const double *y, int n, double confidence,
                   struct stats_interval *out)
{
    if (!valid_confidence(confidence) || m < 0 || n < 0 || m > STATS_MAX_N || n > STATS_MAX_N ||
        !all_finite(x, m) || !all_finite(y, n))
        return STATS_INVALID;
    if (m == 0 || n == 0)
        return STATS_TOO_FEW;

    int mn = m * n, cap = mn / 2;
    int small = m < n ? m : n, large = m < n ? n : m; /* U's law is symmetric in m and n */
    double *diff = malloc((size_t)mn * sizeof *diff);
    double *dist = malloc((size_t)(cap + 1) * sizeof *dist);
    double *rows = malloc((size_t)(small + 1) * (size_t)(cap + 1) * sizeof *rows);
    if (!diff || !dist || !rows) {
        free(diff);
        free(dist);
        free(rows);
        return STATS_NOMEM;
    }

    double u = 0; /* pairs with y > x; ties count half */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            diff[i * n + j] = y[j] - x[i];
            u += y[j] > x[i] ? 1 : y[j] == x[i] ? 0.5 : 0;
        }
    stats_sort(diff, mn);
    rank_sum_dist(large, small, cap, rows, dist);
    double tail;
    int k = lower_k(dist, cap, confidence, &tail);
    int status = k ? STATS_OK : STATS_TOO_FEW; /* k = 0: 1 / C(m + n, m) is above the tail */
    if (status != STATS_OK)
        goto done;

    /* Ties in the pooled values: sum of t^3 - t over tie groups, as each of
     * a group's t members adds t^2 - 1. */
    double ties = 0;
    for (int i = 0; i < m + n; i++) {
        double v = i < m ? x[i] : y[i - m];
        int equal = 0;
        for (int j = 0; j < m + n; j++)
            equal += (j < m ? x[j] : y[j - m]) == v;
        ties += (double)equal * equal - 1;
    }
    if (ties == 0) {
        double low = fmin(u, mn - u); /* an integer without ties */
        out->p = fmin(1, 2 * cdf(dist, (int)low));
        out->approx = false;
    } else {
        int N = m + n;
        double var = mn / 12.0 * ((N + 1) - ties / ((double)N * (N - 1)));
        double z = fmax(0, fabs(u - mn / 2.0) - 0.5); /* continuity correction */
        out->p = var > 0 ? fmin(1, erfc(z / sqrt(2 * var))) : 1;
        out->approx = true;
    }
    out->est = stats_median(diff, mn);
    out->lo = diff[k - 1];
    out->hi = diff[mn - k];
    out->coverage = 1 - 2 * tail;
    out->k = k;
    out->n = m + n;
done:
    free(diff);
    free(dist);
    free(rows);
    return status;
}

/* ---- Using the results ------------------------------------------------------ */

double stats_half_width(const struct stats_interval *iv)
{
    return fmax(iv->hi - iv->est, iv->est - iv->lo);
}

int stats_bh(const double *p, int m, double q, bool *flag, double *cutoff)
{
    int tested = 0;
    for (int i = 0; i < m; i++)
        tested += !isnan(p[i]);
    /* The largest qualifying rank ends a group of equal p: its rank is the
     * number of p-values <= it. */
    int top = 0;
    for (int i = 0; i < m; i++) {
        if (isnan(p[i]))
            continue;
        int rank = 0;
        for (int j = 0; j < m; j++)
            rank += p[j] <= p[i];
        if (p[i] <= rank * q / tested && rank > top)
            top = rank;
    }
    double cut = top ? top * q / tested : 0;
    int flagged = 0;
    for (int i = 0; i < m; i++) {
        flag[i] = top && p[i] <= cut;
        flagged += flag[i];
    }
    if (cutoff)
        *cutoff = cut;
    return flagged;
}

enum stats_verdict stats_verdict(double lo, double hi, bool flagged, double delta)
{
    if (flagged && hi < 1)
        return STATS_FASTER;
    if (flagged && lo > 1)
        return STATS_SLOWER;
    if (lo >= 1 - delta && hi <= 1 + delta)
        return STATS_SAME;
    return STATS_INCONCLUSIVE;
}

const char *stats_verdict_name(enum stats_verdict v)
{
    switch (v) {
    case STATS_FASTER: return "faster";
    case STATS_SLOWER: return "slower";
    case STATS_SAME: return "same";
    case STATS_INCONCLUSIVE: return "inconclusive";
    }
    return "?";
}

const char *stats_status_name(int status)
{
    switch (status) {
    case STATS_OK: return "ok";
    case STATS_TOO_FEW: return "too few values for an interval at this confidence";
    case STATS_INVALID: return "invalid input (NaN, infinity, too many values or confidence outside (0, 1))";
    case STATS_NOMEM: return "out of memory";
    }
    return "unknown status";
}
