/* test_tiny.c — the slab engine through its counters and records: carving,
 * the refill stages, TLS list bounds, remote frees and their drain, thread
 * exit and adoption, misuse detection, huge blocks and aligned blocks. Run
 * in both SuperSlab modes (HAKMEM_TINY_USE_SUPERSLAB=1 and 0). */
#include "unit.h"
#include "hakmem.h"
#include "init.h"
#include "large/huge.h"
#include "options.h"
#include "stats.h"
#include "tiny/engine.h"
#include "purge.h"
#include "os.h"
#include "policy/policy.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

static struct hak_counter_totals before, after;
static struct hak_gcounters gbefore, gafter;
static void snap(struct hak_counter_totals *c)
{
    _hak_stats_snapshot(c);
    /* Word by word: the purger may be counting meanwhile. */
    _Atomic uint64_t *g = (_Atomic uint64_t *)(void *)(c == &before ? &gbefore : &gafter);
    _Atomic uint64_t *live = (_Atomic uint64_t *)(void *)&_hak_gctr;
    for (size_t i = 0; i < sizeof _hak_gctr / sizeof *live; i++)
        atomic_store_explicit(&g[i], atomic_load_explicit(&live[i], memory_order_relaxed), memory_order_relaxed);
}
/* Unused when the counters are compiled out: so are the checks with GREW. */
hak_unused static uint64_t sum(const uint64_t *v, unsigned n)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < n; i++)
        s += v[i];
    return s;
}
/* Growth of a counter between the two snapshots. */
#define GREW(field) (after.t.field - before.t.field)
/* The same for a per-class counter: class k, or all with -1. */
#define CGREW(field, k)                                                                                         \
    ((int)(k) < 0 ? sum(after.c.field, sizeof after.c.field / 8) - sum(before.c.field, sizeof before.c.field / 8) \
                  : after.c.field[k] - before.c.field[k])
/* The same for a process-wide counter. */
#define GGREW(field) (atomic_load(&gafter.field) - atomic_load(&gbefore.field))

/* Runs fn(arg) on a new thread; returns what it returned. */
static void *run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *ret = NULL;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    return ret;
}

/* run_thread with the TLS lists' growth budget (tiny.cache_grow) set to
 * budget for the thread's life: 0 keeps the lists at their base bounds. */
static void run_thread_grow(void *(*fn)(void *), void *arg, size_t budget)
{
    size_t grow = _hak_tiny_grow;
    _hak_tiny_grow = budget;
    run_thread(fn, arg);
    _hak_tiny_grow = grow;
}

/* ---------------------------------------------------------------- geometry */

/* The block-start test agrees with division for every class, at every
 * offset of its span and at offsets below its start (which wrap), and the
 * block index is the quotient (see tiny_block_index). */
static void block_test_is_exact(void **state)
{
    (void)state;
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        struct tiny_slab s;
        memset(&s, 0, sizeof s);
        s.size = _hak_class_size[c];
        size_t span = _hak_tiny_units[c] * HAK_UNIT_SIZE;
        assert_in_range(_hak_tiny_units[c], 1, 8);
        s.capacity = span / s.size;
        assert_true(s.capacity >= 2);
        _hak_tiny_block_divisor(&s);
        for (uintptr_t off = 0; off < span; off++) {
            bool expect = off % s.size == 0 && off / s.size < s.capacity;
            if (tiny_is_block_off(off, &s) != expect)
                fail_msg("class %u (size %u): offset %lu", c, s.size, (unsigned long)off);
            if (expect && tiny_block_index(off, &s) != off / s.size)
                fail_msg("class %u (size %u): index of offset %lu", c, s.size, (unsigned long)off);
        }
        for (uintptr_t below = 1; below <= span; below++)
            if (tiny_is_block_off(-below, &s))
                fail_msg("class %u (size %u): %lu bytes below the slab", c, s.size, (unsigned long)below);
        s.capacity = 0; /* unpublished */
        assert_false(tiny_is_block_off(0, &s));
    }
}

/* ---------------------------------------------------------------- carving */

#define CLS48 3
struct carve_result {
    unsigned first_capacity;
    int distinct_ok, aligned_ok, same_slab_ok;
};

static void *carve_thread(void *arg)
{
    struct carve_result *r = arg;
    unsigned n = 3000;
    void **p = calloc(n, sizeof *p);
    r->distinct_ok = r->aligned_ok = r->same_slab_ok = 1;
    for (unsigned i = 0; i < n; i++) {
        p[i] = hak_malloc(48);
        if (!p[i] || ((uintptr_t)p[i] & 15))
            r->aligned_ok = 0;
    }
    struct tiny_slab *s0 = tiny_slab_of((uintptr_t)p[0]);
    r->first_capacity = s0 ? s0->capacity : 0;
    for (unsigned i = 0; i < n && s0; i++) {
        struct tiny_slab *s = tiny_slab_of((uintptr_t)p[i]);
        if (!s || s->size != 48 || (i < s0->capacity && s != s0))
            r->same_slab_ok = 0;
    }
    for (unsigned i = 1; i < n; i++) /* carved in address order within a slab */
        if (p[i] == p[i - 1])
            r->distinct_ok = 0;
    for (unsigned i = 0; i < n; i++)
        hak_free(p[i]);
    free(p);
    return NULL;
}

/* Fresh blocks come a page's worth at a time until the class has filled a
 * slab (a class touched a few times costs a page, not a 16 KiB batch), then
 * in full batches; the step grows with what the slab carved. 700 B
 * (class 768): nothing else here uses it. */
struct step_result {
    unsigned first, second, capacity, grown;
};

static void *step_thread(void *arg)
{
    struct step_result *r = arg;
    void *p[400];
    p[0] = hak_malloc(700);
    struct tiny_slab *s = tiny_slab_of((uintptr_t)p[0]);
    r->first = s ? s->carved : 0;
    r->capacity = s ? s->capacity : 0;
    unsigned i = 1;
    r->second = 0;
    for (; i < 400; i++) {
        p[i] = hak_malloc(700);
        if (s && i == 4096 / s->size)
            r->second = s->carved; /* the refill after the first page */
    }
    /* The class has filled slabs by now: a new slab carves a full batch. */
    struct tiny_slab *last = tiny_slab_of((uintptr_t)p[399]);
    r->grown = last && last != s ? last->carved : 0;
    for (i = 0; i < 400; i++)
        hak_free(p[i]);
    return NULL;
}

static void carving_steps_by_page(void **state)
{
    (void)state;
    if (_hak_check_on)
        skip(); /* check mode carves CHECK_CARVE blocks at a time */
    struct step_result r;
    run_thread(step_thread, &r);
    unsigned size = _hak_class_size[hak_size_class(700)];
    unsigned page = 4096 / size;
    assert_int_equal(r.first, page);      /* one page, not the batch */
    assert_int_equal(r.second, 2 * page); /* the step is what the slab carved */
    assert_true(r.capacity > 4 * page);
    assert_true(r.grown > 2 * page);      /* a growing class: full batches */
}

static void carving_and_stages(void **state)
{
    (void)state;
    struct carve_result r;
    snap(&before);
    run_thread(carve_thread, &r);
    snap(&after);
    assert_true(r.aligned_ok);
    assert_true(r.distinct_ok);
    assert_true(r.same_slab_ok);
    assert_int_equal(r.first_capacity, HAK_UNIT_SIZE / 48);
#if HAK_COUNTERS
    /* A fresh thread: its first slab comes from stage 6; 3000 blocks need
     * three slabs of 1365, so two more come from stage 5 (an owned
     * SuperSlab) or, without SuperSlabs, stage 6 again. */
    assert_int_equal(CGREW(tiny_refill_fail, CLS48), 0);
    if (HAK_OPT(tiny_use_superslab)) {
        assert_int_equal(CGREW(tiny_refill_new_ss, CLS48), 1);
        assert_int_equal(CGREW(tiny_refill_empty_slab, CLS48), 2);
    } else {
        assert_int_equal(CGREW(tiny_refill_new_ss, CLS48), 3);
        assert_int_equal(CGREW(tiny_refill_empty_slab, CLS48), 0);
        assert_true(GGREW(tiny_fallback_map) >= 3);
    }
    assert_true(CGREW(tiny_refill_carve, CLS48) >= 3000 / 256);
    assert_int_equal(GREW(tiny_thread_exit), 1);
    /* Everything was freed before exit: no slab is left abandoned. */
    assert_int_equal(GREW(tiny_slab_abandon), 0);
#endif
}

/* ---------------------------------------------------------------- TLS list */

