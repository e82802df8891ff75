/* state.c — the policy state file: capture and restore, text format and
 * parser, and its atomic write (the format is described in state.h). */
#include "policy/state.h"
#include "fmt.h"
#include "os.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "hakmem-policy-state "
#define MAGIC_LEN (sizeof MAGIC - 1)
#define CHECKSUM "checksum "
#define CHECKSUM_LEN (sizeof CHECKSUM - 1)

/* ------------------------------------------------------------- state */

void pstate_capture(struct pstate *s, const struct elo *e, const struct evo *v, size_t threshold)
{
    *s = (struct pstate){
        .count = e->p.count, .min_threshold = e->p.min_threshold, .max_threshold = e->p.max_threshold,
        .mode = v->mode, .threshold = threshold, .leader = e->incumbent, .survivors = e->survivors,
        .windows = e->windows, .rated = e->rated, .matches = e->matches, .retirements = e->retirements,
    };
    for (unsigned i = 0; i < e->p.count; i++) {
        const struct elo_strategy *x = &e->s[i];
        s->s[i] = (struct pstate_strategy){ x->threshold, x->rating, x->wins, x->losses, x->draws,
                                            x->samples, x->windows, x->retired };
    }
    const double *h = v->mode != EVO_LEARN ? v->frozen_hist : v->hist_set ? v->hist : NULL;
    for (unsigned b = 0; h && b < EVO_BUCKETS; b++)
        s->hist[b] = h[b];
}

bool pstate_check(const struct pstate *s, const struct elo *e, char *err, size_t errlen)
{
    if (s->count != e->p.count || s->min_threshold != e->p.min_threshold || s->max_threshold != e->p.max_threshold) {
        _hak_fmt(err, errlen, "written for %u strategies from %zu to %zu bytes, not %u from %zu to %zu", s->count,
                 s->min_threshold, s->max_threshold, e->p.count, e->p.min_threshold, e->p.max_threshold);
        return false;
    }
    for (unsigned i = 0; i < s->count; i++)
        if (s->s[i].threshold != e->s[i].threshold) {
            _hak_fmt(err, errlen, "strategy %u has threshold %zu, not %zu", i, s->s[i].threshold, e->s[i].threshold);
            return false;
        }
    return true;
}

void pstate_restore(const struct pstate *s, struct elo *e)
{
    for (unsigned i = 0; i < s->count; i++) {
        struct elo_strategy *x = &e->s[i];
        const struct pstate_strategy *y = &s->s[i];
        x->rating = y->rating;
        x->wins = y->wins, x->losses = y->losses, x->draws = y->draws;
        x->games = y->wins + y->losses + y->draws; /* the file keeps no revival */
        x->samples = y->samples, x->windows = y->windows;
        x->retired = y->retired;
    }
    e->survivors = s->survivors;
    e->incumbent = s->leader;
}

void pstate_restore_hist(const struct pstate *s, struct evo *v)
{
    double t = 0;
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        t += s->hist[b];
    if (t <= 0)
        return;
    double *h = v->mode != EVO_LEARN ? v->frozen_hist : v->hist;
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        h[b] = s->hist[b];
    if (v->mode == EVO_LEARN)
        v->hist_set = true;
}

/* ------------------------------------------------------------ format */

uint64_t pstate_fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

struct wbuf {
    char *p;
    size_t cap, len;
    bool full;
};

