/* tiny.h — the slab engine of the tiny and mid tiers (SPEC §5.1): slab and
 * SuperSlab records, the per-thread TLS free lists, and the inline fast paths
 * (a TLS list pop for malloc, a validated TLS list push for free). */
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

/* Which owner list a slab is on. */
enum { TINY_LIST_NONE, TINY_LIST_CUR, TINY_LIST_PARTIAL, TINY_LIST_FULL, TINY_LIST_ABANDONED };

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
    uint64_t inv;                         /* ceil(2^40 / size): see tiny_q_is_block */
    uint64_t inv_hi;                      /* inv << 24, for the block-start test */
    uint32_t limit;                       /* capacity * size: offsets at or past it are tail waste */
    uint32_t size;                        /* block size in bytes */
    uint32_t capacity;                    /* blocks in the slab */
    uint8_t cls;                          /* size class */
    uint8_t units;                        /* 64 KiB units spanned */
    uint8_t list;                         /* TINY_LIST_*: owner's, or the abandoned list's */
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
};

/* What the chunk map points to for a slab chunk: the records of its 32
 * units. In a SuperSlab they open its header; for fallback slabs they are a
 * separate record shared by the slabs of the chunk. */
struct tiny_chunk {
    struct tiny_slab unit[HAK_UNITS_PER_CHUNK];
};

/* A 2 MiB-aligned SuperSlab; unit 0 holds this header (one page in: see
 * superslab.c), units 1..31 slabs. */
#define TINY_SS_MAGIC 0x68616b6d656d5353ULL
#define TINY_SS_OWNED ((uint64_t)1 << 32)
struct tiny_ss {
    struct tiny_chunk chunk;              /* unit 0's record stays unused (head NULL) */
    uint64_t magic;
    /* bits 1..31: units in use; TINY_SS_OWNED: a heap carves from it.
     * Whoever moves it to 0 releases the SuperSlab. */
    _Atomic uint64_t state;
    struct tiny_heap *owner;              /* valid while owned */
    struct tiny_ss *next, *prev;          /* owner's list, the orphan list or the empty cache */
    bool orphan;                          /* on the orphan list (under its lock) */
    bool purged;                          /* in the cache, and its slab units given back */
    uint64_t cached_at;                   /* when it went into the empty cache (ns) */
    struct tiny_ss *live_next, *live_prev; /* the registry of SuperSlabs in use (not cached) */
    _Atomic uint32_t purged_units;        /* free units given back since they were last used */
    _Atomic uint64_t freed_at[HAK_UNITS_PER_CHUNK]; /* when each unit was last freed (ns) */
};

struct tiny_class_state {
    struct tiny_slab *cur;                /* slab refills come from */
    struct tiny_slab *partial;            /* owned slabs with free blocks */
    struct tiny_slab *full;               /* owned slabs without */
};

/* A thread's heap: its slabs and SuperSlabs. Lives in metadata memory so
 * other threads may notify it; recycled when its thread exits. */
struct tiny_heap {
    struct tiny_class_state cls[HAK_NCLASS];
    _Atomic(struct tiny_slab *) notify;   /* slabs that got remote frees while full */
    struct tiny_ss *ss_list;              /* SuperSlabs this heap carves from */
    struct tiny_tls *tls;                 /* the owner thread's TLS lists */
    struct hak_counters *ctr;             /* the owner thread's counters */
    struct tiny_heap *reg_next, *reg_prev;/* registry of live heaps (when listed), or the pool */
    bool listed;                          /* on the registry (see _hak_tiny_heap) */
    _Atomic int64_t out_bytes;            /* written by the owner only: see slab_used in tiny.c */
    volatile int in_slow;                 /* owner is updating its lists (a fork child gives the heap up) */
};

/* Process-wide state set at start-up. */
extern uint64_t _hak_key;                 /* random; freed blocks carry key ^ address */
extern size_t _hak_mid_max;               /* mid.max_size, less HAK_CHECK_PAD in check mode */
extern bool _hak_tiny_use_ss;             /* tiny.use_superslab */
extern uint8_t _hak_tiny_units[HAK_NCLASS];
extern bool _hak_tiny_secure;             /* secure mode: encoded links, guard pages, shuffled carving */
extern uintptr_t _hak_list_key;           /* secure: random; otherwise 0, so encoding costs no branch */

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

