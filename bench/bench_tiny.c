/* bench_tiny.c — single-thread churn of small blocks (16–128 B; 1–16 KiB in `mid`): ns per malloc+free pair for a few access patterns. */
#include "allocator.h"
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: bench_tiny [--reps N] [--ops N] [--pattern NAME]\n"
    "  --reps N        timed repetitions of each pattern (default 11)\n"
    "  --ops N         malloc+free pairs per repetition (default 1000000)\n"
    "  --pattern NAME  run only this pattern (hot, lifo, fifo, rand, simple, window, mid)\n"
    "Prints one line per pattern:\n"
    "  tiny PATTERN median_ns=X min_ns=Y ops=N reps=R\n"
    "where X and Y are ns per malloc+free pair over the repetitions.\n";

enum { BATCH = 1000 }; /* blocks live at once in the batch and rand patterns */

/* Every pointer is stored here, so no block can be proven unused and elided. */
static void *volatile sink;

/* 16, 32, …, 128 in turn. */
static size_t cycle_size(uint64_t i)
{
    return 16 * (1 + (i & 7));
}

static void *get(size_t size, uint64_t i)
{
    unsigned char *p = malloc(size);
    if (!p) {
        fprintf(stderr, "bench_tiny: malloc(%zu) failed\n", size);
        exit(1);
    }
    p[0] = (unsigned char)i;
    p[size - 1] = (unsigned char)i;
    sink = p;
    return p;
}

/* Each pattern does about `ops` malloc+free pairs and returns how many. */
typedef uint64_t pattern_fn(uint64_t ops);

/* malloc then free straight away: the allocator's fast path. */
static uint64_t pattern_hot(uint64_t ops)
{
    for (uint64_t i = 0; i < ops; i++)
        free(get(cycle_size(i), i));
    return ops;
}

static uint64_t batches(uint64_t ops)
{
    return ops < BATCH ? 1 : ops / BATCH;
}

/* BATCH blocks, freed newest first. */
static uint64_t pattern_lifo(uint64_t ops)
{
    void *live[BATCH];
    uint64_t n = batches(ops);
    for (uint64_t b = 0; b < n; b++) {
        for (uint64_t i = 0; i < BATCH; i++)
            live[i] = get(cycle_size(i), i);
        for (uint64_t i = BATCH; i > 0; i--)
            free(live[i - 1]);
    }
    return n * BATCH;
}

/* BATCH blocks, freed oldest first. */
static uint64_t pattern_fifo(uint64_t ops)
{
    void *live[BATCH];
    uint64_t n = batches(ops);
    for (uint64_t b = 0; b < n; b++) {
        for (uint64_t i = 0; i < BATCH; i++)
            live[i] = get(cycle_size(i), i);
        for (uint64_t i = 0; i < BATCH; i++)
            free(live[i]);
    }
    return n * BATCH;
}

/* xorshift64: a fixed seed gives every run the same sequence. */
static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A live set of BATCH blocks; each step frees a random one and allocates a
 * random size (16–128, step 16) in its place. Filling and emptying the set
 * are timed too, as BATCH pairs of the total. */
static uint64_t pattern_rand(uint64_t ops)
{
    void *live[BATCH];
    uint64_t s = 0x9E3779B97F4A7C15u;
    uint64_t steps = ops > BATCH ? ops - BATCH : 0;
    for (uint64_t i = 0; i < BATCH; i++)
        live[i] = get(cycle_size(i), i);
    for (uint64_t i = 0; i < steps; i++) {
        uint64_t r = xorshift(&s);
        uint64_t victim = (r >> 32) % BATCH;
        free(live[victim]);
        live[victim] = get(cycle_size(r), i);
    }
    for (uint64_t i = 0; i < BATCH; i++)
        free(live[i]);
    return steps + BATCH;
}

/* glibc-simple's shape (mimalloc-bench): SIMPLE blocks of one size (16, 32
 * and 64 B in turn), the first half freed oldest first, the second half
 * newest first. Bursts of frees longer than any TLS bound. */
