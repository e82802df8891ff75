/* test_hardening.c — check mode and secure mode together (HAKMEM_CHECK=1,
 * HAKMEM_SECURE=1: main runs itself again with them set): the tail and
 * canary of live blocks, the reports of overflows, writes after free and
 * corrupted free lists (local and remote), encoded links, guard pages around
 * SuperSlab headers and shuffled carving; and a clean multi-threaded run
 * that reports nothing. Run in both SuperSlab modes. */
#include "unit.h"
#include "hakmem.h"
#include "counters.h"
#include "options.h"
#include "tiny/engine.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* This thread's heap_corruption counter has counted a report since the
 * last call. */
static void expect_counted(void)
{
#if HAK_COUNTERS
    static uint64_t counted;
    uint64_t now = _hak_thread.ctr.early_return_heap_corruption;
    assert_true(now > counted);
    counted = now;
#endif
}

/* text holds check mode's report of b, naming b's size class, and it was
 * counted. */
static void expect_report(const char *text, const char *fn, const char *what, const void *b)
{
    expect_counted();
    const struct tiny_slab *s = tiny_slab_of((uintptr_t)b);
    assert_non_null(s);
    char want[256];
    snprintf(want, sizeof want, "hakmem: %s(): %s %p (size class %u, %u bytes)\n", fn, what, b, (unsigned)s->cls,
             (unsigned)s->size);
    if (!strstr(text, want))
        fail_msg("expected \"%s\" in \"%s\"", want, text);
}

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* The tests below that need a class nothing else has touched name the
 * class they use. */

/* ---------------------------------------------------------------- check */

/* Classes 16..1024 B (n + 8), 4 KiB, 128 KiB, 256 KiB. */
static const size_t sizes[] = { 1, 7, 8, 9, 15, 16, 24, 100, 1000, 3000, 100000, 200000, 256 * 1024 - 8 };

static void usable_is_the_request(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *p = hak_malloc(n);
        assert_non_null(p);
        const struct tiny_slab *s = tiny_slab_of((uintptr_t)p);
        assert_non_null(s);
        assert_true(s->size >= n + HAK_CHECK_PAD);
        assert_int_equal(hak_malloc_usable_size(p), n);
        memset(p, 0xaa, n);
        char *q = hak_realloc(p, n / 2 + 1); /* in place or not, the contents stay */
        assert_int_equal((unsigned char)q[n / 2], 0xaa);
        hak_free(q);
        char *z = hak_calloc(1, n);
        size_t k = 0;
        while (k < n && z[k] == 0)
            k++;
        assert_int_equal(k, n);
        hak_free(z);
    }
    /* Past the largest class minus the tail: the large tier. */
    char *big = hak_malloc(256 * 1024 - 7);
    assert_non_null(big);
    assert_null(tiny_slab_of((uintptr_t)big));
    hak_free(big);
    /* Power-of-two classes keep their alignment when the tail needs a
     * larger class. */
    for (size_t align = 32; align <= 64 * 1024; align <<= 1) {
        void *p = hak_memalign(align, align);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p & (align - 1), 0);
        assert_int_equal(hak_malloc_usable_size(p), align);
        memset(p, 1, align);
        hak_free(p);
    }
}

/* One byte past the request: reported at free, naming the block and its
 * class; the block is leaked, not reused. */
static void overflow_is_reported(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *p = hak_malloc(n);
        memset(p, 0x11, n + 1);
        capture_stderr();
        hak_free(p);
        const char *w = release_stderr();
        expect_report(w, "hak_free", "buffer overflow", p);
    }
    /* The tail itself (the request's last byte is a class size minus 8):
     * a bit flipped in its keyed check, which a fixed value written there
     * would leave alone one run in 256. */
    char *p = hak_malloc(120);
    p[125] ^= 1;
    capture_stderr();
    assert_int_equal(hak_malloc_usable_size(p), 0);
    const char *w = release_stderr();
    expect_report(w, "hak_malloc_usable_size", "buffer overflow", p);
}

/* text holds check mode's report of an overflow past the large or huge
 * block b, and it was counted. */
static void expect_large_report(const char *text, const char *fn, const void *b)
{
    expect_counted();
    char want[256];
    snprintf(want, sizeof want, "hakmem: %s(): buffer overflow %p (large block, ", fn, b);
    if (!strstr(text, want))
        fail_msg("expected \"%s\" in \"%s\"", want, text);
}

/* A block of n bytes outside the slabs: n above them, or 1,000 bytes
 * aligned to 1 MiB (a huge block); zeroed by calloc when asked. */
static char *large_block(size_t n, bool zero)
{
    if (n > 1000)
        return zero ? hak_calloc(1, n) : hak_malloc(n);
    char *p = hak_aligned_alloc((size_t)1 << 20, n);
    if (p && zero)
        memset(p, 0, n);
    return p;
}

/* Blocks of the arena (300,000 B) and huge blocks (5 MiB, and 1,000 B
 * aligned to 1 MiB) have the same tail: the usable size is the request, a
 * realloc keeps the contents, a clean free says nothing, and one byte past
 * the end is reported by usable_size and by free (the block is leaked). */
