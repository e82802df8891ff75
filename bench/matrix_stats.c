/* matrix_stats.c — the pure parts of the matrix runner: reading what the benchmarks, hakmem's statistics, strace and the ini file say, and the statistics over runs. */
#include "matrix.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const _hak_matrix_sys_name[MX_NSYS] = { "mmap", "munmap", "madvise" };

/* ---- Parsing --------------------------------------------------------------- */

/* The start of the first line of text that begins with prefix, or NULL. */
static const char *find_line(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, n) == 0)
            return p;
    return NULL;
}

/* The number after " key=" in the line at line; 0, or -1 if absent. */
static int line_field(const char *line, const char *key, double *out)
{
    size_t eol = strcspn(line, "\n"), n = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL && p < line + eol; p += n) {
        if (p == line || p[-1] != ' ' || p[n] != '=')
            continue;
        char *end;
        double v = strtod(p + n + 1, &end);
        if (end == p + n + 1)
            return -1;
        *out = v;
        return 0;
    }
    return -1;
}

int _hak_matrix_parse_scenario(const char *out, const char *name, struct mx_sample *s)
{
    char prefix[MX_NAME + 16];
    snprintf(prefix, sizeof prefix, "scenario %s ", name);
    const char *line = find_line(out, prefix);
    double it, wu;
    if (!line || line_field(line, "iterations", &it) || line_field(line, "warmup", &wu) ||
        line_field(line, "median_ns", &s->ns) || line_field(line, "p95_ns", &s->p95) ||
        line_field(line, "p99_ns", &s->p99) || line_field(line, "faults_median", &s->faults) || !(s->ns > 0))
        return -1;
    s->ops_per_s = 1e9 / s->ns;
    s->ops = it + wu;
    return 0;
}

int _hak_matrix_parse_larson(const char *out, const char *err, struct mx_sample *s)
{
    const char *t = find_line(out, "Throughput = "), *o = find_line(err, "larson: ");
    if (!t || !o)
        return -1;
    char *end;
    double thr = strtod(t + strlen("Throughput = "), &end);
    if (end == t + strlen("Throughput = ") || !(thr > 0))
        return -1;
    double ops = strtod(o + strlen("larson: "), &end);
    if (end == o + strlen("larson: ") || strncmp(end, " operations", 11) != 0)
        return -1;
    s->ops_per_s = thr;
    s->ns = 1e9 / thr;
    s->p95 = s->p99 = NAN;
    s->ops = ops;
    return 0;
}

void _hak_matrix_parse_allocator(const char *text, char *buf, size_t len)
{
    const char *line = find_line(text, "allocator: ");
    if (!line) {
        snprintf(buf, len, "%s", "");
        return;
    }
    line += strlen("allocator: ");
    snprintf(buf, len, "%.*s", (int)strcspn(line, "\n"), line);
}

int _hak_matrix_parse_hakmem_stats(const char *json, double sys[MX_NSYS])
{
    const char *os = strstr(json, "\"os\":");
    if (!os)
        return -1;
    const char *close = strchr(os, '}'); /* os holds numbers only */
    for (int k = 0; k < MX_NSYS; k++) {
        char key[32];
        snprintf(key, sizeof key, "\"%s\":", _hak_matrix_sys_name[k]);
        const char *p = strstr(os, key);
        if (!p || (close && p > close))
            return -1;
        char *end;
        sys[k] = strtod(p + strlen(key), &end);
        if (end == p + strlen(key))
            return -1;
    }
    return 0;
}

