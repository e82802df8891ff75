/* superslab.c — the SuperSlab slab source: 2 MiB-aligned regions of 31 slab
 * units, owned by the heap that carves them, orphaned when that heap's
 * thread exits (and adopted by the next thread that needs units), released
 * by whoever empties them, and kept in a small cache of empty SuperSlabs
 * before being unmapped. */
#include "engine.h"
#include "../chunkmap.h"
#include "../purge.h"
#include "../counters.h"
#include "../lock.h"
#include "../options.h"
#include "../os.h"

/* SuperSlabs mapped now (kept whatever the counters setting). */
static _Atomic unsigned mapped;
/* From this many on, new SuperSlabs ask for a huge page: a heap that size
 * gains more from TLB reach than a small one would lose in resident bytes. */
#define SS_HUGEPAGE_FROM 4

/* The header starts one page into unit 0. In secure mode that first page
 * and the rest of unit 0 past the header are PROT_NONE guards: a stray
 * access running down from the previous chunk or up from below a slab
 * faults before it reaches the slab records. */
#define SS_HDR_OFF HAK_PAGE_SIZE
#define SS_HDR_END hak_align_up(SS_HDR_OFF + sizeof(struct tiny_ss), HAK_PAGE_SIZE)
_Static_assert(SS_HDR_OFF + sizeof(struct tiny_ss) + HAK_PAGE_SIZE <= HAK_UNIT_SIZE, "header fits in unit 0");

static uintptr_t ss_base(const struct tiny_ss *ss) { return (uintptr_t)ss - SS_HDR_OFF; }

static HAK_LOCK_DEFINE(cache_lock, HAK_RANK_SS_CACHE);
static struct tiny_ss *cache_head;
static unsigned cache_count;

/* Every SuperSlab in use (owned or orphaned): their free units are purged
 * once unused for madvise.delay (see units_decay). */
static HAK_LOCK_DEFINE(live_lock, HAK_RANK_SS_LIVE);
static struct tiny_ss *live_head;

static void live_add(struct tiny_ss *ss)
{
    hak_lock(&live_lock);
    ss->live_prev = NULL;
    ss->live_next = live_head;
    if (live_head)
        live_head->live_prev = ss;
    live_head = ss;
    hak_unlock(&live_lock);
}

static void live_remove(struct tiny_ss *ss)
{
    hak_lock(&live_lock);
    if (ss->live_prev)
        ss->live_prev->live_next = ss->live_next;
    else
        live_head = ss->live_next;
    if (ss->live_next)
        ss->live_next->live_prev = ss->live_prev;
    hak_unlock(&live_lock);
}

/* Units about to be carved again are no longer purged. */
static void units_claimed(struct tiny_ss *ss, uint64_t mask)
{
    if (atomic_load_explicit(&ss->purged_units, memory_order_relaxed) & (uint32_t)mask)
        atomic_fetch_and_explicit(&ss->purged_units, ~(uint32_t)mask, memory_order_relaxed);
}

/* SuperSlabs whose owner exited while slabs were still in them. */
static HAK_LOCK_DEFINE(orphan_lock, HAK_RANK_SS_ORPHANS);
static struct tiny_ss *orphan_head;
#define ORPHAN_SCAN 16 /* orphans looked at per adoption attempt */

/* Units freed in any SuperSlab (slabs released, purges done), counted
 * after they are free: a heap's note that its SuperSlabs are full holds
 * while this is unchanged. */
static _Atomic uint64_t units_released;

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
    /* Bit u of starts: units u .. u + have - 1 are all free; doubling have
     * takes log2(n) steps. The highest start wins, as the lowest units go
     * to single-unit slabs. */
    uint32_t starts = free_units;
    for (unsigned have = 1; have < n;) {
        unsigned step = have < n - have ? have : n - have;
        starts &= starts >> step;
        have += step;
    }
    return starts ? 31 - __builtin_clz(starts) : -1;
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
                                                  memory_order_acq_rel, memory_order_relaxed)) {
            units_claimed(ss, units_mask((unsigned)u, n));
            return u;
        }
    }
}

