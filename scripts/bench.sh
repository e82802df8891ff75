#!/bin/sh
# bench.sh — sets everything up and runs hakmem side by side with glibc,
# mimalloc, jemalloc and tcmalloc — larson and the small-object churn
# (bench/compare.sh), then the allocation scenarios (bench/scenarios.sh) —
# interleaved, several runs, medians. Extra arguments go to both runners.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/setup.sh
dir=$(sh scripts/build.sh release)
bash bench/compare.sh --builddir "$dir" "$@"
exec bash bench/scenarios.sh --builddir "$dir" "$@"
