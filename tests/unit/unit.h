/* unit.h — helpers shared by the cmocka unit tests, which link the internal
 * library and may call every _hak_ function. */
#ifndef HAK_TEST_UNIT_H
#define HAK_TEST_UNIT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include "fmt.h"
#include "options.h"

/* A memory file to capture warnings; unit_text() returns what it holds. */
static inline int unit_capture(void) { return memfd_create("hakmem-test", 0); }

static inline const char *unit_text(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

/* What a printer of sections (text, or JSON when json) writes, as text
 * (a static buffer: the next call overwrites it). */
static inline const char *unit_print(void (*print)(struct hak_out *, bool), bool json)
{
    static char buf[65536];
    int fd = unit_capture();
    struct hak_out o;
    _hak_out_init(&o, fd);
    print(&o, json);
    _hak_out_flush(&o);
    unit_text(fd, buf, sizeof buf);
    close(fd);
    return buf;
}

static inline void unit_clear(int fd)
{
    (void)ftruncate(fd, 0);
    (void)lseek(fd, 0, SEEK_SET); /* else writes continue past a hole */
}

/* stderr into a memory file, with misuse reports set to warn;
 * release_stderr() restores both and returns what was written. A test that
 * fails (an assertion or a signal: cmocka jumps out) before it releases
 * would hide its own message in the file: the next capture, or exit,
 * restores stderr and prints what was captured. */
static int unit_err_fd = -1, unit_saved_stderr = -1;
static char unit_errtext[65536];

static inline const char *release_stderr(void)
{
    dup2(unit_saved_stderr, 2);
    close(unit_saved_stderr);
    unit_saved_stderr = -1;
    unit_text(unit_err_fd, unit_errtext, sizeof unit_errtext);
    close(unit_err_fd);
    unit_err_fd = -1;
    HAK_OPT(on_error) = HAK_ON_ERROR_ABORT;
    return unit_errtext;
}

static inline void unit_release_left_open(void)
{
    if (unit_saved_stderr < 0)
        return;
    const char *text = release_stderr();
    dprintf(2, "[ captured ] stderr while the failed test held it:\n%s", text);
}

static inline void capture_stderr(void)
{
    static bool registered;
    if (!registered)
        registered = atexit(unit_release_left_open) == 0;
    unit_release_left_open();
    unit_err_fd = unit_capture();
    unit_saved_stderr = dup(2);
    dup2(unit_err_fd, 2);
    HAK_OPT(on_error) = HAK_ON_ERROR_WARN;
}

#endif
