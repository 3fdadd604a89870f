#!/bin/bash
# The report (docs/report.md) from a live daemon. The daemon samples every second
# with a detection rule on the mempool (pool_high: over 100, severity 4, a
# description with HTML in it); a feeder sends its StatsD port, for FEED_S seconds,
# the mempool (500: the rule fires), transactions, finality, contract calls of a
# function and inferences of a model named <img/src=x/onerror=alert(1)>, and a
# custom metric named <img src=x onerror=alert(1)> with that tag. Then, while the
# daemon runs:
#   - `arthamon report --format md` is parsed: every section heading, every metric
#     group, real numbers in the current state and in the history summary (min <=
#     mean <= max, the mempool at 500), the anomaly with its suggested action, the
#     HTML of the data neutralised (in code spans or backslash-escaped);
#   - `arthamon report --format html --output F`: no raw tag from the data, valid
#     HTML5 by Debian's tidy (`tidy -q -e`: no error; skipped without tidy), and
#     rendered by headless Chromium with every section title (skipped without it);
#   - GET /api/v1/report?format=html and ?format=md: the content types, the same
#     sections, the custom metric and its tag as text (only the running agent holds
#     custom series: the command's report says so); ?format=pdf is refused with 400.
# About 20 s. Exit 0 pass, 1 fail.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "python3"

