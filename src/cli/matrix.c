/* matrix.c — `hakmem matrix`: runs every matrix profile of hakmem.ini and every installed peer allocator over the benchmark workloads, each run a process of its own, interleaved, and reports medians, spreads and deltas against baseline. */
#include "matrix.h"
#include "hakmem.h"
#include <dirent.h>
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
    "                     [--runs N|auto] [--iterations N] [--larson \"ARGS\"] [--out DIR] [--config FILE]\n"
    "                     [--bench-dir DIR] [--seed N] [--width PCT] [--max-runs N]\n"
    "                     [--command NAME='CMD']... [--check-output] [--train-runs N] [--aa]\n"
    "  --quick        20 iterations (+3 warm-up) per scenario, larson for 1 s\n"
    "  --profiles     hakmem profiles (default: every [profile] of the configuration file except\n"
    "                 the usage modes balanced, fast, learning, research; baseline is always added)\n"
    "  --workloads    of json, mir, vm, mixed, tiny, random-mixed, random-large, malloc-large, huge-sites,\n"
    "                 burst-free, phases, larson\n"
    "                 and the commands (default: all built-in ones and the file's [workload] sections)\n"
    "  --peers        of glibc (or system), mimalloc, jemalloc, tcmalloc (default: all installed)\n"
    "  --runs         rounds: runs of every configuration on every workload (default 10; 6 or more give\n"
    "                 each configuration a 95% interval of its time against baseline's); auto: 10, then\n"
    "                 more rounds of each workload until every interval of it is within +/- --width\n"
    "                 (default 5%), at most --max-runs (default 30)\n"
    "  --iterations   bench_allocators iterations per run (default 100, with 10 warm-up)\n"
    "  --larson       larson SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS (default \"5 8 1000 5000 100 4141 2\")\n"
    "  --out          directory for matrix.txt, matrix.csv, matrix.json, matrix.svg (default hakmem-matrix)\n"
    "  --config       the hakmem.ini to read the profiles from (default: the one hakmem reads)\n"
    "  --bench-dir    where bench_allocators and larson are (default: the build tree's bench/, else the\n"
    "                 installed ones)\n"
    "  --seed         the 64-bit seed of the run order and of every hakmem run's policy.seed (default:\n"
    "                 from the clock; matrix.json records it)\n"
    "  --command      NAME='CMD': a workload of the user's: one op is one run of CMD (sh -c); with\n"
    "                 --command and no --workloads, only the commands run. [workload NAME] sections of\n"
    "                 the configuration file (command = CMD) join the default workloads\n"
    "  --check-output a command run that prints other than baseline's first run failed\n"
    "  --aa           adds baseline-aa, baseline under a second name: it must come out the same, and a\n"
    "                 faster or slower verdict on it is a false discovery (an A/A check)\n"
    "  --train-runs   runs of each workload under the learning profile before the rounds, each going on\n"
    "                 from the state the last wrote (policy.state_file); profiles with evo.policy = frozen\n"
    "                 then run on that workload's state (default 3)\n"
    "       hakmem matrix --replay FILE [--out DIR]   runs the matrix FILE (a matrix.json) records again,\n"
    "                 with its arguments and seed\n"
    "       hakmem matrix --compare A.json B.json     B's times against A's, with intervals and verdicts;\n"
    "                 exit status 3 when B made a hakmem configuration slower\n";

static int usage(const char *msg, const char *arg)
{
    fprintf(stderr, "hakmem matrix: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", usage_text);
    return 2;
}

/* ---- What is measured ----------------------------------------------------------- */

static const struct workload {
    const char *name;
    const char *what; /* one op */
    const char *env;  /* set for hakmem's configurations, or NULL */
} builtin[] = {
    { "json", "one iteration: 1000 blocks of 64 KiB allocated, written, freed", NULL },
    { "mir", "one iteration: 100 blocks of 256 KiB allocated, written, freed", NULL },
    { "vm", "one iteration: 10 blocks of 2 MiB allocated, written, freed", NULL },
    { "mixed", "one iteration: 10 batches of 100 x 64 KiB + 10 x 256 KiB + 1 x 2 MiB, mixed free order", NULL },
    { "tiny", "one iteration: 10,000 malloc/free pairs of 16-128 B", NULL },
    { "random-mixed", "one iteration: 10,000 random replacements in a live set of 1000 blocks of 8 B-1 KiB", NULL },
    { "random-large", "one iteration: each of 32 live blocks of 0.25-3.25 MiB freed and replaced by one of a random "
                      "size, written", NULL },
    { "malloc-large", "one iteration: 10 of 20 live blocks of 5-25 MiB, picked at random, each replaced by one of a "
                      "random size (allocated and written before the old is freed)", NULL },
    { "huge-sites", "one iteration: blocks of 34, 40 and 46 MiB from 3 call sites allocated, written, freed", NULL },
    /* hakmem keeps a burst that comes back: purging at once (as a program
     * configured to give memory back promptly does) is what batching is for. */
    { "burst-free",
      "one iteration: 198 blocks of 320 KiB allocated, written; 102 freed, then the other 96 in address order "
      "(hakmem: madvise.delay = 0)",
      "HAKMEM_MADVISE_DELAY=0" },
    { "phases", "one iteration: first half of the run 4 rounds of 6 x 4.5 MiB from one site, second half 4 "
                "rounds of 12 x 3.75 MiB from 3 others; each round allocated, written, freed", NULL },
    { "larson", "one replacement (free + malloc) in larson, all threads together", NULL },
};
enum { NBUILTIN = sizeof builtin / sizeof builtin[0] };

