#!/bin/bash
# Alerts into a real Alertmanager (Debian's prometheus-alertmanager), which routes
# everything to a webhook receiver (alert_sink.py) with send_resolved. A detection
# rule on a StatsD gauge raises an anomaly; Alertmanager's own API must then list the
# alert with the daemon's labels (alertname, component, severity, severity_level,
# node_id) and an endsAt ahead of now, moved further ahead as the daemon re-posts
# it. Once the gauge is back to normal the webhook must get the alert "resolved",
# its endsAt the moment the daemon says the anomaly ended (alerts.jsonl and
# /api/v1/anomalies); it must stay resolved past a re-post interval; and the
# daemon's /api/v1/alerts must count the deliveries without a failure.
# `arthamon alerts test --channel alertmanager` must reach it too.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "prometheus-alertmanager, curl" prometheus-alertmanager curl
"$PY" -c 'import statsd' 2>/dev/null || skip "python3-statsd is not installed (scripts/install-deps.sh test)"
HERE=$(cd "$(dirname "$0")" && pwd)
[ -r "$HERE/alert_sink.py" ] || fail "cannot read $HERE/alert_sink.py"
T=$(mktemp -d /tmp/am-alertmanager-XXXXXX)
DAEMON_PID=""
AM_PID=""
HOOK_PID=""
SENDER_PID=""
cleanup() {
    local p
    for p in "$SENDER_PID" "$DAEMON_PID" "$AM_PID" "$HOOK_PID"; do
        [ -n "$p" ] && stop_pids "$p"
    done
    rm -rf "$T"
}
trap cleanup EXIT

RESEND=5 # alerts.alertmanager_resend_sec, its least value

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the webhook receiver, and Alertmanager routing every alert to it
"$PY" "$HERE/alert_sink.py" 0 "$T/hook.jsonl" >"$T/hook.port" 2>"$T/hook.err" &
HOOK_PID=$!
for _ in $(seq 50); do
    [ -s "$T/hook.port" ] && break
    kill -0 "$HOOK_PID" 2>/dev/null || fail "the webhook receiver exited: $(cat "$T/hook.err")"
    sleep 0.1
done
[ -s "$T/hook.port" ] || fail "the webhook receiver did not say its port"
HOOK_PORT=$(head -n1 "$T/hook.port")
cat >"$T/am.yml" <<EOF
route:
  receiver: hook
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1m
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$HOOK_PORT/hook
        send_resolved: true
EOF
if command -v amtool >/dev/null 2>&1; then
    amtool check-config "$T/am.yml" >"$T/check.out" 2>&1 || fail "amtool check-config: $(cat "$T/check.out")"
fi
for _ in 1 2 3; do # a port taken between free_port and the bind: try another
    AM=http://127.0.0.1:$(free_port)
    # --cluster.listen-address= : no gossip listener on every interface
    prometheus-alertmanager --config.file="$T/am.yml" --storage.path="$T/am-data" \
        --web.listen-address="${AM#http://}" --cluster.listen-address= --log.level=warn \
        >"$T/am.log" 2>&1 &
    AM_PID=$!
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$AM/-/ready" 2>/dev/null && break 2
        kill -0 "$AM_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_pids "$AM_PID"
    AM_PID=""
    grep -q 'address already in use' "$T/am.log" || break
done
[ -n "$AM_PID" ] || fail "Alertmanager did not start: $(tail -5 "$T/am.log")"
ok "Alertmanager is ready at $AM, webhook receiver on port $HOOK_PORT"

# ---- the daemon: a rule on a StatsD gauge, alerts to Alertmanager only (and the log file)
daemon_config "$T/d.yaml" "$T" \
    'detection:
  builtin_rules: false
  rules:
    - {name: pool_high, series: node.mempool_size, condition: ">", trigger: 100, severity: 4, description: "mempool <b>too</b> big", actions: ["drain the pool"]}' \
    "alerts: {console: false, log_file: true, alertmanager_url: \"$AM\", alertmanager_resend_sec: $RESEND, hold_down_sec: 1, retry_max_sec: 3, timeout_ms: 3000}"
