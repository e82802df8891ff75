/* matrix_out.c — the matrix's outputs: the table and the attribution lines on stdout, matrix.csv, matrix.json and the gnuplot data and script of matrix.svg. */
#include "matrix.h"
#include <math.h>
#include <string.h>

/* ---- Numbers as text ----------------------------------------------------------- */

/* ns as "812.3 ns", "223.8 us", "30.21 ms"; NAN as "n/a". */
static const char *fmt_time(char *buf, size_t len, double ns)
{
    if (isnan(ns))
        snprintf(buf, len, "n/a");
    else if (ns < 1e3)
        snprintf(buf, len, "%.1f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, len, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", ns / 1e9);
    return buf;
}

/* A count or rate with a k/M/G suffix from 10,000 up; small ones with
 * up to 3 significant digits. */
static const char *fmt_num(char *buf, size_t len, double v)
{
    double a = fabs(v);
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else if (a >= 1e9)
        snprintf(buf, len, "%.2fG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (a >= 100 || v == 0)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.3g", v);
    return buf;
}

const char *const _hak_matrix_verdict_name[] = { [MX_V_NONE] = "", [MX_V_FASTER] = "faster",
                                                [MX_V_SLOWER] = "slower", [MX_V_SAME] = "same",
                                                [MX_V_INCONCLUSIVE] = "inconclusive", [MX_V_FEW] = "too few runs" };

/* "+5.2% [+3.1, +7.0]": a ratio and its interval as percentages of change. */
static const char *fmt_interval(char *buf, size_t len, const struct mx_summary *s)
{
    if (isnan(s->ratio))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%+.1f%% [%+.1f, %+.1f]", 100 * (s->ratio - 1), 100 * (s->lo - 1), 100 * (s->hi - 1));
    return buf;
}

/* An interval that excludes 1 in a cell that failed the false-discovery
 * check: a possible difference the matrix cannot claim. */
static bool unchecked(const struct mx_summary *s)
{
    return s->verdict == MX_V_INCONCLUSIVE && (s->lo > 1 || s->hi < 1);
}

/* The configuration deltas are taken against: baseline, or -1. */
static int baseline_of(const struct mx_matrix *m)
{
    for (int x = 0; x < m->nconfigs; x++)
        if (m->config[x].kind == MX_HAKMEM && strcmp(m->config[x].name, "baseline") == 0)
            return x;
    return -1;
}

/* ---- Activity ---------------------------------------------------------------------- */

static const char *const mode_name[MX_NMODES] = { "off", "learn", "frozen", "canary" };

/* One line of what hakmem's subsystems did on a workload (medians of the runs). */
static void activity_line(FILE *f, const struct mx_summary *s)
{
    const double *a = s->act;
    char t[8][32];
    double refills = 0;
    for (int k = MX_A_refill_local; k <= MX_A_refill_new_ss; k++)
        refills += a[k];
    fprintf(f, "BigCache %s lookups, %s hits, %s evictions; ", fmt_num(t[0], 32, a[MX_A_bc_hits] + a[MX_A_bc_misses]),
            fmt_num(t[1], 32, a[MX_A_bc_hits]), fmt_num(t[2], 32, a[MX_A_bc_evictions]));
    int mode = isnan(s->mode) ? -1 : (int)s->mode;
    fprintf(f, "ELO %s windows, %s matches, threshold %s, %s; ", fmt_num(t[0], 32, a[MX_A_elo_windows]),
            fmt_num(t[1], 32, a[MX_A_elo_matches]),
            isnan(a[MX_A_elo_threshold]) ? "n/a" : (snprintf(t[2], 32, "%.2f MiB", a[MX_A_elo_threshold] / 1048576), t[2]),
            mode >= 0 && mode < MX_NMODES ? mode_name[mode] : "n/a");
    fprintf(f, "madvise %s ranges queued, %s batches, %s calls; ", fmt_num(t[0], 32, a[MX_A_madv_queued]),
            fmt_num(t[1], 32, a[MX_A_madv_batches]), fmt_num(t[2], 32, a[MX_A_os_madvise]));
    fprintf(f, "%s arena, %s huge allocations; %s slab refills (%s new SuperSlabs)\n",
            fmt_num(t[0], 32, a[MX_A_arena_allocs]), fmt_num(t[1], 32, a[MX_A_huge_allocs]), fmt_num(t[2], 32, refills),
            fmt_num(t[3], 32, a[MX_A_refill_new_ss]));
}

