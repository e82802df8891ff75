/* contract.c — the malloc contract of SPEC §2 through the standard names; passes on glibc, and under hakmem (LD_PRELOAD) adds the checks where SPEC is stricter. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define PAGE ((size_t)4096)

/* Sizes that straddle every tier bound (tiny ≤ 1 KiB, mid ≤ 256 KiB, the
 * default 2 MiB mmap threshold, the ELO range up to 32 MiB). */
static const size_t tier_sizes[] = {
    1, 8, 15, 16, 17, 100, 127, 128, 129, 1000, 1023, 1024, 1025, 2000, 4095, 4096, 4097,
    65535, 65536, 65537, 100 * KiB, 256 * KiB - 1, 256 * KiB, 256 * KiB + 1, 1 * MiB,
    2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 8 * MiB, 32 * MiB + 1,
};
#define NSIZES (sizeof tier_sizes / sizeof tier_sizes[0])

static int under_hakmem;

/* Hide values from the compiler so it neither folds nor warns about the
 * deliberately absurd sizes, nor drops an allocation whose result is unused. */
static size_t opaque(size_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x;
}

static void *escape(void *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

static void *sym(const char *name) { return dlsym(RTLD_DEFAULT, name); }

/* Byte i of a block filled with seed s is byte (i % 8) of word(s, i / 8):
 * every offset gets a value that depends on its position and the seed. */
static uint64_t word(uint64_t s, size_t i) { return (s + i) * 0x9E3779B97F4A7C15ULL ^ (i >> 3); }

static void fill(void *p, size_t n, uint64_t s)
{
    uint64_t *w = p;
    size_t nw = n / 8;
    for (size_t i = 0; i < nw; i++)
        w[i] = word(s, i);
    uint64_t last = word(s, nw);
    memcpy((char *)p + nw * 8, &last, n % 8);
}

/* The first offset that does not hold the pattern, or SIZE_MAX. */
static size_t mismatch(const void *p, size_t n, uint64_t s)
{
    const uint64_t *w = p;
    size_t nw = n / 8;
    for (size_t i = 0; i < nw; i++)
        if (w[i] != word(s, i))
            return i * 8;
    uint64_t last = word(s, nw);
    if (memcmp((const char *)p + nw * 8, &last, n % 8) != 0)
        return nw * 8;
    return SIZE_MAX;
}

#define assert_pattern(p, n, s) do { \
        size_t at_ = mismatch((p), (n), (s)); \
        if (at_ != SIZE_MAX) \
            fail_msg("block %p (%zu bytes): content lost at offset %zu", (void *)(p), (size_t)(n), at_); \
    } while (0)

#define assert_aligned(p, a) do { \
        if ((uintptr_t)(p) % (a) != 0) \
            fail_msg("%p is not aligned to %zu", (void *)(p), (size_t)(a)); \
    } while (0)

#define assert_enomem(expr) do { \
        errno = 0; \
        void *r_ = (expr); \
        if (r_ != NULL || errno != ENOMEM) \
            fail_msg("%s: got %p, errno %d; want NULL, ENOMEM", #expr, r_, errno); \
    } while (0)

/* Writes to every byte of a block that may be huge: all of it up to 1 MiB,
 * else the first and last page (enough to prove the range is mapped). */
static void touch(void *p, size_t n)
{
    if (n <= MiB) {
        memset(p, 0x5c, n);
    } else {
        memset(p, 0x5c, PAGE);
        memset((char *)p + n - PAGE, 0x5c, PAGE);
    }
}

