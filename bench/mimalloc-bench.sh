#!/bin/bash
# mimalloc-bench.sh — runs the programs of mimalloc-bench (github.com/daanx/mimalloc-bench, a checkout the user supplies) under hakmem, glibc, mimalloc, jemalloc and tcmalloc, interleaved, with the suite's own command lines, and prints each test's medians and hakmem's ratio to the best peer.
# Run as `sh bench/mimalloc-bench.sh`: the rest is bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
prog=mimalloc-bench.sh
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh" || exit 1

all_tests=cfrac,espresso,barnes,larsonN,larsonN-sized,alloc-test1,alloc-testN,xmalloc-testN,cache-thrash1,cache-thrashN,cache-scratch1,cache-scratchN,malloc-large,mstressN,mleak10,mleak100,rptestN,glibc-simple,glibc-thread
# The suite's programs each test needs (CMake targets of its bench/).
declare -A test_target=([cfrac]=cfrac [espresso]=espresso [barnes]=barnes [larsonN]=larson
    [larsonN-sized]=larson-sized [alloc-test1]=alloc-test [alloc-testN]=alloc-test [xmalloc-testN]=xmalloc-test
    [cache-thrash1]=cache-thrash [cache-thrashN]=cache-thrash [cache-scratch1]=cache-scratch
    [cache-scratchN]=cache-scratch [malloc-large]=malloc-large [mstressN]=mstress [mleak10]=mleak [mleak100]=mleak
    [rptestN]=rptest [glibc-simple]=glibc-simple [glibc-thread]=glibc-thread)
# A run longer than this (seconds) is a hang: killed and reported failed.
limit=600

usage() {
    cat <<EOF
usage: sh bench/mimalloc-bench.sh [options] MIMALLOC_BENCH_DIR
Builds the bench/ CMake project of a mimalloc-bench checkout
(git clone https://github.com/daanx/mimalloc-bench) out of tree in OUT/build,
never writing into the checkout, and runs its programs with the command lines
of the suite's bench.sh under each allocator: every round runs every test, and
each test's allocators in an order shuffled per round and test.
  --rounds N          rounds (default 5)
  --procs N           the suite's \$procs: threads of the N tests (default 2)
  --tests LIST        comma-separated subset of
                      $all_tests
                      (default: all)
  --allocators LIST   comma-separated subset of $known_allocators
  --lib PATH          libhakmem.so to preload (default: the release build's,
                      build/release/.libs/libhakmem.so: scripts/build.sh release)
  --out DIR           results (default build/results/mimalloc-bench): runs.csv,
                      summary.csv, summary.txt, the build in DIR/build
  --seed N            seed of the shuffles (default: from the clock; printed)
A run records wall time, user + system CPU time and peak RSS (GNU time) and
its exit status; a run that exits non-zero (or runs over ${limit} s) is
reported as failed and left out of the medians. Every hakmem run writes
hakmem's statistics (HAKMEM_STATS_FILE); a run whose statistics show no
allocation served by hakmem is reported as not served and left out.
The time figure of a test is its CPU time, except for the fixed-duration tests
(larsonN, larsonN-sized, xmalloc-testN, rptestN, glibc-thread): there it is
the suite's relative time, derived from the throughput the program prints as
the suite's bench.sh does (larson, xmalloc-test: their "relative time" or
"rtime"; rptest: 2,000,000 / memory ops per CPU second; glibc-thread:
10^9 / iterations).
Not run: sh6bench and sh8bench (the suite downloads their sources from
elsewhere); the tests that need external programs or data (lua, lean,
mathlib, redis, rocksdb, z3, gs, rbstress, spec, linux) and the security
tests are out of scope.
Peers are preloaded from their Debian packages (libmimalloc2.0, libjemalloc2,
libtcmalloc-minimal4); run as root, the script installs missing ones and what
it needs to build (cmake, g++, make, time); a peer still missing is skipped.
Exits 2 on bad arguments, 1 if a run failed.
EOF
}

