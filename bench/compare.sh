#!/bin/bash
# compare.sh — runs larson and bench_tiny under hakmem, glibc, mimalloc, jemalloc and tcmalloc, interleaved, and prints their medians side by side.
set -u -o pipefail

usage() {
    cat <<'EOF'
usage: bench/compare.sh [options]
  --builddir DIR      build directory with bench/larson, bench/bench_tiny and
                      .libs/libhakmem.so (default: the current directory)
  --hakmem-lib PATH   libhakmem to preload (default: $HAKMEM_LIB, else
                      DIR/.libs/libhakmem.so)
  --runs N            runs of each benchmark per allocator (default 5); run i
                      of every allocator comes before run i+1 of any
  --larson "ARGS"     larson arguments SECONDS MIN MAX BLOCKS ROUNDS SEED THREADS
                      (default "5 8 1000 5000 100 4141 2")
  --tiny "ARGS"       bench_tiny arguments (default: none, i.e. --reps 11 --ops 1000000)
  --allocators LIST   comma-separated subset of hakmem,glibc,mimalloc,jemalloc,tcmalloc
  --profile NAME      HAKMEM_PROFILE for the hakmem runs
  --csv FILE          also write every run's raw numbers to FILE
Peers are preloaded from their Debian packages (libmimalloc2.0, libjemalloc2,
libtcmalloc-minimal4); run as root, the script installs missing ones, and a
peer still missing is reported and skipped. Exits non-zero if a run failed or
ran on another allocator than intended.
EOF
}

die() {
    echo "compare.sh: $*" >&2
    exit 1
}

builddir=.
hakmem_lib=${HAKMEM_LIB:-}
runs=5
larson_args="5 8 1000 5000 100 4141 2"
tiny_args=
allocators=hakmem,glibc,mimalloc,jemalloc,tcmalloc
profile=
csv=
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --builddir | --hakmem-lib | --runs | --larson | --tiny | --allocators | --profile | --csv)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --builddir) builddir=$2 ;;
        --hakmem-lib) hakmem_lib=$2 ;;
        --runs) runs=$2 ;;
        --larson) larson_args=$2 ;;
        --tiny) tiny_args=$2 ;;
        --allocators) allocators=$2 ;;
        --profile) profile=$2 ;;
        --csv) csv=$2 ;;
        esac
        shift 2 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
    esac
done

case $runs in '' | *[!0-9]* | 0) die "--runs needs a positive integer" ;; esac
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

multiarch=/usr/lib/$(uname -m)-linux-gnu
declare -A peer_lib=([mimalloc]=$multiarch/libmimalloc.so.2 [jemalloc]=$multiarch/libjemalloc.so.2
    [tcmalloc]=$multiarch/libtcmalloc_minimal.so.4)
declare -A peer_pkg=([mimalloc]=libmimalloc2.0 [jemalloc]=libjemalloc2 [tcmalloc]=libtcmalloc-minimal4)

IFS=, read -r -a wanted <<<"$allocators"
missing_pkgs=()
for a in "${wanted[@]}"; do
    case $a in
    hakmem | glibc) ;;
    mimalloc | jemalloc | tcmalloc) [ -e "${peer_lib[$a]}" ] || missing_pkgs+=("${peer_pkg[$a]}") ;;
    *) die "unknown allocator '$a' (known: hakmem,glibc,mimalloc,jemalloc,tcmalloc)" ;;
    esac
done
if [ ${#missing_pkgs[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "compare.sh: installing ${missing_pkgs[*]}" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}"; } >&2 ||
        echo "compare.sh: warning: could not install ${missing_pkgs[*]}" >&2
fi

alloc_list=()
for a in "${wanted[@]}"; do
    case $a in
    hakmem)
        [ -n "$hakmem_lib" ] || hakmem_lib=$builddir/.libs/libhakmem.so
        [ -e "$hakmem_lib" ] || die "$hakmem_lib not found (give --hakmem-lib or HAKMEM_LIB)"
        # LD_PRELOAD resolves a relative path against each run's directory.
        hakmem_lib=$(realpath "$hakmem_lib")
        ;;
    mimalloc | jemalloc | tcmalloc)
        if [ ! -e "${peer_lib[$a]}" ]; then
            echo "compare.sh: skipping $a: ${peer_lib[$a]} not found (Debian package ${peer_pkg[$a]})" >&2
            continue
        fi ;;
    esac
    alloc_list+=("$a")
