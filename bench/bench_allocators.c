/* bench_allocators.c — allocation scenarios (64 KiB–2 MiB page-touched batches, tiny pairs, random small and large live sets, one for each of BigCache, batched madvise and ELO, mid-size batches whose size shifts, short-lived threads handing blocks on): ns and minor page faults per iteration, peak RSS. */
#include "allocator.h"
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: bench_allocators [--scenario NAME[,NAME...]|all] [--iterations N]\n"
    "                        [--warmup N] [--allocator NAME] [--csv FILE]\n"
    "  --scenario    json, mir, vm, mixed, tiny, random-mixed, random-large,\n"
    "                malloc-large, huge-sites, burst-free, phases, mid-shift,\n"
    "                thread-churn or all (default all); an iteration of the last seven:\n"
    "                random-large: each of 32 live blocks of 0.25-3.25 MiB freed and\n"
    "                  replaced by one of a random size, written (the large path's reuse\n"
    "                  across sizes);\n"
    "                malloc-large: 10 of 20 live blocks of 5-25 MiB, picked at random,\n"
    "                  each replaced by a new one of a random size (allocated and\n"
    "                  written before the old is freed), as mimalloc-bench's\n"
    "                  malloc-large (BigCache across sizes);\n"
    "                huge-sites: blocks of 34, 40 and 46 MiB from 3 call sites allocated,\n"
    "                  written, freed (BigCache);\n"
    "                burst-free: 198 blocks of 320 KiB allocated, written, 102 freed,\n"
    "                  then the other 96 in address order (batched madvise: hakmem\n"
    "                  purges it with madvise.delay = 0);\n"
    "                phases: first half of the run 4 rounds of 6 blocks of 4.5 MiB\n"
    "                  from one site, second half 4 rounds of 12 of 3.75 MiB from 3\n"
    "                  others, each round allocated, written, freed (ELO);\n"
    "                mid-shift: 62.5 MiB in blocks of 64, 96, 160 or 256 KiB, the\n"
    "                  sizes in turn, allocated, written, freed (what one size's\n"
    "                  blocks leave behind serving the next);\n"
    "                thread-churn: 8 threads started and joined; each frees the 2,000\n"
    "                  blocks of 16 B-1 KiB its predecessor of the last iteration\n"
    "                  left, leaving 2,000 new ones, then allocates and frees 4\n"
    "                  batches of 256 blocks of 16 B-2 KiB (short-lived threads)\n"
    "  --iterations  measured iterations of each scenario (default 100)\n"
    "  --warmup      untimed iterations before them (default 10)\n"
    "  --allocator   hakmem, system (or glibc), mimalloc, jemalloc or tcmalloc: unless\n"
    "                it is already mapped, the program runs itself again with\n"
    "                LD_PRELOAD set to it (hakmem: $HAKMEM_LIBRARY, else\n"
    "                .libs/libhakmem.so of the build directory this program is in)\n"
    "  --csv FILE    append one row per measured iteration to FILE\n"
    "Prints one line per scenario:\n"
    "  scenario NAME iterations=N warmup=W median_ns=X p95_ns=Y p99_ns=Z faults_median=F\n"
    "  maxrss_kib=R\n"
    "with ns per iteration, F minor page faults per iteration (median) and R the\n"
    "process's peak RSS so far (KiB: the scenario's own when it runs alone);\n"
    "phases adds phase1_ns, phase1_faults, phase2_ns and phase2_faults, the\n"
    "medians of the measured iterations in each half.\n";

/* Touching one byte a page faults every page in; 4 KiB is the base page of
 * x86_64, and a larger real page size only means some writes share a page. */
enum { PAGE = 4096 };

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

/* Every block is stored here, so no malloc/free pair can be elided. */
static void *volatile sink;

/* p, the result of malloc(size), unless it failed (then the program ends). */
static void *checked(void *p, size_t size)
{
    if (!p) {
        fprintf(stderr, "bench_allocators: malloc(%zu) failed\n", size);
        exit(1);
    }
    sink = p;
    return p;
}

static void *xmalloc(size_t size)
{
    return checked(malloc(size), size);
}

/* The byte written at offset off of a block with this tag. */
static unsigned char pattern(uint32_t tag, size_t off)
{
    return (unsigned char)(tag + off / PAGE);
}

/* Writes one byte in every page of the block and its last byte. */
static void touch(unsigned char *p, size_t size, uint32_t tag)
{
    for (size_t off = 0; off < size - 1; off += PAGE)
        p[off] = pattern(tag, off);
    p[size - 1] = (unsigned char)~tag;
}

