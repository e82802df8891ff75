/* fork_storm.c — fork in the ways real programs do (SPEC §2): many threads forking at the same instant while others allocate and free in every tier, and fork from a signal handler that interrupts malloc, free, realloc or fork itself, in a single- and a multi-threaded process; every child allocates and frees in every tier and exits with a known status, and every status is checked.
 *
 *   fork_storm [signal FORKS] [storm ROUNDS] [signal-mt FORKS] | --quick
 * With no arguments: 300 signal forks, 20 storm rounds, 300 signal-mt forks
 * (under TSan the storm only); --quick: 3 storm rounds. A child that has
 * not ended after HANG_S is killed and counted as failed. Built on the
 * standard names (run under LD_PRELOAD) and, with -DHAK_TEST_API, on the
 * hak_ API, so the sanitizer builds run it too.
 * `signal` must come first: once a process has had a second thread, glibc
 * takes a lock of its own in fork, and a fork from a signal handler that
 * interrupted a fork then deadlocks in glibc whatever the allocator. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../api.h"
#include "../hang.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define FORKERS 16
#define CHURNERS 2
#define CHILD_STATUS 50
/* Hang detection only: a child or a phase that has not finished by then
 * is reported as hung. */
#define HANG_S 60
/* Under the sanitizers the storm's children only allocate: ThreadSanitizer
 * cannot follow a thread created after a multi-threaded fork (it kills the
 * child), and AddressSanitizer's own allocator, which glibc uses for a new
 * thread's TLS, may have been locked by a thread the fork left behind (a
 * child spun forever in its quarantine lock at its thread's exit, in one CI
 * run of four). ThreadSanitizer also runs signal handlers at its own safe
 * points and reports glibc's fork itself (the child's calloc of its thread
 * vector) as signal-unsafe: under it the signal forks are left out. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#else
#define UNDER_TSAN 0
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CHILD_THREAD 0
#else
#define CHILD_THREAD 1
#endif

static int failures;

#define fail(...) do { fprintf(stderr, "fork_storm: " __VA_ARGS__); failures++; } while (0)

/* Sizes of every tier: tiny, mid, large (arena), huge. */
static const size_t tier_sizes[] = { 16, 200, 1000, 3000, 40 * KiB, 300 * KiB, 1 * MiB, 3 * MiB };
#define NTIERS (sizeof tier_sizes / sizeof tier_sizes[0])

/* Allocates, writes, checks and frees a block of each tier, a realloc across
 * tiers, and frees the inherited blocks; false on a wrong byte. Used in the
 * children, so it calls nothing but the allocator. */
static bool child_work(void **inherited, unsigned n)
{
    void *p[NTIERS];
    for (unsigned i = 0; i < NTIERS; i++) {
        p[i] = ALLOC(tier_sizes[i]);
        if (!p[i])
            return false;
        memset(p[i], (int)i + 1, tier_sizes[i]);
    }
    for (unsigned i = 0; i < NTIERS; i++) {
        if (((unsigned char *)p[i])[tier_sizes[i] - 1] != i + 1)
            return false;
        FREE(p[i]);
    }
    char *r = ALLOC(24);
    if (!r)
        return false;
    memset(r, 7, 24);
    for (size_t s = 100; s <= 2 * MiB; s *= 7) {
        char *q = REALLOC(r, s);
        if (!q || q[0] != 7 || q[23] != 7)
            return false;
        r = q;
    }
    FREE(r);
    for (unsigned i = 0; i < n; i++)
        FREE(inherited[i]);
    return true;
}

/* ---------------------------------------------------------------- storm */

static pthread_barrier_t storm_barrier;
static atomic_bool churn_stop;
static atomic_int bad_children;

/* Allocates and frees in every tier until told to stop, handing blocks
 * between two threads so that remote frees are in flight too. */
static void *churner(void *arg)
{
    (void)arg;
    void *keep[64] = { 0 };
    unsigned k = 0, x = 1;
    while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
        x = x * 1103515245u + 12345u;
        size_t n = tier_sizes[(x >> 16) % NTIERS];
        FREE(keep[k]);
        keep[k] = ALLOC(n);
        if (keep[k])
            ((char *)keep[k])[0] = 1;
        k = (k + 1) % 64;
    }
    for (unsigned i = 0; i < 64; i++)
        FREE(keep[i]);
    return NULL;
}

