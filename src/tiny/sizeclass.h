/* sizeclass.h — the slab size classes: 16-byte steps to 128 B, then four
 * classes per power of two up to 256 KiB (SPEC §3: never coarser than that). */
#ifndef HAK_SIZECLASS_H
#define HAK_SIZECLASS_H

#include "../internal.h"

/* Class 0 is the zero-byte request: its TLS list is always empty, so
 * malloc(0) takes the slow path (where it is counted) and gets class 1. */
#define HAK_NCLASS 53
#define HAK_CLASS_MAX_SIZE ((size_t)256 * 1024)
/* Sizes up to this are classed by one table load. */
#define HAK_CLASS_TABLE_MAX 1024

#define HAK_CLASS_SIZE(c) ((c) <= 8 ? 16u * (c) \
    : (1u << (7 + ((c) - 9) / 4)) + (((c) - 9) % 4 + 1) * (1u << (5 + ((c) - 9) / 4)))

extern const uint32_t _hak_class_size[HAK_NCLASS];
/* Class of n for n ≤ 1024, indexed by (n + 15) >> 4. */
extern const uint8_t _hak_class_small[HAK_CLASS_TABLE_MAX / 16 + 1];
/* Class of 1024 < n ≤ HAK_CLASS_MAX_SIZE, indexed by (n - 1) >> 8: above
 * 1 KiB every class size is a multiple of 256 B. */
extern const uint8_t _hak_class_mid[HAK_CLASS_MAX_SIZE / 256];

/* Class of 0 < n ≤ HAK_CLASS_MAX_SIZE. */
hak_inline unsigned hak_size_class(size_t n)
{
    if (n <= HAK_CLASS_TABLE_MAX)
        return _hak_class_small[(n + 15) >> 4] + (n == 0);
    return _hak_class_mid[(n - 1) >> 8];
}

#endif
