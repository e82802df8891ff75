/* chunkmap.c — the process-wide chunk map: second levels are mapped on demand
 * and installed with a compare-and-swap, so readers never take a lock. */
#include "chunkmap.h"
#include "os.h"
#include <errno.h>

hak_bss_large _Atomic(_Atomic uint64_t *) _hak_chunkmap[HAK_CM_L1_SIZE];

static _Atomic uint64_t *l2_for(uintptr_t a)
{
    uintptr_t i = a >> (HAK_CHUNK_SHIFT + HAK_CM_L2_BITS);
    if (i >= HAK_CM_L1_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    _Atomic uint64_t *l2 = atomic_load_explicit(&_hak_chunkmap[i], memory_order_acquire);
    if (l2)
        return l2;
    size_t bytes = HAK_CM_L2_SIZE * sizeof(uint64_t);
    _Atomic uint64_t *fresh = _hak_os_map(bytes);
    if (!fresh)
        return NULL;
    _Atomic uint64_t *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&_hak_chunkmap[i], &expected, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    _hak_os_unmap((void *)fresh, bytes);
    return expected;
}

int _hak_chunk_set(uintptr_t base, size_t size, uint64_t e)
{
    hak_assert((base & HAK_CHUNK_MASK) == 0 && (size & HAK_CHUNK_MASK) == 0);
    for (uintptr_t a = base; a < base + size; a += HAK_CHUNK_SIZE) {
        _Atomic uint64_t *l2 = l2_for(a);
        if (!l2)
            return -1;
        atomic_store_explicit(&l2[(a >> HAK_CHUNK_SHIFT) & (HAK_CM_L2_SIZE - 1)], e, memory_order_release);
    }
    return 0;
}

bool _hak_chunk_cas(uintptr_t a, uint64_t *expected, uint64_t desired)
{
    _Atomic uint64_t *l2 = l2_for(a);
    if (!l2)
        return false;
    return atomic_compare_exchange_strong_explicit(&l2[(a >> HAK_CHUNK_SHIFT) & (HAK_CM_L2_SIZE - 1)], expected,
                                                   desired, memory_order_acq_rel, memory_order_acquire);
}
