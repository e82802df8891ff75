/* internal.h — macros and small helpers shared by every hakmem source file. */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include "build-config.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define hak_likely(x)   __builtin_expect(!!(x), 1)
#define hak_unlikely(x) __builtin_expect(!!(x), 0)
#define hak_noinline    __attribute__((noinline))
#define hak_cold        __attribute__((cold, noinline))
#define hak_inline      static inline __attribute__((always_inline))
#define hak_export      __attribute__((visibility("default")))
#define hak_unused      __attribute__((unused))
/* A function that reads, on purpose without ordering, words other threads
 * keep writing (the counters of running threads, summed while they count:
 * aligned words do not tear, so the sum is only as exact as the moment
 * allows): ThreadSanitizer does not watch its accesses. */
#define hak_racy_reads  __attribute__((no_sanitize("thread")))
/* Thread-local state must never be reached through __tls_get_addr, which may
 * call malloc: initial-exec keeps every access a %fs-relative load. */
#define hak_tls         __thread __attribute__((tls_model("initial-exec")))
/* Large zeroed arrays (kilobytes and more, touched sparsely or not at all in
 * most processes) go after every other variable (the library links with its
 * sections sorted by name): the small variables every process touches then
 * share a few pages instead of one page each between the large arrays. */
#define hak_bss_large   __attribute__((section(".bss.zz_large")))

#define HAK_KiB ((size_t)1 << 10)
#define HAK_MiB ((size_t)1 << 20)
#define HAK_GiB ((size_t)1 << 30)

/* The unit of the chunk map: SuperSlabs and huge blocks are aligned to it. */
#define HAK_CHUNK_SHIFT 21
#define HAK_CHUNK_SIZE  ((size_t)1 << HAK_CHUNK_SHIFT)
#define HAK_CHUNK_MASK  (HAK_CHUNK_SIZE - 1)
/* Slabs are made of 64 KiB units (SPEC §5.1). */
#define HAK_UNIT_SHIFT  16
#define HAK_UNIT_SIZE   ((size_t)1 << HAK_UNIT_SHIFT)
#define HAK_UNITS_PER_CHUNK (HAK_CHUNK_SIZE / HAK_UNIT_SIZE)
#define HAK_PAGE_SIZE   ((size_t)4096)

hak_inline size_t hak_align_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }
hak_inline uintptr_t hak_align_down(uintptr_t x, size_t a) { return x & ~(uintptr_t)(a - 1); }
hak_inline bool hak_is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* splitmix64: the next of a sequence of well-mixed 64-bit values. */
hak_inline uint64_t hak_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#if HAK_DEBUG
void _hak_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn, cold));
#define hak_assert(e) ((e) ? (void)0 : _hak_assert_fail(#e, __FILE__, __LINE__))
#else
#define hak_assert(e) ((void)0)
#endif

#endif
