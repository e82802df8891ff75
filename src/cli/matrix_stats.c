/* matrix_stats.c — the pure parts of the matrix runner: reading what the benchmarks, hakmem's statistics, strace and the ini file say, and the statistics over runs. */
#include "matrix.h"
#include "verdict.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    for (int k = 0; k < 2; k++)
        if (line_field(line, k ? "phase2_ns" : "phase1_ns", &s->phase_ns[k]) != 0)
            s->phase_ns[k] = NAN;
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

const char *const _hak_matrix_act_path[MX_NACT] = {
#define MX_ACT_PATH(id, path) path,
    MX_ACTIVITY(MX_ACT_PATH)
#undef MX_ACT_PATH
};

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* The end of the JSON string starting at p (at its opening quote): just past
 * the closing quote, or NULL if it is not closed. */
static const char *string_end(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1])
            p++;
    return *p ? p + 1 : NULL;
}

/* The value of member key (len bytes) of the object at obj (at its '{'):
 * its first character, or NULL. Nested objects and arrays are skipped, so a
 * key of an inner object is never taken for one of this object. */
static const char *member(const char *obj, const char *key, size_t len)
{
    int depth = 0;
    bool want_key = false;
    for (const char *p = obj; p && *p; p++) {
        switch (*p) {
        case '{':
        case '[':
            depth++;
            want_key = depth == 1 && *p == '{';
            break;
        case '}':
        case ']':
            if (--depth == 0)
                return NULL;
            break;
        case ',':
            want_key = depth == 1;
            break;
        case '"': {
            const char *end = string_end(p);
            if (!end)
                return NULL;
            if (want_key && (size_t)(end - p - 2) == len && strncmp(p + 1, key, len) == 0) {
                const char *colon = skip_ws(end);
                return *colon == ':' ? skip_ws(colon + 1) : NULL;
            }
            want_key = false;
            p = end - 1;
            break;
        }
        default:
            break;
        }
    }
    return NULL;
}

/* The value at a dotted path ("os.mmap") of the JSON object text. */
static const char *lookup(const char *json, const char *path)
{
    const char *v = skip_ws(json);
    while (v && *v == '{' && *path) {
        size_t len = strcspn(path, ".");
        v = member(v, path, len);
        path += len + (path[len] == '.');
    }
    return v && !*path ? v : NULL;
}

int _hak_matrix_json_number(const char *json, const char *path, double *out)
{
    const char *v = lookup(json, path);
    if (!v)
        return -1;
    if (strncmp(v, "true", 4) == 0 || strncmp(v, "false", 5) == 0) {
        *out = *v == 't';
        return 0;
    }
    char *end;
    double d = strtod(v, &end);
    if (end == v)
        return -1;
    *out = d;
    return 0;
}

/* The JSON string at v into buf, unescaped (\\uXXXX only below 0x100, as
 * the matrix writes them). Returns 0, or -1 if v is no string. */
static int read_string(const char *v, char *buf, size_t len)
{
    const char *end = v && *v == '"' ? string_end(v) : NULL;
    if (!end)
        return -1;
    size_t k = 0;
    for (const char *p = v + 1; p < end - 1 && k + 1 < len; p++) {
        char c = *p;
        if (c == '\\') {
            c = *++p;
            if (c == 'u' && end - p > 4) {
                c = (char)strtol((char[]){ p[1], p[2], p[3], p[4], 0 }, NULL, 16);
                p += 4;
            } else if (c == 'n' || c == 't') {
                c = c == 'n' ? '\n' : '\t';
            }
        }
        buf[k++] = c;
    }
    buf[k] = 0;
    return 0;
}

int _hak_matrix_json_string(const char *json, const char *path, char *buf, size_t len)
{
    return read_string(lookup(json, path), buf, len);
}

/* Element i of the JSON array at arr (at its '['), or NULL. */
static const char *element(const char *arr, int i)
{
    if (!arr || *arr != '[')
        return NULL;
    const char *p = skip_ws(arr + 1);
    if (*p == ']')
        return NULL;
    for (int k = 0, depth = 0; *p; p++) {
        if (k == i && depth == 0)
            return skip_ws(p);
        switch (*p) {
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            if (depth-- == 0)
                return NULL;
            break;
        case '"':
            p = string_end(p);
            if (!p)
                return NULL;
            p--;
            break;
        case ',':
            if (depth == 0) {
                k++;
                p = skip_ws(p + 1) - 1;
            }
            break;
        default:
            break;
        }
    }
    return NULL;
}

