/* check.h — check mode (HAKMEM_CHECK=1, SPEC §2): the tail and canary every
 * live block of every tier carries, the fill of a free slab block, and the
 * report naming the block. A service under both tiers: the slab paths
 * (tiny/) and the large and huge blocks (alloc.c) apply it. */
#ifndef HAK_CHECK_H
#define HAK_CHECK_H

#include "internal.h"

/* Check mode is on (the check option, read once at start-up): every slab
 * block goes through the checked slab path and every block carries a tail. */
extern bool _hak_check_on;
void _hak_check_init(void);

/* A live block of `end` usable bytes (a slab block, or a large or huge
 * block) carries a tail in its last HAK_CHECK_PAD bytes: how far the
 * request n falls short of end, and a check word derived from the key, the
 * address and that gap; bytes from n to the tail hold a canary. A free slab
 * block holds a fill pattern past its link and mark words. */
#define HAK_CHECK_PAD 8
/* Sets up b for a request of n ≤ end - HAK_CHECK_PAD bytes. */
void _hak_check_arm(void *b, size_t end, size_t n);
/* The requested size b's tail records, or SIZE_MAX if the tail or the
 * canary was overwritten. */
size_t _hak_check_size(const void *b, size_t end);
/* Fills a freed block of size bytes past its first two words. */
void _hak_check_fill(void *b, size_t size);
/* Whether that fill is intact. */
bool _hak_check_filled(const void *b, size_t size);
/* "hakmem: FN(): WHAT 0x… (size class N, S bytes)", or for cls 0 (a large
 * or huge block) "(large block, S bytes)"; then on_error. */
void _hak_check_report(const char *fn, const char *what, const void *b, unsigned cls, size_t bytes);

#endif
