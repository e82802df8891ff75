/* arena.h — the large tier (above the slab classes, below the mmap
 * threshold): runs of 64 KiB units carved from big reserved regions, reused
 * without a system call, purged through the madvise batch: once unused for
 * madvise.delay, and oldest first beyond what recent demand explains. */
#ifndef HAK_ARENA_H
#define HAK_ARENA_H

#include "../internal.h"

struct arena_region;

/* A block of n bytes, 64 KiB-aligned; *zeroed tells whether it reads as
 * zero. NULL (errno ENOMEM) when no region can hold it. With resident,
 * only from a free run still resident that holds it whole (no fault, no
 * system call), else NULL with errno untouched. */
void *_hak_arena_alloc(size_t n, bool resident, bool *zeroed);
/* Frees p, which lies in region r (from the chunk map); fn names the public
 * function for reports of invalid and double frees. */
void _hak_arena_free(struct arena_region *r, void *p, const char *fn);
/* Large demand fell outside the arena (a huge block was freed): the free
 * runs it keeps are checked against the new figure at once, since where no
 * purger thread runs nothing else would before the process idles. */
void _hak_arena_demand_fell(void);
/* Usable bytes of p (the whole run), or 0 and a report. */
size_t _hak_arena_usable(struct arena_region *r, void *p, const char *fn);
/* Grows or shrinks p's run in place to hold n bytes; false if it cannot. */
bool _hak_arena_resize(struct arena_region *r, void *p, size_t n);
/* Queues every resident free run for purging (malloc_trim); bytes queued. */
size_t _hak_arena_trim(void);
/* Reserved, allocated and resident-free bytes. */
void _hak_arena_totals(size_t *reserved, size_t *used, size_t *dirty);
/* The decay function registered with the purger (purge.h). */
uint64_t _hak_arena_decay(uint64_t now_ns);
void _hak_arena_fork_child(void);

#endif
