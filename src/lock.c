/* lock.c — contended path of the spin lock (spin with a pause, then yield)
 * and the fork handling of every listed lock. */
#include "lock.h"
#include <sched.h>

hak_tls uintptr_t _hak_lock_depth __attribute__((aligned(8)));

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#define FORK_LEVEL_MASK ((uintptr_t)7)

/* _hak_lock_depth is already raised (hak_lock). */
void _hak_lock_slow(hak_lock_t *l)
{
    uintptr_t self = hak_lock_self();
    uintptr_t h = atomic_load_explicit(&l->held, memory_order_relaxed);
    if ((h & ~FORK_LEVEL_MASK) == self && (h & FORK_LEVEL_MASK))
        return; /* held by this thread for a fork: borrowed */
    for (unsigned spins = 0;; spins++) {
        uintptr_t free_ = 0;
        if (atomic_load_explicit(&l->held, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->held, &free_, self, memory_order_acquire, memory_order_relaxed))
            return;
        if (spins < 64)
            cpu_relax();
        else
            sched_yield();
    }
}

/* ------------------------------------------------------------------ fork */

extern const struct hak_lock_entry __start_hak_locks[] __attribute__((visibility("hidden")));
extern const struct hak_lock_entry __stop_hak_locks[] __attribute__((visibility("hidden")));

/* Yields a bounded prepare waits for a lock held by another thread. */
#define FORK_BOUNDED_YIELDS 2000

/* Fork nesting on this thread: levels 1..7 mark holds; deeper forks (a
 * signal handler forking inside seven others) take nothing. */
static hak_tls unsigned fork_level;

#define MAX_ENTRIES 64

/* The listed entries in rank order (stable: ties keep link order). */
static unsigned sorted(const struct hak_lock_entry **out)
{
    unsigned n = 0;
    for (const struct hak_lock_entry *e = __start_hak_locks; e < __stop_hak_locks && n < MAX_ENTRIES; e++) {
        unsigned j = n++;
        while (j > 0 && out[j - 1]->rank > e->rank) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = e;
    }
    return n;
}

static hak_lock_t *entry_lock(const struct hak_lock_entry *e, unsigned i)
{
    return (hak_lock_t *)((char *)e->lock + (size_t)i * e->stride);
}

static void fork_take(hak_lock_t *l, uintptr_t mark, bool bounded)
{
    uintptr_t self = hak_lock_self();
    for (unsigned tries = 0;; tries++) {
        uintptr_t h = atomic_load_explicit(&l->held, memory_order_relaxed);
        if (h && (h & ~FORK_LEVEL_MASK) == self)
            return; /* this thread's: held by an outer fork, or by the critical section a signal interrupted */
        uintptr_t free_ = 0;
        if (!h && atomic_compare_exchange_weak_explicit(&l->held, &free_, mark, memory_order_acquire,
                                                        memory_order_relaxed))
            return;
        if (bounded && tries >= FORK_BOUNDED_YIELDS)
            return; /* the child will see it held: torn */
        if (tries < 64)
            cpu_relax();
        else
            sched_yield();
    }
}

void _hak_lock_fork_prepare(bool bounded)
{
    unsigned level = ++fork_level;
    if (level > FORK_LEVEL_MASK)
        return;
    const struct hak_lock_entry *e[MAX_ENTRIES];
    unsigned n = sorted(e);
    uintptr_t mark = hak_lock_self() | level;
    for (unsigned k = 0; k < n; k++)
        for (unsigned i = 0; i < e[k]->count; i++)
            fork_take(entry_lock(e[k], i), mark, bounded);
}

void _hak_lock_fork_parent(void)
{
    unsigned level = fork_level--;
    if (level > FORK_LEVEL_MASK)
        return;
    uintptr_t mark = hak_lock_self() | level;
    for (const struct hak_lock_entry *e = __start_hak_locks; e < __stop_hak_locks; e++)
        for (unsigned i = 0; i < e->count; i++) {
            hak_lock_t *l = entry_lock(e, i);
            if (atomic_load_explicit(&l->held, memory_order_relaxed) == mark)
                atomic_store_explicit(&l->held, 0, memory_order_release);
        }
}

/* Only the forking thread exists here. A lock this thread held for a fork
 * (this one or an outer one) guards whole data; one held by a critical
 * section — this thread's, interrupted by the signal handler that forked,
 * or another thread's that the prepare could not wait out — may not. */
void _hak_lock_fork_child(void)
{
    fork_level--;
    uintptr_t self = hak_lock_self();
    for (const struct hak_lock_entry *e = __start_hak_locks; e < __stop_hak_locks; e++)
        for (unsigned i = 0; i < e->count; i++) {
            hak_lock_t *l = entry_lock(e, i);
            uintptr_t h = atomic_load_explicit(&l->held, memory_order_relaxed);
            bool fork_hold = (h & ~FORK_LEVEL_MASK) == self && (h & FORK_LEVEL_MASK) != 0;
            l->torn = h != 0 && !fork_hold;
            atomic_store_explicit(&l->held, 0, memory_order_relaxed);
        }
}