done
[ ${#alloc_list[@]} -gt 0 ] || die "no allocator left to run"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-compare.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results # "allocator benchmark value" per line, one per run
: >"$results"
if [ -n "$csv" ]; then
    echo "run,allocator,benchmark,statistic,value,unit" >"$csv" || die "cannot write $csv"
fi
failures=0

csv_row() {
    [ -z "$csv" ] || echo "$1" >>"$csv"
}

# The number after "key": in a one-line JSON text (the keys asked for occur
# once in hakmem's statistics).
json_num() {
    sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p" <<<"$1" | head -n 1
}

# run_one ALLOC BENCH RUN — one run of larson or bench_tiny; its numbers go
# to $results (and the CSV). A failed run is counted; a run on the wrong
# allocator ends the script.
run_one() {
    local alloc=$1 bench=$2 run=$3
    local out=$tmp/out err=$tmp/err stats=$tmp/stats.json limit status got
    local -a cmd pre
    if [ "$bench" = larson ]; then
        cmd=("$larson_bin" "${larson_argv[@]}")
        limit=$larson_limit
    else
        cmd=("$tiny_bin" "${tiny_argv[@]}")
        limit=$tiny_limit
    fi
    rm -f "$stats"
    case $alloc in
    hakmem) pre=(env LD_PRELOAD="$hakmem_lib" HAKMEM_STATS_FILE="$stats")
        [ -z "$profile" ] || pre+=(HAKMEM_PROFILE="$profile") ;;
    glibc) pre=(env -u LD_PRELOAD) ;;
    *) pre=(env LD_PRELOAD="${peer_lib[$alloc]}") ;;
    esac

    timeout "$limit" "${pre[@]}" "${cmd[@]}" >"$out" 2>"$err"
    status=$?
    if [ $status -ne 0 ]; then
        failures=$((failures + 1))
        {
            echo "compare.sh: FAILED: run $run of $bench under $alloc exited with status $status$([ $status = 124 ] && echo ' (timed out)')"
            echo "  command: ${pre[*]} ${cmd[*]}"
            tail -n 5 "$err" | sed 's/^/  stderr: /'
        } >&2
        csv_row "$run,$alloc,$bench,exit_status,$status,"
        return
    fi

    got=$(sed -n 's/^allocator: //p' "$err" | head -n 1)
    [ "$got" = "$alloc" ] ||
        die "run $run of $bench meant for $alloc ran on '${got:-unknown}' (command: ${pre[*]} ${cmd[*]})"
    if [ "$alloc" = hakmem ]; then
        [ -s "$stats" ] || die "run $run of $bench under hakmem wrote no statistics to HAKMEM_STATS_FILE"
        local json fast
        json=$(tr -d '\n' <"$stats")
        fast=$(sed -n 's/.*"tiny": *{[^}]*"alloc_fast": *\([0-9][0-9]*\).*/\1/p' <<<"$json")
        if grep -q '"counters": *false' <<<"$json"; then
            # A --disable-counters build: its statistics file is the only proof.
            [ -n "${warned_counters:-}" ] ||
                echo "compare.sh: warning: hakmem's counters are compiled out; hakmem use is checked only by its statistics file" >&2
            warned_counters=1
        elif [ -z "$fast" ] || [ "$fast" -eq 0 ]; then
            die "run $run of $bench under hakmem: tiny.alloc_fast is '${fast:-missing}' in its statistics, so hakmem did not serve the allocations"
        fi
        cp "$stats" "$tmp/hakmem-$bench.json"
    fi

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

echo "compare.sh: ${alloc_list[*]}; $runs runs each, interleaved; larson ${larson_argv[*]}; bench_tiny ${tiny_argv[*]:-(defaults)}${profile:+; HAKMEM_PROFILE=$profile}" >&2
for ((run = 1; run <= runs; run++)); do
    for a in "${alloc_list[@]}"; do
        run_one "$a" larson "$run"
        run_one "$a" bench_tiny "$run"
    done
done

echo
echo "larson ${larson_argv[*]} | bench_tiny ${tiny_argv[*]:-(defaults)} | $runs runs each, interleaved${profile:+ | hakmem profile $profile}"
case " ${alloc_list[*]} " in *" hakmem "*) echo "hakmem: $hakmem_lib" ;; esac
awk -v order="${alloc_list[*]}" -v runs="$runs" '
BEGIN {
    # Rows appear even when every run of them failed.
    nb = split("larson tiny_hot tiny_lifo tiny_fifo tiny_rand", benches, " ")
    for (b = 1; b <= nb; b++) seen[benches[b]] = 1
}
function sort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
{
    k = $1 SUBSEP $2
    v[k, ++n[k]] = $3 + 0
    if (!($2 in seen)) { seen[$2] = 1; benches[++nb] = $2 }
}
END {
    na = split(order, al, " ")
    for (b = 1; b <= nb; b++)
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP benches[b]
            if (!n[k]) continue
            m = n[k]
            for (j = 1; j <= m; j++) s[j] = v[k, j]
            sort(s, m)
            med[k] = m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
            spread[k] = med[k] > 0 ? 100 * (s[m] - s[1]) / med[k] : 0
        }
    printf "%-20s", "median"
    for (i = 1; i <= na; i++) printf " %12s", al[i]
    printf "\n"
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
    printf "\n%-20s", "speed vs mimalloc"
    for (i = 1; i <= na; i++) printf " %12s", al[i]
    printf "\n"
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
    printf "\n%-20s", "spread, runs"
    for (i = 1; i <= na; i++) printf " %12s", al[i]
    printf "\n"
    for (b = 1; b <= nb; b++) {
        bn = benches[b]
        printf "%-20s", bn
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP bn
            if (!n[k]) printf " %12s", "0/" runs
            else printf " %12s", sprintf("%.1f%% %d/%d", spread[k], n[k], runs)
        }
        printf "\n"
    }
    printf "\nspeed vs mimalloc: its median over ours for ns, ours over its for ops/s (>1 = faster than mimalloc).\n"
    printf "spread: (max - min) / median over the runs; runs: successful/attempted.\n"
}' "$results"

for b in larson bench_tiny; do
    f=$tmp/hakmem-$b.json
    [ -s "$f" ] || continue
    json=$(tr -d '\n' <"$f")
    line="hakmem counters, last $b run:"
    for key in alloc_fast alloc_slow thread_init thread_exit slab_adopt ss_remote remote_drain ss_map ss_unmap minor_faults rss_bytes; do
        line+=" $key=$(json_num "$json" "$key")"
    done
    echo "$line"
done

if [ -n "$csv" ]; then echo "raw runs: $csv"; fi
if [ $failures -gt 0 ]; then
    echo "compare.sh: $failures run(s) failed; see the messages above" >&2
    exit 1
fi
