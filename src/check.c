/* check.c — check mode's block checks (HAKMEM_CHECK=1): the canary and tail
 * of a live block of any tier (overflow detection at free), the fill of a
 * free slab block (write-after-free detection on reuse), and the report
 * naming the block's size class. The checked slab path, and the free-list
 * checks on every pop, are in tiny/slow.c. */
#include "check.h"
#include "counters.h"
#include "fmt.h"
#include "options.h"
#include "os.h"
#include <stdlib.h>
#include <string.h>

#define CHECK_CANARY 0xfc /* bytes between the requested size and the tail */
#define CHECK_FILL 0xdf   /* bytes of a free block past its link and mark */

struct check_tail {
    uint32_t gap; /* bytes from the end of the request to the end of the block */
    uint32_t chk; /* tail_check(block, gap) */
};

bool _hak_check_on;
static uint64_t check_key; /* random, per process: tails are not forgeable */

void _hak_check_init(void)
{
    _hak_check_on = HAK_OPT(check) != 0;
    check_key = _hak_os_random() | 1;
}

/* Not forgeable by a stray write without the per-process key, and different
 * for every block and size. */
static uint32_t tail_check(uintptr_t a, uint32_t gap)
{
    uint64_t v = (check_key ^ a ^ ((uint64_t)gap << 40)) * 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(v >> 32);
}

static struct check_tail *tail_of(const void *b, size_t end)
{
    return (struct check_tail *)((uintptr_t)b + end - HAK_CHECK_PAD);
}

/* Whether bytes [from, to) of b all equal v. */
static bool all_equal(const void *b, size_t from, size_t to, unsigned char v)
{
    const unsigned char *p = (const unsigned char *)b + from, *end = (const unsigned char *)b + to;
    uint64_t w = 0x0101010101010101ULL * v;
    for (; p < end && ((uintptr_t)p & 7); p++)
        if (*p != v)
            return false;
    for (; p + 8 <= end; p += 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        if (x != w)
            return false;
    }
    for (; p < end; p++)
        if (*p != v)
            return false;
    return true;
}

void _hak_check_arm(void *b, size_t end, size_t n)
{
    hak_assert(n + HAK_CHECK_PAD <= end && end - n <= UINT32_MAX);
    memset((char *)b + n, CHECK_CANARY, end - HAK_CHECK_PAD - n);
    struct check_tail t = { (uint32_t)(end - n), tail_check((uintptr_t)b, (uint32_t)(end - n)) };
    memcpy(tail_of(b, end), &t, sizeof t);
}

size_t _hak_check_size(const void *b, size_t end)
{
    struct check_tail t;
    memcpy(&t, tail_of(b, end), sizeof t);
    if (t.gap < HAK_CHECK_PAD || t.gap > end || t.chk != tail_check((uintptr_t)b, t.gap) ||
        !all_equal(b, end - t.gap, end - HAK_CHECK_PAD, CHECK_CANARY))
        return SIZE_MAX;
    return end - t.gap;
}

void _hak_check_fill(void *b, size_t size)
{
    if (size > 2 * sizeof(uintptr_t))
        memset((char *)b + 2 * sizeof(uintptr_t), CHECK_FILL, size - 2 * sizeof(uintptr_t));
}

bool _hak_check_filled(const void *b, size_t size)
{
    return all_equal(b, 2 * sizeof(uintptr_t), size, CHECK_FILL);
}

void _hak_check_report(const char *fn, const char *what, const void *b, unsigned cls, size_t bytes)
{
    HAK_CTR_INC(early_return, heap_corruption);
    int mode = (int)HAK_OPT(on_error);
    if (mode == HAK_ON_ERROR_IGNORE)
        return;
    if (cls)
        _hak_dprintf(2, "hakmem: %s(): %s %p (size class %u, %zu bytes)\n", fn, what, b, cls, bytes);
    else
        _hak_dprintf(2, "hakmem: %s(): %s %p (large block, %zu bytes)\n", fn, what, b, bytes);
    if (mode == HAK_ON_ERROR_ABORT)
        abort();
}
