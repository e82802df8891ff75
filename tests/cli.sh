#!/bin/bash
# cli.sh — the hakmem command: usage errors, `config` against golden files
# for every shipped profile, the option docs in sync with the option table,
# and `run` preloading the library with the requested settings.
set -u
fail=0
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
conf="$srcdir/conf/hakmem.ini"

expect_status() { # expected-status description command...
    local want=$1 what=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    [ "$got" = "$want" ] || { bad "$what: exit $got, expected $want"; cat "$tmp/err"; }
}

expect_status 0 "--version" "$HAK_BIN" --version
grep -q '^hakmem [0-9]' "$tmp/out" || bad "--version output: $(cat "$tmp/out")"
expect_status 0 "--help" "$HAK_BIN" --help
grep -q 'usage: hakmem run' "$tmp/out" || bad "--help prints usage"
awk 'length > 100' "$tmp/out" | grep . && bad "--help has lines over 100 columns"
expect_status 2 "no arguments" "$HAK_BIN"
grep -q 'usage:' "$tmp/err" || bad "no arguments: usage on stderr"
expect_status 2 "unknown command" "$HAK_BIN" frobnicate
grep -q 'unknown command: frobnicate' "$tmp/err" || bad "unknown command message"
expect_status 2 "run without command" "$HAK_BIN" run
expect_status 2 "run --set unknown" "$HAK_BIN" run --set nosuch.key=1 -- true
grep -q 'unknown option: nosuch.key' "$tmp/err" || bad "run --set unknown message"
expect_status 2 "run --set malformed" "$HAK_BIN" run --set tiny.cache_max -- true
expect_status 2 "run bad flag" "$HAK_BIN" run --frob -- true
expect_status 2 "config bad flag" "$HAK_BIN" config --frob
expect_status 2 "config bad doc" "$HAK_BIN" config --doc pdf
expect_status 2 "config profile without name" "$HAK_BIN" config --profile

# Bad input on the command line fails at once (exit 2, the command not run),
# in one message that names the flag and, for a profile, the file's profiles.
unknown_profile() { # description: $tmp/out and $tmp/err hold what it printed
    grep -q ran "$tmp/out" && bad "$1 ran the command"
    [ "$(wc -l <"$tmp/err")" = 1 ] || bad "$1: not one message: $(cat "$tmp/err")"
    grep -Eq "^hakmem: --profile: no section \[profile nosuch\] in $conf; its profiles: baseline, .*, research$" "$tmp/err" ||
        bad "$1 message: $(cat "$tmp/err")"
}
expect_status 2 "run --profile nosuch" "$HAK_BIN" run --profile nosuch -- sh -c 'echo ran'
unknown_profile "run --profile nosuch"
expect_status 2 "config --profile nosuch" "$HAK_BIN" config --profile nosuch
unknown_profile "config --profile nosuch"
printf '[profile mine]\nbigcache.enabled = false\n' >"$tmp/mine.ini"
expect_status 2 "run --profile not in --config" "$HAK_BIN" run --profile nosuch --config "$tmp/mine.ini" -- true
grep -qx "hakmem: --profile: no section \[profile nosuch\] in $tmp/mine.ini; its profiles: mine" "$tmp/err" ||
    bad "run --profile not in --config message: $(cat "$tmp/err")"
