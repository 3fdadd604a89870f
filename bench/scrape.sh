#!/usr/bin/env bash
# bench/scrape: what a Prometheus scrape of arthamon's /metrics costs, beside Debian's
# prometheus-node-exporter scraped the same way on the same machine in the same run.
#
#   bench/scrape.sh                    (make bench runs it after bench/overhead.sh)
#
# Printed, in one run:
#   1. render time and size of /metrics, in-process (BUILD_DIR/bench/bench_render): a
#      real monitor's snapshot rendered RENDERS times with prom_render(), CPU time per
#      render from getrusage (the rendering thread's user+system), for the text format
#      and OpenMetrics; bytes, samples and metric families of each.
#   2. SCRAPES (default 1000) sequential scrapes of each server's /metrics from one
#      keep-alive client (python http.client: one HTTP/1.1 connection, reopened only
#      when the server closes it; identity encoding, the text format: what both serve
#      to a plain GET), after 50 warm-up scrapes:
#        latency p50, p99 and mean (request sent to body read, in the client);
#        closed: how many answers closed the connection (Connection: close), so that
#          the next scrape paid for a new TCP connection (counted in its figures);
#        CPU time per scrape of the server process: its CPU time before and after the
#          scrapes, minus its idle CPU over the same wall time, divided by SCRAPES.
#          The idle CPU is measured just before, over max(2 s, the expected scrape
#          time) with no client traffic, and scaled to the scrapes' wall time: for
#          fairness, arthamon's sampler ticks (and node_exporter's Go runtime) are
#          not charged to the scrapes. Two measures of CPU time: on-CPU ns of all
#          threads from /proc/PID/task/*/schedstat (the primary figure: utime+stime
#          count 1/HZ s ticks, and over 1,000 scrapes one tick is 10 us per scrape,
#          the order of arthamon's whole cost), and utime+stime from /proc/PID/stat
#          (fields 14 and 15), shown beside it;
#        the exposition's size in bytes and samples (lines that are not comments).
#   3. the ratios node_exporter / arthamon of CPU per scrape (target >= 30x, judged on
#      schedstat), latency and size.
# arthamon runs as a daemon from a config written to a temp dir: the built-in defaults,
# 1 s sampling, a free port on loopback, console summary off, logs at warn in the temp
# dir. node_exporter runs with Debian's defaults plus --web.listen-address on a free
# loopback port (its collectors that cannot work here, such as systemd in a container,
# fail fast and are counted as they are).
#
# Exit status 0 (the target verdict is printed), 1 when arthamon or its build is
# missing. Without prometheus-node-exporter (scripts/install-deps.sh bench) its row and
# the ratios are skipped with a message.
#
# Environment: BUILD_DIR (default build; the binaries are BUILD_DIR/arthamon, or
# ARTHAMON, and BUILD_DIR/bench/bench_render), SCRAPES (default 1000), RENDERS (default
# 10000), NODE_EXPORTER (default prometheus-node-exporter), NODE_EXPORTER_ARGS (more
# flags, e.g. --no-collector.systemd), KEEP_TMP=1 (keep the temp dir with configs and
# logs). Interrupted (INT/TERM), it stops everything it started and exits 130.
set -u

cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh

BUILD_DIR=${BUILD_DIR:-build}
ARTHAMON=${ARTHAMON:-$BUILD_DIR/arthamon}
RENDER=$BUILD_DIR/bench/bench_render
SCRAPES=${SCRAPES:-1000}
RENDERS=${RENDERS:-10000}
NODE_EXPORTER=${NODE_EXPORTER:-prometheus-node-exporter}
NODE_EXPORTER_ARGS=${NODE_EXPORTER_ARGS:-}
PY=/usr/bin/python3

TARGET_RATIO=30 # node_exporter CPU per scrape / arthamon CPU per scrape, at least

say() { echo "bench/scrape: $*"; }
warn() { echo "bench/scrape: $*" >&2; }

if [ ! -x "$ARTHAMON" ] || [ ! -x "$RENDER" ]; then
    warn "no $ARTHAMON or $RENDER; build first (make build, or set BUILD_DIR)"
    exit 1
fi
[ -x "$PY" ] || { warn "$PY not installed"; exit 1; }
case "$SCRAPES" in '' | *[!0-9]* | 0) warn "SCRAPES must be a positive integer"; exit 2 ;; esac
NE_BIN=$(command -v "$NODE_EXPORTER" 2>/dev/null)
[ -n "$NE_BIN" ] ||
    warn "$NODE_EXPORTER not found (apt-get install prometheus-node-exporter); its row is skipped"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/arthamon-scrape.XXXXXX") || exit 1
PIDS=() # everything started here, stopped by pid on exit


trap bench_cleanup EXIT
trap 'warn "interrupted"; exit 130' INT TERM

