/* test_matrix.c — the pure parts of `hakmem matrix` on recorded inputs: reading bench_allocators, larson, hakmem's statistics (the JSON reader, the activity), strace -c and hakmem.ini; which subsystems a profile switches and whether a run exercised them; the paired intervals, verdicts and gaps of a recorded matrix; the table, attribution, gap decomposition, CSV, JSON and plot outputs. */
#include "unit.h"
#include "../../src/cli/matrix.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- Recorded inputs ------------------------------------------------------------- */

static const char scenario_out[] =
    "scenario json iterations=100 warmup=10 median_ns=223843 p95_ns=260001 p99_ns=301234 faults_median=0.0\n"
    "scenario vm iterations=20 warmup=3 median_ns=1273642 p95_ns=1541419 p99_ns=1541420 faults_median=6.0\n";

static const char larson_out[] = "Throughput = 50701234 operations per second, relative time: 19.723s.\n";
static const char larson_err[] = "allocator: hakmem\nlarson: 50718220 operations by 6 threads in 1.000 s\n";

/* hakmem's statistics file (shortened): "madvise" is also an object of its
 * own after "os", and inner objects repeat keys of outer ones ("total",
 * "threshold"). */
static const char stats_json[] =
    "{\"hakmem\": {\"version\": \"0.1.0\", \"pid\": 29829, \"profile\": \"\", \"counters\": true},\n"
    " \"tiny\": {\"alloc_fast\": 3, \"refill_local\": {\"total\": 5, \"by_class\": {\"64\": 5}},\n"
    "  \"refill_remote\": {\"total\": 0, \"by_class\": {}}, \"refill_carve\": {\"total\": 7, \"by_class\": {}},\n"
    "  \"refill_partial\": {\"total\": 0, \"by_class\": {}}, \"refill_empty_slab\": {\"total\": 1, \"by_class\": {}},\n"
    "  \"refill_new_ss\": {\"total\": 2, \"by_class\": {\"total\": 99}}},\n"
    " \"large\": {\"alloc\": 12},\n"
    " \"huge\": {\"alloc\": 60, \"alloc_bytes\": 125829120, \"live_blocks\": 0, \"live_bytes\": 0},\n"
    " \"os\": {\"mmap\": 44, \"mmap_bytes\": 172920832, \"mmap_fail\": 0, \"munmap\": 65, \"munmap_bytes\": "
    "161312768, \"madvise\": 40, \"madvise_bytes\": 83886080, \"minor_faults\": 188, \"rss_bytes\": 10383360},\n"
    " \"bigcache\": {\"hits\": 30, \"misses\": 10, \"evictions\": 4, \"top_sites\": [{\"hits\": 1000}]},\n"
    " \"madvise\": {\"queued\": 36, \"immediate\": 0, \"batches\": 18, \"unmaps\": 23, \"bytes\": 75497472},\n"
    " \"elo\": {\"enabled\": true, \"threshold\": 2359296, \"windows\": 9, \"rated\": 8, \"matches\": 6, "
    "\"strategies\": [{\"threshold\": 524288, \"state\": \"a \\\"quoted\\\" word\"}]},\n"
    " \"evo\": {\"policy\": \"auto\", \"mode\": \"FROZEN\"}\n}\n";

/* strace -f -c -e trace=mmap,munmap,madvise of bench_allocators on jemalloc. */
static const char strace_out[] =
    "% time     seconds  usecs/call     calls    errors syscall\n"
    "------ ----------- ----------- --------- --------- ----------------\n"
    " 93.58    0.001107          27        40           mmap\n"
    "  4.99    0.000059          19         3           munmap\n"
    "  1.44    0.000017           8         2         1 madvise\n"
    "------ ----------- ----------- --------- --------- ----------------\n"
    "100.00    0.001183          26        45         1 total\n";

static const char ini_text[] =
    "; comment [profile not-this]\n"
    "[bigcache]\n"
    "enabled = true\n"
    "[profile baseline]\n"
    "; every subsystem on\n"
    "bigcache.enabled = true\n"
    "madvise.batch=true   \n"
    "\n"
    "[profile no-bigcache]\n"
    "bigcache.enabled = false ; BigCache off\n"
    "[profilex]\n"
    "tiny.cache_max = 3\n"
    "  [profile   spaced  ]\n"
    "[profile empty]\n"
    "[workload py]\n"
    "command = python3 -c 'print(1, 2)' ; the comment goes\n"
    "[workloadx]\n"
    "command = no\n";

/* ---- Parsing ---------------------------------------------------------------------- */

