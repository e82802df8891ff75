/* lock.h — the spin lock that guards hakmem's few global slow-path structures.
 * Never held across fork(): the child resets every lock (see init.c). */
#ifndef HAK_LOCK_H
#define HAK_LOCK_H

#include "internal.h"
#include <stdatomic.h>

typedef struct {
    _Atomic int held;
} hak_lock_t;

#define HAK_LOCK_INIT { 0 }

void _hak_lock_slow(hak_lock_t *l);

hak_inline void hak_lock(hak_lock_t *l)
{
    if (hak_likely(!atomic_exchange_explicit(&l->held, 1, memory_order_acquire)))
        return;
    _hak_lock_slow(l);
}

hak_inline bool hak_trylock(hak_lock_t *l)
{
    return !atomic_exchange_explicit(&l->held, 1, memory_order_acquire);
}

hak_inline void hak_unlock(hak_lock_t *l)
{
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

/* A field written under a lock but also glanced at without it (to skip the
 * lock when there is nothing to do) is written and glanced at with these,
 * so the unlocked look is a relaxed atomic access, not a data race. */
#define HAK_PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define HAK_POKE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* After fork, in the child: was the lock held by a thread that no longer
 * exists? Resets it and tells the caller whether its data may be torn. */
hak_inline bool hak_lock_reset_child(hak_lock_t *l)
{
    bool was = atomic_load_explicit(&l->held, memory_order_relaxed) != 0;
    atomic_store_explicit(&l->held, 0, memory_order_relaxed);
    return was;
}

#endif
