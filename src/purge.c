/* purge.c — the purge queue and the purger thread (SPEC §5.5). */
#include "purge.h"
#include "counters.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "thread.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <time.h>

struct range {
    void *addr;
    size_t len;
    hak_purge_done_fn done;
    void *arg;
    bool unmap;
};

/* The queue (q_lock), and the copy a flush works on (flush_lock: flushes
 * run one at a time, so done callbacks never race each other here). */
#define QMAX 4096 /* the largest madvise.max_ranges */
static HAK_LOCK_DEFINE(q_lock, HAK_RANK_PURGE_QUEUE);
static HAK_LOCK_DEFINE(flush_lock, HAK_RANK_PURGE_FLUSH);
static hak_bss_large struct range queue[QMAX], work[QMAX];
static unsigned q_count;
static size_t q_bytes;
static uint64_t q_oldest; /* when the oldest queued range came in */
static _Atomic uint64_t q_total; /* ranges ever queued (written under q_lock): a pass sees whether it queued any */

static hak_decay_fn decays[4];
static unsigned ndecays;

static _Atomic bool running, kicked, wanted;
static _Atomic uint32_t parked; /* 1: the purger thread sleeps until a kick */
static bool no_thread, no_thread_idle; /* tests drive the passes themselves */

uint64_t _hak_purge_delay_ns(void) { return (uint64_t)HAK_OPT(madvise_delay) * 1000000u; }

bool _hak_purge_purge_zeroes(void) { return HAK_OPT(madvise_advice) == HAK_ADVICE_DONTNEED; }

static int advice(void) { return HAK_OPT(madvise_advice) == HAK_ADVICE_FREE ? MADV_FREE : MADV_DONTNEED; }

static void give_back(void *addr, size_t len, bool unmap)
{
    if (unmap) {
        _hak_os_unmap(addr, len);
        HAK_GCTR_ADD(madvise, unmaps, 1);
    } else if (_hak_os_advise(addr, len, advice()) != 0 && advice() == MADV_FREE) {
        /* MADV_FREE unknown to this kernel: DONTNEED does the job. */
        _hak_os_advise(addr, len, MADV_DONTNEED);
    }
    HAK_GCTR_ADD(madvise, bytes, len);
}

void _hak_purge_now(void *addr, size_t len) { give_back(addr, len, false); }

void _hak_purge_hugepages(void *addr, size_t len)
{
    if (HAK_OPT(madvise_hugepages) && len >= HAK_CHUNK_SIZE)
        _hak_os_advise(addr, len, MADV_HUGEPAGE); /* a hint: failure changes nothing */
}

void _hak_purge_queue(void *addr, size_t len, bool unmap, hak_purge_done_fn done, void *arg)
{
    if (!len)
        return;
    if (!HAK_OPT(madvise_batch) || len < (size_t)HAK_OPT(madvise_min_bytes)) {
        give_back(addr, len, unmap);
        HAK_GCTR_ADD(madvise, immediate, 1);
        if (done)
            done(addr, len, arg);
        return;
    }
    _hak_thread_arm(); /* flush what this thread queued when it exits */
    hak_lock(&q_lock);
    while (q_count >= (unsigned)HAK_OPT(madvise_max_ranges)) {
        hak_unlock(&q_lock);
        _hak_purge_flush();
        hak_lock(&q_lock);
    }
    queue[q_count++] = (struct range){ addr, len, done, arg, unmap };
    q_bytes += len;
    atomic_store_explicit(&q_total, atomic_load_explicit(&q_total, memory_order_relaxed) + 1, memory_order_relaxed);
    if (!q_oldest)
        q_oldest = _hak_os_now_ns();
    bool full = q_count >= (unsigned)HAK_OPT(madvise_max_ranges) || q_bytes >= (size_t)HAK_OPT(madvise_flush_bytes);
    hak_unlock(&q_lock);
    HAK_GCTR_ADD(madvise, queued, 1);
    if (full)
        _hak_purge_flush();
    else
        _hak_purge_kick();
}

/* Work in address order, so that adjacent ranges of one kind become one
 * system call (insertion sort: at most a few hundred entries). */
static void sort_work(unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct range r = work[i];
        unsigned j = i;
        while (j > 0 && (work[j - 1].unmap > r.unmap ||
                         (work[j - 1].unmap == r.unmap && (uintptr_t)work[j - 1].addr > (uintptr_t)r.addr))) {
            work[j] = work[j - 1];
            j--;
        }
        work[j] = r;
    }
}

void _hak_purge_flush(void)
{
    hak_lock(&flush_lock);
    hak_lock(&q_lock);
    unsigned n = q_count;
    for (unsigned i = 0; i < n; i++)
        work[i] = queue[i];
    q_count = 0;
    q_bytes = 0;
    q_oldest = 0;
    hak_unlock(&q_lock);
    if (n) {
        sort_work(n);
        for (unsigned i = 0; i < n;) {
            unsigned j = i + 1;
            char *end = (char *)work[i].addr + work[i].len;
            while (j < n && work[j].unmap == work[i].unmap && work[j].addr == end) {
                end += work[j].len;
                j++;
            }
            give_back(work[i].addr, (size_t)(end - (char *)work[i].addr), work[i].unmap);
            for (; i < j; i++)
                if (work[i].done)
                    work[i].done(work[i].addr, work[i].len, work[i].arg);
        }
        HAK_GCTR_ADD(madvise, batches, 1);
    }
    hak_unlock(&flush_lock);
}

