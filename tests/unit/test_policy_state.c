/* test_policy_state.c — the policy state file: the format on buffers (round
 * trip, every truncation, every byte flip, wrong version, bad syntax,
 * foreign parameters), concurrent writers against a reader, and the policy
 * loading and writing it (frozen runs the loaded leader; each bad file warns
 * once and counts as absent; a fork child writes only what it learned). */
#include "unit.h"
#include "fmt.h"
#include "hakmem.h"
#include "options.h"
#include "policy/policy.h"
#include "policy/state.h"
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

static char dir[64]; /* a fresh directory for this run's files */

static const struct elo_params defaults = {
    .count = 12, .min_threshold = 512 * KiB, .max_threshold = 32 * MiB, .k = 32, .initial = 1500,
    .epsilon = 0.1, .w_cpu = 0.4, .w_faults = 0.3, .w_mapped = 0.3, .draw_margin = 0.02,
    .smoothing = 0.25, .min_samples = 50, .survivors = 6, .retire_games = 3,
};

static const struct evo_params frozen_params = {
    .policy = EVO_P_FROZEN, .stable_windows = 3, .stable_eps = 0.01, .canary = 0.05, .degrade = 0.2,
    .degrade_windows = 3, .shift = 0.25,
};

static struct elo_metrics cost(double q)
{
    return (struct elo_metrics){ .cpu_ns = 1000 * q, .faults = 10 * q, .mapped = 64.0 * MiB * q };
}

/* A learner that has played: strategy 9 is best by construction, the ones
 * far from it lose and retire; the lifecycle froze with a histogram. */
static void played(struct elo *e, struct evo *v)
{
    elo_init(e, &defaults, 2 * MiB);
    for (unsigned round = 0; round < 8; round++)
        for (unsigned i = 0; i < e->p.count; i++) {
            struct elo_metrics m = cost(1.0 + fabs((double)i - 9) * 0.1);
            elo_window(e, i, 100, &m);
        }
    assert_int_equal(e->incumbent, 9);
    assert_int_equal(e->survivors, 6);
    evo_init(v, &frozen_params, e, 0);
    static const double h[EVO_BUCKETS] = { 0.5, 0.125, 0.25, 0, 0, 0.125 };
    memcpy(v->frozen_hist, h, sizeof h);
}

static size_t sample_text(char *buf, size_t cap, struct pstate *out)
{
    struct elo e;
    struct evo v;
    played(&e, &v);
    struct pstate s;
    pstate_capture(&s, &e, &v, e.s[9].threshold);
    if (out)
        *out = s;
    size_t n = pstate_format(&s, buf, cap);
    assert_true(n > 0);
    return n;
}

/* text (a file without its checksum line, NUL-terminated) signed: the
 * checksum line appended; returns the length. */
static size_t sign(char *text, size_t cap)
{
    size_t n = strlen(text);
    n += (size_t)snprintf(text + n, cap - n, "checksum %016llx\n", (unsigned long long)pstate_fnv1a(text, n));
    return n;
}

