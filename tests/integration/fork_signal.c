/* fork_signal.c — fork from a signal handler that interrupts malloc and free in a single-threaded process (glibc's tst-mallocfork2 is the model): fork is async-signal-safe, so the allocator's fork handlers must not wait for a lock the interrupted code holds; neither parent nor child may hang. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

enum { NSIGNALS = 500 };
/* Hang detection only: the whole run takes a second or two. */
#define TIMEOUT_S 60

static volatile sig_atomic_t forks_done, fork_errors;
static pid_t children[NSIGNALS];

/* Only async-signal-safe calls here and in the child. */
static void on_signal(int sig)
{
    int saved = errno;
    if (forks_done < NSIGNALS) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0)
            fork_errors++;
        else
            children[forks_done++] = pid;
    }
    errno = saved;
}

/* Sizes of every tier, so the signal lands in each path. */
static const size_t sizes[] = { 16, 100, 1000, 5000, 100 << 10, 300 << 10, 1 << 20, 3 << 20 };

static void reap(void)
{
    for (int i = 0; i < forks_done; i++) {
        int st;
        while (waitpid(children[i], &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("not ok - fork child %d ended with %s %d\n", (int)children[i],
                   WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            exit(1);
        }
    }
}

int main(void)
{
    alarm(TIMEOUT_S); /* SIGALRM ends a hang as a failure */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    /* The handler is not reentrant: a signal during its fork waits. */
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGPROF, &sa, NULL) != 0) {
        perror("sigaction");
        return 1;
    }
    /* A profiling timer delivers signals at arbitrary points of malloc and
     * free; explicit raises make sure enough of them come. */
    struct itimerval it = { { 0, 200 }, { 0, 200 } };
    setitimer(ITIMER_PROF, &it, NULL);
    unsigned long ops = 0;
    void *keep[64] = { 0 };
    for (unsigned long i = 0; forks_done < NSIGNALS; i++) {
        size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])];
        unsigned k = (unsigned)(i * 2654435761u) % 64;
        free(keep[k]);
        keep[k] = malloc(n);
        if (!keep[k]) {
            printf("not ok - malloc(%zu) failed\n", n);
            return 1;
        }
        memset(keep[k], (int)i, n < 256 ? n : 256);
        ops++;
        if (i % 256 == 0)
            raise(SIGUSR1);
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);
    for (unsigned k = 0; k < 64; k++)
        free(keep[k]);
    reap();
    if (fork_errors) {
        printf("not ok - %d forks failed\n", (int)fork_errors);
        return 1;
    }
    /* The parent's allocator is fine after all those forks. */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        if (!p)
            return 1;
        free(p);
    }
    printf("ok - fork from a signal handler: %d children, %lu malloc/free interrupted at random%s\n", (int)forks_done,
           ops, dlsym(RTLD_DEFAULT, "hak_version") ? "" : " (hakmem is not loaded: the system allocator)");
    return 0;
}