static void *lifo_thread(void *arg)
{
    int *ok = arg;
    void *a = hak_malloc(100);
    hak_free(a);
    void *b = hak_malloc(100); /* the list is LIFO: the same block again */
    *ok = a == b;
    hak_free(b);
    /* More frees than the list holds: the excess goes back to the slab. */
    unsigned c = hak_size_class(100);
    uint32_t bound = _hak_thread.tiny.bound[c];
    unsigned n = bound * 3;
    void **p = malloc(n * sizeof *p);
    for (unsigned i = 0; i < n; i++)
        p[i] = hak_malloc(100);
    for (unsigned i = 0; i < n; i++)
        hak_free(p[i]);
    *ok = *ok && bound > 0 && _hak_thread.tiny.room[c] < bound; /* some cached, never over */
    free(p);
    return NULL;
}

static void tls_list_is_lifo_and_bounded(void **state)
{
    (void)state;
    int ok = 0;
    snap(&before);
    run_thread_grow(lifo_thread, &ok, 0); /* fixed bounds (free_bursts_grow_the_list lets them grow) */
    snap(&after);
    assert_true(ok);
#if HAK_COUNTERS
    assert_true(GREW(free_ss_local) > 0);
    assert_true(GREW(free_tls_sll) > 0);
    assert_true(GREW(tiny_alloc_fast) > 0);
#endif
}

/* Mid sizes below the sizes the learning samples pop their list inline as
 * tiny ones do (calloc clears the block it pops); a sampled size stays on
 * the slow path, where it is counted. */
#define MID_SIZE 4000
struct mid_result {
    uint64_t popped, sampled_popped;
    int same, cleared, sampled;
};

static uint64_t alloc_fast_now(void)
{
#if HAK_COUNTERS
    return _hak_thread.ctr.tiny_alloc_fast;
#else
    return 0;
#endif
}

static void *mid_thread(void *arg)
{
    struct mid_result *r = arg;
    char *a = hak_malloc(MID_SIZE);
    hak_free(a);
    uint64_t f0 = alloc_fast_now();
    char *b = hak_malloc(MID_SIZE); /* from the list: the same block */
    memset(b, 0xa5, MID_SIZE);
    hak_free(b);
    char *z = hak_calloc(1, MID_SIZE);
    r->popped = alloc_fast_now() - f0;
    r->same = a == b && b == z;
    r->cleared = 1;
    for (size_t i = 0; i < MID_SIZE; i++)
        r->cleared &= z[i] == 0;
    hak_free(z);
    size_t n = __atomic_load_n(&_hak_policy_min_size, __ATOMIC_RELAXED);
    r->sampled = n <= _hak_mid_max;
    if (r->sampled) {
        void *p = hak_malloc(n);
        hak_free(p);
        f0 = alloc_fast_now();
        void *q = hak_malloc(n);
        r->sampled_popped = alloc_fast_now() - f0;
        hak_free(q);
    }
    return NULL;
}

static void mid_sizes_pop_inline(void **state)
{
    (void)state;
    if (_hak_check_on)
        skip(); /* check mode keeps no TLS lists */
    struct mid_result r;
    memset(&r, 0, sizeof r);
    run_thread(mid_thread, &r);
    assert_true(r.same);
    assert_true(r.cleared);
#if HAK_COUNTERS
    assert_int_equal(r.popped, 2);
    if (r.sampled)
        assert_int_equal(r.sampled_popped, 0);
#endif
}

/* A burst of frees longer than the bound, with fixed bounds (tiny.cache_grow
 * = 0): each overflow returns half the list in one pass, a run of one
 * slab's blocks per splice, and the slab's accounting stays exact. */
#define BURST 1600
struct burst_result {
    uint32_t bound;
    uint64_t frees_slow, flushes, runs, carved_again;
    int one_slab, used_exact, distinct, double_free_seen, reused_once;
};

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* Whether the n blocks of p are n different ones; frees them all. */
static bool distinct_then_free(void **p, unsigned n)
{
    qsort(p, n, sizeof p[0], cmp_ptr);
    bool distinct = true;
    for (unsigned i = 1; i < n; i++)
        distinct &= p[i] != p[i - 1];
    for (unsigned i = 0; i < n; i++)
        hak_free(p[i]);
    return distinct;
}

static void *burst_thread(void *arg)
{
    struct burst_result *r = arg;
    struct tiny_tls *t = &_hak_thread.tiny;
    unsigned c = hak_size_class(32);
    static void *p[BURST], *q[BURST];
    for (unsigned i = 0; i < BURST; i++)
        p[i] = hak_malloc(32);
    r->bound = t->bound[c];
    struct tiny_slab *s = tiny_slab_of((uintptr_t)p[0]);
    r->one_slab = 1;
    for (unsigned i = 0; i < BURST; i++)
        r->one_slab &= tiny_slab_of((uintptr_t)p[i]) == s;
#if HAK_COUNTERS
    uint64_t fl0 = _hak_thread.ctr.free_tls_flush, ru0 = _hak_thread.ctr.free_flush_runs;
#endif
    for (unsigned i = 0; i < BURST / 2; i++) /* glibc-simple's order: half oldest first … */
        hak_free(p[i]);
    for (unsigned i = BURST; i > BURST / 2; i--) /* … half newest first */
        hak_free(p[i - 1]);
#if HAK_COUNTERS
    r->flushes = _hak_thread.ctr.free_tls_flush - fl0;
    r->runs = _hak_thread.ctr.free_flush_runs - ru0;
#endif
    /* Blocks in the TLS list count as used; the rest went back to s. */
    r->used_exact = s->used == t->bound[c] - t->room[c];
    /* A block the flush put back on the slab is still known to be free. */
    void *flushed = s->free;
    capture_stderr();
    if (flushed)
        hak_free(flushed);
    const char *w = release_stderr();
    char expect[96];
    snprintf(expect, sizeof expect, "hakmem: hak_free(): double free %p\n", flushed);
    r->double_free_seen = flushed && strstr(w, expect) != NULL;
    /* Every block comes back, once, without carving fresh space. */
#if HAK_COUNTERS
    uint64_t carve0 = _hak_thread.tiny.heap->cctr.tiny_refill_carve[c];
#endif
    r->reused_once = 1;
    for (unsigned i = 0; i < BURST; i++) {
        q[i] = hak_malloc(32);
        r->reused_once &= tiny_slab_of((uintptr_t)q[i]) == s;
    }
#if HAK_COUNTERS
    r->carved_again = _hak_thread.tiny.heap->cctr.tiny_refill_carve[c] - carve0;
#endif
    r->distinct = distinct_then_free(q, BURST);
    return NULL;
}

static void free_burst_is_batched(void **state)
{
    (void)state;
    if (_hak_check_on)
        skip(); /* check mode keeps no TLS lists */
    struct burst_result r;
    memset(&r, 0, sizeof r);
    run_thread_grow(burst_thread, &r, 0);
    assert_true(r.bound > 0 && r.bound < BURST);
    assert_true(r.one_slab);
    assert_true(r.used_exact);
    assert_true(r.double_free_seen);
    assert_true(r.reused_once);
    assert_true(r.distinct);
#if HAK_COUNTERS
    /* The first overflow comes after `bound` frees, then one every half. */
    uint32_t batch = r.bound - r.bound / 2;
    assert_true(r.flushes >= 1);
    assert_true(r.flushes <= (BURST - r.bound + batch - 1) / batch + 1);
    /* All blocks are of one slab: one splice per flush. */
    assert_int_equal(r.runs, r.flushes);
    assert_int_equal(r.carved_again, 0);
#endif
}

/* Bursts of frees longer than the bound, the bounds free to grow within
 * tiny.cache_grow: a list's bound doubles at each overflow and nothing
 * goes back to the slab, until a doubling would take the thread's lists
 * past the budget; from there the list's overflows return half of it as
 * with fixed bounds, and the list that grew first keeps its room. Trimming
 * sets every list back to its base. */
#define GROW_BUDGET (64 * 1024)
struct grow_result {
    uint32_t base16, base32, bound16, bound32, bound16_after, room16, held16;
    uint64_t grows16, flushes16, grows32, flushes32;
    int used16_exact, trimmed;
};

static void *grow_thread(void *arg)
{
    struct grow_result *r = arg;
    struct tiny_tls *t = &_hak_thread.tiny;
    unsigned c16 = hak_size_class(16), c32 = hak_size_class(32);
    static void *p[BURST], *q[BURST];
    r->base16 = _hak_tiny_bound[c16];
    r->base32 = _hak_tiny_bound[c32];
#if HAK_COUNTERS
    uint64_t g0 = _hak_thread.ctr.free_tls_grow, f0 = _hak_thread.ctr.free_tls_flush;
#endif
    for (unsigned i = 0; i < BURST; i++)
        p[i] = hak_malloc(16);
    r->held16 = t->bound[c16] - t->room[c16]; /* what the last refill left */
    struct tiny_slab *s16 = tiny_slab_of((uintptr_t)p[0]);
    for (unsigned i = 0; i < BURST; i++)
        hak_free(p[i]);
    r->bound16 = t->bound[c16];
    r->room16 = t->room[c16];
    r->used16_exact = s16->used == t->bound[c16] - t->room[c16];
#if HAK_COUNTERS
    r->grows16 = _hak_thread.ctr.free_tls_grow - g0;
    r->flushes16 = _hak_thread.ctr.free_tls_flush - f0;
    g0 = _hak_thread.ctr.free_tls_grow;
    f0 = _hak_thread.ctr.free_tls_flush;
#endif
    for (unsigned i = 0; i < BURST; i++)
        q[i] = hak_malloc(32);
    for (unsigned i = 0; i < BURST; i++)
        hak_free(q[i]);
    r->bound32 = t->bound[c32];
    r->bound16_after = t->bound[c16];
#if HAK_COUNTERS
    r->grows32 = _hak_thread.ctr.free_tls_grow - g0;
    r->flushes32 = _hak_thread.ctr.free_tls_flush - f0;
#endif
    _hak_tiny_flush_tls();
    r->trimmed = 1;
    for (unsigned c = 1; c < HAK_NCLASS; c++)
        r->trimmed &= t->bound[c] == _hak_tiny_bound[c] && t->room[c] == t->bound[c];
    return NULL;
}

