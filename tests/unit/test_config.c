/* test_config.c — configuration loading: precedence (defaults < file <
 * profile < environment), historical toggles, every error path with its
 * warning, strict counting, and no malloc while loading. */
#include "unit.h"
#include "config.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#if HAK_OVERRIDE
/* Counting interposers: the test binary's malloc is what every library in
 * the process (inih included) calls, so a load that allocated would show.
 * (Sanitizer builds leave malloc to the sanitizer and skip this check.) */
static int counting;
static unsigned long allocations;
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n)
{
    if (counting)
        allocations++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    if (counting)
        allocations++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    if (counting)
        allocations++;
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
#endif

static struct hak_config cfg;
static int warn_fd;
static char warnings[16384];
static char dir[] = "/tmp/hakmem-test-config-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void clear_env(void)
{
    for (int id = 0; id < HAK_OPT__COUNT; id++)
        unsetenv(_hak_opt_desc[id].env);
    for (size_t i = 0; i < _hak_opt_alias_count; i++)
        unsetenv(_hak_opt_alias[i].env);
    unsetenv("HAKMEM_CONFIG");
    unsetenv("HAKMEM_PROFILE");
    unsetenv("HAKMEM_MODE");
    unsetenv("HAKMEM_BOGUS");
}

/* Loads with the environment, the given file (NULL: HAKMEM_CONFIG or the
 * built-in copy) and profile; returns the warnings. */
static const char *load(const char *file, const char *profile)
{
    unit_clear(warn_fd);
    struct hak_load_args a = { .profile = profile, .file = file, .use_env = true, .warn_fd = warn_fd };
    _hak_config_load(&cfg, &a);
    return unit_text(warn_fd, warnings, sizeof warnings);
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    warn_fd = unit_capture();
    assert_true(warn_fd >= 0);
    return 0;
}

static int before_each(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static void defaults_without_any_source(void **state)
{
    (void)state;
    const char *w = load(write_file("empty.ini", "; nothing\n"), NULL);
    assert_string_equal(w, "");
    assert_int_equal(cfg.errors, 0);
    for (int id = 0; id < HAK_OPT__COUNT; id++)
        assert_int_equal(cfg.src[id].kind, HAK_SRC_DEFAULT);
    assert_int_equal(cfg.val[HAK_OPT_tiny_use_superslab], 1);
    assert_int_equal(cfg.val[HAK_OPT_on_error], HAK_ON_ERROR_ABORT);
}

static void precedence_file_profile_env(void **state)
{
    (void)state;
    const char *path = write_file("prec.ini",
                                  "stats = true\n"
                                  "[tiny]\n"
                                  "cache_max = 100\n"
                                  "max_size = 512\n"
                                  "[bigcache]\n"
                                  "enabled = false\n"
                                  "[profile p]\n"
                                  "tiny.cache_max = 200\n"
                                  "bigcache.enabled = yes\n"
                                  "[large]\n"
                                  "mmap_threshold = 4M\n");
    setenv("HAKMEM_TINY_CACHE_MAX", "300", 1);
    const char *w = load(path, "p");
    assert_string_equal(w, "");
    assert_int_equal(cfg.val[HAK_OPT_stats], 1);
    assert_int_equal(cfg.src[HAK_OPT_stats].kind, HAK_SRC_FILE);
    assert_int_equal(cfg.src[HAK_OPT_stats].line, 1);
    assert_int_equal(cfg.val[HAK_OPT_tiny_max_size], 512);
    assert_int_equal(cfg.val[HAK_OPT_tiny_cache_max], 300); /* env beats profile beats file */
    assert_int_equal(cfg.src[HAK_OPT_tiny_cache_max].kind, HAK_SRC_ENV);
    assert_int_equal(cfg.val[HAK_OPT_bigcache_enabled], 1); /* profile beats file */
    assert_int_equal(cfg.src[HAK_OPT_bigcache_enabled].kind, HAK_SRC_PROFILE);
    assert_int_equal(cfg.src[HAK_OPT_bigcache_enabled].line, 9);
    /* A section after the profile is an ordinary section again. */
    assert_int_equal(cfg.val[HAK_OPT_large_mmap_threshold], 4 << 20);
    assert_int_equal(cfg.src[HAK_OPT_large_mmap_threshold].kind, HAK_SRC_FILE);

    unsetenv("HAKMEM_TINY_CACHE_MAX");
    load(path, "p");
    assert_int_equal(cfg.val[HAK_OPT_tiny_cache_max], 200);
    load(path, NULL);
    assert_int_equal(cfg.val[HAK_OPT_tiny_cache_max], 100);
    assert_int_equal(cfg.val[HAK_OPT_bigcache_enabled], 0);
}

static void profile_from_environment(void **state)
{
    (void)state;
    const char *path = write_file("modes.ini", "[profile a]\nstats = 1\n[profile b]\nverbose = 0\nrealloc_zero = alloc\n");
    setenv("HAKMEM_CONFIG", path, 1);
    setenv("HAKMEM_MODE", "a", 1);
    load(NULL, NULL);
    assert_string_equal(cfg.profile, "a");
    assert_int_equal(cfg.val[HAK_OPT_stats], 1);
    setenv("HAKMEM_PROFILE", "b", 1); /* HAKMEM_PROFILE wins over HAKMEM_MODE */
    load(NULL, NULL);
    assert_string_equal(cfg.profile, "b");
    assert_int_equal(cfg.val[HAK_OPT_stats], 0);
    assert_int_equal(cfg.val[HAK_OPT_realloc_zero], HAK_REALLOC_ZERO_ALLOC);
    assert_string_equal(cfg.file, path);
}

static void historical_toggles(void **state)
{
    (void)state;
    const char *path = write_file("hist.ini", "; empty\n");
    setenv("HAKMEM_DISABLE_BIGCACHE", "1", 1);
    setenv("HAKMEM_DISABLE_ELO", "1", 1);
    setenv("HAKMEM_DISABLE_BATCH_MADVISE", "1", 1);
    setenv("HAKMEM_EVO_POLICY", "frozen", 1);
    setenv("HAKMEM_TINY_USE_SUPERSLAB", "0", 1);
    const char *w = load(path, NULL);
    assert_string_equal(w, "");
    assert_int_equal(cfg.val[HAK_OPT_bigcache_enabled], 0);
    assert_int_equal(cfg.val[HAK_OPT_elo_enabled], 0);
    assert_int_equal(cfg.val[HAK_OPT_madvise_batch], 0);
    assert_int_equal(cfg.val[HAK_OPT_evo_policy], HAK_EVO_FROZEN);
    assert_int_equal(cfg.val[HAK_OPT_tiny_use_superslab], 0);
    assert_string_equal(cfg.src[HAK_OPT_bigcache_enabled].name, "HAKMEM_DISABLE_BIGCACHE");
    setenv("HAKMEM_DISABLE_BIGCACHE", "0", 1);
    load(path, NULL);
    assert_int_equal(cfg.val[HAK_OPT_bigcache_enabled], 1);
    /* The option's own variable is read after the alias and wins. */
    setenv("HAKMEM_DISABLE_BIGCACHE", "1", 1);
    setenv("HAKMEM_BIGCACHE_ENABLED", "1", 1);
    load(path, NULL);
    assert_int_equal(cfg.val[HAK_OPT_bigcache_enabled], 1);
    setenv("HAKMEM_DISABLE_ELO", "maybe", 1);
    w = load(path, NULL);
    assert_non_null(strstr(w, "hakmem: config: HAKMEM_DISABLE_ELO: 'maybe' is not a boolean"));
    assert_int_equal(cfg.val[HAK_OPT_elo_enabled], 1);
}

static void bad_values_warn_and_keep(void **state)
{
    (void)state;
    const char *path = write_file("bad.ini",
                                  "[tiny]\n"
                                  "cache_max = 64\n"
                                  "cache_max = lots\n"
                                  "max_size = 4M\n"
                                  "[nosuch]\n"
                                  "key = 1\n"
                                  "[tiny]\n"
                                  "colour = blue\n"
                                  "just some words\n"
                                  "[profile p]\n"
                                  "tiny.nope = 1\n"
                                  "stats = perhaps\n");
    const char *w = load(path, "p");
    char expect[512];
    snprintf(expect, sizeof expect, "hakmem: config: %s:3: tiny.cache_max: 'lots' is not a whole number (keeping 64)", path);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "%s:4: tiny.max_size: '4M' is out of range 128..1K (keeping 1K)", path);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "%s:6: unknown key 'key' in section [nosuch]", path);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "%s:8: unknown key 'colour' in section [tiny]", path);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "%s:9: not a [section], a key = value or a comment", path);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "%s:11: unknown key 'tiny.nope' in [profile p]", path);
    assert_non_null(strstr(w, expect));
    snprintf(expect, sizeof expect, "%s:12: stats: 'perhaps' is not a boolean", path);
    assert_non_null(strstr(w, expect));
    assert_int_equal(cfg.errors, 7);
    assert_int_equal(cfg.val[HAK_OPT_tiny_cache_max], 64);
    assert_int_equal(cfg.val[HAK_OPT_tiny_max_size], 1024);
    assert_int_equal(cfg.val[HAK_OPT_stats], 0);
    /* One warning per error, each on its own line. */
    int lines = 0;
    for (const char *p = w; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 7);
}

