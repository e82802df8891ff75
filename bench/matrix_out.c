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

static const char *fmt_pct(char *buf, size_t len, double frac)
{
    if (isnan(frac))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%+.1f%%", 100 * frac);
    return buf;
}

static const char mark_char[] = { [MX_NONE] = ' ', [MX_BEYOND] = ' ', [MX_INSIDE] = '~', [MX_UNKNOWN] = '?' };

/* ---- Table ------------------------------------------------------------------------ */

void _hak_matrix_print_table(FILE *f, const struct mx_matrix *m)
{
    int ref = -1;
    for (int x = 0; x < m->nconfigs; x++)
        if (m->config[x].kind == MX_HAKMEM && strcmp(m->config[x].name, "baseline") == 0)
            ref = x;
    fprintf(f, "%s\n", m->info);
    for (int w = 0; w < m->nworkloads; w++) {
        fprintf(f, "\n%s — op: %s\n", m->workload[w], m->what[w]);
        fprintf(f, "%-18s %10s %10s %10s %9s %9s %9s %8s %9s %10s %7s %10s %5s\n", "configuration", "median/op",
                "p95/op", "p99/op", "ops/s", "faults/op", "peak RSS", "mmap/op", "munmap/op", "madvise/op", "spread",
                "Δ time", "runs");
        for (int x = 0; x < m->nconfigs; x++) {
            const struct mx_summary *s = &m->sum[w][x];
            char a[32], b[32], c[32], d[32], e[32], g[32], h[32], i[32], rss[32], spread[32], delta[40];
            if (isnan(s->rss_kib))
                snprintf(rss, sizeof rss, "n/a");
            else
                snprintf(rss, sizeof rss, "%.1f MiB", s->rss_kib / 1024);
            if (isnan(s->spread))
                snprintf(spread, sizeof spread, "n/a");
            else
                snprintf(spread, sizeof spread, "%.1f%%", 100 * s->spread);
            if (x == ref)
                snprintf(delta, sizeof delta, "(ref)");
            else if (s->mark == MX_NONE)
                snprintf(delta, sizeof delta, "n/a");
            else
                snprintf(delta, sizeof delta, "%s %c", fmt_pct(a, sizeof a, s->delta), mark_char[s->mark]);
            fprintf(f, "%-18s %10s %10s %10s %9s %9s %9s %8s %9s %10s %7s %9s %2d/%d\n", m->config[x].name,
                    fmt_time(a, sizeof a, s->ns), fmt_time(b, sizeof b, s->p95), fmt_time(c, sizeof c, s->p99),
                    fmt_num(d, sizeof d, s->ops_per_s), fmt_num(e, sizeof e, s->faults), rss,
                    fmt_num(g, sizeof g, s->sys[MX_MMAP]), fmt_num(h, sizeof h, s->sys[MX_MUNMAP]),
                    fmt_num(i, sizeof i, s->sys[MX_MADVISE]), spread, delta, s->n, m->runs);
        }
    }
    fprintf(f, "\nmedian/p95/p99: time per op (the median over the runs of each run's figure); ops/s = 1 s / median.\n"
               "faults/op: minor page faults per op; peak RSS: the process's maximum resident set.\n"
               "mmap/munmap/madvise per op: calls in the steady state (a full run's minus a short run's, per op\n"
               "  added), from hakmem's counters, or for peers from strace -c -f (n/a without strace).\n"
               "spread: (max - min) / median of the runs' medians. Δ time: median time against baseline's;\n"
               "  ~ = inside the larger spread of the two (not a measured difference); ? = under 2 runs, no spread.\n");
}

/* ---- Attribution ------------------------------------------------------------------ */

/* Whether the runs of faults per op of configurations x and y do not overlap
 * (each with at least 2 runs). */
static bool faults_apart(const struct mx_matrix *m, int w, int x, int y)
{
    double lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY };
    int n[2] = { 0, 0 }, cfg[2] = { x, y };
    for (int s = 0; s < 2; s++)
        for (int r = 0; r < m->runs; r++) {
            const struct mx_sample *p = &m->sample[w][cfg[s]][r];
            if (!p->ok || isnan(p->faults))
                continue;
            n[s]++;
            lo[s] = fmin(lo[s], p->faults);
            hi[s] = fmax(hi[s], p->faults);
        }
    return n[0] >= 2 && n[1] >= 2 && (lo[0] > hi[1] || lo[1] > hi[0]);
}