static void scenario_line(void **state)
{
    (void)state;
    struct mx_sample s = { 0 };
    assert_int_equal(_hak_matrix_parse_scenario(scenario_out, "vm", &s), 0);
    assert_true(s.ns == 1273642 && s.p95 == 1541419 && s.p99 == 1541420 && s.faults == 6.0);
    assert_true(s.ops == 23);
    assert_true(fabs(s.ops_per_s - 1e9 / 1273642) < 1e-6);
    assert_int_equal(_hak_matrix_parse_scenario(scenario_out, "json", &s), 0);
    assert_true(s.ns == 223843 && s.ops == 110 && isnan(s.phase_ns[0]) && isnan(s.phase_ns[1]));
    assert_int_equal(_hak_matrix_parse_scenario("scenario phases iterations=4 warmup=0 median_ns=50 p95_ns=60 "
                                                "p99_ns=70 faults_median=0.0 phase1_ns=20 phase1_faults=0.0 "
                                                "phase2_ns=80 phase2_faults=1.0\n", "phases", &s), 0);
    assert_true(s.phase_ns[0] == 20 && s.phase_ns[1] == 80);
    assert_int_equal(_hak_matrix_parse_scenario(scenario_out, "mir", &s), -1);
    assert_int_equal(_hak_matrix_parse_scenario("scenario vm iterations=3 warmup=0 median_ns=5\n", "vm", &s), -1);
    assert_int_equal(_hak_matrix_parse_scenario("", "vm", &s), -1);
}

static void larson_lines(void **state)
{
    (void)state;
    struct mx_sample s = { 0 };
    assert_int_equal(_hak_matrix_parse_larson(larson_out, larson_err, &s), 0);
    assert_true(s.ops_per_s == 50701234 && s.ops == 50718220);
    assert_true(fabs(s.ns - 1e9 / 50701234) < 1e-9);
    assert_true(isnan(s.p95) && isnan(s.p99));
    assert_int_equal(_hak_matrix_parse_larson("", larson_err, &s), -1);
    assert_int_equal(_hak_matrix_parse_larson(larson_out, "allocator: hakmem\n", &s), -1);
}

static void allocator_line(void **state)
{
    (void)state;
    char buf[64];
    _hak_matrix_parse_allocator(larson_err, buf, sizeof buf);
    assert_string_equal(buf, "hakmem");
    _hak_matrix_parse_allocator("noise\nallocator: hakmem+mimalloc\n", buf, sizeof buf);
    assert_string_equal(buf, "hakmem+mimalloc");
    _hak_matrix_parse_allocator("nothing here\n", buf, sizeof buf);
    assert_string_equal(buf, "");
}

static void json_reader(void **state)
{
    (void)state;
    double v;
    char buf[32];
    assert_int_equal(_hak_matrix_json_number(stats_json, "os.mmap", &v), 0);
    assert_true(v == 44);
    assert_int_equal(_hak_matrix_json_number(stats_json, "madvise.batches", &v), 0);
    assert_true(v == 18);
    assert_int_equal(_hak_matrix_json_number(stats_json, "tiny.refill_new_ss.total", &v), 0);
    assert_true(v == 2); /* not the inner "total" of by_class */
    assert_int_equal(_hak_matrix_json_number(stats_json, "elo.threshold", &v), 0);
    assert_true(v == 2359296); /* not a strategy's */
    assert_int_equal(_hak_matrix_json_number(stats_json, "hakmem.counters", &v), 0);
    assert_true(v == 1);
    assert_int_equal(_hak_matrix_json_string(stats_json, "evo.mode", buf, sizeof buf), 0);
    assert_string_equal(buf, "FROZEN");
    assert_int_equal(_hak_matrix_json_number(stats_json, "evo.mode", &v), -1);   /* a string */
    assert_int_equal(_hak_matrix_json_string(stats_json, "os.mmap", buf, sizeof buf), -1); /* a number */
    assert_int_equal(_hak_matrix_json_number(stats_json, "os.nosuch", &v), -1);
    assert_int_equal(_hak_matrix_json_number(stats_json, "hits", &v), -1);       /* only inside bigcache */
    assert_int_equal(_hak_matrix_json_number("{\"a\": {\"b\": 1", "a.c", &v), -1); /* cut short */
    assert_int_equal(_hak_matrix_json_number("{\"a\": \"b\": 1}", "b", &v), -1); /* a value is no key */
}

