/* hang.h — before a test kills a child it found hung: what every thread of the child and of the processes below it waits on, and their backtraces (tests/watch.sh --report), so that a hang seen once in hundreds of runs is diagnosed from that run's log. */
#ifndef HAK_TESTS_HANG_H
#define HAK_TESTS_HANG_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `sh $srcdir/tests/watch.sh --report pid` and waits for it (the test
 * harness exports srcdir; "." when run by hand from the source tree). Safe
 * in a multi-threaded test: between fork and exec only async-signal-safe
 * calls (the arguments and a fixed environment without LD_PRELOAD are built
 * before the fork). */
static void hang_report(pid_t pid)
{
    char id[24], script[4096];
    const char *src = getenv("srcdir");
    snprintf(id, sizeof id, "%d", (int)pid);
    snprintf(script, sizeof script, "%s/tests/watch.sh", src && *src ? src : ".");
    char *argv[] = { "sh", script, "--report", id, NULL };
    char *envp[] = { "PATH=/usr/bin:/bin", NULL };
    fprintf(stderr, "hang report: process %s and the processes below it\n", id);
    fflush(NULL);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "hang report: %s not found (run from the source tree or set srcdir)\n", script);
        return;
    }
    pid_t g = fork();
    if (g == 0) {
        dup2(2, 1);
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    int st;
    while (g > 0 && waitpid(g, &st, 0) < 0 && errno == EINTR)
        ;
}

#endif
