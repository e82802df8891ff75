/* policy.h — the learned mmap threshold: what the allocation paths read, and
 * the sampling that feeds the learning windows (SPEC §5.3, §5.4). */
#ifndef HAK_POLICY_H
#define HAK_POLICY_H

#include "policy/evo.h"

/* Requests this large or larger get a mapping of their own. Written at window
 * boundaries while other threads read it, hence the relaxed atomic access. */
extern size_t _hak_mmap_threshold;
/* Allocations this large or larger are sampled; SIZE_MAX when nothing
 * learns (ELO off, or evo.policy = frozen). Set at start-up, and to
 * SIZE_MAX by mallopt(M_MMAP_THRESHOLD). */
extern size_t _hak_policy_min_size;
/* Samples a thread gathers before handing them to the window; set at
 * window boundaries to suit the window's length. */
extern uint32_t _hak_policy_batch;

hak_inline size_t hak_mmap_threshold(void) { return __atomic_load_n(&_hak_mmap_threshold, __ATOMIC_RELAXED); }

/* Whether the threshold is being learned, and so moves at window
 * boundaries (not with ELO off, frozen, or pinned by mallopt). */
hak_inline bool hak_policy_learning(void) { return _hak_policy_min_size != SIZE_MAX; }

/* A thread's first sample of a batch (its exit must hand it over) or its
 * last (the batch goes to the window). */
void _hak_policy_sample_slow(struct policy_tls *t);

/* Called by the out-of-line allocation paths with every request size and
 * the calling thread's sampling state. Inline: when learning, most requests
 * that reach those paths are large enough to be sampled. */
hak_inline void hak_policy_sample(struct policy_tls *t, size_t n)
{
    if (hak_likely(n < _hak_policy_min_size))
        return;
    t->hist[evo_bucket(n)]++;
    uint32_t k = ++t->pending;
    if (hak_unlikely(k == 1 || k >= __atomic_load_n(&_hak_policy_batch, __ATOMIC_RELAXED)))
        _hak_policy_sample_slow(t);
}

/* Reads the options and starts learning (at start-up, after the config). */
void _hak_policy_init(void);
/* Hands the exiting thread's samples to the window. */
void _hak_policy_thread_exit(void);
/* Fixes the mmap threshold at n bytes and stops learning, as elo.enabled =
 * false does (mallopt M_MMAP_THRESHOLD). */
void _hak_policy_pin_threshold(size_t n);
void _hak_policy_fork_child(void);
/* At process exit: writes the state file (policy.state_file) if this
 * process learned something since it was loaded or last written. */
void _hak_policy_at_exit(void);

/* A consistent copy of the learning state (for tests and tools); returns
 * whether windows are being kept. */
bool _hak_policy_snapshot(struct elo *e, struct evo *v);

struct hak_out;
/* The leaderboard and the lifecycle, as text sections [elo] and [evo] or as
 * JSON members "elo" and "evo" (each preceded by ",\n "). */
void _hak_policy_print(struct hak_out *o, bool json);

#endif
