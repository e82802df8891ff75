/* slab.c — the bottom of the slab engine: process-wide settings and the
 * geometry of the classes, slab records (set up, published, unpublished,
 * asked whether an address is a block start), and the remote lists other
 * threads push freed blocks on and the owner drains. */
#include "engine.h"
#include "../counters.h"
#include "../options.h"
#include "../os.h"
#include "../purge.h"

uint64_t _hak_key;
size_t _hak_mid_max;
bool _hak_tiny_use_ss;
uint8_t _hak_tiny_units[HAK_NCLASS];
bool _hak_tiny_secure;
uintptr_t _hak_list_key;
uint32_t _hak_tiny_bound[HAK_NCLASS];
size_t _hak_tiny_keep;
size_t _hak_tiny_grow;
size_t _hak_tiny_grow_total;
_Atomic size_t _hak_tiny_grown_total;
uint64_t _hak_tiny_keep_classes;
bool _hak_tiny_validate_links;
bool _hak_tiny_adopt_free;
_Atomic bool _hak_tiny_abandoned_dirty[HAK_NCLASS];
_Atomic int64_t _hak_tiny_retired_out;

/* ------------------------------------------------------------------ settings */

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
    _hak_tiny_validate_links = _hak_check_on || _hak_tiny_secure;
    /* Check mode: every request gets its tail in a slab class. */
    if (_hak_check_on)
        _hak_mid_max -= HAK_CHECK_PAD;
    size_t tiny_max = (size_t)HAK_OPT(tiny_max_size);
    size_t cache_bytes = (size_t)HAK_OPT(tiny_cache_bytes);
    uint32_t cache_max = (uint32_t)HAK_OPT(tiny_cache_max);
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        size_t size = _hak_class_size[c];
        _hak_tiny_units[c] = (uint8_t)units_for(size, tiny_max);
        if (size >= HAK_UNIT_SIZE)
            _hak_tiny_keep_classes |= (uint64_t)1 << c;
        size_t b = cache_bytes / size;
        _hak_tiny_bound[c] = (uint32_t)(b < 2 ? 2 : b > cache_max ? cache_max : b);
        /* Check mode: TLS lists of bound 0 stay empty, so both inline fast
         * paths always miss and every block passes through the checks. */
        if (_hak_check_on)
            _hak_tiny_bound[c] = 0;
    }
    _hak_tiny_bound[0] = 0;
    _hak_tiny_keep = _hak_purge_delay_ns() ? (size_t)HAK_OPT(mid_keep) : 0;
    _hak_tiny_adopt_free = HAK_OPT(tiny_adopt_on_free) || !_hak_purge_delay_ns();
    _hak_tiny_grow = (size_t)HAK_OPT(tiny_cache_grow);
    _hak_tiny_grow_total = (size_t)HAK_OPT(tiny_cache_grow_total);
}

/* ------------------------------------------------------------------ records */

/* Units of a slab never cross a chunk (SuperSlab units lie in one; fallback
 * spans are aligned to their power-of-two size). */
static struct tiny_chunk *chunk_of(uintptr_t data)
{
    return HAK_CHUNK_PTR(hak_chunk_get(data));
}

void _hak_tiny_block_divisor(struct tiny_slab *s)
{
    unsigned k = (unsigned)__builtin_ctz(s->size);
    uint64_t m = s->size >> k, x = m; /* m * m = 1 mod 8: x is m's inverse to 3 bits */
    for (int i = 0; i < 5; i++)     /* each Newton step doubles the bits: 96 > 64 */
        x *= 2 - m * x;
    s->minv = x;
    s->shift = (uint8_t)k;
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
    s->capacity = units * HAK_UNIT_SIZE / size;
    s->limit = (uint32_t)(s->capacity * size);
    _hak_tiny_block_divisor(s);
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

/* ------------------------------------------------------------------ remote */

void _hak_tiny_bad_link(const char *fn, const struct tiny_slab *s, void *b)
{
    _hak_check_report(fn, "corrupted free list", b, s->cls, s->size);
}

unsigned _hak_tiny_drain_remote_slow(struct tiny_slab *s)
{
    void *r = atomic_exchange_explicit(&s->remote, NULL, memory_order_acquire);
    if (!r)
        return 0;
    unsigned n = 1;
    void *tail = r, *next;
    uintptr_t key = _hak_list_key; /* read once: the walk's stores could alias them */
    bool validate = _hak_tiny_validate_links;
    while ((next = tiny_link_get(tail, key)) != NULL) {
        if (hak_unlikely(validate) && !tiny_link_ok(s, next)) {
            _hak_tiny_bad_link("malloc", s, tail); /* the rest of the list is lost */
            break;
        }
        tail = next;
        n++;
    }
    tiny_link_set(tail, s->free, _hak_list_key);
    s->free = r;
    tiny_slab_used(s, -(int32_t)n);
    HAK_CTR_INC(free, remote_drain);
    HAK_CTR_ADD(free, remote_blocks, n);
    return n;
}

void _hak_tiny_remote_push(struct tiny_slab *s, void *p)
{
    uintptr_t a = (uintptr_t)p;
    ((uintptr_t *)p)[1] = tiny_mark(a);
    HAK_CTR_INC(free, ss_remote);
    /* Behind another remote block the push is one CAS and touches nothing
     * of s after it: the owner, free to drain and release s from then on,
     * has no one to wait for. Only the first block notifies the owner after
     * its CAS, so only it holds remote_busy across. */
    void *old = atomic_load_explicit(&s->remote, memory_order_relaxed);
    while (old) {
        tiny_link_set(p, old, _hak_list_key);
        if (atomic_compare_exchange_weak_explicit(&s->remote, &old, p, memory_order_release, memory_order_relaxed))
            return;
    }
    atomic_fetch_add_explicit(&s->remote_busy, 1, memory_order_relaxed);
    do {
        tiny_link_set(p, old, _hak_list_key);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, p, memory_order_release, memory_order_relaxed));
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
            /* A first notification: should the owner not refill for the
             * delay, the purger drains it (heap.c, drain_idle). */
            if (!head && HAK_OPT(tiny_drain_idle))
                _hak_purge_kick();
        } else if (!owner) {
            /* Abandoned: nobody drains it but a refill of its class that
             * adopts it, or the purger's sweep (heap.c, abandoned_sweep). */
            atomic_store_explicit(&_hak_tiny_abandoned_dirty[s->cls], true, memory_order_release);
            _hak_purge_kick();
        }
    }
    atomic_fetch_sub_explicit(&s->remote_busy, 1, memory_order_release);
}
