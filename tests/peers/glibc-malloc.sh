#!/bin/sh
# glibc-malloc.sh — glibc 2.36's own malloc/ tests, built from Debian's glibc source with glibc's support/ test driver, run on glibc and with LD_PRELOAD=libhakmem.so, compared test by test.
#
# Usage: tests/peers/glibc-malloc.sh [-d DIR] [LIBRARY] [TEST...]
#   LIBRARY  the libhakmem.so to preload (default $HAKMEM_LIBRARY); copied
#            once at the start, so a rebuild during the run changes nothing
#   -d DIR   work directory (default $GLIBC_PEER_DIR, else /tmp/glibc-peer):
#            src/ the cached glibc source (kept: re-runs download nothing),
#            build/ the support archive and test programs, logs/ the output
#   TEST...  only these tests (names from glibc's malloc/, e.g. tst-mallocfork2)
# TIMEOUTFACTOR scales the glibc test driver's own timeouts (20 s, or the
# test's TIMEOUT) and this script's outer `timeout` likewise.
#
# Fetching the source (first run only) uses `apt-get source glibc`
# (tests/peers/common.sh): as root it installs dpkg-dev and adds a deb-src
# entry for the machine's Debian mirrors when there is none, then runs
# apt-get update. The tests are compiled with the
# system gcc against the installed headers; support/ comes from the same
# source, plus a shim for the few macros of glibc's generated config.h.
# Tests that need glibc internals, its debugging mallocs or tunables are
# listed as skipped with the reason. Prints a table (test, glibc, hakmem,
# verdict), the last lines of each differing run, and `N passed, N failed,
# N skipped` for hakmem (passed: as on glibc; failed: passes on glibc but not
# under hakmem; skipped: not run, or not passing on glibc either). Exits 1 if a
# test failed, 2 on a setup error, 0 otherwise.
set -u

# The tests run, in this order (all from malloc/tests in glibc 2.36's Makefile).
RUN_TESTS='mallocbug tst-malloc tst-calloc tst-realloc tst-reallocarray
tst-valloc tst-pvalloc tst-pvalloc-fortify tst-memalign tst-posix_memalign
tst-mallocalign1 tst-malloc-too-large tst-free-errno tst-mallopt tst-trim1
tst-tcfree3 tst-mallinfo2 tst-malloc_info tst-malloc-stats-cancellation
tst-mallocfork tst-mallocfork2 tst-mallocfork3 tst-malloc-fork-deadlock
tst-malloc-thread-exit tst-malloc-thread-fail tst-malloc-tcache-leak'

# The other tests of malloc/, and why they are not run.
SKIP_TESTS='tst-malloc-check Makefile runs it with MALLOC_CHECK_=3 and LD_PRELOAD=libc_malloc_debug.so: tests glibc debug malloc error checks
tst-malloc-usable Makefile runs it with MALLOC_CHECK_=3 and LD_PRELOAD=libc_malloc_debug.so; expects malloc_usable_size (malloc (7)) == 7 exactly (debug malloc)
tst-malloc-usable-tunables as tst-malloc-usable, through GLIBC_TUNABLES=glibc.malloc.check=3
tst-mxfast needs GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0; checks the fastbin count (mallinfo smblks)
tst-malloc-backtrace corrupts the size field of a glibc chunk header and expects SIGABRT
tst-tcfree1 double free; expects the abort of the glibc tcache double-free check
tst-tcfree2 double free; expects the abort of the glibc tcache double-free check
tst-safe-linking corrupts glibc tcache/fastbin links; expects glibc safe-linking error messages
tst-compathooks-off __malloc_hook and friends through <shlib-compat.h> (glibc internal)
tst-compathooks-on __malloc_hook and friends through <shlib-compat.h>, with libc_malloc_debug.so
tst-mallocstate malloc_get_state/malloc_set_state through <libc-symbols.h> and <shlib-compat.h>
tst-mtrace mtrace/mcheck: needs libc_malloc_debug.so and the mtrace Perl script of the build tree
tst-interpose-nothread the test program defines malloc itself (interposition test): the preloaded allocator is never used
tst-interpose-thread the test program defines malloc itself (interposition test): the preloaded allocator is never used
tst-interpose-static-nothread static program defining malloc itself: LD_PRELOAD does not apply
tst-interpose-static-thread static program defining malloc itself: LD_PRELOAD does not apply
tst-obstack tests obstack (libc), not the malloc interface
tst-alloc_buffer glibc-internal <alloc_buffer.h>
tst-scratch_buffer glibc-internal <scratch_buffer.h> (tests-internal)
tst-dynarray glibc-internal dynarray (tests-internal)
tst-dynarray-fail glibc-internal dynarray, with mtrace (tests-internal)
tst-dynarray-at-fail glibc-internal dynarray (tests-internal)'

