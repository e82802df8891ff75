/* test_matrix.c — the pure parts of `hakmem matrix` on recorded inputs: reading bench_allocators, larson, hakmem's statistics, strace -c and hakmem.ini; median, percentiles, spread and the delta-vs-spread judgement; the table, attribution, CSV, JSON and plot outputs. */
#include "unit.h"
#include "../../bench/matrix.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- Recorded inputs ------------------------------------------------------------- */

static const char scenario_out[] =
    "scenario json iterations=100 warmup=10 median_ns=223843 p95_ns=260001 p99_ns=301234 faults_median=0.0\n"
    "scenario vm iterations=20 warmup=3 median_ns=1273642 p95_ns=1541419 p99_ns=1541420 faults_median=6.0\n";

static const char larson_out[] = "Throughput = 50701234 operations per second, relative time: 19.723s.\n";
static const char larson_err[] = "allocator: hakmem\nlarson: 50718220 operations by 6 threads in 1.000 s\n";

/* hakmem's statistics file (shortened): "madvise" is also an object of its own after "os". */
static const char stats_json[] =
    "{\"hakmem\": {\"version\": \"0.1.0\", \"pid\": 29829, \"profile\": \"\", \"counters\": true},\n"
    " \"huge\": {\"alloc\": 60, \"alloc_bytes\": 125829120, \"live_blocks\": 0, \"live_bytes\": 0},\n"
    " \"os\": {\"mmap\": 44, \"mmap_bytes\": 172920832, \"mmap_fail\": 0, \"munmap\": 65, \"munmap_bytes\": "
    "161312768, \"madvise\": 40, \"madvise_bytes\": 83886080, \"minor_faults\": 188, \"rss_bytes\": 10383360},\n"
    " \"madvise\": {\"queued\": 36, \"immediate\": 0, \"batches\": 18, \"unmaps\": 23, \"bytes\": 75497472}\n}\n";

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
    "[profile empty]\n";

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
    assert_true(s.ns == 223843 && s.ops == 110);
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

static void hakmem_stats(void **state)
{
    (void)state;
    double sys[MX_NSYS];
    assert_int_equal(_hak_matrix_parse_hakmem_stats(stats_json, sys), 0);
    assert_true(sys[MX_MMAP] == 44 && sys[MX_MUNMAP] == 65 && sys[MX_MADVISE] == 40);
    assert_int_equal(_hak_matrix_parse_hakmem_stats("{\"hakmem\": {\"counters\": false}}", sys), -1);
    /* A key outside the os object is not taken for one inside it. */
    assert_int_equal(_hak_matrix_parse_hakmem_stats("{\"os\": {\"mmap\": 1, \"munmap\": 2}, \"madvise\": 3}", sys), -1);
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
    assert_int_equal(_hak_matrix_ini_profiles(ini_text, collect, NULL), 4);
    assert_int_equal(nseen, 4);
    assert_string_equal(seen[0][0], "baseline");
    assert_string_equal(seen[0][1], "bigcache.enabled = true, madvise.batch = true");
    assert_string_equal(seen[1][0], "no-bigcache");
    assert_string_equal(seen[1][1], "bigcache.enabled = false");
    assert_string_equal(seen[2][0], "spaced");
    assert_string_equal(seen[3][0], "empty");
    assert_string_equal(seen[3][1], "");
}

/* ---- Statistics -------------------------------------------------------------------- */

static void median_percentile_spread(void **state)
{
    (void)state;
    double v[] = { 5, NAN, 1, 4, 2, 3 };
    assert_int_equal(_hak_matrix_sort(v, 6), 5);
    assert_true(v[0] == 1 && v[4] == 5 && isnan(v[5]));
    assert_true(_hak_matrix_median(v, 5) == 3);
    assert_true(_hak_matrix_median(v, 4) == 2.5);
    assert_true(isnan(_hak_matrix_median(v, 0)));
    assert_true(fabs(_hak_matrix_spread(v, 5) - 4.0 / 3) < 1e-12);
    assert_true(isnan(_hak_matrix_spread(v, 1)));

    double h[100];
    for (int i = 0; i < 100; i++)
        h[i] = i + 1;
    assert_true(_hak_matrix_percentile(h, 100, 95) == 95);
    assert_true(_hak_matrix_percentile(h, 100, 99) == 99);
    assert_true(_hak_matrix_percentile(h, 100, 50) == 50);
    assert_true(_hak_matrix_percentile(h, 3, 95) == 3);  /* ceil(2.85) = rank 3 */
    assert_true(_hak_matrix_percentile(h, 20, 95) == 19);
    assert_true(_hak_matrix_percentile(h, 1, 99) == 1);
    assert_true(isnan(_hak_matrix_percentile(h, 0, 99)));
}