/* Whether two activities tell a different story: a subsystem at work in
 * one and not the other, another mode or threshold, or a count of system
 * calls, lookups or allocations apart by more than half. */
static bool activity_differs(const struct mx_summary *x, const struct mx_summary *y)
{
    char why[64];
    for (int k = 0; k < MX_NSUB; k++)
        if (_hak_matrix_exercised(k, x->act, why, sizeof why) != _hak_matrix_exercised(k, y->act, why, sizeof why))
            return true;
    /* The threshold and mode matter where blocks reach the large tiers. */
    bool large = x->act[MX_A_arena_allocs] + x->act[MX_A_huge_allocs] + y->act[MX_A_arena_allocs] +
                     y->act[MX_A_huge_allocs] > 0;
    if (large && (x->mode != y->mode || x->act[MX_A_elo_threshold] != y->act[MX_A_elo_threshold]))
        return true;
    static const int counts[] = { MX_A_bc_hits, MX_A_bc_misses, MX_A_madv_batches, MX_A_os_madvise, MX_A_os_mmap,
                                  MX_A_os_munmap, MX_A_arena_allocs, MX_A_huge_allocs };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        double a = x->act[counts[i]], b = y->act[counts[i]];
        if (fmax(a, b) >= 10 && fmax(a, b) > 1.5 * fmin(a, b))
            return true;
    }
    return false;
}

/* ---- Table ------------------------------------------------------------------------ */

