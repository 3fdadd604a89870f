#!/bin/bash
# Fault: a file system filling up. Two 64 MiB tmpfs mounts, each 20 % full, each
# watched by a daemon of its own (agent.disk_path there), sampling every 250 ms with
# detection on (warm-up 40 ticks). After the warm-up and a quiet baseline of 40
# ticks, right after a tick (the onset):
#   fast: one fallocate takes its mount to 97 %. Expected: disk.usage_percent
#         >= 95 within 2 ticks (the raw figure responds), the rule
#         disk_nearly_full (component disk, >= 90 %) within 3 ticks of the fill
#         completing, and a learned anomaly (series or multivariate) on component
#         disk within 30 ticks;
#   slow: 1 MiB every tick from 20 % on. Expected: disk_full_eta (component disk,
#         detector trend or rule) detected on a tick when the usage was still
#         under 90 % (the fill reaches 90 % after 45 ticks).
# Needs root (mount). About 45 s. Exit 0 pass, 1 fail, 77 skip.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_arthamon
need_root "mount -t tmpfs"
need_tools "util-linux" mount umount fallocate

BASELINE_S=10 # 40 ticks
BASELINE_TRIES=3
SIZE_MIB=64
BASE_MIB=13  # 20 %
FAST_MIB=49  # to 62 of 64 MiB: 97 %
SLOW_TICKS=48 # 1 MiB a tick, to 61 MiB: 95 %
T=$(mktemp -d /tmp/am-fault-disk-XXXXXX) || fail "mktemp"
PIDS=()
MOUNTS=()
cleanup() {
    local m
    stop_pids "${PIDS[@]}"
    for m in "${MOUNTS[@]}"; do
        umount "$m" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for x in fast slow; do
    mkdir -p "$T/$x/mnt" || fail "mkdir"
    mount -t tmpfs -o "size=${SIZE_MIB}m" "am-fault-$x" "$T/$x/mnt" 2>"$T/mount.err" ||
        skip "cannot mount a tmpfs: $(cat "$T/mount.err")"
    MOUNTS+=("$T/$x/mnt")
    fallocate -l "${BASE_MIB}M" "$T/$x/mnt/base" || fail "fallocate on tmpfs"
    fault_config "$T/$x/c.yaml" "$T/$x" "disk_path: $T/$x/mnt"
done
start_daemon "$T/fast/c.yaml" "$T/fast/run.log"
PIDS+=("$DAEMON_PID")
FAST=$URL
start_daemon "$T/slow/c.yaml" "$T/slow/run.log"
PIDS+=("$DAEMON_PID")
SLOW=$URL

fault_watch warm "$FAST" 40 || fail "see above"
fault_watch warm "$SLOW" 40 || fail "see above"
fault_baseline "$BASELINE_S" "$BASELINE_TRIES" "$FAST" "$SLOW"
fault_watch settle "$FAST" 10 component=disk || echo "note: a disk anomaly of the baseline is still open"

# slow: its own clock (1 MiB every tick), started first so that both run together
fault_watch tick "$SLOW" || fail "see above"
SLOW_ONSET=$(now_ms)
"$PY" - "$T/slow/mnt" "$SLOW_TICKS" "$FAULT_TICK_MS" <<'PY' &
import os, sys, time
mnt, n, tick = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000
t = time.monotonic()
for i in range(n):
    fd = os.open(f"{mnt}/slow{i}", os.O_WRONLY | os.O_CREAT, 0o600)
    os.posix_fallocate(fd, 0, 1 << 20)
    os.close(fd)
    t += tick
    time.sleep(max(0.0, t - time.monotonic()))
PY
PIDS+=($!)
echo "onset (slow): 1 MiB every $FAULT_TICK_MS ms from $BASE_MIB of $SIZE_MIB MiB"

fault_watch tick "$FAST" || fail "see above"
fallocate -l "${FAST_MIB}M" "$T/fast/mnt/fill" || fail "fallocate ${FAST_MIB}M"
ONSET=$(now_ms)
echo "onset (fast): $FAST_MIB MiB more: $((BASE_MIB + FAST_MIB)) of $SIZE_MIB MiB"

SHOW=disk.usage_percent,disk.available_gb
fault_watch raw "$FAST" "$ONSET" 2 "fast fill" disk.usage_percent ">=" 95 || fail "see above"
fault_watch expect "$FAST" "$ONSET" 3 "rule disk_nearly_full" "$SHOW" \
    anomaly_type=disk_nearly_full component=disk detector=rule || fail "see above"
fault_watch expect "$FAST" "$ONSET" 30 "learned disk" "$SHOW" \
    component=disk "detector=series|multivariate" || fail "see above"
fault_watch expect "$SLOW" "$SLOW_ONSET" "$SLOW_TICKS" "slow fill: disk_full_eta" "$SHOW" \
    anomaly_type=disk_full_eta component=disk "detector=trend|rule" "@disk.usage_percent<90" ||
    fail "see above"
