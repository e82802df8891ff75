/* test_large.c — the large tier through a counting OS layer and an injected
 * clock: arena carving, coalescing, reuse and in-place realloc, retention
 * and decay; BigCache hits, misses and why, smallest fit, cutting to fit
 * and joining, slots, the sites' budgets and the global one, decay; the
 * madvise batch's flush rules (size, count, small ranges, delay, thread
 * exit, batching off). The purger thread is off: the tests tick by hand. */
#include "unit.h"
#include "chunkmap.h"
#include "counters.h"
#include "hakmem.h"
#include "large/arena.h"
#include "large/bigcache.h"
#include "large/huge.h"
#include "purge.h"
#include "options.h"
#include "os.h"
#include "policy/policy.h"
#include <pthread.h>
#include <stdio.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define MS ((uint64_t)1000000)

static unsigned maps, unmaps, advises;
static size_t advised_bytes;
/* The ranges advised since the last reset, the first 64. */
static struct {
    char *addr;
    size_t len;
} advised[64];
static uint64_t fake_now = 1000 * MS;
static void *c_map(size_t n)
{
    maps++;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static int c_unmap(void *p, size_t n)
{
    unmaps++;
    return munmap(p, n);
}
static int c_advise(void *p, size_t n, int advice)
{
    if (advice != MADV_HUGEPAGE) {
        if (advises < sizeof advised / sizeof advised[0])
            advised[advises] = (typeof(advised[0])){ p, n };
        advises++;
        advised_bytes += n;
    }
    return madvise(p, n, advice);
}
static uint64_t c_now(void) { return fake_now; }
static const struct hak_os_ops counting = { c_map, c_unmap, c_advise, c_now };

static int setup(void **state)
{
    (void)state;
    _hak_purge_no_thread(true);
    _hak_os_set_ops(&counting);
    /* The tiers' bounds are fixed here: large.mmap_threshold, not learned. */
    hak_free(hak_malloc(1));
    HAK_OPT(elo_enabled) = 0;
    _hak_policy_init();
    return 0;
}

/* Fresh options and an empty large tier before each test. */
static int reset(void **state)
{
    (void)state;
    HAK_OPT(bigcache_site_bytes) = 256 * MiB; /* the budget the trim gives each site */
    hak_trim();
    HAK_OPT(large_retain) = 32 * MiB;
    HAK_OPT(large_retain_max) = 1024 * MiB;
    HAK_OPT(large_holes) = 0; /* what demand explains alone; arena_keeps_holes adds them */
    _hak_purge_no_thread(true); /* the rules of a process with a purger thread */
    HAK_OPT(madvise_delay) = 1000; /* ms */
    HAK_OPT(madvise_batch) = 1;
    HAK_OPT(madvise_min_bytes) = 64 * KiB;
    HAK_OPT(madvise_flush_bytes) = 4 * MiB;
    HAK_OPT(madvise_max_ranges) = 256;
    HAK_OPT(bigcache_enabled) = 1;
    HAK_OPT(bigcache_max_bytes) = 256 * MiB;
    HAK_OPT(bigcache_max_waste) = 25;
    HAK_OPT(on_error) = HAK_ON_ERROR_ABORT;
    maps = unmaps = advises = 0;
    advised_bytes = 0;
    return 0;
}

/* Whether p was in a range advised since advises was last 0. */
static bool was_advised(const char *p)
{
    for (unsigned i = 0; i < advises && i < sizeof advised / sizeof advised[0]; i++)
        if (p >= advised[i].addr && p < advised[i].addr + advised[i].len)
            return true;
    return false;
}

static size_t dirty_now(void)
{
    size_t r, u, d;
    _hak_arena_totals(&r, &u, &d);
    return d;
}

/* Counter deltas are checked only where counters are compiled in. */
#if HAK_COUNTERS
#define GCTR(name) atomic_load(&_hak_gctr.name)
#define CTR(name) (_hak_thread.ctr.name) /* this thread's */
#define assert_delta(name, since, want) assert_int_equal(GCTR(name) - (since), (want))
#define assert_cdelta(name, since, want) assert_int_equal(CTR(name) - (since), (want))
#else
#define GCTR(name) ((uint64_t)0)
#define CTR(name) ((uint64_t)0)
#define assert_delta(name, since, want) ((void)(since))
#define assert_cdelta(name, since, want) ((void)(since))
#endif

/* ---------------------------------------------------------------- arena */

static void arena_carves_coalesces_reuses(void **state)
{
    (void)state;
    char *p = hak_malloc(300 * KiB);
    char *q = hak_malloc(500 * KiB);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)p)), HAK_CHUNK_ARENA);
    assert_int_equal((uintptr_t)p & (64 * KiB - 1), 0);
    assert_int_equal(hak_malloc_usable_size(p), 320 * KiB); /* whole 64 KiB units */
    memset(p, 1, 300 * KiB);
    memset(q, 2, 500 * KiB);
    unsigned maps0 = maps;
    hak_free(q);
    hak_free(p);
    assert_true(dirty_now() >= 832 * KiB);
    assert_int_equal(advises, 0); /* under the retention bound: kept resident */
    /* The two freed runs coalesced: 700 KiB fits where they were, reused
     * without a system call. */
    char *s = hak_malloc(700 * KiB);
    assert_true(s == p || s == q);
    assert_int_equal(maps, maps0);
    hak_free(s);
}