static void activity(void **state)
{
    (void)state;
    double act[MX_NACT], mode;
    assert_int_equal(_hak_matrix_parse_activity(stats_json, act, &mode), 0);
    assert_true(act[MX_A_bc_hits] == 30 && act[MX_A_bc_misses] == 10 && act[MX_A_bc_evictions] == 4);
    assert_true(act[MX_A_elo_windows] == 9 && act[MX_A_elo_matches] == 6 && act[MX_A_elo_threshold] == 2359296);
    assert_true(act[MX_A_madv_queued] == 36 && act[MX_A_os_madvise] == 40 && act[MX_A_os_munmap] == 65);
    assert_true(act[MX_A_arena_allocs] == 12 && act[MX_A_huge_allocs] == 60);
    assert_true(act[MX_A_refill_local] == 5 && act[MX_A_refill_new_ss] == 2);
    assert_true(mode == MX_MODE_FROZEN);
    /* ELO off: no leaderboard, no window closed. */
    assert_int_equal(_hak_matrix_parse_activity("{\"hakmem\": {\"counters\": true}, \"elo\": {\"enabled\": "
                                                "false, \"threshold\": 2097152}, \"evo\": {\"mode\": \"none\"}}",
                                                act, &mode),
                     0);
    assert_true(act[MX_A_elo_windows] == 0 && act[MX_A_elo_matches] == 0 && mode == MX_MODE_NONE);
    assert_true(isnan(act[MX_A_bc_hits]));
    /* Counters compiled out: the policy's figures only, never a zero count. */
    assert_int_equal(_hak_matrix_parse_activity("{\"hakmem\": {\"counters\": false}, \"bigcache\": {\"hits\": 0}, "
                                                "\"elo\": {\"enabled\": true, \"windows\": 3, \"threshold\": 1}}",
                                                act, &mode),
                     0);
    assert_true(isnan(act[MX_A_os_mmap]) && isnan(act[MX_A_bc_hits]) && isnan(mode));
    assert_true(act[MX_A_elo_windows] == 3 && act[MX_A_elo_threshold] == 1);
    assert_int_equal(_hak_matrix_parse_activity("not json", act, &mode), -1);
}

static void subsystems(void **state)
{
    (void)state;
    const char *base = "bigcache.enabled = true, elo.enabled = true, evo.policy = auto, madvise.batch = true, "
                       "tiny.use_superslab = true";
    assert_int_equal(_hak_matrix_changed_subsystems("bigcache.enabled = false", base), 1u << MX_SUB_BIGCACHE);
    assert_int_equal(_hak_matrix_changed_subsystems("evo.policy = frozen", base), 1u << MX_SUB_ELO);
    assert_int_equal(_hak_matrix_changed_subsystems("bigcache.enabled = false, elo.enabled = false, evo.policy = off, "
                                                    "madvise.batch = false, tiny.use_superslab = true", base),
                     1u << MX_SUB_BIGCACHE | 1u << MX_SUB_ELO | 1u << MX_SUB_BATCH); /* superslab as baseline's */
    assert_int_equal(_hak_matrix_changed_subsystems("tiny.cache_max = 16", base), 1u << MX_SUB_SUPERSLAB);
    assert_int_equal(_hak_matrix_changed_subsystems("large.retain = 1M, madvise.batch = true", base), 1u << MX_NSUB);
    assert_int_equal(_hak_matrix_changed_subsystems("", base), 0);

    double act[MX_NACT], mode;
    char why[64];
    assert_int_equal(_hak_matrix_parse_activity(stats_json, act, &mode), 0);
    assert_int_equal(_hak_matrix_exercised(MX_SUB_BIGCACHE, act, why, sizeof why), 1);
    assert_string_equal(why, "40 BigCache lookups");
    assert_int_equal(_hak_matrix_exercised(MX_SUB_ELO, act, why, sizeof why), 1);
    assert_string_equal(why, "9 ELO windows, 6 matches");
    act[MX_A_elo_windows] = 0; /* sampled, but no window closed: not at work */
    assert_int_equal(_hak_matrix_exercised(MX_SUB_ELO, act, why, sizeof why), 0);
    assert_int_equal(_hak_matrix_exercised(MX_SUB_SUPERSLAB, act, why, sizeof why), 1);
    assert_string_equal(why, "15 slab refills");
    act[MX_A_madv_queued] = 0;
    assert_int_equal(_hak_matrix_exercised(MX_SUB_BATCH, act, why, sizeof why), 0);
    assert_string_equal(why, "0 madvise ranges queued");
    act[MX_A_bc_hits] = NAN;
    assert_int_equal(_hak_matrix_exercised(MX_SUB_BIGCACHE, act, why, sizeof why), -1);
}