void _hak_matrix_print_table(FILE *f, const struct mx_matrix *m)
{
    int ref = baseline_of(m);
    fprintf(f, "%s\n", m->info);
    if (m->note[0])
        fprintf(f, "%s\n", m->note);
    for (int w = 0; w < m->nworkloads; w++) {
        fprintf(f, "\n%s — op: %s\n", m->workload[w], m->what[w]);
        fprintf(f, "%-18s %10s %10s %10s %10s %9s %9s %9s %8s %9s %10s  %-26s %-13s %5s\n", "configuration",
                "median/op", "cpu/op", "p95/op", "p99/op", "ops/s", "faults/op", "peak RSS", "mmap/op", "munmap/op", "madvise/op",
                "time vs baseline [95% CI]", "verdict", "runs");
        for (int x = 0; x < m->nconfigs; x++) {
            const struct mx_summary *s = &m->sum[w][x];
            char a[32], b[32], c[32], d[32], e[32], g[32], h[32], i[32], j[32], rss[32], iv[64];
            if (isnan(s->rss_kib))
                snprintf(rss, sizeof rss, "n/a");
            else
                snprintf(rss, sizeof rss, "%.1f MiB", s->rss_kib / 1024);
            char verdict[32];
            if (x == ref)
                snprintf(iv, sizeof iv, "(ref)");
            else
                fmt_interval(iv, sizeof iv, s);
            snprintf(verdict, sizeof verdict, "%s%s", _hak_matrix_verdict_name[s->verdict], unchecked(s) ? "*" : "");
            fprintf(f, "%-18s %10s %10s %10s %10s %9s %9s %9s %8s %9s %10s  %-26s %-13s %2d/%d\n",
                    m->config[x].name, fmt_time(a, sizeof a, s->ns), fmt_time(j, sizeof j, s->cpu_ns),
                    fmt_time(b, sizeof b, s->p95), fmt_time(c, sizeof c, s->p99),
                    fmt_num(d, sizeof d, s->ops_per_s), fmt_num(e, sizeof e, s->faults), rss,
                    fmt_num(g, sizeof g, s->sys[MX_MMAP]), fmt_num(h, sizeof h, s->sys[MX_MUNMAP]),
                    fmt_num(i, sizeof i, s->sys[MX_MADVISE]), iv, verdict, s->n,
                    m->rounds[w]);
        }
        if (m->state_note[w][0])
            fprintf(f, "  frozen profiles: %s\n", m->state_note[w]);
        int phased = 0;
        for (int x = 0; x < m->nconfigs; x++) {
            const struct mx_summary *s = &m->sum[w][x];
            if (isnan(s->phase_ns[0]))
                continue;
            char a[32], b[32];
            fprintf(f, "%s %s %s / %s", phased % 4 ? ";" : phased ? "\n   " : "  per phase (median/op, phase 1 / 2):",
                    m->config[x].name, fmt_time(a, sizeof a, s->phase_ns[0]), fmt_time(b, sizeof b, s->phase_ns[1]));
            phased++;
        }
        if (phased)
            fprintf(f, "\n");
        if (ref < 0 || !m->sum[w][ref].n)
            continue;
        fprintf(f, "  activity of %s: ", m->config[ref].name);
        activity_line(f, &m->sum[w][ref]);
        for (int x = 0; x < m->nconfigs; x++)
            if (x != ref && m->config[x].kind == MX_HAKMEM && m->sum[w][x].n &&
                activity_differs(&m->sum[w][x], &m->sum[w][ref])) {
                fprintf(f, "  activity of %s: ", m->config[x].name);
                activity_line(f, &m->sum[w][x]);
            }
    }
    fprintf(f, "\nmedian/p95/p99: time per op (the median over the runs of each run's figure); ops/s = 1 s / median.\n"
               "cpu/op: the process's user + system CPU time over the ops it did (warm-up and start-up included).\n"
               "faults/op: minor page faults per op; peak RSS: the process's maximum resident set.\n"
               "mmap/munmap/madvise per op: calls in the steady state (a full run's minus a short run's, per op\n"
               "  added), from hakmem's counters, or for peers from strace -c -f (n/a without strace).\n"
               "time vs baseline: the runs are paired by round; the Hodges-Lehmann estimate of the time ratio and\n"
               "  its exact Wilcoxon signed-rank 95%% interval, as %% change (needs %d rounds). verdict: faster or\n"
               "  slower when the interval excludes 1 and the cell passes the Benjamini-Hochberg check at %.0f%%\n"
               "  over the whole matrix; same when the interval lies within 1 +/- %.0f%%; else inconclusive\n"
               "  (inconclusive*: the interval excludes 1 but the cell fails the false-discovery check; more\n"
               "  rounds give smaller p-values: at least 2^(1-rounds)).\n"
               "activity: what hakmem's subsystems did in a whole run (median of the runs), for baseline and for\n"
               "  each profile whose activity differs from it.\n",
            MX_MIN_PAIRS, 100 * MX_FDR, 100 * MX_SAME);
    fprintf(f, "%d cells with an interval; %d passed the false-discovery check (p <= %.4g).\n", m->cells,
            m->discoveries, m->bh_cut);
    for (int x = 0; x < m->nconfigs; x++) {
        if (!m->config[x].sentinel)
            continue;
        int flagged = 0, judged = 0;
        for (int w = 0; w < m->nworkloads; w++) {
            int v = m->sum[w][x].verdict;
            flagged += v == MX_V_FASTER || v == MX_V_SLOWER;
            judged += v != MX_V_FEW && v != MX_V_NONE;
        }
        fprintf(f, "A/A check: %s, baseline under a second name, came out faster or slower on %d of %d workloads "
                   "(each a false discovery).\n", m->config[x].name, flagged, judged);
    }
}

/* ---- Attribution ------------------------------------------------------------------ */