# The support/ files those tests link (found with a link map over all of
# support/), and the flags support/Makefile gives support_paths.c.
SUPPORT_FILES='check oom_error support_paths support_record_failure
support_shared_allocate support_test_compare_failure support_test_main
support_test_verify_impl temp_file write_message xasprintf xcalloc xchdir
xfopen xfork xmalloc xmmap xmunmap xopen xpthread_barrier_destroy
xpthread_barrier_init xpthread_barrier_wait xpthread_barrierattr_destroy
xpthread_barrierattr_init xpthread_barrierattr_setpshared
xpthread_check_return xpthread_create xpthread_join xpthread_kill xsignal
xsysconf'

DEFAULT_TIMEOUT=20 # support/test-driver.h
started=$(date +%s)

me=${0##*/}
usage_lines=4,12
# shellcheck source=tests/peers/common.sh
. "$(dirname "$0")/common.sh"

DIR=${GLIBC_PEER_DIR:-/tmp/glibc-peer}
lib=${HAKMEM_LIBRARY:-}
only=''
while [ $# -gt 0 ]; do
    case $1 in
    -d | --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *.so | *.so.* | */*) lib=$1; shift ;;
    *) only="$only $1"; shift ;;
    esac
done

check_args
factor=${TIMEOUTFACTOR:-1}
case $factor in
'' | *[!0-9]* | 0) die "TIMEOUTFACTOR must be a positive integer (got '$factor')" ;;
esac

is_skipped() { printf '%s\n' "$SKIP_TESTS" | grep -q "^$1 "; }
skip_reason() { printf '%s\n' "$SKIP_TESTS" | sed -n "s/^$1 //p"; }
is_run() { printf ' %s \n' "$RUN_TESTS" | tr '\n' ' ' | grep -q " $1 "; }

# The selection: run tests first, in RUN_TESTS order, then the skipped ones.
if [ -n "$only" ]; then
    run=''
    skip=''
    for t in $only; do
        if is_run "$t"; then
            run="$run $t"
        elif is_skipped "$t"; then
            skip="$skip $t"
        else
            die "unknown test: $t (neither run nor listed as skipped)"
        fi
    done
else
    run=$(printf '%s' "$RUN_TESTS" | tr '\n' ' ')
    skip=$(printf '%s\n' "$SKIP_TESTS" | cut -d' ' -f1 | tr '\n' ' ')
fi

for tool in gcc make ar timeout; do
    command -v "$tool" >/dev/null 2>&1 || case $tool in
        gcc) apt_install gcc 'gcc libc6-dev' ;;
        make) apt_install make make ;;
        ar) apt_install ar binutils ;;
        timeout) apt_install timeout coreutils ;;
        esac
done

# ---- the glibc source ------------------------------------------------------

# The cached tree is keyed by the installed libc6 version (the source of the
# same version is asked for first).
want=$(dpkg-query -W -f='${Version}' libc6 2>/dev/null) || want=unknown
fetch_source glibc "$want" malloc/tst-malloc.c
case ${S##*/} in
glibc-2.36) ;;
*) say "warning: the test lists are for glibc 2.36; the source is ${S##*/}" ;;
esac
say "glibc source: $S"

# ---- the build -------------------------------------------------------------

B=$DIR/build
mkdir -p "$B/shim" "$B/obj" "$B/bin" || die "cannot create $B"

# Writes stdin to $1 only when it differs, so make rebuilds only what changed.
update_file() {
    cat >"$1.new" && if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv "$1.new" "$1"; fi
}

