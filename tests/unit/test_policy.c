/* test_policy.c — the ELO learner and the evolution lifecycle driven with
 * made-up windows, an injected clock (the now argument) and a seeded random
 * source; then the policy's start-up paths and a real workload whose better
 * threshold is known by construction. */
#include "unit.h"
#include "hakmem.h"
#include "fmt.h"
#include "options.h"
#include "policy/policy.h"
#include <math.h>
#include <stdio.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define SEC ((uint64_t)1000000000)

/* The made-up worlds below give each strategy a cost of its own whatever
 * the sizes; sampling only from 64 MiB up (min_size) makes that consistent:
 * with no size known under any threshold, no two strategies count as
 * equivalent (elo_same), so the first look meets all twelve. */
static const struct elo_params defaults = {
    .count = 12, .min_threshold = 512 * KiB, .max_threshold = 32 * MiB, .k = 32, .initial = 1500,
    .epsilon = 0.1, .w_cpu = 0.4, .w_faults = 0.3, .w_mapped = 0.3, .draw_margin = 0.02,
    .smoothing = 0.25, .min_samples = 50, .survivors = 6, .retire_games = 3, .min_size = 64 * MiB,
};

static const struct evo_params evo_defaults = {
    .policy = EVO_P_AUTO, .stable_windows = 3, .stable_eps = 0.01, .freeze_ns = 180 * SEC,
    .canary = 0.05, .degrade = 0.2, .degrade_windows = 3, .shift = 0.25,
};

/* A window's cost for a strategy whose quality q is 1.0 for the reference,
 * lower is better: every term scales with q. */
static struct elo_metrics cost(double q)
{
    return (struct elo_metrics){ .cpu_ns = 1000 * q, .faults = 10 * q, .mapped = 64.0 * MiB * q };
}

static void test_thresholds(void **state)
{
    (void)state;
    struct elo e;
    elo_init(&e, &defaults, 2 * MiB);
    assert_int_equal(e.p.count, 12);
    assert_int_equal(e.s[0].threshold, 512 * KiB);
    assert_int_equal(e.s[11].threshold, 32 * MiB);
    for (unsigned i = 0; i < 12; i++) {
        assert_int_equal(e.s[i].threshold % (64 * KiB), 0);
        if (i) { /* geometric: each about 64^(1/11) = 1.46 times the last */
            double r = (double)e.s[i].threshold / (double)e.s[i - 1].threshold;
            assert_true(r > 1.40 && r < 1.52);
        }
        assert_true(e.s[i].rating == 1500);
    }
    /* 2 MiB lies between 1.55 MiB and 2.28 MiB, nearer the latter in log terms */
    assert_int_equal(e.incumbent, 4);
    elo_init(&e, &defaults, 512 * KiB);
    assert_int_equal(e.incumbent, 0);
    elo_init(&e, &defaults, 1024 * MiB);
    assert_int_equal(e.incumbent, 11);
    assert_int_equal(e.survivors, 12);
}

static void test_expected(void **state)
{
    (void)state;
    assert_true(fabs(elo_expected(1500, 1500) - 0.5) < 1e-12);
    assert_true(fabs(elo_expected(1600, 1500) - 0.6400649998) < 1e-9);
    assert_true(fabs(elo_expected(1500, 1900) - 1.0 / 11.0) < 1e-12);
    assert_true(fabs(elo_expected(1700, 1500) + elo_expected(1500, 1700) - 1.0) < 1e-12);
}

/* The policy computes its own exp and log (no libm in the library): the
 * expected scores and the candidates must be libm's, to a few ulp. */
static void test_math_matches_libm(void **state)
{
    (void)state;
    for (double d = -3000; d <= 3000; d += 0.37) {
        double want = 1.0 / (1.0 + pow(10.0, d / 400.0)), got = elo_expected(1500, 1500 + d);
        assert_true(fabs(got - want) <= 1e-14 * want); /* x·ln10 rounds: ~|x| ulp */
    }
    struct elo e;
    for (unsigned count = 2; count <= ELO_MAX_STRATEGIES; count++)
        for (size_t hi = 1 * MiB; hi <= 4096 * MiB; hi = hi * 3 + 64 * KiB) {
            struct elo_params p = defaults;
            p.count = count;
            p.max_threshold = hi;
            elo_init(&e, &p, 2 * MiB);
            double lo = (double)p.min_threshold, best = INFINITY;
            unsigned incumbent = 0;
            for (unsigned i = 0; i < count; i++) {
                double t = lo * pow((double)hi / lo, (double)i / (count - 1));
                size_t th = ((size_t)(t + 32 * KiB) / (64 * KiB)) * (64 * KiB);
                assert_int_equal(e.s[i].threshold, th < 64 * KiB ? 64 * KiB : th);
                double dist = fabs(log(t) - log(2.0 * MiB));
                if (dist < best) {
                    best = dist;
                    incumbent = i;
                }
            }
            assert_int_equal(e.incumbent, incumbent);
        }
}