expect_status 0 "run --profile of --config" "$HAK_BIN" run --profile mine --config "$tmp/mine.ini" -- true
# Blanks around a profile's name are not part of it (as `hakmem matrix` reads it).
printf '[profile  spaced ]\nbigcache.enabled = false\n' >"$tmp/spaced.ini"
expect_status 0 "config --profile with blanks in its section" "$HAK_BIN" config --profile spaced --config "$tmp/spaced.ini"
grep -Eq '^bigcache\.enabled +false +profile spaced ' "$tmp/out" || bad "[profile  spaced ] not applied: $(grep bigcache.enabled "$tmp/out")"
expect_status 2 "config --profile nosuch, blanks" "$HAK_BIN" config --profile nosuch --config "$tmp/spaced.ini"
grep -q 'its profiles: spaced$' "$tmp/err" || bad "[profile  spaced ] listed as: $(cat "$tmp/err")"
expect_status 2 "config --config missing" "$HAK_BIN" config --config "$tmp/nosuch.ini"
grep -qx "hakmem: --config: $tmp/nosuch.ini: No such file or directory" "$tmp/err" || bad "--config message: $(cat "$tmp/err")"
expect_status 2 "run --config missing" "$HAK_BIN" run --config "$tmp/nosuch.ini" -- true
# From the environment a missing profile is a warning, once, and the program
# runs: a library never ends a program.
for how in "$HAK_BIN run --" "env LD_PRELOAD=$HAKMEM_LIBRARY"; do
    HAKMEM_PROFILE=nosuch $how sh -c 'echo ran' >"$tmp/out" 2>"$tmp/err" || bad "HAKMEM_PROFILE=nosuch $how: exit $?"
    grep -qx ran "$tmp/out" || bad "HAKMEM_PROFILE=nosuch $how did not run the program"
    [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q '^hakmem: config: HAKMEM_PROFILE: no section \[profile nosuch\]' "$tmp/err" ||
        bad "HAKMEM_PROFILE=nosuch $how: not one warning: $(cat "$tmp/err")"
done
expect_status 1 "config with HAKMEM_PROFILE missing" env HAKMEM_PROFILE=nosuch "$HAK_BIN" config --values
[ "$(wc -l <"$tmp/err")" = 1 ] || bad "config with HAKMEM_PROFILE missing: not one warning: $(cat "$tmp/err")"

# Every profile of the shipped file against its golden file.
profiles=$(sed -n 's/^\[profile \(.*\)\]$/\1/p' "$conf")
[ -n "$profiles" ] || bad "no profiles found in $conf"
for p in $profiles; do
    golden="$srcdir/tests/golden/profile-$p.txt"
    if [ ! -f "$golden" ]; then
        bad "profile $p has no golden file $golden"
        continue
    fi
    HAKMEM_CONFIG="$conf" "$HAK_BIN" config --profile "$p" --values >"$tmp/p" 2>"$tmp/perr" ||
        bad "config --profile $p failed: $(cat "$tmp/perr")"
    [ -s "$tmp/perr" ] && bad "config --profile $p warned: $(cat "$tmp/perr")"
    diff -u "$golden" "$tmp/p" || bad "profile $p differs from $golden"
done
for g in "$srcdir"/tests/golden/profile-*.txt; do
    p=$(basename "$g" .txt); p=${p#profile-}
    echo "$profiles" | grep -qx "$p" || bad "golden file for a profile not in hakmem.ini: $p"
done
# The matrix profiles and modes SPEC §4 names are all there.
for p in baseline no-bigcache no-elo frozen no-batch-madvise no-superslab minimal balanced fast learning research; do
    echo "$profiles" | grep -qx "$p" || bad "hakmem.ini lacks [profile $p]"
done
grep -q '^tiny.use_superslab = true$' "$srcdir/tests/golden/profile-baseline.txt" || bad "SuperSlab must be on by default"

# The same profiles through the built-in copy (no file installed).
HAKMEM_CONFIG= "$HAK_BIN" config --profile no-superslab --values >"$tmp/b" 2>"$tmp/berr"
diff -u "$srcdir/tests/golden/profile-no-superslab.txt" "$tmp/b" || bad "built-in copy differs"

# Sources are named: file:line, profile, env.
HAKMEM_TINY_CACHE_MAX=77 HAKMEM_CONFIG="$conf" "$HAK_BIN" config --profile frozen --long >"$tmp/t" 2>&1
grep -Eq '^tiny\.cache_max +77 +env HAKMEM_TINY_CACHE_MAX' "$tmp/t" || bad "config shows env source"
grep -Eq "^evo\.policy +frozen +profile frozen \($conf:[0-9]+\)" "$tmp/t" || bad "config shows profile source"
# A configuration error is a warning and a non-zero status, not a crash.
HAKMEM_TINY_CACHE_MAX=lots "$HAK_BIN" config --values >"$tmp/t" 2>"$tmp/e"
[ $? = 1 ] || bad "config with a bad variable should exit 1"
grep -q "HAKMEM_TINY_CACHE_MAX: tiny.cache_max: 'lots' is not a whole number (keeping 256)" "$tmp/e" || bad "bad variable warning: $(cat "$tmp/e")"
# Blanks around a value are not part of it, from the environment or --set.
HAKMEM_BIGCACHE_ENABLED=' true ' HAKMEM_BIGCACHE_MAX_WASTE=' 40 ' "$HAK_BIN" config --values >"$tmp/t" 2>"$tmp/e" ||
    bad "config with blanks around values: $(cat "$tmp/e")"
grep -qx 'bigcache.max_waste = 40' "$tmp/t" || bad "env value with blanks: $(grep max_waste "$tmp/t")"
[ -s "$tmp/e" ] && bad "env values with blanks warned: $(cat "$tmp/e")"
"$HAK_BIN" run --set 'bigcache.max_waste= 50 ' --set 'bigcache.enabled= off' -- "$HAK_BIN" config --values >"$tmp/t" 2>"$tmp/e" ||
    bad "run --set with blanks: $(cat "$tmp/e")"
grep -qx 'bigcache.max_waste = 50' "$tmp/t" || bad "--set value with blanks: $(grep max_waste "$tmp/t")"
grep -qx 'bigcache.enabled = false' "$tmp/t" || bad "--set boolean with blanks: $(grep bigcache.enabled "$tmp/t")"
[ -s "$tmp/e" ] && bad "--set values with blanks warned: $(cat "$tmp/e")"
printf '[bigcache]\nmax_waste =   60 \t\n' >"$tmp/blanks.ini"
"$HAK_BIN" config --config "$tmp/blanks.ini" --values 2>"$tmp/e" | grep -qx 'bigcache.max_waste = 60' ||
    bad "file value with blanks: $(cat "$tmp/e")"
# Each warning shows once: the command's own allocator reads no HAKMEM_
# variable, and the program `run` starts (or `config`) reports — at its
# first allocation, so the program must allocate (ls does; true does not).
warned='tiny.cache_max: .lots. is not a whole number'
HAKMEM_TINY_CACHE_MAX=lots "$HAK_BIN" config --values >"$tmp/t" 2>"$tmp/e"
[ "$(grep -c "$warned" "$tmp/e")" = 1 ] || bad "config: the bad variable warned $(grep -c "$warned" "$tmp/e") times"
HAKMEM_TINY_CACHE_MAX=lots "$HAK_BIN" run -- ls / >/dev/null 2>"$tmp/e" || bad "run with a bad variable should run"
[ "$(grep -c "$warned" "$tmp/e")" = 1 ] && [ "$(wc -l <"$tmp/e")" = 1 ] ||
    bad "run: the bad variable warned $(grep -c "$warned" "$tmp/e") times: $(cat "$tmp/e")"
"$HAK_BIN" run --set tiny.cache_max=lots -- ls / >/dev/null 2>"$tmp/e" || bad "run with a bad --set value should run"
[ "$(grep -c "$warned" "$tmp/e")" = 1 ] && [ "$(wc -l <"$tmp/e")" = 1 ] ||
    bad "run --set: the bad value warned $(grep -c "$warned" "$tmp/e") times: $(cat "$tmp/e")"
# Under strict_config the program run starts ends after its one warning;
# config shows the values and the warning (the command's own allocator ends nothing).
HAKMEM_STRICT_CONFIG=1 HAKMEM_TINY_CACHE_MAX=lots "$HAK_BIN" config --values >"$tmp/t" 2>"$tmp/e"
st=$?
[ $st = 1 ] && [ "$(grep -c "$warned" "$tmp/e")" = 1 ] && grep -qx 'tiny.cache_max = 256' "$tmp/t" ||
    bad "config under strict_config: exit $st, $(cat "$tmp/e")"
HAKMEM_STRICT_CONFIG=1 HAKMEM_TINY_CACHE_MAX=lots "$HAK_BIN" run -- sh -c 'echo ran' >"$tmp/out" 2>"$tmp/e"
st=$?
[ $st = 1 ] && ! grep -q ran "$tmp/out" && [ "$(grep -c "$warned" "$tmp/e")" = 1 ] ||
    bad "run under strict_config: exit $st, $(cat "$tmp/out" "$tmp/e")"
HAKMEM_STATS=1 "$HAK_BIN" config --values >"$tmp/t" 2>"$tmp/e"
[ -s "$tmp/e" ] && bad "config printed its own allocator's stats: $(head -3 "$tmp/e")"
# config fits 100 columns, descriptions cut; --long keeps them whole, with
# sources too long for the short view (a file deep down).
mkdir -p "$tmp/a-directory-whose-name-is-long-enough/to-push-the-source-column-past-its-width"
long_conf="$tmp/a-directory-whose-name-is-long-enough/to-push-the-source-column-past-its-width/hakmem.ini"
cp "$conf" "$long_conf"
for args in "" "--profile frozen" "--profile minimal"; do
    # shellcheck disable=SC2086 # $args: words
    HAKMEM_CONFIG="$long_conf" HAKMEM_STATS_FILE="$long_conf.json" "$HAK_BIN" config $args >"$tmp/t" 2>"$tmp/e" ||
        bad "config $args: $(cat "$tmp/e")"
    [ "$(awk 'length > 100' "$tmp/t" | wc -l)" = 0 ] || bad "config $args: lines over 100 columns: $(awk 'length > 100' "$tmp/t")"
    # shellcheck disable=SC2086
    HAKMEM_CONFIG="$long_conf" HAKMEM_STATS_FILE="$long_conf.json" "$HAK_BIN" config --long $args >"$tmp/l" 2>"$tmp/e"
    [ "$(wc -l <"$tmp/t")" = "$(wc -l <"$tmp/l")" ] || bad "config $args: --long has other lines"
done
grep -q '^# file: .*/to-push-the-source-column-past-its-width/hakmem\.ini$' "$tmp/l" || bad "config --long: the file whole"
grep -Eq "^evo\.policy +off +profile minimal \($long_conf:[0-9]+\)" "$tmp/l" || bad "config --long: the source whole"
grep -Eq "^stats_file +$long_conf\.json +env HAKMEM_STATS_FILE" "$tmp/l" || bad "config --long: the value whole"
"$HAK_BIN" config >"$tmp/t"
"$HAK_BIN" config --long >"$tmp/l"
grep -q '\.\.\.$' "$tmp/t" || bad "config cuts no description"
grep -Eq "^evo\.policy +auto +default +lifecycle: auto \(learn, freeze, probe, relearn\), learn \(always\), frozen .*probing\), off \(ELO without a lifecycle\)$" "$tmp/l" ||
    bad "config --long: the description whole: $(grep '^evo\.policy' "$tmp/l")"
"$HAK_BIN" config --json >"$tmp/j" || bad "config --json"
grep -q '"tiny.use_superslab": {"value": "true"' "$tmp/j" || bad "config --json content"

# Documentation generated from the option table is current.
"$HAK_BIN" config --doc ini >"$tmp/ini"
sed -n '/^; BEGIN OPTIONS/,/^; END OPTIONS/p' "$conf" | sed '1d;$d' >"$tmp/ini.have"
diff -u "$tmp/ini.have" "$tmp/ini" || bad "conf/hakmem.ini option docs are stale: run scripts/gen-docs.sh"
"$HAK_BIN" config --doc markdown >"$tmp/md"
sed -n '/^<!-- BEGIN OPTIONS/,/^<!-- END OPTIONS/p' "$srcdir/doc/options.md" | sed '1d;$d' >"$tmp/md.have"
diff -u "$tmp/md.have" "$tmp/md" || bad "doc/options.md option table is stale: run scripts/gen-docs.sh"

# The manual names the configured sysconfdir, where hakmem.ini is read from.
grep -qxF ".I $HAK_SYSCONFDIR/hakmem.ini" "$builddir/doc/hakmem.1" ||
    bad "hakmem.1 FILES: $(sed -n '/^\.SH FILES/,/^\.SH/p' "$builddir/doc/hakmem.1" 2>&1)"
grep -n '@[a-z_]*@' "$builddir/doc/hakmem.1" && bad "hakmem.1 has a placeholder left"

# run: the library is preloaded and the settings are passed on.
"$HAK_BIN" run --profile minimal --set tiny.cache_max=99 --set bigcache.enabled=off -- env >"$tmp/env" 2>"$tmp/err" ||
    bad "run env failed: $(cat "$tmp/err")"
grep -q "^LD_PRELOAD=.*libhakmem\.so" "$tmp/env" || bad "run sets LD_PRELOAD"
grep -qx "HAKMEM_PROFILE=minimal" "$tmp/env" || bad "run sets HAKMEM_PROFILE"
grep -qx "HAKMEM_TINY_CACHE_MAX=99" "$tmp/env" || bad "run --set sets the variable"
grep -qx "HAKMEM_BIGCACHE_ENABLED=off" "$tmp/env" || bad "run --set bigcache.enabled"
HAKMEM_STATS_FILE="$tmp/stats.json" "$HAK_BIN" run -- sh -c 'ls / >/dev/null; echo ok' >"$tmp/o" || bad "run sh"
# Proof of use: allocation counts, or without counters the file hakmem wrote.
grep -Eq '"alloc_fast": [1-9]|"counters": false' "$tmp/stats.json" 2>/dev/null ||
    bad "run: hakmem was not in use (stats: $(head -c 300 "$tmp/stats.json" 2>/dev/null))"
# Text logs give thresholds and sizes in MiB or KiB, as the stats text does
# (awk's 128 KiB strings fill the windows).
HAKMEM_VERBOSE=2 HAKMEM_ELO_WINDOW=20 HAKMEM_ELO_MIN_SAMPLES=5 "$HAK_BIN" run -- \
    awk 'BEGIN { s = "x"; for (i = 0; i < 17; i++) s = s s; for (i = 0; i < 400; i++) t = s i }' 2>"$tmp/e" ||
    bad "run awk with verbose logs"
grep -Eq '^hakmem: elo: window [0-9]+: strategy [0-9]+ \(threshold [0-9.]+ [KM]iB\) .*, [0-9.]+ [KM]iB mapped' "$tmp/e" ||
    bad "verbose window log in MiB: $(grep -m1 'elo: window' "$tmp/e")"
grep -E 'threshold [0-9]+[),]| [0-9]+ bytes mapped' "$tmp/e" && bad "a threshold in bytes in the logs"
expect_status 127 "run missing program" "$HAK_BIN" run -- /nonexistent/program
exit $fail
