#!/usr/bin/env bash
# bench/detect_quiet: false alarms of anomaly detection on a quiet host.
#
#   bench/detect_quiet.sh                 (DURATION=600 bench/detect_quiet.sh for a short run)
#
# Runs the daemon for DURATION seconds (default 3600) at sampling_interval_ms 1000 with
# the default detection settings (detection.enabled, a warm-up of 300 ticks, the
# built-in rules, multivariate_threshold 0.5), on a host that should otherwise be idle:
# nothing is loaded, no node reports over StatsD. Then it prints every anomaly the
# daemon raised: counts by severity, by type and component, by detector, and each one
# of severity >= 3 with its time into the run and its description.
#
# Target (the issue): a 1-hour quiet run at 1 s raises at most 1 anomaly of severity
# >= 3. "target met" / "target NOT met" is printed (judged on any DURATION: a shorter
# run is a weaker check); the host's load average at the start and the end and the
# mean cpu.usage_percent of the last snapshots are printed beside it, since a busy
# host is no quiet run. Exit status 0 either way, 1 when the binary is missing or the
# daemon cannot be run.
#
# Environment: ARTHAMON_BIN (default $BUILD_DIR/arthamon, BUILD_DIR defaulting to
# build), DURATION (s, default 3600), KEEP_TMP=1 (keep the temp dir with the config,
# the log and anomalies.json). Interrupted (INT/TERM), it stops the daemon, prints
# what was raised so far and exits 130.
set -u

cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh

BUILD_DIR=${BUILD_DIR:-build}
BIN=${ARTHAMON_BIN:-$BUILD_DIR/arthamon}
DURATION=${DURATION:-3600}
TARGET_MAX=1 # anomalies of severity >= 3 in the run
PY=/usr/bin/python3

say() { echo "bench/detect_quiet: $*"; }
warn() { echo "bench/detect_quiet: $*" >&2; }

if [ ! -x "$BIN" ]; then
    warn "no arthamon binary at $BIN; build first (make build, or set ARTHAMON_BIN or BUILD_DIR)"
    exit 1
fi
case $DURATION in '' | *[!0-9]* | 0)
    warn "DURATION must be a whole number of seconds, at least 1"
    exit 1
    ;;
esac
[ -x "$PY" ] || { warn "$PY is needed to read the API"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/arthamon-detect-quiet.XXXXXX") || exit 1
PIDS=()
URL=""
STARTED=0

# sleep that a trapped SIGTERM/SIGINT interrupts at once
nap() {
    sleep "$1" &
    PIDS+=($!)
    wait $!
    stop_pids $!
}

# report: the anomalies raised since STARTED (epoch ms), against the target
report() {
    curl_get "/api/v1/anomalies?min_severity=1&limit=1000" >"$TMP/anomalies.json" ||
        { warn "cannot read the anomalies from $URL"; return 1; }
    curl_get "/api/v1/history?limit=60" >"$TMP/history.json" || echo '{"snapshots":[]}' >"$TMP/history.json"
    "$PY" - "$TMP/anomalies.json" "$TMP/history.json" "$STARTED" "$TARGET_MAX" <<'PY'
import collections, json, sys

doc = json.load(open(sys.argv[1]))
snaps = json.load(open(sys.argv[2])).get("snapshots", [])
started, target = int(sys.argv[3]), int(sys.argv[4])
got = sorted(doc.get("anomalies", []), key=lambda a: a.get("detected_at_ms", 0))
if len(got) >= 1000:
    print("note: 1000 anomalies returned, the most the API keeps: older ones are not counted")
print(f"anomalies raised: {len(got)}")
for title, key in (("by severity", lambda a: f"severity {a.get('severity')}"),
                   ("by type and component",
                    lambda a: f"{a.get('anomaly_type')} ({a.get('component')})"),
                   ("by detector", lambda a: str(a.get("detector")))):
    counts = collections.Counter(key(a) for a in got)
    print(f"  {title}:" + ("" if counts else " none"))
    for k, n in sorted(counts.items()):
        print(f"    {n:6d}  {k}")
high = [a for a in got if a.get("severity", 0) >= 3]
print(f"severity >= 3: {len(high)}")
for a in high:
    at = (a.get("detected_at_ms", 0) - started) / 1000
    print(f"  t+{at:8.1f} s  {a.get('anomaly_type')} ({a.get('component')}, "
          f"{a.get('detector')}, severity {a.get('severity')}, {a.get('status')}): "
          f"{a.get('description')}")
for d in doc.get("detectors", []):
    if d.get("warming_up"):
        print(f"note: detector {d.get('name')} still warming up ({d.get('ticks_left')} ticks left)")
cpu = [s["cpu"]["usage_percent"] for s in snaps
       if isinstance(s.get("cpu", {}).get("usage_percent"), (int, float))]
if cpu:
    print(f"host cpu.usage_percent over the last {len(cpu)} ticks: mean {sum(cpu) / len(cpu):.1f}, "
          f"max {max(cpu):.1f}")
verdict = "target met" if len(high) <= target else "target NOT met"
print(f"{verdict}: {len(high)} anomalies of severity >= 3 (target: at most {target})")
PY
}

curl_get() {
    "$PY" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' "$URL$1"
}

trap bench_cleanup EXIT
# shellcheck disable=SC2317 # run by the trap
interrupted() {
    warn "interrupted after $((($(date +%s%3N) - STARTED) / 1000)) s; what was raised so far:"
    [ -n "$URL" ] && report
    exit 130
}
trap interrupted INT TERM

# default detection settings: no detection: section at all
cat >"$TMP/config.yaml" <<EOF
monitoring:
  sampling_interval_ms: 1000
  logging: {level: warn, output_dir: $TMP, stdout: false}
visualization: {dashboard_port: 0}
agent: {console_summary: false, data_dir: $TMP, node_id: detect-quiet}
statsd: {listen: "127.0.0.1:0"}
EOF
"$BIN" run -c "$TMP/config.yaml" >"$TMP/run.out" 2>&1 &
PIDS+=($!)
DAEMON=$!
for _ in $(seq 100); do
    URL=$(sed -n 's|^arthamon: dashboard and API at \(https\{0,1\}://[^/]*\)/$|\1|p' "$TMP/run.out" | head -n1)
    [ -n "$URL" ] && break
    alive "$DAEMON" || { cat "$TMP/run.out"; warn "the daemon exited at start"; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { cat "$TMP/run.out"; warn "the daemon did not report its address"; exit 1; }
STARTED=$(date +%s%3N)
say "$BIN at $URL, 1 s ticks, default detection settings, for $DURATION s"
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"

left=$DURATION
while [ "$left" -gt 0 ]; do
    step=$((left < 600 ? left : 600))
    nap "$step"
    left=$((left - step))
    alive "$DAEMON" || { cat "$TMP/run.out"; warn "the daemon died"; exit 1; }
    [ "$left" -gt 0 ] && say "$((DURATION - left)) s done, $left s to go"
done
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
report || exit 1
