/* vg.h — valgrind client requests (./configure --enable-valgrind), so that
 * memcheck sees hakmem's blocks as it sees glibc's under LD_PRELOAD: use
 * after free, leaks, uninitialised reads and invalid or double frees in the
 * program. Every macro compiles to nothing without the option; with it, the
 * hooks cost one client request (a few no-op instructions) per call when
 * not running under valgrind.
 *
 * The entry points wrap hakmem's own work in HAK_VG_QUIET: hakmem reads and
 * writes freed blocks on purpose (free-list links, the double-free mark) and
 * reads a live block's mark word on free, which memcheck would otherwise
 * report as the program's errors. Blocks are described with their usable
 * size, which the program may use in full (malloc_usable_size). */
#ifndef HAK_VG_H
#define HAK_VG_H

#include "internal.h"

#if HAK_VALGRIND
#include "alloc.h"
#include <errno.h>
#include <valgrind/memcheck.h>

#define HAK_VG_ON() hak_unlikely(RUNNING_ON_VALGRIND)
/* Memcheck's error reporting off for the calling thread while stmt runs. */
#define HAK_VG_QUIET(stmt)                  \
    do {                                    \
        VALGRIND_DISABLE_ERROR_REPORTING;   \
        stmt;                               \
        VALGRIND_ENABLE_ERROR_REPORTING;    \
    } while (0)

/* p, just allocated for n bytes (NULL: failed), becomes a memcheck block:
 * undefined, or defined when zeroed (calloc). */
static inline void *_hak_vg_malloced(void *p, size_t n, bool zeroed)
{
    if (p) {
        size_t u;
        HAK_VG_QUIET(u = _hak_usable_size(p, "malloc"));
        VALGRIND_MALLOCLIKE_BLOCK(p, u > n ? u : n, 0, zeroed);
    }
    return p;
}

/* Copies the definedness of len bytes from p to q, a chunk at a time. */
static inline void _hak_vg_copy_vbits(void *q, const void *p, size_t len)
{
    unsigned char vbits[1024];
    for (size_t off = 0; off < len; off += sizeof vbits) {
        size_t k = len - off < sizeof vbits ? len - off : sizeof vbits;
        if (VALGRIND_GET_VBITS((const char *)p + off, vbits, k) != 1)
            (void)VALGRIND_MAKE_MEM_DEFINED((char *)q + off, k);
        else
            (void)VALGRIND_SET_VBITS((char *)q + off, vbits, k);
    }
}

/* realloc under memcheck: the old block's size is its usable size (as
 * _hak_vg_malloced described it), so an in-place resize is one request; a
 * move carries the definedness of the copied bytes over. Freeing the old
 * block overwrites its first 16 bytes (free-list link and mark), so their
 * definedness is saved first. */
static inline void *_hak_vg_realloc(void *p, size_t n, uintptr_t site, const char *fn)
{
    void *q;
    if (!p) {
        HAK_VG_QUIET(q = _hak_malloc_slow(n, site));
        return _hak_vg_malloced(q, n, false);
    }
    size_t old;
    HAK_VG_QUIET(old = _hak_usable_size(p, fn));
    if (old == 0) { /* not a block of ours: reported; as _hak_realloc */
        VALGRIND_FREELIKE_BLOCK(p, 0);
        errno = ENOMEM;
        return NULL;
    }
    unsigned char head[16];
    size_t nhead = old < sizeof head ? old : sizeof head;
    bool head_ok = VALGRIND_GET_VBITS(p, head, nhead) == 1;
    HAK_VG_QUIET(q = _hak_realloc(p, n, site, fn));
    if (!q) {
        if (n == 0) /* freed, as glibc's realloc(p, 0) */
            VALGRIND_FREELIKE_BLOCK(p, 0);
        return NULL;
    }
    size_t now;
    HAK_VG_QUIET(now = _hak_usable_size(q, fn));
    if (now < n)
        now = n;
    if (q == p) {
        VALGRIND_RESIZEINPLACE_BLOCK(p, old, now, 0);
        return q;
    }
    VALGRIND_MALLOCLIKE_BLOCK(q, now, 0, 0);
    size_t copied = n < old ? n : old;
    size_t h = copied < nhead ? copied : nhead;
    if (head_ok)
        (void)VALGRIND_SET_VBITS(q, head, h);
    else
        (void)VALGRIND_MAKE_MEM_DEFINED(q, h);
    if (copied > h)
        _hak_vg_copy_vbits((char *)q + h, (char *)p + h, copied - h);
    VALGRIND_FREELIKE_BLOCK(p, 0);
    return q;
}

/* In an entry point, before its ordinary body: under valgrind, do the work
 * quietly and describe the result, then return. */
#define HAK_VG_ALLOC(call, n, zeroed)                  \
    do {                                               \
        if (HAK_VG_ON()) {                             \
            void *vg_p_;                               \
            HAK_VG_QUIET(vg_p_ = (call));              \
            return _hak_vg_malloced(vg_p_, (n), (zeroed)); \
        }                                              \
    } while (0)
#define HAK_VG_MEMALIGN(call, out, n)                  \
    do {                                               \
        if (HAK_VG_ON()) {                             \
            int vg_r_;                                 \
            HAK_VG_QUIET(vg_r_ = (call));              \
            if (vg_r_ == 0)                            \
                _hak_vg_malloced(*(out), (n), false);  \
            return vg_r_;                              \
        }                                              \
    } while (0)
#define HAK_VG_FREE(call, p)                           \
    do {                                               \
        if (HAK_VG_ON()) {                             \
            if (p)                                     \
                VALGRIND_FREELIKE_BLOCK((p), 0);       \
            HAK_VG_QUIET(call);                        \
            return;                                    \
        }                                              \
    } while (0)
#define HAK_VG_REALLOC(p, n, site, fn)                 \
    do {                                               \
        if (HAK_VG_ON())                               \
            return _hak_vg_realloc((p), (n), (site), (fn)); \
    } while (0)
/* Anything else that reads blocks (usable size, trim, thread exit). */
#define HAK_VG_VALUE(type, call)                       \
    do {                                               \
        if (HAK_VG_ON()) {                             \
            type vg_v_;                                \
            HAK_VG_QUIET(vg_v_ = (call));              \
            return vg_v_;                              \
        }                                              \
    } while (0)
#define HAK_VG_QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define HAK_VG_QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING

#else

#define HAK_VG_ALLOC(call, n, zeroed) ((void)0)
#define HAK_VG_MEMALIGN(call, out, n) ((void)0)
#define HAK_VG_FREE(call, p) ((void)0)
#define HAK_VG_REALLOC(p, n, site, fn) ((void)0)
#define HAK_VG_VALUE(type, call) ((void)0)
#define HAK_VG_QUIET_BEGIN() ((void)0)
#define HAK_VG_QUIET_END() ((void)0)

#endif

#endif