/* A number member of the object at obj, NAN when absent or null. */
static double num_at(const char *obj, const char *key)
{
    const char *v = member(obj, key, strlen(key));
    char *end;
    double d = v ? strtod(v, &end) : NAN;
    return v && end != v ? d : NAN;
}

int _hak_matrix_read_json(const char *json, struct mx_matrix *m, char *err, size_t len)
{
    memset(m, 0, sizeof *m);
    const char *top = skip_ws(json), *v;
    if (*top != '{' || _hak_matrix_json_string(json, "info", m->info, sizeof m->info) != 0) {
        snprintf(err, len, "not a matrix.json (no \"info\")");
        return -1;
    }
    double d;
    m->runs = _hak_matrix_json_number(json, "runs", &d) == 0 ? (int)d : 0;
    if ((v = lookup(json, "seed")) != NULL)
        m->seed = strtoull(v, NULL, 10);
    for (const char *a = element(lookup(json, "args"), 0); a; a = element(lookup(json, "args"), ++m->nargs)) {
        if (m->nargs == MX_MAX_ARGS || read_string(a, m->args[m->nargs], MX_CMD) != 0) {
            snprintf(err, len, "bad \"args\"");
            return -1;
        }
    }
    for (const char *c; (c = element(lookup(json, "configurations"), m->nconfigs)) != NULL; m->nconfigs++) {
        char kind[16];
        struct mx_config *x = &m->config[m->nconfigs];
        if (m->nconfigs == MX_MAX_CONFIGS || read_string(member(c, "name", 4), x->name, MX_NAME) != 0 ||
            read_string(member(c, "kind", 4), kind, sizeof kind) != 0) {
            snprintf(err, len, "bad configuration %d", m->nconfigs + 1);
            return -1;
        }
        x->kind = strcmp(kind, "peer") == 0 ? MX_PEER : MX_HAKMEM;
        const char *sentinel = member(c, "sentinel", 8);
        x->sentinel = sentinel && strncmp(sentinel, "true", 4) == 0;
        read_string(member(c, "label", 5), x->label, MX_LABEL);
    }
    for (const char *w; (w = element(lookup(json, "workloads"), m->nworkloads)) != NULL; m->nworkloads++) {
        int i = m->nworkloads;
        char kind[16] = "";
        if (i == MX_MAX_WORKLOADS || read_string(member(w, "name", 4), m->workload[i], MX_NAME) != 0) {
            snprintf(err, len, "bad workload %d", i + 1);
            return -1;
        }
        read_string(member(w, "op", 2), m->what[i], MX_LABEL);
        read_string(member(w, "kind", 4), kind, sizeof kind);
        read_string(member(w, "command", 7), m->command[i], MX_CMD);
        read_string(member(w, "state", 5), m->state_note[i], sizeof m->state_note[i]);
        m->wkind[i] = strcmp(kind, "command") == 0 ? MX_W_COMMAND : strcmp(kind, "larson") == 0 ? MX_W_LARSON
                                                                                                 : MX_W_SCENARIO;
        m->rounds[i] = (int)num_at(w, "rounds");
        if (!(m->rounds[i] >= 0 && m->rounds[i] <= MX_MAX_RUNS))
            m->rounds[i] = 0;
    }
    for (int i = 0; (v = element(lookup(json, "results"), i)) != NULL; i++) {
        char wname[MX_NAME], cname[MX_NAME];
        int w = -1, c = -1;
        if (read_string(member(v, "workload", 8), wname, sizeof wname) == 0)
            for (int k = 0; k < m->nworkloads; k++)
                w = strcmp(m->workload[k], wname) == 0 ? k : w;
        if (read_string(member(v, "configuration", 13), cname, sizeof cname) == 0)
            for (int k = 0; k < m->nconfigs; k++)
                c = strcmp(m->config[k].name, cname) == 0 ? k : c;
        if (w < 0 || c < 0) {
            snprintf(err, len, "result %d names no known workload and configuration", i + 1);
            return -1;
        }
        const char *runs = member(v, "runs", 4), *r;
        for (int k = 0; (r = element(runs, k)) != NULL && k < MX_MAX_RUNS; k++) {
            struct mx_sample *p = &m->sample[w][c][k];
            const char *ok = member(r, "ok", 2), *seed = member(r, "seed", 4), *act = member(r, "activity", 8);
            p->ok = ok && strncmp(ok, "true", 4) == 0;
            p->seed = seed ? strtoull(seed, NULL, 10) : 0;
            p->ns = num_at(r, "median_ns");
            p->cpu_ns = num_at(r, "cpu_ns");
            p->phase_ns[0] = num_at(r, "phase1_ns");
            p->phase_ns[1] = num_at(r, "phase2_ns");
            p->p95 = num_at(r, "p95_ns");
            p->p99 = num_at(r, "p99_ns");
            p->ops_per_s = num_at(r, "ops_per_s");
            p->faults = num_at(r, "faults_per_op");
            p->rss_kib = num_at(r, "peak_rss_kib");
            p->mode = NAN;
            for (int a = 0; a < MX_NACT; a++)
                p->act[a] = act ? num_at(act, _hak_matrix_act_path[a]) : NAN;
            if (p->ok && !(p->ns > 0)) {
                snprintf(err, len, "run %d of %s under %s has no time", k + 1, wname, cname);
                return -1;
            }
            if (k >= m->rounds[w])
                m->rounds[w] = k + 1;
        }
        for (int k = 0; k < MX_NSYS; k++) {
            char key[32];
            snprintf(key, sizeof key, "%s_per_op", _hak_matrix_sys_name[k]);
            /* Rates, not counts: as a full run of one op over a base of none. */
            m->sys_full[w][c][k] = num_at(v, key);
        }
        m->ops_full[w][c] = 1;
    }
    if (!m->nconfigs || !m->nworkloads) {
        snprintf(err, len, "no configurations or no workloads");
        return -1;
    }
    _hak_matrix_summarize(m);
    return 0;
}

