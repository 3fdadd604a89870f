#!/bin/bash
# A flood of 1,000,000 distinct StatsD names (over the Unix datagram socket,
# which loses nothing: a full queue blocks the sender) against the default
# series limit of 10,000: the daemon holds exactly 10,000 series, counts every
# value of the others as dropped, keeps taking values for the series it holds,
# and its memory stays bounded (printed; at most 64 MiB here).
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "curl" curl
T=$(mktemp -d /tmp/am-flood-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    rm -rf "$T"
}
trap cleanup EXIT

daemon_config "$T/c.yaml" "$T" "statsd: {listen: \"\", unix_socket: $T/statsd.sock}" \
    "storage: {enabled: false}"
start_daemon "$T/c.yaml" "$T/run.log"
for _ in $(seq 50); do
    [ -S "$T/statsd.sock" ] && break
    sleep 0.1
done
[ -S "$T/statsd.sock" ] || { cat "$T/run.log"; fail "no Unix socket at $T/statsd.sock"; }
rss0=$(awk '/^VmRSS/{print $2}' "/proc/$DAEMON_PID/status")

"$PY" - "$T/statsd.sock" <<'PY' || fail "could not send the flood"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
kinds = ("c", "g", "ms")
for d in range(50000):
    s.send("\n".join(f"flood.n{d * 20 + i:07d}:{i}|{kinds[i % 3]}" for i in range(20)).encode())
# a series held before the limit still takes values
s.send(b"flood.n0000000:5|c")
PY
sleep 1.5
m=$(curl -s "$URL/metrics")
get() { echo "$m" | awk -v k="$1" 'index($0, k"{") == 1 {print $NF; exit}'; }
series=$(get arthamon_node_series)
dropped=$(get arthamon_statsd_series_dropped_total)
lines=$(get arthamon_statsd_lines_total)
first=$(get flood_n0000000_total)
hwm=$(awk '/^VmHWM/{print $2}' "/proc/$DAEMON_PID/status")
echo "series held $series, values dropped $dropped, lines recorded $lines;" \
    "RSS $((rss0 / 1024)) MiB before, peak $((hwm / 1024)) MiB after 1,000,000 names"
[ "$series" = 10000 ] || fail "want 10000 series held, got '$series'"
[ "$dropped" = 990000 ] || fail "want 990000 values dropped, got '$dropped'"
[ "$first" = 5 ] || fail "a series held before the limit no longer takes values: '$first'"
[ "$hwm" -le $((64 * 1024)) ] || fail "peak RSS $((hwm / 1024)) MiB is over 64 MiB"
grep -q "limit of 10000 node metric series is reached" "$T/run.log" ||
    fail "the limit was not logged"
[ "$(grep -c "limit of 10000 node metric series" "$T/run.log")" = 1 ] ||
    fail "the limit was logged more than once"
ok "1,000,000 names: 10,000 series held, 990,000 values counted as dropped, peak RSS $((hwm / 1024)) MiB"
