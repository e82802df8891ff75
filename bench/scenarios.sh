#!/bin/bash
# scenarios.sh — runs bench_allocators' scenarios under hakmem, glibc, mimalloc, jemalloc and tcmalloc, interleaved, and prints each allocator's medians against the best peer's.
set -u -o pipefail
prog=scenarios.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

all_scenarios=json,mir,vm,mixed,tiny,random-mixed,random-large,malloc-large,huge-sites,burst-free,phases,mid-shift,thread-churn
usage() {
    cat <<EOF
usage: bench/scenarios.sh [options]
  --scenarios LIST    comma-separated subset of $all_scenarios
                      (default: all); each runs in a process of its own
  --iterations N      bench_allocators --iterations (default: its own, 100)
  --warmup N          bench_allocators --warmup (default: its own, 10)
  --strace            also run every scenario of each allocator under
                      strace -c -f (once with 1 iteration, once with all)
                      and print its mmap, munmap, madvise and mremap calls
                      per iteration
EOF
    common_usage
}

# scenarios_option ARGS... — scenarios.sh's own options, for parse_options.
scenarios_option() {
    nshift=2
    case $1 in
    --strace) use_strace=1; nshift=1 ;;
    --scenarios) need_value "$@"; scenarios=$2 ;;
    --iterations | --warmup)
        need_value "$@"
        case $2 in '' | *[!0-9]*) die "$1 needs a non-negative integer" ;; esac
        bench_args+=("$1" "$2") ;;
    *) nshift=0 ;;
    esac
}

scenarios=$all_scenarios
bench_args=()
use_strace=
parse_options scenarios_option "$@"

IFS=, read -r -a scenario_list <<<"$scenarios"
[ ${#scenario_list[@]} -gt 0 ] || die "--scenarios needs at least one scenario"
for s in "${scenario_list[@]}"; do
    case ,$all_scenarios, in *,"$s",*) ;; *) die "unknown scenario '$s' (known: $all_scenarios)" ;; esac
done
bin=$builddir/bench/bench_allocators
[ -x "$bin" ] || die "$bin not found (build with make in $builddir)"
if [ -n "$use_strace" ] && ! command -v strace >/dev/null; then
    echo "$prog: warning: strace not found; --strace ignored" >&2
    use_strace=
fi
# A default run of a scenario takes seconds (glibc's json and mixed the
# longest); the limit reports a hang, and leaves room for --iterations.
limit=1800

setup_allocators
results=$tmp/results   # "allocator scenario median p95 p99 faults" per run
syscalls=$tmp/syscalls # "allocator scenario syscall calls-per-iteration"
: >"$results"
: >"$syscalls"
if [ -n "$csv" ]; then
    echo "run,allocator,scenario,iteration,ns,minor_faults" >"$csv" || die "cannot write $csv"
fi

# scenario_field FILE SCENARIO KEY — the value of KEY=value in
# bench_allocators' line for SCENARIO in FILE.
scenario_field() {
    awk -v s="$2" -v k="$3=" '$1 == "scenario" && $2 == s {
        for (i = 3; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }' "$1"
}

# run_scenarios ALLOC RUN — run RUN of every scenario under ALLOC, each in a
# process of its own, so that no scenario inherits another's heap.
run_scenarios() {
    local alloc=$1 run=$2 s out=$tmp/out err=$tmp/err rows=$tmp/rows.csv line
    alloc_env "$alloc"
    for s in "${scenario_list[@]}"; do
        rm -f "$rows"
        checked_run "$alloc" "run $run of $s" "$limit" "$out" "$err" \
            "${pre[@]}" "$bin" --scenario "$s" "${bench_args[@]}" --csv "$rows" || continue
        line=$(grep "^scenario $s " "$out")
        if [ -z "$line" ]; then
            failures=$((failures + 1))
            echo "$prog: FAILED: run $run of $s under $alloc printed no results" >&2
            continue
        fi
        echo "$alloc $s $(scenario_field "$out" "$s" median_ns) $(scenario_field "$out" "$s" p95_ns)" \
            "$(scenario_field "$out" "$s" p99_ns) $(scenario_field "$out" "$s" faults_median)" \
            "$(scenario_field "$out" "$s" maxrss_kib)" >>"$results"
        # bench_allocators' rows begin with the allocator it found itself on.
        [ -z "$csv" ] || tail -n +2 "$rows" | sed "s/^[^,]*,/$run,$alloc,/" >>"$csv"
        [ "$alloc" != hakmem ] || cp "$hakmem_stats" "$tmp/hakmem-$s.json"
        echo "[run $run/$runs] $alloc $s: ${line#scenario "$s" }" >&2
    done
}