static void arena_realloc_in_place(void **state)
{
    (void)state;
    char *p = hak_malloc(300 * KiB);
    char *guard = hak_malloc(300 * KiB); /* p's run ends where guard starts, or not */
    hak_free(guard);
    memset(p, 7, 300 * KiB);
    char *q = hak_realloc(p, 900 * KiB); /* grows into the free run after it */
    assert_ptr_equal(q, p);
    assert_true(hak_malloc_usable_size(q) >= 900 * KiB);
    assert_int_equal(q[299 * 1024], 7);
    q = hak_realloc(q, 400 * KiB); /* shrinks, the tail freed */
    assert_ptr_equal(q, p);
    assert_int_equal(hak_malloc_usable_size(q), 448 * KiB);
    q = hak_realloc(q, 100 * KiB); /* below the arena: moves to a slab block */
    assert_true(q != p);
    assert_int_equal(q[99 * 1024], 7);
    hak_free(q);
}

static void arena_reports_misuse(void **state)
{
    (void)state;
    int err = unit_capture(), saved = dup(2);
    dup2(err, 2);
    HAK_OPT(on_error) = HAK_ON_ERROR_WARN;
    char *p = hak_malloc(512 * KiB);
    hak_free(p + 64 * KiB);
    hak_free(p + 5);
    hak_free(p);
    hak_free(p);
    dup2(saved, 2);
    close(saved);
    char text[2048], want[128];
    unit_text(err, text, sizeof text);
    close(err);
    snprintf(want, sizeof want, "hakmem: hak_free(): invalid pointer %p\n", (void *)(p + 64 * KiB));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "hakmem: hak_free(): invalid pointer %p\n", (void *)(p + 5));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "hakmem: hak_free(): double free %p\n", (void *)p);
    assert_non_null(strstr(text, want));
}

static void arena_retention_and_decay(void **state)
{
    (void)state;
    /* Over the most kept: purged through the batch at once. */
    HAK_OPT(large_retain_max) = 0;
    char *p = hak_malloc(1 * MiB);
    memset(p, 3, 1 * MiB);
    hak_free(p);
    _hak_purge_flush();
    assert_int_equal(advises, 1);
    assert_int_equal(dirty_now(), 0);

    /* Under it: resident until unused for the delay. */
    HAK_OPT(large_retain_max) = 1024 * MiB;
    advises = 0;
    p = hak_malloc(1 * MiB);
    memset(p, 3, 1 * MiB);
    uint64_t t0 = fake_now;
    hak_free(p);
    assert_int_equal(_hak_arena_decay(t0 + 999 * MS), t0 + 1000 * MS); /* next deadline */
    _hak_purge_flush();
    assert_int_equal(advises, 0);
    assert_int_equal(_hak_arena_decay(t0 + 1000 * MS), 0);
    _hak_purge_flush();
    assert_int_equal(advises, 1);
    assert_int_equal(dirty_now(), 0);
    /* The purger's tick sends what its decay passes queued at once, though
     * the queue is neither full nor older than the delay. */
    p = hak_malloc(1 * MiB);
    memset(p, 3, 1 * MiB);
    t0 = fake_now;
    hak_free(p);
    assert_int_equal(dirty_now(), 1 * MiB);
    advises = 0;
    fake_now = t0 + 1000 * MS;
    _hak_purge_tick(fake_now);
    assert_true(was_advised(p));
    assert_int_equal(dirty_now(), 0);
    /* Purged with MADV_DONTNEED, the run reads as zero: calloc skips the
     * memset and must still return zeroes. */
    char *z = hak_calloc(1, 1 * MiB);
    for (size_t i = 0; i < 1 * MiB; i += 4096)
        assert_int_equal(z[i], 0);
    hak_free(z);
}

/* The arena's demand periods (madvise.delay each) restart at a clock read
 * after every earlier test's: three decay passes a delay apart leave no dip
 * in either period. */
static void settle_demand(void)
{
    for (int i = 0; i < 3; i++) {
        fake_now += 10000 * MS;
        _hak_arena_decay(fake_now);
    }
    _hak_purge_flush();
    advises = 0;
}

/* n blocks of size each, every one followed by a live 320 KiB guard so that
 * freed blocks stay runs of their own (guards[i] after blk[i]). */
