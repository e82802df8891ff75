/* test_options.c — the option table and the value syntax: booleans, sizes,
 * durations, enums, strings, ranges, and formatting back. */
#include "unit.h"
#include "options.h"

static int64_t parse_ok(int id, const char *text)
{
    struct hak_optval v;
    char err[256];
    int r = _hak_opt_parse(id, text, &v, true, err, sizeof err);
    if (r != 0)
        fail_msg("'%s' rejected: %s", text, err);
    return v.i;
}

static const char *parse_err(int id, const char *text)
{
    static char err[256];
    struct hak_optval v = { .i = 12345 };
    err[0] = 0;
    assert_int_equal(_hak_opt_parse(id, text, &v, true, err, sizeof err), -1);
    assert_true(err[0] != 0);
    return err;
}

static void every_default_parses_and_is_in_range(void **state)
{
    (void)state;
    for (int id = 0; id < HAK_OPT__COUNT; id++) {
        struct hak_optval v;
        char err[256];
        if (_hak_opt_parse(id, _hak_opt_desc[id].def, &v, true, err, sizeof err) != 0)
            fail_msg("default of option %d: %s", id, err);
        assert_non_null(_hak_opt_desc[id].doc);
        assert_true(strncmp(_hak_opt_desc[id].env, "HAKMEM_", 7) == 0);
    }
}

static void superslab_is_on_by_default(void **state)
{
    (void)state;
    /* The prototype shipped with it off by mistake (SPEC §5.1). */
    assert_int_equal(parse_ok(HAK_OPT_tiny_use_superslab, _hak_opt_desc[HAK_OPT_tiny_use_superslab].def), 1);
    assert_string_equal(_hak_opt_desc[HAK_OPT_tiny_use_superslab].env, "HAKMEM_TINY_USE_SUPERSLAB");
}

static void booleans(void **state)
{
    (void)state;
    const char *yes[] = { "1", "true", "TRUE", "yes", "Yes", "on", "ON" };
    const char *no[] = { "0", "false", "False", "no", "NO", "off", "Off" };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_int_equal(parse_ok(HAK_OPT_stats, yes[i]), 1);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_int_equal(parse_ok(HAK_OPT_stats, no[i]), 0);
    assert_non_null(strstr(parse_err(HAK_OPT_stats, "maybe"), "not a boolean"));
    parse_err(HAK_OPT_stats, "");
    parse_err(HAK_OPT_stats, "2");
    parse_err(HAK_OPT_stats, "truee");
}

static void sizes(void **state)
{
    (void)state;
    int id = HAK_OPT_large_mmap_threshold; /* range 512K..32M */
    assert_int_equal(parse_ok(id, "524288"), 512 * 1024);
    assert_int_equal(parse_ok(id, "512K"), 512 * 1024);
    assert_int_equal(parse_ok(id, "512k"), 512 * 1024);
    assert_int_equal(parse_ok(id, "512KiB"), 512 * 1024);
    assert_int_equal(parse_ok(id, "2M"), 2 * 1024 * 1024);
    assert_int_equal(parse_ok(id, "2mb"), 2 * 1024 * 1024);
    assert_int_equal(parse_ok(id, "32MiB"), 32 * 1024 * 1024);
    assert_non_null(strstr(parse_err(id, "1G"), "out of range 512K..32M"));
    assert_non_null(strstr(parse_err(id, "511K"), "out of range"));
    assert_non_null(strstr(parse_err(id, "2X"), "not a size"));
    parse_err(id, "M");
    parse_err(id, "-2M");
    parse_err(id, "99999999999999999999999");
    parse_err(id, "9999999999999999G"); /* overflows when scaled */
}