# strace_run ALLOC SCENARIO WHAT ARGS... — one run of SCENARIO with ARGS
# under strace -c; sets traced to the iterations it ran (warm-up included)
# and leaves "syscall calls" lines in $tmp/WHAT.
strace_run() {
    local alloc=$1 s=$2 what=$3 out=$tmp/out
    shift 3
    checked_run "$alloc" "strace run ($what) of $s" "$limit" "$out" "$tmp/err" \
        strace -f -c -o "$tmp/strace" -e trace=mmap,munmap,madvise,mremap \
        "${pre[@]}" "$bin" --scenario "$s" "$@" || return 1
    traced=$(($(scenario_field "$out" "$s" iterations) + $(scenario_field "$out" "$s" warmup)))
    # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall.
    awk '$NF ~ /^(mmap|munmap|madvise|mremap)$/ { print $NF, $4 }' "$tmp/strace" >"$tmp/$what"
}

# strace_scenarios ALLOC — the system calls of every scenario per iteration
# in the steady state: a run of one iteration is subtracted from a full run,
# which leaves out start-up (the loader's mappings, the benchmark's own) and
# the first iteration's.
strace_scenarios() {
    local alloc=$1 s
    alloc_env "$alloc"
    for s in "${scenario_list[@]}"; do
        strace_run "$alloc" "$s" base "${bench_args[@]}" --iterations 1 --warmup 0 || continue
        strace_run "$alloc" "$s" full "${bench_args[@]}" || continue
        [ "$traced" -gt 1 ] || { echo "$prog: strace of $s: give --iterations > 1" >&2; continue; }
        awk -v a="$alloc" -v s="$s" -v n="$traced" -v basef="$tmp/base" 'FILENAME == basef { base[$1] = $2; next }
            { c[$1] = $2 }
            END {
                for (i = split("mmap munmap madvise mremap", sys, " "); i > 0; i--) {
                    v = (c[sys[i]] - base[sys[i]]) / (n - 1)
                    printf "%s %s %s %.2f\n", a, s, sys[i], v
                    line = " " sys[i] "=" sprintf("%.2f", v) line
                }
                print "[strace] " a " " s ":" line " per iteration" > "/dev/stderr"
            }' "$tmp/base" "$tmp/full" >>"$syscalls"
    done
}

echo "$prog: ${alloc_list[*]}; $runs runs each, interleaved; scenarios ${scenario_list[*]}${bench_args[*]:+; ${bench_args[*]}}${profile:+; HAKMEM_PROFILE=$profile}" >&2
interleave run_scenarios
if [ -n "$use_strace" ]; then
    for a in "${alloc_list[@]}"; do
        strace_scenarios "$a"
    done
fi

