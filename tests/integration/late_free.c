/* late_free.c — frees that come after a thread's exit functions (SPEC §2): a detached thread that never allocated frees, on its way out, the thread-control blocks glibc allocated for other threads (glibc trims its stack cache with __nptl_free_stacks after the key destructors ran), and its own stack and TLS are unmapped soon after; nothing of hakmem may keep pointing into that TLS. The stats walk over every live thread (hak_stats_print) must then run clean, mid-run and at exit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Threads alive at once: their 8 MiB stacks overflow glibc's 40 MiB stack
 * cache, so exiting threads unmap the stacks of earlier ones. */
#define WAVE 16
#define WAVES 40

static atomic_int running;

/* Allocates nothing: the only allocator calls on this thread are glibc's
 * own frees at its exit. */
static void *idle(void *arg)
{
    (void)arg;
    atomic_fetch_sub(&running, 1);
    return NULL;
}

int main(void)
{
    void (*stats_print)(int, int) = (void (*)(int, int))dlsym(RTLD_DEFAULT, "hak_stats_print");
    if (!stats_print) {
        fprintf(stderr, "late_free: hak_stats_print not found: run with LD_PRELOAD=libhakmem.so\n");
        return 1;
    }
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0)
        return 1;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    for (int w = 0; w < WAVES; w++) {
        atomic_store(&running, WAVE);
        for (int i = 0; i < WAVE; i++) {
            pthread_t t;
            if (pthread_create(&t, &a, idle, NULL) != 0) {
                fprintf(stderr, "late_free: pthread_create failed\n");
                return 1;
            }
        }
        while (atomic_load(&running) > 0)
            sched_yield();
        /* Let the wave finish exiting (its frees and unmappings). */
        struct timespec d = { 0, 2 * 1000 * 1000 };
        nanosleep(&d, NULL);
        stats_print(devnull, w & 1);
    }
    printf("ok - late_free: %d detached threads exited through glibc's late frees; stats read every wave\n",
           WAVE * WAVES);
    return 0;
}