static void bad_environment(void **state)
{
    (void)state;
    const char *path = write_file("env.ini", "[tiny]\ncache_max = 64\n");
    setenv("HAKMEM_TINY_CACHE_MAX", "0x40", 1);
    setenv("HAKMEM_BOGUS", "1", 1);
    const char *w = load(path, NULL);
    assert_non_null(strstr(w, "hakmem: config: HAKMEM_TINY_CACHE_MAX: tiny.cache_max: '0x40' is not a whole number (keeping 64)"));
    assert_non_null(strstr(w, "hakmem: config: HAKMEM_BOGUS: unknown variable"));
    assert_int_equal(cfg.errors, 2);
    assert_int_equal(cfg.val[HAK_OPT_tiny_cache_max], 64);
}

static void long_lines_and_missing_things(void **state)
{
    (void)state;
    char text[1024];
    memset(text, 0, sizeof text);
    strcpy(text, "[tiny]\ncache_max = 70\n; ");
    memset(text + strlen(text), 'z', 400);
    strcat(text, "\ncache_max = 80\n");
    const char *path = write_file("long.ini", text);
    const char *w = load(path, "absent");
    char expect[512];
    snprintf(expect, sizeof expect, "%s:3: line longer than", path);
    assert_non_null(strstr(w, expect));
    assert_non_null(strstr(w, "argument: no section [profile absent]"));
    assert_non_null(strstr(w, "; its profiles: none\n"));
    assert_int_equal(cfg.val[HAK_OPT_tiny_cache_max], 80); /* the line after it still counts */
    assert_string_equal(cfg.profile, "");
    assert_int_equal(cfg.errors, 2);

    w = load("/nonexistent/hakmem.ini", NULL);
    assert_non_null(strstr(w, "/nonexistent/hakmem.ini (from argument): no such file; using the built-in hakmem.ini"));
    assert_string_equal(cfg.file, "builtin:hakmem.ini");
    assert_int_equal(cfg.errors, 1);
    setenv("HAKMEM_CONFIG", dir, 1); /* a directory */
    w = load(NULL, "baseline");
    assert_non_null(strstr(w, "(from HAKMEM_CONFIG)"));
    assert_string_equal(cfg.profile, "baseline"); /* still found in the built-in copy */
}