enum { SIMPLE = 1600 };
static uint64_t pattern_simple(uint64_t ops)
{
    static void *live[SIMPLE];
    uint64_t n = ops < SIMPLE ? 1 : ops / SIMPLE;
    for (uint64_t b = 0; b < n; b++) {
        size_t size = (size_t)16 << (b % 3);
        for (uint64_t i = 0; i < SIMPLE; i++)
            live[i] = get(size, i);
        for (uint64_t i = 0; i < SIMPLE / 2; i++)
            free(live[i]);
        for (uint64_t i = SIMPLE; i > SIMPLE / 2; i--)
            free(live[i - 1]);
    }
    return n * SIMPLE;
}

/* A FIFO window of WINDOW blocks of random sizes: each step frees the
 * oldest block and allocates one in its place. */
enum { WINDOW = 64 };
static uint64_t window_run(uint64_t ops, size_t (*size_of)(uint64_t r))
{
    void *live[WINDOW];
    uint64_t s = 0x9E3779B97F4A7C15u;
    for (uint64_t i = 0; i < WINDOW; i++)
        live[i] = get(size_of(xorshift(&s) >> 32), i);
    uint64_t steps = ops > WINDOW ? ops - WINDOW : 0;
    for (uint64_t i = 0; i < steps; i++) {
        unsigned k = (unsigned)(i % WINDOW);
        free(live[k]);
        live[k] = get(size_of(xorshift(&s) >> 32), i);
    }
    for (uint64_t i = 0; i < WINDOW; i++)
        free(live[i]);
    return steps + WINDOW;
}

/* 16–128 B, step 16. */
static uint64_t pattern_window(uint64_t ops) { return window_run(ops, cycle_size); }

/* 1–16 KiB, step 1 KiB: the mid classes. */
static size_t mid_size(uint64_t r) { return 1024 * (1 + (r & 15)); }
static uint64_t pattern_mid(uint64_t ops) { return window_run(ops, mid_size); }

static const struct {
    const char *name;
    pattern_fn *run;
} patterns[] = {
    { "hot", pattern_hot },
    { "lifo", pattern_lifo },
    { "fifo", pattern_fifo },
    { "rand", pattern_rand },
    { "simple", pattern_simple },
    { "window", pattern_window },
    { "mid", pattern_mid },
};


static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long parse_count(const char *opt, const char *s, long max)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < 1 || v > max) {
        fprintf(stderr, "bench_tiny: %s needs an integer in [1, %ld]\n%s", opt, max, usage);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long reps = 11, ops = 1000000;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps"))
            reps = parse_count("--reps", i + 1 < argc ? argv[++i] : NULL, 100000);
        else if (!strcmp(argv[i], "--ops"))
            ops = parse_count("--ops", i + 1 < argc ? argv[++i] : NULL, 1L << 40);
        else if (!strcmp(argv[i], "--pattern") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "bench_tiny: unknown argument '%s'\n%s", argv[i], usage);
            return 2;
        }
    }

    print_allocator();
    double *ns = malloc((size_t)reps * sizeof *ns);
    if (!ns) {
        fputs("bench_tiny: out of memory\n", stderr);
        return 1;
    }
    bool found = false;
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        if (only && strcmp(only, patterns[p].name))
            continue;
        found = true;
        uint64_t pairs = patterns[p].run((uint64_t)ops); /* untimed warm-up */
        for (long r = 0; r < reps; r++) {
            uint64_t t0 = now_ns();
            pairs = patterns[p].run((uint64_t)ops);
            ns[r] = (double)(now_ns() - t0) / (double)pairs;
        }
        qsort(ns, (size_t)reps, sizeof *ns, cmp_double);
        double median = reps % 2 ? ns[reps / 2] : (ns[reps / 2 - 1] + ns[reps / 2]) / 2;
        printf("tiny %s median_ns=%.2f min_ns=%.2f ops=%llu reps=%ld\n", patterns[p].name, median, ns[0],
               (unsigned long long)pairs, reps);
        fflush(stdout);
    }
    free(ns);
    if (!found) {
        fprintf(stderr, "bench_tiny: no pattern '%s'\n%s", only, usage);
        return 2;
    }
    return 0;
}
