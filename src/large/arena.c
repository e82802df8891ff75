/* arena.c — page runs of the large tier. Each region is a 2 MiB-aligned
 * reservation of 64 KiB units, registered in the chunk map. Runs carry a
 * boundary tag at both ends (start: length and state; end: length), so that
 * a freed run coalesces with its neighbours in O(1) and a pointer is known
 * to be a block start exactly. One lock guards everything here: the large
 * tier is entered once per allocation of more than 256 KiB. */
#include "arena.h"
#include "huge.h"
#include "../purge.h"
#include "../chunkmap.h"
#include "../counters.h"
#include "../lock.h"
#include "../options.h"
#include "../os.h"
#include "../report.h"
#include <errno.h>

#define AU_SHIFT HAK_UNIT_SHIFT
#define AU HAK_UNIT_SIZE

/* Run states. DIRTY: free and resident, first choice for reuse. CLEAN: free
 * and not resident (fresh, or purged). PURGING: free, queued for a purge,
 * not to be touched until the purge is done. */
enum { RUN_ALLOC = 1, RUN_DIRTY, RUN_CLEAN, RUN_PURGING };
#define LEN_BITS 28
#define TAG(len, st) ((uint32_t)(len) | ((uint32_t)(st) << LEN_BITS))
#define TAG_LEN(t) ((t) & ((1u << LEN_BITS) - 1))
#define TAG_STATE(t) ((t) >> LEN_BITS)
#define IS_FREE(st) ((st) == RUN_DIRTY || (st) == RUN_CLEAN)

struct arena_region {
    uintptr_t base;
    uint32_t units;
    uint32_t *start;          /* tag at each run's first unit, 0 elsewhere */
    uint32_t *end;            /* length at each run's last unit, 0 elsewhere */
    uint64_t *freed_at;       /* at a free run's first unit: when it was freed (ns) */
    size_t meta_bytes;        /* the three arrays share one mapping */
    struct arena_region *next;
};

static HAK_LOCK_DEFINE(arena_lock, HAK_RANK_ARENA);
static struct arena_region *regions;
static size_t reserved_units, used_units, dirty_units;
/* Demand: the bytes live in large blocks — arena runs and huge blocks
 * alike, as the mmap threshold moves requests between them. Free memory
 * worth keeping resident is what demand recently dipped below its recent
 * peak, since demand that came back once may come back again (tcmalloc
 * sizes its HugeCache limit by the largest such dip within 1 s); a ramp up
 * is no dip: a program filling its heap keeps nothing for it. Two periods of
 * madvise.delay, [0] the current one, begun at dem_start, and [1] the one
 * before, cover the last one to two delays: dem_peak is each period's
 * highest demand, dem_dip its deepest fall below the peak of both. Sampled
 * at every arena allocation and free (huge blocks come and go without the
 * arena: their bytes are read then) and at every decay pass. Bytes. */
static uint64_t dem_start;
static size_t dem_peak[2], dem_dip[2], dem_now;
/* Each period's lowest demand below a peak (SIZE_MAX: none fell), the
 * peak it fell from, and the largest return from the trough of either
 * period towards that peak: the part of a dip that came back, as when a
 * program frees a burst and allocates it again (a ramp up to new heights
 * is no return). */
static size_t dem_trough[2] = { SIZE_MAX, SIZE_MAX }, dem_trough_peak[2], dem_rise[2];
/* Whether the period gave a resident run to a request above the mmap
 * threshold (while ELO learns it, see _hak_arena_alloc): then the holes
 * kept serve all large demand, not only the arena's blocks. */
static bool dem_shared[2];
/* A fork child that inherited a torn arena (a signal handler forked in the
 * middle of an arena operation): nothing walks its run tags again — a torn
 * tag may have length 0 — so new requests bypass it, blocks freed into it
 * and purges coming back to it are leaked, nothing of it decays, and a
 * block's usable size is only clamped to its region. */
