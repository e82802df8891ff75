/* alloc.h — malloc and free dispatched by size tier: the tiny tier inline
 * (one predictable branch each), one call to the out-of-line path for
 * everything else (mid, large, huge, misuse, first use). */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

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

/* Sizes the class table covers pop their TLS list inline; the lists stay
 * empty until a thread's heap exists, so the first call of each thread (and
 * of the process) falls through to the slow path, which sets things up. */
hak_inline void *hak_malloc_inline(size_t n, uintptr_t site)
{
    if (hak_likely(n <= HAK_CLASS_TABLE_MAX)) {
        void *b = tiny_alloc_fast(n);
        if (hak_likely(b != NULL))
            return b;
    }
    return _hak_malloc_slow(n, site);
}

hak_inline void hak_free_inline(void *p, const char *fn)
{
    if (hak_likely(tiny_free_fast(p, fn)))
        return;
    _hak_free_slow(p, fn);
}

#endif