/* Runs fn(arg) in a child with stderr discarded; returns its wait status. */
static int in_child(void (*fn)(size_t), size_t arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's handlers would longjmp into the parent's test state. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        fn(arg);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------ exports */

static const char *const exported[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
    "memalign", "valloc", "pvalloc", "malloc_usable_size", "__libc_malloc", "__libc_free",
    "__libc_calloc", "__libc_realloc", "__libc_memalign", "__posix_memalign", "cfree",
    "free_sized", "free_aligned_sized", "malloc_trim", "mallinfo2", "malloc_stats",
    "malloc_info", "mallopt",
};

/* Under hakmem every name of SPEC §2 must resolve to libhakmem itself, or
 * the program would mix two allocators. */
static void test_exports(void **state)
{
    if (!under_hakmem) {
        assert_non_null(sym("__libc_malloc"));
        assert_non_null(sym("__libc_free"));
        return;
    }
    Dl_info self, info;
    assert_true(dladdr(sym("hak_version"), &self));
    for (size_t i = 0; i < sizeof exported / sizeof exported[0]; i++) {
        void *f = sym(exported[i]);
        if (!f)
            fail_msg("%s is not exported", exported[i]);
        if (!dladdr(f, &info) || info.dli_fbase != self.dli_fbase)
            fail_msg("%s resolves to %s, not to %s", exported[i], info.dli_fname, self.dli_fname);
    }
}

/* ------------------------------------------------------------ zero and NULL */

static void test_malloc_zero_unique(void **state)
{
    enum { N = 1000 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(opaque(0));
        assert_non_null(p[i]);
    }
    void *q[N];
    memcpy(q, p, sizeof q);
    qsort(q, N, sizeof q[0], cmp_ptr);
    for (int i = 1; i < N; i++)
        if (q[i] == q[i - 1])
            fail_msg("malloc(0) returned %p twice", q[i]);
    for (int i = 0; i < N; i++)
        free(p[i]);

    void *c = calloc(opaque(0), 8), *d = calloc(8, opaque(0)), *r = realloc(NULL, opaque(0));
    assert_non_null(c);
    assert_non_null(d);
    assert_non_null(r);
    assert_ptr_not_equal(c, d);
    free(c);
    free(d);
    free(r);
}

static void test_free_null(void **state)
{
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))sym("free_sized");
    void (*cf)(void *) = (void (*)(void *))sym("cfree");
    errno = EILSEQ;
    for (int i = 0; i < 100; i++) {
        free(escape(NULL));
        if (fs)
            fs(NULL, 0);
        if (cf)
            cf(NULL);
    }
    assert_int_equal(errno, EILSEQ);
    /* The allocator is unharmed. */
    void *p = malloc(100);
    assert_non_null(p);
    free(p);
}

/* ------------------------------------------------------------ failures */

static void test_enomem(void **state)
{
    /* 2^47 bytes is the whole user address space: the OS must refuse. */
    const size_t absurd = (size_t)1 << 47;
    assert_enomem(malloc(opaque(SIZE_MAX)));
    assert_enomem(malloc(opaque((size_t)PTRDIFF_MAX + 1)));
    assert_enomem(malloc(opaque(PTRDIFF_MAX)));
    assert_enomem(malloc(opaque(SIZE_MAX - 4096)));
    assert_enomem(malloc(opaque(absurd)));
    assert_enomem(calloc(opaque(1), opaque(absurd)));
    assert_enomem(valloc(opaque(SIZE_MAX)));
    assert_enomem(pvalloc(opaque(SIZE_MAX)));
    assert_enomem(pvalloc(opaque(SIZE_MAX - 100))); /* the page rounding must not wrap */
    assert_enomem(aligned_alloc(16, opaque(SIZE_MAX)));
    assert_enomem(aligned_alloc(64 * MiB, opaque(PTRDIFF_MAX)));
    assert_enomem(memalign(PAGE, opaque(SIZE_MAX - PAGE)));
    assert_enomem(memalign(2 * MiB, opaque(absurd)));

    void *out = (void *)0x1234;
    assert_int_equal(posix_memalign(&out, 64, opaque(SIZE_MAX)), ENOMEM);
    assert_ptr_equal(out, (void *)0x1234);
    assert_int_equal(posix_memalign(&out, 4096, opaque(absurd)), ENOMEM);
    assert_ptr_equal(out, (void *)0x1234);

    /* The heap still works after every refusal. */
    void *p = malloc(100);
    assert_non_null(p);
    free(p);
}

static void test_calloc_overflow(void **state)
{
    assert_enomem(calloc(opaque(SIZE_MAX), 2));
    assert_enomem(calloc(2, opaque(SIZE_MAX)));
    assert_enomem(calloc(opaque((size_t)1 << 32), opaque(((size_t)1 << 32) + 1)));
    assert_enomem(calloc(opaque(SIZE_MAX / 16 + 1), 16));
    assert_enomem(calloc(opaque(PTRDIFF_MAX), 1));
}

