/* tiny.h — the slab engine's interface to the rest of the library (SPEC
 * §5.1): slab records, the per-thread TLS free lists, and the inline fast
 * paths (a TLS list pop for malloc, a validated TLS list push for free).
 * Despite the name, the engine serves the mid tier too: its size classes go
 * up to 256 KiB, and blocks up to mid.max_size (_hak_mid_max) come from its
 * slabs. Check mode (canaries, fills) is the service of src/check.c; its
 * slab path (no TLS lists) is in slow.c. What only the files of src/tiny/
 * share is in engine.h. */
#ifndef HAK_TINY_H
#define HAK_TINY_H

#include "../internal.h"
#include "../check.h"
#include "../chunkmap.h"
#include "../counters.h"
#include "sizeclass.h"
#include "../thread.h"
#include <stdatomic.h>

struct tiny_heap;
struct tiny_ss;

/* One slab: a span of 64 KiB units serving one size class. Every unit of a
 * chunk has a record, found from the address alone; the record of a slab's
 * first unit describes the slab and every unit's `head` points at it (NULL:
 * the unit is not a slab of ours). The first line is what a freeing thread
 * reads; the rest belongs to the owner, except the remote list and the
 * notify flag (any thread, atomically). */
struct __attribute__((aligned(64))) tiny_slab {
    /* line 1: what the owner's fast path reads, written by the owner only */
    _Atomic(struct tiny_slab *) head;     /* the slab this unit belongs to */
    uintptr_t data;                       /* block 0; 64 KiB aligned */
    uint64_t minv;                        /* the inverse of size's odd part, mod 2^64: see tiny_block_index */
    uint64_t capacity;                    /* blocks in the slab (0 once unpublished: no block tests true) */
    uint32_t limit;                       /* capacity * size: offsets at or past it are tail waste */
    uint32_t size;                        /* block size in bytes */
    uint8_t cls;                          /* size class */
    uint8_t units;                        /* 64 KiB units spanned */
    uint8_t list;                         /* TINY_LIST_* (engine.h): owner's, or the abandoned list's */
    uint8_t shift;                        /* size's power of two: size = odd part << shift */
    _Atomic(struct tiny_heap *) owner;    /* NULL: abandoned (or being set up / released) */
    uint32_t used;                        /* blocks out of the slab: with users, in TLS lists or remote */
    uint32_t carved;                      /* blocks carved so far (the bump cursor) */
    /* line 2: written by other threads (remote frees), and owner bookkeeping */
    _Atomic(void *) remote;               /* MPSC stack of blocks freed by other threads */
    /* Remote frees in progress. A remote freer holds it from before its push
     * until it last touches the slab, so the owner never releases (and
     * perhaps unmaps) a slab that a freer is still writing. */
    _Atomic uint32_t remote_busy;
    _Atomic uint8_t notified;             /* on some heap's notify stack */
    void *free;                           /* local free list (owner) */
    struct tiny_slab *next, *prev;        /* owner's partial or full list, or the abandoned list */
    struct tiny_slab *notify_next;        /* link on the owner's notify stack */
    struct tiny_ss *ss;                   /* enclosing SuperSlab; NULL for a fallback slab */
    uint64_t listed_at;                   /* when it went on the kept list (see mid.keep) or the abandoned one (coarse ns) */
};

/* What the chunk map points to for a slab chunk: the records of its 32
 * units. In a SuperSlab they open its header; for fallback slabs they are a
 * separate record shared by the slabs of the chunk. */
struct tiny_chunk {
    struct tiny_slab unit[HAK_UNITS_PER_CHUNK];
};

/* Process-wide state set at start-up (slab.c). */
extern uint64_t _hak_key;                 /* random; freed blocks carry key ^ address */
extern size_t _hak_mid_max;               /* mid.max_size, less HAK_CHECK_PAD in check mode */

/* A free block's first word links it to the next block of its list, stored
 * xor'ed with the list key (secure mode; the key is 0 otherwise). Its second
 * word is the free mark. */
hak_inline void *tiny_link_get(const void *b, uintptr_t key)
{
    return (void *)(((const uintptr_t *)b)[0] ^ key);
}
hak_inline void tiny_link_set(void *b, const void *next, uintptr_t key)
{
    ((uintptr_t *)b)[0] = (uintptr_t)next ^ key;
}

