/* entry.h — the body of each public allocation function, written once, and
 * the macros that define the exported functions from entry.def (api.c: the
 * hak_ names, override.c: the standard names). Under valgrind
 * (--enable-valgrind), a body does hakmem's work with memcheck's reporting
 * off and then describes the blocks to memcheck, so that memcheck sees them
 * as it sees glibc's; without the option that branch compiles to nothing. */
#ifndef HAK_ENTRY_H
#define HAK_ENTRY_H

#include "alloc.h"
#include "counters.h"
#include "vg.h"
#include <errno.h>

#if HAK_VALGRIND
/* p, just allocated for n bytes (NULL: failed), becomes a memcheck block:
 * undefined, or defined when zeroed (calloc). Its size is the usable size,
 * which the program may use in full (malloc_usable_size). */
static inline void *_hak_vg_malloced(void *p, size_t n, bool zeroed)
{
    if (p) {
        HAK_VG_QUIET_BEGIN();
        size_t u = _hak_usable_size(p, "malloc");
        HAK_VG_QUIET_END();
        VALGRIND_MALLOCLIKE_BLOCK(p, u > n ? u : n, 0, zeroed);
    }
    return p;
}

static inline void _hak_vg_freed(void *p)
{
    if (p)
        VALGRIND_FREELIKE_BLOCK(p, 0);
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
        HAK_VG_QUIET_BEGIN();
        q = _hak_malloc_slow(n, site);
        HAK_VG_QUIET_END();
        return _hak_vg_malloced(q, n, false);
    }
    HAK_VG_QUIET_BEGIN();
    size_t old = _hak_usable_size(p, fn);
    HAK_VG_QUIET_END();
    if (old == 0) { /* not a block of ours: reported; as _hak_realloc */
        VALGRIND_FREELIKE_BLOCK(p, 0);
        errno = ENOMEM;
        return NULL;
    }
    unsigned char head[16];
    size_t nhead = old < sizeof head ? old : sizeof head;
    bool head_ok = VALGRIND_GET_VBITS(p, head, nhead) == 1;
    HAK_VG_QUIET_BEGIN();
    q = _hak_realloc(p, n, site, fn);
    HAK_VG_QUIET_END();
    if (!q) {
        if (n == 0) /* freed, as glibc's realloc(p, 0) */
            VALGRIND_FREELIKE_BLOCK(p, 0);
        return NULL;
    }
    HAK_VG_QUIET_BEGIN();
    size_t now = _hak_usable_size(q, fn);
    HAK_VG_QUIET_END();
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
#else
/* Never called (HAK_VG_ON() is false): they let the bodies compile. */
static inline void *_hak_vg_malloced(void *p, hak_unused size_t n, hak_unused bool zeroed) { return p; }
static inline void _hak_vg_freed(hak_unused void *p) {}
static inline void *_hak_vg_realloc(hak_unused void *p, hak_unused size_t n, hak_unused uintptr_t site,
                                    hak_unused const char *fn)
{
    return NULL;
}
#endif

/* Under valgrind: the value of call, made with memcheck's reporting off and
 * described as a block of n bytes (an expression, GNU C). */
#define HAK_VG_ALLOCATED(call, n, zeroed)              \
    ({                                                 \
        HAK_VG_QUIET_BEGIN();                          \
        void *vg_p_ = (call);                          \
        HAK_VG_QUIET_END();                            \
        _hak_vg_malloced(vg_p_, (n), (zeroed));        \
    })

hak_inline void *_hak_entry_malloc(size_t n, uintptr_t site)
{
    if (HAK_VG_ON())
        return HAK_VG_ALLOCATED(hak_malloc_inline(n, site), n, false);
    return hak_malloc_inline(n, site);
}

hak_inline void _hak_entry_free(void *p, const char *fn)
{
    if (HAK_VG_ON()) {
        _hak_vg_freed(p);
        HAK_VG_QUIET_BEGIN();
        hak_free_inline(p, fn);
        HAK_VG_QUIET_END();
        return;
    }
    hak_free_inline(p, fn);
}