/* Checks what touch wrote: a broken allocator (overlapping blocks, a page
 * handed out twice) fails here, and the writes cannot be optimised away. */
static void verify(const unsigned char *p, size_t size, uint32_t tag)
{
    size_t bad = SIZE_MAX;
    for (size_t off = 0; off < size - 1 && bad == SIZE_MAX; off += PAGE)
        if (p[off] != pattern(tag, off))
            bad = off;
    if (bad == SIZE_MAX && p[size - 1] != (unsigned char)~tag)
        bad = size - 1;
    if (bad != SIZE_MAX) {
        fprintf(stderr, "bench_allocators: block %p (%zu bytes): wrong byte at offset %zu\n", (const void *)p,
                size, bad);
        exit(1);
    }
}

/* A tag per block and iteration, so that two blocks sharing memory disagree. */
static uint32_t tag_of(uint64_t iter, uint32_t block)
{
    return (uint32_t)((iter * 0x9E3779B97F4A7C15u + block * 0xBF58476Du) >> 24);
}

/* ---- Large-block batches ----------------------------------------------------- */

enum { MAX_BATCH = 1000 }; /* blocks live at once in the largest batch (json) */

/* One batch in blk[0..n): block i (size sizes[i]) is allocated in index
 * order and touched, then the blocks are verified and freed in the order
 * free_order. */
static void batch_in(unsigned char **blk, uint64_t iter, const size_t *sizes, const uint32_t *free_order, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        blk[i] = xmalloc(sizes[i]);
        touch(blk[i], sizes[i], tag_of(iter, i));
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = free_order[k];
        verify(blk[i], sizes[i], tag_of(iter, i));
        free(blk[i]);
    }
}

/* batch for the main thread's scenarios, in one array for all. */
static void batch(uint64_t iter, const size_t *sizes, const uint32_t *free_order, uint32_t n)
{
    static unsigned char *blk[MAX_BATCH];
    batch_in(blk, iter, sizes, free_order, n);
}

/* The uniform batches are freed oldest first. Filling the arrays on every
 * call costs a store per block, nothing beside its malloc and page faults. */
static size_t uniform_size[MAX_BATCH];
static uint32_t in_order[MAX_BATCH];

static void uniform(uint64_t iter, size_t size, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uniform_size[i] = size;
        in_order[i] = i;
    }
    batch(iter, uniform_size, in_order, n);
}

static void run_json(uint64_t iter)
{
    uniform(iter, 64 * KiB, 1000);
}

static void run_mir(uint64_t iter)
{
    uniform(iter, 256 * KiB, 100);
}

static void run_vm(uint64_t iter)
{
    uniform(iter, 2 * MiB, 10);
}

/* mid-shift: an iteration is json's 62.5 MiB in blocks of one size, the
 * sizes 64, 96, 160 and 256 KiB in turn: what one size's blocks leave
 * behind should serve the next. */
static void run_mid_shift(uint64_t iter)
{
    static const size_t sizes[] = { 64 * KiB, 96 * KiB, 160 * KiB, 256 * KiB };
    size_t size = sizes[iter % 4];
    uniform(iter, size, (uint32_t)(MAX_BATCH * 64 * KiB / size));
}

/* mixed: an iteration is MIXED_STEPS steps, and one step is a batch of
 * MIXED_N blocks: 100 of 64 KiB, 10 of 256 KiB and 1 of 2 MiB (an iteration
 * thus allocates what json, mir and vm do together, at most 10.9 MiB live).
 * Allocation order within a step: the 64 KiB blocks in turn, with a 256 KiB
 * block after every 64 KiB block whose number ends in 4 (4, 14, …, 94) and
 * the 2 MiB block after 64 KiB block 49. Free order: allocation position
 * (k × MIXED_STRIDE) mod MIXED_N for k = 0, 1, …, which visits every block
 * once (the stride is prime to MIXED_N) and mixes the shapes differently. */
enum { MIXED_STEPS = 10, MIXED_N = 111, MIXED_STRIDE = 7 };
static size_t mixed_size[MIXED_N];
static uint32_t mixed_free_order[MIXED_N];

static void mixed_prepare(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < 100; i++) {
        mixed_size[n++] = 64 * KiB;
        if (i % 10 == 4)
            mixed_size[n++] = 256 * KiB;
        if (i == 49)
            mixed_size[n++] = 2 * MiB;
    }
    for (uint32_t k = 0; k < MIXED_N; k++)
        mixed_free_order[k] = k * MIXED_STRIDE % MIXED_N;
}

static void run_mixed(uint64_t iter)
{
    for (uint64_t s = 0; s < MIXED_STEPS; s++)
        batch(iter * MIXED_STEPS + s, mixed_size, mixed_free_order, MIXED_N);
}

