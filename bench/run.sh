#!/usr/bin/env bash
# The benchmarks, as `make bench` runs them (after building BUILD_DIR):
#   1. bench/tick (BUILD_DIR/bench/bench_tick): CPU time per tick of the host collectors
#      against the floor of re-reading the same kernel sources, TICKS ticks (default
#      10000); target tick/floor <= 1.25.
#   2. bench/overhead.sh: the daemon's CPU % of one core and RSS at 1 s and 5 s beside
#      sadc and collectd (DURATION s per interval, default 60); target at 1 s
#      <= 0.05 % and <= 8 MiB.
#   3. bench/scrape.sh: render time and size of /metrics (BUILD_DIR/bench/bench_render),
#      then latency p50/p99 and server CPU per scrape over SCRAPES (default 1000)
#      sequential scrapes of the daemon's /metrics and of prometheus-node-exporter's;
#      target: node_exporter's CPU per scrape >= 30x arthamon's.
#   4. bench/store.sh: the history store (BUILD_DIR/bench/bench_store): bytes per sample
#      of the store on this host's snapshots (STORE_SECONDS, default 150, under a stress-ng
#      load) and of its block codec on the tsdb-mix data sets, beside Prometheus's TSDB
#      on the same samples; CPU time per append; block decode speed; a 30-day query.
#      Targets: <= half of Prometheus's bytes per sample and <= 1.0 on the host's,
#      <= 20 us per append of ~300 series, >= 100 M samples/s decoded, <= 20 ms a query.
#   5. bench/ingest.sh: taking node metrics in: CPU ns per histogram observation on 1 and
#      2 threads (BUILD_DIR/bench/bench_ingest_sketch), the loopback ceiling, then StatsD
#      lines/s processed with no loss on one core by arthamon's StatsD server and by
#      netdata's, driven by statsd-blast in fixed-rate steps of STEP s (default 20): 20 lines
#      per datagram, (a) 100 names, (b) with three DogStatsD tags, (c) 100,000 names.
#      Targets: <= 25 ns, no slowdown on 2 threads; >= 3 M, 2 M, 1.5 M lines/s clean in
#      (a), (b), (c); <= 30 MiB RSS with 100,000 names. 8 to 12 minutes.
#   6. bench/detect.sh: CPU per tick of the detection engine at 300 series (target
#      <= 50 us) and `arthamon detect` points/s on NAB's files (target >= 5 M/s per core).
#   7. bench/probes.sh: CPU of the quantum probes per round, as a share of one core
#      (target <= 0.01 %). About 10 s.
#   8. bench/dashboard.sh: the dashboard's transfer size and time to first chart in
#      headless Chromium (targets <= 200 KB, <= 500 ms); skipped without chromium.
# All run from the repository root and print their own results; each says whether its
# target is met. Exits 1 when a benchmark could not run (missing build), 0 otherwise.
#
# Environment: BUILD_DIR (default build), TICKS, those of bench/overhead.sh
# (DURATION, WARMUP, INTERVALS, P2P_PORTS, NODE_PID, NODE_NAME, COLLECTD_WRITE, KEEP_TMP)
# of bench/scrape.sh (SCRAPES, RENDERS, NODE_EXPORTER, NODE_EXPORTER_ARGS) and of
# bench/store.sh (STORE_SECONDS, STORE_INTERVAL_MS, STRESS_STEP, TSDB_MIX, PROMTOOL) and of
# bench/ingest.sh (SKETCH_MILLIONS, STEP, RATES, WARMUP, RETRY, CASES, SERVERS, SERVER_CPU,
# SENDER_CPU, STATSD_BLAST, NETDATA, NETDATA_RMEM_MAX).
set -u

cd "$(dirname "$0")/.." || exit 1
export BUILD_DIR=${BUILD_DIR:-build}
TICKS=${TICKS:-10000}
status=0

tick=$BUILD_DIR/bench/bench_tick
if [ -x "$tick" ]; then
    echo "== bench/tick: $TICKS ticks ($tick)"
    "$tick" -n "$TICKS" || { echo "bench/run: bench_tick failed" >&2; status=1; }
else
    echo "bench/run: no $tick; build first (make build, or set BUILD_DIR)" >&2
    status=1
fi

echo
echo "== bench/overhead: the daemon beside sadc and collectd, ${DURATION:-60} s per interval"
bench/overhead.sh || status=1

echo
echo "== bench/scrape: /metrics render time, then ${SCRAPES:-1000} scrapes beside node_exporter"
bench/scrape.sh || status=1

echo
echo "== bench/store: the history store beside Prometheus's TSDB, ${STORE_SECONDS:-150} s of snapshots under load"
bench/store.sh || status=1

echo
echo "== bench/ingest: the sketch, then StatsD lines/s beside netdata, ${STEP:-20} s per rate"
bench/ingest.sh || status=1

echo
echo "== bench/detect: detection CPU per tick at ${DETECT_SERIES:-300} series, arthamon detect points/s"
bench/detect.sh || status=1

echo
echo "== bench/probes: the quantum probes' CPU per round"
bench/probes.sh || status=1

echo
echo "== bench/dashboard: the dashboard's size and time to first chart"
bench/dashboard.sh || status=1
exit "$status"
