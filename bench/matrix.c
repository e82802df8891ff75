/* matrix.c — `hakmem matrix`: runs every matrix profile of hakmem.ini and every installed peer allocator over the benchmark workloads, each run a process of its own, interleaved, and reports medians, spreads and deltas against baseline. */
#include "matrix.h"
#include "hakmem.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
/* conf/hakmem.ini as built in (src/conf_builtin.c), read when hakmem uses it. */
extern const char _hak_builtin_ini[];

static const char usage_text[] =
    "usage: hakmem matrix [--quick] [--profiles A,B,...] [--workloads X,Y,...] [--peers P,Q,...|none]\n"
    "                     [--runs N] [--iterations N] [--larson \"ARGS\"] [--out DIR] [--config FILE]\n"
    "                     [--bench-dir DIR]\n"
    "  --quick        3 runs, 20 iterations (+3 warm-up) per scenario, larson for 1 s: a few minutes\n"
    "  --profiles     hakmem profiles (default: every [profile] of the configuration file except\n"
    "                 the usage modes balanced, fast, learning, research; baseline is always added)\n"
    "  --workloads    of json, mir, vm, mixed, tiny, random-mixed, larson (default: all)\n"
    "  --peers        of glibc (or system), mimalloc, jemalloc, tcmalloc (default: all installed)\n"
    "  --runs         runs of every configuration on every workload (default 5)\n"
    "  --iterations   bench_allocators iterations per run (default 100, with 10 warm-up)\n"
    "  --larson       larson SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS (default \"5 8 1000 5000 100 4141 2\")\n"
    "  --out          directory for matrix.txt, matrix.csv, matrix.json, matrix.svg (default hakmem-matrix)\n"
    "  --config       the hakmem.ini to read the profiles from (default: the one hakmem reads)\n"
    "  --bench-dir    where bench_allocators and larson are (default: the build tree's bench/, else the\n"
    "                 installed ones)\n";

static int usage(const char *msg, const char *arg)
{
    fprintf(stderr, "hakmem matrix: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", usage_text);
    return 2;
}

/* ---- What is measured ----------------------------------------------------------- */

static const struct workload {
    const char *name;
    const char *what; /* one op */
} workloads[] = {
    { "json", "one iteration: 1000 blocks of 64 KiB allocated, written, freed" },
    { "mir", "one iteration: 100 blocks of 256 KiB allocated, written, freed" },
    { "vm", "one iteration: 10 blocks of 2 MiB allocated, written, freed" },
    { "mixed", "one iteration: 10 batches of 100 x 64 KiB + 10 x 256 KiB + 1 x 2 MiB, mixed free order" },
    { "tiny", "one iteration: 10,000 malloc/free pairs of 16-128 B" },
    { "random-mixed", "one iteration: 10,000 random replacements in a live set of 1000 blocks of 8 B-1 KiB" },
    { "larson", "one replacement (free + malloc) in larson, all threads together" },
};
enum { NWORKLOADS = sizeof workloads / sizeof workloads[0] };

/* larson reports a throughput; the others are bench_allocators scenarios. */
static bool is_larson(int w)
{
    return strcmp(workloads[w].name, "larson") == 0;
}

/* The peers, preloaded from their Debian packages ("glibc" preloads nothing). */
static const struct peer {
    const char *name, *soname, *package;
} peers[] = {
    { "glibc", NULL, "libc6" },
    { "mimalloc", "libmimalloc.so.2", "libmimalloc2.0" },
    { "jemalloc", "libjemalloc.so.2", "libjemalloc2" },
    { "tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4" },
};
enum { NPEERS = sizeof peers / sizeof peers[0] };

/* Usage modes of hakmem.ini: not experiments, left out unless named. */
static const char *const modes[] = { "balanced", "fast", "learning", "research" };

/* ---- State ------------------------------------------------------------------------- */

static struct mx_matrix *mx;
static const char *library;             /* libhakmem to preload */
static char bench_dir[4096];
static char tmp[4096];                  /* scratch directory, removed at exit */
static char config_file[4096];          /* --config, passed on as HAKMEM_CONFIG */
static int peer_of[MX_MAX_CONFIGS];     /* index into peers[] of a peer configuration */
static int workload_of[MX_MAX_WORKLOADS];
static long iterations = 100, warmup = 10;
static char larson_args[7][32] = { "5", "8", "1000", "5000", "100", "4141", "2" };
static bool have_strace;
static int failures;

