#!/bin/sh
# watch.sh — timeout(1) that shows where a hung command waits: when the limit passes first, every thread of the command's processes is listed with its kernel wait and, if gdb is installed, its backtrace, before they are killed; a hang seen once in hundreds of runs is then diagnosed from that run's log.
#
#   watch.sh SECONDS command [args]
# Exits with the command's status: 137 (SIGKILL) if the limit ended it. The
# report goes to stderr. Its own tools run without LD_PRELOAD: put the
# preload in the command (env LD_PRELOAD=... program), not in front of this.
#   watch.sh --report PID
# Only the report, on process PID and the tree below it (tests/hang.h: a
# test that finds its child hung runs this before it kills the child).
set -u

descendants() { # pid: its children, their children, ...
    for c in $(pgrep -P "$1"); do
        echo "$c"
        descendants "$c"
    done
}

# What each thread of process $1 is doing: name, state, kernel wait, system
# call number; then gdb's backtraces (the first processes only: a hung
# parent may have hundreds of hung children).
show() {
    [ -r "/proc/$1/stat" ] || return 0
    echo "watch.sh: process $1: $(tr '\0' ' ' <"/proc/$1/cmdline" | cut -c1-200)"
    for t in /proc/"$1"/task/*; do
        echo "  thread ${t##*/} $(cat "$t/comm" 2>/dev/null)" \
            "state $(sed 's/.*) \(.\).*/\1/' "$t/stat" 2>/dev/null)" \
            "wchan $(cat "$t/wchan" 2>/dev/null)" \
            "syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
    done
    if [ "$2" -le 8 ] && command -v gdb >/dev/null 2>&1; then
        env -u LD_PRELOAD timeout 60 gdb -nx -batch -p "$1" -ex "thread apply all bt" 2>/dev/null |
            grep -E '^(Thread|#)'
    fi
}

# Reports process $1 and its descendants.
report() {
    n=0
    for p in $1 $(descendants "$1"); do
        n=$((n + 1))
        show "$p" "$n"
    done
}

if [ "$1" = --report ]; then
    report "$2" >&2
    exit 0
fi

limit=$1
shift
"$@" &
pid=$!
(
    i=0
    while [ "$i" -lt "$limit" ]; do
        sleep 1
        kill -0 "$pid" 2>/dev/null || exit 0
        i=$((i + 1))
    done
    trap '' TERM # the command's end must not cut its tree's killing short
    all="$pid $(descendants "$pid")"
    echo "watch.sh: still running after $limit s, killed: $*"
    report "$pid"
    # shellcheck disable=SC2086 # the pids split into words
    kill -9 $all 2>/dev/null
) >&2 &
watchdog=$!
wait "$pid"
status=$?
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
exit $status
