/* config.c — configuration loading: built-in defaults, then hakmem.ini, then
 * the selected [profile NAME] section, then the environment (SPEC §4).
 * Runs while malloc is starting: files are read into a static buffer and
 * parsed with inih's stream API (its line buffer is on the stack). */
#include "config.h"
#include "fmt.h"
#include "lock.h"
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hak_config _hak_cfg;

#define CONF_MAX (64 * 1024)
static hak_bss_large char conf_buf[CONF_MAX + 1];
static HAK_LOCK_DEFINE(conf_lock, HAK_RANK_CONFIG);

extern char **environ;

/* Variables that are not options but are ours. */
static const char *const meta_vars[] = {
    "HAKMEM_CONFIG", "HAKMEM_PROFILE", "HAKMEM_MODE",
    "HAKMEM_LIBRARY", /* the hakmem command's override of the preloaded library */
};

static void warn(struct hak_config *c, int fd, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn(struct hak_config *c, int fd, const char *where, const char *fmt, ...)
{
    c->errors++;
    if (fd < 0)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    _hak_vfmt(msg, sizeof msg, fmt, ap);
    va_end(ap);
    _hak_dprintf(fd, "hakmem: config: %s: %s\n", where, msg);
}

char *_hak_config_str(struct hak_config *c, int id)
{
    int slot = 0;
    for (int i = 0; i < id; i++)
        slot += _hak_opt_desc[i].type == HAK_T_STR;
    return c->str[slot];
}

const char *_hak_config_format(const struct hak_config *c, int id, char *buf, size_t len)
{
    if (_hak_opt_desc[id].type == HAK_T_STR) {
        _hak_fmt(buf, len, "%s", _hak_config_str((struct hak_config *)c, id));
        return buf;
    }
    struct hak_optval v;
    v.i = c->val[id];
    return _hak_opt_format(id, &v, buf, len);
}

static void store(struct hak_config *c, int id, const struct hak_optval *v)
{
    if (_hak_opt_desc[id].type == HAK_T_STR)
        memcpy(_hak_config_str(c, id), v->s, sizeof v->s);
    else
        c->val[id] = v->i;
}

int _hak_config_set(struct hak_config *c, int id, const char *text, struct hak_src src, const char *where, int warn_fd)
{
    struct hak_optval v;
    char err[256], cur[HAK_OPT_STR_MAX];
    if (_hak_opt_parse(id, text, &v, true, err, sizeof err) != 0) {
        char name[64];
        warn(c, warn_fd, where, "%s: %s (keeping %s)", _hak_opt_name(id, name, sizeof name), err,
             _hak_config_format(c, id, cur, sizeof cur));
        return -1;
    }
    store(c, id, &v);
    c->src[id] = src;
    return 0;
}

/* ------------------------------------------------------------------ ini */

struct ini_ctx {
    struct hak_config *c;
    const char *text;
    size_t pos;
    unsigned line;          /* line the parser is on */
    const char *profile;    /* NULL: pass 1 (plain sections); else the profile to apply */
    bool profile_seen;
    int fd;
};

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* Feeds inih one line at a time, so that each line is checked once here:
 * a line longer than inih's buffer or of no known shape is reported (in pass
 * 1 only) and replaced by an empty line. Leading blanks are removed, so no
 * line is read as the continuation of the previous value. */
