/* slow.c — the slow paths behind tiny.h's inline ones, at the top of the
 * slab engine: refill of a thread's TLS lists by the seven stages of SPEC
 * §5.1, the slow free (local, remote, double-free and pointer checks), usable
 * size, and check mode's slab path (no TLS lists: every block checked on its
 * way out and back). The layers below are listed in engine.h. */
#include "engine.h"
#include "../counters.h"
#include "../report.h"
#include <errno.h>

/* The calling thread's heap, created on first use; NULL if out of memory.
 * Inline: every refill asks. */
static inline struct tiny_heap *tiny_heap(void)
{
    struct tiny_heap *h = _hak_thread.tiny.heap;
    return hak_likely(h != NULL) ? h : _hak_tiny_heap_create();
}

/* Blocks a refill moves to a TLS list: half its bound (at least one). */
static unsigned batch_of(unsigned c)
{
    unsigned b = _hak_tiny_bound[c] / 2;
    return b ? b : 1;
}

/* The rest of s's local list is lost to a bad link: its blocks count as
 * used (leaked) from now on, so the slab is never released under them. */
static void drop_free_list(struct tiny_slab *s)
{
    s->free = NULL;
    tiny_slab_used(s, (int32_t)(s->carved - s->used));
}

/* Whether s has a block to give: a free one, or space not yet carved. */
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
    if (hak_likely(!_hak_tiny_validate_links)) { /* the key is 0: see _hak_tiny_validate_links */
        /* s's list holds carved - used blocks (see used). If want covers
         * them all and t's list is empty, the whole list moves as it is:
         * its last link is already NULL. */
        uint32_t avail = s->carved - s->used;
        if (avail <= want && !t->head[c]) {
            t->head[c] = first;
            s->free = NULL;
            tiny_slab_used(s, (int32_t)avail);
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
            if (!tiny_link_ok(s, next)) {
                _hak_tiny_bad_link("malloc", s, last);
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
    tiny_slab_used(s, (int32_t)n);
    if (hak_unlikely(dropped))
        drop_free_list(s);
    t->room[c] -= n;
    return n;
}

/* Block b of s in front of head, marked free (and filled with check). The
 * keys come from the caller, read once per carve: the stores into blocks
 * could alias the globals, which would be reloaded for every block. */
static inline void *link_fresh(const struct tiny_slab *s, uintptr_t b, void *head, uintptr_t lkey, uintptr_t key,
                               bool check)
{
    tiny_link_set((void *)b, head, lkey);
    ((uintptr_t *)b)[1] = key ^ b; /* tiny_mark */
    if (check)
        _hak_check_fill((void *)b, s->size);
    return (void *)b;
}

/* carve_link in check or secure mode: blocks filled, and in secure mode
 * linked in a random order, shuffled TINY_SHUFFLE blocks at a time (out of
 * line: the calls and the order array would give every carve a frame). */
#define TINY_SHUFFLE 256
static hak_noinline void *carve_modes(struct tiny_tls *t, const struct tiny_slab *s, uintptr_t first, unsigned n,
                                      void *head)
{
    uintptr_t lkey = _hak_list_key, key = _hak_key;
    bool check = _hak_check_on;
    if (!_hak_tiny_secure) {
        for (unsigned i = n; i-- > 0;)
            head = link_fresh(s, first + (uintptr_t)i * s->size, head, lkey, key, check);
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
            head = link_fresh(s, first + (uintptr_t)(done + order[i]) * s->size, head, lkey, key, check);
        done += k;
    }
    return head;
}

/* Links the next n uncarved blocks of s in front of head, marked free (and
 * filled in check mode); returns the new head. Pushed from the last, so the
 * list pops in address order; in secure mode in a random order instead.
 * The caller advances s->carved. */
static void *carve_link(struct tiny_tls *t, const struct tiny_slab *s, unsigned n, void *head)
{
    uintptr_t first = s->data + (uintptr_t)s->carved * s->size, size = s->size;
    if (hak_unlikely(_hak_tiny_secure || _hak_check_on))
        return carve_modes(t, s, first, n, head);
    uintptr_t lkey = _hak_list_key, key = _hak_key;
    for (unsigned i = n; i-- > 0;)
        head = link_fresh(s, first + i * size, head, lkey, key, false);
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
    tiny_slab_used(s, (int32_t)n);
    t->room[c] -= n;
    return n;
}

/* A full slab of class c whose remote frees reached no notify stack (the
 * notification raced with a change of owner); checked before growing. */
static struct tiny_slab *reclaim_full(struct tiny_heap *h, unsigned c)
{
    for (struct tiny_slab *s = h->cls[c].full; s; s = s->next)
        if (tiny_drain_remote(s))
            return s;
    return NULL;
}

/* Stages 4–6: a slab with free blocks to become the current one (stage 4:
 * partial, abandoned or kept; stage 5: free units of an owned SuperSlab,
 * among them, before the heap grows, units other classes' kept slabs give
 * back; stage 6 after those give way in fallback mode too). */
static struct tiny_slab *next_slab(struct tiny_heap *h, unsigned c)
{
    struct tiny_class_state *cs = &h->cls[c];
    struct tiny_slab *s;
    if ((s = tiny_drain_notify_for(h, c)) != NULL) {
        HAK_CTR_INC_C(&h->cctr, tiny, refill_drained, c);
        return s;
    }
    if ((s = cs->partial) != NULL) {
        HAK_CTR_INC_C(&h->cctr, tiny, refill_partial, c);
        return s;
    }
    while ((s = _hak_tiny_adopt(h, c, NULL)) != NULL) {
        if (has_blocks(s)) {
            HAK_CTR_INC_C(&h->cctr, tiny, refill_partial, c);
            return s;
        }
        _hak_tiny_slab_move(h, s, TINY_LIST_FULL);
    }
    if ((s = cs->kept) != NULL) {
        HAK_CTR_INC_C(&h->cctr, tiny, refill_kept, c);
        return s;
    }
    unsigned units = _hak_tiny_units[c];
    if (_hak_tiny_use_ss && (s = _hak_ss_slab_owned(h, c, units)) != NULL) {
        HAK_CTR_INC_C(&h->cctr, tiny, refill_empty_slab, c);
        return s;
    }
    if ((s = reclaim_full(h, c)) != NULL) {
        HAK_CTR_INC_C(&h->cctr, tiny, refill_partial, c);
        return s;
    }
    /* Kept slabs of other classes go before the heap takes more memory. */
    struct tiny_ss *ss;
    if (_hak_tiny_use_ss) {
        /* Until the slab fits, looked for where the room was made (stage 5
         * found none before; a SuperSlab given back whole leaves its
         * reserve, found by the walk). */
        while (_hak_tiny_unkeep(h, c, &ss) != 0)
            if ((s = ss ? _hak_ss_slab_in(h, ss, c, units) : _hak_ss_slab_owned(h, c, units)) != NULL) {
                HAK_CTR_INC_C(&h->cctr, tiny, refill_empty_slab, c);
                return s;
            }
        s = _hak_ss_slab_new(h, c, units);
    } else {
        /* Fallback slabs: the new span's worth, so that its mapping adds
         * nothing to what the heap keeps (the spans given back go to the
         * empty-slab cache, or are unmapped). */
        size_t yielded = 0, n;
        while (yielded < (size_t)units * HAK_UNIT_SIZE && (n = _hak_tiny_unkeep(h, c, &ss)) != 0)
            yielded += n;
        s = _hak_fb_slab_new(h, c, units);
    }
    if (s)
        HAK_CTR_INC_C(&h->cctr, tiny, refill_new_ss, c);
    return s;
}

/* Leaves the slow path after a refill; debug builds check the heap first. */
static void leave_validated(struct tiny_heap *h)
{
#if HAK_DEBUG
    _hak_tiny_validate_heap(h);
#endif
    tiny_slow_leave(h);
}

/* Moves up to want blocks of class c from h's slabs to t's list c; returns
 * how many, 0 only when out of memory. */
static unsigned refill(struct tiny_heap *h, struct tiny_tls *t, unsigned c, unsigned want)
{
    struct tiny_class_state *cs = &h->cls[c];
    for (;;) {
        struct tiny_slab *s = cs->cur;
        if (s) {
            unsigned n;
            if (s->free && (n = take_free(t, c, s, want)) != 0) {
                HAK_CTR_INC_C(&h->cctr, tiny, refill_local, c);
                return n;
            }
            if (tiny_drain_remote(s) && (n = take_free(t, c, s, want)) != 0) {
                HAK_CTR_INC_C(&h->cctr, tiny, refill_remote, c);
                return n;
            }
            if (s->carved < s->capacity && (n = take_carve(t, c, s, want, cs->full != NULL)) != 0) {
                HAK_CTR_INC_C(&h->cctr, tiny, refill_carve, c);
                return n;
            }
            _hak_tiny_slab_move(h, s, TINY_LIST_FULL);
        }
        s = next_slab(h, c);
        if (!s) {
            HAK_CTR_INC_C(&h->cctr, tiny, refill_fail, c);
            return 0;
        }
        _hak_tiny_slab_move(h, s, TINY_LIST_CUR);
    }
}

/* A block of class c (1 ≤ c < HAK_NCLASS): TLS list, else refill. */
static void *alloc_class(unsigned c)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    if (!t->head[c]) {
        struct tiny_heap *h = tiny_heap();
        if (!h) {
            errno = ENOMEM;
            return NULL;
        }
        tiny_slow_enter(h);
        unsigned n = refill(h, t, c, batch_of(c));
        leave_validated(h);
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

/* Gives block b of h's back to its slab s (owner only): check mode's
 * free, and an overflowing free in a class whose TLS list holds two. */
static void slab_return(struct tiny_heap *h, struct tiny_slab *s, void *b)
{
    hak_assert(atomic_load(&s->owner) == h);
    tiny_link_set(b, s->free, _hak_list_key);
    s->free = b;
    tiny_slab_used(s, -1);
    HAK_CTR_INC(free, ss_local);
    _hak_tiny_slab_returned(h, s);
}

/* ------------------------------------------------------------------ check */

/* Check mode keeps no TLS lists: blocks come straight from the current
 * slab's free list, every pop verified, and go straight back to it. */

/* Blocks carved onto a slab's free list at a time in check mode. */
#define CHECK_CARVE 64

/* Pops s's free list, verifying the block (its link, its free mark, its
 * fill); NULL if the link was bad (reported; the list is dropped). */
static void *check_pop(struct tiny_slab *s)
{
    void *b = s->free;
    void *next = tiny_link_get(b, _hak_list_key);
    if (!tiny_link_ok(s, next)) {
        _hak_tiny_bad_link("malloc", s, b);
        drop_free_list(s);
        return NULL;
    }
    if (((uintptr_t *)b)[1] != tiny_mark((uintptr_t)b) || !_hak_check_filled(b, s->size))
        _hak_check_report("malloc", "write after free", b, s->cls, s->size); /* survived: the block is usable */
    s->free = next;
    tiny_slab_used(s, 1);
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
                HAK_CTR_INC_C(&h->cctr, tiny, refill_local, c);
            } else if (tiny_drain_remote(s)) {
                HAK_CTR_INC_C(&h->cctr, tiny, refill_remote, c);
            } else if (s->carved < s->capacity) {
                unsigned left = s->capacity - s->carved, n = left < CHECK_CARVE ? left : CHECK_CARVE;
                s->free = carve_link(t, s, n, NULL);
                s->carved += n;
                HAK_CTR_INC_C(&h->cctr, tiny, refill_carve, c);
            }
            if (s->free) {
                void *b = check_pop(s);
                if (b) {
                    *slab = s;
                    return b;
                }
                continue;
            }
            _hak_tiny_slab_move(h, s, TINY_LIST_FULL);
        }
        s = next_slab(h, c);
        if (!s) {
            HAK_CTR_INC_C(&h->cctr, tiny, refill_fail, c);
            return NULL;
        }
        _hak_tiny_slab_move(h, s, TINY_LIST_CUR);
    }
}