static void strace_table(void **state)
{
    (void)state;
    double sys[MX_NSYS];
    assert_int_equal(_hak_matrix_parse_strace(strace_out, sys), 0);
    assert_true(sys[MX_MMAP] == 40 && sys[MX_MUNMAP] == 3 && sys[MX_MADVISE] == 2);
    /* A call never made is not listed: 0. */
    const char only_mmap[] = "% time     seconds  usecs/call     calls    errors syscall\n"
                             "------ ----------- ----------- --------- --------- ----------------\n"
                             "100.00    0.000010           1        10           mmap\n";
    assert_int_equal(_hak_matrix_parse_strace(only_mmap, sys), 0);
    assert_true(sys[MX_MMAP] == 10 && sys[MX_MUNMAP] == 0 && sys[MX_MADVISE] == 0);
    assert_int_equal(_hak_matrix_parse_strace("strace: ptrace(PTRACE_TRACEME, ...): Operation not permitted\n", sys),
                     -1);
}

static char seen[8][2][MX_LABEL];
static int nseen;
static void collect(const char *name, const char *label, void *arg)
{
    (void)arg;
    snprintf(seen[nseen][0], MX_LABEL, "%s", name);
    snprintf(seen[nseen][1], MX_LABEL, "%s", label);
    nseen++;
}

static void ini_profiles(void **state)
{
    (void)state;
    nseen = 0;
    assert_int_equal(_hak_matrix_ini_sections(ini_text, "profile", collect, NULL), 4);
    assert_int_equal(nseen, 4);
    assert_string_equal(seen[0][0], "baseline");
    assert_string_equal(seen[0][1], "bigcache.enabled = true, madvise.batch = true");
    assert_string_equal(seen[1][0], "no-bigcache");
    assert_string_equal(seen[1][1], "bigcache.enabled = false");
    assert_string_equal(seen[2][0], "spaced");
    assert_string_equal(seen[3][0], "empty");
    assert_string_equal(seen[3][1], "");
}

static void ini_workloads(void **state)
{
    (void)state;
    nseen = 0;
    assert_int_equal(_hak_matrix_ini_sections(ini_text, "workload", collect, NULL), 1);
    assert_string_equal(seen[0][0], "py");
    assert_string_equal(seen[0][1], "command = python3 -c 'print(1, 2)'");
}

/* ---- A recorded matrix ------------------------------------------------------------- */

/* Per-round noise of a quiet machine, a fraction: every round its own. */
static const double noise[3][8] = {
    { 0.004, -0.003, 0.001, -0.002, 0.005, -0.004, 0.002, -0.001 },
    { -0.002, 0.003, 0.001, -0.004, 0.002, 0.000, -0.001, 0.004 },
    { 0.001, -0.001, 0.003, 0.002, -0.003, 0.004, -0.002, 0.000 },
};

/* baseline, no-bigcache and glibc on vm and larson, runs rounds (at most
 * 8): no-bigcache is 50 % slower on vm, where baseline's BigCache works,
 * and the same on larson, where it does nothing; glibc is level on vm and
 * half as fast on larson. */
static struct mx_matrix *recorded(int runs)
{
    struct mx_matrix *m = calloc(1, sizeof *m);
    m->nconfigs = 3;
    m->nworkloads = 2;
    m->runs = m->rounds[0] = m->rounds[1] = runs;
    m->seed = 18446744073709551557ull;
    snprintf(m->info, sizeof m->info, "recorded");
    snprintf(m->config[0].name, MX_NAME, "baseline");
    snprintf(m->config[0].label, MX_LABEL, "bigcache.enabled = true");
    snprintf(m->config[1].name, MX_NAME, "no-bigcache");
    snprintf(m->config[1].label, MX_LABEL, "bigcache.enabled = false");
    snprintf(m->config[2].name, MX_NAME, "glibc");
    m->config[2].kind = MX_PEER;
    snprintf(m->workload[0], MX_NAME, "vm");
    snprintf(m->what[0], MX_LABEL, "one iteration");
    snprintf(m->workload[1], MX_NAME, "larson");
    snprintf(m->what[1], MX_LABEL, "one replacement");
    m->wkind[1] = MX_W_LARSON;
    static const double vm_ns[3] = { 100, 150, 100 }, larson_ops[3] = { 100e6, 100e6, 50e6 };
    for (int c = 0; c < 3; c++)
        for (int r = 0; r < runs; r++) {
            double ns = vm_ns[c] * (1 + noise[c][r]), ops = larson_ops[c] * (1 + noise[c][r]);
            struct mx_sample *v = &m->sample[0][c][r], *l = &m->sample[1][c][r];
            *v = (struct mx_sample){ .ok = true, .ns = ns, .p95 = ns * 1.5, .p99 = ns * 2, .ops_per_s = 1e9 / ns,
                                     .faults = c == 1 ? 10 : 0, .rss_kib = 20480, .ops = 23, .cpu_ns = ns,
                                     .seed = 1000u + (unsigned)r, .mode = c == 2 ? NAN : MX_MODE_LEARN,
                                     .phase_ns = { NAN, NAN } };
            *l = (struct mx_sample){ .ok = true, .ns = 1e9 / ops, .p95 = NAN, .p99 = NAN, .ops_per_s = ops,
                                     .faults = 0.001, .rss_kib = 10240, .ops = ops, .cpu_ns = 2e9 / ops,
                                     .mode = c == 2 ? NAN : MX_MODE_LEARN, .phase_ns = { NAN, NAN } };
            for (int k = 0; k < MX_NACT; k++) {
                v->act[k] = l->act[k] = c == 2 ? NAN : 0;
            }
            if (c == 0) {
                v->act[MX_A_bc_hits] = 36;
                v->act[MX_A_bc_misses] = 4;
            }
            if (c != 2)
                v->act[MX_A_huge_allocs] = l->act[MX_A_refill_local] = 40;
        }
    for (int w = 0; w < 2; w++)
        for (int c = 0; c < 3; c++) {
            m->ops_base[w][c] = 1;
            m->ops_full[w][c] = 23;
            for (int k = 0; k < MX_NSYS; k++) {
                m->sys_base[w][c][k] = 5;
                m->sys_full[w][c][k] = c == 1 && k != MX_MADVISE ? 5 + 22 * 10 : 5;
            }
        }
    m->sys_full[1][2][MX_MMAP] = NAN; /* a peer without strace */
    _hak_matrix_summarize(m);
    return m;
}

