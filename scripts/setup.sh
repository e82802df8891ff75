#!/bin/sh
# setup.sh — installs what building, testing and benchmarking hakmem need,
# from Debian 12's packages (as root, or through sudo).
set -eu
packages="autoconf automake libtool pkg-config make gcc g++ libc6-dev
libinih-dev libcmocka-dev dpkg-dev
python3 git strace procps gdb gnuplot-nox
valgrind clang libclang-rt-14-dev
libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
redis-server redis-tools sqlite3 stress-ng libpython3.11-testsuite"

missing=
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    as_root=
elif command -v sudo >/dev/null 2>&1; then
    as_root=sudo
else
    echo "setup.sh: missing packages:$missing — run as root" >&2
    exit 1
fi
echo "setup.sh: installing$missing"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
