/* bigcache.c — the per-call-site cache of freed huge blocks. One lock; the
 * table is mapped on first use (bigcache.sites × bigcache.slots entries). */
#include "bigcache.h"
#include "huge.h"
#include "madvise.h"
#include "../counters.h"
#include "../lock.h"
#include "../options.h"
#include "../os.h"

struct site {
    uintptr_t site;           /* 0: unused */
    uint64_t hits, misses;
};

struct slot {
    struct huge_hdr *h;       /* NULL: empty */
    uint64_t at;              /* when it was cached (ns) */
};

static HAK_LOCK_DEFINE(bc_lock, HAK_RANK_BIGCACHE);
static struct site *sites;    /* [nsites] */
static struct slot *slots;    /* [nsites * nslots] */
static unsigned nsites, nslots;
static size_t held;           /* bytes of the cached blocks' mappings */
static void (*release_fn)(struct huge_hdr *);

void _hak_bigcache_init(void (*release)(struct huge_hdr *h)) { release_fn = release; }

static bool table(void)
{
    if (sites)
        return true;
    unsigned ns = (unsigned)HAK_OPT(bigcache_sites), nl = (unsigned)HAK_OPT(bigcache_slots);
    size_t bytes = hak_align_up(ns * sizeof(struct site) + (size_t)ns * nl * sizeof(struct slot), HAK_PAGE_SIZE);
    char *m = _hak_os_map(bytes); /* zero: all empty */
    if (!m)
        return false;
    slots = (struct slot *)(m + ns * sizeof(struct site));
    nsites = ns;
    nslots = nl;
    sites = (struct site *)m;
    return true;
}

static unsigned index_of(uintptr_t site)
{
    uint64_t x = (uint64_t)site * 0x9e3779b97f4a7c15ULL; /* return addresses differ in their low bits */
    return (unsigned)((x >> 32) % nsites);
}

/* Takes the block out of slot k onto the list (lock held). */
static void evict(unsigned k, struct huge_hdr **list)
{
    struct huge_hdr *h = slots[k].h;
    slots[k].h = NULL;
    held -= h->map_size;
    h->link = *list;
    *list = h;
    HAK_GCTR_ADD(bigcache, evictions, 1);
}

static void release_all(struct huge_hdr *list)
{
    while (list) {
        struct huge_hdr *next = list->link;
        release_fn(list);
        list = next;
    }
}

struct huge_hdr *_hak_bigcache_get(size_t n, uintptr_t site)
{
    hak_lock(&bc_lock);
    if (!table()) {
        hak_unlock(&bc_lock);
        return NULL;
    }
    unsigned i = index_of(site);
    struct site *s = &sites[i];
    struct slot *sl = &slots[(size_t)i * nslots];
    unsigned best = nslots;
    if (s->site == site) {
        uint64_t waste = (uint64_t)HAK_OPT(bigcache_max_waste);
        for (unsigned k = 0; k < nslots; k++) {
            struct huge_hdr *h = sl[k].h;
            if (h && h->map_size >= n && (h->map_size - n) * 100 <= waste * h->map_size &&
                (best == nslots || h->map_size < sl[best].h->map_size))
                best = k;
        }
    }
    struct huge_hdr *h = NULL;
    if (best < nslots) {
        h = sl[best].h;
        sl[best].h = NULL;
        held -= h->map_size;
        s->hits++;
        HAK_GCTR_ADD(bigcache, hits, 1);
    } else {
        if (s->site == site)
            s->misses++;
        HAK_GCTR_ADD(bigcache, misses, 1);
    }
    hak_unlock(&bc_lock);
    return h;
}

bool _hak_bigcache_put(struct huge_hdr *h)
{
    size_t budget = (size_t)HAK_OPT(bigcache_max_bytes);
    if (h->map_size > budget)
        return false;
    struct huge_hdr *out = NULL;
    hak_lock(&bc_lock);
    if (!table()) {
        hak_unlock(&bc_lock);
        return false;
    }
    unsigned i = index_of(h->site);
    struct site *s = &sites[i];
    struct slot *sl = &slots[(size_t)i * nslots];
    if (s->site != h->site) { /* the entry changes hands: the old site's blocks go */
        for (unsigned k = 0; k < nslots; k++)
            if (sl[k].h)
                evict(i * nslots + k, &out);
        *s = (struct site){ h->site, 0, 0 };
    }
    unsigned k = 0, oldest = 0;
    for (; k < nslots && sl[k].h; k++)
        if (sl[k].at < sl[oldest].at)
            oldest = k;
    if (k == nslots) {
        evict(i * nslots + oldest, &out);
        k = oldest;
    }
    uint64_t now = _hak_os_now_ns();
    sl[k] = (struct slot){ h, now };
    held += h->map_size;
    while (held > budget) { /* over the byte budget: the oldest anywhere goes */
        size_t o = SIZE_MAX;
        for (size_t j = 0; j < (size_t)nsites * nslots; j++)
            if (slots[j].h && slots[j].h != h && (o == SIZE_MAX || slots[j].at < slots[o].at))
                o = j;
        if (o == SIZE_MAX)
            break;
        evict((unsigned)o, &out);
    }
    hak_unlock(&bc_lock);
    release_all(out);
    _hak_madv_kick();
    return true;
}

/* Blocks cached before `before` (all when 0) leave; returns the next time
 * one is due. */
static uint64_t expire(uint64_t before, uint64_t delay)
{
    struct huge_hdr *out = NULL;
    uint64_t next = 0;
    hak_lock(&bc_lock);
    for (size_t j = 0; sites && j < (size_t)nsites * nslots; j++) {
        if (!slots[j].h)
            continue;
        if (!before || slots[j].at + delay <= before)
            evict((unsigned)j, &out);
        else if (!next || slots[j].at + delay < next)
            next = slots[j].at + delay;
    }
    hak_unlock(&bc_lock);
    release_all(out);
    return next;
}

uint64_t _hak_bigcache_decay(uint64_t now) { return expire(now, _hak_madv_delay_ns()); }

size_t _hak_bigcache_trim(void)
{
    size_t bytes = _hak_bigcache_bytes();
    expire(0, 0);
    return bytes;
}

size_t _hak_bigcache_bytes(void)
{
    hak_lock(&bc_lock);
    size_t b = held;
    hak_unlock(&bc_lock);
    return b;
}

unsigned _hak_bigcache_top(unsigned n, uintptr_t *site, uint64_t *hits, uint64_t *misses)
{
    unsigned got = 0;
    hak_lock(&bc_lock);
    for (unsigned i = 0; sites && i < nsites; i++) {
        if (!sites[i].site || !(sites[i].hits + sites[i].misses))
            continue;
        unsigned at = got < n ? got++ : n; /* insertion into a list sorted by hits */
        while (at > 0 && hits[at - 1] < sites[i].hits) {
            if (at < n) {
                site[at] = site[at - 1];
                hits[at] = hits[at - 1];
                misses[at] = misses[at - 1];
            }
            at--;
        }
        if (at < n) {
            site[at] = sites[i].site;
            hits[at] = sites[i].hits;
            misses[at] = sites[i].misses;
        }
    }
    hak_unlock(&bc_lock);
    return got;
}

void _hak_bigcache_fork_child(void)
{
    /* Slots cut short mid-update (a signal handler forked) cannot be
     * trusted: the table is dropped, its blocks leaked in the child, and a
     * fresh one is mapped on next use. */
    if (hak_lock_torn(&bc_lock)) {
        sites = NULL;
        slots = NULL;
        held = 0;
    }
}
