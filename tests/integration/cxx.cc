// cxx.cc — C++ on hakmem (SPEC §2): operator new and delete are hakmem's own (libstdc++'s nothrow and aligned forms call them or aligned_alloc and free); a huge new[] throws std::bad_alloc, nothrow new returns nullptr, a new_handler runs and can make room, aligned new and sized delete work, and the blocks are hakmem's.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <malloc.h>
#include <new>
#include <stdexcept>
#include <vector>

static int failures;

#define CHECK(cond, ...) do { \
        if (!(cond)) { \
            std::printf("not ok - %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            std::printf(__VA_ARGS__); \
            std::printf("\n"); \
            failures++; \
        } \
    } while (0)

// Keeps the compiler from seeing the sizes (and from folding new/delete).
static std::size_t opaque(std::size_t n)
{
    __asm__ volatile("" : "+r"(n));
    return n;
}

static bool under_hakmem;

// The block came from hakmem: malloc_usable_size of a pointer hakmem did
// not hand out would be reported and abort.
static void check_ours(void *p, std::size_t n, const char *what)
{
    if (under_hakmem)
        CHECK(malloc_usable_size(p) >= n, "%s: usable size %zu < %zu", what, malloc_usable_size(p), n);
}

// Under hakmem, a new or delete expression calls hakmem's operators, not
// libstdc++'s (which would reach hakmem through malloc and free).
static void test_operators_are_hakmems()
{
    if (!under_hakmem)
        return;
    void *(*op_new)(std::size_t) = &::operator new;
    void *(*op_new_array)(std::size_t) = &::operator new[];
    void (*op_delete)(void *) noexcept = &::operator delete;
    void (*op_delete_array)(void *) noexcept = &::operator delete[];
    void (*op_delete_sized)(void *, std::size_t) noexcept = &::operator delete;
    void (*op_delete_array_sized)(void *, std::size_t) noexcept = &::operator delete[];
    const struct {
        const char *name;
        void *addr;
    } ops[] = {
        { "operator new", reinterpret_cast<void *>(op_new) },
        { "operator new[]", reinterpret_cast<void *>(op_new_array) },
        { "operator delete", reinterpret_cast<void *>(op_delete) },
        { "operator delete[]", reinterpret_cast<void *>(op_delete_array) },
        { "sized operator delete", reinterpret_cast<void *>(op_delete_sized) },
        { "sized operator delete[]", reinterpret_cast<void *>(op_delete_array_sized) },
    };
    for (const auto &op : ops) {
        Dl_info info;
        CHECK(dladdr(op.addr, &info) && info.dli_fname && std::strstr(info.dli_fname, "libhakmem"),
              "%s is in %s, not libhakmem", op.name, info.dli_fname ? info.dli_fname : "(unknown)");
    }
    std::printf("ok - operator new and delete are hakmem's\n");
}

static void test_huge_new_throws()
{
    const std::size_t sizes[] = { opaque(SIZE_MAX / 4), opaque(std::size_t(1) << 50), opaque(PTRDIFF_MAX / 2) };
    for (std::size_t n : sizes) {
        bool thrown = false;
        try {
            char *p = new char[n];
            p[0] = 1;
            delete[] p;
        } catch (const std::bad_alloc &) {
            thrown = true;
        }
        CHECK(thrown, "new char[%#zx] did not throw std::bad_alloc", n);
        // An array whose byte count overflows: bad_array_new_length.
        thrown = false;
        try {
            std::uint64_t *p = new std::uint64_t[opaque(SIZE_MAX / 4)];
            p[0] = 1;
            delete[] p;
        } catch (const std::bad_alloc &) {
            thrown = true;
        }
        CHECK(thrown, "new uint64_t[SIZE_MAX / 4] did not throw");
    }
    bool thrown = false;
    try {
        std::vector<char> v;
        v.reserve(opaque(PTRDIFF_MAX / 2));
    } catch (const std::bad_alloc &) {
        thrown = true;
    } catch (const std::length_error &) {
        thrown = true;
    }
    CHECK(thrown, "vector::reserve(PTRDIFF_MAX / 2) did not throw");
    std::printf("ok - huge new[] throws std::bad_alloc\n");
}

static void test_nothrow()
{
    char *p = new (std::nothrow) char[opaque(std::size_t(1) << 50)];
    CHECK(p == nullptr, "nothrow new of 2^50 bytes returned %p", static_cast<void *>(p));
    char *q = new (std::nothrow) char[opaque(100)];
    CHECK(q != nullptr, "nothrow new of 100 bytes failed");
    check_ours(q, 100, "nothrow new[]");
    delete[] q;
    std::printf("ok - nothrow new returns nullptr on failure\n");
}

static int handler_calls;
static void *reserve;

// The first call frees the reserve and lets new try again; the second
// gives up by uninstalling itself (new then throws).
static void on_no_memory()
{
    handler_calls++;
    if (reserve) {
        std::free(reserve);
        reserve = nullptr;
    } else {
        std::set_new_handler(nullptr);
    }
}

static void test_new_handler()
{
    reserve = std::malloc(1000);
    std::set_new_handler(on_no_memory);
    bool thrown = false;
    try {
        char *p = new char[opaque(std::size_t(1) << 50)];
        delete[] p;
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    std::set_new_handler(nullptr);
    CHECK(thrown, "new after the handler gave up did not throw");
    CHECK(handler_calls == 2, "the new_handler ran %d times, want 2", handler_calls);
    CHECK(reserve == nullptr, "the new_handler did not run first");
    std::printf("ok - a new_handler runs on failure (%d calls)\n", handler_calls);
}

struct alignas(64) Line {
    char b[64];
};
struct alignas(4096) Page {
    char b[4096];
};

static void test_aligned_new()
{
    const std::size_t aligns[] = { 32, 64, 256, 4096, 65536, std::size_t(1) << 21 };
    for (std::size_t a : aligns)
        for (std::size_t n : { std::size_t(1), std::size_t(100), a, 3 * a + 5, std::size_t(300) << 10 }) {
            void *p = ::operator new(n, std::align_val_t(a));
            CHECK(reinterpret_cast<std::uintptr_t>(p) % a == 0, "operator new(%zu, align %zu) = %p", n, a, p);
            std::memset(p, 0x5a, n);
            check_ours(p, n, "aligned new");
            ::operator delete(p, n, std::align_val_t(a));
            void *q = ::operator new(n, std::align_val_t(a), std::nothrow);
            CHECK(q && reinterpret_cast<std::uintptr_t>(q) % a == 0, "nothrow aligned new(%zu, %zu)", n, a);
            ::operator delete(q, std::align_val_t(a));
        }
    Line *l = new Line[100];
    Page *pg = new Page[3];
    CHECK(reinterpret_cast<std::uintptr_t>(l) % 64 == 0, "new Line[] at %p", static_cast<void *>(l));
    CHECK(reinterpret_cast<std::uintptr_t>(pg) % 4096 == 0, "new Page[] at %p", static_cast<void *>(pg));
    delete[] l;
    delete[] pg;
    bool thrown = false;
    try {
        // Not SIZE_MAX - 100: GCC 12's libstdc++ rounds that up to the
        // alignment without an overflow check and asks for a few bytes.
        void *p = ::operator new(opaque(PTRDIFF_MAX - 100), std::align_val_t(4096));
        ::operator delete(p, std::align_val_t(4096));
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown, "aligned new of PTRDIFF_MAX - 100 did not throw");
    std::printf("ok - aligned new and delete (alignments 32 B to 2 MiB)\n");
}

static void test_sized_delete()
{
    const std::size_t sizes[] = { 1, 16, 100, 1024, 5000, 100 << 10, 300 << 10, 3 << 20 };
    for (int round = 0; round < 3; round++)
        for (std::size_t n : sizes) {
            void *p = ::operator new(n);
            std::memset(p, round, n);
            check_ours(p, n, "operator new");
            ::operator delete(p, n);
            char *a = new char[n];
            check_ours(a, n, "new[]");
            ::operator delete[](a, n);
        }
    std::printf("ok - sized delete of every tier\n");
}

int main()
{
    under_hakmem = dlsym(RTLD_DEFAULT, "hak_version") != nullptr;
    errno = 0;
    test_operators_are_hakmems();
    test_huge_new_throws();
    test_nothrow();
    test_new_handler();
    test_aligned_new();
    test_sized_delete();
    std::printf("# cxx: %d failures%s\n", failures, under_hakmem ? "" : " (hakmem is not loaded: the system allocator)");
    return failures != 0;
}