static void guarded(char **blk, char **guards, int n, size_t size)
{
    for (int i = 0; i < n; i++) {
        blk[i] = hak_malloc(size);
        guards[i] = hak_malloc(320 * KiB);
        memset(blk[i], 5, size);
    }
}

static void free_all(char **blk, int n)
{
    for (int i = 0; i < n; i++)
        hak_free(blk[i]);
}

/* Memory freed as demand falls below its recent peak is kept, beyond
 * large.retain; the decay pass then purges it oldest first as it falls
 * due. */
static void arena_keeps_what_demand_dipped(void **state)
{
    (void)state;
    char *a[4], *g[4];
    HAK_OPT(large_retain) = 1 * MiB;
    settle_demand();
    guarded(a, g, 4, 1 * MiB);
    uint64_t t0 = fake_now, decayed0 = GCTR(large_decay_runs);
    for (int i = 0; i < 4; i++) { /* demand falls 4 MiB: all of it kept */
        fake_now = t0 + (uint64_t)i * MS;
        hak_free(a[i]);
    }
    _hak_purge_flush();
    assert_int_equal(advises, 0);
    assert_int_equal(dirty_now(), 4 * MiB);
    /* Unused for the delay: the oldest alone, then the next when due. */
    assert_int_equal(_hak_arena_decay(t0 + 1000 * MS), t0 + 1001 * MS);
    _hak_purge_flush();
    assert_int_equal(advises, 1);
    assert_true(was_advised(a[0]));
    assert_int_equal(dirty_now(), 3 * MiB);
    assert_int_equal(_hak_arena_decay(t0 + 1003 * MS), 0);
    _hak_purge_flush();
    assert_int_equal(dirty_now(), 0);
    assert_delta(large_decay_runs, decayed0, 4);
    free_all(g, 4);
}

/* Blocks replaced by larger ones that do not fit where they were: demand
 * dips by one block at each free, so the free memory beyond the larger of
 * large.retain and that dip is purged at the free — the oldest run, never
 * the one just freed. */
static void arena_purges_oldest_beyond_dip(void **state)
{
    (void)state;
    char *o[4], *g[4], *n[4];
    HAK_OPT(large_retain) = 1 * MiB;
    settle_demand();
    guarded(o, g, 4, 1 * MiB);
    uint64_t t0 = fake_now, excess0 = GCTR(large_excess_runs);
    for (int i = 0; i < 4; i++) {
        fake_now = t0 + (uint64_t)i * MS;
        n[i] = hak_malloc(1536 * KiB);
        hak_free(o[i]);
        _hak_purge_flush();
        /* Kept: o[i], just freed; purged: every older one. */
        assert_int_equal(advises, i);
        for (int j = 0; j < i; j++)
            assert_true(was_advised(o[j]));
        assert_int_equal(dirty_now(), 1 * MiB);
    }
    assert_delta(large_excess_runs, excess0, 3);
    free_all(n, 4);
    free_all(g, 4);
}

/* The same replacements with large.holes: a quarter of the arena's live
 * units is kept besides as holes, so only what exceeds the dip plus that is
 * purged, oldest first and of the last run only the tail over. Live: four
 * 5-unit guards and the 16-unit blocks left or their 24-unit replacements
 * (64 KiB units); the dip is one 16-unit block. */
static void arena_keeps_holes(void **state)
{
    (void)state;
    char *o[4], *g[4], *n[4];
    HAK_OPT(large_retain) = 1 * MiB;
    HAK_OPT(large_holes) = 25;
    settle_demand();
    guarded(o, g, 4, 1 * MiB);
    uint64_t t0 = fake_now, excess0 = GCTR(large_excess_runs);
    static const unsigned live[4] = { 92, 100, 108, 116 }, dirty[4] = { 16, 32, 43, 45 };
    for (int i = 0; i < 4; i++) {
        fake_now = t0 + (uint64_t)i * MS;
        n[i] = hak_malloc(1536 * KiB);
        hak_free(o[i]);
        _hak_purge_flush();
        size_t r, u, d;
        _hak_arena_totals(&r, &u, &d);
        assert_int_equal(u, live[i] * 64 * KiB);
        /* Kept: 16 + live / 4 units at most. */
        assert_int_equal(d, dirty[i] * 64 * KiB);
    }
    /* o[0]'s tail (5 units) at the third free; at the fourth its head, then
     * o[1]'s tail (3 units). */
    assert_true(was_advised(o[0]) && was_advised(o[0] + 1 * MiB - 1));
    assert_true(!was_advised(o[1] + 12 * 64 * KiB) && was_advised(o[1] + 13 * 64 * KiB));
    assert_true(!was_advised(o[2]) && !was_advised(o[3] + 1 * MiB - 1));
    assert_delta(large_excess_runs, excess0, 3);
    free_all(n, 4);
    free_all(g, 4);
}

