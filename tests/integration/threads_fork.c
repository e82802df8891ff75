/* threads_fork.c — SPEC §2 threads and fork: cross-thread frees, fork from a busy multi-threaded process (malloc, free and stdio in flight), thread exit returning memory, malloc from late TSD destructors, free-only threads. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
/* Hang detection only; every part takes well under a second. */
#define CHILD_TIMEOUT_S 30
#define TOTAL_TIMEOUT_S 300

/* Any failure, in any thread or child, ends the process with status 1. */
#define check(cond, ...) do { \
        if (!(cond)) { \
            fprintf(stderr, "threads_fork: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            _exit(1); \
        } \
    } while (0)

/* ---------------------------------------------------------------- blocks */

/* A block's bytes are a pattern keyed by (address, size, owner): a block
 * that was handed out twice, moved or overwritten fails its check. Word i
 * is a hash of the key and i; the tail takes the bytes of one more word. */
static uint64_t block_key(uintptr_t a, size_t n, unsigned owner)
{
    return a ^ ((uint64_t)n << 20) ^ ((uint64_t)owner << 52);
}

static uint64_t pat_word(uint64_t key, size_t i)
{
    uint64_t x = key + i * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 29;
    return x * 0xBF58476D1CE4E5B9ULL;
}

static void fill_pat(void *p, size_t n, uint64_t key)
{
    size_t nw = n / 8;
    for (size_t i = 0; i < nw; i++) {
        uint64_t w = pat_word(key, i);
        memcpy((char *)p + i * 8, &w, 8);
    }
    uint64_t w = pat_word(key, nw);
    memcpy((char *)p + nw * 8, &w, n % 8);
}

/* The first offset that lost the pattern, or SIZE_MAX. */
static size_t bad_pat(const void *p, size_t n, uint64_t key)
{
    size_t nw = n / 8;
    for (size_t i = 0; i < nw; i++) {
        uint64_t w = pat_word(key, i);
        if (memcmp((const char *)p + i * 8, &w, 8) != 0)
            return i * 8;
    }
    uint64_t w = pat_word(key, nw);
    return memcmp((const char *)p + nw * 8, &w, n % 8) == 0 ? SIZE_MAX : nw * 8;
}

static void *make(size_t n, unsigned owner)
{
    void *p = malloc(n);
    check(p != NULL, "malloc(%zu)", n);
    fill_pat(p, n, block_key((uintptr_t)p, n, owner));
    return p;
}

static void verify_and_free(void *p, size_t n, unsigned owner)
{
    size_t at = bad_pat(p, n, block_key((uintptr_t)p, n, owner));
    check(at == SIZE_MAX, "block %p (%zu bytes, owner %u) corrupt at offset %zu", p, n, owner, at);
    free(p);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Mostly tiny, some mid, rarely huge. */
static size_t mixed_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    if (r % 1000 == 0)
        return 300 * KiB + (size_t)(r >> 20) % (3 * MiB);
    if (r % 16 == 0)
        return 1 + (size_t)(r >> 16) % (256 * KiB);
    return 1 + (size_t)(r >> 16) % 1024;
}

/* Resident bytes once the allocator has given back what it merely caches
 * (hakmem keeps freed large blocks for a delay; the checks here are about
 * leaks, not about that retention). */
static size_t rss_bytes(void)
{
    malloc_trim(0);
    FILE *f = fopen("/proc/self/statm", "r");
    check(f != NULL, "/proc/self/statm: %s", strerror(errno));
    unsigned long size, resident;
    check(fscanf(f, "%lu %lu", &size, &resident) == 2, "statm unreadable");
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---------------------------------------------------------------- exchange */

/* Workers swap blocks through shared slots: a block made by one thread is
 * usually verified and freed by another. */
#define NSLOTS 128
static struct slot {
    pthread_mutex_t lock;
    void *p;
    size_t n;
    unsigned owner;
} slots[NSLOTS];

static atomic_bool stop_workers;
static atomic_ulong worker_ops;

static void *worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    uint64_t rng = 0x1234567ULL * (me + 1);
    while (!atomic_load(&stop_workers)) {
        size_t n = mixed_size(&rng);
        void *p = make(n, me);
        struct slot *s = &slots[rng_next(&rng) % NSLOTS];
        pthread_mutex_lock(&s->lock);
        void *old = s->p;
        size_t on = s->n;
        unsigned oo = s->owner;
        s->p = p;
        s->n = n;
        s->owner = me;
        pthread_mutex_unlock(&s->lock);
        if (old)
            verify_and_free(old, on, oo);
        /* Some local traffic too: alloc and free on the same thread. */
        size_t qn = 1 + (size_t)rng_next(&rng) % 512;
        verify_and_free(make(qn, me), qn, me);
        atomic_fetch_add(&worker_ops, 1);
    }
    return NULL;
}

static void drain_slots(void)
{
    for (int i = 0; i < NSLOTS; i++) {
        if (slots[i].p)
            verify_and_free(slots[i].p, slots[i].n, slots[i].owner);
        slots[i].p = NULL;
    }
}

/* ---------------------------------------------------------------- stdio */

/* Threads that keep stdio locks busy while the main thread forks: a line
 * writer and a getline reader on a pipe, and one that formats into
 * malloc'ed strings and flushes every stream. */
static atomic_bool stop_writer, stop_flusher;

/* Both ends are opened before the threads start: fdopen takes the
 * stream-list lock, which fflush(NULL) holds while it waits for the
 * reader's stream, which waits for the writer's next line. */
static void *line_writer(void *arg)
{
    FILE *w = arg;
    for (unsigned long i = 0; !atomic_load(&stop_writer); i++) {
        fprintf(w, "line %lu %0*lu\n", i, (int)(i % 300), i);
    }
    fclose(w);
    return NULL;
}

static void *line_reader(void *arg)
{
    FILE *r = arg;
    char *line = NULL;
    size_t cap = 0;
    unsigned long expect = 0;
    while (getline(&line, &cap, r) > 0) {
        unsigned long got;
        check(sscanf(line, "line %lu", &got) == 1 && got == expect, "pipe line %lu garbled: %.40s", expect, line);
        expect++;
    }
    free(line);
    fclose(r);
    return NULL;
}

static void *flusher(void *arg)
{
    FILE *f = fopen("/dev/null", "w");
    check(f != NULL, "/dev/null");
    for (unsigned long i = 0; !atomic_load(&stop_flusher); i++) {
        char *s;
        check(asprintf(&s, "%lu %*s", i, (int)(i % 2000), "x") > 0, "asprintf");
        fputs(s, f);
        free(s);
        /* fflush(NULL) holds the stream-list lock, which fork() needs, for
         * as long as getline holds the reader's stream: not every time. */
        if (i % 64 == 0)
            fflush(NULL);
        else
            fflush(f);
    }
    fclose(f);
    return NULL;
}

/* ---------------------------------------------------------------- fork child */

static const size_t tier_sizes[] = { 1, 16, 100, 1000, 1024, 1025, 4096, 65536, 256 * KiB,
                                     256 * KiB + 1, 1 * MiB, 2 * MiB + 1, 8 * MiB };
#define NSIZES (sizeof tier_sizes / sizeof tier_sizes[0])

static void *child_thread(void *arg)
{
    uint64_t rng = (uintptr_t)arg + 77;
    for (int i = 0; i < 500; i++) {
        size_t n = mixed_size(&rng);
        verify_and_free(make(n, 9), n, 9);
    }
    return NULL;
}

/* Everything a fork child of a busy process may need: every tier, realloc,
 * stdio (including the streams other threads held), threads of its own. */
static void child_work(unsigned id)
{
    void *keep[NSIZES];
    for (size_t i = 0; i < NSIZES; i++)
        keep[i] = make(tier_sizes[i], id);
    for (int r = 0; r < 200; r++) {
        uint64_t rng = id * 1000 + (unsigned)r + 1;
        size_t n = mixed_size(&rng);
        verify_and_free(make(n, id), n, id);
    }
    /* realloc moves the block: its first 100 bytes carry an
     * address-independent pattern. */
    char *p = malloc(100);
    check(p != NULL, "malloc");
    fill_pat(p, 100, id);
    for (size_t i = 0; i < NSIZES; i++) {
        p = realloc(p, tier_sizes[i] + 100);
        check(p != NULL, "realloc(%zu)", tier_sizes[i] + 100);
        check(bad_pat(p, 100, id) == SIZE_MAX, "realloc to %zu lost the contents", tier_sizes[i] + 100);
    }
    free(p);
    for (size_t i = 0; i < NSIZES; i++)
        verify_and_free(keep[i], tier_sizes[i], id);

    fflush(NULL);
    FILE *f = fopen("/dev/null", "w");
    check(f != NULL, "fopen in child");
    fprintf(f, "child %u %s\n", id, "ok");
    fclose(f);
    int pp[2];
    check(pipe(pp) == 0, "pipe in child");
    check(write(pp[1], "hello child\n", 12) == 12, "write");
    close(pp[1]);
    FILE *r = fdopen(pp[0], "r");
    check(r != NULL, "fdopen in child");
    char *line = NULL;
    size_t cap = 0;
    check(getline(&line, &cap, r) == 12 && strcmp(line, "hello child\n") == 0, "getline in child");
    free(line);
    fclose(r);

    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        check(pthread_create(&t[i], NULL, child_thread, (void *)i) == 0, "pthread_create in child");
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

static pid_t fork_child(unsigned id)
{
    fflush(stdout);
    pid_t pid = fork();
    check(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(CHILD_TIMEOUT_S);
        child_work(id);
        exit(0); /* the full exit path: atexit, stdio, the allocator's destructor */
    }
    return pid;
}

static void expect_child_ok(pid_t pid, unsigned id)
{
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    check(r == pid, "waitpid");
    check(!(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM), "fork child %u hung (deadlock after fork?)", id);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child %u: %s %d", id,
          WIFSIGNALED(st) ? "killed by signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

enum { NWORKERS = 3, NFORKS = 16 };

static void test_fork_busy(void)
{
    pthread_t w[NWORKERS], sw, sr, sf;
    for (int i = 0; i < NSLOTS; i++)
        pthread_mutex_init(&slots[i].lock, NULL);
    int line_pipe[2];
    check(pipe(line_pipe) == 0, "pipe");
    FILE *lw = fdopen(line_pipe[1], "w"), *lr = fdopen(line_pipe[0], "r");
    check(lw != NULL && lr != NULL, "fdopen");
    /* Unbuffered: a fork child's exit() must not flush a copy of pending
     * lines into the pipe a second time. */
    setvbuf(lw, NULL, _IONBF, 0);
    for (uintptr_t i = 0; i < NWORKERS; i++)
        check(pthread_create(&w[i], NULL, worker, (void *)i) == 0, "pthread_create");
    check(pthread_create(&sw, NULL, line_writer, lw) == 0, "pthread_create");
    check(pthread_create(&sr, NULL, line_reader, lr) == 0, "pthread_create");
    check(pthread_create(&sf, NULL, flusher, NULL) == 0, "pthread_create");

    for (unsigned k = 0; k < NFORKS; k++) {
        /* Forks land at arbitrary points of the workers' malloc and free. */
        unsigned long before = atomic_load(&worker_ops);
        while (atomic_load(&worker_ops) < before + 50)
            sched_yield();
        pid_t pid = fork_child(k + 100);
        /* Two at a time, so children also run beside the busy parent. */
        if (k % 2 == 0) {
            pid_t pid2 = fork_child(k + 1000);
            expect_child_ok(pid2, k + 1000);
        }
        expect_child_ok(pid, k + 100);
    }

    atomic_store(&stop_workers, true);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(w[i], NULL);
    /* The flusher first: the writer's fclose needs the stream-list lock. */
    atomic_store(&stop_flusher, true);
    pthread_join(sf, NULL);
    atomic_store(&stop_writer, true);
    pthread_join(sw, NULL);
    pthread_join(sr, NULL);
    drain_slots();
    printf("ok - fork from a busy process: %u children, %lu worker operations\n", NFORKS * 3 / 2,
           atomic_load(&worker_ops));
}

/* ---------------------------------------------------------------- thread churn */

static void *short_thread(void *arg)
{
    enum { N = 400 };
    void *b[N];
    size_t n[N];
    uint64_t rng = (uintptr_t)arg * 2654435761u + 1;
    for (int i = 0; i < N; i++) {
        /* Tiny and a few mid blocks: what a thread keeps in its caches. */
        n[i] = i % 50 == 0 ? 16 * KiB + (size_t)rng_next(&rng) % (48 * KiB) : 1 + (size_t)rng_next(&rng) % 1024;
        b[i] = make(n[i], 5);
    }
    for (int i = 0; i < N; i++)
        verify_and_free(b[i], n[i], 5);
    return NULL;
}

static void test_thread_churn(void)
{
    enum { WARMUP = 200, TOTAL = 2000 };
    size_t rss0 = 0;
    for (uintptr_t i = 0; i < TOTAL; i++) {
        if (i == WARMUP)
            rss0 = rss_bytes();
        pthread_t t;
        check(pthread_create(&t, NULL, short_thread, (void *)i) == 0, "pthread_create");
        pthread_join(t, NULL);
    }
    size_t rss1 = rss_bytes();
    /* Each thread touches ~300 KiB: 1800 threads that kept their caches
     * would add about 500 MiB. */
    size_t bound = rss0 + rss0 / 5 + 16 * MiB;
    check(rss1 <= bound, "RSS grew from %zu KiB after warm-up to %zu KiB after %d threads (bound %zu KiB)",
          rss0 / KiB, rss1 / KiB, TOTAL, bound / KiB);
    printf("ok - thread churn: %d threads, RSS %zu KiB after warm-up, %zu KiB at the end\n", TOTAL, rss0 / KiB,
           rss1 / KiB);
}

/* ---------------------------------------------------------------- TSD destructor */

static pthread_key_t late_key;
static atomic_int late_ran;

/* Runs after hakmem's own thread-exit destructor (its key is older). */
static void late_destructor(void *v)
{
    verify_and_free(v, 300, 7);
    uint64_t rng = (uintptr_t)v;
    void *b[64];
    size_t n[64];
    for (int i = 0; i < 64; i++) {
        n[i] = i == 63 ? 3 * MiB : mixed_size(&rng);
        b[i] = make(n[i], 7);
    }
    for (int i = 0; i < 64; i++)
        verify_and_free(b[i], n[i], 7);
    atomic_fetch_add(&late_ran, 1);
}

static void *tsd_thread(void *arg)
{
    uint64_t rng = (uintptr_t)arg + 3;
    for (int i = 0; i < 100; i++) {
        size_t n = mixed_size(&rng);
        verify_and_free(make(n, 7), n, 7);
    }
    check(pthread_setspecific(late_key, make(300, 7)) == 0, "pthread_setspecific");
    return NULL;
}

static void test_tsd_destructor(void)
{
    enum { N = 200 };
    /* The first malloc has happened long ago, so this key is newer than
     * hakmem's and its destructor runs later. */
    check(pthread_key_create(&late_key, late_destructor) == 0, "pthread_key_create");
    size_t rss0 = rss_bytes();
    for (uintptr_t i = 0; i < N; i++) {
        pthread_t t;
        check(pthread_create(&t, NULL, tsd_thread, (void *)i) == 0, "pthread_create");
        pthread_join(t, NULL);
    }
    check(atomic_load(&late_ran) == N, "late destructor ran %d times, want %d", atomic_load(&late_ran), N);
    /* The heaps those destructors set up went back too. */
    size_t rss1 = rss_bytes();
    check(rss1 <= rss0 + rss0 / 5 + 16 * MiB, "RSS grew from %zu KiB to %zu KiB", rss0 / KiB, rss1 / KiB);
    pthread_key_delete(late_key);
    printf("ok - malloc and free in a TSD destructor after the allocator's: %d threads\n", N);
}

/* ---------------------------------------------------------------- free-only threads */

struct batch {
    void **p;
    size_t *n;
    int count;
    unsigned owner;
};

static void *free_only(void *arg)
{
    struct batch *b = arg;
    for (int i = 0; i < b->count; i++)
        verify_and_free(b->p[i], b->n[i], b->owner);
    return NULL;
}

static void *alloc_batch(void *arg)
{
    struct batch *b = arg;
    uint64_t rng = b->owner * 7919u + 1;
    for (int i = 0; i < b->count; i++) {
        b->n[i] = mixed_size(&rng);
        b->p[i] = make(b->n[i], b->owner);
    }
    return NULL;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Blocks of the main thread, and blocks of a thread that has exited, are
 * freed by threads that never allocate; afterwards the heap hands out each
 * block once and keeps contents. */
static void test_free_only_threads(void)
{
    enum { N = 5000, ROUNDS = 6 };
    static void *p[N];
    static size_t n[N];
    struct batch b = { p, n, N, 0 };
    for (unsigned r = 0; r < ROUNDS; r++) {
        b.owner = 20 + r;
        pthread_t t;
        if (r % 2 == 0) {
            alloc_batch(&b);
        } else {
            /* The allocating thread is gone before the frees. */
            check(pthread_create(&t, NULL, alloc_batch, &b) == 0, "pthread_create");
            pthread_join(t, NULL);
        }
        check(pthread_create(&t, NULL, free_only, &b) == 0, "pthread_create");
        pthread_join(t, NULL);
    }
    b.owner = 99;
    alloc_batch(&b);
    static void *sorted[N];
    memcpy(sorted, p, sizeof sorted);
    qsort(sorted, N, sizeof sorted[0], cmp_ptr);
    for (int i = 1; i < N; i++)
        check(sorted[i] != sorted[i - 1], "block %p handed out twice", sorted[i]);
    free_only(&b);
    printf("ok - free-only threads: %d rounds of %d blocks\n", ROUNDS, N);
}

int main(void)
{
    alarm(TOTAL_TIMEOUT_S);
    setvbuf(stdout, NULL, _IOLBF, 0);
    free(malloc(1)); /* the allocator is set up before any key of ours */
    test_tsd_destructor();
    test_free_only_threads();
    test_thread_churn();
    test_fork_busy();
    return 0;
}
