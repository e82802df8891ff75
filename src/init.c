/* init.c — start-up, the bootstrap area, the library constructor and
 * destructor, and the fork child handler. No lock is taken before fork:
 * the child resets every lock and retires the heaps of threads that did not
 * survive (see each module's *_fork_child). */
#include "init.h"
#include "config.h"
#include "fmt.h"
#include "meta.h"
#include "options.h"
#include "stats.h"
#include "alloc.h"
#include "large/arena.h"
#include "large/bigcache.h"
#include "large/huge.h"
#include "large/madvise.h"
#include "policy/policy.h"
#include "tiny/tiny.h"
#include "vg.h"
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

_Atomic int _hak_state;
static hak_tls int init_depth;

/* Requests made while initialisation runs on this thread (none are expected:
 * nothing start-up calls allocates; this is the safety net). */
#define BOOTSTRAP_SIZE (64 * 1024)
static char bootstrap[BOOTSTRAP_SIZE] __attribute__((aligned(64)));
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

static void init_once(void)
{
    struct hak_load_args args = { NULL, NULL, true, 2 };
    _hak_config_load(&_hak_cfg, &args);
    if (HAK_OPT(strict_config) && _hak_cfg.errors) {
        _hak_dprintf(2, "hakmem: config: %u error%s and strict_config is set; exiting\n", _hak_cfg.errors,
                     _hak_cfg.errors == 1 ? "" : "s");
        _exit(1);
    }
    _hak_tiny_init();
    _hak_policy_init();
    _hak_huge_init();
    /* What keeps freed memory resident decays through the purger. */
    _hak_madv_register_decay(_hak_tiny_decay);
    _hak_madv_register_decay(_hak_arena_decay);
    _hak_madv_register_decay(_hak_bigcache_decay);
    /* At thread exit: the heap back first (it may queue purges), then the
     * batch flushed (SPEC §5.5). */
    _hak_thread_on_exit(_hak_tiny_thread_exit);
    _hak_thread_on_exit(_hak_madv_thread_exit);
    _hak_thread_on_exit(_hak_policy_thread_exit);
}

bool _hak_init_slow(void)
{
    int s = atomic_load_explicit(&_hak_state, memory_order_acquire);
    if (s == HAK_STATE_READY)
        return true;
    if (init_depth)
        return false;
    int expected = HAK_STATE_NONE;
    if (atomic_compare_exchange_strong(&_hak_state, &expected, HAK_STATE_INIT)) {
        init_depth = 1;
        init_once();
        atomic_store_explicit(&_hak_state, HAK_STATE_READY, memory_order_release);
        init_depth = 0;
        return true;
    }
    while (atomic_load_explicit(&_hak_state, memory_order_acquire) != HAK_STATE_READY)
        sched_yield();
    return true;
}

static void fork_child(void)
{
    HAK_VG_QUIET_BEGIN(); /* retiring the heaps of lost threads walks their free lists */
    _hak_meta_fork_child();
    _hak_config_fork_child();
    _hak_stats_fork_child();
    _hak_madv_fork_child();
    _hak_arena_fork_child();
    _hak_bigcache_fork_child();
    _hak_tiny_fork_child();
    _hak_policy_fork_child();
    _hak_madv_start_pending(); /* the child is consistent again */
    HAK_VG_QUIET_END();
}

__attribute__((constructor)) static void hak_constructor(void)
{
    hak_ready();
    _hak_thread_key_create();
    /* pthread_atfork allocates; by now malloc is ours and ready. */
    pthread_atfork(NULL, NULL, fork_child);
}

__attribute__((destructor)) static void hak_destructor(void)
{
    _hak_stats_at_exit();
}
