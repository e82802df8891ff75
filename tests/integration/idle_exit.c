/* idle_exit.c — small blocks a thread left at its exit, freed by another
 * thread as the process goes idle, go back to the OS (SPEC §2: RSS follows
 * the live heap, also in a process that goes idle). The purger has run and
 * has nothing left to do when the frees come, and nothing allocates after
 * them: only the frees can bring it back. Fails if RSS is not within 16 MiB
 * of where it started 10 s after the frees; reports how long it took. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rss.h"

#define MiB ((size_t)1 << 20)
enum { NBLOCKS = 131072, SIZE = 256 }; /* 32 MiB of tiny blocks */

static void *blocks[NBLOCKS];

static size_t rss(void) { return rss_of("idle_exit"); }

/* A large block freed: it waits for the delay, and the free starts the
 * purger thread (the process has threads: this one). */
static void *large_free(void *arg)
{
    char *p = malloc(MiB);
    if (!p)
        return arg;
    memset(p, 1, MiB);
    free(p);
    return NULL;
}

static void *leaver(void *arg)
{
    for (int i = 0; i < NBLOCKS; i++) {
        if (!(blocks[i] = malloc(SIZE)))
            return arg;
        memset(blocks[i], 2, SIZE);
    }
    return NULL; /* exits holding them all */
}

static int run(void *(*fn)(void *))
{
    static int failed; /* what fn returns if it fails */
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, fn, &failed) != 0 || pthread_join(t, &ret) != 0 || ret) {
        fprintf(stderr, "idle_exit: thread failed\n");
        return 1;
    }
    return 0;
}

int main(void)
{
    if (!dlsym(RTLD_DEFAULT, "hak_version")) {
        fprintf(stderr, "idle_exit: hakmem is not preloaded\n");
        return 1;
    }
    if (run(large_free))
        return 1;
    /* Past madvise.delay's default (1 s): the purger has nothing pending
     * and sleeps. (Were it still busy, the test would pass without showing
     * that a free wakes it.) */
    usleep(1500 * 1000);
    memset(blocks, 0, sizeof blocks); /* its pages resident before the start figure */
    size_t start = rss();
    if (run(leaver))
        return 1;
    size_t peak = rss();
    for (int i = 0; i < NBLOCKS; i++)
        free(blocks[i]);
    double t0 = now(), waited;
    size_t r;
    while ((r = rss()) > start + 16 * MiB && now() - t0 < 10.0)
        usleep(50 * 1000);
    waited = now() - t0;
    printf("%s - RSS %zu MiB at start, %zu MiB at the peak, %zu MiB %.2f s after the frees\n",
           r <= start + 16 * MiB ? "ok" : "not ok", start / MiB, peak / MiB, r / MiB, waited);
    return r <= start + 16 * MiB ? 0 : 1;
}