# bad_usage MESSAGE — a bad argument: exit 2.
bad_usage() {
    echo "$prog: $*" >&2
    echo "$prog: see bench/$prog --help" >&2
    exit 2
}

# positive NAME VALUE — VALUE is a positive integer.
positive() {
    case $2 in '' | *[!0-9]* | 0*) bad_usage "$1 needs a positive integer, not '$2'" ;; esac
}

rounds=5
procs=2
tests=$all_tests
lib=$top/build/release/.libs/libhakmem.so
out=$top/build/results/mimalloc-bench
seed=
suite=
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --rounds | --procs | --tests | --allocators | --lib | --out | --seed)
        [ $# -ge 2 ] || bad_usage "$1 needs a value"
        case $1 in
        --rounds) positive "$1" "$2"; rounds=$2 ;;
        --procs) positive "$1" "$2"; procs=$2 ;;
        --tests) tests=$2 ;;
        --allocators) allocators=$2 ;;
        --lib) lib=$2 ;;
        --out) out=$2 ;;
        --seed) case $2 in '' | *[!0-9]*) bad_usage "--seed needs a non-negative integer" ;; esac; seed=$2 ;;
        esac
        shift 2 ;;
    -*) bad_usage "unknown option '$1'" ;;
    *) [ -z "$suite" ] || bad_usage "one checkout only ('$suite', then '$1')"; suite=$1; shift ;;
    esac
done
[ -n "$suite" ] || bad_usage "give the path of a mimalloc-bench checkout (git clone https://github.com/daanx/mimalloc-bench)"
for f in bench/CMakeLists.txt bench/barnes/input bench/espresso/largest.espresso; do
    [ -f "$suite/$f" ] || bad_usage "$suite is not a mimalloc-bench checkout (no $f)"
done
suite=$(realpath "$suite")

IFS=, read -r -a wanted_tests <<<"$tests"
[ ${#wanted_tests[@]} -gt 0 ] || bad_usage "--tests needs at least one test"
test_list=()
for t in "${wanted_tests[@]}"; do
    case $t in
    sh6bench* | sh8bench*) bad_usage "$t is not run: the suite downloads its sources from elsewhere" ;;
    esac
    [ -n "${test_target[$t]:-}" ] || bad_usage "unknown test '$t' (known: $all_tests)"
    case $procs,$t in
    1,alloc-testN | 1,cache-thrashN | 1,cache-scratchN)
        # As the suite's bench.sh: with one process they repeat the 1 test.
        echo "$prog: skipping $t: --procs 1" >&2
        continue ;;
    esac
    test_list+=("$t")
done
[ ${#test_list[@]} -gt 0 ] || bad_usage "no test left to run"
IFS=, read -r -a wanted_allocs <<<"$allocators"
for a in "${wanted_allocs[@]}"; do
    case ,$known_allocators, in *,"$a",*) ;; *) bad_usage "unknown allocator '$a' (known: $known_allocators)" ;; esac
done
case ,$allocators, in
*,hakmem,*)
    [ -f "$lib" ] || bad_usage "libhakmem $lib not found (build it with scripts/build.sh release, or give --lib)"
    hakmem_lib=$(realpath "$lib") ;;