static void test_reallocarray_overflow(void **state)
{
    assert_enomem(reallocarray(NULL, opaque(SIZE_MAX), 2));
    assert_enomem(reallocarray(NULL, opaque((size_t)1 << 33), opaque((size_t)1 << 33)));

    /* On failure the old block is untouched and still ours to free. */
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = tier_sizes[i];
        char *p = malloc(n);
        assert_non_null(p);
        fill(p, n, n);
        assert_enomem(reallocarray(escape(p), opaque(SIZE_MAX / 2), 3));
        assert_enomem(realloc(escape(p), opaque(SIZE_MAX)));
        assert_enomem(realloc(escape(p), opaque((size_t)1 << 47)));
        assert_pattern(p, n, n);
        char *q = reallocarray(p, n, 2);
        assert_non_null(q);
        assert_pattern(q, n, n);
        free(q);
    }
}

/* ------------------------------------------------------------ alignment */

/* An object of n bytes needs the alignment of any type that fits in n:
 * 16 (max_align_t) from 16 bytes up, the largest power of two ≤ n below. */
static size_t min_align(size_t n)
{
    if (n >= 16)
        return 16;
    size_t a = 1;
    while (a * 2 <= n)
        a *= 2;
    return a;
}

static void check_sizes_aligned(size_t n, int count)
{
    void *p[8];
    for (int i = 0; i < count; i++) {
        p[i] = malloc(n);
        if (!p[i])
            fail_msg("malloc(%zu) failed", n);
        assert_aligned(p[i], min_align(n));
        touch(p[i], n);
    }
    for (int i = 0; i < count; i++)
        free(p[i]);
}

static void test_alignment_all_tiers(void **state)
{
    for (size_t n = 1; n <= 4096; n++)
        check_sizes_aligned(n, 8);
    /* Then ×1.125 steps to 64 MiB, each with its neighbours. */
    for (size_t s = 4096; s <= 64 * MiB; s += s / 8)
        for (size_t n = s - 1; n <= s + 1; n++)
            check_sizes_aligned(n, n <= MiB ? 8 : 2);
    for (size_t i = 0; i < NSIZES; i++)
        check_sizes_aligned(tier_sizes[i], 4);
    for (size_t i = 0; i < NSIZES; i++) {
        void *c = calloc(1, tier_sizes[i]);
        assert_non_null(c);
        assert_aligned(c, min_align(tier_sizes[i]));
        void *r = realloc(c, tier_sizes[NSIZES - 1 - i]);
        assert_non_null(r);
        assert_aligned(r, min_align(tier_sizes[NSIZES - 1 - i]));
        free(r);
    }
}

static void test_posix_memalign_einval(void **state)
{
    static const size_t bad[] = { 0, 1, 2, 3, 4, 6, 12, 24, 40, 48, 96, 1000, 4097, 3 * MiB,
                                  SIZE_MAX, SIZE_MAX / 2, ((size_t)1 << 63) + 8 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = (void *)0x5678;
        errno = EILSEQ;
        int r = posix_memalign(&out, opaque(bad[i]), 64);
        if (r != EINVAL)
            fail_msg("posix_memalign(alignment %zu) returned %d, want EINVAL", bad[i], r);
        if (out != (void *)0x5678)
            fail_msg("posix_memalign(alignment %zu) wrote %p to the out-parameter", bad[i], out);
        assert_int_equal(errno, EILSEQ);
    }
}

/* Every power-of-two alignment from 8 (16 for the others) to 64 MiB, each
 * with sizes below, at and above it; two live at once so neither is a
 * lucky reuse. */
static void check_aligned(void *p, size_t align, size_t n, const char *fn)
{
    if (!p)
        fail_msg("%s(%zu, %zu) failed", fn, align, n);
    assert_aligned(p, align);
    if (malloc_usable_size(p) < n)
        fail_msg("%s(%zu, %zu): usable size %zu", fn, align, n, malloc_usable_size(p));
    touch(p, n);
}

