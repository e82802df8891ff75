/* cli.c — the hakmem command: run a program on hakmem, show the effective
 * configuration, run the feature-isolation matrix, print the version. */
#include "hakmem.h"
#include "matrix.h"
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tells the library this is the command (init.c): its own allocator then
 * reads no HAKMEM_ variable and warns about none. */
extern const char _hak_command[] __attribute__((visibility("default")));
const char _hak_command[] = "hakmem";

static const char usage_text[] =
    "usage: hakmem run [--profile NAME] [--config FILE] [--set SECTION.KEY=VALUE]... [--] COMMAND\n"
    "                  [ARG]...\n"
    "       hakmem config [--profile NAME] [--config FILE]\n"
    "                     [--long | --json | --values | --doc ini|markdown]\n"
    "       hakmem matrix [--quick] [--profiles A,B,...] [--workloads X,Y,...] [--peers P,Q,...]\n"
    "                     [--runs N|auto] [--command NAME='CMD'] [--out DIR] ... (hakmem matrix --help)\n"
    "       hakmem matrix --replay FILE | --compare A.json B.json\n"
    "       hakmem --version | --help\n"
    "\n"
    "  run     run COMMAND with libhakmem preloaded and the given settings\n"
    "  config  print every option: effective value, where it came from, description (lines cut to\n"
    "          100 columns; --long: whole)\n"
    "  matrix  run every profile and peer allocator over the workloads: time against baseline with 95%\n"
    "          intervals and verdicts, each subsystem's activity, attribution, the gap to the best peer\n"
    "\n"
    "Environment: HAKMEM_PROFILE (or HAKMEM_MODE), HAKMEM_CONFIG, HAKMEM_<SECTION>_<KEY>,\n"
    "HAKMEM_LIBRARY (the library `run` preloads; default: the one this command uses).\n";

static int usage(const char *msg, const char *arg)
{
    if (msg)
        fprintf(stderr, "hakmem: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fputs(usage_text, stderr);
    return 2;
}

/* Value of "--name VALUE" or "--name=VALUE" at argv[*i], advancing *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != 0)
        return NULL;
    if (*i + 1 >= argc)
        return "";
    return argv[++*i];
}

/* A --profile the configuration file in use lacks is a usage error, named
 * with the profiles there (a library only warns: it must not end a program). */
static int check_profile(const char *profile, const char *file)
{
    char msg[1024];
    if (hak_config_check_profile(profile, file, msg, sizeof msg) == 0)
        return 0;
    fprintf(stderr, "hakmem: --profile: %s\n", msg);
    return 2;
}

/* So is a --config file that cannot be read (the library would fall back
 * on the built-in copy). */
static int check_file(const char *path)
{
    if (access(path, R_OK) == 0)
        return 0;
    fprintf(stderr, "hakmem: --config: %s: %s\n", path, strerror(errno));
    return 2;
}

/* --profile NAME or --config FILE at argv[*i], as run and config take them:
 * 1 when taken (into *profile or *file), 0 when argv[*i] is neither, 2 on
 * a usage error (printed). */
static int profile_or_config(int argc, char **argv, int *i, const char **profile, const char **file)
{
    const char *v;
    if ((v = opt_value(argc, argv, i, "--profile")) != NULL) {
        if (!v[0])
            return usage("--profile needs a name", NULL);
        *profile = v;
        return 1;
    }
    if ((v = opt_value(argc, argv, i, "--config")) != NULL) {
        if (!v[0])
            return usage("--config needs a file", NULL);
        if (check_file(v))
            return 2;
        *file = v;
        return 1;
    }
    return 0;
}

static const char *library_path(char *buf, size_t len)
{
    const char *env = getenv("HAKMEM_LIBRARY");
    if (env && env[0])
        return env;
    Dl_info info;
    if (!dladdr((void *)hak_version, &info) || !info.dli_fname)
        return NULL;
    if (!realpath(info.dli_fname, buf)) {
        snprintf(buf, len, "%s", info.dli_fname);
    }
    return buf;
}

static int cmd_run(int argc, char **argv)
{
    const char *profile = NULL, *file = NULL;
    int i = 0;
    for (; i < argc; i++) {
        const char *v;
        int taken;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if ((taken = profile_or_config(argc, argv, &i, &profile, &file)) != 0) {
            if (taken == 2)
                return 2;
        } else if ((v = opt_value(argc, argv, &i, "--set")) != NULL) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v)
                return usage("--set needs SECTION.KEY=VALUE", v);
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
            const char *env = hak_option_env(name);
            if (!env)
                return usage("unknown option", name);
            setenv(env, eq + 1, 1);
        } else if (argv[i][0] == '-') {
            return usage("unknown argument", argv[i]);
        } else {
            break;
        }
    }
    if (i >= argc)
        return usage("run needs a command", NULL);
    if (file)
        setenv("HAKMEM_CONFIG", file, 1);
    if (profile) {
        if (check_profile(profile, NULL)) /* after --config, which set HAKMEM_CONFIG */
            return 2;
        setenv("HAKMEM_PROFILE", profile, 1);
        unsetenv("HAKMEM_MODE");
    }
    char path[PATH_MAX];
    const char *lib = library_path(path, sizeof path);
    if (!lib) {
        fprintf(stderr, "hakmem: cannot find libhakmem (set HAKMEM_LIBRARY)\n");
        return 1;
    }
    const char *old = getenv("LD_PRELOAD");
    if (old && old[0]) {
        size_t n = strlen(lib) + strlen(old) + 2;
        char *both = malloc(n);
        if (!both)
            return 1;
        snprintf(both, n, "%s:%s", lib, old);
        setenv("LD_PRELOAD", both, 1);
        free(both);
    } else {
        setenv("LD_PRELOAD", lib, 1);
    }
    execvp(argv[i], argv + i);
    fprintf(stderr, "hakmem: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}

static int cmd_config(int argc, char **argv)
{
    const char *profile = NULL, *file = NULL;
    int format = HAK_DUMP_TEXT;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int taken;
        if ((taken = profile_or_config(argc, argv, &i, &profile, &file)) != 0) {
            if (taken == 2)
                return 2;
        } else if (strcmp(argv[i], "--long") == 0) {
            format = HAK_DUMP_TEXT_LONG;
        } else if (strcmp(argv[i], "--json") == 0) {
            format = HAK_DUMP_JSON;
        } else if (strcmp(argv[i], "--values") == 0) {
            format = HAK_DUMP_VALUES;
        } else if ((v = opt_value(argc, argv, &i, "--doc")) != NULL) {
            if (strcmp(v, "ini") == 0)
                format = HAK_DUMP_INI;
            else if (strcmp(v, "markdown") == 0)
                format = HAK_DUMP_MARKDOWN;
            else
                return usage("--doc takes ini or markdown", v);
        } else {
            return usage("unknown argument", argv[i]);
        }
    }
    if (profile && check_profile(profile, file))
        return 2;
    fflush(stdout);
    return hak_config_dump(STDOUT_FILENO, profile, file, format) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(NULL, NULL);
    if (strcmp(argv[1], "--version") == 0) {
        printf("hakmem %s\n", hak_version());
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "config") == 0)
        return cmd_config(argc - 2, argv + 2);
    if (strcmp(argv[1], "matrix") == 0) {
        char path[PATH_MAX];
        return _hak_matrix_main(argc - 2, argv + 2, library_path(path, sizeof path));
    }
    return usage("unknown command", argv[1]);
}