void _hak_matrix_print_attribution(FILE *f, const struct mx_matrix *m)
{
    int base = -1;
    for (int x = 0; x < m->nconfigs; x++)
        if (m->config[x].kind == MX_HAKMEM && strcmp(m->config[x].name, "baseline") == 0)
            base = x;
    fprintf(f, "\nAttribution: what each profile changed against baseline (only deltas beyond the spread):\n");
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
        char inside[MX_MAX_WORKLOADS * MX_NAME] = "", unknown[MX_MAX_WORKLOADS * MX_NAME] = "";
        int claims = 0;
        for (int w = 0; w < m->nworkloads; w++) {
            const struct mx_summary *s = &m->sum[w][x], *b = &m->sum[w][base];
            char t[32], u[32];
            if (s->mark == MX_INSIDE || s->mark == MX_UNKNOWN) {
                char *list = s->mark == MX_INSIDE ? inside : unknown;
                size_t used = strlen(list);
                snprintf(list + used, sizeof inside - used, "%s%s", used ? ", " : "", m->workload[w]);
            }
            if (s->mark != MX_BEYOND)
                continue;
            fprintf(f, "%s %s %s time (spread %.1f%%)", claims++ ? ";" : "", m->workload[w],
                    fmt_pct(t, sizeof t, s->delta), 100 * fmax(s->spread, b->spread));
            if (faults_apart(m, w, x, base))
                fprintf(f, ", %s%s faults/op", s->faults >= b->faults ? "+" : "",
                        fmt_num(u, sizeof u, s->faults - b->faults));
            for (int k = 0; k < MX_NSYS; k++)
                if (fabs(s->sys[k] - b->sys[k]) >= 0.5)
                    fprintf(f, ", %s%s %s/op", s->sys[k] >= b->sys[k] ? "+" : "",
                            fmt_num(u, sizeof u, s->sys[k] - b->sys[k]), _hak_matrix_sys_name[k]);
        }
        if (!claims)
            fprintf(f, " no difference beyond the spread");
        fprintf(f, ".");
        if (inside[0])
            fprintf(f, " Within the spread: %s.", inside);
        if (unknown[0])
            fprintf(f, " Too few runs to judge: %s.", unknown);
        fprintf(f, "\n");
    }
    if (!nprofiles)
        fprintf(f, "  n/a: no hakmem profile besides baseline\n");
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

static const char *const mark_name[] = { [MX_NONE] = "", [MX_BEYOND] = "beyond", [MX_INSIDE] = "inside",
                                         [MX_UNKNOWN] = "unknown" };

