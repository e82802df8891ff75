#!/bin/bash
# matrix.sh — `hakmem matrix` end to end on tiny matrices: one workload, two
# profiles and glibc, one round (the table, the activity and attribution,
# matrix.csv, matrix.json with the runs' seeds, the kept statistics files,
# matrix.svg); a profile and a [workload] added to the configuration file
# join the matrix, the usage modes stay out and a bad value in the file is
# shown once; command workloads with --check-output (a command that prints
# differently per allocator fails); --runs auto; the training pass behind
# frozen; --replay and --compare; bad arguments are refused.
set -u
: "${srcdir:?set by the test harness}" "${HAK_BIN:?set by the test harness}"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# hakmem's activity and system calls come from its counters, unless they
# are compiled out (then only the policy's figures are known).
HAKMEM_STATS_FILE=$tmp/stats.json "$HAK_BIN" run -- ls / >/dev/null # ls allocates (true starts nothing)
counters=1
[ -s "$tmp/stats.json" ] || bad "no statistics file from ls"
grep -q '"counters": false' "$tmp/stats.json" && counters=0

# 1. One workload, two profiles, one peer, one run.
if ! "$HAK_BIN" matrix --profiles baseline,no-bigcache --workloads vm --peers glibc --runs 1 --iterations 3 \
    --seed 18446744073709551615 --out "$tmp/m1" >"$tmp/out" 2>"$tmp/err"; then
    bad "matrix exited with status $?: $(tail -5 "$tmp/err")"
fi
cat "$tmp/out"
grep -q '^vm — op: one iteration' "$tmp/out" || bad "no vm table"
for c in baseline no-bigcache glibc; do
    grep -Eq "^$c +[0-9.]+ (ns|us|ms) " "$tmp/out" || bad "no row with a time for $c"
done
grep -Eq '^baseline .*\(ref\) +1/1$' "$tmp/out" || bad "baseline is not the reference"
grep -Eq '^no-bigcache .* n/a +too few runs +1/1$' "$tmp/out" || bad "one round must give no interval"
if [ $counters = 1 ]; then
    grep -q '^  activity of baseline: BigCache [0-9]* lookups' "$tmp/out" || bad "no activity line for baseline"
else
    grep -q '^  activity of baseline: BigCache n/a lookups, .*; ELO [0-9]* windows' "$tmp/out" ||
        bad "no activity line (policy figures only) for baseline"
fi
grep -q 'seed 18446744073709551615 ' "$tmp/out" || bad "the seed is not in the header"
# The header names only the programs that ran: vm is a scenario, no larson.
head -n 1 "$tmp/out" | grep -q '| bench_allocators --iterations 3 ' || bad "header without bench_allocators' arguments"
head -n 1 "$tmp/out" | grep -q 'larson' && bad "header names larson, which did not run"
# One round gives no verdict: vm is either "too few runs", or, when no vm
# block reached BigCache in baseline's run (under the learned threshold),
# "not exercised" with the activity line to match.
if grep -q '^    not exercised: vm (0 BigCache lookups)$' "$tmp/out"; then
    grep -q '^  activity of baseline: BigCache 0 lookups' "$tmp/out" || bad "not exercised, but lookups in the activity"
else
    grep -q '^    too few runs: vm$' "$tmp/out" || bad "attribution of no-bigcache on vm"
fi
grep -q '^Gap decomposition' "$tmp/out" || bad "no gap decomposition"
[ -s "$tmp/m1/runs/vm.baseline.1.json" ] && [ -s "$tmp/m1/runs/vm.no-bigcache.1.json" ] ||
    bad "the runs' statistics files are not kept"
for f in matrix.txt matrix.csv matrix.json; do
    [ -s "$tmp/m1/$f" ] || bad "$f missing"
done
cmp -s "$tmp/out" "$tmp/m1/matrix.txt" || bad "matrix.txt differs from the table printed"
[ "$(head -n 1 "$tmp/m1/matrix.csv" | cut -d, -f1-6)" = "workload,configuration,kind,runs,ok_runs,median_ns" ] ||
    bad "csv header: $(head -n 1 "$tmp/m1/matrix.csv")"
