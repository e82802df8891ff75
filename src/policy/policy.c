/* policy.c — runs the ELO windows and the lifecycle for the process: samples
 * handed over in per-thread batches, windows closed by whichever thread
 * crosses the boundary, the new threshold published, the state printed. */
#include "policy/policy.h"
#include "policy/state.h"
#include "fmt.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "thread.h"
#include <stdatomic.h>
#include <string.h>

size_t _hak_mmap_threshold;
size_t _hak_policy_min_size = SIZE_MAX;
uint32_t _hak_policy_batch = 1;

static struct {
    hak_lock_t lock;              /* guards everything but the atomics */
    bool enabled;                 /* elo.enabled */
    bool learning;                /* windows are kept */
    struct elo elo;
    struct evo evo;
    struct elo_rng rng;
    uint64_t seed;
    uint64_t window_n, window_ns, min_samples;
    /* Samples that end the current window: elo.window when it runs the
     * incumbent, elo.min_samples during the first look (elo_pick) and when
     * it runs a challenger (epsilon or canary). A first look only has to
     * tell behaviours apart, and short ones let even a short process learn;
     * a challenger's window is played against the incumbent's running
     * average, and keeping it short bounds what a bad one costs: one
     * exploration of 10,000 allocations on a threshold ten times slower
     * would be most of a short run. HAK_PEEK'd without the lock. */
    uint64_t window_cur;
    _Atomic uint64_t count;       /* samples in the current window */
    _Atomic uint64_t hist[EVO_BUCKETS];
    /* The last shift check (count and sizes into the window then): every
     * elo.min_samples samples, those since the last check are compared with
     * the lifecycle's sizes (evo_shift), so a long window that a shift
     * falls in ends within elo.min_samples samples of it instead of running
     * to its end on the old measurements. check_count is HAK_PEEK'd. */
    uint64_t check_count, check_hist[EVO_BUCKETS];
    /* The process's first window (elo.min_samples samples) is not rated:
     * it pays for the start-up (the arena's first page faults, empty
     * caches), which would make any challenger measured after it look
     * better than the incumbent it ran. */
    bool warm;
    uint64_t start_ns;            /* window start: HAK_PEEK'd without the lock */
    uint64_t start_cpu;
    long start_flt;
    /* policy.state_file (state.h) */
    char state_path[HAK_OPT_STR_MAX]; /* "" when off */
    bool state_loaded, state_warned;  /* the one warning was given */
    uint64_t state_writes;
    uint64_t state_synced;            /* elo.windows when the file last held what this process knows */
    struct { uint64_t windows, rated, matches, retirements; } loaded; /* the file's totals */
    char state_error[200];            /* why the last load or write failed, "" if none did */
} P = { .lock = HAK_LOCK_INIT };

/* A threshold or size in the text output (logs, stats): MiB, or KiB below
 * 1 MiB; the JSON keeps bytes. */
static void print_size(char *buf, size_t len, size_t n)
{
    if (n % (1024 * 1024) == 0)
        _hak_fmt(buf, len, "%zu MiB", n >> 20);
    else if (n >= 1024 * 1024)
        _hak_fmt(buf, len, "%.2f MiB", (double)n / (1024.0 * 1024.0));
    else
        _hak_fmt(buf, len, "%zu KiB", n >> 10);
}
/* The state file's text and values while it is loaded or written (at
 * start-up, or with the lock held): too big for some stacks. */
static hak_bss_large char state_text[PSTATE_MAX];
static struct pstate state_values;
HAK_LOCK_LIST(&P.lock, 1, 0, HAK_RANK_POLICY);

static double pct(int64_t v) { return (double)v / 100.0; }

/* Records why the state file was not loaded or written; warns once per
 * process, whatever else goes wrong with it afterwards. */
static void state_fail(bool load, const char *reason)
{
    _hak_fmt(P.state_error, sizeof P.state_error, "%s: %s", load ? "load" : "write", reason);
    if (P.state_warned)
        return;
    P.state_warned = true;
    _hak_dprintf(2, "hakmem: policy: state file %s %s: %s\n", P.state_path, load ? "ignored" : "not written", reason);
}

/* Loads the state file into P.elo (fresh from elo_init); state_values
 * keeps its histogram for the lifecycle. A missing file is the first run. */
