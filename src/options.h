/* options.h — option descriptors, values and their sources (table: options.def). */
#ifndef HAK_OPTIONS_H
#define HAK_OPTIONS_H

#include "internal.h"

enum hak_opt_type { HAK_T_BOOL, HAK_T_INT, HAK_T_U64, HAK_T_SIZE, HAK_T_MS, HAK_T_ENUM, HAK_T_STR };

enum hak_opt_id {
#define HAK_OPTION(id, section, key, type, def, range, unit, env, doc) HAK_OPT_##id,
#define HAK_ALIAS(env, id, inverted)
#include "options.def"
#undef HAK_OPTION
#undef HAK_ALIAS
    HAK_OPT__COUNT
};

struct hak_opt_desc {
    const char *section, *key, *def, *range, *unit, *env, *doc;
    enum hak_opt_type type;
};
extern const struct hak_opt_desc _hak_opt_desc[HAK_OPT__COUNT];

struct hak_opt_alias {
    const char *env;
    enum hak_opt_id id;
    bool inverted;
};
extern const struct hak_opt_alias _hak_opt_alias[];
extern const size_t _hak_opt_alias_count;

/* Values of the ENUM options, in the order of their range text. */
enum { HAK_ON_ERROR_ABORT, HAK_ON_ERROR_WARN, HAK_ON_ERROR_IGNORE };
enum { HAK_REALLOC_ZERO_FREE, HAK_REALLOC_ZERO_ALLOC };
enum { HAK_EVO_AUTO, HAK_EVO_LEARN, HAK_EVO_FROZEN, HAK_EVO_CANARY, HAK_EVO_OFF };
enum { HAK_ADVICE_DONTNEED, HAK_ADVICE_FREE };
enum { HAK_PURGER_AUTO, HAK_PURGER_ON, HAK_PURGER_OFF };

#define HAK_OPT_STR_MAX 256

struct hak_optval {
    int64_t i;                  /* BOOL, INT, SIZE (bytes), MS (ms), ENUM (index); U64: the bits */
    char s[HAK_OPT_STR_MAX];    /* STR */
};

/* Where an option's value came from, lowest precedence first. */
enum hak_src_kind { HAK_SRC_DEFAULT, HAK_SRC_FILE, HAK_SRC_PROFILE, HAK_SRC_ENV, HAK_SRC_ARG };
struct hak_src {
    enum hak_src_kind kind;
    unsigned line;              /* FILE, PROFILE: line in the file */
    const char *name;           /* FILE, PROFILE: file path; ENV: variable; ARG: caller's label */
};

/* How many options are STR: their text is kept apart from the integer values
 * so that the configuration stays small (it is zeroed at every start). */
enum {
    HAK_OPT__STRS = 0
#define HAK_OPTION(id, section, key, type, def, range, unit, env, doc) +(HAK_T_##type == HAK_T_STR)
#define HAK_ALIAS(env, id, inverted)
#include "options.def"
#undef HAK_OPTION
#undef HAK_ALIAS
};

struct hak_config {
    int64_t val[HAK_OPT__COUNT];        /* as hak_optval.i */
    char str[HAK_OPT__STRS][HAK_OPT_STR_MAX]; /* STR options' text, in table order */
    struct hak_src src[HAK_OPT__COUNT];
    char file[512];             /* ini file read, or "builtin:hakmem.ini" */
    char profile[64];           /* profile applied, "" for none */
    unsigned errors;            /* configuration errors reported while loading */
};

/* The process's configuration, loaded once at start-up. */
extern struct hak_config _hak_cfg;
#define HAK_OPT(id)     (_hak_cfg.val[HAK_OPT_##id])
#define HAK_OPT_STR(id) (_hak_config_str(&_hak_cfg, HAK_OPT_##id))

/* The text of STR option id in c. */
char *_hak_config_str(struct hak_config *c, int id);
/* Option id's value in c, formatted as _hak_opt_format does. */
const char *_hak_config_format(const struct hak_config *c, int id, char *buf, size_t len);

/* Option index of "section.key" (or "key" for the top level, also accepted
 * as "general.key"); -1 if unknown. */
int _hak_opt_find(const char *name);
int _hak_opt_find2(const char *section, const char *key);
/* The option's full name into buf. */
const char *_hak_opt_name(int id, char *buf, size_t len);

/* Parses text as option id's value (no range check when check_range is
 * false). Returns 0, or -1 with a reason in err. */
int _hak_opt_parse(int id, const char *text, struct hak_optval *out, bool check_range, char *err, size_t errlen);
/* The same for a type and range of one's own (the syntax, without an option). */
int _hak_value_parse(enum hak_opt_type type, const char *range, const char *text, struct hak_optval *out,
                     bool check_range, char *err, size_t errlen);
/* Formats a value as the parser would accept it. */
const char *_hak_opt_format(int id, const struct hak_optval *v, char *buf, size_t len);
const char *_hak_opt_type_name(enum hak_opt_type t);

#endif