echo
echo "bench_allocators ${bench_args[*]:-(default iterations)} | $runs runs each, interleaved${profile:+ | hakmem profile $profile}"
case " ${alloc_list[*]} " in *" hakmem "*) echo "hakmem: $hakmem_lib" ;; esac
awk -v order="${alloc_list[*]}" -v scen="${scenario_list[*]}" -v runs="$runs" "$awk_lib"'
# Fields: allocator, scenario, then the statistics stat_name[1..5].
FILENAME == ARGV[1] {
    k = $1 SUBSEP $2
    m = ++n[k]
    for (f = 1; f <= 5; f++) v[k, f, m] = $(f + 2) + 0
    next
}
{ sc[$1 SUBSEP $2 SUBSEP $3] = $4; sys_seen = 1 }
function cell(k, f) { return (k SUBSEP f) in stat }
END {
    allocators()
    ns = split(scen, sn, " ")
    nf = split("median ns/iteration,p95 ns/iteration,p99 ns/iteration,faults/iteration,peak RSS KiB", stat_name, ",")
    FAULTS = 4
    for (s = 1; s <= ns; s++)
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP sn[s]
            if (!n[k]) continue
            for (f = 1; f <= nf; f++) {
                for (j = 1; j <= n[k]; j++) x[j] = v[k, f, j]
                stat[k, f] = median(x, n[k])
                if (f == 1) spread[k] = spread_pct(x, n[k], stat[k, 1])
            }
        }
    # The best peer of a scenario: the peer (not hakmem) of least median ns.
    for (s = 1; s <= ns; s++)
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP sn[s]
            if (al[i] != "hakmem" && cell(k, 1) && (!(sn[s] in best) || stat[k, 1] < stat[best[sn[s]], 1]))
                best[sn[s]] = k
        }

    for (f = 1; f <= nf; f++) {
        header(stat_name[f])
        for (s = 1; s <= ns; s++) {
            printf "%-20s", sn[s]
            for (i = 1; i <= na; i++) {
                k = al[i] SUBSEP sn[s]
                if (!cell(k, f)) printf " %12s", "n/a"
                else printf (f == FAULTS ? " %12.1f" : " %12.0f"), stat[k, f]
            }
            printf "\n"
        }
    }
    header("vs best peer", "best peer")
    for (s = 1; s <= ns; s++) {
        printf "%-20s", sn[s]
        b = best[sn[s]]
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP sn[s]
            if (b == "" || !cell(k, 1) || stat[b, 1] <= 0) printf " %12s", "n/a"
            else printf " %11.2fx", stat[k, 1] / stat[b, 1]
        }
        split(b, bp, SUBSEP)
        printf " %12s\n", (b == "" ? "n/a" : bp[1])
    }
    if (index(" " order " ", " hakmem ")) {
        printf "\nhakmem against the target (median ns <= 0.90x the best peer'"'"'s, faults/iteration <= its):\n"
        for (s = 1; s <= ns; s++) {
            k = "hakmem" SUBSEP sn[s]
            b = best[sn[s]]
            if (b == "" || !cell(k, 1) || stat[b, 1] <= 0) { printf "%-20s n/a\n", sn[s]; continue }
            split(b, bp, SUBSEP)
            r = stat[k, 1] / stat[b, 1]
            printf "%-20s time %.2fx %s (%s)   faults %.1f vs %.1f %s\n", sn[s], r, (r <= 0.90 ? "met" : "MISSED"),
                bp[1], stat[k, FAULTS], stat[b, FAULTS], (stat[k, FAULTS] <= stat[b, FAULTS] ? "met" : "MISSED")
        }
    }
    if (sys_seen) {
        nsys = split("mmap munmap madvise mremap", sys, " ")
        for (y = 1; y <= nsys; y++) {
            header(sys[y] "/iteration")
            for (s = 1; s <= ns; s++) {
                printf "%-20s", sn[s]
                for (i = 1; i <= na; i++) {
                    k = al[i] SUBSEP sn[s] SUBSEP sys[y]
                    printf " %12s", (k in sc ? sc[k] : "n/a")
                }
                printf "\n"
            }
        }
    }
    spread_table(sn, ns)
    printf "\nEach figure is the median over the runs of a run'"'"'s median (p95, p99; faults: median faults/iteration;\n"
    printf "peak RSS: the process'"'"'s, whose only scenario it is).\n"
    printf "vs best peer: median ns over the best peer'"'"'s (the fastest of glibc, mimalloc, jemalloc, tcmalloc); < 1 = faster.\n"
    if (sys_seen) printf "syscall/iteration: (calls of a full run - calls of a 1-iteration run) / (its iterations - 1), under strace -c -f.\n"
    printf "spread: (max - min) / median of the run medians; runs: successful/attempted.\n"
}' "$results" "$syscalls"

for s in "${scenario_list[@]}"; do
    f=$tmp/hakmem-$s.json
    [ -s "$f" ] || continue
    hakmem_counters "$f" "last $s run" alloc_fast alloc_slow slab_release ss_map ss_unmap ss_reuse mmap munmap \
        madvise minor_faults rss_bytes
done

if [ -n "$csv" ]; then echo "raw iterations: $csv"; fi
report_failures
