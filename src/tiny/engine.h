/* engine.h — what the files of src/tiny/ share and the rest of the library
 * does not see: SuperSlab and heap records, process-wide settings, inline
 * helpers of the slow paths, and each file's offer to the files above it.
 * The files call only downward, in this order (bottom first):
 *   slab.c       settings and geometry, slab records, remote lists
 *   superslab.c  the SuperSlab slab source       } both beside each other,
 *   fallback.c   the fallback slab source        } neither calls the other
 *   heap.c       thread heaps: slab lists, release, adoption, exit, fork
 *   validate.c   debug builds: the invariant checker (reads records only)
 *   slow.c       refill, free and check mode's slab path
 * Sections below follow that order. */
#ifndef HAK_TINY_ENGINE_H
#define HAK_TINY_ENGINE_H

#include "tiny.h"

/* Which owner list a slab is on (tiny_slab.list). */
enum { TINY_LIST_NONE, TINY_LIST_CUR, TINY_LIST_PARTIAL, TINY_LIST_FULL, TINY_LIST_KEPT, TINY_LIST_ABANDONED };

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
    struct tiny_slab *kept;               /* emptied slabs kept set up (mid.keep), the last kept first */
};

/* A thread's heap: its slabs and SuperSlabs. Lives in metadata memory so
 * other threads may notify it; recycled when its thread exits. */
struct tiny_heap {
    struct tiny_class_state cls[HAK_NCLASS];
    uint64_t classes;                     /* bit c: class c has had a slab here (exit walks only those) */
    _Atomic(struct tiny_slab *) notify;   /* slabs that got remote frees while full */
    struct tiny_ss *ss_list;              /* SuperSlabs this heap carves from */
    /* ss_full and the SuperSlabs after it on ss_list had no run of
     * ss_full_units free units as of ss_full_epoch (superslab.c's count of
     * unit releases): claims stop there until units are released. */
    struct tiny_ss *ss_full;
    uint64_t ss_full_epoch;
    unsigned ss_full_units;
    struct tiny_tls *tls;                 /* the owner thread's TLS lists */
    struct hak_counters *ctr;             /* the owner thread's counters */
    struct tiny_heap *reg_next, *reg_prev;/* registry of live heaps (when listed), or the pool */
    bool listed;                          /* on the registry (see _hak_tiny_heap_create) */
    _Atomic int64_t out_bytes;            /* written by the owner only: see tiny_slab_used */
    /* The owner is updating its lists (a fork child gives the heap up, the
     * purger keeps off): see tiny_slow_enter. */
    _Atomic int in_slow;
    /* The purger holds the heap: the owner's slow paths wait (heap.c,
     * drain_idle). Written by the purger under the registry lock. */
    _Atomic int claim;
    _Atomic uint64_t slow_calls;          /* the owner's slow paths so far (written by the owner only) */
    uint64_t idle_calls, idle_since;      /* the purger's: slow_calls when last seen to change, and when (ns) */
    /* Kept slabs (tiny_class_state.kept): their bytes (spans), written by
     * the owner; how many may still hold pages, and a time at or before the
     * oldest of those was kept (coarse ns), written by the owner in its slow
     * path and by the purger while it holds the heap (see drain_idle). */
    _Atomic size_t kept_bytes;
    _Atomic uint32_t kept_resident;
    _Atomic uint64_t kept_first;
    /* The big tables, left clean by the owner's exit (a pooled heap taken
     * again clears only the fields above). */
    struct hak_class_counters cctr;       /* the owner's per-class counters: retiring zeroes them */
    struct tiny_ucache uc;                /* the owner's unit cache (tls.h), its alone; a slab's entries go with it */
};

_Static_assert(HAK_NCLASS <= 64, "tiny_heap.classes has a bit per class");

/* ------------------------------------------------------------------ slab.c */