static void test_aligned_family(void **state)
{
    for (size_t a = 8; a <= 64 * MiB; a *= 2) {
        const size_t sizes[] = { 1, 24, a / 2 + 1, a, a + 1 };
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            void *p[2], *q[2], *m[2];
            for (int i = 0; i < 2; i++) {
                assert_int_equal(posix_memalign(&p[i], a, n), 0);
                check_aligned(p[i], a, n, "posix_memalign");
                if (a < 16)
                    continue;
                q[i] = aligned_alloc(a, n);
                check_aligned(q[i], a, n, "aligned_alloc");
                m[i] = memalign(a, n);
                check_aligned(m[i], a, n, "memalign");
            }
            for (int i = 0; i < 2; i++) {
                free(p[i]);
                if (a >= 16) {
                    free(q[i]);
                    free(m[i]);
                }
            }
        }
    }
    /* memalign rounds any other alignment up to a power of two, as glibc. */
    void *p = memalign(24, 100);
    assert_non_null(p);
    assert_aligned(p, 32);
    free(p);
    p = memalign(3000, 10);
    assert_non_null(p);
    assert_aligned(p, 4096);
    free(p);
}

static void test_valloc_pvalloc(void **state)
{
    static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 10000, 65536, 300 * KiB, 3 * MiB + 1 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *v = valloc(n);
        check_aligned(v, PAGE, n, "valloc");
        /* pvalloc: the size rounded up to whole pages, all of it usable. */
        size_t rounded = (n + PAGE - 1) / PAGE * PAGE;
        void *pv = pvalloc(n);
        check_aligned(pv, PAGE, rounded, "pvalloc");
        memset(pv, 0x11, rounded);
        free(v);
        free(pv);
    }
    void *z = pvalloc(opaque(0));
    assert_non_null(z);
    assert_aligned(z, PAGE);
    if (under_hakmem && malloc_usable_size(z) < PAGE)
        fail_msg("pvalloc(0): usable size %zu, want a page", malloc_usable_size(z));
    free(z);
}

/* ------------------------------------------------------------ calloc */

static void assert_zero(const unsigned char *p, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            fail_msg("%s of %zu bytes: byte %zu is 0x%02x, not zero", what, n, i, p[i]);
}

/* Blocks are dirtied and freed, then the same size is calloc'ed: the
 * allocator will hand back the dirty blocks, which must come back zero. */
static void test_calloc_zero_reuse(void **state)
{
    static const size_t sizes[] = { 1, 16, 24, 100, 512, 1000, 1024, 1025, 2000, 4096, 10000,
                                    65536, 100 * KiB, 256 * KiB, 256 * KiB + 1, 1 * MiB,
                                    2 * MiB + 1, 5 * MiB };
    enum { MAXB = 64 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        size_t count = 4 * MiB / n;
        count = count < 1 ? 1 : count > MAXB ? MAXB : count;
        unsigned char *b[MAXB];
        for (size_t k = 0; k < count; k++) {
            b[k] = malloc(n);
            assert_non_null(b[k]);
            memset(b[k], 0xAA, n);
        }
        for (int round = 0; round < 20; round++) {
            for (size_t k = 0; k < count; k++)
                free(b[k]);
            for (size_t k = 0; k < count; k++) {
                /* Vary the split of n between count and size. */
                b[k] = round % 3 == 0 ? calloc(1, n) : round % 3 == 1 ? calloc(n, 1)
                     : n % 8 == 0 ? calloc(n / 8, 8) : calloc(n, 1);
                assert_non_null(b[k]);
                assert_aligned(b[k], min_align(n));
                assert_zero(b[k], n, "calloc");
                memset(b[k], 0xAA, n);
            }
        }
        for (size_t k = 0; k < count; k++)
            free(b[k]);
    }
}

/* ------------------------------------------------------------ realloc */

/* Up through every tier and back down, by growing and shrinking steps;
 * includes huge → smaller huge → larger huge, within its mapping and not. */
static const size_t realloc_chain[] = {
    1, 8, 16, 100, 1000, 1024, 1025, 4096, 65536, 200 * KiB, 256 * KiB, 256 * KiB + 1,
    1 * MiB, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 8 * MiB, 5 * MiB, 6 * MiB, 7 * MiB, 40 * MiB,
    40 * MiB, 9 * MiB, 2 * MiB + 1, 2 * MiB - 1, 1 * MiB, 256 * KiB + 1, 256 * KiB,
    255 * KiB, 100 * KiB, 65536, 4097, 1025, 1024, 1023, 512, 100, 16, 15, 1,
};

