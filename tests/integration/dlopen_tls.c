/* dlopen_tls.c — start-up edge: libraries dlopen'ed at run time whose thread-local data uses the general-dynamic model; the dynamic loader allocates the TLS blocks and grows every thread's DTV (first allocated by its own minimal malloc, before hakmem took over) through malloc and realloc, and frees them at thread exit and dlclose. 24 copies of tlsmod (more than the DTV's spare slots), 8 threads, 3 rounds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { NMODS = 24, NTHREADS = 8, ROUNDS = 3 };

static char paths[NMODS][PATH_MAX];
static void *handles[NMODS];
static unsigned long (*touch[NMODS])(unsigned long);

#define check(cond, ...) do { \
        if (!(cond)) { \
            fprintf(stderr, "dlopen_tls: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            exit(1); \
        } \
    } while (0)

/* libtool puts the module in .libs next to this program. */
static void module_path(char *out, size_t cap)
{
    char exe[PATH_MAX - 32]; /* room for the suffix in out */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    check(n > 0, "readlink /proc/self/exe");
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(out, cap, "%s/.libs/libtlsmod.so", exe);
}

/* Each copy is a module of its own for the loader (a new TLS module id). */
static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    check(in >= 0 && out >= 0, "%s -> %s: %s", from, to, strerror(errno));
    char buf[65536];
    ssize_t r;
    while ((r = read(in, buf, sizeof buf)) > 0)
        check(write(out, buf, (size_t)r) == r, "write %s", to);
    close(in);
    close(out);
}

static void *thread_main(void *arg)
{
    unsigned long id = (unsigned long)arg;
    for (int k = 0; k < 3; k++)
        for (int m = 0; m < NMODS; m++) {
            unsigned long c = touch[m](id * 31 + (unsigned long)m);
            check(c == (unsigned long)k + 1, "thread %lu module %d call %d: %lu", id, m, k, c);
            /* The heap works between the loader's allocations. */
            free(malloc(100 + (size_t)m * 1000));
        }
    return NULL;
}

/* Usage: dlopen_tls [path of libtlsmod.so] */
int main(int argc, char **argv)
{
    char mod[PATH_MAX], tdir[PATH_MAX - 32]; /* room for the file names in paths */
    const char *tmp = getenv("TMPDIR");
    snprintf(tdir, sizeof tdir, "%s/hakmem-dlopen-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    check(mkdtemp(tdir) != NULL, "mkdtemp: %s", strerror(errno));
    if (argc > 1)
        snprintf(mod, sizeof mod, "%s", argv[1]);
    else
        module_path(mod, sizeof mod);
    for (int m = 0; m < NMODS; m++) {
        snprintf(paths[m], sizeof paths[m], "%s/tlsmod%d.so", tdir, m);
        copy_file(mod, paths[m]);
    }
    for (int round = 0; round < ROUNDS; round++) {
        for (int m = 0; m < NMODS; m++) {
            handles[m] = dlopen(paths[m], RTLD_NOW | RTLD_LOCAL);
            check(handles[m] != NULL, "dlopen %s: %s", paths[m], dlerror());
            *(void **)&touch[m] = dlsym(handles[m], "tlsmod_touch");
            check(touch[m] != NULL, "dlsym: %s", dlerror());
            /* The main thread's DTV grows as each module comes. */
            check(touch[m](1000 + (unsigned long)m) == 1, "main thread, module %d", m);
        }
        pthread_t t[NTHREADS];
        for (unsigned long i = 0; i < NTHREADS; i++)
            check(pthread_create(&t[i], NULL, thread_main, (void *)i) == 0, "pthread_create");
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(t[i], NULL);
        for (int m = 0; m < NMODS; m++)
            check(dlclose(handles[m]) == 0, "dlclose: %s", dlerror());
    }
    for (int m = 0; m < NMODS; m++)
        unlink(paths[m]);
    rmdir(tdir);
    printf("ok - %d rounds: %d dlopen'ed modules with dynamic TLS, %d threads each%s\n", ROUNDS, NMODS, NTHREADS,
           dlsym(RTLD_DEFAULT, "hak_version") ? "" : " (hakmem is not loaded: the system allocator)");
    return 0;
}
