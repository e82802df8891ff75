/* vg.h — valgrind client requests (./configure --enable-valgrind), so that
 * memcheck sees hakmem's blocks as it sees glibc's under LD_PRELOAD: use
 * after free, leaks, uninitialised reads and invalid or double frees in the
 * program. Without the option HAK_VG_ON() is a constant false, and code under
 * it compiles to nothing; with it, a check costs one client request (a few
 * no-op instructions) when not running under valgrind.
 *
 * hakmem reads and writes freed blocks on purpose (free-list links, the
 * double-free mark) and reads a live block's mark word on free, which
 * memcheck would otherwise report as the program's errors: such work runs
 * between HAK_VG_QUIET_BEGIN() and HAK_VG_QUIET_END(). How the entry points
 * describe blocks is in entry.h. */
#ifndef HAK_VG_H
#define HAK_VG_H

#include "internal.h"

#if HAK_VALGRIND
#include <valgrind/memcheck.h>

#define HAK_VG_ON() hak_unlikely(RUNNING_ON_VALGRIND)
/* Memcheck's error reporting off, then on again, for the calling thread. */
#define HAK_VG_QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define HAK_VG_QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING

#else

#define HAK_VG_ON() false
#define HAK_VG_QUIET_BEGIN() ((void)0)
#define HAK_VG_QUIET_END() ((void)0)

#endif

#endif