# Stands in for glibc's generated config.h and the implicit include of
# libc-symbols.h: the tests and support/ build inside glibc with _GNU_SOURCE,
# and reach <limits.h> through glibc's internal headers.
update_file "$B/shim/config.h" <<'EOF'
/* config.h shim for building glibc's malloc tests and support/ outside
   glibc's build tree (written by tests/peers/glibc-malloc.sh).  */
#ifndef GLIBC_PEER_CONFIG_H
#define GLIBC_PEER_CONFIG_H 1
#ifndef _GNU_SOURCE
# define _GNU_SOURCE 1
#endif
#include <limits.h>
/* configure's default (--with-timeoutfactor); the TIMEOUTFACTOR variable
   of the environment still scales the driver's timeouts.  */
#define TIMEOUTFACTOR 1
#endif
EOF
# Only these headers come from the source tree's internal directories:
# <support/...> (and so "../test-skeleton.c" from malloc/), two macro-only
# headers of include/ and the generic malloc alignment (tst-mallocalign1).
ln -sfn "$S/support" "$B/shim/support"
ln -sf "$S/include/libc-diag.h" "$S/include/array_length.h" \
    "$S/sysdeps/generic/malloc-size.h" "$S/sysdeps/generic/malloc-alignment.h" "$B/shim/"

tests_to_build=''
for t in $run; do tests_to_build="$tests_to_build bin/$t"; done
update_file "$B/Makefile" <<EOF
# Written by tests/peers/glibc-malloc.sh.
.RECIPEPREFIX = >
S := $S
CC := gcc
CFLAGS := -std=gnu11 -O2 -g -Wall
CPPFLAGS := -Ishim -include config.h
SUPPORT := $(printf '%s' "$SUPPORT_FILES" | tr '\n' ' ')
PATHS := -DSRCDIR_PATH='"\$(S)"' -DOBJDIR_PATH='"\$(CURDIR)"' \\
  -DOBJDIR_ELF_LDSO_PATH='"/lib64/ld-linux-x86-64.so.2"' -DINSTDIR_PATH='"/usr"' \\
  -DLIBDIR_PATH='"/usr/lib"' -DBINDIR_PATH='"/usr/bin"' -DSBINDIR_PATH='"/usr/sbin"' \\
  -DSLIBDIR_PATH='"/lib"' -DROOTSBINDIR_PATH='"/sbin"' -DCOMPLOCALEDIR_PATH='"/usr/lib/locale"'
all: $tests_to_build
obj/%.o: \$(S)/support/%.c Makefile shim/config.h
> \$(CC) \$(CFLAGS) \$(CPPFLAGS) -I\$(S)/support \$(if \$(filter support_paths,\$*),\$(PATHS)) -c -o \$@ \$<
libsupport.a: \$(SUPPORT:%=obj/%.o)
> rm -f \$@ && ar rcs \$@ \$^
# malloc/Makefile: every test gets -DTEST_NO_MALLOPT (no mallopt (M_PERTURB)
# in the driver); the threaded ones link the thread library.
bin/%: \$(S)/malloc/%.c libsupport.a Makefile shim/config.h
> \$(CC) \$(CFLAGS) \$(CPPFLAGS) -DTEST_NO_MALLOPT -o \$@ \$< libsupport.a -lpthread
EOF
jobs=$(nproc 2>/dev/null || echo 2)
say "building the tests in $B"
make -C "$B" -j"$jobs" all >"$B/build.log" 2>&1 ||
    { tail -n 30 "$B/build.log" >&2; die "the build failed (log: $B/build.log)"; }
say "source and build ready after $(($(date +%s) - started)) s"

# ---- the runs --------------------------------------------------------------

L=$DIR/logs
rm -rf "$L"
mkdir -p "$L" || die "cannot create $L"
# One copy of the library for the whole run.
LIB=$L/libhakmem.so
cp "$lib" "$LIB" || die "cannot copy $lib"
LD_PRELOAD=$LIB grep -qF "$LIB" /proc/self/maps 2>"$L/preload-check.err" ||
    { cat "$L/preload-check.err" >&2; die "$lib cannot be preloaded"; }
say "library: $lib (copied to $LIB, cksum $(cksum <"$LIB" | cut -d' ' -f1))"