static void summarize(void **state)
{
    (void)state;
    struct mx_matrix *m = recorded(8);
    const struct mx_summary *b = &m->sum[0][0], *nb = &m->sum[0][1], *g = &m->sum[0][2];
    assert_int_equal(b->n, 8);
    assert_true(fabs(b->ns - 100) < 0.5 && fabs(b->p95 / b->ns - 1.5) < 0.01);
    assert_true(b->verdict == MX_V_NONE && isnan(b->ratio));
    /* 8 rounds: the interval holds the 4th smallest to 4th largest of 36
     * Walsh averages; every round says 1.5, so all of it is near 1.5. */
    assert_int_equal(nb->pairs, 8);
    assert_true(fabs(nb->ratio - 1.5) < 0.01 && nb->lo > 1.49 && nb->hi < 1.51 && nb->lo <= nb->ratio);
    assert_true(nb->p == 2.0 / 256 && nb->discovery && nb->verdict == MX_V_SLOWER);
    assert_true(nb->faults == 10 && nb->sys[MX_MMAP] == 10 && nb->sys[MX_MADVISE] == 0);
    assert_true(nb->act[MX_A_bc_hits] == 0 && b->act[MX_A_bc_hits] == 36 && b->mode == MX_MODE_LEARN);
    assert_true(isnan(g->act[MX_A_bc_hits]) && isnan(g->mode));
    assert_true(g->verdict == MX_V_SAME && g->lo >= 0.98 && g->hi <= 1.02);
    assert_true(isnan(m->sum[1][0].p95));
    assert_true(m->sum[1][1].verdict == MX_V_SAME);
    assert_true(m->sum[1][2].verdict == MX_V_SLOWER && fabs(m->sum[1][2].ratio - 2) < 0.02);
    assert_true(isnan(m->sum[1][2].sys[MX_MMAP]) && m->sum[1][2].sys[MX_MUNMAP] == 0);
    /* Four cells; the two differences pass Benjamini-Hochberg at 5 %. */
    assert_int_equal(m->cells, 4);
    assert_int_equal(m->discoveries, 2);
    assert_true(m->bh_cut >= 2.0 / 256);
    /* The gap: glibc is level with baseline on vm, half as fast on larson
     * (then baseline is the faster, and the gap negative). */
    assert_int_equal(m->gap[0].peer, 2);
    assert_true(m->gap[0].lo < 1 && m->gap[0].hi > 1);
    assert_true(fabs(m->gap[1].ratio - 0.5) < 0.01);
    /* The widest interval of vm: the one of glibc or no-bigcache, under 2 %. */
    int cell;
    double w = _hak_matrix_widest(m, 0, &cell);
    assert_true(w > 0 && w < 0.02 && (cell == 1 || cell == 2));
    free(m);

    m = recorded(5); /* under six rounds: no interval, nothing judged */
    assert_int_equal(m->sum[0][1].verdict, MX_V_FEW);
    assert_true(isnan(m->sum[0][1].ratio) && m->sum[0][1].pairs == 5);
    assert_int_equal(m->cells, 0);
    assert_true(isinf(_hak_matrix_widest(m, 0, NULL)));
    free(m);

    m = recorded(8); /* a failed run drops its round from the pairs */
    m->sample[0][1][3].ok = false;
    _hak_matrix_summarize(m);
    assert_int_equal(m->sum[0][1].n, 7);
    assert_int_equal(m->sum[0][1].pairs, 7);
    free(m);
}

