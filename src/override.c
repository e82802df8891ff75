/* override.c — the standard allocation functions and the glibc aliases that
 * programs reach (SPEC §2), exported when libhakmem replaces malloc. */
#include "entry.h"
#include "fmt.h"
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#if HAK_OVERRIDE

#if defined(__clang__)
#define ALIAS(fn) __attribute__((alias(#fn), visibility("default")))
#else /* copy(): the alias gets the target's attributes (nothrow, malloc, …) */
#define ALIAS(fn) __attribute__((alias(#fn), copy(fn), visibility("default")))
#endif

/* C23 names that glibc 2.36's headers do not declare yet. */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
void cfree(void *p);

/* The allocation functions of entry.def under their standard names. */
#define HAK_ENTRY_BOTH(...) HAK_ENTRY_DEFINE(, __VA_ARGS__)
#define HAK_ENTRY_HAK(...)
#define HAK_ENTRY_STD(...) HAK_ENTRY_DEFINE(, __VA_ARGS__)
#include "entry.def"

void cfree(void *p) ALIAS(free);
void *__libc_malloc(size_t n) ALIAS(malloc);
void __libc_free(void *p) ALIAS(free);
void *__libc_calloc(size_t count, size_t size) ALIAS(calloc);
void *__libc_realloc(void *p, size_t n) ALIAS(realloc);
void *__libc_memalign(size_t align, size_t n) ALIAS(memalign);
void *__libc_valloc(size_t n) ALIAS(valloc);
void *__libc_pvalloc(size_t n) ALIAS(pvalloc);
int __posix_memalign(void **out, size_t align, size_t n) ALIAS(posix_memalign);

/* C++'s replaceable operator new and delete under their mangled names (LP64,
 * where size_t is unsigned long: "m"). A new or delete expression then
 * reaches hakmem in one call, from its own call site, rather than through
 * libstdc++'s operators, which call malloc and free (a quarter of
 * larson-sized's time). libstdc++'s nothrow and aligned forms call these,
 * or aligned_alloc and free. */
#if __SIZEOF_SIZE_T__ == 8 && __SIZEOF_LONG__ == 8
void *_Znwm(size_t n);
void *_Znam(size_t n);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t n);
void _ZdaPvm(void *p, size_t n);

typedef void (*new_handler_fn)(void);

/* libstdc++'s function named sym, or NULL: looked up when needed, as a C
 * program may load the C++ runtime later (dlopen of a C++ plugin). */
static void *cxx_runtime(const char *sym) { return dlsym(RTLD_DEFAULT, sym); }

/* Operator new's failure path, as the C++ standard has it: while a
 * new_handler is installed, call it and try again; then throw
 * std::bad_alloc (through this frame: the library has unwind tables). */
static hak_cold void *new_failed(size_t n, uintptr_t site)
{
    new_handler_fn (*get_handler)(void) = (new_handler_fn(*)(void))cxx_runtime("_ZSt15get_new_handlerv");
    for (new_handler_fn h; get_handler && (h = get_handler()) != NULL;) {
        h();
        void *p = _hak_entry_malloc(n, site);
        if (p)
            return p;
    }
    void (*throw_bad_alloc)(void) = (void (*)(void))cxx_runtime("_ZSt17__throw_bad_allocv");
    if (throw_bad_alloc)
        throw_bad_alloc();
    _hak_dprintf(2, "hakmem: operator new(%zu): out of memory, and no C++ runtime to throw std::bad_alloc\n", n);
    abort();
}

/* Out of line: everything but a TLS list pop (which cxx_new tried). */
static hak_noinline void *new_slow(size_t n, uintptr_t site)
{
    void *p = HAK_VG_ON() ? _hak_entry_malloc(n, site) : _hak_malloc_slow(n, site);
    return hak_likely(p != NULL) ? p : new_failed(n, site);
}

hak_inline void *cxx_new(size_t n, uintptr_t site)
{
    if (!HAK_VG_ON()) {
        void *b = hak_alloc_fast(n);
        if (hak_likely(b != NULL))
            return b;
    }
    return new_slow(n, site);
}

hak_export void *_Znwm(size_t n) { return cxx_new(n, (uintptr_t)__builtin_return_address(0)); }
hak_export void *_Znam(size_t n) { return cxx_new(n, (uintptr_t)__builtin_return_address(0)); }
hak_export void _ZdlPv(void *p) { _hak_entry_free(p, "operator delete"); }
hak_export void _ZdaPv(void *p) { _hak_entry_free(p, "operator delete[]"); }
hak_export void _ZdlPvm(void *p, hak_unused size_t n) { _hak_entry_free(p, "operator delete"); }
hak_export void _ZdaPvm(void *p, hak_unused size_t n) { _hak_entry_free(p, "operator delete[]"); }
#endif

#endif
