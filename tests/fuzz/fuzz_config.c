/* fuzz_config.c — libFuzzer harness of the configuration parser: the input
 * is an ini file, a profile name and environment settings, loaded through
 * the same entry as at start-up (_hak_config_load: the file through inih's
 * stream reader, the profile pass, then the HAKMEM_* variables). Whatever
 * the input, loading must not crash, and every option must end with a
 * value its own parser accepts, in range, that prints and reads back the
 * same.
 *
 * Input: ini text, NUL, profile name, then NUL-separated environment
 * settings, each one byte choosing the variable (an option's or a
 * historical toggle's) followed by the value. */
#include "config.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENV 8

static char path[64];
static int ini_fd = -1, null_fd = -1;

static void fail(const char *what, int id, const char *text)
{
    char name[64];
    fprintf(stderr, "fuzz_config: %s: %s = '%s'\n", what, id >= 0 ? _hak_opt_name(id, name, sizeof name) : "-",
            text);
    abort();
}

/* Each value parses back to itself from its printed form, within range. */
static void check_values(const struct hak_config *c)
{
    for (int id = 0; id < HAK_OPT__COUNT; id++) {
        char text[HAK_OPT_STR_MAX + 8], err[256];
        bool str = _hak_opt_desc[id].type == HAK_T_STR;
        const char *s = str ? _hak_config_str((struct hak_config *)c, id) : NULL;
        if (str && memchr(s, 0, HAK_OPT_STR_MAX) == NULL)
            fail("string value not terminated", id, "");
        _hak_config_format(c, id, text, sizeof text);
        struct hak_optval back;
        if (_hak_opt_parse(id, text, &back, true, err, sizeof err) != 0)
            fail(err, id, text);
        if (str ? strcmp(back.s, s) != 0 : back.i != c->val[id])
            fail("value does not read back the same", id, text);
        if (c->src[id].kind > HAK_SRC_ARG)
            fail("bad source", id, text);
    }
}

static const char *env_name(uint8_t pick)
{
    unsigned n = HAK_OPT__COUNT + (unsigned)_hak_opt_alias_count;
    unsigned i = pick % n;
    return i < HAK_OPT__COUNT ? _hak_opt_desc[i].env : _hak_opt_alias[i - HAK_OPT__COUNT].env;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ini_fd < 0) {
        snprintf(path, sizeof path, "/tmp/hakmem-fuzz-%d.ini", (int)getpid());
        ini_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (ini_fd < 0 || null_fd < 0)
            abort();
        unlink(path); /* read through /proc/self/fd from now on */
        snprintf(path, sizeof path, "/proc/self/fd/%d", ini_fd);
    }
    char *copy = malloc(size + 1); /* NUL-terminated segments */
    memcpy(copy, data, size);
    copy[size] = 0;
    const char *end = copy + size;

    const char *ini = copy;
    size_t ini_len = strlen(ini);
    if (ftruncate(ini_fd, 0) != 0 || pwrite(ini_fd, ini, ini_len, 0) != (ssize_t)ini_len)
        abort();
    const char *seg = ini + ini_len + 1;
    const char *profile = seg < end ? seg : NULL;
    if (profile)
        seg += strlen(seg) + 1;

    /* putenv with buffers of our own: glibc's setenv never frees a value
     * it replaces, which would grow the heap run after run. */
    static char assign[MAX_ENV][4096];
    const char *set[MAX_ENV];
    unsigned nset = 0;
    for (; seg < end && nset < MAX_ENV; seg += strlen(seg) + 1) {
        if (!seg[0])
            continue;
        const char *name = env_name((uint8_t)seg[0]);
        snprintf(assign[nset], sizeof assign[nset], "%s=%s", name, seg + 1);
        putenv(assign[nset]);
        set[nset++] = name;
    }

    static struct hak_config c; /* 2.5 KiB: off the stack */
    struct hak_load_args args = { .profile = profile, .file = path, .use_env = true, .warn_fd = nset & 1 ? null_fd : -1 };
    _hak_config_load(&c, &args);
    check_values(&c);
    _hak_config_print(&c, null_fd, (int)(ini_len % (HAK_DUMP_TEXT_LONG + 1))); /* one format a run: they cost */

    for (unsigned i = 0; i < nset; i++)
        unsetenv(set[i]);
    free(copy);
    return 0;
}