/* ---- Outputs ------------------------------------------------------------------------- */

/* What fn writes, to free. Not inlined: GCC 12 then mistakes the returned
 * buffer for the local it was reached through (-Wdangling-pointer). */
__attribute__((noinline)) static char *render(void (*fn)(FILE *, const struct mx_matrix *), const struct mx_matrix *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, m);
    fclose(f);
    return buf;
}

static void table_and_attribution(void **state)
{
    (void)state;
    struct mx_matrix *m = recorded(8);
    char *t = render(_hak_matrix_print_table, m);
    assert_non_null(strstr(t, "\nvm — op: one iteration\n"));
    assert_non_null(strstr(t, "(ref)"));
    assert_non_null(strstr(t, " slower "));
    assert_non_null(strstr(t, " same "));
    assert_non_null(strstr(t, " 8/8\n"));
    /* baseline's activity, and no-bigcache's, which differs (no lookups). */
    assert_non_null(strstr(t, "  activity of baseline: BigCache 40 lookups, 36 hits, 0 evictions; ELO 0 windows"));
    assert_non_null(strstr(t, "  activity of no-bigcache: BigCache 0 lookups"));
    assert_non_null(strstr(t, "4 cells with an interval; 2 passed the false-discovery check"));
    free(t);
    char *a = render(_hak_matrix_print_attribution, m);
    assert_non_null(strstr(a, "  no-bigcache (bigcache.enabled = false):\n    slower: vm +50.0% ["));
    assert_non_null(strstr(a, "], +10 faults/op, +10 mmap/op, +10 munmap/op\n"));
    /* larson: the same, but BigCache did nothing there: not a finding. */
    assert_non_null(strstr(a, "    not exercised: larson (0 BigCache lookups)\n"));
    assert_null(strstr(a, "same: larson"));
    free(a);
    free(m);

    m = recorded(5);
    a = render(_hak_matrix_print_attribution, m);
    assert_non_null(strstr(a, "    too few runs: vm\n"));
    free(a);
    t = render(_hak_matrix_print_table, m);
    assert_non_null(strstr(t, "n/a                        too few runs"));
    free(t);
    free(m);

    /* The A/A check: baseline again under a second name comes out the
     * same; made 50 % slower on vm, it is one false discovery. */
    m = recorded(8);
    m->nconfigs = 4;
    snprintf(m->config[3].name, MX_NAME, MX_SENTINEL);
    snprintf(m->config[3].label, MX_LABEL, "%s", m->config[0].label);
    m->config[3].sentinel = true;
    for (int w = 0; w < 2; w++)
        for (int r = 0; r < 8; r++) {
            m->sample[w][3][r] = m->sample[w][0][r];
            m->sample[w][3][r].ns *= 1 + noise[2][r];
        }
    _hak_matrix_summarize(m);
    t = render(_hak_matrix_print_table, m);
    assert_non_null(strstr(t, "A/A check: baseline-aa, baseline under a second name, came out faster or slower on 0 "
                              "of 2 workloads"));
    free(t);
    for (int r = 0; r < 8; r++)
        m->sample[0][3][r].ns *= 1.5;
    _hak_matrix_summarize(m);
    t = render(_hak_matrix_print_table, m);
    assert_non_null(strstr(t, "came out faster or slower on 1 of 2 workloads"));
    free(t);
    free(m);

    /* A phased scenario: each configuration's median per phase. */
    m = recorded(8);
    for (int c = 0; c < 3; c++)
        for (int r = 0; r < 8; r++) {
            m->sample[0][c][r].phase_ns[0] = 10.0 * (c + 1);
            m->sample[0][c][r].phase_ns[1] = 20.0 * (c + 1);
        }
    _hak_matrix_summarize(m);
    t = render(_hak_matrix_print_table, m);
    assert_non_null(strstr(t, "\n  per phase (median/op, phase 1 / 2): baseline 10.0 ns / 20.0 ns; no-bigcache "
                              "20.0 ns / 40.0 ns; glibc 30.0 ns / 60.0 ns\n"));
    const char *phases = strstr(t, "per phase");
    assert_non_null(phases);
    assert_null(strstr(phases + 1, "per phase")); /* larson is not phased */
    free(t);
    free(m);

    /* A difference where the subsystem did nothing is said to be no doing of it. */
    m = recorded(8);
    for (int r = 0; r < 8; r++)
        m->sample[1][1][r].ns *= 1.3;
    _hak_matrix_summarize(m);
    a = render(_hak_matrix_print_attribution, m);
    assert_non_null(strstr(a, " although not exercised (0 BigCache lookups)"));
    free(a);
    /* … and names another final threshold, which moves large blocks anyway. */
    for (int r = 0; r < 8; r++)
        m->sample[1][1][r].act[MX_A_elo_threshold] = 2 * 1048576;
    for (int r = 0; r < 8; r++)
        m->sample[1][0][r].act[MX_A_elo_threshold] = 2.25 * 1048576;
    _hak_matrix_summarize(m);
    a = render(_hak_matrix_print_attribution, m);
    assert_non_null(strstr(a, " although not exercised (0 BigCache lookups; threshold 2.00 MiB against baseline's "
                              "2.25 MiB)"));
    /* larson makes no large allocation: another threshold is no other activity. */
    t = render(_hak_matrix_print_table, m);
    const char *larson = strstr(t, "\nlarson — ");
    assert_non_null(larson);
    assert_null(strstr(larson, "activity of no-bigcache"));
    free(t);
    free(a);
    free(m);
}

