#!/bin/bash
# StatsD in, as a node sends it: Debian's python3-statsd (counters with a sample
# rate, gauges and gauge deltas, timers, sets) and
# python3-aiodogstatsd (DogStatsD tags, histograms, distributions) talk to the
# daemon; every value is checked in the snapshot field it maps to (docs/ingest.md)
# or, unmapped, in /metrics as statsd_exporter would expose it. Malformed lines
# are counted by reason and do not disturb their neighbours; the Unix datagram
# socket takes lines too.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "curl" curl
"$PY" -c 'import statsd, aiodogstatsd' 2>/dev/null ||
    skip "python3-statsd and python3-aiodogstatsd are not installed (scripts/install-deps.sh test)"
T=$(mktemp -d /tmp/am-statsd-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    rm -rf "$T"
}
trap cleanup EXIT

daemon_config "$T/c.yaml" "$T" \
    "statsd: {listen: \"127.0.0.1:0\", unix_socket: $T/statsd.sock, mapping: [{match: \"myapp.*.verify\", field: node.avg_tx_validation_ms}]}"
sed -i 's/sampling_interval_ms: 1000/sampling_interval_ms: 2000/' "$T/c.yaml"
start_daemon "$T/c.yaml" "$T/run.log"
PORT=""
for _ in $(seq 50); do
    PORT=$(sed -n 's/.*StatsD on udp .*(port \([0-9]*\),.*/\1/p' "$T/run.log" | head -n1)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { cat "$T/run.log"; fail "the daemon did not say which StatsD port it bound"; }
[ -S "$T/statsd.sock" ] || fail "no Unix socket at $T/statsd.sock"

"$PY" - "$URL" "$PORT" "$T/statsd.sock" "$T/metrics.txt" <<'PY' || fail "see above"
import asyncio, json, random, socket, sys, time, urllib.request

import aiodogstatsd
import statsd