/* Without idle passes (no purger thread) what a free leaves stays while the
 * process idles: at most large.retain plus large.holes percent of demand,
 * arena and huge blocks alike, plus as much again of the dip, checked at
 * huge frees too; an emptied arena keeps large.retain. Eight 16-unit blocks with 5-unit guards and a
 * live 4 MiB (64-unit) huge block, all eight freed: demand falls 232 → 104
 * units. */
static void arena_idle_ceiling(void **state)
{
    (void)state;
    char *o[8], *g[8];
    HAK_OPT(large_retain) = 1 * MiB;
    HAK_OPT(large_holes) = 25;
    _hak_purge_no_thread(false);
    settle_demand();
    char *h = hak_malloc(4 * MiB);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)h)), HAK_CHUNK_HUGE);
    guarded(o, g, 8, 1 * MiB);
    uint64_t t0 = fake_now;
    /* Kept: the dip plus a quarter of the arena's live units (54, 66, ...
     * 138), under ceilings of 16 + a quarter of demand + the dip up to as
     * much (86, 98, 108, 100, 92, 84, 76, 68): the sixth free is the first
     * over. */
    static const unsigned dirty[8] = { 16, 32, 48, 64, 80, 84, 76, 68 };
    for (int i = 0; i < 8; i++) {
        fake_now = t0 + (uint64_t)i * MS;
        hak_free(o[i]);
        _hak_purge_flush();
        assert_int_equal(dirty_now(), dirty[i] * 64 * KiB);
    }
    /* Oldest first: o[0], o[1] and o[2] whole, o[3]'s last 12 units. */
    assert_true(was_advised(o[0]) && was_advised(o[1]) && was_advised(o[2] + 1 * MiB - 1));
    assert_true(was_advised(o[3] + 4 * 64 * KiB) && !was_advised(o[3] + 4 * 64 * KiB - 1));
    assert_true(!was_advised(o[4]) && !was_advised(o[7]));
    /* The huge block's free lowers demand to the guards' 40 units: the
     * arena's ceiling falls to 16 + 10 + 10 at once (o[3]'s head and o[4]
     * go, and o[5]'s last 12 units), with no pass to come. */
    hak_free(h);
    _hak_purge_flush();
    assert_int_equal(dirty_now(), 36 * 64 * KiB);
    assert_true(was_advised(o[4]) && was_advised(o[5] + 4 * 64 * KiB) && !was_advised(o[5] + 4 * 64 * KiB - 1));
    free_all(g, 8);
    _hak_purge_flush();
    assert_int_equal(dirty_now(), 1 * MiB);
}

/* Without idle passes, a dip that demand came back from is kept the next
 * time: four 16-unit blocks with 5-unit guards freed (demand 84 → 20
 * units) keep large.retain (16 units) the first time — a fall with no
 * return yet, as a program's last — then, allocated again and freed
 * again, all 64 (16 + the 64 units that came back, over a dip of 64). */
static void arena_idle_keeps_returns(void **state)
{
    (void)state;
    char *o[4], *g[4];
    HAK_OPT(large_retain) = 1 * MiB;
    _hak_purge_no_thread(false);
    settle_demand();
    guarded(o, g, 4, 1 * MiB);
    free_all(o, 4);
    _hak_purge_flush();
    assert_int_equal(dirty_now(), 16 * 64 * KiB);
    for (int i = 0; i < 4; i++)
        o[i] = hak_malloc(1 * MiB);
    free_all(o, 4);
    _hak_purge_flush();
    assert_int_equal(dirty_now(), 64 * 64 * KiB);
    /* Once the periods have passed, the return is forgotten. */
    settle_demand();
    for (int i = 0; i < 4; i++)
        o[i] = hak_malloc(1 * MiB);
    free_all(o, 4);
    _hak_purge_flush();
    assert_int_equal(dirty_now(), 16 * 64 * KiB);
    free_all(g, 4);
}

/* large.retain_max bounds what is kept however far demand fell: beyond it
 * the free purges the oldest runs, and of the last only what is over. */
static void arena_ceiling(void **state)
{
    (void)state;
    char *a[4], *g[4];
    HAK_OPT(large_retain_max) = 2 * MiB + 512 * KiB;
    settle_demand();
    guarded(a, g, 4, 1 * MiB);
    uint64_t t0 = fake_now;
    for (int i = 0; i < 3; i++) {
        fake_now = t0 + (uint64_t)i * MS;
        hak_free(a[i]);
    }
    _hak_purge_flush();
    /* 3 MiB free: the tail half of a[0] is purged. */
    assert_int_equal(advises, 1);
    assert_true(!was_advised(a[0]) && was_advised(a[0] + 512 * KiB));
    assert_int_equal(dirty_now(), 2 * MiB + 512 * KiB);
    fake_now = t0 + 3 * MS;
    hak_free(a[3]);
    _hak_purge_flush();
    /* 3.5 MiB: the rest of a[0], the oldest, then a[1]'s tail half. */
    assert_true(was_advised(a[0]) && was_advised(a[1] + 512 * KiB) && !was_advised(a[1]));
    assert_int_equal(dirty_now(), 2 * MiB + 512 * KiB);
    free_all(g, 4);
}