static void judge(void **state)
{
    (void)state;
    assert_int_equal(_hak_matrix_judge(0.10, 0.05, 0.08), MX_BEYOND);
    assert_int_equal(_hak_matrix_judge(-0.10, 0.05, 0.08), MX_BEYOND);
    assert_int_equal(_hak_matrix_judge(0.07, 0.05, 0.08), MX_INSIDE);
    assert_int_equal(_hak_matrix_judge(-0.08, 0.08, 0.01), MX_INSIDE); /* at the spread: not beyond it */
    assert_int_equal(_hak_matrix_judge(0.5, NAN, 0.01), MX_UNKNOWN);
    assert_int_equal(_hak_matrix_judge(NAN, 0.01, 0.01), MX_NONE);
}

/* A recorded matrix: baseline, one profile and a peer on vm (3 runs) and
 * larson; the profile is 50% slower on vm, the peer within the spread. */
static struct mx_matrix *recorded(int runs)
{
    struct mx_matrix *m = calloc(1, sizeof *m);
    m->nconfigs = 3;
    m->nworkloads = 2;
    m->runs = runs;
    snprintf(m->info, sizeof m->info, "recorded");
    snprintf(m->config[0].name, MX_NAME, "baseline");
    snprintf(m->config[1].name, MX_NAME, "no-bigcache");
    snprintf(m->config[1].label, MX_LABEL, "bigcache.enabled = false");
    snprintf(m->config[2].name, MX_NAME, "glibc");
    m->config[2].kind = MX_PEER;
    snprintf(m->workload[0], MX_NAME, "vm");
    snprintf(m->what[0], MX_LABEL, "one iteration");
    snprintf(m->workload[1], MX_NAME, "larson");
    snprintf(m->what[1], MX_LABEL, "one replacement");
    static const double vm_ns[3][3] = { { 100, 104, 98 }, { 150, 152, 149 }, { 101, 97, 103 } };
    static const double vm_faults[3][3] = { { 0, 0, 0 }, { 10, 10, 10 }, { 0, 0, 1 } };
    static const double larson_ops[3][3] = { { 100e6, 98e6, 102e6 }, { 99e6, 101e6, 100e6 }, { 50e6, 51e6, 49e6 } };
    for (int c = 0; c < 3; c++)
        for (int r = 0; r < runs; r++) {
            m->sample[0][c][r] = (struct mx_sample){ true, vm_ns[c][r], vm_ns[c][r] * 1.5, vm_ns[c][r] * 2,
                                                     1e9 / vm_ns[c][r], vm_faults[c][r], 20480, 23 };
            m->sample[1][c][r] = (struct mx_sample){ true, 1e9 / larson_ops[c][r], NAN, NAN, larson_ops[c][r],
                                                     0.001, 10240, larson_ops[c][r] };
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
    struct mx_matrix *m = recorded(3);
    const struct mx_summary *b = &m->sum[0][0], *nb = &m->sum[0][1], *g = &m->sum[0][2];
    assert_int_equal(b->n, 3);
    assert_true(b->ns == 100 && b->p95 == 150 && b->p99 == 200);
    assert_true(fabs(b->spread - 0.06) < 1e-12);
    assert_true(isnan(b->delta) && b->mark == MX_NONE);
    assert_true(fabs(nb->delta - 0.5) < 1e-12 && nb->mark == MX_BEYOND);
    assert_true(nb->faults == 10 && nb->sys[MX_MMAP] == 10 && nb->sys[MX_MADVISE] == 0);
    assert_true(fabs(g->delta - 0.01) < 1e-12 && g->mark == MX_INSIDE);
    assert_true(isnan(m->sum[1][0].p95));
    assert_true(m->sum[1][2].mark == MX_BEYOND && m->sum[1][2].delta > 0.9);
    assert_true(isnan(m->sum[1][2].sys[MX_MMAP]) && m->sum[1][2].sys[MX_MUNMAP] == 0);
    free(m);

    m = recorded(1); /* one run: no spread, nothing judged */
    assert_true(isnan(m->sum[0][0].spread));
    assert_int_equal(m->sum[0][1].mark, MX_UNKNOWN);
    free(m);
}

/* ---- Outputs ------------------------------------------------------------------------- */

static char *render(void (*fn)(FILE *, const struct mx_matrix *), const struct mx_matrix *m)
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
    struct mx_matrix *m = recorded(3);
    char *t = render(_hak_matrix_print_table, m);
    assert_non_null(strstr(t, "\nvm — op: one iteration\n"));
    assert_non_null(strstr(t, "(ref)"));
    assert_non_null(strstr(t, "+50.0%  "));  /* beyond the spread: no marker */
    assert_non_null(strstr(t, "+1.0% ~"));   /* inside it */
    assert_non_null(strstr(t, "100.0 ns"));  /* vm baseline median */
    assert_non_null(strstr(t, "6.0%"));      /* its spread */
    assert_non_null(strstr(t, " 3/3\n"));
    free(t);
    char *a = render(_hak_matrix_print_attribution, m);
    assert_string_equal(a, "\nAttribution: what each profile changed against baseline "
                           "(only deltas beyond the spread):\n"
                           "  no-bigcache (bigcache.enabled = false): vm +50.0% time (spread 6.0%), +10 faults/op, "
                           "+10 mmap/op, +10 munmap/op. Within the spread: larson.\n");
    free(a);
    free(m);