static struct tiny_slab *slab_at(struct tiny_heap *h, struct tiny_ss *ss, unsigned u, unsigned cls, unsigned units)
{
    return _hak_tiny_slab_setup(&ss->chunk, ss_base(ss) + (uintptr_t)u * HAK_UNIT_SIZE, cls, units, h, ss);
}

struct tiny_slab *_hak_ss_slab_owned(struct tiny_heap *h, unsigned cls, unsigned units)
{
    /* A heap that fills SuperSlab after SuperSlab would walk every full one
     * each time it needs a slab: the walk ends where the last one failed. */
    uint64_t epoch = atomic_load_explicit(&units_released, memory_order_acquire);
    struct tiny_ss *stop = h->ss_full_epoch == epoch && units >= h->ss_full_units ? h->ss_full : NULL;
    for (struct tiny_ss *ss = h->ss_list; ss != stop; ss = ss->next) {
        int u = claim_units(ss, units);
        if (u >= 0)
            return slab_at(h, ss, (unsigned)u, cls, units);
    }
    /* Before stop, no run of units; from it, none of ss_full_units ≤ units. */
    h->ss_full = h->ss_list;
    h->ss_full_epoch = epoch;
    h->ss_full_units = units;
    return NULL;
}

struct tiny_slab *_hak_ss_slab_in(struct tiny_heap *h, struct tiny_ss *ss, unsigned cls, unsigned units)
{
    int u = claim_units(ss, units);
    if (u < 0)
        return NULL;
    /* The last walk's finding (no run anywhere) still holds if the one unit
     * release since then made the room claimed here, and left no run here:
     * the next refill's walk need not look at every SuperSlab again. */
    uint64_t epoch = atomic_load_explicit(&units_released, memory_order_acquire);
    if (h->ss_full_epoch + 1 == epoch &&
        find_run(atomic_load_explicit(&ss->state, memory_order_relaxed), h->ss_full_units) < 0)
        h->ss_full_epoch = epoch;
    return slab_at(h, ss, (unsigned)u, cls, units);
}

static void ss_unmap(struct tiny_ss *ss)
{
    _hak_chunk_set(ss_base(ss), HAK_CHUNK_SIZE, HAK_CHUNK_NONE);
    _hak_os_unmap((void *)ss_base(ss), HAK_CHUNK_SIZE);
    atomic_fetch_sub_explicit(&mapped, 1, memory_order_relaxed);
    HAK_GCTR_ADD(tiny, ss_unmap, 1);
}

/* Into the cache if there is room (lock held); false if there is none. */
static bool cache_put_locked(struct tiny_ss *ss)
{
    if (cache_count >= (unsigned)HAK_OPT(tiny_ss_cache))
        return false;
    ss->next = cache_head;
    HAK_POKE(cache_head, ss);
    HAK_POKE(cache_count, cache_count + 1);
    return true;
}

/* ss is empty and unowned: keep it for reuse (resident until the delay
 * passes, see _hak_ss_decay) or give it back. */
static void ss_release(struct tiny_ss *ss)
{
    live_remove(ss);
    ss->purged = false;
    ss->cached_at = _hak_os_now_ns();
    hak_lock(&cache_lock);
    bool kept = cache_put_locked(ss);
    hak_unlock(&cache_lock);
    if (kept)
        _hak_purge_kick();
    else
        ss_unmap(ss);
}

/* A purge is done: back into the cache, as purged, or away if it filled up. */
static void purge_done(void *addr, size_t len, void *arg)
{
    struct tiny_ss *ss = arg;
    (void)addr;
    (void)len;
    ss->purged = true;
    hak_lock(&cache_lock);
    bool kept = cache_put_locked(ss);
    hak_unlock(&cache_lock);
    if (!kept)
        ss_unmap(ss);
}

static void release_unowned(struct tiny_ss *ss);

/* A run of units purged: they are marked so, and the claim the decay took on
 * them is let go (the last unit of an unowned SuperSlab releases it). */
static void units_purged(void *addr, size_t len, void *arg)
{
    struct tiny_ss *ss = arg;
    unsigned u = (unsigned)(((uintptr_t)addr - ss_base(ss)) >> HAK_UNIT_SHIFT);
    uint64_t mask = units_mask(u, (unsigned)(len >> HAK_UNIT_SHIFT));
    atomic_fetch_or_explicit(&ss->purged_units, (uint32_t)mask, memory_order_relaxed);
    uint64_t left = atomic_fetch_and_explicit(&ss->state, ~mask, memory_order_acq_rel) & ~mask;
    atomic_fetch_add_explicit(&units_released, 1, memory_order_release);
    if (left == 0)
        release_unowned(ss);
}

