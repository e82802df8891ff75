#!/bin/sh
# cpython.sh — CPython's own test modules under hakmem and under glibc, module by module: each module runs as its own `python3.11 -m test MODULE` process (PYTHONMALLOC=malloc, a fresh directory as cwd, a timeout), R rounds with LD_PRELOAD=libhakmem.so and R without; a module matches when every round ends the same way on both (exit status class: pass, test failures, signal, timeout; and the same failed tests). Prints a table module x {glibc, hakmem, times, proof that hakmem served it, match}, how the differing runs differ (failed tests, the last lines of a crash) and `N passed, N failed`; exits 1 if any module differs.
#
# Usage: tests/peers/cpython.sh [--rounds N] [--timeout S] [--quick] [--keep] [MODULE...]
#   --rounds N   rounds per allocator (CPYTHON_ROUNDS, default 3)
#   --timeout S  seconds per module run (CPYTHON_TIMEOUT, default 900, 120
#                with --quick); the test runner's own --timeout fires 60 s
#                earlier (or at 3/4) and dumps the stacks of a hang
#   --quick      only the fast modules hakmem was seen crashing in
#   --keep       keep the logs (their directory is printed)
#   MODULE...    instead of the default list
# Needs HAKMEM_LIBRARY (the path of libhakmem.so), /usr/bin/python3.11
# (CPYTHON_PYTHON) and Debian's libpython3.11-testsuite. Runs are
# sequential: some tests are timing-sensitive and the machine may be small.
set -u

PY=${CPYTHON_PYTHON:-/usr/bin/python3.11}
ROUNDS=${CPYTHON_ROUNDS:-3}
TIMEOUT=${CPYTHON_TIMEOUT:-}
# A round takes ~5 min per allocator on 2 cores when nothing hangs;
# test_concurrent_futures (~135 s), test_multiprocessing_fork (~65 s),
# test_io (~30 s) and test_subprocess (~25 s) take 85% of it.
DEFAULT_MODULES='test_queue test_io test_functools test_bz2 test_threading_local test_threadedtempfile
test_asyncio.test_subprocess test_concurrent_futures test_thread test_threading test_multiprocessing_fork
test_subprocess'
# The fast modules hakmem was seen crashing in (at exit, or in a child after
# fork): ~25 s per allocator a round when nothing hangs.
QUICK_MODULES='test_queue test_functools test_bz2 test_threading_local test_threadedtempfile test_thread test_threading'
keep=0 modules='' quick=0 tpid=''

usage() {
    sed -n '4,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-1}"
}
while [ $# -gt 0 ]; do
    case $1 in
    -r | --rounds) [ $# -ge 2 ] || usage; ROUNDS=$2; shift 2 ;;
    --rounds=*) ROUNDS=${1#*=}; shift ;;
    -t | --timeout) [ $# -ge 2 ] || usage; TIMEOUT=$2; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "${0##*/}: unknown option $1" >&2; usage ;;
    *) modules="$modules $1"; shift ;;
    esac
done
if [ "$quick" = 1 ]; then
    : "${modules:=$QUICK_MODULES}" "${TIMEOUT:=120}"
fi
: "${modules:=$DEFAULT_MODULES}" "${TIMEOUT:=900}"
case $ROUNDS in '' | *[!0-9]* | 0) echo "${0##*/}: --rounds wants a number > 0" >&2; exit 1 ;; esac
case $TIMEOUT in '' | *[!0-9]* | 0) echo "${0##*/}: --timeout wants seconds > 0" >&2; exit 1 ;; esac
# shellcheck source-path=SCRIPTDIR source=../preload.sh disable=SC1091 # (followed with -x)
. "$(dirname "$0")/../preload.sh"
lib=${lib:?} # the absolute path of libhakmem.so (preload.sh)

if ! "$PY" -c 'import test.libregrtest, test.test_queue' 2>/dev/null; then
    echo "${0##*/}: needs $PY and its test suite (apt-get install libpython3.11-testsuite)" >&2
    exit 1
fi
# The runner's own timeout dumps every thread's stack before timeout(1) kills.
inner=$((TIMEOUT > 240 ? TIMEOUT - 60 : TIMEOUT * 3 / 4))

