/* os.h — the one layer that talks to the kernel: every mmap, munmap, madvise,
 * futex and clock read in hakmem goes through these functions, which count
 * the calls that map, unmap, advise, sleep and wake (os.* counters).
 *
 * Contract: sizes are > 0 and multiples of HAK_PAGE_SIZE; addresses are
 * page-aligned. Mapping returns NULL with errno = ENOMEM on failure (never
 * MAP_FAILED). Unmap and advise return 0 or -1 with errno set; callers treat a
 * failed unmap as a leak, never as a reason to reuse the range.
 * Tests swap the primitives with _hak_os_set_ops() to count or fail calls. */
#ifndef HAK_OS_H
#define HAK_OS_H

#include "internal.h"

struct hak_os_ops {
    void *(*map)(size_t size);                     /* anonymous, read-write, private */
    int (*unmap)(void *p, size_t size);
    int (*advise)(void *p, size_t size, int advice);
    uint64_t (*now_ns)(void);                      /* CLOCK_MONOTONIC */
};

/* Replaces the primitives (NULL restores the real ones). Not thread-safe:
 * for tests, before the allocator is used. */
void _hak_os_set_ops(const struct hak_os_ops *ops);

void *_hak_os_map(size_t size);
/* A mapping of size bytes aligned to align (a power of two, ≥ page). */
void *_hak_os_map_aligned(size_t size, size_t align);
int _hak_os_unmap(void *p, size_t size);
int _hak_os_advise(void *p, size_t size, int advice);
/* Makes the pages inaccessible (PROT_NONE): a guard against stray accesses
 * (secure mode). Real mprotect whatever the ops; 0 or -1 with errno. */
int _hak_os_guard(void *p, size_t size);
uint64_t _hak_os_now_ns(void);
/* A memory barrier on every running thread of the process
 * (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), registered on first use):
 * what one thread stored before it is visible to the caller after, and
 * what the caller stored before it is visible to the others' later loads,
 * though they used no fence. 0, or -1 where the kernel has no such call
 * (Linux < 4.14, or refused). */
int _hak_os_membarrier(void);
/* Sleeps while *word == val (futex wait, private), until a wake on word or
 * for at most timeout_ns; returns at once if *word != val, and may return
 * early (a signal). Wakes up to one thread sleeping on word. Both keep
 * errno. */
void _hak_os_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns);
void _hak_os_wake(_Atomic uint32_t *word);
/* The same clock read at the last timer tick (CLOCK_MONOTONIC_COARSE): up
 * to a tick (1-10 ms) behind _hak_os_now_ns, never ahead, and about 7 ns
 * instead of 24 here. For stamps and due checks on the purge delay's scale,
 * which hot slow paths make. */
uint64_t _hak_os_coarse_ns(void);
/* CPU time the whole process has used (CLOCK_PROCESS_CPUTIME_ID), in ns: a
 * system call, for the learning windows' boundaries only. */
uint64_t _hak_os_cpu_ns(void);

/* Bytes hakmem has mapped and not unmapped: kept whatever the counters
 * setting, since mallinfo2 reports it. */
size_t _hak_os_mapped(void);

/* Whether the process's address space is limited (RLIMIT_AS below
 * infinity): then address space, not only memory, is worth giving back. */
bool _hak_os_as_limited(void);
/* Minor page faults of the process so far (getrusage). */
long _hak_os_minflt(void);
/* Resident set size in bytes (/proc/self/statm), or 0. */
size_t _hak_os_rss(void);
/* 64 random bits from the kernel (getrandom), or a clock-derived value. */
uint64_t _hak_os_random(void);

#endif
