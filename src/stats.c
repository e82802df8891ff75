/* stats.c — counter totals and the stats report, generated from counters.def. */
#include "stats.h"
#include "fmt.h"
#include "large/arena.h"
#include "large/bigcache.h"
#include "large/huge.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "policy/policy.h"
#include "tiny/tiny.h"
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One printer at a time: the snapshot and the output buffer are static. */
static HAK_LOCK_DEFINE(print_lock, HAK_RANK_STATS_PRINT);

struct ctr_desc {
    const char *group, *name, *doc;
    unsigned dim;
    size_t offset;
    bool global;
};

static const struct ctr_desc descs[] = {
#define HAK_COUNTER(group, name, doc) { #group, #name, doc, 1, offsetof(struct hak_counter_totals, t.group##_##name), false },
#define HAK_CCOUNTER(group, name, doc) \
    { #group, #name, doc, HAK_NCLASS, offsetof(struct hak_counter_totals, c.group##_##name), false },
#define HAK_GCOUNTER(group, name, doc) { #group, #name, doc, 1, offsetof(struct hak_gcounters, group##_##name), true },
#include "counters.def"
#undef HAK_COUNTER
#undef HAK_CCOUNTER
#undef HAK_GCOUNTER
};
#define NDESC (sizeof descs / sizeof descs[0])

static void merge_cb(const struct hak_counters *t, const struct hak_class_counters *c, void *arg)
{
    _hak_counters_merge(arg, t, c);
}

void _hak_stats_snapshot(struct hak_counter_totals *out)
{
    memset(out, 0, sizeof *out);
    _hak_counters_add_retired(out);
    /* Live threads' counters are read while they run: each value is a
     * plain aligned word, so a read is at worst slightly stale. */
    _hak_tiny_foreach_counters(merge_cb, out);
    if (!_hak_thread.tiny.heap) /* this thread has no heap, so it is not registered */
        _hak_counters_merge(out, &_hak_thread.ctr, NULL);
}

static uint64_t value_of(const struct ctr_desc *d, const struct hak_counter_totals *c, unsigned i)
{
    if (d->global)
        return atomic_load_explicit((_Atomic uint64_t *)((char *)&_hak_gctr + d->offset), memory_order_relaxed);
    return ((const uint64_t *)((const char *)c + d->offset))[i];
}

static uint64_t total_of(const struct ctr_desc *d, const struct hak_counter_totals *c)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < d->dim; i++)
        t += value_of(d, c, i);
    return t;
}

/* Groups in the order they first appear in counters.def. */
static bool first_of_group(size_t k)
{
    for (size_t j = 0; j < k; j++)
        if (strcmp(descs[j].group, descs[k].group) == 0)
            return false;
    return true;
}

#define TOP_SITES 5

static void print_extra_text(struct hak_out *o, const char *group)
{
    if (strcmp(group, "large") == 0) {
        size_t reserved, used, dirty;
        _hak_arena_totals(&reserved, &used, &dirty);
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "reserved_bytes", reserved, "arena address space reserved");
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "used_bytes", used, "arena bytes in blocks");
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "dirty_bytes", dirty, "free arena bytes still resident");
    } else if (strcmp(group, "bigcache") == 0) {
        uintptr_t site[TOP_SITES];
        uint64_t hits[TOP_SITES], misses[TOP_SITES];
        unsigned n = _hak_bigcache_top(TOP_SITES, site, hits, misses);
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "bytes_held", _hak_bigcache_bytes(), "bytes of the blocks cached now");
        for (unsigned i = 0; i < n; i++)
            _hak_out_printf(o, "  top site %-13p %14llu hits, %llu misses\n", (void *)site[i], (unsigned long long)hits[i],
                            (unsigned long long)misses[i]);
    } else if (strcmp(group, "huge") == 0) {
        size_t count, bytes;
        _hak_huge_totals(&count, &bytes);
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "live_blocks", count, "huge blocks mapped now");
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "live_bytes", bytes, "bytes mapped for them");
    } else if (strcmp(group, "os") == 0) {
        _hak_out_printf(o, "  %-22s %14ld  %s\n", "minor_faults", _hak_os_minflt(), "minor page faults of the process");
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "rss_bytes", _hak_os_rss(), "resident set size now");
    } else if (strcmp(group, "tiny") == 0) {
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "ss_cached_bytes", _hak_tiny_cached_bytes(),
                        "bytes of empty SuperSlabs kept for reuse");
        _hak_out_printf(o, "  %-22s %14zu  %s\n", "kept_bytes", _hak_tiny_kept_bytes(),
                        "bytes of emptied slabs threads keep set up for their class (mid.keep)");
    }
}

