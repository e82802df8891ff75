/* init.c — start-up, the bootstrap area, the library constructor and
 * destructor, and the fork handlers.
 *
 * Fork (SPEC §2): the prepare handler takes every lock of hakmem in rank
 * order (lock.h), so that whatever a lock guards is whole in the child;
 * the child re-initialises the locks and each module gives up what it
 * cannot trust: the heaps of the threads that are gone (never read), and
 * what a lock the fork cut short guarded. Invariants of the child handler:
 * it runs on the one thread there is, which need not be the main thread;
 * it takes no lock, allocates nothing and starts no thread. A fork from a
 * signal handler that interrupted hakmem on this thread (glibc supports it
 * in single-threaded processes, and a fork inside a fork, bug 24161) skips
 * the locks this thread holds and waits only so long for the others. */
#include "init.h"
#include "check.h"
#include "config.h"
#include "fmt.h"
#include "lock.h"
#include "meta.h"
#include "options.h"
#include "stats.h"
#include "large/arena.h"
#include "large/bigcache.h"
#include "large/huge.h"
#include "purge.h"
#include "policy/policy.h"
#include "tiny/tiny.h"
#include "vg.h"
#include <pthread.h>
#include <sched.h>
#include <sys/single_threaded.h>
#include <unistd.h>

_Atomic int _hak_state;
static hak_tls int init_depth;

/* Requests made while initialisation runs on this thread (none are expected:
 * nothing start-up calls allocates; this is the safety net). */
#define BOOTSTRAP_SIZE (64 * 1024)
static hak_bss_large char bootstrap[BOOTSTRAP_SIZE] __attribute__((aligned(64)));
static _Atomic size_t bootstrap_used;

/* Each block is preceded by its size (one word), for usable_size and
 * realloc. */
void *_hak_bootstrap_alloc(size_t n, size_t align)
{
    if (align < 16)
        align = 16;
    size_t old = atomic_load_explicit(&bootstrap_used, memory_order_relaxed);
    for (;;) {
        size_t start = hak_align_up(old + sizeof(size_t), align);
        if (start > BOOTSTRAP_SIZE || n > BOOTSTRAP_SIZE - start)
            return NULL;
        if (atomic_compare_exchange_weak(&bootstrap_used, &old, start + (n ? n : 1))) {
            ((size_t *)(bootstrap + start))[-1] = n ? n : 1;
            return bootstrap + start;
        }
    }
}

size_t _hak_bootstrap_size(const void *p)
{
    /* Clamped to the area, should p not be a block start. */
    size_t left = (size_t)(bootstrap + BOOTSTRAP_SIZE - (const char *)p);
    size_t n = (const char *)p - bootstrap >= (ptrdiff_t)sizeof(size_t) ? ((const size_t *)p)[-1] : 1;
    return n < left ? n : left;
}

bool _hak_bootstrap_owns(const void *p)
{
    return (const char *)p >= bootstrap && (const char *)p < bootstrap + BOOTSTRAP_SIZE;
}

/* Defined by the hakmem command (cli/cli.c), whose own allocator takes nothing
 * from the environment and neither warns nor exits on a configuration
 * error: the settings are for the program it runs or the configuration it
 * shows, which report their errors themselves (else each warning would
 * show twice). Weak: NULL in every other program. */
extern const char _hak_command[] __attribute__((weak, visibility("default")));

static void init_once(void)
{
    bool command = _hak_command != NULL;
    struct hak_load_args args = { .use_env = !command, .warn_fd = command ? -1 : 2 };
    _hak_config_load(&_hak_cfg, &args);
    if (HAK_OPT(strict_config) && _hak_cfg.errors && !command) {
        _hak_dprintf(2, "hakmem: config: %u error%s and strict_config is set; exiting\n", _hak_cfg.errors,
                     _hak_cfg.errors == 1 ? "" : "s");
        _exit(1);
    }
    if (HAK_OPT(stats))
        _hak_stats_note_stderr(); /* what stderr is at start-up, for the report at exit */
    /* Here rather than in the constructor: a program that never allocates
     * leaves libc's key table untouched. Before any slab path can arm. */
    _hak_thread_key_create();
    _hak_check_init();
    _hak_tiny_init();
    _hak_policy_init();
    _hak_huge_init();
    /* What keeps freed memory resident decays through the purger. */
    _hak_purge_register_decay(_hak_tiny_decay);
    _hak_purge_register_decay(_hak_arena_decay);
    _hak_purge_register_decay(_hak_bigcache_decay);
    /* At thread exit: the heap back first (it may queue purges), then the
     * batch flushed (SPEC §5.5). */
    _hak_thread_on_exit(_hak_tiny_thread_exit);
    _hak_thread_on_exit(_hak_purge_thread_exit);
    _hak_thread_on_exit(_hak_policy_thread_exit);
}