    m = recorded(1);
    a = render(_hak_matrix_print_attribution, m);
    assert_non_null(strstr(a, "no-bigcache (bigcache.enabled = false): no difference beyond the spread. "
                              "Too few runs to judge: vm, larson.\n"));
    free(a);
    t = render(_hak_matrix_print_table, m);
    assert_non_null(strstr(t, "+50.0% ?"));
    free(t);
    free(m);
}

static void csv_json_plot(void **state)
{
    (void)state;
    struct mx_matrix *m = recorded(3);
    char *c = render(_hak_matrix_write_csv, m);
    assert_true(strncmp(c, "workload,configuration,kind,runs,ok_runs,median_ns,", 50) == 0);
    assert_non_null(strstr(c, "\nvm,baseline,hakmem,3,3,100,150,200,10000000,0,20480,0,0,0,6,,\n"));
    assert_non_null(strstr(c, "\nvm,no-bigcache,hakmem,3,3,150,225,300,6666666.667,10,20480,10,10,0,2,50,beyond\n"));
    assert_non_null(strstr(c, ",50,beyond\n"));
    assert_non_null(strstr(c, "\nlarson,glibc,peer,3,3,20,,,50000000,0.001,10240,,0,0,"));
    int lines = 0;
    for (const char *p = c; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 2 * 3);
    free(c);

    char *j = render(_hak_matrix_write_json, m);
    const char head[] = "{\"info\": \"recorded\",\n \"runs\": 3,\n \"configurations\": [\n  {\"name\": \"baseline\", "
                        "\"kind\": \"hakmem\", \"label\": \"\"},";
    assert_true(strncmp(j, head, strlen(head)) == 0);
    assert_non_null(strstr(j, "{\"workload\": \"larson\", \"configuration\": \"baseline\", \"ok_runs\": 3, "
                              "\"median_ns\": 10, \"p95_ns\": null, \"p99_ns\": null,"));
    assert_non_null(strstr(j, "\"delta\": 0.5, \"delta_vs_spread\": \"beyond\""));
    assert_non_null(strstr(j, "\"delta\": null, \"delta_vs_spread\": null"));
    assert_non_null(strstr(j, "\"runs\": [{\"ok\": true, \"median_ns\": 100, \"p95_ns\": 150,"));
    assert_string_equal(j + strlen(j) - 5, "]}]}\n");
    free(j);

    char *d = render(_hak_matrix_write_plot_data, m);
    assert_string_equal(d, "workload \"baseline\" \"no-bigcache\" \"glibc\"\n"
                           "\"vm\" 1 1.5 1.01\n"
                           "\"larson\" 1 1 2\n");
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
    free(buf);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario_line),
        cmocka_unit_test(larson_lines),
        cmocka_unit_test(allocator_line),
        cmocka_unit_test(hakmem_stats),
        cmocka_unit_test(strace_table),
        cmocka_unit_test(ini_profiles),
        cmocka_unit_test(median_percentile_spread),
        cmocka_unit_test(judge),
        cmocka_unit_test(summarize),
        cmocka_unit_test(table_and_attribution),
        cmocka_unit_test(csv_json_plot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
