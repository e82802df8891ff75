/* fork_startup.c — a fork while other threads run hakmem's start-up (their first allocation): the child, where those threads are gone, must not wait for a start-up nobody finishes. Start-up runs once per process, so each trial is a fresh process (this program runs itself with --trial); the window is widest in the sanitizer builds, where the ASan build hung in 10 of 50 trials (so in some of 20 nearly always) before fork_prepare held start-up off. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hakmem.h"
#include <pthread.h>
#include <spawn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TRIALS = 20, TIMEOUT_S = 10, CONFIG_LINES = 900 };

extern char **environ;

static atomic_bool starting, started;

/* The process's first allocation, announced before and after. */
static void *starter(void *arg)
{
    (void)arg;
    atomic_store(&starting, true);
    hak_free(hak_malloc(16));
    atomic_store(&started, true);
    return NULL;
}

/* Forks again and again while the other thread starts the library (at
 * most FORKS times); each child allocates. A child that waits for ever is
 * killed by its alarm (SIGALRM). */
enum { FORKS = 64, STARTERS = 4 };
static int trial(void)
{
    pthread_t t[STARTERS];
    pid_t pid[FORKS];
    int n = 0, failed = 0;
    for (int i = 0; i < STARTERS; i++)
        if (pthread_create(&t[i], NULL, starter, NULL) != 0) {
            fprintf(stderr, "fork_startup: pthread_create failed\n");
            return 1;
        }
    while (!atomic_load(&starting))
        ;
    do {
        if ((pid[n] = fork()) == 0) {
            alarm(TIMEOUT_S);
            void *p = hak_malloc(32);
            hak_free(p);
            _exit(p ? 0 : 1);
        }
        if (pid[n] < 0) {
            fprintf(stderr, "fork_startup: fork failed\n");
            failed = 1;
            break;
        }
        n++;
    } while (n < FORKS && !atomic_load(&started));
    for (int i = 0; i < STARTERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < n; i++) {
        int st;
        if (waitpid(pid[i], &st, 0) != pid[i]) {
            fprintf(stderr, "fork_startup: waitpid failed\n");
            failed = 1;
        } else if (WIFSIGNALED(st)) {
            fprintf(stderr, "fork_startup: a child was killed by signal %d (%s)\n", WTERMSIG(st),
                    WTERMSIG(st) == SIGALRM ? "it hung" : "it crashed");
            failed = 1;
        } else if (WEXITSTATUS(st) != 0) {
            failed = 1;
        }
    }
    return failed;
}

/* A configuration file of comments only, under the 64 KiB one may hold:
 * reading it makes start-up longer, so more forks land inside it. */
static int long_config(char *path)
{
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return -1;
    for (int i = 0; i < CONFIG_LINES; i++)
        fprintf(f, "; line %d of a long comment that makes start-up read for a while\n", i);
    return fclose(f);
}

int main(int argc, char **argv)
{
    int trials = TRIALS;
    if (argc > 1 && strcmp(argv[1], "--trial") == 0)
        return trial();
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        trials = TRIALS / 4;
    } else if (argc > 1) {
        fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
        return 2;
    }
    char conf[] = "/tmp/fork_startup.XXXXXX";
    if (long_config(conf) != 0 || setenv("HAKMEM_CONFIG", conf, 1) != 0) {
        fprintf(stderr, "fork_startup: cannot write %s\n", conf);
        return 1;
    }
    char *args[] = { argv[0], "--trial", NULL };
    int failed = 0, i;
    for (i = 0; i < trials; i++) {
        pid_t pid;
        int st;
        if (posix_spawn(&pid, argv[0], NULL, NULL, args, environ) != 0 || waitpid(pid, &st, 0) != pid) {
            fprintf(stderr, "fork_startup: cannot run a trial\n");
            failed = -1;
            break;
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    unlink(conf);
    if (failed < 0)
        return 1;
    printf("%s - fork during another thread's start-up: %d of %d trials failed\n", failed ? "not ok" : "ok", failed,
           trials);
    return failed != 0;
}