/* Every profile of the configuration file: its name and overrides. */
static struct {
    int n;
    char name[MX_MAX_CONFIGS][MX_NAME];
    char label[MX_MAX_CONFIGS][MX_LABEL];
} file_profiles;

static void add_file_profile(const char *name, const char *label, void *arg)
{
    (void)arg;
    if (file_profiles.n == MX_MAX_CONFIGS)
        return;
    snprintf(file_profiles.name[file_profiles.n], MX_NAME, "%s", name);
    snprintf(file_profiles.label[file_profiles.n], MX_LABEL, "%s", label);
    file_profiles.n++;
}

/* ---- Small helpers ---------------------------------------------------------------- */

/* The whole file at path (NUL-terminated, to free), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += r;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = 0;
    return buf;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int mkdir_p(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static void remove_tmp(void)
{
    if (!tmp[0])
        return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "hakmem matrix: could not remove %s\n", tmp);
}

/* Splits a comma-separated list in place into at most max items. */
static int split_list(char *list, char **item, int max)
{
    int n = 0;
    for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t && n < max)
            item[n++] = t;
    return n;
}

/* ---- Finding things --------------------------------------------------------------- */

/* The benchmarks: next to a build tree's hakmem (its .libs/../bench), else
 * the installed ones. */
static int find_bench_dir(void)
{
    char exe[4096], probe[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            const char *tries[] = { "/../bench", "/bench" };
            for (int i = 0; i < 2; i++) {
                snprintf(probe, sizeof probe, "%s%s/bench_allocators", exe, tries[i]);
                if (access(probe, X_OK) == 0 && realpath(probe, bench_dir)) {
                    *strrchr(bench_dir, '/') = 0;
                    return 0;
                }
            }
        }
    }
    snprintf(bench_dir, sizeof bench_dir, "%s", PKGLIBEXECDIR);
    snprintf(probe, sizeof probe, "%s/bench_allocators", bench_dir);
    return access(probe, X_OK) == 0 ? 0 : -1;
}

/* Where the dynamic loader would find a peer's soname. */
static bool find_peer(const struct peer *p, char *path, size_t len)
{
    if (!p->soname) {
        snprintf(path, len, "(no preload)");
        return true;
    }
    struct utsname u;
    char multiarch[128] = "x86_64-linux-gnu";
    if (uname(&u) == 0)
        snprintf(multiarch, sizeof multiarch, "%s-linux-gnu", u.machine);
    const char *dirs[] = { "/usr/lib/", "/lib/", "/usr/lib64", "/usr/lib", "/usr/local/lib" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (dirs[i][strlen(dirs[i]) - 1] == '/')
            snprintf(path, len, "%s%s/%s", dirs[i], multiarch, p->soname);
        else
            snprintf(path, len, "%s/%s", dirs[i], p->soname);
        if (is_file(path))
            return true;
    }
    return false;
}

/* The configuration file hakmem reads (or config_file): its text, to free,
 * and its name in name. */
static char *config_text(char *name, size_t len)
{
    int fd = memfd_create("hakmem-matrix", 0);
    if (fd < 0)
        return NULL;
    hak_config_dump(fd, NULL, config_file[0] ? config_file : NULL, HAK_DUMP_JSON);
    char json[8192];
    ssize_t n = pread(fd, json, sizeof json - 1, 0);
    close(fd);
    json[n > 0 ? n : 0] = 0;
    const char *f = strstr(json, "{\"file\": \"");
    if (!f)
        return NULL;
    f += strlen("{\"file\": \"");
    snprintf(name, len, "%.*s", (int)strcspn(f, "\""), f);
    if (strncmp(name, "builtin:", 8) == 0)
        return strdup(_hak_builtin_ini);
    return slurp(name);
}

/* ---- Running ----------------------------------------------------------------------- */

