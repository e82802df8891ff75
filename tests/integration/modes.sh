#!/bin/sh
# modes.sh — part of the core suite under check mode and under secure mode
# (HAKMEM_CHECK=1, HAKMEM_SECURE=1; the stress test in both SuperSlab
# modes): every slab block takes check mode's own paths, and secure mode's
# encoded links pass through remote frees, thread exit and fork. The bugs
# the modes catch are in hardening.c; here nothing may be reported.
set -u
: "${builddir:?}" "${srcdir:?}" "${HAKMEM_LIBRARY:?}"
status=0
log=$(mktemp "${TMPDIR:-/tmp}/hakmem-modes.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT

run() { # settings (NAME=value,...), then the command
    set_=$1
    shift
    # shellcheck disable=SC2046 # the settings split at commas into words
    if sh "$srcdir/tests/watch.sh" 300 env $(echo "$set_" | tr , ' ') LD_PRELOAD="$HAKMEM_LIBRARY" "$@" >"$log" 2>&1 &&
        ! grep -q '^hakmem: ' "$log"; then
        echo "ok - [$set_] $*"
    else
        echo "not ok - [$set_] $*"
        tail -150 "$log"
        status=1
    fi
}

for m in HAKMEM_CHECK=1 HAKMEM_SECURE=1; do
    for ss in 1 0; do
        run "$m,HAKMEM_TINY_USE_SUPERSLAB=$ss" "$builddir/tests/stress/stress" --quick
    done
    run "$m" "$builddir/tests/integration/contract"
done
# Thread exit and fork flush the thread caches, whose links secure mode
# encodes (check mode keeps none).
run HAKMEM_SECURE=1 "$builddir/tests/integration/threads_fork"
# Fork from many threads and from signal handlers: the child gives up
# other threads' encoded lists and check mode's slabs alike.
for m in HAKMEM_CHECK=1 HAKMEM_SECURE=1; do
    run "$m" "$builddir/tests/integration/fork_storm"
done
exit $status