# a free TCP port on loopback (bound, read, released: the server binds it next)
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: up to 10 s for URL to answer 200
wait_http() {
    local _
    for _ in $(seq 100); do
        "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1).read()' \
            "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# The client: warm-up, idle CPU, then the timed scrapes. Prints one line of
# key=value figures (see the end of the program).
cat >"$TMP/scrape.py" <<'PY'
import glob, http.client, os, sys, time

url, pid, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
path = "/" + url.split("//")[1].split("/", 1)[1]
hz = os.sysconf("SC_CLK_TCK")

def cpu():
    """(schedstat ns of all threads, utime+stime ticks, thread count) of pid"""
    ns = threads = 0
    for f in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(f) as fh:
                ns += int(fh.read().split()[0])
            threads += 1
        except (OSError, ValueError, IndexError):
            pass
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return ns, int(fields[11]) + int(fields[12]), threads

conn = http.client.HTTPConnection(host, int(port), timeout=30)
closes = [0]  # answers after which the server closed the connection (http.client reopens)

def scrape():
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("%s answered %d" % (url, r.status))
    if r.will_close:
        closes[0] += 1
    return body

t = time.perf_counter()
for _ in range(50):
    body = scrape()
est = (time.perf_counter() - t) / 50 * n

# idle: no traffic, the connection kept open
idle_wall = max(2.0, est)
c0, w0 = cpu(), time.perf_counter()
time.sleep(idle_wall)
c1, w1 = cpu(), time.perf_counter()
idle_ns_s = (c1[0] - c0[0]) / (w1 - w0)
idle_tk_s = (c1[1] - c0[1]) / (w1 - w0)

lat = []
closes[0] = 0
c0, w0 = cpu(), time.perf_counter()
for _ in range(n):
    t = time.perf_counter()
    body = scrape()
    lat.append(time.perf_counter() - t)
c1, w1 = cpu(), time.perf_counter()
wall = w1 - w0
conn.close()

lat.sort()
samples = sum(1 for l in body.split(b"\n") if l and not l.startswith(b"#"))
sched_us = ((c1[0] - c0[0]) - idle_ns_s * wall) / 1e3 / n
ticks_us = ((c1[1] - c0[1]) - idle_tk_s * wall) / hz * 1e6 / n
print("p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f wall_s=%.2f bytes=%d samples=%d closes=%d "
      "sched_us=%.2f ticks_us=%.1f idle_sched_pct=%.4f idle_s=%.1f threads=%d->%d" % (
          lat[len(lat) // 2] * 1e3, lat[min(n - 1, int(n * 0.99))] * 1e3,
          sum(lat) / n * 1e3, wall, len(body), samples, closes[0], sched_us, ticks_us,
          idle_ns_s / 1e7, idle_wall, c0[2], c1[2]))
PY

# measure NAME URL PID: runs the client, stores its figures as $TMP/NAME.fig
measure() {
    local name=$1 url=$2 pid=$3
    say "$name: $SCRAPES scrapes of $url (pid $pid)"
    if ! "$PY" "$TMP/scrape.py" "$url" "$pid" "$SCRAPES" >"$TMP/$name.fig" 2>"$TMP/$name.err"; then
        warn "$name: the client failed: $(tail -n 3 "$TMP/$name.err")"
        rm -f "$TMP/$name.fig"
        return 1
    fi
}

# fig NAME KEY: one figure of a measured server
fig() { tr ' ' '\n' <"$TMP/$1.fig" | sed -n "s/^$2=//p"; }

say "$(nproc) CPUs, kernel $(uname -r); arthamon $ARTHAMON; node_exporter ${NE_BIN:-none}"
echo
"$RENDER" -n "$RENDERS" || warn "bench_render failed"
echo

# ---- arthamon
mkdir -p "$TMP/data" "$TMP/log"
cat >"$TMP/arthamon.yaml" <<EOF
monitoring:
  sampling_interval_ms: 1000
  logging: {level: warn, output_dir: "$TMP/log", stdout: false}
visualization: {dashboard_port: 0}
agent: {console_summary: false, data_dir: "$TMP/data"}
EOF
"$ARTHAMON" run -c "$TMP/arthamon.yaml" >"$TMP/arthamon.out" 2>&1 &
ART_PID=$!
PIDS+=("$ART_PID")
ART_URL=""
for _ in $(seq 100); do
    ART_URL=$(sed -n 's|^arthamon: dashboard and API at \(http://[^/]*\)/$|\1|p' "$TMP/arthamon.out")
    [ -n "$ART_URL" ] && break
    kill -0 "$ART_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ART_URL" ]; then
    warn "the arthamon daemon did not start:"
    tail -n 20 "$TMP/arthamon.out" >&2
    exit 1
fi
sleep 2.5 # two ticks: the snapshot has its rates, as a running daemon's does
measure arthamon "$ART_URL/metrics" "$ART_PID" || exit 1
stop_pids "$ART_PID"

# ---- node_exporter
have_ne=0
if [ -n "$NE_BIN" ]; then
    port=$(free_port)
    # shellcheck disable=SC2086 # NODE_EXPORTER_ARGS: several flags
    "$NE_BIN" --web.listen-address="127.0.0.1:$port" $NODE_EXPORTER_ARGS >"$TMP/node_exporter.out" 2>&1 &
    NE_PID=$!
    PIDS+=("$NE_PID")
    if wait_http "http://127.0.0.1:$port/metrics"; then
        measure node_exporter "http://127.0.0.1:$port/metrics" "$NE_PID" && have_ne=1
        failed=$(grep -o 'msg="collector failed" name=[a-z_]*' "$TMP/node_exporter.out" |
            sed 's/.*name=//' | sort -u | tr '\n' ' ')
        [ -n "$failed" ] && say "node_exporter collectors that failed here (each scrape): $failed"
    else
        warn "node_exporter did not answer on port $port:"
        tail -n 5 "$TMP/node_exporter.out" >&2
    fi
    stop_pids "$NE_PID"
fi

# ---- results
echo
echo "bench/scrape: $SCRAPES sequential scrapes of /metrics from one keep-alive client"
printf '  %-14s %9s %9s %9s %12s %11s %8s %8s %7s\n' server "p50 ms" "p99 ms" "mean ms" \
    "CPU us sched" "CPU us u+s" bytes samples closed
for s in arthamon node_exporter; do
    [ -f "$TMP/$s.fig" ] || continue
    printf '  %-14s %9.3f %9.3f %9.3f %12.2f %11.1f %8d %8d %7d\n' "$s" "$(fig "$s" p50_ms)" \
        "$(fig "$s" p99_ms)" "$(fig "$s" mean_ms)" "$(fig "$s" sched_us)" "$(fig "$s" ticks_us)" \
        "$(fig "$s" bytes)" "$(fig "$s" samples)" "$(fig "$s" closes)"
done
echo "  (CPU us: the server's CPU time per scrape, its idle CPU over the same wall time"
echo "   subtracted; sched: schedstat ns of all threads, the primary figure; u+s: utime+stime,"
echo "   $(getconf CLK_TCK) ticks a second; closed: answers after which the server closed the"
echo "   connection, each costing the next scrape a new TCP connection. Idle CPU, just before:"
for s in arthamon node_exporter; do
    [ -f "$TMP/$s.fig" ] || continue
    echo "   $s $(fig "$s" idle_sched_pct) % of a core over $(fig "$s" idle_s) s;" \
        "threads $(fig "$s" threads); the scrapes took $(fig "$s" wall_s) s)"
done
for s in arthamon node_exporter; do
    [ -f "$TMP/$s.fig" ] || continue
    [ "$(fig "$s" closes)" -gt 0 ] &&
        echo "  note: $s answered 'Connection: close' $(fig "$s" closes) times in $SCRAPES: no keep-alive"
done
if [ "$have_ne" = 1 ]; then
    a_cpu=$(fig arthamon sched_us) n_cpu=$(fig node_exporter sched_us)
    a_tk=$(fig arthamon ticks_us) n_tk=$(fig node_exporter ticks_us)
    ratio=inf ratio_tk=inf
    awk "BEGIN { exit !($a_cpu > 0) }" </dev/null && ratio=$(calc "$n_cpu / $a_cpu")
    awk "BEGIN { exit !($a_tk > 0) }" </dev/null && ratio_tk=$(calc "$n_tk / $a_tk")
    x() { [ "$1" = inf ] && echo inf || printf '%.1f' "$1"; }
    echo "  node_exporter / arthamon: CPU per scrape $(x "$ratio")x (u+s: $(x "$ratio_tk")x)," \
        "p50 latency $(x "$(calc "$(fig node_exporter p50_ms) / $(fig arthamon p50_ms)")")x," \
        "p99 $(x "$(calc "$(fig node_exporter p99_ms) / $(fig arthamon p99_ms)")")x,"
    echo "   bytes $(x "$(calc "$(fig node_exporter bytes) / $(fig arthamon bytes)")")x," \
        "samples $(x "$(calc "$(fig node_exporter samples) / $(fig arthamon samples)")")x"
    if [ "$ratio" = inf ] || awk "BEGIN { exit !($ratio >= $TARGET_RATIO) }" </dev/null; then
        verdict="target met"
    else
        verdict="target NOT met"
    fi
    printf '  CPU per scrape: arthamon %.2f us, node_exporter %.2f us: %sx (target >= %sx): %s\n' \
        "$a_cpu" "$n_cpu" "$(x "$ratio")" "$TARGET_RATIO" "$verdict"
else
    echo "  node_exporter: not measured, no ratios"
fi
if [ -s "$TMP/log/arthamon.log" ]; then
    say "arthamon logged:"
    sed 's/^/    /' "$TMP/log/arthamon.log" | head -n 10
fi
exit 0
