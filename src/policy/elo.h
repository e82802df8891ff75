/* elo.h — ELO rating of mmap-threshold strategies (SPEC §5.3): pure logic over
 * window measurements, with no globals, no clock and no allocation, so the
 * tests drive it with made-up windows and a seeded random source. */
#ifndef HAK_POLICY_ELO_H
#define HAK_POLICY_ELO_H

#include "policy/tls.h" /* ELO_BUCKETS */

#define ELO_MAX_STRATEGIES 32

/* A small deterministic random source, seeded by the caller. */
struct elo_rng {
    uint64_t s;
};

hak_inline uint64_t elo_rng_next(struct elo_rng *r) { return hak_splitmix64(&r->s); }

/* Uniform in [0, 1). */
hak_inline double elo_rng_unit(struct elo_rng *r) { return (double)(elo_rng_next(r) >> 11) * 0x1p-53; }

/* What a window cost, per sampled allocation where that makes sense. */
struct elo_metrics {
    double cpu_ns;   /* process CPU time per sampled allocation */
    double faults;   /* minor page faults per sampled allocation */
    double mapped;   /* bytes hakmem had mapped at the window's end */
};

struct elo_params {
    unsigned count;               /* strategies */
    size_t min_threshold, max_threshold;
    double k, initial;            /* rating points */
    double epsilon;               /* 0..1: share of windows given to a challenger */
    double w_cpu, w_faults, w_mapped; /* weights of the normalised terms, sum 1 */
    double draw_margin;           /* 0..1 */
    double smoothing;             /* 0..1: weight of the newest window in averages */
    uint64_t min_samples;
    unsigned survivors, retire_games;
    size_t min_size;              /* bytes: smaller requests are not sampled, so
                                     no sizes are known below it */
};

struct elo_strategy {
    size_t threshold;             /* bytes: requests this large or larger are mapped */
    double rating;
    uint64_t wins, losses, draws; /* matches as the challenger or the incumbent */
    uint64_t games;               /* matches since learning (re)started: what
                                     retirement waits for (elo_revive) */
    uint64_t samples, windows;    /* everything it ran, rated or not */
    struct elo_metrics avg;       /* running average of its rated windows */
    bool measured, retired;
};

enum elo_outcome { ELO_NO_MATCH, ELO_WIN, ELO_LOSS, ELO_DRAW };

struct elo {
    struct elo_params p;
    struct elo_strategy s[ELO_MAX_STRATEGIES];
    unsigned survivors;           /* strategies not retired */
    unsigned incumbent;           /* the leader: highest rating, kept on ties */
    struct elo_metrics ref;       /* running average of all rated windows */
    bool ref_set;
    uint64_t windows, rated, matches, retirements;
    int last_retired;             /* index retired by the last window, or -1 */
    uint32_t seen;                /* bit b: bucket b held samples of a rated
                                     window since learning (re)started */
    uint64_t revivals;            /* elo_revive calls */
};

/* Strategy thresholds in geometric progression, rounded to 64 KiB; the
 * incumbent starts as the one nearest start_threshold. */
void elo_init(struct elo *e, const struct elo_params *p, size_t start_threshold);

/* The strategy for the next learning window. First look: the incumbent
 * while it has no measurement, then a random survivor that neither it nor
 * an equivalent one (elo_same) has measured; a single window each tells
 * the candidate behaviours apart, where epsilon-greedy alone would need
 * about ten windows per challenger. Then epsilon-greedy: a random survivor
 * other than the incumbent with probability epsilon, else the incumbent. */
unsigned elo_pick(const struct elo *e, struct elo_rng *r);
/* A random survivor other than the incumbent (the incumbent if alone). */
unsigned elo_challenger(const struct elo *e, struct elo_rng *r);

/* Composite score of m, each term normalised by ref so that 1.0 is the
 * reference and the weights mean what they say; lower is better. */
double elo_score(const struct elo *e, const struct elo_metrics *m, const struct elo_metrics *ref);

/* Probability that a player rated ra beats one rated rb. */
double elo_expected(double ra, double rb);

/* Strategy `played` ran a window of `samples` allocations that cost m. With
 * at least min_samples, the window is rated: a challenger plays a match
 * against the incumbent's running average, the ratings move by the ELO rule,
 * the leader may change and the lowest may retire. Returns the outcome for
 * the challenger (ELO_NO_MATCH when unrated or when the incumbent played). */
enum elo_outcome elo_window(struct elo *e, unsigned played, uint64_t samples, const struct elo_metrics *m);

/* Records the size buckets (a mask of ELO_BUCKETS bits) a rated window's
 * samples fell in. */
void elo_sizes(struct elo *e, uint32_t buckets);

/* Whether strategies i and j map exactly the same sampled requests: no
 * bucket seen since learning (re)started reaches from the lower threshold
 * to under the higher (a request is mapped when at least the threshold),
 * and neither threshold lies below p.min_size. Coarse buckets make it err
 * towards "different" only. */
bool elo_same(const struct elo *e, unsigned i, unsigned j);

/* Whether every survivor has played a rated window, itself or through one
 * that behaves the same on the sizes seen (elo_same). */
bool elo_all_tried(const struct elo *e);

/* Whether the first look (elo_pick) is under way. */
bool elo_first_look(const struct elo *e);

/* Learning starts again on another size distribution or cost (the lifecycle
 * calls this on a shift or a degradation): what was learned for the old one
 * must not forbid what the new one needs. Every strategy returns from
 * retirement at the initial rating, measurements and the sizes seen are
 * forgotten (they describe the old distribution), results and counts stay
 * as history; the incumbent stays the leader until a challenger beats it. */
void elo_revive(struct elo *e);

#endif
