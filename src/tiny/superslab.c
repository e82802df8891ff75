/* superslab.c — the SuperSlab slab source: 2 MiB-aligned regions of 31 slab
 * units, owned by the heap that carves them, released by whoever empties
 * them, and kept in a small cache of empty SuperSlabs before being unmapped. */
#include "tiny.h"
#include "../chunkmap.h"
#include "../counters.h"
#include "../lock.h"
#include "../options.h"
#include "../os.h"

static hak_lock_t cache_lock = HAK_LOCK_INIT;
static struct tiny_ss *cache_head;
static unsigned cache_count;

static uint64_t units_mask(unsigned u, unsigned n)
{
    return (n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << u;
}

/* First unit of a run of n free units (1..31), or -1. Single units are
 * taken from the bottom and longer spans from the top, so that one-unit
 * slabs do not scatter over the runs the mid classes need. */
static int find_run(uint64_t state, unsigned n)
{
    uint32_t free_units = ~(uint32_t)state & ~(uint32_t)1; /* unit 0: the header */
    if (n == 1)
        return free_units ? __builtin_ctz(free_units) : -1;
    for (unsigned u = HAK_UNITS_PER_CHUNK - n; u >= 1; u--) {
        uint32_t m = (uint32_t)units_mask(u, n);
        if ((free_units & m) == m)
            return (int)u;
    }
    return -1;
}

/* Claims n units of ss (owner only; others may free units concurrently). */
static int claim_units(struct tiny_ss *ss, unsigned n)
{
    uint64_t old = atomic_load_explicit(&ss->state, memory_order_relaxed);
    for (;;) {
        int u = find_run(old, n);
        if (u < 0)
            return -1;
        if (atomic_compare_exchange_weak_explicit(&ss->state, &old, old | units_mask((unsigned)u, n),
                                                  memory_order_acq_rel, memory_order_relaxed))
            return u;
    }
}

static struct tiny_slab *slab_at(struct tiny_heap *h, struct tiny_ss *ss, unsigned u, unsigned cls, unsigned units)
{
    return _hak_tiny_slab_setup(&ss->chunk, (uintptr_t)ss + (uintptr_t)u * HAK_UNIT_SIZE, cls, units, h, ss);
}

struct tiny_slab *_hak_ss_slab_owned(struct tiny_heap *h, unsigned cls, unsigned units)
{
    for (struct tiny_ss *ss = h->ss_list; ss; ss = ss->next) {
        int u = claim_units(ss, units);
        if (u >= 0)
            return slab_at(h, ss, (unsigned)u, cls, units);
    }
    return NULL;
}

static void ss_unmap(struct tiny_ss *ss)
{
    _hak_chunk_set((uintptr_t)ss, HAK_CHUNK_SIZE, HAK_CHUNK_NONE);
    _hak_os_unmap(ss, HAK_CHUNK_SIZE);
    HAK_GCTR_ADD(tiny, ss_unmap, 1);
}

/* ss is empty and unowned: keep it for reuse or give it back. */
static void ss_release(struct tiny_ss *ss)
{
    hak_lock(&cache_lock);
    if (cache_count < (unsigned)HAK_OPT(tiny_ss_cache)) {
        ss->next = cache_head;
        cache_head = ss;
        cache_count++;
        hak_unlock(&cache_lock);
        return;
    }
    hak_unlock(&cache_lock);
    ss_unmap(ss);
}

struct tiny_slab *_hak_ss_slab_new(struct tiny_heap *h, unsigned cls, unsigned units, bool *reused)
{
    struct tiny_ss *ss = NULL;
    if (cache_head) {
        hak_lock(&cache_lock);
        if ((ss = cache_head) != NULL) {
            cache_head = ss->next;
            cache_count--;
        }
        hak_unlock(&cache_lock);
    }
    *reused = ss != NULL;
    if (!ss) {
        ss = _hak_os_map_aligned(HAK_CHUNK_SIZE, HAK_CHUNK_SIZE);
        if (!ss)
            return NULL;
        /* Fresh pages are zero: every unit's head starts out NULL. */
        if (_hak_chunk_set((uintptr_t)ss, HAK_CHUNK_SIZE, HAK_CHUNK_SLAB | (uintptr_t)&ss->chunk) != 0) {
            _hak_os_unmap(ss, HAK_CHUNK_SIZE);
            return NULL;
        }
        ss->magic = TINY_SS_MAGIC;
        HAK_GCTR_ADD(tiny, ss_map, 1);
    }
    ss->owner = h;
    unsigned u = (unsigned)find_run(0, units);
    atomic_store_explicit(&ss->state, TINY_SS_OWNED | units_mask(u, units), memory_order_release);
    ss->prev = NULL;
    ss->next = h->ss_list;
    if (h->ss_list)
        h->ss_list->prev = ss;
    h->ss_list = ss;
    return slab_at(h, ss, u, cls, units);
}

static void ss_unlink(struct tiny_heap *h, struct tiny_ss *ss)
{
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        h->ss_list = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
}

/* Does h own an empty SuperSlab other than ss? (A heap keeps one.) */
static bool other_empty(struct tiny_heap *h, struct tiny_ss *ss)
{
    for (struct tiny_ss *o = h->ss_list; o; o = o->next)
        if (o != ss && atomic_load_explicit(&o->state, memory_order_relaxed) == TINY_SS_OWNED)
            return true;
    return false;
}

void _hak_ss_slab_release(struct tiny_heap *h, struct tiny_slab *s)
{
    struct tiny_ss *ss = s->ss;
    unsigned u = (unsigned)((s->data - (uintptr_t)ss) >> HAK_UNIT_SHIFT);
    uint64_t bits = units_mask(u, s->units);
    _hak_tiny_slab_unpublish(s);
    uint64_t now = atomic_fetch_and_explicit(&ss->state, ~bits, memory_order_acq_rel) & ~bits;
    if (now == 0) {
        ss_release(ss); /* unowned and empty: this thread saw it last */
    } else if (now == TINY_SS_OWNED && ss->owner == h && other_empty(h, ss)) {
        /* Our own SuperSlab went empty and we already hold an empty one in
         * reserve: give this one back. Only the owner claims units, so
         * nobody can race this CAS. */
        uint64_t expected = TINY_SS_OWNED;
        if (atomic_compare_exchange_strong(&ss->state, &expected, 0)) {
            ss_unlink(h, ss);
            ss_release(ss);
        }
    }
}

void _hak_ss_heap_exit(struct tiny_heap *h)
{
    struct tiny_ss *ss = h->ss_list;
    while (ss) {
        struct tiny_ss *next = ss->next;
        ss->owner = NULL;
        uint64_t old = atomic_fetch_and_explicit(&ss->state, ~TINY_SS_OWNED, memory_order_acq_rel);
        if ((old & ~TINY_SS_OWNED) == 0)
            ss_release(ss);
        ss = next;
    }
    h->ss_list = NULL;
}

size_t _hak_ss_trim(void)
{
    hak_lock(&cache_lock);
    struct tiny_ss *list = cache_head;
    cache_head = NULL;
    cache_count = 0;
    hak_unlock(&cache_lock);
    size_t bytes = 0;
    while (list) {
        struct tiny_ss *next = list->next;
        ss_unmap(list);
        bytes += HAK_CHUNK_SIZE;
        list = next;
    }
    return bytes;
}

size_t _hak_ss_cached_bytes(void) { return (size_t)cache_count * HAK_CHUNK_SIZE; }

void _hak_ss_fork_child(void)
{
    /* Push and pop are a store of the head each; the count may be off by
     * one after a torn update, which only shifts the cache bound. */
    hak_lock_reset_child(&cache_lock);
}