void _hak_matrix_write_csv(FILE *f, const struct mx_matrix *m)
{
    fprintf(f, "workload,configuration,kind,runs,ok_runs,median_ns,p95_ns,p99_ns,ops_per_s,faults_per_op,"
               "peak_rss_kib,mmap_per_op,munmap_per_op,madvise_per_op,spread_pct,delta_pct,delta_vs_spread\n");
    for (int w = 0; w < m->nworkloads; w++)
        for (int x = 0; x < m->nconfigs; x++) {
            const struct mx_summary *s = &m->sum[w][x];
            const double v[] = { s->ns, s->p95, s->p99, s->ops_per_s, s->faults, s->rss_kib, s->sys[MX_MMAP],
                                 s->sys[MX_MUNMAP], s->sys[MX_MADVISE], 100 * s->spread, 100 * s->delta };
            fprintf(f, "%s,%s,%s,%d,%d", m->workload[w], m->config[x].name,
                    m->config[x].kind == MX_HAKMEM ? "hakmem" : "peer", m->runs, s->n);
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                fputc(',', f);
                put_num(f, v[k], false);
            }
            fprintf(f, ",%s\n", mark_name[s->mark]);
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
static void put_figures(FILE *f, double ns, double p95, double p99, double ops_per_s, double faults, double rss_kib)
{
    put_field(f, ", ", "median_ns", ns);
    put_field(f, ", ", "p95_ns", p95);
    put_field(f, ", ", "p99_ns", p99);
    put_field(f, ", ", "ops_per_s", ops_per_s);
    put_field(f, ", ", "faults_per_op", faults);
    put_field(f, ", ", "peak_rss_kib", rss_kib);
}

void _hak_matrix_write_json(FILE *f, const struct mx_matrix *m)
{
    fprintf(f, "{\"info\": ");
    put_str(f, m->info);
    fprintf(f, ",\n \"runs\": %d,\n \"configurations\": [", m->runs);
    for (int x = 0; x < m->nconfigs; x++) {
        fprintf(f, "%s\n  {\"name\": ", x ? "," : "");
        put_str(f, m->config[x].name);
        fprintf(f, ", \"kind\": \"%s\", \"label\": ", m->config[x].kind == MX_HAKMEM ? "hakmem" : "peer");
        put_str(f, m->config[x].label);
        fputc('}', f);
    }
    fprintf(f, "],\n \"workloads\": [");
    for (int w = 0; w < m->nworkloads; w++) {
        fprintf(f, "%s\n  {\"name\": ", w ? "," : "");
        put_str(f, m->workload[w]);
        fprintf(f, ", \"op\": ");
        put_str(f, m->what[w]);
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
            put_figures(f, s->ns, s->p95, s->p99, s->ops_per_s, s->faults, s->rss_kib);
            for (int k = 0; k < MX_NSYS; k++) {
                char key[32];
                snprintf(key, sizeof key, "%s_per_op", _hak_matrix_sys_name[k]);
                put_field(f, ", ", key, s->sys[k]);
            }
            put_field(f, ", ", "spread", s->spread);
            put_field(f, ", ", "delta", s->delta);
            fprintf(f, ", \"delta_vs_spread\": ");
            if (s->mark == MX_NONE)
                fputs("null", f);
            else
                put_str(f, mark_name[s->mark]);
            fprintf(f, ",\n   \"runs\": [");
            for (int r = 0; r < m->runs; r++) {
                const struct mx_sample *p = &m->sample[w][x][r];
                fprintf(f, "%s{\"ok\": %s", r ? ", " : "", p->ok ? "true" : "false");
                if (p->ok)
                    put_figures(f, p->ns, p->p95, p->p99, p->ops_per_s, p->faults, p->rss_kib);
                fputc('}', f);
            }
            fprintf(f, "]}");
        }
    fprintf(f, "]}\n");
}

/* ---- Plot ---------------------------------------------------------------------------- */

/* The configuration deltas are taken against: baseline, else the first. */
static int reference(const struct mx_matrix *m)
{
    for (int x = 0; x < m->nconfigs; x++)
        if (m->config[x].kind == MX_HAKMEM && strcmp(m->config[x].name, "baseline") == 0)
            return x;
    return 0;
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
    /* A log scale, since peers can be 100x apart; bars grow from 1 (the
     * reference), up when slower and down when faster. */
    fprintf(f, "set terminal svg size %d,480 dynamic font 'sans,11' background rgb 'white'\n",
            480 + 12 * m->nworkloads * m->nconfigs);
    fprintf(f, "set output '%s'\n", svg_path);
    fprintf(f, "set title 'hakmem matrix: median time per op against %s (lower is faster)'\n", m->config[ref].name);
    fprintf(f, "set ylabel 'time / %s (log scale)'\n", m->config[ref].name);
    fprintf(f, "set logscale y\nset grid ytics\nset key outside right top vertical\n"
               "set style data histograms\nset style histogram clustered gap 1\n"
               "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset xtics nomirror\n"
               "set datafile missing 'NaN'\n");
    /* gnuplot's own colours repeat after 8: 16 distinct ones, then again. */
    fprintf(f, "colors = '#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf "
               "#393b79 #ad494a #8ca252 #e7ba52 #7b4173 #3182bd'\n");
    fprintf(f, "plot for [i=2:%d] '%s' using (column(i) > 0 ? column(i) : NaN):xtic(1) title columnheader(i) "
               "linecolor rgb word(colors, (i - 2) %% 16 + 1), "
               "1 with lines dashtype 2 linecolor rgb 'black' notitle\n",
            m->nconfigs + 1, data_path);
}
