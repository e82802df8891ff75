#!/bin/sh
# heavy.sh — the long hard-condition tests, run once under the baseline profile (scripts/test.sh) rather than under every profile: fork against stdio and malloc locks for 20 rounds of 5 s (fork_deadlock, with its own watchdog), fork storms and signal-handler forks at length (fork_storm), 500 exits racing the purger (exit_race), and 12,000 short-lived threads (thread_exit).
#
# Needs builddir, srcdir and HAKMEM_LIBRARY (set by the make check harness).
set -u
: "${builddir:?}" "${srcdir:?}" "${HAKMEM_LIBRARY:?}"
status=0
log=$(mktemp "${TMPDIR:-/tmp}/hakmem-heavy.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT

# run NAME [args]: exit 0 and no hakmem message is a pass. The time limit
# is a last resort (fork_deadlock reports its own hangs as failures); when
# it ends a run, watch.sh shows where each thread waited.
run() {
    t=$1
    shift
    start=$(date +%s)
    sh "$srcdir/tests/watch.sh" 900 env HAKMEM_PROFILE=baseline LD_PRELOAD="$HAKMEM_LIBRARY" \
        "$builddir/tests/integration/$t" "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    if [ $rc -eq 0 ] && ! grep -q '^hakmem: ' "$log"; then
        echo "ok - $t $* ($(( $(date +%s) - start )) s)"
        return 0
    fi
    echo "not ok - $t $* (exit $rc)"
    status=1
    return 1
}

run fork_deadlock 20 5

# Issue 10's targets: 200 rounds of 16 threads forking at once, thousands of
# forks from a signal handler (single-threaded first: see fork_storm.c), and
# 500 runs of exit racing exiting threads and the purger.
run fork_storm signal 3000
run fork_storm storm 200 signal-mt 3000
run exit_race 500

run thread_exit
exit $status
