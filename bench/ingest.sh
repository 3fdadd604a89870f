#!/usr/bin/env bash
# bench/ingest: what taking node metrics in costs: the recording API's histogram (the
# quantile sketch) and the StatsD/DogStatsD server, beside Debian's netdata StatsD server
# driven by the same sender in the same run.
#
#   bench/ingest.sh                    (make bench runs it after bench/store.sh)
#
# Printed, in one run:
#   1. CPU ns per histogram observation (BUILD_DIR/bench/bench_ingest_sketch -n
#      SKETCH_MILLIONS): 1 thread, and 2 threads recording into the same sketch. Targets
#      (printed by it): <= 25 ns, and no slowdown from 1 to 2 threads (+10 % for noise).
#   2. the loopback ceiling: statsd-blast's udp_sink (a receiver that only counts) on
#      SERVER_CPU, the sender unthrottled on SENDER_CPU, 20 lines per datagram, STEP s.
#   3. StatsD lines/s processed with no loss on one core, for arthamon's server and for
#      netdata's, in three cases, all with 20 lines per datagram (statsd_blast -l 20;
#      its default mix of counters, gauges and timers):
#        (a) 100 distinct names;
#        (b) the same with three DogStatsD tags on every line (-t a:1,b:2,c:3);
#        (c) 100,000 distinct names.
#      Each server is started afresh for each case, pinned to SERVER_CPU (taskset, all
#      its threads), and warmed up for WARMUP s at the first rate (every name is then
#      known to it). Then a fixed-rate step (statsd_blast -r RATE -d STEP, pinned to
#      SENDER_CPU) for each rate of RATES in turn, up to the first that is not clean.
#      A step is clean when:
#        no datagram was dropped: the drops column of /proc/net/udp for the server's
#          socket(s) on its port did not move. `Udp: RcvbufErrors` of /proc/net/snmp is
#          shown beside it: it counts the whole network namespace, and every overflow
#          of the server's socket is in both, so when it moves further than the
#          socket's drops another socket dropped: the step says so (the machine is
#          not quiet) and a note closes the summary;
#        the server kept up: its socket's receive queue (rx_queue of /proc/net/udp) is
#          empty within 1 s of the sender's end (a large receive buffer can otherwise
#          hide a server slower than the rate for a whole step);
#        the sender held the rate (>= 99 % of it; else the step says "sender short",
#          the machine's limit and not the server's, and the case stops there).
#      With RETRY=1 the first rate that is not clean (drops, behind or the sender short)
#      is run once more; when that run is clean the rate counts, marked "clean on
#      retry" (statsd-blast's README counts a rate as clean only when every run that
#      tries it is; RETRY=0, the default, keeps to that). Figures per step: the rate
#      the sender held, drops (both counters), the server's CPU % of one core while
#      the sender ran (utime+stime of its thread group, fields 14 and 15 of
#      /proc/PID/stat), its VmRSS at the step's end; per case, VmHWM at its end.
#      Targets, arthamon: >= 3 M lines/s clean in (a), >= 2 M in (b), >= 1.5 M in (c),
#      and <= 30 MiB (VmHWM) with 100,000 names; "met" / "NOT met" is printed, netdata's
#      figures beside them, and the issue's reference figures for netdata.
# The servers:
#   arthamon  `arthamon run -c FILE`, FILE in the temp dir: 1 s sampling, logs at warn to
#             the temp dir, the dashboard on an ephemeral loopback port, and
#               statsd: {enabled: true, listen: "127.0.0.1:PORT", max_series: 200000,
#                        rcvbuf_bytes: 33554432}
#             What it logs about StatsD is shown after each case. A daemon that does not
#             bind the port within 10 s (one without that section) is reported as
#             "arthamon did not open its StatsD port", with its own words, and skipped.
#   netdata   Debian's `netdata -D -c FILE` (foreground, its own process), FILE in the
#             temp dir: every directory in the temp dir (stock config, plugins and
#             health dirs empty), web server, registry, health, ML and every plugin off
#             but statsd; [statsd] bind to = udp:127.0.0.1:PORT, defaults otherwise
#             (private charts for the first 1,000 metrics, dbengine storage in the temp
#             dir); normal scheduling (its default is nice 19, SCHED_BATCH). netdata has
#             no receive-buffer option but asks for a large SO_RCVBUF, which the kernel
#             caps at net.core.rmem_max: when that is below NETDATA_RMEM_MAX (default
#             33554432, as arthamon's rcvbuf_bytes) and writable (root), it is raised
#             while netdata binds its port and restored at once. The buffer each server
#             got (ss -m) is printed. A netdata that runs as a system service is
#             stopped for the run (and started again at the end), never enabled.
# Ports: free UDP ports on loopback below the ephemeral range. Two CPUs at least.
# 8 to 12 minutes with the defaults on 2 cores, depending on how far each server gets
# (at most about 16); STEP=3 RATES="1000000 2000000": under 2 minutes.
#
# Exit status 0 (the figures and verdicts are printed, a server that could not run is
# reported), 1 when the build is missing or the sender cannot be built (gcc and
# STATSD_BLAST/statsd_blast.c and udp_sink.c). Without netdata (scripts/install-deps.sh
# bench) its rows are skipped with a message.
#
# Environment: BUILD_DIR (default build; the binaries are BUILD_DIR/arthamon, or ARTHAMON,
# and BUILD_DIR/bench/bench_ingest_sketch), SKETCH_MILLIONS (default 50), STEP (s per
# rate, default 20), RATES (lines/s, default "500000 1000000 1500000 2000000 2500000
# 3000000 3500000"), WARMUP (s, default 3), RETRY (0|1), CASES (default "a b c"),
# SERVERS (default "arthamon netdata"), SERVER_CPU (default 1), SENDER_CPU (default 0),
# STATSD_BLAST (default ../shared/tools/statsd-blast beside the repository), NETDATA
# (default netdata), NETDATA_RMEM_MAX (0: leave rmem_max alone), KEEP_TMP=1 (keep the temp
# dir with configs and logs). Interrupted (INT/TERM), it stops everything it started,
# restores what it changed, and exits 130.
set -u

cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh

BUILD_DIR=${BUILD_DIR:-build}
ARTHAMON=${ARTHAMON:-$BUILD_DIR/arthamon}
SKETCH=$BUILD_DIR/bench/bench_ingest_sketch
SKETCH_MILLIONS=${SKETCH_MILLIONS:-50}
STEP=${STEP:-20}
RATES=${RATES:-500000 1000000 1500000 2000000 2500000 3000000 3500000}
WARMUP=${WARMUP:-3}
RETRY=${RETRY:-0}
CASES=${CASES:-a b c}
SERVERS=${SERVERS:-arthamon netdata}
SERVER_CPU=${SERVER_CPU:-1}
SENDER_CPU=${SENDER_CPU:-0}
STATSD_BLAST=${STATSD_BLAST:-$(cd .. && pwd)/shared/tools/statsd-blast}
NETDATA=${NETDATA:-netdata}
NETDATA_RMEM_MAX=${NETDATA_RMEM_MAX:-33554432}

LPD=20                # lines per datagram, every case
RCVBUF=33554432       # arthamon's statsd.rcvbuf_bytes
TARGET_A=3000000      # lines/s, arthamon, case (a)
TARGET_B=2000000      # case (b)
TARGET_C=1500000      # case (c)
TARGET_MIB=30         # VmHWM with 100,000 names

say() { echo "bench/ingest: $*"; }
warn() { echo "bench/ingest: $*" >&2; }

if [ ! -x "$SKETCH" ] || [ ! -x "$ARTHAMON" ]; then
    warn "no $SKETCH or $ARTHAMON; build first (make build, or set BUILD_DIR)"
    exit 1
fi
for v in SKETCH_MILLIONS STEP WARMUP; do
    case "${!v}" in '' | *[!0-9]* | 0) warn "$v must be a positive integer"; exit 2 ;; esac
done
for v in SERVER_CPU SENDER_CPU NETDATA_RMEM_MAX; do
    case "${!v}" in '' | *[!0-9]*) warn "$v must be a whole number"; exit 2 ;; esac
done
case "$RETRY" in 0 | 1) ;; *) warn "RETRY must be 0 or 1"; exit 2 ;; esac
for r in $RATES; do
    case "$r" in '' | *[!0-9]* | 0) warn "RATES must hold positive whole lines/s, got '$r'"; exit 2 ;; esac
done
# shellcheck disable=SC2086 # RATES: several words
RATES=$(printf '%s\n' $RATES | sort -n -u | tr '\n' ' ') # ascending, once each
[ -n "${RATES// /}" ] || { warn "RATES is empty"; exit 2; }
for c in $CASES; do
    case "$c" in a | b | c) ;; *) warn "CASES must hold a, b and/or c, got '$c'"; exit 2 ;; esac
done
for s in $SERVERS; do
    case "$s" in arthamon | netdata) ;; *) warn "SERVERS must hold arthamon and/or netdata"; exit 2 ;; esac
done
if [ "$SERVER_CPU" = "$SENDER_CPU" ]; then
    warn "SERVER_CPU and SENDER_CPU must differ"
    exit 2
fi

HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/arthamon-ingest.XXXXXX") || exit 1
PIDS=()           # everything started here, stopped by pid on exit
RMEM_RESTORE=""   # net.core.rmem_max to put back, while it is raised
RMEM_SAID=0
SERVICE_RESTART=0 # 1: the system's netdata service was stopped here, started again at the end

# shellcheck disable=SC2317 # run by the traps
cleanup() {
    trap - EXIT INT TERM
    [ ${#PIDS[@]} -gt 0 ] && stop_pids "${PIDS[@]}"
    rmem_restore
    if [ "$SERVICE_RESTART" = 1 ]; then
        say "starting the system's netdata service again"
        systemctl start netdata >/dev/null 2>&1 || warn "systemctl start netdata failed"
    fi
    tmp_done
}
trap cleanup EXIT
trap 'warn "interrupted"; exit 130' INT TERM

# lines/s as millions, 2 decimals
mega() { awk "BEGIN { printf \"%.2f\", $1 / 1e6 }" </dev/null; }

# forget PID: off the PIDS array (it was waited for)
forget() {
    local q keep=()
    for q in "${PIDS[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
    PIDS=("${keep[@]}")
}

# run CMD...: CMD as a child that a trap can stop (bash runs traps during `wait`, not
# during a foreground command); its exit status
run() {
    local p rc
    "$@" &
    p=$!
    PIDS+=("$p")
    wait "$p"
    rc=$?
    forget "$p"
    return "$rc"
}

nap() { run sleep "$1"; }

rmem_restore() {
    [ -n "$RMEM_RESTORE" ] || return 0
    echo "$RMEM_RESTORE" >/proc/sys/net/core/rmem_max 2>/dev/null ||
        warn "could not restore net.core.rmem_max to $RMEM_RESTORE"
    RMEM_RESTORE=""
}


# children_of PID: the processes whose parent is PID (field 4 of /proc/N/stat)
children_of() {
    local f s parent=$1
    for f in /proc/[0-9]*/stat; do
        { s=$(<"$f"); } 2>/dev/null || continue
        s=${s##*) }
        # shellcheck disable=SC2086
        set -- $s # $1 is field 3 (state), $2 field 4 (the parent)
        [ "$2" = "$parent" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
    return 0
}

# udp_sock PORT: "RX_QUEUE_BYTES DROPS" of the UDP sockets bound to PORT (summed), from
# /proc/net/udp and udp6; nothing when there is none
udp_sock() {
    local hex f _sl addr _rem _st txrx _r rx=0 drops=0 n=0 d
    hex=$(printf '%04X' "$1")
    for f in /proc/net/udp /proc/net/udp6; do
        [ -r "$f" ] || continue
        while read -r _sl addr _rem _st txrx _r _r _r _r _r _r _r d; do
            [ "${addr##*:}" = "$hex" ] || continue
            rx=$((rx + 16#${txrx#*:}))
            drops=$((drops + d))
            n=$((n + 1))
        done < <(tail -n +2 "$f")
    done
    [ "$n" -gt 0 ] && echo "$rx $drops"
}

# Udp: RcvbufErrors of /proc/net/snmp
rcvbuf_errors() {
    local -a head=() vals=()
    local line i
    while read -r line; do
        case "$line" in Udp:*)
            if [ ${#head[@]} -eq 0 ]; then read -ra head <<<"$line"; else read -ra vals <<<"$line"; fi
            ;;
        esac
    done </proc/net/snmp
    for i in "${!head[@]}"; do
        [ "${head[$i]}" = RcvbufErrors ] && { echo "${vals[$i]:-0}"; return 0; }
    done
    echo 0
}

# the receive buffer the kernel gave the socket on PORT (ss -m: rb), or "?"
sock_rb() {
    local rb
    rb=$(ss -ulnm "sport = :$1" 2>/dev/null | sed -n 's/.*skmem:([^)]*rb\([0-9]*\).*/\1/p' | head -n1)
    if [ -n "$rb" ]; then calc "$rb / 1048576"; else echo "?"; fi
}

# a free UDP port on loopback, below the ephemeral range (which the sender's socket uses)
free_port() {
    local p _
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 12000))
        [ -z "$(udp_sock "$p")" ] && { echo "$p"; return 0; }
    done
    return 1
}

# wait_port PID PORT: up to 10 s for PID to bind PORT; 1 if it dies or does not
wait_port() {
    local _
    for _ in $(seq 100); do
        [ -n "$(udp_sock "$2")" ] && return 0
        alive "$1" || return 1
        nap 0.1
    done
    return 1
}

# drain PORT TENTHS: up to TENTHS tenths of a second for the socket's receive queue to be
# empty; 0 when it is
drain() {
    local q rx _d
    for ((q = 0; q <= $2; q++)); do
        read -r rx _d < <(udp_sock "$1")
        [ "${rx:-0}" = 0 ] && return 0
        [ "$q" -lt "$2" ] && nap 0.1
    done
    return 1
}

# kv KEY LINE: the value of KEY=VALUE in LINE
kv() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<<"$2"; }

case_names() { if [ "$1" = c ]; then echo 100000; else echo 100; fi; }
case_title() {
    case "$1" in
    a) echo "(a) 100 names" ;;
    b) echo "(b) 100 names, 3 tags" ;;
    c) echo "(c) 100,000 names" ;;
    esac
}
# blast_args CASE: statsd_blast's options for the case (rate and duration apart)
blast_args() {
    echo "-l $LPD -k $(case_names "$1")"
    [ "$1" = b ] && echo "-t a:1,b:2,c:3"
}

ncpu=$(nproc 2>/dev/null || echo 1)
n_rates=$(wc -w <<<"$RATES")
say "$ncpu CPUs, kernel $(uname -r); temp dir $TMP"

# ---- 1. the sketch
echo
say "1. CPU ns per histogram observation ($SKETCH -n $SKETCH_MILLIONS)"
if ! run "$SKETCH" -n "$SKETCH_MILLIONS"; then
    warn "bench_ingest_sketch failed"
    exit 1
fi

# ---- the sender, built from its source at run time
echo
BLAST=$TMP/bin/statsd_blast
SINK=$TMP/bin/udp_sink
mkdir -p "$TMP/bin"
if ! command -v gcc >/dev/null 2>&1 || ! command -v taskset >/dev/null 2>&1; then
    warn "gcc or taskset (util-linux) not found: the StatsD figures cannot be measured"
    exit 1
fi
if [ ! -f "$STATSD_BLAST/statsd_blast.c" ] || [ ! -f "$STATSD_BLAST/udp_sink.c" ]; then
    warn "no $STATSD_BLAST/statsd_blast.c and udp_sink.c (set STATSD_BLAST): the StatsD" \
        "figures cannot be measured"
    exit 1
fi
if ! gcc -O2 -Wall -o "$BLAST" "$STATSD_BLAST/statsd_blast.c" >"$TMP/gcc.out" 2>&1 ||
    ! gcc -O2 -Wall -o "$SINK" "$STATSD_BLAST/udp_sink.c" >>"$TMP/gcc.out" 2>&1; then
    warn "statsd-blast did not build:"
    tail -n 20 "$TMP/gcc.out" >&2
    exit 1
fi
if [ "$ncpu" -lt 2 ] || ! taskset -c "$SERVER_CPU" true 2>/dev/null ||
    ! taskset -c "$SENDER_CPU" true 2>/dev/null; then
    warn "cannot pin the server to CPU $SERVER_CPU and the sender to CPU $SENDER_CPU (2 CPUs" \
        "at least; set SERVER_CPU, SENDER_CPU): the StatsD figures cannot be measured"
    exit 1
fi

have_netdata=0
case " $SERVERS " in *" netdata "*)
    ND_BIN=$(command -v "$NETDATA" 2>/dev/null || { [ -x /usr/sbin/netdata ] && echo /usr/sbin/netdata; })
    if [ -z "$ND_BIN" ]; then
        warn "netdata not found (apt-get install netdata, or scripts/install-deps.sh bench); its rows are skipped"
    else
        have_netdata=1
        # a netdata already running (the package's service) would share the CPUs
        for f in /proc/[0-9]*/comm; do
            [ "$(cat "$f" 2>/dev/null)" = netdata ] || continue
            p=${f#/proc/}
            p=${p%/comm}
            if [ -d /run/systemd/system ] && systemctl is-active --quiet netdata 2>/dev/null; then
                say "the system's netdata service runs (pid $p): stopping it for the run"
                if systemctl stop netdata >/dev/null 2>&1; then
                    SERVICE_RESTART=1
                else
                    warn "systemctl stop netdata failed: the figures are disturbed by it"
                fi
            else
                warn "a netdata runs already (pid $p), not started here: it shares the CPUs"
            fi
            break
        done
    fi
    ;;
esac
ss -V >/dev/null 2>&1 || warn "ss not found (iproute2): the receive buffers are not shown"

est=$((STEP + 2 + (WARMUP + 3 + n_rates * (STEP + 1)) * $(wc -w <<<"$CASES") * $(wc -w <<<"$SERVERS")))
say "StatsD: $LPD lines per datagram, server on CPU $SERVER_CPU, sender on CPU $SENDER_CPU," \
    "$STEP s per rate; rates (lines/s): $RATES; at most about $(((est + 59) / 60)) min"

# ---- 2. the loopback ceiling
echo
say "2. the loopback ceiling: udp_sink on CPU $SERVER_CPU, statsd_blast unthrottled, $LPD lines" \
    "per datagram, $STEP s"
CEILING=""
port=$(free_port) || { warn "no free UDP port"; exit 1; }
taskset -c "$SERVER_CPU" "$SINK" -p "$port" -R "$RCVBUF" -I 0 >"$TMP/sink.out" 2>"$TMP/sink.err" &
sink_pid=$!
PIDS+=("$sink_pid")
if wait_port "$sink_pid" "$port"; then
    run taskset -c "$SENDER_CPU" "$BLAST" -d "$STEP" -l "$LPD" -k 100 -q "127.0.0.1:$port" \
        >"$TMP/ceiling.out" 2>&1
    nap 0.5
    stop_pids "$sink_pid"
    s=$(tail -n 1 "$TMP/sink.out")
    b=$(tail -n 1 "$TMP/ceiling.out")
    if [ -n "$(kv rate_lines "$s")" ] && [ -n "$(kv rate_lines "$b")" ]; then
        CEILING=$(kv rate_lines "$s")
        say "  received $(mega "$CEILING") M lines/s ($(mega "$(kv rate_dgrams "$s")") M datagrams/s)," \
            "dropped $(kv drops "$s") datagrams; sent $(mega "$(kv rate_lines "$b")") M lines/s;" \
            "sink CPU $(printf '%.0f' "$(calc "($(kv cpu_user_s "$s") + $(kv cpu_sys_s "$s")) / $(kv elapsed_s "$b") * 100")") %"
    else
        warn "the ceiling was not measured: sender '$b', sink '$s'"
    fi
else
    warn "udp_sink did not open port $port: $(tail -n 3 "$TMP/sink.err")"
    stop_pids "$sink_pid"
fi

# ---- 3. the servers
# Per server and case (key SERVER:CASE): the best clean rate, the CPU % and RSS of its
# step, VmHWM at the case's end, and why the stepping stopped.
declare -A BEST=() BCPU=() BRSS=() HWM=() WHY=() RB=() STOP=()
ART_FAILED=""
SRV_PID=""
NOISY=0 # steps where another socket of the namespace dropped datagrams

# start_arthamon DIR PORT: the daemon, pinned; 0 once it has bound PORT
start_arthamon() {
    local dir=$1 port=$2
    mkdir -p "$dir/log" "$dir/data"
    cat >"$dir/arthamon.yaml" <<EOF
monitoring:
  sampling_interval_ms: 1000
  logging: {level: warn, output_dir: "$dir/log", stdout: false}
visualization: {dashboard_port: 0}
agent: {console_summary: false, data_dir: "$dir/data"}
statsd:
  enabled: true
  listen: "127.0.0.1:$port"
  max_series: 200000
  rcvbuf_bytes: $RCVBUF
EOF
    taskset -c "$SERVER_CPU" "$ARTHAMON" run -c "$dir/arthamon.yaml" >"$dir/arthamon.out" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    if ! wait_port "$SRV_PID" "$port"; then
        ART_FAILED="arthamon did not open its StatsD port 127.0.0.1:$port"
        warn "$ART_FAILED; it said:"
        { tail -n 10 "$dir/arthamon.out"; tail -n 10 "$dir/log/"*.log 2>/dev/null; } | sed 's/^/    /' >&2
        stop_pids "$SRV_PID"
        SRV_PID=""
        return 1
    fi
    return 0
}

# start_netdata DIR PORT: netdata in the foreground, pinned; 0 once it has bound PORT
start_netdata() {
    local dir=$1 port=$2 user p cur
    mkdir -p "$dir/stock" "$dir/plugins.d" "$dir/health.d" "$dir/cache" "$dir/lib" "$dir/log"
    touch "$dir/.opt-out-from-anonymous-statistics"
    user=$(id -un)
    {
        echo "[global]"
        echo "	run as user = $user"
        echo "	hostname = arthamon-bench"
        echo "	process scheduling policy = other"
        echo "	process nice level = 0"
        echo "[directories]"
        for p in config:. "stock config:stock" cache:cache lib:lib log:log lock:lib/lock home:. \
            plugins:plugins.d "health config:health.d" "stock health config:health.d"; do
            echo "	${p%%:*} = $dir/${p#*:}"
        done
        echo "[logs]"
        echo "	debug = $dir/log/debug.log"
        echo "	error = $dir/log/error.log"
        echo "	access = none"
        echo "	health = none"
        echo "[web]"
        echo "	mode = none"
        echo "[registry]"
        echo "	enabled = no"
        echo "[health]"
        echo "	enabled = no"
        echo "[ml]"
        echo "	enabled = no"
        echo "[plugins]"
        for p in timex idlejitter "netdata monitoring" tc diskspace proc cgroups \
            "enable running new plugins" slabinfo fping apps ioping python.d perf cups \
            charts.d nfacct go.d ebpf; do
            echo "	$p = no"
        done
        echo "	statsd = yes"
        echo "[statsd]"
        echo "	enabled = yes"
        echo "	bind to = udp:127.0.0.1:$port"
    } >"$dir/netdata.conf"

    cur=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)
    if [ "$NETDATA_RMEM_MAX" -gt 0 ] && [ "$cur" -lt "$NETDATA_RMEM_MAX" ]; then
        if echo "$NETDATA_RMEM_MAX" >/proc/sys/net/core/rmem_max 2>/dev/null; then
            RMEM_RESTORE=$cur
            [ "$RMEM_SAID" = 1 ] || say "net.core.rmem_max raised from $cur to $NETDATA_RMEM_MAX while" \
                "netdata binds its port (it asks for a large SO_RCVBUF), restored at once"
            RMEM_SAID=1
        else
            warn "net.core.rmem_max ($cur) cannot be raised here (not root?): netdata's receive" \
                "buffer stays at the kernel's cap"
        fi
    fi
    DO_NOT_TRACK=1 taskset -c "$SERVER_CPU" "$ND_BIN" -D -c "$dir/netdata.conf" >"$dir/netdata.out" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    if ! wait_port "$SRV_PID" "$port"; then
        rmem_restore
        warn "netdata did not open its StatsD port 127.0.0.1:$port; it said:"
        { tail -n 10 "$dir/netdata.out"; tail -n 10 "$dir/log/error.log" 2>/dev/null; } | sed 's/^/    /' >&2
        stop_pids -t 100 "$SRV_PID"
        SRV_PID=""
        return 1
    fi
    nap 0.3 # its buffer is set by now (see ss -m); rmem_max goes back
    rmem_restore
    # its spawn server, stopped with it
    for p in $(children_of "$SRV_PID"); do PIDS+=("$p"); done
    return 0
}