/* While ELO learns the threshold, a request at or above it that BigCache
 * cannot serve takes a resident free arena run that holds it, without a
 * mapping or a fault; a purged run does not serve it (its pages would fault
 * in again), nor does any run under a fixed threshold (ELO off, as in these
 * tests, or mallopt's): those get a mapping of their own. */
static void arena_serves_huge_requests(void **state)
{
    (void)state;
    char *a = hak_malloc(1536 * KiB), *b = hak_malloc(1536 * KiB), *g = hak_malloc(320 * KiB);
    memset(a, 1, 1536 * KiB);
    memset(b, 2, 1536 * KiB);
    hak_free(a);
    hak_free(b); /* one resident run of 3 MiB */
    unsigned maps0 = maps;
    char *f = hak_alloc_at(2560 * KiB, (hak_site_t)0x3000); /* fixed threshold */
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)f)), HAK_CHUNK_HUGE);
    assert_int_equal(maps, maps0 + 1);
    /* Learning (nothing sampled: no window can end mid-test). */
    _hak_policy_min_size = SIZE_MAX - 1;
    uint64_t served0 = CTR(large_for_huge);
    char *h = hak_alloc_at(2560 * KiB, (hak_site_t)0x4000);
    assert_ptr_equal(h, a);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)h)), HAK_CHUNK_ARENA);
    assert_int_equal(maps, maps0 + 1);
    assert_cdelta(large_for_huge, served0, 1);
    hak_free(h);
    hak_trim(); /* purged: no longer served from */
    _hak_purge_flush();
    char *k = hak_alloc_at(2560 * KiB, (hak_site_t)0x5000);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)k)), HAK_CHUNK_HUGE);
    assert_int_equal(maps, maps0 + 2);
    _hak_policy_min_size = SIZE_MAX;
    hak_free(k);
    hak_free(f);
    hak_free(g);
}

/* ---------------------------------------------------------------- BigCache */

#define SITE_A ((hak_site_t)0x1000)
#define SITE_B ((hak_site_t)0x2000)

/* Frees p, freed before, and checks it is reported as a double free. */
static void double_free_reported(void *p, hak_site_t site)
{
    int err = unit_capture(), saved = dup(2);
    dup2(err, 2);
    HAK_OPT(on_error) = HAK_ON_ERROR_WARN;
    hak_free_at(p, site);
    dup2(saved, 2);
    close(saved);
    char text[512], want[128];
    unit_text(err, text, sizeof text);
    close(err);
    snprintf(want, sizeof want, "hakmem: hak_free_at(): double free %p\n", p);
    assert_non_null(strstr(text, want));
    HAK_OPT(on_error) = HAK_ON_ERROR_ABORT;
}

static void bigcache_hits_and_misses(void **state)
{
    (void)state;
    uint64_t hits0 = GCTR(bigcache_hits), miss0 = GCTR(bigcache_misses);
    uint64_t empty0 = GCTR(bigcache_miss_empty), small0 = GCTR(bigcache_miss_small);
    char *a = hak_alloc_at(3 * MiB, SITE_A);
    memset(a, 1, 3 * MiB);
    hak_free_at(a, SITE_A);
    assert_int_equal(_hak_bigcache_bytes(), 4 * MiB); /* the whole mapping */
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)a)), HAK_CHUNK_HUGE); /* still ours */
    unsigned maps0 = maps;
    char *b = hak_alloc_at(3 * MiB + 100, SITE_A);
    assert_ptr_equal(b, a); /* the same site, a fitting size: reused */
    assert_int_equal(maps, maps0);
    assert_int_equal(_hak_bigcache_bytes(), 0);
    hak_free_at(b, SITE_A);
    char *c = hak_alloc_at(3 * MiB, SITE_B); /* another site, nothing cached for it: a miss */
    assert_true(c != a);
    char *d = hak_alloc_at(5 * MiB, SITE_A); /* more than the site's 4 MiB block holds: a miss */
    assert_true(d != a);
    assert_int_equal(_hak_bigcache_bytes(), 4 * MiB);
    assert_delta(bigcache_hits, hits0, 1);
    assert_delta(bigcache_misses, miss0, 3); /* a's first allocation, c, d */
    assert_delta(bigcache_miss_empty, empty0, 2);
    assert_delta(bigcache_miss_small, small0, 1);
    /* A cached block freed again is a double free. */
    double_free_reported(a, SITE_A);
    hak_free(c);
    hak_free(d);
}

/* A block larger than the request is cut to fit (the tail stays cached),
 * and the pieces join again when freed: no system call throughout. */