/* Block index by the inverse of the size's odd part (the exact-division
 * test of Granlund and Montgomery): with size = m << k, m odd and minv its
 * inverse modulo 2^64, off * minv rotated right by k is off / size when size
 * divides off, and above (2^64 - 1) / size when it does not. So for any
 * offset (one below the slab's start wraps to a huge one) the result is
 * below the capacity exactly when off is the start of one of the slab's
 * blocks: one multiplication, one rotation, one comparison. */
hak_inline uint64_t tiny_block_index(uintptr_t off, const struct tiny_slab *s)
{
    uint64_t q = (uint64_t)off * s->minv;
    unsigned k = s->shift;
    return q >> k | q << ((64 - k) & 63);
}
hak_inline bool tiny_is_block_off(uintptr_t off, const struct tiny_slab *s)
{
    return tiny_block_index(off, s) < s->capacity;
}

/* The slab holding address a, given a's chunk map entry e (a caller that
 * already looked e up passes it on), or NULL. */
hak_inline struct tiny_slab *tiny_slab_at(uint64_t e, uintptr_t a)
{
    if (hak_unlikely(HAK_CHUNK_KIND(e) != HAK_CHUNK_SLAB))
        return NULL;
    struct tiny_chunk *c = HAK_CHUNK_PTR(e);
    return atomic_load_explicit(&c->unit[(a >> HAK_UNIT_SHIFT) & (HAK_UNITS_PER_CHUNK - 1)].head,
                                memory_order_acquire);
}

/* The slab holding address a, or NULL. */
hak_inline struct tiny_slab *tiny_slab_of(uintptr_t a) { return tiny_slab_at(hak_chunk_get(a), a); }

hak_inline uintptr_t tiny_mark(uintptr_t a) { return _hak_key ^ a; }

/* Pops the TLS list of class c, or NULL if it is empty. */
hak_inline void *tiny_alloc_class_fast(unsigned c)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    void *b = t->head[c];
    if (hak_unlikely(!b))
        return NULL;
    void *next = tiny_link_get(b, t->lkey);
    t->head[c] = next;
    t->room[c]++;
    ((uintptr_t *)b)[1] = 0; /* clear the free mark */
    HAK_CTR_INC(tiny, alloc_fast);
    return b;
}

/* malloc fast path for n ≤ HAK_CLASS_TABLE_MAX: pop the TLS list, or NULL. */
hak_inline void *tiny_alloc_fast(size_t n) { return tiny_alloc_class_fast(_hak_class_small[(n + 15) >> 4]); }

/* free(NULL), counted (slow.c). Out of line so that free makes no call
 * that returns to it: it keeps no register across one (no push, no pop). */
void _hak_tiny_free_null(void);
/* A free into slab s at a unit-cache miss (slow.c): s is cached if this
 * thread owns it; the common cross-thread free takes a lean remote push. */
void _hak_tiny_free_miss(void *p, struct tiny_slab *s, const char *fn);
/* Free of a pointer in slab s that the inline path declined (not a block
 * start, marked free, another heap's slab in check mode...). fn names the
 * public function for reports. */
void _hak_tiny_free_slow(void *p, struct tiny_slab *s, const char *fn);
/* A free into s, this thread's slab, of a block start not marked free,
 * whose TLS list is full (every free of a mid class: their lists hold two). */
void _hak_tiny_free_full(void *p, struct tiny_slab *s, const char *fn);

/* Whether p is a block start of s not marked free (mark: p's free mark).
 * p's second word is read only when p is a block start. */
hak_inline bool tiny_free_ok(const struct tiny_slab *s, void *p, uintptr_t mark)
{
    return tiny_is_block_off((uintptr_t)p - s->data, s) && ((uintptr_t *)p)[1] != mark;
}

/* p, a block start of s (this thread's slab) not marked free, onto the TLS
 * list if it has room, else out of line. */
hak_inline void tiny_free_push(struct tiny_tls *t, struct tiny_slab *s, void *p, uintptr_t mark, const char *fn)
{
    size_t c = s->cls;
    if (hak_unlikely(t->room[c] == 0)) {
        _hak_tiny_free_full(p, s, fn);
        return;
    }
    tiny_link_set(p, t->head[c], t->lkey);
    ((uintptr_t *)p)[1] = mark;
    /* The head's store publishes p: a fork from a signal handler that
     * interrupts this finds a whole list either way (no instruction). */
    __atomic_signal_fence(__ATOMIC_RELEASE);
    t->head[c] = p;
    t->room[c]--;
    HAK_CTR_INC(free, tls_sll);
}