static char *conf_reader(char *str, int num, void *stream)
{
    struct ini_ctx *x = stream;
    const char *s = x->text + x->pos;
    if (*s == 0)
        return NULL;
    const char *nl = strchr(s, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    x->pos += n + (nl ? 1 : 0);
    x->line++;
    while (n > 0 && is_space(*s))
        s++, n--;
    while (n > 0 && is_space(s[n - 1]))
        n--;
    str[0] = 0;
    char where[600];
    if (n + 3 > (size_t)num) {
        if (!x->profile) {
            _hak_fmt(where, sizeof where, "%s:%u", x->c->file, x->line);
            warn(x->c, x->fd, where, "line longer than %d characters, ignored", num - 3);
        }
        return str;
    }
    bool ok = n == 0 || s[0] == ';' || s[0] == '#' || (s[0] == '[' && s[n - 1] == ']') ||
              memchr(s, '=', n) != NULL || memchr(s, ':', n) != NULL;
    if (!ok) {
        if (!x->profile) {
            _hak_fmt(where, sizeof where, "%s:%u", x->c->file, x->line);
            warn(x->c, x->fd, where, "not a [section], a key = value or a comment, ignored");
        }
        return str;
    }
    memcpy(str, s, n);
    str[n] = '\n';
    str[n + 1] = 0;
    return str;
}

/* The NAME of a section "[kind NAME]" and its length, blanks around it left
 * out (as `hakmem matrix` reads it), or NULL. */
static const char *named(const char *section, const char *kind, size_t *len)
{
    size_t n = strlen(kind);
    if (strncmp(section, kind, n) != 0 || !is_space(section[n]))
        return NULL;
    section += n;
    while (is_space(*section))
        section++;
    n = strlen(section);
    while (n && is_space(section[n - 1]))
        n--;
    *len = n;
    return section;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = user;
    size_t plen, wlen;
    const char *prof = named(section, "profile", &plen);
    char where[600];
    _hak_fmt(where, sizeof where, "%s:%u", x->c->file, x->line);
    struct hak_src src = { x->profile ? HAK_SRC_PROFILE : HAK_SRC_FILE, x->line, x->c->file };
    int id;
    if (!x->profile) {
        /* [workload NAME] sections are `hakmem matrix`'s, not options. */
        if (prof || named(section, "workload", &wlen))
            return 1;
        id = _hak_opt_find2(section, name);
        if (id < 0) {
            if (section[0])
                warn(x->c, x->fd, where, "unknown key '%s' in section [%s]", name, section);
            else
                warn(x->c, x->fd, where, "unknown key '%s'", name);
            return 1;
        }
    } else {
        if (!prof || plen != strlen(x->profile) || memcmp(prof, x->profile, plen) != 0)
            return 1;
        x->profile_seen = true;
        id = _hak_opt_find(name);
        if (id < 0) {
            warn(x->c, x->fd, where, "unknown key '%s' in [profile %s]", name, x->profile);
            return 1;
        }
    }
    _hak_config_set(x->c, id, value, src, where, x->fd);
    return 1;
}

static const char *errno_text(int e)
{
    switch (e) {
    case ENOENT: return "no such file";
    case EACCES: return "permission denied";
    case EISDIR: return "is a directory";
    case ELOOP: return "too many symbolic links";
    case ENAMETOOLONG: return "name too long";
    case ENOTDIR: return "a path component is not a directory";
    default: return "cannot be read";
    }
}

/* Reads path into conf_buf; returns the text, or NULL with errno set. */
static const char *read_file(struct hak_config *c, int fd_warn, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t len = 0;
    bool more = false;
    for (;;) {
        ssize_t r = read(fd, conf_buf + len, CONF_MAX - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == CONF_MAX) {
            char probe;
            more = read(fd, &probe, 1) > 0;
            break;
        }
    }
    close(fd);
    if (more) {
        while (len > 0 && conf_buf[len - 1] != '\n')
            len--;
        warn(c, fd_warn, path, "larger than %d KiB; the rest is ignored", CONF_MAX / 1024);
    }
    conf_buf[len] = 0;
    return conf_buf;
}

static void parse_pass(struct hak_config *c, const char *text, const char *profile, int fd, bool *seen)
{
    struct ini_ctx x = { c, text, 0, 0, profile, false, fd };
    ini_parse_stream(conf_reader, &x, conf_handler, &x);
    if (seen)
        *seen = x.profile_seen;
}

struct profile_list {
    char *buf; /* ", "-separated names */
    size_t len;
};

static int list_handler(void *user, const char *section, const char *name, const char *value)
{
    (void)name, (void)value;
    struct profile_list *l = user;
    size_t n;
    const char *prof = named(section, "profile", &n);
    if (!prof)
        return 1;
    size_t used = strlen(l->buf);
    /* Names are split at ", " only: a name may itself hold a comma. */
    for (const char *p = l->buf; *p;) {
        const char *sep = strstr(p, ", ");
        size_t k = sep ? (size_t)(sep - p) : strlen(p);
        if (k == n && memcmp(p, prof, n) == 0)
            return 1;
        p += k + (sep ? 2 : 0);
    }
    if (used + n + 3 <= l->len)
        _hak_fmt(l->buf + used, l->len - used, "%s%.*s", used ? ", " : "", (int)n, prof);
    return 1;
}

/* The names of the profiles in text with a key (as a profile pass finds
 * them), ", "-separated into buf; those that do not fit are left out. */
static void profile_names(const char *text, char *buf, size_t len)
{
    struct ini_ctx x = { NULL, text, 0, 0, "", false, -1 }; /* profile set: the reader does not warn again */
    struct profile_list l = { buf, len };
    buf[0] = 0;
    ini_parse_stream(conf_reader, &x, list_handler, &l);
}

/* ------------------------------------------------------------------ env */

static void load_env(struct hak_config *c, int fd)
{
    for (size_t i = 0; i < _hak_opt_alias_count; i++) {
        const struct hak_opt_alias *a = &_hak_opt_alias[i];
        const char *v = getenv(a->env);
        if (!v)
            continue;
        struct hak_optval b;
        char err[256];
        if (_hak_opt_parse(a->id, v, &b, false, err, sizeof err) != 0) {
            warn(c, fd, a->env, "%s (ignored)", err);
            continue;
        }
        _hak_config_set(c, a->id, (b.i != 0) != a->inverted ? "true" : "false",
                        (struct hak_src){ HAK_SRC_ENV, 0, a->env }, a->env, fd);
    }
    for (int id = 0; id < HAK_OPT__COUNT; id++) {
        const char *env = _hak_opt_desc[id].env;
        const char *v = getenv(env);
        if (v)
            _hak_config_set(c, id, v, (struct hak_src){ HAK_SRC_ENV, 0, env }, env, fd);
    }
    if (!environ)
        return;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "HAKMEM_", 7) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        bool known = false;
        for (int id = 0; id < HAK_OPT__COUNT && !known; id++)
            known = strlen(_hak_opt_desc[id].env) == n && memcmp(_hak_opt_desc[id].env, *e, n) == 0;
        for (size_t i = 0; i < _hak_opt_alias_count && !known; i++)
            known = strlen(_hak_opt_alias[i].env) == n && memcmp(_hak_opt_alias[i].env, *e, n) == 0;
        for (size_t i = 0; i < sizeof meta_vars / sizeof meta_vars[0] && !known; i++)
            known = strlen(meta_vars[i]) == n && memcmp(meta_vars[i], *e, n) == 0;
        if (!known) {
            char name[128];
            _hak_fmt(name, sizeof name, "%.*s", (int)n, *e);
            warn(c, fd, name, "unknown variable (ignored)");
        }
    }
}