/* A missing profile's warning names the file's profiles once each (a
 * section with no key is none: it would apply nothing), also to the caller. */
static void missing_profile_lists_the_profiles(void **state)
{
    (void)state;
    const char *path = write_file("profiles.ini", "[profile a]\ntiny.cache_max = 1\n[tiny]\ncache_max = 2\n"
                                                  "[profile b]\nstats = true\n[profile empty]\n"
                                                  "[profile a]\nstats = true\n");
    char missing[256] = "x";
    unit_clear(warn_fd);
    struct hak_load_args a = { .profile = "c", .file = path, .use_env = true, .warn_fd = warn_fd,
                               .missing = missing, .missing_len = sizeof missing };
    _hak_config_load(&cfg, &a);
    char expect[512];
    snprintf(expect, sizeof expect, "no section [profile c] in %s; its profiles: a, b", path);
    assert_string_equal(missing, expect);
    assert_non_null(strstr(unit_text(warn_fd, warnings, sizeof warnings), expect));
    a.profile = "b";
    _hak_config_load(&cfg, &a);
    assert_string_equal(missing, "");
    assert_string_equal(cfg.profile, "b");
    /* A name ending in a comma (the list's reader once stepped past its
     * end: found by fuzz_config). */
    path = write_file("profiles.ini", "[profile a,]\nstats = true\n[profile b]\nstats = true\n");
    a.profile = "c";
    a.file = path;
    _hak_config_load(&cfg, &a);
    snprintf(expect, sizeof expect, "no section [profile c] in %s; its profiles: a,, b", path);
    assert_string_equal(missing, expect);
}

