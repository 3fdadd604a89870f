#!/bin/sh
# Runs every libFuzzer target of a build made with -DARTHAMON_FUZZ=ON (make fuzz).
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh BUILD_DIR [TARGET...]
#
# Each BUILD_DIR/fuzz/fuzz_* binary (not the *_replay ones, which ctest runs) is
# run for FUZZ_SECONDS (default 300) over two corpus directories: a writable
# scratch one, BUILD_DIR/fuzz/corpus/TARGET, first (libFuzzer writes the inputs
# it finds into the first directory given, so the checked-in corpus stays as it
# is) and the checked-in seeds, fuzz/corpus/TARGET, second. fuzz/TARGET.dict is
# passed as the dictionary when it exists. Crashes, leaks, timeouts and
# out-of-memory inputs land in BUILD_DIR/fuzz/crashes/TARGET/, the full log in
# BUILD_DIR/fuzz/logs/TARGET.log. One summary line per target; exits 1 if any
# target failed (reproduce with: BUILD_DIR/fuzz/TARGET ARTIFACT), 2 on misuse.
#
# Environment: FUZZ_SECONDS, FUZZ_MAX_LEN (overrides the per-target input size
# limit), FUZZ_ARGS (extra libFuzzer flags). Runs one target at a time; prefix
# with `nice -n 19` on a shared machine.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
if [ -z "$build" ] || [ ! -d "$build/fuzz" ]; then
    echo "usage: FUZZ_SECONDS=300 $0 BUILD_DIR [TARGET...]" >&2
    echo "  BUILD_DIR must be configured with CC=clang -DARTHAMON_FUZZ=ON and built" >&2
    exit 2
fi
shift
build=$(cd "$build" && pwd)
seconds=${FUZZ_SECONDS:-300}
case $seconds in
'' | *[!0-9]*)
    echo "$0: FUZZ_SECONDS must be a whole number of seconds, got '$seconds'" >&2
    exit 2
    ;;
esac

# sanitizer reports must end the run with an artifact, whatever the caller's environment
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

if [ $# -gt 0 ]; then
    targets=$*
else
    targets=
    for bin in "$build"/fuzz/fuzz_*; do
        name=${bin##*/}
        case $name in
        *_replay | *.*) continue ;;
        esac
        [ -f "$bin" ] && [ -x "$bin" ] && targets="$targets $name"
    done
fi
if [ -z "$targets" ]; then
    echo "$0: no fuzz targets in $build/fuzz (configure with CC=clang -DARTHAMON_FUZZ=ON)" >&2
    exit 2
fi

failed=0
for t in $targets; do
    bin=$build/fuzz/$t
    if [ ! -x "$bin" ]; then
        echo "$t: FAILED (no binary $bin)"
        failed=1
        continue
    fi
    # procfs and sysfs files are a few KB; a configuration file may be larger
    case $t in
    fuzz_config) max_len=16384 ;;
    fuzz_procfs) max_len=8192 ;;
    fuzz_query | fuzz_http_target) max_len=8192 ;; # past HTTPQ_MAX_TARGET
    fuzz_journal) max_len=16384 ;;                  # records of a few KiB
    fuzz_snapshot_text) max_len=8192 ;;             # a key and a value past SNAPSHOT_TEXT_MAX
    fuzz_statsd) max_len=8192 ;;                    # a DogStatsD client's datagram, many lines
    *) max_len=4096 ;;
    esac
    max_len=${FUZZ_MAX_LEN:-$max_len}
    scratch=$build/fuzz/corpus/$t
    crashes=$build/fuzz/crashes/$t
    logs=$build/fuzz/logs
    seeds=$root/fuzz/corpus/$t
    dict=$root/fuzz/$t.dict
    mkdir -p "$scratch" "$crashes" "$logs"
    set -- -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/"
    [ -f "$dict" ] && set -- "$@" -dict="$dict"
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    set -- "$@" ${FUZZ_ARGS:-} "$scratch"
    [ -d "$seeds" ] && set -- "$@" "$seeds"

    before=$(find "$crashes" -type f | wc -l)
    echo "$t: fuzzing for ${seconds}s (log: $logs/$t.log)"
    "$bin" "$@" >"$logs/$t.log" 2>&1
    rc=$?
    after=$(find "$crashes" -type f | wc -l)

    # the last status line: "#123 DONE cov: 456 ft: 789 corp: 12/3Kb ..."
    status=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -n 1)
    runs=$(grep -E '^stat::number_of_executed_units:' "$logs/$t.log" | tail -n 1 |
        sed 's/.*: *//')
    [ -n "$runs" ] || runs=$(printf '%s\n' "$status" | sed -n 's/^#\([0-9]*\).*/\1/p')
    cov=$(printf '%s\n' "$status" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$status" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$status" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
    new=$((after - before))
    if [ $rc -eq 0 ] && [ $new -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc)"
        failed=1
    fi
    echo "$t: $result runs=${runs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?}" \
        "crashes=$new"
    if [ "$result" != ok ]; then
        # what went wrong, and where in our code
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|ALARM)' "$logs/$t.log" |
            head -n 3 | sed 's/^/    /'
        grep -E "^ +#[0-9]+ 0x[0-9a-f]+ in .* $root/" "$logs/$t.log" | head -n 3 |
            sed "s|^ *#[0-9]* 0x[0-9a-f]* in |    at |; s|$root/||"
        # shellcheck disable=SC2012 # artifact names are crash-<sha1>
        ls -t "$crashes" | head -n "$((new > 0 ? new : 1))" |
            sed "s|^|    reproduce: $bin $crashes/|"
    fi
done
exit $failed