/* Command workloads: [workload NAME] sections of the configuration file,
 * then --command NAME='CMD' arguments (a later one replaces an earlier one
 * of the same name). */
static struct {
    int n;
    char name[MX_MAX_WORKLOADS][MX_NAME];
    char command[MX_MAX_WORKLOADS][MX_CMD];
} commands;

static int add_command(const char *name, const char *command)
{
    int i = 0;
    while (i < commands.n && strcmp(commands.name[i], name) != 0)
        i++;
    for (int b = 0; b < NBUILTIN; b++)
        if (strcmp(builtin[b].name, name) == 0)
            return -1;
    if (i == MX_MAX_WORKLOADS || !*name || strlen(name) >= MX_NAME || strchr(name, '/') || !*command ||
        strlen(command) >= MX_CMD)
        return -1;
    snprintf(commands.name[i], MX_NAME, "%s", name);
    snprintf(commands.command[i], MX_CMD, "%s", command);
    commands.n += i == commands.n;
    return 0;
}

static void add_file_workload(const char *name, const char *label, void *arg)
{
    (void)arg;
    if (strncmp(label, "command = ", 10) != 0 || add_command(name, label + 10) != 0)
        fprintf(stderr, "hakmem matrix: [workload %s] needs one line \"command = ...\" and a name of its own; "
                        "ignored\n", name);
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
static long iterations = 100, warmup = 10;
static char larson_args[7][32] = { "5", "8", "1000", "5000", "100", "4141", "2" };
static bool have_strace;
static int failures, runs_done;
/* For the progress line: the timed rounds' runs planned (the first rounds,
 * with --runs auto) and when they started. */
static int runs_planned;
static struct timespec rounds_start;

/* "12m03s elapsed, about 8m left" from the runs done so far. */
static void eta(char *buf, size_t len)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - rounds_start.tv_sec) + (now.tv_nsec - rounds_start.tv_nsec) / 1e9;
    int e = (int)el;
    int n = snprintf(buf, len, "%d/%d runs, %dm%02ds elapsed", runs_done, runs_planned, e / 60, e % 60);
    if (runs_done > 0 && runs_done < runs_planned && n > 0 && (size_t)n < len) {
        int left = (int)(el / runs_done * (runs_planned - runs_done));
        snprintf(buf + n, len - (size_t)n, ", about %dm%02ds left", left / 60, left % 60);
    }
}
static int train_runs = 3;              /* --train-runs */
static const char train_profile[] = "learning";
static bool check_output;              /* --check-output: commands must print the same everywhere */
static double auto_width;               /* --runs auto: the target half-width, a fraction; 0 without */
static char out_dir[4096] = "hakmem-matrix";
/* The matrix's seed: the order within each round and every hakmem run's
 * policy.seed come from it, so --seed replays the same schedule. */
static unsigned long long seed_state;

/* splitmix64: a seeded sequence, whatever the seed (0 included). */
static unsigned long long next_seed(void)
{
    unsigned long long z = (seed_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

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
                                        "HAKMEM_CONFIG=", "HAKMEM_POLICY_SEED=", "HAKMEM_POLICY_STATE=" };
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
    double wall_ns;     /* from fork to its end */
    char *out, *err;    /* what it printed, to free */
};

/* Runs argv with env for at most limit seconds, stdout and stderr to files.
 * The run is a process group of its own, so that a time-out also ends what
 * a command started. */
static void spawn(char **argv, char **env, double limit, struct outcome *o)
{
    char out_path[4200], err_path[4200];
    snprintf(out_path, sizeof out_path, "%s/out", tmp);
    snprintf(err_path, sizeof err_path, "%s/err", tmp);
    memset(o, 0, sizeof *o);
    fflush(NULL);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old); /* its end is awaited with sigtimedwait */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        setpgid(0, 0);
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
        sigprocmask(SIG_SETMASK, &old, NULL);
        o->status = 127;
        o->out = strdup("");
        o->err = strdup("cannot fork\n");
        return;
    }
    int st = 0;
    bool killed = false;
    for (;;) {
        pid_t r = wait4(pid, &st, WNOHANG, &o->ru);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        double left = limit - ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) * 1e-9);
        if (left <= 0 && !killed) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            killed = true;
        }
        struct timespec nap = { 1, 0 };
        if (left > 0 && left < 1)
            nap = (struct timespec){ 0, (long)(left * 1e9) };
        sigtimedwait(&chld, NULL, &nap);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    o->wall_ns = (double)(now.tv_sec - start.tv_sec) * 1e9 + (double)(now.tv_nsec - start.tv_nsec);
    o->status = killed ? 124 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    o->out = slurp(out_path);
    o->err = slurp(err_path);
    if (!o->out)
        o->out = strdup("");
    if (!o->err)
        o->err = strdup("");
}

/* Reads and removes the statistics files the processes of a run left in
 * tmp: their activity summed into act (the threshold and mode of the one
 * that closed the most learning windows), each file kept as keep, keep-2,
 * … unless keep is NULL (act NULL: just removed). Returns how many. */
