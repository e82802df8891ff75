/* tiny.c — the slab engine behind the fast paths: thread heaps, the seven
 * refill stages of SPEC §5.1, returns to slabs, remote frees, adoption of
 * abandoned slabs, thread exit and the fork child. */
#include "tiny.h"
#include "../counters.h"
#include "../lock.h"
#include "../meta.h"
#include "../options.h"
#include "../os.h"
#include "../report.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

uint64_t _hak_key;
size_t _hak_mid_max;
bool _hak_tiny_use_ss;
uint8_t _hak_tiny_units[HAK_NCLASS];
bool _hak_tiny_secure;
uintptr_t _hak_list_key;
static uint32_t tiny_bound[HAK_NCLASS];
/* check or secure: links read on the slow paths are validated. Secure mode
 * is the only one with a list key, so where links are not validated the key
 * is 0 and the loops that walk them skip the xor (plain links). */
static bool validate_links;

/* Live heaps (for stats and the fork child) and heaps of exited threads
 * waiting for reuse. Heaps are only ever reused as heaps: a remote freer may
 * still push on a retired heap's notify stack. */
static HAK_LOCK_DEFINE(reg_lock, HAK_RANK_TINY_REGISTRY);
static struct tiny_heap *reg_head;
static struct tiny_heap *heap_pool;

/* Slabs left by exited threads, per class, doubly linked for O(1) adoption. */
static struct {
    hak_lock_t lock;
    struct tiny_slab *head;
} abandoned[HAK_NCLASS];
HAK_LOCK_LIST(&abandoned[0].lock, HAK_NCLASS, sizeof abandoned[0], HAK_RANK_TINY_ABANDONED);

/* Bytes of blocks out of slabs (with their users, in TLS lists, or freed
 * remotely and not yet drained), for mallinfo: each heap counts what its
 * thread takes out and puts back; a heap that is retired or lost hands its
 * figure over to retired_out (its blocks are still out). */
static _Atomic int64_t retired_out;

/* d bytes of blocks went out (d > 0) or came back (d < 0), by this thread
 * (or, with no heap of its own, handed over). */
static inline void out_add(int64_t d)
{
    struct tiny_heap *h = _hak_thread.tiny.heap;
    if (hak_likely(h != NULL))
        atomic_store_explicit(&h->out_bytes, atomic_load_explicit(&h->out_bytes, memory_order_relaxed) + d,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&retired_out, d, memory_order_relaxed);
}

/* n blocks of s went out (n > 0) or came back (n < 0), by this thread,
 * which owns s. */
static inline void slab_used(struct tiny_slab *s, int32_t n)
{
    s->used += (uint32_t)n;
    out_add((int64_t)n * s->size);
}

static void retire_out(struct tiny_heap *h)
{
    atomic_fetch_add_explicit(&retired_out, atomic_exchange_explicit(&h->out_bytes, 0, memory_order_relaxed),
                              memory_order_relaxed);
}


/* The owner updates its lists between these two. A fork from a signal
 * handler that interrupted this thread in between finds the flag set, and
 * the child gives the heap up (see _hak_tiny_fork_child). The fences keep
 * the compiler from moving list updates across the flag. */
static inline void slow_enter(struct tiny_heap *h)
{
    h->in_slow = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void slow_leave(struct tiny_heap *h)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    h->in_slow = 0;
}

/* ------------------------------------------------------------------ setup */

/* Slab span of a class, in 64 KiB units. Tiny classes: one unit. Mid
 * classes: at most 8 units (three such slabs fit in a SuperSlab's 31), the
 * shortest span holding 8 blocks (or as many as 8 units hold) whose tail
 * waste is at most 1/8 — failing that, the one with the least waste. */
#define TINY_MAX_UNITS 8
static unsigned units_for(size_t size, size_t tiny_max)
{
    if (size <= tiny_max)
        return 1;
    size_t most = TINY_MAX_UNITS * HAK_UNIT_SIZE / size;
    size_t need = most < 8 ? most : 8;
    unsigned best = TINY_MAX_UNITS;
    size_t best_waste = SIZE_MAX;
    for (unsigned u = 1; u <= TINY_MAX_UNITS; u++) {
        size_t span = u * HAK_UNIT_SIZE, blocks = span / size;
        if (blocks < need)
            continue;
        size_t waste = span - blocks * size;
        if (waste * 8 <= span)
            return u;
        if (best_waste == SIZE_MAX || waste * best < best_waste * u) {
            best = u;
            best_waste = waste;
        }
    }
    return best;
}

void _hak_tiny_init(void)
{
    _hak_key = _hak_os_random() | 1;
    _hak_tiny_use_ss = HAK_OPT(tiny_use_superslab) != 0;
    _hak_mid_max = (size_t)HAK_OPT(mid_max_size);
    _hak_tiny_secure = HAK_OPT(secure) != 0;
    _hak_list_key = _hak_tiny_secure ? (uintptr_t)_hak_os_random() | 1 : 0;
    validate_links = _hak_check_on || _hak_tiny_secure;
    /* Check mode: every request gets its tail in a slab class. */
    if (_hak_check_on)
        _hak_mid_max -= HAK_CHECK_PAD;
    size_t tiny_max = (size_t)HAK_OPT(tiny_max_size);
    size_t cache_bytes = (size_t)HAK_OPT(tiny_cache_bytes);
    uint32_t cache_max = (uint32_t)HAK_OPT(tiny_cache_max);
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        size_t size = _hak_class_size[c];
        _hak_tiny_units[c] = (uint8_t)units_for(size, tiny_max);
        size_t b = cache_bytes / size;
        tiny_bound[c] = (uint32_t)(b < 2 ? 2 : b > cache_max ? cache_max : b);
        /* Check mode: TLS lists of bound 0 stay empty, so both inline fast
         * paths always miss and every block passes through the checks. */
        if (_hak_check_on)
            tiny_bound[c] = 0;
    }
    tiny_bound[0] = 0;
}

