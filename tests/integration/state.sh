#!/bin/sh
# state.sh — the policy state file end to end under the preloaded hakmem: a learning run writes it; a frozen run with it runs the leader's threshold and learns nothing; a corrupt file warns once and counts as absent; eight learning runs exiting together leave a valid file.
#
# Needs HAKMEM_LIBRARY and builddir (for tests/stress/stress).
set -u

. "$(dirname "$0")/../preload.sh"
: "${builddir:?}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-state.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
TIMEOUT=300
state=$tmp/policy.state
prog="$builddir/tests/stress/stress --quick"

# run NAME POLICY [VAR=VALUE...]: the stress program on hakmem with the
# state file, small windows, stats to $tmp/NAME.json, stderr to $tmp/NAME.err.
run() {
    name=$1 policy=$2
    shift 2
    timeout "$TIMEOUT" env LD_PRELOAD="$lib" HAKMEM_ELO_ENABLED=1 HAKMEM_POLICY_STATE="$state" \
        HAKMEM_EVO_POLICY="$policy" HAKMEM_ELO_WINDOW=20 HAKMEM_ELO_MIN_SAMPLES=10 HAKMEM_ELO_EPSILON=50 \
        HAKMEM_STATS_FILE="$tmp/$name.json" "$@" $prog >/dev/null 2>"$tmp/$name.err"
}

# elo NAME KEY: a number or boolean of the "elo" object in $tmp/NAME.json.
elo() { sed -n 's/.*"elo": {[^[]*"'"$2"'": \([0-9a-z]*\).*/\1/p' "$tmp/$1.json"; }

warnings() { grep -c '^hakmem: policy: state file' "$tmp/$1.err"; }

# A learning run writes the file.
if ! run learn learn; then
    fail "learning run failed: $(head -c 300 "$tmp/learn.err")"
elif [ ! -f "$state" ]; then
    fail "learning run wrote no state file"
else
    pass "learning run wrote the state file ($(elo learn windows) windows, $(elo learn state_writes) writes)"
fi
head -1 "$state" | grep -qx 'hakmem-policy-state 1' || fail "state file header: $(head -1 "$state")"
tail -1 "$state" | grep -qx 'checksum [0-9a-f]\{16\}' || fail "state file last line: $(tail -1 "$state")"
leader=$(sed -n 's/^leader_threshold //p' "$state")
cp "$state" "$tmp/saved"

# Frozen with the file: the leader's threshold, not large.mmap_threshold
# (600K, which no strategy has), and no window at all; the file untouched.
run frozen frozen HAKMEM_LARGE_MMAP_THRESHOLD=600K || fail "frozen run failed: $(head -c 300 "$tmp/frozen.err")"
if [ "$(elo frozen threshold)" = "$leader" ] && [ "$(elo frozen windows)" = 0 ] &&
    [ "$(elo frozen state_loaded)" = true ] && [ "$(elo frozen state_writes)" = 0 ]; then
    pass "frozen run ran the loaded leader's threshold $leader and closed no window"
else
    fail "frozen run: threshold $(elo frozen threshold) (leader's: $leader), windows $(elo frozen windows), loaded $(elo frozen state_loaded), writes $(elo frozen state_writes)"
fi
cmp -s "$state" "$tmp/saved" || fail "a frozen run rewrote the state file"
[ "$(warnings frozen)" = 0 ] || fail "frozen run warned: $(cat "$tmp/frozen.err")"

# A corrupt file (one digit changed): one warning, frozen on 600K.
sed 's/^windows \([0-9]\)/windows 9\1/' "$tmp/saved" >"$state"
run corrupt frozen HAKMEM_LARGE_MMAP_THRESHOLD=600K || fail "run on a corrupt file failed"
if [ "$(warnings corrupt)" = 1 ] && grep -q "state file $state ignored: checksum mismatch" "$tmp/corrupt.err" &&
    [ "$(elo corrupt threshold)" = 614400 ] && [ "$(elo corrupt state_loaded)" = false ] &&
    grep -q '"state_error": "load: checksum mismatch' "$tmp/corrupt.json"; then
    pass "a corrupt state file warns once and is ignored"
else
    fail "corrupt state file: $(cat "$tmp/corrupt.err"), threshold $(elo corrupt threshold)"
fi

# Eight learning runs writing the file as they exit together; then the
# file loads without a word.
for i in 1 2 3 4 5 6 7 8; do
    run "many$i" learn &
done
wait
run after frozen || fail "run after the concurrent writers failed"
if [ "$(elo after state_loaded)" = true ] && [ "$(warnings after)" = 0 ]; then
    pass "eight processes writing at once left a valid state file"
else
    fail "after eight writers: loaded $(elo after state_loaded): $(cat "$tmp/after.err")"
fi
ls "$tmp" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$tmp")"

exit $status
