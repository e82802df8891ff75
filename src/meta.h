/* meta.h — memory for hakmem's own small records (thread heaps, huge block
 * headers, fallback slab descriptors), never taken from the user heap. */
#ifndef HAK_META_H
#define HAK_META_H

#include "internal.h"

#define HAK_META_MAX 16384 /* the largest record */

/* size ≤ HAK_META_MAX; returns zeroed memory aligned to 64 bytes, or NULL. */
void *_hak_meta_alloc(size_t size);
void _hak_meta_free(void *p, size_t size);
/* In a fork child: make the allocator usable whatever the parent was doing. */
void _hak_meta_fork_child(void);

#endif