static int collect_stats(const char *keep, double act[MX_NACT], double *mode)
{
    DIR *d = opendir(tmp);
    if (!d)
        return 0;
    int n = 0, parsed = 0;
    double most = -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, "stats-", 6) != 0)
            continue;
        char path[4400], kept[4400];
        snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
        char *json = act ? slurp(path) : NULL;
        double one[MX_NACT], m;
        if (json && _hak_matrix_parse_activity(json, one, &m) == 0) {
            for (int k = 0; k < MX_NACT; k++)
                if (k != MX_A_elo_threshold)
                    act[k] = parsed ? act[k] + one[k] : one[k];
            double windows = isnan(one[MX_A_elo_windows]) ? 0 : one[MX_A_elo_windows];
            if (windows > most) {
                most = windows;
                act[MX_A_elo_threshold] = one[MX_A_elo_threshold];
                *mode = m;
            }
            parsed++;
        }
        if (json && keep) {
            size_t dot = strlen(keep) - (strlen(keep) > 5 && strcmp(keep + strlen(keep) - 5, ".json") == 0 ? 5 : 0);
            if (n)
                snprintf(kept, sizeof kept, "%.*s-%d%s", (int)dot, keep, n + 1, keep + dot);
            else
                snprintf(kept, sizeof kept, "%s", keep);
            if (rename(path, kept) != 0)
                fprintf(stderr, "\nhakmem matrix: cannot keep %s: %s\n", kept, strerror(errno));
        }
        n += json != NULL;
        free(json);
        unlink(path);
    }
    closedir(d);
    return n;
}

/* FNV-1a of a command's output, to tell whether two runs printed the same. */
static unsigned long long hash_text(const char *text)
{
    unsigned long long h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

/* The library's warnings ("hakmem: ..." lines) in a run's stderr, each shown
 * once per matrix: runs' stderr goes to a file, and a bad value in the
 * configuration file would otherwise go unseen, or be shown once per run. */
static void show_warnings(const char *err, const char *config)
{
    static unsigned long long seen[128];
    static int nseen;
    for (const char *l = err; *l;) {
        size_t n = strcspn(l, "\n");
        if (strncmp(l, "hakmem: ", 8) == 0) {
            char line[600];
            snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), l);
            unsigned long long h = hash_text(line);
            int k = 0;
            while (k < nseen && seen[k] != h)
                k++;
            if (k == nseen && nseen < (int)(sizeof seen / sizeof seen[0])) {
                seen[nseen++] = h;
                fprintf(stderr, "\nhakmem matrix: a run under %s said: %s\n", config, line);
            }
        }
        l += n + (l[n] == '\n');
    }
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
    if (mx->wkind[w] == MX_W_COMMAND) {
        argv[n++] = "/bin/sh";
        argv[n++] = "-c";
        argv[n++] = mx->command[w];
    } else if (mx->wkind[w] == MX_W_LARSON) {
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
        argv[n++] = mx->workload[w];
        argv[n++] = "--iterations";
        argv[n++] = it;
        argv[n++] = "--warmup";
        argv[n++] = wu;
    }
    argv[n] = NULL;
    *argc = n;
}

/* Whether configuration c runs on what the training pass learned: a hakmem
 * profile that freezes the policy. */
static bool uses_state(int c)
{
    return mx->config[c].kind == MX_HAKMEM && strstr(mx->config[c].label, "evo.policy = frozen") != NULL;
}

/* Runs configuration c on workload wi once. strace: under strace -c (peers'
 * syscall counts). Fills s (the figures) and sys (syscall counts) as far
 * as the run gives them; returns 0 on success. A run on another allocator
 * than intended ends the program. */