/* ------------------------------------------------------------------ load */

void _hak_config_load(struct hak_config *c, const struct hak_load_args *a)
{
    memset(c, 0, sizeof *c);
    for (int id = 0; id < HAK_OPT__COUNT; id++) {
        char err[256];
        struct hak_optval v;
        _hak_opt_parse(id, _hak_opt_desc[id].def, &v, false, err, sizeof err);
        store(c, id, &v);
        c->src[id] = (struct hak_src){ HAK_SRC_DEFAULT, 0, NULL };
    }
    int fd = a->warn_fd;

    hak_lock(&conf_lock);
    const char *path = a->file;
    const char *path_from = "argument";
    if (!path && a->use_env && (path = getenv("HAKMEM_CONFIG")) != NULL)
        path_from = "HAKMEM_CONFIG";
    bool explicit_path = path != NULL && path[0] != 0;
    if (!explicit_path)
        path = SYSCONFDIR "/hakmem.ini";
    const char *text = read_file(c, fd, path);
    if (text) {
        _hak_fmt(c->file, sizeof c->file, "%s", path);
    } else {
        if (explicit_path) {
            char where[600];
            _hak_fmt(where, sizeof where, "%s (from %s)", path, path_from);
            warn(c, fd, where, "%s; using the built-in hakmem.ini", errno_text(errno));
        }
        _hak_fmt(c->file, sizeof c->file, "builtin:hakmem.ini");
        text = _hak_builtin_ini;
    }
    parse_pass(c, text, NULL, fd, NULL);

    const char *profile = a->profile;
    const char *profile_from = "argument";
    if (!profile && a->use_env) {
        if ((profile = getenv("HAKMEM_PROFILE")) != NULL && profile[0])
            profile_from = "HAKMEM_PROFILE";
        else if ((profile = getenv("HAKMEM_MODE")) != NULL && profile[0])
            profile_from = "HAKMEM_MODE";
    }
    if (a->missing && a->missing_len)
        a->missing[0] = 0;
    if (profile && profile[0]) {
        bool seen = false;
        _hak_fmt(c->profile, sizeof c->profile, "%s", profile);
        parse_pass(c, text, c->profile, fd, &seen);
        if (!seen) {
            char names[512], msg[1024];
            profile_names(text, names, sizeof names);
            _hak_fmt(msg, sizeof msg, "no section [profile %s] in %s; its profiles: %s", profile, c->file,
                     names[0] ? names : "none");
            warn(c, fd, profile_from, "%s", msg);
            if (a->missing && a->missing_len)
                _hak_fmt(a->missing, a->missing_len, "%s", msg);
            c->profile[0] = 0;
        }
    }
    hak_unlock(&conf_lock);

    if (a->use_env)
        load_env(c, fd);

    if (c->val[HAK_OPT_verbose] >= 1 && fd >= 0) {
        for (int id = 0; id < HAK_OPT__COUNT; id++) {
            if (c->src[id].kind == HAK_SRC_DEFAULT)
                continue;
            char name[64], val[HAK_OPT_STR_MAX], src[600];
            _hak_dprintf(fd, "hakmem: config: %s = %s (%s)\n", _hak_opt_name(id, name, sizeof name),
                         _hak_config_format(c, id, val, sizeof val), _hak_src_format(&c->src[id], c, src, sizeof src));
        }
    }
}

