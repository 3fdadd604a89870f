#!/bin/bash
# Fault: the node's throughput collapses while its mempool grows. A feeder sends
# the daemon's StatsD port (docs/ingest.md's built-in names) a datagram every 25 ms:
# node.tx (a counter: TX_PER_TICK transactions a tick, +-20 % noise) and
# node.mempool.size (a gauge: MEMPOOL +-2 %). The daemon samples every 250 ms with
# detection on (warm-up 40 ticks). After the warm-up and a quiet baseline of 40
# ticks, SIGUSR1 right after a tick (the onset) switches the feeder: 5 % of the
# transactions, and a mempool growing by MEMPOOL_GROWTH a tick (the CPU does not
# change). Expected:
#   - node.transactions_per_sec falls under 25 % of its level within 2 ticks (the
#     raw figure responds);
#   - the rule tps_collapse (component node) within 3 ticks;
#   - the trend rule mempool_growth (component node) within 30 ticks;
#   - a learned anomaly (series or multivariate) on component node within 30 ticks.
# About 35 s. Exit 0 pass, 1 fail.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "python3"

BASELINE_S=10 # 40 ticks
BASELINE_TRIES=3
TX_PER_TICK=100 # 400 transactions/s
MEMPOOL=500
MEMPOOL_GROWTH=40
T=$(mktemp -d /tmp/am-fault-node-XXXXXX) || fail "mktemp"
PIDS=()
cleanup() {
    stop_pids "${PIDS[@]}"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fault_config "$T/c.yaml" "$T" ""
start_daemon "$T/c.yaml" "$T/run.log"
PIDS+=("$DAEMON_PID")
PORT=$(statsd_port "$T/run.log") || exit 1

"$PY" - "$PORT" "$FAULT_TICK_MS" "$TX_PER_TICK" "$MEMPOOL" "$MEMPOOL_GROWTH" >"$T/feeder.log" 2>&1 <<'PY' &
import random, signal, socket, sys, time

port, tick = int(sys.argv[1]), int(sys.argv[2]) / 1000
tx_per_tick, mempool, growth = (float(x) for x in sys.argv[3:6])
SENDS = 10  # datagrams a tick: whatever the phase, every interval gets about as many
LIFE = 85.0  # outlives no test, even one whose cleanup did not run
collapse_at = None


def collapse(*_):
    global collapse_at
    collapse_at = time.monotonic()


signal.signal(signal.SIGUSR1, collapse)
random.seed(11)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
period = tick / SENDS
owed = 0.0  # fractions of a transaction carried to the next datagram
nxt = start = time.monotonic()
print("feeding", flush=True)
while time.monotonic() - start < LIFE:
    now = time.monotonic()
    if collapse_at is None:
        rate, pool = 1.0, mempool
    else:
        rate, pool = 0.05, mempool + growth * (now - collapse_at) / tick
    owed += tx_per_tick * rate / SENDS * random.uniform(0.8, 1.2)
    n, owed = int(owed), owed - int(owed)
    lines = [f"node.mempool.size:{round(pool * random.uniform(0.98, 1.02))}|g"]
    if n:
        lines.append(f"node.tx:{n}|c")
    sock.sendto("\n".join(lines).encode(), ("127.0.0.1", port))
    nxt += period
    time.sleep(max(0.0, nxt - time.monotonic()))
PY
FEEDER_PID=$!
PIDS+=("$FEEDER_PID")

fault_watch warm "$URL" 40 || fail "see above"
kill -0 "$FEEDER_PID" 2>/dev/null || fail "the feeder ended: $(cat "$T/feeder.log")"
fault_baseline "$BASELINE_S" "$BASELINE_TRIES" "$URL"
fault_watch settle "$URL" 10 component=node || echo "note: a node anomaly of the baseline is still open"

fault_watch tick "$URL" || fail "see above"
ONSET=$(now_ms)
kill -USR1 "$FEEDER_PID"
echo "onset: transactions down to 5 %, the mempool growing by $MEMPOOL_GROWTH a tick"

SHOW=node.transactions_per_sec,node.mempool_size,cpu.usage_percent
fault_watch raw "$URL" "$ONSET" 2 "collapse" node.transactions_per_sec "<=" \
    $((TX_PER_TICK * 1000 / FAULT_TICK_MS / 4)) || fail "see above"
fault_watch expect "$URL" "$ONSET" 3 "rule tps_collapse" "$SHOW" \
    anomaly_type=tps_collapse component=node || fail "see above"
fault_watch expect "$URL" "$ONSET" 30 "mempool_growth" "$SHOW" \
    anomaly_type=mempool_growth component=node || fail "see above"
fault_watch expect "$URL" "$ONSET" 30 "learned node" "$SHOW" \
    component=node "detector=series|multivariate" || fail "see above"
