#!/bin/bash
# Exactly once: the webhook receiver is down for 2 minutes while 50 anomalies fire
# (50 rules on the mempool size, crossed one after the other by a real StatsD
# client), and the daemon is killed with SIGKILL and restarted once in between.
# Once the receiver is up, every notification must arrive exactly once: 50
# firing, then (the mempool drained) 50 resolved, each idempotency key once,
# each signed with the webhook secret, and exactly the ones the outbox lists as
# delivered. While the receiver is down the daemon must stay under 1 % of a core
# (no busy loop), and neither the signing secret nor the header token may appear
# in its logs, its alert log file, the notifications or /api/v1/config.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "python3-statsd, curl" curl
"$PY" -c 'import statsd' 2>/dev/null || skip "python3-statsd not installed"
SRC=${ARTHAMON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/am-once-XXXXXX)
DAEMON_PID=""
FEEDER_PID=""
SINK_PID=""
cleanup() {
    local p
    for p in "$FEEDER_PID" "$SINK_PID" "$DAEMON_PID"; do
        [ -n "$p" ] && stop_pids "$p"
    done
    rm -rf "$T"
}
trap cleanup EXIT

free_port() { # tcp|udp
    "$PY" -c 'import socket, sys
s = socket.socket(type=socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

RULES=50
SECRET="whsec-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN="tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$SECRET" >"$T/secret"
HOOK_PORT=$(free_port tcp)
UDP_PORT=$(free_port udp)
{
    echo "detection:"
    echo "  builtin_rules: false"
    echo "  rules:"
    for i in $(seq -w 1 $RULES); do
        echo "    - {name: r$i, series: node.mempool_size, condition: \">\", trigger: $((10#$i * 100)), severity: 3}"
    done
    echo "alerts:"
    echo "  console: false"
    echo "  webhook_url: \"http://127.0.0.1:$HOOK_PORT/hook\""
    echo "  webhook_secret_file: $T/secret"
    echo "  webhook_headers: [\"Authorization: Bearer $TOKEN\"]"
    echo "  timeout_ms: 2000"
    echo "  retry_max_sec: 8"
    echo "  hold_down_sec: 3"
    echo "  storm_threshold: 0"
} >"$T/extra.yaml"
daemon_config "$T/d.yaml" "$T" "statsd: {listen: \"127.0.0.1:$UDP_PORT\"}" "$(cat "$T/extra.yaml")"
sed -i 's/^  sampling_interval_ms: 1000$/  sampling_interval_ms: 500\n  ai_optimization: {enabled: false}/' "$T/d.yaml"
"$ARTHAMON_BIN" check-config "$T/d.yaml" >/dev/null || fail "the test's configuration is refused"

# the feeder: every 250 ms the mempool size, one rule further every 2 s (r01..r50
# in 100 s), held at the top until $T/drain appears, then 0
"$PY" - "$UDP_PORT" "$T/drain" "$RULES" <<'PY' >"$T/feeder.log" 2>&1 &
import os, sys, time
import statsd
port, drain, rules = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = statsd.StatsClient("127.0.0.1", port)
start = time.monotonic()
while True:
    k = min(rules, 1 + int((time.monotonic() - start) / 2))
    c.gauge("node.mempool.size", 0 if os.path.exists(drain) else k * 100 + 50)
    time.sleep(0.25)
PY
FEEDER_PID=$!

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

T0=$(date +%s)
start_daemon "$T/d.yaml" "$T/run1.log"
sleep 40
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null # (bash reports the kill)
ok "killed the daemon (SIGKILL) 40 s in, the receiver still down"
start_daemon "$T/d.yaml" "$T/run2.log"
sleep 10
c0=$(cpu_ticks "$DAEMON_PID")
w0=$(date +%s%N)
sleep $((T0 + 120 - $(date +%s)))
c1=$(cpu_ticks "$DAEMON_PID")
w1=$(date +%s%N)
CPU=$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v w="$((w1 - w0))" \
    'BEGIN { printf "%.3f", 100 * c / hz / (w / 1e9) }')
PENDING=$(curl -sS "$URL/api/v1/alerts" | "$PY" -c 'import json, sys
print([c["pending"] for c in json.load(sys.stdin)["channels"] if c["name"] == "webhook"][0])')
awk -v c="$CPU" 'BEGIN { exit !(c < 1) }' ||
    fail "the daemon used $CPU % of a core while the receiver was down (limit 1 %)"
ok "receiver down for 2 minutes: $PENDING webhook notifications pending, daemon CPU $CPU % of a core"
[ "$PENDING" -ge 40 ] || fail "only $PENDING notifications pending after 2 minutes (expected about 50)"

"$PY" "$SRC/tests/integration/alert_sink.py" "$HOOK_PORT" "$T/hook.jsonl" "$T/secret" >"$T/sink.out" 2>&1 &
SINK_PID=$!

# wait_delivered N: until the webhook channel has nothing pending and N arrived (60 s)
wait_delivered() {
    local n=0 pending=1
    for _ in $(seq 120); do
        pending=$(curl -sS "$URL/api/v1/alerts" | "$PY" -c 'import json, sys
print([c["pending"] for c in json.load(sys.stdin)["channels"] if c["name"] == "webhook"][0])')
        n=$(cat "$T/hook.jsonl" 2>/dev/null | wc -l)
        [ "$pending" = 0 ] && [ "$n" -ge "$1" ] && return 0
        sleep 0.5
    done
    fail "after 60 s: $n notifications received, $pending pending (expected $1)"
}
wait_delivered $RULES
ok "$(wc -l <"$T/hook.jsonl") notifications delivered $(( $(date +%s) - T0 - 120 )) s after the receiver came up"
touch "$T/drain"
wait_delivered $((2 * RULES))
sleep 3 # anything sent twice would come now

curl -sS "$URL/api/v1/alerts?limit=1000" >"$T/alerts.json"
curl -sS "$URL/api/v1/config" >"$T/config.json"
"$PY" - "$T/hook.jsonl" "$T/alerts.json" "$RULES" "$TOKEN" <<'PY' || fail "notifications not delivered exactly once"
import collections, json, sys
hook, api, rules, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
recs = [json.loads(l) for l in open(hook)]
bodies = [json.loads(r["body"]) for r in recs]
keys = collections.Counter(b["idempotency_key"] for b in bodies)
dups = {k: n for k, n in keys.items() if n > 1}
bad = []
if dups:
    bad.append(f"keys received more than once: {dups}")
for r, b in zip(recs, bodies):
    if r["headers"].get("Idempotency-Key") != b["idempotency_key"]:
        bad.append(f"Idempotency-Key header {r['headers'].get('Idempotency-Key')} for {b['idempotency_key']}")
    if r["signature_ok"] is not True:
        bad.append(f"bad signature on {b['idempotency_key']}")
    if r["headers"].get("Authorization") != "Bearer " + token:
        bad.append(f"configured header missing on {b['idempotency_key']}")
want = {f"r{i:02d}" for i in range(1, rules + 1)}
for ev in ("firing", "resolved"):
    got = collections.Counter(b["anomaly_type"] for b in bodies if b["event"] == ev)
    if set(got) != want or any(n != 1 for n in got.values()):
        bad.append(f"{ev}: {sum(got.values())} notifications, types missing "
                   f"{sorted(want - set(got))}, repeated {sorted(t for t, n in got.items() if n > 1)}")
other = [b["event"] for b in bodies if b["event"] not in ("firing", "resolved")]
if other:
    bad.append(f"unexpected events: {other}")
outbox = [n for n in json.load(open(api))["notifications"] if n["channel"] == "webhook"]
sent = {n["key"] for n in outbox if n["state"] == "sent"}
if sent != set(keys) or len(outbox) != len(sent):
    bad.append(f"the outbox lists {len(sent)} delivered of {len(outbox)}, the receiver got {len(keys)}; "
               f"differ: {sorted(sent ^ set(keys))[:5]}")
for b in bad:
    print("  " + b)
if not bad:
    print(f"ok: {len(bodies)} notifications ({rules} firing, {rules} resolved), each key once, "
          f"all signed, matching the outbox's {len(sent)} delivered")
sys.exit(1 if bad else 0)
PY

# the log-file channel was never down: the same notifications, each once
"$PY" - "$T/alerts.jsonl" "$T/hook.jsonl" <<'PY' || fail "the alert log file does not hold each notification once"
import collections, json, sys
logged = collections.Counter(json.loads(l)["idempotency_key"] for l in open(sys.argv[1]))
hooked = {json.loads(json.loads(l)["body"])["idempotency_key"] for l in open(sys.argv[2])}
if set(logged) != hooked or max(logged.values()) != 1:
    print(f"  log file: {len(logged)} keys, {sum(logged.values())} lines; webhook: {len(hooked)} keys")
    sys.exit(1)
print(f"ok: alerts.jsonl holds the same {len(logged)} notifications, each once")
PY

# the receiver's record holds the request headers (where the token belongs): its bodies only
"$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l)["body"])' "$T/hook.jsonl" >"$T/bodies.txt"
for f in "$T/run1.log" "$T/run2.log" "$T/alerts.jsonl" "$T/bodies.txt" "$T/config.json" "$T/alerts.json"; do
    if grep -qF -e "$SECRET" -e "$TOKEN" "$f"; then
        fail "a secret appears in $(basename "$f")"
    fi
done
grep -q '"webhook_secret_file"' "$T/config.json" || fail "/api/v1/config lacks the alerts section"
grep -q "<redacted>" "$T/config.json" || fail "/api/v1/config does not redact the webhook headers"
ok "neither the signing secret nor the header token appears in the logs, the notifications or /api/v1/config"