static unsigned batch_of(unsigned c)
{
    unsigned b = tiny_bound[c] / 2;
    return b ? b : 1;
}

/* Units of a slab never cross a chunk (SuperSlab units lie in one; fallback
 * spans are aligned to their power-of-two size). */
static struct tiny_chunk *chunk_of(uintptr_t data)
{
    return HAK_CHUNK_PTR(hak_chunk_get(data));
}

struct tiny_slab *_hak_tiny_slab_setup(struct tiny_chunk *c, uintptr_t data, unsigned cls, unsigned units,
                                       struct tiny_heap *owner, struct tiny_ss *ss)
{
    unsigned u0 = (unsigned)((data >> HAK_UNIT_SHIFT) & (HAK_UNITS_PER_CHUNK - 1));
    struct tiny_slab *s = &c->unit[u0];
    /* The record's last user unpublished it with a release store; acquire
     * it, so that reuse through munmap and mmap is ordered for the memory
     * model too, not only by the kernel. */
    (void)atomic_load_explicit(&s->head, memory_order_acquire);
    uint32_t size = _hak_class_size[cls];
    s->data = data;
    s->size = size;
    s->capacity = (uint32_t)(units * HAK_UNIT_SIZE / size);
    s->limit = s->capacity * size;
    s->inv = (((uint64_t)1 << TINY_INV_SHIFT) + size - 1) / size;
    s->inv_hi = s->inv << (64 - TINY_INV_SHIFT);
    s->cls = (uint8_t)cls;
    s->units = (uint8_t)units;
    s->list = TINY_LIST_NONE;
    s->free = NULL;
    s->used = 0;
    s->carved = 0;
    s->next = s->prev = NULL;
    s->notify_next = NULL;
    s->ss = ss;
    atomic_store_explicit(&s->notified, 0, memory_order_relaxed);
    atomic_store_explicit(&s->remote, NULL, memory_order_relaxed);
    atomic_store_explicit(&s->remote_busy, 0, memory_order_relaxed);
    atomic_store_explicit(&s->owner, owner, memory_order_relaxed);
    for (unsigned u = 0; u < units; u++) /* release: the record is complete first */
        atomic_store_explicit(&c->unit[u0 + u].head, s, memory_order_release);
    return s;
}

void _hak_tiny_slab_unpublish(struct tiny_slab *s)
{
    struct tiny_chunk *c = chunk_of(s->data);
    unsigned u0 = (unsigned)((s->data >> HAK_UNIT_SHIFT) & (HAK_UNITS_PER_CHUNK - 1));
    unsigned units = s->units;
    atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
    s->capacity = 0;
    s->limit = 0;
    for (unsigned u = units; u-- > 0;) /* the head unit's store last: release */
        atomic_store_explicit(&c->unit[u0 + u].head, NULL, memory_order_release);
}

bool _hak_tiny_is_block(const struct tiny_slab *s, uintptr_t a)
{
    return a >= s->data && tiny_is_block_off(a - s->data, s);
}

/* ------------------------------------------------------------------ heaps */

struct tiny_heap *_hak_tiny_heap(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    if (hak_likely(t->heap != NULL))
        return t->heap;
    hak_lock(&reg_lock);
    struct tiny_heap *h = heap_pool;
    if (h) {
        heap_pool = h->reg_next;
        /* Keep the notify stack: stale entries are checked when drained. */
        struct tiny_slab *pending = atomic_load(&h->notify);
        memset(h, 0, sizeof *h);
        atomic_store(&h->notify, pending);
    } else {
        h = _hak_meta_alloc(sizeof *h);
    }
    if (!h) {
        hak_unlock(&reg_lock);
        return NULL;
    }
    h->tls = t;
    h->ctr = &_hak_thread.ctr;
    /* The registry's readers follow h->ctr into this thread's TLS, so a
     * listed heap must be unlisted by the exit destructor before that TLS
     * goes. A thread allocating after its exit functions ran may be past
     * the last round of key destructors: such a heap stays off the
     * registry. (Frees, which glibc also makes after the key destructors,
     * never set up a heap: see _hak_tiny_free_slow.) */
    h->listed = !_hak_thread.gone;
    if (h->listed) {
        h->reg_next = reg_head;
        h->reg_prev = NULL;
        if (reg_head)
            reg_head->reg_prev = h;
        reg_head = h;
    }
    hak_unlock(&reg_lock);

    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        hak_assert(t->head[c] == NULL);
        t->bound[c] = t->room[c] = tiny_bound[c];
    }
    t->key = _hak_key;
    t->lkey = _hak_list_key;
    t->rng = _hak_key ^ (uintptr_t)t;
    t->heap = h;
    t->state = TINY_THREAD_LIVE;
    HAK_CTR_INC(tiny, thread_init);
    _hak_thread_arm(); /* after the heap is in place: arming may allocate */
    return h;
}


/* ------------------------------------------------------------------ lists */

/* Slab lists: a heap's own, and the abandoned lists (locked; their heads
 * are peeked at without the lock, hence HAK_POKE). */
static void list_push(struct tiny_slab **head, struct tiny_slab *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    HAK_POKE(*head, s);
}

