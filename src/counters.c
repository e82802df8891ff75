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

/* dst += src; with clear, src becomes zero in the same pass. */
static void merge(struct hak_counters *dst, struct hak_counters *src, bool clear)
{
    ctr_pair *d = (ctr_pair *)(void *)dst, *s = (ctr_pair *)(void *)src;
#pragma GCC unroll 4
    for (size_t i = 0; i < CTR_WORDS / 2; i++) {
        d[i] += s[i];
        if (clear)
            s[i] = (ctr_pair){ 0, 0 };
    }
    if (CTR_WORDS % 2) {
        uint64_t *dl = (uint64_t *)dst + CTR_WORDS - 1, *sl = (uint64_t *)src + CTR_WORDS - 1;
        *dl += *sl;
        if (clear)
            *sl = 0;
    }
}

void _hak_counters_merge(struct hak_counters *dst, const struct hak_counters *src)
{
    merge(dst, (struct hak_counters *)src, false);
}

void _hak_counters_retire(struct hak_counters *c)
{
    hak_lock(&retired_lock);
    merge(&retired, c, true);
    hak_unlock(&retired_lock);
}

void _hak_counters_add_retired(struct hak_counters *out)
{
    hak_lock(&retired_lock);
    _hak_counters_merge(out, &retired);
    hak_unlock(&retired_lock);
}