/* ------------------------------------------------------------------ print */

const char *_hak_src_format(const struct hak_src *s, const struct hak_config *c, char *buf, size_t len)
{
    switch (s->kind) {
    case HAK_SRC_DEFAULT: _hak_fmt(buf, len, "default"); break;
    case HAK_SRC_FILE: _hak_fmt(buf, len, "%s:%u", s->name, s->line); break;
    case HAK_SRC_PROFILE: _hak_fmt(buf, len, "profile %s (%s:%u)", c->profile, s->name, s->line); break;
    case HAK_SRC_ENV: _hak_fmt(buf, len, "env %s", s->name); break;
    case HAK_SRC_ARG: _hak_fmt(buf, len, "%s", s->name); break;
    }
    return buf;
}

static void print_ini_doc(struct hak_out *o)
{
    const char *section = NULL;
    for (int id = 0; id < HAK_OPT__COUNT; id++) {
        const struct hak_opt_desc *d = &_hak_opt_desc[id];
        if (!section || strcmp(section, d->section) != 0) {
            section = d->section;
            _hak_out_printf(o, "\n[%s]\n", section[0] ? section : "general");
        }
        char range[160] = "";
        if (d->range[0])
            _hak_fmt(range, sizeof range, ", %s %s", d->type == HAK_T_ENUM ? "one of" : "range", d->range);
        _hak_out_printf(o, "; %s (%s%s%s%s; %s)\n;   %s\n;%s =%s%s\n", d->key, _hak_opt_type_name(d->type),
                        d->unit[0] ? ", " : "", d->unit, range, d->env, d->doc, d->key, d->def[0] ? " " : "", d->def);
    }
    for (size_t i = 0; i < _hak_opt_alias_count; i++) {
        char name[64];
        _hak_out_printf(o, "%s; historical: %s=1 sets %s = %s\n", i == 0 ? "\n" : "", _hak_opt_alias[i].env,
                        _hak_opt_name(_hak_opt_alias[i].id, name, sizeof name),
                        _hak_opt_alias[i].inverted ? "false" : "true");
    }
}

static void print_markdown(struct hak_out *o)
{
    _hak_out_printf(o, "| option | type | default | range | environment | description |\n");
    _hak_out_printf(o, "|---|---|---|---|---|---|\n");
    for (int id = 0; id < HAK_OPT__COUNT; id++) {
        const struct hak_opt_desc *d = &_hak_opt_desc[id];
        char name[64], range[160];
        size_t n = 0;
        for (const char *r = d->range; *r && n + 3 < sizeof range; r++) { /* a | would split the cell */
            if (*r == '|') {
                range[n++] = ',';
                range[n++] = ' ';
            } else {
                range[n++] = *r;
            }
        }
        range[n] = 0;
        _hak_out_printf(o, "| `%s` | %s%s%s | `%s` | %s | `%s` | %s |\n", _hak_opt_name(id, name, sizeof name),
                        _hak_opt_type_name(d->type), d->unit[0] ? ", " : "", d->unit, d->def[0] ? d->def : "\"\"",
                        range, d->env, d->doc);
    }
    for (size_t i = 0; i < _hak_opt_alias_count; i++) {
        char name[64];
        _hak_out_printf(o, "%s`%s=1` sets `%s = %s`.\n", i == 0 ? "\nHistorical toggles: " : "", _hak_opt_alias[i].env,
                        _hak_opt_name(_hak_opt_alias[i].id, name, sizeof name),
                        _hak_opt_alias[i].inverted ? "false" : "true");
    }
}

