#!/bin/sh
# bench.sh — sets everything up and runs hakmem side by side with glibc,
# mimalloc, jemalloc and tcmalloc (larson and the small-object churn),
# interleaved, several runs, medians. Extra arguments go to bench/compare.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/setup.sh
dir=$(sh scripts/build.sh release)
exec bash bench/compare.sh --builddir "$dir" "$@"
