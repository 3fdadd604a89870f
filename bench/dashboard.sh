#!/usr/bin/env bash
# bench/dashboard: what the dashboard costs a browser on loopback.
#
#   bench/dashboard.sh
#
# A daemon (1 s sampling, a free loopback port, StatsD fed with the node's metrics for
# LOAD_S seconds first, so that every chart has a window to draw) serves the dashboard;
# headless Chromium (Debian's chromium, driven by playwright-core, as in
# tests/integration/test_dashboard.sh) loads / five times in fresh contexts. Printed,
# as the median of the five loads:
#   - transfer: the bytes of every response body the page fetched until its first full
#     render (body[data-ready]): the static files (HTML, JS, CSS, icon) alone, and with
#     the API answers of the first render (config, history, the range's store queries,
#     anomalies, alerts); target <= 200 KB for the total;
#   - time to first chart: performance.now() when the first chart drew its first point
#     (window.__firstChartMs, from navigation start); target <= 500 ms.
#
# Exit status 0 (the verdicts are printed), 1 when arthamon is missing; without chromium,
# node or playwright-core (installed by the test into BUILD_DIR/node_modules-test, or
# here when missing) it says so and exits 0.
#
# Environment: BUILD_DIR (default build; the binary is BUILD_DIR/arthamon, or ARTHAMON),
# LOAD_S (default 20), KEEP_TMP=1 (keep the temp dir with the config and logs).
set -u

cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh

BUILD_DIR=${BUILD_DIR:-build}
ARTHAMON=${ARTHAMON:-$BUILD_DIR/arthamon}
LOAD_S=${LOAD_S:-20}
NM=$BUILD_DIR/node_modules-test
PY=/usr/bin/python3

say() { echo "bench/dashboard: $*"; }
warn() { echo "bench/dashboard: $*" >&2; }

[ -x "$ARTHAMON" ] || { warn "no $ARTHAMON (make build)"; exit 1; }
for t in /usr/bin/chromium node npm; do
    command -v "$t" >/dev/null 2>&1 || { say "skipped: $t not installed (scripts/install-deps.sh test)"; exit 0; }
done
if [ ! -f "$NM/node_modules/playwright-core/package.json" ]; then
    mkdir -p "$NM"
    (cd "$NM" && npm install --no-audit --no-fund --prefix "$PWD" playwright-core@1 >/dev/null 2>&1) ||
        { say "skipped: npm could not install playwright-core"; exit 0; }
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/arthamon-dashboard.XXXXXX") || exit 1
PIDS=() # everything started here, stopped by pid on exit
trap bench_cleanup EXIT
trap 'warn "interrupted"; exit 130' INT TERM

cat >"$TMP/d.yaml" <<EOF
monitoring:
  sampling_interval_ms: 1000
  logging: {level: warn, output_dir: $TMP, stdout: true}
visualization: {dashboard_port: 0, quantum_visualization: true}
agent: {console_summary: false, data_dir: $TMP, node_id: bench-node}
statsd: {listen: "127.0.0.1:0"}
EOF
"$ARTHAMON" run -c "$TMP/d.yaml" >"$TMP/d.log" 2>&1 &
PIDS+=($!)
URL="" SPORT=""
for _ in $(seq 100); do
    URL=$(sed -n 's|^arthamon: dashboard and API at \(http://[^/]*\)/$|\1|p' "$TMP/d.log" | head -n1)
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { cat "$TMP/d.log"; warn "the daemon did not start"; exit 1; }
# the StatsD port: asked of the daemon's log at info level is not there at warn; find it
# from its open UDP sockets instead
SPORT=$("$PY" - "${PIDS[0]}" <<'PY'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
for line in open("/proc/net/udp").read().splitlines()[1:]:
    f = line.split()
    if f[9] in inodes:
        print(int(f[1].split(":")[1], 16))
        break
PY
)
[ -n "$SPORT" ] || { warn "cannot find the daemon's StatsD port"; exit 1; }
say "daemon at $URL, StatsD on udp port $SPORT; feeding for $LOAD_S s"

"$PY" - "$SPORT" "$LOAD_S" <<'PY' &
import random, socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 3600
while time.time() < end:
    r = random.uniform
    s.sendto("\n".join([
        "node.tx:%d|c" % random.randint(50, 150), "node.tx.validation:%.3f|ms" % r(1, 5),
        "node.block:1|c", "node.block.size:%d|h" % random.randint(100000, 300000),
        "node.mempool.size:%d|g" % random.randint(10, 90), "consensus.finality:%.1f|ms" % r(800, 1500),
        "consensus.messages:%d|c" % random.randint(10, 40), "consensus.participation:%.1f|g" % r(90, 100),
        "contract.exec:%.3f|ms|#function:transfer" % r(1, 3), "contract.exec:%.3f|ms|#function:mint" % r(2, 6),
        "contract.gas:%d|h" % random.randint(20000, 60000),
        "inference.latency:%.3f|ms|#model:fraud,type:cpu" % r(5, 15), "gc.pause:%.3f|ms" % r(1, 10),
    ]).encode(), ("127.0.0.1", port))
    time.sleep(0.25)
PY
PIDS+=($!)
sleep "$LOAD_S"

OUT=$(NODE_PATH="$NM/node_modules" timeout 120 node tests/integration/dashboard_test.cjs bench "$URL") ||
    { echo "$OUT"; warn "the browser run failed"; exit 1; }
echo "$OUT" >"$TMP/result.json"
"$PY" - "$TMP/result.json" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
kb = lambda b: b / 1000
tot, first = r["total_bytes"], r["first_chart_ms"]
print(f"bench/dashboard: static files {kb(r['asset_bytes']):.1f} KB; with the first render's API answers "
      f"{kb(tot):.1f} KB in {r['requests']} requests (target <= 200 KB): {'met' if tot <= 200000 else 'MISSED'}")
print(f"bench/dashboard: time to first chart {first:.0f} ms from navigation start (target <= 500 ms): "
      f"{'met' if first is not None and first <= 500 else 'MISSED'}")
print("bench/dashboard: runs " + ", ".join(f"{x['first']:.0f} ms/{kb(x['total']):.0f} KB" for x in r["runs"]))
PY