url, port, sock = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def get(path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return r.read().decode()


def snapshot_ts():
    try:
        return json.loads(get("/api/v1/snapshot"))["timestamp_ms"]
    except Exception:
        return None


# right after a tick: the whole burst lands in one 2 s interval
first = snapshot_ts()
deadline = time.time() + 10
while snapshot_ts() in (None, first) and time.time() < deadline:
    time.sleep(0.02)
after = snapshot_ts()

c = statsd.StatsClient("127.0.0.1", port)
c.incr("node.tx", 8)                         # c
c.timing("node.tx.validation", 2)             # ms
c.timing("node.tx.validation", 4)
c.timing("myapp.eth.verify", 6)               # a configured mapping rule
c.gauge("node.mempool.size", 100)             # g
c.gauge("node.mempool.size", 5, delta=True)   # g, +delta
c.gauge("node.mempool.size", -2, delta=True)  # g, -delta
c.set("app.users", "alice")                   # s
c.set("app.users", "bob")
c.set("app.users", "alice")
c.timing("app.lat", 30)                       # an unmapped timer: a histogram in seconds
# a sample rate: the client sends about half of these, each counting for 2
random.seed(7)
sent = sum(1 for _ in range(40) if random.random() <= 0.5)
random.seed(7)
for _ in range(40):
    c.incr("app.sampled", 1, rate=0.5)
# (python3-statsd's Unix client speaks SOCK_STREAM; the DogStatsD socket is a datagram one)
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.sendto(b"app.unix:3|c", sock)


async def dog():
    d = aiodogstatsd.Client(host="127.0.0.1", port=port)
    await d.connect()
    d.histogram("node.block.size", value=2048)                          # h
    d.increment("node.block")
    d.distribution("app.payload", value=300, tags={"region": "eu"})     # d, tagged
    d.timing("contract.exec", value=10, tags={"function": "transfer"})
    d.timing("contract.exec", value=30, tags={"function": "transfer"})
    d.timing("contract.exec", value=20, tags={"function": "mint"})
    d.timing("inference.latency", value=4.1, tags={"model": "fraud", "type": "onnx"})
    d.timing("inference.layer", value=1.5, tags={"model": "fraud", "layer": "conv1"})
    d.gauge("consensus.participation", value=91)
    d.increment("consensus.messages", value=30)
    d.timing("consensus.finality", value=1500)
    d.timing("gc.pause", value=12)
    d.gauge("app.temp", value=21.5, tags={"b": "2", "a": "1"})
    d.increment("app.hits", value=2, tags={"b": "2", "a": "1"})
    d.increment("app.hits", value=3, tags={"a": "1", "b": "2"})      # same series, tags reordered
    await d.close()


asyncio.run(dog())
raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
raw.sendto(b"bad@line:1|c\nnovalue|c\napp.good:1|c\n:1|c\napp.x:abc|g\napp.y:1|zz\n", ("127.0.0.1", port))
sent_at = time.time()

# the interval that holds the burst, and the next, are folded 2 s apart
time.sleep(4.5)
hist = json.loads(get("/api/v1/history?limit=6"))
snaps = hist["snapshots"] if isinstance(hist, dict) else hist
mine = [s for s in snaps if s["timestamp_ms"] > after and s["node"].get("avg_tx_validation_ms") is not None]
if len(mine) != 1:
    print("FAIL: want one snapshot with the burst, got", len(mine), [s["node"] for s in snaps])
    sys.exit(1)
s = mine[0]
n, dt = s["node"], s["interval_sec"]
bad = []


def near(what, got, want, rel=0.01):
    if got is None or abs(got - want) > rel * abs(want) + 1e-9:
        bad.append(f"{what}: {got}, want {want}")
    else:
        print(f"ok: {what} = {got}")


near("node.transactions_per_sec x interval", n["transactions_per_sec"] * dt, 8 + 3)
near("node.avg_tx_validation_ms", n["avg_tx_validation_ms"], 4)
near("node.mempool_size", n["mempool_size"], 103)
near("node.avg_block_size_kb", n["avg_block_size_kb"], 2)
near("node.blocks_per_min x interval / 60", n["blocks_per_min"] * dt / 60, 2)
cm, ct = n["consensus_metrics"], n["contract_metrics"]
near("consensus.participation_percent", cm["participation_percent"], 91)
near("consensus.messages_per_sec x interval", cm["messages_per_sec"] * dt, 30)
near("consensus.time_to_finality_sec", cm["time_to_finality_sec"], 1.5)
near("contract.contracts_per_sec x interval", ct["contracts_per_sec"] * dt, 3)
near("contract.avg_execution_ms", ct["avg_execution_ms"], 20)
near("contract.function_calls.transfer", ct["function_calls"].get("transfer"), 2)
near("contract.function_calls.mint", ct["function_calls"].get("mint"), 1)
mi = s["model_inference"]
if len(mi) != 1 or mi[0]["model_name"] != "fraud" or mi[0]["model_type"] != "onnx":
    bad.append(f"model_inference: {mi}")
else:
    near("model fraud avg_inference_ms", mi[0]["avg_inference_ms"], 4.1)
    near("model fraud p99_inference_ms", mi[0]["p99_inference_ms"], 4.1)
    near("model fraud throughput x interval", mi[0]["throughput_per_sec"] * dt, 1)
    near("model fraud layer conv1", mi[0]["layer_latencies"].get("conv1"), 1.5)
gc = s["memory"]["gc_metrics"]
near("gc avg_pause_ms", gc and gc["avg_pause_ms"], 12)

m = get("/metrics")
with open(sys.argv[4], "w") as f:
    f.write(m)


def sample(line_start):
    for l in m.splitlines():
        if l.startswith(line_start):
            return float(l.rsplit(" ", 1)[1])
    return None


near("/metrics app_users (set)", sample('app_users{node_id="test-node"}'), 2, 0)
near("/metrics app_sampled_total", sample('app_sampled_total{node_id="test-node"}'), 2 * sent)
near("/metrics app_unix_total", sample('app_unix_total{node_id="test-node"}'), 3)
near("/metrics app_hits_total", sample('app_hits_total{node_id="test-node",a="1",b="2"}'), 5)
near("/metrics app_temp", sample('app_temp{node_id="test-node",a="1",b="2"}'), 21.5)
near("/metrics app_good_total", sample('app_good_total{node_id="test-node"}'), 1)
near("/metrics app_lat_sum (s)", sample('app_lat_sum{node_id="test-node"}'), 0.03)
near("/metrics app_lat_bucket le=0.05", sample('app_lat_bucket{node_id="test-node",le="0.05"}'), 1)
near("/metrics app_lat_bucket le=0.025", sample('app_lat_bucket{node_id="test-node",le="0.025"}'), 0, 0)
near("/metrics app_payload_count", sample('app_payload_count{node_id="test-node",region="eu"}'), 1)
# the latency fields' sketches: summaries over the last 10 minutes, in seconds
near("/metrics tx validation p50 (s)", sample('arthamon_node_tx_validation_duration_seconds{node_id="test-node",quantile="0.5"}'), 0.004)
near("/metrics tx validation count", sample('arthamon_node_tx_validation_duration_seconds_count{node_id="test-node"}'), 3, 0)
near("/metrics inference p99 (s)", sample('arthamon_model_inference_duration_seconds{node_id="test-node",model="fraud",type="onnx",quantile="0.99"}'), 0.0041)
if "# TYPE arthamon_model_inference_duration_seconds summary" not in m:
    bad.append("no summary family for the model inference latency")
for fam in ("app_users", "app_hits_total", "app_lat"):
    want = "gauge" if fam == "app_users" else "counter" if fam.endswith("_total") else "histogram"
    if f"# TYPE {fam} {want}" not in m:
        bad.append(f"no '# TYPE {fam} {want}' in /metrics")
for reason in ("bad_name", "no_value", "empty_name", "bad_value", "unknown_type"):
    near(f"malformed {reason}", sample(f'arthamon_statsd_malformed_total{{node_id="test-node",reason="{reason}"}}'), 1, 0)
for mapped in ("node_tx_validation", "node_mempool_size", "contract_exec"):
    if any(l.startswith(mapped) for l in m.splitlines()):
        bad.append(f"{mapped}: a mapped name is also exported as a custom series")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
PY
ok "every StatsD line type from two client libraries lands in its snapshot field or /metrics"
if command -v promtool >/dev/null 2>&1; then
    promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 ||
        { cat "$T/promtool.out"; fail "promtool finds the exposition with custom series invalid"; }
    ok "promtool check metrics accepts the exposition with the custom series"
fi