/* The incumbent (4) runs a window of cost 1.0; challenger 7 then scores
 * q: the ratings move by K * (result - expected) and the sum is kept. */
static void one_match(double q, enum elo_outcome want, double want_rating)
{
    struct elo e;
    elo_init(&e, &defaults, 2 * MiB);
    struct elo_metrics m = cost(1.0);
    assert_int_equal(elo_window(&e, 4, 100, &m), ELO_NO_MATCH); /* the incumbent itself: no match */
    m = cost(q);
    assert_int_equal(elo_window(&e, 7, 100, &m), want);
    assert_true(fabs(e.s[7].rating - want_rating) < 1e-9);
    assert_true(fabs(e.s[4].rating - (3000 - want_rating)) < 1e-9);
    assert_int_equal(e.matches, 1);
}

static void test_rating_arithmetic(void **state)
{
    (void)state;
    one_match(0.5, ELO_WIN, 1516);    /* 1500 + 32 * (1 - 0.5) */
    one_match(2.0, ELO_LOSS, 1484);   /* 1500 + 32 * (0 - 0.5) */
    one_match(1.01, ELO_DRAW, 1500);  /* within the 2% margin */

    /* An upset: 1400 beats 1600. expected = 1/(1+10^(200/400)) = 0.2402531 */
    struct elo e;
    elo_init(&e, &defaults, 2 * MiB);
    e.s[4].rating = 1600;
    e.s[2].rating = 1400;
    struct elo_metrics m = cost(1.0);
    elo_window(&e, 4, 100, &m);
    m = cost(0.5);
    assert_int_equal(elo_window(&e, 2, 100, &m), ELO_WIN);
    double gain = 32 * (1 - 1 / (1 + pow(10, 0.5)));
    assert_true(fabs(e.s[2].rating - (1400 + gain)) < 1e-9);
    assert_true(fabs(e.s[4].rating - (1600 - gain)) < 1e-9);
    assert_int_equal(e.incumbent, 4); /* 1424.3 is still below 1575.7 */
    assert_int_equal(e.s[2].wins, 1);
    assert_int_equal(e.s[4].losses, 1);

    /* Overtaking makes the challenger the incumbent. */
    elo_init(&e, &defaults, 2 * MiB);
    m = cost(1.0);
    elo_window(&e, 4, 100, &m);
    m = cost(0.5);
    elo_window(&e, 9, 100, &m);
    assert_int_equal(e.incumbent, 9);
}

static void test_score_normalised(void **state)
{
    (void)state;
    struct elo e;
    elo_init(&e, &defaults, 2 * MiB);
    struct elo_metrics ref = cost(1.0), m = ref;
    assert_true(fabs(elo_score(&e, &m, &ref) - 1.0) < 1e-3);
    /* Doubling one term moves the score by that term's weight. */
    m.faults *= 2;
    assert_true(fabs(elo_score(&e, &m, &ref) - 1.3) < 1e-3);
    m = ref;
    m.cpu_ns *= 2;
    assert_true(fabs(elo_score(&e, &m, &ref) - 1.4) < 1e-3);
    m = ref;
    m.mapped *= 2;
    assert_true(fabs(elo_score(&e, &m, &ref) - 1.3) < 1e-3);
    /* A reference of zero faults does not divide by zero. */
    struct elo_metrics z = { 1000, 0, 64.0 * MiB }, z2 = z;
    assert_true(fabs(elo_score(&e, &z2, &z) - 1.0) < 1e-9);
    z2.faults = 1;
    assert_true(isfinite(elo_score(&e, &z2, &z)) && elo_score(&e, &z2, &z) > 1.0);
}

static void test_min_samples(void **state)
{
    (void)state;
    struct elo e;
    elo_init(&e, &defaults, 2 * MiB);
    struct elo_metrics m = cost(1.0);
    elo_window(&e, 4, 49, &m);
    assert_false(e.s[4].measured); /* too few: not even its average */
    elo_window(&e, 4, 50, &m);
    assert_true(e.s[4].measured);
    m = cost(0.1);
    assert_int_equal(elo_window(&e, 3, 49, &m), ELO_NO_MATCH);
    assert_true(e.s[3].rating == 1500 && e.s[4].rating == 1500);
    assert_int_equal(e.s[3].samples, 49);
    assert_int_equal(e.s[3].windows, 1);
    assert_int_equal(e.rated, 1);
    assert_int_equal(e.windows, 3);
    assert_int_equal(elo_window(&e, 3, 50, &m), ELO_WIN);
}