static void large_blocks_are_checked(void **state)
{
    (void)state;
    static const size_t sizes[] = { 300000, (size_t)5 << 20, 1000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *p = large_block(n, false);
        assert_non_null(p);
        assert_null(tiny_slab_of((uintptr_t)p));
        assert_int_equal(hak_malloc_usable_size(p), n);
        memset(p, 0x5c, n);
        capture_stderr();
        char *q = hak_realloc(p, n + 1000);
        const char *w = release_stderr();
        assert_string_equal(w, "");
        assert_non_null(q);
        assert_int_equal(hak_malloc_usable_size(q), n + 1000);
        assert_int_equal((unsigned char)q[n - 1], 0x5c);
        capture_stderr();
        hak_free(q);
        w = release_stderr();
        assert_string_equal(w, "");
        char *z = large_block(n, true);
        assert_non_null(z);
        assert_null(tiny_slab_of((uintptr_t)z));
        assert_int_equal(hak_malloc_usable_size(z), n);
        for (size_t k = 0; k < n; k += 4096)
            assert_int_equal(z[k], 0);
        assert_int_equal(z[n - 1], 0);
        z[n] = 1;
        capture_stderr();
        assert_int_equal(hak_malloc_usable_size(z), 0);
        w = release_stderr();
        expect_large_report(w, "hak_malloc_usable_size", z);
        capture_stderr();
        hak_free(z);
        w = release_stderr();
        expect_large_report(w, "hak_free", z);
    }
    /* Zero bytes (as malloc(0)): one usable byte, not "not ours". */
    char *e = hak_memalign((size_t)1 << 20, 0);
    assert_non_null(e);
    capture_stderr();
    assert_int_equal(hak_malloc_usable_size(e), 1);
    hak_free(e);
    assert_string_equal(release_stderr(), "");
}

/* Class 320 (n = 300). */
static void write_after_free_is_reported(void **state)
{
    (void)state;
    char *p = hak_malloc(300);
    hak_free(p);
    p[200] = 1;
    capture_stderr();
    char *q = hak_malloc(300);
    const char *w = release_stderr();
    assert_ptr_equal(q, p); /* the slab's list is LIFO */
    expect_report(w, "malloc", "write after free", p);
    hak_free(q);
    /* The free mark (second word). */
    p = hak_malloc(300);
    hak_free(p);
    p[8] ^= 1;
    capture_stderr();
    q = hak_malloc(300);
    w = release_stderr();
    assert_ptr_equal(q, p);
    expect_report(w, "malloc", "write after free", p);
    hak_free(q);
    /* Clean reuse: no report. */
    capture_stderr();
    for (int i = 0; i < 100; i++)
        hak_free(hak_malloc(300));
    w = release_stderr();
    assert_string_equal(w, "");
}

/* Class 448 (n = 400): a local free list. */
static void corrupted_local_list_is_reported(void **state)
{
    (void)state;
    char *p = hak_malloc(400), *q = hak_malloc(400);
    hak_free(q);
    hak_free(p);
    ((uintptr_t *)p)[0] ^= 0x5a5a00000000;
    capture_stderr();
    char *r = hak_malloc(400);
    const char *w = release_stderr();
    assert_non_null(r);
    assert_true(r != p);
    expect_report(w, "malloc", "corrupted free list", p);
    memset(r, 0, 400);
    hak_free(r);
}

static void *free_two(void *arg)
{
    char **b = arg;
    hak_free(b[0]);
    hak_free(b[1]);
    return NULL;
}

/* Class 2048 (n = 2000): the remote list, walked when the owner drains it. */
static void corrupted_remote_list_is_reported(void **state)
{
    (void)state;
    const struct tiny_slab *s = NULL;
    char *all[64];
    unsigned n = 0;
    /* Every block of the current slab out, so the next request drains. */
    do {
        all[n] = hak_malloc(2000);
        s = tiny_slab_of((uintptr_t)all[n]);
        n++;
    } while (n < 64 && (s->free || s->carved < s->capacity));
    assert_true(n < 64);
    char *pair[2] = { all[0], all[1] }; /* all[1] ends up first on the list */
    run_thread(free_two, pair);
    ((uintptr_t *)all[1])[0] ^= 0x5a5a00000000;
    capture_stderr();
    char *r = hak_malloc(2000);
    const char *w = release_stderr();
    expect_report(w, "malloc", "corrupted free list", all[1]);
    assert_ptr_equal(r, all[1]); /* the drained part of the list */
    hak_free(r);
    for (unsigned i = 2; i < n; i++)
        hak_free(all[i]);
}

/* Class 80 (n = 70). */
static void double_free_is_still_caught(void **state)
{
    (void)state;
    char *p = hak_malloc(70);
    hak_free(p);
    capture_stderr();
    hak_free(p);
    const char *w = release_stderr();
    char want[128];
    snprintf(want, sizeof want, "hakmem: hak_free(): double free %p\n", (void *)p);
    assert_non_null(strstr(w, want));
}

