#!/bin/sh
# memcheck.sh — the unit tests (in both slab modes) and the API stress test
# under valgrind's memcheck: any error fails, and so does a definite leak.
# Run by `make memcheck`, which sets the test environment (builddir,
# HAK_UNIT_TESTS, HAK_API_TESTS, HAKMEM_CONFIG).
#
# hakmem's memory comes from mmap, which memcheck does not count as heap;
# what it tracks are the test programs' own malloc calls (cmocka, glibc),
# served by memcheck. So a definite leak is a real one, while "still
# reachable" (glibc's and cmocka's buffers at exit) is not an error. No
# suppressions are needed.
#
# The build must not be configured with --enable-valgrind: its hak_ API
# describes blocks to memcheck, and the tests free bad pointers on purpose.
set -u

command -v valgrind >/dev/null 2>&1 || { echo "memcheck.sh: valgrind is not installed" >&2; exit 1; }
: "${builddir:?}" "${HAK_UNIT_TESTS:?}" "${HAK_API_TESTS:?}"
if grep -q "define HAK_VALGRIND 1" "$builddir/build-config.h"; then
    echo "memcheck.sh: $builddir is a --enable-valgrind build; use one without client requests" >&2
    exit 1
fi

status=0
opts="-q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=20"
tmp=$(mktemp "${TMPDIR:-/tmp}/hakmem-memcheck.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
run() { # label, then the command; its output is shown only on failure
    label=$1
    shift
    if "$@" >"$tmp" 2>&1; then
        echo "ok - $label"
    else
        echo "not ok - $label"
        cat "$tmp"
        status=1
    fi
}

# Through libtool: a test linked with the shared library is a wrapper script.
vg="$builddir/libtool --mode=execute valgrind $opts"
# test_hardening re-executes itself (/proc/self/exe) with check and secure
# modes set, which valgrind cannot follow: it gets them up front.
# shellcheck disable=SC2086 # $vg is a command and its options
for t in $HAK_UNIT_TESTS; do
    modes=
    case $t in */test_hardening) modes="HAKMEM_CHECK=1 HAKMEM_SECURE=1" ;; esac
    run "$t" env $modes $vg "$builddir/$t"
    run "$t (HAKMEM_TINY_USE_SUPERSLAB=0)" env $modes HAKMEM_TINY_USE_SUPERSLAB=0 $vg "$builddir/$t"
done
# shellcheck disable=SC2086
for t in $HAK_API_TESTS; do
    run "$t --quick" $vg "$builddir/$t" --quick
done
exit $status
