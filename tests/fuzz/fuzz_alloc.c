/* fuzz_alloc.c — libFuzzer harness of allocation sequences through the hak_
 * API: the input scripts malloc, calloc, realloc, reallocarray, memalign,
 * aligned_alloc, posix_memalign, free, usable size and trim over a table of
 * live blocks of every tier (up to 6 MiB). Each block is filled with a
 * pattern of its own, checked before it is freed or reallocated; calloc
 * memory must read zero, alignments must hold, usable sizes must cover the
 * request, requests too large must fail with ENOMEM, and no two live blocks
 * may overlap. Any violation aborts (a crash for libFuzzer).
 *
 * Input: a sequence of 4-byte ops: op, slot, and a 16-bit size code (the
 * top two bits choose the tier). */
#include "hakmem.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 64
#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

struct block {
    unsigned char *p;
    size_t n;
    uint32_t seed;
};
static struct block slot[SLOTS];
static uint32_t generation;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "fuzz_alloc.c:%d: %s failed\n", __LINE__, #cond); \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Bytes checked in a block: all of a small one, a sample of a big one
 * (every 257th, and the last), so that big blocks stay cheap. The loops
 * over the bytes carry no coverage instrumentation: it would take most of
 * the time and tell the fuzzer nothing. */
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
static size_t step_of(size_t n) { return n <= 4 * KiB ? 1 : 257; }
static unsigned char pattern(uint32_t seed, size_t i) { return (unsigned char)(seed ^ (i * 131) ^ (i >> 9)); }

NO_COVERAGE static void fill(struct block *b)
{
    size_t step = step_of(b->n);
    for (size_t i = 0; i < b->n; i += step)
        b->p[i] = pattern(b->seed, i);
    if (b->n > 0)
        b->p[b->n - 1] = pattern(b->seed, b->n - 1);
}

/* The bytes below upto of a block of n bytes filled at p with seed. */
NO_COVERAGE static void verify_prefix(const unsigned char *p, uint32_t seed, size_t n, size_t upto)
{
    size_t step = step_of(n);
    for (size_t i = 0; i < upto; i += step)
        CHECK(p[i] == pattern(seed, i));
    if (n > 0 && n - 1 < upto)
        CHECK(p[n - 1] == pattern(seed, n - 1));
}

NO_COVERAGE static void check_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += step_of(n))
        CHECK(p[i] == 0);
    CHECK(n == 0 || p[n - 1] == 0);
}

static void verify(const struct block *b) { verify_prefix(b->p, b->seed, b->n, b->n); }

/* Sizes of every tier: tiny/mid slab classes, the large arena, huge. */
static size_t size_of(uint16_t code)
{
    size_t low = code & 0x3fff;
    switch (code >> 14) {
    case 0: return low % 1025;                      /* 0 – 1 KiB */
    case 1: return 1 + low * 16;                    /* – 256 KiB */
    case 2: return 256 * KiB + low * 112;           /* – 2 MiB */
    default: return 2 * MiB - 4096 + low * 256;     /* – 6 MiB */
    }
}

static void check_new(struct block *b, void *p, size_t n, size_t align)
{
    CHECK(p != NULL);
    CHECK(((uintptr_t)p & (align - 1)) == 0);
    CHECK(n < 16 || ((uintptr_t)p & 15) == 0);
    CHECK(hak_malloc_usable_size(p) >= n);
    for (int i = 0; i < SLOTS; i++) /* no overlap with another live block */
        if (slot[i].p && &slot[i] != b)
            CHECK((unsigned char *)p + (n ? n : 1) <= slot[i].p ||
                  slot[i].p + (slot[i].n ? slot[i].n : 1) <= (unsigned char *)p);
    b->p = p;
    b->n = n;
    b->seed = ++generation * 2654435761u;
}

static void release(struct block *b)
{
    if (!b->p)
        return;
    verify(b);
    hak_free(b->p);
    b->p = NULL;
}

/* Requests no allocator can serve: NULL with ENOMEM, never a block. */
static void too_large(uint8_t pick)
{
    static const size_t huge[] = { SIZE_MAX, SIZE_MAX - 4095, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 60 };
    size_t n = huge[pick % 4];
    errno = 0;
    CHECK(hak_malloc(n) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(hak_calloc(n, 1) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(hak_calloc(2, n / 2 + 1) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(hak_memalign((size_t)1 << (pick % 24), n) == NULL && errno == ENOMEM);
    void *out = &out;
    CHECK(hak_posix_memalign(&out, 64, n) == ENOMEM && out == &out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t k = 0; k + 4 <= size; k += 4) {
        uint8_t op = data[k];
        struct block *b = &slot[data[k + 1] % SLOTS];
        uint16_t code = (uint16_t)(data[k + 2] | data[k + 3] << 8);
        size_t n = size_of(code);
        size_t align = (size_t)1 << (data[k + 1] % 23); /* up to 4 MiB */
        switch (op % 12) {
        case 0:
        case 1:
            release(b);
            check_new(b, hak_malloc(n), n, 1);
            fill(b);
            break;
        case 2: {
            release(b);
            size_t count = 1 + data[k + 1] % 7;
            unsigned char *p = hak_calloc(count, n / count);
            check_new(b, p, count * (n / count), 1);
            check_zero(p, b->n);
            fill(b);
            break;
        }
        case 3:
        case 4: { /* realloc: the common prefix survives, across tiers */
            if (!b->p)
                break;
            size_t keep = n < b->n ? n : b->n;
            verify(b);
            struct block old = *b;
            void *q = hak_realloc(b->p, n);
            if (n == 0) { /* frees, as glibc */
                CHECK(q == NULL);
                b->p = NULL;
                break;
            }
            b->p = NULL; /* the old block may be gone: no overlap check against it */
            check_new(b, q, n, 1);
            verify_prefix(q, old.seed, old.n, keep);
            fill(b);
            break;
        }
        case 5: {
            release(b);
            unsigned char *p = hak_reallocarray(NULL, 1 + code % 3, n / 3 + 1);
            check_new(b, p, (1 + code % 3) * (n / 3 + 1), 1);
            fill(b);
            break;
        }
        case 6:
            release(b);
            check_new(b, hak_memalign(align, n), n, align);
            fill(b);
            break;
        case 7:
            release(b);
            check_new(b, hak_aligned_alloc(align, n), n, align);
            fill(b);
            break;
        case 8: {
            release(b);
            void *p = NULL;
            size_t a = align < sizeof(void *) ? sizeof(void *) : align;
            CHECK(hak_posix_memalign(&p, a, n) == 0);
            check_new(b, p, n, a);
            fill(b);
            break;
        }
        case 9: /* all of the usable size is writable */
            if (b->p) {
                size_t u = hak_malloc_usable_size(b->p);
                CHECK(u >= b->n);
                b->p[u - 1] = 0xa5;
                fill(b); /* the pattern again, in case u - 1 was in it */
                verify(b);
            }
            break;
        case 10:
            release(b);
            break;
        default:
            if (code % 16 == 0)
                hak_trim();
            else
                too_large(data[k + 2]);
            break;
        }
    }
    for (int i = 0; i < SLOTS; i++)
        release(&slot[i]);
    return 0;
}
