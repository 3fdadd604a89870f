# shellcheck shell=bash
# Shared by the integration tests (sourced, not run): outcomes ctest understands,
# and a way into a network namespace that works everywhere the tests run.

# skip MESSAGE: the test cannot run here (not root, a tool missing); ctest counts it as skipped.
skip() {
    echo "SKIP: $*"
    exit 77
}

# fail MESSAGE
fail() {
    echo "FAIL: $*"
    exit 1
}

# ok MESSAGE: a check that passed, with its figures
ok() { echo "ok: $*"; }

PY=/usr/bin/python3

# need_arthamon: the binary under test (ctest sets ARTHAMON_BIN) must be there.
need_arthamon() {
    [ -x "${ARTHAMON_BIN:-}" ] || fail "ARTHAMON_BIN is not set to the arthamon binary"
}

# need_root WHY: skip unless root.
need_root() {
    [ "$(id -u)" -eq 0 ] || skip "needs root ($*)"
}

# need_tools PACKAGES TOOL...: skip unless every TOOL and Debian's python3 are installed;
# PACKAGES names where they come from, for the message.
need_tools() {
    local packages=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed ($packages)"
    done
    [ -x "$PY" ] || skip "$PY not installed"
}

# stop_pids PID...: signal them all, then reap them all (for cleanup traps).
stop_pids() {
    local p
    for p in "$@"; do
        kill "$p" 2>/dev/null
    done
    for p in "$@"; do
        wait "$p" 2>/dev/null
    done
}

# snapshot_config FILE WORKDIR [AGENT_LINE...]: a configuration for `arthamon snapshot`
# in a test: no console summary, state and logs in WORKDIR, errors only, and each
# AGENT_LINE (e.g. "disk_path: /mnt") added under agent:.
snapshot_config() {
    local file=$1 work=$2 line
    shift 2
    {
        echo "agent:"
        echo "  console_summary: false"
        echo "  data_dir: $work"
        echo "  net_exclude: [lo]"
        for line in "$@"; do
            echo "  $line"
        done
        echo "monitoring:"
        echo "  logging: {level: error, output_dir: $work}"
    } >"$file"
}

# in_ns NAMESPACE COMMAND...: runs COMMAND in the network namespace that `ip netns add`
# made, and in nothing else. `ip netns exec` and `ip -n` also unshare the mount namespace
# and remount /sys, which needs / to be a mount point: not so in a chroot (a fresh Debian
# test system), where they fail with '"mount --make-rslave /" failed'. Everything these
# tests read (/proc/net/*, sockets, sysctls under /proc/sys/net) follows the network
# namespace alone. A command started in the background is better written
# `nsenter --net=/run/netns/NS -- CMD &`, so that $! is CMD itself (nsenter execs it),
# not a subshell around this function.
in_ns() {
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" -- "$@"
}

# start_daemon CONFIG LOG: starts `arthamon run -c CONFIG` in the background with its
# output in LOG, waits (up to 10 s) for it to print where it serves, and sets
# DAEMON_PID and URL (e.g. http://127.0.0.1:40123). Fails the test if it does not.
start_daemon() {
    local cfg=$1 log=$2 i
    # emptied here, not only by the child's redirection: the loop below must
    # never read the address a previous daemon wrote to the same file
    : >"$log"
    "$ARTHAMON_BIN" run -c "$cfg" >"$log" 2>&1 &
    DAEMON_PID=$!
    URL=""
    for i in $(seq 100); do
        URL=$(sed -n 's|^arthamon: dashboard and API at \(https\{0,1\}://[^/]*\)/$|\1|p' "$log" | head -n1)
        [ -n "$URL" ] && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$log"; fail "the daemon exited at start"; }
        sleep 0.1
    done
    cat "$log"
    fail "the daemon did not report its address within 10 s"
}

