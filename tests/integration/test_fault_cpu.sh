#!/bin/bash
# Fault: a CPU hog. The daemon samples every 250 ms with detection on (warm-up 40
# ticks); after the warm-up and a quiet baseline of 40 ticks, one busyloop per CPU
# starts right after a tick (the onset). Expected:
#   - cpu.usage_percent reads >= 90 within 3 ticks (the raw figure responds);
#   - the rule cpu_saturation (component cpu, >= 90 % for 2 ticks) within 3 ticks;
#   - a learned anomaly (detector series or multivariate) on component cpu within
#     30 ticks.
# The baseline may be noisy (tests and builds beside this one): only anomalies of
# severity >= 3 from a learned detector during it fail the test, and when 10 % or
# more of the ticks from its start to the onset read >= 90 % the hog is nothing new,
# so the learned detectors' result is only reported. On a machine that other load
# saturates, cpu_saturation can be open before the onset: the test waits up to 15 s
# for it to resolve, and if it is still (or again) open at the onset, checks that
# it stays open while the hog runs. About 35 s. Exit 0 pass, 1 fail.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "python3" nproc
HOG=${ARTHAMON_HELPERS:-}/busyloop
[ -x "$HOG" ] || fail "$HOG missing (built from tests/integration/busyloop.c)"

BASELINE_S=10 # 40 ticks
BASELINE_TRIES=3
BUSY_MAX=10   # % of saturated baseline ticks past which the learned check is only reported
T=$(mktemp -d /tmp/am-fault-cpu-XXXXXX) || fail "mktemp"
DAEMON_PID=""
HOG_PIDS=()
cleanup() {
    stop_pids "${HOG_PIDS[@]}" ${DAEMON_PID:+"$DAEMON_PID"}
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fault_config "$T/c.yaml" "$T" ""
start_daemon "$T/c.yaml" "$T/run.log"
fault_watch warm "$URL" 40 || fail "see above"
fault_baseline "$BASELINE_S" "$BASELINE_TRIES" "$URL"

# an anomaly that is open already cannot be detected again: wait for the busy
# baseline's own to resolve
fault_watch settle "$URL" 15 anomaly_type=cpu_saturation component=cpu
fault_watch settle "$URL" 10 component=cpu "detector=series|multivariate" ||
    echo "note: a learned cpu anomaly from the baseline is still open at the onset"

fault_watch tick "$URL" || fail "see above"
ONSET=$(now_ms)
for _ in $(seq "$(nproc)"); do
    "$HOG" 60 &
    HOG_PIDS+=($!)
done
echo "onset: ${#HOG_PIDS[@]} busyloops started"
# how often the baseline and the wait after it (other programs on this machine)
# already read like the hog
BUSY=$(fault_watch share "$URL" "$BASE_FROM" "$ONSET" cpu.usage_percent 90) || fail "$BUSY"
echo "before the onset: cpu.usage_percent >= 90 in $BUSY % of the ticks since the baseline began"

SHOW=cpu.usage_percent,cpu.core_usage
fault_watch raw "$URL" "$ONSET" 3 "CPU hog" cpu.usage_percent ">=" 90 || fail "see above"
if fault_watch open_before "$URL" "$ONSET" anomaly_type=cpu_saturation component=cpu detector=rule; then
    # other load saturated the machine first: the hog cannot open it again
    sleep 1
    fault_watch open_before "$URL" "$ONSET" anomaly_type=cpu_saturation component=cpu detector=rule ||
        fail "cpu_saturation resolved with the hog running"
    ok "rule cpu_saturation: open with the hog running (opened by other load before the onset)"
else
    fault_watch expect "$URL" "$ONSET" 3 "rule cpu_saturation" "$SHOW" \
        anomaly_type=cpu_saturation component=cpu detector=rule || fail "see above"
fi
# a hog looks new to a learned detector only if the baseline did not look the same
if ! fault_watch expect "$URL" "$ONSET" 30 "learned cpu" "$SHOW" \
    component=cpu "detector=series|multivariate"; then
    [ "$BUSY" -ge "$BUSY_MAX" ] || fail "see above"
    echo "note: not required: >= 90 % in $BUSY % of the ticks before the onset (other load on this machine)"
fi