static void test_realloc_across_tiers(void **state)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t cur = realloc_chain[0];
        char *p = malloc(cur);
        assert_non_null(p);
        fill(p, cur, seed);
        for (size_t i = 1; i < sizeof realloc_chain / sizeof realloc_chain[0]; i++) {
            size_t n = realloc_chain[i];
            /* Another live block of the old size, so the block cannot simply
             * stay where it is by accident of an empty heap. */
            void *other = malloc(cur);
            char *q = realloc(p, n);
            if (!q)
                fail_msg("realloc(%zu → %zu) failed", cur, n);
            assert_aligned(q, min_align(n));
            if (malloc_usable_size(q) < n)
                fail_msg("realloc(%zu → %zu): usable size %zu", cur, n, malloc_usable_size(q));
            size_t keep = cur < n ? cur : n;
            size_t at = mismatch(q, keep, seed);
            if (at != SIZE_MAX)
                fail_msg("realloc(%zu → %zu): content lost at offset %zu", cur, n, at);
            fill(q, n, seed);
            free(other);
            p = q;
            cur = n;
        }
        free(p);
    }
}

static void test_realloc_null_and_zero(void **state)
{
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = tier_sizes[i];
        char *p = realloc(NULL, n);
        assert_non_null(p);
        assert_aligned(p, min_align(n));
        assert_true(malloc_usable_size(p) >= n);
        fill(p, n, 7);
        assert_pattern(p, n, 7);
        free(p);
    }
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = malloc(tier_sizes[i]);
        assert_non_null(p);
        assert_null(realloc(p, opaque(0)));
    }
}

/* realloc(p, 0) freed p: freeing p again is a double free, which both
 * glibc (tcache check, small blocks) and hakmem (every tier) abort on. */
static void realloc_zero_then_free(size_t n)
{
    void *p = malloc(n);
    if (!p)
        _exit(2);
    if (realloc(p, opaque(0)) != NULL)
        _exit(3);
    free(escape(p));
    _exit(0);
}

static void free_sized_then_free(size_t n)
{
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))sym("free_sized");
    void *p = malloc(n);
    if (!p)
        _exit(2);
    fs(p, n);
    free(escape(p));
    _exit(0);
}

static void free_aligned_sized_then_free(size_t n)
{
    void (*fas)(void *, size_t, size_t) = (void (*)(void *, size_t, size_t))sym("free_aligned_sized");
    void *p = aligned_alloc(64, n);
    if (!p)
        _exit(2);
    fas(p, 64, n);
    free(escape(p));
    _exit(0);
}