/* What configuration x did against baseline on workload w, for its line. */
static void claim(FILE *f, const struct mx_matrix *m, int w, int x, int base)
{
    const struct mx_summary *s = &m->sum[w][x], *b = &m->sum[w][base];
    char t[64], u[32];
    fprintf(f, " %s %s", m->workload[w], fmt_interval(t, sizeof t, s));
    if (!isnan(s->faults) && !isnan(b->faults) && fabs(s->faults - b->faults) >= 0.5)
        fprintf(f, ", %s%s faults/op", s->faults >= b->faults ? "+" : "", fmt_num(u, sizeof u, s->faults - b->faults));
    for (int k = 0; k < MX_NSYS; k++)
        if (fabs(s->sys[k] - b->sys[k]) >= 0.5)
            fprintf(f, ", %s%s %s/op", s->sys[k] >= b->sys[k] ? "+" : "", fmt_num(u, sizeof u, s->sys[k] - b->sys[k]),
                    _hak_matrix_sys_name[k]);
}

/* "; threshold 2.00 MiB against baseline's 2.25 MiB" when x ended on
 * another mmap threshold than baseline on workload w, else "": what moves
 * a workload's large blocks between the arena and mappings whether or not
 * learning ran. */
static const char *threshold_note(const struct mx_matrix *m, int w, int x, int base)
{
    static char buf[96];
    double a = m->sum[w][x].act[MX_A_elo_threshold], b = m->sum[w][base].act[MX_A_elo_threshold];
    if (isnan(a) || isnan(b) || a == b)
        return "";
    snprintf(buf, sizeof buf, "; threshold %.2f MiB against baseline's %.2f MiB", a / 1048576, b / 1048576);
    return buf;
}

void _hak_matrix_print_attribution(FILE *f, const struct mx_matrix *m)
{
    int base = baseline_of(m);
    fprintf(f, "\nAttribution: what each profile changed against baseline (a difference only where its verdict is\n"
               "faster or slower; a subsystem that did nothing in baseline's runs of a workload is not exercised):\n");
    if (base < 0) {
        fprintf(f, "  n/a: no baseline profile in the matrix\n");
        return;
    }
    int nprofiles = 0;
    for (int x = 0; x < m->nconfigs; x++) {
        if (m->config[x].kind != MX_HAKMEM || x == base)
            continue;
        nprofiles++;
        fprintf(f, "  %s (%s):", m->config[x].name, m->config[x].label[0] ? m->config[x].label : "no overrides");
        unsigned subs = _hak_matrix_changed_subsystems(m->config[x].label, m->config[base].label);
        /* Per workload: whether the subsystems it switches did anything in
         * baseline (a profile of options outside them always did). */
        char why[MX_MAX_WORKLOADS][128];
        int idle[MX_MAX_WORKLOADS];
        for (int w = 0; w < m->nworkloads; w++) {
            idle[w] = !(subs & (1u << MX_NSUB)) && subs != 0;
            why[w][0] = 0;
            for (int k = 0; k < MX_NSUB; k++) {
                char one[64];
                if (!(subs & (1u << k)))
                    continue;
                int e = _hak_matrix_exercised(k, m->sum[w][base].act, one, sizeof one);
                idle[w] = idle[w] && e == 0;
                size_t used = strlen(why[w]);
                snprintf(why[w] + used, sizeof why[w] - used, "%s%s", used ? ", " : "", one);
            }
        }
        fprintf(f, "\n");
        /* One line per verdict; a verdict on a workload where nothing the
         * profile switches was at work is no finding about it, unless the
         * time moved anyway (then it says so). */
        static const int order[] = { MX_V_SLOWER, MX_V_FASTER, MX_V_SAME, MX_V_INCONCLUSIVE, MX_V_FEW };
        for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
            int v = order[o], n = 0;
            bool moved = v == MX_V_FASTER || v == MX_V_SLOWER;
            for (int w = 0; w < m->nworkloads; w++) {
                if (m->sum[w][x].verdict != v || (idle[w] && !moved))
                    continue;
                fprintf(f, "%s", n++ ? ";" : "    ");
                if (n == 1)
                    fprintf(f, "%s:", _hak_matrix_verdict_name[v]);
                if (moved || v == MX_V_INCONCLUSIVE)
                    claim(f, m, w, x, base);
                else
                    fprintf(f, " %s", m->workload[w]);
                if (unchecked(&m->sum[w][x]))
                    fprintf(f, " (excludes 1, fails the false-discovery check)");
                if (idle[w])
                    fprintf(f, " although not exercised (%s%s)", why[w], threshold_note(m, w, x, base));
            }
            if (n)
                fprintf(f, "\n");
        }
        int n = 0;
        for (int w = 0; w < m->nworkloads; w++)
            if (idle[w] && m->sum[w][x].verdict != MX_V_FASTER && m->sum[w][x].verdict != MX_V_SLOWER)
                fprintf(f, "%s %s (%s)", n++ ? "," : "    not exercised:", m->workload[w], why[w]);
        if (n)
            fprintf(f, "\n");
    }
    if (!nprofiles)
        fprintf(f, "  n/a: no hakmem profile besides baseline\n");
}