/* ---- Small blocks ------------------------------------------------------------ */

/* splitmix64 from a fixed seed, one state per scenario: every run draws
 * the same sequence, whichever scenarios run before. */
#define RNG_SEED 0x2545F4914F6CDD1Du

static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) for n < 2^32, by multiply-shift. */
static uint32_t rng_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(((rng_next(state) >> 32) * n) >> 32);
}

enum { TINY_PAIRS = 10000, LIVE = 1000, REPLACEMENTS = 10000 };

/* tiny: TINY_PAIRS malloc+free pairs, sizes 16, 32, …, 128 in turn. */
static void run_tiny(uint64_t iter)
{
    for (uint32_t i = 0; i < TINY_PAIRS; i++) {
        size_t size = 16 * (1 + (i & 7));
        uint32_t tag = tag_of(iter, i);
        unsigned char *p = xmalloc(size);
        touch(p, size, tag);
        verify(p, size, tag);
        free(p);
    }
}

/* random-mixed: LIVE blocks stay live across iterations (filled before the
 * warm-up, freed after the last iteration); an iteration replaces
 * REPLACEMENTS random victims by blocks of a random size in [8, 1024]. */
static unsigned char *live_blk[LIVE];
static size_t live_size[LIVE];
static uint32_t live_tag[LIVE];
static uint64_t live_rng = RNG_SEED;

static void live_new(uint32_t v)
{
    live_size[v] = 8 + rng_below(&live_rng, 1024 - 8 + 1);
    live_tag[v] = (uint32_t)rng_next(&live_rng);
    live_blk[v] = xmalloc(live_size[v]);
    touch(live_blk[v], live_size[v], live_tag[v]);
}

static void live_free(uint32_t v)
{
    verify(live_blk[v], live_size[v], live_tag[v]);
    free(live_blk[v]);
}

static void random_prepare(void)
{
    for (uint32_t v = 0; v < LIVE; v++)
        live_new(v);
}

static void run_random(uint64_t iter)
{
    (void)iter;
    for (uint32_t i = 0; i < REPLACEMENTS; i++) {
        uint32_t v = rng_below(&live_rng, LIVE);
        live_free(v);
        live_new(v);
    }
}

static void random_finish(void)
{
    for (uint32_t v = 0; v < LIVE; v++)
        live_free(v);
}

/* thread-churn: an iteration starts CHURN_THREADS threads and joins them.
 * Thread i frees the CHURN_HANDED blocks (16 B–1 KiB) that thread i of the
 * previous iteration left in its slots, each replaced at once by a new one
 * it leaves to the next iteration, then allocates and frees CHURN_TEMP
 * batches of CHURN_BATCH blocks (16 B–2 KiB) of its own: what a server's
 * short-lived workers do. Each thread draws from its own generator, seeded
 * by iteration and index, so a run's sizes do not depend on scheduling;
 * the blocks left after the last iteration are freed untimed. */
enum { CHURN_THREADS = 8, CHURN_HANDED = 2000, CHURN_TEMP = 4, CHURN_BATCH = 256 };

struct churn_slot {
    unsigned char *p;
    size_t size;
    uint32_t tag;
};
static struct churn_slot churn_slots[CHURN_THREADS][CHURN_HANDED];
static uint64_t churn_iter;

static void *churn_thread(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    uint64_t rng = RNG_SEED ^ (churn_iter * CHURN_THREADS + i);
    for (uint32_t k = 0; k < CHURN_HANDED; k++) {
        struct churn_slot *sl = &churn_slots[i][k];
        if (sl->p) {
            verify(sl->p, sl->size, sl->tag);
            free(sl->p);
        }
        sl->size = 16 + rng_below(&rng, 1024 - 16 + 1);
        sl->tag = (uint32_t)rng_next(&rng);
        sl->p = xmalloc(sl->size);
        touch(sl->p, sl->size, sl->tag);
    }
    unsigned char *tmp[CHURN_BATCH];
    size_t size[CHURN_BATCH];
    uint32_t order[CHURN_BATCH];
    for (uint32_t k = 0; k < CHURN_BATCH; k++)
        order[k] = k;
    for (uint32_t b = 0; b < CHURN_TEMP; b++) {
        for (uint32_t k = 0; k < CHURN_BATCH; k++)
            size[k] = 16 + rng_below(&rng, 2048 - 16 + 1);
        batch_in(tmp, b, size, order, CHURN_BATCH);
    }
    return NULL;
}