static bool arena_broken;
/* The address space is limited (RLIMIT_AS, read whenever a region is
 * reserved): then a region that empties goes back at once, resident or not,
 * since the address space it holds may be what a thread stack or another
 * mapping of the program needs. */
static bool as_limited;

#define PURGE_BATCH 64 /* runs queued per pass; the rest next pass */
struct purge_list {
    unsigned n;
    struct {
        void *addr;
        size_t len;
        struct arena_region *r;
    } run[PURGE_BATCH];
};

/* ------------------------------------------------------------------ runs */

static void set_run(struct arena_region *r, uint32_t u, uint32_t len, unsigned st)
{
    r->start[u] = TAG(len, st);
    r->end[u + len - 1] = len;
}

static void clear_run(struct arena_region *r, uint32_t u, uint32_t len)
{
    r->start[u] = 0;
    r->end[u + len - 1] = 0;
}

/* Samples demand into the current period (lock held). */
static void demand_note(void)
{
    size_t count, huge;
    _hak_huge_totals(&count, &huge);
    size_t d = used_units * AU + huge;
    dem_now = d;
    if (d > dem_peak[0])
        dem_peak[0] = d;
    size_t peak = dem_peak[0] > dem_peak[1] ? dem_peak[0] : dem_peak[1];
    if (peak - d > dem_dip[0])
        dem_dip[0] = peak - d;
    if (d < peak && d < dem_trough[0]) {
        dem_trough[0] = d;
        dem_trough_peak[0] = peak;
    }
    for (int i = 0; i < 2; i++) {
        if (dem_trough[i] == SIZE_MAX)
            continue;
        size_t back = d < dem_trough_peak[i] ? d : dem_trough_peak[i];
        if (back > dem_trough[i] && back - dem_trough[i] > dem_rise[0])
            dem_rise[0] = back - dem_trough[i];
        if (d >= dem_trough_peak[i]) /* all of it came back: the next fall is a trough of its own */
            dem_trough[i] = SIZE_MAX;
    }
}

static void account(unsigned st, int64_t len)
{
    if (st == RUN_DIRTY) {
        dirty_units += (size_t)len;
    } else if (st == RUN_ALLOC) {
        used_units += (size_t)len;
        demand_note();
    }
}

/* Samples demand at now, first starting a new period if the current one is
 * delay old (lock held). A clock that reads earlier than dem_start (tests)
 * starts none. */
static void demand_at(uint64_t now, uint64_t delay)
{
    if (now >= dem_start + delay) {
        dem_peak[1] = dem_peak[0];
        dem_dip[1] = dem_dip[0];
        dem_rise[1] = dem_rise[0];
        dem_trough[1] = dem_trough[0];
        dem_trough_peak[1] = dem_trough_peak[0];
        dem_shared[1] = dem_shared[0];
        dem_peak[0] = dem_dip[0] = dem_rise[0] = 0;
        dem_trough[0] = SIZE_MAX;
        dem_shared[0] = false;
        dem_start = now;
    }
    demand_note();
}

/* Free units kept resident (lock held, demand just sampled): the deepest
 * dip of demand over the two periods, at least large.retain, plus holes
 * worth large.holes percent of the arena's live units (of all large
 * demand, when its runs lately served requests above the threshold); at most
 * large.retain_max. The holes: blocks of mixed sizes replaced one by one
 * leave free runs between live ones, about one per two blocks in a best fit
 * arena in equilibrium (Knuth's fifty-percent rule); purged as excess,
 * their pages would fault in again at the next request they fit. Where no
 * pass may come once the process idles (no purger thread), what a free
 * leaves resident stays while it idles: then at most large.retain plus
 * large.holes percent of all demand, arena and huge, and of the dip as much
 * again or as much as came back after an earlier dip, whichever is more —
 * so that an idle process keeps a share of what it holds live, a program
 * whose demand swings and comes back keeps the swing (its next burst would
 * fault it all in again), and one that freed everything once keeps
 * large.retain; never more than large.retain_max. */