/* A valid file with the first `from` replaced by `to`, signed again. */
static size_t edited(char *out, size_t cap, const char *from, const char *to)
{
    char text[PSTATE_MAX];
    size_t n = sample_text(text, sizeof text, NULL);
    text[n - 26] = 0; /* drop "checksum <16 hex>\n" */
    char *at = strstr(text, from);
    assert_non_null(at);
    snprintf(out, cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return sign(out, cap);
}

static void expect_bad(const char *buf, size_t len, const char *why)
{
    struct pstate s;
    char err[200] = "";
    if (pstate_parse(buf, len, &s, err, sizeof err) == 0)
        fail_msg("accepted a file that should fail with '%s'", why);
    if (!strstr(err, why))
        fail_msg("error '%s', expected '%s'", err, why);
}

static void test_round_trip(void **state)
{
    (void)state;
    char text[PSTATE_MAX], again[PSTATE_MAX], err[200];
    struct pstate w, r;
    size_t n = sample_text(text, sizeof text, &w);
    assert_int_equal(pstate_parse(text, n, &r, err, sizeof err), 0);
    assert_int_equal(r.count, 12);
    assert_int_equal(r.min_threshold, 512 * KiB);
    assert_int_equal(r.max_threshold, 32 * MiB);
    assert_int_equal(r.mode, EVO_FROZEN);
    assert_int_equal(r.threshold, w.s[9].threshold);
    assert_int_equal(r.leader, 9);
    assert_int_equal(r.survivors, 6);
    assert_int_equal(r.windows, w.windows);
    assert_int_equal(r.rated, w.rated);
    assert_int_equal(r.matches, w.matches);
    assert_int_equal(r.retirements, 6);
    for (unsigned i = 0; i < 12; i++) {
        assert_int_equal(r.s[i].threshold, w.s[i].threshold);
        assert_true(r.s[i].rating == w.s[i].rating); /* exactly: the bits are stored */
        assert_int_equal(r.s[i].wins, w.s[i].wins);
        assert_int_equal(r.s[i].losses, w.s[i].losses);
        assert_int_equal(r.s[i].draws, w.s[i].draws);
        assert_int_equal(r.s[i].samples, w.s[i].samples);
        assert_int_equal(r.s[i].windows, w.s[i].windows);
        assert_int_equal(r.s[i].retired, w.s[i].retired);
    }
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        assert_true(r.hist[b] == w.hist[b]);
    assert_true(r.hist[0] == 0.5 && r.hist[5] == 0.125);
    assert_int_equal(pstate_format(&r, again, sizeof again), n);
    assert_memory_equal(again, text, n);
    assert_int_equal(pstate_format(&r, again, n - 1), 0); /* too small: nothing */

    /* Back into a fresh learner: the same leaderboard. */
    struct elo orig, e;
    struct evo v;
    played(&orig, &v);
    elo_init(&e, &defaults, 2 * MiB);
    assert_true(pstate_check(&r, &e, err, sizeof err));
    pstate_restore(&r, &e);
    assert_int_equal(e.incumbent, orig.incumbent);
    assert_int_equal(e.survivors, orig.survivors);
    for (unsigned i = 0; i < 12; i++) {
        assert_true(e.s[i].rating == orig.s[i].rating);
        assert_int_equal(e.s[i].wins + e.s[i].losses + e.s[i].draws,
                         orig.s[i].wins + orig.s[i].losses + orig.s[i].draws);
        assert_int_equal(e.s[i].retired, orig.s[i].retired);
        assert_false(e.s[i].measured); /* measurements are not carried over */
    }
    assert_int_equal(e.windows, 0);
    evo_init(&v, &frozen_params, &e, 0);
    assert_int_equal(v.frozen, 9);
    pstate_restore_hist(&r, &v);
    assert_true(v.frozen_hist[2] == 0.25);
    struct evo_params lp = frozen_params;
    lp.policy = EVO_P_LEARN;
    evo_init(&v, &lp, &e, 0);
    assert_int_equal(v.strategy, 9); /* the first window runs the leader */
    pstate_restore_hist(&r, &v);
    assert_true(v.hist_set && v.hist[0] == 0.5);
}

static void test_every_truncation_fails(void **state)
{
    (void)state;
    char text[PSTATE_MAX];
    size_t n = sample_text(text, sizeof text, NULL);
    expect_bad(text, 0, "empty");
    for (size_t len = 1; len < n; len++) {
        struct pstate s;
        char err[200] = "";
        if (pstate_parse(text, len, &s, err, sizeof err) == 0)
            fail_msg("a file cut to %zu of %zu bytes was accepted", len, n);
        assert_true(err[0] != 0);
    }
    expect_bad(text, n - 1, "truncated");
    expect_bad(text, 10, "truncated");
}

/* Every bit of every byte, and each byte inverted. */
static void test_every_byte_flip_fails(void **state)
{
    (void)state;
    char text[PSTATE_MAX];
    size_t n = sample_text(text, sizeof text, NULL);
    static const unsigned char masks[] = { 1, 2, 4, 8, 16, 32, 64, 128, 0xff };
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof masks; k++) {
            text[i] ^= (char)masks[k];
            struct pstate s;
            char err[200];
            if (pstate_parse(text, n, &s, err, sizeof err) == 0)
                fail_msg("byte %zu xor 0x%02x was accepted", i, masks[k]);
            text[i] ^= (char)masks[k];
        }
    expect_bad(text, n - 26, "no checksum line"); /* the line itself gone */
    text[n - 2] = text[n - 2] == '0' ? '1' : '0';
    expect_bad(text, n, "checksum mismatch");
}