static void list_remove(struct tiny_slab **head, struct tiny_slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        HAK_POKE(*head, s->next);
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static struct tiny_slab **list_of(struct tiny_heap *h, struct tiny_slab *s)
{
    struct tiny_class_state *cs = &h->cls[s->cls];
    return s->list == TINY_LIST_PARTIAL ? &cs->partial : &cs->full;
}

static void slab_unlink(struct tiny_heap *h, struct tiny_slab *s)
{
    if (s->list == TINY_LIST_PARTIAL || s->list == TINY_LIST_FULL)
        list_remove(list_of(h, s), s);
    else if (s->list == TINY_LIST_CUR)
        h->cls[s->cls].cur = NULL;
    s->list = TINY_LIST_NONE;
}

static void slab_move(struct tiny_heap *h, struct tiny_slab *s, uint8_t to)
{
    slab_unlink(h, s);
    s->list = to;
    if (to == TINY_LIST_CUR)
        h->cls[s->cls].cur = s;
    else
        list_push(list_of(h, s), s);
}

/* ------------------------------------------------------------------ remote */

/* Whether b may follow a block of s in one of s's free lists: NULL, or a
 * block start of s already carved. */
static bool link_ok(const struct tiny_slab *s, const void *b)
{
    uintptr_t a = (uintptr_t)b;
    return !b || (_hak_tiny_is_block(s, a) && ((uint64_t)(a - s->data) * s->inv) >> TINY_INV_SHIFT < s->carved);
}

/* Block b of s links to something that is not a free block of s: its link
 * word was overwritten after it was freed. */
static hak_cold void bad_link(const char *fn, const struct tiny_slab *s, void *b)
{
    _hak_check_report(fn, "corrupted free list", b, s->cls, s->size);
}

/* The rest of s's local list is lost to a bad link: its blocks count as
 * used (leaked) from now on, so the slab is never released under them. */
static void drop_free_list(struct tiny_slab *s)
{
    s->free = NULL;
    slab_used(s, (int32_t)(s->carved - s->used));
}

/* Moves the slab's remote frees to its local list (owner only). */
static unsigned drain_remote(struct tiny_slab *s)
{
    if (!atomic_load_explicit(&s->remote, memory_order_relaxed))
        return 0;
    void *r = atomic_exchange_explicit(&s->remote, NULL, memory_order_acquire);
    if (!r)
        return 0;
    unsigned n = 1;
    void *tail = r, *next;
    while ((next = tiny_link_get(tail, _hak_list_key)) != NULL) {
        if (hak_unlikely(validate_links) && !link_ok(s, next)) {
            bad_link("malloc", s, tail); /* the rest of the list is lost */
            break;
        }
        tail = next;
        n++;
    }
    tiny_link_set(tail, s->free, _hak_list_key);
    s->free = r;
    slab_used(s, -(int32_t)n);
    HAK_CTR_INC(free, remote_drain);
    HAK_CTR_ADD(free, remote_blocks, n);
    return n;
}

/* May the owner give this empty slab back? Not while a remote freer is
 * still inside it or a notify stack still points at it. */
static bool slab_releasable(struct tiny_slab *s)
{
    return s->used == 0 && !atomic_load_explicit(&s->notified, memory_order_acquire) &&
           atomic_load_explicit(&s->remote_busy, memory_order_acquire) == 0;
}

/* Removes s's units from this thread's unit cache. */
static void ucache_forget(const struct tiny_slab *s)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    uintptr_t u0 = s->data >> HAK_UNIT_SHIFT;
    for (uintptr_t u = u0; u < u0 + s->units; u++)
        if (t->ukey[TINY_UCACHE_SLOT(u)] == u + 1)
            t->ukey[TINY_UCACHE_SLOT(u)] = 0;
}

static void slab_release(struct tiny_heap *h, struct tiny_slab *s)
{
    ucache_forget(s);
    slab_unlink(h, s);
    HAK_CTR_INC(tiny, slab_release);
    if (s->ss)
        _hak_ss_slab_release(h, s);
    else
        _hak_fb_slab_release(s);
}

/* Processes the heap's notify stack: slabs of ours that got remote frees
 * while full become partial; stale entries only lose their flag. */
static void drain_notify(struct tiny_heap *h)
{
    if (!atomic_load_explicit(&h->notify, memory_order_relaxed))
        return;
    struct tiny_slab *s = atomic_exchange_explicit(&h->notify, NULL, memory_order_acquire);
    while (s) {
        struct tiny_slab *next = s->notify_next;
        atomic_store_explicit(&s->notified, 0, memory_order_release);
        if (atomic_load_explicit(&s->owner, memory_order_relaxed) == h && s->list != TINY_LIST_NONE) {
            drain_remote(s);
            if (s->list == TINY_LIST_FULL && s->free)
                slab_move(h, s, TINY_LIST_PARTIAL);
            if (s->list != TINY_LIST_CUR && slab_releasable(s))
                slab_release(h, s);
        }
        s = next;
    }
}

static void remote_push(struct tiny_slab *s, void *p)
{
    uintptr_t a = (uintptr_t)p;
    atomic_fetch_add_explicit(&s->remote_busy, 1, memory_order_relaxed);
    ((uintptr_t *)p)[1] = tiny_mark(a);
    void *old = atomic_load_explicit(&s->remote, memory_order_relaxed);
    do {
        tiny_link_set(p, old, _hak_list_key);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, p, memory_order_release, memory_order_relaxed));
    HAK_CTR_INC(free, ss_remote);
    if (!old) {
        /* First remote block: the owner may hold the slab as full and never
         * look at it, so tell its heap (once, until the owner drains). */
        struct tiny_heap *owner = atomic_load_explicit(&s->owner, memory_order_acquire);
        if (owner && !atomic_exchange_explicit(&s->notified, 1, memory_order_acq_rel)) {
            struct tiny_slab *head = atomic_load_explicit(&owner->notify, memory_order_relaxed);
            do {
                s->notify_next = head;
            } while (!atomic_compare_exchange_weak_explicit(&owner->notify, &head, s, memory_order_release,
                                                            memory_order_relaxed));
        }
    }
    atomic_fetch_sub_explicit(&s->remote_busy, 1, memory_order_release);
}

/* ------------------------------------------------------------------ adoption */