static void bigcache_trims_to_fit_and_joins(void **state)
{
    (void)state;
    uint64_t trims0 = GCTR(bigcache_trims), joins0 = GCTR(bigcache_joins), hits0 = GCTR(bigcache_hits);
    char *a = hak_alloc_at(12 * MiB, SITE_A);
    hak_free_at(a, SITE_A);
    unsigned maps0 = maps, unmaps0 = unmaps;
    /* 3 MiB needs 2 chunks; the whole 12 MiB would waste 75 %: cut. */
    char *b = hak_alloc_at(3 * MiB, SITE_A);
    assert_ptr_equal(b, a);
    assert_int_equal(_hak_bigcache_bytes(), 8 * MiB);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)a + 4 * MiB)), HAK_CHUNK_HUGE);
    assert_true(HAK_CHUNK_PTR(hak_chunk_get((uintptr_t)a + 4 * MiB)) != HAK_CHUNK_PTR(hak_chunk_get((uintptr_t)a)));
    assert_delta(bigcache_trims, trims0, 1);
    /* 7.5 MiB takes the 8 MiB tail whole (it needs all of its chunks). */
    char *c = hak_alloc_at(7 * MiB + 512 * KiB, SITE_A);
    assert_ptr_equal(c, a + 4 * MiB);
    assert_int_equal(_hak_bigcache_bytes(), 0);
    assert_delta(bigcache_trims, trims0, 1);
    assert_delta(bigcache_hits, hits0, 2);
    memset(b, 2, 3 * MiB);
    memset(c, 3, 7 * MiB + 512 * KiB);
    assert_int_equal(b[3 * MiB - 1], 2);
    assert_true(hak_malloc_usable_size(b) >= 3 * MiB);
    /* Freed, the two join: one 12 MiB block again. */
    hak_free_at(b, SITE_A);
    hak_free_at(c, SITE_A);
    assert_int_equal(_hak_bigcache_bytes(), 12 * MiB);
    assert_delta(bigcache_joins, joins0, 1);
    /* c was a block of its own: freed again, inside the joined block, it is
     * still a double free. */
    double_free_reported(c, SITE_A);
    char *d = hak_alloc_at(12 * MiB, SITE_A);
    assert_ptr_equal(d, a);
    assert_int_equal(HAK_CHUNK_PTR(hak_chunk_get((uintptr_t)a + 8 * MiB)), HAK_CHUNK_PTR(hak_chunk_get((uintptr_t)a)));
    assert_int_equal(maps, maps0);
    assert_int_equal(unmaps, unmaps0);
    hak_free(d);
}

/* Blocks at SITE_A cached side by side but apart: cut in turn from one
 * cached mapping, each followed by a 2 MiB block that stays live (spacer),
 * so that they cannot join. */
static void cache_apart(char **blk, const size_t *size, unsigned n, char **spacer)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += hak_align_up(size[i], 2 * MiB) + 2 * MiB;
    hak_free_at(hak_alloc_at(total, SITE_A), SITE_A);
    HAK_OPT(bigcache_max_waste) = 0; /* always cut */
    for (unsigned i = 0; i < n; i++) {
        blk[i] = hak_alloc_at(size[i], SITE_A);
        spacer[i] = hak_alloc_at(2 * MiB, SITE_A);
        assert_ptr_equal(spacer[i], blk[i] + hak_align_up(size[i], 2 * MiB));
    }
    HAK_OPT(bigcache_max_waste) = 25;
    assert_int_equal(_hak_bigcache_bytes(), 0);
    for (unsigned i = 0; i < n; i++)
        hak_free_at(blk[i], SITE_A);
}

static void bigcache_smallest_fit(void **state)
{
    (void)state;
    static const size_t size[3] = { 16 * MiB, 8 * MiB, 10 * MiB };
    char *blk[3], *spacer[3];
    cache_apart(blk, size, 3, spacer);
    assert_int_equal(_hak_bigcache_bytes(), 34 * MiB);
    /* 7 MiB: the 8 MiB block, whole (12.5 % waste); 9 MiB: the 10 MiB one. */
    assert_ptr_equal(hak_alloc_at(7 * MiB, SITE_A), blk[1]);
    assert_ptr_equal(hak_alloc_at(9 * MiB, SITE_A), blk[2]);
    assert_ptr_equal(hak_alloc_at(9 * MiB, SITE_A), blk[0]); /* cut: 6 MiB stay */
    assert_int_equal(_hak_bigcache_bytes(), 6 * MiB);
    for (unsigned i = 0; i < 3; i++) {
        hak_free(blk[i]);
        hak_free(spacer[i]);
    }
}