static void state_load(void)
{
    char err[160];
    size_t len = 0;
    int r = pstate_read(P.state_path, state_text, sizeof state_text, &len, err, sizeof err);
    if (r == PSTATE_MISSING) {
        if (HAK_OPT(verbose) >= 1)
            _hak_dprintf(2, "hakmem: policy: state file %s not found: learning from scratch\n", P.state_path);
        return;
    }
    if (r != PSTATE_OK || pstate_parse(state_text, len, &state_values, err, sizeof err) != 0 ||
        !pstate_check(&state_values, &P.elo, err, sizeof err)) {
        state_fail(true, err);
        return;
    }
    pstate_restore(&state_values, &P.elo);
    P.loaded.windows = state_values.windows;
    P.loaded.rated = state_values.rated;
    P.loaded.matches = state_values.matches;
    P.loaded.retirements = state_values.retirements;
    P.state_loaded = true;
    if (HAK_OPT(verbose) >= 1) {
        char size[32];
        print_size(size, sizeof size, P.elo.s[P.elo.incumbent].threshold);
        _hak_dprintf(2, "hakmem: policy: state file %s loaded: leader %u (threshold %s), %u survivors, %llu windows\n",
                     P.state_path, P.elo.incumbent, size, P.elo.survivors, (unsigned long long)state_values.windows);
    }
}

/* Writes the state file if this process closed a window since the file
 * last held what it knows (load, fork, last write); with the lock held. */
static void state_save(void)
{
    if (!P.state_path[0] || P.elo.windows == P.state_synced)
        return;
    pstate_capture(&state_values, &P.elo, &P.evo, HAK_PEEK(_hak_mmap_threshold));
    state_values.windows += P.loaded.windows;
    state_values.rated += P.loaded.rated;
    state_values.matches += P.loaded.matches;
    state_values.retirements += P.loaded.retirements;
    size_t len = pstate_format(&state_values, state_text, sizeof state_text);
    char err[160];
    if (pstate_write(P.state_path, state_text, len, err, sizeof err) != 0) {
        state_fail(false, err);
        return;
    }
    P.state_writes++;
    P.state_synced = P.elo.windows;
}

static bool window_full(uint64_t count, uint64_t now)
{
    return count >= HAK_PEEK(P.window_cur) ||
           (count >= P.min_samples && now - HAK_PEEK(P.start_ns) >= P.window_ns);
}

/* Whether a shift check is due (P.check_count). */
static bool check_due(uint64_t count) { return count >= HAK_PEEK(P.check_count) + P.min_samples; }

/* Starts counting a window (at start-up, or with the lock held): its length
 * (P.window_cur) and the batch size that goes with it. */
static void next_window(void)
{
    bool first_look = P.evo.mode == EVO_LEARN && elo_first_look(&P.elo);
    uint64_t len = !P.warm || first_look || P.evo.strategy != P.elo.incumbent ? P.min_samples : P.window_n;
    HAK_POKE(P.window_cur, len);
    /* Small batches for small windows, so a window ends near its size;
     * at most 64 so a thread's samples are not held back for long. */
    uint64_t per = len / 64;
    HAK_POKE(_hak_policy_batch, (uint32_t)(per < 1 ? 1 : per > 64 ? 64 : per));
    HAK_POKE(P.check_count, 0);
    memset(P.check_hist, 0, sizeof P.check_hist);
}

