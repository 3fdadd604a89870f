#!/bin/bash
# Crash safety of the history: CYCLES times {daemon sampling every 50 ms, kill -9 at
# a random moment, restart}. After every kill `PRAGMA integrity_check` is ok, and
# every snapshot /api/v1/history returned before the kill is still there after the
# restart, with the same figures.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "sqlite3, curl" sqlite3 curl
CYCLES=${CYCLES:-100}
T=$(mktemp -d /tmp/am-crash-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

cat >"$T/c.yaml" <<YAML
monitoring:
  sampling_interval_ms: 50
  logging: {level: warn, output_dir: $T, stdout: true}
visualization: {dashboard_port: 0}
agent: {console_summary: false, data_dir: $T, node_id: crash-node}
YAML
DB=$T/arthamon.db
checked=0
for cycle in $(seq "$CYCLES"); do
    start_daemon "$T/c.yaml" "$T/run.log"
    # what was kept before the last kill is all still there, unchanged
    if [ -s "$T/before.json" ]; then
        from=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["snapshots"][0]["timestamp_ms"]/1000 if d["snapshots"] else 0)' "$T/before.json")
        code=$(curl -s -o "$T/after.json" -w '%{http_code}' "$URL/api/v1/history?from=$from&limit=1000")
        [ "$code" = 200 ] || { cat "$T/after.json" "$T/run.log"; fail "cycle $cycle: history after restart: HTTP $code"; }
        n=$("$PY" - "$T/before.json" "$T/after.json" <<'PY'
import json, sys
def figures(s):
    out = {}
    def walk(p, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(p + "." + k, x)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(p + "[%d]" % i, x)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[p] = v
    walk("", s)
    out.pop(".interval_sec", None)  # the gap to the previous snapshot of the answer
    return out
before = json.load(open(sys.argv[1]))["snapshots"]
after = {s["timestamp_ms"]: figures(s) for s in json.load(open(sys.argv[2]))["snapshots"]}
for s in before:
    t = s["timestamp_ms"]
    if t not in after:
        sys.exit("snapshot %d returned before the kill is gone" % t)
    a, b = figures(s), after[t]
    if a != b:
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:5]
        sys.exit("snapshot %d changed: %s" % (t, ", ".join("%s %r->%r" % (k, a.get(k), b.get(k)) for k in diff)))
print(len(before))
PY
) || fail "cycle $cycle: $n"
        checked=$((checked + n))
    fi
    # let it run a random while, read what it says it has kept, and kill it mid-flight
    sleep "0.$((RANDOM % 6 + 2))"
    curl -sf "$URL/api/v1/history?limit=1000" >"$T/before.json" || fail "cycle $cycle: history"
    sleep "0.0$((RANDOM % 10))"
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=""
    res=$(sqlite3 "$DB" "PRAGMA integrity_check" 2>&1)
    [ "$res" = ok ] || fail "cycle $cycle: integrity_check: $res"
done
ok "$CYCLES kill -9 cycles: integrity_check ok every time; $checked snapshots read before a kill were all there after it (tick journal: $(stat -c %s "$DB-ticks") bytes)"
echo PASS