/* Columns of the TEXT format: a line longer is cut, ending in "...". */
#define TEXT_WIDTH 100

/* A line of the TEXT format, cut to TEXT_WIDTH bytes (so as many columns or
 * fewer) between UTF-8 characters; whole in TEXT_LONG. */
static void text_line(struct hak_out *o, bool whole, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void text_line(struct hak_out *o, bool whole, const char *fmt, ...)
{
    char line[1536];
    va_list ap;
    va_start(ap, fmt);
    _hak_vfmt(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    if (!whole && n > TEXT_WIDTH) {
        n = TEXT_WIDTH - 3;
        while (n > 0 && ((unsigned char)line[n] & 0xC0) == 0x80) /* n on a continuation byte */
            n--;
        memcpy(line + n, "...", 4);
    }
    _hak_out_printf(o, "%s\n", line);
}

static void print_text(struct hak_out *o, const struct hak_config *c, bool whole)
{
    char name[64], val[HAK_OPT_STR_MAX], src[600];
    /* Cut: columns as wide as their entries (capped, wider entries stand
     * out), for as much description as fits. Whole: the fixed layout. */
    int wname = 28, wval = 10, wsrc = 36;
    if (!whole) {
        wname = wval = wsrc = 6; /* the headings */
        for (int id = 0; id < HAK_OPT__COUNT; id++) {
            int n = (int)strlen(_hak_opt_name(id, name, sizeof name));
            int v = (int)strlen(_hak_config_format(c, id, val, sizeof val));
            int s = (int)strlen(_hak_src_format(&c->src[id], c, src, sizeof src));
            wname = n > wname ? n : wname;
            wval = v > wval && v <= 16 ? v : wval;
            wsrc = s > wsrc && s <= 36 ? s : wsrc;
        }
    }
    text_line(o, whole, "# file: %s", c->file);
    text_line(o, whole, "# profile: %s", c->profile[0] ? c->profile : "(none)");
    text_line(o, whole, "%-*s %-*s %-*s %s", wname, "option", wval, "value", wsrc, "source", "description");
    for (int id = 0; id < HAK_OPT__COUNT; id++)
        text_line(o, whole, "%-*s %-*s %-*s %s", wname, _hak_opt_name(id, name, sizeof name), wval,
                  _hak_config_format(c, id, val, sizeof val), wsrc,
                  _hak_src_format(&c->src[id], c, src, sizeof src), _hak_opt_desc[id].doc);
}

void _hak_config_print(const struct hak_config *c, int fd, int format)
{
    struct hak_out o;
    _hak_out_init(&o, fd);
    char name[64], val[HAK_OPT_STR_MAX], src[600];
    switch (format) {
    case HAK_DUMP_TEXT:
    case HAK_DUMP_TEXT_LONG:
        print_text(&o, c, format == HAK_DUMP_TEXT_LONG);
        break;
    case HAK_DUMP_VALUES:
        for (int id = 0; id < HAK_OPT__COUNT; id++)
            _hak_out_printf(&o, "%s = %s\n", _hak_opt_name(id, name, sizeof name),
                            _hak_config_format(c, id, val, sizeof val));
        break;
    case HAK_DUMP_JSON:
        _hak_out_printf(&o, "{\"file\": ");
        _hak_out_json_str(&o, c->file);
        _hak_out_printf(&o, ", \"profile\": ");
        _hak_out_json_str(&o, c->profile);
        _hak_out_printf(&o, ", \"errors\": %u, \"options\": {", c->errors);
        for (int id = 0; id < HAK_OPT__COUNT; id++) {
            _hak_out_printf(&o, "%s\n  ", id ? "," : "");
            _hak_out_json_str(&o, _hak_opt_name(id, name, sizeof name));
            _hak_out_printf(&o, ": {\"value\": ");
            _hak_out_json_str(&o, _hak_config_format(c, id, val, sizeof val));
            _hak_out_printf(&o, ", \"source\": ");
            _hak_out_json_str(&o, _hak_src_format(&c->src[id], c, src, sizeof src));
            _hak_out_printf(&o, "}");
        }
        _hak_out_printf(&o, "\n}}\n");
        break;
    case HAK_DUMP_MARKDOWN:
        print_markdown(&o);
        break;
    case HAK_DUMP_INI:
        print_ini_doc(&o);
        break;
    }
    _hak_out_flush(&o);
}