static void abandon(struct tiny_slab *s)
{
    unsigned c = s->cls;
    hak_lock(&abandoned[c].lock);
    s->list = TINY_LIST_ABANDONED;
    atomic_store_explicit(&s->owner, NULL, memory_order_release);
    list_push(&abandoned[c].head, s);
    hak_unlock(&abandoned[c].lock);
    HAK_CTR_INC(tiny, slab_abandon);
}

/* Takes s (or, with s NULL, the first abandoned slab of class c) for h. */
static struct tiny_slab *adopt(struct tiny_heap *h, unsigned c, struct tiny_slab *s)
{
    if (!s && !HAK_PEEK(abandoned[c].head))
        return NULL;
    hak_lock(&abandoned[c].lock);
    if (!s)
        s = abandoned[c].head;
    /* Owner first: an owned slab's list field is its owner's to write. */
    if (!s || atomic_load_explicit(&s->owner, memory_order_relaxed) || s->list != TINY_LIST_ABANDONED) {
        hak_unlock(&abandoned[c].lock);
        return NULL;
    }
    list_remove(&abandoned[c].head, s);
    s->list = TINY_LIST_NONE;
    atomic_store_explicit(&s->owner, h, memory_order_release);
    hak_unlock(&abandoned[c].lock);
    drain_remote(s);
    HAK_CTR_INC(tiny, slab_adopt);
    return s;
}

static bool has_blocks(const struct tiny_slab *s) { return s->free || s->carved < s->capacity; }

/* ------------------------------------------------------------------ refill */

/* Moves up to want blocks from the head of s's local list to t's list c:
 * one walk to the cut, then one splice (the blocks keep their order, and
 * their links, which both lists encode with the same key). */
static unsigned take_free(struct tiny_tls *t, unsigned c, struct tiny_slab *s, unsigned want)
{
    void *first = s->free;
    if (!first)
        return 0;
    uintptr_t key = _hak_list_key;
    void *last = first, *next;
    unsigned n = 1;
    bool dropped = false;
    if (hak_likely(!validate_links)) { /* the key is 0: see validate_links */
        /* s's list holds carved - used blocks (see used). If want covers
         * them all and t's list is empty, the whole list moves as it is:
         * its last link is already NULL. */
        uint32_t avail = s->carved - s->used;
        if (avail <= want && !t->head[c]) {
            t->head[c] = first;
            s->free = NULL;
            slab_used(s, (int32_t)avail);
            t->room[c] -= avail;
            return avail;
        }
        unsigned left = want;
        next = tiny_link_get(first, 0);
        while (--left > 0 && next) {
            last = next;
            next = tiny_link_get(last, 0);
        }
        n = want - left;
    } else {
        next = tiny_link_get(first, key);
        for (;;) {
            if (!link_ok(s, next)) {
                bad_link("malloc", s, last);
                dropped = true;
                next = NULL;
                break;
            }
            if (!next || n == want)
                break;
            last = next;
            next = tiny_link_get(last, key);
            n++;
        }
    }
    tiny_link_set(last, t->head[c], key);
    t->head[c] = first;
    s->free = next;
    slab_used(s, (int32_t)n);
    if (hak_unlikely(dropped))
        drop_free_list(s);
    t->room[c] -= n;
    return n;
}

static void *link_fresh(const struct tiny_slab *s, uintptr_t b, void *head)
{
    tiny_link_set((void *)b, head, _hak_list_key);
    ((uintptr_t *)b)[1] = tiny_mark(b);
    if (_hak_check_on)
        _hak_check_fill((void *)b, s->size);
    return (void *)b;
}

/* Links the next n uncarved blocks of s in front of head, marked free (and
 * filled in check mode); returns the new head. Pushed from the last, so the
 * list pops in address order; in secure mode in a random order instead,
 * shuffled TINY_SHUFFLE blocks at a time. The caller advances s->carved. */
