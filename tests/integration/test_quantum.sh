#!/bin/bash
# The quantum figures on the real daemon:
#  1. qrng_throughput of a FIFO a writer feeds at a known rate (250-byte writes every
#     10 ms: 200,000 bit/s) must read that rate within 10 %; merkle_ops_per_sec comes from
#     the built-in probe (Nettle's SHA3-256); security_level_bits is the minimum over the
#     configured algorithms (Ed25519: 0), and classical_only_signatures is raised,
#     quantum-relevant;
#  2. figures the node reports over StatsD replace the measured ones and are listed in
#     reported_by_node;
#  3. with quantum_monitoring.enabled false the snapshot's quantum is null, no probe
#     thread runs.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "curl" curl
T=$(mktemp -d /tmp/am-quantum-XXXXXX)
DAEMON_PID=""
WRITER_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    [ -n "$WRITER_PID" ] && stop_pids "$WRITER_PID"
    rm -rf "$T"
}
trap cleanup EXIT

RATE_BITS=200000
mkfifo "$T/qrng"
# a source of fixed rate: a write every period on a fixed schedule, and no catching up
# after the pipe was full (as a device that drops what nobody reads)
"$PY" - "$T/qrng" 250 0.010 <<'PY' &
import os, sys, time
path, chunk, period = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_WRONLY)
buf = b"q" * chunk
nxt = time.monotonic()
while True:
    try:
        os.write(fd, buf)
    except BrokenPipeError:
        break
    nxt += period
    now = time.monotonic()
    if nxt < now:
        nxt = now + period
    time.sleep(nxt - now)
PY
WRITER_PID=$!

daemon_config "$T/c.yaml" "$T"
# (daemon_config writes monitoring: first; the quantum keys go under it)
sed -i "/^  sampling_interval_ms: 1000$/a\\
  quantum_monitoring:\\
    signature_algorithm: [Ed25519, secp256k1]\\
    key_exchange_algorithm: X25519MLKEM768\\
    hash_algorithm: SHA3-256\\
    qrng_source: $T/qrng\\
    probe_interval_sec: 10\\
    qrng_window_ms: 1000" "$T/c.yaml"
"$ARTHAMON_BIN" check-config "$T/c.yaml" || fail "the test's configuration is refused"
start_daemon "$T/c.yaml" "$T/run.log"
PORT=$(statsd_port "$T/run.log")

CRYPTO=yes
grep -q 'libnettle.so' "/proc/$DAEMON_PID/maps" || CRYPTO=no

"$PY" - "$URL" "$PORT" "$RATE_BITS" "$CRYPTO" <<'PY' || { tail -n 30 "$T/run.log"; fail "see above"; }
import json, socket, sys, time, urllib.request

url, port, rate, crypto = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]


def get(path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return json.loads(r.read().decode())


def wait(cond, what, limit=20):
    deadline = time.time() + limit
    while time.time() < deadline:
        q = get("/api/v1/snapshot").get("quantum")
        if q is not None and cond(q):
            return q
        time.sleep(0.2)
    print("FAIL: %s within %d s; quantum: %s" % (what, limit, q))
    sys.exit(1)


q = wait(lambda q: q["qrng_throughput"] is not None, "a qrng_throughput")
got = q["qrng_throughput"]
print("ok: qrng_throughput %.0f bit/s for %.0f fed (%+.1f %%)" % (got, rate, (got / rate - 1) * 100))
if abs(got / rate - 1) > 0.10:
    print("FAIL: qrng_throughput more than 10 % off")
    sys.exit(1)
if q["security_level_bits"] != 0:
    print("FAIL: security_level_bits %s, expected 0 (Ed25519)" % q["security_level_bits"])
    sys.exit(1)
print("ok: security_level_bits 0 (Ed25519, secp256k1 against a quantum adversary)")
if crypto == "yes":
    if not (q["merkle_ops_per_sec"] or 0) > 1000:
        print("FAIL: merkle_ops_per_sec %s with Nettle loaded" % q["merkle_ops_per_sec"])
        sys.exit(1)
    print("ok: merkle_ops_per_sec %.0f (SHA3-256 proof verifications)" % q["merkle_ops_per_sec"])
else:
    print("note: no libnettle.so mapped: merkle_ops_per_sec %s" % q["merkle_ops_per_sec"])
if q.get("reported_by_node"):
    print("FAIL: reported_by_node %s before the node reported" % q["reported_by_node"])
    sys.exit(1)

deadline = time.time() + 10
while True:
    an = [a for a in get("/api/v1/anomalies?limit=50")["anomalies"]
          if a["anomaly_type"] == "classical_only_signatures"]
    if an or time.time() > deadline:
        break
    time.sleep(0.2)
if not an or not an[0]["quantum_relevant"] or "Ed25519" not in an[0]["description"]:
    print("FAIL: no quantum-relevant classical_only_signatures anomaly: %s" % an)
    sys.exit(1)
print("ok: classical_only_signatures: %s" % an[0]["description"])

# the node reports: its figures win and say so
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
lines = ("quantum.qrng_throughput:4242|g\nquantum.pq_overhead:7.5|g\n"
         "quantum.security_level:192|g\nquantum.sim.qubits:20|g\nquantum.sim.circuit_depth:40|g\n")
s.sendto(lines.encode(), ("127.0.0.1", port))
q = wait(lambda q: q["qrng_throughput"] == 4242 and q["simulation_metrics"] is not None,
         "the node's figures")
want = {"qrng_throughput", "pq_crypto_overhead", "security_level_bits", "simulation_metrics"}
if (q["pq_crypto_overhead"] != 7.5 or q["security_level_bits"] != 192
        or q["simulation_metrics"]["qubits"] != 20 or set(q["reported_by_node"]) != want):
    print("FAIL: the node's figures: %s" % q)
    sys.exit(1)
print("ok: the node's figures win: reported_by_node %s" % q["reported_by_node"])
PY
ok "quantum figures measured and reported"
TASKS=("/proc/$DAEMON_PID/task"/*)
THREADS_ON=${#TASKS[@]}
stop_pids "$DAEMON_PID"
DAEMON_PID=""

# off: no quantum object, no probe thread
sed -i "s|^  quantum_monitoring:$|  quantum_monitoring:\\
    enabled: false|" "$T/c.yaml"
start_daemon "$T/c.yaml" "$T/run2.log"
"$PY" - "$URL" <<'PY' || fail "see above"
import json, sys, time, urllib.request

url = sys.argv[1]
deadline = time.time() + 10
while time.time() < deadline:
    with urllib.request.urlopen(url + "/api/v1/snapshot", timeout=10) as r:
        snap = json.loads(r.read().decode())
    if snap.get("cpu", {}).get("usage_percent") is not None:
        break
    time.sleep(0.2)
if "quantum" not in snap or snap["quantum"] is not None:
    print("FAIL: quantum is %s with quantum monitoring off" % snap.get("quantum", "(missing)"))
    sys.exit(1)
print("ok: quantum is null with quantum monitoring off")
PY
TASKS=("/proc/$DAEMON_PID/task"/*)
THREADS_OFF=${#TASKS[@]}
[ "$THREADS_OFF" -lt "$THREADS_ON" ] ||
    fail "threads: $THREADS_OFF with quantum monitoring off, $THREADS_ON with the probe thread"
ok "off: quantum null, $THREADS_OFF threads (probe thread gone; $THREADS_ON on)"
