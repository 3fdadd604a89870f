#!/bin/bash
# A full disk under the history: with the data directory on a 16 MB tmpfs filled
# up, the daemon logs the failure at most once a minute, keeps sampling and
# serving the live snapshot, and resumes writing when space is freed; the
# database stays intact throughout.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_root "mounts a tmpfs"
need_tools "sqlite3, curl" sqlite3 curl
T=$(mktemp -d /tmp/am-full-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    umount "$T/data" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

mkdir "$T/data"
mount -t tmpfs -o size=16m tmpfs "$T/data" || skip "cannot mount a tmpfs here"
cat >"$T/c.yaml" <<YAML
monitoring:
  sampling_interval_ms: 50
  logging: {level: info, output_dir: $T, stdout: true}
visualization: {dashboard_port: 0}
agent: {console_summary: false, data_dir: $T/data, node_id: full-node}
YAML
start_daemon "$T/c.yaml" "$T/run.log"
sleep 1
newest() { curl -sf "$URL/api/v1/history?limit=1" | "$PY" -c 'import json,sys; s=json.load(sys.stdin)["snapshots"]; print(s[-1]["timestamp_ms"] if s else 0)'; }
kept0=$(newest)
[ "$kept0" -gt 0 ] || fail "nothing kept before the disk filled"

# fill the file system to the last block
dd if=/dev/zero of="$T/data/filler" bs=64k >/dev/null 2>&1
sync
# the tick journal allocates its blocks ahead (64 KiB): appends go on into
# that room, then fail; wait for the failure (at most 30 s)
for i in $(seq 60); do
    grep -q "history: cannot write" "$T/run.log" && break
    sleep 0.5
done
sleep 4
kill -0 "$DAEMON_PID" || fail "the daemon died on a full disk: $(tail -5 "$T/run.log")"
curl -sf "$URL/api/v1/snapshot" >"$T/snap.json" || fail "live snapshot not served on a full disk"
age=$("$PY" -c 'import json,sys,time; print(time.time() - json.load(open(sys.argv[1]))["timestamp_ms"]/1000)' "$T/snap.json")
"$PY" -c "import sys; sys.exit(0 if $age < 1 else 1)" || fail "the live snapshot is $age s old on a full disk"
errs=$(grep -c "history: cannot write" "$T/run.log")
[ "$errs" -ge 1 ] || fail "a full disk was not logged: $(tail -5 "$T/run.log")"
[ "$errs" -le 1 ] || fail "$errs error lines in under a minute (at most one a minute)"
grep "history: cannot write" "$T/run.log" | head -1
ok "disk full: the daemon lives, serves a live snapshot (${age%.*}.x s old), logged once"

# free the space: writing resumes
rm -f "$T/data/filler"
sleep 2
kept1=$(newest)
[ "$kept1" -gt "$kept0" ] || fail "writing did not resume after space was freed ($kept0 -> $kept1)"
"$PY" -c "import sys,time; sys.exit(0 if time.time()*1000 - $kept1 < 1000 else 1)" ||
    fail "the newest kept snapshot is stale after space was freed"
grep -q "history: writing again" "$T/run.log" || fail "no 'writing again' line"
stop_pids "$DAEMON_PID"
DAEMON_PID=""
res=$(sqlite3 "$T/data/arthamon.db" "PRAGMA integrity_check")
[ "$res" = ok ] || fail "integrity_check after a full disk: $res"
ok "space freed: appends resumed, newest snapshot kept; integrity_check ok"
echo PASS
