#!/bin/sh
# tiny-layers.sh — checks that the files of src/tiny/ call only downward
# (the order of engine.h): no file uses a _hak_ function or variable defined
# in a file of its own layer or above. Prints each file's uses of the files
# below it; exits 1 on the first use that points up or sideways.
#   tests/tiny-layers.sh [-q] (make check runs it)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top/src/tiny"
quiet=${1:-}
# file:layer, bottom first; files of one layer may not call each other.
layers="sizeclass.c:0 slab.c:1 superslab.c:2 fallback.c:2 heap.c:3 validate.c:4 slow.c:5"

layer_of() {
    for e in $layers; do
        [ "${e%%:*}" = "$1" ] && { echo "${e#*:}"; return; }
    done
    echo "tiny-layers: $1 has no layer (add it to \$layers)" >&2
    exit 2
}

# The source without comments.
code() { awk '{ s = s $0 "\n" } END { gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", s); printf "%s", s }' "$1"; }

# The _hak_ names a file defines: the first name of a line at column 0
# that opens a function or declares a variable.
defs() {
    code "$1" | grep -vE '^(static|extern)' |
        sed -nE 's/^[A-Za-z_][^(=;]*[^A-Za-z0-9_](_hak_[A-Za-z0-9_]+) *(\(|\[|;| =).*/\1/p' | sort -u
}

status=0
for f in *.c; do
    lf=$(layer_of "$f")
    for g in *.c; do
        [ "$f" = "$g" ] && continue
        lg=$(layer_of "$g")
        used=$(for s in $(defs "$g"); do code "$f" | grep -qw "$s" && echo "$s"; done | tr '\n' ' ')
        [ -z "$used" ] && continue
        if [ "$lg" -lt "$lf" ]; then
            [ "$quiet" = -q ] || echo "$f -> $g: $used"
        else
            echo "tiny-layers: $f (layer $lf) uses $g (layer $lg): $used" >&2
            status=1
        fi
    done
done
exit $status
