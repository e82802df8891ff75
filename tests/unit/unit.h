/* unit.h — helpers shared by the cmocka unit tests, which link the internal
 * library and may call every _hak_ function. */
#ifndef HAK_TEST_UNIT_H
#define HAK_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

/* A memory file to capture warnings; unit_text() returns what it holds. */
static inline int unit_capture(void) { return memfd_create("hakmem-test", 0); }

static inline const char *unit_text(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static inline void unit_clear(int fd)
{
    (void)ftruncate(fd, 0);
    (void)lseek(fd, 0, SEEK_SET); /* else writes continue past a hole */
}

#endif