# stop_server: the server and anything it started
stop_server() {
    local p
    [ -n "$SRV_PID" ] || return 0
    local -a kids=()
    for p in $(children_of "$SRV_PID"); do kids+=("$p"); done
    stop_pids -t 150 "$SRV_PID" # netdata flushes its database on the way out
    [ ${#kids[@]} -gt 0 ] && stop_pids "${kids[@]}"
    SRV_PID=""
}

# step SERVER CASE PORT RATE: one fixed-rate step; prints its row; sets STEP_OK (clean,
# drops, behind, short, gone), STEP_CPU, STEP_RSS
step() {
    local srv=$1 cs=$2 port=$3 rate=$4 out b sent e0 e1 k0 k1 t0 t1 secs
    local d0=0 rx1=0 d1="" drops errs note=""
    # shellcheck disable=SC2046 # blast_args: several options
    set -- $(blast_args "$cs")
    read -r _ d0 < <(udp_sock "$port")
    e0=$(rcvbuf_errors)
    k0=$(stat_ticks "$SRV_PID") || k0=""
    t0=$EPOCHREALTIME
    out=$TMP/blast-$srv-$cs-$rate.out
    run taskset -c "$SENDER_CPU" "$BLAST" -r "$rate" -d "$STEP" -q "$@" "127.0.0.1:$port" >"$out" 2>&1
    t1=$EPOCHREALTIME
    k1=$(stat_ticks "$SRV_PID") || k1=""
    STEP_RSS=$(calc "$(status_kb "$SRV_PID" VmRSS) / 1024")
    read -r rx1 _ < <(udp_sock "$port")
    STEP_OK=clean
    drain "$port" 10 || STEP_OK=behind
    read -r _ d1 < <(udp_sock "$port")
    e1=$(rcvbuf_errors)
    secs=$(calc "${t1/,/.} - ${t0/,/.}")
    b=$(tail -n 1 "$out")
    sent=$(kv rate_lines "$b")
    if [ -z "$k0" ] || [ -z "$k1" ] || [ -z "${d1:-}" ] || ! alive "$SRV_PID"; then
        STEP_OK=gone STEP_CPU=0
        printf '  %-8s %-22s %6s M: the server is gone\n' "$srv" "$(case_title "$cs")" "$(mega "$rate")"
        return 0
    fi
    STEP_CPU=$(calc "($k1 - $k0) / $HZ / $secs * 100")
    drops=$((d1 - ${d0:-0}))
    errs=$((e1 - e0))
    [ "$drops" -gt 0 ] && STEP_OK=drops
    if [ "$errs" -gt "$drops" ]; then
        # every overflow of this socket is in both counters: the rest is another socket's
        note="; RcvbufErrors moved $((errs - drops)) more than this socket's drops: another"
        note="$note socket dropped (the machine is not quiet)"
        NOISY=$((NOISY + 1))
    fi
    # the server's loss first; a sender short of the rate only matters when there is none
    if [ -z "$sent" ]; then
        STEP_OK=short
        note="; the sender failed: $(tail -n 2 "$out" | tr '\n' ' ')"
        sent=0
    elif [ "$STEP_OK" = clean ] && awk "BEGIN { exit !($sent < 0.99 * $rate) }" </dev/null; then
        STEP_OK=short
    fi
    [ "$STEP_OK" = behind ] && note="; $((rx1 / 1024)) KiB queued at the end, not drained in 1 s$note"
    printf '  %-8s %-22s %6s M: sent %6s M lines/s, dropped %s (socket) %s (RcvbufErrors),' \
        "$srv" "$(case_title "$cs")" "$(mega "$rate")" "$(mega "$sent")" "$drops" "$errs"
    printf ' CPU %5.1f %%, RSS %6.1f MiB: %s%s\n' "$STEP_CPU" "$STEP_RSS" "$STEP_OK" "$note"
}

# run_case SERVER CASE: a fresh server, the warm-up, then the steps
run_case() {
    local srv=$1 cs=$2 key=$1:$2 port dir rate first retried=0
    dir=$TMP/$srv-$cs
    mkdir -p "$dir"
    BEST[$key]=0 WHY[$key]="" HWM[$key]="" STOP[$key]=""
    port=$(free_port) || { WHY[$key]="no free UDP port"; return 1; }
    if [ "$srv" = arthamon ]; then
        if [ -n "$ART_FAILED" ]; then
            WHY[$key]="not run: $ART_FAILED"
            return 1
        fi
        start_arthamon "$dir" "$port" || { WHY[$key]="not run: $ART_FAILED"; return 1; }
    else
        start_netdata "$dir" "$port" || { WHY[$key]="not run: netdata did not start"; return 1; }
    fi
    RB[$key]=$(sock_rb "$port")
    first=${RATES%% *}
    # shellcheck disable=SC2046 # blast_args: several options
    run taskset -c "$SENDER_CPU" "$BLAST" -r "$first" -d "$WARMUP" -q $(blast_args "$cs") \
        "127.0.0.1:$port" >"$dir/warmup.out" 2>&1
    drain "$port" 50 || warn "$srv $(case_title "$cs"): the warm-up's backlog did not drain in 5 s"
    for rate in $RATES; do
        step "$srv" "$cs" "$port" "$rate"
        if [ "$STEP_OK" = drops ] || [ "$STEP_OK" = behind ] || [ "$STEP_OK" = short ]; then
            if [ "$RETRY" = 1 ] && [ "$retried" = 0 ]; then
                retried=1
                step "$srv" "$cs" "$port" "$rate"
                [ "$STEP_OK" = clean ] && STEP_OK="clean on retry"
            fi
        fi
        [ "$STEP_OK" = "clean on retry" ] || STOP[$key]=$STEP_OK
        case "$STEP_OK" in
        clean*)
            BEST[$key]=$rate BCPU[$key]=$STEP_CPU BRSS[$key]=$STEP_RSS
            [ "$STEP_OK" = clean ] || WHY[$key]="$(mega "$rate") M clean on retry only"
            ;;
        drops) WHY[$key]="drops at $(mega "$rate") M${WHY[$key]:+; ${WHY[$key]}}"; break ;;
        behind) WHY[$key]="fell behind at $(mega "$rate") M${WHY[$key]:+; ${WHY[$key]}}"; break ;;
        short) WHY[$key]="the sender fell short at $(mega "$rate") M (the machine's limit)"; break ;;
        gone) WHY[$key]="the server died at $(mega "$rate") M"; break ;;
        esac
    done
    [ -z "${WHY[$key]}" ] && WHY[$key]="no drops up to the last rate"
    if [ "$STEP_OK" != gone ]; then
        HWM[$key]=$(calc "$(status_kb "$SRV_PID" VmHWM) / 1024")
    else
        warn "$srv died; its output:"
        tail -n 10 "$dir/$srv.out" 2>/dev/null | sed 's/^/    /' >&2
    fi
    # what the daemon logged about its StatsD side (the host collectors' start-up
    # warnings, such as a missing temperature sensor, are not this benchmark's)
    if [ "$srv" = arthamon ] && grep -qi -e statsd -e ingest "$dir/log/"*.log 2>/dev/null; then
        say "arthamon logged ($(case_title "$cs")):"
        grep -hi -e statsd -e ingest "$dir/log/"*.log | head -n 10 | sed 's/^/    /'
    fi
    stop_server
    return 0
}