esac
out=$(realpath -m "$out")
case $out/ in "$suite"/*) bad_usage "--out $out is inside the checkout; give a directory outside it" ;; esac
mkdir -p "$out" || die "cannot make $out"
[ -n "$seed" ] || seed=$(( $(date +%s) % 32768 ))

# ---- Tools and build -------------------------------------------------------------

# What building and timing need, as Debian packages: "command package".
missing=()
for need in "cmake cmake" "make make" "gcc gcc" "g++ g++" "/usr/bin/time time"; do
    command -v "${need% *}" >/dev/null || missing+=("${need#* }")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "$prog: installing ${missing[*]}" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >&2 ||
            die "could not install ${missing[*]}"
    else
        die "missing ${missing[*]} (Debian packages; run as root to install them)"
    fi
fi

# The targets the tests need, each once.
declare -A seen=()
targets=()
for t in "${test_list[@]}"; do
    [ -n "${seen[${test_target[$t]}]:-}" ] || targets+=("${test_target[$t]}")
    seen[${test_target[$t]}]=1
done
# The suite's build-bench-env.sh downloads sh6bench's and sh8bench's sources
# into the checkout; without them its CMakeLists.txt does not configure. This
# file, included after its project(), stands in a stub for a program whose
# sources are missing (it is never built: only the targets above are).
build=$out/build
mkdir -p "$build" || die "cannot make $build"
cat >"$out/stub-missing.cmake" <<'EOF'
if(NOT DEFINED HAKMEM_STUB_MISSING)
  set(HAKMEM_STUB_MISSING 1)
  file(WRITE "${CMAKE_BINARY_DIR}/missing-source.c" "int main(void) { return 77; }\n")
  function(add_executable name)
    foreach(src IN LISTS ARGN)
      if(NOT IS_ABSOLUTE "${src}" AND NOT EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${src}")
        message(STATUS "${name}: ${src} is missing; a stub stands in (not built)")
        _add_executable(${name} "${CMAKE_BINARY_DIR}/missing-source.c")
        return()
      endif()
    endforeach()
    _add_executable(${ARGV})
  endfunction()
endif()
EOF
echo "$prog: building ${targets[*]} from $suite/bench in $build" >&2
{
    cmake -S "$suite/bench" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PROJECT_INCLUDE="$out/stub-missing.cmake" &&
        cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
} >"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log" >&2; die "building the suite failed (log: $out/build.log)"; }

runs=$rounds
setup_allocators # lib.sh: peers, alloc_list, tmp, failures

# ---- Runs -----------------------------------------------------------------------------

# test_command TEST — sets cmd to TEST's command line (bench.sh's run_test),
# input to its stdin and figure to its time figure: cpu, or rtime for the
# fixed-duration tests.
test_command() {
    local b=$build
    input=/dev/null
    figure=cpu
    case $1 in
    cfrac) cmd=("$b/cfrac" 17545186520507317056371138836327483792789528) ;;
    espresso) cmd=("$b/espresso" "$suite/bench/espresso/largest.espresso") ;;
    barnes) cmd=("$b/barnes"); input=$suite/bench/barnes/input ;;
    larsonN) cmd=("$b/larson" 5 8 1000 5000 100 4141 "$procs"); figure=rtime ;;
    larsonN-sized) cmd=("$b/larson-sized" 5 8 1000 5000 100 4141 "$procs"); figure=rtime ;;
    alloc-test1) cmd=("$b/alloc-test" 1) ;;
    alloc-testN) cmd=("$b/alloc-test" $((procs > 16 ? 16 : procs))) ;;
    xmalloc-testN) cmd=("$b/xmalloc-test" -w "$procs" -t 5 -s 64); figure=rtime ;;
    cache-thrash1) cmd=("$b/cache-thrash" 1 1000 1 2000000 "$procs") ;;
    cache-thrashN) cmd=("$b/cache-thrash" "$procs" 1000 1 2000000 "$procs") ;;
    cache-scratch1) cmd=("$b/cache-scratch" 1 1000 1 2000000 "$procs") ;;
    cache-scratchN) cmd=("$b/cache-scratch" "$procs" 1000 1 2000000 "$procs") ;;
    malloc-large) cmd=("$b/malloc-large") ;;
    mstressN) cmd=("$b/mstress" "$procs" 50 25) ;;
    mleak10) cmd=("$b/mleak" 5) ;;
    mleak100) cmd=("$b/mleak" 50) ;;
    rptestN) cmd=("$b/rptest" "$procs" 0 1 2 500 1000 100 8 16000); figure=rtime ;;
    glibc-simple) cmd=("$b/glibc-simple") ;;
    glibc-thread) cmd=("$b/glibc-thread" "$procs"); figure=rtime ;;
    esac
}

# relative_time TEST FILE — the relative time from TEST's output FILE, as
# the suite's bench.sh derives it; empty if the program printed none.
relative_time() {
    case $1 in
    larson*) sed -n 's/.* time: \([0-9.]*\).*/\1/p' "$2" ;;
    xmalloc*) sed -n 's/^rtime: \([0-9.]*\).*/\1/p' "$2" ;;
    rptest*) sed -n 's/^\(.*[^0-9]\)\{0,1\}\([0-9][0-9]*\) memory ops.*/\2/p' "$2" |
        awk '$1 > 0 { printf "%.6g\n", 2000000 / $1 }' ;;
    glibc-thread) sed -n 's/^\([0-9][0-9]*\) iterations.*/\1/p' "$2" |
        awk '$1 > 0 { printf "%.6g\n", 1000000000 / $1 }' ;;
    esac | head -n 1
}