static void run_thread_churn(uint64_t iter)
{
    pthread_t th[CHURN_THREADS];
    churn_iter = iter;
    for (unsigned i = 0; i < CHURN_THREADS; i++) {
        int err = pthread_create(&th[i], NULL, churn_thread, (void *)(uintptr_t)i);
        if (err) {
            fprintf(stderr, "bench_allocators: pthread_create: %s\n", strerror(err));
            exit(1);
        }
    }
    for (unsigned i = 0; i < CHURN_THREADS; i++)
        pthread_join(th[i], NULL);
}

static void churn_finish(void)
{
    for (unsigned i = 0; i < CHURN_THREADS; i++)
        for (uint32_t k = 0; k < CHURN_HANDED; k++) {
            struct churn_slot *sl = &churn_slots[i][k];
            if (sl->p) {
                verify(sl->p, sl->size, sl->tag);
                free(sl->p);
                sl->p = NULL;
            }
        }
}

/* ---- Random-size large blocks ------------------------------------------------ */

/* A live set of large blocks of random sizes: slot v holds a block of
 * set->size[v] bytes written with set->tag[v]. */
struct large_set {
    uint64_t rng;
    size_t min, max;        /* sizes drawn uniformly in [min, max] bytes */
    uint32_t n;
    unsigned char **blk;
    size_t *size;
    uint32_t *tag;
};

/* A new block of random size in slot v, every page written. */
static void large_new(struct large_set *set, uint32_t v)
{
    set->size[v] = set->min + rng_below(&set->rng, (uint32_t)(set->max - set->min + 1));
    set->tag[v] = (uint32_t)rng_next(&set->rng);
    set->blk[v] = xmalloc(set->size[v]);
    touch(set->blk[v], set->size[v], set->tag[v]);
}

static void large_free(struct large_set *set, uint32_t v)
{
    verify(set->blk[v], set->size[v], set->tag[v]);
    free(set->blk[v]);
}

static void large_fill(struct large_set *set)
{
    for (uint32_t v = 0; v < set->n; v++)
        large_new(set, v);
}

static void large_empty(struct large_set *set)
{
    for (uint32_t v = 0; v < set->n; v++)
        large_free(set, v);
}

/* random-large: RL_LIVE blocks of 0.25-3.25 MiB, straddling the mmap
 * threshold (2 MiB, or ELO's pick), stay live across iterations (filled
 * before the warm-up, freed after the last iteration); an iteration
 * replaces every one in turn: frees it, allocates one of a new random size
 * and writes every page. About 56 MiB is replaced per iteration; an
 * allocator that keeps what was freed for the next request needs no system
 * call and no page fault once warm. */
enum { RL_LIVE = 32 };
static unsigned char *rl_blk[RL_LIVE];
static size_t rl_size[RL_LIVE];
static uint32_t rl_tag[RL_LIVE];
static struct large_set rl_set = { RNG_SEED, 256 * KiB, 3 * MiB + 256 * KiB, RL_LIVE, rl_blk, rl_size, rl_tag };

static void rl_prepare(void)
{
    large_fill(&rl_set);
}

static void run_random_large(uint64_t iter)
{
    (void)iter;
    for (uint32_t v = 0; v < RL_LIVE; v++) {
        large_free(&rl_set, v);
        large_new(&rl_set, v);
    }
}

static void rl_finish(void)
{
    large_empty(&rl_set);
}

/* malloc-large: after mimalloc-bench's malloc-large (20 buffers of a random
 * 5-25 MiB, one at a time replaced by a new one: the new buffer is
 * allocated before the old one is freed). ML_LIVE blocks stay live across
 * iterations; an iteration is ML_REPLACE such replacements of a random
 * slot, each new block written in every page (mimalloc-bench zeroes all of
 * it: the same page faults, fewer stores). Far above every mmap threshold
 * ELO may pick except its largest: huge blocks from one call site, of
 * sizes that rarely repeat, so a cache must serve one size from a block of
 * another. */
enum { ML_LIVE = 20, ML_REPLACE = 10 };
static unsigned char *ml_blk[ML_LIVE];
static size_t ml_size[ML_LIVE];
static uint32_t ml_tag[ML_LIVE];
static struct large_set ml_set = { RNG_SEED, 5 * MiB, 25 * MiB, ML_LIVE, ml_blk, ml_size, ml_tag };

static void ml_prepare(void)
{
    large_fill(&ml_set);
}

static void run_malloc_large(uint64_t iter)
{
    (void)iter;
    for (uint32_t i = 0; i < ML_REPLACE; i++) {
        uint32_t v = rng_below(&ml_set.rng, ML_LIVE);
        unsigned char *old = ml_blk[v];
        size_t old_size = ml_size[v];
        uint32_t old_tag = ml_tag[v];
        large_new(&ml_set, v);
        verify(old, old_size, old_tag);
        free(old);
    }
}

