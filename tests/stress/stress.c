/* stress.c — threads pass blocks of every tier to each other, verifying contents on free; built on the standard names (for LD_PRELOAD) and, with -DHAK_TEST_API, on the hak_ API (for sanitizer builds). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../api.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
/* Hang detection only. */
#define TIMEOUT_S 120

enum { NTHREADS = 8, NSLOTS = 2048, NLOCAL = 64 };

/* ThreadSanitizer makes a run ~20 times slower: a smaller default keeps
 * it to seconds. */
#if defined(__SANITIZE_THREAD__)
static int rounds = 8;
static int ops_per_round = 1500;
#else
static int rounds = 20;
static int ops_per_round = 6000;
#endif

/* Any mismatch ends the process at once, from whichever thread sees it. */
#define fail(...) do { \
        fprintf(stderr, "stress: " __VA_ARGS__); \
        fputc('\n', stderr); \
        _exit(1); \
    } while (0)

/* ---------------------------------------------------------------- patterns */

/* The pattern of a block is keyed by its address, size and owner (thread
 * and round): a block handed out twice, overwritten, or moved without its
 * contents fails. Blocks up to 64 KiB are filled whole; larger ones at
 * their first and last KiB and at one word every 256 bytes. */
#define FULL_LIMIT (64 * KiB)
#define SPARSE_STEP 256

static uint64_t key_of(const void *p, size_t n, uint32_t owner)
{
    return (uintptr_t)p ^ ((uint64_t)n << 17) ^ ((uint64_t)owner << 47);
}

static inline uint64_t pat_word(uint64_t key, size_t i)
{
    uint64_t x = key + (i + 1) * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 31;
    return x * 0xD6E8FEB86659FD93ULL;
}

/* Applies op to each pattern word offset of an n-byte block (whole words
 * only; the tail bytes are handled by the callers). */
#define FOR_EACH_WORD(n, i, body) do { \
        size_t nw_ = (n) / 8; \
        if ((n) <= FULL_LIMIT) { \
            for (size_t i = 0; i < nw_; i++) body; \
        } else { \
            for (size_t i = 0; i < 128; i++) body; \
            for (size_t i = 128; i < nw_ - 128; i += SPARSE_STEP / 8) body; \
            for (size_t i = nw_ - 128; i < nw_; i++) body; \
        } \
    } while (0)

static void fill(void *p, size_t n, uint64_t key)
{
    uint64_t *w = p;
    FOR_EACH_WORD(n, i, w[i] = pat_word(key, i));
    uint64_t last = pat_word(key, n / 8);
    memcpy((char *)p + n / 8 * 8, &last, n % 8);
}

/* The first offset (within the first `upto` bytes) that lost its pattern,
 * or SIZE_MAX. `n` is the size the pattern was written for. */
static size_t mismatch(const void *p, size_t n, size_t upto, uint64_t key)
{
    const uint64_t *w = p;
    size_t bad = SIZE_MAX;
    FOR_EACH_WORD(n, i, if ((i + 1) * 8 <= upto && w[i] != pat_word(key, i) && bad == SIZE_MAX) bad = i * 8);
    if (bad != SIZE_MAX)
        return bad;
    size_t tail = n / 8 * 8;
    if (upto > tail) {
        uint64_t last = pat_word(key, n / 8);
        if (memcmp((const char *)p + tail, &last, upto - tail) != 0)
            return tail;
    }
    return SIZE_MAX;
}

/* ---------------------------------------------------------------- blocks */

struct block {
    void *p;
    size_t n;
    uint32_t owner; /* round << 8 | thread */
};

static struct slot {
    pthread_mutex_t lock;
    struct block b;
} slots[NSLOTS];

static atomic_ulong total_ops, total_remote;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ULL);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Tiny (1–1024 B) most of the time, mid (1–256 KiB, log-uniform) rarer,
 * huge (256 KiB–4 MiB) rare. */
static size_t pick_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    unsigned kind = (unsigned)(r % 1000);
    r >>= 10;
    if (kind < 2)
        return 256 * KiB + 1 + (size_t)(r % (4 * MiB - 256 * KiB));
    if (kind < 40) {
        unsigned shift = 10 + (unsigned)(r % 8); /* 1 KiB … 128 KiB */
        return ((size_t)1 << shift) + 1 + (size_t)((r >> 3) % ((size_t)1 << shift));
    }
    return 1 + (size_t)(r % 1024);
}

static void check_block(const struct block *b, const char *when)
{
    size_t at = mismatch(b->p, b->n, b->n, key_of(b->p, b->n, b->owner));
    if (at != SIZE_MAX)
        fail("%s: block %p of %zu bytes from thread %u of round %u: wrong content at offset %zu", when, b->p, b->n,
             b->owner & 0xff, b->owner >> 8, at);
}

static void release(struct block *b, const char *when)
{
    check_block(b, when);
    FREE(b->p);
    b->p = NULL;
}

/* A new block by malloc or calloc (zero checked), patterned for owner. */
static void make(struct block *b, size_t n, uint32_t owner, bool zeroed)
{
    void *p = zeroed ? CALLOC(1, n) : ALLOC(n);
    if (!p)
        fail("%s(%zu) failed", zeroed ? "calloc" : "malloc", n);
    if ((uintptr_t)p % (n >= 16 ? 16 : 1) != 0)
        fail("block %p of %zu bytes is not 16-byte aligned", p, n);
    if (zeroed) {
        const unsigned char *c = p;
        size_t upto = n <= FULL_LIMIT ? n : 4 * KiB;
        for (size_t i = 0; i < upto; i++)
            if (c[i] != 0)
                fail("calloc(%zu) = %p: byte %zu is 0x%02x", n, p, i, c[i]);
    }
    b->p = p;
    b->n = n;
    b->owner = owner;
    fill(p, n, key_of(p, n, owner));
}