void _hak_purge_thread_exit(void)
{
    _hak_purge_flush();
}

/* ------------------------------------------------------------------ purger */

void _hak_purge_register_decay(hak_decay_fn fn)
{
    hak_assert(ndecays < sizeof decays / sizeof decays[0]);
    decays[ndecays++] = fn;
}

static uint64_t earliest(uint64_t a, uint64_t b) { return !a ? b : !b ? a : a < b ? a : b; }

uint64_t _hak_purge_tick(uint64_t now)
{
    uint64_t next = 0;
    uint64_t seen = atomic_load_explicit(&q_total, memory_order_relaxed);
    for (unsigned i = 0; i < ndecays; i++)
        next = earliest(next, decays[i](now));
    /* What the decay functions queued was unused for the delay already: it
     * goes out now, with whatever else waits (one batch). Left queued, it
     * would wait up to another delay, resident and out of its owner's
     * reach: an empty SuperSlab out of the cache (a thread that needs one
     * then maps a new SuperSlab), a claimed unit, an arena run. */
    hak_lock(&q_lock);
    uint64_t due = !q_count ? 0 : atomic_load_explicit(&q_total, memory_order_relaxed) != seen ? now : q_oldest + _hak_purge_delay_ns();
    hak_unlock(&q_lock);
    if (due && due <= now) {
        _hak_purge_flush();
        due = 0;
    }
    return earliest(next, due);
}

/* The purger thread, and what keeps it safe (SPEC §2, §5.5):
 * - it never makes a single-threaded process multi-threaded (madvise.thread
 *   = auto): glibc then takes locks in fork and stdio that it skips
 *   otherwise, and a fork from a signal handler that interrupts a fork
 *   deadlocks in glibc itself; such a process purges inline instead;
 * - it is started only by _hak_purge_start_pending, at the end of the
 *   out-of-line malloc and free paths, where no allocator operation is half
 *   done and no lock of ours is held; never from a thread's exit functions,
 *   a fork handler, or once the library destructor ran (process exit);
 * - it is created with every signal blocked and detached, names itself,
 *   and its handle is never used (a detached thread's descriptor may be
 *   freed as soon as it exits);
 * - it touches only hakmem's own state, none of which exit tears down, and
 *   each step is one system call or a critical section, so the exit_group
 *   of a process exit may end it anywhere;
 * - its own exit starts nothing: the thread-exit functions only flush;
 * - a fork child has no purger, and starts none with madvise.thread = auto
 *   (it purges inline): threads created after a fork of a multi-threaded
 *   process are what POSIX leaves undefined and TSan refuses;
 * - when no thread can be created (RLIMIT_NPROC, no memory) the passes run
 *   inline on allocating threads until a retry is due.
 *
 * When nothing waits for its delay it sleeps until a kick wakes it (a
 * futex on `parked`) for up to madvise.linger, then leaves. A purger that
 * has left is started again only by an allocating thread's slow path,
 * never by a free (pthread_create allocates, and a free may come with the
 * loader's lock held: tests/integration/dlopen_tls), so what a process
 * frees as it goes idle waits for the lingering one. Kickers store
 * `kicked` then read `parked`; the thread stores `parked` then reads
 * `kicked`: one of them sees the other, and a wake that comes first makes
 * the wait return at once. Leaving, it stores `running` then reads
 * `kicked`, as kickers store `kicked` then read `running`: a kick that
 * came meanwhile keeps it (or a thread the kicker started carries on). */
static _Atomic bool exiting;       /* the library destructor ran */
static bool forked;                /* this process is a fork child */
static _Atomic uint64_t retry_at;  /* after a failed start: no thread before this (ns) */
static _Atomic uint64_t inline_due; /* inline passes: not before this (ns) */
static _Atomic bool inline_busy;   /* an inline pass is running */

/* Whether passes may run on a purger thread: madvise.thread on, or auto in
 * a process already running threads that is not a fork child. */
static bool thread_allowed(void)
{
    int64_t mode = HAK_OPT(madvise_thread);
    return mode == HAK_PURGER_ON || (mode == HAK_PURGER_AUTO && !__libc_single_threaded && !forked);
}

bool _hak_purge_idle_passes(void) { return no_thread ? no_thread_idle : _hak_purge_delay_ns() && thread_allowed(); }

static void sleep_until(uint64_t deadline)
{
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
}

