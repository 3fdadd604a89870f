#!/bin/bash
# A real Prometheus server scrapes the daemon every second, in two jobs: one as
# Prometheus asks by default (OpenMetrics 1.0.0 is what it prefers), one through
# a small loopback proxy that asks for the 0.0.4 text format instead (Prometheus
# 2.42 has no setting to choose the format, and /metrics takes no parameters).
# Both targets must be up without a scrape error; the stored metadata shows which
# format each job read. Then every series the snapshot feeds (the names and scales
# of prom_map_table in src/serve/prom.c) is read back through PromQL, raw sample by
# raw sample, and must equal, scaled back, the figure of one of the daemon's own
# snapshots (/api/v1/history) taken within one tick before the scrape; every
# sample must carry node_id="test-node" and the scrape's own timestamp.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "prometheus, curl" prometheus curl
PROM_C=$(cd "$(dirname "$0")/../.." && pwd)/src/serve/prom.c
[ -r "$PROM_C" ] || fail "cannot read $PROM_C"
T=$(mktemp -d /tmp/am-prom-XXXXXX)
DAEMON_PID=""
PROXY_PID=""
PROM_PID=""
cleanup() {
    local p
    for p in "$PROM_PID" "$PROXY_PID" "$DAEMON_PID"; do
        [ -n "$p" ] && stop_pids "$p"
    done
    rm -rf "$T"
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# promq QUERY [TIME]: the JSON answer of Prometheus's /api/v1/query
promq() {
    curl -sS -G "$PROM/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"}
}
# promval QUERY: the single value of an instant query, or nothing
promval() {
    promq "$1" | "$PY" -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else "")' 2>/dev/null
}

# ---- the daemon, and a proxy that asks it for the text format
daemon_config "$T/d.yaml" "$T"
start_daemon "$T/d.yaml" "$T/d.log"
case $URL in http://127.0.0.1:*) ;; *) fail "the daemon serves at $URL" ;; esac

cat >"$T/proxy.py" <<'PY'
# GET PATH -> the daemon's PATH, asked with Accept: text/plain;version=0.0.4;
# logs "ACCEPT-ASKED | STATUS CONTENT-TYPE" per request.
import sys, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

upstream, log = sys.argv[1], sys.argv[2]

