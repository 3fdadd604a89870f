#!/bin/bash
# Accuracy of the network throughput figures against sysstat's sar -n DEV.
#
# Load: two network namespaces joined by a veth pair (IPv6 off, so that no
# router solicitation or DAD packet crosses at a random moment); 200 MiB go
# over one TCP connection from namespace A to namespace B (python3 sender and
# receiver), and the sender waits until the receiver has read everything.
#
# Window: in each namespace, `arthamon snapshot --interval W` and `sar -n DEV
# W 1` start together (four programs); the load starts 0.5 s later and must
# end well before the window does. Both tools read /proc/net/dev of their
# namespace, where nothing but the load moves, so over the window they count
# the same bytes and their rates differ only by the length of their windows.
#
# Checks (the issue's acceptance: ±5 % for rates), interfaces other than lo
# summed on the sar side (arthamon: agent.net_exclude [lo]):
#   A: network.egress_kbps  vs sar txkB/s   (the 200 MiB)
#      network.ingress_kbps vs sar rxkB/s   (the receiver's ACKs)
#   B: network.ingress_kbps vs sar rxkB/s   (the 200 MiB)
#      network.egress_kbps  vs sar txkB/s   (the ACKs)
# plus sanity: both tools saw the 200 MiB (at least 95 % of it, as rate times
# the nominal window) leave A and arrive in B.
#
# Needs root (ip netns). Exit 0 pass, 1 fail, 77 skip.
set -u

W_SEC=5
LOAD_MIB=200
PORT=5201
TOL_RATE=5

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

need_arthamon
need_root "network namespaces"
need_tools "iproute2, sysstat" ip sar