/* Free units of SuperSlabs in use not yet purged, not claimed. */
static uint32_t idle_units(struct tiny_ss *ss, uint64_t state)
{
    return ~(uint32_t)state & ~(uint32_t)1 & ~atomic_load_explicit(&ss->purged_units, memory_order_relaxed);
}

uint32_t _hak_ss_bridge_gaps(uint32_t due, uint32_t clean)
{
    uint32_t out = due;
    int last = -1; /* the last due unit, when every unit since is clean */
    for (unsigned k = 0; k < HAK_UNITS_PER_CHUNK && due >> k; k++) {
        if (due >> k & 1) {
            if (last >= 0 && k > (unsigned)last + 1)
                out |= (uint32_t)units_mask((unsigned)last + 1, k - (unsigned)last - 1);
            last = (int)k;
        } else if (!(clean >> k & 1)) {
            last = -1;
        }
    }
    return out;
}

/* When idle units fall due: once unused for the delay, or sooner, oldest
 * first, beyond tiny.retain and an eighth of the units in use (a thread
 * that exits leaves the units of its SuperSlabs to others, who may not
 * need them within the delay: larson's 300 thread starts kept 6–10 MiB of
 * idle units resident). Ages are counted in sixteenths of the delay. */
#define AGE_STEPS 16
static uint64_t units_due(uint64_t now, uint64_t delay)
{
    uint64_t due = now >= delay ? now - delay : 0, step = delay / AGE_STEPS;
    size_t young[AGE_STEPS] = { 0 }, used = 0, idle = 0;
    hak_lock(&live_lock);
    for (struct tiny_ss *ss = live_head; ss; ss = ss->live_next) {
        uint64_t state = atomic_load_explicit(&ss->state, memory_order_relaxed);
        used += (size_t)__builtin_popcount((uint32_t)state & ~(uint32_t)1);
        for (uint32_t m = state ? idle_units(ss, state) : 0; m; m &= m - 1) {
            uint64_t at = atomic_load_explicit(&ss->freed_at[__builtin_ctz(m)], memory_order_relaxed);
            if (at > due && step) {
                uint64_t age = now > at ? (now - at) / step : 0;
                young[age < AGE_STEPS ? age : AGE_STEPS - 1]++;
                idle++;
            }
        }
    }
    hak_unlock(&live_lock);
    size_t keep = (size_t)HAK_OPT(tiny_retain) >> HAK_UNIT_SHIFT;
    if (keep < used / 8)
        keep = used / 8;
    if (idle <= keep)
        return due;
    /* The youngest steps that fit in keep stay; the older ones fall due. */
    size_t kept = 0;
    unsigned s = 0;
    while (s < AGE_STEPS && kept + young[s] <= keep)
        kept += young[s++];
    return now - (uint64_t)s * step;
}

/* Free units of SuperSlabs in use, unused since before units_due's time,
 * are claimed (so no heap carves them meanwhile) and queued for a purge, a
 * run at a time (the purger's tick flushes them: see _hak_purge_tick);
 * returns when the next one falls due (0: none waits), an eighth of the
 * delay at the latest while any is idle or the budget was exceeded. */