/* ---- Gap decomposition ------------------------------------------------------------- */

/* The profile that stands for each subsystem in the decomposition: the
 * first (in matrix order) whose options differ from baseline's in that
 * subsystem's alone; -1 for none. */
static void sub_profiles(const struct mx_matrix *m, int base, int prof[MX_NSUB])
{
    for (int k = 0; k < MX_NSUB; k++)
        prof[k] = -1;
    for (int x = 0; x < m->nconfigs; x++) {
        if (m->config[x].kind != MX_HAKMEM || x == base)
            continue;
        unsigned subs = _hak_matrix_changed_subsystems(m->config[x].label, m->config[base].label);
        for (int k = 0; k < MX_NSUB; k++)
            if (subs == 1u << k && prof[k] < 0)
                prof[k] = x;
    }
}

void _hak_matrix_print_gaps(FILE *f, const struct mx_matrix *m)
{
    int base = baseline_of(m), prof[MX_NSUB];
    fprintf(f, "\nGap decomposition: baseline against the fastest peer, and what each subsystem's time per op is\n"
               "(baseline's time minus its profile's; a cost when switching it off is faster):\n");
    if (base < 0) {
        fprintf(f, "  n/a: no baseline profile in the matrix\n");
        return;
    }
    sub_profiles(m, base, prof);
    for (int w = 0; w < m->nworkloads; w++) {
        const struct mx_gap *g = &m->gap[w];
        const struct mx_summary *b = &m->sum[w][base];
        char t[64], u[32], v[32];
        if (g->peer < 0 || isnan(g->ratio)) {
            fprintf(f, "  %s: n/a (%s)\n", m->workload[w], g->peer < 0 ? "no peer result" : "too few rounds");
            continue;
        }
        double gap_ns = b->ns * (1 - 1 / g->ratio), explained = 0;
        fprintf(f, "  %s: baseline %s, %s %s: %+.1f%% [%+.1f, %+.1f], %s%s per op\n", m->workload[w],
                fmt_time(t, sizeof t, b->ns), m->config[g->peer].name, fmt_time(u, sizeof u, m->sum[w][g->peer].ns),
                100 * (g->ratio - 1), 100 * (g->lo - 1), 100 * (g->hi - 1), gap_ns >= 0 ? "+" : "-",
                fmt_time(v, sizeof v, fabs(gap_ns)));
        for (int k = 0; k < MX_NSUB; k++) {
            if (prof[k] < 0)
                continue;
            const struct mx_summary *s = &m->sum[w][prof[k]];
            char why[64];
            fprintf(f, "    %-20s (%s): ", _hak_matrix_sub_name[k], m->config[prof[k]].name);
            if (_hak_matrix_exercised(k, b->act, why, sizeof why) == 0) {
                fprintf(f, "not exercised (%s)\n", why);
                continue;
            }
            if (isnan(s->ratio)) {
                fprintf(f, "n/a (%s)\n", _hak_matrix_verdict_name[s->verdict]);
                continue;
            }
            double share = b->ns * (1 - s->ratio), lo = b->ns * (1 - s->hi), hi = b->ns * (1 - s->lo);
            bool real = s->verdict == MX_V_FASTER || s->verdict == MX_V_SLOWER;
            if (real)
                explained += share;
            fprintf(f, "%s %s [%s%s, %s%s]%s\n", share >= 0 ? "costs" : "saves", fmt_time(t, sizeof t, fabs(share)),
                    lo < 0 ? "-" : "", fmt_time(u, sizeof u, fabs(lo)), hi < 0 ? "-" : "", fmt_time(v, sizeof v, fabs(hi)),
                    real ? "" : " (no difference shown)");
        }
        double rest = gap_ns - explained;
        fprintf(f, "    %-20s %s%s per op (the gap less the subsystems' shares shown to differ)\n", "unexplained:",
                rest >= 0 ? "+" : "-", fmt_time(t, sizeof t, fabs(rest)));
    }
}

