/* override.c — the standard allocation functions and the glibc aliases that
 * programs reach (SPEC §2), exported when libhakmem replaces malloc. */
#include "entry.h"
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#if HAK_OVERRIDE

#if defined(__clang__)
#define ALIAS(fn) __attribute__((alias(#fn), visibility("default")))
#else /* copy(): the alias gets the target's attributes (nothrow, malloc, …) */
#define ALIAS(fn) __attribute__((alias(#fn), copy(fn), visibility("default")))
#endif

/* C23 names that glibc 2.36's headers do not declare yet. */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
void cfree(void *p);

/* The allocation functions of entry.def under their standard names. */
#define HAK_ENTRY_BOTH(...) HAK_ENTRY_DEFINE(, __VA_ARGS__)
#define HAK_ENTRY_HAK(...)
#define HAK_ENTRY_STD(...) HAK_ENTRY_DEFINE(, __VA_ARGS__)
#include "entry.def"

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
