#!/bin/bash
# The arthamon command as a user runs it: check-config's FILE:LINE:COL errors and
# exit codes, snapshot (text and JSON), and the daemon's lifecycle: it samples,
# reloads on SIGHUP (keeping the running config when the new one is broken),
# refuses to start on a bad config, and stops cleanly on SIGTERM.
set -u
BIN=${ARTHAMON_BIN:?}
SRC=${ARTHAMON_SRC:?}
T=$(mktemp -d /tmp/am-cli-XXXXXX)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/run.log" ] && { echo "--- daemon output:"; cat "$T/run.log"; }; exit 1; }
ok() { echo "ok: $*"; }

# ---- check-config
"$BIN" check-config "$SRC/deploy/arthamon.yaml" >"$T/out" 2>&1 || fail "default config rejected: $(cat "$T/out")"
ok "deploy/arthamon.yaml passes check-config"
printf 'monitoring:\n  sampling_interval_ms: 10\n  bogus: 1\nalerts: {min_severity: x}\n' >"$T/bad.yaml"
"$BIN" check-config "$T/bad.yaml" >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "bad config: exit $rc, want 1"
grep -q "^$T/bad.yaml:2:25: 'monitoring.sampling_interval_ms' must be between 50 and 3600000, got 10$" "$T/out" ||
    fail "range error not reported as FILE:LINE:COL: $(cat "$T/out")"
grep -q "^$T/bad.yaml:3:3: unknown key 'bogus' in 'monitoring'" "$T/out" || fail "unknown key not reported: $(cat "$T/out")"
grep -q "^$T/bad.yaml:4:24: 'alerts.min_severity' must be an integer" "$T/out" || fail "type error not reported: $(cat "$T/out")"
ok "check-config reports every problem as FILE:LINE:COL and exits 1"
"$BIN" check-config "$T/missing.yaml" >"$T/out" 2>&1 && fail "missing file accepted"
grep -q "cannot open" "$T/out" || fail "missing file: $(cat "$T/out")"
"$BIN" check-config >/dev/null 2>&1
[ $? -eq 2 ] || fail "check-config without FILE should exit 2"
"$BIN" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command should exit 2"
ok "usage errors exit 2"

# ---- snapshot
cat >"$T/cfg.yaml" <<YAML
monitoring:
  sampling_interval_ms: 200
  logging: {level: info, output_dir: $T/log}
agent:
  data_dir: $T/data
  node_id: cli-test
  p2p_ports: [1]
YAML
"$BIN" snapshot -c "$T/cfg.yaml" --json >"$T/snap.json" 2>"$T/snap.err" || fail "snapshot --json failed: $(cat "$T/snap.err")"
/usr/bin/python3 - "$T/snap.json" <<'PY' || fail "snapshot JSON is not what the seed describes"
import json, sys
s = json.load(open(sys.argv[1]))
for k in ("node_id", "timestamp", "cpu", "gpu", "memory", "network", "disk", "model_inference",
          "node", "quantum", "neural_predictions"):
    assert k in s, k
assert s["node_id"] == "cli-test"
assert 0 <= s["cpu"]["usage_percent"] <= 100
assert abs(s["interval_sec"] - 0.2) < 0.15, s["interval_sec"]
assert s["memory"]["physical_total_mb"] > 0
assert s["network"]["p2p_connections"] == 0
print("snapshot JSON: cpu %.2f%%, memory %d/%d MB" % (s["cpu"]["usage_percent"],
      s["memory"]["physical_used_mb"], s["memory"]["physical_total_mb"]))
PY
"$BIN" snapshot -c "$T/cfg.yaml" --interval 100 >"$T/snap.txt" 2>&1 || fail "snapshot (text) failed"
grep -q "usage_percent = " "$T/snap.txt" || fail "text snapshot lacks cpu usage: $(cat "$T/snap.txt")"
ok "snapshot prints JSON and text"

# ---- run: refuses a bad config
"$BIN" run -c "$T/bad.yaml" >"$T/out" 2>&1
[ $? -eq 1 ] || fail "run started with a bad config"
grep -q "not starting" "$T/out" || fail "run: no explanation: $(cat "$T/out")"
ok "run refuses to start on a bad config"

# ---- run: samples, reloads, stops
"$BIN" run -c "$T/cfg.yaml" >"$T/run.log" 2>&1 &
PID=$!
for _ in $(seq 50); do
    [ "$(grep -c ' cpu .* | mem ' "$T/run.log")" -ge 3 ] && break
    sleep 0.1
done
[ "$(grep -c ' cpu .* | mem ' "$T/run.log")" -ge 3 ] || fail "no tick summaries after 5 s"
ok "run prints a summary line per tick"
[ -s "$T/log/arthamon.log" ] || fail "no log file in logging.output_dir"
sed -i 's/sampling_interval_ms: 200/sampling_interval_ms: 100/' "$T/cfg.yaml"
kill -HUP $PID
for _ in $(seq 30); do grep -q "configuration reloaded (sampling every 100 ms)" "$T/run.log" && break; sleep 0.1; done
grep -q "configuration reloaded (sampling every 100 ms)" "$T/run.log" || fail "SIGHUP did not reload"
cp "$T/cfg.yaml" "$T/good.yaml"
echo "monitoring: {sampling_interval_ms: 1}" >>"$T/cfg.yaml"
kill -HUP $PID
for _ in $(seq 30); do grep -q "reload failed; keeping the running configuration" "$T/run.log" && break; sleep 0.1; done
grep -q "reload failed; keeping the running configuration" "$T/run.log" || fail "broken reload not reported"
kill -0 $PID 2>/dev/null || fail "daemon died on a broken reload"
n1=$(grep -c ' cpu .* | mem ' "$T/run.log")
sleep 0.5
n2=$(grep -c ' cpu .* | mem ' "$T/run.log")
[ "$n2" -gt "$n1" ] || fail "daemon stopped sampling after a broken reload"
ok "SIGHUP reloads; a broken file keeps the running configuration"
kill -TERM $PID
for _ in $(seq 30); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
kill -0 $PID 2>/dev/null && fail "SIGTERM: still running after 3 s"
wait $PID
rc=$?
PID=""
[ $rc -eq 0 ] || fail "SIGTERM: exit status $rc"
grep -q "SIGTERM: stopping" "$T/run.log" && grep -q "stopped" "$T/run.log" || fail "no clean stop in the log"
ok "SIGTERM stops cleanly with status 0"
echo "PASS"
