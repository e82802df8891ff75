/* options.c — the option descriptor table and the value syntax (SPEC §4). */
#include "options.h"
#include "fmt.h"
#include <string.h>

const struct hak_opt_desc _hak_opt_desc[HAK_OPT__COUNT] = {
#define HAK_OPTION(id, section, key, type, def, range, unit, env, doc) \
    [HAK_OPT_##id] = { section, key, def, range, unit, env, doc, HAK_T_##type },
#define HAK_ALIAS(env, id, inverted)
#include "options.def"
#undef HAK_OPTION
#undef HAK_ALIAS
};

const struct hak_opt_alias _hak_opt_alias[] = {
#define HAK_OPTION(id, section, key, type, def, range, unit, env, doc)
#define HAK_ALIAS(env, id, inverted) { env, HAK_OPT_##id, inverted },
#include "options.def"
#undef HAK_OPTION
#undef HAK_ALIAS
};
const size_t _hak_opt_alias_count = sizeof _hak_opt_alias / sizeof _hak_opt_alias[0];

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static bool ieq(const char *a, const char *b)
{
    while (*a && lower((unsigned char)*a) == lower((unsigned char)*b))
        a++, b++;
    return *a == 0 && *b == 0;
}

/* Case-insensitive comparison of a[0..n) with the NUL-terminated b. */
static bool ieqn(const char *a, size_t n, const char *b)
{
    size_t i = 0;
    for (; i < n && b[i]; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return i == n && b[i] == 0;
}

int _hak_opt_find2(const char *section, const char *key)
{
    if (ieq(section, "general"))
        section = "";
    for (int i = 0; i < HAK_OPT__COUNT; i++)
        if (ieq(_hak_opt_desc[i].section, section) && ieq(_hak_opt_desc[i].key, key))
            return i;
    return -1;
}

int _hak_opt_find(const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot)
        return _hak_opt_find2("", name);
    char section[64];
    size_t n = (size_t)(dot - name);
    if (n >= sizeof section)
        return -1;
    memcpy(section, name, n);
    section[n] = 0;
    return _hak_opt_find2(section, dot + 1);
}

const char *_hak_opt_name(int id, char *buf, size_t len)
{
    const struct hak_opt_desc *d = &_hak_opt_desc[id];
    if (d->section[0])
        _hak_fmt(buf, len, "%s.%s", d->section, d->key);
    else
        _hak_fmt(buf, len, "%s", d->key);
    return buf;
}

const char *_hak_opt_type_name(enum hak_opt_type t)
{
    static const char *const names[] = { "bool", "int", "uint64", "size", "duration", "enum", "string" };
    return names[t];
}

/* Unsigned decimal prefix of s; returns the digits consumed (0 if none),
 * -1 on overflow. */
static int parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        uint64_t d = (uint64_t)(s[n] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        n++;
    }
    *out = v;
    return n;
}

/* Number with an optional unit suffix; the suffix table gives multipliers. */
struct suffix {
    const char *text;
    uint64_t mul;
};
static const struct suffix size_suffixes[] = {
    { "", 1 }, { "b", 1 },
    { "k", HAK_KiB }, { "kb", HAK_KiB }, { "kib", HAK_KiB },
    { "m", HAK_MiB }, { "mb", HAK_MiB }, { "mib", HAK_MiB },
    { "g", HAK_GiB }, { "gb", HAK_GiB }, { "gib", HAK_GiB },
    { NULL, 0 },
};
static const struct suffix ms_suffixes[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { NULL, 0 } };
static const struct suffix int_suffixes[] = { { "", 1 }, { NULL, 0 } };

static int parse_number(const char *text, const struct suffix *sfx, int64_t *out)
{
    bool neg = text[0] == '-';
    const char *s = text + neg;
    uint64_t v;
    int n = parse_digits(s, &v);
    if (n <= 0)
        return -1;
    const char *unit = s + n;
    size_t ulen = strlen(unit);
    for (; sfx->text; sfx++) {
        if (!ieqn(unit, ulen, sfx->text))
            continue;
        if (v > (uint64_t)INT64_MAX / sfx->mul)
            return -1;
        int64_t r = (int64_t)(v * sfx->mul);
        *out = neg ? -r : r;
        return 0;
    }
    return -1;
}

static const struct suffix *suffixes_for(enum hak_opt_type t)
{
    return t == HAK_T_SIZE ? size_suffixes : t == HAK_T_MS ? ms_suffixes : int_suffixes;
}

