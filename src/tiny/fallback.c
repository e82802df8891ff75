/* fallback.c — the slab source of tiny.use_superslab = false: every slab is
 * its own 64 KiB-aligned mapping with no SuperSlab around it, found on free
 * through a per-chunk unit table. The baseline that shows what grouping slabs
 * into SuperSlabs is worth (SPEC §5.1). Empty slabs are kept for reuse as
 * empty SuperSlabs are (up to tiny.ss_cache × 2 MiB, unmapped once unused
 * for madvise.delay), so the comparison is of grouping, not of caching. */
#include "engine.h"
#include "../chunkmap.h"
#include "../counters.h"
#include "../purge.h"
#include "../lock.h"
#include "../meta.h"
#include "../options.h"
#include "../os.h"

/* An empty slab's mapping while it waits in the cache, described in its own
 * first bytes (unpublished: no block of it is live). */
struct fb_span {
    struct fb_span *next;
    size_t bytes;
    uint64_t cached_at;
};

static HAK_LOCK_DEFINE(cache_lock, HAK_RANK_FB_CACHE);
static struct fb_span *cache_head;
static size_t cache_bytes;

/* The unit records of a's chunk, created on first use and never freed: a
 * chunk that held fallback slabs keeps its 4 KiB of records. */
static struct tiny_chunk *chunk_for(uintptr_t a)
{
    for (;;) {
        uint64_t e = hak_chunk_get(a);
        if (HAK_CHUNK_KIND(e) == HAK_CHUNK_SLAB)
            return HAK_CHUNK_PTR(e);
        struct tiny_chunk *c = _hak_meta_alloc(sizeof *c);
        if (!c)
            return NULL;
        if (_hak_chunk_cas(a, &e, HAK_CHUNK_SLAB | (uintptr_t)c))
            return c;
        _hak_meta_free(c, sizeof *c);
    }
}

static size_t span_align(unsigned units)
{
    /* Aligned to the span's power-of-two size, a span never crosses a chunk. */
    size_t a = HAK_UNIT_SIZE;
    while (a < units * HAK_UNIT_SIZE)
        a <<= 1;
    return a;
}

static void span_unmap(void *p, size_t bytes)
{
    _hak_os_unmap(p, bytes);
    HAK_GCTR_ADD(tiny, fallback_unmap, 1);
}

/* A cached span of exactly this size (its alignment follows), or NULL. */
static void *cache_take(size_t bytes)
{
    if (!HAK_PEEK(cache_head))
        return NULL;
    hak_lock(&cache_lock);
    struct fb_span **pp = &cache_head;
    while (*pp && (*pp)->bytes != bytes)
        pp = &(*pp)->next;
    struct fb_span *sp = *pp;
    if (sp) {
        HAK_POKE(*pp, sp->next);
        HAK_POKE(cache_bytes, cache_bytes - bytes);
    }
    hak_unlock(&cache_lock);
    return sp;
}

struct tiny_slab *_hak_fb_slab_new(struct tiny_heap *h, unsigned cls, unsigned units)
{
    size_t bytes = units * HAK_UNIT_SIZE;
    void *p = cache_take(bytes);
    if (p) {
        HAK_GCTR_ADD(tiny, fallback_reuse, 1);
        return _hak_tiny_slab_setup(chunk_for((uintptr_t)p), (uintptr_t)p, cls, units, h, NULL);
    }
    p = _hak_os_map_aligned(bytes, span_align(units));
    if (!p && _hak_fb_trim() > 0) /* out of address space: the cache goes first */
        p = _hak_os_map_aligned(bytes, span_align(units));
    if (!p)
        return NULL;
    struct tiny_chunk *c = chunk_for((uintptr_t)p);
    if (!c) {
        _hak_os_unmap(p, bytes);
        return NULL;
    }
    HAK_GCTR_ADD(tiny, fallback_map, 1);
    return _hak_tiny_slab_setup(c, (uintptr_t)p, cls, units, h, NULL);
}

void _hak_fb_slab_release(struct tiny_slab *s)
{
    struct fb_span *sp = (struct fb_span *)s->data;
    size_t bytes = tiny_slab_span(s);
    _hak_tiny_slab_unpublish(s);
    *sp = (struct fb_span){ .bytes = bytes, .cached_at = _hak_os_now_ns() };
    hak_lock(&cache_lock);
    bool kept = cache_bytes + bytes <= (size_t)HAK_OPT(tiny_ss_cache) * HAK_CHUNK_SIZE;
    if (kept) {
        sp->next = cache_head;
        HAK_POKE(cache_head, sp);
        HAK_POKE(cache_bytes, cache_bytes + bytes);
    }
    hak_unlock(&cache_lock);
    if (kept)
        _hak_purge_kick();
    else
        span_unmap(sp, bytes);
}

/* Unmaps the cached spans that match: all (trim) or those unused since
 * before `older` ns; returns the bytes and sets *next to the next due time. */
static size_t cache_drop(uint64_t older, uint64_t delay, uint64_t *next)
{
    struct fb_span *due = NULL;
    hak_lock(&cache_lock);
    for (struct fb_span **pp = &cache_head; *pp;) {
        struct fb_span *sp = *pp;
        if (sp->cached_at < older) {
            HAK_POKE(*pp, sp->next);
            HAK_POKE(cache_bytes, cache_bytes - sp->bytes);
            sp->next = due;
            due = sp;
        } else {
            if (!*next || sp->cached_at + delay < *next)
                *next = sp->cached_at + delay;
            pp = &sp->next;
        }
    }
    hak_unlock(&cache_lock);
    size_t bytes = 0;
    while (due) {
        struct fb_span *sp = due;
        due = sp->next;
        bytes += sp->bytes;
        span_unmap(sp, sp->bytes);
    }
    return bytes;
}

uint64_t _hak_fb_decay(uint64_t now)
{
    uint64_t delay = _hak_purge_delay_ns(), next = 0;
    cache_drop(now >= delay ? now - delay + 1 : 0, delay, &next);
    return next;
}

size_t _hak_fb_trim(void)
{
    uint64_t next = 0;
    return cache_drop(UINT64_MAX, 0, &next);
}

size_t _hak_fb_cached_bytes(void) { return HAK_PEEK(cache_bytes); }

void _hak_fb_fork_child(void)
{
    /* A list torn by a critical section the fork cut short is dropped: its
     * spans are leaked in the child, never handed out twice. */
    if (hak_lock_torn(&cache_lock)) {
        cache_head = NULL;
        cache_bytes = 0;
    }
}