NS_A="am-acc-a-$$"
NS_B="am-acc-b-$$"
VETH_A="amacca$$"
VETH_B="amaccb$$"
ADDR_A=10.213.$(($$ % 250)).1
ADDR_B=10.213.$(($$ % 250)).2
WORK=$(mktemp -d "/tmp/arthamon-acc-net.$$.XXXXXX") || fail "mktemp"
NS_MADE=""
LOAD_PIDS=""
TOOL_PIDS=""
cleanup() {
    stop_pids $TOOL_PIDS $LOAD_PIDS
    for ns in $NS_MADE; do
        ip netns del "$ns" 2>/dev/null # takes the veth pair with it
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$NS_A" 2>"$WORK/netns.err" || skip "cannot make a network namespace: $(cat "$WORK/netns.err")"
NS_MADE=$NS_A
ip netns add "$NS_B" 2>"$WORK/netns.err" || fail "cannot make a second network namespace: $(cat "$WORK/netns.err")"
NS_MADE="$NS_A $NS_B"
for ns in "$NS_A" "$NS_B"; do
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
        >/dev/null 2>&1 # without IPv6 in the kernel there is nothing to turn off
    in_ns "$ns" ip link set lo up || fail "cannot bring lo up in $ns"
done
ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B" 2>"$WORK/veth.err" ||
    skip "cannot make a veth pair: $(cat "$WORK/veth.err")"
if ! { in_ns "$NS_A" ip addr add "$ADDR_A/30" dev "$VETH_A" &&
    in_ns "$NS_B" ip addr add "$ADDR_B/30" dev "$VETH_B" &&
    in_ns "$NS_A" ip link set "$VETH_A" up &&
    in_ns "$NS_B" ip link set "$VETH_B" up; }; then
    fail "cannot configure the veth pair"
fi

cat >"$WORK/recv.py" <<'PYEOF'
import socket, sys
addr, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(1)
open(ready, "w").write("listening\n")
c, _ = s.accept()
buf = bytearray(1 << 20)
n = 0
while True:
    k = c.recv_into(buf)
    if not k:
        break
    n += k
c.close()
print(n)
PYEOF
cat >"$WORK/send.py" <<'PYEOF'
import socket, sys
addr, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = b"\xa5" * (1 << 20)
s = socket.create_connection((addr, port), timeout=30)
for _ in range(mib):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
s.recv(1)  # the receiver closes once it has read everything
s.close()
PYEOF

nsenter --net="/run/netns/$NS_B" -- "$PY" "$WORK/recv.py" "$ADDR_B" "$PORT" "$WORK/recv.ready" >"$WORK/recv.out" 2>"$WORK/recv.err" &
RECV_PID=$!
LOAD_PIDS=$RECV_PID
for _ in $(seq 1 100); do
    [ -s "$WORK/recv.ready" ] && break
    kill -0 "$RECV_PID" 2>/dev/null || fail "receiver failed: $(cat "$WORK/recv.err")"
    sleep 0.05
done
[ -s "$WORK/recv.ready" ] || fail "receiver did not listen within 5 s"

snapshot_config "$WORK/arthamon-a.yaml" "$WORK"
snapshot_config "$WORK/arthamon-b.yaml" "$WORK"

echo "load: ${LOAD_MIB} MiB over TCP from $NS_A ($VETH_A $ADDR_A) to $NS_B ($VETH_B $ADDR_B); window ${W_SEC} s"
export LC_ALL=C
TOOL_PIDS=""
for x in a b; do
    ns=$NS_A
    [ $x = b ] && ns=$NS_B
    nsenter --net="/run/netns/$ns" -- "$ARTHAMON_BIN" snapshot -c "$WORK/arthamon-$x.yaml" --json \
        --interval $((W_SEC * 1000)) >"$WORK/arthamon-$x.json" 2>"$WORK/arthamon-$x.err" &
    TOOL_PIDS="$TOOL_PIDS $!"
    nsenter --net="/run/netns/$ns" -- sar -n DEV "$W_SEC" 1 >"$WORK/sar-$x.txt" 2>"$WORK/sar-$x.err" &
    TOOL_PIDS="$TOOL_PIDS $!"
done
t0=$(date +%s.%N)
sleep 0.5
ts=$(date +%s.%N)
in_ns "$NS_A" "$PY" "$WORK/send.py" "$ADDR_B" "$PORT" "$LOAD_MIB" 2>"$WORK/send.err" ||
    fail "sender failed: $(cat "$WORK/send.err")"
t1=$(date +%s.%N)
wait "$RECV_PID" || fail "receiver failed: $(cat "$WORK/recv.err")"
LOAD_PIDS=""
for p in $TOOL_PIDS; do
    wait "$p" || fail "arthamon or sar failed: $(cat "$WORK"/arthamon-?.err "$WORK"/sar-?.err)"
done
TOOL_PIDS=""

"$PY" - "$WORK" "$t0" "$ts" "$t1" "$W_SEC" "$LOAD_MIB" "$TOL_RATE" "$NS_A" "$NS_B" <<'PYEOF'
import json, sys

work = sys.argv[1]
t0, ts, t1, w, load, tol = (float(x) for x in sys.argv[2:8])
names = {"a": sys.argv[8], "b": sys.argv[9]}
failed = False

received = int(open(f"{work}/recv.out").read().split()[0])
print(f"load ran from {ts - t0:.2f} s to {t1 - t0:.2f} s of the {w:.0f} s window; "
      f"receiver read {received} bytes")
if received != int(load) << 20:
    print(f"FAIL: the receiver read {received} bytes, not {int(load) << 20}")
    sys.exit(1)
if t1 - t0 > w - 0.3:
    print(f"FAIL: the transfer took {t1 - ts:.1f} s and ran to the end of the window: "
          "the tools' windows no longer hold the whole load")
    sys.exit(1)

def sar_dev(path):
    """rxkB/s and txkB/s summed over the interfaces other than lo, from the Average lines"""
    header, rx, tx, ifaces = None, 0.0, 0.0, []
    for line in open(path):
        f = line.split()
        if not f or f[0] != "Average:":
            continue
        if "IFACE" in f:
            header = f
        elif header and len(f) == len(header) and f[header.index("IFACE")] != "lo":
            ifaces.append(f[header.index("IFACE")])
            rx += float(f[header.index("rxkB/s")])
            tx += float(f[header.index("txkB/s")])
    if header is None:
        raise SystemExit(f"FAIL: no 'Average: IFACE' block in {path}")
    return rx, tx, ifaces

def check(name, ours, theirs, tool):
    global failed
    if ours is None:
        print(f"  {name:<22} arthamon null  {tool} {theirs:.2f}  FAIL (null)")
        failed = True
        return
    rel = 100.0 * (ours - theirs) / theirs if theirs else float("inf")
    # sar prints 2 decimals: allow that rounding on top
    ok = abs(ours - theirs) <= tol / 100.0 * abs(theirs) + 0.01
    failed |= not ok
    print(f"  {name:<22} arthamon {ours:11.2f}  {tool:<11} {theirs:11.2f} KiB/s  "
          f"diff {rel:+6.2f} %  tolerance ±{tol:g} %  {'ok' if ok else 'FAIL'}")

totals = {}
for x in ("a", "b"):
    snap = json.load(open(f"{work}/arthamon-{x}.json"))
    net = snap["network"]
    rx, tx, ifaces = sar_dev(f"{work}/sar-{x}.txt")
    print(f"namespace {names[x]} (sar interfaces: {' '.join(ifaces) or 'none'}; "
          f"arthamon interval_sec {snap['interval_sec']}):")
    check("network.egress_kbps", net["egress_kbps"], tx, "sar txkB/s")
    check("network.ingress_kbps", net["ingress_kbps"], rx, "sar rxkB/s")
    totals[x] = dict(a_tx=(net["egress_kbps"] or 0) * snap["interval_sec"] / 1024,
                     a_rx=(net["ingress_kbps"] or 0) * snap["interval_sec"] / 1024,
                     s_tx=tx * w / 1024, s_rx=rx * w / 1024)

# sar's own window length is not printed: its total is taken over the nominal
# W, which a loaded machine stretches by a few tens of milliseconds
for who, key, x, what in (("arthamon", "a_tx", "a", "leave"), ("sar", "s_tx", "a", "leave"),
                          ("arthamon", "a_rx", "b", "arrive in"), ("sar", "s_rx", "b", "arrive in")):
    got = totals[x][key]
    if got < 0.95 * load:
        print(f"FAIL: {who} saw {got:.1f} MiB {what} {names[x]}, under the {load:.0f} MiB sent")
        failed = True
print("FAIL: arthamon's network figures disagree with sar" if failed else
      "PASS: arthamon's network figures agree with sar -n DEV")
sys.exit(1 if failed else 0)
PYEOF