static void test_epsilon(void **state)
{
    (void)state;
    struct elo e;
    struct elo_rng r = { 42 };
    elo_init(&e, &defaults, 2 * MiB);
    e.s[0].retired = true;
    e.survivors--;
    for (unsigned i = 0; i < 12; i++)
        e.s[i].measured = true; /* past the first look */
    unsigned picks[12] = { 0 }, n = 110000;
    for (unsigned i = 0; i < n; i++)
        picks[elo_pick(&e, &r)]++;
    assert_int_equal(picks[0], 0); /* never a retired strategy */
    double explore = (double)(n - picks[4]) / n;
    assert_true(explore > 0.095 && explore < 0.105);
    /* challengers uniform among the 10 other survivors: 1,100 each */
    for (unsigned i = 1; i < 12; i++)
        if (i != 4)
            assert_true(picks[i] > 950 && picks[i] < 1250);
    e.p.epsilon = 0;
    for (unsigned i = 0; i < 1000; i++)
        assert_int_equal(elo_pick(&e, &r), 4);
    e.p.epsilon = 1;
    for (unsigned i = 0; i < 1000; i++)
        assert_int_not_equal(elo_pick(&e, &r), 4);
}

/* A fresh board (2 MiB) where strategy 4 leads and each challenger loses
 * in turn, over and over: the lowest retire one by one once they have
 * played retire_games matches, down to 6. */
static void challengers_lose(struct elo *e, const struct elo_metrics *good, const struct elo_metrics *bad)
{
    elo_init(e, &defaults, 2 * MiB);
    elo_window(e, 4, 100, good);
    for (unsigned round = 0; round < 10; round++)
        for (unsigned i = 0; i < 12; i++)
            if (i != 4 && !e->s[i].retired) {
                elo_window(e, i, 100, bad);
                elo_window(e, 4, 100, good);
            }
}

static void test_survival(void **state)
{
    (void)state;
    struct elo e;
    struct elo_metrics good = cost(1.0), bad = cost(3.0);
    challengers_lose(&e, &good, &bad);
    assert_int_equal(e.survivors, 6);
    assert_int_equal(e.retirements, 6);
    assert_false(e.s[4].retired);
    assert_int_equal(e.incumbent, 4);
    unsigned alive = 0;
    for (unsigned i = 0; i < 12; i++) {
        alive += !e.s[i].retired;
        if (e.s[i].retired)
            assert_true(e.s[i].wins + e.s[i].losses + e.s[i].draws >= 3);
    }
    assert_int_equal(alive, 6);
    /* No strategy is retired before it has played enough. */
    elo_init(&e, &defaults, 2 * MiB);
    elo_window(&e, 4, 100, &good);
    elo_window(&e, 1, 100, &bad);
    elo_window(&e, 1, 100, &bad);
    assert_int_equal(e.survivors, 12);
    elo_window(&e, 1, 100, &bad);
    assert_true(e.s[1].retired);
}

/* Revival after retirements: every strategy is back at the initial rating,
 * unmeasured, and waits retire_games new matches before retiring again;
 * results stay as history. */
static void test_revive(void **state)
{
    (void)state;
    struct elo e;
    struct elo_metrics good = cost(1.0), bad = cost(3.0);
    challengers_lose(&e, &good, &bad);
    assert_int_equal(e.survivors, 6);
    elo_sizes(&e, 1u << 6);
    uint64_t losses1 = e.s[1].losses;
    elo_revive(&e);
    assert_int_equal(e.survivors, 12);
    assert_int_equal(e.incumbent, 4);
    assert_int_equal(e.seen, 0);
    assert_false(e.ref_set);
    for (unsigned i = 0; i < 12; i++) {
        assert_false(e.s[i].retired);
        assert_false(e.s[i].measured);
        assert_true(e.s[i].rating == 1500);
        assert_int_equal(e.s[i].games, 0);
    }
    assert_int_equal(e.s[1].losses, losses1);
    assert_true(elo_first_look(&e));
    /* A strategy that retired before must lose retire_games new matches. */
    elo_window(&e, 4, 100, &good);
    elo_window(&e, 1, 100, &bad);
    elo_window(&e, 1, 100, &bad);
    assert_false(e.s[1].retired);
    elo_window(&e, 1, 100, &bad);
    assert_true(e.s[1].retired);
}

/* Equivalence by the sizes seen, with sampling from 64 KiB: thresholds
 * 3.3 MiB (5), 4.8 MiB (6) and 7.1 MiB (7) against sizes in 4..8 MiB. */