static void builtin_copy_has_every_profile(void **state)
{
    (void)state;
    static const char *const profiles[] = { "baseline", "no-bigcache", "no-elo", "frozen", "no-batch-madvise",
                                            "no-superslab", "minimal", "balanced", "fast", "learning", "research" };
    setenv("HAKMEM_CONFIG", "", 1); /* empty: no file, the built-in copy */
    for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++) {
        const char *w = load(NULL, profiles[i]);
        assert_string_equal(w, "");
        assert_string_equal(cfg.file, "builtin:hakmem.ini");
        assert_string_equal(cfg.profile, profiles[i]);
    }
    load(NULL, "no-superslab");
    assert_int_equal(cfg.val[HAK_OPT_tiny_use_superslab], 0);
    load(NULL, "minimal");
    assert_int_equal(cfg.val[HAK_OPT_bigcache_enabled], 0);
    assert_int_equal(cfg.val[HAK_OPT_elo_enabled], 0);
    assert_int_equal(cfg.val[HAK_OPT_evo_policy], HAK_EVO_OFF);
    assert_int_equal(cfg.val[HAK_OPT_madvise_batch], 0);
    assert_int_equal(cfg.val[HAK_OPT_tiny_use_superslab], 1);
}

/* Each shipped profile's effective values against its golden file
 * (tests/golden/profile-NAME.txt: "name = value" lines). */
static void shipped_profiles_match_golden_files(void **state)
{
    (void)state;
    const char *src = getenv("srcdir");
    assert_non_null(src); /* set by the test harness */
    char conf[512], golden[512], have[8192], want[8192];
    snprintf(conf, sizeof conf, "%s/conf/hakmem.ini", src);
    FILE *ini = fopen(conf, "r");
    assert_non_null(ini);
    char line[256];
    unsigned profiles = 0;
    while (fgets(line, sizeof line, ini)) {
        char name[64];
        if (sscanf(line, "[profile %63[^]]]", name) != 1)
            continue;
        profiles++;
        const char *w = load(conf, name);
        assert_string_equal(w, "");
        int fd = unit_capture();
        _hak_config_print(&cfg, fd, HAK_DUMP_VALUES);
        unit_text(fd, have, sizeof have);
        close(fd);
        snprintf(golden, sizeof golden, "%s/tests/golden/profile-%s.txt", src, name);
        FILE *g = fopen(golden, "r");
        if (!g)
            fail_msg("no golden file %s", golden);
        size_t n = fread(want, 1, sizeof want - 1, g);
        want[n] = 0;
        fclose(g);
        if (strcmp(have, want) != 0)
            fail_msg("profile %s differs from %s:\n%s", name, golden, have);
    }
    fclose(ini);
    assert_true(profiles >= 11);
}

static void verbose_reports_sources(void **state)
{
    (void)state;
    const char *path = write_file("verbose.ini", "verbose = 1\n[tiny]\ncache_max = 99\n");
    const char *w = load(path, NULL);
    char expect[512];
    snprintf(expect, sizeof expect, "hakmem: config: tiny.cache_max = 99 (%s:3)", path);
    assert_non_null(strstr(w, expect));
}

#if HAK_OVERRIDE
static void loading_never_allocates(void **state)
{
    (void)state;
    const char *path = write_file("alloc.ini", "[tiny]\ncache_max = 99\n[profile p]\nstats = 1\nbad line\n");
    setenv("HAKMEM_TINY_CACHE_BYTES", "64K", 1);
    setenv("HAKMEM_BOGUS", "x", 1);
    allocations = 0;
    counting = 1;
    unit_clear(warn_fd);
    struct hak_load_args a = { .profile = "p", .file = path, .use_env = true, .warn_fd = warn_fd };
    _hak_config_load(&cfg, &a);
    counting = 0;
    assert_int_equal(allocations, 0);
    assert_int_equal(cfg.val[HAK_OPT_tiny_cache_bytes], 64 * 1024);
    assert_int_equal(cfg.errors, 2);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_without_any_source, before_each),
        cmocka_unit_test_setup(precedence_file_profile_env, before_each),
        cmocka_unit_test_setup(profile_from_environment, before_each),
        cmocka_unit_test_setup(historical_toggles, before_each),
        cmocka_unit_test_setup(bad_values_warn_and_keep, before_each),
        cmocka_unit_test_setup(bad_environment, before_each),
        cmocka_unit_test_setup(long_lines_and_missing_things, before_each),
        cmocka_unit_test_setup(missing_profile_lists_the_profiles, before_each),
        cmocka_unit_test_setup(builtin_copy_has_every_profile, before_each),
        cmocka_unit_test_setup(shipped_profiles_match_golden_files, before_each),
        cmocka_unit_test_setup(verbose_reports_sources, before_each),
#if HAK_OVERRIDE
        cmocka_unit_test_setup(loading_never_allocates, before_each),
#endif
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
