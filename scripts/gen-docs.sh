#!/bin/sh
# gen-docs.sh — rewrites the generated option documentation in
# conf/hakmem.ini and doc/options.md from the option table, via a built hakmem:
#   scripts/gen-docs.sh BUILDDIR
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: scripts/gen-docs.sh BUILDDIR}/hakmem
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.new"' EXIT

# replace FILE BEGIN-REGEX END-REGEX: the lines between the markers become $tmp.
replace() {
    awk -v gen="$tmp" -v b="$2" -v e="$3" '
        $0 ~ b { print; while ((getline line < gen) > 0) print line; skip = 1; next }
        $0 ~ e { skip = 0 }
        !skip { print }' "$1" >"$tmp.new"
    mv "$tmp.new" "$1"
}

"$bin" config --doc ini >"$tmp"
replace "$top/conf/hakmem.ini" '^; BEGIN OPTIONS' '^; END OPTIONS'
"$bin" config --doc markdown >"$tmp"
replace "$top/doc/options.md" '^<!-- BEGIN OPTIONS' '^<!-- END OPTIONS'
