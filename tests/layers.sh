#!/bin/sh
# layers.sh — fails on an include that points up the layers of SPEC §3, or
# from one tier to the other. From the top down:
#   6 the hakmem command (src/cli/)
#   5 the entry points (api.c, override.c, compat.c, entry.h, entry.def)
#   4 the composition root: the out-of-line paths, start-up, statistics
#     (alloc, init, stats)
#   3 the policy (src/policy/)
#   2 the tiers: src/tiny/ and src/large/, which never include each other
#   1 the services under both tiers (purge, check)
#   0 the floor: everything else in src/, and include/hakmem.h
# A file may include files of its own layer or below. The parts of a
# thread's TLS object that modules own (tiny/tls.h, policy/tls.h, and
# tiny/sizeclass.h for the class count) are floor headers kept beside their
# module: thread.h includes them, so they may include only the floor.
# Run by make check (srcdir set) or by hand from the top of the tree.
set -eu
top=${srcdir:-.}
cd "$top"
[ -d src ] || { echo "layers.sh: run from the top of the tree (or set srcdir)" >&2; exit 2; }

find src include -name '*.[ch]' -o -name '*.def' | sort | awk '
function rank(f) {
    if (f ~ /^src\/cli\//) return 6
    if (f ~ /^src\/(api\.c|override\.c|compat\.c|entry\.h|entry\.def)$/) return 5
    if (f ~ /^src\/(alloc|init|stats)\.[ch]$/) return 4
    if (f ~ /^src\/(tiny|policy)\/tls\.h$/ || f == "src/tiny/sizeclass.h") return 0
    if (f ~ /^src\/policy\//) return 3
    if (f ~ /^src\/(tiny|large)\//) return 2
    if (f ~ /^src\/(purge|check)\.[ch]$/) return 1
    return 0
}
function tier(f) { return f ~ /^src\/tiny\// ? "tiny" : f ~ /^src\/large\// ? "large" : "" }
function exists(p) { return (getline line < p) >= 0 ? (close(p) || 1) : 0 }
function norm(p,   n, i, out, parts, k) {
    n = split(p, parts, "/"); k = 0
    for (i = 1; i <= n; i++) {
        if (parts[i] == "..") k--
        else if (parts[i] != ".") out[++k] = parts[i]
    }
    p = out[1]
    for (i = 2; i <= k; i++) p = p "/" out[i]
    return p
}
{ files[NR] = $0 }
END {
    bad = 0
    for (i = 1; i in files; i++) {
        f = files[i]
        dir = f; sub(/\/[^\/]*$/, "", dir)
        lineno = 0
        while ((getline line < f) > 0) {
            lineno++
            if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
            inc = line; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
            t = ""
            if (exists(dir "/" inc)) t = norm(dir "/" inc)
            else if (exists("src/" inc)) t = "src/" inc
            else if (exists("include/" inc)) t = "include/" inc
            if (t == "" || t == f) continue  # generated (build-config.h) or system
            why = ""
            if (rank(t) > rank(f)) why = "points up (layer " rank(f) " includes layer " rank(t) ")"
            else if (tier(f) != "" && tier(t) != "" && tier(f) != tier(t)) why = "joins the two tiers"
            if (why != "") { printf "%s:%d: includes %s: %s\n", f, lineno, t, why; bad = 1 }
        }
        close(f)
    }
    exit bad
}' && echo "layers.sh: no include points up or across the tiers"