/* Check mode's allocation: a block of class c, or a larger one, with a
 * canary after n bytes. */
static void *check_alloc(unsigned c, size_t n, size_t align)
{
    /* Room for the tail: an aligned power-of-two class doubles, others take
     * the class of n plus the tail (both exist: mid_max was lowered). */
    if (n == 0)
        n = 1; /* a usable size of 0 would read as "not ours" */
    uint32_t size = _hak_class_size[c];
    if (size < n + HAK_CHECK_PAD)
        c = align ? hak_size_class((size_t)size * 2) : hak_size_class(n + HAK_CHECK_PAD);
    struct tiny_tls *t = &_hak_thread.tiny;
    struct tiny_heap *h = tiny_heap();
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    struct tiny_slab *s = NULL;
    tiny_slow_enter(h);
    void *b = check_take(h, t, c, &s);
    leave_validated(h);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    _hak_check_arm(b, s->size, n);
    HAK_CTR_INC(tiny, alloc_slow);
    return b;
}

void *_hak_tiny_alloc(unsigned c, size_t n, size_t align)
{
    if (hak_unlikely(_hak_check_on))
        return check_alloc(c, n, align);
    return alloc_class(c);
}

/* Check mode's free, after the block and double-free checks: the canary,
 * the fill, and straight back to the slab (or its remote list). */