/* Index of word in a "a|b|c" list, or -1. */
static int enum_index(const char *list, const char *word)
{
    int idx = 0;
    const char *p = list;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (ieqn(p, n, word) && n == strlen(word))
            return idx;
        idx++;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

static const char *enum_word(const char *list, int64_t idx, char *buf, size_t len)
{
    const char *p = list;
    for (int64_t i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p)
        return "?";
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

int _hak_opt_parse(int id, const char *text, struct hak_optval *out, bool check_range, char *err, size_t errlen)
{
    const struct hak_opt_desc *d = &_hak_opt_desc[id];
    return _hak_value_parse(d->type, d->range, text, out, check_range, err, errlen);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int _hak_value_parse(enum hak_opt_type type, const char *range, const char *raw, struct hak_optval *out,
                     bool check_range, char *err, size_t errlen)
{
    /* Blanks around a value are not part of it (inih strips them in the
     * file; the environment and --set keep them). */
    char text[HAK_OPT_STR_MAX];
    while (is_blank(*raw))
        raw++;
    size_t len = strlen(raw);
    while (len > 0 && is_blank(raw[len - 1]))
        len--;
    if (len >= sizeof text) {
        _hak_fmt(err, errlen, "value is longer than %zu characters", sizeof text - 1);
        return -1;
    }
    memcpy(text, raw, len);
    text[len] = 0;
    switch (type) {
    case HAK_T_BOOL: {
        static const char *const yes[] = { "1", "true", "yes", "on" };
        static const char *const no[] = { "0", "false", "no", "off" };
        for (int i = 0; i < 4; i++) {
            if (ieq(text, yes[i])) {
                out->i = 1;
                return 0;
            }
            if (ieq(text, no[i])) {
                out->i = 0;
                return 0;
            }
        }
        _hak_fmt(err, errlen, "'%s' is not a boolean (1/0, true/false, yes/no, on/off)", text);
        return -1;
    }
    case HAK_T_INT:
    case HAK_T_SIZE:
    case HAK_T_MS: {
        int64_t v;
        if (parse_number(text, suffixes_for(type), &v) != 0) {
            _hak_fmt(err, errlen, "'%s' is not a %s%s", text,
                     type == HAK_T_INT ? "whole number" : type == HAK_T_SIZE ? "size" : "duration",
                     type == HAK_T_SIZE ? " (bytes, or a number with K, M or G)"
                     : type == HAK_T_MS ? " (milliseconds, or a number with ms or s)" : "");
            return -1;
        }
        if (check_range && range[0]) {
            const char *dots = strstr(range, "..");
            char lo_text[32];
            size_t n = (size_t)(dots - range);
            memcpy(lo_text, range, n);
            lo_text[n] = 0;
            int64_t lo, hi;
            if (parse_number(lo_text, suffixes_for(type), &lo) != 0 ||
                parse_number(dots + 2, suffixes_for(type), &hi) != 0 || v < lo || v > hi) {
                _hak_fmt(err, errlen, "'%s' is out of range %s", text, range);
                return -1;
            }
        }
        out->i = v;
        return 0;
    }
    case HAK_T_U64: {
        /* Every bit pattern is a value, so a range is checked unsigned. */
        uint64_t v, lo = 0, hi = 0;
        int n = parse_digits(text, &v);
        if (n <= 0 || text[n]) {
            _hak_fmt(err, errlen, "'%s' is not a whole number from 0 to 18446744073709551615", text);
            return -1;
        }
        if (check_range && range[0]) {
            const char *dots = strstr(range, "..");
            if (parse_digits(range, &lo) != dots - range || parse_digits(dots + 2, &hi) <= 0 || v < lo || v > hi) {
                _hak_fmt(err, errlen, "'%s' is out of range %s", text, range);
                return -1;
            }
        }
        out->i = (int64_t)v;
        return 0;
    }
    case HAK_T_ENUM: {
        int idx = enum_index(range, text);
        if (idx < 0) {
            _hak_fmt(err, errlen, "'%s' is not one of %s", text, range);
            return -1;
        }
        out->i = idx;
        return 0;
    }
    case HAK_T_STR:
        memcpy(out->s, text, len + 1); /* len < HAK_OPT_STR_MAX = sizeof out->s */
        return 0;
    }
    return -1;
}

const char *_hak_opt_format(int id, const struct hak_optval *v, char *buf, size_t len)
{
    const struct hak_opt_desc *d = &_hak_opt_desc[id];
    switch (d->type) {
    case HAK_T_BOOL:
        _hak_fmt(buf, len, "%s", v->i ? "true" : "false");
        break;
    case HAK_T_INT:
        _hak_fmt(buf, len, "%lld", (long long)v->i);
        break;
    case HAK_T_U64:
        _hak_fmt(buf, len, "%llu", (unsigned long long)(uint64_t)v->i);
        break;
    case HAK_T_SIZE:
        if (v->i != 0 && v->i % (int64_t)HAK_GiB == 0)
            _hak_fmt(buf, len, "%lldG", (long long)(v->i / (int64_t)HAK_GiB));
        else if (v->i != 0 && v->i % (int64_t)HAK_MiB == 0)
            _hak_fmt(buf, len, "%lldM", (long long)(v->i / (int64_t)HAK_MiB));
        else if (v->i != 0 && v->i % (int64_t)HAK_KiB == 0)
            _hak_fmt(buf, len, "%lldK", (long long)(v->i / (int64_t)HAK_KiB));
        else
            _hak_fmt(buf, len, "%lld", (long long)v->i);
        break;
    case HAK_T_MS:
        if (v->i != 0 && v->i % 1000 == 0)
            _hak_fmt(buf, len, "%llds", (long long)(v->i / 1000));
        else
            _hak_fmt(buf, len, "%lldms", (long long)v->i);
        break;
    case HAK_T_ENUM:
        enum_word(d->range, v->i, buf, len);
        break;
    case HAK_T_STR:
        _hak_fmt(buf, len, "%s", v->s);
        break;
    }
    return buf;
}
