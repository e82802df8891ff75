/* test_chunkmap.c — the chunk map (O(1) lookups safe for any address), the
 * OS layer it maps its second levels through (with a counting fake), and the
 * allocator of metadata records. */
#include "unit.h"
#include "chunkmap.h"
#include "counters.h"
#include "meta.h"
#include "os.h"
#include <errno.h>

static unsigned maps, unmaps, fail_maps;
static void *fake_map(size_t size)
{
    if (fail_maps)
        return NULL;
    maps++;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static int fake_unmap(void *p, size_t size)
{
    unmaps++;
    return munmap(p, size);
}
static int fake_advise(void *p, size_t size, int advice) { return madvise(p, size, advice); }
static uint64_t fake_clock;
static uint64_t fake_now(void) { return fake_clock += 1000; }
static const struct hak_os_ops fake = { fake_map, fake_unmap, fake_advise, fake_now };

static void foreign_addresses_read_as_none(void **state)
{
    (void)state;
    int local;
    static int global;
    uintptr_t probes[] = { 0, 1, 4096, (uintptr_t)&local, (uintptr_t)&global, (uintptr_t)1 << 47,
                           ((uintptr_t)1 << 47) - 1, UINTPTR_MAX, UINTPTR_MAX - 4095, (uintptr_t)0xdeadbeef000 };
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++)
        assert_int_equal(hak_chunk_get(probes[i]), HAK_CHUNK_NONE);
}

static void set_get_and_cas(void **state)
{
    (void)state;
    _hak_os_set_ops(&fake);
    /* An address far from anything mapped, so its second level is new. */
    uintptr_t base = (uintptr_t)0x3a0000000000;
    unsigned m0 = maps;
    assert_int_equal(_hak_chunk_set(base, 3 * HAK_CHUNK_SIZE, HAK_CHUNK_HUGE | 0x1000), 0);
    assert_int_equal(maps - m0, 1); /* one second level, mapped through the OS layer */
    for (uintptr_t a = base; a < base + 3 * HAK_CHUNK_SIZE; a += 4096 * 37)
        assert_int_equal(hak_chunk_get(a), HAK_CHUNK_HUGE | 0x1000);
    assert_int_equal(hak_chunk_get(base - 1), HAK_CHUNK_NONE);
    assert_int_equal(hak_chunk_get(base + 3 * HAK_CHUNK_SIZE), HAK_CHUNK_NONE);
    assert_int_equal(HAK_CHUNK_KIND(hak_chunk_get(base + 5)), HAK_CHUNK_HUGE);
    assert_ptr_equal(HAK_CHUNK_PTR(hak_chunk_get(base + 5)), (void *)0x1000);

    uint64_t expected = HAK_CHUNK_NONE;
    assert_false(_hak_chunk_cas(base, &expected, HAK_CHUNK_SLAB | 0x2000));
    assert_int_equal(expected, HAK_CHUNK_HUGE | 0x1000);
    assert_true(_hak_chunk_cas(base, &expected, HAK_CHUNK_SLAB | 0x2000));
    assert_int_equal(hak_chunk_get(base + HAK_CHUNK_SIZE - 1), HAK_CHUNK_SLAB | 0x2000);
    assert_int_equal(_hak_chunk_set(base, 3 * HAK_CHUNK_SIZE, HAK_CHUNK_NONE), 0);
    assert_int_equal(hak_chunk_get(base), HAK_CHUNK_NONE);
    assert_int_equal(maps - m0, 1);
    _hak_os_set_ops(NULL);
}

static void map_growth_failure_is_enomem(void **state)
{
    (void)state;
    _hak_os_set_ops(&fake);
    fail_maps = 1;
    errno = 0;
    assert_int_equal(_hak_chunk_set((uintptr_t)0x5b0000000000, HAK_CHUNK_SIZE, HAK_CHUNK_HUGE), -1);
    assert_int_equal(errno, ENOMEM);
    fail_maps = 0;
    _hak_os_set_ops(NULL);
}

static void os_layer_counts_and_aligns(void **state)
{
    (void)state;
    _hak_os_set_ops(&fake);
    uint64_t m0 = atomic_load(&_hak_gctr.os_mmap), u0 = atomic_load(&_hak_gctr.os_munmap);
    unsigned fm = maps, fu = unmaps;
    void *p = _hak_os_map_aligned(HAK_CHUNK_SIZE, HAK_CHUNK_SIZE);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p & HAK_CHUNK_MASK, 0);
    assert_int_equal(maps - fm, 1);
    assert_true(unmaps - fu <= 2); /* trimmed head and tail */
    assert_int_equal(_hak_os_unmap(p, HAK_CHUNK_SIZE), 0);
#if HAK_COUNTERS
    assert_int_equal(atomic_load(&_hak_gctr.os_mmap) - m0, 1);
    assert_int_equal(atomic_load(&_hak_gctr.os_munmap) - u0, unmaps - fu);
#else
    (void)m0;
    (void)u0;
#endif
    uint64_t t0 = _hak_os_now_ns();
    assert_int_equal(_hak_os_now_ns() - t0, 1000); /* the injected clock */
    fail_maps = 1;
    errno = 0;
    assert_null(_hak_os_map(HAK_PAGE_SIZE));
    assert_int_equal(errno, ENOMEM);
    fail_maps = 0;
    _hak_os_set_ops(NULL);
    assert_true(_hak_os_rss() > 0);
    assert_true(_hak_os_minflt() > 0);
}

/* Every record size up to HAK_META_MAX, on both sides of each class
 * boundary: 64-byte aligned, zeroed, apart from the other live records, and
 * reused zeroed once freed. */
static void meta_records_of_every_class(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 63, 64, 65, 1000, 4095, 4096, 4097, 5120, 5121, 8472, 16383, HAK_META_MAX };
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *rec[N][2];
    for (size_t i = 0; i < N; i++)
        for (int k = 0; k < 2; k++) {
            unsigned char *p = rec[i][k] = _hak_meta_alloc(sizes[i]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % 64, 0);
            for (size_t b = 0; b < sizes[i]; b++)
                assert_int_equal(p[b], 0);
            memset(p, 0xA5, sizes[i]);
        }
    for (size_t i = 0; i < N; i++) /* apart: a record's bytes are its own */
        for (size_t j = 0; j < N; j++)
            for (int k = 0; k < 2; k++)
                for (int l = 0; l < 2; l++)
                    if (rec[i][k] != rec[j][l])
                        assert_true(rec[i][k] + sizes[i] <= rec[j][l] || rec[j][l] + sizes[j] <= rec[i][k]);
    for (size_t i = 0; i < N; i++) {
        _hak_meta_free(rec[i][0], sizes[i]);
        unsigned char *p = _hak_meta_alloc(sizes[i]);
        assert_ptr_equal(p, rec[i][0]); /* its class's free list */
        for (size_t b = 0; b < sizes[i]; b++)
            assert_int_equal(p[b], 0);
        _hak_meta_free(p, sizes[i]);
        _hak_meta_free(rec[i][1], sizes[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(foreign_addresses_read_as_none),
        cmocka_unit_test(set_get_and_cas),
        cmocka_unit_test(map_growth_failure_is_enomem),
        cmocka_unit_test(os_layer_counts_and_aligns),
        cmocka_unit_test(meta_records_of_every_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
