/* stats_fd.c — HAKMEM_STATS=1 writes its report at exit to the stderr the process started with, never into a file the program opened on fd 2 after closing stderr (SPEC §6): a child closes fd 2, opens a data file (which becomes fd 2), writes to it and exits; the file must hold only its data. A control child keeps its stderr (a file): the report must be there. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define DATA "the program's own data\n"
#define REPORT " stats (pid "

/* The child: allocates (hakmem is set up), then, with reopen, closes fd 2
 * and opens path, which takes fd 2. */
static int child(const char *path, int reopen)
{
    char *p = malloc(100);
    if (!p)
        return 3;
    free(p);
    if (reopen) {
        close(2);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd != 2)
            return 4;
        if (write(fd, DATA, strlen(DATA)) != (ssize_t)strlen(DATA))
            return 5;
    }
    return 0;
}

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

/* Runs this program as a child with stderr on err_path; its exit status. */
static int spawn(const char *self, const char *err_path, const char *data_path, const char *reopen)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *args[] = { (char *)self, "--child", (char *)data_path, (char *)reopen, NULL };
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ) != 0)
        return -1;
    posix_spawn_file_actions_destroy(&fa);
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--child"))
        return child(argv[2], argv[3][0] == '1');
    char dir[] = "/tmp/hakmem-stats-fd.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char err[64], data[64];
    snprintf(err, sizeof err, "%s/err", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    setenv("HAKMEM_STATS", "1", 1);
    int failures = 0;

    int rc = spawn(argv[0], err, data, "0");
    const char *text = slurp(err);
    if (rc != 0 || !text || !strstr(text, REPORT)) {
        fprintf(stderr, "stats_fd: control: exit %d, stderr has%s the report\n", rc, text && strstr(text, REPORT) ? "" : " not");
        failures++;
    }
    rc = spawn(argv[0], err, data, "1");
    text = slurp(data);
    if (rc != 0 || !text || strcmp(text, DATA) != 0) {
        fprintf(stderr, "stats_fd: reopened fd 2: exit %d, the data file holds %zu bytes, not only its %zu of data\n", rc,
                text ? strlen(text) : 0, strlen(DATA));
        failures++;
    }
    unlink(err);
    unlink(data);
    rmdir(dir);
    if (failures)
        return 1;
    printf("ok - stats_fd: the report goes to the stderr of start-up, never into a file opened later on fd 2\n");
    return 0;
}