/* Process-wide settings, set by _hak_tiny_init. */
extern bool _hak_tiny_use_ss;             /* tiny.use_superslab */
extern uint8_t _hak_tiny_units[HAK_NCLASS]; /* slab span of each class, in 64 KiB units */
extern bool _hak_tiny_secure;             /* secure mode: encoded links, guard pages, shuffled carving */
extern uintptr_t _hak_list_key;           /* secure: random; otherwise 0, so encoding costs no branch */
extern uint32_t _hak_tiny_bound[HAK_NCLASS]; /* TLS list base bound per class (0 in check mode) */
/* Bytes of emptied slabs a heap keeps set up (mid.keep; 0 when madvise.delay
 * is): only slabs of classes whose blocks are a unit or more, where one
 * set-up and release serve a few blocks only. */
extern size_t _hak_tiny_keep;
/* Bytes a thread's TLS lists may grow past their base bounds (tiny.cache_grow),
 * and all threads' together (tiny.cache_grow_total): a thread's lists stay
 * grown while it idles, where only the thread itself may touch them. */
extern size_t _hak_tiny_grow;
extern size_t _hak_tiny_grow_total;
/* The bytes all threads' lists stand past their base bounds: the sum of
 * their tiny_tls.grown (the grown lists of threads a fork left behind drop
 * out in the child). */
extern _Atomic size_t _hak_tiny_grown_total;
/* Bit c: class c's blocks are a unit or more, the classes whose emptied
 * slabs may be kept (a heap's kept lists of other classes stay empty). */
extern uint64_t _hak_tiny_keep_classes;
/* check or secure: links read on the slow paths are validated. Secure mode
 * is the only one with a list key, so where links are not validated the key
 * is 0 and the loops that walk them skip the xor (plain links). */
extern bool _hak_tiny_validate_links;
/* A free into an abandoned slab adopts it (tiny.adopt_on_free, or
 * madvise.delay = 0: no purger would sweep abandoned slabs); otherwise the
 * block is freed remotely, as into any other thread's slab. */
extern bool _hak_tiny_adopt_free;
/* Per class: an abandoned slab of the class had a first remote free, or a
 * slab joined the class's abandoned list, since the purger's sweep last
 * walked it (heap.c, abandoned_sweep); set by the free, taken by the sweep. */
extern _Atomic bool _hak_tiny_abandoned_dirty[HAK_NCLASS];

/* Bytes of blocks out of slabs (with their users, in TLS lists, or freed
 * remotely and not yet drained), for mallinfo: each heap counts what its
 * thread takes out and puts back (out_bytes); a heap that is retired or lost
 * hands its figure over to this (its blocks are still out). */
extern _Atomic int64_t _hak_tiny_retired_out;

/* d bytes of blocks went out (d > 0) or came back (d < 0), by this thread
 * (or, with no heap of its own, handed over). */
static inline void tiny_out_add(int64_t d)
{
    struct tiny_heap *h = _hak_thread.tiny.heap;
    if (hak_likely(h != NULL))
        atomic_store_explicit(&h->out_bytes, atomic_load_explicit(&h->out_bytes, memory_order_relaxed) + d,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&_hak_tiny_retired_out, d, memory_order_relaxed);
}

/* n blocks of s went out (n > 0) or came back (n < 0), by this thread,
 * which owns s. */
static inline void tiny_slab_used(struct tiny_slab *s, int32_t n)
{
    s->used += (uint32_t)n;
    tiny_out_add((int64_t)n * s->size);
}

/* The purger holds h: wait until it lets go (heap.c). */
hak_cold void _hak_tiny_claim_wait(struct tiny_heap *h);

/* tiny_slow_enter's busy mark alone, with no wait for a claim and no count
 * of owner activity: for the owner's purge of its own kept slabs, and the
 * mark taken again after a wait for the purger. */