now() { date +%s.%N; }
# The driver's timeout for test $1 (its TIMEOUT, else the default), scaled.
driver_timeout() {
    n=$(sed -n 's/^#[[:space:]]*define[[:space:]]\{1,\}TIMEOUT[[:space:]]\{1,\}\([0-9]\{1,\}\).*/\1/p' "$S/malloc/$1.c" | head -n 1)
    echo $((${n:-$DEFAULT_TIMEOUT} * factor))
}

# Runs test $1 on allocator $2 (glibc or hakmem); sets res (PASS, FAIL(rc),
# UNSUPPORTED, TIMEOUT, CRASH(signal)) and secs; the output goes to
# $L/$1.$2.log. Each run has its own empty directory as cwd and TMPDIR.
run_test() {
    wd=$L/$1.$2.d
    log=$L/$1.$2.log
    mkdir -p "$wd"
    limit=$(($(driver_timeout "$1") + 30))
    t0=$(now)
    if [ "$2" = hakmem ]; then
        (cd "$wd" && TMPDIR=$wd LD_PRELOAD=$LIB exec timeout -k 10 "$limit" "$B/bin/$1") >"$log" 2>&1 </dev/null
    else
        (unset LD_PRELOAD && cd "$wd" && TMPDIR=$wd exec timeout -k 10 "$limit" "$B/bin/$1") >"$log" 2>&1 </dev/null
    fi
    rc=$?
    t1=$(now)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ "$2" = hakmem ] && grep -q 'cannot be preloaded' "$log"; then
        res=NOT-PRELOADED
        return
    fi
    case $rc in
    0) res=PASS ;;
    77) res=UNSUPPORTED ;;
    124) res=TIMEOUT ;;
    137) if awk -v s="$secs" -v l="$limit" 'BEGIN { exit !(s >= l) }'; then res=TIMEOUT; else res="CRASH(KILL)"; fi ;;
    *)
        if [ "$rc" -gt 128 ]; then
            res="CRASH($(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
        elif grep -q '^Timed out: ' "$log"; then
            res=TIMEOUT # the driver's own timeout
        elif grep -q "^Didn't expect signal from child: got" "$log"; then
            sig=$(sed -n "s/^Didn't expect signal from child: got \`\(.*\)'.*/\1/p" "$log" | head -n 1)
            res="CRASH($sig)"
        else
            res="FAIL($rc)"
        fi
        ;;
    esac
}

results=$L/results
: >"$results"
for t in $run; do
    run_test "$t" glibc
    g=$res gs=$secs
    run_test "$t" hakmem
    h=$res hs=$secs
    if [ "$g" != PASS ]; then
        verdict=skip
    elif [ "$h" = PASS ]; then
        verdict=ok
    else
        verdict=FAIL
    fi
    say "$t: glibc $g (${gs}s), hakmem $h (${hs}s): $verdict"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$g" "$gs" "$h" "$hs" "$verdict" >>"$results"
done

# ---- the report ------------------------------------------------------------

echo
printf '%-30s %-24s %-24s %s\n' test glibc hakmem verdict
passed=0 failed=0 skipped=0
tab=$(printf '\t')
while IFS=$tab read -r t g gs h hs verdict; do
    printf '%-30s %-24s %-24s %s\n' "$t" "$g ${gs}s" "$h ${hs}s" "$verdict"
    case $verdict in
    ok) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    *) skipped=$((skipped + 1)) ;;
    esac
done <"$results"
for t in $skip; do
    printf '%-30s %-24s %-24s %s\n' "$t" SKIP SKIP skip
    skipped=$((skipped + 1))
done

# The last lines of every run that did not pass (the driver's timing lines
# left out).
while IFS=$tab read -r t g gs h hs verdict; do
    for who in glibc hakmem; do
        if [ $who = glibc ]; then r=$g; else r=$h; fi
        [ "$r" = PASS ] && continue
        echo
        echo "--- $t on $who: $r (log: $L/$t.$who.log)"
        grep -v -e '^Termination time: ' -e '^Last write to standard output: ' "$L/$t.$who.log" |
            grep -v '^[[:space:]]*$' | tail -n 5 | sed 's/^/    /'
    done
done <"$results"

if [ -n "$skip" ]; then
    echo
    echo "Not run:"
    for t in $skip; do
        printf '  %-28s %s\n' "$t" "$(skip_reason "$t")"
    done
fi

echo
say "logs in $L; $(($(date +%s) - started)) s in all"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
