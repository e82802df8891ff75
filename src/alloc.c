/* alloc.c — the out-of-line allocation paths: first use, the mid and huge
 * tiers, calloc, realloc, aligned allocation, usable size and every misuse
 * check of free (SPEC §2). */
#include "alloc.h"
#include "check.h"
#include "counters.h"
#include "init.h"
#include "large/arena.h"
#include "large/bigcache.h"
#include "large/huge.h"
#include "options.h"
#include "policy/policy.h"
#include "purge.h"
#include "report.h"
#include "thread.h"
#include <errno.h>
#include <string.h>

/* Requests made during initialisation itself (see init.c). */
static void *bootstrap_alloc(size_t n, size_t align)
{
    HAK_CTR_INC(early_return, init_reentry);
    void *p = _hak_bootstrap_alloc(n, align);
    if (!p)
        errno = ENOMEM;
    return p;
}

/* Usable bytes of a large or huge block, or 0 (and a report) if p is not
 * one that is live. */
static size_t large_usable(void *p, uint64_t e, const char *fn)
{
    if (HAK_CHUNK_KIND(e) == HAK_CHUNK_HUGE)
        return _hak_huge_usable(HAK_CHUNK_PTR(e), p, fn);
    return _hak_arena_usable(HAK_CHUNK_PTR(e), p, fn);
}

/* Check mode's view of a large or huge block: the size requested, or 0 if
 * p is not a live block or its canary was overwritten (reported). */
static size_t large_checked(void *p, uint64_t e, const char *fn)
{
    size_t end = large_usable(p, e, fn);
    if (!end)
        return 0;
    size_t n = _hak_check_size(p, end);
    if (n == SIZE_MAX) {
        _hak_check_report(fn, "buffer overflow", p, 0, end);
        return 0;
    }
    return n;
}

/* A block of n bytes above the slab classes (or aligned beyond them): from
 * the arena below the mmap threshold; at or above it from BigCache, else,
 * while ELO learns the threshold, from a free arena run still resident (the
 * threshold moves, and blocks freed below it serve requests above it
 * without a system call or a fault), else a mapping of its own — as when
 * the arena cannot grow. A fixed threshold (ELO off or frozen, mallopt's
 * M_MMAP_THRESHOLD) means a mapping. In check mode the block has room for
 * the tail after n bytes, armed up to its usable end. */
static void *large_alloc(size_t n, size_t align, uintptr_t site, bool *zeroed)
{
    size_t m = n;
    if (hak_unlikely(_hak_check_on)) {
        n += n == 0; /* (memalign of 0 bytes) a usable size of 0 reads as "not ours" */
        m = n + HAK_CHECK_PAD;
    }
    bool arena = align <= HAK_UNIT_SIZE && n > _hak_mid_max; /* runs start on 64 KiB */
    void *p = NULL;
    *zeroed = false;
    if (arena && n < hak_mmap_threshold())
        p = _hak_arena_alloc(m, false, zeroed);
    else if (!(p = _hak_huge_reuse(m, align, site)) && arena && hak_policy_learning())
        p = _hak_arena_alloc(m, true, zeroed);
    /* Out of address space (RLIMIT_AS) while the arena keeps free runs
     * resident for reuse: purged, its empty regions are unmapped; once
     * more. */
    for (bool again = false; !p; again = true) {
        if ((p = _hak_huge_map(m, align, site)) != NULL)
            *zeroed = true;
        else if (again || !_hak_arena_trim())
            break;
        else
            _hak_purge_flush();
    }
    if (p && hak_unlikely(_hak_check_on))
        _hak_check_arm(p, large_usable(p, hak_chunk_get((uintptr_t)p), "malloc"), n);
    return p;
}

/* *zeroed: whether the block reads as zero (fresh or purged memory). */
static void *alloc_tier(size_t n, uintptr_t site, bool *zeroed)
{
    void *p;
    *zeroed = false;
    hak_policy_sample(&_hak_thread.pol, n);
    if (n <= _hak_mid_max)
        p = _hak_tiny_alloc(hak_size_class(n), n, 0);
    else
        p = large_alloc(n, 0, site, zeroed);
    if (hak_unlikely(!p))
        HAK_CTR_INC(early_return, oom);
    return p;
}