static size_t keep_units(void)
{
    size_t dip = (dem_dip[0] > dem_dip[1] ? dem_dip[0] : dem_dip[1]) >> AU_SHIFT;
    size_t floor = (size_t)HAK_OPT(large_retain) >> AU_SHIFT;
    size_t live = dem_shared[0] || dem_shared[1] ? dem_now >> AU_SHIFT : used_units;
    size_t holes = live * (size_t)HAK_OPT(large_holes) / 100;
    size_t share = (dem_now >> AU_SHIFT) * (size_t)HAK_OPT(large_holes) / 100; /* of all demand */
    size_t rise = (dem_rise[0] > dem_rise[1] ? dem_rise[0] : dem_rise[1]) >> AU_SHIFT;
    size_t swing = rise > share ? rise : share;
    size_t ceiling = _hak_purge_idle_passes() ? (size_t)HAK_OPT(large_retain_max) >> AU_SHIFT
                                              : floor + share + (dip < swing ? dip : swing);
    if (ceiling > (size_t)HAK_OPT(large_retain_max) >> AU_SHIFT)
        ceiling = (size_t)HAK_OPT(large_retain_max) >> AU_SHIFT;
    size_t keep = (dip > floor ? dip : floor) + holes;
    return keep < ceiling ? keep : ceiling;
}

/* Merges the free run at u with neighbours in the same state (resident
 * with resident, purged with purged: the dirty count stays exact); returns
 * the run's new start. */
static uint32_t coalesce(struct arena_region *r, uint32_t u, uint64_t now)
{
    uint32_t t = r->start[u], len = TAG_LEN(t);
    unsigned st = TAG_STATE(t);
    uint32_t v = u + len;
    if (v < r->units && TAG_STATE(r->start[v]) == st) {
        uint32_t nlen = TAG_LEN(r->start[v]);
        clear_run(r, v, nlen);
        clear_run(r, u, len);
        len += nlen;
        set_run(r, u, len, st);
    }
    if (u > 0) {
        uint32_t plen = r->end[u - 1], pu = u - plen;
        if (TAG_STATE(r->start[pu]) == st) {
            clear_run(r, pu, plen);
            clear_run(r, u, len);
            len += plen;
            u = pu;
            set_run(r, u, len, st);
        }
    }
    r->freed_at[u] = now;
    return u;
}

/* The run holding unit u (u need not be a run start), by walking the tags. */
static uint32_t run_of(const struct arena_region *r, uint32_t u)
{
    uint32_t s = 0;
    while (s + TAG_LEN(r->start[s]) <= u)
        s += TAG_LEN(r->start[s]);
    return s;
}

/* ------------------------------------------------------------------ regions */

static void region_unregister(struct arena_region *r)
{
    _hak_chunk_set(r->base, (size_t)r->units * AU, HAK_CHUNK_NONE);
}

static struct arena_region *region_new(uint32_t min_units)
{
    size_t bytes = (size_t)HAK_OPT(large_region_size);
    size_t need = hak_align_up((size_t)min_units * AU, HAK_CHUNK_SIZE);
    if (bytes < need)
        bytes = need;
    bytes = hak_align_up(bytes, HAK_CHUNK_SIZE);
    void *base = NULL;
    as_limited = _hak_os_as_limited();
    /* Under an address-space limit, settle for less than a full region. */
    while (!(base = _hak_os_map_aligned(bytes, HAK_CHUNK_SIZE)) && bytes > need)
        bytes = hak_align_up(bytes / 2 > need ? bytes / 2 : need, HAK_CHUNK_SIZE);
    if (!base)
        return NULL;
    uint32_t units = (uint32_t)(bytes / AU);
    size_t meta = hak_align_up((size_t)units * (2 * sizeof(uint32_t) + sizeof(uint64_t)) +
                                   hak_align_up(sizeof(struct arena_region), 64),
                               HAK_PAGE_SIZE);
    char *m = _hak_os_map(meta); /* zero: every tag starts out 0 */
    if (!m) {
        _hak_os_unmap(base, bytes);
        return NULL;
    }
    struct arena_region *r = (struct arena_region *)m;
    char *arrays = m + hak_align_up(sizeof *r, 64);
    r->base = (uintptr_t)base;
    r->units = units;
    r->freed_at = (uint64_t *)arrays;
    r->start = (uint32_t *)(arrays + (size_t)units * sizeof(uint64_t));
    r->end = r->start + units;
    r->meta_bytes = meta;
    if (_hak_chunk_set(r->base, bytes, HAK_CHUNK_ARENA | (uintptr_t)r) != 0) {
        _hak_os_unmap(base, bytes);
        _hak_os_unmap(m, meta);
        return NULL;
    }
    set_run(r, 0, units, RUN_CLEAN);
    r->next = regions;
    regions = r;
    reserved_units += units;
    HAK_GCTR_ADD(large, region_map, 1);
    return r;
}