/* ---------------------------------------------------------------- secure */

/* Class 64 (n = 50). */
static void links_are_encoded(void **state)
{
    (void)state;
    assert_true(_hak_list_key != 0);
    char *p = hak_malloc(50), *q = hak_malloc(50);
    hak_free(q);
    hak_free(p);
    uintptr_t link = ((uintptr_t *)p)[0];
    assert_true(link != (uintptr_t)q);
    assert_true((link ^ _hak_list_key) == (uintptr_t)q);
    hak_free(hak_malloc(50));
}

/* The protection of the mapping holding a, from /proc/self/maps. */
static void perms_of(uintptr_t a, char perms[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    strcpy(perms, "none");
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char pr[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pr) == 3 && a >= lo && a < hi) {
            memcpy(perms, pr, 5);
            break;
        }
    }
    fclose(f);
}

/* Class 96 (n = 90). */
static void superslab_header_is_guarded(void **state)
{
    (void)state;
    char *p = hak_malloc(90);
    uintptr_t base = (uintptr_t)p & ~(uintptr_t)HAK_CHUNK_MASK;
    char perms[5];
    if (!HAK_OPT(tiny_use_superslab)) {
        const struct tiny_slab *s = tiny_slab_of((uintptr_t)p);
        assert_null(s->ss); /* fallback slabs: no header to guard */
        hak_free(p);
        return;
    }
    perms_of(base, perms);
    assert_string_equal(perms, "---p");
    perms_of(base + HAK_PAGE_SIZE, perms);
    assert_string_equal(perms, "rw-p");
    perms_of(base + HAK_UNIT_SIZE - 1, perms);
    assert_string_equal(perms, "---p");
    perms_of(base + HAK_UNIT_SIZE, perms);
    assert_string_equal(perms, "rw-p");
    hak_free(p);
}

/* Class 1536 (n = 1500): fresh blocks do not come in address order. */
static void carving_is_shuffled(void **state)
{
    (void)state;
    enum { N = 32 };
    char *b[N];
    unsigned ascending = 0;
    for (int i = 0; i < N; i++) {
        b[i] = hak_malloc(1500);
        assert_non_null(b[i]);
        ascending += i > 0 && b[i] > b[i - 1];
        for (int k = 0; k < i; k++)
            assert_true(b[k] != b[i]);
    }
    assert_true(ascending < N - 1);
    for (int i = 0; i < N; i++)
        hak_free(b[i]);
}

/* ---------------------------------------------------------------- load */

#define LOAD_THREADS 4
#define LOAD_SLOTS 512
static _Atomic(char *) shared[LOAD_SLOTS];

/* Random sizes, contents checked, blocks swapped between threads through
 * the shared slots (remote frees): nothing must be reported. */
static void *load(void *arg)
{
    uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
    for (int i = 0; i < 4000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = 1 + (size_t)(x % (x & 0x100 ? 3000 : 200));
        char *p = hak_malloc(n);
        assert_non_null(p);
        memset(p, (int)(n & 0xff), n);
        p[0] = (char)(n & 0xff);
        char *old = atomic_exchange(&shared[(x >> 20) % LOAD_SLOTS], p);
        if (old) {
            size_t m = hak_malloc_usable_size(old);
            for (size_t k = 1; k < m; k++)
                if (old[k] != old[0])
                    fail_msg("block %p lost its contents at %zu", (void *)old, k);
            hak_free(old);
        }
    }
    return NULL;
}

static void load_reports_nothing(void **state)
{
    (void)state;
    capture_stderr();
    pthread_t t[LOAD_THREADS];
    for (uintptr_t i = 0; i < LOAD_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, load, (void *)(i + 1)), 0);
    for (int i = 0; i < LOAD_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < LOAD_SLOTS; i++)
        hak_free(atomic_exchange(&shared[i], NULL));
    const char *w = release_stderr();
    assert_string_equal(w, "");
}

int main(int argc, char **argv)
{
    (void)argc;
    /* The allocator reads its options when the library loads: run again
     * with both modes set. */
    if (!getenv("HAKMEM_CHECK") || !getenv("HAKMEM_SECURE")) {
        setenv("HAKMEM_CHECK", "1", 1);
        setenv("HAKMEM_SECURE", "1", 1);
        execv("/proc/self/exe", argv);
        perror("test_hardening: exec");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usable_is_the_request),
        cmocka_unit_test(overflow_is_reported),
        cmocka_unit_test(large_blocks_are_checked),
        cmocka_unit_test(write_after_free_is_reported),
        cmocka_unit_test(corrupted_local_list_is_reported),
        cmocka_unit_test(corrupted_remote_list_is_reported),
        cmocka_unit_test(double_free_is_still_caught),
        cmocka_unit_test(links_are_encoded),
        cmocka_unit_test(superslab_header_is_guarded),
        cmocka_unit_test(carving_is_shuffled),
        cmocka_unit_test(load_reports_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