static void assert_aborted(int st, const char *what, size_t n)
{
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
        fail_msg("%s(%zu bytes) then free: child %s %d, want SIGABRT (block not freed?)", what, n,
                 WIFSIGNALED(st) ? "got signal" : "exited with", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void test_realloc_zero_frees(void **state)
{
    static const size_t sizes[] = { 100, 100 * KiB, 8 * MiB };
    /* glibc detects only small double frees; hakmem must in every tier. */
    size_t nsizes = under_hakmem ? 3 : 1;
    for (size_t i = 0; i < nsizes; i++)
        assert_aborted(in_child(realloc_zero_then_free, sizes[i]), "realloc(p, 0)", sizes[i]);
}

static void test_free_sized(void **state)
{
    static const size_t sizes[] = { 100, 100 * KiB, 8 * MiB };
    if (!sym("free_sized")) {
        assert_false(under_hakmem); /* glibc 2.36 has no free_sized */
        return;
    }
    assert_non_null(sym("free_aligned_sized"));
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = tier_sizes[i];
        void (*fs)(void *, size_t) = (void (*)(void *, size_t))sym("free_sized");
        void (*fas)(void *, size_t, size_t) = (void (*)(void *, size_t, size_t))sym("free_aligned_sized");
        void *p = malloc(n), *q = aligned_alloc(256, n);
        assert_non_null(p);
        assert_non_null(q);
        errno = EILSEQ;
        fs(p, n);
        fas(q, 256, n);
        assert_int_equal(errno, EILSEQ);
    }
    for (size_t i = 0; i < 3; i++) {
        assert_aborted(in_child(free_sized_then_free, sizes[i]), "free_sized", sizes[i]);
        assert_aborted(in_child(free_aligned_sized_then_free, sizes[i]), "free_aligned_sized", sizes[i]);
    }
}

/* ------------------------------------------------------------ usable size */

/* All usable bytes of neighbouring blocks are written; no write may reach
 * another block. */
static void test_usable_size(void **state)
{
    enum { N = 6 };
    assert_int_equal(malloc_usable_size(NULL), 0);
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = tier_sizes[i];
        char *p[N];
        size_t u[N];
        for (int k = 0; k < N; k++) {
            p[k] = malloc(n);
            assert_non_null(p[k]);
            u[k] = malloc_usable_size(p[k]);
            if (u[k] < n)
                fail_msg("malloc_usable_size(malloc(%zu)) = %zu", n, u[k]);
            fill(p[k], u[k], n + (size_t)k);
        }
        for (int k = 0; k < N; k++) {
            assert_int_equal(malloc_usable_size(p[k]), u[k]);
            assert_pattern(p[k], u[k], n + (size_t)k);
            free(p[k]);
        }
    }
    /* The same for aligned blocks, whose start is not a class boundary. */
    for (size_t a = 32; a <= 4 * MiB; a *= 4) {
        char *p[N];
        size_t u[N];
        for (int k = 0; k < N; k++) {
            p[k] = aligned_alloc(a, 3 * a / 2 + 1);
            assert_non_null(p[k]);
            u[k] = malloc_usable_size(p[k]);
            assert_true(u[k] >= 3 * a / 2 + 1);
            fill(p[k], u[k], a + (size_t)k);
        }
        for (int k = 0; k < N; k++) {
            assert_pattern(p[k], u[k], a + (size_t)k);
            free(p[k]);
        }
    }
}

/* ------------------------------------------------------------ errno */

static void test_errno_preserved_by_free(void **state)
{
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = malloc(tier_sizes[i]);
        assert_non_null(p);
        touch(p, tier_sizes[i]);
        errno = EILSEQ;
        free(p);
        if (errno != EILSEQ)
            fail_msg("free of a %zu-byte block changed errno to %d", tier_sizes[i], errno);
    }
    /* A burst of frees that empties slabs and releases memory to the OS. */
    enum { N = 4096 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc((size_t)(i % 64 + 1) * 16);
        assert_non_null(p[i]);
    }
    errno = EILSEQ;
    for (int i = 0; i < N; i++)
        free(p[i]);
    malloc_trim(0);
    assert_int_equal(errno, EILSEQ);
}

/* ------------------------------------------------------------ RSS */

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long size, resident;
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void *no_op(void *arg) { return arg; }

/* Freed memory goes back to the OS by itself, also while the process is
 * idle: after freeing ~160 MiB of every tier, RSS returns to within 32 MiB
 * of where it started (polled for up to 10 s; passing takes no wait). The
 * process has had a thread first, as multi-threaded programs do: by default
 * (madvise.thread = auto) a single-threaded process purges at its next
 * allocator call instead, since a purger thread would make it
 * multi-threaded for glibc. */
