/* tls.h — the tiny tier's part of a thread's TLS: one bounded LIFO free
 * list (the TLS SLL) per size class, and the unit cache of free. */
#ifndef HAK_TINY_TLS_H
#define HAK_TINY_TLS_H

#include "sizeclass.h"

struct tiny_heap;
struct tiny_slab;

enum { TINY_THREAD_NEW, TINY_THREAD_LIVE, TINY_THREAD_EXITED };

/* The unit cache: a direct-mapped map from a 64 KiB unit (address >> 16,
 * its low bits the slot) to a slab this thread owns, or to a record that
 * holds no block (_hak_tiny_slab_none). No key: free's block-start test of
 * the address against the slot's slab is true only for a block of that
 * slab, so it is the hit test too (one cache line and a compare fewer). A
 * hit lets free skip the chunk map and the owner check; entries go in on a
 * slow-path local free and out when the thread gives the slab up (release,
 * exit). It lives in the thread's heap, not in TLS: 8 KiB more of TLS to
 * clear would cost every new thread page faults. 1,024 entries: with 256,
 * a thread holding slabs over more than 16 MiB (larson-sized's threads
 * adopt their predecessors' slabs, the two threads' SuperSlabs interleave)
 * missed on 0.5-9 % of its frees, as the layout made the collisions; with
 * 1,024, 0-3 % (the times: doc/benchmarks.md, 2026-12-07). */
#define TINY_UCACHE 1024
/* The unit number's low bits: the units of 32 adjacent SuperSlabs (64 MiB)
 * never collide, and the kernel maps a thread's SuperSlabs next to each
 * other. */
#define TINY_UCACHE_SLOT(u) ((unsigned)(u) & (TINY_UCACHE - 1))

struct tiny_ucache {
    struct tiny_slab *slab[TINY_UCACHE];
};

/* A slab record that holds no block (capacity 0), never written: an empty
 * slot's. */
extern struct tiny_slab _hak_tiny_slab_none;
/* The cache of a thread without a heap: empty, never written. */
extern const struct tiny_ucache _hak_tiny_ucache_none;

/* A thread's free lists, one per class (the TLS SLL): LIFO, bounded, as
 * parallel arrays so that each access is one %fs-relative operand. */
struct tiny_tls {
    void *head[HAK_NCLASS];
    uint32_t room[HAK_NCLASS];            /* pushes left before the bound; 0 until the heap exists */
    uint32_t bound[HAK_NCLASS];           /* the bound: a list holds bound - room blocks (the base, or doubled: tiny.cache_grow) */
    size_t grown;                         /* bytes the bounds stand past their base bounds, in all (at most tiny.cache_grow) */
    uint64_t key;                         /* _hak_key, copied when the heap is set up */
    uintptr_t lkey;                       /* _hak_list_key: list links are stored xor'ed with it */
    uint64_t rng;                         /* secure mode's carve shuffle (splitmix64 state) */
    const struct tiny_ucache *uc;         /* the heap's unit cache, or _hak_tiny_ucache_none */
    struct tiny_heap *heap;
    uint8_t state;                        /* TINY_THREAD_* */
};

/* A new thread's part: no heap, so the empty unit cache. */
#define TINY_TLS_INIT { .uc = &_hak_tiny_ucache_none }

#endif
