/* bigcache.c — the per-call-site cache of freed huge blocks. One lock; the
 * table is mapped on first use (bigcache.sites × bigcache.slots entries).
 *
 * What a site keeps is bounded in bytes, by a budget of its own that
 * follows its demand: it starts at bigcache.site_bytes, grows when the site
 * misses after it had to let blocks go (it would have hit with more) by the
 * request's size or, if that is more, doubles (a program replacing blocks
 * of random sizes needs several times one block: it gets there in a few
 * misses, each a mapping and its faults), and loses the bytes of each of
 * its blocks that stays unused for madvise.delay, down to where it
 * started. A
 * process that frees everything it had keeps no more than a site's budget
 * (which matters where no purger runs while it idles), and one that
 * replaces blocks of changing sizes keeps what its replacements need.
 * bigcache.max_bytes bounds all sites together. */
#include "bigcache.h"
#include "huge.h"
#include "../purge.h"
#include "../counters.h"
#include "../lock.h"
#include "../options.h"
#include "../os.h"

struct site {
    uintptr_t site;           /* 0: unused */
    uint64_t hits, misses;
    size_t held;              /* bytes of its cached blocks */
    size_t budget;            /* bytes its cached blocks may hold */
    bool dropped;             /* let blocks go since its budget last grew or decayed */
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
static const struct bigcache_ops *ops;

void _hak_bigcache_init(const struct bigcache_ops *o) { ops = o; }

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

/* Takes the block in slot j out of the cache (lock held). */
static struct huge_hdr *take(size_t j)
{
    struct huge_hdr *h = slots[j].h;
    slots[j].h = NULL;
    held -= h->map_size;
    sites[j / nslots].held -= h->map_size;
    return h;
}

/* Takes the block out of slot j onto the list (lock held). */
static void evict(size_t j, struct huge_hdr **list)
{
    struct huge_hdr *h = take(j);
    h->link = *list;
    *list = h;
    HAK_GCTR_ADD(bigcache, evictions, 1);
}

static void release_all(struct huge_hdr *list)
{
    while (list) {
        struct huge_hdr *next = list->link;
        ops->release(list);
        list = next;
    }
}

struct huge_hdr *_hak_bigcache_get(size_t n, uintptr_t site)
{
    size_t need = hak_align_up(n ? n : 1, HAK_CHUNK_SIZE);
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
        for (unsigned k = 0; k < nslots; k++) {
            struct huge_hdr *h = sl[k].h;
            if (h && h->map_size >= need && (best == nslots || h->map_size < sl[best].h->map_size))
                best = k;
        }
    }
    struct huge_hdr *h = NULL;
    if (best < nslots) {
        /* Whole when it wastes little (a later realloc may grow into it);
         * else cut: the tail keeps the slot, and its age. */
        h = sl[best].h;
        uint64_t waste = (uint64_t)HAK_OPT(bigcache_max_waste);
        struct huge_hdr *tail = NULL;
        if (h->map_size > need && (h->map_size - n) * 100 > waste * h->map_size)
            tail = ops->split(h, need);
        h = take((size_t)i * nslots + best); /* only the head's bytes, when cut */
        if (tail) {
            sl[best].h = tail;
            HAK_GCTR_ADD(bigcache, trims, 1);
        }
        s->hits++;
        HAK_GCTR_ADD(bigcache, hits, 1);
    } else {
        HAK_GCTR_ADD(bigcache, misses, 1);
        if (s->site == site && s->held) {
            HAK_GCTR_ADD(bigcache, miss_small, 1);
        } else {
            HAK_GCTR_ADD(bigcache, miss_empty, 1);
        }
        if (s->site == site) {
            s->misses++;
            if (s->dropped) { /* more would have hit: the budget grows */
                size_t max = (size_t)HAK_OPT(bigcache_max_bytes);
                size_t add = need > s->budget ? need : s->budget;
                s->budget = s->budget < max && add < max - s->budget ? s->budget + add : max;
                s->dropped = false;
                HAK_GCTR_ADD(bigcache, grows, 1);
            }
        }
    }
    hak_unlock(&bc_lock);
    return h;
}