static void check_free(void *p, struct tiny_slab *s, struct tiny_heap *h, struct tiny_heap *owner, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    if (owner == h && h && !tiny_carved(s, a)) {
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
        _hak_tiny_remote_push(s, p);
        return;
    }
    ((uintptr_t *)p)[1] = tiny_mark(a);
    tiny_slow_enter(h);
    slab_return(h, s, p);
    tiny_slow_leave(h);
}

/* ------------------------------------------------------------------ free */

/* Whether a is among the first limit blocks of a list; with s, the walk
 * stops at a link that is not a block of s (a list of s's own, corrupted). */
static bool list_contains(void *head, uintptr_t a, uint32_t limit, const struct tiny_slab *s)
{
    for (void *b = head; b && limit; b = tiny_link_get(b, _hak_list_key), limit--) {
        if ((uintptr_t)b == a)
            return true;
        if (s && !tiny_link_ok(s, b))
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
    tiny_slow_enter(h); /* s's free list is the purger's while it holds h */
    bool found = list_contains(t->head[s->cls], a, t->bound[s->cls] - t->room[s->cls] + 1, NULL) ||
                 list_contains(s->free, a, s->capacity + 1, s) ||
                 list_contains(atomic_load_explicit(&s->remote, memory_order_acquire), a, s->capacity + 1, s);
    tiny_slow_leave(h);
    return found;
}

/* Caches the unit of address a as slab s's: s is this thread's, h its heap. */
static inline void ucache_fill(struct tiny_heap *h, uintptr_t a, struct tiny_slab *s)
{
    h->uc.slab[TINY_UCACHE_SLOT(a >> HAK_UNIT_SHIFT)] = s;
}

void _hak_tiny_free_null(void)
{
    if (hak_unlikely(!_hak_thread.armed))
        _hak_thread_arm(); /* the count joins the totals at exit */
    HAK_CTR_INC(early_return, null_free);
}

void _hak_tiny_free_miss(void *p, struct tiny_slab *s, const char *fn)
{
    struct tiny_tls *t = &_hak_thread.tiny;
    uintptr_t a = (uintptr_t)p;
    /* A thread with no heap owns nothing, not even abandoned slabs. */
    struct tiny_heap *owner = atomic_load_explicit(&s->owner, memory_order_relaxed);
    if (owner == t->heap && owner) {
        ucache_fill(owner, a, s);
        HAK_CTR_INC(free, unit_miss);
        tiny_free_to(t, s, p, fn);
        return;
    }
    /* Another heap's slab (or an abandoned one, which a free does not
     * adopt), a block start not marked free, check mode off: the slow path
     * would come to the same push. */
    if ((owner || !_hak_tiny_adopt_free) && !_hak_check_on && tiny_free_ok(s, p, tiny_mark(a))) {
        if (hak_unlikely(!_hak_thread.armed))
            _hak_thread_arm(); /* as in _hak_tiny_free_slow: this thread's counters join the totals at its exit */
        _hak_tiny_remote_push(s, p);
        return;
    }
    _hak_tiny_free_slow(p, s, fn);
}

/* Doubles the bound of t's full list c if the thread's lists then stay
 * within tiny.cache_grow bytes past their base bounds, and all threads'
 * within tiny.cache_grow_total; false if not. A
 * thread whose frees come in bursts longer than a list then stops
 * returning half the list at every overflow only to take the blocks back
 * at its next allocations. The lists that grew first keep the room: taken
 * from them instead, it went back and forth between larson's classes, each
 * move a flush (430 K a run, against 115 K overflows with fixed bounds). */
static bool tls_grow(struct tiny_tls *t, unsigned c)
{
    size_t more = (size_t)t->bound[c] * _hak_class_size[c];
    if (t->grown + more > _hak_tiny_grow)
        return false;
    size_t all = atomic_load_explicit(&_hak_tiny_grown_total, memory_order_relaxed);
    do {
        if (all + more > _hak_tiny_grow_total)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&_hak_tiny_grown_total, &all, all + more, memory_order_relaxed,
                                                    memory_order_relaxed));
    t->grown += more;
    t->room[c] += t->bound[c];
    t->bound[c] *= 2;
    return true;
}