[ "$(cut -d, -f1-5 "$tmp/m1/matrix.csv" | tail -n +2)" = "vm,baseline,hakmem,1,1
vm,no-bigcache,hakmem,1,1
vm,glibc,peer,1,1" ] || bad "csv rows: $(cat "$tmp/m1/matrix.csv")"
python3 - "$tmp/m1/matrix.json" "$counters" <<'EOF' || bad "matrix.json"
import json, sys
m = json.load(open(sys.argv[1]))
assert [c["name"] for c in m["configurations"]] == ["baseline", "no-bigcache", "glibc"], m["configurations"]
assert [w["name"] for w in m["workloads"]] == ["vm"]
r = {x["configuration"]: x for x in m["results"]}
assert all(x["ok_runs"] == 1 and x["median_ns"] > 0 and len(x["runs"]) == 1 for x in r.values()), r
assert m["seed"] == 18446744073709551615
assert r["baseline"]["verdict"] is None and r["no-bigcache"]["verdict"] == "too few runs"
assert r["baseline"]["runs"][0]["seed"] > 0 and "seed" not in r["glibc"]["runs"][0]
if sys.argv[2] == "1":
    assert r["baseline"]["activity"]["huge.alloc"] == 0 and r["baseline"]["runs"][0]["activity"]["large.alloc"] > 0
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
printf '\n[workload echo]\ncommand = echo hello\n' >>"$tmp/hakmem.ini"
# A bad value every run warns about is shown once, not once per run.
printf '\n[bigcache]\nslots = banana\n' >>"$tmp/hakmem.ini"
HAKMEM_CONFIG=$tmp/hakmem.ini "$HAK_BIN" matrix --workloads tiny --peers none --runs 1 --iterations 2 \
    --out "$tmp/m2" >"$tmp/out2" 2>"$tmp/err2" || bad "matrix with an added profile: $(tail -5 "$tmp/err2")"
grep -q 'warning' "$tmp/err2" && bad "hakmem warned about the [workload] section: $(grep warning "$tmp/err2")"
[ "$(grep -c "^hakmem matrix: a run under .* said: hakmem: config: .*bigcache.slots: 'banana'" "$tmp/err2")" = 1 ] ||
    bad "the bad value must be shown once: $(grep -c banana "$tmp/err2") lines"
got=$(tail -n +2 "$tmp/m2/matrix.csv" | cut -d, -f2 | tr '\n' ' ')
want=$(sed -n 's/^\[profile \(.*\)\]$/\1/p' "$tmp/hakmem.ini" |
    grep -vx -e balanced -e fast -e learning -e research | tr '\n' ' ')
[ "$got" = "$want" ] || bad "default profiles: got '$got', want '$want'"
for p in baseline no-bigcache no-elo frozen no-batch-madvise no-superslab minimal smoke-small-cache; do
    case " $got " in *" $p "*) ;; *) bad "default matrix lacks $p" ;; esac
done
case "$got" in baseline\ *) ;; *) bad "baseline is not first: $got" ;; esac
grep -q '^  smoke-small-cache (tiny.cache_max = 16):' "$tmp/out2" || bad "attribution of the added profile"

# 3. Command workloads: the [workload] section of the file and --command; one
# op is one run. --check-output: a command printing what differs per
# allocator fails (and the matrix exits 1); one that prints the same passes.
HAKMEM_CONFIG=$tmp/hakmem.ini "$HAK_BIN" matrix --workloads echo --command same='echo same' \
    --command preload='echo "$LD_PRELOAD"' --workloads echo,same,preload --profiles baseline --peers glibc \
    --runs 2 --check-output --out "$tmp/m3" >"$tmp/out3" 2>"$tmp/err3"
[ $? = 1 ] || bad "a command whose output differs must fail the matrix"
grep -q '^echo — op: one run of the command: echo hello$' "$tmp/out3" || bad "no table for the [workload] section"
head -n 1 "$tmp/out3" | grep -Eq 'bench_allocators|larson' && bad "a matrix of commands names bench_allocators or larson"
grep -q '^same — op: one run of the command: echo same$' "$tmp/out3" || bad "no table for --command"
grep -Eq '^glibc .* 2/2$' <(sed -n '/^same —/,/^$/p' "$tmp/out3") || bad "same output: runs must stand"
grep -Eq '^glibc .* 0/2$' <(sed -n '/^preload —/,/^$/p' "$tmp/out3") || bad "other output: runs must fail"
grep -q 'printed other output than' "$tmp/err3" || bad "no message on a differing output"
python3 - "$tmp/m3/matrix.json" <<'EOF2' || bad "command workloads in matrix.json"
import json, sys
m = json.load(open(sys.argv[1]))
w = {x["name"]: x for x in m["workloads"]}
assert w["same"]["kind"] == "command" and w["same"]["command"] == "echo same", w
r = [x for x in m["results"] if x["workload"] == "same" and x["configuration"] == "baseline"][0]
assert r["ok_runs"] == 2 and r["median_ns"] > 0 and r["cpu_ns"] is not None, r
EOF2

# 4. --runs auto: ten rounds, then more until the intervals are within the
# width, or the cap (named when not reached).
"$HAK_BIN" matrix --workloads tiny --profiles baseline,no-bigcache --peers none --iterations 2 --runs auto \
    --max-runs 12 --width 0.01 --aa --out "$tmp/m4" >"$tmp/out4" 2>"$tmp/err4" || bad "--runs auto: $(tail -3 "$tmp/err4")"
