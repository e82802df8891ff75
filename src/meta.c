/* meta.c — a segregated free-list allocator for metadata records: 64-byte
 * classes up to 4 KiB, 1 KiB ones up to 16 KiB (a thread heap with its unit
 * cache is about 8 KiB), carved from 1 MiB regions that are never unmapped
 * (records may be read by racing threads after they are freed). */
#include "meta.h"
#include "lock.h"
#include "os.h"
#include <string.h>

#define META_ALIGN 64
#define META_SMALL 4096 /* the 64-byte classes end here */
#define META_STEP 1024  /* the step of the classes above */
#define META_MAX HAK_META_MAX
#define META_REGION ((size_t)1 << 20)
#define META_NCLASS (META_SMALL / META_ALIGN + (META_MAX - META_SMALL) / META_STEP)

static HAK_LOCK_DEFINE(meta_lock, HAK_RANK_META);
static void *meta_free_list[META_NCLASS];
static char *bump, *bump_end;

/* The class of a record of size bytes. */
static size_t meta_class(size_t size)
{
    hak_assert(size > 0 && size <= META_MAX);
    if (size <= META_SMALL)
        return (size + META_ALIGN - 1) / META_ALIGN - 1;
    return META_SMALL / META_ALIGN - 1 + (size - META_SMALL + META_STEP - 1) / META_STEP;
}

/* The bytes a record of class c has. */
static size_t meta_class_bytes(size_t c)
{
    return c < META_SMALL / META_ALIGN ? (c + 1) * META_ALIGN : META_SMALL + (c + 1 - META_SMALL / META_ALIGN) * META_STEP;
}

void *_hak_meta_alloc(size_t size)
{
    size_t c = meta_class(size), bytes = meta_class_bytes(c);
    hak_lock(&meta_lock);
    void *p = meta_free_list[c];
    if (p) {
        meta_free_list[c] = *(void **)p;
        hak_unlock(&meta_lock);
        memset(p, 0, bytes);
        return p;
    }
    if ((size_t)(bump_end - bump) < bytes) {
        char *r = _hak_os_map(META_REGION);
        if (!r) {
            hak_unlock(&meta_lock);
            return NULL;
        }
        bump = r;
        bump_end = r + META_REGION;
    }
    p = bump;
    bump += bytes;
    hak_unlock(&meta_lock);
    return p; /* fresh mapping: already zero */
}

void _hak_meta_free(void *p, size_t size)
{
    if (!p)
        return;
    size_t c = meta_class(size);
    hak_lock(&meta_lock);
    *(void **)p = meta_free_list[c];
    meta_free_list[c] = p;
    hak_unlock(&meta_lock);
}

void _hak_meta_fork_child(void)
{
    /* Cut short mid-update (a signal handler forked): the lists and the
     * region left are dropped, leaked in the child, never handed out twice. */
    if (hak_lock_torn(&meta_lock)) {
        memset(meta_free_list, 0, sizeof meta_free_list);
        bump = bump_end = NULL;
    }
}
