# lib.sh — shell code shared by the benchmark runners (compare.sh, scenarios.sh): options, allocators, checked runs, medians.
# Sourced by bash after the runner sets prog (its name, for messages).
# shellcheck shell=bash disable=SC2034,SC2154 # variables are shared with the runner

die() {
    echo "$prog: $*" >&2
    exit 1
}

# ---- Options every runner takes ---------------------------------------------

known_allocators=hakmem,glibc,mimalloc,jemalloc,tcmalloc
builddir=.
hakmem_lib=${HAKMEM_LIBRARY:-}
runs=5
allocators=$known_allocators
profile=
csv=

common_usage() {
    cat <<EOF
  --builddir DIR      build directory with the benchmark programs in bench/ and
                      .libs/libhakmem.so (default: the current directory)
  --hakmem-lib PATH   libhakmem to preload (default: \$HAKMEM_LIBRARY, else
                      DIR/.libs/libhakmem.so)
  --runs N            runs of each benchmark per allocator (default 5); run i
                      of every allocator comes before run i+1 of any
  --allocators LIST   comma-separated subset of $known_allocators
  --profile NAME      HAKMEM_PROFILE for the hakmem runs
  --csv FILE          also write every run's raw numbers to FILE
Peers are preloaded from their Debian packages (libmimalloc2.0, libjemalloc2,
libtcmalloc-minimal4); run as root, the script installs missing ones, and a
peer still missing is reported and skipped. Exits non-zero if a run failed or
ran on another allocator than intended.
EOF
}

# need_value ARGS... — the option at the head of ARGS has its value.
need_value() {
    [ $# -ge 2 ] || die "$1 needs a value"
}

# parse_options OWN ARGS... — takes -h, --help (calling the runner's usage)
# and the options of common_usage from ARGS; for any other, the runner's
# function OWN ARGS... takes the option at their head and sets nshift to
# the words it used (0: not one of its options).
parse_options() {
    local own=$1
    shift
    while [ $# -gt 0 ]; do
        nshift=2
        case $1 in
        -h | --help) usage; exit 0 ;;
        --builddir) need_value "$@"; builddir=$2 ;;
        --hakmem-lib) need_value "$@"; hakmem_lib=$2 ;;
        --runs) need_value "$@"; runs=$2 ;;
        --allocators) need_value "$@"; allocators=$2 ;;
        --profile) need_value "$@"; profile=$2 ;;
        --csv) need_value "$@"; csv=$2 ;;
        *) "$own" "$@" ;;
        esac
        [ "$nshift" -gt 0 ] || { usage >&2; die "unknown argument '$1'"; }
        shift "$nshift"
    done
}

# ---- Allocators ---------------------------------------------------------------

multiarch=/usr/lib/$(uname -m)-linux-gnu
declare -A peer_lib=([mimalloc]=$multiarch/libmimalloc.so.2 [jemalloc]=$multiarch/libjemalloc.so.2
    [tcmalloc]=$multiarch/libtcmalloc_minimal.so.4)
declare -A peer_pkg=([mimalloc]=libmimalloc2.0 [jemalloc]=libjemalloc2 [tcmalloc]=libtcmalloc-minimal4)

# setup_allocators — checks the common options, installs missing peers when
# root, resolves hakmem_lib, and sets alloc_list to the allocators that can
# run; also makes the temporary directory tmp (removed at exit) and the
# failure count.
setup_allocators() {
    local a
    local -a wanted missing_pkgs=()
    case $runs in '' | *[!0-9]* | 0) die "--runs needs a positive integer" ;; esac
    IFS=, read -r -a wanted <<<"$allocators"
    for a in "${wanted[@]}"; do
        case $a in
        hakmem | glibc) ;;
        mimalloc | jemalloc | tcmalloc) [ -e "${peer_lib[$a]}" ] || missing_pkgs+=("${peer_pkg[$a]}") ;;
        *) die "unknown allocator '$a' (known: $known_allocators)" ;;
        esac
    done
    if [ ${#missing_pkgs[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "$prog: installing ${missing_pkgs[*]}" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}"; } >&2 ||
            echo "$prog: warning: could not install ${missing_pkgs[*]}" >&2
    fi

    alloc_list=()
    for a in "${wanted[@]}"; do
        case $a in
        hakmem)
            [ -n "$hakmem_lib" ] || hakmem_lib=$builddir/.libs/libhakmem.so
            [ -e "$hakmem_lib" ] || die "$hakmem_lib not found (give --hakmem-lib or HAKMEM_LIBRARY)"
            # LD_PRELOAD resolves a relative path against each run's directory.
            hakmem_lib=$(realpath "$hakmem_lib")
            ;;
        mimalloc | jemalloc | tcmalloc)
            if [ ! -e "${peer_lib[$a]}" ]; then
                echo "$prog: skipping $a: ${peer_lib[$a]} not found (Debian package ${peer_pkg[$a]})" >&2
                continue
            fi ;;
        esac
        alloc_list+=("$a")
    done
    [ ${#alloc_list[@]} -gt 0 ] || die "no allocator left to run"

    tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-$prog.XXXXXX") || die "mktemp failed"
    trap 'rm -rf "$tmp"' EXIT
    mkdir "$tmp/stats" || die "mkdir failed"
    failures=0
}

# alloc_env ALLOC — sets pre to the env command that runs a program on ALLOC.
# hakmem writes its statistics to $tmp/stats/PID.json (%p: every process
# that loads hakmem writes its own).
alloc_env() {
    case $1 in
    hakmem)
        pre=(env LD_PRELOAD="$hakmem_lib" HAKMEM_STATS_FILE="$tmp/stats/%p.json")
        [ -z "$profile" ] || pre+=(HAKMEM_PROFILE="$profile") ;;
    glibc) pre=(env -u LD_PRELOAD) ;;
    *) pre=(env LD_PRELOAD="${peer_lib[$1]}") ;;
    esac
}

