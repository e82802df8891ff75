/* huge.h — blocks at or above the mmap threshold: one 2 MiB-aligned mapping
 * each, with a header (size, call site, state) kept in metadata memory so
 * that the user pointer stays aligned. Freed blocks go to BigCache when it
 * is on, and otherwise back to the OS through the madvise batch. */
#ifndef HAK_HUGE_H
#define HAK_HUGE_H

#include "../internal.h"
#include <stdatomic.h>

enum { HUGE_LIVE = 1, HUGE_CACHED = 2, HUGE_FREED = 3 };

struct huge_hdr {
    void *user;            /* the pointer handed out: start of a chunk */
    size_t size;           /* bytes requested */
    size_t map_size;       /* bytes mapped at user (a chunk multiple) */
    uintptr_t site;        /* call site */
    _Atomic int state;     /* LIVE → CACHED (in BigCache) → LIVE again, or → FREED */
    struct huge_hdr *link; /* BigCache's list of blocks to release */
};

/* Sets up BigCache's release path; once, at start-up. */
void _hak_huge_init(void);
/* A block of n bytes aligned to align (a power of two) for site from
 * BigCache, or NULL (errno untouched) when it has none or is off. */
void *_hak_huge_reuse(size_t n, size_t align, uintptr_t site);
/* A block of n bytes aligned to align (a power of two) for site, mapped
 * anew: it reads as zero. NULL + ENOMEM on failure. */
void *_hak_huge_map(size_t n, size_t align, uintptr_t site);
/* Frees the block whose chunk entry points at h (p: the pointer given). */
void _hak_huge_free(struct huge_hdr *h, void *p, const char *fn);
/* Resizes a live block in place when n fits its mapping, unmapping whole
 * chunks it no longer needs; false if it must move. */
bool _hak_huge_resize(struct huge_hdr *h, size_t n);
/* Usable bytes: the request rounded up to pages; 0 and a report if p is not
 * a live block's start. */
size_t _hak_huge_usable(struct huge_hdr *h, void *p, const char *fn);
/* Live huge blocks and their mapped bytes (cached ones not counted). */
void _hak_huge_totals(size_t *count, size_t *bytes);
/* The most huge blocks, and bytes mapped for them, live at once so far. */
void _hak_huge_peaks(size_t *count, size_t *bytes);

#endif