/* Files with a valid checksum that are still wrong. */
static void test_bad_content(void **state)
{
    (void)state;
    char buf[PSTATE_MAX];
    size_t n;
    n = edited(buf, sizeof buf, "hakmem-policy-state 1\n", "hakmem-policy-state 2\n");
    expect_bad(buf, n, "format version 2, not 1");
    n = edited(buf, sizeof buf, "hakmem-policy-state 1\n", "hakmem-policy-state \n");
    expect_bad(buf, n, "no format version");
    n = edited(buf, sizeof buf, "hakmem-policy-state", "hakmem-policy-stat");
    expect_bad(buf, n, "not a policy state file");
    n = edited(buf, sizeof buf, "matches", "matched");
    expect_bad(buf, n, "unknown key 'matched'");
    n = edited(buf, sizeof buf, "rated ", "windows 1\nrated ");
    expect_bad(buf, n, "windows given twice");
    n = edited(buf, sizeof buf, "mode FROZEN", "mode ICED");
    expect_bad(buf, n, "mode is not");
    n = edited(buf, sizeof buf, "survivors 6", "survivors  6");
    expect_bad(buf, n, "malformed");
    n = edited(buf, sizeof buf, "survivors 6", "survivors 7");
    expect_bad(buf, n, "survivors 7, but 6");
    n = edited(buf, sizeof buf, "leader 9", "leader 0"); /* retired, far from 9 */
    expect_bad(buf, n, "not a surviving strategy");
    n = edited(buf, sizeof buf, "leader_threshold ", "leader_threshold 1");
    expect_bad(buf, n, "leader_threshold is not");
    n = edited(buf, sizeof buf, "count 12", "count 11");
    expect_bad(buf, n, "strategy 11 beyond count");
    n = edited(buf, sizeof buf, "count 12", "count 33");
    expect_bad(buf, n, "count 33 is not");
    n = edited(buf, sizeof buf, "hist 3 ", "hist 2 ");
    expect_bad(buf, n, "given twice");
    n = edited(buf, sizeof buf, "hist 0 0.500000 3fe0000000000000", "hist 0 0.500000 3FE0000000000000");
    expect_bad(buf, n, "a hist line is");
    n = edited(buf, sizeof buf, "hist 0 0.500000 3fe0000000000000", "hist 0 2.000000 4000000000000000");
    expect_bad(buf, n, "not between 0 and 1");
    n = edited(buf, sizeof buf, "hist 0 0.500000 3fe0000000000000", "hist 0 0.250000 3fd0000000000000");
    expect_bad(buf, n, "do not sum to 1");
    n = edited(buf, sizeof buf, " survivor\nstrategy 10", " survivor 7\nstrategy 10");
    expect_bad(buf, n, "a strategy line is");
    n = edited(buf, sizeof buf, "hist 15 0.000000 0000000000000000\n", "");
    expect_bad(buf, n, "hist bucket 15 missing");
    n = edited(buf, sizeof buf, "retirements 6\n", "");
    expect_bad(buf, n, "retirements missing");

    n = sample_text(buf, sizeof buf, NULL);
    buf[n - 26] = 0;
    char *rating = strstr(buf, "strategy 9 ");
    rating = strchr(rating + strlen("strategy 9 "), ' ') + 1; /* the decimal */
    rating = strchr(rating, ' ') + 1;                            /* the bits */
    memcpy(rating, "7ff8000000000000", 16);                      /* NaN */
    n = sign(buf, sizeof buf);
    expect_bad(buf, n, "not a finite number");
}