/* p, a carved block start of s not marked free, onto this thread's TLS
 * list, the list first made room in (s: its heap's, as is every slab whose
 * blocks the list holds). */
static void free_own(struct tiny_tls *t, struct tiny_slab *s, void *p)
{
    struct tiny_heap *h = t->heap;
    uintptr_t a = (uintptr_t)p;
    unsigned c = s->cls;
    tiny_slow_enter(h);
    if (t->room[c] == 0) {
        /* A thread fed by its own frees may not refill for a long time:
         * its notified slabs are drained here too, or their remote frees
         * would pin them (and their SuperSlabs) indefinitely. */
        tiny_drain_notify(h);
        if (t->bound[c] <= 2) {
            /* Large classes (a list of two, refilled a block at a time):
             * halving the list would return one block whose slab is still
             * to be looked up; p's is known, and p goes straight back. */
            HAK_CTR_INC(free, tls_flush);
            ((uintptr_t *)p)[1] = tiny_mark(a);
            slab_return(h, s, p);
            tiny_slow_leave(h);
            return;
        }
        if (tls_grow(t, c)) {
            HAK_CTR_INC(free, tls_grow);
        } else {
            HAK_CTR_INC(free, tls_flush);
            _hak_tiny_flush_list(h, t, c, t->bound[c] - t->bound[c] / 2); /* full: keep half */
        }
    }
    tiny_link_set(p, t->head[c], _hak_list_key);
    ((uintptr_t *)p)[1] = tiny_mark(a);
    t->head[c] = p;
    t->room[c]--;
    HAK_CTR_INC(free, tls_sll);
    tiny_slow_leave(h);
}