static void test_equivalence(void **state)
{
    (void)state;
    struct elo e;
    struct elo_rng r = { 3 };
    struct elo_params p = defaults;
    p.min_size = 64 * KiB;
    elo_init(&e, &p, 2 * MiB);
    assert_true(elo_same(&e, 0, 11)); /* nothing seen: all alike */
    elo_sizes(&e, 1u << 6);
    assert_true(elo_same(&e, 0, 5));
    assert_false(elo_same(&e, 5, 6));
    assert_false(elo_same(&e, 6, 7));
    assert_true(elo_same(&e, 8, 11));
    assert_true(elo_same(&e, 11, 8));
    /* Unsampled sizes may lie between thresholds under min_size. */
    e.p.min_size = 8 * MiB;
    assert_false(elo_same(&e, 0, 5));
    assert_true(elo_same(&e, 8, 11));
    e.p.min_size = 64 * KiB;
    /* The first look: incumbent 4 first, then one of each other class
     * ({6}, {7}, {8..11}), then epsilon-greedy. */
    assert_int_equal(elo_pick(&e, &r), 4);
    struct elo_metrics m = cost(1.0);
    elo_window(&e, 4, 100, &m);
    bool met[4] = { false };
    for (unsigned k = 0; k < 3; k++) {
        assert_true(elo_first_look(&e));
        unsigned c = elo_pick(&e, &r);
        assert_true(c >= 6);
        unsigned cls = c < 8 ? c - 6 : 2;
        assert_false(met[cls]);
        met[cls] = true;
        elo_window(&e, c, 100, &m);
    }
    assert_false(elo_first_look(&e));
    assert_true(elo_all_tried(&e));
}

/* Two phases of a synthetic world sized like bench_allocators' phases:
 * blocks of 4.5 MiB (bucket 6) that are ten times dearer mapped, then
 * blocks of 3.75 MiB (bucket 5) ten times dearer in the arena. Counts the
 * windows until the running strategy is a good one and the bad windows
 * after that. */
static unsigned phase_bad(struct evo *v, struct elo *e, struct elo_rng *r, uint64_t *now, unsigned n,
                          size_t size, bool mapped_good, unsigned *settle)
{
    uint64_t hist[EVO_BUCKETS] = { 0 };
    hist[evo_bucket(size)] = 1000;
    unsigned bad = 0;
    *settle = n;
    for (unsigned i = 0; i < n; i++) {
        bool good = (e->s[v->strategy].threshold <= size) == mapped_good;
        if (good && *settle == n)
            *settle = i;
        bad += !good && *settle < n;
        struct elo_metrics m = cost(good ? 1.0 : 10.0);
        evo_window(v, e, 1000, &m, hist, *now += SEC, r);
    }
    return bad;
}

static void test_two_phases(void **state)
{
    (void)state;
    for (int pol = EVO_P_AUTO; pol <= EVO_P_LEARN; pol++)
        for (uint64_t seed = 1; seed <= 20; seed++) {
            struct elo e;
            struct evo v;
            struct elo_rng r = { seed };
            struct elo_params p = defaults;
            p.min_size = 64 * KiB;
            elo_init(&e, &p, 2 * MiB);
            struct evo_params vp = evo_defaults;
            vp.policy = (enum evo_policy)pol;
            uint64_t now = 0;
            evo_init(&v, &vp, &e, now);
            unsigned settle;
            /* start on 2.25 MiB, which maps: one window measures it, the
             * next tries another class, all of which are good */
            unsigned bad = phase_bad(&v, &e, &r, &now, 2000, 4 * MiB + 512 * KiB, false, &settle);
            assert_true(settle <= 2);
            assert_true(bad < 2000 / 10);
            /* the mapping strategies lost and retired, down to 6 */
            assert_int_equal(e.survivors, 6);
            for (unsigned i = 0; i < 12; i++)
                if (!e.s[i].retired)
                    assert_true(e.s[i].threshold > 4 * MiB + 512 * KiB);
            /* The shift: the window that shows it, one to measure the
             * incumbent again, one to try a mapping class. */
            bad = phase_bad(&v, &e, &r, &now, 2000, 3 * MiB + 768 * KiB, true, &settle);
            assert_true(settle <= 3);
            assert_true(bad < 2000 / 10);
            assert_true(v.by_reason[EVO_R_SHIFT] == 1);
            assert_true(e.s[e.incumbent].threshold <= 3 * MiB + 768 * KiB);
        }
}

/* Learning on a world where strategy `best` costs 0.5 and the rest 1.0;
 * windows last one second each. */