/* realloc keeps the common prefix; the block is then repatterned. */
static void resize(struct block *b, size_t n, uint32_t owner)
{
    check_block(b, "before realloc");
    uint64_t old_key = key_of(b->p, b->n, b->owner);
    size_t old_n = b->n;
    void *q = REALLOC(b->p, n);
    if (!q)
        fail("realloc(%p, %zu) failed", b->p, n);
    size_t keep = old_n < n ? old_n : n;
    size_t at = mismatch(q, old_n, keep, old_key);
    if (at != SIZE_MAX)
        fail("realloc %zu → %zu bytes (%p → %p): content lost at offset %zu", old_n, n, b->p, q, at);
    b->p = q;
    b->n = n;
    b->owner = owner;
    fill(q, n, key_of(q, n, owner));
}

/* ---------------------------------------------------------------- threads */

struct worker_arg {
    unsigned id;
    unsigned round;
};

static void *worker(void *v)
{
    struct worker_arg *a = v;
    uint32_t me = a->round << 8 | a->id;
    /* Deterministic per thread and round. */
    uint64_t rng = ((uint64_t)a->round + 1) * 0x2545F4914F6CDD1DULL ^ ((uint64_t)a->id + 1) * 0x9E3779B97F4A7C15ULL;
    struct block local[NLOCAL] = { { 0 } };
    unsigned long remote = 0;
    for (int op = 0; op < ops_per_round; op++) {
        uint64_t r = rng_next(&rng);
        size_t n = pick_size(&rng);
        /* Now and then, cached memory goes back to the OS under everyone. */
        if (r % 2048 == 0)
            TRIM();
        switch (r % 8) {
        case 0: { /* own block: alloc, or free, or realloc */
            struct block *b = &local[(r >> 8) % NLOCAL];
            if (!b->p)
                make(b, n, me, (r >> 20) % 4 == 0);
            else if ((r >> 20) % 2)
                release(b, "local free");
            else
                resize(b, n, me);
            break;
        }
        default: { /* swap through a shared slot: the old block is usually another thread's */
            struct block nb;
            make(&nb, n, me, (r >> 20) % 8 == 0);
            if ((r >> 24) % 64 == 0 && USABLE(nb.p) < n)
                fail("usable size %zu of a %zu-byte block", (size_t)USABLE(nb.p), n);
            struct slot *s = &slots[(r >> 32) % NSLOTS];
            pthread_mutex_lock(&s->lock);
            struct block old = s->b;
            s->b = nb;
            pthread_mutex_unlock(&s->lock);
            if (old.p) {
                remote += (old.owner & 0xff) != a->id || (old.owner >> 8) != a->round;
                if ((r >> 40) % 4 == 0) {
                    /* Grown or shrunk by this thread before it goes. */
                    resize(&old, pick_size(&rng), me);
                }
                release(&old, "shared free");
            }
            break;
        }
        }
    }
    for (int i = 0; i < NLOCAL; i++)
        if (local[i].p)
            release(&local[i], "thread end");
    atomic_fetch_add(&total_ops, (unsigned long)ops_per_round);
    atomic_fetch_add(&total_remote, remote);
    return NULL;
}

/* Forks while the workers run (so their heaps are mid-update in the
 * child, which must never read them): the child allocates and frees in
 * every tier and exits 0. Under TSan this puts fork's handlers in view. */
static void fork_during_round(void)
{
    static const size_t sizes[] = { 16, 700, 20 * KiB, 300 * KiB, 3 * MiB };
    pid_t pid = fork();
    if (pid == 0) {
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char *p = ALLOC(sizes[i]);
            if (!p)
                _exit(1);
            memset(p, 1, sizes[i]);
            FREE(p);
        }
        _exit(0);
    }
    if (pid < 0)
        fail("fork failed");
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail("waitpid failed");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("a child forked during a round crashed or failed");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            rounds = 4;
            ops_per_round = 3000;
        } else {
            fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }
    alarm(TIMEOUT_S);
    for (int i = 0; i < NSLOTS; i++)
        pthread_mutex_init(&slots[i].lock, NULL);
    /* Threads are created anew every round; the slots keep blocks of the
     * threads of earlier rounds, which have exited by then. */
    for (int round = 0; round < rounds; round++) {
        pthread_t t[NTHREADS];
        struct worker_arg args[NTHREADS];
        for (unsigned i = 0; i < NTHREADS; i++) {
            args[i] = (struct worker_arg){ i, (unsigned)round };
            if (pthread_create(&t[i], NULL, worker, &args[i]) != 0)
                fail("pthread_create failed");
        }
        fork_during_round();
        for (unsigned i = 0; i < NTHREADS; i++)
            pthread_join(t[i], NULL);
    }
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i].b.p)
            release(&slots[i].b, "final drain");
    unsigned long ops = atomic_load(&total_ops), remote = atomic_load(&total_remote);
    if (remote == 0)
        fail("no block was freed by a thread other than its owner");
    printf("stress (%s): %d rounds × %d threads, %lu operations, %lu cross-thread frees: ok\n", API_NAME, rounds,
           NTHREADS, ops, remote);
    return 0;
}
