/* counters.c — what outlives the threads that counted: the process-wide
 * counters, and the totals of exited threads' counters. */
#include "counters.h"
#include "lock.h"

struct hak_gcounters _hak_gctr;

static HAK_LOCK_DEFINE(retired_lock, HAK_RANK_COUNTERS);
static struct hak_counters retired;

#define CTR_WORDS (sizeof(struct hak_counters) / sizeof(uint64_t))

hak_racy_reads void _hak_counters_merge(struct hak_counters *dst, const struct hak_counters *src)
{
    uint64_t *d = (uint64_t *)(void *)dst; /* the struct is words only */
    const uint64_t *w = (const uint64_t *)(const void *)src;
    for (size_t i = 0; i < CTR_WORDS; i++)
        d[i] += w[i];
}

/* dst += src and src = 0 for the dim counters at src: all of one, or
 * those of the classes in `classes`. */
static inline void retire_field(uint64_t *dst, uint64_t *src, size_t dim, uint64_t classes)
{
    if (dim == 1) {
        dst[0] += src[0];
        src[0] = 0;
        return;
    }
    for (; classes; classes &= classes - 1) {
        unsigned k = (unsigned)__builtin_ctzll(classes);
        dst[k] += src[k];
        src[k] = 0;
    }
}

void _hak_counters_retire(struct hak_counters *c, uint64_t classes)
{
    if (HAK_NCLASS < 64)
        classes &= ((uint64_t)1 << (HAK_NCLASS & 63)) - 1;
    hak_lock(&retired_lock);
#define HAK_COUNTER(group, name, dim, doc) \
    retire_field(retired.group##_##name, c->group##_##name, dim, classes);
#define HAK_GCOUNTER(group, name, doc)
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_GCOUNTER
    hak_unlock(&retired_lock);
}

void _hak_counters_add_retired(struct hak_counters *out)
{
    hak_lock(&retired_lock);
    _hak_counters_merge(out, &retired);
    hak_unlock(&retired_lock);
}