static unsigned run_windows(struct evo *v, struct elo *e, unsigned best, unsigned n, uint64_t *now,
                            struct elo_rng *r, const uint64_t hist[EVO_BUCKETS])
{
    unsigned changes = 0;
    for (unsigned i = 0; i < n; i++) {
        struct elo_metrics m = cost(v->strategy == best ? 0.5 : 1.0);
        *now += SEC;
        changes += evo_window(v, e, 1000, &m, hist, *now, r);
    }
    return changes;
}

static const uint64_t hist_a[EVO_BUCKETS] = { 900, 100 }, hist_b[EVO_BUCKETS] = { 100, 900 };

static void test_freeze_on_stability(void **state)
{
    (void)state;
    struct elo e;
    struct evo v;
    struct elo_rng r = { 7 };
    struct elo_params p = defaults;
    p.epsilon = 0.5;
    elo_init(&e, &p, 2 * MiB);
    uint64_t now = 0;
    evo_init(&v, &evo_defaults, &e, now);
    assert_int_equal(v.mode, EVO_LEARN);
    unsigned i = 0;
    while (v.mode == EVO_LEARN && i++ < 1000)
        run_windows(&v, &e, 8, 1, &now, &r, hist_a);
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_int_equal(v.last_reason, EVO_R_STABLE);
    assert_int_equal(v.by_reason[EVO_R_STABLE], 1);
    assert_int_equal(v.transitions, 1);
    assert_int_equal(v.frozen, 8); /* the cheap one */
    assert_int_equal(e.incumbent, 8);
    assert_true(elo_all_tried(&e)); /* it had met every survivor */
    assert_true(now < 180 * SEC);   /* before the time limit */
    assert_true(v.time_in[EVO_LEARN] == now);
}

static void test_freeze_on_timeout(void **state)
{
    (void)state;
    struct elo e;
    struct evo v;
    struct elo_rng r = { 7 };
    struct elo_params p = defaults;
    p.epsilon = 0;
    elo_init(&e, &p, 2 * MiB);
    struct evo_params vp = evo_defaults;
    vp.freeze_ns = 30 * SEC;
    vp.stable_windows = 1000; /* never stable in time */
    uint64_t now = 0;
    evo_init(&v, &vp, &e, now);
    run_windows(&v, &e, 8, 29, &now, &r, hist_a);
    assert_int_equal(v.mode, EVO_LEARN);
    run_windows(&v, &e, 8, 1, &now, &r, hist_a);
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_int_equal(v.last_reason, EVO_R_TIMEOUT);
    assert_int_equal(v.frozen, 8); /* found by the first look, ε = 0 or not */
}

/* Learns until frozen on strategy 8, with canaries off unless asked. */
static void frozen_on_8(struct evo *v, struct elo *e, struct elo_rng *r, uint64_t *now, struct evo_params vp)
{
    struct elo_params p = defaults;
    p.epsilon = 0.5;
    elo_init(e, &p, 2 * MiB);
    evo_init(v, &vp, e, *now);
    for (unsigned i = 0; v->mode == EVO_LEARN && i < 1000; i++)
        run_windows(v, e, 8, 1, now, r, hist_a);
    assert_int_equal(v->mode, EVO_FROZEN);
    assert_int_equal(v->frozen, 8);
}

static void test_relearn_on_degradation(void **state)
{
    (void)state;
    struct elo e;
    struct evo v;
    struct elo_rng r = { 9 };
    uint64_t now = 0;
    struct evo_params vp = evo_defaults;
    vp.canary = 0;
    frozen_on_8(&v, &e, &r, &now, vp);
    /* 10% worse: inside δ = 20%, stays frozen however long */
    for (unsigned i = 0; i < 20; i++) {
        struct elo_metrics m = cost(0.55);
        evo_window(&v, &e, 1000, &m, hist_a, now += SEC, &r);
    }
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_int_equal(v.strategy, 8);
    /* 50% worse: two windows are not enough, the third (L = 3) is */
    for (unsigned i = 0; i < 2; i++) {
        struct elo_metrics m = cost(0.9);
        evo_window(&v, &e, 1000, &m, hist_a, now += SEC, &r);
    }
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_int_equal(v.degrade_count, 2);
    struct elo_metrics m = cost(0.9);
    assert_true(evo_window(&v, &e, 1000, &m, hist_a, now += SEC, &r));
    assert_int_equal(v.mode, EVO_LEARN);
    assert_int_equal(v.last_reason, EVO_R_DEGRADE);
    /* An interrupted run starts again */
    frozen_on_8(&v, &e, &r, &now, vp);
    for (unsigned i = 0; i < 10; i++) {
        m = cost(i % 3 == 2 ? 0.5 : 0.9);
        evo_window(&v, &e, 1000, &m, hist_a, now += SEC, &r);
    }
    assert_int_equal(v.mode, EVO_FROZEN);
}