void _hak_policy_init(void)
{
    size_t fixed = (size_t)HAK_OPT(large_mmap_threshold);
    _hak_mmap_threshold = fixed;
    _hak_policy_min_size = SIZE_MAX;
    struct elo_params ep = {
        .count = (unsigned)HAK_OPT(elo_strategies),
        .min_threshold = (size_t)HAK_OPT(elo_min_threshold),
        .max_threshold = (size_t)HAK_OPT(elo_max_threshold),
        .k = (double)HAK_OPT(elo_k),
        .initial = (double)HAK_OPT(elo_initial),
        .epsilon = pct(HAK_OPT(elo_epsilon)),
        .draw_margin = pct(HAK_OPT(elo_draw_margin)),
        .smoothing = pct(HAK_OPT(elo_smoothing)),
        .min_samples = (uint64_t)HAK_OPT(elo_min_samples),
        .survivors = (unsigned)HAK_OPT(elo_survivors),
        .retire_games = (unsigned)HAK_OPT(elo_retire_games),
        .min_size = (size_t)HAK_OPT(elo_min_size),
    };
    /* The weights are shares of their sum, so 40/30/30 and 4/3/3 agree. */
    double w = (double)(HAK_OPT(elo_weight_cpu) + HAK_OPT(elo_weight_faults) + HAK_OPT(elo_weight_memory));
    if (w <= 0)
        w = 1;
    ep.w_cpu = (double)HAK_OPT(elo_weight_cpu) / w;
    ep.w_faults = (double)HAK_OPT(elo_weight_faults) / w;
    ep.w_mapped = (double)HAK_OPT(elo_weight_memory) / w;
    /* The arena reuses a freed run for any later size without a fault, where
     * a block mapped per request faults in anew unless BigCache holds one of
     * its size: started at the largest candidate (the default), a short
     * process's first windows run the side of the trade that faults less
     * and keeps less mapped, and learning tries the other. */
    elo_init(&P.elo, &ep, (size_t)HAK_OPT(elo_start_threshold));
    P.enabled = HAK_OPT(elo_enabled);
    _hak_fmt(P.state_path, sizeof P.state_path, "%s", HAK_OPT_STR(policy_state_file));
    P.state_loaded = P.state_warned = false;
    P.state_writes = P.state_synced = 0;
    P.loaded.windows = P.loaded.rated = P.loaded.matches = P.loaded.retirements = 0;
    P.state_error[0] = 0;
    if (P.enabled && P.state_path[0])
        state_load();
    struct evo_params vp = {
        .policy = (enum evo_policy)HAK_OPT(evo_policy),
        .stable_windows = (unsigned)HAK_OPT(evo_stable_windows),
        .stable_eps = pct(HAK_OPT(evo_stable_eps)),
        .freeze_ns = (uint64_t)HAK_OPT(evo_freeze_time) * 1000000u,
        .canary = pct(HAK_OPT(evo_canary)),
        .degrade = pct(HAK_OPT(evo_degrade)),
        .degrade_windows = (unsigned)HAK_OPT(evo_degrade_windows),
        .shift = pct(HAK_OPT(evo_shift)),
    };
    uint64_t now = _hak_os_now_ns();
    evo_init(&P.evo, &vp, &P.elo, now);
    if (P.state_loaded)
        pstate_restore_hist(&state_values, &P.evo);
    /* 0 asks for a random seed, so the seed used is never 0: the stats
     * print it, and policy.seed takes it back. */
    P.seed = (uint64_t)HAK_OPT(policy_seed);
    while (!P.seed)
        P.seed = _hak_os_random();
    P.rng.s = P.seed;
    /* frozen learns nothing and samples nothing: it runs the loaded
     * leader's threshold, or without a state the configured one. */
    P.learning = P.enabled && vp.policy != EVO_P_FROZEN;
    if (P.enabled && P.state_loaded)
        _hak_mmap_threshold = P.elo.s[P.evo.strategy].threshold;
    if (P.enabled && !P.learning && !P.state_loaded && HAK_OPT(verbose) >= 1)
        _hak_dprintf(2, "hakmem: policy: evo.policy = frozen with no state loaded (policy.state_file): "
                     "running large.mmap_threshold (%zu bytes)\n", fixed);
    if (!P.learning)
        return;
    P.window_n = (uint64_t)HAK_OPT(elo_window);
    P.window_ns = (uint64_t)HAK_OPT(elo_window_time) * 1000000u;
    P.min_samples = ep.min_samples;
    atomic_store_explicit(&P.count, 0, memory_order_relaxed);
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        atomic_store_explicit(&P.hist[b], 0, memory_order_relaxed);
    P.warm = false;
    next_window();
    P.start_ns = now;
    P.start_cpu = _hak_os_cpu_ns();
    P.start_flt = _hak_os_minflt();
    _hak_mmap_threshold = P.elo.s[P.evo.strategy].threshold;
    _hak_policy_min_size = (size_t)HAK_OPT(elo_min_size);
}