static void free_bursts_grow_the_list(void **state)
{
    (void)state;
    if (_hak_check_on)
        skip(); /* check mode keeps no TLS lists */
    struct grow_result r;
    memset(&r, 0, sizeof r);
    run_thread_grow(grow_thread, &r, GROW_BUDGET);
    assert_true(r.base16 >= 2 && r.held16 < r.base16);
    /* 16 B: doublings until the list holds the burst, within the budget. */
    uint32_t b16 = r.base16;
    unsigned n16 = 0;
    while (b16 < BURST + r.held16) {
        b16 *= 2;
        n16++;
    }
    size_t grown16 = (size_t)(b16 - r.base16) * 16;
    assert_true(grown16 <= GROW_BUDGET);
    assert_int_equal(r.bound16, b16);
    assert_int_equal(r.room16, b16 - BURST - r.held16);
    assert_true(r.used16_exact);
    /* 32 B: doublings while 16 B's room and its own fit; short of the
     * burst here (the budget is set so), and 16 B keeps its room. */
    uint32_t b32 = r.base32;
    unsigned n32 = 0;
    while (b32 < BURST && grown16 + (size_t)(2 * b32 - r.base32) * 32 <= GROW_BUDGET) {
        b32 *= 2;
        n32++;
    }
    assert_true(b32 < BURST);
    assert_int_equal(r.bound32, b32);
    assert_int_equal(r.bound16_after, b16);
    assert_true(r.trimmed);
#if HAK_COUNTERS
    assert_int_equal(r.grows16, n16);
    assert_int_equal(r.flushes16, 0);
    assert_int_equal(r.grows32, n32);
    assert_true(r.flushes32 >= 1);
#endif
}

/* tiny.cache_grow_total bounds the growth of all threads' lists together:
 * a thread whose lists grew and then idles (A) leaves the next (B) only
 * what remains, and the growth of each leaves the total when it exits. */
struct share_result {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stage; /* 1: A has grown; 2: A may exit */
    size_t grown_a, grown_b, total_a, total_b;
    uint32_t bound_b;
    uint64_t flushes_b;
};

/* A burst of BURST frees of 16 B blocks; the blocks stay in the lists. */
static void burst16(void)
{
    static __thread void *p[BURST];
    for (unsigned i = 0; i < BURST; i++)
        p[i] = hak_malloc(16);
    for (unsigned i = 0; i < BURST; i++)
        hak_free(p[i]);
}

static void *share_a(void *arg)
{
    struct share_result *r = arg;
    burst16();
    pthread_mutex_lock(&r->lock);
    r->grown_a = _hak_thread.tiny.grown;
    r->total_a = atomic_load(&_hak_tiny_grown_total);
    r->stage = 1;
    pthread_cond_broadcast(&r->cond);
    while (r->stage != 2)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void *share_b(void *arg)
{
    struct share_result *r = arg;
#if HAK_COUNTERS
    uint64_t f0 = _hak_thread.ctr.free_tls_flush;
#endif
    burst16();
    r->grown_b = _hak_thread.tiny.grown;
    r->total_b = atomic_load(&_hak_tiny_grown_total);
    r->bound_b = _hak_thread.tiny.bound[hak_size_class(16)];
#if HAK_COUNTERS
    r->flushes_b = _hak_thread.ctr.free_tls_flush - f0;
#endif
    return NULL;
}

static void grown_lists_share_the_process_budget(void **state)
{
    (void)state;
    if (_hak_check_on)
        skip(); /* check mode keeps no TLS lists */
    struct share_result r = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
    size_t grow = _hak_tiny_grow, total = _hak_tiny_grow_total;
    size_t before = atomic_load(&_hak_tiny_grown_total);
    uint32_t base = _hak_tiny_bound[hak_size_class(16)];
    /* A grows freely; B's first doubling (base × 16 bytes) fits in what A
     * leaves, its second (twice that) does not. */
    size_t first = (size_t)base * 16;
    _hak_tiny_grow = GROW_BUDGET;
    _hak_tiny_grow_total = (size_t)-1;
    pthread_t a;
    assert_int_equal(pthread_create(&a, NULL, share_a, &r), 0);
    pthread_mutex_lock(&r.lock);
    while (r.stage != 1)
        pthread_cond_wait(&r.cond, &r.lock);
    pthread_mutex_unlock(&r.lock);
    _hak_tiny_grow_total = before + r.grown_a + first + first / 2;
    run_thread(share_b, &r);
    pthread_mutex_lock(&r.lock);
    r.stage = 2;
    pthread_cond_broadcast(&r.cond);
    pthread_mutex_unlock(&r.lock);
    assert_int_equal(pthread_join(a, NULL), 0);
    size_t after = atomic_load(&_hak_tiny_grown_total);
    _hak_tiny_grow = grow;
    _hak_tiny_grow_total = total;
    assert_true(r.grown_a > first && r.grown_a <= GROW_BUDGET); /* A grew more than once */
    assert_int_equal(r.total_a, before + r.grown_a);
    assert_int_equal(r.grown_b, first);
    assert_int_equal(r.bound_b, 2 * base);
    assert_int_equal(r.total_b, before + r.grown_a + first);
    assert_int_equal(after, before); /* both exited: their growth left the total */
#if HAK_COUNTERS
    assert_true(r.flushes_b >= 1); /* B flushed where it could not grow */
#endif
}

/* The same burst with every other block freed by another thread: the
 * remote frees and the flushed runs meet on the slab's lists, and every
 * block comes back once. */
struct mixed_result {
    uint64_t remote, drained, carved_again;
    int distinct, one_slab, used_exact;
};

static void *free_evens(void *arg)
{
    void **p = arg;
    for (unsigned i = 0; i < BURST; i += 2)
        hak_free(p[i]);
    return NULL;
}

static void *mixed_thread(void *arg)
{
    struct mixed_result *r = arg;
    struct tiny_tls *t = &_hak_thread.tiny;
    unsigned c = hak_size_class(32);
    static void *p[BURST];
    for (unsigned i = 0; i < BURST; i++)
        p[i] = hak_malloc(32);
    struct tiny_slab *s = tiny_slab_of((uintptr_t)p[0]);
#if HAK_COUNTERS
    uint64_t remote0 = _hak_thread.ctr.free_remote_blocks, carve0 = _hak_thread.tiny.heap->cctr.tiny_refill_carve[c];
#endif
    run_thread(free_evens, p);
    for (unsigned i = 1; i < BURST; i += 2)
        hak_free(p[i]);
    r->one_slab = 1;
    for (unsigned i = 0; i < BURST; i++) {
        p[i] = hak_malloc(32);
        r->one_slab &= tiny_slab_of((uintptr_t)p[i]) == s;
    }
#if HAK_COUNTERS
    r->drained = _hak_thread.ctr.free_remote_blocks - remote0;
    r->carved_again = _hak_thread.tiny.heap->cctr.tiny_refill_carve[c] - carve0;
#endif
    r->distinct = distinct_then_free(p, BURST);
    r->used_exact = s->used == t->bound[c] - t->room[c];
    return NULL;
}

static void free_burst_meets_remote_frees(void **state)
{
    (void)state;
    if (_hak_check_on)
        skip(); /* check mode keeps no TLS lists */
    struct mixed_result r;
    memset(&r, 0, sizeof r);
    snap(&before);
    run_thread(mixed_thread, &r);
    snap(&after);
    assert_true(r.one_slab);
    assert_true(r.distinct);
    assert_true(r.used_exact);
#if HAK_COUNTERS
    assert_int_equal(GREW(free_ss_remote), BURST / 2);
    assert_int_equal(r.drained, BURST / 2);
    assert_int_equal(r.carved_again, 0);
#endif
}

/* ---------------------------------------------------------------- remote */

#define NREMOTE 5000
static void *blocks[NREMOTE];
static pthread_barrier_t barrier;

static void *remote_freer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier); /* blocks are ready */
    for (unsigned i = 0; i < NREMOTE; i++)
        hak_free(blocks[i]);
    pthread_barrier_wait(&barrier); /* frees are done */
    return NULL;
}