/* ---- CSV and JSON ------------------------------------------------------------------ */

/* A number for CSV or JSON: empty (CSV) or null (JSON) when unknown. */
static void put_num(FILE *f, double v, bool json)
{
    if (isnan(v) || isinf(v))
        fputs(json ? "null" : "", f);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.10g", v);
}

void _hak_matrix_write_csv(FILE *f, const struct mx_matrix *m)
{
    fprintf(f, "workload,configuration,kind,runs,ok_runs,median_ns,p95_ns,p99_ns,ops_per_s,faults_per_op,"
               "peak_rss_kib,mmap_per_op,munmap_per_op,madvise_per_op,pairs,ratio,ratio_lo,ratio_hi,p,discovery,"
               "verdict\n");
    for (int w = 0; w < m->nworkloads; w++)
        for (int x = 0; x < m->nconfigs; x++) {
            const struct mx_summary *s = &m->sum[w][x];
            const double v[] = { s->ns, s->p95, s->p99, s->ops_per_s, s->faults, s->rss_kib, s->sys[MX_MMAP],
                                 s->sys[MX_MUNMAP], s->sys[MX_MADVISE], s->pairs, s->ratio, s->lo, s->hi, s->p };
            fprintf(f, "%s,%s,%s,%d,%d", m->workload[w], m->config[x].name,
                    m->config[x].kind == MX_HAKMEM ? "hakmem" : "peer", m->rounds[w], s->n);
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                fputc(',', f);
                put_num(f, v[k], false);
            }
            fprintf(f, ",%d,%s\n", s->discovery, _hak_matrix_verdict_name[s->verdict]);
        }
}

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void put_field(FILE *f, const char *sep, const char *key, double v)
{
    fprintf(f, "%s\"%s\": ", sep, key);
    put_num(f, v, true);
}

/* The figures a run and a summary both have, under the same keys. */
static void put_figures(FILE *f, double ns, double cpu_ns, const double phase_ns[2], double p95, double p99,
                        double ops_per_s, double faults, double rss_kib)
{
    put_field(f, ", ", "median_ns", ns);
    put_field(f, ", ", "cpu_ns", cpu_ns);
    for (int k = 0; k < 2 && !isnan(phase_ns[0]); k++)
        put_field(f, ", ", k ? "phase2_ns" : "phase1_ns", phase_ns[k]);
    put_field(f, ", ", "p95_ns", p95);
    put_field(f, ", ", "p99_ns", p99);
    put_field(f, ", ", "ops_per_s", ops_per_s);
    put_field(f, ", ", "faults_per_op", faults);
    put_field(f, ", ", "peak_rss_kib", rss_kib);
}

/* hakmem's activity as an object "activity" keyed by the statistics' paths. */
static void put_activity(FILE *f, const double act[MX_NACT], double mode)
{
    fprintf(f, ", \"activity\": {");
    for (int k = 0; k < MX_NACT; k++)
        put_field(f, k ? ", " : "", _hak_matrix_act_path[k], act[k]);
    fprintf(f, ", \"evo.mode\": ");
    if (isnan(mode))
        fputs("null", f);
    else
        put_str(f, mode_name[(int)mode]);
    fputc('}', f);
}

