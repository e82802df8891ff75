/* larson.c — the Larson & Krishnan server benchmark: threads churn random blocks of a shared set and hand their slice to a new thread every ROUNDS×BLOCKS operations. */
#include "allocator.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: larson SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS\n"
    "  e.g. larson 5 8 1000 5000 100 4141 2\n"
    "  SECONDS  run time (may be fractional)\n"
    "  MIN MAX  block sizes are drawn from [MIN, MAX) (MIN when equal)\n"
    "  BLOCKS   live blocks per thread\n"
    "  ROUNDS   a thread performs ROUNDS*BLOCKS replacements, then a new\n"
    "           thread takes over its blocks\n"
    "  SEED     random seed (the run is deterministic apart from timing)\n"
    "  THREADS  concurrent threads\n";

/* splitmix64: small, portable, and good enough to pick victims and sizes. */
struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) for n < 2^32, by multiply-shift (no division). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

/* One thread's share of the blocks; it outlives the threads that work it. */
struct slot {
    char **blk;            /* BLOCKS pointers, a slice of the shared array */
    struct rng rng;        /* carried from each thread to its successor */
    uint64_t ops;          /* replacements done by all of the slot's threads */
    uint64_t threads;      /* threads that have worked the slot */
    pthread_t prev;        /* the thread the next one must join */
    bool has_prev;
    pthread_t last;        /* the thread that ended the chain (after done) */
    sem_t done;            /* posted once, when the chain ends */
};

static size_t min_size, size_range; /* sizes are min_size + [0, size_range) */
static uint32_t nblocks;            /* BLOCKS */
static uint64_t ops_per_thread;     /* ROUNDS × BLOCKS, as in the original */
static atomic_bool stop;
static atomic_bool failed;

static size_t random_size(struct rng *r)
{
    return size_range ? min_size + rng_below(r, (uint32_t)size_range) : min_size;
}

static char *new_block(struct rng *r)
{
    size_t size = random_size(r);
    char *p = malloc(size);
    if (!p) {
        fprintf(stderr, "larson: malloc(%zu) failed\n", size);
        exit(1);
    }
    /* Touch both ends, as a server filling its buffer would. */
    p[0] = 'a';
    p[size - 1] = 'b';
    return p;
}

/* Works the slot, then passes it to a new thread unless the run is over.
 * Each thread joins its predecessor (long gone by then), so only the last
 * thread of a chain is left for main to join. */
static void *worker(void *arg)
{
    struct slot *s = arg;
    pthread_t prev = s->prev;
    bool has_prev = s->has_prev;
    uint64_t n = 0;

    while (n < ops_per_thread && !atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint32_t victim = rng_below(&s->rng, nblocks);
        free(s->blk[victim]);
        s->blk[victim] = new_block(&s->rng);
        n++;
    }
    s->ops += n;
    s->threads++;
    if (has_prev)
        pthread_join(prev, NULL);

    if (!atomic_load(&stop)) {
        pthread_t next;
        s->prev = pthread_self();
        s->has_prev = true;
        /* From here the slot belongs to the successor: do not touch it. */
        int err = pthread_create(&next, NULL, worker, s);
        if (err == 0)
            return NULL;
        fprintf(stderr, "larson: pthread_create: %s\n", strerror(err));
        atomic_store(&failed, true);
    }
    s->last = pthread_self();
    sem_post(&s->done);
    return NULL;
}

static long parse_long(const char *s, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "larson: %s must be an integer in [%ld, %ld], not '%s'\n%s", what, lo, hi, s, usage);
        exit(2);
    }
    return v;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_seconds(double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ns = (long long)(seconds * 1e9) + until.tv_nsec;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fputs(usage, stderr);
        return 2;
    }
    char *end;
    double seconds = strtod(argv[1], &end);
    if (end == argv[1] || *end || !(seconds > 0 && seconds < 1e6)) {
        fprintf(stderr, "larson: SECONDS must be a positive number, not '%s'\n%s", argv[1], usage);
        return 2;
    }
    long lmin = parse_long(argv[2], "MIN", 1, 1L << 30);
    long lmax = parse_long(argv[3], "MAX", lmin, 1L << 30);
    long lblocks = parse_long(argv[4], "BLOCKS", 1, 1L << 24);
    long rounds = parse_long(argv[5], "ROUNDS", 1, 1L << 30);
    long seed = parse_long(argv[6], "SEED", LONG_MIN, LONG_MAX);
    long nthreads = parse_long(argv[7], "THREADS", 1, 1024);
    if ((uint64_t)nthreads * (uint64_t)lblocks > UINT32_MAX) {
        fputs("larson: THREADS*BLOCKS must stay below 2^32\n", stderr);
        return 2;
    }

    print_allocator();
    min_size = (size_t)lmin;
    size_range = (size_t)(lmax - lmin);
    nblocks = (uint32_t)lblocks;
    ops_per_thread = (uint64_t)rounds * (uint64_t)lblocks;

    /* Warm-up as in the original: allocate every block, shuffle them so no
     * slice is in allocation order, then replace 4× as many at random. */
    struct rng main_rng = { (uint64_t)seed };
    size_t total = (size_t)nthreads * nblocks;
    char **blk = malloc(total * sizeof *blk);
    struct slot *slots = calloc((size_t)nthreads, sizeof *slots);
    if (!blk || !slots) {
        fputs("larson: out of memory\n", stderr);
        return 1;
    }
    for (size_t i = 0; i < total; i++)
        blk[i] = new_block(&main_rng);
    for (size_t i = total; i > 1; i--) {
        size_t j = rng_below(&main_rng, (uint32_t)i);
        char *t = blk[j];
        blk[j] = blk[i - 1];
        blk[i - 1] = t;
    }
    for (size_t i = 0; i < 4 * total; i++) {
        size_t victim = rng_below(&main_rng, (uint32_t)total);
        free(blk[victim]);
        blk[victim] = new_block(&main_rng);
    }

    for (long i = 0; i < nthreads; i++) {
        slots[i].blk = blk + (size_t)i * nblocks;
        slots[i].rng.s = rng_next(&main_rng);
        sem_init(&slots[i].done, 0, 0);
    }

    double start = now();
    for (long i = 0; i < nthreads; i++) {
        pthread_t t;
        int err = pthread_create(&t, NULL, worker, &slots[i]);
        if (err) {
            fprintf(stderr, "larson: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    sleep_seconds(seconds);
    atomic_store(&stop, true);

    uint64_t ops = 0, threads = 0;
    for (long i = 0; i < nthreads; i++) {
        while (sem_wait(&slots[i].done) != 0)
            ;
        pthread_join(slots[i].last, NULL);
        ops += slots[i].ops;
        threads += slots[i].threads;
    }
    double elapsed = now() - start;

    double throughput = (double)ops / elapsed;
    printf("Throughput = %8.0f operations per second, relative time: %.3fs.\n", throughput,
           throughput > 0 ? 1e9 / throughput : 0.0);
    fprintf(stderr, "larson: %" PRIu64 " operations by %" PRIu64 " threads in %.3f s\n", ops, threads, elapsed);

    for (size_t i = 0; i < total; i++)
        free(blk[i]);
    for (long i = 0; i < nthreads; i++)
        sem_destroy(&slots[i].done);
    free(slots);
    free(blk);
    return atomic_load(&failed) ? 1 : 0;
}
