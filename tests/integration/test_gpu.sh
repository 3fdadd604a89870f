#!/bin/bash
# The GPU collector in the running daemon, with the NVML stand-in
# (tests/stand-ins/nvml_stand_in.c: the test machines have no GPU) in place of
# libnvidia-ml.so.1: the scripted figures of two GPUs come out exactly in
# /api/v1/snapshot (the per-GPU list and the aggregate) and in /metrics, go
# through the history database and come back after a restart; a GPU that falls
# off the bus is dropped with one log line; without NVML, gpu is null, the
# reason is logged once at info level and the agent runs on.
# bench/gpu_check.sh is the same check against a real GPU and nvidia-smi.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "curl" curl
STAND_IN="${ARTHAMON_BUILD:-}/tests/libnvml-stand-in.so"
[ -f "$STAND_IN" ] || fail "no NVML stand-in at $STAND_IN (built with the tests)"
T=$(mktemp -d /tmp/am-gpu-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    rm -rf "$T"
}
trap cleanup EXIT

cat >"$T/two.nvml" <<'EOF'
driver 550.54.15
device
name NVIDIA H100 80GB HBM3
uuid GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001
utilization 37
memory 1024 81559 512
temperature 41
power 71234
clocks 1980 2619
device
name NVIDIA H100 80GB HBM3
uuid GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002
utilization 80
memory 40960 81559 512
temperature 58
power 301500
clocks 1755 2619
EOF

export ARTHAMON_NVML_LIBRARY="$STAND_IN" ARTHAMON_NVML_STAND_IN="$T/two.nvml"
mkdir "$T/data"
daemon_config "$T/c.yaml" "$T/data"
sed -i 's/sampling_interval_ms: 1000/sampling_interval_ms: 250/' "$T/c.yaml"
start_daemon "$T/c.yaml" "$T/run.log"

# ---- the snapshot: every scripted figure, exactly ----
"$PY" - "$URL" <<'PY' || fail "see above"
import json, sys, time, urllib.request

url = sys.argv[1]
deadline = time.time() + 10
while True:
    try:
        with urllib.request.urlopen(url + "/api/v1/snapshot", timeout=5) as r:
            s = json.load(r)
        if s.get("gpu") is not None:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("FAIL: no snapshot with gpu within 10 s")
    time.sleep(0.1)

want_gpu = {"usage_percent": 58.5, "memory_used_mb": 41984, "memory_total_mb": 163118,
            "temperature": 58, "tensor_core_util": None, "core_util": 58.5,
            "quantum_sim_usage": None, "power_watts": 372.734}
want_gpus = [
    {"index": 0, "name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001",
     "usage_percent": 37, "memory_used_mb": 1024, "memory_total_mb": 81559, "temperature": 41,
     "power_watts": 71.234, "clock_sm_mhz": 1980, "clock_memory_mhz": 2619,
     "tensor_core_util": None, "core_util": 37},
    {"index": 1, "name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002",
     "usage_percent": 80, "memory_used_mb": 40960, "memory_total_mb": 81559, "temperature": 58,
     "power_watts": 301.5, "clock_sm_mhz": 1755, "clock_memory_mhz": 2619,
     "tensor_core_util": None, "core_util": 80},
]
if s["gpu"] != want_gpu:
    sys.exit("FAIL: gpu %s, want %s" % (s["gpu"], want_gpu))
if s["gpus"] != want_gpus:
    sys.exit("FAIL: gpus %s, want %s" % (s["gpus"], want_gpus))
keys = list(s.keys())
if keys.index("gpus") != keys.index("gpu") + 1:
    sys.exit("FAIL: gpus does not follow gpu: %s" % keys)
print("ok: /api/v1/snapshot: gpu %s; gpus[0] %s" % (json.dumps(s["gpu"]), json.dumps(s["gpus"][0])))
PY

# ---- /metrics: the same figures in base units ----
curl -sf "$URL/metrics" >"$T/metrics.txt" || fail "GET /metrics"
L0='gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001"'
L1='gpu="1",name="NVIDIA H100 80GB HBM3",uuid="GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002"'
N='node_id="test-node"'
for line in \
    "arthamon_gpu_usage_ratio{$N} 0.585" \
    "arthamon_gpu_memory_used_bytes{$N} 44023414784" \
    "arthamon_gpu_memory_total_bytes{$N} 171041619968" \
    "arthamon_gpu_temperature_celsius{$N} 58" \
    "arthamon_gpu_core_utilization_ratio{$N} 0.585" \
    "arthamon_gpu_power_watts{$N} 372.734" \
    "arthamon_gpu_device_usage_ratio{$N,$L0} 0.37" \
    "arthamon_gpu_device_usage_ratio{$N,$L1} 0.8" \
    "arthamon_gpu_device_memory_used_bytes{$N,$L0} 1073741824" \
    "arthamon_gpu_device_memory_total_bytes{$N,$L1} 85520809984" \
    "arthamon_gpu_device_temperature_celsius{$N,$L0} 41" \
    "arthamon_gpu_device_power_watts{$N,$L0} 71.234" \
    "arthamon_gpu_device_power_watts{$N,$L1} 301.5" \
    "arthamon_gpu_device_sm_clock_hertz{$N,$L1} 1755000000" \
    "arthamon_gpu_device_memory_clock_hertz{$N,$L0} 2619000000" \
    "arthamon_gpu_device_core_utilization_ratio{$N,$L1} 0.8"; do
    grep -qxF "$line" "$T/metrics.txt" || {
        grep arthamon_gpu "$T/metrics.txt"
        fail "/metrics has no line: $line"
    }