static void integers_and_durations(void **state)
{
    (void)state;
    assert_int_equal(parse_ok(HAK_OPT_tiny_cache_max, "4096"), 4096);
    assert_non_null(strstr(parse_err(HAK_OPT_tiny_cache_max, "4097"), "out of range 2..4096"));
    assert_non_null(strstr(parse_err(HAK_OPT_tiny_cache_max, "1"), "out of range"));
    assert_non_null(strstr(parse_err(HAK_OPT_tiny_cache_max, "12K"), "not a whole number"));
    parse_err(HAK_OPT_verbose, "1.5");

    struct hak_optval v;
    char err[256];
    assert_int_equal(_hak_value_parse(HAK_T_MS, "", "1500", &v, false, err, sizeof err), 0);
    assert_int_equal(v.i, 1500);
    assert_int_equal(_hak_value_parse(HAK_T_MS, "", "1500ms", &v, false, err, sizeof err), 0);
    assert_int_equal(v.i, 1500);
    assert_int_equal(_hak_value_parse(HAK_T_MS, "", "2s", &v, false, err, sizeof err), 0);
    assert_int_equal(v.i, 2000);
    assert_int_equal(_hak_value_parse(HAK_T_MS, "", "2S", &v, false, err, sizeof err), 0);
    assert_int_equal(v.i, 2000);
    assert_int_equal(_hak_value_parse(HAK_T_MS, "", "2h", &v, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a duration"));
    assert_int_equal(_hak_value_parse(HAK_T_MS, "", "s", &v, false, err, sizeof err), -1);
    assert_int_equal(_hak_value_parse(HAK_T_MS, "10ms..5s", "6s", &v, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range 10ms..5s"));
    assert_int_equal(_hak_value_parse(HAK_T_MS, "10ms..5s", "5s", &v, true, err, sizeof err), 0);
}

static void enums_and_strings(void **state)
{
    (void)state;
    assert_int_equal(parse_ok(HAK_OPT_on_error, "abort"), HAK_ON_ERROR_ABORT);
    assert_int_equal(parse_ok(HAK_OPT_on_error, "warn"), HAK_ON_ERROR_WARN);
    assert_int_equal(parse_ok(HAK_OPT_on_error, "IGNORE"), HAK_ON_ERROR_IGNORE);
    assert_non_null(strstr(parse_err(HAK_OPT_on_error, "crash"), "abort|warn|ignore"));
    parse_err(HAK_OPT_on_error, "war");
    assert_int_equal(parse_ok(HAK_OPT_evo_policy, "canary"), HAK_EVO_CANARY);
    assert_int_equal(parse_ok(HAK_OPT_evo_policy, "off"), HAK_EVO_OFF);
    assert_int_equal(parse_ok(HAK_OPT_realloc_zero, "alloc"), HAK_REALLOC_ZERO_ALLOC);

    struct hak_optval v;
    char err[256], longtext[400];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    assert_int_equal(_hak_opt_parse(HAK_OPT_stats_file, "/tmp/s-%p.json", &v, true, err, sizeof err), 0);
    assert_string_equal(v.s, "/tmp/s-%p.json");
    assert_int_equal(_hak_opt_parse(HAK_OPT_stats_file, longtext, &v, true, err, sizeof err), -1);
}

/* Blanks around a value (the environment and --set keep them) are not part of it. */
static void blanks_around_values(void **state)
{
    (void)state;
    assert_int_equal(parse_ok(HAK_OPT_stats, " true "), 1);
    assert_int_equal(parse_ok(HAK_OPT_stats, "\toff\n"), 0);
    assert_int_equal(parse_ok(HAK_OPT_bigcache_max_waste, " 50 "), 50);
    assert_int_equal(parse_ok(HAK_OPT_large_mmap_threshold, " 4M"), 4 * 1024 * 1024);
    assert_non_null(strstr(parse_err(HAK_OPT_bigcache_max_waste, " 5 0 "), "'5 0' is not a whole number"));
    parse_err(HAK_OPT_stats, "  ");
    struct hak_optval v;
    char err[256];
    assert_int_equal(_hak_opt_parse(HAK_OPT_stats_file, " /tmp/x.json ", &v, true, err, sizeof err), 0);
    assert_string_equal(v.s, "/tmp/x.json");
}

static void format_round_trips(void **state)
{
    (void)state;
    for (int id = 0; id < HAK_OPT__COUNT; id++) {
        struct hak_optval v, w;
        char err[256], text[HAK_OPT_STR_MAX];
        assert_int_equal(_hak_opt_parse(id, _hak_opt_desc[id].def, &v, true, err, sizeof err), 0);
        _hak_opt_format(id, &v, text, sizeof text);
        assert_int_equal(_hak_opt_parse(id, text, &w, true, err, sizeof err), 0);
        if (_hak_opt_desc[id].type == HAK_T_STR)
            assert_string_equal(v.s, w.s);
        else
            assert_int_equal(v.i, w.i);
    }
    struct hak_optval v = { .i = 3 * 1024 * 1024 };
    char text[32];
    assert_string_equal(_hak_opt_format(HAK_OPT_large_mmap_threshold, &v, text, sizeof text), "3M");
    v.i = 1536;
    assert_string_equal(_hak_opt_format(HAK_OPT_tiny_max_size, &v, text, sizeof text), "1536");
}

/* policy.seed takes any 64-bit seed, those above 2^63 included, and gives
 * back the text it read. */
static void unsigned_64(void **state)
{
    (void)state;
    struct hak_optval v;
    char text[32];
    assert_int_equal(_hak_opt_desc[HAK_OPT_policy_seed].type, HAK_T_U64);
    assert_int_equal((uint64_t)parse_ok(HAK_OPT_policy_seed, "18446744073709551615"), UINT64_MAX);
    assert_int_equal((uint64_t)parse_ok(HAK_OPT_policy_seed, "9223372036854775808"), (uint64_t)1 << 63);
    assert_int_equal(parse_ok(HAK_OPT_policy_seed, "0"), 0);
    v.i = (int64_t)parse_ok(HAK_OPT_policy_seed, "12297829382473034410");
    assert_true(v.i < 0); /* the bits, in an int64_t */
    assert_string_equal(_hak_opt_format(HAK_OPT_policy_seed, &v, text, sizeof text), "12297829382473034410");
    assert_non_null(strstr(parse_err(HAK_OPT_policy_seed, "18446744073709551616"), "not a whole number"));
    parse_err(HAK_OPT_policy_seed, "-1");
    parse_err(HAK_OPT_policy_seed, "1K");
    parse_err(HAK_OPT_policy_seed, "");
    parse_err(HAK_OPT_policy_seed, "0x10");
    char err[256];
    assert_int_equal(_hak_value_parse(HAK_T_U64, "10..18446744073709551614", "18446744073709551615", &v, true, err,
                                      sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(_hak_value_parse(HAK_T_U64, "10..18446744073709551614", "9", &v, true, err, sizeof err), -1);
    assert_int_equal(_hak_value_parse(HAK_T_U64, "10..18446744073709551614", "18446744073709551614", &v, true, err,
                                      sizeof err), 0);
    assert_string_equal(_hak_opt_type_name(HAK_T_U64), "uint64");
}

static void names_resolve(void **state)
{
    (void)state;
    char buf[64];
    for (int id = 0; id < HAK_OPT__COUNT; id++)
        assert_int_equal(_hak_opt_find(_hak_opt_name(id, buf, sizeof buf)), id);
    assert_int_equal(_hak_opt_find("bigcache.enabled"), HAK_OPT_bigcache_enabled);
    assert_int_equal(_hak_opt_find("BigCache.Enabled"), HAK_OPT_bigcache_enabled);
    assert_int_equal(_hak_opt_find("general.stats"), HAK_OPT_stats);
    assert_int_equal(_hak_opt_find("stats"), HAK_OPT_stats);
    assert_int_equal(_hak_opt_find("bigcache.nope"), -1);
    assert_int_equal(_hak_opt_find("enabled"), -1);
    assert_int_equal(_hak_opt_find(""), -1);
}

static void aliases_point_at_booleans(void **state)
{
    (void)state;
    assert_int_equal(_hak_opt_alias_count, 3);
    for (size_t i = 0; i < _hak_opt_alias_count; i++)
        assert_int_equal(_hak_opt_desc[_hak_opt_alias[i].id].type, HAK_T_BOOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_default_parses_and_is_in_range),
        cmocka_unit_test(superslab_is_on_by_default),
        cmocka_unit_test(booleans),
        cmocka_unit_test(sizes),
        cmocka_unit_test(integers_and_durations),
        cmocka_unit_test(enums_and_strings),
        cmocka_unit_test(blanks_around_values),
        cmocka_unit_test(format_round_trips),
        cmocka_unit_test(unsigned_64),
        cmocka_unit_test(names_resolve),
        cmocka_unit_test(aliases_point_at_booleans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