# Short paths: some tests bind AF_UNIX sockets under the cwd.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hkpy.XXXXXX") || exit 1
# shellcheck disable=SC2317 # run by the traps
cleanup() {
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null
    if [ "$keep" = 1 ]; then echo "logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now_ms() { date +%s%3N; }

# The class of a run's outcome from its exit status and output:
# pass, skip (the whole module), fail, timeout, SEGV/ABRT/... (a signal),
# or exitN. Usage: classify LOG RC
classify() {
    if [ "$2" -eq 124 ] || { [ "$2" -eq 1 ] && grep -Eq 'Timeout \([0-9:]+\)!$' "$1"; }; then
        echo timeout
    elif [ "$2" -gt 128 ]; then
        kill -l $(($2 - 128)) 2>/dev/null || echo "sig$(($2 - 128))"
    elif [ "$2" -eq 0 ]; then
        if grep -q '^Tests result: SUCCESS' "$1"; then
            echo pass
        elif grep -Eq '^1 test skipped|^Tests result: NO TESTS RAN' "$1"; then
            echo skip
        else
            echo pass?
        fi
    elif [ "$2" -eq 2 ]; then
        echo fail
    else
        echo "exit$2"
    fi
}

# How a run starts: python itself counts the libhakmem mappings in its
# /proc/self/maps into the file of its first argument, then runs the test
# package as `python -m test ARGS` does. Polling the process's maps from
# outside missed the modules that end within a poll ("gone").
count_maps='import runpy, sys
with open(sys.argv[1], "w") as f:
    f.write(str(open("/proc/self/maps").read().count("libhakmem")))
del sys.argv[1]
runpy.run_module("test", run_name="__main__", alter_sys=True)'

# One run of MODULE under ALLOC (glibc or hakmem) in round R; its results
# go to $tmp/MODULE.ALLOC.R.{log,names} and a line of $tmp/results:
# module alloc round class rc ms tests skipped maps (libhakmem mappings).
# No HAKMEM_STATS_FILE: writing the stats at exit must not change how the
# process exits.
run_one() {
    mod=$1 alloc=$2 r=$3
    base=$tmp/$mod.$alloc.$r
    dir=$tmp/w/$mod.$alloc.$r
    mkdir -p "$dir"
    if [ "$alloc" = hakmem ]; then set -- LD_PRELOAD="$lib"; else set -- -u LD_PRELOAD; fi
    t0=$(now_ms)
    timeout "$TIMEOUT" env -C "$dir" "$@" PYTHONMALLOC=malloc \
        "$PY" -c "$count_maps" "$base.maps" -v --timeout "$inner" --tempdir "$dir" "$mod" >"$base.log" 2>&1 </dev/null &
    tpid=$!
    wait "$tpid" 2>/dev/null
    rc=$?
    tpid=''
    maps=$(cat "$base.maps" 2>/dev/null || echo none)
    ms=$(($(now_ms) - t0))
    rm -rf "$dir"
    cls=$(classify "$base.log" "$rc")
    sed -n -E 's/^(FAIL|ERROR|UNEXPECTED SUCCESS): /\1: /p' "$base.log" | sort -u >"$base.names"
    ntests=$(awk '/^Ran [0-9]+ tests? in / { n += $2 } END { print n + 0 }' "$base.log")
    nskip=$(grep -E '^(OK|FAILED) \(' "$base.log" | grep -oE 'skipped=[0-9]+' |
        awk -F= '{ n += $2 } END { print n + 0 }')
    echo "$mod $alloc $r $cls $rc $ms $ntests $nskip $maps" >>"$tmp/results"
    printf '%s round %s %-7s %-10s %6.1f s, %s tests (%s skipped), libhakmem mappings: %s\n' "$mod" "$r" "$alloc" \
        "$(token "$cls" "$base.names")" "$(echo "$ms" | awk '{ print $1 / 1000 }')" "$ntests" "$nskip" "$maps"
}

# What the table shows of a run: its class, with the number of failed tests.
token() {
    if [ "$1" = fail ]; then echo "fail:$(wc -l <"$2" | tr -d ' ')"; else echo "$1"; fi
}

# The field F (4 class, 5 rc, 6 ms, 7 tests, 8 skipped) of MODULE ALLOC R.
field() {
    awk -v m="$1" -v a="$2" -v r="$3" -v f="$4" '$1 == m && $2 == a && $3 == r { v = $f } END { print v }' "$tmp/results"
}

# What the log of a differing run shows: the first fatal error (the crash
# of the process or of one of its children, with the test running), where a
# timeout struck, the tail of a run killed without a report; whether the
# runner's summary was printed (a crash at exit). Usage: show_tail LOG CLASS
show_tail() {
    case $2 in pass | skip) return ;; esac
    {
        fatal=$(grep -c 'Fatal Python error' "$1")
        if [ "$fatal" -gt 0 ]; then
            grep -B 2 -A 8 -m 1 'Fatal Python error' "$1"
            [ "$fatal" -gt 1 ] && echo "(and $((fatal - 1)) more fatal errors)"
        fi
        case $2 in
        fail) ;;
        timeout) grep -A 6 -m 1 -E 'Timeout \([0-9:]+\)!$' "$1" ;;
        *)
            [ "$fatal" -eq 0 ] && tail -n 10 "$1"
            if grep -q '^Tests result: ' "$1"; then
                echo "(killed after the runner's summary '$(grep -m 1 '^Tests result: ' "$1")', i.e. at exit)"
            fi
            ;;
        esac
    } | sed 's/^/      | /'
}

