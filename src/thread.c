/* thread.c — per-thread exit handling: one pthread key, armed by the first
 * slow-path call of a thread that leaves state behind (a heap, queued
 * purges), whose destructor runs the exit functions registered at start-up.
 * A call after the destructor (another key's destructor allocating) arms it
 * again, and glibc then runs it once more (within its rounds of key
 * destructors; see `gone`).
 *
 * What runs at thread exit, from this destructor (SPEC §2): the exit
 * functions touch only this thread's own state and locked global lists,
 * start no thread (a thread started from an exiting one — say, a Python
 * daemon thread ending while the interpreter shuts down — is what crashed
 * before), and may run again on the same thread. */
#include "thread.h"
#include "vg.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

hak_tls struct hak_thread _hak_thread = { .tiny = TINY_TLS_INIT };

/* glibc sets this object up for every new thread, often on a freshly mapped
 * stack: each 4 KiB it grows can cost a thread start a page fault. */
_Static_assert(sizeof(struct hak_thread) <= 2048, "big per-thread tables belong in the thread's heap");

static pthread_key_t key;
static _Atomic int key_state; /* 0 none, 1 being created, 2 ready */
static void (*exit_fns[4])(void);
static unsigned nexit;

static void on_exit_destructor(void *arg)
{
    (void)arg;
    _hak_thread.armed = false;
    _hak_thread.gone = true;
    HAK_VG_QUIET_BEGIN(); /* the exit functions walk the free lists in freed blocks */
    for (unsigned i = 0; i < nexit; i++)
        exit_fns[i]();
    HAK_VG_QUIET_END();
}

void _hak_thread_on_exit(void (*fn)(void))
{
    hak_assert(nexit < sizeof exit_fns / sizeof exit_fns[0]);
    exit_fns[nexit++] = fn;
}

void _hak_thread_key_create(void)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&key_state, &expected, 1)) {
        atomic_store(&key_state, pthread_key_create(&key, on_exit_destructor) == 0 ? 2 : 0);
        return;
    }
    while (atomic_load(&key_state) == 1)
        sched_yield();
}

void _hak_thread_arm(void)
{
    if (hak_likely(_hak_thread.armed))
        return;
    if (atomic_load(&key_state) != 2)
        _hak_thread_key_create();
    /* The value only has to be non-NULL; pthread_setspecific may allocate
     * (keys past the first 32), which is fine: armed is set first. */
    _hak_thread.armed = true;
    if (atomic_load(&key_state) == 2)
        pthread_setspecific(key, &_hak_thread);
}