static void test_relearn_on_shift(void **state)
{
    (void)state;
    struct elo e;
    struct evo v;
    struct elo_rng r = { 11 };
    uint64_t now = 0;
    struct evo_params vp = evo_defaults;
    vp.canary = 0;
    frozen_on_8(&v, &e, &r, &now, vp);
    /* distance 0.2 (from 90/10 to 70/30): under Δ = 25% */
    const uint64_t near[EVO_BUCKETS] = { 700, 300 };
    struct elo_metrics m = cost(0.5);
    evo_window(&v, &e, 1000, &m, near, now += SEC, &r);
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_true(fabs(v.last_shift - 0.2) < 1e-9);
    /* distance 0.8: one window is enough */
    assert_true(evo_window(&v, &e, 1000, &m, hist_b, now += SEC, &r));
    assert_int_equal(v.mode, EVO_LEARN);
    assert_int_equal(v.last_reason, EVO_R_SHIFT);

    double a[EVO_BUCKETS] = { 1, 0 }, b[EVO_BUCKETS] = { 0, 1 }, c[EVO_BUCKETS] = { 2, 0 };
    assert_true(evo_distance(a, b) == 1.0);
    assert_true(evo_distance(a, c) == 0.0);
    assert_int_equal(evo_bucket(64 * KiB), 0);
    assert_int_equal(evo_bucket(128 * KiB - 1), 0);
    assert_int_equal(evo_bucket(3 * MiB), 5);
    assert_int_equal(evo_bucket((size_t)1 << 40), EVO_BUCKETS - 1);
}

static void test_canary_fraction(void **state)
{
    (void)state;
    struct elo e;
    struct evo v;
    struct elo_rng r = { 13 };
    uint64_t now = 0;
    frozen_on_8(&v, &e, &r, &now, evo_defaults);
    uint64_t canaries = v.by_reason[EVO_R_CANARY], frozen_windows = 0;
    for (unsigned i = 0; i < 40000; i++) {
        frozen_windows += v.mode == EVO_FROZEN;
        struct elo_metrics m = cost(v.strategy == 8 ? 0.5 : 1.0);
        evo_window(&v, &e, 1000, &m, hist_a, now += SEC, &r);
        assert_true(v.mode != EVO_LEARN); /* every challenger loses */
    }
    double share = (double)(v.by_reason[EVO_R_CANARY] - canaries) / (double)frozen_windows;
    assert_true(share > 0.045 && share < 0.055);
    assert_true(v.by_reason[EVO_R_CANARY_LOST] >= v.by_reason[EVO_R_CANARY] - 1);
    assert_int_equal(v.frozen, 8);
}

/* A survivor other than the frozen strategy. */
static unsigned other_survivor(const struct elo *e, unsigned frozen)
{
    for (unsigned i = e->p.count; i-- > 0;)
        if (!e->s[i].retired && i != frozen)
            return i;
    fail();
    return 0;
}

static void test_canary_win(void **state)
{
    (void)state;
    struct elo e;
    struct evo v;
    struct elo_rng r = { 17 };
    uint64_t now = 0;
    struct evo_params vp = evo_defaults;
    vp.canary = 1; /* every frozen window is followed by a canary */
    frozen_on_8(&v, &e, &r, &now, vp);
    /* The world changes: survivor w is now far better than 8, the others
     * still worse. Canaries try challengers until w overtakes 8; auto then
     * learns again. */
    unsigned w = other_survivor(&e, 8);
    for (unsigned i = 0; i < 2000 && v.mode != EVO_LEARN; i++) {
        struct elo_metrics m = cost(v.strategy == w ? 0.1 : v.strategy == v.frozen ? 0.5 : 1.0);
        evo_window(&v, &e, 1000, &m, hist_a, now += SEC, &r);
    }
    assert_int_equal(v.mode, EVO_LEARN);
    assert_int_equal(v.last_reason, EVO_R_CANARY_WON);
    assert_int_equal(e.incumbent, w);

    /* The canary policy never learns: it freezes on the winner. */
    vp.policy = EVO_P_CANARY;
    elo_init(&e, &defaults, 2 * MiB);
    evo_init(&v, &vp, &e, now);
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_int_equal(v.frozen, 4);
    for (unsigned i = 0; i < 2000 && v.frozen == 4; i++) {
        struct elo_metrics m = cost(v.strategy == 10 ? 0.1 : v.strategy == v.frozen ? 0.5 : 1.0);
        evo_window(&v, &e, 1000, &m, hist_a, now += SEC, &r);
        assert_true(v.mode != EVO_LEARN);
    }
    assert_int_equal(v.frozen, 10);
    assert_int_equal(v.by_reason[EVO_R_CANARY_WON], 1);
}