static void *remote_owner(void *arg)
{
    int *reused = arg;
    pthread_t t;
    pthread_create(&t, NULL, remote_freer, NULL);
    for (unsigned i = 0; i < NREMOTE; i++) {
        blocks[i] = hak_malloc(64);
        memset(blocks[i], 0x5a, 64);
    }
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    /* The other thread freed them all: allocating again drains them. */
    *reused = 0;
    for (unsigned i = 0; i < NREMOTE; i++) {
        void *p = hak_malloc(64);
        for (unsigned j = 0; j < NREMOTE && !*reused; j++)
            *reused = p == blocks[j];
        blocks[i] = p;
    }
    for (unsigned i = 0; i < NREMOTE; i++)
        hak_free(blocks[i]);
    pthread_join(t, NULL);
    return NULL;
}

static void remote_frees_are_drained(void **state)
{
    (void)state;
    int reused = 0;
    pthread_barrier_init(&barrier, NULL, 2);
    snap(&before);
    run_thread(remote_owner, &reused);
    snap(&after);
    pthread_barrier_destroy(&barrier);
    assert_true(reused);
#if HAK_COUNTERS
    assert_int_equal(GREW(free_ss_remote), NREMOTE);
    assert_int_equal(GREW(tiny_thread_init), 1); /* the thread that only freed set up no heap */
    assert_int_equal(GREW(free_remote_blocks), NREMOTE);
    assert_true(GREW(free_remote_drain) >= 1);
    assert_true(CGREW(tiny_refill_remote, -1) + CGREW(tiny_refill_partial, -1) >= 1);
#endif
}

/* A slab that remote frees empty while it is full goes back to its source
 * when its owner next processes its notifications, unless the owner is
 * then refilling that slab's class: the emptied slab is the refill's, not
 * released and set up anew (its carved blocks stay carved). */
#define DRAINED_SIZE 1024
#define DRAINED_MAX 512
static void *drained[DRAINED_MAX];
static unsigned ndrained;

static void *drained_freer(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < ndrained; i++)
        hak_free(drained[i]);
    return NULL;
}

struct drained_result {
    bool slab;     /* the first block was a slab's */
    bool full;     /* its slab went full, all its blocks out */
    bool taken;    /* the refill after the next slab's blocks took it */
    bool kept_set; /* not set up anew: all its blocks still carved */
    unsigned cls;
};

static void *drained_owner(void *arg)
{
    struct drained_result *r = arg;
    void *next[DRAINED_MAX];
    unsigned nnext = 0;
    void *p = hak_malloc(DRAINED_SIZE);
    struct tiny_slab *s1 = tiny_slab_of((uintptr_t)p);
    if (!(r->slab = s1 != NULL)) {
        hak_free(p);
        return NULL;
    }
    r->cls = s1->cls;
    /* Every block of s1 out (the list holds none: it refills only when
     * empty), then the next slab's first one. */
    ndrained = 0;
    while (tiny_slab_of((uintptr_t)p) == s1 && ndrained < DRAINED_MAX) {
        drained[ndrained++] = p;
        p = hak_malloc(DRAINED_SIZE);
    }
    struct tiny_slab *s2 = tiny_slab_of((uintptr_t)p);
    r->full = s1->list == TINY_LIST_FULL && ndrained == s1->capacity && s1->used == s1->capacity;
    run_thread(drained_freer, NULL); /* a thread without a heap: remote frees, s1 notified */
    while (tiny_slab_of((uintptr_t)p) == s2 && nnext < DRAINED_MAX) {
        next[nnext++] = p;
        p = hak_malloc(DRAINED_SIZE);
    }
    r->taken = tiny_slab_of((uintptr_t)p) == s1;
    r->kept_set = s1->carved == s1->capacity;
    hak_free(p);
    for (unsigned i = 0; i < nnext; i++)
        hak_free(next[i]);
    return NULL;
}

static void refill_takes_the_slab_its_drain_empties(void **state)
{
    (void)state;
    if (_hak_check_on)
        skip(); /* check mode keeps no TLS lists */
    struct drained_result r;
    memset(&r, 0, sizeof r);
    snap(&before);
    run_thread(drained_owner, &r);
    snap(&after);
    if (!r.slab)
        skip(); /* a profile that serves this size elsewhere */
    assert_true(r.full);
    assert_true(r.taken);
    assert_true(r.kept_set);
#if HAK_COUNTERS
    assert_int_equal(CGREW(tiny_refill_drained, r.cls), 1);
    assert_int_equal(GREW(free_remote_blocks), ndrained);
#endif
}

/* ---------------------------------------------------------------- exit */

static void *leaver(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < NREMOTE; i++)
        blocks[i] = hak_malloc(200);
    return NULL; /* exits holding them all */
}

/* Gives back the abandoned slabs remote frees emptied (the purger's sweep,
 * run here as if the delay had passed). */
static void sweep_abandoned(void)
{
    _hak_purge_tick(_hak_os_now_ns() + _hak_purge_delay_ns() + 1);
    _hak_purge_flush();
}

static void *inheritor(void *arg)
{
    int *ok = arg;
    /* A heap first (another class): a thread without one frees remotely. */
    hak_free(hak_malloc(24));
    for (unsigned i = 0; i < NREMOTE; i++)
        hak_free(blocks[i]);
    /* Adopted slabs are this thread's (by the frees, or by the refill that
     * finds them abandoned): the next allocations reuse them. */
    void *p = hak_malloc(200);
    *ok = 0;
    for (unsigned i = 0; i < NREMOTE && !*ok; i++)
        *ok = p == blocks[i];
    hak_free(p);
    return NULL;
}

/* Runs leaver, then inheritor, with tiny.adopt_on_free as adopt. */
static int inherit(bool adopt)
{
    int ok = 0;
    bool was = _hak_tiny_adopt_free;
    _hak_tiny_adopt_free = adopt;
    snap(&before);
    run_thread(leaver, NULL);
    run_thread(inheritor, &ok);
    snap(&after);
    _hak_tiny_adopt_free = was;
    return ok;
}

static void exit_abandons_and_free_adopts(void **state)
{
    (void)state;
    assert_true(inherit(true));
#if HAK_COUNTERS
    assert_true(GREW(tiny_slab_abandon) >= 1);
    assert_true(GREW(tiny_slab_adopt) >= GREW(tiny_slab_abandon));
    assert_int_equal(GREW(free_ss_remote), 0); /* adoption made every free local */
#endif
}

/* Without adoption on free, the frees are remote and the inheritor's first
 * refill of the class adopts the last slab abandoned, draining them. */
static void exit_abandons_and_refill_adopts(void **state)
{
    (void)state;
    assert_true(inherit(false));
#if HAK_COUNTERS
    assert_true(GREW(tiny_slab_abandon) >= 1);
    assert_int_equal(GREW(free_ss_remote), NREMOTE);
    assert_true(GREW(tiny_slab_adopt) >= 1);
    assert_true(CGREW(tiny_refill_partial, hak_size_class(200)) >= 1);
#endif
    sweep_abandoned(); /* the slabs it did not adopt */
}

/* Abandoned slabs that remote frees empty, in a class nobody allocates
 * again, are given back by the purger's sweep; one still holding a block
 * stays abandoned until that block comes back too, and then malloc_trim
 * gives it back without waiting for the delay. */
static void abandoned_slabs_are_swept(void **state)
{
    (void)state;
    bool was = _hak_tiny_adopt_free;
    _hak_tiny_adopt_free = false;
    snap(&before);
    run_thread(leaver, NULL);
    struct tiny_slab *first = tiny_slab_of((uintptr_t)blocks[0]), *last = tiny_slab_of((uintptr_t)blocks[NREMOTE - 1]);
    assert_ptr_not_equal(first, last); /* NREMOTE blocks of 200 B span slabs */
    for (unsigned i = 1; i < NREMOTE; i++)
        hak_free(blocks[i]);
    assert_null(atomic_load(&first->owner));
    sweep_abandoned();
    assert_ptr_equal(tiny_slab_of((uintptr_t)blocks[0]), first); /* still a block out */
    assert_null(tiny_slab_of((uintptr_t)blocks[NREMOTE - 1])); /* given back */
    hak_free(blocks[0]);
    hak_trim();
    assert_null(tiny_slab_of((uintptr_t)blocks[0]));
    snap(&after);
    _hak_tiny_adopt_free = was;
#if HAK_COUNTERS
    assert_true(GGREW(tiny_abandon_release) >= 2);
    assert_true(GGREW(tiny_abandon_drain) >= GGREW(tiny_abandon_release) + 1);
#endif
}

/* ---------------------------------------------------------------- misuse */

static void *remote_double_free(void *arg)
{
    hak_free(arg);
    return NULL;
}

