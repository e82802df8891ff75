/* hardening.c — check mode (HAKMEM_CHECK=1) and secure mode (HAKMEM_SECURE=1) seen from a program: each bug is committed in a child under libhakmem.so (preloaded here), which must report it exactly ("hakmem: fn(): what 0x… (size class N, S bytes)") and then abort or, under on_error=warn, carry on; with check mode off the benign bugs pass unreported and unharmed; secure mode's guard pages, encoded links and shuffled carving are observed. Both SuperSlab modes. */
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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"

#define CHUNK ((uintptr_t)2 << 20)
/* Hang detection only: a case takes milliseconds. */
#define CASE_TIMEOUT_S 20

/* Keeps the compiler from seeing (and folding) the misuse. */
__attribute__((noinline)) static void *escape(void *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

/* The child names the block it is about to misuse: the parent expects that
 * address in the report. */
static void announce(const void *p) { dprintf(1, "%p\n", p); }

static bool env_on(const char *name)
{
    const char *v = getenv(name);
    return v && strcmp(v, "1") == 0;
}

/* ---------------------------------------------------------------- cases */

/* One byte past the request, inside the class's slack (benign when off). */
static void overflow(size_t n)
{
    char *p = alloc_or_die(n);
    announce(p);
    ((volatile char *)escape(p))[n] = 0x55;
    free(p);
}
static void overflow_tiny(void) { overflow(24); }
static void overflow_mid(void) { overflow(3000); }

/* The request is exactly a class size: the byte past it is the tail. */
static void overflow_exact(void) { overflow(64); }

static void *free_arg(void *p)
{
    free(p);
    return NULL;
}

/* Freed by a thread that does not own the block. */
static void overflow_remote(void)
{
    char *p = alloc_or_die(100);
    announce(p);
    ((volatile char *)escape(p))[100] = 0x55;
    pthread_t t;
    if (pthread_create(&t, NULL, free_arg, p) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
}

static void overflow_realloc(void)
{
    char *p = alloc_or_die(40);
    announce(p);
    ((volatile char *)escape(p))[41] = 0x55;
    char *q = realloc(p, 1000);
    if (q && env_on("HAKMEM_CHECK")) /* warn: refused, the block stays leaked */
        _exit(4);
    free(q);
}

/* Written after its free, then handed out again (check mode's lists are
 * LIFO per slab, so the next request of the class pops it). The byte is
 * flipped, not set: the free mark is keyed at random, and one byte of it in
 * 256 already holds any given value. */
static void write_after_free(size_t off)
{
    char *p = alloc_or_die(200), *again = escape(p);
    free(p);
    announce(again);
    ((volatile char *)again)[off] ^= 0x5a;
    char *q = alloc_or_die(200);
    free(q);
}
static void write_after_free_body(void) { write_after_free(100); }
/* The second word: the free mark. */
static void write_after_free_mark(void) { write_after_free(8); }

/* The link word of a free block overwritten: the next pop finds it. */
static void corrupted_link(void)
{
    char *p = alloc_or_die(48), *q = alloc_or_die(48), *again = escape(p);
    free(q);
    free(p);
    announce(again);
    ((volatile uintptr_t *)again)[0] ^= 0x5a5a5a5a0000;
    char *r = alloc_or_die(48);
    free(r);
}

static void double_free(void)
{
    char *p = alloc_or_die(100), *again = escape(p);
    free(p);
    announce(again);
    free(again);
}

/* Secure mode guards the SuperSlab header: the page before it and the rest
 * of the first 64 KiB. Reading there faults; otherwise it is plain memory. */
static void guard_pages(void)
{
    char *p = alloc_or_die(16);
    uintptr_t base = (uintptr_t)p & ~(CHUNK - 1);
    announce((void *)base);
    volatile char *g = (volatile char *)base;
    (void)g[100];
    (void)g[60 * 1024];
    free(p);
}

/* The link to the next free block is stored xor'ed with a secret in secure
 * mode, in the clear otherwise. */
static void encoded_link(void)
{
    char *p = alloc_or_die(48), *q = alloc_or_die(48), *again = escape(p);
    uintptr_t next = (uintptr_t)q;
    free(q);
    free(p);
    uintptr_t link = *(volatile uintptr_t *)again;
    bool plain = link == next;
    if (plain == env_on("HAKMEM_SECURE")) {
        dprintf(2, "link word %#lx, next block %#lx: %s\n", (unsigned long)link, (unsigned long)next,
                plain ? "not encoded in secure mode" : "encoded with secure mode off");
        _exit(4);
    }
}

/* Fresh blocks of a class nothing else uses come in address order, or
 * shuffled in secure mode. */
static void carve_order(void)
{
    enum { N = 32 };
    char *b[N];
    int ascending = 0;
    for (int i = 0; i < N; i++) {
        b[i] = alloc_or_die(700);
        ascending += i > 0 && b[i] > b[i - 1];
    }
    for (int i = 0; i < N; i++)
        free(b[i]);
    bool ordered = ascending == N - 1;
    if (ordered == env_on("HAKMEM_SECURE")) {
        dprintf(2, "%d of %d steps ascending: %s\n", ascending, N - 1,
                ordered ? "not shuffled in secure mode" : "shuffled with secure mode off");
        _exit(4);
    }
}

/* ---------------------------------------------------------------- table */

enum kind {
    CHECKED, /* reported in check mode */
    ALWAYS,  /* reported in every mode (without the size class) */
    PROPERTY,/* the child checks what it sees and exits 0 */
    GUARD,   /* SIGSEGV with secure SuperSlabs, else runs */
};

struct hcase {
    const char *name;
    void (*run)(void);
    enum kind kind;
    const char *fn, *what; /* the report */
    size_t n;              /* requested size: the class holds n + the tail */
    bool benign;           /* check mode off: runs on without a report */
};

static const struct hcase cases[] = {
    { "overflow_tiny", overflow_tiny, CHECKED, "free", "buffer overflow", 24, true },
    { "overflow_mid", overflow_mid, CHECKED, "free", "buffer overflow", 3000, true },
    { "overflow_exact", overflow_exact, CHECKED, "free", "buffer overflow", 64, false },
    { "overflow_remote", overflow_remote, CHECKED, "free", "buffer overflow", 100, true },
    { "overflow_realloc", overflow_realloc, CHECKED, "realloc", "buffer overflow", 40, true },
    { "write_after_free_body", write_after_free_body, CHECKED, "malloc", "write after free", 200, true },
    { "write_after_free_mark", write_after_free_mark, CHECKED, "malloc", "write after free", 200, true },
    { "corrupted_link", corrupted_link, CHECKED, "malloc", "corrupted free list", 48, false },
    { "double_free", double_free, ALWAYS, "free", "double free", 100, false },
    { "guard_pages", guard_pages, GUARD, NULL, NULL, 0, true },
    { "encoded_link", encoded_link, PROPERTY, NULL, NULL, 0, true },
    { "carve_order", carve_order, PROPERTY, NULL, NULL, 0, true },
};
#define NCASES (sizeof cases / sizeof cases[0])

struct mode {
    bool check, secure, superslab;
    const char *on_error; /* NULL: the default, abort */
};

static const struct mode modes[] = {
    { true, false, true, NULL },   { true, false, true, "warn" }, { true, false, false, NULL },
    { true, true, true, NULL },    { true, true, false, "warn" }, { false, false, true, NULL },
    { false, false, false, NULL }, { false, true, true, NULL },   { false, true, false, NULL },
};
#define NMODES (sizeof modes / sizeof modes[0])

/* The child: the allocator read its configuration at start-up. */
static int run_child(const char *name)
{
    if (!dlsym(RTLD_DEFAULT, "hak_version"))
        return 5; /* not running on hakmem */
    const struct hcase *c = NULL;
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0)
            c = &cases[i];
    if (!c)
        return 3;
    c->run();
    return child_survive();
}

/* ---------------------------------------------------------------- parent */

static const char *set_mode_lib; /* the library the children preload */

/* The mode's environment, in the child. */
static void set_mode(const void *arg)
{
    const struct mode *m = arg;
    setenv("HAKMEM_CHECK", m->check ? "1" : "0", 1);
    setenv("HAKMEM_SECURE", m->secure ? "1" : "0", 1);
    setenv("HAKMEM_TINY_USE_SUPERSLAB", m->superslab ? "1" : "0", 1);
    if (m->on_error)
        setenv("HAKMEM_ON_ERROR", m->on_error, 1);
    else
        unsetenv("HAKMEM_ON_ERROR");
    setenv("LD_PRELOAD", set_mode_lib, 1);
}

static int spawn(const char *lib, const char *name, const struct mode *m, struct child_result *r)
{
    set_mode_lib = lib;
    return child_run("hardening", name, CASE_TIMEOUT_S, set_mode, m, r);
}

/* Lines of stderr from hakmem, and those starting with prefix (whose rest
 * goes to *rest). */
static int count_lines(const char *text, const char *prefix, const char **rest)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (len >= pl && memcmp(l, prefix, pl) == 0) {
            n++;
            if (rest)
                *rest = l + pl;
        }
        l += len + (e != NULL);
    }
    return n;
}

