/* heap.c — the life of a thread heap: its creation, its slab lists and the
 * moves between them, notification of slabs that got remote frees, slabs
 * given back to their source once empty, abandoned slabs (their adoption,
 * the purger's sweep of those nobody adopts), the return of TLS lists to
 * their slabs, thread exit, trim, the registry of live heaps (stats,
 * mallinfo) and the fork child. */
#include "engine.h"
#include "../counters.h"
#include "../lock.h"
#include "../meta.h"
#include "../options.h"
#include "../os.h"
#include "../purge.h"
#include <sched.h>
#include <string.h>

/* Live heaps (for stats and the fork child) and heaps of exited threads
 * waiting for reuse. Heaps are only ever reused as heaps: a remote freer may
 * still push on a retired heap's notify stack. */
static HAK_LOCK_DEFINE(reg_lock, HAK_RANK_TINY_REGISTRY);
static struct tiny_heap *reg_head;
static struct tiny_heap *heap_pool;
struct tiny_slab _hak_tiny_slab_none;
const struct tiny_ucache _hak_tiny_ucache_none = { .slab = { [0 ... TINY_UCACHE - 1] = &_hak_tiny_slab_none } };

/* Empties the unit cache of h, this thread's heap (or a new one). */
static void ucache_clear(struct tiny_heap *h) { h->uc = _hak_tiny_ucache_none; }

/* Whether h's unit cache holds no slab (the check of a debug build). */
hak_unused static bool ucache_empty(const struct tiny_heap *h)
{
    for (unsigned i = 0; i < TINY_UCACHE; i++)
        if (h->uc.slab[i] != &_hak_tiny_slab_none)
            return false;
    return true;
}

_Static_assert(sizeof(struct tiny_heap) <= HAK_META_MAX, "a heap is a metadata record");

/* Slabs left by exited threads, per class, doubly linked for O(1) adoption.
 * The purger's sweep walks a class's list only when it may find work: a
 * slab joined it or had a first remote free since its last walk
 * (_hak_tiny_abandoned_dirty), or a slab the walk left for later falls due
 * (due, written under the lock; 0: none). */
static struct {
    hak_lock_t lock;
    struct tiny_slab *head;
    _Atomic uint64_t due;
} abandoned[HAK_NCLASS];
HAK_LOCK_LIST(&abandoned[0].lock, HAK_NCLASS, sizeof abandoned[0], HAK_RANK_TINY_ABANDONED);

/* The kernel has no membarrier: the purger claims no heap (see heap_claim),
 * so heaps keep no emptied slabs it could not purge. */
static _Atomic bool no_barrier;

/* h is retired or lost: its figure of bytes out goes to the process-wide
 * one (its blocks are still out). */
static void retire_out(struct tiny_heap *h)
{
    atomic_fetch_add_explicit(&_hak_tiny_retired_out, atomic_exchange_explicit(&h->out_bytes, 0, memory_order_relaxed),
                              memory_order_relaxed);
}

/* ------------------------------------------------------------------ heaps */

struct tiny_heap *_hak_tiny_heap_create(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    hak_lock(&reg_lock);
    struct tiny_heap *h = heap_pool;
    if (h) {
        heap_pool = h->reg_next;
        /* Keep the notify stack: stale entries are checked when drained. */
        struct tiny_slab *pending = atomic_load(&h->notify);
        memset(h, 0, offsetof(struct tiny_heap, cctr));
        atomic_store(&h->notify, pending);
    } else if ((h = _hak_meta_alloc(sizeof *h)) != NULL) {
        ucache_clear(h); /* a pooled heap's is empty: each slab left it as it went */
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
        t->bound[c] = t->room[c] = _hak_tiny_bound[c];
    }
    t->grown = 0;
    t->key = _hak_key;
    t->lkey = _hak_list_key;
    t->rng = _hak_key ^ (uintptr_t)t;
    t->heap = h;
    t->uc = &h->uc;
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
    return s->list == TINY_LIST_PARTIAL ? &cs->partial : s->list == TINY_LIST_FULL ? &cs->full : &cs->kept;
}

