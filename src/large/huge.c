/* huge.c — one mapping per huge block, registered chunk by chunk in the
 * chunk map so that free finds the header in O(1) and catches interior
 * pointers and double frees; BigCache in front, the madvise batch behind. */
#include "huge.h"
#include "bigcache.h"
#include "../purge.h"
#include "../chunkmap.h"
#include "../counters.h"
#include "../meta.h"
#include "../options.h"
#include "../os.h"
#include "../report.h"
#include <errno.h>

static _Atomic size_t live_count, live_bytes;
static _Atomic size_t peak_count, peak_bytes; /* high-water marks (malloc_stats) */

static void raise_peak(_Atomic size_t *peak, size_t now)
{
    size_t p = atomic_load_explicit(peak, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak_explicit(peak, &p, now, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* The block goes back to the OS: its chunks are marked freed first (a new
 * mapping landing there later registers itself), then the unmap is queued. */
static void huge_release(struct huge_hdr *h)
{
    void *p = h->user;
    size_t map_size = h->map_size;
    atomic_store_explicit(&h->state, HUGE_FREED, memory_order_release);
    _hak_chunk_set((uintptr_t)p, map_size, HAK_CHUNK_HUGE_FREED);
    _hak_meta_free(h, sizeof *h);
    _hak_purge_queue(p, map_size, true, NULL, NULL);
    HAK_CTR_INC(free, huge);
}

/* BigCache's cut: the chunks after keep become a cached block of their own. */
static struct huge_hdr *huge_split(struct huge_hdr *h, size_t keep)
{
    struct huge_hdr *t = _hak_meta_alloc(sizeof *t);
    if (!t)
        return NULL;
    t->user = (char *)h->user + keep;
    t->map_size = h->map_size - keep;
    t->site = h->site;
    atomic_init(&t->state, HUGE_CACHED);
    if (_hak_chunk_set((uintptr_t)t->user, t->map_size, HAK_CHUNK_HUGE | (uintptr_t)t) != 0) {
        _hak_meta_free(t, sizeof *t);
        return NULL;
    }
    h->map_size = keep;
    return t;
}

/* BigCache's join: both cached, b right after a (possibly another mapping:
 * munmap and madvise take ranges across mappings). */
static void huge_join(struct huge_hdr *a, struct huge_hdr *b)
{
    _hak_chunk_set((uintptr_t)b->user, b->map_size, HAK_CHUNK_HUGE | (uintptr_t)a);
    a->map_size += b->map_size;
    _hak_meta_free(b, sizeof *b);
}

static const struct bigcache_ops cache_ops = { huge_release, huge_split, huge_join };

void _hak_huge_init(void) { _hak_bigcache_init(&cache_ops); }

/* p is not h's start: a chunk start inside a cached block was a block of
 * its own before BigCache joined it to its neighbour, so freeing it is a
 * double free; anything else was never handed out. */
static void report_not_start(struct huge_hdr *h, void *p, const char *fn)
{
    if (((uintptr_t)p & HAK_CHUNK_MASK) == 0 && atomic_load(&h->state) == HUGE_CACHED) {
        HAK_CTR_INC(early_return, double_free);
        _hak_report(fn, "double free", p);
    } else {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
    }
}

static void *reuse(struct huge_hdr *h, size_t n, uintptr_t site)
{
    h->size = n;
    h->site = site;
    atomic_store_explicit(&h->state, HUGE_LIVE, memory_order_release);
    raise_peak(&peak_count, atomic_fetch_add_explicit(&live_count, 1, memory_order_relaxed) + 1);
    raise_peak(&peak_bytes, atomic_fetch_add_explicit(&live_bytes, h->map_size, memory_order_relaxed) + h->map_size);
    HAK_CTR_INC(huge, alloc);
    HAK_CTR_ADD(huge, alloc_bytes, n);
    return h->user;
}

void *_hak_huge_reuse(size_t n, size_t align, uintptr_t site)
{
    if (align > HAK_CHUNK_SIZE || !HAK_OPT(bigcache_enabled))
        return NULL;
    struct huge_hdr *h = _hak_bigcache_get(n, site);
    return h ? reuse(h, n, site) : NULL;
}

void *_hak_huge_map(size_t n, size_t align, uintptr_t site)
{
    if (n > PTRDIFF_MAX - HAK_CHUNK_SIZE || align > (SIZE_MAX >> 2)) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    size_t map_size = hak_align_up(n ? n : 1, HAK_CHUNK_SIZE);
    if (align < HAK_CHUNK_SIZE)
        align = HAK_CHUNK_SIZE;
    struct huge_hdr *h = _hak_meta_alloc(sizeof *h);
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = _hak_os_map_aligned(map_size, align);
    if (!p && _hak_bigcache_trim() > 0) {
        /* Out of address space (RLIMIT_AS) while BigCache holds some:
         * give the cached blocks back at once and try again. */
        _hak_purge_flush();
        p = _hak_os_map_aligned(map_size, align);
    }
    if (!p || _hak_chunk_set((uintptr_t)p, map_size, HAK_CHUNK_HUGE | (uintptr_t)h) != 0) {
        if (p)
            _hak_os_unmap(p, map_size);
        _hak_meta_free(h, sizeof *h);
        errno = ENOMEM;
        return NULL;
    }
    /* Whole 2 MiB pages where the block fills them: one fault and one TLB
     * entry each instead of 512; the partial last chunk keeps small pages,
     * so touching its head does not make all of it resident. */
    _hak_purge_hugepages(p, n & ~HAK_CHUNK_MASK);
    h->user = p;
    h->map_size = map_size;
    return reuse(h, n, site);
}

void _hak_huge_free(struct huge_hdr *h, void *p, const char *fn)
{
    if (h->user != p) {
        report_not_start(h, p, fn);
        return;
    }
    int expected = HUGE_LIVE;
    if (!atomic_compare_exchange_strong(&h->state, &expected, HUGE_CACHED)) {
        HAK_CTR_INC(early_return, double_free);
        _hak_report(fn, "double free", p);
        return;
    }
    atomic_fetch_sub_explicit(&live_count, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&live_bytes, h->map_size, memory_order_relaxed);
    if (HAK_OPT(bigcache_enabled) && _hak_bigcache_put(h)) {
        HAK_CTR_INC(free, bigcache_put);
        return;
    }
    huge_release(h);
}

bool _hak_huge_resize(struct huge_hdr *h, size_t n)
{
    if (n > h->map_size)
        return false;
    size_t keep = hak_align_up(n, HAK_CHUNK_SIZE);
    if (keep < h->map_size) {
        uintptr_t tail = (uintptr_t)h->user + keep;
        size_t cut = h->map_size - keep;
        _hak_chunk_set(tail, cut, HAK_CHUNK_NONE);
        _hak_os_unmap((void *)tail, cut);
        h->map_size = keep;
        atomic_fetch_sub_explicit(&live_bytes, cut, memory_order_relaxed);
    }
    h->size = n;
    return true;
}

size_t _hak_huge_usable(struct huge_hdr *h, void *p, const char *fn)
{
    if (h->user != p) {
        report_not_start(h, p, fn);
        return 0;
    }
    if (atomic_load(&h->state) != HUGE_LIVE) { /* freed: as the arena says */
        HAK_CTR_INC(early_return, double_free);
        _hak_report(fn, "double free", p);
        return 0;
    }
    return hak_align_up(h->size ? h->size : 1, HAK_PAGE_SIZE);
}

void _hak_huge_totals(size_t *count, size_t *bytes)
{
    *count = atomic_load_explicit(&live_count, memory_order_relaxed);
    *bytes = atomic_load_explicit(&live_bytes, memory_order_relaxed);
}

void _hak_huge_peaks(size_t *count, size_t *bytes)
{
    *count = atomic_load_explicit(&peak_count, memory_order_relaxed);
    *bytes = atomic_load_explicit(&peak_bytes, memory_order_relaxed);
}