int _hak_matrix_parse_activity(const char *json, double act[MX_NACT], double *mode)
{
    static const char *const modes[MX_NMODES] = { "none", "learn", "frozen", "canary" };
    char word[16];
    *mode = NAN;
    for (int k = 0; k < MX_NACT; k++)
        act[k] = NAN;
    if (!lookup(json, "hakmem"))
        return -1;
    if (_hak_matrix_json_string(json, "evo.mode", word, sizeof word) == 0)
        for (int m = 0; m < MX_NMODES; m++)
            if (strcasecmp(word, modes[m]) == 0)
                *mode = m;
    /* Without counters (--disable-counters) only the policy's own figures
     * mean anything: the counters' zeros would read as "did nothing". */
    double counters;
    bool counted = _hak_matrix_json_number(json, "hakmem.counters", &counters) != 0 || counters != 0;
    for (int k = 0; k < MX_NACT; k++)
        if ((!counted && strncmp(_hak_matrix_act_path[k], "elo.", 4) != 0) ||
            _hak_matrix_json_number(json, _hak_matrix_act_path[k], &act[k]) != 0)
            act[k] = NAN;
    /* ELO off prints no leaderboard: it closed no window. */
    double on;
    if (_hak_matrix_json_number(json, "elo.enabled", &on) == 0 && !on)
        act[MX_A_elo_windows] = act[MX_A_elo_rated] = act[MX_A_elo_matches] = 0;
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

/* ---- Subsystems ---------------------------------------------------------------- */

/* The option sections that belong to each subsystem a profile can switch. */
static const char *const sub_section[MX_NSUB][2] = {
    [MX_SUB_BIGCACHE] = { "bigcache", NULL },
    [MX_SUB_ELO] = { "elo", "evo" },
    [MX_SUB_BATCH] = { "madvise", NULL },
    [MX_SUB_SUPERSLAB] = { "tiny", NULL },
};
const char *const _hak_matrix_sub_name[MX_NSUB] = { "BigCache", "ELO", "madvise batching", "SuperSlab" };

/* The value of key in a label "k = v, k = v" into buf; false if absent. */
static bool label_value(const char *label, const char *key, size_t klen, char *buf, size_t len)
{
    for (const char *p = label; p && *p; p = strstr(p, ", "), p = p ? p + 2 : NULL)
        if (strncmp(p, key, klen) == 0 && strncmp(p + klen, " = ", 3) == 0) {
            const char *v = p + klen + 3;
            const char *end = strstr(v, ", ");
            snprintf(buf, len, "%.*s", (int)(end ? (size_t)(end - v) : strlen(v)), v);
            return true;
        }
    return false;
}

unsigned _hak_matrix_changed_subsystems(const char *label, const char *base_label)
{
    unsigned mask = 0;
    for (const char *p = label; p && *p; p = strstr(p, ", "), p = p ? p + 2 : NULL) {
        const char *eq = strstr(p, " = ");
        if (!eq)
            break;
        size_t klen = (size_t)(eq - p);
        char mine[MX_LABEL], theirs[MX_LABEL];
        label_value(label, p, klen, mine, sizeof mine);
        if (label_value(base_label, p, klen, theirs, sizeof theirs) && strcmp(mine, theirs) == 0)
            continue;
        unsigned bit = 1u << MX_NSUB; /* an option of no subsystem */
        for (int k = 0; k < MX_NSUB; k++)
            for (int i = 0; i < 2; i++) {
                const char *sec = sub_section[k][i];
                if (sec && strncmp(p, sec, strlen(sec)) == 0 && p[strlen(sec)] == '.')
                    bit = 1u << k;
            }
        mask |= bit;
    }
    return mask;
}

int _hak_matrix_exercised(int sub, const double act[MX_NACT], char *why, size_t len)
{
    double refills = 0;
    for (int k = MX_A_refill_local; k <= MX_A_refill_new_ss; k++)
        refills += act[k];
    double lookups = act[MX_A_bc_hits] + act[MX_A_bc_misses];
    /* ELO works once it closes a window (sampling and scoring cost time
     * whether or not a match is rated). */
    double v = sub == MX_SUB_BIGCACHE ? lookups
               : sub == MX_SUB_ELO ? act[MX_A_elo_windows]
               : sub == MX_SUB_BATCH ? act[MX_A_madv_queued]
                                    : refills;
    if (isnan(v)) {
        snprintf(why, len, "%s's activity unknown", _hak_matrix_sub_name[sub]);
        return -1;
    }
    switch (sub) {
    case MX_SUB_BIGCACHE:
        snprintf(why, len, "%.0f BigCache lookups", lookups);
        break;
    case MX_SUB_ELO:
        snprintf(why, len, "%.0f ELO windows, %.0f matches", act[MX_A_elo_windows], act[MX_A_elo_matches]);
        break;
    case MX_SUB_BATCH:
        snprintf(why, len, "%.0f madvise ranges queued", act[MX_A_madv_queued]);
        break;
    default:
        snprintf(why, len, "%.0f slab refills", refills);
        break;
    }
    return v > 0;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int _hak_matrix_ini_sections(const char *ini, const char *kind,
                             void (*fn)(const char *name, const char *label, void *arg), void *arg)
{
    size_t kindlen = strlen(kind);
    char name[MX_NAME] = "", label[MX_CMD + 16] = "";
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
            if (close && strncmp(s + 1, kind, kindlen) == 0 && (s[kindlen + 1] == ' ' || s[kindlen + 1] == '\t')) {
                const char *n = skip_space(s + kindlen + 1);
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

/* The median over the successful runs of the double at offset off of a sample. */
static double run_median(const struct mx_sample *runs, int nruns, size_t off)
{
    double v[MX_MAX_RUNS];
    int n = 0;
    for (int r = 0; r < nruns; r++)
        if (runs[r].ok)
            v[n++] = *(const double *)((const char *)&runs[r] + off);
    n = stats_sort(v, n);
    return stats_median(v, n);
}

/* The time of configuration x on workload w against configuration y's,
 * paired by round, into ratio, lo, hi (and coverage, p): 0, or -1 with
 * fewer than MX_MIN_PAIRS rounds where both ran. *pairs gets the rounds. */
static int ratio_of(const struct mx_matrix *m, int w, int x, int y, int *pairs, double *ratio, double *lo,
                    double *hi, double *coverage, double *p)
{
    double d[MX_MAX_RUNS];
    int n = 0;
    for (int r = 0; r < m->rounds[w]; r++) {
        const struct mx_sample *a = &m->sample[w][x][r], *b = &m->sample[w][y][r];
        if (a->ok && b->ok && a->ns > 0 && b->ns > 0)
            d[n++] = log(a->ns) - log(b->ns);
    }
    *pairs = n;
    struct stats_interval iv;
    if (stats_signed_rank(d, n, 0.95, &iv) != STATS_OK)
        return -1;
    *ratio = exp(iv.est);
    *lo = exp(iv.lo);
    *hi = exp(iv.hi);
    *coverage = iv.coverage;
    *p = iv.p;
    return 0;
}

/* Workload w's gap: baseline against the fastest peer (by median). */
static void gap_of(struct mx_matrix *m, int w, int base)
{
    struct mx_gap *g = &m->gap[w];
    *g = (struct mx_gap){ .peer = -1, .ratio = NAN, .lo = NAN, .hi = NAN };
    for (int c = 0; c < m->nconfigs; c++)
        if (m->config[c].kind == MX_PEER && m->sum[w][c].n &&
            (g->peer < 0 || m->sum[w][c].ns < m->sum[w][g->peer].ns))
            g->peer = c;
    if (base < 0 || g->peer < 0 || !m->sum[w][base].n)
        return;
    int pairs;
    double coverage, p;
    if (ratio_of(m, w, base, g->peer, &pairs, &g->ratio, &g->lo, &g->hi, &coverage, &p) != 0)
        g->ratio = g->lo = g->hi = NAN;
}

void _hak_matrix_summarize(struct mx_matrix *m)
{
    int base = -1;
    for (int c = 0; c < m->nconfigs; c++)
        if (m->config[c].kind == MX_HAKMEM && strcmp(m->config[c].name, "baseline") == 0)
            base = c;
    double p[MX_MAX_WORKLOADS * MX_MAX_CONFIGS];
    int cell[MX_MAX_WORKLOADS * MX_MAX_CONFIGS][2];
    m->cells = 0;
    for (int w = 0; w < m->nworkloads; w++)
        for (int c = 0; c < m->nconfigs; c++) {
            const struct mx_sample *runs = m->sample[w][c];
            struct mx_summary *s = &m->sum[w][c];
            *s = (struct mx_summary){ .ratio = NAN, .lo = NAN, .hi = NAN, .coverage = NAN, .p = NAN };
            int nr = m->rounds[w];
            for (int r = 0; r < nr; r++)
                s->n += runs[r].ok;
            s->ns = run_median(runs, nr, offsetof(struct mx_sample, ns));
            s->p95 = run_median(runs, nr, offsetof(struct mx_sample, p95));
            s->p99 = run_median(runs, nr, offsetof(struct mx_sample, p99));
            s->ops_per_s = run_median(runs, nr, offsetof(struct mx_sample, ops_per_s));
            s->faults = run_median(runs, nr, offsetof(struct mx_sample, faults));
            s->rss_kib = run_median(runs, nr, offsetof(struct mx_sample, rss_kib));
            s->cpu_ns = run_median(runs, nr, offsetof(struct mx_sample, cpu_ns));
            for (int k = 0; k < 2; k++)
                s->phase_ns[k] = run_median(runs, nr, offsetof(struct mx_sample, phase_ns) + (size_t)k * sizeof(double));
            s->mode = run_median(runs, nr, offsetof(struct mx_sample, mode));
            for (int k = 0; k < MX_NACT; k++)
                s->act[k] = run_median(runs, nr, offsetof(struct mx_sample, act) + (size_t)k * sizeof(double));
            /* Steady state: what a longer run adds over a shorter one leaves
             * out start-up (the loader's mappings, the program's own). */
            double dops = m->ops_full[w][c] - m->ops_base[w][c];
            for (int k = 0; k < MX_NSYS; k++) {
                double d = m->sys_full[w][c][k] - m->sys_base[w][c][k]; /* NAN if either is unknown */
                s->sys[k] = dops > 0 && !isnan(d) ? (d > 0 ? d : 0) / dops : NAN;
            }
            if (base < 0 || c == base || !s->n)
                continue;
            if (ratio_of(m, w, c, base, &s->pairs, &s->ratio, &s->lo, &s->hi, &s->coverage, &s->p) != 0) {
                s->ratio = s->lo = s->hi = NAN;
                s->verdict = MX_V_FEW;
                continue;
            }
            p[m->cells] = s->p;
            cell[m->cells][0] = w;
            cell[m->cells][1] = c;
            m->cells++;
        }
    for (int w = 0; w < m->nworkloads; w++)
        gap_of(m, w, base);
    /* One false-discovery check over every cell of the matrix: with 60
     * cells, 3 would pass p <= 0.05 by chance alone. */
    bool flag[MX_MAX_WORKLOADS * MX_MAX_CONFIGS];
    m->discoveries = stats_bh(p, m->cells, MX_FDR, flag, &m->bh_cut);
    for (int i = 0; i < m->cells; i++) {
        struct mx_summary *s = &m->sum[cell[i][0]][cell[i][1]];
        static const int verdict[] = { [STATS_FASTER] = MX_V_FASTER, [STATS_SLOWER] = MX_V_SLOWER,
                                       [STATS_SAME] = MX_V_SAME, [STATS_INCONCLUSIVE] = MX_V_INCONCLUSIVE };
        s->discovery = flag[i];
        s->verdict = verdict[stats_verdict(s->lo, s->hi, s->discovery, MX_SAME)];
    }
}

double _hak_matrix_widest(const struct mx_matrix *m, int w, int *cell)
{
    double widest = 0;
    if (cell)
        *cell = -1;
    for (int c = 0; c < m->nconfigs; c++) {
        const struct mx_summary *s = &m->sum[w][c];
        if (!s->n || (s->verdict == MX_V_NONE && isnan(s->ratio)))
            continue;
        double h = isnan(s->ratio) ? INFINITY : fmax(s->hi / s->ratio, s->ratio / s->lo) - 1;
        if (h > widest) {
            widest = h;
            if (cell)
                *cell = c;
        }
    }
    return widest;
}
