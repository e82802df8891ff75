#!/bin/sh
# programs.sh — real programs (python3, git, gcc, g++) under the preloaded hakmem give the same results as without it (SPEC §1.1).
#
# Needs HAKMEM_LIBRARY, the path of libhakmem.so. Each
# program runs with HAKMEM_STATS_FILE so the counters it leaves prove
# hakmem served it.
set -u

# Hang detection only: each program takes a few seconds at most.
TIMEOUT=300

. "$(dirname "$0")/../preload.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-programs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------- python3

# The pyenv shim is a shell script: preload the interpreter itself.
if ! py_shim=$(command -v python3); then
    fail "python3: not found"
else
    python=$(env -u LD_PRELOAD "$py_shim" -c 'import sys; print(sys.executable)')
    cat > "$tmp/work.py" <<'EOF'
import collections, json, random, threading

random.seed(12345)
d = {}
for i in range(60000):
    d['k%d' % i] = [i, str(i) * (i % 7), {'v': i * 3}]
order = sorted(d.items(), key=lambda kv: (len(kv[1][1]), kv[0]))
lengths = collections.Counter(len(v[1]) for v in d.values())
text = json.dumps(order[:2000])
back = json.loads(text)
words = [''.join(random.choice('abcdefgh') for _ in range(random.randint(1, 30))) for _ in range(15000)]
common = collections.Counter(words).most_common(5)
for i in range(0, 60000, 2):
    del d['k%d' % i]
for i in range(30000):
    d[('t', i)] = bytearray(i % 300)

# Objects made by one thread and dropped by another.
results = [None] * 4
def work(k):
    results[k] = [list(range(j % 100)) for j in range(5000)]
threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
shared = sum(len(x) for r in results for x in r)
results = None

print(len(d), sorted(lengths.items()), len(text), back[123], common)
print(sum(len(v) for v in d.values() if isinstance(v, bytearray)), shared)
EOF
    on_system env PYTHONMALLOC=malloc "$python" "$tmp/work.py" > "$tmp/py.want" 2> "$tmp/py.want.err"
    rc_want=$?
    on_hakmem python3 env PYTHONMALLOC=malloc "$python" "$tmp/work.py" > "$tmp/py.got" 2> "$tmp/py.err"
    rc=$?
    if same_output "python3 ($python)" $rc_want $rc "$tmp/py.want" "$tmp/py.got" "$tmp/py.want.err" "$tmp/py.err"; then
        pass "python3 ($python): same output as without hakmem"
    fi
    check_no_reports python3 "$tmp/py.err"
    check_served python3
fi

# ---------------------------------------------------------------- git

if ! command -v git >/dev/null; then
    fail "git: not found"
else
    (
        export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=hakmem GIT_AUTHOR_EMAIL=hakmem@example.org \
            GIT_COMMITTER_NAME=hakmem GIT_COMMITTER_EMAIL=hakmem@example.org
        mkdir -p "$HOME" "$tmp/repo" && cd "$tmp/repo" || exit 1
        on_hakmem git git init -q . || exit 1
        for i in 1 2 3; do
            seq 1 $((i * 20000)) > "numbers$i.txt"
            mkdir -p "dir$i"
            for k in $(seq 1 40); do echo "file $k of commit $i" > "dir$i/f$k"; done
            echo "change $i" >> README
            on_hakmem git git add -A || exit 1
            on_hakmem git git commit -q -m "commit $i" || exit 1
        done
        on_hakmem git git rm -q -r dir1 && on_hakmem git git commit -q -m "remove dir1" || exit 1
        on_hakmem git git log --format=%s > "$tmp/git.log" || exit 1
        on_hakmem git git gc -q || exit 1
        on_hakmem git git fsck --full 2> "$tmp/git.fsck" || exit 1
        on_hakmem git git log --format=%s > "$tmp/git.log.after-gc" || exit 1
        on_hakmem git git diff --stat HEAD~3 HEAD > "$tmp/git.diff" || exit 1
        on_system git diff --stat HEAD~3 HEAD > "$tmp/git.diff.want" || exit 1
    ) 2> "$tmp/git.err"
    rc=$?
    printf 'remove dir1\ncommit 3\ncommit 2\ncommit 1\n' > "$tmp/git.want"
    if [ $rc -ne 0 ]; then
        fail "git under hakmem: a command failed: $(head -c 300 "$tmp/git.err")"
    elif ! cmp -s "$tmp/git.want" "$tmp/git.log" || ! cmp -s "$tmp/git.want" "$tmp/git.log.after-gc"; then
        fail "git under hakmem: wrong history: $(tr '\n' '|' < "$tmp/git.log")"
    elif ! cmp -s "$tmp/git.diff.want" "$tmp/git.diff" || ! grep -q 'files changed' "$tmp/git.diff"; then
        fail "git under hakmem: diff differs from git without hakmem: $(tail -1 "$tmp/git.diff")"
    else
        pass "git: init, add, commit, rm, log, gc, fsck, diff"
    fi
    check_no_reports git "$tmp/git.err"
    check_served git
