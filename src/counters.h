/* counters.h — the counters of counters.def: per-thread ones in the
 * thread's TLS object (thread.h), per-thread per-class ones in a block the
 * tiny heap keeps, process-wide atomics, the macros that update them (or
 * compile to nothing with --disable-counters), and the totals of threads
 * that exited. */
#ifndef HAK_COUNTERS_H
#define HAK_COUNTERS_H

#include "thread.h"
#include <stdatomic.h>

struct hak_gcounters {
#define HAK_COUNTER(group, name, doc)
#define HAK_CCOUNTER(group, name, doc)
#define HAK_GCOUNTER(group, name, doc) _Atomic uint64_t group##_##name;
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_CCOUNTER
#undef HAK_GCOUNTER
};

extern struct hak_gcounters _hak_gctr;

/* A thread's per-class counters (HAK_CCOUNTER), written by that thread only. */
struct hak_class_counters {
#define HAK_COUNTER(group, name, doc)
#define HAK_CCOUNTER(group, name, doc) uint64_t group##_##name[HAK_NCLASS];
#define HAK_GCOUNTER(group, name, doc)
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_CCOUNTER
#undef HAK_GCOUNTER
    uint64_t classes; /* bit c: a counter of class c counted (retiring walks only those) */
};

/* Sums of both kinds: the totals of exited threads, and a stats snapshot. */
struct hak_counter_totals {
    struct hak_counters t;
    struct hak_class_counters c; /* classes unused */
};

#if HAK_COUNTERS
/* This thread's counters live in its TLS object (thread.h); the per-class
 * ones in the block cc, which the caller's heap holds. */
#define HAK_CTR_ADD(group, name, n) ((void)(_hak_thread.ctr.group##_##name += (n)))
#define HAK_CTR_ADD_C(cc, group, name, c, n) \
    ((void)((cc)->classes |= (uint64_t)1 << (c), (cc)->group##_##name[c] += (n)))
#define HAK_GCTR_ADD(group, name, n) \
    ((void)atomic_fetch_add_explicit(&_hak_gctr.group##_##name, (uint64_t)(n), memory_order_relaxed))
#else
#define HAK_CTR_ADD(group, name, n)          ((void)0)
#define HAK_CTR_ADD_C(cc, group, name, c, n) ((void)0)
#define HAK_GCTR_ADD(group, name, n)         ((void)0)
#endif
#define HAK_CTR_INC(group, name) HAK_CTR_ADD(group, name, 1)
#define HAK_CTR_INC_C(cc, group, name, c) HAK_CTR_ADD_C(cc, group, name, c, 1)

/* Adds a thread's counters t and c (NULL: a thread without a heap) into
 * dst; they may be a running thread's (read unordered: the sum is
 * approximate while it counts). */
void _hak_counters_merge(struct hak_counter_totals *dst, const struct hak_counters *t,
                         const struct hak_class_counters *c);
/* Adds a thread's counters (either may be NULL) to the totals of exited
 * threads and zeroes them; of the per-class ones only those of the classes
 * c counted, the others being zero (a short thread counts a few of the
 * HAK_NCLASS). */
void _hak_counters_retire(struct hak_counters *t, struct hak_class_counters *c);
/* Adds the totals of exited threads into out. */
void _hak_counters_add_retired(struct hak_counter_totals *out);

#endif
