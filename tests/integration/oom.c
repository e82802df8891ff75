/* oom.c — out of memory under RLIMIT_AS = 200 MiB: 8 threads allocate with every allocating function until each size fails; every failure is NULL (or the error code) with ENOMEM, nothing crashes, calloc memory is still zero, and after the frees allocation works again. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define LIMIT (200 * MiB)

enum { NTHREADS = 8, NFUNCS = 9, MAXLIVE = 200000 };

/* Any failure ends the process with status 1; dprintf, as stdio may need
 * memory that is not there. */
#define check(cond, ...) do { \
        if (!(cond)) { \
            dprintf(2, "oom: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            dprintf(2, __VA_ARGS__); \
            dprintf(2, "\n"); \
            _exit(1); \
        } \
    } while (0)

static const char *const func_names[NFUNCS] = { "malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
                                                 "aligned_alloc", "memalign", "valloc", "pvalloc" };

/* From huge down to tiny: a thread asks for each size until it fails. */
static const size_t sizes[] = { 16 * MiB, 3 * MiB, 1 * MiB, 300 * KiB, 64 * KiB, 8 * KiB, 1000, 100, 16 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

struct worker {
    void **live;
    size_t *len;
    size_t count;
    unsigned long failures[NFUNCS];
    unsigned long zero_checked;
};

static struct worker workers[NTHREADS];
static pthread_barrier_t barrier;

static void *alloc_with(int f, size_t n, void *old)
{
    void *p = NULL;
    int r;
    switch (f) {
    case 0: return malloc(n);
    case 1: return calloc(1, n);
    case 2: return realloc(old, n);
    case 3: return reallocarray(old, (n + 7) / 8, 8); /* n bytes at least: the caller writes all n */
    case 4:
        p = (void *)&p;
        r = posix_memalign(&p, 64, n);
        if (r != 0) {
            check(p == (void *)&p, "posix_memalign changed its out-parameter on failure");
            errno = r;
            return NULL;
        }
        return p;
    case 5: return aligned_alloc(4096, n);
    case 6: return memalign(256, n);
    case 7: return valloc(n);
    default: return pvalloc(n);
    }
}

/* One call of function f for n bytes: kept if it succeeds (false), counted
 * and checked if it fails (true). */
static bool try_alloc(struct worker *w, int f, size_t n)
{
    /* realloc and reallocarray grow a small block of their own. */
    void *old = NULL;
    if (f == 2 || f == 3) {
        old = malloc(16);
        if (!old) {
            check(errno == ENOMEM, "malloc(16) failed with errno %d, want ENOMEM", errno);
            w->failures[0]++;
            return true;
        }
        memset(old, 0x7e, 16);
    }
    errno = 0;
    unsigned char *p = alloc_with(f, n, old);
    if (!p) {
        check(errno == ENOMEM, "%s(%zu) failed with errno %d, want ENOMEM", func_names[f], n, errno);
        w->failures[f]++;
        if (old) { /* a failed realloc leaves the old block alone */
            check(((unsigned char *)old)[15] == 0x7e, "%s lost the old block", func_names[f]);
            free(old);
        }
        return true;
    }
    if (old)
        check(p[0] == 0x7e && p[15] == 0x7e, "%s(%zu) lost the contents", func_names[f], n);
    if (f == 1) {
        for (size_t i = 0; i < n; i += 64)
            check(p[i] == 0, "calloc(%zu) not zero at %zu under memory pressure", n, i);
        check(p[n - 1] == 0, "calloc(%zu) not zero at its end", n);
        w->zero_checked++;
    }
    /* Touch every page: the memory is really there. */
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 0xa5;
    p[n - 1] = 0xa5;
    w->live[w->count] = p;
    w->len[w->count++] = n;
    return false;
}

static void *fill_up(void *arg)
{
    struct worker *w = arg;
    unsigned f0 = (unsigned)(w - workers);
    pthread_barrier_wait(&barrier);
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        for (unsigned k = 0; w->count + NFUNCS < MAXLIVE; k++) {
            if (!try_alloc(w, (int)((f0 + k) % NFUNCS), n))
                continue;
            /* This size no longer fits: every function gets one try at
             * it, then the next smaller size. */
            for (int f = 0; f < NFUNCS; f++)
                try_alloc(w, f, n);
            break;
        }
    }
    return NULL;
}

static void free_all(void)
{
    for (int t = 0; t < NTHREADS; t++) {
        for (size_t i = 0; i < workers[t].count; i++)
            free(workers[t].live[i]);
        workers[t].count = 0;
    }
}

/* After the frees: every tier and every function works again, calloc
 * memory reused from dirty blocks is zero. */
static void after_free(void)
{
    for (size_t s = 0; s < NSIZES; s++)
        for (int f = 0; f < NFUNCS; f++) {
            void *old = f == 2 || f == 3 ? malloc(16) : NULL;
            unsigned char *p = alloc_with(f, sizes[s], old);
            check(p != NULL, "%s(%zu) fails after everything was freed", func_names[f], sizes[s]);
            if (f == 1)
                for (size_t i = 0; i < sizes[s]; i += 64)
                    check(p[i] == 0, "calloc(%zu) not zero at %zu after the frees", sizes[s], i);
            memset(p, 0xa5, sizes[s]);
            free(p);
        }
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--limited") != 0) {
        /* Start again under the limit, so the allocator's own start-up
         * runs under it too. */
        struct rlimit rl = { LIMIT, LIMIT };
        check(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit");
        execl("/proc/self/exe", argv[0], "--limited", (char *)NULL);
        check(0, "exec: %s", strerror(errno));
    }
    int under_hakmem = dlsym(RTLD_DEFAULT, "hak_version") != NULL;
    for (int t = 0; t < NTHREADS; t++) {
        workers[t].live = malloc(MAXLIVE * sizeof(void *));
        workers[t].len = malloc(MAXLIVE * sizeof(size_t));
        check(workers[t].live && workers[t].len, "bookkeeping");
    }
    /* Small stacks: the address space is for the heap. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * KiB);
    for (int round = 0; round < 3; round++) {
        pthread_t th[NTHREADS];
        pthread_barrier_init(&barrier, NULL, NTHREADS);
        for (int t = 0; t < NTHREADS; t++)
            check(pthread_create(&th[t], &attr, fill_up, &workers[t]) == 0, "pthread_create");
        for (int t = 0; t < NTHREADS; t++)
            pthread_join(th[t], NULL);
        pthread_barrier_destroy(&barrier);
        size_t live = 0, blocks = 0;
        unsigned long fails[NFUNCS] = { 0 }, zeroed = 0;
        for (int t = 0; t < NTHREADS; t++) {
            for (size_t i = 0; i < workers[t].count; i++)
                live += workers[t].len[i];
            blocks += workers[t].count;
            for (int f = 0; f < NFUNCS; f++)
                fails[f] += workers[t].failures[f];
            zeroed += workers[t].zero_checked;
        }
        unsigned long total_fails = 0;
        for (int f = 0; f < NFUNCS; f++)
            total_fails += fails[f];
        for (int f = 0; f < NFUNCS; f++)
            check(fails[f] > 0, "%s never failed: was the limit in force?", func_names[f]);
        check(live > 50 * MiB, "only %zu KiB could be allocated under a 200 MiB limit", live / KiB);
        dprintf(1, "ok - round %d: %zu blocks, %zu MiB live at the limit, %lu ENOMEM failures (", round + 1,
                blocks, live / MiB, total_fails);
        for (int f = 0; f < NFUNCS; f++)
            dprintf(1, "%s%s %lu", f ? ", " : "", func_names[f], fails[f]);
        dprintf(1, "), %lu calloc blocks zero\n", zeroed);
        free_all();
        after_free();
        for (int t = 0; t < NTHREADS; t++) {
            memset(workers[t].failures, 0, sizeof workers[t].failures);
            workers[t].zero_checked = 0;
        }
    }
    dprintf(1, "ok - out of memory: no crash, ENOMEM every time, allocation works after the frees%s\n",
            under_hakmem ? "" : " (hakmem is not loaded: the system allocator)");
    return 0;
}
