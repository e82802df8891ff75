#!/bin/sh
# watch-self.sh — tests/watch.sh itself: a command's status passes through, a hung process tree (a parent with a thread and a child that wait for ever) is reported thread by thread and killed at the limit, and --report reports a tree without killing it.
set -u
: "${srcdir:?}"
status=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-watch.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

sh "$srcdir/tests/watch.sh" 10 sh -c 'exit 3'
rc=$?
if [ $rc -eq 3 ]; then echo "ok - the command's status passes through"; else echo "not ok - status $rc, not 3"; status=1; fi

# --report alone: the tree is reported and left running.
sh -c 'sleep 302 & sleep 303; wait' &
tree=$!
sleep 1
sh "$srcdir/tests/watch.sh" --report "$tree" 2>"$tmp/report"
if grep -q 'process .*sleep 302' "$tmp/report" && grep -q 'process .*sleep 303' "$tmp/report" &&
    kill -0 "$tree" 2>/dev/null; then
    echo "ok - --report reports a process tree and leaves it running"
else
    echo "not ok - --report; report:"
    cat "$tmp/report"
    status=1
fi
pkill -P "$tree" sleep
wait "$tree" 2>/dev/null

# A shell whose child sleeps: the tree below the command is reported too.
start=$(date +%s)
sh "$srcdir/tests/watch.sh" 2 sh -c 'sleep 300 & sleep 301; wait' 2>"$tmp/err"
rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -ne 0 ] && [ $took -lt 60 ] && grep -q 'still running after 2 s' "$tmp/err" &&
    grep -q 'process .*sleep 300' "$tmp/err" && grep -q 'process .*sleep 301' "$tmp/err" &&
    grep -q '^  thread .* state S' "$tmp/err"; then
    echo "ok - a hang is reported and killed at its limit (status $rc, $took s)"
else
    echo "not ok - hang: status $rc, $took s; report:"
    cat "$tmp/err"
    status=1
fi
# The reported processes, by pid (not by name: another run of this test may
# be under way on the machine), gone or zombies within 5 s of the kill.
hung=$(sed -n 's/^watch.sh: process \([0-9]*\): sleep 30[01] *$/\1/p' "$tmp/err")
[ "$(echo "$hung" | wc -w)" -eq 2 ] || { echo "not ok - the report names 2 sleeps: '$hung'"; status=1; }
left=x
for i in 1 2 3 4 5 6 7 8 9 10; do
    left=
    for p in $hung; do
        st=$(sed 's/.*) \(.\).*/\1/' "/proc/$p/stat" 2>/dev/null)
        [ -n "$st" ] && [ "$st" != Z ] && left="$left $p"
    done
    [ -z "$left" ] && break
    sleep 0.5
done
if [ -n "$left" ]; then
    echo "not ok - the hung processes outlived the limit:$left"
    status=1
else
    echo "ok - nothing of the hung tree is left"
fi
exit $status