#define TINY_SHUFFLE 256
static void *carve_link(struct tiny_tls *t, const struct tiny_slab *s, unsigned n, void *head)
{
    uintptr_t first = s->data + (uintptr_t)s->carved * s->size;
    if (hak_likely(!_hak_tiny_secure)) {
        for (unsigned i = n; i-- > 0;)
            head = link_fresh(s, first + (uintptr_t)i * s->size, head);
        return head;
    }
    uint16_t order[TINY_SHUFFLE];
    for (unsigned done = 0; done < n;) {
        unsigned k = n - done < TINY_SHUFFLE ? n - done : TINY_SHUFFLE;
        for (unsigned i = 0; i < k; i++)
            order[i] = (uint16_t)i;
        for (unsigned i = k - 1; i > 0; i--) { /* Fisher-Yates */
            unsigned j = (unsigned)(hak_splitmix64(&t->rng) % (i + 1));
            uint16_t x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        for (unsigned i = 0; i < k; i++)
            head = link_fresh(s, first + (uintptr_t)(done + order[i]) * s->size, head);
        done += k;
    }
    return head;
}

/* Fresh blocks carved per refill of a class with no full slab yet: at most
 * a page's worth (at least one block) or as many as the slab has carved so
 * far, whichever is more. A class a program touches a few times costs it a
 * page, not the half TLS list (16 KiB) a full batch writes links into; a
 * class that has filled a slab is growing and carves full batches. Refills
 * of reused blocks (take_free) are not limited. */
#define TINY_CARVE_BYTES 4096

static unsigned take_carve(struct tiny_tls *t, unsigned c, struct tiny_slab *s, unsigned want, bool growing)
{
    unsigned left = s->capacity - s->carved, page = TINY_CARVE_BYTES / s->size;
    unsigned step = s->carved > page ? s->carved : page ? page : 1;
    unsigned n = want < left ? want : left;
    if (n > step && !growing)
        n = step;
    t->head[c] = carve_link(t, s, n, t->head[c]);
    s->carved += n;
    slab_used(s, (int32_t)n);
    t->room[c] -= n;
    return n;
}

/* A full slab of class c whose remote frees reached no notify stack (the
 * notification raced with a change of owner); checked before growing. */
static struct tiny_slab *reclaim_full(struct tiny_heap *h, unsigned c)
{
    for (struct tiny_slab *s = h->cls[c].full; s; s = s->next)
        if (atomic_load_explicit(&s->remote, memory_order_relaxed) && drain_remote(s))
            return s;
    return NULL;
}

/* Stages 4–6: a slab with free blocks to become the current one. */
static struct tiny_slab *next_slab(struct tiny_heap *h, unsigned c)
{
    struct tiny_class_state *cs = &h->cls[c];
    struct tiny_slab *s;
    drain_notify(h);
    if ((s = cs->partial) != NULL) {
        HAK_CTR_INC_C(tiny, refill_partial, c);
        return s;
    }
    while ((s = adopt(h, c, NULL)) != NULL) {
        if (has_blocks(s)) {
            HAK_CTR_INC_C(tiny, refill_partial, c);
            return s;
        }
        s->list = TINY_LIST_FULL;
        list_push(&cs->full, s);
    }
    unsigned units = _hak_tiny_units[c];
    if (_hak_tiny_use_ss && (s = _hak_ss_slab_owned(h, c, units)) != NULL) {
        HAK_CTR_INC_C(tiny, refill_empty_slab, c);
        return s;
    }
    if ((s = reclaim_full(h, c)) != NULL) {
        HAK_CTR_INC_C(tiny, refill_partial, c);
        return s;
    }
    s = _hak_tiny_use_ss ? _hak_ss_slab_new(h, c, units) : _hak_fb_slab_new(h, c, units);
    if (s)
        HAK_CTR_INC_C(tiny, refill_new_ss, c);
    return s;
}

/* Moves up to want blocks of class c into l; 0 only when out of memory. */
static unsigned refill(struct tiny_heap *h, struct tiny_tls *t, unsigned c, unsigned want)
{
    struct tiny_class_state *cs = &h->cls[c];
    for (;;) {
        struct tiny_slab *s = cs->cur;
        if (s) {
            unsigned n;
            if (s->free && (n = take_free(t, c, s, want)) != 0) {
                HAK_CTR_INC_C(tiny, refill_local, c);
                return n;
            }
            if (drain_remote(s) && (n = take_free(t, c, s, want)) != 0) {
                HAK_CTR_INC_C(tiny, refill_remote, c);
                return n;
            }
            if (s->carved < s->capacity && (n = take_carve(t, c, s, want, cs->full != NULL)) != 0) {
                HAK_CTR_INC_C(tiny, refill_carve, c);
                return n;
            }
            slab_move(h, s, TINY_LIST_FULL);
        }
        s = next_slab(h, c);
        if (!s) {
            HAK_CTR_INC_C(tiny, refill_fail, c);
            return 0;
        }
        slab_move(h, s, TINY_LIST_CUR);
    }
}

void *_hak_tiny_alloc_class(unsigned c)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    if (!t->head[c]) {
        struct tiny_heap *h = _hak_tiny_heap();
        if (!h) {
            errno = ENOMEM;
            return NULL;
        }
        slow_enter(h);
        unsigned n = refill(h, t, c, batch_of(c));
#if HAK_DEBUG
        _hak_tiny_validate_heap(h);
#endif
        slow_leave(h);
        if (!n) {
            errno = ENOMEM;
            return NULL;
        }
    }
    void *b = t->head[c];
    t->head[c] = tiny_link_get(b, _hak_list_key);
    t->room[c]++;
    ((uintptr_t *)b)[1] = 0;
    HAK_CTR_INC(tiny, alloc_slow);
    return b;
}

/* ------------------------------------------------------------------ check */

/* Check mode keeps no TLS lists: blocks come straight from the current
 * slab's free list, every pop verified, and go straight back to it. */

static void slab_return(struct tiny_heap *h, struct tiny_slab *s, void *b);

/* Blocks carved onto a slab's free list at a time in check mode. */
#define CHECK_CARVE 64

/* Pops s's free list, verifying the block (its link, its free mark, its
 * fill); NULL if the link was bad (reported; the list is dropped). */
static void *check_pop(struct tiny_slab *s)
{
    void *b = s->free;
    void *next = tiny_link_get(b, _hak_list_key);
    if (!link_ok(s, next)) {
        bad_link("malloc", s, b);
        drop_free_list(s);
        return NULL;
    }
    if (((uintptr_t *)b)[1] != tiny_mark((uintptr_t)b) || !_hak_check_filled(b, s->size))
        _hak_check_report("malloc", "write after free", b, s->cls, s->size); /* survived: the block is usable */
    s->free = next;
    slab_used(s, 1);
    ((uintptr_t *)b)[1] = 0;
    return b;
}

/* A block of class c from h's slabs (the refill stages, one block at a time). */
static void *check_take(struct tiny_heap *h, struct tiny_tls *t, unsigned c, struct tiny_slab **slab)
{
    struct tiny_class_state *cs = &h->cls[c];
    for (;;) {
        struct tiny_slab *s = cs->cur;
        if (s) {
            if (s->free) {
                HAK_CTR_INC_C(tiny, refill_local, c);
            } else if (drain_remote(s)) {
                HAK_CTR_INC_C(tiny, refill_remote, c);
            } else if (s->carved < s->capacity) {
                unsigned left = s->capacity - s->carved, n = left < CHECK_CARVE ? left : CHECK_CARVE;
                s->free = carve_link(t, s, n, NULL);
                s->carved += n;
                HAK_CTR_INC_C(tiny, refill_carve, c);
            }
            if (s->free) {
                void *b = check_pop(s);
                if (b) {
                    *slab = s;
                    return b;
                }
                continue;
            }
            slab_move(h, s, TINY_LIST_FULL);
        }
        s = next_slab(h, c);
        if (!s) {
            HAK_CTR_INC_C(tiny, refill_fail, c);
            return NULL;
        }
        slab_move(h, s, TINY_LIST_CUR);
    }
}

