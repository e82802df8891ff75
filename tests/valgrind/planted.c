/* planted.c — run under valgrind's memcheck with a --enable-valgrind
 * libhakmem preloaded (tests/valgrind/client.sh). `planted clean` uses every
 * allocation function correctly (tiers, realloc moves, alignment, threads,
 * fork, trim, and the hak_ API) and must give no error; `planted errors`
 * makes four known mistakes, each of which memcheck must report once: a
 * write after free, a branch on uninitialised memory, a double free and a
 * leak. */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/memcheck.h>

static int failures;

#define EXPECT(cond)                                                        \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "planted.c:%d: expected %s\n", __LINE__, #cond); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

/* Whether memcheck's V bits of every byte of [p, p + n) are `bits` (0:
 * defined, 0xff: undefined), read without reporting anything. */
static int all_vbits(const void *p, size_t n, unsigned char bits)
{
    unsigned char v[256];
    while (n > 0) {
        size_t k = n < sizeof v ? n : sizeof v;
        if (VALGRIND_GET_VBITS(p, v, k) != 1)
            return 0;
        for (size_t i = 0; i < k; i++)
            if (v[i] != bits)
                return 0;
        p = (const char *)p + k;
        n -= k;
    }
    return 1;
}

static int all_defined(const void *p, size_t n) { return all_vbits(p, n, 0); }
static int all_undefined(const void *p, size_t n) { return all_vbits(p, n, 0xff); }

/* Each block's contents survive realloc across tiers, and so does what is
 * still undefined in it. */
static void realloc_chain(void)
{
    static const size_t sizes[] = { 24, 40, 500, 3000, 70000, 600000, 3 << 20, 100000, 64, 8 };
    size_t n = sizes[0];
    unsigned char *p = malloc(n);
    EXPECT(p && all_undefined(p, n));
    memset(p, 0x5a, n / 2); /* the second half stays undefined */
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t m = sizes[i];
        p = realloc(p, m);
        EXPECT(p != NULL);
        size_t keep = (n < m ? n : m);
        size_t set = n / 2 < keep ? n / 2 : keep;
        EXPECT(all_defined(p, set));
        for (size_t j = 0; j < set; j++)
            if (p[j] != 0x5a) {
                EXPECT(p[j] == 0x5a);
                break;
            }
        EXPECT(keep == set || all_undefined(p + set, keep - set));
        memset(p, 0x5a, m / 2);
        n = m;
    }
    free(p);
}

static void *worker(void *arg)
{
    void **slot = arg;
    void *keep[64];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 64; i++) {
            keep[i] = malloc(16 + 16 * (size_t)(i % 20));
            memset(keep[i], i, 16);
        }
        for (int i = 0; i < 64; i++)
            free(keep[i]);
    }
    *slot = malloc(200); /* freed by the main thread: a remote free */
    memset(*slot, 1, 200);
    return NULL; /* exits with blocks in its TLS lists */
}

/* The hak_ API (found in the preloaded library) describes its blocks too. */
static void hak_api(void)
{
    void *(*hmalloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "hak_malloc");
    void *(*hcalloc)(size_t, size_t) = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "hak_calloc");
    void *(*hrealloc)(void *, size_t) = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "hak_realloc");
    void (*hfree)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "hak_free");
    EXPECT(hmalloc && hcalloc && hrealloc && hfree);
    if (!hmalloc || !hcalloc || !hrealloc || !hfree)
        return;
    unsigned char *p = hmalloc(200);
    EXPECT(p && all_undefined(p, 200));
    memset(p, 1, 100);
    p = hrealloc(p, 5000);
    EXPECT(p && all_defined(p, 100) && all_undefined(p + 100, 100));
    hfree(p);
    p = hcalloc(10, 30);
    EXPECT(p && all_defined(p, 300));
    hfree(p);
}