static void test_rss_follows_live_heap(void **state)
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, no_op, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    enum { NTINY = 131072, NMID = 1024, NHUGE = 16 };
    const size_t tiny = 256, mid = 64 * KiB, huge = 4 * MiB;
    void **t = mmap(NULL, NTINY * sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *m[NMID], *h[NHUGE];
    assert_true(t != MAP_FAILED);
    size_t rss0 = rss_bytes();
    for (int i = 0; i < NTINY; i++)
        memset(t[i] = malloc(tiny), 1, tiny);
    for (int i = 0; i < NMID; i++)
        memset(m[i] = malloc(mid), 1, mid);
    for (int i = 0; i < NHUGE; i++)
        memset(h[i] = malloc(huge), 1, huge);
    size_t peak = rss_bytes(), live = NTINY * tiny + NMID * mid + NHUGE * huge;
    assert_true(peak >= rss0 + live - live / 8);
    for (int i = 0; i < NTINY; i++)
        free(t[i]);
    for (int i = 0; i < NMID; i++)
        free(m[i]);
    for (int i = 0; i < NHUGE; i++)
        free(h[i]);
    munmap(t, NTINY * sizeof *t);
    const size_t bound = rss0 + 32 * MiB;
    size_t now = rss_bytes();
    for (int wait_ms = 0; now > bound && wait_ms < 10000; wait_ms += 50) {
        usleep(50 * 1000);
        now = rss_bytes();
    }
    if (now > bound)
        fail_msg("RSS %zu KiB before, %zu KiB with %zu KiB live, still %zu KiB 10 s after freeing it all",
                 rss0 / KiB, peak / KiB, live / KiB, now / KiB);
}

/* ------------------------------------------------------------ glibc aliases */

static void test_libc_aliases(void **state)
{
    void *(*lmalloc)(size_t) = (void *(*)(size_t))sym("__libc_malloc");
    void (*lfree)(void *) = (void (*)(void *))sym("__libc_free");
    void *(*lcalloc)(size_t, size_t) = (void *(*)(size_t, size_t))sym("__libc_calloc");
    void *(*lrealloc)(void *, size_t) = (void *(*)(void *, size_t))sym("__libc_realloc");
    void *(*lmemalign)(size_t, size_t) = (void *(*)(size_t, size_t))sym("__libc_memalign");
    int (*lposix)(void **, size_t, size_t) = (int (*)(void **, size_t, size_t))sym("__posix_memalign");
    void (*cf)(void *) = (void (*)(void *))sym("cfree");
    assert_non_null(lmalloc);
    assert_non_null(lfree);
    assert_non_null(lcalloc);
    assert_non_null(lrealloc);
    assert_non_null(lmemalign);
    if (under_hakmem) {
        assert_non_null(lposix);
        assert_non_null(cf);
    }
    /* Blocks cross between the aliases and the standard names freely: with
     * two allocators behind them, hakmem would report an invalid pointer. */
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = tier_sizes[i];
        char *a = lmalloc(n);
        assert_non_null(a);
        assert_true(malloc_usable_size(a) >= n);
        fill(a, n, 3);
        char *b = realloc(a, n + 100);
        assert_non_null(b);
        assert_pattern(b, n, 3);
        lfree(b);

        char *c = lcalloc(1, n);
        assert_non_null(c);
        assert_zero((unsigned char *)c, n, "__libc_calloc");
        fill(c, n, 4);
        char *d = lrealloc(c, 2 * n);
        assert_non_null(d);
        assert_pattern(d, n, 4);
        free(d);

        void *e = lmemalign(4096, n);
        assert_non_null(e);
        assert_aligned(e, 4096);
        touch(e, n);
        if (cf)
            cf(e);
        else
            free(e);

        if (lposix) {
            void *f = NULL;
            assert_int_equal(lposix(&f, 512, n), 0);
            assert_aligned(f, 512);
            touch(f, n);
            lfree(f);
        }
    }
}

/* ------------------------------------------------------------ introspection */

/* malloc_trim must only give back free memory. */
static void test_malloc_trim(void **state)
{
    enum { N = 512 };
    static char *p[N];
    for (int i = 0; i < N; i++) {
        size_t n = tier_sizes[i % NSIZES] % (512 * KiB) + 1;
        p[i] = malloc(n);
        assert_non_null(p[i]);
        fill(p[i], n, (uint64_t)i);
    }
    for (int i = 0; i < N; i += 2)
        free(p[i]);
    for (size_t pad = 0; pad <= MiB; pad += MiB) {
        int r = malloc_trim(pad);
        assert_true(r == 0 || r == 1);
    }
    for (int i = 1; i < N; i += 2) {
        size_t n = tier_sizes[i % NSIZES] % (512 * KiB) + 1;
        assert_pattern(p[i], n, (uint64_t)i);
        free(p[i]);
    }
}