/* A request of *n bytes after start-up: zero bytes are served as one (*n
 * becomes 1), more than PTRDIFF_MAX fail with ENOMEM. */
static void *alloc_request(size_t *n, uintptr_t site, bool *zeroed)
{
    if (*n == 0) {
        HAK_CTR_INC(early_return, zero_size);
        *n = 1;
    } else if (hak_unlikely(*n > PTRDIFF_MAX)) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    return alloc_tier(*n, site, zeroed);
}

void *_hak_malloc_slow(size_t n, uintptr_t site)
{
    if (hak_unlikely(!hak_ready()))
        return bootstrap_alloc(n, 16);
    bool zeroed;
    void *p = alloc_request(&n, site, &zeroed);
    _hak_purge_start_pending(); /* a kick by an earlier slab free starts here */
    return p;
}

/* The chunk map entry e of p says what p is; anything not ours is reported
 * without touching p's memory. p is not NULL: tiny_free_fast ends those. */
static void free_slow(void *p, uint64_t e, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    switch (HAK_CHUNK_KIND(e)) {
    case HAK_CHUNK_SLAB: {
        struct tiny_slab *s = tiny_slab_at(e, a);
        if (s) {
            _hak_tiny_free_slow(p, s, fn);
            return;
        }
        break;
    }
    case HAK_CHUNK_HUGE:
    case HAK_CHUNK_ARENA:
        if (hak_unlikely(_hak_check_on) && !large_checked(p, e, fn))
            return; /* reported; an overflowed block is leaked */
        if (HAK_CHUNK_KIND(e) == HAK_CHUNK_HUGE) {
            _hak_huge_free(HAK_CHUNK_PTR(e), p, fn);
            _hak_arena_demand_fell();
        } else {
            _hak_arena_free(HAK_CHUNK_PTR(e), p, fn);
        }
        return;
    case HAK_CHUNK_HUGE_FREED:
        if ((a & HAK_CHUNK_MASK) == 0) {
            HAK_CTR_INC(early_return, double_free);
            _hak_report(fn, "double free", p);
            return;
        }
        break;
    default:
        if (_hak_bootstrap_owns(p))
            return; /* the bootstrap area is never reused */
        break;
    }
    HAK_CTR_INC(early_return, invalid_ptr);
    _hak_report(fn, "invalid pointer", p);
}

void _hak_free_slow(void *p, const char *fn)
{
    /* Not after a slab block: glibc frees the loader's DTVs and TLS blocks
     * while it holds its stack-cache lock, which pthread_create takes, so
     * starting the purger there deadlocks (tests/integration/dlopen_tls). */
    uint64_t e = hak_chunk_get((uintptr_t)p); /* the one lookup of the slow path */
    bool large = HAK_CHUNK_KIND(e) > HAK_CHUNK_SLAB;
    free_slow(p, e, fn);
    if (large)
        _hak_purge_start_pending(); /* the free is complete: a purger may start */
}

size_t _hak_usable_size(void *p, const char *fn)
{
    if (!p)
        return 0;
    uintptr_t a = (uintptr_t)p;
    uint64_t e = hak_chunk_get(a);
    if (HAK_CHUNK_KIND(e) == HAK_CHUNK_SLAB) {
        struct tiny_slab *s = tiny_slab_at(e, a);
        if (s)
            return _hak_tiny_usable(p, s, fn);
    } else if (HAK_CHUNK_KIND(e) == HAK_CHUNK_HUGE || HAK_CHUNK_KIND(e) == HAK_CHUNK_ARENA) {
        return hak_unlikely(_hak_check_on) ? large_checked(p, e, fn) : large_usable(p, e, fn);
    } else if (_hak_bootstrap_owns(p)) {
        return _hak_bootstrap_size(p);
    } else if (HAK_CHUNK_KIND(e) == HAK_CHUNK_HUGE_FREED && (a & HAK_CHUNK_MASK) == 0) {
        HAK_CTR_INC(early_return, double_free); /* as free_slow */
        _hak_report(fn, "double free", p);
        return 0;
    }
    HAK_CTR_INC(early_return, invalid_ptr);
    _hak_report(fn, "invalid pointer", p);
    return 0;
}

