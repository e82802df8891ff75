/* fmt.c — malloc-free formatting: a small vsnprintf and buffered fd output. */
#include "fmt.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

struct sink {
    char *buf;
    size_t size;   /* capacity including the NUL */
    size_t len;
};

static void put(struct sink *s, char c)
{
    if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void put_padded(struct sink *s, const char *str, size_t n, int width, bool left, char pad)
{
    size_t w = width > 0 ? (size_t)width : 0;
    size_t fill = w > n ? w - n : 0;
    if (!left && pad == '0' && n > 0 && (str[0] == '-')) {
        put(s, '-');
        str++;
        n--;
    }
    if (!left)
        for (size_t i = 0; i < fill; i++)
            put(s, pad);
    for (size_t i = 0; i < n; i++)
        put(s, str[i]);
    if (left)
        for (size_t i = 0; i < fill; i++)
            put(s, ' ');
}

/* Digits of v in base, into the end of tmp; returns the start. */
static char *utoa(char *end, unsigned long long v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

static size_t ftoa(char *out, size_t cap, double v, int prec)
{
    char tmp[48];
    size_t n = 0;
    if (prec < 0)
        prec = 6;
    if (prec > 9)
        prec = 9;
    if (v != v)
        return (size_t)_hak_fmt(out, cap, "nan");
    bool neg = v < 0;
    if (neg) {
        tmp[n++] = '-';
        v = -v;
    }
    if (v > 1e18)
        return (size_t)_hak_fmt(out, cap, "%s", neg ? "-inf" : "inf");
    unsigned long long scale = 1;
    for (int i = 0; i < prec; i++)
        scale *= 10;
    unsigned long long whole = (unsigned long long)v;
    unsigned long long frac = (unsigned long long)((v - (double)whole) * (double)scale + 0.5);
    if (frac >= scale) {
        whole++;
        frac -= scale;
    }
    char digits[24];
    char *p = utoa(digits + sizeof digits, whole, 10, false);
    while (p < digits + sizeof digits)
        tmp[n++] = *p++;
    if (prec > 0) {
        tmp[n++] = '.';
        char fd[12];
        for (int i = prec - 1; i >= 0; i--) {
            fd[i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        for (int i = 0; i < prec; i++)
            tmp[n++] = fd[i];
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, tmp, n);
    out[n] = 0;
    return n;
}

size_t _hak_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { buf, size, 0 };
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&s, *f);
            continue;
        }
        f++;
        bool left = false;
        char pad = ' ';
        for (;; f++) {
            if (*f == '-')
                left = true;
            else if (*f == '0')
                pad = '0';
            else
                break;
        }
        int width = 0, prec = -1;
        if (*f == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = true;
                width = -width;
            }
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                width = width * 10 + (*f++ - '0');
        }
        if (*f == '.') {
            f++;
            prec = 0;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            } else {
                while (*f >= '0' && *f <= '9')
                    prec = prec * 10 + (*f++ - '0');
            }
        }
        int lng = 0; /* 0 int, 1 long, 2 long long, 3 size_t, 4 intmax_t */
        if (*f == 'l') {
            lng = 1;
            if (f[1] == 'l') {
                lng = 2;
                f++;
            }
            f++;
        } else if (*f == 'z') {
            lng = 3;
            f++;
        } else if (*f == 'j') {
            lng = 4;
            f++;
        }
        if (left)
            pad = ' ';
        char num[72];
        char *end = num + sizeof num;
        switch (*f) {
        case '%':
            put(&s, '%');
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(&s, &c, 1, width, left, ' ');
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = strlen(str);
            if (prec >= 0 && (size_t)prec < n)
                n = (size_t)prec;
            put_padded(&s, str, n, width, left, ' ');
            break;
        }
        case 'd':
        case 'i': {
            long long v = lng == 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long)
                        : lng == 2 ? va_arg(ap, long long) : lng == 3 ? (long long)va_arg(ap, ptrdiff_t)
                        : (long long)va_arg(ap, intmax_t);
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            char *p = utoa(end, u, 10, false);
            if (v < 0)
                *--p = '-';
            put_padded(&s, p, (size_t)(end - p), width, left, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            unsigned long long v = lng == 0 ? va_arg(ap, unsigned) : lng == 1 ? va_arg(ap, unsigned long)
                                 : lng == 2 ? va_arg(ap, unsigned long long) : lng == 3 ? va_arg(ap, size_t)
                                 : (unsigned long long)va_arg(ap, uintmax_t);
            char *p = utoa(end, v, *f == 'u' ? 10 : 16, *f == 'X');
            put_padded(&s, p, (size_t)(end - p), width, left, pad);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            char *p = utoa(end, v, 16, false);
            *--p = 'x';
            *--p = '0';
            put_padded(&s, p, (size_t)(end - p), width, left, ' ');
            break;
        }
        case 'f': {
            double v = va_arg(ap, double);
            size_t n = ftoa(num, sizeof num, v, prec);
            put_padded(&s, num, n, width, left, pad);
            break;
        }
        case 0:
            f--;
            break;
        default:
            put(&s, '%');
            put(&s, *f);
            break;
        }
    }
    if (size > 0)
        buf[s.len < size ? s.len : size - 1] = 0;
    return s.len < size ? s.len : (size ? size - 1 : 0);
}

size_t _hak_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = _hak_vfmt(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int _hak_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

void _hak_dprintf(int fd, const char *fmt, ...)
{
    char buf[1024];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    size_t n = _hak_vfmt(buf, sizeof buf, fmt, ap);
    va_end(ap);
    (void)_hak_write_all(fd, buf, n);
    errno = saved;
}

void _hak_out_init(struct hak_out *o, int fd)
{
    o->fd = fd;
    o->failed = 0;
    o->len = 0;
}

int _hak_out_flush(struct hak_out *o)
{
    if (o->len && !o->failed && _hak_write_all(o->fd, o->buf, o->len) != 0)
        o->failed = 1;
    o->len = 0;
    return o->failed ? -1 : 0;
}

void _hak_out_write(struct hak_out *o, const char *s, size_t n)
{
    while (n > 0) {
        if (o->len == sizeof o->buf)
            _hak_out_flush(o);
        size_t room = sizeof o->buf - o->len;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

void _hak_out_printf(struct hak_out *o, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = _hak_vfmt(line, sizeof line, fmt, ap);
    va_end(ap);
    _hak_out_write(o, line, n);
}

void _hak_out_json_str(struct hak_out *o, const char *s)
{
    _hak_out_write(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            _hak_out_write(o, e, 2);
        } else if (c < 0x20) {
            char e[8];
            size_t n = _hak_fmt(e, sizeof e, "\\u%04x", c);
            _hak_out_write(o, e, n);
        } else {
            _hak_out_write(o, (const char *)&c, 1);
        }
    }
    _hak_out_write(o, "\"", 1);
}
