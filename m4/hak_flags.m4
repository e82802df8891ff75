# hak_flags.m4 — compiler flag probing for hakmem.
# HAK_CHECK_CFLAG(FLAG, [ACTION-IF-ACCEPTED], [ACTION-IF-REJECTED])
# Compiles an empty program with FLAG (and -Werror so unknown flags fail).
AC_DEFUN([HAK_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([hak_cv], [hak_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [hak_cv], [
    hak_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])], [AS_VAR_SET([hak_cv], [yes])], [AS_VAR_SET([hak_cv], [no])])
    CFLAGS=$hak_save_CFLAGS])
  AS_VAR_IF([hak_cv], [yes], [$2], [$3])
  AS_VAR_POPDEF([hak_cv])
])

# HAK_CHECK_LDFLAG(FLAG, [ACTION-IF-ACCEPTED], [ACTION-IF-REJECTED])
# Links and runs a program with FLAG: a flag the dynamic loader must know
# (a new relocation format) is accepted only where the result runs.
AC_DEFUN([HAK_CHECK_LDFLAG], [
  AS_VAR_PUSHDEF([hak_cv], [hak_cv_ldflag_$1])
  AC_CACHE_CHECK([whether the linker and loader accept $1], [hak_cv], [
    hak_save_LDFLAGS=$LDFLAGS
    LDFLAGS="$LDFLAGS $1"
    AC_RUN_IFELSE([AC_LANG_PROGRAM([[static const char *const p[] = { "a", "b" };]], [[return p[1][0] != 'b';]])],
      [AS_VAR_SET([hak_cv], [yes])], [AS_VAR_SET([hak_cv], [no])], [AS_VAR_SET([hak_cv], [no])])
    LDFLAGS=$hak_save_LDFLAGS])
  AS_VAR_IF([hak_cv], [yes], [$2], [$3])
  AS_VAR_POPDEF([hak_cv])
])