fi

# ---------------------------------------------------------------- gcc

cat > "$tmp/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    enum { N = 100000 };
    char **v = malloc(N * sizeof *v);
    unsigned long sum = 0;
    for (int i = 0; i < N; i++) {
        v[i] = malloc((size_t)(i % 500) + 1);
        memset(v[i], i & 0xff, (size_t)(i % 500) + 1);
    }
    for (int i = 0; i < N; i++) {
        v[i] = realloc(v[i], (size_t)(i % 3000) + 1);
        sum += (unsigned char)v[i][0];
        free(v[i]);
    }
    free(v);
    printf("sum %lu\n", sum);
    return 0;
}
EOF
if ! command -v gcc >/dev/null; then
    fail "gcc: not found"
else
    if ! on_hakmem gcc gcc -O2 -Wall -o "$tmp/prog" "$tmp/prog.c" 2> "$tmp/gcc.err"; then
        fail "gcc under hakmem: compile failed: $(head -c 300 "$tmp/gcc.err")"
    else
        on_system "$tmp/prog" > "$tmp/prog.want"
        on_hakmem gcc "$tmp/prog" > "$tmp/prog.got" 2>> "$tmp/gcc.err"
        rc=$?
        if [ $rc -ne 0 ] || ! cmp -s "$tmp/prog.want" "$tmp/prog.got" || ! grep -q '^sum [0-9]' "$tmp/prog.got"; then
            fail "gcc: the compiled program gave '$(cat "$tmp/prog.got")' (status $rc), want '$(cat "$tmp/prog.want")'"
        else
            pass "gcc: compiled and linked under hakmem; the program gives the same output on both"
        fi
    fi
    check_no_reports gcc "$tmp/gcc.err"
    check_served gcc
fi

# ---------------------------------------------------------------- g++

# C++ operator new/delete: hakmem's own, libstdc++'s nothrow and aligned forms on top (SPEC §2).
cat > "$tmp/prog.cc" <<'EOF'
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

int main()
{
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 50000; i++)
        m["key" + std::to_string(i % 5000)].push_back(i);
    std::vector<std::unique_ptr<int[]>> arrays;
    for (int i = 0; i < 2000; i++)
        arrays.emplace_back(new int[i % 700 + 1]());
    long sum = 0;
    for (auto &kv : m)
        for (int v : kv.second)
            sum += v;
    std::cout << m.size() << " " << sum << " " << arrays.size() << std::endl;
}
EOF
if ! command -v g++ >/dev/null; then
    fail "g++: not found (install g++ to test C++ programs)"
else
    if ! on_hakmem gxx g++ -O2 -o "$tmp/progxx" "$tmp/prog.cc" 2> "$tmp/gxx.err"; then
        fail "g++ under hakmem: compile failed: $(head -c 300 "$tmp/gxx.err")"
    else
        on_hakmem gxx "$tmp/progxx" > "$tmp/progxx.got" 2>> "$tmp/gxx.err"
        rc=$?
        if [ $rc -ne 0 ] || [ "$(cat "$tmp/progxx.got")" != "5000 1249975000 2000" ]; then
            fail "g++: the C++ program gave '$(cat "$tmp/progxx.got")' (status $rc), want '5000 1249975000 2000'"
        else
            pass "g++: compiled under hakmem; new/delete through hakmem give the right result"
        fi
    fi
    check_no_reports g++ "$tmp/gxx.err"
    check_served gxx
fi

exit $status