FEED_S=12
T=$(mktemp -d /tmp/am-report-XXXXXX) || fail "mktemp"
PIDS=()
cleanup() {
    stop_pids "${PIDS[@]}"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

daemon_config "$T/c.yaml" "$T" \
    'detection: {rules: [{name: pool_high, series: node.mempool_size, condition: ">", trigger: 100, severity: 4, description: "mempool <b>too</b> big", actions: ["drain it"]}]}'
start_daemon "$T/c.yaml" "$T/run.log"
PIDS+=("$DAEMON_PID")
PORT=$(statsd_port "$T/run.log") || exit 1

"$PY" - "$PORT" "$FEED_S" <<'PY' || fail "the feeder failed"
import socket, sys, time

port, secs = int(sys.argv[1]), float(sys.argv[2])
evil = "<img src=x onerror=alert(1)>"
tagged = "<img/src=x/onerror=alert(1)>"
lines = [
    "node.mempool.size:500|g",
    "node.tx:20|c",
    "consensus.finality:1200|ms",
    f"contract.exec:3|ms|#function:{tagged}",
    f"inference.latency:5|ms|#model:{tagged},type:cnn",
    f"{evil}:1|c|#{evil}",
]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + secs
while time.monotonic() < end:
    for line in lines:
        sock.sendto(line.encode(), ("127.0.0.1", port))
    time.sleep(0.1)
PY
ok "fed StatsD for $FEED_S s"

kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/run.log"; fail "the daemon died"; }
"$ARTHAMON_BIN" report -c "$T/c.yaml" --format md >"$T/report.md" 2>"$T/report.err" ||
    { cat "$T/report.err"; fail "arthamon report --format md exited $?"; }
"$ARTHAMON_BIN" report -c "$T/c.yaml" --format html --output "$T/report.html" 2>"$T/report.err" ||
    { cat "$T/report.err"; fail "arthamon report --format html exited $?"; }

"$PY" - "$T/report.md" "$T/report.html" <<'PY' || fail "the report's content"
import re, sys

md = open(sys.argv[1], encoding="utf-8").read()
html = open(sys.argv[2], encoding="utf-8").read()
bad = []
sections = ["# Performance Monitoring Report", "## Current System State", "## History Summary",
            "## Top Anomalies", "## Alert Delivery", "## Predictions"]
groups = ["CPU", "Memory", "Disk", "Network", "GPU", "Node", "Consensus", "Contracts",
          "Model inference", "Quantum", "Node custom metrics"]
lines = md.splitlines()
for s in sections + ["### " + g for g in groups]:
    if s not in lines:
        bad.append(f"no heading {s!r}")


def cells(line):
    # a table row's cells; \| is a pipe inside a cell
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def rows(after):
    """The rows of the table whose header starts with `after`, as dicts."""
    out, head = [], None
    for line in lines:
        if line.startswith(after):
            head = cells(line)
            continue
        if head is not None:
            if not line.startswith("|"):
                if out:
                    break
                continue
            if set(line) <= set("|-: "):
                continue
            c = cells(line)
            out.append(dict(zip(head, c)))
    return out


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


# the current state: the CPU table has real numbers, the mempool is 500
cur = {}
for line in lines:
    if line.startswith("| `"):
        c = cells(line)
        if len(c) == 3:
            cur[c[0].strip("`")] = c[1]
if num(cur.get("cpu.usage_percent", "")) is None:
    bad.append("current state: no number for cpu.usage_percent")
if num(cur.get("node.mempool_size", "")) != 500:
    bad.append(f"current state: node.mempool_size is {cur.get('node.mempool_size')!r}, not 500")
if not any(k.startswith("cpu.core_usage{core=") for k in cur):
    bad.append("current state: no per-core usage")
hist = rows("| series | min | mean | p95 | max |")
if len(hist) < 10:
    bad.append(f"history summary: {len(hist)} rows")
byname = {r["series"].strip("`"): r for r in hist}
for name in ("cpu.usage_percent", "memory.physical_used_mb", "node.mempool_size"):
    r = byname.get(name)
    if not r:
        bad.append(f"history summary: no row for {name}")
        continue
    v = [num(r[k]) for k in ("min", "mean", "p95", "max")]
    if None in v or not (v[0] <= v[1] <= v[3] and v[0] <= v[2] <= v[3]):
        bad.append(f"history summary: {name}: {r}")
    if r["trend"] not in ("rising", "falling", "flat") or int(r["points"]) < 5:
        bad.append(f"history summary: {name}: trend/points {r}")
if byname.get("node.mempool_size", {}).get("max") not in ("500", "500.0"):
    bad.append(f"history summary: mempool max {byname.get('node.mempool_size')}")
# the anomaly, its description neutralised, its action
if "### pool_high (Severity: 4)" not in lines:
    bad.append("no anomaly pool_high (Severity: 4)")
if "- Description: mempool \\<b\\>too\\</b\\> big" not in lines:
    bad.append("the description is not there, or not escaped")
if "- drain it" not in lines:
    bad.append("no suggested action 'drain it'")
if not any(l.startswith("Not available here: custom series are held live") for l in lines):
    bad.append("the command's report does not say where the custom series are")
# HTML from the data only inside code spans in the Markdown
evil = "<img/src=x/onerror=alert(1)>"
if evil not in md:
    bad.append("the function/model named <img ...> is not in the Markdown report")
for line in lines:
    if "<" in line:
        outside = re.sub(r"(`+).*?\1", "", line)
        if re.search(r"(?<!\\)<", outside):
            bad.append(f"raw '<' outside a code span: {line}")
# HTML: no raw tag from the data, escaped text present
for tag in ("<img", "<b>"):
    if tag in html:
        bad.append(f"raw {tag} in the HTML report")
for text in ("&lt;img/src=x/onerror=alert(1)&gt;", "mempool &lt;b&gt;too&lt;/b&gt; big",
             "drain it", "<svg", "@media print"):
    if text not in html:
        bad.append(f"{text!r} missing from the HTML report")
for b in bad:
    print("  " + b)
if bad:
    print("---- report.md ----")
    print(md[:6000])
    sys.exit(1)
print(f"ok: Markdown report: {len(sections)} sections, {len(groups)} metric groups, "
      f"{len(hist)} series summarised, the anomaly and its action; data escaped in both")
PY

if command -v tidy >/dev/null 2>&1; then
    tidy -q -e "$T/report.html" >"$T/tidy.log" 2>&1
    rc=$?
    # tidy: 0 clean, 1 warnings only, 2 errors
    if [ $rc -ge 2 ] || grep -q "Error:" "$T/tidy.log"; then
        cat "$T/tidy.log"
        fail "tidy finds errors in the HTML report"
    fi
    ok "tidy: no error in the HTML report ($(grep -c Warning: "$T/tidy.log") warnings)"
else
    echo "note: tidy not installed (scripts/install-deps.sh test): HTML validation skipped"
fi

if [ -x /usr/bin/chromium ]; then
    timeout 40 /usr/bin/chromium --headless --no-sandbox --disable-gpu --dump-dom \
        "file://$T/report.html" >"$T/dom.html" 2>"$T/chromium.log" ||
        { tail -5 "$T/chromium.log"; fail "chromium could not render the HTML report"; }
    for s in "Performance Monitoring Report" "Current System State" "History Summary" \
        "Top Anomalies" "Alert Delivery" "Predictions"; do
        grep -q "$s" "$T/dom.html" || fail "chromium's DOM lacks '$s'"
    done
    grep -q "<img" "$T/dom.html" && fail "chromium's DOM has an <img> element from the data"
    ok "chromium renders the HTML report with every section"
else
    echo "note: /usr/bin/chromium not installed: rendering check skipped"
fi

"$PY" - "$URL" <<'PY' || fail "/api/v1/report"
import sys, urllib.error, urllib.request

url = sys.argv[1]
for fmt, ctype, mark in (("html", "text/html; charset=utf-8", "<h2 id=\"anomalies\">Top Anomalies</h2>"),
                         ("md", "text/markdown; charset=utf-8", "## Top Anomalies")):
    with urllib.request.urlopen(f"{url}/api/v1/report?format={fmt}", timeout=20) as r:
        body = r.read().decode()
        if r.headers["Content-Type"] != ctype:
            sys.exit(f"FAIL: format={fmt}: Content-Type {r.headers['Content-Type']}")
    for want in (mark, "pool_high", "drain it", "Alert Delivery", "Predictions"):
        if want not in body:
            sys.exit(f"FAIL: format={fmt}: {want!r} missing")
    if fmt == "html" and ("<img" in body or "<b>" in body):
        sys.exit("FAIL: a raw tag from the data in /api/v1/report?format=html")
    # the custom metric and its tag, as text
    fig = "<img src=x onerror=alert(1)>{<img src=x onerror=alert(1)>}"
    want = ("<code>" + fig.replace("<", "&lt;").replace(">", "&gt;") + "</code>" if fmt == "html"
            else "`" + fig + "`")
    if want not in body:
        sys.exit(f"FAIL: format={fmt}: the custom metric {want!r} is missing")
try:
    urllib.request.urlopen(f"{url}/api/v1/report?format=pdf", timeout=10)
    sys.exit("FAIL: format=pdf accepted")
except urllib.error.HTTPError as e:
    if e.code != 400:
        sys.exit(f"FAIL: format=pdf: {e.code}")
print("ok: /api/v1/report?format=html and md: content types, sections, escaping; pdf refused")
PY
echo "PASS"
