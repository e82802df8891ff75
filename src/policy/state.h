/* state.h — the policy state file (SPEC §5.3): what the ELO learner and the
 * lifecycle learned, kept across processes.
 *
 * The format is text, one "key value..." line each, fields separated by one
 * space, every line ending in '\n':
 *
 *   hakmem-policy-state 1                 magic and format version
 *   count 12                              the elo parameters that define the
 *   min_threshold 524288                  strategies: a file written under
 *   max_threshold 33554432                others is foreign (pstate_check)
 *   mode FROZEN                           LEARN, FROZEN or CANARY when written
 *   threshold 3080192                     the mmap threshold then, bytes
 *   leader 5                              the incumbent, and its threshold
 *   leader_threshold 3080192
 *   survivors 6
 *   windows 40                            totals over every process that
 *   rated 40                              learned into this file
 *   matches 31
 *   retirements 6
 *   strategy 0 524288 1478.213 40971... 0 3 0 1200 12 retired
 *     ... one per strategy: index, threshold (bytes), rating (3 decimals,
 *     for people), the rating's IEEE-754 bits (16 lowercase hex digits:
 *     what is loaded, exactly), wins, losses, draws, samples, windows,
 *     survivor or retired
 *   hist 0 0.250000 3fd0000000000000
 *     ... one per size bucket (evo.h): share of sampled allocations
 *     (6 decimals, for people) and its bits; the histogram at freezing,
 *     or the one learned so far while learning
 *   checksum 5c1e9f0b2a6d3c47             FNV-1a 64 of every byte before this line
 *
 * Running averages of measurements (the strategies' and the reference) are
 * not kept: they belong to the machine and moment they were measured on, so
 * a process measures afresh and only ratings and results carry over.
 *
 * Formatting and parsing work on buffers, allocate nothing and touch no
 * global; pstate_read and pstate_write are the file I/O, with plain system
 * calls, safe inside malloc. */
#ifndef HAK_POLICY_STATE_H
#define HAK_POLICY_STATE_H

#include "policy/evo.h"

#define PSTATE_VERSION 1
#define PSTATE_MAX 16384 /* bytes: the largest file (32 strategies) is under 8 KiB */

struct pstate_strategy {
    size_t threshold;
    double rating;
    uint64_t wins, losses, draws, samples, windows;
    bool retired;
};

struct pstate {
    unsigned count;                     /* strategies */
    size_t min_threshold, max_threshold;
    enum evo_mode mode;
    size_t threshold;
    unsigned leader, survivors;
    uint64_t windows, rated, matches, retirements;
    struct pstate_strategy s[ELO_MAX_STRATEGIES];
    double hist[EVO_BUCKETS];           /* shares, summing to 1 or all 0 */
};

/* The state of e and v; threshold is the one in force. The totals are e's
 * own counts (the caller adds those of a file it loaded). */
void pstate_capture(struct pstate *s, const struct elo *e, const struct evo *v, size_t threshold);

/* Whether s was written for the strategies of e (fresh from elo_init):
 * same count, bounds and every threshold; else false, the reason in err. */
bool pstate_check(const struct pstate *s, const struct elo *e, char *err, size_t errlen);

/* Puts s's ratings, results, survivors and leader into e (fresh from
 * elo_init and passing pstate_check). e's own counts stay zero. */
void pstate_restore(const struct pstate *s, struct elo *e);

/* Puts s's histogram into v (fresh from evo_init): what frozen windows are
 * compared with when frozen, what learning starts from otherwise. */
void pstate_restore_hist(const struct pstate *s, struct evo *v);

/* The file's text into buf; returns its length, or 0 when cap is too small
 * (PSTATE_MAX never is). */
size_t pstate_format(const struct pstate *s, char *buf, size_t cap);

/* Reads the text of a file (len bytes, need not be NUL-terminated): 0, or
 * -1 with the reason in err (bad magic, foreign version, truncated, bad
 * checksum, bad syntax, inconsistent values); s is then unspecified. */
int pstate_parse(const char *buf, size_t len, struct pstate *s, char *err, size_t errlen);

/* FNV-1a 64 of n bytes. */
uint64_t pstate_fnv1a(const char *p, size_t n);

enum { PSTATE_OK, PSTATE_MISSING, PSTATE_ERROR };

/* The contents of path into buf (at most cap bytes), the length in *len.
 * PSTATE_MISSING when there is no such file; PSTATE_ERROR (reason in err)
 * when it cannot be read, is not a regular file or is larger than cap. */
int pstate_read(const char *path, char *buf, size_t cap, size_t *len, char *err, size_t errlen);

/* Replaces path with the len bytes of buf atomically: they go to a new
 * temporary file in the same directory (named after path, the process, the
 * thread and a random number), which is renamed over path once written
 * completely; a reader sees the old file or the new one, never part of one.
 * Anything but a regular file at path (a device such as /dev/null, a FIFO,
 * a symbolic link, a directory) is left alone: -1.
 * Not synced: a crash may lose the newest state, and the loader's checks
 * catch a file a crash left incomplete. 0, or -1 with the reason in err
 * (the temporary file removed). */
int pstate_write(const char *path, const char *buf, size_t len, char *err, size_t errlen);

#endif
