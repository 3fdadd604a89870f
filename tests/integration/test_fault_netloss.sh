#!/bin/bash
# Fault: packet loss on the node's connections. Two network namespaces joined by a
# veth pair; the daemon runs in the sending one (so /proc/net/snmp is that
# namespace's), sampling every 250 ms with detection on (warm-up 40 ticks), while
# CONNS TCP connections carry a steady flow from it to a receiver in the other (one
# MSG_SIZE message per connection every PERIOD_MS, with TCP_NODELAY: about 200
# segments per tick, a few in flight). After the warm-up and a quiet baseline of
# 40 ticks, right after a tick (the onset), an nftables rule on the receiver's
# input hook drops LOSS_PCT % of the flow's packets (numgen random): to the
# sender's TCP that is loss on the wire, repaired by retransmission (a drop on the
# sender's own output hook would be a local error instead, not retransmitted).
# Expected:
#   - network.packet_loss_percent >= 5 within 2 ticks (the raw figure responds);
#   - the rule packet_loss (component network, >= 5 % for 2 ticks) within 3 ticks.
# Needs root, ip, nft (numgen) and nsenter; skips (77) without them. About 35 s.
# Names carry $$; the EXIT trap kills what the test started and deletes the
# namespaces (their veth pair and nft table go with them).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_arthamon
need_root "network namespaces, nftables"
need_tools "iproute2, nftables, util-linux" ip nft nsenter

BASELINE_S=10 # 40 ticks
BASELINE_TRIES=3
LOSS_PCT=30
PORT=30303
CONNS=16
MSG_SIZE=700
PERIOD_MS=20
NS_A=am-floss-a-$$
NS_B=am-floss-b-$$
VETH_A=amfla$$
VETH_B=amflb$$
ADDR_A=10.214.$(($$ % 250)).1
ADDR_B=10.214.$(($$ % 250)).2
T=$(mktemp -d /tmp/am-fault-netloss-XXXXXX) || fail "mktemp"
PIDS=()
NETNS=()
cleanup() {
    local ns
    stop_pids "${PIDS[@]}"
    for ns in "${NETNS[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns" 2>"$T/err" || skip "cannot make a network namespace: $(cat "$T/err")"
    NETNS+=("$ns")
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
        >/dev/null 2>&1 # fewer stray packets; without IPv6 there is nothing to turn off
    in_ns "$ns" ip link set lo up || fail "cannot bring lo up in $ns"
done
ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B" 2>"$T/err" ||
    skip "cannot make a veth pair: $(cat "$T/err")"
if ! { in_ns "$NS_A" ip addr add "$ADDR_A/30" dev "$VETH_A" &&
    in_ns "$NS_B" ip addr add "$ADDR_B/30" dev "$VETH_B" &&
    in_ns "$NS_A" ip link set "$VETH_A" up &&
    in_ns "$NS_B" ip link set "$VETH_B" up; }; then
    fail "cannot configure the veth pair"
fi
# nft with numgen in a namespace, tried on a table of its own before the test relies on it
if ! { in_ns "$NS_B" nft add table inet amfaultprobe &&
    in_ns "$NS_B" nft add chain inet amfaultprobe c &&
    in_ns "$NS_B" nft add rule inet amfaultprobe c numgen random mod 100 '<' 1 drop; } 2>"$T/err"; then
    skip "nftables unusable in a namespace: $(cat "$T/err")"
fi
in_ns "$NS_B" nft delete table inet amfaultprobe

cat >"$T/flow.py" <<'PYEOF'
"""recv ADDR PORT | send ADDR PORT CONNS SIZE PERIOD_MS: the steady flow (test_fault_netloss.sh)"""
import selectors, socket, sys, time

LIFE = 85.0  # outlives no test, even one whose cleanup did not run


def recv(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    print("listening", flush=True)
    end = time.monotonic() + LIFE
    while time.monotonic() < end:
        for key, _ in sel.select(1.0):
            if key.fileobj is ls:
                c, _ = ls.accept()
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()


def send(addr, port, conns, size, period_ms):
    socks = []
    for _ in range(conns):
        s = socket.create_connection((addr, port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
    print("connected", flush=True)
    msg, period = b"\x3c" * size, period_ms / 1000
    backlog = [b""] * conns
    nxt, end = time.monotonic(), time.monotonic() + LIFE
    while time.monotonic() < end:
        for i, s in enumerate(socks):
            # a connection stalled by loss keeps at most a second of messages
            if len(backlog[i]) < size * int(1 / period):
                backlog[i] += msg
            try:
                backlog[i] = backlog[i][s.send(backlog[i]):]
            except BlockingIOError:
                pass
        nxt += period
        time.sleep(max(0.0, nxt - time.monotonic()))


if sys.argv[1] == "recv":
    recv(sys.argv[2], int(sys.argv[3]))
else:
    send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
PYEOF

# wait_line FILE TEXT PID: until FILE holds TEXT (5 s); fails if PID ends first
wait_line() {
    for _ in $(seq 50); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || fail "process $3 ended before '$2': $(cat "$1")"
        sleep 0.1
    done
    fail "no '$2' in $1 after 5 s: $(cat "$1")"
}
nsenter --net="/run/netns/$NS_B" -- "$PY" "$T/flow.py" recv "$ADDR_B" "$PORT" >"$T/recv.log" 2>&1 &
PIDS+=($!)
wait_line "$T/recv.log" listening $!
nsenter --net="/run/netns/$NS_A" -- "$PY" "$T/flow.py" send "$ADDR_B" "$PORT" "$CONNS" "$MSG_SIZE" \
    "$PERIOD_MS" >"$T/send.log" 2>&1 &
PIDS+=($!)
wait_line "$T/send.log" connected $!

# the daemon in the sending namespace: start_daemon runs ARTHAMON_BIN, here a
# wrapper that execs it there (the daemon keeps the wrapper's PID)
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s -- %s "$@"\n' "$NS_A" "$ARTHAMON_BIN" >"$T/arthamon-in-ns"
chmod +x "$T/arthamon-in-ns"
fault_config "$T/c.yaml" "$T" "net_exclude: [lo]"
ARTHAMON_BIN=$T/arthamon-in-ns start_daemon "$T/c.yaml" "$T/run.log"
PIDS+=("$DAEMON_PID")
export FAULT_NS=$NS_A # the API is on the namespace's loopback

fault_watch warm "$URL" 40 || fail "see above"
fault_baseline "$BASELINE_S" "$BASELINE_TRIES" "$URL"
fault_watch settle "$URL" 10 anomaly_type=packet_loss || fail "packet_loss is open before the loss"

fault_watch tick "$URL" || fail "see above"
in_ns "$NS_B" nft -f - <<EOF || fail "cannot add the loss rule"
table inet amfaultloss {
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "$VETH_B" tcp dport $PORT numgen random mod 100 < $LOSS_PCT counter drop
    }
}
EOF
ONSET=$(now_ms)
echo "onset: $LOSS_PCT % of the flow's packets dropped on $NS_B's input"

SHOW=network.packet_loss_percent,network.egress_kbps,network.tcp_segments_sent_total,network.tcp_segments_retransmitted_total
fault_watch raw "$URL" "$ONSET" 2 "loss" network.packet_loss_percent ">=" 5 || fail "see above"
fault_watch expect "$URL" "$ONSET" 3 "rule packet_loss" "$SHOW" \
    anomaly_type=packet_loss component=network detector=rule || fail "see above"
echo "nft: $(in_ns "$NS_B" nft list table inet amfaultloss | grep -o 'counter packets [0-9]*' | cut -d' ' -f3) packets dropped"
