/* fmt.h — printf-style formatting and output that never call malloc
 * (used while the allocator itself is starting, reporting or exiting). */
#ifndef HAK_FMT_H
#define HAK_FMT_H

#include "internal.h"
#include <stdarg.h>

/* Formats into buf (always NUL-terminated when size > 0); returns the length
 * written, truncated to size - 1. Supports %% %c %s %d %i %u %x %X %p %f with
 * the flags '-' and '0', a width (digits or *), a precision (.N or .*) and the
 * length modifiers l, ll, z and j. */
size_t _hak_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
size_t _hak_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A buffered writer to a file descriptor; flushes when full and on demand. */
struct hak_out {
    int fd;
    int failed;        /* a write failed: the rest is dropped */
    size_t len;
    char buf[4096];
};
void _hak_out_init(struct hak_out *o, int fd);
void _hak_out_write(struct hak_out *o, const char *s, size_t n);
void _hak_out_printf(struct hak_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s as a JSON string literal, quotes included. */
void _hak_out_json_str(struct hak_out *o, const char *s);
int _hak_out_flush(struct hak_out *o);

/* One formatted message straight to fd (at most 1 KiB). */
void _hak_dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes all n bytes, retrying on EINTR and short writes; 0 or -1. */
int _hak_write_all(int fd, const void *p, size_t n);

#endif