/* A region that is one free run goes back, if another region stays: a clean
 * one always, a resident one where the address space is limited (elsewhere
 * its pages are kept for reuse, and its address space costs nothing). True
 * if it went (lock held). */
static bool region_release_if_empty(struct arena_region *r)
{
    unsigned st = TAG_STATE(r->start[0]);
    if (TAG_LEN(r->start[0]) != r->units || !(st == RUN_CLEAN || (st == RUN_DIRTY && as_limited)) ||
        (regions == r && !r->next))
        return false;
    if (st == RUN_DIRTY)
        account(RUN_DIRTY, -(int64_t)r->units);
    struct arena_region **pp = &regions;
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    reserved_units -= r->units;
    region_unregister(r);
    _hak_os_unmap((void *)r->base, (size_t)r->units * AU);
    _hak_os_unmap(r, r->meta_bytes);
    HAK_GCTR_ADD(large, region_unmap, 1);
    return true;
}

/* ------------------------------------------------------------------ purge */

static void purge_done(void *addr, size_t len, void *arg)
{
    struct arena_region *r = arg;
    if (arena_broken)
        return;
    hak_lock(&arena_lock);
    uint32_t u = (uint32_t)(((uintptr_t)addr - r->base) >> AU_SHIFT);
    hak_assert(TAG_STATE(r->start[u]) == RUN_PURGING && TAG_LEN(r->start[u]) * AU == len);
    (void)len;
    r->start[u] = TAG(TAG_LEN(r->start[u]), RUN_CLEAN);
    coalesce(r, u, r->freed_at[u]);
    region_release_if_empty(r);
    hak_unlock(&arena_lock);
}

/* Marks the dirty run at u PURGING and adds it to the list (lock held). */
static void purge_take(struct purge_list *l, struct arena_region *r, uint32_t u)
{
    uint32_t len = TAG_LEN(r->start[u]);
    r->start[u] = TAG(len, RUN_PURGING);
    account(RUN_DIRTY, -(int64_t)len);
    l->run[l->n].addr = (void *)(r->base + (uintptr_t)u * AU);
    l->run[l->n].len = (size_t)len * AU;
    l->run[l->n].r = r;
    l->n++;
}

/* Queues the list (no lock held: the batch may flush and call back). */
static void purge_send(struct purge_list *l)
{
    for (unsigned i = 0; i < l->n; i++)
        _hak_purge_queue(l->run[i].addr, l->run[i].len, false, purge_done, l->run[i].r);
    HAK_GCTR_ADD(large, purged_runs, l->n);
}

/* The dirty run freed longest ago; false if none is (lock held). A run's
 * age is its newest part's: coalesce stamps a merged run with the time of
 * the free that merged it. */
static bool oldest_dirty(struct arena_region **rr, uint32_t *ru)
{
    uint64_t oldest = UINT64_MAX;
    for (struct arena_region *r = regions; r; r = r->next) {
        for (uint32_t u = 0; u < r->units; u += TAG_LEN(r->start[u])) {
            if (TAG_STATE(r->start[u]) == RUN_DIRTY && r->freed_at[u] < oldest) {
                oldest = r->freed_at[u];
                *rr = r;
                *ru = u;
            }
        }
    }
    return oldest != UINT64_MAX;
}

