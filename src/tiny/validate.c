/* validate.c — the invariant checker of --enable-debug builds: walks a heap's
 * slabs and lists and aborts on the first inconsistency. Expensive; run
 * after every refill in debug builds and by the stress tests. */
#include "engine.h"

#if HAK_DEBUG

static void check_slab(struct tiny_heap *h, struct tiny_slab *s, unsigned c, uint8_t list)
{
    hak_assert(atomic_load(&s->owner) == h);
    hak_assert(s->cls == c && s->list == list);
    hak_assert(s->size == _hak_class_size[c] && s->units == _hak_tiny_units[c]);
    hak_assert(s->capacity == tiny_slab_span(s) / s->size);
    hak_assert(s->carved <= s->capacity && s->used <= s->carved);
    hak_assert((s->data & (HAK_UNIT_SIZE - 1)) == 0);
    hak_assert(tiny_slab_of(s->data) == s);
    hak_assert(tiny_slab_of(s->data + tiny_slab_span(s) - 1) == s);
    /* Local free blocks: inside the carved part, block starts, marked free,
     * and no more than carved - used of them. */
    uint32_t n = 0;
    for (void *b = s->free; b; b = tiny_link_get(b, _hak_list_key)) {
        uintptr_t a = (uintptr_t)b;
        hak_assert(tiny_is_block(s, a));
        hak_assert((a - s->data) / s->size < s->carved);
        hak_assert(((uintptr_t *)b)[1] == tiny_mark(a));
        hak_assert(++n <= s->carved);
    }
    hak_assert(n == s->carved - s->used);
    if (list == TINY_LIST_FULL)
        hak_assert(s->free == NULL && s->carved == s->capacity);
    if (s->ss) {
        hak_assert(s->ss->magic == TINY_SS_MAGIC);
        unsigned u = (unsigned)((s->data & HAK_CHUNK_MASK) >> HAK_UNIT_SHIFT);
        hak_assert(u >= 1 && u + s->units <= HAK_UNITS_PER_CHUNK);
        hak_assert(atomic_load(&s->ss->state) & ((uint64_t)1 << u));
    }
}

void _hak_tiny_validate_heap(struct tiny_heap *h)
{
    size_t kept = 0, grown = 0;
    uint32_t resident = 0;
    for (unsigned c = 1; c < HAK_NCLASS; c++) {
        struct tiny_class_state *cs = &h->cls[c];
        if (cs->cur)
            check_slab(h, cs->cur, c, TINY_LIST_CUR);
        for (struct tiny_slab *s = cs->partial; s; s = s->next) {
            hak_assert(!s->next || s->next->prev == s);
            check_slab(h, s, c, TINY_LIST_PARTIAL);
        }
        for (struct tiny_slab *s = cs->full; s; s = s->next) {
            hak_assert(!s->next || s->next->prev == s);
            check_slab(h, s, c, TINY_LIST_FULL);
        }
        for (struct tiny_slab *s = cs->kept; s; s = s->next) {
            hak_assert(!s->next || s->next->prev == s);
            check_slab(h, s, c, TINY_LIST_KEPT);
            hak_assert(s->used == 0 && s->size >= HAK_UNIT_SIZE);
            kept += tiny_slab_span(s);
            resident += s->carved != 0;
        }
        /* The TLS list: block starts of slabs this heap owns. */
        struct tiny_tls *t = h->tls;
        uint32_t n = 0, count = t->bound[c] - t->room[c];
        hak_assert(t->room[c] <= t->bound[c] && t->bound[c] >= _hak_tiny_bound[c]);
        grown += (size_t)(t->bound[c] - _hak_tiny_bound[c]) * _hak_class_size[c];
        for (void *b = t->head[c]; b; b = tiny_link_get(b, _hak_list_key)) {
            struct tiny_slab *s = tiny_slab_of((uintptr_t)b);
            hak_assert(s && s->cls == c && atomic_load(&s->owner) == h);
            hak_assert(tiny_is_block(s, (uintptr_t)b));
            hak_assert(++n <= count);
        }
        hak_assert(n == count);
    }
    hak_assert(grown == h->tls->grown);
    hak_assert(kept == atomic_load(&h->kept_bytes));
    hak_assert(resident == atomic_load(&h->kept_resident));
    for (struct tiny_ss *ss = h->ss_list; ss; ss = ss->next) {
        hak_assert(ss->magic == TINY_SS_MAGIC && ss->owner == h);
        hak_assert(atomic_load(&ss->state) & TINY_SS_OWNED);
        hak_assert(!ss->next || ss->next->prev == ss);
    }
    /* The unit cache: h's own slabs, each in the slot of one of its units. */
    for (unsigned i = 0; i < TINY_UCACHE; i++) {
        struct tiny_slab *s = h->uc.slab[i];
        if (s == &_hak_tiny_slab_none)
            continue;
        hak_assert(atomic_load(&s->owner) == h && s->list != TINY_LIST_NONE);
        bool slot = false;
        for (uintptr_t u = s->data >> HAK_UNIT_SHIFT; u < (s->data >> HAK_UNIT_SHIFT) + s->units; u++)
            slot |= TINY_UCACHE_SLOT(u) == i;
        hak_assert(slot);
    }
}

#endif