static void put(struct wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct wbuf *w, const char *fmt, ...)
{
    if (w->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t n = _hak_vfmt(w->p + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (w->len + n + 1 >= w->cap) /* _hak_vfmt truncates: a line that fills the rest may be cut */
        w->full = true;
    else
        w->len += n;
}

size_t pstate_format(const struct pstate *s, char *buf, size_t cap)
{
    struct wbuf w = { buf, cap, 0, cap == 0 };
    put(&w, MAGIC "%d\n", PSTATE_VERSION);
    put(&w, "count %u\nmin_threshold %zu\nmax_threshold %zu\n", s->count, s->min_threshold, s->max_threshold);
    put(&w, "mode %s\nthreshold %zu\nleader %u\nleader_threshold %zu\nsurvivors %u\n", evo_mode_name(s->mode),
        s->threshold, s->leader, s->s[s->leader].threshold, s->survivors);
    put(&w, "windows %llu\nrated %llu\nmatches %llu\nretirements %llu\n", (unsigned long long)s->windows,
        (unsigned long long)s->rated, (unsigned long long)s->matches, (unsigned long long)s->retirements);
    for (unsigned i = 0; i < s->count; i++) {
        const struct pstate_strategy *x = &s->s[i];
        put(&w, "strategy %u %zu %.3f %016llx %llu %llu %llu %llu %llu %s\n", i, x->threshold, x->rating,
            (unsigned long long)bits_of(x->rating), (unsigned long long)x->wins, (unsigned long long)x->losses,
            (unsigned long long)x->draws, (unsigned long long)x->samples, (unsigned long long)x->windows,
            x->retired ? "retired" : "survivor");
    }
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        put(&w, "hist %u %.6f %016llx\n", b, s->hist[b], (unsigned long long)bits_of(s->hist[b]));
    if (w.full)
        return 0;
    put(&w, CHECKSUM "%016llx\n", (unsigned long long)pstate_fnv1a(buf, w.len));
    return w.full ? 0 : w.len;
}

/* ------------------------------------------------------------- parse */

#define MAX_FIELDS 12

/* One line split at single spaces; every field non-empty and printable. */
struct line {
    const char *f[MAX_FIELDS];
    size_t n[MAX_FIELDS];
    unsigned nf;
};

static bool split(const char *p, size_t len, struct line *l)
{
    l->nf = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != ' ') {
            if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
                return false;
            continue;
        }
        if (i == start || l->nf == MAX_FIELDS)
            return false;
        l->f[l->nf] = p + start;
        l->n[l->nf++] = i - start;
        start = i + 1;
    }
    return true;
}

static bool is(const struct line *l, unsigned k, const char *word)
{
    return l->n[k] == strlen(word) && memcmp(l->f[k], word, l->n[k]) == 0;
}