/* waitpid for child pid for up to HANG_S: its result, or 0 if the child
 * hung (it is then killed and reaped). */
static pid_t wait_bounded(pid_t pid, int *st)
{
    time_t start = time(NULL);
    pid_t r;
    while ((r = waitpid(pid, st, WNOHANG)) == 0 && time(NULL) - start < HANG_S)
        usleep(1000);
    if (r == 0) {
        hang_report(pid);
        kill(pid, SIGKILL);
        waitpid(pid, st, 0);
    }
    return r;
}

static void *forker(void *arg)
{
    (void)arg;
    void *mine[NTIERS];
    for (unsigned i = 0; i < NTIERS; i++)
        mine[i] = ALLOC(tier_sizes[i]);
    pthread_barrier_wait(&storm_barrier);
    pid_t pid = fork();
    if (pid == 0) {
        /* Free the blocks this thread had, use every tier, and a thread. */
        pthread_t t;
        bool ok = child_work(mine, NTIERS) && (!CHILD_THREAD || pthread_create(&t, NULL, churner, NULL) == 0);
        if (ok && CHILD_THREAD) {
            atomic_store(&churn_stop, true);
            ok = pthread_join(t, NULL) == 0 && child_work(NULL, 0);
        }
        _exit(ok ? CHILD_STATUS : 1);
    }
    if (pid < 0) {
        atomic_fetch_add(&bad_children, 1);
    } else {
        int st;
        pid_t r = wait_bounded(pid, &st);
        if (r == 0)
            fprintf(stderr, "fork_storm: storm: child %d hung; killed\n", (int)pid);
        if (r <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != CHILD_STATUS)
            atomic_fetch_add(&bad_children, 1);
    }
    for (unsigned i = 0; i < NTIERS; i++)
        FREE(mine[i]);
    return NULL;
}

static void storm(unsigned rounds)
{
    unsigned bad = 0;
    for (unsigned r = 0; r < rounds; r++) {
        pthread_t f[FORKERS], c[CHURNERS];
        atomic_store(&churn_stop, false);
        atomic_store(&bad_children, 0);
        pthread_barrier_init(&storm_barrier, NULL, FORKERS);
        for (unsigned i = 0; i < CHURNERS; i++)
            pthread_create(&c[i], NULL, churner, NULL);
        for (unsigned i = 0; i < FORKERS; i++)
            pthread_create(&f[i], NULL, forker, NULL);
        for (unsigned i = 0; i < FORKERS; i++)
            pthread_join(f[i], NULL);
        atomic_store(&churn_stop, true);
        for (unsigned i = 0; i < CHURNERS; i++)
            pthread_join(c[i], NULL);
        pthread_barrier_destroy(&storm_barrier);
        bad += (unsigned)atomic_load(&bad_children);
    }
    if (bad)
        fail("storm: %u of %u children crashed or failed\n", bad, rounds * FORKERS);
    else
        printf("ok - storm: %u rounds of %d threads forking at once, %u children exited %d\n", rounds, FORKERS,
               rounds * FORKERS, CHILD_STATUS);
}

/* --------------------------------------------------------------- signal */

#define MAX_CHILDREN 4096
static volatile sig_atomic_t nchildren, fork_errors, stop_forking;
/* Set by each pass of the main loop, taken by the handler: a fork takes
 * longer than the timer's period, and the loop must get on between. */
static volatile sig_atomic_t progress;
static pid_t children[MAX_CHILDREN];

/* The child allocates and frees in every tier from inside the handler,
 * then exits (as glibc's tst-mallocfork2 children and real handlers do). */
static void on_timer(int sig)
{
    (void)sig;
    int saved = errno;
    if (!stop_forking && progress && nchildren < MAX_CHILDREN) {
        progress = 0;
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_work(NULL, 0) ? CHILD_STATUS : 1);
        if (pid < 0)
            fork_errors++;
        else
            children[nchildren++] = pid;
    }
    errno = saved;
}

static unsigned reaped, bad_status;

/* Waits for children up to `upto` (blocking when wait is set). */
static void reap(unsigned upto, bool wait)
{
    for (; reaped < upto; reaped++) {
        int st;
        pid_t r;
        if (wait) {
            if ((r = wait_bounded(children[reaped], &st)) == 0) {
                fail("signal: child %d hung; killed\n", (int)children[reaped]);
                bad_status++;
                continue;
            }
        } else if ((r = waitpid(children[reaped], &st, WNOHANG)) == 0) {
            return;
        }
        if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != CHILD_STATUS)
            bad_status++;
    }
}