grep -Eq '^A/A check: baseline-aa, baseline under a second name, came out faster or slower on [01] of 1 workloads' \
    "$tmp/out4" || bad "--aa: no A/A check line"
grep -Eq '^baseline-aa .* (same|inconclusive\*?|faster|slower) +1[0-2]/1[0-2]$' "$tmp/out4" || bad "--aa: no sentinel row"
rounds=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["workloads"][0]["rounds"])' "$tmp/m4/matrix.json")
case $rounds in 10|11|12) ;; *) bad "--runs auto ran $rounds rounds (10 to 12 expected)" ;; esac
if [ "$rounds" = 12 ]; then
    grep -q '^--runs auto: intervals wider than the target after the cap on tiny' "$tmp/out4" ||
        grep -Eq '^no-bigcache .* 12/12$' "$tmp/out4" || bad "--runs auto at the cap"
fi

# 5. The training pass: frozen runs on the state the learning runs wrote.
"$HAK_BIN" matrix --profiles baseline,frozen --workloads mixed --peers none --runs 1 --iterations 20 \
    --train-runs 2 --out "$tmp/m7" >"$tmp/out7" 2>"$tmp/err7" || bad "training: $(tail -3 "$tmp/err7")"
grep -q '^  frozen profiles: state from 2 training runs under learning: [1-9][0-9]* windows' "$tmp/out7" ||
    bad "training: $(grep 'frozen profiles' "$tmp/out7")"
[ -s "$tmp/m7/state/mixed.state" ] && [ -s "$tmp/m7/runs/mixed.training.2.json" ] || bad "training: no state kept"
if [ $counters = 1 ]; then
    python3 - "$tmp/m7/runs/mixed.frozen.1.json" "$tmp/m7/runs/mixed.baseline.1.json" <<'EOF2' || bad "training: frozen did not load the state"
import json, sys
f, b = (json.load(open(p))["elo"] for p in sys.argv[1:])
assert f["state_loaded"] is True and f["windows"] == 0 and f["state_file"].endswith("/state/mixed.state"), f
assert b["state_file"] == "" and b["state_loaded"] is False, b
EOF2
fi

# 6. --replay: the same arguments and seed (so the same order and policy
# seeds); --compare of the two: every cell, exit status 0 or 3 (slower).
"$HAK_BIN" matrix --replay "$tmp/m1/matrix.json" --out "$tmp/m5" >"$tmp/out5" 2>"$tmp/err5" ||
    bad "--replay: $(tail -3 "$tmp/err5")"
python3 - "$tmp/m1/matrix.json" "$tmp/m5/matrix.json" <<'EOF2' || bad "--replay ran another matrix"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["seed"] == b["seed"] and a["args"] == b["args"], (a["args"], b["args"])
assert [c["name"] for c in a["configurations"]] == [c["name"] for c in b["configurations"]]
seeds = lambda m: [[r.get("seed") for r in x["runs"]] for x in m["results"]]
assert seeds(a) == seeds(b), (seeds(a), seeds(b))
EOF2
"$HAK_BIN" matrix --compare "$tmp/m4/matrix.json" "$tmp/m4/matrix.json" >"$tmp/out6" 2>&1
[ $? = 0 ] || bad "--compare of a matrix with itself: exit status not 0"
grep -Eq '^tiny +no-bigcache .* \+0\.0% \[.* 1\.0000  (same|inconclusive)$' "$tmp/out6" ||
    bad "--compare of a matrix with itself: $(cat "$tmp/out6")"
"$HAK_BIN" matrix --compare "$tmp/m4/matrix.json" "$tmp/nosuch.json" >/dev/null 2>&1
[ $? = 1 ] || bad "--compare of a missing file: exit status not 1"

# 7. Bad arguments.
for args in "--workloads nosuch" "--profiles nosuch" "--peers nosuch" "--runs 0" "--frob x" "--seed -1" \
    "--command x" "--command json=true" "--width 5" "--runs auto --max-runs 5" "--compare a" \
    "--replay x --seed 1"; do
    # shellcheck disable=SC2086 # the words are separate arguments
    "$HAK_BIN" matrix $args --out "$tmp/bad" >/dev/null 2>"$tmp/e"
    [ $? = 2 ] || bad "matrix $args: exit status not 2"
done
[ ! -e "$tmp/bad" ] || bad "a refused matrix created its output directory"

[ $fail = 0 ] && [ -n "${no_gnuplot:-}" ] && { echo "SKIP: gnuplot not installed, matrix.svg not checked"; exit 77; }
exit $fail
