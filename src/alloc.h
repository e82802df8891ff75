/* alloc.h — malloc and free dispatched by size tier: the tiny and mid tiers
 * inline (a TLS list pop or push), one call to the out-of-line path for
 * everything else (large, huge, sampled sizes, misuse, first use). */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "policy/policy.h"
#include "tiny/tiny.h"

void *_hak_malloc_slow(size_t n, uintptr_t site);
void _hak_free_slow(void *p, const char *fn);
void *_hak_calloc(size_t count, size_t size, uintptr_t site);
void *_hak_realloc(void *p, size_t n, uintptr_t site, const char *fn);
void *_hak_memalign(size_t align, size_t n, uintptr_t site);
int _hak_posix_memalign(void **out, size_t align, size_t n, uintptr_t site);
size_t _hak_usable_size(void *p, const char *fn);
/* Gives cached and resident free memory back (malloc_trim); 1 if any. */
int _hak_trim(void);

/* malloc's inline path: a pop of the TLS list of n's class, for every size
 * the slabs serve below those the learning samples (those stay on the slow
 * path, which counts them); NULL: take the slow path. The lists stay empty
 * until a thread's heap exists, so the first call of each thread (and of
 * the process) falls through to the slow path, which sets things up; a mid
 * size reads its list before the settings, so a thread without a heap
 * never reads them while another thread's start-up writes them. The
 * learning's bound is read atomically: mallopt changes it at run time. */
hak_inline void *hak_alloc_fast(size_t n)
{
    if (hak_likely(n <= HAK_CLASS_TABLE_MAX))
        return tiny_alloc_fast(n);
    if (n > HAK_CLASS_MAX_SIZE)
        return NULL;
    unsigned c = _hak_class_mid[(n - 1) >> 8];
    if (!_hak_thread.tiny.head[c] || n > _hak_mid_max
        || n >= __atomic_load_n(&_hak_policy_min_size, __ATOMIC_RELAXED))
        return NULL;
    return tiny_alloc_class_fast(c);
}

hak_inline void *hak_malloc_inline(size_t n, uintptr_t site)
{
    void *b = hak_alloc_fast(n);
    if (hak_likely(b != NULL))
        return b;
    return _hak_malloc_slow(n, site);
}

hak_inline void hak_free_inline(void *p, const char *fn)
{
    if (hak_likely(tiny_free_fast(p, fn)))
        return;
    _hak_free_slow(p, fn);
}

#endif