: >"$tmp/results"
echo "# $PY, PYTHONMALLOC=malloc; hakmem: $HAKMEM_LIBRARY; $ROUNDS round(s), timeout $TIMEOUT s"
list=''
for mod in $modules; do list="$list $mod"; done
echo "# modules:$list"
start=$(now_ms)
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for mod in $modules; do
        # Alternate which allocator goes first, so neither always runs on
        # a cold cache or after the other's leftovers.
        if [ $((r % 2)) -eq 1 ]; then
            run_one "$mod" glibc "$r"
            run_one "$mod" hakmem "$r"
        else
            run_one "$mod" hakmem "$r"
            run_one "$mod" glibc "$r"
        fi
    done
    r=$((r + 1))
done
total=$((($(now_ms) - start) / 1000))

npass=0 nfail=0
diffs=$tmp/diffs
: >"$diffs"
echo
printf '%-30s %-24s %-24s %9s %9s %-12s %s\n' module glibc hakmem 'glibc s' 'hakmem s' served match
for mod in $modules; do
    g='' h='' same=1 why=''
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        gc=$(field "$mod" glibc "$r" 4) hc=$(field "$mod" hakmem "$r" 4)
        gb=$tmp/$mod.glibc.$r hb=$tmp/$mod.hakmem.$r
        g="$g $(token "$gc" "$gb.names")" h="$h $(token "$hc" "$hb.names")"
        if [ "$gc" != "$hc" ] || ! cmp -s "$gb.names" "$hb.names"; then
            same=0
            {
                echo "  $mod round $r: glibc $(token "$gc" "$gb.names") (status $(field "$mod" glibc "$r" 5)), hakmem $(token "$hc" "$hb.names") (status $(field "$mod" hakmem "$r" 5))"
                if ! cmp -s "$gb.names" "$hb.names"; then
                    comm -23 "$gb.names" "$hb.names" | sed 's/^/    only on glibc:  /'
                    comm -13 "$gb.names" "$hb.names" | sed 's/^/    only on hakmem: /'
                fi
                show_tail "$gb.log" "$gc"
                show_tail "$hb.log" "$hc"
            } >>"$diffs"
        fi
        if grep -q '^hakmem: ' "$hb.log"; then
            same=0
            echo "  $mod round $r: hakmem reported: $(grep '^hakmem: ' "$hb.log" | sort | uniq -c | head -3)" >>"$diffs"
        fi
        r=$((r + 1))
    done
    # The proof that hakmem served the module: libhakmem mapped in the
    # python process of every hakmem run, and in none of the glibc runs.
    served=$(awk -v m="$mod" '$1 == m && $2 == "hakmem" && $9 + 0 > 0 { n++ } END { print n + 0 }' "$tmp/results")
    bad=$(awk -v m="$mod" '$1 == m && $2 == "glibc" && $9 + 0 > 0 { n++ } END { print n + 0 }' "$tmp/results")
    if [ "$served" -ne "$ROUNDS" ] || [ "$bad" -ne 0 ]; then
        same=0 why=' (libhakmem not mapped as it should)'
        echo "  $mod: libhakmem mapped in $served of $ROUNDS hakmem runs and $bad glibc runs" >>"$diffs"
    fi
    served=$served/$ROUNDS
    gs=$(awk -v m="$mod" '$1 == m && $2 == "glibc" { s += $6; n++ } END { printf "%.1f", s / n / 1000 }' "$tmp/results")
    hs=$(awk -v m="$mod" '$1 == m && $2 == "hakmem" { s += $6; n++ } END { printf "%.1f", s / n / 1000 }' "$tmp/results")
    if [ "$same" = 1 ]; then m=yes npass=$((npass + 1)); else m="DIFFERS$why" nfail=$((nfail + 1)); fi
    printf '%-30s %-24s %-24s %9s %9s %-12s %s\n' "$mod" "${g# }" "${h# }" "$gs" "$hs" "$served" "$m"
done
echo "(s: mean seconds of a run; served: hakmem runs with libhakmem in the python process's /proc/PID/maps)"

r=1
while [ "$r" -le "$ROUNDS" ]; do
    awk -v r="$r" '$3 == r { t[$2] += $6 } END { printf "round %d: glibc %.0f s, hakmem %.0f s\n", r, t["glibc"] / 1000, t["hakmem"] / 1000 }' "$tmp/results"
    r=$((r + 1))
done
echo "total $total s; the slowest modules (mean seconds of a run, both allocators):"
awk '{ s[$1] += $6; n[$1]++ } END { for (m in s) printf "  %-30s %7.1f\n", m, s[m] / n[m] / 1000 }' "$tmp/results" |
    sort -k2 -rn | head -5

# The reference: a module failing without hakmem is reported, and hakmem
# must fail it the same way.
ref=$(awk '$2 == "glibc" && $4 != "pass" { print $1, $3, $4 }' "$tmp/results")
if [ -n "$ref" ]; then
    echo "not passing on glibc itself (the reference):"
    echo "$ref" | while read -r mod r cls; do
        echo "  $mod round $r: $(token "$cls" "$tmp/$mod.glibc.$r.names")"
        sed 's/^/    /' "$tmp/$mod.glibc.$r.names"
    done
fi
if [ -s "$diffs" ]; then
    echo "differences:"
    cat "$diffs"
fi
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