/* The owner's view of h's kept slabs: s joins them (n = 1) or leaves (-1). */
static void kept_count(struct tiny_heap *h, const struct tiny_slab *s, int n)
{
    atomic_store_explicit(&h->kept_bytes,
                          atomic_load_explicit(&h->kept_bytes, memory_order_relaxed) + n * tiny_slab_span(s),
                          memory_order_relaxed);
    if (s->carved) /* a slab the purger reset holds no pages */
        atomic_store_explicit(&h->kept_resident,
                              atomic_load_explicit(&h->kept_resident, memory_order_relaxed) + (uint32_t)n,
                              memory_order_relaxed);
}

static void slab_unlink(struct tiny_heap *h, struct tiny_slab *s)
{
    if (s->list == TINY_LIST_PARTIAL || s->list == TINY_LIST_FULL || s->list == TINY_LIST_KEPT)
        list_remove(list_of(h, s), s);
    else if (s->list == TINY_LIST_CUR)
        h->cls[s->cls].cur = NULL;
    if (s->list == TINY_LIST_KEPT)
        kept_count(h, s, -1);
    s->list = TINY_LIST_NONE;
}

void _hak_tiny_slab_move(struct tiny_heap *h, struct tiny_slab *s, uint8_t to)
{
    slab_unlink(h, s);
    s->list = to;
    h->classes |= (uint64_t)1 << s->cls;
    if (to == TINY_LIST_CUR)
        h->cls[s->cls].cur = s;
    else
        list_push(list_of(h, s), s);
    if (to == TINY_LIST_KEPT)
        kept_count(h, s, 1);
}

/* ------------------------------------------------------------------ release */

/* May the owner give this empty slab back? Not while a remote freer is
 * still inside it or a notify stack still points at it. */
static bool slab_releasable(struct tiny_slab *s)
{
    return s->used == 0 && !atomic_load_explicit(&s->notified, memory_order_acquire) &&
           atomic_load_explicit(&s->remote_busy, memory_order_acquire) == 0;
}

/* Removes s's units from the unit cache of h, this thread's heap. */
static void ucache_forget(struct tiny_heap *h, const struct tiny_slab *s)
{
    uintptr_t u0 = s->data >> HAK_UNIT_SHIFT;
    for (uintptr_t u = u0; u < u0 + s->units; u++)
        if (h->uc.slab[TINY_UCACHE_SLOT(u)] == s)
            h->uc.slab[TINY_UCACHE_SLOT(u)] = &_hak_tiny_slab_none;
}

/* Gives s, with no block out and on no list, back to its SuperSlab or the
 * fallback cache; h is its owner's heap, or NULL for an abandoned slab.
 * Returns s's SuperSlab while it is still h's, else NULL (see
 * _hak_ss_slab_release). */
static struct tiny_ss *slab_give_back(struct tiny_heap *h, struct tiny_slab *s)
{
    if (s->ss)
        return _hak_ss_slab_release(h, s);
    _hak_fb_slab_release(s);
    return NULL;
}

/* An emptied slab of h's leaves h: see slab_give_back. */
static struct tiny_ss *slab_release(struct tiny_heap *h, struct tiny_slab *s)
{
    ucache_forget(h, s);
    slab_unlink(h, s);
    HAK_CTR_INC(tiny, slab_release);
    return slab_give_back(h, s);
}

/* A slab of h's with no block out, held by the purger (see drain_idle):
 * its pages go back, and its owner carves it again from the start. */
static void slab_reset(struct tiny_slab *s)
{
    size_t len = hak_align_up((size_t)s->carved * s->size, HAK_PAGE_SIZE);
    s->free = NULL;
    s->carved = 0;
    _hak_purge_now((void *)s->data, len);
}

/* s, a slab of h's other than the current one, has just been emptied (and
 * is releasable): kept set up for its class's next blocks (mid.keep), or
 * given back. A slab of blocks of a unit or more serves only a few blocks
 * per set-up, which costs more than they do (mir: 256 KiB blocks, two a
 * slab). The last kept is taken first; the purger purges those unused for
 * the delay (kept_purge). */
