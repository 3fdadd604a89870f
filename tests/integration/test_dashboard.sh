#!/bin/bash
# The dashboard in a real browser: headless Chromium (Debian's chromium, driven by
# playwright-core from npm) loads / from a daemon sampling every 500 ms and fed by
# StatsD with the node's metrics (transactions, blocks, mempool, consensus,
# contracts, two inference models, GC pauses), a contract function and a custom
# metric whose names are HTML, and a mempool that crosses a detection rule whose
# description is HTML. dashboard_test.cjs checks: no console error, page error or
# failed request; every chart the feed fills has data points, the others (GPU,
# quantum, P2P, temperature on a host without them) say "not measured on this
# host"; picking another range queries the store and changes the data drawn; the
# anomaly appears in the timeline and the list with its description, related
# metrics and actions as text; no element or script came from the data (alert()
# is recorded, never called); the theme toggle; the phone layout. Screenshots are
# kept in $ARTHAMON_BUILD/artifacts (dashboard.png, dashboard-dark.png,
# dashboard-phone.png).
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "chromium, nodejs, npm" /usr/bin/chromium node npm
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${ARTHAMON_BUILD:-$(dirname "$ARTHAMON_BIN")}
ART=$BUILD/artifacts
NM=$BUILD/node_modules-test
T=$(mktemp -d /tmp/am-dash-XXXXXX)
DAEMON_PID=""
FEED_PID=""
cleanup() {
    local p
    for p in "$FEED_PID" "$DAEMON_PID"; do
        [ -n "$p" ] && stop_pids "$p"
    done
    rm -rf "$T"
}
trap cleanup EXIT

# ---- playwright-core, installed once into the build folder
# (the newest 1.x wants Node 20; Debian 12's Node is 18, for which 1.49 is the choice)
PW=playwright-core@1
[ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ] && PW=playwright-core@1.49
if [ ! -f "$NM/node_modules/playwright-core/package.json" ]; then
    mkdir -p "$NM"
    if ! (cd "$NM" && timeout 120 npm install --no-audit --no-fund --prefix "$NM" "$PW" >"$T/npm.log" 2>&1); then
        tail -n 5 "$T/npm.log"
        skip "npm could not install playwright-core (no registry?)"
    fi
fi
ok "playwright-core $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$NM/node_modules/playwright-core/package.json" | head -n1), $(/usr/bin/chromium --version 2>/dev/null | head -n1)"

# ---- the daemon: 500 ms ticks, a rule on the mempool, the quantum panel on
daemon_config "$T/d.yaml" "$T" \
    'detection: {rules: [{name: pool_high, series: node.mempool_size, condition: ">", trigger: 100, severity: 4, description: "mempool <b>too</b> big <img src=x onerror=alert(2)>", actions: ["drain it"]}]}'
sed -i 's/^  sampling_interval_ms: 1000$/  sampling_interval_ms: 500/; s/^visualization: {dashboard_port: 0}$/visualization: {dashboard_port: 0, quantum_visualization: true}/' "$T/d.yaml"
start_daemon "$T/d.yaml" "$T/d.log"
SPORT=$(statsd_port "$T/d.log")

# ---- the node's metrics over StatsD, 4 datagrams a second; the mempool above the
# rule's trigger for 2 s of every 10
"$PY" - "$SPORT" >"$T/feed.log" 2>&1 <<'PY' &
import random, socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
xss = "<img/src=x/onerror=alert(1)>"
evil = "<img src=x onerror=alert(1)>"
i = 0
while True:
    i += 1
    r = random.uniform
    lines = [
        "node.tx:%d|c" % random.randint(50, 150),
        "node.tx.validation:%.3f|ms" % r(1, 5),
        "node.block:1|c",
        "node.block.size:%d|h" % random.randint(100000, 300000),
        "node.mempool.size:%d|g" % (500 if 8 <= i % 40 < 16 else random.randint(10, 90)),
        "consensus.finality:%.1f|ms" % r(800, 1500),
        "consensus.messages:%d|c" % random.randint(10, 40),
        "consensus.participation:%.1f|g" % r(90, 100),
        "consensus.pq_overhead:%.1f|g" % r(5, 10),
        "contract.exec:%.3f|ms|#function:transfer" % r(1, 3),
        "contract.exec:%.3f|ms|#function:mint" % r(2, 6),
        "contract.exec:%.3f|ms|#function:%s" % (r(1, 2), xss),
        "contract.gas:%d|h" % random.randint(20000, 60000),
        "contract.wasm_load:%.3f|ms" % r(0.5, 2),
        "inference.latency:%.3f|ms|#model:fraud,type:cpu" % r(5, 15),
        "inference.latency:%.3f|ms|#model:ranker,type:gpu" % r(20, 40),
        "inference.accelerator_util:%.1f|g|#model:ranker" % r(30, 70),
        "gc.pause:%.3f|ms" % r(1, 10),
        "%s:%d|g|#%s" % (xss, random.randint(1, 9), xss),
        "%s:%d|g|#%s,env:%s" % (evil, random.randint(1, 9), evil, evil),
    ]
    s.sendto("\n".join(lines).encode(), ("127.0.0.1", port))
    time.sleep(0.25)
PY
FEED_PID=$!

# ---- the browser
mkdir -p "$ART"
NODE_PATH="$NM/node_modules" CHROMIUM=/usr/bin/chromium \
    timeout 80 node "$HERE/dashboard_test.cjs" check "$URL" "$ART" || {
    echo "--- daemon log (tail)"
    tail -n 20 "$T/d.log"
    fail "the dashboard checks failed"
}
ok "dashboard test passed"