void _hak_matrix_write_json(FILE *f, const struct mx_matrix *m)
{
    fprintf(f, "{\"info\": ");
    put_str(f, m->info);
    fprintf(f, ",\n \"runs\": %d,\n \"seed\": %llu,\n \"args\": [", m->runs, m->seed);
    for (int i = 0; i < m->nargs; i++) {
        fputs(i ? ", " : "", f);
        put_str(f, m->args[i]);
    }
    fprintf(f, "],\n \"configurations\": [");
    for (int x = 0; x < m->nconfigs; x++) {
        fprintf(f, "%s\n  {\"name\": ", x ? "," : "");
        put_str(f, m->config[x].name);
        fprintf(f, ", \"kind\": \"%s\", \"label\": ", m->config[x].kind == MX_HAKMEM ? "hakmem" : "peer");
        put_str(f, m->config[x].label);
        if (m->config[x].sentinel)
            fprintf(f, ", \"sentinel\": true");
        fputc('}', f);
    }
    fprintf(f, "],\n \"workloads\": [");
    for (int w = 0; w < m->nworkloads; w++) {
        fprintf(f, "%s\n  {\"name\": ", w ? "," : "");
        put_str(f, m->workload[w]);
        fprintf(f, ", \"op\": ");
        put_str(f, m->what[w]);
        static const char *const kind[] = { [MX_W_SCENARIO] = "scenario", [MX_W_LARSON] = "larson",
                                            [MX_W_COMMAND] = "command" };
        fprintf(f, ", \"kind\": \"%s\", \"rounds\": %d", kind[m->wkind[w]], m->rounds[w]);
        if (m->state_note[w][0]) {
            fprintf(f, ", \"state\": ");
            put_str(f, m->state_note[w]);
        }
        if (m->wkind[w] == MX_W_COMMAND) {
            fprintf(f, ", \"command\": ");
            put_str(f, m->command[w]);
        }
        fputc('}', f);
    }
    fprintf(f, "],\n \"results\": [");
    for (int w = 0; w < m->nworkloads; w++)
        for (int x = 0; x < m->nconfigs; x++) {
            const struct mx_summary *s = &m->sum[w][x];
            fprintf(f, "%s\n  {\"workload\": ", w || x ? "," : "");
            put_str(f, m->workload[w]);
            fprintf(f, ", \"configuration\": ");
            put_str(f, m->config[x].name);
            fprintf(f, ", \"ok_runs\": %d", s->n);
            put_figures(f, s->ns, s->cpu_ns, s->phase_ns, s->p95, s->p99, s->ops_per_s, s->faults, s->rss_kib);
            for (int k = 0; k < MX_NSYS; k++) {
                char key[32];
                snprintf(key, sizeof key, "%s_per_op", _hak_matrix_sys_name[k]);
                put_field(f, ", ", key, s->sys[k]);
            }
            put_field(f, ", ", "pairs", s->pairs);
            put_field(f, ", ", "ratio", s->ratio);
            put_field(f, ", ", "ratio_lo", s->lo);
            put_field(f, ", ", "ratio_hi", s->hi);
            put_field(f, ", ", "coverage", s->coverage);
            put_field(f, ", ", "p", s->p);
            fprintf(f, ", \"discovery\": %s, \"verdict\": ", s->discovery ? "true" : "false");
            if (s->verdict == MX_V_NONE)
                fputs("null", f);
            else
                put_str(f, _hak_matrix_verdict_name[s->verdict]);
            if (m->config[x].kind == MX_HAKMEM)
                put_activity(f, s->act, s->mode);
            fprintf(f, ",\n   \"runs\": [");
            for (int r = 0; r < m->rounds[w]; r++) {
                const struct mx_sample *p = &m->sample[w][x][r];
                fprintf(f, "%s{\"ok\": %s", r ? ",\n    " : "", p->ok ? "true" : "false");
                if (m->config[x].kind == MX_HAKMEM)
                    fprintf(f, ", \"seed\": %llu", p->seed);
                if (p->ok)
                    put_figures(f, p->ns, p->cpu_ns, p->phase_ns, p->p95, p->p99, p->ops_per_s, p->faults, p->rss_kib);
                if (p->ok && m->config[x].kind == MX_HAKMEM)
                    put_activity(f, p->act, p->mode);
                fputc('}', f);
            }
            fprintf(f, "]}");
        }
    fprintf(f, "]}\n");
}

