#!/usr/bin/env bash
# bench/detect: what anomaly detection costs.
#   1. bench_detect_tick ($BUILD_DIR/bench/bench_detect_tick, bench/detect_tick.c): CPU per
#      tick of the whole detection engine at DETECT_SERIES series (default 300) after the
#      warm-up, DETECT_TICKS ticks (default 20000); target <= 50 us.
#   2. bench/detect_throughput.sh: points/s of `arthamon detect` on NAB's files, in CPU
#      time; target >= 5 M points/s per core.
# The quiet hour (bench/detect_quiet.sh, at most 1 anomaly of severity >= 3) takes an
# hour and is run on its own.
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD_DIR=${BUILD_DIR:-build}
status=0

tick=$BUILD_DIR/bench/bench_detect_tick
if [ -x "$tick" ]; then
    "$tick" -s "${DETECT_SERIES:-300}" -n "${DETECT_TICKS:-20000}" || status=1
else
    echo "bench/detect: no $tick; build first (make build, or set BUILD_DIR)" >&2
    status=1
fi
echo
BUILD_DIR=$BUILD_DIR bench/detect_throughput.sh || status=1
exit "$status"
