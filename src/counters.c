/* counters.c — what outlives the threads that counted: the process-wide
 * counters, and the totals of exited threads' counters. */
#include "counters.h"
#include "lock.h"

struct hak_gcounters _hak_gctr;

static HAK_LOCK_DEFINE(retired_lock, HAK_RANK_COUNTERS);
static struct hak_counters retired;

void _hak_counters_merge(struct hak_counters *dst, const struct hak_counters *src)
{
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *s = (const uint64_t *)src;
    for (size_t i = 0; i < sizeof *dst / sizeof(uint64_t); i++)
        d[i] += s[i];
}

void _hak_counters_retire(const struct hak_counters *c)
{
    hak_lock(&retired_lock);
    _hak_counters_merge(&retired, c);
    hak_unlock(&retired_lock);
}

void _hak_counters_add_retired(struct hak_counters *out)
{
    hak_lock(&retired_lock);
    _hak_counters_merge(out, &retired);
    hak_unlock(&retired_lock);
}
