/* allocator.h — which allocator a benchmark process really runs on, printed
 * as "allocator: NAME" so runners can check (a benchmark of glibc by
 * mistake is caught). Included by each benchmark program. */
#ifndef HAK_BENCH_ALLOCATOR_H
#define HAK_BENCH_ALLOCATOR_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The allocator this process runs on, from the libraries mapped into it. */
static void print_allocator(void)
{
    static const char *const libs[][2] = {
        { "libhakmem", "hakmem" },
        { "libmimalloc", "mimalloc" },
        { "libjemalloc", "jemalloc" },
        { "libtcmalloc", "tcmalloc" },
    };
    enum { NLIBS = sizeof libs / sizeof libs[0] };
    bool seen[NLIBS] = { false };
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            for (int i = 0; i < NLIBS; i++)
                if (strstr(line, libs[i][0]))
                    seen[i] = true;
        fclose(f);
    }
    /* Several matches print as "a+b", which no caller will take for one allocator. */
    char name[64] = "";
    for (int i = 0; i < NLIBS; i++)
        if (seen[i]) {
            if (name[0])
                strcat(name, "+");
            strcat(name, libs[i][1]);
        }
    fprintf(stderr, "allocator: %s\n", name[0] ? name : "glibc");
}

#endif
