/* matrix_compare.c — `hakmem matrix --compare A.json B.json`: every configuration's time per op in two matrices (two builds, two machines), with the same statistics as one matrix, between files that share no rounds. */
#include "matrix.h"
#include "verdict.h"
#include <math.h>
#include <string.h>

/* The ln of the times of configuration c on workload w, over its good runs;
 * with ref >= 0, of its ratio to configuration ref in the same round. */
static int logs(const struct mx_matrix *m, int w, int c, int ref, double *out)
{
    int n = 0;
    for (int r = 0; r < m->rounds[w]; r++) {
        const struct mx_sample *x = &m->sample[w][c][r], *y = ref >= 0 ? &m->sample[w][ref][r] : NULL;
        if (x->ok && x->ns > 0 && (!y || (y->ok && y->ns > 0)))
            out[n++] = log(x->ns) - (y ? log(y->ns) : 0);
    }
    return n;
}

static int find_config(const struct mx_matrix *m, const char *name)
{
    for (int c = 0; c < m->nconfigs; c++)
        if (strcmp(m->config[c].name, name) == 0)
            return c;
    return -1;
}

static int find_workload(const struct mx_matrix *m, const char *name)
{
    for (int w = 0; w < m->nworkloads; w++)
        if (strcmp(m->workload[w], name) == 0)
            return w;
    return -1;
}

/* The peer both matrices ran that hakmem's times are taken against: glibc
 * if both have it, else the first one they share; -1 (in a) for none. */
static int control_of(const struct mx_matrix *a, const struct mx_matrix *b)
{
    int first = -1;
    for (int c = 0; c < a->nconfigs; c++) {
        if (a->config[c].kind != MX_PEER || find_config(b, a->config[c].name) < 0)
            continue;
        if (strcmp(a->config[c].name, "glibc") == 0)
            return c;
        if (first < 0)
            first = c;
    }
    return first;
}

struct cell {
    int w, c;                  /* in a */
    bool against;              /* measured against the control peer */
    int na, nb;
    double ma, mb;             /* medians of the times (ns) */
    int status;                /* of stats_rank_sum */
    struct stats_interval iv;
    bool flag;
};

static double median_ns(const struct mx_matrix *m, int w, int c)
{
    double v[MX_MAX_RUNS];
    int n = 0;
    for (int r = 0; r < m->rounds[w]; r++)
        if (m->sample[w][c][r].ok)
            v[n++] = m->sample[w][c][r].ns;
    n = stats_sort(v, n);
    return stats_median(v, n);
}

int _hak_matrix_compare(FILE *f, const struct mx_matrix *a, const struct mx_matrix *b)
{
    static struct cell cells[MX_MAX_WORKLOADS * MX_MAX_CONFIGS];
    int n = 0, ctl = control_of(a, b);
    for (int w = 0; w < a->nworkloads; w++) {
        int wb = find_workload(b, a->workload[w]);
        if (wb < 0)
            continue;
        for (int c = 0; c < a->nconfigs; c++) {
            int cb = find_config(b, a->config[c].name);
            if (cb < 0)
                continue;
            struct cell *x = &cells[n++];
            double da[MX_MAX_RUNS], db[MX_MAX_RUNS];
            *x = (struct cell){ .w = w, .c = c, .against = ctl >= 0 && a->config[c].kind == MX_HAKMEM };
            int ra = x->against ? ctl : -1, rb = x->against ? find_config(b, a->config[ctl].name) : -1;
            x->na = logs(a, w, c, ra, da);
            x->nb = logs(b, wb, cb, rb, db);
            x->ma = median_ns(a, w, c);
            x->mb = median_ns(b, wb, cb);
            x->status = stats_rank_sum(da, x->na, db, x->nb, 0.95, &x->iv);
        }
    }
    static double p[MX_MAX_WORKLOADS * MX_MAX_CONFIGS];
    static bool flag[MX_MAX_WORKLOADS * MX_MAX_CONFIGS];
    for (int i = 0; i < n; i++)
        p[i] = cells[i].status == STATS_OK ? cells[i].iv.p : NAN;
    double cut;
    int found = stats_bh(p, n, MX_FDR, flag, &cut), slower = 0;

    fprintf(f, "hakmem matrix --compare\nA: %s\nB: %s\n", a->info, b->info);
    if (ctl >= 0)
        fprintf(f, "hakmem's configurations are timed against %s, run in the same rounds in each file, so that a\n"
                   "change of machine or load that falls on both cancels; peers are compared as measured.\n",
                a->config[ctl].name);
    else
        fprintf(f, "No peer ran in both: times are compared as measured, and a change of machine or load between\n"
                   "the two sessions is not in the intervals.\n");
    fprintf(f, "\n%-14s %-18s %11s %11s  %-28s %9s  %s\n", "workload", "configuration", "A median", "B median",
            "B against A [95% CI]", "p", "verdict");
    for (int i = 0; i < n; i++) {
        struct cell *x = &cells[i];
        char ta[32], tb[32], iv[64], pv[32];
        const char *verdict;
        snprintf(ta, sizeof ta, "%.4g us", x->ma / 1e3);
        snprintf(tb, sizeof tb, "%.4g us", x->mb / 1e3);
        if (x->status == STATS_OK) {
            enum stats_verdict v = stats_verdict(exp(x->iv.lo), exp(x->iv.hi), flag[i], MX_SAME);
            snprintf(iv, sizeof iv, "%+.1f%% [%+.1f, %+.1f]%s", 100 * (exp(x->iv.est) - 1), 100 * (exp(x->iv.lo) - 1),
                     100 * (exp(x->iv.hi) - 1), x->against ? "" : " raw");
            snprintf(pv, sizeof pv, "%.4f", x->iv.p);
            verdict = stats_verdict_name(v);
            slower += v == STATS_SLOWER && a->config[x->c].kind == MX_HAKMEM;
        } else {
            snprintf(iv, sizeof iv, "n/a (%d and %d runs)", x->na, x->nb);
            snprintf(pv, sizeof pv, "n/a");
            verdict = stats_status_name(x->status);
        }
        fprintf(f, "%-14s %-18s %11s %11s  %-28s %9s  %s\n", a->workload[x->w], a->config[x->c].name, ta, tb, iv, pv,
                verdict);
    }
    fprintf(f, "\nB against A: the Hodges-Lehmann shift of B's runs from A's, as %% change of time, with its exact\n"
               "Mann-Whitney 95%% interval (\"raw\": of the times themselves). Verdicts as in a matrix: faster or\n"
               "slower when the interval excludes 0 and the cell passes the Benjamini-Hochberg check at %.0f%%\n"
               "over the %d cells (%d passed, p <= %.4g); same within +/-%.0f%%.\n",
            100 * MX_FDR, n, found, cut, 100 * MX_SAME);
    if (!n)
        fprintf(f, "No workload and configuration is in both files.\n");
    return slower;
}