static void csv_json_plot(void **state)
{
    (void)state;
    struct mx_matrix *m = recorded(8);
    char *c = render(_hak_matrix_write_csv, m);
    assert_true(strncmp(c, "workload,configuration,kind,runs,ok_runs,median_ns,", 50) == 0);
    assert_non_null(strstr(c, ",pairs,ratio,ratio_lo,ratio_hi,p,discovery,verdict\n"));
    assert_non_null(strstr(c, "\nvm,baseline,hakmem,8,8,"));
    assert_non_null(strstr(c, ",0.0078125,1,slower\n"));
    assert_non_null(strstr(c, ",same\n"));
    int lines = 0;
    for (const char *p = c; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 2 * 3);
    free(c);

    char *j = render(_hak_matrix_write_json, m);
    const char head[] = "{\"info\": \"recorded\",\n \"runs\": 8,\n \"seed\": 18446744073709551557,\n \"args\": [],\n"
                        " \"configurations\": [\n  {\"name\": \"baseline\", \"kind\": \"hakmem\", \"label\": "
                        "\"bigcache.enabled = true\"},";
    assert_true(strncmp(j, head, strlen(head)) == 0);
    assert_non_null(strstr(j, "{\"name\": \"larson\", \"op\": \"one replacement\", \"kind\": \"larson\", \"rounds\": 8}"));
    assert_non_null(strstr(j, "\"p\": 0.0078125, \"discovery\": true, \"verdict\": \"slower\", \"activity\": {"
                              "\"bigcache.hits\": 0,"));
    assert_non_null(strstr(j, "\"verdict\": null, \"activity\": {\"bigcache.hits\": 36, \"bigcache.misses\": 4,"));
    assert_non_null(strstr(j, "\"evo.mode\": \"learn\"}"));
    assert_non_null(strstr(j, "\"runs\": [{\"ok\": true, \"seed\": 1000, \"median_ns\": 100.4,"));
    assert_non_null(strstr(j, "{\"ok\": true, \"median_ns\": ")); /* a peer's run: no seed, no activity */
    assert_string_equal(j + strlen(j) - 5, "]}]}\n");
    free(j);

    char *d = render(_hak_matrix_write_plot_data, m);
    assert_true(strncmp(d, "workload \"baseline\" \"no-bigcache\" \"glibc\"\n\"vm\" 1 1.", 50) == 0);
    free(d);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    _hak_matrix_write_plot_script(f, m, "/d/matrix.dat", "/d/matrix.svg");
    fclose(f);
    assert_non_null(strstr(buf, "set terminal svg "));
    assert_non_null(strstr(buf, "set output '/d/matrix.svg'\n"));
    assert_non_null(strstr(buf, "plot for [i=2:4] '/d/matrix.dat' using "));
    assert_non_null(strstr(buf, "linecolor rgb word(colors, (i - 2) % 16 + 1)"));
    /* Bars span from 1 (the reference) to the ratio, not from the axis. */
    assert_non_null(strstr(buf, "(column(i) < 1 ? column(i) : 1):(column(i) < 1 ? 1 : column(i)) with boxxyerror"));
    assert_null(strstr(buf, "histogram"));
    free(buf);
    free(m);
}

