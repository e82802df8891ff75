#!/bin/sh
# mimalloc-stress.sh — mimalloc's own stress test (test/test-stress.c of Debian's mimalloc source), built on the standard names, run on glibc and with LD_PRELOAD=libhakmem.so, compared command line by command line.
#
# Usage: tests/peers/mimalloc-stress.sh [-d DIR] [--rounds N] [--tsan BUILD] [LIBRARY]
#   LIBRARY       the libhakmem.so to preload (default $HAKMEM_LIBRARY); copied
#                 once at the start, so a rebuild during the run changes nothing
#   -d DIR        work directory (default $MIMALLOC_PEER_DIR, else
#                 /tmp/mimalloc-peer): src/ the cached mimalloc source (kept),
#                 build/ the programs, logs/ every run's output and counters
#   --rounds N    runs of each command line on each allocator (default 3)
#   --tsan BUILD  also the test on the hak_ API of BUILD, a build configured
#                 with --enable-sanitizer=thread, once per command line (the
#                 defaults with 10 iterations): any ThreadSanitizer report fails
#
# test-stress runs THREADS threads that allocate blocks of 8 B to 1 KiB (1 %
# 100 times larger, 0.1 % 1,000 times, 0.01 % 50,000 times: up to 51 MiB),
# fill them, check every word when freeing them (a wrong word aborts), pass
# a quarter of them to other threads through a shared array, and are joined
# and created again ITER times while half the shared blocks survive each
# round. Its sources come from `apt-get source mimalloc` (tests/peers/
# common.sh: as root it installs dpkg-dev and adds a deb-src entry when
# there is none). Each round runs every command line on both allocators, in
# an order that alternates. A command line fails when a run under hakmem
# fails (status, signal, timeout, or no counters from hakmem at exit) while
# every run on glibc passed, or its run under TSan fails (a report ends it
# with status 66). Exits 1 if one failed, 2 on a setup error.
set -u

# THREADS SCALE ITER, and what each stands for.
CMDS='32 25 50 the defaults (what mimalloc'"'"'s own ctest runs)
2 50 25 mimalloc-bench'"'"'s mstressN with 2 threads
64 10 30 many more threads than cores, short-lived'
# Under TSan (20–60 times slower) the defaults run 10 iterations, not 50.
TSAN_CMDS='32 25 10 the defaults with 10 iterations
2 50 25 mimalloc-bench'"'"'s mstressN with 2 threads
64 10 30 many more threads than cores, short-lived'
LIMIT=300 # seconds: a hang, not a slow run (the slowest takes ~15 s on glibc, ~60 s under TSan)

started=$(date +%s)
me=${0##*/}
usage_lines=4,14
# shellcheck source=tests/peers/common.sh
. "$(dirname "$0")/common.sh"

DIR=${MIMALLOC_PEER_DIR:-/tmp/mimalloc-peer}
lib=${HAKMEM_LIBRARY:-}
rounds=3
tsan=''
while [ $# -gt 0 ]; do
    case $1 in
    -d | --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
    --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
    --tsan) [ $# -ge 2 ] || usage; tsan=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) lib=$1; shift ;;
    esac
done
case $rounds in
'' | *[!0-9]* | 0) die "--rounds takes a positive integer (got '$rounds')" ;;
esac
check_args
if [ -n "$tsan" ]; then
    if [ ! -f "$tsan/Makefile" ] || [ ! -f "$tsan/.libs/libhakmem.so" ]; then
        die "--tsan: no built library in $tsan"
    fi
    tsan_cflags=$(sed -n 's/^SANITIZE_CFLAGS = //p' "$tsan/Makefile")
    tsan_src=$(sed -n 's/^abs_top_srcdir = //p' "$tsan/Makefile")
    case $tsan_cflags in
    *-fsanitize=*thread*) ;;
    *) die "--tsan: $tsan is not configured with --enable-sanitizer=thread" ;;
    esac
    tsan=$(cd "$tsan" && pwd)
fi

command -v gcc >/dev/null 2>&1 || apt_install gcc 'gcc libc6-dev'
command -v timeout >/dev/null 2>&1 || apt_install timeout coreutils

# The source of the installed peer library if there is one, else apt's
# candidate.
want=$(dpkg-query -W -f='${Version}' libmimalloc2.0 2>/dev/null) || want=candidate
fetch_source mimalloc "$want" test/test-stress.c
say "mimalloc source: $S"

B=$DIR/build
mkdir -p "$B" || die "cannot create $B"
# USE_STD_MALLOC: the test's malloc, realloc and free are the standard ones.
gcc -O2 -g -DUSE_STD_MALLOC -o "$B/test-stress" "$S/test/test-stress.c" -lpthread >"$B/build.log" 2>&1 ||
    { cat "$B/build.log" >&2; die "building test-stress failed"; }

if [ -n "$tsan" ]; then
    # The same source on the hak_ API: its standard names renamed to hak_'s.
    # shellcheck disable=SC2086 # $tsan_cflags: the build's flags
    gcc -O1 -g $tsan_cflags -DUSE_STD_MALLOC -I"$tsan_src/include" -include hakmem.h -Dmalloc=hak_malloc \
        -Drealloc=hak_realloc -Dfree=hak_free -o "$B/test-stress-tsan" "$S/test/test-stress.c" \
        -L"$tsan/.libs" -Wl,-rpath,"$tsan/.libs" -lhakmem -lpthread >"$B/build-tsan.log" 2>&1 ||
        { cat "$B/build-tsan.log" >&2; die "building test-stress on the hak_ API failed"; }