/* Block index by multiplication: q = offset * inv, with inv = ceil(2^40 /
 * size). For offsets below 2^20 (8 units) and sizes up to 2^18, q >> 40 is
 * the index, and size divides offset exactly when q's low 40 bits are below
 * inv (the remainder r adds r * inv ≥ inv to them; a block start adds only
 * index * (size * inv - 2^40) < offset < 2^20 ≤ inv). So a block start is
 * q << 24 < inv << 24, and in range when offset < capacity * size. */
#define TINY_INV_SHIFT 40
hak_inline bool tiny_is_block_off(uintptr_t off, const struct tiny_slab *s)
{
    return ((uint64_t)off * s->inv) << (64 - TINY_INV_SHIFT) < s->inv_hi && off < s->limit;
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

/* malloc fast path for n ≤ HAK_CLASS_TABLE_MAX: pop the TLS list, or NULL. */
hak_inline void *tiny_alloc_fast(size_t n)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    unsigned c = _hak_class_small[(n + 15) >> 4];
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

/* A unit-cache miss: p's slab from the chunk map, cached if this thread
 * owns it (a thread with no heap owns nothing, not even abandoned slabs). */
hak_inline struct tiny_slab *tiny_ucache_fill(struct tiny_tls *t, uintptr_t a, uintptr_t u, unsigned i)
{
    struct tiny_slab *s = tiny_slab_of(a);
    if (hak_unlikely(!s || !t->heap || atomic_load_explicit(&s->owner, memory_order_relaxed) != t->heap))
        return NULL;
    t->ukey[i] = u + 1;
    t->uslab[i] = s;
    HAK_CTR_INC(free, unit_miss);
    return s;
}

/* free fast path: p is in a slab this thread owns (found in the unit cache,
 * or in the chunk map and then cached), p is a block start not marked free,
 * and its TLS list has room. Anything else returns false (slow path). */
hak_inline bool tiny_free_fast(void *p)
{
    uintptr_t a = (uintptr_t)p;
    struct tiny_tls *t = &_hak_thread.tiny;
    uintptr_t u = a >> HAK_UNIT_SHIFT;
    unsigned i = TINY_UCACHE_SLOT(u);
    struct tiny_slab *s;
    if (hak_likely(t->ukey[i] == u + 1))
        s = t->uslab[i];
    else if (!(s = tiny_ucache_fill(t, a, u, i)))
        return false;
    unsigned c = s->cls;
    uintptr_t mark = t->key ^ a;
    if (hak_unlikely(!tiny_is_block_off(a - s->data, s) || ((uintptr_t *)p)[1] == mark || t->room[c] == 0))
        return false;
    tiny_link_set(p, t->head[c], t->lkey);
    ((uintptr_t *)p)[1] = mark;
    /* The head's store publishes p: a fork from a signal handler that
     * interrupts this finds a whole list either way (no instruction). */
    __atomic_signal_fence(__ATOMIC_RELEASE);
    t->head[c] = p;
    t->room[c]--;
    HAK_CTR_INC(free, tls_sll);
    return true;
}

/* ---- out of line (tiny.c, superslab.c, fallback.c) ---- */

/* Sets the geometry and bounds from the options; once, at start-up. */
void _hak_tiny_init(void);
/* A block of class c (1 ≤ c < HAK_NCLASS) for the slow path: TLS list,
 * else refill. NULL with errno = ENOMEM when memory is exhausted. */
void *_hak_tiny_alloc_class(unsigned c);
/* Check mode's allocation (tiny.c): a block of class c, or a larger one,
 * with a canary after n bytes. */
void *_hak_tiny_check_alloc(unsigned c, size_t n, size_t align);

/* A block of class c for a request of n bytes, for the slow path (c's size
 * is at least n; align: 0, or the power-of-two size of class c when the
 * caller relies on the alignment of its blocks). */
hak_inline void *tiny_alloc_req(unsigned c, size_t n, size_t align)
{
    if (hak_unlikely(_hak_check_on))
        return _hak_tiny_check_alloc(c, n, align);
    return _hak_tiny_alloc_class(c);
}

/* Free of a pointer whose chunk is a slab chunk (fast path declined).
 * fn names the public function for reports. */
void _hak_tiny_free_slow(void *p, struct tiny_slab *s, const char *fn);
/* Usable size of p, or 0 (and a report) if p is not a live block start. */
size_t _hak_tiny_usable(void *p, struct tiny_slab *s, const char *fn);
/* Validates that p is a block start of s; false if interior or out of range. */
bool _hak_tiny_is_block(const struct tiny_slab *s, uintptr_t a);

/* The calling thread's heap, created on first use; NULL if out of memory. */
struct tiny_heap *_hak_tiny_heap(void);
/* Thread exit (run by thread.c's destructor) and explicit flush (trim). */
void _hak_tiny_thread_exit(void);
void _hak_tiny_flush_tls(void);
/* Whether this thread is in the middle of updating its heap (fork's
 * prepare handler asks, from a signal handler that may have interrupted). */
bool _hak_tiny_busy(void);
void _hak_tiny_fork_child(void);
/* Calls fn for every live heap's counters, under the registry lock. */
void _hak_tiny_foreach_counters(void (*fn)(const struct hak_counters *, void *), void *arg);
/* Releases cached empty SuperSlabs; returns bytes given back. */
size_t _hak_tiny_trim(void);
/* Bytes of blocks out of slabs: in use, or cached in threads' TLS lists
 * (bounded per thread) or freed remotely and not yet drained. */
size_t _hak_tiny_live_bytes(void);
/* Bytes held in cached empty SuperSlabs (or fallback slabs). */
size_t _hak_tiny_cached_bytes(void);

/* Slab sources. SuperSlab mode: stage 5 (an owned SuperSlab with free
 * units) and stage 6 (an orphaned, cached or new SuperSlab) of refill. */
struct tiny_slab *_hak_ss_slab_owned(struct tiny_heap *h, unsigned cls, unsigned units);
struct tiny_slab *_hak_ss_slab_new(struct tiny_heap *h, unsigned cls, unsigned units);
void _hak_ss_slab_release(struct tiny_heap *h, struct tiny_slab *s);
void _hak_ss_heap_exit(struct tiny_heap *h);
size_t _hak_ss_trim(void);
size_t _hak_ss_cached_bytes(void);
/* The decay function registered with the purger: cached SuperSlabs unused
 * for the delay have their slab units purged. */
uint64_t _hak_ss_decay(uint64_t now_ns);
void _hak_ss_fork_child(void);
/* Fallback mode: one mapping per slab (stage 6), empty ones cached like
 * empty SuperSlabs; the decay unmaps those unused for the delay. */
struct tiny_slab *_hak_fb_slab_new(struct tiny_heap *h, unsigned cls, unsigned units);
void _hak_fb_slab_release(struct tiny_slab *s);
size_t _hak_fb_trim(void);
size_t _hak_fb_cached_bytes(void);
uint64_t _hak_fb_decay(uint64_t now_ns);
void _hak_fb_fork_child(void);
/* The decay of whichever slab source is in use (registered with the purger). */
uint64_t _hak_tiny_decay(uint64_t now_ns);
/* Common to both: the slab starting at data gets its record in chunk c
 * filled in and published; unpublish makes its units foreign again. */
struct tiny_slab *_hak_tiny_slab_setup(struct tiny_chunk *c, uintptr_t data, unsigned cls, unsigned units,
                                       struct tiny_heap *owner, struct tiny_ss *ss);
void _hak_tiny_slab_unpublish(struct tiny_slab *s);

#if HAK_DEBUG
/* Invariant checker: every slab record and list of h is consistent. */
void _hak_tiny_validate_heap(struct tiny_heap *h);
#endif

#endif