static void test_mallinfo2(void **state)
{
    /* 64 MiB is above every mmap threshold (glibc's maximum is 32 MiB). */
    const size_t n = 64 * MiB;
    struct mallinfo2 before = mallinfo2();
    void *p = malloc(n);
    assert_non_null(p);
    touch(p, n);
    struct mallinfo2 live = mallinfo2();
    if (live.hblks < 1 || live.hblkhd < before.hblkhd + n)
        fail_msg("mallinfo2 with a live %zu-byte block: hblks %zu, hblkhd %zu (before: %zu)", n,
                 live.hblks, live.hblkhd, before.hblkhd);
    free(p);
    struct mallinfo2 after = mallinfo2();
    assert_true(after.hblkhd + n <= live.hblkhd);
    assert_true(after.arena + after.hblkhd > 0);
}

static void test_malloc_stats(void **state)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_true(saved >= 0 && tmp != NULL);
    int fd = fileno(tmp);
    dup2(fd, 2);
    malloc_stats();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    fclose(tmp);
    if (len <= 0)
        fail_msg("malloc_stats wrote nothing to stderr");
}

static void test_malloc_info(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(malloc_info(0, f), 0);
    fclose(f);
    if (strncmp(buf, "<malloc version=", 16) != 0 || !strstr(buf, "</malloc>\n"))
        fail_msg("malloc_info output is not a <malloc> document: %.200s", buf);
    free(buf);

    /* Unknown options are refused: glibc returns EINVAL, its manual says
     * -1 with errno EINVAL; either will do. */
    f = fopen("/dev/null", "w");
    assert_non_null(f);
    errno = 0;
    int r = malloc_info(1, f);
    if (!(r == EINVAL || (r == -1 && errno == EINVAL)))
        fail_msg("malloc_info(1, f) = %d, errno %d; want EINVAL", r, errno);
    fclose(f);
}

/* mallopt answers 1 (done) or 0 (not done) and never breaks the heap. */
static void test_mallopt(void **state)
{
    static const int params[][2] = {
        { M_MXFAST, 64 }, { M_TRIM_THRESHOLD, 128 * 1024 }, { M_TOP_PAD, 0 },
        { M_MMAP_THRESHOLD, 4 * 1024 * 1024 }, { M_MMAP_MAX, 65536 }, { M_CHECK_ACTION, 3 },
        { M_PERTURB, 0 }, { M_ARENA_TEST, 8 }, { M_ARENA_MAX, 8 }, { 12345, 1 }, { -99, -1 },
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        int r = mallopt(params[i][0], params[i][1]);
        if (r != 0 && r != 1)
            fail_msg("mallopt(%d, %d) = %d", params[i][0], params[i][1], r);
    }
    for (size_t i = 0; i < NSIZES; i++) {
        char *p = malloc(tier_sizes[i]);
        assert_non_null(p);
        fill(p, tier_sizes[i], i);
        assert_pattern(p, tier_sizes[i], i);
        free(p);
    }
}

int main(void)
{
    under_hakmem = sym("hak_version") != NULL;
    printf("# contract: running against %s\n", under_hakmem ? "hakmem" : "the system allocator");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_malloc_zero_unique),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_enomem),
        cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_reallocarray_overflow),
        cmocka_unit_test(test_alignment_all_tiers),
        cmocka_unit_test(test_posix_memalign_einval),
        cmocka_unit_test(test_aligned_family),
        cmocka_unit_test(test_valloc_pvalloc),
        cmocka_unit_test(test_calloc_zero_reuse),
        cmocka_unit_test(test_realloc_across_tiers),
        cmocka_unit_test(test_realloc_null_and_zero),
        cmocka_unit_test(test_realloc_zero_frees),
        cmocka_unit_test(test_free_sized),
        cmocka_unit_test(test_usable_size),
        cmocka_unit_test(test_errno_preserved_by_free),
        cmocka_unit_test(test_rss_follows_live_heap),
        cmocka_unit_test(test_libc_aliases),
        cmocka_unit_test(test_malloc_trim),
        cmocka_unit_test(test_mallinfo2),
        cmocka_unit_test(test_malloc_stats),
        cmocka_unit_test(test_malloc_info),
        /* Last: under glibc it changes the heap's tuning. */
        cmocka_unit_test(test_mallopt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