/* Separator before a JSON member: none before the first of an object. */
static const char *sep(bool *first)
{
    const char *r = *first ? "" : ", ";
    *first = false;
    return r;
}

static void print_extra_json(struct hak_out *o, const char *group, bool *first)
{
    if (strcmp(group, "large") == 0) {
        size_t reserved, used, dirty;
        _hak_arena_totals(&reserved, &used, &dirty);
        _hak_out_printf(o, "%s\"reserved_bytes\": %zu", sep(first), reserved);
        _hak_out_printf(o, "%s\"used_bytes\": %zu", sep(first), used);
        _hak_out_printf(o, "%s\"dirty_bytes\": %zu", sep(first), dirty);
    } else if (strcmp(group, "bigcache") == 0) {
        uintptr_t site[TOP_SITES];
        uint64_t hits[TOP_SITES], misses[TOP_SITES];
        unsigned n = _hak_bigcache_top(TOP_SITES, site, hits, misses);
        _hak_out_printf(o, "%s\"bytes_held\": %zu", sep(first), _hak_bigcache_bytes());
        _hak_out_printf(o, "%s\"top_sites\": [", sep(first));
        for (unsigned i = 0; i < n; i++)
            _hak_out_printf(o, "%s{\"site\": \"%p\", \"hits\": %llu, \"misses\": %llu}", i ? ", " : "", (void *)site[i],
                            (unsigned long long)hits[i], (unsigned long long)misses[i]);
        _hak_out_printf(o, "]");
    } else if (strcmp(group, "huge") == 0) {
        size_t count, bytes;
        _hak_huge_totals(&count, &bytes);
        _hak_out_printf(o, "%s\"live_blocks\": %zu", sep(first), count);
        _hak_out_printf(o, "%s\"live_bytes\": %zu", sep(first), bytes);
    } else if (strcmp(group, "os") == 0) {
        _hak_out_printf(o, "%s\"minor_faults\": %ld", sep(first), _hak_os_minflt());
        _hak_out_printf(o, "%s\"rss_bytes\": %zu", sep(first), _hak_os_rss());
    } else if (strcmp(group, "tiny") == 0) {
        _hak_out_printf(o, "%s\"ss_cached_bytes\": %zu", sep(first), _hak_tiny_cached_bytes());
        _hak_out_printf(o, "%s\"kept_bytes\": %zu", sep(first), _hak_tiny_kept_bytes());
    }
}

static void print_text(struct hak_out *o, const struct hak_counter_totals *c)
{
    _hak_out_printf(o, "hakmem %s stats (pid %d, profile %s, tiny.use_superslab = %s)\n", PACKAGE_VERSION,
                    (int)getpid(), _hak_cfg.profile[0] ? _hak_cfg.profile : "(none)",
                    HAK_OPT(tiny_use_superslab) ? "true" : "false");
    if (!HAK_COUNTERS)
        _hak_out_printf(o, "(counters compiled out: ./configure --disable-counters)\n");
    for (size_t k = 0; k < NDESC; k++) {
        if (!first_of_group(k))
            continue;
        const char *group = descs[k].group;
        _hak_out_printf(o, "[%s]\n", group);
        for (size_t j = k; HAK_COUNTERS && j < NDESC; j++) {
            const struct ctr_desc *d = &descs[j];
            if (strcmp(d->group, group) != 0)
                continue;
            _hak_out_printf(o, "  %-22s %14llu  %s\n", d->name, (unsigned long long)total_of(d, c), d->doc);
            if (d->dim > 1 && total_of(d, c)) {
                _hak_out_printf(o, "  %-22s", "");
                for (unsigned i = 0; i < d->dim; i++)
                    if (value_of(d, c, i))
                        _hak_out_printf(o, " %u:%llu", _hak_class_size[i], (unsigned long long)value_of(d, c, i));
                _hak_out_printf(o, "\n");
            }
        }
        print_extra_text(o, group);
    }
    _hak_policy_print(o, false);
}