static void misuse_is_reported_and_survived(void **state)
{
    (void)state;
    int local;
    char expect[128];
    capture_stderr();
    hak_free(&local);
    char *p = hak_malloc(64);
    hak_free(p + 16);
    hak_free(p);
    hak_free(p); /* double free, same thread */
    char *q = hak_malloc(64);
    run_thread(remote_double_free, q); /* freed remotely … */
    hak_free(q);                        /* … and again here */
    char *h = hak_malloc(5 << 20);
    hak_free(h + 4096);
    hak_free(h);
    hak_free(h);
    assert_int_equal(hak_malloc_usable_size(&local), 0);
    const char *w = release_stderr();
    snprintf(expect, sizeof expect, "hakmem: hak_free(): invalid pointer %p\n", (void *)&local);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "hakmem: hak_free(): invalid pointer %p\n", (void *)(p + 16));
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "hakmem: hak_free(): double free %p\n", (void *)p);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "hakmem: hak_free(): double free %p\n", (void *)q);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "hakmem: hak_free(): invalid pointer %p\n", (void *)(h + 4096));
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "hakmem: hak_free(): double free %p\n", (void *)h);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "hakmem: hak_malloc_usable_size(): invalid pointer %p\n", (void *)&local);
    assert_non_null(strstr(w, expect));
    /* The double-freed block is handed out once, not twice. */
    void *seen[4096];
    unsigned hits = 0;
    for (unsigned i = 0; i < 4096; i++) {
        seen[i] = hak_malloc(64);
        hits += seen[i] == p;
    }
    assert_true(hits <= 1);
    for (unsigned i = 0; i < 4096; i++)
        hak_free(seen[i]);
}

/* free(NULL) does nothing but count, in a thread with a heap and in one
 * that never allocated (as glibc's frees at thread exit); nothing is
 * reported. */
static void *free_null_only(void *arg)
{
    (void)arg;
    hak_free(NULL);
    hak_free(NULL);
    return NULL;
}

static void free_null_is_counted(void **state)
{
    (void)state;
    capture_stderr();
    void *p = hak_malloc(32); /* this thread has a heap */
    snap(&before);
    hak_free(NULL);
    run_thread(free_null_only, NULL);
    snap(&after);
    hak_free(p);
    assert_string_equal(release_stderr(), "");
#if HAK_COUNTERS
    assert_int_equal(GREW(early_return_null_free), 3);
#endif
}

/* ---------------------------------------------------------------- huge */

