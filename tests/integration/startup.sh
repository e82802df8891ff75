#!/bin/sh
# startup.sh — start-up edges under the preloaded hakmem: a program that never calls malloc (true), a shell (bash -c with subshells, pipes and command substitution) and an interpreter (python3 -c, with pymalloc and with PYTHONMALLOC=malloc) start, work and exit 0 with the output they give without hakmem, and hakmem was loaded in each.
#
# Needs HAKMEM_LIBRARY, the path of libhakmem.so.
set -u

. "$(dirname "$0")/../preload.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-startup.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# Hang detection only: each command takes well under a second.
TIMEOUT=60

# compare NAME command...: the command with and without hakmem; same exit
# status (0), same stdout, no hakmem message, and hakmem's initialiser ran
# in it (the dynamic loader's own trace says so, even for a program that
# never allocates).
compare() {
    name=$1
    shift
    env -u LD_PRELOAD timeout "$TIMEOUT" "$@" >"$tmp/want" 2>"$tmp/want.err"
    rc_want=$?
    LD_PRELOAD="$lib" LD_DEBUG=libs LD_DEBUG_OUTPUT="$tmp/ld" timeout "$TIMEOUT" "$@" >"$tmp/got" 2>"$tmp/err"
    rc=$?
    if [ $rc_want -ne 0 ]; then
        fail "$name: exit status $rc_want without hakmem: $(head -c 300 "$tmp/want.err")"
    elif [ $rc -ne 0 ]; then
        fail "$name: exit status $rc under hakmem: $(head -c 300 "$tmp/err")"
    elif ! cmp -s "$tmp/want" "$tmp/got"; then
        fail "$name: output differs under hakmem: $(diff "$tmp/want" "$tmp/got" | head -c 300)"
    elif grep -q '^hakmem: ' "$tmp/err"; then
        fail "$name: hakmem reported: $(grep '^hakmem: ' "$tmp/err" | head -3)"
    elif ! cat "$tmp"/ld.* 2>/dev/null | grep -q "calling init: .*libhakmem"; then
        fail "$name: libhakmem's initialiser did not run (was it preloaded?)"
    else
        pass "$name"
    fi
    rm -f "$tmp"/ld.*
}

compare "true" true

if command -v bash >/dev/null; then
    compare "bash -c" bash -c '
        x=$(for i in $(seq 1 200); do echo "line $i"; done | sort -r | head -3)
        y=$( (echo sub; echo shell) | tr a-z A-Z)
        declare -A m; for i in $(seq 1 500); do m[k$i]=$((i * i)); done
        echo "$x" "$y" "${m[k250]}" "${#m[@]}"'
else
    fail "bash: not found"
fi

# The interpreter itself, not a shim script in front of it.
if py=$(env -u LD_PRELOAD python3 -c 'import sys; print(sys.executable)' 2>/dev/null); then
    code='import json, re, collections
d = {str(i): [i] * (i % 50) for i in range(20000)}
s = json.dumps(d)
print(len(s), len(re.findall(r"\d+", s)), collections.Counter(len(v) for v in d.values()).most_common(2))'
    compare "python3 -c (pymalloc)" "$py" -c "$code"
    compare "python3 -c (PYTHONMALLOC=malloc)" env PYTHONMALLOC=malloc "$py" -c "$code"
else
    fail "python3: not found"
fi

exit $status