static void ml_finish(void)
{
    large_empty(&ml_set);
}

/* ---- Subsystem scenarios ----------------------------------------------------- */

/* hakmem keys BigCache by call site, the return address of the malloc call:
 * each site is a function of its own that calls malloc itself, kept out of
 * line and (GCC) out of identical-code folding, which would make them one. */
#ifdef __clang__
#define SITE_ATTR __attribute__((noinline))
#else
#define SITE_ATTR __attribute__((noinline, noipa))
#endif
#define DEFINE_SITE(name) \
    static SITE_ATTR void *name(size_t size) { return checked(malloc(size), size); }
DEFINE_SITE(site0)
DEFINE_SITE(site1)
DEFINE_SITE(site2)
DEFINE_SITE(site3)

/* huge-sites: an iteration allocates one block at each of three call sites
 * (34, 40 and 46 MiB: above 32 MiB, the largest mmap threshold ELO may pick,
 * so they are huge blocks whatever it learns), writes every page, then
 * verifies and frees the three. A per-site cache serves every request after
 * the first from the block the site freed; without one each iteration maps,
 * faults in and unmaps 120 MiB. */
enum { HUGE_SITES = 3 };

static void run_huge_sites(uint64_t iter)
{
    static const size_t size[HUGE_SITES] = { 34 * MiB, 40 * MiB, 46 * MiB };
    unsigned char *blk[HUGE_SITES] = { site0(size[0]), site1(size[1]), site2(size[2]) };
    for (uint32_t i = 0; i < HUGE_SITES; i++)
        touch(blk[i], size[i], tag_of(iter, i));
    for (uint32_t i = 0; i < HUGE_SITES; i++) {
        verify(blk[i], size[i], tag_of(iter, i));
        free(blk[i]);
    }
}

/* burst-free: an iteration allocates BURST_POOL blocks, then BURST_N more,
 * all of 320 KiB (five 64 KiB arena units, under 512 KiB, the smallest mmap
 * threshold ELO may pick, so arena runs whatever it learns), writes and
 * verifies them, frees the pool blocks, then frees the burst in address
 * order. By default hakmem keeps it all resident (the burst comes back every
 * iteration, as with mimalloc and tcmalloc). With madvise.delay = 0, as the
 * matrix runs it, the arena keeps only about large.retain (32 MiB) free and
 * purges the rest at once, oldest free runs first: the batch then merges
 * adjacent ranges into one madvise per flush (4 MiB), where unbatched each
 * purge is a call. A fence, one block allocated
 * before the warm-up right after the pool and live until the end, keeps the
 * burst from ever being the pool's neighbour (a burst block freed next to
 * the resident pool would merge with it, and the pool would be purged). */
enum { BURST_POOL = 102, BURST_N = 96, BURST_ALL = BURST_POOL + BURST_N };
#define BURST_SIZE (320 * KiB)
static unsigned char *burst_blk[BURST_ALL], *burst_fence;

static void burst_prepare(void)
{
    for (uint32_t i = 0; i < BURST_POOL; i++)
        burst_blk[i] = xmalloc(BURST_SIZE);
    burst_fence = xmalloc(BURST_SIZE);
    touch(burst_fence, BURST_SIZE, 0);
    for (uint32_t i = 0; i < BURST_POOL; i++)
        free(burst_blk[i]);
}

static int cmp_addr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

static void run_burst_free(uint64_t iter)
{
    unsigned char **blk = burst_blk;
    for (uint32_t i = 0; i < BURST_ALL; i++) {
        blk[i] = xmalloc(BURST_SIZE);
        touch(blk[i], BURST_SIZE, tag_of(iter, i));
    }
    for (uint32_t i = 0; i < BURST_ALL; i++)
        verify(blk[i], BURST_SIZE, tag_of(iter, i));
    for (uint32_t i = 0; i < BURST_POOL; i++)
        free(blk[i]);
    qsort(blk + BURST_POOL, BURST_N, sizeof blk[0], cmp_addr);
    for (uint32_t i = BURST_POOL; i < BURST_ALL; i++)
        free(blk[i]);
}

static void burst_finish(void)
{
    verify(burst_fence, BURST_SIZE, 0);
    free(burst_fence);
}