done
grep -q "tensor_core_utilization_ratio{" "$T/metrics.txt" && fail "a tensor-core sample although the figure is null"
grep -q '^arthamon_collector_errors_total{.*collector="gpu"} 0$' "$T/metrics.txt" ||
    fail "gpu collector errors: $(grep collector_errors "$T/metrics.txt")"
ok "/metrics: the aggregate and one sample per GPU, labelled gpu, name and uuid, in base units"

grep -q 'info  gpu gpu.c:[0-9]*: NVML from .*libnvml-stand-in.so (driver 550.54.15): 2 GPUs' "$T/run.log" ||
    fail "no NVML start line: $(grep ' gpu ' "$T/run.log")"
[ "$(grep -c 'tensor_core_util is null' "$T/run.log")" = 1 ] || fail "tensor_core_util reason not logged once"
grep -q 'warn  gpu ' "$T/run.log" && fail "gpu warnings: $(grep 'warn  gpu ' "$T/run.log")"
ok "the log names the library, the driver and the GPUs once, no warning"

# ---- the history database: series queried, snapshots back after a restart ----
sleep 1
Q='gpus.power_watts%7Bgpu%3D1%2Cname%3DNVIDIA%20H100%2080GB%20HBM3%2Cuuid%3DGPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002%7D'
curl -sf "$URL/api/v1/query?series=$Q&from=$(($(date +%s) - 60))" >"$T/q.json" ||
    fail "query of a per-GPU series: $(cat "$T/q.json")"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"] >= 2 and all(p[1] == 301.5 for p in d["points"]), d' "$T/q.json" ||
    fail "per-GPU series in the database: $(head -c 300 "$T/q.json")"
curl -sf "$URL/api/v1/history?limit=3" >"$T/h1.json"
stop_pids "$DAEMON_PID"
DAEMON_PID=""
start_daemon "$T/c.yaml" "$T/run2.log"
first=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshots"][0]["timestamp_ms"]/1000)' "$T/h1.json")
curl -sf "$URL/api/v1/history?from=$first&limit=3" >"$T/h2.json"
"$PY" - "$T/h1.json" "$T/h2.json" <<'PY' || fail "GPU figures across a restart"
import json, sys
a, b = (json.load(open(f))["snapshots"] for f in sys.argv[1:])
assert [s["timestamp_ms"] for s in a] == [s["timestamp_ms"] for s in b]
for x, y in zip(a, b):
    assert x["gpu"] == y["gpu"] and x["gpus"] == y["gpus"], (x["gpus"], y["gpus"])
    assert len(y["gpus"]) == 2 and y["gpus"][1]["uuid"].endswith("a002"), y["gpus"]
PY
stop_pids "$DAEMON_PID"
DAEMON_PID=""
ok "per-GPU series are in the database, and the history has the same gpu and gpus after a restart"

# ---- a GPU falling off the bus ----
sed 's/^clocks 1980 2619$/clocks 1980 2619\nlost 4/' "$T/two.nvml" >"$T/lost.nvml"
export ARTHAMON_NVML_STAND_IN="$T/lost.nvml"
start_daemon "$T/c.yaml" "$T/run3.log"
sleep 3
curl -sf "$URL/api/v1/snapshot" >"$T/s.json"
"$PY" - "$T/s.json" <<'PY' || fail "after a GPU was lost: $(head -c 600 "$T/s.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert [g["index"] for g in s["gpus"]] == [1], s["gpus"]
assert s["gpu"]["usage_percent"] == 80 and s["gpu"]["memory_total_mb"] == 81559, s["gpu"]
PY
[ "$(grep -c 'warn  gpu .*GPU 0 (GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001) is lost' "$T/run3.log")" = 1 ] ||
    fail "lost GPU not logged once: $(grep ' gpu ' "$T/run3.log")"
stop_pids "$DAEMON_PID"
DAEMON_PID=""
ok "a GPU that falls off the bus leaves gpus and the aggregate, logged once"

# ---- no NVML: gpu null, one info line, the rest measured ----
export ARTHAMON_NVML_LIBRARY="$T/no-such-libnvidia-ml.so.1"
start_daemon "$T/c.yaml" "$T/run4.log"
sleep 1.5
curl -sf "$URL/api/v1/snapshot" >"$T/s.json"
"$PY" - "$T/s.json" <<'PY' || fail "without NVML: $(head -c 600 "$T/s.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["gpu"] is None and s["gpus"] == [], (s["gpu"], s["gpus"])
assert s["cpu"]["usage_percent"] is not None
PY
[ "$(grep -c 'info  gpu .*no GPU measured: cannot load' "$T/run4.log")" = 1 ] ||
    fail "no-NVML reason not logged once: $(grep ' gpu ' "$T/run4.log")"
curl -sf "$URL/metrics" | grep -q '^arthamon_gpu' && fail "GPU samples without NVML"
ok "without NVML: gpu null, gpus [], the reason logged once at info level, the rest measured"
echo PASS