/* The environment of a run: ours without any allocator choice, plus set[]. */
static char **make_env(char **set, int nset)
{
    int n = 0;
    while (environ[n])
        n++;
    char **env = calloc((size_t)(n + nset + 1), sizeof *env);
    if (!env)
        return NULL;
    int k = 0;
    static const char *const drop[] = { "LD_PRELOAD=", "HAKMEM_PROFILE=", "HAKMEM_MODE=", "HAKMEM_STATS_FILE=",
                                        "HAKMEM_CONFIG=" };
    for (int i = 0; i < n; i++) {
        bool keep = true;
        for (size_t d = 0; d < sizeof drop / sizeof drop[0]; d++)
            keep = keep && strncmp(environ[i], drop[d], strlen(drop[d])) != 0;
        if (keep || (!config_file[0] && strncmp(environ[i], "HAKMEM_CONFIG=", 14) == 0))
            env[k++] = environ[i];
    }
    for (int i = 0; i < nset; i++)
        env[k++] = set[i];
    return env;
}

struct outcome {
    int status;         /* exit status; 124 after a time-out; 127 could not run */
    struct rusage ru;
    pid_t pid;
    char *out, *err;    /* what it printed, to free */
};

/* Runs argv with env for at most limit seconds, stdout and stderr to files. */
static void spawn(char **argv, char **env, double limit, struct outcome *o)
{
    char out_path[4200], err_path[4200];
    snprintf(out_path, sizeof out_path, "%s/out", tmp);
    snprintf(err_path, sizeof err_path, "%s/err", tmp);
    memset(o, 0, sizeof *o);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execvpe(argv[0], argv, env);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    o->pid = pid;
    if (pid < 0) {
        o->status = 127;
        o->out = strdup("");
        o->err = strdup("cannot fork\n");
        return;
    }
    /* A wake-up every 5 ms takes a negligible share of a CPU, and the run's
     * figures are measured inside it. */
    struct timespec start, now, nap = { 0, 5000000 };
    clock_gettime(CLOCK_MONOTONIC, &start);
    int st = 0;
    bool killed = false;
    for (;;) {
        pid_t r = wait4(pid, &st, WNOHANG, &o->ru);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!killed && (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) * 1e-9 > limit) {
            kill(pid, SIGKILL);
            killed = true;
        }
        nanosleep(&nap, NULL);
    }
    o->status = killed ? 124 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    o->out = slurp(out_path);
    o->err = slurp(err_path);
    if (!o->out)
        o->out = strdup("");
    if (!o->err)
        o->err = strdup("");
}

static void release(struct outcome *o)
{
    free(o->out);
    free(o->err);
}

/* The command of workload w; base: the short run that syscall rates are
 * taken against. argv has room for 16 words. */
static void workload_argv(int w, bool base, char **argv, int *argc)
{
    static char path[4200], it[32], wu[32], secs[32];
    int n = *argc;
    if (is_larson(w)) {
        snprintf(path, sizeof path, "%s/larson", bench_dir);
        argv[n++] = path;
        double s = atof(larson_args[0]);
        snprintf(secs, sizeof secs, "%g", s / 10 < 0.1 ? s / 10 : 0.1);
        argv[n++] = base ? secs : larson_args[0];
        for (int i = 1; i < 7; i++)
            argv[n++] = larson_args[i];
    } else {
        snprintf(path, sizeof path, "%s/bench_allocators", bench_dir);
        snprintf(it, sizeof it, "%ld", base ? 1 : iterations);
        snprintf(wu, sizeof wu, "%ld", base ? 0 : warmup);
        argv[n++] = path;
        argv[n++] = "--scenario";
        argv[n++] = (char *)workloads[w].name;
        argv[n++] = "--iterations";
        argv[n++] = it;
        argv[n++] = "--warmup";
        argv[n++] = wu;
    }
    argv[n] = NULL;
    *argc = n;
}

/* Runs configuration c on workload wi once. strace: under strace -c (peers'
 * syscall counts). Fills s (the figures) and sys (syscall counts) as far
 * as the run gives them; returns 0 on success. A run on another allocator
 * than intended ends the program. */