fi

L=$DIR/logs
rm -rf "$L"
mkdir -p "$L" || die "cannot create $L"
LIB=$L/libhakmem.so
cp "$lib" "$LIB" || die "cannot copy $lib"
say "library: $lib (copied to $LIB)"

# run ALLOC N ARGS...: one run, its output in $L/N.ALLOC.log and hakmem's
# counters in $L/N.stats.*.json; sets res (PASS, FAIL(status), CRASH(signal),
# TIMEOUT, NOSTATS) and secs.
run() {
    alloc=$1 n=$2
    shift 2
    log=$L/$n.$alloc.log
    t0=$(date +%s)
    if [ "$alloc" = hakmem ]; then
        LD_PRELOAD=$LIB HAKMEM_STATS_FILE="$L/$n.stats.%p.json" timeout -k 10 "$LIMIT" "$B/test-stress" "$@" >"$log" 2>&1 </dev/null
    elif [ "$alloc" = tsan ]; then
        (unset LD_PRELOAD && TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" exec timeout -k 10 "$LIMIT" \
            "$B/test-stress-tsan" "$@") >"$log" 2>&1 </dev/null
    else
        (unset LD_PRELOAD && exec timeout -k 10 "$LIMIT" "$B/test-stress" "$@") >"$log" 2>&1 </dev/null
    fi
    rc=$?
    secs=$(($(date +%s) - t0))
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        res=TIMEOUT
    elif [ $rc -gt 128 ]; then
        res="CRASH($(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
    elif [ $rc != 0 ]; then
        res="FAIL($rc)"
    elif [ "$alloc" = hakmem ] && ! ls "$L/$n".stats.*.json >/dev/null 2>&1; then
        res=NOSTATS # hakmem did not serve it
    else
        res=PASS
    fi
}

results=$L/results
: >"$results"
tab=$(printf '\t')
r=1
while [ "$r" -le "$rounds" ]; do
    c=0
    printf '%s\n' "$CMDS" | while read -r threads scale iter what; do
        c=$((c + 1))
        if [ $(((r + c) % 2)) = 0 ]; then order='glibc hakmem'; else order='hakmem glibc'; fi
        for alloc in $order; do
            run "$alloc" "r$r.c$c" "$threads" "$scale" "$iter"
            say "round $r: test-stress $threads $scale $iter ($what) on $alloc: $res (${secs}s)"
            printf '%s\t%s\t%s\t%s\t%s\n' "$threads $scale $iter" "$alloc" "$res" "$secs" "r$r.c$c" >>"$results"
        done
    done
    r=$((r + 1))
done
if [ -n "$tsan" ]; then
    c=0
    printf '%s\n' "$TSAN_CMDS" | while read -r threads scale iter what; do
        c=$((c + 1))
        run tsan "tsan.c$c" "$threads" "$scale" "$iter"
        say "test-stress $threads $scale $iter ($what) on the hak_ API under TSan: $res (${secs}s)"
        printf '%s\t%s\t%s\t%s\t%s\n' "$threads $scale $iter" tsan "$res" "$secs" "tsan.c$c" >>"$results"
    done
fi

# ---- the report ------------------------------------------------------------

echo
printf '%-12s %-28s %-28s %s\n' 'args' glibc hakmem verdict
failed=0
printf '%s\n' "$CMDS" | {
    while read -r threads scale iter what; do
        args="$threads $scale $iter"
        g=$(awk -F"$tab" -v a="$args" '$1 == a && $2 == "glibc" && $3 == "PASS"' "$results" | wc -l)
        h=$(awk -F"$tab" -v a="$args" '$1 == a && $2 == "hakmem" && $3 == "PASS"' "$results" | wc -l)
        gt=$(awk -F"$tab" -v a="$args" '$1 == a && $2 == "glibc" { s += $4 } END { print s + 0 }' "$results")
        ht=$(awk -F"$tab" -v a="$args" '$1 == a && $2 == "hakmem" { s += $4 } END { print s + 0 }' "$results")
        if [ "$g" != "$rounds" ]; then
            verdict='skip (fails on glibc)'
        elif [ "$h" = "$rounds" ]; then
            verdict=ok
        else
            verdict=FAIL
            failed=$((failed + 1))
        fi
        printf '%-12s %-28s %-28s %s\n' "$args" "$g/$rounds passed, ${gt}s" "$h/$rounds passed, ${ht}s" "$verdict"
    done
    # The TSan runs stand alone: each must pass.
    ncmds=$(printf '%s\n' "$CMDS" | wc -l)
    while IFS=$tab read -r args alloc res secs n; do
        [ "$alloc" = tsan ] || continue
        ncmds=$((ncmds + 1))
        if [ "$res" = PASS ]; then verdict=ok; else verdict=FAIL failed=$((failed + 1)); fi
        printf '%-12s %-28s %-28s %s\n' "$args" 'TSan, hak_ API:' "$res, ${secs}s" "$verdict"
    done <"$results"
    # The last lines of every run that did not pass.
    while IFS=$tab read -r args alloc res secs n; do
        [ "$res" = PASS ] && continue
        echo
        echo "--- test-stress $args on $alloc: $res (log: $L/$n.$alloc.log)"
        grep -v '^[[:space:]]*$' "$L/$n.$alloc.log" | tail -n 5 | sed 's/^/    /'
    done <"$results"
    echo
    say "$failed of $ncmds command lines failed under hakmem; logs in $L;" \
        "$(($(date +%s) - started)) s in all"
    [ "$failed" = 0 ]
}