static void *purger(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "hakmem-purge");
    uint64_t idle_since = 0; /* nothing pending since (ns); 0: something was */
    while (!atomic_load(&exiting)) { /* nothing is worth a pass once the process exits */
        atomic_store(&kicked, false);
        uint64_t now = _hak_os_now_ns(), next = _hak_purge_tick(now);
        if (next) {
            idle_since = 0;
            sleep_until(next);
            continue;
        }
        uint64_t linger = (uint64_t)HAK_OPT(madvise_linger) * 1000000u;
        if (!idle_since)
            idle_since = now;
        if (now - idle_since >= linger) {
            atomic_store(&running, false);
            bool expected = false;
            if (!atomic_load(&kicked) || !atomic_compare_exchange_strong(&running, &expected, true))
                return NULL;
            idle_since = 0;
            continue;
        }
        atomic_store(&parked, 1);
        if (!atomic_load(&kicked))
            _hak_os_wait(&parked, 1, idle_since + linger - now);
        atomic_store(&parked, 0);
        if (atomic_load(&kicked))
            idle_since = 0;
    }
    return NULL;
}

static bool start_thread(void)
{
    pthread_attr_t attr;
    sigset_t all, old;
    if (pthread_attr_init(&attr) != 0)
        return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    /* The thread takes none of the program's signals. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    bool ok = pthread_create(&t, &attr, purger, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    HAK_GCTR_ADD(madvise, threads, ok);
    HAK_GCTR_ADD(madvise, thread_fails, !ok);
    return ok;
}

void _hak_purge_kick(void)
{
    if (no_thread || !_hak_purge_delay_ns())
        return;
    atomic_store(&kicked, true);
    if (!atomic_load(&running))
        atomic_store(&wanted, true);
    else if (atomic_load(&parked) && atomic_exchange(&parked, 0))
        _hak_os_wake(&parked);
}

/* One purger pass on this thread, if one is due and none is running. */
static void tick_inline(uint64_t now)
{
    if (now < atomic_load_explicit(&inline_due, memory_order_relaxed) || atomic_exchange(&inline_busy, true))
        return;
    atomic_store(&wanted, false);
    uint64_t next = _hak_purge_tick(now);
    HAK_GCTR_ADD(madvise, inline_ticks, 1);
    /* At most a pass per eighth of the delay: a kick wants one only after
     * the delay, and a pass walks every decaying list. */
    uint64_t gap = now + _hak_purge_delay_ns() / 8;
    atomic_store_explicit(&inline_due, next > gap ? next : gap, memory_order_relaxed);
    if (next)
        atomic_store(&wanted, true);
    atomic_store(&inline_busy, false);
}

#define PURGE_LOOK_EVERY 16 /* slow calls per look at the clock: a due pass waits at most as many */
static hak_noinline void start_pending_slow(void)
{
    if (no_thread || _hak_thread.gone || atomic_load(&exiting))
        return;
    /* Until a pass is due every slow call of the process would land here:
     * the next PURGE_LOOK_EVERY - 1 skip it, and the clock read is the
     * coarse one (a tick behind at most), for a third of the cost. */
    bool allowed = thread_allowed();
    if (!allowed || atomic_load_explicit(&retry_at, memory_order_relaxed)) {
        uint64_t soon = _hak_os_coarse_ns();
        if (!allowed || soon < atomic_load_explicit(&retry_at, memory_order_relaxed)) {
            _hak_thread.purge_skip = PURGE_LOOK_EVERY - 1;
            if (soon >= atomic_load_explicit(&inline_due, memory_order_relaxed))
                tick_inline(_hak_os_now_ns());
            return;
        }
    }
    if (!atomic_exchange(&wanted, false))
        return;
    bool expected = false;
    if (atomic_compare_exchange_strong(&running, &expected, true) && !start_thread()) {
        atomic_store(&running, false);
        atomic_store_explicit(&retry_at, _hak_os_now_ns() + _hak_purge_delay_ns(), memory_order_relaxed);
        atomic_store(&wanted, true);
    }
}

void _hak_purge_start_pending(void)
{
    if (hak_likely(!atomic_load_explicit(&wanted, memory_order_relaxed)))
        return;
    if (_hak_thread.purge_skip) {
        _hak_thread.purge_skip--;
        return;
    }
    start_pending_slow();
}

void _hak_purge_no_thread(bool idle_passes)
{
    no_thread = true;
    no_thread_idle = idle_passes;
}

void _hak_purge_at_exit(void) { atomic_store(&exiting, true); }

void _hak_purge_fork_child(void)
{
    /* The purger did not survive the fork; a later call in the child
     * starts another (never this handler). */
    atomic_store(&running, false);
    atomic_store(&kicked, false);
    atomic_store(&parked, 0);
    atomic_store(&inline_busy, false);
    forked = true;
    atomic_store_explicit(&retry_at, 0, memory_order_relaxed);
    /* Cut short mid-update (a signal handler forked): the queue, or the
     * flush's copy of it, is dropped; those ranges stay resident (and
     * their owners' runs unusable) in the child. */
    if (hak_lock_torn(&q_lock))
        q_count = 0, q_bytes = 0, q_oldest = 0;
    (void)hak_lock_torn(&flush_lock);
    atomic_store(&wanted, q_count != 0);
}