static int run_one(int wi, int c, bool base, bool strace, struct mx_sample *s, double sys[MX_NSYS])
{
    const struct mx_config *cf = &mx->config[c];
    int w = workload_of[wi];
    char *argv[32], *set[4], preload[4200], profile[MX_NAME + 32], stats[4200], cfg[4200], strace_out[4200];
    int argc = 0, nset = 0;
    snprintf(stats, sizeof stats, "HAKMEM_STATS_FILE=%s/stats-%%p.json", tmp);
    snprintf(strace_out, sizeof strace_out, "%s/strace", tmp);
    if (config_file[0]) {
        snprintf(cfg, sizeof cfg, "HAKMEM_CONFIG=%s", config_file);
        set[nset++] = cfg;
    }
    const char *lib = cf->kind == MX_HAKMEM ? library : peers[peer_of[c]].soname ? cf->label : NULL;
    if (lib)
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib);
    if (strace) {
        argv[argc++] = "strace";
        argv[argc++] = "-f";
        argv[argc++] = "-c";
        argv[argc++] = "-o";
        argv[argc++] = strace_out;
        argv[argc++] = "-e";
        argv[argc++] = "trace=mmap,munmap,madvise";
        if (lib) {
            argv[argc++] = "-E";
            argv[argc++] = preload; /* the program's, not strace's */
        }
    } else if (lib) {
        set[nset++] = preload;
    }
    if (cf->kind == MX_HAKMEM) {
        snprintf(profile, sizeof profile, "HAKMEM_PROFILE=%s", cf->name);
        set[nset++] = profile;
        set[nset++] = stats;
    }
    workload_argv(w, base, argv, &argc);
    char **env = make_env(set, nset);
    if (!env) {
        fprintf(stderr, "hakmem matrix: out of memory\n");
        exit(1);
    }
    double limit = is_larson(w) ? atof(larson_args[0]) * 3 + 60 : 900;
    struct outcome o;
    spawn(argv, env, limit, &o);
    free(env);

    int rc = -1;
    char got[64];
    _hak_matrix_parse_allocator(o.err, got, sizeof got);
    const char *want = cf->kind == MX_HAKMEM ? "hakmem" : cf->name;
    const char *what = strace ? "strace run" : base ? "short run" : "run";
    if (o.status != 0) {
        fprintf(stderr, "\nhakmem matrix: FAILED: %s of %s under %s exited with status %d%s\n", what,
                workloads[w].name, cf->name, o.status, o.status == 124 ? " (timed out)" : "");
        const char *tail = o.err + strlen(o.err);
        for (int lines = 0; tail > o.err && lines < 6; tail--)
            lines += tail[-1] == '\n';
        fprintf(stderr, "%s", tail);
        goto done;
    }
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "\nhakmem matrix: %s of %s meant for %s ran on '%s'\n", what, workloads[w].name, cf->name,
                got[0] ? got : "unknown");
        exit(1);
    }
    int perr = is_larson(w) ? _hak_matrix_parse_larson(o.out, o.err, s)
                            : _hak_matrix_parse_scenario(o.out, workloads[w].name, s);
    if (perr) {
        fprintf(stderr, "\nhakmem matrix: FAILED: %s of %s under %s printed no results\n", what, workloads[w].name,
                cf->name);
        goto done;
    }
    s->rss_kib = (double)o.ru.ru_maxrss;
    if (is_larson(w))
        s->faults = s->ops > 0 ? (double)o.ru.ru_minflt / s->ops : NAN;
    for (int k = 0; k < MX_NSYS; k++)
        sys[k] = NAN;
    if (cf->kind == MX_HAKMEM) {
        /* The statistics file is also the proof that hakmem served the run. */
        char path[4300];
        snprintf(path, sizeof path, "%s/stats-%d.json", tmp, (int)o.pid);
        char *json = slurp(path);
        unlink(path);
        if (!json) {
            fprintf(stderr, "\nhakmem matrix: %s of %s under %s left no statistics file: hakmem did not run it\n",
                    what, workloads[w].name, cf->name);
            exit(1);
        }
        if (_hak_matrix_parse_hakmem_stats(json, sys) != 0 && !strstr(json, "\"counters\": false"))
            fprintf(stderr, "\nhakmem matrix: warning: no os counters in %s's statistics\n", cf->name);
        free(json);
    } else if (strace) {
        char *text = slurp(strace_out);
        if (!text || _hak_matrix_parse_strace(text, sys) != 0)
            for (int k = 0; k < MX_NSYS; k++)
                sys[k] = NAN;
        free(text);
    }
    s->ok = true;
    rc = 0;