static int run_one(int wi, int c, bool base, bool strace, struct mx_sample *s, double sys[MX_NSYS], const char *keep,
                   const char *train_state)
{
    const struct mx_config *cf = &mx->config[c];
    int w = wi;
    char *argv[32], *set[7], preload[4200], profile[MX_NAME + 32], stats[4200], cfg[4200], strace_out[4200],
        seed[64], state[4200];
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
        snprintf(profile, sizeof profile, "HAKMEM_PROFILE=%s",
                 train_state ? train_profile : cf->sentinel ? "baseline" : cf->name);
        set[nset++] = profile;
        set[nset++] = stats;
        s->seed = next_seed();
        snprintf(seed, sizeof seed, "HAKMEM_POLICY_SEED=%llu", s->seed);
        set[nset++] = seed;
        /* The training pass writes a workload's state; frozen reads it. */
        const char *file = train_state ? train_state : uses_state(c) && mx->state_file[w][0] ? mx->state_file[w] : NULL;
        if (file) {
            snprintf(state, sizeof state, "HAKMEM_POLICY_STATE=%s", file);
            set[nset++] = state;
        }
        for (int b = 0; b < NBUILTIN; b++)
            if (builtin[b].env && mx->wkind[w] == MX_W_SCENARIO && strcmp(builtin[b].name, mx->workload[w]) == 0)
                set[nset++] = (char *)builtin[b].env;
    }
    workload_argv(w, base, argv, &argc);
    char **env = make_env(set, nset);
    if (!env) {
        fprintf(stderr, "hakmem matrix: out of memory\n");
        exit(1);
    }
    double limit = mx->wkind[w] == MX_W_LARSON ? atof(larson_args[0]) * 3 + 60 : 900;
    struct outcome o;
    collect_stats(NULL, NULL, NULL); /* what a failed run before this one left */
    spawn(argv, env, limit, &o);
    free(env);
    show_warnings(o.err, cf->name);

    int rc = -1;
    char got[64];
    _hak_matrix_parse_allocator(o.err, got, sizeof got);
    const char *want = cf->kind == MX_HAKMEM ? "hakmem" : cf->name;
    const char *what = strace ? "strace run" : base ? "short run" : "run";
    if (o.status != 0) {
        fprintf(stderr, "\nhakmem matrix: FAILED: %s of %s under %s exited with status %d%s\n", what,
                mx->workload[w], cf->name, o.status, o.status == 124 ? " (timed out)" : "");
        const char *tail = o.err + strlen(o.err);
        for (int lines = 0; tail > o.err && lines < 6; tail--)
            lines += tail[-1] == '\n';
        fprintf(stderr, "%s", tail);
        goto done;
    }
    /* A benchmark says which allocator it ran on; a command cannot, but
     * the loader says when a preload failed (and hakmem's statistics file,
     * below, proves that hakmem ran). */
    if (mx->wkind[w] == MX_W_COMMAND ? strstr(o.err, "cannot be preloaded") != NULL : strcmp(got, want) != 0) {
        fprintf(stderr, "\nhakmem matrix: %s of %s meant for %s ran on '%s'\n", what, mx->workload[w], cf->name,
                got[0] ? got : "unknown");
        exit(1);
    }
    int perr = 0;
    s->phase_ns[0] = s->phase_ns[1] = NAN;
    if (mx->wkind[w] == MX_W_COMMAND) {
        /* One op is one run of the command. */
        s->ns = o.wall_ns;
        s->p95 = s->p99 = NAN;
        s->ops_per_s = 1e9 / o.wall_ns;
        s->ops = 1;
        s->out_hash = hash_text(o.out);
    } else if (mx->wkind[w] == MX_W_LARSON) {
        perr = _hak_matrix_parse_larson(o.out, o.err, s);
    } else {
        perr = _hak_matrix_parse_scenario(o.out, mx->workload[w], s);
    }
    if (perr) {
        fprintf(stderr, "\nhakmem matrix: FAILED: %s of %s under %s printed no results\n", what, mx->workload[w],
                cf->name);
        goto done;
    }
    s->rss_kib = (double)o.ru.ru_maxrss;
    s->cpu_ns = s->ops > 0 ? ((double)o.ru.ru_utime.tv_sec + (double)o.ru.ru_stime.tv_sec) * 1e9 / s->ops +
                                 ((double)o.ru.ru_utime.tv_usec + (double)o.ru.ru_stime.tv_usec) * 1e3 / s->ops
                           : NAN;
    if (mx->wkind[w] != MX_W_SCENARIO)
        s->faults = s->ops > 0 ? (double)o.ru.ru_minflt / s->ops : NAN;
    for (int k = 0; k < MX_NSYS; k++)
        sys[k] = NAN;
    for (int k = 0; k < MX_NACT; k++)
        s->act[k] = NAN;
    s->mode = NAN;
    if (cf->kind == MX_HAKMEM) {
        /* The statistics files are also the proof that hakmem served the
         * run; a command may run nothing that allocates (a shell builtin),
         * and then nothing is known of it. */
        if (collect_stats(keep, s->act, &s->mode) == 0 && mx->wkind[w] != MX_W_COMMAND) {
            fprintf(stderr, "\nhakmem matrix: %s of %s under %s left no statistics file: hakmem did not run it\n",
                    what, mx->workload[w], cf->name);
            exit(1);
        }
        sys[MX_MMAP] = s->act[MX_A_os_mmap];
        sys[MX_MUNMAP] = s->act[MX_A_os_munmap];
        sys[MX_MADVISE] = s->act[MX_A_os_madvise];
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

/* The workloads: those listed, else every built-in one and every [workload]
 * section of the file, or with --command only the commands given. */
static int choose_workloads(char *list, bool only_commands, int first_arg_command)
{
    char *item[MX_MAX_WORKLOADS * 4];
    const char *all[NBUILTIN + MX_MAX_WORKLOADS];
    int n = 0;
    if (list) {
        n = split_list(list, item, MX_MAX_WORKLOADS * 4);
        for (int k = 0; k < n; k++)
            all[k < NBUILTIN + MX_MAX_WORKLOADS ? k : 0] = item[k];
        n = n < NBUILTIN + MX_MAX_WORKLOADS ? n : NBUILTIN + MX_MAX_WORKLOADS;
    } else {
        for (int b = 0; b < NBUILTIN && !only_commands; b++)
            all[n++] = builtin[b].name;
        for (int i = only_commands ? first_arg_command : 0; i < commands.n; i++)
            all[n++] = commands.name[i];
    }
    for (int k = 0; k < n; k++) {
        int kind = -1;
        const char *what = NULL, *command = "";
        for (int b = 0; b < NBUILTIN; b++)
            if (strcmp(builtin[b].name, all[k]) == 0) {
                kind = strcmp(all[k], "larson") == 0 ? MX_W_LARSON : MX_W_SCENARIO;
                what = builtin[b].what;
            }
        for (int i = 0; i < commands.n; i++)
            if (strcmp(commands.name[i], all[k]) == 0) {
                kind = MX_W_COMMAND;
                command = commands.command[i];
            }
        if (kind < 0) {
            fprintf(stderr, "hakmem matrix: unknown workload '%s' (known: json, mir, vm, mixed, tiny, "
                            "random-mixed, random-large, malloc-large, huge-sites, burst-free, phases, larson, "
                            "and [workload] sections or --command names)\n", all[k]);
            return -1;
        }
        bool dup = false;
        for (int i = 0; i < mx->nworkloads; i++)
            dup = dup || strcmp(mx->workload[i], all[k]) == 0;
        if (dup)
            continue;
        if (mx->nworkloads == MX_MAX_WORKLOADS) {
            fprintf(stderr, "hakmem matrix: more than %d workloads\n", MX_MAX_WORKLOADS);
            return -1;
        }
        int w = mx->nworkloads++;
        mx->wkind[w] = kind;
        snprintf(mx->workload[w], MX_NAME, "%s", all[k]);
        snprintf(mx->command[w], MX_CMD, "%s", command);
        if (what)
            snprintf(mx->what[w], MX_LABEL, "%s", what);
        else
        {
            snprintf(mx->what[w], MX_LABEL, "one run of the command: %.200s%s", command,
                     strlen(command) > 200 ? "..." : "");
            for (char *p = mx->what[w]; (p = strpbrk(p, "\n\t")) != NULL;)
                *p = ' '; /* one line in the table's header */
        }
    }
    return mx->nworkloads ? 0 : -1;
}

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

/* One round of workload w: every configuration once, in an order shuffled
 * afresh, so that no configuration always runs right after the same other
 * one. */
static void run_round(int w, int r, bool tty)
{
    int order[MX_MAX_CONFIGS];
    for (int k = 0; k < mx->nconfigs; k++)
        order[k] = k;
    for (int k = mx->nconfigs - 1; k > 0; k--) {
        int j = (int)(next_seed() % (unsigned long long)(k + 1)), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    char when[96];
    if (!tty) {
        eta(when, sizeof when);
        progress(false, "[round %d] %s (%s)", r + 1, mx->workload[w], when);
    }
    for (int k = 0; k < mx->nconfigs; k++) {
        int c = order[k];
        if (tty) {
            eta(when, sizeof when);
            progress(true, "[round %d] %s: %s (%s)", r + 1, mx->workload[w], mx->config[c].name, when);
        }
        struct mx_sample *s = &mx->sample[w][c][r];
        char keep[4200];
        double sys[MX_NSYS];
        snprintf(keep, sizeof keep, "%s/runs/%s.%s.%d.json", out_dir, mx->workload[w], mx->config[c].name, r + 1);
        if (run_one(w, c, false, false, s, sys, keep, NULL) == 0 && mx->config[c].kind == MX_HAKMEM) {
            memcpy(mx->sys_full[w][c], sys, sizeof sys);
            mx->ops_full[w][c] = s->ops;
        }
        runs_done++;
    }
}

/* The training pass of workload w: train_runs runs under the learning
 * profile, each starting from the state the one before it wrote, so that
 * a frozen profile then runs on what learning found for this workload
 * (frozen against baseline is then the cost of learning, and against
 * no-elo the worth of what was learned). */
static void train(int w, int c, bool tty)
{
    char dir[4000], keep[4400], name[MX_NAME];
    snprintf(name, sizeof name, "%s", mx->workload[w]);
    snprintf(dir, sizeof dir, "%.3900s/state", out_dir);
    snprintf(mx->state_file[w], sizeof mx->state_file[w], "%s/%s.state", dir, name);
    if (mkdir_p(dir) != 0) {
        snprintf(mx->state_note[w], sizeof mx->state_note[w], "no state: cannot create %.400s", dir);
        mx->state_file[w][0] = 0;
        return;
    }
    unlink(mx->state_file[w]);
    double windows = 0, matches = 0, threshold = NAN, sys[MX_NSYS];
    int ok = 0;
    for (int k = 0; k < train_runs; k++) {
        progress(tty, "[training %d/%d] %s", k + 1, train_runs, mx->workload[w]);
        struct mx_sample s;
        memset(&s, 0, sizeof s);
        snprintf(keep, sizeof keep, "%s/runs/%s.training.%d.json", out_dir, mx->workload[w], k + 1);
        if (run_one(w, c, false, false, &s, sys, keep, mx->state_file[w]) != 0)
            continue;
        ok++;
        windows += isnan(s.act[MX_A_elo_windows]) ? 0 : s.act[MX_A_elo_windows];
        matches += isnan(s.act[MX_A_elo_matches]) ? 0 : s.act[MX_A_elo_matches];
        threshold = s.act[MX_A_elo_threshold];
    }
    char mib[32] = "n/a";
    if (!isnan(threshold))
        snprintf(mib, sizeof mib, "%.2f MiB", threshold / 1048576);
    if (access(mx->state_file[w], R_OK) != 0) {
        snprintf(mx->state_note[w], sizeof mx->state_note[w],
                 "no state: %d training run%s under %s wrote none (%.0f windows closed)", ok, ok == 1 ? "" : "s",
                 train_profile, windows);
        mx->state_file[w][0] = 0;
        return;
    }
    snprintf(mx->state_note[w], sizeof mx->state_note[w],
             "state from %d training run%s under %s: %.0f windows, %.0f matches, threshold %s at the end "
             "(state/%s.state)", ok, ok == 1 ? "" : "s", train_profile, windows, matches, mib, name);
}

/* --check-output: a command run that printed other than baseline's first
 * successful run (or, without one, the first successful run of any
 * configuration) failed: it did other work, so its time says nothing. */
static void compare_outputs(void)
{
    for (int w = 0; w < mx->nworkloads; w++) {
        if (mx->wkind[w] != MX_W_COMMAND)
            continue;
        int ref = -1, rr = -1;
        for (int c = 0; c < mx->nconfigs; c++)
            for (int r = 0; r < mx->rounds[w]; r++)
                if (mx->sample[w][c][r].ok && (ref < 0 || (strcmp(mx->config[c].name, "baseline") == 0 &&
                                                           strcmp(mx->config[ref].name, "baseline") != 0))) {
                    ref = c;
                    rr = r;
                    break;
                }
        if (ref < 0)
            continue;
        unsigned long long want = mx->sample[w][ref][rr].out_hash;
        for (int c = 0; c < mx->nconfigs; c++)
            for (int r = 0; r < mx->rounds[w]; r++) {
                struct mx_sample *p = &mx->sample[w][c][r];
                if (!p->ok || p->out_hash == want)
                    continue;
                p->ok = false;
                failures++;
                fprintf(stderr, "\nhakmem matrix: FAILED: run %d of %s under %s printed other output than run %d "
                                "under %s\n", r + 1, mx->workload[w], mx->config[c].name, rr + 1,
                        mx->config[ref].name);
            }
    }
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

static void report(FILE *f, const struct mx_matrix *m)
{
    _hak_matrix_print_table(f, m);
    _hak_matrix_print_attribution(f, m);
    _hak_matrix_print_gaps(f, m);
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

/* A matrix.json read back (to free), or NULL after saying why. */
static struct mx_matrix *read_matrix(const char *path)
{
    char *json = slurp(path), err[256];
    struct mx_matrix *m = json ? malloc(sizeof *m) : NULL;
    if (!json)
        fprintf(stderr, "hakmem matrix: cannot read %s: %s\n", path, strerror(errno));
    else if (!m)
        fprintf(stderr, "hakmem matrix: out of memory\n");
    else if (_hak_matrix_read_json(json, m, err, sizeof err) != 0) {
        fprintf(stderr, "hakmem matrix: %s: %s\n", path, err);
        free(m);
        m = NULL;
    }
    free(json);
    return m;
}

/* --compare A.json B.json: 0, 3 when B made a hakmem configuration slower
 * (a regression check can test for it), 1 on an error. */
static int compare(const char *path_a, const char *path_b)
{
    struct mx_matrix *a = read_matrix(path_a), *b = a ? read_matrix(path_b) : NULL;
    int rc = 1;
    if (a && b)
        rc = _hak_matrix_compare(stdout, a, b) ? 3 : 0;
    free(a);
    free(b);
    return rc;
}

/* --replay FILE: the matrix's recorded arguments and seed, then ours (an
 * --out, say) after them, so that ours win. */
static int replay(const char *path, int argc, char **argv, const char *lib)
{
    struct mx_matrix *m = read_matrix(path);
    if (!m)
        return 1;
    char **args = calloc((size_t)(m->nargs + argc + 3), sizeof *args), seed[32];
    int n = 0;
    for (int i = 0; i < m->nargs; i++)
        args[n++] = m->args[i];
    snprintf(seed, sizeof seed, "%llu", m->seed);
    args[n++] = "--seed";
    args[n++] = seed;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--replay") == 0)
            i++;
        else
            args[n++] = argv[i];
    fprintf(stderr, "hakmem matrix: replaying %s: hakmem matrix", path);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s", args[i]);
    fprintf(stderr, "\n");
    int rc = _hak_matrix_main(n, args, lib);
    free(args);
    free(m);
    return rc;
}

int _hak_matrix_main(int argc, char **argv, const char *lib)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--compare") == 0) {
            if (argc != 3 || i != 0)
                return usage("--compare takes two matrix.json files and nothing else", NULL);
            return compare(argv[1], argv[2]);
        }
        if (strcmp(argv[i], "--replay") == 0) {
            if (i + 1 >= argc)
                return usage("missing value after", "--replay");
            for (int k = 0; k < argc; k++)
                if (k != i && k != i + 1 && (strcmp(argv[k], "--replay") == 0 || strcmp(argv[k], "--seed") == 0))
                    return usage("--replay takes its seed from the file and comes once", argv[k]);
            return replay(argv[i + 1], argc, argv, lib);
        }
    }
    char *profiles_arg = NULL, *peers_arg = NULL, *workloads_arg = NULL, *larson_arg = NULL;
    bool quick = false, seeded = false, aa = false;
    double width_arg = 0;
    char *command_args[MX_MAX_WORKLOADS];
    int ncommand_args = 0;
    long max_runs = 0;
    long runs = -1, iters = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(a, "--quick") == 0 || strcmp(a, "--check-output") == 0 || strcmp(a, "--aa") == 0) {
            *(a[2] == 'q' ? &quick : a[2] == 'c' ? &check_output : &aa) = true;
            continue;
        }
        static const char *const takes_value[] = { "--profiles", "--peers", "--workloads", "--larson", "--out",
                                                   "--config", "--bench-dir", "--runs", "--iterations", "--seed",
                                                   "--width", "--max-runs", "--command", "--train-runs" };
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
            snprintf(out_dir, sizeof out_dir, "%s", v);
        else if (strcmp(a, "--config") == 0)
            snprintf(config_file, sizeof config_file, "%s", v);
        else if (strcmp(a, "--bench-dir") == 0)
            snprintf(bench_dir, sizeof bench_dir, "%s", v);
        else if (strcmp(a, "--command") == 0) {
            if (!strchr(v, '=') || ncommand_args == MX_MAX_WORKLOADS)
                return usage("--command needs NAME=COMMAND (at most 24 of them)", v);
            command_args[ncommand_args++] = v;
        } else if (strcmp(a, "--runs") == 0 && strcmp(v, "auto") == 0)
            auto_width = auto_width > 0 ? auto_width : 0.05;
        else if (strcmp(a, "--width") == 0 || strcmp(a, "--max-runs") == 0) {
            double x = strtod(v, &end);
            bool width = a[2] == 'w';
            if (end == v || *end || !(width ? x > 0 && x < 100 : x >= MX_AUTO_FIRST && x <= MX_MAX_RUNS))
                return usage(width ? "--width needs a percentage above 0 and below 100"
                                   : "--max-runs needs a number from 10 to 99", v);
            if (width)
                width_arg = x / 100;
            else
                max_runs = (long)x;
        } else if (strcmp(a, "--seed") == 0) {
            errno = 0;
            seed_state = strtoull(v, &end, 0);
            if (end == v || *end || errno || *v == '-')
                return usage("--seed needs a number from 0 to 18446744073709551615", v);
            seeded = true;
        } else if (strcmp(a, "--train-runs") == 0) {
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 100)
                return usage("--train-runs needs a number from 1 to 100", v);
            train_runs = (int)n;
        } else if (strcmp(a, "--runs") == 0 || strcmp(a, "--iterations") == 0) {
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
    /* What --replay needs: the arguments, less where the output went and
     * the seed (recorded on its own). */
    for (int i = 0; i < argc && mx->nargs < MX_MAX_ARGS; i++) {
        if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--seed") == 0) {
            i++;
            continue;
        }
        snprintf(mx->args[mx->nargs++], MX_CMD, "%s", argv[i]);
    }
    /* Six rounds are the fewest with a 95 % signed-rank interval, but its
     * smallest p (2^(1-n)) is then 1/32, which no cell of a matrix passes
     * the false-discovery check with; ten rounds reach 1/512. --quick
     * shortens the runs, not their number. */
    mx->runs = (int)(runs > 0 ? runs : MX_AUTO_FIRST);
    if ((width_arg > 0 || max_runs > 0) && !(auto_width > 0))
        return usage("--width and --max-runs go with --runs auto", NULL);
    if (auto_width > 0) {
        auto_width = width_arg > 0 ? width_arg : auto_width;
        mx->runs = (int)(max_runs > 0 ? max_runs : MX_AUTO_CAP);
    }
    if (!seeded) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        seed_state = (unsigned long long)now.tv_sec * 1000000007ull ^ (unsigned long long)now.tv_nsec ^
                     (unsigned long long)getpid() << 32;
    }
    mx->seed = seed_state;

    char file[4096];
    char *ini = config_text(file, sizeof file);
    if (!ini) {
        fprintf(stderr, "hakmem matrix: cannot read the configuration file\n");
        return 1;
    }
    _hak_matrix_ini_sections(ini, "profile", add_file_profile, NULL);
    _hak_matrix_ini_sections(ini, "workload", add_file_workload, NULL);
    int first_arg_command = commands.n;
    for (int i = 0; i < ncommand_args; i++) {
        char *eq = strchr(command_args[i], '=');
        *eq = 0;
        if (add_command(command_args[i], eq + 1) != 0)
            return usage("--command needs NAME=COMMAND, a name of its own (not a built-in workload's) and at most "
                         "1023 bytes of command", command_args[i]);
    }
    free(ini);
    char skipped[256] = "";
    if (choose_profiles(profiles_arg, file) || choose_peers(peers_arg, skipped, sizeof skipped))
        return 2;
    if (aa) {
        if (!mx->nconfigs || strcmp(mx->config[0].name, "baseline") != 0)
            return usage("--aa needs the baseline profile", NULL);
        if (add_config(MX_SENTINEL, MX_HAKMEM, mx->config[0].label))
            return 2;
        mx->config[mx->nconfigs - 1].sentinel = true;
    }
    if (choose_workloads(workloads_arg, ncommand_args > 0, first_arg_command))
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
    /* The header names the programs that run, with their arguments. */
    bool has_scenario = false, has_larson = false;
    for (int w = 0; w < mx->nworkloads; w++) {
        has_scenario |= mx->wkind[w] == MX_W_SCENARIO;
        has_larson |= mx->wkind[w] == MX_W_LARSON;
    }
    char scen[96] = "", lars[256] = "";
    if (has_scenario)
        snprintf(scen, sizeof scen, " | bench_allocators --iterations %ld --warmup %ld", iterations, warmup);
    if (has_larson)
        snprintf(lars, sizeof lars, " | larson %s %s %s %s %s %s %s", larson_args[0], larson_args[1], larson_args[2],
                 larson_args[3], larson_args[4], larson_args[5], larson_args[6]);
    snprintf(mx->info, sizeof mx->info,
             "hakmem matrix%s | %s | %ld CPUs | %d round%s, shuffled, seed %llu%s%s | profiles from %.200s%s%.100s",
             quick ? " --quick" : "", when, sysconf(_SC_NPROCESSORS_ONLN), mx->runs, mx->runs == 1 ? "" : "s",
             mx->seed, scen, lars, file, skipped[0] ? " | not installed: " : "", skipped);

    bool tty = isatty(2);
    int first = auto_width > 0 ? MX_AUTO_FIRST : mx->runs;
    if (auto_width > 0)
        fprintf(stderr, "hakmem matrix: %d configurations x %d workloads, %d rounds, then more (up to %d) until every "
                        "interval is within +/-%.1f%%; then system call counts\n",
                mx->nconfigs, mx->nworkloads, first, mx->runs, 100 * auto_width);
    else
        fprintf(stderr, "hakmem matrix: %d configurations x %d workloads x %d rounds = %d runs, then system call "
                        "counts\n", mx->nconfigs, mx->nworkloads, mx->runs, mx->runs * mx->nworkloads * mx->nconfigs);
    char keep[4200];
    snprintf(keep, sizeof keep, "%s/runs", out_dir);
    if (mkdir_p(keep) != 0)
        fprintf(stderr, "hakmem matrix: cannot create %s: %s (the runs' statistics are not kept)\n", keep,
                strerror(errno));
    /* Round r of every configuration comes before round r + 1 of any, so a
     * change in the machine's load falls on all of them alike and the runs
     * pair by round. With --runs auto a workload stops once every interval
     * of it is narrow enough (never because one excludes 1: that would
     * bias the verdicts), or at the cap. */
    /* The training pass, when a profile runs on a learned state. */
    int trainer = -1;
    bool have_learning = false;
    for (int c = 0; c < mx->nconfigs; c++)
        if (uses_state(c) && trainer < 0)
            trainer = c;
    for (int i = 0; i < file_profiles.n; i++)
        have_learning = have_learning || strcmp(file_profiles.name[i], train_profile) == 0;
    for (int w = 0; w < mx->nworkloads && trainer >= 0; w++) {
        if (have_learning)
            train(w, trainer, tty);
        else
            snprintf(mx->state_note[w], sizeof mx->state_note[w], "no state: no [profile %s] to train with",
                     train_profile);
    }
    bool active[MX_MAX_WORKLOADS];
    for (int w = 0; w < mx->nworkloads; w++)
        active[w] = true;
    runs_planned = first * mx->nworkloads * mx->nconfigs;
    clock_gettime(CLOCK_MONOTONIC, &rounds_start);
    for (int r = 0; r < mx->runs; r++) {
        int any = 0;
        for (int w = 0; w < mx->nworkloads; w++)
            if (active[w]) {
                run_round(w, r, tty);
                mx->rounds[w] = r + 1;
                any++;
            }
        if (!any)
            break;
        if (r + 1 < first)
            continue;
        _hak_matrix_summarize(mx);
        for (int w = 0; w < mx->nworkloads; w++)
            active[w] = active[w] && auto_width > 0 && _hak_matrix_widest(mx, w, NULL) > auto_width;
    }
    for (int w = 0; w < mx->nworkloads; w++) {
        int c;
        double width = _hak_matrix_widest(mx, w, &c);
        if (auto_width > 0 && width > auto_width) {
            size_t used = strlen(mx->note);
            snprintf(mx->note + used, sizeof mx->note - used, "%s%s (%s +/-%.1f%%)",
                     used ? ", " : "--runs auto: intervals wider than the target after the cap on ", mx->workload[w],
                     c >= 0 ? mx->config[c].name : "?", 100 * width);
        }
    }
    if (check_output)
        compare_outputs();
    /* System calls per op: a short run's counts against a full run's; a
     * command's are its whole run's (it has no shorter form). */
    double sys[MX_NSYS];
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
                if (run_one(w, c, false, true, &s, sys, NULL, NULL) == 0) {
                    memcpy(mx->sys_full[w][c], sys, sizeof sys);
                    mx->ops_full[w][c] = s.ops;
                }
            }
            if (mx->wkind[w] == MX_W_COMMAND) {
                memset(mx->sys_base[w][c], 0, sizeof mx->sys_base[w][c]);
                mx->ops_base[w][c] = 0;
                continue;
            }
            memset(&s, 0, sizeof s);
            if (run_one(w, c, true, peer, &s, sys, NULL, NULL) == 0) {
                memcpy(mx->sys_base[w][c], sys, sizeof sys);
                mx->ops_base[w][c] = s.ops;
            }
        }
    }
    if (tty)
        progress(true, "%s", "");

    _hak_matrix_summarize(mx);
    report(stdout, mx);
    fflush(stdout);
    int rc = write_file(out_dir, "matrix.txt", report) |
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
