/* child.h — runs one case of a test program in a fresh process (the program
 * itself, re-executed with `--case NAME`) and collects its stdout, stderr
 * and exit status; shared by the misuse and hardening tests. */
#ifndef HAK_TEST_CHILD_H
#define HAK_TEST_CHILD_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child: a block of n bytes filled with 0x42, or exit 3. */
static char *alloc_or_die(size_t n)
{
    char *p = malloc(n);
    if (!p) {
        dprintf(2, "malloc(%zu) failed\n", n);
        _exit(3);
    }
    memset(p, 0x42, n);
    return p;
}

/* In a child that is still here after its case (warn or ignore, or no
 * misuse): the heap must work normally. Prints "survived" and returns 0,
 * or returns 3. */
static int child_survive(void)
{
    for (size_t n = 1; n <= (size_t)4 << 20; n *= 3) {
        char *p = alloc_or_die(n);
        p = realloc(p, 2 * n);
        if (!p)
            return 3;
        free(p);
    }
    dprintf(1, "survived\n");
    return 0;
}

struct child_result {
    int status;
    char out[4096];
    char err[65536];
};

/* Reads both pipes to their end (the child may fill either first). */
static void child_read_both(int fd0, char *b0, size_t cap0, int fd1, char *b1, size_t cap1)
{
    struct pollfd p[2] = { { fd0, POLLIN, 0 }, { fd1, POLLIN, 0 } };
    char *buf[2] = { b0, b1 };
    size_t cap[2] = { cap0, cap1 }, len[2] = { 0, 0 };
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char sink[4096];
            size_t room = cap[i] - 1 - len[i];
            ssize_t r = room ? read(p[i].fd, buf[i] + len[i], room) : read(p[i].fd, sink, sizeof sink);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                p[i].fd = -1;
                open_fds--;
            } else if (room) {
                len[i] += (size_t)r;
            }
        }
    }
    b0[len[0]] = '\0';
    b1[len[1]] = '\0';
}

/* Runs `/proc/self/exe --case name` (argv[0] = prog) with no core dump and
 * an alarm of timeout_s seconds (a hang ends in SIGALRM); setup(arg) runs in
 * the child first, to set the case's environment. 0, or -1 if it could not
 * start. */
static int child_run(const char *prog, const char *name, unsigned timeout_s, void (*setup)(const void *),
                     const void *arg, struct child_result *r)
{
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) {
        perror("pipe");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        setup(arg);
        alarm(timeout_s); /* survives exec */
        execl("/proc/self/exe", prog, "--case", name, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    child_read_both(out[0], r->out, sizeof r->out, err[0], r->err, sizeof r->err);
    close(out[0]);
    close(err[0]);
    while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

#endif
