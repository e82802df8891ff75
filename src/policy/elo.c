/* elo.c — the ELO rating of mmap-threshold strategies: candidates, epsilon-
 * greedy choice, composite window scores, matches and retirement. */
#include "policy/elo.h"
#include <math.h>

#define UNIT ((size_t)64 * 1024) /* thresholds are whole arena units */

/* Floors of the normalised terms: the resolution below which two windows
 * do not differ (1 ns of CPU, one fault per 1000 allocations, one unit
 * mapped), so a reference of zero never divides by zero. */
#define FLOOR_CPU 1.0
#define FLOOR_FAULTS 0.001
#define FLOOR_MAPPED ((double)UNIT)

/* ln x (x > 0, finite) and e^x, here rather than from libm: loading libm
 * cost every process about 480 KiB of resident pages (measured on
 * /bin/true). Reduced to m in [√½, √2) and |r| ≤ ln2/2, the series below
 * are within a few ulp of libm's (test_policy compares them). */
static double elo_log(double x)
{
    int k;
    double m = frexp(x, &k); /* x = m·2^k, m in [½, 1) */
    if (m < M_SQRT1_2) {
        m *= 2;
        k--;
    }
    /* ln m = 2 atanh s = 2 (s + s³/3 + s⁵/5 + …), |s| ≤ 0.172: 13 terms
     * leave less than 1e-19 of the sum. */
    double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
    for (int i = 1; i <= 25; i += 2) {
        sum += term / i;
        term *= s2;
    }
    return 2 * sum + k * M_LN2;
}

static double elo_exp(double x)
{
    if (x > 709.0)
        return INFINITY;
    if (x < -745.0)
        return 0;
    /* x = k ln2 + r; ln2 in two parts (fdlibm's) so that k·LN2_HI is exact. */
    const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    double k = (double)(long)(x / M_LN2 + (x < 0 ? -0.5 : 0.5));
    double r = (x - k * LN2_HI) - k * LN2_LO;
    /* Taylor series, |r| ≤ 0.347: 18 terms leave less than 1e-22. */
    double sum = 1, term = 1;
    for (int n = 1; n <= 18; n++) {
        term *= r / n;
        sum += term;
    }
    return ldexp(sum, (int)k);
}

void elo_init(struct elo *e, const struct elo_params *p, size_t start_threshold)
{
    *e = (struct elo){ .p = *p, .last_retired = -1 };
    unsigned n = p->count < 2 ? 2 : p->count > ELO_MAX_STRATEGIES ? ELO_MAX_STRATEGIES : p->count;
    e->p.count = n;
    double lo = (double)p->min_threshold, hi = (double)(p->max_threshold > p->min_threshold ? p->max_threshold : p->min_threshold);
    double best = INFINITY;
    for (unsigned i = 0; i < n; i++) {
        double t = lo * elo_exp(elo_log(hi / lo) * i / (n - 1));
        size_t th = ((size_t)(t + UNIT / 2) / UNIT) * UNIT;
        e->s[i] = (struct elo_strategy){ .threshold = th < UNIT ? UNIT : th, .rating = p->initial };
        double d = fabs(elo_log(t) - elo_log((double)(start_threshold ? start_threshold : 1)));
        if (d < best) {
            best = d;
            e->incumbent = i;
        }
    }
    e->survivors = n;
}

unsigned elo_challenger(const struct elo *e, struct elo_rng *r)
{
    if (e->survivors < 2)
        return e->incumbent;
    unsigned k = (unsigned)(elo_rng_next(r) % (e->survivors - 1));
    for (unsigned i = 0; i < e->p.count; i++) {
        if (e->s[i].retired || i == e->incumbent)
            continue;
        if (k-- == 0)
            return i;
    }
    return e->incumbent;
}

/* Bounds of size bucket b: [lo, hi). */
static size_t bucket_lo(unsigned b) { return b ? UNIT << b : 0; }
static size_t bucket_hi(unsigned b) { return b + 1 < ELO_BUCKETS ? UNIT << (b + 1) : SIZE_MAX; }

void elo_sizes(struct elo *e, uint32_t buckets) { e->seen |= buckets; }

bool elo_same(const struct elo *e, unsigned i, unsigned j)
{
    size_t lo = e->s[i].threshold, hi = e->s[j].threshold;
    if (lo > hi) {
        size_t t = lo;
        lo = hi, hi = t;
    }
    if (lo == hi)
        return true;
    if (lo < e->p.min_size) /* unsampled requests may lie between them */
        return false;
    for (unsigned b = 0; b < ELO_BUCKETS; b++)
        if ((e->seen >> b & 1) && bucket_lo(b) < hi && bucket_hi(b) > lo)
            return false;
    return true;
}

/* Whether i or one that behaves the same has been measured. */
static bool covered(const struct elo *e, unsigned i)
{
    for (unsigned j = 0; j < e->p.count; j++)
        if (e->s[j].measured && elo_same(e, i, j))
            return true;
    return false;
}