# shuffle — sets order to alloc_list in a random order: bash's RANDOM,
# seeded once (not in a subshell, which would reseed it).
shuffle() {
    local i j t
    order=("${alloc_list[@]}")
    for ((i = ${#order[@]} - 1; i > 0; i--)); do
        j=$((RANDOM % (i + 1)))
        t=${order[i]} order[i]=${order[j]} order[j]=$t
    done
}

# run_one TEST ALLOC ROUND POSITION — one run, in a fresh working directory
# (rptest writes a file there); appends its row to runs.csv.
run_one() {
    local t=$1 alloc=$2 round=$3 pos=$4 status result wall user sys rss rt tfig cpu
    test_command "$t"
    alloc_env "$alloc"
    rm -rf "$tmp/cwd" "$tmp"/stats/*.json
    mkdir "$tmp/cwd" || die "mkdir failed"
    (cd "$tmp/cwd" && timeout "$limit" /usr/bin/time -o "$tmp/time" -f '%e %U %S %M' \
        "${pre[@]}" "${cmd[@]}" <"$input" >"$tmp/out" 2>"$tmp/err")
    status=$?
    # GNU time's last line: wall, user, sys seconds and peak RSS KiB (a line
    # before it says how a failed command ended).
    read -r wall user sys rss < <(tail -n 1 "$tmp/time" 2>/dev/null) || true
    result=ok rt=
    if [ $status -ne 0 ]; then
        result=failed
        {
            echo "$prog: FAILED: round $round, $t under $alloc exited with status $status$([ $status = 124 ] && echo " (timed out after $limit s)")"
            echo "  command: ${pre[*]} ${cmd[*]}"
            tail -n 5 "$tmp/err" | sed 's/^/  stderr: /'
        } >&2
    elif [ "$alloc" = hakmem ] && ! hakmem_served; then
        result=not-served
        echo "$prog: NOT SERVED: round $round, $t under hakmem: no statistics file shows allocations by hakmem" >&2
    elif [ -z "${wall:-}" ] || [ -z "${rss:-}" ]; then
        result=failed
        echo "$prog: FAILED: round $round, $t under $alloc: GNU time reported nothing" >&2
    elif [ $figure = rtime ]; then
        rt=$(relative_time "$t" "$tmp/out")
        if [ -z "$rt" ]; then
            result=failed
            echo "$prog: FAILED: round $round, $t under $alloc printed no throughput:" >&2
            tail -n 5 "$tmp/out" | sed 's/^/  stdout: /' >&2
        fi
    fi
    [ $result = ok ] || failures=$((failures + 1))
    if [ $result = ok ]; then
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
        tfig=${rt:-$cpu}
        echo "[round $round/$rounds] $t $alloc: wall ${wall} s, cpu ${cpu} s${rt:+, relative time ${rt} s}," \
            "peak rss $((rss / 1024)) MiB" >&2
    else
        cpu='' tfig='' wall=${wall:-} user=${user:-} sys=${sys:-} rss=${rss:-}
    fi
    echo "$round,$t,$alloc,$pos,$status,$result,$figure,$wall,$user,$sys,$cpu,$rt,$tfig,$rss" >>"$out/runs.csv"
}

suite_commit=$(git -C "$suite" rev-parse --short=12 HEAD 2>/dev/null) || suite_commit=unknown
echo "round,test,allocator,position,status,result,time_figure,wall_s,user_s,sys_s,cpu_s,relative_time_s,time_s,peak_rss_kib" \
    >"$out/runs.csv" || die "cannot write $out/runs.csv"
echo "$prog: ${alloc_list[*]}; ${#test_list[@]} tests, $rounds rounds, procs $procs; seed $seed" >&2
echo "$prog: sh6bench and sh8bench are not run (the suite downloads their sources from elsewhere)" >&2
RANDOM=$seed
for ((round = 1; round <= rounds; round++)); do
    for t in "${test_list[@]}"; do
        pos=0
        shuffle
        for a in "${order[@]}"; do
            pos=$((pos + 1))
            run_one "$t" "$a" "$round" "$pos"
        done
    done
done

# ---- Summary --------------------------------------------------------------------------

# summary.csv: per test and allocator, the medians of its successful runs
# and its ratios to the best peer (the allocator other than hakmem with the
# least median; glibc is a peer). Statistics f: 1 wall time, 2 the time
# figure, 3 peak RSS; a fixed-duration test has no wall time ratio.
awk -F, -v order="${alloc_list[*]}" -v tests="${test_list[*]}" -v csv="$out/summary.csv" "$awk_lib"'
NR == 1 { next }
{ k = $3 SUBSEP $2; fig[$2] = $7; tried[k]++ }
$6 == "ok" { m = ++n[k]; v[k, 1, m] = $8 + 0; v[k, 2, m] = $13 + 0; v[k, 3, m] = $14 + 0 }
$6 != "ok" { bad[k]++; why[k] = why[k] (why[k] == "" ? "" : " ") ($6 == "failed" ? "status " $5 : $6) }
$6 == "not-served" { notserved[$2]++ }
function cell(x, fmt) { return x == "" ? sprintf(" %10s", "n/a") : sprintf(fmt, x) }
function best_cell(k, f, t) { return cell(r[k, f], " %9.2fx") sprintf(" %-10s", best[t, f] == "" ? "" : "(" best[t, f] ")") }
function fmt4(x) { return x == "" ? "" : sprintf("%.4f", x) }
END {
    allocators()
    nt = split(tests, tn, " ")
    print "test,allocator,time_figure,ok_runs,runs,median_wall_s,median_time_s,median_peak_rss_kib," \
        "wall_vs_best_peer,time_vs_best_peer,rss_vs_best_peer,best_peer_wall,best_peer_time,best_peer_rss" > csv
    for (s = 1; s <= nt; s++) {
        t = tn[s]
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP t
            if (!n[k]) continue
            for (f = 1; f <= 3; f++) {
                for (j = 1; j <= n[k]; j++) x[j] = v[k, f, j]
                M[k, f] = median(x, n[k])
                if (al[i] != "hakmem" && (f != 1 || fig[t] == "cpu") &&
                    (best[t, f] == "" || M[k, f] < M[best[t, f] SUBSEP t, f])) best[t, f] = al[i]
            }
        }
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP t
            for (f = 1; f <= 3; f++) {
                b = best[t, f] SUBSEP t
                r[k, f] = n[k] && best[t, f] != "" && M[b, f] > 0 ? M[k, f] / M[b, f] : ""
            }
            printf "%s,%s,%s,%d,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", t, al[i], fig[t], n[k], tried[k],
                n[k] ? M[k, 1] : "", n[k] ? M[k, 2] : "", n[k] ? M[k, 3] : "",
                fmt4(r[k, 1]), fmt4(r[k, 2]), fmt4(r[k, 3]), best[t, 1], best[t, 2], best[t, 3] > csv
        }
    }

    title[1] = "median wall time, s"; title[2] = "median time, s"; title[3] = "median peak RSS, MiB"
    for (f = 1; f <= 3; f++) {
        printf "\n%-20s %-6s", title[f], (f == 2 ? "figure" : "")
        for (i = 1; i <= na; i++) printf " %10s", al[i]
        printf "\n"
        for (s = 1; s <= nt; s++) {
            t = tn[s]
            printf "%-20s %-6s", t, (f == 2 ? fig[t] : "")
            for (i = 1; i <= na; i++) {
                k = al[i] SUBSEP t
                if (!n[k]) printf " %10s", "failed"
                else if (f == 1) printf " %10.2f", M[k, 1]
                else if (f == 2) printf " %10.3f", M[k, 2]
                else printf " %10.1f", M[k, 3] / 1024
            }
            printf "\n"
        }
    }

    for (s = 1; s <= nt; s++)
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP tn[s]
            if (!bad[k]) continue
            if (!nbad++) printf "\nruns left out (failed, or not served by hakmem):\n"
            printf "  %s under %s: %d of %d runs (%s)\n", tn[s], al[i], bad[k], tried[k], why[k]
        }

    if (!index(" " order " ", " hakmem ")) exit
    printf "\n%-20s %-6s %10s %-10s %10s %-10s %10s %-10s %s\n", "hakmem vs best peer", "figure",
        "time", "(peer)", "wall", "(peer)", "rss", "(peer)", "runs ok"
    for (s = 1; s <= nt; s++) {
        t = tn[s]
        k = "hakmem" SUBSEP t
        printf "%-20s %-6s%s%s%s", t, fig[t], best_cell(k, 2, t), best_cell(k, 1, t), best_cell(k, 3, t)
        printf " %d/%d%s\n", n[k], tried[k], (notserved[t] ? sprintf(", %d not served by hakmem", notserved[t]) : "")
        for (f = 1; f <= 3; f++)
            if (r[k, f] != "") { lg[f] += log(r[k, f]); ng[f]++ }
    }
    printf "%-20s %-6s", "geometric mean", ""
    split("2 1 3", col, " ")
    for (c = 1; c <= 3; c++) {
        f = col[c]
        printf "%s %-10s", cell(ng[f] ? exp(lg[f] / ng[f]) : "", " %9.2fx"), ""
    }
    printf "\n(of hakmem'"'"'s ratios over %d tests for time, %d for wall, %d for rss)\n", ng[2], ng[1], ng[3]
}' "$out/runs.csv" >"$tmp/table" || die "summary failed"

{
    echo "mimalloc-bench $suite_commit ($suite) | procs $procs | $rounds rounds, interleaved, allocator order shuffled per round and test, seed $seed"
    case " ${alloc_list[*]} " in *" hakmem "*) echo "hakmem: $hakmem_lib" ;; esac
    echo "$(uname -m), $(nproc) cpus, $(date -u '+%Y-%m-%d %H:%M UTC')"
    cat "$tmp/table"
    echo
    echo "Medians over the successful runs (failed: no run succeeded). figure: cpu = user + system"
    echo "CPU time; rtime = the suite's relative time from the printed throughput (fixed-duration"
    echo "tests, whose wall time is fixed: no wall ratio). hakmem vs best peer: hakmem's median over"
    echo "the least median of the other allocators (glibc included); < 1 = hakmem is better."
    echo "Not run: sh6bench, sh8bench (sources downloaded from elsewhere) and the tests needing"
    echo "external programs."
} >"$out/summary.txt"
cat "$out/summary.txt"
echo "runs: $out/runs.csv; summary: $out/summary.csv, $out/summary.txt" >&2
report_failures
