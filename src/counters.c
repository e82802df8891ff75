/* counters.c — what outlives the threads that counted: the process-wide
 * counters, and the totals of exited threads' counters. */
#include "counters.h"
#include "lock.h"
#include <string.h>

struct hak_gcounters _hak_gctr;

static HAK_LOCK_DEFINE(retired_lock, HAK_RANK_COUNTERS);
static struct hak_counter_totals retired;

#define CTR_WORDS (sizeof(struct hak_counters) / sizeof(uint64_t))

hak_racy_reads void _hak_counters_merge(struct hak_counter_totals *dst, const struct hak_counters *t,
                                        const struct hak_class_counters *c)
{
    if (t) {
        uint64_t *d = (uint64_t *)(void *)&dst->t; /* the struct is words only */
        const uint64_t *w = (const uint64_t *)(const void *)t;
        for (size_t i = 0; i < CTR_WORDS; i++)
            d[i] += w[i];
    }
    if (!c)
        return;
#define HAK_COUNTER(group, name, doc)
#define HAK_CCOUNTER(group, name, doc)                     \
    for (unsigned k = 0; k < HAK_NCLASS; k++)              \
        dst->c.group##_##name[k] += c->group##_##name[k];
#define HAK_GCOUNTER(group, name, doc)
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_CCOUNTER
#undef HAK_GCOUNTER
}

void _hak_counters_retire(struct hak_counters *t, struct hak_class_counters *c)
{
    hak_lock(&retired_lock);
    if (t) {
        _hak_counters_merge(&retired, t, NULL);
        memset(t, 0, sizeof *t);
    }
    if (c) {
        for (uint64_t classes = c->classes; classes; classes &= classes - 1) {
            unsigned k = (unsigned)__builtin_ctzll(classes);
#define HAK_COUNTER(group, name, doc)
#define HAK_CCOUNTER(group, name, doc)                          \
            retired.c.group##_##name[k] += c->group##_##name[k]; \
            c->group##_##name[k] = 0;
#define HAK_GCOUNTER(group, name, doc)
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_CCOUNTER
#undef HAK_GCOUNTER
        }
        c->classes = 0;
    }
    hak_unlock(&retired_lock);
}

void _hak_counters_add_retired(struct hak_counter_totals *out)
{
    hak_lock(&retired_lock);
    _hak_counters_merge(out, &retired.t, &retired.c);
    hak_unlock(&retired_lock);
}
