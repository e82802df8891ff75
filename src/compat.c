/* compat.c — glibc's malloc introspection and tuning entry points, answered
 * from hakmem's own accounting (SPEC §2: mallopt answers as glibc 2.36
 * does, mallinfo counts live allocations as in use). */
#include "alloc.h"
#include "counters.h"
#include "entry.h"
#include "large/arena.h"
#include "large/bigcache.h"
#include "init.h"
#include "large/huge.h"
#include "os.h"
#include "policy/policy.h"
#include "stats.h"
#include "tiny/tiny.h"
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>

#if HAK_OVERRIDE

struct totals {
    size_t mapped;      /* bytes hakmem has mapped now */
    size_t huge_count;  /* live huge blocks */
    size_t huge_bytes;  /* their mappings */
    size_t in_use;      /* bytes in live blocks below the huge tier (see mallinfo2) */
    size_t free_bytes;  /* the rest of what is mapped: free, cached, metadata */
};

static struct totals totals(void)
{
    struct totals t;
    t.mapped = _hak_os_mapped();
    _hak_huge_totals(&t.huge_count, &t.huge_bytes);
    size_t reserved, used, dirty;
    _hak_arena_totals(&reserved, &used, &dirty);
    (void)reserved;
    (void)dirty;
    size_t rest = t.mapped > t.huge_bytes ? t.mapped - t.huge_bytes : 0;
    /* The caller's own TLS lists hold free blocks: not in use for it (a
     * leak check that frees then asks; they may be tiny.cache_grow). */
    size_t live = _hak_tiny_live_bytes(), own = _hak_tiny_own_cached_bytes();
    t.in_use = (live > own ? live - own : 0) + used;
    if (t.in_use > rest)
        t.in_use = rest; /* the figures are read one after another */
    t.free_bytes = rest - t.in_use;
    return t;
}

hak_export int malloc_trim(size_t pad)
{
    (void)pad;
    return _hak_entry_trim();
}

/* hblks/hblkhd: live huge blocks and their mappings; arena: every other
 * byte hakmem has mapped, of which uordblks is in live blocks — arena runs
 * allocated, and slab blocks out of their slabs (with a user, or cached in
 * another thread's bounded TLS list, or freed by another thread and not yet
 * taken back) — and fordblks the rest: free slab space and runs, cached
 * SuperSlabs and BigCache blocks, metadata. uordblks + fordblks = arena, as
 * in glibc; memory merely mapped is never counted as in use. */
hak_export struct mallinfo2 mallinfo2(void)
{
    struct totals t = totals();
    struct mallinfo2 m = { 0 };
    m.hblks = t.huge_count;
    m.hblkhd = t.huge_bytes;
    m.arena = t.in_use + t.free_bytes;
    m.uordblks = t.in_use;
    m.fordblks = t.free_bytes;
    return m;
}

static int clamp_int(size_t v) { return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v; }

hak_export struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo m = { 0 };
    m.arena = clamp_int(m2.arena);
    m.hblks = clamp_int(m2.hblks);
    m.hblkhd = clamp_int(m2.hblkhd);
    m.uordblks = clamp_int(m2.uordblks);
    m.fordblks = clamp_int(m2.fordblks);
    return m;
}

/* Not a cancellation point, as in glibc: a pending cancel must not cut the
 * report short (stdio's writes are cancellation points). */
hak_export void malloc_stats(void)
{
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    struct totals t = totals();
    size_t peak_count, peak_bytes;
    _hak_huge_peaks(&peak_count, &peak_bytes);
    /* glibc's lines for the whole process (programs parse them). */
    fprintf(stderr,
            "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
            "max mmap regions = %10zu\nmax mmap bytes   = %10zu\n",
            t.mapped, t.in_use + t.huge_bytes, peak_count, peak_bytes);
    fflush(stderr);
    _hak_stats_print(2, false);
    pthread_setcancelstate(cancel, NULL);
}

hak_export int malloc_info(int options, FILE *fp)
{
    if (options != 0)
        return EINVAL; /* as glibc: the error number itself */
    struct totals t = totals();
    fprintf(fp,
            "<malloc version=\"hakmem-%s\">\n"
            "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<aspace type=\"free\" size=\"%zu\"/>\n"
            "</malloc>\n",
            PACKAGE_VERSION, t.huge_count, t.huge_bytes, t.mapped, t.free_bytes);
    return 0;
}

/* As glibc 2.36's mallopt: 1 ("done") for every parameter, known or not,
 * except the values glibc itself refuses. What each means here:
 * M_MMAP_THRESHOLD: the mmap threshold, fixed at value (learning stops, as
 *   with elo.enabled = false); refused above 32 MiB, as glibc's bound;
 * M_MXFAST (glibc's fastbins, 0..160 accepted), M_TRIM_THRESHOLD and
 *   M_TOP_PAD (no sbrk heap here: freed memory is purged after
 *   madvise.delay), M_MMAP_MAX (huge blocks are always mappings),
 *   M_ARENA_TEST and M_ARENA_MAX (every thread has its own heap),
 *   M_CHECK_ACTION (reports follow on_error), M_PERTURB (check mode,
 *   HAKMEM_CHECK=1, fills freed blocks): accepted, no effect. */
#define GLIBC_MAX_FAST 160                /* MAX_FAST_SIZE on 64-bit */
#define GLIBC_MMAP_THRESHOLD_MAX (32 * HAK_MiB) /* HEAP_MAX_SIZE / 2 */
hak_export int mallopt(int param, int value)
{
    switch (param) {
    case M_MXFAST:
        return value >= 0 && value <= GLIBC_MAX_FAST;
    case M_MMAP_THRESHOLD:
        if ((size_t)value > GLIBC_MMAP_THRESHOLD_MAX)
            return 0;
        if (!hak_ready())
            return 1;
        _hak_policy_pin_threshold((size_t)value);
        return 1;
    default:
        return 1;
    }
}

#endif