sed -i 's/^  sampling_interval_ms: 1000$/  sampling_interval_ms: 500/' "$T/d.yaml"
"$ARTHAMON_BIN" check-config "$T/d.yaml" >"$T/check.out" 2>&1 || fail "check-config: $(cat "$T/check.out")"

"$ARTHAMON_BIN" alerts test -c "$T/d.yaml" --channel alertmanager >"$T/test.out" 2>&1
rc=$?
if [ $rc -ne 0 ] || ! grep -qx 'alertmanager: ok' "$T/test.out"; then
    fail "alerts test --channel alertmanager: exit $rc: $(cat "$T/test.out")"
fi
curl -fsS "$AM/api/v2/alerts" >"$T/am-test.json" || fail "GET $AM/api/v2/alerts"
"$PY" - "$T/am-test.json" <<'PY' || fail "the test alert is not in Alertmanager (above)"
import json, sys
alerts = json.load(open(sys.argv[1]))
hits = [a for a in alerts if a["labels"].get("alertname") == "arthamon_test"]
if len(hits) != 1 or hits[0]["labels"].get("node_id") != "test-node":
    print("Alertmanager lists %r" % alerts)
    sys.exit(1)
PY
ok "alerts test --channel alertmanager: 'alertmanager: ok', and Alertmanager lists alertname=arthamon_test"

start_daemon "$T/d.yaml" "$T/d.log"
SPORT=$(statsd_port "$T/d.log")

# node.mempool.size sent every 200 ms, the value read from $T/gauge each time
echo 300 >"$T/gauge"
cat >"$T/sender.py" <<'PY'
import sys, time
import statsd
c = statsd.StatsClient("127.0.0.1", int(sys.argv[1]))
while True:
    try:
        with open(sys.argv[2]) as f:
            v = int(f.read().strip())
        c.gauge("node.mempool.size", v)
    except (OSError, ValueError):
        pass
    time.sleep(0.2)
PY
"$PY" "$T/sender.py" "$SPORT" "$T/gauge" 2>"$T/sender.err" &
SENDER_PID=$!

# ---- firing: Alertmanager lists the alert with the daemon's labels
T0=$(date +%s)
"$PY" - "$AM" "$URL" "$RESEND" "$T/hook.jsonl" <<'PY' || fail "the firing alert in Alertmanager (above)"
import json, re, sys, time, urllib.request
from datetime import datetime

am, url, resend, hook = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read().decode())