static void test_learn_and_off_never_freeze(void **state)
{
    (void)state;
    for (int pol = EVO_P_LEARN; pol <= EVO_P_OFF; pol += EVO_P_OFF - EVO_P_LEARN) {
        struct elo e;
        struct evo v;
        struct elo_rng r = { 19 };
        struct elo_params p = defaults;
        p.epsilon = 0.5;
        elo_init(&e, &p, 2 * MiB);
        struct evo_params vp = evo_defaults;
        vp.policy = (enum evo_policy)pol;
        vp.freeze_ns = 10 * SEC;
        uint64_t now = 0;
        evo_init(&v, &vp, &e, now);
        assert_int_equal(run_windows(&v, &e, 8, 2000, &now, &r, hist_a), 0);
        assert_int_equal(v.mode, EVO_LEARN);
        assert_int_equal(v.transitions, 0);
        assert_int_equal(e.incumbent, 8); /* it still learns */
        if (pol == EVO_P_LEARN)
            assert_true(v.stable_count >= 3); /* would have frozen under auto */
        else
            assert_int_equal(v.stable_count, 0); /* off tracks nothing */
    }
}

/* The policy as the allocator starts it, option by option. */
static void test_startup_paths(void **state)
{
    (void)state;
    struct elo e;
    struct evo v;
    HAK_OPT(large_mmap_threshold) = 2 * MiB;
    HAK_OPT(elo_enabled) = 0; /* HAKMEM_DISABLE_ELO=1 */
    HAK_OPT(evo_policy) = HAK_EVO_AUTO;
    _hak_policy_init();
    assert_int_equal(hak_mmap_threshold(), 2 * MiB);
    assert_int_equal(_hak_policy_min_size, SIZE_MAX);
    assert_false(_hak_policy_snapshot(&e, &v));

    HAK_OPT(elo_enabled) = 1;
    HAK_OPT(evo_policy) = HAK_EVO_FROZEN;
    _hak_policy_init();
    assert_int_equal(hak_mmap_threshold(), 2 * MiB); /* nothing learned: the configured one */
    assert_int_equal(_hak_policy_min_size, SIZE_MAX);
    assert_false(_hak_policy_snapshot(&e, &v));
    assert_int_equal(v.mode, EVO_FROZEN);

    HAK_OPT(evo_policy) = HAK_EVO_AUTO;
    _hak_policy_init();
    assert_true(_hak_policy_snapshot(&e, &v));
    /* Learning starts at elo.start_threshold (the largest candidate by
     * default), not at the fixed threshold. */
    assert_int_equal(hak_mmap_threshold(), e.s[e.p.count - 1].threshold);
    assert_int_equal(e.incumbent, e.p.count - 1);
    assert_int_equal(_hak_policy_min_size, 64 * KiB);
    assert_int_equal(v.mode, EVO_LEARN);
    int64_t start = HAK_OPT(elo_start_threshold);
    HAK_OPT(elo_start_threshold) = 2 * MiB;
    _hak_policy_init();
    assert_true(_hak_policy_snapshot(&e, &v));
    assert_int_equal(hak_mmap_threshold(), e.s[4].threshold);
    assert_int_equal(e.incumbent, 4);
    HAK_OPT(elo_start_threshold) = start;

    HAK_OPT(evo_policy) = HAK_EVO_OFF;
    _hak_policy_init();
    assert_true(_hak_policy_snapshot(&e, &v));
    assert_int_equal(_hak_policy_min_size, 64 * KiB);
}

static const char *policy_stats(bool json)
{
    return unit_print(_hak_policy_print, json);
}

/* The seed the stats print, text and JSON, is what policy.seed takes back:
 * one above 2^63, and a random one. */
