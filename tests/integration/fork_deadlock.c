/* fork_deadlock.c — fork against stdio and malloc locks (glibc's tst-malloc-fork-deadlock is the model): 4 threads fork, 8 threads read long lines with getline, 1 thread calls fflush(NULL), for SECONDS, ROUNDS times; a watchdog turns any hang into a failure. Usage: fork_deadlock [ROUNDS [SECONDS]] (default 20 × 5 s). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../hang.h"

enum { NFORKERS = 4, NREADERS = 8, NLINES = 64 };
/* A round that outlives its time by this much is stuck. */
#define HANG_GRACE_S 30
/* A fork child does a few milliseconds of work. */
#define CHILD_TIMEOUT_S 20

static char path[256];
static atomic_bool stop;
static atomic_ulong forks, lines_read;

/* Any failure in a round ends its process with status 1. */
#define check(cond, ...) do { \
        if (!(cond)) { \
            fprintf(stderr, "fork_deadlock: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            _exit(1); \
        } \
    } while (0)

/* Line i is (i % 26) × 12 KiB + i + 1 letters long: from a few bytes up
 * to ~300 KiB, so getline's buffer grows through every tier below huge. */
static size_t line_len(unsigned i)
{
    return (size_t)(i % 26) * 12 * 1024 + i + 1;
}

static void write_file(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/hakmem-fork-deadlock-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    check(fd >= 0, "mkstemp %s", path);
    FILE *f = fdopen(fd, "w");
    check(f != NULL, "fdopen");
    for (unsigned i = 0; i < NLINES; i++) {
        for (size_t k = 0; k < line_len(i); k++)
            fputc('a' + (int)((i + k) % 26), f);
        fputc('\n', f);
    }
    check(fclose(f) == 0, "fclose");
}

static void *reader(void *arg)
{
    while (!atomic_load(&stop)) {
        FILE *f = fopen(path, "r");
        check(f != NULL, "fopen %s", path);
        char *line = NULL; /* a fresh buffer each time: it grows again */
        size_t cap = 0;
        ssize_t n;
        unsigned i = 0;
        while ((n = getline(&line, &cap, f)) > 0) {
            check((size_t)n == line_len(i) + 1 && line[0] == 'a' + (int)(i % 26), "line %u garbled", i);
            i++;
        }
        check(i == NLINES, "read %u lines, want %d", i, NLINES);
        free(line);
        fclose(f);
        atomic_fetch_add(&lines_read, i);
    }
    return NULL;
}

static void *flusher(void *arg)
{
    while (!atomic_load(&stop))
        fflush(NULL);
    return NULL;
}

/* The child: malloc of every tier and stdio (the stream-list lock and a
 * stream of its own), then leaves without running atexit handlers. */
static void child(void)
{
    static const size_t sizes[] = { 16, 1000, 100 << 10, 1 << 20, 8 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        if (!p)
            _exit(2);
        memset(p, 1, sizes[i]);
        p = realloc(p, sizes[i] * 2);
        if (!p)
            _exit(2);
        free(p);
    }
    char *s;
    if (asprintf(&s, "child %d", (int)getpid()) < 0)
        _exit(2);
    FILE *f = fopen("/dev/null", "w");
    if (!f || fputs(s, f) < 0 || fclose(f) != 0)
        _exit(2);
    free(s);
    fflush(NULL);
    _exit(0);
}

static void *forker(void *arg)
{
    while (!atomic_load(&stop)) {
        pid_t pid = fork();
        check(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(CHILD_TIMEOUT_S);
            child();
        }
        int st;
        while (waitpid(pid, &st, 0) < 0)
            check(errno == EINTR, "waitpid: %s", strerror(errno));
        check(!(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM), "fork child %d hung", (int)pid);
        check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child %d: %s %d", (int)pid,
              WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        atomic_fetch_add(&forks, 1);
    }
    return NULL;
}

/* One round, in a process of its own: the threads run for `seconds`. */
static void round_main(unsigned seconds)
{
    pthread_t f[NFORKERS], r[NREADERS], fl;
    for (int i = 0; i < NREADERS; i++)
        check(pthread_create(&r[i], NULL, reader, NULL) == 0, "pthread_create");
    check(pthread_create(&fl, NULL, flusher, NULL) == 0, "pthread_create");
    for (int i = 0; i < NFORKERS; i++)
        check(pthread_create(&f[i], NULL, forker, NULL) == 0, "pthread_create");
    struct timespec ts = { (time_t)seconds, 0 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    atomic_store(&stop, true);
    for (int i = 0; i < NFORKERS; i++)
        pthread_join(f[i], NULL);
    pthread_join(fl, NULL);
    for (int i = 0; i < NREADERS; i++)
        pthread_join(r[i], NULL);
    printf("#   %lu forks, %lu lines read\n", atomic_load(&forks), atomic_load(&lines_read));
    fflush(stdout);
    _exit(atomic_load(&forks) > 0 && atomic_load(&lines_read) > 0 ? 0 : 1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs a round and watches it: 0 passed, 1 failed, 2 hung. */
static int run_round(unsigned seconds)
{
    fflush(stdout);
    pid_t pid = fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        setpgid(0, 0); /* its fork children too are killed if it hangs */
        round_main(seconds);
    }
    setpgid(pid, pid);
    double deadline = now_s() + seconds + HANG_GRACE_S;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        check(r == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        if (now_s() > deadline) {
            hang_report(pid);
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return 2;
        }
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    printf("#   round ended with %s %d\n", WIFSIGNALED(st) ? "signal" : "exit status",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return 1;
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 20, seconds = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
    if (rounds == 0 || seconds == 0) {
        fprintf(stderr, "usage: fork_deadlock [ROUNDS [SECONDS]]\n");
        return 2;
    }
    if (!dlsym(RTLD_DEFAULT, "hak_version"))
        printf("# hakmem is not loaded: testing the system allocator\n");
    write_file();
    unsigned hangs = 0, fails = 0;
    for (unsigned i = 0; i < rounds; i++) {
        int r = run_round(seconds);
        hangs += r == 2;
        fails += r == 1;
        printf("%s - round %u of %u (%u s)%s\n", r ? "not ok" : "ok", i + 1, rounds, seconds,
               r == 2 ? ": HUNG (killed by the watchdog)" : r == 1 ? ": failed" : "");
        fflush(stdout);
    }
    unlink(path);
    printf("# fork_deadlock: %u rounds of %u s: %u hangs, %u failures\n", rounds, seconds, hangs, fails);
    return hangs || fails;
}
