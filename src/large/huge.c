/* huge.c — one mapping per huge block, registered chunk by chunk in the
 * chunk map so that free finds the header in O(1) and catches interior
 * pointers and double frees. */
#include "huge.h"
#include "../chunkmap.h"
#include "../counters.h"
#include "../meta.h"
#include "../os.h"
#include "../report.h"
#include <errno.h>

static _Atomic size_t live_count, live_bytes;

void *_hak_huge_alloc(size_t n, size_t align, uintptr_t site)
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
        HAK_CTR_INC(early_return, oom);
        errno = ENOMEM;
        return NULL;
    }
    void *p = _hak_os_map_aligned(map_size, align);
    if (!p || _hak_chunk_set((uintptr_t)p, map_size, HAK_CHUNK_HUGE | (uintptr_t)h) != 0) {
        if (p)
            _hak_os_unmap(p, map_size);
        _hak_meta_free(h, sizeof *h);
        HAK_CTR_INC(early_return, oom);
        errno = ENOMEM;
        return NULL;
    }
    h->user = p;
    h->size = n;
    h->map_size = map_size;
    h->site = site;
    atomic_store_explicit(&h->state, HUGE_LIVE, memory_order_release);
    atomic_fetch_add_explicit(&live_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&live_bytes, map_size, memory_order_relaxed);
    HAK_CTR_INC(huge, alloc);
    HAK_CTR_ADD(huge, alloc_bytes, n);
    return p;
}

void _hak_huge_free(struct huge_hdr *h, void *p, const char *fn)
{
    if (h->user != p) {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
        return;
    }
    int expected = HUGE_LIVE;
    if (!atomic_compare_exchange_strong(&h->state, &expected, HUGE_FREED)) {
        HAK_CTR_INC(early_return, double_free);
        _hak_report(fn, "double free", p);
        return;
    }
    size_t map_size = h->map_size;
    /* Unregister before unmapping: once the range is back with the kernel a
     * new mapping of ours may land there and register itself. */
    _hak_chunk_set((uintptr_t)p, map_size, HAK_CHUNK_HUGE_FREED);
    _hak_os_unmap(p, map_size);
    _hak_meta_free(h, sizeof *h);
    atomic_fetch_sub_explicit(&live_count, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&live_bytes, map_size, memory_order_relaxed);
    HAK_CTR_INC(free, huge);
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
    if (h->user != p || atomic_load(&h->state) != HUGE_LIVE) {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
        return 0;
    }
    return hak_align_up(h->size ? h->size : 1, HAK_PAGE_SIZE);
}

void _hak_huge_totals(size_t *count, size_t *bytes)
{
    *count = atomic_load_explicit(&live_count, memory_order_relaxed);
    *bytes = atomic_load_explicit(&live_bytes, memory_order_relaxed);
}
