/* api.c — the hak_ functions of hakmem.h. */
#include "alloc.h"
#include "config.h"
#include "init.h"
#include "large/huge.h"
#include "stats.h"
#include "vg.h"
#include <errno.h>

#define CALLER ((uintptr_t)__builtin_return_address(0))

/* The HAK_VG_ lines are the valgrind hooks (vg.h): nothing without
 * --enable-valgrind. */
hak_export void *hak_alloc_at(size_t size, hak_site_t site)
{
    HAK_VG_ALLOC(hak_malloc_inline(size, site), size, false);
    return hak_malloc_inline(size, site);
}

hak_export void hak_free_at(void *ptr, hak_site_t site)
{
    (void)site;
    HAK_VG_FREE(hak_free_inline(ptr, "hak_free_at"), ptr);
    hak_free_inline(ptr, "hak_free_at");
}

hak_export void *hak_malloc(size_t size)
{
    HAK_VG_ALLOC(hak_malloc_inline(size, CALLER), size, false);
    return hak_malloc_inline(size, CALLER);
}

hak_export void hak_free(void *ptr)
{
    HAK_VG_FREE(hak_free_inline(ptr, "hak_free"), ptr);
    hak_free_inline(ptr, "hak_free");
}

hak_export void *hak_calloc(size_t count, size_t size)
{
    HAK_VG_ALLOC(_hak_calloc(count, size, CALLER), count * size, true);
    return _hak_calloc(count, size, CALLER);
}

hak_export void *hak_realloc(void *ptr, size_t size)
{
    HAK_VG_REALLOC(ptr, size, CALLER, "hak_realloc");
    return _hak_realloc(ptr, size, CALLER, "hak_realloc");
}

hak_export void *hak_reallocarray(void *ptr, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    HAK_VG_REALLOC(ptr, n, CALLER, "hak_reallocarray");
    return _hak_realloc(ptr, n, CALLER, "hak_reallocarray");
}

hak_export int hak_posix_memalign(void **out, size_t alignment, size_t size)
{
    HAK_VG_MEMALIGN(_hak_posix_memalign(out, alignment, size, CALLER), out, size);
    return _hak_posix_memalign(out, alignment, size, CALLER);
}

hak_export void *hak_aligned_alloc(size_t alignment, size_t size)
{
    if (!hak_is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    HAK_VG_ALLOC(_hak_memalign(alignment, size, CALLER), size, false);
    return _hak_memalign(alignment, size, CALLER);
}

hak_export void *hak_memalign(size_t alignment, size_t size)
{
    HAK_VG_ALLOC(_hak_memalign(alignment, size, CALLER), size, false);
    return _hak_memalign(alignment, size, CALLER);
}

hak_export size_t hak_malloc_usable_size(void *ptr)
{
    HAK_VG_VALUE(size_t, _hak_usable_size(ptr, "hak_malloc_usable_size"));
    return _hak_usable_size(ptr, "hak_malloc_usable_size");
}

hak_export int hak_trim(void)
{
    HAK_VG_VALUE(int, _hak_trim());
    return _hak_trim();
}

hak_export const char *hak_version(void) { return PACKAGE_VERSION; }

hak_export int hak_config_dump(int fd, const char *profile, const char *config_file, int format)
{
    static struct hak_config c; /* 5 KiB: kept off the caller's stack */
    struct hak_load_args args = { .profile = profile, .file = config_file, .use_env = true, .warn_fd = 2 };
    _hak_config_load(&c, &args);
    _hak_config_print(&c, fd, format);
    return (int)c.errors;
}

hak_export int hak_config_check_profile(const char *profile, const char *config_file, char *msg, size_t len)
{
    static struct hak_config c; /* as in hak_config_dump */
    struct hak_load_args args = { .profile = profile, .file = config_file, .use_env = true, .warn_fd = -1,
                                  .missing = msg, .missing_len = len };
    _hak_config_load(&c, &args);
    return c.profile[0] ? 0 : -1;
}

hak_export const char *hak_option_env(const char *name)
{
    int id = _hak_opt_find(name);
    return id < 0 ? NULL : _hak_opt_desc[id].env;
}

hak_export void hak_stats_print(int fd, int json) { _hak_stats_print(fd, json != 0); }
