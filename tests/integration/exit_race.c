/* exit_race.c — process exit while threads exit and the purger may be starting (SPEC §2, §5.5): each run starts 40 threads that allocate and free blocks of every tier (so that purges wait and a purger is wanted), some of which exit on their own, and calls exit() at a varying moment; an atexit handler then makes the rest leave through pthread_exit while the process exits (the pattern of CPython's daemon threads at interpreter shutdown). Every run must exit 0; hundreds of short runs, half of them with a 1 ms purge delay so that purgers come and go all the time, half of them writing the counters at exit (summed over the threads still running).
 *
 * Built on the standard names (run under LD_PRELOAD) and, with -DHAK_TEST_API, on the hak_ API, so that the sanitizer builds (TSan above all) watch the same exits.
 *
 *   exit_race [RUNS | --quick]      (default 300, 40 under TSan; --quick: 20) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../api.h"
#include "../hang.h"

extern char **environ;

#define THREADS 40
/* Hang detection only: a run takes milliseconds. */
#define HANG_S 60
/* ThreadSanitizer holds every process a second at exit (atexit_sleep_ms). */
#if defined(__SANITIZE_THREAD__)
#define DEFAULT_RUNS 40
#else
#define DEFAULT_RUNS 300
#endif

static const size_t sizes[] = { 24, 500, 4000, 100000, 400000, 1500000, 3000000 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

static atomic_bool finalizing;

/* As an interpreter's shutdown: threads still running leave through
 * pthread_exit (their key destructors run) while exit goes on. */
static void finalize(void) { atomic_store(&finalizing, true); }

static void *worker(void *arg)
{
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    /* Some threads end on their own after a while, racing the exit. */
    unsigned rounds = x % 3 == 0 ? 50 + x % 200 : ~0u;
    for (unsigned r = 0; r < rounds; r++) {
        if (atomic_load_explicit(&finalizing, memory_order_relaxed))
            pthread_exit(NULL);
        x = x * 1103515245u + 12345u;
        size_t n = sizes[(x >> 16) % NSIZES];
        char *p = ALLOC(n);
        if (p) {
            p[0] = p[n - 1] = 1;
            FREE(p);
        }
    }
    return NULL;
}

/* One run: threads in flight, then exit() after a delay of 0 to ~3 ms. */
static int child(unsigned seed)
{
    atexit(finalize);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_t t;
        if (pthread_create(&t, &a, worker, (void *)(uintptr_t)(seed * THREADS + i)) != 0)
            break;
    }
    struct timespec d = { 0, (long)(seed * 7919u % 3000u) * 1000L };
    nanosleep(&d, NULL);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--child"))
        return child((unsigned)strtoul(argv[2], NULL, 10));
    unsigned runs = argc < 2 ? DEFAULT_RUNS : !strcmp(argv[1], "--quick") ? 20 : (unsigned)strtoul(argv[1], NULL, 10);
    unsigned bad = 0;
    for (unsigned r = 0; r < runs; r++) {
        char seed[16];
        snprintf(seed, sizeof seed, "%u", r);
        char *args[] = { argv[0], "--child", seed, NULL };
        /* Odd runs: purges due after 1 ms, so purgers start and leave
         * throughout the run and at its exit. One run in four writes the
         * counters at exit, summing those of threads still running. */
        if (r % 2)
            setenv("HAKMEM_MADVISE_DELAY", "1", 1);
        else
            unsetenv("HAKMEM_MADVISE_DELAY");
        if (r % 4 >= 2)
            setenv("HAKMEM_STATS_FILE", "/dev/null", 1);
        else
            unsetenv("HAKMEM_STATS_FILE");
        pid_t pid;
        /* This program by the path it was run by (under valgrind,
         * /proc/self/exe is valgrind's), else by /proc/self/exe. */
        if (posix_spawn(&pid, strchr(argv[0], '/') ? argv[0] : "/proc/self/exe", NULL, NULL, args, environ) != 0) {
            fprintf(stderr, "exit_race: posix_spawn: %s\n", strerror(errno));
            return 1;
        }
        int st = 0;
        time_t start = time(NULL);
        pid_t w;
        while ((w = waitpid(pid, &st, WNOHANG)) == 0 && time(NULL) - start < HANG_S)
            usleep(1000);
        if (w == 0) {
            hang_report(pid);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fprintf(stderr, "exit_race: run %u hung\n", r);
            bad++;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "exit_race: run %u: %s %d\n", r, WIFSIGNALED(st) ? "signal" : "status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            bad++;
        }
    }
    if (bad) {
        fprintf(stderr, "exit_race: %u of %u runs crashed or hung\n", bad, runs);
        return 1;
    }
    printf("ok - exit_race (%s): %u runs of %d threads exiting at exit(), none crashed\n", API_NAME, runs, THREADS);
    return 0;
}