done:
    if (rc)
        failures++;
    release(&o);
    return rc;
}

/* ---- Choosing the matrix ------------------------------------------------------------ */

static int add_config(const char *name, int kind, const char *label)
{
    if (mx->nconfigs == MX_MAX_CONFIGS) {
        fprintf(stderr, "hakmem matrix: more than %d configurations\n", MX_MAX_CONFIGS);
        return -1;
    }
    struct mx_config *c = &mx->config[mx->nconfigs++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->kind = kind;
    snprintf(c->label, sizeof c->label, "%s", label);
    return 0;
}

static int choose_profiles(char *list, const char *file)
{
    char *item[MX_MAX_CONFIGS];
    int base = -1;
    for (int i = 0; i < file_profiles.n; i++)
        if (strcmp(file_profiles.name[i], "baseline") == 0)
            base = i;
    if (list && strcmp(list, "none") == 0)
        return 0;
    if (base >= 0 && add_config("baseline", MX_HAKMEM, file_profiles.label[base]))
        return -1;
    if (!list) {
        for (int i = 0; i < file_profiles.n; i++) {
            bool mode = false;
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
                mode = mode || strcmp(file_profiles.name[i], modes[m]) == 0;
            if (i != base && !mode && add_config(file_profiles.name[i], MX_HAKMEM, file_profiles.label[i]))
                return -1;
        }
        return 0;
    }
    int n = split_list(list, item, MX_MAX_CONFIGS);
    for (int k = 0; k < n; k++) {
        int found = -1;
        for (int i = 0; i < file_profiles.n; i++)
            if (strcmp(file_profiles.name[i], item[k]) == 0)
                found = i;
        if (found < 0) {
            fprintf(stderr, "hakmem matrix: no [profile %s] in %s\n", item[k], file);
            return -1;
        }
        bool dup = false;
        for (int c = 0; c < mx->nconfigs; c++)
            dup = dup || strcmp(mx->config[c].name, item[k]) == 0;
        if (!dup && add_config(item[k], MX_HAKMEM, file_profiles.label[found]))
            return -1;
    }
    return 0;
}

static int choose_peers(char *list, char *skipped, size_t len)
{
    char *item[NPEERS * 2];
    const char *all[NPEERS];
    int n;
    if (list && strcmp(list, "none") == 0)
        return 0;
    if (list) {
        n = split_list(list, item, NPEERS * 2);
    } else {
        for (n = 0; n < NPEERS; n++)
            all[n] = peers[n].name;
    }
    for (int k = 0; k < n; k++) {
        const char *name = list ? item[k] : all[k];
        if (strcmp(name, "system") == 0)
            name = "glibc";
        int p = -1;
        for (int i = 0; i < NPEERS; i++)
            if (strcmp(peers[i].name, name) == 0)
                p = i;
        if (p < 0) {
            fprintf(stderr, "hakmem matrix: unknown peer '%s' (known: glibc or system, mimalloc, jemalloc, tcmalloc)\n",
                    name);
            return -1;
        }
        char path[4096];
        if (!find_peer(&peers[p], path, sizeof path)) {
            fprintf(stderr, "hakmem matrix: skipping %s: %s not found (Debian package %s)\n", name, peers[p].soname,
                    peers[p].package);
            size_t used = strlen(skipped);
            snprintf(skipped + used, len - used, "%s%s", used ? ", " : "", name);
            continue;
        }
        bool dup = false;
        for (int c = 0; c < mx->nconfigs; c++)
            dup = dup || strcmp(mx->config[c].name, name) == 0;
        if (dup)
            continue;
        peer_of[mx->nconfigs] = p;
        if (add_config(name, MX_PEER, peers[p].soname ? path : ""))
            return -1;
    }
    return 0;
}

static int choose_workloads(char *list)
{
    char *item[MX_MAX_WORKLOADS * 2];
    int n = list ? split_list(list, item, MX_MAX_WORKLOADS * 2) : NWORKLOADS;
    for (int k = 0; k < n; k++) {
        int w = -1;
        for (int i = 0; i < NWORKLOADS; i++)
            if (strcmp(workloads[i].name, list ? item[k] : workloads[k].name) == 0)
                w = i;
        if (w < 0) {
            fprintf(stderr, "hakmem matrix: unknown workload '%s' (known: json, mir, vm, mixed, tiny, "
                            "random-mixed, larson)\n", item[k]);
            return -1;
        }
        bool dup = false;
        for (int i = 0; i < mx->nworkloads; i++)
            dup = dup || workload_of[i] == w;
        if (dup)
            continue;
        workload_of[mx->nworkloads] = w;
        snprintf(mx->workload[mx->nworkloads], MX_NAME, "%s", workloads[w].name);
        snprintf(mx->what[mx->nworkloads], MX_LABEL, "%s", workloads[w].what);
        mx->nworkloads++;
    }
    return mx->nworkloads ? 0 : -1;
}

/* ---- Outputs ------------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, void (*fn)(FILE *, const struct mx_matrix *))
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "hakmem matrix: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fn(f, mx);
    if (fclose(f) != 0) {
        fprintf(stderr, "hakmem matrix: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void table_and_attribution(FILE *f, const struct mx_matrix *m)
{
    _hak_matrix_print_table(f, m);
    _hak_matrix_print_attribution(f, m);
}

/* Draws matrix.svg with gnuplot: 0 when drawn, 1 without gnuplot, -1 on
 * an error. */
static int plot(const char *dir)
{
    char data[4200], script[4200], svg[4200], cmd[8600];
    snprintf(data, sizeof data, "%s/matrix.dat", dir);
    snprintf(script, sizeof script, "%s/matrix.gp", dir);
    snprintf(svg, sizeof svg, "%s/matrix.svg", dir);
    if (strchr(dir, '\'')) {
        fprintf(stderr, "hakmem matrix: no plot: the output directory's name has a quote\n");
        return -1;
    }
    FILE *f = fopen(data, "w");
    if (!f)
        return -1;
    _hak_matrix_write_plot_data(f, mx);
    fclose(f);
    f = fopen(script, "w");
    if (!f)
        return -1;
    _hak_matrix_write_plot_script(f, mx, data, svg);
    fclose(f);
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "hakmem matrix: gnuplot not found (Debian package gnuplot-nox): no matrix.svg; "
                        "draw it later with: gnuplot %s\n", script);
        return 1;
    }
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", script);
    if (system(cmd) != 0) {
        fprintf(stderr, "hakmem matrix: gnuplot %s failed\n", script);
        return -1;
    }
    return 0;
}

