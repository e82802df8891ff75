# preload.sh — sourced by the shell tests that run programs under the
# preloaded hakmem: `ok`/`not ok` lines that set the exit status, and $lib,
# the absolute path of libhakmem.so taken from HAKMEM_LIBRARY.
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