static void gaps(void **state)
{
    (void)state;
    struct mx_matrix *m = recorded(8);
    char *g = render(_hak_matrix_print_gaps, m);
    /* vm: level with glibc; BigCache saves ~50 ns of baseline's ~100, so
     * without it the gap would be 50 ns: unexplained +50 ns. */
    assert_non_null(strstr(g, "  vm: baseline 100."));
    assert_non_null(strstr(g, "    BigCache             (no-bigcache): saves 50."));
    assert_non_null(strstr(g, "    unexplained:         +50."));
    /* larson: BigCache idle; baseline is twice glibc's speed. */
    assert_non_null(strstr(g, "  larson: baseline 10.0 ns, glibc 20.0 ns: -50.0% ["));
    assert_non_null(strstr(g, "(no-bigcache): not exercised (0 BigCache lookups)\n"));
    free(g);
    free(m);
}

/* matrix.json read back: the same runs, so the same summaries. */
static void json_round_trip(void **state)
{
    (void)state;
    struct mx_matrix *m = recorded(8), *back = malloc(sizeof *back);
    m->nargs = 2;
    snprintf(m->args[0], MX_CMD, "--workloads");
    snprintf(m->args[1], MX_CMD, "vm,\"larson\"\n");
    char *j = render(_hak_matrix_write_json, m), err[128];
    assert_int_equal(_hak_matrix_read_json(j, back, err, sizeof err), 0);
    assert_int_equal(back->nconfigs, 3);
    assert_int_equal(back->nworkloads, 2);
    assert_true(back->seed == m->seed && back->rounds[0] == 8 && back->wkind[1] == MX_W_LARSON);
    assert_int_equal(back->nargs, 2);
    assert_string_equal(back->args[1], "vm,\"larson\"\n");
    assert_string_equal(back->config[1].label, "bigcache.enabled = false");
    assert_int_equal(back->config[2].kind, MX_PEER);
    for (int w = 0; w < 2; w++)
        for (int c = 0; c < 3; c++) {
            const struct mx_summary *x = &m->sum[w][c], *y = &back->sum[w][c];
            assert_int_equal(x->verdict, y->verdict);
            assert_true(x->n == y->n && fabs(x->ns - y->ns) < 1e-6 * x->ns);
            assert_true(isnan(x->ratio) ? isnan(y->ratio) : fabs(x->ratio - y->ratio) < 1e-9);
            assert_true(x->sys[MX_MMAP] == y->sys[MX_MMAP] || (isnan(x->sys[MX_MMAP]) && isnan(y->sys[MX_MMAP])));
        }
    assert_true(back->sample[0][0][2].seed == 1002 && back->sample[0][0][2].act[MX_A_bc_hits] == 36);
    free(j);
    assert_int_equal(_hak_matrix_read_json("{\"runs\": 3}", back, err, sizeof err), -1);
    assert_int_equal(_hak_matrix_read_json("{\"info\": \"x\", \"configurations\": []}", back, err, sizeof err), -1);
    free(back);
    free(m);
}

/* Two matrices: B made no-bigcache 10 % slower on vm, on a machine 20 %
 * slower for everything (glibc too); against glibc that change stands out
 * and the machine's cancels. */
static void compare_two(void **state)
{
    (void)state;
    struct mx_matrix *a = recorded(8), *b = recorded(8);
    for (int w = 0; w < 2; w++)
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 8; r++)
                b->sample[w][c][r].ns *= 1.2 * (w == 0 && c == 1 ? 1.1 : 1) * (1 + noise[(c + 1) % 3][7 - r]);
    _hak_matrix_summarize(b);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(_hak_matrix_compare(f, a, b), 1);
    fclose(f);
    assert_non_null(strstr(buf, "timed against glibc"));
    assert_non_null(strstr(buf, "\nvm             no-bigcache "));
    const char *line = strstr(buf, "\nvm             no-bigcache ");
    assert_non_null(strstr(line, "+10.")); /* B against A: +10 % */
    assert_true(strstr(line, "slower") && strstr(line, "slower") < strchr(line + 1, '\n'));
    line = strstr(buf, "\nvm             baseline ");
    assert_true(strstr(line, "same") && strstr(line, "same") < strchr(line + 1, '\n'));
    line = strstr(buf, "\nvm             glibc ");
    assert_true(strstr(line, " raw ") && strstr(line, "+20."));
    free(buf);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario_line),
        cmocka_unit_test(larson_lines),
        cmocka_unit_test(allocator_line),
        cmocka_unit_test(json_reader),
        cmocka_unit_test(activity),
        cmocka_unit_test(subsystems),
        cmocka_unit_test(strace_table),
        cmocka_unit_test(ini_profiles),
        cmocka_unit_test(ini_workloads),
        cmocka_unit_test(summarize),
        cmocka_unit_test(table_and_attribution),
        cmocka_unit_test(csv_json_plot),
        cmocka_unit_test(gaps),
        cmocka_unit_test(json_round_trip),
        cmocka_unit_test(compare_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