static bool to_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Exactly 16 lowercase hex digits, as written. */
static bool to_bits(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n != 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = p[i] >= '0' && p[i] <= '9' ? (unsigned)(p[i] - '0')
                   : p[i] >= 'a' && p[i] <= 'f' ? (unsigned)(p[i] - 'a' + 10) : 16;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* The decimal shown for people: -?digits.digits (not read as a value). */
static bool is_decimal(const char *p, size_t n)
{
    size_t i = p[0] == '-', digits = 0, dots = 0;
    for (; i < n; i++) {
        if (p[i] == '.' && digits && !dots)
            dots = 1, digits = 0;
        else if (p[i] >= '0' && p[i] <= '9')
            digits++;
        else
            return false;
    }
    return dots && digits;
}

enum { K_COUNT, K_MIN, K_MAX, K_THRESHOLD, K_LEADER, K_LEADER_THRESHOLD, K_SURVIVORS, K_WINDOWS, K_RATED,
       K_MATCHES, K_RETIREMENTS, NSCALARS };
static const char *const scalar_keys[NSCALARS] = { "count", "min_threshold", "max_threshold", "threshold", "leader",
                                                   "leader_threshold", "survivors", "windows", "rated", "matches",
                                                   "retirements" };

struct parse {
    uint64_t val[NSCALARS];
    bool seen[NSCALARS], mode_seen, strategy_seen[ELO_MAX_STRATEGIES], hist_seen[EVO_BUCKETS];
};

static int bad(char *err, size_t errlen, unsigned line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    _hak_vfmt(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line)
        _hak_fmt(err, errlen, "line %u: %s", line, msg);
    else
        _hak_fmt(err, errlen, "%s", msg);
    return -1;
}

static int parse_line(const struct line *l, unsigned ln, struct parse *ps, struct pstate *s, char *err, size_t errlen)
{
    for (unsigned k = 0; k < NSCALARS; k++) {
        if (!is(l, 0, scalar_keys[k]))
            continue;
        if (l->nf != 2 || !to_u64(l->f[1], l->n[1], &ps->val[k]))
            return bad(err, errlen, ln, "%s takes one whole number", scalar_keys[k]);
        if (ps->seen[k])
            return bad(err, errlen, ln, "%s given twice", scalar_keys[k]);
        ps->seen[k] = true;
        return 0;
    }
    if (is(l, 0, "mode")) {
        unsigned m = 0;
        while (m < EVO_NMODES && !(l->nf == 2 && is(l, 1, evo_mode_name((enum evo_mode)m))))
            m++;
        if (m == EVO_NMODES)
            return bad(err, errlen, ln, "mode is not LEARN, FROZEN or CANARY");
        if (ps->mode_seen)
            return bad(err, errlen, ln, "mode given twice");
        ps->mode_seen = true;
        s->mode = (enum evo_mode)m;
        return 0;
    }
    if (is(l, 0, "strategy")) {
        uint64_t i, th, bits, v[5];
        if (l->nf != 11 || !to_u64(l->f[1], l->n[1], &i) || !to_u64(l->f[2], l->n[2], &th) ||
            !is_decimal(l->f[3], l->n[3]) || !to_bits(l->f[4], l->n[4], &bits) ||
            !(is(l, 10, "survivor") || is(l, 10, "retired")))
            return bad(err, errlen, ln, "a strategy line is: strategy INDEX THRESHOLD RATING BITS WINS LOSSES DRAWS "
                                        "SAMPLES WINDOWS survivor|retired");
        for (unsigned k = 0; k < 5; k++)
            if (!to_u64(l->f[5 + k], l->n[5 + k], &v[k]))
                return bad(err, errlen, ln, "strategy counts are whole numbers");
        if (i >= ELO_MAX_STRATEGIES || ps->strategy_seen[i])
            return bad(err, errlen, ln, "strategy index %llu out of range or given twice", (unsigned long long)i);
        double r = double_of(bits);
        if (!isfinite(r))
            return bad(err, errlen, ln, "rating is not a finite number");
        ps->strategy_seen[i] = true;
        s->s[i] = (struct pstate_strategy){ (size_t)th, r, v[0], v[1], v[2], v[3], v[4], is(l, 10, "retired") };
        return 0;
    }
    if (is(l, 0, "hist")) {
        uint64_t b, bits;
        if (l->nf != 4 || !to_u64(l->f[1], l->n[1], &b) || !is_decimal(l->f[2], l->n[2]) ||
            !to_bits(l->f[3], l->n[3], &bits))
            return bad(err, errlen, ln, "a hist line is: hist BUCKET SHARE BITS");
        if (b >= EVO_BUCKETS || ps->hist_seen[b])
            return bad(err, errlen, ln, "bucket %llu out of range or given twice", (unsigned long long)b);
        double h = double_of(bits);
        if (!(h >= 0 && h <= 1))
            return bad(err, errlen, ln, "share is not between 0 and 1");
        ps->hist_seen[b] = true;
        s->hist[b] = h;
        return 0;
    }
    char key[41]; /* the field is not NUL-terminated */
    size_t n = l->n[0] < sizeof key - 1 ? l->n[0] : sizeof key - 1;
    memcpy(key, l->f[0], n);
    key[n] = 0;
    return bad(err, errlen, ln, "unknown key '%s'", key);
}

/* Everything present once, and the values consistent with each other. */
static int finish(const struct parse *ps, struct pstate *s, char *err, size_t errlen)
{
    for (unsigned k = 0; k < NSCALARS; k++)
        if (!ps->seen[k])
            return bad(err, errlen, 0, "%s missing", scalar_keys[k]);
    if (!ps->mode_seen)
        return bad(err, errlen, 0, "mode missing");
    const uint64_t *v = ps->val;
    if (v[K_COUNT] < 2 || v[K_COUNT] > ELO_MAX_STRATEGIES)
        return bad(err, errlen, 0, "count %llu is not from 2 to %d", (unsigned long long)v[K_COUNT], ELO_MAX_STRATEGIES);
    s->count = (unsigned)v[K_COUNT];
    for (unsigned i = 0; i < ELO_MAX_STRATEGIES; i++)
        if (ps->strategy_seen[i] != (i < s->count))
            return bad(err, errlen, 0, "strategy %u %s", i, i < s->count ? "missing" : "beyond count");
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        if (!ps->hist_seen[b])
            return bad(err, errlen, 0, "hist bucket %u missing", b);
    s->min_threshold = (size_t)v[K_MIN];
    s->max_threshold = (size_t)v[K_MAX];
    s->threshold = (size_t)v[K_THRESHOLD];
    if (v[K_LEADER] >= s->count || s->s[v[K_LEADER]].retired)
        return bad(err, errlen, 0, "leader %llu is not a surviving strategy", (unsigned long long)v[K_LEADER]);
    s->leader = (unsigned)v[K_LEADER];
    if (v[K_LEADER_THRESHOLD] != s->s[s->leader].threshold)
        return bad(err, errlen, 0, "leader_threshold is not the leader's threshold");
    unsigned alive = 0;
    for (unsigned i = 0; i < s->count; i++)
        alive += !s->s[i].retired;
    if (v[K_SURVIVORS] != alive)
        return bad(err, errlen, 0, "survivors %llu, but %u strategies are not retired",
                   (unsigned long long)v[K_SURVIVORS], alive);
    s->survivors = alive;
    s->windows = v[K_WINDOWS], s->rated = v[K_RATED], s->matches = v[K_MATCHES], s->retirements = v[K_RETIREMENTS];
    double t = 0;
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        t += s->hist[b];
    if (t != 0 && fabs(t - 1) > 1e-6)
        return bad(err, errlen, 0, "the histogram's shares do not sum to 1");
    return 0;
}

int pstate_parse(const char *buf, size_t len, struct pstate *s, char *err, size_t errlen)
{
    *s = (struct pstate){ 0 };
    if (len == 0)
        return bad(err, errlen, 0, "empty");
    if (memcmp(buf, MAGIC, len < MAGIC_LEN ? len : MAGIC_LEN) != 0)
        return bad(err, errlen, 0, "not a policy state file");
    const char *nl = memchr(buf, '\n', len);
    if (len < MAGIC_LEN || !nl)
        return bad(err, errlen, 0, "truncated");
    uint64_t version;
    if (!to_u64(buf + MAGIC_LEN, (size_t)(nl - buf) - MAGIC_LEN, &version))
        return bad(err, errlen, 1, "no format version");
    if (version != PSTATE_VERSION)
        return bad(err, errlen, 0, "format version %llu, not %d", (unsigned long long)version, PSTATE_VERSION);
    if (buf[len - 1] != '\n')
        return bad(err, errlen, 0, "truncated");
    size_t last = len - 1; /* start of the last line */
    while (last > 0 && buf[last - 1] != '\n')
        last--;
    uint64_t sum;
    if (len - last < CHECKSUM_LEN || memcmp(buf + last, CHECKSUM, CHECKSUM_LEN) != 0)
        return bad(err, errlen, 0, "truncated (no checksum line)");
    if (!to_bits(buf + last + CHECKSUM_LEN, len - 1 - last - CHECKSUM_LEN, &sum))
        return bad(err, errlen, 0, "malformed checksum line");
    if (sum != pstate_fnv1a(buf, last))
        return bad(err, errlen, 0, "checksum mismatch (corrupt)");

    struct parse ps = { 0 };
    unsigned ln = 1;
    for (const char *p = nl + 1; p < buf + last; ln++) {
        const char *eol = memchr(p, '\n', (size_t)(buf + last - p));
        struct line l;
        if (!split(p, (size_t)(eol - p), &l))
            return bad(err, errlen, ln + 1, "malformed");
        if (parse_line(&l, ln + 1, &ps, s, err, errlen) != 0)
            return -1;
        p = eol + 1;
    }
    return finish(&ps, s, err, errlen);
}

/* --------------------------------------------------------------- I/O */

/* A reason for errno, without strerror (which may allocate). */
static const char *why(int e)
{
    const char *d = strerrordesc_np(e);
    return d ? d : "unknown error";
}

int pstate_read(const char *path, char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
    /* Non-blocking: a FIFO in its place must not hang start-up. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return PSTATE_MISSING;
        _hak_fmt(err, errlen, "cannot open: %s", why(errno));
        return PSTATE_ERROR;
    }
    struct stat st;
    int r = PSTATE_ERROR;
    if (fstat(fd, &st) != 0) {
        _hak_fmt(err, errlen, "cannot stat: %s", why(errno));
    } else if (!S_ISREG(st.st_mode)) {
        _hak_fmt(err, errlen, "not a regular file");
    } else if ((uint64_t)st.st_size > cap) {
        _hak_fmt(err, errlen, "larger than %zu bytes", cap);
    } else {
        size_t n = 0;
        ssize_t k = 1;
        while (n < cap && (k = read(fd, buf + n, cap - n)) != 0) {
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                break;
            n += (size_t)k;
        }
        if (k < 0) {
            _hak_fmt(err, errlen, "cannot read: %s", why(errno));
        } else {
            *len = n;
            r = PSTATE_OK;
        }
    }
    close(fd);
    return r;
}

int pstate_write(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
    /* rename() would replace whatever is at path: run as root with the
     * state set to /dev/null, it once turned the device into a file. */
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        _hak_fmt(err, errlen, "not a regular file (never replaced)");
        return -1;
    }
    char tmp[512]; /* path is an option value, under 256 bytes */
    size_t n = _hak_fmt(tmp, sizeof tmp, "%s.tmp.%d.%d.%016llx", path, (int)getpid(), (int)gettid(),
                        (unsigned long long)_hak_os_random());
    if (n + 1 >= sizeof tmp) {
        _hak_fmt(err, errlen, "path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        _hak_fmt(err, errlen, "cannot create a file in its directory: %s", why(errno));
        return -1;
    }
    const char *step = "write";
    bool ok = _hak_write_all(fd, buf, len) == 0;
    if (close(fd) != 0) /* a delayed write error shows here */
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false, step = "rename";
    if (!ok) {
        int e = errno;
        unlink(tmp);
        _hak_fmt(err, errlen, "cannot %s: %s", step, why(e));
        return -1;
    }
    return 0;
}
