/* hakmem.h — the public interface of the hakmem allocator.
 *
 * Programs normally use the standard names (malloc, free, …), which
 * libhakmem exports when linked with -lhakmem or preloaded with LD_PRELOAD.
 * The hak_ functions below are the same allocator under names of its own:
 * call-site–aware allocation, and the whole API for builds where another
 * allocator owns the standard names (sanitizer builds). */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A call-site id: any value that identifies where an allocation is made.
 * The standard entry points use their caller's return address. */
typedef uintptr_t hak_site_t;

/* The site of the statement it appears in (GNU C: a local label's address). */
#define HAK_SITE_HERE ((hak_site_t)({ __label__ hak_here_; hak_here_: &&hak_here_; }))

void *hak_alloc_at(size_t size, hak_site_t site);
void hak_free_at(void *ptr, hak_site_t site);

void *hak_malloc(size_t size);
void hak_free(void *ptr);
void *hak_calloc(size_t count, size_t size);
void *hak_realloc(void *ptr, size_t size);
void *hak_reallocarray(void *ptr, size_t count, size_t size);
int hak_posix_memalign(void **out, size_t alignment, size_t size);
void *hak_aligned_alloc(size_t alignment, size_t size);
void *hak_memalign(size_t alignment, size_t size);
size_t hak_malloc_usable_size(void *ptr);
/* Returns cached memory to the OS; 1 if any was released (as malloc_trim). */
int hak_trim(void);

/* "0.1.0" */
const char *hak_version(void);

/* Formats of hak_config_dump. */
enum {
    HAK_DUMP_TEXT = 0,     /* every option: value, source, description, in lines cut to 100 columns */
    HAK_DUMP_JSON = 1,
    HAK_DUMP_VALUES = 2,   /* "name = value" lines */
    HAK_DUMP_MARKDOWN = 3, /* the option table of the documentation */
    HAK_DUMP_INI = 4,      /* the documented option sections of hakmem.ini */
    HAK_DUMP_TEXT_LONG = 5 /* as TEXT, with each line whole */
};

/* Loads the configuration as start-up would — with profile and config_file
 * in place of HAKMEM_PROFILE/HAKMEM_MODE and HAKMEM_CONFIG when not NULL —
 * and prints it to fd. Warnings go to stderr. Returns the number of
 * configuration errors found. The running allocator is not changed. */
int hak_config_dump(int fd, const char *profile, const char *config_file, int format);

/* Whether the configuration file hak_config_dump would read (config_file,
 * else as start-up chooses it) has a [profile NAME] section for profile (a
 * name, not NULL): 0 if it has; otherwise -1, with what start-up would warn
 * (the file and the profiles it has) in msg. Prints nothing. */
int hak_config_check_profile(const char *profile, const char *config_file, char *msg, size_t len);

/* The environment variable of option "section.key", or NULL if no such
 * option exists. */
const char *hak_option_env(const char *name);

/* Prints the counters now: text (json = 0) or JSON. */
void hak_stats_print(int fd, int json);

#ifdef __cplusplus
}
#endif
#endif
