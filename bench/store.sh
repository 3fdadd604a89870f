#!/usr/bin/env bash
# bench/store: what the history store costs (BUILD_DIR/bench/bench_store), beside
# Prometheus's TSDB on the same samples.
#
#   bench/store.sh                     (make bench runs it after bench/scrape.sh)
#
# In one run, in a temp dir (removed at the end):
#   1. in the background, the tsdb-mix data sets (TSDB_MIX/gen_openmetrics.py: 200 series
#      x 17,280 samples at 5 s, and the same with --jitter-ms 50) and Prometheus's figures
#      on them: `promtool tsdb create-blocks-from openmetrics`, then tsdb_stats.py;
#   2. meanwhile, STORE_SECONDS s (default 150) of this host's snapshots from the real sampler,
#      one every STORE_INTERVAL_MS (default 100), while stress-ng cycles a varied load: cpu, vm,
#      hdd, sock, each for STRESS_STEP s (default 5), then as long idle; the background
#      work of 1 runs beside it (more load that varies);
#   3. the recording as OpenMetrics with timestamps (bench_store export), through promtool
#      and tsdb_stats.py too;
#   4. bench_store run, once the background work is done: bytes per sample of the store
#      on the recording and of the codec on the tsdb-mix sets, with Prometheus's figures
#      and the ratios; CPU time per append; block decode speed; a 30-day query. Each
#      figure is printed with its target and whether it is met (see bench/store.c).
# About 5 minutes on 2 cores.
#
# Exit status 0 (the verdicts are printed), 1 when bench_store is missing or fails.
# Without stress-ng (scripts/install-deps.sh bench) the host is recorded as it is, with a
# message; without promtool (Debian's prometheus) or the tsdb-mix tool the Prometheus
# figures, or the (b) data sets, are skipped with a message.
#
# Environment: BUILD_DIR (default build), STORE_SECONDS, STORE_INTERVAL_MS, STRESS_STEP, TSDB_MIX
# (default ../shared/tools/tsdb-mix beside the repository), PROMTOOL (default promtool),
# KEEP_TMP=1 (keep the temp dir). Interrupted (INT/TERM), it stops everything it started
# and exits 130.
set -u

cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh

BUILD_DIR=${BUILD_DIR:-build}
BENCH=$BUILD_DIR/bench/bench_store
STORE_SECONDS=${STORE_SECONDS:-150}
STORE_INTERVAL_MS=${STORE_INTERVAL_MS:-100}
STRESS_STEP=${STRESS_STEP:-5}
TSDB_MIX=${TSDB_MIX:-$(cd .. && pwd)/shared/tools/tsdb-mix}
PROMTOOL=${PROMTOOL:-promtool}
PY=/usr/bin/python3

say() { echo "bench/store: $*"; }
warn() { echo "bench/store: $*" >&2; }

if [ ! -x "$BENCH" ]; then
    warn "no $BENCH; build first (make build, or set BUILD_DIR)"
    exit 1
fi
for v in STORE_SECONDS STORE_INTERVAL_MS STRESS_STEP; do
    case "${!v}" in '' | *[!0-9]* | 0) warn "$v must be a positive integer"; exit 2 ;; esac
done
have_mix=1 have_prom=1 have_stress=1
if [ ! -f "$TSDB_MIX/gen_openmetrics.py" ] || [ ! -f "$TSDB_MIX/tsdb_stats.py" ] || [ ! -x "$PY" ]; then
    have_mix=0 have_prom=0
    warn "no $TSDB_MIX/gen_openmetrics.py and tsdb_stats.py (or no $PY): the tsdb-mix data sets" \
        "and the Prometheus figures are skipped"
elif ! command -v "$PROMTOOL" >/dev/null 2>&1; then
    have_prom=0
    warn "$PROMTOOL not found (apt-get install prometheus): no Prometheus figures"
fi
if ! command -v stress-ng >/dev/null 2>&1; then
    have_stress=0
    warn "stress-ng not found (apt-get install stress-ng): the host is recorded without load"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/arthamon-store.XXXXXX") || exit 1
BG_PID="" CYCLE_PID="" # the subshells started here, stopped by pid on exit (with their steps)


# step NAME CMD...: runs CMD as a child whose pid is in $TMP/NAME.pid while it runs (so
# that a trap can stop it, and the wait is interruptible); its exit status
step() {
    local name=$1 p rc
    shift
    "$@" &
    p=$!
    echo "$p" >"$TMP/$name.pid"
    wait "$p"
    rc=$?
    rm -f "$TMP/$name.pid"
    return "$rc"
}

# stop_group PID NAME: a subshell, then the child it runs as a step NAME
stop_group() {
    local p
    [ -n "$1" ] && stop_pids -t 50 "$1"
    p=$(cat "$TMP/$2.pid" 2>/dev/null)
    [ -n "$p" ] && stop_pids -t 50 "$p"
    rm -f "$TMP/$2.pid"
}

# the load cycle and the stress-ng it runs now
stop_cycle() {
    [ -n "${CYCLE_PID:-}" ] || return 0
    stop_group "$CYCLE_PID" stress
    CYCLE_PID=""
}

