/* evo.c — the evolution lifecycle: when learning freezes, when a frozen
 * strategy is probed by a canary, and when learning starts again. */
#include "policy/evo.h"
#include <math.h>

static const char *const mode_names[EVO_NMODES] = { "LEARN", "FROZEN", "CANARY" };
static const char *const reason_names[EVO_NREASONS] = { "stable", "timeout", "canary", "canary_lost",
                                                        "canary_won", "degrade", "shift" };

const char *evo_mode_name(enum evo_mode m) { return mode_names[m]; }
const char *evo_reason_name(enum evo_reason r) { return reason_names[r]; }

static void set_mode(struct evo *v, enum evo_mode mode, enum evo_reason why, uint64_t now)
{
    v->time_in[v->mode] += now - v->mode_since;
    v->mode_since = now;
    v->mode = mode;
    v->transitions++;
    v->by_reason[why]++;
    v->last_reason = why;
    if (mode == EVO_LEARN) {
        v->learn_since = now;
        v->stable_count = 0;
        v->hist_set = false; /* learn the sizes afresh, as they may have shifted */
    }
}

/* Fixes the incumbent; its score and the sizes seen so far become what
 * later frozen windows are compared with (taken from the first frozen window
 * when learning has not measured them). */
static void freeze(struct evo *v, const struct elo *e, enum evo_reason why, uint64_t now)
{
    v->frozen = e->incumbent;
    v->frozen_ref = e->ref;
    const struct elo_strategy *s = &e->s[e->incumbent];
    v->frozen_score = e->ref_set && s->measured ? elo_score(e, &s->avg, &e->ref) : 0;
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        v->frozen_hist[b] = v->hist_set ? v->hist[b] : 0;
    v->degrade_count = 0;
    v->strategy = v->frozen;
    if (v->mode != EVO_FROZEN)
        set_mode(v, EVO_FROZEN, why, now);
}

void evo_init(struct evo *v, const struct evo_params *p, const struct elo *e, uint64_t now)
{
    *v = (struct evo){ .p = *p, .mode = EVO_LEARN, .mode_since = now, .learn_since = now,
                       .strategy = e->incumbent, .stable_leader = e->incumbent };
    if (p->policy == EVO_P_FROZEN || p->policy == EVO_P_CANARY) {
        v->mode = EVO_FROZEN;
        freeze(v, e, EVO_R_STABLE, now);
    }
}

/* Back to LEARN on a new size distribution or cost, with every strategy
 * back in the running (elo_revive). */
static void relearn(struct evo *v, struct elo *e, enum evo_reason why, uint64_t now, struct elo_rng *r)
{
    set_mode(v, EVO_LEARN, why, now);
    elo_revive(e);
    v->strategy = elo_pick(e, r);
}

static double total(const double h[EVO_BUCKETS])
{
    double t = 0;
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        t += h[b];
    return t;
}

double evo_distance(const double a[EVO_BUCKETS], const double b[EVO_BUCKETS])
{
    double ta = total(a), tb = total(b), d = 0;
    if (ta <= 0 || tb <= 0)
        return 0; /* nothing to compare with */
    for (unsigned i = 0; i < EVO_BUCKETS; i++)
        d += fabs(a[i] / ta - b[i] / tb);
    return d / 2;
}

/* LEARN: counts the windows the leader has stayed the leader, having met
 * every survivor, with its rating within stable_eps of where the run began. */
static void track_stability(struct evo *v, const struct elo *e)
{
    double r = e->s[e->incumbent].rating;
    bool tried = elo_all_tried(e);
    if (tried && v->stable_count > 0 && e->incumbent == v->stable_leader &&
        fabs(r - v->stable_rating) <= v->p.stable_eps * fabs(v->stable_rating)) {
        v->stable_count++;
        return;
    }
    v->stable_leader = e->incumbent;
    v->stable_rating = r;
    v->stable_count = tried ? 1 : 0;
}

static void learn_sizes(struct evo *v, const double h[EVO_BUCKETS], double a)
{
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        v->hist[b] = v->hist_set ? v->hist[b] + a * (h[b] - v->hist[b]) : h[b];
    v->hist_set = true;
}