# daemon_config FILE WORKDIR [YAML...]: a daemon config for a test: a free port on
# loopback, 1 s sampling, state and logs in WORKDIR, no console summary, StatsD on a
# free loopback port (tests run side by side); each YAML argument is appended as
# top-level text (e.g. "http: {auth: {bearer_token: x}}"; a statsd: one replaces ours).
daemon_config() {
    local file=$1 work=$2 extra statsd='statsd: {listen: "127.0.0.1:0"}'
    shift 2
    for extra in "$@"; do
        case "$extra" in statsd:*) statsd="" ;; esac
    done
    {
        echo "monitoring:"
        echo "  sampling_interval_ms: 1000"
        echo "  logging: {level: info, output_dir: $work, stdout: true}"
        echo "visualization: {dashboard_port: 0}"
        echo "agent: {console_summary: false, data_dir: $work, node_id: test-node}"
        [ -n "$statsd" ] && echo "$statsd"
        for extra in "$@"; do
            echo "$extra"
        done
    } >"$file"
}

# ---- fault tests (test_fault_*.sh): a fault set up on a live daemon, and the anomaly it raises

# The fault tests' tick and learned-detector warm-up, in the daemon's config.
FAULT_TICK_MS=250
FAULT_WARMUP=40

# now_ms: the wall clock in epoch milliseconds (the unit of timestamp_ms and detected_at_ms).
now_ms() { date +%s%3N; }

# fault_config FILE WORKDIR AGENT_KEYS [YAML...]: daemon_config with sampling every
# FAULT_TICK_MS, detection on (warm-up FAULT_WARMUP ticks, resolved after 5 normal ticks),
# AGENT_KEYS (flow-mapping text such as "disk_path: /mnt, p2p_ports: [30303]"; may be
# empty) added under agent:, and each YAML argument as in daemon_config.
# ARTHAMON_FAULT_DETECTION=false in the environment turns detection off: every fault
# test must then fail (a check that they can).
fault_config() {
    local file=$1 work=$2 agent=$3
    shift 3
    daemon_config "$file" "$work" "detection: {enabled: ${ARTHAMON_FAULT_DETECTION:-true}, \
warmup_ticks: $FAULT_WARMUP, resolve_ticks: 5, min_security_bits: 128, rules: []}" "$@"
    sed -i "s/^  sampling_interval_ms: 1000$/  sampling_interval_ms: $FAULT_TICK_MS/" "$file"
    if [ -n "$agent" ]; then
        sed -i "s|^\(agent: {.*\)}$|\1, $agent}|" "$file"
    fi
}