void *_hak_calloc(size_t count, size_t size, uintptr_t site)
{
    size_t n;
    if (hak_unlikely(__builtin_mul_overflow(count, size, &n))) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    void *p = hak_alloc_fast(n);
    if (p)
        return memset(p, 0, n);
    if (hak_unlikely(!hak_ready()))
        return bootstrap_alloc(n, 16); /* static area: zero, never reused */
    bool zeroed;
    p = alloc_request(&n, site, &zeroed);
    if (p && !zeroed) /* fresh or purged memory is zero already */
        memset(p, 0, n);
    return p;
}

void *_hak_realloc(void *p, size_t n, uintptr_t site, const char *fn)
{
    if (!p)
        return hak_malloc_inline(n, site);
    if (n == 0 && HAK_OPT(realloc_zero) == HAK_REALLOC_ZERO_FREE) {
        hak_free_inline(p, fn);
        return NULL;
    }
    if (hak_unlikely(n > PTRDIFF_MAX)) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    size_t old = _hak_usable_size(p, fn);
    if (old == 0) { /* not ours: reported; under warn/ignore leave it be */
        errno = ENOMEM;
        return NULL;
    }
    /* In place where the block's tier allows: whole chunks for huge blocks,
     * neighbouring runs for arena blocks, the same block for slab blocks.
     * Never in check mode: the new size gets a new canary. */
    uint64_t e = hak_chunk_get((uintptr_t)p);
    bool in_place = false;
    if (hak_likely(!_hak_check_on)) {
        if (HAK_CHUNK_KIND(e) == HAK_CHUNK_HUGE)
            in_place = n >= hak_mmap_threshold() && _hak_huge_resize(HAK_CHUNK_PTR(e), n);
        else if (HAK_CHUNK_KIND(e) == HAK_CHUNK_ARENA)
            in_place = n > _hak_mid_max && n < hak_mmap_threshold() && _hak_arena_resize(HAK_CHUNK_PTR(e), p, n);
        else
            in_place = n <= old && n >= old / 2;
    }
    if (in_place)
        return p;
    void *q = hak_malloc_inline(n ? n : 1, site);
    if (!q)
        return NULL;
    memcpy(q, p, n < old ? n : old);
    hak_free_inline(p, fn);
    return q;
}

void *_hak_memalign(size_t align, size_t n, uintptr_t site)
{
    if (align <= 16) /* every block is 16-aligned: malloc's own path, inline pop first */
        return hak_malloc_inline(n, site);
    if (hak_unlikely(!hak_ready()))
        return bootstrap_alloc(n, align);
    if (hak_unlikely(n > PTRDIFF_MAX || align > PTRDIFF_MAX)) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    size_t m = n > align ? n : align;
    hak_policy_sample(&_hak_thread.pol, m);
    if (align <= HAK_UNIT_SIZE && m <= _hak_mid_max) {
        /* Power-of-two classes are naturally aligned: slabs start on 64 KiB. */
        size_t pow = (size_t)1 << (64 - __builtin_clzll((unsigned long long)(m - 1)));
        if (pow <= _hak_mid_max) {
            void *p = tiny_alloc_class(hak_size_class(pow), n, pow);
            if (!p)
                HAK_CTR_INC(early_return, oom);
            return p;
        }
    }
    bool zeroed;
    void *p = large_alloc(n, align, site, &zeroed);
    if (!p)
        HAK_CTR_INC(early_return, oom);
    return p;
}

int _hak_trim(void)
{
    if (!hak_ready())
        return 0;
    size_t bytes = _hak_tiny_trim() + _hak_arena_trim() + _hak_bigcache_trim();
    _hak_purge_flush();
    _hak_purge_start_pending();
    return bytes > 0;
}

int _hak_posix_memalign(void **out, size_t align, size_t n, uintptr_t site)
{
    if (!hak_is_pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    /* On failure errno is ENOMEM too, as glibc leaves it (its tests, and
     * programs, read either). */
    void *p = _hak_memalign(align, n, site);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
