#!/bin/bash
# The daemon's HTTP server under load and abuse, on a daemon sampling every second:
#  (a) wrk with many connections against /metrics, then /api/v1/snapshot: no socket
#      errors, no non-2xx answers, RSS flat after a warm-up, no sampler tick missed;
#  (b) slowloris: connections that trickle one header byte a second and never finish
#      neither starve a normal client nor outlive http.request_timeout_sec; with more
#      of them than http.max_connections, normal clients get service back within
#      request_timeout_sec + 2 s. (At the cap libmicrohttpd stops accepting: further
#      connections wait in the listen backlog until the deadline frees slots.)
# Figures are printed as ok: lines. About 90 s of wall time.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "wrk, curl" wrk curl

# ---- sizes
WRK_CONNS=256      # wrk -c
WRK_THREADS=2      # wrk -t
WRK_SECS=30        # wrk -d, per endpoint
WARMUP_SECS=3      # the warm-up wrk run, per endpoint
RSS_GROWTH_KB=5120 # most RSS growth allowed over both runs (5 MB)
SLOW=300           # slowloris connections, under the default max_connections (512)
SLOW_SECS=15       # how long the normal client polls /healthz meanwhile, once a second
REQ_TIMEOUT=5      # http.request_timeout_sec of both daemons
CAP=64             # http.max_connections of the second daemon...
CAP_SLOW=100       # ...and the slow connections thrown at it

# wrk and the daemon (which inherits this limit) hold a descriptor per connection
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null || [ "$(ulimit -n)" -ge 1024 ] ||
    fail "open-file limit $(ulimit -n): wrk and $SLOW connections need more"

T=$(mktemp -d /tmp/am-load-XXXXXX)
DAEMON_PID=""
SLOW_PID=""
cleanup() {
    [ -n "$SLOW_PID" ] && stop_pids "$SLOW_PID"
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    rm -rf "$T"
}
trap cleanup EXIT

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$DAEMON_PID/status"; }
# health KEY: a number from /healthz
health() {
    curl -sS -m 5 "$URL/healthz" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
# metric NAME: a sample's value from /metrics
metric() {
    curl -sS -m 5 "$URL/metrics" | sed -n "s/^$1{[^}]*} \([0-9.e+]*\)$/\1/p"
}
now() { echo "${EPOCHREALTIME/,/.}"; }
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }

# wrk_run PATH SECS OUT: wrk against PATH; fails on socket errors or non-2xx answers
wrk_run() {
    local path=$1 secs=$2 out=$3
    wrk -c "$WRK_CONNS" -t "$WRK_THREADS" -d "${secs}s" --timeout 2s --latency "$URL$path" \
        >"$out" 2>&1 || fail "wrk $path exited $?: $(tail -n 5 "$out")"
    grep -q 'Socket errors:' "$out" && fail "wrk $path: $(grep 'Socket errors:' "$out")"
    grep -q 'Non-2xx or 3xx responses' "$out" &&
        fail "wrk $path: $(grep 'Non-2xx or 3xx responses' "$out")"
    grep -q '^Requests/sec:' "$out" || fail "wrk $path printed no figures: $(cat "$out")"
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died under wrk $path"
}
# wrk_figures OUT: requests/s, latency avg, p50, p99, max
wrk_figures() {
    awk '/^Requests\/sec:/ { rps = $2 } /^ *Latency / && !avg { avg = $2; max = $4 }
         /^ *50%/ { p50 = $2 } /^ *99%/ { p99 = $2 } /requests in/ { n = $1 }
         END { printf "%s requests, %s req/s; latency avg %s p50 %s p99 %s max %s",
               n, rps, avg, p50, p99, max }' "$1"
}

# The slow clients: N connections that send one byte of a request's headers a second
# and never end them. Prints "connected N at EPOCH" once all are open, then, when every
# connection is closed or after SECS, one line of figures: how many the server closed,
# how (EOF, or ECONNRESET/EPIPE on a send), and when, in seconds after each opened
# (ontime: within [LO, HI]; early, late: outside it).
cat >"$T/slow.py" <<'PY'
import errno, select, socket, sys, time

host, port, n, secs, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
head = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: "
socks, opened, sent, closed, how = [], {}, {}, {}, {}
for _ in range(n):
    s = socket.create_connection((host, port), timeout=5)
    s.setblocking(False)
    opened[s] = time.monotonic()
    sent[s] = 0
    socks.append(s)
start = time.monotonic()
print("connected %d at %.3f" % (n, time.time()), flush=True)

def gone(s, why):
    if s not in closed:
        closed[s] = time.monotonic()
        how[s] = why
        s.close()