/* A free of p into s, known to be this thread's slab. */
hak_inline void tiny_free_to(struct tiny_tls *t, struct tiny_slab *s, void *p, const char *fn)
{
    uintptr_t mark = t->key ^ (uintptr_t)p;
    if (hak_unlikely(!tiny_free_ok(s, p, mark))) {
        _hak_tiny_free_slow(p, s, fn);
        return;
    }
    tiny_free_push(t, s, p, mark, fn);
}

/* free fast path: p is a block start of the slab in its unit's slot of the
 * unit cache (a slab this thread owns), not marked free. Otherwise p is
 * looked up: a miss, a pointer that is not a block start, a double free.
 * false only for a pointer outside every slab (the slow path sorts it out).
 * NULL always misses (no slab is at unit 0) and ends there, counted:
 * glibc frees NULL a dozen times and more in every thread's exit. */
hak_inline bool tiny_free_fast(void *p, const char *fn)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    struct tiny_slab *s = t->uc->slab[TINY_UCACHE_SLOT((uintptr_t)p >> HAK_UNIT_SHIFT)];
    uintptr_t mark = t->key ^ (uintptr_t)p;
    if (hak_unlikely(!tiny_free_ok(s, p, mark))) {
        if (hak_unlikely(!p)) {
            _hak_tiny_free_null();
            return true;
        }
        s = tiny_slab_of((uintptr_t)p);
        if (hak_unlikely(!s))
            return false;
        _hak_tiny_free_miss(p, s, fn);
        return true;
    }
    tiny_free_push(t, s, p, mark, fn);
    return true;
}

/* ---- out of line (slow.c, heap.c, slab.c) ---- */

/* Sets the geometry and bounds from the options; once, at start-up. */
void _hak_tiny_init(void);
/* A block of class c for a request of n bytes, for the slow path (c's size
 * is at least n; align: 0, or the power-of-two size of class c when the
 * caller relies on the alignment of its blocks): the TLS list, else refill;
 * in check mode, a block of class c or a larger one, with a canary after n
 * bytes. NULL with errno = ENOMEM when memory is exhausted. */
void *_hak_tiny_alloc(unsigned c, size_t n, size_t align);

/* _hak_tiny_alloc with its TLS list pop inline, for an entry that knows the
 * class (a list is empty in check mode, so the checks still run). */
hak_inline void *tiny_alloc_class(unsigned c, size_t n, size_t align)
{
    void *b = tiny_alloc_class_fast(c);
    return hak_likely(b != NULL) ? b : _hak_tiny_alloc(c, n, align);
}

/* Usable size of p, or 0 (and a report) if p is not a live block start. */
size_t _hak_tiny_usable(void *p, struct tiny_slab *s, const char *fn);

/* Thread exit (run by thread.c's destructor) and explicit flush (trim). */
void _hak_tiny_thread_exit(void);
void _hak_tiny_flush_tls(void);
/* Whether this thread is in the middle of updating its heap (fork's
 * prepare handler asks, from a signal handler that may have interrupted). */
bool _hak_tiny_busy(void);
void _hak_tiny_fork_child(void);
/* Calls fn for every live heap's counters, under the registry lock. */
void _hak_tiny_foreach_counters(void (*fn)(const struct hak_counters *, const struct hak_class_counters *, void *),
                                void *arg);
/* Returns this thread's TLS lists and the abandoned slabs' remote frees
 * to their slabs, gives back the slabs that empties, purges the free units
 * of SuperSlabs in use and unmaps the cached empty ones (or the fallback
 * cache); returns the bytes unmapped. */
size_t _hak_tiny_trim(void);
/* Bytes of blocks out of slabs: in use, or cached in threads' TLS lists
 * (bounded per thread) or freed remotely and not yet drained. */
size_t _hak_tiny_live_bytes(void);
/* Bytes of the blocks in the calling thread's TLS lists (counted in the
 * above; exact, as only this thread changes them). */
size_t _hak_tiny_own_cached_bytes(void);
/* Bytes held in cached empty SuperSlabs (or fallback slabs). */
size_t _hak_tiny_cached_bytes(void);
/* Bytes of emptied slabs live threads keep set up (mid.keep). */
size_t _hak_tiny_kept_bytes(void);
/* The decay of whichever slab source is in use, the sweep of abandoned
 * slabs and the drain of idle heaps (registered with the purger). */
uint64_t _hak_tiny_decay(uint64_t now_ns);

#endif