static void huge_blocks(void **state)
{
    (void)state;
    /* At the fixed threshold (large.mmap_threshold, 2 MiB), not at the
     * candidate learning started from. */
    int64_t elo = HAK_OPT(elo_enabled);
    HAK_OPT(elo_enabled) = 0;
    _hak_policy_init();
    size_t n = 5 * 1024 * 1024 + 123;
    char *p = hak_malloc(n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p & HAK_CHUNK_MASK, 0);
    assert_true(hak_malloc_usable_size(p) >= n);
    memset(p, 1, hak_malloc_usable_size(p));
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)p + n - 1)), HAK_CHUNK_HUGE);
    /* In place: shrinking gives back whole chunks, growing within them stays. */
    char *q = hak_realloc(p, 3 * 1024 * 1024);
    assert_ptr_equal(q, p);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)p + 4 * 1024 * 1024)), HAK_CHUNK_NONE);
    q = hak_realloc(p, 4 * 1024 * 1024 - 10);
    assert_ptr_equal(q, p);
    assert_int_equal(q[0], 1);
    hak_free(q);
    /* BigCache keeps a freed huge block (still ours, marked cached) until it
     * is evicted; trimming gives it back. */
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)p)),
                     HAK_OPT(bigcache_enabled) ? HAK_CHUNK_HUGE : HAK_CHUNK_HUGE_FREED);
    hak_trim();
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get((uintptr_t)p)), HAK_CHUNK_HUGE_FREED);
    errno = 0;
    assert_null(hak_malloc(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(hak_malloc((size_t)PTRDIFF_MAX + 1));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(hak_calloc(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    HAK_OPT(elo_enabled) = elo;
    _hak_policy_init();
}

static void aligned_blocks(void **state)
{
    (void)state;
    for (size_t align = 16; align <= ((size_t)64 << 20); align <<= 1) {
        for (size_t n = 1; n <= (align << 1) && n < ((size_t)8 << 20); n = n * 3 + 7) {
            void *p = NULL;
            assert_int_equal(hak_posix_memalign(&p, align, n), 0);
            assert_int_equal((uintptr_t)p & (align - 1), 0);
            assert_true(hak_malloc_usable_size(p) >= n);
            memset(p, 0x33, n);
            hak_free(p);
        }
    }
    void *keep = (void *)0x1234;
    assert_int_equal(hak_posix_memalign(&keep, 24, 10), EINVAL);
    assert_int_equal(hak_posix_memalign(&keep, 4, 10), EINVAL);
    assert_ptr_equal(keep, (void *)0x1234);
}

/* ---------------------------------------------------------------- trim */

static void *churn_then_exit(void *arg)
{
    (void)arg;
    void **p = malloc(20000 * sizeof *p);
    for (unsigned i = 0; i < 20000; i++)
        p[i] = hak_malloc(16 + (i % 64) * 16);
    for (unsigned i = 0; i < 20000; i++)
        hak_free(p[i]);
    free(p);
    return NULL;
}

static void empty_memory_goes_back(void **state)
{
    (void)state;
    snap(&before);
    run_thread(churn_then_exit, NULL);
    hak_trim();
    snap(&after);
    assert_int_equal(_hak_tiny_cached_bytes(), 0);
#if HAK_COUNTERS
    assert_int_equal(GREW(tiny_slab_abandon), 0);
    if (HAK_OPT(tiny_use_superslab)) {
        assert_true(GGREW(tiny_ss_map) >= 1);
        assert_true(GGREW(tiny_ss_unmap) >= GGREW(tiny_ss_map)); /* and any cached before */
    } else {
        assert_true(GGREW(tiny_fallback_map) >= 1);
        assert_true(GGREW(tiny_fallback_unmap) >= GGREW(tiny_fallback_map));
    }
#endif
}

/* Mid blocks of several slab units each, written and freed by a thread
 * that then exits, so their slabs end empty. */
static void *mid_churn(void *arg)
{
    (void)arg;
    void *p[16];
    for (unsigned i = 0; i < 16; i++) {
        p[i] = hak_malloc(200 * 1024);
        assert_non_null(p[i]);
        memset(p[i], (int)i, 200 * 1024);
    }
    for (unsigned i = 0; i < 16; i++)
        hak_free(p[i]);
    return NULL;
}

/* Empty slabs wait in a cache in either slab source, so the next thread
 * maps nothing; trimming (or, for fallback slabs, the decay) unmaps them.
 * Empty SuperSlabs the decay purges are back in the cache when the pass
 * ends (a purge left queued would keep them from the next thread), and
 * serve that thread without a mapping. */
static void empty_slabs_are_reused(void **state)
{
    (void)state;
    run_thread(mid_churn, NULL);
    assert_true(_hak_tiny_cached_bytes() > 0);
    snap(&before);
    run_thread(mid_churn, NULL);
    snap(&after);
#if HAK_COUNTERS
    if (HAK_OPT(tiny_use_superslab)) {
        assert_int_equal(GGREW(tiny_ss_map), 0);
    } else {
        assert_int_equal(GGREW(tiny_fallback_map), 0);
        assert_true(GGREW(tiny_fallback_reuse) >= 1);
    }
#endif
    uint64_t now = _hak_os_now_ns();
    if (!HAK_OPT(tiny_use_superslab)) {
        _hak_purge_tick(now); /* not unused for the delay yet: kept */
        assert_true(_hak_tiny_cached_bytes() > 0);
        _hak_purge_tick(now + _hak_purge_delay_ns() + 1);
        assert_int_equal(_hak_tiny_cached_bytes(), 0);
        run_thread(mid_churn, NULL);
    } else {
        size_t cached = _hak_tiny_cached_bytes();
        snap(&before);
        _hak_purge_tick(now + _hak_purge_delay_ns() + 1);
        assert_int_equal(_hak_tiny_cached_bytes(), cached);
        run_thread(mid_churn, NULL);
        snap(&after);
#if HAK_COUNTERS
        assert_true(GGREW(tiny_ss_purge) >= 1);
        assert_int_equal(GGREW(tiny_ss_map), 0);
#endif
    }
    hak_trim();
    assert_int_equal(_hak_tiny_cached_bytes(), 0);
}

/* 64 KiB blocks: slabs of 8 units (8 blocks), three to a SuperSlab. A
 * thread fills three SuperSlabs (9 slabs; the walks that found them full
 * are remembered), empties the first slab, and takes one more: it must
 * come from the released units of the first SuperSlab, not a fourth. */
#define MID64 (64 * 1024)
static void *refill_after_release(void *arg)
{
    (void)arg;
    void *p[80];
    for (unsigned i = 0; i < 72; i++) {
        p[i] = hak_malloc(MID64);
        assert_non_null(p[i]);
    }
    struct tiny_slab *first = tiny_slab_of((uintptr_t)p[0]);
    for (unsigned i = 0; i < 72; i++)
        if (tiny_slab_of((uintptr_t)p[i]) == first) {
            hak_free(p[i]);
            p[i] = NULL;
        }
    _hak_tiny_flush_tls(); /* the last two of them, kept in the TLS list */
    for (unsigned i = 72; i < 80; i++) {
        p[i] = hak_malloc(MID64);
        assert_non_null(p[i]);
    }
    for (unsigned i = 0; i < 80; i++)
        hak_free(p[i]);
    return NULL;
}

/* A class whose TLS list holds two: a third free goes straight to its
 * slab, and the list keeps the two it has (popped last in, first out). */
static void *overflow_to_slab(void *arg)
{
    (void)arg;
    void *p[3];
    for (unsigned i = 0; i < 3; i++)
        p[i] = hak_malloc(MID64);
    for (unsigned i = 0; i < 3; i++)
        hak_free(p[i]);
    assert_ptr_equal(hak_malloc(MID64), p[1]);
    assert_ptr_equal(hak_malloc(MID64), p[0]);
    assert_ptr_equal(hak_malloc(MID64), p[2]);
    for (unsigned i = 0; i < 3; i++)
        hak_free(p[i]);
    return NULL;
}

static void large_class_overflow_goes_to_its_slab(void **state)
{
    (void)state;
    if (_hak_tiny_bound[hak_size_class(MID64)] != 2)
        return; /* check mode: no TLS lists */
    run_thread(overflow_to_slab, NULL); /* halving the list would pop p[2] first */
}

static void full_superslabs_are_rechecked(void **state)
{
    (void)state;
    unsigned c = hak_size_class(MID64);
    assert_int_equal(_hak_tiny_units[c], 8);
    snap(&before);
    run_thread(refill_after_release, NULL);
    snap(&after);
#if HAK_COUNTERS
    if (HAK_OPT(tiny_use_superslab)) { /* fallback slabs: one mapping each */
        assert_int_equal(CGREW(tiny_refill_new_ss, c), 3);
        assert_int_equal(CGREW(tiny_refill_empty_slab, c), 7);
    }
#endif
}

/* Blocks of 200 KiB, two to a slab: freed, their emptied slabs are kept set
 * up (mid.keep) and serve the next blocks of their size; within the
 * budget only; purged, still kept, once unused for the delay; given back
 * at trim and at thread exit. */
#define MIDK (200 * 1024)
#define NKEPT 8
static void keep_round(void **p, int fill)
{
    for (unsigned i = 0; i < NKEPT; i++) {
        p[i] = hak_malloc(MIDK);
        assert_non_null(p[i]);
        memset(p[i], fill, MIDK);
    }
}
static void unkeep_round(void **p, int fill)
{
    for (unsigned i = 0; i < NKEPT; i++) {
        const unsigned char *b = p[i];
        assert_true(b[0] == fill && b[MIDK / 2] == fill && b[MIDK - 1] == fill);
        hak_free(p[i]);
    }
}
/* Slabs of slab[] (each counted once) on their heap's kept list. */
static unsigned kept_of(struct tiny_slab **slab)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NKEPT; i++)
        n += (i == 0 || slab[i] != slab[i - 1]) && slab[i]->list == TINY_LIST_KEPT;
    return n;
}
static void *keep_thread(void *arg)
{
    (void)arg;
    void *p[NKEPT];
    struct tiny_slab *slab[NKEPT];
    keep_round(p, 1);
    for (unsigned i = 0; i < NKEPT; i++)
        slab[i] = tiny_slab_of((uintptr_t)p[i]);
    unsigned c = slab[0]->cls;
    size_t span = (size_t)_hak_tiny_units[c] * HAK_UNIT_SIZE;
    assert_int_equal(slab[0]->capacity, 2);
    struct tiny_heap *h = _hak_thread.tiny.heap;
    snap(&before);
    unkeep_round(p, 1);
    snap(&after);
    /* Emptied slabs are kept, none released: all but the current one and
     * the one whose blocks the TLS list holds (the first two freed). */
    unsigned kept = kept_of(slab);
    assert_true(kept >= NKEPT / 2 - 2);
    assert_int_equal(slab[2]->list, TINY_LIST_KEPT);
    assert_int_equal(atomic_load(&h->kept_bytes), kept * span);
    assert_int_equal(atomic_load(&h->kept_resident), kept);
#if HAK_COUNTERS
    assert_int_equal(GREW(tiny_slab_keep), kept);
    assert_int_equal(GREW(tiny_slab_release), 0);
#endif
    /* The next blocks come from the same slabs, none set up anew. */
    snap(&before);
    keep_round(p, 2);
    snap(&after);
    for (unsigned i = 0; i < NKEPT; i++) {
        bool old = false;
        for (unsigned j = 0; j < NKEPT; j++)
            old |= tiny_slab_of((uintptr_t)p[i]) == slab[j];
        assert_true(old);
    }
    assert_int_equal(atomic_load(&h->kept_bytes), 0);
#if HAK_COUNTERS
    assert_int_equal(CGREW(tiny_refill_kept, c), kept);
    assert_int_equal(CGREW(tiny_refill_empty_slab, c) + CGREW(tiny_refill_new_ss, c), 0);
#endif
    /* Not unused for the delay: kept resident; after it: purged, kept. */
    unkeep_round(p, 2);
    assert_int_equal(kept_of(slab), kept);
    uint64_t now = _hak_os_coarse_ns(); /* the clock of kept_at: not behind it */
    _hak_purge_tick(now);
    assert_int_equal(atomic_load(&h->kept_resident), kept);
    snap(&before);
    _hak_purge_tick(now + _hak_purge_delay_ns() + 1);
    snap(&after);
    assert_int_equal(atomic_load(&h->kept_resident), 0);
    assert_int_equal(atomic_load(&h->kept_bytes), kept * span);
    /* Each of them: every page each had carved is gone. */
    assert_non_null(h->cls[c].kept);
    for (struct tiny_slab *k = h->cls[c].kept; k; k = k->next) {
        assert_int_equal(k->carved, 0);
        if (_hak_purge_purge_zeroes())
            for (size_t off = 0; off < (size_t)k->capacity * k->size; off += HAK_PAGE_SIZE) {
                unsigned char resident;
                assert_int_equal(mincore((char *)k->data + off, HAK_PAGE_SIZE, &resident), 0);
                assert_false(resident & 1);
            }
    }
#if HAK_COUNTERS
    assert_int_equal(GGREW(tiny_kept_purge), kept);
#endif
    /* Carved again from the start, and what is written stays. */
    keep_round(p, 3);
    unkeep_round(p, 3);
    /* Within the budget only: room for one slab, the others go back. */
    size_t budget = _hak_tiny_keep;
    _hak_tiny_keep = span;
    keep_round(p, 4);
    snap(&before);
    unkeep_round(p, 4);
    snap(&after);
    _hak_tiny_keep = budget;
    assert_int_equal(atomic_load(&h->kept_bytes), span);
#if HAK_COUNTERS
    assert_int_equal(GREW(tiny_slab_release), kept - 1);
#endif
    /* Trim gives them back, and so does the thread's exit. */
    hak_trim();
    assert_int_equal(atomic_load(&h->kept_bytes), 0);
    keep_round(p, 5);
    unkeep_round(p, 5);
    assert_true(atomic_load(&h->kept_bytes) > 0);
    return NULL;
}

static void emptied_mid_slabs_are_kept(void **state)
{
    (void)state;
    if (_hak_tiny_keep < NKEPT / 2 * 8 * HAK_UNIT_SIZE || _hak_os_membarrier() != 0)
        skip(); /* mid.keep or madvise.delay 0, or no claims (so nothing kept) */
    size_t kept = _hak_tiny_kept_bytes();
    run_thread(keep_thread, NULL);
    assert_int_equal(_hak_tiny_kept_bytes(), kept);
}

/* A thread whose kept slabs fill its SuperSlab: a slab of another class
 * comes from the units its kept slabs give back, not from another
 * SuperSlab. */
static void *yield_thread(void *arg)
{
    (void)arg;
    void *p[NKEPT];
    keep_round(p, 4);
    const struct tiny_slab *first = tiny_slab_of((uintptr_t)p[0]);
    struct tiny_ss *ss = first->ss;
    unsigned units = first->units;
    size_t span = tiny_slab_span(first);
    for (unsigned i = 1; i < NKEPT; i++)
        if (tiny_slab_of((uintptr_t)p[i])->ss != ss)
            return NULL; /* a geometry whose slabs do not fit in one SuperSlab */
    struct tiny_heap *h = _hak_thread.tiny.heap;
    unkeep_round(p, 4);
    size_t kept = atomic_load(&h->kept_bytes);
    assert_true(kept >= (NKEPT / 2 - 2) * span);
    /* A 64 KiB block's slab needs more units than the SuperSlab has left. */
    unsigned c = hak_size_class(MID64);
    assert_true(_hak_tiny_units[c] > HAK_UNITS_PER_CHUNK - 1 - NKEPT / 2 * units);
    snap(&before);
    void *q = hak_malloc(MID64);
    snap(&after);
    assert_non_null(q);
    memset(q, 5, MID64);
    assert_ptr_equal(tiny_slab_of((uintptr_t)q)->ss, ss);
    size_t left = atomic_load(&h->kept_bytes);
    assert_true(left < kept && (kept - left) % span == 0);
#if HAK_COUNTERS
    assert_int_equal(GREW(tiny_kept_yield), (kept - left) / span);
    assert_int_equal(CGREW(tiny_refill_empty_slab, c), 1);
    assert_int_equal(CGREW(tiny_refill_new_ss, c), 0);
#endif
    hak_free(q);
    return (void *)1;
}

static void kept_slabs_yield_to_other_classes(void **state)
{
    (void)state;
    if (!HAK_OPT(tiny_use_superslab) || _hak_tiny_keep < NKEPT / 2 * 8 * HAK_UNIT_SIZE || _hak_os_membarrier() != 0)
        skip(); /* no SuperSlabs, or nothing kept */
    if (!run_thread(yield_thread, NULL))
        skip();
}

/* Idle units of a SuperSlab still in use are purged after the delay (and
 * at trim), while it serves on; carving there again works as before. */
static void idle_units_are_purged(void **state)
{
    (void)state;
    if (!HAK_OPT(tiny_use_superslab))
        skip();
    size_t kept = _hak_tiny_keep;
    _hak_tiny_keep = 0; /* the slabs go back to their SuperSlab's units */
    void *keep = hak_malloc(100), *p[8];
    for (unsigned i = 0; i < 8; i++) {
        p[i] = hak_malloc(200 * 1024);
        memset(p[i], 1, 200 * 1024);
    }
    for (unsigned i = 0; i < 8; i++)
        hak_free(p[i]);
    snap(&before);
    uint64_t now = _hak_os_now_ns();
    _hak_purge_tick(now + _hak_purge_delay_ns() + 1);
    _hak_purge_flush();
    snap(&after);
#if HAK_COUNTERS
    assert_true(GGREW(tiny_unit_purge) >= 3); /* at least one mid slab's units */
#endif
    for (unsigned i = 0; i < 8; i++) {
        p[i] = hak_malloc(200 * 1024);
        memset(p[i], 2, 200 * 1024);
    }
    for (unsigned i = 0; i < 8; i++)
        hak_free(p[i]);
    hak_free(keep);
    _hak_tiny_keep = kept;
}

/* Blocks of 64 KiB in SuperSlabs of their own, written; a thread frees
 * all but the first block of each SuperSlab and exits: the other slabs'
 * units go idle in SuperSlabs still in use (arg: the blocks kept). */
static void *idle_beyond_retain(void *arg)
{
    void **kept = arg, *p[72];
    struct tiny_ss *ss[72];
    unsigned nss = 0;
    for (unsigned i = 0; i < 72; i++) {
        p[i] = hak_malloc(MID64);
        assert_non_null(p[i]);
        memset(p[i], 3, MID64);
        struct tiny_ss *of = tiny_slab_of((uintptr_t)p[i])->ss;
        unsigned k = 0;
        while (k < nss && ss[k] != of)
            k++;
        if (k == nss) {
            ss[nss] = of;
            kept[nss++] = p[i];
            p[i] = NULL;
        }
    }
    kept[nss] = NULL;
    for (unsigned i = 0; i < 72; i++)
        hak_free(p[i]);
    return NULL;
}

/* Idle units beyond tiny.retain (and an eighth of the units in use) do not
 * wait for the delay: the oldest go at once, as many as exceed it at least. */
static void idle_units_beyond_retain_are_purged(void **state)
{
    (void)state;
    if (!HAK_OPT(tiny_use_superslab))
        skip();
    _hak_purge_tick(_hak_os_now_ns() + _hak_purge_delay_ns() + 1); /* no idle units from earlier tests */
    _hak_purge_flush();
    void *kept[73];
    run_thread(idle_beyond_retain, kept);
    const struct tiny_slab *s = tiny_slab_of((uintptr_t)kept[0]);
    unsigned nss = 0;
    while (kept[nss])
        nss++;
    /* Each SuperSlab kept one slab; the thread's others were released. */
    size_t slabs = (72 + s->capacity - 1) / s->capacity, idle = (slabs - nss) * s->units;
    size_t keep = (size_t)HAK_OPT(tiny_retain) >> HAK_UNIT_SHIFT;
    if (idle <= keep + 8)
        skip(); /* a setting that keeps them all */
    _hak_purge_tick(_hak_os_now_ns()); /* long before the delay */
    _hak_purge_flush();
    /* Whoever purged them, this pass or the purger thread's, what is left
     * idle in these SuperSlabs is within the budget (8: an eighth of 64
     * units in use elsewhere); units a pass has claimed are not idle. */
    size_t left = 0;
    for (unsigned i = 0; i < nss; i++) {
        struct tiny_ss *ss = tiny_slab_of((uintptr_t)kept[i])->ss;
        uint32_t free_units = ~(uint32_t)atomic_load(&ss->state) & ~(uint32_t)1;
        left += (size_t)__builtin_popcount(free_units & ~atomic_load(&ss->purged_units));
    }
    assert_true(left <= keep + 8);
    for (unsigned i = 0; i < nss; i++)
        hak_free(kept[i]);
    _hak_tiny_flush_tls(); /* their slabs, if adopted by the frees, go empty: so do the SuperSlabs */
    sweep_abandoned(); /* if not: the sweep gives them back */
}

#define U(a, b) ((uint32_t)((((uint64_t)1 << ((b) + 1)) - 1) & ~(((uint64_t)1 << (a)) - 1))) /* units a..b */

/* A purge pass's claim bridges a gap between due units only where all of
 * it is clean; clean units outside the due ones stay out. */
static void purge_ranges_bridge_clean_gaps(void **state)
{
    (void)state;
    assert_int_equal(_hak_ss_bridge_gaps(U(2, 2) | U(5, 5), U(3, 4)), U(2, 5));
    assert_int_equal(_hak_ss_bridge_gaps(U(2, 2) | U(5, 5), U(3, 3)), U(2, 2) | U(5, 5)); /* unit 4 dirty or in use */
    assert_int_equal(_hak_ss_bridge_gaps(U(1, 1) | U(3, 3) | U(6, 6), U(2, 2) | U(4, 5)), U(1, 6));
    assert_int_equal(_hak_ss_bridge_gaps(U(1, 2) | U(7, 9) | U(20, 20), U(3, 6) | U(11, 19)),
                     U(1, 9) | U(20, 20)); /* unit 10 breaks the second gap */
    assert_int_equal(_hak_ss_bridge_gaps(U(4, 4), U(1, 31) & ~U(4, 4)), U(4, 4));
    assert_int_equal(_hak_ss_bridge_gaps(U(1, 1) | U(31, 31), U(2, 30)), U(1, 31));
    assert_int_equal(_hak_ss_bridge_gaps(0, U(1, 31)), 0);
}
#undef U

/* ---------------------------------------------------------------- idle heaps */

#define NIDLE 3000 /* blocks of 64 B: the first two slabs fill */
static pthread_barrier_t idle_bar;
struct idle_owner {
    void *blocks[NIDLE];
    struct tiny_heap *heap;
    unsigned recarved; /* blocks taken from the first slab again after the drain */
};

static void *idle_owner(void *arg)
{
    struct idle_owner *o = arg;
    for (unsigned i = 0; i < NIDLE; i++) {
        o->blocks[i] = hak_malloc(64);
        memset(o->blocks[i], 7, 64);
    }
    o->heap = _hak_thread.tiny.heap;
    pthread_barrier_wait(&idle_bar); /* blocks ready: another thread frees them */
    pthread_barrier_wait(&idle_bar); /* freed and drained: wake up */
    const struct tiny_slab *first = tiny_slab_of((uintptr_t)o->blocks[0]);
    void *again[NIDLE];
    for (unsigned i = 0; i < NIDLE; i++) {
        again[i] = hak_malloc(64);
        memset(again[i], 9, 64);
        o->recarved += tiny_slab_of((uintptr_t)again[i]) == first;
    }
    for (unsigned i = 0; i < NIDLE; i++)
        hak_free(again[i]);
    return NULL;
}

/* A thread fills slabs, another frees all their blocks, and the first
 * sleeps, never refilling: once it has been idle for the delay a purger
 * pass drains its slabs and purges those left empty, which stay its own,
 * and it carves them again when it wakes. */
static void idle_heap_is_drained(void **state)
{
    (void)state;
    if (!HAK_OPT(tiny_drain_idle) || !_hak_purge_delay_ns() || _hak_os_membarrier() != 0)
        skip();
    static struct idle_owner o;
    memset(&o, 0, sizeof o);
    pthread_t t;
    pthread_barrier_init(&idle_bar, NULL, 2);
    assert_int_equal(pthread_create(&t, NULL, idle_owner, &o), 0);
    pthread_barrier_wait(&idle_bar);
    struct tiny_slab *first = tiny_slab_of((uintptr_t)o.blocks[0]);
    assert_true(first->carved == first->capacity); /* full: none of its blocks in a TLS list */
    for (unsigned i = 0; i < NIDLE; i++)
        hak_free(o.blocks[i]);
    snap(&before);
    uint64_t now = _hak_os_now_ns();
    _hak_purge_tick(now); /* the owner is seen idle from here (or earlier, by the purger thread) */
    _hak_purge_tick(now + _hak_purge_delay_ns() + 1);
    snap(&after);
    /* Whoever drained it, this pass or the purger thread's: */
    assert_int_equal(first->used, 0);
    assert_int_equal(first->carved, 0);
    assert_ptr_equal(atomic_load(&first->owner), o.heap);
    if (_hak_purge_purge_zeroes()) {
        unsigned char resident;
        assert_int_equal(mincore((void *)first->data, HAK_PAGE_SIZE, &resident), 0);
        assert_false(resident & 1);
    }
#if HAK_COUNTERS
    assert_true(GGREW(tiny_idle_reset) >= 1);
#endif
    pthread_barrier_wait(&idle_bar);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&idle_bar);
    assert_true(o.recarved >= 1);
}

