/* evo.h — the evolution lifecycle (SPEC §5.4): LEARN, FROZEN and CANARY over
 * the ELO ratings, decided at window boundaries. Pure logic like elo.h: the
 * caller passes the time, the window's measurements and its size histogram. */
#ifndef HAK_POLICY_EVO_H
#define HAK_POLICY_EVO_H

#include "policy/elo.h"

/* Size histogram of sampled allocations: one bucket per power of two from
 * 64 KiB, the last one open-ended (elo.h describes the bounds). */
#define EVO_BUCKETS ELO_BUCKETS

hak_inline unsigned evo_bucket(size_t n)
{
    unsigned b = 63 - (unsigned)__builtin_clzll((unsigned long long)(n >> 16) | 1); /* 0 below 128 KiB */
    return b < EVO_BUCKETS - 1 ? b : EVO_BUCKETS - 1;
}

enum evo_mode { EVO_LEARN, EVO_FROZEN, EVO_CANARY, EVO_NMODES };

/* Why the mode changed; counted per reason. */
enum evo_reason {
    EVO_R_STABLE,       /* LEARN → FROZEN: the leader is stable */
    EVO_R_TIMEOUT,      /* LEARN → FROZEN: freeze_time reached */
    EVO_R_CANARY,       /* FROZEN → CANARY: a canary window starts */
    EVO_R_CANARY_LOST,  /* CANARY → FROZEN: the challenger did not overtake */
    EVO_R_CANARY_WON,   /* CANARY → LEARN (auto) or FROZEN on the new leader (canary) */
    EVO_R_DEGRADE,      /* FROZEN → LEARN: the score degraded */
    EVO_R_SHIFT,        /* FROZEN or LEARN → LEARN: the size distribution shifted */
    EVO_NREASONS
};

/* The lifecycle policies, in the order of evo.policy's range. */
enum evo_policy { EVO_P_AUTO, EVO_P_LEARN, EVO_P_FROZEN, EVO_P_CANARY, EVO_P_OFF };

struct evo_params {
    enum evo_policy policy;
    unsigned stable_windows;
    double stable_eps;            /* 0..1, relative */
    uint64_t freeze_ns;           /* 0: never by time */
    double canary;                /* 0..1 */
    double degrade;               /* relative: 0.2 is 20% worse */
    unsigned degrade_windows;
    double shift;                 /* 0..1, total variation distance */
};

struct evo {
    struct evo_params p;
    enum evo_mode mode;
    unsigned strategy;            /* what the current window runs */
    uint64_t mode_since, learn_since; /* ns */
    uint64_t time_in[EVO_NMODES]; /* ns spent in each mode, up to mode_since */
    uint64_t transitions, by_reason[EVO_NREASONS];
    /* LEARN: the stability run */
    unsigned stable_leader, stable_count;
    double stable_rating;
    /* the sizes seen while learning, and the state captured at freezing */
    double hist[EVO_BUCKETS];
    bool hist_set;
    unsigned frozen;              /* strategy frozen on */
    struct elo_metrics frozen_ref;
    double frozen_score, frozen_hist[EVO_BUCKETS];
    unsigned degrade_count;
    double last_ratio;            /* of the last frozen window: score / frozen score */
    double last_shift;            /* of the last rated window: evo_shift */
    enum evo_reason last_reason;
};

/* Starts the lifecycle at time now: LEARN for auto, learn and off; FROZEN on
 * the incumbent for frozen and canary. */
void evo_init(struct evo *v, const struct evo_params *p, const struct elo *e, uint64_t now);

/* The window that ran v->strategy ended at now with `samples` allocations
 * costing m, sizes in hist (counts per bucket). Rates it, moves the
 * lifecycle and sets v->strategy for the next window. Returns whether a
 * transition happened: the mode changed, or learning started again on a
 * shift (LEARN → LEARN); the reason is v->last_reason. Whenever learning
 * starts again on a shift or a degradation, the retired strategies return
 * (elo_revive): under auto, a size shift while learning is a transition too,
 * since a short run may never freeze before its sizes change. */
bool evo_window(struct evo *v, struct elo *e, uint64_t samples, const struct elo_metrics *m,
                const uint64_t hist[EVO_BUCKETS], uint64_t now, struct elo_rng *r);

/* How far the sizes in hist (counts per bucket) are from what the lifecycle
 * compares windows with (total variation distance): while learning (auto
 * and learn), the sizes learned so far; frozen, those at freezing. 0 when
 * there is nothing to compare with yet, or under evo.policy = off. */
double evo_shift(const struct evo *v, const uint64_t hist[EVO_BUCKETS]);

/* Total variation distance between two histograms given as counts or
 * shares (each is normalised first): 0 same, 1 disjoint. */
double evo_distance(const double a[EVO_BUCKETS], const double b[EVO_BUCKETS]);

const char *evo_mode_name(enum evo_mode m);
const char *evo_reason_name(enum evo_reason r);

#endif
