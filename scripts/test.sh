#!/bin/sh
# test.sh — sets everything up and runs every test of hakmem: the full suite
# from a release tarball (make distcheck: unit tests in both SuperSlab modes,
# the CLI, and the core suite of preloaded programs under every profile),
# the unit and API stress tests under ASan+UBSan and under TSan, a
# --enable-debug build with its invariant checkers, and a --disable-counters
# build. Exits non-zero on any failure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/setup.sh
jobs=$(nproc)
status=0

run() { # name: description; the rest is the command
    name=$1; shift
    echo "=== $name"
    start=$(date +%s)
    if "$@"; then
        echo "=== $name: ok ($(( $(date +%s) - start )) s)"
    else
        echo "=== $name: FAILED ($(( $(date +%s) - start )) s)"
        status=1
    fi
}

check() { # build-name configure-args...: build and run make check there
    dir=$(sh scripts/build.sh "$@") || return 1
    make -C "$dir" -j"$jobs" check || { cat "$dir"/test-suite.log 2>/dev/null | tail -200; return 1; }
}

distcheck() {
    dir=$(sh scripts/build.sh release) || return 1
    make -C "$dir" -j"$jobs" distcheck DISTCHECK_MAKEFLAGS="-j$jobs" ||
        { find "$dir" -name test-suite.log -path '*_build*' -exec tail -200 {} \; ; return 1; }
}

run "release: make distcheck (full suite)" distcheck
run "asan+ubsan: unit and API stress tests" check asan --enable-sanitizer=address,undefined
run "tsan: API stress test" check tsan --enable-sanitizer=thread
run "debug: invariant checkers" check debug --enable-debug
run "counters compiled out" check nocounters --disable-counters
exit $status
