/* purge.h — the process-wide purge service (SPEC §5.5, "batched madvise"):
 * ranges of memory to give back are queued and flushed together, and a
 * purger thread — started when freed memory waits for its delay, asleep
 * for up to madvise.linger while none does — purges what stays unused, so
 * resident memory follows the live heap even in a process that went idle.
 *
 * A service under both tiers: the arena, BigCache and huge blocks (large/)
 * and the SuperSlab and fallback slab caches (tiny/) queue their ranges and
 * register their decay functions here; it calls back only through those. */
#ifndef HAK_PURGE_H
#define HAK_PURGE_H

#include "internal.h"

/* Called after a queued range was advised or unmapped, outside every lock
 * of this module (the owner marks the range reusable, or forgets it). */
typedef void (*hak_purge_done_fn)(void *addr, size_t len, void *arg);

/* Queues [addr, addr + len) (page-aligned) to be given back: advised with
 * madvise.advice, or unmapped when unmap is true. The owner must not reuse
 * the range until done runs (or ever, for an unmap). Ranges under
 * madvise.min_bytes, and every range when madvise.batch is off, are done at
 * once, before this returns. */
void _hak_purge_queue(void *addr, size_t len, bool unmap, hak_purge_done_fn done, void *arg);

/* Gives [addr, addr + len) back now, with madvise.advice, outside the
 * queue: for memory its owner may write again as soon as this returns. */
void _hak_purge_now(void *addr, size_t len);

/* Gives back everything queued now (thread exit, malloc_trim). */
void _hak_purge_flush(void);
/* The thread-exit function: flush (and nothing else: no thread starts at
 * thread exit). */
void _hak_purge_thread_exit(void);

/* Asks for transparent huge pages on [addr, addr + len) (chunk-aligned),
 * if madvise.hugepages is on. */
void _hak_purge_hugepages(void *addr, size_t len);

/* madvise.delay in ns; 0 means freed memory is purged at once. */
uint64_t _hak_purge_delay_ns(void);

/* Whether memory purged with the configured advice reads back as zero
 * (MADV_DONTNEED does; MADV_FREE need not). */
bool _hak_purge_purge_zeroes(void);

/* A subsystem that keeps freed memory resident for reuse registers a decay
 * function: given the time, it queues what has been unused for the delay
 * (the tick flushes it) and returns when it next has something due (0:
 * nothing kept). */
typedef uint64_t (*hak_decay_fn)(uint64_t now_ns);
void _hak_purge_register_decay(hak_decay_fn fn);

/* Tells the purger something may become due. If its thread sleeps, it is
 * woken (a system call, the first kick of a sleep only); if there is none,
 * one is wanted: started by _hak_purge_start_pending, never from in here —
 * pthread_create allocates, and a kick may come from the middle of an
 * allocator operation. */
void _hak_purge_kick(void);

/* Starts the purger thread if a kick wanted one (or, with madvise.thread
 * off or no thread to be had, runs a due pass here). Called only where no
 * allocator operation is half done and no lock is held: at the end of the
 * out-of-line malloc and free paths. Does nothing on a thread whose exit
 * functions ran, or once the process exits. */
void _hak_purge_start_pending(void);

/* Whether passes come even while the process idles: a purger thread runs
 * them (madvise.thread on, or auto in a process running threads), or tests
 * drive them. Otherwise they run only on allocating threads, and memory
 * left for them stays resident for as long as the process idles. */
bool _hak_purge_idle_passes(void);

/* One pass of the purger: every decay function, and the queue if they
 * queued anything or its oldest range is due. Returns the next deadline, 0
 * if nothing is pending. */
uint64_t _hak_purge_tick(uint64_t now_ns);

/* Tests drive _hak_purge_tick themselves: no thread is started after this;
 * idle_passes is what _hak_purge_idle_passes answers from then on (the
 * purge rules of a process with a purger thread, or of one without). */
void _hak_purge_no_thread(bool idle_passes);

/* The library destructor: the process is exiting, no purger starts now. */
void _hak_purge_at_exit(void);

void _hak_purge_fork_child(void);

#endif