/* ---- The command ---------------------------------------------------------------------- */

static void progress(bool tty, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(bool tty, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(tty ? "\r\033[K" : "", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tty ? "" : "\n", stderr);
    fflush(stderr);
    va_end(ap);
}

int _hak_matrix_main(int argc, char **argv, const char *lib)
{
    char *profiles_arg = NULL, *peers_arg = NULL, *workloads_arg = NULL, *larson_arg = NULL;
    const char *out_dir = "hakmem-matrix";
    bool quick = false;
    long runs = -1, iters = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(a, "--quick") == 0) {
            quick = true;
            continue;
        }
        static const char *const takes_value[] = { "--profiles", "--peers", "--workloads", "--larson", "--out",
                                                   "--config", "--bench-dir", "--runs", "--iterations" };
        bool known = false;
        for (size_t k = 0; k < sizeof takes_value / sizeof takes_value[0]; k++)
            known = known || strcmp(a, takes_value[k]) == 0;
        if (!known)
            return usage("unknown argument", a);
        if (i + 1 >= argc)
            return usage("missing value after", a);
        char *v = argv[++i], *end;
        if (strcmp(a, "--profiles") == 0)
            profiles_arg = v;
        else if (strcmp(a, "--peers") == 0)
            peers_arg = v;
        else if (strcmp(a, "--workloads") == 0)
            workloads_arg = v;
        else if (strcmp(a, "--larson") == 0)
            larson_arg = v;
        else if (strcmp(a, "--out") == 0)
            out_dir = v;
        else if (strcmp(a, "--config") == 0)
            snprintf(config_file, sizeof config_file, "%s", v);
        else if (strcmp(a, "--bench-dir") == 0)
            snprintf(bench_dir, sizeof bench_dir, "%s", v);
        else if (strcmp(a, "--runs") == 0 || strcmp(a, "--iterations") == 0) {
            long n = strtol(v, &end, 10);
            long max = a[2] == 'r' ? MX_MAX_RUNS : 10000000;
            if (end == v || *end || n < 1 || n > max)
                return usage(a[2] == 'r' ? "--runs needs a number from 1 to 99"
                                         : "--iterations needs a positive number", v);
            *(a[2] == 'r' ? &runs : &iters) = n;
        }
    }
    if (quick) {
        iterations = 20;
        warmup = 3;
        snprintf(larson_args[0], sizeof larson_args[0], "1");
    }
    if (iters > 0)
        iterations = iters;
    if (larson_arg) {
        char copy[256], *w[8];
        int n = 0;
        snprintf(copy, sizeof copy, "%s", larson_arg);
        for (char *save, *t = strtok_r(copy, " ", &save); t && n < 8; t = strtok_r(NULL, " ", &save))
            w[n++] = t;
        if (n != 7)
            return usage("--larson needs SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS", larson_arg);
        for (int k = 0; k < 7; k++)
            snprintf(larson_args[k], sizeof larson_args[k], "%s", w[k]);
        if (!(atof(larson_args[0]) > 0))
            return usage("larson's SECONDS must be positive", larson_args[0]);
    }
    library = lib;
    if (!library || !is_file(library)) {
        fprintf(stderr, "hakmem matrix: cannot find libhakmem (set HAKMEM_LIBRARY)\n");
        return 1;
    }
    if (!bench_dir[0] && find_bench_dir() != 0) {
        fprintf(stderr, "hakmem matrix: bench_allocators not found in the build tree or in %s (give --bench-dir)\n",
                PKGLIBEXECDIR);
        return 1;
    }
    mx = calloc(1, sizeof *mx);
    if (!mx)
        return 1;
    mx->runs = (int)(runs > 0 ? runs : quick ? 3 : 5);

    char file[4096];
    char *ini = config_text(file, sizeof file);
    if (!ini) {
        fprintf(stderr, "hakmem matrix: cannot read the configuration file\n");
        return 1;
    }
    _hak_matrix_ini_profiles(ini, add_file_profile, NULL);
    free(ini);
    char skipped[256] = "";
    if (choose_profiles(profiles_arg, file) || choose_peers(peers_arg, skipped, sizeof skipped))
        return 2;
    if (choose_workloads(workloads_arg))
        return 2;
    if (!mx->nconfigs)
        return usage("nothing to run: no profile and no peer", NULL);
    /* Settings in our environment reach every hakmem run, over its profile. */
    for (char **e = environ; *e; e++) {
        static const char *const ours[] = { "HAKMEM_CONFIG=", "HAKMEM_LIBRARY=", "HAKMEM_PROFILE=", "HAKMEM_MODE=",
                                            "HAKMEM_STATS_FILE=" };
        bool skip = strncmp(*e, "HAKMEM_", 7) != 0;
        for (size_t k = 0; k < sizeof ours / sizeof ours[0]; k++)
            skip = skip || strncmp(*e, ours[k], strlen(ours[k])) == 0;
        if (!skip)
            fprintf(stderr, "hakmem matrix: note: %s applies to every hakmem run, over its profile\n", *e);
    }
    /* strace may be missing, or not allowed to trace (a container without
     * ptrace): either way the peers' system calls are n/a, not a failure. */
    have_strace = system("strace -f -c -o /dev/null true >/dev/null 2>&1") == 0;
    if (!have_strace)
        fprintf(stderr, "hakmem matrix: strace not found or cannot trace: the peers' system calls are n/a\n");
    if (mkdir_p(out_dir) != 0) {
        fprintf(stderr, "hakmem matrix: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/hakmem-matrix.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "hakmem matrix: mkdtemp %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    atexit(remove_tmp);

    char when[64];
    time_t t = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    snprintf(mx->info, sizeof mx->info,
             "hakmem matrix%s | %s | %ld CPUs | %d run%s each, interleaved | bench_allocators --iterations %ld "
             "--warmup %ld | larson %s %s %s %s %s %s %s | profiles from %.200s%s%.100s",
             quick ? " --quick" : "", when, sysconf(_SC_NPROCESSORS_ONLN), mx->runs, mx->runs == 1 ? "" : "s",
             iterations, warmup,
             larson_args[0], larson_args[1], larson_args[2], larson_args[3], larson_args[4], larson_args[5],
             larson_args[6], file, skipped[0] ? " | not installed: " : "", skipped);

    bool tty = isatty(2);
    int total = mx->runs * mx->nworkloads * mx->nconfigs, done = 0;
    fprintf(stderr, "hakmem matrix: %d configurations x %d workloads x %d runs = %d runs, then system call counts\n",
            mx->nconfigs, mx->nworkloads, mx->runs, total);
    double sys[MX_NSYS];
    /* Run r of every configuration comes before run r + 1 of any, so a
     * change in the machine's load falls on all of them alike; the order
     * within a round turns by one each time, so that no configuration always
     * runs right after the same other one (or first after a workload change). */
    for (int r = 0; r < mx->runs; r++)
        for (int w = 0; w < mx->nworkloads; w++) {
            if (!tty)
                progress(false, "[run %d/%d] %s (%d/%d)", r + 1, mx->runs, mx->workload[w], done, total);
            for (int k = 0; k < mx->nconfigs; k++) {
                int c = (k + r + w) % mx->nconfigs;
                if (tty)
                    progress(true, "[run %d/%d] %s: %s (%d/%d)", r + 1, mx->runs, mx->workload[w], mx->config[c].name,
                             done, total);
                struct mx_sample *s = &mx->sample[w][c][r];
                if (run_one(w, c, false, false, s, sys) == 0 && mx->config[c].kind == MX_HAKMEM) {
                    memcpy(mx->sys_full[w][c], sys, sizeof sys);
                    mx->ops_full[w][c] = s->ops;
                }
                done++;
            }
        }
    /* System calls per op: a short run's counts against a full run's. */
    for (int w = 0; w < mx->nworkloads; w++) {
        progress(tty, "[syscalls] %s", mx->workload[w]);
        for (int c = 0; c < mx->nconfigs; c++) {
            struct mx_sample s;
            bool peer = mx->config[c].kind == MX_PEER;
            for (int k = 0; k < MX_NSYS; k++)
                mx->sys_base[w][c][k] = NAN;
            if (peer) {
                for (int k = 0; k < MX_NSYS; k++)
                    mx->sys_full[w][c][k] = NAN;
                if (!have_strace)
                    continue;
                memset(&s, 0, sizeof s);
                if (run_one(w, c, false, true, &s, sys) == 0) {
                    memcpy(mx->sys_full[w][c], sys, sizeof sys);
                    mx->ops_full[w][c] = s.ops;
                }
            }
            memset(&s, 0, sizeof s);
            if (run_one(w, c, true, peer, &s, sys) == 0) {
                memcpy(mx->sys_base[w][c], sys, sizeof sys);
                mx->ops_base[w][c] = s.ops;
            }
        }
    }
    if (tty)
        progress(true, "%s", "");

    _hak_matrix_summarize(mx);
    table_and_attribution(stdout, mx);
    fflush(stdout);
    int rc = write_file(out_dir, "matrix.txt", table_and_attribution) |
             write_file(out_dir, "matrix.csv", _hak_matrix_write_csv) |
             write_file(out_dir, "matrix.json", _hak_matrix_write_json);
    int plotted = plot(out_dir);
    fprintf(stderr, "hakmem matrix: wrote %s/matrix.txt, matrix.csv, matrix.json%s\n", out_dir,
            plotted ? "" : ", matrix.svg");
    rc |= plotted < 0;
    if (failures)
        fprintf(stderr, "hakmem matrix: %d run(s) failed; see the messages above\n", failures);
    return failures || rc ? 1 : 0;
}