/* From the library constructor (or the first allocation, should one come
 * first): prepare handlers run in the reverse order of registration, so one
 * registered this early runs after those of libraries that may allocate in
 * theirs. Once: should pthread_atfork allocate, the start-up that allocation
 * runs must not register again (it would wait for glibc's atfork lock,
 * which this thread holds). The handlers work before start-up too: the
 * locks are static and every module's child handler finds nothing set up. */
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);
static _Atomic bool fork_registered;
static void register_fork_handlers(void)
{
    if (!atomic_exchange(&fork_registered, true))
        pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Fork nesting of this thread: prepare handlers entered, not yet left
 * (a signal handler's fork inside a fork nests). */
static hak_tls unsigned fork_nest;

bool _hak_init_slow(void)
{
    if (init_depth)
        return false;
    for (;;) {
        int s = atomic_load_explicit(&_hak_state, memory_order_acquire);
        if (s == HAK_STATE_READY)
            return true;
        if (s == HAK_STATE_FORK && fork_nest)
            return false; /* a signal handler inside this thread's fork */
        if (s == HAK_STATE_NONE) {
            /* Set before the state changes: a fork from a signal handler
             * must know whose start-up it interrupts (fork_prepare). */
            init_depth = 1;
            int expected = HAK_STATE_NONE;
            if (atomic_compare_exchange_strong(&_hak_state, &expected, HAK_STATE_INIT)) {
                init_once();
                atomic_store_explicit(&_hak_state, HAK_STATE_READY, memory_order_release);
                init_depth = 0;
                register_fork_handlers();
                return true;
            }
            init_depth = 0;
            continue;
        }
        sched_yield(); /* another thread's start-up, or a fork, under way */
    }
}

/* glibc's stdio list lock, which its fork takes after the prepare handlers
 * (exported by libc.so.6 since 2.2.5; weak, so that a libc without it
 * links). A thread holding it (fflush(NULL)) waits for a FILE lock whose
 * holder may be inside getline's realloc: had the prepare handler taken
 * hakmem's locks first, that realloc would wait for the forking thread,
 * which would wait for the list lock — the deadlock of glibc's
 * tst-malloc-fork-deadlock. So the list lock comes first: the order is the
 * one glibc's own malloc uses (stdio before malloc). It is recursive, so
 * glibc's own taking of it in fork nests inside ours. */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

/* With the stdio lock only in a process that has had threads (glibc's
 * fork takes it only then, and without other threads there is no one to
 * deadlock with), outside any other fork of this thread (a signal handler's
 * fork that interrupted this very lock's taking would wait for itself), and
 * when this thread holds no lock of ours: otherwise it forks from a signal
 * handler that interrupted a critical section, and the prepare is bounded
 * (a thread waiting for that lock while holding another would wait for
 * ever). */
static hak_tls bool fork_stdio; /* the outermost prepare took it */
static hak_tls bool fork_held; /* the outermost prepare moved the state NONE → FORK */

static void fork_prepare(void)
{
    /* Not in the middle of another thread's start-up: the child, where
     * that thread is gone, would wait for it for ever (a program whose
     * first allocation is a thread's while another forks). So a start-up
     * under way is waited for, and none may begin until the fork is done
     * (NONE → FORK). A signal handler's fork inside this thread's own
     * start-up, or inside another fork, goes on: its child serves from the
     * bootstrap area. */
    bool bounded = _hak_lock_depth > 0 || _hak_tiny_busy();
    if (fork_nest++ != 0) {
        _hak_lock_fork_prepare(bounded);
        return;
    }
    fork_held = false;
    while (!init_depth) {
        int st = atomic_load_explicit(&_hak_state, memory_order_acquire);
        if (st == HAK_STATE_READY)
            break;
        if (st == HAK_STATE_NONE && atomic_compare_exchange_strong(&_hak_state, &st, HAK_STATE_FORK)) {
            fork_held = true;
            break;
        }
        sched_yield();
    }
    fork_stdio = !bounded && _IO_list_lock && !__libc_single_threaded;
    if (fork_stdio)
        _IO_list_lock();
    _hak_lock_fork_prepare(bounded);
}

/* Leaves the prepare this parent or child handler matches; whether it
 * took the stdio lock. The outermost gives start-up back (FORK → NONE). */
static bool fork_pop_stdio(void)
{
    if (--fork_nest != 0)
        return false;
    if (fork_held)
        atomic_store_explicit(&_hak_state, HAK_STATE_NONE, memory_order_release);
    return fork_stdio;
}

static void fork_parent(void)
{
    _hak_lock_fork_parent();
    if (fork_pop_stdio())
        _IO_list_unlock();
}

static void fork_child(void)
{
    /* glibc re-initialises the list lock in the child of a multi-threaded
     * process, the only kind where it is taken; so does this, whatever
     * glibc's own view of the process. */
    if (fork_pop_stdio())
        _IO_list_resetlock();
    _hak_lock_fork_child();
    _hak_meta_fork_child();
    _hak_purge_fork_child();
    _hak_arena_fork_child();
    _hak_bigcache_fork_child();
    HAK_VG_QUIET_BEGIN(); /* recounting this thread's lists reads its freed blocks */
    _hak_tiny_fork_child();
    HAK_VG_QUIET_END();
    _hak_policy_fork_child();
}

/* Start-up waits for the first allocation: a program that never allocates
 * (/bin/true) pays no configuration pass, and no memory for it. Only the
 * fork handlers are registered this early (see register_fork_handlers). */
__attribute__((constructor)) static void hak_constructor(void)
{
    register_fork_handlers();
}

/* Without start-up nothing was allocated: no state to save, no report. */
__attribute__((destructor)) static void hak_destructor(void)
{
    _hak_purge_at_exit();
    if (atomic_load_explicit(&_hak_state, memory_order_acquire) != HAK_STATE_READY)
        return;
    _hak_policy_at_exit(); /* before the stats, which count its write */
    _hak_stats_at_exit();
}
