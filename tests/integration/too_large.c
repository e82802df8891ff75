/* too_large.c — every allocating function asked for a size near SIZE_MAX, PTRDIFF_MAX + i or m << 50, under every power-of-two alignment, returns NULL with ENOMEM, leaves out-parameters and old blocks alone and never hands out a block (overflow checked before rounding to a class, an alignment or a chunk). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long tried, failed;

/* Keeps the compiler from folding or warning about the absurd sizes. */
__attribute__((noinline)) static size_t opaque(size_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x;
}

static void fail(const char *call, size_t n, size_t align, const void *got, int err)
{
    if (failed++ < 30)
        printf("not ok - %s(size %#zx, alignment %#zx) returned %p, errno %d (want NULL, ENOMEM)\n", call, n, align,
               got, err);
}

/* got and errno after a call that must have failed with ENOMEM. A block
 * that was handed out anyway is leaked: freeing a wrapped one could do harm. */
static void expect_enomem(const char *call, size_t n, size_t align, const void *got)
{
    int err = errno;
    tried++;
    if (got != NULL || err != ENOMEM)
        fail(call, n, align, got, err);
}

/* The sizes of glibc's tst-malloc-too-large and a few more: every one is
 * beyond what any machine can map once rounded up. */
static size_t sizes[256];
static size_t nsizes;

static void add(size_t n)
{
    if (nsizes < sizeof sizes / sizeof sizes[0])
        sizes[nsizes++] = n;
}

static void make_sizes(void)
{
    for (size_t i = 0; i < 24; i++)
        add(SIZE_MAX - i);
    for (size_t i = 1; i <= 4096; i *= 2)
        add(SIZE_MAX - i * 4096 + 1);
    add(SIZE_MAX - (2u << 20) + 1); /* one 2 MiB chunk short of wrapping */
    add(SIZE_MAX - (64u << 20) + 1);
    for (size_t i = 0; i < 16; i++)
        add((size_t)PTRDIFF_MAX + i);
    add((size_t)PTRDIFF_MAX - 4095);
    add(SIZE_MAX / 2 + (2u << 20));
    for (size_t m = 1; m < 16; m++)
        add(m << 50);
    add((size_t)1 << 48);
    add((size_t)1 << 63);
}

static void *live_blocks[4];
static const size_t live_sizes[4] = { 100, 100 << 10, 1 << 20, 8 << 20 };

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 997)
        p[i] = (unsigned char)(seed + i);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 997)
        if (p[i] != (unsigned char)(seed + i))
            return 0;
    return 1;
}

static void test_size(size_t n)
{
    errno = 0;
    expect_enomem("malloc", n, 0, malloc(opaque(n)));
    errno = 0;
    expect_enomem("calloc(1, n)", n, 0, calloc(1, opaque(n)));
    errno = 0;
    expect_enomem("calloc(n, 1)", n, 0, calloc(opaque(n), 1));
    /* Products that wrap to something small. */
    errno = 0;
    expect_enomem("calloc(n, 16)", n, 0, calloc(opaque(n), 16));
    errno = 0;
    expect_enomem("calloc(n / 2 + 1, 2)", n, 0, calloc(opaque(n / 2 + 1), 2));
    errno = 0;
    expect_enomem("realloc(NULL, n)", n, 0, realloc(NULL, opaque(n)));
    errno = 0;
    expect_enomem("reallocarray(NULL, n, 1)", n, 0, reallocarray(NULL, opaque(n), 1));
    errno = 0;
    expect_enomem("reallocarray(NULL, 3, n)", n, 0, reallocarray(NULL, 3, opaque(n)));
    errno = 0;
    expect_enomem("valloc", n, 4096, valloc(opaque(n)));
    errno = 0;
    expect_enomem("pvalloc", n, 4096, pvalloc(opaque(n)));

    /* A live block of every tier stays as it was. */
    for (int t = 0; t < 4; t++) {
        errno = 0;
        expect_enomem("realloc(live block, n)", n, 0, realloc(live_blocks[t], opaque(n)));
        errno = 0;
        expect_enomem("reallocarray(live block, n, 1)", n, 0, reallocarray(live_blocks[t], opaque(n), 1));
    }

    for (unsigned shift = 0; shift < sizeof(size_t) * 8; shift++) {
        size_t align = (size_t)1 << shift;
        errno = 0;
        expect_enomem("aligned_alloc", n, align, aligned_alloc(align, opaque(n)));
        errno = 0;
        expect_enomem("memalign", n, align, memalign(align, opaque(n)));
        if (align < sizeof(void *))
            continue; /* EINVAL there, tested by contract.c */
        void *out = &out;
        int r = posix_memalign(&out, align, opaque(n));
        tried++;
        if (r != ENOMEM || out != &out)
            fail(r != ENOMEM ? "posix_memalign (return value)" : "posix_memalign (out-parameter)", n, align,
                 out == &out ? NULL : out, r);
    }
}

/* Huge alignments with ordinary sizes: the alignment alone cannot be met. */
static void test_alignment_only(void)
{
    for (unsigned shift = 47; shift < sizeof(size_t) * 8; shift++) {
        size_t align = (size_t)1 << shift;
        for (size_t n = 1; n <= (1u << 20); n <<= 10) {
            errno = 0;
            expect_enomem("aligned_alloc (huge alignment)", n, align, aligned_alloc(opaque(align), n));
            errno = 0;
            expect_enomem("memalign (huge alignment)", n, align, memalign(opaque(align), n));
            void *out = &out;
            int r = posix_memalign(&out, opaque(align), n);
            tried++;
            if (r != ENOMEM || out != &out)
                fail("posix_memalign (huge alignment)", n, align, out == &out ? NULL : out, r);
        }
    }
}

int main(void)
{
    int under_hakmem = dlsym(RTLD_DEFAULT, "hak_version") != NULL;
    make_sizes();
    for (int t = 0; t < 4; t++) {
        live_blocks[t] = malloc(live_sizes[t]);
        if (!live_blocks[t]) {
            printf("not ok - malloc(%zu) failed\n", live_sizes[t]);
            return 1;
        }
        fill(live_blocks[t], live_sizes[t], (unsigned)t);
    }
    for (size_t i = 0; i < nsizes; i++)
        test_size(sizes[i]);
    test_alignment_only();
    for (int t = 0; t < 4; t++) {
        if (!intact(live_blocks[t], live_sizes[t], (unsigned)t)) {
            printf("not ok - a failed realloc changed the block of %zu bytes\n", live_sizes[t]);
            failed++;
        }
        /* Still a live block of ours: it grows and is freed normally. */
        void *q = realloc(live_blocks[t], live_sizes[t] * 2);
        if (!q || !intact(q, live_sizes[t], (unsigned)t)) {
            printf("not ok - realloc of the %zu-byte block after the refusals\n", live_sizes[t]);
            failed++;
        }
        free(q);
    }
    printf("%s - too large: %lu calls over %zu sizes, %lu wrong%s\n", failed ? "not ok" : "ok", tried, nsizes,
           failed, under_hakmem ? "" : " (hakmem is not loaded: testing the system allocator)");
    return failed != 0;
}
