/* counters.c — what outlives the threads that counted: the process-wide
 * counters, and the totals of exited threads' counters. */
#include "counters.h"
#include "lock.h"

struct hak_gcounters _hak_gctr;

static HAK_LOCK_DEFINE(retired_lock, HAK_RANK_COUNTERS);
static struct hak_counters retired;

/* Two counters at a time: gcc -O2 does not vectorize the plain loop, and a
 * thread exit merges all 404 words (~2,000 instructions one at a time). */
typedef uint64_t ctr_pair __attribute__((vector_size(16), aligned(8), may_alias));
#define CTR_WORDS (sizeof(struct hak_counters) / sizeof(uint64_t))

/* dst += src; zero, if not NULL, is src and becomes zero in the same pass. */
static inline void merge(struct hak_counters *dst, const struct hak_counters *src, struct hak_counters *zero)
{
    ctr_pair *d = (ctr_pair *)(void *)dst, *z = (ctr_pair *)(void *)zero;
    const ctr_pair *s = (const ctr_pair *)(const void *)src;
#pragma GCC unroll 4
    for (size_t i = 0; i < CTR_WORDS / 2; i++) {
        d[i] += s[i];
        if (z)
            z[i] = (ctr_pair){ 0, 0 };
    }
    if (CTR_WORDS % 2) {
        ((uint64_t *)dst)[CTR_WORDS - 1] += ((const uint64_t *)src)[CTR_WORDS - 1];
        if (zero)
            ((uint64_t *)zero)[CTR_WORDS - 1] = 0;
    }
}

void _hak_counters_merge(struct hak_counters *dst, const struct hak_counters *src)
{
    merge(dst, src, NULL);
}

void _hak_counters_retire(struct hak_counters *c)
{
    hak_lock(&retired_lock);
    merge(&retired, c, c);
    hak_unlock(&retired_lock);
}

void _hak_counters_add_retired(struct hak_counters *out)
{
    hak_lock(&retired_lock);
    _hak_counters_merge(out, &retired);
    hak_unlock(&retired_lock);
}