class Proxy(BaseHTTPRequestHandler):
    def do_GET(self):
        req = urllib.request.Request(upstream + self.path,
                                     headers={"Accept": "text/plain;version=0.0.4"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                body, code, ctype = r.read(), r.status, r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            body, code, ctype = e.read(), e.code, e.headers.get("Content-Type", "")
        with open(log, "a") as f:
            f.write("%s | %d %s\n" % (self.headers.get("Accept"), code, ctype))
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
"$PY" "$T/proxy.py" "$URL" "$T/proxy.log" >"$T/proxy.port" 2>"$T/proxy.err" &
PROXY_PID=$!
for i in $(seq 50); do
    [ -s "$T/proxy.port" ] && break
    kill -0 "$PROXY_PID" 2>/dev/null || fail "the proxy exited: $(cat "$T/proxy.err")"
    sleep 0.1
done
PROXY_ADDR=127.0.0.1:$(cat "$T/proxy.port")
curl -fsS -o /dev/null "http://$PROXY_ADDR/metrics" || fail "the proxy does not answer"
: >"$T/proxy.log"

# ---- Prometheus
cat >"$T/prometheus.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: arthamon
    static_configs: [{targets: ["${URL#http://}"]}]
  - job_name: arthamon-text
    static_configs: [{targets: ["$PROXY_ADDR"]}]
EOF
if command -v promtool >/dev/null 2>&1; then
    promtool check config "$T/prometheus.yml" >"$T/check.out" 2>&1 || fail "promtool check config: $(cat "$T/check.out")"
fi
for _ in 1 2 3; do  # a port taken between free_port and the bind: try another
    PROM=http://127.0.0.1:$(free_port)
    prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/data" \
        --web.listen-address="${PROM#http://}" --log.level=warn >"$T/prom.log" 2>&1 &
    PROM_PID=$!
    for i in $(seq 100); do
        curl -fsS -o /dev/null "$PROM/-/ready" 2>/dev/null && break 2
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_pids "$PROM_PID"
    PROM_PID=""
    grep -q 'address already in use' "$T/prom.log" || break
done
[ -n "$PROM_PID" ] || fail "Prometheus did not start: $(tail -5 "$T/prom.log")"
ok "Prometheus is ready at $PROM"

# the first scrape comes about 5 s after Prometheus starts
for i in $(seq 150); do
    [ "$(promval 'up{job="arthamon"}')" = 1 ] && [ "$(promval 'up{job="arthamon-text"}')" = 1 ] && break
    [ "$i" -eq 150 ] && fail "up{job=\"arthamon\"} not 1 within 30 s: $(curl -sS "$PROM/api/v1/targets")"
    sleep 0.2
done
# some data to compare: six scrapes of each job
for i in $(seq 60); do
    [ "$(promval 'min(count_over_time(up[1m]))')" -ge 6 ] 2>/dev/null && break
    [ "$i" -eq 60 ] && fail "fewer than 6 scrapes of each job within 12 s"
    sleep 0.2
done
ok "both jobs are up and scraped"

curl -sS "$PROM/api/v1/targets" >"$T/targets.json" || fail "targets API"
curl -sS -G "$PROM/api/v1/targets/metadata" --data-urlencode 'match_target={job=~"arthamon.*"}' \
    >"$T/metadata.json" || fail "metadata API"
"$PY" - "$T/targets.json" "$T/metadata.json" "$T/proxy.log" <<'PY' || fail "targets (above)"
import json, sys
targets = json.load(open(sys.argv[1]))["data"]["activeTargets"]
meta = json.load(open(sys.argv[2]))["data"]
errors = []
jobs = {t["labels"]["job"]: t for t in targets}
for job in ("arthamon", "arthamon-text"):
    t = jobs.get(job)
    if not t:
        errors.append("no target for job %s" % job)
    elif t["health"] != "up" or t["lastError"] != "":
        errors.append("job %s: health %r, lastError %r" % (job, t["health"], t["lastError"]))
md = {(m["target"]["job"], m["metric"]): m for m in meta}
# OpenMetrics: counters are declared as the family without _total, with UNIT;
# the text format: the sample name, and no unit
want = {("arthamon", "arthamon_ticks"): ("counter", ""),
        ("arthamon", "arthamon_tick_duration_seconds"): ("histogram", "seconds"),
        ("arthamon", "arthamon_memory_physical_total_bytes"): ("gauge", "bytes"),
        ("arthamon-text", "arthamon_ticks_total"): ("counter", ""),
        ("arthamon-text", "arthamon_tick_duration_seconds"): ("histogram", ""),
        ("arthamon-text", "arthamon_memory_physical_total_bytes"): ("gauge", "")}
for key, (kind, unit) in want.items():
    m = md.get(key)
    if not m or m["type"] != kind or m["unit"] != unit:
        errors.append("metadata %s: %r, want type %s unit %r" % (key, m, kind, unit))
if ("arthamon", "arthamon_ticks_total") in md or ("arthamon-text", "arthamon_ticks") in md:
    errors.append("a job read the other format")
proxied = open(sys.argv[3]).read().splitlines()
if not proxied or any(not l.endswith("| 200 text/plain; version=0.0.4; charset=utf-8") for l in proxied):
    errors.append("the proxy's scrapes: %r" % proxied[:3])
elif not proxied[0].startswith("application/openmetrics-text;version=1.0.0,"):
    errors.append("Prometheus asks for %r" % proxied[0])
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
ok "targets healthy with no lastError: OpenMetrics negotiated by default, 0.0.4 text through the proxy"

# ---- values: everything Prometheus stored, against the daemon's own history
NOW=$(date +%s.%N)
promq '{__name__=~"arthamon_.+|up", job=~"arthamon|arthamon-text"}[2m]' "$NOW" >"$T/stored.json" ||
    fail "range query"
promq 'timestamp(arthamon_ticks_total) - on(job, instance) timestamp(up)' "$NOW" >"$T/tsdiff.json" ||
    fail "timestamp query"
curl -fsS "$URL/api/v1/history?limit=1000" >"$T/history.json" || fail "history"
"$PY" - "$T/stored.json" "$T/tsdiff.json" "$T/history.json" "$PROM_C" <<'PY' || fail "values (above)"
import json, math, re, sys

stored = json.load(open(sys.argv[1]))
tsdiff = json.load(open(sys.argv[2]))
hist = json.load(open(sys.argv[3]))
src = open(sys.argv[4], encoding="utf-8").read()
errors, notes = [], []
EARLY, LATE = 2.5, 0.5  # a scrape at t serves a snapshot taken in [t - EARLY, t + LATE]

# prom_map_table: series, Prometheus name, scale
table = re.search(r"prom_map_table\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
consts = dict(re.findall(r"#define\s+(KIB|MIB|GIB)\s+([0-9.]+)", src))
scales = {}
for series, name, scale in re.findall(r'\{\s*"([^"]+)",\s*"([^"]+)",\s*([^,]+?),\s*"', table.group(1) if table else ""):
    expr = re.sub(r"\b(KIB|MIB|GIB)\b", lambda m: consts[m.group(1)], scale)
    if not re.fullmatch(r"[0-9.e+\-*/ ()]+", expr):
        errors.append("cannot read the scale %r of %s" % (scale, series))
        continue
    scales[name] = (series, float(eval(expr)))
if len(scales) < 40:
    print("read %d entries of prom_map_table from %s" % (len(scales), sys.argv[4]))
    sys.exit(1)

snaps = sorted(hist["snapshots"], key=lambda s: s["timestamp_ms"])
if hist["count"] != len(snaps) or len(snaps) < 8:
    errors.append("history: count %r, %d snapshots" % (hist["count"], len(snaps)))

def figure(snap, series, labels):
    """The snapshot's figure for a series and its extra labels; None if absent or null."""
    v = snap
    for key in series.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(key)
    if labels:
        if len(labels) != 1:
            raise KeyError
        (key,) = labels.values()
        if isinstance(v, list):
            v = v[int(key)] if key.isdigit() and int(key) < len(v) else None
        elif isinstance(v, dict):
            v = v.get(key)
        else:
            return None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

def near(snap_t, t):
    return t - EARLY <= snap_t <= t + LATE

by_job = {}
for r in stored["data"]["result"]:
    m = dict(r["metric"])
    by_job.setdefault(m["job"], []).append((m, [(float(t), float(v)) for t, v in r["values"]]))

required = {"arthamon_memory_physical_total_bytes", "arthamon_memory_physical_used_bytes",
            'arthamon_cpu_seconds_total{mode="user"}', "arthamon_cpu_usage_ratio",
            "arthamon_network_received_bytes_total", "arthamon_disk_read_bytes_total",
            "arthamon_ticks_total", "arthamon_last_tick_timestamp_seconds"}
for job in ("arthamon", "arthamon-text"):
    series = by_job.get(job, [])
    up = [s for m, s in series if m["__name__"] == "up"]
    if len(up) != 1 or len(up[0]) < 6 or any(v != 1 for _, v in up[0]):
        errors.append("%s: up samples %r" % (job, up))
        continue
    scrape_times = {t for t, _ in up[0]}
    compared = skipped = 0
    names = set()
    for m, samples in series:
        name = m.pop("__name__")
        if name == "up":
            continue
        names.add(name)
        if m.pop("node_id", None) != "test-node":
            errors.append("%s: %s%r without node_id=\"test-node\"" % (job, name, m))
        m.pop("job"), m.pop("instance")
        if m:
            names.add("%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(m.items()))))
        # no exported timestamps: every sample is stamped with its scrape's time
        for t, _ in samples:
            if t not in scrape_times:
                errors.append("%s: %s%r has a sample at %.3f, not a scrape time" % (job, name, m, t))
                break
        if name == "arthamon_ticks_total":
            # ticks_total k is published with the k-th snapshot
            for t, v in samples:
                k = int(v)
                if not (1 <= k <= len(snaps) and near(snaps[k - 1]["timestamp_ms"] / 1e3, t)):
                    errors.append("%s: ticks_total %d at %.3f: the %d-th snapshot is from %s" %
                                  (job, k, t, k, snaps[k - 1]["timestamp_ms"] / 1e3 if 1 <= k <= len(snaps) else None))
                    break
            compared += len(samples)
            continue
        if name == "arthamon_last_tick_timestamp_seconds":
            for t, v in samples:
                if not any(round(v * 1e3) == s["timestamp_ms"] and near(v, t) for s in snaps):
                    errors.append("%s: last_tick_timestamp_seconds %.3f at %.3f is no snapshot's" % (job, v, t))
                    break
            compared += len(samples)
            continue
        if name not in scales:
            continue  # the agent's own figures (build_info, histogram, ...)
        path, scale = scales[name]
        for t, v in samples:
            cands = []
            try:
                for s in snaps:
                    if near(s["timestamp_ms"] / 1e3, t):
                        f = figure(s, path, m)
                        if f is not None:
                            cands.append(f)
            except KeyError:
                skipped += 1
                notes.append("%s%r: cannot find its figure in the JSON" % (name, m))
                break
            if not any(math.isclose(v, f * scale, rel_tol=1e-6, abs_tol=1e-12) for f in cands):
                errors.append("%s: %s%r = %r at %.3f; %s (x%g) in the snapshots of [t-%.1f, t+%.1f]: %r" %
                              (job, name, m, v, t, path, scale, EARLY, LATE, cands))
                break
            compared += 1
    missing = required - names
    if missing:
        errors.append("%s: Prometheus has no %s" % (job, sorted(missing)))
    print("%s: %d series, %d scrapes, %d samples matched a snapshot, %d series not comparable" %
          (job, len(series) - 1, len(up[0]), compared, skipped))

# the same through PromQL's timestamp(): the exposition's samples have the scrape's time
diffs = tsdiff["data"]["result"]
if len(diffs) != 2 or any(float(r["value"][1]) != 0 for r in diffs):
    errors.append("timestamp(arthamon_ticks_total) - timestamp(up): %r" % diffs)
for n in sorted(set(notes)):
    print("note: " + n)
for e in errors[:20]:
    print(e)
sys.exit(1 if errors else 0)
PY
ok "every stored series has node_id=\"test-node\" and its scrape's timestamp"
ok "every stored value equals, scaled back, a figure of a snapshot taken within one tick of its scrape"

kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
kill -0 "$PROM_PID" 2>/dev/null || fail "Prometheus died: $(tail -5 "$T/prom.log")"
[ ! -s "$T/prom.log" ] || echo "Prometheus said: $(head -5 "$T/prom.log")"
echo "PASS"