/* Takes dirty runs, oldest first, up to a list's worth, while the oldest
 * has been unused for the delay (freed at or before now - delay), whole,
 * or more than keep units are dirty: then only the excess, the run's tail,
 * so that a little over does not purge a long run (lock held). Returns when
 * the oldest left falls due, now if the list filled first, 0 if no dirty
 * run is left. */
static uint64_t take_oldest(struct purge_list *l, uint64_t now, uint64_t delay, size_t keep)
{
    struct arena_region *r;
    uint32_t u;
    while (oldest_dirty(&r, &u)) {
        uint64_t due = r->freed_at[u] + delay;
        if (due > now && dirty_units <= keep)
            return due;
        if (l->n == PURGE_BATCH)
            return now;
        uint32_t len = TAG_LEN(r->start[u]);
        if (due <= now) {
            HAK_GCTR_ADD(large, decay_runs, 1);
        } else {
            if (dirty_units - keep < len) {
                uint32_t head = len - (uint32_t)(dirty_units - keep);
                clear_run(r, u, len);
                set_run(r, u, head, RUN_DIRTY);
                set_run(r, u + head, len - head, RUN_DIRTY);
                r->freed_at[u + head] = r->freed_at[u];
                u += head;
            }
            HAK_GCTR_ADD(large, excess_runs, 1);
        }
        purge_take(l, r, u);
    }
    return 0;
}

/* Samples demand at now and takes the oldest dirty runs beyond what it
 * explains, tails first (lock held); returns the purge delay (0: nothing
 * waits, nothing is taken). */
static uint64_t take_excess(struct purge_list *l, uint64_t now)
{
    uint64_t delay = _hak_purge_delay_ns();
    demand_at(now, delay);
    size_t keep = keep_units();
    if (delay && dirty_units > keep) /* (the walk for the oldest only then) */
        take_oldest(l, 0, delay, keep);
    return delay;
}

/* The decay pass: dirty runs unused for the delay, then the oldest of those
 * left while more are dirty than recent demand explains (keep_units: it
 * shrinks as a dip of demand ages out of the two periods). Runs past a
 * full list wait for the next pass, which is then due at once. */
uint64_t _hak_arena_decay(uint64_t now)
{
    struct purge_list l = { 0 };
    if (arena_broken)
        return 0;
    hak_lock(&arena_lock);
    uint64_t delay = _hak_purge_delay_ns();
    demand_at(now, delay);
    uint64_t next = take_oldest(&l, now, delay, keep_units());
    hak_unlock(&arena_lock);
    purge_send(&l);
    return next;
}

size_t _hak_arena_trim(void)
{
    struct purge_list l;
    size_t bytes = 0;
    if (arena_broken)
        return 0;
    do {
        l.n = 0;
        hak_lock(&arena_lock);
        for (struct arena_region *r = regions; r && l.n < PURGE_BATCH; r = r->next)
            for (uint32_t u = 0; u < r->units && l.n < PURGE_BATCH; u += TAG_LEN(r->start[u]))
                if (TAG_STATE(r->start[u]) == RUN_DIRTY)
                    purge_take(&l, r, u);
        hak_unlock(&arena_lock);
        for (unsigned i = 0; i < l.n; i++)
            bytes += l.run[i].len;
        purge_send(&l);
    } while (l.n == PURGE_BATCH);
    return bytes;
}

/* ------------------------------------------------------------------ alloc */

/* Where to carve want units: the best single free run (resident before
 * purged, then the smallest), else the first span of adjacent free runs of
 * both kinds that is long enough; with resident, only the smallest
 * resident run. False if none exists (lock held). */