static void print_json(struct hak_out *o, const struct hak_counter_totals *c)
{
    _hak_out_printf(o, "{\"hakmem\": {\"version\": \"%s\", \"pid\": %d, \"profile\": ", PACKAGE_VERSION, (int)getpid());
    _hak_out_json_str(o, _hak_cfg.profile);
    _hak_out_printf(o, ", \"use_superslab\": %s, \"counters\": %s}", HAK_OPT(tiny_use_superslab) ? "true" : "false",
                    HAK_COUNTERS ? "true" : "false");
    for (size_t k = 0; k < NDESC; k++) {
        if (!first_of_group(k))
            continue;
        const char *group = descs[k].group;
        _hak_out_printf(o, ",\n \"%s\": {", group);
        bool first = true;
        for (size_t j = k; HAK_COUNTERS && j < NDESC; j++) {
            const struct ctr_desc *d = &descs[j];
            if (strcmp(d->group, group) != 0)
                continue;
            _hak_out_printf(o, "%s\"%s\": ", sep(&first), d->name);
            if (d->dim == 1) {
                _hak_out_printf(o, "%llu", (unsigned long long)total_of(d, c));
                continue;
            }
            _hak_out_printf(o, "{\"total\": %llu, \"by_class\": {", (unsigned long long)total_of(d, c));
            bool f2 = true;
            for (unsigned i = 0; i < d->dim; i++)
                if (value_of(d, c, i))
                    _hak_out_printf(o, "%s\"%u\": %llu", sep(&f2), _hak_class_size[i],
                                    (unsigned long long)value_of(d, c, i));
            _hak_out_printf(o, "}}");
        }
        print_extra_json(o, group, &first);
        _hak_out_printf(o, "}");
    }
    _hak_policy_print(o, true);
    _hak_out_printf(o, "\n}\n");
}

void _hak_stats_print(int fd, bool json)
{
    static hak_bss_large struct hak_counter_totals snap; /* too big for some thread stacks at exit */
    static struct hak_out out;
    hak_lock(&print_lock);
    _hak_stats_snapshot(&snap);
    _hak_out_init(&out, fd);
    if (json)
        print_json(&out, &snap);
    else
        print_text(&out, &snap);
    _hak_out_flush(&out);
    hak_unlock(&print_lock);
}

/* HAKMEM_STATS_FILE with every %p replaced by the process id. */
static void stats_path(char *buf, size_t len)
{
    const char *src = HAK_OPT_STR(stats_file);
    size_t n = 0;
    for (; *src && n + 1 < len; src++) {
        if (src[0] == '%' && src[1] == 'p') {
            n += _hak_fmt(buf + n, len - n, "%d", (int)getpid());
            src++;
        } else {
            buf[n++] = *src;
        }
    }
    buf[n] = 0;
}

/* The file fd 2 named at start-up (noted only when the report is on: an
 * fstat in every process would cost it a page of libc's read-only data
 * mapped): the report at exit goes to fd 2 only if it still names that
 * file. A program may close stderr (coreutils do at exit) and may then open
 * a file of its own as fd 2. */
static struct {
    dev_t dev;
    ino_t ino;
    bool known;
} stderr_id;

void _hak_stats_note_stderr(void)
{
    struct stat st;
    if (fstat(2, &st) == 0) {
        stderr_id.dev = st.st_dev;
        stderr_id.ino = st.st_ino;
        stderr_id.known = true;
    }
}

static bool stderr_unchanged(void)
{
    struct stat st;
    return stderr_id.known && fstat(2, &st) == 0 && st.st_dev == stderr_id.dev && st.st_ino == stderr_id.ino;
}

void _hak_stats_at_exit(void)
{
    if (HAK_OPT(stats) && stderr_unchanged())
        _hak_stats_print(2, false);
    if (HAK_OPT_STR(stats_file)[0]) {
        char path[HAK_OPT_STR_MAX + 32];
        stats_path(path, sizeof path);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            _hak_dprintf(2, "hakmem: stats: cannot write %s\n", path);
            return;
        }
        _hak_stats_print(fd, true);
        close(fd);
    }
}
