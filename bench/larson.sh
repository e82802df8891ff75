#!/bin/bash
# larson.sh — runs bench/larson in named size profiles x thread counts under hakmem (in any of its profiles) and the peer allocators, interleaved, and prints the median ops/s side by side.
set -u -o pipefail
prog=larson.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1

# The size profiles: larson's MIN MAX BLOCKS ROUNDS SEED (block sizes are
# drawn from [MIN, MAX)); server is the common "8 1000 5000 100 4141".
declare -A size_args=([tiny]="8 128 5000 100 4141" [server]="8 1000 5000 100 4141" [mid]="2048 32768 1000 100 4141")
all_sizes=tiny,server,mid

usage() {
    cat <<EOF
usage: bench/larson.sh [options]
  --sizes LIST        comma-separated subset of $all_sizes (default: all):
                      tiny 8-128 B, server 8-1000 B (larson's common
                      "8 1000 5000 100 4141"), mid 2-32 KiB (1000 blocks a thread)
  --threads LIST      thread counts (default 1,2,4,8)
  --seconds S         larson's run time (default 2)
  --hakmem-profiles LIST
                      run hakmem once under each of these profiles of
                      hakmem.ini (default: no profile), as columns hakmem:NAME
EOF
    common_usage
}

# larson_option ARGS... — larson.sh's own options, for parse_options.
larson_option() {
    nshift=2
    case $1 in
    --sizes) need_value "$@"; sizes=$2 ;;
    --threads) need_value "$@"; threads=$2 ;;
    --seconds) need_value "$@"; seconds=$2 ;;
    --hakmem-profiles) need_value "$@"; hakmem_profiles=$2 ;;
    *) nshift=0 ;;
    esac
}

sizes=$all_sizes
threads=1,2,4,8
seconds=2
hakmem_profiles=
parse_options larson_option "$@"

IFS=, read -r -a size_list <<<"$sizes"
IFS=, read -r -a thread_list <<<"$threads"
for s in "${size_list[@]}"; do
    [ -n "${size_args[$s]:-}" ] || die "unknown size profile '$s' (known: $all_sizes)"
done
for t in "${thread_list[@]}"; do
    case $t in '' | *[!0-9]* | 0) die "--threads needs positive integers, not '$t'" ;; esac
done
awk -v s="$seconds" 'BEGIN { exit !(s + 0 > 0) }' || die "--seconds needs a positive number"
[ -z "$profile" ] || [ -z "$hakmem_profiles" ] || die "give --profile or --hakmem-profiles, not both"
[ -z "$profile" ] || hakmem_profiles=$profile
bin=$builddir/bench/larson
[ -x "$bin" ] || die "$bin not found (build with make in $builddir)"
limit=$(awk -v s="$seconds" 'BEGIN { print int(s * 3 + 120) }')

setup_allocators
# A column per hakmem profile (hakmem:NAME) and per peer.
columns=()
for a in "${alloc_list[@]}"; do
    if [ "$a" = hakmem ] && [ -n "$hakmem_profiles" ]; then
        IFS=, read -r -a hp <<<"$hakmem_profiles"
        for p in "${hp[@]}"; do columns+=("hakmem:$p"); done
    else
        columns+=("$a")
    fi
done
alloc_list=("${columns[@]}")
results=$tmp/results # "column size threads ops/s" per run
: >"$results"
if [ -n "$csv" ]; then
    echo "run,allocator,size,threads,ops_per_s" >"$csv" || die "cannot write $csv"
fi

# run_column COLUMN RUN — run RUN of every size profile and thread count
# under the allocator (and hakmem profile) of COLUMN.
run_column() {
    local col=$1 run=$2 alloc=${1%%:*} s t v
    profile=
    [ "$col" = "${col#hakmem:}" ] || profile=${col#hakmem:}
    alloc_env "$alloc"
    for s in "${size_list[@]}"; do
        for t in "${thread_list[@]}"; do
            # shellcheck disable=SC2086 # size_args holds separate words
            checked_run "$alloc" "run $run of larson $s with $t threads" "$limit" "$tmp/out" "$tmp/err" \
                "${pre[@]}" "$bin" "$seconds" ${size_args[$s]} "$t" || continue
            v=$(sed -n 's/^Throughput = *\([0-9.][0-9.]*\) operations.*/\1/p' "$tmp/out")
            if [ -z "$v" ]; then
                failures=$((failures + 1))
                echo "$prog: FAILED: run $run of larson $s with $t threads under $col printed no throughput" >&2
                continue
            fi
            echo "$col $s $t $v" >>"$results"
            [ -z "$csv" ] || echo "$run,$col,$s,$t,$v" >>"$csv"
            echo "[run $run/$runs] $col $s t=$t: $v ops/s" >&2
        done
    done
}

echo "$prog: ${alloc_list[*]}; $runs runs each, interleaved; sizes ${size_list[*]};" \
    "threads ${thread_list[*]}; $seconds s" >&2
interleave run_column

echo
echo "larson $seconds s | median ops/s over $runs runs, interleaved |" \
    "sizes: tiny 8-128 B, server 8-1000 B, mid 2-32 KiB"
case " ${alloc_list[*]} " in *" hakmem"*) echo "hakmem: $hakmem_lib" ;; esac
awk -v order="${alloc_list[*]}" -v sizes="${size_list[*]}" -v threads="${thread_list[*]}" -v runs="$runs" "$awk_lib"'
{ k = $1 SUBSEP $2 SUBSEP $3; v[k, ++n[k]] = $4 }
function row_header(title,    i) {
    printf "\n%-18s", title
    for (i = 1; i <= na; i++) printf " %16s", al[i]
    printf "\n"
}
END {
    na = split(order, al, " ")
    ns = split(sizes, sz, " ")
    nt = split(threads, th, " ")
    for (pass = 1; pass <= 2; pass++) {
        row_header(pass == 1 ? "ops/s" : "spread, runs")
        for (s = 1; s <= ns; s++)
            for (t = 1; t <= nt; t++) {
                printf "%-18s", sz[s] " t=" th[t]
                for (i = 1; i <= na; i++) {
                    k = al[i] SUBSEP sz[s] SUBSEP th[t]
                    if (!n[k]) { printf " %16s", (pass == 1 ? "n/a" : "0/" runs); continue }
                    for (j = 1; j <= n[k]; j++) x[j] = v[k, j]
                    med = median(x, n[k])
                    if (pass == 1) printf " %16.0f", med
                    else printf " %16s", sprintf("%.1f%% %d/%d", spread_pct(x, n[k], med), n[k], runs)
                }
                printf "\n"
            }
    }
    printf "\nops/s: the median over the runs of larson'"'"'s throughput (all threads); spread: (max - min) / median.\n"
}' "$results"

if [ -n "$csv" ]; then echo "raw runs: $csv"; fi
report_failures
