/* api.h — the allocation calls a test program makes: the standard names (the program runs under LD_PRELOAD) or, built with -DHAK_TEST_API, the hak_ API (the program links libhakmem, so the sanitizer builds run it too). */
#ifndef HAK_TESTS_API_H
#define HAK_TESTS_API_H

#ifdef HAK_TEST_API
#include <hakmem.h>
#define ALLOC(n) hak_malloc(n)
#define CALLOC(c, n) hak_calloc(c, n)
#define REALLOC(p, n) hak_realloc(p, n)
#define FREE(p) hak_free(p)
#define USABLE(p) hak_malloc_usable_size(p)
#define TRIM() hak_trim()
#define API_NAME "hak_ API"
#else
#include <malloc.h>
#include <stdlib.h>
#define ALLOC(n) malloc(n)
#define CALLOC(c, n) calloc(c, n)
#define REALLOC(p, n) realloc(p, n)
#define FREE(p) free(p)
#define USABLE(p) malloc_usable_size(p)
#define TRIM() malloc_trim(0)
#define API_NAME "standard names"
#endif

#endif