void *_hak_tiny_check_alloc(unsigned c, size_t n, size_t align)
{
    /* Room for the tail: an aligned power-of-two class doubles, others take
     * the class of n plus the tail (both exist: mid_max was lowered). */
    if (n == 0)
        n = 1; /* a usable size of 0 would read as "not ours" */
    uint32_t size = _hak_class_size[c];
    if (size < n + HAK_CHECK_PAD)
        c = align ? hak_size_class((size_t)size * 2) : hak_size_class(n + HAK_CHECK_PAD);
    struct tiny_tls *t = &_hak_thread.tiny;
    struct tiny_heap *h = _hak_tiny_heap();
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    struct tiny_slab *s = NULL;
    slow_enter(h);
    void *b = check_take(h, t, c, &s);
#if HAK_DEBUG
    _hak_tiny_validate_heap(h);
#endif
    slow_leave(h);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    _hak_check_arm(b, s->size, n);
    HAK_CTR_INC(tiny, alloc_slow);
    return b;
}

/* Check mode's free, after the block and double-free checks: the canary,
 * the fill, and straight back to the slab (or its remote list). */
static void check_free(void *p, struct tiny_slab *s, struct tiny_heap *h, struct tiny_heap *owner, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    if (owner == h && h && ((uint64_t)(a - s->data) * s->inv) >> TINY_INV_SHIFT >= s->carved) {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
        return;
    }
    if (_hak_check_size(p, s->size) == SIZE_MAX) {
        _hak_check_report(fn, "buffer overflow", p, s->cls, s->size);
        return; /* survived: the block is leaked */
    }
    _hak_check_fill(p, s->size);
    if (owner != h || !h) {
        remote_push(s, p);
        return;
    }
    ((uintptr_t *)p)[1] = tiny_mark(a);
    slow_enter(h);
    slab_return(h, s, p);
    slow_leave(h);
}

/* ------------------------------------------------------------------ free */

/* Block b of h's came back to s (its link is already on s's list): s
 * changes lists, or goes back to its source once empty (owner only). */
static void slab_returned(struct tiny_heap *h, struct tiny_slab *s)
{
    if (s->list == TINY_LIST_FULL)
        slab_move(h, s, TINY_LIST_PARTIAL);
    if (s->list == TINY_LIST_PARTIAL && slab_releasable(s))
        slab_release(h, s);
}

/* Gives block b of h's back to its slab s (owner only; check mode). */
static void slab_return(struct tiny_heap *h, struct tiny_slab *s, void *b)
{
    hak_assert(atomic_load(&s->owner) == h);
    tiny_link_set(b, s->free, _hak_list_key);
    s->free = b;
    slab_used(s, -1);
    HAK_CTR_INC(free, ss_local);
    slab_returned(h, s);
}

/* Returns up to n blocks from the head of t's list c to their slabs, a run
 * at a time: consecutive blocks of one slab are already linked, so a run
 * costs one slab lookup and one splice onto the slab's list, whatever its
 * length. Blocks keep their free marks. A link to something that is not a
 * block of a slab of h's (in check or secure mode, where links are
 * validated) is reported and the rest of the list is dropped (leaked). */
static void flush_list(struct tiny_heap *h, struct tiny_tls *t, unsigned c, unsigned n)
{
    uintptr_t key = _hak_list_key;
    void *b = t->head[c];
    int64_t bytes = 0;
    uint32_t total = 0;
    while (n > 0 && b) {
        struct tiny_slab *s = tiny_slab_of((uintptr_t)b);
        if (hak_unlikely(validate_links) &&
            (!s || atomic_load_explicit(&s->owner, memory_order_relaxed) != h || !link_ok(s, b))) {
            _hak_check_report("free", "corrupted free list", b, c, _hak_class_size[c]);
            b = NULL;
            break;
        }
        hak_assert(s && atomic_load(&s->owner) == h);
        /* The run ends at the budget, or at a block outside s: NULL is
         * outside too (NULL - lo wraps past any limit). */
        uintptr_t lo = s->data, limit = s->limit;
        void *first = b, *last;
        uint32_t n0 = n;
        if (hak_likely(!validate_links)) { /* the key is 0: see validate_links */
            do {
                last = b;
                b = tiny_link_get(b, 0);
            } while (--n > 0 && (uintptr_t)b - lo < limit);
        } else {
            do {
                last = b;
                b = tiny_link_get(b, key);
            } while (--n > 0 && (uintptr_t)b - lo < limit && link_ok(s, b));
        }
        uint32_t k = n0 - n;
        tiny_link_set(last, s->free, key);
        s->free = first;
        s->used -= k;
        total += k;
        bytes += (int64_t)k * s->size;
        HAK_CTR_INC(free, flush_runs);
        slab_returned(h, s);
    }
    t->head[c] = b;
    t->room[c] = b ? t->room[c] + total : t->bound[c];
    out_add(-bytes);
    HAK_CTR_ADD(free, ss_local, total);
}

/* Whether a is among the first limit blocks of a list; with s, the walk
 * stops at a link that is not a block of s (a list of s's own, corrupted). */
static bool list_contains(void *head, uintptr_t a, uint32_t limit, const struct tiny_slab *s)
{
    for (void *b = head; b && limit; b = tiny_link_get(b, _hak_list_key), limit--) {
        if ((uintptr_t)b == a)
            return true;
        if (s && !link_ok(s, b))
            return false;
    }
    return false;
}

