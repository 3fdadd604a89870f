#!/usr/bin/env bash
# bench/gpu_check: the GPU figures against nvidia-smi, on a host with NVIDIA GPUs.
#
#   bench/gpu_check.sh
#
# Not part of the test suite (which has no GPU and uses the NVML stand-in,
# tests/stand-ins/nvml_stand_in.c). Unattended, in about 1-3 minutes:
#   1. builds arthamon (cmake, the binary only) in $BUILD_DIR unless $ARTHAMON is given;
#      when cmake cannot find the libraries, runs scripts/install-deps.sh build once;
#   2. compiles bench/gpu_load.cu with nvcc (PATH or /usr/local/cuda/bin): on every GPU
#      it allocates $LOAD_MIB MiB and keeps the SMs busy for $LOAD_S seconds;
#   3. compares, per GPU, `arthamon snapshot --json` with
#        nvidia-smi --query-gpu=index,uuid,utilization.gpu,memory.used,memory.total,
#                               temperature.gpu,power.draw --format=csv,noheader,nounits
#      read just before and just after it: once idle, then $ROUNDS times under the load.
#      A figure passes when it lies within the two nvidia-smi readings widened by the
#      tolerance: 5 points for utilisation and temperature, 2 % for memory and power
#      (at least 1 MiB: both round to whole MiB). Also checks that gpu (the aggregate)
#      follows the documented rules from gpus, and that the UUIDs are nvidia-smi's.
# Prints every reading and PASS/FAIL per field; exit status 0 when all pass, 1 when one
# fails, 2 when it cannot run (no nvidia-smi, no GPU, no build).
#
# Environment: BUILD_DIR (default build-gpucheck), ARTHAMON (a built binary: no build),
# LOAD_S (default 30), LOAD_MIB (default 8192), ROUNDS (default 3), KEEP_TMP=1.
set -u

cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

BUILD_DIR=${BUILD_DIR:-build-gpucheck}
LOAD_S=${LOAD_S:-30}
LOAD_MIB=${LOAD_MIB:-8192}
ROUNDS=${ROUNDS:-3}
PY=$(command -v python3 || true)
PIDS=()

say() { echo "bench/gpu_check: $*"; }
die() {
    echo "bench/gpu_check: $*" >&2
    exit 2
}

command -v nvidia-smi >/dev/null 2>&1 || die "no nvidia-smi: not a host with the NVIDIA driver"
nvidia-smi -L >/dev/null 2>&1 || die "nvidia-smi sees no GPU: $(nvidia-smi -L 2>&1 | head -n 3)"
[ -n "$PY" ] || die "python3 is needed to read the JSON"
TMP=$(mktemp -d /tmp/am-gpucheck-XXXXXX)
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

# ---- 1. arthamon ----
if [ -z "${ARTHAMON:-}" ]; then
    ARTHAMON=$BUILD_DIR/arthamon
    jobs=$(nproc 2>/dev/null || echo 4)
    configure() {
        cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARTHAMON_TESTS=OFF \
            >"$TMP/cmake.log" 2>&1
    }
    if ! configure; then
        say "cmake failed (missing libraries?); trying scripts/install-deps.sh build"
        scripts/install-deps.sh build >"$TMP/deps.log" 2>&1 || tail -n 5 "$TMP/deps.log"
        configure || {
            tail -n 20 "$TMP/cmake.log"
            die "cannot configure the build (see above)"
        }
    fi
    t0=$(date +%s)
    cmake --build "$BUILD_DIR" --target arthamon_bin -j"$jobs" >"$TMP/build.log" 2>&1 || {
        tail -n 30 "$TMP/build.log"
        die "the build failed (see above)"
    }
    say "built $ARTHAMON in $(($(date +%s) - t0)) s"
fi
[ -x "$ARTHAMON" ] || die "no $ARTHAMON"
cat >"$TMP/c.yaml" <<YAML
agent: {console_summary: false, data_dir: $TMP}
monitoring:
  logging: {level: info, output_dir: $TMP}
