#!/bin/sh
# build.sh — configures and builds hakmem in build/NAME from this checkout:
#   scripts/build.sh NAME [configure arguments...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: scripts/build.sh NAME [configure args]}
shift
# Only the directory goes to stdout (callers capture it); the rest to stderr.
{
    [ -x "$top/configure" ] && [ "$top/configure" -nt "$top/configure.ac" ] || (cd "$top" && autoreconf -fi)
    mkdir -p "$top/build/$name"
    cd "$top/build/$name"
    [ -f Makefile ] && [ config.status -nt "$top/configure" ] || "$top/configure" -q "$@"
    make -j"$(nproc)"
} >&2
echo "$top/build/$name"