static void log_window(const struct elo_metrics *m, unsigned played, uint64_t samples, enum evo_mode before,
                       bool changed)
{
    int verbose = (int)HAK_OPT(verbose);
    char size[32];
    if (verbose >= 2) {
        char mapped[32];
        print_size(size, sizeof size, P.elo.s[played].threshold);
        print_size(mapped, sizeof mapped, (size_t)m->mapped);
        _hak_dprintf(2, "hakmem: elo: window %llu: strategy %u (threshold %s) %llu samples, %.0f ns cpu and %.3f faults "
                     "per allocation, %s mapped; rating %.1f\n",
                     (unsigned long long)P.elo.windows, played, size, (unsigned long long)samples, m->cpu_ns, m->faults,
                     mapped, P.elo.s[played].rating);
    }
    if (verbose >= 1 && P.elo.last_retired >= 0) {
        print_size(size, sizeof size, P.elo.s[P.elo.last_retired].threshold);
        _hak_dprintf(2, "hakmem: elo: strategy %d (threshold %s) retired, rating %.1f; %u survivors\n",
                     P.elo.last_retired, size, P.elo.s[P.elo.last_retired].rating, P.elo.survivors);
    }
    if (verbose >= 1 && changed) {
        print_size(size, sizeof size, P.elo.s[P.evo.strategy].threshold);
        _hak_dprintf(2, "hakmem: evo: %s -> %s (%s) after window %llu; next strategy %u (threshold %s)\n",
                     evo_mode_name(before), evo_mode_name(P.evo.mode), evo_reason_name(P.evo.last_reason),
                     (unsigned long long)P.elo.windows, P.evo.strategy, size);
    }
}

/* Ends the window if it is still full once the lock is held, or if the
 * samples since the last shift check show a shift; a thread that finds the
 * lock taken leaves it to the holder. */
static void close_window(void)
{
    if (!hak_trylock(&P.lock))
        return;
    uint64_t now = _hak_os_now_ns(), count = atomic_load_explicit(&P.count, memory_order_relaxed);
    uint64_t hist[EVO_BUCKETS], recent[EVO_BUCKETS];
    bool full = P.learning && window_full(count, now), shifted = false;
    if (P.learning && !full && check_due(count)) {
        for (unsigned b = 0; b < EVO_BUCKETS; b++) {
            hist[b] = atomic_load_explicit(&P.hist[b], memory_order_relaxed);
            recent[b] = hist[b] - P.check_hist[b];
        }
        shifted = evo_shift(&P.evo, recent) > P.evo.p.shift;
        if (!shifted) {
            HAK_POKE(P.check_count, count);
            memcpy(P.check_hist, hist, sizeof hist);
        }
    }
    if (!full && !shifted) {
        hak_unlock(&P.lock);
        return;
    }
    uint64_t samples = atomic_exchange_explicit(&P.count, 0, memory_order_relaxed);
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        hist[b] = atomic_exchange_explicit(&P.hist[b], 0, memory_order_relaxed);
    /* A window cut short by a shift gives the lifecycle the sizes it was
     * seen in: before them, the window ran the old distribution. */
    if (shifted)
        memcpy(hist, recent, sizeof hist);
    uint64_t cpu = _hak_os_cpu_ns();
    long flt = _hak_os_minflt();
    struct elo_metrics m = {
        .cpu_ns = (double)(cpu - P.start_cpu) / (double)samples,
        .faults = (double)(flt - P.start_flt) / (double)samples,
        .mapped = (double)_hak_os_mapped(),
    };
    unsigned played = P.evo.strategy;
    enum evo_mode before = P.evo.mode;
    bool changed = false;
    if (P.warm)
        changed = evo_window(&P.evo, &P.elo, samples, &m, hist, now, &P.rng);
    else
        P.warm = true;
    next_window();
    HAK_POKE(_hak_mmap_threshold, P.elo.s[P.evo.strategy].threshold);
    HAK_POKE(P.start_ns, now);
    P.start_cpu = cpu;
    P.start_flt = flt;
    log_window(&m, played, samples, before, changed);
    /* At freezing (a canary's win included) the leader is worth keeping. */
    if (changed && P.evo.mode == EVO_FROZEN &&
        (P.evo.last_reason == EVO_R_STABLE || P.evo.last_reason == EVO_R_TIMEOUT || P.evo.last_reason == EVO_R_CANARY_WON))
        state_save();
    hak_unlock(&P.lock);
}

static void hand_over(struct policy_tls *t)
{
    uint64_t c = atomic_fetch_add_explicit(&P.count, t->pending, memory_order_relaxed) + t->pending;
    t->pending = 0;
    for (unsigned b = 0; b < EVO_BUCKETS; b++)
        if (t->hist[b]) {
            atomic_fetch_add_explicit(&P.hist[b], t->hist[b], memory_order_relaxed);
            t->hist[b] = 0;
        }
    if (window_full(c, _hak_os_now_ns()) || check_due(c))
        close_window();
}

