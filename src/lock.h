/* lock.h — the spin lock that guards hakmem's few global slow-path
 * structures, and what fork does with every such lock.
 *
 * Fork (SPEC §2): each lock is defined with HAK_LOCK_DEFINE and a rank;
 * the prepare handler takes every lock in rank order (a lock nested inside
 * another has the higher rank), so the structures they guard are whole in
 * the child, which re-initialises them. A thread that forks while it holds
 * a lock itself (fork from a signal handler that interrupted hakmem) skips
 * its own locks and waits only a bounded time for the others: a lock it
 * could not take is marked torn in the child, whose module then leaks what
 * that lock guards rather than trusting it. Between the prepare handler and
 * the parent or child one, the forking thread may still allocate (other
 * libraries' fork handlers do): its critical sections borrow the locks it
 * holds for the fork, whose data no other thread can be changing. */
#ifndef HAK_LOCK_H
#define HAK_LOCK_H

#include "internal.h"
#include <stdatomic.h>

/* held: 0 free, else the holder's token (hak_lock_self), plus in its low
 * bits the fork nesting level when the holder took it for a fork. torn: set
 * in a fork child (see _hak_lock_fork_child), read and cleared by the
 * lock's module. */
typedef struct {
    _Atomic uintptr_t held;
    bool torn;
} hak_lock_t;

#define HAK_LOCK_INIT { 0, false }

/* Locks this thread holds or is taking now, fork holds aside (fork's
 * prepare handler asks). It is raised before a lock is taken and lowered
 * after it is released, with a signal fence between, so that a signal
 * handler that forks never sees 0 while this thread holds a lock: its
 * prepare would then wait without bound for a lock whose holder may be
 * waiting for the interrupted one. Aligned to 8, its address leaves three
 * low bits for the level. */
extern hak_tls uintptr_t _hak_lock_depth;

/* A thread's token: the address of its own TLS word (never 0, low bits 0). */
hak_inline uintptr_t hak_lock_self(void) { return (uintptr_t)&_hak_lock_depth; }

void _hak_lock_slow(hak_lock_t *l);

hak_inline void hak_lock(hak_lock_t *l)
{
    _hak_lock_depth++;
    atomic_signal_fence(memory_order_seq_cst);
    uintptr_t free_ = 0;
    if (hak_likely(atomic_compare_exchange_strong_explicit(&l->held, &free_, hak_lock_self(), memory_order_acquire,
                                                           memory_order_relaxed)))
        return;
    _hak_lock_slow(l);
}

hak_inline bool hak_trylock(hak_lock_t *l)
{
    _hak_lock_depth++;
    atomic_signal_fence(memory_order_seq_cst);
    uintptr_t free_ = 0;
    if (atomic_compare_exchange_strong_explicit(&l->held, &free_, hak_lock_self(), memory_order_acquire,
                                                memory_order_relaxed))
        return true;
    _hak_lock_depth--;
    return false;
}

/* A lock this thread holds for a fork is only borrowed by its critical
 * sections (see _hak_lock_slow): unlocking leaves the fork's hold. */
hak_inline void hak_unlock(hak_lock_t *l)
{
    if (hak_likely(atomic_load_explicit(&l->held, memory_order_relaxed) == hak_lock_self()))
        atomic_store_explicit(&l->held, 0, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    _hak_lock_depth--;
}

/* A field written under a lock but also glanced at without it (to skip the
 * lock when there is nothing to do) is written and glanced at with these,
 * so the unlocked look is a relaxed atomic access, not a data race. */
#define HAK_PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define HAK_POKE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* ---- fork ---- */

/* Where a lock (or an array of count locks, stride bytes apart) is listed
 * for fork, with its rank. */
struct hak_lock_entry {
    hak_lock_t *lock;
    unsigned count;
    size_t stride;
    unsigned rank;
};

#define HAK_LOCK_CAT_(a, b) a##b
#define HAK_LOCK_CAT(a, b) HAK_LOCK_CAT_(a, b)
/* Lists the lock at address `lock` (count of them, stride apart) in the
 * section fork walks. */
#define HAK_LOCK_LIST(lock, count, stride, rank)                                                                 \
    static const struct hak_lock_entry HAK_LOCK_CAT(hak_lock_entry_, __LINE__)                                   \
        __attribute__((used, section("hak_locks"), aligned(sizeof(void *)))) = { (lock), (count), (stride), (rank) }
/* Defines a lock (with its storage class before it) and lists it. */
#define HAK_LOCK_DEFINE(name, rank)                                                                              \
    hak_lock_t name = HAK_LOCK_INIT;                                                                             \
    HAK_LOCK_LIST(&name, 1, 0, rank)

/* Ranks: a lock taken while another is held ranks after it. */
enum {
    HAK_RANK_STATS_PRINT = 10, /* over everything the stats read */
    HAK_RANK_PURGE_FLUSH = 20, /* over what the purge callbacks take */
    HAK_RANK_CONFIG = 30,
    HAK_RANK_POLICY = 40,
    HAK_RANK_COUNTERS = 50,
    HAK_RANK_TINY_REGISTRY = 60, /* over meta */
    HAK_RANK_TINY_ABANDONED = 70,
    HAK_RANK_SS_ORPHANS = 80,
    HAK_RANK_SS_LIVE = 90,
    HAK_RANK_SS_CACHE = 100,
    HAK_RANK_FB_CACHE = 110,
    HAK_RANK_ARENA = 120,
    HAK_RANK_BIGCACHE = 130,
    HAK_RANK_META = 140,
    HAK_RANK_PURGE_QUEUE = 150,
};

/* The prepare handler: takes every listed lock for the fork, in rank
 * order, except those this thread holds; with bounded, waits only so long
 * for each. Forks nest (a signal handler's fork inside a fork): each level
 * marks its own holds. */
void _hak_lock_fork_prepare(bool bounded);
/* The parent: releases what the matching prepare took. */
void _hak_lock_fork_parent(void);
/* The child: every lock free again; torn set on each that was held by a
 * critical section (this thread's, interrupted, or a thread that is gone). */
void _hak_lock_fork_child(void);

/* In the child: whether l's data may be torn (and clears the mark). */
hak_inline bool hak_lock_torn(hak_lock_t *l)
{
    bool t = l->torn;
    l->torn = false;
    return t;
}

#endif