static void test_seed_round_trip(void **state)
{
    (void)state;
    struct hak_optval v;
    char err[256], want[64];
    HAK_OPT(elo_enabled) = 1;
    HAK_OPT(evo_policy) = HAK_EVO_AUTO;
    assert_int_equal(_hak_opt_parse(HAK_OPT_policy_seed, "18446744073709551557", &v, true, err, sizeof err), 0);
    HAK_OPT(policy_seed) = v.i;
    _hak_policy_init();
    assert_non_null(strstr(policy_stats(false), "; seed 18446744073709551557\n"));
    assert_non_null(strstr(policy_stats(true), "\"seed\": 18446744073709551557,"));

    HAK_OPT(policy_seed) = 0;
    _hak_policy_init();
    const char *p = strstr(policy_stats(true), "\"seed\": ");
    assert_non_null(p);
    char seed[32];
    size_t n = strspn(p + 8, "0123456789");
    assert_true(n > 0 && n < sizeof seed);
    memcpy(seed, p + 8, n);
    seed[n] = 0;
    assert_int_equal(_hak_opt_parse(HAK_OPT_policy_seed, seed, &v, true, err, sizeof err), 0);
    assert_true(v.i != 0); /* 0 would ask for another random one */
    HAK_OPT(policy_seed) = v.i;
    _hak_policy_init();
    snprintf(want, sizeof want, "; seed %s\n", seed);
    assert_non_null(strstr(policy_stats(false), want));
    HAK_OPT(policy_seed) = 0;
}

/* A workload whose better threshold is known by construction: 3 MiB blocks,
 * each allocated, written page by page and freed, with BigCache off. Below a
 * threshold over 3 MiB they come from the arena, which reuses the same
 * resident run: no system call and no page fault per block. At or under
 * 3 MiB each is a mapping of its own: mmap, 768 page faults to write it and
 * an unmap, so CPU time and faults per allocation are far higher, while
 * memory mapped is about the same (a 4 MiB arena region against a 4 MiB
 * huge mapping). So the learner must settle on a threshold above 3 MiB.
 * With windows of 100 allocations and ε = 0.5 it meets every strategy in a
 * few dozen windows; it must freeze there within 300. Learning starts on the
 * wrong side, at 2 MiB: started at the arena (the default), a challenger
 * that maps would take the incumbent's resident run while learning (a
 * request over the threshold does), play as well as it, and only draw. */
static void test_converges(void **state)
{
    (void)state;
    HAK_OPT(elo_enabled) = 1;
    HAK_OPT(evo_policy) = HAK_EVO_AUTO;
    HAK_OPT(elo_window) = 100;
    HAK_OPT(elo_epsilon) = 50;
    HAK_OPT(policy_seed) = 1;
    HAK_OPT(bigcache_enabled) = 0;
    HAK_OPT(large_region_size) = 4 * MiB;
    int64_t start = HAK_OPT(elo_start_threshold);
    HAK_OPT(elo_start_threshold) = 2 * MiB;
    _hak_policy_init();
    HAK_OPT(elo_start_threshold) = start;
    struct elo e;
    struct evo v;
    size_t block = 3 * MiB;
    unsigned i;
    for (i = 0; i < 300 * 100; i++) {
        char *p = hak_malloc(block);
        assert_non_null(p);
        for (size_t o = 0; o < block; o += 4096)
            p[o] = (char)o;
        hak_free(p);
        if (i % 100 == 99) {
            _hak_policy_snapshot(&e, &v);
            if (v.mode == EVO_FROZEN)
                break;
        }
    }
    _hak_policy_snapshot(&e, &v);
    print_message("frozen after %llu windows (%u allocations) on strategy %u, threshold %zu\n",
                  (unsigned long long)e.windows, i + 1, v.frozen, e.s[v.frozen].threshold);
    assert_int_equal(v.mode, EVO_FROZEN);
    assert_true(e.s[v.frozen].threshold > block);
    /* every strategy that maps 3 MiB blocks and played ended below the leader */
    for (unsigned a = 0; a < e.p.count; a++)
        if (e.s[a].threshold <= block && e.s[a].wins + e.s[a].losses + e.s[a].draws > 0)
            assert_true(e.s[a].rating < e.s[e.incumbent].rating);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_expected),
        cmocka_unit_test(test_math_matches_libm),
        cmocka_unit_test(test_rating_arithmetic),
        cmocka_unit_test(test_score_normalised),
        cmocka_unit_test(test_min_samples),
        cmocka_unit_test(test_epsilon),
        cmocka_unit_test(test_survival),
        cmocka_unit_test(test_revive),
        cmocka_unit_test(test_equivalence),
        cmocka_unit_test(test_two_phases),
        cmocka_unit_test(test_freeze_on_stability),
        cmocka_unit_test(test_freeze_on_timeout),
        cmocka_unit_test(test_relearn_on_degradation),
        cmocka_unit_test(test_relearn_on_shift),
        cmocka_unit_test(test_canary_fraction),
        cmocka_unit_test(test_canary_win),
        cmocka_unit_test(test_learn_and_off_never_freeze),
        cmocka_unit_test(test_startup_paths),
        cmocka_unit_test(test_seed_round_trip),
        cmocka_unit_test(test_converges),
    };
    hak_free(hak_malloc(1)); /* the allocator started, options loaded */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