bool elo_all_tried(const struct elo *e)
{
    for (unsigned i = 0; i < e->p.count; i++)
        if (!e->s[i].retired && !covered(e, i))
            return false;
    return true;
}

bool elo_first_look(const struct elo *e) { return !e->s[e->incumbent].measured || !elo_all_tried(e); }

unsigned elo_pick(const struct elo *e, struct elo_rng *r)
{
    if (!e->s[e->incumbent].measured)
        return e->incumbent; /* what every match is measured against */
    unsigned fresh[ELO_MAX_STRATEGIES], n = 0;
    for (unsigned i = 0; i < e->p.count; i++)
        if (!e->s[i].retired && !covered(e, i))
            fresh[n++] = i;
    if (n)
        return fresh[elo_rng_next(r) % n];
    if (elo_rng_unit(r) < e->p.epsilon)
        return elo_challenger(e, r);
    return e->incumbent;
}

void elo_revive(struct elo *e)
{
    for (unsigned i = 0; i < e->p.count; i++) {
        struct elo_strategy *s = &e->s[i];
        s->rating = e->p.initial;
        s->retired = s->measured = false;
        s->games = 0;
        s->avg = (struct elo_metrics){ 0 };
    }
    e->survivors = e->p.count;
    e->ref = (struct elo_metrics){ 0 };
    e->ref_set = false;
    e->seen = 0;
    e->last_retired = -1;
    e->revivals++;
}

static double norm(double x, double ref, double floor) { return (x + floor) / (ref + floor); }

double elo_score(const struct elo *e, const struct elo_metrics *m, const struct elo_metrics *ref)
{
    return e->p.w_cpu * norm(m->cpu_ns, ref->cpu_ns, FLOOR_CPU) +
           e->p.w_faults * norm(m->faults, ref->faults, FLOOR_FAULTS) +
           e->p.w_mapped * norm(m->mapped, ref->mapped, FLOOR_MAPPED);
}

double elo_expected(double ra, double rb) { return 1.0 / (1.0 + elo_exp((rb - ra) / 400.0 * M_LN10)); }

static void average(struct elo_metrics *avg, const struct elo_metrics *m, double a)
{
    avg->cpu_ns += a * (m->cpu_ns - avg->cpu_ns);
    avg->faults += a * (m->faults - avg->faults);
    avg->mapped += a * (m->mapped - avg->mapped);
}

/* Retires the lowest-rated survivor once it has played enough matches; never
 * the incumbent (the highest rated). */
static void retire(struct elo *e)
{
    if (e->survivors <= e->p.survivors)
        return;
    int low = -1;
    for (unsigned i = 0; i < e->p.count; i++)
        if (!e->s[i].retired && (low < 0 || e->s[i].rating < e->s[low].rating))
            low = (int)i;
    struct elo_strategy *s = &e->s[low];
    if ((unsigned)low == e->incumbent || s->games < e->p.retire_games)
        return;
    s->retired = true;
    e->survivors--;
    e->retirements++;
    e->last_retired = low;
}

enum elo_outcome elo_window(struct elo *e, unsigned played, uint64_t samples, const struct elo_metrics *m)
{
    struct elo_strategy *c = &e->s[played];
    c->samples += samples;
    c->windows++;
    e->windows++;
    e->last_retired = -1;
    if (samples < e->p.min_samples)
        return ELO_NO_MATCH;
    e->rated++;
    if (!e->ref_set) {
        e->ref = *m;
        e->ref_set = true;
    } else {
        average(&e->ref, m, e->p.smoothing);
    }
    enum elo_outcome out = ELO_NO_MATCH;
    struct elo_strategy *inc = &e->s[e->incumbent];
    if (played != e->incumbent && inc->measured) {
        double sc = elo_score(e, m, &e->ref), si = elo_score(e, &inc->avg, &e->ref);
        double result;
        if (sc < si * (1.0 - e->p.draw_margin)) {
            out = ELO_WIN, result = 1.0;
            c->wins++, inc->losses++;
        } else if (sc > si * (1.0 + e->p.draw_margin)) {
            out = ELO_LOSS, result = 0.0;
            c->losses++, inc->wins++;
        } else {
            out = ELO_DRAW, result = 0.5;
            c->draws++, inc->draws++;
        }
        c->games++, inc->games++;
        double delta = e->p.k * (result - elo_expected(c->rating, inc->rating));
        c->rating += delta;
        inc->rating -= delta;
        e->matches++;
    }
    if (!c->measured) {
        c->avg = *m;
        c->measured = true;
    } else {
        average(&c->avg, m, e->p.smoothing);
    }
    if (c->rating > e->s[e->incumbent].rating)
        e->incumbent = played;
    if (out != ELO_NO_MATCH)
        retire(e);
    return out;
}