static bool find_space(uint32_t want, bool resident, struct arena_region **rr, uint32_t *ru)
{
    uint32_t best_len = 0;
    unsigned best_st = 0;
    struct arena_region *span_r = NULL;
    uint32_t span_u = 0;
    for (struct arena_region *r = regions; r; r = r->next) {
        uint32_t run_start = 0, run_len = 0; /* the current span of free runs */
        for (uint32_t u = 0; u < r->units; u += TAG_LEN(r->start[u])) {
            uint32_t t = r->start[u], len = TAG_LEN(t);
            unsigned st = TAG_STATE(t);
            if (!IS_FREE(st)) {
                run_len = 0;
                continue;
            }
            if (!run_len)
                run_start = u;
            run_len += len;
            if (run_len >= want && !span_r) {
                span_r = r;
                span_u = run_start;
            }
            if (len < want || (resident && st != RUN_DIRTY))
                continue;
            if (!best_len || (st == RUN_DIRTY && best_st != RUN_DIRTY) || (st == best_st && len < best_len)) {
                best_len = len;
                best_st = st;
                *rr = r;
                *ru = u;
            }
        }
    }
    if (best_len || resident)
        return best_len != 0;
    *rr = span_r;
    *ru = span_u;
    return span_r != NULL;
}

/* Turns want units from u (free runs, one or several) into an allocated
 * run; the last run's remainder stays free in its state. Returns whether
 * all of it reads as zero (lock held). */
static bool carve(struct arena_region *r, uint32_t u, uint32_t want)
{
    bool zero = true;
    uint32_t v = u, need = want;
    while (need) {
        uint32_t t = r->start[v], len = TAG_LEN(t);
        unsigned st = TAG_STATE(t);
        zero = zero && st == RUN_CLEAN;
        clear_run(r, v, len);
        account(st, -(int64_t)len);
        if (len > need) {
            set_run(r, v + need, len - need, st);
            r->freed_at[v + need] = r->freed_at[v];
            account(st, len - need);
            len = need;
        }
        need -= len;
        v += len;
    }
    set_run(r, u, want, RUN_ALLOC);
    account(RUN_ALLOC, want);
    return zero;
}

void *_hak_arena_alloc(size_t n, bool resident, bool *zeroed)
{
    if (arena_broken || n > ((size_t)1 << (LEN_BITS - 1)) * AU) {
        if (!resident)
            errno = ENOMEM;
        return NULL;
    }
    uint32_t want = (uint32_t)((n + AU - 1) >> AU_SHIFT);
    struct arena_region *r = NULL;
    uint32_t u = 0;
    hak_lock(&arena_lock);
    if (resident && !find_space(want, true, &r, &u)) {
        hak_unlock(&arena_lock);
        return NULL;
    }
    if (!resident && !find_space(want, false, &r, &u)) {
        /* Runs being purged come back once their batch is flushed. */
        hak_unlock(&arena_lock);
        _hak_purge_flush();
        hak_lock(&arena_lock);
        if (!find_space(want, false, &r, &u)) {
            if (!(r = region_new(want))) {
                hak_unlock(&arena_lock);
                errno = ENOMEM;
                return NULL;
            }
            u = 0;
        }
    }
    bool zero = carve(r, u, want);
    dem_shared[0] |= resident;
    hak_unlock(&arena_lock);
    *zeroed = zero && _hak_purge_purge_zeroes();
    HAK_CTR_INC(large, alloc);
    if (resident)
        HAK_CTR_INC(large, for_huge);
    return (void *)(r->base + (uintptr_t)u * AU);
}

/* u is the start of an allocated run of r, or p is reported (lock held on
 * return only when true). */
static bool check_block(struct arena_region *r, void *p, uint32_t *u, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    *u = (uint32_t)((a - r->base) >> AU_SHIFT);
    hak_lock(&arena_lock);
    if ((a & (AU - 1)) == 0 && TAG_STATE(r->start[*u]) == RUN_ALLOC)
        return true;
    /* A unit boundary inside free memory is most likely a block freed
     * before; anything else was never a block start. */
    bool freed = (a & (AU - 1)) == 0 && TAG_STATE(r->start[run_of(r, *u)]) != RUN_ALLOC;
    hak_unlock(&arena_lock);
    if (freed) {
        HAK_CTR_INC(early_return, double_free);
        _hak_report(fn, "double free", p);
    } else {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
    }
    return false;
}