int _hak_matrix_parse_strace(const char *text, double sys[MX_NSYS])
{
    /* strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall;
     * the header row names the columns, the last row is "total". */
    bool table = false;
    for (int k = 0; k < MX_NSYS; k++)
        sys[k] = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        size_t eol = strcspn(p, "\n");
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(eol < sizeof line ? eol : sizeof line - 1), p);
        if (strstr(line, "% time") && strstr(line, "calls") && strstr(line, "syscall")) {
            table = true;
            continue;
        }
        if (!table)
            continue;
        char *f[8];
        int nf = 0;
        for (char *save, *tok = strtok_r(line, " \t", &save); tok && nf < 8; tok = strtok_r(NULL, " \t", &save))
            f[nf++] = tok;
        if (nf < 5)
            continue;
        for (int k = 0; k < MX_NSYS; k++)
            if (strcmp(f[nf - 1], _hak_matrix_sys_name[k]) == 0)
                sys[k] = strtod(f[3], NULL);
    }
    return table ? 0 : -1;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int _hak_matrix_ini_profiles(const char *ini, void (*fn)(const char *name, const char *label, void *arg), void *arg)
{
    char name[MX_NAME] = "", label[MX_LABEL] = "";
    bool in_profile = false;
    int count = 0;
    for (const char *p = ini; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *s = skip_space(p);
        size_t len = strcspn(s, "\n");
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
            len--;
        if (*s == '[') {
            if (in_profile)
                fn(name, label, arg);
            in_profile = false;
            const char *close = memchr(s, ']', len);
            if (close && strncmp(s, "[profile", 8) == 0 && (s[8] == ' ' || s[8] == '\t')) {
                const char *n = skip_space(s + 8);
                size_t nl = (size_t)(close - n);
                while (nl > 0 && (n[nl - 1] == ' ' || n[nl - 1] == '\t'))
                    nl--;
                if (nl > 0 && nl < MX_NAME) {
                    snprintf(name, sizeof name, "%.*s", (int)nl, n);
                    label[0] = 0;
                    in_profile = true;
                    count++;
                }
            }
            continue;
        }
        if (!in_profile || len == 0 || *s == ';' || *s == '#')
            continue;
        /* "key = value ; comment": the comment goes, spaces are normalised. */
        const char *eq = memchr(s, '=', len);
        if (!eq)
            continue;
        size_t kl = (size_t)(eq - s), vl;
        while (kl > 0 && (s[kl - 1] == ' ' || s[kl - 1] == '\t'))
            kl--;
        const char *v = skip_space(eq + 1);
        const char *comment = strstr(v, " ;");
        vl = (size_t)(s + len - v);
        if (comment && comment < s + len)
            vl = (size_t)(comment - v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        size_t used = strlen(label);
        snprintf(label + used, sizeof label - used, "%s%.*s = %.*s", used ? ", " : "", (int)kl, s, (int)vl, v);
    }
    if (in_profile)
        fn(name, label, arg);
    return count;
}

/* ---- Statistics -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

int _hak_matrix_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = 0;
    while (k < n && !isnan(v[k]))
        k++;
    return k;
}

double _hak_matrix_median(const double *v, int n)
{
    if (n <= 0)
        return NAN;
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double _hak_matrix_percentile(const double *v, int n, double pct)
{
    if (n <= 0)
        return NAN;
    int rank = (int)ceil(pct * n / 100); /* pct * n first: exact for whole numbers */
    return v[rank < 1 ? 0 : rank > n ? n - 1 : rank - 1];
}

double _hak_matrix_spread(const double *v, int n)
{
    double med = _hak_matrix_median(v, n);
    if (n < 2 || !(med > 0))
        return NAN;
    return (v[n - 1] - v[0]) / med;
}

int _hak_matrix_judge(double delta, double spread_base, double spread_other)
{
    if (isnan(delta))
        return MX_NONE;
    if (isnan(spread_base) || isnan(spread_other))
        return MX_UNKNOWN;
    return fabs(delta) > fmax(spread_base, spread_other) ? MX_BEYOND : MX_INSIDE;
}

/* The median over the successful runs of the sample field at offset off. */
static double run_median(const struct mx_sample *runs, int nruns, size_t off, double *spread)
{
    double v[MX_MAX_RUNS];
    int n = 0;
    for (int r = 0; r < nruns; r++)
        if (runs[r].ok)
            v[n++] = *(const double *)((const char *)&runs[r] + off);
    n = _hak_matrix_sort(v, n);
    if (spread)
        *spread = _hak_matrix_spread(v, n);
    return _hak_matrix_median(v, n);
}

void _hak_matrix_summarize(struct mx_matrix *m)
{
    int base = -1;
    for (int c = 0; c < m->nconfigs; c++)
        if (m->config[c].kind == MX_HAKMEM && strcmp(m->config[c].name, "baseline") == 0)
            base = c;
    for (int w = 0; w < m->nworkloads; w++) {
        for (int c = 0; c < m->nconfigs; c++) {
            const struct mx_sample *runs = m->sample[w][c];
            struct mx_summary *s = &m->sum[w][c];
            s->n = 0;
            for (int r = 0; r < m->runs; r++)
                s->n += runs[r].ok;
            s->ns = run_median(runs, m->runs, offsetof(struct mx_sample, ns), &s->spread);
            s->p95 = run_median(runs, m->runs, offsetof(struct mx_sample, p95), NULL);
            s->p99 = run_median(runs, m->runs, offsetof(struct mx_sample, p99), NULL);
            s->ops_per_s = run_median(runs, m->runs, offsetof(struct mx_sample, ops_per_s), NULL);
            s->faults = run_median(runs, m->runs, offsetof(struct mx_sample, faults), NULL);
            s->rss_kib = run_median(runs, m->runs, offsetof(struct mx_sample, rss_kib), NULL);
            /* Steady state: what a longer run adds over a shorter one leaves
             * out start-up (the loader's mappings, the program's own). */
            double dops = m->ops_full[w][c] - m->ops_base[w][c];
            for (int k = 0; k < MX_NSYS; k++) {
                double d = m->sys_full[w][c][k] - m->sys_base[w][c][k]; /* NAN if either is unknown */
                s->sys[k] = dops > 0 && !isnan(d) ? (d > 0 ? d : 0) / dops : NAN;
            }
        }
        for (int c = 0; c < m->nconfigs; c++) {
            struct mx_summary *s = &m->sum[w][c];
            const struct mx_summary *b = base >= 0 ? &m->sum[w][base] : NULL;
            s->delta = b && c != base && b->ns > 0 && s->ns > 0 ? s->ns / b->ns - 1 : NAN;
            s->mark = _hak_matrix_judge(s->delta, b ? b->spread : NAN, s->spread);
        }
    }
}
