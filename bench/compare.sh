#!/bin/bash
# compare.sh — runs larson and bench_tiny under hakmem, glibc, mimalloc, jemalloc and tcmalloc, interleaved, and prints their medians side by side.
set -u -o pipefail
prog=compare.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

usage() {
    cat <<'EOF_USAGE'
usage: bench/compare.sh [options]
  --larson "ARGS"     larson arguments SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS
                      (default "5 8 1000 5000 100 4141 2")
  --tiny "ARGS"       bench_tiny arguments (default: none, i.e. --reps 11 --ops 1000000)
EOF_USAGE
    common_usage
}

# compare_option ARGS... — compare.sh's own options, for parse_options.
compare_option() {
    nshift=2
    case $1 in
    --larson) need_value "$@"; larson_args=$2 ;;
    --tiny) need_value "$@"; tiny_args=$2 ;;
    *) nshift=0 ;;
    esac
}

larson_args="5 8 1000 5000 100 4141 2"
tiny_args=
parse_options compare_option "$@"

read -r -a larson_argv <<<"$larson_args"
read -r -a tiny_argv <<<"$tiny_args"
[ ${#larson_argv[@]} -eq 7 ] || die "--larson needs 7 arguments: SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS"
larson_bin=$builddir/bench/larson
tiny_bin=$builddir/bench/bench_tiny
[ -x "$larson_bin" ] || die "$larson_bin not found (build with make in $builddir)"
[ -x "$tiny_bin" ] || die "$tiny_bin not found (build with make in $builddir)"
# A generous limit, so that a hang is reported rather than waited on.
larson_limit=$(awk -v s="${larson_argv[0]}" 'BEGIN { print int(s * 3 + 120) }')
tiny_limit=900

setup_allocators
results=$tmp/results # "allocator benchmark value" per line, one per run
: >"$results"
if [ -n "$csv" ]; then
    echo "run,allocator,benchmark,statistic,value,unit" >"$csv" || die "cannot write $csv"
fi

csv_row() {
    [ -z "$csv" ] || echo "$1" >>"$csv"
}

# run_one ALLOC BENCH RUN — one run of larson or bench_tiny; its numbers go
# to $results (and the CSV).
run_one() {
    local alloc=$1 bench=$2 run=$3
    local out=$tmp/out err=$tmp/err limit
    local -a cmd
    if [ "$bench" = larson ]; then
        cmd=("$larson_bin" "${larson_argv[@]}")
        limit=$larson_limit
    else
        cmd=("$tiny_bin" "${tiny_argv[@]}")
        limit=$tiny_limit
    fi
    alloc_env "$alloc"
    if ! checked_run "$alloc" "run $run of $bench" "$limit" "$out" "$err" "${pre[@]}" "${cmd[@]}"; then
        csv_row "$run,$alloc,$bench,exit_status,$run_status,"
        return
    fi
    [ "$alloc" != hakmem ] || cp "$hakmem_stats" "$tmp/hakmem-$bench.json"

    if [ "$bench" = larson ]; then
        local v
        v=$(sed -n 's/^Throughput = *\([0-9.][0-9.]*\) operations.*/\1/p' "$out")
        if [ -z "$v" ]; then
            failures=$((failures + 1))
            echo "compare.sh: FAILED: run $run of larson under $alloc printed no throughput" >&2
            csv_row "$run,$alloc,larson,no_output,,"
            return
        fi
        echo "$alloc larson $v" >>"$results"
        csv_row "$run,$alloc,larson,throughput,$v,ops/s"
        echo "[run $run/$runs] $alloc larson: $v ops/s" >&2
    else
        if ! grep -q '^tiny .* median_ns=' "$out"; then
            failures=$((failures + 1))
            echo "compare.sh: FAILED: run $run of bench_tiny under $alloc printed no results" >&2
            csv_row "$run,$alloc,$bench,no_output,,"
            return
        fi
        awk -v a="$alloc" '$1 == "tiny" { sub(/^median_ns=/, "", $3); print a, "tiny_" $2, $3 }' "$out" >>"$results"
        [ -z "$csv" ] || awk -v r="$run" -v a="$alloc" '$1 == "tiny" {
            sub(/^median_ns=/, "", $3); sub(/^min_ns=/, "", $4)
            print r "," a ",tiny_" $2 ",median," $3 ",ns"; print r "," a ",tiny_" $2 ",min," $4 ",ns" }' "$out" >>"$csv"
        echo "[run $run/$runs] $alloc bench_tiny: $(awk '$1 == "tiny" { sub(/^median_ns=/, "", $3); printf "%s%s=%sns", s, $2, $3; s = " " }' "$out")" >&2
    fi
}

run_both() {
    run_one "$1" larson "$2"
    run_one "$1" bench_tiny "$2"
}

echo "compare.sh: ${alloc_list[*]}; $runs runs each, interleaved; larson ${larson_argv[*]}; bench_tiny ${tiny_argv[*]:-(defaults)}${profile:+; HAKMEM_PROFILE=$profile}" >&2
interleave run_both

echo
echo "larson ${larson_argv[*]} | bench_tiny ${tiny_argv[*]:-(defaults)} | $runs runs each, interleaved${profile:+ | hakmem profile $profile}"
case " ${alloc_list[*]} " in *" hakmem "*) echo "hakmem: $hakmem_lib" ;; esac
awk -v order="${alloc_list[*]}" -v runs="$runs" "$awk_lib"'
BEGIN {
    # Rows appear even when every run of them failed.
    nb = split("larson tiny_hot tiny_lifo tiny_fifo tiny_rand", benches, " ")
    for (b = 1; b <= nb; b++) seen[benches[b]] = 1
}
{
    k = $1 SUBSEP $2
    v[k, ++n[k]] = $3 + 0
    if (!($2 in seen)) { seen[$2] = 1; benches[++nb] = $2 }
}
END {
    allocators()
    for (b = 1; b <= nb; b++)
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP benches[b]
            if (!n[k]) continue
            m = n[k]
            for (j = 1; j <= m; j++) s[j] = v[k, j]
            med[k] = median(s, m)
            spread[k] = spread_pct(s, m, med[k])
        }
    header("median")
    for (b = 1; b <= nb; b++) {
        bn = benches[b]
        printf "%-20s", (bn == "larson" ? "larson ops/s" : bn " ns")
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP bn
            if (!(k in med)) printf " %12s", "n/a"
            else if (bn == "larson") printf " %12.0f", med[k]
            else printf " %12.2f", med[k]
        }
        printf "\n"
    }
    header("speed vs mimalloc")
    for (b = 1; b <= nb; b++) {
        bn = benches[b]
        printf "%-20s", bn
        ref = "mimalloc" SUBSEP bn
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP bn
            if (!(k in med) || !(ref in med) || med[k] <= 0 || med[ref] <= 0) printf " %12s", "n/a"
            else printf " %11.2fx", (bn == "larson" ? med[k] / med[ref] : med[ref] / med[k])
        }
        printf "\n"
    }
    spread_table(benches, nb)
    printf "\nspeed vs mimalloc: its median over ours for ns, ours over its for ops/s (>1 = faster than mimalloc).\n"
    printf "spread: (max - min) / median over the runs; runs: successful/attempted.\n"
}' "$results"

for b in larson bench_tiny; do
    f=$tmp/hakmem-$b.json
    [ -s "$f" ] || continue
    hakmem_counters "$f" "last $b run" alloc_fast alloc_slow thread_init thread_exit slab_adopt ss_remote \
        remote_drain ss_map ss_unmap minor_faults rss_bytes
done

if [ -n "$csv" ]; then echo "raw runs: $csv"; fi
report_failures