#define UNITS_PER_PASS 64 /* SuperSlabs claimed from per pass; the rest wait for the next */
static uint64_t units_decay(uint64_t now, uint64_t delay)
{
    struct {
        struct tiny_ss *ss;
        uint64_t mask; /* the units claimed: due ones and the gaps bridged */
    } claimed[UNITS_PER_PASS];
    unsigned n = 0;
    uint64_t due = units_due(now, delay), next = 0;
    hak_lock(&live_lock);
    for (struct tiny_ss *ss = live_head; ss; ss = ss->live_next) {
        uint64_t old = atomic_load_explicit(&ss->state, memory_order_acquire);
        for (;;) {
            if (old == 0) /* being released */
                break;
            uint64_t mask = 0;
            for (uint32_t m = idle_units(ss, old); m; m &= m - 1) {
                unsigned k = (unsigned)__builtin_ctz(m);
                uint64_t at = atomic_load_explicit(&ss->freed_at[k], memory_order_relaxed);
                if (at <= due)
                    mask |= (uint64_t)1 << k;
                else if (!next || at + delay < next)
                    next = at + delay;
            }
            if (!mask || n == UNITS_PER_PASS) {
                if (mask && (!next || due + 1 < next))
                    next = due + 1; /* more than one pass can take */
                break;
            }
            uint32_t clean = ~(uint32_t)old & atomic_load_explicit(&ss->purged_units, memory_order_relaxed);
            uint64_t claim = _hak_ss_bridge_gaps((uint32_t)mask, clean);
            if (atomic_compare_exchange_weak_explicit(&ss->state, &old, old | claim, memory_order_acq_rel,
                                                      memory_order_acquire)) {
                claimed[n].ss = ss;
                claimed[n++].mask = claim;
                HAK_GCTR_ADD(tiny, unit_purge, __builtin_popcountll(mask)); /* the due ones only */
                break;
            }
        }
    }
    hak_unlock(&live_lock);
    /* Over the budget, or with units idle, look again soon: units freed
     * meanwhile wake no one. */
    bool over = due + delay > now;
    if ((next || over) && (!next || next > now + delay / 8))
        next = now + delay / 8;
    /* Claimed, the SuperSlabs stay mapped until units_purged lets go. */
    for (unsigned i = 0; i < n; i++) {
        uint64_t mask = claimed[i].mask;
        while (mask) {
            unsigned u = (unsigned)__builtin_ctzll(mask), k = u;
            while (k < HAK_UNITS_PER_CHUNK && (mask >> k & 1))
                k++;
            mask &= ~units_mask(u, k - u);
            _hak_purge_queue((char *)ss_base(claimed[i].ss) + (size_t)u * HAK_UNIT_SIZE, (size_t)(k - u) * HAK_UNIT_SIZE,
                            false, units_purged, claimed[i].ss);
        }
    }
    return next;
}

uint64_t _hak_ss_decay(uint64_t now)
{
    uint64_t delay = _hak_purge_delay_ns(), next = 0;
    struct tiny_ss *due = NULL;
    hak_lock(&cache_lock);
    /* Due SuperSlabs leave the cache while their purge is in flight, so no
     * thread takes one and writes to it meanwhile. */
    for (struct tiny_ss **pp = &cache_head; *pp;) {
        struct tiny_ss *ss = *pp;
        if (!ss->purged && ss->cached_at + delay <= now) {
            HAK_POKE(*pp, ss->next);
            HAK_POKE(cache_count, cache_count - 1);
            ss->next = due;
            due = ss;
        } else {
            if (!ss->purged && (!next || ss->cached_at + delay < next))
                next = ss->cached_at + delay;
            pp = &ss->next;
        }
    }
    hak_unlock(&cache_lock);
    while (due) {
        struct tiny_ss *ss = due;
        due = ss->next;
        /* Unit 0 (the header) stays: its records must survive. */
        _hak_purge_queue((char *)ss_base(ss) + HAK_UNIT_SIZE, HAK_CHUNK_SIZE - HAK_UNIT_SIZE, false, purge_done, ss);
        HAK_GCTR_ADD(tiny, ss_purge, 1);
    }
    uint64_t units_next = units_decay(now, delay);
    return !next ? units_next : !units_next ? next : next < units_next ? next : units_next;
}

static void orphan_push_locked(struct tiny_ss *ss)
{
    ss->prev = NULL;
    ss->next = orphan_head;
    if (orphan_head)
        orphan_head->prev = ss;
    HAK_POKE(orphan_head, ss);
    ss->orphan = true;
}

static void orphan_unlink_locked(struct tiny_ss *ss)
{
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        HAK_POKE(orphan_head, ss->next);
    if (ss->next)
        ss->next->prev = ss->prev;
    ss->next = ss->prev = NULL;
    ss->orphan = false;
}

/* The last unit of an unowned SuperSlab went: off the orphan list, away. */
static void release_unowned(struct tiny_ss *ss)
{
    hak_lock(&orphan_lock);
    if (ss->orphan)
        orphan_unlink_locked(ss);
    hak_unlock(&orphan_lock);
    ss_release(ss);
}

