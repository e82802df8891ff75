/* api.c — the hak_ functions of hakmem.h: the allocation functions of
 * entry.def under their hak_ names, and the library's other services. */
#include "config.h"
#include "entry.h"
#include "init.h"
#include "large/huge.h"
#include "stats.h"

/* The allocation functions of entry.def under their hak_ names. */
#define HAK_ENTRY_BOTH(...) HAK_ENTRY_DEFINE(hak_, __VA_ARGS__)
#define HAK_ENTRY_HAK(...) HAK_ENTRY_DEFINE(hak_, __VA_ARGS__)
#define HAK_ENTRY_STD(...)
#include "entry.def"

hak_export const char *hak_version(void) { return PACKAGE_VERSION; }

hak_export int hak_config_dump(int fd, const char *profile, const char *config_file, int format)
{
    static hak_bss_large struct hak_config c; /* 2.5 KiB: kept off the caller's stack */
    struct hak_load_args args = { .profile = profile, .file = config_file, .use_env = true, .warn_fd = 2 };
    _hak_config_load(&c, &args);
    _hak_config_print(&c, fd, format);
    return (int)c.errors;
}

hak_export int hak_config_check_profile(const char *profile, const char *config_file, char *msg, size_t len)
{
    static hak_bss_large struct hak_config c; /* as in hak_config_dump */
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
