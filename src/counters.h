/* counters.h — the counters of counters.def: per-thread ones in the
 * thread's TLS object (thread.h), process-wide atomics, the macros that
 * update them (or compile to nothing with --disable-counters), and the
 * totals of threads that exited. */
#ifndef HAK_COUNTERS_H
#define HAK_COUNTERS_H

#include "thread.h"
#include <stdatomic.h>

struct hak_gcounters {
#define HAK_COUNTER(group, name, dim, doc)
#define HAK_GCOUNTER(group, name, doc) _Atomic uint64_t group##_##name;
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_GCOUNTER
};

extern struct hak_gcounters _hak_gctr;

#if HAK_COUNTERS
/* This thread's counters live in its TLS object (thread.h). */
#define HAK_CTR_ADD(group, name, n)      ((void)(_hak_thread.ctr.group##_##name[0] += (n)))
#define HAK_CTR_ADD_C(group, name, c, n) \
    ((void)(_hak_thread.ctr_classes |= (uint64_t)1 << (c), _hak_thread.ctr.group##_##name[c] += (n)))
#define HAK_GCTR_ADD(group, name, n) \
    ((void)atomic_fetch_add_explicit(&_hak_gctr.group##_##name, (uint64_t)(n), memory_order_relaxed))
#else
#define HAK_CTR_ADD(group, name, n)      ((void)0)
#define HAK_CTR_ADD_C(group, name, c, n) ((void)0)
#define HAK_GCTR_ADD(group, name, n)     ((void)0)
#endif
#define HAK_CTR_INC(group, name) HAK_CTR_ADD(group, name, 1)
#define HAK_CTR_INC_C(group, name, c) HAK_CTR_ADD_C(group, name, c, 1)

/* Adds src into dst; src may be a running thread's (read unordered: the
 * sum is approximate while it counts). */
void _hak_counters_merge(struct hak_counters *dst, const struct hak_counters *src);
/* Adds an exiting thread's counters to the totals of exited threads and
 * zeroes them: the per-class ones only of the classes in `classes`, the
 * others being zero (a short thread counts a few of the HAK_NCLASS). */
void _hak_counters_retire(struct hak_counters *c, uint64_t classes);
/* Adds the totals of exited threads into out. */
void _hak_counters_add_retired(struct hak_counters *out);

#endif
