#!/bin/bash
# Fault: a memory leak in the monitored process. leaker (tests/integration/leaker.c)
# starts first and the daemon watches it (agent.process.pid), sampling every 250 ms
# with detection on (warm-up 40 ticks). After the warm-up and a quiet baseline of 40
# ticks, SIGUSR1 right after a tick (the onset) makes it grow its resident set by
# STEP_MIB every tick, touching every page. Expected:
#   - memory.process_rss_mb grows by 20 MiB within 10 ticks (the raw figure responds);
#   - memory_leak (component memory, detector trend) within 30 ticks;
#   - memory.leak_indicators a non-empty list within 30 ticks.
# About 35 s. Exit 0 pass, 1 fail.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "python3"
LEAKER=${ARTHAMON_HELPERS:-}/leaker
[ -x "$LEAKER" ] || fail "$LEAKER missing (built from tests/integration/leaker.c)"

BASELINE_S=10 # 40 ticks
BASELINE_TRIES=3
STEP_MIB=4    # per 250 ms tick: 16 MiB/s
MAX_MIB=480   # 30 s of growth, then flat
T=$(mktemp -d /tmp/am-fault-leak-XXXXXX) || fail "mktemp"
PIDS=()
cleanup() {
    stop_pids "${PIDS[@]}"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$LEAKER" "$STEP_MIB" "$FAULT_TICK_MS" "$MAX_MIB" >"$T/leaker.out" 2>&1 &
LEAK_PID=$!
PIDS+=("$LEAK_PID")
for _ in $(seq 50); do
    grep -q ready "$T/leaker.out" && break
    sleep 0.1
done
grep -q ready "$T/leaker.out" || fail "leaker did not start: $(cat "$T/leaker.out")"

fault_config "$T/c.yaml" "$T" "process: {pid: $LEAK_PID}"
start_daemon "$T/c.yaml" "$T/run.log"
PIDS+=("$DAEMON_PID")
fault_watch warm "$URL" 40 || fail "see above"
fault_baseline "$BASELINE_S" "$BASELINE_TRIES" "$URL"
fault_watch settle "$URL" 10 anomaly_type=memory_leak component=memory ||
    fail "memory_leak is open before the leak"

fault_watch tick "$URL" || fail "see above"
ONSET=$(now_ms)
kill -USR1 "$LEAK_PID"
echo "onset: leaker $LEAK_PID grows by $STEP_MIB MiB every $FAULT_TICK_MS ms"

SHOW=memory.process_rss_mb,memory.leak_indicators
# the monitored process is the leaker, not some other one: its RSS follows the leak
fault_watch raw "$URL" "$ONSET" 10 "leak under way" memory.process_rss_mb ">=" 20 ||
    fail "see above"
fault_watch expect "$URL" "$ONSET" 30 "memory_leak" "$SHOW" \
    anomaly_type=memory_leak component=memory detector=trend || fail "see above"
fault_watch raw "$URL" "$ONSET" 30 "leak indicators" memory.leak_indicators nonempty ||
    fail "see above"
