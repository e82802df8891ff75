/* chunkmap.h — which 2 MiB chunks of the address space hakmem owns and what
 * each holds. Reads are O(1), lock-free and safe for any pointer value: a
 * foreign pointer reads as HAK_CHUNK_NONE without touching its memory. */
#ifndef HAK_CHUNKMAP_H
#define HAK_CHUNKMAP_H

#include "internal.h"
#include <stdatomic.h>

/* An entry is a kind in the low 3 bits, plus a pointer for SLAB (the
 * chunk's unit records), HUGE (the block's header) and ARENA (the region). */
enum {
    HAK_CHUNK_NONE = 0,
    HAK_CHUNK_SLAB = 1,       /* a SuperSlab, or fallback slabs */
    HAK_CHUNK_HUGE = 2,       /* part of a live huge block */
    HAK_CHUNK_HUGE_FREED = 3, /* part of a huge block that was freed (unmapped, or about to be) */
    HAK_CHUNK_ARENA = 4,      /* an arena region (ptr = its record) */
};
#define HAK_CHUNK_KIND(e) ((unsigned)((e) & 7))
#define HAK_CHUNK_PTR(e)  ((void *)(uintptr_t)((e) & ~(uint64_t)7))

/* Two levels over the 47-bit user address space: 2^13 × 2^13 chunks. */
#define HAK_CM_L2_BITS 13
#define HAK_CM_L1_BITS (47 - HAK_CHUNK_SHIFT - HAK_CM_L2_BITS)
#define HAK_CM_L1_SIZE ((size_t)1 << HAK_CM_L1_BITS)
#define HAK_CM_L2_SIZE ((size_t)1 << HAK_CM_L2_BITS)

extern _Atomic(_Atomic uint64_t *) _hak_chunkmap[HAK_CM_L1_SIZE];

hak_inline uint64_t hak_chunk_get(uintptr_t a)
{
    uintptr_t i = a >> (HAK_CHUNK_SHIFT + HAK_CM_L2_BITS);
    if (hak_unlikely(i >= HAK_CM_L1_SIZE))
        return HAK_CHUNK_NONE;
    _Atomic uint64_t *l2 = atomic_load_explicit(&_hak_chunkmap[i], memory_order_acquire);
    if (hak_unlikely(!l2))
        return HAK_CHUNK_NONE;
    return atomic_load_explicit(&l2[(a >> HAK_CHUNK_SHIFT) & (HAK_CM_L2_SIZE - 1)], memory_order_acquire);
}

/* Sets every chunk of [base, base + size) to e; base and size are chunk
 * multiples. Returns -1 (ENOMEM) if the map itself could not grow. */
int _hak_chunk_set(uintptr_t base, size_t size, uint64_t e);
/* Compare-and-swap of one chunk's entry (the chunk's second level exists). */
bool _hak_chunk_cas(uintptr_t a, uint64_t *expected, uint64_t desired);

#endif