static void slab_emptied(struct tiny_heap *h, struct tiny_slab *s)
{
    if (!(_hak_tiny_keep_classes >> s->cls & 1) || atomic_load_explicit(&no_barrier, memory_order_relaxed) ||
        atomic_load_explicit(&h->kept_bytes, memory_order_relaxed) + tiny_slab_span(s) > _hak_tiny_keep) {
        slab_release(h, s);
        return;
    }
    s->listed_at = _hak_os_coarse_ns();
    bool first = atomic_load_explicit(&h->kept_resident, memory_order_relaxed) == 0;
    if (first)
        atomic_store_explicit(&h->kept_first, s->listed_at, memory_order_relaxed);
    _hak_tiny_slab_move(h, s, TINY_LIST_KEPT);
    HAK_CTR_INC(tiny, slab_keep);
    if (first) /* later ones fall due after it: its pass finds them */
        _hak_purge_kick();
}

/* Processes h's notify stack: slabs of h's that got remote frees while full
 * become partial; stale entries only lose their flag. Those left empty go
 * back to their source, or, for the purger (which may not change the
 * owner's unit cache), are reset; returns how many were. For a refill of
 * class c (c < HAK_NCLASS), the first slab of class c left empty stays
 * partial instead, stored at *spare: given back, the refill would set up
 * another slab of c in its place, and carve it anew. */
static unsigned drain_notify(struct tiny_heap *h, bool purger, unsigned c, struct tiny_slab **spare)
{
    if (!atomic_load_explicit(&h->notify, memory_order_relaxed))
        return 0;
    unsigned reset = 0;
    struct tiny_slab *s = atomic_exchange_explicit(&h->notify, NULL, memory_order_acquire);
    while (s) {
        struct tiny_slab *next = s->notify_next;
        atomic_store_explicit(&s->notified, 0, memory_order_release);
        if (atomic_load_explicit(&s->owner, memory_order_relaxed) == h && s->list != TINY_LIST_NONE) {
            tiny_drain_remote(s);
            if (s->list == TINY_LIST_FULL && s->free)
                _hak_tiny_slab_move(h, s, TINY_LIST_PARTIAL);
            if (!purger && s->list != TINY_LIST_CUR && s->list != TINY_LIST_KEPT && slab_releasable(s)) {
                if (s->cls == c && !*spare)
                    *spare = s;
                else
                    slab_emptied(h, s);
            } else if (purger && s->list != TINY_LIST_KEPT && s->used == 0 && s->carved &&
                       atomic_load_explicit(&s->remote_busy, memory_order_acquire) == 0) {
                slab_reset(s);
                reset++;
            }
        }
        s = next;
    }
    return reset;
}

struct tiny_slab *_hak_tiny_drain_notify_slow(struct tiny_heap *h, unsigned c)
{
    struct tiny_slab *spare = NULL;
    drain_notify(h, false, c, &spare);
    return spare;
}

/* ------------------------------------------------------------------ adoption */

static void abandon(struct tiny_slab *s)
{
    unsigned c = s->cls;
    s->listed_at = _hak_os_coarse_ns();
    hak_lock(&abandoned[c].lock);
    s->list = TINY_LIST_ABANDONED;
    atomic_store_explicit(&s->owner, NULL, memory_order_release);
    list_push(&abandoned[c].head, s);
    hak_unlock(&abandoned[c].lock);
    /* Its remote list may hold blocks pushed while it was owned. */
    atomic_store_explicit(&_hak_tiny_abandoned_dirty[c], true, memory_order_release);
    HAK_CTR_INC(tiny, slab_abandon);
}

/* Takes s (or, with s NULL, the first abandoned slab of class c) for h,
 * and drains its remote frees. */
struct tiny_slab *_hak_tiny_adopt(struct tiny_heap *h, unsigned c, struct tiny_slab *s)
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
    tiny_drain_remote(s);
    HAK_CTR_INC(tiny, slab_adopt);
    return s;
}

/* The earlier of two deadlines, 0 standing for none. */
static uint64_t earliest(uint64_t a, uint64_t b) { return !a ? b : !b ? a : a < b ? a : b; }