/* phases: the first half of the run (warm-up included) is phase 1, the
 * second phase 2; the best fixed mmap threshold differs between them:
 * learning has to move up from where it starts (2.25 MiB, the candidate
 * nearest the default 2 MiB) in phase 1, and back down in phase 2. All
 * blocks are 4.5 or 3.75 MiB, between two of ELO's candidates (3.3 and
 * 4.8 MiB): the six thresholds up to 3.3 MiB map them, the six from 4.8 MiB
 * give them arena runs, 32 MiB or 4.8 MiB alike.
 * An iteration is PH_ROUNDS rounds of its phase's pattern.
 * Phase 1, a round: 6 blocks of 4.5 MiB at one call site (27 MiB, within
 * the retention bound, large.retain = 32 MiB), written, verified, freed. In
 * the arena all stays resident; mapped, BigCache keeps 4 blocks a site, and
 * 2 are unmapped, mapped and faulted in again.
 * Phase 2, a round: 4 blocks of 3.75 MiB at each of 3 other sites. Mapped,
 * BigCache serves them all; in the arena, 45 MiB freed is over the bound
 * and most of it is purged and faulted in again. The size histogram moves
 * down a power of two, which the lifecycle watches for.
 * Rounds: learning rates a window once it holds elo.min_samples (50)
 * sampled allocations, so a phase must sample a few hundred for windows to
 * tell thresholds apart early in it; at one round an iteration, a matrix
 * run (100 iterations and 10 of warm-up) samples 330 in phase 1. */
enum { PH_ROUNDS = 4, PH1_N = 6, PH2_SITES = 3, PH2_PER_SITE = 4, PH2_N = PH2_SITES * PH2_PER_SITE };
#define PH1_SIZE (4 * MiB + 512 * KiB)
#define PH2_SIZE (3 * MiB + 768 * KiB)

/* Iterations in the current run, warm-up included (set by measure). */
static long run_length;

static unsigned phase_of(uint64_t iter)
{
    return iter * 2 >= (uint64_t)run_length;
}

static void run_phases(uint64_t iter)
{
    static void *(*const ph2_site[PH2_SITES])(size_t) = { site1, site2, site3 };
    unsigned char *blk[PH2_N];
    bool two = phase_of(iter);
    uint32_t n = two ? PH2_N : PH1_N;
    size_t size = two ? PH2_SIZE : PH1_SIZE;
    for (uint32_t round = 0; round < PH_ROUNDS; round++) {
        uint64_t tag = iter * PH_ROUNDS + round;
        for (uint32_t i = 0; i < n; i++) {
            blk[i] = two ? ph2_site[i % PH2_SITES](size) : site0(size);
            touch(blk[i], size, tag_of(tag, i));
        }
        for (uint32_t i = 0; i < n; i++) {
            verify(blk[i], size, tag_of(tag, i));
            free(blk[i]);
        }
    }
}

/* ---- Driver ------------------------------------------------------------------ */

static const struct scenario {
    const char *name;
    void (*prepare)(void);  /* untimed, before the warm-up; may be NULL */
    void (*run)(uint64_t iter);
    void (*finish)(void);   /* untimed, after the last iteration; may be NULL */
    unsigned (*phase)(uint64_t iter); /* 0 or 1: medians per phase; NULL: one phase */
} scenarios[] = {
    { "json", NULL, run_json, NULL, NULL },
    { "mir", NULL, run_mir, NULL, NULL },
    { "vm", NULL, run_vm, NULL, NULL },
    { "mixed", mixed_prepare, run_mixed, NULL, NULL },
    { "tiny", NULL, run_tiny, NULL, NULL },
    { "random-mixed", random_prepare, run_random, random_finish, NULL },
    { "random-large", rl_prepare, run_random_large, rl_finish, NULL },
    { "malloc-large", ml_prepare, run_malloc_large, ml_finish, NULL },
    { "huge-sites", NULL, run_huge_sites, NULL, NULL },
    { "burst-free", burst_prepare, run_burst_free, burst_finish, NULL },
    { "phases", NULL, run_phases, NULL, phase_of },
    { "mid-shift", NULL, run_mid_shift, NULL, NULL },
    { "thread-churn", NULL, run_thread_churn, churn_finish, NULL },
};
enum { NSCENARIOS = sizeof scenarios / sizeof scenarios[0] };

/* The allocators --allocator knows: the library that marks each as mapped,
 * and what LD_PRELOAD names (the dynamic loader finds a bare soname in the
 * system's library directories). "system" preloads nothing. */
static const struct allocator {
    const char *name;
    const char *mapped_as; /* substring of its line in /proc/self/maps */
    const char *preload;   /* NULL for hakmem: found at run time */
} allocators[] = {
    { "hakmem", "libhakmem", NULL },
    { "mimalloc", "libmimalloc", "libmimalloc.so.2" },
    { "jemalloc", "libjemalloc", "libjemalloc.so.2" },
    { "tcmalloc", "libtcmalloc", "libtcmalloc_minimal.so.4" },
};
enum { NALLOCATORS = sizeof allocators / sizeof allocators[0] };