next_send, end = start, start + secs
while time.monotonic() < end:
    live = [s for s in socks if s not in closed]
    if not live:
        break
    if time.monotonic() >= next_send:
        for s in live:
            try:
                s.send(head[sent[s]:sent[s] + 1] or b"a")  # the header value never ends
                sent[s] += 1
            except BlockingIOError:
                pass
            except OSError as e:
                gone(s, errno.errorcode.get(e.errno, "errno %d" % e.errno))
        next_send += 1.0
        continue
    ready, _, _ = select.select(live, [], [], max(0.0, min(next_send, end) - time.monotonic()))
    for s in ready:
        try:
            if not s.recv(4096):
                gone(s, "EOF")
            else:
                how[s] = "answered"
        except OSError as e:
            gone(s, errno.errorcode.get(e.errno, "errno %d" % e.errno))
ages = sorted(closed[s] - opened[s] for s in closed)
kinds = {}
for s in closed:
    kinds[how[s]] = kinds.get(how[s], 0) + 1
print("closed=%d open=%d ontime=%d early=%d late=%d min=%.2f median=%.2f max=%.2f how=%s" % (
    len(closed), n - len(closed), sum(1 for a in ages if lo <= a <= hi),
    sum(1 for a in ages if a < lo), sum(1 for a in ages if a > hi),
    ages[0] if ages else -1, ages[len(ages) // 2] if ages else -1, ages[-1] if ages else -1,
    ",".join("%s:%d" % kv for kv in sorted(kinds.items())) or "-"))
PY
# slow_start N SECS OUT: starts the slow clients in the background (SLOW_PID) and
# waits for them to connect; sets SLOW_AT (epoch seconds when all were open)
slow_start() {
    local n=$1 secs=$2 out=$3 port=${URL##*:}
    "$PY" "$T/slow.py" 127.0.0.1 "$port" "$n" "$secs" "$((REQ_TIMEOUT - 1))" \
        "$((REQ_TIMEOUT + 2))" >"$out" 2>&1 &
    SLOW_PID=$!
    for _ in $(seq 100); do
        SLOW_AT=$(sed -n 's/^connected [0-9]* at \([0-9.]*\)$/\1/p' "$out")
        [ -n "$SLOW_AT" ] && return 0
        kill -0 "$SLOW_PID" 2>/dev/null || fail "slow clients: $(cat "$out")"
        sleep 0.1
    done
    fail "$n slow connections not open within 10 s: $(cat "$out")"
}
# slow_result OUT KEY: a figure of the slow clients' last line
slow_result() { tail -n1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# healthz_once: "CODE SECONDS CURL_EXIT" of one /healthz request, at most 1 s
healthz_once() {
    curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' "$URL/healthz"
    echo " $?"
}

# ---- (a) wrk against /metrics and /api/v1/snapshot
daemon_config "$T/load.yaml" "$T" "http: {request_timeout_sec: $REQ_TIMEOUT}"
start_daemon "$T/load.yaml" "$T/load.log"
# RSS is compared with what the daemon holds once warm, not at start: the first load
# makes lazy allocations that stay (glibc's malloc arena for each serving thread,
# grown to the peak of WRK_CONNS connections' answers in flight; the connection
# memory pools; the first snapshots of the history ring). A few seconds of running
# and one short run of the same load against each endpoint pay for them; growth after
# that, under far more requests, is what would be a leak.
sleep 3
rss_start=$(rss_kb)
wrk_run /metrics "$WARMUP_SECS" "$T/warm1.out"
wrk_run /api/v1/snapshot "$WARMUP_SECS" "$T/warm2.out"
rss0=$(rss_kb)
t0=$(now)
ticks0=$(health ticks)
[ -n "$ticks0" ] || fail "no ticks in /healthz"

wrk_run /metrics "$WRK_SECS" "$T/metrics.out"
ok "wrk -c $WRK_CONNS -t $WRK_THREADS -d ${WRK_SECS}s /metrics: $(wrk_figures "$T/metrics.out")"
wrk_run /api/v1/snapshot "$WRK_SECS" "$T/snapshot.out"
ok "wrk -c $WRK_CONNS -t $WRK_THREADS -d ${WRK_SECS}s /api/v1/snapshot: $(wrk_figures "$T/snapshot.out")"
ok "no socket errors, no non-2xx answers"

rss1=$(rss_kb)
t1=$(now)
ticks1=$(health ticks)
missed=$(health ticks_missed)
missed_m=$(metric arthamon_ticks_missed_total)
ticks_m=$(metric arthamon_ticks_total)
elapsed=$(calc "$t1 - $t0")
ok "RSS: $rss_start kB at start, $rss0 kB after the warm-up, $rss1 kB after both runs" \
    "(growth $((rss1 - rss0)) kB, limit $RSS_GROWTH_KB kB)"
if [ "${ARTHAMON_SANITIZE:-0}" = 1 ]; then
    ok "RSS growth not judged: an ASan build keeps freed memory in quarantine"
elif [ $((rss1 - rss0)) -ge "$RSS_GROWTH_KB" ]; then
    fail "RSS grew by $((rss1 - rss0)) kB under load ($rss0 -> $rss1 kB)"
fi
if [ "$missed" != 0 ] || [ "$missed_m" != 0 ]; then
    fail "the sampler missed ticks under load: /healthz ticks_missed $missed, arthamon_ticks_missed_total $missed_m"
fi
awk "BEGIN { exit !($ticks1 - $ticks0 >= $elapsed - 2) }" </dev/null ||
    fail "ticks grew by $((ticks1 - ticks0)) in $elapsed s under load (want >= elapsed - 2)"
ok "ticks: $ticks0 -> $ticks1 (+$((ticks1 - ticks0))) over $(printf '%.1f' "$elapsed") s of load," \
    "ticks_missed 0 (arthamon_ticks_total $ticks_m, arthamon_ticks_missed_total $missed_m)"

# ---- (b) slowloris: SLOW connections under the cap, a normal client polling meanwhile
slow_start "$SLOW" "$((SLOW_SECS + 1))" "$T/slow.out"
worst=0
for i in $(seq "$SLOW_SECS"); do
    read -r code secs _ < <(healthz_once)
    [ "$code" = 200 ] || fail "/healthz answered '$code' after ${secs}s, $i s into the slowloris"
    awk "BEGIN { exit !($secs < 1) }" </dev/null || fail "/healthz took ${secs}s during the slowloris"
    awk "BEGIN { exit !($secs > $worst) }" </dev/null && worst=$secs
    left=$(calc "$SLOW_AT + $i - $(now)")
    awk "BEGIN { exit !($left > 0) }" </dev/null && sleep "$left"
done
wait "$SLOW_PID"
SLOW_PID=""
ok "$SLOW slow connections open: /healthz answered 200 every second for $SLOW_SECS s, slowest ${worst}s"
[ "$(slow_result "$T/slow.out" closed)" = "$SLOW" ] ||
    fail "the server closed $(slow_result "$T/slow.out" closed) of $SLOW slow connections: $(tail -n1 "$T/slow.out")"
[ "$(slow_result "$T/slow.out" ontime)" = "$SLOW" ] ||
    fail "slow connections not closed $((REQ_TIMEOUT - 1))-$((REQ_TIMEOUT + 2)) s after they opened: $(tail -n1 "$T/slow.out")"
ok "the server closed all $SLOW slow connections $(slow_result "$T/slow.out" min)-$(slow_result "$T/slow.out" max) s" \
    "after they opened (median $(slow_result "$T/slow.out" median) s; request_timeout_sec $REQ_TIMEOUT);" \
    "seen by the client as $(slow_result "$T/slow.out" how)"
[ "$(health ticks_missed)" = 0 ] || fail "ticks missed during the slowloris"
stop_pids "$DAEMON_PID"
DAEMON_PID=""

# ---- (b) more slow connections than max_connections: service comes back at the deadline
daemon_config "$T/cap.yaml" "$T" "http: {request_timeout_sec: $REQ_TIMEOUT, max_connections: $CAP}"
start_daemon "$T/cap.yaml" "$T/cap.log"
sleep 1
# the ones over the cap wait until slots free up, then run their own deadline
slow_start "$CAP_SLOW" "$((2 * REQ_TIMEOUT + 4))" "$T/cap.out"
refused=0
why="" # curl's exit status of each failed try: 28 timed out, 7 refused, 52/56 closed
back=""
until [ -n "$back" ]; do
    at=$(calc "$(now) - $SLOW_AT")
    awk "BEGIN { exit !($at > $REQ_TIMEOUT + 2) }" </dev/null &&
        fail "no /healthz answer within $((REQ_TIMEOUT + 2)) s of $CAP_SLOW slow connections opening (max_connections $CAP; $refused tries failed)"
    read -r code secs rc < <(healthz_once)
    if [ "$code" = 200 ]; then
        back=$(calc "$(now) - $SLOW_AT")
    else
        refused=$((refused + 1))
        why="$why $rc"
        sleep 0.2
    fi
done
[ "$refused" -gt 0 ] ||
    fail "$CAP_SLOW slow connections did not keep a client out at max_connections $CAP"
for _ in 1 2 3 4 5 6 7 8; do
    read -r code secs _ < <(healthz_once)
    [ "$code" = 200 ] || fail "/healthz answered '$code' after service came back"
    sleep 0.25
done
ok "$CAP_SLOW slow connections, max_connections $CAP: $refused /healthz tries failed (curl exit:$why), then 200 from" \
    "$(printf '%.1f' "$back") s after they opened (limit $((REQ_TIMEOUT + 2)) s) and every try since"
wait "$SLOW_PID"
SLOW_PID=""
ontime=$(slow_result "$T/cap.out" ontime)
late=$(slow_result "$T/cap.out" late)
[ "$(slow_result "$T/cap.out" closed)" = "$CAP_SLOW" ] ||
    fail "the server closed $(slow_result "$T/cap.out" closed) of $CAP_SLOW slow connections: $(tail -n1 "$T/cap.out")"
ok "slow connections closed: $ontime at the deadline ($(slow_result "$T/cap.out" min) s after opening)," \
    "$late over the cap later (last at $(slow_result "$T/cap.out" max) s, its own deadline after a slot freed);" \
    "seen as $(slow_result "$T/cap.out" how)"
kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
echo "PASS"