static int clean(void)
{
    /* Every tier, each block reused a few times (the free lists live in
     * freed blocks). */
    static const size_t sizes[] = { 1, 16, 100, 1024, 5000, 100000, 300000, 1 << 20, 5 << 20 };
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char *p = malloc(sizes[i]);
            EXPECT(p != NULL);
            memset(p, 'x', sizes[i]);
            size_t u = malloc_usable_size(p);
            EXPECT(u >= sizes[i]);
            memset(p, 'y', u); /* all of the usable size is the program's */
            free(p);
        }

    unsigned char *z = calloc(1000, 3);
    EXPECT(z && all_defined(z, 3000) && z[2999] == 0);
    free(z);
    z = calloc(1, 1 << 20);
    EXPECT(z && z[12345] == 0);
    free(z);

    realloc_chain();
    hak_api();
    int *arr = reallocarray(NULL, 100, sizeof *arr);
    EXPECT(arr != NULL);
    arr[99] = 1;
    free(arr);

    void *a = NULL;
    EXPECT(posix_memalign(&a, 4096, 100) == 0 && ((size_t)a & 4095) == 0);
    memset(a, 0, 100);
    free(a);
    a = aligned_alloc(1 << 16, 70000);
    EXPECT(a && ((size_t)a & 0xffff) == 0);
    free(a);
    a = memalign(64, 10);
    EXPECT(a != NULL);
    free(a);
    a = valloc(10);
    EXPECT(a != NULL);
    free(a);
    a = pvalloc(10);
    EXPECT(a != NULL);
    memset(a, 0, 4096); /* pvalloc rounds to whole pages */
    free(a);
    free(NULL);
    EXPECT(realloc(malloc(10), 0) == NULL); /* frees, as glibc */

    pthread_t th[4];
    void *from[4];
    for (int i = 0; i < 4; i++)
        EXPECT(pthread_create(&th[i], NULL, worker, &from[i]) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        free(from[i]);
    }

    pid_t pid = fork();
    if (pid == 0) {
        char *c = malloc(300);
        memset(c, 0, 300);
        free(c);
        _exit(0);
    }
    int st;
    EXPECT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    malloc_trim(0);
    return failures != 0;
}

/* Allocates a block and drops the only pointer to it; noinline, and the
 * caller then clobbers the stack it used, so no stale copy keeps it
 * reachable. Not the first block of a fresh slab: the slab's record holds
 * that one's address, so memcheck would count it as still reachable. */
static __attribute__((noinline)) void leak_one(void)
{
    char *first = malloc(100);
    char *volatile leak = malloc(100);
    memset(leak, 0, 100);
    leak = NULL;
    free(first);
}

static __attribute__((noinline)) void clobber_stack(void)
{
    volatile char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0;
}

static int errors(void)
{
    char *p = malloc(64);
    memset(p, 0, 64);
    free(p);
    p[32] = 1; /* 1: write after free (past the free-list link and mark) */

    char *u = malloc(32);
    if (u[3] == 7) /* 2: a branch on uninitialised memory */
        puts("seven");
    free(u);

    char *d = malloc(48);
    free(d);
    free(d); /* 3: double free (hakmem reports it too; on_error=warn goes on) */

    leak_one(); /* 4: a leak */
    clobber_stack();
    return 0;
}

int main(int argc, char **argv)
{
    /* The program's malloc must be hakmem's (preloaded), not memcheck's. */
    Dl_info info;
    if (!dladdr((void *)(size_t)&malloc, &info) || !info.dli_fname || !strstr(info.dli_fname, "libhakmem")) {
        fprintf(stderr, "planted: malloc is not libhakmem's (%s)\n", info.dli_fname ? info.dli_fname : "?");
        return 2;
    }
    if (!RUNNING_ON_VALGRIND) {
        fprintf(stderr, "planted: not running under valgrind\n");
        return 2;
    }
    if (argc == 2 && strcmp(argv[1], "clean") == 0)
        return clean();
    if (argc == 2 && strcmp(argv[1], "errors") == 0)
        return errors();
    fprintf(stderr, "usage: planted clean|errors\n");
    return 2;
}