/* The histogram windows are compared with, or NULL. */
static const double *reference(const struct evo *v)
{
    if (v->p.policy == EVO_P_OFF)
        return NULL;
    if (v->mode == EVO_LEARN)
        return v->hist_set ? v->hist : NULL;
    return total(v->frozen_hist) > 0 ? v->frozen_hist : NULL;
}

double evo_shift(const struct evo *v, const uint64_t hist[EVO_BUCKETS])
{
    const double *ref = reference(v);
    double h[EVO_BUCKETS];
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        h[b] = (double)hist[b];
    return ref ? evo_distance(h, ref) : 0;
}

bool evo_window(struct evo *v, struct elo *e, uint64_t samples, const struct elo_metrics *m,
                const uint64_t hist[EVO_BUCKETS], uint64_t now, struct elo_rng *r)
{
    uint64_t before = v->transitions;
    bool rated = samples >= e->p.min_samples;
    double h[EVO_BUCKETS], t = 0;
    uint32_t buckets = 0;
    for (unsigned b = 0; b < EVO_BUCKETS; b++) {
        t += (double)hist[b];
        buckets |= (uint32_t)(hist[b] > 0) << b;
    }
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        h[b] = t > 0 ? (double)hist[b] / t : 0;
    if (rated)
        elo_sizes(e, buckets);

    switch (v->mode) {
    case EVO_LEARN:
        elo_window(e, v->strategy, samples, m);
        if (v->p.policy == EVO_P_OFF) {
            v->strategy = elo_pick(e, r);
            break;
        }
        if (rated) {
            v->last_shift = evo_shift(v, hist);
            if (v->last_shift > v->p.shift) {
                relearn(v, e, EVO_R_SHIFT, now, r);
                break;
            }
            learn_sizes(v, h, e->p.smoothing);
            track_stability(v, e);
        }
        if (v->p.policy == EVO_P_AUTO && v->stable_count >= v->p.stable_windows)
            freeze(v, e, EVO_R_STABLE, now);
        else if (v->p.policy == EVO_P_AUTO && v->p.freeze_ns && now - v->learn_since >= v->p.freeze_ns)
            freeze(v, e, EVO_R_TIMEOUT, now);
        else
            v->strategy = elo_pick(e, r);
        break;

    case EVO_FROZEN:
        /* The frozen strategy is the incumbent: this updates only its
         * running average and the reference, never a rating. */
        elo_window(e, v->strategy, samples, m);
        if (rated) {
            double s = elo_score(e, m, &v->frozen_ref);
            if (v->frozen_score <= 0)
                v->frozen_score = s;
            if (total(v->frozen_hist) <= 0)
                for (unsigned b = 0; b < EVO_BUCKETS; b++)
                    v->frozen_hist[b] = h[b];
            v->last_ratio = s / v->frozen_score;
            v->last_shift = evo_shift(v, hist);
            v->degrade_count = v->last_ratio > 1.0 + v->p.degrade ? v->degrade_count + 1 : 0;
            if (v->p.policy == EVO_P_AUTO && v->degrade_count >= v->p.degrade_windows) {
                relearn(v, e, EVO_R_DEGRADE, now, r);
                break;
            }
            if (v->p.policy == EVO_P_AUTO && v->last_shift > v->p.shift) {
                relearn(v, e, EVO_R_SHIFT, now, r);
                break;
            }
        }
        if (e->survivors > 1 && elo_rng_unit(r) < v->p.canary) {
            set_mode(v, EVO_CANARY, EVO_R_CANARY, now);
            v->strategy = elo_challenger(e, r);
        } else {
            v->strategy = v->frozen;
        }
        break;

    case EVO_CANARY: {
        unsigned was = e->incumbent;
        elo_window(e, v->strategy, samples, m);
        if (e->incumbent == was) {
            set_mode(v, EVO_FROZEN, EVO_R_CANARY_LOST, now);
            v->strategy = v->frozen;
        } else if (v->p.policy == EVO_P_AUTO) {
            set_mode(v, EVO_LEARN, EVO_R_CANARY_WON, now);
            v->strategy = elo_pick(e, r);
        } else {
            set_mode(v, EVO_FROZEN, EVO_R_CANARY_WON, now);
            freeze(v, e, EVO_R_CANARY_WON, now);
        }
        break;
    }
    case EVO_NMODES:
        break;
    }
    return v->transitions != before;
}