static inline void tiny_slow_mark(struct tiny_heap *h)
{
    atomic_store_explicit(&h->in_slow, 1, memory_order_relaxed);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* The owner updates its lists, and the slabs they hold, between these two.
 * A fork from a signal handler that interrupted this thread in between
 * finds the flag set, and the child gives the heap up (see
 * _hak_tiny_fork_child). The fences keep the compiler from moving list
 * updates across the flag. The purger claims an idle heap by storing
 * `claim`, then a process-wide barrier (membarrier), then reading
 * `in_slow`: either this store is visible to it then, and it keeps off,
 * or the barrier came first and the load here sees its claim. So no fence
 * here, where every refill passes. */
static inline void tiny_slow_enter(struct tiny_heap *h)
{
    tiny_slow_mark(h);
    if (hak_unlikely(atomic_load_explicit(&h->claim, memory_order_acquire)))
        _hak_tiny_claim_wait(h);
    atomic_store_explicit(&h->slow_calls, atomic_load_explicit(&h->slow_calls, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline void tiny_slow_leave(struct tiny_heap *h)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    atomic_store_explicit(&h->in_slow, 0, memory_order_release);
}

/* The bytes s spans. */
static inline size_t tiny_slab_span(const struct tiny_slab *s) { return (size_t)s->units * HAK_UNIT_SIZE; }

/* Whether a is a block start of s (interior and out-of-range addresses are not). */
static inline bool tiny_is_block(const struct tiny_slab *s, uintptr_t a) { return tiny_is_block_off(a - s->data, s); }

/* Whether a, a block start of s, was carved (the owner's count). */
static inline bool tiny_carved(const struct tiny_slab *s, uintptr_t a)
{
    return tiny_block_index(a - s->data, s) < s->carved;
}

/* Whether b may follow a block of s in one of s's free lists: NULL, or a
 * block start of s already carved. */
static inline bool tiny_link_ok(const struct tiny_slab *s, const void *b)
{
    uintptr_t a = (uintptr_t)b;
    return !b || (tiny_is_block(s, a) && tiny_carved(s, a));
}

/* Sets s's divisor fields (minv, shift) from its block size. */
void _hak_tiny_block_divisor(struct tiny_slab *s);
/* The slab starting at data gets its record in chunk c filled in and
 * published (both slab sources); unpublish makes its units foreign again. */
struct tiny_slab *_hak_tiny_slab_setup(struct tiny_chunk *c, uintptr_t data, unsigned cls, unsigned units,
                                       struct tiny_heap *owner, struct tiny_ss *ss);
void _hak_tiny_slab_unpublish(struct tiny_slab *s);
/* Block b of s links to something that is not a free block of s: its link
 * word was overwritten after it was freed. Reported for the function fn. */
hak_cold void _hak_tiny_bad_link(const char *fn, const struct tiny_slab *s, void *b);
/* Moves s's remote frees to its local list (owner only); returns how many.
 * Inline: most slabs a refill or a retire looks at have none. */
unsigned _hak_tiny_drain_remote_slow(struct tiny_slab *s);
static inline unsigned tiny_drain_remote(struct tiny_slab *s)
{
    return atomic_load_explicit(&s->remote, memory_order_relaxed) ? _hak_tiny_drain_remote_slow(s) : 0;
}
/* Pushes block p on s's remote list (a thread that does not own s). */
void _hak_tiny_remote_push(struct tiny_slab *s, void *p);

/* ------------------------------------------------------- superslab.c, fallback.c */

/* Slab sources. SuperSlab mode: stage 5 (an owned SuperSlab with free
 * units) and stage 6 (an orphaned, cached or new SuperSlab) of refill. */
struct tiny_slab *_hak_ss_slab_owned(struct tiny_heap *h, unsigned cls, unsigned units);
/* Stage 5 in one SuperSlab of h's (a slab that went back there left room). */
struct tiny_slab *_hak_ss_slab_in(struct tiny_heap *h, struct tiny_ss *ss, unsigned cls, unsigned units);
struct tiny_slab *_hak_ss_slab_new(struct tiny_heap *h, unsigned cls, unsigned units);
/* s goes back to its SuperSlab; returns that SuperSlab if it is still h's
 * (it may have gone back itself), else NULL. h is NULL for an abandoned
 * slab the purger gives back. */
struct tiny_ss *_hak_ss_slab_release(struct tiny_heap *h, struct tiny_slab *s);
void _hak_ss_heap_exit(struct tiny_heap *h);
size_t _hak_ss_trim(void);
size_t _hak_ss_cached_bytes(void);
/* The decay function registered with the purger: cached SuperSlabs unused
 * for the delay have their slab units purged. */
uint64_t _hak_ss_decay(uint64_t now_ns);
/* The units of a decay pass's claim in one SuperSlab (bit u: unit u): due
 * with every gap between two of its units added where all of the gap is
 * clean (free and already purged). One madvise then covers what would take
 * one per run of due units (the kernel skips pages not resident), and the
 * gap, claimed with the rest, is not carved while it runs. */
uint32_t _hak_ss_bridge_gaps(uint32_t due, uint32_t clean);
void _hak_ss_fork_child(void);
/* Fallback mode: one mapping per slab (stage 6), empty ones cached like
 * empty SuperSlabs; the decay unmaps those unused for the delay. */
struct tiny_slab *_hak_fb_slab_new(struct tiny_heap *h, unsigned cls, unsigned units);
void _hak_fb_slab_release(struct tiny_slab *s);
size_t _hak_fb_trim(void);
size_t _hak_fb_cached_bytes(void);
uint64_t _hak_fb_decay(uint64_t now_ns);
void _hak_fb_fork_child(void);

/* ------------------------------------------------------------------ heap.c */

/* Sets up a heap for the calling thread, which has none; NULL if out of memory. */
struct tiny_heap *_hak_tiny_heap_create(void);
/* Moves s (owned by h) onto h's list `to` (a TINY_LIST_* but NONE). */
void _hak_tiny_slab_move(struct tiny_heap *h, struct tiny_slab *s, uint8_t to);
/* Blocks came back to s, a slab of h's (their links are already on s's
 * list): s changes lists, or goes back to its source once empty. */
void _hak_tiny_slab_returned(struct tiny_heap *h, struct tiny_slab *s);
/* Kept slabs are memory a class's demand left behind: they give way before
 * h grows by a slab of class c. A slab another class keeps (mid.keep), of
 * the class that kept one last longest ago, goes back to its source: to its SuperSlab, whose units, warm,
 * may then serve c (*ss: that SuperSlab while it is h's, else NULL); a
 * fallback slab to the cache of empty ones, where a slab of its span may
 * take it. Returns the bytes it spanned, 0 if there was none. */
size_t _hak_tiny_unkeep(struct tiny_heap *h, unsigned c, struct tiny_ss **ss);
/* Processes h's notify stack: slabs of h's that got remote frees while full
 * become partial (or go back to their source, if now empty). For a refill
 * of class c (c < HAK_NCLASS), returns a slab of class c that it left empty
 * and partial rather than give it back; else NULL. */
struct tiny_slab *_hak_tiny_drain_notify_slow(struct tiny_heap *h, unsigned c);
/* The same, the stack's emptiness checked inline: it is empty at nearly
 * every refill and overflowing free that asks. */
hak_inline struct tiny_slab *tiny_drain_notify_for(struct tiny_heap *h, unsigned c)
{
    if (atomic_load_explicit(&h->notify, memory_order_relaxed))
        return _hak_tiny_drain_notify_slow(h, c);
    return NULL;
}
hak_inline void tiny_drain_notify(struct tiny_heap *h) { tiny_drain_notify_for(h, HAK_NCLASS); }
/* Takes s (or, with s NULL, the first abandoned slab of class c) for h;
 * NULL if there is none (or s is not abandoned). */
struct tiny_slab *_hak_tiny_adopt(struct tiny_heap *h, unsigned c, struct tiny_slab *s);
/* Returns up to n blocks from the head of t's list c to their slabs (h's). */
void _hak_tiny_flush_list(struct tiny_heap *h, struct tiny_tls *t, unsigned c, unsigned n);

/* ------------------------------------------------------------------ validate.c */

#if HAK_DEBUG
/* Invariant checker: every slab record and list of h is consistent. */
void _hak_tiny_validate_heap(struct tiny_heap *h);
#endif

#endif