/* Abandoned slabs are adopted by refills of their class (stage 4), not by
 * the frees that land in them (unless _hak_tiny_adopt_free): blocks freed
 * into a slab of a class nobody allocates would wait there for ever, and
 * hold its memory. The purger drains the remote frees of abandoned slabs
 * abandoned or last drained at least the delay ago, and gives back those
 * left with no block out; the others go back on their list. Off its list,
 * a slab is the sweep's: adoption skips it and frees into it stay remote.
 * Returns when the next falls due, or 0 (a first remote free into an
 * abandoned slab kicks the purger). Trim sweeps them all (now: the end of
 * time). */
static uint64_t abandoned_sweep(uint64_t now, uint64_t delay)
{
    uint64_t next = 0;
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        if (!HAK_PEEK(abandoned[c].head))
            continue;
        uint64_t later = atomic_load_explicit(&abandoned[c].due, memory_order_relaxed);
        /* The flag goes before the walk: a first remote free after it sets it again. */
        bool dirty = atomic_exchange_explicit(&_hak_tiny_abandoned_dirty[c], false, memory_order_acq_rel);
        if (!dirty && !(later && later <= now)) {
            next = earliest(next, later);
            continue;
        }
        struct tiny_slab *due = NULL;
        later = 0;
        hak_lock(&abandoned[c].lock);
        for (struct tiny_slab *s = abandoned[c].head, *n; s; s = n) {
            n = s->next;
            if (!atomic_load_explicit(&s->remote, memory_order_relaxed))
                continue;
            if (s->listed_at + delay > now) {
                later = earliest(later, s->listed_at + delay);
                continue;
            }
            list_remove(&abandoned[c].head, s);
            s->list = TINY_LIST_NONE;
            s->next = due;
            due = s;
        }
        atomic_store_explicit(&abandoned[c].due, later, memory_order_relaxed);
        hak_unlock(&abandoned[c].lock);
        next = earliest(next, later);
        struct tiny_slab *back = NULL;
        hak_unused unsigned drained = 0, released = 0; /* counted, unless counters are compiled out */
        while (due) {
            struct tiny_slab *s = due;
            due = s->next;
            tiny_drain_remote(s);
            drained++;
            if (slab_releasable(s)) {
                released++;
                slab_give_back(NULL, s);
            } else {
                s->next = back;
                back = s;
            }
        }
        if (back) {
            uint64_t stamp = _hak_os_coarse_ns(); /* now, but for trim's */
            hak_lock(&abandoned[c].lock);
            while (back) {
                struct tiny_slab *s = back;
                back = s->next;
                s->listed_at = stamp;
                s->list = TINY_LIST_ABANDONED;
                list_push(&abandoned[c].head, s);
            }
            hak_unlock(&abandoned[c].lock);
        }
        HAK_GCTR_ADD(tiny, abandon_drain, drained);
        HAK_GCTR_ADD(tiny, abandon_release, released);
    }
    return next;
}

/* ------------------------------------------------------------------ returns */

/* Blocks of h's came back to s (their links are already on s's list): s
 * changes lists, or goes back to its source once empty (owner only). */
void _hak_tiny_slab_returned(struct tiny_heap *h, struct tiny_slab *s)
{
    if (s->list == TINY_LIST_FULL)
        _hak_tiny_slab_move(h, s, TINY_LIST_PARTIAL);
    if (s->list == TINY_LIST_PARTIAL && slab_releasable(s))
        slab_emptied(h, s);
}

/* Returns up to n blocks from the head of t's list c to their slabs, a run
 * at a time: consecutive blocks of one slab are already linked, so a run
 * costs one slab lookup and one splice onto the slab's list, whatever its
 * length. Blocks keep their free marks. A link to something that is not a
 * block of a slab of h's (in check or secure mode, where links are
 * validated) is reported and the rest of the list is dropped (leaked). */