static void own(struct tiny_heap *h, struct tiny_ss *ss)
{
    HAK_POKE(ss->owner, h);
    ss->prev = NULL;
    ss->next = h->ss_list;
    if (h->ss_list)
        h->ss_list->prev = ss;
    h->ss_list = ss;
}

/* An orphan with a run of units free, claimed together with ownership;
 * NULL if none of the first few has one. */
static struct tiny_slab *adopt_orphan(struct tiny_heap *h, unsigned cls, unsigned units)
{
    if (!HAK_PEEK(orphan_head))
        return NULL;
    hak_lock(&orphan_lock);
    struct tiny_ss *ss = orphan_head;
    for (unsigned n = 0; ss && n < ORPHAN_SCAN; ss = ss->next, n++) {
        uint64_t old = atomic_load_explicit(&ss->state, memory_order_acquire);
        int u;
        if (old == 0 || (u = find_run(old, units)) < 0) /* 0: being released */
            continue;
        if (!atomic_compare_exchange_strong(&ss->state, &old, old | TINY_SS_OWNED | units_mask((unsigned)u, units)))
            continue;
        orphan_unlink_locked(ss);
        hak_unlock(&orphan_lock);
        units_claimed(ss, units_mask((unsigned)u, units));
        own(h, ss);
        return slab_at(h, ss, (unsigned)u, cls, units);
    }
    hak_unlock(&orphan_lock);
    return NULL;
}

struct tiny_slab *_hak_ss_slab_new(struct tiny_heap *h, unsigned cls, unsigned units)
{
    struct tiny_slab *s = adopt_orphan(h, cls, units);
    if (s) {
        HAK_CTR_INC(tiny, ss_adopt);
        return s;
    }
    struct tiny_ss *ss = NULL;
    if (HAK_PEEK(cache_head)) {
        hak_lock(&cache_lock);
        if ((ss = cache_head) != NULL) {
            HAK_POKE(cache_head, ss->next);
            HAK_POKE(cache_count, cache_count - 1);
        }
        hak_unlock(&cache_lock);
    }
    bool reused = ss != NULL;
    if (ss) {
        HAK_CTR_INC(tiny, ss_reuse);
    } else {
        char *base = _hak_os_map_aligned(HAK_CHUNK_SIZE, HAK_CHUNK_SIZE);
        if (!base)
            return NULL;
        ss = (struct tiny_ss *)(base + SS_HDR_OFF);
        /* Fresh pages are zero: every unit's head starts out NULL. */
        if (_hak_chunk_set((uintptr_t)base, HAK_CHUNK_SIZE, HAK_CHUNK_SLAB | (uintptr_t)&ss->chunk) != 0) {
            _hak_os_unmap(base, HAK_CHUNK_SIZE);
            return NULL;
        }
        ss->magic = TINY_SS_MAGIC;
        if (_hak_tiny_secure) { /* a failure (out of mappings) only costs the guard */
            _hak_os_guard(base, SS_HDR_OFF);
            _hak_os_guard(base + SS_HDR_END, HAK_UNIT_SIZE - SS_HDR_END);
        }
        if (atomic_fetch_add_explicit(&mapped, 1, memory_order_relaxed) >= SS_HUGEPAGE_FROM)
            _hak_purge_hugepages(base, HAK_CHUNK_SIZE);
        HAK_GCTR_ADD(tiny, ss_map, 1);
    }
    unsigned u = (unsigned)find_run(0, units);
    /* Units of a fresh or purged SuperSlab hold no pages; those of one kept
     * resident in the cache have been idle since it went there. */
    bool resident = reused && !ss->purged;
    atomic_store_explicit(&ss->purged_units, resident ? 0 : ~(uint32_t)0, memory_order_relaxed);
    if (resident)
        for (unsigned k = 1; k < HAK_UNITS_PER_CHUNK; k++)
            atomic_store_explicit(&ss->freed_at[k], ss->cached_at, memory_order_relaxed);
    units_claimed(ss, units_mask(u, units));
    atomic_store_explicit(&ss->state, TINY_SS_OWNED | units_mask(u, units), memory_order_release);
    live_add(ss);
    own(h, ss);
    return slab_at(h, ss, u, cls, units);
}