/* The block carries the free mark. For a slab of ours every list it could be
 * on is ours to read, so confirm; for another thread's slab (or an abandoned
 * one, to a thread without a heap) the 64-bit per-process key is the
 * evidence (a user write cannot forge it by chance). */
static bool confirm_double_free(struct tiny_tls *t, struct tiny_heap *h, struct tiny_slab *s, uintptr_t a)
{
    if (!h || atomic_load_explicit(&s->owner, memory_order_relaxed) != h)
        return true;
    return list_contains(t->head[s->cls], a, t->bound[s->cls] - t->room[s->cls] + 1, NULL) ||
           list_contains(s->free, a, s->capacity + 1, s) ||
           list_contains(atomic_load_explicit(&s->remote, memory_order_acquire), a, s->capacity + 1, s);
}

void _hak_tiny_free_slow(void *p, struct tiny_slab *s, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    if (!_hak_tiny_is_block(s, a)) {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
        return;
    }
    struct tiny_tls *t = &_hak_thread.tiny;
    /* A free never sets up a heap: the frees glibc makes at the very end of
     * a thread (__nptl_free_stacks, after the key destructors) would list a
     * heap whose TLS is unmapped soon after. Without one, the block goes to
     * its slab's remote list, as any other thread's free does. */
    struct tiny_heap *h = t->heap;
    if (!h)
        _hak_thread_arm(); /* no heap lists this thread's counters: they join the totals at its exit */
    struct tiny_heap *owner = atomic_load_explicit(&s->owner, memory_order_acquire);
    if (!owner && h && adopt(h, s->cls, s)) {
        owner = h;
        slab_move(h, s, has_blocks(s) ? TINY_LIST_PARTIAL : TINY_LIST_FULL);
    }
    if (((uintptr_t *)p)[1] == tiny_mark(a) && confirm_double_free(t, h, s, a)) {
        HAK_CTR_INC(early_return, double_free);
        _hak_report(fn, "double free", p);
        return;
    }
    if (_hak_check_on) {
        check_free(p, s, h, owner, fn);
        return;
    }
    if (owner != h || !h) {
        remote_push(s, p);
        return;
    }
    uint64_t idx = ((uint64_t)(a - s->data) * s->inv) >> TINY_INV_SHIFT;
    if (idx >= s->carved) {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
        return;
    }
    uintptr_t u = a >> HAK_UNIT_SHIFT; /* ours: the next free here is fast */
    t->ukey[TINY_UCACHE_SLOT(u)] = u + 1;
    t->uslab[TINY_UCACHE_SLOT(u)] = s;
    unsigned c = s->cls;
    slow_enter(h);
    if (t->room[c] == 0) { /* full: keep half */
        flush_list(h, t, c, t->bound[c] - t->bound[c] / 2);
        HAK_CTR_INC(free, tls_flush);
        /* A thread fed by its own frees may not refill for a long time:
         * its notified slabs are drained here too, or their remote frees
         * would pin them (and their SuperSlabs) indefinitely. */
        drain_notify(h);
    }
    tiny_link_set(p, t->head[c], _hak_list_key);
    ((uintptr_t *)p)[1] = tiny_mark(a);
    t->head[c] = p;
    t->room[c]--;
    HAK_CTR_INC(free, tls_sll);
    slow_leave(h);
}

size_t _hak_tiny_usable(void *p, struct tiny_slab *s, const char *fn)
{
    if (!_hak_tiny_is_block(s, (uintptr_t)p)) {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
        return 0;
    }
    /* A freed block (realloc after free): the free path's check. */
    uintptr_t a = (uintptr_t)p;
    if (((uintptr_t *)p)[1] == tiny_mark(a) && confirm_double_free(&_hak_thread.tiny, _hak_thread.tiny.heap, s, a)) {
        HAK_CTR_INC(early_return, double_free);
        _hak_report(fn, "double free", p);
        return 0;
    }
    if (_hak_check_on) { /* the requested size: the canary follows it */
        size_t n = _hak_check_size(p, s->size);
        if (n == SIZE_MAX) {
            _hak_check_report(fn, "buffer overflow", p, s->cls, s->size);
            return 0;
        }
        return n;
    }
    return s->size;
}

/* ------------------------------------------------------------------ exit */

/* Everything a heap holds goes back: TLS lists to their slabs, empty slabs
 * to their source, the rest abandoned for other threads to adopt. Used at
 * thread exit, and in a fork child for the threads that did not survive. */
static void heap_retire(struct tiny_heap *h)
{
    struct tiny_tls *t = h->tls;
    for (unsigned c = 1; c < HAK_NCLASS; c++)
        flush_list(h, t, c, UINT32_MAX);
    drain_notify(h);
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        struct tiny_class_state *cs = &h->cls[c];
        struct tiny_slab *lists[3] = { cs->cur, cs->partial, cs->full };
        for (int i = 0; i < 3; i++) {
            struct tiny_slab *s = lists[i];
            while (s) {
                struct tiny_slab *next = i == 0 ? NULL : s->next;
                drain_remote(s);
                if (slab_releasable(s)) {
                    slab_release(h, s);
                } else {
                    slab_unlink(h, s);
                    abandon(s);
                }
                s = next;
            }
        }
    }
    /* Notifications that raced with the abandoning: drop their flags. */
    drain_notify(h);
    if (_hak_tiny_use_ss)
        _hak_ss_heap_exit(h);
    retire_out(h);
}

static void heap_unregister(struct tiny_heap *h)
{
    hak_lock(&reg_lock);
    if (h->listed) {
        if (h->reg_prev)
            h->reg_prev->reg_next = h->reg_next;
        else
            reg_head = h->reg_next;
        if (h->reg_next)
            h->reg_next->reg_prev = h->reg_prev;
    }
    h->reg_next = heap_pool;
    heap_pool = h;
    hak_unlock(&reg_lock);
}