echo
say "3. StatsD lines/s with no loss, one core: a fresh server per case, ${WARMUP} s warm-up," \
    "then $STEP s per rate up to the first that is not clean"
for cs in $CASES; do
    for srv in $SERVERS; do
        [ "$srv" = netdata ] && [ "$have_netdata" = 0 ] && { WHY[$srv:$cs]="not installed"; continue; }
        run_case "$srv" "$cs"
    done
done

# ---- the summary
# fig KEY: "RATE M (CPU %, RSS MiB)" or why there is none
fig() {
    local k=$1
    if [ "${BEST[$k]:-0}" -gt 0 ]; then
        printf '%s M (%.0f %%, %.1f MiB)' "$(mega "${BEST[$k]}")" "${BCPU[$k]}" "${BRSS[$k]}"
    elif [ "${STOP[$k]:-}" = drops ] || [ "${STOP[$k]:-}" = behind ]; then
        printf '< %s M' "$(mega "${RATES%% *}")"
    elif [ -n "${STOP[$k]:-}" ]; then
        printf '? (%s)' "${STOP[$k]}"
    else
        printf -- '-'
    fi
}
target() {
    case "$1" in a) echo "$TARGET_A" ;; b) echo "$TARGET_B" ;; c) echo "$TARGET_C" ;; esac
}

