#!/bin/sh
# heavy.sh — the long hard-condition tests, run once under the baseline profile (scripts/test.sh) rather than under every profile: fork against stdio and malloc locks for 20 rounds of 5 s (fork_deadlock, with its own watchdog) and 12,000 short-lived threads (thread_exit).
#
# Needs builddir and HAKMEM_LIBRARY (set by the make check harness).
set -u
: "${builddir:?}" "${HAKMEM_LIBRARY:?}"
status=0
log=$(mktemp "${TMPDIR:-/tmp}/hakmem-heavy.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT

# run NAME [args]: exit 0 and no hakmem message is a pass. The timeout is
# a last resort: fork_deadlock reports its own hangs as failures.
run() {
    t=$1
    shift
    start=$(date +%s)
    HAKMEM_PROFILE=baseline LD_PRELOAD="$HAKMEM_LIBRARY" timeout 900 "$builddir/tests/integration/$t" "$@" >"$log" 2>&1
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

run thread_exit
exit $status