# interleave FUNC — calls FUNC ALLOC RUN for every run and allocator, every
# allocator's run i before run i+1 of any, so that a change in the machine's
# load falls on all of them alike.
interleave() {
    local run a
    for ((run = 1; run <= runs; run++)); do
        for a in "${alloc_list[@]}"; do
            "$1" "$a" "$run"
        done
    done
}

# report_failures — the runner's last command: says how many runs failed,
# returning 1 if any did (the runner's exit status).
report_failures() {
    [ "$failures" -gt 0 ] || return 0
    echo "$prog: $failures run(s) failed; see the messages above" >&2
    return 1
}

# ---- Checked runs -----------------------------------------------------------------

# The number after "key": in a one-line JSON text (the keys asked for occur
# once in hakmem's statistics).
json_num() {
    sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p" <<<"$1" | head -n 1
}

# checked_run ALLOC WHAT LIMIT OUT ERR COMMAND... — runs COMMAND (which
# holds alloc_env's pre for ALLOC) for at most LIMIT seconds, stdout to OUT
# and stderr to ERR. Returns 0 if it succeeded; a failure is reported,
# counted in failures and returns 1 with the exit status in run_status. A
# run on another allocator than ALLOC, or a hakmem run whose statistics show
# no allocation served by hakmem, ends the script. After a hakmem run,
# hakmem_stats names the statistics file of the benchmark's process.
checked_run() {
    local alloc=$1 what=$2 limit=$3 out=$4 err=$5 got
    shift 5
    rm -f "$tmp"/stats/*.json
    timeout "$limit" "$@" >"$out" 2>"$err"
    run_status=$?
    if [ $run_status -ne 0 ]; then
        failures=$((failures + 1))
        {
            echo "$prog: FAILED: $what under $alloc exited with status $run_status$([ $run_status = 124 ] && echo ' (timed out)')"
            echo "  command: $*"
            tail -n 5 "$err" | sed 's/^/  stderr: /'
        } >&2
        return 1
    fi
    got=$(sed -n 's/^allocator: //p' "$err" | head -n 1)
    [ "$got" = "$alloc" ] || die "$what meant for $alloc ran on '${got:-unknown}' (command: $*)"
    [ "$alloc" = hakmem ] || return 0
    hakmem_served ||
        die "$what under hakmem: no statistics file in HAKMEM_STATS_FILE with tiny.alloc_fast + alloc_slow > 0, so hakmem did not serve the allocations"
}

# hakmem_served — whether the statistics files of the last run (alloc_env's
# HAKMEM_STATS_FILE, in $tmp/stats) show allocations served by hakmem; sets
# hakmem_stats to the file of the process that made them (empty if none).
# Every benchmark allocates its stdio buffers and bookkeeping through malloc,
# so hakmem's process has tiny allocations however large its blocks are.
hakmem_served() {
    local f json n
    hakmem_stats=
    for f in "$tmp"/stats/*.json; do
        [ -s "$f" ] || continue
        json=$(tr -d '\n' <"$f")
        if grep -q '"counters": *false' <<<"$json"; then
            # A --disable-counters build: its statistics file is the only proof.
            [ -n "${warned_counters:-}" ] ||
                echo "$prog: warning: hakmem's counters are compiled out; hakmem use is checked only by its statistics file" >&2
            warned_counters=1
            hakmem_stats=$f
        else
            n=$(sed -n 's/.*"tiny": *{[^}]*"alloc_fast": *\([0-9][0-9]*\)[^}]*"alloc_slow": *\([0-9][0-9]*\).*/\1 + \2/p' <<<"$json")
            [ -z "$n" ] || [ $((n)) -eq 0 ] || hakmem_stats=$f
        fi
    done
    [ -n "$hakmem_stats" ]
}

# hakmem_counters FILE LABEL KEY... — the counters KEY of a hakmem
# statistics file on one line.
hakmem_counters() {
    local json key line="hakmem counters, $2:"
    json=$(tr -d '\n' <"$1")
    shift 2
    for key in "$@"; do
        line+=" $key=$(json_num "$json" "$key")"
    done
    echo "$line"
}

# ---- Tables -------------------------------------------------------------------------

# awk functions for the runners' tables: sort(a, n) sorts a[1..n] in place;
# median(a, n) sorts and returns the median; spread_pct(a, n, med) is
# (max - min) / med in % of a sorted a; header(title[, extra]) prints a
# table's first line: title, the allocators of the awk variable order (split
# by allocators() into al[1..na]), then extra if given; spread_table(rows,
# nr) prints the spread of each allocator's run medians for rows[1..nr],
# from spread[allocator SUBSEP row] and n[same], its successful runs out of
# the awk variable runs.
awk_lib='
function sort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
function median(a, n) {
    sort(a, n)
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function spread_pct(a, n, med) { return med > 0 ? 100 * (a[n] - a[1]) / med : 0 }
function allocators() { na = split(order, al, " ") }
function header(title, extra,    i) {
    printf "\n%-20s", title
    for (i = 1; i <= na; i++) printf " %12s", al[i]
    if (extra != "") printf " %12s", extra
    printf "\n"
}
function spread_table(rows, nr,    r, i, k) {
    header("spread, runs")
    for (r = 1; r <= nr; r++) {
        printf "%-20s", rows[r]
        for (i = 1; i <= na; i++) {
            k = al[i] SUBSEP rows[r]
            if (!n[k]) printf " %12s", "0/" runs
            else printf " %12s", sprintf("%.1f%% %d/%d", spread[k], n[k], runs)
        }
        printf "\n"
    }
}
'
