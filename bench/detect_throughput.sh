#!/usr/bin/env bash
# bench/detect_throughput: points per second of `arthamon detect` (CSV reading, the
# per-series detector and CSV writing together), measured in CPU time.
#
#   bench/detect_throughput.sh
#
# Builds nothing: the binary is $ARTHAMON_BIN (default $BUILD_DIR/arthamon, BUILD_DIR
# defaulting to build). The input is DETECT_ROWS rows (default 10,000,000) of
# `timestamp,value`: the rows of every file of the NAB development set
# ($NAB_DEV, default ../shared/datasets/nab-dev beside the repository) over and over,
# with timestamps that keep increasing (epoch seconds, one a minute); without that set, a
# synthetic series (a daily sine with noise and a spike now and then). The file is
# written to a temp dir, removed at the end (KEEP_TMP=1 keeps it).
#
# Prints the rows, the user + system CPU seconds (getrusage, via /usr/bin/time when
# present, else bash's `times`) of the best of RUNS detect runs (default 3), points/s
# of that run and of the median one, and the target (5 M/s).
# When $BUILD_DIR/bench/bench_detect_series exists (bench/detect_series.c), it also
# prints the cost of one detector update alone at table_bits 10 and 13.
# Exit status 0, 1 when the binary is missing or fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build}
bin=${ARTHAMON_BIN:-$build/arthamon}
rows=${DETECT_ROWS:-10000000}
nab=${NAB_DEV:-$root/../shared/datasets/nab-dev}

if [ ! -x "$bin" ]; then
    echo "detect_throughput: no binary at $bin (set ARTHAMON_BIN or BUILD_DIR)" >&2
    exit 1
fi
case $rows in '' | *[!0-9]*)
    echo "detect_throughput: DETECT_ROWS must be a number" >&2
    exit 1
    ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/detect_throughput.XXXXXX")
cleanup() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

input=$tmp/input.csv
if [ -d "$nab/data" ]; then
    src="NAB dev rows, repeated"
    find "$nab/data" -name '*.csv' | LC_ALL=C sort | while read -r f; do
        tail -n +2 "$f" | cut -d, -f2 | tr -d '\r'
    done >"$tmp/values"
    awk -v rows="$rows" 'NR == FNR { v[n++] = $0; next }
        END {
            print "timestamp,value"
            for (i = 0; i < rows; i++)
                printf "%d,%s\n", 1400000000 + 60 * i, v[i % n]
        }' "$tmp/values" /dev/null >"$input"
else
    src="synthetic series"
    awk -v rows="$rows" 'BEGIN {
            srand(1)
            print "timestamp,value"
            for (i = 0; i < rows; i++) {
                x = 50 + 10 * sin(6.283185307179586 * i / 1440) + rand() - 0.5
                if (i % 9973 == 0)
                    x += 40
                printf "%d,%.3f\n", 1400000000 + 60 * i, x
            }
        }' >"$input"
fi

# CPU seconds (user + system) of one run of "$@"
cpu_seconds() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >/dev/null
        awk '{ printf "%.3f", $1 + $2 }' "$tmp/time"
    else
        # bash's `times` in a subshell: its children's user and system time
        (
            "$@" >/dev/null
            times
        ) | awk 'NR == 2 {
            split($1, u, /[ms]/); split($2, s, /[ms]/)
            printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2]
        }'
    fi
}

# RUNS runs (default 3): CPU time on a shared machine only ever grows with the
# neighbours' load, so the least of them is the code's own cost; the median is printed too
runs=${RUNS:-3}
case $runs in '' | *[!0-9]* | 0)
    echo "detect_throughput: RUNS must be a number >= 1" >&2
    exit 1
    ;;
esac
: >"$tmp/secs"
for _ in $(seq "$runs"); do
    if ! secs=$(cpu_seconds "$bin" detect --input "$input" --output "$tmp/out.csv"); then
        echo "detect_throughput: $bin detect failed" >&2
        exit 1
    fi
    echo "$secs" >>"$tmp/secs"
    out_rows=$(($(wc -l <"$tmp/out.csv") - 1))
    if [ "$out_rows" != "$rows" ]; then
        echo "detect_throughput: $out_rows output rows for $rows input rows" >&2
        exit 1
    fi
done
sort -n "$tmp/secs" | awk -v r="$rows" -v src="$src" '{ s[NR] = $1 }
    END {
        best = s[1]; med = s[int((NR + 1) / 2)]
        rate = best > 0 ? r / best : 0
        mrate = med > 0 ? r / med : 0
        verdict = rate >= 5e6 ? "met" : "NOT met"
        printf "detect: %d rows (%s), best of %d runs %.3f s CPU: %.2f M points/s (median %.2f M/s; target >= 5 M/s: %s)\n",
            r, src, NR, best, rate / 1e6, mrate / 1e6, verdict
    }'

series_bench=$build/bench/bench_detect_series
if [ -x "$series_bench" ]; then
    "$series_bench"
fi