void _hak_tiny_thread_exit(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    struct tiny_heap *h = t->heap;
    if (!h) { /* a thread that only freed */
        _hak_counters_retire(&_hak_thread.ctr);
        memset(&_hak_thread.ctr, 0, sizeof _hak_thread.ctr);
        return;
    }
    HAK_CTR_INC(tiny, thread_exit);
    slow_enter(h);
    heap_retire(h);
    /* From here a call to malloc or free (another key's destructor, glibc
     * itself) sets up a fresh heap, which re-arms this destructor. */
    t->heap = NULL;
    t->state = TINY_THREAD_EXITED;
    memset(t->ukey, 0, sizeof t->ukey); /* its slabs are not this thread's now */
    memset(t->bound, 0, sizeof t->bound);
    memset(t->room, 0, sizeof t->room);
    _hak_counters_retire(&_hak_thread.ctr);
    memset(&_hak_thread.ctr, 0, sizeof _hak_thread.ctr);
    heap_unregister(h);
}

void _hak_tiny_flush_tls(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    struct tiny_heap *h = t->heap;
    if (!h)
        return;
    slow_enter(h);
    for (unsigned c = 1; c < HAK_NCLASS; c++)
        flush_list(h, t, c, UINT32_MAX);
    drain_notify(h);
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        struct tiny_slab *s = h->cls[c].cur;
        if (s) {
            drain_remote(s);
            if (slab_releasable(s))
                slab_release(h, s);
        }
    }
    slow_leave(h);
}

size_t _hak_tiny_trim(void)
{
    _hak_tiny_flush_tls();
    return _hak_tiny_use_ss ? _hak_ss_trim() : _hak_fb_trim();
}

size_t _hak_tiny_cached_bytes(void) { return _hak_tiny_use_ss ? _hak_ss_cached_bytes() : _hak_fb_cached_bytes(); }

uint64_t _hak_tiny_decay(uint64_t now) { return _hak_tiny_use_ss ? _hak_ss_decay(now) : _hak_fb_decay(now); }

size_t _hak_tiny_live_bytes(void)
{
    int64_t sum = atomic_load_explicit(&retired_out, memory_order_relaxed);
    hak_lock(&reg_lock);
    for (struct tiny_heap *h = reg_head; h; h = h->reg_next)
        sum += atomic_load_explicit(&h->out_bytes, memory_order_relaxed);
    hak_unlock(&reg_lock);
    return sum > 0 ? (size_t)sum : 0;
}

void _hak_tiny_foreach_counters(void (*fn)(const struct hak_counters *, void *), void *arg)
{
    hak_lock(&reg_lock);
    for (struct tiny_heap *h = reg_head; h; h = h->reg_next)
        fn(h->ctr, arg);
    hak_unlock(&reg_lock);
}

/* ------------------------------------------------------------------ fork */

bool _hak_tiny_busy(void)
{
    struct tiny_heap *h = _hak_thread.tiny.heap;
    return h && h->in_slow;
}

/* The heap this thread had is given up in the child: its lists stay as
 * they are (leaked) and the next allocation sets up a fresh heap. */
static void lose_own_heap(struct tiny_tls *t)
{
    retire_out(t->heap);
    memset(t->head, 0, sizeof t->head);
    memset(t->room, 0, sizeof t->room);
    memset(t->bound, 0, sizeof t->bound);
    t->heap = NULL;
    t->state = TINY_THREAD_NEW;
}

/* A fork from a signal handler may have cut an inline push or pop short
 * between its list store and its room update: the lists are whole, their
 * counts may be one off. They are counted again, and a block past the
 * bound goes back to its slab. */
static void recount_own_lists(struct tiny_heap *h, struct tiny_tls *t)
{
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        uint32_t n = 0;
        for (void *b = t->head[c]; b && n <= t->bound[c]; b = tiny_link_get(b, t->lkey))
            n++;
        if (n > t->bound[c]) {
            flush_list(h, t, c, 1);
            n--;
        }
        t->room[c] = t->bound[c] - n;
    }
}

/* In the child only the forking thread exists. The other threads changed
 * their heaps without a lock — their TLS lists in the inline fast paths,
 * their slab lists in their slow paths — so nothing of those heaps is read
 * here: they leave the registry and are never reused, and their slabs stay
 * theirs. That is a leak in the child (frees into those slabs go to their
 * remote lists, which nobody drains), never a corruption; glibc, jemalloc
 * and tcmalloc leak other threads' caches the same way. The registry and
 * the abandoned lists were under locks the prepare handler held, so they
 * are whole unless the lock says torn. This thread's own heap is whole
 * unless fork was called from a signal handler that interrupted its slow
 * path (in_slow); the inline fast paths publish with one store. */
void _hak_tiny_fork_child(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    if (t->heap && t->heap->in_slow)
        lose_own_heap(t);
    else if (t->heap)
        recount_own_lists(t->heap, t);
    memset(t->ukey, 0, sizeof t->ukey); /* a cache: refilled on use */
    struct tiny_heap *self = t->heap;
    if (hak_lock_torn(&reg_lock)) {
        heap_pool = NULL; /* pooled heaps leak with the registry */
    } else {
        /* Their counters are plain words in the copied TLS: read as stats. */
        for (struct tiny_heap *h = reg_head; h; h = h->reg_next)
            if (h != self) {
                _hak_counters_retire(h->ctr);
                retire_out(h);
            }
    }
    reg_head = NULL;
    if (self && self->listed) {
        self->reg_next = self->reg_prev = NULL;
        reg_head = self;
    }
    for (unsigned c = 0; c < HAK_NCLASS; c++)
        if (hak_lock_torn(&abandoned[c].lock))
            abandoned[c].head = NULL;
    _hak_ss_fork_child();
    _hak_fb_fork_child();
}
