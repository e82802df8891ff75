#!/bin/bash
# matrix.sh — `hakmem matrix` end to end on a tiny matrix (one workload, two
# profiles and glibc, one run): the table, matrix.csv, matrix.json and
# matrix.svg; a profile added to the configuration file joins the matrix and
# the usage modes stay out; bad arguments are refused.
set -u
: "${srcdir:?set by the test harness}" "${HAK_BIN:?set by the test harness}"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. One workload, two profiles, one peer, one run.
if ! "$HAK_BIN" matrix --profiles baseline,no-bigcache --workloads vm --peers glibc --runs 1 --iterations 3 \
    --out "$tmp/m1" >"$tmp/out" 2>"$tmp/err"; then
    bad "matrix exited with status $?: $(tail -5 "$tmp/err")"
fi
cat "$tmp/out"
grep -q '^vm — op: one iteration' "$tmp/out" || bad "no vm table"
for c in baseline no-bigcache glibc; do
    grep -Eq "^$c +[0-9.]+ (ns|us|ms) " "$tmp/out" || bad "no row with a time for $c"
done
grep -Eq '^baseline .*\(ref\) +1/1$' "$tmp/out" || bad "baseline is not the reference"
grep -Eq '^no-bigcache .* [+-][0-9.]+% \? +1/1$' "$tmp/out" || bad "one run must mark its delta '?'"
grep -q '^  no-bigcache (bigcache.enabled = false): no difference beyond the spread. Too few runs to judge: vm.$' \
    "$tmp/out" || bad "attribution line"
for f in matrix.txt matrix.csv matrix.json; do
    [ -s "$tmp/m1/$f" ] || bad "$f missing"
done
cmp -s "$tmp/out" "$tmp/m1/matrix.txt" || bad "matrix.txt differs from the table printed"
[ "$(head -n 1 "$tmp/m1/matrix.csv" | cut -d, -f1-6)" = "workload,configuration,kind,runs,ok_runs,median_ns" ] ||
    bad "csv header: $(head -n 1 "$tmp/m1/matrix.csv")"
[ "$(cut -d, -f1-5 "$tmp/m1/matrix.csv" | tail -n +2)" = "vm,baseline,hakmem,1,1
vm,no-bigcache,hakmem,1,1
vm,glibc,peer,1,1" ] || bad "csv rows: $(cat "$tmp/m1/matrix.csv")"
# hakmem's system calls come from its counters, unless they are compiled out.
HAKMEM_STATS_FILE=$tmp/stats.json "$HAK_BIN" run -- true
counters=1
grep -q '"counters": false' "$tmp/stats.json" && counters=0
python3 - "$tmp/m1/matrix.json" "$counters" <<'EOF' || bad "matrix.json"
import json, sys
m = json.load(open(sys.argv[1]))
assert [c["name"] for c in m["configurations"]] == ["baseline", "no-bigcache", "glibc"], m["configurations"]
assert [w["name"] for w in m["workloads"]] == ["vm"]
r = {x["configuration"]: x for x in m["results"]}
assert all(x["ok_runs"] == 1 and x["median_ns"] > 0 and len(x["runs"]) == 1 for x in r.values()), r
assert r["baseline"]["delta"] is None and r["no-bigcache"]["delta_vs_spread"] == "unknown"
assert (r["baseline"]["mmap_per_op"] is not None) == (sys.argv[2] == "1"), r["baseline"]
EOF
if command -v gnuplot >/dev/null; then
    grep -q '<svg' "$tmp/m1/matrix.svg" 2>/dev/null || bad "matrix.svg missing or not SVG"
else
    no_gnuplot=1
fi

# 2. A profile added to the file is in the default matrix; the usage modes are not.
cp "$srcdir/conf/hakmem.ini" "$tmp/hakmem.ini"
printf '\n[profile smoke-small-cache]\ntiny.cache_max = 16\n' >>"$tmp/hakmem.ini"
HAKMEM_CONFIG=$tmp/hakmem.ini "$HAK_BIN" matrix --workloads tiny --peers none --runs 1 --iterations 2 \
    --out "$tmp/m2" >"$tmp/out2" 2>"$tmp/err2" || bad "matrix with an added profile: $(tail -5 "$tmp/err2")"
got=$(tail -n +2 "$tmp/m2/matrix.csv" | cut -d, -f2 | tr '\n' ' ')
want=$(sed -n 's/^\[profile \(.*\)\]$/\1/p' "$tmp/hakmem.ini" |
    grep -vx -e balanced -e fast -e learning -e research | tr '\n' ' ')
[ "$got" = "$want" ] || bad "default profiles: got '$got', want '$want'"
for p in baseline no-bigcache no-elo frozen no-batch-madvise no-superslab minimal smoke-small-cache; do
    case " $got " in *" $p "*) ;; *) bad "default matrix lacks $p" ;; esac
done
case "$got" in baseline\ *) ;; *) bad "baseline is not first: $got" ;; esac
grep -q '^  smoke-small-cache (tiny.cache_max = 16):' "$tmp/out2" || bad "attribution of the added profile"

# 3. Bad arguments.
for args in "--workloads nosuch" "--profiles nosuch" "--peers nosuch" "--runs 0" "--frob x"; do
    # shellcheck disable=SC2086 # the words are separate arguments
    "$HAK_BIN" matrix $args --out "$tmp/bad" >/dev/null 2>"$tmp/e"
    [ $? = 2 ] || bad "matrix $args: exit status not 2"
done
[ ! -e "$tmp/bad" ] || bad "a refused matrix created its output directory"

[ $fail = 0 ] && [ -n "${no_gnuplot:-}" ] && { echo "SKIP: gnuplot not installed, matrix.svg not checked"; exit 77; }
exit $fail
