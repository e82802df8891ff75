/* rss.h — what the tests of memory given back read: the process's resident
 * bytes (/proc/self/statm) and a monotonic clock in seconds. */
#ifndef HAK_TEST_RSS_H
#define HAK_TEST_RSS_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Resident bytes; a test that cannot read them (named test) exits 1. */
static size_t rss_of(const char *test)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2) {
        fprintf(stderr, "%s: cannot read /proc/self/statm\n", test);
        exit(1);
    }
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