# shellcheck disable=SC2317 # run by the traps
cleanup() {
    trap - EXIT INT TERM
    stop_cycle
    [ -n "${BG_PID:-}" ] && stop_group "$BG_PID" bg
    stop_group "" fg
    tmp_done
}
trap cleanup EXIT
trap 'warn "interrupted"; exit 130' INT TERM

# prom_fig STEP NAME FILE DIR: promtool's blocks of the OpenMetrics FILE in DIR, then
# "NAME=BLOCK,CHUNKS,SAMPLES" (bytes per sample of the whole blocks and of the chunks)
# into $TMP/NAME.prom; the import's output in $TMP/NAME.promtool. Runs as step STEP.
prom_fig() {
    local st=$1
    shift
    step "$st" "$PROMTOOL" tsdb create-blocks-from openmetrics "$2" "$3" >"$TMP/$1.promtool" 2>&1 || {
        warn "promtool failed on $2: $(tail -n 3 "$TMP/$1.promtool")"
        return 1
    }
    step "$st" "$PY" "$TSDB_MIX/tsdb_stats.py" "$3" --json "$TMP/$1.json" >/dev/null &&
        "$PY" -c 'import json, sys
t = json.load(open(sys.argv[1]))["total"]
print("%s=%s,%s,%s" % (sys.argv[2], t["block_bytes_per_sample"], t["chunk_bytes_per_sample"],
                       t["samples"]))' "$TMP/$1.json" "$1" >"$TMP/$1.prom"
    rm -rf "$3"
}

say "$(nproc) CPUs, kernel $(uname -r); $BENCH; temp dir $TMP"

# ---- 1. the tsdb-mix sets and Prometheus on them, in the background
if [ "$have_mix" = 1 ]; then
    (
        step bg "$PY" "$TSDB_MIX/gen_openmetrics.py" "$TMP/mix.om" >/dev/null &&
            step bg "$PY" "$TSDB_MIX/gen_openmetrics.py" "$TMP/mixj.om" --jitter-ms 50 >/dev/null &&
            touch "$TMP/mix.ok" &&
            if [ "$have_prom" = 1 ]; then
                prom_fig bg b "$TMP/mix.om" "$TMP/prom-b"
                prom_fig bg bj "$TMP/mixj.om" "$TMP/prom-bj"
            fi
    ) &
    BG_PID=$!
fi

# ---- 2. the host's snapshots under a varied load
if [ "$have_stress" = 1 ]; then
    (
        loads=("--cpu 2 --cpu-load 80" "--vm 1 --vm-bytes 256m" "--hdd 1 --hdd-bytes 64m"
            "--sock 1" "")
        i=0
        while :; do
            s=${loads[i % ${#loads[@]}]}
            if [ -n "$s" ]; then
                # shellcheck disable=SC2086 # s: several options
                step stress stress-ng $s --timeout "${STRESS_STEP}s" --temp-path "$TMP" --quiet \
                    >/dev/null 2>&1
            else
                sleep "$STRESS_STEP"
            fi
            i=$((i + 1))
        done
    ) &
    CYCLE_PID=$!
    say "recording ${STORE_SECONDS} s of snapshots every ${STORE_INTERVAL_MS} ms; stress-ng cycles cpu, vm," \
        "hdd, sock, idle, ${STRESS_STEP} s each"
else
    say "recording ${STORE_SECONDS} s of snapshots every ${STORE_INTERVAL_MS} ms, no load"
fi
if ! step fg "$BENCH" record -o "$TMP/rec.txt" -d "$STORE_SECONDS" -i "$STORE_INTERVAL_MS"; then
    warn "bench_store record failed"
    exit 1
fi
stop_cycle

# ---- 3. the recording through promtool
PROM_ARGS=()
step fg "$BENCH" export -r "$TMP/rec.txt" -o "$TMP/host.om" >/dev/null || {
    warn "bench_store export failed"
    exit 1
}
if [ "$have_prom" = 1 ] && prom_fig fg a "$TMP/host.om" "$TMP/prom-a"; then
    PROM_ARGS+=(--prom "$(cat "$TMP/a.prom")")
fi
rm -f "$TMP/host.om"

# ---- 4. everything else, once the background work is done
MIX_ARGS=()
if [ "$have_mix" = 1 ]; then
    say "waiting for the tsdb-mix sets and promtool"
    wait "$BG_PID"
    BG_PID=""
    if [ -f "$TMP/mix.ok" ]; then
        MIX_ARGS=(--mix "$TMP/mix.om" --mix-jitter "$TMP/mixj.om")
    else
        warn "gen_openmetrics.py failed: the tsdb-mix data sets are skipped"
    fi
    for k in b bj; do
        [ -s "$TMP/$k.prom" ] && PROM_ARGS+=(--prom "$(cat "$TMP/$k.prom")")
    done
fi
echo
mkdir -p "$TMP/work"
if ! step fg "$BENCH" run -r "$TMP/rec.txt" -w "$TMP/work" "${MIX_ARGS[@]}" "${PROM_ARGS[@]}"; then
    warn "bench_store run failed"
    exit 1
fi
exit 0
