/* misuse.c — SPEC §2 "Bad input": invalid and double frees are reported exactly and handled by on_error (abort, warn, ignore), and bad configuration warns without crashing; runs only under hakmem (LD_PRELOAD). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
/* Hang detection only: a case takes milliseconds. */
#define CASE_TIMEOUT_S 20

/* Keeps the compiler from seeing (and warning about, or folding) a free of
 * a non-heap or already freed pointer. */
__attribute__((noinline)) static void *escape(void *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

/* The child tells the parent the pointer it is about to misuse, so the
 * parent can expect the exact address in the report. */
static void announce(const void *p)
{
    dprintf(1, "%p\n", p);
}

static char global_block[256];

/* After a double free of p (n bytes) was let through by warn or ignore,
 * the block must not be handed out twice: among many live blocks of the
 * same size, p appears at most once. */
static void check_no_double_handout(uintptr_t p, size_t n)
{
    size_t count = n <= KiB ? 20000 : n <= 256 * KiB ? 400 : 12;
    void **live = calloc(count, sizeof *live);
    if (!live)
        _exit(3);
    size_t seen = 0;
    for (size_t i = 0; i < count; i++) {
        live[i] = alloc_or_die(n);
        seen += (uintptr_t)live[i] == p;
    }
    for (size_t i = 0; i < count; i++)
        free(live[i]);
    free(live);
    if (seen > 1) {
        dprintf(2, "double-freed block %p was handed out %zu times at once\n", (void *)p, seen);
        _exit(4);
    }
}

/* ---------------------------------------------------------------- cases */

static void free_stack(void)
{
    char local[64];
    announce(local + 16);
    free(escape(local + 16));
}

static void free_global(void)
{
    announce(global_block + 32);
    free(escape(global_block + 32));
}

static void free_interior(size_t n, size_t off)
{
    char *p = alloc_or_die(n);
    announce(p + off);
    free(escape(p + off));
    free(p); /* under warn/ignore the block itself is still ours */
}

static void free_tiny_interior(void) { free_interior(100, 16); }
static void free_mid_interior(void) { free_interior(100 * KiB, 4096); }
static void free_huge_interior(void) { free_interior(8 * MiB, 64); }
/* 2 MiB into a huge block: a chunk start, like a block of its own. */
static void free_huge_interior_chunk(void) { free_interior(8 * MiB, 2 * MiB); }

static void free_foreign(size_t n, size_t align)
{
    char *m = mmap(NULL, n + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(3);
    char *p = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
    announce(p);
    free(escape(p));
    munmap(m, n + align);
}

static void free_foreign_page(void) { free_foreign(4096, 4096); }
/* A 2 MiB-aligned region of the size hakmem's own chunks have. */
static void free_foreign_chunk(void) { free_foreign(2 * MiB, 2 * MiB); }

static void double_free(size_t n)
{
    void *p = alloc_or_die(n), *again = escape(p);
    free(p);
    uintptr_t addr = (uintptr_t)again;
    announce(again);
    free(again);
    check_no_double_handout(addr, n);
}

static void double_free_tiny(void) { double_free(100); }
static void double_free_mid(void) { double_free(100 * KiB); }

/* A mid class's TLS list holds two blocks: the first free of p finds it
 * full and puts p straight back on its slab (a and b, still counted out of
 * that slab, keep it from being released); the second free of p must see
 * it there. */
static void double_free_mid_list_full(void)
{
    void *a = alloc_or_die(100 * KiB), *b = alloc_or_die(100 * KiB);
    void *p = alloc_or_die(100 * KiB), *again = escape(p);
    free(a);
    free(b);
    free(p);
    uintptr_t addr = (uintptr_t)again;
    announce(again);
    free(again);
    check_no_double_handout(addr, 100 * KiB);
}
static void double_free_huge(void) { double_free(8 * MiB); }

/* The first free went back past the thread's cache to its slab: enough
 * further frees of the class flush the list; every tenth block stays live
 * so the slab is not released. */
static void double_free_tiny_flushed(void)
{
    enum { N = 4000 };
    static void *b[N];
    void *p = alloc_or_die(100), *again = escape(p);
    for (int i = 0; i < N; i++)
        b[i] = alloc_or_die(100);
    free(p);
    for (int i = 0; i < N; i++)
        if (i % 10)
            free(b[i]);
    uintptr_t addr = (uintptr_t)again;
    announce(again);
    free(again);
    check_no_double_handout(addr, 100);
    for (int i = 0; i < N; i += 10)
        free(b[i]);
}

static void free_large_interior(void) { free_interior(1 * MiB, 4096); }
/* Inside the first allocation unit: not a unit boundary at all. */
static void free_large_interior_unit(void) { free_interior(512 * KiB, 16); }

/* libc's own static data: the FILE of stdout. */
static void free_libc_static(void)
{
    announce(stdout);
    free(escape(stdout));
}

/* The dynamic thread vector of the main thread: the dynamic loader
 * allocated it with its own minimal malloc, before hakmem took over. The
 * thread pointer's second word points one entry (16 bytes) past the start
 * of that allocation (glibc's tcbhead_t and INSTALL_DTV). */
static void *loader_block(void)
{
    void **tcb;
#if defined(__x86_64__)
    __asm__("mov %%fs:0, %0" : "=r"(tcb));
    return (char *)tcb[1] - 16;
#elif defined(__aarch64__)
    __asm__("mrs %0, tpidr_el0" : "=r"(tcb));
    return (char *)tcb[0] - 16;
#else
    (void)tcb;
    _exit(3);
#endif
}

static void free_loader_memory(void)
{
    void *p = loader_block();
    announce(p);
    free(escape(p));
}

static void double_free_large(void) { double_free(1 * MiB); }

static void *free_arg(void *p)
{
    free(p);
    return NULL;
}

/* The second free comes from a thread that does not own the block. */
static void double_free_other_thread(size_t n)
{
    void *p = alloc_or_die(n), *again = escape(p);
    free(p);
    announce(again);
    pthread_t t;
    if (pthread_create(&t, NULL, free_arg, again) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
    check_no_double_handout((uintptr_t)again, n);
}

static void double_free_tiny_other_thread(void) { double_free_other_thread(100); }

/* The first free is the remote one (onto the slab's remote list), the
 * second comes from the owner. */
static void double_free_tiny_remote_first(void)
{
    void *p = alloc_or_die(100), *again = escape(p);
    pthread_t t;
    if (pthread_create(&t, NULL, free_arg, p) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
    uintptr_t addr = (uintptr_t)again;
    announce(again);
    free(again);
    check_no_double_handout(addr, 100);
}
/* Both frees from threads that do not own the block (the remote path). */
static void double_free_tiny_remote_twice(void)
{
    void *p = alloc_or_die(100), *again = escape(p);
    pthread_t t;
    if (pthread_create(&t, NULL, free_arg, p) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
    announce(again);
    if (pthread_create(&t, NULL, free_arg, again) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
    check_no_double_handout((uintptr_t)again, 100);
}

/* An interior pointer freed by a thread that does not own the block. */
static void free_tiny_interior_other_thread(void)
{
    char *p = alloc_or_die(100);
    announce(p + 16);
    pthread_t t;
    if (pthread_create(&t, NULL, free_arg, escape(p + 16)) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
    free(p);
}
static void double_free_mid_other_thread(void) { double_free_other_thread(100 * KiB); }
static void double_free_large_other_thread(void) { double_free_other_thread(1 * MiB); }
static void double_free_huge_other_thread(void) { double_free_other_thread(8 * MiB); }

/* realloc of p must report, leave p alone and return NULL. */
static void realloc_bad(void *p)
{
    announce(p);
    void *r = realloc(escape(p), 100);
    if (r != NULL) {
        dprintf(2, "realloc of a bad pointer %p returned %p\n", p, r);
        _exit(4);
    }
}

static void realloc_invalid(void)
{
    char local[64];
    realloc_bad(local);
}

static void realloc_global(void) { realloc_bad(global_block + 8); }

static void realloc_interior(size_t n, size_t off)
{
    char *p = alloc_or_die(n);
    realloc_bad(p + off);
    free(p);
}

static void realloc_tiny_interior(void) { realloc_interior(100, 32); }
static void realloc_mid_interior(void) { realloc_interior(100 * KiB, 4096); }
static void realloc_large_interior(void) { realloc_interior(1 * MiB, 4096); }
static void realloc_huge_interior(void) { realloc_interior(8 * MiB, 2 * MiB); }

static void realloc_foreign_chunk(void)
{
    char *m = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(3);
    realloc_bad((char *)(((uintptr_t)m + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1)));
    munmap(m, 4 * MiB);
}

static void realloc_loader_memory(void) { realloc_bad(loader_block()); }

/* realloc of a block already freed: a double free, and nothing returned. */
static void realloc_freed(size_t n)
{
    void *p = alloc_or_die(n), *again = escape(p);
    free(p);
    realloc_bad(again);
    check_no_double_handout((uintptr_t)again, n);
}

static void realloc_freed_tiny(void) { realloc_freed(100); }
static void realloc_freed_mid(void) { realloc_freed(100 * KiB); }
static void realloc_freed_large(void) { realloc_freed(1 * MiB); }
static void realloc_freed_huge(void) { realloc_freed(8 * MiB); }

/* malloc_usable_size of p must report and return 0. */
static void usable_bad(void *p)
{
    announce(p);
    size_t n = malloc_usable_size(escape(p));
    if (n != 0) {
        dprintf(2, "malloc_usable_size of a bad pointer %p returned %zu\n", p, n);
        _exit(4);
    }
}

static void usable_invalid(void)
{
    char local[64];
    usable_bad(local);
}

static void usable_global(void) { usable_bad(global_block + 8); }

static void usable_interior(size_t n, size_t off)
{
    char *p = alloc_or_die(n);
    usable_bad(p + off);
    free(p);
}

static void usable_tiny_interior(void) { usable_interior(100, 16); }
static void usable_mid_interior(void) { usable_interior(100 * KiB, 4096); }
static void usable_large_interior(void) { usable_interior(1 * MiB, 4096); }
static void usable_huge_interior(void) { usable_interior(8 * MiB, 2 * MiB); }

static void usable_foreign_chunk(void)
{
    char *m = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(3);
    usable_bad((char *)(((uintptr_t)m + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1)));
    munmap(m, 4 * MiB);
}

static void usable_libc_static(void) { usable_bad(stdout); }

static void free_sized_invalid(void)
{
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    if (!fs)
        _exit(3);
    char *p = alloc_or_die(100);
    announce(p + 16);
    fs(escape(p + 16), 100);
    free(p);
}

/* ---------------------------------------------------------------- table */

struct misuse_case {
    const char *name;
    void (*run)(void);
    const char *fn;     /* function named in the report */
    const char *what;   /* "invalid pointer" or "double free" */
};

static const struct misuse_case cases[] = {
    { "free_stack", free_stack, "free", "invalid pointer" },
    { "free_global", free_global, "free", "invalid pointer" },
    { "free_tiny_interior", free_tiny_interior, "free", "invalid pointer" },
    { "free_mid_interior", free_mid_interior, "free", "invalid pointer" },
    { "free_huge_interior", free_huge_interior, "free", "invalid pointer" },
    { "free_huge_interior_chunk", free_huge_interior_chunk, "free", "invalid pointer" },
    { "free_foreign_page", free_foreign_page, "free", "invalid pointer" },
    { "free_foreign_chunk", free_foreign_chunk, "free", "invalid pointer" },
    { "free_large_interior", free_large_interior, "free", "invalid pointer" },
    { "free_large_interior_unit", free_large_interior_unit, "free", "invalid pointer" },
    { "free_libc_static", free_libc_static, "free", "invalid pointer" },
    { "free_loader_memory", free_loader_memory, "free", "invalid pointer" },
    { "double_free_tiny", double_free_tiny, "free", "double free" },
    { "double_free_tiny_flushed", double_free_tiny_flushed, "free", "double free" },
    { "double_free_tiny_other_thread", double_free_tiny_other_thread, "free", "double free" },
    { "double_free_tiny_remote_first", double_free_tiny_remote_first, "free", "double free" },
    { "double_free_tiny_remote_twice", double_free_tiny_remote_twice, "free", "double free" },
    { "free_tiny_interior_other_thread", free_tiny_interior_other_thread, "free", "invalid pointer" },
    { "double_free_mid", double_free_mid, "free", "double free" },
    { "double_free_mid_list_full", double_free_mid_list_full, "free", "double free" },
    { "double_free_mid_other_thread", double_free_mid_other_thread, "free", "double free" },
    { "double_free_large", double_free_large, "free", "double free" },
    { "double_free_large_other_thread", double_free_large_other_thread, "free", "double free" },
    { "double_free_huge", double_free_huge, "free", "double free" },
    { "double_free_huge_other_thread", double_free_huge_other_thread, "free", "double free" },
    { "realloc_invalid", realloc_invalid, "realloc", "invalid pointer" },
    { "realloc_global", realloc_global, "realloc", "invalid pointer" },
    { "realloc_tiny_interior", realloc_tiny_interior, "realloc", "invalid pointer" },
    { "realloc_mid_interior", realloc_mid_interior, "realloc", "invalid pointer" },
    { "realloc_large_interior", realloc_large_interior, "realloc", "invalid pointer" },
    { "realloc_huge_interior", realloc_huge_interior, "realloc", "invalid pointer" },
    { "realloc_foreign_chunk", realloc_foreign_chunk, "realloc", "invalid pointer" },
    { "realloc_loader_memory", realloc_loader_memory, "realloc", "invalid pointer" },
    { "realloc_freed_tiny", realloc_freed_tiny, "realloc", "double free" },
    { "realloc_freed_mid", realloc_freed_mid, "realloc", "double free" },
    { "realloc_freed_large", realloc_freed_large, "realloc", "double free" },
    { "realloc_freed_huge", realloc_freed_huge, "realloc", "double free" },
    { "usable_invalid", usable_invalid, "malloc_usable_size", "invalid pointer" },
    { "usable_global", usable_global, "malloc_usable_size", "invalid pointer" },
    { "usable_tiny_interior", usable_tiny_interior, "malloc_usable_size", "invalid pointer" },
    { "usable_mid_interior", usable_mid_interior, "malloc_usable_size", "invalid pointer" },
    { "usable_large_interior", usable_large_interior, "malloc_usable_size", "invalid pointer" },
    { "usable_huge_interior", usable_huge_interior, "malloc_usable_size", "invalid pointer" },
    { "usable_foreign_chunk", usable_foreign_chunk, "malloc_usable_size", "invalid pointer" },
    { "usable_libc_static", usable_libc_static, "malloc_usable_size", "invalid pointer" },
    { "free_sized_invalid", free_sized_invalid, "free_sized", "invalid pointer" },
};
#define NCASES (sizeof cases / sizeof cases[0])

/* on_error modes each case runs under; NULL leaves the variable unset, so
 * the default (abort) applies. */
static const char *const modes[] = { NULL, "abort", "warn", "ignore" };

enum outcome { RUNS, ABORTS, FATAL };

/* Bad configuration: one warning per error, naming its source; the option
 * keeps its value and the program runs, unless strict_config is set. A
 * "@" in a wanted line stands for the path of the bad ini file below. */
struct config_case {
    const char *name;
    const char *env[2];      /* NAME=value assignments */
    bool bad_ini;            /* HAKMEM_CONFIG names the bad file, no profile */
    const char *child;       /* what the child does: a case above, or nothing */
    enum outcome outcome;
    const char *want[5];     /* each on exactly one line of stderr */
};

static const char bad_ini_text[] =
    "; misuse.c: a configuration file with an error on every line from 3\n"
    "[tiny]\n"
    "cache_max = lots\n"
    "[nosuch]\n"
    "key = 1\n"
    "not a line\n";

static const struct config_case config_cases[] = {
    { "config_bad_number", { "HAKMEM_TINY_CACHE_MAX=lots" }, false, NULL, RUNS,
      { "hakmem: config: HAKMEM_TINY_CACHE_MAX: tiny.cache_max: 'lots' is not a whole number" } },
    { "config_out_of_range", { "HAKMEM_TINY_CACHE_MAX=999999" }, false, NULL, RUNS,
      { "hakmem: config: HAKMEM_TINY_CACHE_MAX: tiny.cache_max: '999999' is out of range" } },
    { "config_unknown_variable", { "HAKMEM_NO_SUCH_OPTION=1" }, false, NULL, RUNS,
      { "hakmem: config: HAKMEM_NO_SUCH_OPTION: unknown variable" } },
    /* The bad value is ignored: on_error stays abort. */
    { "config_bad_enum_keeps_value", { "HAKMEM_ON_ERROR=sometimes" }, false, "double_free_tiny", ABORTS,
      { "hakmem: config: HAKMEM_ON_ERROR: on_error: 'sometimes' is not one of abort|warn|ignore" } },
    { "config_bad_file", { NULL }, true, NULL, RUNS,
      { "hakmem: config: @:3: tiny.cache_max: 'lots' is not a whole number", "hakmem: config: @:5: ",
        "hakmem: config: @:6: " } },
    { "config_strict_variable", { "HAKMEM_STRICT_CONFIG=1", "HAKMEM_TINY_CACHE_MAX=lots" }, false, NULL, FATAL,
      { "hakmem: config: HAKMEM_TINY_CACHE_MAX: tiny.cache_max: 'lots' is not a whole number",
        "strict_config is set" } },
    { "config_strict_file", { "HAKMEM_STRICT_CONFIG=1" }, true, NULL, FATAL,
      { "hakmem: config: @:3: ", "hakmem: config: @:5: ", "hakmem: config: @:6: ", "strict_config is set" } },
    /* No error, nothing fatal: also proves the test environment is clean. */
    { "config_strict_clean", { "HAKMEM_STRICT_CONFIG=1" }, false, NULL, RUNS, { NULL } },
};
#define NCONFIG (sizeof config_cases / sizeof config_cases[0])

static const struct misuse_case *find_case(const char *name)
{
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0)
            return &cases[i];
    return NULL;
}

/* The child: the allocator already read its configuration at start-up. */
static int run_child(const char *name)
{
    if (strcmp(name, "none") != 0) {
        const struct misuse_case *c = find_case(name);
        if (!c)
            return 3;
        c->run();
    }
    return child_survive();
}

/* ---------------------------------------------------------------- parent */

/* Lines of text that are misuse reports ("hakmem: fn(): what 0x…"). */
static bool is_report(const char *line, size_t len)
{
    char l[256];
    snprintf(l, sizeof l, "%.*s", (int)len, line);
    return strncmp(l, "hakmem: ", 8) == 0 && strstr(l, "(): ") &&
           (strstr(l, "invalid pointer") || strstr(l, "double free"));
}

/* Lines of text that contain want (whole == only lines equal to it). */
static int count_lines(const char *text, const char *want, bool whole)
{
    int n = 0;
    size_t wl = strlen(want);
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (whole ? len == wl && memcmp(l, want, wl) == 0 : memmem(l, len, want, wl) != NULL)
            n++;
        l += len + (e != NULL);
    }
    return n;
}

static int count_reports(const char *text)
{
    int n = 0;
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        n += is_report(l, len);
        l += len + (e != NULL);
    }
    return n;
}

/* Drops the caller's HAKMEM_ settings except the configuration under test
 * (file and profile), so that only the case's own errors are reported. */
static void scrub_env(void)
{
    extern char **environ;
    for (;;) {
        char **e = environ;
        while (*e && !(strncmp(*e, "HAKMEM_", 7) == 0 && strncmp(*e, "HAKMEM_CONFIG=", 14) != 0 &&
                       strncmp(*e, "HAKMEM_PROFILE=", 15) != 0 && strncmp(*e, "HAKMEM_MODE=", 12) != 0))
            e++;
        if (!*e)
            return;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(strchr(*e, '=') - *e), *e);
        unsetenv(name);
    }
}

/* What a child needs to set its environment up. */
struct child_env {
    const char *on_error;
    const struct config_case *cc;
    const char *ini;
};

static void set_env(const void *arg)
{
    const struct child_env *ce = arg;
    if (ce->on_error)
        setenv("HAKMEM_ON_ERROR", ce->on_error, 1);
    else
        unsetenv("HAKMEM_ON_ERROR");
    if (ce->cc) {
        scrub_env();
        if (ce->cc->bad_ini) {
            setenv("HAKMEM_CONFIG", ce->ini, 1);
            unsetenv("HAKMEM_PROFILE");
            unsetenv("HAKMEM_MODE");
        }
        for (int i = 0; i < 2 && ce->cc->env[i]; i++)
            putenv((char *)ce->cc->env[i]);
    }
}

/* Runs this program's child part for case `child` in a fresh process (so
 * the allocator reads the environment set here at its start-up). */
static int spawn(const char *child, const char *on_error, const struct config_case *cc, const char *ini,
                 struct child_result *r)
{
    struct child_env ce = { on_error, cc, ini };
    return child_run("misuse", child, CASE_TIMEOUT_S, set_env, &ce, r);
}

/* Checks how the child ended; NULL if as expected, else why not. */
static const char *check_outcome(const struct child_result *r, enum outcome want)
{
    int st = r->status;
    bool survived = strstr(r->out, "survived\n") != NULL;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        return "timed out (hang)";
    switch (want) {
    case ABORTS:
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT ? NULL : "did not end with SIGABRT";
    case RUNS:
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 && survived ? NULL : "did not continue and exit 0";
    case FATAL:
        return WIFEXITED(st) && WEXITSTATUS(st) != 0 && r->out[0] == '\0' ? NULL
                                                                          : "did not exit with an error at start-up";
    }
    return "?";
}

static void print_failure(const char *label, const char *why, const char *want, const struct child_result *r)
{
    int st = r->status;
    printf("not ok - %s: %s\n#   expected: %s\n#   status: %s %d\n#   stderr: %s\n", label, why, want,
           WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), r->err);
}

static int run_misuse_case(const struct misuse_case *c, const char *mode)
{
    static struct child_result r;
    if (spawn(c->name, mode, NULL, NULL, &r) != 0)
        return 1;
    const char *m = mode ? mode : "abort";
    char label[128];
    snprintf(label, sizeof label, "%s (on_error=%s%s)", c->name, m, mode ? "" : ", default");
    char *ptr_end = strchr(r.out, '\n');
    if (!ptr_end) {
        print_failure(label, "the child never got to the misuse", "an announced pointer", &r);
        return 1;
    }
    *ptr_end = '\0';
    char want[256];
    snprintf(want, sizeof want, "hakmem: %s(): %s %.40s", c->fn, c->what, r.out);
    *ptr_end = '\n';
    int found = count_lines(r.err, want, true), reports = count_reports(r.err);
    bool ignore = strcmp(m, "ignore") == 0;

    const char *why = check_outcome(&r, strcmp(m, "abort") == 0 ? ABORTS : RUNS);
    if (!why && ignore && reports != 0)
        why = "reported although on_error=ignore";
    else if (!why && !ignore && (found != 1 || reports != 1))
        why = "did not print exactly the one expected report";
    if (why) {
        print_failure(label, why, ignore ? "(no report)" : want, &r);
        return 1;
    }
    printf("ok - %s\n", label);
    return 0;
}

/* want with every "@" replaced by path. */
static void expand(char *dst, size_t cap, const char *want, const char *path)
{
    size_t n = 0;
    for (const char *w = want; *w && n + 1 < cap; w++) {
        if (*w == '@') {
            n += (size_t)snprintf(dst + n, cap - n, "%s", path);
            if (n >= cap)
                n = cap - 1;
        } else {
            dst[n++] = *w;
        }
    }
    dst[n] = '\0';
}

static int run_config_case(const struct config_case *cc, const char *ini)
{
    static struct child_result r;
    if (spawn(cc->child ? cc->child : "none", NULL, cc, ini, &r) != 0)
        return 1;
    const char *why = check_outcome(&r, cc->outcome);
    char want[512] = "(no warning)";
    for (int i = 0; !why && i < 5 && cc->want[i]; i++) {
        expand(want, sizeof want, cc->want[i], ini);
        if (count_lines(r.err, want, false) != 1)
            why = "did not print the expected warning exactly once";
    }
    if (!why && !cc->want[0] && strstr(r.err, "hakmem: config: "))
        why = "warned about a clean configuration";
    if (why) {
        print_failure(cc->name, why, want, &r);
        return 1;
    }
    printf("ok - %s\n", cc->name);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--case") == 0)
        return run_child(argv[2]);
    if (!dlsym(RTLD_DEFAULT, "hak_version")) {
        fprintf(stderr, "misuse: hakmem is not loaded (hak_version not found); run with LD_PRELOAD=libhakmem.so\n");
        return 1;
    }
    int failed = 0, total = 0;
    for (size_t i = 0; i < NCASES; i++)
        for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
            failed += run_misuse_case(&cases[i], modes[k]);
            total++;
        }

    char ini[512];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(ini, sizeof ini, "%s/hakmem-misuse-XXXXXX.ini", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemps(ini, 4);
    if (fd < 0 || write(fd, bad_ini_text, sizeof bad_ini_text - 1) != (ssize_t)(sizeof bad_ini_text - 1)) {
        perror("misuse: temporary ini file");
        return 1;
    }
    close(fd);
    for (size_t i = 0; i < NCONFIG; i++) {
        failed += run_config_case(&config_cases[i], ini);
        total++;
    }
    unlink(ini);
    printf("# misuse: %d of %d cases failed\n", failed, total);
    return failed != 0;
}
