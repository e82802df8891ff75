/* os.c — kernel primitives behind the OS layer contract of os.h, with counts. */
#include "os.h"
#include "counters.h"
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void *real_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int real_unmap(void *p, size_t size) { return munmap(p, size); }
static int real_advise(void *p, size_t size, int advice) { return madvise(p, size, advice); }

static uint64_t real_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The same clock as of the last timer tick: a few ms behind, at a quarter
 * of the cost (no TSC read). */
static uint64_t real_coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t _hak_os_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const struct hak_os_ops real_ops = { real_map, real_unmap, real_advise, real_now_ns };
static const struct hak_os_ops *ops = &real_ops;
static _Atomic size_t mapped; /* beside a system call each time: the add is free */

size_t _hak_os_mapped(void) { return atomic_load_explicit(&mapped, memory_order_relaxed); }

void _hak_os_set_ops(const struct hak_os_ops *o) { ops = o ? o : &real_ops; }

void *_hak_os_map(size_t size)
{
    hak_assert(size > 0 && size % HAK_PAGE_SIZE == 0);
    void *p = ops->map(size);
    if (!p) {
        HAK_GCTR_ADD(os, mmap_fail, 1);
        errno = ENOMEM;
        return NULL;
    }
    atomic_fetch_add_explicit(&mapped, size, memory_order_relaxed);
    HAK_GCTR_ADD(os, mmap, 1);
    HAK_GCTR_ADD(os, mmap_bytes, size);
    return p;
}

int _hak_os_unmap(void *p, size_t size)
{
    hak_assert(((uintptr_t)p & (HAK_PAGE_SIZE - 1)) == 0 && size % HAK_PAGE_SIZE == 0);
    int saved = errno;
    int r = ops->unmap(p, size);
    if (r == 0) {
        atomic_fetch_sub_explicit(&mapped, size, memory_order_relaxed);
        HAK_GCTR_ADD(os, munmap, 1);
        HAK_GCTR_ADD(os, munmap_bytes, size);
        errno = saved;
    }
    return r;
}

void *_hak_os_map_aligned(size_t size, size_t align)
{
    hak_assert(hak_is_pow2(align) && align >= HAK_PAGE_SIZE);
    if (align == HAK_PAGE_SIZE)
        return _hak_os_map(size);
    size_t over = size + align - HAK_PAGE_SIZE;
    if (over < size) {
        errno = ENOMEM;
        return NULL;
    }
    char *p = _hak_os_map(over);
    if (!p)
        return NULL;
    uintptr_t start = (uintptr_t)p, aligned = hak_align_up(start, align);
    size_t head = aligned - start, tail = over - head - size;
    if (head)
        _hak_os_unmap(p, head);
    if (tail)
        _hak_os_unmap((char *)aligned + size, tail);
    return (void *)aligned;
}

int _hak_os_advise(void *p, size_t size, int advice)
{
    int saved = errno;
    int r = ops->advise(p, size, advice);
    HAK_GCTR_ADD(os, madvise, 1);
    HAK_GCTR_ADD(os, madvise_bytes, size);
    if (r == 0)
        errno = saved;
    return r;
}

int _hak_os_membarrier(void)
{
    int saved = errno;
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    if (r != 0 && errno == EPERM && syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        r = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    errno = saved;
    return r == 0 ? 0 : -1;
}

void _hak_os_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
    int saved = errno;
    struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
    HAK_GCTR_ADD(os, futex_wait, 1);
    errno = saved;
}

void _hak_os_wake(_Atomic uint32_t *word)
{
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    HAK_GCTR_ADD(os, futex_wake, 1);
    errno = saved;
}

int _hak_os_guard(void *p, size_t size)
{
    hak_assert(((uintptr_t)p & (HAK_PAGE_SIZE - 1)) == 0 && size % HAK_PAGE_SIZE == 0);
    int saved = errno;
    int r = mprotect(p, size, PROT_NONE);
    if (r == 0)
        errno = saved;
    return r;
}

uint64_t _hak_os_now_ns(void) { return ops->now_ns(); }

/* Swapped primitives (tests) have one clock: theirs. */
uint64_t _hak_os_coarse_ns(void) { return ops == &real_ops ? real_coarse_ns() : ops->now_ns(); }

bool _hak_os_as_limited(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
}

long _hak_os_minflt(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : 0;
}

size_t _hak_os_rss(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = buf;
    while (*p && *p != ' ')
        p++;
    size_t pages = 0;
    while (*p == ' ')
        p++;
    while (*p >= '0' && *p <= '9')
        pages = pages * 10 + (size_t)(*p++ - '0');
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

uint64_t _hak_os_random(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    /* No entropy yet (early boot): mix the clock and an address. */
    v = real_now_ns() ^ ((uint64_t)(uintptr_t)&v << 17);
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return v;
}