/* The oldest block of site i other than the one in slot keep, or keep
 * (lock held). */
static size_t oldest_of(unsigned i, size_t keep)
{
    size_t o = keep;
    for (size_t j = (size_t)i * nslots; j < (size_t)(i + 1) * nslots; j++)
        if (j != keep && slots[j].h && (o == keep || slots[j].at < slots[o].at))
            o = j;
    return o;
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
                evict((size_t)i * nslots + k, &out);
        *s = (struct site){ .site = h->site, .budget = (size_t)HAK_OPT(bigcache_site_bytes) };
    }
    /* Cached neighbours join h: a block cut to fit is whole again when its
     * head comes back, and mappings the kernel placed side by side serve a
     * larger request together. At most one lies on each side. */
    for (unsigned k = 0; k < nslots; k++) {
        struct huge_hdr *c = sl[k].h;
        if (!c)
            continue;
        if ((char *)c->user == (char *)h->user + h->map_size) {
            ops->join(h, take((size_t)i * nslots + k));
            HAK_GCTR_ADD(bigcache, joins, 1);
        } else if ((char *)c->user + c->map_size == (char *)h->user) {
            ops->join(take((size_t)i * nslots + k), h);
            h = c;
            HAK_GCTR_ADD(bigcache, joins, 1);
        }
    }
    unsigned k = 0;
    while (k < nslots && sl[k].h)
        k++;
    if (k == nslots) { /* no free slot: the site's oldest goes */
        k = (unsigned)(oldest_of(i, SIZE_MAX) - (size_t)i * nslots);
        evict((size_t)i * nslots + k, &out);
        s->dropped = true;
    }
    size_t at = (size_t)i * nslots + k;
    sl[k] = (struct slot){ h, _hak_os_now_ns() };
    held += h->map_size;
    s->held += h->map_size;
    /* Over the site's budget: its oldest go, h last (joined with its
     * neighbours, it may be over the budget alone). */
    while (s->held > s->budget) {
        evict(oldest_of(i, at), &out);
        s->dropped = true;
    }
    /* Over the byte budget of all: the oldest anywhere go, h last. */
    while (held > budget) {
        size_t o = at;
        for (size_t j = 0; j < (size_t)nsites * nslots; j++)
            if (j != at && slots[j].h && (o == at || slots[j].at < slots[o].at))
                o = j;
        sites[o / nslots].dropped = true;
        evict(o, &out);
    }
    hak_unlock(&bc_lock);
    release_all(out);
    _hak_purge_kick();
    return true;
}

/* Blocks cached before `before` (all when 0) leave; returns the next time
 * one is due. A block that decays takes its bytes off its site's budget. */
static uint64_t expire(uint64_t before, uint64_t delay)
{
    struct huge_hdr *out = NULL;
    uint64_t next = 0;
    size_t floor = (size_t)HAK_OPT(bigcache_site_bytes);
    hak_lock(&bc_lock);
    for (size_t j = 0; sites && j < (size_t)nsites * nslots; j++) {
        if (!slots[j].h)
            continue;
        if (!before || slots[j].at + delay <= before) {
            struct site *s = &sites[j / nslots];
            size_t unused = slots[j].h->map_size;
            evict(j, &out);
            if (before)
                s->budget = s->budget > floor + unused ? s->budget - unused : floor;
            s->dropped = false;
        } else if (!next || slots[j].at + delay < next) {
            next = slots[j].at + delay;
        }
    }
    hak_unlock(&bc_lock);
    release_all(out);
    return next;
}

uint64_t _hak_bigcache_decay(uint64_t now) { return expire(now, _hak_purge_delay_ns()); }

size_t _hak_bigcache_trim(void)
{
    size_t bytes = _hak_bigcache_bytes();
    expire(0, 0);
    /* Everything went back: the sites' budgets start over. */
    hak_lock(&bc_lock);
    for (unsigned i = 0; sites && i < nsites; i++)
        sites[i].budget = (size_t)HAK_OPT(bigcache_site_bytes);
    hak_unlock(&bc_lock);
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