def ts(s):
    """RFC 3339 (any number of fraction digits) to epoch seconds."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", s)
    if not m:
        raise ValueError("not RFC 3339: %r" % s)
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.fromisoformat(m.group(1) + tz).timestamp()
    return base + (float(m.group(2)) if m.group(2) else 0.0)


def pool_alerts():
    return [a for a in get(am, "/api/v2/alerts") if a["labels"].get("alertname") == "pool_high"]


deadline = time.time() + 20
while not pool_alerts():
    if time.time() > deadline:
        print("no alertname=pool_high in Alertmanager within 20 s; it lists %r" % get(am, "/api/v2/alerts"))
        print("daemon: %s" % json.dumps(get(url, "/api/v1/alerts"))[:2000])
        sys.exit(1)
    time.sleep(0.2)
now = time.time()
found = pool_alerts()
anoms = [a for a in get(url, "/api/v1/anomalies?min_severity=1")["anomalies"]
         if a["anomaly_type"] == "pool_high"]
if len(found) != 1 or len(anoms) != 1:
    print("Alertmanager: %r; the daemon's anomalies: %r" % (found, anoms))
    sys.exit(1)
a, anom = found[0], anoms[0]
errors = []
want = {"alertname": "pool_high", "anomaly_type": "pool_high", "component": "node",
        "severity": "high", "severity_level": "4", "node_id": "test-node",
        "quantum_relevant": "false"}
for k, v in want.items():
    if a["labels"].get(k) != v:
        errors.append("label %s = %r, want %r" % (k, a["labels"].get(k), v))
ann = a.get("annotations", {})
if ann.get("description") != "mempool <b>too</b> big":
    errors.append("annotation description %r" % ann.get("description"))
if ann.get("alert_id") != anom["id"]:
    errors.append("annotation alert_id %r, the anomaly's id %r" % (ann.get("alert_id"), anom["id"]))
if ann.get("idempotency_key") != "test-node:%s:firing" % anom["id"]:
    errors.append("annotation idempotency_key %r" % ann.get("idempotency_key"))
if "drain the pool" not in ann.get("details", ""):
    errors.append("annotation details %r lack the suggested action" % ann.get("details"))
if not ann.get("summary", "").startswith("[FIRING] high pool_high on node (test-node)"):
    errors.append("annotation summary %r" % ann.get("summary"))
if a["status"]["state"] != "active":
    errors.append("status %r" % a["status"])
starts, ends = ts(a["startsAt"]), ts(a["endsAt"])
if abs(starts - anom["detected_at_ms"] / 1000) > 1:
    errors.append("startsAt %s, the anomaly was detected at %.3f" % (a["startsAt"], anom["detected_at_ms"] / 1000))
# four re-post intervals ahead of the post, which came after the detection
if not (now < ends and 3 * resend <= ends - starts <= 4 * resend + 5):
    errors.append("endsAt %s: %.1f s after startsAt, %.1f s after now (re-post every %d s)" %
                  (a["endsAt"], ends - starts, ends - now, resend))
for e in errors:
    print(e)
if errors:
    print("Alertmanager's alert: %s" % json.dumps(a))
    sys.exit(1)
print("ok: Alertmanager lists pool_high: labels %s; endsAt %s, %.1f s ahead" %
      (",".join("%s=%s" % kv for kv in sorted(want.items())), a["endsAt"], ends - now))

# the daemon re-posts it every `resend` s: endsAt moves ahead
first = ends
deadline = time.time() + resend + 5
while time.time() < deadline:
    a = pool_alerts()
    if a and ts(a[0]["endsAt"]) > first + 1:
        print("ok: re-posted: endsAt moved from %.3f to %s" % (first, a[0]["endsAt"]))
        break
    time.sleep(0.25)
else:
    print("endsAt still %s %d s later: not re-posted every %d s" % (a and a[0]["endsAt"], resend + 5, resend))
    sys.exit(1)

# Alertmanager passed it on to the webhook (group_wait 0s)
hooked = []
try:
    for line in open(hook).read().splitlines():
        b = json.loads(json.loads(line)["body"])
        hooked += [(b["status"], x) for x in b.get("alerts", []) if x["labels"].get("alertname") == "pool_high"]
except OSError:
    pass
if not any(s == "firing" and x["status"] == "firing" and x["labels"] == a[0]["labels"] for s, x in hooked):
    print("the webhook got no firing pool_high with the same labels: %r" % hooked)
    sys.exit(1)
print("ok: the webhook got pool_high firing")
PY
# ---- back to normal: resolved after 5 normal ticks and the 1 s hold-down
echo 10 >"$T/gauge"
"$PY" - "$AM" "$URL" "$T/hook.jsonl" "$T/alerts.jsonl" "$RESEND" <<'PY' || fail "the resolved alert (above)"
import json, re, sys, time, urllib.request
from datetime import datetime

am, url, hook, alog, resend = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read().decode())


def ts(s):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", s)
    if not m:
        raise ValueError("not RFC 3339: %r" % s)
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.fromisoformat(m.group(1) + tz).timestamp()
    return base + (float(m.group(2)) if m.group(2) else 0.0)


def resolved_hooks():
    out = []
    try:
        lines = open(hook).read().splitlines()
    except OSError:
        return out
    for line in lines:
        body = json.loads(json.loads(line)["body"])
        for a in body.get("alerts", []):
            if a["labels"].get("alertname") == "pool_high" and a["status"] == "resolved":
                out.append((body, a))
    return out


t0 = time.time()
deadline = t0 + 30
while not resolved_hooks():
    if time.time() > deadline:
        print("the webhook got no resolved pool_high within 30 s")
        print("daemon: %s" % json.dumps(get(url, "/api/v1/alerts"))[:3000])
        print("Alertmanager: %s" % json.dumps(get(am, "/api/v2/alerts"))[:2000])
        sys.exit(1)
    time.sleep(0.2)
body, a = resolved_hooks()[0]
errors = []
if body.get("status") != "resolved":
    errors.append("the webhook call's status is %r" % body.get("status"))
anom = [x for x in get(url, "/api/v1/anomalies?min_severity=1")["anomalies"]
        if x["anomaly_type"] == "pool_high"]
if len(anom) != 1 or anom[0]["status"] != "resolved" or not anom[0].get("resolved_at_ms"):
    print("the daemon's anomalies: %r" % anom)
    sys.exit(1)
anom = anom[0]
notes = []
for line in open(alog):
    n = json.loads(line)
    if n["alert_id"] == anom["id"]:
        notes.append(n)
res = [n for n in notes if n["event"] == "resolved"]
if [n["event"] for n in notes] != ["firing", "resolved"] or not res[0].get("ends_at"):
    errors.append("alerts.jsonl has %r for the alert" % [(n["event"], n["ends_at"]) for n in notes])
else:
    ends = ts(a["endsAt"])
    if int(ends) != int(ts(res[0]["ends_at"])) or int(ends) != anom["resolved_at_ms"] // 1000:
        errors.append("endsAt %s in the webhook; the daemon: ends_at %s in alerts.jsonl, resolved_at_ms %d" %
                      (a["endsAt"], res[0]["ends_at"], anom["resolved_at_ms"]))
    else:
        print("ok: the webhook got pool_high resolved %.1f s after the gauge fell, endsAt %s = "
              "ends_at %s (alerts.jsonl) = resolved_at_ms %d, to the second" %
              (time.time() - t0, a["endsAt"], res[0]["ends_at"], anom["resolved_at_ms"]))
if a["labels"].get("node_id") != "test-node" or a["labels"].get("severity") != "high":
    errors.append("the resolved alert's labels: %r" % a["labels"])
for e in errors:
    print(e)
if errors:
    sys.exit(1)

# no longer active in Alertmanager, and not brought back by a re-post
deadline = time.time() + resend + 2
while time.time() < deadline:
    act = [x for x in get(am, "/api/v2/alerts") if x["labels"].get("alertname") == "pool_high"]
    if act:
        print("Alertmanager lists pool_high again after it resolved: %s" % json.dumps(act))
        sys.exit(1)
    time.sleep(0.5)
n_resolved = len(resolved_hooks())
firing_again = []
for line in open(hook).read().splitlines():
    b = json.loads(json.loads(line)["body"])
    firing_again += [x for x in b.get("alerts", []) if x["labels"].get("alertname") == "pool_high"
                     and x["status"] == "firing" and ts(x["startsAt"]) > ts(a["endsAt"])]
if firing_again:
    print("the webhook got pool_high firing again: %r" % firing_again)
    sys.exit(1)
print("ok: pool_high stays resolved in Alertmanager for %d s (longer than a re-post interval)" % (resend + 2))

ch = [c for c in get(url, "/api/v1/alerts")["channels"] if c["name"] == "alertmanager"]
if len(ch) != 1 or ch[0]["sent"] < 2 or ch[0]["failed"] != 0 or ch[0]["pending"] != 0 or ch[0]["last_error"]:
    print("the daemon's alertmanager channel: %r" % ch)
    sys.exit(1)
print("ok: /api/v1/alerts: alertmanager channel sent %d, failed 0, pending 0, no error" % ch[0]["sent"])
PY
grep -E ' (warn|error) +alert ' "$T/d.log" && fail "the daemon logged alert errors (above)"
kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
kill -0 "$AM_PID" 2>/dev/null || fail "Alertmanager died: $(tail -5 "$T/am.log")"
[ ! -s "$T/am.log" ] || echo "Alertmanager said: $(head -5 "$T/am.log")"
echo "PASS ($(($(date +%s) - T0)) s after the gauge was first sent)"
