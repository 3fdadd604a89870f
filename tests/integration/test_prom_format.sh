#!/bin/bash
# The live /metrics of a running daemon, checked by independent parsers: the
# 0.0.4 text format by promtool (no finding at all) and by our own line rules
# (Content-Type, HELP and TYPE for every family, _total on counters, no
# timestamps, node_id on every sample, the self-metrics and the tick histogram,
# scrapes_total counting each scrape); OpenMetrics 1.0.0 by Debian's strict
# prometheus_client parser, and by promtool, whose only findings on conformant
# OpenMetrics are "NAME_total no help text", once per counter family (it reads
# the 0.0.4 format, where HELP and TYPE name the sample, not the family).
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "prometheus, curl" promtool curl
"$PY" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
    skip "prometheus_client not installed for $PY (python3-prometheus-client)"
T=$(mktemp -d /tmp/am-promfmt-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    rm -rf "$T"
}
trap cleanup EXIT

OM_ACCEPT='application/openmetrics-text;version=1.0.0'

# scrape FILE [CURL ARGS...]: GET /metrics into FILE, headers into FILE.hdr; fails unless 200
scrape() {
    local out=$1 got
    shift
    got=$(curl -sS -o "$out" -D "$out.hdr" -w '%{http_code}' "$@" "$URL/metrics") ||
        fail "curl $URL/metrics failed"
    [ "$got" = 200 ] || fail "/metrics -> $got: $(head -c 300 "$out")"
}
ctype() { sed -n 's/^[Cc]ontent-[Tt]ype: \(.*\)\r$/\1/p' "$1.hdr"; }

daemon_config "$T/d.yaml" "$T"
start_daemon "$T/d.yaml" "$T/d.log"
# wait for the second tick: the first has no rates, so the exposition is not yet complete
for i in $(seq 100); do
    scrape "$T/m.txt"
    grep -q '^arthamon_cpu_usage_ratio{' "$T/m.txt" && break
    [ "$i" -eq 100 ] && fail "no arthamon_cpu_usage_ratio within 10 s: $(head -c 500 "$T/m.txt")"
    sleep 0.1
done

# ---- text format 0.0.4
scrape "$T/m.txt"
[ "$(ctype "$T/m.txt")" = "text/plain; version=0.0.4; charset=utf-8" ] ||
    fail "text Content-Type '$(ctype "$T/m.txt")'"
promtool check metrics <"$T/m.txt" >"$T/lint.out" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ -s "$T/lint.out" ]; then
    fail "promtool on the text format: exit $rc: $(head -20 "$T/lint.out")"
fi
ok "text format: Content-Type 0.0.4, promtool check metrics finds nothing"

"$PY" - "$T/m.txt" <<'PY' || fail "text format rules (above)"
import re, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
errors = []
helps, types, samples = {}, {}, []
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("# HELP "):
        name = line.split(" ", 3)[2]
        if name in helps:
            errors.append("line %d: second HELP for %s" % (n, name))
        helps[name] = n
    elif line.startswith("# TYPE "):
        parts = line.split(" ")
        if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
            errors.append("line %d: bad TYPE line %r" % (n, line))
            continue
        if parts[2] in types:
            errors.append("line %d: second TYPE for %s" % (n, parts[2]))
        types[parts[2]] = (parts[3], n)
    elif line.startswith("#") or line == "":
        errors.append("line %d: unexpected line %r" % (n, line))
    else:
        m = SAMPLE.match(line)
        if not m:
            # a timestamp (a third field) or anything else that is not "name{labels} value"
            errors.append("line %d: not 'name{labels} value': %r" % (n, line))
            continue
        labels = dict(re.findall(LABEL, m.group(2) or ""))
        samples.append((n, m.group(1), labels, float(m.group(m.lastindex))))
if not text.endswith("\n"):
    errors.append("the exposition does not end with a newline")

def family(name):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base, ("",))[0] == "histogram":
            return base
    return name

for n, name, labels, value in samples:
    fam = family(name)
    if fam not in types or types[fam][1] > n:
        errors.append("line %d: %s has no TYPE before it" % (n, name))
    if fam not in helps or helps[fam] > n:
        errors.append("line %d: %s has no HELP before it" % (n, name))
    if labels.get("node_id") != "test-node":
        errors.append("line %d: %s without node_id=\"test-node\": %r" % (n, name, labels))
