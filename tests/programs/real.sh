#!/bin/sh
# real.sh — real programs under LD_PRELOAD=libhakmem.so (SPEC §1.1; git, gcc and python3 scripts are in tests/integration/programs.sh): redis-server under redis-benchmark and a checking client, sqlite3 on a generated database, stress-ng's malloc stressor with --verify, and a slice of Python's own test suite. Each result is checked (exit status, the output of the run without hakmem where it is deterministic, nothing lost) with proof that hakmem served the process (its stats file, or libhakmem in /proc/PID/maps).
#
# Needs HAKMEM_LIBRARY (the path of libhakmem.so) and the Debian packages
# redis-server, redis-tools, sqlite3, stress-ng and libpython3.11-testsuite
# (scripts/setup.sh installs them). Network: 127.0.0.1 only.
set -u

. "$(dirname "$0")/../preload.sh"

# Hang detection only; the slowest part (the Python tests) takes ~30 s.
TIMEOUT=300
# The Debian interpreter: the test suite package is built for it.
PY=/usr/bin/python3.11

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-real.XXXXXX") || exit 1
redis_pid='' tpid=''
# shellcheck disable=SC2317 # run by the traps
cleanup() {
    # The server, and timeout in front of it (which passes TERM on).
    [ -n "$redis_pid" ] && kill -9 "$redis_pid" 2>/dev/null
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

need() {
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { fail "$c: not installed (scripts/setup.sh installs it)"; return 1; }
    done
}

# ---------------------------------------------------------------- redis

redis() {
    need redis-server redis-cli redis-benchmark || return
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$tmp/redis"
    on_hakmem redis redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
        --dir "$tmp/redis" --logfile "$tmp/redis/server.log" >"$tmp/redis/stdout" 2>"$tmp/redis/stderr" &
    tpid=$!
    for _ in $(seq 1 100); do
        redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
    # The server is timeout's child.
    redis_pid=$(pgrep -P "$tpid" redis-server || pgrep -P "$(pgrep -P "$tpid" | head -1)" redis-server)
    if [ -z "$redis_pid" ] || ! redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
        fail "redis: the server did not start: $(tail -5 "$tmp/redis/server.log" "$tmp/redis/stderr" 2>/dev/null)"
        return
    fi
    # Debian's redis links jemalloc (INFO still says so): the maps tell.
    if grep -q libhakmem "/proc/$redis_pid/maps"; then
        pass "redis: libhakmem is mapped in redis-server (pid $redis_pid)"
    else
        fail "redis: libhakmem is not in /proc/$redis_pid/maps"
    fi

    # The load: 20,000 requests of each command, 50 clients; nothing may
    # fail, and the counter INCR hit must count every one of them.
    n=20000
    redis-benchmark -h 127.0.0.1 -p "$port" -n "$n" -c 50 -d 200 -q \
        -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset >"$tmp/redis/bench" 2>&1
    rc=$?
    tr '\r' '\n' <"$tmp/redis/bench" | grep 'requests per second' >"$tmp/redis/bench.done"
    tests=0
    for t in SET GET INCR LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD LRANGE_100 MSET; do
        grep -q "^${t}[: ]" "$tmp/redis/bench.done" && tests=$((tests + 1))
    done
    count=$(redis-cli -h 127.0.0.1 -p "$port" get counter:__rand_int__)
    if [ $rc -ne 0 ] || [ "$tests" -ne 13 ] || grep -qi error "$tmp/redis/bench"; then
        fail "redis-benchmark: status $rc, $tests of 13 tests done: $(tr '\r' '\n' <"$tmp/redis/bench" | grep -i error | head -3)"
    elif [ "$count" != "$n" ]; then
        fail "redis-benchmark: the INCR counter is '$count', want $n (requests lost)"
    else
        pass "redis-benchmark: 13 commands × $n requests, none lost (INCR counter $count)"
    fi

    # Values of every tier stored and read back, deleted, counted.
    "$PY" - "$port" >"$tmp/redis/client" 2>&1 <<'EOF'
import hashlib, socket, sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")

def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    return reply()

def reply():
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        return [reply() for _ in range(int(rest))]
    raise RuntimeError("bad reply %r" % line)

def value(i):
    size = [1, 100, 1000, 20000, 300000, 3000000][i % 6] + i
    seed = hashlib.sha256(b"%d" % i).digest()
    return (seed * (size // 32 + 1))[:size]

N = 600
for i in range(N):
    assert cmd("SET", "v%d" % i, value(i)) == b"OK"
    cmd("RPUSH", "list%d" % (i % 10), value(i)[:500])
    cmd("HSET", "hash", "f%d" % i, value(i)[:50])
for i in range(0, N, 3):
    cmd("APPEND", "v%d" % i, b"tail")
bad = 0
for i in range(N):
    want = value(i) + (b"tail" if i % 3 == 0 else b"")
    bad += cmd("GET", "v%d" % i) != want
for i in range(0, N, 2):
    cmd("DEL", "v%d" % i)
lens = sum(cmd("LLEN", "list%d" % k) for k in range(10))
hlen = cmd("HLEN", "hash")
left = sum(cmd("EXISTS", "v%d" % i) for i in range(N))
print("bad %d lists %d hash %d left %d" % (bad, lens, hlen, left))
EOF
    want_client="bad 0 lists 600 hash 600 left 300"
    if [ "$(cat "$tmp/redis/client")" = "$want_client" ]; then
        pass "redis: 600 values of 1 B to 3 MiB stored, appended, read back intact, half deleted"
    else
        fail "redis: client check gave '$(head -c 300 "$tmp/redis/client")', want '$want_client'"
    fi

    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1
    wait "$tpid"
    rc=$?
    redis_pid='' tpid=''
    if [ $rc -ne 0 ]; then
        fail "redis-server: exit status $rc: $(tail -5 "$tmp/redis/server.log")"
    fi
    check_no_reports redis "$tmp/redis/stderr"
    check_served redis
}

# ---------------------------------------------------------------- sqlite3

sqlite() {
    need sqlite3 || return
    cat >"$tmp/db.sql" <<'EOF'
PRAGMA cache_size = -20000;
CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, price REAL, blob BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120000)
INSERT INTO item SELECT i, printf('item-%06d-%s', i, substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 20)),
    i % 97, (i * 7919 % 10007) / 100.0, zeroblob(i % 3000) FROM n;
CREATE INDEX item_grp ON item(grp, price);
CREATE TABLE grp AS SELECT grp, count(*) AS n, sum(price) AS total, max(length(blob)) AS big FROM item GROUP BY grp;
UPDATE item SET name = upper(name) WHERE id % 5 = 0;
DELETE FROM item WHERE id % 11 = 0;
SELECT count(*), sum(price), sum(length(blob)), max(name) FROM item;
SELECT g.grp, g.n, round(g.total, 2), count(i.id) FROM grp g JOIN item i USING (grp) GROUP BY g.grp ORDER BY g.total DESC LIMIT 5;
SELECT name, price FROM item WHERE grp = 42 ORDER BY price, id LIMIT 30;
SELECT grp, price, id FROM item ORDER BY name DESC LIMIT 3;
VACUUM;
PRAGMA integrity_check;
EOF
    on_system sqlite3 "$tmp/want.db" <"$tmp/db.sql" >"$tmp/sqlite.want" 2>&1
    rc_want=$?
    on_hakmem sqlite sqlite3 "$tmp/got.db" <"$tmp/db.sql" >"$tmp/sqlite.got" 2>"$tmp/sqlite.err"
    rc=$?
    on_hakmem sqlite sqlite3 "$tmp/got.db" .dump >"$tmp/dump.got" 2>>"$tmp/sqlite.err"
    on_system sqlite3 "$tmp/want.db" .dump >"$tmp/dump.want"
    if same_output sqlite3 $rc_want $rc "$tmp/sqlite.want" "$tmp/sqlite.got" "$tmp/sqlite.want" "$tmp/sqlite.err"; then
        if ! grep -q '^ok$' "$tmp/sqlite.got"; then
            fail "sqlite3 under hakmem: no final ok: $(tail -c 300 "$tmp/sqlite.got")"
        elif ! cmp -s "$tmp/dump.want" "$tmp/dump.got"; then
            fail "sqlite3 under hakmem: the database differs ($(wc -c <"$tmp/dump.got") vs $(wc -c <"$tmp/dump.want") bytes of dump)"
        else
            pass "sqlite3: 120,000-row database built, queried, vacuumed: same output and same dump as without hakmem"
        fi
    fi
    check_no_reports sqlite3 "$tmp/sqlite.err"
    check_served sqlite
}

# ---------------------------------------------------------------- stress-ng

stressng() {
    need stress-ng || return
    ops=100000
    # The workers are fork children of the preloaded stress-ng (no exec):
    # their maps are looked at while they run; they leave with _exit, so
    # only the parent writes a stats file.
    on_hakmem stress-ng stress-ng --malloc 2 --malloc-ops "$ops" --malloc-bytes 1M --verify --metrics-brief \
        --timeout 240s >"$tmp/stress-ng.out" 2>&1 &
    tpid=$!
    mapped=0
    for _ in $(seq 1 50); do
        for w in $(pgrep -f 'stress-ng-malloc'); do
            grep -q libhakmem "/proc/$w/maps" 2>/dev/null && mapped=$((mapped + 1))
        done
        [ $mapped -gt 0 ] && break
        sleep 0.1
    done
    wait "$tpid"
    rc=$?
    tpid=
    done_ops=$(sed -n 's/.*metrc:.* malloc  *\([0-9][0-9]*\) .*/\1/p' "$tmp/stress-ng.out" | head -1)
    if [ $rc -ne 0 ] || ! grep -q 'successful run completed' "$tmp/stress-ng.out" || grep -qi 'fail' "$tmp/stress-ng.out"; then
        fail "stress-ng --malloc --verify: status $rc: $(grep -iE 'fail|error' "$tmp/stress-ng.out" | head -3)"
    elif [ "${done_ops:-0}" -lt "$ops" ]; then
        fail "stress-ng: $done_ops bogo ops done, want $ops"
    elif [ $mapped -eq 0 ]; then
        fail "stress-ng: no malloc worker was seen with libhakmem mapped"
    else
        pass "stress-ng --malloc 2 --verify: $done_ops ops verified, workers ran on hakmem"
    fi
    check_no_reports stress-ng "$tmp/stress-ng.out"
    check_served stress-ng
}

# ---------------------------------------------------------------- Python's tests

pytests() {
    if [ ! -x "$PY" ] || [ ! -d /usr/lib/python3.11/test ]; then
        fail "python tests: $PY or its test suite (libpython3.11-testsuite) is not installed"
        return
    fi
    # PYTHONMALLOC=malloc: pymalloc would hide the small requests.
    modules="test_dict test_list test_set test_json test_re test_bytes test_unicode test_collections test_itertools
        test_tuple test_string test_array test_struct test_deque test_heapq test_sort"
    # shellcheck disable=SC2086 # the module names are words
    (cd "$tmp" && on_hakmem python env PYTHONMALLOC=malloc "$PY" -m test $modules) >"$tmp/pytest.out" 2>&1
    rc=$?
    nmod=$(echo "$modules" | wc -w)
    if [ $rc -ne 0 ] || ! grep -q 'Tests result: SUCCESS' "$tmp/pytest.out"; then
        fail "python -m test under hakmem: status $rc: $(grep -E 'FAIL|Error|tests? failed' "$tmp/pytest.out" | head -5)"
    elif ! grep -q "All $nmod tests OK" "$tmp/pytest.out"; then
        fail "python -m test: not all $nmod modules ran: $(tail -5 "$tmp/pytest.out")"
    else
        pass "python3.11 -m test, $nmod modules, PYTHONMALLOC=malloc: $(grep 'Total duration' "$tmp/pytest.out")"
    fi
    check_no_reports python "$tmp/pytest.out"
    check_served python
}

redis
sqlite
stressng
pytests
exit $status
