#!/bin/bash
# Memory errors and leaks under valgrind: the issue's check
# `valgrind --error-exitcode=1 build/arthamon snapshot` (default config: two samples
# 5 s apart), here with leak checking made fatal too, and the daemon through a
# start, a reload and a stop.
set -u
BIN=${ARTHAMON_BIN:?}
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
[ "${ARTHAMON_SANITIZE:-0}" = 1 ] && { echo "SKIP: an ASan build cannot run under valgrind (ASan checks it instead)"; exit 77; }
T=$(mktemp -d /tmp/am-vg-XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
VG="valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect -q"

$VG "$BIN" snapshot >"$T/snap.out" 2>"$T/snap.err" || { echo "FAIL: valgrind arthamon snapshot"; cat "$T/snap.err"; exit 1; }
echo "ok: valgrind --error-exitcode=1 arthamon snapshot: no errors, no leaks"

cat >"$T/cfg.yaml" <<YAML
monitoring:
  sampling_interval_ms: 200
  logging: {level: info, output_dir: $T}
agent: {data_dir: $T, p2p_ports: [1], process: {name: init}}
YAML
$VG --log-file="$T/vg.log" "$BIN" run -c "$T/cfg.yaml" >"$T/run.out" 2>&1 &
PID=$!
sleep 3
kill -HUP $PID
sleep 2
kill -TERM $PID
wait $PID
rc=$?
PID=""
if [ $rc -ne 0 ] || [ -s "$T/vg.log" ]; then
    echo "FAIL: valgrind arthamon run (exit $rc)"
    cat "$T/vg.log"
    tail -5 "$T/run.out"
    exit 1
fi
echo "ok: valgrind arthamon run (ticks, SIGHUP reload, SIGTERM): no errors, no leaks"
echo "PASS"