void _hak_tiny_flush_list(struct tiny_heap *h, struct tiny_tls *t, unsigned c, unsigned n)
{
    uintptr_t key = _hak_list_key;
    void *b = t->head[c];
    int64_t bytes = 0;
    uint32_t total = 0;
    while (n > 0 && b) {
        struct tiny_slab *s = tiny_slab_of((uintptr_t)b);
        if (hak_unlikely(_hak_tiny_validate_links) &&
            (!s || atomic_load_explicit(&s->owner, memory_order_relaxed) != h || !tiny_link_ok(s, b))) {
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
        if (hak_likely(!_hak_tiny_validate_links)) { /* the key is 0: see _hak_tiny_validate_links */
            do {
                last = b;
                b = tiny_link_get(b, 0);
            } while (--n > 0 && (uintptr_t)b - lo < limit);
        } else {
            do {
                last = b;
                b = tiny_link_get(b, key);
            } while (--n > 0 && (uintptr_t)b - lo < limit && tiny_link_ok(s, b));
        }
        uint32_t k = n0 - n;
        tiny_link_set(last, s->free, key);
        s->free = first;
        s->used -= k;
        total += k;
        bytes += (int64_t)k * s->size;
        HAK_CTR_INC(free, flush_runs);
        _hak_tiny_slab_returned(h, s);
    }
    t->head[c] = b;
    t->room[c] = b ? t->room[c] + total : t->bound[c];
    tiny_out_add(-bytes);
    HAK_CTR_ADD(free, ss_local, total);
}

/* ------------------------------------------------------------------ exit */

/* Everything a heap holds goes back: TLS lists to their slabs, empty slabs
 * to their source, the rest abandoned for other threads to adopt. Used at
 * thread exit, and in a fork child for the threads that did not survive. */
static void heap_retire(struct tiny_heap *h)
{
    struct tiny_tls *t = h->tls;
    /* A TLS list holds blocks of the heap's own slabs: only the classes
     * it had slabs of can have one (class 0's list is always empty). */
    for (uint64_t m = h->classes & ~(uint64_t)1; m; m &= m - 1)
        if (t->head[__builtin_ctzll(m)])
            _hak_tiny_flush_list(h, t, __builtin_ctzll(m), UINT32_MAX);
    tiny_drain_notify(h);
    for (uint64_t m = h->classes; m; m &= m - 1) {
        struct tiny_class_state *cs = &h->cls[__builtin_ctzll(m)];
        struct tiny_slab *lists[4] = { cs->cur, cs->partial, cs->full, cs->kept };
        for (int i = 0; i < 4; i++) {
            struct tiny_slab *s = lists[i];
            while (s) {
                struct tiny_slab *next = i == 0 ? NULL : s->next;
                tiny_drain_remote(s);
                if (slab_releasable(s)) {
                    slab_release(h, s);
                } else {
                    ucache_forget(h, s);
                    slab_unlink(h, s);
                    abandon(s);
                }
                s = next;
            }
        }
    }
    /* Notifications that raced with the abandoning: drop their flags. */
    tiny_drain_notify(h);
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

/* t's lists are back at their base bounds: their growth leaves the total. */
static void grown_release(struct tiny_tls *t)
{
    atomic_fetch_sub_explicit(&_hak_tiny_grown_total, t->grown, memory_order_relaxed);
    t->grown = 0;
}

void _hak_tiny_thread_exit(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    struct tiny_heap *h = t->heap;
    if (!h) { /* a thread that only freed */
        _hak_counters_retire(&_hak_thread.ctr, NULL);
        return;
    }
    HAK_CTR_INC(tiny, thread_exit);
    tiny_slow_enter(h);
    heap_retire(h);
    /* From here a call to malloc or free (another key's destructor, glibc
     * itself) sets up a fresh heap, which re-arms this destructor. */
    t->heap = NULL;
    t->uc = &_hak_tiny_ucache_none; /* its slabs are not this thread's now */
    t->state = TINY_THREAD_EXITED;
    memset(t->bound, 0, sizeof t->bound);
    memset(t->room, 0, sizeof t->room);
    grown_release(t);
    _hak_counters_retire(&_hak_thread.ctr, &h->cctr);
    hak_assert(ucache_empty(h)); /* each slab left it as it went: pooled, the heap's cache is clear */
    heap_unregister(h);
}

void _hak_tiny_flush_tls(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    struct tiny_heap *h = t->heap;
    if (!h)
        return;
    tiny_slow_enter(h);
    for (uint64_t m = h->classes & ~(uint64_t)1; m; m &= m - 1) { /* as in heap_retire */
        unsigned c = (unsigned)__builtin_ctzll(m);
        _hak_tiny_flush_list(h, t, c, UINT32_MAX);
        t->bound[c] = t->room[c] = _hak_tiny_bound[c]; /* empty now: grown bounds start over */
    }
    grown_release(t);
    tiny_drain_notify(h);
    for (uint64_t m = h->classes; m; m &= m - 1) {
        struct tiny_class_state *cs = &h->cls[__builtin_ctzll(m)];
        if (cs->cur) {
            tiny_drain_remote(cs->cur);
            if (slab_releasable(cs->cur))
                slab_release(h, cs->cur);
        }
        for (struct tiny_slab *s = cs->kept, *next; s; s = next) {
            next = s->next;
            if (slab_releasable(s))
                slab_release(h, s);
        }
    }
    tiny_slow_leave(h);
}

size_t _hak_tiny_trim(void)
{
    _hak_tiny_flush_tls();
    abandoned_sweep(UINT64_MAX, 0); /* their SuperSlabs may go empty: before the trim */
    return _hak_tiny_use_ss ? _hak_ss_trim() : _hak_fb_trim();
}

size_t _hak_tiny_cached_bytes(void) { return _hak_tiny_use_ss ? _hak_ss_cached_bytes() : _hak_fb_cached_bytes(); }

/* ------------------------------------------------------------------ idle heaps */

/* An owner takes back what other threads freed into its slabs only when it
 * refills, so a thread that stops refilling pins those blocks, and the
 * slabs they would empty (larson's main thread fills slabs before its
 * workers start, then sleeps while they free its blocks). For a heap whose
 * owner has not been in its slow path for madvise.delay, and has remote
 * frees waiting, the purger does it: it claims the heap (see
 * tiny_slow_enter), drains the slabs on its notify stack, and purges those
 * left with no block out. They stay the owner's, to carve again from the
 * start: slabs that changed hands would have to leave the owner's unit
 * cache, which only its thread may write. Nothing the fast paths read
 * changes: a slab with no block out has nothing in a TLS list either. */


/* Claims h (under reg_lock, so h stays listed): false if its owner is in
 * its slow path, which it then finishes undisturbed. */
static bool heap_claim(struct tiny_heap *h)
{
    atomic_store_explicit(&h->claim, 1, memory_order_seq_cst);
    bool barrier = _hak_os_membarrier() == 0;
    if (!barrier || atomic_load_explicit(&h->in_slow, memory_order_acquire)) {
        atomic_store_explicit(&h->claim, 0, memory_order_release);
        if (!barrier)
            atomic_store_explicit(&no_barrier, true, memory_order_relaxed);
        return false;
    }
    return true;
}

void _hak_tiny_claim_wait(struct tiny_heap *h)
{
    do {
        atomic_store_explicit(&h->in_slow, 0, memory_order_release);
        while (atomic_load_explicit(&h->claim, memory_order_acquire))
            sched_yield();
        tiny_slow_mark(h);
    } while (atomic_load_explicit(&h->claim, memory_order_acquire));
}

size_t _hak_tiny_unkeep(struct tiny_heap *h, unsigned c, struct tiny_ss **ss)
{
    /* The class whose demand left longest ago (its last kept is the
     * oldest) gives its last kept: no walk down a list. */
    struct tiny_slab *give = NULL;
    for (uint64_t m = h->classes & _hak_tiny_keep_classes & ~((uint64_t)1 << c); m; m &= m - 1) {
        struct tiny_slab *s = h->cls[__builtin_ctzll(m)].kept;
        if (s && slab_releasable(s) && (!give || s->listed_at < give->listed_at))
            give = s;
    }
    if (!give)
        return 0;
    size_t span = tiny_slab_span(give);
    *ss = slab_release(h, give);
    HAK_CTR_INC(tiny, kept_yield);
    return span;
}

/* Purges h's kept slabs unused for the delay, which stay kept, to be carved
 * again from the start (by the purger holding h, or by h's own thread
 * between two operations); returns when the next falls due, or 0. */
static uint64_t kept_purge(struct tiny_heap *h, uint64_t now, uint64_t delay)
{
    uint64_t first = 0;
    uint32_t resident = 0;
    hak_unused uint32_t purged = 0; /* counted, unless counters are compiled out */
    for (uint64_t m = h->classes & _hak_tiny_keep_classes; m; m &= m - 1)
        for (struct tiny_slab *s = h->cls[__builtin_ctzll(m)].kept; s; s = s->next) {
            if (!s->carved)
                continue;
            if (s->listed_at + delay <= now && atomic_load_explicit(&s->remote_busy, memory_order_acquire) == 0) {
                slab_reset(s);
                purged++;
            } else {
                resident++;
                first = earliest(first, s->listed_at);
            }
        }
    atomic_store_explicit(&h->kept_resident, resident, memory_order_relaxed);
    atomic_store_explicit(&h->kept_first, first, memory_order_relaxed);
    HAK_GCTR_ADD(tiny, kept_purge, purged);
    return resident ? first + delay : 0;
}

/* The purger's pass over the live heaps: idle heaps with remote frees
 * waiting are drained (tiny.drain_idle), kept slabs unused for the delay
 * purged. Returns when the next heap falls due, or 0. A heap its owner is
 * changing (a claim refused) is looked at again a delay later. */
static uint64_t drain_idle(uint64_t now)
{
    uint64_t delay = _hak_purge_delay_ns(), next = 0;
    if (!delay || atomic_load_explicit(&no_barrier, memory_order_relaxed))
        return 0;
    bool drain = HAK_OPT(tiny_drain_idle);
    struct tiny_heap *self = _hak_thread.tiny.heap;
    hak_lock(&reg_lock);
    for (struct tiny_heap *h = reg_head; h; h = h->reg_next) {
        uint64_t calls = atomic_load_explicit(&h->slow_calls, memory_order_relaxed);
        if (calls != h->idle_calls || !h->idle_since) {
            h->idle_calls = calls;
            h->idle_since = now;
        }
        uint64_t idle_due = 0, kept_due = 0;
        if (drain && h != self && atomic_load_explicit(&h->notify, memory_order_relaxed))
            idle_due = h->idle_since + delay;
        if (atomic_load_explicit(&h->kept_resident, memory_order_relaxed))
            kept_due = atomic_load_explicit(&h->kept_first, memory_order_relaxed) + delay;
        bool idle = idle_due && idle_due <= now, kept = kept_due && kept_due <= now;
        if (!idle && !kept) {
            next = earliest(next, earliest(idle_due, kept_due));
            continue;
        }
        if (h == self) { /* kept slabs only; not from inside this thread's slow path */
            if (atomic_load_explicit(&h->in_slow, memory_order_relaxed)) {
                next = earliest(next, now + delay);
                continue;
            }
            /* Marked as one, without counting as the owner's activity: a
             * fork from a signal handler that interrupts the purge leaves
             * its child without this heap (_hak_tiny_fork_child), not with
             * a slab half reset and the resident count not yet updated. */
            tiny_slow_mark(h);
            next = earliest(next, kept_purge(h, now, delay));
            tiny_slow_leave(h);
            continue;
        }
        if (!heap_claim(h)) {
            next = earliest(next, now + delay);
            continue;
        }
        if (idle) {
            hak_unused unsigned reset = drain_notify(h, true, HAK_NCLASS, NULL); /* counted, unless counters are compiled out */
            HAK_GCTR_ADD(tiny, idle_drain, 1);
            HAK_GCTR_ADD(tiny, idle_reset, reset);
            idle_due = 0;
        }
        if (kept)
            kept_due = kept_purge(h, now, delay);
        atomic_store_explicit(&h->claim, 0, memory_order_release);
        next = earliest(next, earliest(idle_due, kept_due));
    }
    hak_unlock(&reg_lock);
    return next;
}

uint64_t _hak_tiny_decay(uint64_t now)
{
    uint64_t next = abandoned_sweep(now, _hak_purge_delay_ns());
    return earliest(earliest(next, _hak_tiny_use_ss ? _hak_ss_decay(now) : _hak_fb_decay(now)), drain_idle(now));
}

/* A figure of each live heap, summed over the registry. */
static int64_t heap_out(const struct tiny_heap *h) { return atomic_load_explicit(&h->out_bytes, memory_order_relaxed); }
static int64_t heap_kept(const struct tiny_heap *h)
{
    return (int64_t)atomic_load_explicit(&h->kept_bytes, memory_order_relaxed);
}
static int64_t heaps_sum(int64_t (*of)(const struct tiny_heap *))
{
    int64_t sum = 0;
    hak_lock(&reg_lock);
    for (struct tiny_heap *h = reg_head; h; h = h->reg_next)
        sum += of(h);
    hak_unlock(&reg_lock);
    return sum;
}

size_t _hak_tiny_live_bytes(void)
{
    int64_t sum = atomic_load_explicit(&_hak_tiny_retired_out, memory_order_relaxed) + heaps_sum(heap_out);
    return sum > 0 ? (size_t)sum : 0;
}

size_t _hak_tiny_kept_bytes(void) { return (size_t)heaps_sum(heap_kept); }

size_t _hak_tiny_own_cached_bytes(void)
{
    const struct tiny_tls *t = &_hak_thread.tiny;
    size_t bytes = 0;
    if (t->heap)
        for (unsigned c = 1; c < HAK_NCLASS; c++)
            bytes += (size_t)(t->bound[c] - t->room[c]) * _hak_class_size[c];
    return bytes;
}

void _hak_tiny_foreach_counters(void (*fn)(const struct hak_counters *, const struct hak_class_counters *, void *),
                                void *arg)
{
    hak_lock(&reg_lock);
    for (struct tiny_heap *h = reg_head; h; h = h->reg_next)
        fn(h->ctr, &h->cctr, arg);
    hak_unlock(&reg_lock);
}

/* ------------------------------------------------------------------ fork */

bool _hak_tiny_busy(void)
{
    struct tiny_heap *h = _hak_thread.tiny.heap;
    return h && atomic_load_explicit(&h->in_slow, memory_order_relaxed);
}

/* The heap this thread had is given up in the child: its lists stay as
 * they are (leaked) and the next allocation sets up a fresh heap. */
static void lose_own_heap(struct tiny_tls *t)
{
    retire_out(t->heap);
    memset(t->head, 0, sizeof t->head);
    memset(t->room, 0, sizeof t->room);
    memset(t->bound, 0, sizeof t->bound);
    t->grown = 0; /* the total starts over in the child */
    t->heap = NULL;
    t->uc = &_hak_tiny_ucache_none;
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
            _hak_tiny_flush_list(h, t, c, 1);
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
 * path (in_slow), or while the purger held it (claim); the inline fast
 * paths publish with one store. */
void _hak_tiny_fork_child(void)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    /* Claimed: the purger, which the child has not, was changing the heap
     * (a fork from a signal handler whose bounded prepare did not wait for
     * the registry lock it held); its claim would also stop every slow path
     * of the child for ever. */
    if (t->heap && (atomic_load_explicit(&t->heap->in_slow, memory_order_relaxed) ||
                    atomic_load_explicit(&t->heap->claim, memory_order_relaxed)))
        lose_own_heap(t);
    else if (t->heap)
        recount_own_lists(t->heap, t);
    struct tiny_heap *self = t->heap;
    if (self)
        ucache_clear(self); /* a cache: refilled on use */
    atomic_store_explicit(&_hak_tiny_grown_total, t->grown, memory_order_relaxed); /* the only thread left */
    if (hak_lock_torn(&reg_lock)) {
        heap_pool = NULL; /* pooled heaps leak with the registry */
    } else {
        /* Their counters are plain words in the copied TLS and heaps: read
         * as stats. */
        for (struct tiny_heap *h = reg_head; h; h = h->reg_next)
            if (h != self) {
                _hak_counters_retire(h->ctr, &h->cctr);
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