YAML

# ---- 2. the load ----
NVCC=$(command -v nvcc || true)
[ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc
LOAD=""
if [ -n "$NVCC" ]; then
    if "$NVCC" -O2 -arch=native -o "$TMP/gpu_load" bench/gpu_load.cu >"$TMP/nvcc.log" 2>&1 ||
        "$NVCC" -O2 -o "$TMP/gpu_load" bench/gpu_load.cu >>"$TMP/nvcc.log" 2>&1; then
        LOAD=$TMP/gpu_load
    else
        tail -n 10 "$TMP/nvcc.log"
        say "could not compile bench/gpu_load.cu: only the idle comparison"
    fi
else
    say "no nvcc (PATH, /usr/local/cuda/bin): only the idle comparison"
fi

# ---- 3. the comparison ----
SMI_FIELDS=index,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw
smi() { nvidia-smi --query-gpu=$SMI_FIELDS --format=csv,noheader,nounits; }

failures=0
# round LABEL: one comparison, nvidia-smi before and after the snapshot
round() {
    local label=$1 rc
    smi >"$TMP/smi1.csv" 2>&1 || { cat "$TMP/smi1.csv"; die "nvidia-smi failed"; }
    "$ARTHAMON" snapshot -c "$TMP/c.yaml" --json --interval 200 >"$TMP/snap.json" 2>"$TMP/snap.err"
    rc=$?
    smi >"$TMP/smi2.csv" 2>&1 || { cat "$TMP/smi2.csv"; die "nvidia-smi failed"; }
    [ $rc -eq 0 ] || { cat "$TMP/snap.err"; die "arthamon snapshot failed ($rc)"; }
    "$PY" - "$label" "$TMP/smi1.csv" "$TMP/smi2.csv" "$TMP/snap.json" <<'PY'
import json, sys

label, smi1, smi2, snap = sys.argv[1:]
FIELDS = ["index", "uuid", "utilization.gpu", "memory.used", "memory.total", "temperature.gpu",
          "power.draw"]
# nvidia-smi field -> (arthamon per-GPU field, tolerance kind)
CHECKS = [("utilization.gpu", "usage_percent", "points"),
          ("memory.used", "memory_used_mb", "mib"),
          ("memory.total", "memory_total_mb", "mib"),
          ("temperature.gpu", "temperature", "points"),
          ("power.draw", "power_watts", "percent")]


def read_smi(path):
    rows = {}
    for line in open(path):
        parts = [p.strip() for p in line.strip().split(",")]
        if len(parts) != len(FIELDS):
            continue
        row = dict(zip(FIELDS, parts))
        for k in FIELDS[2:]:
            try:
                row[k] = float(row[k])
            except ValueError:
                row[k] = None  # "[N/A]", "[Not Supported]"
        rows[int(row["index"])] = row
    return rows


a, b = read_smi(smi1), read_smi(smi2)
s = json.load(open(snap))
bad = 0
print(f"--- {label}")
if not a:
    print("FAIL nvidia-smi gave no GPU row")
    sys.exit(1)
if s.get("gpu") is None or not s.get("gpus"):
    print(f"FAIL arthamon: gpu {s.get('gpu')}, gpus {s.get('gpus')} (see its log above)")
    sys.exit(1)
mine = {g["index"]: g for g in s["gpus"]}
for idx in sorted(a):
    g = mine.get(idx)
    if g is None:
        print(f"FAIL GPU {idx}: not in arthamon's gpus")
        bad += 1
        continue
    ok_uuid = g["uuid"] == a[idx]["uuid"]
    print(f"{'PASS' if ok_uuid else 'FAIL'} GPU {idx} uuid: arthamon {g['uuid']}, "
          f"nvidia-smi {a[idx]['uuid']}")
    bad += not ok_uuid
    for smi_name, field, kind in CHECKS:
        lo_hi = [r[smi_name] for r in (a[idx], b.get(idx, a[idx])) if r[smi_name] is not None]
        v = g.get(field)
        if not lo_hi:
            print(f"SKIP GPU {idx} {field}: nvidia-smi gives no {smi_name}; arthamon {v}")
            continue
        lo, hi = min(lo_hi), max(lo_hi)
        if kind == "points":
            tol_lo = tol_hi = 5.0
            tol = "±5"
        elif kind == "mib":
            tol_lo, tol_hi = max(0.02 * lo, 1.0), max(0.02 * hi, 1.0)
            tol = "±2 % (≥ 1 MiB)"
        else:
            tol_lo, tol_hi = 0.02 * lo, 0.02 * hi
            tol = "±2 %"
        ok = v is not None and lo - tol_lo <= v <= hi + tol_hi
        bad += not ok
        smi_txt = f"{lo:g}" if lo == hi else f"{lo:g} .. {hi:g}"
        print(f"{'PASS' if ok else 'FAIL'} GPU {idx} {field}: arthamon {v}, "
              f"nvidia-smi {smi_name} {smi_txt} ({tol})")

# the aggregate, from the per-GPU figures by the documented rules
gs, agg = s["gpus"], s["gpu"]


def vals(f):
    return [g[f] for g in gs if g.get(f) is not None]


def close(x, y):
    return (x is None and y is None) or (x is not None and y is not None and abs(x - y) <= 0.051)


rules = {
    "usage_percent": sum(vals("usage_percent")) / len(vals("usage_percent")) if vals("usage_percent") else None,
    "memory_used_mb": sum(vals("memory_used_mb")) if len(vals("memory_used_mb")) == len(gs) else None,
    "memory_total_mb": sum(vals("memory_total_mb")) if len(vals("memory_total_mb")) == len(gs) else None,
    "temperature": max(vals("temperature")) if vals("temperature") else None,
    "power_watts": sum(vals("power_watts")) if len(vals("power_watts")) == len(gs) else None,
}
for f, want in rules.items():
    # rounding: the aggregate is rounded once, the per-GPU figures each
    tol_ok = close(agg.get(f), want) or (want is not None and agg.get(f) is not None and
                                        abs(agg[f] - want) <= 0.5 * len(gs))
    bad += not tol_ok
    print(f"{'PASS' if tol_ok else 'FAIL'} gpu.{f} (aggregate): {agg.get(f)}, from gpus {want}")
print(f"note: gpu.tensor_core_util {agg.get('tensor_core_util')} (null: DCGM not read), "
      f"gpu.core_util {agg.get('core_util')}")
sys.exit(1 if bad else 0)
PY
    [ $? -eq 0 ] || failures=$((failures + 1))
}

round "idle"
grep -E ' gpu [a-z_]+\.c:' "$TMP/snap.err" | sed 's/^/arthamon log: /'
if [ -n "$LOAD" ]; then
    "$LOAD" "$LOAD_S" "$LOAD_MIB" >"$TMP/load.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 300); do
        grep -q "busy for" "$TMP/load.log" && break
        alive "${PIDS[0]}" || break
        sleep 0.1
    done
    if grep -q "busy for" "$TMP/load.log"; then
        say "$(cat "$TMP/load.log")"
        sleep 5 # utilisation, clocks and power settle
        for r in $(seq "$ROUNDS"); do
            round "under load, round $r of $ROUNDS"
            [ "$r" -lt "$ROUNDS" ] && sleep 3
        done
        stop_pids "${PIDS[@]}"
    else
        cat "$TMP/load.log"
        say "the load did not start: FAIL"
        failures=$((failures + 1))
    fi
fi
if [ "$failures" -eq 0 ]; then
    say "PASS: every figure within tolerance of nvidia-smi"
    exit 0
fi
say "FAIL: $failures round(s) with a figure out of tolerance"
exit 1