static void test_foreign_parameters(void **state)
{
    (void)state;
    char buf[PSTATE_MAX], err[200];
    struct pstate s;
    size_t n = sample_text(buf, sizeof buf, NULL);
    assert_int_equal(pstate_parse(buf, n, &s, err, sizeof err), 0);
    struct elo e;
    struct elo_params p = defaults;
    p.count = 10;
    elo_init(&e, &p, 2 * MiB);
    assert_false(pstate_check(&s, &e, err, sizeof err));
    assert_non_null(strstr(err, "written for 12 strategies from 524288 to 33554432 bytes, not 10"));
    p = defaults;
    p.max_threshold = 64 * MiB;
    elo_init(&e, &p, 2 * MiB);
    assert_false(pstate_check(&s, &e, err, sizeof err));
    p = defaults;
    elo_init(&e, &p, 2 * MiB);
    assert_true(pstate_check(&s, &e, err, sizeof err));
    /* Same bounds, a threshold of its own: foreign too. */
    char th[32], forged[32];
    snprintf(th, sizeof th, "strategy 3 %zu ", e.s[3].threshold);
    snprintf(forged, sizeof forged, "strategy 3 %zu ", e.s[3].threshold + 65536);
    n = edited(buf, sizeof buf, th, forged);
    assert_int_equal(pstate_parse(buf, n, &s, err, sizeof err), 0);
    assert_false(pstate_check(&s, &e, err, sizeof err));
    assert_non_null(strstr(err, "strategy 3 has threshold"));
}

/* --------------------------------------------------------- files */