/* Set in the environment of the second run, so a preload that did not take
 * ends the program instead of running it again and again. */
static const char reexec_marker[] = "HAK_BENCH_REEXEC";

/* Which of allocators[] are mapped into this process. */
static void mapped_allocators(bool mapped[NALLOCATORS])
{
    char line[4096];
    memset(mapped, 0, NALLOCATORS * sizeof mapped[0]);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        for (int i = 0; i < NALLOCATORS; i++)
            mapped[i] = mapped[i] || strstr(line, allocators[i].mapped_as);
    fclose(f);
}

/* hakmem's library: $HAKMEM_LIBRARY, else BUILDDIR/.libs/libhakmem.so for
 * this program at BUILDDIR/bench/bench_allocators. */
static void hakmem_library(char *buf, size_t len)
{
    const char *env = getenv("HAKMEM_LIBRARY");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) {
        perror("bench_allocators: /proc/self/exe");
        exit(1);
    }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0; /* BUILDDIR/bench */
    snprintf(buf, len, "%s/../.libs/libhakmem.so", exe);
}

/* Makes this process run on the allocator called name, running the program
 * again under LD_PRELOAD unless it already does. */
static void use_allocator(const char *name, char **argv)
{
    bool system = !strcmp(name, "system") || !strcmp(name, "glibc");
    int want = -1;
    for (int i = 0; i < NALLOCATORS; i++)
        if (!strcmp(name, allocators[i].name))
            want = i;
    if (!system && want < 0) {
        fprintf(stderr, "bench_allocators: unknown allocator '%s'\n%s", name, usage);
        exit(2);
    }

    bool mapped[NALLOCATORS], other = false;
    mapped_allocators(mapped);
    for (int i = 0; i < NALLOCATORS; i++)
        other = other || (mapped[i] && i != want);
    if (!other && (system || mapped[want]))
        return;
    if (getenv(reexec_marker)) {
        fprintf(stderr, "bench_allocators: preloading %s did not take (LD_PRELOAD=%s)\n", name,
                getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
        exit(1);
    }

    char lib[4200];
    if (system)
        unsetenv("LD_PRELOAD");
    else {
        if (allocators[want].preload)
            snprintf(lib, sizeof lib, "%s", allocators[want].preload);
        else
            hakmem_library(lib, sizeof lib);
        if (strchr(lib, '/') && access(lib, R_OK) != 0) {
            fprintf(stderr, "bench_allocators: %s: %s (set HAKMEM_LIBRARY)\n", lib, strerror(errno));
            exit(1);
        }
        setenv("LD_PRELOAD", lib, 1);
    }
    setenv(reexec_marker, "1", 1);
    execv("/proc/self/exe", argv);
    perror("bench_allocators: execv /proc/self/exe");
    exit(1);
}

/* The allocator name for CSV rows: the first of allocators[] mapped, else glibc. */
static const char *current_allocator(void)
{
    bool mapped[NALLOCATORS];
    mapped_allocators(mapped);
    for (int i = 0; i < NALLOCATORS; i++)
        if (mapped[i])
            return allocators[i].name;
    return "glibc";
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v and returns its median. */
static double median(double *v, long n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The nearest-rank percentile of sorted v: the least value with at least
 * percent % of v at or below it. */
static double percentile(const double *v, long n, long percent)
{
    long rank = (percent * n + 99) / 100; /* ceil(percent / 100 × n), ≥ 1 */
    return v[rank - 1];
}

/* Runs one scenario, prints its line and appends its rows to csv. */
static void measure(const struct scenario *sc, long iterations, long warmup, FILE *csv, const char *alloc)
{
    double *ns = malloc((size_t)iterations * sizeof *ns);
    double *faults = malloc((size_t)iterations * sizeof *faults);
    double *part = malloc((size_t)iterations * sizeof *part);
    unsigned char *phase = malloc((size_t)iterations);
    if (!ns || !faults || !part || !phase) {
        fputs("bench_allocators: out of memory\n", stderr);
        exit(1);
    }
    run_length = warmup + iterations;
    if (sc->prepare)
        sc->prepare();
    for (long i = 0; i < warmup + iterations; i++) {
        long f0 = minor_faults();
        uint64_t t0 = now_ns();
        sc->run((uint64_t)i);
        uint64_t t1 = now_ns();
        long f1 = minor_faults();
        if (i < warmup)
            continue;
        ns[i - warmup] = (double)(t1 - t0);
        faults[i - warmup] = (double)(f1 - f0);
        phase[i - warmup] = (unsigned char)(sc->phase ? sc->phase((uint64_t)i) : 0);
        if (csv)
            fprintf(csv, "%s,%s,%ld,%llu,%ld\n", alloc, sc->name, i - warmup + 1,
                    (unsigned long long)(t1 - t0), f1 - f0);
    }
    if (sc->finish)
        sc->finish();

    /* Per phase, before the medians below sort ns and faults. */
    char extra[128] = "";
    for (unsigned p = 0; sc->phase && p < 2; p++) {
        long n = 0;
        for (long i = 0; i < iterations; i++)
            if (phase[i] == p)
                part[n++] = ns[i];
        if (!n)
            continue;
        double pns = median(part, n);
        n = 0;
        for (long i = 0; i < iterations; i++)
            if (phase[i] == p)
                part[n++] = faults[i];
        size_t len = strlen(extra);
        snprintf(extra + len, sizeof extra - len, " phase%u_ns=%.0f phase%u_faults=%.1f", p + 1, pns, p + 1,
                 median(part, n));
    }
    double med = median(ns, iterations); /* ns is sorted from here on */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("scenario %s iterations=%ld warmup=%ld median_ns=%.0f p95_ns=%.0f p99_ns=%.0f faults_median=%.1f "
           "maxrss_kib=%ld%s\n",
           sc->name, iterations, warmup, med, percentile(ns, iterations, 95), percentile(ns, iterations, 99),
           median(faults, iterations), ru.ru_maxrss, extra);
    fflush(stdout);
    free(ns);
    free(faults);
    free(part);
    free(phase);
}

static long parse_count(const char *opt, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "bench_allocators: %s needs an integer in [%ld, %ld]\n%s", opt, min, max, usage);
        exit(2);
    }
    return v;
}

/* Marks the scenarios named in list (comma-separated, or "all"). */
static void select_scenarios(const char *list, bool chosen[NSCENARIOS])
{
    memset(chosen, 0, NSCENARIOS * sizeof chosen[0]);
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        bool all = len == 3 && !strncmp(p, "all", 3), known = all;
        for (int i = 0; i < NSCENARIOS; i++)
            if (all || (strlen(scenarios[i].name) == len && !strncmp(p, scenarios[i].name, len))) {
                chosen[i] = true;
                known = true;
            }
        if (!known) {
            fprintf(stderr, "bench_allocators: unknown scenario '%.*s'\n%s", (int)len, p, usage);
            exit(2);
        }
        if (!p[len])
            break;
        p += len + 1;
    }
}