/* ---- Plot ---------------------------------------------------------------------------- */

/* The configuration the plot is drawn against: baseline, else the first. */
static int reference(const struct mx_matrix *m)
{
    int b = baseline_of(m);
    return b < 0 ? 0 : b;
}

void _hak_matrix_write_plot_data(FILE *f, const struct mx_matrix *m)
{
    int ref = reference(m);
    fprintf(f, "workload");
    for (int x = 0; x < m->nconfigs; x++)
        fprintf(f, " \"%s\"", m->config[x].name);
    fputc('\n', f);
    for (int w = 0; w < m->nworkloads; w++) {
        fprintf(f, "\"%s\"", m->workload[w]);
        for (int x = 0; x < m->nconfigs; x++) {
            double r = m->sum[w][x].ns / m->sum[w][ref].ns;
            if (isnan(r) || isinf(r) || r <= 0)
                fprintf(f, " NaN");
            else
                fprintf(f, " %.6g", r);
        }
        fputc('\n', f);
    }
}

void _hak_matrix_write_plot_script(FILE *f, const struct mx_matrix *m, const char *data_path, const char *svg_path)
{
    int ref = reference(m);
    /* A log scale, since peers can be 100x apart; each bar spans from 1 (the
     * reference) to its ratio, up when slower and down when faster, so a
     * small difference shows as a short bar, not as the tip of a tall one. */
    fprintf(f, "set terminal svg size %d,480 dynamic font 'sans,11' background rgb 'white'\n",
            480 + 12 * m->nworkloads * m->nconfigs);
    fprintf(f, "set output '%s'\n", svg_path);
    fprintf(f, "set title 'hakmem matrix: median time per op against %s (lower is faster)'\n", m->config[ref].name);
    fprintf(f, "set ylabel 'time / %s (log scale)'\n", m->config[ref].name);
    fprintf(f, "set logscale y\nset grid ytics\nset key outside right top vertical\n"
               "set style fill solid 0.85 border -1\nset xtics nomirror\n"
               "set datafile missing 'NaN'\nset key autotitle columnhead\n");
    fprintf(f, "set xrange [-0.6:%d.4]\n", m->nworkloads - 1);
    /* Bar i of a workload sits at its column's offset within a 0.9 wide group. */
    fprintf(f, "n = %d\nbw = 0.9 / n\nx(i) = $0 + (i - 2 - (n - 1) / 2.0) * bw\n", m->nconfigs);
    /* gnuplot's own colours repeat after 8: 16 distinct ones, then again. */
    fprintf(f, "colors = '#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf "
               "#393b79 #ad494a #8ca252 #e7ba52 #7b4173 #3182bd'\n");
    fprintf(f, "plot for [i=2:%d] '%s' using (x(i)):(column(i)):(x(i) - bw / 2):(x(i) + bw / 2):"
               "(column(i) < 1 ? column(i) : 1):(column(i) < 1 ? 1 : column(i)) with boxxyerror "
               "title columnheader(i) linecolor rgb word(colors, (i - 2) %% 16 + 1), "
               "'%s' using 0:(1):xtic(1) with lines dashtype 2 linecolor rgb 'black' notitle, "
               "1 with lines dashtype 2 linecolor rgb 'black' notitle\n",
            m->nconfigs + 1, data_path, data_path);
}
