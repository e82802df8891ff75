/* test_sizeclass.c — the size classes: cover every size, tightest fit, no
 * coarser than four classes per power of two, table and rule agree. */
#include "unit.h"
#include "tiny/sizeclass.h"

static void classes_are_ordered_multiples_of_16(void **state)
{
    (void)state;
    assert_int_equal(_hak_class_size[1], 16);
    assert_int_equal(_hak_class_size[HAK_NCLASS - 1], HAK_CLASS_MAX_SIZE);
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        assert_int_equal(_hak_class_size[c] % 16, 0);
        if (c > 1)
            assert_true(_hak_class_size[c] > _hak_class_size[c - 1]);
    }
}

static void every_size_gets_the_tightest_class(void **state)
{
    (void)state;
    for (size_t n = 1; n <= HAK_CLASS_MAX_SIZE; n++) {
        unsigned c = hak_size_class(n);
        assert_in_range(c, 1, HAK_NCLASS - 1);
        assert_true(_hak_class_size[c] >= n);
        assert_true(c == 1 || _hak_class_size[c - 1] < n);
    }
}

static void at_most_four_classes_per_power_of_two_apart(void **state)
{
    (void)state;
    /* Above 128 B, a block wastes less than a quarter of the next lower
     * power of two: the classes are 2^k + j * 2^(k-2). */
    for (size_t n = 129; n <= HAK_CLASS_MAX_SIZE; n++) {
        size_t p = 1;
        while (p * 2 < n)
            p *= 2;
        assert_true(_hak_class_size[hak_size_class(n)] - n < p / 4);
    }
    for (size_t p = 128; p < HAK_CLASS_MAX_SIZE; p *= 2)
        assert_int_equal(hak_size_class(2 * p) - hak_size_class(p), 4);
}

static void small_table_matches_rule(void **state)
{
    (void)state;
    assert_int_equal(_hak_class_small[0], 0); /* malloc(0): the never-filled class */
    assert_int_equal(hak_size_class(0), 1);
    for (size_t n = 1; n <= HAK_CLASS_TABLE_MAX; n++) {
        unsigned c = _hak_class_small[(n + 15) >> 4];
        assert_true(_hak_class_size[c] >= n);
        assert_true(_hak_class_size[c - 1] < n);
    }
}

static void powers_of_two_are_classes(void **state)
{
    (void)state;
    for (size_t p = 16; p <= HAK_CLASS_MAX_SIZE; p *= 2)
        assert_int_equal(_hak_class_size[hak_size_class(p)], p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classes_are_ordered_multiples_of_16),
        cmocka_unit_test(every_size_gets_the_tightest_class),
        cmocka_unit_test(at_most_four_classes_per_power_of_two_apart),
        cmocka_unit_test(small_table_matches_rule),
        cmocka_unit_test(powers_of_two_are_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
