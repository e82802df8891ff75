#!/bin/sh
# client.sh — memcheck understands hakmem's blocks through the client
# requests of a --enable-valgrind build: tests/valgrind/planted runs under
# valgrind with libhakmem.so preloaded; its clean run must give no error, and
# its run with four planted mistakes exactly those four.
#
# Needs HAKMEM_LIBRARY and builddir (set by the test harness).
set -u

command -v valgrind >/dev/null 2>&1 || { echo "client.sh: valgrind is not installed" >&2; exit 1; }
lib=${HAKMEM_LIBRARY:?HAKMEM_LIBRARY must name libhakmem.so}
prog=${builddir:?}/tests/valgrind/planted
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-vg.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

status=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; status=1; }

# memcheck NAME args...: runs planted under memcheck, log in $tmp/NAME.log.
# By default memcheck replaces the allocation functions of every library
# that exports them, hakmem's too; somalloc=nouserintercepts leaves them be.
memcheck() {
    name=$1
    shift
    LD_PRELOAD=$lib valgrind -q --soname-synonyms=somalloc=nouserintercepts \
        --log-file="$tmp/$name.log" --error-exitcode=99 \
        --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
        --num-callers=12 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
}

# count NAME PATTERN: how many lines of NAME's memcheck log match.
count() { grep -c -- "$2" "$tmp/$1.log"; }

memcheck clean "$prog" clean
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/clean.log" ]; then
    pass "clean run: no memcheck error"
else
    fail "clean run: exit $rc"
    cat "$tmp/clean.err" "$tmp/clean.log"
fi

HAKMEM_ON_ERROR=warn memcheck errors "$prog" errors
rc=$?
[ $rc -eq 99 ] && pass "planted run: memcheck found errors" || fail "planted run: exit $rc, not memcheck's 99"
for want in "Invalid write of size 1" \
            "Conditional jump or move depends on uninitialised value" \
            "Invalid free()" \
            "definitely lost in loss record"; do
    n=$(count errors "$want")
    [ "$n" -eq 1 ] && pass "reported once: $want" || fail "reported $n times: $want"
done
# Exactly those four, each pinned to planted.c's errors() (the free's first
# frame is hakmem's free, where the client request is made).
n=$(grep -c "^==[0-9]*== [^ ]" "$tmp/errors.log") # error headings: one space, then text
[ "$n" -eq 4 ] && pass "four error reports in all" || fail "$n error reports, not 4"
n=$(grep -c "by 0x[0-9A-F]*: errors (planted.c:\|at 0x[0-9A-F]*: errors (planted.c:" "$tmp/errors.log")
[ "$n" -ge 4 ] && pass "each points into errors()" || fail "$n frames in errors(), not 4"
grep -q "Address 0x[0-9a-f]* is 32 bytes inside a block of size 64 free'd" "$tmp/errors.log" &&
    pass "write after free: names the freed block and its size" ||
    fail "write after free: the freed block is not named"
grep -q "hakmem: free(): double free 0x" "$tmp/errors.err" &&
    pass "hakmem reports the double free too" || fail "no report of the double free from hakmem"
if grep -q "vg_replace_malloc" "$tmp/errors.log"; then
    fail "memcheck's own malloc served the program"
else
    pass "hakmem's malloc served the program"
fi
[ $status -eq 0 ] || cat "$tmp/errors.err" "$tmp/errors.log"
exit $status
