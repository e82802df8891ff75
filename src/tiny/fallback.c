/* fallback.c — the slab source of tiny.use_superslab = false: every slab is
 * its own 64 KiB-aligned mapping with no SuperSlab around it, found on free
 * through a per-chunk unit table. The baseline that shows what grouping slabs
 * into SuperSlabs is worth (SPEC §5.1). */
#include "tiny.h"
#include "../chunkmap.h"
#include "../counters.h"
#include "../meta.h"
#include "../os.h"

/* The unit records of a's chunk, created on first use and never freed: a
 * chunk that held fallback slabs keeps its 4 KiB of records. */
static struct tiny_chunk *chunk_for(uintptr_t a)
{
    for (;;) {
        uint64_t e = hak_chunk_get(a);
        if (HAK_CHUNK_KIND(e) == HAK_CHUNK_SLAB)
            return HAK_CHUNK_PTR(e);
        struct tiny_chunk *c = _hak_meta_alloc(sizeof *c);
        if (!c)
            return NULL;
        if (_hak_chunk_cas(a, &e, HAK_CHUNK_SLAB | (uintptr_t)c))
            return c;
        _hak_meta_free(c, sizeof *c);
    }
}

static size_t span_align(unsigned units)
{
    /* Aligned to the span's power-of-two size, a span never crosses a chunk. */
    size_t a = HAK_UNIT_SIZE;
    while (a < units * HAK_UNIT_SIZE)
        a <<= 1;
    return a;
}

struct tiny_slab *_hak_fb_slab_new(struct tiny_heap *h, unsigned cls, unsigned units)
{
    size_t bytes = units * HAK_UNIT_SIZE;
    void *p = _hak_os_map_aligned(bytes, span_align(units));
    if (!p)
        return NULL;
    struct tiny_chunk *c = chunk_for((uintptr_t)p);
    if (!c) {
        _hak_os_unmap(p, bytes);
        return NULL;
    }
    HAK_GCTR_ADD(tiny, fallback_map, 1);
    return _hak_tiny_slab_setup(c, (uintptr_t)p, cls, units, h, NULL);
}

void _hak_fb_slab_release(struct tiny_slab *s)
{
    void *p = (void *)s->data;
    size_t bytes = s->units * HAK_UNIT_SIZE;
    _hak_tiny_slab_unpublish(s);
    _hak_os_unmap(p, bytes);
    HAK_GCTR_ADD(tiny, fallback_unmap, 1);
}