for fam, (kind, n) in types.items():
    if kind == "counter" and not fam.endswith("_total"):
        errors.append("line %d: counter %s does not end in _total" % (n, fam))
    if fam not in helps:
        errors.append("line %d: %s has TYPE but no HELP" % (n, fam))
    if not any(family(s[1]) == fam for s in samples):
        errors.append("line %d: family %s without samples" % (n, fam))

def values(name):
    return [(l, v) for _, s, l, v in samples if s == name]

for fam, kind in (("arthamon_build_info", "gauge"), ("arthamon_ticks_total", "counter"),
                  ("arthamon_tick_duration_seconds", "histogram"),
                  ("arthamon_collector_errors_total", "counter"),
                  ("arthamon_scrapes_total", "counter")):
    if types.get(fam, ("",))[0] != kind:
        errors.append("%s is not served as a %s: %r" % (fam, kind, types.get(fam)))
bi = values("arthamon_build_info")
if len(bi) != 1 or bi[0][1] != 1 or not bi[0][0].get("version"):
    errors.append("arthamon_build_info: %r" % bi)
if not values("arthamon_ticks_total") or values("arthamon_ticks_total")[0][1] < 2:
    errors.append("arthamon_ticks_total: %r" % values("arthamon_ticks_total"))
ce = values("arthamon_collector_errors_total")
if not ce or any(not l.get("collector") for l, _ in ce):
    errors.append("arthamon_collector_errors_total without collector labels: %r" % ce)
if len({l.get("collector") for l, _ in ce}) != len(ce):
    errors.append("arthamon_collector_errors_total: a collector twice: %r" % ce)
buckets = values("arthamon_tick_duration_seconds_bucket")
count = values("arthamon_tick_duration_seconds_count")
hsum = values("arthamon_tick_duration_seconds_sum")
les = [float(l["le"]) for l, _ in buckets]
if not buckets or les != sorted(les) or les[-1] != float("inf") or buckets[-1][0]["le"] != "+Inf":
    errors.append("tick histogram buckets not ascending to le=\"+Inf\": %r" % les)
elif [v for _, v in buckets] != sorted(v for _, v in buckets):
    errors.append("tick histogram buckets not cumulative: %r" % buckets)
elif len(count) != 1 or len(hsum) != 1 or count[0][1] != buckets[-1][1] or count[0][1] < 1:
    errors.append("tick histogram: +Inf bucket %r, _count %r, _sum %r" % (buckets[-1], count, hsum))
elif not 0 < hsum[0][1] < count[0][1] * 10:
    errors.append("tick histogram _sum %r for %r ticks" % (hsum, count))

# the same text through the Python client's parser: same samples, no timestamps
parsed = [s for f in text_string_to_metric_families(text) for s in f.samples]
if len(parsed) != len(samples):
    errors.append("prometheus_client parsed %d samples, the line rules %d" % (len(parsed), len(samples)))
for s in parsed:
    if s.timestamp is not None:
        errors.append("%s carries a timestamp %r" % (s.name, s.timestamp))
for e in errors[:30]:
    print(e)
print("%d families, %d samples" % (len(types), len(samples)))
sys.exit(1 if errors else 0)
PY
ok "text format: HELP and TYPE for every family, counters end in _total, no timestamps, node_id everywhere"
ok "text format: build_info, ticks_total, tick histogram (+Inf = _count), collector_errors_total, scrapes_total"

# ---- scrapes_total counts every scrape, in either format
prev=""
for i in 1 2 3 4 5 6; do
    if [ $((i % 2)) -eq 0 ]; then scrape "$T/s.txt" -H "Accept: $OM_ACCEPT"; else scrape "$T/s.txt"; fi
    n=$(sed -n 's/^arthamon_scrapes_total{node_id="test-node"} \([0-9]*\)$/\1/p' "$T/s.txt")
    [ -n "$n" ] || fail "no arthamon_scrapes_total in scrape $i"
    [ -z "$prev" ] || [ "$n" -eq $((prev + 1)) ] || fail "scrapes_total went $prev -> $n in one scrape"
    prev=$n