static void path_in_dir(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

static void put_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static unsigned files_in_dir(void)
{
    DIR *d = opendir(dir);
    unsigned k = 0;
    for (struct dirent *de; (de = readdir(d));)
        k += de->d_name[0] != '.';
    closedir(d);
    return k;
}

/* Eight processes each replace the file 300 times with a text of their
 * own while this one reads it: every read is a whole, valid file. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    char path[128], err[200];
    path_in_dir(path, sizeof path, "race");
    char text[PSTATE_MAX];
    struct pstate s;
    size_t n = sample_text(text, sizeof text, &s);
    assert_int_equal(pstate_write(path, text, n, err, sizeof err), 0);
    pid_t kids[8];
    for (unsigned k = 0; k < 8; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            char mine[PSTATE_MAX], e2[200];
            for (unsigned i = 0; i < 300; i++) {
                s.windows = 1000 * (k + 1) + i; /* each text differs, in length too */
                s.s[0].samples = (uint64_t)1 << (i % 60);
                size_t m = pstate_format(&s, mine, sizeof mine);
                if (pstate_write(path, mine, m, e2, sizeof e2) != 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    unsigned reads = 0, running = 8, bad = 0;
    static char got[PSTATE_MAX];
    struct pstate r;
    while (running) {
        size_t len;
        if (pstate_read(path, got, sizeof got, &len, err, sizeof err) != PSTATE_OK ||
            pstate_parse(got, len, &r, err, sizeof err) != 0) {
            print_message("read %u: %s\n", reads, err);
            bad++;
        }
        reads++;
        for (unsigned k = 0; k < 8; k++) {
            int st;
            if (kids[k] > 0 && waitpid(kids[k], &st, WNOHANG) == kids[k]) {
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
                kids[k] = 0;
                running--;
            }
        }
    }
    print_message("%u reads while 8 writers replaced the file 2400 times\n", reads);
    assert_int_equal(bad, 0);
    assert_true(reads > 0);
    size_t len;
    assert_int_equal(pstate_read(path, got, sizeof got, &len, err, sizeof err), PSTATE_OK);
    assert_int_equal(pstate_parse(got, len, &r, err, sizeof err), 0);
    assert_int_equal(r.windows % 1000, 299); /* some writer's last */
    assert_int_equal(files_in_dir(), 1);  /* no temporary file left */
    unlink(path);
}

static void test_io_errors(void **state)
{
    (void)state;
    char buf[PSTATE_MAX], err[200], path[128];
    size_t len;
    assert_int_equal(pstate_read("/nonexistent-hakmem/state", buf, sizeof buf, &len, err, sizeof err), PSTATE_MISSING);
    assert_int_equal(pstate_read(dir, buf, sizeof buf, &len, err, sizeof err), PSTATE_ERROR);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(pstate_read("/dev/null/x", buf, sizeof buf, &len, err, sizeof err), PSTATE_ERROR);
    assert_non_null(strstr(err, "cannot open"));
    path_in_dir(path, sizeof path, "big");
    memset(buf, 'x', sizeof buf);
    put_file(path, buf, sizeof buf);
    assert_int_equal(pstate_read(path, buf, 100, &len, err, sizeof err), PSTATE_ERROR);
    assert_non_null(strstr(err, "larger than 100 bytes"));
    unlink(path);
    assert_int_equal(pstate_write("/dev/null/x", "x\n", 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create"));
    assert_int_equal(pstate_write("/nonexistent-hakmem/state", "x\n", 2, err, sizeof err), -1);
    /* Only a regular file is ever replaced: a directory, a FIFO (as a
     * device such as /dev/null) and a symbolic link stay what they are. */
    assert_int_equal(pstate_write(dir, "x\n", 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    struct stat st;
    path_in_dir(path, sizeof path, "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(pstate_write(path, "x\n", 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    unlink(path);
    char target[128];
    path_in_dir(target, sizeof target, "target");
    put_file(target, "old\n", 4);
    path_in_dir(path, sizeof path, "link");
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(pstate_write(path, "x\n", 2, err, sizeof err), -1);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    unlink(path);
    unlink(target);
    assert_int_equal(files_in_dir(), 0); /* the temporary file went */
}

/* ------------------------------------------------------- the policy */

static void options_for(const char *path, int policy)
{
    HAK_OPT(elo_enabled) = 1;
    HAK_OPT(evo_policy) = policy;
    HAK_OPT(elo_strategies) = 12;
    HAK_OPT(elo_window) = 20;
    HAK_OPT(elo_min_samples) = 10;
    HAK_OPT(elo_epsilon) = 50;
    HAK_OPT(large_mmap_threshold) = 2 * MiB;
    HAK_OPT(elo_start_threshold) = 2 * MiB;
    HAK_OPT(verbose) = 0;
    snprintf(HAK_OPT_STR(policy_state_file), HAK_OPT_STR_MAX, "%s", path);
}

/* Runs sampled allocations until the policy has closed `windows` windows. */
static void learn(uint64_t windows)
{
    struct elo e;
    struct evo v;
    for (unsigned i = 0; i < 200000; i++) {
        hak_free(hak_malloc(256 * KiB));
        if (i % 8 == 7 && (_hak_policy_snapshot(&e, &v), e.windows >= windows))
            return;
    }
    fail_msg("the policy closed %llu windows, not %llu", (unsigned long long)e.windows, (unsigned long long)windows);
}

static const char *policy_json(void)
{
    return unit_print(_hak_policy_print, true);
}

static unsigned count_of(const char *text, const char *what)
{
    unsigned k = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        k++;
    return k;
}

/* A made-up learner's state on disk: frozen runs its leader (strategy 9,
 * far from the configured 2 MiB), learning starts from its leaderboard. */
static void test_policy_loads(void **state)
{
    (void)state;
    char path[128], text[PSTATE_MAX], err[200];
    path_in_dir(path, sizeof path, "loaded");
    struct pstate s;
    size_t n = sample_text(text, sizeof text, &s);
    assert_int_equal(pstate_write(path, text, n, err, sizeof err), 0);

    options_for(path, HAK_EVO_FROZEN);
    struct elo e;
    struct evo v;
    _hak_policy_init();
    assert_false(_hak_policy_snapshot(&e, &v)); /* nothing learns */
    assert_int_equal(_hak_policy_min_size, SIZE_MAX);
    assert_int_equal(hak_mmap_threshold(), s.s[9].threshold);
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_int_equal(v.frozen, 9);
    assert_true(v.frozen_hist[0] == 0.5);
    const char *json = policy_json();
    assert_non_null(strstr(json, "\"state_loaded\": true, \"state_writes\": 0, \"windows\": 0"));
    assert_null(strstr(json, "state_error"));
    unlink(path);
    _hak_policy_at_exit(); /* nothing learned: nothing written */
    assert_int_equal(access(path, F_OK), -1);

    put_file(path, text, n);
    options_for(path, HAK_EVO_LEARN);
    _hak_policy_init();
    assert_true(_hak_policy_snapshot(&e, &v));
    assert_int_equal(hak_mmap_threshold(), s.s[9].threshold); /* the first window runs the leader */
    assert_int_equal(e.incumbent, 9);
    assert_int_equal(e.survivors, 6);
    assert_int_equal(e.windows, 0);
    for (unsigned i = 0; i < 12; i++) {
        assert_true(e.s[i].rating == s.s[i].rating);
        assert_int_equal(e.s[i].retired, s.s[i].retired);
    }
    assert_true(v.hist_set && v.hist[2] == 0.25);
    unlink(path);
}

/* What a process learned is what the file holds afterwards, the totals
 * including what it had loaded. */
static void test_policy_writes(void **state)
{
    (void)state;
    char path[128], text[PSTATE_MAX], err[200];
    path_in_dir(path, sizeof path, "written");
    unlink(path);
    options_for(path, HAK_EVO_LEARN);
    _hak_policy_init();
    learn(6);
    _hak_policy_at_exit();
    struct elo e;
    struct evo v;
    _hak_policy_snapshot(&e, &v);
    size_t len;
    struct pstate s;
    assert_int_equal(pstate_read(path, text, sizeof text, &len, err, sizeof err), PSTATE_OK);
    assert_int_equal(pstate_parse(text, len, &s, err, sizeof err), 0);
    assert_int_equal(s.windows, e.windows);
    assert_int_equal(s.leader, e.incumbent);
    for (unsigned i = 0; i < 12; i++) {
        assert_true(s.s[i].rating == e.s[i].rating);
        assert_int_equal(s.s[i].windows, e.s[i].windows);
        assert_int_equal(s.s[i].samples, e.s[i].samples);
    }
    assert_non_null(strstr(policy_json(), "\"state_loaded\": false, \"state_writes\": 1,"));
    _hak_policy_at_exit(); /* nothing new since */
    assert_non_null(strstr(policy_json(), "\"state_writes\": 1,"));

    uint64_t first = e.windows;
    _hak_policy_init(); /* a second process */
    learn(3);
    _hak_policy_snapshot(&e, &v);
    _hak_policy_at_exit();
    assert_int_equal(pstate_read(path, text, sizeof text, &len, err, sizeof err), PSTATE_OK);
    assert_int_equal(pstate_parse(text, len, &s, err, sizeof err), 0);
    assert_int_equal(s.windows, first + e.windows);
    uint64_t sum = 0;
    for (unsigned i = 0; i < 12; i++)
        sum += s.s[i].windows;
    assert_int_equal(sum, s.windows); /* each strategy's windows carried over */
    unlink(path);
}

/* A fork child inherits what its parent learned; it writes only once it
 * has closed windows of its own. */
static void test_fork_child_writes_its_own(void **state)
{
    (void)state;
    char path[128];
    path_in_dir(path, sizeof path, "forked");
    options_for(path, HAK_EVO_LEARN);
    _hak_policy_init();
    learn(3);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _hak_policy_at_exit();
        _exit(access(path, F_OK) == 0 ? 1 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pid = fork();
    if (pid == 0) {
        struct elo e;
        struct evo v;
        _hak_policy_snapshot(&e, &v);
        learn(e.windows + 2);
        _hak_policy_at_exit();
        _exit(access(path, F_OK) == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unlink(path);
}

/* Each bad state file: one warning naming it, the policy as without one,
 * and the stats saying why. */
static void bad_file(const char *path, const char *why, bool at_load, bool replaced)
{
    options_for(path, HAK_EVO_LEARN);
    capture_stderr();
    _hak_policy_init();
    struct elo e;
    struct evo v;
    _hak_policy_snapshot(&e, &v);
    assert_int_equal(e.incumbent, 4); /* the one nearest 2 MiB */
    for (unsigned i = 0; i < 12; i++)
        assert_true(e.s[i].rating == 1500 && !e.s[i].retired);
    const char *json = policy_json();
    assert_non_null(strstr(json, "\"state_loaded\": false"));
    assert_int_equal(strstr(json, "\"state_error\": \"load: ") != NULL, at_load);
    learn(2);
    _hak_policy_at_exit(); /* written over, or not written at all */
    const char *err = release_stderr();
    char want[256];
    snprintf(want, sizeof want, "hakmem: policy: state file %s ", path);
    if (count_of(err, "hakmem: policy: state file") != 1 || !strstr(err, want) || !strstr(err, why))
        fail_msg("for %s (%s), stderr was:\n%s", path, why, err);
    char text[PSTATE_MAX], e2[200];
    size_t len;
    struct pstate s;
    bool valid = pstate_read(path, text, sizeof text, &len, e2, sizeof e2) == PSTATE_OK &&
                 pstate_parse(text, len, &s, e2, sizeof e2) == 0;
    assert_int_equal(valid, replaced);
}

static void test_bad_files_warn_once(void **state)
{
    (void)state;
    char path[128], text[PSTATE_MAX];
    size_t n = sample_text(text, sizeof text, NULL);
    path_in_dir(path, sizeof path, "bad");

    put_file(path, text, n / 2);
    bad_file(path, "truncated", true, true);
    text[n / 3] ^= 4;
    put_file(path, text, n);
    bad_file(path, "checksum mismatch", true, true);
    text[n / 3] ^= 4;
    n = edited(text, sizeof text, "hakmem-policy-state 1", "hakmem-policy-state 7");
    put_file(path, text, n);
    bad_file(path, "format version 7", true, true);
    n = sample_text(text, sizeof text, NULL);
    put_file(path, text, n);
    options_for(path, HAK_EVO_LEARN);
    HAK_OPT(elo_strategies) = 10; /* the file has 12 */
    capture_stderr();
    _hak_policy_init();
    const char *err = release_stderr();
    assert_int_equal(count_of(err, "hakmem: policy: state file"), 1);
    assert_non_null(strstr(err, "ignored: written for 12 strategies"));
    assert_non_null(strstr(policy_json(), "\"state_error\": \"load: written for 12 strategies"));
    put_file(path, "", 0);
    bad_file(path, "empty", true, true);
    unlink(path);
    mkdir(path, 0755);
    bad_file(path, "not a regular file", true, false);
    rmdir(path);
    bad_file("/dev/null/x", "Not a directory", true, false);
    /* A directory that is not there: nothing to load (no warning), and the
     * write warns. */
    bad_file("/nonexistent-hakmem/state", "not written", false, false);
    assert_non_null(strstr(policy_json(), "\"state_error\": \"write: cannot create"));
}

/* The path goes into the JSON escaped; frozen without a state says so once. */
static void test_stats_and_notes(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/q\"uote\\d", dir);
    options_for(path, HAK_EVO_FROZEN);
    HAK_OPT(verbose) = 1;
    capture_stderr();
    _hak_policy_init();
    const char *err = release_stderr();
    assert_int_equal(count_of(err, "hakmem: policy:"), 2);
    assert_non_null(strstr(err, "not found"));
    assert_non_null(strstr(err, "evo.policy = frozen with no state loaded"));
    assert_int_equal(hak_mmap_threshold(), 2 * MiB);
    char want[200];
    snprintf(want, sizeof want, "\"state_file\": \"%s/q\\\"uote\\\\d\", \"state_loaded\": false, \"state_writes\": 0", dir);
    assert_non_null(strstr(policy_json(), want));
    /* No state file: the same note, and no state errors in the stats. */
    options_for("", HAK_EVO_FROZEN);
    HAK_OPT(verbose) = 1;
    capture_stderr();
    _hak_policy_init();
    err = release_stderr();
    assert_int_equal(count_of(err, "hakmem: policy:"), 1);
    assert_non_null(strstr(policy_json(), "\"state_file\": \"\", \"state_loaded\": false, \"state_writes\": 0"));
    HAK_OPT(verbose) = 0;
    capture_stderr();
    _hak_policy_init();
    assert_string_equal(release_stderr(), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_every_byte_flip_fails),
        cmocka_unit_test(test_bad_content),
        cmocka_unit_test(test_foreign_parameters),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_policy_loads),
        cmocka_unit_test(test_policy_writes),
        cmocka_unit_test(test_fork_child_writes_its_own),
        cmocka_unit_test(test_bad_files_warn_once),
        cmocka_unit_test(test_stats_and_notes),
    };
    snprintf(dir, sizeof dir, "/tmp/hakmem-state-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    hak_free(hak_malloc(1)); /* the allocator started, options loaded */
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(dir);
    return r;
}