static void ss_unlink(struct tiny_heap *h, struct tiny_ss *ss)
{
    if (h->ss_full == ss)
        h->ss_full = NULL;
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

struct tiny_ss *_hak_ss_slab_release(struct tiny_heap *h, struct tiny_slab *s)
{
    struct tiny_ss *ss = s->ss;
    /* Read while s's units keep ss mapped: once they go, a SuperSlab of
     * another heap's may go too (its owner's exit). Only h changes the
     * owner of a SuperSlab h owns. */
    bool mine = h && HAK_PEEK(ss->owner) == h;
    unsigned u = (unsigned)((s->data - ss_base(ss)) >> HAK_UNIT_SHIFT);
    /* A tick early at most: the units may be purged that much sooner. */
    uint64_t bits = units_mask(u, s->units), t = _hak_os_coarse_ns();
    _hak_tiny_slab_unpublish(s);
    for (unsigned k = u; k < u + s->units; k++)
        atomic_store_explicit(&ss->freed_at[k], t, memory_order_relaxed);
    uint64_t now = atomic_fetch_and_explicit(&ss->state, ~bits, memory_order_acq_rel) & ~bits;
    atomic_fetch_add_explicit(&units_released, 1, memory_order_release);
    if (now & ~TINY_SS_OWNED)
        _hak_purge_kick(); /* the SuperSlab stays, with units that may go idle */
    if (now == 0) {
        release_unowned(ss); /* unowned and empty: this thread saw it last */
        return NULL;
    }
    if (!mine)
        return NULL;
    if (now == TINY_SS_OWNED && other_empty(h, ss)) {
        /* Our own SuperSlab went empty and we already hold an empty one in
         * reserve: give this one back. Only the owner claims units, so
         * nobody can race this CAS. */
        uint64_t expected = TINY_SS_OWNED;
        if (atomic_compare_exchange_strong(&ss->state, &expected, 0)) {
            ss_unlink(h, ss);
            ss_release(ss);
            return NULL;
        }
    }
    return ss;
}

/* The heap's SuperSlabs become orphans; empty ones go at once. Each is on
 * the orphan list before it loses its owner bit, so whoever frees its last
 * unit later finds it there (under the lock) and takes it off. */
void _hak_ss_heap_exit(struct tiny_heap *h)
{
    struct tiny_ss *ss = h->ss_list, *empty = NULL;
    hak_lock(&orphan_lock);
    while (ss) {
        struct tiny_ss *next = ss->next;
        HAK_POKE(ss->owner, NULL);
        orphan_push_locked(ss);
        uint64_t old = atomic_fetch_and_explicit(&ss->state, ~TINY_SS_OWNED, memory_order_acq_rel);
        if ((old & ~TINY_SS_OWNED) == 0) {
            orphan_unlink_locked(ss);
            ss->next = empty;
            empty = ss;
        }
        ss = next;
    }
    hak_unlock(&orphan_lock);
    h->ss_list = NULL;
    h->ss_full = NULL;
    while (empty) {
        struct tiny_ss *next = empty->next;
        ss_release(empty);
        empty = next;
    }
}

size_t _hak_ss_trim(void)
{
    units_decay(UINT64_MAX, 0); /* every free unit of every SuperSlab in use */
    hak_lock(&cache_lock);
    struct tiny_ss *list = cache_head;
    HAK_POKE(cache_head, NULL);
    HAK_POKE(cache_count, 0);
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

size_t _hak_ss_cached_bytes(void) { return (size_t)HAK_PEEK(cache_count) * HAK_CHUNK_SIZE; }

/* A list torn by a critical section the fork cut short is dropped: its
 * SuperSlabs are leaked in the child (slabs in them still work), never
 * handed out twice. Dropped from the live list, they only keep their idle
 * units resident. */
void _hak_ss_fork_child(void)
{
    if (hak_lock_torn(&cache_lock)) {
        cache_head = NULL;
        cache_count = 0;
    }
    if (hak_lock_torn(&orphan_lock))
        orphan_head = NULL;
    if (hak_lock_torn(&live_lock))
        live_head = NULL;
}
