/* bigcache.h — freed huge blocks kept per call site for reuse (SPEC §5.2):
 * a table of sites, a few slots each, under byte budgets (each site's,
 * following its misses, and one for all); a request takes
 * the smallest block of its site that holds it, cut to fit when the whole
 * would waste too much (the tail stays cached), and a block put back joins
 * the cached blocks it adjoins; what leaves the cache goes to a release
 * callback (the madvise batch's unmap). */
#ifndef HAK_BIGCACHE_H
#define HAK_BIGCACHE_H

#include "../internal.h"

struct huge_hdr;

/* What the cache does to blocks through huge.c, which owns their headers
 * and chunk map entries (set once, at start-up). */
struct bigcache_ops {
    /* Gives h back to the OS. */
    void (*release)(struct huge_hdr *h);
    /* Cuts h after keep bytes (a chunk multiple below h->map_size) and
     * returns the rest as a cached block of its own; NULL (h unchanged)
     * when no header can be had. */
    struct huge_hdr *(*split)(struct huge_hdr *h, size_t keep);
    /* b starts where a ends: a grows over b, whose header is gone. */
    void (*join)(struct huge_hdr *a, struct huge_hdr *b);
};
void _hak_bigcache_init(const struct bigcache_ops *ops);
/* The smallest cached block of site that holds n bytes, taken out of the
 * cache; cut to the chunks n needs when it would waste more than
 * bigcache.max_waste of itself whole. NULL on a miss. */
struct huge_hdr *_hak_bigcache_get(size_t n, uintptr_t site);
/* Keeps h for h->site, joined with the site's cached blocks it adjoins;
 * false if it cannot be kept (the caller releases it). */
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
