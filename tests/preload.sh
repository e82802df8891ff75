# preload.sh — sourced by the shell tests that run programs under the
# preloaded hakmem: `ok`/`not ok` lines that set the exit status, $lib (the
# absolute path of libhakmem.so taken from HAKMEM_LIBRARY), running a
# program with and without hakmem, and the proofs that hakmem served it and
# reported nothing.
status=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; status=1; }

lib=${HAKMEM_LIBRARY:-}
if [ -z "$lib" ] || [ ! -f "$lib" ]; then
    echo "${0##*/}: HAKMEM_LIBRARY must name libhakmem.so (got '$lib')" >&2
    exit 1
fi
case $lib in
/*) ;;
*) lib=$PWD/$lib ;;
esac

# Runs a command under hakmem, its counters going to $tmp/stats/NAME
# (the caller sets tmp and TIMEOUT). Usage: on_hakmem NAME command...
on_hakmem() {
    stats_dir=$tmp/stats/$1
    shift
    mkdir -p "$stats_dir"
    # timeout runs outside the stats: only NAME's own processes write them.
    timeout "$TIMEOUT" env LD_PRELOAD="$lib" HAKMEM_STATS_FILE="$stats_dir/%p.json" "$@"
}

# The same without hakmem (the reference).
on_system() {
    env -u LD_PRELOAD timeout "$TIMEOUT" "$@"
}

# A run under hakmem against the reference run: both exit 0 and print the
# same; otherwise says how they differ and returns 1. Usage:
# same_output LABEL RC_WANT RC WANT GOT WANT_ERR GOT_ERR (files of output)
same_output() {
    if [ "$2" -ne 0 ]; then
        fail "$1: the run without hakmem failed ($2): $(head -c 300 "$6")"
    elif [ "$3" -ne 0 ]; then
        fail "$1 under hakmem: exit status $3: $(head -c 300 "$7")"
    elif ! cmp -s "$4" "$5"; then
        fail "$1 under hakmem: output differs: $(diff "$4" "$5" | head -c 300)"
    else
        return 0
    fi
    return 1
}

# The most allocations (fast and slow path) one of NAME's processes counted
# in its stats file (0 if none).
allocs() {
    for f in "$tmp/stats/$1"/*.json; do
        [ -e "$f" ] || continue
        grep -oE '"alloc_(fast|slow)": *[0-9]+' "$f" | awk -F': *' '{ n += $2 } END { print n + 0 }'
    done | sort -n | tail -1
}

# Did hakmem serve NAME? A stats file with allocations in it (a build
# without counters can only show that hakmem wrote the file).
check_served() {
    n=$(allocs "$1")
    if [ "${n:-0}" -gt 0 ]; then
        pass "$1: hakmem served it ($n allocations in its stats)"
    elif cat "$tmp/stats/$1"/*.json 2>/dev/null | grep -q '"counters": false'; then
        pass "$1: hakmem wrote its stats (counters compiled out)"
    else
        fail "$1: no stats file shows allocations by hakmem (was it preloaded?)"
    fi
}

# Any report of hakmem's on the stderr saved in FILE means it rejected
# something the program did. Usage: check_no_reports NAME FILE
check_no_reports() {
    if grep -E '^hakmem: ' "$2" >/dev/null; then
        fail "$1: hakmem reported: $(grep -E '^hakmem: ' "$2" | head -3)"
    fi
}
