/* mallopt.c — glibc's tuning and introspection calls as programs use them (SPEC §2): mallopt answers as glibc 2.36 does (1 for its parameters and unknown ones, 0 only for values glibc refuses), M_MMAP_THRESHOLD moves blocks to their own mappings, and mallinfo2 counts live allocations as in use: it follows what is allocated and stays flat under thread churn. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static int failures;
/* Where a block goes: the compiler may not drop a malloc whose block only
 * escapes through this. */
static void *volatile sink;

#define check(cond, ...) do { \
        if (!(cond)) { \
            fprintf(stderr, "mallopt: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            failures++; \
        } \
    } while (0)

static void returns(void)
{
    /* Accepted by glibc 2.36, whatever hakmem does with them. */
    struct { int param, value; } yes[] = {
        { M_MXFAST, 0 }, { M_MXFAST, 64 }, { M_MXFAST, 160 }, { M_TRIM_THRESHOLD, 128 * 1024 },
        { M_TOP_PAD, 0 }, { M_MMAP_MAX, 65536 }, { M_CHECK_ACTION, 3 }, { M_PERTURB, 0 },
        { M_ARENA_TEST, 8 }, { M_ARENA_MAX, 1 }, { M_ARENA_MAX, 0 }, { 12345, 1 },
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        check(mallopt(yes[i].param, yes[i].value) == 1, "param %d value %d: want 1\n", yes[i].param, yes[i].value);
    /* Refused by glibc: fastbins past 160 bytes, a threshold over 32 MiB. */
    check(mallopt(M_MXFAST, 161) == 0, "M_MXFAST 161 accepted\n");
    check(mallopt(M_MXFAST, -1) == 0, "M_MXFAST -1 accepted\n");
    check(mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024) == 0, "M_MMAP_THRESHOLD 64 MiB accepted\n");
    check(mallopt(M_MMAP_THRESHOLD, -1) == 0, "M_MMAP_THRESHOLD -1 accepted\n");
}

/* Below the default threshold a 1.5 MiB block is no mapping of its own;
 * with M_MMAP_THRESHOLD at 1 MiB it is. */
static void threshold(void)
{
    size_t before = mallinfo2().hblks;
    void *a = sink = malloc(MiB + MiB / 2);
    size_t during = mallinfo2().hblks;
    free(a);
    check(during == before, "a 1.5 MiB block is a mapping of its own before mallopt (%zu -> %zu)\n", before, during);
    check(mallopt(M_MMAP_THRESHOLD, (int)MiB) == 1, "M_MMAP_THRESHOLD 1 MiB refused\n");
    before = mallinfo2().hblks;
    a = sink = malloc(MiB + MiB / 2);
    during = mallinfo2().hblks;
    struct mallinfo2 m = mallinfo2();
    free(a);
    check(during == before + 1, "after M_MMAP_THRESHOLD 1 MiB, a 1.5 MiB block is not mapped (%zu -> %zu)\n", before,
          during);
    check(m.hblkhd >= MiB + MiB / 2, "hblkhd %zu under the block's size\n", m.hblkhd);
}

/* uordblks follows live allocations: up by about what is allocated, back
 * down when it is freed; uordblks + fordblks = arena. */
static void in_use(void)
{
    enum { N = 40000, SIZE = 256 };
    static void *p[N];
    struct mallinfo2 a = mallinfo2();
    for (int i = 0; i < N; i++)
        p[i] = malloc(SIZE);
    struct mallinfo2 b = mallinfo2();
    for (int i = 0; i < N; i++)
        free(p[i]);
    struct mallinfo2 c = mallinfo2();
    size_t live = (size_t)N * SIZE;
    check(b.uordblks >= a.uordblks + live * 9 / 10 && b.uordblks <= a.uordblks + live * 2,
          "uordblks %zu -> %zu for %zu bytes allocated\n", a.uordblks, b.uordblks, live);
    check(c.uordblks <= a.uordblks + live / 10, "uordblks %zu after the frees (%zu before the allocations)\n",
          c.uordblks, a.uordblks);
    check(b.uordblks + b.fordblks == b.arena, "uordblks %zu + fordblks %zu != arena %zu\n", b.uordblks, b.fordblks,
          b.arena);
}

static void *churn(void *arg)
{
    (void)arg;
    void *q[64];
    for (int i = 0; i < 64; i++)
        q[i] = sink = malloc((size_t)(i + 1) * 24);
    for (int i = 0; i < 64; i++)
        free(q[i]);
    return NULL;
}

/* glibc's tst-malloc-tcache-leak in small: thread churn leaves in-use flat. */
static void churn_flat(void)
{
    enum { WAVES = 40, PER_WAVE = 50 };
    size_t first = 0;
    for (int w = 0; w < WAVES; w++) {
        pthread_t t[PER_WAVE];
        for (int i = 0; i < PER_WAVE; i++)
            pthread_create(&t[i], NULL, churn, NULL);
        for (int i = 0; i < PER_WAVE; i++)
            pthread_join(t[i], NULL);
        if (w == WAVES / 4)
            first = mallinfo2().uordblks;
    }
    size_t last = mallinfo2().uordblks;
    check(last <= first + MiB, "uordblks grew from %zu to %zu over %d more threads\n", first, last,
          (WAVES - WAVES / 4 - 1) * PER_WAVE);
}

int main(void)
{
    returns();
    in_use();
    churn_flat();
    threshold();
    if (failures)
        return 1;
    printf("ok - mallopt answers as glibc 2.36; M_MMAP_THRESHOLD maps; mallinfo2 follows live bytes, flat under thread churn\n");
    return 0;
}
