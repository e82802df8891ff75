#!/bin/sh
# profiles.sh — the core suite (every preloaded test program) under each
# [profile NAME] of conf/hakmem.ini, so a profile added there is tested at
# once; two profiles run at a time. `profiles.sh --one NAME` runs one.
set -u
if [ "${1:-}" = "--one" ]; then
    p=$2
    log="$builddir/tests/profiles.d/$p.log"
    : >"$log"
    fails=0
    for t in $HAK_PRELOAD_TESTS; do
        case $t in
        *.sh) cmd="sh $srcdir/$t" ;;
        *) cmd="$builddir/$t" ;;
        esac
        # The long stress run in each SuperSlab mode, the quick one elsewhere.
        args=
        case "$t" in
        */stress) case "$p" in baseline | no-superslab) ;; *) args=--quick ;; esac ;;
        esac
        echo "--- $p: $t $args" >>"$log"
        start=$(date +%s)
        # shellcheck disable=SC2086 # $cmd and $args split into words
        if sh "$srcdir/tests/watch.sh" 600 env HAKMEM_PROFILE=$p LD_PRELOAD=$HAKMEM_LIBRARY $cmd $args >>"$log" 2>&1; then
            echo "PASS: [$p] $t ($(( $(date +%s) - start )) s)"
        else
            line="FAIL: [$p] $t (exit $?, $(( $(date +%s) - start )) s; log: $log)"
            echo "$line"
            echo "=== $line" >>"$log"
            fails=1
        fi
    done
    exit $fails
fi

profiles=$(sed -n 's/^\[profile \(.*\)\]$/\1/p' "$HAKMEM_CONFIG")
[ -n "$profiles" ] || { echo "no profiles in $HAKMEM_CONFIG"; exit 1; }
[ -n "$HAK_PRELOAD_TESTS" ] || { echo "no preloaded tests"; exit 1; }
mkdir -p "$builddir/tests/profiles.d"
printf '%s\n' $profiles | xargs -P 2 -n 1 sh "$0" --one
status=$?
# On failure, each failing test's own output (its last 120 lines), then the
# failures again: they are what the end of the log should say.
if [ $status != 0 ]; then
    for f in "$builddir"/tests/profiles.d/*.log; do
        awk '/^--- [^ ]*: tests\//{n=0} {sec[n++]=$0} /^=== FAIL: /{for(i=(n>120?n-120:0);i<n;i++) print sec[i]; n=0}' "$f"
    done
    cat "$builddir"/tests/profiles.d/*.log | grep '^=== FAIL: ' | sed 's/^=== //'
fi
exit $status
