/* compat.c — glibc's malloc introspection and tuning entry points, answered
 * from hakmem's own accounting (SPEC §2: what cannot apply is refused with
 * the documented "unsupported" value). */
#include "alloc.h"
#include "counters.h"
#include "large/arena.h"
#include "large/bigcache.h"
#include "init.h"
#include "large/huge.h"
#include "os.h"
#include "stats.h"
#include "tiny/tiny.h"
#include "vg.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>

#if HAK_OVERRIDE

struct totals {
    size_t mapped;      /* bytes hakmem has mapped now */
    size_t huge_count;  /* live huge blocks */
    size_t huge_bytes;
    size_t free_bytes;  /* free and held: cached SuperSlabs, free arena runs, BigCache */
};

static struct totals totals(void)
{
    struct totals t;
    t.mapped = _hak_os_mapped();
    _hak_huge_totals(&t.huge_count, &t.huge_bytes);
    size_t reserved, used, dirty;
    _hak_arena_totals(&reserved, &used, &dirty);
    t.free_bytes = _hak_tiny_cached_bytes() + (reserved - used) + _hak_bigcache_bytes();
    return t;
}

hak_export int malloc_trim(size_t pad)
{
    (void)pad;
    HAK_VG_VALUE(int, _hak_trim()); /* it flushes the TLS lists: reads freed blocks */
    return _hak_trim();
}

/* arena: bytes mapped outside huge blocks; hblks/hblkhd: huge blocks;
 * fordblks: bytes known to be free; uordblks: the rest of what is mapped. */
hak_export struct mallinfo2 mallinfo2(void)
{
    struct totals t = totals();
    struct mallinfo2 m = { 0 };
    m.hblks = t.huge_count;
    m.hblkhd = t.huge_bytes;
    m.arena = t.mapped > t.huge_bytes ? t.mapped - t.huge_bytes : 0;
    m.fordblks = t.free_bytes;
    m.uordblks = t.mapped > t.free_bytes ? t.mapped - t.free_bytes : 0;
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

hak_export void malloc_stats(void)
{
    struct totals t = totals();
    fprintf(stderr, "hakmem:\nsystem bytes     = %10zu\nin use bytes     = %10zu\nmmap regions     = %10zu\nmmap bytes       = %10zu\n",
            t.mapped, t.mapped - (t.free_bytes < t.mapped ? t.free_bytes : t.mapped), t.huge_count, t.huge_bytes);
    fflush(stderr);
    _hak_stats_print(2, false);
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

/* No glibc tunable maps onto hakmem's options: 0 is glibc's "not done". */
hak_export int mallopt(int param, int value)
{
    (void)param;
    (void)value;
    return 0;
}

#endif
