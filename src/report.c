/* report.c — misuse reports, written without malloc and before any abort. */
#include "report.h"
#include "fmt.h"
#include "options.h"
#include <stdlib.h>

void _hak_report(const char *fn, const char *what, const void *p)
{
    int mode = (int)HAK_OPT(on_error);
    if (mode == HAK_ON_ERROR_IGNORE)
        return;
    _hak_dprintf(2, "hakmem: %s(): %s %p\n", fn, what, p);
    if (mode == HAK_ON_ERROR_ABORT)
        abort();
}

#if HAK_DEBUG
void _hak_assert_fail(const char *expr, const char *file, int line)
{
    _hak_dprintf(2, "hakmem: internal assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
#endif
