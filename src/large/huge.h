/* huge.h — blocks above the slab tiers: one 2 MiB-aligned mapping each, with
 * a header (size, call site, state) kept in metadata memory so the user
 * pointer stays aligned. Until the large-block arena lands, every request
 * above mid.max_size is served here. */
#ifndef HAK_HUGE_H
#define HAK_HUGE_H

#include "../internal.h"
#include <stdatomic.h>

enum { HUGE_LIVE = 1, HUGE_FREED = 2 };

struct huge_hdr {
    void *user;            /* the pointer handed out: start of a chunk */
    size_t size;           /* bytes requested */
    size_t map_size;       /* bytes mapped at user (a chunk multiple) */
    uintptr_t site;        /* call site */
    _Atomic int state;     /* HUGE_LIVE → HUGE_FREED exactly once */
};

/* A block of n bytes aligned to align (a power of two); NULL + ENOMEM. */
void *_hak_huge_alloc(size_t n, size_t align, uintptr_t site);
/* Frees the block whose chunk entry points at h (p: the pointer given). */
void _hak_huge_free(struct huge_hdr *h, void *p, const char *fn);
/* Resizes a live block in place when n fits its mapping, unmapping whole
 * chunks it no longer needs; false if it must move. */
bool _hak_huge_resize(struct huge_hdr *h, size_t n);
/* Usable bytes: the request rounded up to pages; 0 and a report if p is not
 * the block's start. */
size_t _hak_huge_usable(struct huge_hdr *h, void *p, const char *fn);
/* Live huge blocks and their mapped bytes. */
void _hak_huge_totals(size_t *count, size_t *bytes);

#endif