/* Claims race the owner: it allocates (refilling) and frees while another
 * thread frees half its blocks, and passes come as fast as they can, each
 * later by the delay than the last, so that any pause between two of its
 * slow paths is long enough. Every block keeps what was written into it. */
#define CLAIM_ROUNDS 200
#define CLAIM_BLOCKS 600
static void *claim_blocks[CLAIM_BLOCKS];
static _Atomic bool claim_done;
static pthread_barrier_t claim_bar;

/* Every byte of a small block, every 512th of a large one (and its last). */
static size_t fill_step(size_t n) { return n > 4096 ? 512 : 1; }
static void fill(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i += fill_step(n))
        b[i] = (unsigned char)((uintptr_t)p >> 4 & 0xff);
    b[n - 1] = (unsigned char)((uintptr_t)p >> 4 & 0xff);
}
static bool filled(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i += fill_step(n))
        if (b[i] != (unsigned char)((uintptr_t)p >> 4 & 0xff))
            return false;
    return b[n - 1] == (unsigned char)((uintptr_t)p >> 4 & 0xff);
}

/* Small sizes, and every 75th block one of 200 KiB (two to a slab, one of
 * them freed by each thread), whose emptied slabs are kept: the passes
 * purge those too, and the owner carves them again. */
static size_t claim_size(unsigned i, unsigned r)
{
    return i % 75 == 7 ? 200 * 1024 : 16 + (i * 37 + r * 101) % 2000;
}