hak_inline void *_hak_entry_calloc(size_t count, size_t size, uintptr_t site)
{
    if (HAK_VG_ON())
        return HAK_VG_ALLOCATED(_hak_calloc(count, size, site), count * size, true);
    return _hak_calloc(count, size, site);
}

hak_inline void *_hak_entry_realloc(void *p, size_t n, uintptr_t site, const char *fn)
{
    if (HAK_VG_ON())
        return _hak_vg_realloc(p, n, site, fn);
    return _hak_realloc(p, n, site, fn);
}

hak_inline void *_hak_entry_reallocarray(void *p, size_t count, size_t size, uintptr_t site, const char *fn)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    return _hak_entry_realloc(p, n, site, fn);
}

hak_inline int _hak_entry_posix_memalign(void **out, size_t align, size_t n, uintptr_t site)
{
    if (HAK_VG_ON()) {
        HAK_VG_QUIET_BEGIN();
        int r = _hak_posix_memalign(out, align, n, site);
        HAK_VG_QUIET_END();
        if (r == 0)
            _hak_vg_malloced(*out, n, false);
        return r;
    }
    return _hak_posix_memalign(out, align, n, site);
}

hak_inline void *_hak_entry_memalign(size_t align, size_t n, uintptr_t site)
{
    if (HAK_VG_ON())
        return HAK_VG_ALLOCATED(_hak_memalign(align, n, site), n, false);
    return _hak_memalign(align, n, site);
}

hak_inline void *_hak_entry_aligned_alloc(size_t align, size_t n, uintptr_t site)
{
    if (!hak_is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return _hak_entry_memalign(align, n, site);
}

/* glibc's memalign rounds a non-power-of-two alignment up to the next power
 * of two. */
hak_inline void *_hak_entry_memalign_glibc(size_t align, size_t n, uintptr_t site)
{
    if (align > (SIZE_MAX >> 1) + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!hak_is_pow2(align))
        align = align < 2 ? 1 : (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
    return _hak_entry_memalign(align, n, site);
}

hak_inline void *_hak_entry_pvalloc(size_t n, uintptr_t site)
{
    /* Overflow is checked before rounding, so SIZE_MAX cannot wrap to 0. */
    if (n > PTRDIFF_MAX) {
        HAK_CTR_INC(early_return, overflow);
        errno = ENOMEM;
        return NULL;
    }
    n = n ? hak_align_up(n, HAK_PAGE_SIZE) : HAK_PAGE_SIZE;
    return _hak_entry_memalign(HAK_PAGE_SIZE, n, site);
}

hak_inline size_t _hak_entry_usable_size(void *p, const char *fn)
{
    if (HAK_VG_ON()) {
        HAK_VG_QUIET_BEGIN();
        size_t u = _hak_usable_size(p, fn);
        HAK_VG_QUIET_END();
        return u;
    }
    return _hak_usable_size(p, fn);
}

/* It flushes the TLS lists, which live in freed blocks. */
hak_inline int _hak_entry_trim(void)
{
    if (HAK_VG_ON()) {
        HAK_VG_QUIET_BEGIN();
        int r = _hak_trim();
        HAK_VG_QUIET_END();
        return r;
    }
    return _hak_trim();
}

/* Generating the exported functions: a file defines HAK_ENTRY_BOTH,
 * HAK_ENTRY_HAK and HAK_ENTRY_STD (each HAK_ENTRY_DEFINE with its prefix,
 * or nothing) and includes entry.def. */
#define HAK_ENTRY(set, type, name, params, body, args) HAK_ENTRY_##set(type, name, params, return, body, args)
#define HAK_ENTRY_VOID(set, name, params, body, args) HAK_ENTRY_##set(void, name, params, , body, args)
/* prefix##name, whose body is `ret body args;` (ret: return, or nothing). */
#define HAK_ENTRY_DEFINE(prefix, type, name, params, ret, body, args)                 \
    hak_export type prefix##name params                                               \
    {                                                                                 \
        hak_unused const uintptr_t caller = (uintptr_t)__builtin_return_address(0);  \
        hak_unused const char *const fn = #prefix #name;                              \
        ret body args;                                                                \
    }

#endif