int main(int argc, char **argv)
{
    const char *scenario_list = "all", *allocator = NULL, *csv_path = NULL;
    /* A default run of every scenario takes about 10 s under glibc, the
     * slowest peer (each json and mixed iteration faults in 64–109 MiB). */
    long iterations = 100, warmup = 10;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!val) {
            fprintf(stderr, "bench_allocators: %s needs a value\n%s", arg, usage);
            return 2;
        }
        i++;
        if (!strcmp(arg, "--scenario"))
            scenario_list = val;
        else if (!strcmp(arg, "--iterations"))
            iterations = parse_count(arg, val, 1, 10000000);
        else if (!strcmp(arg, "--warmup"))
            warmup = parse_count(arg, val, 0, 10000000);
        else if (!strcmp(arg, "--allocator"))
            allocator = val;
        else if (!strcmp(arg, "--csv"))
            csv_path = val;
        else {
            fprintf(stderr, "bench_allocators: unknown argument '%s'\n%s", arg, usage);
            return 2;
        }
    }
    bool chosen[NSCENARIOS];
    select_scenarios(scenario_list, chosen);
    if (allocator)
        use_allocator(allocator, argv);
    unsetenv(reexec_marker); /* not inherited by anything this program starts */
    print_allocator();

    FILE *csv = NULL;
    if (csv_path) {
        csv = fopen(csv_path, "a");
        if (!csv) {
            fprintf(stderr, "bench_allocators: %s: %s\n", csv_path, strerror(errno));
            return 1;
        }
        /* A header only when the file is new; "a" does not say where ftell starts. */
        if (fseek(csv, 0, SEEK_END) == 0 && ftell(csv) == 0)
            fputs("allocator,scenario,iteration,ns,minor_faults\n", csv);
    }
    const char *alloc = current_allocator();
    for (int s = 0; s < NSCENARIOS; s++)
        if (chosen[s])
            measure(&scenarios[s], iterations, warmup, csv, alloc);
    if (csv && fclose(csv) != 0) {
        fprintf(stderr, "bench_allocators: %s: %s\n", csv_path, strerror(errno));
        return 1;
    }
    return 0;
}
