#!/bin/bash
# The history as its users read it: /api/v1/query and `arthamon query` (while the
# daemon writes), /api/v1/history surviving a restart, and a database that is not
# arthamon's, or is damaged, refusing the start with a message (the file untouched).
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "sqlite3, curl" sqlite3 curl
T=$(mktemp -d /tmp/am-sapi-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    rm -rf "$T"
}
trap cleanup EXIT

mkdir "$T/data"
cat >"$T/c.yaml" <<YAML
monitoring:
  sampling_interval_ms: 100
  logging: {level: warn, output_dir: $T, stdout: true}
visualization: {dashboard_port: 0}
agent: {console_summary: false, data_dir: $T/data, node_id: q-node}
YAML
start_daemon "$T/c.yaml" "$T/run.log"
sleep 2
code=$(curl -s -o "$T/q.json" -w '%{http_code}' "$URL/api/v1/query?series=memory.physical_total_mb&from=$(($(date +%s) - 60))")
[ "$code" = 200 ] || fail "query: $code $(cat "$T/q.json")"
"$PY" - "$T/q.json" <<'PY' || fail "query answer: $(head -c 300 "$T/q.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["series"] == "memory.physical_total_mb" and d["tier"] == "raw", d
assert d["count"] >= 10 and len(d["points"]) == d["count"], d["count"]
assert all(p[1] > 0 for p in d["points"])
PY
curl -s -o "$T/q.json" -w '%{http_code}' "$URL/api/v1/query?series=cpu.usage_percent&step=1&agg=max" | grep -q 200 ||
    fail "query with step: $(cat "$T/q.json")"
curl -s -o "$T/q.json" -w '%{http_code}' "$URL/api/v1/query?series=cpu.core_usage%7Bcore%3D0%7D" | grep -q 200 ||
    fail "labelled series: $(cat "$T/q.json")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/query?series=no.such")" = 404 ] || fail "unknown series not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/query?series=cpu.usage_percent&agg=median")" = 400 ] || fail "bad agg not 400"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/query")" = 400 ] || fail "missing series not 400"
ok "/api/v1/query answers raw points, steps, labelled series; 404/400 for unknown series and bad parameters"
"$ARTHAMON_BIN" query -c "$T/c.yaml" memory.available_mb --from -1m --format csv >"$T/q.csv" 2>&1 ||
    fail "arthamon query while the daemon runs: $(cat "$T/q.csv")"
[ "$(head -1 "$T/q.csv")" = "timestamp,memory.available_mb" ] || fail "csv header: $(head -1 "$T/q.csv")"
[ "$(wc -l <"$T/q.csv")" -ge 10 ] || fail "csv rows: $(wc -l <"$T/q.csv")"
"$ARTHAMON_BIN" query -c "$T/c.yaml" cpu.usage_percent --from -1m --step 1s --agg max >"$T/q.out" 2>&1 ||
    fail "arthamon query json: $(cat "$T/q.out")"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["points"]' "$T/q.out" || fail "json: $(cat "$T/q.out")"
ok "arthamon query reads the database while the daemon writes (csv and json)"

curl -sf "$URL/api/v1/history?limit=5" >"$T/h1.json"
stop_pids "$DAEMON_PID"
DAEMON_PID=""
start_daemon "$T/c.yaml" "$T/run2.log"
first=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshots"][0]["timestamp_ms"]/1000)' "$T/h1.json")
curl -sf "$URL/api/v1/history?from=$first&limit=5" >"$T/h2.json"
"$PY" - "$T/h1.json" "$T/h2.json" <<'PY' || fail "history across a restart"
import json, sys
a, b = (json.load(open(f))["snapshots"] for f in sys.argv[1:])
assert [s["timestamp_ms"] for s in a] == [s["timestamp_ms"] for s in b], ([s["timestamp_ms"] for s in a], [s["timestamp_ms"] for s in b])
for x, y in zip(a, b):
    assert x["memory"] == y["memory"] and x["cpu"]["seconds_total"] == y["cpu"]["seconds_total"]
PY
stop_pids "$DAEMON_PID"
DAEMON_PID=""
ok "/api/v1/history returns the same snapshots after a restart"

# a database that is not ours, one that is damaged: refused, named, untouched
mkdir "$T/other"
sqlite3 "$T/other/arthamon.db" "CREATE TABLE wallet (k TEXT); INSERT INTO wallet VALUES ('x');"
sum=$(md5sum <"$T/other/arthamon.db")
sed "s|data_dir: $T/data|data_dir: $T/other|" "$T/c.yaml" >"$T/o.yaml"
timeout 10 "$ARTHAMON_BIN" run -c "$T/o.yaml" >"$T/o.log" 2>&1
[ $? -eq 1 ] || fail "started on another program's database: $(cat "$T/o.log")"
grep -q "$T/other/arthamon.db: not an arthamon database" "$T/o.log" || fail "message: $(cat "$T/o.log")"
[ "$(md5sum <"$T/other/arthamon.db")" = "$sum" ] || fail "the foreign database was modified"
head -c 100000 /dev/urandom >"$T/other/arthamon.db"
sum=$(md5sum <"$T/other/arthamon.db")
timeout 10 "$ARTHAMON_BIN" run -c "$T/o.yaml" >"$T/o.log" 2>&1
[ $? -eq 1 ] || fail "started on random bytes: $(cat "$T/o.log")"
grep -q "$T/other/arthamon.db: " "$T/o.log" || fail "message: $(cat "$T/o.log")"
[ "$(md5sum <"$T/other/arthamon.db")" = "$sum" ] || fail "the random file was modified"
ok "another program's database and random bytes are refused with the file named, untouched"
echo PASS