static atomic_bool other_stop;

/* The multi-threaded case: another thread allocating meanwhile (the
 * timer's signal goes to the main thread only). */
static void *other_thread(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    void *keep[32] = { 0 };
    unsigned k = 0, x = 7;
    while (!atomic_load_explicit(&other_stop, memory_order_relaxed)) {
        x = x * 1103515245u + 12345u;
        FREE(keep[k]);
        keep[k] = ALLOC(tier_sizes[(x >> 16) % NTIERS]);
        k = (k + 1) % 32;
    }
    for (unsigned i = 0; i < 32; i++)
        FREE(keep[i]);
    return NULL;
}

/* The main loop mallocs, reallocs and frees 16 B – 3 MiB while a 2 kHz
 * timer forks from its handler; in the single-threaded case the loop forks
 * too now and then, so that a signal also lands inside fork. */
static void signal_forks(unsigned forks, bool threaded)
{
    const char *name = threaded ? "signal-mt" : "signal";
    nchildren = fork_errors = stop_forking = 0;
    reaped = bad_status = 0;
    pthread_t other;
    if (threaded) {
        atomic_store(&other_stop, false);
        pthread_create(&other, NULL, other_thread, NULL);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_timer;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 500 }, { 0, 500 } };
    setitimer(ITIMER_REAL, &it, NULL);
    void *keep[16] = { 0 };
    unsigned x = 3, own_forks = 0, own_bad = 0;
    time_t start = time(NULL);
    for (unsigned i = 0; nchildren < (sig_atomic_t)forks; i++) {
        if (time(NULL) - start > HANG_S) {
            fail("%s: %d of %u forks after %d s: the handler's forks stall\n", name, (int)nchildren, forks, HANG_S);
            break;
        }
        x = x * 1103515245u + 12345u;
        size_t n = 16 + ((size_t)(x >> 8) % (3 * MiB)) / ((x >> 4) % 64 + 1);
        unsigned k = (x >> 20) % 16;
        if ((x >> 12) % 4 == 0 && keep[k]) {
            void *q = REALLOC(keep[k], n);
            if (q)
                keep[k] = q;
        } else {
            FREE(keep[k]);
            keep[k] = ALLOC(n);
        }
        if (keep[k])
            ((char *)keep[k])[0] = 1;
        progress = 1;
        if (!threaded && i % 512 == 0) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(child_work(NULL, 0) ? CHILD_STATUS : 1);
            int st;
            own_forks++;
            while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != CHILD_STATUS)
                own_bad++;
        }
        reap((unsigned)nchildren, false);
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    stop_forking = 1;
    for (unsigned i = 0; i < 16; i++)
        FREE(keep[i]);
    reap((unsigned)nchildren, true);
    if (threaded) {
        atomic_store(&other_stop, true);
        pthread_join(other, NULL);
    }
    if (bad_status || own_bad || fork_errors)
        fail("%s: %u of %d handler children and %u of %u loop children crashed, hung or failed; %d fork errors\n", name,
             bad_status, (int)nchildren, own_bad, own_forks, (int)fork_errors);
    else
        printf("ok - %s: %d forks from a 2 kHz timer's handler%s, every child exited %d\n", name, (int)nchildren,
               threaded ? " with another thread allocating" : ", and forks of the loop it interrupts", CHILD_STATUS);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && !strcmp(argv[1], "--quick")) {
        storm(3);
        return failures ? 1 : 0;
    }
    if (argc < 2) {
        if (!UNDER_TSAN)
            signal_forks(300, false);
        storm(20);
        if (!UNDER_TSAN)
            signal_forks(300, true);
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        unsigned n = (unsigned)strtoul(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "storm"))
            storm(n);
        else if (!strcmp(argv[i], "signal"))
            signal_forks(n, false);
        else if (!strcmp(argv[i], "signal-mt"))
            signal_forks(n, true);
        else {
            fprintf(stderr, "usage: fork_storm [signal FORKS] [storm ROUNDS] [signal-mt FORKS] | --quick\n");
            return 2;
        }
    }
    return failures ? 1 : 0;
}
