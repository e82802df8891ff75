/* override.c — the standard allocation functions and the glibc aliases that
 * programs reach (SPEC §2), exported when libhakmem replaces malloc. */
#include "alloc.h"
#include "counters.h"
#include "vg.h"
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#if HAK_OVERRIDE

#define CALLER ((uintptr_t)__builtin_return_address(0))
#if defined(__clang__)
#define ALIAS(fn) __attribute__((alias(#fn), visibility("default")))
#else /* copy(): the alias gets the target's attributes (nothrow, malloc, …) */
#define ALIAS(fn) __attribute__((alias(#fn), copy(fn), visibility("default")))
#endif

/* The HAK_VG_ lines are the valgrind hooks (vg.h): nothing without
 * --enable-valgrind. */

/* C23 names that glibc 2.36's headers do not declare yet. */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
void cfree(void *p);

hak_export void *malloc(size_t n)
{
    HAK_VG_ALLOC(hak_malloc_inline(n, CALLER), n, false);
    return hak_malloc_inline(n, CALLER);
}

hak_export void free(void *p)
{
    HAK_VG_FREE(hak_free_inline(p, "free"), p);
    hak_free_inline(p, "free");
}

hak_export void *calloc(size_t count, size_t size)
{
    HAK_VG_ALLOC(_hak_calloc(count, size, CALLER), count * size, true);
    return _hak_calloc(count, size, CALLER);
}

hak_export void *realloc(void *p, size_t n)
{
    HAK_VG_REALLOC(p, n, CALLER, "realloc");
    return _hak_realloc(p, n, CALLER, "realloc");
}

hak_export void *reallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    HAK_VG_REALLOC(p, n, CALLER, "reallocarray");
    return _hak_realloc(p, n, CALLER, "reallocarray");
}

hak_export int posix_memalign(void **out, size_t align, size_t n)
{
    HAK_VG_MEMALIGN(_hak_posix_memalign(out, align, n, CALLER), out, n);
    return _hak_posix_memalign(out, align, n, CALLER);
}

hak_export void *aligned_alloc(size_t align, size_t n)
{
    if (!hak_is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    HAK_VG_ALLOC(_hak_memalign(align, n, CALLER), n, false);
    return _hak_memalign(align, n, CALLER);
}

/* glibc rounds a non-power-of-two alignment up to the next power of two. */
hak_export void *memalign(size_t align, size_t n)
{
    if (align > (SIZE_MAX >> 1) + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!hak_is_pow2(align))
        align = align < 2 ? 1 : (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
    HAK_VG_ALLOC(_hak_memalign(align, n, CALLER), n, false);
    return _hak_memalign(align, n, CALLER);
}

hak_export void *valloc(size_t n)
{
    HAK_VG_ALLOC(_hak_memalign(HAK_PAGE_SIZE, n, CALLER), n, false);
    return _hak_memalign(HAK_PAGE_SIZE, n, CALLER);
}

hak_export void *pvalloc(size_t n)
{
    /* Overflow is checked before rounding, so SIZE_MAX cannot wrap to 0. */
    if (n > PTRDIFF_MAX) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    n = n ? hak_align_up(n, HAK_PAGE_SIZE) : HAK_PAGE_SIZE;
    HAK_VG_ALLOC(_hak_memalign(HAK_PAGE_SIZE, n, CALLER), n, false);
    return _hak_memalign(HAK_PAGE_SIZE, n, CALLER);
}

hak_export size_t malloc_usable_size(void *p)
{
    HAK_VG_VALUE(size_t, _hak_usable_size(p, "malloc_usable_size"));
    return _hak_usable_size(p, "malloc_usable_size");
}

hak_export void free_sized(void *p, size_t n)
{
    (void)n;
    HAK_VG_FREE(hak_free_inline(p, "free_sized"), p);
    hak_free_inline(p, "free_sized");
}

hak_export void free_aligned_sized(void *p, size_t align, size_t n)
{
    (void)align;
    (void)n;
    HAK_VG_FREE(hak_free_inline(p, "free_aligned_sized"), p);
    hak_free_inline(p, "free_aligned_sized");
}

void cfree(void *p) ALIAS(free);
void *__libc_malloc(size_t n) ALIAS(malloc);
void __libc_free(void *p) ALIAS(free);
void *__libc_calloc(size_t count, size_t size) ALIAS(calloc);
void *__libc_realloc(void *p, size_t n) ALIAS(realloc);
void *__libc_memalign(size_t align, size_t n) ALIAS(memalign);
void *__libc_valloc(size_t n) ALIAS(valloc);
void *__libc_pvalloc(size_t n) ALIAS(pvalloc);
int __posix_memalign(void **out, size_t align, size_t n) ALIAS(posix_memalign);

#endif
