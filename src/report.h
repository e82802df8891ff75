/* report.h — reporting misuse (invalid pointer, double free) and acting on
 * the on_error option (SPEC §2: abort, warn or ignore). */
#ifndef HAK_REPORT_H
#define HAK_REPORT_H

#include "internal.h"

/* Prints "hakmem: FN(): WHAT 0x…" on stderr unless on_error = ignore, then
 * aborts if on_error = abort; otherwise returns and the caller leaks p. */
void _hak_report(const char *fn, const char *what, const void *p);

#endif