# statsd_port LOG: the UDP port the daemon logging to LOG says its StatsD server bound
# (waits up to 5 s); fails the test if it says none.
statsd_port() {
    local port=""
    for _ in $(seq 50); do
        port=$(sed -n 's/.*StatsD on udp .*(port \([0-9]*\),.*/\1/p' "$1" | head -n1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$1"; fail "the daemon did not say which StatsD port it bound"; }
    echo "$port"
}

# fault_watch COMMAND URL ARGS...: the fault tests' view of the daemon's API, run in the
# network namespace FAULT_NS when that is set (a daemon inside one serves there only).
# Prints ok:/note:/FAIL: lines; returns non-zero when the check fails.
#   warm URL MAX_S
#       until no learned detector (series, multivariate, trend) reports warming_up (or
#       FAULT_WARMUP ticks have passed when the API lists none); fails after MAX_S s
#   tick URL
#       until the daemon publishes its next snapshot (a fault started right after
#       it has the whole of the next interval)
#   settle URL MAX_S MATCH...
#       until no anomaly matching every MATCH is open (so that a fault can open a new
#       one); non-zero if one is still open after MAX_S seconds
#   open_before URL ONSET_MS MATCH...
#       succeeds (and says so) if an anomaly matching every MATCH, detected before
#       ONSET_MS, is open now
#   expect URL ONSET_MS LIMIT_TICKS LABEL SHOW MATCH...
#       until an anomaly matching every MATCH is detected at or after ONSET_MS; prints
#       how many ticks after the onset (snapshots later than ONSET_MS, up to and
#       including the one it was detected on) and fails when none came within
#       LIMIT_TICKS, printing the snapshot fields in SHOW (comma-separated dotted
#       names, e.g. cpu.usage_percent) tick by tick and every anomaly since the onset.
#       A MATCH written @FIELD<VALUE (or >) is a condition on the snapshot of the tick
#       it was detected on instead (e.g. @disk.usage_percent<90: detected in time)
#   raw URL ONSET_MS LIMIT_TICKS LABEL FIELD OP [VALUE]
#       until a snapshot after ONSET_MS has FIELD OP VALUE (OP: >=, <=, nonempty);
#       prints the ticks it took, fails after LIMIT_TICKS
#   share URL FROM_MS TO_MS FIELD THRESHOLD
#       prints (only) the percentage of the snapshots in [FROM_MS, TO_MS] whose FIELD
#       is at or above THRESHOLD (how often a noisy baseline already looked faulty)
#   quiet URL FROM_MS TO_MS
#       prints the anomalies detected in [FROM_MS, TO_MS) (a quiet baseline) and
#       returns 1 if one of them comes from a learned detector with a severity of 3
#       or more
# A MATCH is KEY=VALUE over an anomaly's fields (anomaly_type, component, detector,
# status, ...), VALUE one or more alternatives joined by '|'; detector=learned means
# series|multivariate|trend.
fault_watch() {
    local pre=()
    [ -n "${FAULT_NS:-}" ] && pre=(nsenter "--net=/run/netns/$FAULT_NS" --)
    "${pre[@]}" "$PY" - "$FAULT_TICK_MS" "$FAULT_WARMUP" "$@" <<'PY'
import json, math, sys, time, urllib.parse, urllib.request

tick_ms, warmup = int(sys.argv[1]), int(sys.argv[2])
cmd, url, args = sys.argv[3], sys.argv[4], sys.argv[5:]
LEARNED = ("series", "multivariate", "trend")


def get(path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return json.loads(r.read().decode())


def anomalies(limit=1000):
    return get(f"/api/v1/anomalies?min_severity=1&limit={limit}")


def field(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def matcher(specs):
    want = []
    for spec in specs:
        if spec.startswith("@"):
            continue  # a condition on the detecting tick's snapshot (expect)
        key, _, alts = spec.partition("=")
        vals = set(alts.split("|"))
        if key == "detector" and "learned" in vals:
            vals = (vals - {"learned"}) | set(LEARNED)
        want.append((key, vals))
    return lambda a: all(str(a.get(k)) in v for k, v in want)


def line(a):
    score = "" if a.get("score") is None else f" score {a['score']}"
    return (f"{a.get('anomaly_type')} component {a.get('component')} detector "
            f"{a.get('detector')} severity {a.get('severity')}{score} "
            f"{a.get('status')}: {a.get('description')}")


class Ticks:
    """The snapshots published after a moment, fetched a page at a time as they come."""

    def __init__(self, since_ms):
        self.since_ms, self.snaps = since_ms, []

    def poll(self):
        last = self.snaps[-1]["timestamp_ms"] if self.snaps else self.since_ms
        page = get(f"/api/v1/history?from={(last + 1) / 1000:.3f}&limit=1000")
        self.snaps += [s for s in page["snapshots"] if s["timestamp_ms"] > last]
        return len(self.snaps)

    def upto(self, ms):
        return sum(1 for s in self.snaps if s["timestamp_ms"] <= ms)


def fmt(v):
    return "null" if v is None else f"{v:g}" if isinstance(v, (int, float)) else json.dumps(v)


def show_ticks(ticks, show, onset_ms):
    names = [s for s in show.split(",") if s]
    if not names:
        return
    before = get(f"/api/v1/history?to={onset_ms / 1000:.3f}&limit=4")["snapshots"]
    for s in before + ticks.snaps:
        rel = (s["timestamp_ms"] - onset_ms) / 1000
        print(f"  t{rel:+7.2f} s  " + "  ".join(f"{n}={fmt(field(s, n))}" for n in names))


def warm(max_s):
    t0 = time.time()
    start = get("/api/v1/snapshot")["timestamp_ms"]
    ticks = Ticks(start - 1)
    while True:
        listed = anomalies(1).get("detectors") or []
        # the learned layers; predictions take longer and raise nothing
        dets = [d for d in listed if d.get("name") in LEARNED]
        n = ticks.poll()
        if dets and not any(d.get("warming_up") for d in dets):
            print(f"ok: learned detectors warm ({', '.join(d['name'] for d in dets)}); "
                  f"waited {time.time() - t0:.1f} s")
            return 0
        if not dets and n > warmup:
            print(f"note: the API lists no detectors; {n} ticks passed (warm-up {warmup})")
            return 0
        if time.time() - t0 > max_s:
            print(f"FAIL: detectors still warming up after {max_s} s: {dets}")
            return 1
        time.sleep(0.25)


def tick():
    first = get("/api/v1/snapshot")["timestamp_ms"]
    deadline = time.time() + 5 * max(1, tick_ms / 1000) + 5
    while time.time() < deadline:
        if get("/api/v1/snapshot")["timestamp_ms"] != first:
            return 0
        time.sleep(0.01)
    print("FAIL: no new snapshot within the deadline")
    return 1


def settle(max_s, specs):
    m = matcher(specs)
    t0 = time.time()
    while True:
        open_ = [a for a in anomalies()["anomalies"] if a.get("status") == "open" and m(a)]
        if not open_:
            if time.time() - t0 > 0.5:
                print(f"note: waited {time.time() - t0:.1f} s for {' '.join(specs)} to resolve")
            return 0
        if time.time() - t0 > max_s:
            print(f"note: still open after {max_s} s: {line(open_[0])}")
            return 1
        time.sleep(0.25)


def open_before(onset_ms, specs):
    m = matcher(specs)
    for a in anomalies()["anomalies"]:
        if m(a) and a.get("status") == "open" and a.get("detected_at_ms", 0) < onset_ms:
            print(f"note: open since {(onset_ms - a['detected_at_ms']) / 1000:.2f} s before the "
                  f"onset: {line(a)}")
            return 0
    return 1


def expect(onset_ms, limit, label, show, specs):
    m = matcher(specs)
    conds = []  # @FIELD<VALUE or @FIELD>VALUE: how the detecting tick's snapshot must read
    for spec in specs:
        if spec.startswith("@"):
            op = "<" if "<" in spec else ">"
            name, _, value = spec[1:].partition(op)
            conds.append((name, op, float(value)))
    ticks = Ticks(onset_ms)
    deadline = time.time() + 3 * limit * tick_ms / 1000 + 10
    while True:
        n = ticks.poll()  # before the anomalies: a tick's anomalies are logged before it is published
        # an anomaly of the type already open at the onset (one per type and component)
        # counts when the fault raises it again: its updated_at_ms moves past the onset
        def when(a):
            if a.get("detected_at_ms", 0) >= onset_ms:
                return a["detected_at_ms"]
            if a.get("updated_at_ms", 0) >= onset_ms:
                return a["updated_at_ms"]
            return None
        found = sorted((a for a in anomalies()["anomalies"] if m(a) and when(a) is not None),
                       key=when)
        if found:
            a = found[0]
            ticks.poll()
            k = max(1, ticks.upto(when(a)))
            if k > limit:
                break
            for name, op, value in conds:
                s = ticks.snaps[k - 1] if k <= len(ticks.snaps) else {}
                v = field(s, name)
                if not isinstance(v, (int, float)) or not (v < value if op == "<" else v > value):
                    print(f"FAIL: {label}: detected {k} ticks after the onset, when {name} was "
                          f"{fmt(v)}, not {op} {value:g}: {line(a)}")
                    show_ticks(ticks, show, onset_ms)
                    return 1
            print(f"ok: {label}: {k} ticks ({when(a) - onset_ms} ms) after the "
                  f"onset (limit {limit}): {line(a)}")
            return 0
        if n > limit or time.time() > deadline:
            break
        time.sleep(0.2)
    ticks.poll()
    print(f"FAIL: {label}: no anomaly with {' '.join(specs)} within {limit} ticks of the onset "
          f"({len(ticks.snaps)} ticks seen)")
    show_ticks(ticks, show, onset_ms)
    since = [a for a in anomalies()["anomalies"] if a.get("detected_at_ms", 0) >= onset_ms]
    print(f"  anomalies detected since the onset: {len(since)}")
    for a in sorted(since, key=lambda a: a["detected_at_ms"]):
        k = ticks.upto(a["detected_at_ms"])
        print(f"    tick {k}: {line(a)}")
    return 1


def raw(onset_ms, limit, label, name, op, value):
    ticks = Ticks(onset_ms)
    deadline = time.time() + 3 * limit * tick_ms / 1000 + 10

    def hit(v):
        if op == "nonempty":
            return bool(v)
        if not isinstance(v, (int, float)):
            return False
        return v >= float(value) if op == ">=" else v <= float(value)

    while True:
        ticks.poll()
        for k, s in enumerate(ticks.snaps[:limit], 1):
            if hit(field(s, name)):
                print(f"ok: {label}: {name} = {fmt(field(s, name))} {k} ticks after the onset "
                      f"(limit {limit})")
                return 0
        if len(ticks.snaps) >= limit or time.time() > deadline:
            print(f"FAIL: {label}: {name} never {op} {value} within {limit} ticks of the onset")
            show_ticks(ticks, name, onset_ms)
            return 1
        time.sleep(0.2)


def share(from_ms, to_ms, name, threshold):
    snaps = get(f"/api/v1/history?from={from_ms / 1000:.3f}&to={to_ms / 1000:.3f}"
                "&limit=1000")["snapshots"]
    vals = [v for v in (field(s, name) for s in snaps) if isinstance(v, (int, float))]
    if not vals:
        print(0)
        return 0
    print(round(100 * sum(1 for v in vals if v >= threshold) / len(vals)))
    return 0


def quiet(from_ms, to_ms):
    got = [a for a in anomalies()["anomalies"] if from_ms <= a.get("detected_at_ms", 0) < to_ms]
    got.sort(key=lambda a: a["detected_at_ms"])
    bad = [a for a in got if a.get("detector") in LEARNED and a.get("severity", 0) >= 3]
    secs = (to_ms - from_ms) / 1000
    for a in got:
        print(f"  baseline t+{(a['detected_at_ms'] - from_ms) / 1000:.2f} s: {line(a)}")
    if bad:
        print(f"not quiet: baseline of {secs:.1f} s: {len(bad)} anomalies of severity >= 3 from "
              f"a learned detector")
        return 1
    print(f"ok: quiet baseline of {secs:.1f} s: {len(got)} anomalies, "
          f"{sum(1 for a in got if a.get('severity', 0) >= 3)} of severity >= 3, none of them "
          f"from a learned detector")
    return 0


try:
    if cmd == "warm":
        rc = warm(float(args[0]))
    elif cmd == "tick":
        rc = tick()
    elif cmd == "settle":
        rc = settle(float(args[0]), args[1:])
    elif cmd == "open_before":
        rc = open_before(int(args[0]), args[1:])
    elif cmd == "expect":
        rc = expect(int(args[0]), int(args[1]), args[2], args[3], args[4:])
    elif cmd == "raw":
        rc = raw(int(args[0]), int(args[1]), args[2], args[3], args[4], (args[5:] or ["0"])[0])
    elif cmd == "share":
        rc = share(int(args[0]), int(args[1]), args[2], float(args[3]))
    elif cmd == "quiet":
        rc = quiet(int(args[0]), int(args[1]))
    else:
        print(f"FAIL: fault_watch: unknown command {cmd}")
        rc = 2
except OSError as e:
    print(f"FAIL: fault_watch {cmd}: the daemon's API: {e}")
    rc = 1
sys.exit(rc)
PY
}

# fault_baseline SECONDS TRIES URL...: a quiet baseline after the warm-up: SECONDS in
# which no learned detector of any daemon at URL... raises an anomaly of severity
# >= 3 (fault_watch quiet). Other programs on this machine (a build, other tests)
# can disturb one: then another is taken, up to TRIES in all, and the test fails if
# none was quiet. Sets BASE_FROM and BASE_TO (epoch ms) to the quiet one.
fault_baseline() {
    local secs=$1 tries=$2 i url quiet
    shift 2
    for ((i = 1; i <= tries; i++)); do
        BASE_FROM=$(now_ms)
        sleep "$secs"
        BASE_TO=$(now_ms)
        quiet=1
        for url in "$@"; do
            fault_watch quiet "$url" "$BASE_FROM" "$BASE_TO" || quiet=0
        done
        [ "$quiet" = 1 ] && return 0
        [ "$i" -lt "$tries" ] && echo "note: baseline $i of $tries disturbed: another one"
    done
    fail "no quiet baseline in $tries tries: a learned detector raised severity >= 3 in each"
}