done
curl -sS -o /dev/null "$URL/api/v1/snapshot" || fail "snapshot"
scrape "$T/s.txt"
n=$(sed -n 's/^arthamon_scrapes_total{node_id="test-node"} \([0-9]*\)$/\1/p' "$T/s.txt")
[ "$n" -eq $((prev + 1)) ] || fail "scrapes_total counted a /api/v1/snapshot request: $prev -> $n"
ok "scrapes_total grows by one per scrape (text and OpenMetrics), not per other request"

# ---- OpenMetrics 1.0.0
scrape "$T/om.txt" -H "Accept: $OM_ACCEPT"
[ "$(ctype "$T/om.txt")" = "application/openmetrics-text; version=1.0.0; charset=utf-8" ] ||
    fail "OpenMetrics Content-Type '$(ctype "$T/om.txt")'"
[ "$(tail -n1 "$T/om.txt")" = "# EOF" ] || fail "OpenMetrics: last line '$(tail -n1 "$T/om.txt")', want '# EOF'"
[ "$(grep -c '^# EOF$' "$T/om.txt")" -eq 1 ] || fail "OpenMetrics: more than one # EOF"
ok "OpenMetrics: Content-Type 1.0.0, ends with # EOF"

"$PY" - "$T/om.txt" <<'PY' || fail "OpenMetrics rejected or wrong (above)"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
errors = []
try:
    fams = list(text_string_to_metric_families(text))
except Exception as e:  # the strict parser says why
    print("prometheus_client.openmetrics.parser: %s: %s" % (type(e).__name__, e))
    sys.exit(1)
n = 0
for f in fams:
    if f.type == "unknown" or not f.documentation:
        errors.append("%s: type %s, help %r" % (f.name, f.type, f.documentation))
    if f.type == "counter" and f.name.endswith("_total"):
        errors.append("counter family %s declared with _total" % f.name)
    for s in f.samples:
        n += 1
        if s.timestamp is not None:
            errors.append("%s carries a timestamp %r" % (s.name, s.timestamp))
        if s.labels.get("node_id") != "test-node":
            errors.append("%s without node_id=\"test-node\": %r" % (s.name, s.labels))
        if f.type == "counter" and s.name != f.name + "_total":
            errors.append("counter %s has a sample %s" % (f.name, s.name))
kinds = {f.name: f.type for f in fams}
for name, kind in (("arthamon_ticks", "counter"), ("arthamon_scrapes", "counter"),
                   ("arthamon_collector_errors", "counter"), ("arthamon_build_info", "gauge"),
                   ("arthamon_tick_duration_seconds", "histogram")):
    if kinds.get(name) != kind:
        errors.append("%s: %r, want %s" % (name, kinds.get(name), kind))
for e in errors[:30]:
    print(e)
print("%d families, %d samples" % (len(fams), n))
sys.exit(1 if errors else 0)
PY
ok "OpenMetrics: Debian's prometheus_client strict parser accepts it; node_id everywhere, no timestamps"

promtool check metrics <"$T/om.txt" >"$T/omlint.out" 2>&1
rc=$?
"$PY" - "$T/om.txt" "$T/omlint.out" "$rc" <<'PY' || fail "promtool on OpenMetrics: exit $rc: $(head -20 "$T/omlint.out")"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
findings = open(sys.argv[2], encoding="utf-8").read().splitlines()
rc = int(sys.argv[3])
counters = re.findall(r"^# TYPE (\S+) counter$", text, re.M)
errors = []
seen = []
for line in findings:
    m = re.fullmatch(r"(\S+)_total no help text", line)
    if not m or m.group(1) not in counters:
        errors.append("unexpected finding: %r" % line)
    else:
        seen.append(m.group(1))
if len(seen) != len(set(seen)):
    errors.append("a counter reported twice: %r" % seen)
if set(seen) != set(counters):
    errors.append("counter families without their finding: %r" % sorted(set(counters) - set(seen)))
if not counters:
    errors.append("no counter family in the OpenMetrics output")
if rc != (3 if findings else 0):
    errors.append("promtool exit %d with %d findings" % (rc, len(findings)))
for e in errors:
    print(e)
print("%d counter families, %d findings" % (len(counters), len(findings)))
sys.exit(1 if errors else 0)
PY
ok "OpenMetrics: promtool's only findings are 'NAME_total no help text', one per counter family"

kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
echo "PASS"
