/* config.h — loading the configuration (defaults < hakmem.ini < profile < environment). */
#ifndef HAK_CONFIG_H
#define HAK_CONFIG_H

#include "options.h"
#include "hakmem.h"

struct hak_load_args {
    const char *profile;   /* profile to apply; NULL: HAKMEM_PROFILE, then HAKMEM_MODE */
    const char *file;      /* ini file; NULL: HAKMEM_CONFIG, then SYSCONFDIR/hakmem.ini */
    bool use_env;          /* read the environment (off only in tests) */
    int warn_fd;           /* where warnings go; -1 for nowhere */
    char *missing;         /* if not NULL, gets the warning about a missing profile ("" if none) */
    size_t missing_len;
};

/* Fills c from scratch. Never calls malloc. Each bad input prints one
 * warning and counts in c->errors; the option keeps its previous value. */
void _hak_config_load(struct hak_config *c, const struct hak_load_args *a);

/* Sets option id from text; on error warns (naming where) and keeps the value. */
int _hak_config_set(struct hak_config *c, int id, const char *text, struct hak_src src, const char *where, int warn_fd);

/* The ini text built in from conf/hakmem.ini, used when no file is installed. */
extern const char _hak_builtin_ini[];

/* format: one of the HAK_DUMP_* values of hakmem.h */
void _hak_config_print(const struct hak_config *c, int fd, int format);
const char *_hak_src_format(const struct hak_src *s, const struct hak_config *c, char *buf, size_t len);

#endif
