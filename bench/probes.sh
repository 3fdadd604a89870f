#!/usr/bin/env bash
# bench/probes: what the quantum probes cost, against their budget of 0.01 % of a core
# (src/collect/quantum.c, qprobe.c): bench_probes ($BUILD_DIR/bench/bench_probes,
# bench/probes.c) measures the CPU per round of the Merkle and getrandom probes on the
# sampler thread (through the collector itself) and of the probe thread on a FIFO fed at
# PROBE_FIFO_BITS bit/s (default 200000) and on /dev/urandom, and prints each as a share
# of one core at PROBE_INTERVAL s (default 60), with the totals against the target.
# PROBE_ROUNDS (default 50) rounds on the sampler side; about 10 s in all.
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD_DIR=${BUILD_DIR:-build}
bin=$BUILD_DIR/bench/bench_probes
if [ ! -x "$bin" ]; then
    echo "bench/probes: no $bin; build first (make build, or set BUILD_DIR)" >&2
    exit 1
fi
"$bin" -i "${PROBE_INTERVAL:-60}" -n "${PROBE_ROUNDS:-50}" -r "${PROBE_FIFO_BITS:-200000}"
