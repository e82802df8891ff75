#!/bin/sh
# learning.sh — the API stress test with learning windows of a few dozen
# allocations: windows close, the threshold changes and the lifecycle moves
# while its threads allocate and free across every tier.
set -eu
: "${builddir:?}"
stats=$(mktemp)
trap 'rm -f "$stats"' EXIT
HAKMEM_ELO_WINDOW=20 HAKMEM_ELO_MIN_SAMPLES=10 HAKMEM_ELO_EPSILON=50 \
HAKMEM_EVO_STABLE_WINDOWS=1 HAKMEM_EVO_FREEZE_TIME=100ms HAKMEM_EVO_CANARY=50 HAKMEM_STATS_FILE="$stats" \
    "$builddir/tests/stress/stress_api" --quick
windows=$(sed -n 's/.*"elo": {[^}]*"windows": \([0-9]*\).*/\1/p' "$stats")
transitions=$(sed -n 's/.*"evo": {[^}]*"transitions": \([0-9]*\).*/\1/p' "$stats")
echo "learning.sh: $windows windows, $transitions lifecycle transitions"
[ "${windows:-0}" -ge 10 ] || { echo "learning.sh: too few windows closed" >&2; exit 1; }
[ "${transitions:-0}" -ge 1 ] || { echo "learning.sh: the lifecycle never moved" >&2; exit 1; }