static void *claim_owner(void *arg)
{
    unsigned *bad = arg;
    for (unsigned r = 0; r < CLAIM_ROUNDS; r++) {
        for (unsigned i = 0; i < CLAIM_BLOCKS; i++) {
            claim_blocks[i] = hak_malloc(claim_size(i, r));
            fill(claim_blocks[i], claim_size(i, r));
        }
        pthread_barrier_wait(&claim_bar); /* the freer takes the odd ones */
        for (unsigned i = 0; i < CLAIM_BLOCKS; i += 2) {
            *bad += !filled(claim_blocks[i], claim_size(i, r));
            hak_free(claim_blocks[i]);
        }
        pthread_barrier_wait(&claim_bar);
    }
    atomic_store(&claim_done, true);
    return NULL;
}

static void *claim_freer(void *arg)
{
    unsigned *bad = arg;
    for (unsigned r = 0; r < CLAIM_ROUNDS; r++) {
        pthread_barrier_wait(&claim_bar);
        for (unsigned i = 1; i < CLAIM_BLOCKS; i += 2) {
            *bad += !filled(claim_blocks[i], claim_size(i, r));
            hak_free(claim_blocks[i]);
        }
        pthread_barrier_wait(&claim_bar);
    }
    return NULL;
}

static void claims_race_the_owner(void **state)
{
    (void)state;
    if (!HAK_OPT(tiny_drain_idle) || !_hak_purge_delay_ns() || _hak_os_membarrier() != 0)
        skip();
    unsigned bad_owner = 0, bad_freer = 0;
    pthread_t o, f;
    atomic_store(&claim_done, false);
    pthread_barrier_init(&claim_bar, NULL, 2);
    snap(&before);
    assert_int_equal(pthread_create(&o, NULL, claim_owner, &bad_owner), 0);
    assert_int_equal(pthread_create(&f, NULL, claim_freer, &bad_freer), 0);
    uint64_t now = _hak_os_now_ns(), passes = 0;
    while (!atomic_load(&claim_done)) {
        now += _hak_purge_delay_ns() + 1;
        _hak_purge_tick(now);
        if (++passes % 1024 == 0)
            sched_yield(); /* where threads take turns (valgrind), the others' */
    }
    assert_int_equal(pthread_join(o, NULL), 0);
    assert_int_equal(pthread_join(f, NULL), 0);
    snap(&after);
    pthread_barrier_destroy(&claim_bar);
    assert_int_equal(bad_owner, 0);
    assert_int_equal(bad_freer, 0);
#if HAK_COUNTERS
    print_message("# %llu passes, %llu drains of the owner's heap, %llu kept slabs purged\n",
                  (unsigned long long)passes, (unsigned long long)GGREW(tiny_idle_drain),
                  (unsigned long long)GGREW(tiny_kept_purge));
#else
    (void)passes;
#endif
}

/* A fork while the purger holds the forking thread's heap (a signal
 * handler's fork, whose prepare could not wait for the registry lock the
 * purger held): the child, which has no purger, gives that heap up and
 * allocates from a fresh one instead of waiting for the claim to go. */
static void fork_while_claimed(void **state)
{
    (void)state;
    void *p = hak_malloc(100);
    struct tiny_heap *h = _hak_thread.tiny.heap;
    assert_non_null(h);
    atomic_store(&h->claim, 1);
    pid_t pid = fork();
    if (pid == 0) {
        bool ok = true;
        for (unsigned i = 0; i < 64 && ok; i++) { /* refills: slow paths */
            void *q = hak_malloc(200 * 1024 + i);
            ok = q && _hak_thread.tiny.heap != h;
            hak_free(q);
        }
        _exit(ok ? 0 : 1);
    }
    atomic_store(&h->claim, 0);
    assert_true(pid > 0);
    int st = 0;
    pid_t r = 0;
    for (int i = 0; i < 3000 && (r = waitpid(pid, &st, WNOHANG)) == 0; i++)
        usleep(10 * 1000);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fail_msg("the child waited for a claim no purger would release");
    }
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    hak_free(p);
}

int main(void)
{
    if (!hak_ready()) /* start-up waits for the first allocation: the geometry tests read it */
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(block_test_is_exact),
        cmocka_unit_test(carving_and_stages),
        cmocka_unit_test(carving_steps_by_page),
        cmocka_unit_test(tls_list_is_lifo_and_bounded),
        cmocka_unit_test(mid_sizes_pop_inline),
        cmocka_unit_test(free_burst_is_batched),
        cmocka_unit_test(free_bursts_grow_the_list),
        cmocka_unit_test(grown_lists_share_the_process_budget),
        cmocka_unit_test(free_burst_meets_remote_frees),
        cmocka_unit_test(remote_frees_are_drained),
        cmocka_unit_test(refill_takes_the_slab_its_drain_empties),
        cmocka_unit_test(exit_abandons_and_free_adopts),
        cmocka_unit_test(exit_abandons_and_refill_adopts),
        cmocka_unit_test(abandoned_slabs_are_swept),
        cmocka_unit_test(misuse_is_reported_and_survived),
        cmocka_unit_test(free_null_is_counted),
        cmocka_unit_test(huge_blocks),
        cmocka_unit_test(aligned_blocks),
        cmocka_unit_test(empty_memory_goes_back),
        cmocka_unit_test(empty_slabs_are_reused),
        cmocka_unit_test(emptied_mid_slabs_are_kept),
        cmocka_unit_test(kept_slabs_yield_to_other_classes),
        cmocka_unit_test(idle_units_are_purged),
        cmocka_unit_test(idle_units_beyond_retain_are_purged),
        cmocka_unit_test(purge_ranges_bridge_clean_gaps),
        cmocka_unit_test(full_superslabs_are_rechecked),
        cmocka_unit_test(large_class_overflow_goes_to_its_slab),
        cmocka_unit_test(idle_heap_is_drained),
        cmocka_unit_test(claims_race_the_owner),
        cmocka_unit_test(fork_while_claimed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
