/* hang.h — before a test kills a child it found hung: the child's threads' backtraces on stderr (gdb, if installed), so that a hang seen once in hundreds of runs is diagnosed from that run's log. */
#ifndef HAK_TESTS_HANG_H
#define HAK_TESTS_HANG_H

#include <errno.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `timeout 60 gdb -p pid` and waits for it. Safe in a multi-threaded
 * test: between fork and exec only async-signal-safe calls (the arguments
 * and a fixed environment without LD_PRELOAD are built before the fork). */
static void hang_report(pid_t pid)
{
    char id[24];
    snprintf(id, sizeof id, "%d", (int)pid);
    char *argv[] = { "timeout", "60", "gdb", "-nx", "-batch", "-p", id, "-ex", "thread apply all bt", NULL };
    char *envp[] = { "PATH=/usr/bin:/bin", NULL };
    fprintf(stderr, "hang report: process %s\n", id);
    fflush(NULL);
    pid_t g = fork();
    if (g == 0) {
        dup2(2, 1);
        execve("/usr/bin/timeout", argv, envp);
        _exit(127);
    }
    int st;
    while (g > 0 && waitpid(g, &st, 0) < 0 && errno == EINTR)
        ;
}

#endif
