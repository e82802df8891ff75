/* bigcache.h — freed huge blocks kept per call site for reuse (SPEC §5.2):
 * a table of sites, a few slots each, matched by size with a bounded waste,
 * under a byte budget; what leaves the cache goes to a release callback
 * (the madvise batch's unmap). */
#ifndef HAK_BIGCACHE_H
#define HAK_BIGCACHE_H

#include "../internal.h"

struct huge_hdr;

/* How blocks that leave the cache are given back (set once by huge.c). */
void _hak_bigcache_init(void (*release)(struct huge_hdr *h));
/* A cached block of site that holds n bytes with little waste, taken out of
 * the cache; NULL on a miss. */
struct huge_hdr *_hak_bigcache_get(size_t n, uintptr_t site);
/* Keeps h for h->site; false if it cannot be kept (the caller releases it). */
bool _hak_bigcache_put(struct huge_hdr *h);
/* Releases everything cached (malloc_trim); bytes released. */
size_t _hak_bigcache_trim(void);
/* The decay function registered with the purger: blocks unused for the
 * delay leave the cache. */
uint64_t _hak_bigcache_decay(uint64_t now_ns);
/* Bytes held now. */
size_t _hak_bigcache_bytes(void);
/* The n sites with the most hits: site, hits, misses (returns how many). */
unsigned _hak_bigcache_top(unsigned n, uintptr_t *site, uint64_t *hits, uint64_t *misses);
void _hak_bigcache_fork_child(void);

#endif