echo
say "StatsD lines/s processed with no loss on one core ($LPD lines per datagram, $STEP s per"
say "rate; figure: the highest clean rate, with the server's CPU % of one core and RSS there)"
if [ -n "$CEILING" ]; then
    say "  loopback ceiling (udp_sink, unthrottled sender): $(mega "$CEILING") M lines/s"
fi
printf '  %-22s %-30s %-30s %s\n' case arthamon netdata "target (arthamon)"
for cs in $CASES; do
    t=$(target "$cs")
    a=${BEST[arthamon:$cs]:-0}
    if [ -n "${HWM[arthamon:$cs]:-}" ]; then
        if [ "$a" -ge "$t" ]; then
            v="met"
        elif [ "${STOP[arthamon:$cs]}" = short ]; then
            v="not measured (the sender fell short first)"
        else
            v="NOT met"
        fi
    else
        v="not measured"
    fi
    printf '  %-22s %-30s %-30s >= %s M: %s\n' "$(case_title "$cs")" "$(fig "arthamon:$cs")" \
        "$(fig "netdata:$cs")" "$(mega "$t")" "$v"
done
if [[ " $CASES " == *" c "* ]]; then
    ha=${HWM[arthamon:c]:-} hn=${HWM[netdata:c]:-}
    if [ -n "$ha" ]; then
        if awk "BEGIN { exit !($ha <= $TARGET_MIB) }" </dev/null; then v="met"; else v="NOT met"; fi
    else
        v="not measured"
    fi
    [ -n "$ha" ] && ha=$(printf '%.1f MiB' "$ha")
    [ -n "$hn" ] && hn=$(printf '%.1f MiB' "$hn")
    printf '  %-22s %-30s %-30s <= %s MiB: %s\n' "peak RSS (VmHWM), (c)" "${ha:--}" "${hn:--}" \
        "$TARGET_MIB" "$v"
fi
echo "  why each stepping stopped, and the receive buffer each server got (ss -m: rb):"
for cs in $CASES; do
    for srv in $SERVERS; do
        k=$srv:$cs
        printf '    %-8s %-22s %s%s\n' "$srv" "$(case_title "$cs")" "${WHY[$k]:-}" \
            "${RB[$k]:+; receive buffer ${RB[$k]} MiB}"
    done
done
echo "  reference, measured elsewhere (statsd-blast's README, the issue): netdata 1.37 clean at"
echo "   1.5 M lines/s (57-59 % of a core), 1.25 M with three tags, 0.6 M with 100,000 names;"
echo "   RSS about 45 MiB with 100 names, 120-370 MiB with 100,000 names; loopback 3.4-4.1 M"
[ "$NOISY" -gt 0 ] && say "NOTE: in $NOISY step(s) another UDP socket dropped datagrams (RcvbufErrors" \
    "beyond the server's own drops): something else ran; the figures may be disturbed"
[ -n "$ART_FAILED" ] && say "arthamon: not measured: $ART_FAILED"
exit 0