void _hak_arena_free(struct arena_region *r, void *p, const char *fn)
{
    uint32_t u;
    if (arena_broken || !check_block(r, p, &u, fn))
        return;
    uint64_t now = _hak_os_now_ns();
    uint32_t len = TAG_LEN(r->start[u]);
    account(RUN_ALLOC, -(int64_t)len);
    set_run(r, u, len, RUN_DIRTY);
    account(RUN_DIRTY, len);
    u = coalesce(r, u, now);
    if (as_limited && region_release_if_empty(r)) {
        hak_unlock(&arena_lock);
        HAK_CTR_INC(free, arena);
        return;
    }
    /* Free memory within what recent demand explains waits for the decay
     * pass; a free purges only with no delay, or beyond that size — the
     * oldest runs first, so the run just freed, likeliest to be reused, is
     * purged last. */
    struct purge_list l = { 0 };
    if (!take_excess(&l, now))
        purge_take(&l, r, u);
    hak_unlock(&arena_lock);
    HAK_CTR_INC(free, arena);
    if (l.n)
        purge_send(&l);
    else
        _hak_purge_kick();
}

void _hak_arena_demand_fell(void)
{
    struct purge_list l = { 0 };
    if (arena_broken)
        return;
    uint64_t now = _hak_os_now_ns();
    hak_lock(&arena_lock);
    take_excess(&l, now);
    hak_unlock(&arena_lock);
    purge_send(&l);
}

size_t _hak_arena_usable(struct arena_region *r, void *p, const char *fn)
{
    uint32_t u;
    if (arena_broken) /* what realloc may copy: no further than the region */
        return (size_t)(r->base + (uintptr_t)r->units * AU - (uintptr_t)p);
    if (!check_block(r, p, &u, fn))
        return 0;
    size_t n = (size_t)TAG_LEN(r->start[u]) * AU;
    hak_unlock(&arena_lock);
    return n;
}

bool _hak_arena_resize(struct arena_region *r, void *p, size_t n)
{
    uint32_t u;
    if (arena_broken || !check_block(r, p, &u, "realloc"))
        return false;
    uint32_t want = (uint32_t)((n + AU - 1) >> AU_SHIFT), len = TAG_LEN(r->start[u]);
    bool ok = true;
    if (want < len) { /* shrink: the tail becomes a free run */
        clear_run(r, u, len);
        set_run(r, u, want, RUN_ALLOC);
        set_run(r, u + want, len - want, RUN_DIRTY);
        account(RUN_ALLOC, -(int64_t)(len - want));
        account(RUN_DIRTY, len - want);
        coalesce(r, u + want, _hak_os_now_ns());
    } else if (want > len) { /* grow into the free runs that follow */
        uint32_t v = u + len, have = 0;
        while (v + have < r->units && have < want - len && IS_FREE(TAG_STATE(r->start[v + have])))
            have += TAG_LEN(r->start[v + have]);
        if (have < want - len) {
            ok = false;
        } else {
            carve(r, v, want - len); /* now a run of its own, joined to p's below */
            clear_run(r, v, want - len);
            clear_run(r, u, len);
            set_run(r, u, want, RUN_ALLOC);
        }
    }
    hak_unlock(&arena_lock);
    if (ok && want != len)
        HAK_CTR_INC(large, resize_inplace);
    if (ok && want < len)
        _hak_purge_kick(); /* the cut tail decays like any freed run */
    return ok;
}

void _hak_arena_totals(size_t *reserved, size_t *used, size_t *dirty)
{
    hak_lock(&arena_lock);
    *reserved = reserved_units * AU;
    *used = used_units * AU;
    *dirty = dirty_units * AU;
    hak_unlock(&arena_lock);
}

void _hak_arena_fork_child(void)
{
    /* A run split or merge cut in half cannot be repaired: stop using the
     * arena (large requests then get mappings of their own). */
    if (hak_lock_torn(&arena_lock))
        arena_broken = true;
}