static void bigcache_slots_budget_decay(void **state)
{
    (void)state;
    unsigned slots = (unsigned)HAK_OPT(bigcache_slots);
    char *blk[65], *spacer[65];
    size_t size[65];
    for (unsigned i = 0; i <= slots; i++)
        size[i] = 3 * MiB;
    uint64_t ev0 = GCTR(bigcache_evictions);
    cache_apart(blk, size, slots + 1, spacer);
    /* One more than the site's slots: the oldest left. */
    assert_int_equal(_hak_bigcache_bytes(), (size_t)slots * 4 * MiB);
    assert_delta(bigcache_evictions, ev0, 1);
    for (unsigned i = 0; i <= slots; i++)
        hak_free(spacer[i]);
    /* The byte budget holds across sites. */
    HAK_OPT(bigcache_max_bytes) = 8 * MiB;
    char *e = hak_alloc_at(3 * MiB, SITE_B);
    hak_free_at(e, SITE_B);
    assert_true(_hak_bigcache_bytes() <= 8 * MiB);
    /* Unused for the delay: everything leaves, unmapped through the batch. */
    unsigned unmaps0 = unmaps;
    uint64_t t = fake_now + 1000 * MS;
    assert_int_equal(_hak_bigcache_decay(t), 0);
    _hak_purge_flush();
    assert_int_equal(_hak_bigcache_bytes(), 0);
    assert_true(unmaps > unmaps0);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)e)), HAK_CHUNK_HUGE_FREED);
}

/* A site keeps what its budget allows; a miss after it let blocks go
 * raises the budget by the request, or doubles it if that is more; blocks
 * that decay take their bytes off it. */
static void bigcache_site_budget(void **state)
{
    (void)state;
    HAK_OPT(bigcache_site_bytes) = 16 * MiB;
    hak_trim(); /* SITE_A's budget: 16 MiB */
    static const size_t size[2] = { 3 * MiB, 3 * MiB };
    char *blk[2], *spacer[2];
    cache_apart(blk, size, 2, spacer); /* two 4 MiB blocks cached */
    assert_int_equal(_hak_bigcache_bytes(), 8 * MiB);
    uint64_t grows0 = GCTR(bigcache_grows);
    /* A miss before the site let anything go leaves the budget. */
    char *d = hak_alloc_at(10 * MiB, SITE_A);
    assert_delta(bigcache_grows, grows0, 0);
    fake_now += MS; /* ages tell the oldest */
    hak_free_at(d, SITE_A);
    /* 18 MiB is over the budget: the oldest went (blk[0], or blk[1] if d
     * joined blk[0]), 14 MiB stays either way. */
    assert_int_equal(_hak_bigcache_bytes(), 14 * MiB);
    /* Nothing holds 20 MiB: a miss, and the budget grows by it (more than
     * doubling 16 MiB), to 36 MiB. */
    char *e = hak_alloc_at(20 * MiB, SITE_A);
    assert_delta(bigcache_grows, grows0, 1);
    fake_now += MS;
    hak_free_at(e, SITE_A);
    assert_int_equal(_hak_bigcache_bytes(), 34 * MiB); /* within 36 MiB */
    /* All unused for the delay: they leave, their 34 MiB coming off the
     * budget (16 MiB left, where it started); a 30 MiB block no longer fits
     * in it. */
    assert_int_equal(_hak_bigcache_decay(fake_now + 1000 * MS), 0);
    assert_int_equal(_hak_bigcache_bytes(), 0);
    char *f = hak_alloc_at(30 * MiB, SITE_A);
    hak_free_at(f, SITE_A);
    assert_int_equal(_hak_bigcache_bytes(), 0);
    /* The site let f go: a miss of 4 MiB doubles the budget to 32 MiB, and
     * a 30 MiB block fits again. */
    char *g4 = hak_alloc_at(4 * MiB, SITE_A);
    assert_delta(bigcache_grows, grows0, 2);
    char *f2 = hak_alloc_at(30 * MiB, SITE_A);
    hak_free_at(f2, SITE_A);
    assert_int_equal(_hak_bigcache_bytes(), 30 * MiB);
    hak_free_at(g4, SITE_A);
    assert_int_equal(_hak_bigcache_decay(fake_now + 1000 * MS), 0);
    _hak_purge_flush();
    for (unsigned i = 0; i < 2; i++)
        hak_free(spacer[i]);
}

static void bigcache_off_unmaps_through_batch(void **state)
{
    (void)state;
    HAK_OPT(bigcache_enabled) = 0;
    char *a = hak_alloc_at(2 * MiB, SITE_A); /* a 2 MiB mapping: under the flush mark */
    unsigned unmaps0 = unmaps;
    hak_free_at(a, SITE_A);
    assert_int_equal(_hak_bigcache_bytes(), 0);
    assert_int_equal(unmaps, unmaps0); /* queued, under the 4 MiB flush mark */
    _hak_purge_flush();
    assert_int_equal(unmaps, unmaps0 + 1);
}

/* ---------------------------------------------------------------- batch */

static char *region(size_t n)
{
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 9, n);
    return p;
}