/* The size class part of a check-mode report: " (size class N, S bytes)". */
static const char *check_class(const char *rest, size_t n)
{
    unsigned cls, size;
    char close;
    if (sscanf(rest, " (size class %u, %u bytes%c", &cls, &size, &close) != 3 || close != ')')
        return "the report does not name the size class";
    if (cls < 1 || cls > 52 || size < n + 8 || size > 2 * n + 64)
        return "the report names an unlikely size class";
    return NULL;
}

static const char *judge(const struct hcase *c, const struct mode *m, const struct child_result *r)
{
    int st = r->status;
    bool survived = WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(r->out, "survived\n");
    bool aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
    int hak_lines = count_lines(r->err, "hakmem: ", NULL);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        return "timed out (hang)";
    if (WIFEXITED(st) && WEXITSTATUS(st) == 5)
        return "hakmem is not loaded in the child";
    bool reported = c->kind == ALWAYS || (c->kind == CHECKED && m->check);
    if (c->kind == GUARD && m->secure && m->superslab)
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? NULL : "reading a guard page did not fault";
    if (!reported)
        return !survived ? "did not run on and exit 0" : hak_lines ? "printed a hakmem message" : NULL;
    bool warn = m->on_error && strcmp(m->on_error, "warn") == 0;
    if (warn ? !survived : !aborted)
        return warn ? "did not carry on under on_error=warn" : "did not end with SIGABRT";
    char *nl = strchr(r->out, '\n');
    if (!nl)
        return "the child never got to the misuse";
    char prefix[256];
    snprintf(prefix, sizeof prefix, "hakmem: %s(): %s %.*s", c->fn, c->what, (int)(nl - r->out), r->out);
    const char *rest = NULL;
    if (count_lines(r->err, prefix, &rest) != 1 || hak_lines != 1)
        return "did not print exactly the one expected report";
    if (c->kind == ALWAYS)
        return *rest == '\n' || *rest == '\0' ? NULL : "unexpected text after the address";
    return check_class(rest, c->n);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--case") == 0)
        return run_child(argv[2]);
    const char *lib = getenv("HAKMEM_LIBRARY");
    if (!lib || !*lib) {
        fprintf(stderr, "hardening: HAKMEM_LIBRARY must name libhakmem.so\n");
        return 1;
    }
    int failed = 0, total = 0;
    static struct child_result r;
    for (size_t i = 0; i < NCASES; i++)
        for (size_t k = 0; k < NMODES; k++) {
            const struct hcase *c = &cases[i];
            const struct mode *m = &modes[k];
            if (c->kind == CHECKED && !m->check && !c->benign)
                continue; /* a real corruption without the checks */
            if (c->kind == GUARD && !m->superslab)
                continue; /* no SuperSlab header around the block */
            char label[160];
            snprintf(label, sizeof label, "%s (check=%d secure=%d superslab=%d on_error=%s)", c->name, m->check,
                     m->secure, m->superslab, m->on_error ? m->on_error : "abort");
            total++;
            if (spawn(lib, c->name, m, &r) != 0)
                return 1;
            const char *why = judge(c, m, &r);
            if (why) {
                int st = r.status;
                printf("not ok - %s: %s\n#   status: %s %d\n#   stdout: %s\n#   stderr: %s\n", label, why,
                       WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
                       r.out, r.err);
                failed++;
            } else {
                printf("ok - %s\n", label);
            }
        }
    printf("# hardening: %d of %d cases failed\n", failed, total);
    return failed != 0;
}