void _hak_policy_sample_slow(struct policy_tls *t)
{
    if (t->pending >= HAK_PEEK(_hak_policy_batch))
        hand_over(t);
    else
        _hak_thread_arm(); /* held samples go over at thread exit */
}

void _hak_policy_thread_exit(void)
{
    if (_hak_thread.pol.pending)
        hand_over(&_hak_thread.pol);
}

bool _hak_policy_snapshot(struct elo *e, struct evo *v)
{
    hak_lock(&P.lock);
    *e = P.elo;
    *v = P.evo;
    bool learning = P.learning;
    hak_unlock(&P.lock);
    return learning;
}

void _hak_policy_pin_threshold(size_t n)
{
    hak_lock(&P.lock);
    P.enabled = false;
    P.learning = false;
    HAK_POKE(_hak_policy_min_size, SIZE_MAX);
    HAK_POKE(_hak_mmap_threshold, n);
    hak_unlock(&P.lock);
}

void _hak_policy_at_exit(void)
{
    if (!P.state_path[0])
        return;
    hak_lock(&P.lock);
    state_save();
    hak_unlock(&P.lock);
}

void _hak_policy_fork_child(void)
{
    _hak_thread.pol = (struct policy_tls){ 0 }; /* the parent's, not this process's */
    /* The child writes the state file only once it has learned something
     * of its own. */
    P.state_synced = P.elo.windows;
    P.state_writes = 0;
    /* A window cut short mid-update (a signal handler forked): the child
     * keeps the threshold it has, stops sampling and keeps no state. */
    if (hak_lock_torn(&P.lock)) {
        P.learning = false;
        _hak_policy_min_size = SIZE_MAX;
        P.state_path[0] = 0;
    }
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void print_text(struct hak_out *o, uint64_t now)
{
    const struct elo *e = &P.elo;
    const struct evo *v = &P.evo;
    char size[32];
    _hak_out_printf(o, "[elo]\n");
    if (P.state_path[0])
        _hak_out_printf(o, "  state file %s: %s, %llu write%s%s%s\n", P.state_path, P.state_loaded ? "loaded" : "not loaded",
                        (unsigned long long)P.state_writes, P.state_writes == 1 ? "" : "s", P.state_error[0] ? "; " : "",
                        P.state_error);
    if (!P.enabled) {
        print_size(size, sizeof size, _hak_mmap_threshold);
        _hak_out_printf(o, "  off: fixed mmap threshold %s (large.mmap_threshold)\n", size);
        return;
    }
    print_size(size, sizeof size, HAK_PEEK(_hak_mmap_threshold));
    _hak_out_printf(o, "  threshold now %s; windows %llu (rated %llu, matches %llu), %llu samples in this one; "
                    "%u of %u strategies survive; seed %llu\n",
                    size, (unsigned long long)e->windows, (unsigned long long)e->rated, (unsigned long long)e->matches,
                    (unsigned long long)atomic_load(&P.count), e->survivors, e->p.count, (unsigned long long)P.seed);
    _hak_out_printf(o, "   #  threshold    rating  wins losses draws      samples windows  state\n");
    for (unsigned i = 0; i < e->p.count; i++) {
        const struct elo_strategy *s = &e->s[i];
        print_size(size, sizeof size, s->threshold);
        _hak_out_printf(o, "  %2u %10s %9.1f %5llu %6llu %5llu %12llu %7llu  %s%s%s\n", i, size, s->rating,
                        (unsigned long long)s->wins, (unsigned long long)s->losses, (unsigned long long)s->draws,
                        (unsigned long long)s->samples, (unsigned long long)s->windows,
                        s->retired ? "retired" : "survivor", i == e->incumbent ? ", leader" : "",
                        i == v->strategy ? ", running" : "");
    }
    _hak_out_printf(o, "[evo]\n  policy %s, mode %s", _hak_config_format(&_hak_cfg, HAK_OPT_evo_policy,
                                                                      size, sizeof size),
                    evo_mode_name(v->mode));
    if (v->mode != EVO_LEARN)
        _hak_out_printf(o, " (frozen on strategy %u)", v->frozen);
    _hak_out_printf(o, "; transitions %llu", (unsigned long long)v->transitions);
    for (unsigned r = 0; r < EVO_NREASONS; r++)
        if (v->by_reason[r])
            _hak_out_printf(o, ", %s %llu", evo_reason_name((enum evo_reason)r), (unsigned long long)v->by_reason[r]);
    _hak_out_printf(o, "\n  time");
    for (unsigned m = 0; m < EVO_NMODES; m++)
        _hak_out_printf(o, "%s %s %.1f ms", m ? "," : "", evo_mode_name((enum evo_mode)m),
                        ms(v->time_in[m] + (m == v->mode ? now - v->mode_since : 0)));
    _hak_out_printf(o, "; stable windows %u; last frozen window's score ratio %.3f; last size shift %.3f\n",
                    v->stable_count, v->last_ratio, v->last_shift);
}

static void print_json(struct hak_out *o, uint64_t now)
{
    const struct elo *e = &P.elo;
    const struct evo *v = &P.evo;
    char word[32];
    _hak_out_printf(o, ",\n \"elo\": {\"enabled\": %s, \"threshold\": %zu, \"state_file\": ",
                    P.enabled ? "true" : "false", HAK_PEEK(_hak_mmap_threshold));
    _hak_out_json_str(o, P.state_path);
    _hak_out_printf(o, ", \"state_loaded\": %s, \"state_writes\": %llu", P.state_loaded ? "true" : "false",
                    (unsigned long long)P.state_writes);
    if (P.state_error[0]) {
        _hak_out_printf(o, ", \"state_error\": ");
        _hak_out_json_str(o, P.state_error);
    }
    if (P.enabled) {
        _hak_out_printf(o, ", \"windows\": %llu, \"rated\": %llu, \"matches\": %llu, \"retirements\": %llu, "
                        "\"window_samples\": %llu, \"current\": %u, \"leader\": %u, \"survivors\": %u, \"seed\": %llu, "
                        "\"strategies\": [",
                        (unsigned long long)e->windows, (unsigned long long)e->rated, (unsigned long long)e->matches,
                        (unsigned long long)e->retirements, (unsigned long long)atomic_load(&P.count), v->strategy,
                        e->incumbent, e->survivors, (unsigned long long)P.seed);
        for (unsigned i = 0; i < e->p.count; i++) {
            const struct elo_strategy *s = &e->s[i];
            _hak_out_printf(o, "%s\n  {\"index\": %u, \"threshold\": %zu, \"rating\": %.1f, \"wins\": %llu, "
                            "\"losses\": %llu, \"draws\": %llu, \"samples\": %llu, \"windows\": %llu, \"state\": \"%s\"}",
                            i ? "," : "", i, s->threshold, s->rating, (unsigned long long)s->wins,
                            (unsigned long long)s->losses, (unsigned long long)s->draws,
                            (unsigned long long)s->samples, (unsigned long long)s->windows,
                            s->retired ? "retired" : "survivor");
        }
        _hak_out_printf(o, "]");
    }
    _hak_out_printf(o, "},\n \"evo\": {\"policy\": \"%s\", \"mode\": \"%s\"",
                    _hak_config_format(&_hak_cfg, HAK_OPT_evo_policy, word, sizeof word),
                    P.enabled ? evo_mode_name(v->mode) : "none");
    if (P.enabled) {
        _hak_out_printf(o, ", \"frozen_strategy\": %u, \"transitions\": %llu, \"by_reason\": {", v->frozen,
                        (unsigned long long)v->transitions);
        for (unsigned r = 0; r < EVO_NREASONS; r++)
            _hak_out_printf(o, "%s\"%s\": %llu", r ? ", " : "", evo_reason_name((enum evo_reason)r),
                            (unsigned long long)v->by_reason[r]);
        _hak_out_printf(o, "}, \"time_ms\": {");
        for (unsigned m = 0; m < EVO_NMODES; m++)
            _hak_out_printf(o, "%s\"%s\": %.1f", m ? ", " : "", evo_mode_name((enum evo_mode)m),
                            ms(v->time_in[m] + (m == v->mode ? now - v->mode_since : 0)));
        _hak_out_printf(o, "}, \"stable_windows\": %u, \"last_score_ratio\": %.3f, \"last_shift\": %.3f", v->stable_count,
                        v->last_ratio, v->last_shift);
    }
    _hak_out_printf(o, "}");
}

void _hak_policy_print(struct hak_out *o, bool json)
{
    hak_lock(&P.lock);
    uint64_t now = _hak_os_now_ns();
    if (json)
        print_json(o, now);
    else
        print_text(o, now);
    hak_unlock(&P.lock);
}