static unsigned done_calls;
static void count_done(void *addr, size_t len, void *arg)
{
    (void)addr;
    (void)len;
    (void)arg;
    done_calls++;
}

static void batch_flush_rules(void **state)
{
    (void)state;
    char *r = region(16 * MiB);
    done_calls = 0;
    /* Small ranges go at once. */
    _hak_purge_queue(r, 16 * KiB, false, count_done, NULL);
    assert_int_equal(advises, 1);
    assert_int_equal(done_calls, 1);
    /* Large ones wait for 4 MiB… */
    advises = 0;
    _hak_purge_queue(r + 1 * MiB, 1 * MiB, false, count_done, NULL);
    _hak_purge_queue(r + 3 * MiB, 1 * MiB, false, count_done, NULL);
    _hak_purge_queue(r + 5 * MiB, 1 * MiB, false, count_done, NULL);
    assert_int_equal(advises, 0);
    assert_int_equal(r[1 * MiB], 9); /* not purged yet */
    _hak_purge_queue(r + 7 * MiB, 1 * MiB, false, count_done, NULL);
    assert_int_equal(advises, 4); /* four separate ranges, one flush */
    assert_int_equal(done_calls, 5);
    assert_int_equal(r[1 * MiB], 0); /* MADV_DONTNEED: reads back zero */
    /* …and adjacent ranges share a call. */
    advises = 0;
    for (int i = 0; i < 4; i++)
        _hak_purge_queue(r + 8 * MiB + (size_t)i * MiB, 1 * MiB, false, NULL, NULL);
    assert_int_equal(advises, 1);
    /* A full queue is flushed, whatever its bytes. */
    HAK_OPT(madvise_max_ranges) = 3;
    advises = 0;
    for (int i = 0; i < 3; i++)
        _hak_purge_queue(r + (size_t)(2 * i + 1) * MiB, 256 * KiB, false, NULL, NULL);
    assert_int_equal(advises, 3);
    HAK_OPT(madvise_max_ranges) = 256;
    /* After the delay, the purger's tick flushes even a lone range. */
    advises = 0;
    uint64_t t0 = fake_now;
    _hak_purge_queue(r + 12 * MiB, 1 * MiB, false, NULL, NULL);
    assert_int_equal(_hak_purge_tick(t0 + 999 * MS), t0 + 1000 * MS);
    assert_int_equal(advises, 0);
    assert_int_equal(_hak_purge_tick(t0 + 1000 * MS), 0);
    assert_int_equal(advises, 1);
    /* Batching off: every purge is its own call at once. */
    HAK_OPT(madvise_batch) = 0;
    advises = 0;
    _hak_purge_queue(r + 13 * MiB, 1 * MiB, false, NULL, NULL);
    assert_int_equal(advises, 1);
    munmap(r, 16 * MiB);
}

static void *purging_thread(void *arg)
{
    (void)arg;
    HAK_OPT(large_retain_max) = 0; /* its free is queued for a purge at once */
    char *p = hak_malloc(1 * MiB);
    memset(p, 1, 1 * MiB);
    hak_free(p);
    return NULL;
}

static void batch_flushed_at_thread_exit(void **state)
{
    (void)state;
    pthread_t t;
    pthread_create(&t, NULL, purging_thread, NULL);
    pthread_join(t, NULL);
    assert_true(advises >= 1);
    assert_true(advised_bytes >= 1 * MiB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(arena_carves_coalesces_reuses, reset),
        cmocka_unit_test_setup(arena_realloc_in_place, reset),
        cmocka_unit_test_setup(arena_reports_misuse, reset),
        cmocka_unit_test_setup(arena_retention_and_decay, reset),
        cmocka_unit_test_setup(arena_keeps_what_demand_dipped, reset),
        cmocka_unit_test_setup(arena_purges_oldest_beyond_dip, reset),
        cmocka_unit_test_setup(arena_keeps_holes, reset),
        cmocka_unit_test_setup(arena_idle_ceiling, reset),
        cmocka_unit_test_setup(arena_idle_keeps_returns, reset),
        cmocka_unit_test_setup(arena_ceiling, reset),
        cmocka_unit_test_setup(arena_serves_huge_requests, reset),
        cmocka_unit_test_setup(bigcache_hits_and_misses, reset),
        cmocka_unit_test_setup(bigcache_trims_to_fit_and_joins, reset),
        cmocka_unit_test_setup(bigcache_smallest_fit, reset),
        cmocka_unit_test_setup(bigcache_site_budget, reset),
        cmocka_unit_test_setup(bigcache_slots_budget_decay, reset),
        cmocka_unit_test_setup(bigcache_off_unmaps_through_batch, reset),
        cmocka_unit_test_setup(batch_flush_rules, reset),
        cmocka_unit_test_setup(batch_flushed_at_thread_exit, reset),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
