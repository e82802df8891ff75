#!/bin/sh
# bench.sh — sets everything up, builds, and runs the main job: the
# feature-isolation matrix (`hakmem matrix`) of every profile in
# conf/hakmem.ini and every installed peer allocator over the benchmark
# workloads. Without arguments it runs `--quick` (a few minutes); any
# arguments replace that and go to `hakmem matrix` (e.g. --runs 5 for the
# full matrix). Results go to build/results/matrix-DATE/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/setup.sh
dir=$(sh scripts/build.sh release)
out=$top/build/results/matrix-$(date -u +%Y%m%d-%H%M%S)
[ $# -gt 0 ] || set -- --quick
echo "bench.sh: hakmem matrix $* --out $out" >&2
exec "$dir/hakmem" matrix --config "$top/conf/hakmem.ini" --out "$out" "$@"