void _hak_tiny_free_slow(void *p, struct tiny_slab *s, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    if (!tiny_is_block(s, a)) {
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
    if (!owner && h && _hak_tiny_adopt_free) {
        tiny_slow_enter(h);
        if (_hak_tiny_adopt(h, s->cls, s)) {
            owner = h;
            _hak_tiny_slab_move(h, s, has_blocks(s) ? TINY_LIST_PARTIAL : TINY_LIST_FULL);
        }
        tiny_slow_leave(h);
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
        _hak_tiny_remote_push(s, p);
        return;
    }
    if (!tiny_carved(s, a)) {
        HAK_CTR_INC(early_return, invalid_ptr);
        _hak_report(fn, "invalid pointer", p);
        return;
    }
    ucache_fill(h, a, s); /* ours: the next free here is fast */
    free_own(t, s, p);
}

void _hak_tiny_free_full(void *p, struct tiny_slab *s, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    /* Check mode's lists hold nothing (bound 0): its checks are the slow path's. */
    if (hak_unlikely(_hak_check_on) || !tiny_carved(s, a)) {
        _hak_tiny_free_slow(p, s, fn);
        return;
    }
    struct tiny_tls *t = &_hak_thread.tiny;
    free_own(t, s, p);
}

size_t _hak_tiny_usable(void *p, struct tiny_slab *s, const char *fn)
{
    if (!tiny_is_block(s, (uintptr_t)p)) {
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
