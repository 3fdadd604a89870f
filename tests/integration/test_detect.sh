#!/bin/bash
# `arthamon detect` on one NAB file (../shared/datasets/nab-dev beside the
# repository; that part is left out when it is absent): every input row comes back unchanged with a
# score in [0, 1], 0 through the warm-up, stdin/stdout work like files, and a
# prefix of the file gets the prefix of the scores (causal). Then malformed
# inputs: each is refused with FILE:LINE: and a reason, and a non-zero exit.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
SRC=${ARTHAMON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NAB="$SRC/../shared/datasets/nab-dev/data/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"
T=$(mktemp -d /tmp/am-detect-XXXXXX)
trap 'rm -rf "$T"' EXIT

if [ ! -f "$NAB" ]; then
    echo "note: NAB dev data not found at $NAB: the NAB part is left out"
else
    cp "$NAB" "$T/in.csv"
    "$ARTHAMON_BIN" detect --input "$T/in.csv" --output "$T/out.csv" || fail "detect failed on $NAB"
    rows=$(($(wc -l <"$T/in.csv") - 1))
    [ "$(head -n1 "$T/out.csv")" = "timestamp,value,anomaly_score" ] || fail "output header: $(head -n1 "$T/out.csv")"
    [ "$(wc -l <"$T/out.csv")" -eq $((rows + 1)) ] || fail "output rows differ from the input's $rows"
    diff <(cut -d, -f1,2 "$T/out.csv" | tail -n +2) <(tail -n +2 "$T/in.csv" | tr -d '\r') >/dev/null ||
        fail "input rows are not copied unchanged"
    awk -F, 'NR > 1 && !($3 >= 0 && $3 <= 1) {bad++} END {exit bad > 0}' "$T/out.csv" ||
        fail "a score outside [0, 1]"
    awk -F, 'NR > 1 && NR <= 151 && $3 != 0 {bad++} END {exit bad > 0}' "$T/out.csv" ||
        fail "a non-zero score during the warm-up (the first 150 rows)"
    alarms=$(awk -F, 'NR > 1 && $3 >= 0.4 {n++} END {print n + 0}' "$T/out.csv")
    [ "$alarms" -ge 1 ] || fail "no alarm on a file with labelled anomalies"

    "$ARTHAMON_BIN" detect <"$T/in.csv" >"$T/out2.csv" || fail "detect on stdin failed"
    cmp -s "$T/out.csv" "$T/out2.csv" || fail "stdin/stdout output differs from --input/--output"
    head -n 2001 "$T/in.csv" >"$T/prefix.csv"
    "$ARTHAMON_BIN" detect --input "$T/prefix.csv" --output - >"$T/prefix.out" || fail "detect on a prefix failed"
    cmp -s "$T/prefix.out" <(head -n 2001 "$T/out.csv") || fail "the scores of a prefix differ (not causal)"
    ok "$rows rows of $(basename "$NAB"): $alarms alarms, stdin/stdout and a 2000-row prefix identical"
fi

# malformed inputs: NAME, CONTENT, expected message (a grep -E pattern)
check_bad() {
    local name=$1 content=$2 want=$3 err rc
    printf '%b' "$content" >"$T/$name.csv"
    "$ARTHAMON_BIN" detect --input "$T/$name.csv" --output "$T/$name.out" 2>"$T/$name.err"
    rc=$?
    err=$(cat "$T/$name.err")
    [ "$rc" -ne 0 ] || fail "$name: exit 0"
    [ "$rc" -lt 128 ] || fail "$name: killed by a signal ($rc): $err"
    echo "$err" | grep -qE "^arthamon: $T/$name.csv:$want" || fail "$name: message '$err', want ':$want'"
    ok "$name: $err"
}
check_bad empty "" "1: empty input"
check_bad no-value-column "timestamp\n1,2\n" "1: header: no value column"
check_bad missing-column "timestamp,value\n1,2\n2\n" "3: 1 columns where the header has 2"
check_bad extra-column "timestamp,value\n1,2,3\n" "2: more than the header"
check_bad nan "timestamp,value\n1,2\n2,nan\n" "3: column 2: 'nan' is not a finite number"
check_bad text "timestamp,value\n1,abc\n" "2: column 2: 'abc' is not a number"
check_bad empty-value "timestamp,value\n1,\n" "2: column 2 is empty"
check_bad bad-time "timestamp,value\n2014-02-30 00:00:00,1\n" "2: '2014-02-30 00:00:00' is not a timestamp"
check_bad unsorted "timestamp,value\n2014-04-01 00:05:00,1\n2014-04-01 00:00:00,2\n" \
    "3: timestamp '2014-04-01 00:00:00' is before the previous row's"
head -c 70000 /dev/zero | tr '\0' 7 | sed 's/^/timestamp,value\n1,/' >"$T/long.csv"
"$ARTHAMON_BIN" detect --input "$T/long.csv" --output "$T/long.out" 2>"$T/long.err" &&
    fail "long line: exit 0"
grep -q "long.csv:2: line longer than 65536 bytes" "$T/long.err" || fail "long line: $(cat "$T/long.err")"
ok "long line: $(cat "$T/long.err")"

# a repeated timestamp (NAB's files have some) is accepted, counted and scored in order
printf 'timestamp,value\n1,1\n2,2\n2,3\n' >"$T/dup.csv"
"$ARTHAMON_BIN" detect --input "$T/dup.csv" --output "$T/dup.out" 2>"$T/dup.err" ||
    fail "repeated timestamp refused: $(cat "$T/dup.err")"
grep -q "1 rows repeat the previous row's timestamp" "$T/dup.err" || fail "repeat not noted"
[ "$(wc -l <"$T/dup.out")" -eq 4 ] || fail "repeated timestamp: rows lost"
# several value columns: one score column, the highest of the columns' scores
printf 'timestamp,a,b\n1,1,2\n2,2,3\n' | "$ARTHAMON_BIN" detect >"$T/multi.out" || fail "two columns"
[ "$(head -n1 "$T/multi.out")" = "timestamp,a,b,anomaly_score" ] || fail "two columns: header"
ok "repeated timestamps noted and kept, two value columns scored"

# the multivariate detector on several columns: CPU and TPS follow a load cycle, the
# mempool holds; then TPS falls to its low-load level while CPU stays at its high-load
# one and the mempool grows, every value within its own range. Nothing before scores
# 0.5; the joint break does within 30 rows.
"$PY" -c "
import math, random
random.seed(1)
print('timestamp,cpu,tps,mempool')
for i in range(3000):
    load = 0.5 + 0.5 * math.sin(i * 2 * math.pi / 400)
    cpu, tps, mp = 20 + 50 * load + random.gauss(0, 2), 100 + 400 * load + random.gauss(0, 10), 50 + random.gauss(0, 5)
    if 2500 <= i < 2600:
        cpu, tps, mp = 70 + random.gauss(0, 2), 100 + random.gauss(0, 10), 50 + (i - 2500) * 0.5
    print('%d,%.2f,%.2f,%.2f' % (1700000000 + 60 * i, cpu, tps, mp))
" >"$T/joint.csv"
"$ARTHAMON_BIN" detect --input "$T/joint.csv" --output "$T/joint.out" || fail "joint: detect failed"
joint=$("$PY" -c "
import csv
s = [float(r['anomaly_score']) for r in csv.DictReader(open('$T/joint.out'))]
before = sum(1 for v in s[700:2500] if v >= 0.5)
first = next((i - 2500 for i in range(2500, 2600) if s[i] >= 0.5), None)
print(before, first, max(s[700:2500]))
")
read -r before first pre_max <<<"$joint"
[ "$before" -eq 0 ] || fail "joint: $before rows at >= 0.5 before the break"
[ "$first" != None ] && [ "$first" -le 30 ] || fail "joint: the break not scored 0.5 within 30 rows"
ok "several columns: the joint break scores >= 0.5 after $first rows, the 1800 rows before at most $pre_max"

# 10 M rows streamed: memory stays bounded (peak RSS printed; at most 32 MiB)
if [ "${ARTHAMON_SANITIZE:-0}" != 1 ]; then
    "$PY" -c "
import sys
w = sys.stdout.write
w('timestamp,value\n')
for i in range(10_000_000):
    w('%d,%d\n' % (1_600_000_000 + i, i % 97))
" >"$T/big.csv" || fail "could not write 10 M rows"
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M "$ARTHAMON_BIN" detect --input "$T/big.csv" --output /dev/null \
            2>"$T/big.err" || fail "10 M rows: $(cat "$T/big.err")"
        kb=$(tail -n1 "$T/big.err")
        [ "$kb" -le $((32 * 1024)) ] || fail "10 M rows: peak RSS $kb KiB"
    else
        "$ARTHAMON_BIN" detect --input "$T/big.csv" --output /dev/null || fail "10 M rows"
        kb="?"
    fi
    secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
    ok "10,000,000 rows in ${secs} s: peak RSS ${kb} KiB"
fi
