#!/bin/sh
# test.sh — sets everything up and runs every test of hakmem: the full suite
# from a release tarball (make distcheck: unit tests in both SuperSlab modes,
# the CLI, and the core suite of preloaded programs under every profile),
# the unit and API stress tests under ASan+UBSan and under TSan, a
# --enable-debug build with its invariant checkers, and a --disable-counters
# build; memcheck of the unit tests, memcheck with the client requests of a
# --enable-valgrind build, and the libFuzzer harnesses; once, on the release
# build, the long hard-condition tests and real programs under LD_PRELOAD
# (redis, sqlite3, stress-ng, Python's tests), and the peers' own test
# suites against glibc (glibc 2.36's malloc tests, CPython's thread and fork
# modules, mimalloc's stress test). Exits non-zero on any failure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/setup.sh
jobs=$(nproc)
status=0
# The failing stages and their failing tests' lines, printed again at the
# end: a failure in the first stage is otherwise an hour's output back.
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

run() { # name: description; the rest is the command
    name=$1; shift
    echo "=== $name"
    start=$(date +%s)
    if "$@"; then
        echo "=== $name: ok ($(( $(date +%s) - start )) s)"
    else
        echo "=== $name: FAILED ($(( $(date +%s) - start )) s)"
        echo "$name" >>"$summary"
        status=1
    fi
}

# The lines of DIR's test logs that say what failed (automake's FAIL and
# ERROR, TAP's not ok, profiles.sh's FAIL: [profile]), into the summary.
failures() { # dir
    find "$1" -name '*.log' ! -name test-suite.log -exec grep -h -E '^(FAIL|ERROR|not ok)' {} + 2>/dev/null |
        head -60 | sed 's/^/    /' >>"$summary"
}

check() { # build-name configure-args...: build and run make check there
    dir=$(sh scripts/build.sh "$@") || return 1
    make -C "$dir" -j"$jobs" check ||
        { cat "$dir"/test-suite.log 2>/dev/null | tail -200; failures "$dir"; return 1; }
}

distcheck() {
    dir=$(sh scripts/build.sh release) || return 1
    make -C "$dir" -j"$jobs" distcheck DISTCHECK_MAKEFLAGS="-j$jobs" ||
        { find "$dir" -name test-suite.log -path '*_build*' -exec tail -200 {} \; ; failures "$dir"; return 1; }
}

# Only the given tests of a build (make check TESTS=...), logs on failure.
check_only() { # build-name tests make-args -- configure-args...
    build=$1 tests=$2 args=$3 # not `name`: run() prints that one
    shift 4
    dir=$(sh scripts/build.sh "$build" "$@") || return 1
    # shellcheck disable=SC2086 # $args: make variable assignments
    make -C "$dir" -j"$jobs" check TESTS="$tests" $args ||
        { for t in $tests; do cat "$dir/$t.log" 2>/dev/null; done; failures "$dir"; return 1; }
}

# The long tests of the release build (make check-heavy), once.
heavy() {
    dir=$(sh scripts/build.sh release) || return 1
    make -C "$dir" -j"$jobs" check-heavy
}

# A peer's suite (tests/peers/) against the release build's library.
peer() { # script args...
    dir=$(sh scripts/build.sh release) || return 1
    script=$1
    shift
    HAKMEM_LIBRARY="$dir/.libs/libhakmem.so" sh "tests/peers/$script" "$@"
}

# mimalloc's stress test, preloaded against glibc and on the TSan build's
# hak_ API.
mimalloc_stress() {
    tsan=$(sh scripts/build.sh tsan --enable-sanitizer=thread) || return 1
    peer mimalloc-stress.sh --rounds 2 --tsan "$tsan"
}

# The debug build's unit tests under memcheck (it has no client requests).
memcheck() {
    dir=$(sh scripts/build.sh debug --enable-debug) || return 1
    make -C "$dir" -j"$jobs" memcheck
}

run "release: make distcheck (full suite)" distcheck
run "asan+ubsan: unit and API stress tests" check asan --enable-sanitizer=address,undefined
run "tsan: unit and API tests" check tsan --enable-sanitizer=thread
run "debug: invariant checkers" check debug --enable-debug
run "counters compiled out" check nocounters --disable-counters
run "release: fork deadlock, thread exit, real programs (redis, sqlite3, stress-ng, Python tests)" heavy
run "peers: glibc 2.36's malloc tests, hakmem against glibc" peer glibc-malloc.sh
run "peers: CPython's thread, fork and exit test modules (quick list, 2 rounds), hakmem against glibc" \
    peer cpython.sh --quick --rounds 2
run "peers: mimalloc's stress test (3 command lines, 2 rounds), hakmem against glibc, and under TSan" \
    mimalloc_stress
run "valgrind: unit and API stress tests under memcheck" memcheck
run "valgrind: client requests (memcheck sees hakmem's blocks)" \
    check_only valgrind tests/valgrind/client.sh "" -- --enable-valgrind
run "fuzzing: config parser and allocation sequences, 60 s each" \
    check_only fuzz tests/fuzz/run.sh FUZZ_SECONDS=60 -- CC=clang --enable-fuzzing
if [ $status != 0 ]; then
    echo "=== failed:"
    cat "$summary"
fi
exit $status
