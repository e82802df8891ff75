#!/bin/sh
# run.sh — runs each libFuzzer harness of tests/fuzz for FUZZ_SECONDS (60),
# starting from its committed seed corpus (tests/fuzz/corpus/NAME; inputs
# found on the way go to a scratch directory, not into the source tree).
# Any crash, sanitizer report, leak or timeout fails; the input that caused
# it is printed (hex) and kept in $FUZZ_ARTIFACTS (default: a directory
# under the build directory) for reproduction: `tests/fuzz/NAME FILE`.
#
# Needs builddir and srcdir (set by the test harness).
set -u
: "${builddir:?}" "${srcdir:?}"
seconds=${FUZZ_SECONDS:-60}
artifacts=${FUZZ_ARTIFACTS:-$builddir/tests/fuzz/artifacts}
mkdir -p "$artifacts" || exit 1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT

status=0
for name in fuzz_config fuzz_alloc; do
    seeds=$srcdir/tests/fuzz/corpus/$name
    dict=
    [ -f "$srcdir/tests/fuzz/${name#fuzz_}.dict" ] && dict=-dict=$srcdir/tests/fuzz/${name#fuzz_}.dict
    mkdir -p "$scratch/$name"
    echo "== $name: ${seconds} s from $(find "$seeds" -type f | wc -l) seeds"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: the live
    # table holds at most 64 blocks of 6 MiB.
    # shellcheck disable=SC2086 # $dict is empty or one option
    if "$builddir/tests/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$name-" $dict \
        "$scratch/$name" "$seeds" >"$scratch/$name.log" 2>&1; then
        grep -E "^(#[0-9]+ *DONE|Done [0-9]+ runs|stat::number_of_executed_units)" "$scratch/$name.log"
        echo "ok - $name"
    else
        tail -60 "$scratch/$name.log"
        for f in "$artifacts/$name"-*; do
            [ -f "$f" ] || continue
            echo "input $f:"
            od -A d -t x1 "$f" | head -20
        done
        echo "not ok - $name"
        status=1
    fi
done
exit $status
